//! The `Config` object of a `jwt` auth method: decoding (Consul's mapstructure rules) and the
//! checks Consul runs when the method is created or updated.
//!
//! Decoding follows `authmethod.ParseConfig`: key names match case-insensitively, an unknown key
//! is an error, and input is weakly typed (a number or boolean where a string is expected is
//! turned into its text, a lone value where a list is expected becomes a one-element list).
//! Durations are Go duration strings (`"90s"`) or numbers of nanoseconds, as Go's
//! `time.Duration` decodes them.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// Why a `jwt` auth method's config was refused.
///
/// The text is what Consul's validator says; Consul's `ACL.AuthMethodSet` puts
/// `Invalid Auth Method: ` in front of it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

/// The algorithms Consul accepts in `JWTSupportedAlgs` (go-oidc's names).
const KNOWN_ALGS: &[&str] = &[
    "RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512",
];

/// OIDC-flow keys of the shared config struct, refused for type `jwt`, in Consul's order.
const OIDC_ONLY_KEYS: &[&str] = &[
    "OIDCClientID",
    "OIDCClientSecret",
    "OIDCScopes",
    "OIDCACRValues",
    "AllowedRedirectURIs",
    "VerboseOIDCLogging",
];

/// Every key the `jwt` type's config may hold (the OIDC-only ones are then refused by value).
const KNOWN_KEYS: &[&str] = &[
    "JWTSupportedAlgs",
    "BoundAudiences",
    "ClaimMappings",
    "ListClaimMappings",
    "OIDCDiscoveryURL",
    "OIDCDiscoveryCACert",
    "JWKSURL",
    "JWKSCACert",
    "JWTValidationPubKeys",
    "BoundIssuer",
    "ExpirationLeeway",
    "NotBeforeLeeway",
    "ClockSkewLeeway",
    "OIDCClientID",
    "OIDCClientSecret",
    "OIDCScopes",
    "OIDCACRValues",
    "AllowedRedirectURIs",
    "VerboseOIDCLogging",
];

/// A decoded `jwt` auth method config, with Consul's key names as field documentation.
///
/// Built by [`JwtConfig::from_json`], which also runs Consul's validation; the key material
/// itself is parsed by [`super::JwtValidator`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JwtConfig {
    /// `JWTValidationPubKeys`: PEM public keys (RSA, ECDSA, Ed25519; or certificates).
    pub jwt_validation_pub_keys: Vec<String>,
    /// `JWKSURL`: where the JWKS is (`file://` only here).
    pub jwks_url: String,
    /// `JWKSCACert`: CA for the JWKS URL (must look like PEM; unused: no network fetches).
    pub jwks_ca_cert: String,
    /// `OIDCDiscoveryURL`: refused (it needs the network).
    pub oidc_discovery_url: String,
    /// `OIDCDiscoveryCACert`: only valid with `OIDCDiscoveryURL`.
    pub oidc_discovery_ca_cert: String,
    /// `BoundIssuer`: the required `iss`, when not empty.
    pub bound_issuer: String,
    /// `BoundAudiences`: one of them must be in `aud`; when empty, `aud` must be absent.
    pub bound_audiences: Vec<String>,
    /// `ClaimMappings`: claim (name or JSON pointer) to `value.<attribute>`.
    pub claim_mappings: BTreeMap<String, String>,
    /// `ListClaimMappings`: claim (name or JSON pointer) to `list.<attribute>`.
    pub list_claim_mappings: BTreeMap<String, String>,
    /// `JWTSupportedAlgs`: when not empty, the token's `alg` must be one of these.
    pub jwt_supported_algs: Vec<String>,
    /// `ExpirationLeeway` in nanoseconds: 0 means 150 s, negative means none.
    pub expiration_leeway: i64,
    /// `NotBeforeLeeway` in nanoseconds: 0 means 150 s, negative means none.
    pub not_before_leeway: i64,
    /// `ClockSkewLeeway` in nanoseconds: 0 means 60 s, negative means none.
    pub clock_skew_leeway: i64,
}

/// Where a method's verification keys come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// `JWTValidationPubKeys`.
    StaticKeys,
    /// `JWKSURL`, a `file://` path to a JWKS document.
    JwksFile(String),
}

