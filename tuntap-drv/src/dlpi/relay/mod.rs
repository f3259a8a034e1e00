// SPDX-License-Identifier: MPL-2.0
//! The old-API DLPI stream's data path: a relay onto a real dld stream of
//! its unit's link, so that dls's client of the link carries OpenVPN's IP
//! traffic exactly as it carries IP plumbed with `ipadm` (issue 13).
//!
//! # Decision (research: /work/research/flows.md, candidate (1a);
//! docs/research/relay-facts.md for the facts re-read in illumos-gate)
//!
//! Link flows live on dls's client of the link: `mac_link_flow_add`
//! (`usr/src/uts/common/io/mac/mac_flow.c`) holds the link with
//! `dls_devnet_hold_link` and adds the flow to `dlp->dl_mch`, and
//! `mac_tx` (`mac_client.c`) classifies a client's packets against that
//! client's own subflow table only.  No notification exists that would
//! let a private client mirror them.  So the traffic must go through
//! dls's client, and the only supported way to be carried by it is to be
//! a dld stream.  As softmac's fast path does (`softmac_lower_setup` in
//! `usr/src/uts/common/io/softmac/softmac_main.c`; `softmac_fp.c`), the
//! old-API stream opens, on its control task, a dld stream of its own in
//! the kernel and relays:
//!
//! 1. `DL_ATTACH_REQ`: `ldi_open_by_name("/dev/net/<link>")` (sdev's
//!    `devnet_create_rvp` -> `dls_devnet_open`: style 1, attached),
//!    `DLIOCRAW` (dld_str.c `ioc_raw`: whole frames both ways), `I_PUSH`
//!    of our own module [`MODULE_NAME`] (registered in drv/tun's
//!    `modlinkage`, as softmac registers its module next to its driver),
//!    and `I_STR` [`TUNRLY_IOC_START`], which the module acknowledges
//!    with its read queue only for `ioc_cr == kcred` (dld's `ioc_fast`
//!    check for `DLIOCHDRINFO` is the model).  A link that is not relayed
//!    (a zone's link, no `/dev/net` node, a kernel without LDI) leaves
//!    all its streams on the older path (`mac_client.rs`: its own
//!    primary client; flows do not reach it).  The path is decided once
//!    per link, by its first stream, and kept until the last one leaves
//!    (`Link::relay_path`); on a relayed link any failure, `ENOENT`
//!    included (a dlmgmtd restart), is retried once after a pause and
//!    then fails the attach ([`Relay::open_for`]).
//! 2. `DL_BIND_REQ`/`DL_UNBIND_REQ` go down as well and their acks are
//!    awaited (dld answers from `dld_wput_nondata_task` on its taskq); a
//!    bind dld refuses (`DL_SYSERR`/`EBUSY`: the link's primary is held
//!    by someone else) is refused to IP.  tap's `DL_ENABMULTI_REQ`/
//!    `DL_DISABMULTI_REQ` and `DL_PROMISCON_REQ`/`OFF` at the SAP and
//!    multicast levels are forwarded after our own filter accepted them,
//!    because dls filters by them (`dls_accept`).  Everything else
//!    (`DL_INFO_REQ` above all) is answered in the old personality by
//!    `mod.rs`: dld would say style 1 and, for tun, give IP a broadcast
//!    address that makes it an ARP resolver (compat-dlpi.md §4.2).
//! 3. `DL_UNITDATA_REQ` becomes an Ethernet frame (tap: to the DLSAP's
//!    address; tun: to the link's peer address) `putnext` into the lower
//!    stream: dld's `str_mdata_raw_put` -> `mac_tx` on dls's client, so
//!    flows, `maxbw`, protection, snoop and the counters apply.  No flow
//!    control toward IP, as before: when dld's queue is full
//!    (`canputnext` false) the frame is dropped and counted (`oerrors`,
//!    `sdt:::tuntap-drop` `NoBuffer`).  Under `maxbw` this is loss, not
//!    pacing: a backlogged Tx soft ring set makes `mac_tx` return a
//!    cookie, dld marks its queue full (`DLD_SETQFULL`,
//!    `str_mdata_raw_put` in dld_str.c) and every IP packet drops until
//!    `MAC_NOTE_TX` re-enables it.  Pacing IP would take a write service
//!    procedure on the module and on the upper stream, back-enabled from
//!    dld's queue (review M3; not done).
//! 4. What dld sends up raw (`dld_str_rx_raw`: the whole frame, already
//!    demultiplexed by SAP and filtered by `dls_accept`) reaches our
//!    module's read put procedure and goes to IP as `DL_UNITDATA_IND` in
//!    the stream's personality, through our own receive filter too
//!    (never a frame with the unit's own source address).
//!
//! # Theory statement
//!
//! **Contexts.**  Every LDI call (`ldi_open_by_name`, `ldi_ioctl`,
//! `ldi_close`) and every wait for a lower ack runs on the stream's
//! control task or in its close, never in a put procedure or the module's
//! procedures (all LDI entries assert `!servicing_interrupt()`;
//! driver_lyr.c).  The transmit runs in IP's put procedure; the module's
//! read put procedure runs in dld's taskq (acks) or in whatever thread
//! runs dls's receive (our own write path calling `mac_rx`, a mac
//! worker).  Neither blocks.
//!
//! **Locks.**  `Relay::st` and a module's `ModState::relay` are leaves:
//! never held across `putnext`, `qreply` or an LDI call.
//!
//! **Teardown.**  `close` (from `DL_DETACH_REQ` or the upper stream's
//! close, before its `qprocsoff`): the relay turns `Closing` (new
//! transmits and receives drop), waits until none is in flight, unbinds
//! the lower if it is bound (IP's module close already sent its own
//! `DL_UNBIND_REQ` in the usual order), then `ldi_close`, which closes
//! our module (`qprocsoff`: no read put procedure runs after it) and
//! dld (`dld_close`: the last active stream removes dls's unicast
//! address).  No frame reaches the upper stream after `close` returns.
//!
//! **Bounded waits, and the ones that are not.**  A lower DLPI request
//! waits at most [`ACK_WAIT_USEC`] for its ack (`cv_reltimedwait(9F)`),
//! and `DLIOCRAW` at most [`IOCTL_WAIT_SECS`] (an `I_STR` with that
//! `ic_timout`: `strdoioctl`, usr/src/uts/common/os/streamio.c).  Past
//! it the relay is *broken*: IP's bind fails with `DL_SYSERR`/`ETIME`,
//! later requests fail at once, transmits and receives drop, and close
//! skips the unbind and goes straight to `ldi_close`.  So a *lost* ack
//! costs a control thread at most that long.  Not bounded by us:
//! `ldi_close` -> `dld_close` -> `dld_str_close` waits (`cv_wait`) while
//! `ds_dlpi_pending` (dld_str.c), so a request that timed out because
//! dld's taskq is slow, not because its answer was lost, still holds the
//! close until dld has run it; and `ldi_open_by_name`'s dlmgmtd door
//! upcall retries `EAGAIN` itself (3 x `delay(2 * hz)`,
//! `i_dls_mgmt_upcall` in usr/src/uts/common/io/dls/dls_mgmt.c), to
//! which our one retry adds [`RETRY_DELAY_USEC`].
//!
//! **A broken relay stays broken** until `DL_DETACH_REQ` or close (a
//! late ack must never be matched to a later request).  Breaking is
//! reported once (`sdt:::tuntap-relay`, `cmn_err(CE_WARN)`) and IP is
//! told with `M_ERROR` carrying the errno (`ETIME`: an ack never came;
//! `ENXIO`: dld hung up) up its stream, as a deleted link's readers are
//! (`Driver::evict_queue`): `ip_rput` hands it to `ip_rput_other`, which
//! sets `ill_error` and takes the interface down (inet/ip/ip.c), so no
//! route keeps pointing at a link that carries nothing.
//!
//! **Invariants.**  The module is inert unless started by the kernel: a
//! module a user pushes passes everything through.  Every lower request
//! has exactly one ack awaited, matched by primitive (`from_dld.rs`); any
//! other `M_PROTO`/`M_PCPROTO` from dld is freed and counted
//! (`sdt:::tuntap-relay`, [`RelayEvent::Stray`]).

