//! Decoding of `/v1/txn` node, service and check operations.
//!
//! The bodies are Consul's `api.Node`, `api.AgentService` and `api.HealthCheck`, with
//! the `cas`/`delete-cas` index in `ModifyIndex`. Only the fields Consul's txn endpoint
//! copies into the catalog are kept: a service's `TaggedAddresses` and a check's
//! top-level `Type`, `Interval` and `Timeout` are accepted and dropped, as there; a
//! check's `Definition` keeps the HTTP/TCP fields and durations Consul keeps. Unknown
//! fields are ignored (Go's decoder does not refuse them).

use rconsul_state::catalog::{HealthCheck, Node, Service, Weights};
use rconsul_state::txn::{CheckOp, NodeOp, ServiceOp, TxnOp};
use serde_json::Value;

use super::{json_type, parse_error, reword, uint};
use crate::decode::Fields;
use crate::response::ApiError;
use crate::routes::catalog::service_fields;
use rconsul_compat::duration::format as go_duration_string;

/// Go's path of the node inside a `TxnOp` (for type errors).
const NODE_AT: &str = "Node.Node.Node";
/// Go's path of the service inside a `TxnOp`.
const SERVICE_AT: &str = "AgentService.Service.Service";
/// Go's path of the check inside a `TxnOp`.
const CHECK_AT: &str = "HealthCheck.Check.Check";
/// Go's path of the check definition inside a `TxnOp`.
const DEFINITION_AT: &str = "HealthCheckDefinition.Check.Check.Definition";

fn verb(f: &mut Fields) -> Result<String, ApiError> {
    Ok(f.string("Verb").map_err(reword)?.unwrap_or_default())
}

/// `{"Verb": ..., "Node": {"ID", "Node", "Address", "Datacenter", "TaggedAddresses",
/// "Meta", "ModifyIndex"}}`; an empty datacenter becomes `datacenter`.
pub(super) fn node_op(mut f: Fields, datacenter: &str) -> Result<TxnOp, ApiError> {
    let verb = verb(&mut f)?;
    let mut node = Node::default();
    if let Some(mut n) = f.object("Node", NODE_AT).map_err(reword)? {
        node.id = n.string("ID").map_err(reword)?.unwrap_or_default();
        node.node = n.string("Node").map_err(reword)?.unwrap_or_default();
        node.address = n.string("Address").map_err(reword)?.unwrap_or_default();
        node.datacenter = n.string("Datacenter").map_err(reword)?.unwrap_or_default();
        node.tagged_addresses = n.string_map("TaggedAddresses").map_err(reword)?;
        node.meta = n.string_map("Meta").map_err(reword)?;
        node.modify_index = uint(&mut n, "ModifyIndex", NODE_AT)?;
    }
    if node.datacenter.is_empty() {
        node.datacenter = datacenter.to_string();
    }
    Ok(TxnOp::Node(Box::new(NodeOp { verb, node })))
}

/// `Weights` as Consul's txn endpoint copies it: absent fields are 0 (the state then
/// replaces weights with `Passing` < 1 by the defaults, as Consul's catalog does).
fn weights(w: Option<Fields>) -> Result<Weights, ApiError> {
    let Some(mut w) = w else {
        return Ok(Weights {
            passing: 0,
            warning: 0,
        });
    };
    Ok(Weights {
        passing: w.integer("Passing").map_err(reword)?.unwrap_or(0),
        warning: w.integer("Warning").map_err(reword)?.unwrap_or(0),
    })
}

/// `{"Verb": ..., "Node": "n1", "Service": {AgentService}}`.
pub(super) fn service_op(mut f: Fields) -> Result<TxnOp, ApiError> {
    let verb = verb(&mut f)?;
    let node = f.string("Node").map_err(reword)?.unwrap_or_default();
    let service = match f.object("Service", SERVICE_AT).map_err(reword)? {
        None => Service::default(),
        Some(mut s) => {
            // Consul's txn endpoint does not copy a service's tagged addresses.
            s.ignore(&["TaggedAddresses"]);
            let w = s
                .object("Weights", "AgentWeights.Service.Service.Weights")
                .map_err(reword)?;
            let modify_index = uint(&mut s, "ModifyIndex", SERVICE_AT)?;
            let mut svc = service_fields(&mut s, "Service").map_err(reword)?;
            svc.weights = weights(w)?;
            svc.modify_index = modify_index;
            svc
        }
    };
    Ok(TxnOp::Service(Box::new(ServiceOp { verb, node, service })))
}

