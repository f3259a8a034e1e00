// SPDX-License-Identifier: MPL-2.0
//! Layered opens (LDI) of `/dev/net/<link>` from the kernel, and the
//! driver's own STREAMS module pushed on them: the lower half of the
//! old-API relay (`tuntap-drv/src/dlpi/relay.rs`).
//!
//! # Theory statement
//!
//! A kernel-held stream here is a stream head, optionally one pushed
//! module (the driver's `tunrly`, whose procedures are the driver's
//! [`StreamsEntry`] module entries), and a dld stream at the bottom
//! (`mac/dld.rs`).  Rules, each from illumos-gate:
//!
//! 1. **Blocking contexts only.**  `ldi_open_by_name`, `ldi_ioctl` and
//!    `ldi_close` look up paths, open and close devices and wait for
//!    acks (`usr/src/uts/common/os/driver_lyr.c`; each asserts
//!    `!servicing_interrupt()`): from a put or service procedure or a mac
//!    callback they are a [`ViolationKind::Context`] violation.
//! 2. **Name lookup.**  `ldi_open_by_name` takes an absolute path
//!    (`ldi_vp_from_name`); `/dev/net/<link>` resolves through sdev's
//!    `devnet_create_rvp` -> `dls_devnet_open` (dls_mgmt.c) in the
//!    caller's zone, a taskq's being the global zone: `ENOENT` for a name
//!    the global zone does not have (how the global zone sees a link
//!    given to another zone is not modelled: such a link is not found).
//!    Any other path is `ENOENT`.
//! 3. **`ldi_ioctl` with `FKIOCTL`** (`strioctl`, streamio.c, `K_TO_K`):
//!    `I_PUSH` copies the module name from kernel memory (`copystr`) and
//!    finds it in `fmodsw` (`EINVAL` for a name no module registered; the
//!    driver registers `tunrly`); the module's open runs with `MODOPEN`
//!    in the caller's thread and must call `qprocson`.  `I_STR` and
//!    `DLIOCRAW` go down as an `M_IOCTL` with `ioc_cr == kcred`, first to
//!    the module's write put procedure; the caller waits for the
//!    `M_IOCACK`/`M_IOCNAK` at the head (bounded: `ETIME`).
//! 4. **`ldi_close`** pops the module (its close must call `qprocsoff`;
//!    after that nothing enters the module again: what dld sends up goes
//!    to the head) and then closes dld (`dld_close`: an active stream
//!    leaves dls's client).  A handle used after close, or still open at
//!    the end of the test, is a [`ViolationKind::LdiProtocol`] violation.
//! 5. **Cross-stream STREAMS calls** (`putnext`, `qreply`, `canputnext`,
//!    `qenable`) on the module's queues: legal from any context that does
//!    not hold a driver lock, but a message put into a module queue after
//!    the module's `qprocsoff` is a violation (use after close).
//!    `putnext` on the module's write queue enters dld (`dld_wput`), on
//!    its read queue the head; `canputnext` on the write queue is dld's
//!    (`DLD_SETQFULL` while dls's client is held back).
//! 6. **The lower stream head is a sink nobody drains** (the kernel
//!    never calls `ldi_getmsg` on it): what reaches it other than an
//!    ioctl reply (`strrput` consumes those) or `M_FLUSH` stays queued,
//!    and once `STRHIGH` (5120 bytes, usr/src/uts/common/sys/stream.h)
//!    are queued `canputnext` on the module's read queue fails (the
//!    module has no service procedure, so canputnext looks at the head:
//!    `canputnext`, usr/src/uts/common/os/putnext.c).  dld's raw receive
//!    tests exactly that and frees the frame when it fails
//!    (`dld_str_rx_raw`, usr/src/uts/common/io/dld/dld_str.c): an
//!    undrained head stops all receive.  `M_ERROR`/`M_HANGUP` at the head
//!    mark it (`STRDERR`/`STRHUP`, `strrput` in os/strsubr.c), and a
//!    later `ldi_ioctl` fails with `ENXIO` (`strdoioctl`,
//!    os/streamio.c).  `ldi_user.rs` has what a test does from outside:
//!    a message from dld, a look at the heads, a user's own stream.
//!
//! Locks: the host's `ldi` table and a lower stream's `st` are leaves,
//! never held while calling the driver.

