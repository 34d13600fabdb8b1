//! `consul watch`, as Consul 1.10's `command/watch` and `api/watch`: long-polls one view
//! (`key`, `keyprefix`, `services`, `nodes`, `service`, `checks`, `event`) and, on every
//! change, runs a handler with the view's JSON on stdin and `CONSUL_INDEX` in its
//! environment. Without a handler it prints the current view and exits.

use std::io::Write as _;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde::Deserialize;
use serde_json::value::RawValue;

use super::args::{Kind, Parsed};
use super::command::{self, flag, HttpFlags};
use super::http::{Client, Response};
use super::Ui;

const HELP: &str = r#"
Usage: consul watch [options] [child...]

  Watches for changes in a given data view from Consul. If a child process
  is specified, it will be invoked with the latest results on changes. Otherwise,
  the latest values are dumped to stdout and the watch terminates.

  Providing the watch type is required, and other parameters may be required
  or supported depending on the watch type.
"#;

const FLAGS: &[super::args::Flag] = &[
    flag(
        "type",
        Kind::Str,
        "",
        "Specifies the watch type. One of key, keyprefix, services, nodes, service, checks, or event.",
    ),
    flag("key", Kind::Str, "", "Specifies the key to watch. Only for 'key' type."),
    flag(
        "prefix",
        Kind::Str,
        "",
        "Specifies the key prefix to watch. Only for 'keyprefix' type.",
    ),
    flag(
        "service",
        Kind::Str,
        "",
        "Specifies the service to watch. Required for 'service' type, optional for 'checks' type.",
    ),
    flag(
        "tag",
        Kind::Str,
        "",
        "Specifies the service tag to filter on. Optional for 'service' type.",
    ),
    flag(
        "passingonly",
        Kind::Str,
        "",
        "Specifies if only hosts passing all checks are displayed. Optional for 'service' type, must be one of `[true|false]`. Defaults false.",
    ),
    flag(
        "shell",
        Kind::Bool,
        "true",
        "Use a shell to run the command (can set a custom shell via the SHELL environment variable).",
    ),
    flag(
        "state",
        Kind::Str,
        "",
        "Specifies the states to watch. Optional for 'checks' type.",
    ),
    flag(
        "name",
        Kind::Str,
        "",
        "Specifies an event name to watch. Only for 'event' type.",
    ),
];

/// First retry delay after a failed query; it grows with the square of the failures.
const RETRY_INTERVAL: Duration = Duration::from_secs(5);
/// Longest retry delay.
const MAX_BACKOFF: Duration = Duration::from_secs(180);

/// `consul watch <args>`.
pub(crate) fn run(ui: &mut Ui<'_>, args: &[String]) -> i32 {
    let set = command::flag_set(FLAGS, HttpFlags::ClientAndServer);
    let usage = set.usage(HELP);
    command::run_command(ui, HELP, &set, args, |ui, flags| watch(ui, flags, &usage))
}

/// What one watch type queries.
#[derive(Debug, Clone, PartialEq, Eq)]
enum View {
    /// `GET /v1/kv/<key>`: the entry, or `null`.
    Key(String),
    /// `GET /v1/kv/<prefix>?recurse`.
    KeyPrefix(String),
    /// `GET /v1/catalog/services`.
    Services,
    /// `GET /v1/catalog/nodes`.
    Nodes,
    /// `GET /v1/health/service/<name>` (`?tag`, `?passing`).
    Service {
        name: String,
        tag: String,
        passing_only: bool,
    },
    /// `GET /v1/health/state/<state>` or `/v1/health/checks/<service>`.
    Checks { service: String, state: String },
    /// `GET /v1/event/list?name=`: only the events new since the last run.
    Event(String),
}

