//! Every agent-facing command sends the request token as `X-Consul-Token`, from `-token`,
//! `-token-file`, `CONSUL_HTTP_TOKEN` or `CONSUL_HTTP_TOKEN_FILE`, with the Go `api`
//! package's precedence: a token file, when one is set (flag or environment), wins over any
//! token given directly ("If the TokenFile is set, always use that, even if a Token is
//! configured"), flags win over the environment within each kind, and an empty token
//! (`-token=`) falls back to CONSUL_HTTP_TOKEN.

use std::time::Duration;

use crate::command::testing::{args, fake_agent};
use crate::testing as ui_testing;
use crate::Ui;

/// A command, the arguments that select it, its positional arguments (after the flags) and
/// a plausible answer.
type Case = (
    fn(&mut Ui<'_>, &[String]) -> i32,
    &'static [&'static str],
    &'static [&'static str],
    &'static str,
);

const CASES: &[Case] = &[
    (
        crate::members::run,
        &[],
        &[],
        r#"[{"Name":"n1","Addr":"127.0.0.1","Port":8301,"Tags":{},"Status":1}]"#,
    ),
    (crate::catalog::run, &["datacenters"], &[], r#"["dc1"]"#),
    (crate::kv::run, &["get"], &["k"], r#"[{"Key":"k","Value":null}]"#),
    (
        crate::operator::run,
        &["raft", "list-peers"],
        &[],
        r#"{"Servers":[]}"#,
    ),
    (crate::lifecycle::run_reload, &[], &[], ""),
    (crate::acl::run, &["token", "list"], &[], "[]"),
    (crate::acl::run, &["policy", "list"], &[], "[]"),
    (crate::logout::run, &[], &[], ""),
];

/// The token the first request of `case` carried.
fn sent_token(case: &Case, extra: &[&str], env: &[(&str, &str)]) -> Option<String> {
    let (run, prefix, positional, answer) = *case;
    let (addr, rx) = fake_agent(&[(200, answer)]);
    let mut vars = vec![("CONSUL_HTTP_ADDR", addr.as_str())];
    vars.extend_from_slice(env);
    let argv: Vec<&str> = prefix.iter().chain(extra).chain(positional).copied().collect();
    let o = ui_testing::run(&vars, b"", |ui| run(ui, &args(&argv)));
    assert_eq!(o.code, 0, "{argv:?}: {}", o.stderr);
    let seen = rx.recv_timeout(Duration::from_secs(10)).expect("a request");
    seen.header("X-Consul-Token").map(str::to_string)
}

#[test]
fn every_command_sends_the_token_with_consuls_precedence() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("token");
    std::fs::write(&file, "from-file\n").expect("write");
    let file = file.display().to_string();
    let env_file = dir.path().join("env-token");
    std::fs::write(&env_file, "from-env-file").expect("write");
    let env_file = env_file.display().to_string();
    for case in CASES {
        let what = case.1;
        assert_eq!(sent_token(case, &[], &[]), None, "{what:?}");
        assert_eq!(
            sent_token(case, &["-token=flag"], &[]).as_deref(),
            Some("flag"),
            "{what:?}"
        );
        assert_eq!(
            sent_token(case, &[], &[("CONSUL_HTTP_TOKEN", "env")]).as_deref(),
            Some("env"),
            "{what:?}"
        );
        assert_eq!(
            sent_token(case, &["-token=flag"], &[("CONSUL_HTTP_TOKEN", "env")]).as_deref(),
            Some("flag"),
            "{what:?}"
        );
        assert_eq!(
            sent_token(case, &["-token="], &[("CONSUL_HTTP_TOKEN", "env")]).as_deref(),
            Some("env"),
            "{what:?}"
        );
        assert_eq!(
            sent_token(case, &["-token-file", &file], &[]).as_deref(),
            Some("from-file"),
            "{what:?}"
        );
        assert_eq!(
            sent_token(case, &["-token=flag", "-token-file", &file], &[]).as_deref(),
            Some("from-file"),
            "{what:?}"
        );
        assert_eq!(
            sent_token(case, &["-token=flag"], &[("CONSUL_HTTP_TOKEN_FILE", &env_file)]).as_deref(),
            Some("from-env-file"),
            "{what:?}"
        );
        assert_eq!(
            sent_token(
                case,
                &["-token-file", &file],
                &[("CONSUL_HTTP_TOKEN_FILE", &env_file)]
            )
            .as_deref(),
            Some("from-file"),
            "{what:?}"
        );
    }
}
