//! `/v1/operator/raft/configuration`, `/v1/operator/raft/peer` and
//! `/v1/operator/autopilot/health`.

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{Response, StatusCode};
use rconsul_state::operator::{AutopilotHealth, OperatorError, PeerSelector, RaftConfiguration};
use serde::Serialize;

use crate::acl::Caller;
use crate::query::Params;
use crate::response::{add_common_headers, encode_json, json_bytes_response, json_response, ApiError};
use crate::SharedState;
use rconsul_compat::duration::format as go_duration_string;
use rconsul_state::acl::{Global, Need};

impl From<OperatorError> for ApiError {
    fn from(e: OperatorError) -> Self {
        ApiError::internal(e.0)
    }
}

/// Consul's `api.RaftServer`, fields in its order.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct RaftServerJson<'a> {
    #[serde(rename = "ID")]
    id: &'a str,
    node: &'a str,
    address: &'a str,
    leader: bool,
    protocol_version: &'static str,
    voter: bool,
}

/// Consul's `api.RaftConfiguration`.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct RaftConfigurationJson<'a> {
    servers: Vec<RaftServerJson<'a>>,
    index: u64,
}

fn configuration_json(config: &RaftConfiguration) -> RaftConfigurationJson<'_> {
    RaftConfigurationJson {
        servers: config
            .servers
            .iter()
            .map(|s| RaftServerJson {
                id: &s.id,
                node: &s.node,
                address: &s.address,
                leader: s.leader,
                protocol_version: "3",
                voter: s.voter,
            })
            .collect(),
        index: config.index,
    }
}

/// `GET /v1/operator/raft/configuration[?stale]`: the raft servers, once the read
/// barrier of the requested mode is passed (without `?stale` a leader must be known).
pub async fn configuration(
    State(api): State<SharedState>,
    caller: Caller,
    RawQuery(q): RawQuery,
) -> Result<Response<Body>, ApiError> {
    let params = Params::parse(q.as_deref());
    params.check_dc(&api.config)?;
    caller.require_global(Global::Operator, Need::Read)?;
    let mode = params.consistency()?;
    api.consensus.read_barrier(mode).await?;
    let config = api.operator.raft_configuration();
    Ok(json_response(
        &configuration_json(&config),
        params.pretty(&api.config),
    ))
}

/// `DELETE /v1/operator/raft/peer?id=<id>|?address=<ip:port>`: removes a server from
/// the raft configuration through the leader; 200 with an empty body.
pub async fn remove_peer(
    State(api): State<SharedState>,
    caller: Caller,
    RawQuery(q): RawQuery,
) -> Result<Response<Body>, ApiError> {
    let params = Params::parse(q.as_deref());
    params.check_dc(&api.config)?;
    caller.require_global(Global::Operator, Need::Write)?;
    let peer = match (params.has("id"), params.has("address")) {
        (false, false) => {
            return Err(ApiError::bad_request(
                "Bad request: Must specify either ?id with the server's ID or ?address with IP:port of peer to remove",
            ))
        }
        (true, true) => {
            return Err(ApiError::bad_request(
                "Bad request: Must specify only one of ?id or ?address",
            ))
        }
        (true, false) => PeerSelector::Id(params.get("id").unwrap_or_default().to_string()),
        (false, true) => PeerSelector::Address(params.get("address").unwrap_or_default().to_string()),
    };
    api.operator.remove_raft_peer(peer).await?;
    let mut resp = Response::new(Body::empty());
    add_common_headers(&mut resp);
    Ok(resp)
}

/// Consul's `api.ServerHealth`, fields in its order.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ServerHealthJson<'a> {
    #[serde(rename = "ID")]
    id: &'a str,
    name: &'a str,
    address: &'a str,
    serf_status: &'a str,
    version: &'a str,
    leader: bool,
    last_contact: String,
    last_term: u64,
    last_index: u64,
    healthy: bool,
    voter: bool,
    stable_since: String,
}

/// Consul's `api.OperatorHealthReply`.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct AutopilotHealthJson<'a> {
    healthy: bool,
    failure_tolerance: usize,
    servers: Vec<ServerHealthJson<'a>>,
}

