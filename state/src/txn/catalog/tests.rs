use super::*;
use crate::catalog::Weights;
use crate::session::{Behavior, Session};
use crate::txn::test_util::{kv, txn};
use crate::txn::{read as read_txn, KvOp, TxnOutcome};
use crate::{Command, StateStore, Table};

fn node_op(verb: &str, name: &str, index: u64) -> TxnOp {
    TxnOp::Node(Box::new(NodeOp {
        verb: verb.into(),
        node: Node {
            node: name.into(),
            address: "10.0.0.1".into(),
            datacenter: "dc1".into(),
            modify_index: index,
            ..Default::default()
        },
    }))
}

fn service_op(verb: &str, node: &str, id: &str, name: &str, index: u64) -> TxnOp {
    TxnOp::Service(Box::new(ServiceOp {
        verb: verb.into(),
        node: node.into(),
        service: Service {
            id: id.into(),
            service: name.into(),
            port: 80,
            weights: Weights::default(),
            modify_index: index,
            ..Default::default()
        },
    }))
}

fn check_op(verb: &str, node: &str, id: &str, service_id: &str, status: &str, index: u64) -> TxnOp {
    TxnOp::Check(Box::new(CheckOp {
        verb: verb.into(),
        check: HealthCheck {
            node: node.into(),
            check_id: id.into(),
            name: id.into(),
            service_id: service_id.into(),
            status: status.into(),
            modify_index: index,
            ..Default::default()
        },
    }))
}

fn errors(out: &TxnOutcome) -> Vec<(usize, &str)> {
    out.errors.iter().map(|e| (e.op_index, e.what.as_str())).collect()
}

/// n1 with web-1 (check web-check) and a node check, all at index 5.
fn seeded() -> StateStore {
    let store = StateStore::new();
    let out = txn(
        &store,
        5,
        vec![
            node_op("set", "n1", 0),
            service_op("set", "n1", "web-1", "web", 0),
            check_op("set", "n1", "web-check", "web-1", "passing", 0),
            check_op("set", "n1", "node-check", "", "passing", 0),
        ],
    );
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    store
}

#[test]
fn node_verbs() {
    let store = StateStore::new();
    let out = txn(&store, 3, vec![node_op("set", "n1", 0), node_op("get", "n1", 0)]);
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    match &out.results[..] {
        [TxnResult::Node(set), TxnResult::Node(got)] => {
            assert_eq!((set.create_index, set.modify_index), (3, 3));
            assert_eq!(
                (got.address.as_str(), got.datacenter.as_str()),
                ("10.0.0.1", "dc1")
            );
        }
        other => panic!("{other:?}"),
    }
    // cas: 0 means "only if absent"; otherwise the ModifyIndex must match.
    let out = txn(&store, 4, vec![node_op("cas", "n1", 0), node_op("cas", "n1", 2)]);
    assert_eq!(
        errors(&out),
        vec![
            (0, "failed to set node \"n1\", index is stale"),
            (1, "failed to set node \"n1\", index is stale"),
        ]
    );
    let mut changed = node_op("cas", "n1", 3);
    if let TxnOp::Node(op) = &mut changed {
        op.node.address = "10.0.0.2".into();
    }
    let out = txn(&store, 6, vec![changed, node_op("cas", "n2", 0)]);
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    assert_eq!(
        store
            .read()
            .catalog
            .node("n1")
            .map(|n| (n.create_index, n.modify_index)),
        Some((3, 6))
    );
    // delete-cas needs the node and its index; delete of an absent node is fine.
    let out = txn(
        &store,
        7,
        vec![node_op("delete-cas", "n1", 3), node_op("delete-cas", "nosuch", 0)],
    );
    assert_eq!(
        errors(&out),
        vec![
            (0, "failed to delete node \"n1\", index is stale"),
            (1, "failed to delete node \"nosuch\", index is stale"),
        ]
    );
    let out = txn(
        &store,
        8,
        vec![
            node_op("delete-cas", "n1", 6),
            node_op("delete", "n2", 0),
            node_op("delete", "nosuch", 0),
        ],
    );
    assert!(out.errors.is_empty() && out.results.is_empty(), "{out:?}");
    assert_eq!(store.read().catalog.nodes().count(), 0);
    let out = txn(&store, 9, vec![node_op("bogus", "n1", 0)]);
    assert_eq!(errors(&out), vec![(0, "unknown Node verb \"bogus\"")]);
}

