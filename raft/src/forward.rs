//! Forwarding to the leader over the server port: a small pool of reusable connections.

use std::time::Duration;

use parking_lot::Mutex;

use crate::network::connect;
use crate::rpc::{self, Conn, RpcRequest, RpcResponse};

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
}

impl std::fmt::Debug for ForwardPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ForwardPool").finish_non_exhaustive()
    }
}

impl ForwardPool {
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
                _ => connect(addr)
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