use alloc::boxed::Box;
use alloc::sync::Arc;
use core::ffi::c_void;
use core::mem::size_of;
use core::ptr;

use illumos_sys_hdrs as sys;
use illumos_sys_hdrs::dlpi::*;
use illumos_sys_hdrs::queue_t;

mod attach;
mod from_dld;


use super::prim::Personality;
use crate::ddi::{Cred, DropReason, Errno, GLOBAL_ZONEID, Kernel, LdiHandle, Probe, RelayEvent};
use crate::frame::MacAddr;
use crate::ioctl;
use crate::link::Link;
use crate::mblk::MsgBlk;
use crate::queue::Queue;
use crate::sync::{KCondvar, KMutex};

/// The name of the driver's STREAMS module (`fmodsw`, `FMNAMESZ` 8).
pub const MODULE_NAME: &str = "tunrly";
/// [`MODULE_NAME`] NUL-terminated, for `I_PUSH`.
const MODULE_NAME_C: &[u8] = b"tunrly\0";

/// The private `I_STR` command that starts the module: acknowledged, for
/// the kernel's credential only, with the module's read queue in 8 bytes.
pub const TUNRLY_IOC_START: i32 = sys::streams_ioctl(b'R', 0x7501);

/// How long a failed open of the lower stream waits before its one
/// retry (microseconds; attach.rs): long enough for a restarted dlmgmtd
/// to answer its door again (`svc.startd` restarts it at once), short
/// enough for IP's `DL_ATTACH_REQ`, which waits on our control task.
pub const RETRY_DELAY_USEC: u64 = 1_000_000;

