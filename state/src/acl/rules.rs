//! The ACL rules language: Consul's HCL (or JSON) policy rules, parsed into [`Rules`].
//!
//! ```hcl
//! key_prefix "app/" { policy = "read" }
//! service "web" { policy = "write" }
//! operator = "read"
//! ```
//! HCL goes through `compat::hcl` (a block written twice becomes a list of objects); text
//! starting with `{` is JSON. Unknown keys are ignored, as Consul's decoder does
//! (enterprise-only ones such as `namespace` appear in shared policies).

use serde_json::{Map, Value};

/// An access level granted by a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Access {
    /// Nothing, overriding any other grant.
    Deny,
    /// Read.
    Read,
    /// Read and list (KV only).
    List,
    /// Everything.
    Write,
}

impl Access {
    /// Merges two grants for the same resource: deny wins, then the more permissive.
    pub fn merge(self, other: Access) -> Access {
        use Access::*;
        match (self, other) {
            (Deny, _) | (_, Deny) => Deny,
            (Write, _) | (_, Write) => Write,
            (List, _) | (_, List) => List,
            _ => Read,
        }
    }

    fn parse(word: &str, list_allowed: bool) -> Option<Access> {
        match word {
            "read" => Some(Access::Read),
            "write" => Some(Access::Write),
            "deny" => Some(Access::Deny),
            "list" if list_allowed => Some(Access::List),
            _ => None,
        }
    }
}

/// The resource kinds with named (exact and prefix) rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// KV keys.
    Key,
    /// Services.
    Service,
    /// Nodes.
    Node,
    /// Sessions (by node name).
    Session,
    /// User events.
    Event,
    /// Prepared queries.
    Query,
    /// Agents (by node name).
    Agent,
}

impl Kind {
    /// Every kind, in a fixed order (the slot of [`Kind::slot`]).
    pub const ALL: [Kind; 7] = [
        Kind::Key,
        Kind::Service,
        Kind::Node,
        Kind::Session,
        Kind::Event,
        Kind::Query,
        Kind::Agent,
    ];

    /// The rule keyword (`key`, `service`, ...), as in permission names.
    pub fn word(self) -> &'static str {
        match self {
            Kind::Key => "key",
            Kind::Service => "service",
            Kind::Node => "node",
            Kind::Session => "session",
            Kind::Event => "event",
            Kind::Query => "query",
            Kind::Agent => "agent",
        }
    }

    /// Index into per-kind arrays.
    pub fn slot(self) -> usize {
        self as usize
    }
}

/// The resources with a single rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Global {
    /// `operator`.
    Operator,
    /// `acl`.
    Acl,
    /// `keyring`.
    Keyring,
    /// `mesh`.
    Mesh,
}

impl Global {
    /// Every global resource, in slot order.
    pub const ALL: [Global; 4] = [Global::Operator, Global::Acl, Global::Keyring, Global::Mesh];

    /// The rule keyword.
    pub fn word(self) -> &'static str {
        match self {
            Global::Operator => "operator",
            Global::Acl => "acl",
            Global::Keyring => "keyring",
            Global::Mesh => "mesh",
        }
    }

    /// Index into per-resource arrays.
    pub fn slot(self) -> usize {
        self as usize
    }
}

/// One named rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// The resource kind.
    pub kind: Kind,
    /// Whether `name` is a prefix (`key_prefix`) or exact (`key`).
    pub prefix: bool,
    /// The name or prefix.
    pub name: String,
    /// What it grants.
    pub access: Access,
}

/// A parsed policy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rules {
    /// Named rules, in source order.
    pub named: Vec<Rule>,
    /// `operator`, `acl`, `keyring`, `mesh`, by [`Global::slot`].
    pub global: [Option<Access>; 4],
}

/// Rules that could not be parsed; the message says where and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Failed to parse ACL rules: {0}")]
pub struct RulesError(pub String);

/// Parses policy rules in HCL or JSON. Empty text is a policy that grants nothing.
pub fn parse(text: &str) -> Result<Rules, RulesError> {
    if text.trim().is_empty() {
        return Ok(Rules::default());
    }
    let value = if text.trim_start().starts_with('{') {
        serde_json::from_str::<Value>(text)
            .map_err(|e| RulesError(format!("line {}, column {}: {e}", e.line(), e.column())))?
    } else {
        rconsul_compat::hcl::to_json(text).map_err(|e| RulesError(e.to_string()))?
    };
    let Value::Object(top) = value else {
        return Err(RulesError("rules must be an object".into()));
    };
    let mut rules = Rules::default();
    for (key, v) in &top {
        if let Some(g) = Global::ALL.iter().find(|g| g.word() == key) {
            let word = v
                .as_str()
                .ok_or_else(|| RulesError(format!("Invalid {key} policy: expected a string")))?;
            let access = Access::parse(word, false)
                .ok_or_else(|| RulesError(format!("Invalid {key} policy: {word:?}")))?;
            rules.global[g.slot()] = Some(access);
            continue;
        }
        let (word, prefix) = match key.strip_suffix("_prefix") {
            Some(w) => (w, true),
            None => (key.as_str(), false),
        };
        let Some(kind) = Kind::ALL.iter().copied().find(|k| k.word() == word) else {
            continue;
        };
        for (name, body) in named_blocks(key, v)? {
            let word = policy_word(key, name, body)?;
            let access = Access::parse(word, kind == Kind::Key)
                .ok_or_else(|| RulesError(format!("Invalid {key} policy for {name:?}: {word:?}")))?;
            rules.named.push(Rule {
                kind,
                prefix,
                name: name.to_string(),
                access,
            });
        }
    }
    Ok(rules)
}

