//! Plumbing shared by the commands that talk to the agent (`members`, `catalog`,
//! `services`, `maint`, `reload`, `leave`): mitchellh/cli's help handling, Go's flag-error
//! output, command groups with a `Subcommands:` list, the HTTP client, and the Go `api`
//! package's way of turning answers into values or errors.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::de::DeserializeOwned;

use super::args::{Flag, FlagSet, Kind, ParseError, Parsed};
use super::http::{Client, Config, HttpError, Response, HTTP_FLAGS};
use super::Ui;

/// Which of Consul's HTTP flag groups a command merges into its own flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum HttpFlags {
    /// `ClientFlags()`: address, token and TLS flags.
    Client,
    /// `ClientFlags()` and `ServerFlags()` (`-datacenter`, `-stale`).
    ClientAndServer,
}

/// A command's own flag definition (listed under "Command Options").
pub(crate) const fn flag(name: &'static str, kind: Kind, default: &'static str, usage: &'static str) -> Flag {
    Flag {
        name,
        kind,
        default,
        usage,
        http: false,
    }
}

/// The command's flags plus the HTTP flags it takes.
pub(crate) fn flag_set(own: &[Flag], http: HttpFlags) -> FlagSet {
    let mut flags = own.to_vec();
    flags.extend(
        HTTP_FLAGS
            .iter()
            .filter(|f| http == HttpFlags::ClientAndServer || !matches!(f.name, "datacenter" | "stale"))
            .copied(),
    );
    FlagSet::new(flags)
}

/// mitchellh/cli treats `-h`, `-help` or `--help` anywhere before `--` as a help request.
pub(crate) fn wants_help(args: &[String]) -> bool {
    args.iter()
        .take_while(|a| a.as_str() != "--")
        .any(|a| matches!(a.as_str(), "-h" | "-help" | "--help"))
}

