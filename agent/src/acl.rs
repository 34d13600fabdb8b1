//! The agent's side of ACLs: building the API's ACL context from the config (with the
//! persisted agent tokens), and the leader's duties: create the built-in
//! `global-management` policy, the anonymous token and the `initial_management` token,
//! and reap expired tokens.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rconsul_http_api::acl::AclApi;
use rconsul_raft::RaftNode;
use rconsul_state::acl::{
    AclCommand, AgentTokens, Policy, PolicyLink, Resolver, Token, TokenSet, ANONYMOUS_TOKEN_ID,
    ANONYMOUS_TOKEN_SECRET, GLOBAL_MANAGEMENT_POLICY_ID, GLOBAL_MANAGEMENT_POLICY_NAME,
};
use rconsul_state::{Command, CommandResult, Consensus, StateStore};
use tokio::sync::watch;

use crate::config::AclConfig;
use crate::durable_file::write_secret_durably;

/// The rules of `global-management`, as Consul shows them (rconsul grants it by ID).
pub const GLOBAL_MANAGEMENT_RULES: &str = r#"
acl = "write"
agent_prefix "" {
	policy = "write"
}
event_prefix "" {
	policy = "write"
}
key_prefix "" {
	policy = "write"
}
keyring = "write"
node_prefix "" {
	policy = "write"
}
operator = "write"
mesh = "write"
query_prefix "" {
	policy = "write"
}
service_prefix "" {
	policy = "write"
}
session_prefix "" {
	policy = "write"
}"#;

/// How often the leader checks the built-ins and reaps expired tokens.
const LEADER_TICK: Duration = Duration::from_secs(1);

/// Where persisted agent tokens live.
fn tokens_file(data_dir: &Path) -> PathBuf {
    data_dir.join("acl-tokens.json")
}

