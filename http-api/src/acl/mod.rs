//! ACL enforcement for the HTTP API: where a request's token comes from ([`token`]), who
//! the caller is and what it may do ([`caller`]), and the agent-wide ACL settings
//! ([`AclApi`]). The decisions themselves are `rconsul_state::acl`'s.

pub mod caller;
pub mod token;

use std::sync::Arc;
use std::time::Duration;

use rconsul_state::acl::{AgentTokens, Resolver, TokenSet};

pub use caller::Caller;

/// Persists the agent's tokens after `/v1/agent/token/:type` changed one.
pub type PersistTokens = Box<dyn Fn(&TokenSet) -> Result<(), String> + Send + Sync>;

/// The agent's ACL settings and state, as the API needs them.
pub struct AclApi {
    /// `acl.enabled`: without it every request is allowed and `/v1/acl/*` answers 401.
    pub enabled: bool,
    /// Token resolution (with `acl.default_policy`).
    pub resolver: Arc<Resolver>,
    /// The agent's own tokens (`acl.tokens.*`).
    pub tokens: Arc<AgentTokens>,
    /// `acl.enable_key_list_policy`: KV `?keys`/`?recurse` need `list` on the prefix.
    pub enable_key_list_policy: bool,
    /// Saves the agent tokens (`acl.enable_token_persistence`); None: not persisted.
    pub persist: Option<PersistTokens>,
    /// Shortest `ExpirationTTL` accepted (`acl.token_min_expiration_ttl`, Consul: 1m).
    pub token_min_expiration_ttl: Duration,
    /// Longest `ExpirationTTL` accepted (`acl.token_max_expiration_ttl`, Consul: 24h).
    pub token_max_expiration_ttl: Duration,
}

impl std::fmt::Debug for AclApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AclApi")
            .field("enabled", &self.enabled)
            .field("default_allow", &self.resolver.default_allow())
            .finish_non_exhaustive()
    }
}
