//! The state store: applies commands at raft indexes and serves reads.

use parking_lot::{RwLock, RwLockReadGuard};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::catalog::{Catalog, CatalogError};
use crate::command::{Command, CommandResult};
use crate::kv::KvStore;
use crate::tables::{Table, TableWatches};

/// Everything replicated, as one serialisable value (the snapshot content).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct State {
    /// The KV table.
    pub kv: KvStore,
    /// The service catalog.
    pub catalog: Catalog,
}

/// A point-in-time serialised copy of the whole [`State`].
pub type Snapshot = Vec<u8>;

/// A snapshot that could not be decoded.
#[derive(Debug, thiserror::Error)]
#[error("invalid snapshot: {0}")]
pub struct SnapshotError(String);

/// The replicated state machine's data, shared between the raft apply task (writer)
/// and the API tasks (readers).
#[derive(Debug, Default)]
pub struct StateStore {
    state: RwLock<State>,
    watches: TableWatches,
}

impl StateStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Read access to the state. Keep the guard short: writers wait on it.
    pub fn read(&self) -> RwLockReadGuard<'_, State> {
        self.state.read()
    }

    /// Subscribes to the max index of `table`; changes wake blocking queries.
    pub fn watch(&self, table: Table) -> watch::Receiver<u64> {
        self.watches.subscribe(table)
    }

    /// Applies a batch of commands, all at raft index `index`. Deterministic: the same
    /// commands at the same index give the same state and results on every server.
    pub fn apply(&self, index: u64, commands: &[Command]) -> Vec<CommandResult> {
        let mut touched_kv = false;
        let mut touched_catalog = false;
        let (results, kv_index, catalog_index) = {
            let mut state = self.state.write();
            let results = commands
                .iter()
                .map(|cmd| {
                    let (result, table) = apply_one(&mut state, index, cmd);
                    touched_kv |= table == Table::Kvs;
                    touched_catalog |= table == Table::Catalog;
                    result
                })
                .collect();
            (results, state.kv.table_index(), state.catalog.max_index())
        };
        if touched_kv {
            self.watches.publish(Table::Kvs, kv_index);
        }
        if touched_catalog {
            self.watches.publish(Table::Catalog, catalog_index);
        }
        results
    }

    /// Serialises the whole state.
    pub fn snapshot(&self) -> Snapshot {
        let state = self.state.read();
        // Serialising plain data structures into a Vec cannot fail.
        bincode::serialize(&*state).unwrap_or_default()
    }

    /// Replaces the whole state with a decoded snapshot and wakes every watcher.
    pub fn restore(&self, snapshot: &[u8]) -> Result<(), SnapshotError> {
        let restored: State = if snapshot.is_empty() {
            State::default()
        } else {
            bincode::deserialize(snapshot).map_err(|e| SnapshotError(e.to_string()))?
        };
        let kv_index = restored.kv.table_index();
        let catalog_index = restored.catalog.max_index();
        *self.state.write() = restored;
        self.watches.publish(Table::Kvs, kv_index);
        self.watches.publish(Table::Catalog, catalog_index);
        Ok(())
    }
}

fn apply_one(state: &mut State, index: u64, cmd: &Command) -> (CommandResult, Table) {
    match cmd {
        Command::CatalogRegister(req) => {
            let result = match state.catalog.register(index, req) {
                Ok(()) => CommandResult::Applied,
                Err(CatalogError::UnknownService(id)) => {
                    CommandResult::Failed(format!("Failed to register check: unknown service ID \"{id}\""))
                }
            };
            return (result, Table::Catalog);
        }
        Command::CatalogDeregister(req) => {
            state.catalog.deregister(index, req);
            return (CommandResult::Applied, Table::Catalog);
        }
        _ => {}
    }
    let kv = &mut state.kv;
    let ok = match cmd {
        Command::KvSet { key, value, flags } => kv.set(index, key, value, *flags),
        Command::KvCas {
            key,
            value,
            flags,
            index: cas,
        } => kv.set_cas(index, key, value, *flags, *cas),
        Command::KvDelete { key } => {
            kv.delete(index, key);
            true
        }
        Command::KvDeleteCas { key, index: cas } => kv.delete_cas(index, key, *cas),
        Command::KvDeleteTree { prefix } => {
            kv.delete_tree(index, prefix);
            true
        }
        Command::CatalogRegister(_) | Command::CatalogDeregister(_) => true,
    };
    (CommandResult::from_bool(ok), Table::Kvs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apply_then_snapshot_round_trip() {
        let store = StateStore::new();
        let mut rx = store.watch(Table::Kvs);
        let res = store.apply(
            5,
            &[
                Command::KvSet {
                    key: "a".into(),
                    value: b"1".to_vec(),
                    flags: 0,
                },
                Command::KvCas {
                    key: "a".into(),
                    value: b"2".to_vec(),
                    flags: 0,
                    index: 0,
                },
            ],
        );
        assert_eq!(res, vec![CommandResult::Applied, CommandResult::Rejected]);
        assert!(rx.has_changed().unwrap_or(false));
        assert_eq!(*rx.borrow_and_update(), 5);
        let snap = store.snapshot();
        let other = StateStore::new();
        other.restore(&snap).expect("restore");
        assert_eq!(
            other.read().kv.get("a").1.map(|e| e.value.to_vec()),
            Some(b"1".to_vec())
        );
        assert!(other.restore(b"garbage that is not bincode").is_err() || other.read().kv.len() <= 1);
    }
}
