//! From a SecretID to an [`Authorizer`]: expanding a token's policies, roles, identities
//! and templated policies, with a cache so an authorized request costs a map lookup.
//!
//! The cache is exact rather than timed: an entry remembers the ACL tables' index it was
//! computed at and is recomputed once any ACL write moves it, so a changed policy or a
//! deleted token takes effect on the next request (Consul's `token_ttl` bounds how long a
//! client agent may use a stale answer; every rconsul agent holds the tables locally).

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::RwLock;

use super::authorizer::Authorizer;
use super::model::{
    NodeIdentity, PolicyLink, ServiceIdentity, TemplatedPolicyLink, Token, ANONYMOUS_TOKEN_ID,
    GLOBAL_MANAGEMENT_POLICY_ID,
};
use super::rules::{self, Rules};
use super::table::AclTables;
use super::templated;

/// Most tokens kept resolved; past it the cache starts over.
const CACHE_LIMIT: usize = 4096;

/// A resolved token: who it is and what it may do.
#[derive(Debug)]
pub struct Resolved {
    /// The token's AccessorID (the anonymous token's for a request without one).
    pub accessor_id: String,
    /// Its permissions.
    pub authz: Authorizer,
    /// When it expires (Unix ns), if it does.
    expires_ns: Option<u64>,
    /// The ACL index it was resolved at.
    acl_index: u64,
}

impl Resolved {
    /// A caller that may read and write nothing (an unknown token where one must be used).
    pub fn nothing() -> Self {
        Resolved {
            accessor_id: String::new(),
            authz: Authorizer::default_policy(false),
            expires_ns: None,
            acl_index: 0,
        }
    }
}

/// The SecretID names no (unexpired) token: Consul's 403 `ACL not found`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("ACL not found")]
pub struct NotFound;

/// Token resolution for one agent.
#[derive(Debug)]
pub struct Resolver {
    default_allow: bool,
    datacenter: String,
    /// SecretID → resolution. Read-locked on a hit, so concurrent requests on many
    /// cores do not queue behind one another.
    cache: RwLock<HashMap<String, Arc<Resolved>>>,
}

impl Resolver {
    /// A resolver for an agent in `datacenter` whose `acl.default_policy` is allow or not.
    pub fn new(default_allow: bool, datacenter: &str) -> Self {
        Resolver {
            default_allow,
            datacenter: datacenter.to_string(),
            cache: RwLock::new(HashMap::new()),
        }
    }

    /// Whether `acl.default_policy` is `allow`.
    pub fn default_allow(&self) -> bool {
        self.default_allow
    }

    /// Resolves `secret` (empty: the anonymous token) against `tables` at `now_ns`.
    pub fn resolve(&self, tables: &AclTables, secret: &str, now_ns: u64) -> Result<Arc<Resolved>, NotFound> {
        let index = tables.index();
        if let Some(hit) = self.cache.read().get(secret) {
            if hit.acl_index == index && hit.expires_ns.is_none_or(|t| t > now_ns) {
                return Ok(hit.clone());
            }
        }
        let resolved = Arc::new(self.compute(tables, secret, now_ns)?);
        let mut cache = self.cache.write();
        if cache.len() >= CACHE_LIMIT {
            cache.clear();
        }
        cache.insert(secret.to_string(), resolved.clone());
        Ok(resolved)
    }

    fn compute(&self, tables: &AclTables, secret: &str, now_ns: u64) -> Result<Resolved, NotFound> {
        let token = if secret.is_empty() {
            tables.token(ANONYMOUS_TOKEN_ID)
        } else {
            tables.token_by_secret(secret)
        };
        let Some(token) = token else {
            if secret.is_empty() {
                // Before the leader has created the anonymous token: the default policy.
                return Ok(Resolved {
                    accessor_id: ANONYMOUS_TOKEN_ID.into(),
                    authz: Authorizer::default_policy(self.default_allow),
                    expires_ns: None,
                    acl_index: tables.index(),
                });
            }
            return Err(NotFound);
        };
        if token.is_expired(now_ns) {
            return Err(NotFound);
        }
        Ok(Resolved {
            accessor_id: token.accessor_id.clone(),
            authz: self.authorizer_of(tables, token),
            expires_ns: token.expiration_time_ns,
            acl_index: tables.index(),
        })
    }

    /// The merged permissions of `token`.
    pub fn authorizer_of(&self, tables: &AclTables, token: &Token) -> Authorizer {
        let mut grants = Grants::default();
        self.add(
            tables,
            &mut grants,
            &token.policies,
            &token.service_identities,
            &token.node_identities,
            &token.templated_policies,
        );
        for link in &token.roles {
            if let Some(role) = tables.role(&link.id) {
                self.add(
                    tables,
                    &mut grants,
                    &role.policies,
                    &role.service_identities,
                    &role.node_identities,
                    &role.templated_policies,
                );
            }
        }
        if grants.management {
            return Authorizer::Management;
        }
        Authorizer::from_rules(&grants.rules, self.default_allow)
    }

    fn add(
        &self,
        tables: &AclTables,
        grants: &mut Grants,
        policies: &[PolicyLink],
        services: &[ServiceIdentity],
        nodes: &[NodeIdentity],
        templated: &[TemplatedPolicyLink],
    ) {
        for link in policies {
            if link.id == GLOBAL_MANAGEMENT_POLICY_ID {
                grants.management = true;
                continue;
            }
            let Some(policy) = tables.policy(&link.id) else {
                continue;
            };
            if self.applies_here(&policy.datacenters) {
                grants.push(&policy.rules);
            }
        }
        for s in services.iter().filter(|s| self.applies_here(&s.datacenters)) {
            grants.push(&templated::service_identity_rules(&s.service_name));
        }
        for n in nodes.iter().filter(|n| n.datacenter == self.datacenter) {
            grants.push(&templated::node_identity_rules(&n.node_name));
        }
        for t in templated.iter().filter(|t| self.applies_here(&t.datacenters)) {
            if let Ok(text) = templated::render(&t.template_name, t.name.as_deref()) {
                grants.push(&text);
            }
        }
    }

