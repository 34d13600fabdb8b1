//! What a server reports about its own raft state (Consul's `Status.RaftStats`), for
//! autopilot's server health: its last log index and term, and how long ago it last
//! heard from the leader.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::node::RaftNode;
use crate::rpc::{RpcRequest, RpcResponse};

/// How long a health probe waits for a server's answer: a server slower than this is
/// unhealthy anyway (the contact threshold is 200 ms).
const STATS_TIMEOUT: Duration = Duration::from_secs(1);

/// One server's view of its raft log.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RaftStats {
    /// Index of the last entry in its log.
    pub last_index: u64,
    /// Term of the last entry it applied.
    pub last_term: u64,
    /// Milliseconds since it last heard from the leader (0 on the leader itself).
    pub last_contact_ms: u64,
}

impl RaftNode {
    /// This server's [`RaftStats`].
    pub fn raft_stats(&self) -> RaftStats {
        let metrics = self.raft().metrics();
        let m = metrics.borrow();
        let leading = m.current_leader == Some(self.id());
        RaftStats {
            last_index: m.last_log_index.unwrap_or(0),
            last_term: m.last_applied.map_or(0, |l| l.leader_id.term),
            last_contact_ms: if leading { 0 } else { self.last_contact_ms() },
        }
    }

    /// The [`RaftStats`] of the server at `addr` (this one answers itself); an error
    /// when it does not answer within a second.
    pub async fn raft_stats_of(&self, addr: &str) -> Result<RaftStats, String> {
        if addr == self.node().rpc_addr {
            return Ok(self.raft_stats());
        }
        match tokio::time::timeout(STATS_TIMEOUT, self.forward_call(addr, &RpcRequest::RaftStats)).await {
            Ok(Ok(RpcResponse::RaftStats(stats))) => Ok(stats),
            Ok(Ok(other)) => Err(format!("unexpected answer to RaftStats: {other:?}")),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(format!("no answer from {addr} within {STATS_TIMEOUT:?}")),
        }
    }
}
