//! `watch-latency`: how fast blocking queries on `/v1/health/service/<name>`
//! return after a change, and whether queries on other services stay parked.
//!
//! Each watcher owns one keep-alive connection. It first reads its service
//! without `?index` to learn `X-Consul-Index`, then loops on
//! `?index=<last>&wait=5m`, reporting every return to the coordinator. The
//! coordinator flips the check of instance 0 of one random watched service per
//! round with `PUT /v1/catalog/register`, waits for every watcher of that
//! service to return, and counts returns of any other watcher as spurious.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::bail;
use bytes::Bytes;
use hyper::Method;
use tokio::sync::mpsc::{self, UnboundedReceiver, UnboundedSender};
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tokio::time::{timeout_at, Instant};

use crate::args::Target;
use crate::catalog::{check_id, check_status, register, service_name, Endpoint, Link, CRITICAL, PASSING};
use crate::report::{Stats, WatchCounts, WatchReport};

/// Watchers connecting and reading their first index at the same time.
const SETUP_PARALLELISM: usize = 64;
/// How long the watchers of a flipped service may take to return.
const ROUND_TIMEOUT: Duration = Duration::from_secs(10);
/// Quiet time after each round, to catch spurious returns and let the woken
/// watchers' next queries reach the server before the next flip.
const SETTLE: Duration = Duration::from_millis(200);
/// Quiet time after setup, before the first flip.
const FIRST_SETTLE: Duration = Duration::from_millis(500);
/// Pause before a watcher retries after a failed query.
const RETRY_BACKOFF: Duration = Duration::from_secs(1);
/// Longest time `restore` may take after the run.
const RESTORE_TIMEOUT: Duration = Duration::from_secs(10);
/// The `wait` of the blocking queries; longer than any run.
const WAIT: &str = "5m";

/// What `watch-latency` needs.
#[derive(Debug, Clone)]
pub struct WatchSettings {
    /// The agent.
    pub target: Target,
    /// `X-Consul-Token`, if any.
    pub token: Option<String>,
    /// Concurrent blocking queries.
    pub watchers: u32,
    /// Services the watchers cycle over.
    pub services: u32,
    /// Service name prefix.
    pub prefix: String,
    /// Flips to measure.
    pub rounds: u32,
    /// Overall deadline.
    pub timeout: Duration,
}

/// What a watcher tells the coordinator.
#[derive(Debug)]
enum Event {
    /// The first (non-blocking) read succeeded; `status` is that of the check of instance 0.
    Armed { watcher: u32, status: Option<String> },
    /// A blocking query returned at `at`.
    Woke {
        watcher: u32,
        at: Instant,
        status: Option<String>,
    },
    /// A query failed; the watcher retries after [`RETRY_BACKOFF`] unless it was not armed yet.
    Failed { watcher: u32, error: String },
}

/// The service watcher `w` watches.
fn service_of(w: u32, services: u32) -> u32 {
    w % services
}

/// One watcher: first read, then blocking queries until aborted.
async fn watcher(
    ep: Arc<Endpoint>,
    id: u32,
    path: String,
    check: String,
    tx: UnboundedSender<Event>,
    gate: Arc<Semaphore>,
) {
    // Limit how many watchers connect at once; the permit is released once armed.
    let mut permit = gate.acquire_owned().await.ok();
    let mut link = Link::new(ep);
    let mut index: Option<u64> = None;
    loop {
        let uri = match index {
            None => path.clone(),
            Some(i) => format!("{path}?index={i}&wait={WAIT}"),
        };
        let result = link.call(Method::GET, &uri, Bytes::new()).await;
        let at = Instant::now();
        let answer = result.and_then(|a| {
            a.check()?;
            let i = a.index.ok_or("the answer has no X-Consul-Index header")?;
            Ok((i, a.body))
        });
        match answer {
            Ok((new, body)) => {
                let status = check_status(&body, &check);
                let event = match index {
                    None => {
                        drop(permit.take());
                        Event::Armed { watcher: id, status }
                    }
                    Some(_) => Event::Woke {
                        watcher: id,
                        at,
                        status,
                    },
                };
                if tx.send(event).is_err() {
                    return;
                }
                // Index 0 would not block at all.
                index = Some(new.max(1));
            }
            Err(error) => {
                let armed = index.is_some();
                if tx.send(Event::Failed { watcher: id, error }).is_err() || !armed {
                    return;
                }
                tokio::time::sleep(RETRY_BACKOFF).await;
            }
        }
    }
}

/// Aborts the watcher tasks (closing their connections) when dropped.
struct AbortAll(Vec<JoinHandle<()>>);

