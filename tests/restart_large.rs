//! A durable single server with a large state (3,000 service instances on 300 nodes,
//! their checks, a few hundred KV keys) comes back from kill -9 exactly as it was, when
//! the restart needs both the last raft snapshot and the log written after it.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use common::{http, wait_for, Agent, Resp};
use serde_json::{json, Value};

const IP: &str = "127.0.40.1";
const READY: Duration = Duration::from_secs(30);
const NODES: usize = 300;
const SERVICES: usize = 30;
const PER_NODE: usize = 10;
const KV_KEYS: usize = 300;
/// Raft entries between snapshots. The bulk load (8 writers, so at most 8 writes per
/// entry) appends well over this many; the writes after the snapshot stay well under.
const SNAPSHOT_THRESHOLD: u64 = 256;
/// Writes made after the snapshot; each is one raft entry (one writer).
const AFTER_SNAPSHOT_WRITES: u64 = 120;
const WRITERS: usize = 8;

/// One service instance as registered: what the test expects the server to hold.
#[derive(Clone, Debug)]
struct Instance {
    node: usize,
    service: String,
    id: String,
    port: u32,
    tags: Vec<String>,
    /// Status of the instance's own check.
    status: &'static str,
}

/// What the test wrote: nodes (with the status of their node check), instances, KV.
#[derive(Default)]
struct Model {
    nodes: BTreeMap<usize, &'static str>,
    /// (node, instance ID) → instance.
    instances: BTreeMap<(usize, String), Instance>,
    kv: BTreeMap<String, (u64, Vec<u8>)>,
}

fn node_name(n: usize) -> String {
    format!("node-{n:03}")
}

fn node_address(n: usize) -> String {
    format!("10.40.{}.{}", n / 250, n % 250 + 1)
}

impl Model {
    fn initial() -> Model {
        let mut m = Model::default();
        for n in 0..NODES {
            m.nodes
                .insert(n, if n % 50 == 7 { "critical" } else { "passing" });
            for k in 0..PER_NODE {
                let s = (n * 7 + k) % SERVICES;
                m.add(Instance {
                    node: n,
                    service: format!("svc-{s:02}"),
                    id: format!("svc-{s:02}-{n:03}"),
                    port: 20000 + k as u32,
                    tags: vec![format!("v{}", k % 3), format!("rack-{}", n % 7)],
                    status: if (n + k) % 5 == 0 { "critical" } else { "passing" },
                });
            }
        }
        for i in 0..KV_KEYS {
            m.kv.insert(kv_key(i), (i as u64, kv_value(i, 0)));
        }
        m
    }

    fn add(&mut self, inst: Instance) {
        self.instances.insert((inst.node, inst.id.clone()), inst);
    }

    /// The registration of `inst`, with its node and check, and the node check on it too.
    fn register_body(&self, inst: &Instance) -> Vec<u8> {
        let node = node_name(inst.node);
        json!({
            "Node": node,
            "Address": node_address(inst.node),
            "NodeMeta": {"rack": format!("r{}", inst.node % 7), "large": "yes"},
            "TaggedAddresses": {"lan": node_address(inst.node)},
            "Service": {
                "ID": inst.id,
                "Service": inst.service,
                "Tags": inst.tags,
                "Port": inst.port,
                "Meta": {"instance": inst.id},
            },
            "Checks": [
                {
                    "CheckID": format!("check-{}", inst.id),
                    "Name": format!("{} health", inst.service),
                    "Status": inst.status,
                    "Output": format!("{} is {}", inst.id, inst.status),
                    "ServiceID": inst.id,
                },
                {
                    "CheckID": "node-health",
                    "Name": "node health",
                    "Status": self.nodes[&inst.node],
                    "Output": format!("node {} is {}", node, self.nodes[&inst.node]),
                },
            ],
        })
        .to_string()
        .into_bytes()
    }

    fn service_names(&self) -> BTreeSet<String> {
        self.instances.values().map(|i| i.service.clone()).collect()
    }

    /// (instances, passing instances) of `service`: passing needs the instance's check
    /// and its node's check passing.
    fn counts(&self, service: &str) -> (usize, usize) {
        let of: Vec<_> = self.instances.values().filter(|i| i.service == service).collect();
        let passing = of
            .iter()
            .filter(|i| i.status == "passing" && self.nodes[&i.node] == "passing")
            .count();
        (of.len(), passing)
    }
}

fn kv_key(i: usize) -> String {
    format!("large/{:02}/{i:04}", i % 17)
}

