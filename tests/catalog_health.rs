//! Service discovery and health checking through a dev agent: registration, check
//! runners turning instances healthy and unhealthy, blocking queries on health,
//! config-file services (JSON and HCL) with reload, and anti-entropy repairing the catalog.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::{cli, http, wait_for, Agent};

const READY: Duration = Duration::from_secs(20);
const TRANSITION: Duration = Duration::from_secs(15);

/// A tiny HTTP server answering 200 to everything, stoppable (its port then refuses).
struct Upstream {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Upstream {
    fn start(addr: &str) -> Upstream {
        let listener = TcpListener::bind(addr).expect("bind upstream");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("addr");
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((mut s, _)) => {
                        let _ = s.set_nonblocking(false);
                        let _ = s.set_read_timeout(Some(Duration::from_secs(1)));
                        let mut buf = [0u8; 2048];
                        let _ = s.read(&mut buf);
                        let _ = s.write_all(
                            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
                        );
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        Upstream {
            addr,
            stop,
            thread: Some(thread),
        }
    }

    fn stop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.stop();
    }
}

fn passing_ids(agent: &Agent, service: &str) -> Vec<String> {
    let r = agent.get(&format!("/v1/health/service/{service}?passing"));
    assert_eq!(r.status, 200);
    r.json()
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|e| e["Service"]["ID"].as_str().map(String::from))
        .collect()
}

fn register(agent: &Agent, body: &str) {
    let r = agent.put("/v1/agent/service/register", body.as_bytes());
    assert_eq!(r.status, 200, "{}", r.text());
}

#[test]
fn http_check_follows_the_upstream() {
    let agent = Agent::dev("127.0.4.1");
    agent.wait_ready(READY);
    let mut upstream = Upstream::start("127.0.4.1:0");
    let port = upstream.addr.port();
    register(
        &agent,
        &format!(
            r#"{{"ID":"api-1","Name":"api","Port":{port},"Check":{{"HTTP":"http://{}/health","Interval":"1s","Timeout":"1s"}}}}"#,
            upstream.addr
        ),
    );
    wait_for("api-1 passing", TRANSITION, || {
        (passing_ids(&agent, "api") == ["api-1"]).then_some(())
    });
    let index = agent.get("/v1/health/service/api").index();

    // A blocking query on the service wakes when the check turns critical.
    let url = agent.url(&format!("/v1/health/service/api?index={index}&wait=60s"));
    let watcher = std::thread::spawn(move || http("GET", &url, None));
    upstream.stop();
    let stopped = Instant::now();
    let woke = watcher.join().expect("watcher");
    assert!(woke.index() > index);
    let status = woke.json()[0]["Checks"].as_array().and_then(|c| {
        c.iter()
            .find(|c| c["ServiceID"] == "api-1")
            .map(|c| c["Status"].clone())
    });
    assert_eq!(status, Some(serde_json::json!("critical")), "{}", woke.text());
    assert!(
        stopped.elapsed() < Duration::from_secs(5),
        "critical within interval + timeout"
    );
    assert!(passing_ids(&agent, "api").is_empty());
    assert_eq!(
        agent.len_of("/v1/health/service/api"),
        Some(1),
        "still listed without ?passing"
    );

    let _upstream = Upstream::start(&upstream.addr.to_string());
    wait_for("api-1 passing again", TRANSITION, || {
        (passing_ids(&agent, "api") == ["api-1"]).then_some(())
    });
    let check = agent.get("/v1/agent/checks").json()["service:api-1"].clone();
    assert_eq!(check["Type"], "http");
    assert!(
        check["Output"]
            .as_str()
            .unwrap_or("")
            .starts_with("HTTP GET http://"),
        "{check}"
    );
}

