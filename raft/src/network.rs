//! Raft transport between servers: one persistent TCP connection per peer client,
//! reconnected on failure (see [`crate::rpc`] for the protocol), and [`connect`], which
//! every outgoing server-port connection goes through (plain, or TLS with
//! `verify_outgoing`).

use std::sync::Arc;
use std::time::Duration;

use bytes::BufMut;
use tokio::io::AsyncWriteExt;

use openraft::error::{InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Unreachable};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};

use crate::rpc::{self, Conn, RpcRequest, RpcResponse, RpcStream};
use crate::tls::{RpcTls, RPC_PLAIN, RPC_TLS};
use crate::types::{ServerNode, TypeConfig};

type NodeId = u64;

/// Time allowed to establish a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);
/// Time allowed for the TLS handshake once connected.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

/// Creates [`PeerClient`]s.
#[derive(Debug, Clone, Default)]
pub struct NetworkFactory {
    tls: Arc<RpcTls>,
}

impl NetworkFactory {
    /// Peers are reached with `tls`'s settings.
    pub fn new(tls: Arc<RpcTls>) -> Self {
        NetworkFactory { tls }
    }
}

/// A client to one peer server, owning its connection.
#[derive(Debug)]
pub struct PeerClient {
    target: NodeId,
    node: ServerNode,
    conn: Option<Conn>,
    tls: Arc<RpcTls>,
}

impl RaftNetworkFactory<TypeConfig> for NetworkFactory {
    type Network = PeerClient;

    async fn new_client(&mut self, target: NodeId, node: &ServerNode) -> Self::Network {
        PeerClient {
            target,
            node: node.clone(),
            conn: None,
            tls: self.tls.clone(),
        }
    }
}

/// Which kind of agent a connection goes to (what its certificate must name).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peer {
    /// A server.
    Server,
    /// A client agent following the log.
    Client,
}

/// Connects to `addr` with a timeout, in the clear or, with `verify_outgoing`, over TLS.
pub async fn connect(addr: &str, tls: &RpcTls, peer: Peer) -> std::io::Result<Conn> {
    let timed_out =
        |what: &str| std::io::Error::new(std::io::ErrorKind::TimedOut, format!("{what} timed out"));
    let mut stream = match tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::TcpStream::connect(addr)).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(e)) => return Err(e),
        Err(_) => return Err(timed_out("connect")),
    };
    let _ = stream.set_nodelay(true);
    let settings = tls.current();
    let Some(out) = &settings.outgoing else {
        let mut conn = rpc::framed(RpcStream::Plain(stream));
        // Sent with the first frame.
        conn.write_buffer_mut().put_u8(RPC_PLAIN);
        return Ok(conn);
    };
    let config = match peer {
        Peer::Server => out.to_server.clone(),
        Peer::Client => out.to_client.clone(),
    };
    let handshake = async {
        stream.write_all(&[RPC_TLS]).await?;
        tokio_rustls::TlsConnector::from(config)
            .connect(out.server_name.clone(), stream)
            .await
    };
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake).await {
        Ok(Ok(tls)) => Ok(rpc::framed(RpcStream::Tls(Box::new(tls.into())))),
        Ok(Err(e)) => {
            tracing::debug!(target: "agent.server.rpc", "TLS handshake with {addr} failed: {e}");
            Err(std::io::Error::new(e.kind(), format!("TLS handshake: {e}")))
        }
        Err(_) => Err(timed_out("TLS handshake")),
    }
}

enum CallError {
    Unreachable(std::io::Error),
    Network(rpc::RpcError),
}

impl PeerClient {
    async fn call(&mut self, req: RpcRequest, timeout: Duration) -> Result<RpcResponse, CallError> {
        if self.conn.is_none() {
            let peer = if self.tls.is_client(self.target) {
                Peer::Client
            } else {
                Peer::Server
            };
            self.conn = Some(
                connect(&self.node.rpc_addr, &self.tls, peer)
                    .await
                    .map_err(CallError::Unreachable)?,
            );
        }
        let Some(conn) = self.conn.as_mut() else {
            return Err(CallError::Network(rpc::RpcError::Closed));
        };
        let result = match tokio::time::timeout(timeout, rpc::call(conn, &req)).await {
            Ok(r) => r,
            Err(_) => Err(rpc::RpcError::Io(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "rpc timed out",
            ))),
        };
        match result {
            Ok(resp) => Ok(resp),
            Err(e) => {
                // The stream may hold half a frame now: never reuse it.
                self.conn = None;
                Err(CallError::Network(e))
            }
        }
    }

    fn map_err<E: std::error::Error>(&self, e: CallError) -> RPCError<NodeId, ServerNode, E> {
        match e {
            CallError::Unreachable(io) => RPCError::Unreachable(Unreachable::new(&io)),
            CallError::Network(err) => RPCError::Network(NetworkError::new(&err)),
        }
    }

    fn unexpected<E: std::error::Error>(&self, what: &str) -> RPCError<NodeId, ServerNode, E> {
        let err = std::io::Error::other(format!("unexpected rpc response: {what}"));
        RPCError::Network(NetworkError::new(&err))
    }

    fn remote<E: std::error::Error>(&self, e: E) -> RPCError<NodeId, ServerNode, E> {
        RPCError::RemoteError(RemoteError::new_with_node(self.target, self.node.clone(), e))
    }
}

impl RaftNetwork<TypeConfig> for PeerClient {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<NodeId>, RPCError<NodeId, ServerNode, RaftError<NodeId>>> {
        match self.call(RpcRequest::Append(rpc), option.hard_ttl()).await {
            Ok(RpcResponse::Append(Ok(r))) => Ok(r),
            Ok(RpcResponse::Append(Err(e))) => Err(self.remote(e)),
            Ok(_) => Err(self.unexpected("append")),
            Err(e) => Err(self.map_err(e)),
        }
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<
        InstallSnapshotResponse<NodeId>,
        RPCError<NodeId, ServerNode, RaftError<NodeId, InstallSnapshotError>>,
    > {
        match self.call(RpcRequest::Snapshot(rpc), option.hard_ttl()).await {
            Ok(RpcResponse::Snapshot(Ok(r))) => Ok(r),
            Ok(RpcResponse::Snapshot(Err(e))) => Err(self.remote(e)),
            Ok(_) => Err(self.unexpected("snapshot")),
            Err(e) => Err(self.map_err(e)),
        }
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        option: RPCOption,
    ) -> Result<VoteResponse<NodeId>, RPCError<NodeId, ServerNode, RaftError<NodeId>>> {
        match self.call(RpcRequest::Vote(rpc), option.hard_ttl()).await {
            Ok(RpcResponse::Vote(Ok(r))) => Ok(r),
            Ok(RpcResponse::Vote(Err(e))) => Err(self.remote(e)),
            Ok(_) => Err(self.unexpected("vote")),
            Err(e) => Err(self.map_err(e)),
        }
    }
}
