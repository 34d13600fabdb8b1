//! `/v1/health/*`: checks by node, service and state; healthy service instances.

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::Response;
use rconsul_state::catalog::HealthCheck;
use rconsul_state::Table;

use crate::blocking::{self, QueryResult};
use axum::http::StatusCode;

use crate::response::{encode_json, json_bytes_response, json_response, ApiError};
use crate::routes::catalog::has_tags;
use crate::routes::read::Read;
use crate::views::{CheckServiceNodeJson, HealthCheckJson, NodeJson, NodeServiceJson};
use crate::SharedState;

fn checks_response(read: &Read, result: QueryResult<Vec<HealthCheck>>) -> Response<Body> {
    let json: Vec<HealthCheckJson<'_>> = result.value.iter().map(HealthCheckJson::from).collect();
    let mut resp = json_response(&json, read.pretty);
    read.finish(&mut resp, result.index);
    resp
}

/// `GET /v1/health/node/<node>`.
pub async fn node(
    State(api): State<SharedState>,
    Path(name): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response<Body>, ApiError> {
    let read = Read::begin(&api, q.as_deref()).await?;
    let result = blocking::run(
        &api.store,
        Table::Catalog,
        read.opts,
        |s| s.catalog.checks_index(),
        |s| {
            let checks = s
                .catalog
                .node_checks(&name)
                .filter(|c| read.keep(&HealthCheckJson::from(*c)))
                .cloned()
                .collect();
            QueryResult {
                index: s.catalog.checks_index(),
                value: checks,
            }
        },
    )
    .await;
    Ok(checks_response(&read, result))
}

/// `GET /v1/health/checks/<service>`.
pub async fn checks(
    State(api): State<SharedState>,
    Path(name): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response<Body>, ApiError> {
    let read = Read::begin(&api, q.as_deref()).await?;
    let result = blocking::run(
        &api.store,
        Table::Catalog,
        read.opts,
        |s| s.catalog.service_watch_index(&name),
        |s| {
            let checks = s
                .catalog
                .service_checks(&name)
                .into_iter()
                .filter(|c| {
                    s.catalog
                        .node(&c.node)
                        .is_some_and(|n| read.node_meta_matches(&n.meta))
                })
                .filter(|c| read.keep(&HealthCheckJson::from(*c)))
                .cloned()
                .collect();
            QueryResult {
                index: s.catalog.service_index(&name),
                value: checks,
            }
        },
    )
    .await;
    Ok(checks_response(&read, result))
}

/// `GET /v1/health/state/<state>`: `any`, `passing`, `warning` or `critical`.
pub async fn state(
    State(api): State<SharedState>,
    Path(wanted): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response<Body>, ApiError> {
    let read = Read::begin(&api, q.as_deref()).await?;
    let result = blocking::run(
        &api.store,
        Table::Catalog,
        read.opts,
        |s| s.catalog.checks_index(),
        |s| {
            let checks = s
                .catalog
                .all_checks()
                .filter(|c| wanted == "any" || c.status == wanted)
                .filter(|c| {
                    s.catalog
                        .node(&c.node)
                        .is_some_and(|n| read.node_meta_matches(&n.meta))
                })
                .filter(|c| read.keep(&HealthCheckJson::from(*c)))
                .cloned()
                .collect();
            QueryResult {
                index: s.catalog.checks_index(),
                value: checks,
            }
        },
    )
    .await;
    Ok(checks_response(&read, result))
}

/// `GET /v1/health/service/<service>` with `?passing`, `?tag`, `?node-meta`, `?filter`.
pub async fn service(
    State(api): State<SharedState>,
    Path(name): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response<Body>, ApiError> {
    let read = Read::begin(&api, q.as_deref()).await?;
    let passing_only = match read.params.get("passing") {
        None => false,
        Some("") | Some("true") | Some("1") | Some("True") | Some("TRUE") | Some("t") | Some("T") => true,
        Some("false") | Some("0") | Some("False") | Some("FALSE") | Some("f") | Some("F") => false,
        Some(_) => return Err(ApiError::bad_request("Invalid value for ?passing")),
    };
    let pretty = read.pretty;
    // Encoded under the read lock, straight from the state: no copies of the rows.
    let result = blocking::run(
        &api.store,
        Table::Catalog,
        read.opts,
        |s| s.catalog.service_watch_index(&name),
        |s| {
            let mut rows: Vec<CheckServiceNodeJson<'_>> = Vec::new();
            for (n, svc) in s.catalog.service_instances(&name) {
                if !(has_tags(svc, &read.params) && read.node_meta_matches(&n.meta)) {
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
            QueryResult {
                index: s.catalog.service_index(&name),
                value: encode_json(&rows, pretty),
            }
        },
    )
    .await;
    let mut resp = json_bytes_response(StatusCode::OK, result.value);
    read.finish(&mut resp, result.index);
    Ok(resp)
}
