//! The closed-loop load generator: each client owns one persistent HTTP/1.1
//! connection and sends its next request as soon as the previous response has
//! been read completely.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{HeaderName, HeaderValue, HOST};
use hyper::{Method, Request, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::args::{Target, Workload};
use crate::report::Stats;

/// Pause after a failed connect before the next attempt.
const RECONNECT_BACKOFF: Duration = Duration::from_millis(50);

/// Everything a load run needs besides the clock.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The agent to load.
    pub target: Target,
    /// What to send.
    pub workload: Workload,
    /// Concurrent connections.
    pub clients: u32,
    /// Measured window.
    pub duration: Duration,
    /// Unmeasured load before the window.
    pub warmup: Duration,
    /// Distinct KV keys.
    pub keys: u64,
    /// KV value size in bytes.
    pub value_size: usize,
    /// KV key prefix.
    pub key_prefix: String,
    /// ACL token sent as `X-Consul-Token` (from `CONSUL_HTTP_TOKEN`).
    pub token: Option<String>,
}

/// One kind of request a workload issues.
#[derive(Debug, Clone)]
enum Op {
    /// PUT a value under key i.
    Put,
    /// GET key i; a 404 is an error.
    Get,
    /// 90% GET (404 tolerated), 10% PUT.
    Mixed,
    /// GET a fixed URI.
    Fixed(Uri),
}

/// The immutable request recipe shared by all clients.
struct Plan {
    op: Op,
    clients: u64,
    keys: u64,
    /// `/v1/kv/<percent-encoded prefix>`; the key number is appended.
    kv_base: String,
    value: Bytes,
    host: HeaderValue,
    token: Option<HeaderValue>,
}

/// Per-client request sequencing state.
struct Cursor {
    id: u64,
    n: u64,
    rng: u64,
}

impl Cursor {
    fn new(id: u64) -> Cursor {
        Cursor {
            id,
            n: 0,
            rng: id.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1,
        }
    }

