// SPDX-License-Identifier: MPL-2.0
//! STREAMS: queue pairs, the stream head above the driver, and the
//! application side of an open stream ([`SimStream`]).
//!
//! Theory statement.  [`SimHost::open`] allocates four contiguous queues
//! as illumos links them: the stream head's read/write pair, then the
//! driver's read queue (`QREADR`) and write queue, so `WR(rq) == rq + 1`;
//! `rq->q_next` is the stream head's read queue and `wq->q_next` is null
//! (nothing is below a driver).  It then calls the driver's `open`, which
//! must call `qprocson`; `close` must call `qprocsoff`, after which the
//! driver never touches the queues again.  Queue memory lives until the
//! host is dropped, so late use is detected, not undefined.
//!
//! The stream head (what `strrput` does on illumos) takes what the driver
//! sends up: data (`M_DATA`, `M_PROTO`, `M_PCPROTO`) is queued and counted
//! for flow control; `M_SETOPTS` sets `SO_READOPT`, `SO_WROFF`,
//! `SO_MINPSZ`, `SO_MAXPSZ`, `SO_HIWAT`, `SO_LOWAT`; `M_ERROR` and
//! `M_HANGUP` make reads and writes fail as illumos does (read/write error
//! bytes, `NOERROR`, EOF on hangup, `ENXIO` for writes after hangup);
//! `M_FLUSH` flushes the head and turns `FLUSHW` around; ioctl replies
//! go to the one pending ioctl if the id matches, else they are a
//! violation.  `canputnext(rq)` is false while the head holds at least
//! its high-water mark of bytes and then marks the head as wanting a
//! back-enable; when a reader drains it below the low-water mark (or the
//! mark is 0) the driver's read queue is enabled: its `rsrv` runs on the
//! host's service thread, never in the reader's stack, and never twice at
//! once for one queue.  Defaults are the stream head's: `STRHIGH`/`STRLOW`.
//!
//! Ioctls follow strdoioctl: `M_IOCTL` with a union-sized first block
//! (`iocblk` inside), a unique `ioc_id`, `ioc_cr`, `ioc_flag = IOC_NATIVE`;
//! I_STR carries `ioc_count` bytes in `b_cont`; transparent ioctls carry
//! the argument (a user address) and `ioc_count = TRANSPARENT`, and the
//! head serves `M_COPYIN`/`M_COPYOUT` against [`UserMemory`], answering
//! `M_IOCDATA` (`cp_rval = EFAULT` on an unmapped address, after which the
//! ioctl has failed and the driver must free the message and not reply).
//!
//! Locks: a stream's `head` mutex, then the host's block registry.  No
//! lock is held while calling the driver.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::panic::Location;
use std::ptr;
use std::sync::atomic::{AtomicI32, AtomicU32, Ordering};
use std::sync::{Arc, Condvar, Weak};
use std::time::{Duration, Instant};

use illumos_sys_hdrs::{
    CLONEOPEN, EAGAIN, EBADF, EBADMSG, EFAULT, EINVAL, ENXIO, ERANGE, ETIME, FLUSHR, FLUSHW, FREAD,
    FWRITE, INFPSZ, M_COPYIN, M_COPYOUT, M_DATA, M_ERROR, M_FLUSH, M_HANGUP, M_IOCACK, M_IOCDATA,
    M_IOCNAK, M_IOCTL, M_PCPROTO, M_PROTO, M_SETOPTS, M_UNHANGUP, NOERROR, POLLERR, POLLHUP, POLLIN,
    POLLNVAL, POLLOUT, POLLPRI, POLLRDNORM, POLLWRNORM, QREADR, QUSE, RMODEMASK, RMSGD, RMSGN,
    RNORM, SO_HIWAT, SO_LOWAT, SO_BAND, SO_MAXPSZ, SO_MINPSZ, SO_READOPT, SO_WROFF, STRHIGH, STRLOW,
    TRANSPARENT, copyreq, copyresp, iocblk, mblk_t, queue_t, stroptions,
};
use tuntap_drv::ddi::{Errno, StreamsEntry};

use crate::dls::SimCred;
use crate::host::{HostShared, SimHost, ViolationKind, enter_context, lock};
use crate::mblk::{self, alloc_msg, check_msg, db_type, free_here, msg_bytes, msg_len};

/// `IOC_NATIVE` = `DATAMODEL_NATIVE` = `DATAMODEL_LP64` (sys/model.h,
/// amd64 kernel): the `ioc_flag` of an ioctl from a 64-bit process.
pub const IOC_NATIVE: u32 = 0x0020_0000;

/// Largest `cq_size` the stream head accepts in `M_COPYIN`/`M_COPYOUT`
/// before calling it a violation (no tuntap ioctl argument is near it).
pub const MAX_COPY: usize = 64 * 1024;

/// Size of `union ioctypes` (iocblk, copyreq, copyresp): the first block
/// of every `M_IOCTL`/`M_IOCDATA` the stream head builds.
const IOCTYPES_SIZE: usize = {
    let a = size_of::<iocblk>();
    let b = size_of::<copyreq>();
    let c = size_of::<copyresp>();
    let m = if a > b { a } else { b };
    if m > c { m } else { c }
};

#[derive(Clone, Copy)]
struct MsgPtr(*mut mblk_t);
// SAFETY: messages move between threads with their ownership.
unsafe impl Send for MsgPtr {}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Opening,
    Open,
    Closing,
    Closed,
}

struct PendingIoc {
    id: u32,
    inbox: VecDeque<MsgPtr>,
}

struct Head {
    phase: Phase,
    qprocs_on: bool,
    qprocs_off: bool,
    msgs: VecDeque<MsgPtr>,
    count: usize,
    hiwat: usize,
    lowat: usize,
    want_backenable: bool,
    readopt: i32,
    wroff: usize,
    minpsz: Option<isize>,
    maxpsz: Option<isize>,
    rerr: i32,
    werr: i32,
    hangup: bool,
    svc_queued: bool,
    svc_running: bool,
    ioc: Option<PendingIoc>,
    abandoned_iocs: Vec<u32>,
}

/// One open (or once open) stream.
pub(crate) struct Stream {
    queues: *mut [queue_t; 4],
    minor: AtomicU32,
    pid: AtomicI32,
    flag: i32,
    cred: SimCred,
    head: std::sync::Mutex<Head>,
    cv: Condvar,
}

// SAFETY: the queue memory is simulator-owned and lives as long as the
// host; the head state is behind a mutex.
unsafe impl Send for Stream {}
// SAFETY: as above.
unsafe impl Sync for Stream {}

