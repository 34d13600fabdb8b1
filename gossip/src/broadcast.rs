//! User messages (Consul's user events) spread to every member by flooding.
//!
//! A message travels as one UDP packet: the kind byte [`KIND_USER`], the sender's Lamport
//! time, a random message ID and the opaque payload. Every agent that receives a message
//! for the first time delivers it locally and passes it on once to every member it knows,
//! so a message reaches all members as long as the membership graph is connected, even
//! when single packets are lost. The Lamport clock orders messages across agents as serf's
//! event clock does (`LTime`).

use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;

/// Packet kind byte of a user message.
pub(crate) const KIND_USER: u8 = 2;

/// Header length after the kind byte: Lamport time and message ID, both big-endian u64.
const HEADER: usize = 16;

/// How many recent message IDs are remembered to drop duplicates.
const SEEN_CAPACITY: usize = 4096;

/// A user message as delivered to subscribers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserMessage {
    /// Lamport time the sender stamped it with.
    pub ltime: u64,
    /// The opaque payload.
    pub payload: Bytes,
}

/// Encodes a user-message packet.
pub(crate) fn encode(ltime: u64, id: u64, payload: &[u8]) -> Vec<u8> {
    let mut packet = Vec::with_capacity(1 + HEADER + payload.len());
    packet.push(KIND_USER);
    packet.extend_from_slice(&ltime.to_be_bytes());
    packet.extend_from_slice(&id.to_be_bytes());
    packet.extend_from_slice(payload);
    packet
}

/// Decodes a user-message packet (kind byte included): `(ltime, id, payload)`.
pub(crate) fn decode(packet: &Bytes) -> Option<(u64, u64, Bytes)> {
    if packet.first() != Some(&KIND_USER) || packet.len() < 1 + HEADER {
        return None;
    }
    let ltime = u64::from_be_bytes(packet[1..9].try_into().ok()?);
    let id = u64::from_be_bytes(packet[9..17].try_into().ok()?);
    Some((ltime, id, packet.slice(1 + HEADER..)))
}

/// A Lamport clock (serf's event clock).
#[derive(Debug, Default)]
pub(crate) struct LamportClock(AtomicU64);

impl LamportClock {
    /// The time for a new local message; advances the clock.
    pub(crate) fn tick(&self) -> u64 {
        self.0.fetch_add(1, Ordering::SeqCst)
    }

    /// Moves the clock past a time seen on a received message.
    pub(crate) fn witness(&self, seen: u64) {
        self.0.fetch_max(seen.saturating_add(1), Ordering::SeqCst);
    }
}

/// The IDs of recently seen messages, oldest forgotten first.
#[derive(Debug, Default)]
pub(crate) struct SeenIds {
    set: HashSet<u64>,
    order: VecDeque<u64>,
}

impl SeenIds {
    /// Records `id`; false if it was already seen.
    pub(crate) fn insert(&mut self, id: u64) -> bool {
        if !self.set.insert(id) {
            return false;
        }
        self.order.push_back(id);
        if self.order.len() > SEEN_CAPACITY {
            if let Some(old) = self.order.pop_front() {
                self.set.remove(&old);
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packets_round_trip_and_reject_garbage() {
        let packet = Bytes::from(encode(7, 42, b"hello"));
        assert_eq!(decode(&packet), Some((7, 42, Bytes::from_static(b"hello"))));
        assert_eq!(decode(&Bytes::from_static(&[KIND_USER, 1, 2])), None);
        assert_eq!(decode(&Bytes::from_static(&[0; 20])), None);
        let empty = Bytes::from(encode(0, 1, b""));
        assert_eq!(decode(&empty), Some((0, 1, Bytes::new())));
    }

    #[test]
    fn clock_ticks_and_witnesses() {
        let clock = LamportClock::default();
        assert_eq!(clock.tick(), 0);
        assert_eq!(clock.tick(), 1);
        clock.witness(10);
        assert_eq!(clock.tick(), 11);
        clock.witness(3);
        assert_eq!(clock.tick(), 12);
    }

    #[test]
    fn seen_ids_drop_duplicates_and_forget_the_oldest() {
        let mut seen = SeenIds::default();
        assert!(seen.insert(1));
        assert!(!seen.insert(1));
        for id in 2..=(SEEN_CAPACITY as u64 + 1) {
            assert!(seen.insert(id));
        }
        // 1 was forgotten to make room.
        assert!(seen.insert(1));
        assert!(!seen.insert(SEEN_CAPACITY as u64));
    }
}
