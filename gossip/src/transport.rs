//! The gossip UDP socket with the agent's encryption settings applied: outgoing packets
//! are sealed, incoming ones opened or refused (memberlist's rules for Consul's
//! `encrypt`, `encrypt_verify_incoming` and `encrypt_verify_outgoing`).

use std::borrow::Cow;
use std::net::SocketAddr;

use tokio::net::UdpSocket;

use crate::crypto::{self, KeyError, Keyring};

/// Gossip encryption settings.
#[derive(Clone)]
pub struct Encryption {
    /// Installed keys, primary first (16, 24 or 32 bytes each).
    pub keys: Vec<Vec<u8>>,
    /// Refuse plain packets (`encrypt_verify_incoming`, default true). Off only while a
    /// running cluster is being moved to encryption.
    pub verify_incoming: bool,
    /// Seal outgoing packets (`encrypt_verify_outgoing`, default true).
    pub verify_outgoing: bool,
}

impl std::fmt::Debug for Encryption {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Encryption")
            .field("keys", &self.keys.len())
            .field("verify_incoming", &self.verify_incoming)
            .field("verify_outgoing", &self.verify_outgoing)
            .finish()
    }
}

/// Why an incoming packet was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    /// Sealed, but no installed key opens it.
    NoKeyOpens,
    /// Plain, and plain packets are refused.
    NotEncrypted,
    /// Sealed, and this agent has no keys.
    NoKeysInstalled,
}

impl Refused {
    /// What memberlist logs for the same refusal.
    pub(crate) fn message(self) -> &'static str {
        match self {
            Refused::NoKeyOpens => "Decrypt packet failed: No installed keys could decrypt the message",
            Refused::NotEncrypted => {
                "Decrypt packet failed: the packet is not encrypted and encrypt_verify_incoming is on"
            }
            Refused::NoKeysInstalled => {
                "Decrypt packet failed: the packet is encrypted but no encryption keys are installed"
            }
        }
    }
}

struct Security {
    keyring: Keyring,
    verify_incoming: bool,
    verify_outgoing: bool,
}

/// The gossip socket: every packet this agent sends or receives goes through it.
pub(crate) struct Transport {
    socket: UdpSocket,
    security: Option<Security>,
}

impl Transport {
    /// Wraps `socket`; `encryption` of `None` sends and accepts plain packets only.
    pub(crate) fn new(socket: UdpSocket, encryption: Option<&Encryption>) -> Result<Transport, KeyError> {
        let security = match encryption {
            None => None,
            Some(e) => Some(Security {
                keyring: Keyring::new(&e.keys)?,
                verify_incoming: e.verify_incoming,
                verify_outgoing: e.verify_outgoing,
            }),
        };
        Ok(Transport { socket, security })
    }

    /// Whether outgoing gossip is encrypted.
    pub(crate) fn encrypted(&self) -> bool {
        self.security.as_ref().is_some_and(|s| s.verify_outgoing)
    }

    /// The largest plain packet that still fits `max_packet` bytes once sealed.
    pub(crate) fn plain_budget(&self, max_packet: usize) -> usize {
        if self.encrypted() {
            max_packet.saturating_sub(crypto::OVERHEAD)
        } else {
            max_packet
        }
    }

    /// Sends `packet` to `dst`, sealed when encryption is on; errors are dropped as a
    /// lost datagram would be (gossip retries on its own).
    pub(crate) async fn send_to(&self, packet: &[u8], dst: SocketAddr) {
        let _ = match &self.security {
            Some(s) if s.verify_outgoing => self.socket.send_to(&s.keyring.seal(packet), dst).await,
            _ => self.socket.send_to(packet, dst).await,
        };
    }

    /// Receives one datagram into `buf`: its length and sender.
    pub(crate) async fn recv_from(&self, buf: &mut [u8]) -> std::io::Result<(usize, SocketAddr)> {
        self.socket.recv_from(buf).await
    }

