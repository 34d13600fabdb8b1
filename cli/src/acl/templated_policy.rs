//! `consul acl templated-policy list|read|preview` (Consul 1.17+):
//! `GET /v1/acl/templated-policies`, `GET /v1/acl/templated-policy/name/<name>` and
//! `POST /v1/acl/templated-policy/preview/<name>` with the variables.

use std::collections::BTreeMap;

use crate::args::{Flag, Kind, Parsed};
use crate::command::{self, flag, Subcommand};
use crate::Ui;

use super::api::{Policy, TemplatedPolicyResponse};
use super::format::{self, FORMAT_FLAG};
use super::{print, text};

const HELP: &str = r#"
Usage: consul acl templated-policy <subcommand> [options] [args]

  This command has subcommands for managing Consul ACL templated policies.
  Here are some simple examples, and more detailed examples are available
  in the subcommands or the documentation.

  List all templated policies:

      $ consul acl templated-policy list

  Preview the policy rendered by the ACL templated policy:

      $ consul acl templated-policy preview -name "builtin/service" -var "name:api"

  Read a templated policy with name:

      $ consul acl templated-policy read -name "builtin/service"

  For more examples, ask for subcommand help or view the documentation.
"#;

const LIST_HELP: &str = r#"
Usage: consul acl templated-policy list [options]

    Lists all the ACL templated policies.

    Example:

        $ consul acl templated-policy list
"#;

const READ_HELP: &str = r#"
Usage: consul acl templated-policy read [options] TEMPLATED_POLICY

  This command will retrieve and print out the details of a single templated policy.

  Example:

      $ consul acl templated-policy read -name templated-policy-name
"#;

const PREVIEW_HELP: &str = r#"
Usage: consul acl templated-policy preview [options]

    Preview the policy rendered by the ACL templated policy.

    Example:

        $ consul acl templated-policy preview -name "builtin/service" -var "name:api"
"#;

const SUBCOMMANDS: &[Subcommand] = &[
    Subcommand {
        name: "list",
        synopsis: "Lists ACL templated policies",
        run: run_list,
    },
    Subcommand {
        name: "preview",
        synopsis: "Preview the policy rendered by the ACL templated policy",
        run: run_preview,
    },
    Subcommand {
        name: "read",
        synopsis: "Read an ACL Templated Policy",
        run: run_read,
    },
];

/// `consul acl templated-policy <args>`.
pub(crate) fn run(ui: &mut Ui<'_>, args: &[String]) -> i32 {
    command::run_group(ui, HELP, SUBCOMMANDS, args)
}

/// This group's formatter words an unknown format differently: `unknown format: "xml"`.
fn json_or_pretty(ui: &mut Ui<'_>, flags: &Parsed) -> Option<bool> {
    match flags.string("format").unwrap_or("pretty") {
        "pretty" => Some(false),
        "json" => Some(true),
        other => {
            ui.error(format!("unknown format: {}", command::go_quote(other)));
            None
        }
    }
}

/// The builtin templates' one variable, as Consul's formatter hard-codes them.
fn name_variable(template: &str) -> Option<(&'static str, &'static str)> {
    match template {
        "builtin/service" => Some(("The name of the service", "api")),
        "builtin/node" => Some(("The node name", "node-1")),
        "builtin/api-gateway" => Some(("The api gateway service name", "api-gateway")),
        _ => None,
    }
}

fn pretty(tp: &TemplatedPolicyResponse, meta: bool) -> String {
    let mut out = format!(
        "Name:            {}\nDescription:     {}\nInput variables:",
        tp.template_name, tp.description
    );
    let name = &tp.template_name;
    match (name_variable(name), name.as_str()) {
        (Some((description, example)), _) => {
            out.push_str(&format!("\n\tName: String - Required - {description}.\n"));
            out.push_str("Example usage:\n");
            out.push_str(&format!(
                "\tconsul acl token create -templated-policy {name} -var name:{example}\n"
            ));
        }
        (None, "builtin/dns" | "builtin/nomad-server" | "builtin/nomad-client") => {
            out.push_str(" None\nExample usage:\n");
            out.push_str(&format!("\tconsul acl token create -templated-policy {name}\n"));
        }
        _ => out.push_str("   None\n"),
    }
    if meta {
        if !tp.schema.is_empty() {
            out.push_str(&format!("Schema:\n{}\n\n", tp.schema));
        }
        out.push_str(&format!("Raw Template:\n{}\n", tp.template));
    }
    out
}

