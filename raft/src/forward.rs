//! Forwarding to the leader over the server port: a small pool of reusable connections,
//! and the batcher that coalesces forwarded writes into one RPC.

use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use rconsul_state::{Command, CommandResult, ConsensusError};
use tokio::sync::{mpsc, oneshot, Semaphore};

use crate::network::{connect, Peer};
use crate::rpc::{self, Conn, RpcRequest, RpcResponse};
use crate::tls::RpcTls;

/// Most writes coalesced into one forwarded batch.
const MAX_FORWARD_BATCH: usize = 1024;
/// Forwarded batches in flight at once (each on its own pooled connection): while
/// one waits for its commit, the next fills up.
const FORWARDS_IN_FLIGHT: usize = 4;

/// Longest a forwarded request may take.
const FORWARD_TIMEOUT: Duration = Duration::from_secs(30);
/// Idle connections kept per pool.
const MAX_IDLE: usize = 128;

/// Why a forwarded request got no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ForwardError {
    /// No connection could be made: the request was never sent, so it is safe to retry
    /// elsewhere.
    #[error("{0}")]
    Unreachable(String),
    /// The request may or may not have been handled.
    #[error("{0}")]
    Failed(String),
}

/// Idle connections to other servers, keyed by address.
#[derive(Default)]
pub struct ForwardPool {
    idle: Mutex<Vec<(String, Conn)>>,
    tls: Arc<RpcTls>,
}

impl std::fmt::Debug for ForwardPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ForwardPool").finish_non_exhaustive()
    }
}

impl ForwardPool {
    /// A pool whose connections use `tls`'s settings.
    pub fn new(tls: Arc<RpcTls>) -> Self {
        ForwardPool {
            idle: Mutex::default(),
            tls,
        }
    }

    fn take(&self, addr: &str) -> Option<Conn> {
        let mut idle = self.idle.lock();
        let pos = idle.iter().position(|(a, _)| a == addr)?;
        Some(idle.swap_remove(pos).1)
    }

    fn put(&self, addr: &str, conn: Conn) {
        let mut idle = self.idle.lock();
        if idle.len() < MAX_IDLE {
            idle.push((addr.to_string(), conn));
        }
    }

    /// Sends `req` to the server at `addr` and returns its answer.
    pub async fn call(&self, addr: &str, req: &RpcRequest) -> Result<RpcResponse, ForwardError> {
        // A pooled connection may have been closed by the peer: retry once on a new one.
        for attempt in 0..2 {
            let mut conn = match self.take(addr) {
                Some(c) if attempt == 0 => c,
                _ => connect(addr, &self.tls, Peer::Server)
                    .await
                    .map_err(|e| ForwardError::Unreachable(format!("dial tcp {addr}: {e}")))?,
            };
            match tokio::time::timeout(FORWARD_TIMEOUT, rpc::call(&mut conn, req)).await {
                Ok(Ok(resp)) => {
                    self.put(addr, conn);
                    return Ok(resp);
                }
                Ok(Err(e)) if attempt == 0 => {
                    tracing::debug!(target: "agent.server.rpc", "forward to {addr} failed, retrying: {e}");
                }
                Ok(Err(e)) => return Err(ForwardError::Failed(e.to_string())),
                Err(_) => return Err(ForwardError::Failed(format!("rpc to {addr} timed out"))),
            }
        }
        Err(ForwardError::Failed(format!("rpc to {addr} failed")))
    }
}

/// The leader's answer to one forwarded write, or why it got none.
pub type ForwardedResult = Result<Result<CommandResult, ConsensusError>, ForwardError>;

struct ForwardedWrite {
    addr: String,
    command: Command,
    reply: oneshot::Sender<ForwardedResult>,
}

/// Coalesces writes forwarded to the leader: every write waiting while the previous
/// batch is on its way goes in the next [`RpcRequest::WriteBatch`], so a busy follower
/// or client agent sends one frame (and the leader reads one) for many requests.
#[derive(Debug, Clone)]
pub struct ForwardBatcher {
    tx: mpsc::UnboundedSender<ForwardedWrite>,
}

impl ForwardBatcher {
    /// Starts the batching task on the current tokio runtime.
    pub fn start(pool: Arc<ForwardPool>) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(run_forward_batcher(pool, rx));
        ForwardBatcher { tx }
    }

    /// Sends `command` to the leader at `addr` (in the next batch) and returns its answer.
    pub async fn write(&self, addr: &str, command: Command) -> ForwardedResult {
        let (reply, rx) = oneshot::channel();
        let queued = ForwardedWrite {
            addr: addr.to_string(),
            command,
            reply,
        };
        if self.tx.send(queued).is_err() {
            return Err(ForwardError::Unreachable("the agent is shutting down".into()));
        }
        rx.await
            .unwrap_or_else(|_| Err(ForwardError::Failed("the agent is shutting down".into())))
    }
}

