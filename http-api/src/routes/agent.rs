//! `/v1/agent/*`: the local agent's services, checks, health, maintenance and lifecycle.

use std::collections::BTreeMap;

use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderName, HeaderValue, Response, StatusCode};
use axum::response::IntoResponse;
use rconsul_state::acl::{Kind, Need};
use rconsul_state::agent::{AgentError, CheckDefinition, ServiceDefinition};
use rconsul_state::catalog::{HealthCheck, Service};
use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use crate::acl::caller::mark_filtered;
use crate::acl::Caller;
use crate::decode::{parse_body, Fields};
use crate::query::Params;
use crate::response::{add_common_headers, json_response, ApiError};
use crate::routes::catalog::service_fields;
use crate::views::{HealthCheckJson, WeightsJson};
use crate::SharedState;

static X_CONSUL_REASON: HeaderName = HeaderName::from_static("x-consul-reason");

impl From<AgentError> for ApiError {
    fn from(e: AgentError) -> Self {
        match e {
            AgentError::BadRequest(m) => ApiError::bad_request(m),
            AgentError::NotFound(m) => ApiError::new(StatusCode::NOT_FOUND, m),
            AgentError::Internal(m) => ApiError::internal(m),
        }
    }
}

/// Decodes one check definition (agent form).
pub fn check_definition(mut f: Fields) -> Result<CheckDefinition, ApiError> {
    let headers = match f.take(&["Header"]) {
        Some(serde_json::Value::Object(map)) => {
            let mut out = Vec::new();
            for (k, v) in map {
                match v {
                    serde_json::Value::Array(vals) => {
                        for val in vals {
                            if let serde_json::Value::String(s) = val {
                                out.push((k.clone(), s));
                            }
                        }
                    }
                    serde_json::Value::String(s) => out.push((k, s)),
                    _ => {}
                }
            }
            out
        }
        _ => Vec::new(),
    };
    let def = CheckDefinition {
        id: f.string_any(&["CheckID", "ID"])?.unwrap_or_default(),
        name: f.string("Name")?.unwrap_or_default(),
        notes: f.string("Notes")?.unwrap_or_default(),
        service_id: f.string("ServiceID")?.unwrap_or_default(),
        status: f.string("Status")?.unwrap_or_default(),
        http: f.string("HTTP")?.unwrap_or_default(),
        method: f.string("Method")?.unwrap_or_default(),
        headers,
        body: f.string("Body")?.unwrap_or_default(),
        tls_skip_verify: f.boolean("TLSSkipVerify")?.unwrap_or(false),
        tcp: f.string("TCP")?.unwrap_or_default(),
        ttl: f.duration("TTL")?,
        args: f.string_list_any(&["Args", "ScriptArgs"])?.unwrap_or_default(),
        alias_node: f.string("AliasNode")?.unwrap_or_default(),
        alias_service: f.string("AliasService")?.unwrap_or_default(),
        interval: f.duration("Interval")?,
        timeout: f.duration("Timeout")?,
        success_before_passing: u32::try_from(f.integer("SuccessBeforePassing")?.unwrap_or(0)).unwrap_or(0),
        failures_before_critical: u32::try_from(f.integer("FailuresBeforeCritical")?.unwrap_or(0))
            .unwrap_or(0),
        deregister_critical_service_after: f.duration("DeregisterCriticalServiceAfter")?,
        output_max_size: f.integer("OutputMaxSize")?.and_then(|n| usize::try_from(n).ok()),
    };
    f.ignore(&[
        "TLSServerName",
        "DockerContainerID",
        "Shell",
        "GRPC",
        "GRPCUseTLS",
        "H2PING",
        "H2PingUseTLS",
        "DisableRedirects",
        "Namespace",
        "Partition",
        "FailuresBeforeWarning",
        "Type",
    ]);
    f.finish()?;
    Ok(def)
}

