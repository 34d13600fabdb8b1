//! `consul acl role create|read|update|delete|list` and the role formatter, as Consul's
//! `command/acl/role`.

use crate::args::{Flag, Kind, Parsed};
use crate::command::{self, flag, Subcommand};
use crate::http::Client;
use crate::Ui;

use super::api::{Link, Role};
use super::format::{self, Format, FORMAT_FLAG};
use super::{print, text};

const HELP: &str = r#"
Usage: consul acl role <subcommand> [options] [args]

  This command has subcommands for managing Consul's ACL roles.
  Here are some simple examples, and more detailed examples are available
  in the subcommands or the documentation.

  Create a new ACL role:

      $ consul acl role create -name "new-role" \
                               -description "This is an example role" \
                               -policy-id 06acc965
  List all roles:

      $ consul acl role list

  Update a role:

      $ consul acl role update -name "other-role" -datacenter "dc1"

  Read a role:

    $ consul acl role read -id 0479e93e-091c-4475-9b06-79a004765c24

  Delete a role

    $ consul acl role delete -name "my-role"

  For more examples, ask for subcommand help or view the documentation.
"#;

const CREATE_HELP: &str = r#"
Usage: consul acl role create -name NAME [options]

    Create a new role:

        $ consul acl role create -name "new-role" \
                                 -description "This is an example role" \
                                 -policy-id b52fc3de-5 \
                                 -policy-name "acl-replication" \
                                 -service-identity "web" \
                                 -service-identity "db:east,west"
"#;

const READ_HELP: &str = r#"
Usage: consul acl role read [options] ROLE

    This command will retrieve and print out the details
    of a single role.

    Read:

        $ consul acl role read -id fdabbcb5-9de5-4b1a-961f-77214ae88cba

    Read by name:

        $ consul acl role read -name my-policy
"#;

const UPDATE_HELP: &str = r#"
Usage: consul acl role update [options]

  Updates a role. By default it will merge the role information with its
  current state so that you do not have to provide all parameters. This
  behavior can be disabled by passing -no-merge.

  Rename the role:

          $ consul acl role update -id abcd -name "better-name"

  Update all editable fields of the role:

          $ consul acl role update -id abcd \
                                   -name "better-name" \
                                   -description "replication" \
                                   -policy-name "token-replication" \
                                   -service-identity "web"
"#;

const DELETE_HELP: &str = r#"
Usage: consul acl role delete [options] -id ROLE

    Deletes an ACL role by providing the ID or a unique ID prefix.

    Delete by prefix:

        $ consul acl role delete -id b6b85

    Delete by full ID:

        $ consul acl role delete -id b6b856da-5193-4e78-845a-7d61ca8371ba
"#;

const LIST_HELP: &str = r#"
Usage: consul acl role list [options]

    Lists all the ACL roles.

    Example:

        $ consul acl role list
"#;

const SUBCOMMANDS: &[Subcommand] = &[
    Subcommand {
        name: "create",
        synopsis: "Create an ACL role",
        run: run_create,
    },
    Subcommand {
        name: "delete",
        synopsis: "Delete an ACL role",
        run: run_delete,
    },
    Subcommand {
        name: "list",
        synopsis: "Lists ACL roles",
        run: run_list,
    },
    Subcommand {
        name: "read",
        synopsis: "Read an ACL role",
        run: run_read,
    },
    Subcommand {
        name: "update",
        synopsis: "Update an ACL role",
        run: run_update,
    },
];

const META_FLAG: Flag = flag(
    "meta",
    Kind::Bool,
    "false",
    "Indicates that role metadata such as the content hash and raft indices should be shown for each entry",
);