/// `{"Verb": ..., "Check": {HealthCheck}}`.
pub(super) fn check_op(mut f: Fields) -> Result<TxnOp, ApiError> {
    let verb = verb(&mut f)?;
    let mut check = HealthCheck::default();
    if let Some(mut c) = f.object("Check", CHECK_AT).map_err(reword)? {
        let mut text = |name: &str| c.string(name).map_err(reword).map(Option::unwrap_or_default);
        check.node = text("Node")?;
        check.check_id = text("CheckID")?;
        check.name = text("Name")?;
        check.status = text("Status")?;
        check.notes = text("Notes")?;
        check.output = text("Output")?;
        check.service_id = text("ServiceID")?;
        check.service_name = text("ServiceName")?;
        check.service_tags = c.string_list("ServiceTags").map_err(reword)?.unwrap_or_default();
        check.modify_index = uint(&mut c, "ModifyIndex", CHECK_AT)?;
        check.definition = definition(c.object("Definition", DEFINITION_AT).map_err(reword)?)?;
    }
    if check.definition.is_empty() {
        check.definition = "{}".into();
    }
    Ok(TxnOp::Check(Box::new(CheckOp { verb, check })))
}

/// A check's `Definition` as Consul stores it from a transaction, encoded the way
/// Consul's `HealthCheckDefinition` marshals: durations first as Go strings, then the
/// HTTP/TCP fields, empty ones left out.
fn definition(d: Option<Fields>) -> Result<String, ApiError> {
    let Some(mut d) = d else {
        return Ok("{}".into());
    };
    let mut out: Vec<(&str, Value)> = Vec::new();
    for name in ["Interval", "Timeout", "DeregisterCriticalServiceAfter"] {
        if let Some(dur) = d.duration(name).map_err(reword)?.filter(|d| !d.is_zero()) {
            out.push((name, Value::String(go_duration_string(dur))));
        }
    }
    for name in [
        "HTTP",
        "TLSServerName",
        "TLSSkipVerify",
        "Header",
        "Method",
        "Body",
        "TCP",
    ] {
        let value = match name {
            "TLSSkipVerify" => d.boolean(name).map_err(reword)?.filter(|b| *b).map(Value::Bool),
            "Header" => header(&mut d)?,
            _ => d
                .string(name)
                .map_err(reword)?
                .filter(|s| !s.is_empty())
                .map(Value::String),
        };
        if let Some(v) = value {
            out.push((name, v));
        }
    }
    let fields: Vec<String> = out
        .into_iter()
        .map(|(k, v)| format!("{}:{v}", Value::from(k)))
        .collect();
    Ok(format!("{{{}}}", fields.join(",")))
}

/// `Header`: `map[string][]string`, kept only if non-empty.
fn header(d: &mut Fields) -> Result<Option<Value>, ApiError> {
    let bad = |v: &Value, ty: &str| {
        parse_error(format!(
            "json: cannot unmarshal {} into Go struct field {DEFINITION_AT}.Header of type {ty}",
            json_type(v)
        ))
    };
    match d.take(&["Header"]) {
        None => Ok(None),
        Some(Value::Object(map)) => {
            for v in map.values() {
                let ok =
                    matches!(v, Value::Array(items) if items.iter().all(Value::is_string)) || v.is_null();
                if !ok {
                    return Err(bad(v, "[]string"));
                }
            }
            Ok((!map.is_empty()).then_some(Value::Object(map)))
        }
        Some(v) => Err(bad(&v, "map[string][]string")),
    }
}

#[cfg(test)]
mod tests {
    use super::super::decode_ops;
    use super::*;

    fn decode(body: &str) -> Result<Vec<TxnOp>, String> {
        decode_ops(body.as_bytes(), 1024, "dc1").map_err(|e| e.message)
    }