impl Drop for AbortAll {
    fn drop(&mut self) {
        for t in &self.0 {
            t.abort();
        }
    }
}

/// The flip being measured.
struct Round {
    service: u32,
    /// When the PUT was sent: an earlier return cannot be caused by it.
    sent: Instant,
    /// When the PUT's answer had been read: wake latencies count from here.
    put_done: Instant,
    /// The status written.
    status: &'static str,
    /// Watchers that have not returned yet.
    expected: HashSet<u32>,
    /// Whether returns are measured (false after a failed PUT: they are only tolerated).
    measure: bool,
}

/// Counters of the run.
struct Tally {
    services: u32,
    wakes: Stats,
    /// Wake latencies counted from when the PUT was sent.
    since_sent: Stats,
    puts: Stats,
    counts: WatchCounts,
    /// Watchers whose last query failed (not expected until they return again).
    broken: Vec<bool>,
    /// Watchers that missed a round and have not returned since.
    late: Vec<bool>,
}

impl Tally {
    fn handle(&mut self, event: Event, round: Option<&mut Round>) {
        match event {
            Event::Woke { watcher, at, status } => {
                let w = watcher as usize;
                if self.broken[w] {
                    // First return after a failure: the watcher is back, nothing to measure.
                    self.broken[w] = false;
                    return;
                }
                if let Some(r) = round {
                    if service_of(watcher, self.services) == r.service && at >= r.sent {
                        if r.expected.remove(&watcher) {
                            self.late[w] = false;
                            if r.measure {
                                self.wakes.record(at.saturating_duration_since(r.put_done));
                                self.since_sent.record(at.saturating_duration_since(r.sent));
                                if status.as_deref() != Some(r.status) {
                                    self.counts.stale += 1;
                                }
                            }
                            return;
                        }
                        if !r.measure {
                            return;
                        }
                    }
                }
                if self.late[w] {
                    self.late[w] = false;
                    self.counts.late += 1;
                } else {
                    self.counts.spurious += 1;
                }
            }
            Event::Failed { watcher, error } => {
                self.wakes.error(|| format!("watcher {watcher}: {error}"));
                self.broken[watcher as usize] = true;
                if let Some(r) = round {
                    r.expected.remove(&watcher);
                }
            }
            Event::Armed { .. } => {}
        }
    }

    /// Handles events until `until` (or until `round` has no expected watcher
    /// left, if `stop_when_done`). Returns `false` if every watcher is gone.
    async fn drain(
        &mut self,
        rx: &mut UnboundedReceiver<Event>,
        until: Instant,
        mut round: Option<&mut Round>,
        stop_when_done: bool,
    ) -> bool {
        loop {
            if stop_when_done && round.as_ref().is_none_or(|r| r.expected.is_empty()) {
                return true;
            }
            match timeout_at(until, rx.recv()).await {
                Err(_) => return true,
                Ok(None) => return false,
                Ok(Some(ev)) => self.handle(ev, round.as_deref_mut()),
            }
        }
    }
}

/// xorshift64* seeded from the clock: only picks the next service.
struct Rng(u64);

impl Rng {
    fn from_clock() -> Rng {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        Rng(nanos.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn below(&mut self, n: u32) -> u32 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % u64::from(n)) as u32
    }
}

/// The other status.
fn flipped(status: &str) -> &'static str {
    if status == PASSING {
        CRITICAL
    } else {
        PASSING
    }
}

