//! Catalog fixtures for tests: this crate's unit tests and other crates' (the DNS
//! responder's, in `dns/src/tests.rs`) build their nodes, services and checks here.
//!
//! Compiled only for this crate's tests and with the `testing` feature, which other
//! crates enable in their `[dev-dependencies]` only: it is never part of a normal build.

use crate::catalog::{HealthCheck, Node, Service};

/// A node in `dc1`.
pub fn node(name: &str, addr: &str) -> Node {
    Node {
        node: name.into(),
        address: addr.into(),
        datacenter: "dc1".into(),
        ..Default::default()
    }
}

/// A service instance; an empty `addr` means the node's address.
pub fn service(id: &str, name: &str, tags: &[&str], addr: &str, port: u32) -> Service {
    Service {
        id: id.into(),
        service: name.into(),
        tags: tags.iter().map(|t| t.to_string()).collect(),
        address: addr.into(),
        port,
        ..Default::default()
    }
}

/// A check named after its ID; an empty `service_id` makes it a node check.
pub fn check(id: &str, service_id: &str, status: &str) -> HealthCheck {
    HealthCheck {
        check_id: id.into(),
        name: id.into(),
        service_id: service_id.into(),
        status: status.into(),
        definition: "{}".into(),
        ..Default::default()
    }
}
