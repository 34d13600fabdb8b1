//! `consul acl policy create|read|update|delete|list` and the policy formatter (also used by
//! `acl templated-policy preview`), as Consul's `command/acl/policy`.

use crate::args::{Kind, Parsed};
use crate::command::{self, flag, Subcommand};
use crate::Ui;

use super::api::{Policy, PolicyListEntry};
use super::format::{self, Format, FORMAT_FLAG};
use super::{print, text};

const HELP: &str = r#"
Usage: consul acl policy <subcommand> [options] [args]

  This command has subcommands for managing Consul's ACL policies.
  Here are some simple examples, and more detailed examples are available
  in the subcommands or the documentation.

  Create a new ACL policy:

      $ consul acl policy create -name "new-policy" \
                                 -description "This is an example policy" \
                                 -datacenter "dc1" \
                                 -datacenter "dc2" \
                                 -rules @rules.hcl
  List all policies:

      $ consul acl policy list

  Update a policy:

      $ consul acl policy update -name "other-policy" -datacenter "dc1"

  Read a policy:

    $ consul acl policy read -id 0479e93e-091c-4475-9b06-79a004765c24

  Delete a policy

    $ consul acl policy delete -name "my-policy"

  For more examples, ask for subcommand help or view the documentation.
"#;

const CREATE_HELP: &str = r#"
Usage: consul acl policy create -name NAME [options]

    The -rules option values allows loading the value from stdin, a file 
    or the raw value. To use stdin pass '-' as the value. To load the value 
    from a file prefix the value with an '@'. Any other values will be used 
    directly.

    Create a new policy:

        $ consul acl policy create -name "new-policy" \
                                   -description "This is an example policy" \
                                   -datacenter "dc1" \
                                   -datacenter "dc2" \
                                   -rules @rules.hcl
"#;

const READ_HELP: &str = r#"
Usage: consul acl policy read [options] POLICY

    This command will retrieve and print out the details
    of a single policy.

    Read:

        $ consul acl policy read -id fdabbcb5-9de5-4b1a-961f-77214ae88cba

    Read by name:

        $ consul acl policy read -name my-policy
"#;

const UPDATE_HELP: &str = r#"
Usage: consul acl policy update [options]

  Updates a policy. By default it will merge the policy information with its
  current state so that you do not have to provide all parameters. This
  behavior can be disabled by passing -no-merge.

  Rename the policy:

          $ consul acl policy update -id abcd -name "better-name"

  Override all policy attributes:

          # this will remove any datacenter scope if provided and will remove
          # the description
          $consul acl policy update -id abcd -name "better-name" -rules @rules.hcl
"#;

const DELETE_HELP: &str = r#"
Usage: consul acl policy delete [options] -id POLICY

    Deletes an ACL policy by providing either the ID or a unique ID prefix.

    Delete by prefix:

        $ consul acl policy delete -id b6b85

    Delete by full ID:

        $ consul acl policy delete -id b6b856da-5193-4e78-845a-7d61ca8371ba
"#;

const LIST_HELP: &str = r#"
Usage: consul acl policy list [options]

    Lists all the ACL policies

    Example:

        $ consul acl policy list
"#;

const SUBCOMMANDS: &[Subcommand] = &[
    Subcommand {
        name: "create",
        synopsis: "Create an ACL policy",
        run: run_create,
    },
    Subcommand {
        name: "delete",
        synopsis: "Delete an ACL policy",
        run: run_delete,
    },
    Subcommand {
        name: "list",
        synopsis: "Lists ACL policies",
        run: run_list,
    },
    Subcommand {
        name: "read",
        synopsis: "Read an ACL policy",
        run: run_read,
    },
    Subcommand {
        name: "update",
        synopsis: "Update an ACL policy",
        run: run_update,
    },
];

const META_FLAG: crate::args::Flag = flag(
    "meta",
    Kind::Bool,
    "false",
    "Indicates that policy metadata such as the content hash and raft indices should be shown for each entry",
);
const DESCRIPTION_FLAG: crate::args::Flag = flag("description", Kind::Str, "", "A description of the policy");
const DC_FLAG: crate::args::Flag = flag(
    "valid-datacenter",
    Kind::List,
    "",
    "Datacenter that the policy should be valid within. This flag may be specified multiple times",
);
const RULES_FLAG: crate::args::Flag = flag(
    "rules",
    Kind::Str,
    "",
    "The policy rules. May be prefixed with '@' to indicate that the value is a file path to load the rules \
     from. '-' may also be given to indicate that the rules are available on stdin",
);

