//! Session TTL expiry, run on the leader.
//!
//! Consul's rule: a session with a TTL is invalidated once TTL × 2 has passed since its
//! creation or last renew. Renew times are in-memory ([`SessionTimers`], fed by applied
//! create/renew commands); when this server becomes leader every session's clock
//! starts afresh, so a failover never expires a session early. Expired sessions are
//! destroyed through raft, which releases or deletes their locks like any destroy.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rconsul_raft::RaftNode;
use rconsul_state::session::SessionTimers;
use rconsul_state::{Command, Consensus, StateStore, Table};
use tokio::sync::watch;

/// Longest pause between checks (leadership changes are noticed at least this often).
const MAX_PAUSE: Duration = Duration::from_secs(1);
/// Shortest pause, so a failing destroy does not spin.
const MIN_PAUSE: Duration = Duration::from_millis(50);

/// The TTL sessions in the state: `(id, ttl)`.
fn ttl_sessions(store: &StateStore) -> Vec<(String, Duration)> {
    let state = store.read();
    state
        .sessions
        .list()
        .filter_map(|s| s.ttl_duration().map(|ttl| (s.id.clone(), ttl)))
        .collect()
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// One pass on the leader at time `now`: destroys the expired sessions; returns how
/// long until the next one could expire.
async fn expire_once(
    store: &StateStore,
    timers: &SessionTimers,
    consensus: &dyn Consensus,
    now: Instant,
) -> Option<Duration> {
    let (expired, next) = timers.expired(&ttl_sessions(store), now);
    for id in expired {
        let cmd = Command::SessionDestroy {
            id: id.clone(),
            now_ms: now_ms(),
        };
        match consensus.write(cmd).await {
            Ok(_) => tracing::info!(target: "agent.server", "session expired: session={id}"),
            Err(e) => {
                tracing::warn!(target: "agent.server", "failed to expire session: session={id} error=\"{e}\"");
                return Some(MIN_PAUSE);
            }
        }
    }
    next
}

/// Runs until `stop` turns true.
pub async fn run(store: Arc<StateStore>, raft: Arc<RaftNode>, mut stop: watch::Receiver<bool>) {
    let mut sessions = store.watch(Table::Sessions);
    let mut was_leader = false;
    loop {
        let leader = raft.is_leader();
        let pause = if leader {
            if !was_leader {
                // A new term: every TTL session gets a full TTL × 2 from now (Consul
                // resets all timers when a leader takes over).
                store.session_timers().clear();
            }
            expire_once(&store, store.session_timers(), &*raft, Instant::now()).await
        } else {
            None
        };
        was_leader = leader;
        let pause = pause.unwrap_or(MAX_PAUSE).clamp(MIN_PAUSE, MAX_PAUSE);
        tokio::select! {
            _ = stop.changed() => return,
            _ = sessions.changed() => {}
            _ = tokio::time::sleep(pause) => {}
        }
        if *stop.borrow() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_consensus::Direct;
    use rconsul_state::session::Session;
    use rconsul_state::CommandResult;

    #[tokio::test]
    async fn expired_sessions_are_destroyed_through_consensus() {
        let store = Arc::new(StateStore::new());
        let direct = Direct::new(store.clone());
        direct
            .write(Command::CatalogRegister(Box::new(
                rconsul_state::catalog::RegisterRequest {
                    node: rconsul_state::catalog::Node {
                        node: "n1".into(),
                        address: "127.0.0.1".into(),
                        ..Default::default()
                    },
                    ..Default::default()
                },
            )))
            .await
            .expect("register");
        let created = direct
            .write(Command::SessionCreate(Box::new(Session {
                id: "11111111-1111-1111-1111-111111111111".into(),
                node: "n1".into(),
                ttl: "10s".into(),
                ttl_ns: 10_000_000_000,
                ..Default::default()
            })))
            .await
            .expect("create");
        assert_eq!(created, CommandResult::Applied);
        let timers = store.session_timers();
        let t0 = Instant::now();
        // Freshly created: not expired, next check within 2 × TTL.
        let next = expire_once(&store, timers, &direct, t0).await;
        assert!(next.is_some_and(|d| d <= Duration::from_secs(20)));
        // A renew at t0 + 15 s pushes expiry to t0 + 35 s.
        direct
            .write(Command::SessionRenew {
                id: "11111111-1111-1111-1111-111111111111".into(),
            })
            .await
            .expect("renew");
        assert!(expire_once(&store, timers, &direct, t0 + Duration::from_secs(19))
            .await
            .is_some());
        assert_eq!(store.read().sessions.len(), 1);
        let later = Instant::now() + Duration::from_secs(21);
        assert_eq!(expire_once(&store, timers, &direct, later).await, None);
        assert!(
            store.read().sessions.is_empty(),
            "expired after TTL × 2 without renew"
        );
    }
}