/// Runs a leaf command: its help (stderr, exit 0) when asked for, Go's flag error and
/// flag list (stderr, exit 1) for bad flags, else `run` with the parsed flags.
pub(crate) fn run_command(
    ui: &mut Ui<'_>,
    help: &str,
    set: &FlagSet,
    args: &[String],
    run: impl FnOnce(&mut Ui<'_>, &Parsed) -> i32,
) -> i32 {
    if wants_help(args) {
        ui.error_raw(&format!("{}\n", set.usage(help)));
        return 0;
    }
    match set.parse(args) {
        Ok(parsed) => run(ui, &parsed),
        Err(e) => {
            if let ParseError::Invalid(msg) = e {
                ui.error(msg);
            }
            ui.error_raw(&format!("Usage:\n{}", set.defaults()));
            1
        }
    }
}

/// One subcommand of a command group.
pub(crate) struct Subcommand {
    /// Name after the group's name.
    pub(crate) name: &'static str,
    /// One line shown in the group's help.
    pub(crate) synopsis: &'static str,
    /// Runs it with the arguments after its name.
    pub(crate) run: fn(&mut Ui<'_>, &[String]) -> i32,
}

/// Runs a command group (`catalog`, `services`): dispatches to the subcommand named by the
/// first argument, or prints the group's help to stderr (exit 0 if help was asked for,
/// else 1, as mitchellh/cli's `RunResultHelp` does).
pub(crate) fn run_group(ui: &mut Ui<'_>, help: &str, subcommands: &[Subcommand], args: &[String]) -> i32 {
    let sub = args
        .first()
        .and_then(|name| subcommands.iter().find(|s| s.name == name.as_str()));
    match sub {
        Some(sub) => (sub.run)(ui, &args[1..]),
        None => {
            ui.error_raw(&group_help(help, subcommands));
            if wants_help(args) {
                0
            } else {
                1
            }
        }
    }
}

/// A group's help text followed by its sorted `Subcommands:` list (mitchellh/cli's help
/// template).
pub(crate) fn group_help(help: &str, subcommands: &[Subcommand]) -> String {
    let mut text = help.trim().to_string();
    text.push_str("\n\nSubcommands:");
    let width = subcommands.iter().map(|s| s.name.len()).max().unwrap_or(0);
    let mut sorted: Vec<&Subcommand> = subcommands.iter().collect();
    sorted.sort_by_key(|s| s.name);
    for s in sorted {
        let _ = write!(text, "\n    {:<width$}    {}", s.name, s.synopsis);
    }
    text.push('\n');
    text
}

/// Makes the HTTP client, or prints Consul's `Error connecting to Consul agent: ...`.
pub(crate) fn client(ui: &mut Ui<'_>, flags: &Parsed) -> Option<Client> {
    match Config::resolve(flags, &|name| ui.env(name)) {
        Ok(config) => Some(Client::new(config)),
        Err(e) => {
            ui.error(format!("Error connecting to Consul agent: {e}"));
            None
        }
    }
}

/// Makes the HTTP client and checks that the agent answers (`client.Agent().NodeName()`
/// in Consul's commands), printing `Error querying Consul agent: ...` when it does not.
pub(crate) fn reachable_client(ui: &mut Ui<'_>, flags: &Parsed) -> Option<Client> {
    let client = client(ui, flags)?;
    if let Err(e) = require_ok(client.get("/v1/agent/self", Vec::new())) {
        ui.error(format!("Error querying Consul agent: {e}"));
        return None;
    }
    Some(client)
}

/// The Go `api` package's `requireOK`: the body of a 200 answer, else the error text.
pub(crate) fn require_ok(result: Result<Response, HttpError>) -> Result<Vec<u8>, String> {
    let resp = result.map_err(|e| e.to_string())?;
    if resp.status != 200 {
        return Err(resp.unexpected());
    }
    Ok(resp.body)
}

/// Decodes a JSON answer; `null` gives the default value, as decoding into a Go nil does.
pub(crate) fn decode<T: DeserializeOwned + Default>(body: &[u8]) -> Result<T, String> {
    serde_json::from_slice::<Option<T>>(body)
        .map(Option::unwrap_or_default)
        .map_err(|e| e.to_string())
}

/// `requireOK` then [`decode`].
pub(crate) fn get_json<T: DeserializeOwned + Default>(
    result: Result<Response, HttpError>,
) -> Result<T, String> {
    require_ok(result).and_then(|body| decode(&body))
}

/// The API's `NodeMeta` query option: one `node-meta=key:value` parameter per pair.
pub(crate) fn node_meta_params(meta: &BTreeMap<String, String>) -> Vec<(&'static str, String)> {
    meta.iter()
        .map(|(k, v)| ("node-meta", format!("{k}:{v}")))
        .collect()
}

/// The "Too many arguments (expected 0, got N)" check most listing commands make.
pub(crate) fn no_args(ui: &mut Ui<'_>, flags: &Parsed) -> bool {
    if flags.args.is_empty() {
        return true;
    }
    ui.error(format!(
        "Too many arguments (expected 0, got {})",
        flags.args.len()
    ));
    false
}

/// Go's `%q` for a string: double-quoted with Go's escapes.
pub(crate) fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\x07' => out.push_str("\\a"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x0b' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c == '\x7f' => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Sorted `k=v` pairs joined by `joiner` (Consul's `mapToKV`).
pub(crate) fn map_to_kv(map: &BTreeMap<String, String>, joiner: &str) -> String {
    map.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(joiner)
}

/// Test helpers: a fake agent on loopback that answers a fixed list of requests.
#[cfg(test)]
pub(crate) mod testing {
    use std::io::{BufRead, BufReader, Read as _, Write as _};
    use std::net::TcpListener;
    use std::sync::mpsc;
    use std::thread;
    use std::time::Duration;

    use crate::testing::{self as ui_testing, Outcome};
    use crate::Ui;

    /// A request as the fake agent saw it.
    #[derive(Debug)]
    pub(crate) struct Seen {
        /// e.g. `GET /v1/agent/members?segment=_all HTTP/1.1`
        pub(crate) request_line: String,
        /// Header names and values.
        pub(crate) headers: Vec<(String, String)>,
        /// The request body.
        pub(crate) body: Vec<u8>,
    }

    impl Seen {
        /// The value of header `name` (case-insensitive).
        pub(crate) fn header(&self, name: &str) -> Option<&str> {
            self.headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        }
    }

    /// Serves one connection per `(status, body)` answer, in order, on 127.0.0.1.
    pub(crate) fn fake_agent(answers: &[(u16, &str)]) -> (String, mpsc::Receiver<Seen>) {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let addr = listener.local_addr().expect("addr").to_string();
        let answers: Vec<(u16, String)> = answers.iter().map(|(s, b)| (*s, b.to_string())).collect();
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            for (status, body) in answers {
                let Ok((stream, _)) = listener.accept() else {
                    return;
                };
                let mut reader = BufReader::new(stream);
                let mut request_line = String::new();
                if reader.read_line(&mut request_line).is_err() {
                    return;
                }
                let mut headers = Vec::new();
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).is_err() || line.trim().is_empty() {
                        break;
                    }
                    if let Some((k, v)) = line.trim_end().split_once(':') {
                        headers.push((k.trim().to_string(), v.trim().to_string()));
                    }
                }
                let len = headers
                    .iter()
                    .find(|(k, _): &&(String, String)| k.eq_ignore_ascii_case("content-length"))
                    .and_then(|(_, v)| v.parse::<usize>().ok())
                    .unwrap_or(0);
                let mut req_body = vec![0; len];
                let _ = reader.read_exact(&mut req_body);
                let reason = if status == 200 { "OK" } else { "Status" };
                let response = format!(
                    "HTTP/1.1 {status} {reason}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let mut stream = reader.into_inner();
                let _ = stream.write_all(response.as_bytes());
                let _ = tx.send(Seen {
                    request_line: request_line.trim_end().to_string(),
                    headers,
                    body: req_body,
                });
            }
        });
        (addr, rx)
    }

    /// Owned argument vector.
    pub(crate) fn args(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    /// Runs `run(argv)` against a fake agent giving `answers`; returns the outcome and
    /// every request it saw.
    pub(crate) fn against(
        answers: &[(u16, &str)],
        argv: &[&str],
        run: fn(&mut Ui<'_>, &[String]) -> i32,
    ) -> (Outcome, Vec<Seen>) {
        let (addr, rx) = fake_agent(answers);
        let outcome = ui_testing::run(&[("CONSUL_HTTP_ADDR", &addr)], b"", |ui| run(ui, &args(argv)));
        let mut seen = Vec::new();
        while seen.len() < answers.len() {
            match rx.recv_timeout(Duration::from_secs(10)) {
                Ok(s) => seen.push(s),
                Err(_) => break,
            }
        }
        (outcome, seen)
    }

    /// Runs `run(argv)` where no request is expected (the agent address refuses).
    pub(crate) fn offline(argv: &[&str], run: fn(&mut Ui<'_>, &[String]) -> i32) -> Outcome {
        ui_testing::run(&[("CONSUL_HTTP_ADDR", "127.0.0.1:1")], b"", |ui| {
            run(ui, &args(argv))
        })
    }

    /// An address where nothing listens (a listener bound and dropped).
    pub(crate) fn closed_addr() -> String {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_like_go() {
        assert_eq!(go_quote("web"), "\"web\"");
        assert_eq!(go_quote("a\"b\\c\n\x01é"), "\"a\\\"b\\\\c\\n\\x01é\"");
    }

    #[test]
    fn client_flags_leave_out_server_flags() {
        let set = flag_set(&[], HttpFlags::Client);
        let args: Vec<String> = vec!["-stale".into()];
        assert!(set.parse(&args).is_err());
        let set = flag_set(&[], HttpFlags::ClientAndServer);
        assert!(set.parse(&args).is_ok());
    }

    #[test]
    fn map_to_kv_sorts() {
        let m: BTreeMap<String, String> = [("wan", "b"), ("lan", "a")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(map_to_kv(&m, ", "), "lan=a, wan=b");
        assert_eq!(map_to_kv(&BTreeMap::new(), ", "), "");
    }
}
