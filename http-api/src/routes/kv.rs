//! `/v1/kv/<key>`: Consul's KV store (GET, PUT, DELETE).

use std::borrow::Cow;

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, Response, StatusCode, Uri};
use base64::Engine;
use rconsul_state::acl::{Kind, Need};
use rconsul_state::store::State as Replicated;
use rconsul_state::{Command, KvEntry, Table};
use serde::Serialize;

use crate::acl::caller::mark_filtered;
use crate::acl::Caller;
use crate::blocking::{self, QueryResult};
use crate::query::Params;
use crate::response::{
    add_query_meta, empty_response, encode_json, json_bytes_response, json_response, ApiError,
};
use crate::SharedState;

const PREFIX: &str = "/v1/kv/";

/// Consul's `DirEntry` JSON, fields in Consul's order.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DirEntryJson<'a> {
    lock_index: u64,
    key: &'a str,
    flags: u64,
    value: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    session: Option<&'a str>,
    create_index: u64,
    modify_index: u64,
}

impl<'a> From<&'a KvEntry> for DirEntryJson<'a> {
    fn from(e: &'a KvEntry) -> Self {
        DirEntryJson {
            lock_index: e.lock_index,
            key: &e.key,
            flags: e.flags,
            value: if e.value.is_empty() {
                None
            } else {
                Some(base64::engine::general_purpose::STANDARD.encode(&e.value))
            },
            session: e.session.as_deref(),
            create_index: e.create_index,
            modify_index: e.modify_index,
        }
    }
}

/// The key named by the request path (percent-decoded, as Go's `URL.Path` is).
/// Borrowed from the path unless it had escapes (a read then copies nothing).
fn key_from_uri(uri: &Uri) -> Result<Cow<'_, str>, ApiError> {
    let raw = uri.path().strip_prefix(PREFIX).unwrap_or("");
    percent_encoding::percent_decode_str(raw)
        .decode_utf8()
        .map_err(|_| ApiError::bad_request("Invalid key: not valid UTF-8 after percent-decoding"))
}

fn missing_key() -> ApiError {
    ApiError::bad_request("Missing key name")
}

/// What a GET answers. Small answers are encoded while the state's read lock is held
/// (entries serialised in place, nothing copied out); a `?recurse` list is copied out
/// (keys, and values by reference count) and encoded after the lock is released.
enum Answer {
    NotFound,
    /// The caller's token lost the permission (or was deleted) while the query waited.
    Denied,
    Json(Vec<u8>),
    Raw(Vec<u8>),
    Entries(Vec<KvEntry>),
}

/// Listed keys and values above this many bytes are encoded on a blocking thread.
const ENCODE_ELSEWHERE_BYTES: usize = 1 << 20;

/// Encodes a `?recurse` answer. Outside the state lock, because raft's apply waits on
/// that lock: encoding 100 MB of values takes a few hundred milliseconds, close to the
/// half second without heartbeats after which followers elect a new leader. Large
/// lists go to a blocking thread, so the HTTP runtime's worker (often the only one)
/// keeps answering other requests meanwhile.
async fn encode_entries(entries: Vec<KvEntry>, pretty: bool) -> Result<Vec<u8>, ApiError> {
    let bytes: usize = entries.iter().map(|e| e.key.len() + e.value.len()).sum();
    let encode = move || {
        let json: Vec<DirEntryJson<'_>> = entries.iter().map(DirEntryJson::from).collect();
        encode_json(&json, pretty)
    };
    if bytes < ENCODE_ELSEWHERE_BYTES {
        return Ok(encode());
    }
    tokio::task::spawn_blocking(encode)
        .await
        .map_err(|e| ApiError::internal(format!("encoding the answer failed: {e}")))
}