impl JwtConfig {
    /// Decodes a `Config` object (`null` or absent is the empty config) and validates it as
    /// Consul does on create/update; the error is Consul's text.
    ///
    /// The PEM keys are checked by [`super::JwtValidator::new`], which calls this first.
    pub fn from_json(config: &Value) -> Result<JwtConfig, ConfigError> {
        let raw = match config {
            Value::Null => Map::new(),
            Value::Object(m) => m.clone(),
            other => {
                return Err(decode_error(format!(
                    "'' expected a map, got '{}'",
                    go_kind(other)
                )))
            }
        };
        let mut fields: BTreeMap<&'static str, &Value> = BTreeMap::new();
        let mut unknown = Vec::new();
        for (key, value) in &raw {
            match KNOWN_KEYS.iter().find(|k| k.eq_ignore_ascii_case(key)) {
                Some(k) => {
                    fields.insert(k, value);
                }
                None => unknown.push(key.clone()),
            }
        }
        if !unknown.is_empty() {
            return Err(decode_error(format!(
                "'' has invalid keys: {}",
                unknown.join(", ")
            )));
        }

        // Consul refuses the OIDC-flow settings for type "jwt" as soon as they are non-zero.
        for key in OIDC_ONLY_KEYS {
            if let Some(v) = fields.get(key) {
                if !is_zero(v) {
                    return Err(ConfigError(format!("'{key}' must not be set for type \"jwt\"")));
                }
            }
        }

        let string = |k: &'static str| -> Result<String, ConfigError> {
            fields.get(k).map_or(Ok(String::new()), |v| decode_string(k, v))
        };
        let list = |k: &'static str| -> Result<Vec<String>, ConfigError> {
            fields.get(k).map_or(Ok(Vec::new()), |v| decode_list(k, v))
        };
        let map = |k: &'static str| -> Result<BTreeMap<String, String>, ConfigError> {
            fields.get(k).map_or(Ok(BTreeMap::new()), |v| decode_map(k, v))
        };
        let duration = |k: &'static str| -> Result<i64, ConfigError> {
            fields.get(k).map_or(Ok(0), |v| decode_duration(k, v))
        };

        let config = JwtConfig {
            jwt_validation_pub_keys: list("JWTValidationPubKeys")?,
            jwks_url: string("JWKSURL")?,
            jwks_ca_cert: string("JWKSCACert")?,
            oidc_discovery_url: string("OIDCDiscoveryURL")?,
            oidc_discovery_ca_cert: string("OIDCDiscoveryCACert")?,
            bound_issuer: string("BoundIssuer")?,
            bound_audiences: list("BoundAudiences")?,
            claim_mappings: map("ClaimMappings")?,
            list_claim_mappings: map("ListClaimMappings")?,
            jwt_supported_algs: list("JWTSupportedAlgs")?,
            expiration_leeway: duration("ExpirationLeeway")?,
            not_before_leeway: duration("NotBeforeLeeway")?,
            clock_skew_leeway: duration("ClockSkewLeeway")?,
        };
        config.validate()?;
        Ok(config)
    }

    /// Consul's `Config.Validate` for type `jwt`, minus the PEM parsing (done with the keys).
    fn validate(&self) -> Result<(), ConfigError> {
        let sources = [
            !self.oidc_discovery_url.is_empty(),
            !self.jwt_validation_pub_keys.is_empty(),
            !self.jwks_url.is_empty(),
        ];
        if sources.iter().filter(|s| **s).count() != 1 {
            return Err(ConfigError(
                "exactly one of 'JWTValidationPubKeys', 'JWKSURL', or 'OIDCDiscoveryURL' must be set \
                 for type \"jwt\""
                    .into(),
            ));
        }
        if !self.jwks_url.is_empty() {
            if jwks_file_path(&self.jwks_url).is_none() {
                return Err(ConfigError(format!(
                    "error checking JWKSURL: fetching {:?} needs network access, which rconsul does \
                     not do: use a file:// URL or JWTValidationPubKeys",
                    self.jwks_url
                )));
            }
            if !self.jwks_ca_cert.is_empty() && !self.jwks_ca_cert.contains("-----BEGIN CERTIFICATE-----") {
                return Err(ConfigError(
                    "error checking JWKSCACert: could not parse CA PEM value successfully".into(),
                ));
            }
        } else if !self.jwks_ca_cert.is_empty() {
            return Err(ConfigError(
                "'JWKSCACert' should not be set unless 'JWKSURL' is set".into(),
            ));
        }
        if !self.oidc_discovery_url.is_empty() {
            return Err(ConfigError(format!(
                "error checking OIDCDiscoveryURL: OIDC discovery of {:?} needs network access, which \
                 rconsul does not do: use JWKSURL (file://) or JWTValidationPubKeys",
                self.oidc_discovery_url
            )));
        } else if !self.oidc_discovery_ca_cert.is_empty() {
            return Err(ConfigError(
                "'OIDCDiscoveryCACert' should not be set unless 'OIDCDiscoveryURL' is set".into(),
            ));
        }
        for alg in &self.jwt_supported_algs {
            if !KNOWN_ALGS.contains(&alg.as_str()) {
                return Err(ConfigError(format!("Invalid supported algorithm: {alg}")));
            }
        }
        for (name, mappings) in [
            ("ClaimMappings", &self.claim_mappings),
            ("ListClaimMappings", &self.list_claim_mappings),
        ] {
            let mut seen = std::collections::BTreeSet::new();
            for target in mappings.values() {
                if !seen.insert(target.as_str()) {
                    return Err(ConfigError(format!(
                        "{name} contains multiple mappings for key {target:?}"
                    )));
                }
            }
        }
        Ok(())
    }

    /// Where the verification keys come from (the config is valid, so exactly one is set).
    pub fn key_source(&self) -> KeySource {
        match jwks_file_path(&self.jwks_url) {
            Some(path) if self.jwt_validation_pub_keys.is_empty() => KeySource::JwksFile(path),
            _ => KeySource::StaticKeys,
        }
    }

    /// The `value.*` variables a binding rule's `BindName` may use (`value.<attribute>` for each
    /// `ClaimMappings` target), sorted; for validating binding rules on create.
    pub fn projected_var_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .claim_mappings
            .values()
            .map(|t| format!("value.{t}"))
            .collect();
        names.sort();
        names
    }
}

