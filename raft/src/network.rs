//! Raft transport between servers: one persistent TCP connection per peer client,
//! reconnected on failure (see [`crate::rpc`] for the protocol).

use std::time::Duration;

use openraft::error::{InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Unreachable};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};

use crate::rpc::{self, Conn, RpcRequest, RpcResponse};
use crate::types::{ServerNode, TypeConfig};

type NodeId = u64;

/// Time allowed to establish a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);

/// Creates [`PeerClient`]s.
#[derive(Debug, Clone, Default)]
pub struct NetworkFactory;

/// A client to one peer server, owning its connection.
#[derive(Debug)]
pub struct PeerClient {
    target: NodeId,
    node: ServerNode,
    conn: Option<Conn>,
}

impl RaftNetworkFactory<TypeConfig> for NetworkFactory {
    type Network = PeerClient;

    async fn new_client(&mut self, target: NodeId, node: &ServerNode) -> Self::Network {
        PeerClient {
            target,
            node: node.clone(),
            conn: None,
        }
    }
}

/// Connects to `addr` with a timeout.
pub async fn connect(addr: &str) -> std::io::Result<Conn> {
    match tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::TcpStream::connect(addr)).await {
        Ok(Ok(stream)) => Ok(rpc::framed(stream)),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "connect timed out",
        )),
    }
}

enum CallError {
    Unreachable(std::io::Error),
    Network(rpc::RpcError),
}

impl PeerClient {
    async fn call(&mut self, req: RpcRequest, timeout: Duration) -> Result<RpcResponse, CallError> {
        if self.conn.is_none() {
            self.conn = Some(
                connect(&self.node.rpc_addr)
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