/// How long a lower request waits for dld's ack (microseconds) before
/// the relay is declared broken: dld answers every primitive
/// (`dld_wput_nondata_task`, dld_str.c), normally within milliseconds,
/// but a lost answer must not pin a control thread, and the close
/// behind it, for ever (`cv_reltimedwait(9F)`; shorter than the stream
/// head's own default for ioctls and close, `STRTIMOUT`, 15 s in
/// usr/src/uts/common/sys/strsubr.h).
pub const ACK_WAIT_USEC: u64 = 10_000_000;

/// How long an ioctl down the lower stream waits for its answer
/// (`ic_timout`, seconds): as long as a DLPI request ([`ACK_WAIT_USEC`]).
pub const IOCTL_WAIT_SECS: i32 = (ACK_WAIT_USEC / 1_000_000) as i32;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    Ready,
    Closing,
}

struct RelaySt<K: Kernel> {
    phase: Phase,
    /// Why the lower stream is unusable (`ETIME`: an ack never came;
    /// `ENXIO`: dld sent `M_ERROR`/`M_HANGUP`): transmits and receives
    /// drop, requests fail at once with it, close skips the unbind.
    broken: Option<Errno>,
    /// Transmits and receives between checking `phase` and returning.
    inflight: u32,
    /// The primitive whose ack a lower request is waiting for.
    waiting: Option<u32>,
    reply: Option<MsgBlk<K>>,
    /// The lower stream is bound.
    bound: bool,
    /// The `M_ERROR` (with this errno) owed to IP for a break that came
    /// while one of IP's requests was in flight: sent by the control task
    /// once it has answered that request ([`Relay::tell_ip_owed`]), so IP
    /// sees its ack before the error, as from any one driver's queue.
    ip_owed: Option<Errno>,
}

/// One old-API DLPI stream's lower dld stream.
pub struct Relay<K: Kernel> {
    k: K,
    lh: LdiHandle,
    /// The module's write queue: `putnext` on it enters dld.
    mod_wq: *mut queue_t,
    upper: Arc<Queue<K>>,
    link: Arc<Link<K>>,
    who: Personality,
    st: KMutex<K, RelaySt<K>>,
    cv: KCondvar<K>,
}

// SAFETY: mod_wq stays valid until ldi_close (done by `close`, after
// which it is not used); everything else is Send + Sync.
unsafe impl<K: Kernel> Send for Relay<K> {}
// SAFETY: as above.
unsafe impl<K: Kernel> Sync for Relay<K> {}

