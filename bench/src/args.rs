//! Command-line parsing: options, workloads, durations and target addresses.

use std::time::Duration;

use clap::{value_parser, Parser, Subcommand};

/// Target used when neither `--addr` nor `CONSUL_HTTP_ADDR` is given.
pub const DEFAULT_ADDR: &str = "http://127.0.0.1:8500";

/// Command line of `rconsul-bench`. Options may appear before or after the workload.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "rconsul-bench",
    version,
    about = "Closed-loop load generator for Consul-compatible HTTP APIs (rconsul or real Consul)"
)]
pub struct Cli {
    /// Agent to load, `http://host:port` or `host:port`
    /// [default: $CONSUL_HTTP_ADDR, else http://127.0.0.1:8500]
    #[arg(long, global = true)]
    pub addr: Option<String>,

    /// Concurrent clients = persistent HTTP/1.1 connections
    #[arg(long, global = true, default_value_t = 64, value_parser = value_parser!(u32).range(1..))]
    pub clients: u32,

    /// Tokio worker threads [default: 1 for load, all cores for serve-trivial]
    #[arg(long, global = true, value_parser = value_parser!(u32).range(1..))]
    pub threads: Option<u32>,

    /// Measured run time, e.g. `10s`, `500ms`, `2m`
    #[arg(long, global = true, default_value = "10s", value_parser = parse_positive_duration)]
    pub duration: Duration,

    /// Load time before measuring starts (excluded from all figures)
    #[arg(long, global = true, default_value = "1s", value_parser = parse_duration)]
    pub warmup: Duration,

    /// Print one JSON object instead of the human-readable report
    #[arg(long, global = true)]
    pub json: bool,

    /// Number of distinct KV keys the kv-* workloads cycle over
    #[arg(long, global = true, default_value_t = 1000, value_parser = value_parser!(u64).range(1..))]
    pub keys: u64,

    /// Size in bytes of the values written by kv-* workloads
    #[arg(long, global = true, default_value_t = 64)]
    pub value_size: usize,

    /// Prefix of the KV keys (`<prefix><i>`)
    #[arg(long, global = true, default_value = "bench/")]
    pub key_prefix: String,

    /// What to do
    #[command(subcommand)]
    pub workload: Workload,
}

/// The workloads (and the trivial server used to measure the generator itself).
#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum Workload {
    /// PUT /v1/kv/<prefix><i> with a --value-size byte value (i cycles over --keys)
    KvPut,
    /// Preload --keys keys (untimed), then GET /v1/kv/<prefix><i>; a 404 is an error
    KvGet,
    /// Preload like kv-get, then 90% GET / 10% PUT
    KvMixed,
    /// GET /v1/status/leader
    StatusLeader,
    /// GET an arbitrary path, e.g. /v1/catalog/services
    RawGet {
        /// Path (and optional query string) to request
        path: String,
    },
    /// Register services x instances catalog entries (PUT /v1/catalog/register), untimed setup
    PopulateCatalog {
        /// Number of services (`<prefix><n>`, n = 0..services)
        #[arg(long, default_value_t = 1000, value_parser = value_parser!(u32).range(1..))]
        services: u32,
        /// Instances per service; instance i lives on node `bench-node-<i>` (port 8000+i)
        #[arg(long, default_value_t = 5, value_parser = value_parser!(u32).range(1..=50_000))]
        instances: u32,
        /// Service name prefix
        #[arg(long, default_value = DEFAULT_SERVICE_PREFIX, value_parser = parse_prefix)]
        prefix: String,
        /// Give up after this long
        #[arg(long, default_value = "2m", value_parser = parse_positive_duration)]
        timeout: Duration,
    },
    /// Blocking-query wake latency on /v1/health/service/<prefix><k> (run populate-catalog first)
    WatchLatency {
        /// Concurrent blocking queries, one keep-alive connection each
        #[arg(long, default_value_t = 1000, value_parser = value_parser!(u32).range(1..))]
        watchers: u32,
        /// Services the watchers cycle over (as given to populate-catalog)
        #[arg(long, default_value_t = 1000, value_parser = value_parser!(u32).range(1..))]
        services: u32,
        /// Service name prefix (as given to populate-catalog)
        #[arg(long, default_value = DEFAULT_SERVICE_PREFIX, value_parser = parse_prefix)]
        prefix: String,
        /// Check flips to measure, one service per round
        #[arg(long, default_value_t = 20, value_parser = value_parser!(u32).range(1..))]
        rounds: u32,
        /// Overall deadline of the run (setup included)
        #[arg(long, default_value = "2m", value_parser = parse_positive_duration)]
        timeout: Duration,
    },
    /// Run a trivial HTTP/1.1 server answering every request with 200 "true"
    ServeTrivial {
        /// Address to listen on
        #[arg(long, default_value = "127.0.0.1:18500")]
        listen: String,
    },
}

