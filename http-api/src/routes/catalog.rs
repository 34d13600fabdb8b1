//! `/v1/catalog/*`: register, deregister and read nodes and services.

use std::collections::BTreeMap;

use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::Response;
use rconsul_state::acl::{Kind, Need};
use rconsul_state::catalog::{
    DeregisterRequest, HealthCheck, Node, RegisterRequest, Service, ServiceAddress, Weights,
};
use rconsul_state::{Command, CommandResult, Table};
use serde::Serialize;

use crate::acl::Caller;
use crate::blocking::{self, QueryResult};
use crate::decode::{parse_body, Fields};
use crate::query::Params;
use crate::response::{json_response, ApiError};
use crate::routes::read::Read;
use crate::views::{NodeJson, NodeServiceJson, ServiceNodeJson};
use crate::SharedState;

/// Reads a `TaggedAddresses` map of a service: `{"lan": {"Address": .., "Port": ..}}`.
fn service_tagged_addresses(f: &mut Fields) -> Result<Option<BTreeMap<String, ServiceAddress>>, ApiError> {
    let Some(value) = f.take(&["TaggedAddresses"]) else {
        return Ok(None);
    };
    let serde_json::Value::Object(map) = value else {
        return Err(crate::decode::decode_error(
            "json: cannot unmarshal non-object into Go struct field TaggedAddresses",
        ));
    };
    let mut out = BTreeMap::new();
    for (k, v) in map {
        let mut inner = Fields::new(v, "ServiceAddress")?;
        let address = inner.string("Address")?.unwrap_or_default();
        let port = inner.integer("Port")?.unwrap_or(0);
        inner.finish()?;
        out.insert(
            k,
            ServiceAddress {
                address,
                port: u32::try_from(port).unwrap_or(0),
            },
        );
    }
    Ok(Some(out))
}

/// Reads `Weights`.
fn weights(f: &mut Fields) -> Result<Weights, ApiError> {
    match f.object("Weights", "Weights")? {
        None => Ok(Weights::default()),
        Some(mut w) => {
            let passing = w.integer("Passing")?.unwrap_or(1);
            let warning = w.integer("Warning")?.unwrap_or(1);
            w.finish()?;
            Ok(Weights { passing, warning })
        }
    }
}

/// Reads the fields a service has in both the catalog and the agent forms; the name
/// is under `name_key` (`Service` in a catalog registration, `Name` for the agent).
pub fn service_fields(f: &mut Fields, name_key: &str) -> Result<Service, ApiError> {
    let name = f.string(name_key)?.unwrap_or_default();
    let id = f
        .string("ID")?
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| name.clone());
    let port = f.integer("Port")?.unwrap_or(0);
    Ok(Service {
        kind: f.string("Kind")?.unwrap_or_default(),
        tags: f.string_list("Tags")?.unwrap_or_default(),
        address: f.string("Address")?.unwrap_or_default(),
        tagged_addresses: service_tagged_addresses(f)?,
        meta: f.string_map("Meta")?,
        port: u32::try_from(port)
            .map_err(|_| ApiError::bad_request(format!("Invalid service port {port}")))?,
        weights: weights(f)?,
        enable_tag_override: f.boolean("EnableTagOverride")?.unwrap_or(false),
        id,
        service: name,
        create_index: 0,
        modify_index: 0,
    })
}

fn service_from(mut f: Fields) -> Result<Service, ApiError> {
    let svc = service_fields(&mut f, "Service")?;
    f.ignore(&[
        "Proxy",
        "Connect",
        "SocketPath",
        "LocallyRegisteredAsSidecar",
        "Namespace",
        "Partition",
        "CreateIndex",
        "ModifyIndex",
        "RaftIndex",
        "EnterpriseMeta",
    ]);
    f.finish()?;
    Ok(svc)
}

fn check_from(mut f: Fields, node: &str) -> Result<HealthCheck, ApiError> {
    let name = f.string("Name")?.unwrap_or_default();
    let check_id = f
        .string("CheckID")?
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| name.clone());
    let definition = match f.take(&["Definition"]) {
        Some(v @ serde_json::Value::Object(_)) => v.to_string(),
        _ => "{}".to_string(),
    };
    let check = HealthCheck {
        node: node.to_string(),
        check_id,
        name,
        status: f
            .string("Status")?
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "critical".into()),
        notes: f.string("Notes")?.unwrap_or_default(),
        output: f.string("Output")?.unwrap_or_default(),
        service_id: f.string("ServiceID")?.unwrap_or_default(),
        service_name: f.string("ServiceName")?.unwrap_or_default(),
        service_tags: f.string_list("ServiceTags")?.unwrap_or_default(),
        check_type: f.string("Type")?.unwrap_or_default(),
        interval: f.string("Interval")?.unwrap_or_default(),
        timeout: f.string("Timeout")?.unwrap_or_default(),
        definition,
        create_index: 0,
        modify_index: 0,
    };
    f.ignore(&[
        "Node",
        "ExposedPort",
        "Namespace",
        "Partition",
        "CreateIndex",
        "ModifyIndex",
        "RaftIndex",
        "EnterpriseMeta",
    ]);
    f.finish()?;
    Ok(check)
}

