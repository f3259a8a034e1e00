// SPDX-License-Identifier: MPL-2.0
//! The tuntap driver's API on illumos: open `/dev/tun` or `/dev/tap`,
//! attach the queue to a link by name with `TUN_IOC_ATTACH` (an `I_STR`
//! ioctl), read the link's MTU with `TUN_IOC_INFO`, put the stream head
//! in message-discard read mode so one `read(2)` returns one packet (or,
//! with batched reads on — `TUN_IOC_BATCH`, where the driver has it — one
//! run of framed records, handed to the daemon one packet at a time as a
//! burst), and write several packets per `write(2)` (batched writes,
//! gathered by [`BatchWriter`] until a flush) or one.  With offload on
//! (`TUN_IOC_OFFLOAD`, the virtio-net header) IP hands the queue partial
//! checksums and large TCP segments, finished and cut by [`super::gso`].
//! [`IllumosTun::attach_queues`] opens several queues of a multi-queue
//! link.  Closing the descriptor detaches the queue (a transient link
//! goes away with its last queue).
//!
//! The descriptor is non-blocking; a reader that would block waits in
//! `poll(2)` with a short timeout so [`Device::close`] is noticed.  Every
//! use of the descriptor holds a read lock on it; `close` detaches,
//! takes the write lock and closes it.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::{Mutex, RwLock};
use std::sync::atomic::{AtomicBool, Ordering};

use illumos_sys_hdrs as sys;
use std::sync::Arc;

use tuntap_abi::batch::{self, TunIocBatch, batch_flags};
use tuntap_abi::offload::{TunIocOffload, offload_flags};
use tuntap_abi::{self as abi, Pod, TunIocAttach, TunIocInfo};

use super::records::{BatchWriter, Records};
use super::{Device, DeviceError, Features, Flushed, Mode};


/// A queue of the tuntap driver attached to a link.
pub struct IllumosTun {
    fd: RwLock<Option<OwnedFd>>,
    closed: AtomicBool,
    name: String,
    mode: Mode,
    mtu: usize,
    /// Batched reads are on (`TUN_IOC_BATCH`, tun(4D)): each read is a
    /// run of records up to `read_max`, handed out one packet at a time.
    batched: Option<Mutex<Batch>>,
    /// Batched writes are on: packets gather here until a flush.
    writer: Option<BatchWriter>,
    /// The flags batching was turned on with (to ask for its counters).
    batch_req: TunIocBatch,
    /// The virtio-net header is on.
    offload: bool,
}

/// The buffer of batched reads and the records not handed out yet.
struct Batch {
    buf: Vec<u8>,
    records: Records,
}

fn last_error(what: &str) -> io::Error {
    let e = io::Error::last_os_error();
    io::Error::new(e.kind(), format!("{what}: {e}"))
}

