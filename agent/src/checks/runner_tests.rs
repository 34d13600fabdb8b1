//! Runner tests: loopback HTTP/HTTPS/TCP servers, `sh` scripts, TTL timers.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::time::Instant;

use super::*;

type Reports = Vec<(String, Status, String)>;

/// Collects every report.
#[derive(Default)]
struct CollectSink(Mutex<Reports>);

impl StatusSink for CollectSink {
    fn report(&self, check_id: &str, status: Status, output: String) {
        self.0
            .lock()
            .unwrap()
            .push((check_id.to_string(), status, output));
    }
}

impl CollectSink {
    fn all(&self) -> Reports {
        self.0.lock().unwrap().clone()
    }

    fn len(&self) -> usize {
        self.0.lock().unwrap().len()
    }

    /// Waits (up to 5 s) for a report matching `pred`; returns it.
    async fn wait_for(&self, pred: impl Fn(Status, &str) -> bool) -> (Status, String) {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if let Some((_, s, o)) = self.all().into_iter().find(|(_, s, o)| pred(*s, o)) {
                return (s, o);
            }
            assert!(
                Instant::now() < deadline,
                "no matching report; got {:?}",
                self.all()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Waits for the first report.
    async fn first(&self) -> (Status, String) {
        self.wait_for(|_, _| true).await
    }
}

/// An alias source answering whatever the test set.
#[derive(Default)]
struct TestAlias(Mutex<Option<Status>>);

impl AliasSource for TestAlias {
    fn aggregate_status(&self, _node: Option<&str>, _service: Option<&str>) -> Option<Status> {
        *self.0.lock().unwrap()
    }
}

fn spec(kind: CheckKind) -> CheckSpec {
    CheckSpec {
        id: "c1".to_string(),
        kind,
        interval: Duration::from_millis(100),
        timeout: Duration::from_secs(2),
        success_before_passing: 0,
        failures_before_critical: 0,
        output_max_size: DEFAULT_OUTPUT_MAX_SIZE,
    }
}

fn start(spec: CheckSpec) -> (Arc<CollectSink>, RunnerHandle) {
    let sink = Arc::new(CollectSink::default());
    let handle = super::spawn(spec, sink.clone(), Arc::new(TestAlias::default()));
    (sink, handle)
}

fn http_kind(url: String) -> CheckKind {
    CheckKind::Http {
        url,
        method: String::new(),
        headers: Vec::new(),
        body: String::new(),
        tls_skip_verify: false,
    }
}

/// Reads one request (head and `Content-Length` body) from `s`.
async fn read_request<S: tokio::io::AsyncRead + Unpin>(s: &mut S) -> String {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while let Ok(n) = s.read(&mut chunk).await {
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf).to_string();
        if let Some(end) = text.find("\r\n\r\n") {
            let len = text[..end]
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            if buf.len() >= end + 4 + len {
                break;
            }
        }
    }
    String::from_utf8_lossy(&buf).to_string()
}

/// A loopback HTTP server answering every request with `respond(request)`;
/// returns its address and the requests seen.
async fn http_server(
    respond: impl Fn(&str) -> String + Send + Sync + 'static,
) -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let respond = Arc::new(respond);
    let seen2 = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let respond = respond.clone();
            let seen = seen2.clone();
            tokio::spawn(async move {
                let req = read_request(&mut s).await;
                let resp = respond(&req);
                seen.lock().unwrap().push(req);
                let _ = s.write_all(resp.as_bytes()).await;
                let _ = s.shutdown().await;
            });
        }
    });
    (addr, seen)
}

