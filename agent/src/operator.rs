//! The agent's [`Operator`]: the raft configuration seen through raft and gossip,
//! peer removal through the leader, joining a cluster (`/v1/agent/join`),
//! force-leave (`/v1/agent/force-leave`) and autopilot's server health.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use parking_lot::Mutex;
use rconsul_gossip::{ForceLeaveOutcome, Gossip, MemberStatus};
use rconsul_raft::RaftNode;
use rconsul_state::operator::Operator;
use rconsul_state::operator::{AutopilotHealth, OperatorError, PeerSelector, RaftConfiguration, RaftServer};
use rconsul_state::BoxFuture;

use crate::autopilot::{self, AutopilotConfig, HealthMemory, ServerProbe};
use crate::cluster;

/// How long a join waits for the member at the address to answer (memberlist's TCP
/// timeout is 10 s; a live agent on a LAN answers within one round trip).
const JOIN_TIMEOUT: Duration = Duration::from_secs(5);
/// How often a join repeats its announcement while waiting (UDP may drop one).
const JOIN_RETRY: Duration = Duration::from_millis(300);
/// Gossip's default port, used when a join address has none.
const SERF_LAN_PORT: u16 = 8301;

/// Cluster operations of one agent.
pub struct AgentOperator {
    raft: Arc<RaftNode>,
    gossip: Arc<Gossip>,
    server: bool,
    autopilot: AutopilotConfig,
    health_memory: Mutex<HealthMemory>,
}

impl AgentOperator {
    /// Operations over this agent's raft node and gossip, judging server health by
    /// `autopilot`'s thresholds.
    pub fn new(raft: Arc<RaftNode>, gossip: Arc<Gossip>, server: bool, autopilot: AutopilotConfig) -> Self {
        AgentOperator {
            raft,
            gossip,
            server,
            autopilot,
            health_memory: Mutex::default(),
        }
    }

    /// What is known of each server of the raft configuration: gossip's view and its
    /// own raft stats, asked of every server at once.
    async fn probe_servers(&self) -> Vec<ServerProbe> {
        let members = self.gossip.members();
        let mut asks = tokio::task::JoinSet::new();
        let servers = self.raft_configuration().servers;
        for (i, s) in servers.iter().enumerate() {
            let (raft, addr) = (self.raft.clone(), s.address.clone());
            asks.spawn(async move { (i, raft.raft_stats_of(&addr).await.ok()) });
        }
        let mut stats = vec![None; servers.len()];
        while let Some(Ok((i, answer))) = asks.join_next().await {
            stats[i] = answer;
        }
        servers
            .into_iter()
            .zip(stats)
            .map(|(s, stats)| {
                let member = members.iter().find(|m| m.name == s.node);
                ServerProbe {
                    serf_status: member.map_or("none", |m| serf_status(m.status)).to_string(),
                    version: member
                        .and_then(|m| m.tags.get("build"))
                        .map(|b| b.split(':').next().unwrap_or_default().to_string())
                        .unwrap_or_default(),
                    id: s.id,
                    name: s.node,
                    address: s.address,
                    leader: s.leader,
                    voter: s.voter,
                    stats,
                }
            })
            .collect()
    }

    /// Raft ids of the members gossip knows as servers.
    fn server_ids(&self) -> BTreeSet<u64> {
        self.gossip
            .members()
            .iter()
            .filter(|m| m.tags.get("role").map(String::as_str) == Some("consul"))
            .filter_map(|m| cluster::raft_identity(m).map(|(id, _)| id))
            .collect()
    }

    /// Announces to `target` until it shows up alive in gossip, its port refuses, or
    /// [`JOIN_TIMEOUT`] passes. Errors read like memberlist's.
    async fn join_one(&self, target: SocketAddr) -> Result<(), String> {
        let refused = refused(target);
        tokio::pin!(refused);
        let deadline = tokio::time::Instant::now() + JOIN_TIMEOUT;
        let mut changes = self.gossip.subscribe();
        loop {
            if self
                .gossip
                .members()
                .iter()
                .any(|m| m.addr == target && m.status == MemberStatus::Alive)
            {
                return Ok(());
            }
            self.gossip.join(target).await;
            tokio::select! {
                _ = changes.changed() => {}
                _ = tokio::time::sleep(JOIN_RETRY) => {}
                () = &mut refused => {
                    return Err(format!("Failed to join {target}: dial tcp {target}: connect: connection refused"));
                }
                _ = tokio::time::sleep_until(deadline) => {
                    return Err(format!("Failed to join {target}: dial tcp {target}: i/o timeout"));
                }
            }
        }
    }
}

/// Resolves once `target` answers a UDP datagram with "port unreachable" (nothing
/// listens there); stays pending when it cannot tell, and for a live agent, which
/// ignores the one-byte datagram of an unknown kind.
async fn refused(target: SocketAddr) {
    let local: SocketAddr = if target.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let Ok(socket) = tokio::net::UdpSocket::bind(local).await else {
        return std::future::pending().await;
    };
    if socket.connect(target).await.is_err() || socket.send(&[0xff]).await.is_err() {
        return std::future::pending().await;
    }
    let mut buf = [0u8; 16];
    match socket.recv(&mut buf).await {
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {}
        _ => std::future::pending().await,
    }
}

