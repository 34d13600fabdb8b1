//! Transport between raft servers.
//!
//! rconsul currently runs a single server per cluster (`-bootstrap-expect=1` or `-dev`):
//! a one-voter raft never sends RPCs, so this factory's clients report every peer as
//! unreachable. The multi-server transport on the server port (8300) replaces this
//! module when clustering lands; nothing else in the crate depends on its internals.

use openraft::error::{InstallSnapshotError, RPCError, RaftError, Unreachable};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};

use crate::types::{ServerNode, TypeConfig};

type NodeId = u64;

/// Creates [`PeerClient`]s.
#[derive(Debug, Clone, Default)]
pub struct NetworkFactory;

/// A client to one peer server.
#[derive(Debug)]
pub struct PeerClient {
    target: ServerNode,
}

#[derive(Debug, thiserror::Error)]
#[error("no transport to server {0}: rconsul runs single-server clusters only so far")]
struct NoTransport(String);

impl PeerClient {
    fn unreachable<E: std::error::Error>(&self) -> RPCError<NodeId, ServerNode, E> {
        RPCError::Unreachable(Unreachable::new(&NoTransport(self.target.to_string())))
    }
}

impl RaftNetworkFactory<TypeConfig> for NetworkFactory {
    type Network = PeerClient;

    async fn new_client(&mut self, _target: NodeId, node: &ServerNode) -> Self::Network {
        PeerClient { target: node.clone() }
    }
}

impl RaftNetwork<TypeConfig> for PeerClient {
    async fn append_entries(
        &mut self,
        _rpc: AppendEntriesRequest<TypeConfig>,
        _option: RPCOption,
    ) -> Result<AppendEntriesResponse<NodeId>, RPCError<NodeId, ServerNode, RaftError<NodeId>>> {
        Err(self.unreachable())
    }

    async fn install_snapshot(
        &mut self,
        _rpc: InstallSnapshotRequest<TypeConfig>,
        _option: RPCOption,
    ) -> Result<
        InstallSnapshotResponse<NodeId>,
        RPCError<NodeId, ServerNode, RaftError<NodeId, InstallSnapshotError>>,
    > {
        Err(self.unreachable())
    }

    async fn vote(
        &mut self,
        _rpc: VoteRequest<NodeId>,
        _option: RPCOption,
    ) -> Result<VoteResponse<NodeId>, RPCError<NodeId, ServerNode, RaftError<NodeId>>> {
        Err(self.unreachable())
    }
}
