//! Output helpers shared by the runners: a tail-keeping buffer (Consul's circular
//! buffer), Go's duration and errno spellings.

use std::collections::VecDeque;
use std::io;
use std::time::Duration;

/// Keeps the last `cap` bytes written and counts all of them, like the circular
/// buffer Consul captures check output into.
#[derive(Debug)]
pub(super) struct TailBuf {
    cap: usize,
    buf: VecDeque<u8>,
    total: u64,
}

impl TailBuf {
    /// A buffer keeping at most `cap` bytes (at least 1).
    pub(super) fn new(cap: usize) -> TailBuf {
        let cap = cap.max(1);
        TailBuf {
            cap,
            buf: VecDeque::with_capacity(cap.min(64 * 1024)),
            total: 0,
        }
    }

    /// Appends `data`, dropping the oldest bytes beyond the capacity.
    pub(super) fn push(&mut self, data: &[u8]) {
        self.total = self.total.saturating_add(data.len() as u64);
        if data.len() >= self.cap {
            self.buf.clear();
            self.buf.extend(&data[data.len() - self.cap..]);
            return;
        }
        let overflow = (self.buf.len() + data.len()).saturating_sub(self.cap);
        self.buf.drain(..overflow);
        self.buf.extend(data);
    }

    /// The kept bytes as text (invalid UTF-8, e.g. a character cut by truncation,
    /// becomes U+FFFD).
    pub(super) fn text(&self) -> String {
        let (a, b) = self.buf.as_slices();
        if b.is_empty() {
            String::from_utf8_lossy(a).into_owned()
        } else {
            let mut v = Vec::with_capacity(a.len() + b.len());
            v.extend_from_slice(a);
            v.extend_from_slice(b);
            String::from_utf8_lossy(&v).into_owned()
        }
    }

    /// The kept bytes, prefixed as Consul's script checks do when some were dropped:
    /// `Captured <cap> of <total> bytes\n...\n<tail>`.
    pub(super) fn script_output(&self) -> String {
        if self.total > self.cap as u64 {
            format!(
                "Captured {} of {} bytes\n...\n{}",
                self.cap,
                self.total,
                self.text()
            )
        } else {
            self.text()
        }
    }
}

/// Truncates `s` to at most `max` bytes on a character boundary.
pub(super) fn truncate_str(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while end > 0 && !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Formats `d` as Go's `time.Duration.String()` does: `1s`, `1.5s`, `500ms`,
/// `1m30s`, `2h0m0s`, `0s`.
pub(super) fn go_duration(d: Duration) -> String {
    let nanos = d.as_nanos();
    if nanos == 0 {
        return "0s".to_string();
    }
    if nanos < 1_000_000_000 {
        let (unit, div) = if nanos < 1_000 {
            ("ns", 1u128)
        } else if nanos < 1_000_000 {
            ("µs", 1_000)
        } else {
            ("ms", 1_000_000)
        };
        return format!("{}{unit}", fraction(nanos, div));
    }
    let total_secs = nanos / 1_000_000_000;
    let sub = nanos % 1_000_000_000;
    let hours = total_secs / 3600;
    let mins = (total_secs % 3600) / 60;
    let secs = total_secs % 60;
    let secs = fraction(secs * 1_000_000_000 + sub, 1_000_000_000);
    if hours > 0 {
        format!("{hours}h{mins}m{secs}s")
    } else if mins > 0 {
        format!("{mins}m{secs}s")
    } else {
        format!("{secs}s")
    }
}

/// `n / div` with the fractional digits Go prints (trailing zeros dropped).
fn fraction(n: u128, div: u128) -> String {
    let whole = n / div;
    let rem = n % div;
    if rem == 0 {
        return whole.to_string();
    }
    let width = div.ilog10() as usize;
    let digits = format!("{rem:0width$}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

/// The text Go gives an OS error: `connection refused`, `no route to host`, ...
/// (the C library's message with a lower-case first letter, without Rust's
/// ` (os error N)` suffix).
pub(super) fn errno_text(e: &io::Error) -> String {
    let Some(code) = e.raw_os_error() else {
        return e.to_string();
    };
    let text = io::Error::from_raw_os_error(code).to_string();
    let text = match text.rfind(" (os error ") {
        Some(i) => &text[..i],
        None => text.as_str(),
    };
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_keeps_last_bytes() {
        let mut t = TailBuf::new(4);
        t.push(b"ab");
        assert_eq!(t.script_output(), "ab");
        t.push(b"cdef");
        assert_eq!(t.text(), "cdef");
        assert_eq!(t.script_output(), "Captured 4 of 6 bytes\n...\ncdef");
        t.push(b"0123456789");
        assert_eq!(t.text(), "6789");
        t.push(b"x");
        assert_eq!(t.text(), "789x");
    }

    #[test]
    fn go_durations() {
        assert_eq!(go_duration(Duration::ZERO), "0s");
        assert_eq!(go_duration(Duration::from_secs(1)), "1s");
        assert_eq!(go_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(go_duration(Duration::from_millis(500)), "500ms");
        assert_eq!(go_duration(Duration::from_micros(1500)), "1.5ms");
        assert_eq!(go_duration(Duration::from_secs(90)), "1m30s");
        assert_eq!(go_duration(Duration::from_secs(7200)), "2h0m0s");
        assert_eq!(go_duration(Duration::from_secs(30)), "30s");
    }

    #[test]
    fn errno_like_go() {
        let e = io::Error::from_raw_os_error(libc::ECONNREFUSED);
        assert_eq!(errno_text(&e), "connection refused");
    }

    #[test]
    fn truncate_on_boundary() {
        assert_eq!(truncate_str("héllo", 2), "h");
        assert_eq!(truncate_str("hello", 10), "hello");
    }
}
