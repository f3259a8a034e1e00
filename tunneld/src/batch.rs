// SPDX-License-Identifier: MPL-2.0
//! Batched datagram I/O for the data channel's threads
//! ([`crate::fastpath`]): on Linux `recvmmsg(2)` and `sendmmsg(2)` move
//! up to [`BATCH`] datagrams per system call, with UDP GSO (runs of
//! equal-size datagrams sent as one message) and UDP GRO (the kernel
//! hands over several received datagrams of one size in one buffer)
//! unless `udp_offload = false`; elsewhere `recvfrom(2)` and `sendto(2)`
//! move one.

use std::io;
use std::net::SocketAddr;


/// Most datagrams moved by one call.
pub const BATCH: usize = 32;

/// Receive buffers for up to [`BATCH`] datagrams.
pub struct RecvBatch {
    bufs: Vec<Vec<u8>>,
    lens: Vec<usize>,
    from: Vec<Option<SocketAddr>>,
    /// UDP GRO: the size of each datagram coalesced into buffer i (0:
    /// the buffer holds one datagram).
    segs: Vec<usize>,
    count: usize,
}

impl RecvBatch {
    /// `size`: the largest datagram expected.
    pub fn new(size: usize) -> RecvBatch {
        RecvBatch {
            bufs: vec![vec![0u8; size]; BATCH],
            lens: vec![0; BATCH],
            from: vec![None; BATCH],
            segs: vec![0; BATCH],
            count: 0,
        }
    }

