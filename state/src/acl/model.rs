//! ACL objects as replicated: tokens, policies, roles, auth methods and binding rules.
//!
//! These are the stored shapes (bincode in snapshots and raft entries); the HTTP API
//! renders them in Consul's JSON. Times are Unix nanoseconds, set by the proposer so
//! apply stays deterministic.

use serde::{Deserialize, Serialize};

/// ID of the built-in `global-management` policy.
pub const GLOBAL_MANAGEMENT_POLICY_ID: &str = "00000000-0000-0000-0000-000000000001";
/// Name of the built-in management policy.
pub const GLOBAL_MANAGEMENT_POLICY_NAME: &str = "global-management";
/// AccessorID of the anonymous token (used for requests without a token).
pub const ANONYMOUS_TOKEN_ID: &str = "00000000-0000-0000-0000-000000000002";
/// SecretID of the anonymous token.
pub const ANONYMOUS_TOKEN_SECRET: &str = "anonymous";

/// A link from a token or role to a policy (by ID; the name is resolved when shown).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyLink {
    /// The policy's ID.
    pub id: String,
    /// The policy's name when the link was made.
    pub name: String,
}

/// A link from a token to a role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleLink {
    /// The role's ID.
    pub id: String,
    /// The role's name when the link was made.
    pub name: String,
}

/// A service identity: grants the templated rules of a service (and its sidecar).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceIdentity {
    /// The service name.
    pub service_name: String,
    /// Datacenters where it applies (empty: all).
    pub datacenters: Vec<String>,
}

/// A node identity: grants the templated rules of a node in one datacenter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeIdentity {
    /// The node name.
    pub node_name: String,
    /// The datacenter it applies in.
    pub datacenter: String,
}

/// A templated policy applied to a token or role (`builtin/service` with `name`, ...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplatedPolicyLink {
    /// The template's name, e.g. `builtin/service`.
    pub template_name: String,
    /// The `name` variable, for templates that take one.
    pub name: Option<String>,
    /// Datacenters where it applies (empty: all).
    pub datacenters: Vec<String>,
}

/// An ACL token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Token {
    /// Public identifier.
    pub accessor_id: String,
    /// The secret a client presents.
    pub secret_id: String,
    /// Free text.
    pub description: String,
    /// Policies granted.
    pub policies: Vec<PolicyLink>,
    /// Roles granted.
    pub roles: Vec<RoleLink>,
    /// Service identities granted.
    pub service_identities: Vec<ServiceIdentity>,
    /// Node identities granted.
    pub node_identities: Vec<NodeIdentity>,
    /// Templated policies granted.
    pub templated_policies: Vec<TemplatedPolicyLink>,
    /// Valid in this datacenter only.
    pub local: bool,
    /// The auth method that minted it (login), or empty.
    pub auth_method: String,
    /// When it stops being valid (Unix ns), if ever.
    pub expiration_time_ns: Option<u64>,
    /// The TTL it was created with (ns), or 0.
    pub expiration_ttl_ns: u64,
    /// When it was created (Unix ns).
    pub create_time_ns: u64,
    /// Raft index of creation.
    pub create_index: u64,
    /// Raft index of the last change.
    pub modify_index: u64,
}

impl Token {
    /// Whether the token has expired at `now_ns`.
    pub fn is_expired(&self, now_ns: u64) -> bool {
        self.expiration_time_ns.is_some_and(|t| t <= now_ns)
    }
}

/// An ACL policy: named rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    /// UUID.
    pub id: String,
    /// Unique name.
    pub name: String,
    /// Free text.
    pub description: String,
    /// The rules, in HCL or JSON, as written.
    pub rules: String,
    /// Datacenters where it applies (empty: all).
    pub datacenters: Vec<String>,
    /// Raft index of creation.
    pub create_index: u64,
    /// Raft index of the last change.
    pub modify_index: u64,
}

/// An ACL role: a named set of policies and identities.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Role {
    /// UUID.
    pub id: String,
    /// Unique name.
    pub name: String,
    /// Free text.
    pub description: String,
    /// Policies granted.
    pub policies: Vec<PolicyLink>,
    /// Service identities granted.
    pub service_identities: Vec<ServiceIdentity>,
    /// Node identities granted.
    pub node_identities: Vec<NodeIdentity>,
    /// Templated policies granted.
    pub templated_policies: Vec<TemplatedPolicyLink>,
    /// Raft index of creation.
    pub create_index: u64,
    /// Raft index of the last change.
    pub modify_index: u64,
}

/// An auth method (`jwt`, ...): how `login` trusts an external identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthMethod {
    /// Unique name.
    pub name: String,
    /// `jwt`, `kubernetes`, `oidc`.
    pub method_type: String,
    /// Shown instead of the name.
    pub display_name: String,
    /// Free text.
    pub description: String,
    /// Longest life of a token it mints (ns), 0: none.
    pub max_token_ttl_ns: u64,
    /// `local` or `global` (empty: local).
    pub token_locality: String,
    /// The method's `Config` object, as JSON text.
    pub config_json: String,
    /// Raft index of creation.
    pub create_index: u64,
    /// Raft index of the last change.
    pub modify_index: u64,
}

/// A binding rule: which tokens a login through an auth method gets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BindingRule {
    /// UUID.
    pub id: String,
    /// Free text.
    pub description: String,
    /// The auth method it belongs to.
    pub auth_method: String,
    /// bexpr over the identity's fields; empty matches all.
    pub selector: String,
    /// `service`, `node`, `role`, `policy`, `templated-policy`.
    pub bind_type: String,
    /// Name to bind, with `${value.x}` interpolation.
    pub bind_name: String,
    /// Variables for a templated-policy binding, as JSON text (empty: none).
    pub bind_vars_json: String,
    /// Raft index of creation.
    pub create_index: u64,
    /// Raft index of the last change.
    pub modify_index: u64,
}