fn response(status_line: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 {status_line}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

#[tokio::test]
async fn http_statuses_map_like_consul() {
    for (line, want) in [
        ("200 OK", Status::Passing),
        ("204 No Content", Status::Passing),
        ("429 Too Many Requests", Status::Warning),
        ("500 Internal Server Error", Status::Critical),
        ("404 Not Found", Status::Critical),
    ] {
        let body = if line.starts_with("204") { "" } else { "hi there" };
        let (addr, _) = http_server(move |_| response(line, body)).await;
        let url = format!("http://{addr}/health");
        let (sink, _h) = start(spec(http_kind(url.clone())));
        let (status, output) = sink.first().await;
        assert_eq!(status, want, "{line}");
        assert_eq!(output, format!("HTTP GET {url}: {line} Output: {body}"));
    }
}

#[tokio::test]
async fn http_sends_consul_headers_method_and_body() {
    let (addr, seen) = http_server(|_| response("200 OK", "ok")).await;
    let url = format!("http://{addr}/x?y=1");
    let mut s = spec(CheckKind::Http {
        url: url.clone(),
        method: "POST".to_string(),
        headers: vec![
            ("X-Token".to_string(), "a".to_string()),
            ("X-Token".to_string(), "b".to_string()),
        ],
        body: "{\"k\":1}".to_string(),
        tls_skip_verify: false,
    });
    s.interval = Duration::from_secs(60);
    let (sink, _h) = start(s);
    let (status, output) = sink.first().await;
    assert_eq!(status, Status::Passing);
    assert_eq!(output, format!("HTTP POST {url}: 200 OK Output: ok"));
    let req = seen.lock().unwrap()[0].clone();
    let lower = req.to_ascii_lowercase();
    assert!(req.starts_with("POST /x?y=1 HTTP/1.1\r\n"), "{req}");
    assert!(lower.contains("user-agent: consul health check\r\n"), "{req}");
    assert!(lower.contains("accept: text/plain, text/*, */*\r\n"), "{req}");
    assert!(
        lower.contains("x-token: a\r\n") && lower.contains("x-token: b\r\n"),
        "{req}"
    );
    assert!(lower.contains(&format!("host: {addr}\r\n")), "{req}");
    assert!(req.ends_with("\r\n\r\n{\"k\":1}"), "{req}");
}

#[tokio::test]
async fn http_given_user_agent_wins() {
    let (addr, seen) = http_server(|_| response("200 OK", "")).await;
    let (sink, _h) = start(spec(CheckKind::Http {
        url: format!("http://{addr}/"),
        method: "GET".to_string(),
        headers: vec![("user-agent".to_string(), "mine".to_string())],
        body: String::new(),
        tls_skip_verify: false,
    }));
    sink.first().await;
    let req = seen.lock().unwrap()[0].to_ascii_lowercase();
    assert!(req.contains("user-agent: mine\r\n"), "{req}");
    assert!(!req.contains("consul health check"), "{req}");
}

#[tokio::test]
async fn http_output_keeps_the_tail() {
    let body: String = ('a'..='z').collect();
    let (addr, _) = http_server(move |_| response("200 OK", &body)).await;
    let url = format!("http://{addr}/");
    let mut s = spec(http_kind(url.clone()));
    s.output_max_size = 5;
    let (sink, _h) = start(s);
    let (_, output) = sink.first().await;
    assert_eq!(output, format!("HTTP GET {url}: 200 OK Output: vwxyz"));
}

#[tokio::test]
async fn http_follows_redirects() {
    let (addr, _) = http_server(|req| {
        if req.starts_with("GET /old ") {
            "HTTP/1.1 302 Found\r\nLocation: /new\r\nContent-Length: 0\r\n\r\n".to_string()
        } else if req.starts_with("GET /new ") {
            response("200 OK", "moved")
        } else {
            response("404 Not Found", "")
        }
    })
    .await;
    let url = format!("http://{addr}/old");
    let (sink, _h) = start(spec(http_kind(url.clone())));
    assert_eq!(
        sink.first().await,
        (Status::Passing, format!("HTTP GET {url}: 200 OK Output: moved"))
    );
}

#[tokio::test]
async fn http_redirect_loop_stops_after_ten() {
    let (addr, _) =
        http_server(|_| "HTTP/1.1 302 Found\r\nLocation: /again\r\nContent-Length: 0\r\n\r\n".to_string())
            .await;
    let (sink, _h) = start(spec(http_kind(format!("http://{addr}/start"))));
    assert_eq!(
        sink.first().await,
        (
            Status::Critical,
            format!("Get \"http://{addr}/again\": stopped after 10 redirects")
        )
    );
}

/// A port with nothing listening.
async fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    l.local_addr().unwrap().port()
}

#[tokio::test]
async fn http_refused_is_critical_with_go_text() {
    let port = closed_port().await;
    let url = format!("http://127.0.0.1:{port}/health");
    let (sink, _h) = start(spec(http_kind(url.clone())));
    assert_eq!(
        sink.first().await,
        (
            Status::Critical,
            format!("Get \"{url}\": dial tcp 127.0.0.1:{port}: connect: connection refused")
        )
    );
}

