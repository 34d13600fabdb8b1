//! `/v1/acl/*`: tokens, policies, roles, auth methods, binding rules, bootstrap, login,
//! templated policies; and `/v1/agent/token/:type`.
//!
//! Every write is validated against the local ACL tables, proposed through raft as one
//! [`AclCommand`], and answered from the state once applied. Consul answers most
//! validation failures of these endpoints with 500; they are the client's mistakes, so
//! rconsul answers 400 with Consul's text.

pub mod agent_token;
pub mod auth;
pub mod links;
pub mod login;
pub mod policies;
pub mod replication;
pub mod roles;
pub mod templated;
pub mod tokens;
pub mod views;

use axum::body::Body;
use axum::http::{HeaderMap, Response, StatusCode};
use rconsul_state::acl::{AclCommand, Global, Need};
use rconsul_state::{Command, CommandResult};
use serde::Serialize;

use crate::acl::Caller;
use crate::decode::{parse_body, Fields};
use crate::response::{add_query_meta, encode_json, json_bytes_response, ApiError};
use crate::ApiState;

/// Largest ACL request body accepted (a policy's rules included).
pub const MAX_BODY: usize = 1 << 20;

/// Consul's 401 for `/v1/acl/*` when ACLs are disabled.
pub fn ensure_enabled(api: &ApiState) -> Result<(), ApiError> {
    if api.acl.enabled {
        Ok(())
    } else {
        Err(ApiError::new(StatusCode::UNAUTHORIZED, "ACL support disabled"))
    }
}

/// `acl:read` (lists and reads).
pub fn require_read(caller: &Caller) -> Result<(), ApiError> {
    caller.require_global(Global::Acl, Need::Read)
}

/// `acl:write` (every change).
pub fn require_write(caller: &Caller) -> Result<(), ApiError> {
    caller.require_global(Global::Acl, Need::Write)
}

/// The preamble every `/v1/acl/*` handler shares: ACLs enabled (else Consul's 401), the
/// caller holds `acl:read` or `acl:write`, and whether to pretty-print.
pub fn begin(api: &ApiState, caller: &Caller, need: Need, q: &Option<String>) -> Result<bool, ApiError> {
    ensure_enabled(api)?;
    caller.require_global(Global::Acl, need)?;
    Ok(crate::query::Params::parse(q.as_deref()).pretty(&api.config))
}

/// A write answered with the object as stored: proposes `cmd`, then encodes what
/// `show` finds in the local tables (`what` names the object if it is not there).
pub async fn write_then_show(
    api: &ApiState,
    cmd: AclCommand,
    what: &str,
    show: impl FnOnce(&rconsul_state::acl::AclTables) -> Option<Vec<u8>>,
) -> Result<Response<Body>, ApiError> {
    propose(api, cmd).await?;
    let state = api.store.read();
    let body = show(&state.acl)
        .ok_or_else(|| ApiError::internal(format!("{what} vanished after it was written")))?;
    Ok(json_bytes_response(StatusCode::OK, body))
}

/// A delete: 404 with Consul's `not_found` text when `exists` is false, else `cmd`
/// through raft and `true`.
pub async fn delete_object(
    api: &ApiState,
    exists: bool,
    not_found: &str,
    cmd: AclCommand,
    pretty: bool,
) -> Result<Response<Body>, ApiError> {
    if !exists {
        return Err(ApiError::new(StatusCode::NOT_FOUND, not_found));
    }
    propose(api, cmd).await?;
    Ok(ok_json(&true, pretty))
}

/// Reads a JSON object body of at most [`MAX_BODY`] bytes.
pub async fn read_fields(headers: &HeaderMap, body: Body, context: &str) -> Result<Fields, ApiError> {
    let too_large = |n: usize| {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("Request body({n} bytes) too large, max size: {MAX_BODY} bytes"),
        )
    };
    if let Some(len) = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
    {
        if len > MAX_BODY {
            // Read (and drop) a moderately oversized body first, so the client sees the
            // 413 rather than a connection reset mid-upload.
            if len <= MAX_BODY * 8 {
                let _ = axum::body::to_bytes(body, len).await;
            }
            return Err(too_large(len));
        }
    }
    let bytes = axum::body::to_bytes(body, MAX_BODY + 1)
        .await
        .map_err(|_| too_large(MAX_BODY + 1))?;
    if bytes.len() > MAX_BODY {
        return Err(too_large(bytes.len()));
    }
    Fields::new(parse_body(&bytes)?, context)
}

/// Proposes an ACL change; a refusal at apply is a 400 with its message.
///
/// Answers are read back from the local state, so this waits until the write is
/// applied here too (a follower or client applies it after the leader answers).
pub async fn propose(api: &ApiState, cmd: AclCommand) -> Result<CommandResult, ApiError> {
    let result = api.consensus.write(Command::Acl(Box::new(cmd))).await?;
    api.consensus
        .read_barrier(rconsul_state::Consistency::Default)
        .await?;
    match result {
        CommandResult::Failed(why) => Err(ApiError::bad_request(why)),
        other => Ok(other),
    }
}

/// A 200 JSON answer.
pub fn ok_json<T: Serialize + ?Sized>(value: &T, pretty: bool) -> Response<Body> {
    json_bytes_response(StatusCode::OK, encode_json(value, pretty))
}

/// A 200 JSON answer of a read, with the index headers.
pub fn read_json<T: Serialize + ?Sized>(
    api: &ApiState,
    value: &T,
    pretty: bool,
    index: u64,
) -> Response<Body> {
    let mut resp = ok_json(value, pretty);
    let meta = rconsul_state::ReadMeta {
        known_leader: api.consensus.leader_addr().is_some(),
        last_contact_ms: 0,
    };
    add_query_meta(&mut resp, index, meta);
    resp
}

/// A fresh UUID.
pub fn new_uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Whether `id` is a UUID in Consul's sense (36 characters, hex and hyphens).
pub fn is_uuid(id: &str) -> bool {
    rconsul_state::session::validate_uuid(id).is_ok()
}

/// Consul's 404 for an ACL object read that finds nothing: `Requested <what> does not
/// exist: ACL not found`.
pub fn not_found(what: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        format!("Requested {what} does not exist: ACL not found"),
    )
}
