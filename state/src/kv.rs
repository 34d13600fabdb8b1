//! The KV table: entries, tombstones and the index rules of Consul's KV store.

use std::collections::{BTreeSet, HashMap};
use std::ops::Bound;
use std::sync::Arc;

use imbl::OrdMap;
use serde::{Deserialize, Serialize};

/// One KV entry (Consul's `DirEntry`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KvEntry {
    /// Number of times a lock on this key was acquired.
    pub lock_index: u64,
    /// The key.
    pub key: String,
    /// Opaque client flags.
    pub flags: u64,
    /// The value; shared so readers can copy it out of the lock cheaply.
    pub value: Arc<[u8]>,
    /// The session holding the lock, if any.
    pub session: Option<String>,
    /// Raft index that created the key.
    pub create_index: u64,
    /// Raft index of the last change.
    pub modify_index: u64,
}

/// The KV table with tombstones, so prefix watches see deletions.
///
/// Entries and tombstones are persistent maps (`imbl`), as the catalog's tables: cloning
/// them for a snapshot is O(1), and they serialise as the `BTreeMap`s they replace.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(from = "KvStoreData")]
pub struct KvStore {
    entries: OrdMap<String, KvEntry>,
    /// Deleted keys and the index of their deletion.
    tombstones: OrdMap<String, u64>,
    /// Max index over entries and tombstones (Consul's `kvs` + `tombstones` table index).
    table_index: u64,
    /// Session → keys it holds locked. Derived from `entries`: not serialised, rebuilt
    /// when a snapshot is decoded.
    #[serde(skip)]
    by_session: HashMap<String, BTreeSet<String>>,
}

/// The serialised fields of [`KvStore`] (the snapshot layout).
#[derive(Deserialize)]
struct KvStoreData {
    #[serde(deserialize_with = "crate::persistent::ord_map")]
    entries: OrdMap<String, KvEntry>,
    #[serde(deserialize_with = "crate::persistent::ord_map")]
    tombstones: OrdMap<String, u64>,
    table_index: u64,
}

impl From<KvStoreData> for KvStore {
    fn from(d: KvStoreData) -> Self {
        let mut by_session: HashMap<String, BTreeSet<String>> = HashMap::new();
        for e in d.entries.values() {
            if let Some(s) = &e.session {
                by_session.entry(s.clone()).or_default().insert(e.key.clone());
            }
        }
        KvStore {
            entries: d.entries,
            tombstones: d.tombstones,
            table_index: d.table_index,
            by_session,
        }
    }
}

/// The prior state of one key, captured so a failed transaction can be undone.
#[derive(Debug, Clone)]
pub struct SavedKey {
    key: String,
    entry: Option<KvEntry>,
    tombstone: Option<u64>,
}

/// What `?acquire` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockOutcome {
    /// The session now holds the lock (new acquisition or already held).
    Acquired,
    /// Another session holds it.
    HeldByOther,
}

/// Iterates the keys of `map` that start with `prefix`, in byte order.
fn prefix_range<'a: 'p, 'p, V>(
    map: &'a OrdMap<String, V>,
    prefix: &'p str,
) -> impl Iterator<Item = (&'a String, &'a V)> + 'p {
    map.range::<_, str>((Bound::Included(prefix), Bound::Unbounded))
        .take_while(move |(k, _)| k.starts_with(prefix))
}

impl KvStore {
    /// The table index (never decreases while tombstones are kept).
    pub fn table_index(&self) -> u64 {
        self.table_index
    }

    /// Number of live keys.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the store holds no live key.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Looks up one key. Returns the index Consul reports with it: the entry's
    /// ModifyIndex, or the table index when the key is missing.
    pub fn get(&self, key: &str) -> (u64, Option<&KvEntry>) {
        match self.entries.get(key) {
            Some(e) => (e.modify_index, Some(e)),
            None => (self.table_index, None),
        }
    }

