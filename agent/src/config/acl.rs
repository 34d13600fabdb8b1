//! The `acl { ... }` block, as Consul 1.10+ reads it (with the older token names).

use std::time::Duration;

use rconsul_state::acl::TokenSet;
use serde_json::Value;

use super::file::{bool_val, duration_val, object_val, str_val};

/// The ACL keys the config sources gave, before defaults (later sources win per key).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct PartialAcl {
    enabled: Option<bool>,
    default_policy: Option<String>,
    down_policy: Option<String>,
    enable_token_persistence: Option<bool>,
    enable_key_list_policy: Option<bool>,
    token_ttl_ms: Option<u64>,
    token_min_expiration_ttl_ms: Option<u64>,
    token_max_expiration_ttl_ms: Option<u64>,
    initial_management: Option<String>,
    tokens: TokenSet,
}

impl PartialAcl {
    pub(super) fn merge(&mut self, other: PartialAcl) {
        macro_rules! take {
            ($($f:ident),*) => {$(
                if other.$f.is_some() {
                    self.$f = other.$f;
                }
            )*};
        }
        take!(
            enabled,
            default_policy,
            down_policy,
            enable_token_persistence,
            enable_key_list_policy,
            token_ttl_ms,
            token_min_expiration_ttl_ms,
            token_max_expiration_ttl_ms,
            initial_management
        );
        self.tokens.overlay(&other.tokens);
    }
}

/// The resolved ACL settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclConfig {
    /// `acl.enabled`.
    pub enabled: bool,
    /// `acl.default_policy = "allow"` (Consul's default).
    pub default_allow: bool,
    /// `acl.down_policy` (`extend-cache` by default). Every agent holds the ACL tables,
    /// so resolution never needs a server and this only matters for the header.
    pub down_policy: String,
    /// `acl.enable_token_persistence`: `/v1/agent/token` changes go to
    /// `<data-dir>/acl-tokens.json`.
    pub enable_token_persistence: bool,
    /// `acl.enable_key_list_policy`: KV listing needs `list`.
    pub enable_key_list_policy: bool,
    /// `acl.token_ttl` (accepted; resolution is exact, see `rconsul_state::acl::resolve`).
    pub token_ttl: Duration,
    /// Shortest token `ExpirationTTL` (`acl.token_min_expiration_ttl`, 1m).
    pub token_min_expiration_ttl: Duration,
    /// Longest token `ExpirationTTL` (`acl.token_max_expiration_ttl`, 24h).
    pub token_max_expiration_ttl: Duration,
    /// `acl.tokens.initial_management` (formerly `master`): created by the leader.
    pub initial_management: String,
    /// The agent's tokens from the config.
    pub tokens: TokenSet,
}

impl Default for AclConfig {
    fn default() -> Self {
        AclConfig {
            enabled: false,
            default_allow: true,
            down_policy: "extend-cache".into(),
            enable_token_persistence: false,
            enable_key_list_policy: false,
            token_ttl: Duration::from_secs(30),
            token_min_expiration_ttl: Duration::from_secs(60),
            token_max_expiration_ttl: Duration::from_secs(24 * 3600),
            initial_management: String::new(),
            tokens: TokenSet::default(),
        }
    }
}

/// Reads one `acl` block.
pub(super) fn decode_block(
    key: &str,
    v: &Value,
    p: &mut PartialAcl,
    unknown: &mut Vec<String>,
) -> Result<(), String> {
    let Some(m) = object_val(key, v)? else {
        return Ok(());
    };
    for (sub, v) in m {
        let k = format!("{key}.{sub}");
        match sub.as_str() {
            "enabled" => p.enabled = bool_val(&k, v)?.or(p.enabled),
            "default_policy" => p.default_policy = str_val(&k, v)?.or(p.default_policy.take()),
            "down_policy" => p.down_policy = str_val(&k, v)?.or(p.down_policy.take()),
            "enable_token_persistence" => {
                p.enable_token_persistence = bool_val(&k, v)?.or(p.enable_token_persistence)
            }
            "enable_key_list_policy" => {
                p.enable_key_list_policy = bool_val(&k, v)?.or(p.enable_key_list_policy)
            }
            "token_ttl" | "policy_ttl" | "role_ttl" => {
                let d = duration_val(&k, v)?;
                if sub == "token_ttl" {
                    p.token_ttl_ms = d.or(p.token_ttl_ms);
                }
            }
            "token_min_expiration_ttl" => {
                p.token_min_expiration_ttl_ms = duration_val(&k, v)?.or(p.token_min_expiration_ttl_ms)
            }
            "token_max_expiration_ttl" => {
                p.token_max_expiration_ttl_ms = duration_val(&k, v)?.or(p.token_max_expiration_ttl_ms)
            }
            "enable_token_replication" => {
                bool_val(&k, v)?;
            }
            "tokens" => decode_tokens(&k, v, p, unknown)?,
            _ => unknown.push(k),
        }
    }
    Ok(())
}