impl Workload {
    /// Short name as typed on the command line.
    pub fn name(&self) -> &'static str {
        match self {
            Workload::KvPut => "kv-put",
            Workload::KvGet => "kv-get",
            Workload::KvMixed => "kv-mixed",
            Workload::StatusLeader => "status-leader",
            Workload::RawGet { .. } => "raw-get",
            Workload::PopulateCatalog { .. } => "populate-catalog",
            Workload::WatchLatency { .. } => "watch-latency",
            Workload::ServeTrivial { .. } => "serve-trivial",
        }
    }
}

/// Service name prefix used when `--prefix` is not given.
pub const DEFAULT_SERVICE_PREFIX: &str = "svc-";

/// Accepts a service name prefix that is safe in a URL path and a Consul service
/// name: ASCII letters, digits, `-` and `_` (may be empty).
pub fn parse_prefix(s: &str) -> Result<String, String> {
    if let Some(c) = s
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
    {
        return Err(format!(
            "invalid prefix {s:?}: {c:?} is not allowed (use letters, digits, '-' and '_')"
        ));
    }
    Ok(s.to_string())
}

/// Parses a Go duration (`10s`, `500ms`, `2m`, `1h`, `250us`, `1.5s`); a bare number means
/// seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let bare_number = !s.is_empty() && s.chars().all(|c| c.is_ascii_digit() || c == '.');
    let text = if bare_number {
        format!("{s}s")
    } else {
        s.to_string()
    };
    rconsul_compat::duration::parse_std(&text).map_err(|e| e.to_string())
}

/// Like [`parse_duration`] but rejects zero.
pub fn parse_positive_duration(s: &str) -> Result<Duration, String> {
    let d = parse_duration(s)?;
    if d.is_zero() {
        return Err("duration must be greater than zero".into());
    }
    Ok(d)
}

/// An HTTP target: host name or IP literal and TCP port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Host name or IP address (IPv6 without brackets).
    pub host: String,
    /// TCP port.
    pub port: u16,
}

impl Target {
    /// `host:port`, with brackets around IPv6 literals; also used as the `Host` header.
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// `http://host:port`.
    pub fn url(&self) -> String {
        format!("http://{}", self.authority())
    }
}

/// Parses `http://host:port` or `host:port` (`[v6]:port` for IPv6).
/// A missing port means 80 after `http://` and Consul's 8500 otherwise.
pub fn parse_addr(s: &str) -> Result<Target, String> {
    let s = s.trim();
    let lower = s.to_ascii_lowercase();
    let (rest, default_port) = if lower.starts_with("http://") {
        (&s["http://".len()..], 80)
    } else if lower.starts_with("https://") {
        return Err(format!("{s:?}: https is not supported, use an http:// address"));
    } else if lower.contains("://") {
        return Err(format!("{s:?}: only http:// addresses are supported"));
    } else {
        (s, 8500)
    };
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.contains('/') {
        return Err(format!("{s:?}: the address must not contain a path"));
    }
    let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
        let (host, after) = v6
            .split_once(']')
            .ok_or_else(|| format!("{s:?}: missing ']' in IPv6 address"))?;
        match after {
            "" => (host, None),
            _ => match after.strip_prefix(':') {
                Some(p) => (host, Some(p)),
                None => return Err(format!("{s:?}: unexpected text after ']'")),
            },
        }
    } else {
        match rest.rsplit_once(':') {
            Some((h, _)) if h.contains(':') => {
                return Err(format!("{s:?}: IPv6 addresses must be written as [addr]:port"))
            }
            Some((h, p)) => (h, Some(p)),
            None => (rest, None),
        }
    };
    if host.is_empty() {
        return Err(format!("{s:?}: missing host"));
    }
    let port = match port {
        None => default_port,
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|&p| p != 0)
            .ok_or_else(|| format!("{s:?}: invalid port {p:?}"))?,
    };
    Ok(Target {
        host: host.to_string(),
        port,
    })
}

