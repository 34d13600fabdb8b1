//! `/v1/operator/raft/configuration` and `/v1/operator/raft/peer`.

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::Response;
use rconsul_state::operator::{OperatorError, PeerSelector, RaftConfiguration};
use serde::Serialize;

use crate::query::Params;
use crate::response::{add_common_headers, json_response, ApiError};
use crate::SharedState;

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
    RawQuery(q): RawQuery,
) -> Result<Response<Body>, ApiError> {
    let params = Params::parse(q.as_deref());
    params.check_dc(&api.config)?;
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
    RawQuery(q): RawQuery,
) -> Result<Response<Body>, ApiError> {
    let params = Params::parse(q.as_deref());
    params.check_dc(&api.config)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::response::encode_json;
    use rconsul_state::operator::RaftServer;

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
