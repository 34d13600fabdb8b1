//! The DNS interface (port 8600, UDP and TCP) of a real `rconsul agent -dev`, queried with a
//! DNS client built from hickory's protocol types (and `dig`, where it is installed).

mod common;

use std::io::{Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::time::Duration;

use common::{wait_for, Agent};
use dns_msg::{has_soa, ip_list, ips, query, srv_targets, txts};
use rconsul_dns::proto;
use rconsul_dns::proto::op::{Edns, Message, ResponseCode};
use rconsul_dns::proto::rr::{RData, RecordType};

/// Questions and answers, shared with the responder's unit tests (`dns/src/tests.rs`).
#[path = "common/dns_msg.rs"]
mod dns_msg;

const READY: Duration = Duration::from_secs(20);
const DNS_PORT: u16 = 8600;

/// Sends raw bytes over UDP; the reply bytes, or None after `wait`.
fn udp_raw(ip: &str, packet: &[u8], wait: Duration) -> Option<Vec<u8>> {
    let sock = UdpSocket::bind((ip, 0)).expect("bind client socket");
    sock.connect((ip, DNS_PORT)).expect("connect");
    sock.set_read_timeout(Some(wait)).expect("timeout");
    sock.send(packet).expect("send");
    let mut buf = vec![0u8; 65_535];
    let n = sock.recv(&mut buf).ok()?;
    buf.truncate(n);
    Some(buf)
}

/// `bytes` decoded as the reply to `msg` (same ID).
fn reply_to(msg: &Message, bytes: &[u8]) -> Message {
    let reply = Message::from_vec(bytes).expect("reply decodes");
    assert_eq!(reply.metadata.id, msg.metadata.id);
    reply
}

/// One UDP exchange (retried: UDP may drop), checking the reply's ID.
fn udp(ip: &str, msg: &Message) -> Message {
    let packet = msg.to_vec().expect("encode");
    for _ in 0..5 {
        if let Some(bytes) = udp_raw(ip, &packet, Duration::from_secs(2)) {
            return reply_to(msg, &bytes);
        }
    }
    panic!("no UDP answer from {ip}:{DNS_PORT}");
}

/// One exchange on a TCP connection (length-prefixed messages).
fn tcp_on(stream: &mut TcpStream, msg: &Message) -> Message {
    let packet = msg.to_vec().expect("encode");
    let mut framed = (packet.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(&packet);
    stream.write_all(&framed).expect("write");
    let mut len = [0u8; 2];
    stream.read_exact(&mut len).expect("read length");
    let mut body = vec![0u8; usize::from(u16::from_be_bytes(len))];
    stream.read_exact(&mut body).expect("read body");
    reply_to(msg, &body)
}

fn tcp_connect(ip: &str) -> TcpStream {
    let stream = TcpStream::connect((ip, DNS_PORT)).expect("connect over TCP");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    stream
}

fn tcp(ip: &str, msg: &Message) -> Message {
    tcp_on(&mut tcp_connect(ip), msg)
}

/// Registers one instance through `/v1/catalog/register`; `status` is its check's status.
fn register(
    agent: &Agent,
    node: &str,
    addr: &str,
    service: &str,
    svc: (&str, &[&str], &str, u16),
    status: &str,
) {
    let (id, tags, svc_addr, port) = svc;
    let tags: Vec<String> = tags.iter().map(|t| format!("\"{t}\"")).collect();
    let body = format!(
        r#"{{"Node":"{node}","Address":"{addr}","NodeMeta":{{"rack":"r1"}},
            "Service":{{"ID":"{id}","Service":"{service}","Tags":[{}],"Address":"{svc_addr}","Port":{port}}},
            "Checks":[{{"CheckID":"{id}-check","Name":"{id} check","ServiceID":"{id}","Status":"{status}"}}]}}"#,
        tags.join(",")
    );
    let r = agent.put("/v1/catalog/register", body.as_bytes());
    assert_eq!((r.status, r.text().trim()), (200, "true"), "register {id}");
}

