//! `/v1/session/*`: create, destroy, info, node, list and renew sessions.
//!
//! Sessions live in the replicated state; reads are blocking queries on the sessions
//! table. A renew resets the session's TTL clock in
//! [`rconsul_state::session::SessionTimers`], which the leader's expiry task reads.

use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::{Response, StatusCode};
use rconsul_state::session::{
    validate_uuid, Behavior, ServiceCheck, Session, DEFAULT_LOCK_DELAY, SERF_CHECK_ID, SESSION_TTL_MAX,
    SESSION_TTL_MIN,
};
use rconsul_state::{Command, CommandResult, Consistency, Table};
use serde::Serialize;
use serde_json::Value;

use crate::acl::caller::mark_filtered;
use crate::acl::Caller;
use crate::blocking::{self, QueryResult};
use crate::decode::{decode_error, parse_body, Fields};
use crate::query::Params;
use crate::response::{add_query_meta, json_response, ApiError};
use crate::routes::kv::now_ms;
use crate::{ApiState, SharedState};
use rconsul_compat::duration::format as go_duration_string;
use rconsul_state::acl::{Kind, Need};

/// Consul's `Session` JSON, fields in Consul's order.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct SessionJson<'a> {
    #[serde(rename = "ID")]
    id: &'a str,
    name: &'a str,
    node: &'a str,
    /// Nanoseconds, as Go encodes a `time.Duration`.
    lock_delay: u64,
    behavior: &'static str,
    #[serde(rename = "TTL")]
    ttl: &'a str,
    node_checks: Option<&'a [String]>,
    service_checks: Option<Vec<ServiceCheckJson<'a>>>,
    create_index: u64,
    modify_index: u64,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ServiceCheckJson<'a> {
    #[serde(rename = "ID")]
    id: &'a str,
    namespace: &'a str,
}

impl<'a> From<&'a Session> for SessionJson<'a> {
    fn from(s: &'a Session) -> Self {
        SessionJson {
            id: &s.id,
            name: &s.name,
            node: &s.node,
            lock_delay: s.lock_delay_ns,
            behavior: s.behavior.as_str(),
            ttl: &s.ttl,
            node_checks: s.node_checks.as_deref(),
            service_checks: s.service_checks.as_ref().map(|list| {
                list.iter()
                    .map(|c| ServiceCheckJson {
                        id: &c.id,
                        namespace: &c.namespace,
                    })
                    .collect()
            }),
            create_index: s.create_index,
            modify_index: s.modify_index,
        }
    }
}

fn sessions_json(list: &[Session]) -> Vec<SessionJson<'_>> {
    list.iter().map(SessionJson::from).collect()
}