fn health_json(health: &AutopilotHealth) -> AutopilotHealthJson<'_> {
    AutopilotHealthJson {
        healthy: health.healthy,
        failure_tolerance: health.failure_tolerance,
        servers: health
            .servers
            .iter()
            .map(|s| ServerHealthJson {
                id: &s.id,
                name: &s.name,
                address: &s.address,
                serf_status: &s.serf_status,
                version: &s.version,
                leader: s.leader,
                last_contact: go_duration_string(s.last_contact),
                last_term: s.last_term,
                last_index: s.last_index,
                healthy: s.healthy,
                voter: s.voter,
                stable_since: rconsul_state::clock::rfc3339_seconds(s.stable_since),
            })
            .collect(),
    }
}

/// `GET /v1/operator/autopilot/health`: every server's health; 200 when all voters are
/// healthy, else 429 with the same body, as Consul answers (Consul also labels that 429
/// `text/plain`; it is JSON either way, so this one says `application/json`).
pub async fn autopilot_health(
    State(api): State<SharedState>,
    caller: Caller,
    RawQuery(q): RawQuery,
) -> Result<Response<Body>, ApiError> {
    let params = Params::parse(q.as_deref());
    params.check_dc(&api.config)?;
    caller.require_global(Global::Operator, Need::Read)?;
    let health = api.operator.autopilot_health().await?;
    let status = if health.healthy {
        StatusCode::OK
    } else {
        StatusCode::TOO_MANY_REQUESTS
    };
    Ok(json_bytes_response(
        status,
        encode_json(&health_json(&health), params.pretty(&api.config)),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rconsul_state::operator::{RaftServer, ServerHealth};

    #[test]
    fn health_has_consuls_shape() {
        let health = AutopilotHealth {
            healthy: true,
            failure_tolerance: 1,
            servers: vec![ServerHealth {
                id: "3b01e541-ec82-26fc-da5a-4606b9d0e05c".into(),
                name: "srv3".into(),
                address: "127.0.0.243:8300".into(),
                serf_status: "alive".into(),
                version: "1.10.3".into(),
                leader: false,
                last_contact: std::time::Duration::from_nanos(19_560_684),
                last_term: 2,
                last_index: 13,
                healthy: true,
                voter: true,
                stable_since: std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_795_977_113),
            }],
        };
        let body = encode_json(&health_json(&health), false);
        // The golden server entry, byte for byte.
        let want = r#"{"Healthy":true,"FailureTolerance":1,"Servers":[{"ID":"3b01e541-ec82-26fc-da5a-4606b9d0e05c","Name":"srv3","Address":"127.0.0.243:8300","SerfStatus":"alive","Version":"1.10.3","Leader":false,"LastContact":"19.560684ms","LastTerm":2,"LastIndex":13,"Healthy":true,"Voter":true,"StableSince":"2026-11-29T18:31:53Z"}]}"#;
        assert_eq!(String::from_utf8_lossy(&body), want);
    }

    #[test]
    fn configuration_has_consuls_shape() {
        let config = RaftConfiguration {
            servers: vec![RaftServer {
                id: "81eb0b81-9f2d-4b31-0087-402d71c8bfe4".into(),
                node: "golden-dev".into(),
                address: "127.0.0.240:8300".into(),
                leader: true,
                voter: true,
            }],
            index: 0,
        };
        let body = encode_json(&configuration_json(&config), true);
        // Byte for byte the golden dev-mode answer (288 bytes).
        let want = "{\n    \"Servers\": [\n        {\n            \"ID\": \"81eb0b81-9f2d-4b31-0087-402d71c8bfe4\",\n            \"Node\": \"golden-dev\",\n            \"Address\": \"127.0.0.240:8300\",\n            \"Leader\": true,\n            \"ProtocolVersion\": \"3\",\n            \"Voter\": true\n        }\n    ],\n    \"Index\": 0\n}\n";
        assert_eq!(String::from_utf8_lossy(&body), want);
        assert_eq!(body.len(), 288);
    }
}
