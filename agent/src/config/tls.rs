//! TLS settings, as Consul 1.12+ reads them: the `tls { defaults, internal_rpc, https, grpc }`
//! block, and the older top-level keys (`ca_file`, `cert_file`, `key_file`, `ca_path`,
//! `verify_incoming`, `verify_incoming_rpc`, `verify_incoming_https`, `verify_outgoing`,
//! `verify_server_hostname`, `tls_min_version`, `tls_cipher_suites`,
//! `tls_prefer_server_cipher_suites`), which map to `tls.defaults` (the `_rpc`/`_https`
//! variants and `verify_server_hostname` to their protocol's block). A key in the `tls`
//! block wins over its older spelling; a protocol's block wins over `defaults`.

use std::path::PathBuf;

use serde_json::{Map, Value};

use super::file::{bool_val, str_val};

/// The keys one `tls` sub-block (or the top level) may set; `None`: not given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct PartialTlsProtocol {
    pub(super) ca_file: Option<String>,
    pub(super) ca_path: Option<String>,
    pub(super) cert_file: Option<String>,
    pub(super) key_file: Option<String>,
    pub(super) tls_min_version: Option<String>,
    pub(super) tls_cipher_suites: Option<String>,
    pub(super) verify_incoming: Option<bool>,
    pub(super) verify_outgoing: Option<bool>,
    pub(super) verify_server_hostname: Option<bool>,
}

impl PartialTlsProtocol {
    fn merge(&mut self, other: PartialTlsProtocol) {
        macro_rules! take {
            ($($f:ident),*) => {$(
                if other.$f.is_some() {
                    self.$f = other.$f;
                }
            )*};
        }
        take!(
            ca_file,
            ca_path,
            cert_file,
            key_file,
            tls_min_version,
            tls_cipher_suites,
            verify_incoming,
            verify_outgoing,
            verify_server_hostname
        );
    }

    /// `self`, with what it leaves unset taken from `fallback`.
    fn or(&self, fallback: &PartialTlsProtocol) -> PartialTlsProtocol {
        let mut out = fallback.clone();
        out.merge(self.clone());
        out
    }
}

/// Every TLS key the config sources gave, before defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct PartialTls {
    /// `tls.defaults`.
    pub(super) defaults: PartialTlsProtocol,
    /// `tls.internal_rpc`.
    pub(super) internal_rpc: PartialTlsProtocol,
    /// `tls.https`.
    pub(super) https: PartialTlsProtocol,
    /// `tls.grpc`.
    pub(super) grpc: PartialTlsProtocol,
    /// The top-level keys that mean `tls.defaults.*`.
    pub(super) legacy: PartialTlsProtocol,
    /// `verify_incoming_rpc`, `verify_server_hostname` (top level).
    pub(super) legacy_rpc: PartialTlsProtocol,
    /// `verify_incoming_https` (top level).
    pub(super) legacy_https: PartialTlsProtocol,
    /// `auto_encrypt` was given with a setting.
    pub(super) auto_encrypt: bool,
}

impl PartialTls {
    pub(super) fn merge(&mut self, other: PartialTls) {
        self.defaults.merge(other.defaults);
        self.internal_rpc.merge(other.internal_rpc);
        self.https.merge(other.https);
        self.grpc.merge(other.grpc);
        self.legacy.merge(other.legacy);
        self.legacy_rpc.merge(other.legacy_rpc);
        self.legacy_https.merge(other.legacy_https);
        self.auto_encrypt |= other.auto_encrypt;
    }
}

/// A TLS protocol version floor (`tls_min_version`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum TlsVersion {
    /// `TLSv1_0` / `tls10` (rustls speaks 1.2 and 1.3 only: a listener or connection
    /// that would use it refuses to start, see `agent/src/tls/suites.rs`).
    V1_0,
    /// `TLSv1_1` / `tls11` (refused likewise).
    V1_1,
    /// `TLSv1_2` / `tls12`, and `TLS_AUTO` (Consul's default).
    #[default]
    V1_2,
    /// `TLSv1_3` / `tls13`.
    V1_3,
}

