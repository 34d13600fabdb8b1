//! The workspace's dependency rule, read from the crates' `Cargo.toml`s:
//!
//! ```text
//! agent ──► {http-api, dns, raft, gossip} ──► state ──► compat
//! cli ──► compat          (the CLI reaches an agent over HTTP only)
//! bench ──► compat        (a load generator: HTTP only)
//! ```
//!
//! Every section that names dependencies (`[dependencies]`, `[dev-dependencies]`,
//! `[build-dependencies]`, target-specific ones) counts: `cargo tree` shows them all.

use std::collections::BTreeSet;
use std::path::Path;

/// Each crate directory and the rconsul crates it may depend on.
const ALLOWED: &[(&str, &[&str])] = &[
    ("compat", &[]),
    ("state", &["compat"]),
    ("raft", &["state", "compat"]),
    ("gossip", &["state", "compat"]),
    ("dns", &["state", "compat"]),
    ("http-api", &["state", "compat"]),
    ("cli", &["compat"]),
    ("bench", &["compat"]),
    (
        "agent",
        &["state", "raft", "gossip", "dns", "http-api", "cli", "compat"],
    ),
];

/// Crates nothing may depend on, whatever the table says: the CLI and the daemon's
/// storage and consensus stay apart.
const NEVER_IN_CLI: &[&str] = &[
    "rconsul-state",
    "rconsul-raft",
    "rconsul-gossip",
    "rconsul-dns",
    "rconsul-http-api",
    "sled",
    "openraft",
];

fn workspace_root() -> &'static Path {
    // This test target belongs to agent/, so its manifest dir is <root>/agent.
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("agent/ has a parent")
}

/// The names of every dependency a manifest declares, in any dependency section.
fn dependencies(manifest: &str) -> BTreeSet<String> {
    let mut in_deps = false;
    let mut names = BTreeSet::new();
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            let section = line.trim_matches(|c| c == '[' || c == ']');
            in_deps = section.ends_with("dependencies");
            continue;
        }
        if !in_deps || line.is_empty() || line.starts_with('#') {
            continue;
        }
        // `name = ...` or `name.workspace = true`.
        let key = line.split(['=', '.']).next().unwrap_or("").trim();
        if !key.is_empty() {
            names.insert(key.trim_matches('"').to_string());
        }
    }
    names
}

#[test]
fn every_crate_is_listed_once_and_exists() {
    let root = workspace_root();
    let workspace = std::fs::read_to_string(root.join("Cargo.toml")).expect("root manifest");
    let members_line = workspace
        .lines()
        .find(|l| l.trim_start().starts_with("members"))
        .expect("a members line");
    let members: BTreeSet<&str> = members_line.split('"').skip(1).step_by(2).collect();
    let listed: BTreeSet<&str> = ALLOWED.iter().map(|(name, _)| *name).collect();
    assert_eq!(members, listed, "the rule table names every workspace member");
}

#[test]
fn dependencies_point_one_way() {
    let root = workspace_root();
    for (krate, allowed) in ALLOWED {
        let manifest = std::fs::read_to_string(root.join(krate).join("Cargo.toml"))
            .unwrap_or_else(|e| panic!("{krate}/Cargo.toml: {e}"));
        let deps = dependencies(&manifest);
        for dep in &deps {
            let Some(internal) = dep.strip_prefix("rconsul-") else {
                continue;
            };
            assert!(
                allowed.contains(&internal),
                "{krate} depends on {dep}, which the dependency rule does not allow \
                 (allowed: {allowed:?})"
            );
        }
        if *krate == "cli" {
            for never in NEVER_IN_CLI {
                assert!(!deps.contains(*never), "cli depends on {never}");
            }
        }
    }
}

#[test]
fn the_parser_sees_every_form_of_dependency() {
    let deps = dependencies(
        "[package]\nname = \"x\"\n[dependencies]\nrconsul-state.workspace = true\n\
         sled = \"0.34\"\n# comment\n[dev-dependencies]\nrconsul-raft = { path = \"../raft\" }\n\
         [target.'cfg(unix)'.dependencies]\nlibc = \"0.2\"\n[features]\nrconsul-dns = []\n",
    );
    let want: BTreeSet<String> = ["rconsul-state", "sled", "rconsul-raft", "libc"]
        .into_iter()
        .map(String::from)
        .collect();
    assert_eq!(deps, want);
}
