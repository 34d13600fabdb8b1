//! Catalog workloads: `populate-catalog` registers `services × instances`
//! service instances with `PUT /v1/catalog/register`, and the HTTP helpers it
//! shares with `watch-latency` (see `watch.rs`).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{HeaderName, HeaderValue, HOST};
use hyper::{Method, Request, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use serde_json::json;
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::args::Target;
use crate::load::{connect, describe, first_connection};
use crate::report::{PopulateReport, Stats};

/// Status of a check that is passing.
pub const PASSING: &str = "passing";
/// Status of a check that is failing.
pub const CRITICAL: &str = "critical";

/// Pause after a failed connect before the next attempt.
const RECONNECT_BACKOFF: Duration = Duration::from_millis(50);

/// Where requests go and the headers every request carries.
#[derive(Debug)]
pub struct Endpoint {
    /// The resolved address that accepted the first connection.
    pub addr: SocketAddr,
    host: HeaderValue,
    token: Option<HeaderValue>,
}

impl Endpoint {
    /// Resolves `target` and opens a first connection to it, giving up at `deadline`.
    pub async fn open(
        target: &Target,
        token: Option<&str>,
        deadline: Instant,
    ) -> anyhow::Result<(Arc<Endpoint>, TcpStream)> {
        let host = HeaderValue::from_str(&target.authority()).context("invalid host")?;
        let token = match token {
            Some(t) => Some(HeaderValue::from_str(t).context("invalid CONSUL_HTTP_TOKEN")?),
            None => None,
        };
        let (addr, stream) = tokio::time::timeout_at(deadline, first_connection(target))
            .await
            .map_err(|_| anyhow::anyhow!("cannot connect to {}: timed out", target.url()))??;
        Ok((Arc::new(Endpoint { addr, host, token }), stream))
    }

    /// A request with the `Host` and (if any) `X-Consul-Token` headers.
    pub fn request(&self, method: Method, uri: &str, body: Bytes) -> Result<Request<Full<Bytes>>, String> {
        let uri: Uri = uri.parse().map_err(|e| format!("invalid URI {uri:?}: {e}"))?;
        let mut req = Request::new(Full::new(body));
        *req.method_mut() = method;
        *req.uri_mut() = uri;
        req.headers_mut().insert(HOST, self.host.clone());
        if let Some(t) = &self.token {
            req.headers_mut()
                .insert(HeaderName::from_static("x-consul-token"), t.clone());
        }
        Ok(req)
    }
}

/// A complete response.
#[derive(Debug)]
pub struct Answer {
    /// HTTP status.
    pub status: StatusCode,
    /// `X-Consul-Index`, if present and numeric.
    pub index: Option<u64>,
    /// The whole body.
    pub body: Bytes,
}

impl Answer {
    /// `Ok` for a 2xx answer, otherwise a short description with the start of the body.
    pub fn check(&self) -> Result<(), String> {
        if self.status.is_success() {
            return Ok(());
        }
        let body = String::from_utf8_lossy(&self.body[..self.body.len().min(200)]).into_owned();
        Err(format!("HTTP {}: {}", self.status, body.trim()))
    }
}

/// One persistent HTTP/1.1 connection that is re-opened when it breaks. The
/// connection is driven by its own task, which is stopped when the link is dropped.
pub struct Link {
    ep: Arc<Endpoint>,
    sender: Option<SendRequest<Full<Bytes>>>,
    driver: Option<JoinHandle<()>>,
    /// Connections opened after the first one.
    pub reconnects: u64,
    opened: bool,
}

impl Drop for Link {
    fn drop(&mut self) {
        if let Some(d) = self.driver.take() {
            d.abort();
        }
    }
}

impl Link {
    /// A link that connects on first use.
    pub fn new(ep: Arc<Endpoint>) -> Link {
        Link {
            ep,
            sender: None,
            driver: None,
            reconnects: 0,
            opened: false,
        }
    }

    /// A link that starts on an already connected stream.
    pub async fn with_stream(ep: Arc<Endpoint>, stream: TcpStream) -> Result<Link, String> {
        let mut link = Link::new(ep);
        link.attach(stream).await?;
        Ok(link)
    }

    async fn attach(&mut self, stream: TcpStream) -> Result<(), String> {
        if let Some(d) = self.driver.take() {
            d.abort();
        }
        let (sender, conn) = http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| format!("HTTP handshake failed: {}", describe(&e)))?;
        self.driver = Some(tokio::spawn(async move {
            let _ = conn.await;
        }));
        self.sender = Some(sender);
        if self.opened {
            self.reconnects += 1;
        }
        self.opened = true;
        Ok(())
    }

    /// A sender that is ready for the next request, (re)connecting if needed.
    async fn ready(&mut self) -> Result<&mut SendRequest<Full<Bytes>>, String> {
        if let Some(s) = &mut self.sender {
            if s.ready().await.is_err() {
                // Closed between requests (e.g. the server's keep-alive ended): reconnect.
                self.sender = None;
            }
        }
        if self.sender.is_none() {
            let addr = self.ep.addr;
            let stream = connect(addr)
                .await
                .map_err(|e| format!("connect to {addr} failed: {e}"))?;
            self.attach(stream).await?;
        }
        let s = self.sender.as_mut().expect("sender was just set");
        s.ready()
            .await
            .map_err(|e| format!("connection not usable: {}", describe(&e)))?;
        Ok(s)
    }

    /// Sends one request and reads the whole answer. A transport error drops the
    /// connection, so the next call opens a new one.
    pub async fn call(&mut self, method: Method, uri: &str, body: Bytes) -> Result<Answer, String> {
        let req = self.ep.request(method, uri, body)?;
        let sender = match self.ready().await {
            Ok(s) => s,
            Err(e) => {
                self.sender = None;
                return Err(e);
            }
        };
        match exchange(sender, req).await {
            Ok(a) => Ok(a),
            Err(e) => {
                self.sender = None;
                Err(format!("request failed: {}", describe(&e)))
            }
        }
    }
}

