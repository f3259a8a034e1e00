// SPDX-License-Identifier: MPL-2.0
//! STREAMS ioctl mechanics: reading `M_IOCTL`/`M_IOCDATA`, and turning
//! the message into exactly one reply.
//!
//! # Theory statement
//!
//! An ioctl arrives as `M_IOCTL` whose first block is an `iocblk`.  An
//! `I_STR` ioctl carries its payload in `b_cont` (`ioc_count` bytes); a
//! transparent one (`ioc_count == TRANSPARENT`) carries the caller's
//! `intptr_t` argument there, and the driver fetches and returns data
//! with `M_COPYIN`/`M_COPYOUT`, each answered by an `M_IOCDATA` whose
//! `copyresp` says whether the copy worked.  `iocblk`, `copyreq` and
//! `copyresp` overlay one another, so the same message block is rewritten
//! in place at each step, as `mcopyin(9F)`/`miocack(9F)` do.
//!
//! Every function here that replies consumes the message: after it, the
//! driver cannot reply twice.  A failed `M_IOCDATA` (`cp_rval != 0`) is
//! freed with no reply: the stream head has already failed the ioctl.
//! Nothing here panics on any message: sizes are checked before reading.

use alloc::vec::Vec;
use core::mem::size_of;
use core::ptr;

use illumos_sys_hdrs as sys;
use illumos_sys_hdrs::{copyreq, copyresp, iocblk, queue_t};

use crate::ddi::{Cred, Errno, Kernel};
use crate::mblk::MsgBlk;

/// Largest payload an `I_STR` ioctl of ours may carry.
pub const MAX_PAYLOAD: usize = 4096;

/// What the driver learned from an `M_IOCTL`.
#[derive(Clone, Copy, Debug)]
pub struct IoctlHeader {
    pub cmd: i32,
    pub id: u32,
    pub cred: Cred,
    pub transparent: bool,
    pub count: usize,
}

/// The fields of an `M_IOCDATA`.
#[derive(Clone, Copy, Debug)]
pub struct IocData {
    pub cmd: i32,
    pub id: u32,
    pub cred: Cred,
    pub failed: bool,
}

/// Read the `iocblk` of an `M_IOCTL`; `None` if the block is too short.
pub fn header<K: Kernel>(msg: &MsgBlk<K>) -> Option<IoctlHeader> {
    let ioc: iocblk = msg.read_head()?;
    let transparent = ioc.ioc_count == sys::TRANSPARENT as usize;
    Some(IoctlHeader {
        cmd: ioc.ioc_cmd,
        id: ioc.ioc_id,
        cred: Cred(ioc.ioc_cr),
        transparent,
        count: if transparent { 0 } else { ioc.ioc_count },
    })
}

/// Read the `copyresp` of an `M_IOCDATA`.
pub fn iocdata<K: Kernel>(msg: &MsgBlk<K>) -> Option<IocData> {
    let cp: copyresp = msg.read_head()?;
    Some(IocData { cmd: cp.cp_cmd, id: cp.cp_id, cred: Cred(cp.cp_cr), failed: !cp.cp_rval.is_null() })
}

/// The credential an `M_IOCTL` (`ioc_cr`) or `M_IOCDATA` (`cp_cr`)
/// carries: the process that issued the ioctl.
pub fn message_cred<K: Kernel>(msg: &MsgBlk<K>) -> Option<Cred> {
    let cred = match msg.db_type() {
        sys::M_IOCTL => header(msg)?.cred,
        sys::M_IOCDATA => iocdata(msg)?.cred,
        _ => return None,
    };
    (!cred.0.is_null()).then_some(cred)
}

/// The bytes in `b_cont`, at most `limit`; `None` if there are more.
pub fn payload<K: Kernel>(msg: &MsgBlk<K>, limit: usize) -> Option<Vec<u8>> {
    msg.continuation_bytes(limit)
}

/// The transparent argument (`intptr_t` in `b_cont`).
pub fn transparent_arg<K: Kernel>(msg: &MsgBlk<K>) -> Option<i64> {
    let bytes = payload(msg, 16)?;
    let arr: [u8; 8] = bytes.get(..8)?.try_into().ok()?;
    Some(i64::from_ne_bytes(arr))
}

