//! How an agent checks the server-port certificate of the agent it connects to, as
//! Consul's tlsutil does for RPC: the chain must lead to a configured CA; with
//! `verify_server_hostname` the certificate must also name one of the expected hosts
//! (`server.<datacenter>.<domain>`), whatever address was dialled. Without it, the name
//! is not checked (Consul dials servers by IP and checks the chain only).

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{verify_server_cert_signed_by_trust_anchor, verify_server_name};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};

/// Verifies a peer's certificate against `roots` and, when `names` is not empty, that it
/// is valid for one of them.
#[derive(Debug)]
pub(super) struct RpcServerVerifier {
    roots: Arc<RootCertStore>,
    names: Vec<ServerName<'static>>,
    provider: Arc<CryptoProvider>,
}

impl RpcServerVerifier {
    pub(super) fn new(
        roots: Arc<RootCertStore>,
        names: Vec<ServerName<'static>>,
        provider: Arc<CryptoProvider>,
    ) -> Self {
        RpcServerVerifier {
            roots,
            names,
            provider,
        }
    }
}

impl ServerCertVerifier for RpcServerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _dialled: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let cert = ParsedCertificate::try_from(end_entity)?;
        verify_server_cert_signed_by_trust_anchor(
            &cert,
            &self.roots,
            intermediates,
            now,
            self.provider.signature_verification_algorithms.all,
        )?;
        if self.names.is_empty() {
            return Ok(ServerCertVerified::assertion());
        }
        let mut last = None;
        for name in &self.names {
            match verify_server_name(&cert, name) {
                Ok(()) => return Ok(ServerCertVerified::assertion()),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or(rustls::Error::General("no expected name".into())))
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
