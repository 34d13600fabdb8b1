//! `consul acl token create|read|delete|list|clone` (`update` is in `token_update.rs`) and
//! the token formatter, as Consul's `command/acl/token`.

use crate::args::{Flag, Kind, Parsed};
use crate::command::{self, flag, Subcommand};
use crate::Ui;

use super::api::{Token, TokenListEntry};
use super::format::{self, Format, FORMAT_FLAG};
use super::token_format::{pretty, show};
use super::{print, text};

const HELP: &str = r#"
Usage: consul acl token <subcommand> [options] [args]

  This command has subcommands for managing Consul ACL tokens.
  Here are some simple examples, and more detailed examples are available
  in the subcommands or the documentation.

  Create a new ACL token:

      $ consul acl token create \
                                 -description "This is an example token" \
                                 -policy-id 06acc965
  List all tokens:

      $ consul acl token list

  Update a token:

      $ consul acl token update -accessor-id 986193 -description "WonderToken"

  Read a token with an accessor ID:

    $ consul acl token read -accessor-id 986193

  Delete a token

    $ consul acl token delete -accessor-id 986193

  For more examples, ask for subcommand help or view the documentation.
"#;

const CREATE_HELP: &str = r#"
Usage: consul acl token create [options]

  When creating a new token policies may be linked using either the -policy-id
  or the -policy-name options. When specifying policies by IDs you may use a
  unique prefix of the UUID as a shortcut for specifying the entire UUID.

  Create a new token:

          $ consul acl token create -description "Replication token" \
                                    -policy-id b52fc3de-5 \
                                    -policy-name "acl-replication" \
                                    -role-id c630d4ef-6 \
                                    -role-name "db-updater" \
                                    -service-identity "web" \
                                    -service-identity "db:east,west"
"#;

const READ_HELP: &str = r#"
Usage: consul acl token read [options] -accessor-id TOKENID

  This command will retrieve and print out the details of
  a single token.

  Using a partial ID:

          $ consul acl token read -accessor-id 4be56c77-82

  Using the full ID:

          $ consul acl token read -accessor-id 4be56c77-8244-4c7d-b08c-667b8c71baed
"#;

const DELETE_HELP: &str = r#"
Usage: consul acl token delete [options] -accessor-id TOKEN

  Deletes an ACL token by providing either the ID or a unique ID prefix.

      Delete by prefix:

          $ consul acl token delete -accessor-id b6b85

      Delete by full ID:

          $ consul acl token delete -accessor-id b6b856da-5193-4e78-845a-7d61ca8371ba
"#;

const LIST_HELP: &str = r#"
Usage: consul acl token list [options]

  List all the ACL tokens

          $ consul acl token list
"#;

const CLONE_HELP: &str = r#"
Usage: consul acl token clone [options]

    This command will clone a token. When cloning an alternate description may be given
    for use with the new token.

    Example:

        $ consul acl token clone -accessor-id abcd -description "replication"
"#;

const SUBCOMMANDS: &[Subcommand] = &[
    Subcommand {
        name: "clone",
        synopsis: "Clone an ACL token",
        run: run_clone,
    },
    Subcommand {
        name: "create",
        synopsis: "Create an ACL token",
        run: run_create,
    },
    Subcommand {
        name: "delete",
        synopsis: "Delete an ACL token",
        run: run_delete,
    },
    Subcommand {
        name: "list",
        synopsis: "List ACL tokens",
        run: run_list,
    },
    Subcommand {
        name: "read",
        synopsis: "Read an ACL token",
        run: run_read,
    },
    Subcommand {
        name: "update",
        synopsis: "Update an ACL token",
        run: super::token_update::run,
    },
];

/// `-meta` (the wording of create and update).
pub(crate) const META_FLAG: Flag = flag(
    "meta",
    Kind::Bool,
    "false",
    "Indicates that token metadata such as the content hash and raft indices should be shown for each entry",
);
/// `-meta` as read and list word it.
const META_RAFT_FLAG: Flag = flag(
    "meta",
    Kind::Bool,
    "false",
    "Indicates that token metadata such as the content hash and Raft indices should be shown for each entry",
);
/// The deprecated `-id`, parsed but not shown in help.
pub(crate) const ID_FLAG: Flag = flag("id", Kind::Str, "", "DEPRECATED. Use -accessor-id instead.");