    /// The index that changes exactly when `key` changes (its ModifyIndex, or its
    /// tombstone's index): what a blocking query on one key watches.
    pub fn key_watch_index(&self, key: &str) -> u64 {
        match self.entries.get(key) {
            Some(e) => e.modify_index,
            None => self.tombstones.get(key).copied().unwrap_or(0),
        }
    }

    /// The index that changes when anything under `prefix` changes (the prefix's
    /// max ModifyIndex including tombstones; the table index for the empty prefix).
    pub fn prefix_watch_index(&self, prefix: &str) -> u64 {
        if prefix.is_empty() {
            return self.table_index;
        }
        let live = prefix_range(&self.entries, prefix)
            .map(|(_, e)| e.modify_index)
            .max();
        let dead = prefix_range(&self.tombstones, prefix).map(|(_, i)| *i).max();
        live.max(dead).unwrap_or(0)
    }

    /// Lists the entries under `prefix` with Consul's `KVList` index rule.
    pub fn list(&self, prefix: &str) -> (u64, Vec<&KvEntry>) {
        let entries: Vec<&KvEntry> = prefix_range(&self.entries, prefix).map(|(_, e)| e).collect();
        let index = self.prefix_index(prefix, entries.iter().map(|e| e.modify_index).max());
        (index, entries)
    }

    /// Lists keys under `prefix`, rolled up at the first `separator` after the prefix.
    pub fn keys(&self, prefix: &str, separator: &str) -> (u64, Vec<String>) {
        let mut keys: Vec<String> = Vec::new();
        let mut max = None::<u64>;
        for (key, entry) in prefix_range(&self.entries, prefix) {
            max = Some(max.map_or(entry.modify_index, |m| m.max(entry.modify_index)));
            let rolled = if separator.is_empty() {
                key.as_str()
            } else {
                match key[prefix.len()..].find(separator) {
                    Some(pos) => &key[..prefix.len() + pos + separator.len()],
                    None => key.as_str(),
                }
            };
            if keys.last().map(String::as_str) != Some(rolled) {
                keys.push(rolled.to_string());
            }
        }
        (self.prefix_index(prefix, max), keys)
    }

    /// Consul's rule: max of the entries' and the graveyard's index under the prefix,
    /// falling back to the table index (always for the empty prefix).
    fn prefix_index(&self, prefix: &str, entries_max: Option<u64>) -> u64 {
        if prefix.is_empty() {
            return self.table_index;
        }
        let graveyard = prefix_range(&self.tombstones, prefix).map(|(_, i)| *i).max();
        match entries_max.max(graveyard) {
            Some(i) if i != 0 => i,
            _ => self.table_index,
        }
    }

    /// Sets a key; returns false (nothing written) if the entry is unchanged.
    pub fn set(&mut self, index: u64, key: &str, value: &[u8], flags: u64) -> bool {
        if let Some(existing) = self.entries.get(key) {
            if existing.flags == flags && existing.lock_index == 0 && *existing.value == *value {
                // Consul skips identical writes: the entry keeps its ModifyIndex.
                return true;
            }
        }
        let (create_index, session) = match self.entries.get(key) {
            Some(e) => (e.create_index, e.session.clone()),
            None => (index, None),
        };
        self.put_entry(KvEntry {
            // A plain set resets LockIndex but keeps the lock holder, as Consul does.
            lock_index: 0,
            key: key.to_string(),
            flags,
            value: Arc::from(value),
            session,
            create_index,
            modify_index: index,
        });
        true
    }

    /// Stores `entry` (its ModifyIndex is the write's index), clearing any tombstone and
    /// keeping the session index in step.
    fn put_entry(&mut self, entry: KvEntry) {
        self.table_index = self.table_index.max(entry.modify_index);
        self.tombstones.remove(&entry.key);
        let new_session = entry.session.clone();
        let key = entry.key.clone();
        let old = self.entries.insert(key.clone(), entry);
        let old_session = old.and_then(|o| o.session);
        if old_session != new_session {
            if let Some(s) = old_session {
                self.unindex_session(&s, &key);
            }
            if let Some(s) = new_session {
                self.by_session.entry(s).or_default().insert(key);
            }
        }
    }

