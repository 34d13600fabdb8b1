//! [`LocalAgentImpl`]: the services and checks this agent owns.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;
use rconsul_state::agent::{AgentError, CheckDefinition, LocalAgent, Member, ServiceDefinition};
use rconsul_state::catalog::{HealthCheck, Service, ServiceAddress};
use rconsul_state::{Consensus, StateStore};
use serde_json::json;
use tokio::sync::{watch, Notify};

use super::definitions::{default_service_check_ids, health_check, runner_spec, ScriptChecks};
use crate::checks::{self, AliasSource, RunnerHandle, Status, StatusSink};

/// Who this agent is; fixed for its lifetime.
#[derive(Debug, Clone)]
pub struct AgentInfo {
    /// Node name.
    pub node_name: String,
    /// Node UUID.
    pub node_id: String,
    /// Datacenter.
    pub datacenter: String,
    /// Address other agents and clients reach this node on.
    pub advertise_addr: String,
    /// Whether this agent is a server.
    pub server: bool,
    /// Whether it bootstrapped itself (`-bootstrap`, `-bootstrap-expect=1`, `-dev`).
    pub bootstrap: bool,
    /// Server RPC port.
    pub server_port: u16,
    /// LAN gossip port.
    pub serf_lan_port: u16,
    /// Where script checks are allowed from (`enable_script_checks` /
    /// `enable_local_script_checks`).
    pub scripts: ScriptChecks,
    /// Config files and dirs, re-read on reload.
    pub config_sources: Vec<PathBuf>,
    /// `-config-format` for those files (None: by extension).
    pub config_format: Option<crate::config::ConfigFormat>,
    /// `-hcl` fragments, re-read on reload like the files.
    pub config_fragments: Vec<String>,
    /// Gossip is encrypted (a keyring is installed).
    pub gossip_encrypted: bool,
    /// The HTTP and HTTPS listeners' addresses and ports (`DebugConfig`'s `HTTPAddrs`,
    /// `HTTPSAddrs`, `HTTPPort`, `HTTPSPort`; -1: disabled).
    pub http: Listeners,
}

/// Where the HTTP API listens, as `DebugConfig` shows it.
#[derive(Debug, Clone, Default)]
pub struct Listeners {
    /// `tcp://ip:port` for each HTTP listener.
    pub http_addrs: Vec<String>,
    /// `tcp://ip:port` for each HTTPS listener.
    pub https_addrs: Vec<String>,
    /// `ports.http`.
    pub http_port: i32,
    /// `ports.https`.
    pub https_port: i32,
}

/// A check this agent owns.
struct LocalCheck {
    check: HealthCheck,
    runner: Option<RunnerHandle>,
    /// `DeregisterCriticalServiceAfter` and when the check went critical.
    deregister_after: Option<Duration>,
    critical_since: Option<Instant>,
    from_config: bool,
}

#[derive(Default)]
struct Inner {
    services: BTreeMap<String, (Service, bool)>,
    checks: BTreeMap<String, LocalCheck>,
}

/// The local agent's registry of services and checks.
pub struct LocalAgentImpl {
    info: AgentInfo,
    inner: Mutex<Inner>,
    store: Arc<StateStore>,
    pub(super) consensus: Arc<dyn Consensus>,
    /// Wakes the anti-entropy loop.
    pub(super) sync_now: Notify,
    /// Set by `/v1/agent/leave`; the agent's main loop exits.
    leave: watch::Sender<bool>,
    started: SystemTime,
    me: Weak<LocalAgentImpl>,
    /// Where `/v1/agent/members` comes from (gossip); None: only this agent.
    members_source: Mutex<Option<MembersSource>>,
    /// Reads the TLS certificates again on reload (set once the listeners run).
    tls_reload: Mutex<Option<TlsReload>>,
}

/// Reloads the TLS certificates; the error is logged and returned by reload.
pub type TlsReload = Arc<dyn Fn() -> Result<(), String> + Send + Sync>;

/// A function listing the cluster's members.
pub type MembersSource = Arc<dyn Fn() -> Vec<Member> + Send + Sync>;

/// Forwards runner results to the agent without keeping it alive.
struct Sink(Weak<LocalAgentImpl>);

