//! Consul's `jwt` auth method: checking a bearer JWT and evaluating binding rules, for
//! `/v1/acl/login` and for validating auth methods and binding rules when they are written.
//!
//! - [`config`]: the method's `Config` object, decoded and validated ([`JwtConfig`]).
//! - `keys`: PEM keys (`JWTValidationPubKeys`) and JWKS documents (`JWKSURL`, `file://` only).
//! - `jwt`: signature, `exp`/`nbf`/`iat` with Consul's leeways, `iss`, `aud`.
//! - [`claims`]: `ClaimMappings` / `ListClaimMappings` → [`Identity`].
//! - `template`: `${value.x}` interpolation in bind names.
//! - [`binding`]: binding rules → [`Bindings`].
//!
//! A login is `JwtValidator::new(&method.config)?` (or a cached validator), then
//! [`JwtValidator::validate`] with the bearer token, then [`bind`] with the method's rules; the
//! caller then resolves role and policy names and mints the token.
//!
//! # What Consul answers
//!
//! Consul's login endpoint passes these errors through its RPC layer as plain errors, so every
//! failure except "nothing bound" is HTTP **500** with the error text as the body (from reading
//! Consul's `ACL.Login` and HTTP error mapping; [`LoginError::http_status`] encodes it). Only
//! [`LoginError::PermissionDenied`] is **403** `Permission denied`. A config refused when the
//! method is written is answered with `Invalid Auth Method: <text>` (also an RPC error in Consul).
//!
//! # Differences from Consul
//!
//! - `JWKSURL` must be a `file://` URL, read at every login; `http(s)://` and
//!   `OIDCDiscoveryURL` are refused when the method is written (no network access here).
//!   `JWKSCACert` must look like PEM but is otherwise unused.
//! - `JWTSupportedAlgs`, when set, restricts the token's `alg` (Consul ignores it for static
//!   keys and JWKS). When empty, every asymmetric algorithm the key can verify is accepted (as
//!   Consul does), not only `RS256`.
//! - `ES512` (P-521) is not supported (no ring support), nor RSA keys under 2048 bits.
//!   `none` and the `HS*` algorithms are always refused.

pub mod binding;
pub mod claims;
pub mod config;
mod jwt;
mod keys;
mod template;

use std::time::SystemTime;

use serde_json::Value;

pub use binding::{bind, validate_binding_rule, BindingRuleSpec, Bindings, TemplatedPolicyBinding};
pub use claims::Identity;
pub use config::{ConfigError, JwtConfig, KeySource};

use keys::PublicKey;

/// A time claim or audience check that failed; the texts are go-jose's and Consul's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClaimError {
    /// `iss` differs from `BoundIssuer`.
    #[error("go-jose/go-jose/jwt: validation failed, invalid issuer claim (iss)")]
    Issuer,
    /// `nbf` is in the future, beyond the clock skew leeway.
    #[error("go-jose/go-jose/jwt: validation failed, token not valid yet (nbf)")]
    NotValidYet,
    /// `exp` is in the past, beyond the clock skew leeway.
    #[error("go-jose/go-jose/jwt: validation failed, token is expired (exp)")]
    Expired,
    /// `iat` is in the future, beyond the clock skew leeway.
    #[error("go-jose/go-jose/jwt: validation field, token issued in the future (iat)")]
    IssuedInTheFuture,
    /// None of `BoundAudiences` is in `aud`.
    #[error("aud claim does not match any bound audience")]
    Audience,
    /// The token has an `aud` but the method binds no audience.
    #[error("audience claim found in JWT but no audiences are bound")]
    UnboundAudience,
}

/// Why a login was refused. `Display` is the text Consul answers with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoginError {
    /// The auth method's config is invalid (normally caught when it was written).
    #[error("{0}")]
    Config(ConfigError),
    /// The request carried no bearer token.
    #[error("missing jwt")]
    MissingToken,
    /// The keys could not be loaded (an unreadable or invalid JWKS file).
    #[error("{0}")]
    Keys(String),
    /// The token is not a well-formed JWS, or its claims have the wrong types.
    #[error("{0}")]
    Malformed(String),
    /// The token's `alg` is `none`, symmetric, not supported, or not in `JWTSupportedAlgs`.
    #[error("{0}")]
    UnsupportedAlgorithm(String),
    /// No configured key verifies the signature.
    #[error("{0}")]
    Signature(String),
    /// The token has none of `iat`, `nbf`, `exp`.
    #[error("no issue time, notbefore, or expiration time encoded in token")]
    NoTimeClaims,
    /// A time, issuer or audience check failed.
    #[error("error validating claims: {0}")]
    Claims(ClaimError),
    /// A mapped claim has a type that cannot be turned into text.
    #[error("{0}")]
    ClaimMapping(String),
    /// A matching binding rule produced an invalid name or could not be interpolated.
    #[error("{0}")]
    Bind(String),
    /// No binding rule matched (or, after the caller's lookups, nothing is granted).
    #[error("Permission denied")]
    PermissionDenied,
}

