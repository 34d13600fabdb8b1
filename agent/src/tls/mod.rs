//! TLS for the HTTPS listener and the server port, built from `AgentConfig::tls` as
//! Consul's tlsutil `Configurator` does: the files are read here (`files.rs`), versions and
//! cipher suites mapped to rustls (`suites.rs`), peers' server-port certificates checked by
//! `verify.rs`. The listeners get ready rustls configs in small holders
//! ([`HttpsTls`], [`RpcTls`]); [`Configurator::reload`] reads the same files again and
//! swaps the configs, so connections made afterwards use the new certificates.

mod files;
mod suites;
mod verify;

use std::path::PathBuf;
use std::sync::Arc;

use rconsul_http_api::server::HttpsTls;
use rconsul_raft::tls::{OutgoingTls, RpcTls, RpcTlsConfig};
use rustls::pki_types::ServerName;
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, ServerConfig};

use crate::config::{AgentConfig, TlsProtocolConfig, TlsVersion};

/// Why a TLS config could not be built (at start: the agent exits; on reload: the
/// configs in force stay).
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read.
    #[error("reading {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A file holds no usable PEM certificate or key.
    #[error("{}: {why}", path.display())]
    Pem {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        why: String,
    },
    /// `ca_file`/`ca_path` gave no certificate.
    #[error("no CA certificate found in ca_file or ca_path")]
    NoCa,
    /// `tls_min_version` below 1.2.
    #[error("tls_min_version {} is not supported by rconsul: it speaks TLS 1.2 and 1.3 only (use TLSv1_2 or TLSv1_3)", .0.name())]
    Version(TlsVersion),
    /// A Consul cipher suite rustls does not implement.
    #[error("tls_cipher_suites: {0} is not supported by rconsul (rustls implements no CBC suite)")]
    CipherSuite(String),
    /// `ports.https` without a certificate.
    #[error("HTTPS (ports.https) requires cert_file and key_file (tls.defaults or tls.https)")]
    HttpsNeedsCert,
    /// The datacenter and domain make no valid host name.
    #[error("invalid TLS server name {0:?}")]
    ServerName(String),
    /// rustls refused the settings (e.g. a key that does not match its certificate).
    #[error("{0}")]
    Rustls(#[from] rustls::Error),
    /// The client certificate verifier could not be built.
    #[error("client certificate verification: {0}")]
    Verifier(String),
}

/// A listener's config: `p`'s certificate, versions and suites, and with
/// `verify_incoming` a client certificate signed by one of `p`'s CAs required.
fn server_config(
    p: &TlsProtocolConfig,
    cert: files::CertAndKey,
    alpn: &[&[u8]],
) -> Result<ServerConfig, TlsError> {
    let provider = suites::provider(&p.cipher_suites)?;
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(suites::versions(p.min_version)?)?;
    let builder = if p.verify_incoming {
        let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(files::roots(p)?), provider)
            .build()
            .map_err(|e| TlsError::Verifier(e.to_string()))?;
        builder.with_client_cert_verifier(verifier)
    } else {
        builder.with_no_client_auth()
    };
    let (chain, key) = cert;
    let mut config = builder.with_single_cert(chain, key)?;
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(config)
}

/// The HTTPS listener's config (`tls.https`); a certificate is required.
pub fn https_config(p: &TlsProtocolConfig) -> Result<ServerConfig, TlsError> {
    let cert = files::cert_and_key(p)?.ok_or(TlsError::HttpsNeedsCert)?;
    // hyper serves HTTP/1.1 only.
    server_config(p, cert, &[b"http/1.1"])
}

/// The server port's settings (`tls.internal_rpc`): TLS accepted when a certificate is
/// configured, plain refused with `verify_incoming`, TLS spoken with `verify_outgoing`,
/// and with `verify_incoming` + `verify_server_hostname` raft RPCs only from
/// certificates for `server.<datacenter>.<domain>`.
pub fn rpc_config(p: &TlsProtocolConfig, datacenter: &str, domain: &str) -> Result<RpcTlsConfig, TlsError> {
    let acceptor = match files::cert_and_key(p)? {
        Some(cert) => Some(Arc::new(server_config(p, cert, &[])?)),
        None => None,
    };
    let outgoing = if p.verify_outgoing {
        Some(outgoing(p, datacenter, domain)?)
    } else {
        None
    };
    let raft_peer_name = if p.verify_incoming && p.verify_server_hostname {
        Some(role_name("server", datacenter, domain)?)
    } else {
        None
    };
    Ok(RpcTlsConfig {
        acceptor,
        refuse_plain: p.verify_incoming,
        outgoing,
        raft_peer_name,
    })
}

