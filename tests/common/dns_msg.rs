//! DNS questions and answers for tests, shared by the responder's unit tests
//! (`dns/src/tests.rs`) and the multi-process DNS tests (`tests/dns.rs`), which both
//! include this file with `#[path]`.
//!
//! It names hickory's protocol types as `crate::proto`: the dns crate re-exports
//! `hickory_server::proto` at its root, and `tests/dns.rs` imports that re-export as
//! `proto`. So the file depends on neither crate and the dns crate on nothing of the agent.

use std::net::IpAddr;

use crate::proto::op::{Edns, Message, Query};
use crate::proto::rr::{Name, RData, Record, RecordType};

/// A query for `name`/`qtype` with recursion desired, and an EDNS OPT record advertising
/// `edns` bytes when set.
pub fn query(name: &str, qtype: RecordType, edns: Option<u16>) -> Message {
    let mut msg = Message::query();
    msg.metadata.recursion_desired = true;
    msg.add_query(Query::query(Name::from_ascii(name).expect("name"), qtype));
    if let Some(size) = edns {
        let mut e = Edns::new();
        e.set_max_payload(size);
        msg.set_edns(e);
    }
    msg
}

/// The A and AAAA addresses among `records`, sorted.
pub fn ips(records: &[Record]) -> Vec<IpAddr> {
    let mut out: Vec<IpAddr> = records
        .iter()
        .filter_map(|r| match &r.data {
            RData::A(a) => Some(IpAddr::V4(a.0)),
            RData::AAAA(a) => Some(IpAddr::V6(a.0)),
            _ => None,
        })
        .collect();
    out.sort();
    out
}

/// `list` parsed as addresses, sorted (to compare with [`ips`]).
pub fn ip_list(list: &[&str]) -> Vec<IpAddr> {
    let mut out: Vec<IpAddr> = list.iter().map(|s| s.parse().expect("ip")).collect();
    out.sort();
    out
}

/// The SRV (port, target) pairs among `records`, sorted.
pub fn srv_targets(records: &[Record]) -> Vec<(u16, String)> {
    let mut out: Vec<(u16, String)> = records
        .iter()
        .filter_map(|r| match &r.data {
            RData::SRV(s) => Some((s.port, s.target.to_ascii())),
            _ => None,
        })
        .collect();
    out.sort();
    out
}

/// Whether `records` hold an SOA record.
pub fn has_soa(records: &[Record]) -> bool {
    records.iter().any(|r| r.record_type() == RecordType::SOA)
}

/// The TXT records among `records`, each one's strings joined, in order.
pub fn txts(records: &[Record]) -> Vec<String> {
    records
        .iter()
        .filter_map(|r| match &r.data {
            RData::TXT(t) => Some(
                t.txt_data
                    .iter()
                    .map(|d| String::from_utf8_lossy(d).into_owned())
                    .collect::<String>(),
            ),
            _ => None,
        })
        .collect()
}