impl StatusSink for Sink {
    fn report(&self, check_id: &str, status: Status, output: String) {
        if let Some(agent) = self.0.upgrade() {
            agent.set_status(check_id, status.as_str(), output);
        }
    }
}

/// Reads health for alias checks from the replicated catalog.
struct Alias {
    store: Arc<StateStore>,
    node: String,
}

impl AliasSource for Alias {
    fn aggregate_status(&self, node: Option<&str>, service: Option<&str>) -> Option<Status> {
        let state = self.store.read();
        let node = node.unwrap_or(&self.node);
        state.catalog.node(node)?;
        let checks: Vec<&HealthCheck> = state
            .catalog
            .node_checks(node)
            .filter(|c| c.service_id.is_empty() || service.is_some_and(|s| c.service_id == s))
            .collect();
        if let Some(s) = service {
            state.catalog.node_services(node).find(|svc| svc.id == s)?;
        }
        Some(if checks.iter().any(|c| c.status == "critical") {
            Status::Critical
        } else if checks.iter().any(|c| c.status == "warning") {
            Status::Warning
        } else {
            Status::Passing
        })
    }
}

const NODE_MAINT: &str = "_node_maintenance";

fn service_maint_id(service_id: &str) -> String {
    format!("_service_maintenance:{service_id}")
}

impl LocalAgentImpl {
    /// A new, empty registry. `leave` is signalled by `/v1/agent/leave`.
    pub fn new(
        info: AgentInfo,
        store: Arc<StateStore>,
        consensus: Arc<dyn Consensus>,
        leave: watch::Sender<bool>,
    ) -> Arc<Self> {
        Arc::new_cyclic(|me| LocalAgentImpl {
            info,
            inner: Mutex::new(Inner::default()),
            store,
            consensus,
            sync_now: Notify::new(),
            leave,
            started: SystemTime::now(),
            me: me.clone(),
            members_source: Mutex::new(None),
            tls_reload: Mutex::new(None),
        })
    }

    /// Sets how reload reads the TLS certificates again.
    pub fn set_tls_reload(&self, reload: TlsReload) {
        *self.tls_reload.lock() = Some(reload);
    }

    /// Sets where the member list comes from (gossip).
    pub fn set_members_source(&self, source: MembersSource) {
        *self.members_source.lock() = Some(source);
    }

    /// Who this agent is.
    pub fn info(&self) -> &AgentInfo {
        &self.info
    }

    /// The replicated state this agent reads.
    pub fn store(&self) -> &Arc<StateStore> {
        &self.store
    }

    fn sink(&self) -> Arc<dyn StatusSink> {
        Arc::new(Sink(self.me.clone()))
    }

    fn alias(&self) -> Arc<dyn AliasSource> {
        Arc::new(Alias {
            store: self.store.clone(),
            node: self.info.node_name.clone(),
        })
    }

    /// Records a probe result; wakes anti-entropy only when something changed.
    fn set_status(&self, check_id: &str, status: &str, output: String) {
        let mut inner = self.inner.lock();
        let Some(local) = inner.checks.get_mut(check_id) else {
            return;
        };
        if local.check.status == status && local.check.output == output {
            return;
        }
        if status == "critical" && local.check.status != "critical" {
            local.critical_since = Some(Instant::now());
        } else if status != "critical" {
            local.critical_since = None;
        }
        local.check.status = status.to_string();
        local.check.output = output;
        drop(inner);
        self.sync_now.notify_one();
    }

    /// Snapshot of the services this agent owns.
    pub fn local_services(&self) -> Vec<Service> {
        self.inner
            .lock()
            .services
            .values()
            .map(|(s, _)| s.clone())
            .collect()
    }

    /// Snapshot of the checks this agent owns.
    pub fn local_checks(&self) -> Vec<HealthCheck> {
        self.inner
            .lock()
            .checks
            .values()
            .map(|c| c.check.clone())
            .collect()
    }

