//! `rconsul agent`: wires storage, raft and the listeners together and runs until a signal.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use rconsul_http_api::{ApiConfig, ApiState};
use rconsul_raft::storage::StorageMode;
use rconsul_raft::{node_id_from_uuid, RaftNode, RaftNodeConfig, ServerNode};
use rconsul_state::StateStore;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::cluster;
use crate::config::AgentConfig;
use crate::durable_file::write_durably;
use crate::local::{self, AgentInfo, Listeners, LocalAgentImpl};
use crate::member_snapshot;

/// How long shutdown waits for raft and its storage to close before exiting anyway.
const RAFT_SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Reads the node UUID from `data_dir/node-id`, creating it on first start.
fn load_or_create_node_id(cfg: &AgentConfig) -> anyhow::Result<String> {
    if let Some(id) = &cfg.node_id {
        return Ok(id.clone());
    }
    let Some(dir) = cfg.data_dir.as_deref() else {
        return Ok(uuid::Uuid::new_v4().to_string());
    };
    let path = dir.join("node-id");
    match std::fs::read_to_string(&path) {
        Ok(id) if !id.trim().is_empty() => Ok(id.trim().to_string()),
        _ => {
            let id = uuid::Uuid::new_v4().to_string();
            write_durably(&path, id.as_bytes()).with_context(|| format!("writing {}", path.display()))?;
            Ok(id)
        }
    }
}

/// Resolves when SIGINT or SIGTERM arrives.
async fn shutdown_signal() -> &'static str {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut int), Ok(mut term)) = (signal(SignalKind::interrupt()), signal(SignalKind::terminate()))
    else {
        // Without signal handlers we can only wait for Ctrl-C through tokio's helper.
        let _ = tokio::signal::ctrl_c().await;
        return "interrupt";
    };
    tokio::select! {
        _ = int.recv() => "interrupt",
        _ = term.recv() => "terminated",
    }
}

/// The cluster machinery an agent runs.
struct ClusterTasks {
    gossip: Arc<rconsul_gossip::Gossip>,
    /// `<data-dir>/serf/local.snapshot`, when the agent has a data dir.
    member_snapshot: Option<std::path::PathBuf>,
}