/// An `I_STR` ioctl whose payload `value` goes in and comes back.
fn istr<T: Pod>(fd: libc::c_int, cmd: i32, value: &mut T) -> io::Result<()> {
    let mut strioc = sys::strioctl {
        ic_cmd: cmd,
        ic_timout: 0,
        ic_len: std::mem::size_of::<T>() as libc::c_int,
        ic_dp: (value as *mut T).cast(),
    };
    // SAFETY: I_STR reads a struct strioctl whose ic_dp points at
    // ic_len bytes we own (value), which the driver may overwrite with
    // at most ic_len bytes of the same structure.
    if unsafe { libc::ioctl(fd, sys::I_STR as _, &mut strioc as *mut sys::strioctl) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

impl IllumosTun {
    /// Open the node for `mode` and attach to link `name`.
    pub fn attach(name: &str, mode: Mode) -> io::Result<IllumosTun> {
        Self::attach_features(name, mode, 0, Features::default())
    }

    /// `n` queues of link `name` (`MULTI_QUEUE`) as one [`Device`] whose
    /// queues the daemon reads with a thread each (one queue: just it).
    pub fn attach_queues(name: &str, mode: Mode, n: usize, features: Features) -> io::Result<Arc<dyn Device>> {
        if n <= 1 {
            return Ok(Arc::new(Self::attach_features(name, mode, 0, features)?));
        }
        let queues = (0..n)
            .map(|_| Self::attach_features(name, mode, abi::attach_flags::MULTI_QUEUE, features).map(|q| Arc::new(q) as Arc<dyn Device>))
            .collect::<io::Result<Vec<_>>>()?;
        let all = super::queues::Queues::new(queues).ok_or_else(|| io::Error::other("no queue"))?;
        Ok(Arc::new(all))
    }

    /// As [`IllumosTun::attach`], with extra attach flags and batched
    /// writes and offload as `features` asks (each where the driver has
    /// it).
    pub fn attach_features(name: &str, mode: Mode, extra_flags: u32, features: Features) -> io::Result<IllumosTun> {
        let (path, flag) = match mode {
            Mode::Tun => ("/dev/tun", abi::mode::TUN),
            Mode::Tap => ("/dev/tap", abi::mode::TAP),
        };
        let mut req = TunIocAttach::new(name, flag | extra_flags)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, format!("link name {name:?}: {e}")))?;
        let cpath = CString::new(path).map_err(io::Error::other)?;
        // SAFETY: a NUL-terminated path and plain flags.
        let raw = unsafe { libc::open(cpath.as_ptr(), libc::O_RDWR | libc::O_CLOEXEC | libc::O_NONBLOCK) };
        if raw < 0 {
            return Err(last_error(&format!("open {path}")));
        }
        // SAFETY: open just returned this descriptor; nothing else owns it.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        istr(raw, abi::TUN_IOC_ATTACH, &mut req)
            .map_err(|e| io::Error::new(e.kind(), format!("attach {path} to link {name}: {e}")))?;
        let mut info = TunIocInfo { version: abi::TUN_ABI_VERSION, ..TunIocInfo::default() };
        istr(raw, abi::TUN_IOC_INFO, &mut info).map_err(|e| io::Error::new(e.kind(), format!("describe link {name}: {e}")))?;
        // SAFETY: I_SRDOPT takes an int mode by value.
        if unsafe { libc::ioctl(raw, sys::I_SRDOPT as _, sys::RMSGD as libc::c_long) } < 0 {
            return Err(last_error(&format!("I_SRDOPT RMSGD on {path}")));
        }
        // Batched reads where the driver has them; an older driver
        // answers EINVAL or ENOTSUP and reads stay one packet each.
        let flags = if features.batch_writes { batch_flags::ALL } else { batch_flags::READ };
        let batch_req = TunIocBatch { version: abi::TUN_ABI_VERSION, flags, ..TunIocBatch::default() };
        let mut req = batch_req;
        let batched = istr(raw, abi::TUN_IOC_BATCH, &mut req).ok().map(|()| {
            let size = (req.read_max as usize).max(batch::READ_MAX_DEFAULT as usize);
            Mutex::new(Batch { buf: vec![0u8; size], records: Records::default() })
        });
        // Offload only with batched reads (a large segment's pieces leave
        // as one burst); a driver without it refuses, packets stay plain.
        let mut req = TunIocOffload { version: abi::TUN_ABI_VERSION, flags: offload_flags::ALL, ..TunIocOffload::default() };
        let offload = features.offload && batched.is_some() && istr(raw, abi::TUN_IOC_OFFLOAD, &mut req).is_ok();
        let prefix: &'static [u8] = if offload { &super::gso::WRITE_HDR } else { &[] };
        let writer = (batched.is_some() && features.batch_writes).then(|| BatchWriter::new(mode.max_packet(info.mtu as usize), prefix));
        Ok(IllumosTun {
            fd: RwLock::new(Some(fd)),
            closed: AtomicBool::new(false),
            name: name.to_string(),
            mode,
            mtu: info.mtu as usize,
            batched,
            writer,
            batch_req,
            offload,
        })
    }

    /// One `write(2)` of `bytes`, waiting while the stream is full.
    fn write_once(&self, bytes: &[u8]) -> Result<(), DeviceError> {
        loop {
            let done = self.with_fd(|fd| {
                // SAFETY: bytes is valid for its length; the read lock
                // keeps fd open for the call.
                let n = unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
                if n >= 0 {
                    return Ok(true);
                }
                let e = io::Error::last_os_error();
                match e.kind() {
                    io::ErrorKind::WouldBlock => self.wait(fd, libc::POLLOUT).map(|()| false),
                    io::ErrorKind::Interrupted => Ok(false),
                    _ => Err(classify(e)),
                }
            })?;
            if done {
                return Ok(());
            }
        }
    }

    /// `TUN_IOC_BATCH` with the flags in force: the refusal counters.
    fn batch_status(&self) -> Option<TunIocBatch> {
        let mut req = self.batch_req;
        self.with_fd(|fd| istr(fd, abi::TUN_IOC_BATCH, &mut req).map_err(DeviceError::Io)).ok().map(|()| req)
    }

    /// One `read(2)` of a whole message (a packet, or a run of records
    /// when reads are batched), waiting for one to arrive.
    fn read_once(&self, buf: &mut [u8]) -> Result<usize, DeviceError> {
        loop {
            let step = self.with_fd(|fd| {
                // SAFETY: buf is valid for buf.len() bytes; the read lock
                // keeps fd open for the call.
                let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
                if n > 0 {
                    return Ok(Some(n as usize));
                }
                if n == 0 {
                    // End of file on a stream: hangup.
                    return Err(DeviceError::Gone("the driver hung up the queue (link deleted?)".into()));
                }
                let e = io::Error::last_os_error();
                match e.kind() {
                    io::ErrorKind::WouldBlock => self.wait(fd, libc::POLLIN).map(|()| None),
                    io::ErrorKind::Interrupted => Ok(None),
                    _ => Err(classify(e)),
                }
            })?;
            if let Some(n) = step {
                return Ok(n);
            }
        }
    }

    fn wait(&self, fd: libc::c_int, events: libc::c_short) -> Result<(), DeviceError> {
        let revents = super::fdpoll::wait_fd(&self.closed, fd, events)?;
        if revents & libc::POLLHUP != 0 {
            return Err(DeviceError::Gone("the driver hung up the queue (link deleted?)".into()));
        }
        Ok(())
    }

    fn with_fd<R>(&self, f: impl FnOnce(libc::c_int) -> Result<R, DeviceError>) -> Result<R, DeviceError> {
        if self.closed.load(Ordering::SeqCst) {
            return Err(DeviceError::Closed);
        }
        let guard = self.fd.read().unwrap_or_else(|e| e.into_inner());
        match guard.as_ref() {
            Some(fd) => f(fd.as_raw_fd()),
            None => Err(DeviceError::Closed),
        }
    }
}

