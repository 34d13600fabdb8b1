//! Encoded answers of hot catalog/health reads, reused while their data is unchanged.
//!
//! Service discovery is read-mostly: load balancers, Prometheus and sidecars poll the
//! same `/v1/health/service/<name>` over and over between changes. An entry remembers
//! the read's watch probe (the per-service index, which moves exactly when the
//! service's view changes), the answer's index and its JSON; while the probe is the
//! same, the bytes are served again without walking the catalog or encoding JSON. The
//! cache is bounded by bytes and simply emptied when full.

use std::collections::HashMap;

use bytes::Bytes;
use parking_lot::Mutex;

/// Largest total of cached bodies.
const BUDGET_BYTES: usize = 4 << 20;

/// One cached answer.
#[derive(Debug, Clone)]
struct Entry {
    probe: u64,
    index: u64,
    body: Bytes,
}

/// A bounded map from request key to encoded answer.
#[derive(Debug, Default)]
pub struct ResponseCache {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    entries: HashMap<String, Entry>,
    bytes: usize,
}

impl ResponseCache {
    /// The cached `(index, body)` for `key` if it was computed at watch probe `probe`.
    pub fn get(&self, key: &str, probe: u64) -> Option<(u64, Bytes)> {
        let inner = self.inner.lock();
        let e = inner.entries.get(key)?;
        (e.probe == probe).then(|| (e.index, e.body.clone()))
    }

    /// Remembers an answer computed at watch probe `probe`.
    pub fn put(&self, key: String, probe: u64, index: u64, body: Bytes) {
        if body.len() > BUDGET_BYTES / 16 {
            return;
        }
        let mut inner = self.inner.lock();
        if inner.bytes + body.len() > BUDGET_BYTES {
            inner.entries.clear();
            inner.bytes = 0;
        }
        inner.bytes += body.len();
        if let Some(old) = inner.entries.insert(key, Entry { probe, index, body }) {
            inner.bytes -= old.body.len();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hits_only_at_the_same_probe_and_stays_within_budget() {
        let cache = ResponseCache::default();
        assert!(cache.get("k", 1).is_none());
        cache.put("k".into(), 1, 7, Bytes::from_static(b"[1]"));
        assert_eq!(cache.get("k", 1), Some((7, Bytes::from_static(b"[1]"))));
        assert!(cache.get("k", 2).is_none());
        cache.put("k".into(), 2, 9, Bytes::from_static(b"[2]"));
        assert_eq!(cache.get("k", 2), Some((9, Bytes::from_static(b"[2]"))));
        assert_eq!(cache.inner.lock().bytes, 3);

        let big = Bytes::from(vec![b'x'; BUDGET_BYTES / 16]);
        for i in 0..40 {
            cache.put(format!("big{i}"), 1, 1, big.clone());
        }
        assert!(cache.inner.lock().bytes <= BUDGET_BYTES);
        // Too big to cache at all.
        cache.put("huge".into(), 1, 1, Bytes::from(vec![0; BUDGET_BYTES / 8]));
        assert!(cache.get("huge", 1).is_none());
    }
}