use std::collections::HashMap;
use std::ffi::CStr;
use std::ptr::{self, NonNull};
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::time::{Duration, Instant};

use illumos_sys_hdrs::{
    EINVAL, ENOENT, ETIME, I_PUSH, I_STR, M_IOCACK, M_IOCNAK, M_IOCTL, MODOPEN, QREADR, iocblk, mblk_t, queue_t,
    strioctl,
};
use illumos_sys_hdrs::dlpi::DLIOCRAW;
use tuntap_drv::ddi::{Cred, Errno, GLOBAL_ZONEID, LdiHandle};

use crate::context::{self, Ctx};
use crate::dls::{CredSpec, Privileges, SimCred};
use crate::host::{HostShared, ViolationKind, lock};
use crate::mac::dld::{self, DldStream};
use crate::mac::LinkRef;
use crate::mblk::{MsgPtrs, alloc_msg, db_type, free_here, msg_bytes};

/// The modules `I_PUSH` finds (`fmodsw`): the driver's relay module.
pub const MODULES: &[&str] = &[tuntap_drv::dlpi::relay::MODULE_NAME];

/// How long an ioctl on a kernel-held stream waits for its ack.
const IOCTL_WAIT: Duration = Duration::from_secs(10);

#[derive(Default)]
pub(crate) struct LowerSt {
    /// The module's queue pair (read queue first), if one is pushed.
    module: Option<*mut [queue_t; 2]>,
    mod_on: bool,
    mod_off: bool,
    ioc: Option<(u32, Option<MsgPtrs>)>,
    closed: bool,
    /// Rule 6: messages queued at the head (never read) and their bytes.
    head_held: Vec<MsgPtrs>,
    pub(crate) head_bytes: usize,
    /// Rule 6: the head was hung up or got an error.
    head_hung: bool,
    /// Rule 6: raw frames dld freed because the head was full.
    pub(crate) head_drops: u64,
}

/// Rule 6: the stream head's read-side high-water mark.
const STRHIGH: usize = 5120;

/// One kernel-held stream.
pub(crate) struct Lower {
    key: usize,
    pub(crate) path: String,
    dld: Mutex<Option<Arc<DldStream>>>,
    pub(crate) st: Mutex<LowerSt>,
    cv: Condvar,
}

// SAFETY: the queue memory is simulator-owned (freed with the host);
// everything else is behind mutexes.
unsafe impl Send for Lower {}
// SAFETY: as above.
unsafe impl Sync for Lower {}

/// All kernel-held streams of a host.
#[derive(Default)]
pub(crate) struct LdiTable {
    pub(crate) by_handle: HashMap<usize, Arc<Lower>>,
    by_q: HashMap<usize, Arc<Lower>>,
    closed: Vec<usize>,
    queue_mem: Vec<MemPtr>,
    next: usize,
    next_ioc: u32,
    kcred: Option<SimCred>,
}

struct MemPtr(*mut [queue_t; 2]);
// SAFETY: simulator-owned memory, freed only when the table drops.
unsafe impl Send for MemPtr {}

impl Drop for LdiTable {
    fn drop(&mut self) {
        for q in self.queue_mem.drain(..) {
            // SAFETY: made by Box::into_raw in push_module; the host is gone.
            drop(unsafe { Box::from_raw(q.0) });
        }
    }
}

/// `kcred`: the kernel's credential (global zone, every privilege).
pub(crate) fn kcred(host: &Arc<HostShared>) -> Cred {
    let mut t = lock(&host.ldi);
    if let Some(c) = &t.kcred {
        return c.as_cred();
    }
    let c = crate::dls::new_cred(
        host,
        CredSpec { uid: 0, gid: 0, groups: vec![], zone: GLOBAL_ZONEID, privs: Privileges::all() },
    );
    let cr = c.as_cred();
    t.kcred = Some(c);
    cr
}

impl crate::SimHost {
    /// `kcred`: the credential `ldi_ioctl` puts in `ioc_cr` (what a loaded
    /// kernel object's `kcred` data symbol must hold).
    pub fn kcred(&self) -> Cred {
        kcred(&self.shared)
    }
}

pub(crate) fn is_kcred(host: &Arc<HostShared>, cr: Cred) -> bool {
    lock(&host.ldi).kcred.as_ref().is_some_and(|k| k.as_cred().0 == cr.0)
}

