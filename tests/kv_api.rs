//! The KV HTTP API of a dev agent, checked the way a client sees it.

mod common;

use std::time::{Duration, Instant};

use common::{http, Agent};

const READY: Duration = Duration::from_secs(20);

#[test]
fn dev_agent_serves_status_and_headers() {
    let agent = Agent::dev("127.0.1.1");
    agent.wait_ready(READY);
    let r = agent.get("/v1/status/leader");
    assert_eq!(r.status, 200);
    assert_eq!(
        r.text(),
        "\"127.0.1.1:8300\"\n",
        "dev mode pretty-prints with a trailing newline"
    );
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.header("x-consul-default-acl-policy"), Some("allow"));
    let peers = agent.get("/v1/status/peers").json();
    assert_eq!(peers, serde_json::json!(["127.0.1.1:8300"]));
    let r = agent.get("/v1/status/leader?dc=dc9");
    assert_eq!((r.status, r.text()), (500, "No path to datacenter".to_string()));
    let r = http("POST", &agent.url("/v1/status/leader"), Some(b""));
    assert_eq!((r.status, r.text()), (405, "method POST not allowed".to_string()));
    assert_eq!(r.header("allow"), Some("OPTIONS,GET"));
    let r = http("OPTIONS", &agent.url("/v1/status/leader"), None);
    assert_eq!((r.status, r.header("allow")), (200, Some("OPTIONS,GET")));
    let r = agent.get("/v1/nosuch");
    assert_eq!((r.status, r.body.len()), (404, 0));
    assert_eq!(r.header("x-consul-default-acl-policy"), None);
}

#[test]
fn kv_put_get_flags_cas_and_raw() {
    let agent = Agent::dev("127.0.1.2");
    agent.wait_ready(READY);
    let r = agent.put("/v1/kv/app/config", b"hello world");
    assert_eq!((r.status, r.text()), (200, "true\n".to_string()));
    assert_eq!(agent.put("/v1/kv/app/flagged?flags=42", b"v").text(), "true\n");

    let r = agent.get("/v1/kv/app/config");
    assert_eq!(r.status, 200);
    let entry = &r.json()[0];
    assert_eq!(entry["Key"], "app/config");
    assert_eq!(entry["Value"], "aGVsbG8gd29ybGQ=");
    assert_eq!(entry["Flags"], 0);
    assert_eq!(entry["LockIndex"], 0);
    let modify = entry["ModifyIndex"].as_u64().expect("ModifyIndex");
    assert_eq!(r.index(), modify, "X-Consul-Index of one key is its ModifyIndex");
    assert_eq!(r.header("x-consul-knownleader"), Some("true"));
    assert_eq!(r.header("x-consul-lastcontact"), Some("0"));
    assert_eq!(r.header("x-consul-query-backend"), Some("blocking-query"));
    assert_eq!(agent.get("/v1/kv/app/flagged").json()[0]["Flags"], 42);

    // Field order is Consul's.
    let text = r.text();
    let order: Vec<usize> = ["LockIndex", "Key", "Flags", "Value", "CreateIndex", "ModifyIndex"]
        .iter()
        .map(|f| text.find(f).expect("field"))
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{text}");

    // CAS: 0 means create-only; a wrong index fails; the right one succeeds.
    assert_eq!(agent.put("/v1/kv/app/config?cas=0", b"nope").text(), "false\n");
    assert_eq!(agent.put("/v1/kv/app/config?cas=1", b"nope").text(), "false\n");
    assert_eq!(
        agent
            .put(&format!("/v1/kv/app/config?cas={modify}"), b"hello again")
            .text(),
        "true\n"
    );
    assert_eq!(agent.put("/v1/kv/app/fresh?cas=0", b"x").text(), "true\n");

    let raw = agent.get("/v1/kv/app/config?raw");
    assert_eq!((raw.status, raw.text()), (200, "hello again".to_string()));
    assert_eq!(raw.header("content-type"), Some("text/plain"));
    assert_eq!(raw.header("x-content-type-options"), Some("nosniff"));

    // An empty value reads back as null.
    agent.put("/v1/kv/app/empty", b"");
    assert!(agent.get("/v1/kv/app/empty").json()[0]["Value"].is_null());

    // Missing key: 404, empty body, index headers present.
    let r = agent.get("/v1/kv/app/missing");
    assert_eq!((r.status, r.body.len()), (404, 0));
    assert!(r.index() >= 1);
}

