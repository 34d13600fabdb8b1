//! The local agent as the HTTP API sees it: service and check definitions, and the
//! [`LocalAgent`] trait the agent crate implements.

use std::time::Duration;

use crate::catalog::{HealthCheck, Service};

/// A check as an agent defines it (`/v1/agent/check/register`, or inside a service).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CheckDefinition {
    /// `CheckID` / `ID` (defaults are filled by the agent).
    pub id: String,
    /// `Name`.
    pub name: String,
    /// `Notes`.
    pub notes: String,
    /// `ServiceID` this check belongs to (empty: a node check).
    pub service_id: String,
    /// Initial `Status` (empty: critical).
    pub status: String,
    /// `HTTP` URL.
    pub http: String,
    /// `Method`.
    pub method: String,
    /// `Header` (name, value) pairs.
    pub headers: Vec<(String, String)>,
    /// `Body`.
    pub body: String,
    /// `TLSSkipVerify`.
    pub tls_skip_verify: bool,
    /// `TCP` address.
    pub tcp: String,
    /// `TTL`.
    pub ttl: Option<Duration>,
    /// `Args` / `ScriptArgs`.
    pub args: Vec<String>,
    /// `AliasNode`.
    pub alias_node: String,
    /// `AliasService`.
    pub alias_service: String,
    /// `Interval`.
    pub interval: Option<Duration>,
    /// `Timeout`.
    pub timeout: Option<Duration>,
    /// `SuccessBeforePassing`.
    pub success_before_passing: u32,
    /// `FailuresBeforeCritical`.
    pub failures_before_critical: u32,
    /// `DeregisterCriticalServiceAfter`.
    pub deregister_critical_service_after: Option<Duration>,
    /// `OutputMaxSize`.
    pub output_max_size: Option<usize>,
}

impl CheckDefinition {
    /// The check type Consul reports (`http`, `tcp`, `ttl`, `script`, `alias`), or
    /// None when the definition names no check kind.
    pub fn check_type(&self) -> Option<&'static str> {
        if !self.http.is_empty() {
            Some("http")
        } else if !self.tcp.is_empty() {
            Some("tcp")
        } else if self.ttl.is_some() {
            Some("ttl")
        } else if !self.args.is_empty() {
            Some("script")
        } else if !self.alias_service.is_empty() || !self.alias_node.is_empty() {
            Some("alias")
        } else {
            None
        }
    }
}

/// A service as an agent defines it (`/v1/agent/service/register`, config files).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServiceDefinition {
    /// The service (ID defaults to the name).
    pub service: Service,
    /// Embedded `Check` and `Checks`.
    pub checks: Vec<CheckDefinition>,
}

/// A gossip member as `/v1/agent/members` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Node name.
    pub name: String,
    /// Gossip address.
    pub addr: String,
    /// Gossip port.
    pub port: u16,
    /// Serf tags (`role`, `dc`, `id`, `build`, ...).
    pub tags: Vec<(String, String)>,
    /// 1 alive, 2 leaving, 3 left, 4 failed.
    pub status: u8,
}

/// An agent-level failure, with the HTTP status Consul gives it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AgentError {
    /// 400: the request is invalid.
    #[error("{0}")]
    BadRequest(String),
    /// 404: the named service or check is not registered here.
    #[error("{0}")]
    NotFound(String),
    /// 500: anything else.
    #[error("{0}")]
    Internal(String),
}

/// A registered service with its aggregated health, for `/v1/agent/health/service/*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceHealth {
    /// The service.
    pub service: Service,
    /// Its checks (service and node checks).
    pub checks: Vec<HealthCheck>,
}

/// What the HTTP API needs from the local agent.
pub trait LocalAgent: Send + Sync + 'static {
    /// `/v1/agent/self` as a JSON value.
    fn self_json(&self) -> serde_json::Value;
    /// `/v1/agent/members`.
    fn members(&self) -> Vec<Member>;
    /// Locally registered services.
    fn services(&self) -> Vec<Service>;
    /// Locally registered checks (with current status and output).
    fn checks(&self) -> Vec<HealthCheck>;
    /// Registers (or replaces) a service and its checks.
    fn register_service(
        &self,
        def: ServiceDefinition,
        replace_existing_checks: bool,
    ) -> Result<(), AgentError>;
    /// Removes a service and its checks.
    fn deregister_service(&self, id: &str) -> Result<(), AgentError>;
    /// Registers (or replaces) a check.
    fn register_check(&self, def: CheckDefinition) -> Result<(), AgentError>;
    /// Removes a check.
    fn deregister_check(&self, id: &str) -> Result<(), AgentError>;
    /// A TTL check update (`pass`/`warn`/`fail`/`update`): status and output.
    fn update_ttl(&self, id: &str, status: &str, output: &str) -> Result<(), AgentError>;
    /// Puts a service into or out of maintenance.
    fn service_maintenance(&self, id: &str, enable: bool, reason: &str) -> Result<(), AgentError>;
    /// Puts the node into or out of maintenance.
    fn node_maintenance(&self, enable: bool, reason: &str);
    /// Reloads service and check definitions from the config files.
    fn reload(&self) -> Result<(), AgentError>;
    /// Leaves the cluster and shuts the agent down.
    fn leave(&self);
    /// `/v1/agent/metrics` as a JSON value (Consul's shape).
    fn metrics_json(&self) -> serde_json::Value;
    /// `/v1/agent/metrics?format=prometheus` text.
    fn metrics_prometheus(&self) -> String;
}