impl LoginError {
    /// The HTTP status Consul answers `/v1/acl/login` with for this error.
    pub fn http_status(&self) -> u16 {
        match self {
            LoginError::PermissionDenied => 403,
            _ => 500,
        }
    }
}

/// A `jwt` auth method ready to check tokens: a validated config and its parsed PEM keys.
///
/// Build one when the method is written (to refuse a bad config) and whenever it changes;
/// it is cheap to keep and `Send + Sync`.
#[derive(Debug, Clone)]
pub struct JwtValidator {
    config: JwtConfig,
    /// The parsed `JWTValidationPubKeys` (empty for a JWKS file, which is read per login).
    static_keys: Vec<PublicKey>,
}

impl JwtValidator {
    /// Decodes and validates a method's `Config` object, parses its keys, and for a JWKS file
    /// checks that it can be read. The error is Consul's text (without `Invalid Auth Method: `).
    pub fn new(config: &Value) -> Result<JwtValidator, ConfigError> {
        Self::from_config(JwtConfig::from_json(config)?)
    }

    /// Like [`JwtValidator::new`] for an already decoded config.
    pub fn from_config(config: JwtConfig) -> Result<JwtValidator, ConfigError> {
        let mut static_keys = Vec::with_capacity(config.jwt_validation_pub_keys.len());
        for (i, pem) in config.jwt_validation_pub_keys.iter().enumerate() {
            let key = keys::parse_pem(pem).map_err(|e| {
                ConfigError(format!("error parsing public key JWTValidationPubKeys[{i}]: {e}"))
            })?;
            static_keys.push(key);
        }
        if let KeySource::JwksFile(path) = config.key_source() {
            load_jwks(&path).map_err(|e| ConfigError(format!("error checking JWKSURL: {e}")))?;
        }
        Ok(JwtValidator { config, static_keys })
    }

    /// The decoded config.
    pub fn config(&self) -> &JwtConfig {
        &self.config
    }

    /// The method's blank identity (every attribute empty), for validating binding rules.
    pub fn blank_identity(&self) -> Identity {
        Identity::blank(&self.config)
    }

    /// Checks `bearer_token` at time `now` and maps its claims (Consul's `ValidateLogin`).
    pub fn validate(&self, bearer_token: &str, now: SystemTime) -> Result<Identity, LoginError> {
        if bearer_token.is_empty() {
            return Err(LoginError::MissingToken);
        }
        let claims = match self.config.key_source() {
            KeySource::StaticKeys => jwt::verify_signature(bearer_token, &self.static_keys, &self.config)?,
            KeySource::JwksFile(path) => {
                let keys =
                    load_jwks(&path).map_err(|e| LoginError::Keys(format!("error verifying token: {e}")))?;
                jwt::verify_signature(bearer_token, &keys, &self.config)?
            }
        };
        jwt::check_claims(&claims, &self.config, now)?;
        claims::extract(&claims, &self.config)
    }
}

/// Reads and parses a JWKS file.
fn load_jwks(path: &str) -> Result<Vec<PublicKey>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("reading JWKS file {path:?}: {e}"))?;
    keys::parse_jwks(&text).map_err(|e| format!("JWKS file {path:?}: {e}"))
}

/// Checks a `jwt` auth method's `Config` as Consul does when the method is written.
pub fn validate_config(config: &Value) -> Result<(), ConfigError> {
    JwtValidator::new(config).map(|_| ())
}

/// One-shot login check: builds the validator from `config` and validates `bearer_token`.
pub fn validate(config: &Value, bearer_token: &str, now: SystemTime) -> Result<Identity, LoginError> {
    JwtValidator::new(config)
        .map_err(LoginError::Config)?
        .validate(bearer_token, now)
}

#[cfg(test)]
mod tests;
