//! The entry point of every HTTP request.
//!
//! KV requests (`/v1/kv/<key>` with GET, PUT or DELETE) are the hot path of every
//! Consul workload (config reads, locks, benchmarks), so they go straight to their
//! handlers; everything else goes through the axum [`Router`], which answers the
//! same KV requests the same way (see [`crate::router::router`]). Skipping the
//! router's path matching, parameter map and boxed futures saves about a tenth of a
//! KV read's CPU.

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{Method, Request, Response};
use axum::response::IntoResponse;
use axum::Router;
use bytes::Bytes;
use tower::ServiceExt;

use crate::acl::Caller;
use crate::routes::kv;
use crate::SharedState;

/// Routes one request: KV directly, the rest through the router.
#[derive(Clone)]
pub struct Dispatch {
    router: Router,
    state: SharedState,
}

/// The KV methods the router serves with a handler (OPTIONS and the 405 answer stay
/// with the router).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KvMethod {
    Get,
    Put,
    Delete,
}

/// Whether `method path` is a KV request with a handler of its own.
fn kv_method(method: &Method, path: &str) -> Option<KvMethod> {
    if !path.starts_with("/v1/kv/") {
        return None;
    }
    match *method {
        Method::GET => Some(KvMethod::Get),
        Method::PUT => Some(KvMethod::Put),
        Method::DELETE => Some(KvMethod::Delete),
        _ => None,
    }
}

impl Dispatch {
    /// The dispatcher for `state`'s API (builds the router once).
    pub fn new(state: SharedState) -> Self {
        Dispatch {
            router: crate::router::router(state.clone()),
            state,
        }
    }

    /// Answers `req`. The body is boxed into axum's [`Body`] only where it is read (the
    /// router, KV PUT): a KV read never allocates for it.
    pub async fn handle<B>(&self, req: Request<B>) -> Response<Body>
    where
        B: hyper::body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<axum::BoxError>,
    {
        let Some(method) = kv_method(req.method(), req.uri().path()) else {
            return match self.router.clone().oneshot(req.map(Body::new)).await {
                Ok(resp) => resp,
                Err(never) => match never {},
            };
        };
        let (parts, body) = req.into_parts();
        let caller = match Caller::from_request(&self.state, &parts.headers, parts.uri.query()) {
            Ok(c) => c,
            Err(e) => return e.into_response(),
        };
        let state = State(self.state.clone());
        let query = RawQuery(parts.uri.query().map(str::to_string));
        let result = match method {
            KvMethod::Get => kv::get(state, caller, parts.uri, query).await,
            KvMethod::Put => kv::put(state, caller, parts.uri, query, parts.headers, Body::new(body)).await,
            KvMethod::Delete => kv::delete(state, caller, parts.uri, query).await,
        };
        result.into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_kv_handlers_are_dispatched_directly() {
        assert_eq!(kv_method(&Method::GET, "/v1/kv/a/b"), Some(KvMethod::Get));
        assert_eq!(kv_method(&Method::GET, "/v1/kv/"), Some(KvMethod::Get));
        assert_eq!(kv_method(&Method::PUT, "/v1/kv/x"), Some(KvMethod::Put));
        assert_eq!(kv_method(&Method::DELETE, "/v1/kv/x"), Some(KvMethod::Delete));
        // OPTIONS, HEAD and unknown methods keep the router's answers (Allow, 405).
        assert_eq!(kv_method(&Method::OPTIONS, "/v1/kv/x"), None);
        assert_eq!(kv_method(&Method::HEAD, "/v1/kv/x"), None);
        assert_eq!(kv_method(&Method::POST, "/v1/kv/x"), None);
        // `/v1/kv` itself is the router's redirect.
        assert_eq!(kv_method(&Method::GET, "/v1/kv"), None);
        assert_eq!(kv_method(&Method::GET, "/v1/kvx"), None);
        assert_eq!(kv_method(&Method::GET, "/v1/catalog/services"), None);
    }
}