/// Waits for the agent's DNS listener (it starts with the HTTP one) and its catalog.
fn start(ip: &str) -> Agent {
    let agent = Agent::dev(ip);
    agent.wait_ready(READY);
    wait_for("DNS listener", READY, || {
        let q = query("consul.service.consul.", RecordType::A, None);
        let bytes = udp_raw(ip, &q.to_vec().ok()?, Duration::from_millis(500))?;
        let reply = Message::from_vec(&bytes).ok()?;
        (!reply.answers.is_empty()).then_some(())
    });
    agent
}

#[test]
fn service_node_and_special_lookups() {
    let ip = "127.0.5.1";
    let agent = start(ip);
    let log = agent.log();
    assert!(
        log.contains(&format!("Started DNS server: address={ip}:8600 network=udp")),
        "{log}"
    );
    assert!(
        log.contains(&format!("Started DNS server: address={ip}:8600 network=tcp")),
        "{log}"
    );

    register(
        &agent,
        "web-n1",
        "127.0.5.101",
        "web",
        ("web1", &["v1"], "", 8081),
        "passing",
    );
    register(
        &agent,
        "web-n2",
        "127.0.5.102",
        "web",
        ("web2", &["v2"], "", 8082),
        "passing",
    );
    register(
        &agent,
        "web-n3",
        "127.0.5.103",
        "web",
        ("web3", &["v2"], "127.0.5.104", 8083),
        "warning",
    );

    // A: the healthy instances (warning included), service address when set.
    let a = udp(ip, &query("web.service.consul.", RecordType::A, None));
    assert_eq!(a.metadata.response_code, ResponseCode::NoError);
    assert!(a.metadata.authoritative && !a.metadata.recursion_available);
    assert_eq!(
        ips(&a.answers),
        ip_list(&["127.0.5.101", "127.0.5.102", "127.0.5.104"])
    );
    assert!(a.answers.iter().all(|r| r.ttl == 0));
    let dc = udp(ip, &query("WEB.service.DC1.consul.", RecordType::A, Some(1232)));
    assert_eq!(dc.answers.len(), 3);
    assert_eq!(dc.edns.as_ref().map(Edns::max_payload), Some(1232));

    // SRV: node targets, the addr target for the instance with its own address.
    let s = udp(ip, &query("web.service.consul.", RecordType::SRV, None));
    assert_eq!(
        srv_targets(&s.answers),
        vec![
            (8081, "web-n1.node.dc1.consul.".to_string()),
            (8082, "web-n2.node.dc1.consul.".to_string()),
            (8083, "7f000568.addr.dc1.consul.".to_string()),
        ]
    );
    assert_eq!(
        ips(&s.additionals),
        ip_list(&["127.0.5.101", "127.0.5.102", "127.0.5.104"])
    );

    // Tag filter, RFC 2782 forms.
    let v1 = udp(ip, &query("v1.web.service.consul.", RecordType::A, None));
    assert_eq!(ips(&v1.answers), ip_list(&["127.0.5.101"]));
    let v2 = udp(ip, &query("_web._v2.service.consul.", RecordType::SRV, None));
    assert_eq!(srv_targets(&v2.answers).len(), 2);
    let all = udp(ip, &query("_web._tcp.service.consul.", RecordType::SRV, None));
    assert_eq!(srv_targets(&all.answers).len(), 3);

    // Nodes: address, metadata as TXT.
    let n = udp(ip, &query("web-n1.node.consul.", RecordType::A, None));
    assert_eq!(ips(&n.answers), ip_list(&["127.0.5.101"]));
    let txt = udp(ip, &query("web-n1.node.dc1.consul.", RecordType::TXT, None));
    assert_eq!(txts(&txt.answers), vec!["rack=r1".to_string()]);

    // The servers, addr names, reverse lookups.
    let consul = udp(ip, &query("consul.service.consul.", RecordType::A, None));
    assert_eq!(ips(&consul.answers), ip_list(&[ip]));
    let addr = udp(ip, &query("7f000568.addr.dc1.consul.", RecordType::A, None));
    assert_eq!(ips(&addr.answers), ip_list(&["127.0.5.104"]));
    let ptr = udp(ip, &query("101.5.0.127.in-addr.arpa.", RecordType::PTR, None));
    match &ptr.answers.first().map(|r| &r.data) {
        Some(RData::PTR(p)) => assert_eq!(p.0.to_ascii(), "web-n1.node.dc1.consul."),
        other => panic!("no PTR: {other:?}"),
    }

    // Unknown names: NXDOMAIN with the SOA; outside the domain: REFUSED.
    for name in [
        "nosuch.service.consul.",
        "nosuchtag.web.service.consul.",
        "nosuch.node.consul.",
    ] {
        let miss = udp(ip, &query(name, RecordType::A, None));
        assert_eq!(miss.metadata.response_code, ResponseCode::NXDomain, "{name}");
        assert!(has_soa(&miss.authorities), "{name}");
    }
    let nodata = udp(ip, &query("web.service.consul.", RecordType::AAAA, None));
    assert_eq!(nodata.metadata.response_code, ResponseCode::NoError);
    assert!(nodata.answers.is_empty() && has_soa(&nodata.authorities));
    let refused = udp(ip, &query("example.com.", RecordType::A, None));
    assert_eq!(refused.metadata.response_code, ResponseCode::Refused);

    // `dig`, where installed, agrees.
    if let Ok(out) = std::process::Command::new("dig")
        .args(["@127.0.5.1", "-p", "8600", "+short", "v1.web.service.consul", "A"])
        .output()
    {
        if out.status.success() {
            assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "127.0.5.101");
        }
    }
}

