//! `consul acl binding-rule create|read|update|delete|list` and the binding-rule formatter,
//! as Consul's `command/acl/bindingrule`.

use crate::args::{Flag, Kind, Parsed};
use crate::command::{self, flag, Subcommand};
use crate::Ui;

use super::api::BindingRule;
use super::format::{self, Format, FORMAT_FLAG};
use super::{print, text};

const HELP: &str = r#"
Usage: consul acl binding-rule <subcommand> [options] [args]

  This command has subcommands for managing Consul's ACL binding rules. Here
  are some simple examples, and more detailed examples are available in the
  subcommands or the documentation.

  Create a new binding rule:

    $ consul acl binding-rule create \
          -method=minikube \
          -bind-type=service \
          -bind-name='k8s-${serviceaccount.name}' \
          -selector='serviceaccount.namespace==default and serviceaccount.name==web'

  List all binding rules:

    $ consul acl binding-rule list

  Update a binding rule:

    $ consul acl binding-rule update -id=43cb72df-9c6f-4315-ac8a-01a9d98155ef \
          -bind-name='k8s-${serviceaccount.name}'

  Read a binding rule:

    $ consul acl binding-rule read -id fdabbcb5-9de5-4b1a-961f-77214ae88cba

  Delete a binding rule:

    $ consul acl binding-rule delete -id b6b856da-5193-4e78-845a-7d61ca8371ba

  For more examples, ask for subcommand help or view the documentation.
"#;

const CREATE_HELP: &str = r#"
Usage: consul acl binding-rule create [options]

  Create a new binding rule:

    $ consul acl binding-rule create \
          -method=minikube \
          -bind-type=service \
          -bind-name='k8s-${serviceaccount.name}' \
          -selector='serviceaccount.namespace==default and serviceaccount.name==web'
"#;

const READ_HELP: &str = r#"
Usage: consul acl binding-rule read -id ID [options]

  This command will retrieve and print out the details of a single binding
  rule.

  Read a binding rule:

    $ consul acl binding-rule read -id fdabbcb5-9de5-4b1a-961f-77214ae88cba
"#;

const UPDATE_HELP: &str = r#"
Usage: consul acl binding-rule update -id ID [options]

  Updates a binding rule. By default it will merge the binding rule
  information with its current state so that you do not have to provide all
  parameters. This behavior can be disabled by passing -no-merge.

  Update all editable fields of the binding rule:

    $ consul acl binding-rule update \
          -id=43cb72df-9c6f-4315-ac8a-01a9d98155ef \
          -description="new description" \
          -bind-type=role \
          -bind-name='k8s-${serviceaccount.name}' \
          -selector='serviceaccount.namespace==default and serviceaccount.name==web'
"#;

const DELETE_HELP: &str = r#"
Usage: consul acl binding-rule delete -id ID [options]

  Deletes an ACL binding rule by providing the ID or a unique ID prefix.

  Delete by prefix:

    $ consul acl binding-rule delete -id b6b85

  Delete by full ID:

    $ consul acl binding-rule delete -id b6b856da-5193-4e78-845a-7d61ca8371ba
"#;

const LIST_HELP: &str = r#"
Usage: consul acl binding-rule list [options]

  Lists all the ACL binding rules.

  Show all:

    $ consul acl binding-rule list

  Show all for a specific auth method:

    $ consul acl binding-rule list -method="my-method"
"#;

const SUBCOMMANDS: &[Subcommand] = &[
    Subcommand {
        name: "create",
        synopsis: "Create an ACL binding rule",
        run: run_create,
    },
    Subcommand {
        name: "delete",
        synopsis: "Delete an ACL binding rule",
        run: run_delete,
    },
    Subcommand {
        name: "list",
        synopsis: "Lists ACL binding rules",
        run: run_list,
    },
    Subcommand {
        name: "read",
        synopsis: "Read an ACL binding rule",
        run: run_read,
    },
    Subcommand {
        name: "update",
        synopsis: "Update an ACL binding rule",
        run: run_update,
    },
];