/// `server.<dc>.<domain>` (or `client.`), the name Consul's certificates carry.
fn role_name(role: &str, datacenter: &str, domain: &str) -> Result<ServerName<'static>, TlsError> {
    let name = format!("{role}.{datacenter}.{}", domain.trim_end_matches('.'));
    ServerName::try_from(name.clone()).map_err(|_| TlsError::ServerName(name))
}

/// Outgoing connections: the CA check, `verify_server_hostname`'s names, and
/// `cert_file`/`key_file` presented as the client certificate.
fn outgoing(p: &TlsProtocolConfig, datacenter: &str, domain: &str) -> Result<OutgoingTls, TlsError> {
    let provider = suites::provider(&p.cipher_suites)?;
    let versions = suites::versions(p.min_version)?;
    let roots = Arc::new(files::roots(p)?);
    let server = role_name("server", datacenter, domain)?;
    let (server_names, client_names) = if p.verify_server_hostname {
        let client = role_name("client", datacenter, domain)?;
        (vec![server.clone()], vec![client, server.clone()])
    } else {
        (Vec::new(), Vec::new())
    };
    let cert = files::cert_and_key(p)?;
    let build = |names: Vec<ServerName<'static>>| -> Result<Arc<ClientConfig>, TlsError> {
        let verifier = Arc::new(verify::RpcServerVerifier::new(
            roots.clone(),
            names,
            provider.clone(),
        ));
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(versions)?
            .dangerous()
            .with_custom_certificate_verifier(verifier);
        Ok(Arc::new(match &cert {
            Some((chain, key)) => builder.with_client_auth_cert(chain.clone(), key.clone_key())?,
            None => builder.with_no_client_auth(),
        }))
    };
    Ok(OutgoingTls {
        to_server: build(server_names)?,
        to_client: build(client_names)?,
        server_name: server,
    })
}

/// The TLS configs an agent runs with, and what it needs to build them again.
pub struct Configurator {
    https_settings: TlsProtocolConfig,
    rpc_settings: TlsProtocolConfig,
    datacenter: String,
    domain: String,
    /// The HTTPS listener's config, when `ports.https` is enabled.
    pub https: Option<Arc<HttpsTls>>,
    /// The server port's settings (plain when nothing is configured).
    pub rpc: Arc<RpcTls>,
}

impl Configurator {
    /// Reads the files `cfg`'s TLS settings name; errors stop the agent's start.
    pub fn new(cfg: &AgentConfig) -> Result<Self, TlsError> {
        let https = if cfg.ports.https > 0 {
            Some(Arc::new(HttpsTls::new(Arc::new(https_config(&cfg.tls.https)?))))
        } else {
            None
        };
        let rpc = Arc::new(RpcTls::new(rpc_config(
            &cfg.tls.internal_rpc,
            &cfg.datacenter,
            &cfg.domain,
        )?));
        Ok(Configurator {
            https_settings: cfg.tls.https.clone(),
            rpc_settings: cfg.tls.internal_rpc.clone(),
            datacenter: cfg.datacenter.clone(),
            domain: cfg.domain.clone(),
            https,
            rpc,
        })
    }

