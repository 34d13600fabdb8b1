//! Go duration strings (`10s`, `1.5m`, `150ms`, `1h30m`), as Consul's API accepts them.

use std::time::Duration;

/// Parses a Go `time.ParseDuration` string. Negative durations are rejected.
pub fn parse_go_duration(input: &str) -> Option<Duration> {
    let s = input.strip_prefix('+').unwrap_or(input);
    if s == "0" {
        return Some(Duration::ZERO);
    }
    if s.is_empty() || s.starts_with('-') {
        return None;
    }
    let mut rest = s;
    let mut total_nanos: f64 = 0.0;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_len == 0 {
            return None;
        }
        let number: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let nanos_per_unit = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total_nanos += number * nanos_per_unit;
    }
    if !total_nanos.is_finite() || total_nanos > u64::MAX as f64 {
        return None;
    }
    Some(Duration::from_nanos(total_nanos as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_go_forms() {
        assert_eq!(parse_go_duration("10s"), Some(Duration::from_secs(10)));
        assert_eq!(parse_go_duration("150ms"), Some(Duration::from_millis(150)));
        assert_eq!(parse_go_duration("1m30s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_go_duration("0"), Some(Duration::ZERO));
        assert_eq!(
            parse_go_duration("1.9812114238739014s").map(|d| d.as_millis()),
            Some(1981)
        );
        assert_eq!(parse_go_duration("10.0s"), Some(Duration::from_secs(10)));
    }

    #[test]
    fn rejects_garbage() {
        for bad in ["bad", "10", "", "-1s", "s", "1x", "1.2.3s"] {
            assert_eq!(parse_go_duration(bad), None, "{bad}");
        }
    }
}
