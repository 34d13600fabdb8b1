//! `consul login`: trades a bearer token for a Consul token through an auth method
//! (`POST /v1/acl/login` with `{"AuthMethod", "BearerToken", "Meta"}`, sent without any ACL
//! token) and writes the new token's SecretID to `-token-sink-file`, as Consul's
//! `command/login` (the AWS IAM flags are not supported).

use std::io::Write as _;

use serde::Serialize;

use super::acl::{format, read_json};
use super::args::{Kind, Parsed};
use super::command::{self, flag, HttpFlags};
use super::http::{go_io_error, Client, Config};
use super::Ui;

const HELP: &str = r#"
Usage: consul login [options]

  The login command will exchange the provided third party credentials with the
  requested auth method for a newly minted Consul ACL token. The companion
  command 'consul logout' should be used to destroy any tokens created this way
  to avoid a resource leak.
"#;

/// The Go `api` package's `ACLLoginParams`.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct LoginParams<'a> {
    auth_method: &'a str,
    bearer_token: &'a str,
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    meta: std::collections::BTreeMap<String, String>,
}

/// `consul login <args>`.
pub(crate) fn run(ui: &mut Ui<'_>, args: &[String]) -> i32 {
    let own = [
        flag("method", Kind::Str, "", "Name of the auth method to login to."),
        flag(
            "type",
            Kind::Str,
            "",
            "Type of the auth method to login to. This field is optional and defaults to no type.",
        ),
        flag(
            "bearer-token-file",
            Kind::Str,
            "",
            "Path to a file containing a secret bearer token to use with this auth method.",
        ),
        flag(
            "token-sink-file",
            Kind::Str,
            "",
            "The most recent token's SecretID is kept up to date in this file.",
        ),
        flag(
            "meta",
            Kind::Map,
            "",
            "Metadata to set on the token, formatted as key=value. This flag may be specified multiple times to \
             set multiple meta fields.",
        ),
    ];
    let set = command::flag_set(&own, HttpFlags::ClientAndServer);
    command::run_command(ui, HELP, &set, args, login)
}

fn login(ui: &mut Ui<'_>, flags: &Parsed) -> i32 {
    if !flags.args.is_empty() {
        ui.error("Should have no non-flag arguments.");
        return 1;
    }
    let method = flags.string("method").unwrap_or_default();
    if method.is_empty() {
        ui.error("Missing required '-method' flag");
        return 1;
    }
    let sink = flags.string("token-sink-file").unwrap_or_default();
    if sink.is_empty() {
        ui.error("Missing required '-token-sink-file' flag");
        return 1;
    }
    let bearer_file = flags.string("bearer-token-file").unwrap_or_default();
    if bearer_file.is_empty() {
        ui.error("Missing required '-bearer-token-file' flag");
        return 1;
    }
    let bearer = match std::fs::read_to_string(bearer_file) {
        Ok(data) => data.trim().to_string(),
        Err(e) => {
            ui.error(format!("open {bearer_file}: {}", go_io_error(&e)));
            return 1;
        }
    };
    if bearer.is_empty() {
        ui.error(format!("No bearer token found in {bearer_file}"));
        return 1;
    }
    // Consul empties -token and -token-file; `api.NewClient` then falls back to
    // CONSUL_HTTP_TOKEN (not to CONSUL_HTTP_TOKEN_FILE), so only that token can be sent.
    let client = match Config::resolve(flags, &|name| {
        if name.starts_with("CONSUL_HTTP_TOKEN") {
            None
        } else {
            ui.env(name)
        }
    }) {
        Ok(mut config) => {
            config.set_token(&ui.env("CONSUL_HTTP_TOKEN").unwrap_or_default());
            Client::new(config)
        }
        Err(e) => {
            ui.error(format!("Error connecting to Consul agent: {e}"));
            return 1;
        }
    };
    let body = format::json_body(&LoginParams {
        auth_method: method,
        bearer_token: &bearer,
        meta: flags.map("meta"),
    });
    let token: super::acl::api::Token = match read_json(client.post("/v1/acl/login", Vec::new(), &body)) {
        Ok(t) => t,
        Err(e) => {
            ui.error(format!("Error logging in: {e}"));
            return 1;
        }
    };
    if let Err(e) = write_sink(sink, &token.secret_id) {
        ui.error(format!("Error writing token to file sink: {e}"));
        return 1;
    }
    0
}

