//! The state store: applies commands at raft indexes and serves reads.

use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::{RwLock, RwLockReadGuard};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::acl::{AclOutcome, AclTables};
use crate::catalog::{Catalog, CatalogError};
use crate::command::{Command, CommandResult};
use crate::kv::KvStore;
use crate::session::{Changed, KvLockArgs, SessionTimers, Sessions};
use crate::tables::{Table, TableWatches};

/// Everything replicated, as one serialisable value (the snapshot content).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct State {
    /// The KV table.
    pub kv: KvStore,
    /// The service catalog.
    pub catalog: Catalog,
    /// Sessions and lock-delays.
    pub sessions: Sessions,
    /// ACL tokens, policies, roles, auth methods and binding rules.
    pub acl: AclTables,
}

/// Snapshot format 1: everything before the ACL tables.
#[derive(Deserialize)]
struct StateV2 {
    kv: KvStore,
    catalog: Catalog,
    sessions: Sessions,
}

impl From<StateV2> for State {
    fn from(v: StateV2) -> Self {
        State {
            kv: v.kv,
            catalog: v.catalog,
            sessions: v.sessions,
            acl: AclTables::default(),
        }
    }
}

/// The snapshot layout before sessions existed, still accepted on restore (untagged).
#[derive(Deserialize)]
struct StateV1 {
    kv: KvStore,
    catalog: Catalog,
}

/// A point-in-time serialised copy of the whole [`State`].
pub type Snapshot = Vec<u8>;

/// A snapshot that could not be decoded.
#[derive(Debug, thiserror::Error)]
#[error("invalid snapshot: {0}")]
pub struct SnapshotError(String);

/// Every snapshot this build writes starts with this tag and [`SNAPSHOT_FORMAT`], so a
/// later change of layout is recognised instead of misread. Snapshots written before the
/// tag existed are plain bincode and still restore.
const SNAPSHOT_TAG: &[u8; 6] = b"rcsnap";

/// The snapshot format this build writes (and the newest it reads).
pub const SNAPSHOT_FORMAT: u8 = 2;

/// Serialises `state` as [`StateStore::restore`] reads it.
pub fn encode(state: &State) -> Snapshot {
    let size = bincode::serialized_size(state).unwrap_or(0) as usize;
    let mut out = Vec::with_capacity(SNAPSHOT_TAG.len() + 1 + size);
    out.extend_from_slice(SNAPSHOT_TAG);
    out.push(SNAPSHOT_FORMAT);
    // Serialising plain data structures into a Vec cannot fail.
    let _ = bincode::serialize_into(&mut out, state);
    out
}

/// Decodes a snapshot of any format this build knows.
fn decode(snapshot: &[u8]) -> Result<State, SnapshotError> {
    if snapshot.is_empty() {
        return Ok(State::default());
    }
    let Some(tagged) = snapshot.strip_prefix(SNAPSHOT_TAG) else {
        return decode_untagged(snapshot);
    };
    match tagged.split_first() {
        Some((&SNAPSHOT_FORMAT, body)) => bincode::deserialize(body).map_err(|e| SnapshotError(e.to_string())),
        Some((1, body)) => bincode::deserialize::<StateV2>(body)
            .map(State::from)
            .map_err(|e| SnapshotError(e.to_string())),
        Some((format, _)) => Err(SnapshotError(format!(
            "snapshot format {format} is newer than this build reads (up to {SNAPSHOT_FORMAT}); run a newer rconsul"
        ))),
        None => Err(SnapshotError("snapshot truncated after its tag".into())),
    }
}

/// Snapshots from before the tag: the current layout, or the one before sessions.
fn decode_untagged(snapshot: &[u8]) -> Result<State, SnapshotError> {
    match bincode::deserialize::<StateV2>(snapshot) {
        Ok(state) => Ok(state.into()),
        Err(e) => match bincode::deserialize::<StateV1>(snapshot) {
            Ok(v1) => Ok(State {
                kv: v1.kv,
                catalog: v1.catalog,
                sessions: Sessions::default(),
                acl: AclTables::default(),
            }),
            Err(_) => Err(SnapshotError(e.to_string())),
        },
    }
}

/// The replicated state machine's data, shared between the raft apply task (writer)
/// and the API tasks (readers).
#[derive(Debug, Default)]
pub struct StateStore {
    state: RwLock<State>,
    /// The highest raft index applied so far (see [`StateStore::applied_index`]).
    applied: AtomicU64,
    watches: TableWatches,
    /// Session TTL renew times (leader-local, not replicated).
    session_timers: SessionTimers,
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

    /// The leader's session TTL bookkeeping (in memory only, never replicated).
    pub fn session_timers(&self) -> &SessionTimers {
        &self.session_timers
    }

