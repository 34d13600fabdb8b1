//! A small per-thread PRNG for shuffling answers (no cryptographic use).

use std::cell::Cell;
use std::hash::{BuildHasher, Hasher};

thread_local! {
    static STATE: Cell<u64> = Cell::new(seed());
}

/// A per-thread seed from std's randomly keyed hasher, the time and the thread.
fn seed() -> u64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.write(format!("{:?}", std::thread::current().id()).as_bytes());
    h.finish() | 1
}

/// xorshift64*: the next pseudo-random number of this thread.
fn next() -> u64 {
    STATE.with(|s| {
        let mut x = s.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        s.set(x);
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    })
}

/// A uniform-enough index in `0..n` (`n` > 0).
fn below(n: usize) -> usize {
    ((u128::from(next()) * n as u128) >> 64) as usize
}

/// Fisher-Yates shuffle.
pub(crate) fn shuffle<T>(items: &mut [T]) {
    for i in (1..items.len()).rev() {
        items.swap(i, below(i + 1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shuffle_permutes_and_varies() {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..50 {
            let mut v: Vec<u32> = (0..6).collect();
            shuffle(&mut v);
            let mut sorted = v.clone();
            sorted.sort_unstable();
            assert_eq!(sorted, (0..6).collect::<Vec<_>>());
            seen.insert(v);
        }
        assert!(seen.len() > 10, "shuffles look fixed: {seen:?}");
        for n in 1..20 {
            assert!(below(n) < n);
        }
    }
}
