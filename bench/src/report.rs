//! Per-client counters and latency histograms, and the final report.

use std::fmt;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::catalog::PopulateSettings;
use crate::watch::WatchSettings;

/// What one client (or, after merging, the whole run) measured after the warmup.
#[derive(Debug, Clone)]
pub struct Stats {
    /// Latencies of successful requests, in microseconds.
    pub hist: Histogram<u64>,
    /// Successful requests.
    pub ops: u64,
    /// Failed requests: bad status, broken connection, failed (re)connect.
    pub errors: u64,
    /// Connections re-established after the previous one ended.
    pub reconnects: u64,
    /// Description of the first error seen, for diagnosis.
    pub first_error: Option<String>,
}

impl Default for Stats {
    fn default() -> Self {
        Self::new()
    }
}

impl Stats {
    /// Empty statistics (the histogram grows as needed, 3 significant digits).
    pub fn new() -> Self {
        Stats {
            hist: Histogram::new(3).expect("3 significant figures is a valid precision"),
            ops: 0,
            errors: 0,
            reconnects: 0,
            first_error: None,
        }
    }

    /// Records one successful request.
    pub fn record(&mut self, latency: Duration) {
        let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX).max(1);
        if self.hist.record(us).is_err() {
            self.hist.saturating_record(us);
        }
        self.ops += 1;
    }

    /// Records one failed request, keeping the first description.
    pub fn error(&mut self, what: impl FnOnce() -> String) {
        self.errors += 1;
        if self.first_error.is_none() {
            self.first_error = Some(what());
        }
    }

    /// Adds another client's figures to these.
    pub fn merge(&mut self, other: &Stats) {
        // Both histograms auto-resize, so adding cannot fail.
        let _ = self.hist.add(&other.hist);
        self.ops += other.ops;
        self.errors += other.errors;
        self.reconnects += other.reconnects;
        if self.first_error.is_none() {
            self.first_error.clone_from(&other.first_error);
        }
    }

    /// Latency at quantile `q` (0..=1) in milliseconds; 0 when nothing was recorded.
    pub fn quantile_ms(&self, q: f64) -> f64 {
        if self.hist.is_empty() {
            return 0.0;
        }
        self.hist.value_at_quantile(q) as f64 / 1000.0
    }
}

/// The figures of one run, printed as text or as one JSON object.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Workload name, e.g. `kv-get`.
    pub workload: String,
    /// Requested path, for `raw-get` only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Target, `http://host:port`.
    pub addr: String,
    /// Concurrent connections.
    pub clients: u32,
    /// Runtime worker threads of the generator.
    pub threads: u32,
    /// Measured duration in seconds (warmup excluded).
    pub duration_s: f64,
    /// Successful requests in the measured window.
    pub ops: u64,
    /// Failed requests in the measured window.
    pub errors: u64,
    /// Connections re-established in the measured window.
    pub reconnects: u64,
    /// Successful requests per second.
    pub ops_per_sec: f64,
    /// Median latency, ms.
    pub p50_ms: f64,
    /// 90th percentile latency, ms.
    pub p90_ms: f64,
    /// 99th percentile latency, ms.
    pub p99_ms: f64,
    /// 99.9th percentile latency, ms.
    pub p999_ms: f64,
    /// Maximum latency, ms.
    pub max_ms: f64,
    /// First error seen, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_error: Option<String>,
}

/// Run parameters that go into a [`Report`] next to the measured [`Stats`].
pub struct RunInfo {
    /// Workload name.
    pub workload: String,
    /// Path for `raw-get`.
    pub path: Option<String>,
    /// Target URL.
    pub addr: String,
    /// Concurrent connections.
    pub clients: u32,
    /// Worker threads.
    pub threads: u32,
    /// Measured window.
    pub duration: Duration,
}

impl Report {
    /// Builds the report of a run from its parameters and merged statistics.
    pub fn new(info: RunInfo, stats: &Stats) -> Report {
        let secs = info.duration.as_secs_f64();
        Report {
            workload: info.workload,
            path: info.path,
            addr: info.addr,
            clients: info.clients,
            threads: info.threads,
            duration_s: round3(secs),
            ops: stats.ops,
            errors: stats.errors,
            reconnects: stats.reconnects,
            ops_per_sec: (stats.ops as f64 / secs * 10.0).round() / 10.0,
            p50_ms: round3(stats.quantile_ms(0.50)),
            p90_ms: round3(stats.quantile_ms(0.90)),
            p99_ms: round3(stats.quantile_ms(0.99)),
            p999_ms: round3(stats.quantile_ms(0.999)),
            max_ms: round3(stats.hist.max() as f64 / 1000.0),
            first_error: stats.first_error.clone(),
        }
    }

