//! The tokens an agent itself holds (`acl.tokens.*`, `/v1/agent/token/:type`).

use parking_lot::RwLock;
use serde::{Deserialize, Serialize};

/// The agent's own tokens. `default` is used for requests that carry none (and DNS),
/// `agent` for the agent's internal operations.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenSet {
    /// `acl.tokens.default` (Consul's "user" token).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub default: String,
    /// `acl.tokens.agent`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub agent: String,
    /// `acl.tokens.agent_recovery` (formerly `agent_master`).
    #[serde(default, skip_serializing_if = "String::is_empty", alias = "agent_master")]
    pub agent_recovery: String,
    /// `acl.tokens.replication`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub replication: String,
    /// `acl.tokens.config_file_service_registration`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub config_file_service_registration: String,
}

impl TokenSet {
    /// The slot for a `/v1/agent/token/<kind>` path (with Consul's older aliases).
    pub fn slot_mut(&mut self, kind: &str) -> Option<&mut String> {
        Some(match kind {
            "default" | "acl_token" => &mut self.default,
            "agent" | "acl_agent_token" => &mut self.agent,
            "agent_recovery" | "agent_master" | "acl_agent_master_token" => &mut self.agent_recovery,
            "replication" | "acl_replication_token" => &mut self.replication,
            "config_file_service_registration" => &mut self.config_file_service_registration,
            _ => return None,
        })
    }

    /// Takes every non-empty token of `other`.
    pub fn overlay(&mut self, other: &TokenSet) {
        for (mine, theirs) in [
            (&mut self.default, &other.default),
            (&mut self.agent, &other.agent),
            (&mut self.agent_recovery, &other.agent_recovery),
            (&mut self.replication, &other.replication),
            (
                &mut self.config_file_service_registration,
                &other.config_file_service_registration,
            ),
        ] {
            if !theirs.is_empty() {
                mine.clone_from(theirs);
            }
        }
    }
}

/// The agent's tokens, shared between the API (which reads and sets them) and the agent
/// (which persists them when `acl.enable_token_persistence` is on).
#[derive(Debug, Default)]
pub struct AgentTokens {
    tokens: RwLock<TokenSet>,
}

impl AgentTokens {
    /// Starts with `tokens`.
    pub fn new(tokens: TokenSet) -> Self {
        AgentTokens {
            tokens: RwLock::new(tokens),
        }
    }

    /// The token used for requests without one (empty: the anonymous token).
    pub fn default_token(&self) -> String {
        self.tokens.read().default.clone()
    }

    /// The agent recovery token (`agent_recovery`), if set.
    pub fn agent_recovery(&self) -> String {
        self.tokens.read().agent_recovery.clone()
    }

    /// Sets one token; false if `kind` is not a token type.
    pub fn set(&self, kind: &str, secret: &str) -> bool {
        match self.tokens.write().slot_mut(kind) {
            Some(slot) => {
                *slot = secret.to_string();
                true
            }
            None => false,
        }
    }

    /// A copy of every token.
    pub fn snapshot(&self) -> TokenSet {
        self.tokens.read().clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_their_old_names_reach_the_same_slot() {
        let t = AgentTokens::default();
        assert!(t.set("agent_master", "r"));
        assert!(t.set("default", "d"));
        assert!(!t.set("nonsense", "x"));
        let s = t.snapshot();
        assert_eq!((s.agent_recovery.as_str(), s.default.as_str()), ("r", "d"));
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(json, r#"{"default":"d","agent_recovery":"r"}"#);
        let back: TokenSet = serde_json::from_str(r#"{"agent_master":"r2"}"#).unwrap();
        assert_eq!(back.agent_recovery, "r2");
    }
}
