//! Paths and methods: which endpoint answers what, and Consul's 404/405/301 rules.

use axum::body::Body;
use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderValue, Method, Response, StatusCode};
use axum::routing::{delete, get, put, MethodRouter};
use axum::Router;

use crate::response::{add_common_headers, ApiError};
use crate::routes::acl::{agent_token, auth, login, policies, replication, roles, templated, tokens};
use crate::routes::{agent, catalog, event, health, kv, membership, operator, session, status, txn};
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

/// `/v1/acl/*` and `/v1/agent/token/:type`.
fn acl_routes() -> Router<SharedState> {
    const CRUD: &str = "OPTIONS,GET,PUT,DELETE";
    const READ_ONLY: &str = "OPTIONS,GET";
    const PUT_ONLY: &str = "OPTIONS,PUT";
    const POST_ONLY: &str = "OPTIONS,POST";
    Router::new()
        .route("/v1/acl/bootstrap", allow(PUT_ONLY, put(tokens::bootstrap)))
        .route("/v1/acl/token", allow(PUT_ONLY, put(tokens::create)))
        .route("/v1/acl/token/self", allow(READ_ONLY, get(tokens::read_self)))
        .route(
            "/v1/acl/token/{id}",
            allow(CRUD, get(tokens::read).put(tokens::update).delete(tokens::delete)),
        )
        .route("/v1/acl/token/{id}/clone", allow(PUT_ONLY, put(tokens::clone)))
        .route("/v1/acl/tokens", allow(READ_ONLY, get(tokens::list)))
        .route("/v1/acl/policy", allow(PUT_ONLY, put(policies::create)))
        .route(
            "/v1/acl/policy/name/{name}",
            allow(READ_ONLY, get(policies::read_by_name)),
        )
        .route(
            "/v1/acl/policy/{id}",
            allow(
                CRUD,
                get(policies::read).put(policies::update).delete(policies::delete),
            ),
        )
        .route("/v1/acl/policies", allow(READ_ONLY, get(policies::list)))
        .route("/v1/acl/role", allow(PUT_ONLY, put(roles::create)))
        .route(
            "/v1/acl/role/name/{name}",
            allow(READ_ONLY, get(roles::read_by_name)),
        )
        .route(
            "/v1/acl/role/{id}",
            allow(CRUD, get(roles::read).put(roles::update).delete(roles::delete)),
        )
        .route("/v1/acl/roles", allow(READ_ONLY, get(roles::list)))
        .route("/v1/acl/auth-method", allow(PUT_ONLY, put(auth::create_method)))
        .route(
            "/v1/acl/auth-method/{name}",
            allow(
                CRUD,
                get(auth::read_method)
                    .put(auth::update_method)
                    .delete(auth::delete_method),
            ),
        )
        .route("/v1/acl/auth-methods", allow(READ_ONLY, get(auth::list_methods)))
        .route("/v1/acl/binding-rule", allow(PUT_ONLY, put(auth::create_rule)))
        .route(
            "/v1/acl/binding-rule/{id}",
            allow(
                CRUD,
                get(auth::read_rule)
                    .put(auth::update_rule)
                    .delete(auth::delete_rule),
            ),
        )
        .route("/v1/acl/binding-rules", allow(READ_ONLY, get(auth::list_rules)))
        .route(
            "/v1/acl/templated-policies",
            allow(READ_ONLY, get(templated::list)),
        )
        .route(
            "/v1/acl/templated-policy/name/{*name}",
            allow(READ_ONLY, get(templated::read)),
        )
        .route(
            "/v1/acl/templated-policy/preview/{*name}",
            allow(POST_ONLY, axum::routing::post(templated::preview)),
        )
        .route("/v1/acl/replication", allow(READ_ONLY, get(replication::status)))
        .route(
            "/v1/acl/login",
            allow(POST_ONLY, axum::routing::post(login::login)),
        )
        .route(
            "/v1/acl/logout",
            allow(POST_ONLY, axum::routing::post(login::logout)),
        )
        .route("/v1/agent/token/{kind}", allow(PUT_ONLY, put(agent_token::set)))
}

