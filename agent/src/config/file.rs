//! Configuration files (`-config-file` / `-config-dir`), JSON or HCL, with Consul's snake_case keys.
//!
//! HCL files are converted to the equivalent JSON value first (`rconsul_compat::hcl`), so both formats
//! are decoded and validated by the same code.
//!
//! Files are decoded by walking a `serde_json::Value` (not `serde` derive) so that unknown
//! keys and wrongly typed values produce Consul-style messages naming the key and the file.
//! Every source (each file, and the command line) becomes a [`PartialConfig`]; those are
//! merged in order and resolved into an `AgentConfig` by `flags::parse_agent_args`.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::flags::ConfigError;
use super::ConfigFormat;

/// Listener ports as given by one source (`None` = not set there).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(super) struct PartialPorts {
    pub(super) http: Option<i64>,
    pub(super) dns: Option<i64>,
    pub(super) server: Option<i64>,
    pub(super) serf_lan: Option<i64>,
    pub(super) serf_wan: Option<i64>,
    pub(super) https: Option<i64>,
    pub(super) grpc: Option<i64>,
    pub(super) grpc_tls: Option<i64>,
}

/// `dns_config` as given by one source (`None` = not set there).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(super) struct PartialDns {
    pub(super) allow_stale: Option<bool>,
    pub(super) max_stale_ms: Option<u64>,
    pub(super) node_ttl_ms: Option<u64>,
    /// `service_ttl` entries (name → milliseconds); later sources replace equal names.
    pub(super) service_ttl_ms: Vec<(String, u64)>,
    pub(super) only_passing: Option<bool>,
    pub(super) enable_truncate: Option<bool>,
    pub(super) udp_answer_limit: Option<i64>,
    pub(super) a_record_limit: Option<i64>,
    pub(super) recursor_timeout_ms: Option<u64>,
    pub(super) disable_compression: Option<bool>,
    pub(super) node_meta_txt: Option<bool>,
    pub(super) soa_refresh: Option<u32>,
    pub(super) soa_retry: Option<u32>,
    pub(super) soa_expire: Option<u32>,
    pub(super) soa_min_ttl: Option<u32>,
}

/// The settings one source (a config file or the command line) provides.
///
/// Scalars are `None` when the source does not set them; lists hold only the source's own
/// entries. Values are syntax-checked here; range checks and defaults happen when the merged
/// result is resolved.
#[derive(Debug, Default, Clone, PartialEq)]
pub(super) struct PartialConfig {
    pub(super) server: Option<bool>,
    pub(super) bootstrap: Option<bool>,
    pub(super) bootstrap_expect: Option<i64>,
    pub(super) node_name: Option<String>,
    pub(super) node_id: Option<String>,
    pub(super) node_meta: Vec<(String, String)>,
    pub(super) datacenter: Option<String>,
    pub(super) data_dir: Option<PathBuf>,
    pub(super) bind_addr: Option<IpAddr>,
    pub(super) advertise_addr: Option<IpAddr>,
    pub(super) client_addrs: Option<Vec<IpAddr>>,
    pub(super) ports: PartialPorts,
    pub(super) log_level: Option<String>,
    pub(super) log_json: Option<bool>,
    pub(super) ui: Option<bool>,
    pub(super) retry_join: Vec<String>,
    pub(super) retry_interval_ms: Option<u64>,
    pub(super) raft_protocol: Option<i64>,
    pub(super) raft_multiplier: Option<i64>,
    pub(super) raft_snapshot_threshold: Option<i64>,
    pub(super) raft_trailing_logs: Option<i64>,
    pub(super) enable_script_checks: Option<bool>,
    pub(super) enable_local_script_checks: Option<bool>,
    pub(super) domain: Option<String>,
    pub(super) alt_domain: Option<String>,
    pub(super) recursors: Vec<String>,
    pub(super) dns: PartialDns,
    pub(super) pid_file: Option<PathBuf>,
    pub(super) default_query_time_ms: Option<u64>,
    pub(super) max_query_time_ms: Option<u64>,
    pub(super) kv_max_value_size: Option<u64>,
    pub(super) leave_on_terminate: Option<bool>,
    pub(super) reconnect_timeout_ms: Option<u64>,
    pub(super) encrypt: Option<String>,
    pub(super) http_max_conns_per_client: Option<i64>,
    pub(super) encrypt_verify_incoming: Option<bool>,
    pub(super) encrypt_verify_outgoing: Option<bool>,
    pub(super) disable_keyring_file: Option<bool>,
    /// The TLS keys (top level, `tls`, `auto_encrypt`).
    pub(super) tls: super::tls::PartialTls,
    /// The `acl` block.
    pub(super) acl: super::acl::PartialAcl,
    /// Settings accepted for compatibility that ask for something rconsul does not do:
    /// (key, what the operator gets instead), warned about at start.
    pub(super) unenforced: Vec<(String, &'static str)>,
    pub(super) autopilot_cleanup_dead_servers: Option<bool>,
    pub(super) autopilot_min_quorum: Option<u64>,
    pub(super) autopilot_last_contact_threshold_ms: Option<u64>,
    pub(super) autopilot_max_trailing_logs: Option<u64>,
}

impl PartialConfig {
    /// Layers `other` on top of `self`: scalars set in `other` win, lists append,
    /// `node_meta` keys from `other` replace equal keys (Consul's merge rules).
    pub(super) fn merge(&mut self, other: PartialConfig) {
        macro_rules! scalars {
            ($($field:ident).+ ; $($rest:tt)*) => {
                if other.$($field).+.is_some() {
                    self.$($field).+ = other.$($field).+;
                }
                scalars!($($rest)*);
            };
            () => {};
        }
        scalars!(
            server; bootstrap; bootstrap_expect; node_name; node_id; datacenter; data_dir;
            bind_addr; advertise_addr; client_addrs; log_level; log_json; ui;
            retry_interval_ms; raft_protocol; raft_multiplier; raft_snapshot_threshold;
            raft_trailing_logs; enable_script_checks; enable_local_script_checks; domain;
            alt_domain; pid_file; default_query_time_ms; max_query_time_ms;
            kv_max_value_size; leave_on_terminate; encrypt; reconnect_timeout_ms;
            http_max_conns_per_client; encrypt_verify_incoming; encrypt_verify_outgoing;
            disable_keyring_file; autopilot_cleanup_dead_servers; autopilot_min_quorum;
            autopilot_last_contact_threshold_ms; autopilot_max_trailing_logs;
            ports.http; ports.dns; ports.server; ports.serf_lan; ports.serf_wan;
            ports.https; ports.grpc; ports.grpc_tls;
            dns.allow_stale; dns.max_stale_ms; dns.node_ttl_ms; dns.only_passing;
            dns.enable_truncate; dns.udp_answer_limit; dns.a_record_limit;
            dns.recursor_timeout_ms; dns.disable_compression; dns.node_meta_txt;
            dns.soa_refresh; dns.soa_retry; dns.soa_expire; dns.soa_min_ttl;
        );
        self.tls.merge(other.tls);
        self.acl.merge(other.acl);
        for (name, ttl) in other.dns.service_ttl_ms {
            match self.dns.service_ttl_ms.iter_mut().find(|(n, _)| *n == name) {
                Some(entry) => entry.1 = ttl,
                None => self.dns.service_ttl_ms.push((name, ttl)),
            }
        }
        for (k, v) in other.node_meta {
            set_meta(&mut self.node_meta, k, v);
        }
        self.retry_join.extend(other.retry_join);
        self.recursors.extend(other.recursors);
        for (key, what) in other.unenforced {
            if !self.unenforced.iter().any(|(k, _)| *k == key) {
                self.unenforced.push((key, what));
            }
        }
    }
}

/// Sets `key` in an ordered key/value list, replacing an existing entry in place.
pub(super) fn set_meta(meta: &mut Vec<(String, String)>, key: String, value: String) {
    match meta.iter_mut().find(|(k, _)| *k == key) {
        Some(entry) => entry.1 = value,
        None => meta.push((key, value)),
    }
}

// ---------------------------------------------------------------------------------------
// Loading files and directories
// ---------------------------------------------------------------------------------------

/// Loads one `-config-file` / `-config-dir` argument: a file, or every config file of a
/// directory in lexical order, each decoded into the settings it provides.
pub(super) fn load_path(
    path: &Path,
    format: Option<ConfigFormat>,
) -> Result<Vec<PartialConfig>, ConfigError> {
    load_values(path, format)?
        .into_iter()
        .map(|(file, value)| decode_value(&file.display().to_string(), value).map_err(ConfigError::Invalid))
        .collect()
}

/// Reads one `-config-file` / `-config-dir` argument into the JSON value of each file, in
/// load order (a directory's `*.json` and `*.hcl` files in lexical order; other files are
/// skipped unless `format` is set). HCL is converted to the equivalent JSON value, so the
/// agent settings and the service/check definitions are read the same way from both.
pub(crate) fn load_values(
    path: &Path,
    format: Option<ConfigFormat>,
) -> Result<Vec<(PathBuf, Value)>, ConfigError> {
    let meta = std::fs::metadata(path)
        .map_err(|e| ConfigError::Invalid(format!("Error reading {}: {e}", path.display())))?;
    if !meta.is_dir() {
        let Some(file_format) = format.or_else(|| format_of(path)) else {
            return Err(ConfigError::Invalid(format!(
                "Error loading {}: config file extension must be .hcl or .json, or config format must be set",
                path.display()
            )));
        };
        return Ok(vec![(path.to_path_buf(), read_value(path, file_format)?)]);
    }

    let entries = std::fs::read_dir(path)
        .map_err(|e| ConfigError::Invalid(format!("Error reading {}: {e}", path.display())))?;
    let mut files = Vec::new();
    for entry in entries {
        let entry =
            entry.map_err(|e| ConfigError::Invalid(format!("Error reading {}: {e}", path.display())))?;
        let file = entry.path();
        // Follows symlinks; sub-directories are skipped like Consul does.
        if std::fs::metadata(&file).map(|m| m.is_dir()).unwrap_or(false) {
            continue;
        }
        files.push(file);
    }
    files.sort_by(|a, b| a.file_name().cmp(&b.file_name()));

    let mut out = Vec::new();
    for file in files {
        // Consul skips files with other extensions (README, backups, ...).
        let Some(file_format) = format.or_else(|| format_of(&file)) else {
            continue;
        };
        let value = read_value(&file, file_format)?;
        out.push((file, value));
    }
    Ok(out)
}

/// The format a file's extension names (`.json`, `.hcl`), if any.
fn format_of(path: &Path) -> Option<ConfigFormat> {
    match path.extension().and_then(|e| e.to_str()) {
        Some("json") => Some(ConfigFormat::Json),
        Some("hcl") => Some(ConfigFormat::Hcl),
        _ => None,
    }
}

/// Reads one config file and parses it in `format` to a JSON value.
fn read_value(path: &Path, format: ConfigFormat) -> Result<Value, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError::Invalid(format!("Error reading {}: {e}", path.display())))?;
    parse_text(&path.display().to_string(), &text, format).map_err(ConfigError::Invalid)
}

