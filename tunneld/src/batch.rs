// SPDX-License-Identifier: MPL-2.0
//! Batched datagram I/O for the data channel's threads
//! ([`crate::fastpath`]): on Linux `recvmmsg(2)` and `sendmmsg(2)` move
//! up to [`BATCH`] datagrams per system call; elsewhere `recvfrom(2)`
//! and `sendto(2)` move one.

use std::io;
use std::net::SocketAddr;


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

    /// Datagram `i` of the last [`RecvBatch::recv_fd`]: its bytes (mutable,
    /// for decryption in place) and sender.
    pub fn get(&mut self, i: usize) -> Option<(&mut [u8], Option<SocketAddr>)> {
        if i >= self.count {
            return None;
        }
        let len = *self.lens.get(i)?;
        let from = *self.from.get(i)?;
        Some((self.bufs.get_mut(i)?.get_mut(..len)?, from))
    }

    /// Take the datagrams queued on `fd` now (non-blocking): their
    /// number, or WouldBlock.
    #[cfg(target_os = "linux")]
    pub fn recv_fd(&mut self, fd: std::os::fd::RawFd) -> io::Result<usize> {
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
                fd,
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
        self.count = n;
        Ok(n)
    }

    /// Take one datagram queued on `fd` now (non-blocking).
    #[cfg(not(target_os = "linux"))]
    pub fn recv_fd(&mut self, fd: std::os::fd::RawFd) -> io::Result<usize> {
        // SAFETY: all-zero is a valid sockaddr_storage.
        let mut name: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
        let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        let buf = self.bufs.get_mut(0).ok_or_else(|| io::Error::other("no buffer"))?;
        // SAFETY: buf and name are valid for their lengths for the call.
        let n = unsafe {
            libc::recvfrom(
                fd,
                buf.as_mut_ptr().cast(),
                buf.len(),
                libc::MSG_DONTWAIT,
                (&mut name as *mut libc::sockaddr_storage).cast(),
                &mut len,
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        if let (Some(l), Some(f)) = (self.lens.get_mut(0), self.from.get_mut(0)) {
            *l = n as usize;
            *f = from_storage(&name);
        }
        self.count = 1;
        Ok(1)
    }
}

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

/// Send up to [`BATCH`] datagrams on `fd` now (non-blocking), to `to` or
/// on a connected socket: how many the kernel took, or the error of the
/// first.
#[cfg(target_os = "linux")]
pub fn send_fd(fd: std::os::fd::RawFd, datagrams: &[Vec<u8>], to: Option<SocketAddr>) -> io::Result<usize> {
    let n = datagrams.len().min(BATCH);
    let name = to.map(socket2::SockAddr::from);
    let mut iovs: Vec<libc::iovec> =
        datagrams.iter().take(n).map(|d| libc::iovec { iov_base: d.as_ptr() as *mut libc::c_void, iov_len: d.len() }).collect();
    // SAFETY: all-zero is a valid mmsghdr (null pointers, zero lengths).
    let mut msgs: [libc::mmsghdr; BATCH] = unsafe { std::mem::zeroed() };
    for (m, iov) in msgs.iter_mut().zip(iovs.iter_mut()) {
        m.msg_hdr.msg_iov = iov;
        m.msg_hdr.msg_iovlen = 1;
        if let Some(a) = &name {
            m.msg_hdr.msg_name = a.as_ptr() as *mut libc::c_void;
            m.msg_hdr.msg_namelen = a.len();
        }
    }
    // SAFETY: the first n headers point at our datagrams (only read by
    // the kernel) and at `name`, all alive for the call.
    let r = unsafe { libc::sendmmsg(fd, msgs.as_mut_ptr(), n as libc::c_uint, libc::MSG_DONTWAIT) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(r as usize)
}

/// Send the first of `datagrams` on `fd` now (non-blocking).
#[cfg(not(target_os = "linux"))]
pub fn send_fd(fd: std::os::fd::RawFd, datagrams: &[Vec<u8>], to: Option<SocketAddr>) -> io::Result<usize> {
    let Some(d) = datagrams.first() else { return Ok(0) };
    let name = to.map(socket2::SockAddr::from);
    let (ptr, len) = match &name {
        Some(a) => (a.as_ptr().cast::<libc::sockaddr>(), a.len()),
        None => (std::ptr::null(), 0),
    };
    // SAFETY: d is valid for its length; ptr/len describe `name` (or are
    // null/0 on a connected socket), alive for the call.
    let r = unsafe { libc::sendto(fd, d.as_ptr().cast(), d.len(), libc::MSG_DONTWAIT, ptr, len) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(1)
}
