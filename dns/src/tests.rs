//! Request-to-response tests without sockets: a catalog like the golden Consul 1.10.3 setup
//! (`reference/golden/dns.md`), queries encoded to bytes, answers decoded back.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use hickory_server::proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_server::proto::rr::{Name, RData, Record, RecordType};
use rconsul_state::catalog::{HealthCheck, Node, RegisterRequest, Service};
use rconsul_state::testing::{check, node, service as svc};
use rconsul_state::{Command, StateStore};

use crate::{Action, DnsConfig, Responder, Transport};

/// Questions and answers, shared with the multi-process tests (`tests/dns.rs`).
#[path = "../../tests/common/dns_msg.rs"]
mod dns_msg;
use dns_msg::{has_soa, ip_list, ips, query, srv_targets, txts};

fn register(
    store: &StateStore,
    index: &mut u64,
    node: Node,
    service: Option<Service>,
    checks: Vec<HealthCheck>,
) {
    *index += 1;
    let req = RegisterRequest {
        node,
        service,
        checks,
        ..Default::default()
    };
    store.apply(*index, &[Command::CatalogRegister(Box::new(req))]);
}

/// Puts `node` in maintenance (its `_node_maintenance` check, critical).
fn node_maintenance(store: &StateStore, index: &mut u64, node: Node) {
    register(
        store,
        index,
        node,
        None,
        vec![check("_node_maintenance", "", "critical")],
    );
}

/// The golden setup: the agent `golden-dev` (a server), `db` on three nodes, `broken`
/// (critical), `warnsvc` (warning) and `many` on 20 nodes.
fn golden_store() -> Arc<StateStore> {
    let store = Arc::new(StateStore::new());
    let mut i = 0;
    let mut agent = node("golden-dev", "127.0.0.240");
    agent.meta = Some(BTreeMap::from([(
        "consul-network-segment".to_string(),
        String::new(),
    )]));
    register(
        &store,
        &mut i,
        agent,
        Some(svc("consul", "consul", &[], "", 8300)),
        vec![check("serfHealth", "", "passing")],
    );
    register(
        &store,
        &mut i,
        node("dns-n1", "127.0.0.231"),
        Some(svc("db1", "db", &["primary"], "", 5432)),
        vec![],
    );
    register(
        &store,
        &mut i,
        node("dns-n2", "127.0.0.232"),
        Some(svc("db2", "db", &["replica"], "", 5433)),
        vec![],
    );
    register(
        &store,
        &mut i,
        node("dns-n3", "127.0.0.233"),
        Some(svc("db3", "db", &["replica"], "127.0.0.234", 5434)),
        vec![],
    );
    register(
        &store,
        &mut i,
        node("dns-n1", "127.0.0.231"),
        Some(svc("broken1", "broken", &[], "", 1)),
        vec![check("broken-check", "broken1", "critical")],
    );
    register(
        &store,
        &mut i,
        node("dns-n2", "127.0.0.232"),
        Some(svc("warn1", "warnsvc", &[], "", 2)),
        vec![check("warn-check", "warn1", "warning")],
    );
    for n in 1..=20u32 {
        register(
            &store,
            &mut i,
            node(&format!("dns-m{n:02}"), &format!("127.0.1.{n}")),
            Some(svc("many", "many", &[], "", 7000 + n)),
            vec![],
        );
    }
    store
}

fn responder_with(f: impl FnOnce(&mut DnsConfig)) -> Responder {
    let mut cfg = DnsConfig::new("dc1", "golden-dev");
    f(&mut cfg);
    Responder::new(cfg, golden_store())
}

fn responder() -> Responder {
    responder_with(|_| {})
}

/// A configuration edit: one recursor (never reached: the responder only says `Recurse`).
fn recursor(c: &mut DnsConfig) {
    c.recursors = vec!["127.0.0.1:53".parse().expect("addr")];
}

fn exchange_bytes(r: &Responder, packet: &[u8], transport: Transport) -> Option<(Message, usize)> {
    match r.handle_packet(packet, transport) {
        Action::Reply(bytes) => Some((Message::from_vec(&bytes).expect("reply decodes"), bytes.len())),
        Action::Drop => None,
        Action::Recurse => panic!("unexpected recursion"),
    }
}

