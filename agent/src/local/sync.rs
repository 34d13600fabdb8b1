//! Anti-entropy: make the catalog's view of this node match the local agent.
//!
//! Runs on every local change (a registration, a check status change) and once a
//! minute, so drift — an entry removed or edited behind the agent's back — is repaired.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use rconsul_state::catalog::{DeregisterRequest, HealthCheck, Node, RegisterRequest, Service};
use rconsul_state::{Command, CommandResult, Table};
use tokio::sync::watch;

use super::state::LocalAgentImpl;

/// Consul's anti-entropy interval for small clusters.
const SYNC_INTERVAL: Duration = Duration::from_secs(60);
/// Pause after a failed sync (no leader yet) before trying again.
const RETRY_AFTER: Duration = Duration::from_millis(500);

fn without_indexes<T: Clone>(v: &T, f: impl Fn(&mut T)) -> T {
    let mut c = v.clone();
    f(&mut c);
    c
}

/// The node entry this agent wants in the catalog.
fn desired_node(agent: &LocalAgentImpl) -> Node {
    let info = agent.info();
    let addr = info.advertise_addr.clone();
    let (lan, wan) = if addr.contains(':') {
        ("lan_ipv6", "wan_ipv6")
    } else {
        ("lan_ipv4", "wan_ipv4")
    };
    Node {
        id: info.node_id.clone(),
        node: info.node_name.clone(),
        address: addr.clone(),
        datacenter: info.datacenter.clone(),
        tagged_addresses: Some(BTreeMap::from([
            ("lan".to_string(), addr.clone()),
            (lan.to_string(), addr.clone()),
            ("wan".to_string(), addr.clone()),
            (wan.to_string(), addr),
        ])),
        meta: Some(BTreeMap::from([(
            "consul-network-segment".to_string(),
            String::new(),
        )])),
        create_index: 0,
        modify_index: 0,
    }
}

/// Services and checks the agent itself contributes: `consul` on servers.
fn builtin(agent: &LocalAgentImpl) -> (Vec<Service>, Vec<HealthCheck>) {
    let info = agent.info();
    let mut services = Vec::new();
    if info.server {
        services.push(Service {
            id: "consul".into(),
            service: "consul".into(),
            port: u32::from(info.server_port),
            meta: Some(BTreeMap::from([
                ("non_voter".to_string(), "false".to_string()),
                ("raft_version".to_string(), "3".to_string()),
                ("read_replica".to_string(), "false".to_string()),
                ("serf_protocol_current".to_string(), "2".to_string()),
                ("serf_protocol_max".to_string(), "5".to_string()),
                ("serf_protocol_min".to_string(), "1".to_string()),
                ("version".to_string(), "1.10.3".to_string()),
            ])),
            ..Default::default()
        });
    }
    // `serfHealth` belongs to the leader, which derives it from gossip.
    (services, Vec::new())
}

