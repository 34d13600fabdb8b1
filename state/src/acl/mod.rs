//! Consul's ACL system as data: the replicated tables ([`table`]), the objects they hold
//! ([`model`]), the rules language ([`rules`]), the decision ([`authorizer`]), built-in
//! templates ([`templated`]) and token resolution with its cache ([`resolve`]).
//!
//! Enforcement lives with the endpoints (the `http-api` and `dns` crates); this module
//! answers "may this token do that?" and nothing else.

pub mod agent_tokens;
pub mod authorizer;
pub mod model;
pub mod resolve;
pub mod rules;
pub mod table;
pub mod templated;

pub use agent_tokens::{AgentTokens, TokenSet};
pub use authorizer::{Authorizer, Need};
pub use model::{
    AuthMethod, BindingRule, NodeIdentity, Policy, PolicyLink, Role, RoleLink, ServiceIdentity,
    TemplatedPolicyLink, Token, ANONYMOUS_TOKEN_ID, ANONYMOUS_TOKEN_SECRET, GLOBAL_MANAGEMENT_POLICY_ID,
    GLOBAL_MANAGEMENT_POLICY_NAME,
};
pub use resolve::{NotFound, Resolved, Resolver};
pub use rules::{Access, Global, Kind, Rules, RulesError};
pub use table::{AclCommand, AclOutcome, AclTables};
