//! The replicated ACL tables and the commands that change them.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use super::model::{
    AuthMethod, BindingRule, Policy, Role, Token, ANONYMOUS_TOKEN_ID, GLOBAL_MANAGEMENT_POLICY_ID,
};

/// One change to the ACL tables. Carried by [`crate::Command::Acl`]; validation against
/// the current state is done by the proposer, and again here where it decides the
/// outcome, so a conflicting write is refused on every server alike.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AclCommand {
    /// `/v1/acl/bootstrap` (or the leader's `initial_management` token): sets the token
    /// only if ACLs were never bootstrapped.
    Bootstrap(Token),
    /// Create or replace a token (by AccessorID).
    TokenSet(Token),
    /// Delete a token by AccessorID.
    TokenDelete(String),
    /// Create or replace a policy (by ID).
    PolicySet(Policy),
    /// Delete a policy by ID.
    PolicyDelete(String),
    /// Create or replace a role (by ID).
    RoleSet(Role),
    /// Delete a role by ID.
    RoleDelete(String),
    /// Create or replace an auth method (by name).
    AuthMethodSet(AuthMethod),
    /// Delete an auth method, its binding rules and the tokens it minted.
    AuthMethodDelete(String),
    /// Create or replace a binding rule (by ID).
    BindingRuleSet(BindingRule),
    /// Delete a binding rule by ID.
    BindingRuleDelete(String),
    /// Delete every token expired at this time (Unix ns; the leader's reaper).
    ReapExpired(u64),
}

/// What applying an [`AclCommand`] gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AclOutcome {
    /// Applied.
    Applied,
    /// Nothing to do (deleting what does not exist).
    Unchanged,
    /// Refused, with Consul's message.
    Refused(String),
}

/// Tokens, policies, roles, auth methods and binding rules, with their indexes.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AclTables {
    tokens: BTreeMap<String, Token>,
    /// SecretID -> AccessorID.
    secrets: HashMap<String, String>,
    policies: BTreeMap<String, Policy>,
    /// Name -> ID.
    policy_names: HashMap<String, String>,
    roles: BTreeMap<String, Role>,
    /// Name -> ID.
    role_names: HashMap<String, String>,
    auth_methods: BTreeMap<String, AuthMethod>,
    binding_rules: BTreeMap<String, BindingRule>,
    /// Raft index of the bootstrap; 0 while bootstrapping is allowed.
    bootstrap_index: u64,
    /// Highest index of any change to these tables.
    index: u64,
}

impl AclTables {
    /// The highest raft index that changed any ACL table (0: never).
    pub fn index(&self) -> u64 {
        self.index
    }

    /// The index of the bootstrap (Consul's "reset index"), or 0 if bootstrapping is
    /// still allowed.
    pub fn bootstrap_index(&self) -> u64 {
        self.bootstrap_index
    }

    /// A token by AccessorID.
    pub fn token(&self, accessor: &str) -> Option<&Token> {
        self.tokens.get(accessor)
    }

    /// A token by SecretID.
    pub fn token_by_secret(&self, secret: &str) -> Option<&Token> {
        self.secrets.get(secret).and_then(|a| self.tokens.get(a))
    }

    /// Every token, by AccessorID.
    pub fn tokens(&self) -> impl Iterator<Item = &Token> {
        self.tokens.values()
    }

    /// A policy by ID.
    pub fn policy(&self, id: &str) -> Option<&Policy> {
        self.policies.get(id)
    }

    /// A policy by name.
    pub fn policy_by_name(&self, name: &str) -> Option<&Policy> {
        self.policy_names.get(name).and_then(|id| self.policies.get(id))
    }

    /// Every policy, by ID.
    pub fn policies(&self) -> impl Iterator<Item = &Policy> {
        self.policies.values()
    }

    /// A role by ID.
    pub fn role(&self, id: &str) -> Option<&Role> {
        self.roles.get(id)
    }

