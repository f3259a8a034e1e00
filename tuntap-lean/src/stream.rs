// SPDX-License-Identifier: MPL-2.0
//! A trivial stream head, and [`Port`]: one open `/dev/tun` or `/dev/tap`
//! stream of a [`Driver`] as a process sees it (write, read, ioctl).
//!
//! The stream head keeps `M_DATA` messages the driver puts up in a
//! `b_next` FIFO bounded by the high/low water marks the driver asks for
//! with `M_SETOPTS`; `canputnext` refuses above the high mark and the
//! next read that brings the FIFO under the low mark runs the driver's
//! service procedure, as STREAMS back-enables a queue
//! (`usr/src/uts/common/os/putnext.c`, `canputnext`;
//! `usr/src/uts/common/os/strsubr.c`, `strread` and `qbackenable`).  A
//! write is one `M_DATA` block with the write offset in front, as
//! `strwrite` builds it (`strmakedata`).  Read copies one message into
//! the caller's buffer and discards the rest (`RMSGD`).  Ioctls are
//! `I_STR`: an `M_IOCTL` block with its payload in `b_cont`.

use std::cell::UnsafeCell;
use std::mem::size_of;
use std::ptr;
use std::sync::Arc;

use illumos_sys_hdrs::{self as sys, copyreq, copyresp, iocblk, mblk_t, queue_t, stroptions};
use tuntap_drv::ddi::{Cred, Errno, Kernel, StreamsEntry};

use crate::pool;
use crate::{Driver, Lean};

/// A lock for the stream head (not a driver lock: not counted).
struct Spin<T> {
    lock: crate::sync::LeanMutex,
    v: UnsafeCell<T>,
}

impl<T> Spin<T> {
    fn new(v: T) -> Self {
        Self { lock: <crate::sync::LeanMutex as tuntap_drv::ddi::RawMutex>::new(), v: UnsafeCell::new(v) }
    }
    fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        self.lock.acquire_uncounted();
        // SAFETY: the lock is held.
        let r = f(unsafe { &mut *self.v.get() });
        <crate::sync::LeanMutex as tuntap_drv::ddi::RawMutex>::exit(&self.lock);
        r
    }
}

struct Head {
    first: *mut mblk_t,
    last: *mut mblk_t,
    count: usize,
    bytes: usize,
    hiwat: usize,
    lowat: usize,
    wroff: usize,
    /// canputnext refused: back-enable when under the low mark.
    want_enable: bool,
    /// qenable was called: run the service procedure.
    enabled: bool,
    error: Option<u8>,
    replies: Vec<*mut mblk_t>,
}

/// The queue pair and stream head of one open stream.  `q[0]` is the
/// read queue and comes first, so a read-queue pointer is the stream's.
#[repr(C)]
struct Stream {
    q: [queue_t; 2],
    head: Spin<Head>,
}

/// # Safety
/// `q` is the read queue of a live [`Stream`].
unsafe fn stream_of_rq<'a>(q: *mut queue_t) -> &'a Stream {
    // SAFETY: q[0] is the first field of a repr(C) Stream.
    unsafe { &*q.cast::<Stream>() }
}

/// # Safety
/// `q` is either queue of a live [`Stream`].
unsafe fn stream_of_any<'a>(q: *mut queue_t) -> &'a Stream {
    // SAFETY: the write queue follows the read queue.
    unsafe {
        if (*q).q_flag & sys::QREADR != 0 { stream_of_rq(q) } else { stream_of_rq(q.sub(1)) }
    }
}

/// # Safety
/// `q` is the read queue of a live stream; `mp` is owned.
pub(crate) unsafe fn putnext(q: *mut queue_t, mp: *mut mblk_t) {
    // SAFETY: per the caller.
    let s = unsafe { stream_of_rq(q) };
    // SAFETY: mp is a valid owned message.
    let db_type = unsafe { (*(*mp).b_datap).db_type };
    match db_type {
        sys::M_DATA => {
            // SAFETY: valid message.
            let len = unsafe { pool::msgdsize(mp) };
            s.head.with(|h| {
                // SAFETY: mp is ours; last is the FIFO's last message.
                unsafe {
                    (*mp).b_next = ptr::null_mut();
                    if h.last.is_null() {
                        h.first = mp;
                    } else {
                        (*h.last).b_next = mp;
                    }
                }
                h.last = mp;
                h.count += 1;
                h.bytes += len;
            });
        }
        sys::M_SETOPTS => {
            // SAFETY: an M_SETOPTS block holds a stroptions (the driver
            // wrote it whole); read unaligned.
            let so: stroptions = unsafe { ptr::read_unaligned((*mp).b_rptr.cast()) };
            s.head.with(|h| {
                if so.so_flags & sys::SO_HIWAT != 0 {
                    h.hiwat = so.so_hiwat;
                }
                if so.so_flags & sys::SO_LOWAT != 0 {
                    h.lowat = so.so_lowat;
                }
                if so.so_flags & sys::SO_WROFF != 0 {
                    h.wroff = usize::from(so.so_wroff);
                }
            });
            // SAFETY: consumed.
            unsafe { pool::freemsg(mp) };
        }
        sys::M_ERROR => {
            // SAFETY: a two-byte M_ERROR.
            let e = unsafe { *(*mp).b_rptr };
            s.head.with(|h| h.error = Some(e));
            // SAFETY: consumed.
            unsafe { pool::freemsg(mp) };
        }
        _ => s.head.with(|h| h.replies.push(mp)),
    }
}

