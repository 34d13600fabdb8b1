//! Building resource records from the catalog: services, nodes, `addr` names, reverse
//! lookups, and the SOA / NS records of the domain.
//!
//! Everything here is synchronous and works on a borrowed [`Catalog`], so callers hold the
//! state's read lock only while records are built.

use std::collections::HashSet;
use std::net::IpAddr;

use hickory_server::proto::rr::rdata::{A, AAAA, CNAME, NS, SOA, SRV, TXT};
use hickory_server::proto::rr::{Name, RData, Record, RecordType};
use rconsul_state::catalog::{Catalog, Node, Service};

use crate::config::DnsConfig;
use crate::name::encode_addr;

/// Why a lookup has no answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Miss {
    /// The name does not exist: NXDOMAIN with the SOA.
    NotFound,
    /// The name exists but has no records of the asked type: NOERROR with the SOA.
    NoData,
}

/// Records for the answer and additional sections.
#[derive(Debug, Default)]
pub(crate) struct Records {
    pub(crate) answers: Vec<Record>,
    pub(crate) additionals: Vec<Record>,
}

/// The question being answered.
pub(crate) struct Ctx<'a> {
    pub(crate) cfg: &'a DnsConfig,
    /// The question name, as asked (answers echo its case).
    pub(crate) qname: &'a Name,
    pub(crate) qtype: RecordType,
    /// The domain the question was asked under (`consul.` or the alternate domain).
    pub(crate) domain: &'a str,
}

/// A set that stays a plain vector while small (the usual case) and hashes beyond that.
struct Seen<T> {
    small: Vec<T>,
    big: HashSet<T>,
}

impl<T: Eq + std::hash::Hash + Copy> Seen<T> {
    fn new() -> Seen<T> {
        Seen {
            small: Vec::new(),
            big: HashSet::new(),
        }
    }

    /// Adds `item`; false if it was already there.
    fn insert(&mut self, item: T) -> bool {
        if self.small.contains(&item) || self.big.contains(&item) {
            return false;
        }
        if self.small.len() < 16 {
            self.small.push(item);
        } else {
            self.big.insert(item);
        }
        true
    }
}

/// A healthy service instance.
struct Instance<'a> {
    node: &'a Node,
    svc: &'a Service,
    /// Some check is `warning` (selects `Weights.Warning`).
    warning: bool,
}

/// Instances of `service` (case-insensitive) with `tag`, leaving out those with a critical
/// check (node or instance; maintenance is critical) and, with `only_passing`, any
/// non-passing check.
fn healthy_instances<'a>(
    cat: &'a Catalog,
    service: &str,
    tag: Option<&str>,
    only_passing: bool,
) -> Vec<Instance<'a>> {
    cat.all_services()
        .filter(|(_, s)| s.service.eq_ignore_ascii_case(service))
        .filter(|(_, s)| tag.is_none_or(|t| s.tags.iter().any(|x| x.eq_ignore_ascii_case(t))))
        .filter_map(|(node_name, svc)| {
            let node = cat.node(node_name)?;
            let mut warning = false;
            let checks = cat
                .node_checks(node_name)
                .filter(|c| c.service_id.is_empty() || c.service_id == svc.id);
            for c in checks {
                match c.status.as_str() {
                    "passing" => {}
                    "critical" => return None,
                    other => {
                        if only_passing {
                            return None;
                        }
                        warning |= other == "warning";
                    }
                }
            }
            Some(Instance { node, svc, warning })
        })
        .collect()
}

/// Finds a node by name, case-insensitively (exact match first).
fn find_node<'a>(cat: &'a Catalog, name: &str) -> Option<&'a Node> {
    cat.node(name)
        .or_else(|| cat.nodes().find(|n| n.node.eq_ignore_ascii_case(name)))
}

