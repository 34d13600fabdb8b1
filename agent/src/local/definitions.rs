//! From definitions (API bodies, config files) to catalog entries and runner specs.

use std::time::Duration;

use rconsul_state::agent::{AgentError, CheckDefinition};
use rconsul_state::catalog::HealthCheck;

use crate::checks::{CheckKind, CheckSpec, DEFAULT_OUTPUT_MAX_SIZE, DEFAULT_TIMEOUT};

/// Consul's floor for probe intervals.
const MIN_INTERVAL: Duration = Duration::from_secs(1);

/// Fills a check's ID and name the way Consul does for a check embedded in a service:
/// `service:<id>` (or `service:<id>:<n>` when there are several) and `Service '<name>' check`.
pub fn default_service_check_ids(defs: &mut [CheckDefinition], service_id: &str, service_name: &str) {
    let several = defs.len() > 1;
    for (i, def) in defs.iter_mut().enumerate() {
        if def.id.is_empty() {
            def.id = if several {
                format!("service:{service_id}:{}", i + 1)
            } else {
                format!("service:{service_id}")
            };
        }
        if def.name.is_empty() {
            def.name = format!("Service '{service_name}' check");
        }
        def.service_id = service_id.to_string();
    }
}

/// Where script checks may come from, as Consul's `enable_script_checks` (any source: the
/// HTTP API and config files) and `enable_local_script_checks` (config files only, the guard
/// against remote code execution through the API).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScriptChecks {
    /// Scripts from config files (`enable_local_script_checks`, which defaults to
    /// `enable_script_checks`).
    pub local: bool,
    /// Scripts registered through the HTTP API (`enable_script_checks`).
    pub remote: bool,
}

impl ScriptChecks {
    /// The policy for an agent's two settings.
    pub fn new(enable_script_checks: bool, enable_local_script_checks: bool) -> Self {
        ScriptChecks {
            local: enable_script_checks || enable_local_script_checks,
            remote: enable_script_checks,
        }
    }

    /// Refuses a script check from this source with Consul's error text (agent.go addCheck).
    /// Consul answers these with 500, not 400: the text reaches the HTTP API as a plain error.
    /// We keep its status since clients may depend on it.
    pub fn allow(self, from_config: bool) -> Result<(), AgentError> {
        if from_config && !self.local {
            return Err(AgentError::Internal(
                "Scripts are disabled on this agent; to enable, configure 'enable_script_checks' or 'enable_local_script_checks' to true".into(),
            ));
        }
        if !from_config && !self.remote {
            return Err(AgentError::Internal(
                "Scripts are disabled on this agent from remote calls; to enable, configure 'enable_script_checks' to true".into(),
            ));
        }
        Ok(())
    }
}

/// Validates a definition and builds its runner spec (None for checks without a probe).
/// `from_config` tells a config-file definition from one registered through the API.
pub fn runner_spec(
    def: &CheckDefinition,
    scripts: ScriptChecks,
    from_config: bool,
) -> Result<Option<CheckSpec>, AgentError> {
    let kind = match def.check_type() {
        Some("http") => CheckKind::Http {
            url: def.http.clone(),
            method: if def.method.is_empty() {
                "GET".into()
            } else {
                def.method.clone()
            },
            headers: def.headers.clone(),
            body: def.body.clone(),
            tls_skip_verify: def.tls_skip_verify,
        },
        Some("tcp") => CheckKind::Tcp {
            addr: def.tcp.clone(),
        },
        Some("ttl") => CheckKind::Ttl {
            ttl: def.ttl.unwrap_or_default(),
        },
        Some("script") => {
            scripts.allow(from_config)?;
            CheckKind::Script {
                args: def.args.clone(),
            }
        }
        Some(_) => CheckKind::Alias {
            node: Some(def.alias_node.clone()).filter(|s| !s.is_empty()),
            service: Some(def.alias_service.clone()).filter(|s| !s.is_empty()),
        },
        None => {
            return Err(AgentError::BadRequest(
                "Invalid check: TTL must be > 0 for TTL checks".into(),
            ));
        }
    };
    let needs_interval = matches!(
        kind,
        CheckKind::Http { .. } | CheckKind::Tcp { .. } | CheckKind::Script { .. }
    );
    let interval = match def.interval {
        Some(i) if i < MIN_INTERVAL => {
            tracing::warn!(target: "agent", "check has interval below minimum of 1s: check={}", def.id);
            MIN_INTERVAL
        }
        Some(i) => i,
        None if needs_interval => {
            return Err(AgentError::BadRequest(format!(
                "Invalid check: {} checks require an interval",
                def.check_type().unwrap_or("")
            )));
        }
        None => Duration::from_secs(10),
    };
    if let CheckKind::Ttl { ttl } = &kind {
        if ttl.is_zero() {
            return Err(AgentError::BadRequest(
                "Invalid check: TTL must be > 0 for TTL checks".into(),
            ));
        }
    }
    Ok(Some(CheckSpec {
        id: def.id.clone(),
        kind,
        interval,
        timeout: def.timeout.unwrap_or(DEFAULT_TIMEOUT),
        success_before_passing: def.success_before_passing,
        failures_before_critical: def.failures_before_critical,
        output_max_size: def.output_max_size.unwrap_or(DEFAULT_OUTPUT_MAX_SIZE),
    }))
}

