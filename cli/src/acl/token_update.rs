//! `consul acl token update`: reads the token, changes what the flags say (replacing or,
//! with the `-append-*` flags, adding to its links and identities), and writes it back,
//! as Consul's `command/acl/token/update`.

use crate::args::{Flag, Kind, Parsed};
use crate::command::{self, flag};
use crate::Ui;

use super::api::{Link, Token};
use super::format::{self, FORMAT_FLAG};
use super::text;
use super::token::{accessor_arg, ID_FLAG, META_FLAG};
use super::token_format::show;

const HELP: &str = r#"
Usage: consul acl token update [options]

    This command will update a token. Some parts such as marking the token local
    cannot be changed.

    Update a token description and take the policies from the existing token:

        $ consul acl token update -accessor-id abcd -description "replication" -merge-policies

    Update all editable fields of the token:

        $ consul acl token update -accessor-id abcd \
                                  -description "replication" \
                                  -policy-name "token-replication" \
                                  -role-name "db-updater"
"#;

const fn list(name: &'static str, usage: &'static str) -> Flag {
    flag(name, Kind::List, "", usage)
}

const OWN: [Flag; 18] = [
    META_FLAG,
    flag(
        "accessor-id",
        Kind::Str,
        "",
        "The Accessor ID of the token to update. It may be specified as a unique ID prefix but will error if \
         the prefix matches multiple token Accessor IDs",
    ),
    flag("description", Kind::Str, "", "A description of the token"),
    list(
        "policy-id",
        "ID of a policy to use for this token. Overwrites existing policies. May be specified multiple times",
    ),
    list(
        "append-policy-id",
        "ID of a policy to use for this token. The token retains existing policies. May be specified multiple times",
    ),
    list(
        "policy-name",
        "Name of a policy to use for this token. Overwrites existing policies. May be specified multiple times",
    ),
    list(
        "append-policy-name",
        "Name of a policy to add to this token. The token retains existing policies. May be specified multiple times",
    ),
    list(
        "role-id",
        "ID of a role to use for this token. Overwrites existing roles. May be specified multiple times",
    ),
    list(
        "role-name",
        "Name of a role to use for this token. Overwrites existing roles. May be specified multiple times",
    ),
    list(
        "append-role-id",
        "ID of a role to add to this token. The token retains existing roles. May be specified multiple times",
    ),
    list(
        "append-role-name",
        "Name of a role to add to this token. The token retains existing roles. May be specified multiple times",
    ),
    list(
        "service-identity",
        "Name of a service identity to use for this token. May be specified multiple times. Format is the \
         SERVICENAME or SERVICENAME:DATACENTER1,DATACENTER2,...",
    ),
    list(
        "append-service-identity",
        "Name of a service identity to use for this token. This token retains existing service identities. May \
         be specifiedmultiple times. Format is the SERVICENAME or SERVICENAME:DATACENTER1,DATACENTER2,...",
    ),
    list(
        "node-identity",
        "Name of a node identity to use for this token. May be specified multiple times. Format is \
         NODENAME:DATACENTER",
    ),
    list(
        "append-node-identity",
        "Name of a node identity to use for this token. This token retains existing node identities. May be \
         specified multiple times. Format is NODENAME:DATACENTER",
    ),
    flag(
        "replace-templated-policy",
        Kind::Str,
        "",
        "The templated policy name to use for this token. Overwrites existing templated policies. Use -var \
         flag to specify variables when required.",
    ),
    flag(
        "append-templated-policy",
        Kind::Str,
        "",
        "The templated policy name to add to this token. The token retains existing templated policies. Use \
         -var flag to specify variables when required.",
    ),
    list(
        "var",
        "Templated policy variables. Must be used in combination with -replace-templated-policy or \
         -append-templated-policy flags to specify required variables. May be specified multiple times with \
         different variables. Format is VariableName:Value",
    ),
];