fn lower_of(host: &Arc<HostShared>, lh: LdiHandle, what: &str) -> Option<Arc<Lower>> {
    let key = lh.0.as_ptr() as usize;
    let t = lock(&host.ldi);
    if let Some(l) = t.by_handle.get(&key) {
        return Some(l.clone());
    }
    let closed = t.closed.contains(&key);
    drop(t);
    host.record(
        ViolationKind::LdiProtocol,
        if closed { format!("{what} on an LDI handle after ldi_close") } else { format!("{what} on {key:#x}, not an LDI handle") },
    );
    None
}

/// Rules 1-2: `ldi_open_by_name(path, FREAD|FWRITE, kcred, ..)`.
pub(crate) fn ldi_open_by_name(host: &Arc<HostShared>, path: &[u8]) -> Result<LdiHandle, Errno> {
    context::check_may_block(host, "ldi_open_by_name (path lookup, the device's open)");
    let lower = open_lower(host, path)?;
    let key = lower.key;
    lock(&host.ldi).by_handle.insert(key, lower);
    Ok(LdiHandle(NonNull::new(key as *mut std::ffi::c_void).unwrap_or(NonNull::dangling())))
}

/// Rule 2: a stream on `/dev/net/<link>`, not yet in the handle table.
pub(crate) fn open_lower(host: &Arc<HostShared>, path: &[u8]) -> Result<Arc<Lower>, Errno> {
    let path = String::from_utf8_lossy(path).into_owned();
    let name = path.strip_prefix("/dev/net/").ok_or(ENOENT)?;
    host.injected(crate::faults::Fault::LdiOpen)?;
    let m = crate::mac::provider_resolve(host, &LinkRef::Name(name.to_string()), GLOBAL_ZONEID)?;
    let key = {
        let mut t = lock(&host.ldi);
        t.next += 1;
        t.next << 4
    };
    let lower = Arc::new(Lower {
        key,
        path,
        dld: Mutex::new(None),
        st: Mutex::new(LowerSt::default()),
        cv: Condvar::new(),
    });
    let hw: Weak<HostShared> = Arc::downgrade(host);
    let lw = Arc::downgrade(&lower);
    let up: dld::Up = Box::new(move |h, mp| match lw.upgrade() {
        Some(l) => send_up_from_dld(h, &l, mp),
        None => free_here(mp),
    });
    drop(hw);
    let d = dld::dld_open(&m, up)?;
    *lock(&lower.dld) = Some(d);
    Ok(lower)
}

/// The module's queues, if pushed and between `qprocson` and `qprocsoff`.
fn live_module(l: &Lower) -> Option<(*mut queue_t, *mut queue_t)> {
    let st = lock(&l.st);
    let q = st.module?;
    if !st.mod_on || st.mod_off {
        return None;
    }
    // SAFETY: two queues, read queue first.
    Some(unsafe { ((*q).as_mut_ptr(), (*q).as_mut_ptr().add(1)) })
}

/// dld sends `mp` up: into the module's read put procedure, or the head;
/// a raw frame only if `canputnext` (rule 6).
pub(crate) fn send_up_from_dld(host: &Arc<HostShared>, l: &Arc<Lower>, mp: *mut mblk_t) {
    if db_type(mp) == illumos_sys_hdrs::M_DATA && head_full(l) {
        lock(&l.st).head_drops += 1;
        return free_here(mp);
    }
    match live_module(l) {
        Some((rq, _)) => {
            let Some(drv) = host.driver() else { return free_here(mp) };
            let _g = context::enter(host, Ctx::Put);
            // SAFETY: the module's live read queue; mp is handed over.
            unsafe { drv.mod_rput(rq, mp) };
        }
        None => head_rput(host, l, mp),
    }
}

/// The lower stream head: ioctl acks to the waiting `ldi_ioctl`; nobody
/// reads anything else (freed).
fn head_rput(host: &Arc<HostShared>, l: &Lower, mp: *mut mblk_t) {
    let ty = db_type(mp);
    if ty == M_IOCACK || ty == M_IOCNAK {
        // SAFETY: an ioctl reply starts with its iocblk.
        let id = unsafe { (*(*mp).b_rptr.cast::<iocblk>()).ioc_id };
        let mut st = lock(&l.st);
        if let Some((want, slot @ None)) = st.ioc.as_mut()
            && *want == id
        {
            *slot = Some(MsgPtrs(mp));
            drop(st);
            l.cv.notify_all();
            return;
        }
        drop(st);
        host.record(ViolationKind::IoctlProtocol, format!("ioctl reply {id} reached the head of {} unasked", l.path));
        return free_here(mp);
    }
    if ty == illumos_sys_hdrs::M_FLUSH {
        return free_here(mp);
    }
    // Rule 6: queued for a reader that never comes.
    let mut st = lock(&l.st);
    if ty == illumos_sys_hdrs::M_ERROR || ty == illumos_sys_hdrs::M_HANGUP {
        st.head_hung = true;
        drop(st);
        return free_here(mp);
    }
    st.head_bytes += msg_bytes(mp).len();
    st.head_held.push(MsgPtrs(mp));
}