/// The catalog entry of a locally defined check (indexes 0, `Definition` `{}` as Consul's
/// agent shows them).
pub fn health_check(
    def: &CheckDefinition,
    node: &str,
    service_name: &str,
    service_tags: &[String],
) -> HealthCheck {
    HealthCheck {
        node: node.to_string(),
        check_id: def.id.clone(),
        name: def.name.clone(),
        status: if def.status.is_empty() {
            "critical".into()
        } else {
            def.status.clone()
        },
        notes: def.notes.clone(),
        output: String::new(),
        service_id: def.service_id.clone(),
        service_name: service_name.to_string(),
        service_tags: service_tags.to_vec(),
        check_type: def.check_type().unwrap_or("").to_string(),
        interval: String::new(),
        timeout: String::new(),
        definition: "{}".into(),
        create_index: 0,
        modify_index: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_ids_and_names() {
        let mut defs = vec![CheckDefinition::default(), CheckDefinition::default()];
        default_service_check_ids(&mut defs, "web-1", "web");
        assert_eq!(defs[0].id, "service:web-1:1");
        assert_eq!(defs[1].name, "Service 'web' check");
        let mut one = vec![CheckDefinition::default()];
        default_service_check_ids(&mut one, "web-1", "web");
        assert_eq!(one[0].id, "service:web-1");
    }

    #[test]
    fn validation() {
        let none = CheckDefinition::default();
        let off = ScriptChecks::default();
        assert!(runner_spec(&none, off, false).is_err());
        let http = CheckDefinition {
            http: "http://x".into(),
            interval: Some(Duration::from_millis(100)),
            ..Default::default()
        };
        let spec = runner_spec(&http, off, false).ok().flatten();
        assert_eq!(spec.map(|s| s.interval), Some(MIN_INTERVAL));
    }

    const LOCAL_ERR: &str = "Scripts are disabled on this agent; to enable, configure 'enable_script_checks' or 'enable_local_script_checks' to true";
    const REMOTE_ERR: &str =
        "Scripts are disabled on this agent from remote calls; to enable, configure 'enable_script_checks' to true";

    fn script_result(policy: ScriptChecks, from_config: bool) -> Result<(), String> {
        let script = CheckDefinition {
            args: vec!["true".into()],
            interval: Some(Duration::from_secs(5)),
            ..Default::default()
        };
        match runner_spec(&script, policy, from_config) {
            Ok(Some(_)) => Ok(()),
            Ok(None) => Err("no spec".into()),
            Err(AgentError::Internal(e)) => Err(e),
            Err(e) => Err(format!("wrong kind: {e:?}")),
        }
    }

    #[test]
    fn scripts_only_from_allowed_sources() {
        // Neither setting: refused from both sources, each with Consul's text.
        let none = ScriptChecks::new(false, false);
        assert_eq!(script_result(none, true), Err(LOCAL_ERR.into()));
        assert_eq!(script_result(none, false), Err(REMOTE_ERR.into()));
        // enable_local_script_checks: config files only.
        let local = ScriptChecks::new(false, true);
        assert_eq!(script_result(local, true), Ok(()));
        assert_eq!(script_result(local, false), Err(REMOTE_ERR.into()));
        // enable_script_checks: any source.
        let all = ScriptChecks::new(true, false);
        assert_eq!(script_result(all, true), Ok(()));
        assert_eq!(script_result(all, false), Ok(()));
    }
}
