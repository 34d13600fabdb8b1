//! Storage tests: durability across reopen, snapshot restore, and openraft's conformance suite.

use std::sync::Arc;

use openraft::testing::{StoreBuilder, Suite};
use openraft::StorageError;
use rconsul_state::StateStore;

use super::{open, LogStore, StateMachineStore, StorageMode};
use crate::types::TypeConfig;

struct Builder;

impl StoreBuilder<TypeConfig, LogStore, StateMachineStore, tempfile::TempDir> for Builder {
    async fn build(&self) -> Result<(tempfile::TempDir, LogStore, StateMachineStore), StorageError<u64>> {
        let dir = tempfile::tempdir().map_err(|e| openraft::StorageIOError::write(&e))?;
        let (log, sm) = open(
            &StorageMode::Durable(dir.path().to_path_buf()),
            Arc::new(StateStore::new()),
        )
        .map_err(|e| openraft::StorageIOError::write(&e))?;
        Ok((dir, log, sm))
    }
}

#[test]
fn openraft_storage_conformance() -> Result<(), StorageError<u64>> {
    Suite::test_all(Builder)
}

struct MemoryBuilder;

impl StoreBuilder<TypeConfig, LogStore, StateMachineStore, ()> for MemoryBuilder {
    async fn build(&self) -> Result<((), LogStore, StateMachineStore), StorageError<u64>> {
        let (log, sm) = open(&StorageMode::InMemory, Arc::new(StateStore::new()))
            .map_err(|e| openraft::StorageIOError::write(&e))?;
        Ok(((), log, sm))
    }
}

#[test]
fn openraft_storage_conformance_in_memory() -> Result<(), StorageError<u64>> {
    Suite::test_all(MemoryBuilder)
}

/// A committed entry at `index` that sets `key` to `value`.
fn set_entry(index: u64, key: &str, value: Vec<u8>) -> openraft::Entry<TypeConfig> {
    openraft::Entry {
        log_id: openraft::LogId::new(openraft::CommittedLeaderId::new(1, 1), index),
        payload: openraft::EntryPayload::Normal(crate::types::RaftRequest {
            commands: Arc::new(vec![rconsul_state::Command::KvSet {
                key: key.into(),
                value,
                flags: 0,
            }]),
        }),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn a_large_state_is_snapshotted_as_captured_and_restored_on_reopen() {
    use openraft::storage::RaftStateMachine;
    use openraft::RaftSnapshotBuilder;

    let dir = tempfile::tempdir().unwrap();
    let mode = StorageMode::Durable(dir.path().to_path_buf());
    let state = Arc::new(StateStore::new());
    let (log, mut sm) = open(&mode, state.clone()).unwrap();
    // 5 MiB of values: the first snapshot (encoded at once) records a size above the
    // threshold, so the second goes through the copy encoded on a blocking thread.
    let big: Vec<_> = (1..=5)
        .map(|i| set_entry(i, &format!("k{i}"), vec![i as u8; 1 << 20]))
        .collect();
    sm.apply(big).await.unwrap();
    sm.get_snapshot_builder().await.build_snapshot().await.unwrap();
    assert!(sm.snapshot_bytes().load(std::sync::atomic::Ordering::Relaxed) >= 5 << 20);
    sm.apply([set_entry(6, "k6", b"six".to_vec())]).await.unwrap();
    let mut builder = sm.get_snapshot_builder().await;
    // Applied after the capture: not in this snapshot.
    sm.apply([set_entry(7, "late", b"x".to_vec())]).await.unwrap();
    let snapshot = builder.build_snapshot().await.unwrap();
    assert_eq!(snapshot.meta.last_log_id.map(|l| l.index), Some(6));
    drop((log, sm, builder));

    let restored = Arc::new(StateStore::new());
    let _reopened = open(&mode, restored.clone()).unwrap();
    let st = restored.read();
    assert_eq!(st.kv.get("k3").1.map(|e| e.value.len()), Some(1 << 20));
    assert_eq!(st.kv.get("k6").1.map(|e| e.value.to_vec()), Some(b"six".to_vec()));
    assert!(st.kv.get("late").1.is_none());
}
