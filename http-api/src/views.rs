//! Consul's JSON shapes for catalog and health data, fields in Consul's order.

use std::collections::BTreeMap;

use rconsul_state::catalog::{HealthCheck, Node, Service, ServiceAddress, StringMap, Weights};
use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};
use serde_json::value::RawValue;

/// `{"Mode":"","MeshGateway":{},"Expose":{}}`: the proxy block of a plain service.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct EmptyProxy {
    mode: &'static str,
    mesh_gateway: Empty,
    expose: Empty,
}

/// `{}`.
#[derive(Serialize)]
pub struct Empty {}

const PROXY: EmptyProxy = EmptyProxy {
    mode: "",
    mesh_gateway: Empty {},
    expose: Empty {},
};

/// Serialises `None` maps as `{}` (endpoints where Consul never sends null).
fn map_or_empty<S: Serializer>(m: &StringMap, s: S) -> Result<S::Ok, S::Error> {
    match m {
        Some(m) => m.serialize(s),
        None => s.serialize_map(Some(0))?.end(),
    }
}

/// `{"Passing":1,"Warning":1}`.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct WeightsJson {
    passing: i64,
    warning: i64,
}

impl From<&Weights> for WeightsJson {
    fn from(w: &Weights) -> Self {
        WeightsJson {
            passing: w.passing,
            warning: w.warning,
        }
    }
}

/// `{"Address": ..., "Port": ...}`.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ServiceAddressJson<'a> {
    address: &'a str,
    port: u32,
}

impl<'a> ServiceAddressJson<'a> {
    /// Builds one.
    pub fn new(address: &'a str, port: u32) -> Self {
        ServiceAddressJson { address, port }
    }
}

fn tagged<'a>(
    m: &'a Option<BTreeMap<String, ServiceAddress>>,
) -> Option<BTreeMap<&'a str, ServiceAddressJson<'a>>> {
    m.as_ref().map(|m| {
        m.iter()
            .map(|(k, v)| {
                (
                    k.as_str(),
                    ServiceAddressJson {
                        address: &v.address,
                        port: v.port,
                    },
                )
            })
            .collect()
    })
}

/// A catalog node.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct NodeJson<'a> {
    #[serde(rename = "ID")]
    id: &'a str,
    node: &'a str,
    address: &'a str,
    datacenter: &'a str,
    tagged_addresses: &'a StringMap,
    meta: &'a StringMap,
    create_index: u64,
    modify_index: u64,
}

impl<'a> From<&'a Node> for NodeJson<'a> {
    fn from(n: &'a Node) -> Self {
        NodeJson {
            id: &n.id,
            node: &n.node,
            address: &n.address,
            datacenter: &n.datacenter,
            tagged_addresses: &n.tagged_addresses,
            meta: &n.meta,
            create_index: n.create_index,
            modify_index: n.modify_index,
        }
    }
}

/// A service instance as health and `/catalog/node` show it (`NodeService`).
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct NodeServiceJson<'a> {
    #[serde(skip_serializing_if = "str::is_empty")]
    kind: &'a str,
    #[serde(rename = "ID")]
    id: &'a str,
    service: &'a str,
    tags: &'a [String],
    address: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    tagged_addresses: Option<BTreeMap<&'a str, ServiceAddressJson<'a>>>,
    meta: &'a StringMap,
    port: u32,
    weights: WeightsJson,
    enable_tag_override: bool,
    proxy: EmptyProxy,
    connect: Empty,
    create_index: u64,
    modify_index: u64,
}

impl<'a> From<&'a Service> for NodeServiceJson<'a> {
    fn from(s: &'a Service) -> Self {
        NodeServiceJson {
            kind: &s.kind,
            id: &s.id,
            service: &s.service,
            tags: &s.tags,
            address: &s.address,
            tagged_addresses: tagged(&s.tagged_addresses),
            meta: &s.meta,
            port: s.port,
            weights: (&s.weights).into(),
            enable_tag_override: s.enable_tag_override,
            proxy: PROXY,
            connect: Empty {},
            create_index: s.create_index,
            modify_index: s.modify_index,
        }
    }
}