/// Starts the server port listener, gossip, joining, and the membership loops.
async fn start_cluster(
    cfg: &AgentConfig,
    gossip_keys: Option<Vec<Vec<u8>>>,
    advertise: std::net::IpAddr,
    raft: &Arc<RaftNode>,
    agent: &Arc<LocalAgentImpl>,
    store: &Arc<StateStore>,
    stop_rx: &watch::Receiver<bool>,
) -> anyhow::Result<ClusterTasks> {
    if cfg.ports.server >= 0 && !cfg.dev {
        let port = u16::try_from(cfg.ports.server).context("ports.server out of range")?;
        let addr = SocketAddr::new(cfg.bind_addr, port);
        let listener = std::net::TcpListener::bind(addr)
            .and_then(|l| l.set_nonblocking(true).map(|()| l))
            .with_context(|| format!("cannot listen for server RPC on {addr}"))?;
        // Served on the raft thread: see `RaftNode::spawn_on_raft_thread`.
        let (node, stop) = (raft.clone(), stop_rx.clone());
        raft.spawn_on_raft_thread(async move {
            match TcpListener::from_std(listener) {
                Ok(listener) => rconsul_raft::server::serve(listener, node, stop).await,
                Err(e) => tracing::error!(target: "agent.server.rpc", "cannot serve {addr}: {e}"),
            }
        });
    }
    let serf_port = u16::try_from(cfg.ports.serf_lan).unwrap_or(8301);
    let mut tags: std::collections::BTreeMap<String, String> = agent.tags().into_iter().collect();
    // Clients listen on the server port too (the leader streams the log to them).
    tags.insert("port".into(), cfg.ports.server.max(0).to_string());
    if cfg.bootstrap_expect > 1 {
        tags.insert("expect".into(), cfg.bootstrap_expect.to_string());
    }
    let mut gossip_cfg = rconsul_gossip::GossipConfig::lan(
        SocketAddr::new(cfg.bind_addr, serf_port),
        SocketAddr::new(advertise, serf_port),
        cfg.node_name.clone(),
        tags,
    );
    gossip_cfg.reap.reconnect = Duration::from_millis(cfg.reconnect_timeout_ms);
    gossip_cfg.encryption = gossip_keys.map(|keys| rconsul_gossip::Encryption {
        keys,
        verify_incoming: cfg.encrypt_verify_incoming,
        verify_outgoing: cfg.encrypt_verify_outgoing,
    });
    // Gossip runs on the raft thread too, so that a long HTTP request on the agent's
    // runtime (one worker on a 2-core machine) cannot delay probe acks into a false
    // "failed" (a follower answering 80 MB recursive KV reads was declared failed).
    let gossip = Arc::new(
        raft.spawn_on_raft_thread(rconsul_gossip::Gossip::start(gossip_cfg))
            .await
            .context("the raft thread stopped while gossip started")?
            .map_err(|e| anyhow::anyhow!("{e}"))?,
    );
    let source = gossip.clone();
    agent.set_members_source(Arc::new(move || cluster::api_members(source.members())));
    let mut joins = cluster::resolve_join(&cfg.retry_join, 8301);
    let member_snapshot = cfg
        .data_dir
        .as_deref()
        .filter(|_| !cfg.dev)
        .map(member_snapshot::path);
    if let Some(path) = &member_snapshot {
        let known = member_snapshot::rejoin_addrs(&member_snapshot::load(path));
        if !known.is_empty() {
            tracing::info!(target: "agent.server.serf.lan", "serf: Attempting re-join to previously known nodes: {}", known.len());
            joins.extend(
                known
                    .into_iter()
                    .filter(|a| !joins.contains(a))
                    .collect::<Vec<_>>(),
            );
        }
        tokio::spawn(member_snapshot::keep(
            gossip.clone(),
            path.clone(),
            cfg.node_name.clone(),
            stop_rx.clone(),
        ));
    }
    tokio::spawn(cluster::retry_join(
        gossip.clone(),
        joins,
        Duration::from_millis(cfg.retry_interval_ms),
        stop_rx.clone(),
    ));
    if cfg.server {
        tokio::spawn(cluster::reconcile_raft(
            raft.clone(),
            gossip.clone(),
            cfg.datacenter.clone(),
            cfg.bootstrap_expect,
            cfg.autopilot,
            stop_rx.clone(),
        ));
        tokio::spawn(cluster::reconcile_catalog(
            raft.clone(),
            gossip.clone(),
            store.clone(),
            cfg.datacenter.clone(),
            stop_rx.clone(),
        ));
    }
    Ok(ClusterTasks {
        gossip,
        member_snapshot,
    })
}

