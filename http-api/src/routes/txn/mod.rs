//! `PUT /v1/txn`: atomic transactions of KV, node, service and check operations.
//!
//! A transaction with any write goes through raft as one command and is applied all or
//! nothing (200 with results, or 409 with per-operation errors; catalog writes failing
//! Consul's pre-checks are refused with 409 before raft). A transaction of reads only is
//! answered from the local state after the consistency barrier, and, like Consul's,
//! carries the query metadata in its body. Node, service and check operations are
//! decoded in [`catalog`].

mod catalog;

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, Response, StatusCode};
use base64::Engine;
use rconsul_state::txn::{self, KvOp, TxnError, TxnOp, TxnOutcome, TxnRequest, TxnResult, MAX_TXN_OPS};
use rconsul_state::{Command, CommandResult, ReadMeta};
use serde::Serialize;
use serde_json::Value;

use crate::acl::Caller;
use crate::decode::{json_type, Fields};
use crate::query::Params;
use crate::response::{
    encode_json, json_bytes_response, ApiError, X_CONSUL_KNOWN_LEADER, X_CONSUL_LAST_CONTACT,
};
use crate::routes::kv::{now_ms, DirEntryJson};
use crate::views::{HealthCheckJson, NodeJson, NodeServiceJson};
use crate::SharedState;
use rconsul_state::acl::{Kind, Need};

/// Largest accepted request body (Consul's `txn_max_req_len` default).
const MAX_TXN_LEN: u64 = 512 * 1024;

/// `Failed to parse body: ...` (400).
fn parse_error(detail: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request(format!("Failed to parse body: {detail}"))
}

/// Re-words a field decoding error from [`Fields`] the way the txn endpoint says it.
fn reword(e: ApiError) -> ApiError {
    match e.message.strip_prefix("Request decode failed: ") {
        Some(rest) => parse_error(rest),
        None => e,
    }
}

/// An unsigned field (`Flags`, `Index`, `ModifyIndex`); u64 values beyond i64 are
/// common (lock flags). `at` is Go's path of the enclosing struct (`KVTxnOp.KV`).
fn uint(f: &mut Fields, name: &str, at: &str) -> Result<u64, ApiError> {
    match f.take(&[name]) {
        None => Ok(0),
        Some(Value::Number(n)) => n.as_u64().ok_or_else(|| {
            parse_error(format!(
                "json: cannot unmarshal number {n} into Go struct field {at}.{name} of type uint64"
            ))
        }),
        Some(v) => Err(parse_error(format!(
            "json: cannot unmarshal {} into Go struct field {at}.{name} of type uint64",
            json_type(&v)
        ))),
    }
}

/// Decodes base64 like Go's `encoding/base64`, with its error wording.
fn base64_value(s: &str) -> Result<Vec<u8>, ApiError> {
    let cleaned: String = s.chars().filter(|c| *c != '\r' && *c != '\n').collect();
    base64::engine::general_purpose::STANDARD
        .decode(cleaned.as_bytes())
        .map_err(|e| {
            use base64::DecodeError::*;
            let at = match e {
                InvalidByte(at, _) | InvalidLastSymbol(at, _) => at,
                InvalidLength(len) => len,
                InvalidPadding => cleaned.len(),
            };
            parse_error(format!("illegal base64 data at input byte {at}"))
        })
}

fn kv_op(mut f: Fields, max_value: u64) -> Result<TxnOp, ApiError> {
    let verb = f.string("Verb").map_err(reword)?.unwrap_or_default();
    let key = f.string("Key").map_err(reword)?.unwrap_or_default();
    let value = match f.take(&["Value"]) {
        None => Vec::new(),
        Some(Value::String(s)) => base64_value(&s)?,
        Some(v) => {
            return Err(parse_error(format!(
                "json: cannot unmarshal {} into Go struct field KVTxnOp.KV.Value of type []uint8",
                json_type(&v)
            )))
        }
    };
    if value.len() as u64 > max_value {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "Value for key \"{key}\" is too large ({} > {max_value} bytes)",
                value.len()
            ),
        ));
    }
    let flags = uint(&mut f, "Flags", "KVTxnOp.KV")?;
    let index = uint(&mut f, "Index", "KVTxnOp.KV")?;
    let session = f.string("Session").map_err(reword)?.unwrap_or_default();
    Ok(TxnOp::Kv(KvOp {
        verb,
        key,
        value,
        flags,
        index,
        session,
    }))
}