    fn unindex_session(&mut self, session: &str, key: &str) {
        if let Some(keys) = self.by_session.get_mut(session) {
            keys.remove(key);
            if keys.is_empty() {
                self.by_session.remove(session);
            }
        }
    }

    /// `?acquire=<session>`: takes the lock on `key` (creating it) and writes the value,
    /// unless another session holds it. A new acquisition increments LockIndex; the
    /// holder re-acquiring keeps it. The session must exist (checked by the caller).
    pub fn lock(&mut self, index: u64, key: &str, value: &[u8], flags: u64, session: &str) -> LockOutcome {
        let (create_index, lock_index) = match self.entries.get(key) {
            Some(e) if e.session.as_deref() == Some(session) => (e.create_index, e.lock_index),
            Some(e) if e.session.is_some() => return LockOutcome::HeldByOther,
            Some(e) => (e.create_index, e.lock_index + 1),
            None => (index, 1),
        };
        // An identical re-acquisition is skipped like any identical write: the entry
        // keeps its ModifyIndex.
        let unchanged = self.entries.get(key).is_some_and(|e| {
            e.lock_index == lock_index
                && e.flags == flags
                && *e.value == *value
                && e.session.as_deref() == Some(session)
        });
        if !unchanged {
            self.put_entry(KvEntry {
                lock_index,
                key: key.to_string(),
                flags,
                value: Arc::from(value),
                session: Some(session.to_string()),
                create_index,
                modify_index: index,
            });
        }
        LockOutcome::Acquired
    }

    /// `?release=<session>`: clears the lock if `session` holds it and writes the value
    /// (LockIndex unchanged). Returns false if the key is missing or held by someone else.
    pub fn unlock(&mut self, index: u64, key: &str, value: &[u8], flags: u64, session: &str) -> bool {
        let Some(e) = self.entries.get(key) else {
            return false;
        };
        if e.session.as_deref() != Some(session) {
            return false;
        }
        let entry = KvEntry {
            lock_index: e.lock_index,
            key: key.to_string(),
            flags,
            value: Arc::from(value),
            session: None,
            create_index: e.create_index,
            modify_index: index,
        };
        self.put_entry(entry);
        true
    }

    /// Releases the lock on `key` after its session was invalidated: the session is
    /// cleared, value and LockIndex stay, ModifyIndex moves.
    pub fn release_invalidated(&mut self, index: u64, key: &str) {
        if let Some(e) = self.entries.get(key) {
            let mut entry = e.clone();
            entry.session = None;
            entry.modify_index = index;
            self.put_entry(entry);
        }
    }

