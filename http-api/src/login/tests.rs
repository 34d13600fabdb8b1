//! End-to-end tests: tokens signed with fixed test keys (`testdata/`, generated once with
//! `openssl genpkey`; they protect nothing) are checked and bound.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

use super::*;

const RSA1_KEY: &str = include_str!("testdata/rsa1.key");
const RSA1_PUB: &str = include_str!("testdata/rsa1.pub");
const RSA2_KEY: &str = include_str!("testdata/rsa2.key");
const EC_KEY: &str = include_str!("testdata/ec256.key");
const EC_PUB: &str = include_str!("testdata/ec256.pub");
const ED_KEY: &str = include_str!("testdata/ed25519.key");
const ED_PUB: &str = include_str!("testdata/ed25519.pub");

const NOW: u64 = 1_700_000_000;

fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(NOW)
}

fn ts(offset: i64) -> i64 {
    NOW as i64 + offset
}

fn sign(alg: Algorithm, key_pem: &str, kid: Option<&str>, claims: &Value) -> String {
    let key = match alg {
        Algorithm::ES256 | Algorithm::ES384 => EncodingKey::from_ec_pem(key_pem.as_bytes()),
        Algorithm::EdDSA => EncodingKey::from_ed_pem(key_pem.as_bytes()),
        _ => EncodingKey::from_rsa_pem(key_pem.as_bytes()),
    }
    .expect("test key");
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_string);
    encode(&header, claims, &key).expect("sign")
}

fn rs256(claims: &Value) -> String {
    sign(Algorithm::RS256, RSA1_KEY, None, claims)
}

fn static_config(extra: Value) -> Value {
    let mut config = json!({
        "JWTValidationPubKeys": [RSA1_PUB, EC_PUB],
        "BoundIssuer": "https://issuer.example",
        "BoundAudiences": ["consul", "other"],
        "ClaimMappings": {"name": "name", "/org/role": "role"},
        "ListClaimMappings": {"groups": "groups"},
    });
    if let (Value::Object(c), Value::Object(e)) = (&mut config, extra) {
        c.extend(e);
    }
    config
}

fn good_claims() -> Value {
    json!({
        "iss": "https://issuer.example",
        "aud": ["consul"],
        "sub": "jane",
        "iat": ts(-10),
        "nbf": ts(-10),
        "exp": ts(300),
        "name": "web",
        "org": {"role": "admin"},
        "groups": ["dev", "ops"],
    })
}

fn with(mut claims: Value, key: &str, value: Value) -> Value {
    if let Value::Object(m) = &mut claims {
        if value.is_null() {
            m.remove(key);
        } else {
            m.insert(key.to_string(), value);
        }
    }
    claims
}

fn check(config: &Value, token: &str) -> Result<Identity, LoginError> {
    validate(config, token, now())
}

#[test]
fn login_valid_token_maps_claims() {
    let id = check(&static_config(json!({})), &rs256(&good_claims())).expect("valid");
    assert_eq!(id.values["name"], "web");
    assert_eq!(id.values["role"], "admin");
    assert_eq!(id.lists["groups"], vec!["dev", "ops"]);
    // A string `aud` and the EC key work too.
    let claims = with(good_claims(), "aud", json!("other"));
    let token = sign(Algorithm::ES256, EC_KEY, None, &claims);
    assert!(check(&static_config(json!({})), &token).is_ok());
    // Ed25519 keys verify EdDSA tokens.
    let ed_config = static_config(json!({"JWTValidationPubKeys": [ED_PUB]}));
    let token = sign(Algorithm::EdDSA, ED_KEY, None, &good_claims());
    assert!(check(&ed_config, &token).is_ok());
    assert!(matches!(
        check(&ed_config, &rs256(&good_claims())),
        Err(LoginError::Signature(_))
    ));
}

#[test]
fn login_signature_failures() {
    let config = static_config(json!({}));
    let wrong = sign(Algorithm::RS256, RSA2_KEY, None, &good_claims());
    assert_eq!(
        check(&config, &wrong),
        Err(LoginError::Signature(
            "no known key successfully validated the token signature".into()
        ))
    );
    // A payload swapped after signing.
    let token = rs256(&good_claims());
    let parts: Vec<&str> = token.split('.').collect();
    let forged = URL_SAFE_NO_PAD.encode(with(good_claims(), "name", json!("root")).to_string());
    let tampered = format!("{}.{}.{}", parts[0], forged, parts[2]);
    assert!(matches!(check(&config, &tampered), Err(LoginError::Signature(_))));
    assert!(matches!(
        check(&config, "not-a-jwt"),
        Err(LoginError::Malformed(_))
    ));
    assert!(matches!(check(&config, "a.b.c.d"), Err(LoginError::Malformed(_))));
    assert_eq!(check(&config, ""), Err(LoginError::MissingToken));
}

