//! The HTTP/1.1 listener: hyper with Go-style (title-case) header names on the wire,
//! so `X-Consul-Knownleader` looks exactly as Consul sends it.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::dispatch::Dispatch;

/// Serves `api` on `listener` until `shutdown` turns true. In-flight requests
/// (including long polls) are dropped at shutdown rather than awaited for minutes.
pub async fn serve(listener: TcpListener, api: Dispatch, mut shutdown: watch::Receiver<bool>) {
    let api = Arc::new(api);
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = shutdown.changed() => return,
        };
        let (stream, _peer): (_, SocketAddr) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // EMFILE and friends: back off briefly instead of spinning.
                tracing::warn!(target: "agent.http", "accept error: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let api = api.clone();
        let mut conn_shutdown = shutdown.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
                let api = api.clone();
                async move { Ok::<_, Infallible>(api.handle(req.map(axum::body::Body::new)).await) }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .title_case_headers(true)
                .header_read_timeout(None)
                .serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                _ = conn => {}
                _ = conn_shutdown.changed() => {}
            }
        });
    }
}
