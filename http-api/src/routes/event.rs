//! `/v1/event/fire/<name>` and `/v1/event/list` (Consul's `agent/event_endpoint.go`).

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderValue, Response, StatusCode};
use base64::Engine as _;
use rconsul_state::event::{uuid_to_index, EventError, FireRequest, UserEvent};
use serde::Serialize;

use crate::acl::caller::mark_filtered;
use crate::acl::Caller;
use crate::query::Params;
use crate::response::{json_response, ApiError, X_CONSUL_INDEX};
use crate::SharedState;
use rconsul_state::acl::{Kind, Need};

/// An event as Consul encodes it (`agent.UserEvent`).
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct EventJson<'a> {
    #[serde(rename = "ID")]
    id: &'a str,
    name: &'a str,
    /// Base64, or `null` without a payload.
    payload: Option<String>,
    node_filter: &'a str,
    service_filter: &'a str,
    tag_filter: &'a str,
    version: u32,
    #[serde(rename = "LTime")]
    ltime: u64,
}

impl<'a> From<&'a UserEvent> for EventJson<'a> {
    fn from(e: &'a UserEvent) -> Self {
        EventJson {
            id: &e.id,
            name: &e.name,
            payload: e
                .payload
                .as_ref()
                .map(|p| base64::engine::general_purpose::STANDARD.encode(p)),
            node_filter: &e.node_filter,
            service_filter: &e.service_filter,
            tag_filter: &e.tag_filter,
            version: e.version,
            ltime: e.ltime,
        }
    }
}

/// `PUT /v1/event/fire/` without a name.
pub async fn missing_name() -> Result<Response<Body>, ApiError> {
    Err(ApiError::bad_request("Missing name"))
}

/// `PUT /v1/event/fire/<name>` (`?node=`, `?service=`, `?tag=` regexps; the body is the
/// payload): fires the event and answers it, with its new ID.
pub async fn fire(
    State(api): State<SharedState>,
    caller: Caller,
    Path(name): Path<String>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Result<Response<Body>, ApiError> {
    let params = Params::parse(q.as_deref());
    params.check_dc(&api.config)?;
    caller.require(Kind::Event, &name, Need::Write)?;
    let filter = |key: &str| params.get(key).unwrap_or_default().to_string();
    let request = FireRequest {
        name,
        payload: (!body.is_empty()).then(|| body.to_vec()),
        node_filter: filter("node"),
        service_filter: filter("service"),
        tag_filter: filter("tag"),
    };
    let event = api.events.fire(request).map_err(|e| match e {
        // Consul answers these client mistakes with a 500; a 400 (413 for the size) says
        // whose mistake it is.
        EventError::Invalid(msg) => ApiError::bad_request(msg),
        EventError::TooLarge(msg) => ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, msg),
        EventError::Internal(msg) => ApiError::internal(msg),
    })?;
    Ok(json_response(
        &EventJson::from(&event),
        params.pretty(&api.config),
    ))
}

/// `GET /v1/event/list` (`?name=`): the events this agent kept, oldest first.
///
/// As in Consul, the index is derived from the last event's ID (1 when there is none) and
/// is not monotonic: a query with `?index` blocks while the index still equals it.
pub async fn list(
    State(api): State<SharedState>,
    caller: Caller,
    RawQuery(q): RawQuery,
) -> Result<Response<Body>, ApiError> {
    let params = Params::parse(q.as_deref());
    params.check_dc(&api.config)?;
    let mut blocking = params.blocking(&api.config)?;
    if params.get("wait").is_none() {
        // Consul's event list waits up to its maximum query time by default.
        blocking.wait = api.config.max_query_time;
    }
    let name = params.get("name").unwrap_or_default();
    let mut kept = api.events.subscribe();
    let deadline = tokio::time::Instant::now() + blocking.wait;
    loop {
        kept.borrow_and_update();
        let events: Vec<UserEvent> = api
            .events
            .list()
            .into_iter()
            .filter(|e| name.is_empty() || e.name == name)
            .collect();
        let before = events.len();
        let events: Vec<UserEvent> = events
            .into_iter()
            .filter(|e| caller.allows(Kind::Event, &e.name, Need::Read))
            .collect();
        let filtered = events.len() != before;
        let index = events.last().map_or(1, |e| uuid_to_index(&e.id).max(1));
        let unchanged = blocking.min_index > 0 && index == blocking.min_index;
        if unchanged && wait_for_event(&mut kept, deadline).await {
            continue;
        }
        let views: Vec<EventJson<'_>> = events.iter().map(EventJson::from).collect();
        let mut resp = json_response(&views, params.pretty(&api.config));
        resp.headers_mut()
            .insert(X_CONSUL_INDEX.clone(), HeaderValue::from(index));
        mark_filtered(&mut resp, filtered);
        return Ok(resp);
    }
}

/// Waits for a new event until `deadline`; false when the deadline passed first.
async fn wait_for_event(
    kept: &mut tokio::sync::watch::Receiver<u64>,
    deadline: tokio::time::Instant,
) -> bool {
    let left = deadline.saturating_duration_since(tokio::time::Instant::now());
    if left == Duration::ZERO {
        return false;
    }
    matches!(tokio::time::timeout(left, kept.changed()).await, Ok(Ok(())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::response::encode_json;

    #[test]
    fn fire_answer_matches_consuls_bytes() {
        // golden/session-txn-event.md: PUT /v1/event/fire/deploy with payload v1.2.3 on a
        // dev agent answers 204 bytes of indented JSON.
        let event = UserEvent {
            id: "faf0ef20-4df0-403f-0e23-a07e6087dd29".into(),
            name: "deploy".into(),
            payload: Some(b"v1.2.3".to_vec()),
            node_filter: String::new(),
            service_filter: String::new(),
            tag_filter: String::new(),
            version: 1,
            ltime: 0,
        };
        let body = encode_json(&EventJson::from(&event), true);
        assert_eq!(body.len(), 204);
        assert!(String::from_utf8_lossy(&body).contains("\"Payload\": \"djEuMi4z\""));
        let none = UserEvent {
            payload: None,
            name: "restart".into(),
            node_filter: "golden.*".into(),
            service_filter: "web".into(),
            tag_filter: "v1".into(),
            id: "3c515532-6f08-bd86-51b3-10b82201c8c5".into(),
            ..event
        };
        assert_eq!(encode_json(&EventJson::from(&none), true).len(), 212);
    }
}
