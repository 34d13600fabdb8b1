//! `consul acl token read -expanded`: `GET /v1/acl/token/<id>?expanded=true` and Consul's
//! `FormatTokenExpanded`, which prints every policy, identity, templated policy and role
//! that applies to the token with its rules, layer by layer.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::http::Client;

use super::api::{
    NodeIdentity, Policy, Role, ServiceIdentity, TemplatedPolicy, TemplatedPolicyResponse, Token,
};

/// The Go `api` package's `ACLTokenExpanded` (its own fields, then the token's).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct TokenExpanded {
    pub(crate) expanded_policies: Option<Vec<Policy>>,
    pub(crate) expanded_roles: Option<Vec<Role>>,
    #[serde(rename = "NamespaceDefaultPolicyIDs")]
    pub(crate) namespace_default_policy_ids: Option<Vec<String>>,
    #[serde(rename = "NamespaceDefaultRoleIDs")]
    pub(crate) namespace_default_role_ids: Option<Vec<String>>,
    #[serde(rename = "AgentACLDefaultPolicy")]
    pub(crate) agent_acl_default_policy: String,
    #[serde(rename = "AgentACLDownPolicy")]
    pub(crate) agent_acl_down_policy: String,
    pub(crate) resolved_by_agent: String,
    #[serde(flatten)]
    pub(crate) token: Token,
}

/// The builtin templates behind service and node identities (Consul's
/// `acltemplatedpolicy/policies/ce/*.hcl`).
const SERVICE_TEMPLATE: &str = "\nservice \"{{.Name}}\" {\n\tpolicy = \"write\"\n}\nservice \"{{.Name}}-sidecar-proxy\" {\n\tpolicy = \"write\"\n}\nservice_prefix \"\" {\n\tpolicy = \"read\"\n}\nnode_prefix \"\" {\n\tpolicy = \"read\"\n}";
const NODE_TEMPLATE: &str =
    "\nnode \"{{.Name}}\" {\n\tpolicy = \"write\"\n}\nservice_prefix \"\" {\n\tpolicy = \"read\"\n}";

/// The template text of every templated policy the token uses: the service and node ones are
/// built in, others are read from the agent (`GET /v1/acl/templated-policy/name/<name>`);
/// Consul's CLI has them compiled in.
pub(crate) fn templates(client: &Client, t: &TokenExpanded) -> Result<HashMap<String, String>, String> {
    let mut out = HashMap::from([
        ("builtin/service".to_string(), SERVICE_TEMPLATE.to_string()),
        ("builtin/node".to_string(), NODE_TEMPLATE.to_string()),
    ]);
    for tp in t.token.templated_policies.iter().flatten() {
        if out.contains_key(&tp.template_name) {
            continue;
        }
        let path = format!("/v1/acl/templated-policy/name/{}", tp.template_name);
        let found: Option<TemplatedPolicyResponse> = super::read_optional(client.get(&path, Vec::new()))?;
        out.insert(
            tp.template_name.clone(),
            found.map(|f| f.template).unwrap_or_default(),
        );
    }
    Ok(out)
}

/// Renders a builtin template for `name` (its only variable is `{{.Name}}`).
fn render(templates: &HashMap<String, String>, template: &str, name: &str) -> String {
    templates
        .get(template)
        .map(|t| t.replace("{{.Name}}", name))
        .unwrap_or_default()
}

struct Printer<'a> {
    out: String,
    policies: HashMap<&'a str, &'a Policy>,
    roles: HashMap<&'a str, &'a Role>,
    templates: &'a HashMap<String, String>,
}

