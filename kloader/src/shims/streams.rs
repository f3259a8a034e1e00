// SPDX-License-Identifier: MPL-2.0

//! STREAMS message and queue routines (illumos-gate
//! `usr/src/uts/common/sys/stream.h`, `strsubr.h`, `strsun.h`).
//!
//! Theory statement.  The message-block and queue routines the simulator
//! implements (allocb, freemsg, msgpullup of a whole message, putnext,
//! qreply, canputnext, qenable, qprocson/off) forward to `SimKernel`, so
//! its ownership, quarantine, lock-across-putnext and leak checks apply to
//! the loaded objects.  freeb, freemsgchain, msgdsize and copymsg are
//! composed from those on the real `mblk_t`/`dblk_t` layout; miocack,
//! miocnak, mcopyin and mcopyout rewrite the `M_IOCTL` in place as
//! `strsun.c` documents (miocack(9F), miocnak(9F), mcopyin(9F),
//! mcopyout(9F)) and send it with qreply where the man page says so.
//! `dupmsg`, `putq`, `getq`, `putbq` and `flushq` are not implemented: the
//! simulator keeps no general queue lists or shared data blocks a loader
//! could reach (crate::image lists them; a module importing one fails to
//! load with its name).  Locks: none of its own.

use std::ffi::c_int;

use illumos_sys_hdrs::{
    EINVAL, M_COPYIN, M_COPYOUT, M_DATA, M_IOCACK, M_IOCNAK, copyreq, iocblk, mblk_t, queue_t,
};
use tuntap_drv::ddi::Kernel;
use tuntap_sim::SimKernel;

use super::st;
use crate::kstack::host;

pub fn table() -> Vec<(&'static str, usize)> {
    vec![
        f!(allocb),
        f!(freeb),
        f!(freemsg),
        f!(freemsgchain),
        f!(copymsg),
        f!(msgdsize),
        f!(msgpullup),
        f!(putnext),
        f!(qreply),
        f!(canputnext),
        f!(qenable),
        f!(qprocson),
        f!(qprocsoff),
        f!(miocack),
        f!(miocnak),
        f!(mcopyin),
        f!(mcopyout),
    ]
}

/// `mblk_t *allocb(size_t size, uint_t pri)` (stream.h).
unsafe extern "C" fn allocb(size: usize, _pri: u32) -> *mut mblk_t {
    host(|| st().sim.allocb(size))
}

/// `void freemsg(mblk_t *mp)` (stream.h).
unsafe extern "C" fn freemsg(mp: *mut mblk_t) {
    // SAFETY: the module gives up mp (freemsg(9F)); the simulator checks it.
    host(|| unsafe { <SimKernel as Kernel>::freemsg(mp) })
}

/// `void freeb(mblk_t *bp)` (stream.h): frees one block, not its b_cont.
unsafe extern "C" fn freeb(bp: *mut mblk_t) {
    if bp.is_null() {
        return;
    }
    // SAFETY: bp is a block the module owns; detaching b_cont makes the
    // message one block long, which freemsg then frees.
    unsafe { (*bp).b_cont = std::ptr::null_mut() };
    // SAFETY: as above.
    unsafe { freemsg(bp) }
}

/// `void freemsgchain(mblk_t *mp)` (strsubr.h): frees each message of a
/// b_next chain.
unsafe extern "C" fn freemsgchain(mut mp: *mut mblk_t) {
    while !mp.is_null() {
        // SAFETY: mp is the head of an owned chain.
        let next = unsafe { (*mp).b_next };
        // SAFETY: as above.
        unsafe { (*mp).b_next = std::ptr::null_mut() };
        // SAFETY: as above.
        unsafe { freemsg(mp) };
        mp = next;
    }
}

/// `size_t msgdsize(mblk_t *mp)` (stream.h): bytes in the M_DATA blocks.
unsafe extern "C" fn msgdsize(mut mp: *mut mblk_t) -> usize {
    let mut n = 0;
    while !mp.is_null() {
        // SAFETY: a valid message the module holds.
        let b = unsafe { &*mp };
        // SAFETY: every block has a data block.
        if unsafe { (*b.b_datap).db_type } == M_DATA {
            n += (b.b_wptr as usize).saturating_sub(b.b_rptr as usize);
        }
        mp = b.b_cont;
    }
    n
}