    /// The highest raft index whose commands [`StateStore::apply`] has applied: every
    /// write at or below it is visible to readers. Raft reports an applied index only
    /// after it has answered the writer, so a leader's read index is taken from here.
    pub fn applied_index(&self) -> u64 {
        self.applied.load(Ordering::Acquire)
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
        let mut touched_sessions = false;
        let mut touched_acl = false;
        let (results, kv_index, catalog_index, sessions_index, acl_index) = {
            let mut state = self.state.write();
            let results = commands
                .iter()
                .map(|cmd| {
                    let (result, table, changed) = apply_one(&mut state, index, cmd);
                    touched_kv |= table == Some(Table::Kvs) || changed.kv;
                    touched_catalog |= table == Some(Table::Catalog);
                    touched_sessions |= table == Some(Table::Sessions) || changed.sessions;
                    touched_acl |= table == Some(Table::Acls);
                    self.track_session_timers(cmd, &result);
                    result
                })
                .collect();
            (
                results,
                state.kv.table_index(),
                state.catalog.max_index(),
                state.sessions.index(),
                state.acl.index(),
            )
        };
        self.applied.fetch_max(index, Ordering::Release);
        if touched_kv {
            self.watches.publish(Table::Kvs, kv_index);
        }
        if touched_catalog {
            self.watches.publish(Table::Catalog, catalog_index);
        }
        if touched_sessions {
            self.watches.publish(Table::Sessions, sessions_index);
        }
        if touched_acl {
            self.watches.publish(Table::Acls, acl_index);
        }
        results
    }

    /// Keeps the in-memory TTL clocks in step with applied session commands (on every
    /// server, so a renew forwarded from anywhere reaches the leader's clocks).
    fn track_session_timers(&self, cmd: &Command, result: &CommandResult) {
        match cmd {
            Command::SessionCreate(s) if s.ttl_ns > 0 && *result == CommandResult::Applied => {
                self.session_timers.renew(&s.id)
            }
            Command::SessionRenew { id } if *result == CommandResult::Applied => {
                self.session_timers.renew(id)
            }
            Command::SessionDestroy { id, .. } => self.session_timers.remove(id),
            _ => {}
        }
    }

    /// Serialises the whole state.
    pub fn snapshot(&self) -> Snapshot {
        encode(&self.state.read())
    }

    /// A point-in-time copy of the whole state, to serialise later ([`encode`]) without
    /// holding the lock. The catalog's and the KV's tables are persistent maps, so
    /// their copy is O(1) whatever their size (a deep copy of 50,000 instances held the
    /// lock, and with it raft's apply, for tens of milliseconds); the raft thread takes
    /// it and hands the encoding to another thread.
    pub fn copy(&self) -> State {
        self.state.read().clone()
    }

    /// Replaces the whole state with a decoded snapshot and wakes every watcher.
    pub fn restore(&self, snapshot: &[u8]) -> Result<(), SnapshotError> {
        let restored = decode(snapshot)?;
        let kv_index = restored.kv.table_index();
        let catalog_index = restored.catalog.max_index();
        let sessions_index = restored.sessions.index();
        let acl_index = restored.acl.index();
        *self.state.write() = restored;
        self.watches.publish(Table::Acls, acl_index);
        self.watches.publish(Table::Kvs, kv_index);
        self.watches.publish(Table::Catalog, catalog_index);
        self.watches.publish(Table::Sessions, sessions_index);
        Ok(())
    }
}

