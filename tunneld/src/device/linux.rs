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
use std::sync::RwLock;
use std::sync::atomic::{AtomicBool, Ordering};

use super::{Device, DeviceError, Mode};

/// `TUNSETIFF = _IOW('T', 202, int)` (linux/if_tun.h).
const TUNSETIFF: libc::c_ulong = 0x4004_54ca;
/// `TUNSETCARRIER = _IOW('T', 226, int)` (linux/if_tun.h, Linux 5.0+).
const TUNSETCARRIER: libc::c_ulong = 0x4004_54e2;
const IFF_TUN: libc::c_short = 0x0001;
const IFF_TAP: libc::c_short = 0x0002;
const IFF_NO_PI: libc::c_short = 0x1000;
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
}

fn last_error(what: &str) -> io::Error {
    let e = io::Error::last_os_error();
    io::Error::new(e.kind(), format!("{what}: {e}"))
}

impl LinuxTun {
    /// Create (or attach to) interface `name` in the calling thread's
    /// network namespace and set its MTU.
    pub fn open(name: &str, mode: Mode, mtu: usize) -> io::Result<LinuxTun> {
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
        req.value = libc::c_int::from(IFF_NO_PI | if mode == Mode::Tap { IFF_TAP } else { IFF_TUN });
        // SAFETY: TUNSETIFF reads and writes one struct ifreq, which req is.
        if unsafe { libc::ioctl(fd.as_raw_fd(), TUNSETIFF, &mut req as *mut IfReq) } < 0 {
            return Err(last_error(&format!("TUNSETIFF {name}")));
        }
        set_mtu(name, mtu)?;
        Ok(LinuxTun { fd: RwLock::new(Some(fd)), closed: AtomicBool::new(false), name: name.to_string(), mode, mtu })
    }

    /// [`LinuxTun::open`] inside the network namespace at `netns` (e.g.
    /// `/var/run/netns/a`): a helper thread enters it, creates the
    /// interface there and ends; the interface stays in that namespace.
    pub fn open_in_netns(netns: &Path, name: &str, mode: Mode, mtu: usize) -> io::Result<LinuxTun> {
        let netns = netns.to_path_buf();
        let name = name.to_string();
        std::thread::spawn(move || {
            let file = std::fs::File::open(&netns).map_err(|e| io::Error::new(e.kind(), format!("network namespace {}: {e}", netns.display())))?;
            // SAFETY: setns on a namespace fd we hold, for this thread only
            // (the thread ends right after).
            if unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) } < 0 {
                return Err(last_error(&format!("setns {}", netns.display())));
            }
            LinuxTun::open(&name, mode, mtu)
        })
        .join()
        .map_err(|_| io::Error::other("the namespace helper thread panicked"))?
    }

    fn wait(&self, fd: libc::c_int, events: libc::c_short) -> Result<(), DeviceError> {
        let revents = super::fdpoll::wait_fd(&self.closed, fd, events)?;
        if revents & (libc::POLLERR | libc::POLLHUP | libc::POLLNVAL) != 0 && revents & events == 0 {
            return Err(DeviceError::Gone(format!("poll reported 0x{revents:x}")));
        }
        Ok(())
    }
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
        loop {
            if self.closed.load(Ordering::SeqCst) {
                return Err(DeviceError::Closed);
            }
            let guard = self.fd.read().unwrap_or_else(|e| e.into_inner());
            let Some(fd) = guard.as_ref().map(AsRawFd::as_raw_fd) else {
                return Err(DeviceError::Closed);
            };
            // SAFETY: buf is valid for buf.len() bytes; the read lock
            // keeps fd open for the call.
            let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
            if n >= 0 {
                return Ok(n as usize);
            }
            let e = io::Error::last_os_error();
            match e.kind() {
                io::ErrorKind::WouldBlock => self.wait(fd, libc::POLLIN)?,
                io::ErrorKind::Interrupted => {}
                _ => return Err(DeviceError::Io(e)),
            }
        }
    }
    fn try_read_packet(&self, buf: &mut [u8]) -> Result<Option<usize>, DeviceError> {
        if self.closed.load(Ordering::SeqCst) {
            return Err(DeviceError::Closed);
        }
        let guard = self.fd.read().unwrap_or_else(|e| e.into_inner());
        let Some(fd) = guard.as_ref().map(AsRawFd::as_raw_fd) else {
            return Err(DeviceError::Closed);
        };
        // SAFETY: buf is valid for buf.len() bytes; the read lock keeps
        // fd open for the call.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        if n >= 0 {
            return Ok(Some(n as usize));
        }
        let e = io::Error::last_os_error();
        match e.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => Ok(None),
            _ => Err(DeviceError::Io(e)),
        }
    }
    fn write_packet(&self, packet: &[u8]) -> Result<(), DeviceError> {
        loop {
            if self.closed.load(Ordering::SeqCst) {
                return Err(DeviceError::Closed);
            }
            let guard = self.fd.read().unwrap_or_else(|e| e.into_inner());
            let Some(fd) = guard.as_ref().map(AsRawFd::as_raw_fd) else {
                return Err(DeviceError::Closed);
            };
            // SAFETY: packet is valid for its length; the read lock keeps
            // fd open for the call.
            let n = unsafe { libc::write(fd, packet.as_ptr().cast(), packet.len()) };
            if n >= 0 {
                return Ok(());
            }
            let e = io::Error::last_os_error();
            match e.kind() {
                io::ErrorKind::WouldBlock => self.wait(fd, libc::POLLOUT)?,
                io::ErrorKind::Interrupted => {}
                _ => return Err(DeviceError::Io(e)),
            }
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