    /// A role by name.
    pub fn role_by_name(&self, name: &str) -> Option<&Role> {
        self.role_names.get(name).and_then(|id| self.roles.get(id))
    }

    /// Every role, by ID.
    pub fn roles(&self) -> impl Iterator<Item = &Role> {
        self.roles.values()
    }

    /// An auth method by name.
    pub fn auth_method(&self, name: &str) -> Option<&AuthMethod> {
        self.auth_methods.get(name)
    }

    /// Every auth method, by name.
    pub fn auth_methods(&self) -> impl Iterator<Item = &AuthMethod> {
        self.auth_methods.values()
    }

    /// A binding rule by ID.
    pub fn binding_rule(&self, id: &str) -> Option<&BindingRule> {
        self.binding_rules.get(id)
    }

    /// Every binding rule, by ID.
    pub fn binding_rules(&self) -> impl Iterator<Item = &BindingRule> {
        self.binding_rules.values()
    }

    /// Applies `cmd` at raft `index`.
    pub fn apply(&mut self, index: u64, cmd: &AclCommand) -> AclOutcome {
        let outcome = match cmd {
            AclCommand::Bootstrap(token) => {
                if self.bootstrap_index != 0 {
                    return AclOutcome::Refused(format!(
                        "ACL bootstrap no longer allowed (reset index: {})",
                        self.bootstrap_index
                    ));
                }
                let outcome = self.set_token(index, token.clone());
                if outcome == AclOutcome::Applied {
                    self.bootstrap_index = index;
                }
                outcome
            }
            AclCommand::TokenSet(token) => self.set_token(index, token.clone()),
            AclCommand::TokenDelete(accessor) => {
                if accessor == ANONYMOUS_TOKEN_ID {
                    return AclOutcome::Refused(
                        "Delete operation not permitted on the anonymous token".into(),
                    );
                }
                self.delete_token(accessor)
            }
            AclCommand::PolicySet(policy) => self.set_policy(index, policy.clone()),
            AclCommand::PolicyDelete(id) => {
                if id == GLOBAL_MANAGEMENT_POLICY_ID {
                    return AclOutcome::Refused(
                        "Delete operation not permitted on the builtin global-management policy".into(),
                    );
                }
                match self.policies.remove(id) {
                    Some(p) => {
                        self.policy_names.remove(&p.name);
                        AclOutcome::Applied
                    }
                    None => AclOutcome::Unchanged,
                }
            }
            AclCommand::RoleSet(role) => self.set_role(index, role.clone()),
            AclCommand::RoleDelete(id) => match self.roles.remove(id) {
                Some(r) => {
                    self.role_names.remove(&r.name);
                    AclOutcome::Applied
                }
                None => AclOutcome::Unchanged,
            },
            AclCommand::AuthMethodSet(method) => {
                let mut method = method.clone();
                method.create_index = self
                    .auth_methods
                    .get(&method.name)
                    .map_or(index, |m| m.create_index);
                method.modify_index = index;
                self.auth_methods.insert(method.name.clone(), method);
                AclOutcome::Applied
            }
            AclCommand::AuthMethodDelete(name) => {
                if self.auth_methods.remove(name).is_none() {
                    return AclOutcome::Unchanged;
                }
                self.binding_rules.retain(|_, r| r.auth_method != *name);
                let minted: Vec<String> = self
                    .tokens
                    .values()
                    .filter(|t| t.auth_method == *name)
                    .map(|t| t.accessor_id.clone())
                    .collect();
                for accessor in minted {
                    self.delete_token(&accessor);
                }
                AclOutcome::Applied
            }
            AclCommand::BindingRuleSet(rule) => {
                if !self.auth_methods.contains_key(&rule.auth_method) {
                    return AclOutcome::Refused(format!(
                        "Invalid Binding Rule: AuthMethod {:?} not found",
                        rule.auth_method
                    ));
                }
                let mut rule = rule.clone();
                rule.create_index = self.binding_rules.get(&rule.id).map_or(index, |r| r.create_index);
                rule.modify_index = index;
                self.binding_rules.insert(rule.id.clone(), rule);
                AclOutcome::Applied
            }
            AclCommand::BindingRuleDelete(id) => match self.binding_rules.remove(id) {
                Some(_) => AclOutcome::Applied,
                None => AclOutcome::Unchanged,
            },
            AclCommand::ReapExpired(now_ns) => {
                let expired: Vec<String> = self
                    .tokens
                    .values()
                    .filter(|t| t.is_expired(*now_ns))
                    .map(|t| t.accessor_id.clone())
                    .collect();
                if expired.is_empty() {
                    return AclOutcome::Unchanged;
                }
                for accessor in expired {
                    self.delete_token(&accessor);
                }
                AclOutcome::Applied
            }
        };
        if outcome == AclOutcome::Applied {
            self.index = self.index.max(index);
        }
        outcome
    }

