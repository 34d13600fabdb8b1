//! Sessions, KV locks, transactions and `rconsul lock`, against real dev agents.

mod common;

use std::process::Child;
use std::time::{Duration, Instant};

use common::{http, lock_process, wait_for, Agent, Resp};
use serde_json::{json, Value};

const READY: Duration = Duration::from_secs(20);

/// Starts a dev agent on `ip` and waits until its node and `serfHealth` are in the
/// catalog (sessions need both). Returns the agent and its node name.
fn agent(ip: &str) -> (Agent, String) {
    let agent = Agent::dev(ip);
    agent.wait_ready(READY);
    let node = agent.get("/v1/agent/self").json()["Config"]["NodeName"]
        .as_str()
        .expect("NodeName")
        .to_string();
    wait_for("serfHealth in the catalog", READY, || {
        let checks = agent.get(&format!("/v1/health/node/{node}")).json();
        checks
            .as_array()?
            .iter()
            .any(|c| c["CheckID"] == "serfHealth" && c["Status"] == "passing")
            .then_some(())
    });
    (agent, node)
}

/// Creates a session from a JSON body; returns its ID.
fn create(agent: &Agent, body: &str) -> String {
    let r = agent.put("/v1/session/create", body.as_bytes());
    assert_eq!(r.status, 200, "session create {body}: {}", r.text());
    r.json()["ID"].as_str().expect("ID").to_string()
}

fn put(agent: &Agent, path: &str, body: &[u8]) -> Resp {
    let r = agent.put(path, body);
    assert!(r.status == 200, "PUT {path}: {} {}", r.status, r.text());
    r
}

fn kv(agent: &Agent, key: &str) -> Option<Value> {
    let r = agent.get(&format!("/v1/kv/{key}"));
    (r.status == 200).then(|| r.json()[0].clone())
}