/// `GET /v1/kv/<key>` with `?recurse`, `?keys`, `?separator`, `?raw` and blocking.
pub async fn get(
    State(api): State<SharedState>,
    caller: Caller,
    uri: Uri,
    RawQuery(q): RawQuery,
) -> Result<Response<Body>, ApiError> {
    let params = Params::parse(q.as_deref());
    let key = key_from_uri(&uri)?;
    params.check_dc(&api.config)?;
    let mode = params.consistency()?;
    let opts = params.blocking(&api.config)?;
    let pretty = params.pretty(&api.config);
    let keys = params.has("keys");
    let recurse = params.has("recurse");
    let raw = params.has("raw") && !recurse;
    if key.is_empty() && !keys && !recurse {
        return Err(missing_key());
    }
    let separator = params
        .get("separator")
        .or_else(|| params.get("seperator"))
        .unwrap_or("");
    if keys || recurse {
        if api.acl.enable_key_list_policy {
            caller.require(Kind::Key, &key, Need::List)?;
        }
    } else {
        caller.require(Kind::Key, &key, Need::Read)?;
    }
    let meta = api.consensus.read_barrier(mode).await?;
    let mut filtered = false;

    let watch = |state: &Replicated| {
        if keys || recurse {
            state.kv.prefix_watch_index(&key)
        } else {
            state.kv.key_watch_index(&key)
        }
    };
    let mut woke = false;
    let result = blocking::run(&api.store, Table::Kvs, opts, watch, |state| {
        let refreshed;
        // Checked above for the first answer; re-checked on every wake: a token deleted
        // meanwhile reads nothing.
        let now = if std::mem::replace(&mut woke, true) {
            match caller.at(state) {
                Some(c) => {
                    refreshed = c;
                    &refreshed
                }
                None => {
                    return QueryResult {
                        index: state.kv.table_index(),
                        value: Answer::Denied,
                    }
                }
            }
        } else {
            &caller
        };
        if keys {
            let (index, mut list) = state.kv.keys(&key, separator);
            if now.is_restricted() {
                let before = list.len();
                list.retain(|k| now.allows(Kind::Key, k, Need::Read));
                filtered = list.len() != before;
            }
            let value = if list.is_empty() && !key.is_empty() {
                Answer::NotFound
            } else {
                Answer::Json(encode_json(&list, pretty))
            };
            QueryResult { index, value }
        } else if recurse {
            let (index, mut list) = state.kv.list(&key);
            if now.is_restricted() {
                let before = list.len();
                list.retain(|e| now.allows(Kind::Key, &e.key, Need::Read));
                filtered = list.len() != before;
            }
            let value = if list.is_empty() {
                Answer::NotFound
            } else {
                Answer::Entries(list.into_iter().cloned().collect())
            };
            QueryResult { index, value }
        } else {
            let (index, entry) = state.kv.get(&key);
            let value = match entry {
                _ if now.is_restricted() && !now.allows(Kind::Key, &key, Need::Read) => Answer::Denied,
                None => Answer::NotFound,
                Some(e) if raw => Answer::Raw(e.value.to_vec()),
                Some(e) if pretty => Answer::Json(encode_json(&[DirEntryJson::from(e)], true)),
                Some(e) => Answer::Json(super::kv_entry_json::encode_entry(e)),
            };
            QueryResult { index, value }
        }
    })
    .await;

    let mut resp = match result.value {
        Answer::Denied => return Err(caller.denied("key", Need::Read, Some(&key))),
        Answer::NotFound => empty_response(StatusCode::NOT_FOUND),
        Answer::Raw(value) => raw_response(value),
        Answer::Json(body) => json_bytes_response(StatusCode::OK, body),
        Answer::Entries(entries) => {
            json_bytes_response(StatusCode::OK, encode_entries(entries, pretty).await?)
        }
    };
    add_query_meta(&mut resp, result.index, meta);
    mark_filtered(&mut resp, filtered);
    Ok(resp)
}

/// `?raw`: the value bytes alone, served so a browser never interprets them.
fn raw_response(value: Vec<u8>) -> Response<Body> {
    let mut resp = empty_response(StatusCode::OK);
    *resp.body_mut() = Body::from(value);
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("sandbox"),
    );
    resp
}

fn too_large(size: u64, max: u64) -> ApiError {
    let mut err = ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!(
            "Request body({size} bytes) too large, max size: {max} bytes. See https://www.consul.io/docs/agent/options.html#kv_max_value_size."
        ),
    );
    err.close = true;
    err
}

/// Reads the request body, refusing more than `max` bytes with Consul's 413.
async fn read_value(headers: &HeaderMap, body: Body, max: u64) -> Result<Vec<u8>, ApiError> {
    if let Some(len) = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
    {
        if len > max {
            // Read (and drop) a moderately oversized body before answering, so the
            // client sees the 413 instead of a connection reset mid-upload.
            if len <= max.saturating_mul(8) {
                let _ = axum::body::to_bytes(body, usize::try_from(len).unwrap_or(usize::MAX)).await;
            }
            return Err(too_large(len, max));
        }
    }
    let limit = usize::try_from(max).unwrap_or(usize::MAX).saturating_add(1);
    match axum::body::to_bytes(body, limit).await {
        Ok(bytes) if bytes.len() as u64 > max => Err(too_large(bytes.len() as u64, max)),
        Ok(bytes) => Ok(bytes.to_vec()),
        Err(_) => Err(too_large(max + 1, max)),
    }
}

