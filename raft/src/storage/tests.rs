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