/// Parses the text of the config file `name` to a JSON value; the error is the full
/// message (`Error parsing <name>: ...`).
fn parse_text(name: &str, text: &str, format: ConfigFormat) -> Result<Value, String> {
    let parsed = match format {
        ConfigFormat::Json => serde_json::from_str(text).map_err(|e| e.to_string()),
        ConfigFormat::Hcl => rconsul_compat::hcl::to_json(text).map_err(|e| e.to_string()),
    };
    parsed.map_err(|msg| format!("Error parsing {name}: {msg}"))
}

/// The name Consul gives the `i`th `-hcl` fragment in messages.
pub(crate) fn fragment_name(i: usize) -> String {
    format!("flags-{i}.hcl")
}

/// Parses the `i`th `-hcl` fragment to a JSON value.
pub(crate) fn fragment_value(i: usize, text: &str) -> Result<Value, String> {
    parse_text(&fragment_name(i), text, ConfigFormat::Hcl)
}

/// Decodes the `i`th `-hcl` fragment like a config file named `flags-<i>.hcl`.
pub(super) fn parse_fragment(i: usize, text: &str) -> Result<PartialConfig, String> {
    decode_value(&fragment_name(i), fragment_value(i, text)?)
}

/// Decodes the JSON text of the config file `name`; the error is the full message
/// (`Error parsing <name>: ...`).
#[cfg(test)]
pub(super) fn parse_json(name: &str, text: &str) -> Result<PartialConfig, String> {
    decode_value(name, parse_text(name, text, ConfigFormat::Json)?)
}

/// Decodes the HCL text of the config file `name`, exactly as the equivalent JSON.
#[cfg(test)]
pub(super) fn parse_hcl(name: &str, text: &str) -> Result<PartialConfig, String> {
    decode_value(name, parse_text(name, text, ConfigFormat::Hcl)?)
}

/// Decodes the parsed value of the config file `name` into the settings it provides; the
/// error is the full message (`Error parsing <name>: ...`).
fn decode_value(name: &str, value: Value) -> Result<PartialConfig, String> {
    let fail = |msg: String| format!("Error parsing {name}: {msg}");
    let Value::Object(root) = value else {
        return Err(fail(format!(
            "expected a JSON object at the top level, got '{}'",
            go_kind(&value)
        )));
    };
    let mut partial = PartialConfig::default();
    let mut unknown = Vec::new();
    decode_root(&root, &mut partial, &mut unknown).map_err(fail)?;
    if !unknown.is_empty() {
        let errors: Vec<String> = unknown
            .iter()
            .map(|k| format!("invalid config key {k}"))
            .collect();
        return Err(fail(multi_error(&errors)));
    }
    Ok(partial)
}

/// Formats a list of errors like Go's `hashicorp/go-multierror`.
fn multi_error(errors: &[String]) -> String {
    let points: Vec<String> = errors.iter().map(|e| format!("* {e}")).collect();
    if errors.len() == 1 {
        format!("1 error occurred:\n\t{}", points.join(""))
    } else {
        format!("{} errors occurred:\n\t{}", errors.len(), points.join("\n\t"))
    }
}

// ---------------------------------------------------------------------------------------
// Decoding the JSON tree
// ---------------------------------------------------------------------------------------

type Decoded<T> = Result<T, String>;

/// Stores `value` into `slot` only when the source sets it (JSON `null` = unset).
fn set<T>(slot: &mut Option<T>, value: Option<T>) {
    if value.is_some() {
        *slot = value;
    }
}