/// The local path of a `file://` URL (`file:///etc/jwks.json` → `/etc/jwks.json`).
fn jwks_file_path(url: &str) -> Option<String> {
    let rest = url.strip_prefix("file://")?;
    // `file://localhost/path` is the same file as `file:///path`.
    let rest = rest.strip_prefix("localhost").unwrap_or(rest);
    if !rest.starts_with('/') {
        return None;
    }
    Some(
        percent_encoding::percent_decode_str(rest)
            .decode_utf8_lossy()
            .into_owned(),
    )
}

/// mapstructure's error wrapping, as `ParseConfig` reports it.
fn decode_error(detail: String) -> ConfigError {
    ConfigError(format!(
        "error decoding config: 1 error(s) decoding:\n\n* {detail}"
    ))
}

/// Go's name for the kind of a decoded JSON value, as mapstructure's messages show it.
fn go_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "<nil>",
        Value::Bool(_) => "bool",
        Value::Number(_) => "float64",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

/// Whether a value is its type's zero (what Go's `!= ""`, `len() != 0`, `!b` tests see).
fn is_zero(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        Value::Number(n) => n.as_f64() == Some(0.0),
    }
}

/// A string field, weakly typed: numbers and booleans become their text.
fn decode_string(key: &str, v: &Value) -> Result<String, ConfigError> {
    scalar_text(v).ok_or_else(|| {
        decode_error(format!(
            "'{key}' expected type 'string', got unconvertible type '{}', value: '{v}'",
            go_kind(v)
        ))
    })
}

/// The text of a scalar under mapstructure's weak typing (`null` is the empty string).
fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::Null => Some(String::new()),
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(if *b { "1" } else { "0" }.to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::Array(_) | Value::Object(_) => None,
    }
}

/// A list of strings; a lone scalar is a one-element list.
fn decode_list(key: &str, v: &Value) -> Result<Vec<String>, ConfigError> {
    match v {
        Value::Null => Ok(Vec::new()),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| decode_string(&format!("{key}[{i}]"), item))
            .collect(),
        Value::Object(_) => Err(decode_error(format!(
            "'{key}': source data must be an array or slice, got map"
        ))),
        scalar => Ok(vec![decode_string(key, scalar)?]),
    }
}

/// A map of strings to strings.
fn decode_map(key: &str, v: &Value) -> Result<BTreeMap<String, String>, ConfigError> {
    match v {
        Value::Null => Ok(BTreeMap::new()),
        Value::Object(m) => m
            .iter()
            .map(|(k, item)| Ok((k.clone(), decode_string(&format!("{key}[{k}]"), item)?)))
            .collect(),
        other => Err(decode_error(format!(
            "'{key}' expected a map, got '{}'",
            match other {
                Value::Array(_) => "slice",
                Value::String(_) => "string",
                Value::Number(_) => "float64",
                _ => "bool",
            }
        ))),
    }
}