/// Rule 6: is the head at its high-water mark?
fn head_full(l: &Lower) -> bool {
    lock(&l.st).head_bytes >= STRHIGH
}

/// Send `mp` down from the head: the module's write put procedure, or dld.
pub(crate) fn send_down_from_head(host: &Arc<HostShared>, l: &Arc<Lower>, mp: *mut mblk_t) {
    match live_module(l) {
        Some((_, wq)) => {
            let Some(drv) = host.driver() else { return free_here(mp) };
            let _g = context::enter(host, Ctx::Put);
            // SAFETY: the module's live write queue; mp is handed over.
            unsafe { drv.mod_wput(wq, mp) };
        }
        None => match lock(&l.dld).clone() {
            Some(d) => dld::dld_wput(host, &d, mp),
            None => free_here(mp),
        },
    }
}

/// An `M_IOCTL` down the stream, waiting for its reply (rule 3).
pub(crate) fn do_ioctl(host: &Arc<HostShared>, l: &Arc<Lower>, cmd: i32, data: &mut [u8], cr: Cred) -> Result<i32, Errno> {
    if lock(&l.st).head_hung {
        return Err(illumos_sys_hdrs::ENXIO);
    }
    let id = {
        let mut t = lock(&host.ldi);
        t.next_ioc += 1;
        t.next_ioc
    };
    // SAFETY-free: an iocblk is plain old data.
    let mut ioc: iocblk = unsafe { std::mem::zeroed() };
    ioc.ioc_cmd = cmd;
    ioc.ioc_cr = cr.0.cast_mut();
    ioc.ioc_id = id;
    ioc.ioc_count = data.len();
    ioc.ioc_flag = crate::streams::IOC_NATIVE;
    // SAFETY: iocblk is plain data; we view its bytes.
    let head = unsafe { std::slice::from_raw_parts((&raw const ioc).cast::<u8>(), size_of::<iocblk>()) };
    // The first block is as large as `union ioctypes`, as strdoioctl
    // allocates it.
    let mut first = head.to_vec();
    first.resize(crate::streams::IOCTYPES_SIZE.max(first.len()), 0);
    let mp = alloc_msg(host, M_IOCTL, 0, &first);
    if mp.is_null() {
        return Err(illumos_sys_hdrs::ENOMEM);
    }
    if !data.is_empty() {
        let cont = alloc_msg(host, illumos_sys_hdrs::M_DATA, 0, data);
        // SAFETY: our fresh message.
        unsafe { (*mp).b_cont = cont };
    }
    lock(&l.st).ioc = Some((id, None));
    send_down_from_head(host, l, mp);
    let deadline = Instant::now() + IOCTL_WAIT;
    let mut st = lock(&l.st);
    let reply = loop {
        if let Some((_, Some(r))) = st.ioc.as_ref() {
            let r = r.0;
            st.ioc = None;
            break r;
        }
        let now = Instant::now();
        if now >= deadline {
            st.ioc = None;
            return Err(ETIME);
        }
        st = l.cv.wait_timeout(st, deadline - now).unwrap_or_else(|e| e.into_inner()).0;
    };
    drop(st);
    // SAFETY: a reply with its iocblk.
    let (ty, rio) = unsafe { (db_type(reply), ptr::read((*reply).b_rptr.cast::<iocblk>())) };
    // SAFETY: as above.
    let cont = unsafe { (*reply).b_cont };
    if ty == M_IOCACK && !cont.is_null() {
        let back = msg_bytes(cont);
        let n = back.len().min(data.len()).min(rio.ioc_count);
        data[..n].copy_from_slice(&back[..n]);
    }
    free_here(reply);
    if ty == M_IOCACK && rio.ioc_error == 0 { Ok(rio.ioc_rval) } else { Err(if rio.ioc_error != 0 { rio.ioc_error } else { EINVAL }) }
}

