//! From request bytes to response bytes: header checks, routing by zone, response codes,
//! EDNS echo, trimming. No I/O here; the server loops call [`Responder::handle_packet`].

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use hickory_server::proto::op::{Edns, Message, Metadata, Query, ResponseCode};
use hickory_server::proto::rr::rdata::opt::{EdnsCode, EdnsOption};
use hickory_server::proto::rr::rdata::PTR;
use hickory_server::proto::rr::{RData, Record, RecordType};
use rconsul_state::acl::{AgentTokens, Kind, Need, Resolved, Resolver};
use rconsul_state::StateStore;

use crate::answer::{self, Ctx, Miss, Records};
use crate::config::DnsConfig;
use crate::fast::FastPath;
use crate::name::{classify, decode_addr, domain_labels, lower_labels, parse_lookup, Lookup, Zone};
use crate::trim::{trim_and_encode, Limits, Transport};
use crate::wire::encode;

/// What to do with one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send these bytes back.
    Reply(Vec<u8>),
    /// Forward the request to the recursors (then [`Responder::recursion_failed`] if none
    /// answers).
    Recurse,
    /// Send nothing (not a DNS query, or a response).
    Drop,
}

/// Answers DNS requests from the catalog of a [`StateStore`].
pub struct Responder {
    cfg: DnsConfig,
    store: Arc<StateStore>,
    /// The primary domain and the alternate one, fully qualified and lower case.
    domains: Vec<String>,
    domain_labels: Vec<Vec<String>>,
    /// Cached answers for service A/AAAA questions.
    fast: FastPath,
    /// With ACLs enabled: answers show only what the agent's default token may read.
    acl: Option<DnsAcl>,
}

/// What DNS needs for ACLs: Consul answers DNS with the agent's default token (or the
/// anonymous token), so a service that token cannot read does not exist in DNS.
pub struct DnsAcl {
    /// Token resolution (with `acl.default_policy`).
    pub resolver: Resolver,
    /// The agent's tokens (`default` is the one DNS uses).
    pub tokens: Arc<AgentTokens>,
}

/// RCODE values used in hand-built headers.
const RCODE_FORMERR: u8 = 1;
const RCODE_NOTIMP: u8 = 4;

impl Responder {
    /// A responder for `cfg` reading `store`.
    pub fn new(cfg: DnsConfig, store: Arc<StateStore>) -> Responder {
        let mut domains = vec![crate::config::fqdn_lower(&cfg.domain)];
        if let Some(alt) = &cfg.alt_domain {
            let alt = crate::config::fqdn_lower(alt);
            if alt != "." && alt != domains[0] {
                domains.push(alt);
            }
        }
        let domain_labels = domains.iter().map(|d| domain_labels(d)).collect();
        Responder {
            cfg,
            store,
            domains,
            domain_labels,
            fast: FastPath::default(),
            acl: None,
        }
    }

    /// Enforces ACLs with the agent's default token.
    pub fn with_acl(mut self, acl: DnsAcl) -> Self {
        self.acl = Some(acl);
        self
    }