#[test]
fn critical_instance_leaves_and_comes_back() {
    let ip = "127.0.5.2";
    let agent = start(ip);
    // Instance `apiN` on node `api-nN` (127.0.5.11N), port 900N.
    let api = |n: u16, status: &str| {
        let (node, addr, id) = (
            format!("api-n{n}"),
            format!("127.0.5.{}", 110 + n),
            format!("api{n}"),
        );
        register(&agent, &node, &addr, "api", (&id, &[], "", 9000 + n), status);
    };
    api(1, "passing");
    api(2, "passing");
    let answer = |qtype| ips(&udp(ip, &query("api.service.consul.", qtype, None)).answers);
    assert_eq!(answer(RecordType::A), ip_list(&["127.0.5.111", "127.0.5.112"]));

    api(2, "critical");
    wait_for("the critical instance to leave", READY, || {
        (answer(RecordType::A) == ip_list(&["127.0.5.111"])).then_some(())
    });
    assert_eq!(
        srv_targets(&udp(ip, &query("api.service.consul.", RecordType::SRV, None)).answers),
        vec![(9001, "api-n1.node.dc1.consul.".to_string())]
    );

    api(1, "critical");
    wait_for("NXDOMAIN with every instance critical", READY, || {
        let r = udp(ip, &query("api.service.consul.", RecordType::A, None));
        (r.metadata.response_code == ResponseCode::NXDomain && has_soa(&r.authorities)).then_some(())
    });

    api(2, "passing");
    wait_for("the instance to come back", READY, || {
        (answer(RecordType::A) == ip_list(&["127.0.5.112"])).then_some(())
    });
}

#[test]
fn udp_truncates_and_tcp_returns_everything() {
    let ip = "127.0.5.3";
    let agent = start(ip);
    for n in 0..100u16 {
        let node = format!("big-{n:03}");
        let addr = format!("127.0.6.{}", n + 1);
        register(
            &agent,
            &node,
            &addr,
            "big",
            (&format!("big{n}"), &[], "", 10_000 + n),
            "passing",
        );
    }

    // UDP without EDNS: Consul's default udp_answer_limit (3), no TC bit, under 512 bytes.
    let q = query("big.service.consul.", RecordType::A, None);
    let bytes = udp_raw(ip, &q.to_vec().expect("encode"), Duration::from_secs(2)).expect("answer");
    assert!(bytes.len() <= 512, "{} bytes", bytes.len());
    let a = Message::from_vec(&bytes).expect("decode");
    assert_eq!(a.answers.len(), 3);
    assert!(!a.metadata.truncation);
    let s = udp(ip, &query("big.service.consul.", RecordType::SRV, None));
    assert_eq!((s.answers.len(), s.additionals.len()), (3, 3));

    // UDP with EDNS: as much as fits the advertised buffer.
    let e = query("big.service.consul.", RecordType::SRV, Some(1232));
    let bytes = udp_raw(ip, &e.to_vec().expect("encode"), Duration::from_secs(2)).expect("answer");
    assert!(bytes.len() <= 1232, "{} bytes", bytes.len());
    let e = Message::from_vec(&bytes).expect("decode");
    assert!(
        e.answers.len() > 3 && e.answers.len() < 100,
        "{}",
        e.answers.len()
    );
    assert_eq!(e.additionals.len(), e.answers.len());

    // TCP: the full set, each SRV target with its address.
    let mut conn = tcp_connect(ip);
    let t = tcp_on(&mut conn, &query("big.service.consul.", RecordType::SRV, None));
    assert_eq!(t.answers.len(), 100);
    assert_eq!(ips(&t.additionals).len(), 100);
    let t = tcp_on(&mut conn, &query("big.service.consul.", RecordType::A, None));
    assert_eq!(ips(&t.answers).len(), 100);
}

