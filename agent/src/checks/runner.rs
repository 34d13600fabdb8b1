//! Spawning and stopping check runners; the probe loop and Consul's
//! `SuccessBeforePassing`/`FailuresBeforeCritical` thresholds.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;

use super::http::HttpProbe;
use super::ttl::{self, TtlUpdates};
use super::{
    alias, script, tcp, AliasSource, CheckKind, CheckSpec, SharedSink, Status, StatusSink,
    DEFAULT_OUTPUT_MAX_SIZE, DEFAULT_TIMEOUT,
};

/// Consul's script timeout when none is set.
const DEFAULT_SCRIPT_TIMEOUT: Duration = Duration::from_secs(30);
/// Upper bound of the random delay before the first probe. Consul staggers by up to
/// a whole interval; this keeps the first result prompt while still spreading
/// checks registered together.
const MAX_FIRST_DELAY: Duration = Duration::from_millis(250);

/// Reports one check's results, until its runner is stopped.
pub(super) struct Reporter {
    id: String,
    sink: SharedSink,
    stopped: Arc<AtomicBool>,
}

impl Reporter {
    /// Passes a result to the sink unless the runner was stopped.
    pub(super) fn report(&self, status: Status, output: String) {
        if !self.stopped.load(Ordering::Acquire) {
            self.sink.report(&self.id, status, output);
        }
    }
}

/// Handle to a running check; dropping it stops the runner (aborts its task, kills
/// a running script's process group).
///
/// After the drop returns no new report starts; one already inside the sink may
/// still complete. Neither the handle's methods nor its drop call the sink, so they
/// are safe to use while holding a lock the sink takes.
pub struct RunnerHandle {
    task: JoinHandle<()>,
    stopped: Arc<AtomicBool>,
    ttl: Option<TtlUpdates>,
}

impl RunnerHandle {
    /// For TTL checks: a pass/warn/fail/update from the API. Resets the TTL timer and
    /// reports `status`/`output` through the sink (output longer than
    /// `output_max_size` is cut to it, with Consul's ` ... (captured N of M bytes)`).
    /// No-op for other kinds.
    ///
    /// Never blocks and never calls the sink itself: the runner's task reports the
    /// update right away, in order with expiries.
    pub fn ttl_update(&self, status: Status, output: String) {
        if let Some(ttl) = &self.ttl {
            ttl.update(status, output);
        }
    }
}

impl Drop for RunnerHandle {
    fn drop(&mut self) {
        self.stopped.store(true, Ordering::Release);
        self.task.abort();
    }
}

impl std::fmt::Debug for RunnerHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunnerHandle")
            .field("ttl", &self.ttl.is_some())
            .field("finished", &self.task.is_finished())
            .finish()
    }
}

/// Starts probing `spec` on the current tokio runtime; results go to `sink`. `alias`
/// is used by alias checks.
///
/// HTTP, TCP and script checks probe first after a short random delay (at most
/// 250 ms), then `interval` after each probe ends. TTL checks report nothing until
/// an update or expiry. Alias checks report at once, then every second.
///
/// # Panics
/// Outside a tokio runtime.
pub fn spawn(spec: CheckSpec, sink: Arc<dyn StatusSink>, alias: Arc<dyn AliasSource>) -> RunnerHandle {
    let stopped = Arc::new(AtomicBool::new(false));
    let reporter = Reporter {
        id: spec.id.clone(),
        sink,
        stopped: stopped.clone(),
    };
    let output_max_size = if spec.output_max_size == 0 {
        DEFAULT_OUTPUT_MAX_SIZE
    } else {
        spec.output_max_size
    };
    let mut ttl_state = None;
    let task = match spec.kind.clone() {
        CheckKind::Ttl { ttl } => {
            let (updates, rx) = ttl::channel(output_max_size);
            ttl_state = Some(updates);
            tokio::spawn(ttl::run(ttl, rx, reporter))
        }
        CheckKind::Alias { node, service } => {
            tokio::spawn(alias::run(node, service, alias, reporter, alias::POLL))
        }
        _ => tokio::spawn(run_periodic(spec, output_max_size, reporter)),
    };
    RunnerHandle {
        task,
        stopped,
        ttl: ttl_state,
    }
}