/// Whether a lookup's datacenter label (if any) names this datacenter.
fn local_dc(cfg: &DnsConfig, dc: Option<&str>) -> bool {
    dc.is_none_or(|dc| dc.eq_ignore_ascii_case(&cfg.datacenter))
}

/// `text` as a domain name, made fully qualified.
pub(crate) fn fqdn(text: &str) -> Option<Name> {
    let mut name = Name::from_ascii(text).ok()?;
    name.set_fqdn(true);
    Some(name)
}

/// Parses an address the way Go's `net.ParseIP` + `To4` see it (v4-mapped v6 is v4).
pub(crate) fn parse_ip(addr: &str) -> Option<IpAddr> {
    match addr.parse::<IpAddr>().ok()? {
        IpAddr::V6(v6) => Some(v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4)),
        v4 => Some(v4),
    }
}

/// An A/AAAA record for `ip` if `qtype` asks for that family (ANY asks for both).
fn ip_record(owner: &Name, ip: IpAddr, qtype: RecordType, ttl: u32) -> Option<Record> {
    match ip {
        IpAddr::V4(v4) if matches!(qtype, RecordType::A | RecordType::ANY) => {
            Some(Record::from_rdata(owner.clone(), ttl, RData::A(A(v4))))
        }
        IpAddr::V6(v6) if matches!(qtype, RecordType::AAAA | RecordType::ANY) => {
            Some(Record::from_rdata(owner.clone(), ttl, RData::AAAA(AAAA(v6))))
        }
        _ => None,
    }
}

/// Consul's `formatNodeRecord` without metadata: an A/AAAA record for an IP address of the
/// asked family, or a CNAME for a host name.
fn address_records(addr: &str, owner: &Name, qtype: RecordType, ttl: u32) -> Vec<Record> {
    match parse_ip(addr) {
        Some(ip) => ip_record(owner, ip, qtype, ttl).into_iter().collect(),
        None => {
            let wants_cname = matches!(
                qtype,
                RecordType::ANY | RecordType::CNAME | RecordType::A | RecordType::AAAA | RecordType::TXT
            );
            match fqdn(addr) {
                Some(target) if wants_cname && !addr.is_empty() => {
                    vec![Record::from_rdata(
                        owner.clone(),
                        ttl,
                        RData::CNAME(CNAME(target)),
                    )]
                }
                _ => Vec::new(),
            }
        }
    }
}

/// RFC 1464 encoding of a metadata pair, as Consul writes it.
fn rfc1464(key: &str, value: &str) -> String {
    let key = key.replace('`', "``").replace('=', "`=");
    let leading = key.len() - key.trim_start_matches(' ').len();
    let mut key = format!("{}{}", "` ".repeat(leading), &key[leading..]);
    let trailing = key.len() - key.trim_end_matches(' ').len();
    if trailing > 0 && trailing < key.len() {
        key = format!("{}{}", &key[..key.len() - trailing], "` ".repeat(trailing));
    }
    format!("{key}={}", value.replace('`', "``"))
}