impl Stream {
    fn rq(&self) -> *mut queue_t {
        // SAFETY: queues points to four queue_t.
        unsafe { (*self.queues).as_mut_ptr().add(2) }
    }
    fn wq(&self) -> *mut queue_t {
        // SAFETY: as above.
        unsafe { (*self.queues).as_mut_ptr().add(3) }
    }
    fn head_rq(&self) -> *mut queue_t {
        // SAFETY: as above.
        unsafe { (*self.queues).as_mut_ptr() }
    }
}

/// All streams of a host, by queue address.
#[derive(Default)]
pub(crate) struct StreamTable {
    by_q: HashMap<usize, Arc<Stream>>,
    all: Vec<Arc<Stream>>,
    queue_mem: Vec<*mut [queue_t; 4]>,
    next_ioc_id: u32,
}

impl Drop for StreamTable {
    fn drop(&mut self) {
        for q in self.queue_mem.drain(..) {
            // SAFETY: the table owns the queue memory; the host is gone.
            drop(unsafe { Box::from_raw(q) });
        }
    }
}

fn lookup(host: &HostShared, q: *mut queue_t) -> Option<(Arc<Stream>, bool)> {
    let t = lock(&host.streams);
    let s = t.by_q.get(&(q as usize))?.clone();
    let is_rq = s.rq() == q;
    Some((s, is_rq))
}

fn head(s: &Stream) -> std::sync::MutexGuard<'_, Head> {
    lock(&s.head)
}

fn call_driver<R>(host: &Arc<HostShared>, pid: i32, f: impl FnOnce(&dyn StreamsEntry) -> R) -> Option<R> {
    let drv = host.driver()?;
    let _g = enter_context(host, pid);
    Some(f(&*drv))
}

// ----- the driver-facing STREAMS calls -----

#[track_caller]
pub(crate) fn putnext(host: &Arc<HostShared>, q: *mut queue_t, mp: *mut mblk_t, what: &str) {
    let loc = Location::caller();
    host.check_no_driver_locks(what);
    let Some((s, is_rq)) = lookup(host, q) else {
        host.record_at(ViolationKind::BadQueue, format!("{what}: {q:p} is not a queue of a stream"), loc);
        return;
    };
    if check_msg(host, mp, what, true, loc).is_err() {
        return;
    }
    if !is_rq {
        host.record_at(
            ViolationKind::QueueState,
            format!("{what} on the driver's write queue: nothing is below a driver (q_next is NULL)"),
            loc,
        );
        free_here(mp);
        return;
    }
    deliver_up(host, &s, mp, what, loc);
}

#[track_caller]
pub(crate) fn qreply(host: &Arc<HostShared>, q: *mut queue_t, mp: *mut mblk_t) {
    let loc = Location::caller();
    host.check_no_driver_locks("qreply");
    let Some((s, is_rq)) = lookup(host, q) else {
        host.record_at(ViolationKind::BadQueue, format!("qreply: {q:p} is not a queue of a stream"), loc);
        return;
    };
    if check_msg(host, mp, "qreply", true, loc).is_err() {
        return;
    }
    if is_rq {
        host.record_at(
            ViolationKind::QueueState,
            "qreply on the driver's read queue would send into the driver's own write side".into(),
            loc,
        );
        free_here(mp);
        return;
    }
    deliver_up(host, &s, mp, "qreply", loc);
}

#[track_caller]
pub(crate) fn canputnext(host: &Arc<HostShared>, q: *mut queue_t) -> bool {
    let loc = Location::caller();
    let Some((s, is_rq)) = lookup(host, q) else {
        host.record_at(ViolationKind::BadQueue, format!("canputnext: {q:p} is not a queue of a stream"), loc);
        return false;
    };
    if !is_rq {
        host.record_at(ViolationKind::QueueState, "canputnext on the driver's write queue (q_next is NULL)".into(), loc);
        return true;
    }
    let mut h = head(&s);
    if h.phase == Phase::Closed || h.qprocs_off {
        drop(h);
        host.record_at(ViolationKind::QueueState, "canputnext on a queue after qprocsoff/close".into(), loc);
        return false;
    }
    if h.count >= h.hiwat {
        h.want_backenable = true;
        false
    } else {
        true
    }
}

#[track_caller]
pub(crate) fn qenable(host: &Arc<HostShared>, q: *mut queue_t) {
    let loc = Location::caller();
    let Some((s, is_rq)) = lookup(host, q) else {
        host.record_at(ViolationKind::BadQueue, format!("qenable: {q:p} is not a queue of a stream"), loc);
        return;
    };
    {
        let h = head(&s);
        if h.phase == Phase::Closed || h.qprocs_off {
            drop(h);
            host.record_at(ViolationKind::QueueState, "qenable of a queue after qprocsoff/close".into(), loc);
            return;
        }
    }
    if is_rq {
        schedule_service(host, &s);
    }
    // The driver's write queue has no service procedure: a no-op, as
    // qenable is for a queue without qi_srvp.
}

#[track_caller]
pub(crate) fn qprocson(host: &Arc<HostShared>, q: *mut queue_t) {
    let loc = Location::caller();
    match lookup(host, q) {
        Some((s, true)) => {
            let mut h = head(&s);
            if h.phase != Phase::Opening {
                drop(h);
                host.record_at(ViolationKind::QueueState, "qprocson outside the driver's open".into(), loc);
                return;
            }
            h.qprocs_on = true;
        }
        Some((_, false)) => host.record_at(ViolationKind::QueueState, "qprocson must be given the read queue".into(), loc),
        None => host.record_at(ViolationKind::BadQueue, format!("qprocson: {q:p} is not a queue of a stream"), loc),
    }
}

#[track_caller]
pub(crate) fn qprocsoff(host: &Arc<HostShared>, q: *mut queue_t) {
    let loc = Location::caller();
    let s = match lookup(host, q) {
        Some((s, true)) => s,
        Some((_, false)) => {
            host.record_at(ViolationKind::QueueState, "qprocsoff must be given the read queue".into(), loc);
            return;
        }
        None => {
            host.record_at(ViolationKind::BadQueue, format!("qprocsoff: {q:p} is not a queue of a stream"), loc);
            return;
        }
    };
    let mut h = head(&s);
    if !matches!(h.phase, Phase::Closing | Phase::Opening) {
        drop(h);
        host.record_at(ViolationKind::QueueState, "qprocsoff outside the driver's open/close".into(), loc);
        return;
    }
    h.qprocs_off = true;
    h.svc_queued = false;
    // qprocsoff waits for a running service procedure to finish.
    if !host.svc.is_current() {
        let deadline = Instant::now() + Duration::from_secs(10);
        while h.svc_running {
            let now = Instant::now();
            if now >= deadline {
                drop(h);
                host.record_at(ViolationKind::WorkerStuck, "qprocsoff: the service procedure did not return in 10 s".into(), loc);
                return;
            }
            h = s.cv.wait_timeout(h, deadline - now).unwrap_or_else(|e| e.into_inner()).0;
        }
    }
}

