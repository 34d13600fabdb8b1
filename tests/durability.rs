//! Durability of a single durable server: acknowledged writes survive kill -9, restarts
//! after snapshots and log compaction, and a crash loop.

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{try_http, wait_for, Agent};

const READY: Duration = Duration::from_secs(30);

fn value_of(agent: &Agent, key: &str) -> Option<String> {
    let r = agent.get(&format!("/v1/kv/{key}?raw"));
    (r.status == 200).then(|| r.text())
}

#[test]
fn acknowledged_writes_survive_kill_9() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut agent = Agent::server("127.0.2.1", dir.path(), &[]);
    agent.wait_ready(READY);
    let mut last_index = 0;
    for i in 0..200 {
        let r = agent.put(&format!("/v1/kv/durable/{i:04}"), format!("value-{i}").as_bytes());
        assert_eq!(
            (r.status, r.text()),
            (200, "true".to_string()),
            "compact JSON outside -dev"
        );
    }
    last_index = last_index.max(agent.get("/v1/kv/durable/?recurse").index());
    agent.kill9();
    agent.start();
    let ready_after = agent.wait_ready(READY);
    eprintln!("durable server knew a leader {ready_after:?} after restart");
    let listed = agent.get("/v1/kv/durable/?keys").json();
    assert_eq!(
        listed.as_array().map(Vec::len),
        Some(200),
        "every acknowledged write is back"
    );
    for i in [0, 1, 99, 199] {
        assert_eq!(
            value_of(&agent, &format!("durable/{i:04}")).as_deref(),
            Some(format!("value-{i}").as_str())
        );
    }
    assert_eq!(agent.put("/v1/kv/after-restart", b"x").status, 200);
    let index = agent.get("/v1/kv/after-restart").index();
    assert!(
        index > last_index,
        "the index keeps growing after a restart ({index} <= {last_index})"
    );
}

#[test]
fn restart_after_snapshot_and_log_compaction() {
    let (mut agent, _) = Agent::server_with_config(
        "127.0.2.2",
        "raft.json",
        r#"{"raft_snapshot_threshold": 64, "raft_trailing_logs": 16}"#,
    );
    agent.wait_ready(READY);
    for i in 0..400 {
        assert_eq!(
            agent
                .put(&format!("/v1/kv/snap/{i:04}"), format!("v{i}").as_bytes())
                .status,
            200
        );
    }
    agent.delete("/v1/kv/snap/0000");
    wait_for("a snapshot to be logged", Duration::from_secs(20), || {
        agent.log().contains("snapshot complete").then_some(())
    });
    let before = agent.get("/v1/kv/snap/?keys").index();
    agent.kill9();
    agent.start();
    agent.wait_ready(READY);
    let keys = agent.get("/v1/kv/snap/?keys");
    assert_eq!(keys.json().as_array().map(Vec::len), Some(399));
    assert_eq!(keys.index(), before, "the restored index matches");
    assert_eq!(value_of(&agent, "snap/0399").as_deref(), Some("v399"));
    assert_eq!(
        value_of(&agent, "snap/0000"),
        None,
        "the delete survived the snapshot"
    );
    assert_eq!(agent.put("/v1/kv/snap/more", b"m").status, 200);
    // A clean stop and start works as well.
    assert_eq!(agent.terminate(), Some(0), "SIGTERM exits cleanly");
    agent.start();
    agent.wait_ready(READY);
    assert_eq!(value_of(&agent, "snap/more").as_deref(), Some("m"));
}

/// A tiny xorshift generator; the seed is printed so a failure can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self, below: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % below
    }
}

/// Every `crash/` key and its value, in one recursive read.
fn stored_values(agent: &Agent) -> BTreeMap<String, String> {
    use base64::Engine;
    let r = agent.get("/v1/kv/crash/?recurse");
    if r.status == 404 {
        return BTreeMap::new();
    }
    r.json()
        .as_array()
        .expect("array")
        .iter()
        .map(|e| {
            let key = e["Key"].as_str().expect("key").to_string();
            let value = e["Value"].as_str().unwrap_or("");
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(value)
                .expect("base64");
            (key, String::from_utf8_lossy(&bytes).into_owned())
        })
        .collect()
}

