//! The seed's topology on loopback: three servers with -bootstrap-expect=3 and a
//! client with -retry-join, then failures: kill -9 of the leader, a restart, kill -9
//! of the client, a graceful leave, and the loss of quorum.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{cli, try_http, wait_for, Agent};
use rconsul_dns::proto::op::{Message, Query};
use rconsul_dns::proto::rr::{Name, RData, RecordType};

const CONVERGE: Duration = Duration::from_secs(30);

fn server(ip: &str, name: &str, dir: &Path, join: &str) -> Agent {
    Agent::cluster_server(ip, name, dir, join, 3)
}

fn client(ip: &str, name: &str, dir: &Path, join: &str) -> Agent {
    Agent::cluster_client(ip, name, dir, join)
}

/// One DNS question over UDP to `ip:8600`; None if no (decodable) answer came.
fn dns_udp(ip: &str, name: &str, qtype: RecordType) -> Option<Message> {
    let mut msg = Message::query();
    msg.add_query(Query::query(Name::from_ascii(name).ok()?, qtype));
    let sock = std::net::UdpSocket::bind((ip, 0)).ok()?;
    sock.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    sock.send_to(&msg.to_vec().ok()?, (ip, 8600)).ok()?;
    let mut buf = vec![0u8; 4096];
    let n = sock.recv(&mut buf).ok()?;
    Message::from_vec(&buf[..n]).ok()
}

fn leader_of(agent: &Agent) -> Option<String> {
    let r = try_http("GET", &agent.url("/v1/status/leader"), None).ok()?;
    let leader = r.text().trim().trim_matches('"').to_string();
    (r.status == 200 && !leader.is_empty()).then_some(leader)
}

fn members_table(agent: &Agent) -> String {
    let (_, out, _) = cli(&["members", &format!("-http-addr={}:8500", agent.ip)], &[]);
    out
}

