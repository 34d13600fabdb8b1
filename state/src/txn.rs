//! Transactions (`/v1/txn`): a list of operations applied atomically.
//!
//! Operations run in order against the live state, each seeing the effects of the
//! ones before it, as in Consul. Every operation is attempted and every failure is
//! reported with its index; if any failed, the KV changes made so far are undone from
//! an undo log, so the transaction leaves nothing behind. A transaction of reads only
//! is evaluated against a read guard without going through raft.

use serde::{Deserialize, Serialize};

use crate::catalog::{HealthCheck, Node, Service};
use crate::kv::{KvEntry, LockOutcome, SavedKey};
use crate::store::State;

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

/// One operation of a transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TxnOp {
    /// A KV operation.
    Kv(KvOp),
    /// A node operation (`get` is supported).
    Node {
        /// The verb.
        verb: String,
        /// The node's name.
        node: String,
    },
    /// A service operation (`get` is supported).
    Service {
        /// The verb.
        verb: String,
        /// The node.
        node: String,
        /// The service instance ID.
        service_id: String,
    },
    /// A check operation (`get` is supported).
    Check {
        /// The verb.
        verb: String,
        /// The node.
        node: String,
        /// The check ID.
        check_id: String,
    },
}

impl TxnOp {
    /// Whether the operation changes state (then the transaction goes through raft).
    pub fn is_write(&self) -> bool {
        match self {
            TxnOp::Kv(op) => matches!(
                op.verb.as_str(),
                "set" | "cas" | "lock" | "unlock" | "delete" | "delete-tree" | "delete-cas"
            ),
            TxnOp::Node { verb, .. } | TxnOp::Service { verb, .. } | TxnOp::Check { verb, .. } => {
                matches!(verb.as_str(), "set" | "cas" | "delete" | "delete-cas")
            }
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

fn blank(e: &KvEntry) -> TxnResult {
    let mut e = e.clone();
    e.value = std::sync::Arc::from(&[][..]);
    TxnResult::Kv(e)
}

/// Evaluates a read operation (or reports an unknown verb).
fn read_op(state: &State, op: &TxnOp) -> Result<Vec<TxnResult>, String> {
    match op {
        TxnOp::Kv(op) => {
            let key = op.key.as_str();
            let entry = state.kv.get(key).1;
            match op.verb.as_str() {
                "get" => match entry {
                    Some(e) => Ok(vec![TxnResult::Kv(e.clone())]),
                    None => Err(format!("key {} doesn't exist", quote(key))),
                },
                "get-tree" => Ok(state
                    .kv
                    .list(key)
                    .1
                    .into_iter()
                    .map(|e| TxnResult::Kv(e.clone()))
                    .collect()),
                "check-index" => match entry {
                    None => Err(format!("failed to check index, key {} doesn't exist", quote(key))),
                    Some(e) if e.modify_index != op.index => Err(format!(
                        "failed index check for key {}, current modify index {} != {}",
                        quote(key),
                        e.modify_index,
                        op.index
                    )),
                    Some(e) => Ok(vec![blank(e)]),
                },
                "check-session" => match entry {
                    None => Err(format!(
                        "failed to check session, key {} doesn't exist",
                        quote(key)
                    )),
                    Some(e) if e.session.as_deref().unwrap_or("") != op.session => Err(format!(
                        "failed session check for key {}, current session {} != {}",
                        quote(key),
                        quote(e.session.as_deref().unwrap_or("")),
                        quote(&op.session)
                    )),
                    Some(e) => Ok(vec![blank(e)]),
                },
                "check-not-exists" => match entry {
                    Some(_) => Err(format!("key {} exists", quote(key))),
                    None => Ok(Vec::new()),
                },
                other => Err(format!("unknown KV verb {}", quote(other))),
            }
        }
        TxnOp::Node { verb, node } => match verb.as_str() {
            "get" => match state.catalog.node(node) {
                Some(n) => Ok(vec![TxnResult::Node(n.clone())]),
                None => Err(format!("node {} doesn't exist", quote(node))),
            },
            v if op.is_write() => Err(unsupported("Node", v)),
            other => Err(format!("unknown Node verb {}", quote(other))),
        },
        TxnOp::Service {
            verb,
            node,
            service_id,
        } => match verb.as_str() {
            "get" => match state.catalog.node_services(node).find(|s| s.id == *service_id) {
                Some(s) => Ok(vec![TxnResult::Service(s.clone())]),
                None => Err(format!(
                    "service {} on node {} doesn't exist",
                    quote(service_id),
                    quote(node)
                )),
            },
            v if op.is_write() => Err(unsupported("Service", v)),
            other => Err(format!("unknown Service verb {}", quote(other))),
        },
        TxnOp::Check { verb, node, check_id } => match verb.as_str() {
            "get" => match state.catalog.node_checks(node).find(|c| c.check_id == *check_id) {
                Some(c) => Ok(vec![TxnResult::Check(c.clone())]),
                None => Err(format!(
                    "check {} on node {} doesn't exist",
                    quote(check_id),
                    quote(node)
                )),
            },
            v if op.is_write() => Err(unsupported("Check", v)),
            other => Err(format!("unknown Check verb {}", quote(other))),
        },
    }
}

fn unsupported(kind: &str, verb: &str) -> String {
    format!(
        "{kind} verb {} is not supported by rconsul's /v1/txn yet (only \"get\")",
        quote(verb)
    )
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
    /// and whether the KV table changed.
    pub(crate) fn apply_txn(&mut self, index: u64, req: &TxnRequest) -> (TxnOutcome, bool) {
        self.observe_clock(req.now_ms);
        let table_index = self.kv.table_index();
        let mut undo: Vec<SavedKey> = Vec::new();
        let mut out = TxnOutcome::default();
        for (i, op) in req.ops.iter().enumerate() {
            let result = match op {
                TxnOp::Kv(kv) if op.is_write() => self.kv_write_op(index, kv, req.now_ms, &mut undo),
                _ => read_op(self, op),
            };
            match result {
                Ok(mut r) => out.results.append(&mut r),
                Err(what) => out.errors.push(TxnError { op_index: i, what }),
            }
        }
        if out.errors.is_empty() {
            let changed = !undo.is_empty();
            (out, changed)
        } else {
            self.kv.rollback(undo, table_index);
            out.results.clear();
            (out, false)
        }
    }

    fn kv_write_op(
        &mut self,
        index: u64,
        op: &KvOp,
        now_ms: u64,
        undo: &mut Vec<SavedKey>,
    ) -> Result<Vec<TxnResult>, String> {
        let key = op.key.as_str();
        let stored = |state: &State| state.kv.get(key).1.map(blank).into_iter().collect::<Vec<_>>();
        match op.verb.as_str() {
            "set" => {
                undo.push(self.kv.save_key(key));
                self.kv.set(index, key, &op.value, op.flags);
                Ok(stored(self))
            }
            "cas" => {
                undo.push(self.kv.save_key(key));
                if self.kv.set_cas(index, key, &op.value, op.flags, op.index) {
                    Ok(stored(self))
                } else {
                    Err(format!("failed to set key {}, index is stale", quote(key)))
                }
            }
            "lock" => {
                if op.session.is_empty() {
                    return Err("missing session".into());
                }
                if self.sessions.get(&op.session).is_none() {
                    return Err(format!("invalid session {}", quote(&op.session)));
                }
                let holder =
                    self.kv.get(key).1.and_then(|e| e.session.as_deref()) == Some(op.session.as_str());
                // Consul's txn endpoint does not check the lock-delay; rconsul does, so a
                // transaction cannot sneak past the safety window an invalidation opened.
                if !holder && self.sessions.lock_delayed(key, now_ms) {
                    return Err(format!(
                        "failed to lock key {}, lock-delay is in effect",
                        quote(key)
                    ));
                }
                undo.push(self.kv.save_key(key));
                match self.kv.lock(index, key, &op.value, op.flags, &op.session) {
                    LockOutcome::Acquired => Ok(stored(self)),
                    LockOutcome::HeldByOther => {
                        Err(format!("failed to lock key {}, lock is already held", quote(key)))
                    }
                }
            }
            "unlock" => {
                if op.session.is_empty() {
                    return Err("missing session".into());
                }
                undo.push(self.kv.save_key(key));
                if self.kv.unlock(index, key, &op.value, op.flags, &op.session) {
                    Ok(stored(self))
                } else {
                    Err(format!(
                        "failed to unlock key {}, lock isn't held, or is held by another session",
                        quote(key)
                    ))
                }
            }
            "delete" => {
                undo.push(self.kv.save_key(key));
                self.kv.delete(index, key);
                Ok(Vec::new())
            }
            "delete-tree" => {
                undo.extend(self.kv.save_prefix(key));
                self.kv.delete_tree(index, key);
                Ok(Vec::new())
            }
            "delete-cas" => {
                undo.push(self.kv.save_key(key));
                if self.kv.delete_cas(index, key, op.index) {
                    Ok(Vec::new())
                } else {
                    Err(format!("failed to delete key {}, index is stale", quote(key)))
                }
            }
            other => Err(format!("unknown KV verb {}", quote(other))),
        }
    }
}

/// Go's `%q` of a string (the error texts quote keys that way).
fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("\"{s}\""))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Command, CommandResult, StateStore};

