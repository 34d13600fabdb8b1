//! User events across agents: fired on a client with `rconsul event`, spread by gossip,
//! listed by `/v1/event/list` on every agent whose filters match, and delivered to a
//! `rconsul watch -type=event` handler on a server.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{cli, http, wait_for, Agent, BIN};
use serde_json::Value;

const READY: Duration = Duration::from_secs(30);

fn names(list: &Value) -> Vec<String> {
    list.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|e| e["Name"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Kills the watch process when the test ends, however it ends.
struct Watch(Child);

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn an_event_fired_on_one_agent_reaches_a_watch_handler_on_another() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Agent::server("127.0.12.1", &dir.path().join("s1"), &[]);
    server.wait_ready(READY);
    let client = Agent::cluster_client("127.0.12.2", "ev-client", dir.path(), "127.0.12.1");
    client.wait_ready(READY);
    wait_for("both agents to see each other", READY, || {
        let alive = |a: &Agent| {
            a.get("/v1/agent/members")
                .json()
                .as_array()
                .map_or(0, |m| m.iter().filter(|m| m["Status"] == 1).count())
        };
        (alive(&server) == 2 && alive(&client) == 2).then_some(())
    });

    // A watch on the server runs its handler with the new events on stdin.
    let out = dir.path().join("handler.out");
    let handler = format!(
        "cat >> {}; echo \" index=$CONSUL_INDEX\" >> {}",
        out.display(),
        out.display()
    );
    let _watch = Watch(
        Command::new(BIN)
            .args([
                "watch",
                "-http-addr=127.0.12.1:8500",
                "-type=event",
                "-name=deploy",
                &handler,
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn rconsul watch"),
    );
    // Consul runs the handler once at start, with no events yet.
    wait_for("the watch's first run", READY, || {
        std::fs::read_to_string(&out)
            .ok()?
            .starts_with("[]")
            .then_some(())
    });

    let (code, stdout, stderr) = cli(
        &["event", "-http-addr=127.0.12.2:8500", "-name=deploy", "v42"],
        &[],
    );
    assert_eq!(code, 0, "{stderr}");
    let id = stdout
        .trim()
        .strip_prefix("Event ID: ")
        .expect("Event ID line")
        .to_string();
    let delivered = wait_for("the event at the handler", READY, || {
        let text = std::fs::read_to_string(&out).ok()?;
        text.contains(&id).then_some(text)
    });
    // The payload arrives base64-encoded, as in Consul's UserEvent JSON.
    assert!(delivered.contains("\"Payload\":\"djQy\""), "{delivered}");
    assert!(delivered.contains("\"Name\":\"deploy\""), "{delivered}");

    // Both agents list it; the index is derived from the last event's ID.
    for agent in [&server, &client] {
        let r = wait_for("the event in /v1/event/list", READY, || {
            let r = agent.get("/v1/event/list?name=deploy");
            r.text().contains(&id).then_some(r)
        });
        assert_ne!(r.index(), 1);
    }

    // A node filter keeps an event off the agents it does not match.
    let r = http(
        "PUT",
        &client.url("/v1/event/fire/only-client?node=^ev-client$"),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    wait_for("the filtered event on the client", READY, || {
        names(&client.get("/v1/event/list").json())
            .contains(&"only-client".to_string())
            .then_some(())
    });
    // Fired after it, this one reaches the server: by then the filtered one would have too.
    let r = http("PUT", &client.url("/v1/event/fire/everyone"), None);
    assert_eq!(r.status, 200);
    let server_names = wait_for("the unfiltered event on the server", READY, || {
        let n = names(&server.get("/v1/event/list").json());
        n.contains(&"everyone".to_string()).then_some(n)
    });
    assert!(
        !server_names.contains(&"only-client".to_string()),
        "{server_names:?}"
    );

    // A blocking list wakes when an event arrives.
    let before = server.get("/v1/event/list?name=late");
    let index = before.index();
    let url = server.url(&format!("/v1/event/list?name=late&index={index}&wait=20s"));
    let waiter = std::thread::spawn(move || http("GET", &url, None));
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        !waiter.is_finished(),
        "the blocking list returned without a new event"
    );
    assert_eq!(
        http("PUT", &client.url("/v1/event/fire/late"), Some(b"x")).status,
        200
    );
    let woke = waiter.join().expect("waiter");
    assert_eq!(names(&woke.json()), ["late"]);
    assert_ne!(woke.index(), index);

    // Bad input: Consul's messages, with 400 where Consul answers a client's mistake with 500.
    let r = http("PUT", &client.url("/v1/event/fire/"), None);
    assert_eq!((r.status, r.text().as_str()), (400, "Missing name"));
    let r = http("PUT", &client.url("/v1/event/fire/x?node=("), None);
    assert_eq!(
        (r.status, r.text().as_str()),
        (
            400,
            "Invalid node filter: error parsing regexp: missing closing ): `(`"
        )
    );
    let r = http("PUT", &client.url("/v1/event/fire/x"), Some(&[b'a'; 600]));
    assert_eq!(r.status, 413);
    let r = http("GET", &client.url("/v1/event/list?index=abc"), None);
    assert_eq!((r.status, r.text().as_str()), (400, "Invalid index"));
}
