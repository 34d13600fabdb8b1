//! Checking a bearer JWT: its signature against the method's keys, then its time claims,
//! issuer and audience, as Consul's `verifyVanillaJWT` does.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::Algorithm;
use serde_json::{Map, Value};

use super::config::{JwtConfig, KeySource};
use super::keys::PublicKey;
use super::{ClaimError, LoginError};

/// Consul's leeway for a missing `exp` or `nbf` when its setting is 0 (`claimDefaultLeeway`).
const DEFAULT_EXP_NBF_LEEWAY_NS: i128 = 150 * 1_000_000_000;
/// go-jose's `jwt.DefaultLeeway`, used when `ClockSkewLeeway` is 0.
const DEFAULT_CLOCK_SKEW_NS: i128 = 60 * 1_000_000_000;

/// The algorithms a key of this crate can verify when `JWTSupportedAlgs` is empty.
///
/// Consul ignores `JWTSupportedAlgs` for static keys and JWKS (go-jose accepts whatever the key
/// type verifies), so the default is every asymmetric algorithm, not only `RS256`.
const DEFAULT_ALGS: &[Algorithm] = &[
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// The three parts of a compact JWS, decoded.
struct ParsedToken<'a> {
    /// The header's `alg`.
    alg: String,
    /// The header's `kid`, if any.
    kid: Option<String>,
    /// `header.payload`, the signed bytes.
    signing_input: &'a str,
    /// The signature, still base64url.
    signature: &'a str,
    /// The decoded payload bytes.
    payload: Vec<u8>,
}

/// Verifies the signature of `token` with `keys` and returns all its claims.
///
/// Only the signature is checked here; see [`check_claims`] for the rest.
pub(crate) fn verify_signature(
    token: &str,
    keys: &[PublicKey],
    config: &JwtConfig,
) -> Result<Map<String, Value>, LoginError> {
    let jwks = matches!(config.key_source(), KeySource::JwksFile(_));
    let parsed = parse(token).map_err(|e| {
        LoginError::Malformed(if jwks {
            format!("error verifying token: oidc: malformed jwt: {e}")
        } else {
            format!("error parsing token: {e}")
        })
    })?;

    let alg = check_algorithm(&parsed.alg, config)?;

    let mut verified = false;
    for key in keys {
        // For a JWKS, go-oidc tries every key when the token names none, else only the keys with
        // its `kid`; PEM keys have no `kid` and are all tried, as go-jose does.
        if jwks && parsed.kid.is_some() && parsed.kid != key.kid {
            continue;
        }
        if !key.kind.verifies(alg) || key.alg.is_some_and(|a| a != alg) {
            continue;
        }
        if jsonwebtoken::crypto::verify(parsed.signature, parsed.signing_input.as_bytes(), &key.key, alg)
            .unwrap_or(false)
        {
            verified = true;
            break;
        }
    }
    if !verified {
        return Err(LoginError::Signature(
            if jwks {
                "error verifying token: failed to verify id token signature"
            } else {
                "no known key successfully validated the token signature"
            }
            .to_string(),
        ));
    }

    match serde_json::from_slice::<Value>(&parsed.payload) {
        Ok(Value::Object(claims)) => Ok(claims),
        Ok(_) => Err(LoginError::Malformed(
            "failed to unmarshal claims: the payload is not a JSON object".to_string(),
        )),
        Err(e) => Err(LoginError::Malformed(format!("failed to unmarshal claims: {e}"))),
    }
}

/// Splits and decodes a compact JWS (`header.payload.signature`).
fn parse(token: &str) -> Result<ParsedToken<'_>, String> {
    let mut parts = token.split('.');
    let (Some(header_part), Some(payload_part), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("go-jose/go-jose: compact JWS format must have three parts".to_string());
    };
    let header_bytes = URL_SAFE_NO_PAD
        .decode(header_part)
        .map_err(|e| format!("illegal base64 data: {e}"))?;
    let header: Value = serde_json::from_slice(&header_bytes).map_err(|e| format!("invalid header: {e}"))?;
    let alg = header
        .get("alg")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let kid = header.get("kid").and_then(Value::as_str).map(str::to_string);
    let payload = URL_SAFE_NO_PAD
        .decode(payload_part)
        .map_err(|e| format!("illegal base64 data: {e}"))?;
    let signing_input = &token[..header_part.len() + 1 + payload_part.len()];
    Ok(ParsedToken {
        alg,
        kid,
        signing_input,
        signature,
        payload,
    })
}

/// The token's `alg`, if this method accepts it.
fn check_algorithm(alg: &str, config: &JwtConfig) -> Result<Algorithm, LoginError> {
    let unsupported = |why: String| LoginError::UnsupportedAlgorithm(format!("error verifying token: {why}"));
    if alg.is_empty() || alg.eq_ignore_ascii_case("none") {
        return Err(unsupported(format!(
            "unsupported signing algorithm {alg:?}: tokens must be signed"
        )));
    }
    if !config.jwt_supported_algs.is_empty() && !config.jwt_supported_algs.iter().any(|a| a == alg) {
        return Err(unsupported(format!(
            "token signed with unsupported algorithm, expected {:?} got {alg:?}",
            config.jwt_supported_algs
        )));
    }
    match alg.parse::<Algorithm>() {
        Ok(a) if DEFAULT_ALGS.contains(&a) => Ok(a),
        _ => Err(unsupported(format!("unsupported signing algorithm {alg:?}"))),
    }
}

