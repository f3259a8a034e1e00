// SPDX-License-Identifier: MPL-2.0
//! Linux's `/dev/net/tun` (`IFF_TUN` or `IFF_TAP`, `IFF_NO_PI`), so
//! the daemon can be measured next to other VPNs on Linux.
//!
//! The interface is created by `TUNSETIFF` and vanishes when the file
//! descriptor closes (it is not made persistent), so a stopped daemon
//! leaves nothing behind.  Addresses and link state are the
//! administrator's (`ip addr`, `ip link set up`), as `ipadm` is on
//! illumos; the daemon sets only the MTU.
//!
//! With offload ([`LinuxTun::open_with`]), the tun is opened with
//! `IFF_VNET_HDR` and `TUNSETOFFLOAD` (`TUN_F_CSUM`, `TUN_F_TSO4/6`, and
//! `TUN_F_USO4/6` where the kernel has them, 6.2+), so the stack hands
//! the daemon TCP (UDP) packets of up to 64 KB with partial checksums;
//! [`super::vnet`] checks each header, cuts such packets into wire-size
//! packets (returned one per read, the rest from the held packet without
//! a system call) and merges received TCP segments into one write the
//! kernel segments again.  A kernel without `IFF_VNET_HDR` or
//! `TUNSETOFFLOAD` gets a tun without offload (the daemon logs it); the
//! data channel carries the same packets either way.  Tap links are
//! opened without offload.
//!
//! The descriptor is non-blocking: reads and writes that would block
//! wait in `poll(2)` with a short timeout so [`Device::close`] is
//! noticed.  Every use of the descriptor holds a read lock on it;
//! `close` sets the closed flag, takes the write lock (waiting at most
//! one poll timeout) and closes the descriptor, which removes the
//! interface.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, RwLock};

use super::vnet::{self, Coalescer, Plan, Segments, VnetHdr};
use super::{Device, DeviceError, Flushed, Mode};

/// `TUNSETIFF = _IOW('T', 202, int)` (linux/if_tun.h).
const TUNSETIFF: libc::c_ulong = 0x4004_54ca;
/// `TUNSETCARRIER = _IOW('T', 226, int)` (linux/if_tun.h, Linux 5.0+).
const TUNSETCARRIER: libc::c_ulong = 0x4004_54e2;
const IFF_TUN: libc::c_short = 0x0001;
const IFF_TAP: libc::c_short = 0x0002;
const IFF_NO_PI: libc::c_short = 0x1000;
/// `IFF_VNET_HDR` (linux/if_tun.h): a `virtio_net_hdr` before each packet.
const IFF_VNET_HDR: libc::c_short = 0x4000;
/// `TUNSETOFFLOAD = _IOW('T', 208, unsigned int)` and its flags
/// (linux/if_tun.h; `TUN_F_USO4/6` since Linux 6.2).
const TUNSETOFFLOAD: libc::c_ulong = 0x4004_54d0;
const TUN_F_CSUM: libc::c_uint = 0x01;
const TUN_F_TSO4: libc::c_uint = 0x02;
const TUN_F_TSO6: libc::c_uint = 0x04;
const TUN_F_USO4: libc::c_uint = 0x20;
const TUN_F_USO6: libc::c_uint = 0x40;
/// `IFNAMSIZ` (linux/if.h), including the NUL.
const IFNAMSIZ: usize = 16;

/// `struct ifreq` with the members used here (linux/if.h): 40 bytes.
#[repr(C)]
struct IfReq {
    name: [u8; IFNAMSIZ],
    /// `ifr_flags` or `ifr_mtu`, then padding of the union.
    value: libc::c_int,
    _pad: [u8; 20],
}

impl IfReq {
    fn new(name: &str) -> IfReq {
        let mut req = IfReq { name: [0; IFNAMSIZ], value: 0, _pad: [0; 20] };
        req.name[..name.len()].copy_from_slice(name.as_bytes());
        req
    }
}