/// Decodes a service definition (`/v1/agent/service/register` body or a config-file
/// `service` block).
pub fn service_definition(value: serde_json::Value) -> Result<ServiceDefinition, ApiError> {
    let mut f = Fields::new(value, "ServiceDefinition")?;
    let service = service_fields(&mut f, "Name")?;
    let mut checks = Vec::new();
    if let Some(c) = f.object("Check", "CheckType")? {
        checks.push(check_definition(c)?);
    }
    for c in f.object_list("Checks", "CheckType")?.unwrap_or_default() {
        checks.push(check_definition(c)?);
    }
    f.ignore(&[
        "Proxy",
        "Connect",
        "SocketPath",
        "Token",
        "Namespace",
        "Partition",
        "EnterpriseMeta",
    ]);
    f.finish()?;
    if service.service.is_empty() {
        return Err(ApiError::bad_request("Missing service name"));
    }
    Ok(ServiceDefinition { service, checks })
}

/// The agent's view of a service (`api.AgentService`), in Consul's field order.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct AgentServiceJson<'a> {
    #[serde(skip_serializing_if = "str::is_empty")]
    kind: &'a str,
    #[serde(rename = "ID")]
    id: &'a str,
    service: &'a str,
    tags: &'a [String],
    #[serde(serialize_with = "meta_or_empty")]
    meta: &'a Option<BTreeMap<String, String>>,
    port: u32,
    address: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    tagged_addresses: Option<BTreeMap<&'a str, crate::views::ServiceAddressJson<'a>>>,
    socket_path: &'a str,
    weights: WeightsJson,
    enable_tag_override: bool,
    datacenter: &'a str,
}

fn meta_or_empty<S: Serializer>(m: &&Option<BTreeMap<String, String>>, s: S) -> Result<S::Ok, S::Error> {
    match m {
        Some(m) => m.serialize(s),
        None => s.serialize_map(Some(0))?.end(),
    }
}

impl<'a> AgentServiceJson<'a> {
    fn new(s: &'a Service, dc: &'a str) -> Self {
        AgentServiceJson {
            kind: &s.kind,
            id: &s.id,
            service: &s.service,
            tags: &s.tags,
            meta: &s.meta,
            port: s.port,
            address: &s.address,
            tagged_addresses: s.tagged_addresses.as_ref().map(|m| {
                m.iter()
                    .map(|(k, v)| {
                        (
                            k.as_str(),
                            crate::views::ServiceAddressJson::new(&v.address, v.port),
                        )
                    })
                    .collect()
            }),
            socket_path: "",
            weights: (&s.weights).into(),
            enable_tag_override: s.enable_tag_override,
            datacenter: dc,
        }
    }
}

fn read_params(
    api: &SharedState,
    q: &Option<String>,
) -> Result<(Params, Option<crate::filter::Filter>), ApiError> {
    let params = Params::parse(q.as_deref());
    params.check_dc(&api.config)?;
    let filter = match params.get("filter") {
        Some(expr) if !expr.trim().is_empty() => {
            Some(crate::filter::Filter::parse(expr).map_err(|e| ApiError::bad_request(e.to_string()))?)
        }
        _ => None,
    };
    Ok((params, filter))
}

fn keep<T: Serialize>(filter: &Option<crate::filter::Filter>, item: &T) -> bool {
    match filter {
        None => true,
        Some(f) => serde_json::to_value(item).map(|v| f.matches(&v)).unwrap_or(false),
    }
}

/// An empty 200, as Consul answers agent writes.
fn ok_empty() -> Response<Body> {
    let mut resp = Response::new(Body::empty());
    add_common_headers(&mut resp);
    resp
}

/// `GET /v1/agent/self`.
pub async fn agent_self(
    State(api): State<SharedState>,
    caller: Caller,
    RawQuery(q): RawQuery,
) -> Result<Response<Body>, ApiError> {
    caller.require(Kind::Agent, &api.config.node_name, Need::Read)?;
    let params = Params::parse(q.as_deref());
    Ok(json_response(&api.agent.self_json(), params.pretty(&api.config)))
}

/// The service name of the local service `id`, if registered.
fn local_service_name(api: &SharedState, id: &str) -> Option<String> {
    api.agent
        .services()
        .into_iter()
        .find(|s| s.id == id)
        .map(|s| s.service)
}