/// The module's per-instance state, in `q_ptr` of its queue pair.
struct ModState<K: Kernel> {
    relay: KMutex<K, Option<Arc<Relay<K>>>>,
}

/// The other queue of a pair (illumos allocates the read queue first).
fn other_queue(q: *mut queue_t) -> *mut queue_t {
    // SAFETY: q is one queue of an allocated pair.
    unsafe {
        if (*q).q_flag & sys::QREADR != 0 { q.add(1) } else { q.sub(1) }
    }
}

/// # Safety
/// `q` is a queue of an open module instance of ours.
unsafe fn mod_state<'a, K: Kernel>(q: *mut queue_t) -> Option<&'a ModState<K>> {
    // SAFETY: mod_open stored a Box<ModState<K>>; mod_close frees it
    // after qprocsoff.
    unsafe { ((*q).q_ptr as *const ModState<K>).as_ref() }
}

impl<K: Kernel> Relay<K> {
    /// Step 1 of the decision: the lower stream with our module started.
    /// Blocks: control task only.
    ///
    /// Only for a global-zone link: the taskq runs in the global zone,
    /// and dlmgmtd resolves `/dev/net/<name>` for it by looking in the
    /// caller's zone first (`dlmgmt_getlinkid` -> `link_by_name(name,
    /// zoneid)` in usr/src/cmd/dlmgmtd/dlmgmt_door.c / dlmgmt_util.c), so
    /// a zone's `tun0` would be relayed onto the global zone's `tun0`
    /// when both exist.  A zone's unit keeps the older path
    /// (mac_client.rs), which opens its link by id.
    pub fn open(k: &K, link: &Arc<Link<K>>, upper: &Arc<Queue<K>>, who: Personality) -> Result<Arc<Self>, Errno> {
        if link.zone != GLOBAL_ZONEID {
            return Err(sys::ENOTSUP);
        }
        let name = link.name.to_bytes();
        let name = name.split(|b| *b == 0).next().unwrap_or(&[]);
        let mut path = alloc::vec::Vec::with_capacity(9 + name.len());
        path.extend_from_slice(b"/dev/net/");
        path.extend_from_slice(name);
        let lh = k.ldi_open_by_name(&path)?;
        match Self::start(k, lh) {
            Ok(mod_rq) => {
                let relay = Arc::new(Relay {
                    k: k.clone(),
                    lh,
                    mod_wq: other_queue(mod_rq),
                    upper: upper.clone(),
                    link: link.clone(),
                    who,
                    st: KMutex::new(RelaySt {
                        phase: Phase::Ready,
                        broken: None,
                        inflight: 0,
                        waiting: None,
                        reply: None,
                        bound: false,
                        ip_owed: None,
                    }),
                    cv: KCondvar::new(),
                });
                // SAFETY: the module instance is open until ldi_close.
                match unsafe { mod_state::<K>(mod_rq) } {
                    Some(ms) => *ms.relay.lock() = Some(relay.clone()),
                    None => {
                        k.ldi_close(lh);
                        return Err(sys::EPROTO);
                    }
                }
                Ok(relay)
            }
            Err(e) => {
                k.ldi_close(lh);
                Err(e)
            }
        }
    }

    /// `DLIOCRAW`, `I_PUSH` and the start ioctl; the module's read queue.
    /// `DLIOCRAW` goes as an `I_STR` with a finite `ic_timout`: dld takes
    /// it so (`dld_wput` -> `dld_wput_nondata` -> `dld_ioc` -> `ioc_raw`
    /// in usr/src/uts/common/io/dld/dld_str.c check neither `ioc_count`
    /// nor `TRANSPARENT`), whereas sent as a transparent ioctl it would
    /// wait `INFTIM` for dld's taskq (`strioctl`, os/streamio.c).
    fn start(k: &K, lh: LdiHandle) -> Result<*mut queue_t, Errno> {
        k.ldi_ioctl_istr(lh, DLIOCRAW, &mut [], IOCTL_WAIT_SECS)?;
        // SAFETY: I_PUSH takes a NUL-terminated name in kernel memory,
        // valid during the call.
        unsafe { k.ldi_ioctl(lh, sys::I_PUSH, MODULE_NAME_C.as_ptr() as isize)? };
        let mut out = [0u8; 8];
        k.ldi_ioctl_istr(lh, TUNRLY_IOC_START, &mut out, IOCTL_WAIT_SECS)?;
        let rq = usize::from_ne_bytes(out) as *mut queue_t;
        if rq.is_null() { Err(sys::EPROTO) } else { Ok(rq) }
    }

