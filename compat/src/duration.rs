//! Go's `time.Duration` text: [`parse`] is `time.ParseDuration` (`10s`, `1.5m`, `150ms`,
//! `1h30m`, `-2s`) with its exact rounding and error texts, [`format`] is
//! `Duration.String()` (`1m30s`, `2h0m0s`, `1.5ms`, `0s`).
//!
//! Every duration that crosses rconsul's surface (config keys, flags, HTTP bodies and
//! query strings, CLI flags, check output, benchmark options) goes through this module.

use std::time::Duration;

/// Why a duration string was refused; shown as Go's `time` package words it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// Not a duration at all (`abc`, ``, overflow).
    #[error("time: invalid duration {0:?}")]
    Invalid(String),
    /// A number without a unit (`5`).
    #[error("time: missing unit in duration {0:?}")]
    MissingUnit(String),
    /// A unit Go does not know (`5x`).
    #[error("time: unknown unit {unit:?} in duration {input:?}")]
    UnknownUnit {
        /// The unit as written.
        unit: String,
        /// The whole input.
        input: String,
    },
    /// A negative duration where only non-negative ones make sense (config keys, TTLs).
    #[error("negative duration {0:?} not allowed")]
    Negative(String),
}

/// Go's `time.ParseDuration`: the signed number of nanoseconds `input` denotes.
///
/// A sequence of decimal numbers, each with an optional fraction and a unit (`ns`, `us`,
/// `µs`, `μs`, `ms`, `s`, `m`, `h`), optionally signed; `0` alone needs no unit. Fractions
/// below a nanosecond are truncated, and a total beyond `i64` is an error, as in Go.
pub fn parse(input: &str) -> Result<i64, DurationError> {
    let invalid = || DurationError::Invalid(input.to_string());
    let mut s = input;
    let mut neg = false;
    if let Some(rest) = s.strip_prefix('-') {
        neg = true;
        s = rest;
    } else if let Some(rest) = s.strip_prefix('+') {
        s = rest;
    }
    if s == "0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err(invalid());
    }
    let digits_end = |t: &str| t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let mut total: u128 = 0;
    while !s.is_empty() {
        let end = digits_end(s);
        let int_part = &s[..end];
        s = &s[end..];
        let mut frac_part = "";
        if let Some(rest) = s.strip_prefix('.') {
            let end = digits_end(rest);
            frac_part = &rest[..end];
            s = &rest[end..];
        }
        if int_part.is_empty() && frac_part.is_empty() {
            return Err(invalid());
        }
        let unit_end = s
            .find(|c: char| c == '.' || c.is_ascii_digit())
            .unwrap_or(s.len());
        let unit = &s[..unit_end];
        s = &s[unit_end..];
        if unit.is_empty() {
            return Err(DurationError::MissingUnit(input.to_string()));
        }
        let scale: u128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => {
                return Err(DurationError::UnknownUnit {
                    unit: unit.to_string(),
                    input: input.to_string(),
                })
            }
        };
        let whole: u128 = if int_part.is_empty() {
            0
        } else {
            int_part.parse().map_err(|_| invalid())?
        };
        let mut value = whole.checked_mul(scale).ok_or_else(invalid)?;
        if !frac_part.is_empty() {
            // Beyond 18 digits the fraction is below a nanosecond for every unit.
            let digits = &frac_part[..frac_part.len().min(18)];
            let frac: u128 = digits.parse().map_err(|_| invalid())?;
            value += frac * scale / 10u128.pow(digits.len() as u32);
        }
        total = total.checked_add(value).ok_or_else(invalid)?;
        if total > i64::MAX as u128 + u128::from(neg) {
            return Err(invalid());
        }
    }
    // In range by the check above: at most i64::MAX, or i64::MIN's magnitude when negative.
    let total = total as i128;
    Ok((if neg { -total } else { total }) as i64)
}

/// [`parse`] for the places that take only non-negative durations: a negative one is
/// [`DurationError::Negative`].
pub fn parse_std(input: &str) -> Result<Duration, DurationError> {
    let nanos = parse(input)?;
    u64::try_from(nanos)
        .map(Duration::from_nanos)
        .map_err(|_| DurationError::Negative(input.to_string()))
}