/// Runs `watch-latency`. Must be called inside a (preferably multi-threaded) Tokio runtime.
pub async fn run(s: &WatchSettings, threads: u32) -> anyhow::Result<WatchReport> {
    let started = Instant::now();
    let end = started + s.timeout;
    let (ep, first) = Endpoint::open(&s.target, s.token.as_deref(), end).await?;
    let mut flipper = Link::with_stream(ep.clone(), first)
        .await
        .map_err(anyhow::Error::msg)?;
    let watched = s.watchers.min(s.services);

    eprintln!("opening {} watchers on {watched} services...", s.watchers);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let gate = Arc::new(Semaphore::new(SETUP_PARALLELISM));
    let tasks = (0..s.watchers)
        .map(|w| {
            let k = service_of(w, s.services);
            tokio::spawn(watcher(
                ep.clone(),
                w,
                format!("/v1/health/service/{}", service_name(&s.prefix, k)),
                check_id(&s.prefix, k, 0),
                tx.clone(),
                gate.clone(),
            ))
        })
        .collect();
    let watchers = AbortAll(tasks);
    drop(tx);

    let mut tally = Tally {
        services: s.services,
        wakes: Stats::new(),
        since_sent: Stats::new(),
        puts: Stats::new(),
        counts: WatchCounts::default(),
        broken: vec![false; s.watchers as usize],
        late: vec![false; s.watchers as usize],
    };

    // Setup: every watcher must read its service once.
    let mut status: Vec<Option<&'static str>> = vec![None; watched as usize];
    let mut armed = 0;
    while armed < s.watchers {
        match timeout_at(end, rx.recv()).await {
            Err(_) => bail!(
                "timed out after {:?} with {armed} of {} watchers started",
                s.timeout,
                s.watchers
            ),
            Ok(None) => bail!("all watchers ended during setup"),
            Ok(Some(Event::Failed { watcher, error })) => {
                bail!("watcher {watcher} could not start: {error}")
            }
            Ok(Some(Event::Armed { watcher, status: st })) => {
                armed += 1;
                let k = service_of(watcher, s.services);
                match st {
                    Some(st) => {
                        status[k as usize].get_or_insert(if st == PASSING { PASSING } else { CRITICAL });
                    }
                    None => bail!(
                        "service {} has no check {}: run populate-catalog with the same --services and --prefix first",
                        service_name(&s.prefix, k),
                        check_id(&s.prefix, k, 0)
                    ),
                }
            }
            Ok(Some(ev @ Event::Woke { .. })) => tally.handle(ev, None),
        }
    }
    let mut status: Vec<&'static str> = status.into_iter().map(|st| st.unwrap_or(PASSING)).collect();
    let initial = status.clone();
    tally.counts.setup = started.elapsed();
    eprintln!(
        "{} watchers waiting after {:.2}s; flipping checks...",
        s.watchers,
        tally.counts.setup.as_secs_f64()
    );
    let mut alive = tally
        .drain(&mut rx, end.min(Instant::now() + FIRST_SETTLE), None, false)
        .await;

    let mut rng = Rng::from_clock();
    for _ in 0..s.rounds {
        if !alive {
            break;
        }
        if Instant::now() >= end {
            tally.counts.timed_out = true;
            break;
        }
        let k = rng.below(watched);
        let new = flipped(status[k as usize]);
        let sent = Instant::now();
        let put = timeout_at(end, register(&mut flipper, &s.prefix, k, 0, new)).await;
        let put_done = Instant::now();
        let measure = match put {
            Err(_) => {
                tally.counts.timed_out = true;
                break;
            }
            Ok(Err(e)) => {
                tally.puts.error(|| e);
                false
            }
            Ok(Ok(())) => {
                tally.puts.record(put_done - sent);
                tally.counts.rounds_done += 1;
                status[k as usize] = new;
                true
            }
        };
        let mut round = Round {
            service: k,
            sent,
            put_done,
            status: new,
            expected: (k..s.watchers)
                .step_by(s.services as usize)
                .filter(|&w| !tally.broken[w as usize])
                .collect(),
            measure,
        };
        if measure {
            let round_end = end.min(put_done + ROUND_TIMEOUT);
            alive = tally.drain(&mut rx, round_end, Some(&mut round), true).await;
            if !round.expected.is_empty() {
                tally.counts.missed += round.expected.len() as u64;
                for &w in &round.expected {
                    tally.late[w as usize] = true;
                }
                round.expected.clear();
                if Instant::now() >= end {
                    tally.counts.timed_out = true;
                }
            }
        }
        // Quiet time: any return now is spurious (or tolerated after a failed PUT).
        let settle_end = end.min(Instant::now() + SETTLE);
        alive &= tally.drain(&mut rx, settle_end, Some(&mut round), false).await;
    }
    if !alive {
        tally.wakes.error(|| "every watcher ended".into());
    }
    drop(watchers);

    restore(&mut flipper, &s.prefix, &initial, &status).await;
    Ok(WatchReport::new(
        s,
        threads,
        [&tally.wakes, &tally.since_sent, &tally.puts],
        &tally.counts,
    ))
}