/// serf's name for a member status.
fn serf_status(status: MemberStatus) -> &'static str {
    match status {
        MemberStatus::Alive => "alive",
        MemberStatus::Leaving => "leaving",
        MemberStatus::Left => "left",
        MemberStatus::Failed => "failed",
    }
}

/// memberlist's error list (go-multierror's format).
fn multierror(errors: &[String]) -> String {
    let noun = if errors.len() == 1 { "error" } else { "errors" };
    let mut text = format!("{} {noun} occurred:\n", errors.len());
    for e in errors {
        text.push_str(&format!("\t* {e}\n"));
    }
    text.push('\n');
    text
}

impl Operator for AgentOperator {
    fn raft_configuration(&self) -> RaftConfiguration {
        let membership = self.raft.membership();
        let servers = self.server_ids();
        RaftConfiguration {
            servers: membership
                .nodes
                .into_iter()
                // Client agents follow the log as learners; they are not servers.
                .filter(|n| n.voter || servers.contains(&n.id))
                .map(|n| RaftServer {
                    id: n.node.node_id,
                    node: n.node.name,
                    address: n.node.rpc_addr,
                    leader: membership.leader == Some(n.id),
                    voter: n.voter,
                })
                .collect(),
            index: membership.index,
        }
    }

    fn remove_raft_peer(&self, peer: PeerSelector) -> BoxFuture<'_, Result<(), OperatorError>> {
        Box::pin(async move {
            self.raft.remove_peer(&peer).await.map_err(|e| {
                tracing::warn!(target: "agent.server.operator", "Failed to remove Raft peer: peer={peer} error=\"{e}\"");
                OperatorError(e)
            })
        })
    }

    fn join(&self, addr: String, wan: bool) -> BoxFuture<'_, Result<(), OperatorError>> {
        Box::pin(async move {
            if wan {
                tracing::info!(target: "agent", "(WAN) joining: wan_addresses=[{addr}]");
                return Err(OperatorError(if self.server {
                    "WAN gossip is not supported by rconsul".into()
                } else {
                    "Must be a server to join WAN cluster".into()
                }));
            }
            tracing::info!(target: "agent", "(LAN) joining: lan_addresses=[{addr}]");
            let targets = match cluster::resolve_one(&addr, SERF_LAN_PORT) {
                Ok(targets) if !targets.is_empty() => targets,
                Ok(_) => {
                    return Err(OperatorError(multierror(&[format!(
                        "Failed to resolve {addr}: no addresses"
                    )])))
                }
                Err(e) => {
                    return Err(OperatorError(multierror(&[format!(
                        "Failed to resolve {addr}: {e}"
                    )])))
                }
            };
            let mut errors = Vec::new();
            let mut joined = 0;
            for target in targets {
                match self.join_one(target).await {
                    Ok(()) => joined += 1,
                    Err(e) => errors.push(e),
                }
            }
            if joined == 0 {
                tracing::warn!(target: "agent", "(LAN) couldn't join: number_of_nodes=0 error=\"{}\"", errors.join("; "));
                return Err(OperatorError(multierror(&errors)));
            }
            tracing::info!(target: "agent", "(LAN) joined: number_of_nodes={joined}");
            Ok(())
        })
    }

    fn autopilot_health(&self) -> BoxFuture<'_, Result<AutopilotHealth, OperatorError>> {
        Box::pin(async move {
            let no_leader = || OperatorError("No cluster leader".into());
            if self.raft.membership().leader.is_none() {
                return Err(no_leader());
            }
            let probes = self.probe_servers().await;
            let mut memory = self.health_memory.lock();
            autopilot::judge(probes, &self.autopilot, &mut memory, SystemTime::now()).ok_or_else(no_leader)
        })
    }

    fn force_leave(&self, node: String, prune: bool) -> BoxFuture<'_, Result<(), OperatorError>> {
        Box::pin(async move {
            tracing::info!(target: "agent", "Force leaving node: node={node}");
            match self.gossip.force_leave(&node, prune).await {
                ForceLeaveOutcome::NotFound => {
                    let e = format!("agent: No node found with name '{node}'");
                    tracing::warn!(target: "agent", "Failed to remove node: node={node} error=\"{e}\"");
                    Err(OperatorError(e))
                }
                ForceLeaveOutcome::StillAlive | ForceLeaveOutcome::AlreadyLeft | ForceLeaveOutcome::Left => {
                    Ok(())
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_read_like_go_multierror() {
        assert_eq!(
            multierror(&["Failed to join 127.0.0.9:8301: x".into()]),
            "1 error occurred:\n\t* Failed to join 127.0.0.9:8301: x\n\n"
        );
        assert_eq!(
            multierror(&["a".into(), "b".into()]),
            "2 errors occurred:\n\t* a\n\t* b\n\n"
        );
    }
}