    /// Send one control request (`prim`) down and wait, at most
    /// [`ACK_WAIT_USEC`], for the ack that answers it (`from_dld::answers`).  On
    /// timeout the relay is broken (see [`RelaySt::broken`]).  Blocks:
    /// control task or close.
    fn request(&self, prim: u32, msg: MsgBlk<K>) -> Result<MsgBlk<K>, Errno> {
        {
            // One control task per stream and close waits for it, so the
            // slot is free at once unless a request timed out.
            let s = self.st.lock();
            let (mut s, free) =
                self.st.wait_until_for(s, &self.cv, ACK_WAIT_USEC, |s| s.waiting.is_none() || s.broken.is_some());
            if let Some(e) = s.broken {
                return Err(e);
            }
            if !free {
                return Err(sys::ETIME);
            }
            s.waiting = Some(prim);
            s.reply = None;
        }
        // SAFETY: mod_wq is open until ldi_close; the message is handed on.
        unsafe { self.k.putnext(self.mod_wq, msg.into_raw()) };
        let s = self.st.lock();
        let (mut s, _) =
            self.st.wait_until_for(s, &self.cv, ACK_WAIT_USEC, |s| s.reply.is_some() || s.broken.is_some());
        s.waiting = None;
        let timed_out = s.reply.is_none() && s.broken.is_none();
        let r = match s.reply.take() {
            Some(ack) => Ok(ack),
            None => Err(*s.broken.get_or_insert(sys::ETIME)),
        };
        if timed_out {
            // IP's request is answered first (by our caller), then told.
            s.ip_owed = Some(sys::ETIME);
        }
        drop(s);
        self.cv.broadcast();
        if timed_out {
            self.report(RelayEvent::AckTimeout, sys::ETIME);
        }
        r
    }

    /// Send IP the `M_ERROR` a break left owed (see `RelaySt::ip_owed`).
    /// Called by the control task after it has answered IP's request.
    pub fn tell_ip_owed(&self) {
        let owed = self.st.lock().ip_owed.take();
        if let Some(errno) = owed {
            self.upper.send_error(&self.k, errno);
        }
    }

    /// The relay has just broken (`errno`: why): reported once
    /// (`sdt:::tuntap-relay` and `cmn_err(CE_WARN)`), and IP is told
    /// with `M_ERROR` up its stream, as a deleted link's readers are
    /// (`Driver::evict_queue`): `ip_rput`'s `M_ERROR` case runs
    /// `ip_rput_other`, which sets `ill_error` and takes the interface
    /// down (`ill_down_start`; usr/src/uts/common/inet/ip/ip.c), so its
    /// routes stop pointing at a link that carries nothing.  Never
    /// blocks (also called from the module's read put procedure).
    fn broke(&self, ev: RelayEvent, errno: Errno) {
        self.report(ev, errno);
        self.upper.send_error(&self.k, errno);
    }

    /// The probe and the console line of a break.  Never blocks.
    fn report(&self, ev: RelayEvent, errno: Errno) {
        self.k.probe(Probe::Relay(self.link.linkid, ev, errno));
        self.k.warn(format_args!("link {}: lower dld stream lost ({errno}); IP's interface is taken down", self.link.name));
    }

    /// Forward a DLPI request; `Ok` with its positive ack, else the
    /// `DL_ERROR_ACK`'s (`dl_errno`, `dl_unix_errno`), or `DL_SYSERR`
    /// with the errno of a broken relay (`ETIME`, `ENXIO`).
    fn forward(&self, head: &[u32], tail: &[u8]) -> Result<MsgBlk<K>, (u32, u32)> {
        let prim_ = head.first().copied().unwrap_or(0);
        let mut b = alloc::vec::Vec::with_capacity(head.len() * 4 + tail.len());
        for w in head {
            b.extend_from_slice(&w.to_ne_bytes());
        }
        b.extend_from_slice(tail);
        let Some(mut msg) = MsgBlk::alloc_with(&self.k, 0, &b) else { return Err((DL_SYSERR, sys::ENOMEM as u32)) };
        msg.set_db_type(sys::M_PROTO);
        let ack = self.request(prim_, msg).map_err(|e| (DL_SYSERR, e as u32))?;
        match ack.read_head::<dl_error_ack_t>() {
            Some(e) if e.dl_primitive == DL_ERROR_ACK => Err((e.dl_errno, e.dl_unix_errno)),
            _ => Ok(ack),
        }
    }