/// Sets every check this run flipped back to `passing` (the state populate-catalog
/// creates), so repeated runs start alike. Failures are only reported.
async fn restore(link: &mut Link, prefix: &str, initial: &[&str], now: &[&str]) {
    let deadline = Instant::now() + RESTORE_TIMEOUT;
    for (k, (&was, &is)) in initial.iter().zip(now).enumerate() {
        if was == is || is == PASSING {
            continue;
        }
        match timeout_at(deadline, register(link, prefix, k as u32, 0, PASSING)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("rconsul-bench: warning: could not restore a passing check: {e}"),
            Err(_) => {
                eprintln!("rconsul-bench: warning: timed out restoring passing checks");
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tally(watchers: usize, services: u32) -> Tally {
        Tally {
            services,
            wakes: Stats::new(),
            since_sent: Stats::new(),
            puts: Stats::new(),
            counts: WatchCounts::default(),
            broken: vec![false; watchers],
            late: vec![false; watchers],
        }
    }

    fn woke(watcher: u32, at: Instant, status: &str) -> Event {
        Event::Woke {
            watcher,
            at,
            status: Some(status.into()),
        }
    }

    #[test]
    fn wakes_are_classified() {
        // 6 watchers on 3 services: service 1 has watchers 1 and 4.
        let mut t = tally(6, 3);
        let sent = Instant::now();
        let put_done = sent + Duration::from_millis(2);
        let mut r = Round {
            service: 1,
            sent,
            put_done,
            status: CRITICAL,
            expected: [1, 4].into_iter().collect(),
            measure: true,
        };
        // Returned before the PUT was sent: spurious, still expected.
        t.handle(woke(1, sent - Duration::from_millis(1), PASSING), Some(&mut r));
        assert_eq!((t.counts.spurious, r.expected.len()), (1, 2));
        // Before the PUT answer was read: clamped to 0 (recorded as 1 µs).
        t.handle(woke(1, sent + Duration::from_millis(1), CRITICAL), Some(&mut r));
        t.handle(
            woke(4, put_done + Duration::from_millis(3), PASSING),
            Some(&mut r),
        );
        assert!(r.expected.is_empty());
        assert_eq!((t.wakes.ops, t.wakes.hist.min(), t.counts.stale), (2, 1, 1));
        assert!((2999..=3001).contains(&t.wakes.hist.max()));
        // Another service, or the same watcher again: spurious.
        t.handle(woke(0, put_done, PASSING), Some(&mut r));
        t.handle(woke(4, put_done, CRITICAL), Some(&mut r));
        assert_eq!(t.counts.spurious, 3);
        // A late watcher is counted as late once, then spurious again.
        t.late[2] = true;
        t.handle(woke(2, put_done, PASSING), None);
        t.handle(woke(2, put_done, PASSING), None);
        assert_eq!((t.counts.late, t.counts.spurious), (1, 4));
        // A failure removes the watcher from the round; its next return is not counted.
        let mut r = Round {
            service: 0,
            sent,
            put_done,
            status: PASSING,
            expected: [0, 3].into_iter().collect(),
            measure: true,
        };
        t.handle(
            Event::Failed {
                watcher: 3,
                error: "x".into(),
            },
            Some(&mut r),
        );
        assert_eq!((t.wakes.errors, r.expected.len()), (1, 1));
        t.handle(woke(3, put_done, PASSING), None);
        assert_eq!(t.counts.spurious, 4);
        // After a failed PUT, returns on that service are tolerated, not measured.
        let mut r = Round {
            service: 2,
            sent,
            put_done,
            status: PASSING,
            expected: [2, 5].into_iter().collect(),
            measure: false,
        };
        t.handle(woke(5, put_done, PASSING), Some(&mut r));
        t.handle(woke(5, put_done, PASSING), Some(&mut r));
        assert_eq!((t.wakes.ops, t.counts.spurious), (2, 4));
    }

    #[test]
    fn flips_and_picks() {
        assert_eq!(flipped(PASSING), CRITICAL);
        assert_eq!(flipped(CRITICAL), PASSING);
        assert_eq!(flipped("warning"), PASSING);
        let mut rng = Rng(1);
        let picks: HashSet<u32> = (0..1000).map(|_| rng.below(7)).collect();
        assert_eq!(picks.len(), 7);
        assert!(picks.iter().all(|&p| p < 7));
        assert_eq!(service_of(1003, 1000), 3);
    }

    /// A tiny Consul stand-in: per-service index and check status, blocking
    /// health queries, and catalog registration. With `spurious`, every change
    /// also returns the parked queries of all other services (unchanged index).
    mod mock {
        use std::collections::HashMap;
        use std::sync::atomic::{AtomicU64, Ordering};
        use std::sync::{Arc, Mutex};

        use bytes::Bytes;
        use http_body_util::{BodyExt, Full};
        use hyper::body::Incoming;
        use hyper::{Method, Request, Response};
        use hyper_util::rt::TokioIo;

        pub struct Mock {
            services: Mutex<HashMap<String, (u64, String)>>,
            next: AtomicU64,
            changed: tokio::sync::watch::Sender<u64>,
            spurious: bool,
        }

        async fn answer(m: Arc<Mock>, req: Request<Incoming>) -> Response<Full<Bytes>> {
            if req.method() == Method::PUT {
                let body = req.into_body().collect().await.unwrap().to_bytes();
                let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
                let name = v["Service"]["Service"].as_str().unwrap().to_string();
                let status = v["Check"]["Status"].as_str().unwrap().to_string();
                let index = m.next.fetch_add(1, Ordering::SeqCst) + 1;
                m.services.lock().unwrap().insert(name, (index, status));
                m.changed.send_replace(index);
                return Response::new(Full::new(Bytes::from_static(b"true")));
            }
            let name = req
                .uri()
                .path()
                .strip_prefix("/v1/health/service/")
                .unwrap()
                .to_string();
            let min: u64 = req
                .uri()
                .query()
                .and_then(|q| q.split('&').find_map(|p| p.strip_prefix("index=")))
                .map_or(0, |i| i.parse().unwrap());
            let mut rx = m.changed.subscribe();
            let mut woken = false;
            loop {
                rx.borrow_and_update();
                let entry = m.services.lock().unwrap().get(&name).cloned();
                let index = entry.as_ref().map_or(1, |e| e.0);
                if min == 0 || index > min || (woken && m.spurious) {
                    let body = match entry {
                        Some((_, status)) => {
                            format!(r#"[{{"Checks":[{{"CheckID":"{name}-0-check","Status":"{status}"}}]}}]"#)
                        }
                        None => "[]".into(),
                    };
                    let mut resp = Response::new(Full::new(Bytes::from(body)));
                    resp.headers_mut().insert("x-consul-index", index.into());
                    return resp;
                }
                rx.changed().await.unwrap();
                woken = true;
            }
        }

        /// Serves `services` passing services `svc-0...` on a random port.
        pub async fn start(services: u32, spurious: bool) -> (u16, tokio::task::JoinHandle<()>) {
            let m = Arc::new(Mock {
                services: Mutex::new(
                    (0..services)
                        .map(|k| (format!("svc-{k}"), (1, "passing".into())))
                        .collect(),
                ),
                next: AtomicU64::new(1),
                changed: tokio::sync::watch::channel(1).0,
                spurious,
            });
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let port = listener.local_addr().unwrap().port();
            let server = tokio::spawn(async move {
                loop {
                    let (stream, _) = listener.accept().await.unwrap();
                    let m = m.clone();
                    tokio::spawn(async move {
                        let svc = hyper::service::service_fn(move |req| {
                            let m = m.clone();
                            async move { Ok::<_, std::convert::Infallible>(answer(m, req).await) }
                        });
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), svc)
                            .await;
                    });
                }
            });
            (port, server)
        }
    }

    fn settings(port: u16) -> WatchSettings {
        WatchSettings {
            target: Target {
                host: "127.0.0.1".into(),
                port,
            },
            token: None,
            watchers: 12,
            services: 4,
            prefix: "svc-".into(),
            rounds: 5,
            timeout: Duration::from_secs(30),
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn measures_wakes_against_a_mock() {
        let (port, server) = mock::start(4, false).await;
        let r = run(&settings(port), 2).await.unwrap();
        assert_eq!(r.services, 4);
        assert_eq!((r.rounds_done, r.wakes), (5, 15), "{r:?}");
        assert_eq!(
            (r.missed, r.late, r.stale, r.spurious_wakes, r.errors),
            (0, 0, 0, 0, 0),
            "{r:?}"
        );
        assert!(!r.timed_out);
        assert!(r.p50_ms <= r.p99_ms && r.p99_ms <= r.max_ms && r.max_ms < 1000.0);

        // A server that wakes everybody on every change.
        server.abort();
        let (port, server) = mock::start(4, true).await;
        let r = run(&settings(port), 2).await.unwrap();
        assert_eq!((r.rounds_done, r.wakes, r.missed), (5, 15, 0), "{r:?}");
        assert!(r.spurious_wakes >= 5 * 9, "{r:?}");
        server.abort();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn unpopulated_services_are_a_clean_error() {
        let (port, server) = mock::start(4, false).await;
        let mut s = settings(port);
        s.prefix = "other-".into();
        let err = run(&s, 2).await.unwrap_err().to_string();
        assert!(err.starts_with("service other-"), "{err}");
        assert!(err.contains("-0-check: run populate-catalog"), "{err}");

        // Nothing listening: fails at once.
        server.abort();
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let err = run(&settings(port), 2).await.unwrap_err().to_string();
        assert!(err.starts_with("cannot connect to"), "{err}");
    }
}