/// What a periodic check probes, prepared once.
enum Probe {
    Http(HttpProbe),
    Tcp { addr: String, timeout: Duration },
    Script { args: Vec<String>, timeout: Duration },
}

impl Probe {
    fn new(spec: &CheckSpec, output_max_size: usize) -> Option<Probe> {
        let timeout = |default: Duration| {
            if spec.timeout.is_zero() {
                default
            } else {
                spec.timeout
            }
        };
        Some(match &spec.kind {
            CheckKind::Http {
                url,
                method,
                headers,
                body,
                tls_skip_verify,
            } => Probe::Http(HttpProbe::new(
                url.clone(),
                method.clone(),
                headers.clone(),
                body.clone(),
                *tls_skip_verify,
                timeout(DEFAULT_TIMEOUT),
                output_max_size,
            )),
            CheckKind::Tcp { addr } => Probe::Tcp {
                addr: addr.clone(),
                timeout: timeout(DEFAULT_TIMEOUT),
            },
            CheckKind::Script { args } => Probe::Script {
                args: args.clone(),
                timeout: timeout(DEFAULT_SCRIPT_TIMEOUT),
            },
            CheckKind::Ttl { .. } | CheckKind::Alias { .. } => return None,
        })
    }

    async fn run(&self, output_max_size: usize) -> (Status, String) {
        match self {
            Probe::Http(p) => p.probe().await,
            Probe::Tcp { addr, timeout } => tcp::probe(addr, *timeout).await,
            Probe::Script { args, timeout } => script::probe(args, *timeout, output_max_size).await,
        }
    }
}

/// The loop of HTTP, TCP and script checks.
async fn run_periodic(spec: CheckSpec, output_max_size: usize, reporter: Reporter) {
    let Some(probe) = Probe::new(&spec, output_max_size) else {
        return;
    };
    // The agent clamps intervals (Consul: at least 1 s); guard against a busy loop.
    let interval = if spec.interval.is_zero() {
        Duration::from_secs(1)
    } else {
        spec.interval
    };
    let mut thresholds = Thresholds::new(spec.success_before_passing, spec.failures_before_critical);
    tokio::time::sleep(first_delay(interval)).await;
    loop {
        let (status, output) = probe.run(output_max_size).await;
        if let Some((status, output)) = thresholds.update(status, output) {
            reporter.report(status, output);
        }
        tokio::time::sleep(interval).await;
    }
}

/// A random delay in `[0, min(interval, MAX_FIRST_DELAY))`.
fn first_delay(interval: Duration) -> Duration {
    let max = interval.min(MAX_FIRST_DELAY);
    let mut h = RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default(),
    );
    let frac = (h.finish() >> 11) as f64 / (1u64 << 53) as f64;
    max.mul_f64(frac)
}

/// Consul's `StatusHandler`: a passing or warning result is reported once
/// `success_before_passing` consecutive ones were seen, a critical one once
/// `failures_before_critical` were; results below the threshold are not reported
/// (the check keeps its previous status and output). Counters start at their
/// thresholds, so the first result is always reported, as in Consul.
#[derive(Debug)]
pub(super) struct Thresholds {
    success_before_passing: u32,
    successes: u32,
    failures_before_critical: u32,
    failures: u32,
}

impl Thresholds {
    pub(super) fn new(success_before_passing: u32, failures_before_critical: u32) -> Thresholds {
        Thresholds {
            success_before_passing,
            successes: success_before_passing,
            failures_before_critical,
            failures: failures_before_critical,
        }
    }

    /// Counts one result; returns it if it is to be reported.
    pub(super) fn update(&mut self, status: Status, output: String) -> Option<(Status, String)> {
        match status {
            Status::Passing | Status::Warning => {
                self.successes = self.successes.saturating_add(1);
                self.failures = 0;
                (self.successes >= self.success_before_passing).then_some((status, output))
            }
            Status::Critical => {
                self.failures = self.failures.saturating_add(1);
                self.successes = 0;
                (self.failures >= self.failures_before_critical).then_some((status, output))
            }
        }
    }
}

#[cfg(test)]
#[path = "runner_tests.rs"]
mod tests;