/// A `time.Duration`: a Go duration string or a number of nanoseconds.
fn decode_duration(key: &str, v: &Value) -> Result<i64, ConfigError> {
    match v {
        Value::Null => Ok(0),
        Value::String(s) if s.is_empty() => Ok(0),
        Value::String(s) => rconsul_compat::duration::parse(s)
            .map_err(|e| decode_error(format!("error decoding '{key}': {e}"))),
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => Ok(i),
            // Go truncates a fractional number of nanoseconds.
            (None, Some(f)) if f.is_finite() && f.abs() < 9.2e18 => Ok(f as i64),
            _ => Err(decode_error(format!("'{key}' overflows time.Duration: {n}"))),
        },
        other => Err(decode_error(format!(
            "'{key}' expected type 'time.Duration', got unconvertible type '{}', value: '{other}'",
            go_kind(other)
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn err(config: Value) -> String {
        match JwtConfig::from_json(&config) {
            Ok(c) => panic!("accepted: {c:?}"),
            Err(e) => e.0,
        }
    }

    #[test]
    fn config_decodes_consul_keys() {
        let c = JwtConfig::from_json(&json!({
            "jwtvalidationpubkeys": "PEM",
            "BoundIssuer": "https://issuer",
            "BoundAudiences": ["a", "b"],
            "ClaimMappings": {"/a/b": "ab", "name": "name"},
            "ListClaimMappings": {"groups": "groups"},
            "JWTSupportedAlgs": ["RS256", "ES256"],
            "ExpirationLeeway": "1m",
            "NotBeforeLeeway": 5_000_000_000i64,
            "ClockSkewLeeway": "-1s",
        }))
        .expect("valid");
        assert_eq!(c.jwt_validation_pub_keys, vec!["PEM"]);
        assert_eq!(c.bound_audiences, vec!["a", "b"]);
        assert_eq!(c.claim_mappings.get("/a/b").map(String::as_str), Some("ab"));
        assert_eq!(c.expiration_leeway, 60_000_000_000);
        assert_eq!(c.not_before_leeway, 5_000_000_000);
        assert_eq!(c.clock_skew_leeway, -1_000_000_000);
        assert_eq!(c.key_source(), KeySource::StaticKeys);
        assert_eq!(c.projected_var_names(), vec!["value.ab", "value.name"]);
    }

    #[test]
    fn config_refusals_use_consul_text() {
        assert_eq!(
            err(json!({})),
            "exactly one of 'JWTValidationPubKeys', 'JWKSURL', or 'OIDCDiscoveryURL' must be set for type \"jwt\""
        );
        assert!(
            err(json!({"JWTValidationPubKeys": ["x"], "JWKSURL": "file:///x"})).starts_with("exactly one")
        );
        assert_eq!(
            err(json!({"JWTValidationPubKeys": ["x"], "Bogus": 1})),
            "error decoding config: 1 error(s) decoding:\n\n* '' has invalid keys: Bogus"
        );
        assert_eq!(
            err(json!({"JWTValidationPubKeys": ["x"], "OIDCClientID": "id"})),
            "'OIDCClientID' must not be set for type \"jwt\""
        );
        assert_eq!(
            err(json!({"JWTValidationPubKeys": ["x"], "JWKSCACert": "pem"})),
            "'JWKSCACert' should not be set unless 'JWKSURL' is set"
        );
        assert_eq!(
            err(json!({"JWTValidationPubKeys": ["x"], "JWTSupportedAlgs": ["HS256"]})),
            "Invalid supported algorithm: HS256"
        );
        assert_eq!(
            err(json!({"JWTValidationPubKeys": ["x"], "ClaimMappings": {"a": "x", "b": "x"}})),
            "ClaimMappings contains multiple mappings for key \"x\""
        );
        assert!(err(json!({"JWKSURL": "https://example.com/jwks"})).starts_with("error checking JWKSURL: "));
        assert!(err(json!({"OIDCDiscoveryURL": "https://example.com"}))
            .starts_with("error checking OIDCDiscoveryURL: "));
        assert!(
            err(json!({"JWTValidationPubKeys": ["x"], "ExpirationLeeway": "5"}))
                .contains("missing unit in duration")
        );
    }

    #[test]
    fn config_jwks_file_urls() {
        let c = JwtConfig::from_json(&json!({"JWKSURL": "file:///etc/my%20keys.json"})).expect("valid");
        assert_eq!(c.key_source(), KeySource::JwksFile("/etc/my keys.json".into()));
        assert!(err(json!({"JWKSURL": "file://relative.json"})).starts_with("error checking JWKSURL"));
        assert_eq!(
            err(json!({"JWKSURL": "file:///x.json", "JWKSCACert": "junk"})),
            "error checking JWKSCACert: could not parse CA PEM value successfully"
        );
    }
}
