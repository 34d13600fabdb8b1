//! The token pretty format (Consul's `command/acl/token/formatter.go` `FormatToken` and the
//! list entries, which print the same lines), shared with roles for the identity and
//! templated-policy sections, and `-format` dispatch for one token.

use crate::args::Parsed;
use crate::Ui;

use super::api::Token;
use super::format::{self, Format};
use super::print;

/// Consul's token pretty format (`FormatToken`; list entries use the same lines).
pub(crate) fn pretty(t: &Token, meta: bool) -> String {
    let mut out = header(t, meta);
    let links = |out: &mut String, title: &str, links: &Option<Vec<super::api::Link>>| {
        if let Some(links) = links.as_ref().filter(|l| !l.is_empty()) {
            out.push_str(title);
            for l in links {
                out.push_str(&format!("   {} - {}\n", l.id, l.name));
            }
        }
    };
    links(&mut out, "Policies:\n", &t.policies);
    links(&mut out, "Roles:\n", &t.roles);
    identities(
        &mut out,
        "",
        t.service_identities.as_deref(),
        t.node_identities.as_deref(),
    );
    templated_policies(&mut out, "", t.templated_policies.as_deref());
    out
}

/// The lines every token format starts with: IDs, description, locality, auth method,
/// times and, with `-meta`, the hash and indexes.
pub(crate) fn header(t: &Token, meta: bool) -> String {
    let mut out = format!(
        "AccessorID:       {}\nSecretID:         {}\n",
        t.accessor_id, t.secret_id
    );
    if !t.partition.is_empty() {
        out.push_str(&format!("Partition:        {}\n", t.partition));
    }
    if !t.namespace.is_empty() {
        out.push_str(&format!("Namespace:        {}\n", t.namespace));
    }
    out.push_str(&format!(
        "Description:      {}\nLocal:            {}\n",
        t.description, t.local
    ));
    if !t.auth_method.is_empty() {
        out.push_str(&format!(
            "Auth Method:      {} (Namespace: {})\n",
            t.auth_method, t.auth_method_namespace
        ));
    }
    out.push_str(&format!(
        "Create Time:      {}\n",
        format::go_time(&t.create_time.0)
    ));
    if let Some(exp) = t.expiration_time.as_deref() {
        if !exp.starts_with("0001-01-01T00:00:00") {
            out.push_str(&format!("Expiration Time:  {}\n", format::go_time(exp)));
        }
    }
    if meta {
        out.push_str(&format!(
            "Hash:             {}\nCreate Index:     {}\nModify Index:     {}\n",
            format::hex_of_base64(t.hash.as_deref()),
            t.create_index,
            t.modify_index
        ));
    }
    out
}

/// The `Service Identities:` and `Node Identities:` sections, each line after `indent`
/// and three spaces (tokens and roles print them alike).
pub(crate) fn identities(
    out: &mut String,
    indent: &str,
    services: Option<&[super::api::ServiceIdentity]>,
    nodes: Option<&[super::api::NodeIdentity]>,
) {
    if let Some(services) = services.filter(|s| !s.is_empty()) {
        out.push_str(&format!("{indent}Service Identities:\n"));
        for s in services {
            match s.datacenters.as_ref().filter(|d| !d.is_empty()) {
                Some(dcs) => out.push_str(&format!(
                    "{indent}   {} (Datacenters: {})\n",
                    s.service_name,
                    dcs.join(", ")
                )),
                None => out.push_str(&format!("{indent}   {} (Datacenters: all)\n", s.service_name)),
            }
        }
    }
    if let Some(nodes) = nodes.filter(|n| !n.is_empty()) {
        out.push_str(&format!("{indent}Node Identities:\n"));
        for n in nodes {
            out.push_str(&format!(
                "{indent}   {} (Datacenter: {})\n",
                n.node_name, n.datacenter
            ));
        }
    }
}

/// The `Templated Policies:` section: each template's name, its `Name` variable if set and
/// its datacenters (`all` for none), each line after `indent`.
pub(crate) fn templated_policies(
    out: &mut String,
    indent: &str,
    tps: Option<&[super::api::TemplatedPolicy]>,
) {
    let Some(tps) = tps.filter(|l| !l.is_empty()) else {
        return;
    };
    out.push_str(&format!("{indent}Templated Policies:\n"));
    for tp in tps {
        out.push_str(&format!("{indent}   {}\n", tp.template_name));
        if let Some(vars) = tp.template_variables.as_ref().filter(|v| !v.name.is_empty()) {
            out.push_str(&format!("{indent}      Name: {}\n", vars.name));
        }
        match tp.datacenters.as_ref().filter(|d| !d.is_empty()) {
            Some(dcs) => out.push_str(&format!("{indent}      Datacenters: {}\n", dcs.join(", "))),
            None => out.push_str(&format!("{indent}      Datacenters: all\n")),
        }
    }
}

/// Prints one token in the `-format` asked for; 0 or 1.
pub(crate) fn show(ui: &mut Ui<'_>, flags: &Parsed, t: &Token, meta: bool) -> i32 {
    match Format::parse(flags.string("format")) {
        Ok(Format::Pretty) => print(ui, &pretty(t, meta)),
        Ok(Format::Json) => print(ui, &format::json_indent(t)),
        Err(e) => {
            ui.error(e);
            return 1;
        }
    }
    0
}