/// Decodes one element of the request array; `None` for an element naming no known
/// operation type (Consul drops those).
fn op(value: Value, max_value: u64, datacenter: &str) -> Result<Option<TxnOp>, ApiError> {
    if !value.is_object() {
        return Err(parse_error(format!(
            "json: cannot unmarshal {} into Go value of type api.TxnOp",
            json_type(&value)
        )));
    }
    let mut f = Fields::new(value, "TxnOp").map_err(reword)?;
    if let Some(kv) = f.object("KV", "KVTxnOp").map_err(reword)? {
        return kv_op(kv, max_value).map(Some);
    }
    if let Some(n) = f.object("Node", "NodeTxnOp").map_err(reword)? {
        return catalog::node_op(n, datacenter).map(Some);
    }
    if let Some(sv) = f.object("Service", "ServiceTxnOp").map_err(reword)? {
        return catalog::service_op(sv).map(Some);
    }
    if let Some(c) = f.object("Check", "CheckTxnOp").map_err(reword)? {
        return catalog::check_op(c).map(Some);
    }
    Ok(None)
}

/// Decodes the request body into operations, with Consul's errors and limits.
/// Node operations without a `Datacenter` get `datacenter` (the agent's), as in Consul.
pub(crate) fn decode_ops(body: &[u8], max_value: u64, datacenter: &str) -> Result<Vec<TxnOp>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(parse_error("EOF"));
    }
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        if e.is_eof() {
            parse_error("unexpected EOF")
        } else {
            parse_error(e)
        }
    })?;
    let items = match value {
        Value::Array(items) => items,
        Value::Null => Vec::new(),
        other => {
            return Err(parse_error(format!(
                "json: cannot unmarshal {} into Go value of type api.TxnOps",
                json_type(&other)
            )))
        }
    };
    let mut ops = Vec::with_capacity(items.len());
    for item in items {
        if let Some(op) = op(item, max_value, datacenter)? {
            ops.push(op);
        }
    }
    if ops.len() > MAX_TXN_OPS {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "Transaction contains too many operations ({} > {MAX_TXN_OPS})",
                ops.len()
            ),
        ));
    }
    Ok(ops)
}

/// One result as Consul encodes it: `{"KV": DirEntry}`, `{"Node": ...}`, ...
#[derive(Serialize)]
enum ResultJson<'a> {
    #[serde(rename = "KV")]
    Kv(DirEntryJson<'a>),
    Node(NodeJson<'a>),
    Service(NodeServiceJson<'a>),
    Check(HealthCheckJson<'a>),
}

impl<'a> From<&'a TxnResult> for ResultJson<'a> {
    fn from(r: &'a TxnResult) -> Self {
        match r {
            TxnResult::Kv(e) => ResultJson::Kv(DirEntryJson::from(e)),
            TxnResult::Node(n) => ResultJson::Node(NodeJson::from(n)),
            TxnResult::Service(s) => ResultJson::Service(NodeServiceJson::from(s)),
            TxnResult::Check(c) => ResultJson::Check(HealthCheckJson::from(c)),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ErrorJson<'a> {
    op_index: usize,
    what: &'a str,
}

/// A write transaction's answer.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct TxnJson<'a> {
    results: Option<Vec<ResultJson<'a>>>,
    errors: Option<Vec<ErrorJson<'a>>>,
}

/// A read-only transaction's answer: Consul embeds its `QueryMeta` in the body.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct TxnReadJson<'a> {
    results: Option<Vec<ResultJson<'a>>>,
    errors: Option<Vec<ErrorJson<'a>>>,
    index: u64,
    /// Nanoseconds, as Go encodes a `time.Duration`.
    last_contact: u64,
    known_leader: bool,
    consistency_level: &'static str,
    not_modified: bool,
    backend: u8,
}

fn parts(out: &TxnOutcome) -> (Option<Vec<ResultJson<'_>>>, Option<Vec<ErrorJson<'_>>>) {
    if out.errors.is_empty() {
        (Some(out.results.iter().map(ResultJson::from).collect()), None)
    } else {
        let errors = out
            .errors
            .iter()
            .map(|e: &TxnError| ErrorJson {
                op_index: e.op_index,
                what: &e.what,
            })
            .collect();
        (None, Some(errors))
    }
}

fn status(out: &TxnOutcome) -> StatusCode {
    if out.errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::CONFLICT
    }
}

fn read_response(out: &TxnOutcome, meta: ReadMeta, pretty: bool) -> Response<Body> {
    let (results, errors) = parts(out);
    let body = TxnReadJson {
        results,
        errors,
        index: 0,
        last_contact: meta.last_contact_ms.saturating_mul(1_000_000),
        known_leader: meta.known_leader,
        consistency_level: "",
        not_modified: false,
        backend: 0,
    };
    let mut resp = json_bytes_response(status(out), encode_json(&body, pretty));
    let h = resp.headers_mut();
    h.insert(
        X_CONSUL_KNOWN_LEADER.clone(),
        HeaderValue::from_static(if meta.known_leader { "true" } else { "false" }),
    );
    h.insert(
        X_CONSUL_LAST_CONTACT.clone(),
        crate::response::number_header(meta.last_contact_ms),
    );
    resp
}

fn too_large(size: u64) -> ApiError {
    let mut err = ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!(
            "Request body({size} bytes) too large, max size: {MAX_TXN_LEN} bytes. See https://www.consul.io/docs/agent/options.html#txn_max_req_len."
        ),
    );
    err.close = true;
    err
}