fn accessor_flag(verb: &'static str) -> Flag {
    let usage: &'static str = match verb {
        "read" => "The Accessor ID of the token to read. It may be specified as a unique ID prefix but will error if the prefix matches multiple token Accessor IDs",
        "delete" => "The Accessor ID of the token to delete. It may be specified as a unique ID prefix but will error if the prefix matches multiple token Accessor IDs",
        "update" => "The Accessor ID of the token to update. It may be specified as a unique ID prefix but will error if the prefix matches multiple token Accessor IDs",
        _ => "The Accessor ID of the token to clone. It may be specified as a unique ID prefix but will error if the prefix matches multiple token Accessor IDs. The special value of 'anonymous' may be provided instead of the anonymous tokens accessor ID",
    };
    flag("accessor-id", Kind::Str, "", usage)
}

/// `consul acl token <args>`.
pub(crate) fn run(ui: &mut Ui<'_>, args: &[String]) -> i32 {
    command::run_group(ui, HELP, SUBCOMMANDS, args)
}

/// `-accessor-id`, else the deprecated `-id` with Consul's warning, else `missing`.
pub(crate) fn accessor_arg(ui: &mut Ui<'_>, flags: &Parsed, missing: &str, warning: &str) -> Option<String> {
    let accessor = text(flags, "accessor-id");
    if !accessor.is_empty() {
        return Some(accessor.to_string());
    }
    let id = text(flags, "id");
    if id.is_empty() {
        ui.error(missing);
        return None;
    }
    ui.error(warning);
    Some(id.to_string())
}

fn run_create(ui: &mut Ui<'_>, args: &[String]) -> i32 {
    let own = [
        flag(
            "accessor",
            Kind::Str,
            "",
            "Create the token with this Accessor ID. It must be a UUID. If not specified one will be auto-generated",
        ),
        flag(
            "secret",
            Kind::Str,
            "",
            "Create the token with this Secret ID. It must be a UUID. If not specified one will be auto-generated",
        ),
        META_FLAG,
        flag("local", Kind::Bool, "false", "Create this as a datacenter local token"),
        flag("description", Kind::Str, "", "A description of the token"),
        flag(
            "policy-id",
            Kind::List,
            "",
            "ID of a policy to use for this token. May be specified multiple times",
        ),
        flag(
            "policy-name",
            Kind::List,
            "",
            "Name of a policy to use for this token. May be specified multiple times",
        ),
        flag(
            "role-id",
            Kind::List,
            "",
            "ID of a role to use for this token. May be specified multiple times",
        ),
        flag(
            "role-name",
            Kind::List,
            "",
            "Name of a role to use for this token. May be specified multiple times",
        ),
        flag(
            "service-identity",
            Kind::List,
            "",
            "Name of a service identity to use for this token. May be specified multiple times. Format is \
             the SERVICENAME or SERVICENAME:DATACENTER1,DATACENTER2,...",
        ),
        flag(
            "node-identity",
            Kind::List,
            "",
            "Name of a node identity to use for this token. May be specified multiple times. Format is \
             NODENAME:DATACENTER",
        ),
        flag(
            "templated-policy",
            Kind::Str,
            "",
            "The templated policy name. Use -var flag to specify variables when required.",
        ),
        flag(
            "var",
            Kind::List,
            "",
            "Templated policy variables. Must be used in combination with -templated-policy flag to specify \
             required variables. May be specified multiple times with different variables. Format is \
             VariableName:Value",
        ),
        flag(
            "expires-ttl",
            Kind::Duration,
            "0s",
            "Duration of time this token should be valid for",
        ),
        FORMAT_FLAG,
    ];
    super::run_leaf(ui, CREATE_HELP, &own, &[], args, |ui, flags, _| create(ui, flags))
}

