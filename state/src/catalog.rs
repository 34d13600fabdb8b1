//! The service catalog: nodes, services and health checks, with Consul's index rules.

use std::collections::{BTreeMap, BTreeSet};

use imbl::{HashMap, OrdMap, OrdSet};
use serde::{Deserialize, Serialize};

/// A string map as Consul stores it; `None` serialises as JSON `null`.
pub type StringMap = Option<BTreeMap<String, String>>;

/// A node in the catalog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Node {
    /// Node UUID (may be empty for externally registered nodes).
    pub id: String,
    /// Node name.
    pub node: String,
    /// Address.
    pub address: String,
    /// Datacenter.
    pub datacenter: String,
    /// `lan`, `wan`, ... addresses.
    pub tagged_addresses: StringMap,
    /// Node metadata.
    pub meta: StringMap,
    /// Raft index of creation.
    pub create_index: u64,
    /// Raft index of the last change.
    pub modify_index: u64,
}

/// A service's tagged address (`{"Address": ..., "Port": ...}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ServiceAddress {
    /// Address.
    pub address: String,
    /// Port.
    pub port: u32,
}

/// DNS SRV weights of a service instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Weights {
    /// Weight while passing.
    pub passing: i64,
    /// Weight while warning.
    pub warning: i64,
}

impl Default for Weights {
    fn default() -> Self {
        Weights {
            passing: 1,
            warning: 1,
        }
    }
}

/// A service instance on a node (Consul's `NodeService`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Service {
    /// Kind (`""` for a typical service).
    pub kind: String,
    /// Instance ID, unique per node.
    pub id: String,
    /// Service name.
    pub service: String,
    /// Tags.
    pub tags: Vec<String>,
    /// Address (empty: use the node's).
    pub address: String,
    /// Tagged addresses.
    pub tagged_addresses: Option<BTreeMap<String, ServiceAddress>>,
    /// Metadata.
    pub meta: StringMap,
    /// Port.
    pub port: u32,
    /// DNS weights.
    pub weights: Weights,
    /// Whether anti-entropy leaves catalog tag edits alone.
    pub enable_tag_override: bool,
    /// Raft index of creation.
    pub create_index: u64,
    /// Raft index of the last change.
    pub modify_index: u64,
}

/// A health check (Consul's `HealthCheck`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct HealthCheck {
    /// Node the check belongs to.
    pub node: String,
    /// Check ID, unique per node.
    pub check_id: String,
    /// Name.
    pub name: String,
    /// `passing`, `warning` or `critical` (stored as given, as Consul does).
    pub status: String,
    /// Notes.
    pub notes: String,
    /// Output of the last probe.
    pub output: String,
    /// Service instance the check belongs to (empty: a node check).
    pub service_id: String,
    /// That service's name.
    pub service_name: String,
    /// That service's tags.
    pub service_tags: Vec<String>,
    /// `http`, `tcp`, `ttl`, ... or empty.
    pub check_type: String,
    /// Interval as a Go duration string, or empty.
    pub interval: String,
    /// Timeout as a Go duration string, or empty.
    pub timeout: String,
    /// The check's definition as a JSON object text (`{}` when none).
    pub definition: String,
    /// Raft index of creation.
    pub create_index: u64,
    /// Raft index of the last change.
    pub modify_index: u64,
}

impl HealthCheck {
    /// Whether the check is `passing`.
    pub fn is_passing(&self) -> bool {
        self.status == "passing"
    }
}

/// A `/v1/catalog/register` request (also used by anti-entropy).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct RegisterRequest {
    /// The node (its indexes are ignored).
    pub node: Node,
    /// Keep the node's fields as they are, if it exists.
    pub skip_node_update: bool,
    /// A service to register on the node.
    pub service: Option<Service>,
    /// Checks to register on the node.
    pub checks: Vec<HealthCheck>,
}

/// A `/v1/catalog/deregister` request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct DeregisterRequest {
    /// The node.
    pub node: String,
    /// Remove only this service instance (and its checks).
    pub service_id: Option<String>,
    /// Remove only this check.
    pub check_id: Option<String>,
}