    #[test]
    fn node_op_with_defaults_and_index() {
        let ops = decode(
            r#"[{"Node":{"Verb":"cas","Node":{"ID":"67539c9d-b948-ba67-edd4-d07a676d6673","Node":"n1",
                 "Address":"10.1.1.1","TaggedAddresses":{"lan":"10.1.1.1"},"Meta":{"k":"v"},"ModifyIndex":42}}}]"#,
        )
        .expect("decode");
        match &ops[..] {
            [TxnOp::Node(op)] => {
                assert_eq!(op.verb, "cas");
                let n = &op.node;
                assert_eq!(
                    (n.node.as_str(), n.address.as_str(), n.datacenter.as_str()),
                    ("n1", "10.1.1.1", "dc1")
                );
                assert_eq!((n.id.len(), n.modify_index), (36, 42));
                assert_eq!(
                    n.meta.as_ref().and_then(|m| m.get("k")).map(String::as_str),
                    Some("v")
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(ops[0].is_write());
    }

    #[test]
    fn service_op_full_body() {
        let ops = decode(
            r#"[{"Service":{"Verb":"set","Node":"n1","Service":{"Service":"web","Tags":["a"],"Port":8080,
                 "Address":"10.0.0.5","Meta":{"m":"1"},"Weights":{"Passing":3},"EnableTagOverride":true,
                 "TaggedAddresses":{"lan":{"Address":"1.2.3.4","Port":1}},"ModifyIndex":7}}}]"#,
        )
        .expect("decode");
        match &ops[..] {
            [TxnOp::Service(op)] => {
                assert_eq!((op.verb.as_str(), op.node.as_str()), ("set", "n1"));
                let s = &op.service;
                assert_eq!((s.id.as_str(), s.service.as_str(), s.port), ("web", "web", 8080));
                assert_eq!(
                    s.weights,
                    Weights {
                        passing: 3,
                        warning: 0
                    }
                );
                assert!(s.enable_tag_override && s.tagged_addresses.is_none());
                assert_eq!((s.tags.clone(), s.modify_index), (vec!["a".to_string()], 7));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn check_op_definition_and_dropped_fields() {
        let ops = decode(
            r#"[{"Check":{"Verb":"set","Check":{"Node":"n1","CheckID":"c1","Name":"HTTP","Status":"passing",
                 "ServiceID":"web","Type":"http","Interval":"10s","ModifyIndex":3,
                 "Definition":{"HTTP":"http://x/health","Interval":"10s","Timeout":5000000000,
                 "Header":{"X":["y"]},"TLSSkipVerify":false,"Bogus":1}}}}]"#,
        )
        .expect("decode");
        match &ops[..] {
            [TxnOp::Check(op)] => {
                let c = &op.check;
                assert_eq!(
                    (c.node.as_str(), c.check_id.as_str(), c.service_id.as_str()),
                    ("n1", "c1", "web")
                );
                assert_eq!(
                    (c.check_type.as_str(), c.interval.as_str(), c.modify_index),
                    ("", "", 3)
                );
                assert_eq!(
                    c.definition,
                    r#"{"Interval":"10s","Timeout":"5s","HTTP":"http://x/health","Header":{"X":["y"]}}"#
                );
            }
            other => panic!("{other:?}"),
        }
        let ops =
            decode(r#"[{"Check":{"Verb":"get","Check":{"Node":"n1","CheckID":"c1"}}}]"#).expect("decode");
        assert!(matches!(&ops[0], TxnOp::Check(op) if op.check.definition == "{}" && !ops[0].is_write()));
    }

    #[test]
    fn type_errors_name_the_go_field() {
        assert_eq!(
            decode(r#"[{"Node":{"Verb":"set","Node":{"Node":"n1","ModifyIndex":"x"}}}]"#),
            Err("Failed to parse body: json: cannot unmarshal string into Go struct field Node.Node.Node.ModifyIndex of type uint64".into())
        );
        assert_eq!(
            decode(r#"[{"Service":{"Verb":"set","Node":"n1","Service":{"Port":"80"}}}]"#),
            Err("Failed to parse body: json: cannot unmarshal string into Go struct field AgentService.Service.Service.Port of type int".into())
        );
        assert_eq!(
            decode(r#"[{"Check":{"Verb":"set","Check":{"Definition":{"Header":{"X":"y"}}}}}]"#),
            Err("Failed to parse body: json: cannot unmarshal string into Go struct field HealthCheckDefinition.Check.Check.Definition.Header of type []string".into())
        );
    }
}