fn ask_on(r: &Responder, name: &str, qtype: RecordType, edns: Option<u16>, transport: Transport) -> Message {
    let req = query(name, qtype, edns);
    let (resp, len) = exchange_bytes(r, &req.to_vec().expect("encode"), transport).expect("a reply");
    assert_eq!(resp.metadata.id, req.metadata.id);
    assert_eq!(resp.metadata.message_type, MessageType::Response);
    if transport == Transport::Udp {
        let max = edns.map_or(512, |s| usize::from(s).max(512));
        assert!(len <= max || resp.answers.len() <= 1, "{len} bytes over {max}");
    }
    resp
}

/// A UDP question with EDNS (1232, like dig).
fn ask(r: &Responder, name: &str, qtype: RecordType) -> Message {
    ask_on(r, name, qtype, Some(1232), Transport::Udp)
}

#[test]
fn service_a_answers_healthy_instances() {
    let r = responder();
    let resp = ask(&r, "db.service.consul.", RecordType::A);
    assert_eq!(resp.metadata.response_code, ResponseCode::NoError);
    assert!(resp.metadata.authoritative);
    assert!(!resp.metadata.recursion_available);
    assert!(resp.metadata.recursion_desired);
    assert_eq!(
        ips(&resp.answers),
        ip_list(&["127.0.0.231", "127.0.0.232", "127.0.0.234"])
    );
    assert!(resp
        .answers
        .iter()
        .all(|a| a.ttl == 0 && a.name.to_ascii() == "db.service.consul."));
    assert_eq!(
        resp.edns.as_ref().map(Edns::max_payload),
        Some(1232),
        "EDNS echoed"
    );
    assert!(resp.additionals.is_empty(), "no node meta for service A answers");

    // ANY is the A lookup; the explicit datacenter works; an unknown one does not.
    assert_eq!(
        ips(&ask(&r, "db.service.consul.", RecordType::ANY).answers).len(),
        3
    );
    assert_eq!(
        ips(&ask(&r, "db.service.dc1.consul.", RecordType::A).answers).len(),
        3
    );
    let dc9 = ask(&r, "db.service.dc9.consul.", RecordType::A);
    assert_eq!(dc9.metadata.response_code, ResponseCode::NXDomain);
    assert!(has_soa(&dc9.authorities));
}

#[test]
fn answers_are_shuffled() {
    let r = responder();
    let mut orders = std::collections::HashSet::new();
    for _ in 0..30 {
        let resp = ask_on(&r, "many.service.consul.", RecordType::A, None, Transport::Tcp);
        orders.insert(format!(
            "{:?}",
            resp.answers.iter().map(|a| a.data.clone()).collect::<Vec<_>>()
        ));
    }
    assert!(
        orders.len() > 20,
        "answers look unshuffled ({} orders)",
        orders.len()
    );
}

#[test]
fn names_are_case_insensitive_and_echoed() {
    let r = responder();
    let resp = ask(&r, "DB.SERVICE.CONSUL.", RecordType::A);
    assert_eq!(resp.answers.len(), 3);
    assert_eq!(resp.queries[0].name().to_ascii(), "DB.SERVICE.CONSUL.");
    assert!(resp
        .answers
        .iter()
        .all(|a| a.name.to_ascii() == "DB.SERVICE.CONSUL."));
    assert_eq!(ask(&r, "Golden-Dev.Node.Consul.", RecordType::A).answers.len(), 1);
}