/// A value of 1 to ~400 bytes, different per key and per version.
fn kv_value(i: usize, version: usize) -> Vec<u8> {
    let len = 1 + (i * 37 + version * 11) % 400;
    (0..len).map(|j| b'a' + ((i + j + version) % 26) as u8).collect()
}

fn ok(r: &Resp, what: &str) {
    assert!(
        r.status == 200 && r.text().trim() == "true",
        "{what}: {} {}",
        r.status,
        r.text()
    );
}

fn kv_put(agent: &Agent, key: &str, flags: u64, value: &[u8]) {
    ok(&agent.put(&format!("/v1/kv/{key}?flags={flags}"), value), key);
}

/// Runs `jobs` on `WRITERS` threads, each job one request against `url`.
fn parallel(url: String, jobs: Vec<(String, Vec<u8>)>) {
    let jobs = Arc::new(jobs);
    let next = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..WRITERS)
        .map(|_| {
            let (jobs, next, url) = (jobs.clone(), next.clone(), url.clone());
            std::thread::spawn(move || loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((path, body)) = jobs.get(i) else { return };
                let r = http("PUT", &format!("{url}{path}"), Some(body));
                ok(&r, path);
            })
        })
        .collect();
    for t in threads {
        t.join().expect("writer thread");
    }
}

/// `snapshot complete up to: index=N` lines of the agent's log, in order.
fn snapshot_indexes(agent: &Agent) -> Vec<u64> {
    agent
        .log()
        .lines()
        .filter_map(|l| l.split("snapshot complete up to: index=").nth(1))
        .filter_map(|rest| rest.split_whitespace().next()?.parse().ok())
        .collect()
}

/// Every read the test compares across the restart: path → (X-Consul-Index, JSON body).
fn capture(agent: &Agent, model: &Model) -> BTreeMap<String, (u64, Value)> {
    let mut paths = vec![
        "/v1/catalog/services".to_string(),
        "/v1/catalog/nodes".to_string(),
        "/v1/health/state/critical".to_string(),
        "/v1/health/state/passing".to_string(),
        "/v1/kv/large/?recurse".to_string(),
        "/v1/kv/?keys".to_string(),
    ];
    for s in model.service_names() {
        paths.push(format!("/v1/catalog/service/{s}"));
        paths.push(format!("/v1/health/service/{s}"));
        paths.push(format!("/v1/health/service/{s}?passing"));
    }
    for n in model.nodes.keys() {
        paths.push(format!("/v1/catalog/node/{}", node_name(*n)));
        paths.push(format!("/v1/health/node/{}", node_name(*n)));
    }
    paths
        .into_iter()
        .map(|p| {
            let r = agent.get(&p);
            assert_eq!(r.status, 200, "GET {p}: {}", r.text());
            let v = (r.index(), r.json());
            (p, v)
        })
        .collect()
}

/// Checks the server's answers against what the test wrote.
fn check_model(model: &Model, reads: &BTreeMap<String, (u64, Value)>) {
    let services = &reads["/v1/catalog/services"].1;
    let listed: BTreeSet<String> = services
        .as_object()
        .expect("services object")
        .keys()
        .filter(|s| *s != "consul")
        .cloned()
        .collect();
    assert_eq!(listed, model.service_names(), "catalog services");
    for s in model.service_names() {
        let (all, passing) = model.counts(&s);
        let health = &reads[&format!("/v1/health/service/{s}")].1;
        assert_eq!(health.as_array().map(Vec::len), Some(all), "instances of {s}");
        let healthy = &reads[&format!("/v1/health/service/{s}?passing")].1;
        assert_eq!(
            healthy.as_array().map(Vec::len),
            Some(passing),
            "passing instances of {s}"
        );
        let tags: BTreeSet<&str> = services[&s]
            .as_array()
            .expect("tags")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        let want: BTreeSet<&str> = model
            .instances
            .values()
            .filter(|i| i.service == s)
            .flat_map(|i| i.tags.iter().map(String::as_str))
            .collect();
        assert_eq!(tags, want, "tags of {s}");
    }
    let nodes: BTreeSet<String> = reads["/v1/catalog/nodes"]
        .1
        .as_array()
        .expect("nodes")
        .iter()
        .filter_map(|n| n["Node"].as_str())
        .filter(|n| *n != format!("node-{}", IP.replace('.', "-")))
        .map(str::to_string)
        .collect();
    let want: BTreeSet<String> = model.nodes.keys().map(|n| node_name(*n)).collect();
    assert_eq!(nodes, want, "catalog nodes");
    for (n, status) in &model.nodes {
        let node = &reads[&format!("/v1/catalog/node/{}", node_name(*n))].1;
        assert_eq!(node["Node"]["Address"], node_address(*n));
        let ids: BTreeSet<&str> = node["Services"]
            .as_object()
            .expect("services of a node")
            .keys()
            .map(String::as_str)
            .collect();
        let want: BTreeSet<&str> = model
            .instances
            .values()
            .filter(|i| i.node == *n)
            .map(|i| i.id.as_str())
            .collect();
        assert_eq!(ids, want, "services of {}", node_name(*n));
        let checks = &reads[&format!("/v1/health/node/{}", node_name(*n))].1;
        let checks = checks.as_array().expect("checks");
        assert_eq!(checks.len(), want.len() + 1, "checks of {}", node_name(*n));
        for c in checks {
            let want = match c["ServiceID"].as_str() {
                Some("") => *status,
                Some(id) => model.instances[&(*n, id.to_string())].status,
                None => panic!("check without ServiceID: {c}"),
            };
            assert_eq!(c["Status"], want, "{c}");
        }
    }
    let kv = &reads["/v1/kv/large/?recurse"].1;
    let stored: BTreeMap<String, (u64, Vec<u8>)> = kv
        .as_array()
        .expect("kv array")
        .iter()
        .map(|e| {
            let value = base64::engine::general_purpose::STANDARD
                .decode(e["Value"].as_str().unwrap_or(""))
                .expect("base64");
            let key = e["Key"].as_str().expect("key").to_string();
            (key, (e["Flags"].as_u64().expect("flags"), value))
        })
        .collect();
    assert_eq!(stored.len(), model.kv.len(), "KV key count");
    assert!(
        stored == model.kv,
        "KV keys, flags and values differ from what was written"
    );
}

