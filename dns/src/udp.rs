//! The UDP receive loop. On Linux it moves datagrams in batches (`recvmmsg` / `sendmmsg`):
//! one system call per batch instead of two per query, and far fewer cross-CPU wakeups,
//! which is most of the cost of a small DNS answer. Elsewhere it uses `recv_from` /
//! `send_to`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::UdpSocket;

use crate::recursor;
use crate::responder::{Action, Responder};
use crate::trim::Transport;

/// Answers one datagram; `Some` reply to send back to `peer` now. Recursion is handed to a
/// task of its own.
fn answer(
    responder: &Arc<Responder>,
    sock: &Arc<UdpSocket>,
    packet: &[u8],
    peer: SocketAddr,
) -> Option<Vec<u8>> {
    match crate::server::guarded(responder, packet, Transport::Udp) {
        Action::Reply(bytes) => Some(bytes),
        Action::Recurse => {
            let (responder, sock, packet) = (responder.clone(), sock.clone(), packet.to_vec());
            tokio::spawn(async move {
                let cfg = responder.config();
                let reply =
                    match recursor::exchange(&cfg.recursors, cfg.recursor_timeout, &packet, Transport::Udp)
                        .await
                    {
                        Some(reply) => Some(reply),
                        None => responder.recursion_failed(&packet),
                    };
                if let Some(reply) = reply {
                    let _ = sock.send_to(&reply, peer).await;
                }
            });
            None
        }
        Action::Drop => None,
    }
}

/// Backs off a little after repeated socket errors instead of spinning.
async fn after_error(errors: &mut u32, e: &std::io::Error) {
    *errors += 1;
    tracing::debug!(target: "agent.dns", "udp socket error: {e}");
    if *errors > 100 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Serves one UDP socket until the task is aborted.
#[cfg(not(target_os = "linux"))]
pub(crate) async fn serve(responder: Arc<Responder>, sock: Arc<UdpSocket>) {
    let mut buf = vec![0u8; 65_535];
    let mut errors = 0u32;
    loop {
        let (len, peer) = match sock.recv_from(&mut buf).await {
            Ok(r) => r,
            Err(e) => {
                after_error(&mut errors, &e).await;
                continue;
            }
        };
        errors = 0;
        if let Some(reply) = answer(&responder, &sock, &buf[..len], peer) {
            if let Err(e) = sock.send_to(&reply, peer).await {
                tracing::debug!(target: "agent.dns", "udp send to {peer} failed: {e}");
            }
        }
    }
}

/// Serves one UDP socket until the task is aborted.
#[cfg(target_os = "linux")]
pub(crate) async fn serve(responder: Arc<Responder>, sock: Arc<UdpSocket>) {
    use tokio::io::Interest;

    let mut batch = linux::Batch::new();
    let mut replies: Vec<(Vec<u8>, SocketAddr)> = Vec::with_capacity(linux::BATCH);
    let mut errors = 0u32;
    loop {
        let received = match sock.try_io(Interest::READABLE, || batch.recv(&sock)) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if let Err(e) = sock.readable().await {
                    after_error(&mut errors, &e).await;
                }
                continue;
            }
            Err(e) => {
                after_error(&mut errors, &e).await;
                continue;
            }
        };
        errors = 0;
        for i in 0..received {
            let Some((packet, peer)) = batch.get(i) else {
                continue;
            };
            if let Some(reply) = answer(&responder, &sock, packet, peer) {
                replies.push((reply, peer));
            }
        }
        let mut sent = 0;
        while sent < replies.len() {
            match sock.try_io(Interest::WRITABLE, || linux::send(&sock, &replies[sent..])) {
                Ok(n) => sent += n.max(1),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    if sock.writable().await.is_err() {
                        break;
                    }
                }
                Err(e) => {
                    // This datagram cannot be sent (say, an unreachable peer); skip it.
                    tracing::debug!(target: "agent.dns", "udp send to {} failed: {e}", replies[sent].1);
                    sent += 1;
                }
            }
        }
        replies.clear();
    }
}

#[cfg(target_os = "linux")]
mod linux {
    //! `recvmmsg` / `sendmmsg` on the socket's file descriptor. The message headers live on
    //! the stack of each call and point into buffers that outlive it.

    use std::io;
    use std::mem::{size_of, zeroed};
    use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
    use std::os::fd::AsRawFd;

    /// Datagrams per system call.
    pub(super) const BATCH: usize = 32;
    /// Receive buffer per datagram; longer queries arrive cut short and get FORMERR.
    const SLOT: usize = 4096;

    pub(super) struct Batch {
        bufs: Vec<u8>,
        addrs: Vec<libc::sockaddr_storage>,
        lens: [usize; BATCH],
        received: usize,
    }

    impl Batch {
        pub(super) fn new() -> Batch {
            Batch {
                bufs: vec![0u8; BATCH * SLOT],
                // SAFETY: all-zero bytes are a valid `sockaddr_storage`.
                addrs: vec![unsafe { zeroed() }; BATCH],
                lens: [0; BATCH],
                received: 0,
            }
        }

