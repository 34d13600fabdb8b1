//! Cluster operations the HTTP API asks of the agent: the raft configuration
//! (`/v1/operator/raft/*`), joining (`/v1/agent/join`) and force-leave
//! (`/v1/agent/force-leave`). The agent crate implements [`Operator`] on top of raft and
//! gossip, so `http-api` stays independent of both.

use serde::{Deserialize, Serialize};

use crate::consensus::BoxFuture;

/// One server of the raft configuration, as `/v1/operator/raft/configuration` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RaftServer {
    /// The server's node ID (raft protocol 3 uses node UUIDs).
    pub id: String,
    /// Its node name.
    pub node: String,
    /// Its server RPC address, `ip:8300`.
    pub address: String,
    /// Whether it is the current leader.
    pub leader: bool,
    /// Whether it votes (false while a new server catches up).
    pub voter: bool,
}

/// The raft configuration: its servers and the log index it was committed at.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RaftConfiguration {
    /// Servers, in the configuration's order.
    pub servers: Vec<RaftServer>,
    /// Raft index of the configuration entry.
    pub index: u64,
}

/// One server's health as autopilot judges it (`/v1/operator/autopilot/health`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerHealth {
    /// Node ID.
    pub id: String,
    /// Node name.
    pub name: String,
    /// Server RPC address.
    pub address: String,
    /// Gossip status: `alive`, `leaving`, `left`, `failed` or `none`.
    pub serf_status: String,
    /// Consul version it reports (its `build` tag).
    pub version: String,
    /// Whether it leads.
    pub leader: bool,
    /// Time since it last heard from the leader (zero for the leader, or when unknown).
    pub last_contact: std::time::Duration,
    /// Term of its last applied entry (0 when it did not answer).
    pub last_term: u64,
    /// Index of its last log entry (0 when it did not answer).
    pub last_index: u64,
    /// Alive, in contact, on the leader's term and not trailing too far.
    pub healthy: bool,
    /// Whether it votes.
    pub voter: bool,
    /// When its health last changed, as this agent observed it.
    pub stable_since: std::time::SystemTime,
}

/// The cluster's health as autopilot judges it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AutopilotHealth {
    /// Every voter is healthy.
    pub healthy: bool,
    /// How many more voters may fail without losing quorum.
    pub failure_tolerance: usize,
    /// The servers of the raft configuration.
    pub servers: Vec<ServerHealth>,
}

/// Which peer `DELETE /v1/operator/raft/peer` removes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum PeerSelector {
    /// `?id=`: the server's node ID.
    Id(String),
    /// `?address=`: the server's RPC address, `ip:port`.
    Address(String),
}

impl std::fmt::Display for PeerSelector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PeerSelector::Id(id) => write!(f, "id {id:?}"),
            PeerSelector::Address(addr) => write!(f, "address {addr:?}"),
        }
    }
}

/// A failed cluster operation. Consul answers every one of them with a 500 and the
/// message as the body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct OperatorError(pub String);

/// Cluster operations on the local agent (and, through it, on the leader).
pub trait Operator: Send + Sync + 'static {
    /// The current raft configuration as this agent knows it (the caller has passed the
    /// read barrier of the requested consistency mode first). Client agents are not part
    /// of it.
    fn raft_configuration(&self) -> RaftConfiguration;
    /// Removes a server from the raft configuration through the leader.
    fn remove_raft_peer(&self, peer: PeerSelector) -> BoxFuture<'_, Result<(), OperatorError>>;
    /// Joins the gossip pool through `addr` (`host` or `host:port`, default port 8301);
    /// resolves once the member at `addr` answered.
    fn join(&self, addr: String, wan: bool) -> BoxFuture<'_, Result<(), OperatorError>>;
    /// Transitions the failed member `node` to `left` on every agent; with `prune` this
    /// agent also forgets it.
    fn force_leave(&self, node: String, prune: bool) -> BoxFuture<'_, Result<(), OperatorError>>;
    /// Autopilot's view of the servers' health; fails without a known leader.
    fn autopilot_health(&self) -> BoxFuture<'_, Result<AutopilotHealth, OperatorError>>;
}