/// `consul acl policy <args>`.
pub(crate) fn run(ui: &mut Ui<'_>, args: &[String]) -> i32 {
    command::run_group(ui, HELP, SUBCOMMANDS, args)
}

/// Consul's policy pretty format.
pub(crate) fn pretty(p: &Policy, meta: bool) -> String {
    let mut out = format!("ID:           {}\nName:         {}\n", p.id, p.name);
    if !p.partition.is_empty() {
        out.push_str(&format!("Partition:    {}\n", p.partition));
    }
    if !p.namespace.is_empty() {
        out.push_str(&format!("Namespace:    {}\n", p.namespace));
    }
    out.push_str(&format!("Description:  {}\n", p.description));
    let dcs = p.datacenters.as_deref().unwrap_or_default().join(", ");
    out.push_str(&format!("Datacenters:  {dcs}\n"));
    if meta {
        out.push_str(&format!(
            "Hash:         {}\nCreate Index: {}\nModify Index: {}\n",
            format::hex_of_base64(p.hash.as_deref()),
            p.create_index,
            p.modify_index
        ));
    }
    out.push_str("Rules:\n");
    out.push_str(&p.rules);
    out
}

fn pretty_list(list: &[PolicyListEntry], meta: bool) -> String {
    let mut out = String::new();
    for p in list {
        out.push_str(&format!("{}:\n   ID:           {}\n", p.name, p.id));
        if !p.partition.is_empty() {
            out.push_str(&format!("   Partition:    {}\n", p.partition));
        }
        if !p.namespace.is_empty() {
            out.push_str(&format!("   Namespace:    {}\n", p.namespace));
        }
        out.push_str(&format!("   Description:  {}\n", p.description));
        let dcs = p.datacenters.as_deref().unwrap_or_default().join(", ");
        out.push_str(&format!("   Datacenters:  {dcs}\n"));
        if meta {
            out.push_str(&format!(
                "   Hash:         {}\n   Create Index: {}\n   Modify Index: {}\n",
                format::hex_of_base64(p.hash.as_deref()),
                p.create_index,
                p.modify_index
            ));
        }
    }
    out
}

/// Prints one policy in the `-format` asked for; 0 or 1.
pub(crate) fn show(ui: &mut Ui<'_>, flags: &Parsed, p: &Policy, meta: bool) -> i32 {
    match Format::parse(flags.string("format")) {
        Ok(Format::Pretty) => print(ui, &pretty(p, meta)),
        Ok(Format::Json) => print(ui, &format::json_indent(p)),
        Err(e) => {
            ui.error(e);
            return 1;
        }
    }
    0
}

fn run_create(ui: &mut Ui<'_>, args: &[String]) -> i32 {
    let own = [
        META_FLAG,
        flag(
            "name",
            Kind::Str,
            "",
            "The new policy's name. This flag is required.",
        ),
        DESCRIPTION_FLAG,
        DC_FLAG,
        RULES_FLAG,
        FORMAT_FLAG,
    ];
    super::run_leaf(ui, CREATE_HELP, &own, &[], args, create)
}

fn create(ui: &mut Ui<'_>, flags: &Parsed, usage: &str) -> i32 {
    let name = text(flags, "name");
    if name.is_empty() {
        ui.error("Missing require '-name' flag");
        ui.error(usage);
        return 1;
    }
    let Some(client) = command::client(ui, flags) else {
        return 1;
    };
    let rules = match super::load_data_source(ui, text(flags, "rules")) {
        Ok(r) => r,
        Err(e) => {
            ui.error(format!("Error loading rules: {e}"));
            return 1;
        }
    };
    let policy = Policy {
        name: name.to_string(),
        description: text(flags, "description").to_string(),
        datacenters: super::non_empty(flags.list("valid-datacenter").to_vec()),
        rules,
        ..Policy::default()
    };
    let body = format::json_body(&policy);
    match super::read_json::<Policy>(client.put("/v1/acl/policy", Vec::new(), &body)) {
        Ok(p) => show(ui, flags, &p, flags.bool("meta")),
        Err(e) => {
            ui.error(format!("Failed to create new policy: {e}"));
            1
        }
    }
}