fn schedule_service(host: &Arc<HostShared>, s: &Arc<Stream>) {
    {
        let mut h = head(s);
        if h.svc_queued || h.qprocs_off || matches!(h.phase, Phase::Closed) {
            return;
        }
        h.svc_queued = true;
        // SAFETY: rq is our queue; QENAB mirrors the queued state.
        unsafe { (*s.rq()).q_flag |= illumos_sys_hdrs::QENAB };
    }
    let hw: Weak<HostShared> = Arc::downgrade(host);
    let s = s.clone();
    host.svc.push(Box::new(move || {
        let Some(host) = hw.upgrade() else { return };
        {
            let mut h = head(&s);
            // SAFETY: as above.
            unsafe { (*s.rq()).q_flag &= !illumos_sys_hdrs::QENAB };
            if !h.svc_queued || h.qprocs_off || h.phase == Phase::Closed {
                h.svc_queued = false;
                return;
            }
            h.svc_queued = false;
            h.svc_running = true;
        }
        let rq = s.rq();
        // SAFETY: rq is the read queue of a stream the driver opened and
        // has not yet closed (qprocsoff waits for us).
        call_driver(&host, 0, |d| unsafe { d.rsrv(rq) });
        let mut h = head(&s);
        h.svc_running = false;
        s.cv.notify_all();
    }));
}

/// What the stream head does with a message from the driver.
fn deliver_up(host: &Arc<HostShared>, s: &Arc<Stream>, mp: *mut mblk_t, what: &str, loc: &Location<'_>) {
    let mut h = head(s);
    if h.phase == Phase::Closed || h.qprocs_off {
        drop(h);
        host.record_at(ViolationKind::QueueState, format!("{what} after qprocsoff/close of the stream"), loc);
        free_here(mp);
        return;
    }
    if !h.qprocs_on {
        host.record_at(ViolationKind::QueueState, format!("{what} before qprocson"), loc);
    }
    let ty = db_type(mp);
    let mut turn_around: Option<*mut mblk_t> = None;
    match ty {
        M_DATA | M_PROTO => {
            h.count += msg_len(mp);
            h.msgs.push_back(MsgPtr(mp));
        }
        M_PCPROTO => h.msgs.push_front(MsgPtr(mp)),
        M_SETOPTS => {
            // SAFETY: mp is a checked live message we own.
            let data = unsafe { mblk::block_bytes(mp) };
            if data.len() < size_of::<stroptions>() {
                drop(h);
                host.record_at(
                    ViolationKind::BadMessage,
                    format!("M_SETOPTS of {} bytes, need sizeof (struct stroptions) = {}", data.len(), size_of::<stroptions>()),
                    loc,
                );
                free_here(mp);
                return;
            }
            // SAFETY: at least sizeof (stroptions) bytes; unaligned read.
            let so: stroptions = unsafe { ptr::read_unaligned(data.as_ptr().cast()) };
            apply_setopts(host, s, &mut h, &so, loc);
            free_here(mp);
        }
        M_IOCACK | M_IOCNAK | M_COPYIN | M_COPYOUT => {
            // SAFETY: as above.
            let data = unsafe { mblk::block_bytes(mp) };
            if data.len() < 24 {
                drop(h);
                host.record_at(ViolationKind::IoctlProtocol, format!("ioctl reply (type {ty:#x}) of {} bytes", data.len()), loc);
                free_here(mp);
                return;
            }
            let id = u32::from_ne_bytes([data[16], data[17], data[18], data[19]]);
            match &mut h.ioc {
                Some(p) if p.id == id => {
                    p.inbox.push_back(MsgPtr(mp));
                }
                _ => {
                    let abandoned = h.abandoned_iocs.contains(&id);
                    drop(h);
                    if !abandoned {
                        host.record_at(
                            ViolationKind::IoctlDoubleReply,
                            format!(
                                "ioctl reply (type {ty:#x}) for ioc_id {id}, which is not pending: a second \
                                 reply, a wrong id, or a reply after the stream head failed the ioctl"
                            ),
                            loc,
                        );
                    }
                    free_here(mp);
                    return;
                }
            }
        }
        M_ERROR => {
            // SAFETY: as above.
            let data = unsafe { mblk::block_bytes(mp) }.to_vec();
            match data.len() {
                0 => host.record_at(ViolationKind::BadMessage, "empty M_ERROR".into(), loc),
                1 => {
                    h.rerr = i32::from(data[0]);
                    h.werr = i32::from(data[0]);
                }
                _ => {
                    if data[0] != NOERROR {
                        h.rerr = i32::from(data[0]);
                    }
                    if data[1] != NOERROR {
                        h.werr = i32::from(data[1]);
                    }
                }
            }
            free_here(mp);
        }
        M_HANGUP => {
            h.hangup = true;
            free_here(mp);
        }
        M_UNHANGUP => {
            h.hangup = false;
            free_here(mp);
        }
        M_FLUSH => {
            // SAFETY: as above.
            let flags = unsafe { mblk::block_bytes(mp) }.first().copied().unwrap_or(0);
            if flags & FLUSHR != 0 {
                flush_head(&mut h);
            }
            if flags & FLUSHW != 0 && h.phase == Phase::Open {
                // SAFETY: the block has at least one byte (flags read).
                unsafe { *(*mp).b_rptr &= !FLUSHR };
                turn_around = Some(mp);
            } else {
                free_here(mp);
            }
        }
        _ => free_here(mp),
    }
    // Keep the stream head queue's fields current for drivers that look.
    // SAFETY: our queue.
    unsafe { (*s.head_rq()).q_count = h.count };
    s.cv.notify_all();
    let pid = s.pid.load(Ordering::Relaxed);
    drop(h);
    if let Some(mp) = turn_around {
        let wq = s.wq();
        // SAFETY: the stream is open; the driver owns mp from here.
        call_driver(host, pid, |d| unsafe { d.wput(wq, mp) });
    }
}

fn flush_head(h: &mut Head) {
    for m in h.msgs.drain(..) {
        free_here(m.0);
    }
    h.count = 0;
}

