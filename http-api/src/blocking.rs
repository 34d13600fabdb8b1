//! Index-based blocking queries (Consul's long poll).
//!
//! A query returns at once when `?index` is 0 or below the result's index. Otherwise it
//! waits on its table's watch channel and re-runs; it returns when the part of the state
//! it reads has changed (its *watch index* moved) and the result's index exceeds
//! `?index`, or when `wait` (+ up to wait/16 jitter) runs out, with the latest result.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rconsul_state::store::State;
use rconsul_state::{StateStore, Table};

use crate::query::BlockingOptions;

/// One evaluation of a query against the state.
#[derive(Debug)]
pub struct QueryResult<T> {
    /// The index reported to the client (`X-Consul-Index`).
    pub index: u64,
    /// The answer.
    pub value: T,
}

/// Random jitter up to `wait / 16`, as Consul adds to spread out reconnecting clients.
fn jitter(wait: Duration) -> Duration {
    let max = wait.as_nanos() / 16;
    if max == 0 {
        return Duration::ZERO;
    }
    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    // splitmix-style scramble of the clock's nanoseconds: plenty for spreading timeouts.
    let mut x = u64::from(seed).wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^= x >> 31;
    Duration::from_nanos((u128::from(x) % max) as u64)
}

/// Runs `query` with blocking semantics on `table`.
///
/// `watch` is a cheap probe of the state this query reads (e.g. a key's ModifyIndex or
/// a service's index): it runs on every change to the table, and the full `query` runs
/// again only when the probe's value moved, so unrelated writes cost little.
pub async fn run<T>(
    store: &StateStore,
    table: Table,
    opts: BlockingOptions,
    watch: impl Fn(&State) -> u64,
    mut query: impl FnMut(&State) -> QueryResult<T>,
) -> QueryResult<T> {
    if opts.min_index == 0 {
        // Not a blocking query: one evaluation, no subscription.
        return query(&store.read());
    }
    // Subscribe before the first evaluation so no change can slip in between.
    let mut changes = store.watch(table);
    changes.borrow_and_update();
    let (first, first_watch) = {
        let state = store.read();
        (query(&state), watch(&state))
    };
    if first.index > opts.min_index {
        return first;
    }
    let deadline = tokio::time::Instant::now() + opts.wait + jitter(opts.wait);
    let mut latest = first;
    let mut seen_watch = first_watch;
    loop {
        match tokio::time::timeout_at(deadline, changes.changed()).await {
            Ok(Ok(())) => {
                changes.borrow_and_update();
                let state = store.read();
                let now = watch(&state);
                if now == seen_watch {
                    continue;
                }
                seen_watch = now;
                let next = query(&state);
                drop(state);
                if next.index > opts.min_index {
                    return next;
                }
                // Changed, but the client's index is still ahead: keep waiting and
                // answer with the newest result on timeout. Unrelated writes leave
                // `latest` alone, so a timeout reports the first evaluation's index
                // like Consul.
                latest = next;
            }
            // Timed out, or the store is gone (shutdown): answer with what we have.
            Ok(Err(_)) | Err(_) => return latest,
        }
    }
}