/// Consul's rule for a local check: `service:write` on its service, else `node:write`.
fn require_check_write(api: &SharedState, caller: &Caller, check_id: &str) -> Result<(), ApiError> {
    if !caller.is_restricted() {
        return Ok(());
    }
    let owner = api
        .agent
        .checks()
        .into_iter()
        .find(|c| c.check_id == check_id)
        .map(|c| c.service_name)
        .filter(|s| !s.is_empty());
    match owner {
        Some(service) => caller.require(Kind::Service, &service, Need::Write),
        None => caller.require(Kind::Node, &api.config.node_name, Need::Write),
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct MemberJson<'a> {
    name: &'a str,
    addr: &'a str,
    port: u16,
    tags: BTreeMap<&'a str, &'a str>,
    status: u8,
    protocol_min: u8,
    protocol_max: u8,
    protocol_cur: u8,
    delegate_min: u8,
    delegate_max: u8,
    delegate_cur: u8,
}

/// `GET /v1/agent/members`.
pub async fn members(
    State(api): State<SharedState>,
    caller: Caller,
    RawQuery(q): RawQuery,
) -> Result<Response<Body>, ApiError> {
    let params = Params::parse(q.as_deref());
    if let Some(seg) = params.get("segment") {
        if !seg.is_empty() && seg != "_all" {
            return Err(ApiError::bad_request(format!("Unknown segment: \"{seg}\"")));
        }
    }
    let members = api.agent.members();
    let visible = members
        .iter()
        .filter(|m| caller.allows(Kind::Node, &m.name, Need::Read));
    let filtered = visible.clone().count() != members.len();
    let json: Vec<MemberJson<'_>> = visible
        .map(|m| MemberJson {
            name: &m.name,
            addr: &m.addr,
            port: m.port,
            tags: m.tags.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect(),
            status: m.status,
            protocol_min: 1,
            protocol_max: 5,
            protocol_cur: 2,
            delegate_min: 2,
            delegate_max: 5,
            delegate_cur: 4,
        })
        .collect();
    let mut resp = json_response(&json, params.pretty(&api.config));
    mark_filtered(&mut resp, filtered);
    Ok(resp)
}

/// `GET /v1/agent/services`.
pub async fn services(
    State(api): State<SharedState>,
    caller: Caller,
    RawQuery(q): RawQuery,
) -> Result<Response<Body>, ApiError> {
    let (params, filter) = read_params(&api, &q)?;
    let services = api.agent.services();
    let dc = api.config.datacenter.as_str();
    let mut filtered = false;
    let json: BTreeMap<&str, AgentServiceJson<'_>> = services
        .iter()
        .filter(|s| {
            let ok = caller.allows(Kind::Service, &s.service, Need::Read);
            filtered |= !ok;
            ok
        })
        .map(|s| (s.id.as_str(), AgentServiceJson::new(s, dc)))
        .filter(|(_, j)| keep(&filter, j))
        .collect();
    let mut resp = json_response(&json, params.pretty(&api.config));
    mark_filtered(&mut resp, filtered);
    Ok(resp)
}

/// `GET /v1/agent/service/<id>`.
pub async fn service(
    State(api): State<SharedState>,
    caller: Caller,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response<Body>, ApiError> {
    let params = Params::parse(q.as_deref());
    let services = api.agent.services();
    let svc = services
        .iter()
        .find(|s| s.id == id)
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("unknown service ID: {id}")))?;
    caller.require(Kind::Service, &svc.service, Need::Read)?;
    Ok(json_response(
        &AgentServiceJson::new(svc, &api.config.datacenter),
        params.pretty(&api.config),
    ))
}

