//! The web UI at `/ui/`, end to end: the agent's own HTTP answers, then a real headless
//! chromium (driven through chromedriver with fantoccini) against a running dev agent.
//!
//! The browser part needs Debian's `chromium` and `chromium-driver` (`.ci/run` installs
//! them); where they are missing it prints "skipping: chromium/chromedriver not installed"
//! and passes.

mod common;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{try_http, wait_for, Agent};
use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

/// How long the page may take to show something the API already has.
const DOM_TIMEOUT: Duration = Duration::from_secs(30);

#[test]
fn ui_is_served_with_dev_and_absent_without_ui() {
    let dev = Agent::dev("127.0.10.2");
    dev.wait_ready(Duration::from_secs(60));
    let r = dev.get("/");
    assert_eq!(r.status, 301);
    assert_eq!(r.header("location"), Some("/ui/"));
    let r = dev.get("/ui");
    assert_eq!(r.status, 301);
    assert_eq!(r.header("location"), Some("/ui/"));
    for path in ["/ui/", "/ui/services/web", "/ui/index.html"] {
        let r = dev.get(path);
        assert_eq!(r.status, 200, "{path}");
        assert_eq!(
            r.header("content-type"),
            Some("text/html; charset=utf-8"),
            "{path}"
        );
        assert_eq!(r.header("cache-control"), Some("no-cache"), "{path}");
        assert!(
            r.text().contains("<script src=\"/ui/app.js\""),
            "{path}: {}",
            r.text()
        );
    }
    let r = dev.get("/ui/app.js");
    assert_eq!(r.header("content-type"), Some("text/javascript; charset=utf-8"));
    assert!(r.text().contains("X-Consul-Index"));
    let r = dev.get("/ui/app.css");
    assert_eq!(r.header("content-type"), Some("text/css; charset=utf-8"));
    assert!(r.text().contains("prefers-color-scheme: dark"));
    // The API is untouched.
    assert_eq!(dev.get("/v1/status/leader").status, 200);
    assert_eq!(dev.get("/v1/nope").status, 404);

    // A server without -ui: `/` says how to enable it; /ui is not there.
    let server = Agent::server_tmp("127.0.10.3");
    server.wait_ready(Duration::from_secs(60));
    let r = server.get("/");
    assert_eq!(r.status, 200);
    assert_eq!(
        r.text(),
        "Consul Agent: UI disabled. To enable, pass the -ui argument or set \
         ui_config.enabled=true in the agent configuration and restart."
    );
    for path in ["/ui", "/ui/", "/ui/app.js"] {
        assert_eq!(server.get(path).status, 404, "{path}");
    }
}

