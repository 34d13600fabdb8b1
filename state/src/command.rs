//! Commands: the unit of replication. Each raft entry carries a batch of them.

use serde::{Deserialize, Serialize};

use crate::catalog::{DeregisterRequest, RegisterRequest};

/// One state change, proposed through raft and applied by [`crate::StateStore::apply`].
///
/// Application-level failures (a CAS mismatch) are not errors: they are encoded in
/// the [`CommandResult`] so that apply stays deterministic on every server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    /// Set a key unconditionally (`PUT /v1/kv/<key>`).
    KvSet {
        /// The key.
        key: String,
        /// Raw value bytes.
        #[serde(with = "serde_bytes")]
        value: Vec<u8>,
        /// Opaque client flags.
        flags: u64,
    },
    /// Set a key only if its ModifyIndex equals `index` (0: only if absent).
    KvCas {
        /// The key.
        key: String,
        /// Raw value bytes.
        #[serde(with = "serde_bytes")]
        value: Vec<u8>,
        /// Opaque client flags.
        flags: u64,
        /// Expected ModifyIndex.
        index: u64,
    },
    /// Delete one key (`DELETE /v1/kv/<key>`).
    KvDelete {
        /// The key.
        key: String,
    },
    /// Delete one key only if its ModifyIndex equals `index`.
    KvDeleteCas {
        /// The key.
        key: String,
        /// Expected ModifyIndex.
        index: u64,
    },
    /// Delete every key starting with `prefix` (`?recurse`).
    KvDeleteTree {
        /// The prefix; empty deletes everything.
        prefix: String,
    },
    /// Register a node and optionally a service and checks (`/v1/catalog/register`).
    CatalogRegister(Box<RegisterRequest>),
    /// Remove a node, a service instance or a check (`/v1/catalog/deregister`).
    CatalogDeregister(DeregisterRequest),
}

/// The outcome of one applied [`Command`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CommandResult {
    /// The command took effect (`true` in Consul's KV API).
    Applied,
    /// A precondition did not hold (`false`): CAS mismatch and the like.
    Rejected,
    /// The command was invalid against the current state; the message says why.
    Failed(String),
}

impl CommandResult {
    /// `true` for [`CommandResult::Applied`], as Consul's KV endpoints answer.
    pub fn as_bool(&self) -> bool {
        matches!(self, CommandResult::Applied)
    }

    /// Builds a result from a boolean outcome.
    pub fn from_bool(ok: bool) -> Self {
        if ok {
            CommandResult::Applied
        } else {
            CommandResult::Rejected
        }
    }
}