/// Sends a request on a ready sender and reads status, `X-Consul-Index` and body.
async fn exchange(
    sender: &mut SendRequest<Full<Bytes>>,
    req: Request<Full<Bytes>>,
) -> Result<Answer, hyper::Error> {
    let resp = sender.send_request(req).await?;
    let status = resp.status();
    let index = resp
        .headers()
        .get("x-consul-index")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok());
    let body = resp.into_body().collect().await?.to_bytes();
    Ok(Answer { status, index, body })
}

/// Name of the node that holds instance `i` of every service.
pub fn node_name(i: u32) -> String {
    format!("bench-node-{i}")
}

/// A fake, never contacted node address: 127.0.0.1, 127.0.0.2, ... (250 per /24).
pub fn fake_addr(i: u32) -> String {
    format!("127.0.{}.{}", (i / 250) % 256, i % 250 + 1)
}

/// Name of service `n`.
pub fn service_name(prefix: &str, n: u32) -> String {
    format!("{prefix}{n}")
}

/// ID of instance `i` of service `n`.
pub fn instance_id(prefix: &str, n: u32, i: u32) -> String {
    format!("{prefix}{n}-{i}")
}

/// ID of the check of instance `i` of service `n`.
pub fn check_id(prefix: &str, n: u32, i: u32) -> String {
    format!("{}-check", instance_id(prefix, n, i))
}

/// The `PUT /v1/catalog/register` body for instance `i` of service `n` with its
/// check in `status`.
pub fn register_body(prefix: &str, n: u32, i: u32, status: &str) -> Bytes {
    let id = instance_id(prefix, n, i);
    let body = json!({
        "Node": node_name(i),
        "Address": fake_addr(i),
        "Service": {
            "ID": id,
            "Service": service_name(prefix, n),
            "Port": 8000 + u64::from(i),
        },
        "Check": {
            "CheckID": check_id(prefix, n, i),
            "Name": "bench",
            "Status": status,
            "ServiceID": id,
        },
    });
    Bytes::from(body.to_string())
}

