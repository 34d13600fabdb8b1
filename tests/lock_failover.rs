//! Mutual exclusion across a leader failover: `rconsul lock` contenders on a client of a
//! three-server cluster keep taking turns on one lock while the leader is killed with
//! kill -9. Every child checks that nobody else holds the lock (a directory only one
//! process can create) and increments a file counter with a read-sleep-write that would
//! lose updates if two children ever overlapped.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{lock_process, try_http, wait_for, Agent, BIN};

const CONVERGE: Duration = Duration::from_secs(30);

fn server(ip: &str, name: &str, dir: &Path) -> Agent {
    Agent::cluster_server(ip, name, dir, "127.0.13.1", 3)
}

fn leader_of(agent: &Agent) -> Option<String> {
    let r = try_http("GET", &agent.url("/v1/status/leader"), None).ok()?;
    let leader = r.text().trim().trim_matches('"').to_string();
    (r.status == 200 && !leader.is_empty()).then_some(leader)
}

fn count(path: &Path) -> usize {
    std::fs::read_to_string(path).map_or(0, |t| t.lines().count())
}

/// The child run under the lock: claim, read-sleep-write the counter, record, release.
fn guarded_child(dir: &Path) -> String {
    let d = dir.display();
    format!(
        "mkdir {d}/held 2>/dev/null || echo overlap >> {d}/violations; \
         n=$(cat {d}/counter 2>/dev/null || echo 0); sleep 0.05; echo $((n+1)) > {d}/counter; \
         echo run >> {d}/runs; rmdir {d}/held"
    )
}

/// Runs `rconsul lock` against the client over and over until `stop`; its stderr goes to
/// `errors`.
fn contender(
    http_addr: String,
    child: String,
    errors: PathBuf,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        while !stop.load(Ordering::SeqCst) {
            let _ = Command::new(BIN)
                .args([
                    "lock",
                    &format!("-http-addr={http_addr}"),
                    "-timeout=20s",
                    "app/counter",
                    &child,
                ])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(
                    std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(&errors)
                        .map(Stdio::from)
                        .unwrap_or(Stdio::null()),
                )
                .status();
        }
    })
}

#[test]
fn no_lock_is_held_twice_across_a_leader_failover() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut servers = [
        server("127.0.13.1", "lf1", dir.path()),
        server("127.0.13.2", "lf2", dir.path()),
        server("127.0.13.3", "lf3", dir.path()),
    ];
    let client = Agent::cluster_client("127.0.13.4", "lf-client", dir.path(), "127.0.13.1");
    client.wait_ready(CONVERGE);
    client.wait_serf_health("lf-client", CONVERGE);

    let work: PathBuf = dir.path().join("work");
    std::fs::create_dir_all(&work).expect("work dir");
    let runs = work.join("runs");
    let stop = Arc::new(AtomicBool::new(false));
    let contenders: Vec<_> = (0..3)
        .map(|_| {
            contender(
                "127.0.13.4:8500".into(),
                guarded_child(&work),
                work.join("lock-stderr"),
                stop.clone(),
            )
        })
        .collect();

    wait_for("turns before the failover", CONVERGE, || {
        (count(&runs) >= 5).then_some(())
    });
    let leader = wait_for("a leader", CONVERGE, || leader_of(&client));
    let victim = servers
        .iter()
        .position(|s| leader.starts_with(&format!("{}:", s.ip)))
        .expect("the leader is one of the servers");
    let before = count(&runs);
    servers[victim].kill9();
    let survivor = &servers[(victim + 1) % 3];
    wait_for("a new leader", CONVERGE, || {
        leader_of(survivor).filter(|l| *l != leader)
    });
    // The contenders keep taking turns through the new leader.
    wait_for("turns after the failover", Duration::from_secs(60), || {
        (count(&runs) >= before + 10).then_some(())
    });
    stop.store(true, Ordering::SeqCst);
    for c in contenders {
        let _ = c.join();
    }

    let violations = std::fs::read_to_string(work.join("violations")).unwrap_or_default();
    let errors = std::fs::read_to_string(work.join("lock-stderr")).unwrap_or_default();
    assert!(
        violations.is_empty(),
        "two children held the lock at once: {violations}\nrconsul lock said:\n{errors}"
    );
    let counter: usize = std::fs::read_to_string(work.join("counter"))
        .expect("counter")
        .trim()
        .parse()
        .expect("counter value");
    assert_eq!(counter, count(&runs), "the counter lost updates");
    assert!(!work.join("held").exists());
}

#[test]
fn killing_the_holders_agent_hands_the_lock_over_after_the_lock_delay() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Agent::server("127.0.13.11", &dir.path().join("s"), &[]);
    server.wait_ready(CONVERGE);
    let client = |ip: &str, name: &str| Agent::cluster_client(ip, name, dir.path(), "127.0.13.11");
    let mut holder_agent = client("127.0.13.12", "holder");
    let waiter_agent = client("127.0.13.13", "waiter");
    for (agent, node) in [(&holder_agent, "holder"), (&waiter_agent, "waiter")] {
        agent.wait_ready(CONVERGE);
        agent.wait_serf_health(node, CONVERGE);
    }
    let (a_marker, b_marker) = (dir.path().join("a"), dir.path().join("b"));
    let a_child = format!("touch {}; sleep 300", a_marker.display());
    let mut a = lock_process(&holder_agent, &["svc/leader", &a_child]);
    wait_for("A to hold the lock", CONVERGE, || a_marker.exists().then_some(()));
    let b_child = format!("touch {}; sleep 300", b_marker.display());
    let mut b = lock_process(&waiter_agent, &["svc/leader", &b_child]);
    let killed = std::time::Instant::now();
    holder_agent.kill9();
    // The holder's node fails, its session is invalidated, and the key stays locked for
    // the session's lock-delay (15 s, rconsul lock's default as Consul's) before B gets it.
    wait_for("B to take the lock over", Duration::from_secs(60), || {
        b_marker.exists().then_some(())
    });
    let waited = killed.elapsed();
    // SIGTERM: rconsul lock passes it on to its child and exits.
    for child in [&mut a, &mut b] {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status();
        let _ = child.wait();
    }
    assert!(
        waited >= Duration::from_secs(15),
        "B took the lock {waited:?} after the holder's agent died, inside the lock-delay"
    );
}