impl Printer<'_> {
    fn policy(&mut self, id: &str, indent: &str) {
        let empty = Policy::default();
        let p = self.policies.get(id).copied().unwrap_or(&empty);
        self.out.push_str(&format!(
            "{indent}Policy Name: {}\n{indent}\tID: {}\n{indent}\tDescription: {}\n{indent}\tRules:\n{indent}\t\t",
            p.name, p.id, p.description
        ));
        self.out
            .push_str(&p.rules.replace('\n', &format!("\n{indent}\t\t")));
        self.out.push_str("\n\n");
    }

    /// Consul's `displaySyntheticPolicy` for a policy made from `template`.
    fn synthetic(&mut self, template: &str, name: &str, indent: &str) {
        let rules = render(self.templates, template, name);
        self.out.push_str(&format!(
            "{indent}\tDescription: synthetic policy generated from templated policy: {template}\n{indent}\tRules:"
        ));
        self.out
            .push_str(&rules.replace('\n', &format!("\n{indent}\t\t")));
        self.out.push_str("\n\n");
    }

    fn service_identity(&mut self, s: &ServiceIdentity, indent: &str) {
        let dcs = s
            .datacenters
            .as_ref()
            .filter(|d| !d.is_empty())
            .map_or_else(|| "all".to_string(), |d| d.join(", "));
        self.out.push_str(&format!(
            "{indent}Name: {} (Datacenters: {dcs})\n",
            s.service_name
        ));
        self.synthetic("builtin/service", &s.service_name, indent);
    }

    fn node_identity(&mut self, n: &NodeIdentity, indent: &str) {
        self.out.push_str(&format!(
            "{indent}Name: {} (Datacenter: {})\n",
            n.node_name, n.datacenter
        ));
        self.synthetic("builtin/node", &n.node_name, indent);
    }

    fn templated_policy(&mut self, tp: &TemplatedPolicy, indent: &str) {
        self.out.push_str(&format!("{indent}{}\n", tp.template_name));
        let name = tp
            .template_variables
            .as_ref()
            .map(|v| v.name.as_str())
            .unwrap_or_default();
        if !name.is_empty() {
            self.out.push_str(&format!("{indent}\tName: {name}\n"));
        }
        match tp.datacenters.as_ref().filter(|d| !d.is_empty()) {
            Some(dcs) => self
                .out
                .push_str(&format!("{indent}\tDatacenters: {}\n", dcs.join(", "))),
            None => self.out.push_str(&format!("{indent}\tDatacenters: all\n")),
        }
        self.synthetic(&tp.template_name, name, indent);
    }

    fn role(&mut self, id: &str, indent: &str) {
        let empty = Role::default();
        let r = self.roles.get(id).copied().unwrap_or(&empty);
        self.out.push_str(&format!(
            "{indent}Role Name: {}\n{indent}\tID: {}\n{indent}\tDescription: {}\n",
            r.name, r.id, r.description
        ));
        let inner = format!("{indent}\t\t");
        if let Some(links) = r.policies.as_ref().filter(|l| !l.is_empty()) {
            self.out.push_str(&format!("{indent}\tPolicies:\n"));
            for l in links {
                self.policy(&l.id, &inner);
            }
        }
        if let Some(ids) = r.service_identities.as_ref().filter(|l| !l.is_empty()) {
            self.out.push_str(&format!("{indent}\tService Identities:\n"));
            for s in ids {
                self.service_identity(s, &inner);
            }
        }
        if let Some(ids) = r.node_identities.as_ref().filter(|l| !l.is_empty()) {
            self.out.push_str(&format!("{indent}\tNode Identities:\n"));
            for n in ids {
                self.node_identity(n, &inner);
            }
        }
    }
}