        /// Receives up to [`BATCH`] datagrams without blocking.
        pub(super) fn recv(&mut self, sock: &impl AsRawFd) -> io::Result<usize> {
            self.received = 0;
            // SAFETY: all-zero bytes are valid for these plain C structs.
            let mut iovecs: [libc::iovec; BATCH] = unsafe { zeroed() };
            // SAFETY: as above.
            let mut hdrs: [libc::mmsghdr; BATCH] = unsafe { zeroed() };
            for (i, (chunk, iov)) in self.bufs.chunks_mut(SLOT).zip(iovecs.iter_mut()).enumerate() {
                iov.iov_base = chunk.as_mut_ptr().cast();
                iov.iov_len = chunk.len();
                let hdr = &mut hdrs[i].msg_hdr;
                hdr.msg_name = (&mut self.addrs[i] as *mut libc::sockaddr_storage).cast();
                hdr.msg_namelen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
                hdr.msg_iov = iov;
                hdr.msg_iovlen = 1;
            }
            // SAFETY: every header points at live buffers of the advertised sizes (the
            // slots of `bufs`, the entries of `addrs`, the `iovecs` on this stack frame),
            // none of which is touched until the call returns.
            let n = unsafe {
                libc::recvmmsg(
                    sock.as_raw_fd(),
                    hdrs.as_mut_ptr(),
                    BATCH as libc::c_uint,
                    libc::MSG_DONTWAIT,
                    std::ptr::null_mut(),
                )
            };
            if n < 0 {
                return Err(io::Error::last_os_error());
            }
            self.received = (n as usize).min(BATCH);
            for (len, hdr) in self.lens.iter_mut().zip(&hdrs).take(self.received) {
                *len = (hdr.msg_len as usize).min(SLOT);
            }
            Ok(self.received)
        }

        /// The `i`-th received datagram and its sender.
        pub(super) fn get(&self, i: usize) -> Option<(&[u8], super::SocketAddr)> {
            if i >= self.received {
                return None;
            }
            let peer = from_storage(&self.addrs[i])?;
            Some((&self.bufs[i * SLOT..i * SLOT + self.lens[i]], peer))
        }
    }

    fn from_storage(s: &libc::sockaddr_storage) -> Option<SocketAddr> {
        match i32::from(s.ss_family) {
            libc::AF_INET => {
                // SAFETY: the family says this storage holds a `sockaddr_in`.
                let a: &libc::sockaddr_in = unsafe { &*(s as *const libc::sockaddr_storage).cast() };
                let ip = Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr));
                Some(SocketAddr::V4(SocketAddrV4::new(ip, u16::from_be(a.sin_port))))
            }
            libc::AF_INET6 => {
                // SAFETY: the family says this storage holds a `sockaddr_in6`.
                let a: &libc::sockaddr_in6 = unsafe { &*(s as *const libc::sockaddr_storage).cast() };
                let ip = Ipv6Addr::from(a.sin6_addr.s6_addr);
                Some(SocketAddr::V6(SocketAddrV6::new(
                    ip,
                    u16::from_be(a.sin6_port),
                    a.sin6_flowinfo,
                    a.sin6_scope_id,
                )))
            }
            _ => None,
        }
    }

    fn to_storage(addr: &SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
        // SAFETY: all-zero bytes are a valid `sockaddr_storage`.
        let mut s: libc::sockaddr_storage = unsafe { zeroed() };
        match addr {
            SocketAddr::V4(v4) => {
                // SAFETY: `sockaddr_storage` is large and aligned enough for `sockaddr_in`.
                let a: &mut libc::sockaddr_in =
                    unsafe { &mut *(&mut s as *mut libc::sockaddr_storage).cast() };
                a.sin_family = libc::AF_INET as libc::sa_family_t;
                a.sin_port = v4.port().to_be();
                a.sin_addr.s_addr = u32::from(*v4.ip()).to_be();
                (s, size_of::<libc::sockaddr_in>() as libc::socklen_t)
            }
            SocketAddr::V6(v6) => {
                // SAFETY: `sockaddr_storage` is large and aligned enough for `sockaddr_in6`.
                let a: &mut libc::sockaddr_in6 =
                    unsafe { &mut *(&mut s as *mut libc::sockaddr_storage).cast() };
                a.sin6_family = libc::AF_INET6 as libc::sa_family_t;
                a.sin6_port = v6.port().to_be();
                a.sin6_flowinfo = v6.flowinfo();
                a.sin6_addr.s6_addr = v6.ip().octets();
                a.sin6_scope_id = v6.scope_id();
                (s, size_of::<libc::sockaddr_in6>() as libc::socklen_t)
            }
        }
    }

    /// Sends up to [`BATCH`] replies without blocking; returns how many went out.
    pub(super) fn send(sock: &impl AsRawFd, replies: &[(Vec<u8>, SocketAddr)]) -> io::Result<usize> {
        let count = replies.len().min(BATCH);
        // SAFETY: all-zero bytes are valid for these plain C structs.
        let mut addrs: [(libc::sockaddr_storage, libc::socklen_t); BATCH] = unsafe { zeroed() };
        // SAFETY: as above.
        let mut iovecs: [libc::iovec; BATCH] = unsafe { zeroed() };
        // SAFETY: as above.
        let mut hdrs: [libc::mmsghdr; BATCH] = unsafe { zeroed() };
        for (i, (bytes, peer)) in replies[..count].iter().enumerate() {
            addrs[i] = to_storage(peer);
            iovecs[i].iov_base = bytes.as_ptr() as *mut libc::c_void;
            iovecs[i].iov_len = bytes.len();
        }
        for i in 0..count {
            let hdr = &mut hdrs[i].msg_hdr;
            hdr.msg_name = (&mut addrs[i].0 as *mut libc::sockaddr_storage).cast();
            hdr.msg_namelen = addrs[i].1;
            hdr.msg_iov = &mut iovecs[i];
            hdr.msg_iovlen = 1;
        }
        // SAFETY: the headers point at the stack arrays above and at the reply buffers,
        // all alive for the duration of the call; the kernel only reads them.
        let n = unsafe {
            libc::sendmmsg(
                sock.as_raw_fd(),
                hdrs.as_mut_ptr(),
                count as libc::c_uint,
                libc::MSG_DONTWAIT,
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(n as usize)
    }
}