    fn set_token(&mut self, index: u64, mut token: Token) -> AclOutcome {
        if let Some(owner) = self.secrets.get(&token.secret_id) {
            if *owner != token.accessor_id {
                return AclOutcome::Refused("Invalid Token: SecretID is already in use".into());
            }
        }
        if let Some(old) = self.tokens.get(&token.accessor_id) {
            token.create_index = old.create_index;
            if old.secret_id != token.secret_id {
                return AclOutcome::Refused("Cannot change a token's SecretID".into());
            }
        } else {
            token.create_index = index;
        }
        token.modify_index = index;
        self.secrets
            .insert(token.secret_id.clone(), token.accessor_id.clone());
        self.tokens.insert(token.accessor_id.clone(), token);
        AclOutcome::Applied
    }

    fn delete_token(&mut self, accessor: &str) -> AclOutcome {
        match self.tokens.remove(accessor) {
            Some(t) => {
                self.secrets.remove(&t.secret_id);
                AclOutcome::Applied
            }
            None => AclOutcome::Unchanged,
        }
    }

    fn set_policy(&mut self, index: u64, mut policy: Policy) -> AclOutcome {
        if let Some(other) = self.policy_names.get(&policy.name) {
            if *other != policy.id {
                return AclOutcome::Refused(format!(
                    "Invalid Policy: A Policy with Name {:?} already exists",
                    policy.name
                ));
            }
        }
        if let Some(old) = self.policies.get(&policy.id) {
            policy.create_index = old.create_index;
            let old_name = old.name.clone();
            self.policy_names.remove(&old_name);
        } else {
            policy.create_index = index;
        }
        policy.modify_index = index;
        self.policy_names.insert(policy.name.clone(), policy.id.clone());
        self.policies.insert(policy.id.clone(), policy);
        AclOutcome::Applied
    }

