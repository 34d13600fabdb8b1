//! The raft type configuration of rconsul.

use std::io::Cursor;
use std::sync::Arc;

use rconsul_state::{Command, CommandResult};
use serde::{Deserialize, Serialize};

/// The payload of one raft entry: a batch of commands applied at the entry's index.
///
/// Concurrent HTTP writes are coalesced into one entry so a single fsync covers many.
/// The commands are shared, so the log store's cache of recent entries hands them to
/// every replication stream without copying (encoded exactly as a plain `Vec`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RaftRequest {
    /// The commands, applied in order.
    pub commands: Arc<Vec<Command>>,
}

impl std::fmt::Display for RaftRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "batch of {} command(s)", self.commands.len())
    }
}

/// The result of applying one [`RaftRequest`]: one result per command.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RaftResponse {
    /// One entry per command, in order.
    pub results: Vec<CommandResult>,
}

/// A server as raft knows it: where to reach it and how Consul names it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerNode {
    /// Server RPC address, `ip:port` (Consul's `ip:8300`).
    pub rpc_addr: String,
    /// Node name.
    pub name: String,
    /// Node UUID (Consul's node ID).
    pub node_id: String,
}

impl std::fmt::Display for ServerNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}@{}", self.name, self.rpc_addr)
    }
}

openraft::declare_raft_types!(
    /// The openraft type configuration of rconsul.
    pub TypeConfig:
        D = RaftRequest,
        R = RaftResponse,
        NodeId = u64,
        Node = ServerNode,
        SnapshotData = Cursor<Vec<u8>>,
);

/// Derives raft's numeric node id from a Consul node UUID (its first 8 bytes).
///
/// Non-hex input (a hand-written `-node-id`) falls back to a stable FNV-1a hash.
pub fn node_id_from_uuid(uuid: &str) -> u64 {
    let hex: String = uuid.chars().filter(|c| *c != '-').take(16).collect();
    match u64::from_str_radix(&hex, 16) {
        Ok(id) if hex.len() == 16 => id,
        _ => uuid.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_id_uses_uuid_prefix() {
        assert_eq!(
            node_id_from_uuid("81eb0b81-9f2d-4b31-0087-402d71c8bfe4"),
            0x81eb_0b81_9f2d_4b31
        );
        assert_eq!(node_id_from_uuid("abc"), node_id_from_uuid("abc"));
        assert_ne!(node_id_from_uuid("abc"), node_id_from_uuid("abd"));
    }
}