#[test]
fn seed_topology_failover_and_quorum() {
    let dir = tempfile::tempdir().expect("tempdir");
    let join = "127.0.8.11";
    // Servers in reverse order, the client last: any order converges.
    let mut s3 = server("127.0.8.13", "s3", dir.path(), join);
    let mut s2 = server("127.0.8.12", "s2", dir.path(), join);
    let mut s1 = server("127.0.8.11", "s1", dir.path(), join);
    let mut c1 = client("127.0.8.14", "c1", dir.path(), join);

    // Converges: 4 alive members with the right types; leader and peers agree.
    wait_for("4 alive members", CONVERGE, || {
        let table = members_table(&c1);
        (table.matches(" alive ").count() == 4).then_some(())
    });
    let table = members_table(&c1);
    assert!(
        table.starts_with("Node  Address          Status  Type    Build"),
        "{table}"
    );
    assert_eq!(table.matches(" server ").count(), 3, "{table}");
    assert!(table.contains("c1    127.0.8.14:8301  alive   client"), "{table}");
    let leader = wait_for("a leader seen by the client", CONVERGE, || leader_of(&c1));
    for s in [&s1, &s2, &s3] {
        assert_eq!(wait_for("the same leader", CONVERGE, || leader_of(s)), leader);
    }
    let peers = c1.get("/v1/status/peers").json();
    let mut peers: Vec<String> = peers
        .as_array()
        .expect("peers")
        .iter()
        .filter_map(|p| p.as_str().map(String::from))
        .collect();
    peers.sort();
    assert_eq!(peers, ["127.0.8.11:8300", "127.0.8.12:8300", "127.0.8.13:8300"]);

    // A service registered on the client reaches every server's catalog.
    let r = c1.put("/v1/agent/service/register", br#"{"Name":"redis","Port":6379}"#);
    assert_eq!(r.status, 200);
    for s in [&s1, &s2, &s3] {
        wait_for("redis in every server's catalog", CONVERGE, || {
            let rows = s.get("/v1/catalog/service/redis?stale").json();
            (rows.as_array().map(Vec::len) == Some(1) && rows[0]["Node"] == "c1").then_some(())
        });
    }

    // And in DNS through the client (SRV with the client's address as the target's A).
    let srv = wait_for("redis in the client's DNS", CONVERGE, || {
        let reply = dns_udp("127.0.8.14", "redis.service.consul.", RecordType::SRV)?;
        (reply.answers.len() == 1).then_some(reply)
    });
    match &srv.answers[0].data {
        RData::SRV(s) => assert_eq!(s.port, 6379),
        other => panic!("not an SRV answer: {other:?}"),
    }
    assert!(
        srv.additionals
            .iter()
            .any(|r| matches!(&r.data, RData::A(a) if a.0.to_string() == "127.0.8.14")),
        "{srv:?}"
    );

    // Kill -9 the leader while a writer keeps writing through the client.
    let acked: Arc<Mutex<BTreeMap<String, String>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (acked, stop, url) = (acked.clone(), stop.clone(), c1.url(""));
        std::thread::spawn(move || {
            let mut n = 0u32;
            while !stop.load(Ordering::Relaxed) {
                let key = format!("failover/{n:05}");
                if let Ok(r) = try_http("PUT", &format!("{url}/v1/kv/{key}"), Some(key.as_bytes())) {
                    if r.status == 200 && r.text() == "true" {
                        acked.lock().expect("lock").insert(key.clone(), key);
                    }
                }
                n += 1;
            }
        })
    };
    wait_for("some writes before the failover", CONVERGE, || {
        (acked.lock().expect("lock").len() > 20).then_some(())
    });
    let servers: [(&str, &mut Agent); 3] = [
        ("127.0.8.11:8300", &mut s1),
        ("127.0.8.12:8300", &mut s2),
        ("127.0.8.13:8300", &mut s3),
    ];
    let mut old_leader = None;
    for (addr, agent) in servers {
        if addr == leader {
            agent.kill9();
            old_leader = Some(agent);
        }
    }
    let old_leader = old_leader.expect("the leader is one of the servers");
    let new_leader = wait_for("a new leader", CONVERGE, || {
        leader_of(&c1).filter(|l| *l != leader)
    });
    let before = acked.lock().expect("lock").len();
    wait_for("writes to continue", CONVERGE, || {
        (acked.lock().expect("lock").len() > before + 20).then_some(())
    });
    stop.store(true, Ordering::Relaxed);
    let _ = writer.join();
    let stored: Vec<String> = c1
        .get("/v1/kv/failover/?keys")
        .json()
        .as_array()
        .expect("keys")
        .iter()
        .filter_map(|k| k.as_str().map(String::from))
        .collect();
    for key in acked.lock().expect("lock").keys() {
        assert!(
            stored.binary_search(key).is_ok(),
            "acknowledged write {key} lost in the failover"
        );
    }
    assert_ne!(new_leader, leader);

    // The old leader restarts, rejoins as a follower and has every write.
    old_leader.start();
    let total = stored.len();
    wait_for("the old leader to catch up", CONVERGE, || {
        let r = try_http("GET", &old_leader.url("/v1/kv/failover/?keys&stale"), None).ok()?;
        (r.status == 200 && r.json().as_array().map(Vec::len) == Some(total)).then_some(())
    });
    assert_eq!(leader_of(old_leader), Some(new_leader.clone()));

    // Kill -9 the client: its serfHealth goes critical and redis leaves ?passing.
    c1.kill9();
    let any = if old_leader.ip == "127.0.8.11" { &s2 } else { &s1 };
    wait_for("c1's serfHealth critical", CONVERGE, || {
        let checks = try_http("GET", &any.url("/v1/health/node/c1"), None).ok()?.json();
        let serf = checks
            .as_array()?
            .iter()
            .find(|c| c["CheckID"] == "serfHealth")?
            .clone();
        (serf["Status"] == "critical").then_some(())
    });
    let passing = any.get("/v1/health/service/redis?passing").json();
    assert_eq!(passing, serde_json::json!([]));
}