const LINK_FLAGS: [Flag; 6] = [
    flag(
        "policy-id",
        Kind::List,
        "",
        "ID of a policy to use for this role. May be specified multiple times",
    ),
    flag(
        "policy-name",
        Kind::List,
        "",
        "Name of a policy to use for this role. May be specified multiple times",
    ),
    flag(
        "service-identity",
        Kind::List,
        "",
        "Name of a service identity to use for this role. May be specified multiple times. Format is the \
         SERVICENAME or SERVICENAME:DATACENTER1,DATACENTER2,...",
    ),
    flag(
        "node-identity",
        Kind::List,
        "",
        "Name of a node identity to use for this role. May be specified multiple times. Format is \
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
];

/// `consul acl role <args>`.
pub(crate) fn run(ui: &mut Ui<'_>, args: &[String]) -> i32 {
    command::run_group(ui, HELP, SUBCOMMANDS, args)
}

fn pretty(r: &Role, meta: bool) -> String {
    let mut out = format!("ID:           {}\nName:         {}\n", r.id, r.name);
    if !r.partition.is_empty() {
        out.push_str(&format!("Partition:    {}\n", r.partition));
    }
    if !r.namespace.is_empty() {
        out.push_str(&format!("Namespace:    {}\n", r.namespace));
    }
    out.push_str(&format!("Description:  {}\n", r.description));
    if meta {
        out.push_str(&format!(
            "Hash:         {}\nCreate Index: {}\nModify Index: {}\n",
            format::hex_of_base64(r.hash.as_deref()),
            r.create_index,
            r.modify_index
        ));
    }
    links(&mut out, "", r.policies.as_deref());
    super::token_format::identities(
        &mut out,
        "",
        r.service_identities.as_deref(),
        r.node_identities.as_deref(),
    );
    out
}

fn links(out: &mut String, indent: &str, policies: Option<&[Link]>) {
    if let Some(policies) = policies.filter(|p| !p.is_empty()) {
        out.push_str(&format!("{indent}Policies:\n"));
        for p in policies {
            out.push_str(&format!("{indent}   {} - {}\n", p.id, p.name));
        }
    }
}

fn pretty_list(roles: &[Role], meta: bool) -> String {
    let mut out = String::new();
    for r in roles {
        out.push_str(&format!("{}:\n   ID:           {}\n", r.name, r.id));
        if !r.partition.is_empty() {
            out.push_str(&format!("   Partition:    {}\n", r.partition));
        }
        if !r.namespace.is_empty() {
            out.push_str(&format!("   Namespace:    {}\n", r.namespace));
        }
        out.push_str(&format!("   Description:  {}\n", r.description));
        if meta {
            out.push_str(&format!(
                "   Hash:         {}\n   Create Index: {}\n   Modify Index: {}\n",
                format::hex_of_base64(r.hash.as_deref()),
                r.create_index,
                r.modify_index
            ));
        }
        links(&mut out, "   ", r.policies.as_deref());
        super::token_format::identities(
            &mut out,
            "   ",
            r.service_identities.as_deref(),
            r.node_identities.as_deref(),
        );
    }
    out
}

fn show(ui: &mut Ui<'_>, flags: &Parsed, r: &Role) -> i32 {
    match Format::parse(flags.string("format")) {
        Ok(Format::Pretty) => print(ui, &pretty(r, flags.bool("meta"))),
        Ok(Format::Json) => print(ui, &format::json_indent(r)),
        Err(e) => {
            ui.error(e);
            return 1;
        }
    }
    0
}

fn run_create(ui: &mut Ui<'_>, args: &[String]) -> i32 {
    let mut own = vec![
        META_FLAG,
        flag(
            "name",
            Kind::Str,
            "",
            "The new role's name. This flag is required.",
        ),
        flag("description", Kind::Str, "", "A description of the role"),
    ];
    own.extend(LINK_FLAGS);
    own.push(FORMAT_FLAG);
    super::run_leaf(ui, CREATE_HELP, &own, &[], args, create)
}

fn create(ui: &mut Ui<'_>, flags: &Parsed, usage: &str) -> i32 {
    let name = text(flags, "name");
    if name.is_empty() {
        ui.error("Missing require '-name' flag");
        ui.error(usage);
        return 1;
    }
    if ["policy-name", "policy-id", "service-identity", "node-identity"]
        .iter()
        .all(|f| flags.list(f).is_empty())
        && text(flags, "templated-policy").is_empty()
    {
        ui.error(
            "Cannot create a role without specifying -policy-name, -policy-id, -service-identity, \
             -node-identity, or -templated-policy at least once",
        );
        return 1;
    }
    let Some(client) = command::client(ui, flags) else {
        return 1;
    };
    let mut role = Role {
        name: name.to_string(),
        description: text(flags, "description").to_string(),
        ..Role::default()
    };
    if let Err(e) = fill(&client, flags, &mut role) {
        ui.error(e);
        return 1;
    }
    match super::read_json::<Role>(client.put("/v1/acl/role", Vec::new(), &format::json_body(&role))) {
        Ok(r) => show(ui, flags, &r),
        Err(e) => {
            ui.error(format!("Failed to create new role: {e}"));
            1
        }
    }
}

/// Policies (names, then resolved IDs) and identities from the flags, replacing `role`'s.
fn fill(client: &Client, flags: &Parsed, role: &mut Role) -> Result<(), String> {
    role.policies = super::non_empty(super::policy_links(
        client,
        flags.list("policy-name"),
        flags.list("policy-id"),
    )?);
    role.service_identities = super::non_empty(super::service_identities(flags.list("service-identity"))?);
    role.node_identities = super::non_empty(super::node_identities(flags.list("node-identity"))?);
    role.templated_policies = super::non_empty(super::templated_policies(
        text(flags, "templated-policy"),
        flags.list("var"),
    )?);
    Ok(())
}

fn id_name_flags(verb: &'static str) -> [Flag; 2] {
    let id_usage: &'static str = match verb {
        "read" => "The ID of the role to read. It may be specified as a unique ID prefix but will error if the prefix matches multiple policy IDs",
        _ => "The ID of the role to delete. It may be specified as a unique ID prefix but will error if the prefix matches multiple role IDs",
    };
    let name_usage: &'static str = match verb {
        "read" => "The name of the role to read.",
        _ => "The name of the role to delete.",
    };
    [
        flag("id", Kind::Str, "", id_usage),
        flag("name", Kind::Str, "", name_usage),
    ]
}