#[test]
fn login_refuses_none_and_symmetric_algorithms() {
    let config = static_config(json!({}));
    let payload = URL_SAFE_NO_PAD.encode(good_claims().to_string());
    let none = format!(
        "{}.{payload}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#)
    );
    assert!(matches!(
        check(&config, &none),
        Err(LoginError::UnsupportedAlgorithm(_))
    ));
    // HS256 keyed with the public key's bytes (the classic algorithm confusion).
    let hs = encode(
        &Header::new(Algorithm::HS256),
        &good_claims(),
        &EncodingKey::from_secret(RSA1_PUB.as_bytes()),
    )
    .expect("sign");
    assert!(matches!(
        check(&config, &hs),
        Err(LoginError::UnsupportedAlgorithm(_))
    ));
}

#[test]
fn login_supported_algs_restrict_alg() {
    let es = sign(Algorithm::ES256, EC_KEY, None, &good_claims());
    let only_rs = static_config(json!({"JWTSupportedAlgs": ["RS256"]}));
    let e = check(&only_rs, &es).unwrap_err();
    assert_eq!(
        e.to_string(),
        "error verifying token: token signed with unsupported algorithm, expected [\"RS256\"] got \"ES256\""
    );
    assert!(check(&only_rs, &rs256(&good_claims())).is_ok());
    // RS384 with the same RSA key is accepted by default.
    let rs384 = sign(Algorithm::RS384, RSA1_KEY, None, &good_claims());
    assert!(check(&static_config(json!({})), &rs384).is_ok());
    let ps256 = sign(Algorithm::PS256, RSA1_KEY, None, &good_claims());
    assert!(check(&static_config(json!({})), &ps256).is_ok());
}

#[test]
fn login_time_claims_and_leeways() {
    let config = static_config(json!({}));
    let expired = |exp: i64| check(&config, &rs256(&with(good_claims(), "exp", json!(ts(exp)))));
    // 60 s of clock skew by default.
    assert!(expired(-30).is_ok());
    assert_eq!(expired(-61), Err(LoginError::Claims(ClaimError::Expired)));
    let future = with(with(good_claims(), "nbf", json!(ts(120))), "iat", Value::Null);
    assert_eq!(
        check(&config, &rs256(&future)),
        Err(LoginError::Claims(ClaimError::NotValidYet))
    );
    let issued_later = with(with(good_claims(), "iat", json!(ts(120))), "nbf", json!(ts(-10)));
    assert_eq!(
        check(&config, &rs256(&issued_later)),
        Err(LoginError::Claims(ClaimError::IssuedInTheFuture))
    );
    // Only `iat`: expires 150 s (ExpirationLeeway default) after it, plus the 60 s skew.
    let only_iat = |iat: i64| {
        let c = with(
            with(with(good_claims(), "exp", Value::Null), "nbf", Value::Null),
            "iat",
            json!(ts(iat)),
        );
        rs256(&c)
    };
    assert!(check(&config, &only_iat(-200)).is_ok());
    assert_eq!(
        check(&config, &only_iat(-211)),
        Err(LoginError::Claims(ClaimError::Expired))
    );
    let custom = static_config(json!({"ExpirationLeeway": "1h"}));
    assert!(check(&custom, &only_iat(-3000)).is_ok());
    // No skew at all.
    let strict = static_config(json!({"ClockSkewLeeway": -1}));
    let just_expired = rs256(&with(good_claims(), "exp", json!(ts(-1))));
    assert_eq!(
        check(&strict, &just_expired),
        Err(LoginError::Claims(ClaimError::Expired))
    );
    // Only `exp`: not valid before exp - 150 s (NotBeforeLeeway default), minus the skew.
    let only_exp = with(
        with(with(good_claims(), "iat", Value::Null), "nbf", Value::Null),
        "exp",
        json!(ts(300)),
    );
    assert_eq!(
        check(&config, &rs256(&only_exp)),
        Err(LoginError::Claims(ClaimError::NotValidYet))
    );
    let no_times = with(
        with(with(good_claims(), "iat", Value::Null), "nbf", Value::Null),
        "exp",
        Value::Null,
    );
    assert_eq!(check(&config, &rs256(&no_times)), Err(LoginError::NoTimeClaims));
    let text_exp = with(good_claims(), "exp", json!("tomorrow"));
    assert!(matches!(
        check(&config, &rs256(&text_exp)),
        Err(LoginError::Malformed(_))
    ));
}