fn create(ui: &mut Ui<'_>, flags: &Parsed) -> i32 {
    let lists = [
        "policy-name",
        "policy-id",
        "role-name",
        "role-id",
        "service-identity",
        "node-identity",
    ];
    if lists.iter().all(|f| flags.list(f).is_empty()) && text(flags, "templated-policy").is_empty() {
        ui.error(
            "Cannot create a token without specifying -policy-name, -policy-id, -role-name, -role-id, \
             -service-identity, -node-identity, or -templated-policy at least once",
        );
        return 1;
    }
    let Some(client) = command::client(ui, flags) else {
        return 1;
    };
    let mut token = Token {
        description: text(flags, "description").to_string(),
        local: flags.bool("local"),
        accessor_id: text(flags, "accessor").to_string(),
        secret_id: text(flags, "secret").to_string(),
        expiration_ttl: flags
            .duration("expires-ttl")
            .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)),
        ..Token::default()
    };
    let built = (|| -> Result<(), String> {
        token.service_identities =
            super::non_empty(super::service_identities(flags.list("service-identity"))?);
        token.node_identities = super::non_empty(super::node_identities(flags.list("node-identity"))?);
        token.templated_policies = super::non_empty(super::templated_policies(
            text(flags, "templated-policy"),
            flags.list("var"),
        )?);
        token.policies = super::non_empty(super::policy_links(
            &client,
            flags.list("policy-name"),
            flags.list("policy-id"),
        )?);
        token.roles = super::non_empty(super::role_links(
            &client,
            flags.list("role-name"),
            flags.list("role-id"),
        )?);
        Ok(())
    })();
    if let Err(e) = built {
        ui.error(e);
        return 1;
    }
    match super::read_json::<Token>(client.put("/v1/acl/token", Vec::new(), &format::json_body(&token))) {
        Ok(t) => show(ui, flags, &t, flags.bool("meta")),
        Err(e) => {
            ui.error(format!("Failed to create new token: {e}"));
            1
        }
    }
}

fn run_read(ui: &mut Ui<'_>, args: &[String]) -> i32 {
    let own = [
        META_RAFT_FLAG,
        flag(
            "self",
            Kind::Bool,
            "false",
            "Indicates that the current HTTP token should be read by secret ID instead of expecting a \
             -accessor-id option",
        ),
        flag(
            "expanded",
            Kind::Bool,
            "false",
            "Indicates that the contents of the  policies and roles affecting the token should also be shown.",
        ),
        accessor_flag("read"),
        FORMAT_FLAG,
    ];
    super::run_leaf(ui, READ_HELP, &own, &[ID_FLAG], args, |ui, flags, _| {
        read(ui, flags)
    })
}

fn read(ui: &mut Ui<'_>, flags: &Parsed) -> i32 {
    if flags.bool("self") {
        let Some(client) = command::client(ui, flags) else {
            return 1;
        };
        if flags.bool("expanded") {
            ui.error(
                "Cannot use both -expanded and -self. Instead, use -expanded and -accessor-id=<accessor id>.",
            );
            return 1;
        }
        return match super::read_json::<Token>(client.get("/v1/acl/token/self", Vec::new())) {
            Ok(t) => show(ui, flags, &t, flags.bool("meta")),
            Err(e) => {
                ui.error(format!("Error reading token: {e}"));
                1
            }
        };
    }
    let Some(client) = command::client(ui, flags) else {
        return 1;
    };
    let Some(accessor) = accessor_arg(
        ui,
        flags,
        "Must specify the -accessor-id parameter",
        "Use the -accessor-id parameter to specify token by Accessor ID",
    ) else {
        return 1;
    };
    let id = match super::token_accessor_from_partial(&client, &accessor) {
        Ok(id) => id,
        Err(e) => {
            ui.error(format!("Error determining token ID: {e}"));
            return 1;
        }
    };
    let path = format!("/v1/acl/token/{id}");
    if flags.bool("expanded") {
        return read_expanded(ui, flags, &client, &path, &id);
    }
    match super::read_json::<Token>(client.get(&path, Vec::new())) {
        Ok(t) => show(ui, flags, &t, flags.bool("meta")),
        Err(e) => {
            ui.error(format!("Error reading token {}: {e}", command::go_quote(&id)));
            1
        }
    }
}

/// `token read -expanded`.
fn read_expanded(ui: &mut Ui<'_>, flags: &Parsed, client: &crate::http::Client, path: &str, id: &str) -> i32 {
    use super::token_expanded::{self as expanded, TokenExpanded};
    let params = vec![("expanded", "true".to_string())];
    let t: TokenExpanded = match super::read_json(client.get(path, params)) {
        Ok(t) => t,
        Err(e) => {
            ui.error(format!("Error reading token {}: {e}", command::go_quote(id)));
            return 1;
        }
    };
    match Format::parse(flags.string("format")) {
        Ok(Format::Pretty) => match expanded::templates(client, &t) {
            Ok(templates) => print(ui, &expanded::pretty(&t, flags.bool("meta"), &templates)),
            Err(e) => {
                ui.error(format!("Error reading token {}: {e}", command::go_quote(id)));
                return 1;
            }
        },
        Ok(Format::Json) => print(ui, &format::json_indent(&t)),
        Err(e) => {
            ui.error(e);
            return 1;
        }
    }
    0
}

