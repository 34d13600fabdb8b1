//! Multiplexed RPC on one server-port connection: many requests in flight at once,
//! answered in whatever order they finish.
//!
//! Every frame is a bincode `(id, body)` pair inside the usual length-prefixed frame
//! ([`crate::rpc::Conn`]). A [`MuxClient`] numbers its requests and hands each answer to
//! the caller that waits for that id; [`serve`] runs every request on its own task and
//! writes the answers as they are ready, so one slow request (a blocking query held on
//! the server) never delays the others. This is the transport issue 18's client agents
//! use to forward reads to servers; the one-request-at-a-time protocol of [`crate::rpc`]
//! stays for raft's own RPCs.

use std::collections::HashMap;
use std::future::Future;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use parking_lot::Mutex;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot, Semaphore};

use crate::rpc::Conn;

/// Requests one connection may have running on a server at once; further frames wait
/// (back-pressure through TCP) instead of spawning without bound.
pub const MAX_IN_FLIGHT: usize = 4096;

/// Frames queued for the writer task before senders wait.
const OUTGOING_QUEUE: usize = 256;

/// One frame: the request's number and its body.
#[derive(Serialize, Deserialize)]
struct Frame<T> {
    id: u64,
    body: T,
}

/// Why a multiplexed call got no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MuxError {
    /// The connection closed (or failed) before the answer arrived.
    #[error("rpc connection closed")]
    Closed,
    /// The request could not be encoded.
    #[error("rpc codec: {0}")]
    Codec(String),
}

/// Callers waiting for an answer, by request id; `None` once the connection is gone.
type Waiters<Resp> = Arc<Mutex<Option<HashMap<u64, oneshot::Sender<Resp>>>>>;

/// The calling side of a multiplexed connection. Cheap to share: every method takes `&self`.
pub struct MuxClient<Req, Resp> {
    next_id: AtomicU64,
    outgoing: mpsc::Sender<Bytes>,
    waiters: Waiters<Resp>,
    _request: PhantomData<fn(&Req)>,
}

impl<Req, Resp> std::fmt::Debug for MuxClient<Req, Resp> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MuxClient")
            .field("in_flight", &self.in_flight())
            .finish_non_exhaustive()
    }
}

impl<Req, Resp> MuxClient<Req, Resp>
where
    Req: Serialize,
    Resp: DeserializeOwned + Send + 'static,
{
    /// Takes over `conn` (already past its connection-type byte and TLS handshake) and
    /// starts its reader and writer tasks. Both end when the connection fails or the
    /// client is dropped.
    pub fn start(conn: Conn) -> Self {
        let (sink, stream) = conn.split();
        let (outgoing, queued) = mpsc::channel(OUTGOING_QUEUE);
        let waiters: Waiters<Resp> = Arc::new(Mutex::new(Some(HashMap::new())));
        let (writer_done, writer_gone) = oneshot::channel::<()>();
        tokio::spawn(async move {
            write_frames(sink, queued).await;
            drop(writer_done);
        });
        tokio::spawn(read_answers(stream, waiters.clone(), writer_gone));
        MuxClient {
            next_id: AtomicU64::new(1),
            outgoing,
            waiters,
            _request: PhantomData,
        }
    }

    /// Sends `req` and waits for its answer. Dropping the future forgets the request here
    /// (the server still finishes it; its answer is discarded).
    pub async fn call(&self, req: &Req) -> Result<Resp, MuxError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let frame =
            bincode::serialize(&Frame { id, body: req }).map_err(|e| MuxError::Codec(e.to_string()))?;
        let (reply, answer) = oneshot::channel();
        match self.waiters.lock().as_mut() {
            Some(waiting) => waiting.insert(id, reply),
            None => return Err(MuxError::Closed),
        };
        let _forget = Forget {
            waiters: &self.waiters,
            id,
        };
        self.outgoing
            .send(Bytes::from(frame))
            .await
            .map_err(|_| MuxError::Closed)?;
        answer.await.map_err(|_| MuxError::Closed)
    }

    /// Whether the connection is gone (a pool should dial a new one).
    pub fn is_closed(&self) -> bool {
        self.waiters.lock().is_none() || self.outgoing.is_closed()
    }
}

impl<Req, Resp> MuxClient<Req, Resp> {
    /// Requests sent and not yet answered.
    pub fn in_flight(&self) -> usize {
        self.waiters.lock().as_ref().map_or(0, HashMap::len)
    }
}

/// Removes a caller's waiter when its call ends, answered or not.
struct Forget<'a, Resp> {
    waiters: &'a Waiters<Resp>,
    id: u64,
}

impl<Resp> Drop for Forget<'_, Resp> {
    fn drop(&mut self) {
        if let Some(waiting) = self.waiters.lock().as_mut() {
            waiting.remove(&self.id);
        }
    }
}

/// Writes queued frames, flushing once per burst rather than once per frame.
async fn write_frames(mut sink: SplitSink<Conn, Bytes>, mut queued: mpsc::Receiver<Bytes>) {
    while let Some(frame) = queued.recv().await {
        if sink.feed(frame).await.is_err() {
            return;
        }
        while let Ok(frame) = queued.try_recv() {
            if sink.feed(frame).await.is_err() {
                return;
            }
        }
        if sink.flush().await.is_err() {
            return;
        }
    }
}

