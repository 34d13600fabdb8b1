//! The server port listener: the first-byte switch between plain and TLS connections
//! ([`accept`]), then raft RPCs and forwarded requests.

use std::net::SocketAddr;
use std::sync::Arc;

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
                    if let Some(conn) = accept(stream, peer, node.rpc_tls()).await {
                        serve_conn(conn, node).await;
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

/// Reads a new connection's type byte and, for TLS, runs the handshake (client
/// certificates verified as the acceptor's config says). `None`: the connection is refused
/// (plain under `verify_incoming`, TLS without a certificate configured, an unknown type,
/// a failed handshake) and closed; the reason is logged.
pub async fn accept(mut stream: TcpStream, peer: SocketAddr, tls: &RpcTls) -> Option<Conn> {
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
        RPC_PLAIN => Some(rpc::framed(RpcStream::Plain(stream))),
        RPC_TLS => {
            let Some(config) = settings.acceptor.clone() else {
                tracing::warn!(target: "agent.server.rpc", "refusing a TLS RPC connection from {peer}: no cert_file/key_file configured");
                return None;
            };
            let handshake = tokio_rustls::TlsAcceptor::from(config).accept(stream);
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake).await {
                Ok(Ok(tls)) => Some(rpc::framed(RpcStream::Tls(Box::new(tls.into())))),
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

async fn serve_conn(mut conn: Conn, node: Arc<RaftNode>) {
    loop {
        let req: RpcRequest = match rpc::recv(&mut conn).await {
            Ok(r) => r,
            Err(rpc::RpcError::Codec(e)) => {
                let _ = rpc::send(&mut conn, &RpcResponse::Error(format!("bad request: {e}"))).await;
                return;
            }
            Err(_) => return,
        };
        let resp = handle(&node, req).await;
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
