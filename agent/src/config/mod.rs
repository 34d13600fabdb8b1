//! Agent configuration: Consul-style command-line flags and JSON or HCL config files.
//!
//! `parse_agent_args` is the single entry point: it reads `-config-file`/`-config-dir`
//! files first, then applies flags on top (flags win), then fills defaults
//! (dev mode, hostname, ports) and validates.

use std::net::IpAddr;
use std::path::PathBuf;

/// Listener ports; a negative value disables that listener (Consul's `-1`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ports {
    /// HTTP API (default 8500).
    pub http: i32,
    /// DNS interface (default 8600).
    pub dns: i32,
    /// Server RPC / raft (default 8300).
    pub server: i32,
    /// LAN gossip (default 8301).
    pub serf_lan: i32,
    /// WAN gossip (default 8302).
    pub serf_wan: i32,
    /// HTTPS (default -1, disabled).
    pub https: i32,
    /// gRPC (default -1, disabled; 8502 in dev mode).
    pub grpc: i32,
    /// gRPC TLS (default -1, disabled).
    pub grpc_tls: i32,
}

impl Default for Ports {
    fn default() -> Self {
        Ports {
            http: 8500,
            dns: 8600,
            server: 8300,
            serf_lan: 8301,
            serf_wan: 8302,
            https: -1,
            grpc: -1,
            grpc_tls: -1,
        }
    }
}

/// Log verbosity accepted by `-log-level` / `log_level`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogLevel {
    /// Everything.
    Trace,
    /// Debugging detail.
    Debug,
    /// Normal operation (default).
    #[default]
    Info,
    /// Warnings and errors.
    Warn,
    /// Errors only.
    Error,
}

/// `dns_config.soa`: the SOA record's timers, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DnsSoa {
    /// `refresh` (default 3600).
    pub refresh: u32,
    /// `retry` (default 600).
    pub retry: u32,
    /// `expire` (default 86400).
    pub expire: u32,
    /// `min_ttl` (default 0).
    pub min_ttl: u32,
}

/// `dns_config`: how the DNS interface answers (Consul's defaults in `Default`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsSettings {
    /// `allow_stale` (default true).
    pub allow_stale: bool,
    /// `max_stale` in milliseconds (default 87600h).
    pub max_stale_ms: u64,
    /// `node_ttl` in milliseconds (default 0).
    pub node_ttl_ms: u64,
    /// `service_ttl`: service name (or `prefix*`, `*`) → TTL in milliseconds.
    pub service_ttl_ms: Vec<(String, u64)>,
    /// `only_passing` (default false).
    pub only_passing: bool,
    /// `enable_truncate` (default false).
    pub enable_truncate: bool,
    /// `udp_answer_limit` (default 3).
    pub udp_answer_limit: u32,
    /// `a_record_limit` (default 0 = no limit).
    pub a_record_limit: u32,
    /// `recursor_timeout` in milliseconds (default 2 s).
    pub recursor_timeout_ms: u64,
    /// `disable_compression` (default false).
    pub disable_compression: bool,
    /// `enable_additional_node_meta_txt` (default true).
    pub node_meta_txt: bool,
    /// `soa`.
    pub soa: DnsSoa,
}

impl Default for DnsSettings {
    fn default() -> Self {
        DnsSettings {
            allow_stale: true,
            max_stale_ms: 87_600 * 3_600_000,
            node_ttl_ms: 0,
            service_ttl_ms: Vec::new(),
            only_passing: false,
            enable_truncate: false,
            udp_answer_limit: 3,
            a_record_limit: 0,
            recursor_timeout_ms: 2_000,
            disable_compression: false,
            node_meta_txt: true,
            soa: DnsSoa {
                refresh: 3600,
                retry: 600,
                expire: 86400,
                min_ttl: 0,
            },
        }
    }
}