const META_FLAG: Flag = flag(
    "meta",
    Kind::Bool,
    "false",
    "Indicates that binding rule metadata such as the raft indices should be shown for each entry.",
);

const RULE_FLAGS: [Flag; 4] = [
    flag("description", Kind::Str, "", "A description of the binding rule."),
    flag(
        "selector",
        Kind::Str,
        "",
        "Selector is an expression that matches against verified identity attributes returned from the auth \
         method during login.",
    ),
    flag(
        "bind-type",
        Kind::Str,
        "service",
        "Type of binding to perform (\"service\" or \"role\").",
    ),
    flag(
        "bind-name",
        Kind::Str,
        "",
        "Name to bind on match. Can use ${var} interpolation. This flag is required.",
    ),
];

/// `consul acl binding-rule <args>`.
pub(crate) fn run(ui: &mut Ui<'_>, args: &[String]) -> i32 {
    command::run_group(ui, HELP, SUBCOMMANDS, args)
}

fn lines(out: &mut String, indent: &str, r: &BindingRule, meta: bool) {
    if !r.partition.is_empty() {
        out.push_str(&format!("{indent}Partition:    {}\n", r.partition));
    }
    if !r.namespace.is_empty() {
        out.push_str(&format!("{indent}Namespace:    {}\n", r.namespace));
    }
    out.push_str(&format!(
        "{indent}AuthMethod:   {}\n{indent}Description:  {}\n{indent}BindType:     {}\n\
         {indent}BindName:     {}\n{indent}Selector:     {}\n",
        r.auth_method, r.description, r.bind_type, r.bind_name, r.selector
    ));
    if meta {
        out.push_str(&format!(
            "{indent}Create Index: {}\n{indent}Modify Index: {}\n",
            r.create_index, r.modify_index
        ));
    }
}

fn pretty(r: &BindingRule, meta: bool) -> String {
    let mut out = format!("ID:           {}\n", r.id);
    lines(&mut out, "", r, meta);
    out
}

fn show(ui: &mut Ui<'_>, flags: &Parsed, r: &BindingRule) -> i32 {
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

/// `-bind-type`'s value: its default is `service` when the flag is not given.
fn bind_type(flags: &Parsed) -> &str {
    flags.string("bind-type").unwrap_or("service")
}

fn run_create(ui: &mut Ui<'_>, args: &[String]) -> i32 {
    let mut own = vec![
        META_FLAG,
        flag(
            "method",
            Kind::Str,
            "",
            "The auth method's name for which this binding rule applies. This flag is required.",
        ),
    ];
    own.extend(RULE_FLAGS);
    own.push(FORMAT_FLAG);
    super::run_leaf(ui, CREATE_HELP, &own, &[], args, create)
}

fn create(ui: &mut Ui<'_>, flags: &Parsed, usage: &str) -> i32 {
    for (value, f) in [
        (text(flags, "method"), "method"),
        (bind_type(flags), "bind-type"),
        (text(flags, "bind-name"), "bind-name"),
    ] {
        if value.is_empty() {
            ui.error(format!("Missing required '-{f}' flag"));
            ui.error(usage);
            return 1;
        }
    }
    let rule = BindingRule {
        description: text(flags, "description").to_string(),
        auth_method: text(flags, "method").to_string(),
        bind_type: bind_type(flags).to_string(),
        bind_name: text(flags, "bind-name").to_string(),
        selector: text(flags, "selector").to_string(),
        ..BindingRule::default()
    };
    let Some(client) = command::client(ui, flags) else {
        return 1;
    };
    let body = format::json_body(&rule);
    match super::read_json::<BindingRule>(client.put("/v1/acl/binding-rule", Vec::new(), &body)) {
        Ok(r) => show(ui, flags, &r),
        Err(e) => {
            ui.error(format!("Failed to create new binding rule: {e}"));
            1
        }
    }
}

fn id_flag(verb: &'static str) -> Flag {
    let usage: &'static str = match verb {
        "read" => "The ID of the binding rule to read. It may be specified as a unique ID prefix but will error if the prefix matches multiple binding rule IDs",
        "update" => "The ID of the binding rule to update. It may be specified as a unique ID prefix but will error if the prefix matches multiple binding rule IDs",
        _ => "The ID of the binding rule to delete. It may be specified as a unique ID prefix but will error if the prefix matches multiple binding rule IDs",
    };
    flag("id", Kind::Str, "", usage)
}

