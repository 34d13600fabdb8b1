//! Log output in Consul's (hclog) format: `2021-10-05T12:00:00.000Z [INFO]  agent: message`.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::EnvFilter;

use crate::config::LogLevel;

/// Formats events as hclog does; the tracing target is the logger name (`agent.server`).
struct HclogFormat;

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` for the current time.
pub fn timestamp() -> String {
    timestamp_at(SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default())
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` for a time since the Unix epoch.
pub fn timestamp_at(now: std::time::Duration) -> String {
    format!(
        "{}.{:03}Z",
        rconsul_state::clock::date_time(now.as_secs() as i64),
        now.subsec_millis()
    )
}

impl<S, N> FormatEvent<S, N> for HclogFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let level = match *event.metadata().level() {
            Level::TRACE => "[TRACE]",
            Level::DEBUG => "[DEBUG]",
            Level::INFO => "[INFO] ",
            Level::WARN => "[WARN] ",
            Level::ERROR => "[ERROR]",
        };
        let target = event.metadata().target();
        // Library targets (openraft::core::...) become `agent.server.raft`-style names.
        let name = if target.starts_with("agent") {
            target.to_string()
        } else if target.starts_with("openraft") {
            "agent.server.raft".to_string()
        } else {
            target.replace("::", ".")
        };
        write!(writer, "{} {} {}: ", timestamp(), level, name)?;
        ctx.field_format().format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}

/// Installs the global logger at `level`. openraft's own chatter is kept at warn
/// unless trace/debug is asked for.
pub fn init(level: LogLevel) {
    let directive = match level {
        LogLevel::Trace => "trace",
        LogLevel::Debug => "debug,openraft=info,sled=info",
        LogLevel::Info => "info,openraft=warn,sled=warn",
        LogLevel::Warn => "warn",
        LogLevel::Error => "error",
    };
    let filter = EnvFilter::try_from_env("RCONSUL_LOG").unwrap_or_else(|_| EnvFilter::new(directive));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .event_format(HclogFormat)
        .try_init();
}

#[cfg(test)]
mod tests {
    #[test]
    fn timestamps_have_milliseconds_and_a_zone() {
        let t = std::time::Duration::from_millis(1_795_977_113_042);
        assert_eq!(super::timestamp_at(t), "2026-11-29T18:31:53.042Z");
    }
}
