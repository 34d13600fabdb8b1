//! `consul acl set-agent-token TYPE TOKEN`: `PUT /v1/agent/token/<type>` with
//! `{"Token": ...}`, as Consul's `command/acl/agenttokens`.

use crate::args::Parsed;
use crate::http::{Client, Config};
use crate::Ui;

use super::format;

const HELP: &str = r#"
Usage: consul acl set-agent-token [options] TYPE TOKEN

  This command will set the corresponding token for the agent to use. If token
  persistence is not enabled, then tokens uploaded this way are not persisted
  and if the agent reloads then the tokens will need to be set again.

  Token Types:

    default                           The default token is the token that the agent will use for
                                      both internal agent operations and operations initiated by
                                      the HTTP and DNS interfaces when no specific token is provided.
                                      If not set the agent will use the anonymous token.

    agent                             The token that the agent will use for internal agent operations.
                                      If not given then the default token is used for these operations.

    recovery                          This sets the token that can be used to access the Agent APIs in
                                      the event that the ACL datacenter cannot be reached.

    replication                       This is the token that the agent will use for replication
                                      operations. This token will need to be configured with read access
                                      to whatever data is being replicated.

    config_file_service_registration  This is the token that the agent uses to register services
                                      and checks defined in config files. This token needs to
                                      be configured with permission for the service or checks
                                      being registered. If not set, the default token is used.
                                      If a service or check definition contains a 'token'
                                      field, then that token is used instead.

  Example:

    $ consul acl set-agent-token default c4d0f8df-3aba-4ab6-a7a0-35b760dc29a1
"#;

/// `consul acl set-agent-token <args>`.
pub(crate) fn run(ui: &mut Ui<'_>, args: &[String]) -> i32 {
    super::run_leaf(ui, HELP, &[], &[], args, |ui, flags, _| set(ui, flags))
}

/// The API path segment for a token type; the older `master`/`agent_master` names still work.
fn endpoint(kind: &str) -> Option<&'static str> {
    Some(match kind {
        "default" => "default",
        "agent" => "agent",
        "recovery" => "agent_recovery",
        "master" | "agent_master" => "agent_master",
        "replication" => "replication",
        "config_file_service_registration" => "config_file_service_registration",
        _ => return None,
    })
}

fn set(ui: &mut Ui<'_>, flags: &Parsed) -> i32 {
    let parsed = match flags.args.as_slice() {
        [] => Err("Missing TYPE and TOKEN arguments".to_string()),
        [kind] => match kind.as_str() {
            "default" | "agent" | "recovery" | "replication" => Err("Missing TOKEN argument".to_string()),
            _ => Err("MISSING TYPE argument".to_string()),
        },
        [kind, token] => super::load_data_source(ui, token).map(|t| (kind.clone(), t)),
        more => Err(format!("Too many arguments: expected 2 got {}", more.len())),
    };
    let (kind, token) = match parsed {
        Ok(v) => v,
        Err(e) => {
            ui.error(format!("Error! {e}"));
            return 1;
        }
    };
    let client = match Config::resolve(flags, &|name| ui.env(name)) {
        Ok(config) => Client::new(config),
        Err(e) => {
            ui.error(format!("Error connecting to Consul Agent: {e}"));
            return 1;
        }
    };
    let Some(path) = endpoint(&kind) else {
        ui.error("Unknown token type");
        return 1;
    };
    #[derive(serde::Serialize)]
    struct Request<'a> {
        #[serde(rename = "Token")]
        token: &'a str,
    }
    let body = format::json_body(&Request { token: &token });
    if let Err(e) = super::require_ok(client.put(&format!("/v1/agent/token/{path}"), Vec::new(), &body)) {
        ui.error(format!(
            "Failed to set ACL token {}: {e}",
            crate::command::go_quote(&kind)
        ));
        return 1;
    }
    ui.info(format!(
        "ACL token {} set successfully",
        crate::command::go_quote(&kind)
    ));
    0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::testing::{against, offline};

    #[test]
    fn sets_each_type() {
        for (kind, path) in [
            ("default", "default"),
            ("agent", "agent"),
            ("recovery", "agent_recovery"),
            ("agent_master", "agent_master"),
            ("replication", "replication"),
            (
                "config_file_service_registration",
                "config_file_service_registration",
            ),
        ] {
            let (o, seen) = against(&[(200, "")], &[kind, "c4d0f8df"], run);
            assert_eq!(
                seen[0].request_line,
                format!("PUT /v1/agent/token/{path} HTTP/1.1")
            );
            assert_eq!(seen[0].body, b"{\"Token\":\"c4d0f8df\"}\n");
            assert_eq!(
                (o.code, o.stdout),
                (0, format!("ACL token \"{kind}\" set successfully\n"))
            );
        }
    }

    #[test]
    fn errors_read_like_consul() {
        let o = offline(&[], run);
        assert_eq!(
            (o.code, o.stderr.as_str()),
            (1, "Error! Missing TYPE and TOKEN arguments\n")
        );
        assert_eq!(offline(&["agent"], run).stderr, "Error! Missing TOKEN argument\n");
        assert_eq!(offline(&["x"], run).stderr, "Error! MISSING TYPE argument\n");
        assert_eq!(
            offline(&["a", "b", "c"], run).stderr,
            "Error! Too many arguments: expected 2 got 3\n"
        );
        assert_eq!(offline(&["bogus", "t"], run).stderr, "Unknown token type\n");
        let (o, _) = against(&[(403, "Permission denied")], &["agent", "t"], run);
        assert_eq!(
            o.stderr,
            "Failed to set ACL token \"agent\": Unexpected response code: 403 (Permission denied)\n"
        );
    }
}