/// Registers one instance; `Ok` on a 2xx answer.
pub async fn register(link: &mut Link, prefix: &str, n: u32, i: u32, status: &str) -> Result<(), String> {
    let body = register_body(prefix, n, i, status);
    link.call(Method::PUT, "/v1/catalog/register", body)
        .await?
        .check()
        .map_err(|e| format!("register {}: {e}", instance_id(prefix, n, i)))
}

/// What `populate-catalog` needs.
#[derive(Debug, Clone)]
pub struct PopulateSettings {
    /// The agent.
    pub target: Target,
    /// `X-Consul-Token`, if any.
    pub token: Option<String>,
    /// Concurrent connections.
    pub clients: u32,
    /// Services to register.
    pub services: u32,
    /// Instances per service.
    pub instances: u32,
    /// Service name prefix.
    pub prefix: String,
    /// Overall deadline.
    pub timeout: Duration,
}

/// Takes registrations from `next` until all are done; a registration whose
/// request broke is retried once (on a new connection).
async fn populate_worker(
    mut link: Link,
    s: Arc<PopulateSettings>,
    next: Arc<AtomicU64>,
    end: Instant,
) -> Stats {
    let mut stats = Stats::new();
    let total = u64::from(s.services) * u64::from(s.instances);
    let work = async {
        let mut retry: Option<u64> = None;
        loop {
            let (item, first_try) = match retry.take() {
                Some(item) => (item, false),
                None => (next.fetch_add(1, Ordering::Relaxed), true),
            };
            if item >= total {
                return;
            }
            let n = (item / u64::from(s.instances)) as u32;
            let i = (item % u64::from(s.instances)) as u32;
            let body = register_body(&s.prefix, n, i, PASSING);
            let started = Instant::now();
            let result = match link.call(Method::PUT, "/v1/catalog/register", body).await {
                Ok(a) => a.check(),
                // The connection broke under the request: retry once on a new one.
                Err(e) if first_try && e.starts_with("request failed") => {
                    retry = Some(item);
                    continue;
                }
                Err(e) => {
                    tokio::time::sleep(RECONNECT_BACKOFF).await;
                    Err(e)
                }
            };
            match result {
                Ok(()) => stats.record(started.elapsed()),
                Err(e) => stats.error(|| format!("register {}: {e}", instance_id(&s.prefix, n, i))),
            }
        }
    };
    tokio::select! {
        biased;
        _ = tokio::time::sleep_until(end) => {}
        _ = work => {}
    }
    stats.reconnects = link.reconnects;
    stats
}

/// Runs `populate-catalog`. Must be called inside a Tokio runtime.
pub async fn populate(s: &PopulateSettings) -> anyhow::Result<PopulateReport> {
    let started = Instant::now();
    let end = started + s.timeout;
    let (ep, first) = Endpoint::open(&s.target, s.token.as_deref(), end).await?;
    let total = u64::from(s.services) * u64::from(s.instances);
    let workers = u64::from(s.clients).min(total) as usize;
    let settings = Arc::new(s.clone());
    let next = Arc::new(AtomicU64::new(0));
    let mut first = Some(first);
    let mut tasks = Vec::with_capacity(workers);
    for _ in 0..workers {
        let link = match first.take() {
            Some(stream) => Link::with_stream(ep.clone(), stream)
                .await
                .map_err(anyhow::Error::msg)?,
            None => Link::new(ep.clone()),
        };
        tasks.push(tokio::spawn(populate_worker(
            link,
            settings.clone(),
            next.clone(),
            end,
        )));
    }
    let mut stats = Stats::new();
    for t in tasks {
        stats.merge(&t.await.context("populate task failed")?);
    }
    let elapsed = started.elapsed();
    Ok(PopulateReport::new(s, &stats, elapsed, total))
}

