//! Output helpers shared by the runners: a tail-keeping buffer (Consul's circular
//! buffer), Go's duration and errno spellings.

use std::collections::VecDeque;
use std::io;

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
