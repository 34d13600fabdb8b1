//! A fast path for the most common question, A or AAAA for `<service>.service[.<dc>]`:
//! the distinct addresses of the healthy instances are kept per question name and catalog
//! index, and a response is written straight from the request bytes (header and question
//! copied, answers pointing at the question name) without decoding or building records.
//!
//! It answers only what it can answer exactly like the general path (`responder`), and
//! returns `None` for everything else: other types, EDNS options, names that are not a
//! local service lookup, hostname (CNAME) answers, responses that would need Consul's
//! size trimming beyond the plain answer-count cut, disabled compression.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::net::IpAddr;
use std::sync::{Arc, RwLock};

use rconsul_state::catalog::Catalog;
use rconsul_state::StateStore;

use crate::config::DnsConfig;
use crate::name::{classify, lower_labels, parse_lookup, Lookup, Zone};
use crate::trim::Transport;
use crate::wire::IdHasher;

const TYPE_A: u16 = 1;
const TYPE_AAAA: u16 = 28;
const TYPE_OPT: u16 = 41;
const CLASS_IN: u16 = 1;
/// Entries kept before the cache starts over.
const MAX_ENTRIES: usize = 4096;

/// What a question's answer is made of.
struct Entry {
    /// Catalog index the addresses were read at.
    version: u64,
    /// The lower-cased question name (wire form).
    name: Box<[u8]>,
    qtype: u16,
    ttl: u32,
    /// Distinct addresses, unshuffled.
    addrs: Vec<IpAddr>,
}

/// The cache of service answers.
#[derive(Default)]
pub(crate) struct FastPath {
    entries: RwLock<HashMap<u64, Arc<Entry>, BuildHasherDefault<IdHasher>>>,
}

/// The parts of a request the fast path needs.
struct Question {
    /// End of the question name (its start is 12).
    name_end: usize,
    qtype: u16,
    /// The client's EDNS UDP size, if it sent a plain OPT record.
    edns: Option<u16>,
}

fn u16_at(p: &[u8], i: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*p.get(i)?, *p.get(i + 1)?]))
}

/// Parses a plain query: one uncompressed IN question for A/AAAA, optionally one OPT record
/// without options, nothing else.
fn parse(p: &[u8]) -> Option<Question> {
    if p.len() < 12 || p[2] & 0xf8 != 0 {
        return None; // a response, or not a standard query
    }
    if u16_at(p, 4)? != 1 || u16_at(p, 6)? != 0 || u16_at(p, 8)? != 0 || u16_at(p, 10)? > 1 {
        return None;
    }
    let mut i = 12;
    loop {
        let len = usize::from(*p.get(i)?);
        if len == 0 {
            break;
        }
        if len > 63 || i + 1 + len - 12 > 254 {
            return None;
        }
        i += 1 + len;
    }
    let name_end = i + 1;
    let qtype = u16_at(p, name_end)?;
    if (qtype != TYPE_A && qtype != TYPE_AAAA) || u16_at(p, name_end + 2)? != CLASS_IN {
        return None;
    }
    let mut end = name_end + 4;
    let mut edns = None;
    if u16_at(p, 10)? == 1 {
        // Root name, OPT, payload, extended rcode 0 and version 0, any flags, no options.
        if *p.get(end)? != 0 || u16_at(p, end + 1)? != TYPE_OPT {
            return None;
        }
        if *p.get(end + 5)? != 0 || *p.get(end + 6)? != 0 || u16_at(p, end + 9)? != 0 {
            return None;
        }
        edns = Some(u16_at(p, end + 3)?);
        end += 11;
    }
    (end == p.len()).then_some(Question {
        name_end,
        qtype,
        edns,
    })
}