    /// Adds `Address`-derived tagged addresses, as Consul's agent does.
    fn with_tagged_addresses(mut service: Service) -> Service {
        if !service.address.is_empty() && service.tagged_addresses.is_none() {
            let port = service.port;
            let is_v6 = service.address.contains(':');
            let (lan, wan) = if is_v6 {
                ("lan_ipv6", "wan_ipv6")
            } else {
                ("lan_ipv4", "wan_ipv4")
            };
            let addr = ServiceAddress {
                address: service.address.clone(),
                port,
            };
            service.tagged_addresses = Some(BTreeMap::from([
                (lan.to_string(), addr.clone()),
                (wan.to_string(), addr),
            ]));
        }
        service
    }

    fn add_check_locked(
        &self,
        inner: &mut Inner,
        mut def: CheckDefinition,
        from_config: bool,
    ) -> Result<(), AgentError> {
        let (service_name, service_tags) = if def.service_id.is_empty() {
            (String::new(), Vec::new())
        } else {
            match inner.services.get(&def.service_id) {
                Some((s, _)) => (s.service.clone(), s.tags.clone()),
                None => {
                    return Err(AgentError::BadRequest(format!(
                        "ServiceID \"{}\" does not exist",
                        def.service_id
                    )))
                }
            }
        };
        if def.id.is_empty() {
            def.id = def.name.clone();
        }
        if def.id.is_empty() {
            return Err(AgentError::BadRequest("Missing check name".into()));
        }
        let spec = runner_spec(&def, self.info.scripts, from_config)?;
        let mut check = health_check(&def, &self.info.node_name, &service_name, &service_tags);
        // A re-registered check keeps its current status until the next probe.
        if let Some(old) = inner.checks.get(&def.id) {
            if def.status.is_empty() {
                check.status = old.check.status.clone();
                check.output = old.check.output.clone();
            }
        }
        let runner = spec.map(|spec| checks::spawn(spec, self.sink(), self.alias()));
        inner.checks.insert(
            def.id.clone(),
            LocalCheck {
                critical_since: (check.status == "critical").then(Instant::now),
                check,
                runner,
                deregister_after: def.deregister_critical_service_after,
                from_config,
            },
        );
        Ok(())
    }

    /// Registers a service (from the API or a config file).
    pub fn add_service(
        &self,
        def: ServiceDefinition,
        replace_existing_checks: bool,
        from_config: bool,
    ) -> Result<(), AgentError> {
        let service = Self::with_tagged_addresses(def.service);
        let mut checks = def.checks;
        default_service_check_ids(&mut checks, &service.id, &service.service);
        // Validate every check before changing anything.
        for c in &checks {
            runner_spec(c, self.info.scripts, from_config)?;
        }
        let mut inner = self.inner.lock();
        if replace_existing_checks {
            let keep: Vec<String> = checks.iter().map(|c| c.id.clone()).collect();
            inner.checks.retain(|id, c| {
                c.check.service_id != service.id
                    || keep.contains(id)
                    || id.starts_with("_service_maintenance:")
            });
        }
        let id = service.id.clone();
        inner.services.insert(id.clone(), (service, from_config));
        // Existing checks of the service pick up its new name and tags.
        let (name, tags) = inner
            .services
            .get(&id)
            .map(|(s, _)| (s.service.clone(), s.tags.clone()))
            .unwrap_or_default();
        for c in inner.checks.values_mut() {
            if c.check.service_id == id {
                c.check.service_name = name.clone();
                c.check.service_tags = tags.clone();
            }
        }
        for c in checks {
            self.add_check_locked(&mut inner, c, from_config)?;
        }
        drop(inner);
        self.sync_now.notify_one();
        Ok(())
    }

    /// Removes a service and its checks.
    pub fn remove_service(&self, id: &str) -> Result<(), AgentError> {
        let mut inner = self.inner.lock();
        if inner.services.remove(id).is_none() {
            return Err(AgentError::NotFound(format!(
                "Unknown service ID \"{id}\". Ensure that the service ID is passed, not the service name."
            )));
        }
        inner.checks.retain(|_, c| c.check.service_id != id);
        drop(inner);
        self.sync_now.notify_one();
        Ok(())
    }

