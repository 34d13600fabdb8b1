//! The HTTP/1.1 and HTTPS listeners: hyper with Go-style (title-case) header names on the
//! wire, so `X-Consul-Knownleader` looks exactly as Consul sends it. HTTPS runs the same
//! [`Dispatch`] behind a rustls handshake, with the config the agent built ([`HttpsTls`]).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use parking_lot::RwLock;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::conn_limit::{self, ConnLimiter};
use crate::dispatch::Dispatch;

/// Longest a client may take to complete the TLS handshake (it holds a connection
/// permit meanwhile).
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Go's answer to a plain HTTP request on an HTTPS port (`net/http`'s server).
const PLAIN_ON_HTTPS: &[u8] =
    b"HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n";

/// The HTTPS listener's rustls config, replaced as a whole when the agent reloads its
/// certificates: each connection takes the one in force when it is accepted.
#[derive(Debug)]
pub struct HttpsTls {
    current: RwLock<Arc<rustls::ServerConfig>>,
}

impl HttpsTls {
    /// Holds `config`.
    pub fn new(config: Arc<rustls::ServerConfig>) -> Self {
        HttpsTls {
            current: RwLock::new(config),
        }
    }

    /// The config in force.
    pub fn current(&self) -> Arc<rustls::ServerConfig> {
        self.current.read().clone()
    }

    /// Replaces the config (certificate reload); open connections keep theirs.
    pub fn replace(&self, config: Arc<rustls::ServerConfig>) {
        *self.current.write() = config;
    }
}

/// Serves `api` on `listener` until `shutdown` turns true, in the clear or, with `tls`,
/// over HTTPS. In-flight requests (including long polls) are dropped at shutdown rather
/// than awaited for minutes. A client IP over `limiter`'s limit gets Consul's 429 and its
/// connection is closed.
///
/// Connections live in a [`JoinSet`] owned by this loop: returning drops the set, which
/// aborts them all. A connection's task then needs no shutdown signal of its own, which
/// it would otherwise poll again on every request.
pub async fn serve(
    listener: TcpListener,
    api: Dispatch,
    limiter: Arc<ConnLimiter>,
    tls: Option<Arc<HttpsTls>>,
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
        match &tls {
            None => connections.spawn(async move {
                let _permit = permit;
                crate::lean::serve(stream, api).await;
            }),
            Some(tls) => {
                let config = tls.current();
                connections.spawn(async move {
                    let _permit = permit;
                    if let Some(stream) = handshake(stream, peer, config).await {
                        crate::lean::serve(stream, api).await;
                    }
                })
            }
        };
    }
}

/// The TLS side of an HTTPS connection; `None` when it is not TLS (answered as Go does)
/// or the handshake fails (logged: a missing or untrusted client certificate shows here).
async fn handshake(
    mut stream: TcpStream,
    peer: SocketAddr,
    config: Arc<rustls::ServerConfig>,
) -> Option<tokio_rustls::server::TlsStream<TcpStream>> {
    let mut first = [0u8; 1];
    // A TLS connection starts with a handshake record (content type 22).
    if matches!(
        tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, stream.peek(&mut first)).await,
        Ok(Ok(1))
    ) && first[0] != 0x16
    {
        let _ = stream.write_all(PLAIN_ON_HTTPS).await;
        let _ = stream.shutdown().await;
        return None;
    }
    let accept = tokio_rustls::TlsAcceptor::from(config).accept(stream);
    match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, accept).await {
        Ok(Ok(s)) => Some(s),
        Ok(Err(e)) => {
            tracing::warn!(target: "agent.http", "http: TLS handshake error from {peer}: {e}");
            None
        }
        Err(_) => None,
    }
}

/// Serves HTTP/1.1 requests on one connection with hyper until it closes (what
/// [`crate::lean`] hands over: HTTP/1.0, streamed bodies, `Expect`, `Upgrade`).
pub(crate) async fn serve_hyper<IO>(io: IO, api: Arc<Dispatch>)
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
        let api = api.clone();
        async move { Ok::<_, Infallible>(api.handle(req).await) }
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .title_case_headers(true)
        .header_read_timeout(None)
        .serve_connection(TokioIo::new(io), service)
        .await;
}