    /// xorshift64*: cheap, good enough for a 90/10 split.
    fn random(&mut self) -> u64 {
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

impl Plan {
    fn new(s: &Settings) -> anyhow::Result<Plan> {
        let op = match &s.workload {
            Workload::KvPut => Op::Put,
            Workload::KvGet => Op::Get,
            Workload::KvMixed => Op::Mixed,
            Workload::StatusLeader => Op::Fixed(Uri::from_static("/v1/status/leader")),
            Workload::RawGet { path } => {
                let path = if path.starts_with('/') {
                    path.clone()
                } else {
                    format!("/{path}")
                };
                let uri = path
                    .parse::<Uri>()
                    .with_context(|| format!("invalid path {path:?}"))?;
                Op::Fixed(uri)
            }
            Workload::PopulateCatalog { .. }
            | Workload::WatchLatency { .. }
            | Workload::ServeTrivial { .. } => {
                bail!("{} is not a closed-loop load workload", s.workload.name())
            }
        };
        let token = match &s.token {
            Some(t) => Some(HeaderValue::from_str(t).context("invalid CONSUL_HTTP_TOKEN")?),
            None => None,
        };
        Ok(Plan {
            op,
            clients: u64::from(s.clients),
            keys: s.keys,
            kv_base: format!("/v1/kv/{}", encode_key(&s.key_prefix)),
            value: Bytes::from(vec![b'x'; s.value_size]),
            host: HeaderValue::from_str(&s.target.authority()).context("invalid host")?,
            token,
        })
    }

    fn key_uri(&self, i: u64) -> Uri {
        // The base is percent-encoded and only digits are appended, so this always parses.
        Uri::try_from(format!("{}{}", self.kv_base, i)).expect("encoded KV path is a valid URI")
    }

    fn request(&self, method: Method, uri: Uri, body: Bytes) -> Request<Full<Bytes>> {
        let mut req = Request::new(Full::new(body));
        *req.method_mut() = method;
        *req.uri_mut() = uri;
        req.headers_mut().insert(HOST, self.host.clone());
        if let Some(t) = &self.token {
            req.headers_mut()
                .insert(HeaderName::from_static("x-consul-token"), t.clone());
        }
        req
    }

    /// The next request of a client, and whether a 404 answer counts as success.
    fn next(&self, c: &mut Cursor) -> (Request<Full<Bytes>>, bool) {
        let key = (c.id + c.n.wrapping_mul(self.clients)) % self.keys;
        c.n += 1;
        let put = || self.request(Method::PUT, self.key_uri(key), self.value.clone());
        let get = || self.request(Method::GET, self.key_uri(key), Bytes::new());
        match &self.op {
            Op::Put => (put(), false),
            Op::Get => (get(), false),
            // Keys are preloaded, but a 404 (e.g. deleted meanwhile) is not a failure here.
            Op::Mixed if c.random().is_multiple_of(10) => (put(), false),
            Op::Mixed => (get(), true),
            Op::Fixed(uri) => (self.request(Method::GET, uri.clone(), Bytes::new()), false),
        }
    }
}

/// Percent-encodes everything in a key prefix except unreserved characters and `/`.
fn encode_key(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// An error and its chain of causes, e.g. `connection error: Connection reset by peer`.
pub(crate) fn describe(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        out.push_str(": ");
        out.push_str(&c.to_string());
        cause = c.source();
    }
    out
}

/// Opens a TCP connection with `TCP_NODELAY` set.
pub(crate) async fn connect(addr: SocketAddr) -> std::io::Result<TcpStream> {
    let s = TcpStream::connect(addr).await?;
    s.set_nodelay(true)?;
    Ok(s)
}

/// Resolves the target and returns the first address that accepts a connection.
pub(crate) async fn first_connection(target: &Target) -> anyhow::Result<(SocketAddr, TcpStream)> {
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((target.host.as_str(), target.port))
        .await
        .with_context(|| format!("cannot resolve {}", target.host))?
        .collect();
    let mut last = None;
    for addr in addrs {
        match connect(addr).await {
            Ok(s) => return Ok((addr, s)),
            Err(e) => last = Some(format!("{addr}: {e}")),
        }
    }
    bail!(
        "cannot connect to {} ({})",
        target.url(),
        last.unwrap_or_else(|| "no address found".into())
    )
}

/// Sends one request and reads the whole response body; returns the status.
async fn exchange(
    sender: &mut SendRequest<Full<Bytes>>,
    req: Request<Full<Bytes>>,
) -> Result<(StatusCode, Bytes), hyper::Error> {
    let resp = sender.send_request(req).await?;
    let status = resp.status();
    let body = resp.into_body().collect().await?.to_bytes();
    Ok((status, body))
}

/// Writes every key once over a single connection, sequentially and untimed.
async fn preload(plan: &Plan, stream: TcpStream, keys: u64) -> anyhow::Result<()> {
    let (mut sender, conn) = http1::handshake(TokioIo::new(stream))
        .await
        .context("HTTP handshake failed")?;
    let driver = tokio::spawn(conn);
    for i in 0..keys {
        let req = plan.request(Method::PUT, plan.key_uri(i), plan.value.clone());
        let path = req.uri().to_string();
        sender.ready().await.context("connection closed during preload")?;
        let (status, body) = exchange(&mut sender, req)
            .await
            .with_context(|| format!("preload PUT {path} failed"))?;
        if !status.is_success() {
            let body = String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned();
            bail!("preload PUT {path} answered {status}: {}", body.trim());
        }
    }
    drop(sender);
    let _ = driver.await;
    Ok(())
}

/// Sends requests back to back on one connection until it breaks.
async fn request_loop(
    plan: &Plan,
    mut sender: SendRequest<Full<Bytes>>,
    cursor: &mut Cursor,
    stats: &mut Stats,
    measure_from: Instant,
) {
    loop {
        if sender.ready().await.is_err() {
            return; // closed between requests: reconnect without counting an error
        }
        let (req, allow_404) = plan.next(cursor);
        let started = Instant::now();
        let result = send(&mut sender, req).await;
        let done = Instant::now();
        let measured = done >= measure_from;
        match result {
            Ok(status) if status.is_success() || (allow_404 && status == StatusCode::NOT_FOUND) => {
                if measured {
                    stats.record(done - started);
                }
            }
            Ok(status) => {
                if measured {
                    stats.error(|| format!("HTTP {status}"));
                }
            }
            Err(e) => {
                if measured {
                    stats.error(|| format!("request failed: {}", describe(&e)));
                }
                return;
            }
        }
    }
}

/// Like [`exchange`] but drops body chunks as they arrive instead of collecting them.
async fn send(
    sender: &mut SendRequest<Full<Bytes>>,
    req: Request<Full<Bytes>>,
) -> Result<StatusCode, hyper::Error> {
    let resp = sender.send_request(req).await?;
    let status = resp.status();
    let mut body = resp.into_body();
    while let Some(frame) = body.frame().await {
        frame?;
    }
    Ok(status)
}

/// One connection's lifetime: connect if needed, then serve requests until it
/// breaks. Returns `true` if connecting failed (the caller should back off).
async fn session(
    plan: &Plan,
    addr: SocketAddr,
    stream: Option<TcpStream>,
    cursor: &mut Cursor,
    stats: &mut Stats,
    measure_from: Instant,
) -> bool {
    let stream = match stream {
        Some(s) => s,
        None => match connect(addr).await {
            Ok(s) => s,
            Err(e) => {
                if Instant::now() >= measure_from {
                    stats.error(|| format!("connect to {addr} failed: {e}"));
                }
                return true;
            }
        },
    };
    let (sender, conn) = match http1::handshake(TokioIo::new(stream)).await {
        Ok(x) => x,
        Err(e) => {
            if Instant::now() >= measure_from {
                stats.error(|| format!("HTTP handshake failed: {}", describe(&e)));
            }
            return true;
        }
    };
    // Drive the connection in this task (no extra task switch per request).
    // When the loop ends it drops the sender, which lets `conn` finish.
    let work = request_loop(plan, sender, cursor, stats, measure_from);
    let _ = tokio::join!(conn, work);
    false
}

/// One client: keeps a connection open and loops until `end`.
async fn client(
    plan: Arc<Plan>,
    id: u64,
    addr: SocketAddr,
    stream: TcpStream,
    measure_from: Instant,
    end: Instant,
) -> Stats {
    let mut stats = Stats::new();
    let mut cursor = Cursor::new(id);
    let deadline = tokio::time::sleep_until(end);
    tokio::pin!(deadline);
    let mut stream = Some(stream);
    loop {
        let fresh = stream.is_none();
        let failed_connect = tokio::select! {
            biased;
            _ = &mut deadline => break,
            f = session(&plan, addr, stream.take(), &mut cursor, &mut stats, measure_from) => f,
        };
        if fresh && !failed_connect && Instant::now() >= measure_from {
            stats.reconnects += 1;
        }
        if failed_connect {
            tokio::select! {
                _ = &mut deadline => break,
                _ = tokio::time::sleep(RECONNECT_BACKOFF) => {}
            }
        }
    }
    stats
}

/// Runs a whole load test: connect, preload if needed, warm up, measure.
/// Must be called inside a Tokio runtime.
pub async fn run(s: &Settings) -> anyhow::Result<Stats> {
    let plan = Arc::new(Plan::new(s)?);
    let (addr, first) = first_connection(&s.target).await?;

    let mut streams = Vec::with_capacity(s.clients as usize);
    if matches!(s.workload, Workload::KvGet | Workload::KvMixed) {
        eprintln!("preloading {} keys under {}...", s.keys, plan.kv_base);
        preload(&plan, first, s.keys).await?;
    } else {
        streams.push(first);
    }
    for i in streams.len() as u32..s.clients {
        let stream = connect(addr)
            .await
            .with_context(|| format!("connection {} of {} to {addr} failed", i + 1, s.clients))?;
        streams.push(stream);
    }

    let measure_from = Instant::now() + s.warmup;
    let end = measure_from + s.duration;
    let tasks: Vec<_> = streams
        .into_iter()
        .enumerate()
        .map(|(id, stream)| tokio::spawn(client(plan.clone(), id as u64, addr, stream, measure_from, end)))
        .collect();
    let mut total = Stats::new();
    for t in tasks {
        total.merge(&t.await.context("client task failed")?);
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(workload: Workload) -> Settings {
        Settings {
            target: Target {
                host: "127.0.0.1".into(),
                port: 8500,
            },
            workload,
            clients: 4,
            duration: Duration::from_millis(300),
            warmup: Duration::from_millis(50),
            keys: 10,
            value_size: 3,
            key_prefix: "bench/".into(),
            token: None,
        }
    }

    #[test]
    fn keys_cycle_and_are_encoded() {
        assert_eq!(encode_key("bench/"), "bench/");
        assert_eq!(encode_key("a b?/ü"), "a%20b%3F/%C3%BC");
        let plan = Plan::new(&settings(Workload::KvPut)).unwrap();
        let mut c = Cursor::new(1);
        let uris: Vec<String> = (0..4).map(|_| plan.next(&mut c).0.uri().to_string()).collect();
        // Client 1 of 4 over 10 keys: 1, 5, 9, 13 % 10 = 3.
        assert_eq!(
            uris,
            [
                "/v1/kv/bench/1",
                "/v1/kv/bench/5",
                "/v1/kv/bench/9",
                "/v1/kv/bench/3"
            ]
        );
        let (req, allow_404) = plan.next(&mut c);
        assert_eq!(req.method(), Method::PUT);
        assert!(!allow_404);
        assert_eq!(req.headers()[HOST], "127.0.0.1:8500");
    }

    #[test]
    fn mixed_is_about_ninety_ten() {
        let plan = Plan::new(&settings(Workload::KvMixed)).unwrap();
        let mut c = Cursor::new(3);
        let puts = (0..10_000)
            .filter(|_| plan.next(&mut c).0.method() == Method::PUT)
            .count();
        assert!((800..1200).contains(&puts), "{puts} puts");
    }

    #[test]
    fn raw_get_path_gets_a_slash() {
        let plan = Plan::new(&settings(Workload::RawGet {
            path: "v1/catalog/services?stale".into(),
        }))
        .unwrap();
        let (req, _) = plan.next(&mut Cursor::new(0));
        assert_eq!(req.uri(), "/v1/catalog/services?stale");
        assert_eq!(req.method(), Method::GET);
    }

    #[tokio::test]
    async fn refused_connection_is_a_clean_error() {
        // Bind then drop a listener to get a port nobody listens on.
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let mut s = settings(Workload::StatusLeader);
        s.target.port = port;
        let err = run(&s).await.unwrap_err().to_string();
        assert!(err.starts_with("cannot connect to http://127.0.0.1:"), "{err}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn load_against_trivial_server() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(crate::server::serve_on(listener));
        for w in [Workload::KvGet, Workload::KvMixed, Workload::KvPut] {
            let mut s = settings(w.clone());
            s.target.port = port;
            let stats = run(&s).await.unwrap();
            assert!(stats.ops > 0, "{w:?}");
            assert_eq!(stats.errors, 0, "{w:?}: {:?}", stats.first_error);
            assert_eq!(stats.hist.len(), stats.ops);
        }
        server.abort();
    }

    #[tokio::test]
    async fn non_2xx_counts_as_error() {
        use hyper::server::conn::http1 as server_http1;
        use hyper::service::service_fn;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                tokio::spawn(async move {
                    let svc = service_fn(|req: Request<hyper::body::Incoming>| async move {
                        let code = if req.uri().path() == "/ok" { 200 } else { 404 };
                        let mut resp = hyper::Response::new(Full::new(Bytes::from_static(b"x")));
                        *resp.status_mut() = StatusCode::from_u16(code).unwrap();
                        Ok::<_, std::convert::Infallible>(resp)
                    });
                    let _ = server_http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        let mut s = settings(Workload::RawGet {
            path: "/missing".into(),
        });
        s.target.port = port;
        s.warmup = Duration::ZERO;
        let stats = run(&s).await.unwrap();
        assert_eq!(stats.ops, 0);
        assert!(stats.errors > 0);
        assert_eq!(stats.first_error.as_deref(), Some("HTTP 404 Not Found"));

        s.workload = Workload::RawGet { path: "/ok".into() };
        let stats = run(&s).await.unwrap();
        assert!(stats.ops > 0);
        assert_eq!(stats.errors, 0);

        // kv-get preload fails cleanly when PUTs are refused.
        s.workload = Workload::KvGet;
        let err = format!("{:#}", run(&s).await.unwrap_err());
        assert!(err.contains("preload PUT /v1/kv/bench/0 answered 404"), "{err}");
        server.abort();
    }
}
