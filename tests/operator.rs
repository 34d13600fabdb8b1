//! Cluster operator commands against real 3-server clusters on loopback:
//! `operator raft list-peers` / `/v1/operator/raft/configuration`, `remove-peer` of a
//! stopped server, `join` of an agent started alone, and `force-leave` of a killed one.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{cli, try_http, wait_for, Agent};

const CONVERGE: Duration = Duration::from_secs(30);

fn agent(ip: &str, name: &str, dir: &Path, server: bool, join: Option<&str>) -> Agent {
    let mut args = vec![
        "agent".to_string(),
        format!("-bind={ip}"),
        format!("-client={ip}"),
        format!("-node={name}"),
        format!("-data-dir={}", dir.join(name).display()),
    ];
    if server {
        args.push("-server".into());
        args.push("-bootstrap-expect=3".into());
    }
    if let Some(join) = join {
        args.push(format!("-retry-join={join}"));
    }
    Agent::with_args(ip, args)
}

/// Three servers joined through the first one, with a leader.
fn three_servers(ips: [&str; 3], dir: &Path) -> Vec<Agent> {
    let servers: Vec<Agent> = ips
        .iter()
        .enumerate()
        .map(|(i, ip)| agent(ip, &format!("srv{}", i + 1), dir, true, Some(ips[0])))
        .collect();
    for s in &servers {
        s.wait_ready(CONVERGE);
    }
    servers
}

/// `/v1/operator/raft/configuration` servers of `agent`, if it answers 200.
fn raft_servers(agent: &Agent) -> Option<Vec<serde_json::Value>> {
    let r = try_http("GET", &agent.url("/v1/operator/raft/configuration"), None).ok()?;
    if r.status != 200 {
        return None;
    }
    r.json()["Servers"].as_array().cloned()
}

/// Status of member `name` as `agent` sees it (1 alive, 3 left, 4 failed).
fn member_status(agent: &Agent, name: &str) -> Option<u64> {
    let r = try_http("GET", &agent.url("/v1/agent/members"), None).ok()?;
    let members = r.json();
    members
        .as_array()?
        .iter()
        .find(|m| m["Name"] == name)
        .and_then(|m| m["Status"].as_u64())
}

fn http_addr(agent: &Agent) -> String {
    format!("-http-addr={}:8500", agent.ip)
}

#[test]
fn list_peers_and_remove_a_stopped_server() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ips = ["127.0.20.1", "127.0.20.2", "127.0.20.3"];
    let mut servers = three_servers(ips, dir.path());

    // Every server reports 3 voters, exactly one of them the leader.
    for s in &servers {
        wait_for("3 voters with one leader", CONVERGE, || {
            let list = raft_servers(s)?;
            let voters = list.iter().filter(|v| v["Voter"] == true).count();
            let leaders = list.iter().filter(|v| v["Leader"] == true).count();
            (list.len() == 3 && voters == 3 && leaders == 1).then_some(())
        });
    }
    let list = raft_servers(&servers[0]).expect("configuration");
    let mut addrs: Vec<&str> = list.iter().filter_map(|s| s["Address"].as_str()).collect();
    addrs.sort_unstable();
    assert_eq!(addrs, ["127.0.20.1:8300", "127.0.20.2:8300", "127.0.20.3:8300"]);
    assert!(list.iter().all(|s| s["ProtocolVersion"] == "3"), "{list:?}");

    let (code, out, err) = cli(&["operator", "raft", "list-peers", &http_addr(&servers[1])], &[]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 4, "{out}");
    assert_eq!(
        lines[0],
        "Node  ID                                    Address          State     Voter  RaftProtocol",
        "{out}"
    );
    assert_eq!(out.matches("  leader    true   3").count(), 1, "{out}");
    assert_eq!(out.matches("  follower  true   3").count(), 2, "{out}");

    // An address that is no peer: Consul's error, exit 1.
    let (code, _, err) = cli(
        &[
            "operator",
            "raft",
            "remove-peer",
            "-address=127.0.20.9:8300",
            &http_addr(&servers[0]),
        ],
        &[],
    );
    assert_eq!(code, 1);
    assert_eq!(
        err,
        "Error removing peer: Unexpected response code: 500 (address \"127.0.20.9:8300\" was not found in the Raft configuration)\n"
    );

    // Stop a follower, wait until gossip sees it failed, then remove it through another
    // follower (the request is forwarded to the leader).
    let leader_addr = list
        .iter()
        .find(|s| s["Leader"] == true)
        .and_then(|s| s["Address"].as_str())
        .expect("leader")
        .to_string();
    let followers: Vec<usize> = (0..3)
        .filter(|i| format!("{}:8300", ips[*i]) != leader_addr)
        .collect();
    let (victim, via) = (followers[0], followers[1]);
    let victim_name = format!("srv{}", victim + 1);
    servers[victim].kill9();
    wait_for("the stopped server to be failed", CONVERGE, || {
        (member_status(&servers[via], &victim_name) == Some(4)).then_some(())
    });
    let victim_addr = format!("{}:8300", ips[victim]);
    let (code, out, err) = cli(
        &[
            "operator",
            "raft",
            "remove-peer",
            &format!("-address={victim_addr}"),
            &http_addr(&servers[via]),
        ],
        &[],
    );
    assert_eq!((code, err.as_str()), (0, ""), "{out}");
    assert_eq!(out, format!("Removed peer with address \"{victim_addr}\"\n"));

    for i in (0..3).filter(|i| *i != victim) {
        wait_for("a configuration of 2", CONVERGE, || {
            let list = raft_servers(&servers[i])?;
            (list.len() == 2 && list.iter().all(|s| s["Address"] != victim_addr.as_str())).then_some(())
        });
    }
    // Writes still commit with the two remaining servers.
    let r = servers[via].put("/v1/kv/operator/after-remove", b"ok");
    assert_eq!(
        (r.status, r.text().trim()),
        (200, "true"),
        "{}",
        servers[via].log()
    );
    let r = servers[via].get("/v1/status/peers");
    assert_eq!(r.json().as_array().map(Vec::len), Some(2), "{}", r.text());
}