fn classify(e: io::Error) -> DeviceError {
    match e.raw_os_error() {
        Some(libc::ENXIO) | Some(libc::ENODEV) => DeviceError::Gone(format!("the link is gone: {e}")),
        _ => DeviceError::Io(e),
    }
}

impl Device for IllumosTun {
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
        if let Some(batch) = &self.batched {
            let mut batch = batch.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(n) = batch.records.next(buf) {
                return Ok(n);
            }
            let Batch { buf: read_buf, records } = &mut *batch;
            let n = self.read_once(read_buf)?;
            let read = read_buf.get(..n).unwrap_or_default().to_vec();
            if self.offload {
                let bad = records.fill_offload(read, self.mode == Mode::Tap).map_err(|e| DeviceError::Io(io::Error::other(e)))?;
                if bad > 0 {
                    tracing::debug!("link {}: {bad} records with a virtio-net header that does not describe the packet", self.name);
                }
            } else {
                records.fill(read).map_err(|e| DeviceError::Io(io::Error::other(e)))?;
            }
            return records.next(buf).ok_or_else(|| DeviceError::Io(io::Error::other("empty batched read")));
        }
        self.read_once(buf)
    }
    fn try_read_packet(&self, buf: &mut [u8]) -> Result<Option<usize>, DeviceError> {
        Ok(self.batched.as_ref().and_then(|b| b.lock().unwrap_or_else(|e| e.into_inner()).records.next(buf)))
    }
    fn write_packet(&self, packet: &[u8]) -> Result<(), DeviceError> {
        if let Some(w) = &self.writer {
            return w.write_now(packet, |b| self.write_once(b), || self.batch_status());
        }
        if self.offload {
            return self.write_once(&super::gso::with_write_hdr(packet));
        }
        self.write_once(packet)
    }
    fn queue_packet(&self, packet: &[u8]) -> Flushed {
        match &self.writer {
            Some(w) => w.queue(packet, |b| self.write_once(b)),
            // Through write_packet: an offloading queue needs the header.
            None => Flushed::one(self.write_packet(packet), packet.len()),
        }
    }
    fn flush(&self) -> Flushed {
        match &self.writer {
            Some(w) => w.flush(|b| self.write_once(b), || self.batch_status()),
            None => Flushed::default(),
        }
    }
    fn set_carrier(&self, up: bool) {
        // TUN_IOC_SET_CARRIER on the queue: a u32, 1 on, 0 off.
        let mut value = u32::from(up);
        let _ = self.with_fd(|fd| istr(fd, abi::TUN_IOC_SET_CARRIER, &mut value).map_err(DeviceError::Io));
    }
    fn close(&self) {
        if self.closed.swap(true, Ordering::SeqCst) {
            return;
        }
        let fd = self.fd.write().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(fd) = fd {
            let mut strioc = sys::strioctl { ic_cmd: abi::TUN_IOC_DETACH, ic_timout: 0, ic_len: 0, ic_dp: std::ptr::null_mut() };
            // SAFETY: an I_STR with no payload on our descriptor.
            let _ = unsafe { libc::ioctl(fd.as_raw_fd(), sys::I_STR as _, &mut strioc as *mut sys::strioctl) };
            drop(fd);
        }
    }
}
