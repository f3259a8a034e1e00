// SPDX-License-Identifier: MPL-2.0
//! Benchmark rig: a driver on the lean kernel with one tun or tap link,
//! packets in the shapes a process writes and IP sends, and the
//! harness's side of each direction.

use std::ptr;
use std::sync::Arc;

use illumos_sys_hdrs::mblk_t;
use tuntap_abi::{self as abi, attach_flags, limits::node};

use crate::mac::LeanMac;
use crate::pool;
use crate::stream::Port;
use crate::{Driver, Lean};

pub const ETHER_HDR_LEN: usize = 14;
/// Headroom IP leaves in front of a frame it sends (room for link
/// headers); any value works, the driver strips in place.
pub const IP_HEADROOM: usize = 64;

/// An IPv4/UDP packet of `len` bytes (at least 28), UDP source port
/// `flow` (so packets of different flows hash to different queues).
pub fn ipv4_udp(len: usize, flow: u16) -> Vec<u8> {
    let len = len.max(28);
    let mut p = vec![0u8; len];
    p[0] = 0x45;
    p[2..4].copy_from_slice(&(len as u16).to_be_bytes());
    p[8] = 64;
    p[9] = 17;
    p[12..16].copy_from_slice(&[10, 0, 0, 1]);
    p[16..20].copy_from_slice(&[10, 0, 0, 2]);
    p[20..22].copy_from_slice(&flow.to_be_bytes());
    p[22..24].copy_from_slice(&4789u16.to_be_bytes());
    p[24..26].copy_from_slice(&((len - 20) as u16).to_be_bytes());
    for (i, b) in p.iter_mut().enumerate().skip(28) {
        *b = i as u8;
    }
    p
}

/// An Ethernet frame carrying `ip`, as IP hands it to `mc_tx`.
pub fn ether_frame(ip: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(ETHER_HDR_LEN + ip.len());
    f.extend_from_slice(&[0x02, 0, 0, 0, 0, 0x01]);
    f.extend_from_slice(&[0x02, 0, 0, 0, 0, 0x02]);
    f.extend_from_slice(&[0x08, 0x00]);
    f.extend_from_slice(ip);
    f
}

/// What IP's transmit path would hand `mc_tx`: one block with `frame`,
/// `IP_HEADROOM` bytes in front.  With `header_only`, only the first
/// `header_only` bytes are written and the rest of the buffer is left as
/// the pool holds it (IP's payload copy is not the driver's cost).
pub fn stack_block(frame: &[u8], header_only: Option<usize>) -> *mut mblk_t {
    let mp = pool::allocb(IP_HEADROOM + frame.len());
    if mp.is_null() {
        return mp;
    }
    let n = header_only.map_or(frame.len(), |h| h.min(frame.len()));
    // SAFETY: a fresh block of IP_HEADROOM + frame.len() bytes.
    unsafe {
        (*mp).b_rptr = (*mp).b_rptr.add(IP_HEADROOM);
        ptr::copy_nonoverlapping(frame.as_ptr(), (*mp).b_rptr, n);
        (*mp).b_wptr = (*mp).b_rptr.add(frame.len());
    }
    mp
}

/// Link `msgs` into a `b_next` chain.
pub fn chain(msgs: &[*mut mblk_t]) -> *mut mblk_t {
    let mut head: *mut mblk_t = ptr::null_mut();
    for &m in msgs.iter().rev() {
        // SAFETY: each is an owned message not yet on a chain.
        unsafe { (*m).b_next = head };
        head = m;
    }
    head
}

/// A driver on the lean kernel with one link and `queues` attached
/// streams.
pub struct Rig {
    pub k: Lean,
    pub drv: Arc<Driver<Lean>>,
    pub ports: Vec<Port>,
    pub mac: Arc<LeanMac>,
}

impl Rig {
    /// `tap`: a tap link; `mtu`: its MTU; `queues` streams attached
    /// (multi-queue when more than one); `flags` extra attach flags.
    pub fn new(tap: bool, mtu: u32, queues: usize, flags: u32) -> Result<Rig, String> {
        let k = Lean::new();
        let drv = Arc::new(Driver::new(k.clone()));
        let nd = if tap { node::TAP } else { node::TUN };
        let mut ports = Vec::new();
        for _ in 0..queues.max(1) {
            let p = Port::open(&drv, nd).map_err(|e| format!("open: errno {e}"))?;
            let mut f = attach_flags::CREATE | flags;
            if queues > 1 {
                f |= attach_flags::MULTI_QUEUE;
            }
            let req = abi::TunIocAttach::new("bench0", f).map_err(|e| format!("{e:?}"))?;
            p.ioctl(abi::TUN_IOC_ATTACH, abi::as_bytes(&req)).map_err(|e| format!("attach: errno {e}"))?;
            let lim = abi::TunIocQueueLimits {
                version: abi::TUN_ABI_VERSION,
                max_packets: 65_536,
                max_bytes: 256 << 20,
                _pad: 0,
            };
            p.ioctl(abi::TUN_IOC_QUEUE_LIMITS, abi::as_bytes(&lim)).map_err(|e| format!("limits: errno {e}"))?;
            ports.push(p);
        }
        let mac = k.last_mac().ok_or("no mac registered")?;
        if mtu != abi::MTU_DEFAULT {
            set_mtu(&drv, mtu)?;
        }
        Ok(Rig { k, drv, ports, mac })
    }
}

fn set_mtu(drv: &Arc<Driver<Lean>>, mtu: u32) -> Result<(), String> {
    let ctl = Port::open(drv, node::CTL).map_err(|e| format!("open ctl: errno {e}"))?;
    let link = drv.links().first().cloned().ok_or("no link")?;
    let mut m = abi::TunIocModify { version: abi::TUN_ABI_VERSION, linkid: link.linkid, what: abi::modify_what::MTU, mtu, ..Default::default() };
    m.owner = abi::TUN_NO_ID;
    m.group = abi::TUN_NO_ID;
    ctl.ioctl(abi::TUN_IOC_MODIFY, abi::as_bytes(&m)).map(|_| ()).map_err(|e| format!("modify mtu: errno {e}"))
}
