//! `consul maint`, as Consul 1.10's `command/maint`: with `-enable`/`-disable`, node
//! (`PUT /v1/agent/maintenance`) or service (`PUT /v1/agent/service/maintenance/<id>`)
//! maintenance; without, the list of what is in maintenance, read from the agent's
//! `_node_maintenance` and `_service_maintenance:<id>` checks.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::args::{Flag, Kind, Parsed};
use super::command::{self, flag, go_quote, HttpFlags};
use super::Ui;

const HELP: &str = r#"
Usage: consul maint [options]

  Places a node or service into maintenance mode. During maintenance mode,
  the node or service will be excluded from all queries through the DNS
  or API interfaces, effectively taking it out of the pool of available
  nodes. This is done by registering an additional critical health check.

  When enabling maintenance mode for a node or service, you may optionally
  specify a reason string. This string will appear in the "Notes" field
  of the critical health check which is registered against the node or
  service. If no reason is provided, a default value will be used.

  Maintenance mode is persistent, and will be restored in the event of an
  agent restart. It is therefore required to disable maintenance mode on
  a given node or service before it will be placed back into the pool.

  By default, we operate on the node as a whole. By specifying the
  "-service" argument, this behavior can be changed to enable or disable
  only a specific service.

  If no arguments are given, the agent's maintenance status will be shown.
  This will return blank if nothing is currently under maintenance.
"#;

const FLAGS: &[Flag] = &[
    flag("enable", Kind::Bool, "false", "Enable maintenance mode."),
    flag("disable", Kind::Bool, "false", "Disable maintenance mode."),
    flag("reason", Kind::Str, "", "Text describing the maintenance reason."),
    flag(
        "service",
        Kind::Str,
        "",
        "Control maintenance mode for a specific service ID.",
    ),
];

/// `consul maint <args>`.
pub(crate) fn run(ui: &mut Ui<'_>, args: &[String]) -> i32 {
    let set = command::flag_set(FLAGS, HttpFlags::Client);
    command::run_command(ui, HELP, &set, args, maint)
}

/// The parts of `GET /v1/agent/self` used here.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct AgentSelf {
    config: SelfConfig,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct SelfConfig {
    node_name: String,
}

/// The parts of a health check used here.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct Check {
    #[serde(rename = "CheckID")]
    check_id: String,
    notes: String,
    #[serde(rename = "ServiceID")]
    service_id: String,
}

