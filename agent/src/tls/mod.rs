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
