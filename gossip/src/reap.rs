//! Reaping: members that stay failed longer than the reconnect timeout (Consul's
//! `reconnect_timeout`, 72 h by default) or left longer than the tombstone timeout (24 h)
//! are dropped from the member list, as serf's reaper does. The names reaped are kept
//! so the leader can deregister those nodes from the catalog.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use crate::{Member, MemberStatus};

/// How long down members are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReapTimeouts {
    /// A failed member is dropped after this long (`reconnect_timeout`).
    pub reconnect: Duration,
    /// A member that left is dropped after this long (`tombstone_timeout`).
    pub tombstone: Duration,
}

impl Default for ReapTimeouts {
    fn default() -> Self {
        ReapTimeouts {
            reconnect: Duration::from_secs(72 * 3600),
            tombstone: Duration::from_secs(24 * 3600),
        }
    }
}

/// Tracks since when each member has been down and drops the overdue ones.
#[derive(Debug, Default)]
pub(crate) struct Reaper {
    down_since: HashMap<String, (MemberStatus, Instant)>,
}

impl Reaper {
    /// Removes the members down for longer than their timeout from `table` and adds
    /// their names to `reaped`; returns whether anything was removed.
    pub(crate) fn reap(
        &mut self,
        table: &mut BTreeMap<String, Member>,
        reaped: &mut BTreeSet<String>,
        timeouts: ReapTimeouts,
        now: Instant,
    ) -> bool {
        self.down_since
            .retain(|name, (status, _)| table.get(name).is_some_and(|m| m.status == *status));
        let mut overdue = Vec::new();
        for (name, m) in table.iter() {
            let limit = match m.status {
                MemberStatus::Failed => timeouts.reconnect,
                MemberStatus::Left => timeouts.tombstone,
                MemberStatus::Alive | MemberStatus::Leaving => continue,
            };
            let (_, since) = self.down_since.entry(name.clone()).or_insert((m.status, now));
            if now.saturating_duration_since(*since) >= limit {
                overdue.push(name.clone());
            }
        }
        for name in &overdue {
            table.remove(name);
            self.down_since.remove(name);
            tracing::info!(target: "agent.server.serf.lan", "serf: EventMemberReap: {name}");
            reaped.insert(name.clone());
        }
        !overdue.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(name: &str, status: MemberStatus) -> Member {
        Member {
            name: name.into(),
            addr: "127.0.0.1:8301".parse().expect("addr"),
            tags: BTreeMap::new(),
            status,
        }
    }

    #[test]
    fn failed_and_left_members_are_reaped_after_their_timeouts() {
        let timeouts = ReapTimeouts {
            reconnect: Duration::from_secs(10),
            tombstone: Duration::from_secs(5),
        };
        let mut table: BTreeMap<String, Member> = [
            ("alive", MemberStatus::Alive),
            ("failed", MemberStatus::Failed),
            ("left", MemberStatus::Left),
        ]
        .into_iter()
        .map(|(n, s)| (n.to_string(), member(n, s)))
        .collect();
        let (mut reaper, mut reaped) = (Reaper::default(), BTreeSet::new());
        let t0 = Instant::now();
        assert!(!reaper.reap(&mut table, &mut reaped, timeouts, t0));
        assert!(!reaper.reap(&mut table, &mut reaped, timeouts, t0 + Duration::from_secs(4)));
        assert!(reaper.reap(&mut table, &mut reaped, timeouts, t0 + Duration::from_secs(6)));
        assert_eq!(reaped, BTreeSet::from(["left".to_string()]));
        assert!(reaper.reap(&mut table, &mut reaped, timeouts, t0 + Duration::from_secs(11)));
        assert_eq!(table.keys().collect::<Vec<_>>(), ["alive"]);
        assert!(reaped.contains("failed"));
    }

    #[test]
    fn a_member_that_comes_back_starts_over() {
        let timeouts = ReapTimeouts {
            reconnect: Duration::from_secs(10),
            tombstone: Duration::from_secs(10),
        };
        let mut table: BTreeMap<String, Member> =
            [("n".to_string(), member("n", MemberStatus::Failed))].into();
        let (mut reaper, mut reaped) = (Reaper::default(), BTreeSet::new());
        let t0 = Instant::now();
        reaper.reap(&mut table, &mut reaped, timeouts, t0);
        table.insert("n".into(), member("n", MemberStatus::Alive));
        reaper.reap(&mut table, &mut reaped, timeouts, t0 + Duration::from_secs(8));
        table.insert("n".into(), member("n", MemberStatus::Failed));
        assert!(!reaper.reap(&mut table, &mut reaped, timeouts, t0 + Duration::from_secs(12)));
        assert!(reaper.reap(&mut table, &mut reaped, timeouts, t0 + Duration::from_secs(22)));
        assert!(reaped.contains("n"));
    }
}
