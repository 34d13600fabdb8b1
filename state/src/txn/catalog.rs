//! Node, service and check verbs of a transaction.
//!
//! Writes go through the catalog's own register and deregister paths (so indexes,
//! per-service watch indexes and session invalidation behave exactly as for
//! `/v1/catalog/register`), after saving the node's slice of the catalog for undo.

use std::borrow::Cow;

use super::{quote, CheckOp, NodeOp, ServiceOp, TxnError, TxnOp, TxnResult, Undo};
use crate::catalog::{DeregisterRequest, HealthCheck, Node, RegisterRequest, Service, Weights};
use crate::session::go_quote_char;
use crate::store::State;

/// Consul's `ErrMissingNode`.
const MISSING_NODE: &str = "Missing node registration";
/// Consul's `ErrMissingService`.
const MISSING_SERVICE: &str = "Missing service registration";

/// A catalog operation in its current form (legacy encodings upgraded).
enum CatalogOp<'a> {
    Node(Cow<'a, NodeOp>),
    Service(Cow<'a, ServiceOp>),
    Check(Cow<'a, CheckOp>),
}

fn upgrade(op: &TxnOp) -> Option<CatalogOp<'_>> {
    Some(match op {
        TxnOp::Kv(_) => return None,
        TxnOp::Node(op) => CatalogOp::Node(Cow::Borrowed(&**op)),
        TxnOp::Service(op) => CatalogOp::Service(Cow::Borrowed(&**op)),
        TxnOp::Check(op) => CatalogOp::Check(Cow::Borrowed(&**op)),
        TxnOp::LegacyNode { verb, node } => CatalogOp::Node(Cow::Owned(NodeOp {
            verb: verb.clone(),
            node: Node {
                node: node.clone(),
                ..Default::default()
            },
        })),
        TxnOp::LegacyService {
            verb,
            node,
            service_id,
        } => CatalogOp::Service(Cow::Owned(ServiceOp {
            verb: verb.clone(),
            node: node.clone(),
            service: Service {
                id: service_id.clone(),
                ..Default::default()
            },
        })),
        TxnOp::LegacyCheck { verb, node, check_id } => CatalogOp::Check(Cow::Owned(CheckOp {
            verb: verb.clone(),
            check: HealthCheck {
                node: node.clone(),
                check_id: check_id.clone(),
                ..Default::default()
            },
        })),
    })
}

fn unknown(kind: &str, verb: &str) -> String {
    format!("unknown {kind} verb {}", quote(verb))
}

fn node_get(state: &State, node: &str) -> Result<Vec<TxnResult>, String> {
    match state.catalog.node(node) {
        Some(n) => Ok(vec![TxnResult::Node(n.clone())]),
        None => Err(format!("node {} doesn't exist", quote(node))),
    }
}

fn find_service<'a>(state: &'a State, node: &'a str, id: &str) -> Option<&'a Service> {
    state.catalog.node_services(node).find(|s| s.id == id)
}

fn find_check<'a>(state: &'a State, node: &'a str, id: &str) -> Option<&'a HealthCheck> {
    state.catalog.node_checks(node).find(|c| c.check_id == id)
}

fn service_get(state: &State, node: &str, id: &str) -> Result<Vec<TxnResult>, String> {
    match find_service(state, node, id) {
        Some(s) => Ok(vec![TxnResult::Service(s.clone())]),
        None => Err(format!(
            "service {} on node {} doesn't exist",
            quote(id),
            quote(node)
        )),
    }
}

fn check_get(state: &State, node: &str, id: &str) -> Result<Vec<TxnResult>, String> {
    match find_check(state, node, id) {
        Some(c) => Ok(vec![TxnResult::Check(c.clone())]),
        None => Err(format!(
            "check {} on node {} doesn't exist",
            quote(id),
            quote(node)
        )),
    }
}

/// Whether a `cas` may write: `index` 0 means "only if absent", otherwise it must
/// equal the existing ModifyIndex.
fn cas_ok(existing: Option<u64>, index: u64) -> bool {
    match existing {
        None => index == 0,
        Some(current) => index != 0 && current == index,
    }
}

/// Evaluates a catalog `get` (the only catalog verb that is not a write).
pub(super) fn read(state: &State, op: &TxnOp) -> Result<Vec<TxnResult>, String> {
    match upgrade(op) {
        None => Ok(Vec::new()),
        Some(CatalogOp::Node(op)) if op.verb == "get" => node_get(state, &op.node.node),
        Some(CatalogOp::Service(op)) if op.verb == "get" => service_get(state, &op.node, &op.service.id),
        Some(CatalogOp::Check(op)) if op.verb == "get" => {
            check_get(state, &op.check.node, &op.check.check_id)
        }
        Some(CatalogOp::Node(op)) => Err(unknown("Node", &op.verb)),
        Some(CatalogOp::Service(op)) => Err(unknown("Service", &op.verb)),
        Some(CatalogOp::Check(op)) => Err(unknown("Check", &op.verb)),
    }
}

/// go-uuid's `ParseUUID` validation, with its error texts.
fn parse_uuid(id: &str) -> Result<(), String> {
    let b = id.as_bytes();
    if b.len() != 36 {
        return Err("uuid string is wrong length".into());
    }
    if b[8] != b'-' || b[13] != b'-' || b[18] != b'-' || b[23] != b'-' {
        return Err("uuid is improperly formatted".into());
    }
    let hex = [&b[0..8], &b[9..13], &b[14..18], &b[19..23], &b[24..36]];
    match hex
        .iter()
        .flat_map(|part| part.iter())
        .find(|c| !c.is_ascii_hexdigit())
    {
        Some(&c) => Err(format!(
            "encoding/hex: invalid byte: U+{c:04X} {}",
            go_quote_char(char::from(c))
        )),
        None => Ok(()),
    }
}

/// Consul's checks before a transaction enters raft (the server's `preCheck`): fills
/// in defaults (a service's ID from its name, a check's ID from its name) and refuses
/// catalog writes without a node name, with a malformed node ID, a service ID without
/// a name or a wildcard service address. Any error means the transaction is refused
/// as a whole, before any operation runs.
pub fn pre_check(ops: &mut [TxnOp]) -> Vec<TxnError> {
    let mut errors = Vec::new();
    for (op_index, op) in ops.iter_mut().enumerate() {
        let result = match op {
            TxnOp::Node(op) if op.verb != "get" => {
                if op.node.node.is_empty() {
                    Err("Must provide node".to_string())
                } else if op.node.id.is_empty() {
                    Ok(())
                } else {
                    parse_uuid(&op.node.id).map_err(|e| format!("Bad node ID: {e}"))
                }
            }
            TxnOp::Service(op) if op.verb != "get" => {
                let svc = &mut op.service;
                if svc.id.is_empty() && !svc.service.is_empty() {
                    svc.id = svc.service.clone();
                }
                if !svc.id.is_empty() && svc.service.is_empty() {
                    Err("Must provide service name with ID".to_string())
                } else if matches!(svc.address.as_str(), "0.0.0.0" | "::" | "[::]") {
                    Err("Invalid service address".to_string())
                } else {
                    Ok(())
                }
            }
            TxnOp::Check(op) if op.verb != "get" => {
                if op.check.check_id.is_empty() && !op.check.name.is_empty() {
                    op.check.check_id = op.check.name.clone();
                }
                Ok(())
            }
            _ => Ok(()),
        };
        if let Err(what) = result {
            errors.push(TxnError { op_index, what });
        }
    }
    errors
}

impl State {
    /// Runs one node, service or check operation of a write transaction.
    pub(super) fn catalog_op(
        &mut self,
        index: u64,
        op: &TxnOp,
        undo: &mut Undo,
    ) -> Result<Vec<TxnResult>, String> {
        match upgrade(op) {
            None => Ok(Vec::new()),
            Some(CatalogOp::Node(op)) => self.txn_node(index, &op, undo),
            Some(CatalogOp::Service(op)) => self.txn_service(index, &op, undo),
            Some(CatalogOp::Check(op)) => self.txn_check(index, &op, undo),
        }
    }

    /// Saves the node's slice of the catalog before a write on it.
    fn before_write(&mut self, node: &str, new_service: Option<&str>, undo: &mut Undo) {
        let extra: Vec<&str> = new_service.into_iter().collect();
        undo.catalog.push(self.catalog.save_node(node, &extra));
        undo.changed.catalog = true;
    }

    /// After a write on `node`: invalidates the node's sessions as every catalog
    /// write does, first saving what that may change (the sessions table and the
    /// keys those sessions hold).
    fn after_write(&mut self, index: u64, node: &str, undo: &mut Undo) {
        let ids: Vec<String> = self.sessions.node_sessions(node).map(|s| s.id.clone()).collect();
        if ids.is_empty() {
            return;
        }
        if undo.sessions.is_none() {
            undo.sessions = Some(self.sessions.clone());
        }
        for id in &ids {
            for key in self.kv.keys_held_by(id) {
                undo.kv.push(self.kv.save_key(&key));
            }
        }
        let changed = self.invalidate_node_sessions(index, node);
        undo.changed.kv |= changed.kv;
        undo.changed.sessions |= changed.sessions;
    }

    fn register(
        &mut self,
        index: u64,
        req: &RegisterRequest,
        new_service: Option<&str>,
        undo: &mut Undo,
    ) -> Result<(), String> {
        let node = req.node.node.clone();
        self.before_write(&node, new_service, undo);
        // Callers have checked that the node and a check's service exist.
        self.catalog
            .register(index, req)
            .map_err(|_| MISSING_SERVICE.to_string())?;
        self.after_write(index, &node, undo);
        Ok(())
    }

    fn deregister(&mut self, index: u64, req: &DeregisterRequest, undo: &mut Undo) {
        self.before_write(&req.node, None, undo);
        self.catalog.deregister(index, req);
        self.after_write(index, &req.node, undo);
    }

    fn txn_node(&mut self, index: u64, op: &NodeOp, undo: &mut Undo) -> Result<Vec<TxnResult>, String> {
        let name = op.node.node.as_str();
        let current = self.catalog.node(name).map(|n| n.modify_index);
        let set = |state: &mut State, undo: &mut Undo| {
            let req = RegisterRequest {
                node: op.node.clone(),
                ..Default::default()
            };
            state.register(index, &req, None, undo)?;
            node_get(state, name)
        };
        match op.verb.as_str() {
            "get" => node_get(self, name),
            "set" => set(self, undo),
            "cas" if cas_ok(current, op.node.modify_index) => set(self, undo),
            "cas" => Err(format!("failed to set node {}, index is stale", quote(name))),
            "delete" | "delete-cas" => {
                if op.verb == "delete-cas" && current.is_none_or(|c| c != op.node.modify_index) {
                    return Err(format!("failed to delete node {}, index is stale", quote(name)));
                }
                if current.is_some() {
                    let req = DeregisterRequest {
                        node: name.to_string(),
                        ..Default::default()
                    };
                    self.deregister(index, &req, undo);
                }
                Ok(Vec::new())
            }
            other => Err(unknown("Node", other)),
        }
    }

    fn txn_service(&mut self, index: u64, op: &ServiceOp, undo: &mut Undo) -> Result<Vec<TxnResult>, String> {
        let (node, id) = (op.node.as_str(), op.service.id.as_str());
        let current = find_service(self, node, id).map(|s| s.modify_index);
        let set = |state: &mut State, undo: &mut Undo| {
            let Some(existing) = state.catalog.node(node) else {
                return Err(MISSING_NODE.to_string());
            };
            let mut svc = op.service.clone();
            // Consul's ToServiceNode: invalid weights become the defaults.
            if svc.weights.passing < 1 || svc.weights.warning < 0 {
                svc.weights = Weights::default();
            }
            let req = RegisterRequest {
                node: existing.clone(),
                skip_node_update: true,
                service: Some(svc),
                checks: Vec::new(),
            };
            state.register(index, &req, Some(&op.service.service), undo)?;
            service_get(state, node, id)
        };
        match op.verb.as_str() {
            "get" => service_get(self, node, id),
            "set" => set(self, undo),
            "cas" if cas_ok(current, op.service.modify_index) => set(self, undo),
            "cas" => Err(format!(
                "failed to set service {} on node {}, index is stale",
                quote(id),
                quote(node)
            )),
            "delete" | "delete-cas" => {
                if op.verb == "delete-cas" && current.is_none_or(|c| c != op.service.modify_index) {
                    return Err(format!(
                        "failed to delete service {} on node {}, index is stale",
                        quote(id),
                        quote(node)
                    ));
                }
                if current.is_some() {
                    let req = DeregisterRequest {
                        node: node.to_string(),
                        service_id: Some(id.to_string()),
                        check_id: None,
                    };
                    self.deregister(index, &req, undo);
                }
                Ok(Vec::new())
            }
            other => Err(unknown("Service", other)),
        }
    }

    fn txn_check(&mut self, index: u64, op: &CheckOp, undo: &mut Undo) -> Result<Vec<TxnResult>, String> {
        let (node, id) = (op.check.node.as_str(), op.check.check_id.as_str());
        let current = find_check(self, node, id).map(|c| c.modify_index);
        let set = |state: &mut State, undo: &mut Undo| {
            let Some(existing) = state.catalog.node(node) else {
                return Err(MISSING_NODE.to_string());
            };
            let service_id = op.check.service_id.as_str();
            if !service_id.is_empty() && find_service(state, node, service_id).is_none() {
                return Err(MISSING_SERVICE.to_string());
            }
            let mut check = op.check.clone();
            if check.status.is_empty() {
                check.status = "critical".into();
            }
            let req = RegisterRequest {
                node: existing.clone(),
                skip_node_update: true,
                service: None,
                checks: vec![check],
            };
            state.register(index, &req, None, undo)?;
            check_get(state, node, id)
        };
        match op.verb.as_str() {
            "get" => check_get(self, node, id),
            "set" => set(self, undo),
            "cas" if cas_ok(current, op.check.modify_index) => set(self, undo),
            "cas" => Err(format!(
                "failed to set check {} on node {}, index is stale",
                quote(id),
                quote(node)
            )),
            "delete" | "delete-cas" => {
                if op.verb == "delete-cas" && current.is_none_or(|c| c != op.check.modify_index) {
                    return Err(format!(
                        "failed to delete check {} on node {}, index is stale",
                        quote(id),
                        quote(node)
                    ));
                }
                if current.is_some() {
                    let req = DeregisterRequest {
                        node: node.to_string(),
                        service_id: None,
                        check_id: Some(id.to_string()),
                    };
                    self.deregister(index, &req, undo);
                }
                Ok(Vec::new())
            }
            other => Err(unknown("Check", other)),
        }
    }
}

#[cfg(test)]
mod tests;
