//! The shared data model and replicated state store of rconsul.
//!
//! Everything that raft replicates lives here: the [`Command`]s a write is made of,
//! the [`StateStore`] that applies them deterministically at a raft index, and the
//! per-table watch channels that wake blocking queries. Nothing in this crate does
//! I/O: the `raft` crate persists commands and snapshots, the `http-api` and `dns`
//! crates read from the store.

pub mod acl;
pub mod agent;
pub mod catalog;
pub mod clock;
pub mod command;
pub mod consensus;
pub mod event;
pub mod kv;
pub mod operator;
mod persistent;
pub mod session;
pub mod store;
pub mod tables;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod txn;

pub use command::{Command, CommandResult};
pub use consensus::{BoxFuture, Consensus, ConsensusError, Consistency, ReadMeta};
pub use kv::{KvEntry, KvStore};
pub use store::{Snapshot, SnapshotError, StateStore};
pub use tables::Table;