#[test]
fn srv_targets_nodes_or_addr_names() {
    let r = responder();
    let resp = ask(&r, "db.service.consul.", RecordType::SRV);
    assert_eq!(
        srv_targets(&resp.answers),
        vec![
            (5432, "dns-n1.node.dc1.consul.".to_string()),
            (5433, "dns-n2.node.dc1.consul.".to_string()),
            (5434, "7f0000ea.addr.dc1.consul.".to_string()),
        ]
    );
    for a in &resp.answers {
        let RData::SRV(s) = &a.data else { panic!("not SRV") };
        assert_eq!((s.priority, s.weight), (1, 1));
    }
    let mut extra: Vec<(String, IpAddr)> = resp
        .additionals
        .iter()
        .filter_map(|r| match &r.data {
            RData::A(a) => Some((r.name.to_ascii(), IpAddr::V4(a.0))),
            _ => None,
        })
        .collect();
    extra.sort();
    assert_eq!(
        extra,
        vec![
            (
                "7f0000ea.addr.dc1.consul.".into(),
                "127.0.0.234".parse().expect("ip")
            ),
            (
                "dns-n1.node.dc1.consul.".into(),
                "127.0.0.231".parse().expect("ip")
            ),
            (
                "dns-n2.node.dc1.consul.".into(),
                "127.0.0.232".parse().expect("ip")
            ),
        ]
    );

    // The servers' own service: SRV to the agent node, with its meta TXT as additional data.
    let consul = ask(&r, "consul.service.consul.", RecordType::SRV);
    assert_eq!(
        srv_targets(&consul.answers),
        vec![(8300, "golden-dev.node.dc1.consul.".to_string())]
    );
    assert_eq!(txts(&consul.additionals), vec!["consul-network-segment="]);
    let a = ask(&r, "consul.service.consul.", RecordType::A);
    assert_eq!(ips(&a.answers), ip_list(&["127.0.0.240"]));
}

#[test]
fn tag_and_rfc2782_forms() {
    let r = responder();
    let primary = ask(&r, "primary.db.service.consul.", RecordType::A);
    assert_eq!(ips(&primary.answers), ip_list(&["127.0.0.231"]));
    let replica = ask(&r, "replica.db.service.consul.", RecordType::SRV);
    assert_eq!(srv_targets(&replica.answers).len(), 2);
    let none = ask(&r, "nosuchtag.db.service.consul.", RecordType::A);
    assert_eq!(none.metadata.response_code, ResponseCode::NXDomain);
    assert!(has_soa(&none.authorities));

    assert_eq!(
        srv_targets(&ask(&r, "_db._tcp.service.consul.", RecordType::SRV).answers).len(),
        3
    );
    assert_eq!(
        srv_targets(&ask(&r, "_db._replica.service.consul.", RecordType::SRV).answers).len(),
        2
    );
    assert_eq!(
        srv_targets(&ask(&r, "_db._tcp.consul.", RecordType::SRV).answers).len(),
        3
    );
    assert_eq!(
        srv_targets(&ask(&r, "_db._primary.dc1.consul.", RecordType::SRV).answers).len(),
        1
    );
}

#[test]
fn health_filtering() {
    let r = responder();
    let broken = ask(&r, "broken.service.consul.", RecordType::A);
    assert_eq!(broken.metadata.response_code, ResponseCode::NXDomain);
    let soa = broken.authorities.first().expect("SOA");
    let RData::SOA(s) = &soa.data else {
        panic!("not SOA")
    };
    assert_eq!(soa.name.to_ascii(), "consul.");
    assert_eq!(s.mname.to_ascii(), "ns.consul.");
    assert_eq!(s.rname.to_ascii(), "hostmaster.consul.");
    assert_eq!((s.refresh, s.retry, s.expire, s.minimum), (3600, 600, 86400, 0));
    assert_eq!(
        ask(&r, "broken.service.consul.", RecordType::SRV)
            .metadata
            .response_code,
        ResponseCode::NXDomain
    );

    let warn = ask(&r, "warnsvc.service.consul.", RecordType::A);
    assert_eq!(ips(&warn.answers), ip_list(&["127.0.0.232"]));
    let strict = responder_with(|c| c.only_passing = true);
    assert_eq!(
        ask(&strict, "warnsvc.service.consul.", RecordType::A)
            .metadata
            .response_code,
        ResponseCode::NXDomain
    );
    assert_eq!(ask(&strict, "db.service.consul.", RecordType::A).answers.len(), 3);
}

#[test]
fn maintenance_and_node_checks_exclude_instances() {
    let store = golden_store();
    let mut i = 1000;
    // Node maintenance on dns-n1, service maintenance on db2.
    node_maintenance(&store, &mut i, node("dns-n1", "127.0.0.231"));
    register(
        &store,
        &mut i,
        node("dns-n2", "127.0.0.232"),
        None,
        vec![check("_service_maintenance:db2", "db2", "critical")],
    );
    let r = Responder::new(DnsConfig::new("dc1", "golden-dev"), store);
    assert_eq!(
        ips(&ask(&r, "db.service.consul.", RecordType::A).answers),
        ip_list(&["127.0.0.234"])
    );
}