fn decode_root(root: &Map<String, Value>, p: &mut PartialConfig, unknown: &mut Vec<String>) -> Decoded<()> {
    // Deprecated/alternative spellings, applied after the loop only when the preferred key
    // (`ui_config.enabled`, `limits.kv_max_value_size`) is absent, whatever the key order.
    let mut legacy_ui = None;
    let mut top_level_kv_max = None;
    for (key, v) in root {
        let k = key.as_str();
        match k {
            "server" => set(&mut p.server, bool_val(k, v)?),
            "bootstrap" => set(&mut p.bootstrap, bool_val(k, v)?),
            "bootstrap_expect" => set(&mut p.bootstrap_expect, int_val(k, v)?),
            "bind_addr" => {
                if let Some(s) = str_val(k, v)? {
                    p.bind_addr = Some(parse_ip(k, &s)?);
                }
            }
            "advertise_addr" => {
                if let Some(s) = str_val(k, v)? {
                    p.advertise_addr = Some(parse_ip(k, &s)?);
                }
            }
            "client_addr" => {
                if let Some(s) = str_val(k, v)? {
                    p.client_addrs = Some(parse_ip_list(k, &s)?);
                }
            }
            "data_dir" => set(&mut p.data_dir, str_val(k, v)?.map(PathBuf::from)),
            "datacenter" => set(&mut p.datacenter, str_val(k, v)?),
            "node_name" => set(&mut p.node_name, str_val(k, v)?),
            "node_id" => set(&mut p.node_id, str_val(k, v)?),
            "node_meta" => {
                if let Some(m) = object_val(k, v)? {
                    for (mk, mv) in m {
                        let value = str_val(&format!("{k}[{mk}]"), mv)?.unwrap_or_default();
                        set_meta(&mut p.node_meta, mk.clone(), value);
                    }
                }
            }
            "log_level" => set(&mut p.log_level, str_val(k, v)?),
            "log_json" => set(&mut p.log_json, bool_val(k, v)?),
            "ports" => decode_ports(k, v, p, unknown)?,
            "addresses" => decode_addresses(k, v, unknown)?,
            "performance" => decode_performance(k, v, p, unknown)?,
            "autopilot" => decode_autopilot(k, v, p, unknown)?,
            "raft_protocol" => set(&mut p.raft_protocol, int_val(k, v)?),
            "raft_snapshot_threshold" => set(&mut p.raft_snapshot_threshold, int_val(k, v)?),
            "raft_trailing_logs" => set(&mut p.raft_trailing_logs, int_val(k, v)?),
            "enable_script_checks" => set(&mut p.enable_script_checks, bool_val(k, v)?),
            "enable_local_script_checks" => set(&mut p.enable_local_script_checks, bool_val(k, v)?),
            // Deprecated in Consul in favour of ui_config.enabled, which wins when both are set.
            "ui" => legacy_ui = bool_val(k, v)?,
            "ui_config" => decode_ui_config(k, v, p, unknown)?,
            "retry_join" | "start_join" => p.retry_join.extend(str_list(k, v)?),
            "retry_interval" => set(&mut p.retry_interval_ms, duration_val(k, v)?),
            "recursors" => p.recursors.extend(str_list(k, v)?),
            "domain" => set(&mut p.domain, str_val(k, v)?),
            "alt_domain" => set(&mut p.alt_domain, str_val(k, v)?),
            "pid_file" => set(&mut p.pid_file, str_val(k, v)?.map(PathBuf::from)),
            "leave_on_terminate" => set(&mut p.leave_on_terminate, bool_val(k, v)?),
            "reconnect_timeout" => set(&mut p.reconnect_timeout_ms, duration_val(k, v)?),
            "encrypt" => set(&mut p.encrypt, str_val(k, v)?),
            "encrypt_verify_incoming" => set(&mut p.encrypt_verify_incoming, bool_val(k, v)?),
            "encrypt_verify_outgoing" => set(&mut p.encrypt_verify_outgoing, bool_val(k, v)?),
            "disable_keyring_file" => set(&mut p.disable_keyring_file, bool_val(k, v)?),
            "default_query_time" => set(&mut p.default_query_time_ms, duration_val(k, v)?),
            "max_query_time" => set(&mut p.max_query_time_ms, duration_val(k, v)?),
            // Also accepted at the top level (AgentConfig documents both spellings).
            "kv_max_value_size" => top_level_kv_max = u64_val(k, v)?,
            "limits" => decode_limits(k, v, p, unknown)?,
            // Accepted and type-checked, not used (yet).
            "skip_leave_on_interrupt" | "rejoin_after_leave" | "enable_debug" | "disable_update_check" => {
                bool_val(k, v)?;
            }
            "verify_incoming"
            | "verify_outgoing"
            | "verify_server_hostname"
            | "verify_incoming_rpc"
            | "verify_incoming_https"
            | "tls_min_version"
            | "tls_cipher_suites"
            | "tls_prefer_server_cipher_suites" => {
                super::tls::decode_top_level(k, v, &mut p.tls)?;
            }
            "log_file" | "primary_datacenter" => {
                str_val(k, v)?;
            }
            "ca_file" | "ca_path" | "cert_file" | "key_file" => {
                super::tls::decode_top_level(k, v, &mut p.tls)?;
            }
            "dns_config" => decode_dns_config(k, v, p, unknown)?,
            // Free-form sections: accepted; the ones that ask for security or features
            // rconsul lacks are warned about rather than silently ignored.
            "telemetry" => {
                object_val(k, v)?;
            }
            "acl" => super::acl::decode_block(k, v, &mut p.acl, unknown)?,
            "connect" => {
                let enabled = object_val(k, v)?.and_then(|m| m.get("enabled"));
                if enabled.is_some_and(|e| e.as_bool() == Some(true)) {
                    p.unenforced.push((format!("{k}.enabled"), NO_CONNECT));
                }
            }
            "tls" => super::tls::decode_block(k, v, &mut p.tls, unknown)?,
            "auto_encrypt" => {
                super::tls::decode_auto_encrypt(k, v, &mut p.tls)?;
                if object_val(k, v)?.is_some_and(|m| !m.is_empty()) {
                    p.unenforced.push((k.to_string(), NO_AUTO_ENCRYPT));
                }
            }
            // Service and check definitions: type-checked here, registered from the same
            // files by `local::config_services`. An HCL block written several times is a list.
            "service" | "check" => {
                object_or_list(k, v)?;
            }
            "services" | "checks" => {
                array_val(k, v)?;
            }
            _ => unknown.push(k.to_string()),
        }
    }
    if p.ui.is_none() {
        p.ui = legacy_ui;
    }
    if p.kv_max_value_size.is_none() {
        p.kv_max_value_size = top_level_kv_max;
    }
    Ok(())
}

/// What an operator gets instead of `auto_encrypt` (TLS itself is served: `agent/src/tls/`).
const NO_AUTO_ENCRYPT: &str =
    "rconsul does not distribute certificates (auto_encrypt): give every agent cert_file and key_file";
/// What an operator gets instead of Connect.
const NO_CONNECT: &str = "rconsul does not support Connect (service mesh)";

fn decode_ports(key: &str, v: &Value, p: &mut PartialConfig, unknown: &mut Vec<String>) -> Decoded<()> {
    let Some(m) = object_val(key, v)? else {
        return Ok(());
    };
    for (sub, v) in m {
        let k = format!("{key}.{sub}");
        let ports = &mut p.ports;
        match sub.as_str() {
            "http" => set(&mut ports.http, int_val(&k, v)?),
            "dns" => set(&mut ports.dns, int_val(&k, v)?),
            "server" => set(&mut ports.server, int_val(&k, v)?),
            "serf_lan" => set(&mut ports.serf_lan, int_val(&k, v)?),
            "serf_wan" => set(&mut ports.serf_wan, int_val(&k, v)?),
            "https" => set(&mut ports.https, int_val(&k, v)?),
            "grpc" => set(&mut ports.grpc, int_val(&k, v)?),
            "grpc_tls" => set(&mut ports.grpc_tls, int_val(&k, v)?),
            // Connect proxy port ranges: accepted, not used.
            "proxy_min_port" | "proxy_max_port" | "sidecar_min_port" | "sidecar_max_port"
            | "expose_min_port" | "expose_max_port" => {
                int_val(&k, v)?;
            }
            _ => unknown.push(k),
        }
    }
    Ok(())
}

