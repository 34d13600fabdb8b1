//! `rconsul agent` command-line flags, parsed with Go `flag` package semantics, and the
//! final merge (files, then flags), defaults and validation.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;

use super::file::{self, PartialConfig};
use super::{AgentConfig, ConfigFormat, DnsSettings, DnsSoa, LogLevel, Ports};

/// Why the agent configuration could not be built.
///
/// `Display` prints just the message; the caller prints it to stderr (followed by
/// [`AGENT_USAGE`] for `Usage`) and exits with status 1.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// Bad command line (unknown flag, missing or malformed value, extra argument).
    /// An empty message means `-h`/`-help` was given: print only the usage text.
    #[error("{0}")]
    Usage(String),
    /// The flags parsed but the resulting configuration (or a config file) is invalid.
    #[error("{0}")]
    Invalid(String),
}

/// The `rconsul agent` flags, exactly as Go's `flag.PrintDefaults` lists them
/// (alphabetical; no header line, so the caller can prefix its own `Usage:` line).
pub const AGENT_USAGE: &str = "  -advertise value
    \tSets the advertise address to use.
  -alt-domain value
    \tAlternate domain to use for DNS interface.
  -bind value
    \tSets the bind address for cluster communication.
  -bootstrap
    \tSets server to bootstrap mode.
  -bootstrap-expect value
    \tSets server to expect bootstrap mode.
  -client value
    \tSets the address to bind for client access. This includes RPC, DNS, HTTP, HTTPS and gRPC (if configured).
  -config-dir value
    \tPath to a directory to read configuration files from. This will read every file ending in '.json' as configuration in this directory in alphabetical order. Can be specified multiple times.
  -config-file value
    \tPath to a file in JSON or HCL format with a matching file extension. Can be specified multiple times.
  -config-format string
    \tConfig files are in this format irrespective of their extension. Must be 'hcl' or 'json'
  -data-dir value
    \tPath to a data directory to store agent state.
  -datacenter value
    \tDatacenter of the agent.
  -default-query-time value
    \tthe amount of time a blocking query will wait before Consul will force a response. This value can be overridden by the 'wait' query parameter.
  -dev
    \tStarts the agent in development mode.
  -dns-port value
    \tDNS port to use.
  -domain value
    \tDomain to use for DNS interface.
  -enable-local-script-checks
    \tEnables health check scripts from configuration file.
  -enable-script-checks
    \tEnables health check scripts.
  -encrypt value
    \tProvides the gossip encryption key.
  -grpc-port value
    \tSets the gRPC API port to listen on.
  -hcl value
    \thcl config fragment. Can be specified multiple times.
  -http-port value
    \tSets the HTTP API port to listen on.
  -https-port value
    \tSets the HTTPS API port to listen on.
  -join value
    \tAddress of an agent to join at start time. Can be specified multiple times.
  -log-json
    \tOutput logs in JSON format.
  -log-level value
    \tLog level of the agent.
  -max-query-time value
    \tthe maximum amount of time a blocking query can wait before Consul will force a response. Consul applies jitter to the wait time. The jittered time will be capped to MaxQueryTime.
  -node value
    \tName of this node. Must be unique in the cluster.
  -node-id value
    \tA unique ID for this node across space and time. Defaults to a randomly-generated ID that persists in the data-dir.
  -node-meta key:value
    \tAn arbitrary metadata key/value pair for this node, of the format key:value. Can be specified multiple times.
  -pid-file value
    \tPath to file to store agent PID.
  -protocol value
    \tSets the protocol version. Defaults to latest.
  -raft-protocol value
    \tSets the Raft protocol version. Defaults to latest.
  -recursor value
    \tAddress of an upstream DNS server. Can be specified multiple times.
  -rejoin
    \tIgnores a previous leave and attempts to rejoin the cluster.
  -retry-interval value
    \tTime to wait between join attempts.
  -retry-join value
    \tAddress of an agent to join at start time with retries enabled. Can be specified multiple times.
  -serf-lan-port value
    \tSets the Serf LAN port to listen on.
  -serf-wan-port value
    \tSets the Serf WAN port to listen on.
  -server
    \tSwitches agent to server mode.
  -server-port value
    \tSets the server port to listen on.
  -ui
    \tEnables the built-in static web UI server.
";

/// How a flag's value is parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// `-x` or `-x=true|false`; never consumes the next argument.
    Bool,
    /// Go `strconv.Atoi`.
    Int,
    /// Go `time.ParseDuration`, stored in milliseconds.
    Duration,
    /// Any string.
    Str,
}

/// One supported flag (its help text lives in [`AGENT_USAGE`]; a test keeps both in sync).
struct FlagSpec {
    name: &'static str,
    kind: Kind,
}

const fn flag(name: &'static str, kind: Kind) -> FlagSpec {
    FlagSpec { name, kind }
}

/// Every supported flag, sorted by name.
const FLAGS: &[FlagSpec] = &[
    flag("advertise", Kind::Str),
    flag("alt-domain", Kind::Str),
    flag("bind", Kind::Str),
    flag("bootstrap", Kind::Bool),
    flag("bootstrap-expect", Kind::Int),
    flag("client", Kind::Str),
    flag("config-dir", Kind::Str),
    flag("config-file", Kind::Str),
    flag("config-format", Kind::Str),
    flag("data-dir", Kind::Str),
    flag("datacenter", Kind::Str),
    flag("default-query-time", Kind::Duration),
    flag("dev", Kind::Bool),
    flag("dns-port", Kind::Int),
    flag("domain", Kind::Str),
    flag("enable-local-script-checks", Kind::Bool),
    flag("enable-script-checks", Kind::Bool),
    flag("encrypt", Kind::Str),
    flag("grpc-port", Kind::Int),
    flag("hcl", Kind::Str),
    flag("http-port", Kind::Int),
    flag("https-port", Kind::Int),
    flag("join", Kind::Str),
    flag("log-json", Kind::Bool),
    flag("log-level", Kind::Str),
    flag("max-query-time", Kind::Duration),
    flag("node", Kind::Str),
    flag("node-id", Kind::Str),
    flag("node-meta", Kind::Str),
    flag("pid-file", Kind::Str),
    flag("protocol", Kind::Int),
    flag("raft-protocol", Kind::Int),
    flag("recursor", Kind::Str),
    flag("rejoin", Kind::Bool),
    flag("retry-interval", Kind::Duration),
    flag("retry-join", Kind::Str),
    flag("serf-lan-port", Kind::Int),
    flag("serf-wan-port", Kind::Int),
    flag("server", Kind::Bool),
    flag("server-port", Kind::Int),
    flag("ui", Kind::Bool),
];

/// A parsed flag value.
#[derive(Debug, Clone, PartialEq)]
enum FlagValue {
    Bool(bool),
    Int(i64),
    DurationMs(u64),
    Str(String),
}

