//! `consul logout`: `POST /v1/acl/logout` with the request's token, destroying a token that
//! `consul login` created, as Consul's `command/logout`.

use super::args::Parsed;
use super::command::{self, HttpFlags};
use super::Ui;

const HELP: &str = r#"
Usage: consul logout [options]

  The logout command will destroy the provided token if it was created from
  'consul login'.
"#;

/// `consul logout <args>`.
pub(crate) fn run(ui: &mut Ui<'_>, args: &[String]) -> i32 {
    let set = command::flag_set(&[], HttpFlags::ClientAndServer);
    command::run_command(ui, HELP, &set, args, logout)
}

fn logout(ui: &mut Ui<'_>, flags: &Parsed) -> i32 {
    if !flags.args.is_empty() {
        ui.error("Should have no non-flag arguments.");
        return 1;
    }
    let Some(client) = command::client(ui, flags) else {
        return 1;
    };
    if let Err(e) = command::require_ok(client.post("/v1/acl/logout", Vec::new(), b"")) {
        ui.error(format!("Error destroying token: {e}"));
        return 1;
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::testing::{against, offline};

    #[test]
    fn posts_with_the_token() {
        let (o, seen) = against(&[(200, "")], &["-token=s3cr3t"], run);
        assert_eq!((o.code, o.stdout.as_str(), o.stderr.as_str()), (0, "", ""));
        assert_eq!(seen[0].request_line, "POST /v1/acl/logout HTTP/1.1");
        assert_eq!(seen[0].header("X-Consul-Token"), Some("s3cr3t"));
        let (o, _) = against(&[(403, "ACL not found")], &[], run);
        assert_eq!(
            (o.code, o.stderr.as_str()),
            (
                1,
                "Error destroying token: Unexpected response code: 403 (ACL not found)\n"
            )
        );
        assert_eq!(
            offline(&["x"], run).stderr,
            "Should have no non-flag arguments.\n"
        );
    }
}