/// The agent's node name (sessions default to it).
fn agent_node_name(api: &ApiState) -> String {
    api.agent.self_json()["Config"]["NodeName"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Consul's `FixupLockDelay`: a duration string or a number of nanoseconds, where values
/// below 1000 are taken as seconds (clients send `15` meaning 15 s).
fn lock_delay(value: Value) -> Result<u64, ApiError> {
    let ns = match value {
        Value::String(s) => rconsul_compat::duration::parse_std(&s)
            .ok()
            .ok_or_else(|| decode_error(format!("time: invalid duration \"{s}\"")))?
            .as_nanos() as u64,
        Value::Number(n) => n.as_f64().map_or(0, |f| if f <= 0.0 { 0 } else { f as u64 }),
        other => {
            return Err(decode_error(format!(
                "json: cannot unmarshal {other} into Go struct field Session.LockDelay of type time.Duration"
            )))
        }
    };
    Ok(if ns < 1000 { ns * 1_000_000_000 } else { ns })
}

fn service_checks(value: Value) -> Result<Vec<ServiceCheck>, ApiError> {
    let Value::Array(items) = value else {
        return Err(decode_error(
            "json: cannot unmarshal non-array into Go struct field Session.ServiceChecks of type []structs.ServiceCheck",
        ));
    };
    items
        .into_iter()
        .map(|item| {
            let mut f = Fields::new(item, "ServiceCheck")?;
            Ok(ServiceCheck {
                id: f.string("ID")?.unwrap_or_default(),
                namespace: f.string("Namespace")?.unwrap_or_default(),
            })
        })
        .collect()
}

/// Decodes a `/v1/session/create` body onto Consul's defaults and validates it the way
/// `Session.Apply` does. Unknown fields are ignored, as Consul's decoder does here.
pub(crate) fn create_request(body: &[u8], agent_node: &str) -> Result<Session, ApiError> {
    let mut session = Session {
        node: agent_node.to_string(),
        lock_delay_ns: DEFAULT_LOCK_DELAY.as_nanos() as u64,
        node_checks: Some(vec![SERF_CHECK_ID.to_string()]),
        ..Default::default()
    };
    let mut behavior = String::new();
    if !body.iter().all(u8::is_ascii_whitespace) {
        let mut f = Fields::new(parse_body(body)?, "Session")?;
        if let Some(name) = f.string("Name")? {
            session.name = name;
        }
        if let Some(node) = f.string("Node")? {
            session.node = node;
        }
        if let Some(v) = f.take(&["LockDelay"]) {
            session.lock_delay_ns = lock_delay(v)?;
        }
        // `Checks` (deprecated) and `NodeChecks` replace the default `serfHealth`; an
        // explicit empty list means no node checks at all.
        let checks = f.string_list("Checks")?;
        let node_checks = f.string_list("NodeChecks")?;
        if checks.is_some() || node_checks.is_some() {
            let explicit_node_checks = node_checks.is_some();
            let mut all: Vec<String> = Vec::new();
            for c in checks
                .into_iter()
                .flatten()
                .chain(node_checks.into_iter().flatten())
            {
                if !all.contains(&c) {
                    all.push(c);
                }
            }
            session.node_checks = (!all.is_empty() || explicit_node_checks).then_some(all);
        }
        if let Some(v) = f.take(&["ServiceChecks"]) {
            session.service_checks = Some(service_checks(v)?);
        }
        behavior = f.string("Behavior")?.unwrap_or_default();
        session.ttl = f.string("TTL")?.unwrap_or_default();
    }
    // Consul answers the validation errors below with 500; they are the client's
    // mistakes, so rconsul answers 400 with Consul's wording.
    if session.node.is_empty() {
        return Err(ApiError::bad_request("Must provide Node"));
    }
    session.behavior = Behavior::parse(&behavior)
        .ok_or_else(|| ApiError::bad_request(format!("Invalid Behavior setting '{behavior}'")))?;
    if !session.ttl.is_empty() {
        let ttl = rconsul_compat::duration::parse_std(&session.ttl)
            .ok()
            .ok_or_else(|| {
                ApiError::bad_request(format!(
                    "Session TTL '{}' invalid: time: invalid duration \"{}\"",
                    session.ttl, session.ttl
                ))
            })?;
        if !ttl.is_zero() && (ttl < SESSION_TTL_MIN || ttl > SESSION_TTL_MAX) {
            return Err(ApiError::bad_request(format!(
                "Invalid Session TTL '{}', must be between [{}={}]",
                ttl.as_nanos(),
                go_duration_string(SESSION_TTL_MIN),
                go_duration_string(SESSION_TTL_MAX)
            )));
        }
        session.ttl_ns = ttl.as_nanos() as u64;
    }
    Ok(session)
}

#[derive(Serialize)]
struct CreateResponse {
    #[serde(rename = "ID")]
    id: String,
}

/// `PUT /v1/session/create`.
pub async fn create(
    State(api): State<SharedState>,
    caller: Caller,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Result<Response<Body>, ApiError> {
    let params = Params::parse(q.as_deref());
    params.check_dc(&api.config)?;
    let mut session = create_request(&body, &agent_node_name(&api))?;
    caller.require(Kind::Session, &session.node, Need::Write)?;
    session.id = loop {
        let id = uuid::Uuid::new_v4().to_string();
        if api.store.read().sessions.get(&id).is_none() {
            break id;
        }
    };
    let id = session.id.clone();
    match api
        .consensus
        .write(Command::SessionCreate(Box::new(session)))
        .await?
    {
        // Missing node or check, critical check: Consul says 500 `apply failed: ...`;
        // the request cannot succeed as made, so 400 with the same text.
        CommandResult::Failed(msg) => Err(ApiError::bad_request(format!("apply failed: {msg}"))),
        _ => Ok(json_response(&CreateResponse { id }, params.pretty(&api.config))),
    }
}

/// `/v1/session/{destroy,info,renew}/` without an ID.
pub async fn missing_session() -> ApiError {
    ApiError::bad_request("Missing session")
}

/// `/v1/session/node/` without a node.
pub async fn missing_node() -> ApiError {
    ApiError::bad_request("Missing node name")
}

/// A malformed session ID. Consul answers 500 (`failed session lookup: index error:
/// ...`); it is the client's mistake, so 400 with the same text.
fn bad_id(prefix: &str, id: &str) -> Result<(), ApiError> {
    validate_uuid(id)
        .map_err(|e| ApiError::bad_request(format!("{prefix}failed session lookup: index error: {e}")))
}

/// `PUT /v1/session/destroy/<id>`: `true`, also for an unknown session.
pub async fn destroy(
    State(api): State<SharedState>,
    caller: Caller,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response<Body>, ApiError> {
    let params = Params::parse(q.as_deref());
    params.check_dc(&api.config)?;
    bad_id("apply failed: ", &id)?;
    require_session_write(&api, &caller, &id)?;
    api.consensus
        .write(Command::SessionDestroy { id, now_ms: now_ms() })
        .await?;
    Ok(json_response(&true, params.pretty(&api.config)))
}

/// Which sessions a read returns.
enum Which {
    One(String),
    Node(String),
    All,
}

/// `session:write` on the node of session `id` (nothing to check if it is gone).
fn require_session_write(api: &ApiState, caller: &Caller, id: &str) -> Result<(), ApiError> {
    let node = api.store.read().sessions.get(id).map(|s| s.node.clone());
    match node {
        Some(node) => caller.require(Kind::Session, &node, Need::Write),
        None => Ok(()),
    }
}

async fn read(
    api: &ApiState,
    caller: Caller,
    q: Option<&str>,
    which: Which,
) -> Result<Response<Body>, ApiError> {
    let params = Params::parse(q);
    params.check_dc(&api.config)?;
    let mode = params.consistency()?;
    let opts = params.blocking(&api.config)?;
    if let Which::One(id) = &which {
        bad_id("", id)?;
    }
    let meta = api.consensus.read_barrier(mode).await?;
    let mut filtered = false;
    let result = blocking::run(
        &api.store,
        Table::Sessions,
        opts,
        |state| state.sessions.index(),
        |state| {
            let mut list: Vec<Session> = match &which {
                Which::One(id) => state.sessions.get(id).cloned().into_iter().collect(),
                Which::Node(node) => state.sessions.node_sessions(node).cloned().collect(),
                Which::All => state.sessions.list().cloned().collect(),
            };
            let before = list.len();
            // Resolved again on every wake: a token deleted meanwhile sees nothing.
            let now = caller.at(state).unwrap_or_else(Caller::nothing);
            list.retain(|s| now.allows(Kind::Session, &s.node, Need::Read));
            filtered = list.len() != before;
            QueryResult {
                index: state.sessions.index(),
                value: list,
            }
        },
    )
    .await;
    let mut resp = json_response(&sessions_json(&result.value), params.pretty(&api.config));
    add_query_meta(&mut resp, result.index, meta);
    mark_filtered(&mut resp, filtered);
    Ok(resp)
}

/// `GET /v1/session/info/<id>`: `[Session]`, or `[]` when unknown.
pub async fn info(
    State(api): State<SharedState>,
    caller: Caller,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response<Body>, ApiError> {
    read(&api, caller, q.as_deref(), Which::One(id)).await
}

/// `GET /v1/session/node/<node>`.
pub async fn node(
    State(api): State<SharedState>,
    caller: Caller,
    Path(node): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response<Body>, ApiError> {
    read(&api, caller, q.as_deref(), Which::Node(node)).await
}

/// `GET /v1/session/list`.
pub async fn list(
    State(api): State<SharedState>,
    caller: Caller,
    RawQuery(q): RawQuery,
) -> Result<Response<Body>, ApiError> {
    read(&api, caller, q.as_deref(), Which::All).await
}

/// `PUT /v1/session/renew/<id>`: resets the TTL clock; `[Session]`, or 404.
pub async fn renew(
    State(api): State<SharedState>,
    caller: Caller,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response<Body>, ApiError> {
    let params = Params::parse(q.as_deref());
    params.check_dc(&api.config)?;
    bad_id("", &id)?;
    require_session_write(&api, &caller, &id)?;
    let not_found = || ApiError::new(StatusCode::NOT_FOUND, format!("Session id '{id}' not found"));
    api.consensus.read_barrier(Consistency::Default).await?;
    let Some(session) = api.store.read().sessions.get(&id).cloned() else {
        return Err(not_found());
    };
    // Consul keeps renew times on the leader only. Here the renew is a raft entry that
    // changes no replicated data but resets the TTL clock wherever it is applied, so it
    // reaches the leader from any server or client agent (writes are forwarded).
    if session.ttl_ns > 0 {
        let result = api
            .consensus
            .write(Command::SessionRenew { id: id.clone() })
            .await?;
        if result != CommandResult::Applied {
            return Err(not_found());
        }
    }
    let list = [session];
    Ok(json_response(&sessions_json(&list), params.pretty(&api.config)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(body: &str) -> Result<Session, String> {
        create_request(body.as_bytes(), "agent-node").map_err(|e| e.message)
    }

    #[test]
    fn defaults_and_leniency() {
        let s = req("").expect("defaults");
        assert_eq!(s.node, "agent-node");
        assert_eq!(s.lock_delay_ns, 15_000_000_000);
        assert_eq!(s.node_checks, Some(vec!["serfHealth".to_string()]));
        assert_eq!((s.behavior, s.ttl.as_str()), (Behavior::Release, ""));
        let s = req(
            r#"{"name": "x", "ttl": "10.0s", "lockdelay": "0.001s", "behavior": "delete", "checks": []}"#,
        )
        .expect("lenient");
        assert_eq!(s.name, "x");
        assert_eq!((s.ttl.as_str(), s.ttl_ns), ("10.0s", 10_000_000_000));
        assert_eq!(s.lock_delay_ns, 1_000_000);
        assert_eq!(s.behavior, Behavior::Delete);
        assert_eq!(s.node_checks, None);
        assert_eq!(
            req(r#"{"LockDelay": 15}"#).map(|s| s.lock_delay_ns),
            Ok(15_000_000_000)
        );
        assert_eq!(
            req(r#"{"NodeChecks": []}"#).map(|s| s.node_checks),
            Ok(Some(vec![]))
        );
        let s = req(r#"{"Checks": ["a"], "NodeChecks": ["a", "b"], "ServiceChecks": [{"ID": "svc"}]}"#)
            .expect("checks");
        assert_eq!(s.node_checks, Some(vec!["a".to_string(), "b".to_string()]));
        assert_eq!(s.check_ids().collect::<Vec<_>>(), vec!["a", "b", "svc"]);
    }

    #[test]
    fn consul_error_texts() {
        assert_eq!(
            req(r#"{"TTL":"5s"}"#),
            Err("Invalid Session TTL '5000000000', must be between [10s=24h0m0s]".into())
        );
        assert_eq!(
            req(r#"{"TTL":"abc"}"#),
            Err("Session TTL 'abc' invalid: time: invalid duration \"abc\"".into())
        );
        assert_eq!(
            req(r#"{"Behavior":"bogus"}"#),
            Err("Invalid Behavior setting 'bogus'".into())
        );
        assert_eq!(
            req(r#"{"Name":"#),
            Err("Request decode failed: unexpected EOF".into())
        );
        assert!(req(r#"{"TTL":"0s"}"#).is_ok(), "a zero TTL means none");
    }

    #[test]
    fn session_json_shape() {
        let s = Session {
            id: "8676d7d0-a93a-4b2a-4277-3c073e6c45c5".into(),
            name: "s1".into(),
            node: "golden-dev".into(),
            lock_delay_ns: 15_000_000_000,
            ttl: "30s".into(),
            node_checks: Some(vec!["serfHealth".into()]),
            create_index: 85,
            modify_index: 85,
            ..Default::default()
        };
        let json = crate::response::encode_json(&sessions_json(&[s]), true);
        assert_eq!(
            String::from_utf8_lossy(&json),
            "[\n    {\n        \"ID\": \"8676d7d0-a93a-4b2a-4277-3c073e6c45c5\",\n        \"Name\": \"s1\",\n        \
             \"Node\": \"golden-dev\",\n        \"LockDelay\": 15000000000,\n        \"Behavior\": \"release\",\n        \
             \"TTL\": \"30s\",\n        \"NodeChecks\": [\n            \"serfHealth\"\n        ],\n        \
             \"ServiceChecks\": null,\n        \"CreateIndex\": 85,\n        \"ModifyIndex\": 85\n    }\n]\n"
        );
        assert_eq!(json.len(), 353, "golden Content-Length");
    }
}
