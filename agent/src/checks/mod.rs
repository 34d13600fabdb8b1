//! Health check runners: the probes an agent runs for the checks it owns.
//!
//! The local agent turns a check definition into a [`CheckSpec`] and calls [`spawn`];
//! the runner probes on its interval and reports every result through a [`StatusSink`].
//! The sink (the agent's local state) writes to the catalog only when status or output
//! changed, so a steady check costs no raft write.

use std::sync::Arc;
use std::time::Duration;

/// A check's health, as Consul spells it in JSON (`passing`, `warning`, `critical`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// Healthy.
    Passing,
    /// Degraded (HTTP 429, script exit 1).
    Warning,
    /// Unhealthy.
    Critical,
}

impl Status {
    /// Consul's JSON spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Passing => "passing",
            Status::Warning => "warning",
            Status::Critical => "critical",
        }
    }
}

/// What a check probes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckKind {
    /// `HTTP`: 2xx passing, 429 warning, anything else (or no answer) critical.
    Http {
        /// URL to request (http:// or https://).
        url: String,
        /// Method (default GET).
        method: String,
        /// Extra request headers (Consul's `Header: {"name": ["v1", "v2"]}`).
        headers: Vec<(String, String)>,
        /// Request body.
        body: String,
        /// Skip TLS certificate verification (`TLSSkipVerify`).
        tls_skip_verify: bool,
    },
    /// `TCP`: a successful connect is passing.
    Tcp {
        /// `host:port`.
        addr: String,
    },
    /// `TTL`: passing/warning/critical only through updates; expires to critical.
    Ttl {
        /// Time after the last update before the check turns critical.
        ttl: Duration,
    },
    /// `Args`: runs a program; exit 0 passing, 1 warning, anything else critical.
    Script {
        /// Program and arguments.
        args: Vec<String>,
    },
    /// `AliasService`/`AliasNode`: mirrors the health of another service or node.
    Alias {
        /// Node to mirror (None: this agent's node).
        node: Option<String>,
        /// Service ID to mirror (None: the node's health only).
        service: Option<String>,
    },
}

/// Everything a runner needs to probe one check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckSpec {
    /// The check's ID (`CheckID`).
    pub id: String,
    /// What to probe.
    pub kind: CheckKind,
    /// Time between probes (ignored for TTL). Consul clamps intervals below 1 s to 1 s.
    pub interval: Duration,
    /// Time allowed for one probe (default 10 s; capped at the interval for HTTP/TCP as Consul).
    pub timeout: Duration,
    /// Consecutive successes needed before reporting passing (`SuccessBeforePassing`).
    pub success_before_passing: u32,
    /// Consecutive failures needed before reporting critical (`FailuresBeforeCritical`).
    pub failures_before_critical: u32,
    /// Largest output kept (`OutputMaxSize`, default 4096 bytes).
    pub output_max_size: usize,
}

/// Where runners report results. Implemented by the agent's local state.
pub trait StatusSink: Send + Sync + 'static {
    /// Reports the current status and output of `check_id`. Called after every probe;
    /// the sink decides whether anything changed.
    fn report(&self, check_id: &str, status: Status, output: String);
}

/// Where alias checks read the health they mirror. Implemented by the agent.
pub trait AliasSource: Send + Sync + 'static {
    /// The aggregated status of `service` on `node` (or of the node alone when
    /// `service` is None), or None if it does not exist. Worst status wins.
    fn aggregate_status(&self, node: Option<&str>, service: Option<&str>) -> Option<Status>;

    /// The status and output an alias check reports. The default derives them from
    /// [`AliasSource::aggregate_status`] with Consul's texts where it has enough to
    /// say (`All checks passing.`, `Service <id> could not be found on node <node>`);
    /// override it to give Consul's `Aliased check "<name>" failing: <output>`.
    fn aggregate_health(&self, node: Option<&str>, service: Option<&str>) -> (Status, String) {
        match self.aggregate_status(node, service) {
            None => (
                Status::Critical,
                format!(
                    "Service {} could not be found on node {}",
                    service.unwrap_or_default(),
                    node.unwrap_or_default()
                ),
            ),
            Some(Status::Passing) => (Status::Passing, "All checks passing.".to_string()),
            Some(status) => (status, "Aliased check failing.".to_string()),
        }
    }
}

mod alias;
mod http;
mod output;
mod runner;
mod script;
mod tcp;
mod ttl;

pub use runner::{spawn, RunnerHandle};

/// Default probe timeout (Consul: 10 s).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default output limit (Consul: 4 KiB).
pub const DEFAULT_OUTPUT_MAX_SIZE: usize = 4096;

/// Convenience for tests and callers that hold sinks behind `Arc`.
pub type SharedSink = Arc<dyn StatusSink>;
