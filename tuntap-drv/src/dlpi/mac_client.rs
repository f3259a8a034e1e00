// SPDX-License-Identifier: MPL-2.0
//! An old-API DLPI stream's own mac client: OpenVPN's IP traffic goes
//! through mac like the traffic of IP plumbed with `ipadm` on the link.
//!
//! # Decision (issue 13; research in docs/research/full-datalinks.md §1–2)
//!
//! The bound DLPI stream of a `tunN`/`tapN` unit opens **its own primary
//! mac client on its unit's link** — option (a) of the research — instead
//! of going through dls (b) or turning the stream into a dld stream (c):
//!
//! * (b) needs `dls_open`/`dls_bind`/`str_mdata_fastpath_put`, which take
//!   dld's private `dld_str_t` (`usr/src/uts/common/sys/dld_impl.h`); its
//!   layout differs between releases, so mirroring it in a module shipped
//!   to OmniOS, OpenIndiana and SmartOS risks silent corruption.
//! * (c) fails at `dld_str_attach` (`usr/src/uts/common/io/dld/dld_str.c`):
//!   a style-2 attach `qassociate`s instance PPA of the *opening* driver
//!   and looks the mac up as `tun<ppa>` by that driver's major, while our
//!   macs belong to drv/tuntap.
//! * (a) uses only opaque-handle calls of `usr/src/uts/common/sys/
//!   mac_client.h` (and `mac_open_by_linkid` of sys/mac.h), stable since
//!   Crossbow and already used out of tree (OPTE xde, VirtualBox
//!   VBoxNetFlt).  It is what dls itself does for the first active stream
//!   of a link: `dls_mac_active_set` (`usr/src/uts/common/io/dls/dls.c`)
//!   calls `mac_unicast_add(mch, NULL, MAC_UNICAST_PRIMARY |
//!   MAC_UNICAST_TAG_DISABLE | MAC_UNICAST_DISABLE_TX_VID_CHECK, ...)` and
//!   `mac_rx_set`; we pass the same flags.
//!
//! What that gives: `mac_tx` (`usr/src/uts/common/io/mac/mac_client.c`)
//! applies link protection, the client's bandwidth soft ring set and the
//! promiscuous taps (`snoop -d tunN`) before the link's `mc_tx`; `maxbw`
//! set with `dladm set-linkprop` is cached on the mac and applied to the
//! primary client (`i_mac_set_resources` in mac.c; a new primary picks it
//! up in `i_mac_unicast_add`), so it governs OpenVPN's traffic; written
//! packets go up through `mac_rx` and mac's classification to our rx
//! callback, and the link's counters see both directions.
//!
//! **Known gap: `flowadm` flows.**  `mac_link_flow_add`
//! (`usr/src/uts/common/io/mac/mac_flow.c`) holds the link with
//! `dls_devnet_hold_link` and adds the flow to the *dls* client
//! (`dlp->dl_mch`), whose subflow table `mac_tx` consults
//! (`mci_subflow_tab`) only for that client's own traffic.  Flows on
//! `tunN` therefore do not act on this client's packets.  Closing the gap
//! needs either mac to attach link flows to the primary client whoever
//! opened it (an illumos-gate change to `mac_link_flow_add`), or the
//! stream to transmit through dls's client, i.e. option (b).
//!
//! # Theory statement
//!
//! One client per **link**, shared by every bound DLPI stream of the unit
//! (OpenVPN's `dev tap` binds IP to 0x0800 and ARP to 0x0806 on the same
//! unit), as dls keeps one client per link for all its streams
//! (`i_dls_link_create` in `usr/src/uts/common/io/dls/dls_link.c`) and
//! demultiplexes by SAP (`i_dls_link_rx`).  It lives in the link
//! ([`Link::dlpi_mac`]); a stream that holds a share of it is marked in
//! its receive filter (`via_mac`), which also tells the link's write path
//! to leave that stream's frames to mac.
//!
//! `DL_BIND_REQ` (on the stream's control task, which may block) calls
//! [`open`] (the state is [`MacPath`](super::mac_path::MacPath) in
//! `mac_path.rs`); the first share runs `mac_open_by_linkid`,
//! `mac_client_open` (named after the link), the primary
//! `mac_unicast_add` and `mac_rx_set`.  A failure unwinds what was done;
//! `EEXIST` (another primary: someone plumbed `/dev/net/tunN`) becomes
//! `EBUSY`, as dls maps it, and the bind is refused with `DL_SYSERR`.
//! `DL_UNBIND_REQ` and close call `MacPath::close`; the last share
//! stops new transmits, waits for those in flight, then `mac_rx_clear`
//! (after which the callback never runs), `mac_unicast_remove`,
//! `mac_client_close`, `mac_close`, in the order `mac_client_close`
//! requires.  Opening and closing are serialised by a state
//! (`Opening`/`Closing`) waited on with a condition variable, so no lock
//! is held across the blocking mac calls.
//!
//! `DL_UNITDATA_REQ` stays in the put procedure: `MacPath::tx` sends a
//! whole Ethernet frame with `mac_tx(.., MAC_DROP_ON_NO_DESC)` (no flow
//! control toward IP, as before: mac drops and counts).  The rx callback
//! runs in whatever thread called `mac_rx` (our own write path) or a mac
//! worker; it takes only the plumbing list's and the filters' leaf locks,
//! offers each frame to every stream holding a share whose receive filter
//! takes it (`filter.rs`, the dlpi(4P) rule; a copy for each but the
//! last), strips the Ethernet header and sends `DL_UNITDATA_IND` in the
//! stream's personality (tun: 2-byte SAP addresses; tap: MAC + SAP).
//!
//! Locks: `slot` is a leaf, never held across a mac or STREAMS call.

