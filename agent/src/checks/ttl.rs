//! TTL checks: the status comes from updates through the API; without one for
//! `ttl`, the check turns critical (`TTL expired`).
//!
//! Updates travel to the runner's task over a channel and the task alone calls the
//! sink, so `ttl_update` never calls the sink on the caller's thread (the agent may
//! hold the lock its sink takes) and an update can't be reordered with an expiry.

use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;

use super::output::truncate_str;
use super::runner::Reporter;
use super::Status;

/// One update from the API.
pub(super) type Update = (Status, String);

/// The sending side kept in the runner's handle.
#[derive(Debug)]
pub(super) struct TtlUpdates {
    tx: mpsc::UnboundedSender<Update>,
    output_max_size: usize,
}

impl TtlUpdates {
    /// Queues `status`/`output` (output truncated as Consul does) for the runner.
    pub(super) fn update(&self, status: Status, output: String) {
        let total = output.len();
        let output = if total > self.output_max_size {
            format!(
                "{} ... (captured {} of {} bytes)",
                truncate_str(&output, self.output_max_size),
                self.output_max_size,
                total
            )
        } else {
            output
        };
        // The runner is gone only once the handle is dropped; nothing to do then.
        let _ = self.tx.send((status, output));
    }
}

/// A channel for a TTL check's updates.
pub(super) fn channel(output_max_size: usize) -> (TtlUpdates, mpsc::UnboundedReceiver<Update>) {
    let (tx, rx) = mpsc::unbounded_channel();
    (TtlUpdates { tx, output_max_size }, rx)
}

/// Consul's expiry text, with the last output when there was one.
fn expired_output(last: &str) -> String {
    if last.is_empty() {
        "TTL expired".to_string()
    } else {
        format!("TTL expired (last output before timeout follows): {last}")
    }
}

/// The timer, started now: reports each update and restarts the TTL; reports
/// critical once per missed TTL (Consul's timer fires once until the next update).
pub(super) async fn run(ttl: Duration, mut updates: mpsc::UnboundedReceiver<Update>, reporter: Reporter) {
    let mut deadline = Instant::now() + ttl;
    let mut expired = false;
    let mut last_output = String::new();
    loop {
        tokio::select! {
            // An update that is already there wins over an expiry at the same moment.
            biased;
            update = updates.recv() => {
                let Some((status, output)) = update else { return };
                reporter.report(status, output.clone());
                last_output = output;
                deadline = Instant::now() + ttl;
                expired = false;
            }
            _ = tokio::time::sleep_until(deadline), if !expired => {
                expired = true;
                reporter.report(Status::Critical, expired_output(&last_output));
            }
        }
    }
}