    /// Deregisters services whose checks stayed critical longer than their
    /// `DeregisterCriticalServiceAfter`. Called by the anti-entropy loop.
    pub fn reap_critical_services(&self) {
        let doomed: Vec<String> = {
            let inner = self.inner.lock();
            inner
                .checks
                .values()
                .filter_map(|c| match (c.deregister_after, c.critical_since) {
                    (Some(after), Some(since))
                        if since.elapsed() >= after && !c.check.service_id.is_empty() =>
                    {
                        Some(c.check.service_id.clone())
                    }
                    _ => None,
                })
                .collect()
        };
        for id in doomed {
            tracing::info!(target: "agent", "Check for service has been critical for too long; deregistered service: service={id}");
            let _ = self.remove_service(&id);
        }
    }

    /// Replaces every config-file service and check with `services`/`checks`.
    pub fn replace_config_definitions(
        &self,
        services: Vec<ServiceDefinition>,
        checks: Vec<CheckDefinition>,
    ) -> Result<(), AgentError> {
        {
            let mut inner = self.inner.lock();
            let old_services: Vec<String> = inner
                .services
                .iter()
                .filter(|(_, (_, cfg))| *cfg)
                .map(|(id, _)| id.clone())
                .collect();
            for id in old_services {
                inner.services.remove(&id);
                inner.checks.retain(|_, c| c.check.service_id != id);
            }
            inner.checks.retain(|_, c| !c.from_config);
        }
        for s in services {
            self.add_service(s, true, true)?;
        }
        for c in checks {
            let mut inner = self.inner.lock();
            self.add_check_locked(&mut inner, c, true)?;
        }
        self.sync_now.notify_one();
        Ok(())
    }

    /// This agent's serf tags.
    pub fn tags(&self) -> Vec<(String, String)> {
        self.member().tags
    }

    fn member(&self) -> Member {
        let mut tags = vec![
            (
                "build".to_string(),
                format!("1.10.3:rconsul-{}", env!("CARGO_PKG_VERSION")),
            ),
            ("dc".to_string(), self.info.datacenter.clone()),
            ("id".to_string(), self.info.node_id.clone()),
            ("segment".to_string(), String::new()),
            ("vsn".to_string(), "2".to_string()),
            ("vsn_max".to_string(), "3".to_string()),
            ("vsn_min".to_string(), "2".to_string()),
        ];
        if self.info.server {
            tags.extend([
                ("role".to_string(), "consul".to_string()),
                ("port".to_string(), self.info.server_port.to_string()),
                ("raft_vsn".to_string(), "3".to_string()),
                ("wan_join_port".to_string(), "8302".to_string()),
                ("ft_fs".to_string(), "1".to_string()),
                ("ft_si".to_string(), "1".to_string()),
            ]);
            if self.info.bootstrap {
                tags.push(("bootstrap".to_string(), "1".to_string()));
            }
        } else {
            tags.push(("role".to_string(), "node".to_string()));
        }
        tags.sort();
        Member {
            name: self.info.node_name.clone(),
            addr: self.info.advertise_addr.clone(),
            port: self.info.serf_lan_port,
            tags,
            status: 1,
        }
    }
}

impl LocalAgent for LocalAgentImpl {
    fn self_json(&self) -> serde_json::Value {
        let member = self.member();
        let members = self.members();
        let count = |status: u8| members.iter().filter(|m| m.status == status).count().to_string();
        let tags: BTreeMap<&str, &str> = member
            .tags
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        json!({
            "Config": {
                "Datacenter": self.info.datacenter,
                "PrimaryDatacenter": self.info.datacenter,
                "NodeName": self.info.node_name,
                "NodeID": self.info.node_id,
                "Revision": format!("rconsul-{}", env!("CARGO_PKG_VERSION")),
                "Server": self.info.server,
                "Version": "1.10.3",
                "RconsulVersion": env!("CARGO_PKG_VERSION"),
            },
            "DebugConfig": {
                "Datacenter": self.info.datacenter,
                "NodeName": self.info.node_name,
                "NodeID": self.info.node_id,
                "ServerMode": self.info.server,
                "AdvertiseAddrLAN": self.info.advertise_addr,
                "HTTPAddrs": self.info.http.http_addrs,
                "HTTPSAddrs": self.info.http.https_addrs,
                "HTTPPort": self.info.http.http_port,
                "HTTPSPort": self.info.http.https_port,
                "SessionTTLMin": "10s",
                "AEInterval": "1m0s",
            },
            "Coord": null,
            "Member": {
                "Name": member.name,
                "Addr": member.addr,
                "Port": member.port,
                "Tags": tags,
                "Status": member.status,
                "ProtocolMin": 1,
                "ProtocolMax": 5,
                "ProtocolCur": 2,
                "DelegateMin": 2,
                "DelegateMax": 5,
                "DelegateCur": 4,
            },
            "Stats": {
                "agent": {
                    "check_monitors": "0",
                    "checks": self.inner.lock().checks.len().to_string(),
                    "services": self.inner.lock().services.len().to_string(),
                },
                "build": {
                    "prerelease": "",
                    "revision": format!("rconsul-{}", env!("CARGO_PKG_VERSION")),
                    "version": "1.10.3",
                },
                // The serf figures rconsul keeps; Consul adds queue and clock depths.
                "serf_lan": {
                    "encrypted": self.info.gossip_encrypted.to_string(),
                    "failed": count(4),
                    "left": count(3),
                    "members": members.len().to_string(),
                },
            },
            "Meta": {"consul-network-segment": ""},
            "xDS": null,
        })
    }

