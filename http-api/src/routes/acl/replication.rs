//! `GET /v1/acl/replication`: ACL replication status. rconsul has one datacenter's ACLs
//! and no replication, which Consul reports the same way for its primary datacenter.

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::Response;
use serde::Serialize;

use super::{ensure_enabled, ok_json};
use crate::query::Params;
use crate::response::ApiError;
use crate::SharedState;

/// Consul's `ACLReplicationStatus`.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ReplicationJson<'a> {
    enabled: bool,
    running: bool,
    source_datacenter: &'a str,
    replication_type: &'a str,
    replicated_index: u64,
    replicated_role_index: u64,
    replicated_token_index: u64,
    last_success: &'a str,
    last_error: &'a str,
    last_error_message: &'a str,
}

/// Replication is never enabled: this datacenter is its own primary.
pub async fn status(
    State(api): State<SharedState>,
    RawQuery(q): RawQuery,
) -> Result<Response<Body>, ApiError> {
    ensure_enabled(&api)?;
    let pretty = Params::parse(q.as_deref()).pretty(&api.config);
    Ok(ok_json(
        &ReplicationJson {
            enabled: false,
            running: false,
            source_datacenter: "",
            replication_type: "",
            replicated_index: 0,
            replicated_role_index: 0,
            replicated_token_index: 0,
            last_success: "0001-01-01T00:00:00Z",
            last_error: "0001-01-01T00:00:00Z",
            last_error_message: "",
        },
        pretty,
    ))
}
