//! `consul join [-wan] address ...`, as Consul 1.10's `command/join`:
//! `PUT /v1/agent/join/<address>` for each address.

use super::args::{Kind, Parsed};
use super::command::{self, flag, HttpFlags};
use super::Ui;

const HELP: &str = r#"
Usage: consul join [options] address ...

  Tells a running Consul agent (with "consul agent") to join the cluster
  by specifying at least one existing member.
"#;

/// `consul join <args>`.
pub(crate) fn run(ui: &mut Ui<'_>, args: &[String]) -> i32 {
    let own = [flag(
        "wan",
        Kind::Bool,
        "false",
        "Joins a server to another server in the WAN pool.",
    )];
    let set = command::flag_set(&own, HttpFlags::Client);
    let usage = set.usage(HELP);
    command::run_command(ui, HELP, &set, args, |ui, flags| join(ui, flags, &usage))
}

fn join(ui: &mut Ui<'_>, flags: &Parsed, usage: &str) -> i32 {
    if flags.args.is_empty() {
        ui.error("At least one address to join must be specified.");
        ui.error("");
        ui.error(usage);
        return 1;
    }
    let Some(client) = command::client(ui, flags) else {
        return 1;
    };
    let params = if flags.bool("wan") {
        vec![("wan", "1".to_string())]
    } else {
        Vec::new()
    };
    let mut joins = 0;
    for addr in &flags.args {
        match command::require_ok(client.put(&format!("/v1/agent/join/{addr}"), params.clone(), b"")) {
            Ok(_) => joins += 1,
            Err(e) => ui.error(format!("Error joining address '{addr}': {e}")),
        }
    }
    if joins == 0 {
        ui.error("Failed to join any nodes.");
        return 1;
    }
    ui.info(format!(
        "Successfully joined cluster by contacting {joins} nodes."
    ));
    0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::testing::{against, offline};

    #[test]
    fn joins_each_address() {
        let (o, seen) = against(
            &[(200, ""), (200, "")],
            &["-wan", "10.0.0.1", "10.0.0.2:8302"],
            run,
        );
        assert_eq!(seen[0].request_line, "PUT /v1/agent/join/10.0.0.1?wan=1 HTTP/1.1");
        assert_eq!(
            seen[1].request_line,
            "PUT /v1/agent/join/10.0.0.2:8302?wan=1 HTTP/1.1"
        );
        assert_eq!(
            (o.code, o.stdout.as_str()),
            (0, "Successfully joined cluster by contacting 2 nodes.\n")
        );
    }

    #[test]
    fn failures_are_reported_per_address() {
        let (o, _) = against(&[(500, "1 error occurred:\n\t* boom\n\n")], &["10.0.0.9"], run);
        assert_eq!(o.code, 1);
        assert_eq!(
            o.stderr,
            "Error joining address '10.0.0.9': Unexpected response code: 500 (1 error occurred:\n\t* boom\n\n)\n\
             Failed to join any nodes.\n"
        );
        let o = offline(&[], run);
        assert_eq!(o.code, 1);
        assert!(o.stderr.starts_with(
            "At least one address to join must be specified.\n\nUsage: consul join [options] address ...\n"
        ));
    }
}