fn apply_setopts(host: &Arc<HostShared>, s: &Stream, h: &mut Head, so: &stroptions, loc: &Location<'_>) {
    let f = so.so_flags;
    if f & SO_READOPT != 0 {
        let mode = i32::from(so.so_readopt) & RMODEMASK;
        if mode == RNORM || mode == RMSGD || mode == RMSGN {
            h.readopt = mode;
        } else {
            host.record_at(ViolationKind::BadMessage, format!("M_SETOPTS SO_READOPT {mode:#x} is no read mode"), loc);
        }
    }
    if f & SO_WROFF != 0 {
        h.wroff = usize::from(so.so_wroff);
    }
    if f & SO_MINPSZ != 0 {
        h.minpsz = Some(so.so_minpsz);
    }
    if f & SO_MAXPSZ != 0 {
        h.maxpsz = Some(so.so_maxpsz);
    }
    if f & SO_BAND == 0 {
        if f & SO_HIWAT != 0 {
            h.hiwat = so.so_hiwat;
        }
        if f & SO_LOWAT != 0 {
            h.lowat = so.so_lowat;
        }
    }
    if h.lowat > h.hiwat {
        host.record_at(
            ViolationKind::BadMessage,
            format!("M_SETOPTS leaves low water {} above high water {}", h.lowat, h.hiwat),
            loc,
        );
    }
    // SAFETY: our queue.
    unsafe {
        (*s.head_rq()).q_hiwat = h.hiwat;
        (*s.head_rq()).q_lowat = h.lowat;
    }
}

/// Close every stream the application side still has open (process
/// exit), at the end of a test.
pub(crate) fn close_all(host: &Arc<HostShared>) {
    let all: Vec<Arc<Stream>> = lock(&host.streams).all.clone();
    for s in all {
        close_stream(host, &s);
    }
}

fn close_stream(host: &Arc<HostShared>, s: &Arc<Stream>) {
    {
        let mut h = head(s);
        if h.phase != Phase::Open {
            return;
        }
        h.phase = Phase::Closing;
    }
    let rq = s.rq();
    let cr = s.cred.as_cred();
    let flag = s.flag;
    // SAFETY: rq is the read queue of a stream the driver opened.
    call_driver(host, s.pid.load(Ordering::Relaxed), |d| unsafe { d.close(rq, flag, cr) });
    let mut h = head(s);
    if !h.qprocs_off {
        host.record(ViolationKind::QueueState, "the driver's close returned without calling qprocsoff".into());
    }
    h.phase = Phase::Closed;
    flush_head(&mut h);
    if let Some(p) = h.ioc.take() {
        for m in p.inbox {
            free_here(m.0);
        }
    }
    s.cv.notify_all();
}

// ----- user memory for transparent ioctls -----

#[derive(Default)]
pub(crate) struct UserMemState {
    regions: BTreeMap<usize, Vec<u8>>,
}

impl UserMemState {
    fn find(&mut self, addr: usize, len: usize) -> Option<&mut [u8]> {
        let (start, buf) = self.regions.range_mut(..=addr).next_back()?;
        let off = addr.checked_sub(*start)?;
        let end = off.checked_add(len)?;
        buf.get_mut(off..end)
    }
}

/// The simulated address space of the processes on a host: what
/// `M_COPYIN`/`M_COPYOUT` read and write.
#[derive(Clone)]
pub struct UserMemory(Arc<HostShared>);

impl UserMemory {
    /// Map `bytes` at `addr` (replacing any region starting there).
    pub fn map(&self, addr: usize, bytes: &[u8]) {
        lock(&self.0.user_mem).regions.insert(addr, bytes.to_vec());
    }
    /// Unmap the region starting at `addr`.
    pub fn unmap(&self, addr: usize) {
        lock(&self.0.user_mem).regions.remove(&addr);
    }
    /// Read `len` bytes at `addr`; None if not all mapped.
    pub fn read(&self, addr: usize, len: usize) -> Option<Vec<u8>> {
        lock(&self.0.user_mem).find(addr, len).map(|b| b.to_vec())
    }
    /// Write bytes at `addr`; false if not all mapped.
    pub fn write(&self, addr: usize, bytes: &[u8]) -> bool {
        match lock(&self.0.user_mem).find(addr, bytes.len()) {
            Some(b) => {
                b.copy_from_slice(bytes);
                true
            }
            None => false,
        }
    }
}

// ----- the application side -----

/// Arguments of [`SimHost::open_with`].
#[derive(Clone)]
pub struct OpenArgs {
    /// The node minor opened (the driver may replace it on a clone open).
    pub minor: u32,
    /// Open flags (`FREAD | FWRITE` by default).
    pub flag: i32,
    /// `sflag`: `CLONEOPEN` for the clone nodes, 0 otherwise.
    pub sflag: i32,
    pub cred: SimCred,
    /// The pid the driver sees (`current_pid`) during this stream's calls.
    pub pid: i32,
}

/// An ioctl's successful result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IoctlReply {
    /// `ioc_rval`: the ioctl's return value.
    pub rval: i32,
    /// For I_STR: the `ioc_count` bytes the driver returned.
    pub data: Vec<u8>,
}

/// One message from [`SimStream::getmsg`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GetMsg {
    /// The control part (`M_PROTO`/`M_PCPROTO` blocks), if any.
    pub ctl: Option<Vec<u8>>,
    /// The data part.
    pub data: Vec<u8>,
}

/// The application side of an open stream: a file descriptor.
/// Dropping it closes the stream.
pub struct SimStream {
    host: Arc<HostShared>,
    s: Arc<Stream>,
}

impl SimHost {
    /// The simulated user address space (for transparent ioctls).
    pub fn user_memory(&self) -> UserMemory {
        UserMemory(self.shared.clone())
    }

    /// Open node `minor` as a clone open (`sflag = CLONEOPEN`,
    /// `FREAD | FWRITE`) with `cred`, pid 1000.
    pub fn open(&self, minor: u32, cred: &SimCred) -> Result<SimStream, Errno> {
        self.open_with(OpenArgs { minor, flag: FREAD | FWRITE, sflag: CLONEOPEN, cred: cred.clone(), pid: 1000 })
    }

