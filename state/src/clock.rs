//! Calendar arithmetic for the timestamps Consul prints (log lines, `StableSince`):
//! UTC only, no time-zone database needed.

use std::time::{SystemTime, UNIX_EPOCH};

/// Converts days since 1970-01-01 to a civil (year, month, day), Howard Hinnant's algorithm.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
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

/// `YYYY-MM-DDTHH:MM:SS` (UTC, no zone suffix) for whole seconds since the epoch.
pub fn date_time(secs: i64) -> String {
    let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
    let rem = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// RFC 3339 in UTC to the second, `2026-11-24T18:31:53Z`, as Consul prints `StableSince`.
pub fn rfc3339_seconds(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
    format!("{}Z", date_time(secs))
}

/// RFC 3339 with nanoseconds, trailing zeros trimmed, as Go's `RFC3339Nano` prints a
/// UTC time (`2026-11-24T18:31:53.1234Z`).
pub fn rfc3339_nanos(ns: u64) -> String {
    let secs = (ns / 1_000_000_000) as i64;
    let frac = ns % 1_000_000_000;
    if frac == 0 {
        return format!("{}Z", date_time(secs));
    }
    let digits = format!("{frac:09}");
    format!("{}.{}Z", date_time(secs), digits.trim_end_matches('0'))
}

/// Days since 1970-01-01 of a civil date (the inverse of [`civil_from_days`]).
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = i64::from(if month > 2 { month - 3 } else { month + 9 });
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Parses an RFC 3339 time (`Z` or a `+hh:mm`/`-hh:mm` offset, optional fraction) to Unix
/// nanoseconds; None if malformed or before 1970.
pub fn parse_rfc3339_ns(text: &str) -> Option<u64> {
    let b = text.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| text.get(r)?.parse::<i64>().ok();
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, min, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || min > 59 || sec > 60 {
        return None;
    }
    let mut rest = &text[19..];
    let mut frac_ns = 0i64;
    if let Some(f) = rest.strip_prefix('.') {
        let digits = f.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let padded = format!("{:0<9}", &f[..digits.min(9)]);
        frac_ns = padded.parse().ok()?;
        rest = &f[digits..];
    }
    let offset_secs = match rest {
        "Z" | "z" => 0,
        _ if rest.len() == 6 && (rest.starts_with('+') || rest.starts_with('-')) && &rest[3..4] == ":" => {
            let h: i64 = rest[1..3].parse().ok()?;
            let m: i64 = rest[4..6].parse().ok()?;
            let s = h * 3600 + m * 60;
            if rest.starts_with('-') {
                -s
            } else {
                s
            }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month as u32, day as u32);
    let secs = days * 86_400 + hour * 3600 + min * 60 + sec - offset_secs;
    u64::try_from(secs)
        .ok()?
        .checked_mul(1_000_000_000)?
        .checked_add(frac_ns as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nanosecond_times_round_trip() {
        assert_eq!(rfc3339_nanos(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339_nanos(1_500_000_000), "1970-01-01T00:00:01.5Z");
        let t = 1_764_009_113_123_456_789;
        assert_eq!(parse_rfc3339_ns(&rfc3339_nanos(t)), Some(t));
        assert_eq!(parse_rfc3339_ns("1970-01-01T01:00:00+01:00"), Some(0));
        assert_eq!(days_from_civil(2000, 2, 29), 11_016);
        for bad in [
            "",
            "2020-13-01T00:00:00Z",
            "2020-01-01 00:00:00Z",
            "2020-01-01T00:00:00",
            "1960-01-01T00:00:00Z",
        ] {
            assert_eq!(parse_rfc3339_ns(bad), None, "{bad}");
        }
    }

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_416), (2025, 11, 24));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }

    #[test]
    fn rfc3339_to_the_second() {
        let t = UNIX_EPOCH + std::time::Duration::from_millis(1_795_977_113_900);
        assert_eq!(rfc3339_seconds(t), "2026-11-29T18:31:53Z");
        assert_eq!(rfc3339_seconds(UNIX_EPOCH), "1970-01-01T00:00:00Z");
    }
}