/// Runs the agent until it is told to stop.
pub async fn run(cfg: AgentConfig) -> anyhow::Result<()> {
    let started = Instant::now();
    if cfg.bootstrap_expect > 1 {
        tracing::warn!(target: "agent", "bootstrap_expect > 0: expecting {} servers", cfg.bootstrap_expect);
    }
    if let Some(dir) = &cfg.data_dir {
        std::fs::create_dir_all(dir).with_context(|| format!("creating data dir {}", dir.display()))?;
    }
    if cfg.bootstrap_expect == 1 {
        tracing::warn!(target: "agent", "BootstrapExpect is set to 1; this is the same as Bootstrap mode.");
        tracing::warn!(target: "agent", "bootstrap = true: do not enable unless necessary");
    }
    for (key, consequence) in &cfg.unenforced {
        tracing::warn!(target: "agent", "{key} is set, but {consequence}");
    }
    if cfg.acl.enabled && cfg.server && !cfg.tls.internal_rpc.verify_incoming {
        // Forwarded writes are authorized where the HTTP request arrived, not again on the
        // leader: the server port must only admit agents of this cluster.
        tracing::warn!(
            target: "agent",
            "ACLs are enabled but the server port ({}) admits plain connections: whatever reaches it can write without a token. Set tls.internal_rpc.verify_incoming (with verify_server_hostname) or firewall the port",
            cfg.ports.server
        );
    }
    let tls = Arc::new(crate::tls::Configurator::new(&cfg).context("TLS configuration")?);
    let node_id = load_or_create_node_id(&cfg)?;
    let gossip_keys = crate::keyring::resolve(&cfg)?;
    let advertise = cfg.advertise_addr.unwrap_or(cfg.bind_addr);
    let advertise = if advertise.is_unspecified() {
        std::net::IpAddr::from([127, 0, 0, 1])
    } else {
        advertise
    };
    let rpc_port = u16::try_from(cfg.ports.server).unwrap_or(8300);
    let rpc_addr = SocketAddr::new(advertise, rpc_port).to_string();

    // Client agents follow the log as in-memory learners: no raft state on disk.
    let storage = match (&cfg.data_dir, cfg.dev) {
        (Some(dir), false) if cfg.server => StorageMode::Durable(dir.join("rconsul")),
        _ => StorageMode::InMemory,
    };
    let store = Arc::new(StateStore::new());
    let raft = RaftNode::start(
        RaftNodeConfig {
            id: node_id_from_uuid(&node_id),
            node: ServerNode {
                rpc_addr: rpc_addr.clone(),
                name: cfg.node_name.clone(),
                node_id: node_id.clone(),
            },
            storage,
            bootstrap_single: cfg.server && (cfg.dev || cfg.bootstrap || cfg.bootstrap_expect == 1),
            raft_multiplier: cfg.raft_multiplier,
            snapshot_threshold: cfg.raft_snapshot_threshold,
            trailing_logs: cfg.raft_trailing_logs,
            tls: tls.rpc.clone(),
        },
        store.clone(),
    )
    .await
    .context("starting raft")?;

    let (leave_tx, mut leave_rx) = watch::channel(false);
    let agent = LocalAgentImpl::new(
        AgentInfo {
            node_name: cfg.node_name.clone(),
            node_id: node_id.clone(),
            datacenter: cfg.datacenter.clone(),
            advertise_addr: advertise.to_string(),
            server: cfg.server,
            bootstrap: cfg.dev || cfg.bootstrap || cfg.bootstrap_expect == 1,
            server_port: rpc_port,
            serf_lan_port: u16::try_from(cfg.ports.serf_lan).unwrap_or(8301),
            scripts: crate::local::definitions::ScriptChecks::new(
                cfg.enable_script_checks,
                cfg.enable_local_script_checks,
            ),
            config_sources: cfg.config_sources.clone(),
            config_format: cfg.config_format,
            config_fragments: cfg.config_fragments.clone(),
            gossip_encrypted: gossip_keys.is_some(),
            http: listeners(&cfg),
        },
        store.clone(),
        raft.clone(),
        leave_tx,
    );
    let (stop_tx, stop_rx) = watch::channel(false);
    let cluster_tasks = start_cluster(&cfg, gossip_keys, advertise, &raft, &agent, &store, &stop_rx).await?;

    let (services, checks) =
        local::config_services::load(&cfg.config_sources, cfg.config_format, &cfg.config_fragments)
            .map_err(|e| anyhow::anyhow!(e))?;
    agent
        .replace_config_definitions(services, checks)
        .map_err(|e| anyhow::anyhow!("invalid service or check definition in the config: {e}"))?;

    let api = Arc::new(ApiState {
        config: ApiConfig {
            datacenter: cfg.datacenter.clone(),
            node_name: cfg.node_name.clone(),
            pretty_by_default: cfg.dev,
            kv_max_value_size: cfg.kv_max_value_size,
            default_query_time: Duration::from_millis(cfg.default_query_time_ms),
            max_query_time: Duration::from_millis(cfg.max_query_time_ms),
            ui: cfg.ui,
        },
        store: store.clone(),
        consensus: raft.clone(),
        agent: agent.clone(),
        cache: Default::default(),
        events: crate::events::AgentEvents::start(cluster_tasks.gossip.clone(), cfg.node_name.clone(), {
            let agent = agent.clone();
            Arc::new(move || agent.local_services())
        }),
        operator: Arc::new(crate::operator::AgentOperator::new(
            raft.clone(),
            cluster_tasks.gossip.clone(),
            cfg.server,
            cfg.autopilot,
        )),
        acl: crate::acl::api_context(&cfg.acl, &cfg.datacenter, cfg.data_dir.as_deref())?,
    });
    let syncer = tokio::spawn(local::sync::run(agent.clone(), stop_rx.clone()));
    tokio::spawn(crate::sessions::run(store.clone(), raft.clone(), stop_rx.clone()));
    if cfg.server && cfg.acl.enabled {
        tokio::spawn(crate::acl::run_leader(
            store.clone(),
            raft.clone(),
            cfg.acl.initial_management.clone(),
            stop_rx.clone(),
        ));
    }
    if cfg.server {
        tokio::spawn(crate::tombstone_gc::run(
            store.clone(),
            raft.clone(),
            stop_rx.clone(),
        ));
    }
    let mut servers = Vec::new();
    // DNS interface: UDP and TCP on every client address, stopped with the other listeners.
    let dns_acl = cfg.acl.enabled.then(|| api.acl.tokens.clone());
    if let Some(dns) = start_dns(&cfg, &store, dns_acl).await? {
        servers.push(tokio::spawn(dns.run_until(stop_rx.clone())));
    }
    // One count per client IP across every HTTP listener, as Consul keeps it.
    let limiter = rconsul_http_api::conn_limit::ConnLimiter::new(cfg.http_max_conns_per_client);
    let http = (cfg.ports.http >= 0).then_some(("http", cfg.ports.http, None));
    let https = tls.https.clone().map(|t| ("https", cfg.ports.https, Some(t)));
    for (protocol, port, tls) in http.into_iter().chain(https) {
        let port = u16::try_from(port).with_context(|| format!("ports.{protocol} out of range"))?;
        for ip in &cfg.client_addrs {
            let addr = SocketAddr::new(*ip, port);
            let listener = TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen for {} on {addr}", protocol.to_uppercase()))?;
            tracing::info!(target: "agent", "Starting server: address={addr} network=tcp protocol={protocol}");
            let dispatch = rconsul_http_api::dispatch::Dispatch::new(api.clone());
            servers.push(tokio::spawn(rconsul_http_api::server::serve(
                listener,
                dispatch,
                limiter.clone(),
                tls.clone(),
                stop_rx.clone(),
            )));
        }
    }
    let reload_tls = tls.clone();
    agent.set_tls_reload(Arc::new(move || {
        reload_tls.reload().map_err(|e| e.to_string())?;
        tracing::info!(target: "agent", "Reloaded TLS certificates");
        Ok(())
    }));
    if let Some(pid_file) = &cfg.pid_file {
        write_durably(pid_file, std::process::id().to_string().as_bytes())
            .with_context(|| format!("writing pid file {}", pid_file.display()))?;
    }
    tracing::info!(
        target: "agent",
        "Consul agent running! node={} id={} datacenter={} server={} rpc={} started_in={}ms",
        cfg.node_name,
        node_id,
        cfg.datacenter,
        cfg.server,
        rpc_addr,
        started.elapsed().as_millis()
    );

    let mut hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        .context("installing the SIGHUP handler")?;
    let mut raft_failure = None;
    let stop = async {
        loop {
            tokio::select! {
                stopped = raft.core_stopped() => {
                    let why = stopped.unwrap_or_else(|| "its core exited".into());
                    tracing::error!(target: "agent.server.raft", "raft stopped: {why}; exiting (the data dir may need repair)");
                    raft_failure = Some(why);
                    return;
                }
                why = shutdown_signal() => {
                    tracing::info!(target: "agent", "Caught signal: {why}");
                    tracing::info!(target: "agent", "Graceful shutdown disabled. Exiting");
                    return;
                }
                _ = leave_rx.changed() => {
                    tracing::info!(target: "agent", "Graceful leave complete");
                    return;
                }
                _ = hangup.recv() => {
                    tracing::info!(target: "agent", "Caught signal: hangup");
                    if let Err(e) = rconsul_state::agent::LocalAgent::reload(&*agent) {
                        tracing::error!(target: "agent", "Failed to reload configs: {e}");
                    }
                }
            }
        }
    };
    stop.await;
    if *leave_rx.borrow() || !cfg.server {
        // `rconsul leave`, or a client stopping (Consul's leave_on_terminate for clients).
        cluster_tasks.gossip.leave().await;
        if let Some(path) = &cluster_tasks.member_snapshot {
            member_snapshot::mark_left(path);
        }
    }
    let _ = stop_tx.send(true);
    let _ = syncer.await;
    for s in servers {
        let _ = s.await;
    }
    // Every acknowledged write is already on disk, so an exit that skips closing the
    // storage is as safe as kill -9. Waiting without a bound is not: after a storage
    // error (a deleted data dir, a failing disk) sled's closing flush never returns.
    let raft_stopped = tokio::time::timeout(RAFT_SHUTDOWN_GRACE, raft.shutdown()).await;
    if let Some(pid_file) = &cfg.pid_file {
        let _ = std::fs::remove_file(pid_file);
    }
    if raft_stopped.is_err() {
        anyhow::bail!(
            "raft storage did not close within {}s (see the storage errors above); exiting without waiting",
            RAFT_SHUTDOWN_GRACE.as_secs()
        );
    }
    if let Some(why) = raft_failure {
        anyhow::bail!("raft stopped: {why}");
    }
    tracing::info!(target: "agent", "shutdown complete");
    Ok(())
}

