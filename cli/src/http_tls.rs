//! The CLI's TLS client config, as Consul's Go `api.SetupTLSConfig` builds it from
//! `-ca-file`/`CONSUL_CACERT`, `-ca-path`/`CONSUL_CAPATH`, `-client-cert`/`-client-key`
//! (`CONSUL_CLIENT_CERT`/`CONSUL_CLIENT_KEY`), `-tls-server-name`/`CONSUL_TLS_SERVER_NAME`
//! and `CONSUL_HTTP_SSL_VERIFY=false`: rustls on ring, the system's CAs when none is given.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

/// The TLS settings of one CLI invocation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct TlsSettings {
    pub(crate) ca_file: String,
    pub(crate) ca_path: String,
    pub(crate) client_cert: String,
    pub(crate) client_key: String,
    /// The name the server's certificate must carry (default: the address's host).
    pub(crate) server_name: String,
    /// `CONSUL_HTTP_SSL_VERIFY=false`: no certificate check at all.
    pub(crate) insecure: bool,
}

/// A built client config; equal when it is the same one (the CLI compares configs in
/// its tests only).
#[derive(Debug, Clone)]
pub(crate) struct TlsClient(pub(crate) Arc<ClientConfig>);

impl PartialEq for TlsClient {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for TlsClient {}

fn pem_file(path: &str) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("open {path}: {}", super::http::go_io_error(&e)))
}

fn certs(path: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let pem = pem_file(path)?;
    let certs: Vec<_> = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{path}: {e}"))?;
    if certs.is_empty() {
        return Err(format!("{path}: no certificate found"));
    }
    Ok(certs)
}

fn roots(s: &TlsSettings) -> Result<RootCertStore, String> {
    let mut store = RootCertStore::empty();
    let mut files = Vec::new();
    if !s.ca_file.is_empty() {
        files.push(s.ca_file.clone());
    }
    if !s.ca_path.is_empty() {
        let dir = std::fs::read_dir(&s.ca_path).map_err(|e| {
            format!(
                "Error loading CA Path: open {}: {}",
                s.ca_path,
                super::http::go_io_error(&e)
            )
        })?;
        let mut found: Vec<String> = dir
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .map(|p| p.to_string_lossy().into_owned())
            .collect();
        found.sort();
        files.extend(found);
    }
    if files.is_empty() {
        // Go's default: the system's trust store.
        let native = rustls_native_certs::load_native_certs();
        for cert in native.certs {
            let _ = store.add(cert);
        }
        return Ok(store);
    }
    for file in files {
        let pem = pem_file(&file)?;
        for cert in CertificateDer::pem_slice_iter(&pem).filter_map(Result::ok) {
            store
                .add(cert)
                .map_err(|e| format!("Error loading CA File: {file}: {e}"))?;
        }
    }
    if store.is_empty() {
        return Err("Error loading CA File: no CA certificate found".into());
    }
    Ok(store)
}

/// Builds the config `s` describes; errors read like the Go client's.
pub(crate) fn client_config(s: &TlsSettings) -> Result<TlsClient, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    let verifier: Arc<dyn ServerCertVerifier> = if s.insecure {
        Arc::new(Unchecked(provider))
    } else {
        let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots(s)?), provider)
            .build()
            .map_err(|e| e.to_string())?;
        if s.server_name.is_empty() {
            webpki
        } else {
            let name = ServerName::try_from(s.server_name.clone())
                .map_err(|_| format!("invalid TLS server name {:?}", s.server_name))?;
            Arc::new(Named { webpki, name })
        }
    };
    let builder = builder.dangerous().with_custom_certificate_verifier(verifier);
    let config = if !s.client_cert.is_empty() && !s.client_key.is_empty() {
        let key = PrivateKeyDer::from_pem_slice(&pem_file(&s.client_key)?).map_err(|e| {
            format!(
                "tls: failed to find any PEM data in key input: {}: {e}",
                s.client_key
            )
        })?;
        builder
            .with_client_auth_cert(certs(&s.client_cert)?, key)
            .map_err(|e| e.to_string())?
    } else {
        builder.with_no_client_auth()
    };
    Ok(TlsClient(Arc::new(config)))
}

/// `-tls-server-name`: the usual checks, against that name instead of the address's.
#[derive(Debug)]
struct Named {
    webpki: Arc<WebPkiServerVerifier>,
    name: ServerName<'static>,
}

impl ServerCertVerifier for Named {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _dialled: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.webpki
            .verify_server_cert(end_entity, intermediates, &self.name, ocsp, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}

/// `CONSUL_HTTP_SSL_VERIFY=false` (Go's `InsecureSkipVerify`): any certificate is
/// accepted; the handshake's signatures are still checked.
#[derive(Debug)]
struct Unchecked(Arc<CryptoProvider>);

impl ServerCertVerifier for Unchecked {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _dialled: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
