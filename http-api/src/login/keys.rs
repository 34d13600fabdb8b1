//! Verification keys: the PEM keys of `JWTValidationPubKeys` and the keys of a JWKS document.

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::Value;

/// The kind of a public key, which decides the algorithms it can verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyKind {
    /// RSA: `RS256/384/512`, `PS256/384/512`.
    Rsa,
    /// ECDSA on P-256: `ES256`.
    EcP256,
    /// ECDSA on P-384: `ES384`.
    EcP384,
    /// ECDSA on a curve whose name the source did not give (a PEM key): `ES256` or `ES384`.
    Ec,
    /// Ed25519: `EdDSA`.
    Ed25519,
}

impl KeyKind {
    /// Whether a key of this kind can check a signature made with `alg`.
    pub(crate) fn verifies(self, alg: Algorithm) -> bool {
        use Algorithm::*;
        match self {
            KeyKind::Rsa => matches!(alg, RS256 | RS384 | RS512 | PS256 | PS384 | PS512),
            KeyKind::EcP256 => alg == ES256,
            KeyKind::EcP384 => alg == ES384,
            KeyKind::Ec => matches!(alg, ES256 | ES384),
            KeyKind::Ed25519 => alg == EdDSA,
        }
    }
}

/// One public key, ready to verify signatures.
#[derive(Clone)]
pub(crate) struct PublicKey {
    /// The key.
    pub(crate) key: DecodingKey,
    /// Its kind.
    pub(crate) kind: KeyKind,
    /// A JWK's `kid` (PEM keys have none).
    pub(crate) kid: Option<String>,
    /// A JWK's `alg`, when it names one: then only that algorithm is accepted with the key.
    pub(crate) alg: Option<Algorithm>,
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PublicKey")
            .field("kind", &self.kind)
            .field("kid", &self.kid)
            .finish()
    }
}

/// Consul's message for a PEM that holds no usable public key.
const NO_PEM_KEY: &str = "data does not contain any valid RSA, ECDSA, or ED25519 public keys";

/// Parses one `JWTValidationPubKeys` entry: its first PEM block must be a `PUBLIC KEY` (PKIX:
/// RSA, ECDSA P-256/P-384, Ed25519) or a `CERTIFICATE` holding one, as Go's
/// `x509.ParsePKIXPublicKey` / `ParseCertificate` accept.
pub(crate) fn parse_pem(pem: &str) -> Result<PublicKey, String> {
    if !matches!(first_pem_label(pem), Some("PUBLIC KEY" | "CERTIFICATE")) {
        return Err(NO_PEM_KEY.to_string());
    }
    let bytes = pem.as_bytes();
    let (key, kind) = if let Ok(k) = DecodingKey::from_rsa_pem(bytes) {
        (k, KeyKind::Rsa)
    } else if let Ok(k) = DecodingKey::from_ec_pem(bytes) {
        (k, KeyKind::Ec)
    } else if let Ok(k) = DecodingKey::from_ed_pem(bytes) {
        (k, KeyKind::Ed25519)
    } else {
        return Err(NO_PEM_KEY.to_string());
    };
    Ok(PublicKey {
        key,
        kind,
        kid: None,
        alg: None,
    })
}

/// The label of the first PEM block (`-----BEGIN <label>-----`); text before it is ignored.
fn first_pem_label(pem: &str) -> Option<&str> {
    let start = pem.find("-----BEGIN ")? + "-----BEGIN ".len();
    let rest = &pem[start..];
    Some(&rest[..rest.find("-----")?])
}

/// Parses a JWKS document (`{"keys": [...]}`).
///
/// Keys that cannot verify signatures here (symmetric `oct` keys, P-521, unknown types, or
/// malformed entries) are skipped, as go-jose skips what it cannot use; a document that is not
/// a JWKS at all is an error.
pub(crate) fn parse_jwks(text: &str) -> Result<Vec<PublicKey>, String> {
    let doc: Value = serde_json::from_str(text).map_err(|e| format!("failed to decode keys: {e}"))?;
    let Some(entries) = doc.get("keys").and_then(Value::as_array) else {
        return Err("failed to decode keys: no \"keys\" array".to_string());
    };
    Ok(entries.iter().filter_map(jwk_key).collect())
}

/// One JWKS entry as a verification key, if it is a usable public key.
fn jwk_key(entry: &Value) -> Option<PublicKey> {
    let jwk: Jwk = serde_json::from_value(entry.clone()).ok()?;
    let kind = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => KeyKind::Rsa,
        AlgorithmParameters::EllipticCurve(p) => match p.curve {
            EllipticCurve::P256 => KeyKind::EcP256,
            EllipticCurve::P384 => KeyKind::EcP384,
            _ => return None,
        },
        AlgorithmParameters::OctetKeyPair(p) if p.curve == EllipticCurve::Ed25519 => KeyKind::Ed25519,
        // Symmetric keys would let anyone holding the JWKS mint tokens: never used.
        _ => return None,
    };
    let alg = match jwk.common.key_algorithm {
        Some(a) => Some(a.to_string().parse::<Algorithm>().ok()?),
        None => None,
    };
    let key = DecodingKey::from_jwk(&jwk).ok()?;
    Some(PublicKey {
        key,
        kind,
        kid: jwk.common.key_id.clone(),
        alg,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_pem_kinds() {
        let rsa = parse_pem(include_str!("testdata/rsa1.pub")).expect("rsa");
        assert_eq!(rsa.kind, KeyKind::Rsa);
        let ec = parse_pem(include_str!("testdata/ec256.pub")).expect("ec");
        assert_eq!(ec.kind, KeyKind::Ec);
        assert_eq!(parse_pem("not a pem").unwrap_err(), NO_PEM_KEY);
        // A private key is not a public key.
        assert!(parse_pem(include_str!("testdata/rsa1.key")).is_err());
        assert_eq!(
            parse_pem(include_str!("testdata/rsa1.crt"))
                .expect("rsa cert")
                .kind,
            KeyKind::Rsa
        );
        assert_eq!(
            parse_pem(include_str!("testdata/ec256.crt"))
                .expect("ec cert")
                .kind,
            KeyKind::Ec
        );
    }

    #[test]
    fn keys_jwks_skips_unusable_entries() {
        let keys = parse_jwks(include_str!("testdata/jwks.json")).expect("jwks");
        let kids: Vec<_> = keys.iter().map(|k| k.kid.as_deref().unwrap_or("")).collect();
        assert_eq!(kids, vec!["rsa1", "ec1"]);
        assert_eq!(keys[0].alg, Some(Algorithm::RS256));
        assert_eq!(keys[1].kind, KeyKind::EcP256);
        assert!(parse_jwks("[]").is_err());
        assert!(parse_jwks("{").is_err());
    }
}
