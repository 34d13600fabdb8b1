//! Raft membership from gossip: `-bootstrap-expect` and adding/removing servers.

use std::collections::{BTreeMap, BTreeSet};

use openraft::ChangeMembers;

use crate::node::RaftNode;
use crate::rpc::{RpcRequest, RpcResponse};
use crate::types::ServerNode;

/// What gossip says about the servers of this datacenter.
#[derive(Debug, Clone, Default)]
pub struct ServerView {
    /// Alive servers (this one included), by raft id.
    pub alive: BTreeMap<u64, ServerNode>,
    /// Alive client agents: they follow the log as non-voting learners (in memory).
    pub clients: BTreeMap<u64, ServerNode>,
    /// Servers and clients that left gracefully.
    pub left: BTreeSet<u64>,
}

impl RaftNode {
    /// Reacts to the current gossip view: bootstraps when `expect` servers are visible
    /// and nobody has raft state yet; on the leader, adds new servers (as learners,
    /// then voters once caught up) and removes servers that left.
    pub async fn reconcile_servers(&self, view: &ServerView, expect: u32) {
        // Before any learner is added: what a client agent's certificate must name.
        self.rpc_tls().set_clients(view.clients.keys().copied());
        let initialized = self.raft().is_initialized().await.unwrap_or(true);
        if !initialized {
            self.maybe_bootstrap(view, expect).await;
            return;
        }
        if !self.is_leader() {
            return;
        }
        let membership = self.raft().metrics().borrow().membership_config.clone();
        let config = membership.membership();
        let voters: BTreeSet<u64> = config.voter_ids().collect();
        let known: BTreeSet<u64> = config.nodes().map(|(id, _)| *id).collect();

        let gone: BTreeSet<u64> = view
            .left
            .intersection(&known)
            .copied()
            .filter(|id| *id != self.id())
            .collect();
        if !gone.is_empty() {
            tracing::info!(target: "agent.server", "removing members that left from raft: {gone:?}");
            let gone_voters: BTreeSet<u64> = gone.intersection(&voters).copied().collect();
            if !gone_voters.is_empty() {
                if let Err(e) = self
                    .raft()
                    .change_membership(ChangeMembers::RemoveVoters(gone_voters), false)
                    .await
                {
                    tracing::warn!(target: "agent.server", "removing servers failed: {e}");
                    return;
                }
            }
            if let Err(e) = self
                .raft()
                .change_membership(ChangeMembers::RemoveNodes(gone), false)
                .await
            {
                tracing::warn!(target: "agent.server", "removing nodes failed: {e}");
            }
            return;
        }
        for (id, node) in &view.clients {
            if known.contains(id) {
                continue;
            }
            if let Err(e) = self.raft().add_learner(*id, node.clone(), false).await {
                tracing::warn!(target: "agent.server", "adding client {} as learner failed: {e}", node.name);
                return;
            }
        }
        for (id, node) in &view.alive {
            if known.contains(id) {
                continue;
            }
            tracing::info!(target: "agent.server", "Adding LAN server: server=\"{} (Addr: tcp/{}) (DC: )\"", node.name, node.rpc_addr);
            if let Err(e) = self.raft().add_learner(*id, node.clone(), true).await {
                tracing::warn!(target: "agent.server", "adding server {} as learner failed: {e}", node.name);
                return;
            }
        }
        let learners_alive: BTreeSet<u64> = known
            .difference(&voters)
            .copied()
            .filter(|id| view.alive.contains_key(id))
            .collect();
        if !learners_alive.is_empty() {
            if let Err(e) = self
                .raft()
                .change_membership(ChangeMembers::AddVoterIds(learners_alive.clone()), false)
                .await
            {
                tracing::warn!(target: "agent.server", "promoting {learners_alive:?} to voters failed: {e}");
            }
        }
    }

    async fn maybe_bootstrap(&self, view: &ServerView, expect: u32) {
        let expect = expect as usize;
        if expect == 0 || view.alive.len() < expect {
            return;
        }
        // Someone already runs raft: they will add us; never start a second cluster.
        for (id, node) in &view.alive {
            if *id == self.id() {
                continue;
            }
            if let Ok(RpcResponse::Initialized(true)) =
                self.forward_call(&node.rpc_addr, &RpcRequest::Initialized).await
            {
                tracing::info!(target: "agent.server", "Existing Raft peers reported by {}, disabling bootstrap mode", node.name);
                return;
            }
        }
        // Exactly one server bootstraps: the lowest id among the first `expect`.
        let chosen: BTreeMap<u64, ServerNode> = view
            .alive
            .iter()
            .take(expect)
            .map(|(k, v)| (*k, v.clone()))
            .collect();
        if chosen.keys().next() != Some(&self.id()) {
            return;
        }
        let peers: Vec<&str> = chosen.values().map(|n| n.rpc_addr.as_str()).collect();
        tracing::info!(target: "agent.server", "Found expected number of peers, attempting bootstrap: peers={}", peers.join(","));
        if let Err(e) = self.raft().initialize(chosen).await {
            tracing::warn!(target: "agent.server", "bootstrap failed: {e}");
            return;
        }
        // Everyone is known to be up: campaign now instead of waiting out a timeout.
        if let Err(e) = self.raft().trigger().elect().await {
            tracing::debug!(target: "agent.server", "could not start the first election: {e}");
        }
    }
}