async fn read_body(headers: &HeaderMap, body: Body) -> Result<Vec<u8>, ApiError> {
    if let Some(len) = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
    {
        if len > MAX_TXN_LEN {
            return Err(too_large(len));
        }
    }
    match axum::body::to_bytes(body, MAX_TXN_LEN as usize + 1).await {
        Ok(bytes) if bytes.len() as u64 > MAX_TXN_LEN => Err(too_large(bytes.len() as u64)),
        Ok(bytes) => Ok(bytes.to_vec()),
        Err(_) => Err(too_large(MAX_TXN_LEN + 1)),
    }
}

/// The permission one operation needs, as Consul's `vetTxnOp` asks for it.
fn authorize_op(caller: &Caller, op: &TxnOp) -> Result<(), ApiError> {
    if !caller.is_restricted() {
        return Ok(());
    }
    let need = if op.is_write() { Need::Write } else { Need::Read };
    match op {
        TxnOp::Kv(kv) if kv.verb == "delete-tree" => caller.require_write_prefix(Kind::Key, &kv.key),
        TxnOp::Kv(kv) => caller.require(Kind::Key, &kv.key, need),
        TxnOp::Node(n) => caller.require(Kind::Node, &n.node.node, need),
        TxnOp::LegacyNode { node, .. } => caller.require(Kind::Node, node, need),
        TxnOp::Service(s) => caller.require(Kind::Service, &s.service.service, need),
        TxnOp::LegacyService { node, .. } | TxnOp::LegacyCheck { node, .. } => {
            caller.require(Kind::Node, node, need)
        }
        TxnOp::Check(c) if !c.check.service_name.is_empty() => {
            caller.require(Kind::Service, &c.check.service_name, need)
        }
        TxnOp::Check(c) => caller.require(Kind::Node, &c.check.node, need),
    }
}

