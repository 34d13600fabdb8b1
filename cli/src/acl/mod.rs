//! `consul acl ...`, as Consul 1.17's `command/acl`: `bootstrap`, `policy`, `token`, `role`,
//! `auth-method`, `binding-rule`, `templated-policy` and `set-agent-token`, over the
//! agent's `/v1/acl/*` and `/v1/agent/token/*` endpoints. This module holds the group and
//! what the families share (Consul's `command/acl/acl_helpers.go` and
//! `command/helpers.LoadDataSource`); [`api`] has the Go `api` package's types and
//! [`format`] Go's JSON and time printing.

mod agent_token;
pub(crate) mod api;
mod auth_method;
mod binding_rule;
mod bootstrap;
pub(crate) mod format;
mod policy;
mod role;
mod templated_policy;
mod token;
mod token_expanded;
mod token_format;
mod token_update;

use serde::de::DeserializeOwned;

use crate::args::{Flag, ParseError, Parsed};
use crate::command::{self, HttpFlags, Subcommand};
use crate::http::{go_io_error, Client, HttpError, Response};
use crate::Ui;

use api::{
    Link, NodeIdentity, PolicyListEntry, Role, ServiceIdentity, TemplatedPolicy, TemplatedPolicyVariables,
};

const ACL_HELP: &str = r#"
Usage: consul acl <subcommand> [options] [args]

  This command has subcommands for interacting with Consul's ACLs.
  Here are some simple examples, and more detailed examples are available
  in the subcommands or the documentation.

  Bootstrap ACLs:

      $ consul acl bootstrap

  List all ACL Tokens:

      $ consul acl token list

  Create a new ACL Policy:

      $ consul acl policy create "new-policy" \
                                 -description "This is an example policy" \
                                 -datacenter "dc1" \
                                 -datacenter "dc2" \
                                 -rules @rules.hcl

  Set the default agent token:

      $ consul acl set-agent-token default 0bc6bc46-f25e-4262-b2d9-ffbe1d96be6f

  For more examples, ask for subcommand help or view the documentation.
"#;

const SUBCOMMANDS: &[Subcommand] = &[
    Subcommand {
        name: "auth-method",
        synopsis: "Manage Consul's ACL auth methods",
        run: auth_method::run,
    },
    Subcommand {
        name: "binding-rule",
        synopsis: "Manage Consul's ACL binding rules",
        run: binding_rule::run,
    },
    Subcommand {
        name: "bootstrap",
        synopsis: "Bootstrap Consul's ACL system",
        run: bootstrap::run,
    },
    Subcommand {
        name: "policy",
        synopsis: "Manage Consul's ACL policies",
        run: policy::run,
    },
    Subcommand {
        name: "role",
        synopsis: "Manage Consul's ACL roles",
        run: role::run,
    },
    Subcommand {
        name: "set-agent-token",
        synopsis: "Assign tokens for the Consul Agent's usage",
        run: agent_token::run,
    },
    Subcommand {
        name: "templated-policy",
        synopsis: "Manage Consul's ACL templated policies",
        run: templated_policy::run,
    },
    Subcommand {
        name: "token",
        synopsis: "Manage Consul's ACL tokens",
        run: token::run,
    },
];

/// `consul acl <args>`.
pub(crate) fn run(ui: &mut Ui<'_>, args: &[String]) -> i32 {
    command::run_group(ui, ACL_HELP, SUBCOMMANDS, args)
}

/// The ID of the built-in `global-management` policy.
const GLOBAL_MANAGEMENT_ID: &str = "00000000-0000-0000-0000-000000000001";
/// The accessor ID of the anonymous token.
const ANONYMOUS_TOKEN_ID: &str = "00000000-0000-0000-0000-000000000002";