#[test]
fn kv_recurse_keys_separator_and_delete() {
    let agent = Agent::dev("127.0.1.3");
    agent.wait_ready(READY);
    for (k, v) in [
        ("app/config", "c"),
        ("app/dir/", ""),
        ("app/dir/a", "A"),
        ("app/dir/sub/b", "B"),
        ("apple", "x"),
    ] {
        assert_eq!(agent.put(&format!("/v1/kv/{k}"), v.as_bytes()).status, 200);
    }
    let all = agent.get("/v1/kv/app?recurse").json();
    let keys: Vec<&str> = all
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|e| e["Key"].as_str())
        .collect();
    assert_eq!(
        keys,
        vec!["app/config", "app/dir/", "app/dir/a", "app/dir/sub/b", "apple"],
        "textual prefix match"
    );
    assert_eq!(agent.get("/v1/kv/nosuch?recurse").status, 404);

    let keys = agent.get("/v1/kv/app/?keys&separator=/").json();
    assert_eq!(keys, serde_json::json!(["app/config", "app/dir/"]));
    let keys = agent.get("/v1/kv/app?keys&separator=/").json();
    assert_eq!(keys, serde_json::json!(["app/", "apple"]));
    assert_eq!(agent.len_of("/v1/kv/?keys"), Some(5));
    assert_eq!(agent.get("/v1/kv/nosuch/?keys").status, 404);

    assert_eq!(agent.delete("/v1/kv/app/dir?recurse").text(), "true\n");
    let keys = agent.get("/v1/kv/?keys").json();
    assert_eq!(keys, serde_json::json!(["app/config", "apple"]));

    let modify = agent.get("/v1/kv/apple").json()[0]["ModifyIndex"]
        .as_u64()
        .expect("index");
    assert_eq!(
        agent.delete(&format!("/v1/kv/apple?cas={}", modify + 100)).text(),
        "false\n"
    );
    assert_eq!(
        agent.delete(&format!("/v1/kv/apple?cas={modify}")).text(),
        "true\n"
    );
    assert_eq!(agent.get("/v1/kv/apple").status, 404);
    assert_eq!(agent.delete("/v1/kv/never-existed").text(), "true\n");
    assert_eq!(agent.delete("/v1/kv/?recurse").text(), "true\n");
    assert_eq!(agent.get("/v1/kv/?keys").json(), serde_json::json!([]));
}

#[test]
fn kv_bad_input_gets_consul_errors() {
    let agent = Agent::dev("127.0.1.4");
    agent.wait_ready(READY);
    agent.put("/v1/kv/k", b"v");
    let cases: &[(&str, &str, u16, &str)] = &[
        ("GET", "/v1/kv/k?index=abc", 400, "Invalid index"),
        ("GET", "/v1/kv/k?wait=bad", 400, "Invalid wait time"),
        (
            "GET",
            "/v1/kv/k?stale&consistent",
            400,
            "Cannot specify ?stale with ?consistent, conflicting semantics.",
        ),
        ("GET", "/v1/kv/k?dc=dc9", 500, "No path to datacenter"),
        ("GET", "/v1/kv/", 400, "Missing key name"),
        ("PUT", "/v1/kv/", 400, "Missing key name"),
        ("DELETE", "/v1/kv/", 400, "Missing key name"),
        ("POST", "/v1/kv/k", 405, "method POST not allowed"),
        ("PATCH", "/v1/kv/k", 405, "method PATCH not allowed"),
    ];
    for (method, path, status, body) in cases {
        let r = http(
            method,
            &agent.url(path),
            if *method == "GET" { None } else { Some(b"x") },
        );
        assert_eq!((r.status, r.text().as_str()), (*status, *body), "{method} {path}");
        assert_eq!(
            r.header("content-type"),
            Some("text/plain; charset=utf-8"),
            "{method} {path}"
        );
    }
    // Consul says 500 for these client mistakes; rconsul says 400, naming the parameter.
    for path in ["/v1/kv/k?cas=abc", "/v1/kv/k?flags=abc"] {
        let r = agent.put(path, b"x");
        assert_eq!(r.status, 400, "{path}");
        assert!(r.text().contains("invalid syntax"), "{}", r.text());
    }
    let r = agent.put("/v1/kv/k?cas=1&acquire=abc", b"x");
    assert_eq!(r.status, 400);
    assert!(r.text().starts_with("Conflicting flags"));
    assert_eq!(
        agent.get("/v1/kv/k").json()[0]["Value"],
        "dg==",
        "no failed request changed the key"
    );

    let r = http("GET", &agent.url("/v1/kv"), None);
    assert_eq!((r.status, r.header("location")), (301, Some("/v1/kv/")));
    let r = http("OPTIONS", &agent.url("/v1/kv/k"), None);
    assert_eq!(r.header("allow"), Some("OPTIONS,GET,PUT,DELETE"));
}

