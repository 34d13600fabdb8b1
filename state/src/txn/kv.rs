//! KV verbs of a transaction.

use super::{quote, TxnResult};
use crate::kv::{KvEntry, LockOutcome, SavedKey};
use crate::store::State;
use crate::txn::KvOp;

fn blank(e: &KvEntry) -> TxnResult {
    let mut e = e.clone();
    e.value = std::sync::Arc::from(&[][..]);
    TxnResult::Kv(e)
}

/// Evaluates a reading KV verb (or reports an unknown verb).
pub(super) fn read(state: &State, op: &KvOp) -> Result<Vec<TxnResult>, String> {
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

impl State {
    pub(super) fn kv_write_op(
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

#[cfg(test)]
mod tests {
    use crate::txn::test_util::{kv, txn};
    use crate::txn::{read, TxnOp, TxnResult};
    use crate::StateStore;

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
            &[TxnOp::LegacyNode {
                verb: "get".into(),
                node: "nosuch".into(),
            }],
        );
        assert_eq!(out.errors[0].what, "node \"nosuch\" doesn't exist");
    }
}