/// A `/dev/net/tun` interface owned by this process.
pub struct LinuxTun {
    fd: RwLock<Option<OwnedFd>>,
    closed: AtomicBool,
    name: String,
    mode: Mode,
    mtu: usize,
    /// Set when opened with `IFF_VNET_HDR` and offload.
    offload: Option<Offload>,
}

/// The offload state of a tun opened with `IFF_VNET_HDR`.
struct Offload {
    /// The packet last read, being cut into segments.
    read: Mutex<Held>,
    /// TCP segments being merged into one write.
    write: Mutex<Coalescer>,
    stats: OffloadStats,
    /// The `TUN_F_*` flags the kernel accepted.
    flags: libc::c_uint,
}

/// A packet read from the tun, behind its header.
struct Held {
    buf: Vec<u8>,
    len: usize,
    cutting: Option<Segments>,
}

/// What the offload did, for tests and benchmarks (the daemon's own
/// counters count packets as usual).
#[derive(Debug, Default)]
pub struct OffloadStats {
    /// Packets of up to 64 KB read to be cut, and the segments cut.
    pub gso_reads: AtomicU64,
    pub gso_segments: AtomicU64,
    /// Whole packets whose partial checksum was completed.
    pub checksums_completed: AtomicU64,
    /// Reads refused for their virtio header (dropped).
    pub refused: AtomicU64,
    /// Writes of several merged segments, and the segments in them.
    pub coalesced_writes: AtomicU64,
    pub coalesced_segments: AtomicU64,
}

impl OffloadStats {
    pub fn get(v: &AtomicU64) -> u64 {
        v.load(Ordering::Relaxed)
    }
}

fn last_error(what: &str) -> io::Error {
    let e = io::Error::last_os_error();
    io::Error::new(e.kind(), format!("{what}: {e}"))
}

impl LinuxTun {
    /// Create (or attach to) interface `name` in the calling thread's
    /// network namespace and set its MTU.
    pub fn open(name: &str, mode: Mode, mtu: usize) -> io::Result<LinuxTun> {
        LinuxTun::open_with(name, mode, mtu, false)
    }

    /// [`LinuxTun::open`], with checksum and segmentation offload if
    /// `offload` (tun mode only) and the kernel has it.
    pub fn open_with(name: &str, mode: Mode, mtu: usize, offload: bool) -> io::Result<LinuxTun> {
        let offload = offload && mode == Mode::Tun;
        match LinuxTun::create(name, mode, mtu, offload) {
            Err(e) if offload && e.raw_os_error() == Some(libc::EINVAL) => {
                tracing::warn!("link {name}: the kernel refused IFF_VNET_HDR or TUNSETOFFLOAD ({e}); running without offload");
                LinuxTun::create(name, mode, mtu, false)
            }
            r => r,
        }
    }