fn run_delete(ui: &mut Ui<'_>, args: &[String]) -> i32 {
    super::run_leaf(
        ui,
        DELETE_HELP,
        &[accessor_flag("delete")],
        &[ID_FLAG],
        args,
        |ui, flags, _| delete(ui, flags),
    )
}

fn delete(ui: &mut Ui<'_>, flags: &Parsed) -> i32 {
    let Some(accessor) = accessor_arg(
        ui,
        flags,
        "Must specify the -accessor-id parameter",
        "Use the -accessor-id parameter to specify token by Accessor ID.",
    ) else {
        return 1;
    };
    let Some(client) = command::client(ui, flags) else {
        return 1;
    };
    let id = match super::token_accessor_from_partial(&client, &accessor) {
        Ok(id) => id,
        Err(e) => {
            ui.error(format!("Error determining token ID: {e}"));
            return 1;
        }
    };
    if let Err(e) = super::require_ok(client.delete(&format!("/v1/acl/token/{id}"), Vec::new())) {
        ui.error(format!("Error deleting token {}: {e}", command::go_quote(&id)));
        return 1;
    }
    ui.info(format!("Token {} deleted successfully", command::go_quote(&id)));
    0
}

fn run_list(ui: &mut Ui<'_>, args: &[String]) -> i32 {
    super::run_leaf(
        ui,
        LIST_HELP,
        &[META_RAFT_FLAG, FORMAT_FLAG],
        &[],
        args,
        |ui, flags, _| list(ui, flags),
    )
}

fn list(ui: &mut Ui<'_>, flags: &Parsed) -> i32 {
    let Some(client) = command::client(ui, flags) else {
        return 1;
    };
    let tokens: Vec<TokenListEntry> = match super::read_json(client.get("/v1/acl/tokens", Vec::new())) {
        Ok(t) => t,
        Err(e) => {
            ui.error(format!("Failed to retrieve the token list: {e}"));
            return 1;
        }
    };
    match Format::parse(flags.string("format")) {
        Ok(Format::Pretty) => {
            let entries: Vec<String> = tokens
                .iter()
                .map(|t| pretty(&t.as_token(), flags.bool("meta")))
                .collect();
            print(ui, &entries.join("\n"));
        }
        Ok(Format::Json) => print(ui, &format::json_indent(&tokens)),
        Err(e) => {
            ui.error(e);
            return 1;
        }
    }
    0
}

fn run_clone(ui: &mut Ui<'_>, args: &[String]) -> i32 {
    let own = [
        accessor_flag("clone"),
        flag(
            "description",
            Kind::Str,
            "",
            "A description of the new cloned token",
        ),
        FORMAT_FLAG,
    ];
    super::run_leaf(ui, CLONE_HELP, &own, &[ID_FLAG], args, |ui, flags, _| {
        clone(ui, flags)
    })
}

