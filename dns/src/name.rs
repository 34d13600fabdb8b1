//! Query-name parsing: which zone a name is in, and what a name under the domain asks for.
//!
//! Labels are parsed right to left after the domain is stripped, as Consul does:
//! `[tag.]<service>.service[.<dc>]`, `_<service>._<tag|tcp>[.service][.<dc>]` (SRV),
//! `<node>.node[.<dc>]`, `<hex>.addr[.<dc>]`. One label between the kind and the domain is
//! the datacenter (also accepted as `<dc>.dc`); anything more is invalid.

/// Where a question name belongs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Zone {
    /// Under the primary or alternate domain: the remaining labels (lower case, left to
    /// right) and the index of the matched domain (0 = primary, 1 = alternate).
    Domain { labels: Vec<String>, domain: usize },
    /// Under `arpa.`: a reverse lookup.
    Arpa,
    /// Anything else: recursors or REFUSED.
    Outside,
}

/// The lower-cased labels of a name, left to right (no root label).
pub(crate) fn lower_labels<'a>(labels: impl Iterator<Item = &'a [u8]>) -> Vec<String> {
    labels
        .map(|l| String::from_utf8_lossy(l).to_ascii_lowercase())
        .collect()
}

/// Splits a fully qualified domain into its labels (`consul.` → `["consul"]`).
pub(crate) fn domain_labels(domain: &str) -> Vec<String> {
    domain
        .trim_end_matches('.')
        .split('.')
        .filter(|l| !l.is_empty())
        .map(str::to_ascii_lowercase)
        .collect()
}

/// Classifies `labels` against the domains (each given as its labels). The longest
/// matching domain wins, like a DNS mux.
pub(crate) fn classify(labels: &[String], domains: &[Vec<String>]) -> Zone {
    let best = domains
        .iter()
        .enumerate()
        .filter(|(_, d)| d.len() <= labels.len() && labels.ends_with(d))
        .max_by_key(|(_, d)| d.len());
    if let Some((idx, d)) = best {
        return Zone::Domain {
            labels: labels[..labels.len() - d.len()].to_vec(),
            domain: idx,
        };
    }
    if labels.last().is_some_and(|l| l == "arpa") {
        return Zone::Arpa;
    }
    Zone::Outside
}

/// What a name under the domain asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Lookup {
    /// Healthy instances of `service`, optionally only those tagged `tag`.
    Service {
        service: String,
        tag: Option<String>,
        dc: Option<String>,
    },
    /// A node's address and metadata.
    Node { node: String, dc: Option<String> },
    /// A hex-encoded address (`7f000001.addr.dc1.consul`).
    Addr { hex: String },
    /// Kinds rconsul knows but has nothing for (prepared queries, mesh names): NXDOMAIN.
    Unsupported,
    /// A malformed name: NXDOMAIN.
    Invalid,
}

const KINDS: [&str; 7] = [
    "service", "node", "addr", "query", "connect", "ingress", "virtual",
];

