//! Script checks run only from the sources the agent allows, as Consul:
//! `-enable-script-checks` allows them from the HTTP API and config files,
//! `-enable-local-script-checks` from config files only, neither refuses both,
//! with Consul's error texts and its 500 status.

mod common;

use std::time::Duration;

use common::{wait_for, Agent};

const READY: Duration = Duration::from_secs(20);
const TRANSITION: Duration = Duration::from_secs(15);

const REMOTE_ERR: &str =
    "Scripts are disabled on this agent from remote calls; to enable, configure 'enable_script_checks' to true";

const CONFIG: &str = r#"{"service": {"name": "cfgsvc", "port": 80,
  "check": {"args": ["true"], "interval": "1s"}}}"#;

/// A dev agent on `ip` with `flags`, plus a config file with a script-checked service.
fn agent_with_config(ip: &str, flags: &[&str]) -> (Agent, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let conf = dir.path().join("svc.json");
    std::fs::write(&conf, CONFIG).expect("write config");
    let conf_flag = format!("-config-file={}", conf.display());
    let mut extra = vec![conf_flag.as_str()];
    extra.extend_from_slice(flags);
    let agent = Agent::dev_with(ip, &extra);
    agent.wait_ready(READY);
    (agent, dir)
}

/// Registers a script check and a service with a script check through the API.
fn api_registrations(agent: &Agent) -> [(u16, String); 2] {
    let check = agent.put(
        "/v1/agent/check/register",
        br#"{"Name": "api-script", "Args": ["true"], "Interval": "1s"}"#,
    );
    let svc = agent.put(
        "/v1/agent/service/register",
        br#"{"Name": "apisvc", "Port": 81, "Check": {"Args": ["true"], "Interval": "1s"}}"#,
    );
    [(check.status, check.text()), (svc.status, svc.text())]
}

fn check_status(agent: &Agent, id: &str) -> Option<String> {
    let checks = agent.get("/v1/agent/checks").json();
    checks.get(id)?.get("Status")?.as_str().map(str::to_string)
}

fn wait_passing(agent: &Agent, id: &str) {
    wait_for(&format!("{id} passing"), TRANSITION, || {
        (check_status(agent, id).as_deref() == Some("passing")).then_some(())
    });
}

#[test]
fn local_script_checks_refuse_api_scripts_but_run_config_ones() {
    let (agent, _dir) = agent_with_config("127.0.9.1", &["-enable-local-script-checks"]);
    wait_passing(&agent, "service:cfgsvc");
    for (status, text) in api_registrations(&agent) {
        assert_eq!(status, 500, "{text}");
        assert_eq!(text.trim_end(), REMOTE_ERR);
    }
    assert_eq!(check_status(&agent, "api-script"), None);
    assert!(agent.get("/v1/agent/services").json().get("apisvc").is_none());
}

#[test]
fn script_checks_allow_both_sources() {
    let (agent, _dir) = agent_with_config("127.0.9.2", &["-enable-script-checks"]);
    wait_passing(&agent, "service:cfgsvc");
    for (status, text) in api_registrations(&agent) {
        assert_eq!(status, 200, "{text}");
    }
    wait_passing(&agent, "api-script");
    wait_passing(&agent, "service:apisvc");
}

#[test]
fn no_script_settings_refuse_api_scripts() {
    let agent = Agent::dev("127.0.9.3");
    agent.wait_ready(READY);
    for (status, text) in api_registrations(&agent) {
        assert_eq!(status, 500, "{text}");
        assert_eq!(text.trim_end(), REMOTE_ERR);
    }
    assert_eq!(check_status(&agent, "api-script"), None);
}