#[test]
fn tcp_and_ttl_checks() {
    let agent = Agent::dev("127.0.4.2");
    agent.wait_ready(READY);
    let mut upstream = Upstream::start("127.0.4.2:0");
    register(
        &agent,
        &format!(
            r#"{{"ID":"db-1","Name":"db","Port":{},"Check":{{"TCP":"{}","Interval":"1s","Timeout":"1s"}}}}"#,
            upstream.addr.port(),
            upstream.addr
        ),
    );
    wait_for("db-1 passing", TRANSITION, || {
        (passing_ids(&agent, "db") == ["db-1"]).then_some(())
    });
    upstream.stop();
    wait_for("db-1 critical", TRANSITION, || {
        passing_ids(&agent, "db").is_empty().then_some(())
    });

    // TTL: starts critical, passes on update, expires back to critical.
    register(
        &agent,
        r#"{"ID":"job-1","Name":"job","Check":{"CheckID":"job-ttl","TTL":"2s"}}"#,
    );
    wait_for("job registered", TRANSITION, || {
        (agent.len_of("/v1/health/service/job") == Some(1)).then_some(())
    });
    assert!(passing_ids(&agent, "job").is_empty(), "TTL checks start critical");
    assert_eq!(
        agent
            .put("/v1/agent/check/pass/job-ttl?note=all%20good", b"")
            .status,
        200
    );
    wait_for("job passing", TRANSITION, || {
        (passing_ids(&agent, "job") == ["job-1"]).then_some(())
    });
    let output = agent.get("/v1/health/checks/job").json()[0]["Output"].clone();
    assert_eq!(output, "all good");
    wait_for("TTL expiry", TRANSITION, || {
        passing_ids(&agent, "job").is_empty().then_some(())
    });
    let output = agent.get("/v1/health/checks/job").json()[0]["Output"].clone();
    assert!(
        output.as_str().unwrap_or("").starts_with("TTL expired"),
        "{output}"
    );
    // A non-TTL check cannot be updated; an unknown one is not found.
    let r = agent.put("/v1/agent/check/pass/service:db-1", b"");
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(agent.put("/v1/agent/check/pass/nosuch", b"").status, 404);
}