    fn create(name: &str, mode: Mode, mtu: usize, offload: bool) -> io::Result<LinuxTun> {
        if name.is_empty() || name.len() >= IFNAMSIZ || name.contains(['/', ' ', '\0']) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{name:?} is not a Linux interface name (1 to {} characters, no '/' or space)", IFNAMSIZ - 1),
            ));
        }
        let path = CString::new("/dev/net/tun").map_err(io::Error::other)?;
        // SAFETY: a NUL-terminated path and plain flags.
        let raw = unsafe { libc::open(path.as_ptr(), libc::O_RDWR | libc::O_CLOEXEC | libc::O_NONBLOCK) };
        if raw < 0 {
            return Err(last_error("open /dev/net/tun"));
        }
        // SAFETY: open just returned this descriptor; nothing else owns it.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let mut req = IfReq::new(name);
        let vnet = if offload { IFF_VNET_HDR } else { 0 };
        req.value = libc::c_int::from(IFF_NO_PI | vnet | if mode == Mode::Tap { IFF_TAP } else { IFF_TUN });
        // SAFETY: TUNSETIFF reads and writes one struct ifreq, which req is.
        if unsafe { libc::ioctl(fd.as_raw_fd(), TUNSETIFF, &mut req as *mut IfReq) } < 0 {
            return Err(last_error(&format!("TUNSETIFF {name}")));
        }
        let offload = if offload { Some(set_offload(&fd, name)?) } else { None };
        set_mtu(name, mtu)?;
        Ok(LinuxTun { fd: RwLock::new(Some(fd)), closed: AtomicBool::new(false), name: name.to_string(), mode, mtu, offload })
    }

    /// True if the tun carries virtio headers with offload.
    pub fn offloading(&self) -> bool {
        self.offload.is_some()
    }

    /// The `TUN_F_*` flags in force (0 without offload).
    pub fn offload_flags(&self) -> u32 {
        self.offload.as_ref().map_or(0, |o| o.flags)
    }

    /// What the offload did so far (None without offload).
    pub fn offload_stats(&self) -> Option<&OffloadStats> {
        self.offload.as_ref().map(|o| &o.stats)
    }

    /// [`LinuxTun::open`] inside the network namespace at `netns` (e.g.
    /// `/var/run/netns/a`): a helper thread enters it, creates the
    /// interface there and ends; the interface stays in that namespace.
    pub fn open_in_netns(netns: &Path, name: &str, mode: Mode, mtu: usize) -> io::Result<LinuxTun> {
        LinuxTun::open_in_netns_with(netns, name, mode, mtu, false)
    }

    /// [`LinuxTun::open_with`] inside the network namespace at `netns`.
    pub fn open_in_netns_with(netns: &Path, name: &str, mode: Mode, mtu: usize, offload: bool) -> io::Result<LinuxTun> {
        let netns = netns.to_path_buf();
        let name = name.to_string();
        std::thread::spawn(move || {
            let file = std::fs::File::open(&netns).map_err(|e| io::Error::new(e.kind(), format!("network namespace {}: {e}", netns.display())))?;
            // SAFETY: setns on a namespace fd we hold, for this thread only
            // (the thread ends right after).
            if unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) } < 0 {
                return Err(last_error(&format!("setns {}", netns.display())));
            }
            LinuxTun::open_with(&name, mode, mtu, offload)
        })
        .join()
        .map_err(|_| io::Error::other("the namespace helper thread panicked"))?
    }

    /// One read or write on the descriptor, `call(fd)` returning what
    /// the system call does: its count, or None if it would block and
    /// `blocking` is false (otherwise it waits in poll(2) for `events`).
    fn syscall(&self, events: libc::c_short, blocking: bool, mut call: impl FnMut(libc::c_int) -> isize) -> Result<Option<usize>, DeviceError> {
        loop {
            if self.closed.load(Ordering::SeqCst) {
                return Err(DeviceError::Closed);
            }
            let guard = self.fd.read().unwrap_or_else(|e| e.into_inner());
            let Some(fd) = guard.as_ref().map(AsRawFd::as_raw_fd) else {
                return Err(DeviceError::Closed);
            };
            let n = call(fd);
            if n >= 0 {
                return Ok(Some(n as usize));
            }
            let e = io::Error::last_os_error();
            match e.kind() {
                io::ErrorKind::WouldBlock if blocking => self.wait(fd, events)?,
                io::ErrorKind::WouldBlock => return Ok(None),
                io::ErrorKind::Interrupted => {}
                _ => return Err(DeviceError::Io(e)),
            }
        }
    }

    /// Write `parts` as one packet (writev(2)).
    fn write_parts(&self, parts: &[&[u8]]) -> Result<(), DeviceError> {
        let iov: Vec<libc::iovec> = parts.iter().map(|p| libc::iovec { iov_base: p.as_ptr() as *mut libc::c_void, iov_len: p.len() }).collect();
        // SAFETY: the iovecs point at `parts`, only read by the kernel and
        // alive for the call; the read lock keeps fd open.
        self.syscall(libc::POLLOUT, true, |fd| unsafe { libc::writev(fd, iov.as_ptr(), iov.len() as libc::c_int) }).map(|_| ())
    }

    /// Write what `merging` holds, one packet or several merged.
    fn write_merged(&self, merging: &mut Coalescer, o: &Offload) -> Result<(), DeviceError> {
        let segments = merging.held() as u64;
        let Some((h, packet)) = merging.take() else { return Ok(()) };
        if h.gso_type != vnet::GSO_NONE {
            o.stats.coalesced_writes.fetch_add(1, Ordering::Relaxed);
            o.stats.coalesced_segments.fetch_add(segments, Ordering::Relaxed);
        }
        self.write_parts(&[&vnet::header_bytes(&h), packet])
    }

    /// The next packet for `buf`: read from the descriptor, or the next
    /// segment of the packet being cut.  None: nothing now (`blocking`
    /// false).
    fn read(&self, buf: &mut [u8], blocking: bool) -> Result<Option<usize>, DeviceError> {
        let Some(o) = &self.offload else {
            // SAFETY: buf is valid for buf.len() bytes for the call.
            return self.syscall(libc::POLLIN, blocking, |fd| unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) });
        };
        let mut guard = o.read.lock().unwrap_or_else(|e| e.into_inner());
        let held = &mut *guard;
        loop {
            if let Some(cutting) = held.cutting.as_mut() {
                if let Some(n) = cutting.next(held.buf.get(vnet::HDR_LEN..held.len).unwrap_or_default(), buf) {
                    o.stats.gso_segments.fetch_add(1, Ordering::Relaxed);
                    return Ok(Some(n));
                }
                held.cutting = None;
            }
            let into = &mut held.buf;
            // SAFETY: `into` is valid for its length for the call.
            let Some(n) = self.syscall(libc::POLLIN, blocking, |fd| unsafe { libc::read(fd, into.as_mut_ptr().cast(), into.len()) })? else {
                return Ok(None);
            };
            held.len = n;
            let header = vnet::parse_header(held.buf.get(..n).unwrap_or_default());
            let packet = held.buf.get_mut(vnet::HDR_LEN..n).unwrap_or_default();
            let planned = header.ok_or(vnet::Refused::Short).and_then(|h| vnet::plan(&h, packet));
            match planned {
                Ok(Plan::Cut(g)) => {
                    o.stats.gso_reads.fetch_add(1, Ordering::Relaxed);
                    held.cutting = Some(Segments::new(g));
                }
                Ok(Plan::Whole { checksum }) => {
                    if let Some((start, offset)) = checksum {
                        vnet::complete_checksum(packet, start, offset);
                        o.stats.checksums_completed.fetch_add(1, Ordering::Relaxed);
                    }
                    if let Some(out) = buf.get_mut(..packet.len()) {
                        out.copy_from_slice(packet);
                        return Ok(Some(packet.len()));
                    }
                    self.refuse(o, header, packet.len(), "larger than the reader's buffer");
                }
                Err(why) => self.refuse(o, header, packet.len(), &format!("{why:?}")),
            }
        }
    }

    /// Count (and log the first few of) packets refused for their header.
    fn refuse(&self, o: &Offload, header: Option<VnetHdr>, len: usize, why: &str) {
        let n = o.stats.refused.fetch_add(1, Ordering::Relaxed) + 1;
        if n <= 5 {
            tracing::warn!("link {}: dropped a {len}-byte packet the kernel handed over with {header:?}: {why}", self.name);
        }
    }

    fn wait(&self, fd: libc::c_int, events: libc::c_short) -> Result<(), DeviceError> {
        let revents = super::fdpoll::wait_fd(&self.closed, fd, events)?;
        if revents & (libc::POLLERR | libc::POLLHUP | libc::POLLNVAL) != 0 && revents & events == 0 {
            return Err(DeviceError::Gone(format!("poll reported 0x{revents:x}")));
        }
        Ok(())
    }
}

