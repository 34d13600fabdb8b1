//! The interface the API layers use to reach consensus, implemented by the `raft` crate.
//!
//! Defined here so that `http-api` and `dns` depend only on `state`, never on `raft`.

use std::future::Future;
use std::pin::Pin;

use crate::{Command, CommandResult};

/// A boxed, sendable future (keeps [`Consensus`] object-safe).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Read consistency modes of Consul's HTTP API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Consistency {
    /// No flag: the leader answers from its state without a quorum round.
    #[default]
    Default,
    /// `?stale`: any server answers from its local state.
    Stale,
    /// `?consistent`: the leader confirms leadership with a quorum before reading.
    Consistent,
}

/// Query metadata returned with every read (`X-Consul-KnownLeader`, `X-Consul-LastContact`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReadMeta {
    /// Whether this server knows a leader.
    pub known_leader: bool,
    /// Milliseconds since the last contact with the leader (0 on the leader).
    pub last_contact_ms: u64,
}

/// Why a write or a read barrier failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
pub enum ConsensusError {
    /// No leader is known (Consul: `No cluster leader`).
    #[error("No cluster leader")]
    NoLeader,
    /// The write was rejected because the cluster is shutting down or storage failed.
    #[error("raft apply failed: {0}")]
    Failed(String),
}

/// Consensus as seen by the API layers: replicate writes, gate reads, report leadership.
pub trait Consensus: Send + Sync + 'static {
    /// Proposes `cmd` through raft; resolves once it is committed, durable and applied.
    fn write(&self, cmd: Command) -> BoxFuture<'_, Result<CommandResult, ConsensusError>>;
    /// Waits until a read in `mode` may be served from the local state store.
    fn read_barrier(&self, mode: Consistency) -> BoxFuture<'_, Result<ReadMeta, ConsensusError>>;
    /// The leader's server RPC address (`ip:8300`), if one is known.
    fn leader_addr(&self) -> Option<String>;
    /// The server RPC addresses of every voter in the raft configuration.
    fn peer_addrs(&self) -> Vec<String>;
}