    /// Open a stream with every argument given.
    pub fn open_with(&self, args: OpenArgs) -> Result<SimStream, Errno> {
        let host = &self.shared;
        // SAFETY: queue_t is pointers and integers; all-zero is valid.
        let mut qs: Box<[queue_t; 4]> = Box::new(unsafe { std::mem::zeroed() });
        let base = qs.as_mut_ptr();
        // SAFETY: four queues in one allocation; link them as illumos does.
        unsafe {
            let (shr, shw, rq, wq) = (base, base.add(1), base.add(2), base.add(3));
            (*shr).q_flag = QREADR | QUSE;
            (*shr).q_hiwat = STRHIGH;
            (*shr).q_lowat = STRLOW;
            (*shr).q_maxpsz = INFPSZ;
            (*shw).q_flag = QUSE;
            (*shw).q_next = wq;
            (*rq).q_flag = QREADR | QUSE;
            (*rq).q_next = shr;
            (*wq).q_flag = QUSE;
            for q in [rq, wq, shw] {
                (*q).q_hiwat = STRHIGH;
                (*q).q_lowat = STRLOW;
                (*q).q_maxpsz = INFPSZ;
            }
        }
        let queues = Box::into_raw(qs);
        let s = Arc::new(Stream {
            queues,
            minor: AtomicU32::new(args.minor),
            pid: AtomicI32::new(args.pid),
            flag: args.flag,
            cred: args.cred.clone(),
            head: std::sync::Mutex::new(Head {
                phase: Phase::Opening,
                qprocs_on: false,
                qprocs_off: false,
                msgs: VecDeque::new(),
                count: 0,
                hiwat: STRHIGH,
                lowat: STRLOW,
                want_backenable: false,
                readopt: RNORM,
                wroff: 0,
                minpsz: None,
                maxpsz: None,
                rerr: 0,
                werr: 0,
                hangup: false,
                svc_queued: false,
                svc_running: false,
                ioc: None,
                abandoned_iocs: Vec::new(),
            }),
            cv: Condvar::new(),
        });
        {
            let mut t = lock(&host.streams);
            t.queue_mem.push(queues);
            t.by_q.insert(s.rq() as usize, s.clone());
            t.by_q.insert(s.wq() as usize, s.clone());
        }
        let rq = s.rq();
        let mut minor = args.minor;
        // SAFETY: rq heads a freshly allocated, zeroed queue pair.
        let r = call_driver(host, args.pid, |d| unsafe { d.open(rq, &mut minor, args.flag, args.sflag, args.cred.as_cred()) })
            .unwrap_or_else(|| panic!("tuntap-sim: open with no driver attached (SimHost::attach)"));
        let mut h = head(&s);
        match r {
            Err(e) => {
                if h.qprocs_on && !h.qprocs_off {
                    host.record(ViolationKind::QueueState, format!("open failed ({e}) after qprocson without qprocsoff"));
                }
                h.phase = Phase::Closed;
                flush_head(&mut h);
                Err(e)
            }
            Ok(()) => {
                if !h.qprocs_on {
                    host.record(ViolationKind::QueueState, "the driver's open returned without calling qprocson".into());
                }
                if h.qprocs_off {
                    host.record(ViolationKind::QueueState, "the driver's open succeeded but called qprocsoff".into());
                }
                h.phase = Phase::Open;
                drop(h);
                s.minor.store(minor, Ordering::Relaxed);
                let mut t = lock(&host.streams);
                let dup = t.all.iter().any(|o| o.minor.load(Ordering::Relaxed) == minor && head(o).phase == Phase::Open);
                if dup && args.sflag == CLONEOPEN {
                    drop(t);
                    host.record(ViolationKind::QueueState, format!("clone open returned minor {minor}, already in use"));
                    t = lock(&host.streams);
                }
                t.all.push(s.clone());
                Ok(SimStream { host: host.clone(), s })
            }
        }
    }
}

fn remaining(deadline: Option<Instant>) -> Option<Duration> {
    deadline.map(|d| d.saturating_duration_since(Instant::now()))
}

impl SimStream {
    /// The stream's minor (after a clone open, the one the driver chose).
    pub fn minor(&self) -> u32 {
        self.s.minor.load(Ordering::Relaxed)
    }
    /// The driver's read queue.
    pub fn rq(&self) -> *mut queue_t {
        self.s.rq()
    }
    /// The driver's write queue.
    pub fn wq(&self) -> *mut queue_t {
        self.s.wq()
    }
    /// The pid the driver sees during this stream's calls.
    pub fn pid(&self) -> i32 {
        self.s.pid.load(Ordering::Relaxed)
    }
    /// Change the pid (e.g. after the fd passed to another process).
    pub fn set_pid(&self, pid: i32) {
        self.s.pid.store(pid, Ordering::Relaxed);
    }
    /// The credential the stream was opened with.
    pub fn cred(&self) -> &SimCred {
        &self.s.cred
    }
    /// Bytes the stream head holds (its `q_count`).
    pub fn queued_bytes(&self) -> usize {
        head(&self.s).count
    }
    /// Messages the stream head holds.
    pub fn queued_msgs(&self) -> usize {
        head(&self.s).msgs.len()
    }
    /// The stream head's (high, low) water marks.
    pub fn water_marks(&self) -> (usize, usize) {
        let h = head(&self.s);
        (h.hiwat, h.lowat)
    }
    /// The write offset set by `SO_WROFF`.
    pub fn wroff(&self) -> usize {
        head(&self.s).wroff
    }
    /// The read mode (`RNORM`, `RMSGD`, `RMSGN`).
    pub fn read_opt(&self) -> i32 {
        head(&self.s).readopt
    }
    /// Has the driver sent `M_HANGUP`?
    pub fn is_hung_up(&self) -> bool {
        head(&self.s).hangup
    }
    /// Is the stream open (not closed by [`SimStream::close`])?
    pub fn is_open(&self) -> bool {
        head(&self.s).phase == Phase::Open
    }

    fn call_wput(&self, mp: *mut mblk_t) {
        let wq = self.s.wq();
        // SAFETY: the stream is open; the driver owns mp from here.
        call_driver(&self.host, self.pid(), |d| unsafe { d.wput(wq, mp) });
    }

    fn write_check(&self) -> Result<(usize, isize, isize), Errno> {
        let h = head(&self.s);
        if h.phase != Phase::Open {
            return Err(EBADF);
        }
        if h.werr != 0 {
            return Err(h.werr);
        }
        if h.hangup {
            return Err(ENXIO);
        }
        // SAFETY: our queue; the driver may have set its packet sizes.
        let (qmin, qmax) = unsafe { ((*self.s.wq()).q_minpsz, (*self.s.wq()).q_maxpsz) };
        Ok((h.wroff, h.minpsz.unwrap_or(qmin), h.maxpsz.unwrap_or(qmax)))
    }