    fn members(&self) -> Vec<Member> {
        let source = self.members_source.lock().clone();
        match source {
            Some(list) => list(),
            None => vec![self.member()],
        }
    }

    fn services(&self) -> Vec<Service> {
        self.local_services()
    }

    fn checks(&self) -> Vec<HealthCheck> {
        self.local_checks()
    }

    fn register_service(
        &self,
        def: ServiceDefinition,
        replace_existing_checks: bool,
    ) -> Result<(), AgentError> {
        self.add_service(def, replace_existing_checks, false)
    }

    fn deregister_service(&self, id: &str) -> Result<(), AgentError> {
        self.remove_service(id)
    }

    fn register_check(&self, def: CheckDefinition) -> Result<(), AgentError> {
        if def.name.is_empty() {
            return Err(AgentError::BadRequest("Missing check name".into()));
        }
        let mut inner = self.inner.lock();
        self.add_check_locked(&mut inner, def, false)?;
        drop(inner);
        self.sync_now.notify_one();
        Ok(())
    }

    fn deregister_check(&self, id: &str) -> Result<(), AgentError> {
        let removed = self.inner.lock().checks.remove(id);
        if removed.is_none() {
            return Err(AgentError::NotFound(format!(
                "Unknown check ID \"{id}\". Ensure that the check ID is passed, not the check name."
            )));
        }
        self.sync_now.notify_one();
        Ok(())
    }

    fn update_ttl(&self, id: &str, status: &str, output: &str) -> Result<(), AgentError> {
        {
            let inner = self.inner.lock();
            let Some(local) = inner.checks.get(id) else {
                return Err(AgentError::NotFound(format!(
                    "CheckID \"{id}\" does not have associated TTL"
                )));
            };
            if local.check.check_type != "ttl" {
                return Err(AgentError::BadRequest(format!(
                    "CheckID \"{id}\" does not have associated TTL"
                )));
            }
            if let Some(runner) = &local.runner {
                let parsed = match status {
                    "passing" => Status::Passing,
                    "warning" => Status::Warning,
                    _ => Status::Critical,
                };
                runner.ttl_update(parsed, output.to_string());
            }
        }
        self.set_status(id, status, output.to_string());
        Ok(())
    }

    fn service_maintenance(&self, id: &str, enable: bool, reason: &str) -> Result<(), AgentError> {
        let mut inner = self.inner.lock();
        let Some((svc, _)) = inner.services.get(id) else {
            return Err(AgentError::NotFound(format!(
                "No service registered with ID \"{id}\""
            )));
        };
        let check_id = service_maint_id(id);
        if enable {
            let check = HealthCheck {
                node: self.info.node_name.clone(),
                check_id: check_id.clone(),
                name: "Service Maintenance Mode".into(),
                status: "critical".into(),
                notes: if reason.is_empty() {
                    "Maintenance mode is enabled for this service, but no reason was provided. This is a default message.".into()
                } else {
                    reason.to_string()
                },
                service_id: id.to_string(),
                service_name: svc.service.clone(),
                service_tags: svc.tags.clone(),
                check_type: "maintenance".into(),
                definition: "{}".into(),
                ..Default::default()
            };
            inner.checks.insert(
                check_id,
                LocalCheck {
                    check,
                    runner: None,
                    deregister_after: None,
                    critical_since: None,
                    from_config: false,
                },
            );
            tracing::info!(target: "agent", "Service entered maintenance mode: service={id}");
        } else if inner.checks.remove(&check_id).is_some() {
            tracing::info!(target: "agent", "Service left maintenance mode: service={id}");
        }
        drop(inner);
        self.sync_now.notify_one();
        Ok(())
    }