/// Runs a leaf ACL command like [`command::run_command`], with the HTTP client and server
/// flags; `hidden` flags (Consul's deprecated ones, defined after the help text is built)
/// parse but are left out of `-help`. `run` gets the rendered help too, which some
/// commands print after a missing required flag.
pub(crate) fn run_leaf(
    ui: &mut Ui<'_>,
    help: &str,
    own: &[Flag],
    hidden: &[Flag],
    args: &[String],
    run: impl FnOnce(&mut Ui<'_>, &Parsed, &str) -> i32,
) -> i32 {
    let shown = command::flag_set(own, HttpFlags::ClientAndServer);
    let usage = shown.usage(help);
    if command::wants_help(args) {
        ui.error_raw(&format!("{usage}\n"));
        return 0;
    }
    let all = command::flag_set(&[own, hidden].concat(), HttpFlags::ClientAndServer);
    match all.parse(args) {
        Ok(parsed) => run(ui, &parsed, &usage),
        Err(e) => {
            if let ParseError::Invalid(msg) = e {
                ui.error(msg);
            }
            ui.error_raw(&format!("Usage:\n{}", all.defaults()));
            1
        }
    }
}

/// Prints a formatter's output the way Consul does: `UI.Info(out)` unless it is empty.
pub(crate) fn print(ui: &mut Ui<'_>, out: &str) {
    if !out.is_empty() {
        ui.info(out);
    }
}

/// A string flag's value (`""` when not given).
pub(crate) fn text<'a>(flags: &'a Parsed, name: &str) -> &'a str {
    flags.string(name).unwrap_or_default()
}

/// `requireOK` then decode.
pub(crate) fn read_json<T: DeserializeOwned + Default>(
    result: Result<Response, HttpError>,
) -> Result<T, String> {
    command::get_json(result)
}

/// The Go `api` package's `requireNotFoundOrOK` then decode: `None` for a 404.
pub(crate) fn read_optional<T: DeserializeOwned + Default>(
    result: Result<Response, HttpError>,
) -> Result<Option<T>, String> {
    let resp = result.map_err(|e| e.to_string())?;
    match resp.status {
        200 => command::decode(&resp.body).map(Some),
        404 => Ok(None),
        _ => Err(resp.unexpected()),
    }
}

/// `requireOK` and nothing else (deletes).
pub(crate) fn require_ok(result: Result<Response, HttpError>) -> Result<(), String> {
    command::require_ok(result).map(|_| ())
}

