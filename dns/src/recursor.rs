//! Forwarding names outside the domain to the configured recursors, byte for byte.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::time::{timeout, Instant};

use crate::trim::Transport;

/// Sends `packet` to each recursor in turn (over the client's transport) and returns the
/// first reply that is NOERROR or NXDOMAIN (or truncated), like Consul's `handleRecurse`.
pub(crate) async fn exchange(
    recursors: &[SocketAddr],
    wait: Duration,
    packet: &[u8],
    transport: Transport,
) -> Option<Vec<u8>> {
    if packet.len() < 12 {
        return None;
    }
    for recursor in recursors {
        let result = match transport {
            Transport::Udp => exchange_udp(*recursor, wait, packet).await,
            Transport::Tcp => exchange_tcp(*recursor, wait, packet).await,
        };
        match result {
            Ok(reply) => {
                let rcode = reply[3] & 0x0f;
                let truncated = reply[2] & 0x02 != 0;
                if rcode == 0 || rcode == 3 || truncated {
                    return Some(reply);
                }
                tracing::debug!(target: "agent.dns", "recurse failed for question: recursor={recursor} rcode={rcode}");
            }
            Err(e) => {
                tracing::error!(target: "agent.dns", "recurse failed: recursor={recursor} error=\"{e}\"");
            }
        }
    }
    tracing::error!(target: "agent.dns", "all resolvers failed for question");
    None
}

/// Whether `reply` answers `packet`: same ID, QR set.
fn matches(packet: &[u8], reply: &[u8]) -> bool {
    reply.len() >= 12 && reply[..2] == packet[..2] && reply[2] & 0x80 != 0
}

async fn exchange_udp(recursor: SocketAddr, wait: Duration, packet: &[u8]) -> std::io::Result<Vec<u8>> {
    let local: SocketAddr = if recursor.is_ipv4() {
        (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let sock = UdpSocket::bind(local).await?;
    sock.connect(recursor).await?;
    sock.send(packet).await?;
    let deadline = Instant::now() + wait;
    let mut buf = vec![0u8; 65_535];
    loop {
        let n = tokio::time::timeout_at(deadline, sock.recv(&mut buf))
            .await
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "i/o timeout"))??;
        if matches(packet, &buf[..n]) {
            buf.truncate(n);
            return Ok(buf);
        }
    }
}

async fn exchange_tcp(recursor: SocketAddr, wait: Duration, packet: &[u8]) -> std::io::Result<Vec<u8>> {
    let io = async {
        let mut stream = TcpStream::connect(recursor).await?;
        let len = u16::try_from(packet.len())
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "message too long"))?;
        let mut framed = Vec::with_capacity(packet.len() + 2);
        framed.extend_from_slice(&len.to_be_bytes());
        framed.extend_from_slice(packet);
        stream.write_all(&framed).await?;
        let mut len = [0u8; 2];
        stream.read_exact(&mut len).await?;
        let mut reply = vec![0u8; usize::from(u16::from_be_bytes(len))];
        stream.read_exact(&mut reply).await?;
        if !matches(packet, &reply) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "reply does not match",
            ));
        }
        Ok(reply)
    };
    timeout(wait, io)
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "i/o timeout"))?
}