#[tokio::test]
async fn http_timeout_is_critical() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    // Accepts and never answers.
    let _server = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            held.push(s);
        }
    });
    let url = format!("http://{addr}/slow");
    let mut s = spec(http_kind(url.clone()));
    s.timeout = Duration::from_millis(200);
    let (sink, _h) = start(s);
    assert_eq!(
        sink.first().await,
        (
            Status::Critical,
            format!(
                "Get \"{url}\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)"
            )
        )
    );
}

#[tokio::test]
async fn http_bad_scheme_and_closed_connection() {
    let (sink, _h) = start(spec(http_kind("ftp://127.0.0.1/x".to_string())));
    assert_eq!(
        sink.first().await,
        (
            Status::Critical,
            "Get \"ftp://127.0.0.1/x\": unsupported protocol scheme \"ftp\"".to_string()
        )
    );
    // A server that closes without answering: Go says EOF.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let _server = tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let _ = read_request(&mut s).await;
            drop(s);
        }
    });
    let url = format!("http://{addr}/");
    let (sink, _h) = start(spec(http_kind(url.clone())));
    assert_eq!(
        sink.first().await,
        (Status::Critical, format!("Get \"{url}\": EOF"))
    );
}

/// A loopback HTTPS server with a fresh self-signed certificate.
async fn https_server() -> SocketAddr {
    let ck = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
    let cert = ck.cert.der().clone();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(ck.key_pair.serialize_der().into());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((s, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(s).await else {
                    return;
                };
                let _ = read_request(&mut tls).await;
                let _ = tls.write_all(response("200 OK", "secure").as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    addr
}

#[tokio::test]
async fn https_with_and_without_verification() {
    let addr = https_server().await;
    let url = format!("https://{addr}/health");
    let kind = |skip| CheckKind::Http {
        url: url.clone(),
        method: String::new(),
        headers: Vec::new(),
        body: String::new(),
        tls_skip_verify: skip,
    };
    let (sink, _h) = start(spec(kind(true)));
    assert_eq!(
        sink.first().await,
        (Status::Passing, format!("HTTP GET {url}: 200 OK Output: secure"))
    );
    let (sink, _h) = start(spec(kind(false)));
    assert_eq!(
        sink.first().await,
        (
            Status::Critical,
            format!(
                "Get \"{url}\": tls: failed to verify certificate: x509: certificate signed by unknown authority"
            )
        )
    );
}

#[tokio::test]
async fn tcp_up_and_down() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let (sink, _h) = start(spec(CheckKind::Tcp { addr: addr.clone() }));
    assert_eq!(
        sink.first().await,
        (Status::Passing, format!("TCP connect {addr}: Success"))
    );
    drop(listener);
    let (_, output) = sink.wait_for(|s, _| s == Status::Critical).await;
    assert_eq!(output, format!("dial tcp {addr}: connect: connection refused"));
}

#[tokio::test]
async fn tcp_bad_address() {
    let (sink, _h) = start(spec(CheckKind::Tcp {
        addr: "localhost".to_string(),
    }));
    assert_eq!(
        sink.first().await,
        (
            Status::Critical,
            "dial tcp: address localhost: missing port in address".to_string()
        )
    );
}

#[tokio::test]
async fn ttl_expires_and_updates() {
    let (sink, h) = start(spec(CheckKind::Ttl {
        ttl: Duration::from_millis(400),
    }));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(sink.len(), 0, "a TTL check reports nothing at start");
    assert_eq!(sink.first().await, (Status::Critical, "TTL expired".to_string()));
    h.ttl_update(Status::Passing, "all good".to_string());
    sink.wait_for(|s, o| s == Status::Passing && o == "all good")
        .await;
    // Updates keep it alive past the TTL.
    for _ in 0..6 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        h.ttl_update(Status::Warning, "meh".to_string());
    }
    assert!(sink.all().iter().skip(1).all(|(_, s, _)| *s != Status::Critical));
    let (_, output) = sink
        .wait_for(|s, o| s == Status::Critical && o != "TTL expired")
        .await;
    assert_eq!(output, "TTL expired (last output before timeout follows): meh");
    // Expiry is reported once, not on every tick.
    tokio::time::sleep(Duration::from_millis(700)).await;
    let criticals = sink
        .all()
        .iter()
        .filter(|(_, s, _)| *s == Status::Critical)
        .count();
    assert_eq!(criticals, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ttl_update_and_drop_under_the_sinks_lock() {
    // The agent calls ttl_update (and drops handles) while holding the lock its
    // sink takes: neither may call the sink on the caller's thread.
    let (sink, h) = start(spec(CheckKind::Ttl {
        ttl: Duration::from_secs(60),
    }));
    {
        let _guard = sink.0.lock().unwrap();
        h.ttl_update(Status::Passing, "under lock".to_string());
        std::thread::sleep(Duration::from_millis(50));
    }
    sink.wait_for(|s, o| s == Status::Passing && o == "under lock")
        .await;
    let guard = sink.0.lock().unwrap();
    drop(h);
    drop(guard);
}

#[tokio::test]
async fn ttl_update_truncates_long_output() {
    let mut s = spec(CheckKind::Ttl {
        ttl: Duration::from_secs(60),
    });
    s.output_max_size = 4;
    let (sink, h) = start(s);
    h.ttl_update(Status::Passing, "abcdefgh".to_string());
    assert_eq!(
        sink.first().await,
        (Status::Passing, "abcd ... (captured 4 of 8 bytes)".to_string())
    );
}

#[tokio::test]
async fn ttl_update_is_a_no_op_for_other_kinds() {
    let (sink, h) = start(spec(CheckKind::Script {
        args: vec!["sh".into(), "-c".into(), "exit 0".into()],
    }));
    h.ttl_update(Status::Critical, "ignored".to_string());
    sink.first().await;
    assert!(sink.all().iter().all(|(_, _, o)| o != "ignored"));
}

fn script(cmd: &str) -> CheckKind {
    CheckKind::Script {
        args: vec!["sh".to_string(), "-c".to_string(), cmd.to_string()],
    }
}

#[tokio::test]
async fn script_exit_codes() {
    for (cmd, want, out) in [
        ("echo fine; exit 0", Status::Passing, "fine\n"),
        ("echo slow >&2; exit 1", Status::Warning, "slow\n"),
        ("echo a; echo b >&2; exit 2", Status::Critical, "a\nb\n"),
        ("kill -9 $$", Status::Critical, ""),
    ] {
        let (sink, _h) = start(spec(script(cmd)));
        assert_eq!(sink.first().await, (want, out.to_string()), "{cmd}");
    }
}

#[tokio::test]
async fn script_output_truncated_like_consul() {
    let mut s = spec(script("printf 0123456789"));
    s.output_max_size = 4;
    let (sink, _h) = start(s);
    assert_eq!(
        sink.first().await,
        (Status::Passing, "Captured 4 of 10 bytes\n...\n6789".to_string())
    );
}

#[tokio::test]
async fn script_timeout_kills_and_reports() {
    let mut s = spec(script("echo started; sleep 30"));
    s.timeout = Duration::from_millis(300);
    s.interval = Duration::from_secs(60);
    let begun = Instant::now();
    let (sink, _h) = start(s);
    assert_eq!(
        sink.first().await,
        (
            Status::Critical,
            "Timed out (300ms) running check\n\nstarted\n".to_string()
        )
    );
    assert!(begun.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn script_missing_program() {
    let (sink, _h) = start(spec(CheckKind::Script {
        args: vec!["rconsul-no-such-program".to_string()],
    }));
    assert_eq!(
        sink.first().await,
        (
            Status::Critical,
            "exec: \"rconsul-no-such-program\": executable file not found in $PATH".to_string()
        )
    );
}

#[test]
fn thresholds_follow_consul_status_handler() {
    let mut t = Thresholds::new(2, 3);
    let out = |s| Some((s, "o".to_string()));
    // Counters start at the thresholds: the first result is reported at once.
    assert_eq!(t.update(Status::Critical, "o".into()), out(Status::Critical));
    assert_eq!(t.update(Status::Passing, "o".into()), None);
    assert_eq!(t.update(Status::Warning, "o".into()), out(Status::Warning));
    assert_eq!(t.update(Status::Passing, "o".into()), out(Status::Passing));
    assert_eq!(t.update(Status::Critical, "o".into()), None);
    assert_eq!(t.update(Status::Critical, "o".into()), None);
    assert_eq!(t.update(Status::Critical, "o".into()), out(Status::Critical));
    assert_eq!(t.update(Status::Critical, "o".into()), out(Status::Critical));
    // A success resets the failure count.
    assert_eq!(t.update(Status::Passing, "o".into()), None);
    assert_eq!(t.update(Status::Critical, "o".into()), None);
    let mut zero = Thresholds::new(0, 0);
    assert_eq!(zero.update(Status::Passing, "o".into()), out(Status::Passing));
    assert_eq!(zero.update(Status::Critical, "o".into()), out(Status::Critical));
}

#[tokio::test]
async fn thresholds_delay_transitions() {
    // The script passes while the flag file exists.
    let dir = tempfile::tempdir().unwrap();
    let flag = dir.path().join("up");
    std::fs::write(&flag, "").unwrap();
    let mut s = spec(script(&format!("test -e {} || exit 2", flag.display())));
    s.interval = Duration::from_millis(50);
    s.failures_before_critical = 3;
    s.success_before_passing = 2;
    let (sink, _h) = start(s);
    assert_eq!(sink.first().await.0, Status::Passing);
    std::fs::remove_file(&flag).unwrap();
    let removed = Instant::now();
    sink.wait_for(|s, _| s == Status::Critical).await;
    // Three failing probes 50 ms apart: not before ~100 ms.
    assert!(removed.elapsed() >= Duration::from_millis(100));
    let n = sink.len();
    std::fs::write(&flag, "").unwrap();
    let back = Instant::now();
    loop {
        let all = sink.all();
        if all.len() > n && all[n..].iter().any(|(_, s, _)| *s == Status::Passing) {
            break;
        }
        assert!(back.elapsed() < Duration::from_secs(5));
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Two passing probes 50 ms apart: the first success is not reported.
    assert!(back.elapsed() >= Duration::from_millis(40));
}

#[tokio::test]
async fn dropping_the_handle_stops_reports() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let mut s = spec(CheckKind::Tcp { addr });
    s.interval = Duration::from_millis(20);
    let (sink, h) = start(s);
    sink.wait_for(|_, _| sink.len() >= 3).await;
    drop(h);
    let n = sink.len();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(sink.len(), n);
}

#[tokio::test]
async fn dropping_the_handle_kills_a_running_script() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("still-running");
    let mut s = spec(script(&format!("sleep 1; touch {}", marker.display())));
    s.timeout = Duration::from_secs(10);
    let (_sink, h) = start(s);
    tokio::time::sleep(Duration::from_millis(500)).await;
    drop(h);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(!marker.exists(), "the script outlived its runner");
}

#[tokio::test]
async fn alias_mirrors_the_source() {
    let source = Arc::new(TestAlias::default());
    let sink = Arc::new(CollectSink::default());
    let mut s = spec(CheckKind::Alias {
        node: None,
        service: Some("web".to_string()),
    });
    s.id = "alias".to_string();
    let reporter = Reporter {
        id: s.id.clone(),
        sink: sink.clone(),
        stopped: Arc::new(std::sync::atomic::AtomicBool::new(false)),
    };
    // Run with a short poll to keep the test quick.
    let task = tokio::spawn(alias::run(
        None,
        Some("web".to_string()),
        source.clone(),
        reporter,
        Duration::from_millis(20),
    ));
    assert_eq!(
        sink.first().await,
        (
            Status::Critical,
            "Service web could not be found on node ".to_string()
        )
    );
    *source.0.lock().unwrap() = Some(Status::Passing);
    sink.wait_for(|s, o| s == Status::Passing && o == "All checks passing.")
        .await;
    *source.0.lock().unwrap() = Some(Status::Warning);
    sink.wait_for(|s, _| s == Status::Warning).await;
    task.abort();
}

#[tokio::test]
async fn alias_through_spawn_reports_promptly() {
    let source = Arc::new(TestAlias(Mutex::new(Some(Status::Passing))));
    let sink = Arc::new(CollectSink::default());
    let _h = super::spawn(
        spec(CheckKind::Alias {
            node: Some("n1".to_string()),
            service: None,
        }),
        sink.clone(),
        source,
    );
    assert_eq!(
        sink.first().await,
        (Status::Passing, "All checks passing.".to_string())
    );
}