    /// Buffer `i` of the last [`RecvBatch::recv_fd`]: its bytes (mutable,
    /// for decryption in place), sender, and the size of each datagram in
    /// it (the whole buffer is one datagram unless UDP GRO coalesced
    /// several of one size, the last possibly shorter: split it with
    /// `chunks_mut`).
    pub fn get(&mut self, i: usize) -> Option<(&mut [u8], Option<SocketAddr>, usize)> {
        if i >= self.count {
            return None;
        }
        let len = *self.lens.get(i)?;
        let from = *self.from.get(i)?;
        let seg = match *self.segs.get(i)? {
            0 => len.max(1),
            s => s,
        };
        Some((self.bufs.get_mut(i)?.get_mut(..len)?, from, seg))
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
        // Room for one UDP_GRO control message per datagram (u64s: aligned
        // for cmsghdr).
        let mut controls = [[0u64; 8]; BATCH];
        // SAFETY: all-zero is a valid mmsghdr (null pointers, zero lengths).
        let mut msgs: [libc::mmsghdr; BATCH] = unsafe { std::mem::zeroed() };
        for (((m, iov), name), control) in msgs.iter_mut().zip(iovs.iter_mut()).zip(names.iter_mut()).zip(controls.iter_mut()) {
            m.msg_hdr.msg_iov = iov;
            m.msg_hdr.msg_iovlen = 1;
            m.msg_hdr.msg_name = (name as *mut libc::sockaddr_storage).cast();
            m.msg_hdr.msg_namelen =
                std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            m.msg_hdr.msg_control = control.as_mut_ptr().cast();
            m.msg_hdr.msg_controllen = std::mem::size_of_val(control);
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
            if let Some(seg) = self.segs.get_mut(i) {
                *seg = gro_size(&m.msg_hdr);
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

/// `UDP_SEGMENT` and `UDP_GRO`, socket options of level `SOL_UDP`
/// (Linux, include/uapi/linux/udp.h; since 4.18 and 5.0): the size of
/// each datagram a send cuts its payload into (UDP GSO), and receiving
/// several datagrams of one flow coalesced, with their size in a
/// control message of the same type (UDP GRO).
#[cfg(target_os = "linux")]
const UDP_SEGMENT: libc::c_int = 103;
#[cfg(target_os = "linux")]
const UDP_GRO: libc::c_int = 104;
/// Most datagrams one UDP GSO send may carry (`UDP_MAX_SEGMENTS`, Linux
/// include/linux/udp.h) and most bytes (one IP packet's worth).
#[cfg(target_os = "linux")]
const GSO_MAX_SEGMENTS: usize = 64;
#[cfg(target_os = "linux")]
const GSO_MAX_BYTES: usize = 65_000;

/// The UDP_GRO size in a received message's control data (0: none).
#[cfg(target_os = "linux")]
fn gro_size(h: &libc::msghdr) -> usize {
    if h.msg_controllen == 0 || h.msg_control.is_null() {
        return 0;
    }
    // SAFETY: h is a header recvmmsg filled in; its control buffer is
    // ours and msg_controllen says how much of it the kernel wrote; the
    // CMSG_* macros stay inside it.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(h);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_UDP && (*c).cmsg_type == UDP_GRO {
                let mut v: libc::c_int = 0;
                std::ptr::copy_nonoverlapping(libc::CMSG_DATA(c), (&mut v as *mut libc::c_int).cast::<u8>(), std::mem::size_of::<libc::c_int>());
                return usize::try_from(v).unwrap_or(0);
            }
            c = libc::CMSG_NXTHDR(h, c);
        }
    }
    0
}

/// Ask the kernel to coalesce received datagrams (UDP GRO): true if it
/// accepted.  Only on Linux.
pub fn enable_gro(fd: std::os::fd::RawFd) -> bool {
    #[cfg(target_os = "linux")]
    {
        let on: libc::c_int = 1;
        // SAFETY: setsockopt reads one c_int from &on for the call.
        let r = unsafe {
            libc::setsockopt(
                fd,
                libc::SOL_UDP,
                UDP_GRO,
                (&on as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        r == 0
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = fd;
        false
    }
}

/// What one send call did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sent {
    /// Datagrams the kernel took.
    pub datagrams: usize,
    /// Of them, how many went out in UDP GSO sends (several per message).
    pub segmented: usize,
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
/// on a connected socket, with one `sendmmsg(2)`: how many the kernel
/// took, or the error of the first.  With `gso`, each run of datagrams of
/// one size (the last of a run may be shorter) is one message whose
/// iovecs the kernel cuts at that size (UDP GSO, `UDP_SEGMENT`): one trip
/// through the stack for the run; the wire sees the same datagrams.  A
/// kernel or path that refuses GSO (EIO, EINVAL) gets the same datagrams
/// one per message.
#[cfg(target_os = "linux")]
pub fn send_fd(fd: std::os::fd::RawFd, datagrams: &[Vec<u8>], to: Option<SocketAddr>, gso: bool) -> io::Result<Sent> {
    let n = datagrams.len().min(BATCH);
    let name = to.map(socket2::SockAddr::from);
    let iovs: Vec<libc::iovec> =
        datagrams.iter().take(n).map(|d| libc::iovec { iov_base: d.as_ptr() as *mut libc::c_void, iov_len: d.len() }).collect();
    // Runs: (first, count, segment size).
    let mut runs: Vec<(usize, usize, usize)> = Vec::with_capacity(n);
    let mut i = 0;
    while i < n {
        let size = iovs.get(i).map_or(0, |v| v.iov_len);
        let mut j = i + 1;
        if gso && size > 0 {
            let fits = |count: usize, extra: usize| count < GSO_MAX_SEGMENTS && count * size + extra <= GSO_MAX_BYTES;
            while j < n && fits(j - i, size) && iovs.get(j).is_some_and(|v| v.iov_len == size) {
                j += 1;
            }
            if let Some(last) = iovs.get(j).map(|v| v.iov_len)
                && last > 0
                && last < size
                && fits(j - i, last)
            {
                j += 1;
            }
        }
        runs.push((i, j - i, size));
        i = j;
    }
    let mut controls = vec![[0u64; 4]; runs.len()];
    // SAFETY: all-zero is a valid mmsghdr (null pointers, zero lengths).
    let mut msgs: Vec<libc::mmsghdr> = vec![unsafe { std::mem::zeroed() }; runs.len()];
    for ((m, &(first, count, size)), control) in msgs.iter_mut().zip(&runs).zip(controls.iter_mut()) {
        let Some(iov) = iovs.get(first) else { break };
        m.msg_hdr.msg_iov = iov as *const libc::iovec as *mut libc::iovec;
        m.msg_hdr.msg_iovlen = count;
        if let Some(a) = &name {
            m.msg_hdr.msg_name = a.as_ptr() as *mut libc::c_void;
            m.msg_hdr.msg_namelen = a.len();
        }
        if count > 1 {
            let seg = u16::try_from(size).unwrap_or(u16::MAX);
            // SAFETY: the control buffer (32 bytes, u64-aligned) holds one
            // cmsghdr with a u16 (CMSG_SPACE(2) = 24 on 64-bit Linux); the
            // CMSG_* macros stay inside it.
            unsafe {
                m.msg_hdr.msg_control = control.as_mut_ptr().cast();
                m.msg_hdr.msg_controllen = libc::CMSG_SPACE(2) as usize;
                let c = libc::CMSG_FIRSTHDR(&m.msg_hdr);
                if !c.is_null() {
                    (*c).cmsg_level = libc::SOL_UDP;
                    (*c).cmsg_type = UDP_SEGMENT;
                    (*c).cmsg_len = libc::CMSG_LEN(2) as usize;
                    std::ptr::copy_nonoverlapping((&seg as *const u16).cast::<u8>(), libc::CMSG_DATA(c), 2);
                }
            }
        }
    }
    // SAFETY: the headers point at our datagrams (only read by the
    // kernel), at `iovs`, `controls` and `name`, all alive for the call.
    let r = unsafe { libc::sendmmsg(fd, msgs.as_mut_ptr(), msgs.len() as libc::c_uint, libc::MSG_DONTWAIT) };
    if r < 0 {
        let e = io::Error::last_os_error();
        if gso && runs.first().is_some_and(|r| r.1 > 1) && matches!(e.raw_os_error(), Some(libc::EIO | libc::EINVAL)) {
            return send_fd(fd, datagrams, to, false);
        }
        return Err(e);
    }
    let mut sent = Sent::default();
    for &(_, count, _) in runs.iter().take(r as usize) {
        sent.datagrams += count;
        if count > 1 {
            sent.segmented += count;
        }
    }
    Ok(sent)
}

/// Send the first of `datagrams` on `fd` now (non-blocking).
#[cfg(not(target_os = "linux"))]
pub fn send_fd(fd: std::os::fd::RawFd, datagrams: &[Vec<u8>], to: Option<SocketAddr>, _gso: bool) -> io::Result<Sent> {
    let Some(d) = datagrams.first() else { return Ok(Sent::default()) };
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
    Ok(Sent { datagrams: 1, segmented: 0 })
}