/// Ask for checksum and TCP (and, where the kernel has it, UDP)
/// segmentation offload.
fn set_offload(fd: &OwnedFd, name: &str) -> io::Result<Offload> {
    let base = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6;
    let mut accepted = None;
    for flags in [base | TUN_F_USO4 | TUN_F_USO6, base] {
        // SAFETY: TUNSETOFFLOAD takes its flags as the argument itself.
        if unsafe { libc::ioctl(fd.as_raw_fd(), TUNSETOFFLOAD, libc::c_ulong::from(flags)) } == 0 {
            accepted = Some(flags);
            break;
        }
    }
    let flags = accepted.ok_or_else(|| last_error(&format!("TUNSETOFFLOAD {name}")))?;
    Ok(Offload {
        read: Mutex::new(Held { buf: vec![0u8; vnet::HDR_LEN + 65_536 + 64], len: 0, cutting: None }),
        write: Mutex::new(Coalescer::default()),
        stats: OffloadStats::default(),
        flags,
    })
}

fn set_mtu(name: &str, mtu: usize) -> io::Result<()> {
    // SAFETY: plain socket creation.
    let sock = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if sock < 0 {
        return Err(last_error("socket for SIOCSIFMTU"));
    }
    // SAFETY: socket just returned this descriptor.
    let sock = unsafe { OwnedFd::from_raw_fd(sock) };
    let mut req = IfReq::new(name);
    req.value = libc::c_int::try_from(mtu).map_err(io::Error::other)?;
    // SAFETY: SIOCSIFMTU reads one struct ifreq.
    if unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFMTU, &mut req as *mut IfReq) } < 0 {
        return Err(last_error(&format!("set MTU {mtu} on {name}")));
    }
    Ok(())
}