fn maint(ui: &mut Ui<'_>, flags: &Parsed) -> i32 {
    let (enable, disable) = (flags.bool("enable"), flags.bool("disable"));
    let reason = flags.string("reason").unwrap_or_default();
    let service = flags.string("service").unwrap_or_default();
    if enable && disable {
        ui.error("Only one of -enable or -disable may be provided");
        return 1;
    }
    if !enable && !reason.is_empty() {
        ui.error("Reason may only be provided with -enable");
        return 1;
    }
    if !enable && !disable && !service.is_empty() {
        ui.error("Service requires either -enable or -disable");
        return 1;
    }
    let Some(client) = command::client(ui, flags) else {
        return 1;
    };

    if !enable && !disable {
        let node_name = match command::get_json::<AgentSelf>(client.get("/v1/agent/self", Vec::new())) {
            Ok(me) => me.config.node_name,
            Err(e) => {
                ui.error(format!("Error querying Consul agent: {e}"));
                return 1;
            }
        };
        let checks =
            match command::get_json::<BTreeMap<String, Check>>(client.get("/v1/agent/checks", Vec::new())) {
                Ok(checks) => checks,
                Err(e) => {
                    ui.error(format!("Error getting checks: {e}"));
                    return 1;
                }
            };
        // Consul walks a Go map (random order); sorting puts the node first.
        for check in checks.values() {
            if check.check_id == "_node_maintenance" {
                ui.info("Node:");
                ui.info(format!("  Name:   {node_name}"));
                ui.info(format!("  Reason: {}", check.notes));
                ui.info("");
            } else if check.check_id.starts_with("_service_maintenance:") {
                ui.info("Service:");
                ui.info(format!("  ID:     {}", check.service_id));
                ui.info(format!("  Reason: {}", check.notes));
                ui.info("");
            }
        }
        return 0;
    }

    let mut params = vec![("enable", enable.to_string())];
    if enable {
        params.push(("reason", reason.to_string()));
    }
    let (path, what) = if service.is_empty() {
        ("/v1/agent/maintenance".to_string(), "node")
    } else {
        (format!("/v1/agent/service/maintenance/{service}"), "service")
    };
    let verb = if enable { "enabl" } else { "disabl" };
    if let Err(e) = command::require_ok(client.put(&path, params, b"")) {
        ui.error(format!("Error {verb}ing {what} maintenance: {e}"));
        return 1;
    }
    if service.is_empty() {
        ui.info(format!("Node maintenance is now {verb}ed"));
    } else {
        ui.info(format!(
            "Service maintenance is now {verb}ed for {}",
            go_quote(service)
        ));
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::testing::{against, offline};

    const SELF: &str = r#"{"Config":{"Datacenter":"dc1","NodeName":"golden-dev","Server":true},"Member":{}}"#;

    /// `GET /v1/agent/checks` with node and service maintenance on (golden, trimmed).
    const CHECKS: &str = r#"{
        "service:bad":{"CheckID":"service:bad","Notes":"","ServiceID":"bad","Status":"critical"},
        "_service_maintenance:web-2":{"Node":"golden-dev","CheckID":"_service_maintenance:web-2",
            "Name":"Service Maintenance Mode","Status":"critical","Notes":"deploying","ServiceID":"web-2"},
        "_node_maintenance":{"Node":"golden-dev","CheckID":"_node_maintenance","Name":"Node Maintenance Mode",
            "Status":"critical","Notes":"Maintenance mode is enabled for this node, but no reason was provided. This is a default message.",
            "ServiceID":""}
    }"#;

    #[test]
    fn lists_maintenance() {
        let (o, seen) = against(&[(200, SELF), (200, CHECKS)], &[], run);
        assert_eq!(seen[0].request_line, "GET /v1/agent/self HTTP/1.1");
        assert_eq!(seen[1].request_line, "GET /v1/agent/checks HTTP/1.1");
        assert_eq!((o.code, o.stderr.as_str()), (0, ""));
        assert_eq!(
            o.stdout,
            "Node:\n  Name:   golden-dev\n  Reason: Maintenance mode is enabled for this node, but no reason \
             was provided. This is a default message.\n\n\
             Service:\n  ID:     web-2\n  Reason: deploying\n\n"
        );

        let (o, _) = against(&[(200, SELF), (200, "{}")], &[], run);
        assert_eq!((o.code, o.stdout.as_str()), (0, ""));

        let (o, _) = against(&[(200, SELF), (403, "Permission denied")], &[], run);
        assert_eq!(
            (o.code, o.stderr.as_str()),
            (
                1,
                "Error getting checks: Unexpected response code: 403 (Permission denied)\n"
            )
        );
        let (o, _) = against(&[(500, "boom")], &[], run);
        assert_eq!(
            o.stderr,
            "Error querying Consul agent: Unexpected response code: 500 (boom)\n"
        );
    }

    #[test]
    fn node_maintenance() {
        let (o, seen) = against(&[(200, "")], &["-enable"], run);
        assert_eq!(
            seen[0].request_line,
            "PUT /v1/agent/maintenance?enable=true&reason= HTTP/1.1"
        );
        assert_eq!(
            (o.code, o.stdout.as_str()),
            (0, "Node maintenance is now enabled\n")
        );

        let (_, seen) = against(&[(200, "")], &["-enable", "-reason", "kernel upgrade"], run);
        assert_eq!(
            seen[0].request_line,
            "PUT /v1/agent/maintenance?enable=true&reason=kernel+upgrade HTTP/1.1"
        );

        let (o, seen) = against(&[(200, "")], &["-disable"], run);
        assert_eq!(
            seen[0].request_line,
            "PUT /v1/agent/maintenance?enable=false HTTP/1.1"
        );
        assert_eq!(o.stdout, "Node maintenance is now disabled\n");

        let (o, _) = against(&[(403, "Permission denied")], &["-enable"], run);
        assert_eq!(
            (o.code, o.stderr.as_str()),
            (
                1,
                "Error enabling node maintenance: Unexpected response code: 403 (Permission denied)\n"
            )
        );
    }

    #[test]
    fn service_maintenance() {
        let (o, seen) = against(
            &[(200, "")],
            &["-enable", "-service=web-2", "-reason=deploying"],
            run,
        );
        assert_eq!(
            seen[0].request_line,
            "PUT /v1/agent/service/maintenance/web-2?enable=true&reason=deploying HTTP/1.1"
        );
        assert_eq!(o.stdout, "Service maintenance is now enabled for \"web-2\"\n");

        let (o, _) = against(&[(200, "")], &["-disable", "-service", "web-2"], run);
        assert_eq!(o.stdout, "Service maintenance is now disabled for \"web-2\"\n");

        let (o, _) = against(
            &[(404, "No service registered with ID \"nosuch\"")],
            &["-disable", "-service", "nosuch"],
            run,
        );
        assert_eq!(
            (o.code, o.stderr.as_str()),
            (
                1,
                "Error disabling service maintenance: Unexpected response code: 404 \
                 (No service registered with ID \"nosuch\")\n"
            )
        );
    }

    #[test]
    fn argument_checks() {
        let cases: [(&[&str], &str); 3] = [
            (
                &["-enable", "-disable"],
                "Only one of -enable or -disable may be provided\n",
            ),
            (
                &["-disable", "-reason=x"],
                "Reason may only be provided with -enable\n",
            ),
            (&["-service=web"], "Service requires either -enable or -disable\n"),
        ];
        for (argv, want) in cases {
            let o = offline(argv, run);
            assert_eq!((o.code, o.stderr.as_str()), (1, want), "{argv:?}");
        }
        let o = offline(&["-datacenter=dc1"], run);
        assert!(o
            .stderr
            .starts_with("flag provided but not defined: -datacenter\n"));
    }
}
