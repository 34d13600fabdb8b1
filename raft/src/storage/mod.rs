//! Durable raft storage on sled: the log, the vote, the committed index and snapshots.
//!
//! This is the only module that knows about sled, so the engine can be swapped.
//! Durability rules (sled 0.34 traps, see the crate guide):
//! - every appended batch is flushed (fsync) with `spawn_blocking(db.flush)` before
//!   openraft is told it is on disk: one flush per batch, not per request (group commit);
//! - the vote is flushed before `save_vote` returns;
//! - the state machine itself lives in memory and is rebuilt on start from the last
//!   persisted snapshot plus the log after it.

mod log_store;
mod state_machine;

use std::sync::Arc;

pub use log_store::LogStore;
pub use state_machine::StateMachineStore;

use rconsul_state::StateStore;

/// Errors opening the storage.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// sled refused to open the directory.
    #[error("cannot open raft storage at {path}: {source}")]
    Sled {
        /// The data directory.
        path: String,
        /// sled's error.
        source: sled::Error,
    },
    /// The persisted snapshot could not be decoded.
    #[error("cannot restore the persisted snapshot: {0}")]
    Snapshot(String),
}

/// Where and how durably to store raft data.
#[derive(Debug, Clone)]
pub enum StorageMode {
    /// A directory on disk; every append and vote is fsynced.
    Durable(std::path::PathBuf),
    /// Nothing on disk that outlives the process, never fsynced (`-dev`, client agents'
    /// learners): the log in memory, snapshots in a temporary sled database.
    InMemory,
}

/// Flushes `db` (one fsync) on the blocking pool: sled 0.34's `flush_async` can fail
/// to wake, a blocking flush cannot.
pub(crate) async fn flush_blocking(db: sled::Db) -> std::io::Result<()> {
    match tokio::task::spawn_blocking(move || db.flush()).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(std::io::Error::other(e)),
        Err(e) => Err(std::io::Error::other(e)),
    }
}

/// Opens (or creates) raft storage and rebuilds the state machine from its snapshot.
pub fn open(mode: &StorageMode, state: Arc<StateStore>) -> Result<(LogStore, StateMachineStore), OpenError> {
    let (config, durable, shown) = match mode {
        StorageMode::Durable(dir) => (
            sled::Config::new()
                .path(dir.join("raft"))
                // Replication reads recent entries from memory (`RecentEntries`) and the
                // log is snapshotted every MiB or so: a small page cache is enough.
                .cache_capacity(2 << 20)
                .mode(sled::Mode::LowSpace)
                // We flush explicitly; the background flusher only adds idle disk work.
                .flush_every_ms(None),
            true,
            dir.display().to_string(),
        ),
        StorageMode::InMemory => (
            sled::Config::new()
                .temporary(true)
                .cache_capacity(8 << 20)
                .flush_every_ms(None),
            false,
            "<in-memory>".to_string(),
        ),
    };
    let db = config.open().map_err(|source| OpenError::Sled {
        path: shown.clone(),
        source,
    })?;
    let sled_err = |source| OpenError::Sled {
        path: shown.clone(),
        source,
    };
    // A temporary log gains nothing from sled: keep it in plain memory (snapshots, rare,
    // still go through the temporary sled tree below).
    let log = if durable {
        LogStore::sled(db.clone()).map_err(sled_err)?
    } else {
        LogStore::memory()
    };
    let sm = StateMachineStore::open(db, durable, state)?;
    Ok((log, sm))
}

#[cfg(test)]
mod tests;