fn decode_tokens(key: &str, v: &Value, p: &mut PartialAcl, unknown: &mut Vec<String>) -> Result<(), String> {
    let Some(m) = object_val(key, v)? else {
        return Ok(());
    };
    for (name, v) in m {
        let k = format!("{key}.{name}");
        let Some(value) = str_val(&k, v)? else {
            continue;
        };
        match name.as_str() {
            "initial_management" | "master" => p.initial_management = Some(value),
            "agent" => p.tokens.agent = value,
            "agent_recovery" | "agent_master" => p.tokens.agent_recovery = value,
            "default" => p.tokens.default = value,
            "replication" => p.tokens.replication = value,
            "config_file_service_registration" => p.tokens.config_file_service_registration = value,
            // Connect / enterprise tokens rconsul has no use for; accepted.
            "managed_service_provider" | "dns" => {}
            _ => unknown.push(k),
        }
    }
    Ok(())
}

/// The final settings, with Consul's defaults and checks.
pub(super) fn resolve(p: &PartialAcl) -> Result<AclConfig, String> {
    let d = AclConfig::default();
    let default_allow = match p.default_policy.as_deref() {
        None | Some("allow") => true,
        Some("deny") => false,
        Some(other) => {
            return Err(format!(
                "acl.default_policy must be one of 'allow' or 'deny', got {other:?}"
            ))
        }
    };
    let down_policy = p.down_policy.clone().unwrap_or(d.down_policy);
    if !matches!(
        down_policy.as_str(),
        "allow" | "deny" | "extend-cache" | "async-cache"
    ) {
        return Err(format!(
            "acl.down_policy must be one of 'allow', 'deny', 'extend-cache' or 'async-cache', got {down_policy:?}"
        ));
    }
    let ms = |v: Option<u64>, default: Duration| v.map_or(default, Duration::from_millis);
    let min = ms(p.token_min_expiration_ttl_ms, d.token_min_expiration_ttl);
    let max = ms(p.token_max_expiration_ttl_ms, d.token_max_expiration_ttl);
    if min >= max {
        return Err("acl.token_min_expiration_ttl must be less than acl.token_max_expiration_ttl".into());
    }
    Ok(AclConfig {
        enabled: p.enabled.unwrap_or(false),
        default_allow,
        down_policy,
        enable_token_persistence: p.enable_token_persistence.unwrap_or(false),
        enable_key_list_policy: p.enable_key_list_policy.unwrap_or(false),
        token_ttl: ms(p.token_ttl_ms, d.token_ttl),
        token_min_expiration_ttl: min,
        token_max_expiration_ttl: max,
        initial_management: p.initial_management.clone().unwrap_or_default(),
        tokens: p.tokens.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(json: &str) -> Result<AclConfig, String> {
        let v: Value = serde_json::from_str(json).map_err(|e| e.to_string())?;
        let mut p = PartialAcl::default();
        let mut unknown = vec![];
        decode_block("acl", &v, &mut p, &mut unknown)?;
        if !unknown.is_empty() {
            return Err(format!("unknown: {unknown:?}"));
        }
        resolve(&p)
    }

    #[test]
    fn new_and_old_token_names() {
        let c = decode(
            r#"{"enabled": true, "default_policy": "deny", "enable_token_persistence": true,
                "tokens": {"master": "m", "agent_master": "r", "agent": "a", "default": "d"}}"#,
        )
        .unwrap();
        assert!(c.enabled && !c.default_allow && c.enable_token_persistence);
        assert_eq!(c.initial_management, "m");
        assert_eq!(c.tokens.agent_recovery, "r");
        assert_eq!((c.tokens.agent.as_str(), c.tokens.default.as_str()), ("a", "d"));
        let c = decode(r#"{"tokens": {"initial_management": "n", "agent_recovery": "r2"}}"#).unwrap();
        assert_eq!(
            (c.initial_management.as_str(), c.tokens.agent_recovery.as_str()),
            ("n", "r2")
        );
        assert!(!c.enabled && c.default_allow);
    }

    #[test]
    fn bad_values_are_refused() {
        assert!(decode(r#"{"default_policy": "maybe"}"#)
            .unwrap_err()
            .contains("acl.default_policy"));
        assert!(decode(r#"{"down_policy": "x"}"#).is_err());
        assert!(decode(r#"{"enabled": "yes"}"#).is_err());
        assert!(decode(r#"{"bogus": 1}"#).unwrap_err().contains("acl.bogus"));
        assert!(decode(r#"{"token_min_expiration_ttl": "1h", "token_max_expiration_ttl": "1m"}"#).is_err());
        assert_eq!(
            decode(r#"{"token_min_expiration_ttl": "1s"}"#)
                .unwrap()
                .token_min_expiration_ttl,
            Duration::from_secs(1)
        );
    }
}