    /// `write(2)`: one copy into messages of at most the maximum packet
    /// size, each with `SO_WROFF` bytes of headroom, handed to the
    /// driver's `wput`.  `ERANGE` below the minimum packet size.  A write
    /// of 0 bytes sends nothing.
    pub fn write(&self, data: &[u8]) -> Result<usize, Errno> {
        let (wroff, minpsz, maxpsz) = self.write_check()?;
        if minpsz > 0 && (data.len() as isize) < minpsz {
            return Err(ERANGE);
        }
        if data.is_empty() || maxpsz == 0 {
            return Ok(0);
        }
        let chunk = if maxpsz == INFPSZ || maxpsz < 0 { data.len() } else { maxpsz as usize };
        for part in data.chunks(chunk) {
            let mp = alloc_msg(&self.host, M_DATA, wroff, part);
            self.call_wput(mp);
        }
        Ok(data.len())
    }

    /// `putmsg(2)` of a data part only: exactly one `M_DATA` message;
    /// `ERANGE` outside `[minpsz, maxpsz]`.
    pub fn putmsg(&self, data: &[u8]) -> Result<(), Errno> {
        let (wroff, minpsz, maxpsz) = self.write_check()?;
        let n = data.len() as isize;
        if n < minpsz || (maxpsz != INFPSZ && n > maxpsz) {
            return Err(ERANGE);
        }
        let mp = alloc_msg(&self.host, M_DATA, wroff, data);
        self.call_wput(mp);
        Ok(())
    }

    /// `putmsg(2)` with a control part: `M_PROTO` then `M_DATA`.
    pub fn putmsg_proto(&self, ctl: &[u8], data: &[u8]) -> Result<(), Errno> {
        let (wroff, _, _) = self.write_check()?;
        let mp = alloc_msg(&self.host, M_PROTO, 0, ctl);
        if !data.is_empty() {
            let d = alloc_msg(&self.host, M_DATA, wroff, data);
            // SAFETY: fresh blocks.
            unsafe { (*mp).b_cont = d };
        }
        self.call_wput(mp);
        Ok(())
    }

    /// `read(2)`, blocking up to `timeout` (None: forever).  Honours the
    /// read mode: `RNORM` byte stream, `RMSGD` one message (rest
    /// discarded), `RMSGN` one message (rest kept).  Ok(0) at a
    /// zero-length message or after hangup; `EBADMSG` for a control
    /// message at the front; the read error of `M_ERROR`; `EBADF` once
    /// closed; `ETIME` on timeout.
    pub fn read(&self, buf: &mut [u8], timeout: Option<Duration>) -> Result<usize, Errno> {
        self.read_inner(buf, timeout.map(|t| Instant::now() + t), true)
    }

    /// Non-blocking `read(2)` (`O_NONBLOCK`): `EAGAIN` when nothing is
    /// queued.
    pub fn try_read(&self, buf: &mut [u8]) -> Result<usize, Errno> {
        self.read_inner(buf, None, false)
    }

    /// Read one whole message as a Vec (like `read` with a 64 KiB buffer
    /// in `RMSGD` mode, whatever the stream's mode).
    pub fn read_packet(&self, timeout: Option<Duration>) -> Result<Vec<u8>, Errno> {
        self.getmsg(timeout).map(|m| m.data)
    }