    fn node_maintenance(&self, enable: bool, reason: &str) {
        let mut inner = self.inner.lock();
        if enable {
            let check = HealthCheck {
                node: self.info.node_name.clone(),
                check_id: NODE_MAINT.into(),
                name: "Node Maintenance Mode".into(),
                status: "critical".into(),
                notes: if reason.is_empty() {
                    "Maintenance mode is enabled for this node, but no reason was provided. This is a default message.".into()
                } else {
                    reason.to_string()
                },
                check_type: "maintenance".into(),
                definition: "{}".into(),
                ..Default::default()
            };
            inner.checks.insert(
                NODE_MAINT.into(),
                LocalCheck {
                    check,
                    runner: None,
                    deregister_after: None,
                    critical_since: None,
                    from_config: false,
                },
            );
            tracing::info!(target: "agent", "Node entered maintenance mode");
        } else if inner.checks.remove(NODE_MAINT).is_some() {
            tracing::info!(target: "agent", "Node left maintenance mode");
        }
        drop(inner);
        self.sync_now.notify_one();
    }

    fn reload(&self) -> Result<(), AgentError> {
        let tls_reload = self.tls_reload.lock().clone();
        if let Some(reload) = tls_reload {
            reload().map_err(|e| AgentError::Internal(format!("Failed to reload configs: TLS: {e}")))?;
        }
        let (services, checks) = super::config_services::load(
            &self.info.config_sources,
            self.info.config_format,
            &self.info.config_fragments,
        )
        .map_err(|e| AgentError::Internal(format!("Failed to reload configs: {e}")))?;
        self.replace_config_definitions(services, checks)?;
        tracing::info!(target: "agent", "Reloading configuration...");
        Ok(())
    }

    fn leave(&self) {
        tracing::info!(target: "agent", "Graceful leave requested");
        let _ = self.leave.send(true);
    }

    fn metrics_json(&self) -> serde_json::Value {
        let state = self.store.read();
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        let (services, checks) = {
            let inner = self.inner.lock();
            (inner.services.len(), inner.checks.len())
        };
        json!({
            "Timestamp": crate::logging::timestamp_at(now),
            "Gauges": [
                {"Name": "consul.kvs.entries", "Value": state.kv.len(), "Labels": {}},
                {"Name": "consul.catalog.nodes", "Value": state.catalog.nodes().count(), "Labels": {}},
                {"Name": "consul.agent.services", "Value": services, "Labels": {}},
                {"Name": "consul.agent.checks", "Value": checks, "Labels": {}},
                {"Name": "consul.runtime.rss_bytes", "Value": rss_bytes(), "Labels": {}},
                {"Name": "consul.runtime.uptime_seconds", "Value": self.started.elapsed().map(|d| d.as_secs()).unwrap_or(0), "Labels": {}},
            ],
            "Points": [],
            "Counters": [],
            "Samples": [],
        })
    }

    fn metrics_prometheus(&self) -> String {
        let json = self.metrics_json();
        let mut out = String::new();
        if let Some(gauges) = json["Gauges"].as_array() {
            for g in gauges {
                let name = g["Name"].as_str().unwrap_or("").replace('.', "_");
                out.push_str(&format!("# TYPE {name} gauge\n{name} {}\n", g["Value"]));
            }
        }
        out
    }
}

/// This process's resident set size, from /proc (0 where unavailable).
fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1).and_then(|p| p.parse::<u64>().ok()))
        .map(|pages| pages * 4096)
        .unwrap_or(0)
}