    /// Bind the lower stream to `sap` (connectionless).  Control task.
    pub fn bind(&self, sap: u32) -> Result<(), (u32, u32)> {
        // dl_bind_req_t: prim, sap, max_conind, service_mode (u16) and
        // conn_mgmt (u16), xidtest_flg.
        let mode_mgmt = u32::from_ne_bytes({
            let m = (DL_CLDLS as u16).to_ne_bytes();
            [m[0], m[1], 0, 0]
        });
        self.forward(&[DL_BIND_REQ, sap, 0, mode_mgmt, 0], &[])?;
        self.st.lock().bound = true;
        Ok(())
    }

    /// Unbind the lower stream (errors ignored: IP always gets its
    /// `DL_OK_ACK`; a broken relay sends nothing, and `ldi_close` ->
    /// `dld_close` -> `dld_str_detach` unbinds what dld still holds).
    /// Control task or close.
    pub fn unbind(&self) {
        let was = core::mem::replace(&mut self.st.lock().bound, false);
        if was {
            let _ = self.forward(&[DL_UNBIND_REQ], &[]);
        }
    }

    /// Forward tap's `DL_ENABMULTI_REQ`/`DL_DISABMULTI_REQ` (`group`) or
    /// `DL_PROMISCON_REQ`/`OFF` (`level`), after our own filter took it.
    pub fn forward_filter(&self, prim_: u32, group: Option<&MacAddr>, level: u32) {
        let r = match group {
            Some(g) => self.forward(&[prim_, 6, 12], g),
            None => self.forward(&[prim_, level], &[]),
        };
        if r.is_err() {
            self.k.probe(Probe::Drop(self.link.linkid, DropReason::BadWrite));
        }
    }

    /// Step 3: IP's frame into dld.  Never blocks (put procedure).
    pub fn tx(&self, frame: MsgBlk<K>) {
        {
            let mut s = self.st.lock();
            if s.phase != Phase::Ready || s.broken.is_some() {
                drop(s);
                self.link.stats.dropped(DropReason::Closing);
                return;
            }
            s.inflight += 1;
        }
        // SAFETY: mod_wq is open while inflight > 0 (close waits).
        if unsafe { self.k.canputnext(self.mod_wq) } {
            // SAFETY: as above; the frame is handed on.
            unsafe { self.k.putnext(self.mod_wq, frame.into_raw()) };
        } else {
            drop(frame);
            self.link.stats.tx_dropped();
            self.k.probe(Probe::Drop(self.link.linkid, DropReason::NoBuffer));
        }
        self.leave();
    }

    fn leave(&self) {
        let mut s = self.st.lock();
        s.inflight -= 1;
        let idle = s.inflight == 0;
        drop(s);
        if idle {
            self.cv.broadcast();
        }
    }

    /// Teardown (see the theory statement).  Blocks: control task or close.
    pub fn close(&self) {
        {
            let mut s = self.st.lock();
            s.phase = Phase::Closing;
            drop(s);
            let s = self.st.lock();
            drop(self.st.wait_until(s, &self.cv, |s| s.inflight == 0));
        }
        self.unbind();
        self.k.ldi_close(self.lh);
    }
}

// ----- the module's procedures (its streamtab, registered by drv/tun) -----