#[test]
fn join_a_lone_agent_then_force_leave_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ips = ["127.0.21.1", "127.0.21.2", "127.0.21.3"];
    let servers = three_servers(ips, dir.path());
    let mut lone = agent("127.0.21.4", "lone", dir.path(), false, None);
    wait_for("the lone agent's HTTP API", CONVERGE, || {
        try_http("GET", &lone.url("/v1/agent/self"), None)
            .ok()
            .map(|_| ())
    });

    // Nothing listens there: Consul's error and exit 1.
    let (code, out, err) = cli(&["join", &http_addr(&lone), "127.0.21.9"], &[]);
    assert_eq!((code, out.as_str()), (1, ""));
    assert_eq!(
        err,
        "Error joining address '127.0.21.9': Unexpected response code: 500 (1 error occurred:\n\
         \t* Failed to join 127.0.21.9:8301: dial tcp 127.0.21.9:8301: connect: connection refused\n\n)\n\
         Failed to join any nodes.\n"
    );

    let (code, out, err) = cli(&["join", &http_addr(&lone), ips[1]], &[]);
    assert_eq!((code, err.as_str()), (0, ""));
    assert_eq!(out, "Successfully joined cluster by contacting 1 nodes.\n");
    // The HTTP form with a port is accepted too (already a member: still 200).
    let r = lone.put("/v1/agent/join/127.0.21.3:8301", b"");
    assert_eq!(r.status, 200, "{}", r.text());

    for s in &servers {
        wait_for("the lone agent alive in members", CONVERGE, || {
            (member_status(s, "lone") == Some(1)).then_some(())
        });
    }
    wait_for("the lone agent in the catalog", CONVERGE, || {
        let r = try_http("GET", &servers[0].url("/v1/catalog/node/lone"), None).ok()?;
        (r.status == 200 && r.json()["Node"]["Node"] == "lone").then_some(())
    });

    // The client serves the raft configuration too, listing only the servers (it
    // follows the log as a learner itself).
    wait_for("the servers' configuration through the client", CONVERGE, || {
        let list = raft_servers(&lone)?;
        (list.len() == 3
            && list.iter().all(|s| s["Voter"] == true && s["Node"] != "lone")
            && list.iter().filter(|s| s["Leader"] == true).count() == 1)
            .then_some(())
    });

    // Unknown node: Consul's error.
    let (code, _, err) = cli(&["force-leave", &http_addr(&servers[0]), "nobody"], &[]);
    assert_eq!(code, 1);
    assert_eq!(
        err,
        "Error force leaving: Unexpected response code: 500 (agent: No node found with name 'nobody')\n"
    );

    lone.kill9();
    wait_for("the killed agent to be failed", CONVERGE, || {
        (member_status(&servers[1], "lone") == Some(4)).then_some(())
    });
    let (code, out, err) = cli(&["force-leave", &http_addr(&servers[1]), "lone"], &[]);
    assert_eq!((code, out.as_str(), err.as_str()), (0, "", ""));

    for s in &servers {
        wait_for("the killed agent left everywhere", CONVERGE, || {
            (member_status(s, "lone") == Some(3)).then_some(())
        });
    }
    let (_, table, _) = cli(&["members", &http_addr(&servers[2])], &[]);
    assert!(table.contains("lone  127.0.21.4:8301  left    client"), "{table}");
    wait_for("the killed agent gone from the catalog", CONVERGE, || {
        let r = try_http("GET", &servers[2].url("/v1/catalog/nodes"), None).ok()?;
        let nodes = r.json();
        let names: Vec<&str> = nodes
            .as_array()?
            .iter()
            .filter_map(|n| n["Node"].as_str())
            .collect();
        (names.len() == 3 && !names.contains(&"lone")).then_some(())
    });

    // -prune drops the member from every member list at once.
    let (code, out, err) = cli(&["force-leave", "-prune", &http_addr(&servers[0]), "lone"], &[]);
    assert_eq!((code, out.as_str(), err.as_str()), (0, "", ""));
    for s in &servers {
        wait_for("the pruned agent gone from members", CONVERGE, || {
            member_status(s, "lone").is_none().then_some(())
        });
    }
}