    /// The keys `session` holds locked, in key order.
    pub fn keys_held_by(&self, session: &str) -> Vec<String> {
        self.by_session
            .get(session)
            .map(|keys| keys.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Captures the current state of `key` (entry and tombstone) for [`KvStore::rollback`].
    pub fn save_key(&self, key: &str) -> SavedKey {
        SavedKey {
            key: key.to_string(),
            entry: self.entries.get(key).cloned(),
            tombstone: self.tombstones.get(key).copied(),
        }
    }

    /// Captures every live key under `prefix` (what a delete-tree changes).
    pub fn save_prefix(&self, prefix: &str) -> Vec<SavedKey> {
        prefix_range(&self.entries, prefix)
            .map(|(k, _)| self.save_key(k))
            .collect()
    }

    /// Undoes changes: restores the saved keys (newest capture first) and the table
    /// index as it was before them.
    pub fn rollback(&mut self, saved: Vec<SavedKey>, table_index: u64) {
        for s in saved.into_iter().rev() {
            let old_session = self.entries.get(&s.key).and_then(|e| e.session.clone());
            if let Some(sess) = old_session {
                self.unindex_session(&sess, &s.key);
            }
            match s.entry {
                Some(e) => {
                    if let Some(sess) = &e.session {
                        self.by_session
                            .entry(sess.clone())
                            .or_default()
                            .insert(s.key.clone());
                    }
                    self.entries.insert(s.key.clone(), e);
                }
                None => {
                    self.entries.remove(&s.key);
                }
            }
            match s.tombstone {
                Some(t) => self.tombstones.insert(s.key, t),
                None => self.tombstones.remove(&s.key),
            };
        }
        self.table_index = table_index;
    }

    /// Check-and-set: `cas == 0` creates only; otherwise ModifyIndex must equal `cas`.
    pub fn set_cas(&mut self, index: u64, key: &str, value: &[u8], flags: u64, cas: u64) -> bool {
        let ok = match self.entries.get(key) {
            None => cas == 0,
            Some(e) => cas != 0 && e.modify_index == cas,
        };
        ok && self.set(index, key, value, flags)
    }

    /// Deletes one key, leaving a tombstone. Deleting a missing key is a no-op.
    pub fn delete(&mut self, index: u64, key: &str) {
        if let Some(old) = self.entries.remove(key) {
            if let Some(s) = old.session {
                self.unindex_session(&s, key);
            }
            self.tombstones.insert(key.to_string(), index);
            self.table_index = self.table_index.max(index);
        }
    }

    /// Whether a tombstone was left at or before `up_to` (whether reaping would remove any).
    pub fn has_tombstones_up_to(&self, up_to: u64) -> bool {
        self.tombstones.values().any(|&i| i <= up_to)
    }

    /// Removes the tombstones of deletions at or before `up_to` (Consul's tombstone GC,
    /// which the leader runs once they are old enough); returns how many went. The table
    /// index stays: it never decreases.
    pub fn reap_tombstones(&mut self, up_to: u64) -> usize {
        let doomed: Vec<String> = self
            .tombstones
            .iter()
            .filter(|(_, &i)| i <= up_to)
            .map(|(k, _)| k.clone())
            .collect();
        for key in &doomed {
            self.tombstones.remove(key);
        }
        doomed.len()
    }

    /// Deletes a key only if its ModifyIndex equals `cas`; a missing key succeeds.
    pub fn delete_cas(&mut self, index: u64, key: &str, cas: u64) -> bool {
        match self.entries.get(key) {
            None => true,
            Some(e) if e.modify_index == cas => {
                self.delete(index, key);
                true
            }
            Some(_) => false,
        }
    }

    /// Deletes every key under `prefix`.
    pub fn delete_tree(&mut self, index: u64, prefix: &str) {
        let doomed: Vec<String> = prefix_range(&self.entries, prefix)
            .map(|(k, _)| k.clone())
            .collect();
        for key in doomed {
            self.delete(index, &key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> KvStore {
        let mut kv = KvStore::default();
        kv.set(10, "app/config", b"hello", 0);
        kv.set(11, "app/dir/", b"", 0);
        kv.set(12, "app/dir/a", b"A", 0);
        kv.set(13, "app/dir/sub/b", b"B", 0);
        kv.set(14, "other/key", b"x", 42);
        kv
    }

    #[test]
    fn get_reports_modify_index_or_table_index() {
        let kv = store();
        assert_eq!(kv.get("app/config").0, 10);
        assert_eq!(kv.get("missing"), (14, None));
    }

    #[test]
    fn keys_roll_up_at_separator() {
        let kv = store();
        assert_eq!(kv.keys("app/", "/").1, vec!["app/config", "app/dir/"]);
        assert_eq!(kv.keys("app", "/").1, vec!["app/"]);
        assert_eq!(kv.keys("", "").1.len(), 5);
        assert_eq!(
            kv.keys("app/dir/", "").1,
            vec!["app/dir/", "app/dir/a", "app/dir/sub/b"]
        );
    }

    #[test]
    fn list_is_textual_prefix_match_with_max_index() {
        let kv = store();
        let (idx, entries) = kv.list("app/d");
        assert_eq!(idx, 13);
        assert_eq!(entries.len(), 3);
        let (idx, entries) = kv.list("nosuch");
        assert_eq!((idx, entries.len()), (14, 0));
    }

    #[test]
    fn cas_semantics() {
        let mut kv = store();
        assert!(!kv.set_cas(20, "app/config", b"x", 0, 0), "cas=0 on existing key");
        assert!(!kv.set_cas(20, "app/config", b"x", 0, 9), "wrong index");
        assert!(kv.set_cas(20, "app/config", b"x", 0, 10));
        assert!(kv.set_cas(21, "new", b"x", 0, 0));
        assert!(!kv.set_cas(22, "absent", b"x", 0, 5));
        assert!(!kv.delete_cas(23, "app/config", 10));
        assert!(kv.delete_cas(23, "app/config", 20));
        assert!(kv.delete_cas(24, "never", 7), "missing key deletes trivially");
    }

    /// The KV table's snapshot layout before its maps became persistent.
    #[derive(Serialize)]
    struct StdKv {
        entries: std::collections::BTreeMap<String, KvEntry>,
        tombstones: std::collections::BTreeMap<String, u64>,
        table_index: u64,
    }

    #[test]
    fn snapshots_keep_the_btreemap_layout_and_copies_stay_put() {
        let mut kv = store();
        kv.delete(15, "app/config");
        let std = StdKv {
            entries: kv.entries.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            tombstones: kv.tombstones.iter().map(|(k, v)| (k.clone(), *v)).collect(),
            table_index: kv.table_index,
        };
        let bytes = bincode::serialize(&std).expect("encode");
        assert_eq!(bincode::serialize(&kv).expect("encode"), bytes);
        let decoded: KvStore = bincode::deserialize(&bytes).expect("decode");
        assert_eq!(decoded.list("").1.len(), 4);
        let copy = kv.clone();
        kv.set(16, "app/dir/a", b"changed", 0);
        kv.delete(17, "other/key");
        assert_eq!(kv.reap_tombstones(15), 1);
        assert_eq!(bincode::serialize(&copy).expect("encode"), bytes);
        assert_eq!(copy.list("other/").1.len(), 1);
        assert_eq!(&*copy.list("app/dir/a").1[0].value, b"A");
        assert_eq!(copy.key_watch_index("app/config"), 15);
    }

    #[test]
    fn tombstones_bump_prefix_index() {
        let mut kv = store();
        kv.delete_tree(30, "app/dir");
        assert_eq!(kv.keys("", "").1, vec!["app/config", "other/key"]);
        assert_eq!(kv.list("app/dir").0, 30);
        assert_eq!(kv.key_watch_index("app/dir/a"), 30);
        kv.set(31, "app/dir/a", b"again", 0);
        assert_eq!(kv.get("app/dir/a").1.map(|e| e.create_index), Some(31));
    }

    #[test]
    fn reaping_forgets_old_tombstones_only_and_keeps_the_table_index() {
        let mut kv = store();
        kv.delete(30, "app/config");
        kv.delete(35, "other/key");
        let table = kv.table_index();
        assert!(!kv.has_tombstones_up_to(29));
        assert!(kv.has_tombstones_up_to(30));
        assert_eq!(kv.reap_tombstones(32), 1);
        // The deletion at 30 is forgotten; the one at 35 still moves its prefix's index.
        assert_eq!(kv.key_watch_index("app/config"), 0);
        assert_eq!(kv.key_watch_index("other/key"), 35);
        assert_eq!(kv.list("other/").0, 35);
        // A prefix left with neither keys nor tombstones falls back to the table index.
        assert_eq!(kv.list("app/config").0, table);
        assert_eq!(kv.table_index(), table);
        assert!(!kv.has_tombstones_up_to(32));
        assert_eq!(kv.reap_tombstones(32), 0);
        assert_eq!(kv.reap_tombstones(u64::MAX), 1);
    }

    #[test]
    fn identical_set_keeps_modify_index() {
        let mut kv = store();
        kv.set(40, "other/key", b"x", 42);
        assert_eq!(kv.get("other/key").0, 14);
        kv.set(41, "other/key", b"x", 1);
        assert_eq!(kv.get("other/key").0, 41);
    }
}