/// Consul's `watch.Parse`: the view, or the error it prints.
fn parse_view(flags: &Parsed) -> Result<View, String> {
    let get = |name: &str| flags.string(name).unwrap_or_default().to_string();
    let mut given: Vec<&str> = ["key", "prefix", "service", "tag", "state", "name", "passingonly"]
        .into_iter()
        .filter(|name| !get(name).is_empty())
        .collect();
    if flags.bool("stale") {
        given.push("stale");
    }
    let watch_type = get("type");
    let (view, used): (View, &[&str]) = match watch_type.as_str() {
        "key" => {
            let key = get("key");
            if key.is_empty() {
                return Err("Must specify a single key to watch".into());
            }
            (View::Key(key), &["key", "stale"])
        }
        "keyprefix" => {
            let prefix = get("prefix");
            if prefix.is_empty() {
                return Err("Must specify a single prefix to watch".into());
            }
            (View::KeyPrefix(prefix), &["prefix", "stale"])
        }
        "services" => (View::Services, &["stale"]),
        "nodes" => (View::Nodes, &["stale"]),
        "service" => {
            let name = get("service");
            if name.is_empty() {
                return Err("Must specify a single service to watch".into());
            }
            let passing_only = match get("passingonly").as_str() {
                "" => false,
                v => super::args::parse_go_bool(v).ok_or_else(|| {
                    format!(
                        "Failed to parse passingonly flag: strconv.ParseBool: parsing {v:?}: invalid syntax"
                    )
                })?,
            };
            let view = View::Service {
                name,
                tag: get("tag"),
                passing_only,
            };
            (view, &["service", "tag", "passingonly", "stale"])
        }
        "checks" => {
            let (service, mut state) = (get("service"), get("state"));
            if !service.is_empty() && !state.is_empty() {
                return Err("Cannot specify service and state".into());
            }
            if service.is_empty() && state.is_empty() {
                state = "any".into();
            }
            (
                View::Checks { service, state },
                &["service", "state", "tag", "stale"],
            )
        }
        // The stale setting does not apply to events.
        "event" => (View::Event(get("name")), &["name"]),
        other => return Err(format!("Unsupported watch type: {other}")),
    };
    let unused: Vec<&str> = given.into_iter().filter(|p| !used.contains(p)).collect();
    if !unused.is_empty() {
        return Err(format!("Invalid parameters: [{}]", unused.join(" ")));
    }
    Ok(view)
}

fn watch(ui: &mut Ui<'_>, flags: &Parsed, usage: &str) -> i32 {
    if flags.string("type").unwrap_or_default().is_empty() {
        ui.error("Watch type must be specified");
        ui.error("");
        ui.error(usage);
        return 1;
    }
    let view = match parse_view(flags) {
        Ok(v) => v,
        Err(e) => {
            ui.error(e);
            return 1;
        }
    };
    let Some(client) = command::reachable_client(ui, flags) else {
        return 1;
    };
    let handler = Handler {
        args: flags.args.clone(),
        shell: flags.bool_or("shell", true),
    };
    let mut plan = Plan::default();
    loop {
        let (index, result) = match query(&client, &view, plan.last_index) {
            Ok(answer) => answer,
            Err(e) => {
                plan.failures += 1;
                let retry = (RETRY_INTERVAL * plan.failures * plan.failures).min(MAX_BACKOFF);
                ui.error(format!(
                    "[ERR] consul.watch: Watch (type: {}) errored: {e}, retry in {retry:?}",
                    flags.string("type").unwrap_or_default()
                ));
                std::thread::sleep(retry);
                continue;
            }
        };
        plan.failures = 0;
        let Some(result) = plan.update(index, result) else {
            continue;
        };
        if handler.args.is_empty() {
            ui.info(indent_json(&result));
            return 0;
        }
        if let Err(e) = handler.run(index, &result) {
            ui.error(format!("Error executing handler: {e}"));
            return 1;
        }
    }
}

/// The watch plan's memory between queries (Consul's `watch.Plan`).
#[derive(Debug, Default)]
struct Plan {
    last_index: Option<u64>,
    last_result: Option<Vec<u8>>,
    failures: u32,
}

impl Plan {
    /// Takes an answer; returns the result to hand to the handler when it changed.
    fn update(&mut self, index: u64, result: Vec<u8>) -> Option<Vec<u8>> {
        if self.last_index == Some(index) {
            return None;
        }
        let old = self.last_index;
        // An index that went backwards resets the wait (Consul's `WaitIndexVal.Next`).
        self.last_index = Some(if old.is_some_and(|o| index < o) { 0 } else { index });
        if old.is_some() && self.last_result.as_deref() == Some(result.as_slice()) {
            return None;
        }
        self.last_result = Some(result.clone());
        Some(result)
    }
}