/// Go's `time.Duration.String()`: `0s`, `1.5ms`, `500ms`, `1.5s`, `1m30s`, `2h0m0s`.
pub fn format(d: Duration) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn err(s: &str) -> String {
        parse(s).expect_err("must not parse").to_string()
    }

    #[test]
    fn parses_go_forms() {
        assert_eq!(parse("0"), Ok(0));
        assert_eq!(parse("300ms"), Ok(300_000_000));
        assert_eq!(parse("1.5h"), Ok(5_400_000_000_000));
        assert_eq!(parse("2h45m"), Ok(9_900_000_000_000));
        assert_eq!(parse("-1.5s"), Ok(-1_500_000_000));
        assert_eq!(parse("+2s"), Ok(2_000_000_000));
        assert_eq!(parse("1us"), Ok(1_000));
        assert_eq!(parse("1µs"), Ok(1_000));
        assert_eq!(parse("1μs"), Ok(1_000));
        assert_eq!(parse(".5s"), Ok(500_000_000));
        assert_eq!(parse("10.0s"), Ok(10_000_000_000));
        assert_eq!(parse("1m30s"), Ok(90_000_000_000));
        // Go truncates below a nanosecond.
        assert_eq!(parse("1.9812114238739014s"), Ok(1_981_211_423));
        assert_eq!(parse("-9223372036854775808ns"), Ok(i64::MIN));
        assert_eq!(parse("9223372036854775807ns"), Ok(i64::MAX));
    }

    #[test]
    fn errors_are_worded_as_go() {
        assert_eq!(err("abc"), "time: invalid duration \"abc\"");
        assert_eq!(err(""), "time: invalid duration \"\"");
        assert_eq!(err("5"), "time: missing unit in duration \"5\"");
        assert_eq!(err("5x"), "time: unknown unit \"x\" in duration \"5x\"");
        assert_eq!(err("s"), "time: invalid duration \"s\"");
        assert_eq!(err("1.2.3s"), "time: missing unit in duration \"1.2.3s\"");
        assert!(parse("9999999999999999999h").is_err());
        assert!(parse("9223372036854775808ns").is_err());
        assert!(parse("-").is_err());
        assert!(parse(".s").is_err());
    }

    #[test]
    fn parse_std_refuses_negative_durations() {
        assert_eq!(parse_std("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_std("0"), Ok(Duration::ZERO));
        assert_eq!(
            parse_std("-30s").map_err(|e| e.to_string()),
            Err("negative duration \"-30s\" not allowed".to_string())
        );
    }

    #[test]
    fn formats_as_go() {
        assert_eq!(format(Duration::ZERO), "0s");
        assert_eq!(format(Duration::from_nanos(15)), "15ns");
        assert_eq!(format(Duration::from_micros(1500)), "1.5ms");
        assert_eq!(format(Duration::from_nanos(1500)), "1.5µs");
        assert_eq!(format(Duration::from_millis(500)), "500ms");
        assert_eq!(format(Duration::from_secs(1)), "1s");
        assert_eq!(format(Duration::from_millis(1500)), "1.5s");
        assert_eq!(format(Duration::from_secs(10)), "10s");
        assert_eq!(format(Duration::from_secs(30)), "30s");
        assert_eq!(format(Duration::from_secs(90)), "1m30s");
        assert_eq!(format(Duration::from_secs(3600)), "1h0m0s");
        assert_eq!(format(Duration::from_secs(7200)), "2h0m0s");
        assert_eq!(format(Duration::from_secs(86400)), "24h0m0s");
        assert_eq!(format(Duration::from_millis(61_250)), "1m1.25s");
    }

    #[test]
    fn format_and_parse_round_trip() {
        for nanos in [
            1u64,
            999,
            1_000,
            1_500,
            2_000_000,
            1_000_000_000,
            90_500_000_000,
            7_322_000_000_000,
        ] {
            let d = Duration::from_nanos(nanos);
            assert_eq!(parse_std(&format(d)), Ok(d), "{nanos}");
        }
    }
}