fn run_list(ui: &mut Ui<'_>, args: &[String]) -> i32 {
    super::run_leaf(ui, LIST_HELP, &[FORMAT_FLAG], &[], args, |ui, flags, _| {
        list(ui, flags)
    })
}

fn list(ui: &mut Ui<'_>, flags: &Parsed) -> i32 {
    let Some(client) = command::client(ui, flags) else {
        return 1;
    };
    let policies: BTreeMap<String, TemplatedPolicyResponse> =
        match super::read_json(client.get("/v1/acl/templated-policies", Vec::new())) {
            Ok(p) => p,
            Err(e) => {
                ui.error(format!("Failed to retrieve the templated policies list: {e}"));
                return 1;
            }
        };
    match json_or_pretty(ui, flags) {
        Some(true) => print(ui, &format::json_indent(&policies)),
        Some(false) => {
            let mut names: Vec<&str> = policies.values().map(|p| p.template_name.as_str()).collect();
            names.sort_unstable();
            let out: String = names.iter().map(|n| format!("{n}\n")).collect();
            print(ui, &out);
        }
        None => return 1,
    }
    0
}

fn run_read(ui: &mut Ui<'_>, args: &[String]) -> i32 {
    let own = [
        flag("name", Kind::Str, "", "The name of the templated policy to read."),
        FORMAT_FLAG,
        flag(
            "meta",
            Kind::Bool,
            "false",
            "Indicates that templated policy metadata such as the schema and template code should be shown for \
             each entry.",
        ),
    ];
    super::run_leaf(ui, READ_HELP, &own, &[], args, |ui, flags, _| read(ui, flags))
}

fn read(ui: &mut Ui<'_>, flags: &Parsed) -> i32 {
    let name = text(flags, "name");
    if name.is_empty() {
        ui.error("Must specify the -name parameter");
        return 1;
    }
    let Some(client) = command::client(ui, flags) else {
        return 1;
    };
    let path = format!("/v1/acl/templated-policy/name/{name}");
    let tp = match super::read_optional::<TemplatedPolicyResponse>(client.get(&path, Vec::new())) {
        Ok(Some(tp)) => tp,
        Ok(None) => {
            ui.error(format!(
                "Templated policy not found with name {}",
                command::go_quote(name)
            ));
            return 1;
        }
        Err(e) => {
            ui.error(format!(
                "Error reading templated policy {}: {e}",
                command::go_quote(name)
            ));
            return 1;
        }
    };
    match json_or_pretty(ui, flags) {
        Some(true) => print(ui, &format::json_indent(&tp)),
        Some(false) => print(ui, &pretty(&tp, flags.bool("meta"))),
        None => return 1,
    }
    0
}

fn run_preview(ui: &mut Ui<'_>, args: &[String]) -> i32 {
    let own: [Flag; 3] = [
        FORMAT_FLAG,
        flag(
            "var",
            Kind::List,
            "",
            "Templated policy variables. Must be used in combination with -name flag to specify required \
             variables. May be specified multiple times with different variables. Format is VariableName:Value",
        ),
        flag(
            "name",
            Kind::Str,
            "",
            "The templated policy name.  Use -var flag to specify variables when required.",
        ),
    ];
    super::run_leaf(ui, PREVIEW_HELP, &own, &[], args, |ui, flags, _| {
        preview(ui, flags)
    })
}