#[test]
fn a_large_state_survives_kill_9_through_snapshot_and_log_replay() {
    let started = Instant::now();
    let (mut agent, _conf) = Agent::server_with_config(
        IP,
        "raft.json",
        &format!(r#"{{"raft_snapshot_threshold": {SNAPSHOT_THRESHOLD}, "raft_trailing_logs": 32}}"#),
    );
    agent.wait_ready(READY);
    let mut model = Model::initial();

    // The bulk load: every instance (with its check and its node's check), then the KV.
    let mut jobs: Vec<(String, Vec<u8>)> = model
        .instances
        .values()
        .map(|i| ("/v1/catalog/register".to_string(), model.register_body(i)))
        .collect();
    jobs.extend(
        model
            .kv
            .iter()
            .map(|(k, (flags, v))| (format!("/v1/kv/{k}?flags={flags}"), v.clone())),
    );
    parallel(agent.url(""), jobs);
    let loaded = started.elapsed();
    wait_for("a snapshot of the bulk load", Duration::from_secs(20), || {
        (!snapshot_indexes(&agent).is_empty()).then_some(())
    });
    // One writer now, until the next snapshot is logged: from then on the next one is
    // SNAPSHOT_THRESHOLD entries away, further than the writes below reach.
    let seen = snapshot_indexes(&agent).len();
    let mut filler = 0;
    wait_for(
        "a snapshot during the filler writes",
        Duration::from_secs(20),
        || {
            let key = format!("large/filler/{filler:04}");
            let value = kv_value(filler, 9);
            kv_put(&agent, &key, 0, &value);
            model.kv.insert(key, (0, value));
            filler += 1;
            (snapshot_indexes(&agent).len() > seen).then_some(())
        },
    );
    let snapshot = *snapshot_indexes(&agent).last().expect("a snapshot");
    let first_after = agent.get("/v1/kv/large/?keys").index();

    // After the snapshot: every kind of write, one raft entry each, so the restart must
    // replay them from the log.
    let mut writes = 0u64;
    // Checks flip both ways, on instances and on nodes.
    let flips: Vec<(usize, String)> = model.instances.keys().step_by(97).cloned().collect();
    for key in &flips {
        let inst = model.instances.get_mut(key).expect("instance");
        inst.status = if inst.status == "passing" {
            "critical"
        } else {
            "passing"
        };
        let inst = inst.clone();
        ok(
            &agent.put("/v1/catalog/register", &model.register_body(&inst)),
            "flip",
        );
        writes += 1;
    }
    for n in [3usize, 57, 207] {
        let status = if model.nodes[&n] == "passing" {
            "critical"
        } else {
            "passing"
        };
        model.nodes.insert(n, status);
        let inst = model
            .instances
            .values()
            .find(|i| i.node == n)
            .expect("on node")
            .clone();
        ok(
            &agent.put("/v1/catalog/register", &model.register_body(&inst)),
            "node flip",
        );
        writes += 1;
    }
    // New nodes, a new service, new instances of an old one.
    for n in NODES..NODES + 2 {
        model.nodes.insert(n, "passing");
        for (k, service) in ["svc-00", "svc-late"].into_iter().enumerate() {
            let inst = Instance {
                node: n,
                service: service.to_string(),
                id: format!("{service}-{n:03}"),
                port: 30000 + k as u32,
                tags: vec!["late".to_string()],
                status: if k == 0 { "passing" } else { "critical" },
            };
            ok(
                &agent.put("/v1/catalog/register", &model.register_body(&inst)),
                "late",
            );
            model.add(inst);
            writes += 1;
        }
    }
    // Deregistrations: some instances, then a whole node.
    let gone: Vec<(usize, String)> = model.instances.keys().skip(5).step_by(211).cloned().collect();
    for (n, id) in &gone {
        let body = json!({"Node": node_name(*n), "ServiceID": id}).to_string();
        ok(
            &agent.put("/v1/catalog/deregister", body.as_bytes()),
            "deregister instance",
        );
        model.instances.remove(&(*n, id.clone()));
        writes += 1;
    }
    let body = json!({"Node": node_name(NODES - 1)}).to_string();
    ok(
        &agent.put("/v1/catalog/deregister", body.as_bytes()),
        "deregister node",
    );
    model.nodes.remove(&(NODES - 1));
    model.instances.retain(|(n, _), _| *n != NODES - 1);
    writes += 1;
    // KV: updates, deletes and new keys.
    for i in (0..KV_KEYS).step_by(9) {
        let value = kv_value(i, 1);
        kv_put(&agent, &kv_key(i), 1000 + i as u64, &value);
        model.kv.insert(kv_key(i), (1000 + i as u64, value));
        writes += 1;
    }
    for i in (4..KV_KEYS).step_by(13) {
        ok(&agent.delete(&format!("/v1/kv/{}", kv_key(i))), "delete");
        model.kv.remove(&kv_key(i));
        writes += 1;
    }
    while writes < AFTER_SNAPSHOT_WRITES {
        let key = format!("large/late/{writes:04}");
        let value = kv_value(writes as usize, 5);
        kv_put(&agent, &key, 7, &value);
        model.kv.insert(key, (7, value));
        writes += 1;
    }
    assert!(
        writes < SNAPSHOT_THRESHOLD - 10,
        "{writes} writes would trigger a snapshot"
    );

    let before = capture(&agent, &model);
    check_model(&model, &before);
    let last_index = before.values().map(|(i, _)| *i).max().unwrap_or(0);
    let snapshots = snapshot_indexes(&agent);
    assert_eq!(
        snapshots.last(),
        Some(&snapshot),
        "no snapshot after the post-snapshot writes: the restart replays them from the log"
    );
    assert!(
        snapshot <= first_after && first_after + writes <= last_index,
        "snapshot at {snapshot}, writes after it from {first_after} to {last_index}"
    );

    agent.kill9();
    let killed = Instant::now();
    agent.start();
    agent.wait_ready(READY);
    let ready = killed.elapsed();
    let after = capture(&agent, &model);
    check_model(&model, &after);
    for (path, (index, body)) in &before {
        let (index_after, body_after) = &after[path];
        assert!(
            index_after >= index,
            "X-Consul-Index of {path} went backwards: {index} -> {index_after}"
        );
        assert!(
            body == body_after,
            "{path} differs after the restart:\nbefore: {body}\nafter:  {body_after}"
        );
    }
    // New writes get larger indexes than anything before the kill.
    kv_put(&agent, "large/after-restart", 0, b"x");
    let r = agent.get("/v1/kv/large/after-restart");
    assert!(
        r.index() > last_index,
        "new write at {} <= {last_index}",
        r.index()
    );
    let inst = Instance {
        node: 0,
        service: "svc-after".into(),
        id: "svc-after-000".into(),
        port: 1,
        tags: vec![],
        status: "passing",
    };
    ok(
        &agent.put("/v1/catalog/register", &model.register_body(&inst)),
        "after",
    );
    let r = agent.get("/v1/health/service/svc-after");
    assert_eq!(r.json().as_array().map(Vec::len), Some(1));
    assert!(
        r.index() > last_index,
        "new registration at {} <= {last_index}",
        r.index()
    );
    eprintln!(
        "restart_large: {} instances, {} nodes, {} KV keys; loaded in {loaded:?}, snapshot at \
         index {snapshot}, {writes} writes after it (to index {last_index}); ready {ready:?} \
         after kill -9; {} reads compared; total {:?}",
        model.instances.len(),
        model.nodes.len(),
        model.kv.len(),
        before.len(),
        started.elapsed()
    );
}