use alloc::boxed::Box;
use alloc::sync::Arc;
use core::ffi::c_void;

use illumos_sys_hdrs as sys;
use illumos_sys_hdrs::mblk_t;

use super::prim::{self, Personality};
use super::mac_path::Handles;
use crate::ddi::{DropReason, Errno, Kernel, Probe};
use crate::frame::{self, AddrClass, MacAddr};
use crate::link::{Link, Mode};
use crate::mblk::{MsgBlk, MsgChain};
use crate::queue::Queue;

/// The flags dls passes for its active client (dls.c `dls_mac_active_set`).
const PRIMARY_FLAGS: u16 =
    sys::MAC_UNICAST_PRIMARY | sys::MAC_UNICAST_TAG_DISABLE | sys::MAC_UNICAST_DISABLE_TX_VID_CHECK;

/// What the rx callback needs; boxed, its address is the callback's arg.
struct RxCtx<K: Kernel> {
    k: K,
    link: Arc<Link<K>>,
}

/// Take a share of `link`'s client for the stream of `queue` (see the
/// theory statement).  Blocks: control task only.
pub fn open<K: Kernel>(k: &K, link: &Arc<Link<K>>, queue: &Queue<K>) -> Result<(), Errno> {
    link.dlpi_mac.open(queue, || open_client(k, link))
}

fn open_client<K: Kernel>(k: &K, link: &Arc<Link<K>>) -> Result<Handles, Errno> {
    let mh = k.mac_open_by_linkid(link.linkid)?;
    let name = link.name.to_bytes();
    let name = name.split(|b| *b == 0).next().unwrap_or(&[]);
    let mch = match k.mac_client_open(mh, name, 0) {
        Ok(c) => c,
        Err(e) => {
            k.mac_close(mh);
            return Err(e);
        }
    };
    let muh = match k.mac_unicast_add_primary(mch, PRIMARY_FLAGS) {
        Ok(u) => u,
        Err((e, _diag)) => {
            k.mac_client_close(mch, 0);
            k.mac_close(mh);
            // dls.c dls_mac_active_set: every error but ENXIO is EBUSY.
            return Err(if e == sys::ENXIO { e } else { sys::EBUSY });
        }
    };
    let rx = Box::into_raw(Box::new(RxCtx { k: k.clone(), link: link.clone() }));
    // SAFETY: rx stays valid until the last close frees it after
    // mac_rx_clear.
    unsafe { k.mac_rx_set(mch, rx_callback::<K>, rx.cast::<c_void>()) };
    Ok(Handles { mh, mch, muh, rx: rx.cast::<c_void>(), free_rx: free_rx::<K> })
}