#[test]
fn kv_value_size_limit_is_512_kib() {
    let agent = Agent::dev("127.0.1.5");
    agent.wait_ready(READY);
    let exact = vec![b'a'; 524_288];
    assert_eq!(agent.put("/v1/kv/big/exact", &exact).text(), "true\n");
    let over = vec![b'a'; 524_289];
    let r = agent.put("/v1/kv/big/over", &over);
    assert_eq!(r.status, 413);
    assert_eq!(
        r.text(),
        "Request body(524289 bytes) too large, max size: 524288 bytes. See https://www.consul.io/docs/agent/options.html#kv_max_value_size."
    );
    assert_eq!(
        agent.get("/v1/kv/big/?keys").json(),
        serde_json::json!(["big/exact"])
    );
    assert_eq!(agent.get("/v1/kv/big/exact?raw").body.len(), 524_288);
}

#[test]
fn blocking_query_waits_and_wakes_on_change() {
    let agent = Agent::dev("127.0.1.6");
    agent.wait_ready(READY);
    agent.put("/v1/kv/watched", b"one");
    let index = agent.get("/v1/kv/watched").index();

    // No change: waits for the full wait, then answers 200 with the same index.
    let started = Instant::now();
    let r = agent.get(&format!("/v1/kv/watched?index={index}&wait=1s"));
    let waited = started.elapsed();
    assert_eq!((r.status, r.index()), (200, index));
    assert!(waited >= Duration::from_millis(950), "returned after {waited:?}");

    // ?index=0 never blocks.
    let started = Instant::now();
    agent.get("/v1/kv/watched?index=0&wait=5s");
    assert!(started.elapsed() < Duration::from_secs(4));

    // A write to another key does not wake a watch on this one.
    let url = agent.url(&format!("/v1/kv/watched?index={index}&wait=30s"));
    let watcher = std::thread::spawn(move || {
        let r = http("GET", &url, None);
        (r, Instant::now())
    });
    std::thread::sleep(Duration::from_millis(300));
    agent.put("/v1/kv/unrelated", b"x");
    std::thread::sleep(Duration::from_millis(300));
    assert!(!watcher.is_finished(), "an unrelated write woke the watch");

    // A change wakes it at once, with the new index.
    agent.put("/v1/kv/watched", b"two");
    let acked = Instant::now();
    let (r, returned) = watcher.join().expect("watcher");
    let lag = returned.saturating_duration_since(acked);
    assert_eq!(r.json()[0]["Value"], "dHdv");
    assert!(r.index() > index);
    eprintln!("blocking query woke {lag:?} after the write was acknowledged");
    assert!(lag < Duration::from_millis(100), "woke {lag:?} after the write");

    // A missing key's watch ignores unrelated writes too, then wakes when it is created.
    let missing_index = agent.get("/v1/kv/later").index();
    let url = agent.url(&format!("/v1/kv/later?index={missing_index}&wait=30s"));
    let watcher = std::thread::spawn(move || http("GET", &url, None));
    std::thread::sleep(Duration::from_millis(200));
    agent.put("/v1/kv/unrelated", b"y");
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        !watcher.is_finished(),
        "an unrelated write woke the watch on a missing key"
    );
    agent.put("/v1/kv/later", b"here");
    let r = watcher.join().expect("watcher");
    assert_eq!(r.status, 200);
    assert_eq!(r.json()[0]["Key"], "later");
}

