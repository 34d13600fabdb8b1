//! The `rconsul` command line against a running agent, as an operator uses it.

mod common;

use std::time::Duration;

use common::{cli, Agent};

#[test]
fn version_and_usage() {
    let (code, out, _) = cli(&["version"], &[]);
    assert_eq!(code, 0);
    assert!(out.starts_with("Consul v1.10.3\nRevision rconsul-"), "{out}");
    let (code, _, err) = cli(&["bogus-command"], &[]);
    assert_eq!(code, 127);
    assert!(err.contains("Usage: consul"), "{err}");
    let (code, _, err) = cli(&["agent", "-bogus-flag"], &[]);
    assert_eq!(code, 1);
    assert!(
        err.contains("flag provided but not defined: -bogus-flag"),
        "{err}"
    );
}

#[test]
fn kv_commands_round_trip() {
    let agent = Agent::dev("127.0.3.1");
    agent.wait_ready(Duration::from_secs(20));
    let addr = format!("-http-addr={}:8500", agent.ip);
    let env_addr = format!("{}:8500", agent.ip);

    let (code, out, err) = cli(&["kv", "put", &addr, "cfg/a", "one"], &[]);
    assert_eq!(
        (code, out.as_str()),
        (0, "Success! Data written to: cfg/a\n"),
        "{err}"
    );
    // CONSUL_HTTP_ADDR works as with consul.
    let (code, out, _) = cli(
        &["kv", "put", "-flags=42", "cfg/b/c", "two"],
        &[("CONSUL_HTTP_ADDR", &env_addr)],
    );
    assert_eq!((code, out.as_str()), (0, "Success! Data written to: cfg/b/c\n"));

    let (code, out, _) = cli(&["kv", "get", &addr, "cfg/a"], &[]);
    assert_eq!((code, out.as_str()), (0, "one\n"));
    let (code, out, _) = cli(&["kv", "get", &addr, "-recurse", "cfg/"], &[]);
    assert_eq!((code, out.as_str()), (0, "cfg/a:one\ncfg/b/c:two\n"));
    let (code, out, _) = cli(&["kv", "get", &addr, "-keys", "cfg/"], &[]);
    assert_eq!((code, out.as_str()), (0, "cfg/a\ncfg/b/\n"));
    let (code, out, _) = cli(&["kv", "get", &addr, "-detailed", "cfg/b/c"], &[]);
    assert_eq!(code, 0);
    assert!(out.contains("Flags            42\n"), "{out}");
    assert!(out.contains("Session          -\n"), "{out}");

    let (code, _, err) = cli(
        &["kv", "put", &addr, "-cas", "-modify-index=1", "cfg/a", "x"],
        &[],
    );
    assert_eq!(
        (code, err.as_str()),
        (1, "Error! Did not write to cfg/a: CAS failed\n")
    );
    let (code, _, err) = cli(&["kv", "get", &addr, "missing"], &[]);
    assert_eq!((code, err.as_str()), (1, "Error! No key exists at: missing\n"));

    let (code, out, _) = cli(&["kv", "delete", &addr, "cfg/a"], &[]);
    assert_eq!((code, out.as_str()), (0, "Success! Deleted key: cfg/a\n"));
    let (code, _, _) = cli(&["kv", "get", &addr, "cfg/a"], &[]);
    assert_eq!(code, 1);
}

#[test]
fn kv_reports_an_unreachable_agent() {
    let (code, _, err) = cli(&["kv", "get", "-http-addr=127.0.3.2:1", "k"], &[]);
    assert_eq!(code, 1);
    assert!(err.contains("connection refused"), "{err}");
}
