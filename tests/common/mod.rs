//! Test harness: spawns the real `rconsul` binary on its own loopback address and
//! talks to it over HTTP, as a user would.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The binary under test (built by cargo for this test target).
pub const BIN: &str = env!("CARGO_BIN_EXE_rconsul");

/// An HTTP response, with lower-cased header names.
#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
}

impl Resp {
    /// The body as UTF-8 text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body parsed as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    /// A header value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(&name.to_ascii_lowercase()).map(String::as_str)
    }

    /// `X-Consul-Index` as a number.
    pub fn index(&self) -> u64 {
        self.header("x-consul-index")
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no X-Consul-Index in {:?}", self.headers))
    }
}

fn http_agent() -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout_connect(Duration::from_secs(2))
        .timeout(Duration::from_secs(120))
        .redirects(0)
        .build()
}

/// Sends one request; transport errors are returned, HTTP errors are normal responses.
pub fn try_http(method: &str, url: &str, body: Option<&[u8]>) -> Result<Resp, String> {
    try_http_with(method, url, body, &[])
}

/// Sends one request with extra headers (`X-Consul-Token`, ...) and panics on transport
/// errors.
#[allow(dead_code)] // not every test binary sends headers
pub fn http_with(method: &str, url: &str, body: Option<&[u8]>, headers: &[(&str, &str)]) -> Resp {
    try_http_with(method, url, body, headers).unwrap_or_else(|e| panic!("{method} {url}: {e}"))
}

fn try_http_with(
    method: &str,
    url: &str,
    body: Option<&[u8]>,
    headers: &[(&str, &str)],
) -> Result<Resp, String> {
    let mut req = http_agent().request(method, url);
    for (name, value) in headers {
        req = req.set(name, value);
    }
    let result = match body {
        Some(b) => req.send_bytes(b),
        None => req.call(),
    };
    let resp = match result {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => return Err(e.to_string()),
    };
    let status = resp.status();
    let headers = resp
        .headers_names()
        .into_iter()
        .filter_map(|n| resp.header(&n).map(|v| (n.to_ascii_lowercase(), v.to_string())))
        .collect();
    let mut body = Vec::new();
    resp.into_reader()
        .take(64 << 20)
        .read_to_end(&mut body)
        .map_err(|e| e.to_string())?;
    Ok(Resp {
        status,
        headers,
        body,
    })
}

/// Sends one request and panics on transport errors.
pub fn http(method: &str, url: &str, body: Option<&[u8]>) -> Resp {
    try_http(method, url, body).unwrap_or_else(|e| panic!("{method} {url}: {e}"))
}