/// Lower-cases the question name into `buf`, returning it and its hash (with the type).
fn key<'b>(p: &[u8], q: &Question, buf: &'b mut [u8; 256]) -> (&'b [u8], u64) {
    let name = &p[12..q.name_end];
    let out = &mut buf[..name.len()];
    let mut h: u64 = u64::from(q.qtype);
    for (o, b) in out.iter_mut().zip(name) {
        *o = b.to_ascii_lowercase();
        h = (h.rotate_left(5) ^ u64::from(*o)).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
    (out, h)
}

/// The distinct addresses a service A/AAAA answer would carry (Consul's
/// `serviceNodeRecords` before shuffling and limits); None when the general path must
/// answer (unknown service, no address of the family, host names).
fn service_addrs(
    cat: &Catalog,
    cfg: &DnsConfig,
    service: &str,
    tag: Option<&str>,
    qname: &str,
    want_v4: bool,
) -> Option<Vec<IpAddr>> {
    let mut seen: Vec<&str> = Vec::new();
    let mut out = Vec::new();
    for (node_name, svc) in cat.all_services() {
        if !svc.service.eq_ignore_ascii_case(service)
            || !tag.is_none_or(|t| svc.tags.iter().any(|x| x.eq_ignore_ascii_case(t)))
        {
            continue;
        }
        let Some(node) = cat.node(node_name) else {
            continue;
        };
        let healthy = cat
            .node_checks(node_name)
            .filter(|c| c.service_id.is_empty() || c.service_id == svc.id)
            .all(|c| c.status != "critical" && (!cfg.only_passing || c.status == "passing"));
        if !healthy {
            continue;
        }
        let mut addr = node.address.as_str();
        if !svc.address.is_empty() {
            addr = svc.address.as_str();
            if addr.trim_end_matches('.').eq_ignore_ascii_case(qname) {
                addr = node.address.as_str();
            }
        }
        if seen.contains(&addr) {
            continue;
        }
        seen.push(addr);
        match crate::answer::parse_ip(addr) {
            Some(ip @ IpAddr::V4(_)) if want_v4 => out.push(ip),
            Some(ip @ IpAddr::V6(_)) if !want_v4 => out.push(ip),
            Some(_) => {}
            // A host name: the general path decides between addresses and a CNAME.
            None => return None,
        }
    }
    (!out.is_empty()).then_some(out)
}

impl FastPath {
    /// Answers `packet` if it is a question this path handles exactly.
    pub(crate) fn answer(
        &self,
        packet: &[u8],
        transport: Transport,
        cfg: &DnsConfig,
        domains: &[Vec<String>],
        store: &StateStore,
    ) -> Option<Vec<u8>> {
        if cfg.disable_compression {
            return None;
        }
        let q = parse(packet)?;
        if q.edns.is_some_and(|size| size <= 512) {
            return None;
        }
        let mut buf = [0u8; 256];
        let (name, hash) = key(packet, &q, &mut buf);
        let version = store.read().catalog.max_index();
        let cached = self.entries.read().ok()?.get(&hash).cloned();
        let entry = match cached {
            Some(e) if e.version == version && *e.name == *name && e.qtype == q.qtype => e,
            _ => {
                let entry = Arc::new(self.build(packet, &q, name, cfg, domains, store));
                if let Ok(mut map) = self.entries.write() {
                    if map.len() >= MAX_ENTRIES {
                        map.clear();
                    }
                    map.insert(hash, entry.clone());
                }
                entry
            }
        };
        respond(packet, &q, &entry, transport, cfg)
    }

    /// Reads a question's addresses from the catalog. The entry is empty (meaning "ask the
    /// general path") unless the name is a local service lookup with IP answers.
    fn build(
        &self,
        packet: &[u8],
        q: &Question,
        name: &[u8],
        cfg: &DnsConfig,
        domains: &[Vec<String>],
        store: &StateStore,
    ) -> Entry {
        let state = store.read();
        let mut entry = Entry {
            version: state.catalog.max_index(),
            name: name.into(),
            qtype: q.qtype,
            ttl: 0,
            addrs: Vec::new(),
        };
        let mut raw = Vec::new();
        let mut i = 12;
        while i < q.name_end - 1 {
            let len = usize::from(packet[i]);
            raw.push(&packet[i + 1..i + 1 + len]);
            i += 1 + len;
        }
        let labels = lower_labels(raw.into_iter());
        let qname = labels.join(".");
        let Zone::Domain { labels, .. } = classify(&labels, domains) else {
            return entry;
        };
        let Lookup::Service { service, tag, dc } = parse_lookup(labels, false) else {
            return entry;
        };
        if dc.is_some_and(|dc| !dc.eq_ignore_ascii_case(&cfg.datacenter)) {
            return entry;
        }
        let want_v4 = q.qtype == TYPE_A;
        if let Some(addrs) = service_addrs(&state.catalog, cfg, &service, tag.as_deref(), &qname, want_v4) {
            entry.ttl = cfg.service_ttl_secs(&service);
            entry.addrs = addrs;
        }
        entry
    }
}

/// Writes the response: shuffled addresses, the limits and cuts Consul applies, or None
/// when the general path's size trimming would be needed.
fn respond(packet: &[u8], q: &Question, e: &Entry, transport: Transport, cfg: &DnsConfig) -> Option<Vec<u8>> {
    if e.addrs.is_empty() {
        return None;
    }
    let mut order: Vec<usize> = (0..e.addrs.len()).collect();
    crate::rng::shuffle(&mut order);
    let mut n = order.len();
    if cfg.a_record_limit > 0 {
        n = n.min(cfg.a_record_limit);
    }
    let qname_len = q.name_end - 12;
    let question_len = qname_len + 4;
    let rdlen: usize = if q.qtype == TYPE_A { 4 } else { 16 };
    let compressed = |k: usize| 12 + question_len + k * (12 + rdlen);
    let opt_len = if q.edns.is_some() { 11 } else { 0 };
    let k = match (transport, q.edns) {
        (Transport::Udp, Some(size)) => {
            let max = usize::from(size).min(65_467) - 8;
            if n > 1 && compressed(n) + opt_len > max {
                return None;
            }
            n
        }
        (Transport::Udp, None) => {
            let max = 512 - 8;
            let max_answers = cfg.udp_answer_limit.min(8);
            let mut k = n;
            if n > max_answers {
                // Sized uncompressed, as Consul does after this cut.
                k = max_answers;
                let uncompressed = |k: usize| 12 + question_len + k * (qname_len + 10 + rdlen);
                while k > 1 && uncompressed(k) > max {
                    k -= 1;
                }
            } else {
                while k > 1 && compressed(k) > max {
                    k -= 1;
                }
            }
            k
        }
        (Transport::Tcp, _) => {
            if n > 4096 || compressed(n) + opt_len > 65_523 {
                return None;
            }
            n
        }
    };
    let truncated = transport == Transport::Udp && k < n && cfg.enable_truncate;

    let mut out = Vec::with_capacity(compressed(k) + opt_len);
    out.extend_from_slice(&packet[..2]);
    let flags1 = 0x80 | 0x04 | u8::from(truncated) << 1 | (packet[2] & 0x01);
    let flags2 = u8::from(!cfg.recursors.is_empty()) << 7 | (packet[3] & 0x10);
    out.extend_from_slice(&[flags1, flags2, 0, 1]);
    out.extend_from_slice(&(k as u16).to_be_bytes());
    out.extend_from_slice(&[0, 0, 0, u8::from(q.edns.is_some())]);
    out.extend_from_slice(&packet[12..q.name_end + 4]);
    for &i in &order[..k] {
        out.extend_from_slice(&[0xc0, 0x0c]);
        out.extend_from_slice(&q.qtype.to_be_bytes());
        out.extend_from_slice(&CLASS_IN.to_be_bytes());
        out.extend_from_slice(&e.ttl.to_be_bytes());
        out.extend_from_slice(&(rdlen as u16).to_be_bytes());
        match e.addrs[i] {
            IpAddr::V4(v4) => out.extend_from_slice(&v4.octets()),
            IpAddr::V6(v6) => out.extend_from_slice(&v6.octets()),
        }
    }
    if let Some(size) = q.edns {
        out.extend_from_slice(&[0, 0, 41]);
        out.extend_from_slice(&size.to_be_bytes());
        out.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
    }
    Some(out)
}
