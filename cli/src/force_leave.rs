//! `consul force-leave [-prune] name`, as Consul 1.10's `command/forceleave`:
//! `PUT /v1/agent/force-leave/<name>[?prune=1]`; silent on success.

use super::args::{Kind, Parsed};
use super::command::{self, flag, HttpFlags};
use super::Ui;

const HELP: &str = r#"
Usage: consul force-leave [options] name

  Forces a member of a Consul cluster to enter the "left" state. Note
  that if the member is still actually alive, it will eventually rejoin
  the cluster. This command is most useful for cleaning out "failed" nodes
  that are never coming back. If you do not force leave a failed node,
  Consul will attempt to reconnect to those failed nodes for some period of
  time before eventually reaping them.
"#;

/// `consul force-leave <args>`.
pub(crate) fn run(ui: &mut Ui<'_>, args: &[String]) -> i32 {
    let own = [flag(
        "prune",
        Kind::Bool,
        "false",
        "Remove agent completely from list of members",
    )];
    let set = command::flag_set(&own, HttpFlags::Client);
    let usage = set.usage(HELP);
    command::run_command(ui, HELP, &set, args, |ui, flags| force_leave(ui, flags, &usage))
}

fn force_leave(ui: &mut Ui<'_>, flags: &Parsed, usage: &str) -> i32 {
    let [node] = flags.args.as_slice() else {
        ui.error("A single node name must be specified to force leave.");
        ui.error("");
        ui.error(usage);
        return 1;
    };
    let Some(client) = command::client(ui, flags) else {
        return 1;
    };
    let params = if flags.bool("prune") {
        vec![("prune", "1".to_string())]
    } else {
        Vec::new()
    };
    match command::require_ok(client.put(&format!("/v1/agent/force-leave/{node}"), params, b"")) {
        Ok(_) => 0,
        Err(e) => {
            ui.error(format!("Error force leaving: {e}"));
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::testing::{against, offline};

    #[test]
    fn force_leave_is_silent_on_success() {
        let (o, seen) = against(&[(200, "")], &["-prune", "web-1"], run);
        assert_eq!(
            seen[0].request_line,
            "PUT /v1/agent/force-leave/web-1?prune=1 HTTP/1.1"
        );
        assert_eq!((o.code, o.stdout.as_str(), o.stderr.as_str()), (0, "", ""));

        let (o, _) = against(&[(500, "agent: No node found with name 'x'")], &["x"], run);
        assert_eq!(
            (o.code, o.stderr.as_str()),
            (
                1,
                "Error force leaving: Unexpected response code: 500 (agent: No node found with name 'x')\n"
            )
        );
        let o = offline(&["a", "b"], run);
        assert_eq!(o.code, 1);
        assert!(o.stderr.starts_with(
            "A single node name must be specified to force leave.\n\nUsage: consul force-leave"
        ));
    }
}