/// Builds the `/v1` router (plus `/` and, with `-ui`, the web UI).
pub fn router(state: SharedState) -> Router {
    const KV_METHODS: &str = "OPTIONS,GET,PUT,DELETE";
    const READ_ONLY: &str = "OPTIONS,GET";
    const PUT_ONLY: &str = "OPTIONS,PUT";
    let kv_routes = || allow(KV_METHODS, get(kv::get).put(kv::put).delete(kv::delete));
    Router::new()
        .route("/v1/status/leader", allow(READ_ONLY, get(status::leader)))
        .route("/v1/status/peers", allow(READ_ONLY, get(status::peers)))
        .route("/v1/catalog/register", allow(PUT_ONLY, put(catalog::register)))
        .route(
            "/v1/catalog/deregister",
            allow(PUT_ONLY, put(catalog::deregister)),
        )
        .route(
            "/v1/catalog/datacenters",
            allow(READ_ONLY, get(catalog::datacenters)),
        )
        .route("/v1/catalog/nodes", allow(READ_ONLY, get(catalog::nodes)))
        .route("/v1/catalog/services", allow(READ_ONLY, get(catalog::services)))
        .route(
            "/v1/catalog/service/",
            allow(READ_ONLY, get(catalog::missing_service_name)),
        )
        .route(
            "/v1/catalog/service/{name}",
            allow(READ_ONLY, get(catalog::service)),
        )
        .route(
            "/v1/catalog/node/",
            allow(READ_ONLY, get(catalog::missing_node_name)),
        )
        .route("/v1/catalog/node/{name}", allow(READ_ONLY, get(catalog::node)))
        .route(
            "/v1/catalog/node-services/",
            allow(READ_ONLY, get(catalog::missing_node_name)),
        )
        .route(
            "/v1/catalog/node-services/{name}",
            allow(READ_ONLY, get(catalog::node_services)),
        )
        .route("/v1/health/node/{name}", allow(READ_ONLY, get(health::node)))
        .route("/v1/health/checks/{name}", allow(READ_ONLY, get(health::checks)))
        .route(
            "/v1/health/service/{name}",
            allow(READ_ONLY, get(health::service)),
        )
        .route("/v1/health/state/{state}", allow(READ_ONLY, get(health::state)))
        .route("/v1/agent/self", allow(READ_ONLY, get(agent::agent_self)))
        .route("/v1/agent/members", allow(READ_ONLY, get(agent::members)))
        .route("/v1/agent/metrics", allow(READ_ONLY, get(agent::metrics)))
        .route("/v1/agent/services", allow(READ_ONLY, get(agent::services)))
        .route("/v1/agent/service/{id}", allow(READ_ONLY, get(agent::service)))
        .route("/v1/agent/checks", allow(READ_ONLY, get(agent::checks)))
        .route(
            "/v1/agent/service/register",
            allow(PUT_ONLY, put(agent::register_service)),
        )
        .route(
            "/v1/agent/service/deregister/{id}",
            allow(PUT_ONLY, put(agent::deregister_service)),
        )
        .route(
            "/v1/agent/service/maintenance/{id}",
            allow(PUT_ONLY, put(agent::service_maintenance)),
        )
        .route(
            "/v1/agent/check/register",
            allow(PUT_ONLY, put(agent::register_check)),
        )
        .route(
            "/v1/agent/check/deregister/{id}",
            allow(PUT_ONLY, put(agent::deregister_check)),
        )
        .route(
            "/v1/agent/check/pass/{id}",
            allow(PUT_ONLY, put(agent::check_pass)),
        )
        .route(
            "/v1/agent/check/warn/{id}",
            allow(PUT_ONLY, put(agent::check_warn)),
        )
        .route(
            "/v1/agent/check/fail/{id}",
            allow(PUT_ONLY, put(agent::check_fail)),
        )
        .route(
            "/v1/agent/check/update/{id}",
            allow(PUT_ONLY, put(agent::check_update)),
        )
        .route(
            "/v1/agent/health/service/id/{id}",
            allow(READ_ONLY, get(agent::health_by_id)),
        )
        .route(
            "/v1/agent/health/service/name/{name}",
            allow(READ_ONLY, get(agent::health_by_name)),
        )
        .route(
            "/v1/agent/maintenance",
            allow(PUT_ONLY, put(agent::node_maintenance)),
        )
        .route("/v1/agent/reload", allow(PUT_ONLY, put(agent::reload)))
        .route("/v1/agent/leave", allow(PUT_ONLY, put(agent::leave)))
        .route(
            "/v1/agent/join/{*address}",
            allow(PUT_ONLY, put(membership::join)),
        )
        .route(
            "/v1/agent/force-leave/{*node}",
            allow(PUT_ONLY, put(membership::force_leave)),
        )
        .route(
            "/v1/operator/raft/configuration",
            allow(READ_ONLY, get(operator::configuration)),
        )
        .route(
            "/v1/operator/autopilot/health",
            allow(READ_ONLY, get(operator::autopilot_health)),
        )
        .route(
            "/v1/operator/raft/peer",
            allow("OPTIONS,DELETE", delete(operator::remove_peer)),
        )
        .route("/v1/session/create", allow(PUT_ONLY, put(session::create)))
        .route(
            "/v1/session/destroy/",
            allow(PUT_ONLY, put(session::missing_session)),
        )
        .route(
            "/v1/session/destroy/{*id}",
            allow(PUT_ONLY, put(session::destroy)),
        )
        .route(
            "/v1/session/info/",
            allow(READ_ONLY, get(session::missing_session)),
        )
        .route("/v1/session/info/{*id}", allow(READ_ONLY, get(session::info)))
        .route("/v1/session/node/", allow(READ_ONLY, get(session::missing_node)))
        .route("/v1/session/node/{*node}", allow(READ_ONLY, get(session::node)))
        .route("/v1/session/list", allow(READ_ONLY, get(session::list)))
        .route(
            "/v1/session/renew/",
            allow(PUT_ONLY, put(session::missing_session)),
        )
        .route("/v1/session/renew/{*id}", allow(PUT_ONLY, put(session::renew)))
        .route("/v1/txn", allow(PUT_ONLY, put(txn::txn)))
        .route("/v1/event/fire/", allow(PUT_ONLY, put(event::missing_name)))
        .route("/v1/event/fire/{*name}", allow(PUT_ONLY, put(event::fire)))
        .route("/v1/event/list", allow(READ_ONLY, get(event::list)))
        .merge(acl_routes())
        .route("/v1/kv", get(redirect_kv))
        .route("/v1/kv/", kv_routes())
        .route("/v1/kv/{*key}", kv_routes())
        // `/`, `/robots.txt` and the web UI under `/ui/` (only with `-ui`).
        .merge(crate::ui::routes(state.config.ui))
        // KV enforces its own (Consul-worded) limit; keep axum's generic one out of the way.
        .layer(DefaultBodyLimit::disable())
        .fallback(not_found)
        .with_state(state)
}
