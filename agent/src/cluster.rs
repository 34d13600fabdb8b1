//! Cluster wiring of one agent: joining through gossip, feeding gossip into raft
//! membership, and (on the leader) reflecting members into the catalog.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use rconsul_gossip::{Gossip, Member, MemberStatus};
use rconsul_raft::cluster::ServerView;
use rconsul_raft::{node_id_from_uuid, RaftNode, ServerNode};
use rconsul_state::catalog::{DeregisterRequest, HealthCheck, Node, RegisterRequest};
use rconsul_state::{Command, Consensus, StateStore};
use tokio::sync::watch;

use crate::autopilot::{self, AutopilotConfig, DeadServerCleanup};

/// Resolves `-retry-join` entries (`host`, `host:port`, `[v6]:port`) to gossip addresses.
pub fn resolve_join(entries: &[String], default_port: u16) -> Vec<SocketAddr> {
    let mut out = Vec::new();
    for entry in entries {
        match resolve_one(entry, default_port) {
            Ok(addrs) => out.extend(addrs),
            Err(e) => tracing::warn!(target: "agent", "cannot resolve join address {entry}: {e}"),
        }
    }
    out
}

/// Resolves one join address (`host`, `host:port`, `v6`, `[v6]:port`), adding
/// `default_port` when it has none.
pub fn resolve_one(entry: &str, default_port: u16) -> std::io::Result<Vec<SocketAddr>> {
    let with_port = if entry.parse::<SocketAddr>().is_ok()
        || entry
            .rsplit_once(':')
            .is_some_and(|(h, p)| !h.contains(':') && p.parse::<u16>().is_ok())
    {
        entry.to_string()
    } else if entry.contains(':') && !entry.starts_with('[') {
        format!("[{entry}]:{default_port}")
    } else {
        format!("{entry}:{default_port}")
    };
    with_port.to_socket_addrs().map(Iterator::collect)
}

/// Announces to the join addresses until another member shows up: every 200 ms for
/// about three seconds, then backing off to `interval` (Consul's `retry_join` waits the
/// full 30 s after a first failure, which delays clusters started all at once).
pub async fn retry_join(
    gossip: Arc<Gossip>,
    addrs: Vec<SocketAddr>,
    interval: Duration,
    mut stop: watch::Receiver<bool>,
) {
    if addrs.is_empty() {
        return;
    }
    tracing::info!(target: "agent", "Joining cluster...: cluster=LAN");
    let mut delay = Duration::from_millis(200);
    let mut attempts = 0u32;
    loop {
        for addr in &addrs {
            gossip.join(*addr).await;
        }
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = stop.changed() => return,
        }
        if gossip.alive_count() > 1 {
            tracing::info!(target: "agent", "Join cluster completed. Synced with initial agents: cluster=LAN num_agents={}", gossip.alive_count());
            return;
        }
        attempts += 1;
        // Every 200 ms for the first few seconds (servers starting together find each
        // other at once), then backing off to `-retry-interval`.
        if attempts >= 15 {
            delay = (delay * 2).min(interval.max(Duration::from_millis(200)));
        }
        tracing::debug!(target: "agent", "(LAN) joining: lan_addresses={addrs:?}");
    }
}

/// The raft identity a gossip member advertises (its address with its `port` tag).
pub fn raft_identity(m: &Member) -> Option<(u64, ServerNode)> {
    let id = m.tags.get("id")?;
    let port: u16 = m.tags.get("port")?.parse().ok()?;
    Some((
        node_id_from_uuid(id),
        ServerNode {
            rpc_addr: SocketAddr::new(m.addr.ip(), port).to_string(),
            name: m.name.clone(),
            node_id: id.clone(),
        },
    ))
}

/// Builds the raft view of gossip for `datacenter`.
pub fn server_view(members: &[Member], datacenter: &str) -> ServerView {
    let mut view = ServerView::default();
    for m in members {
        if m.tags.get("dc").map(String::as_str) != Some(datacenter) {
            continue;
        }
        let Some((id, node)) = raft_identity(m) else {
            continue;
        };
        let server = m.tags.get("role").map(String::as_str) == Some("consul");
        match m.status {
            MemberStatus::Alive if server => {
                view.alive.insert(id, node);
            }
            MemberStatus::Alive => {
                view.clients.insert(id, node);
            }
            MemberStatus::Left => {
                view.left.insert(id);
            }
            _ => {}
        }
    }
    view
}