#[test]
fn leave_shrinks_peers_and_quorum_loss_fails_fast() {
    let dir = tempfile::tempdir().expect("tempdir");
    let join = "127.0.8.21";
    let s1 = server("127.0.8.21", "q1", dir.path(), join);
    let mut s2 = server("127.0.8.22", "q2", dir.path(), join);
    let mut s3 = server("127.0.8.23", "q3", dir.path(), join);
    for s in [&s1, &s2, &s3] {
        wait_for("a leader", CONVERGE, || leader_of(s));
    }
    // A graceful leave: the member shows as left and the raft peers shrink.
    let (code, out, _) = cli(&["leave", &format!("-http-addr={}:8500", s3.ip)], &[]);
    assert_eq!((code, out.as_str()), (0, "Graceful leave complete\n"));
    wait_for("q3 left", CONVERGE, || {
        members_table(&s1)
            .contains("q3    127.0.8.23:8301  left")
            .then_some(())
    });
    wait_for("two peers", CONVERGE, || {
        let peers = try_http("GET", &s1.url("/v1/status/peers"), None).ok()?.json();
        (peers.as_array().map(Vec::len) == Some(2)).then_some(())
    });
    let _ = s3.terminate();

    // Two voters left; kill one: no quorum. Writes fail with "No cluster leader", fast.
    assert_eq!(s1.put("/v1/kv/before", b"x").status, 200);
    s2.kill9();
    wait_for("writes to fail without quorum", CONVERGE, || {
        let r = try_http("PUT", &s1.url("/v1/kv/during"), Some(b"x")).ok()?;
        (r.status == 500 && r.text().contains("No cluster leader")).then_some(())
    });
    let started = std::time::Instant::now();
    let r = try_http("PUT", &s1.url("/v1/kv/during"), Some(b"x")).expect("answer");
    assert_eq!(r.status, 500);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "a write without quorum answers instead of hanging"
    );
    s2.start();
    wait_for("writes to succeed again", CONVERGE, || {
        let r = try_http("PUT", &s1.url("/v1/kv/after"), Some(b"x")).ok()?;
        (r.status == 200).then_some(())
    });
    assert_eq!(s2.get("/v1/kv/before?stale").status, 200);
}

#[test]
fn a_restarted_agent_rejoins_from_its_member_snapshot_without_join() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Agent::server("127.0.8.31", &dir.path().join("s"), &[]);
    server.wait_ready(CONVERGE);
    let client_args = |join: bool| {
        let mut args = vec![
            "agent".to_string(),
            "-bind=127.0.8.32".into(),
            "-client=127.0.8.32".into(),
            "-node=snap-client".into(),
            format!("-data-dir={}", dir.path().join("c").display()),
        ];
        if join {
            args.push("-retry-join=127.0.8.31".into());
        }
        args
    };
    let client_status = || {
        let members = try_http("GET", &server.url("/v1/agent/members"), None).ok()?;
        members
            .json()
            .as_array()?
            .iter()
            .find(|m| m["Name"] == "snap-client")
            .and_then(|m| m["Status"].as_u64())
    };
    let mut client = Agent::with_args("127.0.8.32", client_args(true));
    wait_for("the client to join", CONVERGE, || {
        (client_status() == Some(1)).then_some(())
    });
    wait_for("the member snapshot", CONVERGE, || {
        let text = std::fs::read_to_string(dir.path().join("c/serf/local.snapshot")).ok()?;
        text.contains("127.0.8.31:8301").then_some(())
    });
    client.kill9();
    wait_for("the server to see the client fail", CONVERGE, || {
        (client_status() == Some(4)).then_some(())
    });
    // Restarted without -retry-join: the snapshot brings it back.
    let client = Agent::with_args("127.0.8.32", client_args(false));
    wait_for("the client to rejoin by itself", CONVERGE, || {
        (client_status() == Some(1)).then_some(())
    });
    assert!(
        client
            .log()
            .contains("Attempting re-join to previously known nodes"),
        "{}",
        client.log()
    );
}