/// Splits TXT data into character-strings of at most 255 bytes (on char boundaries).
fn txt_strings(text: &str) -> Vec<String> {
    if text.len() <= 255 {
        return vec![text.to_string()];
    }
    let mut out = Vec::new();
    let mut current = String::new();
    for ch in text.chars() {
        if current.len() + ch.len_utf8() > 255 {
            out.push(std::mem::take(&mut current));
        }
        current.push(ch);
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// One TXT record per node-meta pair (`key=value`, or the raw value for `rfc1035-` keys).
fn meta_txt(node: &Node, owner: &Name, ttl: u32) -> Vec<Record> {
    let Some(meta) = &node.meta else {
        return Vec::new();
    };
    meta.iter()
        .map(|(k, v)| {
            let text = if k.to_ascii_lowercase().starts_with("rfc1035-") {
                v.clone()
            } else {
                rfc1464(k, v)
            };
            Record::from_rdata(owner.clone(), ttl, RData::TXT(TXT::new(txt_strings(&text))))
        })
        .collect()
}

/// `<node>.node.<dc>.<domain>` as SRV targets and NS records spell it.
fn node_fqdn(node: &str, dc: &str, domain: &str) -> Option<Name> {
    fqdn(&format!("{node}.node.{dc}.{domain}"))
}

/// `<service>[.<tag>].service[.<dc>]`: the healthy instances as A/AAAA (or SRV) records.
pub(crate) fn service(
    cat: &Catalog,
    ctx: &Ctx<'_>,
    service: &str,
    tag: Option<&str>,
    dc: Option<&str>,
    node_visible: &dyn Fn(&str) -> bool,
) -> Result<Records, Miss> {
    if !local_dc(ctx.cfg, dc) {
        return Err(Miss::NotFound);
    }
    let mut instances = healthy_instances(cat, service, tag, ctx.cfg.only_passing);
    instances.retain(|i| node_visible(&i.node.node));
    if instances.is_empty() {
        return Err(Miss::NotFound);
    }
    crate::rng::shuffle(&mut instances);
    let ttl = ctx.cfg.service_ttl_secs(service);
    let records = if ctx.qtype == RecordType::SRV {
        srv_records(ctx, &instances, ttl)
    } else {
        node_records(ctx, &instances, ttl)
    };
    if records.answers.is_empty() {
        return Err(Miss::NoData);
    }
    Ok(records)
}

/// Consul's `serviceNodeRecords`: one address record per distinct address, CNAMEs only when
/// no instance has an IP address, at most `a_record_limit` (0 = all).
fn node_records(ctx: &Ctx<'_>, instances: &[Instance<'_>], ttl: u32) -> Records {
    let mut out = Records::default();
    let mut handled: Seen<&str> = Seen::new();
    let mut cname: Option<Vec<Record>> = None;
    let mut count = 0usize;
    let mut qname_text: Option<String> = None;
    for inst in instances {
        let mut addr = inst.node.address.as_str();
        if !inst.svc.address.is_empty() {
            addr = inst.svc.address.as_str();
            // A service address that is the name being asked for means "use the node".
            let qname = qname_text.get_or_insert_with(|| ctx.qname.to_ascii());
            if addr
                .trim_end_matches('.')
                .eq_ignore_ascii_case(qname.trim_end_matches('.'))
            {
                addr = inst.node.address.as_str();
            }
        }
        if !handled.insert(addr) {
            continue;
        }
        let records = address_records(addr, ctx.qname, ctx.qtype, ttl);
        let Some(first) = records.first() else {
            continue;
        };
        if first.record_type() == RecordType::CNAME {
            cname.get_or_insert(records);
            continue;
        }
        out.answers.extend(records);
        count += 1;
        if count == ctx.cfg.a_record_limit {
            break;
        }
    }
    if out.answers.is_empty() {
        out.answers = cname.unwrap_or_default();
    }
    out
}

/// Consul's `serviceSRVRecords`: one SRV per instance (deduplicated by node, address and
/// port) targeting the node name, or the `addr` name when the instance has its own address;
/// the targets' addresses (and node-meta TXT) go to the additional section.
fn srv_records(ctx: &Ctx<'_>, instances: &[Instance<'_>], ttl: u32) -> Records {
    let mut out = Records::default();
    let mut handled: Seen<(&str, &str, u32)> = Seen::new();
    let dc = ctx.cfg.datacenter.as_str();
    for inst in instances {
        let (node, svc) = (inst.node, inst.svc);
        if !handled.insert((node.node.as_str(), svc.address.as_str(), svc.port)) {
            continue;
        }
        let Some(node_target) = node_fqdn(&node.node, dc, ctx.domain) else {
            continue;
        };
        let weight = if inst.warning {
            svc.weights.warning
        } else {
            svc.weights.passing
        };
        let weight = u16::try_from(weight.max(0)).unwrap_or(u16::MAX);
        let port = u16::try_from(svc.port).unwrap_or(u16::MAX);
        let target = if svc.address.is_empty() || svc.address == node.address {
            out.additionals
                .extend(address_records(&node.address, &node_target, RecordType::ANY, ttl));
            node_target.clone()
        } else if let Some(ip) = parse_ip(&svc.address) {
            let Some(target) = fqdn(&format!("{}.addr.{dc}.{}", encode_addr(ip), ctx.domain)) else {
                continue;
            };
            out.additionals
                .extend(ip_record(&target, ip, RecordType::ANY, ttl));
            target
        } else {
            // A host name: clients resolve it themselves.
            match fqdn(&svc.address) {
                Some(target) => target,
                None => continue,
            }
        };
        if ctx.cfg.node_meta_txt {
            out.additionals.extend(meta_txt(node, &node_target, ttl));
        }
        out.answers.push(Record::from_rdata(
            ctx.qname.clone(),
            ttl,
            RData::SRV(SRV::new(1, weight, port, target)),
        ));
    }
    out
}

