// SPDX-License-Identifier: MPL-2.0
//! Batched datagram I/O for the data channel: on Linux `recvmmsg(2)`
//! and `sendmmsg(2)` move up to [`BATCH`] datagrams per system call;
//! elsewhere one datagram per call through tokio.
//!
//! Both sit on tokio's readiness: a call that would block clears the
//! socket's readiness (`UdpSocket::try_io`) and the caller awaits it.

use std::io;
use std::net::SocketAddr;

use tokio::net::UdpSocket;

/// Most datagrams moved by one call.
pub const BATCH: usize = 32;

/// Receive buffers for up to [`BATCH`] datagrams.
pub struct RecvBatch {
    bufs: Vec<Vec<u8>>,
    lens: Vec<usize>,
    from: Vec<Option<SocketAddr>>,
    count: usize,
}

impl RecvBatch {
    /// `size`: the largest datagram expected.
    pub fn new(size: usize) -> RecvBatch {
        RecvBatch {
            bufs: vec![vec![0u8; size]; BATCH],
            lens: vec![0; BATCH],
            from: vec![None; BATCH],
            count: 0,
        }
    }

    /// Wait for datagrams and take as many as are queued (at most
    /// [`BATCH`]); their number.
    pub async fn recv(&mut self, sock: &UdpSocket) -> io::Result<usize> {
        loop {
            sock.readable().await?;
            match sock.try_io(tokio::io::Interest::READABLE, || self.recv_now(sock)) {
                Ok(n) => {
                    self.count = n;
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Datagram `i` of the last [`RecvBatch::recv`]: its bytes (mutable,
    /// for decryption in place) and sender.
    pub fn get(&mut self, i: usize) -> Option<(&mut [u8], Option<SocketAddr>)> {
        if i >= self.count {
            return None;
        }
        let len = *self.lens.get(i)?;
        let from = *self.from.get(i)?;
        Some((self.bufs.get_mut(i)?.get_mut(..len)?, from))
    }

    #[cfg(target_os = "linux")]
    fn recv_now(&mut self, sock: &UdpSocket) -> io::Result<usize> {
        use std::os::fd::AsRawFd;
        // SAFETY: all-zero is a valid sockaddr_storage and iovec.
        let mut names: [libc::sockaddr_storage; BATCH] = unsafe { std::mem::zeroed() };
        let mut iovs: Vec<libc::iovec> = self
            .bufs
            .iter_mut()
            .map(|b| libc::iovec {
                iov_base: b.as_mut_ptr().cast(),
                iov_len: b.len(),
            })
            .collect();
        // SAFETY: all-zero is a valid mmsghdr (null pointers, zero lengths).
        let mut msgs: [libc::mmsghdr; BATCH] = unsafe { std::mem::zeroed() };
        for ((m, iov), name) in msgs.iter_mut().zip(iovs.iter_mut()).zip(names.iter_mut()) {
            m.msg_hdr.msg_iov = iov;
            m.msg_hdr.msg_iovlen = 1;
            m.msg_hdr.msg_name = (name as *mut libc::sockaddr_storage).cast();
            m.msg_hdr.msg_namelen =
                std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        }
        // SAFETY: msgs holds BATCH headers whose iovecs point into our
        // buffers and whose names point into `names`, all alive for the call.
        let n = unsafe {
            libc::recvmmsg(
                sock.as_raw_fd(),
                msgs.as_mut_ptr(),
                BATCH as libc::c_uint,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let n = n as usize;
        for i in 0..n {
            let (Some(m), Some(name)) = (msgs.get(i), names.get(i)) else {
                break;
            };
            if let Some(l) = self.lens.get_mut(i) {
                *l = m.msg_len as usize;
            }
            if let Some(f) = self.from.get_mut(i) {
                *f = from_storage(name);
            }
        }
        Ok(n)
    }

    #[cfg(not(target_os = "linux"))]
    fn recv_now(&mut self, sock: &UdpSocket) -> io::Result<usize> {
        let buf = self
            .bufs
            .get_mut(0)
            .ok_or_else(|| io::Error::other("no buffer"))?;
        let (n, from) = sock.try_recv_from(buf)?;
        self.lens[0] = n;
        self.from[0] = Some(from);
        Ok(1)
    }
}

#[cfg(target_os = "linux")]
fn from_storage(s: &libc::sockaddr_storage) -> Option<SocketAddr> {
    match i32::from(s.ss_family) {
        libc::AF_INET => {
            // SAFETY: the family says this storage holds a sockaddr_in.
            let a: &libc::sockaddr_in = unsafe { &*(s as *const libc::sockaddr_storage).cast() };
            Some(SocketAddr::from((
                u32::from_be(a.sin_addr.s_addr).to_be_bytes(),
                u16::from_be(a.sin_port),
            )))
        }
        libc::AF_INET6 => {
            // SAFETY: the family says this storage holds a sockaddr_in6.
            let a: &libc::sockaddr_in6 = unsafe { &*(s as *const libc::sockaddr_storage).cast() };
            Some(SocketAddr::from((
                a.sin6_addr.s6_addr,
                u16::from_be(a.sin6_port),
            )))
        }
        _ => None,
    }
}

/// Send `datagrams` (to `to`, or on a connected socket when None),
/// waiting while the socket is full.  A datagram the kernel refuses is
/// skipped; the number refused and the last error are returned.
pub async fn send_all(
    sock: &UdpSocket,
    datagrams: &[Vec<u8>],
    to: Option<SocketAddr>,
) -> (usize, Option<io::Error>) {
    let (mut next, mut failed, mut last) = (0, 0, None);
    while next < datagrams.len() {
        if let Err(e) = sock.writable().await {
            return (failed + datagrams.len() - next, Some(e));
        }
        let rest = datagrams.get(next..).unwrap_or_default();
        match sock.try_io(tokio::io::Interest::WRITABLE, || send_now(sock, rest, to)) {
            Ok(n) => next += n.max(1),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) => {
                next += 1;
                failed += 1;
                last = Some(e);
            }
        }
    }
    (failed, last)
}

#[cfg(target_os = "linux")]
fn send_now(sock: &UdpSocket, datagrams: &[Vec<u8>], to: Option<SocketAddr>) -> io::Result<usize> {
    use std::os::fd::AsRawFd;
    let n = datagrams.len().min(BATCH);
    let name = to.map(socket2::SockAddr::from);
    let mut iovs: Vec<libc::iovec> = datagrams
        .iter()
        .take(n)
        .map(|d| libc::iovec {
            iov_base: d.as_ptr() as *mut libc::c_void,
            iov_len: d.len(),
        })
        .collect();
    // SAFETY: all-zero is a valid mmsghdr.
    let mut msgs: [libc::mmsghdr; BATCH] = unsafe { std::mem::zeroed() };
    for (m, iov) in msgs.iter_mut().zip(iovs.iter_mut()) {
        m.msg_hdr.msg_iov = iov;
        m.msg_hdr.msg_iovlen = 1;
        if let Some(a) = &name {
            m.msg_hdr.msg_name = a.as_ptr() as *mut libc::c_void;
            m.msg_hdr.msg_namelen = a.len();
        }
    }
    // SAFETY: the first n headers point at our datagrams (read only by
    // the kernel) and at `name`, alive for the call.
    let r = unsafe {
        libc::sendmmsg(
            sock.as_raw_fd(),
            msgs.as_mut_ptr(),
            n as libc::c_uint,
            libc::MSG_DONTWAIT,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(r as usize)
}

#[cfg(not(target_os = "linux"))]
fn send_now(sock: &UdpSocket, datagrams: &[Vec<u8>], to: Option<SocketAddr>) -> io::Result<usize> {
    let Some(d) = datagrams.first() else {
        return Ok(0);
    };
    match to {
        Some(a) => sock.try_send_to(d, a)?,
        None => sock.try_send(d)?,
    };
    Ok(1)
}