/// Parses the arguments after `rconsul agent` into the agent configuration.
///
/// Order of precedence (lowest first): built-in defaults (dev-mode defaults with `-dev`),
/// config files in the order given (`-config-dir` contents in lexical order; later files
/// override scalars, lists append), then flags (which override scalars and append to lists).
pub fn parse_agent_args(args: &[String]) -> Result<AgentConfig, ConfigError> {
    let parsed = parse_flags(args)?;
    let cmdline = CommandLine::from_flags(parsed)?;

    let format = match cmdline.config_format.as_deref() {
        None | Some("") => None,
        Some("json") => Some(ConfigFormat::Json),
        Some("hcl") => Some(ConfigFormat::Hcl),
        Some(other) => {
            return Err(ConfigError::Invalid(format!(
                "-config-format must be either 'hcl' or 'json', got {other:?}"
            )))
        }
    };

    let mut merged = PartialConfig::default();
    for path in &cmdline.config_paths {
        for part in file::load_path(path, format)? {
            merged.merge(part);
        }
    }
    merged.merge(cmdline.partial);
    // `-hcl` fragments come after the flags, as in Consul (`flags-0.hcl`, ...).
    for (i, fragment) in cmdline.hcl.iter().enumerate() {
        merged.merge(file::parse_fragment(i, fragment).map_err(ConfigError::Invalid)?);
    }
    let mut cfg = resolve(cmdline.dev, merged, cmdline.config_paths)?;
    cfg.config_format = format;
    cfg.config_fragments = cmdline.hcl;
    Ok(cfg)
}

/// Go `flag.FlagSet.Parse`: returns the flags in command-line order.
fn parse_flags(args: &[String]) -> Result<Vec<(&'static str, FlagValue)>, ConfigError> {
    let usage = ConfigError::Usage;
    let mut out = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let arg = args[i].as_str();
        if arg.len() < 2 || !arg.starts_with('-') {
            break; // first non-flag argument
        }
        let mut name = &arg[1..];
        if let Some(rest) = name.strip_prefix('-') {
            if rest.is_empty() {
                i += 1; // "--" ends the flags
                break;
            }
            name = rest;
        }
        if name.is_empty() || name.starts_with('-') || name.starts_with('=') {
            return Err(usage(format!("bad flag syntax: {arg}")));
        }
        i += 1;
        let (name, inline) = match name.find('=') {
            Some(eq) => (&name[..eq], Some(&name[eq + 1..])),
            None => (name, None),
        };
        let Some(spec) = FLAGS.iter().find(|f| f.name == name) else {
            if name == "h" || name == "help" {
                return Err(usage(String::new()));
            }
            return Err(usage(format!("flag provided but not defined: -{name}")));
        };
        let value = if spec.kind == Kind::Bool {
            match inline {
                None => FlagValue::Bool(true),
                Some(v) => FlagValue::Bool(
                    go_parse_bool(v)
                        .map_err(|e| usage(format!("invalid boolean value {v:?} for -{name}: {e}")))?,
                ),
            }
        } else {
            let raw = match inline {
                Some(v) => v,
                None => match args.get(i) {
                    Some(next) => {
                        i += 1;
                        next.as_str()
                    }
                    None => return Err(usage(format!("flag needs an argument: -{name}"))),
                },
            };
            convert(spec.kind, raw)
                .map_err(|e| usage(format!("invalid value {raw:?} for flag -{name}: {e}")))?
        };
        out.push((spec.name, value));
    }
    let rest = &args[i..];
    if !rest.is_empty() {
        return Err(usage(format!("Unexpected extra arguments: [{}]", rest.join(" "))));
    }
    Ok(out)
}

/// Go `strconv.ParseBool`.
fn go_parse_bool(v: &str) -> Result<bool, String> {
    match v {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        _ => Err(format!("strconv.ParseBool: parsing {v:?}: invalid syntax")),
    }
}

/// Parses a non-bool flag value with Go's error wording.
fn convert(kind: Kind, raw: &str) -> Result<FlagValue, String> {
    match kind {
        Kind::Bool => go_parse_bool(raw).map(FlagValue::Bool),
        Kind::Int => raw.parse::<i64>().map(FlagValue::Int).map_err(|e| {
            use std::num::IntErrorKind::{NegOverflow, PosOverflow};
            let what = match e.kind() {
                PosOverflow | NegOverflow => "value out of range",
                _ => "invalid syntax",
            };
            format!("strconv.Atoi: parsing {raw:?}: {what}")
        }),
        Kind::Duration => file::parse_duration_ms(raw).map(FlagValue::DurationMs),
        Kind::Str => Ok(FlagValue::Str(raw.to_string())),
    }
}

/// What the command line contributes: flag-only settings plus a config layer.
struct CommandLine {
    dev: bool,
    config_paths: Vec<PathBuf>,
    hcl: Vec<String>,
    config_format: Option<String>,
    partial: PartialConfig,
}

impl CommandLine {
    /// Applies parsed flags in order; IP addresses are checked here and name the flag.
    fn from_flags(flags: Vec<(&'static str, FlagValue)>) -> Result<Self, ConfigError> {
        let mut c = CommandLine {
            dev: false,
            config_paths: Vec::new(),
            hcl: Vec::new(),
            config_format: None,
            partial: PartialConfig::default(),
        };
        let p = &mut c.partial;
        for (name, value) in flags {
            let invalid = ConfigError::Invalid;
            let label = format!("-{name}");
            match value {
                FlagValue::Bool(b) => match name {
                    "dev" => c.dev = b,
                    "server" => p.server = Some(b),
                    "bootstrap" => p.bootstrap = Some(b),
                    "log-json" => p.log_json = Some(b),
                    "ui" => p.ui = Some(b),
                    "enable-script-checks" => p.enable_script_checks = Some(b),
                    "enable-local-script-checks" => p.enable_local_script_checks = Some(b),
                    _ => {} // -rejoin: accepted, ignored
                },
                FlagValue::Int(n) => match name {
                    "bootstrap-expect" => p.bootstrap_expect = Some(n),
                    "http-port" => p.ports.http = Some(n),
                    "https-port" => p.ports.https = Some(n),
                    "dns-port" => p.ports.dns = Some(n),
                    "grpc-port" => p.ports.grpc = Some(n),
                    "server-port" => p.ports.server = Some(n),
                    "serf-lan-port" => p.ports.serf_lan = Some(n),
                    "serf-wan-port" => p.ports.serf_wan = Some(n),
                    "raft-protocol" => p.raft_protocol = Some(n),
                    _ => {} // -protocol: accepted, ignored
                },
                FlagValue::DurationMs(ms) => match name {
                    "retry-interval" => p.retry_interval_ms = Some(ms),
                    "default-query-time" => p.default_query_time_ms = Some(ms),
                    "max-query-time" => p.max_query_time_ms = Some(ms),
                    _ => {}
                },
                FlagValue::Str(s) => match name {
                    "node" => p.node_name = Some(s),
                    "node-id" => p.node_id = Some(s),
                    "node-meta" => {
                        let (k, v) = s.split_once(':').unwrap_or((s.as_str(), ""));
                        file::set_meta(&mut p.node_meta, k.to_string(), v.to_string());
                    }
                    "datacenter" => p.datacenter = Some(s),
                    "data-dir" => p.data_dir = Some(PathBuf::from(s)),
                    "bind" => p.bind_addr = Some(file::parse_ip(&label, &s).map_err(invalid)?),
                    "advertise" => p.advertise_addr = Some(file::parse_ip(&label, &s).map_err(invalid)?),
                    "client" => p.client_addrs = Some(file::parse_ip_list(&label, &s).map_err(invalid)?),
                    "log-level" => p.log_level = Some(s),
                    "join" | "retry-join" => p.retry_join.push(s),
                    "config-file" | "config-dir" => c.config_paths.push(PathBuf::from(s)),
                    "hcl" => c.hcl.push(s),
                    "config-format" => c.config_format = Some(s),
                    "domain" => p.domain = Some(s),
                    "alt-domain" => p.alt_domain = Some(s),
                    "recursor" => p.recursors.push(s),
                    "pid-file" => p.pid_file = Some(PathBuf::from(s)),
                    "encrypt" => p.encrypt = Some(s),
                    _ => {}
                },
            }
        }
        Ok(c)
    }
}

/// The advertise address used when none is configured: the bind address, unless that is
/// the "any" address. Consul then picks the host's single private IPv4 (or public IPv6);
/// enumerating interfaces needs a crate we do not have, so this falls back to loopback.
fn default_advertise_addr(bind: IpAddr) -> IpAddr {
    match bind {
        IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        other => other,
    }
}

/// Parses a log level (case-insensitive; Consul also accepts `err`).
fn parse_log_level(s: &str) -> Option<LogLevel> {
    match s.trim().to_ascii_lowercase().as_str() {
        "trace" => Some(LogLevel::Trace),
        "debug" => Some(LogLevel::Debug),
        "info" => Some(LogLevel::Info),
        "warn" | "warning" => Some(LogLevel::Warn),
        "err" | "error" => Some(LogLevel::Error),
        _ => None,
    }
}

/// Resolves a port: `<= 0` disables it (-1) like Consul; above 65535 is an error.
fn port(name: &str, value: Option<i64>, default: i32) -> Result<i32, String> {
    match value {
        None => Ok(default),
        Some(v) if v <= 0 => Ok(-1),
        Some(v) => i32::try_from(v)
            .ok()
            .filter(|p| *p <= 65535)
            .ok_or_else(|| format!("{name}: invalid port: {v}")),
    }
}

/// A non-negative integer setting.
fn non_negative(name: &str, value: Option<i64>, default: u64) -> Result<u64, String> {
    match value {
        None => Ok(default),
        Some(v) => u64::try_from(v)
            .map_err(|_| format!("{name} cannot be {v}. Must be greater than or equal to zero")),
    }
}

/// Appends the trailing dot of a fully qualified domain name.
fn fqdn(domain: &str) -> String {
    if domain.ends_with('.') {
        domain.to_string()
    } else {
        format!("{domain}.")
    }
}

/// Consul's `structs.ValidateNodeMetadata` (user-supplied: `consul-` prefix reserved).
fn validate_node_meta(meta: &[(String, String)]) -> Result<(), String> {
    if meta.len() > 64 {
        return Err("Node metadata cannot contain more than 64 key/value pairs".to_string());
    }
    for (k, v) in meta {
        if k.is_empty() {
            return Err("Key cannot be blank".to_string());
        }
        if !k
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(format!("Key contains invalid characters: {k:?}"));
        }
        if k.len() > 128 {
            return Err(format!("Key is too long (limit: 128 characters): {k:?}"));
        }
        if k.starts_with("consul-") {
            return Err(format!(
                "Key prefix 'consul-' is reserved for internal use: {k:?}"
            ));
        }
        if v.len() > 512 {
            return Err(format!("Value is too long (limit: 512 characters): {k:?}"));
        }
    }
    Ok(())
}