/// Decodes a `/v1/catalog/register` body.
pub fn register_request(body: &[u8], datacenter: &str) -> Result<RegisterRequest, ApiError> {
    let mut f = Fields::new(parse_body(body)?, "RegisterRequest")?;
    let node_name = f.string("Node")?.unwrap_or_default();
    let skip_node_update = f.boolean("SkipNodeUpdate")?.unwrap_or(false);
    let node = Node {
        id: f.string("ID")?.unwrap_or_default(),
        address: f.string("Address")?.unwrap_or_default(),
        datacenter: f
            .string("Datacenter")?
            .filter(|d| !d.is_empty())
            .unwrap_or_else(|| datacenter.to_string()),
        tagged_addresses: f.string_map("TaggedAddresses")?,
        meta: f.string_map("NodeMeta")?,
        node: node_name.clone(),
        create_index: 0,
        modify_index: 0,
    };
    let service = f
        .object("Service", "NodeService")?
        .map(service_from)
        .transpose()?;
    let mut checks = Vec::new();
    if let Some(c) = f.object("Check", "HealthCheck")? {
        checks.push(check_from(c, &node_name)?);
    }
    for c in f.object_list("Checks", "HealthCheck")?.unwrap_or_default() {
        checks.push(check_from(c, &node_name)?);
    }
    f.ignore(&[
        "Segment",
        "Namespace",
        "Partition",
        "EnterpriseMeta",
        "Token",
        "WriteRequest",
        "Locality",
        "PeerName",
    ]);
    f.finish()?;
    // Consul answers these two with 500; they are the client's mistakes, so 400.
    if node_name.is_empty() {
        return Err(ApiError::bad_request("Must provide node"));
    }
    if node.address.is_empty() && !skip_node_update {
        return Err(ApiError::bad_request(
            "Must provide address if SkipNodeUpdate is not set",
        ));
    }
    Ok(RegisterRequest {
        node,
        skip_node_update,
        service,
        checks,
    })
}

fn result_to_response(result: CommandResult, pretty: bool) -> Result<Response<Body>, ApiError> {
    match result {
        CommandResult::Failed(msg) => Err(ApiError::bad_request(msg)),
        other => Ok(json_response(&other.as_bool(), pretty)),
    }
}

/// Consul's checks for a catalog registration: `node:write` on the node unless only a
/// service is added to an unchanged node, `service:write` on the service and on the
/// service of every check.
fn authorize_register(api: &SharedState, caller: &Caller, req: &RegisterRequest) -> Result<(), ApiError> {
    if !caller.is_restricted() {
        return Ok(());
    }
    let node_changes = {
        let state = api.store.read();
        match state.catalog.node(&req.node.node) {
            None => true,
            Some(n) => {
                !req.skip_node_update
                    && (n.address != req.node.address
                        || n.meta != req.node.meta
                        || n.tagged_addresses != req.node.tagged_addresses)
            }
        }
    };
    if node_changes {
        caller.require(Kind::Node, &req.node.node, Need::Write)?;
    }
    if let Some(svc) = &req.service {
        caller.require(Kind::Service, &svc.service, Need::Write)?;
    }
    for check in &req.checks {
        if check.service_id.is_empty() {
            caller.require(Kind::Node, &req.node.node, Need::Write)?;
        } else {
            let stored: Option<String> = {
                let state = api.store.read();
                let found = state
                    .catalog
                    .node_services(&req.node.node)
                    .find(|s| s.id == check.service_id)
                    .map(|s| s.service.clone());
                found
            };
            let service = stored
                .or_else(|| {
                    req.service
                        .as_ref()
                        .filter(|s| s.id == check.service_id)
                        .map(|s| s.service.clone())
                })
                .unwrap_or_else(|| check.service_name.clone());
            caller.require(Kind::Service, &service, Need::Write)?;
        }
    }
    Ok(())
}