fn run_read(ui: &mut Ui<'_>, args: &[String]) -> i32 {
    let own = [
        META_FLAG,
        flag(
            "id",
            Kind::Str,
            "",
            "The ID of the policy to read. It may be specified as a unique ID prefix but will error if the \
             prefix matches multiple policy IDs",
        ),
        flag("name", Kind::Str, "", "The name of the policy to read."),
        FORMAT_FLAG,
    ];
    super::run_leaf(ui, READ_HELP, &own, &[], args, |ui, flags, _| read(ui, flags))
}

fn read(ui: &mut Ui<'_>, flags: &Parsed) -> i32 {
    let (id, name) = (text(flags, "id"), text(flags, "name"));
    if id.is_empty() && name.is_empty() {
        ui.error("Must specify either the -id or -name parameters");
        return 1;
    }
    let Some(client) = command::client(ui, flags) else {
        return 1;
    };
    let (result, what) = if !id.is_empty() {
        let policy_id = match super::policy_id_from_partial(&client, id) {
            Ok(id) => id,
            Err(e) => {
                ui.error(format!("Error determining policy ID: {e}"));
                return 1;
            }
        };
        let path = format!("/v1/acl/policy/{policy_id}");
        (
            super::read_json::<Policy>(client.get(&path, Vec::new())).map(Some),
            format!("id:{policy_id}"),
        )
    } else {
        (super::policy_by_name(&client, name), format!("name:{name}"))
    };
    match result {
        Ok(Some(p)) => show(ui, flags, &p, flags.bool("meta")),
        Ok(None) => {
            ui.error(format!("Error policy not found: {name}"));
            1
        }
        Err(e) => {
            ui.error(format!("Error reading policy {}: {e}", command::go_quote(&what)));
            1
        }
    }
}

fn run_update(ui: &mut Ui<'_>, args: &[String]) -> i32 {
    let own = [
        META_FLAG,
        flag(
            "id",
            Kind::Str,
            "",
            "The ID of the policy to update. It may be specified as a unique ID prefix but will error if the \
             prefix matches multiple policy IDs",
        ),
        flag("name", Kind::Str, "", "The policies name."),
        DESCRIPTION_FLAG,
        DC_FLAG,
        RULES_FLAG,
        flag(
            "no-merge",
            Kind::Bool,
            "false",
            "Do not merge the current policy information with what is provided to the command. Instead \
             overwrite all fields with the exception of the policy ID which is immutable.",
        ),
        FORMAT_FLAG,
    ];
    super::run_leaf(ui, UPDATE_HELP, &own, &[], args, |ui, flags, _| update(ui, flags))
}

fn update(ui: &mut Ui<'_>, flags: &Parsed) -> i32 {
    let (id, name) = (text(flags, "id"), text(flags, "name"));
    if id.is_empty() && name.is_empty() {
        ui.error("Must specify either the -id or -name parameters");
        return 1;
    }
    let Some(client) = command::client(ui, flags) else {
        return 1;
    };
    let resolved = if id.is_empty() {
        super::policy_id_by_name(&client, name)
    } else {
        super::policy_id_from_partial(&client, id)
    };
    let policy_id = match resolved {
        Ok(id) => id,
        Err(e) => {
            ui.error(format!("Error determining policy ID: {e}"));
            return 1;
        }
    };
    let rules = match super::load_data_source(ui, text(flags, "rules")) {
        Ok(r) => r,
        Err(e) => {
            ui.error(format!("Error loading data source: {e}"));
            return 1;
        }
    };
    let datacenters = super::non_empty(flags.list("valid-datacenter").to_vec());
    let updated = if flags.bool("no-merge") {
        Policy {
            id: policy_id.clone(),
            name: name.to_string(),
            description: text(flags, "description").to_string(),
            datacenters,
            rules,
            ..Policy::default()
        }
    } else {
        let path = format!("/v1/acl/policy/{policy_id}");
        let current: Policy = match super::read_json(client.get(&path, Vec::new())) {
            Ok(p) => p,
            Err(e) => {
                ui.error(format!(
                    "Error reading policy {}: {e}",
                    command::go_quote(&policy_id)
                ));
                return 1;
            }
        };
        Policy {
            id: policy_id.clone(),
            name: flags.string("name").map_or(current.name, str::to_string),
            description: flags
                .string("description")
                .map_or(current.description, str::to_string),
            datacenters: datacenters.or(current.datacenters),
            rules: if flags.string("rules").is_some() {
                rules
            } else {
                current.rules
            },
            ..Policy::default()
        }
    };
    let path = format!("/v1/acl/policy/{policy_id}");
    match super::read_json::<Policy>(client.put(&path, Vec::new(), &format::json_body(&updated))) {
        Ok(p) => show(ui, flags, &p, flags.bool("meta")),
        Err(e) => {
            ui.error(format!(
                "Error updating policy {}: {e}",
                command::go_quote(&policy_id)
            ));
            1
        }
    }
}

