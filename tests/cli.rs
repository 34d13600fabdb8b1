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

/// Writes `text` to `dir/name` and returns the path.
fn write_file(dir: &std::path::Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write");
    p.display().to_string()
}

#[test]
fn validate_passes_a_valid_directory_and_quiet_says_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_file(
        dir.path(),
        "a.hcl",
        "data_dir = \"/tmp/x\"\nserver = true\nbootstrap_expect = 3\n",
    );
    write_file(
        dir.path(),
        "b.json",
        r#"{"service": {"name": "web", "port": 80, "check": {"ttl": "10s"}}}"#,
    );
    let d = dir.path().display().to_string();
    let (code, out, err) = cli(&["validate", &d], &[]);
    assert_eq!(
        (code, out.as_str(), err.as_str()),
        (0, "Configuration is valid!\n", "")
    );
    let (code, out, _) = cli(&["validate", "-quiet", &d], &[]);
    assert_eq!((code, out.as_str()), (0, ""));
}

#[test]
fn validate_reports_problems_like_consul() {
    let dir = tempfile::tempdir().expect("tempdir");
    let unknown = write_file(dir.path(), "u.json", r#"{"data_dir": "/tmp/x", "nodename": "n"}"#);
    let (code, _, err) = cli(&["validate", &unknown], &[]);
    assert_eq!(code, 1);
    assert!(
        err.starts_with("Config validation failed: ") && err.contains("nodename"),
        "{err}"
    );
    let no_dir = write_file(dir.path(), "n.json", r#"{"server": true}"#);
    let (_, _, err) = cli(&["validate", &no_dir], &[]);
    assert!(err.contains("data_dir cannot be empty"), "{err}");
    let bad_service = write_file(
        dir.path(),
        "s.json",
        r#"{"data_dir": "/tmp/x", "service": {"port": 1}}"#,
    );
    let (code, _, err) = cli(&["validate", &bad_service], &[]);
    assert_eq!(code, 1);
    assert!(err.contains("s.json"), "{err}");
    let (code, _, err) = cli(&["validate"], &[]);
    assert_eq!(
        (code, err.as_str()),
        (1, "Must specify at least one config file or directory\n")
    );
    let (_, _, err) = cli(&["validate", "-config-format=yaml", &no_dir], &[]);
    assert_eq!(err, "-config-format must be either 'hcl' or 'json\n");
}