impl TlsVersion {
    /// Consul's current spelling.
    pub fn name(self) -> &'static str {
        match self {
            TlsVersion::V1_0 => "TLSv1_0",
            TlsVersion::V1_1 => "TLSv1_1",
            TlsVersion::V1_2 => "TLSv1_2",
            TlsVersion::V1_3 => "TLSv1_3",
        }
    }

    /// Reads Consul's spellings: `TLSv1_0`..`TLSv1_3`, `TLS_AUTO`, and the older
    /// `tls10`..`tls13`; the error is Consul's.
    pub fn parse(s: &str) -> Result<TlsVersion, String> {
        match s {
            "TLSv1_0" | "tls10" => Ok(TlsVersion::V1_0),
            "TLSv1_1" | "tls11" => Ok(TlsVersion::V1_1),
            "TLSv1_2" | "tls12" | "TLS_AUTO" | "" => Ok(TlsVersion::V1_2),
            "TLSv1_3" | "tls13" => Ok(TlsVersion::V1_3),
            _ => Err(format!(
                "no matching TLS version found for {s}, please specify one of [TLS_AUTO, TLSv1_0, TLSv1_1, TLSv1_2, TLSv1_3]"
            )),
        }
    }
}

/// The cipher suites Consul's agent accepts in `tls_cipher_suites` (TLS 1.2 suites; TLS
/// 1.3's are not configurable, as in Go).
pub const CONSUL_CIPHER_SUITES: [&str; 10] = [
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
];

/// One protocol's resolved TLS settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsProtocolConfig {
    /// `ca_file`: PEM bundle of CAs that sign peers' certificates.
    pub ca_file: Option<PathBuf>,
    /// `ca_path`: a directory of PEM CA files.
    pub ca_path: Option<PathBuf>,
    /// `cert_file`: this agent's certificate chain (PEM).
    pub cert_file: Option<PathBuf>,
    /// `key_file`: its private key (PEM).
    pub key_file: Option<PathBuf>,
    /// `tls_min_version` (default TLS 1.2).
    pub min_version: TlsVersion,
    /// `tls_cipher_suites`, validated Consul names, in order (empty: the defaults).
    pub cipher_suites: Vec<String>,
    /// `verify_incoming`: require and verify a client certificate.
    pub verify_incoming: bool,
    /// `verify_outgoing`: speak TLS to servers and verify their certificates.
    pub verify_outgoing: bool,
    /// `verify_server_hostname` (internal RPC only): the peer's certificate must be for
    /// `server.<datacenter>.<domain>`.
    pub verify_server_hostname: bool,
}

impl TlsProtocolConfig {
    /// A certificate and key are configured.
    pub fn has_cert(&self) -> bool {
        self.cert_file.is_some() && self.key_file.is_some()
    }

    /// A CA file or directory is configured.
    pub fn has_ca(&self) -> bool {
        self.ca_file.is_some() || self.ca_path.is_some()
    }
}

/// The resolved `tls` settings per protocol.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsConfig {
    /// Server RPC (port 8300): raft and forwarding.
    pub internal_rpc: TlsProtocolConfig,
    /// The HTTPS listener (`ports.https`).
    pub https: TlsProtocolConfig,
    /// gRPC (accepted; rconsul serves no gRPC).
    pub grpc: TlsProtocolConfig,
}

/// Decodes a top-level TLS key into `t`; returns false for a key that is not one.
pub(super) fn decode_top_level(key: &str, v: &Value, t: &mut PartialTls) -> Result<bool, String> {
    match key {
        "verify_incoming_rpc" => {
            t.legacy_rpc.verify_incoming = bool_val(key, v)?.or(t.legacy_rpc.verify_incoming)
        }
        "verify_incoming_https" => {
            t.legacy_https.verify_incoming = bool_val(key, v)?.or(t.legacy_https.verify_incoming)
        }
        "verify_server_hostname" => {
            t.legacy_rpc.verify_server_hostname = bool_val(key, v)?.or(t.legacy_rpc.verify_server_hostname)
        }
        // Deprecated in Go (its server ciphers are always preferred); type-checked only.
        "tls_prefer_server_cipher_suites" => {
            bool_val(key, v)?;
        }
        _ => return decode_protocol_key(key, key, v, &mut t.legacy, false),
    }
    Ok(true)
}

/// Decodes the `tls` block.
pub(super) fn decode_block(
    key: &str,
    v: &Value,
    t: &mut PartialTls,
    unknown: &mut Vec<String>,
) -> Result<(), String> {
    let Some(m) = object(key, v)? else {
        return Ok(());
    };
    for (sub, v) in m {
        let k = format!("{key}.{sub}");
        let (slot, rpc) = match sub.as_str() {
            "defaults" => (&mut t.defaults, false),
            "internal_rpc" => (&mut t.internal_rpc, true),
            "https" => (&mut t.https, false),
            "grpc" => (&mut t.grpc, false),
            _ => {
                unknown.push(k);
                continue;
            }
        };
        let Some(fields) = object(&k, v)? else {
            continue;
        };
        for (name, v) in fields {
            let fk = format!("{k}.{name}");
            // grpc's use_auto_cert (auto-encrypt only): type-checked.
            if sub == "grpc" && name == "use_auto_cert" {
                bool_val(&fk, v)?;
                continue;
            }
            if !decode_protocol_key(name, &fk, v, slot, rpc)? {
                unknown.push(fk);
            }
        }
    }
    Ok(())
}