fn run_delete(ui: &mut Ui<'_>, args: &[String]) -> i32 {
    let own = [
        flag(
            "id",
            Kind::Str,
            "",
            "The ID of the policy to delete. It may be specified as a unique ID prefix but will error if the \
             prefix matches multiple policy IDs",
        ),
        flag("name", Kind::Str, "", "The name of the policy to delete."),
    ];
    super::run_leaf(ui, DELETE_HELP, &own, &[], args, |ui, flags, _| delete(ui, flags))
}

fn delete(ui: &mut Ui<'_>, flags: &Parsed) -> i32 {
    let (id, name) = (text(flags, "id"), text(flags, "name"));
    if id.is_empty() && name.is_empty() {
        ui.error("Must specify either the -id or -name parameters");
        return 1;
    }
    let Some(client) = command::client(ui, flags) else {
        return 1;
    };
    let resolved = if id.is_empty() {
        super::policy_id_by_name(&client, name)
    } else {
        super::policy_id_from_partial(&client, id)
    };
    let policy_id = match resolved {
        Ok(id) => id,
        Err(e) => {
            ui.error(format!("Error determining policy ID: {e}"));
            return 1;
        }
    };
    let path = format!("/v1/acl/policy/{policy_id}");
    if let Err(e) = super::require_ok(client.delete(&path, Vec::new())) {
        ui.error(format!(
            "Error deleting policy {}: {e}",
            command::go_quote(&policy_id)
        ));
        return 1;
    }
    ui.info(format!(
        "Policy {} deleted successfully",
        command::go_quote(&policy_id)
    ));
    0
}

fn run_list(ui: &mut Ui<'_>, args: &[String]) -> i32 {
    super::run_leaf(
        ui,
        LIST_HELP,
        &[META_FLAG, FORMAT_FLAG],
        &[],
        args,
        |ui, flags, _| list(ui, flags),
    )
}

