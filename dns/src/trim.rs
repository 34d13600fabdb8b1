//! Encoding responses and cutting them down to what the transport allows, the way Consul
//! does (`trimUDPResponse` / `trimTCPResponse`):
//!
//! * UDP without EDNS (512 bytes): first at most `min(udp_answer_limit, 8)` answers, sized
//!   uncompressed; then drop answers until the message fits `max - 8` bytes.
//! * UDP with EDNS: fit the client's buffer (capped at 65467 bytes).
//! * TCP: at most 4096 answers (1024 SRV), then fit 65523 bytes.
//!
//! Whenever answers go, the additional section is rebuilt to cover just the remaining SRV
//! targets (which also drops the OPT record, as Consul's `syncExtra` does). The TC bit is
//! set only with `enable_truncate`.

use std::collections::{HashMap, HashSet};

use hickory_server::proto::op::Message;
use hickory_server::proto::rr::{Name, RData, Record};
use hickory_server::proto::ProtoError;

use crate::wire::encode;

/// Largest UDP payload Consul will send (65535 - 68).
const MAX_UDP_DATAGRAM: usize = 65_467;
/// Classic DNS UDP size.
const DEFAULT_UDP_SIZE: usize = 512;
/// Hard cap on answers per UDP response without EDNS.
const MAX_UDP_ANSWER_LIMIT: usize = 8;
/// Largest TCP message Consul builds.
const MAX_TCP_SIZE: usize = 65_523;

/// The transport a request came in on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// UDP: size limits apply.
    Udp,
    /// TCP: up to 64 KiB.
    Tcp,
}

/// What the trimming depends on.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) transport: Transport,
    /// The EDNS UDP size the client advertised, if it sent EDNS.
    pub(crate) edns_size: Option<u16>,
    pub(crate) udp_answer_limit: usize,
    pub(crate) enable_truncate: bool,
    pub(crate) compress: bool,
    /// The question is SRV (lower record cap over TCP).
    pub(crate) srv: bool,
}

/// The first additional record per owner name (Consul's `indexRRs`); names compare
/// case-insensitively.
fn index_additionals(msg: &Message) -> HashMap<Name, Record> {
    let mut index = HashMap::with_capacity(msg.additionals.len());
    for rr in &msg.additionals {
        index.entry(rr.name.clone()).or_insert_with(|| rr.clone());
    }
    index
}

/// Rebuilds the additional section to cover the SRV targets left in the answer, following
/// CNAMEs; the OPT record does not survive (Consul's `syncExtra`).
fn sync_additionals(index: &HashMap<Name, Record>, msg: &mut Message) {
    let mut extra = Vec::with_capacity(msg.answers.len());
    let mut resolved: HashSet<&Name> = HashSet::with_capacity(msg.answers.len());
    for answer in &msg.answers {
        let RData::SRV(srv) = &answer.data else {
            continue;
        };
        let mut target = &srv.target;
        while resolved.insert(target) {
            let Some(rr) = index.get(target) else {
                break;
            };
            extra.push(rr.clone());
            match &rr.data {
                RData::CNAME(cname) => target = &cname.0,
                _ => break,
            }
        }
    }
    msg.additionals = extra;
    msg.edns = None;
}

/// Consul's `dnsBinaryTruncate`: the number of answers (from `original`) that fits `max`.
fn binary_truncate(
    msg: &mut Message,
    original: &[Record],
    max: usize,
    index: Option<&HashMap<Name, Record>>,
    compress: bool,
) -> Result<usize, ProtoError> {
    let (mut start, mut end) = (0usize, original.len() + 1);
    while end - start > 1 {
        let median = start + (end - start) / 2;
        msg.answers = original[..median].to_vec();
        if let Some(index) = index {
            sync_additionals(index, msg);
        }
        let len = encode(msg, compress)?.len();
        if len <= max {
            if max - len < 10 {
                return Ok(median);
            }
            start = median;
        } else {
            end = median;
        }
    }
    Ok(start)
}

/// Cuts `msg` down for its transport and encodes it. Returns the wire bytes.
pub(crate) fn trim_and_encode(msg: &mut Message, limits: Limits) -> Result<Vec<u8>, ProtoError> {
    let num_answers = msg.answers.len();
    let has_extra = !msg.additionals.is_empty() || msg.edns.is_some();
    let index = has_extra.then(|| index_additionals(msg));

    let (max, measure_compressed) = match limits.transport {
        Transport::Udp => {
            let max = limits
                .edns_size
                .map_or(DEFAULT_UDP_SIZE, |s| usize::from(s).max(DEFAULT_UDP_SIZE))
                .min(MAX_UDP_DATAGRAM);
            let max_answers = limits.udp_answer_limit.min(MAX_UDP_ANSWER_LIMIT);
            let mut compressed = limits.compress;
            if max == DEFAULT_UDP_SIZE && num_answers > max_answers {
                // Sized uncompressed (sent compressed) so no downstream hop can overflow it.
                compressed = false;
                msg.answers.truncate(max_answers);
                if let Some(index) = &index {
                    sync_additionals(index, msg);
                }
            }
            (max - 8, compressed)
        }
        Transport::Tcp => {
            let cap = if limits.srv { 1024 } else { 4096 };
            msg.answers.truncate(cap);
            (MAX_TCP_SIZE, limits.compress)
        }
    };
    let mut sized = false;
    let mut encoded = None;
    // The loop ends with `encoded` set when the final state was measured in the wire form.
    while msg.answers.len() > 1 {
        let bytes = encode(msg, measure_compressed)?;
        if bytes.len() <= max {
            encoded = (measure_compressed == limits.compress).then_some(bytes);
            break;
        }
        sized = true;
        msg.authorities.clear();
        let len = encode(msg, measure_compressed)?.len();
        // The binary search compares against the full size, as Consul's does.
        let full = if limits.transport == Transport::Udp {
            max + 8
        } else {
            max
        };
        if len > full + 100 {
            let original = msg.answers.clone();
            let best = binary_truncate(msg, &original, full, index.as_ref(), measure_compressed)?;
            msg.answers = original;
            msg.answers.truncate(best);
        } else {
            msg.answers.pop();
        }
        if let Some(index) = &index {
            sync_additionals(index, msg);
        }
    }
    let trimmed = match limits.transport {
        Transport::Udp => msg.answers.len() < num_answers,
        Transport::Tcp => sized,
    };
    if trimmed && limits.enable_truncate {
        msg.metadata.truncation = true;
        encoded = None;
    }
    match encoded {
        Some(bytes) => Ok(bytes),
        None => encode(msg, limits.compress),
    }
}