#[test]
fn no_data_and_not_found() {
    let r = responder();
    // Known service, no record of the type: NOERROR with the SOA.
    let mx = ask(&r, "db.service.consul.", RecordType::MX);
    assert_eq!(mx.metadata.response_code, ResponseCode::NoError);
    assert!(mx.answers.is_empty() && has_soa(&mx.authorities));
    let aaaa = ask(&r, "db.service.consul.", RecordType::AAAA);
    assert_eq!(aaaa.metadata.response_code, ResponseCode::NoError);
    assert!(has_soa(&aaaa.authorities));
    for name in [
        "nosuch.service.consul.",
        "service.consul.",
        "bogus.consul.",
        "db.query.consul.",
        "consul.",
    ] {
        let resp = ask(&r, name, RecordType::A);
        assert_eq!(resp.metadata.response_code, ResponseCode::NXDomain, "{name}");
        assert!(
            resp.metadata.authoritative && has_soa(&resp.authorities),
            "{name}"
        );
    }
}

#[test]
fn node_lookups() {
    let r = responder();
    let a = ask(&r, "golden-dev.node.consul.", RecordType::A);
    assert_eq!(ips(&a.answers), ip_list(&["127.0.0.240"]));
    assert_eq!(txts(&a.additionals), vec!["consul-network-segment="]);
    let dc = ask(&r, "golden-dev.node.dc1.consul.", RecordType::A);
    assert_eq!(dc.answers.len(), 1);
    assert!(ask(&r, "dns-n1.node.consul.", RecordType::A)
        .additionals
        .is_empty());

    // IPv4-only node asked for AAAA: NOERROR, nothing, no SOA, meta in additional.
    let aaaa = ask(&r, "golden-dev.node.consul.", RecordType::AAAA);
    assert_eq!(aaaa.metadata.response_code, ResponseCode::NoError);
    assert!(aaaa.answers.is_empty() && aaaa.authorities.is_empty());
    assert_eq!(txts(&aaaa.additionals).len(), 1);

    let txt = ask(&r, "golden-dev.node.consul.", RecordType::TXT);
    assert_eq!(txts(&txt.answers), vec!["consul-network-segment="]);
    let any = ask_on(
        &r,
        "golden-dev.node.consul.",
        RecordType::ANY,
        Some(1232),
        Transport::Tcp,
    );
    assert_eq!(any.answers.len(), 2);

    let missing = ask(&r, "nosuch.node.consul.", RecordType::A);
    assert_eq!(missing.metadata.response_code, ResponseCode::NXDomain);
    assert!(has_soa(&missing.authorities));
    let other_dc = ask(&r, "golden-dev.node.dc2.consul.", RecordType::A);
    assert_eq!(other_dc.metadata.response_code, ResponseCode::NXDomain);
}

#[test]
fn addr_names() {
    let r = responder();
    let a = ask(&r, "7f0000f0.addr.dc1.consul.", RecordType::A);
    assert_eq!(ips(&a.answers), ip_list(&["127.0.0.240"]));
    let v6 = ask(
        &r,
        "20010db8000000000000000000000001.addr.dc1.consul.",
        RecordType::AAAA,
    );
    assert_eq!(ips(&v6.answers), ip_list(&["2001:db8::1"]));
    let short = ask(&r, "zzzz.addr.dc1.consul.", RecordType::A);
    assert_eq!(short.metadata.response_code, ResponseCode::NoError);
    assert!(short.answers.is_empty() && short.authorities.is_empty());
    let bad = ask(&r, "zzzzzzzz.addr.dc1.consul.", RecordType::A);
    assert_eq!(bad.metadata.response_code, ResponseCode::NXDomain);
}

