//! Autopilot's dead-server cleanup (`autopilot.cleanup_dead_servers`, on by default), as
//! Consul's leader does it: a server that gossip has declared failed for a while is
//! force-left, so every agent records it as `left`, and the raft reconciliation then
//! drops it from the voters (and the catalog). The cluster's quorum shrinks with it, so
//! a second failure later is survivable again; a server that comes back rejoins as new.
//!
//! Removal never takes more than a minority of the voters, nor the voter count below
//! `autopilot.min_quorum` (raft-autopilot's rule); otherwise the leader says why and waits.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use rconsul_gossip::{Gossip, Member, MemberStatus};

/// How long a server stays failed before the leader removes it. Consul's autopilot
/// reconciles every 10 s, so it removes a failed server 0–10 s after the failure is
/// detected; this removes it 10 s after, every time.
pub const DEAD_SERVER_GRACE: Duration = Duration::from_secs(10);

/// How often a refusal to remove ("too many dead servers") is logged at most.
const REFUSAL_LOG_EVERY: Duration = Duration::from_secs(60);

/// The `autopilot` settings this agent acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AutopilotConfig {
    /// `cleanup_dead_servers` (default true).
    pub cleanup_dead_servers: bool,
    /// `min_quorum` (default 0): never remove servers below this many voters.
    pub min_quorum: usize,
}

impl Default for AutopilotConfig {
    fn default() -> Self {
        AutopilotConfig {
            cleanup_dead_servers: true,
            min_quorum: 0,
        }
    }
}

/// raft-autopilot's `canRemoveServers`: whether `dead` of `voters` may go. `Err` says why not.
pub fn can_remove(voters: usize, min_quorum: usize, dead: usize) -> Result<(), String> {
    if voters.saturating_sub(dead) < min_quorum {
        return Err(format!(
            "denied, because removing {dead}/{voters} servers would leave less than minimal allowed quorum of {min_quorum} servers"
        ));
    }
    // Only a minority: with 2F+1 voters, up to F may be removed.
    if dead > voters.saturating_sub(1) / 2 {
        return Err(format!(
            "denied, because removing the majority of servers {dead}/{voters} is not safe"
        ));
    }
    Ok(())
}

/// A failed server member, as the cleanup sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedServer {
    /// Node name (what force-leave takes).
    pub name: String,
    /// Raft id.
    pub id: u64,
    /// Server RPC address.
    pub address: String,
    /// Node UUID.
    pub node_id: String,
}

/// The leader's memory of when each server was first seen failed.
#[derive(Debug, Default)]
pub struct DeadServerCleanup {
    failed_since: HashMap<String, Instant>,
    last_refusal_log: Option<Instant>,
}

impl DeadServerCleanup {
    /// Notes the currently failed servers at `now` and returns those failed for at least
    /// [`DEAD_SERVER_GRACE`] that are raft voters (`voters`), if removing them all is
    /// allowed; a refusal is logged (at most once a minute) and nothing is returned.
    pub fn due(
        &mut self,
        failed: &[FailedServer],
        voters: &BTreeSet<u64>,
        config: AutopilotConfig,
        now: Instant,
    ) -> Vec<FailedServer> {
        self.failed_since
            .retain(|name, _| failed.iter().any(|f| f.name == *name));
        for f in failed {
            self.failed_since.entry(f.name.clone()).or_insert(now);
        }
        if !config.cleanup_dead_servers {
            return Vec::new();
        }
        let due: Vec<FailedServer> = failed
            .iter()
            .filter(|f| voters.contains(&f.id))
            .filter(|f| {
                self.failed_since
                    .get(&f.name)
                    .is_some_and(|t| now.duration_since(*t) >= DEAD_SERVER_GRACE)
            })
            .cloned()
            .collect();
        if due.is_empty() {
            return due;
        }
        match can_remove(voters.len(), config.min_quorum, due.len()) {
            Ok(()) => due,
            Err(why) => {
                if self
                    .last_refusal_log
                    .is_none_or(|t| now.duration_since(t) >= REFUSAL_LOG_EVERY)
                {
                    tracing::warn!(target: "agent.server.autopilot", "Failed to remove dead servers: {why}");
                    self.last_refusal_log = Some(now);
                }
                Vec::new()
            }
        }
    }
}