/// `key "a" {..}` is `{"a": {..}}`; written twice in HCL, a list of such objects.
fn named_blocks<'a>(key: &str, v: &'a Value) -> Result<Vec<(&'a str, &'a Value)>, RulesError> {
    let objects: Vec<&Map<String, Value>> = match v {
        Value::Object(m) => vec![m],
        Value::Array(items) => items
            .iter()
            .map(|i| {
                i.as_object()
                    .ok_or_else(|| RulesError(format!("{key}: expected a block with a name")))
            })
            .collect::<Result<_, _>>()?,
        _ => return Err(RulesError(format!("{key}: expected a block with a name"))),
    };
    Ok(objects
        .into_iter()
        .flat_map(|m| m.iter().map(|(k, v)| (k.as_str(), v)))
        .collect())
}

/// The `policy = "..."` inside a named block (a JSON list of one block is accepted).
fn policy_word<'a>(key: &str, name: &str, body: &'a Value) -> Result<&'a str, RulesError> {
    let body = match body {
        Value::Array(items) if items.len() == 1 => &items[0],
        other => other,
    };
    body.get("policy")
        .and_then(Value::as_str)
        .ok_or_else(|| RulesError(format!("{key} {name:?}: missing policy = \"read|write|deny\"")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(kind: Kind, prefix: bool, name: &str, access: Access) -> Rule {
        Rule {
            kind,
            prefix,
            name: name.into(),
            access,
        }
    }

    #[test]
    fn hcl_rules_of_every_shape() {
        let r = parse(
            r#"
            key_prefix "app/" { policy = "read" }
            key_prefix "app/secret/" { policy = "deny" }
            key "cfg" { policy = "list" }
            service "web" { policy = "write" }
            node_prefix "" { policy = "read" }
            operator = "read"
            acl = "write"
            namespace "ignored" { policy = "write" }
            "#,
        )
        .unwrap();
        assert!(r.named.contains(&rule(Kind::Key, true, "app/", Access::Read)));
        assert!(r
            .named
            .contains(&rule(Kind::Key, true, "app/secret/", Access::Deny)));
        assert!(r.named.contains(&rule(Kind::Key, false, "cfg", Access::List)));
        assert!(r
            .named
            .contains(&rule(Kind::Service, false, "web", Access::Write)));
        assert!(r.named.contains(&rule(Kind::Node, true, "", Access::Read)));
        assert_eq!(r.named.len(), 5);
        assert_eq!(r.global[Global::Operator.slot()], Some(Access::Read));
        assert_eq!(r.global[Global::Acl.slot()], Some(Access::Write));
        assert_eq!(r.global[Global::Keyring.slot()], None);
    }

    #[test]
    fn json_rules() {
        let r = parse(
            r#"{"key_prefix": {"a/": {"policy": "write"}, "b/": {"policy": "read"}}, "keyring": "read"}"#,
        )
        .unwrap();
        assert_eq!(r.named.len(), 2);
        assert_eq!(r.global[Global::Keyring.slot()], Some(Access::Read));
    }

    #[test]
    fn malformed_rules_say_where_and_what() {
        let e = parse("key_prefix \"a\" { policy = \n").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("Failed to parse ACL rules: HCL syntax error at line"),
            "{e}"
        );
        let e = parse(r#"service "web" { policy = "reed" }"#).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Failed to parse ACL rules: Invalid service policy for \"web\": \"reed\""
        );
        // `list` is a KV level only.
        assert!(parse(r#"service "web" { policy = "list" }"#).is_err());
        assert!(parse(r#"operator = "list""#).is_err());
        assert!(parse(r#"key "a" { }"#).is_err());
        assert!(parse(r#"{"key": 3"#).unwrap_err().0.contains("line 1"));
        assert_eq!(parse("  \n").unwrap(), Rules::default());
    }

    #[test]
    fn merging_prefers_deny_then_the_wider_grant() {
        use Access::*;
        assert_eq!(Read.merge(Write), Write);
        assert_eq!(Write.merge(Deny), Deny);
        assert_eq!(List.merge(Read), List);
        assert_eq!(Read.merge(Read), Read);
    }
}
