//! What the ACL formatters share: the `-format` flag (`pretty` or `json`), Go's
//! `json.Marshal`/`json.MarshalIndent(v, "", "    ")` output (HTML characters escaped as
//! `\u003c`...), Go's `time.Time.String()` for the timestamps the agent sends, and `%x` of a
//! base64-encoded `[]byte`.

use base64::Engine as _;
use serde::Serialize;

use crate::args::{Flag, Kind};
use crate::command::flag;

/// The `-format` flag every ACL read/write command takes.
pub(crate) const FORMAT_FLAG: Flag = flag("format", Kind::Str, "pretty", "Output format {pretty|json}");

/// An output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Format {
    /// Consul's aligned `Label:  value` lines.
    Pretty,
    /// The API object as Go's `json.MarshalIndent` prints it.
    Json,
}

impl Format {
    /// Consul's `NewFormatter`: `Unknown format: xml` for anything else.
    pub(crate) fn parse(value: Option<&str>) -> Result<Self, String> {
        match value.unwrap_or("pretty") {
            "pretty" => Ok(Self::Pretty),
            "json" => Ok(Self::Json),
            other => Err(format!("Unknown format: {other}")),
        }
    }
}

/// Go's `json.MarshalIndent(v, "", "    ")`.
pub(crate) fn json_indent<T: Serialize>(value: &T) -> String {
    indent_with(value, b"    ")
}

/// `json.MarshalIndent(v, "", indent)` for any indent (the auth-method config uses two spaces).
pub(crate) fn indent_with<T: Serialize>(value: &T, indent: &[u8]) -> String {
    let mut buf = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(indent);
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, formatter);
    // Serializing plain data into memory cannot fail.
    let _ = value.serialize(&mut ser);
    go_escape(&String::from_utf8_lossy(&buf))
}

/// A request body as the Go `api` package encodes it (`json.Encoder.Encode`: compact,
/// HTML-escaped, newline-terminated).
pub(crate) fn json_body<T: Serialize>(value: &T) -> Vec<u8> {
    let text = serde_json::to_string(value).unwrap_or_default();
    let mut body = go_escape(&text).into_bytes();
    body.push(b'\n');
    body
}

/// Go's encoder escapes `<`, `>`, `&`, U+2028 and U+2029 inside strings; those characters
/// cannot occur outside strings in JSON text, so a plain replacement is exact.
fn go_escape(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

/// Go's `%x` of a `[]byte` that JSON carried as base64 (`""` for none).
pub(crate) fn hex_of_base64(value: Option<&str>) -> String {
    let Some(b64) = value else {
        return String::new();
    };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap_or_default();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Go's `time.Time.String()` of an RFC 3339 timestamp as `time.Time.UnmarshalJSON` reads it:
/// `2021-03-04 05:06:07.1234 +0000 UTC`. A `Z` time is in UTC; an offset that matches the
/// local zone takes the local zone's name, as Go does; any other offset has no name and is
/// shown as the offset again (`+0200 +0200`). Text that is not RFC 3339 is returned as is.
pub(crate) fn go_time(rfc3339: &str) -> String {
    let Some(t) = parse_rfc3339(rfc3339) else {
        return rfc3339.to_string();
    };
    let mut out = format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        t.year, t.month, t.day, t.hour, t.minute, t.second
    );
    let frac = t.frac.trim_end_matches('0');
    if !frac.is_empty() {
        out.push('.');
        out.push_str(frac);
    }
    let offset = t.offset.unwrap_or(0);
    let sign = if offset < 0 { '-' } else { '+' };
    let abs = offset.unsigned_abs();
    let numeric = format!("{sign}{:02}{:02}", abs / 3600, (abs % 3600) / 60);
    let zone = match t.offset {
        None => "UTC".to_string(),
        Some(offset) => local_zone_name(t.unix_seconds(), offset).unwrap_or_else(|| numeric.clone()),
    };
    out.push(' ');
    out.push_str(&numeric);
    out.push(' ');
    out.push_str(&zone);
    out
}

/// An RFC 3339 timestamp as Go's `time.Time.MarshalJSON` writes it back after reading it:
/// fraction without trailing zeros, a zero offset as `Z`. Other text is returned as is.
pub(crate) fn go_time_json(rfc3339: &str) -> String {
    let Some(t) = parse_rfc3339(rfc3339) else {
        return rfc3339.to_string();
    };
    let mut out = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        t.year, t.month, t.day, t.hour, t.minute, t.second
    );
    let frac = t.frac.trim_end_matches('0');
    if !frac.is_empty() {
        out.push('.');
        out.push_str(frac);
    }
    match t.offset {
        None | Some(0) => out.push('Z'),
        Some(offset) => {
            let sign = if offset < 0 { '-' } else { '+' };
            let abs = offset.unsigned_abs();
            out.push_str(&format!("{sign}{:02}:{:02}", abs / 3600, (abs % 3600) / 60));
        }
    }
    out
}