    fn wait_data<'a>(
        &'a self,
        mut h: std::sync::MutexGuard<'a, Head>,
        deadline: Option<Instant>,
        block: bool,
    ) -> Result<std::sync::MutexGuard<'a, Head>, Errno> {
        loop {
            if h.phase != Phase::Open {
                return Err(EBADF);
            }
            if h.rerr != 0 {
                return Err(h.rerr);
            }
            if !h.msgs.is_empty() || h.hangup {
                return Ok(h);
            }
            if !block {
                return Err(EAGAIN);
            }
            match remaining(deadline) {
                Some(d) if d.is_zero() => return Err(ETIME),
                Some(d) => h = self.s.cv.wait_timeout(h, d).unwrap_or_else(|e| e.into_inner()).0,
                None => h = self.s.cv.wait(h).unwrap_or_else(|e| e.into_inner()),
            }
        }
    }

    fn read_inner(&self, buf: &mut [u8], deadline: Option<Instant>, block: bool) -> Result<usize, Errno> {
        let mut h = self.wait_data(head(&self.s), deadline, block)?;
        let mut done = 0usize;
        let mode = h.readopt;
        while let Some(&MsgPtr(mp)) = h.msgs.front() {
            let ty = db_type(mp);
            if ty != M_DATA {
                if done == 0 {
                    return Err(EBADMSG);
                }
                break;
            }
            let bytes = msg_bytes(mp);
            h.msgs.pop_front();
            h.count -= msg_len(mp);
            free_here(mp);
            let take = bytes.len().min(buf.len() - done);
            buf[done..done + take].copy_from_slice(&bytes[..take]);
            done += take;
            let rest = &bytes[take..];
            if !rest.is_empty() && (mode == RNORM || mode == RMSGN) {
                let r = alloc_msg(&self.host, M_DATA, 0, rest);
                h.count += rest.len();
                h.msgs.push_front(MsgPtr(r));
            }
            if mode != RNORM || done == buf.len() || bytes.is_empty() {
                break;
            }
        }
        self.after_consume(h);
        Ok(done)
    }

    fn after_consume(&self, mut h: std::sync::MutexGuard<'_, Head>) {
        // SAFETY: our queue.
        unsafe { (*self.s.head_rq()).q_count = h.count };
        if h.want_backenable && (h.count < h.lowat || h.lowat == 0) {
            h.want_backenable = false;
            drop(h);
            schedule_service(&self.host, &self.s);
        }
    }

    /// `getmsg(2)`: one whole message, whatever the read mode.
    pub fn getmsg(&self, timeout: Option<Duration>) -> Result<GetMsg, Errno> {
        let mut h = self.wait_data(head(&self.s), timeout.map(|t| Instant::now() + t), true)?;
        let Some(MsgPtr(mp)) = h.msgs.pop_front() else {
            return Ok(GetMsg { ctl: None, data: Vec::new() });
        };
        if db_type(mp) != M_PCPROTO {
            h.count -= msg_len(mp);
        }
        let mut ctl: Option<Vec<u8>> = None;
        let mut data = Vec::new();
        let mut b = mp;
        while !b.is_null() {
            // SAFETY: a message the head owns.
            unsafe {
                let ty = (*(*b).b_datap).db_type;
                if ty == M_PROTO || ty == M_PCPROTO {
                    ctl.get_or_insert_with(Vec::new).extend_from_slice(mblk::block_bytes(b));
                } else {
                    data.extend_from_slice(mblk::block_bytes(b));
                }
                b = (*b).b_cont;
            }
        }
        free_here(mp);
        self.after_consume(h);
        Ok(GetMsg { ctl, data })
    }

    /// `poll(2)` on this stream: the ready subset of `events` plus
    /// `POLLERR`/`POLLHUP`/`POLLNVAL`, waiting up to `timeout` for one.
    pub fn poll(&self, events: i16, timeout: Option<Duration>) -> i16 {
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut h = head(&self.s);
        loop {
            let mut ready: i16 = 0;
            if h.phase != Phase::Open {
                ready |= POLLNVAL;
            }
            if let Some(&MsgPtr(mp)) = h.msgs.front() {
                if db_type(mp) == M_PCPROTO {
                    ready |= POLLPRI;
                } else {
                    ready |= POLLIN | POLLRDNORM;
                }
            }
            if h.rerr != 0 || h.werr != 0 {
                ready |= POLLERR;
            }
            if h.hangup {
                ready |= POLLHUP;
            } else if h.werr == 0 {
                ready |= POLLOUT | POLLWRNORM;
            }
            let r = ready & (events | POLLERR | POLLHUP | POLLNVAL);
            if r != 0 {
                return r;
            }
            match remaining(deadline) {
                Some(d) if d.is_zero() => return 0,
                Some(d) => h = self.s.cv.wait_timeout(h, d).unwrap_or_else(|e| e.into_inner()).0,
                None => h = self.s.cv.wait(h).unwrap_or_else(|e| e.into_inner()),
            }
        }
    }

    /// `I_SRDOPT`: handled by the stream head, not the driver.
    pub fn set_read_opt(&self, mode: i32) -> Result<(), Errno> {
        let m = mode & RMODEMASK;
        if mode & !(RMODEMASK | illumos_sys_hdrs::RPROTMASK) != 0 || !(m == RNORM || m == RMSGD || m == RMSGN) {
            return Err(EINVAL);
        }
        head(&self.s).readopt = m;
        Ok(())
    }

    /// `I_FLUSH`: flush the head's read side if `FLUSHR`, and send
    /// `M_FLUSH` down to the driver.
    pub fn flush(&self, flags: u8) -> Result<(), Errno> {
        {
            let mut h = head(&self.s);
            if h.phase != Phase::Open {
                return Err(EBADF);
            }
            if flags & FLUSHR != 0 {
                flush_head(&mut h);
            }
        }
        let mp = alloc_msg(&self.host, M_FLUSH, 0, &[flags]);
        self.call_wput(mp);
        Ok(())
    }

    /// An `I_STR` ioctl whose reply buffer (`ic_dp`) is `data.len()` bytes.
    pub fn ioctl_istr(&self, cmd: i32, data: &[u8]) -> Result<IoctlReply, Errno> {
        self.ioctl_istr_buf(cmd, data, data.len())
    }

    /// An `I_STR` ioctl sending `data` with a reply buffer of `buf_len`
    /// bytes: a reply longer than that is a violation.
    pub fn ioctl_istr_buf(&self, cmd: i32, data: &[u8], buf_len: usize) -> Result<IoctlReply, Errno> {
        self.ioctl_common(cmd, data, buf_len, None)
    }

    /// A transparent ioctl: `arg` is a user address (see
    /// [`SimHost::user_memory`]) or a plain value.
    pub fn ioctl_transparent(&self, cmd: i32, arg: usize) -> Result<IoctlReply, Errno> {
        self.ioctl_common(cmd, &[], 0, Some(arg))
    }

    fn ioctl_common(&self, cmd: i32, data: &[u8], buf_len: usize, arg: Option<usize>) -> Result<IoctlReply, Errno> {
        let host = &self.host;
        let timeout = *lock(&host.ioctl_timeout);
        let deadline = Instant::now() + timeout;
        let transparent = arg.is_some();
        let id = {
            let mut t = lock(&host.streams);
            t.next_ioc_id = t.next_ioc_id.wrapping_add(1).max(1);
            t.next_ioc_id
        };
        {
            // One ioctl at a time per stream, as the stream head does.
            let mut h = head(&self.s);
            while h.ioc.is_some() {
                let d = deadline.saturating_duration_since(Instant::now());
                if d.is_zero() {
                    return Err(ETIME);
                }
                h = self.s.cv.wait_timeout(h, d).unwrap_or_else(|e| e.into_inner()).0;
            }
            if h.phase != Phase::Open {
                return Err(EBADF);
            }
            if h.hangup {
                return Err(ENXIO);
            }
            h.ioc = Some(PendingIoc { id, inbox: VecDeque::new() });
        }
        // SAFETY: iocblk is integers and pointers.
        let mut ioc: iocblk = unsafe { std::mem::zeroed() };
        ioc.ioc_cmd = cmd;
        ioc.ioc_cr = self.s.cred.as_cred().0.cast_mut();
        ioc.ioc_id = id;
        ioc.ioc_flag = IOC_NATIVE;
        ioc.ioc_count = if transparent { TRANSPARENT as usize } else { data.len() };
        let mp = union_msg(host, M_IOCTL, &ioc);
        let cont = match arg {
            Some(a) => alloc_msg(host, M_DATA, 0, &a.to_ne_bytes()),
            None if !data.is_empty() => alloc_msg(host, M_DATA, 0, data),
            None => ptr::null_mut(),
        };
        // SAFETY: fresh blocks.
        unsafe { (*mp).b_cont = cont };
        self.call_wput(mp);
        loop {
            let next = {
                let mut h = head(&self.s);
                loop {
                    if let Some(p) = h.ioc.as_mut()
                        && let Some(m) = p.inbox.pop_front() {
                            break Some(m.0);
                        }
                    if h.phase != Phase::Open {
                        h.ioc = None;
                        break None;
                    }
                    let d = deadline.saturating_duration_since(Instant::now());
                    if d.is_zero() {
                        h.ioc = None;
                        h.abandoned_iocs.push(id);
                        self.s.cv.notify_all();
                        drop(h);
                        host.record(
                            ViolationKind::IoctlNoReply,
                            format!("M_IOCTL cmd {cmd:#x} (ioc_id {id}) got no M_IOCACK/M_IOCNAK within {timeout:?}"),
                        );
                        return Err(ETIME);
                    }
                    h = self.s.cv.wait_timeout(h, d).unwrap_or_else(|e| e.into_inner()).0;
                }
            };
            let Some(mp) = next else { return Err(EBADF) };
            match self.ioctl_step(cmd, id, mp, transparent, buf_len) {
                Step::Continue(iocdata) => self.call_wput(iocdata),
                Step::Done(r) => {
                    self.finish_ioc();
                    return r;
                }
                Step::FailAndSend(e, iocdata) => {
                    self.finish_ioc();
                    self.call_wput(iocdata);
                    return Err(e);
                }
            }
        }
    }

    fn finish_ioc(&self) {
        let mut h = head(&self.s);
        let left = h.ioc.take().map(|p| p.inbox).unwrap_or_default();
        self.s.cv.notify_all();
        drop(h);
        for m in left {
            self.host.record(
                ViolationKind::IoctlDoubleReply,
                format!("a second reply (type {:#x}) to an ioctl that was already answered", db_type(m.0)),
            );
            free_here(m.0);
        }
    }

    fn ioctl_step(&self, cmd: i32, id: u32, mp: *mut mblk_t, transparent: bool, buf_len: usize) -> Step {
        let host = &self.host;
        let ty = db_type(mp);
        // SAFETY: a checked message the head owns.
        let first = unsafe { mblk::block_bytes(mp) }.to_vec();
        match ty {
            M_IOCACK | M_IOCNAK => {
                if first.len() < size_of::<iocblk>() {
                    host.record(ViolationKind::IoctlProtocol, format!("ioctl reply of {} bytes < sizeof (iocblk)", first.len()));
                    free_here(mp);
                    return Step::Done(Err(EINVAL));
                }
                // SAFETY: enough bytes for an iocblk.
                let ioc: iocblk = unsafe { ptr::read_unaligned(first.as_ptr().cast()) };
                // SAFETY: as above.
                let cont = unsafe { (*mp).b_cont };
                let payload = msg_bytes(cont);
                free_here(mp);
                if ty == M_IOCNAK {
                    return Step::Done(Err(if ioc.ioc_error != 0 { ioc.ioc_error } else { EINVAL }));
                }
                if ioc.ioc_error != 0 {
                    return Step::Done(Err(ioc.ioc_error));
                }
                let mut data = Vec::new();
                if !transparent && ioc.ioc_count > 0 {
                    let n = ioc.ioc_count;
                    if n > payload.len() {
                        host.record(
                            ViolationKind::IoctlProtocol,
                            format!("M_IOCACK ioc_count {n} but only {} bytes of data in b_cont", payload.len()),
                        );
                    }
                    if n > buf_len {
                        host.record(
                            ViolationKind::IoctlReplyTooLong,
                            format!("M_IOCACK of cmd {cmd:#x} returns {n} bytes, the caller's buffer (ic_len) is {buf_len}"),
                        );
                    }
                    data = payload[..n.min(payload.len()).min(buf_len)].to_vec();
                }
                Step::Done(Ok(IoctlReply { rval: ioc.ioc_rval, data }))
            }
            M_COPYIN | M_COPYOUT => {
                let what = if ty == M_COPYIN { "M_COPYIN" } else { "M_COPYOUT" };
                if !transparent {
                    host.record(
                        ViolationKind::IoctlProtocol,
                        format!("{what} on an I_STR ioctl (cmd {cmd:#x}): the data already came in M_IOCTL's b_cont"),
                    );
                }
                if first.len() < size_of::<copyreq>() {
                    host.record(ViolationKind::IoctlProtocol, format!("{what} of {} bytes < sizeof (copyreq)", first.len()));
                    free_here(mp);
                    return Step::Done(Err(EINVAL));
                }
                // SAFETY: enough bytes for a copyreq.
                let cq: copyreq = unsafe { ptr::read_unaligned(first.as_ptr().cast()) };
                // SAFETY: as above.
                let cont = unsafe { (*mp).b_cont };
                let payload = msg_bytes(cont);
                free_here(mp);
                let mut rval: usize = 0;
                let mut data_in = None;
                if !transparent {
                    rval = EINVAL as usize;
                } else if cq.cq_size == 0 || cq.cq_size > MAX_COPY {
                    host.record(
                        ViolationKind::CopyBounds,
                        format!("{what} of cq_size {} (must be 1..={MAX_COPY})", cq.cq_size),
                    );
                    rval = EINVAL as usize;
                } else if ty == M_COPYIN {
                    match self.host_mem().read(cq.cq_addr as usize, cq.cq_size) {
                        Some(b) => data_in = Some(b),
                        None => rval = EFAULT as usize,
                    }
                } else {
                    if payload.len() < cq.cq_size {
                        host.record(
                            ViolationKind::IoctlProtocol,
                            format!("M_COPYOUT of cq_size {} with only {} bytes in b_cont", cq.cq_size, payload.len()),
                        );
                        rval = EINVAL as usize;
                    } else if !self.host_mem().write(cq.cq_addr as usize, &payload[..cq.cq_size]) {
                        rval = EFAULT as usize;
                    }
                }
                // SAFETY: copyresp is integers and pointers.
                let mut cp: copyresp = unsafe { std::mem::zeroed() };
                cp.cp_cmd = cmd;
                cp.cp_cr = self.s.cred.as_cred().0.cast_mut();
                cp.cp_id = id;
                cp.cp_flag = cq.cq_flag;
                cp.cp_private = cq.cq_private;
                cp.cp_rval = rval as illumos_sys_hdrs::caddr_t;
                let out = union_msg(host, M_IOCDATA, &cp);
                if let Some(b) = data_in {
                    let d = alloc_msg(host, M_DATA, 0, &b);
                    // SAFETY: fresh blocks.
                    unsafe { (*out).b_cont = d };
                }
                if rval != 0 {
                    Step::FailAndSend(rval as Errno, out)
                } else {
                    Step::Continue(out)
                }
            }
            _ => {
                free_here(mp);
                Step::Done(Err(EINVAL))
            }
        }
    }

    fn host_mem(&self) -> UserMemory {
        UserMemory(self.host.clone())
    }

    /// `close(2)`: calls the driver's close; wakes readers blocked on
    /// other threads (they get `EBADF`).  Idempotent.
    pub fn close(&self) {
        close_stream(&self.host, &self.s);
    }
}

enum Step {
    Continue(*mut mblk_t),
    Done(Result<IoctlReply, Errno>),
    FailAndSend(Errno, *mut mblk_t),
}

/// A message whose first block is sized like `union ioctypes` and holds
/// `v` (so a driver can turn an M_IOCTL into M_COPYIN in place).
fn union_msg<T>(host: &Arc<HostShared>, ty: u8, v: &T) -> *mut mblk_t {
    let mp = mblk::allocb(host, IOCTYPES_SIZE);
    // SAFETY: a fresh block of IOCTYPES_SIZE >= size_of::<T>() bytes.
    unsafe {
        (*(*mp).b_datap).db_type = ty;
        ptr::copy_nonoverlapping((v as *const T).cast::<u8>(), (*mp).b_rptr, size_of::<T>());
        (*mp).b_wptr = (*mp).b_rptr.add(size_of::<T>());
    }
    mp
}

impl Drop for SimStream {
    fn drop(&mut self) {
        self.close();
    }
}