/// The first `name` on PATH.
fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// A loopback port nobody listens on right now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// chromedriver, stopped (SIGTERM, so it closes its browsers) when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    fn start(bin: &Path) -> Driver {
        let port = free_port();
        let log = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("chromedriver-ui.log");
        let child = Command::new(bin)
            .arg(format!("--port={port}"))
            .arg(format!("--log-path={}", log.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn chromedriver");
        let url = format!("http://127.0.0.1:{port}");
        wait_for("chromedriver to listen", Duration::from_secs(30), || {
            try_http("GET", &format!("{url}/status"), None)
                .ok()
                .filter(|r| r.status == 200)
        });
        Driver { child, url }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `script` in the page until it returns something other than null/false, or panics
/// after `DOM_TIMEOUT` with `what` and the page's text.
async fn wait_js(client: &Client, what: &str, script: &str) -> Value {
    let deadline = Instant::now() + DOM_TIMEOUT;
    loop {
        let v = client.execute(script, vec![]).await.expect("execute script");
        if !(v.is_null() || v == Value::Bool(false)) {
            return v;
        }
        if Instant::now() > deadline {
            let body = client
                .execute("return document.body.innerText", vec![])
                .await
                .unwrap_or_default();
            panic!("timed out after {DOM_TIMEOUT:?} waiting for {what}; page text:\n{body}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Clicks the element matching `css`, retrying while live updates re-render the page
/// (the element found can be replaced before the click lands).
async fn click_css(client: &Client, css: &str) {
    let deadline = Instant::now() + DOM_TIMEOUT;
    loop {
        let clicked = match client.find(Locator::Css(css)).await {
            Ok(element) => element.click().await.is_ok(),
            Err(_) => false,
        };
        if clicked {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {DOM_TIMEOUT:?} clicking {css}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The element with ID `id`, which must be on the page.
async fn by_id(client: &Client, id: &str) -> Element {
    client.find(Locator::Id(id)).await.unwrap()
}

/// Polls the agent's API (blocking HTTP, off the async workers) until `check` holds.
async fn wait_api(what: &'static str, url: String, check: fn(&common::Resp) -> bool) {
    tokio::task::spawn_blocking(move || {
        wait_for(what, DOM_TIMEOUT, || {
            try_http("GET", &url, None).ok().filter(check)
        })
    })
    .await
    .expect("wait_api");
}

/// Registers (or re-registers) `ui-web` on `ui-node` with one check in `status`.
fn register(base: &str, status: &str) {
    let body = json!({
        "Node": "ui-node",
        "Address": "10.9.8.7",
        "Service": {"Service": "ui-web", "ID": "ui-web-1", "Tags": ["blue"], "Port": 8080},
        "Check": {
            "CheckID": "ui-web-http", "Name": "HTTP on 8080", "ServiceID": "ui-web-1",
            "Status": status, "Output": format!("the check is {status}"),
        },
    });
    let url = format!("{base}/v1/catalog/register");
    let r = common::http("PUT", &url, Some(body.to_string().as_bytes()));
    assert_eq!(r.status, 200, "register: {}", r.text());
}

#[test]
fn ui_in_headless_chromium() {
    let agent = Agent::dev("127.0.10.1");
    agent.wait_ready(Duration::from_secs(60));
    register(&agent.url(""), "passing");
    in_chromium(agent.url(""), scenario);
    drop(agent);
}

/// The initial management token of the ACL scenario.
const UI_ROOT: &str = "7d1b2c3e-4f50-4a6b-8c7d-9e0f1a2b3c4d";

#[test]
fn ui_asks_for_a_token_when_acls_deny() {
    let hcl = format!(
        "acl {{\n  enabled = true\n  default_policy = \"deny\"\n  tokens {{\n    initial_management = \"{UI_ROOT}\"\n  }}\n}}\n"
    );
    let agent = Agent::dev_with("127.0.10.4", &["-hcl", &hcl]);
    agent.wait_ready(Duration::from_secs(60));
    wait_for("the management token", Duration::from_secs(30), || {
        let r = common::http_with(
            "GET",
            &agent.url("/v1/acl/token/self"),
            None,
            &[("X-Consul-Token", UI_ROOT)],
        );
        (r.status == 200).then_some(())
    });
    in_chromium(agent.url(""), token_scenario);
    drop(agent);
}

async fn token_scenario(c: Client, base: String) {
    c.goto(&format!("{base}/ui/")).await.expect("goto /ui/");
    // Anonymous is denied (a 403) or sees a filtered list: the form asks for a token.
    let why = wait_js(
        &c,
        "the token form",
        r#"const f = document.getElementById('token-form');
           return f && !f.hidden && document.getElementById('token-why').textContent"#,
    )
    .await;
    let why = why.as_str().unwrap_or_default();
    assert!(
        why.contains("Permission denied") || why.contains("hidden by ACLs"),
        "{why}"
    );
    by_id(&c, "token-input").await.send_keys(UI_ROOT).await.unwrap();
    click_css(&c, "#token-form button[type=submit]").await;
    wait_js(
        &c,
        "the services list with the token",
        r#"return !!document.querySelector('tr[data-service="consul"]')
                  && document.getElementById('token-form').hidden"#,
    )
    .await;
    // Kept in the browser: a reload needs no prompt.
    c.refresh().await.unwrap();
    wait_js(
        &c,
        "the services list after a reload",
        r#"return !!document.querySelector('tr[data-service="consul"]')
                  && document.getElementById('token-form').hidden
                  && document.getElementById('token-button').textContent.includes('✓')"#,
    )
    .await;
    // Forgetting it brings the prompt back (the list is filtered for the anonymous token).
    click_css(&c, "#token-button").await;
    wait_js(
        &c,
        "the form opened",
        "return !document.getElementById('token-form').hidden",
    )
    .await;
    click_css(&c, "#token-clear").await;
    wait_js(
        &c,
        "the prompt after forgetting the token",
        r#"const f = document.getElementById('token-form'); return f && !f.hidden"#,
    )
    .await;
}

/// Runs `scenario` in a headless chromium session on `base` (skips without chromium).
fn in_chromium<F, Fut>(base: String, scenario: F)
where
    F: FnOnce(Client, String) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (Some(chromedriver), Some(chromium)) = (which("chromedriver"), which("chromium")) else {
        eprintln!("skipping: chromium/chromedriver not installed (apt-get install chromium chromium-driver)");
        return;
    };
    let driver = Driver::start(&chromedriver);
    let profile = tempfile::tempdir().expect("tempdir");

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let mut caps = serde_json::Map::new();
        caps.insert("browserName".into(), json!("chrome"));
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": chromium,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-background-networking", "--no-first-run",
                    "--disable-component-update", "--disable-sync",
                    "--window-size=1280,900",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            }),
        );
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&driver.url)
            .await
            .expect("start a chromium session through chromedriver");
        // Run the scenario in its own task so the browser is closed even when it fails.
        let outcome = tokio::spawn(scenario(client.clone(), base)).await;
        let _ = client.close().await;
        if let Err(e) = outcome {
            std::panic::resume_unwind(e.into_panic());
        }
    });
    drop(driver);
}

async fn scenario(c: Client, base: String) {
    // `/` redirects to the UI, which opens on the services list.
    c.goto(&format!("{base}/")).await.expect("goto /");
    let row = r#"const r = document.querySelector('tr[data-service="ui-web"]');
                 return r && r.dataset.status"#;
    let status = wait_js(&c, "ui-web listed", row).await;
    assert_eq!(status, json!("passing"));
    let text = wait_js(
        &c,
        "ui-web's health summary",
        r#"const r = document.querySelector('tr[data-service="ui-web"]');
           return r.innerText.includes('1 passing') && r.innerText"#,
    )
    .await;
    assert!(text.as_str().unwrap().contains("blue"), "tags shown: {text}");
    assert!(
        c.current_url().await.unwrap().fragment() == Some("/services"),
        "landed on #/services"
    );
    // A marker that a reload would wipe.
    c.execute("window.__noReload = 1", vec![]).await.unwrap();

    // The check turns critical: the row follows through the blocking query, no reload.
    register(&base, "critical");
    wait_js(
        &c,
        "ui-web shown critical",
        r#"const r = document.querySelector('tr[data-service="ui-web"]');
           return r && r.dataset.status === 'critical' && r.innerText.includes('1 critical')"#,
    )
    .await;
    let marker = c.execute("return window.__noReload", vec![]).await.unwrap();
    assert_eq!(marker, json!(1), "the page was not reloaded");
    // The health filter narrows the list to critical services.
    c.find(Locator::Css("select[aria-label='Health filter']"))
        .await
        .unwrap()
        .select_by_value("critical")
        .await
        .unwrap();
    wait_js(
        &c,
        "only critical services",
        r#"const rows = [...document.querySelectorAll('tr[data-service]')];
           return rows.length === 1 && rows[0].dataset.service === 'ui-web'"#,
    )
    .await;

    // The service page (a deep link within the app) shows the instance and its check.
    click_css(&c, "tr[data-service='ui-web'] a").await;
    let text = wait_js(
        &c,
        "the ui-web instance",
        r#"const p = document.querySelector('[data-instance="ui-web-1"]');
           return p && p.innerText.includes('the check is critical') && p.innerText"#,
    )
    .await;
    let text = text.as_str().unwrap();
    assert!(
        text.contains("ui-node") && text.contains("10.9.8.7:8080"),
        "{text}"
    );
    // Back: the filtered list again, same document.
    c.back().await.unwrap();
    wait_js(
        &c,
        "the services list after going back",
        r#"return location.hash.startsWith('#/services?') && !!document.querySelector('tr[data-service="ui-web"]')"#,
    )
    .await;

    // Nodes and a node.
    c.goto(&format!("{base}/ui/#/nodes")).await.unwrap();
    wait_js(
        &c,
        "ui-node with its service",
        r#"const r = document.querySelector('tr[data-node="ui-node"]');
           return r && r.dataset.status === 'critical' && r.innerText.includes('ui-web')"#,
    )
    .await;
    c.goto(&format!("{base}/ui/#/nodes/ui-node")).await.unwrap();
    wait_js(
        &c,
        "the node page",
        r#"return document.body.innerText.includes('HTTP on 8080') && document.body.innerText.includes('10.9.8.7')"#,
    )
    .await;

    // Cluster panel: leader and this agent as an alive member.
    c.goto(&format!("{base}/ui/#/cluster")).await.unwrap();
    wait_js(
        &c,
        "the cluster panel",
        r#"const l = document.getElementById('cluster-leader');
           const m = document.querySelector('tr[data-member]');
           return l && m && m.innerText.includes('alive')"#,
    )
    .await;

    // Key/Value: create a key through the form...
    c.goto(&format!("{base}/ui/#/kv/")).await.unwrap();
    c.wait().for_element(Locator::Id("kv-create-form")).await.unwrap();
    by_id(&c, "kv-new-key")
        .await
        .send_keys("ui-test/greeting")
        .await
        .unwrap();
    by_id(&c, "kv-new-value")
        .await
        .send_keys("hello from the browser")
        .await
        .unwrap();
    let flags = by_id(&c, "kv-new-flags").await;
    flags.clear().await.unwrap();
    flags.send_keys("42").await.unwrap();
    by_id(&c, "kv-create").await.click().await.unwrap();
    // ...readable through the API, value and flags as typed...
    let url = format!("{base}/v1/kv/ui-test/greeting");
    wait_api("the key in /v1/kv", url.clone(), |r| r.status == 200).await;
    let entry = common::http("GET", &url, None).json();
    assert_eq!(entry[0]["Flags"], json!(42), "{entry}");
    let raw = common::http("GET", &format!("{url}?raw"), None).text();
    assert_eq!(raw, "hello from the browser");
    // ...and the page moved to the key's view.
    wait_js(
        &c,
        "the key's page",
        r#"const v = document.getElementById('kv-value');
           return v && v.innerText === 'hello from the browser' && document.body.innerText.includes('42')"#,
    )
    .await;

    // Creating it again is refused (cas=0) and the banner says so.
    c.goto(&format!("{base}/ui/#/kv/ui-test/")).await.unwrap();
    wait_js(
        &c,
        "the folder listing the key",
        r#"return !!document.querySelector('tr[data-key="ui-test/greeting"]')"#,
    )
    .await;
    by_id(&c, "kv-new-key").await.send_keys("greeting").await.unwrap();
    by_id(&c, "kv-create").await.click().await.unwrap();
    wait_js(
        &c,
        "the error banner",
        r#"const e = document.getElementById('errors');
           return !e.hidden && e.innerText.includes('already exists')"#,
    )
    .await;

    // Delete through the page (with its confirmation): gone from the API.
    click_css(&c, "tr[data-key='ui-test/greeting'] a").await;
    c.wait()
        .for_element(Locator::Id("kv-delete"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    by_id(&c, "kv-delete-confirm").await.click().await.unwrap();
    wait_api("the key deleted", url.clone(), |r| r.status == 404).await;
    wait_js(
        &c,
        "back in the folder",
        r#"return location.hash === '#/kv/ui-test/'"#,
    )
    .await;
}