/// `-id` resolved from a unique prefix, or Consul's error printed.
fn rule_id(ui: &mut Ui<'_>, client: &crate::http::Client, flags: &Parsed) -> Option<String> {
    match super::binding_rule_id_from_partial(client, text(flags, "id")) {
        Ok(id) => Some(id),
        Err(e) => {
            ui.error(format!("Error determining binding rule ID: {e}"));
            None
        }
    }
}

fn run_read(ui: &mut Ui<'_>, args: &[String]) -> i32 {
    let own = [META_FLAG, id_flag("read"), FORMAT_FLAG];
    super::run_leaf(ui, READ_HELP, &own, &[], args, |ui, flags, _| read(ui, flags))
}

fn read(ui: &mut Ui<'_>, flags: &Parsed) -> i32 {
    if text(flags, "id").is_empty() {
        ui.error("Must specify the -id parameter.");
        return 1;
    }
    let Some(client) = command::client(ui, flags) else {
        return 1;
    };
    let Some(id) = rule_id(ui, &client, flags) else {
        return 1;
    };
    match super::read_optional::<BindingRule>(client.get(&format!("/v1/acl/binding-rule/{id}"), Vec::new())) {
        Ok(Some(r)) => show(ui, flags, &r),
        Ok(None) => {
            ui.error(format!(
                "Binding rule not found with ID {}",
                command::go_quote(&id)
            ));
            1
        }
        Err(e) => {
            ui.error(format!(
                "Error reading binding rule {}: {e}",
                command::go_quote(&id)
            ));
            1
        }
    }
}

fn run_update(ui: &mut Ui<'_>, args: &[String]) -> i32 {
    let mut own = vec![META_FLAG, id_flag("update")];
    own.extend(RULE_FLAGS);
    own.push(flag(
        "no-merge",
        Kind::Bool,
        "false",
        "Do not merge the current binding rule information with what is provided to the command. Instead \
         overwrite all fields with the exception of the binding rule ID which is immutable.",
    ));
    own.push(FORMAT_FLAG);
    super::run_leaf(ui, UPDATE_HELP, &own, &[], args, update)
}

