//! Reads the PEM files the `tls` settings name: certificate chains, private keys, and
//! the CAs of `ca_file` and every file in `ca_path`.

use std::path::{Path, PathBuf};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::RootCertStore;

use super::TlsError;
use crate::config::TlsProtocolConfig;

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// Every certificate in the PEM file at `path` (at least one).
pub(super) fn certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = read(path)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::Pem {
            path: path.to_path_buf(),
            why: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(TlsError::Pem {
            path: path.to_path_buf(),
            why: "no certificate found".into(),
        });
    }
    Ok(certs)
}

/// The first private key (PKCS#8, SEC1 or PKCS#1) in the PEM file at `path`.
pub(super) fn key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let pem = read(path)?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|e| TlsError::Pem {
        path: path.to_path_buf(),
        why: e.to_string(),
    })
}

/// A certificate chain and its private key.
pub(super) type CertAndKey = (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>);

/// `cert_file`'s chain and `key_file`'s key, or `None` when either is not set.
pub(super) fn cert_and_key(p: &TlsProtocolConfig) -> Result<Option<CertAndKey>, TlsError> {
    match (&p.cert_file, &p.key_file) {
        (Some(cert), Some(key)) => Ok(Some((certs(cert)?, self::key(key)?))),
        _ => Ok(None),
    }
}

/// The CAs of `ca_file` and of the files in `ca_path` (files holding no certificate are
/// skipped, as go-rootcerts does with a directory's other files).
pub(super) fn roots(p: &TlsProtocolConfig) -> Result<RootCertStore, TlsError> {
    let mut store = RootCertStore::empty();
    let mut add = |path: &Path, certs: Vec<CertificateDer<'static>>| -> Result<(), TlsError> {
        for c in certs {
            store.add(c).map_err(|e| TlsError::Pem {
                path: path.to_path_buf(),
                why: format!("not a usable CA certificate: {e}"),
            })?;
        }
        Ok(())
    };
    if let Some(file) = &p.ca_file {
        add(file, certs(file)?)?;
    }
    if let Some(dir) = &p.ca_path {
        let entries = std::fs::read_dir(dir).map_err(|source| TlsError::Read {
            path: dir.clone(),
            source,
        })?;
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        for file in files {
            let pem = read(&file)?;
            let found: Vec<_> = CertificateDer::pem_slice_iter(&pem)
                .filter_map(Result::ok)
                .collect();
            add(&file, found)?;
        }
    }
    if store.is_empty() {
        return Err(TlsError::NoCa);
    }
    Ok(store)
}