    /// The report as one line of JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let workload = match &self.path {
            Some(p) => format!("{} {}", self.workload, p),
            None => self.workload.clone(),
        };
        writeln!(f, "workload:   {workload}")?;
        writeln!(f, "addr:       {}", self.addr)?;
        writeln!(f, "clients:    {}", self.clients)?;
        writeln!(f, "threads:    {}", self.threads)?;
        writeln!(f, "duration:   {:.2}s", self.duration_s)?;
        writeln!(f, "ops:        {}", self.ops)?;
        writeln!(f, "errors:     {}", self.errors)?;
        if self.reconnects > 0 {
            writeln!(f, "reconnects: {}", self.reconnects)?;
        }
        if let Some(e) = &self.first_error {
            writeln!(f, "first err:  {e}")?;
        }
        writeln!(f, "ops/s:      {:.1}", self.ops_per_sec)?;
        write!(
            f,
            "latency ms: p50 {:.3}  p90 {:.3}  p99 {:.3}  p99.9 {:.3}  max {:.3}",
            self.p50_ms, self.p90_ms, self.p99_ms, self.p999_ms, self.max_ms
        )
    }
}

/// Rounds `x` to three decimals (µs resolution for milliseconds).
fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Result of `populate-catalog`.
#[derive(Debug, Clone, Serialize)]
pub struct PopulateReport {
    /// Always `populate-catalog`.
    pub workload: String,
    /// Target, `http://host:port`.
    pub addr: String,
    /// Concurrent connections.
    pub clients: u32,
    /// Services.
    pub services: u32,
    /// Instances per service.
    pub instances: u32,
    /// Registrations attempted in total (`services × instances`).
    pub registrations: u64,
    /// Registrations that succeeded.
    pub registered: u64,
    /// Registrations that failed.
    pub errors: u64,
    /// Connections re-established.
    pub reconnects: u64,
    /// Whether the `--timeout` ended the run before all registrations were sent.
    pub timed_out: bool,
    /// Wall-clock time, seconds.
    pub elapsed_s: f64,
    /// Successful registrations per second.
    pub per_sec: f64,
    /// Median registration latency, ms.
    pub p50_ms: f64,
    /// 99th percentile registration latency, ms.
    pub p99_ms: f64,
    /// Maximum registration latency, ms.
    pub max_ms: f64,
    /// First error seen, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_error: Option<String>,
}

impl PopulateReport {
    /// Builds the report from the settings, merged statistics and wall-clock time.
    pub fn new(s: &PopulateSettings, stats: &Stats, elapsed: Duration, total: u64) -> PopulateReport {
        let secs = elapsed.as_secs_f64().max(1e-9);
        PopulateReport {
            workload: "populate-catalog".into(),
            addr: s.target.url(),
            clients: s.clients,
            services: s.services,
            instances: s.instances,
            registrations: total,
            registered: stats.ops,
            errors: stats.errors,
            reconnects: stats.reconnects,
            timed_out: stats.ops + stats.errors < total,
            elapsed_s: round3(secs),
            per_sec: (stats.ops as f64 / secs * 10.0).round() / 10.0,
            p50_ms: round3(stats.quantile_ms(0.50)),
            p99_ms: round3(stats.quantile_ms(0.99)),
            max_ms: round3(stats.hist.max() as f64 / 1000.0),
            first_error: stats.first_error.clone(),
        }
    }

    /// Whether every registration succeeded.
    pub fn complete(&self) -> bool {
        self.registered == self.registrations
    }

    /// The report as one line of JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }
}

impl fmt::Display for PopulateReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "workload:   {}", self.workload)?;
        writeln!(f, "addr:       {}", self.addr)?;
        writeln!(f, "clients:    {}", self.clients)?;
        writeln!(f, "errors:     {}", self.errors)?;
        if self.reconnects > 0 {
            writeln!(f, "reconnects: {}", self.reconnects)?;
        }
        if let Some(e) = &self.first_error {
            writeln!(f, "first err:  {e}")?;
        }
        if self.timed_out {
            writeln!(f, "timed out:  yes (--timeout)")?;
        }
        writeln!(
            f,
            "latency ms: p50 {:.3}  p99 {:.3}  max {:.3}",
            self.p50_ms, self.p99_ms, self.max_ms
        )?;
        write!(
            f,
            "registered {} of {} instances ({} services x {}) in {:.3}s ({:.1}/s)",
            self.registered, self.registrations, self.services, self.instances, self.elapsed_s, self.per_sec
        )
    }
}