fn clone(ui: &mut Ui<'_>, flags: &Parsed) -> i32 {
    let Some(accessor) = accessor_arg(
        ui,
        flags,
        "Cannot update a token without specifying the -accessor-id parameter",
        "The -id parameter is deprecated. Use the -accessor-id parameter instead.",
    ) else {
        return 1;
    };
    let Some(client) = command::client(ui, flags) else {
        return 1;
    };
    let id = match super::token_accessor_from_partial(&client, &accessor) {
        Ok(id) => id,
        Err(e) => {
            ui.error(format!("Error determining token Accessor ID: {e}"));
            return 1;
        }
    };
    #[derive(serde::Serialize)]
    struct CloneRequest<'a> {
        #[serde(rename = "Description")]
        description: &'a str,
    }
    let body = format::json_body(&CloneRequest {
        description: text(flags, "description"),
    });
    match super::read_json::<Token>(client.put(&format!("/v1/acl/token/{id}/clone"), Vec::new(), &body)) {
        Ok(t) => show(ui, flags, &t, false),
        Err(e) => {
            ui.error(format!("Error cloning token: {e}"));
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::testing::{against, offline};

    pub(crate) const TOKEN: &str = r#"{"CreateIndex":12,"ModifyIndex":13,"AccessorID":"986193c8-7e1c-4f3b-b7bb-4d6e5a1e0c11","SecretID":"5b1f3e2a-0f43-4c1d-9a1e-2e6a0e8f1b22","Description":"Replication token","Policies":[{"ID":"00000000-0000-0000-0000-000000000001","Name":"global-management"}],"Roles":[{"ID":"c630d4ef-6","Name":"db-updater"}],"ServiceIdentities":[{"ServiceName":"web"},{"ServiceName":"db","Datacenters":["east","west"]}],"NodeIdentities":[{"NodeName":"n1","Datacenter":"dc1"}],"TemplatedPolicies":[{"TemplateName":"builtin/service","TemplateVariables":{"Name":"api"}},{"TemplateName":"builtin/dns","Datacenters":["dc1"]}],"Local":false,"ExpirationTime":"2021-03-04T06:06:07.5Z","CreateTime":"2021-03-04T05:06:07.123456789Z","Hash":"AQL/"}"#;

    fn cmd(name: &str, ui: &mut Ui<'_>, args: &[String]) -> i32 {
        run(ui, &[&[name.to_string()], args].concat())
    }
    fn create_cmd(ui: &mut Ui<'_>, args: &[String]) -> i32 {
        cmd("create", ui, args)
    }
    fn read_cmd(ui: &mut Ui<'_>, args: &[String]) -> i32 {
        cmd("read", ui, args)
    }
    fn delete_cmd(ui: &mut Ui<'_>, args: &[String]) -> i32 {
        cmd("delete", ui, args)
    }
    fn list_cmd(ui: &mut Ui<'_>, args: &[String]) -> i32 {
        cmd("list", ui, args)
    }
    fn clone_cmd(ui: &mut Ui<'_>, args: &[String]) -> i32 {
        cmd("clone", ui, args)
    }

    const PRETTY: &str = "AccessorID:       986193c8-7e1c-4f3b-b7bb-4d6e5a1e0c11\n\
        SecretID:         5b1f3e2a-0f43-4c1d-9a1e-2e6a0e8f1b22\n\
        Description:      Replication token\n\
        Local:            false\n\
        Create Time:      2021-03-04 05:06:07.123456789 +0000 UTC\n\
        Expiration Time:  2021-03-04 06:06:07.5 +0000 UTC\n\
        Policies:\n   00000000-0000-0000-0000-000000000001 - global-management\n\
        Roles:\n   c630d4ef-6 - db-updater\n\
        Service Identities:\n   web (Datacenters: all)\n   db (Datacenters: east, west)\n\
        Node Identities:\n   n1 (Datacenter: dc1)\n\
        Templated Policies:\n   builtin/service\n      Name: api\n      Datacenters: all\n   \
        builtin/dns\n      Datacenters: dc1\n";

    #[test]
    fn create_maps_flags_to_the_token() {
        let (o, seen) = against(
            &[(200, TOKEN)],
            &[
                "-description=Replication token",
                "-policy-name=acl-replication",
                "-policy-id=00000000-0000-0000-0000-000000000001",
                "-role-name=db-updater",
                "-service-identity=web",
                "-service-identity=db:east,west",
                "-node-identity=n1:dc1",
                "-templated-policy=builtin/service",
                "-var=name:api",
                "-local",
                "-expires-ttl=1h",
            ],
            create_cmd,
        );
        assert_eq!(seen[0].request_line, "PUT /v1/acl/token HTTP/1.1");
        assert_eq!(
            String::from_utf8_lossy(&seen[0].body),
            "{\"CreateIndex\":0,\"ModifyIndex\":0,\"AccessorID\":\"\",\"SecretID\":\"\",\
             \"Description\":\"Replication token\",\
             \"Policies\":[{\"ID\":\"\",\"Name\":\"acl-replication\"},{\"ID\":\"00000000-0000-0000-0000-000000000001\",\"Name\":\"\"}],\
             \"Roles\":[{\"ID\":\"\",\"Name\":\"db-updater\"}],\
             \"ServiceIdentities\":[{\"ServiceName\":\"web\"},{\"ServiceName\":\"db\",\"Datacenters\":[\"east\",\"west\"]}],\
             \"NodeIdentities\":[{\"NodeName\":\"n1\",\"Datacenter\":\"dc1\"}],\
             \"TemplatedPolicies\":[{\"TemplateName\":\"builtin/service\",\"TemplateVariables\":{\"Name\":\"api\"}}],\
             \"Local\":true,\"ExpirationTTL\":3600000000000,\"CreateTime\":\"0001-01-01T00:00:00Z\"}\n"
        );
        assert_eq!((o.code, o.stdout.as_str()), (0, format!("{PRETTY}\n").as_str()));
    }

    #[test]
    fn create_errors_read_like_consul() {
        let o = offline(&["-description=x"], create_cmd);
        assert_eq!(
            (o.code, o.stderr.as_str()),
            (
                1,
                "Cannot create a token without specifying -policy-name, -policy-id, -role-name, -role-id, \
                 -service-identity, -node-identity, or -templated-policy at least once\n"
            )
        );
        let (o, _) = against(&[(403, "Permission denied")], &["-policy-name=p"], create_cmd);
        assert_eq!(
            (o.code, o.stderr.as_str()),
            (
                1,
                "Failed to create new token: Unexpected response code: 403 (Permission denied)\n"
            )
        );
        let o = offline(&["-node-identity=n1"], create_cmd);
        assert_eq!(o.stderr, "Malformed -node-identity argument: \"n1\"\n");
        let (o, _) = against(&[(200, "[]")], &["-policy-id=06acc"], create_cmd);
        assert_eq!(
            o.stderr,
            "Error resolving policy ID : No such policy ID with prefix: 06acc\n"
        );
        let o = offline(&["-bogus"], create_cmd);
        assert!(o
            .stderr
            .starts_with("flag provided but not defined: -bogus\nUsage:\n  -accessor string\n"));
    }

    #[test]
    fn read_by_prefix_self_meta_and_json() {
        let list = r#"[{"AccessorID":"986193c8-7e1c-4f3b-b7bb-4d6e5a1e0c11"},{"AccessorID":"00000000-0000-0000-0000-000000000002"}]"#;
        let (o, seen) = against(
            &[(200, list), (200, TOKEN)],
            &["-accessor-id=9861", "-meta"],
            read_cmd,
        );
        assert_eq!(seen[0].request_line, "GET /v1/acl/tokens HTTP/1.1");
        assert_eq!(
            seen[1].request_line,
            "GET /v1/acl/token/986193c8-7e1c-4f3b-b7bb-4d6e5a1e0c11 HTTP/1.1"
        );
        assert!(o.stdout.contains(
            "Expiration Time:  2021-03-04 06:06:07.5 +0000 UTC\nHash:             0102ff\n\
             Create Index:     12\nModify Index:     13\nPolicies:\n"
        ));

        let (o, seen) = against(&[(200, TOKEN)], &["-self", "-token=5b1f"], read_cmd);
        assert_eq!(seen[0].request_line, "GET /v1/acl/token/self HTTP/1.1");
        assert_eq!(seen[0].header("X-Consul-Token"), Some("5b1f"));
        assert_eq!(o.stdout, format!("{PRETTY}\n"));

        let small = r#"{"AccessorID":"a","SecretID":"s","Description":"","Local":true,"CreateTime":"2021-03-04T05:06:07Z","Hash":"AQ==","CreateIndex":1,"ModifyIndex":2}"#;
        let (o, _) = against(
            &[(200, small)],
            &["-accessor-id=anonymous", "-format=json"],
            read_cmd,
        );
        assert_eq!(
            o.stdout,
            "{\n    \"CreateIndex\": 1,\n    \"ModifyIndex\": 2,\n    \"AccessorID\": \"a\",\n    \
             \"SecretID\": \"s\",\n    \"Description\": \"\",\n    \"Local\": true,\n    \
             \"CreateTime\": \"2021-03-04T05:06:07Z\",\n    \"Hash\": \"AQ==\"\n}\n"
        );

        let (o, seen) = against(
            &[(403, "ACL not found")],
            &["-id=00000000-0000-0000-0000-000000000002"],
            read_cmd,
        );
        assert_eq!(
            seen[0].request_line,
            "GET /v1/acl/token/00000000-0000-0000-0000-000000000002 HTTP/1.1"
        );
        assert_eq!(
            o.stderr,
            "Use the -accessor-id parameter to specify token by Accessor ID\n\
             Error reading token \"00000000-0000-0000-0000-000000000002\": Unexpected response code: 403 (ACL not found)\n"
        );
        let o = offline(&[], read_cmd);
        assert_eq!(
            (o.code, o.stderr.as_str()),
            (1, "Must specify the -accessor-id parameter\n")
        );
    }

    #[test]
    fn read_expanded_asks_for_the_expansion() {
        let id = "986193c8-7e1c-4f3b-b7bb-4d6e5a1e0c11";
        let body = r#"{"AccessorID":"a","SecretID":"s","CreateTime":"2021-03-04T05:06:07Z","TemplatedPolicies":[{"TemplateName":"builtin/dns"}],"AgentACLDefaultPolicy":"allow","AgentACLDownPolicy":"extend-cache","ResolvedByAgent":"n1"}"#;
        let dns =
            r#"{"TemplateName":"builtin/dns","Template":"\nnode_prefix \"\" {\n\tpolicy = \"read\"\n}"}"#;
        let (o, seen) = against(
            &[(200, body), (200, dns)],
            &["-accessor-id", id, "-expanded"],
            read_cmd,
        );
        assert_eq!(
            seen[0].request_line,
            format!("GET /v1/acl/token/{id}?expanded=true HTTP/1.1")
        );
        assert_eq!(
            seen[1].request_line,
            "GET /v1/acl/templated-policy/name/builtin/dns HTTP/1.1"
        );
        assert!(o.stdout.contains(
            "Templated Policies:\n\tbuiltin/dns\n\t\tDatacenters: all\n\t\tDescription: synthetic policy \
             generated from templated policy: builtin/dns\n\t\tRules:\n\t\t\tnode_prefix \"\" {\n\t\t\t\tpolicy = \
             \"read\"\n\t\t\t}\n\n=== End of Authorizer Layer 0: Token ===\n"
        ), "{}|{}", o.stdout, o.stderr);
        let (o, _) = against(&[], &["-self", "-expanded"], read_cmd);
        assert_eq!(
            (o.code, o.stderr.as_str()),
            (
                1,
                "Cannot use both -expanded and -self. Instead, use -expanded and -accessor-id=<accessor id>.\n"
            )
        );
    }

    #[test]
    fn help_hides_the_deprecated_id_flag() {
        let o = offline(&["-help"], read_cmd);
        assert_eq!(o.code, 0);
        assert!(o.stderr.contains("  -accessor-id=<string>\n"), "{}", o.stderr);
        assert!(!o.stderr.contains("  -id=<string>"));
        assert!(o.stderr.contains("  -datacenter=<value>\n"));
    }

    #[test]
    fn delete_list_and_clone() {
        let id = "986193c8-7e1c-4f3b-b7bb-4d6e5a1e0c11";
        let (o, seen) = against(&[(200, "true")], &["-accessor-id", id], delete_cmd);
        assert_eq!(
            seen[0].request_line,
            format!("DELETE /v1/acl/token/{id} HTTP/1.1")
        );
        assert_eq!(o.stdout, format!("Token \"{id}\" deleted successfully\n"));

        let list = r#"[{"AccessorID":"a1","SecretID":"s1","Description":"one","Local":false,"CreateTime":"2021-03-04T05:06:07Z","Hash":"AQ==","Policies":[{"ID":"p1","Name":"pol"}]},{"AccessorID":"a2","SecretID":"s2","Description":"two","Local":true,"CreateTime":"2021-03-04T05:06:08Z","Hash":null}]"#;
        let (o, _) = against(&[(200, list)], &[], list_cmd);
        assert_eq!(
            o.stdout,
            "AccessorID:       a1\nSecretID:         s1\nDescription:      one\nLocal:            false\n\
             Create Time:      2021-03-04 05:06:07 +0000 UTC\nPolicies:\n   p1 - pol\n\n\
             AccessorID:       a2\nSecretID:         s2\nDescription:      two\nLocal:            true\n\
             Create Time:      2021-03-04 05:06:08 +0000 UTC\n\n"
        );
        let (o, _) = against(&[(200, "[]")], &[], list_cmd);
        assert_eq!((o.code, o.stdout.as_str()), (0, ""));

        let (o, seen) = against(
            &[(200, TOKEN)],
            &["-accessor-id", id, "-description=copy"],
            clone_cmd,
        );
        assert_eq!(
            seen[0].request_line,
            format!("PUT /v1/acl/token/{id}/clone HTTP/1.1")
        );
        assert_eq!(seen[0].body, b"{\"Description\":\"copy\"}\n");
        assert_eq!(o.code, 0);
        let (o, _) = against(&[(500, "boom")], &["-accessor-id", id], clone_cmd);
        assert_eq!(
            o.stderr,
            "Error cloning token: Unexpected response code: 500 (boom)\n"
        );
    }
}
