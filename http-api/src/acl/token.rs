//! The token a request carries, looked for where Consul looks: `?token=`, then the
//! `X-Consul-Token` header, then `Authorization: Bearer <token>`.

use axum::http::{HeaderMap, HeaderName};

/// `X-Consul-Token` (a static name: no parsing per request).
static X_CONSUL_TOKEN: HeaderName = HeaderName::from_static("x-consul-token");

use crate::query::Params;

/// The request's token, or "" when it has none.
pub fn from_request<'a>(headers: &'a HeaderMap, query: Option<&'a str>) -> String {
    if let Some(q) = query.filter(|q| q.contains("token=")) {
        if let Some(t) = Params::parse(Some(q)).get("token").filter(|t| !t.is_empty()) {
            return t.to_string();
        }
    }
    if let Some(t) = headers
        .get(&X_CONSUL_TOKEN)
        .and_then(|v| v.to_str().ok())
        .filter(|t| !t.is_empty())
    {
        return t.trim().to_string();
    }
    headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(|t| t.trim().to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn query_then_header_then_bearer() {
        let mut h = HeaderMap::new();
        assert_eq!(from_request(&h, None), "");
        h.insert("authorization", HeaderValue::from_static("Bearer b"));
        assert_eq!(from_request(&h, None), "b");
        h.insert("x-consul-token", HeaderValue::from_static("x"));
        assert_eq!(from_request(&h, None), "x");
        assert_eq!(from_request(&h, Some("recurse&token=q")), "q");
        assert_eq!(from_request(&h, Some("token=")), "x");
        // `?mytoken=` is not `?token=`.
        assert_eq!(from_request(&HeaderMap::new(), Some("mytoken=z")), "");
    }
}
