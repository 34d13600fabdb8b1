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

/// Converts days since 1970-01-01 to a civil (year, month, day), Howard Hinnant's algorithm.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` for the current time.
pub fn timestamp() -> String {
    timestamp_at(SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default())
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` for a time since the Unix epoch.
pub fn timestamp_at(now: std::time::Duration) -> String {
    let secs = now.as_secs() as i64;
    let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
    let rem = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60,
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
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_416), (2025, 11, 24));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }
}