/// Consul's default (and consistent) reads through a client agent: a read sees every
/// write that was acknowledged before it started, whichever server took the write. The
/// client answers from its own replica only after a read-index round with the leader;
/// the leader's read index once lagged its writes' answers, and this test caught it.
#[test]
fn default_reads_through_the_client_see_writes_acknowledged_elsewhere() {
    let dir = tempfile::tempdir().expect("tempdir");
    let join = "127.0.8.41";
    let s1 = server("127.0.8.41", "r1", dir.path(), join);
    let s2 = server("127.0.8.42", "r2", dir.path(), join);
    let s3 = server("127.0.8.43", "r3", dir.path(), join);
    let c1 = client("127.0.8.44", "rc", dir.path(), join);
    wait_for("a leader seen by the client", CONVERGE, || leader_of(&c1));
    wait_for("a write through the client", CONVERGE, || {
        let r = try_http("PUT", &c1.url("/v1/kv/ryw/ready"), Some(b"x")).ok()?;
        (r.status == 200).then_some(())
    });
    let servers = [s1.url(""), s2.url(""), s3.url("")];
    // Four writer-readers at once, so that reads share read-index rounds.
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let (servers, reader) = (servers.clone(), c1.url(""));
            std::thread::spawn(move || {
                for i in 0..50 {
                    let key = format!("/v1/kv/ryw/{t}/{i}");
                    let value = format!("v{i}");
                    let writer = &servers[(t + i) % servers.len()];
                    let w = try_http("PUT", &format!("{writer}{key}"), Some(value.as_bytes()))
                        .expect("the write is answered");
                    assert_eq!((w.status, w.text().trim()), (200, "true"), "write of {key}");
                    // Default consistency, and every other read `?consistent`.
                    let query = if i % 2 == 0 { "?raw" } else { "?raw&consistent" };
                    let r = try_http("GET", &format!("{reader}{key}{query}"), None)
                        .expect("the read is answered");
                    assert_eq!(
                        (r.status, r.text()),
                        (200, value),
                        "read of {key} after its write"
                    );
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("a writer-reader thread failed");
    }
}

/// Names of the members `agent` lists with `/v1/agent/members`, with their status.
fn member_statuses(agent: &Agent) -> Option<BTreeMap<String, u64>> {
    let r = try_http("GET", &agent.url("/v1/agent/members"), None).ok()?;
    let list = r.json();
    Some(
        list.as_array()?
            .iter()
            .filter_map(|m| Some((m["Name"].as_str()?.to_string(), m["Status"].as_u64()?)))
            .collect(),
    )
}

fn serf_lan_encrypted(agent: &Agent) -> serde_json::Value {
    agent.get("/v1/agent/self").json()["Stats"]["serf_lan"]["encrypted"].clone()
}

#[test]
fn gossip_encryption_admits_only_agents_with_the_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_, key, _) = cli(&["keygen"], &[]);
    let key = key.trim().to_string();
    let (_, other_key, _) = cli(&["keygen"], &[]);
    let join = "127.0.8.51";
    let with = |mut agent_args: Vec<String>, extra: &[String]| {
        agent_args.extend(extra.iter().cloned());
        agent_args
    };
    let server_args = |key: &str| {
        vec![
            "agent".to_string(),
            "-server".into(),
            "-bootstrap-expect=1".into(),
            format!("-bind={join}"),
            format!("-client={join}"),
            "-node=s1".into(),
            format!("-data-dir={}", dir.path().join("s1").display()),
            format!("-encrypt={key}"),
        ]
    };
    let client_args = |ip: &str, name: &str| {
        vec![
            "agent".to_string(),
            format!("-bind={ip}"),
            format!("-client={ip}"),
            format!("-node={name}"),
            format!("-data-dir={}", dir.path().join(name).display()),
            format!("-retry-join={join}"),
        ]
    };
    let s1 = Agent::with_args(join, server_args(&key));
    let mut c1 = Agent::with_args(
        "127.0.8.52",
        with(client_args("127.0.8.52", "c1"), &[format!("-encrypt={key}")]),
    );
    let wrong = Agent::with_args(
        "127.0.8.53",
        with(
            client_args("127.0.8.53", "wrong"),
            &[format!("-encrypt={}", other_key.trim())],
        ),
    );
    let plain = Agent::with_args("127.0.8.54", client_args("127.0.8.54", "plain"));

    // The agent with the key joins; the server refuses the others' packets and says so.
    wait_for("c1 alive in s1's members", CONVERGE, || {
        (member_statuses(&s1)?.get("c1") == Some(&1)).then_some(())
    });
    wait_for("s1 logging refused gossip", CONVERGE, || {
        s1.log()
            .contains("memberlist: Decrypt packet failed")
            .then_some(())
    });
    for outsider in [&wrong, &plain] {
        wait_for("the outsider's own agent answering", CONVERGE, || {
            member_statuses(outsider)
        });
    }
    let members = member_statuses(&s1).expect("s1 members");
    assert_eq!(members.keys().collect::<Vec<_>>(), ["c1", "s1"], "{members:?}");
    for (outsider, name) in [(&wrong, "wrong"), (&plain, "plain")] {
        let seen = member_statuses(outsider).expect("members");
        assert_eq!(seen.keys().collect::<Vec<_>>(), [name], "{name} sees {seen:?}");
    }
    assert_eq!(serf_lan_encrypted(&s1), "true");
    assert_eq!(serf_lan_encrypted(&plain), "false");

    // The key went to c1's keyring file, which a restart without -encrypt still uses.
    let keyring = std::fs::read_to_string(dir.path().join("c1/serf/local.keyring")).expect("keyring");
    assert_eq!(keyring, format!("[\"{key}\"]"));
    c1.kill9();
    let c1 = Agent::with_args("127.0.8.52", client_args("127.0.8.52", "c1"));
    wait_for("c1 back, encrypted", CONVERGE, || {
        (member_statuses(&c1)?.get("s1") == Some(&1)).then_some(())
    });
    assert_eq!(serf_lan_encrypted(&c1), "true");

    // User events travel the same sealed gossip.
    assert_eq!(s1.put("/v1/event/fire/deploy", b"v2").status, 200);
    wait_for("the event at c1", CONVERGE, || {
        let r = try_http("GET", &c1.url("/v1/event/list?name=deploy"), None).ok()?;
        (r.json().as_array()?.len() == 1).then_some(())
    });
}

