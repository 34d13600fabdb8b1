//! The server port listener: the first-byte switch between plain and TLS connections
//! ([`accept`]), then raft RPCs and forwarded requests.

use std::net::SocketAddr;
use std::sync::Arc;

use rustls::pki_types::ServerName;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::network::HANDSHAKE_TIMEOUT;
use crate::node::RaftNode;
use crate::rpc::{self, Conn, RpcRequest, RpcResponse, RpcStream};
use crate::tls::{RpcTls, RPC_PLAIN, RPC_TLS};

/// Accepts connections on the server port until `stop` turns true.
pub async fn serve(listener: TcpListener, node: Arc<RaftNode>, mut stop: watch::Receiver<bool>) {
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = stop.changed() => return,
        };
        match accepted {
            Ok((stream, peer)) => {
                let node = node.clone();
                tokio::spawn(async move {
                    if let Some((conn, role)) = accept(stream, peer, node.rpc_tls()).await {
                        serve_conn(conn, role, peer, node).await;
                    }
                });
            }
            Err(e) => {
                tracing::warn!(target: "agent.server.rpc", "accept error: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
    }
}

/// What an accepted connection may ask.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerRole {
    /// Anything: raft RPCs and forwarded requests.
    Any,
    /// Forwarded requests only (its certificate does not name a server of this
    /// datacenter, see [`crate::tls::RpcTlsConfig::raft_peer_name`]).
    ForwardOnly,
}

/// Reads a new connection's type byte and, for TLS, runs the handshake (client
/// certificates verified as the acceptor's config says). `None`: the connection is refused
/// (plain under `verify_incoming`, TLS without a certificate configured, an unknown type,
/// a failed handshake) and closed; the reason is logged.
pub async fn accept(mut stream: TcpStream, peer: SocketAddr, tls: &RpcTls) -> Option<(Conn, PeerRole)> {
    let _ = stream.set_nodelay(true);
    let first = match tokio::time::timeout(HANDSHAKE_TIMEOUT, stream.read_u8()).await {
        Ok(Ok(b)) => b,
        // Closed or silent before saying anything: nothing worth a warning.
        _ => return None,
    };
    let settings = tls.current();
    match first {
        RPC_PLAIN if settings.refuse_plain => {
            tracing::warn!(target: "agent.server.rpc", "refusing a plain RPC connection from {peer}: verify_incoming requires TLS");
            None
        }
        RPC_PLAIN => Some((rpc::framed(RpcStream::Plain(stream)), PeerRole::Any)),
        RPC_TLS => {
            let Some(config) = settings.acceptor.clone() else {
                tracing::warn!(target: "agent.server.rpc", "refusing a TLS RPC connection from {peer}: no cert_file/key_file configured");
                return None;
            };
            let handshake = tokio_rustls::TlsAcceptor::from(config).accept(stream);
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake).await {
                Ok(Ok(tls)) => {
                    let role = match &settings.raft_peer_name {
                        Some(name) if !names(tls.get_ref().1.peer_certificates(), name) => {
                            PeerRole::ForwardOnly
                        }
                        _ => PeerRole::Any,
                    };
                    Some((rpc::framed(RpcStream::Tls(Box::new(tls.into()))), role))
                }
                Ok(Err(e)) => {
                    tracing::warn!(target: "agent.server.rpc", "TLS handshake with {peer} failed: {e}");
                    None
                }
                Err(_) => {
                    tracing::warn!(target: "agent.server.rpc", "TLS handshake with {peer} timed out");
                    None
                }
            }
        }
        other => {
            tracing::warn!(target: "agent.server.rpc", "refusing an RPC connection from {peer}: unknown connection type {other:#04x}");
            None
        }
    }
}

/// Whether the leaf of `chain` (already verified against the CAs) is valid for `name`.
fn names(chain: Option<&[rustls::pki_types::CertificateDer<'static>]>, name: &ServerName<'static>) -> bool {
    let Some(leaf) = chain.and_then(|c| c.first()) else {
        return false;
    };
    rustls::server::ParsedCertificate::try_from(leaf)
        .and_then(|cert| rustls::client::verify_server_name(&cert, name))
        .is_ok()
}

/// Raft's own RPCs, which only servers send.
fn is_raft_rpc(req: &RpcRequest) -> bool {
    matches!(
        req,
        RpcRequest::Append(_)
            | RpcRequest::Vote(_)
            | RpcRequest::Snapshot(_)
            | RpcRequest::Initialized
            | RpcRequest::RemovePeer(_)
    )
}

async fn serve_conn(mut conn: Conn, role: PeerRole, peer: SocketAddr, node: Arc<RaftNode>) {
    loop {
        let req: RpcRequest = match rpc::recv(&mut conn).await {
            Ok(r) => r,
            Err(rpc::RpcError::Codec(e)) => {
                let _ = rpc::send(&mut conn, &RpcResponse::Error(format!("bad request: {e}"))).await;
                return;
            }
            Err(_) => return,
        };
        let resp = if role == PeerRole::ForwardOnly && is_raft_rpc(&req) {
            tracing::warn!(target: "agent.server.rpc", "refusing a raft RPC from {peer}: its certificate is not a server certificate of this datacenter (verify_server_hostname)");
            RpcResponse::Error("raft RPCs require a server certificate of this datacenter".into())
        } else {
            handle(&node, req).await
        };
        if rpc::send(&mut conn, &resp).await.is_err() {
            return;
        }
    }
}

async fn handle(node: &RaftNode, req: RpcRequest) -> RpcResponse {
    match req {
        RpcRequest::Append(r) => {
            node.touch_leader_contact();
            RpcResponse::Append(node.raft().append_entries(r).await)
        }
        RpcRequest::Vote(r) => RpcResponse::Vote(node.raft().vote(r).await),
        RpcRequest::Snapshot(r) => {
            node.touch_leader_contact();
            RpcResponse::Snapshot(node.raft().install_snapshot(r).await)
        }
        RpcRequest::Write(cmd) => RpcResponse::Write(node.write_as_leader(cmd).await),
        RpcRequest::WriteBatch(cmds) => RpcResponse::WriteBatch(node.write_many_as_leader(cmds).await),
        RpcRequest::ReadIndex { linearizable } => RpcResponse::ReadIndex(node.read_index(linearizable).await),
        RpcRequest::Initialized => {
            RpcResponse::Initialized(node.raft().is_initialized().await.unwrap_or(false))
        }
        RpcRequest::RemovePeer(peer) => RpcResponse::RemovePeer(node.remove_peer_as_leader(&peer).await),
        RpcRequest::RaftStats => RpcResponse::RaftStats(node.raft_stats()),
    }
}