/// Chooses the target: `--addr` if given, else a non-empty `CONSUL_HTTP_ADDR`, else [`DEFAULT_ADDR`].
pub fn resolve_addr(flag: Option<&str>, env: Option<&str>) -> Result<Target, String> {
    let env = env.map(str::trim).filter(|e| !e.is_empty());
    match (flag, env) {
        (Some(a), _) => parse_addr(a).map_err(|e| format!("--addr {e}")),
        (None, Some(e)) => parse_addr(e).map_err(|e| format!("CONSUL_HTTP_ADDR {e}")),
        (None, None) => parse_addr(DEFAULT_ADDR),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(host: &str, port: u16) -> Target {
        Target {
            host: host.into(),
            port,
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("250us"), Ok(Duration::from_micros(250)));
        assert_eq!(parse_duration("7"), Ok(Duration::from_secs(7)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("0.25m"), Ok(Duration::from_secs(15)));
        assert_eq!(parse_duration(" 3s "), Ok(Duration::from_secs(3)));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
        for bad in [
            "",
            "s",
            "10x",
            "ms10",
            "1..5s",
            "-1s",
            "1 s",
            "99999999999999999h",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad:?} should fail");
        }
        assert!(parse_positive_duration("0s").is_err());
        assert!(parse_positive_duration("1ms").is_ok());
    }

    #[test]
    fn addresses() {
        assert_eq!(parse_addr("http://127.0.0.1:8500"), Ok(t("127.0.0.1", 8500)));
        assert_eq!(parse_addr("http://localhost:18500/"), Ok(t("localhost", 18500)));
        assert_eq!(parse_addr("HTTP://example:1"), Ok(t("example", 1)));
        assert_eq!(parse_addr("127.0.0.1:8501"), Ok(t("127.0.0.1", 8501)));
        assert_eq!(parse_addr("localhost"), Ok(t("localhost", 8500)));
        assert_eq!(parse_addr("http://localhost"), Ok(t("localhost", 80)));
        assert_eq!(parse_addr("[::1]:8500"), Ok(t("::1", 8500)));
        assert_eq!(parse_addr("http://[::1]"), Ok(t("::1", 80)));
        assert_eq!(t("::1", 8500).url(), "http://[::1]:8500");
        assert_eq!(t("127.0.0.1", 8500).authority(), "127.0.0.1:8500");
        for bad in [
            "",
            "https://x:1",
            "unix:///tmp/consul.sock",
            "http://x:1/v1",
            "x:0",
            "x:99999",
            "x:port",
            ":8500",
            "::1:8500",
            "[::1",
            "[::1]x",
        ] {
            assert!(parse_addr(bad).is_err(), "{bad:?} should fail");
        }
    }

    #[test]
    fn addr_precedence() {
        let a = |f, e| resolve_addr(f, e).unwrap();
        assert_eq!(a(Some("h:1"), Some("e:2")), t("h", 1));
        assert_eq!(a(None, Some("http://e:2")), t("e", 2));
        assert_eq!(a(None, Some("  ")), t("127.0.0.1", 8500));
        assert_eq!(a(None, None), t("127.0.0.1", 8500));
        assert!(resolve_addr(None, Some("https://e:2"))
            .unwrap_err()
            .starts_with("CONSUL_HTTP_ADDR"));
    }

    #[test]
    fn command_line() {
        let cli = Cli::try_parse_from(["rconsul-bench", "kv-put"]).unwrap();
        assert_eq!(cli.workload, Workload::KvPut);
        assert_eq!(cli.clients, 64);
        assert_eq!(cli.threads, None);
        assert_eq!(cli.duration, Duration::from_secs(10));
        assert_eq!(cli.warmup, Duration::from_secs(1));
        assert_eq!((cli.keys, cli.value_size), (1000, 64));
        assert_eq!(cli.key_prefix, "bench/");
        assert!(!cli.json && cli.addr.is_none());

        // Options before and after the workload.
        let cli = Cli::try_parse_from([
            "rconsul-bench",
            "--addr",
            "http://127.0.0.1:18500",
            "--clients",
            "8",
            "--duration",
            "500ms",
            "raw-get",
            "/v1/catalog/services",
            "--json",
            "--threads",
            "2",
            "--warmup",
            "0s",
        ])
        .unwrap();
        assert_eq!(
            cli.workload,
            Workload::RawGet {
                path: "/v1/catalog/services".into()
            }
        );
        assert_eq!(cli.addr.as_deref(), Some("http://127.0.0.1:18500"));
        assert_eq!((cli.clients, cli.threads), (8, Some(2)));
        assert_eq!(cli.duration, Duration::from_millis(500));
        assert_eq!(cli.warmup, Duration::ZERO);
        assert!(cli.json);

        let cli = Cli::try_parse_from(["rconsul-bench", "serve-trivial"]).unwrap();
        assert_eq!(
            cli.workload,
            Workload::ServeTrivial {
                listen: "127.0.0.1:18500".into()
            }
        );
        assert_eq!(cli.workload.name(), "serve-trivial");

        for bad in [
            &["rconsul-bench"][..],
            &["rconsul-bench", "kv-delete"],
            &["rconsul-bench", "raw-get"],
            &["rconsul-bench", "--clients", "0", "kv-get"],
            &["rconsul-bench", "--threads", "0", "kv-get"],
            &["rconsul-bench", "--keys", "0", "kv-get"],
            &["rconsul-bench", "--duration", "0s", "kv-get"],
            &["rconsul-bench", "--duration", "fast", "kv-get"],
        ] {
            assert!(Cli::try_parse_from(bad).is_err(), "{bad:?} should fail");
        }
    }

    #[test]
    fn catalog_workloads() {
        let cli = Cli::try_parse_from(["rconsul-bench", "populate-catalog"]).unwrap();
        assert_eq!(
            cli.workload,
            Workload::PopulateCatalog {
                services: 1000,
                instances: 5,
                prefix: "svc-".into(),
                timeout: Duration::from_secs(120),
            }
        );
        assert_eq!(cli.workload.name(), "populate-catalog");

        let cli = Cli::try_parse_from([
            "rconsul-bench",
            "--clients",
            "16",
            "populate-catalog",
            "--services",
            "10",
            "--instances",
            "2",
            "--prefix",
            "web_",
            "--json",
            "--timeout",
            "30s",
        ])
        .unwrap();
        assert_eq!(
            cli.workload,
            Workload::PopulateCatalog {
                services: 10,
                instances: 2,
                prefix: "web_".into(),
                timeout: Duration::from_secs(30),
            }
        );
        assert_eq!(cli.clients, 16);
        assert!(cli.json);

        let cli = Cli::try_parse_from(["rconsul-bench", "watch-latency"]).unwrap();
        assert_eq!(
            cli.workload,
            Workload::WatchLatency {
                watchers: 1000,
                services: 1000,
                prefix: "svc-".into(),
                rounds: 20,
                timeout: Duration::from_secs(120),
            }
        );
        assert_eq!(cli.workload.name(), "watch-latency");

        let cli = Cli::try_parse_from([
            "rconsul-bench",
            "watch-latency",
            "--watchers",
            "50",
            "--services",
            "7",
            "--prefix",
            "",
            "--rounds",
            "3",
            "--timeout",
            "1m",
            "--threads",
            "4",
        ])
        .unwrap();
        assert_eq!(
            cli.workload,
            Workload::WatchLatency {
                watchers: 50,
                services: 7,
                prefix: "".into(),
                rounds: 3,
                timeout: Duration::from_secs(60),
            }
        );
        assert_eq!(cli.threads, Some(4));

        assert_eq!(parse_prefix("svc-"), Ok("svc-".into()));
        for bad in [
            &["rconsul-bench", "populate-catalog", "--services", "0"][..],
            &["rconsul-bench", "populate-catalog", "--instances", "0"],
            &["rconsul-bench", "populate-catalog", "--instances", "50001"],
            &["rconsul-bench", "populate-catalog", "--prefix", "a/b"],
            &["rconsul-bench", "populate-catalog", "--prefix", "a b"],
            &["rconsul-bench", "populate-catalog", "--timeout", "0s"],
            &["rconsul-bench", "populate-catalog", "--watchers", "5"],
            &["rconsul-bench", "watch-latency", "--watchers", "0"],
            &["rconsul-bench", "watch-latency", "--services", "-1"],
            &["rconsul-bench", "watch-latency", "--rounds", "0"],
            &["rconsul-bench", "watch-latency", "--rounds", "many"],
            &["rconsul-bench", "watch-latency", "--prefix", "svc?"],
            &["rconsul-bench", "watch-latency", "--instances", "5"],
            &["rconsul-bench", "kv-get", "--services", "5"],
        ] {
            assert!(Cli::try_parse_from(bad).is_err(), "{bad:?} should fail");
        }
    }
}