#[test]
fn reverse_lookups() {
    let r = responder();
    let node = ask(&r, "240.0.0.127.in-addr.arpa.", RecordType::PTR);
    assert_eq!(node.metadata.response_code, ResponseCode::NoError);
    assert!(node.metadata.authoritative);
    let RData::PTR(p) = &node.answers[0].data else {
        panic!("not PTR")
    };
    assert_eq!(p.0.to_ascii(), "golden-dev.node.dc1.consul.");

    let service = ask(&r, "234.0.0.127.in-addr.arpa.", RecordType::PTR);
    let RData::PTR(p) = &service.answers[0].data else {
        panic!("not PTR")
    };
    assert_eq!(p.0.to_ascii(), "db.service.dc1.consul.");

    let unknown = ask(&r, "99.99.99.10.in-addr.arpa.", RecordType::PTR);
    assert_eq!(unknown.metadata.response_code, ResponseCode::ServFail);
    assert!(unknown.metadata.recursion_available && !unknown.metadata.authoritative);
    assert!(unknown.edns.is_some());
    let partial = ask(&r, "0.127.in-addr.arpa.", RecordType::PTR);
    assert_eq!(partial.metadata.response_code, ResponseCode::ServFail);

    let with_recursors = responder_with(recursor);
    let req = query("99.99.99.10.in-addr.arpa.", RecordType::PTR, None);
    assert_eq!(
        with_recursors.handle_packet(&req.to_vec().expect("encode"), Transport::Udp),
        Action::Recurse
    );
}

#[test]
fn soa_and_ns() {
    let r = responder();
    let soa = ask(&r, "consul.", RecordType::SOA);
    assert_eq!(soa.metadata.response_code, ResponseCode::NoError);
    assert_eq!(soa.answers.len(), 1);
    assert!(has_soa(&soa.answers));
    let RData::NS(ns) = &soa.authorities[0].data else {
        panic!("not NS")
    };
    assert_eq!(ns.0.to_ascii(), "golden-dev.node.dc1.consul.");
    assert_eq!(ips(&soa.additionals), ip_list(&["127.0.0.240"]));

    let ns = ask(&r, "consul.", RecordType::NS);
    assert_eq!(ns.answers.len(), 1);
    assert_eq!(ns.answers[0].name.to_ascii(), "consul.");
    assert_eq!(ips(&ns.additionals), ip_list(&["127.0.0.240"]));
}

#[test]
fn outside_the_domain() {
    let r = responder();
    let refused = ask(&r, "example.com.", RecordType::A);
    assert_eq!(refused.metadata.response_code, ResponseCode::Refused);
    assert!(!refused.metadata.authoritative && refused.edns.is_none());
    assert_eq!(refused.queries.len(), 1);

    let with_recursors = responder_with(recursor);
    let req = query("example.com.", RecordType::A, None)
        .to_vec()
        .expect("encode");
    assert_eq!(
        with_recursors.handle_packet(&req, Transport::Udp),
        Action::Recurse
    );
    let failed =
        Message::from_vec(&with_recursors.recursion_failed(&req).expect("servfail")).expect("decode");
    assert_eq!(failed.metadata.response_code, ResponseCode::ServFail);
    assert!(failed.metadata.recursion_available);
    // Answers under the domain advertise recursion once recursors exist.
    assert!(
        ask(&with_recursors, "db.service.consul.", RecordType::A)
            .metadata
            .recursion_available
    );
}

#[test]
fn udp_truncation_follows_consul() {
    let r = responder();
    // No EDNS: udp_answer_limit (3), no TC.
    let a = ask_on(&r, "many.service.consul.", RecordType::A, None, Transport::Udp);
    assert_eq!(a.answers.len(), 3);
    assert!(!a.metadata.truncation && a.edns.is_none());
    // EDNS 1232: all 20 A records fit.
    let a = ask(&r, "many.service.consul.", RecordType::A);
    assert_eq!(a.answers.len(), 20);
    assert!(a.edns.is_some());
    // SRV without EDNS: 3 answers and their 3 addresses.
    let srv = ask_on(&r, "many.service.consul.", RecordType::SRV, None, Transport::Udp);
    assert_eq!((srv.answers.len(), srv.additionals.len()), (3, 3));
    // SRV with EDNS 1232: cut to fit, extras follow the answers, the OPT record goes.
    let srv = ask(&r, "many.service.consul.", RecordType::SRV);
    assert_eq!(srv.answers.len(), 19, "Consul 1.10.3 fits 19 of 20 in 1232 bytes");
    assert_eq!(srv.additionals.len(), srv.answers.len());
    let targets: Vec<String> = srv_targets(&srv.answers).into_iter().map(|t| t.1).collect();
    let mut extra: Vec<String> = srv.additionals.iter().map(|r| r.name.to_ascii()).collect();
    extra.sort();
    let mut sorted_targets = targets.clone();
    sorted_targets.sort();
    assert_eq!(extra, sorted_targets);
    assert!(srv.edns.is_none() && !srv.metadata.truncation);
    // TCP: everything, OPT kept.
    let tcp = ask_on(
        &r,
        "many.service.consul.",
        RecordType::SRV,
        Some(1232),
        Transport::Tcp,
    );
    assert_eq!((tcp.answers.len(), tcp.additionals.len()), (20, 20));
    assert!(tcp.edns.is_some());

    // enable_truncate sets TC when answers were dropped.
    let t = responder_with(|c| c.enable_truncate = true);
    let a = ask_on(&t, "many.service.consul.", RecordType::A, None, Transport::Udp);
    assert_eq!(a.answers.len(), 3);
    assert!(a.metadata.truncation);
    let small = ask_on(&t, "db.service.consul.", RecordType::A, None, Transport::Udp);
    assert!(!small.metadata.truncation);
}