/// Go's `url.QueryEscape`, which the `api` package applies to names in paths.
pub(crate) fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(char::from(b));
        } else if b == b' ' {
            out.push('+');
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Consul's `helpers.LoadDataSource`: `@path` reads a file, `-` reads stdin, anything else
/// is the value itself.
pub(crate) fn load_data_source(ui: &mut Ui<'_>, data: &str) -> Result<String, String> {
    if let Some(path) = data.strip_prefix('@') {
        return read_file(path);
    }
    if data == "-" {
        let mut bytes = Vec::new();
        ui.stdin
            .read_to_end(&mut bytes)
            .map_err(|e| format!("Failed to read stdin: {}", go_io_error(&e)))?;
        return Ok(String::from_utf8_lossy(&bytes).into_owned());
    }
    Ok(data.to_string())
}

/// `LoadDataSource`'s file read, with Go's error text.
pub(crate) fn read_file(path: &str) -> Result<String, String> {
    std::fs::read(path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .map_err(|e| format!("Failed to read file: open {path}: {}", go_io_error(&e)))
}

/// Resolves a unique prefix among `ids` (Consul's `Get*IDFromPartial`).
fn unique_prefix(ids: impl Iterator<Item = String>, partial: &str, what: &str) -> Result<String, String> {
    let mut found: Option<String> = None;
    for id in ids.filter(|id| id.starts_with(partial)) {
        if found.is_some() {
            return Err(format!("Partial {what} ID is not unique"));
        }
        found = Some(id);
    }
    found.ok_or_else(|| format!("No such {what} ID with prefix: {partial}"))
}

/// `GetTokenAccessorIDFromPartial`.
pub(crate) fn token_accessor_from_partial(client: &Client, partial: &str) -> Result<String, String> {
    if partial == "anonymous" {
        return Ok(ANONYMOUS_TOKEN_ID.to_string());
    }
    if partial.len() == 36 {
        return Ok(partial.to_string());
    }
    let tokens: Vec<api::TokenListEntry> = read_json(client.get("/v1/acl/tokens", Vec::new()))?;
    unique_prefix(tokens.into_iter().map(|t| t.accessor_id), partial, "token")
}

/// `GetPolicyIDFromPartial`.
pub(crate) fn policy_id_from_partial(client: &Client, partial: &str) -> Result<String, String> {
    if partial == "global-management" {
        return Ok(GLOBAL_MANAGEMENT_ID.to_string());
    }
    if partial.len() == 36 {
        return Ok(partial.to_string());
    }
    let policies: Vec<PolicyListEntry> = read_json(client.get("/v1/acl/policies", Vec::new()))?;
    unique_prefix(policies.into_iter().map(|p| p.id), partial, "policy")
}

/// `GetPolicyByName`: `GET /v1/acl/policy/name/<name>`.
pub(crate) fn policy_by_name(client: &Client, name: &str) -> Result<Option<api::Policy>, String> {
    if name.is_empty() {
        return Err("No name specified".into());
    }
    let path = format!("/v1/acl/policy/name/{}", query_escape(name));
    read_optional(client.get(&path, Vec::new()))
        .map_err(|e| format!("Failed to find policy with name {name}: {e}"))
}

/// `GetPolicyIDByName`.
pub(crate) fn policy_id_by_name(client: &Client, name: &str) -> Result<String, String> {
    match policy_by_name(client, name)? {
        Some(p) => Ok(p.id),
        None => Err(format!("No such policy with name {name}")),
    }
}

/// `GetRoleIDFromPartial`.
pub(crate) fn role_id_from_partial(client: &Client, partial: &str) -> Result<String, String> {
    if partial.len() == 36 {
        return Ok(partial.to_string());
    }
    let roles: Vec<Role> = read_json(client.get("/v1/acl/roles", Vec::new()))?;
    unique_prefix(roles.into_iter().map(|r| r.id), partial, "role")
}

/// `GetRoleIDByName`.
pub(crate) fn role_id_by_name(client: &Client, name: &str) -> Result<String, String> {
    if name.is_empty() {
        return Err("No name specified".into());
    }
    let roles: Vec<Role> = read_json(client.get("/v1/acl/roles", Vec::new()))?;
    roles
        .into_iter()
        .find(|r| r.name == name)
        .map(|r| r.id)
        .ok_or_else(|| format!("No such role with name {name}"))
}

/// `GetBindingRuleIDFromPartial`.
pub(crate) fn binding_rule_id_from_partial(client: &Client, partial: &str) -> Result<String, String> {
    if partial.len() == 36 {
        return Ok(partial.to_string());
    }
    let rules: Vec<api::BindingRule> = read_json(client.get("/v1/acl/binding-rules", Vec::new()))?;
    match unique_prefix(rules.into_iter().map(|r| r.id), partial, "rule") {
        Err(e) if e.starts_with("No such") => {
            Err(format!("no such rule ID with prefix: {partial}: ACL not found"))
        }
        other => other,
    }
}

/// Policy links for `-policy-name` (sent by name, the agent resolves them) then
/// `-policy-id` (prefixes resolved here), in Consul's order. The error names no ID: Consul's
/// loop shadows the ID with the failed lookup's empty result before printing it.
pub(crate) fn policy_links(client: &Client, names: &[String], ids: &[String]) -> Result<Vec<Link>, String> {
    let mut links: Vec<Link> = names
        .iter()
        .map(|name| Link {
            id: String::new(),
            name: name.clone(),
        })
        .collect();
    for id in ids {
        let resolved =
            policy_id_from_partial(client, id).map_err(|e| format!("Error resolving policy ID : {e}"))?;
        links.push(Link {
            id: resolved,
            name: String::new(),
        });
    }
    Ok(links)
}

/// Role links for `-role-name` then `-role-id`.
pub(crate) fn role_links(client: &Client, names: &[String], ids: &[String]) -> Result<Vec<Link>, String> {
    let mut links: Vec<Link> = names
        .iter()
        .map(|name| Link {
            id: String::new(),
            name: name.clone(),
        })
        .collect();
    for id in ids {
        let resolved =
            role_id_from_partial(client, id).map_err(|e| format!("Error resolving role ID : {e}"))?;
        links.push(Link {
            id: resolved,
            name: String::new(),
        });
    }
    Ok(links)
}

/// `ExtractServiceIdentities`: `NAME` or `NAME:DC1,DC2`.
pub(crate) fn service_identities(raw: &[String]) -> Result<Vec<ServiceIdentity>, String> {
    raw.iter()
        .map(|s| {
            let parts: Vec<&str> = s.split(':').collect();
            match parts.as_slice() {
                [name] => Ok(ServiceIdentity {
                    service_name: name.to_string(),
                    datacenters: None,
                }),
                [name, dcs] => Ok(ServiceIdentity {
                    service_name: name.to_string(),
                    datacenters: Some(dcs.split(',').map(str::to_string).collect()),
                }),
                _ => Err(format!(
                    "Malformed -service-identity argument: {}",
                    command::go_quote(s)
                )),
            }
        })
        .collect()
}

/// `ExtractNodeIdentities`: `NAME:DC`.
pub(crate) fn node_identities(raw: &[String]) -> Result<Vec<NodeIdentity>, String> {
    raw.iter()
        .map(|s| {
            let parts: Vec<&str> = s.split(':').collect();
            match parts.as_slice() {
                [name, dc] => Ok(NodeIdentity {
                    node_name: name.to_string(),
                    datacenter: dc.to_string(),
                }),
                _ => Err(format!(
                    "Malformed -node-identity argument: {}",
                    command::go_quote(s)
                )),
            }
        })
        .collect()
}

/// `-var VariableName:Value` pairs into the templated policy's variables (only `name`
/// exists; Go's case-insensitive JSON decoding also takes `Name`).
pub(crate) fn templated_policy_variables(raw: &[String]) -> Result<Option<TemplatedPolicyVariables>, String> {
    if raw.is_empty() {
        return Ok(None);
    }
    let mut vars = TemplatedPolicyVariables::default();
    for v in raw {
        let parts: Vec<&str> = v.split(':').collect();
        let [key, value] = parts.as_slice() else {
            return Err(format!(
                "malformed -var argument: {}, expecting VariableName:Value",
                command::go_quote(v)
            ));
        };
        if key.eq_ignore_ascii_case("name") {
            vars.name = value.to_string();
        }
    }
    Ok(Some(vars))
}

/// `-templated-policy NAME` with its `-var`s, as the one templated policy a token or role gets.
pub(crate) fn templated_policies(name: &str, vars: &[String]) -> Result<Vec<TemplatedPolicy>, String> {
    if name.is_empty() {
        return Ok(Vec::new());
    }
    Ok(vec![TemplatedPolicy {
        template_name: name.to_string(),
        template_variables: templated_policy_variables(vars)?,
        datacenters: None,
    }])
}

/// `Some(v)` unless `v` is empty (a nil Go slice).
pub(crate) fn non_empty<T>(v: Vec<T>) -> Option<Vec<T>> {
    (!v.is_empty()).then_some(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::testing::offline;

    #[test]
    fn group_help_lists_subcommands() {
        let o = offline(&[], run);
        assert_eq!(o.code, 1);
        assert!(o
            .stderr
            .starts_with("Usage: consul acl <subcommand> [options] [args]\n"));
        assert!(o.stderr.ends_with(
            "Subcommands:\n    \
             auth-method         Manage Consul's ACL auth methods\n    \
             binding-rule        Manage Consul's ACL binding rules\n    \
             bootstrap           Bootstrap Consul's ACL system\n    \
             policy              Manage Consul's ACL policies\n    \
             role                Manage Consul's ACL roles\n    \
             set-agent-token     Assign tokens for the Consul Agent's usage\n    \
             templated-policy    Manage Consul's ACL templated policies\n    \
             token               Manage Consul's ACL tokens\n"
        ));
        assert_eq!(offline(&["-help"], run).code, 0);
    }

    #[test]
    fn identities_parse_like_consul() {
        let svc = service_identities(&["web".into(), "db:east,west".into()]).expect("ok");
        assert_eq!(svc[0].datacenters, None);
        assert_eq!(
            svc[1].datacenters,
            Some(vec!["east".to_string(), "west".to_string()])
        );
        assert_eq!(
            service_identities(&["a:b:c".into()]),
            Err("Malformed -service-identity argument: \"a:b:c\"".into())
        );
        assert_eq!(
            node_identities(&["n1".into()]),
            Err("Malformed -node-identity argument: \"n1\"".into())
        );
        let vars = templated_policy_variables(&["name:api".into()]).expect("ok");
        assert_eq!(vars.map(|v| v.name), Some("api".into()));
        assert!(templated_policy_variables(&["api".into()]).is_err());
        assert_eq!(query_escape("a b/c"), "a+b%2Fc");
    }
}
