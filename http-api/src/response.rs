//! Consul's response conventions: headers, JSON encoding and plain-text errors.

use std::sync::atomic::{AtomicBool, Ordering};

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Response, StatusCode};
use axum::response::IntoResponse;
use rconsul_state::{ConsensusError, ReadMeta};
use serde::Serialize;

/// `X-Consul-Index`.
pub static X_CONSUL_INDEX: HeaderName = HeaderName::from_static("x-consul-index");
/// `X-Consul-KnownLeader`.
pub static X_CONSUL_KNOWN_LEADER: HeaderName = HeaderName::from_static("x-consul-knownleader");
/// `X-Consul-LastContact`.
pub static X_CONSUL_LAST_CONTACT: HeaderName = HeaderName::from_static("x-consul-lastcontact");
/// `X-Consul-Query-Backend`.
pub static X_CONSUL_QUERY_BACKEND: HeaderName = HeaderName::from_static("x-consul-query-backend");
/// `X-Consul-Default-Acl-Policy`, on every `/v1` response.
pub static X_CONSUL_DEFAULT_ACL_POLICY: HeaderName = HeaderName::from_static("x-consul-default-acl-policy");

const TEXT_PLAIN_UTF8: HeaderValue = HeaderValue::from_static("text/plain; charset=utf-8");
const APPLICATION_JSON: HeaderValue = HeaderValue::from_static("application/json");

/// `acl.default_policy = "deny"` with ACLs enabled (one per process: set at start).
static DEFAULT_ACL_DENY: AtomicBool = AtomicBool::new(false);

/// Sets what `X-Consul-Default-Acl-Policy` says (`deny` only with ACLs enabled).
pub fn set_default_acl_policy(deny: bool) {
    DEFAULT_ACL_DENY.store(deny, Ordering::Relaxed);
}

/// Adds the headers Consul puts on every `/v1` response.
pub fn add_common_headers(resp: &mut Response<Body>) {
    let h = resp.headers_mut();
    h.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    let policy = if DEFAULT_ACL_DENY.load(Ordering::Relaxed) {
        "deny"
    } else {
        "allow"
    };
    h.insert(
        X_CONSUL_DEFAULT_ACL_POLICY.clone(),
        HeaderValue::from_static(policy),
    );
}

/// Adds the query metadata headers of a blocking-capable read.
pub fn add_query_meta(resp: &mut Response<Body>, index: u64, meta: ReadMeta) {
    let h = resp.headers_mut();
    h.insert(X_CONSUL_INDEX.clone(), number_header(index.max(1)));
    h.insert(
        X_CONSUL_KNOWN_LEADER.clone(),
        HeaderValue::from_static(if meta.known_leader { "true" } else { "false" }),
    );
    h.insert(X_CONSUL_LAST_CONTACT.clone(), number_header(meta.last_contact_ms));
    h.insert(
        X_CONSUL_QUERY_BACKEND.clone(),
        HeaderValue::from_static("blocking-query"),
    );
}

/// `n` in decimal as a header value: one allocation, and none for 0 (a leader's
/// `X-Consul-LastContact`). `HeaderValue::from(u64)` makes two (a buffer, then the
/// shared handle it is frozen into), on every read.
pub fn number_header(n: u64) -> HeaderValue {
    if n == 0 {
        return HeaderValue::from_static("0");
    }
    match HeaderValue::from_bytes(decimal(n, &mut [0; 20])) {
        Ok(value) => value,
        // Unreachable: ASCII digits are always a valid header value.
        Err(_) => HeaderValue::from(n),
    }
}

/// `n`'s decimal digits, written into `buf` (no allocation).
pub(crate) fn decimal(n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut start = buf.len();
    let mut rest = n;
    loop {
        start -= 1;
        buf[start] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            return &buf[start..];
        }
    }
}

/// Encodes `value` as Go's `encoding/json` would: compact, or 4-space indented with a
/// trailing newline, and with `<`, `>`, `&`, U+2028, U+2029 escaped.
pub fn encode_json<T: Serialize + ?Sized>(value: &T, pretty: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    let result = if pretty {
        let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
        let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
        value.serialize(&mut ser)
    } else {
        serde_json::to_writer(&mut out, value)
    };
    if result.is_err() {
        // Our response types are plain data; serialisation cannot fail. Keep the
        // body valid JSON regardless.
        out = b"null".to_vec();
    }
    if pretty {
        out.push(b'\n');
    }
    go_escape(out)
}