/// `dns_config` with Consul's defaults filled in and its limits checked.
fn resolve_dns(d: &file::PartialDns) -> Result<DnsSettings, String> {
    let defaults = DnsSettings::default();
    let limit = |key: &str, v: Option<i64>, default: u32| -> Result<u32, String> {
        match v {
            None => Ok(default),
            Some(n) if n < 0 => Err(format!(
                "dns_config.{key} cannot be {n}. Must be greater than or equal to zero"
            )),
            Some(n) => Ok(u32::try_from(n).unwrap_or(u32::MAX)),
        }
    };
    Ok(DnsSettings {
        allow_stale: d.allow_stale.unwrap_or(defaults.allow_stale),
        max_stale_ms: d.max_stale_ms.unwrap_or(defaults.max_stale_ms),
        node_ttl_ms: d.node_ttl_ms.unwrap_or(defaults.node_ttl_ms),
        service_ttl_ms: d.service_ttl_ms.clone(),
        only_passing: d.only_passing.unwrap_or(defaults.only_passing),
        enable_truncate: d.enable_truncate.unwrap_or(defaults.enable_truncate),
        udp_answer_limit: limit("udp_answer_limit", d.udp_answer_limit, defaults.udp_answer_limit)?,
        a_record_limit: limit("a_record_limit", d.a_record_limit, defaults.a_record_limit)?,
        recursor_timeout_ms: d.recursor_timeout_ms.unwrap_or(defaults.recursor_timeout_ms),
        disable_compression: d.disable_compression.unwrap_or(defaults.disable_compression),
        node_meta_txt: d.node_meta_txt.unwrap_or(defaults.node_meta_txt),
        soa: DnsSoa {
            refresh: d.soa_refresh.unwrap_or(defaults.soa.refresh),
            retry: d.soa_retry.unwrap_or(defaults.soa.retry),
            expire: d.soa_expire.unwrap_or(defaults.soa.expire),
            min_ttl: d.soa_min_ttl.unwrap_or(defaults.soa.min_ttl),
        },
    })
}

/// The settings rconsul accepts without acting on them, with what the operator gets
/// instead: the ones config files flagged, plus listeners for protocols it lacks.
fn unenforced_settings(p: &PartialConfig) -> Vec<(String, &'static str)> {
    let mut out = p.unenforced.clone();
    if p.ports.grpc.is_some_and(|port| port > 0) {
        out.push((
            "ports.grpc".into(),
            "rconsul serves no gRPC listener (it is used by Connect only)",
        ));
    }
    out
}

/// Decodes a base64 gossip key (`encrypt`, a keyring file entry) and checks its size;
/// errors use Go's wording (`illegal base64 data at input byte N`, memberlist's size rule).
pub fn decode_gossip_key(key: &str) -> Result<Vec<u8>, String> {
    use base64::{DecodeError, Engine as _};
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(key)
        .map_err(|e| match e {
            DecodeError::InvalidByte(at, _) | DecodeError::InvalidLastSymbol(at, _) => {
                format!("illegal base64 data at input byte {at}")
            }
            DecodeError::InvalidLength(len) => format!("illegal base64 data at input byte {len}"),
            DecodeError::InvalidPadding => format!("illegal base64 data at input byte {}", key.len()),
        })?;
    rconsul_gossip::validate_key(&bytes).map_err(|e| e.to_string())?;
    Ok(bytes)
}