fn preview(ui: &mut Ui<'_>, flags: &Parsed) -> i32 {
    let name = text(flags, "name");
    if name.is_empty() {
        ui.error("Cannot preview a templated policy without specifying -name or -file");
        return 1;
    }
    let Some(client) = command::client(ui, flags) else {
        return 1;
    };
    let vars = match super::templated_policy_variables(flags.list("var")) {
        Ok(v) => v,
        Err(e) => {
            ui.error(e);
            return 1;
        }
    };
    let body = format::json_body(&vars.unwrap_or_default());
    let path = format!("/v1/acl/templated-policy/preview/{name}");
    match super::read_json::<Policy>(client.post(&path, Vec::new(), &body)) {
        Ok(p) => super::policy::show(ui, flags, &p, false),
        Err(e) => {
            ui.error(format!("Failed to generate the templated policy preview: {e}"));
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::testing::{against, offline};

    const SERVICE: &str = r#"{"TemplateName":"builtin/service","Schema":"{}","Template":"service \"{{.Name}}\" {}","Description":"Gives the token or role permissions to register a service."}"#;

    fn cmd(name: &str, ui: &mut Ui<'_>, args: &[String]) -> i32 {
        run(ui, &[&[name.to_string()], args].concat())
    }
    fn list_cmd(ui: &mut Ui<'_>, args: &[String]) -> i32 {
        cmd("list", ui, args)
    }
    fn read_cmd(ui: &mut Ui<'_>, args: &[String]) -> i32 {
        cmd("read", ui, args)
    }
    fn preview_cmd(ui: &mut Ui<'_>, args: &[String]) -> i32 {
        cmd("preview", ui, args)
    }

    #[test]
    fn list_prints_sorted_names() {
        let all = format!(
            r#"{{"builtin/service":{SERVICE},"builtin/dns":{{"TemplateName":"builtin/dns","Schema":"","Template":"","Description":"dns"}}}}"#
        );
        let (o, seen) = against(&[(200, &all)], &[], list_cmd);
        assert_eq!(seen[0].request_line, "GET /v1/acl/templated-policies HTTP/1.1");
        assert_eq!(o.stdout, "builtin/dns\nbuiltin/service\n\n");
        let (o, _) = against(&[(200, &all)], &["-format=xml"], list_cmd);
        assert_eq!((o.code, o.stderr.as_str()), (1, "unknown format: \"xml\"\n"));
    }

    #[test]
    fn read_shows_variables_and_meta() {
        let (o, seen) = against(&[(200, SERVICE)], &["-name=builtin/service", "-meta"], read_cmd);
        assert_eq!(
            seen[0].request_line,
            "GET /v1/acl/templated-policy/name/builtin/service HTTP/1.1"
        );
        assert_eq!(
            o.stdout,
            "Name:            builtin/service\n\
             Description:     Gives the token or role permissions to register a service.\n\
             Input variables:\n\tName: String - Required - The name of the service.\n\
             Example usage:\n\tconsul acl token create -templated-policy builtin/service -var name:api\n\
             Schema:\n{}\n\nRaw Template:\nservice \"{{.Name}}\" {}\n\n"
        );
        let (o, _) = against(&[(404, "")], &["-name=builtin/nope"], read_cmd);
        assert_eq!(
            o.stderr,
            "Templated policy not found with name \"builtin/nope\"\n"
        );
        assert_eq!(
            offline(&[], read_cmd).stderr,
            "Must specify the -name parameter\n"
        );
    }

    #[test]
    fn preview_posts_the_variables() {
        let policy = r#"{"ID":"","Name":"synthetic-policy-x","Description":"synthetic policy","Rules":"service \"api\" {}","Datacenters":null,"Hash":null,"CreateIndex":0,"ModifyIndex":0}"#;
        let (o, seen) = against(
            &[(200, policy)],
            &["-name=builtin/service", "-var=name:api"],
            preview_cmd,
        );
        assert_eq!(
            seen[0].request_line,
            "POST /v1/acl/templated-policy/preview/builtin/service HTTP/1.1"
        );
        assert_eq!(seen[0].body, b"{\"Name\":\"api\"}\n");
        assert_eq!(
            o.stdout,
            "ID:           \nName:         synthetic-policy-x\nDescription:  synthetic policy\nDatacenters:  \n\
             Rules:\nservice \"api\" {}\n"
        );
        let o = offline(&[], preview_cmd);
        assert_eq!(
            o.stderr,
            "Cannot preview a templated policy without specifying -name or -file\n"
        );
        let (o, _) = against(&[(400, "Bad request")], &["-name=builtin/service"], preview_cmd);
        assert_eq!(
            o.stderr,
            "Failed to generate the templated policy preview: Unexpected response code: 400 (Bad request)\n"
        );
    }
}