/// Parses the labels left once the domain is stripped. `srv` is whether the question type
/// is SRV (the `service` label is optional in the RFC 2782 form then).
pub(crate) fn parse_lookup(mut labels: Vec<String>, srv: bool) -> Lookup {
    let mut dc: Option<String> = None;
    loop {
        let n = labels.len();
        if n == 0 {
            return Lookup::Invalid;
        }
        if srv && labels[n - 1].starts_with('_') {
            labels.push("service".to_string());
            continue;
        }
        match labels[n - 1].as_str() {
            "service" => {
                if n == 1 {
                    return Lookup::Invalid;
                }
                // RFC 2782: _<service>._<tag>.service
                if n == 3 && labels[0].starts_with('_') && labels[1].starts_with('_') {
                    let tag = &labels[1][1..];
                    let tag = (tag != "tcp").then(|| tag.to_string());
                    return Lookup::Service {
                        service: labels[0][1..].to_string(),
                        tag,
                        dc,
                    };
                }
                // [tag[.tag]].<service>.service: extra labels form one dotted tag.
                let tag = (n >= 3).then(|| labels[..n - 2].join("."));
                return Lookup::Service {
                    service: labels[n - 2].clone(),
                    tag,
                    dc,
                };
            }
            "node" => {
                if n == 1 {
                    return Lookup::Invalid;
                }
                return Lookup::Node {
                    node: labels[..n - 1].join("."),
                    dc,
                };
            }
            "addr" => {
                if n != 2 {
                    return Lookup::Invalid;
                }
                return Lookup::Addr {
                    hex: labels[0].clone(),
                };
            }
            "query" | "connect" | "ingress" | "virtual" => {
                if n == 1 {
                    return Lookup::Invalid;
                }
                return Lookup::Unsupported;
            }
            _ => {
                // One datacenter label is allowed, bare or as `<dc>.dc`.
                if dc.is_some() {
                    return Lookup::Invalid;
                }
                if labels[n - 1] == "dc" && n >= 3 && !KINDS.contains(&labels[n - 2].as_str()) {
                    dc = Some(labels[n - 2].clone());
                    labels.truncate(n - 2);
                } else {
                    dc = labels.pop();
                }
            }
        }
    }
}

/// Decodes the hex label of an `.addr.` name. `Ok(None)` for lengths that are neither an
/// IPv4 nor an IPv6 address (Consul answers those with an empty NOERROR); `Err` for bad hex.
pub(crate) fn decode_addr(hex: &str) -> Result<Option<std::net::IpAddr>, ()> {
    let bytes_len = hex.len() / 2;
    if bytes_len != 4 && bytes_len != 16 {
        return Ok(None);
    }
    if !hex.len().is_multiple_of(2) {
        return Err(());
    }
    let mut bytes = Vec::with_capacity(bytes_len);
    for pair in hex.as_bytes().chunks(2) {
        let hi = (pair[0] as char).to_digit(16).ok_or(())?;
        let lo = (pair[1] as char).to_digit(16).ok_or(())?;
        bytes.push((hi * 16 + lo) as u8);
    }
    Ok(Some(match bytes.len() {
        4 => std::net::IpAddr::from([bytes[0], bytes[1], bytes[2], bytes[3]]),
        _ => {
            let mut a = [0u8; 16];
            a.copy_from_slice(&bytes);
            std::net::IpAddr::from(a)
        }
    }))
}