/// Why a catalog write was refused (deterministically, on every server).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CatalogError {
    /// A check names a service instance that is not on the node.
    UnknownService(String),
}

/// The catalog tables and their indexes.
///
/// The tables are persistent maps (`imbl`): a clone shares every node of their trees
/// and costs O(1), so a snapshot's copy of a large catalog, taken under the state's
/// read lock while raft's apply waits, no longer grows with the catalog; a write after
/// the copy copies only the tree nodes on its path. They serialise exactly as the
/// `BTreeMap`s and `BTreeSet`s they replace (a map or sequence in key order), so
/// snapshots keep their format.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Catalog {
    #[serde(deserialize_with = "crate::persistent::ord_map")]
    nodes: OrdMap<String, Node>,
    /// (node, service ID) → service.
    #[serde(deserialize_with = "crate::persistent::ord_map")]
    services: OrdMap<(String, String), Service>,
    /// (node, check ID) → check.
    #[serde(deserialize_with = "crate::persistent::ord_map")]
    checks: OrdMap<(String, String), HealthCheck>,
    nodes_index: u64,
    services_index: u64,
    checks_index: u64,
    /// Service name → the (node, service ID) keys of its instances.
    #[serde(default, deserialize_with = "crate::persistent::ord_map_of_sets")]
    by_name: OrdMap<String, OrdSet<(String, String)>>,
    /// (node, service ID) → IDs of the checks on that instance; service ID `""` holds
    /// the node-level checks. Lets health queries skip the rest of a busy node's checks.
    #[serde(default, deserialize_with = "crate::persistent::ord_map_of_sets")]
    by_instance: OrdMap<(String, String), OrdSet<String>>,
    /// Service name → index of the last change affecting its health or catalog view
    /// (an instance, its checks, its node or the node's checks). Kept after the
    /// service disappears so watchers see the removal.
    #[serde(deserialize_with = "crate::persistent::hash_map")]
    service_indexes: HashMap<String, u64>,
}

/// An index that changed in one apply: what watchers should be told.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Touched {
    /// Whether anything in the catalog changed.
    pub any: bool,
}

impl Catalog {
    /// Max of the node, service and check table indexes.
    pub fn max_index(&self) -> u64 {
        self.nodes_index.max(self.services_index).max(self.checks_index)
    }

    /// The nodes table index.
    pub fn nodes_index(&self) -> u64 {
        self.nodes_index
    }

    /// The services table index.
    pub fn services_index(&self) -> u64 {
        self.services_index
    }

    /// The checks table index.
    pub fn checks_index(&self) -> u64 {
        self.checks_index
    }

    /// The index of everything that affects `service` (see `service_indexes`); the
    /// catalog's max index if the service was never seen.
    pub fn service_index(&self, service: &str) -> u64 {
        self.service_indexes
            .get(service)
            .copied()
            .unwrap_or_else(|| self.max_index())
    }

    /// The watch index for a service: changes exactly when the service's view changes.
    pub fn service_watch_index(&self, service: &str) -> u64 {
        self.service_indexes.get(service).copied().unwrap_or(0)
    }

    /// All nodes, sorted by name.
    pub fn nodes(&self) -> impl Iterator<Item = &Node> {
        self.nodes.values()
    }

    /// One node.
    pub fn node(&self, name: &str) -> Option<&Node> {
        self.nodes.get(name)
    }