    fn applies_here(&self, datacenters: &[String]) -> bool {
        datacenters.is_empty() || datacenters.contains(&self.datacenter)
    }
}

/// Rules collected while expanding a token.
#[derive(Default)]
struct Grants {
    management: bool,
    rules: Vec<Rules>,
}

impl Grants {
    /// Adds rules text; stored rules were validated when written, so a parse failure
    /// (a policy from a newer build) grants nothing rather than failing the request.
    fn push(&mut self, text: &str) {
        if let Ok(r) = rules::parse(text) {
            self.rules.push(r);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::acl::authorizer::Need;
    use crate::acl::model::{Policy, Role, RoleLink};
    use crate::acl::rules::Kind;
    use crate::acl::table::AclCommand;

    fn token(accessor: &str, secret: &str, policies: &[&str]) -> Token {
        Token {
            accessor_id: accessor.into(),
            secret_id: secret.into(),
            description: String::new(),
            policies: policies
                .iter()
                .map(|id| PolicyLink {
                    id: id.to_string(),
                    name: String::new(),
                })
                .collect(),
            roles: vec![],
            service_identities: vec![],
            node_identities: vec![],
            templated_policies: vec![],
            local: false,
            auth_method: String::new(),
            expiration_time_ns: None,
            expiration_ttl_ns: 0,
            create_time_ns: 0,
            create_index: 0,
            modify_index: 0,
        }
    }

    fn policy(id: &str, rules: &str, dcs: &[&str]) -> Policy {
        Policy {
            id: id.into(),
            name: id.into(),
            description: String::new(),
            rules: rules.into(),
            datacenters: dcs.iter().map(|d| d.to_string()).collect(),
            create_index: 0,
            modify_index: 0,
        }
    }

    #[test]
    fn tokens_resolve_through_policies_roles_and_datacenters() {
        let mut t = AclTables::default();
        t.apply(
            1,
            &AclCommand::PolicySet(policy("p-app", r#"key_prefix "app/" { policy = "read" }"#, &[])),
        );
        t.apply(
            2,
            &AclCommand::PolicySet(policy("p-dc2", r#"key_prefix "" { policy = "write" }"#, &["dc2"])),
        );
        t.apply(
            3,
            &AclCommand::RoleSet(Role {
                id: "r1".into(),
                name: "r1".into(),
                description: String::new(),
                policies: vec![],
                service_identities: vec![ServiceIdentity {
                    service_name: "web".into(),
                    datacenters: vec![],
                }],
                node_identities: vec![],
                templated_policies: vec![],
                create_index: 0,
                modify_index: 0,
            }),
        );
        let mut tok = token("a1", "s1", &["p-app", "p-dc2", "missing"]);
        tok.roles.push(RoleLink {
            id: "r1".into(),
            name: "r1".into(),
        });
        t.apply(4, &AclCommand::TokenSet(tok));
        let r = Resolver::new(false, "dc1");
        let got = r.resolve(&t, "s1", 0).unwrap();
        assert_eq!(got.accessor_id, "a1");
        assert!(got.authz.allows(Kind::Key, "app/x", Need::Read));
        assert!(
            !got.authz.allows(Kind::Key, "other", Need::Write),
            "dc2-only policy applied in dc1"
        );
        assert!(got.authz.allows(Kind::Service, "web", Need::Write));
        assert_eq!(r.resolve(&t, "nope", 0).unwrap_err(), NotFound);
        // The anonymous token before it exists: the default policy.
        assert!(!r
            .resolve(&t, "", 0)
            .unwrap()
            .authz
            .allows(Kind::Key, "x", Need::Read));
        assert!(Resolver::new(true, "dc1")
            .resolve(&t, "", 0)
            .unwrap()
            .authz
            .allows(Kind::Key, "x", Need::Write));
    }

    #[test]
    fn the_cache_follows_acl_writes_and_expiry() {
        let mut t = AclTables::default();
        t.apply(
            1,
            &AclCommand::PolicySet(policy("p", r#"key "k" { policy = "read" }"#, &[])),
        );
        let mut tok = token("a", "s", &["p"]);
        tok.expiration_time_ns = Some(1_000);
        t.apply(2, &AclCommand::TokenSet(tok));
        let r = Resolver::new(false, "dc1");
        assert!(r
            .resolve(&t, "s", 10)
            .unwrap()
            .authz
            .allows(Kind::Key, "k", Need::Read));
        t.apply(
            3,
            &AclCommand::PolicySet(policy("p", r#"key "k" { policy = "deny" }"#, &[])),
        );
        assert!(!r
            .resolve(&t, "s", 10)
            .unwrap()
            .authz
            .allows(Kind::Key, "k", Need::Read));
        assert_eq!(r.resolve(&t, "s", 1_000).unwrap_err(), NotFound);
        t.apply(4, &AclCommand::TokenDelete("a".into()));
        assert_eq!(r.resolve(&t, "s", 10).unwrap_err(), NotFound);
    }

    #[test]
    fn the_management_policy_allows_everything() {
        let mut t = AclTables::default();
        t.apply(
            1,
            &AclCommand::TokenSet(token("m", "root", &[GLOBAL_MANAGEMENT_POLICY_ID])),
        );
        let r = Resolver::new(false, "dc1");
        assert!(r.resolve(&t, "root", 0).unwrap().authz.is_management());
    }
}