/// The API's ACL context: config tokens, overlaid with the persisted ones (Consul: a
/// token set through the API wins over the config file's after a restart).
pub fn api_context(cfg: &AclConfig, datacenter: &str, data_dir: Option<&Path>) -> anyhow::Result<AclApi> {
    let mut tokens = cfg.tokens.clone();
    let persist_to = data_dir
        .filter(|_| cfg.enabled && cfg.enable_token_persistence)
        .map(tokens_file);
    if let Some(path) = &persist_to {
        match std::fs::read(path) {
            Ok(bytes) => {
                let saved: TokenSet = serde_json::from_slice(&bytes).map_err(|e| {
                    anyhow::anyhow!("failed to load persisted tokens from {}: {e}", path.display())
                })?;
                tokens.overlay(&saved);
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => anyhow::bail!("failed to read persisted tokens {}: {e}", path.display()),
        }
    }
    rconsul_http_api::response::set_default_acl_policy(cfg.enabled && !cfg.default_allow);
    let persist: Option<rconsul_http_api::acl::PersistTokens> = persist_to.map(|path| {
        Box::new(move |set: &TokenSet| {
            let json = serde_json::to_vec(set).map_err(|e| e.to_string())?;
            write_secret_durably(&path, &json).map_err(|e| e.to_string())
        }) as rconsul_http_api::acl::PersistTokens
    });
    Ok(AclApi {
        enabled: cfg.enabled,
        resolver: Arc::new(Resolver::new(cfg.default_allow || !cfg.enabled, datacenter)),
        tokens: Arc::new(AgentTokens::new(tokens)),
        enable_key_list_policy: cfg.enable_key_list_policy,
        persist,
        token_min_expiration_ttl: cfg.token_min_expiration_ttl,
        token_max_expiration_ttl: cfg.token_max_expiration_ttl,
    })
}

fn now_ns() -> u64 {
    rconsul_http_api::acl::caller::now_ns()
}

fn management_token(accessor: String, secret: &str, description: &str) -> Token {
    Token {
        accessor_id: accessor,
        secret_id: secret.to_string(),
        description: description.into(),
        policies: vec![PolicyLink {
            id: GLOBAL_MANAGEMENT_POLICY_ID.into(),
            name: GLOBAL_MANAGEMENT_POLICY_NAME.into(),
        }],
        roles: vec![],
        service_identities: vec![],
        node_identities: vec![],
        templated_policies: vec![],
        local: false,
        auth_method: String::new(),
        expiration_time_ns: None,
        expiration_ttl_ns: 0,
        create_time_ns: now_ns(),
        create_index: 0,
        modify_index: 0,
    }
}

/// The writes the leader owes the ACL tables now: missing built-ins, the initial
/// management token, and a reap if any token has expired.
fn pending(store: &StateStore, initial_management: &str) -> Vec<AclCommand> {
    let state = store.read();
    let acl = &state.acl;
    let mut out = Vec::new();
    if acl.policy(GLOBAL_MANAGEMENT_POLICY_ID).is_none() {
        out.push(AclCommand::PolicySet(Policy {
            id: GLOBAL_MANAGEMENT_POLICY_ID.into(),
            name: GLOBAL_MANAGEMENT_POLICY_NAME.into(),
            description: "Builtin Policy that grants unlimited access".into(),
            rules: GLOBAL_MANAGEMENT_RULES.into(),
            datacenters: vec![],
            create_index: 0,
            modify_index: 0,
        }));
    }
    if acl.token(ANONYMOUS_TOKEN_ID).is_none() {
        let mut anonymous = management_token(
            ANONYMOUS_TOKEN_ID.into(),
            ANONYMOUS_TOKEN_SECRET,
            "Anonymous Token",
        );
        anonymous.policies.clear();
        out.push(AclCommand::TokenSet(anonymous));
    }
    if !initial_management.is_empty() && acl.token_by_secret(initial_management).is_none() {
        let token = management_token(
            uuid::Uuid::new_v4().to_string(),
            initial_management,
            "Initial Management Token",
        );
        // Consumes the bootstrap, as Consul's leader does, when it is still available.
        out.push(if acl.bootstrap_index() == 0 {
            AclCommand::Bootstrap(token)
        } else {
            AclCommand::TokenSet(token)
        });
    }
    let now = now_ns();
    if acl.tokens().any(|t| t.is_expired(now)) {
        out.push(AclCommand::ReapExpired(now));
    }
    out
}

/// Runs the leader's ACL duties until `stop` turns true (servers with ACLs enabled).
pub async fn run_leader(
    store: Arc<StateStore>,
    raft: Arc<RaftNode>,
    initial_management: String,
    mut stop: watch::Receiver<bool>,
) {
    let mut interval = tokio::time::interval(LEADER_TICK);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            _ = interval.tick() => {}
        }
        if !raft.is_leader() {
            continue;
        }
        for cmd in pending(&store, &initial_management) {
            let what = match &cmd {
                AclCommand::PolicySet(_) => "created the global-management policy",
                AclCommand::TokenSet(t) if t.accessor_id == ANONYMOUS_TOKEN_ID => {
                    "created the anonymous token"
                }
                AclCommand::ReapExpired(_) => "reaped expired tokens",
                _ => "created the initial management token",
            };
            match raft.write(Command::Acl(Box::new(cmd))).await {
                Ok(CommandResult::Failed(why)) => {
                    tracing::warn!(target: "agent.server.acl", "ACL leader write refused: {why}")
                }
                Ok(_) => tracing::info!(target: "agent.server.acl", "{what}"),
                Err(e) => {
                    tracing::warn!(target: "agent.server.acl", "ACL leader write failed: {e}");
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_consensus::Direct;

    #[test]
    fn the_leader_creates_the_builtins_once_and_reaps_expired_tokens() {
        let store = Arc::new(StateStore::new());
        let direct = Direct::new(store.clone());
        let first = pending(&store, "root-secret");
        assert_eq!(first.len(), 3);
        for cmd in first {
            direct.apply(Command::Acl(Box::new(cmd)));
        }
        assert!(pending(&store, "root-secret").is_empty());
        let state = store.read();
        assert_ne!(
            state.acl.bootstrap_index(),
            0,
            "initial management consumes the bootstrap"
        );
        assert!(state.acl.token_by_secret("root-secret").is_some());
        assert!(state.acl.token_by_secret(ANONYMOUS_TOKEN_SECRET).is_some());
        rconsul_state::acl::rules::parse(GLOBAL_MANAGEMENT_RULES).expect("built-in rules parse");
        drop(state);
        let mut expired = management_token("a2b3c4d5-0000-4000-8000-000000000001".into(), "s", "x");
        expired.expiration_time_ns = Some(1);
        direct.apply(Command::Acl(Box::new(AclCommand::TokenSet(expired))));
        let again = pending(&store, "root-secret");
        assert!(matches!(again.as_slice(), [AclCommand::ReapExpired(_)]));
    }
}