fn sessions(agent: &Agent) -> Vec<String> {
    agent
        .get("/v1/session/list")
        .json()
        .as_array()
        .expect("list")
        .iter()
        .map(|s| s["ID"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn session_lifecycle_and_errors() {
    let (agent, node) = agent("127.0.6.1");
    let s1 = create(&agent, r#"{"Name":"s1","TTL":"30s"}"#);
    let r = agent.get(&format!("/v1/session/info/{s1}"));
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-consul-query-backend"), Some("blocking-query"));
    assert_eq!(r.header("x-consul-effective-consistency"), None);
    let text = r.text();
    let info = &r.json()[0];
    // Fields in Consul's order.
    let order = [
        "ID",
        "Name",
        "Node",
        "LockDelay",
        "Behavior",
        "TTL",
        "NodeChecks",
        "ServiceChecks",
        "CreateIndex",
        "ModifyIndex",
    ];
    let positions: Vec<usize> = order
        .iter()
        .map(|k| text.find(&format!("\"{k}\":")).expect(k))
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{text}");
    assert_eq!(info.as_object().map(|o| o.len()), Some(order.len()));
    assert_eq!(info["Node"], node.as_str());
    assert_eq!(info["LockDelay"], 15_000_000_000u64);
    assert_eq!(info["Behavior"], "release");
    assert_eq!(info["TTL"], "30s");
    assert_eq!(info["NodeChecks"], json!(["serfHealth"]));
    assert_eq!(info["ServiceChecks"], Value::Null);
    assert_eq!(r.index(), info["CreateIndex"].as_u64().expect("index"));

    // Lenient decoding: lower-case keys, fractional TTL echoed as given, numeric LockDelay.
    let s2 = create(
        &agent,
        r#"{"name":"s2","ttl":"10.0s","lockdelay":5,"behavior":"delete","checks":[]}"#,
    );
    let info = agent.get(&format!("/v1/session/info/{s2}")).json()[0].clone();
    assert_eq!(
        (
            &info["TTL"],
            &info["LockDelay"],
            &info["Behavior"],
            &info["NodeChecks"]
        ),
        (
            &json!("10.0s"),
            &json!(5_000_000_000u64),
            &json!("delete"),
            &Value::Null
        )
    );

    let mut listed = sessions(&agent);
    listed.sort();
    let mut expected = vec![s1.clone(), s2.clone()];
    expected.sort();
    assert_eq!(listed, expected);
    assert_eq!(
        agent
            .get(&format!("/v1/session/node/{node}"))
            .json()
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    assert_eq!(agent.get("/v1/session/node/nosuch").text(), "[]\n");

    // Renew answers a one-element array; unknown sessions are 404.
    let r = agent.put(&format!("/v1/session/renew/{s1}"), b"");
    assert_eq!(r.status, 200);
    assert_eq!(r.json()[0]["ID"], s1.as_str());
    let r = agent.put("/v1/session/renew/00000000-0000-0000-0000-000000000000", b"");
    assert_eq!(
        (r.status, r.text()),
        (
            404,
            "Session id '00000000-0000-0000-0000-000000000000' not found".to_string()
        )
    );
    let r = agent.get(&format!("/v1/session/renew/{s1}"));
    assert_eq!((r.status, r.header("allow")), (405, Some("OPTIONS,PUT")));

    // Errors (Consul's texts; 400 where Consul says 500 for a client's mistake).
    for (body, text) in [
        (
            r#"{"TTL":"5s"}"#,
            "Invalid Session TTL '5000000000', must be between [10s=24h0m0s]",
        ),
        (
            r#"{"TTL":"abc"}"#,
            "Session TTL 'abc' invalid: time: invalid duration \"abc\"",
        ),
        (r#"{"Behavior":"bogus"}"#, "Invalid Behavior setting 'bogus'"),
        (r#"{"Node":"nosuch"}"#, "apply failed: Missing node registration"),
        (
            r#"{"Checks":["nosuch"]}"#,
            "apply failed: Missing check 'nosuch' registration",
        ),
        (r#"{"Name":"#, "Request decode failed: unexpected EOF"),
    ] {
        let r = agent.put("/v1/session/create", body.as_bytes());
        assert_eq!((r.status, r.text()), (400, text.to_string()), "{body}");
    }
    let r = agent.get("/v1/session/info/not-a-uuid");
    assert_eq!(
        (r.status, r.text()),
        (
            400,
            "failed session lookup: index error: UUID must be 36 characters".to_string()
        )
    );
    assert_eq!(agent.get("/v1/session/info/").text(), "Missing session");
    assert_eq!(
        agent
            .get("/v1/session/info/00000000-0000-0000-0000-000000000000")
            .text(),
        "[]\n"
    );

    // A blocking list wakes on a destroy.
    let index = agent.get("/v1/session/list").index();
    let url = agent.url(&format!("/v1/session/list?index={index}&wait=30s"));
    let waiter = std::thread::spawn(move || {
        let started = Instant::now();
        (http("GET", &url, None), started.elapsed())
    });
    std::thread::sleep(Duration::from_millis(200));
    let r = agent.put(&format!("/v1/session/destroy/{s2}"), b"");
    assert_eq!((r.status, r.text()), (200, "true\n".to_string()));
    let (woken, took) = waiter.join().expect("waiter");
    assert!(
        took < Duration::from_secs(10),
        "blocking list woke after {took:?}"
    );
    assert!(woken.index() > index);
    assert_eq!(sessions(&agent), vec![s1.clone()]);
    assert_eq!(
        agent
            .put("/v1/session/destroy/00000000-0000-0000-0000-000000000000", b"")
            .text(),
        "true\n"
    );
    assert_eq!(agent.get(&format!("/v1/session/info/{s2}")).text(), "[]\n");
}

#[test]
fn locks_lock_index_lock_delay_and_delete_behavior() {
    let (agent, _) = agent("127.0.6.2");
    let s1 = create(&agent, r#"{"Name":"a"}"#);
    let s2 = create(&agent, r#"{"Name":"b","LockDelay":"1s"}"#);

    let acquire = |key: &str, s: &str, v: &[u8]| put(&agent, &format!("/v1/kv/{key}?acquire={s}"), v).text();
    let release = |key: &str, s: &str| put(&agent, &format!("/v1/kv/{key}?release={s}"), b"").text();
    assert_eq!(acquire("lock/leader", &s1, b"node-a"), "true\n");
    assert_eq!(acquire("lock/leader", &s2, b"node-b"), "false\n");
    assert_eq!(acquire("lock/leader", &s1, b"node-a2"), "true\n");
    let e = kv(&agent, "lock/leader").expect("key");
    assert_eq!((&e["LockIndex"], &e["Session"]), (&json!(1), &json!(s1)));
    assert_eq!(e["Value"], "bm9kZS1hMg==");
    assert_eq!(release("lock/leader", &s2), "false\n");
    assert_eq!(release("lock/leader", &s1), "true\n");
    let e = kv(&agent, "lock/leader").expect("key");
    assert_eq!(
        (&e["LockIndex"], e.get("Session"), &e["Value"]),
        (&json!(1), None, &Value::Null)
    );
    // A clean release starts no lock-delay; the next acquisition bumps LockIndex.
    assert_eq!(acquire("lock/leader", &s2, b"node-b"), "true\n");
    let e = kv(&agent, "lock/leader").expect("key");
    assert_eq!((&e["LockIndex"], &e["Session"]), (&json!(2), &json!(s2)));
    // A plain PUT neither needs nor takes the lock (it resets LockIndex, as Consul's does).
    assert_eq!(put(&agent, "/v1/kv/lock/leader", b"plain").text(), "true\n");
    let e = kv(&agent, "lock/leader").expect("key");
    assert_eq!((&e["Session"], &e["LockIndex"]), (&json!(s2), &json!(0)));

    // Client mistakes and unknown sessions.
    let r = agent.put(&format!("/v1/kv/lock/leader?acquire={s1}&release={s1}"), b"");
    assert_eq!(
        (r.status, r.text()),
        (400, format!("Conflicting flags: acquire={s1}&release={s1}"))
    );
    let r = agent.put(&format!("/v1/kv/lock/leader?acquire={s1}&cas=1"), b"");
    assert_eq!(r.status, 400);
    let r = agent.put("/v1/kv/lock/x?acquire=5bc0d0f8-2a4e-4b4b-8a6b-000000000000", b"");
    assert_eq!(
        (r.status, r.text()),
        (
            500,
            "raft apply failed: invalid session \"5bc0d0f8-2a4e-4b4b-8a6b-000000000000\"".to_string()
        )
    );
    let r = agent.put("/v1/kv/lock/x?acquire=not-a-session", b"");
    assert_eq!(r.status, 400);

    // Destroying the holder releases the key (value kept, Session cleared, LockIndex
    // kept) and starts s2's 1 s lock-delay: s1 is refused until it has passed.
    let before = kv(&agent, "lock/leader").expect("key")["ModifyIndex"].clone();
    assert_eq!(
        put(&agent, &format!("/v1/session/destroy/{s2}"), b"").text(),
        "true\n"
    );
    let destroyed = Instant::now();
    let e = kv(&agent, "lock/leader").expect("kept");
    assert_eq!(
        (e.get("Session"), &e["LockIndex"], &e["Value"]),
        (None, &json!(0), &json!("cGxhaW4="))
    );
    assert!(e["ModifyIndex"].as_u64() > before.as_u64());
    assert_eq!(
        acquire("lock/leader", &s1, b"a"),
        "false\n",
        "inside the lock-delay"
    );
    wait_for("the lock-delay to pass", Duration::from_secs(10), || {
        (acquire("lock/leader", &s1, b"a") == "true\n").then_some(())
    });
    let waited = destroyed.elapsed();
    assert!(
        waited >= Duration::from_millis(800),
        "lock-delay lasted only {waited:?}"
    );
    assert_eq!(kv(&agent, "lock/leader").expect("key")["LockIndex"], 1);

    // Behavior=delete: the held key goes away with the session.
    let s3 = create(&agent, r#"{"Behavior":"delete","LockDelay":"0s"}"#);
    assert_eq!(acquire("lock/ephemeral", &s3, b"eph"), "true\n");
    assert_eq!(
        put(&agent, &format!("/v1/session/destroy/{s3}"), b"").text(),
        "true\n"
    );
    assert!(kv(&agent, "lock/ephemeral").is_none());
}

#[test]
fn a_critical_check_invalidates_the_session() {
    let (agent, node) = agent("127.0.6.7");
    let r = agent.put(
        "/v1/agent/check/register",
        br#"{"Name":"guard","CheckID":"guard","TTL":"60s","Status":"passing"}"#,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    wait_for("the check in the catalog", READY, || {
        let checks = agent.get(&format!("/v1/health/node/{node}")).json();
        checks
            .as_array()?
            .iter()
            .any(|c| c["CheckID"] == "guard")
            .then_some(())
    });
    let s = create(
        &agent,
        r#"{"NodeChecks":["serfHealth","guard"],"LockDelay":"1s"}"#,
    );
    assert_eq!(
        put(&agent, &format!("/v1/kv/guarded?acquire={s}"), b"x").text(),
        "true\n"
    );
    assert_eq!(agent.put("/v1/agent/check/fail/guard", b"").status, 200);
    wait_for("the session to be invalidated", READY, || {
        sessions(&agent).is_empty().then_some(())
    });
    assert_eq!(kv(&agent, "guarded").expect("released").get("Session"), None);
    // A session cannot be created on a critical check.
    let r = agent.put("/v1/session/create", br#"{"NodeChecks":["guard"]}"#);
    assert_eq!(
        (r.status, r.text()),
        (
            400,
            "apply failed: Check 'guard' is in critical state".to_string()
        )
    );
}

#[test]
fn unrenewed_ttl_session_expires_and_releases_its_key() {
    let (agent, _) = agent("127.0.6.3");
    let expiring = create(&agent, r#"{"TTL":"10s","LockDelay":"0s"}"#);
    let renewed = create(&agent, r#"{"TTL":"10s"}"#);
    let created = Instant::now();
    assert_eq!(
        put(&agent, &format!("/v1/kv/ttl/lock?acquire={expiring}"), b"v").text(),
        "true\n"
    );
    let mut last_renew = Instant::now();
    wait_for("the TTL session to expire", Duration::from_secs(25), || {
        if last_renew.elapsed() > Duration::from_secs(3) {
            assert_eq!(
                agent.put(&format!("/v1/session/renew/{renewed}"), b"").status,
                200
            );
            last_renew = Instant::now();
        }
        (!sessions(&agent).contains(&expiring)).then_some(())
    });
    let took = created.elapsed();
    assert!(took >= Duration::from_secs(10), "expired after only {took:?}");
    assert_eq!(sessions(&agent), vec![renewed], "the renewed session lives on");
    let e = kv(&agent, "ttl/lock").expect("key kept");
    assert_eq!(e.get("Session"), None, "released on expiry");
}

#[test]
fn txn_commits_atomically_and_rolls_back() {
    let (agent, _) = agent("127.0.6.4");
    let s = create(&agent, "{}");
    put(&agent, "/v1/kv/txn/old", b"old");
    let body = json!([
        {"KV": {"Verb": "set", "Key": "txn/a", "Value": "YQ==", "Flags": 7}},
        {"KV": {"Verb": "cas", "Key": "txn/b", "Value": "Yg==", "Index": 0}},
        {"KV": {"Verb": "lock", "Key": "txn/lock", "Value": "bA==", "Session": s}},
        {"KV": {"Verb": "get", "Key": "txn/a"}},
        {"KV": {"Verb": "check-not-exists", "Key": "txn/c"}},
        {"KV": {"Verb": "check-session", "Key": "txn/lock", "Session": s}},
        {"KV": {"Verb": "delete", "Key": "txn/old"}},
        {"Node": {"Verb": "get", "Node": {"Node": agent.get("/v1/agent/self").json()["Config"]["NodeName"]}}},
    ]);
    let r = agent.put("/v1/txn", body.to_string().as_bytes());
    assert_eq!(r.status, 200, "{}", r.text());
    let out = r.json();
    assert_eq!(out["Errors"], Value::Null);
    let results = out["Results"].as_array().expect("results");
    assert_eq!(results.len(), 6, "delete and check-not-exists give no result");
    assert_eq!(
        results[0]["KV"]["Value"],
        Value::Null,
        "set results carry no value"
    );
    assert_eq!(results[2]["KV"]["Session"], json!(s));
    assert_eq!(results[3]["KV"]["Value"], "YQ==");
    assert!(results[5]["Node"]["Node"].is_string());
    let index = results[0]["KV"]["ModifyIndex"].clone();
    assert!(
        results.iter().take(3).all(|r| r["KV"]["ModifyIndex"] == index),
        "one raft index"
    );
    assert!(kv(&agent, "txn/old").is_none());
    assert_eq!(kv(&agent, "txn/lock").expect("locked")["LockIndex"], 1);

    // A failing check-index rolls everything back, with per-op errors.
    let keys_before = agent.get("/v1/kv/txn/?keys").text();
    let index_before = agent.get("/v1/kv/?keys").index();
    let body = json!([
        {"KV": {"Verb": "delete-tree", "Key": "txn/"}},
        {"KV": {"Verb": "set", "Key": "txn/new", "Value": "bg=="}},
        {"KV": {"Verb": "check-index", "Key": "txn/a", "Index": 1}},
        {"KV": {"Verb": "unlock", "Key": "txn/lock", "Session": s}},
        {"KV": {"Verb": "get", "Key": "txn/missing"}},
    ]);
    let r = agent.put("/v1/txn", body.to_string().as_bytes());
    assert_eq!(r.status, 409, "{}", r.text());
    assert_eq!(
        r.json(),
        json!({"Results": null, "Errors": [
            {"OpIndex": 2, "What": "failed to check index, key \"txn/a\" doesn't exist"},
            {"OpIndex": 3, "What": "failed to unlock key \"txn/lock\", lock isn't held, or is held by another session"},
            {"OpIndex": 4, "What": "key \"txn/missing\" doesn't exist"},
        ]})
    );
    assert_eq!(
        agent.get("/v1/kv/txn/?keys").text(),
        keys_before,
        "nothing applied"
    );
    assert_eq!(agent.get("/v1/kv/?keys").index(), index_before);
    assert_eq!(kv(&agent, "txn/lock").expect("still locked")["Session"], json!(s));

    // Read-only transactions are served locally, with QueryMeta in the body.
    let r = agent.put("/v1/txn", br#"[{"KV":{"Verb":"get","Key":"txn/a"}}]"#);
    assert_eq!((r.status, r.header("x-consul-knownleader")), (200, Some("true")));
    assert_eq!(r.json()["KnownLeader"], true);
    assert_eq!(r.json()["Results"][0]["KV"]["Flags"], 7);
    let r = agent.put("/v1/txn", br#"[{"KV":{"Verb":"bogus","Key":"txn/a"}}]"#);
    assert_eq!(r.status, 409);
    assert_eq!(r.json()["Errors"][0]["What"], "unknown KV verb \"bogus\"");

    let ops: Vec<Value> = (0..65)
        .map(|_| json!({"KV": {"Verb": "get", "Key": "txn/a"}}))
        .collect();
    let r = agent.put("/v1/txn", Value::Array(ops).to_string().as_bytes());
    assert_eq!(
        (r.status, r.text()),
        (
            413,
            "Transaction contains too many operations (65 > 64)".to_string()
        )
    );
    let r = agent.put(
        "/v1/txn",
        br#"[{"KV":{"Verb":"set","Key":"k","Value":"not base64!"}}]"#,
    );
    assert_eq!(
        (r.status, r.text()),
        (
            400,
            "Failed to parse body: illegal base64 data at input byte 3".to_string()
        )
    );
}

#[test]
fn txn_catalog_writes_reach_catalog_and_health_or_nothing() {
    let (agent, _) = agent("127.0.6.8");
    let base = agent.get("/v1/health/service/ext-web").index();
    // A blocking health query for the service, woken by the transaction.
    let url = agent.url(&format!("/v1/health/service/ext-web?index={base}&wait=30s"));
    let waiter = std::thread::spawn(move || http("GET", &url, None));
    std::thread::sleep(Duration::from_millis(300));
    let body = json!([
        {"Node": {"Verb": "set", "Node": {"Node": "ext-node", "Address": "10.9.9.9", "Meta": {"rack": "r1"}}}},
        {"Service": {"Verb": "set", "Node": "ext-node",
                     "Service": {"ID": "ext-web-1", "Service": "ext-web", "Tags": ["v1"], "Port": 8080}}},
        {"Check": {"Verb": "set", "Check": {"Node": "ext-node", "CheckID": "ext-web-alive", "Name": "alive",
                   "Status": "passing", "ServiceID": "ext-web-1",
                   "Definition": {"HTTP": "http://10.9.9.9:8080/health", "Interval": "10s"}}}},
        {"KV": {"Verb": "set", "Key": "txn/ext", "Value": "eA=="}},
    ]);
    let r = agent.put("/v1/txn", body.to_string().as_bytes());
    assert_eq!(r.status, 200, "{}", r.text());
    let out = r.json();
    let results = out["Results"].as_array().expect("results");
    assert_eq!(results.len(), 4);
    let index = results[0]["Node"]["ModifyIndex"].as_u64().expect("node index");
    assert_eq!(results[0]["Node"]["Datacenter"], "dc1");
    assert_eq!(results[1]["Service"]["ID"], "ext-web-1");
    assert_eq!(results[1]["Service"]["CreateIndex"], index);
    assert_eq!(results[2]["Check"]["ServiceName"], "ext-web");
    assert_eq!(results[2]["Check"]["Definition"]["Interval"], "10s");
    assert_eq!(results[3]["KV"]["ModifyIndex"], index, "one raft index");

    let woke = waiter.join().expect("blocking query");
    assert_eq!(woke.index(), index, "the blocking health query saw the txn");
    let catalog = agent.get("/v1/catalog/service/ext-web").json();
    assert_eq!(catalog.as_array().map(Vec::len), Some(1), "{catalog}");
    assert_eq!(
        (
            &catalog[0]["Node"],
            &catalog[0]["Address"],
            &catalog[0]["ServicePort"]
        ),
        (&json!("ext-node"), &json!("10.9.9.9"), &json!(8080))
    );
    assert_eq!(catalog[0]["NodeMeta"]["rack"], "r1");
    let health = agent.get("/v1/health/service/ext-web?passing").json();
    assert_eq!(health.as_array().map(Vec::len), Some(1), "{health}");
    assert_eq!(health[0]["Checks"][0]["CheckID"], "ext-web-alive");
    assert_eq!(health[0]["Service"]["Tags"], json!(["v1"]));
    assert_eq!(kv(&agent, "txn/ext").expect("key")["Value"], "eA==");

    // A failing service cas leaves neither the new node, its service, the key nor
    // the earlier service change behind.
    let services_index = agent.get("/v1/catalog/services").index();
    let body = json!([
        {"Node": {"Verb": "set", "Node": {"Node": "ghost", "Address": "10.9.9.10"}}},
        {"Service": {"Verb": "set", "Node": "ghost", "Service": {"Service": "ghost-svc", "Port": 1}}},
        {"KV": {"Verb": "set", "Key": "txn/ghost", "Value": "eA=="}},
        {"Service": {"Verb": "set", "Node": "ext-node",
                     "Service": {"ID": "ext-web-1", "Service": "ext-web", "Tags": ["v2"], "Port": 8080}}},
        {"Service": {"Verb": "cas", "Node": "ext-node",
                     "Service": {"ID": "ext-web-1", "Service": "ext-web", "ModifyIndex": 1}}},
    ]);
    let r = agent.put("/v1/txn", body.to_string().as_bytes());
    assert_eq!(r.status, 409, "{}", r.text());
    assert_eq!(
        r.json(),
        json!({"Results": null, "Errors": [
            {"OpIndex": 4, "What": "failed to set service \"ext-web-1\" on node \"ext-node\", index is stale"},
        ]})
    );
    assert_eq!(agent.get("/v1/catalog/service/ghost-svc").json(), json!([]));
    assert_eq!(agent.get("/v1/catalog/node/ghost").json(), Value::Null);
    assert!(kv(&agent, "txn/ghost").is_none());
    assert_eq!(
        agent.get("/v1/catalog/service/ext-web").json()[0]["ServiceTags"],
        json!(["v1"])
    );
    assert_eq!(agent.get("/v1/catalog/services").index(), services_index);

    // Consul's pre-checks refuse the whole transaction before raft.
    let r = agent.put(
        "/v1/txn",
        br#"[{"KV":{"Verb":"set","Key":"txn/pre","Value":"eA=="}},{"Node":{"Verb":"set","Node":{"Address":"1.2.3.4"}}}]"#,
    );
    assert_eq!(
        (r.status, r.json()),
        (
            409,
            json!({"Results": null, "Errors": [{"OpIndex": 1, "What": "Must provide node"}]})
        )
    );
    assert!(kv(&agent, "txn/pre").is_none());
}

fn wait_exit(child: &mut Child, timeout: Duration) -> i32 {
    let status = wait_for("rconsul lock to exit", timeout, || {
        child.try_wait().ok().flatten()
    });
    status.code().unwrap_or(-1)
}

#[test]
fn lock_cli_children_never_overlap() {
    let (agent, _) = agent("127.0.6.5");
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("log");
    let child = |id: &str| {
        format!(
            "echo start {id} >> {log}; sleep 1; echo end {id} >> {log}",
            log = log.display()
        )
    };
    let mut a = lock_process(&agent, &["app/leader", &child("A")]);
    let mut b = lock_process(&agent, &["app/leader", &child("B")]);
    assert_eq!(wait_exit(&mut a, Duration::from_secs(60)), 0);
    assert_eq!(wait_exit(&mut b, Duration::from_secs(60)), 0);
    let text = std::fs::read_to_string(&log).expect("log");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{text}");
    // Each start is immediately followed by its own end: no overlap.
    for pair in lines.chunks(2) {
        let id = pair[0].strip_prefix("start ").expect("start line");
        assert_eq!(pair[1], format!("end {id}"), "{text}");
    }
    assert_ne!(lines[0], lines[2]);
    // Both released and cleaned up: no lock key, no session left.
    wait_for("sessions to be destroyed", Duration::from_secs(10), || {
        sessions(&agent).is_empty().then_some(())
    });
    assert!(kv(&agent, "app/leader/.lock").is_none());
}

#[test]
fn lock_cli_kills_the_child_when_the_lock_is_lost() {
    let (agent, _) = agent("127.0.6.6");
    let dir = tempfile::tempdir().expect("tempdir");
    let marker = dir.path().join("marker");
    let script = format!(
        "echo started > {m}; sleep 60; echo finished > {m}",
        m = marker.display()
    );
    let mut holder = lock_process(&agent, &["-verbose", "job", &script]);
    let session = wait_for("the lock to be held", READY, || {
        kv(&agent, "job/.lock")?["Session"].as_str().map(str::to_string)
    });
    wait_for("the child to start", READY, || marker.exists().then_some(()));
    let started = Instant::now();
    assert_eq!(
        put(&agent, &format!("/v1/session/destroy/{session}"), b"").text(),
        "true\n"
    );
    wait_exit(&mut holder, Duration::from_secs(15));
    assert!(started.elapsed() < Duration::from_secs(10));
    let mut stdout = String::new();
    if let Some(mut out) = holder.stdout.take() {
        let _ = std::io::Read::read_to_string(&mut out, &mut stdout);
    }
    assert!(stdout.contains("Lock lost, killing child\n"), "{stdout}");
    assert_eq!(std::fs::read_to_string(&marker).expect("marker"), "started\n");
    // The semaphore flavour runs too (-n 2), with its contender keys cleaned up.
    let mut sem = lock_process(&agent, &["-n", "2", "pool", "true"]);
    assert_eq!(wait_exit(&mut sem, Duration::from_secs(30)), 0);
    assert_eq!(agent.get("/v1/kv/pool/?recurse").status, 404);
}
