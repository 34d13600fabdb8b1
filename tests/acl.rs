//! ACLs on real agents: default deny, tokens, policies and roles over the HTTP API,
//! filtering, expiry, agent tokens that survive a restart, DNS with the default token,
//! bad input, and a 3-server cluster that keeps its ACLs across kill -9 of the leader.
//! Addresses: 127.0.30.x and 127.0.31.x.

mod common;

use std::time::Duration;

use common::{http_with, wait_for, Agent, Resp};
use serde_json::{json, Value};

/// The initial management token every test configures.
const ROOT: &str = "3c1e7f0a-5b4d-4e2a-9f61-0d2c8b7a6e51";
const READY: Duration = Duration::from_secs(30);

fn acl_config(extra: &str) -> String {
    format!(
        r#"acl {{
  enabled = true
  default_policy = "deny"
  enable_token_persistence = true
  token_min_expiration_ttl = "1s"
  tokens {{
    initial_management = "{ROOT}"
  }}
  {extra}
}}"#
    )
}

/// A request with `token` in `X-Consul-Token` (none when empty).
fn call(agent: &Agent, method: &str, path: &str, body: Option<&str>, token: &str) -> Resp {
    let headers: Vec<(&str, &str)> = if token.is_empty() {
        vec![]
    } else {
        vec![("X-Consul-Token", token)]
    };
    http_with(method, &agent.url(path), body.map(str::as_bytes), &headers)
}

/// Waits until the leader has created the built-ins and the management token works.
fn wait_acl_ready(agent: &Agent) {
    agent.wait_ready(READY);
    wait_for("the initial management token", READY, || {
        let r = call(agent, "GET", "/v1/acl/token/self", None, ROOT);
        (r.status == 200).then_some(())
    });
}

/// Creates a policy and a token holding it; returns the token's (AccessorID, SecretID).
fn token_with_rules(agent: &Agent, name: &str, rules: &str) -> (String, String) {
    let p = call(
        agent,
        "PUT",
        "/v1/acl/policy",
        Some(&json!({"Name": name, "Rules": rules}).to_string()),
        ROOT,
    );
    assert_eq!(p.status, 200, "{}", p.text());
    let t = call(
        agent,
        "PUT",
        "/v1/acl/token",
        Some(&json!({"Description": name, "Policies": [{"Name": name}]}).to_string()),
        ROOT,
    );
    assert_eq!(t.status, 200, "{}", t.text());
    let t = t.json();
    (
        t["AccessorID"].as_str().unwrap_or_default().to_string(),
        t["SecretID"].as_str().unwrap_or_default().to_string(),
    )
}

fn register(agent: &Agent, node: &str, service: &str) {
    let body = json!({
        "Node": node, "Address": "10.1.2.3",
        "Service": {"Service": service, "Port": 80}
    });
    let r = call(
        agent,
        "PUT",
        "/v1/catalog/register",
        Some(&body.to_string()),
        ROOT,
    );
    assert_eq!(r.status, 200, "{}", r.text());
}

