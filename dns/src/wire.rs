//! Encoding responses to wire format.
//!
//! The records this server builds (A, AAAA, CNAME, NS, PTR, SOA, SRV, TXT and a plain OPT)
//! are written by a small encoder with miekg/dns-style name compression: owner names and
//! the names inside CNAME/NS/PTR/SOA data point at earlier occurrences, SRV targets are
//! written in full but later names may point into them. That keeps sizes (and therefore
//! Consul's trimming results) the same as Consul's, and costs far less than a general
//! encoder. Anything else falls back to hickory's encoder.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use hickory_server::proto::op::{Edns, Message, MessageType};
use hickory_server::proto::rr::{Name, RData, Record};
use hickory_server::proto::serialize::binary::{BinEncodable, BinEncoder, NameEncoding};
use hickory_server::proto::ProtoError;

/// Encodes `msg`, compressing names when `compress` is set.
pub(crate) fn encode(msg: &Message, compress: bool) -> Result<Vec<u8>, ProtoError> {
    match Writer::new(compress).message(msg) {
        Some(bytes) => Ok(bytes),
        None => encode_with_hickory(msg, compress),
    }
}

/// hickory's general encoder (for record types the fast path does not know).
pub(crate) fn encode_with_hickory(msg: &Message, compress: bool) -> Result<Vec<u8>, ProtoError> {
    let mut buf = Vec::with_capacity(512);
    let mut encoder = BinEncoder::new(&mut buf);
    if !compress {
        encoder.set_name_encoding(NameEncoding::Uncompressed);
    }
    msg.emit(&mut encoder)?;
    Ok(buf)
}

/// A hasher for keys that already are hashes.
#[derive(Default)]
pub(crate) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 << 8) | u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// Names with more labels than this are left to hickory.
const MAX_LABELS: usize = 32;
/// Name suffixes remembered without hashing before switching to the hash map.
const SMALL_TABLE: usize = 32;
/// Compression pointers can address only the first 16 KiB.
const MAX_POINTER: usize = 0x3fff;

struct Writer {
    buf: Vec<u8>,
    compress: bool,
    names: NameTable,
}

/// Hash of a name suffix (exact bytes) → the offset where it was written first. Small
/// messages use the inline array; large ones spill into a hash map.
struct NameTable {
    small: [(u64, u16); SMALL_TABLE],
    small_len: usize,
    big: HashMap<u64, u16, BuildHasherDefault<IdHasher>>,
}

impl NameTable {
    fn new() -> NameTable {
        NameTable {
            small: [(0, 0); SMALL_TABLE],
            small_len: 0,
            big: HashMap::default(),
        }
    }

    fn get(&self, hash: u64) -> Option<u16> {
        self.small[..self.small_len]
            .iter()
            .find(|(h, _)| *h == hash)
            .map(|(_, off)| *off)
            .or_else(|| self.big.get(&hash).copied())
    }

    fn insert(&mut self, hash: u64, offset: u16) {
        if self.get(hash).is_some() {
            return;
        }
        if self.small_len < SMALL_TABLE {
            self.small[self.small_len] = (hash, offset);
            self.small_len += 1;
        } else {
            self.big.insert(hash, offset);
        }
    }
}

/// Mixes one label (with its length) into `seed`, eight bytes at a time (FxHash-style).
fn hash_label(seed: u64, label: &[u8]) -> u64 {
    const K: u64 = 0x517c_c1b7_2722_0a95;
    let mut h = (seed.rotate_left(5) ^ label.len() as u64).wrapping_mul(K);
    for chunk in label.chunks(8) {
        let word = match <[u8; 8]>::try_from(chunk) {
            Ok(bytes) => u64::from_le_bytes(bytes),
            Err(_) => chunk
                .iter()
                .enumerate()
                .fold(0u64, |w, (i, b)| w | u64::from(*b) << (8 * i)),
        };
        h = (h.rotate_left(5) ^ word).wrapping_mul(K);
    }
    h
}

impl Writer {
    fn new(compress: bool) -> Writer {
        Writer {
            buf: Vec::with_capacity(512),
            compress,
            names: NameTable::new(),
        }
    }

    fn u16(&mut self, v: u16) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    fn u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    fn message(mut self, msg: &Message) -> Option<Vec<u8>> {
        let m = &msg.metadata;
        self.u16(m.id);
        let qr = u8::from(m.message_type == MessageType::Response) << 7;
        let opcode = (u8::from(m.op_code) & 0x0f) << 3;
        let flags1 = qr
            | opcode
            | u8::from(m.authoritative) << 2
            | u8::from(m.truncation) << 1
            | u8::from(m.recursion_desired);
        let flags2 = u8::from(m.recursion_available) << 7
            | u8::from(m.authentic_data) << 5
            | u8::from(m.checking_disabled) << 4
            | (m.response_code.low() & 0x0f);
        self.buf.push(flags1);
        self.buf.push(flags2);
        let count = |n: usize| u16::try_from(n).ok();
        let additionals = msg.additionals.len() + usize::from(msg.edns.is_some());
        self.u16(count(msg.queries.len())?);
        self.u16(count(msg.answers.len())?);
        self.u16(count(msg.authorities.len())?);
        self.u16(count(additionals)?);
        for q in &msg.queries {
            self.name(q.name(), true)?;
            self.u16(u16::from(q.query_type()));
            self.u16(u16::from(q.query_class()));
        }
        for r in msg.answers.iter().chain(&msg.authorities).chain(&msg.additionals) {
            self.record(r)?;
        }
        if let Some(edns) = &msg.edns {
            self.opt(edns, m.response_code.high())?;
        }
        (self.buf.len() <= usize::from(u16::MAX)).then_some(self.buf)
    }

