//! `rconsul-cli`: the `rconsul` command-line interface apart from `agent`: `version`, `kv get|put|delete`,
//! `members`, `catalog datacenters|nodes|services`, `services register|deregister`,
//! `maint`, `reload`, `leave`, `join`, `force-leave`, `keygen`, `validate`, `operator raft list-peers|remove-peer`,
//! `acl ...`, `login`, `logout` (as Consul 1.17's, which added `acl templated-policy`)
//! and the top-level usage text, printing exactly what Consul
//! 1.10.3's CLI prints (see `shared/reference/golden/cli.md`), down to help texts, error
//! wording and exit codes.
//!
//! Layout: [`args`] parses Go-style flags and renders Consul's help, [`http`] finds and
//! talks to the agent, [`command`] holds what the agent-facing commands share (help
//! handling, command groups, the Go `api` package's error wording), [`tabwriter`] and
//! [`columnize`] align tables like Go's `text/tabwriter` and `ryanuber/columnize`,
//! `rconsul_compat::regexp` (Go-syntax regexps) serves `members -status`; the other modules
//! are the commands. Every command writes through a [`Ui`] so tests can capture its
//! output.
//!
//! Texts name the program `consul`, as Consul's own do, so scripts and people reading
//! Consul's documentation see what they expect; change [`APP_NAME`] to rename.

mod acl;
mod args;
mod catalog;
mod columnize;
mod command;
mod event;
mod force_leave;
mod http;
mod http_tls;
mod join;
mod keygen;
mod kv;
mod lifecycle;
mod lock;
mod login;
mod logout;
mod maint;
mod members;
mod operator;
mod services;
mod tabwriter;
mod tls;
#[cfg(test)]
mod token_tests;
mod validate;
mod version;
mod watch;

pub use keygen::new_key as new_gossip_key;

use std::fmt::Write as _;
use std::io::{self, BufWriter, Read, Write};

/// The program name used in usage texts.
const APP_NAME: &str = "consul";

/// Top-level commands listed by [`print_usage`], with Consul's synopses, sorted by name.
const COMMANDS: [(&str, &str); 21] = [
    ("acl", "Interact with Consul's ACLs"),
    ("agent", "Runs a Consul agent"),
    ("catalog", "Interact with the catalog"),
    ("event", "Fire a new event"),
    (
        "force-leave",
        "Forces a member of the cluster to enter the \"left\" state",
    ),
    ("join", "Tell Consul agent to join cluster"),
    ("keygen", "Generates a new encryption key"),
    ("kv", "Interact with the key-value store"),
    ("leave", "Gracefully leaves the Consul cluster and shuts down"),
    ("lock", "Execute a command holding a lock"),
    ("login", "Login to Consul using an auth method"),
    ("logout", "Destroy a Consul token created with login"),
    ("maint", "Controls node or service maintenance mode"),
    ("members", "Lists the members of a Consul cluster"),
    ("operator", "Provides cluster-level tools for Consul operators"),
    ("reload", "Triggers the agent to reload configuration files"),
    ("services", "Interact with services"),
    ("tls", "Builtin helpers for creating CAs and certificates"),
    ("validate", "Validate config files/directories"),
    ("version", "Prints the Consul version"),
    ("watch", "Watch for changes in Consul"),
];

/// What the CLI needs from the daemon's code and cannot ask an agent over HTTP: `validate`
/// checks config files exactly as `rconsul agent` would read them, so the binary hands
/// the CLI the agent's own loader.
pub struct AgentHooks {
    /// Loads `paths` (files or directories; `format` is `""`, `"json"` or `"hcl"`) as the
    /// agent does at start, settings then service and check definitions, and returns the
    /// first problem in Consul's words.
    pub check_config: fn(paths: &[String], format: &str) -> Result<(), String>,
}

/// Runs the command `args[0]` (every command but `agent`, which the binary runs itself)
/// with the arguments after it, on the process's streams; returns the exit code.
///
/// Unknown or missing commands print the top-level usage and return 127, `-h`/`-help`/
/// `--help` print it and return 0, as Consul's CLI does.
pub fn run(args: &[String], hooks: &AgentHooks) -> u8 {
    let rest = args.get(1..).unwrap_or_default();
    let code = match args.first().map(String::as_str) {
        Some("version") | Some("-version") | Some("--version") | Some("-v") => with_std_ui(version::run),
        Some("kv") => with_std_ui(|ui| kv::run(ui, rest)),
        Some("keygen") => with_std_ui(|ui| keygen::run(ui, rest)),
        Some("tls") => with_std_ui(|ui| tls::run(ui, rest)),
        Some("validate") => with_std_ui(|ui| validate::run(ui, rest, hooks.check_config)),
        Some("lock") => with_std_ui(|ui| lock::run(ui, rest)),
        Some("members") => with_std_ui(|ui| members::run(ui, rest)),
        Some("catalog") => with_std_ui(|ui| catalog::run(ui, rest)),
        Some("services") => with_std_ui(|ui| services::run(ui, rest)),
        Some("maint") => with_std_ui(|ui| maint::run(ui, rest)),
        Some("reload") => with_std_ui(|ui| lifecycle::run_reload(ui, rest)),
        Some("leave") => with_std_ui(|ui| lifecycle::run_leave(ui, rest)),
        Some("event") => with_std_ui(|ui| event::run(ui, rest)),
        Some("watch") => with_std_ui(|ui| watch::run(ui, rest)),
        Some("join") => with_std_ui(|ui| join::run(ui, rest)),
        Some("force-leave") => with_std_ui(|ui| force_leave::run(ui, rest)),
        Some("operator") => with_std_ui(|ui| operator::run(ui, rest)),
        Some("acl") => with_std_ui(|ui| acl::run(ui, rest)),
        Some("login") => with_std_ui(|ui| login::run(ui, rest)),
        Some("logout") => with_std_ui(|ui| logout::run(ui, rest)),
        Some("-h") | Some("-help") | Some("--help") => {
            print_usage();
            0
        }
        // Consul exits 127 for a missing or unknown command.
        _ => {
            print_usage();
            127
        }
    };
    // A command's code clamped into the range a process can return.
    u8::try_from(code).unwrap_or(1)
}