/// The HTTP and HTTPS addresses `/v1/agent/self` reports.
fn listeners(cfg: &AgentConfig) -> Listeners {
    let addrs = |port: i32| -> Vec<String> {
        match u16::try_from(port) {
            Ok(port) if port > 0 => cfg
                .client_addrs
                .iter()
                .map(|ip| format!("tcp://{}", SocketAddr::new(*ip, port)))
                .collect(),
            _ => Vec::new(),
        }
    };
    Listeners {
        http_addrs: addrs(cfg.ports.http),
        https_addrs: addrs(cfg.ports.https),
        http_port: cfg.ports.http,
        https_port: cfg.ports.https,
    }
}

// ---------------------------------------------------------------------------------------
// DNS interface
// ---------------------------------------------------------------------------------------

/// The DNS interface's configuration from the agent's.
fn dns_config(cfg: &AgentConfig) -> rconsul_dns::DnsConfig {
    let d = &cfg.dns;
    let ms = Duration::from_millis;
    let mut dns = rconsul_dns::DnsConfig::new(&cfg.datacenter, &cfg.node_name);
    dns.domain = cfg.domain.clone();
    dns.alt_domain = cfg.alt_domain.clone();
    dns.recursors = cfg
        .recursors
        .iter()
        .filter_map(|r| rconsul_dns::parse_recursor(r))
        .collect();
    dns.recursor_timeout = ms(d.recursor_timeout_ms);
    dns.allow_stale = d.allow_stale;
    dns.max_stale = ms(d.max_stale_ms);
    dns.node_ttl = ms(d.node_ttl_ms);
    dns.service_ttl = d
        .service_ttl_ms
        .iter()
        .map(|(k, v)| (k.clone(), ms(*v)))
        .collect();
    dns.only_passing = d.only_passing;
    dns.enable_truncate = d.enable_truncate;
    dns.udp_answer_limit = d.udp_answer_limit as usize;
    dns.a_record_limit = d.a_record_limit as usize;
    dns.disable_compression = d.disable_compression;
    dns.node_meta_txt = d.node_meta_txt;
    dns.soa = rconsul_dns::SoaConfig {
        refresh: d.soa.refresh,
        retry: d.soa.retry,
        expire: d.soa.expire,
        min_ttl: d.soa.min_ttl,
    };
    dns
}

