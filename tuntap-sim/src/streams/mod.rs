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
//! `M_FLUSH` from the driver flushes the head if `FLUSHR` (back-enabling
//! a waiting driver queue, as `flushq` does) and turns `FLUSHW` around;
//! the head never flushes its read side on its own `I_FLUSH` (see
//! [`SimStream::flush`]).  Ioctl replies
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
use std::sync::atomic::{AtomicI32, AtomicU32, AtomicU64, Ordering};
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
use crate::context::{self, Ctx};
use crate::host::{HostShared, SimHost, ViolationKind, lock};
use crate::faults::Hook;
use crate::watchdog::WAIT_BOUND;
use crate::mblk::{self, alloc_msg, check_msg, db_type, free_here, msg_bytes, msg_len};

/// `IOC_NATIVE` = `DATAMODEL_NATIVE` = `DATAMODEL_LP64` (sys/model.h,
/// amd64 kernel): the `ioc_flag` of an ioctl from a 64-bit process.
pub const IOC_NATIVE: u32 = 0x0020_0000;

/// `ic_cmd` of the dummy ioctl `I_FLUSH` sends after `M_FLUSH` (strioctl,
/// usr/src/uts/common/os/streamio.c): an unsupported command the driver
/// must NAK.
pub const FLUSH_DUMMY_IOCTL: i32 = -1;

/// Largest `cq_size` the stream head accepts in `M_COPYIN`/`M_COPYOUT`
/// before calling it a violation (no tuntap ioctl argument is near it).
pub const MAX_COPY: usize = 64 * 1024;

/// Size of `union ioctypes` (iocblk, copyreq, copyresp): the first block
/// of every `M_IOCTL`/`M_IOCDATA` the stream head builds.
pub(crate) const IOCTYPES_SIZE: usize = {
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
    /// Service procedure runs completed (for the back-enable hook).
    svc_runs: u64,
    ioc: Option<PendingIoc>,
    abandoned_iocs: Vec<u32>,
    /// The types of the first [`CONTROL_ARRIVALS`] messages other than
    /// `M_DATA` that reached the head, in arrival order (a test checks
    /// the order a driver sends its answers and errors in).
    control_arrivals: Vec<u8>,
}

/// How many non-data arrivals a head remembers.
const CONTROL_ARRIVALS: usize = 256;

/// One open (or once open) stream.
pub(crate) struct Stream {
    queues: *mut [queue_t; 4],
    minor: AtomicU32,
    pid: AtomicI32,
    flag: i32,
    cred: SimCred,
    /// Calls of the driver's write put procedure that returned.
    puts_done: AtomicU64,
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

/// Call a STREAMS entry point of the driver in context `ctx` (open and
/// close in the process's own thread; put and service procedures with no
/// user context: see `context.rs`).
fn call_driver<R>(host: &Arc<HostShared>, ctx: Ctx, f: impl FnOnce(&dyn StreamsEntry) -> R) -> Option<R> {
    let drv = host.driver()?;
    let _g = context::enter(host, ctx);
    Some(f(&*drv))
}

/// User context of process `pid` with credential `cred` (open, close).
fn user_ctx(host: &Arc<HostShared>, pid: i32, cred: &crate::dls::SimCred) -> Ctx {
    let zone = crate::dls::cred_read(host, cred.as_cred()).map_or(tuntap_drv::ddi::GLOBAL_ZONEID, |c| c.zone);
    Ctx::User { pid, zone }
}

mod head;
mod app;
mod ioctl;

#[allow(unused_imports)]
pub use head::*;
#[allow(unused_imports)]
pub use app::*;
#[allow(unused_imports)]
pub use ioctl::*;