/// Consul's `FormatTokenExpanded` pretty output.
pub(crate) fn pretty(t: &TokenExpanded, meta: bool, templates: &HashMap<String, String>) -> String {
    let tok = &t.token;
    let mut p = Printer {
        out: super::token_format::header(tok, meta),
        policies: t
            .expanded_policies
            .iter()
            .flatten()
            .map(|p| (p.id.as_str(), p))
            .collect(),
        roles: t
            .expanded_roles
            .iter()
            .flatten()
            .map(|r| (r.id.as_str(), r))
            .collect(),
        templates,
    };
    if let Some(links) = tok.policies.as_ref().filter(|l| !l.is_empty()) {
        p.out.push_str("Policies:\n");
        for l in links {
            p.policy(&l.id, "\t");
        }
    }
    if let Some(ids) = tok.service_identities.as_ref().filter(|l| !l.is_empty()) {
        p.out.push_str("Service Identities:\n");
        for s in ids {
            p.service_identity(s, "\t");
        }
    }
    if let Some(ids) = tok.node_identities.as_ref().filter(|l| !l.is_empty()) {
        p.out.push_str("Node Identities:\n");
        for n in ids {
            p.node_identity(n, "\t");
        }
    }
    if let Some(tps) = tok.templated_policies.as_ref().filter(|l| !l.is_empty()) {
        p.out.push_str("Templated Policies:\n");
        for tp in tps {
            p.templated_policy(tp, "\t");
        }
    }
    if let Some(links) = tok.roles.as_ref().filter(|l| !l.is_empty()) {
        p.out.push_str("Roles:\n");
        for l in links {
            p.role(&l.id, "\t");
        }
    }
    p.out.push_str("=== End of Authorizer Layer 0: Token ===\n");
    let default_policies = t.namespace_default_policy_ids.as_deref().unwrap_or_default();
    let default_roles = t.namespace_default_role_ids.as_deref().unwrap_or_default();
    if !default_policies.is_empty() || !default_roles.is_empty() {
        p.out
            .push_str("=== Start of Authorizer Layer 1: Token Namespace’s Defaults (Inherited) ===\n");
        p.out.push_str(&format!(
            "Description: ACL Roles inherited by all Tokens in Namespace {}\n\n",
            crate::command::go_quote(&tok.namespace)
        ));
        p.out.push_str("Namespace Policy Defaults:\n");
        for id in default_policies {
            p.policy(id, "\t");
        }
        p.out.push_str("Namespace Role Defaults:\n");
        for id in default_roles {
            p.role(id, "\t");
        }
        p.out
            .push_str("=== End of Authorizer Layer 1: Token Namespace’s Defaults (Inherited) ===\n");
    }
    p.out
        .push_str("=== Start of Authorizer Layer 2: Agent Configuration Defaults (Inherited) ===\n");
    p.out.push_str(
        "Description: Defined at request-time by the agent that resolves the ACL token; other agents may have \
         different configuration defaults\n",
    );
    p.out.push_str(&format!(
        "Resolved By Agent: {}\n\n",
        crate::command::go_quote(&t.resolved_by_agent)
    ));
    p.out
        .push_str(&format!("Default Policy: {}\n", t.agent_acl_default_policy));
    p.out.push_str(
        "\tDescription: Backstop rule used if no preceding layer has a matching rule (refer to default_policy \
         option in agent configuration)\n\n",
    );
    p.out
        .push_str(&format!("Down Policy: {}\n", t.agent_acl_down_policy));
    p.out.push_str(
        "\tDescription: Defines what to do if this Token's information cannot be read from the \
         primary_datacenter (refer to down_policy option in agent configuration)\n\n",
    );
    p.out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Consul's `FormatTokenExpanded/ce/complex` case without the enterprise namespace layer.
    #[test]
    fn prints_like_consuls_golden_file() {
        let json = r#"{
            "ExpandedPolicies": [
                {"ID": "beb04680", "Name": "hobbiton", "Description": "user policy on token", "Rules": "service_prefix \"\" {\n  policy = \"read\"\n}"},
                {"ID": "6204f4cd", "Name": "shire-policy", "Description": "policy for shire role", "Rules": "operator = \"write\""}
            ],
            "ExpandedRoles": [
                {"ID": "3b0a78fe", "Name": "shire", "Description": "shire role", "Policies": [{"ID": "6204f4cd", "Name": "shire-policy"}],
                 "NodeIdentities": [{"NodeName": "bar", "Datacenter": "dc2"}]}
            ],
            "AgentACLDefaultPolicy": "deny", "AgentACLDownPolicy": "extend-cache", "ResolvedByAgent": "server-1",
            "AccessorID": "fbd2447f", "SecretID": "869c6e91", "Description": "test token", "Local": false,
            "CreateTime": "2020-05-22T18:52:31Z",
            "Policies": [{"ID": "beb04680", "Name": "hobbiton"}],
            "Roles": [{"ID": "3b0a78fe", "Name": "shire"}],
            "ServiceIdentities": [{"ServiceName": "gardener", "Datacenters": ["dc1"]}],
            "TemplatedPolicies": [{"TemplateName": "builtin/node", "TemplateVariables": {"Name": "api"}}]
        }"#;
        let t: TokenExpanded = serde_json::from_str(json).expect("json");
        let templates = HashMap::from([
            ("builtin/service".to_string(), SERVICE_TEMPLATE.to_string()),
            ("builtin/node".to_string(), NODE_TEMPLATE.to_string()),
        ]);
        let want = "AccessorID:       fbd2447f\nSecretID:         869c6e91\nDescription:      test token\n\
            Local:            false\nCreate Time:      2020-05-22 18:52:31 +0000 UTC\n\
            Policies:\n\tPolicy Name: hobbiton\n\t\tID: beb04680\n\t\tDescription: user policy on token\n\
            \t\tRules:\n\t\t\tservice_prefix \"\" {\n\t\t\t  policy = \"read\"\n\t\t\t}\n\n\
            Service Identities:\n\tName: gardener (Datacenters: dc1)\n\
            \t\tDescription: synthetic policy generated from templated policy: builtin/service\n\t\tRules:\n\
            \t\t\tservice \"gardener\" {\n\t\t\t\tpolicy = \"write\"\n\t\t\t}\n\
            \t\t\tservice \"gardener-sidecar-proxy\" {\n\t\t\t\tpolicy = \"write\"\n\t\t\t}\n\
            \t\t\tservice_prefix \"\" {\n\t\t\t\tpolicy = \"read\"\n\t\t\t}\n\
            \t\t\tnode_prefix \"\" {\n\t\t\t\tpolicy = \"read\"\n\t\t\t}\n\n\
            Templated Policies:\n\tbuiltin/node\n\t\tName: api\n\t\tDatacenters: all\n\
            \t\tDescription: synthetic policy generated from templated policy: builtin/node\n\t\tRules:\n\
            \t\t\tnode \"api\" {\n\t\t\t\tpolicy = \"write\"\n\t\t\t}\n\
            \t\t\tservice_prefix \"\" {\n\t\t\t\tpolicy = \"read\"\n\t\t\t}\n\n\
            Roles:\n\tRole Name: shire\n\t\tID: 3b0a78fe\n\t\tDescription: shire role\n\t\tPolicies:\n\
            \t\t\tPolicy Name: shire-policy\n\t\t\t\tID: 6204f4cd\n\t\t\t\tDescription: policy for shire role\n\
            \t\t\t\tRules:\n\t\t\t\t\toperator = \"write\"\n\n\
            \t\tNode Identities:\n\t\t\tName: bar (Datacenter: dc2)\n\
            \t\t\t\tDescription: synthetic policy generated from templated policy: builtin/node\n\t\t\t\tRules:\n\
            \t\t\t\t\tnode \"bar\" {\n\t\t\t\t\t\tpolicy = \"write\"\n\t\t\t\t\t}\n\
            \t\t\t\t\tservice_prefix \"\" {\n\t\t\t\t\t\tpolicy = \"read\"\n\t\t\t\t\t}\n\n\
            === End of Authorizer Layer 0: Token ===\n\
            === Start of Authorizer Layer 2: Agent Configuration Defaults (Inherited) ===\n\
            Description: Defined at request-time by the agent that resolves the ACL token; other agents may have \
            different configuration defaults\nResolved By Agent: \"server-1\"\n\n\
            Default Policy: deny\n\tDescription: Backstop rule used if no preceding layer has a matching rule \
            (refer to default_policy option in agent configuration)\n\n\
            Down Policy: extend-cache\n\tDescription: Defines what to do if this Token's information cannot be \
            read from the primary_datacenter (refer to down_policy option in agent configuration)\n\n";
        let got = pretty(&t, false, &templates);
        assert_eq!(got, want);
        let json_out = super::super::format::json_indent(&t);
        assert!(json_out.starts_with("{\n    \"ExpandedPolicies\": [\n"));
        assert!(json_out.contains("\"ResolvedByAgent\": \"server-1\",\n    \"CreateIndex\": 0,\n"));
    }
}
