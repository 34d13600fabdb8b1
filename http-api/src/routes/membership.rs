//! `/v1/agent/join/<address>` and `/v1/agent/force-leave/<node>`: gossip membership
//! operations on the local agent.

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::Response;

use crate::acl::Caller;
use crate::query::Params;
use crate::response::{add_common_headers, ApiError};
use crate::SharedState;
use rconsul_state::acl::{Global, Kind, Need};

fn ok_empty() -> Response<Body> {
    let mut resp = Response::new(Body::empty());
    add_common_headers(&mut resp);
    resp
}

/// `PUT /v1/agent/join/<address>[?wan=1]`: joins the cluster through `address`
/// (`host[:port]`, port 8301 by default). 200 with an empty body once the member there
/// answered; 500 with the reason otherwise.
pub async fn join(
    State(api): State<SharedState>,
    caller: Caller,
    Path(address): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response<Body>, ApiError> {
    caller.require(Kind::Agent, &api.config.node_name, Need::Write)?;
    let params = Params::parse(q.as_deref());
    // Consul tests `Query().Get("wan") != ""`: a bare `?wan` means LAN.
    let wan = params.get("wan").is_some_and(|v| !v.is_empty());
    api.operator.join(address, wan).await?;
    Ok(ok_empty())
}

/// `PUT /v1/agent/force-leave/<node>[?prune]`: moves a failed member to `left` on every
/// agent; the leader then deregisters it and removes it from raft if it was a server.
pub async fn force_leave(
    State(api): State<SharedState>,
    caller: Caller,
    Path(node): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response<Body>, ApiError> {
    caller.require_global(Global::Operator, Need::Write)?;
    let params = Params::parse(q.as_deref());
    api.operator.force_leave(node, params.has("prune")).await?;
    Ok(ok_empty())
}