impl Device for LinuxTun {
    fn name(&self) -> &str {
        &self.name
    }
    fn mtu(&self) -> usize {
        self.mtu
    }
    fn mode(&self) -> Mode {
        self.mode
    }
    fn read_packet(&self, buf: &mut [u8]) -> Result<usize, DeviceError> {
        self.read(buf, true).map(|n| n.unwrap_or(0))
    }
    fn try_read_packet(&self, buf: &mut [u8]) -> Result<Option<usize>, DeviceError> {
        self.read(buf, false)
    }
    fn write_packet(&self, packet: &[u8]) -> Result<(), DeviceError> {
        let Some(o) = &self.offload else {
            return self.write_parts(&[packet]);
        };
        let mut merging = o.write.lock().unwrap_or_else(|e| e.into_inner());
        if !merging.offer(packet) {
            self.write_merged(&mut merging, o)?;
            if !merging.offer(packet) {
                return self.write_parts(&[&vnet::header_bytes(&VnetHdr::default()), packet]);
            }
        }
        if merging.closed() {
            self.write_merged(&mut merging, o)?;
        }
        Ok(())
    }
    fn flush(&self) -> Flushed {
        // The merged packets were counted as written when queued; a
        // failed merged write is one loss.
        let result = match &self.offload {
            Some(o) => self.write_merged(&mut o.write.lock().unwrap_or_else(|e| e.into_inner()), o),
            None => Ok(()),
        };
        match result {
            Ok(()) => Flushed::default(),
            Err(e) => Flushed { lost: 1, error: Some(e), ..Flushed::default() },
        }
    }
    fn set_carrier(&self, up: bool) {
        let guard = self.fd.read().unwrap_or_else(|e| e.into_inner());
        if let Some(fd) = guard.as_ref() {
            let on: libc::c_int = i32::from(up);
            // SAFETY: TUNSETCARRIER reads one int; older kernels fail with
            // EINVAL, which leaves the carrier as it was (up).
            let _ = unsafe { libc::ioctl(fd.as_raw_fd(), TUNSETCARRIER, &on as *const libc::c_int) };
        }
    }
    fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        let fd = self.fd.write().unwrap_or_else(|e| e.into_inner()).take();
        drop(fd);
    }
}