#[test]
fn service_verbs() {
    let store = seeded();
    let out = txn(&store, 6, vec![service_op("set", "nosuch", "db-1", "db", 0)]);
    assert_eq!(errors(&out), vec![(0, "Missing node registration")]);
    let out = txn(
        &store,
        7,
        vec![
            service_op("cas", "n1", "web-1", "web", 0),
            service_op("cas", "n1", "web-1", "web", 4),
            service_op("cas", "n1", "db-1", "db", 9),
            service_op("delete-cas", "n1", "web-1", "web", 4),
            service_op("delete-cas", "n1", "db-1", "db", 0),
        ],
    );
    assert_eq!(
        errors(&out),
        vec![
            (
                0,
                "failed to set service \"web-1\" on node \"n1\", index is stale"
            ),
            (
                1,
                "failed to set service \"web-1\" on node \"n1\", index is stale"
            ),
            (2, "failed to set service \"db-1\" on node \"n1\", index is stale"),
            (
                3,
                "failed to delete service \"web-1\" on node \"n1\", index is stale"
            ),
            (
                4,
                "failed to delete service \"db-1\" on node \"n1\", index is stale"
            ),
        ]
    );
    let mut retagged = service_op("cas", "n1", "web-1", "web", 5);
    if let TxnOp::Service(op) = &mut retagged {
        op.service.tags = vec!["v2".into()];
        op.service.weights = Weights {
            passing: 0,
            warning: 0,
        };
    }
    let out = txn(
        &store,
        8,
        vec![retagged, service_op("cas", "n1", "db-1", "db", 0)],
    );
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    match &out.results[0] {
        TxnResult::Service(s) => {
            assert_eq!((s.create_index, s.modify_index), (5, 8));
            assert_eq!(
                s.weights,
                Weights::default(),
                "invalid weights become the defaults"
            );
        }
        other => panic!("{other:?}"),
    }
    {
        let state = store.read();
        let check = find_check(&state, "n1", "web-check").expect("check");
        assert_eq!(check.service_tags, vec!["v2"], "checks follow their service");
        assert_eq!(state.catalog.service_index("web"), 8);
    }
    // Deleting a service takes its checks with it; deleting an absent one is fine.
    let out = txn(
        &store,
        9,
        vec![
            service_op("delete-cas", "n1", "web-1", "web", 8),
            service_op("delete", "n1", "nosuch", "", 0),
        ],
    );
    assert!(out.errors.is_empty() && out.results.is_empty(), "{out:?}");
    let state = store.read();
    assert!(find_check(&state, "n1", "web-check").is_none());
    assert_eq!(state.catalog.service_index("web"), 9);
}

#[test]
fn check_verbs() {
    let store = seeded();
    let out = txn(
        &store,
        6,
        vec![
            check_op("set", "nosuch", "c", "", "passing", 0),
            check_op("set", "n1", "c", "nosuch", "passing", 0),
            check_op("cas", "n1", "web-check", "web-1", "warning", 0),
            check_op("delete-cas", "n1", "web-check", "web-1", "", 4),
            check_op("delete-cas", "n1", "nosuch", "", "", 0),
        ],
    );
    assert_eq!(
        errors(&out),
        vec![
            (0, "Missing node registration"),
            (1, "Missing service registration"),
            (
                2,
                "failed to set check \"web-check\" on node \"n1\", index is stale"
            ),
            (
                3,
                "failed to delete check \"web-check\" on node \"n1\", index is stale"
            ),
            (
                4,
                "failed to delete check \"nosuch\" on node \"n1\", index is stale"
            ),
        ]
    );
    let out = txn(
        &store,
        7,
        vec![
            check_op("cas", "n1", "web-check", "web-1", "warning", 5),
            check_op("set", "n1", "new", "", "", 0),
        ],
    );
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    match &out.results[..] {
        [TxnResult::Check(cas), TxnResult::Check(new)] => {
            assert_eq!(
                (cas.status.as_str(), cas.service_name.as_str()),
                ("warning", "web")
            );
            assert_eq!((cas.create_index, cas.modify_index), (5, 7));
            assert_eq!(new.status, "critical", "status defaults to critical");
        }
        other => panic!("{other:?}"),
    }
    let out = txn(
        &store,
        8,
        vec![
            check_op("delete-cas", "n1", "web-check", "", "", 7),
            check_op("delete", "n1", "new", "", "", 0),
        ],
    );
    assert!(out.errors.is_empty() && out.results.is_empty(), "{out:?}");
    assert_eq!(store.read().catalog.node_checks("n1").count(), 1);
    let out = read_txn(&store.read(), &[check_op("get", "n1", "node-check", "", "", 0)]);
    assert!(matches!(&out.results[..], [TxnResult::Check(c)] if c.check_id == "node-check"));
}

