//! Deciding a request: the merged rules of a token, looked up as Consul does.
//!
//! For a name, an exact rule wins over prefix rules, and the longest matching prefix
//! wins among those; with no rule the ACL default policy decides. Rules of several
//! policies for the same name merge (deny wins, then the wider grant). A `write` rule
//! grants read and list too, `list` grants read.

use std::collections::HashMap;

use super::rules::{Access, Global, Kind, Rules};

/// A level a request needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Read.
    Read,
    /// List (KV `?keys`/`?recurse` with `acl.enable_key_list_policy`).
    List,
    /// Write.
    Write,
}

impl Need {
    /// The level's name in permission errors (`key:read`).
    pub fn word(self) -> &'static str {
        match self {
            Need::Read => "read",
            Need::List => "list",
            Need::Write => "write",
        }
    }

    fn allowed_by(self, access: Access) -> bool {
        matches!(
            (access, self),
            (Access::Write, _) | (Access::List, Need::Read | Need::List) | (Access::Read, Need::Read)
        )
    }
}

/// Exact and prefix rules of one kind, merged.
#[derive(Debug, Clone, Default)]
struct Tree {
    exact: HashMap<String, Access>,
    prefix: HashMap<String, Access>,
    /// The distinct lengths of `prefix`'s keys, longest first: a lookup probes only these.
    prefix_lens: Vec<usize>,
}

impl Tree {
    fn insert(&mut self, prefix: bool, name: &str, access: Access) {
        let map = if prefix { &mut self.prefix } else { &mut self.exact };
        map.entry(name.to_string())
            .and_modify(|a| *a = a.merge(access))
            .or_insert(access);
        if prefix && !self.prefix_lens.contains(&name.len()) {
            self.prefix_lens.push(name.len());
            self.prefix_lens.sort_unstable_by(|a, b| b.cmp(a));
        }
    }

    /// The rule governing `name`: exact, else the longest prefix.
    fn lookup(&self, name: &str) -> Option<Access> {
        if let Some(a) = self.exact.get(name) {
            return Some(*a);
        }
        self.longest_prefix(name)
    }

    fn longest_prefix(&self, name: &str) -> Option<Access> {
        self.prefix_lens
            .iter()
            .filter(|&&len| len <= name.len() && name.is_char_boundary(len))
            .find_map(|&len| self.prefix.get(&name[..len]).copied())
    }

    /// Whether some rule for a name under `prefix` (other than the prefix's own governing
    /// rule) grants less than write.
    fn denies_write_under(&self, prefix: &str) -> bool {
        let below = |(name, access): (&String, &Access)| {
            name.starts_with(prefix) && name.len() >= prefix.len() && *access != Access::Write
        };
        self.exact.iter().any(below)
            || self
                .prefix
                .iter()
                .filter(|(n, _)| n.len() > prefix.len())
                .any(below)
    }
}

/// What a token may do.
#[derive(Debug, Clone)]
pub enum Authorizer {
    /// The global-management policy: everything.
    Management,
    /// Rules, with the default policy for what they do not cover.
    Rules(Box<RuleSet>),
}

/// Merged rules plus the fallback.
#[derive(Debug, Clone)]
pub struct RuleSet {
    trees: [Tree; 7],
    global: [Option<Access>; 4],
    /// `acl.default_policy = "allow"`.
    default_allow: bool,
}

