//! TCP checks, and the dialer the HTTP checks share, with Go's error texts
//! (`dial tcp 127.0.0.1:6379: connect: connection refused`).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::time::Instant;

use super::output::errno_text;
use super::Status;

/// Why a dial failed.
#[derive(Debug)]
pub(super) enum DialError {
    /// The deadline passed; the text is Go's (`dial tcp 10.0.0.1:80: i/o timeout`).
    Timeout(String),
    /// Anything else, as Go spells it.
    Other(String),
}

impl DialError {
    /// The Go-style message.
    pub(super) fn text(&self) -> &str {
        match self {
            DialError::Timeout(s) | DialError::Other(s) => s,
        }
    }
}

/// Splits `host:port` (`[v6]:port` for IPv6) as Go's `net.SplitHostPort`.
pub(super) fn split_host_port(addr: &str) -> Result<(String, u16), String> {
    let bad = |why: &str| format!("address {addr}: {why}");
    let (host, port) = if let Some(rest) = addr.strip_prefix('[') {
        let Some(end) = rest.find(']') else {
            return Err(bad("missing ']' in address"));
        };
        let host = &rest[..end];
        let Some(port) = rest[end + 1..].strip_prefix(':') else {
            return Err(bad("missing port in address"));
        };
        (host, port)
    } else {
        let Some(i) = addr.rfind(':') else {
            return Err(bad("missing port in address"));
        };
        let host = &addr[..i];
        if host.contains(':') {
            return Err(bad("too many colons in address"));
        }
        (host, &addr[i + 1..])
    };
    let port = port.parse::<u16>().map_err(|_| bad("invalid port"))?;
    Ok((host.to_string(), port))
}

/// Resolves `host` and connects to `port` before `deadline`, trying each address in
/// turn and reporting the first failure as Go's dialer does.
pub(super) async fn dial(host: &str, port: u16, deadline: Instant) -> Result<TcpStream, DialError> {
    let addrs: Vec<SocketAddr> = if host.is_empty() {
        // Go: an empty host means the local system.
        vec![SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port)]
    } else if let Ok(ip) = host.parse::<IpAddr>() {
        vec![SocketAddr::new(ip, port)]
    } else {
        let lookup = tokio::time::timeout_at(deadline, tokio::net::lookup_host((host, port)));
        match lookup.await {
            Err(_) => {
                return Err(DialError::Timeout(format!(
                    "dial tcp: lookup {host}: i/o timeout"
                )))
            }
            Ok(Err(_)) => return Err(DialError::Other(format!("dial tcp: lookup {host}: no such host"))),
            Ok(Ok(found)) => found.collect(),
        }
    };
    let mut first_err = None;
    for addr in &addrs {
        match tokio::time::timeout_at(deadline, TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => return Ok(stream),
            Ok(Err(e)) => {
                first_err.get_or_insert_with(|| {
                    DialError::Other(format!("dial tcp {addr}: connect: {}", errno_text(&e)))
                });
            }
            Err(_) => {
                return Err(
                    first_err.unwrap_or_else(|| DialError::Timeout(format!("dial tcp {addr}: i/o timeout")))
                )
            }
        }
    }
    Err(first_err.unwrap_or_else(|| DialError::Other(format!("dial tcp: lookup {host}: no such host"))))
}

/// Probes a TCP check once: a connect within `timeout` is passing.
pub(super) async fn probe(addr: &str, timeout: Duration) -> (Status, String) {
    let (host, port) = match split_host_port(addr) {
        Ok(hp) => hp,
        Err(e) => return (Status::Critical, format!("dial tcp: {e}")),
    };
    match dial(&host, port, Instant::now() + timeout).await {
        Ok(stream) => {
            drop(stream);
            (Status::Passing, format!("TCP connect {addr}: Success"))
        }
        Err(e) => (Status::Critical, e.text().to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_port_split() {
        assert_eq!(split_host_port("127.0.0.1:80"), Ok(("127.0.0.1".into(), 80)));
        assert_eq!(split_host_port("[::1]:80"), Ok(("::1".into(), 80)));
        assert_eq!(split_host_port(":80"), Ok(("".into(), 80)));
        assert_eq!(
            split_host_port("localhost"),
            Err("address localhost: missing port in address".into())
        );
        assert_eq!(
            split_host_port("::1:80"),
            Err("address ::1:80: too many colons in address".into())
        );
    }
}