fn run_read(ui: &mut Ui<'_>, args: &[String]) -> i32 {
    let mut own = vec![META_FLAG];
    own.extend(id_name_flags("read"));
    own.push(FORMAT_FLAG);
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
    let (result, what, missing) = if !id.is_empty() {
        let role_id = match super::role_id_from_partial(&client, id) {
            Ok(id) => id,
            Err(e) => {
                ui.error(format!("Error determining role ID: {e}"));
                return 1;
            }
        };
        let result = super::read_optional::<Role>(client.get(&format!("/v1/acl/role/{role_id}"), Vec::new()));
        (
            result,
            role_id.clone(),
            format!("Role not found with ID {}", command::go_quote(&role_id)),
        )
    } else {
        let path = format!("/v1/acl/role/name/{}", super::query_escape(name));
        let result = super::read_optional::<Role>(client.get(&path, Vec::new()));
        (
            result,
            name.to_string(),
            format!("Role not found with name {}", command::go_quote(name)),
        )
    };
    match result {
        Ok(Some(r)) => show(ui, flags, &r),
        Ok(None) => {
            ui.error(missing);
            1
        }
        Err(e) => {
            ui.error(format!("Error reading role {}: {e}", command::go_quote(&what)));
            1
        }
    }
}

fn run_update(ui: &mut Ui<'_>, args: &[String]) -> i32 {
    let mut own = vec![
        META_FLAG,
        flag(
            "id",
            Kind::Str,
            "",
            "The ID of the role to update. It may be specified as a unique ID prefix but will error if the \
             prefix matches multiple role IDs",
        ),
        flag("name", Kind::Str, "", "The role name."),
        flag("description", Kind::Str, "", "A description of the role"),
    ];
    own.extend(LINK_FLAGS);
    own.push(flag(
        "no-merge",
        Kind::Bool,
        "false",
        "Do not merge the current role information with what is provided to the command. Instead overwrite \
         all fields with the exception of the role ID which is immutable.",
    ));
    own.push(FORMAT_FLAG);
    super::run_leaf(ui, UPDATE_HELP, &own, &[], args, |ui, flags, _| update(ui, flags))
}