impl Authorizer {
    /// The authorizer of a token with `policies`; `default_allow` decides what none covers.
    pub fn from_rules<'a>(policies: impl IntoIterator<Item = &'a Rules>, default_allow: bool) -> Self {
        let mut set = RuleSet {
            trees: Default::default(),
            global: [None; 4],
            default_allow,
        };
        for rules in policies {
            for r in &rules.named {
                set.trees[r.kind.slot()].insert(r.prefix, &r.name, r.access);
            }
            for (slot, access) in rules.global.iter().enumerate() {
                if let Some(a) = access {
                    set.global[slot] = Some(set.global[slot].map_or(*a, |old| old.merge(*a)));
                }
            }
        }
        Authorizer::Rules(Box::new(set))
    }

    /// The authorizer of the default policy alone (no token rules).
    pub fn default_policy(default_allow: bool) -> Self {
        Authorizer::from_rules([], default_allow)
    }

    /// Whether `need` on `kind` `name` is allowed.
    pub fn allows(&self, kind: Kind, name: &str, need: Need) -> bool {
        match self {
            Authorizer::Management => true,
            Authorizer::Rules(set) => match set.trees[kind.slot()].lookup(name) {
                Some(access) => need.allowed_by(access),
                None => set.default_allow,
            },
        }
    }

    /// Whether `need` on a global resource (`operator`, `acl`, ...) is allowed.
    pub fn allows_global(&self, global: Global, need: Need) -> bool {
        match self {
            Authorizer::Management => true,
            Authorizer::Rules(set) => match set.global[global.slot()] {
                Some(access) => need.allowed_by(access),
                None => set.default_allow,
            },
        }
    }

    /// Whether every name under `prefix` may be written (a recursive KV delete): the
    /// prefix's own rule allows write and no rule beneath it grants less.
    pub fn allows_write_prefix(&self, kind: Kind, prefix: &str) -> bool {
        match self {
            Authorizer::Management => true,
            Authorizer::Rules(set) => {
                let tree = &set.trees[kind.slot()];
                if tree.denies_write_under(prefix) {
                    return false;
                }
                match tree
                    .prefix
                    .get(prefix)
                    .copied()
                    .or_else(|| tree.longest_prefix(prefix))
                {
                    Some(access) => Need::Write.allowed_by(access),
                    None => set.default_allow,
                }
            }
        }
    }

    /// Whether this is the management authorizer.
    pub fn is_management(&self) -> bool {
        matches!(self, Authorizer::Management)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::acl::rules::parse;

    fn authz(text: &str, default_allow: bool) -> Authorizer {
        Authorizer::from_rules([&parse(text).unwrap()], default_allow)
    }

    #[test]
    fn exact_beats_prefix_and_the_longest_prefix_wins() {
        let a = authz(
            r#"
            key_prefix "" { policy = "read" }
            key_prefix "app/" { policy = "write" }
            key_prefix "app/secret/" { policy = "deny" }
            key "app/secret/open" { policy = "read" }
            "#,
            false,
        );
        assert!(a.allows(Kind::Key, "other", Need::Read));
        assert!(!a.allows(Kind::Key, "other", Need::Write));
        assert!(a.allows(Kind::Key, "app/x", Need::Write));
        assert!(!a.allows(Kind::Key, "app/secret/x", Need::Read));
        assert!(a.allows(Kind::Key, "app/secret/open", Need::Read));
        assert!(!a.allows(Kind::Key, "app/secret/open", Need::Write));
        // Other kinds fall to the default.
        assert!(!a.allows(Kind::Service, "web", Need::Read));
    }

    #[test]
    fn levels_imply_lower_levels() {
        let a = authz(
            r#"key "w" { policy = "write" }
               key "l" { policy = "list" }
               key "r" { policy = "read" }"#,
            true,
        );
        assert!(a.allows(Kind::Key, "w", Need::List));
        assert!(a.allows(Kind::Key, "l", Need::Read) && a.allows(Kind::Key, "l", Need::List));
        assert!(!a.allows(Kind::Key, "l", Need::Write));
        assert!(a.allows(Kind::Key, "r", Need::Read) && !a.allows(Kind::Key, "r", Need::List));
        // Default allow covers the rest.
        assert!(a.allows(Kind::Key, "anything", Need::Write));
    }

    #[test]
    fn deny_wins_when_policies_disagree() {
        let p1 = parse(r#"service "web" { policy = "write" }"#).unwrap();
        let p2 = parse(r#"service "web" { policy = "deny" }"#).unwrap();
        let p3 = parse(
            r#"service "api" { policy = "read" }
                          operator = "read""#,
        )
        .unwrap();
        let p4 = parse(r#"service "api" { policy = "write" }"#).unwrap();
        let a = Authorizer::from_rules([&p1, &p2, &p3, &p4], true);
        assert!(!a.allows(Kind::Service, "web", Need::Read));
        assert!(a.allows(Kind::Service, "api", Need::Write));
        assert!(a.allows_global(Global::Operator, Need::Read));
        assert!(!a.allows_global(Global::Operator, Need::Write));
    }

    #[test]
    fn write_prefix_needs_write_on_everything_beneath() {
        let a = authz(
            r#"key_prefix "app/" { policy = "write" }
               key "app/locked" { policy = "read" }"#,
            false,
        );
        assert!(a.allows_write_prefix(Kind::Key, "app/x/"));
        assert!(!a.allows_write_prefix(Kind::Key, "app/"));
        assert!(!a.allows_write_prefix(Kind::Key, ""));
        assert!(Authorizer::Management.allows_write_prefix(Kind::Key, ""));
        assert!(Authorizer::default_policy(true).allows_write_prefix(Kind::Key, ""));
    }

    #[test]
    fn multibyte_names_do_not_split_characters() {
        let a = authz(r#"key_prefix "é" { policy = "read" }"#, false);
        assert!(a.allows(Kind::Key, "éa", Need::Read));
        assert!(!a.allows(Kind::Key, "e", Need::Read));
        let b = authz(r#"key_prefix "a" { policy = "read" }"#, false);
        assert!(!b.allows(Kind::Key, "é", Need::Read));
    }
}