#[test]
fn malformed_packets_do_not_stop_the_server() {
    let ip = "127.0.5.4";
    let _agent = start(ip);
    let good = query("consul.service.consul.", RecordType::A, None);
    let good_bytes = good.to_vec().expect("encode");

    // Too short for a header: dropped.
    assert_eq!(udp_raw(ip, &[0x12, 0x34, 0x01], Duration::from_millis(300)), None);
    // A header claiming one question, then garbage: FORMERR (or nothing).
    let mut garbage = good_bytes[..12].to_vec();
    garbage.extend_from_slice(&[0xff, 0x00, 0x3f, 0xc0, 0xff, 0x01]);
    if let Some(bytes) = udp_raw(ip, &garbage, Duration::from_secs(1)) {
        let reply = Message::from_vec(&bytes).expect("decode");
        assert_eq!(reply.metadata.response_code, ResponseCode::FormErr);
        assert_eq!(reply.metadata.id, good.metadata.id);
    }
    // Noise over TCP: the connection ends or gets FORMERR; other connections are fine.
    let mut conn = tcp_connect(ip);
    conn.write_all(&[0x00, 0x05, 1, 2, 3, 4, 5]).expect("write");
    let mut rest = Vec::new();
    let _ = conn.read_to_end(&mut rest);

    // The server still answers, over both transports.
    assert_eq!(ips(&udp(ip, &good).answers), ip_list(&[ip]));
    assert_eq!(ips(&tcp(ip, &good).answers), ip_list(&[ip]));
}

#[test]
fn dns_config_from_a_config_file() {
    let ip = "127.0.5.5";
    let (agent, _) = Agent::server_with_config(
        ip,
        "dns.json",
        r#"{"dns_config": {"node_ttl": "30s", "service_ttl": {"*": "5s", "pay": "10s"},
            "enable_truncate": true, "udp_answer_limit": 2, "only_passing": true}}"#,
    );
    agent.wait_ready(READY);
    wait_for("DNS listener", READY, || {
        let q = query("consul.service.consul.", RecordType::A, None);
        udp_raw(ip, &q.to_vec().ok()?, Duration::from_millis(500)).map(|_| ())
    });
    for n in 1..=4u16 {
        let status = if n == 4 { "warning" } else { "passing" };
        register(
            &agent,
            &format!("pay-n{n}"),
            &format!("127.0.5.{}", 120 + n),
            "pay",
            (&format!("pay{n}"), &[], "", 7000 + n),
            status,
        );
    }
    let a = udp(ip, &query("pay.service.consul.", RecordType::A, None));
    assert_eq!(a.answers.len(), 2, "udp_answer_limit");
    assert!(
        a.metadata.truncation,
        "enable_truncate sets TC when answers were cut"
    );
    assert!(a.answers.iter().all(|r| r.ttl == 10));
    let t = tcp(ip, &query("pay.service.consul.", RecordType::A, None));
    assert_eq!(t.answers.len(), 3, "only_passing drops the warning instance");
    assert!(!t.metadata.truncation);
    let consul = udp(ip, &query("consul.service.consul.", RecordType::A, None));
    assert!(consul.answers.iter().all(|r| r.ttl == 5), "wildcard service_ttl");
    let node = udp(ip, &query("pay-n1.node.consul.", RecordType::A, None));
    assert!(node.answers.iter().all(|r| r.ttl == 30), "node_ttl");
}