/// `mblk_t *copymsg(mblk_t *mp)` (stream.h): a new message with a copy of
/// every block (type and bytes), or NULL.
unsafe extern "C" fn copymsg(mp: *mut mblk_t) -> *mut mblk_t {
    let mut head: *mut mblk_t = std::ptr::null_mut();
    let mut tail: *mut mblk_t = std::ptr::null_mut();
    let mut b = mp;
    while !b.is_null() {
        // SAFETY: a valid message the module holds.
        let (rptr, wptr, ty, next) = unsafe { ((*b).b_rptr, (*b).b_wptr, (*(*b).b_datap).db_type, (*b).b_cont) };
        let len = (wptr as usize).saturating_sub(rptr as usize);
        // SAFETY: plain allocation.
        let nb = unsafe { allocb(len, 0) };
        if nb.is_null() {
            // SAFETY: head is ours.
            unsafe { freemsg(head) };
            return std::ptr::null_mut();
        }
        // SAFETY: nb has len bytes of room; rptr..wptr are readable.
        unsafe {
            std::ptr::copy_nonoverlapping(rptr, (*nb).b_wptr, len);
            (*nb).b_wptr = (*nb).b_wptr.add(len);
            (*(*nb).b_datap).db_type = ty;
            if tail.is_null() {
                head = nb;
            } else {
                (*tail).b_cont = nb;
            }
        }
        tail = nb;
        b = next;
    }
    head
}

/// `mblk_t *msgpullup(mblk_t *mp, ssize_t len)` (stream.h).  The
/// simulator pulls up whole messages (`len == -1`, the only form the
/// driver uses); another length is reported as unmodelled and fails.
unsafe extern "C" fn msgpullup(mp: *mut mblk_t, len: isize) -> *mut mblk_t {
    host(|| {
        let s = st();
        if len != -1 {
            s.error(format!("msgpullup(mp, {len}): only len = -1 is modelled by the loader"));
            return std::ptr::null_mut();
        }
        // SAFETY: mp is a message the module holds and keeps.
        unsafe { s.sim.msgpullup(mp) }
    })
}

/// Names the module entry point when the simulator is about to find a
/// lock held across `what` (its violation names only the shim).
fn note_locks(what: &str) {
    let n = tuntap_sim::sync::driver_locks_held();
    if n > 0 {
        let entry = crate::kstack::current_entry().unwrap_or("?");
        host(|| st().error(format!("{what} with {n} kmutex(es) held, in entry point {entry}")));
    }
}

/// `void putnext(queue_t *q, mblk_t *mp)` (stream.h).
unsafe extern "C" fn putnext(q: *mut queue_t, mp: *mut mblk_t) {
    note_locks("putnext");
    // SAFETY: forwarded; the simulator checks q and mp.
    host(|| unsafe { st().sim.putnext(q, mp) })
}

/// `void qreply(queue_t *q, mblk_t *mp)` (stream.h).
unsafe extern "C" fn qreply(q: *mut queue_t, mp: *mut mblk_t) {
    note_locks("qreply");
    // SAFETY: forwarded; the simulator checks q and mp.
    host(|| unsafe { st().sim.qreply(q, mp) })
}

/// `int canputnext(queue_t *q)` (stream.h).
unsafe extern "C" fn canputnext(q: *mut queue_t) -> c_int {
    // SAFETY: forwarded.
    host(|| c_int::from(unsafe { st().sim.canputnext(q) }))
}

/// `void qenable(queue_t *q)` (stream.h).
unsafe extern "C" fn qenable(q: *mut queue_t) {
    // SAFETY: forwarded.
    host(|| unsafe { st().sim.qenable(q) })
}

/// `void qprocson(queue_t *q)` (stream.h).
unsafe extern "C" fn qprocson(q: *mut queue_t) {
    // SAFETY: forwarded.
    host(|| unsafe { st().sim.qprocson(q) })
}