#[test]
fn hundred_instances_fit_512_and_64k() {
    let store = golden_store();
    let mut i = 5000;
    for n in 0..100u32 {
        register(
            &store,
            &mut i,
            node(
                &format!("big-node-with-a-long-name-{n:03}"),
                &format!("10.1.{}.{}", n / 250, n % 250 + 1),
            ),
            Some(svc("big", "big", &[], "", 9000 + n)),
            vec![],
        );
    }
    let r = Responder::new(
        {
            let mut c = DnsConfig::new("dc1", "golden-dev");
            c.udp_answer_limit = 8;
            c
        },
        store,
    );
    let srv = ask_on(&r, "big.service.consul.", RecordType::SRV, None, Transport::Udp);
    assert!(!srv.answers.is_empty() && srv.answers.len() <= 8);
    assert_eq!(srv.additionals.len(), srv.answers.len());
    let tcp = ask_on(&r, "big.service.consul.", RecordType::SRV, None, Transport::Tcp);
    assert_eq!(tcp.answers.len(), 100);
    let edns = ask_on(
        &r,
        "big.service.consul.",
        RecordType::SRV,
        Some(4096),
        Transport::Udp,
    );
    assert!(edns.answers.len() < 100 && edns.answers.len() > 30);
    let a = ask_on(
        &r,
        "big.service.consul.",
        RecordType::A,
        Some(4096),
        Transport::Udp,
    );
    assert_eq!(a.answers.len(), 100);
}

#[test]
fn a_record_limit_and_ttls() {
    let r = responder_with(|c| {
        c.a_record_limit = 2;
        c.node_ttl = Duration::from_secs(30);
        c.service_ttl = vec![
            ("*".into(), Duration::from_secs(5)),
            ("db".into(), Duration::from_secs(10)),
        ];
    });
    let a = ask(&r, "db.service.consul.", RecordType::A);
    assert_eq!(a.answers.len(), 2);
    assert!(a.answers.iter().all(|x| x.ttl == 10));
    assert!(ask(&r, "many.service.consul.", RecordType::A)
        .answers
        .iter()
        .all(|x| x.ttl == 5));
    let srv = ask_on(&r, "many.service.consul.", RecordType::SRV, None, Transport::Tcp);
    assert_eq!(srv.answers.len(), 20, "a_record_limit is for A/AAAA only");
    assert!(ask(&r, "golden-dev.node.consul.", RecordType::A)
        .answers
        .iter()
        .all(|x| x.ttl == 30));
}

#[test]
fn alt_domain_answers_in_its_own_domain() {
    let r = responder_with(|c| c.alt_domain = Some("alt.example.".into()));
    let srv = ask(&r, "db.service.alt.example.", RecordType::SRV);
    assert!(srv_targets(&srv.answers)
        .iter()
        .all(|(_, t)| t.ends_with(".dc1.alt.example.")));
    let miss = ask(&r, "nosuch.service.alt.example.", RecordType::A);
    assert_eq!(miss.authorities[0].name.to_ascii(), "alt.example.");
    assert_eq!(ask(&r, "db.service.consul.", RecordType::A).answers.len(), 3);
}