const HIDDEN: [Flag; 5] = [
    ID_FLAG,
    flag(
        "merge-policies",
        Kind::Bool,
        "false",
        "DEPRECATED. Use -append-policy-id or -append-policy-name instead.",
    ),
    flag(
        "merge-roles",
        Kind::Bool,
        "false",
        "DEPRECATED. Use -append-role-id or -append-role-name instead.",
    ),
    flag(
        "merge-service-identities",
        Kind::Bool,
        "false",
        "DEPRECATED. Use -append-service-identity instead.",
    ),
    flag(
        "merge-node-identities",
        Kind::Bool,
        "false",
        "DEPRECATED. Use -append-node-identity instead.",
    ),
];

/// `consul acl token update <args>`.
pub(crate) fn run(ui: &mut Ui<'_>, args: &[String]) -> i32 {
    let mut own = OWN.to_vec();
    own.push(FORMAT_FLAG);
    super::run_leaf(ui, HELP, &own, &HIDDEN, args, |ui, flags, _| update(ui, flags))
}

fn update(ui: &mut Ui<'_>, flags: &Parsed) -> i32 {
    let Some(accessor) = accessor_arg(
        ui,
        flags,
        "Cannot update a token without specifying the -accessor-id parameter",
        "Use the -accessor-id parameter to specify token by Accessor ID",
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
    let mut token: Token = match super::read_json(client.get(&format!("/v1/acl/token/{id}"), Vec::new())) {
        Ok(t) => t,
        Err(e) => {
            ui.error(format!("Error when retrieving current token: {e}"));
            return 1;
        }
    };
    if let Err(e) = apply(ui, &client, flags, &mut token) {
        ui.error(e);
        return 1;
    }
    let path = format!("/v1/acl/token/{}", token.accessor_id);
    match super::read_json::<Token>(client.put(&path, Vec::new(), &format::json_body(&token))) {
        Ok(t) => show(ui, flags, &t, flags.bool("meta")),
        Err(e) => {
            ui.error(format!("Failed to update token {id}: {e}"));
            1
        }
    }
}

/// The flags' changes to `t`, in Consul's order; the error is what Consul prints.
fn apply(ui: &mut Ui<'_>, client: &crate::http::Client, flags: &Parsed, t: &mut Token) -> Result<(), String> {
    let description = text(flags, "description");
    if !description.is_empty() {
        t.description = description.to_string();
    }
    let (svc, append_svc) = (
        flags.list("service-identity"),
        flags.list("append-service-identity"),
    );
    if !svc.is_empty() && !append_svc.is_empty() {
        return Err(
            "Cannot combine the use of service-identity flag with append-service-identity. To set or \
                    overwrite existing service identities, use -service-identity. To append to existing \
                    service identities, use -append-service-identity."
                .into(),
        );
    }
    let services = super::service_identities(if append_svc.is_empty() { svc } else { append_svc })?;
    let (node, append_node) = (flags.list("node-identity"), flags.list("append-node-identity"));
    if !node.is_empty() && !append_node.is_empty() {
        return Err(
            "Cannot combine the use of node-identity flag with append-node-identity. To set or \
                    overwrite existing node identities, use -node-identity. To append to existing node \
                    identities, use -append-node-identity."
                .into(),
        );
    }
    let nodes = super::node_identities(if append_node.is_empty() { node } else { append_node })?;
    let (replace_tp, append_tp) = (
        text(flags, "replace-templated-policy"),
        text(flags, "append-templated-policy"),
    );
    if !replace_tp.is_empty() && !append_tp.is_empty() {
        return Err("Cannot combine the use of replace-templated-policy flag with append-templated-policy. To \
                    set or overwrite existing templated policies, use -replace-templated-policy. To append to \
                    existing templated policies, use -append-templated-policy."
            .into());
    }
    if !replace_tp.is_empty() {
        t.templated_policies = super::non_empty(super::templated_policies(replace_tp, flags.list("var"))?);
    } else if !append_tp.is_empty() {
        let added = super::templated_policies(append_tp, flags.list("var"))?;
        t.templated_policies.get_or_insert_with(Vec::new).extend(added);
    }

    let policies = t.policies.get_or_insert_with(Vec::new);
    if flags.bool("merge-policies") {
        ui.error(
            "merge-policies is deprecated and will be removed in a future Consul version. Use \
             `append-policy-name` or `append-policy-id` instead.",
        );
        for name in flags.list("policy-name") {
            if !policies.iter().any(|l| &l.name == name) {
                policies.push(named(name));
            }
        }
        for id in flags.list("policy-id") {
            let id = super::policy_id_from_partial(client, id)
                .map_err(|e| format!("Error resolving policy ID : {e}"))?;
            if !policies.iter().any(|l| l.id == id) {
                policies.push(by_id(id));
            }
        }
    } else {
        let (ids, names) = (flags.list("policy-id"), flags.list("policy-name"));
        let (append_ids, append_names) = (flags.list("append-policy-id"), flags.list("append-policy-name"));
        let replace = !ids.is_empty() || !names.is_empty();
        if replace && (!append_ids.is_empty() || !append_names.is_empty()) {
            return Err(
                "Cannot combine the use of policy-id/policy-name flags with append- variants. To set or \
                        overwrite existing policies, use -policy-id or -policy-name. To append to existing \
                        policies, use -append-policy-id or -append-policy-name."
                    .into(),
            );
        }
        let (ids, names) = if replace {
            policies.clear();
            (ids, names)
        } else {
            (append_ids, append_names)
        };
        policies.extend(super::policy_links(client, names, ids)?);
    }

    let roles = t.roles.get_or_insert_with(Vec::new);
    if flags.bool("merge-roles") {
        ui.error(
            "merge-roles is deprecated and will be removed in a future Consul version. Use `append-role-name` \
             or `append-role-id` instead.",
        );
        for name in flags.list("role-name") {
            if !roles.iter().any(|l| &l.name == name) {
                roles.push(named(name));
            }
        }
        for id in flags.list("role-id") {
            let id = super::role_id_from_partial(client, id)
                .map_err(|e| format!("Error resolving role ID : {e}"))?;
            if !roles.iter().any(|l| l.id == id) {
                // Consul appends the resolved ID as the link's name here.
                roles.push(named(&id));
            }
        }
    } else {
        let (ids, names) = (flags.list("role-id"), flags.list("role-name"));
        let (append_ids, append_names) = (flags.list("append-role-id"), flags.list("append-role-name"));
        let replace = !ids.is_empty() || !names.is_empty();
        if replace && (!append_ids.is_empty() || !append_names.is_empty()) {
            return Err("Cannot combine the use of role-id/role-name flags with append- variants. To set or \
                        overwrite existing roles, use -role-id or -role-name. To append to existing roles, use \
                        -append-role-id or -append-role-name."
                .into());
        }
        let (ids, names) = if replace {
            roles.clear();
            (ids, names)
        } else {
            (append_ids, append_names)
        };
        roles.extend(super::role_links(client, names, ids)?);
    }

    if flags.bool("merge-service-identities") || !append_svc.is_empty() {
        let current = t.service_identities.get_or_insert_with(Vec::new);
        for s in services {
            match current.iter_mut().find(|c| c.service_name == s.service_name) {
                Some(existing) => *existing = s,
                None => current.push(s),
            }
        }
    } else {
        t.service_identities = super::non_empty(services);
    }
    if flags.bool("merge-node-identities") || !append_node.is_empty() {
        let current = t.node_identities.get_or_insert_with(Vec::new);
        for n in nodes {
            if !current
                .iter()
                .any(|c| c.node_name == n.node_name && c.datacenter == n.datacenter)
            {
                current.push(n);
            }
        }
    } else {
        t.node_identities = super::non_empty(nodes);
    }
    Ok(())
}

fn named(name: &str) -> Link {
    Link {
        id: String::new(),
        name: name.to_string(),
    }
}

fn by_id(id: String) -> Link {
    Link {
        id,
        name: String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::testing::{against, offline};

    const ID: &str = "986193c8-7e1c-4f3b-b7bb-4d6e5a1e0c11";
    const CURRENT: &str = r#"{"AccessorID":"986193c8-7e1c-4f3b-b7bb-4d6e5a1e0c11","SecretID":"s","Description":"old","Policies":[{"ID":"p1","Name":"one"}],"ServiceIdentities":[{"ServiceName":"web"}],"Local":false,"CreateTime":"2021-03-04T05:06:07Z"}"#;

    fn body(seen: &crate::command::testing::Seen) -> serde_json::Value {
        serde_json::from_slice(&seen.body).expect("json body")
    }

    #[test]
    fn replaces_or_appends_links_and_identities() {
        let (o, seen) = against(
            &[(200, CURRENT), (200, CURRENT)],
            &[
                "-accessor-id",
                ID,
                "-description=new",
                "-policy-name=two",
                "-service-identity=db:dc1",
            ],
            run,
        );
        assert_eq!(o.code, 0, "{}", o.stderr);
        assert_eq!(seen[0].request_line, format!("GET /v1/acl/token/{ID} HTTP/1.1"));
        assert_eq!(seen[1].request_line, format!("PUT /v1/acl/token/{ID} HTTP/1.1"));
        let b = body(&seen[1]);
        assert_eq!(b["Description"], "new");
        assert_eq!(b["Policies"], serde_json::json!([{"ID": "", "Name": "two"}]));
        assert_eq!(
            b["ServiceIdentities"],
            serde_json::json!([{"ServiceName": "db", "Datacenters": ["dc1"]}])
        );
        assert_eq!(b["SecretID"], "s");

        let (_, seen) = against(
            &[(200, CURRENT), (200, CURRENT)],
            &[
                "-accessor-id",
                ID,
                "-append-policy-name=two",
                "-append-service-identity=web:dc2",
            ],
            run,
        );
        let b = body(&seen[1]);
        assert_eq!(
            b["Policies"],
            serde_json::json!([{"ID": "p1", "Name": "one"}, {"ID": "", "Name": "two"}])
        );
        assert_eq!(
            b["ServiceIdentities"],
            serde_json::json!([{"ServiceName": "web", "Datacenters": ["dc2"]}])
        );
        assert_eq!(b.get("Description").and_then(|d| d.as_str()), Some("old"));

        let (_, seen) = against(
            &[(200, CURRENT), (200, CURRENT)],
            &[
                "-accessor-id",
                ID,
                "-append-templated-policy=builtin/service",
                "-var=name:api",
            ],
            run,
        );
        assert_eq!(
            body(&seen[1])["TemplatedPolicies"],
            serde_json::json!([{"TemplateName": "builtin/service", "TemplateVariables": {"Name": "api"}}])
        );

        let (o, seen) = against(
            &[(200, CURRENT), (200, CURRENT)],
            &["-id", ID, "-merge-policies", "-policy-name=one"],
            run,
        );
        assert_eq!(
            body(&seen[1])["Policies"],
            serde_json::json!([{"ID": "p1", "Name": "one"}])
        );
        assert!(o
            .stderr
            .starts_with("Use the -accessor-id parameter to specify token by Accessor ID\n"));
        assert!(o.stderr.contains("merge-policies is deprecated"));
    }

    #[test]
    fn errors_read_like_consul() {
        let o = offline(&[], run);
        assert_eq!(
            o.stderr,
            "Cannot update a token without specifying the -accessor-id parameter\n"
        );
        let (o, _) = against(
            &[(200, CURRENT)],
            &["-accessor-id", ID, "-policy-name=a", "-append-policy-name=b"],
            run,
        );
        assert!(o
            .stderr
            .starts_with("Cannot combine the use of policy-id/policy-name flags"));
        let (o, _) = against(&[(403, "Permission denied")], &["-accessor-id", ID], run);
        assert_eq!(
            o.stderr,
            "Error when retrieving current token: Unexpected response code: 403 (Permission denied)\n"
        );
        let (o, _) = against(&[(200, CURRENT), (500, "boom")], &["-accessor-id", ID], run);
        assert_eq!(
            o.stderr,
            format!("Failed to update token {ID}: Unexpected response code: 500 (boom)\n")
        );
    }
}