/// `I_PUSH` of the driver's module (rule 3).
pub(crate) fn push_module(host: &Arc<HostShared>, l: &Arc<Lower>, name: &str, cr: Cred) -> Result<i32, Errno> {
    if !MODULES.contains(&name) || lock(&l.st).module.is_some() {
        return Err(EINVAL);
    }
    let Some(drv) = host.driver() else { return Err(EINVAL) };
    // SAFETY-free: zeroed queue_t is the state a fresh allocation has.
    let mem: Box<[queue_t; 2]> = Box::new(unsafe { std::mem::zeroed() });
    let mem = Box::into_raw(mem);
    // SAFETY: our fresh pair.
    let (rq, wq) = unsafe { ((*mem).as_mut_ptr(), (*mem).as_mut_ptr().add(1)) };
    // SAFETY: as above.
    unsafe { (*rq).q_flag = QREADR };
    {
        let mut t = lock(&host.ldi);
        t.queue_mem.push(MemPtr(mem));
        t.by_q.insert(rq as usize, l.clone());
        t.by_q.insert(wq as usize, l.clone());
    }
    lock(&l.st).module = Some(mem);
    // SAFETY: a fresh module pair; the caller's thread (rule 3).
    let r = unsafe { drv.mod_open(rq, MODOPEN, cr) };
    let mut st = lock(&l.st);
    match r {
        Ok(()) if st.mod_on => Ok(0),
        Ok(()) => {
            drop(st);
            host.record(ViolationKind::LdiProtocol, "the module's open returned without qprocson".into());
            Ok(0)
        }
        Err(e) => {
            st.module = None;
            Err(e)
        }
    }
}

/// Rule 3: `ldi_ioctl(lh, cmd, arg, FKIOCTL, kcred, ..)`.
///
/// # Safety
/// `arg` is what `cmd` expects (a C string for `I_PUSH`, a `strioctl`
/// for `I_STR`).
pub(crate) unsafe fn ldi_ioctl(host: &Arc<HostShared>, lh: LdiHandle, cmd: i32, arg: isize) -> Result<i32, Errno> {
    context::check_may_block(host, "ldi_ioctl (waits for the ioctl's ack)");
    let l = lower_of(host, lh, "ldi_ioctl").ok_or(EINVAL)?;
    match cmd {
        I_PUSH => {
            // SAFETY: the caller's contract: a NUL-terminated name.
            let name = unsafe { CStr::from_ptr(arg as *const std::ffi::c_char) }.to_string_lossy().into_owned();
            push_module(host, &l, &name, kcred(host))
        }
        I_STR => {
            // SAFETY: the caller's contract: a strioctl in kernel memory.
            let s = unsafe { &*(arg as *const strioctl) };
            let len = usize::try_from(s.ic_len).map_err(|_| EINVAL)?;
            let data: &mut [u8] = if len == 0 || s.ic_dp.is_null() {
                &mut []
            } else {
                // SAFETY: ic_dp holds ic_len bytes (the caller's contract).
                unsafe { std::slice::from_raw_parts_mut(s.ic_dp.cast::<u8>(), len) }
            };
            do_ioctl(host, &l, s.ic_cmd, data, kcred(host))
        }
        DLIOCRAW => do_ioctl(host, &l, cmd, &mut [], kcred(host)),
        _ => Err(EINVAL),
    }
}

/// `ldi_ioctl(I_STR)` with the data as a slice.
pub(crate) fn ldi_ioctl_istr(host: &Arc<HostShared>, lh: LdiHandle, cmd: i32, data: &mut [u8]) -> Result<i32, Errno> {
    context::check_may_block(host, "ldi_ioctl (waits for the ioctl's ack)");
    let l = lower_of(host, lh, "ldi_ioctl").ok_or(EINVAL)?;
    do_ioctl(host, &l, cmd, data, kcred(host))
}

/// Rule 4: `ldi_close(lh, FREAD|FWRITE, kcred)`.
pub(crate) fn ldi_close(host: &Arc<HostShared>, lh: LdiHandle) {
    context::check_may_block(host, "ldi_close (the module's and dld's close)");
    let Some(l) = lower_of(host, lh, "ldi_close") else { return };
    close_lower(host, &l);
}