fn decode_addresses(key: &str, v: &Value, unknown: &mut Vec<String>) -> Decoded<()> {
    let Some(m) = object_val(key, v)? else {
        return Ok(());
    };
    for (sub, v) in m {
        let k = format!("{key}.{sub}");
        match sub.as_str() {
            // Per-listener bind addresses. They are validated but not applied: AgentConfig
            // has a single `client_addrs` list and no per-listener fields yet.
            "http" | "dns" | "https" | "grpc" | "grpc_tls" => {
                if let Some(s) = str_val(&k, v)? {
                    validate_listener_addrs(&k, &s)?;
                }
            }
            _ => unknown.push(k),
        }
    }
    Ok(())
}

fn decode_performance(key: &str, v: &Value, p: &mut PartialConfig, unknown: &mut Vec<String>) -> Decoded<()> {
    let Some(m) = object_val(key, v)? else {
        return Ok(());
    };
    for (sub, v) in m {
        let k = format!("{key}.{sub}");
        match sub.as_str() {
            "raft_multiplier" => set(&mut p.raft_multiplier, int_val(&k, v)?),
            "leave_drain_time" | "rpc_hold_timeout" => {
                duration_val(&k, v)?;
            }
            _ => unknown.push(k),
        }
    }
    Ok(())
}

fn decode_autopilot(key: &str, v: &Value, p: &mut PartialConfig, unknown: &mut Vec<String>) -> Decoded<()> {
    let Some(m) = object_val(key, v)? else {
        return Ok(());
    };
    for (sub, v) in m {
        let k = format!("{key}.{sub}");
        match sub.as_str() {
            "cleanup_dead_servers" => set(&mut p.autopilot_cleanup_dead_servers, bool_val(&k, v)?),
            "min_quorum" => set(&mut p.autopilot_min_quorum, u64_val(&k, v)?),
            "last_contact_threshold" => set(&mut p.autopilot_last_contact_threshold_ms, duration_val(&k, v)?),
            "max_trailing_logs" => set(&mut p.autopilot_max_trailing_logs, u64_val(&k, v)?),
            // Accepted; rconsul promotes caught-up servers at once and has no redundancy
            // zones or upgrade migration.
            "server_stabilization_time" => {
                duration_val(&k, v)?;
            }
            "disable_upgrade_migration" => {
                bool_val(&k, v)?;
            }
            "redundancy_zone_tag" | "upgrade_version_tag" => {
                str_val(&k, v)?;
            }
            _ => unknown.push(k),
        }
    }
    Ok(())
}

fn decode_ui_config(key: &str, v: &Value, p: &mut PartialConfig, unknown: &mut Vec<String>) -> Decoded<()> {
    let Some(m) = object_val(key, v)? else {
        return Ok(());
    };
    for (sub, v) in m {
        let k = format!("{key}.{sub}");
        match sub.as_str() {
            "enabled" => set(&mut p.ui, bool_val(&k, v)?),
            "dir" | "content_path" | "metrics_provider" | "metrics_provider_options_json" => {
                str_val(&k, v)?;
            }
            "metrics_provider_files" => {
                str_list(&k, v)?;
            }
            "metrics_proxy" | "dashboard_url_templates" => {
                object_val(&k, v)?;
            }
            _ => unknown.push(k),
        }
    }
    Ok(())
}

fn decode_dns_config(key: &str, v: &Value, p: &mut PartialConfig, unknown: &mut Vec<String>) -> Decoded<()> {
    let Some(m) = object_val(key, v)? else {
        return Ok(());
    };
    for (sub, v) in m {
        let k = format!("{key}.{sub}");
        let dns = &mut p.dns;
        match sub.as_str() {
            "allow_stale" => set(&mut dns.allow_stale, bool_val(&k, v)?),
            "max_stale" => set(&mut dns.max_stale_ms, duration_val(&k, v)?),
            "node_ttl" => set(&mut dns.node_ttl_ms, duration_val(&k, v)?),
            "service_ttl" => {
                if let Some(ttls) = object_val(&k, v)? {
                    for (name, ttl) in ttls {
                        if let Some(ms) = duration_val(&format!("{k}[{name}]"), ttl)? {
                            match dns.service_ttl_ms.iter_mut().find(|(n, _)| n == name) {
                                Some(entry) => entry.1 = ms,
                                None => dns.service_ttl_ms.push((name.clone(), ms)),
                            }
                        }
                    }
                }
            }
            "only_passing" => set(&mut dns.only_passing, bool_val(&k, v)?),
            "enable_truncate" => set(&mut dns.enable_truncate, bool_val(&k, v)?),
            "udp_answer_limit" => set(&mut dns.udp_answer_limit, int_val(&k, v)?),
            "a_record_limit" => set(&mut dns.a_record_limit, int_val(&k, v)?),
            "recursor_timeout" => set(&mut dns.recursor_timeout_ms, duration_val(&k, v)?),
            "disable_compression" => set(&mut dns.disable_compression, bool_val(&k, v)?),
            "enable_additional_node_meta_txt" => set(&mut dns.node_meta_txt, bool_val(&k, v)?),
            "soa" => decode_dns_soa(&k, v, dns, unknown)?,
            // Accepted and type-checked; answers always come from the local state.
            "use_cache" => {
                bool_val(&k, v)?;
            }
            "cache_max_age" => {
                duration_val(&k, v)?;
            }
            "recursor_strategy" | "prefer_namespace" => {
                str_val(&k, v)?;
            }
            _ => unknown.push(k),
        }
    }
    Ok(())
}

fn decode_dns_soa(key: &str, v: &Value, dns: &mut PartialDns, unknown: &mut Vec<String>) -> Decoded<()> {
    let Some(m) = object_val(key, v)? else {
        return Ok(());
    };
    for (sub, v) in m {
        let k = format!("{key}.{sub}");
        let value = match u64_val(&k, v)? {
            None => None,
            Some(n) => {
                Some(u32::try_from(n).map_err(|_| format!("cannot parse '{k}', {n} overflows uint32"))?)
            }
        };
        match sub.as_str() {
            "refresh" => set(&mut dns.soa_refresh, value),
            "retry" => set(&mut dns.soa_retry, value),
            "expire" => set(&mut dns.soa_expire, value),
            "min_ttl" => set(&mut dns.soa_min_ttl, value),
            _ => unknown.push(k),
        }
    }
    Ok(())
}

