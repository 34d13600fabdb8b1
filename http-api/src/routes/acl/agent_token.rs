//! `PUT /v1/agent/token/:type`: set one of the agent's own tokens.

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, Response, StatusCode};

use super::{ensure_enabled, read_fields};
use crate::acl::Caller;
use crate::response::{empty_response, ApiError};
use crate::SharedState;

/// Sets the token `kind` (`default`, `agent`, `agent_recovery`, `replication`,
/// `config_file_service_registration`, and Consul's older names); needs `acl:write`. With `acl.enable_token_persistence` it is saved to
/// `<data-dir>/acl-tokens.json` and survives a restart.
pub async fn set(
    State(api): State<SharedState>,
    caller: Caller,
    Path(kind): Path<String>,
    RawQuery(_q): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<Response<Body>, ApiError> {
    ensure_enabled(&api)?;
    super::require_write(&caller)?;
    let mut f = read_fields(&headers, body, "AgentToken").await?;
    let token = f.string("Token")?.unwrap_or_default();
    f.finish()?;
    if !api.acl.tokens.set(&kind, &token) {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("Token {kind:?} is unknown"),
        ));
    }
    if let Some(persist) = &api.acl.persist {
        persist(&api.acl.tokens.snapshot())
            .map_err(|e| ApiError::internal(format!("Failed to persist tokens - {e}")))?;
    }
    Ok(empty_response(StatusCode::OK))
}