#[test]
fn login_issuer_and_audience() {
    let config = static_config(json!({}));
    let wrong_iss = with(good_claims(), "iss", json!("https://evil.example"));
    let e = check(&config, &rs256(&wrong_iss)).unwrap_err();
    assert_eq!(e, LoginError::Claims(ClaimError::Issuer));
    assert_eq!(
        e.to_string(),
        "error validating claims: go-jose/go-jose/jwt: validation failed, invalid issuer claim (iss)"
    );
    let wrong_aud = with(good_claims(), "aud", json!(["nobody", "else"]));
    assert_eq!(
        check(&config, &rs256(&wrong_aud)),
        Err(LoginError::Claims(ClaimError::Audience))
    );
    let no_aud = with(good_claims(), "aud", Value::Null);
    assert_eq!(
        check(&config, &rs256(&no_aud)),
        Err(LoginError::Claims(ClaimError::Audience))
    );
    // No bound audiences: a token with an `aud` is refused, one without is fine.
    let unbound = static_config(json!({"BoundAudiences": []}));
    assert_eq!(
        check(&unbound, &rs256(&good_claims())),
        Err(LoginError::Claims(ClaimError::UnboundAudience))
    );
    assert!(check(&unbound, &rs256(&no_aud)).is_ok());
    let any_iss = static_config(json!({"BoundIssuer": ""}));
    assert!(check(&any_iss, &rs256(&wrong_iss)).is_ok());
}

#[test]
fn login_jwks_file() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/src/login/testdata/jwks.json");
    let config = json!({
        "JWKSURL": format!("file://{path}"),
        "BoundAudiences": ["consul"],
        "ClaimMappings": {"name": "name"},
    });
    let validator = JwtValidator::new(&config).expect("config");
    let rsa = sign(Algorithm::RS256, RSA1_KEY, Some("rsa1"), &good_claims());
    assert_eq!(
        validator.validate(&rsa, now()).expect("valid").values["name"],
        "web"
    );
    let no_kid = sign(Algorithm::RS256, RSA1_KEY, None, &good_claims());
    assert!(validator.validate(&no_kid, now()).is_ok());
    let ec = sign(Algorithm::ES256, EC_KEY, Some("ec1"), &good_claims());
    assert!(validator.validate(&ec, now()).is_ok());
    // The RSA JWK says RS256 only; a kid naming another key does not fall back.
    let rs384 = sign(Algorithm::RS384, RSA1_KEY, Some("rsa1"), &good_claims());
    assert_eq!(
        validator.validate(&rs384, now()),
        Err(LoginError::Signature(
            "error verifying token: failed to verify id token signature".into()
        ))
    );
    let wrong_kid = sign(Algorithm::RS256, RSA1_KEY, Some("ec1"), &good_claims());
    assert!(matches!(
        validator.validate(&wrong_kid, now()),
        Err(LoginError::Signature(_))
    ));
    let unknown_kid = sign(Algorithm::RS256, RSA1_KEY, Some("rotated-away"), &good_claims());
    assert!(matches!(
        validator.validate(&unknown_kid, now()),
        Err(LoginError::Signature(_))
    ));
    // PEM keys have no kid: a token's kid does not matter.
    let with_kid = sign(Algorithm::RS256, RSA1_KEY, Some("anything"), &good_claims());
    assert!(check(&static_config(json!({})), &with_kid).is_ok());
    let wrong_key = sign(Algorithm::RS256, RSA2_KEY, Some("rsa1"), &good_claims());
    assert!(matches!(
        validator.validate(&wrong_key, now()),
        Err(LoginError::Signature(_))
    ));

    let missing = json!({"JWKSURL": "file:///nonexistent/jwks.json"});
    let e = validate_config(&missing).unwrap_err();
    assert!(
        e.0.starts_with("error checking JWKSURL: reading JWKS file"),
        "{e}"
    );
}

#[test]
fn login_config_key_errors() {
    let e = validate_config(&json!({"JWTValidationPubKeys": [RSA1_PUB, "garbage"]})).unwrap_err();
    assert_eq!(
        e.0,
        "error parsing public key JWTValidationPubKeys[1]: data does not contain any valid RSA, ECDSA, or \
         ED25519 public keys"
    );
    assert!(matches!(
        validate(&json!({}), "x.y.z", now()),
        Err(LoginError::Config(ConfigError(_)))
    ));
}

#[test]
fn login_then_bind() {
    let validator = JwtValidator::new(&static_config(json!({}))).expect("config");
    let id = validator.validate(&rs256(&good_claims()), now()).expect("valid");
    let rules = [
        BindingRuleSpec {
            selector: "value.role==admin",
            bind_type: "role",
            bind_name: "admins",
            bind_vars: None,
        },
        BindingRuleSpec {
            selector: "\"ops\" in list.groups",
            bind_type: "service",
            bind_name: "${value.name}",
            bind_vars: None,
        },
    ];
    let b = bind(&rules, &id).expect("bound");
    assert_eq!(b.roles, vec!["admins"]);
    assert_eq!(b.service_identities, vec!["web"]);
    // The blank identity matches `value.name == ""` and the BindName variables exist.
    let blank = validator.blank_identity();
    let empty_rule = [BindingRuleSpec {
        selector: "value.name == \"\"",
        bind_type: "role",
        bind_name: "x",
        bind_vars: None,
    }];
    assert!(bind(&empty_rule, &blank).is_ok());
    assert!(validate_binding_rule(&rules[1], &validator.config().projected_var_names()).is_ok());
}