/// Applies Go's HTML-safe escaping. These bytes only occur inside JSON strings, so a
/// byte-level rewrite is exact.
fn go_escape(buf: Vec<u8>) -> Vec<u8> {
    // SIMD scans: most bodies contain none of these bytes.
    if memchr::memchr3(b'<', b'>', b'&', &buf).is_none() && memchr::memchr(0xE2, &buf).is_none() {
        return buf;
    }
    let mut out = Vec::with_capacity(buf.len() + 16);
    let mut i = 0;
    while i < buf.len() {
        match buf[i] {
            b'<' => out.extend_from_slice(b"\\u003c"),
            b'>' => out.extend_from_slice(b"\\u003e"),
            b'&' => out.extend_from_slice(b"\\u0026"),
            0xE2 if i + 2 < buf.len() && buf[i + 1] == 0x80 && (buf[i + 2] == 0xA8 || buf[i + 2] == 0xA9) => {
                out.extend_from_slice(if buf[i + 2] == 0xA8 {
                    b"\\u2028"
                } else {
                    b"\\u2029"
                });
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    out
}

/// A 200 JSON response with the common headers.
pub fn json_response<T: Serialize + ?Sized>(value: &T, pretty: bool) -> Response<Body> {
    json_bytes_response(StatusCode::OK, encode_json(value, pretty))
}

/// A response whose header map is sized for Consul's usual headers up front, so
/// adding them never regrows it.
fn new_response(status: StatusCode, body: Body) -> Response<Body> {
    let mut resp = Response::new(body);
    *resp.status_mut() = status;
    *resp.headers_mut() = HeaderMap::with_capacity(12);
    resp
}

/// A JSON response from already-encoded bytes.
pub fn json_bytes_response(status: StatusCode, body: impl Into<Body>) -> Response<Body> {
    let mut resp = new_response(status, body.into());
    resp.headers_mut().insert(header::CONTENT_TYPE, APPLICATION_JSON);
    add_common_headers(&mut resp);
    resp
}

/// An empty-bodied response with the common headers (e.g. a 404 for a missing key).
pub fn empty_response(status: StatusCode) -> Response<Body> {
    let mut resp = new_response(status, Body::empty());
    add_common_headers(&mut resp);
    resp
}

/// An error answered the Consul way: status plus a plain-text message without newline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Plain-text body.
    pub message: String,
    /// Send `Connection: close` (Consul does for oversized bodies).
    pub close: bool,
}

impl ApiError {
    /// An error with any status.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
            close: false,
        }
    }

    /// 400 Bad Request.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// 500 Internal Server Error (Consul's answer to RPC failures).
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }

    /// 501 Not Implemented: a Consul feature rconsul does not offer yet.
    pub fn not_implemented(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_IMPLEMENTED, message)
    }
}

impl From<ConsensusError> for ApiError {
    fn from(e: ConsensusError) -> Self {
        ApiError::internal(e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response<Body> {
        let mut resp = Response::new(Body::from(self.message));
        *resp.status_mut() = self.status;
        resp.headers_mut().insert(header::CONTENT_TYPE, TEXT_PLAIN_UTF8);
        if self.close {
            resp.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        add_common_headers(&mut resp);
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_headers_are_decimal() {
        for n in [0, 1, 9, 10, 4096, 1_000_000_007, u64::MAX] {
            assert_eq!(number_header(n).to_str().unwrap(), n.to_string());
        }
    }

    #[test]
    fn go_style_json() {
        assert_eq!(
            encode_json(&vec!["a<b>&c"], false),
            br#"["a\u003cb\u003e\u0026c"]"#.to_vec()
        );
        assert_eq!(encode_json(&vec![1, 2], true), b"[\n    1,\n    2\n]\n".to_vec());
        assert_eq!(encode_json(&true, true), b"true\n".to_vec());
        assert_eq!(encode_json("\u{2028}", false), br#""\u2028""#.to_vec());
        assert_eq!(encode_json("é", false), "\"é\"".as_bytes().to_vec());
    }
}