/// `node:write` to remove a node or a node check, `service:write` for a service or its check.
fn authorize_deregister(
    api: &SharedState,
    caller: &Caller,
    node: &str,
    service_id: Option<&str>,
    check_id: Option<&str>,
) -> Result<(), ApiError> {
    if !caller.is_restricted() {
        return Ok(());
    }
    let state = api.store.read();
    let service_of = |id: &str| {
        state
            .catalog
            .node_services(node)
            .find(|s| s.id == id)
            .map(|s| s.service.clone())
    };
    match (service_id, check_id) {
        (Some(id), _) => match service_of(id) {
            Some(name) => caller.require(Kind::Service, &name, Need::Write),
            None => caller.require(Kind::Node, node, Need::Write),
        },
        (None, Some(check)) => {
            let owner = state
                .catalog
                .node_checks(node)
                .find(|c| c.check_id == check)
                .map(|c| c.service_name.clone())
                .filter(|s| !s.is_empty());
            match owner {
                Some(name) => caller.require(Kind::Service, &name, Need::Write),
                None => caller.require(Kind::Node, node, Need::Write),
            }
        }
        (None, None) => caller.require(Kind::Node, node, Need::Write),
    }
}

/// `PUT /v1/catalog/register`.
pub async fn register(
    State(api): State<SharedState>,
    caller: Caller,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Result<Response<Body>, ApiError> {
    let params = Params::parse(q.as_deref());
    let req = register_request(&body, &api.config.datacenter)?;
    authorize_register(&api, &caller, &req)?;
    let result = api
        .consensus
        .write(Command::CatalogRegister(Box::new(req)))
        .await?;
    result_to_response(result, params.pretty(&api.config))
}

/// `PUT /v1/catalog/deregister`.
pub async fn deregister(
    State(api): State<SharedState>,
    caller: Caller,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Result<Response<Body>, ApiError> {
    let params = Params::parse(q.as_deref());
    let mut f = Fields::new(parse_body(&body)?, "DeregisterRequest")?;
    let node = f.string("Node")?.unwrap_or_default();
    let service_id = f.string("ServiceID")?.filter(|s| !s.is_empty());
    let check_id = f.string("CheckID")?.filter(|s| !s.is_empty());
    f.ignore(&["Datacenter", "Namespace", "Partition", "EnterpriseMeta", "Token"]);
    f.finish()?;
    if node.is_empty() {
        return Err(ApiError::bad_request("Must provide node"));
    }
    authorize_deregister(&api, &caller, &node, service_id.as_deref(), check_id.as_deref())?;
    let result = api
        .consensus
        .write(Command::CatalogDeregister(DeregisterRequest {
            node,
            service_id,
            check_id,
        }))
        .await?;
    result_to_response(result, params.pretty(&api.config))
}

/// `GET /v1/catalog/datacenters`.
pub async fn datacenters(State(api): State<SharedState>, RawQuery(q): RawQuery) -> Response<Body> {
    let params = Params::parse(q.as_deref());
    json_response(&[&api.config.datacenter], params.pretty(&api.config))
}

/// `GET /v1/catalog/nodes`.
pub async fn nodes(
    State(api): State<SharedState>,
    caller: Caller,
    RawQuery(q): RawQuery,
) -> Result<Response<Body>, ApiError> {
    let read = Read::begin(&api, caller, q.as_deref()).await?;
    let resp = read
        .answer(
            &api.store,
            |s| s.catalog.nodes_index(),
            |s| {
                let nodes: Vec<NodeJson<'_>> = s
                    .catalog
                    .nodes()
                    .filter(|n| read.node_meta_matches(&n.meta))
                    .filter(|n| read.sees_node(&n.node))
                    .map(NodeJson::from)
                    .filter(|n| read.keep(n))
                    .collect();
                (s.catalog.nodes_index(), read.encode(&nodes))
            },
        )
        .await;
    Ok(resp)
}

/// `GET /v1/catalog/services`: names with the union of their tags.
pub async fn services(
    State(api): State<SharedState>,
    caller: Caller,
    RawQuery(q): RawQuery,
) -> Result<Response<Body>, ApiError> {
    let read = Read::begin(&api, caller, q.as_deref()).await?;
    let result = blocking::run(
        &api.store,
        Table::Catalog,
        read.opts,
        |s| s.catalog.services_index(),
        |s| {
            read.refresh(s);
            let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
            for (node, svc) in s.catalog.all_services() {
                let node_ok = s
                    .catalog
                    .node(node)
                    .is_some_and(|n| read.node_meta_matches(&n.meta));
                if !node_ok || (read.filter.is_some() && !read.keep(&NodeServiceJson::from(svc))) {
                    continue;
                }
                if !read.sees_service(&svc.service) {
                    continue;
                }
                let tags = out.entry(svc.service.clone()).or_default();
                for t in &svc.tags {
                    if !tags.contains(t) {
                        tags.push(t.clone());
                    }
                }
            }
            QueryResult {
                index: s.catalog.services_index(),
                value: out,
            }
        },
    )
    .await;
    let mut resp = json_response(&result.value, read.pretty);
    read.finish(&mut resp, result.index);
    Ok(resp)
}

/// Whether a service instance has every tag in `?tag=`.
pub fn has_tags(svc: &Service, params: &Params) -> bool {
    params.all("tag").all(|t| svc.tags.iter().any(|have| have == t))
}

/// `GET /v1/catalog/service/<name>`.
pub async fn service(
    State(api): State<SharedState>,
    caller: Caller,
    Path(name): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response<Body>, ApiError> {
    let read = Read::begin(&api, caller, q.as_deref()).await?;
    let resp = read
        .answer_cached(
            &api,
            &format!("catalog/service/{name}"),
            |s| s.catalog.service_watch_index(&name),
            |s| {
                let rows: Vec<ServiceNodeJson<'_>> = s
                    .catalog
                    .service_instances(&name)
                    .filter(|(n, svc)| has_tags(svc, &read.params) && read.node_meta_matches(&n.meta))
                    .filter(|(n, svc)| read.sees_service(&svc.service) && read.sees_node(&n.node))
                    .map(|(n, svc)| ServiceNodeJson::new(n, svc))
                    .filter(|row| read.keep(row))
                    .collect();
                (s.catalog.service_index(&name), read.encode(&rows))
            },
        )
        .await;
    Ok(resp)
}

/// `GET /v1/catalog/service/` and friends without a name.
pub async fn missing_service_name() -> ApiError {
    ApiError::bad_request("Missing service name")
}

/// `GET /v1/catalog/node/` and friends without a name.
pub async fn missing_node_name() -> ApiError {
    ApiError::bad_request("Missing node name")
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct NodeServicesMap<'a> {
    node: NodeJson<'a>,
    services: BTreeMap<&'a str, NodeServiceJson<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct NodeServicesList<'a> {
    node: Option<NodeJson<'a>>,
    services: Option<Vec<NodeServiceJson<'a>>>,
}

async fn node_view(
    api: &SharedState,
    caller: Caller,
    name: &str,
    q: Option<&str>,
) -> Result<(Read, QueryResult<Option<(Node, Vec<Service>)>>), ApiError> {
    let read = Read::begin(api, caller, q).await?;
    let idx = |s: &rconsul_state::store::State| s.catalog.nodes_index().max(s.catalog.services_index());
    let result = blocking::run(&api.store, Table::Catalog, read.opts, idx, |s| {
        read.refresh(s);
        let value = s.catalog.node(name).filter(|_| read.sees_node(name)).map(|n| {
            let services = s
                .catalog
                .node_services(name)
                .filter(|svc| read.sees_service(&svc.service))
                .filter(|svc| read.keep(&NodeServiceJson::from(*svc)))
                .cloned()
                .collect();
            (n.clone(), services)
        });
        QueryResult { index: idx(s), value }
    })
    .await;
    Ok((read, result))
}

/// `GET /v1/catalog/node/<node>`: `{"Node":..., "Services": {id: service}}`, or `null`.
pub async fn node(
    State(api): State<SharedState>,
    caller: Caller,
    Path(name): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response<Body>, ApiError> {
    let (read, result) = node_view(&api, caller, &name, q.as_deref()).await?;
    let json = result.value.as_ref().map(|(n, services)| NodeServicesMap {
        node: NodeJson::from(n),
        services: services
            .iter()
            .map(|s| (s.id.as_str(), NodeServiceJson::from(s)))
            .collect(),
    });
    let mut resp = json_response(&json, read.pretty);
    read.finish(&mut resp, result.index);
    Ok(resp)
}

/// `GET /v1/catalog/node-services/<node>`: `{"Node":..., "Services": [...]}`.
pub async fn node_services(
    State(api): State<SharedState>,
    caller: Caller,
    Path(name): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response<Body>, ApiError> {
    let (read, result) = node_view(&api, caller, &name, q.as_deref()).await?;
    let json = match &result.value {
        Some((n, services)) => NodeServicesList {
            node: Some(NodeJson::from(n)),
            services: Some(services.iter().map(NodeServiceJson::from).collect()),
        },
        None => NodeServicesList {
            node: None,
            services: None,
        },
    };
    let mut resp = json_response(&json, read.pretty);
    read.finish(&mut resp, result.index);
    Ok(resp)
}