fn update(ui: &mut Ui<'_>, flags: &Parsed, usage: &str) -> i32 {
    if text(flags, "id").is_empty() {
        ui.error("Cannot update a binding rule without specifying the -id parameter");
        return 1;
    }
    let Some(client) = command::client(ui, flags) else {
        return 1;
    };
    let Some(id) = rule_id(ui, &client, flags) else {
        return 1;
    };
    let path = format!("/v1/acl/binding-rule/{id}");
    let current = match super::read_optional::<BindingRule>(client.get(&path, Vec::new())) {
        Ok(Some(r)) => r,
        Ok(None) => {
            ui.error(format!(
                "Binding rule not found with ID {}",
                command::go_quote(&id)
            ));
            return 1;
        }
        Err(e) => {
            ui.error(format!("Error when retrieving current binding rule: {e}"));
            return 1;
        }
    };
    let rule = if flags.bool("no-merge") {
        for (value, f) in [
            (bind_type(flags), "bind-type"),
            (text(flags, "bind-name"), "bind-name"),
        ] {
            if value.is_empty() {
                ui.error(format!("Missing required '-{f}' flag"));
                ui.error(usage);
                return 1;
            }
        }
        BindingRule {
            id: id.clone(),
            auth_method: current.auth_method,
            description: text(flags, "description").to_string(),
            bind_type: bind_type(flags).to_string(),
            bind_name: text(flags, "bind-name").to_string(),
            selector: text(flags, "selector").to_string(),
            ..BindingRule::default()
        }
    } else {
        let mut r = current;
        for (value, field) in [
            (text(flags, "description"), &mut r.description),
            (bind_type(flags), &mut r.bind_type),
            (text(flags, "bind-name"), &mut r.bind_name),
        ] {
            if !value.is_empty() {
                *field = value.to_string();
            }
        }
        if let Some(selector) = flags.string("selector") {
            r.selector = selector.to_string();
        }
        r
    };
    match super::read_json::<BindingRule>(client.put(&path, Vec::new(), &format::json_body(&rule))) {
        Ok(r) => show(ui, flags, &r),
        Err(e) => {
            ui.error(format!(
                "Error updating binding rule {}: {e}",
                command::go_quote(&id)
            ));
            1
        }
    }
}

fn run_delete(ui: &mut Ui<'_>, args: &[String]) -> i32 {
    super::run_leaf(
        ui,
        DELETE_HELP,
        &[id_flag("delete")],
        &[],
        args,
        |ui, flags, _| delete(ui, flags),
    )
}

fn delete(ui: &mut Ui<'_>, flags: &Parsed) -> i32 {
    if text(flags, "id").is_empty() {
        ui.error("Must specify the -id parameter");
        return 1;
    }
    let Some(client) = command::client(ui, flags) else {
        return 1;
    };
    let Some(id) = rule_id(ui, &client, flags) else {
        return 1;
    };
    if let Err(e) = super::require_ok(client.delete(&format!("/v1/acl/binding-rule/{id}"), Vec::new())) {
        ui.error(format!(
            "Error deleting binding rule {}: {e}",
            command::go_quote(&id)
        ));
        return 1;
    }
    ui.info(format!(
        "Binding rule {} deleted successfully",
        command::go_quote(&id)
    ));
    0
}

fn run_list(ui: &mut Ui<'_>, args: &[String]) -> i32 {
    let own = [
        META_FLAG,
        flag(
            "method",
            Kind::Str,
            "",
            "Only show rules linked to the auth method with the given name.",
        ),
        FORMAT_FLAG,
    ];
    super::run_leaf(ui, LIST_HELP, &own, &[], args, |ui, flags, _| list(ui, flags))
}