/// `GET /v1/agent/checks`.
pub async fn checks(
    State(api): State<SharedState>,
    caller: Caller,
    RawQuery(q): RawQuery,
) -> Result<Response<Body>, ApiError> {
    let (params, filter) = read_params(&api, &q)?;
    let checks = api.agent.checks();
    let mut filtered = false;
    let json: BTreeMap<&str, HealthCheckJson<'_>> = checks
        .iter()
        .filter(|c| {
            let ok = if c.service_name.is_empty() {
                caller.allows(Kind::Node, &c.node, Need::Read)
            } else {
                caller.allows(Kind::Service, &c.service_name, Need::Read)
            };
            filtered |= !ok;
            ok
        })
        .map(|c| (c.check_id.as_str(), HealthCheckJson::from(c)))
        .filter(|(_, j)| keep(&filter, j))
        .collect();
    let mut resp = json_response(&json, params.pretty(&api.config));
    mark_filtered(&mut resp, filtered);
    Ok(resp)
}

/// `PUT /v1/agent/service/register`.
pub async fn register_service(
    State(api): State<SharedState>,
    caller: Caller,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Result<Response<Body>, ApiError> {
    let params = Params::parse(q.as_deref());
    let def = service_definition(parse_body(&body)?)?;
    caller.require(Kind::Service, &def.service.service, Need::Write)?;
    if let Some(old) = local_service_name(&api, &def.service.id).filter(|n| *n != def.service.service) {
        // Re-registering an ID under another name replaces that service too.
        caller.require(Kind::Service, &old, Need::Write)?;
    }
    let replace = params.has("replace-existing-checks")
        && !matches!(params.get("replace-existing-checks"), Some("false") | Some("0"));
    api.agent.register_service(def, replace)?;
    Ok(ok_empty())
}

/// `PUT /v1/agent/service/deregister/<id>`.
pub async fn deregister_service(
    State(api): State<SharedState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response<Body>, ApiError> {
    if let Some(name) = local_service_name(&api, &id) {
        caller.require(Kind::Service, &name, Need::Write)?;
    }
    api.agent.deregister_service(&id)?;
    Ok(ok_empty())
}

/// `PUT /v1/agent/check/register`.
pub async fn register_check(
    State(api): State<SharedState>,
    caller: Caller,
    body: Bytes,
) -> Result<Response<Body>, ApiError> {
    let def = check_definition(Fields::new(parse_body(&body)?, "CheckDefinition")?)?;
    match local_service_name(&api, &def.service_id).filter(|_| !def.service_id.is_empty()) {
        Some(service) => caller.require(Kind::Service, &service, Need::Write)?,
        None => caller.require(Kind::Node, &api.config.node_name, Need::Write)?,
    }
    api.agent.register_check(def)?;
    Ok(ok_empty())
}

/// `PUT /v1/agent/check/deregister/<id>`.
pub async fn deregister_check(
    State(api): State<SharedState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response<Body>, ApiError> {
    require_check_write(&api, &caller, &id)?;
    api.agent.deregister_check(&id)?;
    Ok(ok_empty())
}

async fn ttl(
    api: SharedState,
    caller: Caller,
    id: String,
    status: &str,
    q: Option<String>,
) -> Result<Response<Body>, ApiError> {
    require_check_write(&api, &caller, &id)?;
    let params = Params::parse(q.as_deref());
    let note = params.get("note").unwrap_or("");
    api.agent.update_ttl(&id, status, note)?;
    Ok(ok_empty())
}

/// `PUT /v1/agent/check/pass/<id>`.
pub async fn check_pass(
    State(api): State<SharedState>,
    caller: Caller,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response<Body>, ApiError> {
    ttl(api, caller, id, "passing", q).await
}

/// `PUT /v1/agent/check/warn/<id>`.
pub async fn check_warn(
    State(api): State<SharedState>,
    caller: Caller,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response<Body>, ApiError> {
    ttl(api, caller, id, "warning", q).await
}

/// `PUT /v1/agent/check/fail/<id>`.
pub async fn check_fail(
    State(api): State<SharedState>,
    caller: Caller,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response<Body>, ApiError> {
    ttl(api, caller, id, "critical", q).await
}

/// `PUT /v1/agent/check/update/<id>` with `{"Status": ..., "Output": ...}`.
pub async fn check_update(
    State(api): State<SharedState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response<Body>, ApiError> {
    require_check_write(&api, &caller, &id)?;
    let mut f = Fields::new(parse_body(&body)?, "checkUpdate")?;
    let status = f.string("Status")?.unwrap_or_default();
    let output = f.string("Output")?.unwrap_or_default();
    f.finish()?;
    if !matches!(status.as_str(), "passing" | "warning" | "critical") {
        return Err(ApiError::bad_request(format!("Invalid check status: '{status}'")));
    }
    api.agent.update_ttl(&id, &status, &output)?;
    Ok(ok_empty())
}

fn maintenance_params(q: &Option<String>) -> Result<(bool, String), ApiError> {
    let params = Params::parse(q.as_deref());
    let enable = match params.get("enable") {
        None => return Err(ApiError::bad_request("Missing value for enable")),
        Some("true") | Some("1") | Some("t") | Some("T") | Some("TRUE") | Some("True") => true,
        Some("false") | Some("0") | Some("f") | Some("F") | Some("FALSE") | Some("False") => false,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "Invalid value for enable: \"{other}\""
            )))
        }
    };
    Ok((enable, params.get("reason").unwrap_or("").to_string()))
}

/// `PUT /v1/agent/service/maintenance/<id>?enable=&reason=`.
pub async fn service_maintenance(
    State(api): State<SharedState>,
    caller: Caller,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response<Body>, ApiError> {
    if let Some(name) = local_service_name(&api, &id) {
        caller.require(Kind::Service, &name, Need::Write)?;
    }
    let (enable, reason) = maintenance_params(&q)?;
    api.agent.service_maintenance(&id, enable, &reason)?;
    Ok(ok_empty())
}

/// `PUT /v1/agent/maintenance?enable=&reason=`.
pub async fn node_maintenance(
    State(api): State<SharedState>,
    caller: Caller,
    RawQuery(q): RawQuery,
) -> Result<Response<Body>, ApiError> {
    caller.require(Kind::Node, &api.config.node_name, Need::Write)?;
    let (enable, reason) = maintenance_params(&q)?;
    api.agent.node_maintenance(enable, &reason);
    Ok(ok_empty())
}

/// `PUT /v1/agent/reload`.
pub async fn reload(State(api): State<SharedState>, caller: Caller) -> Result<Response<Body>, ApiError> {
    caller.require(Kind::Agent, &api.config.node_name, Need::Write)?;
    api.agent.reload()?;
    Ok(ok_empty())
}

/// `PUT /v1/agent/leave`: answers, then the agent shuts down.
pub async fn leave(State(api): State<SharedState>, caller: Caller) -> Result<Response<Body>, ApiError> {
    caller.require(Kind::Agent, &api.config.node_name, Need::Write)?;
    api.agent.leave();
    Ok(ok_empty())
}

/// `GET /v1/agent/metrics` (`?format=prometheus` for the text format).
pub async fn metrics(
    State(api): State<SharedState>,
    caller: Caller,
    RawQuery(q): RawQuery,
) -> Response<Body> {
    if let Err(e) = caller.require(Kind::Agent, &api.config.node_name, Need::Read) {
        return e.into_response();
    }
    let params = Params::parse(q.as_deref());
    if params.get("format") == Some("prometheus") {
        let mut resp = Response::new(Body::from(api.agent.metrics_prometheus()));
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        );
        add_common_headers(&mut resp);
        return resp;
    }
    json_response(&api.agent.metrics_json(), params.pretty(&api.config))
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ServiceHealthJson<'a> {
    aggregated_status: &'a str,
    service: Option<AgentServiceJson<'a>>,
    checks: Option<Vec<HealthCheckJson<'a>>>,
}

/// Worst status wins: critical > warning > passing (maintenance checks are critical).
fn aggregate(checks: &[&HealthCheck]) -> &'static str {
    if checks.iter().any(|c| c.status == "critical") {
        "critical"
    } else if checks.iter().any(|c| c.status == "warning") {
        "warning"
    } else {
        "passing"
    }
}

fn status_code(status: &str) -> StatusCode {
    match status {
        "passing" => StatusCode::OK,
        "warning" => StatusCode::TOO_MANY_REQUESTS,
        _ => StatusCode::SERVICE_UNAVAILABLE,
    }
}

fn health_response(status: StatusCode, reason: &str, text: bool, json: Vec<u8>) -> Response<Body> {
    let mut resp = if text {
        let mut r = Response::new(Body::from(reason.to_string()));
        r.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        add_common_headers(&mut r);
        r
    } else {
        crate::response::json_bytes_response(status, json)
    };
    *resp.status_mut() = status;
    if let Ok(v) = HeaderValue::from_str(reason) {
        resp.headers_mut().insert(X_CONSUL_REASON.clone(), v);
    }
    resp
}

fn instance_checks<'a>(checks: &'a [HealthCheck], service_id: &str) -> Vec<&'a HealthCheck> {
    checks
        .iter()
        .filter(|c| {
            c.service_id == service_id || c.service_id.is_empty() && c.check_id == "_node_maintenance"
        })
        .collect()
}

