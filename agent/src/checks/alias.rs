//! Alias checks: mirror the aggregated health of another service or node.

use std::sync::Arc;
use std::time::Duration;

use super::runner::Reporter;
use super::AliasSource;

/// How often the aliased health is re-read (the source is local and cheap).
pub(super) const POLL: Duration = Duration::from_secs(1);

/// Polls `source` and reports the aliased health until stopped.
pub(super) async fn run(
    node: Option<String>,
    service: Option<String>,
    source: Arc<dyn AliasSource>,
    reporter: Reporter,
    poll: Duration,
) {
    loop {
        let (status, output) = source.aggregate_health(node.as_deref(), service.as_deref());
        reporter.report(status, output);
        tokio::time::sleep(poll).await;
    }
}