/// # Safety
/// `q` is the read queue of a live stream.
pub(crate) unsafe fn canputnext(q: *mut queue_t) -> bool {
    // SAFETY: per the caller.
    let s = unsafe { stream_of_rq(q) };
    s.head.with(|h| {
        if h.bytes >= h.hiwat {
            h.want_enable = true;
            false
        } else {
            true
        }
    })
}

/// # Safety
/// `q` is the write queue of a live stream; `mp` is owned.
pub(crate) unsafe fn qreply(q: *mut queue_t, mp: *mut mblk_t) {
    // SAFETY: per the caller.
    let s = unsafe { stream_of_any(q) };
    s.head.with(|h| h.replies.push(mp));
}

/// # Safety
/// `q` is a queue of a live stream.
pub(crate) unsafe fn qenable(q: *mut queue_t) {
    // SAFETY: per the caller.
    let s = unsafe { stream_of_any(q) };
    s.head.with(|h| h.enabled = true);
}

/// One open stream of the driver, as a process holds it.
pub struct Port {
    drv: Arc<Driver<Lean>>,
    s: *mut Stream,
    pub minor: u32,
    next_id: std::sync::atomic::AtomicU32,
}

// SAFETY: the stream is the Port's own; its head is behind a lock and the
// driver's entry points may be called from any thread.
unsafe impl Send for Port {}
// SAFETY: as above.
unsafe impl Sync for Port {}

/// A non-null credential pointer (the lean kernel never reads it).
fn cred() -> Cred {
    Cred(ptr::NonNull::<sys::cred_t>::dangling().as_ptr())
}

impl Port {
    /// Open a node: `node` is one of `tuntap_abi::limits::node`.
    pub fn open(drv: &Arc<Driver<Lean>>, node: u32) -> Result<Port, Errno> {
        // SAFETY: queue_t is plain C data; all-zero is valid.
        let q: [queue_t; 2] = unsafe { std::mem::zeroed() };
        let s = Box::into_raw(Box::new(Stream {
            q,
            head: Spin::new(Head {
                first: ptr::null_mut(),
                last: ptr::null_mut(),
                count: 0,
                bytes: 0,
                hiwat: sys::STRHIGH,
                lowat: sys::STRLOW,
                wroff: 0,
                want_enable: false,
                enabled: false,
                error: None,
                replies: Vec::new(),
            }),
        }));
        // SAFETY: s is our fresh stream.
        let rq = unsafe {
            (*s).q[0].q_flag = sys::QREADR;
            &raw mut (*s).q[0]
        };
        let mut minor = drv.kernel().private_minor_base() + node;
        // SAFETY: rq is a fresh queue pair with q_ptr null.
        if let Err(e) = unsafe { drv.open(rq, &mut minor, 0, 0, cred()) } {
            // SAFETY: the driver refused it and keeps no reference.
            drop(unsafe { Box::from_raw(s) });
            return Err(e);
        }
        // SAFETY: rq was just opened; what open sends up (M_SETOPTS).
        unsafe { drv.opened(rq) };
        Ok(Port { drv: drv.clone(), s, minor, next_id: std::sync::atomic::AtomicU32::new(1) })
    }

    fn stream(&self) -> &Stream {
        // SAFETY: the stream lives until Drop.
        unsafe { &*self.s }
    }

    fn rq(&self) -> *mut queue_t {
        // SAFETY: as above.
        unsafe { &raw mut (*self.s).q[0] }
    }

    fn wq(&self) -> *mut queue_t {
        // SAFETY: as above.
        unsafe { &raw mut (*self.s).q[1] }
    }

