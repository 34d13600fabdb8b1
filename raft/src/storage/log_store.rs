//! The raft log and vote: in sled trees for servers, in plain memory for client
//! agents' learners and `-dev`.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt::Debug;
use std::ops::{Bound, RangeBounds};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use tokio::sync::watch;

use openraft::storage::{LogFlushed, RaftLogStorage};
use openraft::{Entry, LogId, LogState, OptionalSend, RaftLogReader, StorageError, StorageIOError, Vote};

use crate::types::TypeConfig;

type NodeId = u64;

const VOTE_KEY: &[u8] = b"vote";
const COMMITTED_KEY: &[u8] = b"committed";
const PURGED_KEY: &[u8] = b"last_purged";

/// The committed index is persisted when it has moved this many entries.
const COMMITTED_EVERY: u64 = 64;

/// Most entries kept in [`RecentEntries`].
const RECENT_MAX_ENTRIES: usize = 256;
/// Most encoded bytes kept in [`RecentEntries`].
const RECENT_MAX_BYTES: u64 = 1 << 20;

/// The latest appended entries, contiguous by index, kept in memory so that replication
/// streams (one per follower and learner) need not read and decode them back from sled.
#[derive(Debug, Default)]
struct RecentEntries {
    /// (entry, its encoded size), oldest first.
    entries: VecDeque<(Entry<TypeConfig>, u64)>,
    bytes: u64,
}

impl RecentEntries {
    fn push(&mut self, entry: Entry<TypeConfig>, size: u64) {
        if let Some((last, _)) = self.entries.back() {
            if last.log_id.index + 1 != entry.log_id.index {
                self.entries.clear();
                self.bytes = 0;
            }
        }
        self.entries.push_back((entry, size));
        self.bytes += size;
        while self.entries.len() > RECENT_MAX_ENTRIES
            || (self.bytes > RECENT_MAX_BYTES && self.entries.len() > 1)
        {
            self.pop_front();
        }
    }

    fn pop_front(&mut self) {
        if let Some((_, size)) = self.entries.pop_front() {
            self.bytes -= size;
        }
    }

    /// Drops entries at `index` and after (a truncated log suffix).
    fn truncate_from(&mut self, index: u64) {
        while self.entries.back().is_some_and(|(e, _)| e.log_id.index >= index) {
            if let Some((_, size)) = self.entries.pop_back() {
                self.bytes -= size;
            }
        }
    }

    /// Drops entries up to and including `index` (a purged log prefix).
    fn purge_upto(&mut self, index: u64) {
        while self.entries.front().is_some_and(|(e, _)| e.log_id.index <= index) {
            self.pop_front();
        }
    }

    /// The entries `start..end` if all of them are here.
    fn range(&self, start: u64, end: u64) -> Option<Vec<Entry<TypeConfig>>> {
        let first = self.entries.front()?.0.log_id.index;
        let last = self.entries.back()?.0.log_id.index;
        if start < first || end > last + 1 || start > end {
            return None;
        }
        let from = (start - first) as usize;
        let to = (end - first) as usize;
        Some(self.entries.range(from..to).map(|(e, _)| e.clone()).collect())
    }
}

/// The raft log and its metadata (vote, committed, last purged). Cheap to clone.
#[derive(Debug, Clone)]
pub struct LogStore {
    backend: Backend,
    /// Counts completed appends, so the write batcher can send the next batch as soon
    /// as the previous one is on disk (while it is still being applied).
    appended: Arc<watch::Sender<u64>>,
    /// Encoded bytes appended since the store was opened (drives size-based snapshots).
    appended_bytes: Arc<AtomicU64>,
    /// The latest entries, for replication reads (sled backend only; empty otherwise).
    recent: Arc<Mutex<RecentEntries>>,
    /// The committed index last written to the metadata.
    committed_saved: Arc<AtomicU64>,
}

/// Where the entries and metadata live.
#[derive(Debug, Clone)]
enum Backend {
    /// sled trees on disk, fsynced on every append and vote: `raft_log` keyed by
    /// big-endian index, and `raft_meta`.
    Sled {
        db: sled::Db,
        log: sled::Tree,
        meta: sled::Tree,
    },
    /// Plain memory: a client agent's learner keeps nothing on disk.
    Memory(Arc<Mutex<MemoryLog>>),
}