    fn kv(verb: &str, key: &str, value: &str, index: u64) -> TxnOp {
        TxnOp::Kv(KvOp {
            verb: verb.into(),
            key: key.into(),
            value: value.as_bytes().to_vec(),
            index,
            ..Default::default()
        })
    }

    fn txn(store: &StateStore, index: u64, ops: Vec<TxnOp>) -> TxnOutcome {
        match store
            .apply(index, &[Command::Txn(Box::new(TxnRequest { ops, now_ms: 1 }))])
            .remove(0)
        {
            CommandResult::Txn(out) => *out,
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn commits_in_order_with_results() {
        let store = StateStore::new();
        let out = txn(
            &store,
            10,
            vec![
                kv("set", "a", "1", 0),
                kv("set", "b", "2", 0),
                kv("get", "a", "", 0),
                kv("check-not-exists", "c", "", 0),
                kv("delete", "b", "", 0),
                kv("check-index", "a", "", 10),
            ],
        );
        assert!(out.errors.is_empty(), "{:?}", out.errors);
        // set, set, get, check-index produce results; check-not-exists and delete don't.
        assert_eq!(out.results.len(), 4);
        match &out.results[2] {
            TxnResult::Kv(e) => assert_eq!(&*e.value, b"1"),
            other => panic!("{other:?}"),
        }
        match &out.results[0] {
            TxnResult::Kv(e) => assert!(e.value.is_empty(), "set results carry no value"),
            other => panic!("{other:?}"),
        }
        let state = store.read();
        assert!(state.kv.get("b").1.is_none());
        assert_eq!(state.kv.table_index(), 10);
    }

    #[test]
    fn failure_rolls_everything_back() {
        let store = StateStore::new();
        txn(
            &store,
            5,
            vec![kv("set", "t/a", "x", 0), kv("set", "t/b", "y", 0)],
        );
        let before = store.snapshot();
        let out = txn(
            &store,
            6,
            vec![
                kv("delete-tree", "t/", "", 0),
                kv("set", "t/new", "n", 0),
                kv("check-index", "t/a", "", 5),
                kv("cas", "t/b", "z", 99),
                kv("get", "missing", "", 0),
            ],
        );
        assert!(out.results.is_empty());
        let errs: Vec<(usize, &str)> = out.errors.iter().map(|e| (e.op_index, e.what.as_str())).collect();
        assert_eq!(
            errs,
            vec![
                (2, "failed to check index, key \"t/a\" doesn't exist"),
                (3, "failed to set key \"t/b\", index is stale"),
                (4, "key \"missing\" doesn't exist"),
            ]
        );
        assert_eq!(store.snapshot(), before, "state unchanged after rollback");
        let state = store.read();
        assert_eq!(state.kv.keys("t/", "").1, vec!["t/a", "t/b"]);
        assert_eq!(state.kv.table_index(), 5);
    }

    #[test]
    fn read_only_evaluation_and_unknown_verbs() {
        let store = StateStore::new();
        txn(&store, 3, vec![kv("set", "k", "v", 0)]);
        let ops = vec![kv("get", "k", "", 0), kv("get-tree", "", "", 0)];
        assert!(ops.iter().all(|o| !o.is_write()));
        let out = read(&store.read(), &ops);
        assert_eq!((out.results.len(), out.errors.len()), (2, 0));
        let out = read(&store.read(), &[kv("bogus", "k", "", 0)]);
        assert_eq!(out.errors[0].what, "unknown KV verb \"bogus\"");
        let out = read(
            &store.read(),
            &[TxnOp::Node {
                verb: "get".into(),
                node: "nosuch".into(),
            }],
        );
        assert_eq!(out.errors[0].what, "node \"nosuch\" doesn't exist");
    }
}