fn list(ui: &mut Ui<'_>, flags: &Parsed) -> i32 {
    let Some(client) = command::client(ui, flags) else {
        return 1;
    };
    let method = text(flags, "method");
    let params = if method.is_empty() {
        Vec::new()
    } else {
        vec![("authmethod", method.to_string())]
    };
    let rules: Vec<BindingRule> = match super::read_json(client.get("/v1/acl/binding-rules", params)) {
        Ok(r) => r,
        Err(e) => {
            ui.error(format!("Failed to retrieve the binding rule list: {e}"));
            return 1;
        }
    };
    match Format::parse(flags.string("format")) {
        Ok(Format::Pretty) => {
            let mut out = String::new();
            for r in &rules {
                out.push_str(&format!("{}:\n", r.id));
                lines(&mut out, "   ", r, flags.bool("meta"));
            }
            print(ui, &out);
        }
        Ok(Format::Json) => print(ui, &format::json_indent(&rules)),
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

    const ID: &str = "43cb72df-9c6f-4315-ac8a-01a9d98155ef";
    const RULE: &str = r#"{"ID":"43cb72df-9c6f-4315-ac8a-01a9d98155ef","Description":"d","AuthMethod":"minikube","Selector":"serviceaccount.name==web","BindType":"service","BindName":"k8s-${serviceaccount.name}","CreateIndex":9,"ModifyIndex":10}"#;

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

    const PRETTY: &str = "ID:           43cb72df-9c6f-4315-ac8a-01a9d98155ef\nAuthMethod:   minikube\n\
        Description:  d\nBindType:     service\nBindName:     k8s-${serviceaccount.name}\n\
        Selector:     serviceaccount.name==web\n";

    #[test]
    fn create_sends_the_rule() {
        let (o, seen) = against(
            &[(200, RULE)],
            &[
                "-method=minikube",
                "-description=d",
                "-bind-name=k8s-${serviceaccount.name}",
                "-selector=serviceaccount.name==web",
            ],
            create_cmd,
        );
        assert_eq!(seen[0].request_line, "PUT /v1/acl/binding-rule HTTP/1.1");
        assert_eq!(
            String::from_utf8_lossy(&seen[0].body),
            "{\"ID\":\"\",\"Description\":\"d\",\"AuthMethod\":\"minikube\",\"Selector\":\"serviceaccount.name==web\",\
             \"BindType\":\"service\",\"BindName\":\"k8s-${serviceaccount.name}\",\"CreateIndex\":0,\"ModifyIndex\":0}\n"
        );
        assert_eq!(o.stdout, format!("{PRETTY}\n"));
        let o = offline(&["-bind-name=x"], create_cmd);
        assert!(o
            .stderr
            .starts_with("Missing required '-method' flag\nUsage: consul acl binding-rule create"));
        let o = offline(&["-method=m"], create_cmd);
        assert!(o.stderr.starts_with("Missing required '-bind-name' flag\n"));
    }

    #[test]
    fn read_update_delete_list() {
        let list = format!("[{RULE}]");
        let (o, seen) = against(&[(200, &list), (200, RULE)], &["-id=43cb", "-meta"], read_cmd);
        assert_eq!(seen[0].request_line, "GET /v1/acl/binding-rules HTTP/1.1");
        assert_eq!(
            seen[1].request_line,
            format!("GET /v1/acl/binding-rule/{ID} HTTP/1.1")
        );
        assert_eq!(o.stdout, format!("{PRETTY}Create Index: 9\nModify Index: 10\n\n"));
        let (o, _) = against(&[(200, "[]")], &["-id=zz"], read_cmd);
        assert_eq!(
            o.stderr,
            "Error determining binding rule ID: no such rule ID with prefix: zz: ACL not found\n"
        );
        assert_eq!(offline(&[], read_cmd).stderr, "Must specify the -id parameter.\n");

        let (o, seen) = against(
            &[(200, RULE), (200, RULE)],
            &["-id", ID, "-selector="],
            update_cmd,
        );
        assert_eq!(o.code, 0, "{}", o.stderr);
        let body: serde_json::Value = serde_json::from_slice(&seen[1].body).expect("json");
        assert_eq!(
            (body["Selector"].as_str(), body["Description"].as_str()),
            (Some(""), Some("d"))
        );

        let (o, seen) = against(&[(200, "true")], &["-id", ID], delete_cmd);
        assert_eq!(
            seen[0].request_line,
            format!("DELETE /v1/acl/binding-rule/{ID} HTTP/1.1")
        );
        assert_eq!(o.stdout, format!("Binding rule \"{ID}\" deleted successfully\n"));

        let (o, seen) = against(&[(200, &list)], &["-method=minikube"], list_cmd);
        assert_eq!(
            seen[0].request_line,
            "GET /v1/acl/binding-rules?authmethod=minikube HTTP/1.1"
        );
        assert_eq!(
            o.stdout,
            format!(
                "{ID}:\n   AuthMethod:   minikube\n   Description:  d\n   BindType:     service\n   \
                 BindName:     k8s-${{serviceaccount.name}}\n   Selector:     serviceaccount.name==web\n\n"
            )
        );
    }
}