/// The fully resolved configuration of one agent.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentConfig {
    /// `-dev`: in-memory single server with fast timings and pretty JSON.
    pub dev: bool,
    /// `-server`: this agent is a raft voter.
    pub server: bool,
    /// `-bootstrap`: self-elect as a single server.
    pub bootstrap: bool,
    /// `-bootstrap-expect`: number of servers to wait for before bootstrapping (0 = unset).
    pub bootstrap_expect: u32,
    /// `-node`: node name (default: hostname).
    pub node_name: String,
    /// `-node-id`: node UUID (None: read from `data_dir/node-id` or generate).
    pub node_id: Option<String>,
    /// `-node-meta key:value` (repeatable) / `node_meta`.
    pub node_meta: Vec<(String, String)>,
    /// `-datacenter` (lower-cased; default `dc1`).
    pub datacenter: String,
    /// `-data-dir`; required unless `dev`.
    pub data_dir: Option<PathBuf>,
    /// `-bind`: cluster (gossip + raft) address.
    pub bind_addr: IpAddr,
    /// `-advertise`: address other agents use (default: bind).
    pub advertise_addr: Option<IpAddr>,
    /// `-client`: addresses the HTTP and DNS listeners bind to (default 127.0.0.1).
    pub client_addrs: Vec<IpAddr>,
    /// Listener ports.
    pub ports: Ports,
    /// `-log-level`.
    pub log_level: LogLevel,
    /// `-log-json`.
    pub log_json: bool,
    /// `-ui` / `ui_config.enabled`.
    pub ui: bool,
    /// `-retry-join` / `-join` (repeatable) / `retry_join` / `start_join`.
    pub retry_join: Vec<String>,
    /// `-retry-interval` in milliseconds (default 30 s).
    pub retry_interval_ms: u64,
    /// `performance.raft_multiplier` (default 5; dev 1).
    pub raft_multiplier: u32,
    /// `raft_snapshot_threshold`: log entries between snapshots (default 4096
    /// batched entries).
    pub raft_snapshot_threshold: u64,
    /// `raft_trailing_logs`: log entries kept after a snapshot (default 256).
    pub raft_trailing_logs: u64,
    /// `-enable-script-checks` / `enable_script_checks`.
    pub enable_script_checks: bool,
    /// `-enable-local-script-checks` / `enable_local_script_checks`.
    pub enable_local_script_checks: bool,
    /// `-domain` (default `consul.`).
    pub domain: String,
    /// `-alt-domain`.
    pub alt_domain: Option<String>,
    /// `-recursor` (repeatable) / `recursors`.
    pub recursors: Vec<String>,
    /// `dns_config`.
    pub dns: DnsSettings,
    /// `-pid-file`.
    pub pid_file: Option<PathBuf>,
    /// `-default-query-time` in milliseconds (default 300 s).
    pub default_query_time_ms: u64,
    /// `-max-query-time` in milliseconds (default 600 s).
    pub max_query_time_ms: u64,
    /// `kv_max_value_size` / `limits.kv_max_value_size` in bytes (default 524288).
    pub kv_max_value_size: u64,
    /// `limits.http_max_conns_per_client`: HTTP connections one client IP may hold open
    /// (default 200; 0 or less: no limit).
    pub http_max_conns_per_client: usize,
    /// Gossip encryption: the decoded `encrypt` key (16, 24 or 32 bytes), if given.
    pub encrypt_key: Option<Vec<u8>>,
    /// `encrypt_verify_incoming` (default true): refuse unencrypted gossip.
    pub encrypt_verify_incoming: bool,
    /// `encrypt_verify_outgoing` (default true): encrypt outgoing gossip.
    pub encrypt_verify_outgoing: bool,
    /// TLS: `tls { defaults, internal_rpc, https, grpc }` and the older top-level keys.
    pub tls: TlsConfig,
    /// `acl { ... }`: ACL settings and the agent's configured tokens.
    pub acl: AclConfig,
    /// `disable_keyring_file`: keep the gossip keyring out of `<data-dir>/serf/local.keyring`.
    pub disable_keyring_file: bool,
    /// `autopilot`: dead-server cleanup settings (servers only).
    pub autopilot: crate::autopilot::AutopilotConfig,
    /// Settings given that rconsul accepts but does not act on, as (key, consequence);
    /// the agent warns about each at start.
    pub unenforced: Vec<(String, &'static str)>,
    /// `leave_on_terminate` (default: false for servers, true for clients).
    pub leave_on_terminate: Option<bool>,
    /// `reconnect_timeout` in milliseconds: failed members are reaped after it (72 h;
    /// at least 8 h).
    pub reconnect_timeout_ms: u64,
    /// The config files and directories that were loaded, in order (for logs and reload).
    pub config_sources: Vec<PathBuf>,
    /// `-config-format`: the format of every config file (None: by file extension).
    pub config_format: Option<ConfigFormat>,
    /// `-hcl` config fragments, in order (applied after the files and flags).
    pub config_fragments: Vec<String>,
}

/// The syntax of a config file: `-config-format`, or else the file's extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigFormat {
    /// JSON (`.json`).
    Json,
    /// HCL (`.hcl`), read like the equivalent JSON.
    Hcl,
}

mod acl;
mod file;
mod flags;
mod tls;

pub use acl::AclConfig;
#[cfg(test)]
pub use tls::CONSUL_CIPHER_SUITES;
pub use tls::{TlsConfig, TlsProtocolConfig, TlsVersion};

pub use flags::{decode_gossip_key, parse_agent_args, ConfigError, AGENT_USAGE};

/// Reads config files and directories (as listed in [`AgentConfig::config_sources`]) into
/// the JSON value of each file, in load order; HCL files come back as the equivalent JSON.
pub fn load_values(
    sources: &[PathBuf],
    format: Option<ConfigFormat>,
) -> Result<Vec<(PathBuf, serde_json::Value)>, ConfigError> {
    let mut out = Vec::new();
    for source in sources {
        out.extend(file::load_values(source, format)?);
    }
    Ok(out)
}

/// The JSON value of each `-hcl` fragment, named `flags-<i>.hcl` as Consul names them.
pub fn fragment_values(fragments: &[String]) -> Result<Vec<(PathBuf, serde_json::Value)>, ConfigError> {
    fragments
        .iter()
        .enumerate()
        .map(|(i, text)| {
            let value = file::fragment_value(i, text).map_err(ConfigError::Invalid)?;
            Ok((PathBuf::from(file::fragment_name(i)), value))
        })
        .collect()
}