/// `void qprocsoff(queue_t *q)` (stream.h).
unsafe extern "C" fn qprocsoff(q: *mut queue_t) {
    // SAFETY: forwarded.
    host(|| unsafe { st().sim.qprocsoff(q) })
}

/// The iocblk at the front of an M_IOCTL.
///
/// # Safety
/// `mp` is an M_IOCTL/M_IOCDATA message whose first block holds the union.
unsafe fn ioc(mp: *mut mblk_t) -> *mut iocblk {
    // SAFETY: per the contract.
    unsafe { (*mp).b_rptr.cast() }
}

/// `void miocack(queue_t *q, mblk_t *mp, int count, int rval)` (strsun.h).
unsafe extern "C" fn miocack(q: *mut queue_t, mp: *mut mblk_t, count: c_int, rval: c_int) {
    // SAFETY: mp is the module's M_IOCTL (miocack(9F)).
    unsafe {
        (*(*mp).b_datap).db_type = M_IOCACK;
        let i = ioc(mp);
        (*i).ioc_count = count as usize;
        (*i).ioc_error = 0;
        (*i).ioc_rval = rval;
        qreply(q, mp);
    }
}

/// `void miocnak(queue_t *q, mblk_t *mp, int count, int error)` (strsun.h):
/// an error of 0 is sent as EINVAL.
unsafe extern "C" fn miocnak(q: *mut queue_t, mp: *mut mblk_t, count: c_int, error: c_int) {
    // SAFETY: mp is the module's M_IOCTL (miocnak(9F)).
    unsafe {
        (*(*mp).b_datap).db_type = M_IOCNAK;
        let i = ioc(mp);
        (*i).ioc_count = count as usize;
        (*i).ioc_error = if error == 0 { EINVAL } else { error };
        qreply(q, mp);
    }
}

/// Turns the M_IOCTL `mp` into a copy request (shared by mcopyin/out).
///
/// # Safety
/// `mp` is an M_IOCTL or M_IOCDATA of a transparent ioctl.
unsafe fn copy_request(mp: *mut mblk_t, ty: u8, private: *mut libc::c_void, size: usize, mut addr: *mut libc::c_void) {
    // SAFETY: per the contract; a transparent ioctl's b_cont holds the
    // user address when `addr` is NULL (mcopyin(9F)).
    unsafe {
        if addr.is_null() && !(*mp).b_cont.is_null() {
            addr = std::ptr::read_unaligned((*(*mp).b_cont).b_rptr.cast::<*mut libc::c_void>());
        }
        let cq = (*mp).b_rptr.cast::<copyreq>();
        (*cq).cq_private = private.cast();
        (*cq).cq_size = size;
        (*cq).cq_addr = addr.cast();
        (*cq).cq_flag = 0;
        (*mp).b_wptr = (*mp).b_rptr.add(std::mem::size_of::<copyreq>());
        (*(*mp).b_datap).db_type = ty;
    }
}

/// `void mcopyin(mblk_t *mp, void *private, size_t size, void *useraddr)`
/// (strsun.h): the caller then qreply()s mp.
unsafe extern "C" fn mcopyin(mp: *mut mblk_t, private: *mut libc::c_void, size: usize, useraddr: *mut libc::c_void) {
    // SAFETY: per mcopyin(9F).
    unsafe {
        copy_request(mp, M_COPYIN, private, size, useraddr);
        if !(*mp).b_cont.is_null() {
            freemsg((*mp).b_cont);
            (*mp).b_cont = std::ptr::null_mut();
        }
    }
}

/// `void mcopyout(mblk_t *mp, void *private, size_t size, void *useraddr,
/// mblk_t *dp)` (strsun.h): `dp` (or the existing b_cont) carries the data.
unsafe extern "C" fn mcopyout(
    mp: *mut mblk_t,
    private: *mut libc::c_void,
    size: usize,
    useraddr: *mut libc::c_void,
    dp: *mut mblk_t,
) {
    // SAFETY: per mcopyout(9F).
    unsafe {
        copy_request(mp, M_COPYOUT, private, size, useraddr);
        if !dp.is_null() {
            if !(*mp).b_cont.is_null() {
                freemsg((*mp).b_cont);
            }
            (*mp).b_cont = dp;
        }
    }
}