/// Records that `auto_encrypt` was given (type-checked; rconsul does not distribute
/// certificates).
pub(super) fn decode_auto_encrypt(key: &str, v: &Value, t: &mut PartialTls) -> Result<(), String> {
    if let Some(m) = object(key, v)? {
        for (sub, v) in m {
            let k = format!("{key}.{sub}");
            if matches!(sub.as_str(), "tls" | "allow_tls") && bool_val(&k, v)? == Some(true) {
                t.auto_encrypt = true;
            }
        }
    }
    Ok(())
}

fn decode_protocol_key(
    name: &str,
    key: &str,
    v: &Value,
    p: &mut PartialTlsProtocol,
    rpc: bool,
) -> Result<bool, String> {
    match name {
        "ca_file" => set(&mut p.ca_file, str_val(key, v)?),
        "ca_path" => set(&mut p.ca_path, str_val(key, v)?),
        "cert_file" => set(&mut p.cert_file, str_val(key, v)?),
        "key_file" => set(&mut p.key_file, str_val(key, v)?),
        "tls_min_version" => set(&mut p.tls_min_version, str_val(key, v)?),
        "tls_cipher_suites" => set(&mut p.tls_cipher_suites, str_val(key, v)?),
        "verify_incoming" => set(&mut p.verify_incoming, bool_val(key, v)?),
        "verify_outgoing" => set(&mut p.verify_outgoing, bool_val(key, v)?),
        "verify_server_hostname" if rpc => set(&mut p.verify_server_hostname, bool_val(key, v)?),
        _ => return Ok(false),
    }
    Ok(true)
}

/// Applies the precedence rules and Consul's checks.
pub(super) fn resolve(t: &PartialTls) -> Result<TlsConfig, String> {
    let defaults = t.defaults.or(&t.legacy);
    let rpc = t.internal_rpc.or(&t.legacy_rpc.or(&defaults));
    let https = t.https.or(&t.legacy_https.or(&defaults));
    let grpc = t.grpc.or(&defaults);
    Ok(TlsConfig {
        internal_rpc: resolve_protocol(&rpc, true)?,
        https: resolve_protocol(&https, false)?,
        grpc: resolve_protocol(&grpc, false)?,
    })
}

fn resolve_protocol(p: &PartialTlsProtocol, rpc: bool) -> Result<TlsProtocolConfig, String> {
    let path = |s: &Option<String>| s.as_deref().filter(|s| !s.is_empty()).map(PathBuf::from);
    let min_version = TlsVersion::parse(p.tls_min_version.as_deref().unwrap_or(""))?;
    let mut cipher_suites = Vec::new();
    let mut unmatched = Vec::new();
    for c in p
        .tls_cipher_suites
        .as_deref()
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|c| !c.is_empty())
    {
        if CONSUL_CIPHER_SUITES.contains(&c) {
            cipher_suites.push(c.to_string());
        } else {
            unmatched.push(c);
        }
    }
    if !unmatched.is_empty() {
        return Err(format!(
            "no matching Consul Agent TLS cipher suite found for {}",
            unmatched.join(",")
        ));
    }
    let out = TlsProtocolConfig {
        ca_file: path(&p.ca_file),
        ca_path: path(&p.ca_path),
        cert_file: path(&p.cert_file),
        key_file: path(&p.key_file),
        min_version,
        cipher_suites,
        verify_incoming: p.verify_incoming.unwrap_or(false),
        verify_outgoing: p.verify_outgoing.unwrap_or(false),
        verify_server_hostname: rpc && p.verify_server_hostname.unwrap_or(false),
    };
    // tlsutil's checks, in its words.
    if out.verify_outgoing && !out.has_ca() {
        return Err("VerifyOutgoing set, and no CA certificate provided!".into());
    }
    if out.verify_incoming {
        if !out.has_ca() {
            return Err("VerifyIncoming set but no CA certificates were provided".into());
        }
        if !out.has_cert() {
            return Err(
                "VerifyIncoming requires either a Cert and Key pair in the configuration file, or auto_encrypt/auto_config be enabled"
                    .into(),
            );
        }
    }
    Ok(out)
}

