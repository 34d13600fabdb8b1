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
    // A parked query keeps only the index it would report, not its answer: thousands of
    // watchers each holding an encoded result cost kilobytes apiece. On timeout the query
    // runs once more; its answer is the one the held result had, since the probe has not
    // moved since (if it has, the change just raced the timeout and the fresh answer wins).
    let mut latest_index = first.index;
    drop(first);
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
                // the held index alone, so a timeout reports the first evaluation's
                // index like Consul.
                latest_index = next.index;
            }
            // Timed out, or the store is gone (shutdown): answer with what we have.
            Ok(Err(_)) | Err(_) => {
                let state = store.read();
                let mut last = query(&state);
                if watch(&state) == seen_watch {
                    last.index = latest_index;
                }
                return last;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use rconsul_state::Command;
    use tokio::task::JoinHandle;

    use super::*;

    fn set(key: &str, value: &[u8]) -> Command {
        Command::KvSet {
            key: key.into(),
            value: value.to_vec(),
            flags: 0,
        }
    }

    /// A blocking read of one key: its index as `GET /v1/kv/<key>` reports it (the
    /// table's index for a missing key), its value, and the key's watch probe.
    async fn read_key(
        store: &StateStore,
        key: &str,
        min_index: u64,
        wait_ms: u64,
    ) -> QueryResult<Option<Vec<u8>>> {
        let opts = BlockingOptions {
            min_index,
            wait: Duration::from_millis(wait_ms),
        };
        run(
            store,
            Table::Kvs,
            opts,
            |s| s.kv.key_watch_index(key),
            |s| {
                let (index, entry) = s.kv.get(key);
                QueryResult {
                    index,
                    value: entry.map(|e| e.value.to_vec()),
                }
            },
        )
        .await
    }

    /// Starts [`read_key`] on its own task and lets it subscribe and park (the test
    /// runtime is single-threaded, so one yield runs it up to its wait).
    async fn park(
        store: &Arc<StateStore>,
        key: &'static str,
        min_index: u64,
        wait_ms: u64,
    ) -> JoinHandle<QueryResult<Option<Vec<u8>>>> {
        let store = store.clone();
        let waiting = tokio::spawn(async move { read_key(&store, key, min_index, wait_ms).await });
        tokio::task::yield_now().await;
        waiting
    }

    #[tokio::test]
    async fn a_timeout_after_unrelated_writes_reports_the_first_index() {
        let store = StateStore::new();
        store.apply(3, &[set("a", b"1")]);
        // A missing key reports the table's index, which unrelated writes move.
        let first = read_key(&store, "missing", 0, 0).await;
        assert_eq!(first.index, 3);
        let store = Arc::new(store);
        let waiting = park(&store, "missing", 3, 200).await;
        store.apply(4, &[set("b", b"2")]);
        let answer = waiting.await.expect("join");
        assert_eq!(
            answer.index, 3,
            "an unrelated write must not move the reported index"
        );
        assert_eq!(answer.value, None);
    }

    #[tokio::test]
    async fn a_change_below_the_clients_index_is_answered_on_timeout() {
        let store = Arc::new(StateStore::new());
        store.apply(3, &[set("a", b"1")]);
        // A client whose index is ahead of this server's (e.g. from another server).
        let waiting = park(&store, "a", 100, 200).await;
        store.apply(4, &[set("a", b"2")]);
        let answer = waiting.await.expect("join");
        assert_eq!(answer.index, 4);
        assert_eq!(answer.value.as_deref(), Some(&b"2"[..]));
    }

    #[tokio::test]
    async fn a_change_to_the_answer_wakes_the_query_at_once() {
        let store = Arc::new(StateStore::new());
        store.apply(3, &[set("a", b"1")]);
        let waiting = park(&store, "a", 3, 60_000).await;
        store.apply(4, &[set("other", b"x")]);
        store.apply(5, &[set("a", b"2")]);
        let answer = tokio::time::timeout(Duration::from_secs(10), waiting)
            .await
            .expect("woken well before its wait")
            .expect("join");
        assert_eq!(answer.index, 5);
        assert_eq!(answer.value.as_deref(), Some(&b"2"[..]));
    }
}
