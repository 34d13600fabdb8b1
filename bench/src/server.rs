//! `serve-trivial`: a minimal HTTP/1.1 server answering every request with
//! `200 true`, to measure the ceiling of the load generator itself.

use std::convert::Infallible;

use anyhow::Context;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// Answers any request with `200 true` after reading its body.
async fn answer(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    // Drain the body so the connection can be kept alive; a broken body only
    // means the connection is going away.
    let _ = req.into_body().collect().await;
    Ok(Response::new(Full::new(Bytes::from_static(b"true"))))
}

/// Serves connections from `listener` forever (one task per connection).
pub async fn serve_on(listener: TcpListener) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                // E.g. out of file descriptors: wait a little instead of spinning.
                eprintln!("serve-trivial: accept failed: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service_fn(answer))
                .await;
        });
    }
}

/// Runs the trivial server on a multi-threaded runtime (`threads` workers,
/// default: one per core) until Ctrl-C.
pub fn serve(listen: &str, threads: Option<u32>) -> anyhow::Result<()> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.enable_all();
    if let Some(t) = threads {
        builder.worker_threads(t as usize);
    }
    let rt = builder.build().context("cannot start the Tokio runtime")?;
    rt.block_on(async {
        let listener = TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        eprintln!(
            "serve-trivial: listening on http://{} (Ctrl-C to stop)",
            listener.local_addr()?
        );
        tokio::select! {
            _ = serve_on(listener) => {}
            r = tokio::signal::ctrl_c() => r.context("cannot wait for Ctrl-C")?,
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn answers_true() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(serve_on(listener));
        let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .unwrap();
        tokio::spawn(conn);
        for _ in 0..3 {
            let req = Request::builder()
                .method("PUT")
                .uri("/anything")
                .header("host", "x")
                .body(Full::new(Bytes::from_static(b"payload")))
                .unwrap();
            sender.ready().await.unwrap();
            let resp = sender.send_request(req).await.unwrap();
            assert_eq!(resp.status(), 200);
            let body = resp.into_body().collect().await.unwrap().to_bytes();
            assert_eq!(&body[..], b"true");
        }
        server.abort();
    }
}