fn set<T>(slot: &mut Option<T>, value: Option<T>) {
    if value.is_some() {
        *slot = value;
    }
}

/// A block; an HCL block written once per file may come as a one-element list.
fn object<'v>(key: &str, v: &'v Value) -> Result<Option<&'v Map<String, Value>>, String> {
    match v {
        Value::Array(a) if a.len() == 1 => object(key, &a[0]),
        _ => super::file::object_val(key, v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn decode(v: Value) -> Result<TlsConfig, String> {
        let mut t = PartialTls::default();
        let mut unknown = Vec::new();
        for (k, v) in v.as_object().expect("object") {
            match k.as_str() {
                "tls" => decode_block(k, v, &mut t, &mut unknown)?,
                "auto_encrypt" => decode_auto_encrypt(k, v, &mut t)?,
                _ => assert!(decode_top_level(k, v, &mut t)?, "{k}"),
            }
        }
        assert!(unknown.is_empty(), "{unknown:?}");
        resolve(&t)
    }

    #[test]
    fn old_keys_map_to_defaults_and_their_protocol() {
        let c = decode(json!({
            "ca_file": "ca.pem", "cert_file": "c.pem", "key_file": "k.pem",
            "verify_incoming_rpc": true, "verify_outgoing": true, "verify_server_hostname": true,
            "tls_min_version": "tls13", "tls_cipher_suites": "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
            "tls_prefer_server_cipher_suites": true,
        }))
        .expect("valid");
        assert!(c.internal_rpc.verify_incoming && !c.https.verify_incoming);
        assert!(c.internal_rpc.verify_server_hostname && !c.https.verify_server_hostname);
        assert!(c.https.verify_outgoing);
        assert_eq!(c.https.min_version, TlsVersion::V1_3);
        assert_eq!(c.https.cert_file, Some(PathBuf::from("c.pem")));
        assert_eq!(
            c.internal_rpc.cipher_suites,
            ["TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"]
        );
    }

    #[test]
    fn tls_block_wins_and_protocol_blocks_override_defaults() {
        let c = decode(json!({
            "verify_incoming": true, "ca_file": "old.pem", "cert_file": "c.pem", "key_file": "k.pem",
            "tls": {
                "defaults": {"ca_file": "new.pem", "tls_min_version": "TLSv1_2"},
                "https": {"verify_incoming": false},
                "internal_rpc": {"verify_server_hostname": true, "tls_min_version": "TLSv1_3"},
                "grpc": {"use_auto_cert": false},
            }
        }))
        .expect("valid");
        assert_eq!(c.https.ca_file, Some(PathBuf::from("new.pem")));
        assert!(!c.https.verify_incoming && c.internal_rpc.verify_incoming);
        assert_eq!(
            (c.https.min_version, c.internal_rpc.min_version),
            (TlsVersion::V1_2, TlsVersion::V1_3)
        );
        assert!(c.internal_rpc.verify_server_hostname);
    }

    #[test]
    fn errors_in_consuls_words() {
        assert_eq!(
            decode(json!({"tls_min_version": "tls9"})).unwrap_err(),
            "no matching TLS version found for tls9, please specify one of [TLS_AUTO, TLSv1_0, TLSv1_1, TLSv1_2, TLSv1_3]"
        );
        assert_eq!(
            decode(json!({"tls_cipher_suites": "TLS_RSA_WITH_AES_128_CBC_SHA,TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"}))
                .unwrap_err(),
            "no matching Consul Agent TLS cipher suite found for TLS_RSA_WITH_AES_128_CBC_SHA"
        );
        assert_eq!(
            decode(json!({"verify_outgoing": true})).unwrap_err(),
            "VerifyOutgoing set, and no CA certificate provided!"
        );
        assert_eq!(
            decode(json!({"verify_incoming": true})).unwrap_err(),
            "VerifyIncoming set but no CA certificates were provided"
        );
        assert!(
            decode(json!({"verify_incoming_https": true, "ca_path": "/etc/ca"}))
                .unwrap_err()
                .starts_with("VerifyIncoming requires either a Cert and Key pair")
        );
        let mut t = PartialTls::default();
        let mut unknown = Vec::new();
        decode_block(
            "tls",
            &json!({"https": {"verify_server_hostname": true}, "x": {}}),
            &mut t,
            &mut unknown,
        )
        .expect("decodes");
        assert_eq!(unknown, ["tls.https.verify_server_hostname", "tls.x"]);
    }

    #[test]
    fn nothing_set_is_plain() {
        let c = decode(json!({})).expect("valid");
        assert_eq!(c, TlsConfig::default());
    }
}
