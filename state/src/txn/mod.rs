//! Transactions (`/v1/txn`): a list of operations applied atomically.
//!
//! Operations run in order against the live state, each seeing the effects of the
//! ones before it, as in Consul. Every operation is attempted and every failure is
//! reported with its index; if any failed, the changes made so far are undone from
//! an undo log (KV keys, the catalog slices of the nodes written, and the sessions
//! table if a catalog write invalidated sessions), so the transaction leaves nothing
//! behind. A transaction of reads only is evaluated against a read guard without
//! going through raft.
//!
//! KV verbs live in [`kv`], node, service and check verbs in [`catalog`].

mod catalog;
mod kv;

use serde::{Deserialize, Serialize};

use crate::catalog::{HealthCheck, Node, SavedNode, Service};
use crate::kv::{KvEntry, SavedKey};
use crate::session::Sessions;
use crate::store::State;

pub use catalog::pre_check;

/// Consul's limit on operations per transaction.
pub const MAX_TXN_OPS: usize = 64;

/// One KV operation (`{"KV": {...}}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct KvOp {
    /// `set`, `cas`, `lock`, `unlock`, `get`, `get-tree`, `check-index`,
    /// `check-session`, `check-not-exists`, `delete`, `delete-tree`, `delete-cas`.
    pub verb: String,
    /// The key (a prefix for the tree verbs).
    pub key: String,
    /// The value to write.
    #[serde(with = "serde_bytes")]
    pub value: Vec<u8>,
    /// Flags to write.
    pub flags: u64,
    /// The index for `cas`, `check-index` and `delete-cas`.
    pub index: u64,
    /// The session for `lock`, `unlock` and `check-session`.
    pub session: String,
}

/// One node operation (`{"Node": {"Verb": ..., "Node": {...}}}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct NodeOp {
    /// `set`, `cas`, `get`, `delete` or `delete-cas`.
    pub verb: String,
    /// The node; its `modify_index` is the index for `cas` and `delete-cas`.
    pub node: Node,
}

/// One service operation (`{"Service": {"Verb": ..., "Node": ..., "Service": {...}}}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ServiceOp {
    /// `set`, `cas`, `get`, `delete` or `delete-cas`.
    pub verb: String,
    /// The node the service instance is on.
    pub node: String,
    /// The instance; its `modify_index` is the index for `cas` and `delete-cas`.
    pub service: Service,
}

/// One check operation (`{"Check": {"Verb": ..., "Check": {...}}}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct CheckOp {
    /// `set`, `cas`, `get`, `delete` or `delete-cas`.
    pub verb: String,
    /// The check (its `node` says where); `modify_index` is the index for `cas` and
    /// `delete-cas`.
    pub check: HealthCheck,
}

/// One operation of a transaction.
///
/// Replicated with bincode, which encodes variants by position: new variants go at
/// the end, and the three `Legacy*` ones stay so raft log entries written before
/// catalog writes existed still decode.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TxnOp {
    /// A KV operation.
    Kv(KvOp),
    /// A node `get` as encoded by older rconsul versions.
    LegacyNode {
        /// The verb.
        verb: String,
        /// The node's name.
        node: String,
    },
    /// A service `get` as encoded by older rconsul versions.
    LegacyService {
        /// The verb.
        verb: String,
        /// The node.
        node: String,
        /// The service instance ID.
        service_id: String,
    },
    /// A check `get` as encoded by older rconsul versions.
    LegacyCheck {
        /// The verb.
        verb: String,
        /// The node.
        node: String,
        /// The check ID.
        check_id: String,
    },
    /// A node operation.
    Node(Box<NodeOp>),
    /// A service operation.
    Service(Box<ServiceOp>),
    /// A check operation.
    Check(Box<CheckOp>),
}

impl TxnOp {
    /// Whether the operation goes through raft. KV: the writing verbs; catalog
    /// operations: every verb but `get` (as Consul counts them).
    pub fn is_write(&self) -> bool {
        match self {
            TxnOp::Kv(op) => matches!(
                op.verb.as_str(),
                "set" | "cas" | "lock" | "unlock" | "delete" | "delete-tree" | "delete-cas"
            ),
            TxnOp::LegacyNode { verb, .. }
            | TxnOp::LegacyService { verb, .. }
            | TxnOp::LegacyCheck { verb, .. } => verb != "get",
            TxnOp::Node(op) => op.verb != "get",
            TxnOp::Service(op) => op.verb != "get",
            TxnOp::Check(op) => op.verb != "get",
        }
    }
}