fn conflicting(q: &Option<String>) -> ApiError {
    ApiError::bad_request(format!("Conflicting flags: {}", q.as_deref().unwrap_or("")))
}

/// The proposer's wall clock in Unix milliseconds: lock commands carry it so that
/// lock-delays are decided the same way on every server.
pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Checks the session named by `?acquire`/`?release` before proposing.
///
/// Consul answers a malformed ID with 500 `raft apply failed: failed session lookup:
/// index error: ...`; that is the client's mistake, so rconsul answers 400 with the
/// same text. An empty session is refused the same way.
fn check_lock_session(session: &str) -> Result<(), ApiError> {
    if session.is_empty() {
        return Err(ApiError::bad_request("raft apply failed: missing session"));
    }
    rconsul_state::session::validate_uuid(session).map_err(|e| {
        ApiError::bad_request(format!(
            "raft apply failed: failed session lookup: index error: {e}"
        ))
    })
}

/// `PUT /v1/kv/<key>` with `?flags`, `?cas`, `?acquire`, `?release`; answers `true` or
/// `false`.
pub async fn put(
    State(api): State<SharedState>,
    caller: Caller,
    uri: Uri,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<Response<Body>, ApiError> {
    let params = Params::parse(q.as_deref());
    let key = key_from_uri(&uri)?.into_owned();
    params.check_dc(&api.config)?;
    if key.is_empty() {
        return Err(missing_key());
    }
    caller.require(Kind::Key, &key, Need::Write)?;
    let locking = params.has("acquire") || params.has("release");
    if locking && params.has("cas") || params.has("acquire") && params.has("release") {
        return Err(conflicting(&q));
    }
    let flags = params.get_u64("flags")?.unwrap_or(0);
    let cas = params.get_u64("cas")?;
    let acquire = params.get("acquire").map(str::to_string);
    let release = params.get("release").map(str::to_string);
    if let Some(session) = &acquire {
        check_lock_session(session)?;
    }
    if release.as_deref() == Some("") {
        check_lock_session("")?;
    }
    let value = read_value(&headers, body, api.config.kv_max_value_size).await?;
    if let Some(session) = acquire {
        let command = Command::KvLock {
            key,
            value,
            flags,
            session,
            now_ms: now_ms(),
        };
        return match api.consensus.write(command).await? {
            // An unknown (or just invalidated) session is a conflict with the state, not
            // a malformed request: Consul's 500 and wording are kept.
            rconsul_state::CommandResult::Failed(msg) => {
                Err(ApiError::internal(format!("raft apply failed: {msg}")))
            }
            result => Ok(json_response(&result.as_bool(), params.pretty(&api.config))),
        };
    }
    if let Some(session) = release {
        let command = Command::KvUnlock {
            key,
            value,
            flags,
            session,
            now_ms: now_ms(),
        };
        let result = api.consensus.write(command).await?;
        return Ok(json_response(&result.as_bool(), params.pretty(&api.config)));
    }
    let command = match cas {
        Some(index) => Command::KvCas {
            key,
            value,
            flags,
            index,
        },
        None => Command::KvSet { key, value, flags },
    };
    let result = api.consensus.write(command).await?;
    Ok(json_response(&result.as_bool(), params.pretty(&api.config)))
}

/// `DELETE /v1/kv/<key>` with `?recurse`, `?cas`; answers `true` or `false`.
pub async fn delete(
    State(api): State<SharedState>,
    caller: Caller,
    uri: Uri,
    RawQuery(q): RawQuery,
) -> Result<Response<Body>, ApiError> {
    let params = Params::parse(q.as_deref());
    let key = key_from_uri(&uri)?.into_owned();
    params.check_dc(&api.config)?;
    let recurse = params.has("recurse");
    if recurse && params.has("cas") {
        return Err(conflicting(&q));
    }
    if key.is_empty() && !recurse {
        return Err(missing_key());
    }
    if recurse {
        caller.require_write_prefix(Kind::Key, &key)?;
    } else {
        caller.require(Kind::Key, &key, Need::Write)?;
    }
    let command = if recurse {
        Command::KvDeleteTree { prefix: key }
    } else {
        match params.get_u64("cas")? {
            Some(index) => Command::KvDeleteCas { key, index },
            None => Command::KvDelete { key },
        }
    };
    let result = api.consensus.write(command).await?;
    Ok(json_response(&result.as_bool(), params.pretty(&api.config)))
}