/// Hands every answer to its waiter; when the connection ends (or the writer does),
/// drops every waiter so their calls fail with [`MuxError::Closed`].
async fn read_answers<Resp: DeserializeOwned>(
    mut stream: SplitStream<Conn>,
    waiters: Waiters<Resp>,
    mut writer_gone: oneshot::Receiver<()>,
) {
    loop {
        let bytes = tokio::select! {
            next = stream.next() => match next {
                Some(Ok(bytes)) => bytes,
                _ => break,
            },
            _ = &mut writer_gone => break,
        };
        let Ok(frame) = bincode::deserialize::<Frame<Resp>>(&bytes) else {
            tracing::warn!(target: "agent.server.rpc", "closing a multiplexed RPC connection: undecodable answer");
            break;
        };
        let waiter = waiters.lock().as_mut().and_then(|w| w.remove(&frame.id));
        if let Some(waiter) = waiter {
            let _ = waiter.send(frame.body);
        }
    }
    waiters.lock().take();
}

/// Serves one multiplexed connection: each request runs `handler` on its own task (at
/// most [`MAX_IN_FLIGHT`] at once) and its answer is written as soon as it is ready.
/// Returns when the peer closes the connection or sends a frame that does not decode.
pub async fn serve<Req, Resp, H, Fut>(conn: Conn, handler: H)
where
    Req: DeserializeOwned + Send + 'static,
    Resp: Serialize + Send + 'static,
    H: Fn(Req) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Resp> + Send + 'static,
{
    let (sink, mut stream) = conn.split();
    let (outgoing, queued) = mpsc::channel(OUTGOING_QUEUE);
    tokio::spawn(write_frames(sink, queued));
    let slots = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    let handler = Arc::new(handler);
    while let Some(Ok(bytes)) = stream.next().await {
        let Ok(frame) = bincode::deserialize::<Frame<Req>>(&bytes) else {
            tracing::warn!(target: "agent.server.rpc", "closing a multiplexed RPC connection: undecodable request");
            return;
        };
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let handler = handler.clone();
        let outgoing = outgoing.clone();
        tokio::spawn(async move {
            let body = handler(frame.body).await;
            match bincode::serialize(&Frame { id: frame.id, body }) {
                Ok(bytes) => {
                    let _ = outgoing.send(Bytes::from(bytes)).await;
                }
                Err(e) => tracing::warn!(target: "agent.server.rpc", "cannot encode an RPC answer: {e}"),
            }
            drop(slot);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rpc::{framed, RpcStream};
    use std::time::Duration;
    use tokio::net::{TcpListener, TcpStream};

    /// A server that answers `n` with `n * 2` after `n` milliseconds (so later-sent,
    /// smaller requests finish first), and never answers `u64::MAX`.
    async fn doubling_server() -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(framed(RpcStream::Plain(stream)), |n: u64| async move {
                    if n == u64::MAX {
                        std::future::pending::<()>().await;
                    }
                    tokio::time::sleep(Duration::from_millis(n)).await;
                    n * 2
                }));
            }
        });
        addr
    }

    async fn client(addr: &str) -> Arc<MuxClient<u64, u64>> {
        let stream = TcpStream::connect(addr).await.unwrap();
        Arc::new(MuxClient::start(framed(RpcStream::Plain(stream))))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_calls_on_one_connection_each_get_their_own_answer() {
        let addr = doubling_server().await;
        let client = client(&addr).await;
        // Sent in decreasing delay order, so the answers come back in the reverse order.
        let calls = (0..300u64).rev().map(|n| {
            let client = client.clone();
            tokio::spawn(async move { (n, client.call(&(n % 50)).await) })
        });
        for call in futures_util::future::join_all(calls).await {
            let (n, answer) = call.unwrap();
            assert_eq!(answer, Ok((n % 50) * 2), "call {n}");
        }
        assert_eq!(client.in_flight(), 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_parked_request_does_not_hold_up_the_others() {
        let addr = doubling_server().await;
        let client = client(&addr).await;
        let parked = {
            let client = client.clone();
            tokio::spawn(async move { client.call(&u64::MAX).await })
        };
        for n in 0..20 {
            assert_eq!(client.call(&n).await, Ok(n * 2));
        }
        assert_eq!(client.in_flight(), 1, "only the parked call waits");
        parked.abort();
        let _ = parked.await;
        assert_eq!(client.in_flight(), 0, "an abandoned call leaves no waiter behind");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn waiting_calls_fail_when_the_connection_closes() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        // Reads one frame, then closes without answering.
        let server = tokio::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            let mut conn = framed(RpcStream::Plain(stream));
            let _ = conn.next().await;
        });
        let client = client(&addr).await;
        assert_eq!(client.call(&7).await, Err(MuxError::Closed));
        server.await.unwrap();
        assert!(client.is_closed());
        assert_eq!(
            client.call(&8).await,
            Err(MuxError::Closed),
            "a closed client fails at once"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_undecodable_request_closes_the_connection() {
        let addr = doubling_server().await;
        let stream = TcpStream::connect(&addr).await.unwrap();
        let mut conn = framed(RpcStream::Plain(stream));
        conn.send(Bytes::from_static(b"\x01")).await.unwrap();
        let next = tokio::time::timeout(Duration::from_secs(5), conn.next())
            .await
            .unwrap();
        assert!(next.is_none_or(|r| r.is_err()), "the server hung up");
    }
}
