//! The UDP and TCP listeners: receive loops feeding [`Responder`], recursor forwarding, and
//! shutdown.

use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use rconsul_state::StateStore;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

use crate::config::DnsConfig;
use crate::recursor;
use crate::responder::{Action, Responder};
use crate::trim::Transport;
use crate::DnsError;

/// A TCP connection with no new query for this long is closed.
const TCP_IDLE_TIMEOUT: Duration = Duration::from_secs(10);
/// Time allowed to read the rest of a query, or to write a response, on TCP.
const TCP_IO_TIMEOUT: Duration = Duration::from_secs(5);

/// A running DNS interface.
pub struct DnsServer {
    responder: Arc<Responder>,
    tasks: Vec<JoinHandle<()>>,
    udp_addrs: Vec<SocketAddr>,
    tcp_addrs: Vec<SocketAddr>,
}

/// Binds the UDP socket and TCP listener of one DNS address.
pub async fn bind(addr: SocketAddr) -> Result<(UdpSocket, TcpListener), DnsError> {
    let udp = UdpSocket::bind(addr)
        .await
        .map_err(|source| DnsError::Bind { addr, source })?;
    let tcp = TcpListener::bind(addr)
        .await
        .map_err(|source| DnsError::Bind { addr, source })?;
    Ok((udp, tcp))
}

impl DnsServer {
    /// Starts serving on already bound sockets. Must run inside a tokio runtime.
    pub async fn start(
        config: DnsConfig,
        store: Arc<StateStore>,
        udp: Vec<UdpSocket>,
        tcp: Vec<TcpListener>,
        acl: Option<crate::responder::DnsAcl>,
    ) -> Result<DnsServer, DnsError> {
        let mut responder = Responder::new(config, store);
        if let Some(acl) = acl {
            responder = responder.with_acl(acl);
        }
        let responder = Arc::new(responder);
        let mut tasks = Vec::new();
        let mut udp_addrs = Vec::new();
        let mut tcp_addrs = Vec::new();
        // One receiver per core and socket: each takes batches of datagrams off the shared
        // socket, so the answering work spreads over the runtime's workers.
        let workers = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .clamp(1, 8);
        for sock in udp {
            udp_addrs.push(sock.local_addr()?);
            let sock = Arc::new(sock);
            for _ in 0..workers {
                tasks.push(tokio::spawn(crate::udp::serve(responder.clone(), sock.clone())));
            }
        }
        for listener in tcp {
            tcp_addrs.push(listener.local_addr()?);
            tasks.push(tokio::spawn(serve_tcp(responder.clone(), listener)));
        }
        Ok(DnsServer {
            responder,
            tasks,
            udp_addrs,
            tcp_addrs,
        })
    }

    /// The UDP addresses served.
    pub fn udp_addrs(&self) -> &[SocketAddr] {
        &self.udp_addrs
    }

    /// The TCP addresses served.
    pub fn tcp_addrs(&self) -> &[SocketAddr] {
        &self.tcp_addrs
    }

    /// The request handler (for answering without sockets).
    pub fn responder(&self) -> &Arc<Responder> {
        &self.responder
    }

    /// Stops every listener and open TCP connection; returns once they are gone.
    pub async fn shutdown(self) {
        for task in &self.tasks {
            task.abort();
        }
        for task in self.tasks {
            let _ = task.await;
        }
    }

    /// Serves until `stop` turns true (or its sender is dropped), then shuts down.
    pub async fn run_until(self, mut stop: watch::Receiver<bool>) {
        while !*stop.borrow_and_update() {
            if stop.changed().await.is_err() {
                break;
            }
        }
        self.shutdown().await;
    }
}

/// Runs the responder, turning a panic into "no answer" so one bad packet cannot take a
/// listener down.
pub(crate) fn guarded(responder: &Responder, packet: &[u8], transport: Transport) -> Action {
    std::panic::catch_unwind(AssertUnwindSafe(|| responder.handle_packet(packet, transport))).unwrap_or_else(
        |_| {
            tracing::error!(target: "agent.dns", "panic while answering a DNS request; dropped it");
            Action::Drop
        },
    )
}

async fn serve_tcp(responder: Arc<Responder>, listener: TcpListener) {
    // Connections live in this set, so aborting the accept task closes them too.
    let mut conns = JoinSet::new();
    loop {
        while conns.try_join_next().is_some() {}
        match listener.accept().await {
            Ok((stream, _)) => {
                let _ = stream.set_nodelay(true);
                conns.spawn(serve_tcp_conn(responder.clone(), stream));
            }
            Err(e) => {
                tracing::debug!(target: "agent.dns", "tcp accept error: {e}");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

/// Answers length-prefixed queries on one connection until it closes, idles or errs.
async fn serve_tcp_conn(responder: Arc<Responder>, mut stream: TcpStream) {
    loop {
        let mut len = [0u8; 2];
        match tokio::time::timeout(TCP_IDLE_TIMEOUT, stream.read_exact(&mut len)).await {
            Ok(Ok(_)) => {}
            _ => return,
        }
        let len = usize::from(u16::from_be_bytes(len));
        if len == 0 {
            return;
        }
        let mut packet = vec![0u8; len];
        match tokio::time::timeout(TCP_IO_TIMEOUT, stream.read_exact(&mut packet)).await {
            Ok(Ok(_)) => {}
            _ => return,
        }
        let reply = match guarded(&responder, &packet, Transport::Tcp) {
            Action::Reply(bytes) => bytes,
            Action::Recurse => {
                let cfg = responder.config();
                match recursor::exchange(&cfg.recursors, cfg.recursor_timeout, &packet, Transport::Tcp).await
                {
                    Some(reply) => reply,
                    None => match responder.recursion_failed(&packet) {
                        Some(reply) => reply,
                        None => return,
                    },
                }
            }
            Action::Drop => return,
        };
        let Ok(reply_len) = u16::try_from(reply.len()) else {
            return;
        };
        let mut framed = Vec::with_capacity(reply.len() + 2);
        framed.extend_from_slice(&reply_len.to_be_bytes());
        framed.extend_from_slice(&reply);
        match tokio::time::timeout(TCP_IO_TIMEOUT, stream.write_all(&framed)).await {
            Ok(Ok(())) => {}
            _ => return,
        }
    }
}