    /// Reads the certificate, key and CA files again and swaps the configs; all or
    /// nothing: on an error the configs in force stay. (Which files and the `verify_*`
    /// settings are the ones the agent started with.)
    pub fn reload(&self) -> Result<(), TlsError> {
        let https = match &self.https {
            Some(_) => Some(Arc::new(https_config(&self.https_settings)?)),
            None => None,
        };
        let rpc = rpc_config(&self.rpc_settings, &self.datacenter, &self.domain)?;
        if let (Some(holder), Some(config)) = (&self.https, https) {
            holder.replace(config);
        }
        self.rpc.replace(rpc);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    use rustls::client::danger::ServerCertVerifier;
    use rustls::pki_types::{CertificateDer, UnixTime};

    /// A CA and a leaf it signed for `names`, as PEM files in `dir` (`ca.pem`,
    /// `<leaf>.pem`, `<leaf>-key.pem`).
    fn pki(dir: &std::path::Path, ca_name: &str, leaf: &str, names: &[&str]) {
        let ca_key = KeyPair::generate().expect("key");
        let mut params = CertificateParams::new(Vec::new()).expect("params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = params.self_signed(&ca_key).expect("ca");
        let leaf_key = KeyPair::generate().expect("key");
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let cert = CertificateParams::new(names)
            .expect("params")
            .signed_by(&leaf_key, &ca, &ca_key)
            .expect("leaf");
        std::fs::write(dir.join(ca_name), ca.pem()).expect("write");
        std::fs::write(dir.join(format!("{leaf}.pem")), cert.pem()).expect("write");
        std::fs::write(dir.join(format!("{leaf}-key.pem")), leaf_key.serialize_pem()).expect("write");
    }

    fn settings(dir: &std::path::Path, leaf: &str) -> TlsProtocolConfig {
        TlsProtocolConfig {
            ca_file: Some(dir.join("ca.pem")),
            cert_file: Some(dir.join(format!("{leaf}.pem"))),
            key_file: Some(dir.join(format!("{leaf}-key.pem"))),
            ..Default::default()
        }
    }

    #[test]
    fn https_needs_a_certificate_and_refuses_old_versions_and_bad_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        pki(dir.path(), "ca.pem", "s", &["server.dc1.consul"]);
        assert!(matches!(
            https_config(&TlsProtocolConfig::default()),
            Err(TlsError::HttpsNeedsCert)
        ));
        let mut p = settings(dir.path(), "s");
        assert!(https_config(&p).is_ok());
        p.verify_incoming = true;
        assert!(https_config(&p).is_ok());
        p.min_version = TlsVersion::V1_1;
        assert!(matches!(
            https_config(&p),
            Err(TlsError::Version(TlsVersion::V1_1))
        ));
        p.min_version = TlsVersion::V1_3;
        p.cipher_suites = vec!["TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA".into()];
        assert!(matches!(https_config(&p), Err(TlsError::CipherSuite(_))));
        // A key that is not the certificate's.
        pki(dir.path(), "other-ca.pem", "o", &["x"]);
        let mut p = settings(dir.path(), "s");
        p.key_file = Some(dir.path().join("o-key.pem"));
        assert!(
            matches!(https_config(&p), Err(TlsError::Rustls(_))),
            "mismatched key accepted"
        );
        p.cert_file = Some(dir.path().join("missing.pem"));
        let err = https_config(&p).unwrap_err().to_string();
        assert!(
            err.starts_with("reading ") && err.contains("missing.pem"),
            "{err}"
        );
        p.cert_file = Some(dir.path().join("o-key.pem"));
        assert!(https_config(&p)
            .unwrap_err()
            .to_string()
            .contains("no certificate found"));
    }

    #[test]
    fn server_port_settings_follow_the_verify_flags() {
        let dir = tempfile::tempdir().expect("tempdir");
        pki(dir.path(), "ca.pem", "s", &["server.dc1.consul"]);
        let plain = rpc_config(&TlsProtocolConfig::default(), "dc1", "consul.").expect("plain");
        assert!(plain.acceptor.is_none() && plain.outgoing.is_none() && !plain.refuse_plain);
        let mut p = settings(dir.path(), "s");
        let offered = rpc_config(&p, "dc1", "consul.").expect("cert only");
        assert!(offered.acceptor.is_some() && offered.outgoing.is_none() && !offered.refuse_plain);
        p.verify_incoming = true;
        p.verify_outgoing = true;
        p.verify_server_hostname = true;
        let strict = rpc_config(&p, "dc1", "consul.").expect("strict");
        assert!(strict.refuse_plain);
        let out = strict.outgoing.expect("outgoing");
        assert_eq!(out.server_name.to_str(), "server.dc1.consul");
        assert_eq!(
            strict.raft_peer_name.map(|n| n.to_str().into_owned()).as_deref(),
            Some("server.dc1.consul")
        );
    }

    #[test]
    fn server_certificates_must_chain_to_the_ca_and_name_the_expected_host() {
        let dir = tempfile::tempdir().expect("tempdir");
        pki(dir.path(), "ca.pem", "dc1", &["server.dc1.consul", "localhost"]);
        pki(dir.path(), "dc2-ca.pem", "dc2", &["server.dc2.consul"]);
        let p = settings(dir.path(), "dc1");
        let roots = Arc::new(files::roots(&p).expect("roots"));
        let provider = suites::provider(&[]).expect("provider");
        let leaf =
            |name: &str| files::certs(&dir.path().join(format!("{name}.pem"))).expect("certs")[0].clone();
        let verify = |names: Vec<&str>, cert: CertificateDer<'static>| {
            let names = names
                .into_iter()
                .map(|n| ServerName::try_from(n.to_string()).expect("name"))
                .collect();
            verify::RpcServerVerifier::new(roots.clone(), names, provider.clone())
                .verify_server_cert(
                    &cert,
                    &[],
                    &ServerName::try_from("127.0.0.1").expect("ip"),
                    &[],
                    UnixTime::now(),
                )
                .is_ok()
        };
        assert!(verify(vec!["server.dc1.consul"], leaf("dc1")), "dc1's own name");
        assert!(verify(vec![], leaf("dc1")), "no hostname check: chain only");
        assert!(
            !verify(vec!["server.dc2.consul"], leaf("dc1")),
            "another datacenter's name"
        );
        assert!(
            verify(vec!["client.dc1.consul", "server.dc1.consul"], leaf("dc1")),
            "any of the names"
        );
        assert!(!verify(vec![], leaf("dc2")), "a certificate from another CA");
    }
}