/// Prints the top-level usage (`Usage: consul [--version] [--help] <command> [<args>]` and
/// the command list) to stderr.
///
/// Consul exits with 127 after printing this for an unknown command, and with 0 for
/// `--help`/`-h` given without a command.
fn print_usage() {
    let mut err = io::stderr();
    let _ = err.write_all(usage_text().as_bytes());
}

/// The text of [`print_usage`] (mitchellh/cli's `BasicHelpFunc` plus the trailing newline
/// its `CLI.Run` adds).
fn usage_text() -> String {
    let width = COMMANDS.iter().map(|(name, _)| name.len()).max().unwrap_or(0);
    let mut text =
        format!("Usage: {APP_NAME} [--version] [--help] <command> [<args>]\n\nAvailable commands are:\n");
    for (name, synopsis) in COMMANDS {
        let _ = writeln!(text, "    {name:<width$}    {synopsis}");
    }
    text.push('\n');
    text
}

/// Where a command's output goes and what it may read: the process's streams and
/// environment in production, buffers and a map in tests.
pub(crate) struct Ui<'a> {
    out: &'a mut dyn Write,
    err: &'a mut dyn Write,
    stdin: &'a mut dyn Read,
    env: &'a dyn Fn(&str) -> Option<String>,
}

impl Ui<'_> {
    /// Writes `msg` and a newline to stdout (Consul's `UI.Info`/`UI.Output`).
    ///
    /// Write errors (e.g. a closed pipe) are ignored, as Consul ignores them.
    fn info(&mut self, msg: impl AsRef<[u8]>) {
        let _ = self.out.write_all(msg.as_ref());
        let _ = self.out.write_all(b"\n");
    }

    /// Writes `msg` and a newline to stderr (Consul's `UI.Error`).
    fn error(&mut self, msg: impl AsRef<[u8]>) {
        let _ = self.err.write_all(msg.as_ref());
        let _ = self.err.write_all(b"\n");
    }

    /// Writes `text` to stderr as is (help texts).
    fn error_raw(&mut self, text: &str) {
        let _ = self.err.write_all(text.as_bytes());
    }

    /// Reads an environment variable.
    fn env(&self, name: &str) -> Option<String> {
        (self.env)(name)
    }
}

/// Runs `f` with the process's stdout (buffered), stderr, stdin and environment.
fn with_std_ui(f: impl FnOnce(&mut Ui<'_>) -> i32) -> i32 {
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let mut err = io::stderr();
    let mut stdin = io::stdin();
    let env = |name: &str| std::env::var_os(name).map(|v| v.to_string_lossy().into_owned());
    let code = f(&mut Ui {
        out: &mut out,
        err: &mut err,
        stdin: &mut stdin,
        env: &env,
    });
    let _ = out.flush();
    code
}

/// Test helpers: run a command against captured streams.
#[cfg(test)]
pub(crate) mod testing {
    use super::Ui;
    use std::collections::HashMap;

    /// What a command printed and returned.
    #[derive(Debug)]
    pub(crate) struct Outcome {
        pub(crate) code: i32,
        pub(crate) stdout: String,
        pub(crate) stderr: String,
    }

    /// Runs `f` with `stdin` as input and only `env` in the environment.
    pub(crate) fn run(env: &[(&str, &str)], stdin: &[u8], f: impl FnOnce(&mut Ui<'_>) -> i32) -> Outcome {
        let env: HashMap<String, String> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let lookup = |k: &str| env.get(k).cloned();
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let mut input = stdin;
        let code = f(&mut Ui {
            out: &mut out,
            err: &mut err,
            stdin: &mut input,
            env: &lookup,
        });
        Outcome {
            code,
            stdout: String::from_utf8_lossy(&out).into_owned(),
            stderr: String::from_utf8_lossy(&err).into_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_lists_commands_like_mitchellh_cli() {
        assert_eq!(
            usage_text(),
            "Usage: consul [--version] [--help] <command> [<args>]\n\n\
             Available commands are:\n    \
             acl            Interact with Consul's ACLs\n    \
             agent          Runs a Consul agent\n    \
             catalog        Interact with the catalog\n    \
             event          Fire a new event\n    \
             force-leave    Forces a member of the cluster to enter the \"left\" state\n    \
             join           Tell Consul agent to join cluster\n    \
             keygen         Generates a new encryption key\n    \
             kv             Interact with the key-value store\n    \
             leave          Gracefully leaves the Consul cluster and shuts down\n    \
             lock           Execute a command holding a lock\n    \
             login          Login to Consul using an auth method\n    \
             logout         Destroy a Consul token created with login\n    \
             maint          Controls node or service maintenance mode\n    \
             members        Lists the members of a Consul cluster\n    \
             operator       Provides cluster-level tools for Consul operators\n    \
             reload         Triggers the agent to reload configuration files\n    \
             services       Interact with services\n    \
             tls            Builtin helpers for creating CAs and certificates\n    \
             validate       Validate config files/directories\n    \
             version        Prints the Consul version\n    \
             watch          Watch for changes in Consul\n\n"
        );
    }
}
