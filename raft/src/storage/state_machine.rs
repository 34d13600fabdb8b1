//! The raft state machine: an in-memory [`StateStore`] plus persisted snapshots.

use std::io::Cursor;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use openraft::storage::RaftStateMachine;
use openraft::{
    Entry, EntryPayload, LogId, OptionalSend, RaftSnapshotBuilder, Snapshot, SnapshotMeta, StorageError,
    StorageIOError, StoredMembership,
};
use rconsul_state::store::State;
use rconsul_state::StateStore;
use serde::{Deserialize, Serialize};

use super::OpenError;
use crate::types::{RaftResponse, ServerNode, TypeConfig};

type NodeId = u64;

const SNAPSHOT_KEY: &[u8] = b"current";

/// A snapshot as persisted in the `snapshot` tree: metadata and the state bytes together,
/// written in one insert so a crash leaves either the old or the new snapshot.
#[derive(Serialize, Deserialize)]
struct StoredSnapshot {
    meta: SnapshotMeta<NodeId, ServerNode>,
    data: Vec<u8>,
}

/// The state machine openraft drives. Cheap to clone (snapshot builders are clones).
#[derive(Debug, Clone)]
pub struct StateMachineStore {
    state: Arc<StateStore>,
    last_applied: Option<LogId<NodeId>>,
    membership: StoredMembership<NodeId, ServerNode>,
    db: sled::Db,
    snapshots: sled::Tree,
    durable: bool,
    snapshot_seq: u64,
    /// Size of the latest snapshot's state bytes (built or installed).
    snapshot_bytes: Arc<AtomicU64>,
}

fn read_err<E: std::error::Error + 'static>(e: &E) -> StorageError<NodeId> {
    StorageIOError::read_snapshot(None, e).into()
}

fn write_err<E: std::error::Error + 'static>(
    sig: &openraft::storage::SnapshotSignature<NodeId>,
    e: &E,
) -> StorageError<NodeId> {
    StorageIOError::write_snapshot(Some(sig.clone()), e).into()
}

fn sm_err<E: std::error::Error + 'static>(e: E) -> StorageError<NodeId> {
    StorageIOError::write_state_machine(&e).into()
}

impl StateMachineStore {
    /// Opens the snapshot tree and restores `state` from the last snapshot, if any.
    pub(crate) fn open(db: sled::Db, durable: bool, state: Arc<StateStore>) -> Result<Self, OpenError> {
        let snapshots = db
            .open_tree("snapshot")
            .map_err(|e| OpenError::Snapshot(e.to_string()))?;
        let mut sm = StateMachineStore {
            state,
            last_applied: None,
            membership: StoredMembership::default(),
            db,
            snapshots,
            durable,
            snapshot_seq: 0,
            snapshot_bytes: Arc::default(),
        };
        if let Some(stored) = load(&sm.snapshots).map_err(|e| OpenError::Snapshot(e.to_string()))? {
            sm.state
                .restore(&stored.data)
                .map_err(|e| OpenError::Snapshot(e.to_string()))?;
            sm.last_applied = stored.meta.last_log_id;
            sm.membership = stored.meta.last_membership.clone();
            sm.snapshot_bytes
                .store(stored.data.len() as u64, Ordering::Relaxed);
        }
        Ok(sm)
    }

    /// Size of the latest snapshot's state bytes.
    pub fn snapshot_bytes(&self) -> Arc<AtomicU64> {
        self.snapshot_bytes.clone()
    }

    /// The shared state store this machine applies to.
    pub fn state(&self) -> Arc<StateStore> {
        self.state.clone()
    }

    /// Writes `stored` and, when durable, flushes it (the flush always on a blocking
    /// thread; the write too when `stored` is large, see [`OFFLOAD_SNAPSHOT_BYTES`]).
    async fn persist(&self, stored: StoredSnapshot) -> Result<StoredSnapshot, StorageError<NodeId>> {
        let sig = stored.meta.signature();
        let snapshots = self.snapshots.clone();
        let stored = run_blocking_if(offload(stored.data.len()), move || {
            write_snapshot(&snapshots, stored)
        })
        .await
        .map_err(|e| write_err(&sig, &e))??;
        self.flush(&sig).await?;
        Ok(stored)
    }

    /// Flushes the database on a blocking thread when the store is durable.
    async fn flush(
        &self,
        sig: &openraft::storage::SnapshotSignature<NodeId>,
    ) -> Result<(), StorageError<NodeId>> {
        if !self.durable {
            return Ok(());
        }
        super::flush_blocking(self.db.clone())
            .await
            .map_err(|e| write_err(sig, &e))
    }

    /// Whether the state is large enough (judged by the last snapshot) for snapshot work
    /// to leave the raft thread.
    fn large(&self) -> bool {
        offload(self.snapshot_bytes.load(Ordering::Relaxed) as usize)
    }
}

/// Whether snapshot work on `bytes` of state leaves the raft thread.
fn offload(bytes: usize) -> bool {
    bytes as u64 >= OFFLOAD_SNAPSHOT_BYTES
}

/// Runs `work` on a blocking thread when `offload`, else right here.
async fn run_blocking_if<T: Send + 'static>(
    offload: bool,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, tokio::task::JoinError> {
    if offload {
        tokio::task::spawn_blocking(work).await
    } else {
        Ok(work())
    }
}

/// From this size of state on, snapshots are encoded, written, decoded and read on a
/// blocking thread rather than the raft thread. Encoding an 80 MB state there stalled
/// heartbeats long enough for followers to elect a new leader; below a few MiB it takes
/// a few milliseconds, and moving the buffers between threads cost the servers of a
/// small cluster 1.5–2 MiB of RSS (likely mimalloc keeping pages freed into the blocking
/// threads' heaps; not verified).
const OFFLOAD_SNAPSHOT_BYTES: u64 = 4 << 20;