    /// The default token's authorizer, or None when ACLs are off (everything visible).
    /// An unknown default token sees nothing.
    fn authorizer(&self, state: &rconsul_state::store::State) -> Option<Arc<Resolved>> {
        let acl = self.acl.as_ref()?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        let secret = acl.tokens.default_token();
        Some(match acl.resolver.resolve(&state.acl, &secret, now) {
            Ok(r) => r,
            Err(_) => Arc::new(Resolved::nothing()),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &DnsConfig {
        &self.cfg
    }

    /// Handles one request received over `transport`.
    pub fn handle_packet(&self, packet: &[u8], transport: Transport) -> Action {
        // The cached path knows nothing of ACLs: with them on, every answer is built.
        if self.acl.is_none() {
            if let Some(bytes) = self.fast_answer(packet, transport) {
                return Action::Reply(bytes);
            }
        }
        self.handle_packet_general(packet, transport)
    }

    /// The cached answer for a service A/AAAA question, when that path can give it.
    pub(crate) fn fast_answer(&self, packet: &[u8], transport: Transport) -> Option<Vec<u8>> {
        self.fast
            .answer(packet, transport, &self.cfg, &self.domain_labels, &self.store)
    }

    /// [`Responder::handle_packet`] without the cached fast path.
    pub(crate) fn handle_packet_general(&self, packet: &[u8], transport: Transport) -> Action {
        if packet.len() < 12 {
            return Action::Drop;
        }
        // QR set: a response; never answer those (reflection loops).
        if packet[2] & 0x80 != 0 {
            return Action::Drop;
        }
        let opcode = (packet[2] >> 3) & 0x0f;
        if opcode != 0 && opcode != 4 {
            return Action::Reply(header_only(packet, RCODE_NOTIMP));
        }
        let count = |i: usize| u16::from_be_bytes([packet[i], packet[i + 1]]);
        // The shape a query may have (miekg's default accept rules, which Consul uses).
        if count(4) != 1 || count(6) > 1 || count(8) > 1 || count(10) > 2 {
            return Action::Reply(header_only(packet, RCODE_FORMERR));
        }
        let Ok(req) = Message::from_vec(packet) else {
            return Action::Reply(header_only(packet, RCODE_FORMERR));
        };
        self.handle_message(&req, transport)
    }

    /// Handles one decoded request.
    pub fn handle_message(&self, req: &Message, transport: Transport) -> Action {
        let Some(query) = req.queries.first().filter(|_| req.queries.len() == 1) else {
            return self.reply(base_reply(req, ResponseCode::FormErr));
        };
        let labels = lower_labels(query.name().iter());
        match classify(&labels, &self.domain_labels) {
            Zone::Domain { labels, domain } => self.domain_query(req, query, labels, domain, transport),
            Zone::Arpa => self.reverse_query(req, query),
            Zone::Outside if self.cfg.recursors.is_empty() => {
                self.reply(base_reply(req, ResponseCode::Refused))
            }
            Zone::Outside => Action::Recurse,
        }
    }

    /// The answer when every recursor failed: SERVFAIL with RA set.
    pub fn recursion_failed(&self, packet: &[u8]) -> Option<Vec<u8>> {
        let req = Message::from_vec(packet).ok()?;
        let mut resp = base_reply(&req, ResponseCode::ServFail);
        resp.metadata.recursion_available = true;
        resp.edns = echo_edns(&req);
        encode(&resp, !self.cfg.disable_compression).ok()
    }

    fn reply(&self, msg: Message) -> Action {
        match encode(&msg, !self.cfg.disable_compression) {
            Ok(bytes) => Action::Reply(bytes),
            Err(e) => {
                tracing::warn!(target: "agent.dns", "failed to encode response: {e}");
                Action::Drop
            }
        }
    }

    /// A name under the domain.
    fn domain_query(
        &self,
        req: &Message,
        query: &Query,
        labels: Vec<String>,
        domain: usize,
        transport: Transport,
    ) -> Action {
        let domain = self.domains[domain].as_str();
        let qtype = query.query_type();
        let mut resp = base_reply(req, ResponseCode::NoError);
        resp.metadata.authoritative = true;
        resp.metadata.recursion_available = !self.cfg.recursors.is_empty();
        let ctx = Ctx {
            cfg: &self.cfg,
            qname: query.name(),
            qtype,
            domain,
        };
        match qtype {
            RecordType::SOA => {
                let (ns, glue) = answer::nameservers(&self.store.read().catalog, &self.cfg, domain);
                resp.answers.extend(answer::soa(&self.cfg, domain));
                resp.authorities = ns;
                resp.additionals = glue;
            }
            RecordType::NS => {
                let (ns, glue) = answer::nameservers(&self.store.read().catalog, &self.cfg, domain);
                resp.answers = ns;
                resp.additionals = glue;
            }
            RecordType::AXFR | RecordType::IXFR => {
                resp.metadata.response_code = ResponseCode::NotImp;
            }
            _ => match self.lookup(&ctx, labels) {
                Ok(records) => {
                    resp.answers = records.answers;
                    resp.additionals = records.additionals;
                }
                Err(Miss::NotFound) => {
                    resp.metadata.response_code = ResponseCode::NXDomain;
                    resp.authorities.extend(answer::soa(&self.cfg, domain));
                }
                Err(Miss::NoData) => {
                    resp.authorities.extend(answer::soa(&self.cfg, domain));
                }
            },
        }
        resp.edns = echo_edns(req);
        let limits = Limits {
            transport,
            edns_size: req.edns.as_ref().map(Edns::max_payload),
            udp_answer_limit: self.cfg.udp_answer_limit,
            enable_truncate: self.cfg.enable_truncate,
            compress: !self.cfg.disable_compression,
            srv: qtype == RecordType::SRV,
        };
        match trim_and_encode(&mut resp, limits) {
            Ok(bytes) => Action::Reply(bytes),
            Err(e) => {
                tracing::warn!(target: "agent.dns", "failed to encode response: {e}");
                self.reply(base_reply(req, ResponseCode::ServFail))
            }
        }
    }

    /// Runs a lookup under the read lock (never held across anything but record building).
    fn lookup(&self, ctx: &Ctx<'_>, labels: Vec<String>) -> Result<Records, Miss> {
        match parse_lookup(labels, ctx.qtype == RecordType::SRV) {
            Lookup::Service { service, tag, dc } => {
                let state = self.store.read();
                let authz = self.authorizer(&state);
                if let Some(a) = &authz {
                    if !a.authz.allows(Kind::Service, &service, Need::Read) {
                        return Err(Miss::NotFound);
                    }
                }
                let node_ok = |node: &str| {
                    authz
                        .as_ref()
                        .is_none_or(|a| a.authz.allows(Kind::Node, node, Need::Read))
                };
                answer::service(
                    &state.catalog,
                    ctx,
                    &service,
                    tag.as_deref(),
                    dc.as_deref(),
                    &node_ok,
                )
            }
            Lookup::Node { node, dc } => {
                let state = self.store.read();
                if let Some(a) = self.authorizer(&state) {
                    if !a.authz.allows(Kind::Node, &node, Need::Read) {
                        return Err(Miss::NotFound);
                    }
                }
                answer::node(&state.catalog, ctx, &node, dc.as_deref())
            }
            Lookup::Addr { hex } => match decode_addr(&hex) {
                Ok(Some(ip)) => Ok(answer::addr(ctx, ip)),
                Ok(None) => Ok(Records::default()),
                Err(()) => Err(Miss::NotFound),
            },
            Lookup::Unsupported | Lookup::Invalid => Err(Miss::NotFound),
        }
    }

    /// A name under `arpa.`: a known node or service address, else the recursors (or
    /// SERVFAIL without any, as Consul answers).
    fn reverse_query(&self, req: &Message, query: &Query) -> Action {
        let target = reverse_ip(query).and_then(|ip| {
            let state = self.store.read();
            answer::ptr_target(&state.catalog, &self.cfg, ip)
        });
        let Some(target) = target else {
            if !self.cfg.recursors.is_empty() {
                return Action::Recurse;
            }
            let mut resp = base_reply(req, ResponseCode::ServFail);
            resp.metadata.recursion_available = true;
            resp.edns = echo_edns(req);
            return self.reply(resp);
        };
        let mut resp = base_reply(req, ResponseCode::NoError);
        resp.metadata.authoritative = true;
        resp.metadata.recursion_available = !self.cfg.recursors.is_empty();
        resp.answers.push(Record::from_rdata(
            query.name().clone(),
            0,
            RData::PTR(PTR(target)),
        ));
        resp.edns = echo_edns(req);
        self.reply(resp)
    }
}

/// A response to `req` with its ID, opcode, RD/CD bits and first question.
fn base_reply(req: &Message, rcode: ResponseCode) -> Message {
    let mut resp = Message::response(req.metadata.id, req.metadata.op_code);
    let mut meta = Metadata::response_from_request(&req.metadata);
    meta.response_code = rcode;
    resp.metadata = meta;
    if let Some(q) = req.queries.first() {
        resp.queries.push(q.clone());
    }
    resp
}

/// A 12-byte response header for a request that cannot be processed.
fn header_only(packet: &[u8], rcode: u8) -> Vec<u8> {
    let opcode = packet[2] & 0x78;
    let mut flags = 0x80 | opcode;
    if opcode == 0 {
        flags |= packet[2] & 0x01; // RD
    }
    let cd = if opcode == 0 { packet[3] & 0x10 } else { 0 };
    vec![packet[0], packet[1], flags, cd | rcode, 0, 0, 0, 0, 0, 0, 0, 0]
}

/// The OPT record to send back: the client's UDP size, and its client-subnet option with a
/// global scope.
fn echo_edns(req: &Message) -> Option<Edns> {
    let edns = req.edns.as_ref()?;
    let mut out = Edns::new();
    out.set_max_payload(edns.max_payload());
    if let Some(EdnsOption::Subnet(subnet)) = edns.option(EdnsCode::Subnet) {
        let mut subnet = *subnet;
        subnet.set_scope_prefix(0);
        out.options_mut().insert(EdnsOption::Subnet(subnet));
    }
    Some(out)
}

/// The address a `in-addr.arpa.` / `ip6.arpa.` name stands for (full addresses only).
fn reverse_ip(query: &Query) -> Option<IpAddr> {
    let labels = lower_labels(query.name().iter());
    let (zone, parts) = match labels.as_slice() {
        [parts @ .., z, a] if a == "arpa" => (z.as_str(), parts),
        _ => return None,
    };
    match zone {
        "in-addr" if parts.len() == 4 => {
            let mut octets = [0u8; 4];
            for (i, p) in parts.iter().rev().enumerate() {
                if p.is_empty() || p.len() > 3 || !p.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                octets[i] = p.parse().ok()?;
            }
            Some(IpAddr::V4(Ipv4Addr::from(octets)))
        }
        "ip6" if parts.len() == 32 => {
            let mut value: u128 = 0;
            for p in parts.iter().rev() {
                let mut chars = p.chars();
                let (Some(c), None) = (chars.next(), chars.next()) else {
                    return None;
                };
                value = (value << 4) | u128::from(c.to_digit(16)?);
            }
            Some(IpAddr::V6(Ipv6Addr::from(value)))
        }
        _ => None,
    }
}