    /// Whether the name written at `offset` (following pointers) is exactly `labels`.
    fn written_equals(&self, mut offset: usize, labels: &[&[u8]]) -> bool {
        let mut steps = 0;
        let mut rest = labels;
        loop {
            steps += 1;
            if steps > 256 {
                return false;
            }
            let Some(&len) = self.buf.get(offset) else {
                return false;
            };
            if len & 0xc0 == 0xc0 {
                let Some(&low) = self.buf.get(offset + 1) else {
                    return false;
                };
                offset = usize::from(len & 0x3f) << 8 | usize::from(low);
                continue;
            }
            if len == 0 {
                return rest.is_empty();
            }
            let Some((first, tail)) = rest.split_first() else {
                return false;
            };
            let end = offset + 1 + usize::from(len);
            if self.buf.get(offset + 1..end) != Some(*first) {
                return false;
            }
            rest = tail;
            offset = end;
        }
    }

    /// Writes a name; `may_point` allows ending it with a pointer to an earlier suffix.
    fn name(&mut self, name: &Name, may_point: bool) -> Option<()> {
        let mut labels: [&[u8]; MAX_LABELS] = [&[]; MAX_LABELS];
        let mut n = 0;
        for label in name.iter() {
            if n == MAX_LABELS || label.is_empty() || label.len() > 63 {
                return None;
            }
            labels[n] = label;
            n += 1;
        }
        let labels = &labels[..n];
        if labels.iter().map(|l| l.len() + 1).sum::<usize>() + 1 > 255 {
            return None;
        }
        let mut hashes = [0u64; MAX_LABELS];
        let mut h = 0u64;
        for i in (0..n).rev() {
            h = hash_label(h, labels[i]);
            hashes[i] = h;
        }
        // The longest suffix already written, if pointers are allowed.
        let mut pointer = None;
        if self.compress && may_point {
            for i in 0..n {
                if let Some(off) = self.names.get(hashes[i]) {
                    if self.written_equals(usize::from(off), &labels[i..]) {
                        pointer = Some((i, off));
                        break;
                    }
                }
            }
        }
        let literal = pointer.map_or(n, |(i, _)| i);
        for i in 0..literal {
            let offset = self.buf.len();
            if self.compress && offset <= MAX_POINTER {
                self.names.insert(hashes[i], offset as u16);
            }
            self.buf.push(labels[i].len() as u8);
            self.buf.extend_from_slice(labels[i]);
        }
        match pointer {
            Some((_, off)) => self.u16(0xc000 | off),
            None => self.buf.push(0),
        }
        Some(())
    }

    fn record(&mut self, r: &Record) -> Option<()> {
        self.name(&r.name, true)?;
        self.u16(u16::from(r.record_type()));
        self.u16(u16::from(r.dns_class));
        self.u32(r.ttl);
        let len_at = self.buf.len();
        self.u16(0);
        match &r.data {
            RData::A(a) => self.buf.extend_from_slice(&a.0.octets()),
            RData::AAAA(a) => self.buf.extend_from_slice(&a.0.octets()),
            RData::CNAME(c) => self.name(&c.0, true)?,
            RData::NS(ns) => self.name(&ns.0, true)?,
            RData::PTR(p) => self.name(&p.0, true)?,
            RData::SOA(s) => {
                self.name(&s.mname, true)?;
                self.name(&s.rname, true)?;
                self.u32(s.serial);
                self.u32(s.refresh as u32);
                self.u32(s.retry as u32);
                self.u32(s.expire as u32);
                self.u32(s.minimum);
            }
            RData::SRV(s) => {
                self.u16(s.priority);
                self.u16(s.weight);
                self.u16(s.port);
                self.name(&s.target, false)?;
            }
            RData::TXT(t) => {
                for s in t.txt_data.iter() {
                    self.buf.push(u8::try_from(s.len()).ok()?);
                    self.buf.extend_from_slice(s);
                }
            }
            _ => return None,
        }
        let rdlen = u16::try_from(self.buf.len() - len_at - 2).ok()?;
        self.buf[len_at..len_at + 2].copy_from_slice(&rdlen.to_be_bytes());
        Some(())
    }