/// The snapshot stored in `snapshots`, if any.
fn load(snapshots: &sled::Tree) -> Result<Option<StoredSnapshot>, StorageError<NodeId>> {
    match snapshots.get(SNAPSHOT_KEY).map_err(|e| read_err(&e))? {
        None => Ok(None),
        Some(bytes) => bincode::deserialize(&bytes).map(Some).map_err(|e| read_err(&*e)),
    }
}

/// Writes `stored` in one insert into the snapshot tree.
fn write_snapshot(
    snapshots: &sled::Tree,
    stored: StoredSnapshot,
) -> Result<StoredSnapshot, StorageError<NodeId>> {
    let sig = stored.meta.signature();
    let bytes = bincode::serialize(&stored).map_err(|e| write_err(&sig, &*e))?;
    snapshots
        .insert(SNAPSHOT_KEY, bytes)
        .map_err(|e| write_err(&sig, &e))?;
    Ok(stored)
}

/// What a [`SnapshotBuilder`] starts from: the encoded state (small states), or a copy
/// to encode on a blocking thread (large ones).
#[derive(Debug)]
enum Captured {
    Encoded(Vec<u8>),
    Copy(Box<State>),
}

/// Builds one snapshot from the state as it was when openraft asked for the builder,
/// so the data matches `last_applied` exactly even while apply goes on.
#[derive(Debug)]
pub struct SnapshotBuilder {
    store: StateMachineStore,
    captured: Option<Captured>,
}

impl RaftSnapshotBuilder<TypeConfig> for SnapshotBuilder {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError<NodeId>> {
        let sm = &self.store;
        let snapshot_id = match sm.last_applied {
            Some(id) => format!("{}-{}-{}", id.leader_id.term, id.index, sm.snapshot_seq),
            None => format!("0-0-{}", sm.snapshot_seq),
        };
        let meta = SnapshotMeta {
            last_log_id: sm.last_applied,
            last_membership: sm.membership.clone(),
            snapshot_id,
        };
        let sig = meta.signature();
        let data = match self.captured.take() {
            Some(Captured::Encoded(data)) => data,
            Some(Captured::Copy(state)) => {
                tokio::task::spawn_blocking(move || rconsul_state::store::encode(&state))
                    .await
                    .map_err(|e| write_err(&sig, &e))?
            }
            // openraft builds once per builder; never write an empty state as a snapshot.
            None => {
                let e = std::io::Error::other("snapshot builder used twice");
                return Err(write_err(&sig, &e));
            }
        };
        sm.snapshot_bytes.store(data.len() as u64, Ordering::Relaxed);
        let stored = sm.persist(StoredSnapshot { meta, data }).await?;
        let index = stored.meta.last_log_id.map(|l| l.index).unwrap_or(0);
        if sm.durable {
            tracing::info!(target: "agent.server.raft", "snapshot complete up to: index={index}");
        } else {
            // In memory (client agents, -dev) a snapshot only trims the log; under load
            // that is about once a second, which is noise in an operator's log.
            tracing::debug!(target: "agent.server.raft", "snapshot complete up to: index={index}");
        }
        Ok(Snapshot {
            meta: stored.meta,
            snapshot: Box::new(Cursor::new(stored.data)),
        })
    }
}

impl RaftStateMachine<TypeConfig> for StateMachineStore {
    type SnapshotBuilder = SnapshotBuilder;

    async fn applied_state(
        &mut self,
    ) -> Result<(Option<LogId<NodeId>>, StoredMembership<NodeId, ServerNode>), StorageError<NodeId>> {
        Ok((self.last_applied, self.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<RaftResponse>, StorageError<NodeId>>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut responses = Vec::new();
        for entry in entries {
            self.last_applied = Some(entry.log_id);
            let response = match entry.payload {
                EntryPayload::Blank => RaftResponse::default(),
                EntryPayload::Normal(req) => RaftResponse {
                    results: self.state.apply(entry.log_id.index, &req.commands),
                },
                EntryPayload::Membership(m) => {
                    self.membership = StoredMembership::new(Some(entry.log_id), m);
                    RaftResponse::default()
                }
            };
            responses.push(response);
        }
        Ok(responses)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.snapshot_seq += 1;
        let captured = if self.large() {
            Captured::Copy(Box::new(self.state.copy()))
        } else {
            Captured::Encoded(self.state.snapshot())
        };
        SnapshotBuilder {
            captured: Some(captured),
            store: self.clone(),
        }
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<Cursor<Vec<u8>>>, StorageError<NodeId>> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta<NodeId, ServerNode>,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError<NodeId>> {
        let data = snapshot.into_inner();
        self.snapshot_bytes.store(data.len() as u64, Ordering::Relaxed);
        let state = self.state.clone();
        let data = run_blocking_if(offload(data.len()), move || state.restore(&data).map(|()| data))
            .await
            .map_err(sm_err)?
            .map_err(sm_err)?;
        self.last_applied = meta.last_log_id;
        self.membership = meta.last_membership.clone();
        let stored = StoredSnapshot {
            meta: meta.clone(),
            data,
        };
        self.persist(stored).await.map(|_| ())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot<TypeConfig>>, StorageError<NodeId>> {
        let snapshots = self.snapshots.clone();
        let loaded = run_blocking_if(self.large(), move || load(&snapshots))
            .await
            .map_err(|e| read_err(&e))??;
        Ok(loaded.map(|stored| Snapshot {
            meta: stored.meta,
            snapshot: Box::new(Cursor::new(stored.data)),
        }))
    }
}