/// Binds UDP and TCP on `ports.dns` for every client address and starts answering; `None`
/// when the DNS port is disabled (negative).
async fn start_dns(
    cfg: &AgentConfig,
    store: &Arc<StateStore>,
    acl_tokens: Option<Arc<rconsul_state::acl::AgentTokens>>,
) -> anyhow::Result<Option<rconsul_dns::DnsServer>> {
    if cfg.ports.dns < 0 {
        return Ok(None);
    }
    let port = u16::try_from(cfg.ports.dns).context("ports.dns out of range")?;
    let (mut udp, mut tcp) = (Vec::new(), Vec::new());
    for ip in &cfg.client_addrs {
        let (u, t) = rconsul_dns::bind(SocketAddr::new(*ip, port)).await?;
        udp.push(u);
        tcp.push(t);
    }
    let acl = acl_tokens.map(|tokens| rconsul_dns::DnsAcl {
        resolver: rconsul_state::acl::Resolver::new(cfg.acl.default_allow, &cfg.datacenter),
        tokens,
    });
    let server = rconsul_dns::DnsServer::start(dns_config(cfg), store.clone(), udp, tcp, acl).await?;
    for addr in server.udp_addrs() {
        tracing::info!(target: "agent", "Started DNS server: address={addr} network=udp");
    }
    for addr in server.tcp_addrs() {
        tracing::info!(target: "agent", "Started DNS server: address={addr} network=tcp");
    }
    Ok(Some(server))
}