fn decode_limits(key: &str, v: &Value, p: &mut PartialConfig, unknown: &mut Vec<String>) -> Decoded<()> {
    let Some(m) = object_val(key, v)? else {
        return Ok(());
    };
    for (sub, v) in m {
        let k = format!("{key}.{sub}");
        match sub.as_str() {
            "kv_max_value_size" => set(&mut p.kv_max_value_size, u64_val(&k, v)?),
            "txn_max_req_len" => {
                u64_val(&k, v)?;
            }
            "http_max_conns_per_client" => set(&mut p.http_max_conns_per_client, int_val(&k, v)?),
            "rpc_max_burst" | "rpc_max_conns_per_client" => {
                int_val(&k, v)?;
            }
            "rpc_rate" => {
                float_val(&k, v)?;
            }
            "https_handshake_timeout" | "rpc_handshake_timeout" | "rpc_client_timeout" => {
                duration_val(&k, v)?;
            }
            "request_limits" => {
                object_val(&k, v)?;
            }
            _ => unknown.push(k),
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Typed accessors with mapstructure-style messages
// ---------------------------------------------------------------------------------------

/// Go's name for the type `encoding/json` decodes `v` into.
fn go_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "<nil>",
        Value::Bool(_) => "bool",
        Value::Number(_) => "float64",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

/// Go's `reflect.Kind` name for `v`.
fn go_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "invalid",
        Value::Bool(_) => "bool",
        Value::Number(_) => "float64",
        Value::String(_) => "string",
        Value::Array(_) => "slice",
        Value::Object(_) => "map",
    }
}

/// Renders `v` like Go's `%v`.
fn go_fmt(v: &Value) -> String {
    match v {
        Value::Null => "<nil>".to_string(),
        Value::String(s) => s.clone(),
        Value::Array(a) => format!("[{}]", a.iter().map(go_fmt).collect::<Vec<_>>().join(" ")),
        Value::Object(m) => format!(
            "map[{}]",
            m.iter()
                .map(|(k, v)| format!("{k}:{}", go_fmt(v)))
                .collect::<Vec<_>>()
                .join(" ")
        ),
        other => other.to_string(),
    }
}

fn type_error(key: &str, expected: &str, v: &Value) -> String {
    format!(
        "'{key}' expected type '{expected}', got unconvertible type '{}', value: '{}'",
        go_type(v),
        go_fmt(v)
    )
}

pub(super) fn bool_val(key: &str, v: &Value) -> Decoded<Option<bool>> {
    match v {
        Value::Null => Ok(None),
        Value::Bool(b) => Ok(Some(*b)),
        _ => Err(type_error(key, "bool", v)),
    }
}

pub(super) fn str_val(key: &str, v: &Value) -> Decoded<Option<String>> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s.clone())),
        _ => Err(type_error(key, "string", v)),
    }
}

fn int_val(key: &str, v: &Value) -> Decoded<Option<i64>> {
    match v {
        Value::Null => Ok(None),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                return Ok(Some(i));
            }
            match n.as_f64() {
                Some(f) if f.fract() == 0.0 && f >= i64::MIN as f64 && f <= i64::MAX as f64 => {
                    Ok(Some(f as i64))
                }
                _ => Err(type_error(key, "int", v)),
            }
        }
        _ => Err(type_error(key, "int", v)),
    }
}

fn u64_val(key: &str, v: &Value) -> Decoded<Option<u64>> {
    match int_val(key, v).map_err(|_| type_error(key, "uint64", v))? {
        None => Ok(None),
        Some(i) => u64::try_from(i)
            .map(Some)
            .map_err(|_| format!("cannot parse '{key}', {i} overflows uint64")),
    }
}

fn float_val(key: &str, v: &Value) -> Decoded<Option<f64>> {
    match v {
        Value::Null => Ok(None),
        Value::Number(n) => Ok(n.as_f64()),
        _ => Err(type_error(key, "float64", v)),
    }
}

fn str_list(key: &str, v: &Value) -> Decoded<Vec<String>> {
    match v {
        Value::Null => Ok(Vec::new()),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| match item {
                Value::String(s) => Ok(s.clone()),
                _ => Err(type_error(&format!("{key}[{i}]"), "string", item)),
            })
            .collect(),
        _ => Err(format!(
            "'{key}': source data must be an array or slice, got {}",
            go_kind(v)
        )),
    }
}

fn array_val<'v>(key: &str, v: &'v Value) -> Decoded<Option<&'v Vec<Value>>> {
    match v {
        Value::Null => Ok(None),
        Value::Array(a) => Ok(Some(a)),
        _ => Err(format!(
            "'{key}': source data must be an array or slice, got {}",
            go_kind(v)
        )),
    }
}

/// An object, or a list of objects (repeated HCL blocks).
fn object_or_list(key: &str, v: &Value) -> Decoded<()> {
    match v {
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                object_val(&format!("{key}[{i}]"), item)?;
            }
            Ok(())
        }
        _ => object_val(key, v).map(|_| ()),
    }
}

pub(super) fn object_val<'v>(key: &str, v: &'v Value) -> Decoded<Option<&'v Map<String, Value>>> {
    match v {
        Value::Null => Ok(None),
        Value::Object(m) => Ok(Some(m)),
        _ => Err(format!("'{key}' expected a map, got '{}'", go_kind(v))),
    }
}

pub(super) fn duration_val(key: &str, v: &Value) -> Decoded<Option<u64>> {
    match str_val(key, v)? {
        None => Ok(None),
        Some(s) => parse_duration_ms(&s)
            .map(Some)
            .map_err(|e| format!("{key}: invalid duration: {s:?}: {e}")),
    }
}

// ---------------------------------------------------------------------------------------
// Value parsers shared with the flag parser
// ---------------------------------------------------------------------------------------

/// Parses one IP address for `name` (a config key or `-flag`), with Consul's messages.
pub(super) fn parse_ip(name: &str, s: &str) -> Result<IpAddr, String> {
    let s = s.trim();
    if s.is_empty() {
        return Err(format!("{name} cannot be empty"));
    }
    let list = parse_ip_list(name, s)?;
    match list.as_slice() {
        [ip] => Ok(*ip),
        _ => Err(format!("{name} cannot contain multiple addresses: {s}")),
    }
}

/// Parses a space-separated list of IP addresses (Consul's `client_addr` form).
pub(super) fn parse_ip_list(name: &str, s: &str) -> Result<Vec<IpAddr>, String> {
    if s.contains("{{") {
        return Err(format!(
            "{name}: go-sockaddr templates are not supported yet: {s:?}"
        ));
    }
    s.split_whitespace()
        .map(|a| {
            if a.starts_with("unix://") {
                return Err(format!("{name} cannot be a unix socket"));
            }
            // Go's net.ParseIP does not take "[::]" either; Consul special-cases it.
            if a == "[::]" {
                return Ok(IpAddr::V6(Ipv6Addr::UNSPECIFIED));
            }
            a.parse::<IpAddr>()
                .map_err(|_| format!("{name}: invalid ip address: {a}"))
        })
        .collect()
}

/// Validates an `addresses.*` value: space-separated IPs or `unix://` socket paths.
fn validate_listener_addrs(name: &str, s: &str) -> Result<(), String> {
    if s.contains("{{") {
        return Err(format!(
            "{name}: go-sockaddr templates are not supported yet: {s:?}"
        ));
    }
    for a in s.split_whitespace() {
        if a.starts_with("unix://") || a == "[::]" {
            continue;
        }
        a.parse::<IpAddr>()
            .map_err(|_| format!("{name}: invalid ip address: {a}"))?;
    }
    Ok(())
}

/// Checks a DNS recursor: an IP, optionally with a port (`1.2.3.4:53`, `[::1]:53`).
pub(super) fn valid_recursor(s: &str) -> bool {
    s.parse::<IpAddr>().is_ok() || s.parse::<SocketAddr>().is_ok()
}