pub(crate) fn close_lower(host: &Arc<HostShared>, l: &Arc<Lower>) {
    {
        let mut t = lock(&host.ldi);
        t.by_handle.remove(&l.key);
        t.closed.push(l.key);
    }
    let module = {
        let mut st = lock(&l.st);
        st.closed = true;
        if st.mod_on && !st.mod_off { st.module } else { None }
    };
    if let (Some(q), Some(drv)) = (module, host.driver()) {
        // SAFETY: the module's read queue.
        let rq = unsafe { (*q).as_mut_ptr() };
        // SAFETY: the module pushed by this stream, closed once.
        unsafe { drv.mod_close(rq) };
        if !lock(&l.st).mod_off {
            host.record(ViolationKind::LdiProtocol, "the module's close returned without qprocsoff".into());
            lock(&l.st).mod_off = true;
        }
    }
    if let Some(d) = lock(&l.dld).take() {
        dld::dld_close(host, &d);
    }
    // strclose flushes the head's queue.
    let held = std::mem::take(&mut lock(&l.st).head_held);
    for m in held {
        free_here(m.0);
    }
}

/// End of test: kernel-held streams still open.
pub(crate) fn check_leaks(host: &Arc<HostShared>) {
    let left: Vec<Arc<Lower>> = lock(&host.ldi).by_handle.values().cloned().collect();
    if !left.is_empty() {
        let paths: Vec<String> = left.iter().map(|l| l.path.clone()).collect();
        host.record(ViolationKind::Leak, format!("LDI stream(s) the driver opened are still open at the end: {paths:?}"));
        for l in left {
            close_lower(host, &l);
        }
    }
}

// ----- rule 5: STREAMS calls on the module's queues -----

fn module_queue(host: &Arc<HostShared>, q: *mut queue_t) -> Option<(Arc<Lower>, bool)> {
    let l = lock(&host.ldi).by_q.get(&(q as usize)).cloned()?;
    // SAFETY: one of our module queues.
    let is_rq = unsafe { (*q).q_flag & QREADR != 0 };
    Some((l, is_rq))
}

fn after_off(host: &Arc<HostShared>, l: &Lower, what: &str) -> bool {
    let off = lock(&l.st).mod_off;
    if off {
        host.record(
            ViolationKind::LdiProtocol,
            format!("{what} on a queue of the module on {} after its qprocsoff (the module is closed)", l.path),
        );
    }
    off
}

/// `putnext`/`qreply` on a module queue; `None` if `q` is not one.
pub(crate) fn route_put(host: &Arc<HostShared>, q: *mut queue_t, mp: *mut mblk_t, reply: bool, what: &str) -> Option<()> {
    let (l, is_rq) = module_queue(host, q)?;
    host.check_no_driver_locks(what);
    if after_off(host, &l, what) {
        free_here(mp);
        return Some(());
    }
    // putnext(wq) and qreply(rq) go down; putnext(rq) and qreply(wq) up.
    if is_rq == reply {
        match lock(&l.dld).clone() {
            Some(d) => dld::dld_wput(host, &d, mp),
            None => free_here(mp),
        }
    } else {
        head_rput(host, &l, mp);
    }
    Some(())
}

/// `canputnext` on a module queue; `None` if `q` is not one.
pub(crate) fn route_canputnext(host: &Arc<HostShared>, q: *mut queue_t) -> Option<bool> {
    let (l, is_rq) = module_queue(host, q)?;
    if after_off(host, &l, "canputnext") {
        return Some(false);
    }
    if is_rq {
        return Some(!head_full(&l));
    }
    Some(lock(&l.dld).as_ref().is_none_or(|d| dld::dld_can_put(d)))
}

/// `qenable`, `qprocson`, `qprocsoff` on a module queue.
pub(crate) fn route_qop(host: &Arc<HostShared>, q: *mut queue_t, op: &str) -> Option<()> {
    let (l, is_rq) = module_queue(host, q)?;
    match op {
        "qprocson" if is_rq => lock(&l.st).mod_on = true,
        "qprocsoff" if is_rq => lock(&l.st).mod_off = true,
        "qenable" => {
            // The module has no service procedure: a no-op.
            after_off(host, &l, op);
        }
        _ => host.record(ViolationKind::QueueState, format!("{op} must be given the module's read queue")),
    }
    Some(())
}

