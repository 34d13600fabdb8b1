//! `consul reload` (`PUT /v1/agent/reload`) and `consul leave` (`PUT /v1/agent/leave`), as
//! Consul 1.10's `command/reload` and `command/leave`.

use super::args::Parsed;
use super::command::{self, HttpFlags};
use super::Ui;

const RELOAD_HELP: &str = r#"
Usage: consul reload

  Causes the agent to reload configurations. This can be used instead
  of sending the SIGHUP signal to the agent.
"#;

const LEAVE_HELP: &str = r#"
Usage: consul leave [options]

  Causes the agent to gracefully leave the Consul cluster and shutdown.
"#;

/// `consul reload <args>`; extra arguments are ignored, as in Consul.
pub(crate) fn run_reload(ui: &mut Ui<'_>, args: &[String]) -> i32 {
    let set = command::flag_set(&[], HttpFlags::Client);
    command::run_command(ui, RELOAD_HELP, &set, args, |ui, flags| {
        put(
            ui,
            flags,
            "/v1/agent/reload",
            "Error reloading",
            "Configuration reload triggered",
        )
    })
}

/// `consul leave <args>`.
pub(crate) fn run_leave(ui: &mut Ui<'_>, args: &[String]) -> i32 {
    let set = command::flag_set(&[], HttpFlags::Client);
    command::run_command(ui, LEAVE_HELP, &set, args, |ui, flags| {
        if !flags.args.is_empty() {
            // Go's %v of a []string, then the help on stdout.
            ui.error(format!("Error found unexpected args: [{}]", flags.args.join(" ")));
            ui.info(set.usage(LEAVE_HELP));
            return 1;
        }
        put(
            ui,
            flags,
            "/v1/agent/leave",
            "Error leaving",
            "Graceful leave complete",
        )
    })
}

/// Sends an empty `PUT path` and reports the outcome.
fn put(ui: &mut Ui<'_>, flags: &Parsed, path: &str, error_prefix: &str, done: &str) -> i32 {
    let Some(client) = command::client(ui, flags) else {
        return 1;
    };
    match command::require_ok(client.put(path, Vec::new(), b"")) {
        Ok(_) => {
            ui.info(done);
            0
        }
        Err(e) => {
            ui.error(format!("{error_prefix}: {e}"));
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::testing::{against, args, closed_addr, offline};
    use crate::testing as ui_testing;

    #[test]
    fn reload() {
        let (o, seen) = against(&[(200, "")], &[], run_reload);
        assert_eq!(seen[0].request_line, "PUT /v1/agent/reload HTTP/1.1");
        assert_eq!(
            (o.code, o.stdout.as_str(), o.stderr.as_str()),
            (0, "Configuration reload triggered\n", "")
        );

        let (o, _) = against(&[(500, "Failed reloading services: x")], &[], run_reload);
        assert_eq!(
            (o.code, o.stderr.as_str()),
            (
                1,
                "Error reloading: Unexpected response code: 500 (Failed reloading services: x)\n"
            )
        );
        let o = offline(&["-help"], run_reload);
        assert_eq!(o.code, 0);
        assert!(o.stderr.starts_with("Usage: consul reload\n\n  Causes the agent"));
    }

    #[test]
    fn leave() {
        let (o, seen) = against(&[(200, "")], &["-token", "t"], run_leave);
        assert_eq!(seen[0].request_line, "PUT /v1/agent/leave HTTP/1.1");
        assert_eq!(seen[0].header("X-Consul-Token"), Some("t"));
        assert_eq!((o.code, o.stdout.as_str()), (0, "Graceful leave complete\n"));

        let o = offline(&["now", "please"], run_leave);
        assert_eq!(o.code, 1);
        assert_eq!(o.stderr, "Error found unexpected args: [now please]\n");
        assert!(o.stdout.starts_with("Usage: consul leave [options]\n"));
        assert!(o.stdout.contains("\n\nHTTP API Options\n"));

        let addr = closed_addr();
        let o = ui_testing::run(&[], b"", |ui| run_leave(ui, &args(&["-http-addr", &addr])));
        assert_eq!(
            (o.code, o.stderr.as_str()),
            (
                1,
                format!(
                    "Error leaving: Put \"http://{addr}/v1/agent/leave\": dial tcp {addr}: connect: connection refused\n"
                )
                .as_str()
            )
        );
    }
}