/// Parses a Go duration string (`"30s"`, `"1h30m"`, `"250ms"`) into milliseconds
/// (truncating). Negative durations are rejected. Errors use Go's `time` wording.
pub(super) fn parse_duration_ms(s: &str) -> Result<u64, String> {
    rconsul_compat::duration::parse_std(s)
        .map(|d| d.as_millis() as u64)
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn write(dir: &Path, name: &str, body: &str) -> PathBuf {
        let path = dir.join(name);
        let mut f = std::fs::File::create(&path).expect("create");
        f.write_all(body.as_bytes()).expect("write");
        path
    }

    fn err_text(e: ConfigError) -> String {
        match e {
            ConfigError::Invalid(m) => m,
            ConfigError::Usage(m) => panic!("unexpected usage error: {m}"),
        }
    }

    #[test]
    fn decodes_known_keys() {
        let p = parse_json(
            "x.json",
            r#"{
                "server": true, "bootstrap_expect": 3, "bind_addr": "10.0.0.1",
                "advertise_addr": "10.0.0.2", "client_addr": "127.0.0.1 ::1",
                "data_dir": "/var/lib/c", "datacenter": "EU1", "node_name": "n1",
                "node_meta": {"rack": "r1", "zone": "a"}, "log_level": "debug", "log_json": true,
                "ports": {"http": 18500, "dns": -1, "grpc": 8502, "sidecar_min_port": 21000},
                "addresses": {"http": "0.0.0.0 unix:///tmp/x.sock", "dns": "127.0.0.1"},
                "performance": {"raft_multiplier": 2, "leave_drain_time": "5s"},
                "raft_snapshot_threshold": 100, "raft_trailing_logs": 200,
                "ui_config": {"enabled": true, "content_path": "/ui/"},
                "retry_join": ["a", "b"], "start_join": ["c"], "retry_interval": "1m30s",
                "recursors": ["8.8.8.8"], "domain": "example", "alt_domain": "alt",
                "pid_file": "/run/c.pid", "leave_on_terminate": false,
                "default_query_time": "1m", "max_query_time": "2m",
                "limits": {"kv_max_value_size": 1024, "rpc_rate": 10.5, "http_max_conns_per_client": 200},
                "acl": {"enabled": true, "tokens": {"agent": "x"}}, "telemetry": {"anything": [1]},
                "dns_config": {"allow_stale": true}, "connect": {"enabled": true},
                "services": [{"name": "web"}], "service": {"name": "db"},
                "checks": [], "check": {"id": "c"}, "log_file": "/tmp/l",
                "enable_debug": true, "disable_update_check": true, "primary_datacenter": "dc1",
                "verify_incoming": false, "verify_outgoing": false, "verify_server_hostname": false,
                "ca_file": "a", "cert_file": "b", "key_file": "c", "auto_encrypt": {"tls": true},
                "encrypt": "abc", "skip_leave_on_interrupt": true, "rejoin_after_leave": true,
                "enable_script_checks": false, "enable_local_script_checks": true, "ui": false,
                "kv_max_value_size": 7
            }"#,
        )
        .expect("valid config");
        assert_eq!(p.server, Some(true));
        assert_eq!(p.bootstrap_expect, Some(3));
        assert_eq!(p.bind_addr, Some("10.0.0.1".parse().expect("ip")));
        assert_eq!(p.advertise_addr, Some("10.0.0.2".parse().expect("ip")));
        assert_eq!(
            p.client_addrs,
            Some(vec!["127.0.0.1".parse().expect("ip"), "::1".parse().expect("ip")])
        );
        assert_eq!(p.datacenter.as_deref(), Some("EU1"));
        assert_eq!(
            p.node_meta,
            vec![
                ("rack".to_string(), "r1".to_string()),
                ("zone".to_string(), "a".to_string())
            ]
        );
        assert_eq!(p.ports.http, Some(18500));
        assert_eq!(p.ports.dns, Some(-1));
        assert_eq!(p.ports.grpc, Some(8502));
        assert_eq!(p.raft_multiplier, Some(2));
        assert_eq!(p.ui, Some(true), "ui_config.enabled wins over ui");
        assert_eq!(p.retry_join, vec!["a", "b", "c"]);
        assert_eq!(p.retry_interval_ms, Some(90_000));
        assert_eq!(p.kv_max_value_size, Some(1024));
        assert_eq!(p.http_max_conns_per_client, Some(200));
        assert_eq!(p.default_query_time_ms, Some(60_000));
        assert_eq!(p.max_query_time_ms, Some(120_000));
        assert_eq!(p.leave_on_terminate, Some(false));
        assert_eq!(p.log_level.as_deref(), Some("debug"));
    }

    #[test]
    fn unknown_keys_are_named_with_the_file() {
        let e = parse_json("/etc/rconsul/x.json", r#"{"bogus_key": 1}"#).expect_err("unknown key");
        assert_eq!(
            e,
            "Error parsing /etc/rconsul/x.json: 1 error occurred:\n\t* invalid config key bogus_key"
        );

        let e = parse_json("x.json", r#"{"ports": {"bogus": 1}, "zzz": true}"#).expect_err("unknown keys");
        assert_eq!(
            e,
            "Error parsing x.json: 2 errors occurred:\n\t* invalid config key ports.bogus\n\t* invalid config key zzz"
        );
    }

    #[test]
    fn wrong_types_are_named_with_the_file() {
        let e = parse_json("/etc/x.json", r#"{"server": "yes"}"#).expect_err("wrong type");
        assert_eq!(
            e,
            "Error parsing /etc/x.json: 'server' expected type 'bool', got unconvertible type 'string', value: 'yes'"
        );
        let e = parse_json("x.json", r#"{"ports": {"http": "80"}}"#).expect_err("wrong type");
        assert_eq!(
            e,
            "Error parsing x.json: 'ports.http' expected type 'int', got unconvertible type 'string', value: '80'"
        );
        let e = parse_json("x.json", r#"{"ports": {"http": 1.5}}"#).expect_err("fraction");
        assert!(e.contains("'ports.http' expected type 'int'"), "{e}");
        let e = parse_json("x.json", r#"{"retry_join": "a"}"#).expect_err("not a list");
        assert_eq!(
            e,
            "Error parsing x.json: 'retry_join': source data must be an array or slice, got string"
        );
        let e = parse_json("x.json", r#"{"retry_join": ["a", 1]}"#).expect_err("bad element");
        assert!(e.contains("'retry_join[1]' expected type 'string'"), "{e}");
        let e = parse_json("x.json", r#"{"ports": 8500}"#).expect_err("not a map");
        assert_eq!(e, "Error parsing x.json: 'ports' expected a map, got 'float64'");
        let e = parse_json("x.json", r#"{"node_meta": {"a": 1}}"#).expect_err("meta value");
        assert!(e.contains("'node_meta[a]' expected type 'string'"), "{e}");
        let e = parse_json("x.json", r#"{"limits": {"kv_max_value_size": -1}}"#).expect_err("negative");
        assert!(e.contains("limits.kv_max_value_size"), "{e}");
    }

    #[test]
    fn invalid_values_are_named_with_the_file() {
        let e = parse_json("x.json", r#"{"bind_addr": "nope"}"#).expect_err("bad ip");
        assert_eq!(e, "Error parsing x.json: bind_addr: invalid ip address: nope");
        let e = parse_json("x.json", r#"{"client_addr": "127.0.0.1 bad"}"#).expect_err("bad ip");
        assert_eq!(e, "Error parsing x.json: client_addr: invalid ip address: bad");
        let e = parse_json("x.json", r#"{"retry_interval": "10"}"#).expect_err("bad duration");
        assert_eq!(
            e,
            "Error parsing x.json: retry_interval: invalid duration: \"10\": time: missing unit in duration \"10\""
        );
        let e = parse_json("x.json", r#"{"addresses": {"http": "x"}}"#).expect_err("bad addr");
        assert_eq!(e, "Error parsing x.json: addresses.http: invalid ip address: x");
    }

    #[test]
    fn invalid_json_is_reported() {
        let e = parse_json("x.json", "{\"server\": tru}").expect_err("bad json");
        assert!(e.starts_with("Error parsing x.json: "), "{e}");
        let e = parse_json("x.json", "[1]").expect_err("not an object");
        assert!(e.starts_with("Error parsing x.json: "), "{e}");
    }

    #[test]
    fn dns_config_keys() {
        let p = parse_json(
            "x.json",
            r#"{"dns_config": {
                "allow_stale": false, "max_stale": "5s", "node_ttl": "30s",
                "service_ttl": {"*": "5s", "db": "10s"}, "only_passing": true,
                "enable_truncate": true, "udp_answer_limit": 5, "a_record_limit": 2,
                "recursor_timeout": "3s", "disable_compression": true,
                "enable_additional_node_meta_txt": false, "use_cache": true,
                "cache_max_age": "1s", "recursor_strategy": "random",
                "soa": {"refresh": 1, "retry": 2, "expire": 3, "min_ttl": 4}
            }}"#,
        )
        .expect("valid dns_config");
        let d = &p.dns;
        assert_eq!(d.allow_stale, Some(false));
        assert_eq!(d.max_stale_ms, Some(5_000));
        assert_eq!(d.node_ttl_ms, Some(30_000));
        assert_eq!(
            d.service_ttl_ms,
            vec![("*".to_string(), 5_000), ("db".to_string(), 10_000)]
        );
        assert_eq!((d.only_passing, d.enable_truncate), (Some(true), Some(true)));
        assert_eq!((d.udp_answer_limit, d.a_record_limit), (Some(5), Some(2)));
        assert_eq!(d.recursor_timeout_ms, Some(3_000));
        assert_eq!(
            (d.disable_compression, d.node_meta_txt),
            (Some(true), Some(false))
        );
        assert_eq!(
            (d.soa_refresh, d.soa_retry, d.soa_expire, d.soa_min_ttl),
            (Some(1), Some(2), Some(3), Some(4))
        );

        let e = parse_json("x.json", r#"{"dns_config": {"bogus": 1, "soa": {"nope": 1}}}"#)
            .expect_err("unknown keys");
        assert!(e.contains("invalid config key dns_config.bogus"), "{e}");
        assert!(e.contains("invalid config key dns_config.soa.nope"), "{e}");
        let e = parse_json("x.json", r#"{"dns_config": {"node_ttl": 5}}"#).expect_err("wrong type");
        assert!(e.contains("'dns_config.node_ttl' expected type 'string'"), "{e}");
        let e = parse_json("x.json", r#"{"dns_config": {"service_ttl": {"db": "x"}}}"#).expect_err("bad ttl");
        assert!(e.contains("dns_config.service_ttl[db]"), "{e}");
        let e = parse_json("x.json", r#"{"dns_config": {"soa": {"refresh": 5000000000}}}"#)
            .expect_err("overflow");
        assert!(e.contains("overflows uint32"), "{e}");

        let mut a = parse_json(
            "a.json",
            r#"{"dns_config": {"node_ttl": "1s", "service_ttl": {"db": "1s"}}}"#,
        )
        .expect("a");
        let b = parse_json(
            "b.json",
            r#"{"dns_config": {"only_passing": true, "service_ttl": {"db": "2s", "web": "3s"}}}"#,
        )
        .expect("b");
        a.merge(b);
        assert_eq!(a.dns.node_ttl_ms, Some(1_000));
        assert_eq!(a.dns.only_passing, Some(true));
        assert_eq!(
            a.dns.service_ttl_ms,
            vec![("db".to_string(), 2_000), ("web".to_string(), 3_000)]
        );
    }

    #[test]
    fn legacy_spellings_apply_when_alone() {
        let p = parse_json("x.json", r#"{"ui": true, "kv_max_value_size": 7}"#).expect("legacy keys");
        assert_eq!(p.ui, Some(true));
        assert_eq!(p.kv_max_value_size, Some(7));
    }

    #[test]
    fn null_means_unset() {
        let p =
            parse_json("x.json", r#"{"server": null, "ports": null, "retry_join": null}"#).expect("nulls");
        assert_eq!(p, PartialConfig::default());
    }

    #[test]
    fn merge_overrides_scalars_and_appends_lists() {
        let mut a = parse_json(
            "a.json",
            r#"{"server": true, "datacenter": "a", "retry_join": ["x"], "node_meta": {"k": "1", "j": "2"}, "ports": {"http": 1}}"#,
        )
        .expect("a");
        let b = parse_json(
            "b.json",
            r#"{"datacenter": "b", "retry_join": ["y"], "node_meta": {"k": "3"}, "ports": {"dns": 2}}"#,
        )
        .expect("b");
        a.merge(b);
        assert_eq!(a.server, Some(true));
        assert_eq!(a.datacenter.as_deref(), Some("b"));
        assert_eq!(a.retry_join, vec!["x", "y"]);
        let mut meta = a.node_meta.clone();
        meta.sort();
        assert_eq!(meta, vec![("j".into(), "2".into()), ("k".into(), "3".into())]);
        assert_eq!(a.ports.http, Some(1));
        assert_eq!(a.ports.dns, Some(2));
    }

    #[test]
    fn config_dir_loads_json_in_lexical_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        write(
            dir.path(),
            "b.json",
            r#"{"datacenter": "b", "retry_join": ["2"]}"#,
        );
        write(
            dir.path(),
            "a.json",
            r#"{"datacenter": "a", "retry_join": ["1"]}"#,
        );
        write(dir.path(), "c.json", r#"{"retry_join": ["3"]}"#);
        write(dir.path(), "README.md", "not json");
        std::fs::create_dir(dir.path().join("sub.json")).expect("subdir");
        let parts = load_path(dir.path(), None).expect("load dir");
        assert_eq!(parts.len(), 3);
        let mut merged = PartialConfig::default();
        for p in parts {
            merged.merge(p);
        }
        assert_eq!(merged.datacenter.as_deref(), Some("b"));
        assert_eq!(merged.retry_join, vec!["1", "2", "3"]);
    }

    #[test]
    fn hcl_decodes_like_json() {
        let hcl = parse_hcl(
            "x.hcl",
            r#"
            server           = true
            bootstrap_expect = 3
            bind_addr        = "10.0.0.1"
            client_addr      = "127.0.0.1 ::1"
            datacenter       = "EU1"
            node_meta {
              rack = "r1"
              zone = "a"
            }
            ports {
              http             = 18500
              dns              = -1
              grpc             = 8502
              sidecar_min_port = 21000
            }
            addresses {
              http = "0.0.0.0 unix:///tmp/x.sock"
              dns  = "127.0.0.1"
            }
            performance { raft_multiplier = 2 }
            ui_config { enabled = true }
            retry_join     = ["127.0.0.11", "b"]
            start_join     = ["c"]
            retry_interval = "1m30s"
            limits { rpc_rate = 10.5 }
            acl {
              enabled = true
              tokens { agent = "x" }
            }
            "#,
        )
        .expect("valid hcl");
        let json = parse_json(
            "x.json",
            r#"{
                "server": true, "bootstrap_expect": 3, "bind_addr": "10.0.0.1",
                "client_addr": "127.0.0.1 ::1", "datacenter": "EU1",
                "node_meta": {"rack": "r1", "zone": "a"},
                "ports": {"http": 18500, "dns": -1, "grpc": 8502, "sidecar_min_port": 21000},
                "addresses": {"http": "0.0.0.0 unix:///tmp/x.sock", "dns": "127.0.0.1"},
                "performance": {"raft_multiplier": 2}, "ui_config": {"enabled": true},
                "retry_join": ["127.0.0.11", "b"], "start_join": ["c"], "retry_interval": "1m30s",
                "limits": {"rpc_rate": 10.5}, "acl": {"enabled": true, "tokens": {"agent": "x"}}
            }"#,
        )
        .expect("valid json");
        assert_eq!(hcl, json);
        assert_eq!(hcl.ports.dns, Some(-1));
        assert_eq!(hcl.retry_join, vec!["127.0.0.11", "b", "c"]);
    }

    #[test]
    fn hcl_service_and_check_blocks() {
        let one = r#"
            service {
              name = "web"
              port = 80
              meta { version = "1" }
              check {
                http     = "http://localhost/health"
                interval = "10s"
                header   = { "X-Probe" = ["a", "b"] }
              }
            }
        "#;
        parse_hcl("one.hcl", one).expect("service with a check");
        let v = rconsul_compat::hcl::to_json(one).expect("converts");
        assert_eq!(v["service"]["check"]["header"]["X-Probe"][1], "b");
        assert_eq!(v["service"]["meta"]["version"], "1");

        let two = r#"
            service {
              name = "web"
            }
            service {
              name = "db"
            }
            services = [{ name = "a" }, { name = "b", checks = [{ ttl = "5s" }] }]
            checks = { id = "c1", ttl = "10s" }
        "#;
        parse_hcl("two.hcl", two).expect("repeated service blocks");
        let v = rconsul_compat::hcl::to_json(two).expect("converts");
        assert_eq!(v["service"].as_array().map(Vec::len), Some(2));
        assert_eq!(v["services"].as_array().map(Vec::len), Some(2));
        assert_eq!(v["checks"].as_array().map(Vec::len), Some(1));

        let e = parse_hcl("x.hcl", "service = \"web\"").expect_err("not a block");
        assert_eq!(e, "Error parsing x.hcl: 'service' expected a map, got 'string'");
    }

    #[test]
    fn hcl_errors_name_key_and_file() {
        let e = parse_hcl("/etc/x.hcl", "bogus_key = 1\nports { bogus = 2 }").expect_err("unknown keys");
        assert_eq!(
            e,
            "Error parsing /etc/x.hcl: 2 errors occurred:\n\t* invalid config key bogus_key\n\t* invalid config key ports.bogus"
        );
        let e = parse_hcl("x.hcl", "server = \"yes\"").expect_err("wrong type");
        assert_eq!(
            e,
            "Error parsing x.hcl: 'server' expected type 'bool', got unconvertible type 'string', value: 'yes'"
        );
        let e = parse_hcl("x.hcl", "ports { http = \"80\" }").expect_err("wrong type");
        assert!(e.contains("'ports.http' expected type 'int'"), "{e}");
        let e = parse_hcl("x.hcl", "retry_join = \"a\"").expect_err("not a list");
        assert_eq!(
            e,
            "Error parsing x.hcl: 'retry_join': source data must be an array or slice, got string"
        );
        // `ports` written twice is a list, where Consul wants one object.
        let e = parse_hcl("x.hcl", "ports { http = 1 }\nports { dns = 2 }").expect_err("two ports");
        assert_eq!(e, "Error parsing x.hcl: 'ports' expected a map, got 'slice'");
        let e = parse_hcl("x.hcl", "server = true\nports {\n  http = \n}\n").expect_err("syntax");
        assert!(e.starts_with("Error parsing x.hcl: "), "{e}");
        assert!(e.contains("HCL syntax error at line 3, column 10"), "{e}");
        let e = parse_hcl("x.hcl", "node_name = local.name").expect_err("expression");
        assert!(e.starts_with("Error parsing x.hcl: 'node_name': "), "{e}");
    }

    #[test]
    fn config_dir_loads_hcl_and_json_in_lexical_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        write(
            dir.path(),
            "a.json",
            r#"{"datacenter": "a", "retry_join": ["1"]}"#,
        );
        write(dir.path(), "b.hcl", "datacenter = \"b\"\nretry_join = [\"2\"]");
        write(dir.path(), "c.json", r#"{"retry_join": ["3"]}"#);
        write(dir.path(), "notes.txt", "ignored = true");
        let parts = load_path(dir.path(), None).expect("load dir");
        assert_eq!(parts.len(), 3);
        let mut merged = PartialConfig::default();
        for p in parts {
            merged.merge(p);
        }
        assert_eq!(merged.datacenter.as_deref(), Some("b"));
        assert_eq!(merged.retry_join, vec!["1", "2", "3"]);

        write(dir.path(), "d.hcl", "bogus = 1");
        let e = err_text(load_path(dir.path(), None).expect_err("unknown key"));
        assert!(
            e.contains("d.hcl") && e.contains("invalid config key bogus"),
            "{e}"
        );

        // -config-format applies to every file, whatever its extension.
        let f = write(dir.path(), "agent.conf", "server = true");
        assert_eq!(
            load_path(&f, Some(ConfigFormat::Hcl)).expect("hcl")[0].server,
            Some(true)
        );
        let e = err_text(load_path(&f, Some(ConfigFormat::Json)).expect_err("not json"));
        assert!(e.starts_with("Error parsing "), "{e}");
        let e = err_text(load_path(&f, None).expect_err("no format"));
        assert!(e.contains("extension must be .hcl or .json"), "{e}");
    }

    #[test]
    fn file_errors_name_the_path() {
        let dir = tempfile::tempdir().expect("tempdir");
        let f = write(dir.path(), "bad.json", r#"{"bogus_key": true}"#);
        let e = err_text(load_path(&f, None).expect_err("unknown key"));
        assert_eq!(
            e,
            format!(
                "Error parsing {}: 1 error occurred:\n\t* invalid config key bogus_key",
                f.display()
            )
        );
        let missing = dir.path().join("missing.json");
        let e = err_text(load_path(&missing, None).expect_err("missing"));
        assert!(e.contains("missing.json"), "{e}");
    }

    #[test]
    fn durations_in_milliseconds() {
        // Go's parsing itself is tested in rconsul_compat::duration.
        assert_eq!(parse_duration_ms("30s"), Ok(30_000));
        assert_eq!(parse_duration_ms("1.5s"), Ok(1_500));
        assert!(parse_duration_ms("-30s").is_err());
        assert_eq!(
            parse_duration_ms("5x"),
            Err("time: unknown unit \"x\" in duration \"5x\"".to_string())
        );
    }

    #[test]
    fn ip_parsing() {
        assert_eq!(
            parse_ip("bind_addr", "[::]"),
            Ok(IpAddr::V6(Ipv6Addr::UNSPECIFIED))
        );
        assert_eq!(
            parse_ip("bind_addr", ""),
            Err("bind_addr cannot be empty".to_string())
        );
        assert!(parse_ip("bind_addr", "1.1.1.1 2.2.2.2").is_err());
        assert!(parse_ip("bind_addr", "{{ GetPrivateIP }}").is_err());
        assert_eq!(
            parse_ip("bind_addr", "unix:///x"),
            Err("bind_addr cannot be a unix socket".to_string())
        );
        assert!(valid_recursor("8.8.8.8"));
        assert!(valid_recursor("8.8.8.8:53"));
        assert!(valid_recursor("[::1]:53"));
        assert!(!valid_recursor("dns.google"));
    }
}