#[test]
fn recursive_watch_sees_deletes() {
    let agent = Agent::dev("127.0.1.7");
    agent.wait_ready(READY);
    agent.put("/v1/kv/cfg/a", b"1");
    agent.put("/v1/kv/cfg/b", b"2");
    let index = agent.get("/v1/kv/cfg/?recurse").index();
    let url = agent.url(&format!("/v1/kv/cfg/?recurse&index={index}&wait=30s"));
    let watcher = std::thread::spawn(move || http("GET", &url, None));
    std::thread::sleep(Duration::from_millis(200));
    agent.delete("/v1/kv/cfg/a");
    let r = watcher.join().expect("watcher");
    assert!(
        r.index() > index,
        "a delete under the prefix bumps its index (tombstone)"
    );
    assert_eq!(r.json().as_array().map(Vec::len), Some(1));
}

/// A `?recurse` answer over a megabyte is encoded away from the state lock and the
/// HTTP worker; it must still be exactly the answer a small one would be.
#[test]
fn large_recursive_reads_are_complete() {
    use base64::Engine;
    let agent = Agent::dev("127.0.1.8");
    agent.wait_ready(READY);
    let values: Vec<Vec<u8>> = (0..4u8)
        .map(|i| (0..400 * 1024).map(|j: u32| (j % 251) as u8 ^ i).collect())
        .collect();
    for (i, v) in values.iter().enumerate() {
        assert_eq!(agent.put(&format!("/v1/kv/large/{i}"), v).status, 200);
    }
    let resp = agent.get("/v1/kv/large/?recurse");
    assert_eq!(resp.status, 200);
    let index = resp.index();
    let entries = resp.json();
    let entries = entries.as_array().expect("array");
    assert_eq!(entries.len(), values.len());
    for (i, (entry, value)) in entries.iter().zip(&values).enumerate() {
        assert_eq!(entry["Key"], format!("large/{i}"));
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(entry["Value"].as_str().expect("value"))
            .expect("base64");
        assert!(decoded == *value, "value of large/{i} differs");
    }
    assert_eq!(entries[3]["ModifyIndex"].as_u64(), Some(index));
}

/// Opens a keep-alive connection to `agent` and sends one GET on it; returns the
/// connection and the response head and body read so far (up to 64 KiB).
fn raw_get(agent: &Agent, path: &str) -> (std::net::TcpStream, String) {
    use std::io::{Read, Write};
    let mut conn = std::net::TcpStream::connect((agent.ip.as_str(), 8500)).expect("connect");
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    write!(conn, "GET {path} HTTP/1.1\r\nHost: {}\r\n\r\n", agent.ip).expect("send");
    let mut buf = vec![0u8; 65_536];
    let n = conn.read(&mut buf).unwrap_or(0);
    (conn, String::from_utf8_lossy(&buf[..n]).into_owned())
}

#[test]
fn connections_past_http_max_conns_per_client_get_429() {
    let ip = "127.0.1.9";
    let agent = Agent::dev_with(ip, &["-hcl", "limits { http_max_conns_per_client = 2 }"]);
    agent.wait_ready(READY);
    // Two connections held open, each having been served (polled: the connections
    // `wait_ready` closed count until the agent sees them close).
    let served = || {
        common::wait_for("a served connection", Duration::from_secs(10), || {
            let (conn, head) = raw_get(&agent, "/v1/status/leader");
            head.starts_with("HTTP/1.1 200 OK").then_some(conn)
        })
    };
    let first = served();
    let _second = served();
    // A third from the same IP is refused the way Consul refuses it.
    let (_third, refused) = raw_get(&agent, "/v1/status/leader");
    assert!(
        refused.starts_with("HTTP/1.1 429 Too Many Requests\r\n"),
        "{refused}"
    );
    assert!(refused.contains("too many concurrent connections"), "{refused}");
    // The open connections still work.
    let mut again = first.try_clone().expect("clone");
    {
        use std::io::{Read, Write};
        write!(again, "GET /v1/status/peers HTTP/1.1\r\nHost: {ip}\r\n\r\n").expect("send");
        let mut buf = vec![0u8; 4096];
        let n = again.read(&mut buf).expect("read");
        assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200 OK"));
    }
    // Closing one frees its slot once the agent sees the close.
    drop(again);
    drop(first);
    served();
}