/// Keeps raft membership in step with gossip (servers only); on the leader, also
/// removes servers that stay failed (autopilot's dead-server cleanup).
pub async fn reconcile_raft(
    raft: Arc<RaftNode>,
    gossip: Arc<Gossip>,
    datacenter: String,
    expect: u32,
    autopilot: AutopilotConfig,
    mut stop: watch::Receiver<bool>,
) {
    let mut changes = gossip.subscribe();
    let mut cleanup = DeadServerCleanup::default();
    loop {
        let members = gossip.members();
        let view = server_view(&members, &datacenter);
        raft.reconcile_servers(&view, expect).await;
        if raft.is_leader() {
            let voters = raft
                .membership()
                .nodes
                .iter()
                .filter(|n| n.voter)
                .map(|n| n.id)
                .collect();
            let failed = autopilot::failed_servers(&members, &datacenter);
            let due = cleanup.due(&failed, &voters, autopilot, std::time::Instant::now());
            autopilot::remove(&gossip, due).await;
        } else {
            // Only the leader's own observation counts: a new leader starts afresh.
            cleanup = DeadServerCleanup::default();
        }
        // A short tick: a new leader adds waiting servers and clients right away.
        tokio::select! {
            _ = changes.changed() => {}
            _ = tokio::time::sleep(Duration::from_millis(250)) => {}
            _ = stop.changed() => return,
        }
    }
}

fn serf_check(node: &str, status: &str, output: &str) -> HealthCheck {
    HealthCheck {
        node: node.to_string(),
        check_id: "serfHealth".into(),
        name: "Serf Health Status".into(),
        status: status.into(),
        output: output.into(),
        definition: "{}".into(),
        ..Default::default()
    }
}

/// On the leader: registers every member's node with `serfHealth` (passing while
/// alive, critical once failed) and deregisters members that left, like Consul's
/// leader reconciliation.
pub async fn reconcile_catalog(
    raft: Arc<RaftNode>,
    gossip: Arc<Gossip>,
    store: Arc<StateStore>,
    datacenter: String,
    mut stop: watch::Receiver<bool>,
) {
    let mut changes = gossip.subscribe();
    loop {
        if raft.is_leader() {
            let mut commands = Vec::new();
            let members = gossip.members();
            {
                let state = store.read();
                let in_catalog: BTreeSet<String> = state.catalog.nodes().map(|n| n.node.clone()).collect();
                for m in &members {
                    if m.tags.get("dc").map(String::as_str) != Some(datacenter.as_str()) {
                        continue;
                    }
                    let want = match m.status {
                        MemberStatus::Alive => Some(("passing", "Agent alive and reachable")),
                        MemberStatus::Failed => Some(("critical", "Agent not live or unreachable")),
                        MemberStatus::Left | MemberStatus::Leaving => None,
                    };
                    let have = state
                        .catalog
                        .node_checks(&m.name)
                        .find(|c| c.check_id == "serfHealth")
                        .map(|c| (c.status.clone(), c.output.clone()));
                    match want {
                        None => {
                            if in_catalog.contains(&m.name) {
                                tracing::info!(target: "agent.leader", "deregistering member: member={} reason=left", m.name);
                                commands.push(Command::CatalogDeregister(DeregisterRequest {
                                    node: m.name.clone(),
                                    ..Default::default()
                                }));
                            }
                        }
                        Some((status, output)) => {
                            if have.as_ref().map(|(s, o)| (s.as_str(), o.as_str())) == Some((status, output))
                            {
                                continue;
                            }
                            let exists = in_catalog.contains(&m.name);
                            commands.push(Command::CatalogRegister(Box::new(RegisterRequest {
                                node: Node {
                                    id: m.tags.get("id").cloned().unwrap_or_default(),
                                    node: m.name.clone(),
                                    address: m.addr.ip().to_string(),
                                    datacenter: datacenter.clone(),
                                    ..Default::default()
                                },
                                skip_node_update: exists,
                                service: None,
                                checks: vec![serf_check(&m.name, status, output)],
                            })));
                        }
                    }
                }
                // Members gossip forgot after reconnect_timeout leave the catalog too.
                for name in gossip.reaped() {
                    if in_catalog.contains(&name) && !members.iter().any(|m| m.name == name) {
                        tracing::info!(target: "agent.leader", "deregistering member: member={name} reason=reaped");
                        commands.push(Command::CatalogDeregister(DeregisterRequest {
                            node: name,
                            ..Default::default()
                        }));
                    }
                }
            }
            for cmd in commands {
                if let Err(e) = raft.write(cmd).await {
                    tracing::debug!(target: "agent.leader", "member reconcile write failed: {e}");
                    break;
                }
            }
        }
        tokio::select! {
            _ = changes.changed() => {}
            _ = tokio::time::sleep(Duration::from_secs(2)) => {}
            _ = stop.changed() => return,
        }
    }
}

/// Gossip members in the shape `/v1/agent/members` uses.
pub fn api_members(members: Vec<Member>) -> Vec<rconsul_state::agent::Member> {
    members
        .into_iter()
        .map(|m| rconsul_state::agent::Member {
            name: m.name,
            addr: m.addr.ip().to_string(),
            port: m.addr.port(),
            tags: m
                .tags
                .into_iter()
                .collect::<BTreeMap<_, _>>()
                .into_iter()
                .collect(),
            status: m.status as u8,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_addresses_get_the_default_port() {
        let addrs = resolve_join(&["127.0.0.11".into(), "127.0.0.12:9301".into()], 8301);
        let want: Vec<SocketAddr> = vec![
            "127.0.0.11:8301".parse().expect("addr"),
            "127.0.0.12:9301".parse().expect("addr"),
        ];
        assert_eq!(addrs, want);
    }
}
