//! Gossip encryption (`encrypt`): every gossip packet sealed with AES-GCM under the
//! keyring's primary key, as memberlist does for Consul.
//!
//! A sealed packet is `[ENCRYPTED_V1][12-byte random nonce][ciphertext + 16-byte tag]`;
//! the plaintext is the ordinary packet (kind byte and body). Receivers try every
//! installed key, so a key can be rotated in before it becomes primary. Keys are 16, 24
//! or 32 bytes (AES-128/192/256), the sizes Consul accepts.

use aes_gcm::aead::consts::U12;
use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::aes::Aes192;
use aes_gcm::{Aes128Gcm, Aes256Gcm, AesGcm, Nonce};

/// First byte of a sealed packet. Plain packets start with a kind byte below 16, so the
/// two never collide.
pub const ENCRYPTED_V1: u8 = 0xE1;

const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

/// Bytes a sealed packet adds to its plaintext.
pub const OVERHEAD: usize = 1 + NONCE_LEN + TAG_LEN;

/// Why a key cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// Not 16, 24 or 32 bytes (memberlist's wording).
    #[error("key size must be 16, 24 or 32 bytes")]
    BadSize,
    /// A keyring needs at least one key.
    #[error("keyring has no keys")]
    Empty,
}

enum Cipher {
    Aes128(Box<Aes128Gcm>),
    Aes192(Box<AesGcm<Aes192, U12>>),
    Aes256(Box<Aes256Gcm>),
}

impl Cipher {
    fn new(key: &[u8]) -> Result<Cipher, KeyError> {
        let bad = |_| KeyError::BadSize;
        Ok(match key.len() {
            16 => Cipher::Aes128(Box::new(Aes128Gcm::new_from_slice(key).map_err(bad)?)),
            24 => Cipher::Aes192(Box::new(AesGcm::new_from_slice(key).map_err(bad)?)),
            32 => Cipher::Aes256(Box::new(Aes256Gcm::new_from_slice(key).map_err(bad)?)),
            _ => return Err(KeyError::BadSize),
        })
    }

    fn encrypt(&self, nonce: &[u8; NONCE_LEN], plain: &[u8]) -> Option<Vec<u8>> {
        let nonce = Nonce::<U12>::from_slice(nonce);
        match self {
            Cipher::Aes128(c) => c.encrypt(nonce, plain).ok(),
            Cipher::Aes192(c) => c.encrypt(nonce, plain).ok(),
            Cipher::Aes256(c) => c.encrypt(nonce, plain).ok(),
        }
    }

    fn decrypt(&self, nonce: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
        let nonce = Nonce::<U12>::from_slice(nonce);
        match self {
            Cipher::Aes128(c) => c.decrypt(nonce, sealed).ok(),
            Cipher::Aes192(c) => c.decrypt(nonce, sealed).ok(),
            Cipher::Aes256(c) => c.decrypt(nonce, sealed).ok(),
        }
    }
}

/// The installed gossip keys; the first is the primary, used to seal.
pub struct Keyring {
    ciphers: Vec<Cipher>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        f.debug_struct("Keyring")
            .field("keys", &self.ciphers.len())
            .finish()
    }
}

/// Checks that `key` is a usable gossip key (16, 24 or 32 bytes).
pub fn validate_key(key: &[u8]) -> Result<(), KeyError> {
    match key.len() {
        16 | 24 | 32 => Ok(()),
        _ => Err(KeyError::BadSize),
    }
}

impl Keyring {
    /// A keyring of `keys`, primary first.
    pub fn new(keys: &[Vec<u8>]) -> Result<Keyring, KeyError> {
        if keys.is_empty() {
            return Err(KeyError::Empty);
        }
        let ciphers = keys.iter().map(|k| Cipher::new(k)).collect::<Result<_, _>>()?;
        Ok(Keyring { ciphers })
    }

