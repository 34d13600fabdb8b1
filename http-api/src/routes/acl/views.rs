//! ACL objects in Consul's JSON (field names and order of Consul's `structs.ACL*`).

use base64::Engine;
use rconsul_state::acl::{
    AclTables, AuthMethod, BindingRule, NodeIdentity, Policy, PolicyLink, Role, RoleLink, ServiceIdentity,
    TemplatedPolicyLink, Token,
};
use rconsul_state::clock::rfc3339_nanos;
use serde::Serialize;

/// `{"ID": ..., "Name": ...}`.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct LinkJson {
    #[serde(rename = "ID")]
    id: String,
    name: String,
}

/// A service identity.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ServiceIdentityJson<'a> {
    service_name: &'a str,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    datacenters: &'a [String],
}

/// A node identity.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct NodeIdentityJson<'a> {
    node_name: &'a str,
    datacenter: &'a str,
}

/// A templated policy link.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TemplatedPolicyJson<'a> {
    template_name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    template_variables: Option<TemplateVarsJson<'a>>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    datacenters: &'a [String],
}

/// `{"Name": ...}`.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TemplateVarsJson<'a> {
    name: &'a str,
}

/// Links to policies that still exist, with their current names (as Consul shows them).
pub fn policy_links(tables: &AclTables, links: &[PolicyLink]) -> Vec<LinkJson> {
    links
        .iter()
        .filter_map(|l| tables.policy(&l.id))
        .map(|p| LinkJson {
            id: p.id.clone(),
            name: p.name.clone(),
        })
        .collect()
}

/// Links to roles that still exist, with their current names.
pub fn role_links(tables: &AclTables, links: &[RoleLink]) -> Vec<LinkJson> {
    links
        .iter()
        .filter_map(|l| tables.role(&l.id))
        .map(|r| LinkJson {
            id: r.id.clone(),
            name: r.name.clone(),
        })
        .collect()
}

fn service_identities(s: &[ServiceIdentity]) -> Vec<ServiceIdentityJson<'_>> {
    s.iter()
        .map(|s| ServiceIdentityJson {
            service_name: &s.service_name,
            datacenters: &s.datacenters,
        })
        .collect()
}

fn node_identities(n: &[NodeIdentity]) -> Vec<NodeIdentityJson<'_>> {
    n.iter()
        .map(|n| NodeIdentityJson {
            node_name: &n.node_name,
            datacenter: &n.datacenter,
        })
        .collect()
}

fn templated(t: &[TemplatedPolicyLink]) -> Vec<TemplatedPolicyJson<'_>> {
    t.iter()
        .map(|t| TemplatedPolicyJson {
            template_name: &t.template_name,
            template_variables: t.name.as_deref().map(|name| TemplateVarsJson { name }),
            datacenters: &t.datacenters,
        })
        .collect()
}

/// A content hash, base64 as Consul's `Hash` (16 bytes: two keyless SipHashes of the
/// parts, so every server shows the same value for the same object).
pub fn hash_of(parts: &[&str]) -> String {
    use std::hash::{Hash, Hasher};
    let mut out = Vec::with_capacity(16);
    for seed in [0u8, 1u8] {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        seed.hash(&mut h);
        parts.hash(&mut h);
        out.extend_from_slice(&h.finish().to_be_bytes());
    }
    base64::engine::general_purpose::STANDARD.encode(out)
}

fn go_duration(ns: u64) -> String {
    rconsul_compat::duration::format(std::time::Duration::from_nanos(ns))
}

/// A token, as `/v1/acl/token/:id` answers (with `secret: false`, SecretID redacted).
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TokenJson<'a> {
    #[serde(rename = "AccessorID")]
    accessor_id: &'a str,
    #[serde(rename = "SecretID")]
    secret_id: &'a str,
    description: &'a str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    policies: Vec<LinkJson>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    roles: Vec<LinkJson>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    service_identities: Vec<ServiceIdentityJson<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    node_identities: Vec<NodeIdentityJson<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    templated_policies: Vec<TemplatedPolicyJson<'a>>,
    local: bool,
    #[serde(skip_serializing_if = "str::is_empty")]
    auth_method: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    expiration_time: Option<String>,
    #[serde(rename = "ExpirationTTL", skip_serializing_if = "Option::is_none")]
    expiration_ttl: Option<String>,
    create_time: String,
    hash: String,
    create_index: u64,
    modify_index: u64,
}