/// Result of `watch-latency`.
#[derive(Debug, Clone, Serialize)]
pub struct WatchReport {
    /// Always `watch-latency`.
    pub workload: String,
    /// Target, `http://host:port`.
    pub addr: String,
    /// Runtime worker threads of the generator.
    pub threads: u32,
    /// Concurrent blocking queries.
    pub watchers: u32,
    /// Distinct services watched.
    pub services: u32,
    /// Rounds asked for.
    pub rounds: u32,
    /// Rounds whose flip was written (fewer if the deadline hit or a PUT failed).
    pub rounds_done: u32,
    /// Time to open all watchers and get their first index, seconds.
    pub setup_s: f64,
    /// Expected wakes measured.
    pub wakes: u64,
    /// Expected wakes that did not come within the round timeout.
    pub missed: u64,
    /// Missed wakes that came later.
    pub late: u64,
    /// Wakes whose answer did not show the new check status.
    pub stale: u64,
    /// Returns of watchers whose service had not changed.
    pub spurious_wakes: u64,
    /// Failed requests (watchers and flips).
    pub errors: u64,
    /// Median wake latency (watcher return − flip PUT return), ms.
    pub p50_ms: f64,
    /// 90th percentile wake latency, ms.
    pub p90_ms: f64,
    /// 99th percentile wake latency, ms.
    pub p99_ms: f64,
    /// Maximum wake latency, ms.
    pub max_ms: f64,
    /// Median wake latency counted from when the flip PUT was sent, ms.
    pub sent_p50_ms: f64,
    /// 99th percentile wake latency counted from when the flip PUT was sent, ms.
    pub sent_p99_ms: f64,
    /// Maximum wake latency counted from when the flip PUT was sent, ms.
    pub sent_max_ms: f64,
    /// Median latency of the flip PUTs, ms.
    pub put_p50_ms: f64,
    /// Maximum latency of the flip PUTs, ms.
    pub put_max_ms: f64,
    /// Whether the overall `--timeout` cut the run short.
    pub timed_out: bool,
    /// First error seen, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_error: Option<String>,
}

/// What `watch-latency` counted, next to its run parameters.
#[derive(Debug, Default)]
pub struct WatchCounts {
    /// Rounds whose flip was written.
    pub rounds_done: u32,
    /// Setup time.
    pub setup: Duration,
    /// Expected wakes that did not come.
    pub missed: u64,
    /// Missed wakes that came later.
    pub late: u64,
    /// Wakes with a stale answer.
    pub stale: u64,
    /// Unexpected returns.
    pub spurious: u64,
    /// Whether the deadline hit.
    pub timed_out: bool,
}

impl WatchReport {
    /// Builds the report from `[wakes, since_sent, puts]`: wake latencies from the
    /// PUT's return (their errors are the watchers' errors), wake latencies from the
    /// PUT's send, and the flip PUTs' latencies (and errors).
    pub fn new(s: &WatchSettings, threads: u32, stats: [&Stats; 3], c: &WatchCounts) -> WatchReport {
        let [wakes, sent, puts] = stats;
        WatchReport {
            workload: "watch-latency".into(),
            addr: s.target.url(),
            threads,
            watchers: s.watchers,
            services: s.watchers.min(s.services),
            rounds: s.rounds,
            rounds_done: c.rounds_done,
            setup_s: round3(c.setup.as_secs_f64()),
            wakes: wakes.ops,
            missed: c.missed,
            late: c.late,
            stale: c.stale,
            spurious_wakes: c.spurious,
            errors: wakes.errors + puts.errors,
            p50_ms: round3(wakes.quantile_ms(0.50)),
            p90_ms: round3(wakes.quantile_ms(0.90)),
            p99_ms: round3(wakes.quantile_ms(0.99)),
            max_ms: round3(wakes.hist.max() as f64 / 1000.0),
            sent_p50_ms: round3(sent.quantile_ms(0.50)),
            sent_p99_ms: round3(sent.quantile_ms(0.99)),
            sent_max_ms: round3(sent.hist.max() as f64 / 1000.0),
            put_p50_ms: round3(puts.quantile_ms(0.50)),
            put_max_ms: round3(puts.hist.max() as f64 / 1000.0),
            timed_out: c.timed_out,
            first_error: wakes.first_error.clone().or_else(|| puts.first_error.clone()),
        }
    }

    /// The report as one line of JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }
}

