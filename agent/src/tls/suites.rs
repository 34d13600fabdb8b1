//! `tls_min_version` and `tls_cipher_suites` as rustls settings: the protocol versions
//! and a ring [`CryptoProvider`] limited to the configured TLS 1.2 suites.

use std::sync::Arc;

use rustls::crypto::ring::{cipher_suite as ring_suite, default_provider};
use rustls::crypto::CryptoProvider;
use rustls::{SupportedCipherSuite, SupportedProtocolVersion};

use super::TlsError;
use crate::config::TlsVersion;

static TLS12_AND_13: [&SupportedProtocolVersion; 2] = [&rustls::version::TLS13, &rustls::version::TLS12];
static TLS13_ONLY: [&SupportedProtocolVersion; 1] = [&rustls::version::TLS13];

/// The versions at or above `min`. TLS 1.0 and 1.1 are refused rather than silently raised
/// to 1.2: rustls speaks only 1.2 and 1.3, and an operator who lowered the floor for old
/// clients should learn at start that those clients will not connect.
pub(super) fn versions(min: TlsVersion) -> Result<&'static [&'static SupportedProtocolVersion], TlsError> {
    match min {
        TlsVersion::V1_0 | TlsVersion::V1_1 => Err(TlsError::Version(min)),
        TlsVersion::V1_2 => Ok(&TLS12_AND_13),
        TlsVersion::V1_3 => Ok(&TLS13_ONLY),
    }
}

/// The ring suite for a Consul (Go) cipher suite name; `None` for the CBC suites Consul
/// accepts and rustls does not implement.
fn suite(name: &str) -> Option<SupportedCipherSuite> {
    Some(match name {
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256" => {
            ring_suite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256
        }
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256" => ring_suite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384" => ring_suite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256" => {
            ring_suite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256
        }
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256" => ring_suite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384" => ring_suite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        _ => return None,
    })
}

/// The ring provider with only `names` as its TLS 1.2 suites, in that order (the TLS 1.3
/// suites stay: as in Go, they are not configurable); every suite when `names` is empty.
pub(super) fn provider(names: &[String]) -> Result<Arc<CryptoProvider>, TlsError> {
    let mut provider = default_provider();
    if !names.is_empty() {
        let mut chosen: Vec<SupportedCipherSuite> = provider
            .cipher_suites
            .iter()
            .copied()
            .filter(|s| matches!(s, SupportedCipherSuite::Tls13(_)))
            .collect();
        for name in names {
            chosen.push(suite(name).ok_or_else(|| TlsError::CipherSuite(name.clone()))?);
        }
        provider.cipher_suites = chosen;
    }
    Ok(Arc::new(provider))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::CONSUL_CIPHER_SUITES;

    #[test]
    fn every_gcm_and_chacha_suite_consul_names_maps_and_cbc_is_refused() {
        for name in CONSUL_CIPHER_SUITES {
            let mapped = suite(name);
            assert_eq!(mapped.is_none(), name.contains("_CBC_"), "{name}");
            if let Some(s) = mapped {
                assert_eq!(format!("{:?}", s.suite()), name);
            }
        }
        let err = provider(&["TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA".into()]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "tls_cipher_suites: TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA is not supported by rconsul (rustls implements no CBC suite)"
        );
    }

    #[test]
    fn configured_suites_keep_their_order_after_the_tls13_ones() {
        let p = provider(&[
            "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384".into(),
            "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256".into(),
        ])
        .expect("valid");
        let names: Vec<String> = p
            .cipher_suites
            .iter()
            .map(|s| format!("{:?}", s.suite()))
            .collect();
        let tls12: Vec<&String> = names.iter().filter(|n| !n.starts_with("TLS13_")).collect();
        assert_eq!(
            tls12,
            [
                "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
                "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"
            ]
        );
        assert_eq!(names.len(), 5, "the three TLS 1.3 suites stay");
        assert_eq!(provider(&[]).expect("defaults").cipher_suites.len(), 9);
    }

    #[test]
    fn versions_floor_and_refusal() {
        assert_eq!(versions(TlsVersion::V1_2).expect("ok").len(), 2);
        assert_eq!(versions(TlsVersion::V1_3).expect("ok"), [&rustls::version::TLS13]);
        assert_eq!(
            versions(TlsVersion::V1_0).unwrap_err().to_string(),
            "tls_min_version TLSv1_0 is not supported by rconsul: it speaks TLS 1.2 and 1.3 only (use TLSv1_2 or TLSv1_3)"
        );
        assert!(versions(TlsVersion::V1_1).is_err());
    }
}