    fn set_role(&mut self, index: u64, mut role: Role) -> AclOutcome {
        if let Some(other) = self.role_names.get(&role.name) {
            if *other != role.id {
                return AclOutcome::Refused(format!(
                    "Invalid Role: A Role with Name {:?} already exists",
                    role.name
                ));
            }
        }
        if let Some(old) = self.roles.get(&role.id) {
            role.create_index = old.create_index;
            let old_name = old.name.clone();
            self.role_names.remove(&old_name);
        } else {
            role.create_index = index;
        }
        role.modify_index = index;
        self.role_names.insert(role.name.clone(), role.id.clone());
        self.roles.insert(role.id.clone(), role);
        AclOutcome::Applied
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn token(accessor: &str, secret: &str) -> Token {
        Token {
            accessor_id: accessor.into(),
            secret_id: secret.into(),
            description: String::new(),
            policies: vec![],
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

    fn policy(id: &str, name: &str) -> Policy {
        Policy {
            id: id.into(),
            name: name.into(),
            description: String::new(),
            rules: String::new(),
            datacenters: vec![],
            create_index: 0,
            modify_index: 0,
        }
    }

    #[test]
    fn bootstrap_happens_once_and_names_its_index() {
        let mut t = AclTables::default();
        assert_eq!(
            t.apply(5, &AclCommand::Bootstrap(token("a", "s"))),
            AclOutcome::Applied
        );
        assert_eq!(t.bootstrap_index(), 5);
        assert_eq!(
            t.apply(6, &AclCommand::Bootstrap(token("b", "s2"))),
            AclOutcome::Refused("ACL bootstrap no longer allowed (reset index: 5)".into())
        );
        assert!(t.token("b").is_none());
        assert_eq!(t.token_by_secret("s").map(|t| t.create_index), Some(5));
    }

    #[test]
    fn secrets_are_unique_and_immutable() {
        let mut t = AclTables::default();
        t.apply(1, &AclCommand::TokenSet(token("a", "s")));
        assert!(matches!(
            t.apply(2, &AclCommand::TokenSet(token("b", "s"))),
            AclOutcome::Refused(_)
        ));
        assert!(matches!(
            t.apply(3, &AclCommand::TokenSet(token("a", "other"))),
            AclOutcome::Refused(_)
        ));
        let mut update = token("a", "s");
        update.description = "new".into();
        assert_eq!(t.apply(4, &AclCommand::TokenSet(update)), AclOutcome::Applied);
        let a = t.token("a").unwrap();
        assert_eq!(
            (a.create_index, a.modify_index, a.description.as_str()),
            (1, 4, "new")
        );
        assert_eq!(t.index(), 4);
    }

    #[test]
    fn policy_names_are_unique_and_follow_renames() {
        let mut t = AclTables::default();
        t.apply(1, &AclCommand::PolicySet(policy("p1", "read")));
        assert_eq!(
            t.apply(2, &AclCommand::PolicySet(policy("p2", "read"))),
            AclOutcome::Refused("Invalid Policy: A Policy with Name \"read\" already exists".into())
        );
        t.apply(3, &AclCommand::PolicySet(policy("p1", "renamed")));
        assert!(t.policy_by_name("read").is_none());
        assert_eq!(t.policy_by_name("renamed").map(|p| p.id.as_str()), Some("p1"));
        assert_eq!(
            t.apply(4, &AclCommand::PolicySet(policy("p2", "read"))),
            AclOutcome::Applied
        );
    }

    #[test]
    fn builtins_cannot_be_deleted() {
        let mut t = AclTables::default();
        t.apply(
            1,
            &AclCommand::PolicySet(policy(GLOBAL_MANAGEMENT_POLICY_ID, "global-management")),
        );
        t.apply(2, &AclCommand::TokenSet(token(ANONYMOUS_TOKEN_ID, "anonymous")));
        assert!(matches!(
            t.apply(3, &AclCommand::PolicyDelete(GLOBAL_MANAGEMENT_POLICY_ID.into())),
            AclOutcome::Refused(_)
        ));
        assert!(matches!(
            t.apply(3, &AclCommand::TokenDelete(ANONYMOUS_TOKEN_ID.into())),
            AclOutcome::Refused(_)
        ));
        assert!(t.policy(GLOBAL_MANAGEMENT_POLICY_ID).is_some());
        assert!(t.token(ANONYMOUS_TOKEN_ID).is_some());
    }

    #[test]
    fn reaping_removes_only_expired_tokens() {
        let mut t = AclTables::default();
        let mut short = token("a", "s1");
        short.expiration_time_ns = Some(100);
        t.apply(1, &AclCommand::TokenSet(short));
        t.apply(2, &AclCommand::TokenSet(token("b", "s2")));
        assert_eq!(t.apply(3, &AclCommand::ReapExpired(50)), AclOutcome::Unchanged);
        assert_eq!(t.apply(4, &AclCommand::ReapExpired(100)), AclOutcome::Applied);
        assert!(t.token("a").is_none() && t.token_by_secret("s1").is_none());
        assert!(t.token("b").is_some());
    }
}