/// The in-memory log.
#[derive(Debug, Default)]
struct MemoryLog {
    entries: BTreeMap<u64, Entry<TypeConfig>>,
    meta: HashMap<Vec<u8>, Vec<u8>>,
}

fn io_read<E: std::error::Error + 'static>(e: E) -> StorageError<NodeId> {
    StorageIOError::read_logs(&e).into()
}

fn io_write<E: std::error::Error + 'static>(e: E) -> StorageError<NodeId> {
    StorageIOError::write_logs(&e).into()
}

impl LogStore {
    /// The log in `db`'s trees, fsynced.
    pub(crate) fn sled(db: sled::Db) -> Result<Self, sled::Error> {
        Ok(Self::with_backend(Backend::Sled {
            log: db.open_tree("raft_log")?,
            meta: db.open_tree("raft_meta")?,
            db,
        }))
    }

    /// A log kept in memory only.
    pub(crate) fn memory() -> Self {
        Self::with_backend(Backend::Memory(Arc::default()))
    }

    fn with_backend(backend: Backend) -> Self {
        LogStore {
            backend,
            appended: Arc::new(watch::channel(0).0),
            appended_bytes: Arc::default(),
            recent: Arc::default(),
            committed_saved: Arc::default(),
        }
    }

    /// Subscribes to the count of appended (durable) batches.
    pub fn appended(&self) -> watch::Receiver<u64> {
        self.appended.subscribe()
    }

    /// Encoded bytes appended since the store was opened.
    pub fn appended_bytes(&self) -> Arc<AtomicU64> {
        self.appended_bytes.clone()
    }

    /// Flushes everything written so far to disk (no-op for in-memory storage).
    async fn flush(&self) -> Result<(), std::io::Error> {
        let db = match &self.backend {
            Backend::Sled { db, .. } => db.clone(),
            Backend::Memory(_) => return Ok(()),
        };
        super::flush_blocking(db).await
    }