/// A claim holding a NumericDate: seconds since the epoch, fractions truncated as go-jose does.
fn numeric_date(claims: &Map<String, Value>, name: &str) -> Result<i64, LoginError> {
    match claims.get(name) {
        None | Some(Value::Null) => Ok(0),
        Some(Value::Number(n)) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => Ok(i),
            (None, Some(f)) if f.is_finite() => Ok(f as i64),
            _ => Err(LoginError::Malformed(format!(
                "failed to unmarshal claims: {name}: bad number"
            ))),
        },
        Some(other) => Err(LoginError::Malformed(format!(
            "failed to unmarshal claims: json: cannot unmarshal {} into Go struct field Claims.{name} of \
             type jwt.NumericDate",
            json_kind(other)
        ))),
    }
}

/// encoding/json's name for a JSON value's kind in unmarshal errors.
fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// A leeway setting: 0 is the default, negative is none (nanoseconds).
fn leeway(setting: i64, default: i128) -> i128 {
    match setting {
        0 => default,
        s if s < 0 => 0,
        s => i128::from(s),
    }
}

/// Checks `exp`/`nbf`/`iat` (with Consul's leeways), `iss` and `aud` against the config.
pub(crate) fn check_claims(
    claims: &Map<String, Value>,
    config: &JwtConfig,
    now: SystemTime,
) -> Result<(), LoginError> {
    let iat = numeric_date(claims, "iat")?;
    let mut exp = numeric_date(claims, "exp")?;
    let mut nbf = numeric_date(claims, "nbf")?;
    if iat == 0 && exp == 0 && nbf == 0 {
        return Err(LoginError::NoTimeClaims);
    }
    // Consul's defaults for a missing expiry or not-before, in whole seconds.
    if exp == 0 {
        let latest_start = iat.max(nbf);
        let secs = leeway(config.expiration_leeway, DEFAULT_EXP_NBF_LEEWAY_NS) / 1_000_000_000;
        exp = latest_start.saturating_add(i64::try_from(secs).unwrap_or(i64::MAX));
    }
    if nbf == 0 {
        nbf = if iat != 0 {
            iat
        } else {
            let secs = leeway(config.not_before_leeway, DEFAULT_EXP_NBF_LEEWAY_NS) / 1_000_000_000;
            exp.saturating_sub(i64::try_from(secs).unwrap_or(i64::MAX))
        };
    }

    let issuer = match claims.get("iss") {
        None | Some(Value::Null) => "",
        Some(Value::String(s)) => s.as_str(),
        Some(other) => {
            return Err(LoginError::Malformed(format!(
                "failed to unmarshal claims: json: cannot unmarshal {} into Go struct field Claims.iss of \
                 type string",
                json_kind(other)
            )))
        }
    };
    if !config.bound_issuer.is_empty() && config.bound_issuer != issuer {
        return Err(LoginError::Claims(ClaimError::Issuer));
    }

    let now_ns = match now.duration_since(UNIX_EPOCH) {
        Ok(d) => i128::try_from(d.as_nanos()).unwrap_or(i128::MAX),
        Err(e) => -i128::try_from(e.duration().as_nanos()).unwrap_or(i128::MAX),
    };
    let skew = leeway(config.clock_skew_leeway, DEFAULT_CLOCK_SKEW_NS);
    let secs = |s: i64| i128::from(s) * 1_000_000_000;
    if now_ns + skew < secs(nbf) {
        return Err(LoginError::Claims(ClaimError::NotValidYet));
    }
    if now_ns - skew > secs(exp) {
        return Err(LoginError::Claims(ClaimError::Expired));
    }
    if iat != 0 && now_ns + skew < secs(iat) {
        return Err(LoginError::Claims(ClaimError::IssuedInTheFuture));
    }

    let audiences: Vec<&str> = match claims.get("aud") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(items)) => {
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                match item.as_str() {
                    Some(s) => out.push(s),
                    None => {
                        return Err(LoginError::Malformed(
                            "failed to unmarshal claims: go-jose/go-jose/jwt: expected string or array \
                             value to unmarshal to Audience"
                                .to_string(),
                        ))
                    }
                }
            }
            out
        }
        Some(_) => {
            return Err(LoginError::Malformed(
                "failed to unmarshal claims: go-jose/go-jose/jwt: expected string or array value to \
                 unmarshal to Audience"
                    .to_string(),
            ))
        }
    };
    if config.bound_audiences.is_empty() {
        if !audiences.is_empty() {
            return Err(LoginError::Claims(ClaimError::UnboundAudience));
        }
    } else if !config
        .bound_audiences
        .iter()
        .any(|b| audiences.contains(&b.as_str()))
    {
        return Err(LoginError::Claims(ClaimError::Audience));
    }
    Ok(())
}