/// Free an `RxCtx` made by `open_client`.
///
/// # Safety
/// `p` came from `Box::into_raw` in `open_client` and is no longer used.
unsafe fn free_rx<K: Kernel>(p: *mut c_void) {
    // SAFETY: as the caller promises.
    drop(unsafe { Box::from_raw(p.cast::<RxCtx<K>>()) });
}

/// `mac_rx_t` of a link's DLPI client.
///
/// # Safety
/// `arg` is the `RxCtx<K>` registered by [`open`]; `chain` an
/// owned `b_next` chain.
unsafe extern "C" fn rx_callback<K: Kernel>(arg: *mut c_void, _mrh: *mut c_void, chain: *mut mblk_t, _loopback: i32) {
    // SAFETY: valid until mac_rx_clear returns, which waits for us.
    let ctx = unsafe { &*arg.cast_const().cast::<RxCtx<K>>() };
    // SAFETY: mac hands us the chain.
    let chain = unsafe { MsgChain::<K>::from_raw(chain) };
    for msg in chain {
        if let Err(reason) = up_one(ctx, msg) {
            ctx.link.stats.dropped(reason);
            ctx.k.probe(Probe::Drop(ctx.link.linkid, reason));
        }
    }
}

/// One frame from mac to the streams whose filters take it.
fn up_one<K: Kernel>(ctx: &RxCtx<K>, mut msg: MsgBlk<K>) -> Result<(), DropReason> {
    let want = msg.len().min(frame::ETHER_HDR_LEN + frame::VLAN_TAG_LEN);
    if !msg.pullup(&ctx.k, want) {
        return Err(DropReason::BadWrite);
    }
    let Some(h) = frame::parse_ether(msg.first_block()) else { return Err(DropReason::BadWrite) };
    if h.header_len != frame::ETHER_HDR_LEN {
        // Old-API IP takes untagged frames only.
        return Ok(());
    }
    let own: MacAddr = ctx.link.mac();
    let who = if ctx.link.mode == Mode::Tap { Personality::Tap } else { Personality::Tun };
    let takes = |q: &Queue<K>| {
        let rx = q.dlpi_rx();
        rx.via_mac()
            && match who {
                Personality::Tap => rx.takes_tap_frame(&own, &h.dst, &h.src, h.ethertype),
                Personality::Tun => rx.takes_tun_packet(h.ethertype),
            }
    };
    let (dsap, ssap, class) = match who {
        Personality::Tap => (who.dlsap(&h.dst, h.ethertype), who.dlsap(&h.src, h.ethertype), frame::classify(&h.dst)),
        Personality::Tun => {
            let none = [0; frame::ETHER_ADDR_LEN];
            (who.dlsap(&none, h.ethertype), who.dlsap(&none, h.ethertype), AddrClass::Unicast)
        }
    };
    let list = ctx.link.plumbing_snapshot();
    // Classified to this client but for no bound stream: what dls counts
    // as unknown (`dl_unknowns`); freed.
    let Some(last) = list.iter().rposition(|q| takes(q)) else { return Ok(()) };
    if !msg.trim_front(frame::ETHER_HDR_LEN) {
        return Err(DropReason::BadWrite);
    }
    let total = msg.len();
    let mut r = Ok(());
    for q in list.iter().take(last).filter(|q| takes(q)) {
        let copy = if msg.pullup(&ctx.k, total) { MsgBlk::alloc_with(&ctx.k, 0, msg.first_block()) } else { None };
        match copy {
            Some(c) => {
                if let Err(e) = prim::send_unitdata_ind(&ctx.k, q, c, &dsap, &ssap, class != AddrClass::Unicast) {
                    r = Err(e);
                }
            }
            None => r = Err(DropReason::NoBuffer),
        }
    }
    if let Some(q) = list.get(last) {
        prim::send_unitdata_ind(&ctx.k, q, msg, &dsap, &ssap, class != AddrClass::Unicast)?;
    }
    r
}