/// Renders a token; `show_secret` false replaces the SecretID with `<hidden>` (Consul
/// does so for callers without `acl:write`).
pub fn token<'a>(tables: &AclTables, t: &'a Token, show_secret: bool) -> TokenJson<'a> {
    TokenJson {
        accessor_id: &t.accessor_id,
        secret_id: if show_secret { &t.secret_id } else { "<hidden>" },
        description: &t.description,
        policies: policy_links(tables, &t.policies),
        roles: role_links(tables, &t.roles),
        service_identities: service_identities(&t.service_identities),
        node_identities: node_identities(&t.node_identities),
        templated_policies: templated(&t.templated_policies),
        local: t.local,
        auth_method: &t.auth_method,
        expiration_time: t.expiration_time_ns.map(rfc3339_nanos),
        expiration_ttl: (t.expiration_ttl_ns > 0).then(|| go_duration(t.expiration_ttl_ns)),
        create_time: rfc3339_nanos(t.create_time_ns),
        hash: hash_of(&[
            &t.accessor_id,
            &t.description,
            &format!("{:?}{:?}{:?}", t.policies, t.roles, t.local),
        ]),
        create_index: t.create_index,
        modify_index: t.modify_index,
    }
}

/// A policy, with its rules.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PolicyJson<'a> {
    #[serde(rename = "ID")]
    id: &'a str,
    name: &'a str,
    description: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    rules: Option<&'a str>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    datacenters: &'a [String],
    hash: String,
    create_index: u64,
    modify_index: u64,
}

/// Renders a policy; `with_rules` false is the list stub.
pub fn policy(p: &Policy, with_rules: bool) -> PolicyJson<'_> {
    PolicyJson {
        id: &p.id,
        name: &p.name,
        description: &p.description,
        rules: with_rules.then_some(p.rules.as_str()),
        datacenters: &p.datacenters,
        hash: hash_of(&[&p.name, &p.description, &p.rules, &p.datacenters.join(",")]),
        create_index: p.create_index,
        modify_index: p.modify_index,
    }
}

/// A role.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RoleJson<'a> {
    #[serde(rename = "ID")]
    id: &'a str,
    name: &'a str,
    description: &'a str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    policies: Vec<LinkJson>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    service_identities: Vec<ServiceIdentityJson<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    node_identities: Vec<NodeIdentityJson<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    templated_policies: Vec<TemplatedPolicyJson<'a>>,
    hash: String,
    create_index: u64,
    modify_index: u64,
}

/// Renders a role.
pub fn role<'a>(tables: &AclTables, r: &'a Role) -> RoleJson<'a> {
    RoleJson {
        id: &r.id,
        name: &r.name,
        description: &r.description,
        policies: policy_links(tables, &r.policies),
        service_identities: service_identities(&r.service_identities),
        node_identities: node_identities(&r.node_identities),
        templated_policies: templated(&r.templated_policies),
        hash: hash_of(&[&r.name, &r.description, &format!("{:?}", r.policies)]),
        create_index: r.create_index,
        modify_index: r.modify_index,
    }
}

/// An auth method.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AuthMethodJson<'a> {
    name: &'a str,
    #[serde(rename = "Type")]
    method_type: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    display_name: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    description: &'a str,
    #[serde(rename = "MaxTokenTTL", skip_serializing_if = "Option::is_none")]
    max_token_ttl: Option<String>,
    #[serde(skip_serializing_if = "str::is_empty")]
    token_locality: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    config: Option<serde_json::Value>,
    create_index: u64,
    modify_index: u64,
}

/// Renders an auth method; `with_config` false is the list stub.
pub fn auth_method(m: &AuthMethod, with_config: bool) -> AuthMethodJson<'_> {
    AuthMethodJson {
        name: &m.name,
        method_type: &m.method_type,
        display_name: &m.display_name,
        description: &m.description,
        max_token_ttl: (m.max_token_ttl_ns > 0).then(|| go_duration(m.max_token_ttl_ns)),
        token_locality: &m.token_locality,
        config: if with_config {
            serde_json::from_str(&m.config_json).ok()
        } else {
            None
        },
        create_index: m.create_index,
        modify_index: m.modify_index,
    }
}

/// A binding rule.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct BindingRuleJson<'a> {
    #[serde(rename = "ID")]
    id: &'a str,
    description: &'a str,
    auth_method: &'a str,
    selector: &'a str,
    bind_type: &'a str,
    bind_name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    bind_vars: Option<serde_json::Value>,
    create_index: u64,
    modify_index: u64,
}

/// Renders a binding rule.
pub fn binding_rule(r: &BindingRule) -> BindingRuleJson<'_> {
    BindingRuleJson {
        id: &r.id,
        description: &r.description,
        auth_method: &r.auth_method,
        selector: &r.selector,
        bind_type: &r.bind_type,
        bind_name: &r.bind_name,
        bind_vars: serde_json::from_str(&r.bind_vars_json).ok(),
        create_index: r.create_index,
        modify_index: r.modify_index,
    }
}
