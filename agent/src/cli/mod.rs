//! The `rconsul` command-line interface apart from `agent`: `version`, `kv get|put|delete`,
//! `members`, `catalog datacenters|nodes|services`, `services register|deregister`,
//! `maint`, `reload`, `leave`, `join`, `force-leave`, `keygen`, `validate`, `operator raft list-peers|remove-peer`
//! and the top-level usage text, printing exactly what Consul
//! 1.10.3's CLI prints (see `shared/reference/golden/cli.md`), down to help texts, error
//! wording and exit codes.
//!
//! Layout: [`args`] parses Go-style flags and renders Consul's help, [`http`] finds and
//! talks to the agent, [`command`] holds what the agent-facing commands share (help
//! handling, command groups, the Go `api` package's error wording), [`tabwriter`] and
//! [`columnize`] align tables like Go's `text/tabwriter` and `ryanuber/columnize`,
//! `crate::regexp` (Go-syntax regexps) serves `members -status`; the other modules
//! are the commands. Every command writes through a [`Ui`] so tests can capture its
//! output.
//!
//! Texts name the program `consul`, as Consul's own do, so scripts and people reading
//! Consul's documentation see what they expect; change [`APP_NAME`] to rename.

mod args;
mod catalog;
mod columnize;
mod command;
mod event;
mod force_leave;
mod http;
mod join;
mod keygen;
mod kv;
mod lifecycle;
mod lock;
mod maint;
mod members;
mod operator;
mod services;
mod tabwriter;
mod validate;
mod version;
mod watch;

use std::fmt::Write as _;
use std::io::{self, BufWriter, Read, Write};

/// The program name used in usage texts.
const APP_NAME: &str = "consul";

/// Top-level commands listed by [`print_usage`], with Consul's synopses, sorted by name.
const COMMANDS: [(&str, &str); 17] = [
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
    ("maint", "Controls node or service maintenance mode"),
    ("members", "Lists the members of a Consul cluster"),
    ("operator", "Provides cluster-level tools for Consul operators"),
    ("reload", "Triggers the agent to reload configuration files"),
    ("services", "Interact with services"),
    ("validate", "Validate config files/directories"),
    ("version", "Prints the Consul version"),
    ("watch", "Watch for changes in Consul"),
];

/// `rconsul version`: prints Consul's version banner to stdout and returns 0.
///
/// The first line is `Consul v1.10.3` because tools parse it; rconsul's own version is on
/// the `Revision` line.
pub fn run_version() -> i32 {
    with_std_ui(version::run)
}

/// `rconsul keygen`: prints a new gossip encryption key; returns the exit code.
pub fn run_keygen(args: &[String]) -> i32 {
    with_std_ui(|ui| keygen::run(ui, args))
}

/// `rconsul validate [-quiet] FILE_OR_DIRECTORY...`: checks config files as the agent
/// would read them; returns the exit code.
pub fn run_validate(args: &[String]) -> i32 {
    with_std_ui(|ui| validate::run(ui, args))
}

/// `rconsul kv ...`, where `args` are the arguments after `kv`; returns the exit code.
///
/// `get`, `put` and `delete` behave like Consul's. With no (or an unknown) subcommand the
/// `kv` help goes to stderr with exit code 1; `-h`, `-help` or `--help` anywhere prints the
/// relevant help to stderr with exit code 0, as Consul's CLI library does.
pub fn run_kv(args: &[String]) -> i32 {
    with_std_ui(|ui| kv::run(ui, args))
}

/// `rconsul lock [options] PREFIX CHILD...`: runs CHILD while holding a lock (or one of
/// `-n` semaphore slots) under PREFIX; returns the exit code.
pub fn run_lock(args: &[String]) -> i32 {
    with_std_ui(|ui| lock::run(ui, args))
}