impl fmt::Display for WatchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "workload:   {}", self.workload)?;
        writeln!(f, "addr:       {}", self.addr)?;
        writeln!(f, "threads:    {}", self.threads)?;
        writeln!(f, "watchers:   {} on {} services", self.watchers, self.services)?;
        writeln!(f, "setup:      {:.3}s", self.setup_s)?;
        writeln!(f, "rounds:     {} of {}", self.rounds_done, self.rounds)?;
        writeln!(
            f,
            "wakes:      {}  missed {}  late {}  stale {}",
            self.wakes, self.missed, self.late, self.stale
        )?;
        writeln!(f, "spurious:   {}", self.spurious_wakes)?;
        writeln!(f, "errors:     {}", self.errors)?;
        if let Some(e) = &self.first_error {
            writeln!(f, "first err:  {e}")?;
        }
        if self.timed_out {
            writeln!(f, "timed out:  yes (--timeout)")?;
        }
        writeln!(
            f,
            "flip PUT ms:      p50 {:.3}  max {:.3}",
            self.put_p50_ms, self.put_max_ms
        )?;
        writeln!(
            f,
            "since PUT sent ms: p50 {:.3}  p99 {:.3}  max {:.3}",
            self.sent_p50_ms, self.sent_p99_ms, self.sent_max_ms
        )?;
        write!(
            f,
            "wake latency ms (since PUT returned, clamped at 0): p50 {:.3}  p90 {:.3}  p99 {:.3}  max {:.3}",
            self.p50_ms, self.p90_ms, self.p99_ms, self.max_ms
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info() -> RunInfo {
        RunInfo {
            workload: "kv-get".into(),
            path: None,
            addr: "http://127.0.0.1:8500".into(),
            clients: 2,
            threads: 1,
            duration: Duration::from_secs(2),
        }
    }

    #[test]
    fn percentiles_after_merge() {
        // Client a: 1..=500 µs, client b: 501..=1000 µs => uniform 1..=1000 µs.
        let mut a = Stats::new();
        let mut b = Stats::new();
        for us in 1..=1000u64 {
            let s = if us <= 500 { &mut a } else { &mut b };
            s.record(Duration::from_micros(us));
        }
        b.error(|| "HTTP 500".into());
        b.error(|| "second".into());
        a.merge(&b);
        assert_eq!((a.ops, a.errors), (1000, 2));
        assert_eq!(a.first_error.as_deref(), Some("HTTP 500"));
        let close = |got: f64, want: f64| (got - want).abs() <= want * 0.002;
        assert!(close(a.quantile_ms(0.5), 0.5), "{}", a.quantile_ms(0.5));
        assert!(close(a.quantile_ms(0.9), 0.9));
        assert!(close(a.quantile_ms(0.99), 0.99));
        assert!(close(a.quantile_ms(0.999), 0.999));

        let r = Report::new(info(), &a);
        assert_eq!(r.ops_per_sec, 500.0);
        assert!(close(r.max_ms, 1.0));
        assert!(r.p50_ms <= r.p90_ms && r.p90_ms <= r.p99_ms && r.p99_ms <= r.p999_ms);
        assert!(r.p999_ms <= r.max_ms);
    }

    #[test]
    fn sub_microsecond_and_huge_latencies_are_kept() {
        let mut s = Stats::new();
        s.record(Duration::from_nanos(10));
        s.record(Duration::from_secs(100));
        assert_eq!(s.ops, 2);
        assert_eq!(s.hist.min(), 1);
        assert!(s.quantile_ms(1.0) >= 99_000.0);
    }

    #[test]
    fn empty_run_reports_zeros() {
        let r = Report::new(info(), &Stats::new());
        assert_eq!(
            (r.ops, r.errors, r.ops_per_sec, r.p99_ms, r.max_ms),
            (0, 0, 0.0, 0.0, 0.0)
        );
        assert!(r.to_string().contains("ops/s:      0.0"));
    }

    #[test]
    fn json_has_the_documented_fields() {
        let mut s = Stats::new();
        s.record(Duration::from_micros(1234));
        let v: serde_json::Value = serde_json::from_str(&Report::new(info(), &s).to_json()).unwrap();
        for k in [
            "workload",
            "addr",
            "clients",
            "threads",
            "duration_s",
            "ops",
            "errors",
            "ops_per_sec",
            "p50_ms",
            "p90_ms",
            "p99_ms",
            "p999_ms",
            "max_ms",
        ] {
            assert!(v.get(k).is_some(), "missing {k}");
        }
        assert_eq!(v["workload"], "kv-get");
        assert_eq!(v["ops"], 1);
        assert!(v.get("path").is_none() && v.get("first_error").is_none());
        assert!((v["p50_ms"].as_f64().unwrap() - 1.234).abs() < 0.002);
    }
}