/// A transaction as replicated: its operations and the proposer's clock (lock-delays).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxnRequest {
    /// The operations, in order.
    pub ops: Vec<TxnOp>,
    /// Proposer wall clock, Unix milliseconds.
    pub now_ms: u64,
}

/// One result (delete verbs and checks of absent keys produce none).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TxnResult {
    /// A KV entry (its value blanked except for `get` and `get-tree`).
    Kv(KvEntry),
    /// A node.
    Node(Node),
    /// A service instance.
    Service(Service),
    /// A health check.
    Check(HealthCheck),
}

/// A failed operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxnError {
    /// Index of the operation in the request.
    pub op_index: usize,
    /// What went wrong (Consul's wording).
    pub what: String,
}

/// The outcome of a transaction: results if it committed, else the errors.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TxnOutcome {
    /// Results, in operation order (empty when errors is not).
    pub results: Vec<TxnResult>,
    /// Failures; non-empty means nothing was applied.
    pub errors: Vec<TxnError>,
}

/// Which tables a committed transaction changed (what watchers must be told).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TxnChanged {
    /// The KV table.
    pub kv: bool,
    /// The catalog.
    pub catalog: bool,
    /// The sessions table.
    pub sessions: bool,
}

/// What a transaction changed so far, to put back if it fails.
#[derive(Debug, Default)]
struct Undo {
    /// KV keys as they were before each write (in order).
    kv: Vec<SavedKey>,
    /// Catalog slices of the nodes written, as they were before each write.
    catalog: Vec<SavedNode>,
    /// The sessions table before the first invalidation the transaction caused.
    sessions: Option<Sessions>,
    /// What changed, reported if the transaction commits.
    changed: TxnChanged,
}

/// Evaluates a read operation (or reports an unknown verb).
fn read_op(state: &State, op: &TxnOp) -> Result<Vec<TxnResult>, String> {
    match op {
        TxnOp::Kv(op) => kv::read(state, op),
        other => catalog::read(state, other),
    }
}

/// Evaluates a read-only transaction against the state.
pub fn read(state: &State, ops: &[TxnOp]) -> TxnOutcome {
    let mut out = TxnOutcome::default();
    for (i, op) in ops.iter().enumerate() {
        match read_op(state, op) {
            Ok(mut r) => out.results.append(&mut r),
            Err(what) => out.errors.push(TxnError { op_index: i, what }),
        }
    }
    if !out.errors.is_empty() {
        out.results.clear();
    }
    out
}

impl State {
    /// Applies a transaction at `index`: all operations or none. Returns the outcome
    /// and the tables it changed (none if it failed).
    pub(crate) fn apply_txn(&mut self, index: u64, req: &TxnRequest) -> (TxnOutcome, TxnChanged) {
        self.observe_clock(req.now_ms);
        let kv_index = self.kv.table_index();
        let mut undo = Undo::default();
        let mut out = TxnOutcome::default();
        for (i, op) in req.ops.iter().enumerate() {
            let result = match op {
                TxnOp::Kv(kv) if op.is_write() => {
                    undo.changed.kv = true;
                    self.kv_write_op(index, kv, req.now_ms, &mut undo.kv)
                }
                TxnOp::Kv(_) => read_op(self, op),
                other => self.catalog_op(index, other, &mut undo),
            };
            match result {
                Ok(mut r) => out.results.append(&mut r),
                Err(what) => out.errors.push(TxnError { op_index: i, what }),
            }
        }
        if out.errors.is_empty() {
            return (out, undo.changed);
        }
        self.kv.rollback(undo.kv, kv_index);
        self.catalog.rollback(undo.catalog);
        if let Some(sessions) = undo.sessions {
            self.sessions = sessions;
        }
        out.results.clear();
        (out, TxnChanged::default())
    }
}

/// Go's `%q` of a string (the error texts quote keys that way).
fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("\"{s}\""))
}

#[cfg(test)]
pub(crate) mod test_util {
    use super::*;
    use crate::{Command, CommandResult, StateStore};

    /// Applies one transaction at `index` and returns its outcome.
    pub fn txn(store: &StateStore, index: u64, ops: Vec<TxnOp>) -> TxnOutcome {
        match store
            .apply(index, &[Command::Txn(Box::new(TxnRequest { ops, now_ms: 1 }))])
            .remove(0)
        {
            CommandResult::Txn(out) => *out,
            other => panic!("unexpected {other:?}"),
        }
    }

    /// A KV operation.
    pub fn kv(verb: &str, key: &str, value: &str, index: u64) -> TxnOp {
        TxnOp::Kv(KvOp {
            verb: verb.into(),
            key: key.into(),
            value: value.as_bytes().to_vec(),
            index,
            ..Default::default()
        })
    }
}
