//! `consul event`, as Consul 1.10's `command/event`: fires a user event
//! (`PUT /v1/event/fire/<name>`) and prints its ID.

use serde::Deserialize;

use super::args::{Kind, Parsed};
use super::command::{self, flag, HttpFlags};
use super::Ui;
use rconsul_compat::regexp::Regexp;

const HELP: &str = r#"
Usage: consul event [options] [payload]

  Dispatches a custom user event across a datacenter. An event must provide
  a name, but a payload is optional. Events support filtering using
  regular expressions on node name, service, and tag definitions.
"#;

const FLAGS: &[super::args::Flag] = &[
    flag("name", Kind::Str, "", "Name of the event."),
    flag(
        "node",
        Kind::Str,
        "",
        "Regular expression to filter on node names.",
    ),
    flag(
        "service",
        Kind::Str,
        "",
        "Regular expression to filter on service instances.",
    ),
    flag(
        "tag",
        Kind::Str,
        "",
        "Regular expression to filter on service tags. Must be used with -service.",
    ),
];

/// `consul event <args>`.
pub(crate) fn run(ui: &mut Ui<'_>, args: &[String]) -> i32 {
    let set = command::flag_set(FLAGS, HttpFlags::Client);
    command::run_command(ui, HELP, &set, args, |ui, flags| {
        fire(ui, flags, &set.usage(HELP))
    })
}

/// The part of the fire answer used here.
#[derive(Debug, Default, Deserialize)]
struct Fired {
    #[serde(rename = "ID", default)]
    id: String,
}

fn fire(ui: &mut Ui<'_>, flags: &Parsed, usage: &str) -> i32 {
    let name = flags.string("name").unwrap_or_default();
    if name.is_empty() {
        ui.error("Event name must be specified");
        ui.error("");
        ui.error(usage);
        return 1;
    }
    let filter = |key: &str| flags.string(key).unwrap_or_default().to_string();
    let (node, service, tag) = (filter("node"), filter("service"), filter("tag"));
    for (what, expr) in [("node", &node), ("service", &service), ("tag", &tag)] {
        if expr.is_empty() {
            continue;
        }
        if let Err(e) = Regexp::new(expr) {
            ui.error(format!("Failed to compile {what} filter regexp: {e}"));
            return 1;
        }
    }
    if !tag.is_empty() && service.is_empty() {
        ui.error("Cannot provide tag filter without service filter.");
        return 1;
    }
    let payload = match flags.args.as_slice() {
        [] => None,
        [one] => Some(one.as_bytes().to_vec()),
        _ => {
            ui.error("Too many command line arguments.");
            ui.error("");
            ui.error(usage);
            return 1;
        }
    };
    let Some(client) = command::reachable_client(ui, flags) else {
        return 1;
    };
    let mut params = Vec::new();
    for (key, value) in [("node", node), ("service", service), ("tag", tag)] {
        if !value.is_empty() {
            params.push((key, value));
        }
    }
    let path = format!("/v1/event/fire/{name}");
    let fired: Result<Fired, String> =
        command::require_ok(client.put(&path, params, payload.as_deref().unwrap_or_default()))
            .and_then(|body| command::decode(&body));
    match fired {
        Ok(fired) => {
            ui.info(format!("Event ID: {}", fired.id));
            0
        }
        Err(e) => {
            ui.error(format!("Error firing event: {e}"));
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::testing::{against, offline};

    #[test]
    fn fires_and_prints_the_id() {
        let (o, seen) = against(
            &[
                (200, "{\"Config\":{}}"),
                (200, r#"{"ID":"abc-123","Name":"deploy"}"#),
            ],
            &["-name", "deploy", "-service", "web", "-tag", "v1", "payload"],
            run,
        );
        assert_eq!(seen[0].request_line, "GET /v1/agent/self HTTP/1.1");
        assert_eq!(
            seen[1].request_line,
            "PUT /v1/event/fire/deploy?service=web&tag=v1 HTTP/1.1"
        );
        assert_eq!(seen[1].body, b"payload");
        assert_eq!((o.code, o.stdout.as_str()), (0, "Event ID: abc-123\n"));
    }

    #[test]
    fn usage_errors() {
        let o = offline(&[], run);
        assert_eq!(o.code, 1);
        assert!(o
            .stderr
            .starts_with("Event name must be specified\n\nUsage: consul event"));
        let o = offline(&["-name", "e", "-tag", "x"], run);
        assert_eq!(
            (o.code, o.stderr.as_str()),
            (1, "Cannot provide tag filter without service filter.\n")
        );
        let o = offline(&["-name", "e", "-node", "("], run);
        assert_eq!(
            o.stderr,
            "Failed to compile node filter regexp: error parsing regexp: missing closing ): `(`\n"
        );
        let o = offline(&["-name", "e", "a", "b"], run);
        assert!(o.stderr.starts_with("Too many command line arguments.\n\nUsage:"));
    }
}