fn update(ui: &mut Ui<'_>, flags: &Parsed) -> i32 {
    let id = text(flags, "id");
    if id.is_empty() {
        ui.error("Cannot update a role without specifying the -id parameter");
        return 1;
    }
    let Some(client) = command::client(ui, flags) else {
        return 1;
    };
    let role_id = match super::role_id_from_partial(&client, id) {
        Ok(id) => id,
        Err(e) => {
            ui.error(format!("Error determining role ID: {e}"));
            return 1;
        }
    };
    let (services, nodes) = match (
        super::service_identities(flags.list("service-identity")),
        super::node_identities(flags.list("node-identity")),
    ) {
        (Ok(s), Ok(n)) => (s, n),
        (Err(e), _) | (_, Err(e)) => {
            ui.error(e);
            return 1;
        }
    };
    let current =
        match super::read_optional::<Role>(client.get(&format!("/v1/acl/role/{role_id}"), Vec::new())) {
            Ok(Some(r)) => r,
            Ok(None) => {
                ui.error(format!("Role not found with ID {}", command::go_quote(&role_id)));
                return 1;
            }
            Err(e) => {
                ui.error(format!("Error when retrieving current role: {e}"));
                return 1;
            }
        };
    let role = if flags.bool("no-merge") {
        let mut role = Role {
            id: id.to_string(),
            name: text(flags, "name").to_string(),
            description: text(flags, "description").to_string(),
            ..Role::default()
        };
        if let Err(e) = fill(&client, flags, &mut role) {
            ui.error(e);
            return 1;
        }
        role
    } else {
        match merge(&client, flags, current, services, nodes) {
            Ok(r) => r,
            Err(e) => {
                ui.error(e);
                return 1;
            }
        }
    };
    let path = format!("/v1/acl/role/{}", role.id);
    match super::read_json::<Role>(client.put(&path, Vec::new(), &format::json_body(&role))) {
        Ok(r) => show(ui, flags, &r),
        Err(e) => {
            ui.error(format!(
                "Error updating role {}: {e}",
                command::go_quote(&role_id)
            ));
            1
        }
    }
}

/// Consul's merge: new name/description if given, links and identities added (a service
/// identity with the same name is replaced).
fn merge(
    client: &Client,
    flags: &Parsed,
    mut r: Role,
    services: Vec<super::api::ServiceIdentity>,
    nodes: Vec<super::api::NodeIdentity>,
) -> Result<Role, String> {
    let (name, description) = (text(flags, "name"), text(flags, "description"));
    if !name.is_empty() {
        r.name = name.to_string();
    }
    if !description.is_empty() {
        r.description = description.to_string();
    }
    let policies = r.policies.get_or_insert_with(Vec::new);
    for name in flags.list("policy-name") {
        if !policies.iter().any(|l| &l.name == name) {
            policies.push(Link {
                id: String::new(),
                name: name.clone(),
            });
        }
    }
    for id in flags.list("policy-id") {
        let id = super::policy_id_from_partial(client, id)
            .map_err(|e| format!("Error resolving policy ID : {e}"))?;
        if !policies.iter().any(|l| l.id == id) {
            policies.push(Link {
                id,
                name: String::new(),
            });
        }
    }
    let current = r.service_identities.get_or_insert_with(Vec::new);
    for s in services {
        match current.iter_mut().find(|c| c.service_name == s.service_name) {
            Some(existing) => *existing = s,
            None => current.push(s),
        }
    }
    let current = r.node_identities.get_or_insert_with(Vec::new);
    for n in nodes {
        // Consul's check (same name, different datacenter) is kept as it is.
        if !current
            .iter()
            .any(|c| c.node_name == n.node_name && c.datacenter != n.datacenter)
        {
            current.push(n);
        }
    }
    let templated = super::templated_policies(text(flags, "templated-policy"), flags.list("var"))?;
    let current = r.templated_policies.get_or_insert_with(Vec::new);
    for tp in templated {
        if !current.contains(&tp) {
            current.push(tp);
        }
    }
    Ok(r)
}