/// Applies one command: its result, its own table, and other tables it changed
/// (catalog writes invalidate sessions, which releases KV locks).
fn apply_one(state: &mut State, index: u64, cmd: &Command) -> (CommandResult, Option<Table>, Changed) {
    let none = Changed::default();
    match cmd {
        Command::CatalogRegister(req) => {
            let result = match state.catalog.register(index, req) {
                Ok(()) => CommandResult::Applied,
                Err(CatalogError::UnknownService(id)) => {
                    CommandResult::Failed(format!("Failed to register check: unknown service ID \"{id}\""))
                }
            };
            let changed = state.invalidate_node_sessions(index, &req.node.node);
            return (result, Some(Table::Catalog), changed);
        }
        Command::CatalogDeregister(req) => {
            state.catalog.deregister(index, req);
            let changed = state.invalidate_node_sessions(index, &req.node);
            return (CommandResult::Applied, Some(Table::Catalog), changed);
        }
        Command::SessionCreate(session) => {
            return (state.session_create(index, session), Some(Table::Sessions), none);
        }
        Command::SessionDestroy { id, now_ms } => {
            let changed = state.session_destroy(index, id, Some(*now_ms));
            return (CommandResult::Applied, None, changed);
        }
        Command::SessionRenew { id } => {
            // Only the TTL clock moves (see `track_session_timers`); nothing replicated.
            let exists = state.sessions.get(id).is_some();
            return (CommandResult::from_bool(exists), None, none);
        }
        Command::KvLock {
            key,
            value,
            flags,
            session,
            now_ms,
        }
        | Command::KvUnlock {
            key,
            value,
            flags,
            session,
            now_ms,
        } => {
            let args = KvLockArgs {
                key,
                value,
                flags: *flags,
                session,
                now_ms: *now_ms,
            };
            let result = if matches!(cmd, Command::KvLock { .. }) {
                state.kv_lock(index, &args)
            } else {
                state.kv_unlock(index, &args)
            };
            return (result, Some(Table::Kvs), none);
        }
        Command::KvReapTombstones { up_to } => {
            // No table moves: an answer's index never goes up for a reap (as in Consul).
            state.kv.reap_tombstones(*up_to);
            return (CommandResult::Applied, None, none);
        }
        Command::Acl(acl) => {
            let result = match state.acl.apply(index, acl) {
                AclOutcome::Applied => CommandResult::Applied,
                AclOutcome::Unchanged => CommandResult::Rejected,
                AclOutcome::Refused(why) => CommandResult::Failed(why),
            };
            return (result, Some(Table::Acls), none);
        }
        Command::Txn(req) => {
            let (outcome, changed) = state.apply_txn(index, req);
            // The catalog as the command's own table; KV and sessions as side effects.
            let table = changed.catalog.then_some(Table::Catalog);
            let side = Changed {
                kv: changed.kv,
                sessions: changed.sessions,
            };
            return (CommandResult::Txn(Box::new(outcome)), table, side);
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
        _ => true,
    };
    (CommandResult::from_bool(ok), Some(Table::Kvs), none)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_copy_is_the_state_when_taken_and_encodes_like_a_snapshot() {
        let set = |key: &str, value: &[u8]| Command::KvSet {
            key: key.into(),
            value: value.to_vec(),
            flags: 0,
        };
        let store = StateStore::new();
        store.apply(3, &[set("a", b"1")]);
        let copy = store.copy();
        let snapshot = store.snapshot();
        store.apply(4, &[set("a", b"2"), set("b", b"3")]);
        assert_eq!(encode(&copy), snapshot);
        let restored = StateStore::new();
        restored.restore(&encode(&copy)).unwrap();
        let state = restored.read();
        assert_eq!(&*state.kv.get("a").1.unwrap().value, b"1");
        assert!(state.kv.get("b").1.is_none());
    }

    #[test]
    fn applied_index_follows_every_apply_and_never_goes_back() {
        let store = StateStore::new();
        assert_eq!(store.applied_index(), 0);
        let set = |key: &str| Command::KvSet {
            key: key.into(),
            value: vec![],
            flags: 0,
        };
        store.apply(7, &[set("a")]);
        assert_eq!(store.applied_index(), 7);
        // A batch whose command is rejected was still applied at its index.
        store.apply(
            9,
            &[Command::KvCas {
                key: "a".into(),
                value: vec![],
                flags: 0,
                index: 1,
            }],
        );
        assert_eq!(store.applied_index(), 9);
        store.apply(8, &[set("b")]);
        assert_eq!(store.applied_index(), 9);
    }

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

    #[test]
    fn snapshots_are_tagged_and_untagged_ones_still_restore() {
        let store = StateStore::new();
        store.apply(
            3,
            &[Command::KvSet {
                key: "k".into(),
                value: b"v".to_vec(),
                flags: 0,
            }],
        );
        let snap = store.snapshot();
        assert_eq!(&snap[..7], b"rcsnap\x02");
        // Written by a build before the tag: plain bincode of the same state.
        let untagged = {
            let state = store.read();
            bincode::serialize(&(&state.kv, &state.catalog, &state.sessions)).expect("encode")
        };
        // Format 1 (before the ACL tables): the same fields after the tag.
        let mut format1 = b"rcsnap\x01".to_vec();
        format1.extend_from_slice(&untagged);
        let v1 = StateStore::new();
        v1.restore(&format1).expect("format 1 snapshot");
        assert_eq!(
            v1.read().kv.get("k").1.map(|e| e.value.to_vec()),
            Some(b"v".to_vec())
        );
        assert_eq!(v1.read().acl.index(), 0);
        let old = StateStore::new();
        old.restore(&untagged).expect("untagged snapshot");
        assert_eq!(
            old.read().kv.get("k").1.map(|e| e.value.to_vec()),
            Some(b"v".to_vec())
        );
        // A format from a newer build is refused with a message, not misread.
        let mut newer = snap.clone();
        newer[6] = SNAPSHOT_FORMAT + 1;
        let e = StateStore::new().restore(&newer).expect_err("newer format");
        assert!(e.to_string().contains("snapshot format 3 is newer"), "{e}");
        assert!(StateStore::new().restore(b"rcsnap").is_err());
    }
}
