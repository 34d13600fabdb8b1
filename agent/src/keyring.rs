//! The gossip keyring: which keys seal and open gossip packets, and their file
//! `<data-dir>/serf/local.keyring` (Consul's format: a JSON list of base64 keys, the
//! primary first, mode 0600).
//!
//! Consul's rules: `encrypt` given and no keyring file yet writes the file with that key;
//! once the file exists it wins over `encrypt` (with a warning), so keys rotated in later
//! survive restarts; a file alone (no `encrypt`) still turns encryption on. Without a data
//! dir, or with `disable_keyring_file`, only `encrypt` counts.

use std::path::{Path, PathBuf};

use anyhow::Context;
use base64::Engine as _;

use crate::config::{decode_gossip_key, AgentConfig};
use crate::durable_file::write_secret_durably;

/// The keyring file under `data_dir`.
pub fn path(data_dir: &Path) -> PathBuf {
    data_dir.join("serf").join("local.keyring")
}

/// The gossip keys this agent uses, primary first; `None` gossips in the clear.
pub fn resolve(cfg: &AgentConfig) -> anyhow::Result<Option<Vec<Vec<u8>>>> {
    let file = cfg
        .data_dir
        .as_deref()
        .filter(|_| !cfg.dev && !cfg.disable_keyring_file)
        .map(path);
    let Some(file) = file else {
        return Ok(cfg.encrypt_key.clone().map(|k| vec![k]));
    };
    if file.exists() {
        if cfg.encrypt_key.is_some() {
            tracing::warn!(target: "agent", "WARNING: LAN keyring exists but -encrypt given, using keyring");
        }
        return load(&file).map(Some);
    }
    let Some(key) = &cfg.encrypt_key else {
        return Ok(None);
    };
    write(&file, std::slice::from_ref(key))?;
    Ok(Some(vec![key.clone()]))
}

/// Reads a keyring file.
pub fn load(file: &Path) -> anyhow::Result<Vec<Vec<u8>>> {
    let what = || format!("Failed to load keyring file {}", file.display());
    let text = std::fs::read(file).with_context(what)?;
    let encoded: Vec<String> = serde_json::from_slice(&text).with_context(what)?;
    if encoded.is_empty() {
        anyhow::bail!("{}: no keys in the keyring", what());
    }
    encoded
        .iter()
        .map(|k| decode_gossip_key(k).map_err(|e| anyhow::anyhow!("{}: {e}", what())))
        .collect()
}

/// Writes `keys` (primary first) as a keyring file.
pub fn write(file: &Path, keys: &[Vec<u8>]) -> anyhow::Result<()> {
    let what = || format!("Failed to write keyring file {}", file.display());
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir).with_context(what)?;
    }
    let encoded: Vec<String> = keys
        .iter()
        .map(|k| base64::engine::general_purpose::STANDARD.encode(k))
        .collect();
    let json = serde_json::to_vec(&encoded).with_context(what)?;
    write_secret_durably(file, &json).with_context(what)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    const KEY_A: &str = "pUqJrVyVRj5jsiYEkM/tFQ==";

    #[test]
    fn keygen_keys_are_accepted_by_gossip() {
        // `rconsul keygen` prints rconsul_cli::new_gossip_key().
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(rconsul_cli::new_gossip_key())
            .expect("base64");
        assert_eq!(bytes.len(), 32);
        assert!(rconsul_gossip::validate_key(&bytes).is_ok());
    }
    const KEY_B: &str = "qDOPBEr+/oUVeOFQOnVypxwDaHzLrD+lvjo5vCEBbZ0=";

    fn config(data_dir: Option<&Path>, encrypt: Option<&str>) -> AgentConfig {
        // A client agent with a data dir, or a dev agent (which keeps no files).
        let mut args = match data_dir {
            Some(d) => vec![format!("-data-dir={}", d.display())],
            None => vec!["-dev".to_string()],
        };
        if let Some(k) = encrypt {
            args.push(format!("-encrypt={k}"));
        }
        crate::config::parse_agent_args(&args).expect("config")
    }

    #[test]
    fn encrypt_creates_the_file_which_then_wins() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = decode_gossip_key(KEY_A).expect("key");
        let keys = resolve(&config(Some(dir.path()), Some(KEY_A))).expect("resolve");
        assert_eq!(keys, Some(vec![a.clone()]));
        let file = path(dir.path());
        assert_eq!(
            std::fs::read_to_string(&file).expect("file"),
            format!("[\"{KEY_A}\"]")
        );
        let mode = std::fs::metadata(&file).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        // A later start with another key keeps the file's; one with none still encrypts.
        assert_eq!(
            resolve(&config(Some(dir.path()), Some(KEY_B))).expect("resolve"),
            Some(vec![a.clone()])
        );
        assert_eq!(
            resolve(&config(Some(dir.path()), None)).expect("resolve"),
            Some(vec![a])
        );
    }

    #[test]
    fn without_a_data_dir_or_a_key() {
        let b = decode_gossip_key(KEY_B).expect("key");
        assert_eq!(
            resolve(&config(None, Some(KEY_B))).expect("resolve"),
            Some(vec![b])
        );
        let dir = tempfile::tempdir().expect("tempdir");
        assert_eq!(resolve(&config(Some(dir.path()), None)).expect("resolve"), None);
        assert!(!path(dir.path()).exists());
    }

    #[test]
    fn rotated_keyrings_round_trip_and_bad_files_are_errors() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = path(dir.path());
        let keys = vec![
            decode_gossip_key(KEY_B).expect("b"),
            decode_gossip_key(KEY_A).expect("a"),
        ];
        write(&file, &keys).expect("write");
        assert_eq!(load(&file).expect("load"), keys);
        std::fs::write(&file, "[]").expect("write");
        assert!(load(&file).is_err());
        std::fs::write(&file, "[\"aGVsbG8=\"]").expect("write");
        let e = load(&file).expect_err("short key").to_string();
        assert!(e.contains("key size must be 16, 24 or 32 bytes"), "{e}");
        std::fs::write(&file, "not json").expect("write");
        assert!(load(&file).is_err());
    }
}
