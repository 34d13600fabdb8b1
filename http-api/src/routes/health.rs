//! `/v1/health/*`: checks by node, service and state; healthy service instances.

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::Response;
use rconsul_state::store::State as Replicated;

use crate::acl::Caller;
use crate::response::ApiError;
use crate::routes::catalog::has_tags;
use crate::routes::read::Read;
use crate::views::{CheckServiceNodeJson, HealthCheckJson, NodeJson, NodeServiceJson};
use crate::SharedState;

/// `GET /v1/health/node/<node>`.
pub async fn node(
    State(api): State<SharedState>,
    caller: Caller,
    Path(name): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response<Body>, ApiError> {
    let read = Read::begin(&api, caller, q.as_deref()).await?;
    let resp = read
        .answer(
            &api.store,
            |s| s.catalog.checks_index(),
            |s| {
                let checks: Vec<HealthCheckJson<'_>> = s
                    .catalog
                    .node_checks(&name)
                    .filter(|c| read.sees_check(c))
                    .map(HealthCheckJson::from)
                    .filter(|c| read.keep(c))
                    .collect();
                (s.catalog.checks_index(), read.encode(&checks))
            },
        )
        .await;
    Ok(resp)
}

/// `GET /v1/health/checks/<service>`.
pub async fn checks(
    State(api): State<SharedState>,
    caller: Caller,
    Path(name): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response<Body>, ApiError> {
    let read = Read::begin(&api, caller, q.as_deref()).await?;
    let resp = read
        .answer(
            &api.store,
            |s| s.catalog.service_watch_index(&name),
            |s| {
                let checks: Vec<HealthCheckJson<'_>> = s
                    .catalog
                    .service_checks(&name)
                    .into_iter()
                    .filter(|c| node_meta_ok(&read, s, &c.node))
                    .filter(|c| read.sees_check(c))
                    .map(HealthCheckJson::from)
                    .filter(|c| read.keep(c))
                    .collect();
                (s.catalog.service_index(&name), read.encode(&checks))
            },
        )
        .await;
    Ok(resp)
}

/// `GET /v1/health/state/<state>`: `any`, `passing`, `warning` or `critical`.
pub async fn state(
    State(api): State<SharedState>,
    caller: Caller,
    Path(wanted): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response<Body>, ApiError> {
    let read = Read::begin(&api, caller, q.as_deref()).await?;
    let resp = read
        .answer(
            &api.store,
            |s| s.catalog.checks_index(),
            |s| {
                let checks: Vec<HealthCheckJson<'_>> = s
                    .catalog
                    .all_checks()
                    .filter(|c| wanted == "any" || c.status == wanted)
                    .filter(|c| node_meta_ok(&read, s, &c.node))
                    .filter(|c| read.sees_check(c))
                    .map(HealthCheckJson::from)
                    .filter(|c| read.keep(c))
                    .collect();
                (s.catalog.checks_index(), read.encode(&checks))
            },
        )
        .await;
    Ok(resp)
}

/// Whether `node` exists and matches `?node-meta`.
fn node_meta_ok(read: &Read, s: &Replicated, node: &str) -> bool {
    s.catalog
        .node(node)
        .is_some_and(|n| read.node_meta_matches(&n.meta))
}

/// `GET /v1/health/service/<service>` with `?passing`, `?tag`, `?node-meta`, `?filter`.
pub async fn service(
    State(api): State<SharedState>,
    caller: Caller,
    Path(name): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response<Body>, ApiError> {
    let read = Read::begin(&api, caller, q.as_deref()).await?;
    let passing_only = match read.params.get("passing") {
        None => false,
        Some("") | Some("true") | Some("1") | Some("True") | Some("TRUE") | Some("t") | Some("T") => true,
        Some("false") | Some("0") | Some("False") | Some("FALSE") | Some("f") | Some("F") => false,
        Some(_) => return Err(ApiError::bad_request("Invalid value for ?passing")),
    };
    let resp = read
        .answer_cached(
            &api,
            &format!("health/service/{name}"),
            |s| s.catalog.service_watch_index(&name),
            |s| {
                let mut rows: Vec<CheckServiceNodeJson<'_>> = Vec::new();
                for (n, svc) in s.catalog.service_instances(&name) {
                    if !(has_tags(svc, &read.params) && read.node_meta_matches(&n.meta)) {
                        continue;
                    }
                    if !(read.sees_service(&svc.service) && read.sees_node(&n.node)) {
                        continue;
                    }
                    let checks = s.catalog.instance_checks(&n.node, &svc.id);
                    if passing_only && !checks.iter().all(|c| c.is_passing()) {
                        continue;
                    }
                    let row = CheckServiceNodeJson {
                        node: NodeJson::from(n),
                        service: NodeServiceJson::from(svc),
                        checks: checks.iter().map(|c| HealthCheckJson::from(*c)).collect(),
                    };
                    if read.keep(&row) {
                        rows.push(row);
                    }
                }
                (s.catalog.service_index(&name), read.encode(&rows))
            },
        )
        .await;
    Ok(resp)
}
