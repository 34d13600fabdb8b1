//! Paths and methods: which endpoint answers what, and Consul's 404/405/301 rules.

use axum::body::Body;
use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderValue, Method, Response, StatusCode};
use axum::routing::{get, MethodRouter};
use axum::Router;

use crate::response::{add_common_headers, ApiError};
use crate::routes::{kv, status};
use crate::SharedState;

/// Adds Consul's OPTIONS answer and 405 body to a method router.
fn allow(methods: &'static str, router: MethodRouter<SharedState>) -> MethodRouter<SharedState> {
    router
        .options(move || async move { options_response(methods) })
        .fallback(move |method: Method| async move { method_not_allowed(methods, &method) })
}

fn options_response(methods: &'static str) -> Response<Body> {
    let mut resp = Response::new(Body::empty());
    resp.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(methods));
    add_common_headers(&mut resp);
    resp
}

fn method_not_allowed(methods: &'static str, method: &Method) -> Response<Body> {
    let mut resp = axum::response::IntoResponse::into_response(ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("method {method} not allowed"),
    ));
    resp.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(methods));
    resp
}

/// Consul answers unknown paths with an empty 404 and no Consul headers.
async fn not_found() -> Response<Body> {
    let mut resp = Response::new(Body::empty());
    *resp.status_mut() = StatusCode::NOT_FOUND;
    resp
}

/// Go's ServeMux redirects `/v1/kv` to `/v1/kv/`.
async fn redirect_kv() -> Response<Body> {
    let mut resp = Response::new(Body::from("<a href=\"/v1/kv/\">Moved Permanently</a>.\n\n"));
    *resp.status_mut() = StatusCode::MOVED_PERMANENTLY;
    let h = resp.headers_mut();
    h.insert(header::LOCATION, HeaderValue::from_static("/v1/kv/"));
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    resp
}

/// Builds the `/v1` router.
pub fn router(state: SharedState) -> Router {
    const KV_METHODS: &str = "OPTIONS,GET,PUT,DELETE";
    const READ_ONLY: &str = "OPTIONS,GET";
    let kv_routes = || allow(KV_METHODS, get(kv::get).put(kv::put).delete(kv::delete));
    Router::new()
        .route("/v1/status/leader", allow(READ_ONLY, get(status::leader)))
        .route("/v1/status/peers", allow(READ_ONLY, get(status::peers)))
        .route("/v1/kv", get(redirect_kv))
        .route("/v1/kv/", kv_routes())
        .route("/v1/kv/{*key}", kv_routes())
        // KV enforces its own (Consul-worded) limit; keep axum's generic one out of the way.
        .layer(DefaultBodyLimit::disable())
        .fallback(not_found)
        .with_state(state)
}