#[test]
fn failed_mixed_txn_leaves_kv_catalog_and_watches_untouched() {
    let store = seeded();
    txn(&store, 6, vec![kv("set", "k", "v", 0)]);
    let catalog_before = store.read().catalog.clone();
    let kv_before = store
        .read()
        .kv
        .list("")
        .1
        .into_iter()
        .cloned()
        .collect::<Vec<_>>();
    let mut catalog_watch = store.watch(Table::Catalog);
    let mut kv_watch = store.watch(Table::Kvs);
    catalog_watch.borrow_and_update();
    kv_watch.borrow_and_update();
    let out = txn(
        &store,
        7,
        vec![
            kv("set", "k", "changed", 0),
            kv("set", "new", "x", 0),
            node_op("set", "n2", 0),
            service_op("set", "n2", "api-1", "api", 0),
            check_op("set", "n2", "api-check", "api-1", "passing", 0),
            service_op("set", "n1", "web-2", "web", 0),
            check_op("set", "n1", "node-check", "", "critical", 0),
            service_op("delete", "n1", "web-1", "", 0),
            node_op("delete", "n1", 0),
            service_op("cas", "n2", "api-1", "api", 99),
        ],
    );
    assert_eq!(
        errors(&out),
        vec![(
            9,
            "failed to set service \"api-1\" on node \"n2\", index is stale"
        )]
    );
    assert!(out.results.is_empty());
    let state = store.read();
    assert!(state.catalog == catalog_before, "catalog rolled back");
    let kv_after: Vec<_> = state.kv.list("").1.into_iter().cloned().collect();
    assert_eq!(kv_after, kv_before, "KV rolled back");
    assert_eq!((state.kv.table_index(), state.catalog.max_index()), (6, 5));
    assert_eq!(
        state.catalog.service_index("api"),
        5,
        "unknown service: the catalog's index"
    );
    assert!(!catalog_watch.has_changed().unwrap_or(true), "no catalog wake-up");
    assert!(!kv_watch.has_changed().unwrap_or(true), "no KV wake-up");
}

#[test]
fn committed_catalog_txn_bumps_indexes_and_wakes_watchers() {
    let store = seeded();
    let mut catalog_watch = store.watch(Table::Catalog);
    catalog_watch.borrow_and_update();
    let out = txn(
        &store,
        9,
        vec![
            kv("set", "cfg", "1", 0),
            node_op("set", "n2", 0),
            service_op("set", "n2", "web-2", "web", 0),
        ],
    );
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    assert_eq!(*catalog_watch.borrow_and_update(), 9);
    let state = store.read();
    assert_eq!(state.catalog.service_index("web"), 9);
    assert_eq!(state.catalog.service_instances("web").count(), 2);
    assert_eq!(state.kv.table_index(), 9);
}