/// Module open: `MODOPEN` only; inert until started.
///
/// # Safety
/// `rq` is the read queue of a fresh module pair.
pub unsafe fn mod_open<K: Kernel>(k: &K, rq: *mut queue_t, sflag: i32, _cr: Cred) -> Result<(), Errno> {
    if sflag != sys::MODOPEN {
        return Err(sys::ENXIO);
    }
    let st = Box::into_raw(Box::new(ModState::<K> { relay: KMutex::new(None) })).cast::<c_void>();
    // SAFETY: a fresh pair, ours from now on.
    unsafe {
        (*rq).q_ptr = st;
        (*other_queue(rq)).q_ptr = st;
        k.qprocson(rq);
    }
    Ok(())
}

/// Module close: `qprocsoff`, forget the relay, free the state.
///
/// # Safety
/// `rq` is the read queue of a pair [`mod_open`] succeeded on.
pub unsafe fn mod_close<K: Kernel>(k: &K, rq: *mut queue_t) {
    // SAFETY: our pair; after qprocsoff no procedure of ours runs on it.
    unsafe {
        k.qprocsoff(rq);
        mod_forget::<K>(rq);
    }
}

/// Clear the pair's `q_ptr`s and free the module's state.
///
/// # Safety
/// `rq` is the read queue of a pair [`mod_open`] succeeded on, after its
/// `qprocsoff`.
pub unsafe fn mod_forget<K: Kernel>(rq: *mut queue_t) {
    // SAFETY: as documented: no procedure of ours runs on the pair.
    unsafe {
        let p = (*rq).q_ptr as *mut ModState<K>;
        (*rq).q_ptr = ptr::null_mut();
        (*other_queue(rq)).q_ptr = ptr::null_mut();
        if !p.is_null() {
            drop(Box::from_raw(p));
        }
    }
}

/// Module write put: the start ioctl, else pass-through.
///
/// # Safety
/// `wq` is the module's write queue; `mp` is owned.
pub unsafe fn mod_wput<K: Kernel>(k: &K, wq: *mut queue_t, mp: *mut sys::mblk_t) {
    // SAFETY: STREAMS hands us mp.
    let Some(msg) = (unsafe { MsgBlk::<K>::from_raw(mp) }) else { return };
    if msg.db_type() == sys::M_IOCTL {
        if let Some(h) = ioctl::header(&msg).filter(|h| h.cmd == TUNRLY_IOC_START) {
            if !k.is_kcred(h.cred) || h.count < size_of::<u64>() {
                return ioctl::nak(k, wq, msg, sys::EPERM);
            }
            let rq = other_queue(wq) as usize;
            return ioctl::ack(k, wq, msg, 0, Some(&rq.to_ne_bytes()));
        }
    }
    // SAFETY: wq is ours; the message is handed on.
    unsafe { k.putnext(wq, msg.into_raw()) };
}

/// Module read put: to the relay once started, else pass-through.
///
/// # Safety
/// `rq` is the module's read queue; `mp` is owned.
pub unsafe fn mod_rput<K: Kernel>(k: &K, rq: *mut queue_t, mp: *mut sys::mblk_t) {
    // SAFETY: STREAMS hands us mp.
    let Some(msg) = (unsafe { MsgBlk::<K>::from_raw(mp) }) else { return };
    // SAFETY: rq is ours and open.
    let relay = unsafe { mod_state::<K>(rq) }.and_then(|ms| ms.relay.lock().clone());
    let Some(relay) = relay else {
        // SAFETY: as above; handed on.
        return unsafe { k.putnext(rq, msg.into_raw()) };
    };
    match msg.db_type() {
        sys::M_DATA => relay.rx(msg),
        sys::M_PROTO | sys::M_PCPROTO => relay.ack(msg),
        // Ioctl replies and M_FLUSH: to the lower stream head, which
        // consumes them (strrput: an ioctl reply wakes its waiter,
        // M_FLUSH is turned around).
        sys::M_IOCACK | sys::M_IOCNAK | sys::M_COPYIN | sys::M_COPYOUT | sys::M_FLUSH => {
            // SAFETY: as above; handed on.
            unsafe { k.putnext(rq, msg.into_raw()) }
        }
        sys::M_ERROR | sys::M_HANGUP => relay.hang_up(msg),
        // Nobody reads the lower head (no ldi_getmsg): anything queued
        // there would fill it, and dld's dld_str_rx_raw drops every
        // frame once canputnext fails.  Freed and counted.
        _ => relay.stray(msg),
    }
}