/// Runs the view's query, blocking on `index`; returns the new index and the view's
/// compact JSON.
fn query(client: &Client, view: &View, index: Option<u64>) -> Result<(u64, Vec<u8>), String> {
    let mut params: Vec<(&'static str, String)> = Vec::new();
    if let Some(i) = index.filter(|i| *i > 0) {
        params.push(("index", i.to_string()));
    }
    let path = match view {
        View::Key(key) | View::KeyPrefix(key) => {
            if matches!(view, View::KeyPrefix(_)) {
                params.push(("recurse", String::new()));
            }
            format!("/v1/kv/{}", key.trim_start_matches('/'))
        }
        View::Services => "/v1/catalog/services".into(),
        View::Nodes => "/v1/catalog/nodes".into(),
        View::Service {
            name,
            tag,
            passing_only,
        } => {
            if !tag.is_empty() {
                params.push(("tag", tag.clone()));
            }
            if *passing_only {
                params.push(("passing", "1".into()));
            }
            format!("/v1/health/service/{name}")
        }
        View::Checks { service, state } => {
            if state.is_empty() {
                format!("/v1/health/checks/{service}")
            } else {
                format!("/v1/health/state/{state}")
            }
        }
        View::Event(name) => {
            if !name.is_empty() {
                params.push(("name", name.clone()));
            }
            "/v1/event/list".into()
        }
    };
    let resp: Response = client.get(&path, params).map_err(|e| e.to_string())?;
    match view {
        // A missing key (or an empty prefix) is not an error: `null`.
        View::Key(_) | View::KeyPrefix(_) if resp.status == 404 => Ok((resp.index, b"null".to_vec())),
        _ if resp.status != 200 => Err(resp.unexpected()),
        View::Key(_) => {
            let entries: Vec<Box<RawValue>> =
                serde_json::from_slice(&resp.body).map_err(|e| e.to_string())?;
            let first = entries.first().map_or("null", |e| e.get());
            Ok((resp.index, compact_json(first.as_bytes())))
        }
        View::Event(_) => Ok((resp.index, new_events(&resp.body, index)?)),
        _ => Ok((resp.index, compact_json(&resp.body))),
    }
}

/// The events after the one whose ID gave `last_index` (all of them if it is gone).
fn new_events(body: &[u8], last_index: Option<u64>) -> Result<Vec<u8>, String> {
    #[derive(Deserialize)]
    struct Id {
        #[serde(rename = "ID")]
        id: String,
    }
    let events: Vec<Box<RawValue>> = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let mut start = 0;
    if let Some(last) = last_index {
        for (i, raw) in events.iter().enumerate() {
            let id: Id = serde_json::from_str(raw.get()).map_err(|e| e.to_string())?;
            if rconsul_compat::event_index::uuid_to_index(&id.id) == last {
                start = i + 1;
                break;
            }
        }
    }
    let kept: Vec<&str> = events[start..].iter().map(|e| e.get()).collect();
    Ok(compact_json(format!("[{}]", kept.join(",")).as_bytes()))
}

/// Removes the whitespace between JSON tokens (the agent indents in `-dev` mode), keeping
/// key order, so results compare and read as Go's compact encoding.
fn compact_json(json: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(json.len());
    let (mut in_string, mut escaped) = (false, false);
    for &b in json {
        if in_string {
            out.push(b);
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
        } else if !b.is_ascii_whitespace() {
            in_string = b == b'"';
            out.push(b);
        }
    }
    out
}

/// Go's `json.MarshalIndent(data, "", "    ")` of a compact JSON text.
fn indent_json(json: &[u8]) -> String {
    match serde_json::from_slice::<&RawValue>(json) {
        Ok(_) => {
            let mut out = String::new();
            let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
            let bytes = String::from_utf8_lossy(json);
            let mut chars = bytes.chars().peekable();
            while let Some(c) = chars.next() {
                if in_string {
                    out.push(c);
                    if escaped {
                        escaped = false;
                    } else if c == '\\' {
                        escaped = true;
                    } else if c == '"' {
                        in_string = false;
                    }
                    continue;
                }
                match c {
                    '"' => {
                        in_string = true;
                        out.push(c);
                    }
                    '{' | '[' => {
                        out.push(c);
                        if matches!(chars.peek(), Some('}') | Some(']')) {
                            if let Some(close) = chars.next() {
                                out.push(close);
                            }
                        } else {
                            depth += 1;
                            newline(&mut out, depth);
                        }
                    }
                    '}' | ']' => {
                        depth = depth.saturating_sub(1);
                        newline(&mut out, depth);
                        out.push(c);
                    }
                    ',' => {
                        out.push(c);
                        newline(&mut out, depth);
                    }
                    ':' => out.push_str(": "),
                    c => out.push(c),
                }
            }
            out
        }
        Err(_) => String::from_utf8_lossy(json).into_owned(),
    }
}

fn newline(out: &mut String, depth: usize) {
    out.push('\n');
    for _ in 0..depth {
        out.push_str("    ");
    }
}

/// The child command run on every change.
struct Handler {
    args: Vec<String>,
    shell: bool,
}

impl Handler {
    /// Runs the handler with `result` (and a newline) on stdin; waits for it.
    fn run(&self, index: u64, result: &[u8]) -> Result<(), String> {
        let mut cmd = if self.shell {
            // Consul's ExecScript: $SHELL (or /bin/sh) -c "<args joined by spaces>".
            let shell = std::env::var("SHELL")
                .ok()
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "/bin/sh".into());
            let mut c = Command::new(shell);
            c.arg("-c").arg(self.args.join(" "));
            c
        } else {
            let mut c = Command::new(&self.args[0]);
            c.args(&self.args[1..]);
            c
        };
        cmd.env("CONSUL_INDEX", index.to_string()).stdin(Stdio::piped());
        let mut child = cmd.spawn().map_err(|e| e.to_string())?;
        if let Some(mut stdin) = child.stdin.take() {
            // A handler that does not read its input is fine.
            let _ = stdin.write_all(result).and_then(|_| stdin.write_all(b"\n"));
        }
        let status = child.wait().map_err(|e| e.to_string())?;
        if status.success() {
            Ok(())
        } else {
            Err(match status.code() {
                Some(code) => format!("exit status {code}"),
                None => "signal: killed".into(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::testing::{against, offline};

    #[test]
    fn compacts_and_indents_like_go() {
        assert_eq!(
            compact_json(b"[\n    {\n        \"A\": \"x y\\\" z\",\n        \"B\": []\n    }\n]\n"),
            br#"[{"A":"x y\" z","B":[]}]"#.to_vec()
        );
        assert_eq!(
            indent_json(br#"{"A":[1,2],"B":{},"C":"a,b"}"#),
            "{\n    \"A\": [\n        1,\n        2\n    ],\n    \"B\": {},\n    \"C\": \"a,b\"\n}"
        );
    }

    #[test]
    fn plan_runs_the_handler_only_on_changes() {
        let mut plan = Plan::default();
        assert_eq!(plan.update(5, b"[1]".to_vec()), Some(b"[1]".to_vec()));
        assert_eq!(plan.update(5, b"[1]".to_vec()), None);
        assert_eq!(plan.update(6, b"[1]".to_vec()), None);
        assert_eq!(plan.update(7, b"[2]".to_vec()), Some(b"[2]".to_vec()));
        // Backwards: the next query starts over without an index.
        assert_eq!(plan.update(3, b"[3]".to_vec()), Some(b"[3]".to_vec()));
        assert_eq!(plan.last_index, Some(0));
    }

    #[test]
    fn new_events_prunes_up_to_the_last_seen() {
        let a = "00000000-0000-0000-0000-000000000001";
        let b = "00000000-0000-0000-0000-000000000003";
        let body = format!(r#"[{{"ID":"{a}","Name":"x"}}, {{"ID":"{b}","Name":"y"}}]"#);
        let all = new_events(body.as_bytes(), None);
        assert_eq!(
            all,
            Ok(format!(r#"[{{"ID":"{a}","Name":"x"}},{{"ID":"{b}","Name":"y"}}]"#).into_bytes())
        );
        let after_a = new_events(body.as_bytes(), Some(1));
        assert_eq!(
            after_a,
            Ok(format!(r#"[{{"ID":"{b}","Name":"y"}}]"#).into_bytes())
        );
        assert_eq!(new_events(body.as_bytes(), Some(3)), Ok(b"[]".to_vec()));
    }

    #[test]
    fn parameters_are_checked_like_consul() {
        let o = offline(&[], run);
        assert_eq!(o.code, 1);
        assert!(o
            .stderr
            .starts_with("Watch type must be specified\n\nUsage: consul watch"));
        for (argv, msg) in [
            (&["-type", "key"][..], "Must specify a single key to watch\n"),
            (
                &["-type", "keyprefix"][..],
                "Must specify a single prefix to watch\n",
            ),
            (
                &["-type", "service"][..],
                "Must specify a single service to watch\n",
            ),
            (
                &["-type", "checks", "-service", "a", "-state", "any"][..],
                "Cannot specify service and state\n",
            ),
            (&["-type", "bogus"][..], "Unsupported watch type: bogus\n"),
            (
                &["-type", "nodes", "-key", "k"][..],
                "Invalid parameters: [key]\n",
            ),
            (&["-type", "event", "-stale"][..], "Invalid parameters: [stale]\n"),
        ] {
            let o = offline(argv, run);
            assert_eq!((o.code, o.stderr.as_str()), (1, msg), "{argv:?}");
        }
    }

    #[test]
    fn without_a_handler_prints_the_view_once() {
        let (o, seen) = against(
            &[(200, "{}"), (200, r#"[{"Key":"a","Value":"eA=="}]"#)],
            &["-type", "key", "-key", "a"],
            run,
        );
        assert_eq!(seen[1].request_line, "GET /v1/kv/a HTTP/1.1");
        assert_eq!(
            (o.code, o.stdout.as_str()),
            (0, "{\n    \"Key\": \"a\",\n    \"Value\": \"eA==\"\n}\n")
        );
    }
}