/// `<node>.node[.<dc>]`: the node's address, and its metadata as TXT (in the answer for
/// TXT/ANY questions, else in the additional section).
pub(crate) fn node(cat: &Catalog, ctx: &Ctx<'_>, name: &str, dc: Option<&str>) -> Result<Records, Miss> {
    let qtype = ctx.qtype;
    if !matches!(
        qtype,
        RecordType::ANY | RecordType::A | RecordType::AAAA | RecordType::TXT
    ) {
        return Ok(Records::default());
    }
    if !local_dc(ctx.cfg, dc) {
        return Err(Miss::NotFound);
    }
    let node = find_node(cat, name).ok_or(Miss::NotFound)?;
    let ttl = ctx.cfg.node_ttl_secs();
    let mut out = Records::default();
    if qtype != RecordType::TXT {
        out.answers
            .extend(address_records(&node.address, ctx.qname, qtype, ttl));
    }
    let meta_in_answer = matches!(qtype, RecordType::TXT | RecordType::ANY);
    if meta_in_answer || ctx.cfg.node_meta_txt {
        let meta = meta_txt(node, ctx.qname, ttl);
        if meta_in_answer {
            out.answers.extend(meta);
        } else {
            out.additionals.extend(meta);
        }
    }
    Ok(out)
}

/// `<hex>.addr[.<dc>]`: the encoded address itself (in the additional section when the
/// question asks for the other family).
pub(crate) fn addr(ctx: &Ctx<'_>, ip: IpAddr) -> Records {
    let mut out = Records::default();
    let owner = ctx.qname.to_lowercase();
    let ttl = ctx.cfg.node_ttl_secs();
    let record = match ip {
        IpAddr::V4(v4) => Record::from_rdata(owner, ttl, RData::A(A(v4))),
        IpAddr::V6(v6) => Record::from_rdata(owner, ttl, RData::AAAA(AAAA(v6))),
    };
    let wanted = ctx.qtype == RecordType::ANY || ctx.qtype == record.record_type();
    if wanted {
        out.answers.push(record);
    } else {
        out.additionals.push(record);
    }
    out
}

/// The PTR target for `ip`: the first node with that address, else the first service
/// instance with that service address. Names use the primary domain.
pub(crate) fn ptr_target(cat: &Catalog, cfg: &DnsConfig, ip: IpAddr) -> Option<Name> {
    let dc = cfg.datacenter.as_str();
    if let Some(node) = cat.nodes().find(|n| parse_ip(&n.address) == Some(ip)) {
        if let Some(name) = node_fqdn(&node.node, dc, &cfg.domain) {
            return Some(name);
        }
    }
    cat.all_services()
        .find(|(_, s)| !s.address.is_empty() && parse_ip(&s.address) == Some(ip))
        .and_then(|(_, s)| fqdn(&format!("{}.service.{dc}.{}", s.service, cfg.domain)))
}