    /// Seals `plain` under the primary key with a fresh random nonce.
    pub fn seal(&self, plain: &[u8]) -> Vec<u8> {
        let nonce: [u8; NONCE_LEN] = rand::random();
        let sealed = self
            .ciphers
            .first()
            .and_then(|c| c.encrypt(&nonce, plain))
            .unwrap_or_default();
        let mut packet = Vec::with_capacity(1 + NONCE_LEN + sealed.len());
        packet.push(ENCRYPTED_V1);
        packet.extend_from_slice(&nonce);
        packet.extend_from_slice(&sealed);
        packet
    }

    /// Opens a sealed packet with any installed key; `None` if it is not a sealed packet
    /// or no key authenticates it (wrong key, tampered, truncated).
    pub fn open(&self, packet: &[u8]) -> Option<Vec<u8>> {
        let body = packet.strip_prefix(&[ENCRYPTED_V1])?;
        if body.len() < NONCE_LEN + TAG_LEN {
            return None;
        }
        let (nonce, sealed) = body.split_at(NONCE_LEN);
        self.ciphers.iter().find_map(|c| c.decrypt(nonce, sealed))
    }
}

/// Whether `packet` is sealed (rather than a plain gossip packet).
pub fn is_sealed(packet: &[u8]) -> bool {
    packet.first() == Some(&ENCRYPTED_V1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: usize, fill: u8) -> Vec<u8> {
        vec![fill; n]
    }

    #[test]
    fn seals_and_opens_with_every_key_size() {
        for n in [16, 24, 32] {
            let ring = Keyring::new(&[key(n, 7)]).expect("keyring");
            let packet = ring.seal(b"\x00hello gossip");
            assert!(is_sealed(&packet));
            assert_eq!(packet.len(), 13 + OVERHEAD);
            assert!(!packet.windows(5).any(|w| w == b"hello"), "plaintext leaked");
            assert_eq!(ring.open(&packet).as_deref(), Some(&b"\x00hello gossip"[..]));
        }
    }

    #[test]
    fn each_packet_gets_a_fresh_nonce() {
        let ring = Keyring::new(&[key(32, 1)]).expect("keyring");
        assert_ne!(ring.seal(b"same"), ring.seal(b"same"));
    }

    #[test]
    fn a_wrong_key_a_tampered_or_a_short_packet_does_not_open() {
        let ring = Keyring::new(&[key(32, 1)]).expect("keyring");
        let other = Keyring::new(&[key(32, 2)]).expect("keyring");
        let packet = ring.seal(b"\x00member list");
        assert_eq!(other.open(&packet), None);
        let mut tampered = packet.clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        assert_eq!(ring.open(&tampered), None);
        assert_eq!(ring.open(&packet[..OVERHEAD - 1]), None);
        assert_eq!(ring.open(b""), None);
        assert_eq!(ring.open(b"\x00plain packet"), None);
    }

    #[test]
    fn secondary_keys_open_but_only_the_primary_seals() {
        let old = Keyring::new(&[key(16, 9)]).expect("keyring");
        let rotated = Keyring::new(&[key(32, 3), key(16, 9)]).expect("keyring");
        assert!(rotated.open(&old.seal(b"from an old member")).is_some());
        assert_eq!(old.open(&rotated.seal(b"new primary")), None);
    }

    #[test]
    fn bad_keys_are_refused() {
        assert_eq!(validate_key(&key(15, 0)), Err(KeyError::BadSize));
        assert_eq!(Keyring::new(&[key(33, 0)]).err(), Some(KeyError::BadSize));
        assert_eq!(Keyring::new(&[]).err(), Some(KeyError::Empty));
        assert_eq!(
            KeyError::BadSize.to_string(),
            "key size must be 16, 24 or 32 bytes"
        );
        assert_eq!(
            format!("{:?}", Keyring::new(&[key(16, 0)]).expect("ring")),
            "Keyring { keys: 1 }"
        );
    }
}