/// `PUT /v1/txn`.
pub async fn txn(
    State(api): State<SharedState>,
    caller: Caller,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<Response<Body>, ApiError> {
    let params = Params::parse(q.as_deref());
    params.check_dc(&api.config)?;
    let pretty = params.pretty(&api.config);
    let body = read_body(&headers, body).await?;
    let mut ops = decode_ops(&body, api.config.kv_max_value_size, &api.config.datacenter)?;
    // Every operation is checked on its own; one refused refuses the transaction.
    let denied: Vec<TxnError> = ops
        .iter()
        .enumerate()
        .filter_map(|(i, op)| {
            authorize_op(&caller, op).err().map(|e| TxnError {
                op_index: i,
                what: e.message,
            })
        })
        .collect();
    if !denied.is_empty() {
        let out = TxnOutcome {
            results: Vec::new(),
            errors: denied,
        };
        let (results, errors) = parts(&out);
        let body = encode_json(&TxnJson { results, errors }, pretty);
        return Ok(json_bytes_response(StatusCode::CONFLICT, body));
    }
    if !ops.iter().any(TxnOp::is_write) {
        let mode = params.consistency()?;
        let meta = api.consensus.read_barrier(mode).await?;
        let out = txn::read(&api.store.read(), &ops);
        return Ok(read_response(&out, meta, pretty));
    }
    // Consul's server-side pre-checks: any failure refuses the whole transaction
    // before it reaches raft.
    let errors = txn::pre_check(&mut ops);
    if !errors.is_empty() {
        let out = TxnOutcome {
            results: Vec::new(),
            errors,
        };
        let (results, errors) = parts(&out);
        let body = encode_json(&TxnJson { results, errors }, pretty);
        return Ok(json_bytes_response(StatusCode::CONFLICT, body));
    }
    let request = TxnRequest {
        ops,
        now_ms: now_ms(),
    };
    match api.consensus.write(Command::Txn(Box::new(request))).await? {
        CommandResult::Txn(out) => {
            let (results, errors) = parts(&out);
            let body = encode_json(&TxnJson { results, errors }, pretty);
            Ok(json_bytes_response(status(&out), body))
        }
        CommandResult::Failed(msg) => Err(ApiError::internal(msg)),
        other => Err(ApiError::internal(format!(
            "unexpected transaction result: {other:?}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoding_errors_match_consul() {
        let err = |body: &str| {
            decode_ops(body.as_bytes(), 512 * 1024, "dc1")
                .map(|_| ())
                .map_err(|e| e.message)
        };
        assert_eq!(
            err(r#"[{"KV":{"Verb":"set","Key":"txn/a","Value":"not base64!"}}]"#),
            Err("Failed to parse body: illegal base64 data at input byte 3".into())
        );
        assert_eq!(
            err(r#"{"KV":{}}"#),
            Err(
                "Failed to parse body: json: cannot unmarshal object into Go value of type api.TxnOps".into()
            )
        );
        let many = format!("[{}]", vec![r#"{"KV":{"Verb":"get","Key":"a"}}"#; 65].join(","));
        assert_eq!(
            err(&many),
            Err("Transaction contains too many operations (65 > 64)".into())
        );
        assert_eq!(err("[]"), Ok(()));
    }

    #[test]
    fn decodes_kv_and_catalog_ops_case_insensitively() {
        let ops = decode_ops(
            br#"[{"kv":{"verb":"lock","key":"k","value":"YQ==","flags":16210313421097356768,"session":"s"}},
                 {"Node":{"Verb":"get","Node":{"Node":"n1"}}},
                 {"Service":{"Verb":"get","Node":"n1","Service":{"ID":"web"}}},
                 {"Check":{"Verb":"get","Check":{"Node":"n1","CheckID":"serfHealth"}}}]"#,
            1024,
            "dc1",
        )
        .expect("decode");
        assert_eq!(ops.len(), 4);
        match &ops[0] {
            TxnOp::Kv(op) => {
                assert_eq!((op.verb.as_str(), op.value.as_slice()), ("lock", &b"a"[..]));
                assert_eq!(op.flags, 0xe0f6_9a2b_aa41_4de0);
            }
            other => panic!("{other:?}"),
        }
        assert!(ops[0].is_write() && !ops[1].is_write());
        assert!(matches!(&ops[1], TxnOp::Node(op) if op.node.node == "n1"));
        assert!(matches!(&ops[2], TxnOp::Service(op) if op.service.id == "web" && op.node == "n1"));
        assert!(matches!(&ops[3], TxnOp::Check(op) if op.check.check_id == "serfHealth"));
    }

    #[test]
    fn response_shapes() {
        let out = TxnOutcome {
            results: Vec::new(),
            errors: vec![TxnError {
                op_index: 0,
                what: "unknown KV verb \"bogus\"".into(),
            }],
        };
        let resp = read_response(
            &out,
            ReadMeta {
                known_leader: true,
                last_contact_ms: 0,
            },
            true,
        );
        assert_eq!(resp.status(), StatusCode::CONFLICT);
        let (results, errors) = parts(&out);
        let body = TxnReadJson {
            results,
            errors,
            index: 0,
            last_contact: 0,
            known_leader: true,
            consistency_level: "",
            not_modified: false,
            backend: 0,
        };
        assert_eq!(
            encode_json(&body, true).len(),
            276,
            "golden Content-Length of the unknown-verb answer"
        );
        let empty = TxnOutcome::default();
        let (results, errors) = parts(&empty);
        let body = TxnReadJson {
            results,
            errors,
            index: 0,
            last_contact: 0,
            known_leader: true,
            consistency_level: "",
            not_modified: false,
            backend: 0,
        };
        assert_eq!(encode_json(&body, true).len(), 177, "golden Content-Length of []");
    }
}