/// Whether a node name can appear in an NS record (Consul's `InvalidDnsRe`).
fn valid_dns_label(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// Up to three healthy servers (instances of `consul`) as NS records for `domain`, with
/// their addresses as glue.
pub(crate) fn nameservers(cat: &Catalog, cfg: &DnsConfig, domain: &str) -> (Vec<Record>, Vec<Record>) {
    let mut ns = Vec::new();
    let mut glue = Vec::new();
    let Some(owner) = fqdn(domain) else {
        return (ns, glue);
    };
    let mut servers = healthy_instances(cat, "consul", None, cfg.only_passing);
    crate::rng::shuffle(&mut servers);
    let ttl = cfg.node_ttl_secs();
    for inst in servers {
        let node = inst.node;
        if !valid_dns_label(&node.node) {
            continue;
        }
        let dc = if node.datacenter.is_empty() {
            cfg.datacenter.as_str()
        } else {
            node.datacenter.as_str()
        };
        let Some(target) = node_fqdn(&node.node.to_ascii_lowercase(), dc, domain) else {
            continue;
        };
        glue.extend(address_records(&node.address, &target, RecordType::ANY, ttl));
        ns.push(Record::from_rdata(owner.clone(), ttl, RData::NS(NS(target))));
        if ns.len() >= 3 {
            break;
        }
    }
    (ns, glue)
}

/// The domain's SOA record; the serial is the current Unix time.
pub(crate) fn soa(cfg: &DnsConfig, domain: &str) -> Option<Record> {
    let owner = fqdn(domain)?;
    let mname = fqdn(&format!("ns.{domain}"))?;
    let rname = fqdn(&format!("hostmaster.{domain}"))?;
    let serial = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as u32);
    let as_i32 = |v: u32| i32::try_from(v).unwrap_or(i32::MAX);
    let s = &cfg.soa;
    Some(Record::from_rdata(
        owner,
        s.min_ttl,
        RData::SOA(SOA::new(
            mname,
            rname,
            serial,
            as_i32(s.refresh),
            as_i32(s.retry),
            as_i32(s.expire),
            s.min_ttl,
        )),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1464_escaping() {
        assert_eq!(rfc1464("consul-network-segment", ""), "consul-network-segment=");
        assert_eq!(rfc1464("a=b", "v`x"), "a`=b=v``x");
        assert_eq!(rfc1464("  k ", "v"), "` ` k` =v");
        assert_eq!(rfc1464("`", ""), "``=");
    }

    #[test]
    fn long_txt_is_split() {
        let long = "x".repeat(600);
        let parts = txt_strings(&long);
        assert_eq!(
            parts.iter().map(String::len).collect::<Vec<_>>(),
            vec![255, 255, 90]
        );
        assert_eq!(txt_strings("short"), vec!["short".to_string()]);
    }

    #[test]
    fn address_record_kinds() {
        let owner = fqdn("web.service.consul").expect("name");
        let a = address_records("10.0.0.1", &owner, RecordType::A, 0);
        assert_eq!(a.len(), 1);
        assert!(address_records("10.0.0.1", &owner, RecordType::AAAA, 0).is_empty());
        assert!(address_records("10.0.0.1", &owner, RecordType::MX, 0).is_empty());
        let mapped = address_records("::ffff:10.0.0.1", &owner, RecordType::A, 0);
        assert_eq!(mapped[0].record_type(), RecordType::A);
        let v6 = address_records("2001:db8::1", &owner, RecordType::ANY, 0);
        assert_eq!(v6[0].record_type(), RecordType::AAAA);
        let cname = address_records("db.example.com", &owner, RecordType::A, 0);
        assert_eq!(cname[0].record_type(), RecordType::CNAME);
        assert!(address_records("", &owner, RecordType::A, 0).is_empty());
    }
}
