//! The leader's tombstone GC: KV deletions leave tombstones (so prefix watches see them),
//! and the leader forgets them once they are older than Consul's TombstoneTTL.
//!
//! Like Consul's `TombstoneGC`, time is sampled rather than stored per tombstone: every
//! [`GRANULARITY`] the leader notes the applied index; a note older than [`TTL`] means
//! every deletion at or before its index is at least that old, and one raft command
//! (`KvReapTombstones`) removes them on every server. A new leader starts noting afresh,
//! so a failover only ever delays a reap. Without it, every deleted key stayed in memory
//! and in every snapshot forever.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rconsul_raft::RaftNode;
use rconsul_state::{Command, Consensus, StateStore};
use tokio::sync::watch;

/// How long a tombstone is kept (Consul's `TombstoneTTL`).
pub const TTL: Duration = Duration::from_secs(15 * 60);
/// How often the leader notes the index (Consul's `TombstoneTTLGranularity`).
pub const GRANULARITY: Duration = Duration::from_secs(30);

/// Applied indexes noted over time, oldest first.
#[derive(Debug, Default)]
struct Notes {
    notes: VecDeque<(Instant, u64)>,
}

impl Notes {
    /// Notes `index` as applied at `now`.
    fn note(&mut self, now: Instant, index: u64) {
        self.notes.push_back((now, index));
    }

    /// Takes the notes at least `ttl` old; returns the highest index among them (every
    /// deletion at or before it happened at least `ttl` ago).
    fn expired(&mut self, now: Instant, ttl: Duration) -> Option<u64> {
        let mut up_to = None;
        while let Some(&(at, index)) = self.notes.front() {
            if now.duration_since(at) < ttl {
                break;
            }
            up_to = Some(index);
            self.notes.pop_front();
        }
        up_to
    }
}

/// One tick at `now`: notes the applied index and, if a note has expired and there is
/// anything to forget, proposes the reap.
async fn tick(notes: &mut Notes, store: &StateStore, consensus: &dyn Consensus, now: Instant, ttl: Duration) {
    notes.note(now, store.applied_index());
    let Some(up_to) = notes.expired(now, ttl) else {
        return;
    };
    if !store.read().kv.has_tombstones_up_to(up_to) {
        return;
    }
    match consensus.write(Command::KvReapTombstones { up_to }).await {
        Ok(_) => tracing::debug!(target: "agent.server", "reaped KV tombstones: index={up_to}"),
        // The next expired note covers these too.
        Err(e) => {
            tracing::warn!(target: "agent.server", "failed to reap KV tombstones: index={up_to} error=\"{e}\"")
        }
    }
}

/// Runs until `stop` turns true, reaping only while this server leads.
pub async fn run(store: Arc<StateStore>, raft: Arc<RaftNode>, mut stop: watch::Receiver<bool>) {
    let mut notes = Notes::default();
    let mut interval = tokio::time::interval(GRANULARITY);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            _ = interval.tick() => {}
        }
        if raft.is_leader() {
            tick(&mut notes, &store, &*raft, Instant::now(), TTL).await;
        } else {
            notes = Notes::default();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_consensus::Direct;

    fn set(key: &str) -> Command {
        Command::KvSet {
            key: key.into(),
            value: b"v".to_vec(),
            flags: 0,
        }
    }

    fn delete(key: &str) -> Command {
        Command::KvDelete { key: key.into() }
    }

    #[test]
    fn notes_expire_in_order_and_report_the_newest_expired_index() {
        let t0 = Instant::now();
        let mut notes = Notes::default();
        notes.note(t0, 5);
        notes.note(t0 + Duration::from_secs(30), 9);
        notes.note(t0 + Duration::from_secs(60), 12);
        assert_eq!(
            notes.expired(t0 + Duration::from_secs(59), Duration::from_secs(60)),
            None
        );
        assert_eq!(
            notes.expired(t0 + Duration::from_secs(90), Duration::from_secs(60)),
            Some(9)
        );
        assert_eq!(
            notes.expired(t0 + Duration::from_secs(100), Duration::from_secs(60)),
            None
        );
        assert_eq!(
            notes.expired(t0 + Duration::from_secs(120), Duration::from_secs(60)),
            Some(12)
        );
    }

    #[tokio::test]
    async fn tombstones_are_reaped_one_ttl_after_the_deletion_and_not_before() {
        let store = Arc::new(StateStore::new());
        let direct = Direct::new(store.clone());
        let ttl = Duration::from_secs(60);
        let t0 = Instant::now();
        let mut notes = Notes::default();
        for key in ["a", "b"] {
            direct.apply(set(key));
        }
        direct.apply(delete("a")); // index 3
        tick(&mut notes, &store, &direct, t0, ttl).await;
        direct.apply(delete("b")); // index 4
        tick(&mut notes, &store, &direct, t0 + Duration::from_secs(30), ttl).await;
        let before = direct.last_index();
        // Not yet a TTL after the first note: nothing proposed.
        tick(&mut notes, &store, &direct, t0 + Duration::from_secs(59), ttl).await;
        assert_eq!(direct.last_index(), before);
        assert_eq!(store.read().kv.key_watch_index("a"), 3);
        // A TTL after the first note: "a" (deleted before it) goes, "b" stays.
        tick(&mut notes, &store, &direct, t0 + Duration::from_secs(60), ttl).await;
        assert_eq!(direct.last_index(), before + 1, "one reap command");
        assert_eq!(store.read().kv.key_watch_index("a"), 0);
        assert_eq!(store.read().kv.key_watch_index("b"), 4);
        // A TTL after the second note: "b" goes too; then nothing is left to propose.
        tick(&mut notes, &store, &direct, t0 + Duration::from_secs(90), ttl).await;
        assert_eq!(store.read().kv.key_watch_index("b"), 0);
        let after = direct.last_index();
        tick(&mut notes, &store, &direct, t0 + Duration::from_secs(200), ttl).await;
        assert_eq!(
            direct.last_index(),
            after,
            "no command when no tombstone is old enough"
        );
    }
}