#[test]
fn default_deny_tokens_policies_and_filtering() {
    let (agent, _conf) = Agent::server_with_config("127.0.30.1", "acl.hcl", &acl_config(""));
    wait_acl_ready(&agent);

    // Anonymous: denied with Consul's text, and the header says deny.
    let r = call(&agent, "GET", "/v1/kv/app/x", None, "");
    assert_eq!(r.status, 403);
    assert!(
        r.text()
            .starts_with("Permission denied: anonymous token lacks permission 'key:read' on \"app/x\""),
        "{}",
        r.text()
    );
    assert_eq!(r.header("x-consul-default-acl-policy"), Some("deny"));
    // An unknown token is not anonymous.
    let r = call(
        &agent,
        "GET",
        "/v1/kv/app/x",
        None,
        "6a0b1c2d-0000-4000-8000-00000000beef",
    );
    assert_eq!((r.status, r.text().as_str()), (403, "ACL not found"));
    // Management writes and reads.
    assert_eq!(
        call(&agent, "PUT", "/v1/kv/app/x", Some("v"), ROOT).text(),
        "true"
    );
    assert_eq!(
        call(&agent, "PUT", "/v1/kv/other/x", Some("w"), ROOT).text(),
        "true"
    );
    assert_eq!(call(&agent, "GET", "/v1/kv/app/x", None, ROOT).status, 200);

    // key_prefix "app/" read: reads app/, nothing else, writes nothing.
    let (accessor, app) = token_with_rules(&agent, "app-read", r#"key_prefix "app/" { policy = "read" }"#);
    assert_eq!(call(&agent, "GET", "/v1/kv/app/x?raw", None, &app).text(), "v");
    let r = call(&agent, "GET", "/v1/kv/other/x", None, &app);
    assert_eq!(r.status, 403);
    assert_eq!(
        r.text(),
        format!("Permission denied: token with AccessorID '{accessor}' lacks permission 'key:read' on \"other/x\"")
    );
    assert_eq!(call(&agent, "PUT", "/v1/kv/app/x", Some("no"), &app).status, 403);
    assert_eq!(call(&agent, "DELETE", "/v1/kv/app/x", None, &app).status, 403);
    // ?recurse from the root lists only what it may read, and says it filtered.
    let r = call(&agent, "GET", "/v1/kv/?recurse", None, &app);
    assert_eq!(r.status, 200);
    let keys: Vec<&str> = r
        .json()
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["Key"].as_str())
        .map(|_| "")
        .collect();
    assert_eq!(keys.len(), 1);
    assert_eq!(r.json()[0]["Key"], "app/x");
    assert_eq!(r.header("x-consul-results-filtered-by-acls"), Some("true"));
    // The token in ?token= and as a bearer works the same.
    assert_eq!(
        http_with("GET", &agent.url(&format!("/v1/kv/app/x?token={app}")), None, &[]).status,
        200
    );
    let bearer = format!("Bearer {app}");
    assert_eq!(
        http_with(
            "GET",
            &agent.url("/v1/kv/app/x"),
            None,
            &[("Authorization", &bearer)]
        )
        .status,
        200
    );

    // service_prefix "web" read sees only web* in the catalog, with the header.
    register(&agent, "n1", "web");
    register(&agent, "n1", "web-admin");
    register(&agent, "n2", "db");
    let (_, web) = token_with_rules(
        &agent,
        "web-read",
        r#"service_prefix "web" { policy = "read" }
           node_prefix "" { policy = "read" }"#,
    );
    let r = call(&agent, "GET", "/v1/catalog/services", None, &web);
    assert_eq!(r.status, 200);
    let names: Vec<String> = r.json().as_object().unwrap().keys().cloned().collect();
    assert_eq!(names, ["web", "web-admin"]);
    assert_eq!(r.header("x-consul-results-filtered-by-acls"), Some("true"));
    let all = call(&agent, "GET", "/v1/catalog/services", None, ROOT);
    assert!(all.json().get("db").is_some());
    assert_eq!(all.header("x-consul-results-filtered-by-acls"), None);
    assert_eq!(
        call(&agent, "GET", "/v1/health/service/db", None, &web).json(),
        json!([])
    );
    assert_eq!(
        call(&agent, "GET", "/v1/health/service/web", None, &web)
            .json()
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    // Writing a service needs service:write.
    let reg = json!({"Name": "web", "Port": 1}).to_string();
    assert_eq!(
        call(&agent, "PUT", "/v1/agent/service/register", Some(&reg), &web).status,
        403
    );

    // Bootstrap: the initial management token consumed it.
    let b = call(&agent, "PUT", "/v1/acl/bootstrap", None, "");
    assert_eq!(b.status, 403);
    assert!(
        b.text()
            .starts_with("Permission denied: ACL bootstrap no longer allowed (reset index: "),
        "{}",
        b.text()
    );

    // Clone, update, delete.
    let c = call(
        &agent,
        "PUT",
        &format!("/v1/acl/token/{accessor}/clone"),
        Some(r#"{"Description": "copy"}"#),
        ROOT,
    );
    assert_eq!(c.status, 200, "{}", c.text());
    let copy = c.json();
    assert_eq!(copy["Description"], "copy");
    assert_eq!(copy["Policies"][0]["Name"], "app-read");
    let copy_secret = copy["SecretID"].as_str().unwrap().to_string();
    let copy_id = copy["AccessorID"].as_str().unwrap().to_string();
    assert_eq!(
        call(&agent, "GET", "/v1/kv/app/x", None, &copy_secret).status,
        200
    );
    let u = call(
        &agent,
        "PUT",
        &format!("/v1/acl/token/{copy_id}"),
        Some(r#"{"Description": "now web", "Policies": [{"Name": "web-read"}]}"#),
        ROOT,
    );
    assert_eq!(u.status, 200, "{}", u.text());
    assert_eq!(
        call(&agent, "GET", "/v1/kv/app/x", None, &copy_secret).status,
        403,
        "update takes effect at once"
    );
    assert_eq!(
        call(&agent, "DELETE", &format!("/v1/acl/token/{copy_id}"), None, ROOT).text(),
        "true"
    );
    let r = call(&agent, "GET", "/v1/catalog/services", None, &copy_secret);
    assert_eq!((r.status, r.text().as_str()), (403, "ACL not found"));
    assert_eq!(
        call(&agent, "GET", &format!("/v1/acl/token/{copy_id}"), None, ROOT).status,
        404
    );

    let rep = call(&agent, "GET", "/v1/acl/replication", None, ROOT).json();
    assert_eq!(
        (rep["Enabled"].clone(), rep["SourceDatacenter"].clone()),
        (json!(false), json!(""))
    );
    // A non-management token cannot manage ACLs.
    assert_eq!(call(&agent, "GET", "/v1/acl/tokens", None, &app).status, 403);
    assert_eq!(
        call(&agent, "GET", "/v1/acl/token/self", None, &app).json()["AccessorID"],
        accessor.as_str()
    );
}

#[test]
fn bad_input_gets_consuls_errors_and_changes_nothing() {
    let (agent, _conf) = Agent::server_with_config("127.0.30.4", "acl.hcl", &acl_config(""));
    wait_acl_ready(&agent);
    let policies = || {
        call(&agent, "GET", "/v1/acl/policies", None, ROOT)
            .json()
            .as_array()
            .map(Vec::len)
    };
    let tokens = || {
        call(&agent, "GET", "/v1/acl/tokens", None, ROOT)
            .json()
            .as_array()
            .map(Vec::len)
    };
    let (p0, t0) = (policies(), tokens());

    let put = |path: &str, body: &str| call(&agent, "PUT", path, Some(body), ROOT);
    let r = put(
        "/v1/acl/policy",
        r#"{"Name": "broken", "Rules": "key_prefix \"a\" {\n policy = \n"}"#,
    );
    assert_eq!(r.status, 400);
    assert!(
        r.text().contains("Failed to parse ACL rules") && r.text().contains("line"),
        "{}",
        r.text()
    );
    let r = put(
        "/v1/acl/policy",
        r#"{"Name": "bad", "Rules": "key \"a\" { policy = \"reed\" }"}"#,
    );
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(
        put("/v1/acl/policy", r#"{"Name": "dup", "Rules": ""}"#).status,
        200
    );
    let r = put("/v1/acl/policy", r#"{"Name": "dup", "Rules": ""}"#);
    assert_eq!(
        (r.status, r.text().as_str()),
        (400, "Invalid Policy: A Policy with Name \"dup\" already exists")
    );
    let r = put("/v1/acl/policy", r#"{"Name": "has space"}"#);
    assert_eq!(r.status, 400);
    let r = put("/v1/acl/token", r#"{"SecretID": "not-a-uuid"}"#);
    assert_eq!(
        (r.status, r.text().as_str()),
        (400, "Invalid Token: SecretID is not a valid UUID")
    );
    let r = put("/v1/acl/token", r#"{"Policies": [{"Name": "no-such-policy"}]}"#);
    assert_eq!(
        (r.status, r.text().as_str()),
        (400, "No such ACL policy with name \"no-such-policy\"")
    );
    let r = put("/v1/acl/token", r#"{"Bogus": 1}"#);
    assert_eq!(
        (r.status, r.text().as_str()),
        (400, "Token decoding failed: json: unknown field \"Bogus\"")
    );
    let huge = format!(r#"{{"Description": "{}"}}"#, "x".repeat(2 << 20));
    assert_eq!(put("/v1/acl/token", &huge).status, 413);
    let r = call(
        &agent,
        "DELETE",
        "/v1/acl/token/00000000-0000-0000-0000-000000000002",
        None,
        ROOT,
    );
    assert_eq!(
        (r.status, r.text().as_str()),
        (400, "Delete operation not permitted on the anonymous token")
    );
    let r = call(
        &agent,
        "DELETE",
        "/v1/acl/policy/00000000-0000-0000-0000-000000000001",
        None,
        ROOT,
    );
    assert_eq!(r.status, 400);
    assert!(r.text().contains("global-management"), "{}", r.text());
    let r = put(
        "/v1/acl/policy/00000000-0000-0000-0000-000000000001",
        r#"{"Rules": "key \"\" { policy = \"read\" }"}"#,
    );
    assert_eq!(r.status, 400, "{}", r.text());

    // Only the one good policy was written; the built-ins are intact.
    assert_eq!(policies(), p0.map(|n| n + 1));
    assert_eq!(tokens(), t0);
    assert_eq!(call(&agent, "GET", "/v1/acl/token/self", None, ROOT).status, 200);
    let mgmt = call(
        &agent,
        "GET",
        "/v1/acl/policy/00000000-0000-0000-0000-000000000001",
        None,
        ROOT,
    )
    .json();
    assert_eq!(mgmt["Name"], "global-management");
}

#[test]
fn expired_tokens_are_refused_and_reaped() {
    let (agent, _conf) = Agent::server_with_config(
        "127.0.30.2",
        "acl.hcl",
        &acl_config("enable_key_list_policy = true"),
    );
    wait_acl_ready(&agent);
    // With enable_key_list_policy, listing needs `list` on the prefix; `read` is not enough.
    call(&agent, "PUT", "/v1/kv/app/a", Some("1"), ROOT);
    let (_, reader) = token_with_rules(&agent, "reader", r#"key_prefix "app/" { policy = "read" }"#);
    let (_, lister) = token_with_rules(&agent, "lister", r#"key_prefix "app/" { policy = "list" }"#);
    assert_eq!(call(&agent, "GET", "/v1/kv/app/a", None, &reader).status, 200);
    let r = call(&agent, "GET", "/v1/kv/app/?recurse", None, &reader);
    assert_eq!(r.status, 403);
    assert!(
        r.text().contains("lacks permission 'key:list' on \"app/\""),
        "{}",
        r.text()
    );
    assert_eq!(
        call(&agent, "GET", "/v1/kv/app/?keys", None, &lister).json(),
        json!(["app/a"])
    );
    assert_eq!(
        call(&agent, "PUT", "/v1/kv/app/b", Some("2"), &lister).status,
        403
    );
    call(
        &agent,
        "PUT",
        "/v1/acl/policy",
        Some(r#"{"Name": "kv", "Rules": "key_prefix \"\" { policy = \"read\" }"}"#),
        ROOT,
    );
    let r = call(
        &agent,
        "PUT",
        "/v1/acl/token",
        Some(r#"{"Policies": [{"Name": "kv"}], "ExpirationTTL": "2s"}"#),
        ROOT,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let t = r.json();
    assert_eq!(t["ExpirationTTL"], "2s");
    assert!(t["ExpirationTime"].is_string());
    let secret = t["SecretID"].as_str().unwrap().to_string();
    let accessor = t["AccessorID"].as_str().unwrap().to_string();
    assert_eq!(
        call(&agent, "GET", "/v1/kv/x", None, &secret).status,
        404,
        "allowed, key absent"
    );
    wait_for("the token to expire", Duration::from_secs(10), || {
        let r = call(&agent, "GET", "/v1/kv/x", None, &secret);
        (r.status == 403 && r.text() == "ACL not found").then_some(())
    });
    wait_for("the leader to reap it", Duration::from_secs(10), || {
        let list = call(&agent, "GET", "/v1/acl/tokens", None, ROOT).json();
        let gone = !list
            .as_array()?
            .iter()
            .any(|t| t["AccessorID"] == accessor.as_str());
        let read = call(&agent, "GET", &format!("/v1/acl/token/{accessor}"), None, ROOT);
        (gone && read.status == 404).then_some(())
    });
    // Out of bounds TTLs are refused.
    let r = call(
        &agent,
        "PUT",
        "/v1/acl/token",
        Some(r#"{"ExpirationTTL": "100h"}"#),
        ROOT,
    );
    assert_eq!(r.status, 400);
    assert!(r.text().contains("should be between"), "{}", r.text());
}

/// A DNS A query for `name` on `ip`:8600; the response code and answer count.
fn dns_a(ip: &str, name: &str) -> (rconsul_dns::proto::op::ResponseCode, usize) {
    use rconsul_dns::proto::op::{Message, Query};
    use rconsul_dns::proto::rr::{Name, RecordType};
    let mut msg = Message::query();
    msg.metadata.id = 4242;
    msg.metadata.recursion_desired = true;
    let qname = Name::from_ascii(name).expect("name");
    msg.queries.push(Query::query(qname, RecordType::A));
    let sock = std::net::UdpSocket::bind((ip, 0)).expect("bind");
    sock.set_read_timeout(Some(Duration::from_secs(2)))
        .expect("timeout");
    let packet = msg.to_vec().expect("encode");
    for _ in 0..5 {
        sock.send_to(&packet, (ip, 8600)).expect("send");
        let mut buf = vec![0u8; 4096];
        if let Ok(n) = sock.recv(&mut buf) {
            let reply = Message::from_vec(&buf[..n]).expect("decode");
            return (reply.metadata.response_code, reply.answers.len());
        }
    }
    panic!("no DNS answer from {ip}");
}

#[test]
fn agent_tokens_persist_and_dns_answers_with_the_default_token() {
    let (mut agent, _conf) = Agent::server_with_config("127.0.30.3", "acl.hcl", &acl_config(""));
    wait_acl_ready(&agent);
    register(&agent, "n1", "web");
    register(&agent, "n1", "db");
    use rconsul_dns::proto::op::ResponseCode;
    // Anonymous under default deny: DNS knows nothing.
    wait_for("DNS up", READY, || {
        (dns_a("127.0.30.3", "db.service.consul.").0 == ResponseCode::NXDomain).then_some(())
    });
    assert_eq!(
        dns_a("127.0.30.3", "web.service.consul.").0,
        ResponseCode::NXDomain
    );
    // A default token that reads web (and nodes) and the KV store.
    let (_, default) = token_with_rules(
        &agent,
        "dns",
        r#"service "web" { policy = "read" }
           node_prefix "" { policy = "read" }
           key_prefix "" { policy = "read" }"#,
    );
    // Set through the CLI, as an operator would.
    let addr = "127.0.30.3:8500";
    let env = [("CONSUL_HTTP_ADDR", addr), ("CONSUL_HTTP_TOKEN", ROOT)];
    let (code, out, err) = common::cli(&["acl", "set-agent-token", "default", &default], &env);
    assert_eq!(
        (code, out.trim()),
        (0, "ACL token \"default\" set successfully"),
        "{err}"
    );
    let body = json!({"Token": default}).to_string();
    assert_eq!(
        dns_a("127.0.30.3", "web.service.consul."),
        (ResponseCode::NoError, 1)
    );
    assert_eq!(
        dns_a("127.0.30.3", "db.service.consul.").0,
        ResponseCode::NXDomain,
        "db stays hidden"
    );
    assert_eq!(
        call(&agent, "GET", "/v1/kv/anything", None, "").status,
        404,
        "no token: the default token"
    );
    // Setting an agent token needs acl:write.
    assert_eq!(
        call(&agent, "PUT", "/v1/agent/token/default", Some(&body), &default).status,
        403
    );

    // kill -9 and restart on the same data dir: the token came from acl-tokens.json.
    agent.kill9();
    agent.start();
    wait_acl_ready(&agent);
    assert_eq!(call(&agent, "GET", "/v1/kv/anything", None, "").status, 404);
    assert_eq!(
        dns_a("127.0.30.3", "web.service.consul."),
        (ResponseCode::NoError, 1)
    );
}

#[test]
fn acl_endpoints_answer_401_without_acls() {
    let agent = Agent::dev("127.0.30.5");
    agent.wait_ready(READY);
    for path in [
        "/v1/acl/tokens",
        "/v1/acl/policies",
        "/v1/acl/token/self",
        "/v1/acl/replication",
    ] {
        let r = agent.get(path);
        assert_eq!(
            (r.status, r.text().as_str()),
            (401, "ACL support disabled"),
            "{path}"
        );
    }
    assert_eq!(agent.put("/v1/acl/bootstrap", b"").status, 401);
    // Tokens are ignored and everything is allowed; the header says allow.
    let r = http_with(
        "PUT",
        &agent.url("/v1/kv/a"),
        Some(b"1"),
        &[("X-Consul-Token", "whatever")],
    );
    assert_eq!(
        (r.status, r.header("x-consul-default-acl-policy")),
        (200, Some("allow"))
    );
}

#[test]
fn a_cluster_keeps_its_acls_across_kill_9_of_the_leader() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ips = ["127.0.31.1", "127.0.31.2", "127.0.31.3"];
    let hcl = acl_config("");
    let mut agents: Vec<Agent> = ips
        .iter()
        .enumerate()
        .map(|(i, ip)| {
            Agent::with_args(
                ip,
                vec![
                    "agent".into(),
                    "-server".into(),
                    "-bootstrap-expect=3".into(),
                    format!("-bind={ip}"),
                    format!("-client={ip}"),
                    format!("-node=s{i}"),
                    format!("-data-dir={}", dir.path().join(format!("s{i}")).display()),
                    format!("-retry-join={}", ips[0]),
                    "-hcl".into(),
                    hcl.clone(),
                ],
            )
        })
        .collect();
    for a in &agents {
        wait_acl_ready(a);
    }
    let (_, app) = token_with_rules(&agents[0], "app", r#"key_prefix "app/" { policy = "write" }"#);
    // Every server resolves the token from its own replica, once it is replicated there.
    for a in &agents {
        wait_for("the token on every server", READY, || {
            (call(a, "GET", "/v1/acl/token/self", None, &app).status == 200).then_some(())
        });
    }
    assert_eq!(
        call(&agents[1], "PUT", "/v1/kv/app/k", Some("1"), &app).text(),
        "true"
    );
    for a in &agents {
        wait_for("the token replicated", READY, || {
            (call(a, "GET", "/v1/kv/app/k", None, &app).status == 200).then_some(())
        });
    }
    let leader = agents[0]
        .get("/v1/status/leader")
        .json()
        .as_str()
        .unwrap_or_default()
        .to_string();
    let li = ips
        .iter()
        .position(|ip| leader.starts_with(&format!("{ip}:")))
        .expect("leader is one of ours");
    agents[li].kill9();
    let other = (li + 1) % 3;
    wait_for("a new leader", READY, || {
        let l = agents[other].get("/v1/status/leader").json();
        let l = l.as_str()?;
        (!l.is_empty() && !l.starts_with(&format!("{}:", ips[li]))).then_some(())
    });
    assert_eq!(
        call(&agents[other], "PUT", "/v1/kv/app/k2", Some("2"), &app).text(),
        "true"
    );
    assert_eq!(
        call(&agents[other], "PUT", "/v1/kv/other", Some("2"), &app).status,
        403
    );
    agents[li].start();
    wait_acl_ready(&agents[li]);
    wait_for("the restarted server to catch up", READY, || {
        (call(&agents[li], "GET", "/v1/kv/app/k2?raw", None, &app).text() == "2").then_some(())
    });
    let _: Value = call(&agents[li], "GET", "/v1/acl/policies", None, ROOT).json();
}

/// A JWT signed with the test RSA key, with `claims` plus issuer, audience and times.
fn jwt(claims: Value) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut body =
        json!({"iss": "test-issuer", "aud": "rconsul", "iat": now, "nbf": now - 5, "exp": now + 300});
    if let (Some(b), Some(c)) = (body.as_object_mut(), claims.as_object()) {
        b.extend(c.clone());
    }
    let key =
        jsonwebtoken::EncodingKey::from_rsa_pem(include_bytes!("../http-api/src/login/testdata/rsa1.key"))
            .expect("test key");
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256),
        &body,
        &key,
    )
    .expect("sign")
}

#[test]
fn a_jwt_login_mints_a_token_from_the_binding_rules() {
    let (agent, _conf) = Agent::server_with_config("127.0.30.6", "acl.hcl", &acl_config(""));
    wait_acl_ready(&agent);
    call(&agent, "PUT", "/v1/kv/app/x", Some("v"), ROOT);
    token_with_rules(&agent, "app-read", r#"key_prefix "app/" { policy = "read" }"#);
    let method = json!({
        "Name": "jwt", "Type": "jwt",
        "Config": {
            "JWTValidationPubKeys": [include_str!("../http-api/src/login/testdata/rsa1.pub")],
            "BoundIssuer": "test-issuer",
            "BoundAudiences": ["rconsul"],
            "ClaimMappings": {"role": "role"}
        }
    });
    let r = call(
        &agent,
        "PUT",
        "/v1/acl/auth-method",
        Some(&method.to_string()),
        ROOT,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let rule = json!({"AuthMethod": "jwt", "Selector": "value.role==admin", "BindType": "policy", "BindName": "app-read"});
    let r = call(
        &agent,
        "PUT",
        "/v1/acl/binding-rule",
        Some(&rule.to_string()),
        ROOT,
    );
    assert_eq!(r.status, 200, "{}", r.text());

    let login = |claims: Value| {
        let body = json!({"AuthMethod": "jwt", "BearerToken": jwt(claims)}).to_string();
        http_with("POST", &agent.url("/v1/acl/login"), Some(body.as_bytes()), &[])
    };
    let r = login(json!({"role": "admin"}));
    assert_eq!(r.status, 200, "{}", r.text());
    let t = r.json();
    assert_eq!(t["AuthMethod"], "jwt");
    assert_eq!(t["Policies"][0]["Name"], "app-read");
    let secret = t["SecretID"].as_str().unwrap().to_string();
    assert_eq!(call(&agent, "GET", "/v1/kv/app/x?raw", None, &secret).text(), "v");
    assert_eq!(
        call(&agent, "GET", "/v1/acl/tokens?authmethod=jwt", None, ROOT)
            .json()
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    // No rule matches a guest; a token signed by another key is refused.
    assert_eq!(login(json!({"role": "guest"})).status, 403);
    let wrong = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256),
        &json!({"role": "admin", "iss": "test-issuer", "aud": "rconsul", "exp": 4_000_000_000u64}),
        &jsonwebtoken::EncodingKey::from_rsa_pem(include_bytes!("../http-api/src/login/testdata/rsa2.key"))
            .expect("key"),
    )
    .expect("sign");
    let body = json!({"AuthMethod": "jwt", "BearerToken": wrong}).to_string();
    assert_eq!(
        http_with("POST", &agent.url("/v1/acl/login"), Some(body.as_bytes()), &[]).status,
        403
    );
    // Logout deletes it; the management token cannot log out.
    let r = http_with(
        "POST",
        &agent.url("/v1/acl/logout"),
        None,
        &[("X-Consul-Token", &secret)],
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(call(&agent, "GET", "/v1/kv/app/x", None, &secret).status, 403);
    assert_eq!(
        http_with(
            "POST",
            &agent.url("/v1/acl/logout"),
            None,
            &[("X-Consul-Token", ROOT)]
        )
        .status,
        403
    );
}

#[test]
fn a_blocking_query_re_checks_the_token_when_it_wakes() {
    let (agent, _conf) = Agent::server_with_config("127.0.30.7", "acl.hcl", &acl_config(""));
    wait_acl_ready(&agent);
    register(&agent, "n1", "web");
    let (accessor, web) = token_with_rules(
        &agent,
        "web",
        r#"service_prefix "" { policy = "read" }
           node_prefix "" { policy = "read" }"#,
    );
    let first = call(&agent, "GET", "/v1/catalog/services", None, &web);
    assert!(first.json().get("web").is_some());
    let index = first.index();
    let url = agent.url(&format!("/v1/catalog/services?index={index}&wait=20s"));
    let secret = web.clone();
    let waiter = std::thread::spawn(move || http_with("GET", &url, None, &[("X-Consul-Token", &secret)]));
    // While it waits, the token loses its policy; then the catalog changes and wakes it.
    let update = json!({"Description": "nothing now", "Policies": []}).to_string();
    assert_eq!(
        call(
            &agent,
            "PUT",
            &format!("/v1/acl/token/{accessor}"),
            Some(&update),
            ROOT
        )
        .status,
        200
    );
    register(&agent, "n1", "db");
    let woke = waiter.join().expect("waiter");
    assert_eq!(woke.status, 200);
    assert_eq!(
        woke.json(),
        json!({}),
        "the wake answered with the token's new rights"
    );
    assert_eq!(woke.header("x-consul-results-filtered-by-acls"), Some("true"));
}

#[test]
fn roles_identities_and_templated_policies_grant_what_consul_says() {
    let (agent, _conf) = Agent::server_with_config("127.0.30.8", "acl.hcl", &acl_config(""));
    wait_acl_ready(&agent);
    let put = |path: &str, body: Value| {
        let r = call(&agent, "PUT", path, Some(&body.to_string()), ROOT);
        assert_eq!(r.status, 200, "{path}: {}", r.text());
        r.json()
    };
    let secret = |t: &Value| t["SecretID"].as_str().unwrap_or_default().to_string();
    let register_service = |token: &str, name: &str| {
        let body = json!({"Name": name, "Port": 80}).to_string();
        call(&agent, "PUT", "/v1/agent/service/register", Some(&body), token).status
    };

    // A role carrying a policy, given to a token.
    put(
        "/v1/acl/policy",
        json!({"Name": "cfg", "Rules": "key_prefix \"cfg/\" { policy = \"write\" }"}),
    );
    let role = put(
        "/v1/acl/role",
        json!({"Name": "configurer", "Policies": [{"Name": "cfg"}]}),
    );
    assert_eq!(role["Policies"][0]["Name"], "cfg");
    let by_role = secret(&put("/v1/acl/token", json!({"Roles": [{"Name": "configurer"}]})));
    assert_eq!(
        call(&agent, "PUT", "/v1/kv/cfg/a", Some("1"), &by_role).text(),
        "true"
    );
    assert_eq!(
        call(&agent, "PUT", "/v1/kv/other", Some("1"), &by_role).status,
        403
    );
    let by_name = call(&agent, "GET", "/v1/acl/role/name/configurer", None, ROOT).json();
    assert_eq!(by_name["ID"], role["ID"]);
    assert_eq!(
        call(&agent, "GET", "/v1/acl/roles", None, ROOT)
            .json()
            .as_array()
            .map(Vec::len),
        Some(1)
    );

    // A service identity writes its service (and sidecar) and reads the rest.
    let web = secret(&put(
        "/v1/acl/token",
        json!({"ServiceIdentities": [{"ServiceName": "web"}]}),
    ));
    assert_eq!(register_service(&web, "web"), 200);
    assert_eq!(register_service(&web, "web-sidecar-proxy"), 200);
    assert_eq!(register_service(&web, "db"), 403);
    assert_eq!(
        call(&agent, "GET", "/v1/catalog/services", None, &web).status,
        200
    );

    // A templated policy does the same through builtin/service.
    let templated = put(
        "/v1/acl/token",
        json!({"TemplatedPolicies": [{"TemplateName": "builtin/service", "TemplateVariables": {"Name": "api"}}]}),
    );
    assert_eq!(
        templated["TemplatedPolicies"][0]["TemplateVariables"]["Name"],
        "api"
    );
    assert_eq!(register_service(&secret(&templated), "api"), 200);
    assert_eq!(register_service(&secret(&templated), "web"), 403);
    let list = call(&agent, "GET", "/v1/acl/templated-policies", None, ROOT).json();
    assert!(
        list.get("builtin/service").is_some() && list.get("builtin/dns").is_some(),
        "{list}"
    );
    let one = call(
        &agent,
        "GET",
        "/v1/acl/templated-policy/name/builtin/node",
        None,
        ROOT,
    )
    .json();
    assert_eq!(one["TemplateName"], "builtin/node");
    let preview = http_with(
        "POST",
        &agent.url("/v1/acl/templated-policy/preview/builtin/service"),
        Some(br#"{"Name": "api"}"#),
        &[("X-Consul-Token", ROOT)],
    );
    assert_eq!(preview.status, 200, "{}", preview.text());
    assert!(preview.json()["Rules"]
        .as_str()
        .unwrap_or_default()
        .contains("service \"api\""));
    let r = put_raw(
        &agent,
        "/v1/acl/token",
        r#"{"TemplatedPolicies": [{"TemplateName": "builtin/service"}]}"#,
    );
    assert_eq!(r.status, 400, "a template's missing variable: {}", r.text());

    // A node identity writes its node in this datacenter only.
    let node = secret(&put(
        "/v1/acl/token",
        json!({"NodeIdentities": [{"NodeName": "edge-1", "Datacenter": "dc1"}]}),
    ));
    let reg = |n: &str| {
        let body = json!({"Node": n, "Address": "10.0.0.9"}).to_string();
        call(&agent, "PUT", "/v1/catalog/register", Some(&body), &node).status
    };
    assert_eq!((reg("edge-1"), reg("edge-2")), (200, 403));
}

fn put_raw(agent: &Agent, path: &str, body: &str) -> Resp {
    call(agent, "PUT", path, Some(body), ROOT)
}