    /// The plain packet carried by an incoming datagram, or why it is dropped.
    pub(crate) fn open<'a>(&self, data: &'a [u8]) -> Result<Cow<'a, [u8]>, Refused> {
        let sealed = crypto::is_sealed(data);
        match &self.security {
            None if sealed => Err(Refused::NoKeysInstalled),
            None => Ok(Cow::Borrowed(data)),
            Some(s) if sealed => s.keyring.open(data).map(Cow::Owned).ok_or(Refused::NoKeyOpens),
            Some(s) if s.verify_incoming => Err(Refused::NotEncrypted),
            Some(_) => Ok(Cow::Borrowed(data)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn transport(enc: Option<Encryption>) -> Transport {
        let socket = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
        Transport::new(socket, enc.as_ref()).expect("transport")
    }

    fn enc(key: u8, verify_incoming: bool, verify_outgoing: bool) -> Option<Encryption> {
        Some(Encryption {
            keys: vec![vec![key; 32]],
            verify_incoming,
            verify_outgoing,
        })
    }

    /// Sends `packet` from `from` to `to` and returns what `to` makes of it.
    async fn deliver(from: &Transport, to: &Transport, packet: &[u8]) -> Result<Vec<u8>, Refused> {
        let dst = to.socket.local_addr().expect("addr");
        from.send_to(packet, dst).await;
        let mut buf = vec![0u8; 2048];
        let (n, _) = to.recv_from(&mut buf).await.expect("recv");
        to.open(&buf[..n]).map(|p| p.into_owned())
    }

    #[tokio::test]
    async fn same_key_passes_and_the_wire_is_sealed() {
        let (a, b) = (
            transport(enc(1, true, true)).await,
            transport(enc(1, true, true)).await,
        );
        assert!(a.encrypted());
        assert_eq!(deliver(&a, &b, b"\x00probe").await, Ok(b"\x00probe".to_vec()));
        let plain = transport(None).await;
        let dst = plain.socket.local_addr().expect("addr");
        a.send_to(b"\x00probe", dst).await;
        let mut buf = vec![0u8; 2048];
        let (n, _) = plain.recv_from(&mut buf).await.expect("recv");
        assert!(crypto::is_sealed(&buf[..n]) && !buf[..n].ends_with(b"probe"));
    }

    #[tokio::test]
    async fn mismatched_keys_and_plain_senders_are_refused() {
        let a = transport(enc(1, true, true)).await;
        let b = transport(enc(2, true, true)).await;
        assert_eq!(deliver(&a, &b, b"\x00x").await, Err(Refused::NoKeyOpens));
        let plain = transport(None).await;
        assert_eq!(deliver(&plain, &b, b"\x00x").await, Err(Refused::NotEncrypted));
        assert_eq!(deliver(&a, &plain, b"\x00x").await, Err(Refused::NoKeysInstalled));
        assert_eq!(plain.plain_budget(1400), 1400);
        assert_eq!(a.plain_budget(1400), 1400 - crypto::OVERHEAD);
    }

    #[tokio::test]
    async fn verify_flags_allow_a_rolling_upgrade() {
        // Step 1 of Consul's procedure: keys installed, both checks off.
        let upgrading = transport(enc(1, false, false)).await;
        let plain = transport(None).await;
        assert!(!upgrading.encrypted());
        assert_eq!(deliver(&plain, &upgrading, b"\x00a").await, Ok(b"\x00a".to_vec()));
        assert_eq!(deliver(&upgrading, &plain, b"\x00b").await, Ok(b"\x00b".to_vec()));
        // Step 2: outgoing sealed, plain still accepted.
        let sealing = transport(enc(1, false, true)).await;
        assert_eq!(
            deliver(&sealing, &upgrading, b"\x00c").await,
            Ok(b"\x00c".to_vec())
        );
        assert_eq!(deliver(&plain, &sealing, b"\x00d").await, Ok(b"\x00d".to_vec()));
    }
}
