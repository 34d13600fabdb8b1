//! `/v1/status/leader` and `/v1/status/peers`.

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::Response;

use crate::query::Params;
use crate::response::{json_response, ApiError};
use crate::SharedState;

/// `GET /v1/status/leader`: the leader's server address, or `""` when there is none.
pub async fn leader(
    State(api): State<SharedState>,
    RawQuery(q): RawQuery,
) -> Result<Response<Body>, ApiError> {
    let params = Params::parse(q.as_deref());
    params.check_dc(&api.config)?;
    let leader = api.consensus.leader_addr().unwrap_or_default();
    Ok(json_response(&leader, params.pretty(&api.config)))
}

/// `GET /v1/status/peers`: the server addresses of the raft voters.
pub async fn peers(
    State(api): State<SharedState>,
    RawQuery(q): RawQuery,
) -> Result<Response<Body>, ApiError> {
    let params = Params::parse(q.as_deref());
    params.check_dc(&api.config)?;
    Ok(json_response(
        &api.consensus.peer_addrs(),
        params.pretty(&api.config),
    ))
}