    /// Services on one node, sorted by ID.
    pub fn node_services<'a>(&'a self, node: &'a str) -> impl Iterator<Item = &'a Service> + 'a {
        self.services
            .range((node.to_string(), String::new())..)
            .take_while(move |((n, _), _)| n == node)
            .map(|(_, s)| s)
    }

    /// Checks on one node (node and service checks), sorted by ID.
    pub fn node_checks<'a>(&'a self, node: &'a str) -> impl Iterator<Item = &'a HealthCheck> + 'a {
        self.checks
            .range((node.to_string(), String::new())..)
            .take_while(move |((n, _), _)| n == node)
            .map(|(_, c)| c)
    }

    /// Every instance of `service` with its node, sorted by node then ID.
    pub fn service_instances<'a>(
        &'a self,
        service: &'a str,
    ) -> impl Iterator<Item = (&'a Node, &'a Service)> + 'a {
        self.by_name.get(service).into_iter().flatten().filter_map(|key| {
            let svc = self.services.get(key)?;
            self.nodes.get(&key.0).map(|node| (node, svc))
        })
    }

    fn index_service(&mut self, node: &str, svc: &Service) {
        self.by_name
            .entry(svc.service.clone())
            .or_default()
            .insert((node.to_string(), svc.id.clone()));
    }

    fn unindex_service(&mut self, node: &str, svc: &Service) {
        if let Some(keys) = self.by_name.get_mut(&svc.service) {
            keys.remove(&(node.to_string(), svc.id.clone()));
            if keys.is_empty() {
                self.by_name.remove(&svc.service);
            }
        }
    }

    /// Service names with the union of their tags, sorted.
    pub fn service_names(&self) -> BTreeMap<&str, BTreeSet<&str>> {
        let mut out: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for s in self.services.values() {
            out.entry(&s.service)
                .or_default()
                .extend(s.tags.iter().map(String::as_str));
        }
        out
    }

    /// Every service instance, with its node name.
    pub fn all_services(&self) -> impl Iterator<Item = (&str, &Service)> {
        self.services.iter().map(|((n, _), s)| (n.as_str(), s))
    }

    /// Every check, sorted by node then ID.
    pub fn all_checks(&self) -> impl Iterator<Item = &HealthCheck> {
        self.checks.values()
    }

    /// The checks that apply to one instance: the node's own checks and the instance's.
    pub fn instance_checks<'a>(&'a self, node: &'a str, service_id: &'a str) -> Vec<&'a HealthCheck> {
        let mut out: Vec<&HealthCheck> = self.checks_of(node, "").collect();
        if !service_id.is_empty() {
            out.extend(self.checks_of(node, service_id));
            out.sort_by(|a, b| a.check_id.cmp(&b.check_id));
        }
        out
    }

    /// The checks registered on one (node, service ID); `""` for node-level checks.
    fn checks_of<'a>(
        &'a self,
        node: &'a str,
        service_id: &'a str,
    ) -> impl Iterator<Item = &'a HealthCheck> + 'a {
        self.by_instance
            .get(&(node.to_string(), service_id.to_string()))
            .into_iter()
            .flatten()
            .filter_map(move |id| self.checks.get(&(node.to_string(), id.clone())))
    }

    /// Every check of every instance of `service`.
    pub fn service_checks<'a>(&'a self, service: &'a str) -> Vec<&'a HealthCheck> {
        let mut out = Vec::new();
        for (node, id) in self.by_name.get(service).into_iter().flatten() {
            let key = (node.clone(), id.clone());
            for check_id in self.by_instance.get(&key).into_iter().flatten() {
                if let Some(c) = self.checks.get(&(node.clone(), check_id.clone())) {
                    out.push(c);
                }
            }
        }
        out
    }

    fn index_check(&mut self, c: &HealthCheck) {
        self.by_instance
            .entry((c.node.clone(), c.service_id.clone()))
            .or_default()
            .insert(c.check_id.clone());
    }

    fn unindex_check(&mut self, c: &HealthCheck) {
        let key = (c.node.clone(), c.service_id.clone());
        if let Some(ids) = self.by_instance.get_mut(&key) {
            ids.remove(&c.check_id);
            if ids.is_empty() {
                self.by_instance.remove(&key);
            }
        }
    }

    fn bump_services_on_node(&mut self, node: &str, index: u64) {
        let names: Vec<String> = self.node_services(node).map(|s| s.service.clone()).collect();
        for name in names {
            self.service_indexes.insert(name, index);
        }
    }

    /// Applies a registration at `index`.
    pub fn register(&mut self, index: u64, req: &RegisterRequest) -> Result<(), CatalogError> {
        // Validate first so a refused request changes nothing.
        for check in &req.checks {
            if !check.service_id.is_empty()
                && !self
                    .services
                    .contains_key(&(req.node.node.clone(), check.service_id.clone()))
                && req.service.as_ref().map(|s| s.id.as_str()) != Some(check.service_id.as_str())
            {
                return Err(CatalogError::UnknownService(check.service_id.clone()));
            }
        }
        let name = req.node.node.clone();
        let existing = self.nodes.get(&name).cloned();
        let node_changed = match &existing {
            None => true,
            Some(_) if req.skip_node_update => false,
            Some(old) => {
                old.id != req.node.id
                    || old.address != req.node.address
                    || old.datacenter != req.node.datacenter
                    || old.tagged_addresses != req.node.tagged_addresses
                    || old.meta != req.node.meta
            }
        };
        if node_changed {
            let mut node = req.node.clone();
            node.create_index = existing.as_ref().map_or(index, |n| n.create_index);
            node.modify_index = index;
            self.nodes.insert(name.clone(), node);
            self.nodes_index = index;
            self.bump_services_on_node(&name, index);
        }
        if let Some(svc) = &req.service {
            let key = (name.clone(), svc.id.clone());
            let old = self.services.get(&key);
            let same = old.is_some_and(|o| {
                let mut a = o.clone();
                a.create_index = 0;
                a.modify_index = 0;
                let mut b = svc.clone();
                b.create_index = 0;
                b.modify_index = 0;
                a == b
            });
            if !same {
                let mut s = svc.clone();
                s.create_index = old.map_or(index, |o| o.create_index);
                s.modify_index = index;
                if let Some(o) = old.cloned() {
                    if o.service != s.service {
                        self.service_indexes.insert(o.service.clone(), index);
                    }
                    self.unindex_service(&name, &o);
                }
                self.index_service(&name, &s);
                self.service_indexes.insert(s.service.clone(), index);
                // Checks carry the service's name and tags; keep them in step. Only this
                // instance's checks are visited (through `by_instance`), not every check.
                let ids: Vec<String> = self
                    .by_instance
                    .get(&(name.clone(), s.id.clone()))
                    .map(|ids| ids.iter().cloned().collect())
                    .unwrap_or_default();
                for id in ids {
                    if let Some(check) = self.checks.get_mut(&(name.clone(), id)) {
                        check.service_name = s.service.clone();
                        check.service_tags = s.tags.clone();
                    }
                }
                self.services.insert(key, s);
                self.services_index = index;
            }
        }
        for check in &req.checks {
            self.upsert_check(index, &name, check);
        }
        Ok(())
    }

    fn upsert_check(&mut self, index: u64, node: &str, check: &HealthCheck) {
        let mut c = check.clone();
        c.node = node.to_string();
        if !c.service_id.is_empty() {
            if let Some(s) = self.services.get(&(node.to_string(), c.service_id.clone())) {
                c.service_name = s.service.clone();
                c.service_tags = s.tags.clone();
            }
        } else {
            c.service_name.clear();
            c.service_tags.clear();
        }
        let key = (node.to_string(), c.check_id.clone());
        let old = self.checks.get(&key);
        if let Some(o) = old {
            let mut a = o.clone();
            a.create_index = 0;
            a.modify_index = 0;
            let mut b = c.clone();
            b.create_index = 0;
            b.modify_index = 0;
            if a == b {
                return;
            }
        }
        c.create_index = old.map_or(index, |o| o.create_index);
        c.modify_index = index;
        if c.service_id.is_empty() {
            self.bump_services_on_node(node, index);
        } else {
            self.service_indexes.insert(c.service_name.clone(), index);
        }
        if let Some(o) = self.checks.get(&key).cloned() {
            self.unindex_check(&o);
        }
        self.index_check(&c);
        self.checks.insert(key, c);
        self.checks_index = index;
    }

    /// Applies a deregistration at `index`. Removing something absent is a no-op.
    pub fn deregister(&mut self, index: u64, req: &DeregisterRequest) {
        let node = req.node.as_str();
        match (&req.service_id, &req.check_id) {
            (Some(service_id), _) => self.remove_service(index, node, service_id),
            (None, Some(check_id)) => self.remove_check(index, node, check_id),
            (None, None) => {
                if self.nodes.remove(node).is_none() {
                    return;
                }
                self.nodes_index = index;
                let ids: Vec<String> = self.node_services(node).map(|s| s.id.clone()).collect();
                for id in ids {
                    self.remove_service(index, node, &id);
                }
                let checks: Vec<String> = self.node_checks(node).map(|c| c.check_id.clone()).collect();
                for id in checks {
                    self.remove_check(index, node, &id);
                }
            }
        }
    }

    fn remove_service(&mut self, index: u64, node: &str, service_id: &str) {
        let Some(svc) = self.services.remove(&(node.to_string(), service_id.to_string())) else {
            return;
        };
        self.unindex_service(node, &svc);
        self.services_index = index;
        self.service_indexes.insert(svc.service, index);
        let doomed: Vec<String> = self
            .node_checks(node)
            .filter(|c| c.service_id == service_id)
            .map(|c| c.check_id.clone())
            .collect();
        for id in doomed {
            self.remove_check(index, node, &id);
        }
    }

    fn remove_check(&mut self, index: u64, node: &str, check_id: &str) {
        let Some(check) = self.checks.remove(&(node.to_string(), check_id.to_string())) else {
            return;
        };
        self.unindex_check(&check);
        self.checks_index = index;
        if check.service_id.is_empty() {
            self.bump_services_on_node(node, index);
        } else {
            self.service_indexes.insert(check.service_name, index);
        }
    }
}