    fn read_meta<T: serde::de::DeserializeOwned>(
        &self,
        key: &[u8],
    ) -> Result<Option<T>, StorageError<NodeId>> {
        let bytes = match &self.backend {
            Backend::Sled { meta, .. } => meta.get(key).map_err(io_read)?.map(|b| b.to_vec()),
            Backend::Memory(mem) => mem.lock().meta.get(key).cloned(),
        };
        match bytes {
            None => Ok(None),
            Some(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(io_read),
        }
    }

    fn write_meta<T: serde::Serialize>(&self, key: &[u8], value: &T) -> Result<(), StorageError<NodeId>> {
        let bytes = serde_json::to_vec(value).map_err(io_write)?;
        match &self.backend {
            Backend::Sled { meta, .. } => {
                meta.insert(key, bytes).map_err(io_write)?;
            }
            Backend::Memory(mem) => {
                mem.lock().meta.insert(key.to_vec(), bytes);
            }
        }
        Ok(())
    }

    fn decode(bytes: &[u8]) -> Result<Entry<TypeConfig>, StorageError<NodeId>> {
        bincode::deserialize(bytes).map_err(io_read)
    }
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry<TypeConfig>>, StorageError<NodeId>> {
        let first = match range.start_bound() {
            Bound::Included(i) => Some(*i),
            Bound::Excluded(i) => i.checked_add(1),
            Bound::Unbounded => None,
        };
        let end = match range.end_bound() {
            Bound::Included(i) => i.checked_add(1),
            Bound::Excluded(i) => Some(*i),
            Bound::Unbounded => None,
        };
        if let (Some(first), Some(end)) = (first, end) {
            if let Some(entries) = self.recent.lock().range(first, end) {
                return Ok(entries);
            }
        }
        let log = match &self.backend {
            Backend::Sled { log, .. } => log,
            Backend::Memory(mem) => {
                return Ok(mem.lock().entries.range(range).map(|(_, e)| e.clone()).collect())
            }
        };
        let start = range.start_bound().map(|i| i.to_be_bytes());
        let end = range.end_bound().map(|i| i.to_be_bytes());
        let mut entries = Vec::new();
        for item in log.range::<[u8; 8], _>((start, end)) {
            let (_, bytes) = item.map_err(io_read)?;
            entries.push(Self::decode(&bytes)?);
        }
        Ok(entries)
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = Self;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError<NodeId>> {
        let last_purged_log_id: Option<LogId<NodeId>> = self.read_meta(PURGED_KEY)?;
        let last_entry = match &self.backend {
            Backend::Sled { log, .. } => match log.last().map_err(io_read)? {
                Some((_, bytes)) => Some(Self::decode(&bytes)?.log_id),
                None => None,
            },
            Backend::Memory(mem) => mem.lock().entries.last_key_value().map(|(_, e)| e.log_id),
        };
        let last = last_entry.or(last_purged_log_id);
        Ok(LogState {
            last_purged_log_id,
            last_log_id: last,
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<NodeId>) -> Result<(), StorageError<NodeId>> {
        self.write_meta(VOTE_KEY, vote)
            .map_err(|e| StorageError::from(StorageIOError::write_vote(&e)))?;
        self.flush()
            .await
            .map_err(|e| StorageError::from(StorageIOError::write_vote(&e)))
    }

    async fn read_vote(&mut self) -> Result<Option<Vote<NodeId>>, StorageError<NodeId>> {
        self.read_meta(VOTE_KEY)
    }

    async fn save_committed(&mut self, committed: Option<LogId<NodeId>>) -> Result<(), StorageError<NodeId>> {
        // Not flushed on its own: it becomes durable with the next appended batch, and a
        // stale committed index only means a little more replay after a crash. So it is
        // written only every COMMITTED_EVERY entries: each sled insert that lands while a
        // flush is sealing sled's buffer costs another write job on sled's thread pool.
        let index = committed.map_or(0, |c| c.index);
        let saved = self.committed_saved.load(Ordering::Relaxed);
        if index < saved || index - saved >= COMMITTED_EVERY {
            self.write_meta(COMMITTED_KEY, &committed)?;
            self.committed_saved.store(index, Ordering::Relaxed);
        }
        Ok(())
    }

    async fn read_committed(&mut self) -> Result<Option<LogId<NodeId>>, StorageError<NodeId>> {
        Ok(self.read_meta::<Option<LogId<NodeId>>>(COMMITTED_KEY)?.flatten())
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<TypeConfig>,
    ) -> Result<(), StorageError<NodeId>>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut size = 0;
        match &self.backend {
            Backend::Sled { log, .. } => {
                // Plain inserts, not a `sled::Batch`: sled wraps a batch in a manifest
                // record written in an I/O buffer of its own, which costs a second write
                // job (and a wake-up of every sled I/O thread) per append. Atomicity is
                // not needed: sled recovers a prefix of its log, the entries go in index
                // order, and an append is acknowledged only after the flush below, so a
                // crash leaves the log a gap-free prefix of what was appended.
                let mut recent = Vec::new();
                for entry in entries {
                    let bytes = bincode::serialize(&entry).map_err(io_write)?;
                    size += bytes.len() as u64;
                    log.insert(entry.log_id.index.to_be_bytes(), bytes.as_slice())
                        .map_err(io_write)?;
                    recent.push((entry, bytes.len() as u64));
                }
                let mut cache = self.recent.lock();
                for (entry, size) in recent {
                    cache.push(entry, size);
                }
            }
            // The in-memory map is its own cache: nothing goes into `recent`.
            Backend::Memory(mem) => {
                let mut mem = mem.lock();
                for entry in entries {
                    size += bincode::serialized_size(&entry).map_err(io_write)?;
                    mem.entries.insert(entry.log_id.index, entry);
                }
            }
        }
        self.appended_bytes.fetch_add(size, Ordering::Relaxed);
        let flushed = self.flush().await;
        let failed = flushed.as_ref().err().map(|e| e.to_string());
        callback.log_io_completed(flushed);
        self.appended.send_modify(|n| *n += 1);
        match failed {
            None => Ok(()),
            Some(e) => Err(io_write(std::io::Error::other(e))),
        }
    }

    async fn truncate(&mut self, log_id: LogId<NodeId>) -> Result<(), StorageError<NodeId>> {
        self.recent.lock().truncate_from(log_id.index);
        let log = match &self.backend {
            Backend::Sled { log, .. } => log,
            Backend::Memory(mem) => {
                mem.lock().entries.split_off(&log_id.index);
                return Ok(());
            }
        };
        let mut batch = sled::Batch::default();
        for item in log.range(log_id.index.to_be_bytes()..) {
            let (key, _) = item.map_err(io_write)?;
            batch.remove(key);
        }
        log.apply_batch(batch).map_err(io_write)?;
        self.flush().await.map_err(io_write)
    }

    async fn purge(&mut self, log_id: LogId<NodeId>) -> Result<(), StorageError<NodeId>> {
        // Record the purge point first so a crash in between never leaves a hole.
        self.write_meta(PURGED_KEY, &log_id)?;
        self.flush().await.map_err(io_write)?;
        self.recent.lock().purge_upto(log_id.index);
        let log = match &self.backend {
            Backend::Sled { log, .. } => log,
            Backend::Memory(mem) => {
                let mut mem = mem.lock();
                let kept = mem.entries.split_off(&(log_id.index + 1));
                mem.entries = kept;
                return Ok(());
            }
        };
        let mut batch = sled::Batch::default();
        for item in log.range(..=log_id.index.to_be_bytes()) {
            let (key, _) = item.map_err(io_write)?;
            batch.remove(key);
        }
        log.apply_batch(batch).map_err(io_write)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openraft::{CommittedLeaderId, EntryPayload};

    fn entry(index: u64) -> Entry<TypeConfig> {
        Entry {
            log_id: LogId::new(CommittedLeaderId::new(1, 1), index),
            payload: EntryPayload::Blank,
        }
    }

    fn indexes(entries: Option<Vec<Entry<TypeConfig>>>) -> Option<Vec<u64>> {
        entries.map(|v| v.iter().map(|e| e.log_id.index).collect())
    }

    #[test]
    fn recent_entries_answer_only_ranges_they_hold_whole() {
        let mut recent = RecentEntries::default();
        for i in 5..=9 {
            recent.push(entry(i), 10);
        }
        assert_eq!(indexes(recent.range(6, 9)), Some(vec![6, 7, 8]));
        assert_eq!(indexes(recent.range(5, 10)), Some(vec![5, 6, 7, 8, 9]));
        assert_eq!(indexes(recent.range(7, 7)), Some(vec![]));
        assert_eq!(indexes(recent.range(4, 8)), None, "4 is not cached");
        assert_eq!(indexes(recent.range(8, 11)), None, "10 is not cached");

        recent.truncate_from(8);
        assert_eq!(indexes(recent.range(5, 8)), Some(vec![5, 6, 7]));
        assert_eq!(indexes(recent.range(5, 9)), None);
        recent.purge_upto(6);
        assert_eq!(indexes(recent.range(7, 8)), Some(vec![7]));
        assert_eq!(indexes(recent.range(6, 8)), None);
        assert_eq!(recent.bytes, 10);

        // A gap (appending after a purge past the end) starts the cache afresh.
        recent.push(entry(20), 10);
        assert_eq!(indexes(recent.range(7, 8)), None);
        assert_eq!(indexes(recent.range(20, 21)), Some(vec![20]));
        assert_eq!(recent.bytes, 10);
    }

    #[test]
    fn recent_entries_stay_within_their_bounds() {
        let mut recent = RecentEntries::default();
        for i in 1..=(RECENT_MAX_ENTRIES as u64 + 10) {
            recent.push(entry(i), 1);
        }
        assert_eq!(recent.entries.len(), RECENT_MAX_ENTRIES);
        let mut big = RecentEntries::default();
        for i in 1..=10 {
            big.push(entry(i), RECENT_MAX_BYTES / 4);
        }
        assert!(big.bytes <= RECENT_MAX_BYTES, "{} bytes kept", big.bytes);
    }
}