#[test]
fn registration_errors_are_400s() {
    let agent = Agent::dev("127.0.4.3");
    agent.wait_ready(READY);
    let cases = [
        (r#"{"Name":"bad","#, "Request decode failed: unexpected EOF"),
        (
            r#"{"Name":"bad","Bogus":1}"#,
            "Request decode failed: json: unknown field \"Bogus\"",
        ),
        (
            r#"{"Name":"bad","Check":{"TTL":"10s","Bogus":true}}"#,
            "Request decode failed: json: unknown field \"Bogus\"",
        ),
        (r#"{"Port":1}"#, "Missing service name"),
        (
            r#"{"Name":"bad","Check":{"Interval":"10s"}}"#,
            "Invalid check: TTL must be > 0 for TTL checks",
        ),
        (
            r#"{"Name":"bad","Check":{"TTL":"abc"}}"#,
            "Request decode failed: time: invalid duration \"abc\"",
        ),
    ];
    for (body, message) in cases {
        let r = agent.put("/v1/agent/service/register", body.as_bytes());
        assert_eq!((r.status, r.text().as_str()), (400, message), "{body}");
    }
    let r = agent.put("/v1/agent/check/register", br#"{"TTL":"10s"}"#);
    assert_eq!(r.status, 400, "a check without a name");
    let r = agent.put(
        "/v1/catalog/register",
        br#"{"Node":"x","Address":"127.0.0.1","Bogus":1}"#,
    );
    assert_eq!(
        (r.status, r.text().as_str()),
        (400, "Request decode failed: json: unknown field \"Bogus\"")
    );
    // Lower-case and snake_case keys are accepted, as Consul's decoder does.
    register(
        &agent,
        r#"{"name":"snake","port":7001,"enable_tag_override":true}"#,
    );
    let services = agent.get("/v1/agent/services").json();
    assert_eq!(services["snake"]["EnableTagOverride"], true);
}

#[test]
fn catalog_endpoints_and_filters() {
    let agent = Agent::dev("127.0.4.4");
    agent.wait_ready(READY);
    let body = br#"{"Node":"ext-1","Address":"127.0.0.250","NodeMeta":{"rack":"r1"},"Service":{"ID":"web-1","Service":"web","Tags":["v1","primary"],"Port":8080},"Check":{"CheckID":"web-check","Name":"web","Status":"passing","ServiceID":"web-1"}}"#;
    assert_eq!(agent.put("/v1/catalog/register", body).text(), "true\n");
    let body = br#"{"Node":"ext-2","Address":"127.0.0.251","Service":{"Service":"web","Tags":["v2"],"Port":8081},"Checks":[{"CheckID":"web-check","Name":"web","Status":"critical","ServiceID":"web"}]}"#;
    assert_eq!(agent.put("/v1/catalog/register", body).text(), "true\n");

    let rows = agent.get("/v1/catalog/service/web");
    assert_eq!(rows.header("x-consul-effective-consistency"), Some("leader"));
    let rows = rows.json();
    assert_eq!(rows.as_array().map(Vec::len), Some(2));
    assert_eq!(rows[1]["ServiceID"], "web", "ID defaults to the name");
    assert_eq!(
        agent.len_of("/v1/catalog/service/web?tag=v1&tag=primary"),
        Some(1)
    );
    assert_eq!(
        agent.get("/v1/catalog/service/web?tag=nope").json(),
        serde_json::json!([])
    );
    assert_eq!(agent.len_of("/v1/catalog/service/web?node-meta=rack:r1"), Some(1));
    assert_eq!(passing_ids(&agent, "web"), ["web-1"]);
    let filtered = agent
        .get("/v1/health/service/web?filter=Service.Port%20%3D%3D%208081")
        .json();
    assert_eq!(filtered.as_array().map(Vec::len), Some(1));
    assert_eq!(filtered[0]["Service"]["ID"], "web");
    let bad = agent.get("/v1/catalog/nodes?filter=bogus%20%3D%3D");
    assert_eq!(bad.status, 400);
    assert!(
        bad.text()
            .starts_with("Failed to create boolean expression evaluator"),
        "{}",
        bad.text()
    );

    // Servers register the consul service (through anti-entropy, right after start).
    let services = wait_for("the consul service", TRANSITION, || {
        let services = agent.get("/v1/catalog/services").json();
        services["consul"].is_array().then_some(services)
    });
    assert_eq!(services["web"].as_array().map(Vec::len), Some(3));
    assert_eq!(agent.get("/v1/catalog/node/nosuch").text(), "null\n");
    assert_eq!(
        agent.get("/v1/catalog/node/ext-1").json()["Services"]["web-1"]["Port"],
        8080
    );
    assert_eq!(agent.get("/v1/health/node/nosuch").json(), serde_json::json!([]));
    assert_eq!(agent.len_of("/v1/health/state/critical"), Some(1));
    assert_eq!(agent.get("/v1/health/state/bogus").json(), serde_json::json!([]));
    assert_eq!(
        agent.get("/v1/catalog/datacenters").json(),
        serde_json::json!(["dc1"])
    );

    let body = br#"{"Node":"ext-2","ServiceID":"web"}"#;
    assert_eq!(agent.put("/v1/catalog/deregister", body).text(), "true\n");
    assert_eq!(agent.len_of("/v1/catalog/service/web"), Some(1));
    assert_eq!(
        agent.put("/v1/catalog/deregister", br#"{"Node":"ext-1"}"#).text(),
        "true\n"
    );
    assert_eq!(agent.get("/v1/catalog/service/web").json(), serde_json::json!([]));
}

#[test]
fn config_file_services_reload_and_anti_entropy() {
    let (agent, conf) = Agent::server_with_config(
        "127.0.4.5",
        "services.json",
        r#"{"service": {"name": "redis", "port": 6379, "tags": ["primary"]}}"#,
    );
    agent.wait_ready(READY);
    let tags = |agent: &Agent| agent.get("/v1/catalog/service/redis").json()[0]["ServiceTags"].clone();
    wait_for("redis from the config file", TRANSITION, || {
        (tags(&agent) == serde_json::json!(["primary"])).then_some(())
    });

    std::fs::write(&conf, r#"{"services": [{"name": "redis", "port": 6380, "tags": ["replica"]}, {"name": "nginx", "port": 80}]}"#)
        .expect("write");
    let addr = format!("-http-addr={}:8500", agent.ip);
    let (code, out, err) = cli(&["reload", &addr], &[]);
    assert_eq!(
        (code, out.as_str()),
        (0, "Configuration reload triggered\n"),
        "{err}"
    );
    wait_for("the edited definition", TRANSITION, || {
        (tags(&agent) == serde_json::json!(["replica"])).then_some(())
    });
    wait_for("nginx", TRANSITION, || {
        (agent.len_of("/v1/catalog/service/nginx") == Some(1)).then_some(())
    });

    // Removed behind the agent's back: anti-entropy puts it back.
    let node = agent.get("/v1/agent/self").json()["Config"]["NodeName"]
        .as_str()
        .map(String::from)
        .expect("node");
    let body = format!(r#"{{"Node":"{node}","ServiceID":"nginx"}}"#);
    assert_eq!(agent.put("/v1/catalog/deregister", body.as_bytes()).status, 200);
    wait_for("anti-entropy to restore nginx", TRANSITION, || {
        (agent.len_of("/v1/catalog/service/nginx") == Some(1)).then_some(())
    });
    assert!(agent.log().contains("agent: Synced service \"nginx\""));
}

/// The whole agent configured from one HCL file: settings, two `service` blocks (one with
/// an embedded HTTP check), then a reload that switches to a `services` list.
#[test]
fn hcl_config_file_settings_services_and_reload() {
    let ip = "127.0.4.7";
    let dir = tempfile::tempdir().expect("tempdir");
    let upstream = Upstream::start(&format!("{ip}:0"));
    let conf = dir.path().join("agent.hcl");
    let settings = format!(
        r#"# rconsul reads this like Consul does
server           = true
bootstrap_expect = 1
bind_addr        = "{ip}"
client_addr      = "{ip}"
data_dir         = "{data}"
node_name        = "hcl-node"
node_meta {{
  rack = "r7"
}}
ports {{
  grpc = -1
}}
"#,
        data = dir.path().join("data").display()
    );
    let services = format!(
        r#"
service {{
  name = "web"
  port = {port}
  tags = ["hcl"]
  check {{
    http     = "http://{addr}/health"
    interval = "1s"
  }}
}}
service {{
  name = "db"
  port = 5432
}}
"#,
        port = upstream.addr.port(),
        addr = upstream.addr
    );
    std::fs::write(&conf, format!("{settings}{services}")).expect("write");
    let agent = Agent::with_args(
        ip,
        vec!["agent".into(), format!("-config-file={}", conf.display())],
    );
    agent.wait_ready(READY);

    let self_cfg = agent.get("/v1/agent/self").json();
    assert_eq!(self_cfg["Config"]["NodeName"], "hcl-node", "{}", agent.log());
    assert_eq!(self_cfg["Config"]["Server"], true);
    let local = agent.get("/v1/agent/services").json();
    assert_eq!(local["web"]["Tags"], serde_json::json!(["hcl"]), "{local}");
    assert_eq!(local["db"]["Port"], 5432, "{local}");
    wait_for("web's HCL check passing", TRANSITION, || {
        (passing_ids(&agent, "web") == ["web"]).then_some(())
    });
    wait_for("db in the catalog", TRANSITION, || {
        (agent.get("/v1/catalog/service/db").json()[0]["ServicePort"] == 5432).then_some(())
    });

    std::fs::write(
        &conf,
        format!("{settings}\nservices = [\n  {{ name = \"cache\", port = 6379 }},\n]\n"),
    )
    .expect("write");
    let addr = format!("-http-addr={ip}:8500");
    let (code, _, err) = cli(&["reload", &addr], &[]);
    assert_eq!(code, 0, "{err}");
    wait_for("cache from the reloaded HCL file", TRANSITION, || {
        let local = agent.get("/v1/agent/services").json();
        (local.get("cache").is_some() && local.get("web").is_none()).then_some(())
    });
}

#[test]
fn maintenance_mode_and_agent_health() {
    let agent = Agent::dev("127.0.4.6");
    agent.wait_ready(READY);
    register(
        &agent,
        r#"{"ID":"w-1","Name":"w","Check":{"CheckID":"w-ttl","TTL":"60s"}}"#,
    );
    agent.put("/v1/agent/check/pass/w-ttl", b"");
    let r = agent.get("/v1/agent/health/service/id/w-1");
    assert_eq!((r.status, r.header("x-consul-reason")), (200, Some("passing")));
    assert_eq!(
        agent.get("/v1/agent/health/service/id/w-1?format=text").text(),
        "passing"
    );
    assert_eq!(
        agent
            .put("/v1/agent/service/maintenance/w-1?enable=true&reason=deploy", b"")
            .status,
        200
    );
    assert_eq!(agent.get("/v1/agent/health/service/name/w").status, 503);
    wait_for("maintenance to hide w-1", TRANSITION, || {
        passing_ids(&agent, "w").is_empty().then_some(())
    });
    let checks = agent.get("/v1/agent/checks").json();
    assert_eq!(checks["_service_maintenance:w-1"]["Notes"], "deploy");
    agent.put("/v1/agent/service/maintenance/w-1?enable=false", b"");
    wait_for("w-1 back", TRANSITION, || {
        (passing_ids(&agent, "w") == ["w-1"]).then_some(())
    });
    assert_eq!(agent.put("/v1/agent/maintenance?enable=true", b"").status, 200);
    wait_for("node maintenance", TRANSITION, || {
        passing_ids(&agent, "w").is_empty().then_some(())
    });
    assert_eq!(agent.get("/v1/agent/health/service/id/nosuch").status, 404);
    assert_eq!(agent.put("/v1/agent/service/deregister/w-1", b"").status, 200);
    assert_eq!(agent.put("/v1/agent/service/deregister/w-1", b"").status, 404);
    let members = agent.get("/v1/agent/members").json();
    assert_eq!(members[0]["Tags"]["role"], "consul");
}

/// Service reads are served from an answer cache between changes: every answer right
/// after an acknowledged write must already show it (no stale cached answer).
#[test]
fn service_reads_reflect_each_write_at_once() {
    let agent = Agent::dev("127.0.4.8");
    agent.wait_ready(READY);
    let count = |path: &str| agent.get(path).json().as_array().map_or(0, Vec::len);
    for i in 0..15 {
        let body = format!(
            r#"{{"Node":"cache-n{i}","Address":"10.0.0.{i}","Service":{{"Service":"cached","ID":"c{i}","Port":80}},
                "Check":{{"CheckID":"c{i}-chk","Name":"c","ServiceID":"c{i}","Status":"passing"}}}}"#
        );
        // Read first so the answer is cached, then change it.
        let before = count("/v1/health/service/cached?passing");
        assert_eq!(before, i, "before registering instance {i}");
        assert_eq!(agent.put("/v1/catalog/register", body.as_bytes()).status, 200);
        assert_eq!(count("/v1/health/service/cached?passing"), i + 1);
        assert_eq!(count("/v1/catalog/service/cached"), i + 1);
    }
    // A check turning critical drops the instance from ?passing at once.
    let critical = r#"{"Node":"cache-n3","Address":"10.0.0.3","SkipNodeUpdate":true,
        "Check":{"CheckID":"c3-chk","Name":"c","ServiceID":"c3","Status":"critical"}}"#;
    assert_eq!(agent.put("/v1/catalog/register", critical.as_bytes()).status, 200);
    assert_eq!(count("/v1/health/service/cached?passing"), 14);
    assert_eq!(count("/v1/health/service/cached"), 15);
    // A node-level change (its address) shows in the service's rows at once.
    let moved = r#"{"Node":"cache-n0","Address":"10.9.9.9"}"#;
    assert_eq!(agent.put("/v1/catalog/register", moved.as_bytes()).status, 200);
    let rows = agent.get("/v1/catalog/service/cached").json();
    assert!(
        rows.as_array()
            .expect("rows")
            .iter()
            .any(|r| r["Node"] == "cache-n0" && r["Address"] == "10.9.9.9"),
        "{rows}"
    );
    let deregister = r#"{"Node":"cache-n1"}"#;
    assert_eq!(
        agent.put("/v1/catalog/deregister", deregister.as_bytes()).status,
        200
    );
    assert_eq!(count("/v1/catalog/service/cached"), 14);
    // Different query strings are different answers.
    assert_eq!(
        count("/v1/health/service/cached?passing&filter=Node.Node%20%3D%3D%20%22cache-n2%22"),
        1
    );
}