/// Applies defaults to the merged sources and validates the result (Consul's order).
fn resolve(dev: bool, p: PartialConfig, config_sources: Vec<PathBuf>) -> Result<AgentConfig, ConfigError> {
    let invalid = ConfigError::Invalid;
    let unenforced = unenforced_settings(&p);
    let tls = super::tls::resolve(&p.tls).map_err(invalid)?;
    let acl = super::acl::resolve(&p.acl).map_err(invalid)?;

    if let Some(v) = p.raft_protocol {
        if v != 3 {
            return Err(invalid(format!(
                "raft_protocol version {v} is not supported by this version of Consul"
            )));
        }
    }

    let log_level = match &p.log_level {
        None => LogLevel::Info,
        Some(s) => parse_log_level(s).ok_or_else(|| invalid(format!("Invalid log level: {s}")))?,
    };

    let datacenter = p.datacenter.as_deref().unwrap_or("dc1").to_lowercase();
    if datacenter.is_empty() {
        return Err(invalid("datacenter cannot be empty".to_string()));
    }
    if !datacenter
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
    {
        return Err(invalid(format!(
            "datacenter can only contain lowercase alphanumeric, - or _ characters. received: {datacenter:?}"
        )));
    }

    let data_dir = p.data_dir.filter(|d| !d.as_os_str().is_empty());
    match &data_dir {
        None if !dev => return Err(invalid("data_dir cannot be empty".to_string())),
        Some(d) if !dev => {
            if let Ok(meta) = std::fs::metadata(d) {
                if !meta.is_dir() {
                    return Err(invalid(format!(
                        "data_dir {:?} is not a directory",
                        d.display().to_string()
                    )));
                }
            }
        }
        _ => {}
    }

    let defaults = Ports::default();
    let pp = &p.ports;
    let ports = Ports {
        http: port("ports.http", pp.http, defaults.http).map_err(invalid)?,
        dns: port("ports.dns", pp.dns, defaults.dns).map_err(invalid)?,
        server: port("ports.server", pp.server, defaults.server).map_err(invalid)?,
        serf_lan: port("ports.serf_lan", pp.serf_lan, defaults.serf_lan).map_err(invalid)?,
        serf_wan: port("ports.serf_wan", pp.serf_wan, defaults.serf_wan).map_err(invalid)?,
        https: port("ports.https", pp.https, defaults.https).map_err(invalid)?,
        grpc: port("ports.grpc", pp.grpc, if dev { 8502 } else { defaults.grpc }).map_err(invalid)?,
        grpc_tls: port("ports.grpc_tls", pp.grpc_tls, defaults.grpc_tls).map_err(invalid)?,
    };
    if ports.server <= 0 {
        return Err(invalid("server-port must be greater than zero".to_string()));
    }
    if ports.serf_lan <= 0 {
        return Err(invalid("serf-lan-port must be greater than zero".to_string()));
    }

    let bind_addr = p.bind_addr.unwrap_or(if dev {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    } else {
        IpAddr::V4(Ipv4Addr::UNSPECIFIED)
    });
    if p.advertise_addr.is_some_and(|a| a.is_unspecified()) {
        return Err(invalid(
            "Advertise address cannot be 0.0.0.0, :: or [::]".to_string(),
        ));
    }
    let advertise_addr = Some(
        p.advertise_addr
            .unwrap_or_else(|| default_advertise_addr(bind_addr)),
    );
    let client_addrs = p
        .client_addrs
        .unwrap_or_else(|| vec![IpAddr::V4(Ipv4Addr::LOCALHOST)]);

    let node_name = match p.node_name {
        Some(n) => n,
        None => gethostname::gethostname().to_string_lossy().into_owned(),
    };
    if node_name.is_empty() {
        return Err(invalid("node_name cannot be empty".to_string()));
    }
    let node_id = match p.node_id.filter(|id| !id.is_empty()) {
        None => None,
        Some(id) => {
            let id = id.to_lowercase();
            uuid::Uuid::try_parse(&id)
                .map_err(|e| invalid(format!("node_id: {id:?} is not a valid UUID: {e}")))?;
            Some(id)
        }
    };

    let domain = fqdn(p.domain.as_deref().filter(|d| !d.is_empty()).unwrap_or("consul."));
    let alt_domain = p.alt_domain.filter(|d| !d.is_empty()).map(|d| fqdn(&d));
    if let Some(alt) = &alt_domain {
        let first = alt.split('.').next().unwrap_or_default();
        if ["service", "connect", "node", "query", "addr", datacenter.as_str()].contains(&first) {
            return Err(invalid(format!(
                "alt_domain cannot start with {{service,connect,node,query,addr,{datacenter}}}"
            )));
        }
    }

    let server = p.server.unwrap_or(dev);
    let mut bootstrap = p.bootstrap.unwrap_or(dev && server);
    let mut bootstrap_expect = p.bootstrap_expect.unwrap_or(0);
    if bootstrap_expect == 1 {
        // Consul: "BootstrapExpect is set to 1; this is the same as Bootstrap mode."
        bootstrap = true;
        bootstrap_expect = 0;
    }
    if bootstrap && !server {
        return Err(invalid("'bootstrap = true' requires 'server = true'".to_string()));
    }
    if bootstrap_expect < 0 {
        return Err(invalid(format!(
            "bootstrap_expect cannot be {bootstrap_expect}. Must be greater than or equal to zero"
        )));
    }
    if bootstrap_expect > 0 && !server {
        return Err(invalid(
            "'bootstrap_expect > 0' requires 'server = true'".to_string(),
        ));
    }
    if bootstrap_expect > 0 && dev {
        return Err(invalid(
            "'bootstrap_expect > 0' not allowed in dev mode".to_string(),
        ));
    }
    if bootstrap_expect > 0 && bootstrap {
        return Err(invalid(
            "'bootstrap_expect > 0' and 'bootstrap = true' are mutually exclusive".to_string(),
        ));
    }
    let bootstrap_expect = u32::try_from(bootstrap_expect)
        .map_err(|_| invalid(format!("bootstrap_expect cannot be {bootstrap_expect}")))?;

    let raft_multiplier = p.raft_multiplier.unwrap_or(if dev { 1 } else { 5 });
    if !(1..=10).contains(&raft_multiplier) {
        return Err(invalid(format!(
            "performance.raft_multiplier cannot be {raft_multiplier}. Must be between 1 and 10"
        )));
    }
    // Consul's defaults are 16384 and 10240 entries of one command each; an rconsul entry
    // is a batch of up to a few hundred commands, so fewer entries bound the log (its disk
    // use, the memory sled spends on it, and the replay at restart) to a similar size.
    let raft_snapshot_threshold =
        non_negative("raft_snapshot_threshold", p.raft_snapshot_threshold, 4096).map_err(invalid)?;
    let raft_trailing_logs =
        non_negative("raft_trailing_logs", p.raft_trailing_logs, 256).map_err(invalid)?;

    validate_node_meta(&p.node_meta).map_err(|e| invalid(format!("node_meta invalid: {e}")))?;

    let mut recursors: Vec<String> = Vec::new();
    for entry in &p.recursors {
        for r in entry.split_whitespace() {
            if r.starts_with("unix://") {
                return Err(invalid(format!("DNS Recursors cannot be unix sockets: {r}")));
            }
            if !file::valid_recursor(r) {
                return Err(invalid(format!("recursors: invalid address: {r}")));
            }
            let ip = r
                .parse::<IpAddr>()
                .ok()
                .or_else(|| r.parse::<std::net::SocketAddr>().ok().map(|a| a.ip()));
            if ip.is_some_and(|ip| ip.is_unspecified()) {
                return Err(invalid(
                    "DNS recursor address cannot be 0.0.0.0, :: or [::]".to_string(),
                ));
            }
            if !recursors.iter().any(|x| x == r) {
                recursors.push(r.to_string());
            }
        }
    }

    let encrypt_key = match p.encrypt.as_deref().filter(|k| !k.is_empty()) {
        None => None,
        Some(key) => {
            Some(decode_gossip_key(key).map_err(|e| invalid(format!("encrypt has invalid key: {e}")))?)
        }
    };

    let dns = resolve_dns(&p.dns).map_err(invalid)?;

    // Consul refuses reconnect timeouts under 8 h (a member briefly partitioned away must
    // not be forgotten); 72 h by default.
    const HOUR_MS: u64 = 3_600_000;
    let reconnect_timeout_ms = p.reconnect_timeout_ms.unwrap_or(72 * HOUR_MS);
    if reconnect_timeout_ms < 8 * HOUR_MS {
        return Err(invalid("reconnect_timeout must be >= 8h".to_string()));
    }

    let enable_script_checks = p.enable_script_checks.unwrap_or(false);
    Ok(AgentConfig {
        dev,
        server,
        bootstrap,
        bootstrap_expect,
        node_name,
        node_id,
        node_meta: p.node_meta,
        datacenter,
        data_dir,
        bind_addr,
        advertise_addr,
        client_addrs,
        ports,
        log_level,
        log_json: p.log_json.unwrap_or(false),
        ui: p.ui.unwrap_or(dev),
        retry_join: p.retry_join,
        retry_interval_ms: p.retry_interval_ms.unwrap_or(30_000),
        raft_multiplier: raft_multiplier as u32,
        raft_snapshot_threshold,
        raft_trailing_logs,
        enable_script_checks,
        enable_local_script_checks: p.enable_local_script_checks.unwrap_or(enable_script_checks),
        domain,
        alt_domain,
        recursors,
        dns,
        pid_file: p.pid_file.filter(|f| !f.as_os_str().is_empty()),
        default_query_time_ms: p.default_query_time_ms.unwrap_or(300_000),
        max_query_time_ms: p.max_query_time_ms.unwrap_or(600_000),
        kv_max_value_size: p.kv_max_value_size.unwrap_or(524_288),
        http_max_conns_per_client: p
            .http_max_conns_per_client
            .map_or(rconsul_http_api::conn_limit::DEFAULT_MAX_CONNS_PER_CLIENT, |n| {
                usize::try_from(n).unwrap_or(0)
            }),
        unenforced,
        autopilot: crate::autopilot::AutopilotConfig {
            cleanup_dead_servers: p.autopilot_cleanup_dead_servers.unwrap_or(true),
            min_quorum: p
                .autopilot_min_quorum
                .map_or(0, |n| usize::try_from(n).unwrap_or(usize::MAX)),
            last_contact_threshold: std::time::Duration::from_millis(
                p.autopilot_last_contact_threshold_ms.unwrap_or(200),
            ),
            max_trailing_logs: p.autopilot_max_trailing_logs.unwrap_or(250),
        },
        encrypt_key,
        encrypt_verify_incoming: p.encrypt_verify_incoming.unwrap_or(true),
        encrypt_verify_outgoing: p.encrypt_verify_outgoing.unwrap_or(true),
        disable_keyring_file: p.disable_keyring_file.unwrap_or(false),
        tls,
        acl,
        leave_on_terminate: p.leave_on_terminate,
        reconnect_timeout_ms,
        config_sources,
        config_format: None,
        config_fragments: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::path::Path;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn parse(list: &[&str]) -> Result<AgentConfig, ConfigError> {
        parse_agent_args(&args(list))
    }

    fn ok(list: &[&str]) -> AgentConfig {
        match parse(list) {
            Ok(c) => c,
            Err(e) => panic!("{list:?}: {e}"),
        }
    }

    fn usage_err(list: &[&str]) -> String {
        match parse(list) {
            Err(ConfigError::Usage(m)) => m,
            other => panic!("{list:?}: expected a usage error, got {other:?}"),
        }
    }

    fn invalid_err(list: &[&str]) -> String {
        match parse(list) {
            Err(ConfigError::Invalid(m)) => m,
            other => panic!("{list:?}: expected an invalid-config error, got {other:?}"),
        }
    }

    fn write(dir: &Path, name: &str, body: &str) -> String {
        let path = dir.join(name);
        let mut f = std::fs::File::create(&path).expect("create");
        f.write_all(body.as_bytes()).expect("write");
        path.display().to_string()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    fn hostname() -> String {
        gethostname::gethostname().to_string_lossy().into_owned()
    }

    #[test]
    fn usage_matches_flag_table() {
        assert!(
            FLAGS.windows(2).all(|w| w[0].name < w[1].name),
            "FLAGS must be sorted"
        );
        let lines: Vec<&str> = AGENT_USAGE.lines().collect();
        assert_eq!(
            lines.len(),
            FLAGS.len() * 2,
            "one name line and one help line per flag"
        );
        for (pair, spec) in lines.chunks(2).zip(FLAGS) {
            // Go's flag.PrintDefaults: "  -name [arg]" then "    \t<help>".
            let mut head = pair[0].strip_prefix("  -").expect("flag line").splitn(2, ' ');
            assert_eq!(head.next(), Some(spec.name));
            let arg = head.next();
            match spec.kind {
                Kind::Bool => assert_eq!(arg, None, "-{}", spec.name),
                _ => assert!(arg.is_some(), "-{} needs a value name", spec.name),
            }
            let help = pair[1].strip_prefix("    \t").expect("help line");
            assert!(!help.is_empty() && !help.contains('`'), "-{}", spec.name);
        }
    }

    #[test]
    fn flag_forms() {
        for form in [
            &["-dev", "-node=a"][..],
            &["-dev", "-node", "a"],
            &["--dev", "--node", "a"],
            &["--dev", "--node=a"],
        ] {
            let c = ok(form);
            assert!(c.dev, "{form:?}");
            assert_eq!(c.node_name, "a", "{form:?}");
        }
        // A value may itself start with a dash; `-flag value` always consumes it.
        assert_eq!(ok(&["-dev", "-node", "-x"]).node_name, "-x");
        // "--" ends the flags; nothing may follow.
        assert!(ok(&["-dev", "--"]).dev);
        assert_eq!(usage_err(&["-dev", "--", "x"]), "Unexpected extra arguments: [x]");
    }

    #[test]
    fn bool_flags() {
        assert!(ok(&["-dev", "-server"]).server);
        assert!(!ok(&["-dev", "-server=false"]).server);
        assert!(ok(&["-dev", "-ui=1"]).ui);
        assert!(!ok(&["-dev", "-ui=F"]).ui);
        // A bool flag never consumes the next argument.
        assert_eq!(
            usage_err(&["-dev", "-server", "false"]),
            "Unexpected extra arguments: [false]"
        );
        assert_eq!(
            usage_err(&["-server=yes"]),
            "invalid boolean value \"yes\" for -server: strconv.ParseBool: parsing \"yes\": invalid syntax"
        );
        let c = ok(&["-dev", "-log-json", "-enable-script-checks", "-rejoin"]);
        assert!(c.log_json && c.enable_script_checks);
        assert!(c.enable_local_script_checks, "defaults to enable_script_checks");
    }

    #[test]
    fn repeatable_flags() {
        let c = ok(&[
            "-dev",
            "-join",
            "a",
            "-retry-join=b",
            "-join",
            "c",
            "-recursor",
            "8.8.8.8",
            "-recursor=1.1.1.1:53",
            "-node-meta",
            "rack:r1",
            "-node-meta=zone:a:b",
            "-node-meta",
            "rack:r2",
        ]);
        assert_eq!(c.retry_join, vec!["a", "b", "c"]);
        assert_eq!(c.recursors, vec!["8.8.8.8", "1.1.1.1:53"]);
        assert_eq!(
            c.node_meta,
            vec![
                ("rack".to_string(), "r2".to_string()),
                ("zone".to_string(), "a:b".to_string())
            ]
        );
    }

    #[test]
    fn value_flags() {
        let c = ok(&[
            "-data-dir",
            "/tmp/rconsul-test-data",
            "-bind",
            "10.1.2.3",
            "-advertise=10.9.9.9",
            "-client",
            "127.0.0.1 127.0.0.2",
            "-http-port=18500",
            "-https-port",
            "8501",
            "-dns-port",
            "-1",
            "-grpc-port",
            "8502",
            "-server-port",
            "18300",
            "-serf-lan-port",
            "18301",
            "-serf-wan-port",
            "0",
            "-log-level",
            "DEBUG",
            "-datacenter",
            "EU-West_1",
            "-domain",
            "example",
            "-alt-domain",
            "alt.",
            "-retry-interval",
            "1m",
            "-default-query-time=10s",
            "-max-query-time",
            "1h",
            "-pid-file",
            "/tmp/p.pid",
            "-raft-protocol",
            "3",
            "-protocol",
            "2",
            "-node-id",
            "ADF4238A-882B-9DDC-4A9D-5B6758E4159E",
            "-encrypt",
            "pUqJrVyVRj5jsiYEkM/tFQ==",
        ]);
        assert_eq!(c.data_dir, Some(PathBuf::from("/tmp/rconsul-test-data")));
        assert_eq!(c.encrypt_key.as_ref().map(Vec::len), Some(16));
        assert!(c.encrypt_verify_incoming && c.encrypt_verify_outgoing);
        assert_eq!(c.bind_addr, ip("10.1.2.3"));
        assert_eq!(c.advertise_addr, Some(ip("10.9.9.9")));
        assert_eq!(c.client_addrs, vec![ip("127.0.0.1"), ip("127.0.0.2")]);
        assert_eq!(
            c.ports,
            Ports {
                http: 18500,
                https: 8501,
                dns: -1,
                grpc: 8502,
                server: 18300,
                serf_lan: 18301,
                serf_wan: -1,
                grpc_tls: -1
            }
        );
        assert_eq!(c.log_level, LogLevel::Debug);
        assert_eq!(c.datacenter, "eu-west_1");
        assert_eq!(c.domain, "example.");
        assert_eq!(c.alt_domain.as_deref(), Some("alt."));
        assert_eq!(c.retry_interval_ms, 60_000);
        assert_eq!(c.default_query_time_ms, 10_000);
        assert_eq!(c.max_query_time_ms, 3_600_000);
        assert_eq!(c.pid_file, Some(PathBuf::from("/tmp/p.pid")));
        assert_eq!(c.node_id.as_deref(), Some("adf4238a-882b-9ddc-4a9d-5b6758e4159e"));
        assert!(!c.dev && !c.server);
    }

    #[test]
    fn flag_errors_use_go_wording() {
        assert_eq!(usage_err(&["-bogus"]), "flag provided but not defined: -bogus");
        assert_eq!(usage_err(&["--bogus=1"]), "flag provided but not defined: -bogus");
        assert_eq!(usage_err(&["-dev", "-node"]), "flag needs an argument: -node");
        assert_eq!(
            usage_err(&["-http-port", "abc"]),
            "invalid value \"abc\" for flag -http-port: strconv.Atoi: parsing \"abc\": invalid syntax"
        );
        assert_eq!(
            usage_err(&["-http-port=99999999999999999999"]),
            "invalid value \"99999999999999999999\" for flag -http-port: strconv.Atoi: parsing \"99999999999999999999\": value out of range"
        );
        assert_eq!(
            usage_err(&["-retry-interval", "5"]),
            "invalid value \"5\" for flag -retry-interval: time: missing unit in duration \"5\""
        );
        assert_eq!(usage_err(&["---dev"]), "bad flag syntax: ---dev");
        assert_eq!(usage_err(&["-=x"]), "bad flag syntax: -=x");
        assert_eq!(
            usage_err(&["-dev", "extra", "-server"]),
            "Unexpected extra arguments: [extra -server]"
        );
        assert_eq!(usage_err(&["-dev", "-"]), "Unexpected extra arguments: [-]");
        assert_eq!(usage_err(&["-h"]), "");
        assert_eq!(usage_err(&["--help"]), "");
        // Flag errors win over config problems, like Go's flag parsing.
        assert_eq!(
            usage_err(&["-log-level=nope", "-bogus"]),
            "flag provided but not defined: -bogus"
        );
    }

    #[test]
    fn defaults() {
        let c = ok(&["-data-dir", "/tmp/rconsul-test-data"]);
        assert!(!c.dev && !c.server && !c.bootstrap && !c.ui && !c.log_json);
        assert_eq!(c.bootstrap_expect, 0);
        assert_eq!(c.datacenter, "dc1");
        assert_eq!(c.node_name, hostname());
        assert_eq!(c.node_id, None);
        assert_eq!(c.bind_addr, ip("0.0.0.0"));
        assert_eq!(c.advertise_addr, Some(ip("127.0.0.1")));
        assert_eq!(c.client_addrs, vec![ip("127.0.0.1")]);
        assert_eq!(c.ports, Ports::default());
        assert_eq!(c.log_level, LogLevel::Info);
        assert_eq!(c.raft_multiplier, 5);
        assert_eq!(c.raft_snapshot_threshold, 4096);
        assert_eq!(c.raft_trailing_logs, 256);
        assert_eq!(c.retry_interval_ms, 30_000);
        assert_eq!(c.default_query_time_ms, 300_000);
        assert_eq!(c.max_query_time_ms, 600_000);
        assert_eq!(c.kv_max_value_size, 524_288);
        assert_eq!(c.http_max_conns_per_client, 200);
        assert_eq!(c.domain, "consul.");
        assert_eq!(c.alt_domain, None);
        assert_eq!(c.dns, DnsSettings::default());
        assert_eq!(c.leave_on_terminate, None);
        assert!(c.config_sources.is_empty());
        assert_eq!(
            ok(&["-data-dir=/d", "-bind", "10.0.0.5"]).advertise_addr,
            Some(ip("10.0.0.5"))
        );
        assert_eq!(
            ok(&["-data-dir=/d", "-bind", "::"]).advertise_addr,
            Some(ip("::1"))
        );
    }

    #[test]
    fn dev_defaults() {
        let c = ok(&["-dev"]);
        assert!(c.dev && c.server && c.bootstrap && c.ui);
        assert_eq!(c.data_dir, None);
        assert_eq!(c.bind_addr, ip("127.0.0.1"));
        assert_eq!(c.advertise_addr, Some(ip("127.0.0.1")));
        assert_eq!(c.client_addrs, vec![ip("127.0.0.1")]);
        assert_eq!(c.raft_multiplier, 1);
        assert_eq!(c.ports.grpc, 8502);
        assert_eq!(c.ports.http, 8500);
        assert_eq!(c.node_name, hostname());

        let c = ok(&[
            "-dev",
            "-bind=0.0.0.0",
            "-client",
            "0.0.0.0",
            "-grpc-port=-1",
            "-node",
            "n",
            "-ui=false",
        ]);
        assert_eq!(c.bind_addr, ip("0.0.0.0"));
        assert_eq!(c.client_addrs, vec![ip("0.0.0.0")]);
        assert_eq!(c.ports.grpc, -1);
        assert_eq!(c.node_name, "n");
        assert!(!c.ui);
    }

    #[test]
    fn validation_errors() {
        assert_eq!(invalid_err(&[]), "data_dir cannot be empty");
        assert_eq!(invalid_err(&["-data-dir="]), "data_dir cannot be empty");
        assert_eq!(
            invalid_err(&["-data-dir=/d", "-bootstrap-expect", "3"]),
            "'bootstrap_expect > 0' requires 'server = true'"
        );
        assert_eq!(
            invalid_err(&["-data-dir=/d", "-server", "-bootstrap", "-bootstrap-expect", "3"]),
            "'bootstrap_expect > 0' and 'bootstrap = true' are mutually exclusive"
        );
        assert_eq!(
            invalid_err(&["-data-dir=/d", "-server", "-bootstrap-expect", "-1"]),
            "bootstrap_expect cannot be -1. Must be greater than or equal to zero"
        );
        assert_eq!(
            invalid_err(&["-dev", "-bootstrap-expect=3"]),
            "'bootstrap_expect > 0' not allowed in dev mode"
        );
        assert_eq!(
            invalid_err(&["-data-dir=/d", "-bootstrap"]),
            "'bootstrap = true' requires 'server = true'"
        );
        assert_eq!(
            invalid_err(&["-dev", "-log-level", "loud"]),
            "Invalid log level: loud"
        );
        assert_eq!(
            invalid_err(&["-dev", "-bind", "nope"]),
            "-bind: invalid ip address: nope"
        );
        assert_eq!(
            invalid_err(&["-dev", "-advertise", "1.2.3"]),
            "-advertise: invalid ip address: 1.2.3"
        );
        assert_eq!(
            invalid_err(&["-dev", "-client", "127.0.0.1 x"]),
            "-client: invalid ip address: x"
        );
        assert_eq!(
            invalid_err(&["-dev", "-advertise", "0.0.0.0"]),
            "Advertise address cannot be 0.0.0.0, :: or [::]"
        );
        assert_eq!(
            invalid_err(&["-dev", "-http-port", "70000"]),
            "ports.http: invalid port: 70000"
        );
        assert_eq!(
            invalid_err(&["-dev", "-server-port", "0"]),
            "server-port must be greater than zero"
        );
        assert_eq!(
            invalid_err(&["-dev", "-datacenter", "d c"]),
            "datacenter can only contain lowercase alphanumeric, - or _ characters. received: \"d c\""
        );
        assert_eq!(
            invalid_err(&["-dev", "-raft-protocol", "2"]),
            "raft_protocol version 2 is not supported by this version of Consul"
        );
        assert!(invalid_err(&["-dev", "-node-id", "nope"]).starts_with("node_id:"));
        assert!(invalid_err(&["-dev", "-node-meta", "bad key:v"]).starts_with("node_meta invalid:"));
        assert_eq!(
            invalid_err(&["-dev", "-encrypt", "this is not a valid key"]),
            "encrypt has invalid key: illegal base64 data at input byte 4"
        );
        assert_eq!(
            invalid_err(&["-dev", "-encrypt", "aGVsbG8="]),
            "encrypt has invalid key: key size must be 16, 24 or 32 bytes"
        );
        assert_eq!(
            invalid_err(&["-dev", "-recursor", "dns.example"]),
            "recursors: invalid address: dns.example"
        );
        assert_eq!(
            invalid_err(&["-dev", "-config-format", "yaml"]),
            "-config-format must be either 'hcl' or 'json', got \"yaml\""
        );
    }

    #[test]
    fn reconnect_timeout_defaults_to_72h_and_must_be_8h_or_more() {
        assert_eq!(ok(&["-dev"]).reconnect_timeout_ms, 72 * 3_600_000);
        let dir = tempfile::tempdir().expect("tempdir");
        let short = write(dir.path(), "short.json", r#"{"reconnect_timeout": "1h"}"#);
        assert_eq!(
            invalid_err(&["-dev", "-config-file", &short]),
            "reconnect_timeout must be >= 8h"
        );
        let long = write(dir.path(), "long.json", r#"{"reconnect_timeout": "10h"}"#);
        assert_eq!(
            ok(&["-dev", "-config-file", &long]).reconnect_timeout_ms,
            10 * 3_600_000
        );
    }

    #[test]
    fn http_max_conns_per_client_from_limits_and_zero_or_less_is_unlimited() {
        let dir = tempfile::tempdir().expect("tempdir");
        let raised = write(
            dir.path(),
            "a.hcl",
            "limits {\n  http_max_conns_per_client = 4096\n}\n",
        );
        assert_eq!(
            ok(&["-dev", "-config-file", &raised]).http_max_conns_per_client,
            4096
        );
        let off = write(
            dir.path(),
            "b.json",
            r#"{"limits": {"http_max_conns_per_client": -1}}"#,
        );
        assert_eq!(ok(&["-dev", "-config-file", &off]).http_max_conns_per_client, 0);
    }

    #[test]
    fn settings_rconsul_does_not_act_on_are_listed_for_a_warning() {
        let dir = tempfile::tempdir().expect("tempdir");
        let on = write(
            dir.path(),
            "on.json",
            r#"{"acl": {"enabled": true, "default_policy": "deny"}, "verify_incoming": true,
                "cert_file": "/etc/c.pem", "key_file": "/etc/k.pem", "ca_file": "/etc/ca.pem", "tls": {"defaults": {}}, "connect": {"enabled": true},
                "auto_encrypt": {"tls": true},
                "telemetry": {"disable_hostname": true}}"#,
        );
        let c = ok(&["-dev", "-config-file", &on, "-https-port=8501"]);
        let keys: Vec<&str> = c.unenforced.iter().map(|(k, _)| k.as_str()).collect();
        // ACLs and TLS are enforced: only auto_encrypt (distributing certificates) and
        // Connect are not.
        assert_eq!(keys, ["auto_encrypt", "connect.enabled"]);
        assert!(c.unenforced[0].1.contains("auto_encrypt"));
        let off = write(
            dir.path(),
            "off.json",
            r#"{"acl": {"enabled": false}, "verify_outgoing": false, "cert_file": "", "tls": {}}"#,
        );
        assert!(ok(&["-dev", "-config-file", &off]).unenforced.is_empty());
        assert!(ok(&["-dev"]).unenforced.is_empty());
    }

    #[test]
    fn hcl_fragments_apply_after_files_and_flags() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = write(
            dir.path(),
            "a.json",
            r#"{"node_name": "from-file", "log_level": "warn"}"#,
        );
        let c = ok(&[
            "-dev",
            "-config-file",
            &file,
            "-node=from-flag",
            "-hcl",
            "node_name = \"from-hcl\"",
            "-hcl=limits {\n  http_max_conns_per_client = 7\n}",
        ]);
        assert_eq!(c.node_name, "from-hcl");
        assert_eq!(c.log_level, LogLevel::Warn);
        assert_eq!(c.http_max_conns_per_client, 7);
        assert_eq!(c.config_fragments.len(), 2);
        let e = invalid_err(&["-dev", "-hcl", "nodename = \"x\""]);
        assert!(e.contains("flags-0.hcl") && e.contains("nodename"), "{e}");
        let e = invalid_err(&["-dev", "-hcl", "ports {", "-hcl", "x = "]);
        assert!(e.starts_with("Error parsing flags-0.hcl"), "{e}");
    }

    #[test]
    fn autopilot_settings() {
        let c = ok(&["-dev"]);
        assert!(c.autopilot.cleanup_dead_servers);
        assert_eq!(c.autopilot.min_quorum, 0);
        let dir = tempfile::tempdir().expect("tempdir");
        let f = write(
            dir.path(),
            "a.hcl",
            "autopilot {\n  cleanup_dead_servers = false\n  min_quorum = 3\n  last_contact_threshold = \"200ms\"\n}\n",
        );
        let c = ok(&["-dev", "-config-file", &f]);
        assert!(!c.autopilot.cleanup_dead_servers);
        assert_eq!(c.autopilot.min_quorum, 3);
        assert_eq!(c.autopilot.last_contact_threshold.as_millis(), 200);
        assert_eq!(c.autopilot.max_trailing_logs, 250);
        let bad = write(dir.path(), "b.json", r#"{"autopilot": {"min_quorum": -1}}"#);
        assert!(invalid_err(&["-dev", "-config-file", &bad]).contains("autopilot.min_quorum"));
    }

    #[test]
    fn bootstrap_expect_one_means_bootstrap() {
        let c = ok(&["-data-dir=/d", "-server", "-bootstrap-expect=1"]);
        assert!(c.bootstrap);
        assert_eq!(c.bootstrap_expect, 0);
        let c = ok(&["-data-dir=/d", "-server", "-bootstrap-expect=3"]);
        assert!(!c.bootstrap);
        assert_eq!(c.bootstrap_expect, 3);
    }

    #[test]
    fn files_then_flags() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = write(
            dir.path(),
            "a.json",
            r#"{"datacenter": "A", "node_name": "file-node", "server": true, "retry_join": ["f1"],
                "ports": {"http": 1111, "dns": 2222}, "log_level": "warn", "data_dir": "/from/file",
                "performance": {"raft_multiplier": 3}, "leave_on_terminate": true}"#,
        );
        let b = write(
            dir.path(),
            "b.json",
            r#"{"datacenter": "b", "retry_join": ["f2"], "ports": {"dns": 3333}}"#,
        );
        let c = ok(&[
            "-config-file",
            &a,
            "-node=flag-node",
            "-config-file",
            &b,
            "-retry-join",
            "x",
            "-http-port",
            "4444",
        ]);
        assert_eq!(c.datacenter, "b", "later file wins");
        assert_eq!(c.node_name, "flag-node", "flag beats file");
        assert!(c.server);
        assert_eq!(
            c.retry_join,
            vec!["f1", "f2", "x"],
            "lists append: files in order, then flags"
        );
        assert_eq!(c.ports.http, 4444);
        assert_eq!(c.ports.dns, 3333);
        assert_eq!(c.log_level, LogLevel::Warn);
        assert_eq!(c.data_dir, Some(PathBuf::from("/from/file")));
        assert_eq!(c.raft_multiplier, 3);
        assert_eq!(c.leave_on_terminate, Some(true));
        assert_eq!(c.config_sources, vec![PathBuf::from(&a), PathBuf::from(&b)]);

        // Bool flags override files too.
        let c = ok(&["-config-file", &a, "-server=false"]);
        assert!(!c.server);
    }

    #[test]
    fn config_dir_order_and_mixing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let conf = dir.path().join("conf.d");
        std::fs::create_dir(&conf).expect("mkdir");
        write(
            &conf,
            "20-b.json",
            r#"{"node_name": "b", "recursors": ["2.2.2.2"]}"#,
        );
        write(
            &conf,
            "10-a.json",
            r#"{"node_name": "a", "recursors": ["1.1.1.1"], "data_dir": "/x"}"#,
        );
        write(&conf, "notes.txt", "ignored");
        let single = write(dir.path(), "z.json", r#"{"node_name": "z"}"#);
        let conf_s = conf.display().to_string();

        let c = ok(&["-config-dir", &conf_s]);
        assert_eq!(c.node_name, "b");
        assert_eq!(c.recursors, vec!["1.1.1.1", "2.2.2.2"]);

        let c = ok(&["-config-dir", &conf_s, "-config-file", &single]);
        assert_eq!(c.node_name, "z");
        let c = ok(&["-config-file", &single, "-config-dir", &conf_s]);
        assert_eq!(c.node_name, "b");
        assert_eq!(c.config_sources, vec![PathBuf::from(&single), conf.clone()]);

        // HCL files load with the JSON ones, in the same lexical order.
        write(&conf, "15-h.hcl", "recursors = [\"3.3.3.3\"]\nports { dns = -1 }");
        write(&conf, "30-c.hcl", "node_name = \"c\"");
        let c = ok(&["-config-dir", &conf_s]);
        assert_eq!(c.node_name, "c");
        assert_eq!(c.recursors, vec!["1.1.1.1", "3.3.3.3", "2.2.2.2"]);
        assert_eq!(c.ports.dns, -1);
        assert_eq!(c.config_format, None);

        write(&conf, "40-bad.hcl", "node_name = ");
        let e = invalid_err(&["-config-dir", &conf_s]);
        assert!(e.starts_with("Error parsing ") && e.contains("40-bad.hcl"), "{e}");
    }

    #[test]
    fn config_format_overrides_the_extension() {
        let dir = tempfile::tempdir().expect("tempdir");
        let f = write(dir.path(), "agent.conf", "server = true\ndata_dir = \"/d\"");
        let e = invalid_err(&["-config-file", &f]);
        assert!(e.contains("extension must be .hcl or .json"), "{e}");
        let c = ok(&["-config-file", &f, "-config-format=hcl"]);
        assert!(c.server);
        assert_eq!(c.config_format, Some(ConfigFormat::Hcl));
        let e = invalid_err(&["-config-file", &f, "-config-format=json"]);
        assert!(e.starts_with(&format!("Error parsing {f}: ")), "{e}");
    }

    #[test]
    fn file_errors_name_key_and_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let bad = write(dir.path(), "bad.json", r#"{"bogus_key": 1}"#);
        assert_eq!(
            invalid_err(&["-dev", "-config-file", &bad]),
            format!("Error parsing {bad}: 1 error occurred:\n\t* invalid config key bogus_key")
        );
        let typed = write(dir.path(), "typed.json", r#"{"server": "yes"}"#);
        assert_eq!(
            invalid_err(&["-dev", "-config-file", &typed]),
            format!("Error parsing {typed}: 'server' expected type 'bool', got unconvertible type 'string', value: 'yes'")
        );
        let broken = write(dir.path(), "broken.json", "{");
        assert!(
            invalid_err(&["-dev", "-config-file", &broken]).starts_with(&format!("Error parsing {broken}: "))
        );
        let bad_hcl = write(dir.path(), "bad.hcl", "bogus_key = 1");
        assert_eq!(
            invalid_err(&["-dev", "-config-file", &bad_hcl]),
            format!("Error parsing {bad_hcl}: 1 error occurred:\n\t* invalid config key bogus_key")
        );
        let typed_hcl = write(dir.path(), "typed.hcl", "server = \"yes\"");
        assert_eq!(
            invalid_err(&["-dev", "-config-file", &typed_hcl]),
            format!("Error parsing {typed_hcl}: 'server' expected type 'bool', got unconvertible type 'string', value: 'yes'")
        );
        let level = write(dir.path(), "level.json", r#"{"log_level": "chatty"}"#);
        assert_eq!(
            invalid_err(&["-dev", "-config-file", &level]),
            "Invalid log level: chatty"
        );
        // A valid flag value fixes an invalid file value (flags are merged last).
        assert_eq!(
            ok(&["-dev", "-config-file", &level, "-log-level=err"]).log_level,
            LogLevel::Error
        );
    }

    #[test]
    fn dns_config_resolves_with_defaults_and_limits() {
        let dir = tempfile::tempdir().expect("tempdir");
        let f = write(
            dir.path(),
            "dns.json",
            r#"{"dns_config": {"node_ttl": "10s", "only_passing": true, "a_record_limit": 4,
                "soa": {"min_ttl": 7}}}"#,
        );
        let c = ok(&["-dev", "-config-file", &f]);
        assert_eq!(c.dns.node_ttl_ms, 10_000);
        assert!(c.dns.only_passing && c.dns.allow_stale);
        assert_eq!((c.dns.a_record_limit, c.dns.udp_answer_limit), (4, 3));
        assert_eq!((c.dns.soa.min_ttl, c.dns.soa.refresh), (7, 3600));
        let neg = write(
            dir.path(),
            "neg.json",
            r#"{"dns_config": {"udp_answer_limit": -1}}"#,
        );
        assert_eq!(
            invalid_err(&["-dev", "-config-file", &neg]),
            "dns_config.udp_answer_limit cannot be -1. Must be greater than or equal to zero"
        );
    }
}