/// `rconsul catalog ...` (`datacenters`, `nodes`, `services`), where `args` are the
/// arguments after `catalog`; returns the exit code.
///
/// An empty listing prints Consul's `No nodes match the given query - try expanding your
/// search.` (or `services`) to stderr and still exits 0, as Consul 1.10 does.
pub fn run_catalog(args: &[String]) -> i32 {
    with_std_ui(|ui| catalog::run(ui, args))
}

/// `rconsul services register|deregister ...`, where `args` are the arguments after
/// `services`; returns the exit code.
pub fn run_services(args: &[String]) -> i32 {
    with_std_ui(|ui| services::run(ui, args))
}

/// `rconsul maint [-enable|-disable] [-reason=...] [-service=<id>]`, where `args` are the
/// arguments after `maint`; returns the exit code.
pub fn run_maint(args: &[String]) -> i32 {
    with_std_ui(|ui| maint::run(ui, args))
}

/// `rconsul reload`: asks the agent to reload its configuration; returns the exit code.
pub fn run_reload(args: &[String]) -> i32 {
    with_std_ui(|ui| lifecycle::run_reload(ui, args))
}

/// `rconsul members [-detailed] [-status=<regexp>] [-wan]`, where `args` are the arguments
/// after `members`; returns 0, 1 on errors, or 2 when no member matches `-status`.
pub fn run_members(args: &[String]) -> i32 {
    with_std_ui(|ui| members::run(ui, args))
}

/// `rconsul event -name=NAME [-node|-service|-tag=<regexp>] [payload]`: fires a user
/// event; returns the exit code.
pub fn run_event(args: &[String]) -> i32 {
    with_std_ui(|ui| event::run(ui, args))
}

/// `rconsul watch -type=TYPE [options] [handler...]`: runs the handler on every change
/// of the view (or prints it once without a handler); returns the exit code.
pub fn run_watch(args: &[String]) -> i32 {
    with_std_ui(|ui| watch::run(ui, args))
}

/// `rconsul join [-wan] ADDR...`: asks the agent to join the cluster through each
/// address; returns 0 if any join succeeded.
pub fn run_join(args: &[String]) -> i32 {
    with_std_ui(|ui| join::run(ui, args))
}

/// `rconsul force-leave [-prune] NODE`: moves a failed member to `left`; returns the
/// exit code.
pub fn run_force_leave(args: &[String]) -> i32 {
    with_std_ui(|ui| force_leave::run(ui, args))
}

/// `rconsul operator raft list-peers|remove-peer ...`, where `args` are the arguments
/// after `operator`; returns the exit code.
pub fn run_operator(args: &[String]) -> i32 {
    with_std_ui(|ui| operator::run(ui, args))
}

/// `rconsul leave`: asks the agent to leave the cluster gracefully and shut down; returns
/// the exit code.
pub fn run_leave(args: &[String]) -> i32 {
    with_std_ui(|ui| lifecycle::run_leave(ui, args))
}

/// Prints the top-level usage (`Usage: consul [--version] [--help] <command> [<args>]` and
/// the command list) to stderr.
///
/// Consul exits with 127 after printing this for an unknown command, and with 0 for
/// `--help`/`-h` given without a command.
pub fn print_usage() {
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
             agent          Runs a Consul agent\n    \
             catalog        Interact with the catalog\n    \
             event          Fire a new event\n    \
             force-leave    Forces a member of the cluster to enter the \"left\" state\n    \
             join           Tell Consul agent to join cluster\n    \
             keygen         Generates a new encryption key\n    \
             kv             Interact with the key-value store\n    \
             leave          Gracefully leaves the Consul cluster and shuts down\n    \
             lock           Execute a command holding a lock\n    \
             maint          Controls node or service maintenance mode\n    \
             members        Lists the members of a Consul cluster\n    \
             operator       Provides cluster-level tools for Consul operators\n    \
             reload         Triggers the agent to reload configuration files\n    \
             services       Interact with services\n    \
             validate       Validate config files/directories\n    \
             version        Prints the Consul version\n    \
             watch          Watch for changes in Consul\n\n"
        );
    }
}