/// Everything in the catalog that writes on one node can change: the node, its
/// services and checks, the table indexes and the per-service indexes of the names
/// involved. Captured before a transaction's catalog operation so a failed
/// transaction can put the catalog back exactly as it was.
#[derive(Debug, Clone)]
pub struct SavedNode {
    name: String,
    node: Option<Node>,
    services: Vec<Service>,
    checks: Vec<HealthCheck>,
    indexes: (u64, u64, u64),
    /// Service name → its entry in `service_indexes` (`None`: absent).
    service_indexes: Vec<(String, Option<u64>)>,
}

impl Catalog {
    /// Captures node `name` with its services and checks. `extra_names` are service
    /// names the coming write may introduce on the node (a service being registered),
    /// so their per-service indexes can be restored too.
    pub fn save_node(&self, name: &str, extra_names: &[&str]) -> SavedNode {
        let services: Vec<Service> = self.node_services(name).cloned().collect();
        let checks: Vec<HealthCheck> = self.node_checks(name).cloned().collect();
        let mut names: BTreeSet<&str> = extra_names.iter().copied().collect();
        names.extend(services.iter().map(|s| s.service.as_str()));
        names.extend(
            checks
                .iter()
                .map(|c| c.service_name.as_str())
                .filter(|n| !n.is_empty()),
        );
        let service_indexes = names
            .into_iter()
            .map(|n| (n.to_string(), self.service_indexes.get(n).copied()))
            .collect();
        SavedNode {
            name: name.to_string(),
            node: self.nodes.get(name).cloned(),
            indexes: (self.nodes_index, self.services_index, self.checks_index),
            service_indexes,
            services,
            checks,
        }
    }