/// A parsed RFC 3339 timestamp (local wall clock plus offset).
struct Rfc3339<'a> {
    year: i64,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    /// The fraction digits, untrimmed.
    frac: &'a str,
    /// Seconds east of UTC; `None` for `Z`.
    offset: Option<i32>,
}

impl Rfc3339<'_> {
    /// Seconds since the Unix epoch.
    fn unix_seconds(&self) -> i64 {
        let days = days_from_civil(self.year, self.month, self.day);
        days * 86_400 + i64::from(self.hour * 3600 + self.minute * 60 + self.second)
            - i64::from(self.offset.unwrap_or(0))
    }
}

fn parse_rfc3339(s: &str) -> Option<Rfc3339<'_>> {
    let b = s.as_bytes();
    let num = |from: usize, to: usize| -> Option<u32> {
        let part = s.get(from..to)?;
        if part.bytes().all(|c| c.is_ascii_digit()) {
            part.parse().ok()
        } else {
            None
        }
    };
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let mut i = 19;
    let mut frac = "";
    if b.get(i) == Some(&b'.') {
        let start = i + 1;
        i = start;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        frac = &s[start..i];
    }
    let offset = match &s[i..] {
        "Z" | "z" => None,
        rest if rest.len() == 6
            && matches!(rest.as_bytes()[0], b'+' | b'-')
            && rest.as_bytes()[3] == b':' =>
        {
            let hours = num(i + 1, i + 3)?;
            let minutes = num(i + 4, i + 6)?;
            let secs = i32::try_from(hours * 3600 + minutes * 60).ok()?;
            Some(if rest.starts_with('-') { -secs } else { secs })
        }
        _ => return None,
    };
    Some(Rfc3339 {
        year: i64::from(num(0, 4)?),
        month: num(5, 7)?,
        day: num(8, 10)?,
        hour: num(11, 13)?,
        minute: num(14, 16)?,
        second: num(17, 19)?,
        frac,
        offset,
    })
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The local zone's abbreviation at `unix` if its offset there is `offset` (Go then uses
/// `time.Local`).
fn local_zone_name(unix: i64, offset: i32) -> Option<String> {
    let t = libc::time_t::try_from(unix).ok()?;
    // SAFETY: localtime_r only writes into the tm we hand it; tm_zone points to static
    // zone data owned by libc that stays valid for the process.
    unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&t, &mut tm).is_null() || tm.tm_gmtoff != libc::c_long::from(offset) {
            return None;
        }
        if tm.tm_zone.is_null() {
            return None;
        }
        let name = std::ffi::CStr::from_ptr(tm.tm_zone)
            .to_string_lossy()
            .into_owned();
        (!name.is_empty()).then_some(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_print_like_go() {
        assert_eq!(
            go_time("2021-03-04T05:06:07.123400Z"),
            "2021-03-04 05:06:07.1234 +0000 UTC"
        );
        assert_eq!(go_time("2021-03-04T05:06:07Z"), "2021-03-04 05:06:07 +0000 UTC");
        assert_eq!(go_time("0001-01-01T00:00:00Z"), "0001-01-01 00:00:00 +0000 UTC");
        assert_eq!(go_time("not a time"), "not a time");
        let shown = go_time("2021-03-04T05:06:07+02:30");
        assert!(shown.starts_with("2021-03-04 05:06:07 +0230 "), "{shown}");
        assert_eq!(
            go_time_json("2021-03-04T05:06:07.500+00:00"),
            "2021-03-04T05:06:07.5Z"
        );
        assert_eq!(
            go_time_json("2021-03-04T05:06:07-04:00"),
            "2021-03-04T05:06:07-04:00"
        );
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
    }

    #[test]
    fn json_reads_like_go() {
        #[derive(Serialize)]
        struct T {
            #[serde(rename = "Rules")]
            rules: &'static str,
            #[serde(rename = "List")]
            list: Vec<u8>,
        }
        let t = T {
            rules: "a <b> & c",
            list: vec![],
        };
        assert_eq!(
            json_indent(&t),
            "{\n    \"Rules\": \"a \\u003cb\\u003e \\u0026 c\",\n    \"List\": []\n}"
        );
        assert_eq!(
            json_body(&t),
            b"{\"Rules\":\"a \\u003cb\\u003e \\u0026 c\",\"List\":[]}\n"
        );
        assert_eq!(hex_of_base64(Some("AQL/")), "0102ff");
        assert_eq!(hex_of_base64(None), "");
        assert_eq!(Format::parse(Some("xml")), Err("Unknown format: xml".into()));
        assert_eq!(Format::parse(None), Ok(Format::Pretty));
    }
}
