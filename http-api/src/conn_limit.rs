//! `limits.http_max_conns_per_client`: how many HTTP connections one client IP may hold
//! open at once (Consul's default is 200).
//!
//! As in Consul (hashicorp/go-connlimit), a connection over the limit is answered with a
//! fixed `429 Too Many Requests` written with a short deadline, then closed; requests on
//! connections already open are unaffected. The count is per IP address, across every
//! HTTP listener of the agent.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

/// Consul's default `limits.http_max_conns_per_client`.
pub const DEFAULT_MAX_CONNS_PER_CLIENT: usize = 200;

/// The body go-connlimit sends with its 429.
const TOO_MANY_CONNS_MSG: &str =
    "Your IP is issuing too many concurrent connections, please rate limit your calls\n";

/// How long a refused client gets to take the 429 before the connection is dropped
/// (Consul: 10 ms), so a slow client cannot hold the accept loop's helper task.
const REFUSAL_WRITE_DEADLINE: Duration = Duration::from_millis(10);

/// Counts open connections per client IP and refuses those over the limit.
#[derive(Debug)]
pub struct ConnLimiter {
    /// Connections allowed per IP; 0 means no limit.
    max_per_ip: usize,
    open: Mutex<HashMap<IpAddr, usize>>,
}

/// A slot held by one open connection; dropping it frees the slot.
#[derive(Debug)]
pub struct ConnPermit {
    limiter: Arc<ConnLimiter>,
    ip: IpAddr,
}

impl ConnLimiter {
    /// A limiter allowing `max_per_ip` connections per client IP (0: unlimited).
    pub fn new(max_per_ip: usize) -> Arc<Self> {
        Arc::new(ConnLimiter {
            max_per_ip,
            open: Mutex::new(HashMap::new()),
        })
    }

    /// Takes a slot for a new connection from `ip`, or `None` when `ip` is at its limit.
    pub fn try_acquire(self: &Arc<Self>, ip: IpAddr) -> Option<ConnPermit> {
        if self.max_per_ip > 0 {
            let mut open = self.open.lock();
            let n = open.entry(ip).or_insert(0);
            if *n >= self.max_per_ip {
                return None;
            }
            *n += 1;
        }
        Some(ConnPermit {
            limiter: self.clone(),
            ip,
        })
    }

    /// Connections currently counted for `ip`.
    #[cfg(test)]
    fn open_for(&self, ip: IpAddr) -> usize {
        self.open.lock().get(&ip).copied().unwrap_or(0)
    }
}

impl Drop for ConnPermit {
    fn drop(&mut self) {
        if self.limiter.max_per_ip == 0 {
            return;
        }
        let mut open = self.limiter.open.lock();
        if let Some(n) = open.get_mut(&self.ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

/// The exact bytes Consul writes to a refused connection.
pub fn too_many_connections_response() -> String {
    format!(
        "HTTP/1.1 429 Too Many Requests\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
        TOO_MANY_CONNS_MSG.len(),
        TOO_MANY_CONNS_MSG
    )
}

/// Answers a refused connection with the 429 (within the write deadline) and closes it.
pub async fn refuse(mut stream: TcpStream) {
    let response = too_many_connections_response();
    let _ = tokio::time::timeout(REFUSAL_WRITE_DEADLINE, async {
        stream.write_all(response.as_bytes()).await?;
        stream.shutdown().await
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 1));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 2));

    #[test]
    fn refuses_past_the_limit_per_ip_and_frees_on_drop() {
        let limiter = ConnLimiter::new(2);
        let a1 = limiter.try_acquire(A).expect("first");
        let _a2 = limiter.try_acquire(A).expect("second");
        assert!(limiter.try_acquire(A).is_none(), "third from the same IP");
        let _b1 = limiter.try_acquire(B).expect("another IP has its own count");
        assert_eq!(limiter.open_for(A), 2);
        drop(a1);
        assert_eq!(limiter.open_for(A), 1);
        let _a3 = limiter.try_acquire(A).expect("a freed slot is reusable");
    }

    #[test]
    fn zero_means_no_limit_and_counts_nothing() {
        let limiter = ConnLimiter::new(0);
        let permits: Vec<_> = (0..1000).filter_map(|_| limiter.try_acquire(A)).collect();
        assert_eq!(permits.len(), 1000);
        assert_eq!(limiter.open_for(A), 0);
    }

    #[test]
    fn the_refusal_is_consuls_429() {
        let r = too_many_connections_response();
        assert!(r.starts_with("HTTP/1.1 429 Too Many Requests\r\n"), "{r}");
        let (head, body) = r.split_once("\r\n\r\n").expect("head and body");
        assert!(
            head.contains(&format!("Content-Length: {}", body.len())),
            "{head}"
        );
        assert!(body.contains("too many concurrent connections"), "{body}");
    }
}
