//! `consul acl bootstrap [SECRET-SOURCE]`: `PUT /v1/acl/bootstrap` (with
//! `{"BootstrapSecret": ...}` when a secret is given), printing the management token.

use crate::args::Parsed;
use crate::command;
use crate::http::go_io_error;
use crate::Ui;

use super::api::Token;
use super::format::{self, FORMAT_FLAG};

const HELP: &str = r#"
Usage: consul acl bootstrap [options]

  The bootstrap command will request Consul to generate a new token with unlimited privileges to use
  for management purposes and output its details. This can only be done once and afterwards bootstrapping
  will be disabled. If all tokens are lost and you need to bootstrap again you can follow the bootstrap
  reset procedure
"#;

/// `consul acl bootstrap <args>`.
pub(crate) fn run(ui: &mut Ui<'_>, args: &[String]) -> i32 {
    super::run_leaf(ui, HELP, &[FORMAT_FLAG], &[], args, |ui, flags, _| {
        bootstrap(ui, flags)
    })
}

/// Consul's `helpers.LoadDataSourceNoRaw`: `-` is stdin, anything else a file (`@` optional).
fn load_no_raw(ui: &mut Ui<'_>, source: &str) -> Result<String, String> {
    if source == "-" {
        let mut bytes = Vec::new();
        ui.stdin
            .read_to_end(&mut bytes)
            .map_err(|e| format!("Failed to read stdin: {}", go_io_error(&e)))?;
        return Ok(String::from_utf8_lossy(&bytes).into_owned());
    }
    super::read_file(source.strip_prefix('@').unwrap_or(source))
}

fn bootstrap(ui: &mut Ui<'_>, flags: &Parsed) -> i32 {
    if flags.args.len() > 1 {
        ui.error("This command takes up to one argument");
        return 1;
    }
    let secret = match flags.args.first() {
        Some(source) => match load_no_raw(ui, source) {
            Ok(s) => s.trim().to_string(),
            Err(e) => {
                ui.error(format!("Error reading provided token: {e}"));
                return 1;
            }
        },
        None => String::new(),
    };
    let Some(client) = command::client(ui, flags) else {
        return 1;
    };
    let body = if secret.is_empty() {
        Vec::new()
    } else {
        #[derive(serde::Serialize)]
        struct Request<'a> {
            #[serde(rename = "BootstrapSecret")]
            secret: &'a str,
        }
        format::json_body(&Request { secret: &secret })
    };
    match super::read_json::<Token>(client.put("/v1/acl/bootstrap", Vec::new(), &body)) {
        Ok(t) => super::token_format::show(ui, flags, &t, false),
        Err(e) => {
            ui.error(format!("Failed ACL bootstrapping: {e}"));
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::testing::against;

    const TOKEN: &str = r#"{"AccessorID":"527347d3-9653-07dc-adc0-598b8f2b0f4d","SecretID":"b78d37c7-0ca7-5f4d-99ee-6d9975ce4586","Description":"Bootstrap Token (Global Management)","Policies":[{"ID":"00000000-0000-0000-0000-000000000001","Name":"global-management"}],"Local":false,"CreateTime":"2018-10-24T10:34:20.843397-04:00","Hash":"oyrov6+GFLjo/KZAfqgxF/X4J/3LX0435DOBy9V22I0=","CreateIndex":12,"ModifyIndex":12}"#;

    #[test]
    fn prints_the_management_token() {
        let (o, seen) = against(&[(200, TOKEN)], &[], run);
        assert_eq!(seen[0].request_line, "PUT /v1/acl/bootstrap HTTP/1.1");
        assert!(seen[0].body.is_empty());
        assert_eq!(o.code, 0);
        let create = format::go_time("2018-10-24T10:34:20.843397-04:00");
        assert_eq!(
            o.stdout,
            format!(
                "AccessorID:       527347d3-9653-07dc-adc0-598b8f2b0f4d\n\
                 SecretID:         b78d37c7-0ca7-5f4d-99ee-6d9975ce4586\n\
                 Description:      Bootstrap Token (Global Management)\n\
                 Local:            false\n\
                 Create Time:      {create}\n\
                 Policies:\n   00000000-0000-0000-0000-000000000001 - global-management\n\n"
            )
        );
        assert!(create.starts_with("2018-10-24 10:34:20.843397 -0400 "));

        let (o, _) = against(&[(200, TOKEN)], &["-format=json"], run);
        assert!(o
            .stdout
            .starts_with("{\n    \"CreateIndex\": 12,\n    \"ModifyIndex\": 12,\n"));
        assert!(o
            .stdout
            .ends_with("\"Hash\": \"oyrov6+GFLjo/KZAfqgxF/X4J/3LX0435DOBy9V22I0=\"\n}\n"));
    }

    #[test]
    fn errors_and_a_given_secret() {
        let (o, _) = against(
            &[(
                403,
                "Permission denied: ACL bootstrap no longer allowed (reset index: 12)",
            )],
            &[],
            run,
        );
        assert_eq!(
            (o.code, o.stderr.as_str()),
            (
                1,
                "Failed ACL bootstrapping: Unexpected response code: 403 (Permission denied: ACL bootstrap no longer allowed (reset index: 12))\n"
            )
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("secret");
        std::fs::write(&file, "b78d37c7-0ca7-5f4d-99ee-6d9975ce4586\n").expect("write");
        let file = file.to_string_lossy().to_string();
        let (_, seen) = against(&[(200, TOKEN)], &[&file], run);
        assert_eq!(
            seen[0].body,
            b"{\"BootstrapSecret\":\"b78d37c7-0ca7-5f4d-99ee-6d9975ce4586\"}\n"
        );
        let (o, _) = against(&[], &["a", "b"], run);
        assert_eq!(o.stderr, "This command takes up to one argument\n");
    }
}