    /// An OPT record without options (others go through hickory).
    fn opt(&mut self, edns: &Edns, rcode_high: u8) -> Option<()> {
        if !edns.options().options.is_empty() {
            return None;
        }
        self.buf.push(0);
        self.u16(41);
        self.u16(edns.max_payload());
        let flags = if edns.flags().dnssec_ok { 0x8000u32 } else { 0 };
        self.u32(u32::from(rcode_high) << 24 | u32::from(edns.version()) << 16 | flags);
        self.u16(0);
        Some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_server::proto::op::{Query, ResponseCode};
    use hickory_server::proto::rr::rdata::{A, AAAA, CNAME, NS, PTR, SOA, SRV, TXT};
    use hickory_server::proto::rr::RecordType;

    fn name(s: &str) -> Name {
        Name::from_ascii(s).expect("name")
    }

    fn sample(n: usize) -> Message {
        let mut m = Message::response(0x1234, hickory_server::proto::op::OpCode::Query);
        m.metadata.authoritative = true;
        m.metadata.recursion_desired = true;
        m.metadata.response_code = ResponseCode::NXDomain;
        m.add_query(Query::query(name("Many.Service.consul."), RecordType::SRV));
        for i in 0..n {
            let target = name(&format!("dns-m{i:02}.node.dc1.consul."));
            m.answers.push(Record::from_rdata(
                name("Many.Service.consul."),
                5,
                RData::SRV(SRV::new(1, 1, 7000 + i as u16, target.clone())),
            ));
            m.additionals.push(Record::from_rdata(
                target.clone(),
                0,
                RData::A(A::new(127, 0, 1, i as u8)),
            ));
            m.additionals.push(Record::from_rdata(
                target,
                0,
                RData::TXT(TXT::new(vec!["consul-network-segment=".into(), "x".into()])),
            ));
        }
        m.answers.push(Record::from_rdata(
            name("Many.Service.consul."),
            0,
            RData::AAAA(AAAA("2001:db8::1".parse().expect("ip"))),
        ));
        m.answers.push(Record::from_rdata(
            name("alias.consul."),
            0,
            RData::CNAME(CNAME(name("db.example.com."))),
        ));
        m.authorities.push(Record::from_rdata(
            name("consul."),
            0,
            RData::SOA(SOA::new(
                name("ns.consul."),
                name("hostmaster.consul."),
                1_795_545_183,
                3600,
                600,
                86400,
                0,
            )),
        ));
        m.authorities.push(Record::from_rdata(
            name("consul."),
            0,
            RData::NS(NS(name("n1.node.dc1.consul."))),
        ));
        m.additionals.push(Record::from_rdata(
            name("1.0.0.127.in-addr.arpa."),
            0,
            RData::PTR(PTR(name("n1.node.dc1.consul."))),
        ));
        let mut edns = Edns::new();
        edns.set_max_payload(1232);
        m.set_edns(edns);
        m
    }

    #[test]
    fn decodes_to_the_same_message() {
        for compress in [true, false] {
            for n in [0, 1, 5, 40, 300] {
                let msg = sample(n);
                let ours = encode(&msg, compress).expect("encode");
                let theirs = encode_with_hickory(&msg, compress).expect("encode");
                let a = Message::from_vec(&ours).expect("ours decodes");
                let b = Message::from_vec(&theirs).expect("theirs decodes");
                assert_eq!(a, b, "n={n} compress={compress}");
                assert_eq!(a.answers.len(), n + 2);
                if !compress {
                    assert_eq!(ours.len(), theirs.len(), "uncompressed sizes agree");
                }
                if compress && n > 0 {
                    assert!(ours.len() <= theirs.len(), "{} > {}", ours.len(), theirs.len());
                }
            }
        }
    }

    #[test]
    fn owner_names_point_into_srv_targets() {
        let mut m = Message::response(1, hickory_server::proto::op::OpCode::Query);
        m.add_query(Query::query(name("many.service.consul."), RecordType::SRV));
        let target = name("dns-m18.node.dc1.consul.");
        m.answers.push(Record::from_rdata(
            name("many.service.consul."),
            0,
            RData::SRV(SRV::new(1, 1, 7018, target.clone())),
        ));
        m.additionals
            .push(Record::from_rdata(target, 0, RData::A(A::new(127, 0, 1, 18))));
        let bytes = encode(&m, true).expect("encode");
        // Header 12 + question 25 + SRV (2 + 10 + 6 + 25) + A (2 + 10 + 4), as miekg/dns packs it.
        assert_eq!(bytes.len(), 12 + 25 + 43 + 16);
    }

    #[test]
    fn other_types_fall_back() {
        let mut m = Message::response(1, hickory_server::proto::op::OpCode::Query);
        m.answers.push(Record::from_rdata(
            name("x.consul."),
            0,
            RData::MX(hickory_server::proto::rr::rdata::MX::new(
                10,
                name("mail.consul."),
            )),
        ));
        let bytes = encode(&m, true).expect("encode");
        assert_eq!(Message::from_vec(&bytes).expect("decode").answers.len(), 1);
    }
}
