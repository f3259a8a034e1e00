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

/// Which DLSAP address format a stream speaks, fixed by the node it was
/// opened on (`/dev/tun` or `/dev/tap`), as the old driver's two builds
/// did (kaizawa/tuntap `if_tun.h`, `struct tundladdr` and `TUN_ADDR_LEN`:
/// the SAP alone for tun, MAC then SAP for tap).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Personality {
    /// No physical address: the DLSAP address is the 2-byte SAP, there
    /// is no broadcast address.  IP then makes the interface
    /// point-to-point and ARP-less (`ip_ll_subnet_defaults` in
    /// `usr/src/uts/common/inet/ip/ip_if.c`: `dl_brdcst_addr_length` 0
    /// gives `IRE_IF_NORESOLVER` and `ILLF_NOARP`; `dl_addr_length -
    /// |dl_sap_length|` = 0 gives `IPIF_POINTOPOINT`).
    Tun,
    /// Ethernet: the DLSAP address is the 6-byte MAC followed by the SAP,
    /// the broadcast address is ff:ff:ff:ff:ff:ff; IP resolves with ARP.
    Tap,
}

/// `dl_sap_length`: the SAP is 2 bytes and follows the physical address.
pub(crate) const SAP_LENGTH: i32 = -2;

/// Bytes of a SAP in a DLSAP address.
const SAP_BYTES: usize = 2;

/// The longest DLSAP address (tap's).
pub(crate) const MAX_DLSAP_LEN: usize = frame::ETHER_ADDR_LEN + SAP_BYTES;

impl Personality {
    /// `dl_addr_length`.
    pub fn dlsap_len(self) -> usize {
        match self {
            Self::Tun => SAP_BYTES,
            Self::Tap => MAX_DLSAP_LEN,
        }
    }

    /// The physical part of a DLSAP address (`dl_addr_length -
    /// |dl_sap_length|`).
    pub fn phys_len(self) -> usize {
        self.dlsap_len() - SAP_BYTES
    }

    /// The broadcast address (`dl_brdcst_addr_length` bytes).
    pub fn broadcast(self) -> &'static [u8] {
        match self {
            Self::Tun => &[],
            Self::Tap => &frame::BROADCAST,
        }
    }

    /// The DLSAP address of `mac` (ignored for tun) and `sap`.
    pub fn dlsap(self, mac: &MacAddr, sap: u16) -> Dlsap {
        let mut bytes = [0u8; MAX_DLSAP_LEN];
        let phys = self.phys_len();
        if let Some(p) = bytes.get_mut(..phys) {
            p.copy_from_slice(mac.get(..phys).unwrap_or(&[]));
        }
        if let Some(s) = bytes.get_mut(phys..phys + SAP_BYTES) {
            s.copy_from_slice(&sap.to_ne_bytes());
        }
        Dlsap { bytes, len: self.dlsap_len() }
    }

    /// The destination MAC of a `DL_UNITDATA_REQ` whose address field is
    /// `addr`: `None` unless it is exactly this personality's DLSAP length
    /// (`DL_BADADDR`).  tun has no destination: all zeros.
    pub fn unitdata_dest(self, addr: &[u8]) -> Option<MacAddr> {
        if addr.len() != self.dlsap_len() {
            return None;
        }
        let mut mac = [0u8; frame::ETHER_ADDR_LEN];
        let phys = self.phys_len();
        mac.get_mut(..phys)?.copy_from_slice(addr.get(..phys)?);
        Some(mac)
    }
}

/// A DLSAP address as it goes in a primitive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dlsap {
    bytes: [u8; MAX_DLSAP_LEN],
    len: usize,
}

impl Dlsap {
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or(&[])
    }
}

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
impl Reply for dl_uderror_ind_t {}

const _: () = {
    assert!(size_of::<dl_info_ack_t>() == 19 * 4);
    assert!(size_of::<dl_ok_ack_t>() == 2 * 4);
    assert!(size_of::<dl_error_ack_t>() == 4 * 4);
    assert!(size_of::<dl_bind_ack_t>() == 6 * 4);
    assert!(size_of::<dl_phys_addr_ack_t>() == 3 * 4);
    assert!(size_of::<dl_unitdata_ind_t>() == 6 * 4);
    assert!(size_of::<dl_uderror_ind_t>() == 5 * 4);
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

/// `DL_UDERROR_IND` (dlpi(4P)): a `DL_UNITDATA_REQ` was refused; the
/// reply carries the request's destination address back (`dest`, at most
/// the longest DLSAP address of its bytes).
pub(crate) fn uderror_ind<K: Kernel>(k: &K, wq: *mut queue_t, dest: &[u8], dl_errno: u32) {
    let dest = dest.get(..dest.len().min(MAX_DLSAP_LEN)).unwrap_or(&[]);
    let ind = dl_uderror_ind_t {
        dl_primitive: DL_UDERROR_IND,
        dl_dest_addr_length: dest.len() as u32,
        dl_dest_addr_offset: if dest.is_empty() { 0 } else { size_of::<dl_uderror_ind_t>() as u32 },
        dl_unix_errno: 0,
        dl_errno,
    };
    send_reply(k, wq, proto_msg(k, sys::M_PROTO, &ind, dest, &[]));
}

/// A packet a process wrote, for an old-API IP stream: sent up as
/// `DL_UNITDATA_IND` with the destination and source DLSAP addresses in
/// the stream's format (dlpi.h `dl_unitdata_ind_t`; the old driver's
/// `tun_unitdata_ind` in kaizawa/tuntap `tun.c`).
pub fn send_unitdata_ind<K: Kernel>(
    k: &K,
    ip: &Queue<K>,
    msg: MsgBlk<K>,
    dst: &Dlsap,
    src: &Dlsap,
    group: bool,
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
        let (d, s) = (dst.as_bytes(), src.as_bytes());
        let ind = dl_unitdata_ind_t {
            dl_primitive: DL_UNITDATA_IND,
            dl_dest_addr_length: d.len() as u32,
            dl_dest_addr_offset: head as u32,
            dl_src_addr_length: s.len() as u32,
            dl_src_addr_offset: (head + d.len()) as u32,
            dl_group_address: u32::from(group),
        };
        let mut proto = proto_msg(k, sys::M_PROTO, &ind, d, s).ok_or(DropReason::NoBuffer)?;
        proto.append(msg);
        // SAFETY: as above; the message is ours and handed on.
        unsafe { k.putnext(ip.rq(), proto.into_raw()) };
        Ok(())
    })();
    ip.exit();
    r
}