#[test]
fn malformed_requests() {
    let r = responder();
    assert_eq!(r.handle_packet(&[], Transport::Udp), Action::Drop);
    assert_eq!(r.handle_packet(&[1, 2, 3], Transport::Udp), Action::Drop);

    let good = query("db.service.consul.", RecordType::A, None)
        .to_vec()
        .expect("encode");
    // A response is never answered.
    let mut response = good.clone();
    response[2] |= 0x80;
    assert_eq!(r.handle_packet(&response, Transport::Udp), Action::Drop);

    // Header says one question, body is garbage: FORMERR with the same ID.
    let mut garbage = good[..12].to_vec();
    garbage.extend_from_slice(&[0xff; 7]);
    let (resp, _) = exchange_bytes(&r, &garbage, Transport::Udp).expect("formerr");
    assert_eq!(resp.metadata.response_code, ResponseCode::FormErr);
    assert_eq!(resp.metadata.id, u16::from_be_bytes([good[0], good[1]]));

    // No question, or two: FORMERR.
    let mut none = good[..12].to_vec();
    none[5] = 0;
    let (resp, _) = exchange_bytes(&r, &none, Transport::Udp).expect("formerr");
    assert_eq!(resp.metadata.response_code, ResponseCode::FormErr);
    let mut two = query("db.service.consul.", RecordType::A, None);
    two.add_query(Query::query(
        Name::from_ascii("x.consul.").expect("name"),
        RecordType::A,
    ));
    let (resp, _) = exchange_bytes(&r, &two.to_vec().expect("encode"), Transport::Udp).expect("formerr");
    assert_eq!(resp.metadata.response_code, ResponseCode::FormErr);

    // An UPDATE: not implemented.
    let mut update = good.clone();
    update[2] = (update[2] & 0x87) | (5 << 3);
    let (resp, _) = exchange_bytes(&r, &update, Transport::Udp).expect("notimp");
    assert_eq!(resp.metadata.response_code, ResponseCode::NotImp);
    assert_eq!(resp.metadata.op_code, OpCode::Update);

    // And the responder still answers.
    assert_eq!(ask(&r, "db.service.consul.", RecordType::A).answers.len(), 3);
}

#[test]
fn random_bytes_never_panic() {
    let r = responder();
    let good = query("_db._tcp.service.consul.", RecordType::SRV, Some(1232))
        .to_vec()
        .expect("encode");
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..5000 {
        let mut packet = good.clone();
        let flips = next() % 6 + 1;
        for _ in 0..flips {
            let idx = (next() % packet.len() as u64) as usize;
            packet[idx] = next() as u8;
        }
        let cut = (next() % (packet.len() as u64 + 1)) as usize;
        packet.truncate(cut.max(packet.len() / 2));
        let _ = r.handle_packet(&packet, Transport::Udp);
        let _ = r.handle_packet(&packet, Transport::Tcp);
    }
}

/// Measures the responder alone (no sockets): `cargo test --release -p rconsul-dns
/// responder_throughput -- --ignored --nocapture`.
#[test]
#[ignore]
fn responder_throughput() {
    let store = Arc::new(StateStore::new());
    let mut i = 0;
    for n in 1..=5u32 {
        register(
            &store,
            &mut i,
            node(&format!("web-n{n}"), &format!("10.0.0.{n}")),
            Some(svc(&format!("web{n}"), "web", &[], "", 80)),
            vec![check(&format!("web{n}-c"), &format!("web{n}"), "passing")],
        );
    }
    let r = Responder::new(DnsConfig::new("dc1", "n"), store);
    for (what, qtype) in [
        ("A (cached path)", RecordType::A),
        ("SRV (general path)", RecordType::SRV),
    ] {
        let packet = query("web.service.consul.", qtype, None)
            .to_vec()
            .expect("encode");
        let n = 200_000;
        let started = std::time::Instant::now();
        for _ in 0..n {
            assert!(matches!(
                r.handle_packet(&packet, Transport::Udp),
                Action::Reply(_)
            ));
        }
        let per = started.elapsed() / n;
        println!(
            "handle_packet {what}: {per:?} per query ({:.0}/s on one core)",
            1.0 / per.as_secs_f64()
        );
    }
}

/// A change to the default configuration.
type ConfigEdit = Box<dyn Fn(&mut DnsConfig)>;

/// The response with answers (and additionals) sorted, for order-free comparison.
fn canonical(bytes: &[u8]) -> Message {
    let mut m = Message::from_vec(bytes).expect("decode");
    let key = |r: &Record| format!("{r:?}");
    m.answers.sort_by_key(key);
    m.additionals.sort_by_key(key);
    m
}