/// Polls `check` every 20 ms until it returns `Some`, or panics after `timeout`.
pub fn wait_for<T>(what: &str, timeout: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// One running `rconsul agent` process.
pub struct Agent {
    child: Option<Child>,
    /// The loopback address it binds (cluster and client).
    pub ip: String,
    args: Vec<String>,
    log: PathBuf,
    /// Keeps a temporary data dir alive for the agent's lifetime.
    _data: Option<tempfile::TempDir>,
}

impl Agent {
    /// Starts `rconsul agent -dev` on `ip`.
    pub fn dev(ip: &str) -> Agent {
        Self::dev_with(ip, &[])
    }

    /// Starts `rconsul agent -dev` on `ip` with `extra` flags.
    pub fn dev_with(ip: &str, extra: &[&str]) -> Agent {
        let mut args = vec![
            "agent".to_string(),
            "-dev".into(),
            format!("-bind={ip}"),
            format!("-client={ip}"),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        Self::spawn(ip, args, None)
    }

    /// Starts a durable single server with its data in `data_dir`, plus `extra` flags.
    pub fn server(ip: &str, data_dir: &Path, extra: &[&str]) -> Agent {
        let mut args = vec![
            "agent".to_string(),
            "-server".into(),
            "-bootstrap-expect=1".into(),
            format!("-bind={ip}"),
            format!("-client={ip}"),
            format!("-data-dir={}", data_dir.display()),
            format!("-node=node-{}", ip.replace('.', "-")),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        Self::spawn(ip, args, None)
    }

    /// Starts a durable single server configured by one file: `contents` written to
    /// `file` in a fresh temporary dir, the data dir beside it (`<dir>/data`). Returns the
    /// agent (it keeps the dir alive) and the file's path, for tests that rewrite it.
    pub fn server_with_config(ip: &str, file: &str, contents: &str) -> (Agent, PathBuf) {
        let dir = tempfile::tempdir().expect("tempdir");
        let conf = dir.path().join(file);
        std::fs::write(&conf, contents).expect("write config");
        let conf_flag = format!("-config-file={}", conf.display());
        let mut agent = Self::server(ip, &dir.path().join("data"), &[&conf_flag]);
        agent._data = Some(dir);
        (agent, conf)
    }

    /// Starts a durable single server in a fresh temporary data dir.
    pub fn server_tmp(ip: &str) -> Agent {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut agent = Self::server(ip, dir.path(), &[]);
        agent._data = Some(dir);
        agent
    }

    /// Starts a server of a `-bootstrap-expect=N` cluster named `name`, data under
    /// `dir/name`, joining `join`.
    pub fn cluster_server(ip: &str, name: &str, dir: &Path, join: &str, expect: u32) -> Agent {
        Self::with_args(
            ip,
            vec![
                "agent".into(),
                "-server".into(),
                format!("-bootstrap-expect={expect}"),
                format!("-bind={ip}"),
                format!("-client={ip}"),
                format!("-node={name}"),
                format!("-data-dir={}", dir.join(name).display()),
                format!("-retry-join={join}"),
            ],
        )
    }

    /// Starts a client agent named `name`, data under `dir/name`, joining `join`.
    pub fn cluster_client(ip: &str, name: &str, dir: &Path, join: &str) -> Agent {
        Self::with_args(
            ip,
            vec![
                "agent".into(),
                format!("-bind={ip}"),
                format!("-client={ip}"),
                format!("-node={name}"),
                format!("-data-dir={}", dir.join(name).display()),
                format!("-retry-join={join}"),
            ],
        )
    }

    /// Waits until `node`'s `serfHealth` is passing in this agent's catalog (sessions
    /// need it).
    pub fn wait_serf_health(&self, node: &str, timeout: Duration) {
        wait_for("serfHealth passing", timeout, || {
            let checks = try_http("GET", &self.url(&format!("/v1/health/node/{node}")), None).ok()?;
            checks
                .json()
                .as_array()?
                .iter()
                .any(|c| c["CheckID"] == "serfHealth" && c["Status"] == "passing")
                .then_some(())
        });
    }

    /// Starts `rconsul` with arbitrary arguments, on `ip` (used for the log name and URLs).
    pub fn with_args(ip: &str, args: Vec<String>) -> Agent {
        Self::spawn(ip, args, None)
    }

    fn spawn(ip: &str, args: Vec<String>, data: Option<tempfile::TempDir>) -> Agent {
        let log = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("rconsul-{ip}.log"));
        let _ = std::fs::remove_file(&log);
        let mut agent = Agent {
            child: None,
            ip: ip.to_string(),
            args,
            log,
            _data: data,
        };
        agent.start();
        agent
    }

    /// (Re)starts the process with the same arguments; its log is appended to.
    pub fn start(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("open agent log");
        let child = Command::new(BIN)
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone log"))
            .stderr(log)
            .spawn()
            .expect("spawn rconsul");
        self.child = Some(child);
    }

    /// `http://<ip>:8500`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}:8500{}", self.ip, path)
    }

    /// GET a path.
    pub fn get(&self, path: &str) -> Resp {
        http("GET", &self.url(path), None)
    }

    /// PUT a body to a path.
    pub fn put(&self, path: &str, body: &[u8]) -> Resp {
        http("PUT", &self.url(path), Some(body))
    }

    /// DELETE a path.
    pub fn delete(&self, path: &str) -> Resp {
        http("DELETE", &self.url(path), None)
    }

    /// The length of the JSON array that GET `path` answers (None if it is not an array).
    pub fn len_of(&self, path: &str) -> Option<usize> {
        self.get(path).json().as_array().map(Vec::len)
    }

    /// Waits until the agent answers and knows a leader; returns the time it took.
    pub fn wait_ready(&self, timeout: Duration) -> Duration {
        let started = Instant::now();
        wait_for("a leader", timeout, || {
            let r = try_http("GET", &self.url("/v1/status/leader"), None).ok()?;
            (r.status == 200 && r.text().trim() != "\"\"").then_some(())
        });
        started.elapsed()
    }

    /// kill -9 the process and reap it.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Sends SIGTERM and waits for a clean exit; returns the exit status code.
    pub fn terminate(&mut self) -> Option<i32> {
        let mut child = self.child.take()?;
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return status.code();
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits up to `timeout` for the process to exit on its own; returns its exit status
    /// code (`None` inside when a signal ended it), or `None` if it is still running.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<Option<i32>> {
        let child = self.child.as_mut()?;
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                self.child = None;
                return Some(status.code());
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The agent's log so far (for assertions and failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Runs the `rconsul` CLI with `args` and returns (exit code, stdout, stderr).
pub fn cli(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .expect("run rconsul");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Starts `rconsul lock -http-addr=<agent> ARGS...` with its output piped.
pub fn lock_process(agent: &Agent, args: &[&str]) -> Child {
    Command::new(BIN)
        .arg("lock")
        .arg(format!("-http-addr={}:8500", agent.ip))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn rconsul lock")
}