    /// An `I_STR` ioctl: the reply payload, or the errno of `M_IOCNAK`.
    pub fn ioctl(&self, cmd: i32, payload: &[u8]) -> Result<Vec<u8>, Errno> {
        let room = size_of::<iocblk>().max(size_of::<copyreq>()).max(size_of::<copyresp>());
        let mp = pool::allocb(room);
        if mp.is_null() {
            return Err(12);
        }
        let id = self.next_id.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        // SAFETY: mp is a fresh block of `room` bytes; iocblk is plain data.
        unsafe {
            let mut ioc: iocblk = std::mem::zeroed();
            ioc.ioc_cmd = cmd;
            ioc.ioc_cr = cred().0.cast_mut();
            ioc.ioc_id = id;
            ioc.ioc_count = payload.len();
            ptr::write_unaligned((*mp).b_wptr.cast::<iocblk>(), ioc);
            (*mp).b_wptr = (*mp).b_wptr.add(size_of::<iocblk>());
            (*(*mp).b_datap).db_type = sys::M_IOCTL;
            if !payload.is_empty() {
                let d = pool::allocb(payload.len());
                ptr::copy_nonoverlapping(payload.as_ptr(), (*d).b_wptr, payload.len());
                (*d).b_wptr = (*d).b_wptr.add(payload.len());
                (*mp).b_cont = d;
            }
            self.drv.wput(self.wq(), mp);
        }
        // The driver may answer from a taskq: wait for the reply (5 s).
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        let r = loop {
            let reply = self.stream().head.with(|h| if h.replies.is_empty() { None } else { Some(h.replies.remove(0)) });
            match reply {
                Some(r) => break r,
                None if std::time::Instant::now() < deadline => std::thread::sleep(std::time::Duration::from_micros(50)),
                None => return Err(62), // ETIME
            }
        };
        // SAFETY: the driver's reply, an iocblk with payload in b_cont.
        unsafe {
            let ioc: iocblk = ptr::read_unaligned((*r).b_rptr.cast());
            let t = (*(*r).b_datap).db_type;
            let mut out = vec![0u8; pool::msgdsize((*r).b_cont)];
            pool::copy_out((*r).b_cont, &mut out);
            pool::freemsg(r);
            if t == sys::M_IOCACK { Ok(out) } else { Err(ioc.ioc_error) }
        }
    }

    /// `write(2)`: one `M_DATA` block with the write offset in front.
    pub fn write(&self, data: &[u8]) {
        let wroff = self.stream().head.with(|h| h.wroff);
        let mp = pool::allocb(wroff + data.len());
        if mp.is_null() {
            return;
        }
        // SAFETY: a fresh block big enough for wroff + data.
        unsafe {
            (*mp).b_rptr = (*mp).b_rptr.add(wroff);
            ptr::copy_nonoverlapping(data.as_ptr(), (*mp).b_rptr, data.len());
            (*mp).b_wptr = (*mp).b_rptr.add(data.len());
            self.drv.wput(self.wq(), mp);
        }
    }

    /// `read(2)` without blocking: copy the next message into `buf`
    /// (the rest of a longer message is discarded); `None` if nothing is
    /// waiting.  Runs the driver's service procedure when STREAMS would.
    pub fn read(&self, buf: &mut [u8]) -> Option<usize> {
        let s = self.stream();
        let (mp, enable) = s.head.with(|h| {
            let mp = h.first;
            if !mp.is_null() {
                // SAFETY: mp is the FIFO's first message.
                unsafe {
                    h.first = (*mp).b_next;
                    (*mp).b_next = ptr::null_mut();
                    if h.first.is_null() {
                        h.last = ptr::null_mut();
                    }
                    h.bytes = h.bytes.saturating_sub(pool::msgdsize(mp));
                }
                h.count -= 1;
            }
            let enable = (h.want_enable && h.bytes <= h.lowat) || h.enabled;
            if enable {
                h.want_enable = false;
                h.enabled = false;
            }
            (mp, enable)
        });
        let n = if mp.is_null() {
            None
        } else {
            // SAFETY: mp is now ours.
            unsafe {
                let n = pool::copy_out(mp, buf);
                pool::freemsg(mp);
                Some(n)
            }
        };
        if enable {
            // SAFETY: our open read queue.
            unsafe { self.drv.rsrv(self.rq()) };
        }
        n
    }

    /// Messages and bytes waiting at the stream head.
    pub fn waiting(&self) -> (usize, usize) {
        self.stream().head.with(|h| (h.count, h.bytes))
    }

    /// The `M_ERROR` byte the driver sent, if any.
    pub fn error(&self) -> Option<u8> {
        self.stream().head.with(|h| h.error)
    }
}

impl Drop for Port {
    fn drop(&mut self) {
        // SAFETY: our open read queue; the driver lets go of it in close.
        unsafe { self.drv.close(self.rq(), 0, cred()) };
        // SAFETY: nothing refers to the stream any more.
        let s = unsafe { Box::from_raw(self.s) };
        s.head.with(|h| {
            // SAFETY: everything left at the stream head is ours.
            unsafe {
                pool::freemsg_chain(h.first);
                for r in h.replies.drain(..) {
                    pool::freemsg(r);
                }
            }
        });
    }
}
