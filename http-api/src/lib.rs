//! rconsul's HTTP API: Consul's `/v1` endpoints on axum.
//!
//! - [`server`]: the HTTP/1.1 listener (Go-style header casing): `lean` serves bodiless and
//!   small-body requests with no per-connection buffers, hyper the rest.
//! - [`conn_limit`]: the per-client-IP connection limit (`limits.http_max_conns_per_client`).
//! - [`dispatch`]: the entry point: KV requests straight to their handlers, the rest to the router.
//! - [`router`]: paths, allowed methods, Consul's 404/405/301 behaviour.
//! - [`query`]: query-string parsing shared by every endpoint (`?index`, `?wait`, `?stale`, ...).
//! - [`blocking`]: the index-based long poll behind every read.
//! - [`response`]: Consul's headers, JSON encoding and error bodies.
//! - [`acl`]: who a request's token is and what it may do.
//! - `routes::*`: one module per endpoint family.
//! - [`ui`]: the embedded web UI at `/ui/`.
//! - [`login`]: the `jwt` auth method: token checks and binding rules for `/v1/acl/login`.

pub mod acl;
pub mod blocking;
pub mod cache;
pub mod conn_limit;
pub mod decode;
pub mod dispatch;
pub mod filter;
mod lean;
pub mod login;
pub mod query;
pub mod response;
pub mod router;
pub mod routes;
pub mod server;
pub mod ui;
pub mod views;

use std::sync::Arc;
use std::time::Duration;

use rconsul_state::agent::LocalAgent;
use rconsul_state::event::UserEvents;
use rconsul_state::operator::Operator;
use rconsul_state::{Consensus, StateStore};

/// Settings the API needs from the agent's configuration.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// This agent's datacenter; any other `?dc=` is answered `No path to datacenter`.
    pub datacenter: String,
    /// This agent's node name (`agent:*` and `node:*` rules about itself).
    pub node_name: String,
    /// Pretty-print every JSON body (Consul does in `-dev` mode).
    pub pretty_by_default: bool,
    /// Largest accepted KV value (`kv_max_value_size`).
    pub kv_max_value_size: u64,
    /// Blocking query wait when `?wait` is absent (`default_query_time`).
    pub default_query_time: Duration,
    /// Upper bound of `?wait` (`max_query_time`).
    pub max_query_time: Duration,
    /// Serve the web UI at `/ui/` (`-ui`, `ui_config.enabled`; on in `-dev`).
    pub ui: bool,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            datacenter: "dc1".into(),
            node_name: String::new(),
            pretty_by_default: false,
            kv_max_value_size: 512 * 1024,
            default_query_time: Duration::from_secs(300),
            max_query_time: Duration::from_secs(600),
            ui: false,
        }
    }
}

/// Everything a request handler can reach.
pub struct ApiState {
    /// Configuration.
    pub config: ApiConfig,
    /// The local replicated state (reads).
    pub store: Arc<StateStore>,
    /// Consensus (writes, read barriers, leadership).
    pub consensus: Arc<dyn Consensus>,
    /// The local agent (services, checks, members, lifecycle).
    pub agent: Arc<dyn LocalAgent>,
    /// Encoded answers of hot reads, reused while their data is unchanged.
    pub cache: cache::ResponseCache,
    /// User events (`/v1/event/*`).
    pub events: Arc<dyn UserEvents>,
    /// Cluster operations: raft configuration, join, force-leave.
    pub operator: Arc<dyn Operator>,
    /// ACL settings, token resolution and the agent's tokens.
    pub acl: acl::AclApi,
}

/// The shared handle handlers receive.
pub type SharedState = Arc<ApiState>;