async fn run_forward_batcher(pool: Arc<ForwardPool>, mut rx: mpsc::UnboundedReceiver<ForwardedWrite>) {
    let slots = Arc::new(Semaphore::new(FORWARDS_IN_FLIGHT));
    // A write for another address than the batch being built waits for the next one.
    let mut carried: Option<ForwardedWrite> = None;
    loop {
        let Ok(permit) = slots.clone().acquire_owned().await else {
            return;
        };
        let first = match carried.take() {
            Some(w) => w,
            None => match rx.recv().await {
                Some(w) => w,
                None => return,
            },
        };
        // Let ready HTTP tasks parse their requests first so they join this batch.
        tokio::task::yield_now().await;
        let addr = first.addr.clone();
        let mut batch = vec![first];
        while batch.len() < MAX_FORWARD_BATCH {
            match rx.try_recv() {
                Ok(w) if w.addr == addr => batch.push(w),
                Ok(w) => {
                    carried = Some(w);
                    break;
                }
                Err(_) => break,
            }
        }
        let pool = pool.clone();
        tokio::spawn(async move {
            let (commands, replies): (Vec<Command>, Vec<_>) =
                batch.into_iter().map(|w| (w.command, w.reply)).unzip();
            let count = commands.len();
            let answer = pool.call(&addr, &RpcRequest::WriteBatch(commands)).await;
            drop(permit);
            match answer {
                Ok(RpcResponse::WriteBatch(results)) if results.len() == count => {
                    for (reply, result) in replies.into_iter().zip(results) {
                        let _ = reply.send(Ok(result));
                    }
                }
                Ok(_) => {
                    let err = ConsensusError::Failed("unexpected response to a forwarded write".into());
                    for reply in replies {
                        let _ = reply.send(Ok(Err(err.clone())));
                    }
                }
                Err(e) => {
                    for reply in replies {
                        let _ = reply.send(Err(e.clone()));
                    }
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A fake leader: answers each `WriteBatch` with `Applied` for keys starting
    /// with "ok" and `Rejected` otherwise, and counts the frames it read.
    async fn fake_leader(frames: Arc<AtomicUsize>) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        tokio::spawn(async move {
            while let Ok((stream, peer)) = listener.accept().await {
                let frames = frames.clone();
                tokio::spawn(async move {
                    let Some((mut conn, _)) = crate::server::accept(stream, peer, &RpcTls::default()).await
                    else {
                        return;
                    };
                    while let Ok(req) = rpc::recv::<RpcRequest>(&mut conn).await {
                        frames.fetch_add(1, Ordering::SeqCst);
                        let RpcRequest::WriteBatch(commands) = req else {
                            return;
                        };
                        let results = commands
                            .iter()
                            .map(|c| match c {
                                Command::KvSet { key, .. } if key.starts_with("ok") => {
                                    Ok(CommandResult::Applied)
                                }
                                _ => Ok(CommandResult::Rejected),
                            })
                            .collect();
                        if rpc::send(&mut conn, &RpcResponse::WriteBatch(results))
                            .await
                            .is_err()
                        {
                            return;
                        }
                    }
                });
            }
        });
        addr
    }

    fn set(key: &str) -> Command {
        Command::KvSet {
            key: key.to_string(),
            value: vec![],
            flags: 0,
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_writes_share_frames_and_each_gets_its_own_answer() {
        let frames = Arc::new(AtomicUsize::new(0));
        let addr = fake_leader(frames.clone()).await;
        let batcher = ForwardBatcher::start(Arc::new(ForwardPool::default()));
        let writes = (0..200).map(|i| {
            let batcher = batcher.clone();
            let addr = addr.clone();
            let key = if i % 3 == 0 {
                format!("no{i}")
            } else {
                format!("ok{i}")
            };
            tokio::spawn(async move { (i, batcher.write(&addr, set(&key)).await) })
        });
        for w in futures_util::future::join_all(writes).await {
            let (i, answer) = w.unwrap();
            let expected = if i % 3 == 0 {
                CommandResult::Rejected
            } else {
                CommandResult::Applied
            };
            assert_eq!(answer, Ok(Ok(expected)), "write {i}");
        }
        let sent = frames.load(Ordering::SeqCst);
        assert!(sent < 200, "200 writes took {sent} frames: none were batched");
    }

    #[tokio::test]
    async fn a_leader_that_cannot_be_reached_is_reported_as_unreachable() {
        // Bind and drop a listener: nothing listens on that port any more.
        let addr = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().to_string()
        };
        let batcher = ForwardBatcher::start(Arc::new(ForwardPool::default()));
        let answer = batcher.write(&addr, set("ok")).await;
        assert!(matches!(answer, Err(ForwardError::Unreachable(_))), "{answer:?}");
    }
}