/// The servers of `datacenter` that gossip reports failed.
pub fn failed_servers(members: &[Member], datacenter: &str) -> Vec<FailedServer> {
    members
        .iter()
        .filter(|m| m.status == MemberStatus::Failed)
        .filter(|m| m.tags.get("role").map(String::as_str) == Some("consul"))
        .filter(|m| m.tags.get("dc").map(String::as_str) == Some(datacenter))
        .filter_map(|m| {
            let (id, node) = crate::cluster::raft_identity(m)?;
            Some(FailedServer {
                name: m.name.clone(),
                id,
                address: node.rpc_addr,
                node_id: node.node_id,
            })
        })
        .collect()
}

/// Force-leaves `servers` through gossip, as Consul's autopilot does with serf.
pub async fn remove(gossip: &Gossip, servers: Vec<FailedServer>) {
    for s in servers {
        tracing::info!(target: "agent.server.autopilot", "Attempting removal of failed server node: id={} name={} address={}", s.node_id, s.name, s.address);
        gossip.force_leave(&s.name, false).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(name: &str, id: u64) -> FailedServer {
        FailedServer {
            name: name.into(),
            id,
            address: format!("127.0.0.{id}:8300"),
            node_id: format!("id-{id}"),
        }
    }

    #[test]
    fn only_a_minority_and_never_below_min_quorum() {
        assert!(can_remove(3, 0, 1).is_ok());
        assert!(can_remove(3, 0, 2).is_err());
        assert!(can_remove(5, 0, 2).is_ok());
        assert!(
            can_remove(2, 0, 1).is_err(),
            "two voters: removing one is a majority"
        );
        let e = can_remove(3, 3, 1).expect_err("min quorum");
        assert!(e.contains("minimal allowed quorum of 3"), "{e}");
        assert!(can_remove(5, 3, 2).is_ok());
        assert!(can_remove(5, 4, 2).is_err());
    }

    #[test]
    fn a_failed_voter_is_due_after_the_grace_and_a_recovered_one_starts_over() {
        let voters: BTreeSet<u64> = [1, 2, 3].into();
        let cfg = AutopilotConfig::default();
        let mut cleanup = DeadServerCleanup::default();
        let t0 = Instant::now();
        let s1 = [failed("s1", 1)];
        assert!(cleanup.due(&s1, &voters, cfg, t0).is_empty());
        assert!(cleanup
            .due(&s1, &voters, cfg, t0 + DEAD_SERVER_GRACE / 2)
            .is_empty());
        assert_eq!(
            cleanup.due(&s1, &voters, cfg, t0 + DEAD_SERVER_GRACE),
            s1.to_vec()
        );
        // It came back (no longer failed), then failed again: a new grace period.
        assert!(cleanup
            .due(&[], &voters, cfg, t0 + DEAD_SERVER_GRACE * 2)
            .is_empty());
        let later = t0 + DEAD_SERVER_GRACE * 3;
        assert!(cleanup.due(&s1, &voters, cfg, later).is_empty());
        assert_eq!(
            cleanup.due(&s1, &voters, cfg, later + DEAD_SERVER_GRACE),
            s1.to_vec()
        );
    }

    #[test]
    fn nothing_is_due_when_disabled_too_many_or_not_a_voter() {
        let voters: BTreeSet<u64> = [1, 2, 3].into();
        let t0 = Instant::now();
        let late = t0 + DEAD_SERVER_GRACE;
        let off = AutopilotConfig {
            cleanup_dead_servers: false,
            min_quorum: 0,
        };
        let mut cleanup = DeadServerCleanup::default();
        cleanup.due(&[failed("s1", 1)], &voters, off, t0);
        assert!(cleanup.due(&[failed("s1", 1)], &voters, off, late).is_empty());

        let both = [failed("s1", 1), failed("s2", 2)];
        let mut cleanup = DeadServerCleanup::default();
        cleanup.due(&both, &voters, AutopilotConfig::default(), t0);
        assert!(cleanup
            .due(&both, &voters, AutopilotConfig::default(), late)
            .is_empty());

        let stranger = [failed("old", 9)];
        let mut cleanup = DeadServerCleanup::default();
        cleanup.due(&stranger, &voters, AutopilotConfig::default(), t0);
        assert!(cleanup
            .due(&stranger, &voters, AutopilotConfig::default(), late)
            .is_empty());
    }
}