/// Encodes an address the way SRV targets in the `addr` zone spell it.
pub(crate) fn encode_addr(ip: std::net::IpAddr) -> String {
    let bytes: Vec<u8> = match ip {
        std::net::IpAddr::V4(v4) => v4.octets().to_vec(),
        std::net::IpAddr::V6(v6) => v6.octets().to_vec(),
    };
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(s: &str) -> Vec<String> {
        s.split('.')
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect()
    }

    fn svc(service: &str, tag: Option<&str>, dc: Option<&str>) -> Lookup {
        Lookup::Service {
            service: service.into(),
            tag: tag.map(str::to_string),
            dc: dc.map(str::to_string),
        }
    }

    #[test]
    fn classify_zones() {
        let domains = vec![domain_labels("consul."), domain_labels("alt.example.")];
        assert_eq!(
            classify(&labels("db.service.consul"), &domains),
            Zone::Domain {
                labels: labels("db.service"),
                domain: 0
            }
        );
        assert_eq!(
            classify(&labels("db.service.alt.example"), &domains),
            Zone::Domain {
                labels: labels("db.service"),
                domain: 1
            }
        );
        assert_eq!(
            classify(&labels("consul"), &domains),
            Zone::Domain {
                labels: vec![],
                domain: 0
            }
        );
        assert_eq!(classify(&labels("1.0.0.127.in-addr.arpa"), &domains), Zone::Arpa);
        assert_eq!(classify(&labels("example.com"), &domains), Zone::Outside);
        assert_eq!(classify(&labels("notconsul"), &domains), Zone::Outside);
        assert_eq!(classify(&[], &domains), Zone::Outside);
    }

    #[test]
    fn service_forms() {
        assert_eq!(parse_lookup(labels("db.service"), false), svc("db", None, None));
        assert_eq!(
            parse_lookup(labels("primary.db.service"), false),
            svc("db", Some("primary"), None)
        );
        assert_eq!(
            parse_lookup(labels("a.b.db.service.dc1"), false),
            svc("db", Some("a.b"), Some("dc1"))
        );
        assert_eq!(
            parse_lookup(labels("db.service.dc1.dc"), false),
            svc("db", None, Some("dc1"))
        );
        // A datacenter literally named "dc".
        assert_eq!(
            parse_lookup(labels("db.service.dc"), false),
            svc("db", None, Some("dc"))
        );
        assert_eq!(
            parse_lookup(labels("db.service.dc1.extra"), false),
            Lookup::Invalid
        );
        assert_eq!(parse_lookup(labels("service"), false), Lookup::Invalid);
        assert_eq!(parse_lookup(labels(""), false), Lookup::Invalid);
        assert_eq!(parse_lookup(labels("bogus"), false), Lookup::Invalid);
    }

    #[test]
    fn rfc2782_forms() {
        assert_eq!(
            parse_lookup(labels("_db._tcp.service"), true),
            svc("db", None, None)
        );
        assert_eq!(
            parse_lookup(labels("_db._replica.service"), true),
            svc("db", Some("replica"), None)
        );
        // "service" is optional for SRV questions, with or without a datacenter.
        assert_eq!(parse_lookup(labels("_db._tcp"), true), svc("db", None, None));
        assert_eq!(
            parse_lookup(labels("_db._udp.dc1"), true),
            svc("db", Some("udp"), Some("dc1"))
        );
        // Not SRV: `_db._tcp` without the service label is no lookup at all.
        assert_eq!(parse_lookup(labels("_db._tcp"), false), Lookup::Invalid);
    }

    #[test]
    fn node_addr_and_others() {
        assert_eq!(
            parse_lookup(labels("n1.node"), false),
            Lookup::Node {
                node: "n1".into(),
                dc: None
            }
        );
        assert_eq!(
            parse_lookup(labels("my.dotted.node.dc2"), false),
            Lookup::Node {
                node: "my.dotted".into(),
                dc: Some("dc2".into())
            }
        );
        assert_eq!(
            parse_lookup(labels("7f000001.addr.dc1"), false),
            Lookup::Addr {
                hex: "7f000001".into()
            }
        );
        assert_eq!(parse_lookup(labels("x.y.addr"), false), Lookup::Invalid);
        assert_eq!(parse_lookup(labels("db.query"), false), Lookup::Unsupported);
        assert_eq!(parse_lookup(labels("db.connect"), false), Lookup::Unsupported);
        assert_eq!(parse_lookup(labels("node"), false), Lookup::Invalid);
    }

    #[test]
    fn addr_hex() {
        assert_eq!(
            decode_addr("7f0000f0"),
            Ok(Some("127.0.0.240".parse().expect("ip")))
        );
        assert_eq!(
            decode_addr("20010db8000000000000000000000001"),
            Ok(Some("2001:db8::1".parse().expect("ip")))
        );
        assert_eq!(decode_addr("zzzz"), Ok(None));
        assert_eq!(decode_addr("zzzzzzzz"), Err(()));
        assert_eq!(decode_addr("7f00000"), Ok(None));
        assert_eq!(decode_addr("7f000000f"), Err(()));
        assert_eq!(encode_addr("127.0.0.234".parse().expect("ip")), "7f0000ea");
        assert_eq!(
            encode_addr("2001:db8::1".parse().expect("ip")),
            "20010db8000000000000000000000001"
        );
    }
}