#[test]
fn fast_path_matches_the_general_path() {
    let configs: Vec<ConfigEdit> = vec![
        Box::new(|_| {}),
        Box::new(|c| c.a_record_limit = 2),
        Box::new(|c| c.enable_truncate = true),
        Box::new(|c| c.udp_answer_limit = 8),
        Box::new(|c| c.udp_answer_limit = 0),
        Box::new(recursor),
        Box::new(|c| {
            c.service_ttl = vec![("*".into(), Duration::from_secs(7))];
            c.only_passing = true;
        }),
    ];
    let names = [
        "db.service.consul.",
        "DB.Service.Consul.",
        "replica.db.service.dc1.consul.",
        "many.service.consul.",
        "warnsvc.service.consul.",
        "broken.service.consul.",
        "nosuch.service.consul.",
        "db.service.dc9.consul.",
        "golden-dev.node.consul.",
        "example.com.",
        "consul.service.consul.",
    ];
    for (ci, config) in configs.iter().enumerate() {
        let r = responder_with(config);
        let mut fast_hits = 0;
        for name in names {
            for qtype in [RecordType::A, RecordType::AAAA] {
                for edns in [None, Some(512), Some(1232), Some(4096)] {
                    for transport in [Transport::Udp, Transport::Tcp] {
                        let mut req = query(name, qtype, edns);
                        req.metadata.checking_disabled = ci % 2 == 0;
                        let packet = req.to_vec().expect("encode");
                        if r.fast_answer(&packet, transport).is_some() {
                            fast_hits += 1;
                        }
                        let general = r.handle_packet_general(&packet, transport);
                        let fast = r.handle_packet(&packet, transport);
                        match (general, fast) {
                            (Action::Reply(g), Action::Reply(f)) => {
                                let what = format!("{name} {qtype} {edns:?} {transport:?} config {ci}");
                                assert_eq!(g.len(), f.len(), "{what}");
                                let (mut g, mut f) = (canonical(&g), canonical(&f));
                                // Cut-down answers are random subsets: both must come from
                                // the full set; then compare everything else.
                                let all = query(name, qtype, None).to_vec().expect("encode");
                                let unlimited = responder_with(|c| {
                                    config(c);
                                    c.a_record_limit = 0;
                                });
                                let full = match unlimited.handle_packet_general(&all, Transport::Tcp) {
                                    Action::Reply(b) => canonical(&b).answers,
                                    other => panic!("{other:?}"),
                                };
                                for a in g.answers.iter().chain(&f.answers) {
                                    assert!(full.iter().any(|x| x.data == a.data), "{what}: {a:?}");
                                }
                                for a in g.answers.iter_mut().chain(f.answers.iter_mut()) {
                                    a.data = RData::A(hickory_server::proto::rr::rdata::A::new(0, 0, 0, 0));
                                }
                                // The SOA serial is the current Unix second: the two paths may
                                // straddle a second boundary.
                                for a in g.authorities.iter_mut().chain(f.authorities.iter_mut()) {
                                    if let RData::SOA(soa) = &mut a.data {
                                        soa.serial = 0;
                                    }
                                }
                                assert_eq!(g, f, "{what}");
                            }
                            (g, f) => assert_eq!(g, f, "{name} {qtype}"),
                        }
                    }
                }
            }
        }
        assert!(
            fast_hits > 20,
            "config {ci}: the fast path answered only {fast_hits}"
        );
    }
}

#[test]
fn fast_path_follows_catalog_changes() {
    let store = golden_store();
    let r = Responder::new(DnsConfig::new("dc1", "golden-dev"), store.clone());
    let ask_db = || ips(&ask_on(&r, "db.service.consul.", RecordType::A, None, Transport::Tcp).answers);
    assert_eq!(ask_db().len(), 3);
    let mut i = 9000;
    node_maintenance(&store, &mut i, node("dns-n1", "127.0.0.231"));
    assert_eq!(ask_db(), ip_list(&["127.0.0.232", "127.0.0.234"]));
    register(
        &store,
        &mut i,
        node("dns-n9", "127.0.0.239"),
        Some(svc("db9", "db", &[], "", 1)),
        vec![],
    );
    assert_eq!(ask_db().len(), 3);
}