/// One pass: compare and write. Returns false if a write failed (e.g. no leader yet).
pub async fn sync_once(agent: &LocalAgentImpl) -> bool {
    agent.reap_critical_services();
    let node = desired_node(agent);
    let name = node.node.clone();
    let (mut services, mut checks) = builtin(agent);
    services.extend(agent.local_services());
    checks.extend(agent.local_checks());

    let mut commands: Vec<(Command, String)> = Vec::new();
    {
        let state = agent.store().read();
        let cat = &state.catalog;
        let node_ok = cat.node(&name).is_some_and(|n| {
            without_indexes(n, |n| {
                n.create_index = 0;
                n.modify_index = 0
            }) == node
        });
        if !node_ok {
            commands.push((
                Command::CatalogRegister(Box::new(RegisterRequest {
                    node: node.clone(),
                    ..Default::default()
                })),
                "Synced node info".into(),
            ));
        }
        let checks_in_catalog: BTreeMap<&str, &HealthCheck> =
            cat.node_checks(&name).map(|c| (c.check_id.as_str(), c)).collect();
        // Checks that differ from the catalog's copy.
        let mut dirty_checks: Vec<HealthCheck> = checks
            .iter()
            .filter(|check| {
                !checks_in_catalog
                    .get(check.check_id.as_str())
                    .is_some_and(|have| {
                        let a = without_indexes(*have, |c| {
                            c.create_index = 0;
                            c.modify_index = 0
                        });
                        a == **check
                    })
            })
            .cloned()
            .collect();
        let in_catalog: BTreeMap<&str, &Service> =
            cat.node_services(&name).map(|s| (s.id.as_str(), s)).collect();
        for svc in &services {
            let same = in_catalog.get(svc.id.as_str()).is_some_and(|have| {
                let mut a = without_indexes(*have, |s| {
                    s.create_index = 0;
                    s.modify_index = 0
                });
                if svc.enable_tag_override {
                    a.tags = svc.tags.clone();
                }
                a == *svc
            });
            if !same {
                let mut svc = svc.clone();
                if svc.enable_tag_override {
                    if let Some(have) = in_catalog.get(svc.id.as_str()) {
                        svc.tags = have.tags.clone();
                    }
                }
                // The service's own checks go in the same registration, as Consul's
                // anti-entropy sends them: a service never shows in the catalog without
                // its checks (and so never passes before they do).
                let (own, rest): (Vec<HealthCheck>, Vec<HealthCheck>) =
                    dirty_checks.into_iter().partition(|c| c.service_id == svc.id);
                dirty_checks = rest;
                commands.push((
                    Command::CatalogRegister(Box::new(RegisterRequest {
                        node: node.clone(),
                        skip_node_update: true,
                        service: Some(svc.clone()),
                        checks: own,
                    })),
                    format!("Synced service \"{}\"", svc.id),
                ));
            }
        }
        for id in in_catalog.keys() {
            if !services.iter().any(|s| s.id == *id) {
                commands.push((
                    Command::CatalogDeregister(DeregisterRequest {
                        node: name.clone(),
                        service_id: Some(id.to_string()),
                        check_id: None,
                    }),
                    format!("Deregistered service \"{id}\""),
                ));
            }
        }
        for check in dirty_checks {
            commands.push((
                Command::CatalogRegister(Box::new(RegisterRequest {
                    node: node.clone(),
                    skip_node_update: true,
                    service: None,
                    checks: vec![check.clone()],
                })),
                format!("Synced check \"{}\"", check.check_id),
            ));
        }
        for id in checks_in_catalog.keys() {
            if *id != "serfHealth" && !checks.iter().any(|c| c.check_id == *id) {
                commands.push((
                    Command::CatalogDeregister(DeregisterRequest {
                        node: name.clone(),
                        service_id: None,
                        check_id: Some(id.to_string()),
                    }),
                    format!("Deregistered check \"{id}\""),
                ));
            }
        }
    }
    // Node first, then services, then checks (checks need their service), each group
    // written concurrently so the write batcher puts it in one raft entry.
    let mut ok = true;
    let (node_cmds, rest): (Vec<_>, Vec<_>) = commands
        .into_iter()
        .partition(|(_, msg)| msg == "Synced node info");
    let (service_cmds, check_cmds): (Vec<_>, Vec<_>) =
        rest.into_iter().partition(|(_, msg)| msg.contains("service"));
    for group in [node_cmds, service_cmds, check_cmds] {
        let writes = group.into_iter().map(|(cmd, msg)| {
            let consensus = agent.consensus.clone();
            async move { (consensus.write(cmd).await, msg) }
        });
        for (result, msg) in futures_join_all(writes).await {
            match result {
                Ok(CommandResult::Failed(e)) => {
                    tracing::warn!(target: "agent", "anti-entropy: {msg} failed: {e}");
                    ok = false;
                }
                Ok(_) => tracing::info!(target: "agent", "{msg}"),
                Err(e) => {
                    tracing::debug!(target: "agent", "anti-entropy: {msg} failed: {e}");
                    ok = false;
                }
            }
        }
        if !ok {
            break;
        }
    }
    ok
}

/// Runs every future to completion concurrently, keeping their order.
async fn futures_join_all<F>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.into_iter().map(tokio::spawn).collect();
    let mut out = Vec::with_capacity(handles.len());
    for h in handles {
        if let Ok(v) = h.await {
            out.push(v);
        }
    }
    out
}

/// The anti-entropy loop; ends when `stop` turns true.
///
/// Besides local changes and the periodic timer, any catalog change wakes it: the diff
/// only covers this node, so it is cheap, and drift is repaired at once instead of
/// after up to a minute.
pub async fn run(agent: Arc<LocalAgentImpl>, mut stop: watch::Receiver<bool>) {
    tracing::info!(target: "agent", "started state syncer");
    let mut catalog = agent.store().watch(Table::Catalog);
    loop {
        catalog.borrow_and_update();
        let ok = sync_once(&agent).await;
        let wait = if ok { SYNC_INTERVAL } else { RETRY_AFTER };
        tokio::select! {
            _ = agent.sync_now.notified() => {}
            _ = catalog.changed(), if ok => {}
            _ = tokio::time::sleep(wait) => {}
            _ = stop.changed() => return,
        }
    }
}