/// One row of `/v1/catalog/service/<name>` (`ServiceNode`).
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ServiceNodeJson<'a> {
    #[serde(rename = "ID")]
    id: &'a str,
    node: &'a str,
    address: &'a str,
    datacenter: &'a str,
    tagged_addresses: &'a StringMap,
    node_meta: &'a StringMap,
    service_kind: &'a str,
    #[serde(rename = "ServiceID")]
    service_id: &'a str,
    service_name: &'a str,
    service_tags: &'a [String],
    service_address: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    service_tagged_addresses: Option<BTreeMap<&'a str, ServiceAddressJson<'a>>>,
    service_weights: WeightsJson,
    #[serde(serialize_with = "map_or_empty")]
    service_meta: &'a StringMap,
    service_port: u32,
    service_socket_path: &'a str,
    service_enable_tag_override: bool,
    service_proxy: EmptyProxy,
    service_connect: Empty,
    create_index: u64,
    modify_index: u64,
}

impl<'a> ServiceNodeJson<'a> {
    /// Joins a node and one of its services.
    pub fn new(n: &'a Node, s: &'a Service) -> Self {
        ServiceNodeJson {
            id: &n.id,
            node: &n.node,
            address: &n.address,
            datacenter: &n.datacenter,
            tagged_addresses: &n.tagged_addresses,
            node_meta: &n.meta,
            service_kind: &s.kind,
            service_id: &s.id,
            service_name: &s.service,
            service_tags: &s.tags,
            service_address: &s.address,
            service_tagged_addresses: tagged(&s.tagged_addresses),
            service_weights: (&s.weights).into(),
            service_meta: &s.meta,
            service_port: s.port,
            service_socket_path: "",
            service_enable_tag_override: s.enable_tag_override,
            service_proxy: PROXY,
            service_connect: Empty {},
            create_index: s.create_index,
            modify_index: s.modify_index,
        }
    }
}

/// A health check (`HealthCheck`).
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct HealthCheckJson<'a> {
    node: &'a str,
    #[serde(rename = "CheckID")]
    check_id: &'a str,
    name: &'a str,
    status: &'a str,
    notes: &'a str,
    output: &'a str,
    #[serde(rename = "ServiceID")]
    service_id: &'a str,
    service_name: &'a str,
    service_tags: &'a [String],
    #[serde(rename = "Type")]
    check_type: &'a str,
    interval: &'a str,
    timeout: &'a str,
    exposed_port: u32,
    definition: RawJson<'a>,
    create_index: u64,
    modify_index: u64,
}

/// A stored JSON object text, emitted verbatim (or `{}` if it is not valid JSON).
pub struct RawJson<'a>(&'a str);

impl Serialize for RawJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match serde_json::from_str::<&RawValue>(self.0) {
            Ok(raw) => raw.serialize(s),
            Err(_) => s.serialize_map(Some(0))?.end(),
        }
    }
}

impl<'a> From<&'a HealthCheck> for HealthCheckJson<'a> {
    fn from(c: &'a HealthCheck) -> Self {
        HealthCheckJson {
            node: &c.node,
            check_id: &c.check_id,
            name: &c.name,
            status: &c.status,
            notes: &c.notes,
            output: &c.output,
            service_id: &c.service_id,
            service_name: &c.service_name,
            service_tags: &c.service_tags,
            check_type: &c.check_type,
            interval: &c.interval,
            timeout: &c.timeout,
            exposed_port: 0,
            definition: RawJson(&c.definition),
            create_index: c.create_index,
            modify_index: c.modify_index,
        }
    }
}

/// One row of `/v1/health/service/<name>` (`CheckServiceNode`).
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CheckServiceNodeJson<'a> {
    /// The node.
    pub node: NodeJson<'a>,
    /// The service instance.
    pub service: NodeServiceJson<'a>,
    /// The node's and the instance's checks.
    pub checks: Vec<HealthCheckJson<'a>>,
}