/// Free `b_cont` and optionally replace it with `data`.
fn set_cont<K: Kernel>(k: &K, msg: &mut MsgBlk<K>, data: Option<&[u8]>) -> Result<(), Errno> {
    let new = match data {
        Some(d) if !d.is_empty() => Some(MsgBlk::alloc_with(k, 0, d).ok_or(sys::ENOMEM)?),
        _ => None,
    };
    msg.replace_continuation(new);
    Ok(())
}

/// Rewrite the first block as an `iocblk` reply.
fn write_iocblk<K: Kernel>(msg: &mut MsgBlk<K>, count: usize, rval: i32, error: Errno) {
    let Some(mut v) = msg.read_union::<iocblk>() else { return };
    v.ioc_count = count;
    v.ioc_rval = rval;
    v.ioc_error = error;
    // header()/big_enough() checked the block holds any ioctl reply.
    let _ = msg.write_head(&v, size_of::<iocblk>());
}

/// `miocack`: succeed with `rval` and (for I_STR) `data` for the caller.
pub(crate) fn ack<K: Kernel>(k: &K, wq: *mut queue_t, mut msg: MsgBlk<K>, rval: i32, data: Option<&[u8]>) {
    if let Err(e) = set_cont(k, &mut msg, data) {
        return nak(k, wq, msg, e);
    }
    let count = data.map_or(0, <[u8]>::len);
    msg.set_db_type(sys::M_IOCACK);
    write_iocblk(&mut msg, count, rval, 0);
    // SAFETY: wq is our write queue; the message is owned and passed on.
    unsafe { k.qreply(wq, msg.into_raw()) };
}

/// `miocnak`: fail with `error`.
pub(crate) fn nak<K: Kernel>(k: &K, wq: *mut queue_t, mut msg: MsgBlk<K>, error: Errno) {
    // Freeing the payload cannot fail.
    let _ = set_cont(k, &mut msg, None);
    msg.set_db_type(sys::M_IOCNAK);
    write_iocblk(&mut msg, 0, -1, error);
    // SAFETY: as in `ack`.
    unsafe { k.qreply(wq, msg.into_raw()) };
}

/// `mcopyin`: ask the stream head for `size` bytes at user `addr`.
pub(crate) fn copyin<K: Kernel>(k: &K, wq: *mut queue_t, mut msg: MsgBlk<K>, addr: usize, size: usize) {
    let _ = set_cont(k, &mut msg, None);
    write_copyreq(&mut msg, addr, size);
    msg.set_db_type(sys::M_COPYIN);
    // SAFETY: as in `ack`.
    unsafe { k.qreply(wq, msg.into_raw()) };
}

/// `mcopyout`: ask the stream head to copy `data` to user `addr`.
pub(crate) fn copyout<K: Kernel>(k: &K, wq: *mut queue_t, mut msg: MsgBlk<K>, addr: usize, data: &[u8]) {
    if let Err(e) = set_cont(k, &mut msg, Some(data)) {
        return nak(k, wq, msg, e);
    }
    write_copyreq(&mut msg, addr, data.len());
    msg.set_db_type(sys::M_COPYOUT);
    // SAFETY: as in `ack`.
    unsafe { k.qreply(wq, msg.into_raw()) };
}

fn write_copyreq<K: Kernel>(msg: &mut MsgBlk<K>, addr: usize, size: usize) {
    let Some(mut v) = msg.read_union::<copyreq>() else { return };
    v.cq_addr = addr as sys::caddr_t;
    v.cq_size = size;
    v.cq_flag = 0;
    v.cq_private = ptr::null_mut();
    // The block holds at least a copyreq and an iocblk (big_enough).
    let _ = msg.write_head(&v, size_of::<copyreq>().max(size_of::<iocblk>()));
}

/// Is the first block big enough to be rewritten as any ioctl reply?
pub fn big_enough<K: Kernel>(msg: &MsgBlk<K>) -> bool {
    let need = size_of::<iocblk>().max(size_of::<copyreq>()).max(size_of::<copyresp>());
    msg.room() >= need
}