/// Consul's `file.WriteAtomicWithPerms(path, secret, 0755, 0600)`: the directory is created,
/// the secret written to a temporary file beside it and renamed into place.
fn write_sink(path: &str, secret: &str) -> Result<(), String> {
    use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
    let target = std::path::Path::new(path);
    if let Some(dir) = target.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(dir)
            .map_err(|e| format!("mkdir {}: {}", dir.display(), go_io_error(&e)))?;
    }
    let tmp = format!("{path}-{}.tmp", std::process::id());
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(secret.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, target)
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        format!("{path}: {}", go_io_error(&e))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::testing::{args, fake_agent, offline};
    use crate::testing as ui_testing;

    #[test]
    fn logs_in_without_the_flag_token_and_writes_the_sink() {
        let dir = tempfile::tempdir().expect("tempdir");
        let bearer = dir.path().join("jwt");
        std::fs::write(&bearer, "eyJhbGc\n").expect("write");
        let sink = dir.path().join("sub/token");
        let (addr, rx) = fake_agent(&[(200, r#"{"AccessorID":"a","SecretID":"s3cr3t"}"#)]);
        let (bearer, sink_s) = (bearer.display().to_string(), sink.display().to_string());
        let o = ui_testing::run(
            &[
                ("CONSUL_HTTP_ADDR", &addr),
                ("CONSUL_HTTP_TOKEN_FILE", "/nonexistent/token"),
            ],
            b"",
            |ui| {
                run(
                    ui,
                    &args(&[
                        "-method=minikube",
                        "-bearer-token-file",
                        &bearer,
                        "-token-sink-file",
                        &sink_s,
                        "-meta=host=h1",
                        "-token=flag-token",
                    ]),
                )
            },
        );
        assert_eq!((o.code, o.stderr.as_str()), (0, ""));
        let seen = rx.recv().expect("request");
        assert_eq!(seen.request_line, "POST /v1/acl/login HTTP/1.1");
        assert_eq!(seen.header("X-Consul-Token"), None);

        // api.NewClient's fallback: CONSUL_HTTP_TOKEN is still sent.
        let (addr, rx) = fake_agent(&[(200, r#"{"SecretID":"s2"}"#)]);
        let o = ui_testing::run(
            &[("CONSUL_HTTP_ADDR", &addr), ("CONSUL_HTTP_TOKEN", "env-token")],
            b"",
            |ui| {
                run(
                    ui,
                    &args(&[
                        "-method=m",
                        "-bearer-token-file",
                        &bearer,
                        "-token-sink-file",
                        &sink_s,
                    ]),
                )
            },
        );
        assert_eq!(o.code, 0, "{}", o.stderr);
        assert_eq!(
            rx.recv().expect("request").header("X-Consul-Token"),
            Some("env-token")
        );
        assert_eq!(
            seen.body,
            b"{\"AuthMethod\":\"minikube\",\"BearerToken\":\"eyJhbGc\",\"Meta\":{\"host\":\"h1\"}}\n"
        );
        assert_eq!(std::fs::read_to_string(&sink).expect("sink"), "s2");
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&sink).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn errors_read_like_consul() {
        assert_eq!(offline(&[], run).stderr, "Missing required '-method' flag\n");
        assert_eq!(
            offline(&["-method=m"], run).stderr,
            "Missing required '-token-sink-file' flag\n"
        );
        assert_eq!(
            offline(&["-method=m", "-token-sink-file=/tmp/x"], run).stderr,
            "Missing required '-bearer-token-file' flag\n"
        );
        assert_eq!(
            offline(
                &[
                    "-method=m",
                    "-token-sink-file=/tmp/x",
                    "-bearer-token-file=/nonexistent/jwt"
                ],
                run
            )
            .stderr,
            "open /nonexistent/jwt: no such file or directory\n"
        );
        assert_eq!(
            offline(&["extra"], run).stderr,
            "Should have no non-flag arguments.\n"
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let bearer = dir.path().join("jwt");
        std::fs::write(&bearer, "jwt").expect("write");
        let bearer = bearer.display().to_string();
        let (o, _) = crate::command::testing::against(
            &[(403, "Permission denied")],
            &[
                "-method=m",
                "-token-sink-file=/tmp/never",
                "-bearer-token-file",
                &bearer,
            ],
            run,
        );
        assert_eq!(
            o.stderr,
            "Error logging in: Unexpected response code: 403 (Permission denied)\n"
        );
    }
}