#[test]
fn crash_loop_keeps_every_acknowledged_write() {
    let seed = std::env::var("CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(7)
                | 1
        });
    eprintln!("crash loop seed: CRASH_SEED={seed}");
    let mut rng = Rng(seed);
    // Snapshot often so crashes also land during snapshot writes and log purges.
    let (mut agent, _) = Agent::server_with_config(
        "127.0.2.3",
        "raft.json",
        r#"{"raft_snapshot_threshold": 100, "raft_trailing_logs": 20}"#,
    );
    let acked: Arc<Mutex<BTreeMap<String, String>>> = Arc::default();
    let cycles = 32;
    for cycle in 0..cycles {
        agent.wait_ready(READY);
        // Everything acknowledged so far must be there. Keys are never rewritten, so an
        // unacknowledged write in flight at the kill cannot mask an acknowledged one.
        let stored = stored_values(&agent);
        for (key, value) in acked.lock().expect("lock").iter() {
            assert_eq!(
                stored.get(key),
                Some(value),
                "cycle {cycle}: acknowledged write to {key} lost (seed {seed})"
            );
        }
        let stop_at = Instant::now() + Duration::from_millis(50 + rng.next(250));
        let writers: Vec<_> = (0..4)
            .map(|w| {
                let url = agent.url("");
                let acked = acked.clone();
                std::thread::spawn(move || {
                    let mut n = 0;
                    while Instant::now() < stop_at + Duration::from_secs(1) {
                        let key = format!("crash/{cycle:02}/{w}/{n:05}");
                        let value = format!("c{cycle}-w{w}-n{n}");
                        match try_http("PUT", &format!("{url}/v1/kv/{key}"), Some(value.as_bytes())) {
                            Ok(r) if r.status == 200 && r.text() == "true" => {
                                acked.lock().expect("lock").insert(key, value);
                            }
                            _ => break, // the agent died mid-request: unacknowledged, may or may not be there
                        }
                        n += 1;
                    }
                })
            })
            .collect();
        while Instant::now() < stop_at {
            std::thread::sleep(Duration::from_millis(5));
        }
        agent.kill9();
        for w in writers {
            let _ = w.join();
        }
        agent.start();
        wait_for("the restarted agent to answer", READY, || {
            try_http("GET", &agent.url("/v1/status/leader"), None)
                .ok()
                .map(|_| ())
        });
        if agent.log().contains("Corruption") {
            panic!(
                "sled reported corruption on reopen in cycle {cycle} (seed {seed}):\n{}",
                agent.log()
            );
        }
    }
    agent.wait_ready(READY);
    let total = acked.lock().expect("lock").len();
    assert!(total > 0);
    eprintln!("crash loop: {cycles} kill -9 cycles, {total} keys checked");
}

/// A server whose storage fails (here: its data dir is deleted, so sled cannot create
/// its next file) stops raft and exits on its own with an error, instead of staying up
/// and answering every request with one (or hanging in sled's closing flush).
#[test]
fn a_storage_failure_stops_the_server() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let mut agent = Agent::server("127.0.2.4", &data, &[]);
    agent.wait_ready(READY);
    assert_eq!(agent.put("/v1/kv/before", b"v").status, 200);
    std::fs::remove_dir_all(&data).expect("remove the data dir");
    // Over a MiB of log makes raft snapshot, and the snapshot's write fails.
    let value = vec![b'x'; 64 * 1024];
    let mut i = 0;
    wait_for(
        "raft to stop on the storage error",
        Duration::from_secs(30),
        || {
            i += 1;
            let _ = try_http("PUT", &agent.url(&format!("/v1/kv/big/{i}")), Some(&value));
            agent.log().contains("quit RaftCore::main on error").then_some(())
        },
    );
    let code = agent.wait_exit(Duration::from_secs(20));
    let log = agent.log();
    assert_eq!(
        code,
        Some(Some(1)),
        "the agent did not exit with status 1 within 20 s of raft stopping; log:\n{log}"
    );
    assert!(log.contains("raft stopped: "), "no reason logged:\n{log}");
}