/// The status of check `check_id` in a `/v1/health/service/...` answer, if present.
pub fn check_status(body: &[u8], check_id: &str) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Entry {
        #[serde(rename = "Checks", default)]
        checks: Vec<Check>,
    }
    #[derive(serde::Deserialize)]
    struct Check {
        #[serde(rename = "CheckID", default)]
        check_id: String,
        #[serde(rename = "Status", default)]
        status: String,
    }
    let entries: Vec<Entry> = serde_json::from_slice(body).ok()?;
    entries
        .into_iter()
        .flat_map(|e| e.checks)
        .find(|c| c.check_id == check_id)
        .map(|c| c.status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn register_body_shape() {
        let body = register_body("svc-", 12, 3, PASSING);
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["Node"], "bench-node-3");
        assert_eq!(v["Address"], "127.0.0.4");
        assert_eq!(v["Service"]["ID"], "svc-12-3");
        assert_eq!(v["Service"]["Service"], "svc-12");
        assert_eq!(v["Service"]["Port"], 8003);
        assert_eq!(v["Check"]["CheckID"], "svc-12-3-check");
        assert_eq!(v["Check"]["Name"], "bench");
        assert_eq!(v["Check"]["Status"], "passing");
        assert_eq!(v["Check"]["ServiceID"], "svc-12-3");
        let v: serde_json::Value = serde_json::from_slice(&register_body("a", 0, 0, CRITICAL)).unwrap();
        assert_eq!(v["Check"]["Status"], "critical");
        assert_eq!(fake_addr(249), "127.0.0.250");
        assert_eq!(fake_addr(250), "127.0.1.1");
    }

    #[test]
    fn finds_check_status() {
        let body = br#"[{"Node":{},"Service":{},"Checks":[{"CheckID":"serfHealth","Status":"passing"},
            {"CheckID":"svc-1-0-check","Status":"critical"}]},
            {"Checks":[{"CheckID":"svc-1-1-check","Status":"passing"}]}]"#;
        assert_eq!(check_status(body, "svc-1-0-check").as_deref(), Some("critical"));
        assert_eq!(check_status(body, "svc-1-1-check").as_deref(), Some("passing"));
        assert_eq!(check_status(body, "svc-2-0-check"), None);
        assert_eq!(check_status(b"[]", "x"), None);
        assert_eq!(check_status(b"not json", "x"), None);
    }

    #[tokio::test]
    async fn populate_registers_everything() {
        use hyper::server::conn::http1 as server_http1;
        use hyper::service::service_fn;
        use std::sync::Mutex;
        let seen = Arc::new(Mutex::new(Vec::<String>::new()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let recorded = seen.clone();
        let server = tokio::spawn(async move {
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                let recorded = recorded.clone();
                tokio::spawn(async move {
                    let svc = service_fn(move |req: Request<hyper::body::Incoming>| {
                        let recorded = recorded.clone();
                        async move {
                            assert_eq!(req.method(), Method::PUT);
                            assert_eq!(req.uri().path(), "/v1/catalog/register");
                            let body = req.into_body().collect().await.unwrap().to_bytes();
                            let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
                            recorded
                                .lock()
                                .unwrap()
                                .push(v["Service"]["ID"].as_str().unwrap().to_string());
                            Ok::<_, std::convert::Infallible>(hyper::Response::new(Full::new(
                                Bytes::from_static(b"true"),
                            )))
                        }
                    });
                    let _ = server_http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        let s = PopulateSettings {
            target: Target {
                host: "127.0.0.1".into(),
                port,
            },
            token: None,
            clients: 4,
            services: 7,
            instances: 3,
            prefix: "t-".into(),
            timeout: Duration::from_secs(10),
        };
        let r = populate(&s).await.unwrap();
        assert_eq!((r.registered, r.errors, r.registrations), (21, 0, 21));
        let mut ids = seen.lock().unwrap().clone();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 21);
        assert!(ids.contains(&"t-6-2".to_string()));
        server.abort();
    }
}
