// SPDX-License-Identifier: MPL-2.0
//! DLPI primitives as messages: building the acknowledgements and
//! indications a DLPI provider sends (`usr/src/uts/common/sys/dlpi.h`,
//! dlpi(4P)), and reading requests.  Below both the link (which sends
//! `DL_UNITDATA_IND` to an old-API IP stream) and the DLPI state machine
//! (`dlpi/mod.rs`); it knows neither.
//!
//! # Theory statement
//!
//! Every primitive is a sequence of 32-bit fields followed by its
//! address fields, built in one block; nothing here holds a lock or
//! keeps state.  Requests are copied out of the block only when it is
//! long enough for the whole primitive.

use core::mem::size_of;

use illumos_sys_hdrs as sys;
use illumos_sys_hdrs::dlpi::*;
use illumos_sys_hdrs::queue_t;

use crate::ddi::{DropReason, Kernel};
use crate::frame::{self, MacAddr};
use crate::mblk::MsgBlk;
use crate::queue::Queue;

/// Bytes of an Ethernet DLSAP address: MAC, then SAP.
pub(crate) const DLSAP_LEN: usize = frame::ETHER_ADDR_LEN + 2;

/// Smallest Ethertype (values below are 802.3 lengths).
pub(crate) const MIN_ETHERTYPE: u32 = 0x0600;

/// The reply primitives we build are sequences of 32-bit integers, so
/// their bytes are their fields in order, with no padding.
pub(crate) trait Reply: Copy {}
impl Reply for dl_info_ack_t {}
impl Reply for dl_ok_ack_t {}
impl Reply for dl_error_ack_t {}
impl Reply for dl_bind_ack_t {}
impl Reply for dl_phys_addr_ack_t {}
impl Reply for dl_unitdata_ind_t {}

const _: () = {
    assert!(size_of::<dl_info_ack_t>() == 19 * 4);
    assert!(size_of::<dl_ok_ack_t>() == 2 * 4);
    assert!(size_of::<dl_error_ack_t>() == 4 * 4);
    assert!(size_of::<dl_bind_ack_t>() == 6 * 4);
    assert!(size_of::<dl_phys_addr_ack_t>() == 3 * 4);
    assert!(size_of::<dl_unitdata_ind_t>() == 6 * 4);
};

pub(crate) fn reply_bytes<T: Reply>(v: &T) -> &[u8] {
    // SAFETY: Reply types are plain 32-bit integer fields, no padding
    // (checked above), so all size_of::<T>() bytes are initialised.
    unsafe { core::slice::from_raw_parts((v as *const T).cast::<u8>(), size_of::<T>()) }
}

/// Read a request structure from the front of a control block; `None`
/// if the block is too short.
pub(crate) fn read_req<T: Copy + Default>(bytes: &[u8]) -> Option<T> {
    if bytes.len() < size_of::<T>() {
        return None;
    }
    let mut v = T::default();
    // SAFETY: the source has at least size_of::<T>() bytes; every DLPI
    // request type is plain integers, valid for any bit pattern.
    unsafe { core::ptr::copy_nonoverlapping(bytes.as_ptr(), (&mut v as *mut T).cast::<u8>(), size_of::<T>()) };
    Some(v)
}

pub(crate) fn dlsap(mac: &MacAddr, sap: u16) -> [u8; DLSAP_LEN] {
    let mut a = [0u8; DLSAP_LEN];
    a[..frame::ETHER_ADDR_LEN].copy_from_slice(mac);
    a[frame::ETHER_ADDR_LEN..].copy_from_slice(&sap.to_ne_bytes());
    a
}

/// Build a control message in one block: `head`, then the address
/// fields `first` and `second` (either may be empty).
pub(crate) fn proto_msg<K: Kernel, T: Reply>(k: &K, db_type: u8, head: &T, first: &[u8], second: &[u8]) -> Option<MsgBlk<K>> {
    let mut msg = MsgBlk::alloc_parts(k, &[reply_bytes(head), first, second])?;
    msg.set_db_type(db_type);
    Some(msg)
}

pub(crate) fn send_reply<K: Kernel>(k: &K, wq: *mut queue_t, msg: Option<MsgBlk<K>>) {
    if let Some(msg) = msg {
        // SAFETY: wq is the write queue of the stream being served.
        unsafe { k.qreply(wq, msg.into_raw()) };
    }
}

pub(crate) fn ok_ack<K: Kernel>(k: &K, wq: *mut queue_t, prim: u32) {
    let ack = dl_ok_ack_t { dl_primitive: DL_OK_ACK, dl_correct_primitive: prim };
    send_reply(k, wq, proto_msg(k, sys::M_PCPROTO, &ack, &[], &[]));
}

pub(crate) fn error_ack<K: Kernel>(k: &K, wq: *mut queue_t, prim: u32, dl_errno: u32, unix_errno: u32) {
    let ack = dl_error_ack_t { dl_primitive: DL_ERROR_ACK, dl_error_primitive: prim, dl_errno, dl_unix_errno: unix_errno };
    send_reply(k, wq, proto_msg(k, sys::M_PCPROTO, &ack, &[], &[]));
}

/// A packet a process wrote, for an old-API IP stream bound to `sap`:
/// sent up as `DL_UNITDATA_IND` (`dst`/`src` are the link-level
/// addresses it carried or, for tun, the link's and its peer's).
pub fn send_unitdata_ind<K: Kernel>(
    k: &K,
    ip: &Queue<K>,
    msg: MsgBlk<K>,
    sap: u16,
    dst: &MacAddr,
    src: &MacAddr,
) -> Result<(), DropReason> {
    if !ip.enter() {
        return Err(DropReason::Closing);
    }
    let r = (|| {
        // SAFETY: we are a user of ip's rq, so the stream is open.
        if !unsafe { k.canputnext(ip.rq()) } {
            return Err(DropReason::NoBuffer);
        }
        let head = size_of::<dl_unitdata_ind_t>();
        let ind = dl_unitdata_ind_t {
            dl_primitive: DL_UNITDATA_IND,
            dl_dest_addr_length: DLSAP_LEN as u32,
            dl_dest_addr_offset: head as u32,
            dl_src_addr_length: DLSAP_LEN as u32,
            dl_src_addr_offset: (head + DLSAP_LEN) as u32,
            dl_group_address: u32::from(frame::classify(dst) != frame::AddrClass::Unicast),
        };
        let mut proto =
            proto_msg(k, sys::M_PROTO, &ind, &dlsap(dst, sap), &dlsap(src, sap)).ok_or(DropReason::NoBuffer)?;
        proto.append(msg);
        // SAFETY: as above; the message is ours and handed on.
        unsafe { k.putnext(ip.rq(), proto.into_raw()) };
        Ok(())
    })();
    ip.exit();
    r
}
