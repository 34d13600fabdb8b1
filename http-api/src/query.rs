//! Query-string parsing shared by every endpoint.
//!
//! Consul's flags are presence-based (`?recurse`, `?recurse=`, `?recurse=true` all
//! mean "set") and some parameters repeat (`?tag=a&tag=b`), so the raw query is kept
//! as an ordered list of pairs.

use std::time::Duration;

use rconsul_state::Consistency;

use crate::response::ApiError;
use crate::ApiConfig;

/// The parsed query string.
#[derive(Debug, Default, Clone)]
pub struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    /// Parses a raw query string (`None` when the URI has none).
    pub fn parse(raw: Option<&str>) -> Self {
        let pairs = raw
            .map(|q| {
                form_urlencoded::parse(q.as_bytes())
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect()
            })
            .unwrap_or_default();
        Params { pairs }
    }

    /// The parameters that shape a read's answer, in order: all but `index`, `wait`
    /// and the consistency and datacenter ones (which only gate or delay it).
    pub fn answer_shaping(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs
            .iter()
            .filter(|(k, _)| {
                !matches!(
                    k.as_str(),
                    "index" | "wait" | "stale" | "consistent" | "dc" | "cached"
                )
            })
            .map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Whether a flag is present (any value).
    pub fn has(&self, name: &str) -> bool {
        self.pairs.iter().any(|(k, _)| k == name)
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a repeatable parameter.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.pairs
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Parses `name` as an unsigned integer, with a clear 400 when it is not one.
    ///
    /// Consul answers 500 `strconv.ParseUint: ...` for a client's typo in `?cas`/`?flags`;
    /// that is a client error, so rconsul says 400.
    pub fn get_u64(&self, name: &str) -> Result<Option<u64>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => v.parse::<u64>().map(Some).map_err(|_| {
                ApiError::bad_request(format!(
                    "Invalid value for ?{name}: strconv.ParseUint: parsing \"{v}\": invalid syntax (expected an unsigned integer)"
                ))
            }),
        }
    }

    /// The `dc` parameter checked against the local datacenter.
    pub fn check_dc(&self, config: &ApiConfig) -> Result<(), ApiError> {
        match self.get("dc") {
            Some(dc) if !dc.is_empty() && !dc.eq_ignore_ascii_case(&config.datacenter) => {
                Err(ApiError::internal("No path to datacenter"))
            }
            _ => Ok(()),
        }
    }

    /// The requested consistency mode.
    pub fn consistency(&self) -> Result<Consistency, ApiError> {
        match (self.has("stale"), self.has("consistent")) {
            (true, true) => Err(ApiError::bad_request(
                "Cannot specify ?stale with ?consistent, conflicting semantics.",
            )),
            (true, false) => Ok(Consistency::Stale),
            (false, true) => Ok(Consistency::Consistent),
            (false, false) => Ok(Consistency::Default),
        }
    }

    /// Whether the JSON body should be indented.
    pub fn pretty(&self, config: &ApiConfig) -> bool {
        config.pretty_by_default || self.has("pretty")
    }

    /// The blocking-query options (`?index`, `?wait`).
    pub fn blocking(&self, config: &ApiConfig) -> Result<BlockingOptions, ApiError> {
        let min_index = match self.get("index") {
            None => 0,
            Some(v) => v
                .parse::<u64>()
                .map_err(|_| ApiError::bad_request("Invalid index"))?,
        };
        let wait = match self.get("wait") {
            None => config.default_query_time,
            Some(v) => rconsul_compat::duration::parse_std(v)
                .ok()
                .ok_or_else(|| ApiError::bad_request("Invalid wait time"))?,
        };
        let wait = if wait.is_zero() {
            config.default_query_time
        } else {
            wait
        };
        Ok(BlockingOptions {
            min_index,
            wait: wait.min(config.max_query_time),
        })
    }
}

/// What a client asked of a blocking read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockingOptions {
    /// `?index`: return once the result's index exceeds it (0: return at once).
    pub min_index: u64,
    /// `?wait`, defaulted and clamped.
    pub wait: Duration,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_are_presence_based_and_repeatable() {
        let p = Params::parse(Some("recurse&stale=&tag=a&tag=b&keys=true"));
        assert!(p.has("recurse") && p.has("stale") && p.has("keys"));
        assert_eq!(p.all("tag").collect::<Vec<_>>(), vec!["a", "b"]);
        assert_eq!(p.consistency().ok(), Some(Consistency::Stale));
    }

    #[test]
    fn blocking_defaults_and_errors() {
        let cfg = ApiConfig::default();
        let b = Params::parse(Some("index=5&wait=1h")).blocking(&cfg).ok();
        assert_eq!(
            b.map(|b| (b.min_index, b.wait)),
            Some((5, Duration::from_secs(600)))
        );
        let b = Params::parse(None).blocking(&cfg).ok();
        assert_eq!(b.map(|b| b.wait), Some(Duration::from_secs(300)));
        assert!(Params::parse(Some("index=abc")).blocking(&cfg).is_err());
        assert!(Params::parse(Some("wait=bad")).blocking(&cfg).is_err());
        assert!(Params::parse(Some("stale&consistent")).consistency().is_err());
        assert!(Params::parse(Some("cas=abc")).get_u64("cas").is_err());
    }
}