fn peer_count(agent: &Agent) -> Option<usize> {
    let r = try_http("GET", &agent.url("/v1/status/peers"), None).ok()?;
    r.json().as_array().map(Vec::len)
}

/// Autopilot's dead-server cleanup: a server that stays failed is force-left and leaves
/// the raft peers (so the next failure is survivable again); when it comes back it is
/// a peer again.
#[test]
fn a_dead_server_is_removed_from_the_peers_and_rejoins_when_it_returns() {
    let dir = tempfile::tempdir().expect("tempdir");
    let join = "127.0.8.61";
    let s1 = server("127.0.8.61", "d1", dir.path(), join);
    let s2 = server("127.0.8.62", "d2", dir.path(), join);
    let s3 = server("127.0.8.63", "d3", dir.path(), join);
    for s in [&s1, &s2, &s3] {
        wait_for("three peers", CONVERGE, || (peer_count(s)? == 3).then_some(()));
    }
    // Autopilot's health: every server healthy, one failure tolerated.
    let health = wait_for("all three healthy", CONVERGE, || {
        let r = try_http("GET", &s1.url("/v1/operator/autopilot/health"), None).ok()?;
        let body = r.json();
        (r.status == 200 && body["Servers"].as_array()?.len() == 3).then_some(body)
    });
    assert_eq!(health["Healthy"], true, "{health}");
    assert_eq!(health["FailureTolerance"], 1, "{health}");
    let servers = health["Servers"].as_array().expect("servers");
    assert_eq!(
        servers.iter().filter(|s| s["Leader"] == true).count(),
        1,
        "{health}"
    );
    assert!(servers
        .iter()
        .all(|s| s["Healthy"] == true && s["SerfStatus"] == "alive" && s["Voter"] == true));

    // Kill a server that is not the leader (so the survivors' leader does the cleanup).
    let leader = wait_for("a leader", CONVERGE, || leader_of(&s1));
    let (mut victim, watcher) = if leader.starts_with("127.0.8.63") {
        (s1, s2)
    } else {
        (s3, s1)
    };
    victim.kill9();
    let name = if victim.ip == "127.0.8.63" { "d3" } else { "d1" };
    wait_for("the victim failed", CONVERGE, || {
        (member_statuses(&watcher)?.get(name) == Some(&4)).then_some(())
    });
    // Until autopilot removes it, the cluster is unhealthy: 429, no failure tolerated.
    let sick = wait_for("the health to show the failure", CONVERGE, || {
        let r = try_http("GET", &watcher.url("/v1/operator/autopilot/health"), None).ok()?;
        let body = r.json();
        (r.status == 429 || body["Servers"].as_array()?.len() == 2).then_some(body)
    });
    if sick["Servers"].as_array().map(Vec::len) == Some(3) {
        assert_eq!(
            (sick["Healthy"].clone(), sick["FailureTolerance"].clone()),
            (false.into(), 0.into())
        );
        let dead = sick["Servers"]
            .as_array()
            .and_then(|s| s.iter().find(|s| s["Name"] == name))
            .expect("the victim listed");
        assert_eq!(
            (dead["SerfStatus"].as_str(), dead["Healthy"].as_bool()),
            (Some("failed"), Some(false))
        );
    }
    wait_for("the victim force-left by autopilot", CONVERGE, || {
        (member_statuses(&watcher)?.get(name) == Some(&3)).then_some(())
    });
    wait_for("two peers", CONVERGE, || {
        (peer_count(&watcher)? == 2).then_some(())
    });
    assert_eq!(watcher.put("/v1/kv/after-cleanup", b"x").status, 200);
    // Back again: alive and a voter.
    victim.start();
    wait_for("the victim alive again", CONVERGE, || {
        (member_statuses(&watcher)?.get(name) == Some(&1)).then_some(())
    });
    wait_for("three peers again", CONVERGE, || {
        (peer_count(&watcher)? == 3).then_some(())
    });
    wait_for("the victim has the write", CONVERGE, || {
        let r = try_http("GET", &victim.url("/v1/kv/after-cleanup?stale"), None).ok()?;
        (r.status == 200).then_some(())
    });
}
