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
use tokio::task::JoinSet;

use crate::conn_limit::{self, ConnLimiter};
use crate::dispatch::Dispatch;

/// Serves `api` on `listener` until `shutdown` turns true. In-flight requests
/// (including long polls) are dropped at shutdown rather than awaited for minutes.
/// A client IP over `limiter`'s limit gets Consul's 429 and its connection is closed.
///
/// Connections live in a [`JoinSet`] owned by this loop: returning drops the set, which
/// aborts them all. A connection's task then needs no shutdown signal of its own, which
/// it would otherwise poll again on every request.
pub async fn serve(
    listener: TcpListener,
    api: Dispatch,
    limiter: Arc<ConnLimiter>,
    mut shutdown: watch::Receiver<bool>,
) {
    let api = Arc::new(api);
    let mut connections = JoinSet::new();
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            // Reap finished connections so the set does not grow.
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
            _ = shutdown.changed() => return,
        };
        let (stream, peer): (_, SocketAddr) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // EMFILE and friends: back off briefly instead of spinning.
                tracing::warn!(target: "agent.http", "accept error: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Some(permit) = limiter.try_acquire(peer.ip()) else {
            connections.spawn(conn_limit::refuse(stream));
            continue;
        };
        let _ = stream.set_nodelay(true);
        let api = api.clone();
        connections.spawn(async move {
            let _permit = permit;
            let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
                let api = api.clone();
                async move { Ok::<_, Infallible>(api.handle(req).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .title_case_headers(true)
                .header_read_timeout(None)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