    /// Undoes writes: restores the saved nodes, newest capture first.
    pub fn rollback(&mut self, saved: Vec<SavedNode>) {
        for s in saved.into_iter().rev() {
            self.restore_node(s);
        }
    }

    fn restore_node(&mut self, saved: SavedNode) {
        let name = saved.name;
        let services: Vec<Service> = self.node_services(&name).cloned().collect();
        for svc in services {
            self.unindex_service(&name, &svc);
            self.services.remove(&(name.clone(), svc.id));
        }
        let checks: Vec<HealthCheck> = self.node_checks(&name).cloned().collect();
        for check in checks {
            self.unindex_check(&check);
            self.checks.remove(&(name.clone(), check.check_id));
        }
        self.nodes.remove(&name);
        if let Some(node) = saved.node {
            self.nodes.insert(name.clone(), node);
        }
        for svc in saved.services {
            self.index_service(&name, &svc);
            self.services.insert((name.clone(), svc.id.clone()), svc);
        }
        for check in saved.checks {
            self.index_check(&check);
            self.checks.insert((name.clone(), check.check_id.clone()), check);
        }
        (self.nodes_index, self.services_index, self.checks_index) = saved.indexes;
        for (service, index) in saved.service_indexes {
            match index {
                Some(i) => self.service_indexes.insert(service, i),
                None => self.service_indexes.remove(&service),
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::check;

    fn node(name: &str) -> Node {
        crate::testing::node(name, "10.0.0.1")
    }

    fn service(id: &str, name: &str) -> Service {
        crate::testing::service(id, name, &[], "", 80)
    }

    #[test]
    fn a_service_change_reaches_its_own_checks_only() {
        let mut c = Catalog::default();
        for (i, n) in ["n1", "n2"].iter().enumerate() {
            let req = RegisterRequest {
                node: node(n),
                service: Some(service("web-1", "web")),
                checks: vec![check("web-check", "web-1", "passing")],
                ..Default::default()
            };
            c.register(10 + i as u64, &req).expect("register");
        }
        let mut renamed = service("web-1", "web-v2");
        renamed.tags = vec!["blue".into()];
        let req = RegisterRequest {
            node: node("n1"),
            service: Some(renamed),
            ..Default::default()
        };
        c.register(20, &req).expect("register");
        let on_n1 = c.instance_checks("n1", "web-1");
        assert_eq!(
            (on_n1[0].service_name.as_str(), on_n1[0].service_tags.clone()),
            ("web-v2", vec!["blue".to_string()])
        );
        let on_n2 = c.instance_checks("n2", "web-1");
        assert_eq!(
            (on_n2[0].service_name.as_str(), on_n2[0].service_tags.len()),
            ("web", 0)
        );
    }

    #[test]
    fn register_and_query() {
        let mut c = Catalog::default();
        let req = RegisterRequest {
            node: node("n1"),
            service: Some(service("web-1", "web")),
            checks: vec![check("web-check", "web-1", "passing")],
            ..Default::default()
        };
        c.register(10, &req).expect("register");
        assert_eq!(c.service_instances("web").count(), 1);
        assert_eq!(c.service_index("web"), 10);
        assert_eq!(c.instance_checks("n1", "web-1")[0].service_name, "web");
        // Re-registering the same thing changes nothing.
        c.register(11, &req).expect("register");
        assert_eq!(c.service_index("web"), 10);
        assert_eq!(c.max_index(), 10);
        // A check change bumps the service's index, not other services'.
        c.register(
            12,
            &RegisterRequest {
                node: node("n1"),
                service: Some(service("db-1", "db")),
                ..Default::default()
            },
        )
        .expect("register");
        assert_eq!(c.service_index("web"), 10);
        let mut failing = req.clone();
        failing.checks[0].status = "critical".into();
        c.register(13, &failing).expect("register");
        assert_eq!(c.service_index("web"), 13);
        assert_eq!(c.service_index("db"), 12);
        // A node check affects every service on the node.
        c.register(
            14,
            &RegisterRequest {
                node: node("n1"),
                checks: vec![check("serfHealth", "", "passing")],
                ..Default::default()
            },
        )
        .expect("register");
        assert_eq!((c.service_index("web"), c.service_index("db")), (14, 14));
    }

    /// The catalog's layout before its tables became persistent maps.
    #[derive(Serialize, Deserialize, PartialEq, Debug)]
    struct StdCatalog {
        nodes: BTreeMap<String, Node>,
        services: BTreeMap<(String, String), Service>,
        checks: BTreeMap<(String, String), HealthCheck>,
        nodes_index: u64,
        services_index: u64,
        checks_index: u64,
        by_name: BTreeMap<String, BTreeSet<(String, String)>>,
        by_instance: BTreeMap<(String, String), BTreeSet<String>>,
        service_indexes: std::collections::HashMap<String, u64>,
    }

    fn sample() -> Catalog {
        let mut c = Catalog::default();
        for (i, n) in ["n2", "n1", "n3"].iter().enumerate() {
            let req = RegisterRequest {
                node: node(n),
                service: Some(service("web-1", "web")),
                checks: vec![
                    check("web-check", "web-1", "passing"),
                    check("serfHealth", "", "critical"),
                ],
                ..Default::default()
            };
            c.register(10 + i as u64, &req).expect("register");
        }
        c
    }

    #[test]
    fn snapshots_keep_the_btreemap_layout() {
        let c = sample();
        let std = StdCatalog {
            nodes: c.nodes.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            services: c.services.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            checks: c.checks.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            nodes_index: c.nodes_index,
            services_index: c.services_index,
            checks_index: c.checks_index,
            by_name: c
                .by_name
                .iter()
                .map(|(k, v)| (k.clone(), v.iter().cloned().collect()))
                .collect(),
            by_instance: c
                .by_instance
                .iter()
                .map(|(k, v)| (k.clone(), v.iter().cloned().collect()))
                .collect(),
            // One service only: a hash map's order is its own either way.
            service_indexes: c.service_indexes.iter().map(|(k, v)| (k.clone(), *v)).collect(),
        };
        assert_eq!(std.service_indexes.len(), 1);
        let bytes = bincode::serialize(&std).expect("encode");
        assert_eq!(bincode::serialize(&c).expect("encode"), bytes);
        let decoded: Catalog = bincode::deserialize(&bytes).expect("decode");
        assert_eq!(decoded, c);
        assert_eq!(decoded.service_instances("web").count(), 3);
    }

    #[test]
    fn a_copy_is_unchanged_by_later_writes() {
        let mut c = sample();
        let copy = c.clone();
        let before = bincode::serialize(&copy).expect("encode");
        c.register(
            20,
            &RegisterRequest {
                node: node("n1"),
                service: Some(service("db-1", "db")),
                checks: vec![check("web-check", "web-1", "critical")],
                ..Default::default()
            },
        )
        .expect("register");
        c.deregister(
            21,
            &DeregisterRequest {
                node: "n2".into(),
                ..Default::default()
            },
        );
        assert_eq!(bincode::serialize(&copy).expect("encode"), before);
        assert_eq!(copy.service_instances("web").count(), 3);
        assert_eq!(copy.service_instances("db").count(), 0);
        assert_eq!(copy.instance_checks("n1", "web-1")[1].status, "passing");
        assert_eq!(c.service_instances("web").count(), 2);
        assert_eq!(c.instance_checks("n1", "web-1")[1].status, "critical");
        assert_eq!(copy.max_index(), 12);
    }

    #[test]
    fn check_for_unknown_service_is_refused() {
        let mut c = Catalog::default();
        let req = RegisterRequest {
            node: node("n1"),
            checks: vec![check("x", "nosuch", "passing")],
            ..Default::default()
        };
        assert_eq!(
            c.register(5, &req),
            Err(CatalogError::UnknownService("nosuch".into()))
        );
        assert_eq!(c.nodes().count(), 0);
    }

    #[test]
    fn deregister_cascades() {
        let mut c = Catalog::default();
        c.register(
            1,
            &RegisterRequest {
                node: node("n1"),
                service: Some(service("web-1", "web")),
                checks: vec![check("c1", "web-1", "passing"), check("node", "", "passing")],
                ..Default::default()
            },
        )
        .expect("register");
        c.deregister(
            2,
            &DeregisterRequest {
                node: "n1".into(),
                service_id: Some("web-1".into()),
                check_id: None,
            },
        );
        assert_eq!(c.node_checks("n1").count(), 1);
        assert_eq!(c.service_index("web"), 2);
        c.deregister(
            3,
            &DeregisterRequest {
                node: "n1".into(),
                ..Default::default()
            },
        );
        assert_eq!((c.nodes().count(), c.all_checks().count()), (0, 0));
    }
}
