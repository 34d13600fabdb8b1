//! Operator access to the raft configuration: reading it (`/v1/operator/raft/configuration`)
//! and removing a peer (`DELETE /v1/operator/raft/peer`), forwarded to the leader when
//! received elsewhere.

use std::collections::BTreeSet;

use openraft::ChangeMembers;
use rconsul_state::operator::PeerSelector;

use crate::node::RaftNode;
use crate::rpc::{RpcRequest, RpcResponse};
use crate::types::ServerNode;

/// One node of the raft membership.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberEntry {
    /// Raft id.
    pub id: u64,
    /// Its identity.
    pub node: ServerNode,
    /// Voter (true) or learner.
    pub voter: bool,
}

/// The raft membership as this node knows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Membership {
    /// Every node, voters and learners, ordered by raft id.
    pub nodes: Vec<MemberEntry>,
    /// The known leader's raft id.
    pub leader: Option<u64>,
    /// Log index of the membership entry.
    pub index: u64,
}

impl RaftNode {
    /// The current membership (voters and learners) with the leader and its log index.
    pub fn membership(&self) -> Membership {
        let metrics = self.raft().metrics();
        let m = metrics.borrow();
        let config = m.membership_config.membership();
        let voters: BTreeSet<u64> = config.voter_ids().collect();
        Membership {
            nodes: config
                .nodes()
                .map(|(id, node)| MemberEntry {
                    id: *id,
                    node: node.clone(),
                    voter: voters.contains(id),
                })
                .collect(),
            leader: m.current_leader,
            index: m.membership_config.log_id().map(|l| l.index).unwrap_or(0),
        }
    }

    /// Removes `peer` from the raft configuration: here if this node leads, else through
    /// the leader. Errors carry Consul's texts.
    pub async fn remove_peer(&self, peer: &PeerSelector) -> Result<(), String> {
        match self.leader().await {
            None | Some((_, None)) => Err(rconsul_state::ConsensusError::NoLeader.to_string()),
            Some((leader, _)) if leader == self.id() => self.remove_peer_as_leader(peer).await,
            Some((_, Some(addr))) => {
                match self
                    .forward_call(&addr, &RpcRequest::RemovePeer(peer.clone()))
                    .await?
                {
                    RpcResponse::RemovePeer(result) => result,
                    RpcResponse::Error(e) => Err(e),
                    _ => Err("unexpected response to a forwarded peer removal".into()),
                }
            }
        }
    }

    /// Leader side of [`RaftNode::remove_peer`]: finds the peer by node ID or address
    /// and removes it (first as a voter, then as a node).
    pub async fn remove_peer_as_leader(&self, peer: &PeerSelector) -> Result<(), String> {
        if !self.is_leader() {
            return Err(rconsul_state::ConsensusError::NoLeader.to_string());
        }
        let membership = self.membership();
        let found = membership.nodes.iter().find(|n| match peer {
            PeerSelector::Id(id) => n.node.node_id == *id,
            PeerSelector::Address(addr) => n.node.rpc_addr == *addr,
        });
        let Some(entry) = found else {
            return Err(format!("{peer} was not found in the Raft configuration"));
        };
        let ids = BTreeSet::from([entry.id]);
        if entry.voter {
            self.raft()
                .change_membership(ChangeMembers::RemoveVoters(ids.clone()), false)
                .await
                .map_err(|e| e.to_string())?;
        }
        self.raft()
            .change_membership(ChangeMembers::RemoveNodes(ids), false)
            .await
            .map_err(|e| e.to_string())?;
        tracing::warn!(target: "agent.server.operator", "Removed Raft peer: peer={}", entry.node.rpc_addr);
        Ok(())
    }
}
