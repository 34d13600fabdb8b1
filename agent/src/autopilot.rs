//! Autopilot: server health ([`judge`], `/v1/operator/autopilot/health`) and the
//! dead-server cleanup (`autopilot.cleanup_dead_servers`, on by default), as Consul's
//! leader does it: a server that gossip has declared failed for a while is
//! force-left, so every agent records it as `left`, and the raft reconciliation then
//! drops it from the voters (and the catalog). The cluster's quorum shrinks with it, so
//! a second failure later is survivable again; a server that comes back rejoins as new.
//!
//! Removal never takes more than a minority of the voters, nor the voter count below
//! `autopilot.min_quorum` (raft-autopilot's rule); otherwise the leader says why and waits.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant, SystemTime};

use rconsul_gossip::{Gossip, Member, MemberStatus};
use rconsul_raft::stats::RaftStats;
use rconsul_state::operator::{AutopilotHealth, ServerHealth};

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
    /// `last_contact_threshold` (default 200 ms): a server that has not heard from the
    /// leader for longer is unhealthy.
    pub last_contact_threshold: Duration,
    /// `max_trailing_logs` (default 250): a server this far behind the leader's log is
    /// unhealthy.
    pub max_trailing_logs: u64,
}

impl Default for AutopilotConfig {
    fn default() -> Self {
        AutopilotConfig {
            cleanup_dead_servers: true,
            min_quorum: 0,
            last_contact_threshold: Duration::from_millis(200),
            max_trailing_logs: 250,
        }
    }
}

/// What is known of one server of the raft configuration when judging its health.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerProbe {
    /// Node ID.
    pub id: String,
    /// Node name.
    pub name: String,
    /// Server RPC address.
    pub address: String,
    /// Gossip status (`alive`, `failed`, ...; `none` when gossip does not know it).
    pub serf_status: String,
    /// Consul version from its `build` tag.
    pub version: String,
    /// Whether it leads.
    pub leader: bool,
    /// Whether it votes.
    pub voter: bool,
    /// Its raft stats; `None` when it did not answer.
    pub stats: Option<RaftStats>,
}

/// When each server's health last changed, as this agent observed it.
pub type HealthMemory = HashMap<String, (bool, SystemTime)>;

/// raft-autopilot's `isHealthy`: alive, heard from the leader within the threshold, on
/// the leader's term, and not more than `max_trailing_logs` behind its log.
fn is_healthy(p: &ServerProbe, leader: RaftStats, config: &AutopilotConfig) -> bool {
    let Some(stats) = p.stats else {
        return false;
    };
    let trailing = leader.last_index > config.max_trailing_logs
        && stats.last_index < leader.last_index - config.max_trailing_logs;
    p.serf_status == "alive"
        && Duration::from_millis(stats.last_contact_ms) <= config.last_contact_threshold
        && stats.last_term == leader.last_term
        && !trailing
}

/// Judges every server against the leader's stats (`None` when no probe leads or the
/// leader did not answer: no health without a leader), updating `memory`.
pub fn judge(
    probes: Vec<ServerProbe>,
    config: &AutopilotConfig,
    memory: &mut HealthMemory,
    now: SystemTime,
) -> Option<AutopilotHealth> {
    let leader = probes.iter().find(|p| p.leader)?.stats?;
    memory.retain(|id, _| probes.iter().any(|p| p.id == *id));
    let servers: Vec<ServerHealth> = probes
        .into_iter()
        .map(|p| {
            let healthy = is_healthy(&p, leader, config);
            let since = match memory.get(&p.id) {
                Some((was, since)) if *was == healthy => *since,
                _ => now,
            };
            memory.insert(p.id.clone(), (healthy, since));
            let stats = p.stats.unwrap_or_default();
            ServerHealth {
                id: p.id,
                name: p.name,
                address: p.address,
                serf_status: p.serf_status,
                version: p.version,
                leader: p.leader,
                last_contact: Duration::from_millis(stats.last_contact_ms),
                last_term: stats.last_term,
                last_index: stats.last_index,
                healthy,
                voter: p.voter,
                stable_since: since,
            }
        })
        .collect();
    let voters = servers.iter().filter(|s| s.voter).count();
    let healthy_voters = servers.iter().filter(|s| s.voter && s.healthy).count();
    Some(AutopilotHealth {
        healthy: healthy_voters == voters,
        failure_tolerance: healthy_voters.saturating_sub(voters / 2 + 1),
        servers,
    })
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

    fn probe(id: &str, leader: bool, stats: Option<RaftStats>) -> ServerProbe {
        ServerProbe {
            id: id.into(),
            name: format!("n-{id}"),
            address: format!("{id}:8300"),
            serf_status: "alive".into(),
            version: "1.10.3".into(),
            leader,
            voter: true,
            stats,
        }
    }

    fn stats(last_index: u64, last_term: u64, last_contact_ms: u64) -> Option<RaftStats> {
        Some(RaftStats {
            last_index,
            last_term,
            last_contact_ms,
        })
    }

    #[test]
    fn health_follows_raft_autopilots_rules() {
        let cfg = AutopilotConfig::default();
        let mut memory = HealthMemory::new();
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
        let healthy = judge(
            vec![
                probe("a", true, stats(1000, 4, 0)),
                probe("b", false, stats(900, 4, 50)),
                probe("c", false, stats(800, 4, 150)),
            ],
            &cfg,
            &mut memory,
            t0,
        )
        .expect("a leader");
        assert!(healthy.healthy);
        assert_eq!(healthy.failure_tolerance, 1);
        assert!(healthy.servers.iter().all(|s| s.healthy && s.stable_since == t0));

        // b trails by more than 250 entries, c lost contact, d is on an old term, e failed.
        let t1 = t0 + Duration::from_secs(5);
        let mut failed = probe("e", false, None);
        failed.serf_status = "failed".into();
        let h = judge(
            vec![
                probe("a", true, stats(1000, 4, 0)),
                probe("b", false, stats(749, 4, 10)),
                probe("c", false, stats(1000, 4, 201)),
                probe("d", false, stats(1000, 3, 10)),
                failed,
            ],
            &cfg,
            &mut memory,
            t1,
        )
        .expect("a leader");
        let verdicts: Vec<(&str, bool)> = h.servers.iter().map(|s| (s.id.as_str(), s.healthy)).collect();
        assert_eq!(
            verdicts,
            [
                ("a", true),
                ("b", false),
                ("c", false),
                ("d", false),
                ("e", false)
            ]
        );
        assert!(!h.healthy);
        assert_eq!(h.failure_tolerance, 0);
        assert_eq!(h.servers[0].stable_since, t0, "a stayed healthy");
        assert_eq!(h.servers[1].stable_since, t1, "b's health changed");
        assert_eq!((h.servers[4].last_index, h.servers[4].last_term), (0, 0));

        // No leader among the probes, or a leader that did not answer: no verdict.
        assert!(judge(vec![probe("b", false, stats(1, 1, 1))], &cfg, &mut memory, t1).is_none());
        assert!(judge(vec![probe("a", true, None)], &cfg, &mut memory, t1).is_none());
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
            ..AutopilotConfig::default()
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
