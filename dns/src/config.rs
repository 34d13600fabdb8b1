//! What the DNS interface needs to know: the agent's identity, the domains it answers for,
//! recursors, and Consul's `dns_config` knobs (TTLs, health filtering, truncation).

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// `dns_config.soa`: the numbers of the SOA record Consul puts in authority sections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SoaConfig {
    /// Refresh, seconds (default 3600).
    pub refresh: u32,
    /// Retry, seconds (default 600).
    pub retry: u32,
    /// Expire, seconds (default 86400).
    pub expire: u32,
    /// Minimum TTL, seconds (default 0); also the TTL of the SOA record itself.
    pub min_ttl: u32,
}

impl Default for SoaConfig {
    fn default() -> Self {
        SoaConfig {
            refresh: 3600,
            retry: 600,
            expire: 86400,
            min_ttl: 0,
        }
    }
}

/// Configuration of the DNS interface (Consul's `dnsConfig` plus the agent facts it uses).
#[derive(Debug, Clone, PartialEq)]
pub struct DnsConfig {
    /// The agent's datacenter (lower case); names for other datacenters are NXDOMAIN.
    pub datacenter: String,
    /// The agent's node name.
    pub node_name: String,
    /// The primary domain, fully qualified (`consul.`).
    pub domain: String,
    /// `-alt-domain`, fully qualified.
    pub alt_domain: Option<String>,
    /// Upstream resolvers for names outside the domains, tried in order.
    pub recursors: Vec<SocketAddr>,
    /// How long to wait for one recursor (default 2 s).
    pub recursor_timeout: Duration,
    /// `allow_stale` (default true). Answers always come from the local state here.
    pub allow_stale: bool,
    /// `max_stale` (default 87600h). Kept for configuration parity.
    pub max_stale: Duration,
    /// TTL of node, addr and NS records (default 0).
    pub node_ttl: Duration,
    /// Service TTLs: exact names, and prefixes ending in `*` (`*` alone matches all).
    pub service_ttl: Vec<(String, Duration)>,
    /// Leave out instances with any non-passing check (default: only critical ones).
    pub only_passing: bool,
    /// Set the TC bit when an answer was cut down (default false, like Consul).
    pub enable_truncate: bool,
    /// Answers per UDP response without EDNS (default 3, at most 8).
    pub udp_answer_limit: usize,
    /// Max A/AAAA records per service answer (0 = no limit).
    pub a_record_limit: usize,
    /// Disable name compression in responses.
    pub disable_compression: bool,
    /// Add node-meta TXT records to the additional section (default true).
    pub node_meta_txt: bool,
    /// SOA numbers.
    pub soa: SoaConfig,
}

impl DnsConfig {
    /// Consul's defaults for an agent `node_name` in `datacenter`, domain `consul.`.
    pub fn new(datacenter: &str, node_name: &str) -> DnsConfig {
        DnsConfig {
            datacenter: datacenter.to_ascii_lowercase(),
            node_name: node_name.to_string(),
            domain: "consul.".to_string(),
            alt_domain: None,
            recursors: Vec::new(),
            recursor_timeout: Duration::from_secs(2),
            allow_stale: true,
            max_stale: Duration::from_secs(87_600 * 3600),
            node_ttl: Duration::ZERO,
            service_ttl: Vec::new(),
            only_passing: false,
            enable_truncate: false,
            udp_answer_limit: 3,
            a_record_limit: 0,
            disable_compression: false,
            node_meta_txt: true,
            soa: SoaConfig::default(),
        }
    }

    /// The TTL of a service's records in seconds: an exact `service_ttl` entry wins, else
    /// the longest matching `prefix*` entry, else 0.
    pub fn service_ttl_secs(&self, service: &str) -> u32 {
        if let Some((_, ttl)) = self.service_ttl.iter().find(|(k, _)| k == service) {
            return secs(*ttl);
        }
        self.service_ttl
            .iter()
            .filter_map(|(k, ttl)| k.strip_suffix('*').map(|prefix| (prefix, ttl)))
            .filter(|(prefix, _)| service.starts_with(prefix))
            .max_by_key(|(prefix, _)| prefix.len())
            .map_or(0, |(_, ttl)| secs(*ttl))
    }

    /// The node TTL in seconds.
    pub fn node_ttl_secs(&self) -> u32 {
        secs(self.node_ttl)
    }
}

/// Whole seconds, saturating at `u32::MAX`.
fn secs(d: Duration) -> u32 {
    u32::try_from(d.as_secs()).unwrap_or(u32::MAX)
}

/// Parses a `-recursor` value: an IP (port 53) or `IP:port` / `[IPv6]:port`.
pub fn parse_recursor(s: &str) -> Option<SocketAddr> {
    let s = s.trim();
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(SocketAddr::new(ip, 53));
    }
    if let Ok(addr) = s.parse::<SocketAddr>() {
        return Some(addr);
    }
    // `[::1]` without a port.
    s.strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .and_then(|ip| ip.parse::<IpAddr>().ok())
        .map(|ip| SocketAddr::new(ip, 53))
}

/// Lower-cases a domain and makes it fully qualified (`Consul` → `consul.`).
pub fn fqdn_lower(domain: &str) -> String {
    let d = domain.trim().to_ascii_lowercase();
    if d.ends_with('.') {
        d
    } else {
        format!("{d}.")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_ttl_exact_then_longest_prefix() {
        let mut c = DnsConfig::new("DC1", "n1");
        assert_eq!(c.datacenter, "dc1");
        assert_eq!(c.service_ttl_secs("web"), 0);
        c.service_ttl = vec![
            ("*".into(), Duration::from_secs(5)),
            ("db*".into(), Duration::from_secs(7)),
            ("db-main*".into(), Duration::from_secs(9)),
            ("db".into(), Duration::from_secs(11)),
        ];
        assert_eq!(c.service_ttl_secs("web"), 5);
        assert_eq!(c.service_ttl_secs("dbx"), 7);
        assert_eq!(c.service_ttl_secs("db-main-1"), 9);
        assert_eq!(c.service_ttl_secs("db"), 11);
        c.node_ttl = Duration::from_millis(30_500);
        assert_eq!(c.node_ttl_secs(), 30);
    }

    #[test]
    fn recursor_forms() {
        assert_eq!(
            parse_recursor("8.8.8.8"),
            Some("8.8.8.8:53".parse().expect("addr"))
        );
        assert_eq!(
            parse_recursor("1.1.1.1:5353"),
            Some("1.1.1.1:5353".parse().expect("addr"))
        );
        assert_eq!(parse_recursor("::1"), Some("[::1]:53".parse().expect("addr")));
        assert_eq!(parse_recursor("[::1]"), Some("[::1]:53".parse().expect("addr")));
        assert_eq!(
            parse_recursor("[::1]:54"),
            Some("[::1]:54".parse().expect("addr"))
        );
        assert_eq!(parse_recursor("dns.google"), None);
        assert_eq!(fqdn_lower("Consul"), "consul.");
        assert_eq!(fqdn_lower("example.org."), "example.org.");
    }
}