/// `GET /v1/agent/health/service/id/<id>`: 200/429/503 by aggregated status.
pub async fn health_by_id(
    State(api): State<SharedState>,
    caller: Caller,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Response<Body> {
    if let Some(name) = local_service_name(&api, &id) {
        if let Err(e) = caller.require(Kind::Service, &name, Need::Read) {
            return e.into_response();
        }
    }
    let params = Params::parse(q.as_deref());
    let text = params.get("format") == Some("text");
    let pretty = params.pretty(&api.config);
    let services = api.agent.services();
    let checks = api.agent.checks();
    let Some(svc) = services.iter().find(|s| s.id == id) else {
        let reason = format!("ServiceId {id} not found");
        let body = crate::response::encode_json(
            &ServiceHealthJson {
                aggregated_status: "critical",
                service: None,
                checks: None,
            },
            pretty,
        );
        return health_response(StatusCode::NOT_FOUND, &reason, text, body);
    };
    let mine = instance_checks(&checks, &svc.id);
    let status = aggregate(&mine);
    let body = crate::response::encode_json(
        &ServiceHealthJson {
            aggregated_status: status,
            service: Some(AgentServiceJson::new(svc, &api.config.datacenter)),
            checks: Some(mine.iter().map(|c| HealthCheckJson::from(*c)).collect()),
        },
        pretty,
    );
    health_response(status_code(status), status, text, body)
}

/// `GET /v1/agent/health/service/name/<name>`: every instance; worst status wins.
pub async fn health_by_name(
    State(api): State<SharedState>,
    caller: Caller,
    Path(name): Path<String>,
    RawQuery(q): RawQuery,
) -> Response<Body> {
    if let Err(e) = caller.require(Kind::Service, &name, Need::Read) {
        return e.into_response();
    }
    let params = Params::parse(q.as_deref());
    let text = params.get("format") == Some("text");
    let pretty = params.pretty(&api.config);
    let services = api.agent.services();
    let checks = api.agent.checks();
    let matching: Vec<&Service> = services.iter().filter(|s| s.service == name).collect();
    if matching.is_empty() {
        let reason = format!("ServiceName {name} Not Found");
        let body = crate::response::encode_json(&Vec::<()>::new(), pretty);
        return health_response(StatusCode::NOT_FOUND, &reason, text, body);
    }
    let mut worst = "passing";
    let items: Vec<ServiceHealthJson<'_>> = matching
        .iter()
        .map(|svc| {
            let mine = instance_checks(&checks, &svc.id);
            let status = aggregate(&mine);
            if status == "critical" || (status == "warning" && worst == "passing") {
                worst = status;
            }
            ServiceHealthJson {
                aggregated_status: status,
                service: Some(AgentServiceJson::new(svc, &api.config.datacenter)),
                checks: Some(mine.iter().map(|c| HealthCheckJson::from(*c)).collect()),
            }
        })
        .collect();
    let body = crate::response::encode_json(&items, pretty);
    health_response(status_code(worst), worst, text, body)
}