#[test]
fn session_invalidation_is_undone_with_the_txn() {
    let store = seeded();
    let id = "11111111-1111-1111-1111-111111111111";
    store.apply(
        6,
        &[Command::SessionCreate(Box::new(Session {
            id: id.into(),
            node: "n1".into(),
            behavior: Behavior::Release,
            lock_delay_ns: 15_000_000_000,
            node_checks: Some(vec!["node-check".into()]),
            ..Default::default()
        }))],
    );
    let lock = TxnOp::Kv(KvOp {
        verb: "lock".into(),
        key: "leader".into(),
        session: id.into(),
        ..Default::default()
    });
    assert!(txn(&store, 7, vec![lock]).errors.is_empty());
    let critical = || check_op("set", "n1", "node-check", "", "critical", 0);

    // The check turns critical (invalidating the session) but the txn fails.
    let out = txn(&store, 8, vec![critical(), node_op("cas", "n1", 1)]);
    assert_eq!(out.errors.len(), 1);
    {
        let state = store.read();
        assert!(state.sessions.get(id).is_some(), "session restored");
        assert_eq!(
            state
                .kv
                .get("leader")
                .1
                .and_then(|e| e.session.clone())
                .as_deref(),
            Some(id)
        );
        assert!(
            !state.sessions.lock_delayed("leader", 1),
            "no lock-delay left behind"
        );
    }

    // Committed, the invalidation releases the lock at the txn's index.
    let mut sessions_watch = store.watch(Table::Sessions);
    sessions_watch.borrow_and_update();
    let out = txn(&store, 9, vec![critical()]);
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    let state = store.read();
    assert!(state.sessions.get(id).is_none());
    assert_eq!(
        state
            .kv
            .get("leader")
            .1
            .map(|e| (e.session.is_none(), e.modify_index)),
        Some((true, 9))
    );
    assert!(sessions_watch.has_changed().unwrap_or(false));
}

#[test]
fn pre_check_fills_defaults_and_refuses_bad_writes() {
    let mut ops = vec![
        node_op("set", "", 0),
        node_op("get", "", 0),
        service_op("set", "n1", "", "web", 0),
        service_op("set", "n1", "web-1", "", 0),
        check_op("set", "n1", "", "", "", 0),
    ];
    if let TxnOp::Check(op) = &mut ops[4] {
        op.check.name = "Memory".into();
    }
    let mut bad_id = node_op("set", "n1", 0);
    if let TxnOp::Node(op) = &mut bad_id {
        op.node.id = "not-a-uuid".into();
    }
    ops.push(bad_id);
    let mut bad_hex = node_op("set", "n1", 0);
    if let TxnOp::Node(op) = &mut bad_hex {
        op.node.id = "g1111111-1111-1111-1111-111111111111".into();
    }
    ops.push(bad_hex);
    let mut any_address = service_op("set", "n1", "x", "x", 0);
    if let TxnOp::Service(op) = &mut any_address {
        op.service.address = "0.0.0.0".into();
    }
    ops.push(any_address);
    let errs = pre_check(&mut ops);
    let errs: Vec<(usize, &str)> = errs.iter().map(|e| (e.op_index, e.what.as_str())).collect();
    assert_eq!(
        errs,
        vec![
            (0, "Must provide node"),
            (3, "Must provide service name with ID"),
            (5, "Bad node ID: uuid string is wrong length"),
            (6, "Bad node ID: encoding/hex: invalid byte: U+0067 'g'"),
            (7, "Invalid service address"),
        ]
    );
    assert!(matches!(&ops[2], TxnOp::Service(op) if op.service.id == "web"));
    assert!(matches!(&ops[4], TxnOp::Check(op) if op.check.check_id == "Memory"));
}

#[test]
fn legacy_encodings_still_decode_and_read() {
    let store = seeded();
    let legacy = vec![
        TxnOp::LegacyNode {
            verb: "get".into(),
            node: "n1".into(),
        },
        TxnOp::LegacyService {
            verb: "get".into(),
            node: "n1".into(),
            service_id: "web-1".into(),
        },
        TxnOp::LegacyCheck {
            verb: "get".into(),
            node: "n1".into(),
            check_id: "web-check".into(),
        },
    ];
    let bytes = bincode::serialize(&legacy).expect("encode");
    let decoded: Vec<TxnOp> = bincode::deserialize(&bytes).expect("decode");
    assert!(decoded.iter().all(|op| !op.is_write()));
    let out = read_txn(&store.read(), &decoded);
    assert!(out.errors.is_empty() && out.results.len() == 3, "{out:?}");
}