fn list(ui: &mut Ui<'_>, flags: &Parsed) -> i32 {
    let Some(client) = command::client(ui, flags) else {
        return 1;
    };
    let policies: Vec<PolicyListEntry> = match super::read_json(client.get("/v1/acl/policies", Vec::new())) {
        Ok(p) => p,
        Err(e) => {
            ui.error(format!("Failed to retrieve the policy list: {e}"));
            return 1;
        }
    };
    match Format::parse(flags.string("format")) {
        Ok(Format::Pretty) => print(ui, &pretty_list(&policies, flags.bool("meta"))),
        Ok(Format::Json) => print(ui, &format::json_indent(&policies)),
        Err(e) => {
            ui.error(e);
            return 1;
        }
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::testing::{against, offline};

    const POLICY: &str = r#"{"ID":"e359bd81-baca-903e-7e64-1ccd9fdc78f5","Name":"acl-replication","Description":"Token replication","Rules":"acl = \"read\"","Datacenters":["dc1","dc2"],"Hash":"AQL/","CreateIndex":7,"ModifyIndex":8}"#;

    fn sub(name: &'static str) -> impl Fn(&mut Ui<'_>, &[String]) -> i32 {
        move |ui, args| run(ui, &[&[name.to_string()], args].concat())
    }

    fn create_cmd(ui: &mut Ui<'_>, args: &[String]) -> i32 {
        sub("create")(ui, args)
    }
    fn read_cmd(ui: &mut Ui<'_>, args: &[String]) -> i32 {
        sub("read")(ui, args)
    }
    fn update_cmd(ui: &mut Ui<'_>, args: &[String]) -> i32 {
        sub("update")(ui, args)
    }
    fn delete_cmd(ui: &mut Ui<'_>, args: &[String]) -> i32 {
        sub("delete")(ui, args)
    }
    fn list_cmd(ui: &mut Ui<'_>, args: &[String]) -> i32 {
        sub("list")(ui, args)
    }

    #[test]
    fn create_sends_the_policy_and_prints_it() {
        let (o, seen) = against(
            &[(200, POLICY)],
            &[
                "-name=acl-replication",
                "-description",
                "Token replication",
                "-valid-datacenter=dc1",
                "-valid-datacenter=dc2",
                "-rules",
                "acl = \"read\"",
                "-token=secret",
            ],
            create_cmd,
        );
        assert_eq!(seen[0].request_line, "PUT /v1/acl/policy HTTP/1.1");
        assert_eq!(seen[0].header("X-Consul-Token"), Some("secret"));
        assert_eq!(
            String::from_utf8_lossy(&seen[0].body),
            "{\"ID\":\"\",\"Name\":\"acl-replication\",\"Description\":\"Token replication\",\
             \"Rules\":\"acl = \\\"read\\\"\",\"Datacenters\":[\"dc1\",\"dc2\"],\"Hash\":null,\
             \"CreateIndex\":0,\"ModifyIndex\":0}\n"
        );
        assert_eq!(o.code, 0, "{}", o.stderr);
        assert_eq!(
            o.stdout,
            "ID:           e359bd81-baca-903e-7e64-1ccd9fdc78f5\n\
             Name:         acl-replication\n\
             Description:  Token replication\n\
             Datacenters:  dc1, dc2\n\
             Rules:\n\
             acl = \"read\"\n"
        );
    }

    #[test]
    fn create_reads_rules_from_stdin_or_a_file() {
        use crate::command::testing::{args, fake_agent};
        let (addr, rx) = fake_agent(&[(200, POLICY)]);
        let o = crate::testing::run(
            &[("CONSUL_HTTP_ADDR", &addr)],
            b"key_prefix \"\" { policy = \"read\" }\n",
            |ui| create_cmd(ui, &args(&["-name=n", "-rules", "-"])),
        );
        assert_eq!(o.code, 0, "{}", o.stderr);
        let body: serde_json::Value =
            serde_json::from_slice(&rx.recv().expect("request").body).expect("json");
        assert_eq!(body["Rules"], "key_prefix \"\" { policy = \"read\" }\n");

        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("rules.hcl");
        std::fs::write(&file, "operator = \"read\"").expect("write");
        let rules = format!("@{}", file.display());
        let (_, seen) = against(&[(200, POLICY)], &["-name=n", "-rules", &rules], create_cmd);
        let body: serde_json::Value = serde_json::from_slice(&seen[0].body).expect("json");
        assert_eq!(body["Rules"], "operator = \"read\"");
    }

    #[test]
    fn create_errors() {
        let o = offline(&[], create_cmd);
        assert_eq!(o.code, 1);
        assert!(o.stderr.starts_with(
            "Missing require '-name' flag\nUsage: consul acl policy create -name NAME [options]\n"
        ));
        let (o, _) = against(&[(403, "Permission denied")], &["-name=x"], create_cmd);
        assert_eq!(
            (o.code, o.stderr.as_str()),
            (
                1,
                "Failed to create new policy: Unexpected response code: 403 (Permission denied)\n"
            )
        );
        let o = offline(&["-name=x", "-rules=@/nonexistent/rules.hcl"], create_cmd);
        assert_eq!(
            o.stderr,
            "Error loading rules: Failed to read file: open /nonexistent/rules.hcl: no such file or directory\n"
        );
    }

    #[test]
    fn read_by_id_prefix_and_name_with_meta_and_json() {
        let list = r#"[{"ID":"e359bd81-baca-903e-7e64-1ccd9fdc78f5","Name":"acl-replication"},{"ID":"00000000-0000-0000-0000-000000000001","Name":"global-management"}]"#;
        let (o, seen) = against(&[(200, list), (200, POLICY)], &["-id=e359", "-meta"], read_cmd);
        assert_eq!(seen[0].request_line, "GET /v1/acl/policies HTTP/1.1");
        assert_eq!(
            seen[1].request_line,
            "GET /v1/acl/policy/e359bd81-baca-903e-7e64-1ccd9fdc78f5 HTTP/1.1"
        );
        assert!(o.stdout.contains(
            "Datacenters:  dc1, dc2\nHash:         0102ff\nCreate Index: 7\nModify Index: 8\nRules:\n"
        ));

        let (o, seen) = against(
            &[(200, POLICY)],
            &["-name=acl replication", "-format=json"],
            read_cmd,
        );
        assert_eq!(
            seen[0].request_line,
            "GET /v1/acl/policy/name/acl+replication HTTP/1.1"
        );
        assert_eq!(
            o.stdout,
            "{\n    \"ID\": \"e359bd81-baca-903e-7e64-1ccd9fdc78f5\",\n    \"Name\": \"acl-replication\",\n    \
             \"Description\": \"Token replication\",\n    \"Rules\": \"acl = \\\"read\\\"\",\n    \
             \"Datacenters\": [\n        \"dc1\",\n        \"dc2\"\n    ],\n    \"Hash\": \"AQL/\",\n    \
             \"CreateIndex\": 7,\n    \"ModifyIndex\": 8\n}\n"
        );

        let (o, _) = against(&[(404, "")], &["-name=nope"], read_cmd);
        assert_eq!((o.code, o.stderr.as_str()), (1, "Error policy not found: nope\n"));
        let (o, _) = against(&[(200, "[]")], &["-id=abc"], read_cmd);
        assert_eq!(
            o.stderr,
            "Error determining policy ID: No such policy ID with prefix: abc\n"
        );
        let o = offline(&[], read_cmd);
        assert_eq!(o.stderr, "Must specify either the -id or -name parameters\n");
        let (o, _) = against(&[(200, POLICY)], &["-name=x", "-format=xml"], read_cmd);
        assert_eq!((o.code, o.stderr.as_str()), (1, "Unknown format: xml\n"));
    }

    #[test]
    fn update_merges_with_the_current_policy() {
        let id = "e359bd81-baca-903e-7e64-1ccd9fdc78f5";
        let (o, seen) = against(
            &[(200, POLICY), (200, POLICY)],
            &["-id", id, "-description=new"],
            update_cmd,
        );
        assert_eq!(o.code, 0, "{}", o.stderr);
        assert_eq!(seen[0].request_line, format!("GET /v1/acl/policy/{id} HTTP/1.1"));
        assert_eq!(seen[1].request_line, format!("PUT /v1/acl/policy/{id} HTTP/1.1"));
        let body: serde_json::Value = serde_json::from_slice(&seen[1].body).expect("json");
        assert_eq!(body["Description"], "new");
        assert_eq!(body["Name"], "acl-replication");
        assert_eq!(body["Rules"], "acl = \"read\"");
        assert_eq!(body["Datacenters"], serde_json::json!(["dc1", "dc2"]));

        let (_, seen) = against(&[(200, POLICY)], &["-id", id, "-no-merge", "-name=n"], update_cmd);
        let body: serde_json::Value = serde_json::from_slice(&seen[0].body).expect("json");
        assert_eq!(
            (body["Name"].as_str(), body["Rules"].as_str()),
            (Some("n"), Some(""))
        );

        let (o, _) = against(&[(200, POLICY), (500, "boom")], &["-id", id], update_cmd);
        assert_eq!(
            o.stderr,
            format!("Error updating policy \"{id}\": Unexpected response code: 500 (boom)\n")
        );
    }

    #[test]
    fn delete_and_list() {
        let (o, seen) = against(
            &[(200, POLICY), (200, "true")],
            &["-name=acl-replication"],
            delete_cmd,
        );
        assert_eq!(
            seen[0].request_line,
            "GET /v1/acl/policy/name/acl-replication HTTP/1.1"
        );
        assert_eq!(
            seen[1].request_line,
            "DELETE /v1/acl/policy/e359bd81-baca-903e-7e64-1ccd9fdc78f5 HTTP/1.1"
        );
        assert_eq!(
            o.stdout,
            "Policy \"e359bd81-baca-903e-7e64-1ccd9fdc78f5\" deleted successfully\n"
        );

        let list = r#"[{"ID":"00000000-0000-0000-0000-000000000001","Name":"global-management","Description":"Builtin Policy that grants unlimited access","Datacenters":null,"Hash":"AQ==","CreateIndex":4,"ModifyIndex":4},{"ID":"e359","Name":"r","Description":"","Datacenters":["dc1"],"Hash":null,"CreateIndex":5,"ModifyIndex":6}]"#;
        let (o, seen) = against(&[(200, list)], &[], list_cmd);
        assert_eq!(seen[0].request_line, "GET /v1/acl/policies HTTP/1.1");
        assert_eq!(
            o.stdout,
            "global-management:\n   ID:           00000000-0000-0000-0000-000000000001\n   \
             Description:  Builtin Policy that grants unlimited access\n   Datacenters:  \n\
             r:\n   ID:           e359\n   Description:  \n   Datacenters:  dc1\n\n"
        );
        let (o, _) = against(&[(500, "x")], &[], list_cmd);
        assert_eq!(
            o.stderr,
            "Failed to retrieve the policy list: Unexpected response code: 500 (x)\n"
        );
    }
}