fn run_delete(ui: &mut Ui<'_>, args: &[String]) -> i32 {
    super::run_leaf(
        ui,
        DELETE_HELP,
        &id_name_flags("delete"),
        &[],
        args,
        |ui, flags, _| delete(ui, flags),
    )
}

fn delete(ui: &mut Ui<'_>, flags: &Parsed) -> i32 {
    let (id, name) = (text(flags, "id"), text(flags, "name"));
    if id.is_empty() && name.is_empty() {
        ui.error("Must specify the -id or -name parameters");
        return 1;
    }
    let Some(client) = command::client(ui, flags) else {
        return 1;
    };
    let resolved = if id.is_empty() {
        super::role_id_by_name(&client, name)
    } else {
        super::role_id_from_partial(&client, id)
    };
    let role_id = match resolved {
        Ok(id) => id,
        Err(e) => {
            ui.error(format!("Error determining role ID: {e}"));
            return 1;
        }
    };
    if let Err(e) = super::require_ok(client.delete(&format!("/v1/acl/role/{role_id}"), Vec::new())) {
        ui.error(format!(
            "Error deleting role {}: {e}",
            command::go_quote(&role_id)
        ));
        return 1;
    }
    ui.info(format!(
        "Role {} deleted successfully",
        command::go_quote(&role_id)
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
    let roles: Vec<Role> = match super::read_json(client.get("/v1/acl/roles", Vec::new())) {
        Ok(r) => r,
        Err(e) => {
            ui.error(format!("Failed to retrieve the role list: {e}"));
            return 1;
        }
    };
    match Format::parse(flags.string("format")) {
        Ok(Format::Pretty) => print(ui, &pretty_list(&roles, flags.bool("meta"))),
        Ok(Format::Json) => print(ui, &format::json_indent(&roles)),
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

    const ROLE: &str = r#"{"ID":"e2a5a6f3-8ad4-4b8c-a2f2-1c1d2f3a4b5c","Name":"db-updater","Description":"writes","Policies":[{"ID":"p1","Name":"pol"}],"ServiceIdentities":[{"ServiceName":"db","Datacenters":["dc1"]}],"NodeIdentities":[{"NodeName":"n1","Datacenter":"dc1"}],"Hash":"AQ==","CreateIndex":3,"ModifyIndex":4}"#;
    const ID: &str = "e2a5a6f3-8ad4-4b8c-a2f2-1c1d2f3a4b5c";

    fn cmd(name: &str, ui: &mut Ui<'_>, args: &[String]) -> i32 {
        run(ui, &[&[name.to_string()], args].concat())
    }
    fn create_cmd(ui: &mut Ui<'_>, args: &[String]) -> i32 {
        cmd("create", ui, args)
    }
    fn read_cmd(ui: &mut Ui<'_>, args: &[String]) -> i32 {
        cmd("read", ui, args)
    }
    fn update_cmd(ui: &mut Ui<'_>, args: &[String]) -> i32 {
        cmd("update", ui, args)
    }
    fn delete_cmd(ui: &mut Ui<'_>, args: &[String]) -> i32 {
        cmd("delete", ui, args)
    }
    fn list_cmd(ui: &mut Ui<'_>, args: &[String]) -> i32 {
        cmd("list", ui, args)
    }

    #[test]
    fn create_and_print() {
        let (o, seen) = against(
            &[(200, ROLE)],
            &[
                "-name=db-updater",
                "-description=writes",
                "-policy-name=pol",
                "-service-identity=db:dc1",
            ],
            create_cmd,
        );
        assert_eq!(seen[0].request_line, "PUT /v1/acl/role HTTP/1.1");
        assert_eq!(
            String::from_utf8_lossy(&seen[0].body),
            "{\"ID\":\"\",\"Name\":\"db-updater\",\"Description\":\"writes\",\"Policies\":[{\"ID\":\"\",\"Name\":\"pol\"}],\
             \"ServiceIdentities\":[{\"ServiceName\":\"db\",\"Datacenters\":[\"dc1\"]}],\"Hash\":null,\
             \"CreateIndex\":0,\"ModifyIndex\":0}\n"
        );
        assert_eq!(
            o.stdout,
            format!(
                "ID:           {ID}\nName:         db-updater\nDescription:  writes\nPolicies:\n   p1 - pol\n\
                 Service Identities:\n   db (Datacenters: dc1)\nNode Identities:\n   n1 (Datacenter: dc1)\n\n"
            )
        );
        let o = offline(&["-name=x"], create_cmd);
        assert_eq!(
            o.stderr,
            "Cannot create a role without specifying -policy-name, -policy-id, -service-identity, \
             -node-identity, or -templated-policy at least once\n"
        );
        let (_, seen) = against(
            &[(200, ROLE)],
            &["-name=r", "-templated-policy=builtin/node", "-var=name:n1"],
            create_cmd,
        );
        let body: serde_json::Value = serde_json::from_slice(&seen[0].body).expect("json");
        assert_eq!(
            body["TemplatedPolicies"],
            serde_json::json!([{"TemplateName": "builtin/node", "TemplateVariables": {"Name": "n1"}}])
        );
    }

    #[test]
    fn read_update_delete_list() {
        let (o, seen) = against(&[(404, "")], &["-name=db updater"], read_cmd);
        assert_eq!(seen[0].request_line, "GET /v1/acl/role/name/db+updater HTTP/1.1");
        assert_eq!(
            (o.code, o.stderr.as_str()),
            (1, "Role not found with name \"db updater\"\n")
        );
        let (o, _) = against(&[(200, ROLE)], &["-id", ID, "-meta"], read_cmd);
        assert!(o
            .stdout
            .contains("Hash:         01\nCreate Index: 3\nModify Index: 4\n"));

        let (o, seen) = against(
            &[(200, ROLE), (200, ROLE)],
            &["-id", ID, "-policy-name=other"],
            update_cmd,
        );
        assert_eq!(o.code, 0, "{}", o.stderr);
        assert_eq!(seen[1].request_line, format!("PUT /v1/acl/role/{ID} HTTP/1.1"));
        let body: serde_json::Value = serde_json::from_slice(&seen[1].body).expect("json");
        assert_eq!(
            body["Policies"],
            serde_json::json!([{"ID": "p1", "Name": "pol"}, {"ID": "", "Name": "other"}])
        );
        let (o, _) = against(&[(404, "")], &["-id", ID], update_cmd);
        assert_eq!(o.stderr, format!("Role not found with ID \"{ID}\"\n"));

        let roles = format!("[{ROLE}]");
        let (o, seen) = against(&[(200, &roles), (200, "true")], &["-name=db-updater"], delete_cmd);
        assert_eq!(seen[1].request_line, format!("DELETE /v1/acl/role/{ID} HTTP/1.1"));
        assert_eq!(o.stdout, format!("Role \"{ID}\" deleted successfully\n"));

        let (o, _) = against(&[(200, &roles)], &[], list_cmd);
        assert_eq!(
            o.stdout,
            format!(
                "db-updater:\n   ID:           {ID}\n   Description:  writes\n   Policies:\n      p1 - pol\n   \
                 Service Identities:\n      db (Datacenters: dc1)\n   Node Identities:\n      n1 (Datacenter: dc1)\n\n"
            )
        );
    }
}
