// SPDX-License-Identifier: MPL-2.0
//! dld streams on a link (`/dev/net/<link>` opened in the kernel through
//! LDI, `ldi.rs`) and dls's one mac client of the link that carries
//! their traffic.
//!
//! # Theory statement
//!
//! Rules modelled, each from illumos-gate:
//! 1. **A `/dev/net` open is a style-1 stream, attached**: `dld_open` via
//!    `dls_devnet_open` (dls_mgmt.c) then `dld_str_attach` (dld_str.c);
//!    it starts in `DL_UNBOUND`.  While it is open, `dls_devnet_destroy`
//!    answers `EBUSY` (the devnet is held).
//! 2. **Control is asynchronous**: `dld_wput` hands `M_PROTO`,
//!    `M_PCPROTO` and `M_IOCTL` to `dld_wput_nondata`, which queues them
//!    for `dld_wput_nondata_task` on `dld_taskq` (dld_str.c); the ack is
//!    sent up later from that thread.  Modelled on the host's `dld`
//!    worker.  A test can lose one answer (`Hook::DldLosesNextAnswer`)
//!    or send a stray ack before one (`Hook::DldStrayBeforeNextAnswer`).
//! 3. **`DLIOCRAW`** (`ioc_raw`): always acked; from then on the stream
//!    sends and receives whole frames.
//! 4. **Bind** (`proto_bind_req`, dld_proto.c; `dls_active_set` and
//!    `dls_mac_active_set`, dls.c): `DL_OUTSTATE` unless `DL_UNBOUND`.
//!    The link's first active stream makes dls's client the link's
//!    primary client (`mac_unicast_add(PRIMARY)`); a primary held by
//!    someone else (a driver-opened client, kclient.rs rule 3) refuses it
//!    with `DL_SYSERR`/`EBUSY`.  Later binds only count; the last unbind
//!    or close removes the client (`dls_active_clear`).  The ack carries
//!    dld's DLSAP address: the link's MAC then the SAP.
//! 5. **Raw transmit** (`str_mdata_raw_put`): freed unless the stream is
//!    `DL_IDLE` and raw, or longer than the max SDU plus the Ethernet
//!    header (18 bytes if tagged); otherwise `mac_tx` on **dls's client**:
//!    promiscuous taps see it, link flows classify it (flows.rs: flows
//!    live on dls's client) and their `maxbw` or the link's paces it,
//!    then the link's `mc_tx`.
//! 6. **Receive** (`i_dls_link_rx` demultiplexing by SAP, `dls_accept`,
//!    `dld_str_rx_raw`): a frame `mac_rx` classifies to dls's client goes,
//!    under the link's `maxbw` through the client's receive soft ring
//!    set, to every bound stream whose SAP it carries (or that is
//!    `DL_PROMISC_SAP`) and whose destination it is: the link's address,
//!    broadcast, a group the stream joined with `DL_ENABMULTI_REQ`
//!    (`DL_PROMISC_MULTI`: any group), anything at `DL_PROMISC_PHYS`.
//!    Raw streams get the whole frame; a copy for each but the last.
//!    Receive-side flow classification is not modelled (flows.rs).
//!
//! Locks: a stream's `st` and the mac's `st` are leaves, never held
//! while calling the driver (`up` calls the driver's module).

#[allow(unused_imports)]
use super::*;

use illumos_sys_hdrs::dlpi::*;
use illumos_sys_hdrs::{EEXIST, M_IOCACK, M_IOCNAK, M_IOCTL, M_PCPROTO, M_PROTO, iocblk};

/// Where a dld stream sends what goes up (the queue above dld: a pushed
/// module's read side, or the stream head).
pub(crate) type Up = Box<dyn Fn(&Arc<HostShared>, *mut mblk_t) + Send + Sync>;

/// One dld stream opened through `/dev/net/<link>`.
pub(crate) struct DldStream {
    pub(super) mac: Arc<MacImpl>,
    st: Mutex<DldSt>,
    up: Up,
}

#[derive(Default)]
struct DldSt {
    bound: Option<u16>,
    raw: bool,
    groups: Vec<[u8; 6]>,
    promisc: u32,
    closed: bool,
}

const PROMISC_PHYS: u32 = 1;
const PROMISC_SAP: u32 = 2;
const PROMISC_MULTI: u32 = 4;

fn level_bit(level: u32) -> Option<u32> {
    match level {
        DL_PROMISC_PHYS => Some(PROMISC_PHYS),
        DL_PROMISC_SAP => Some(PROMISC_SAP),
        DL_PROMISC_MULTI => Some(PROMISC_MULTI),
        _ => None,
    }
}

/// Rule 1: open a dld stream on `m`.
pub(crate) fn dld_open(m: &Arc<MacImpl>, up: Up) -> Result<Arc<DldStream>, Errno> {
    let mut st = lock(&m.st);
    if st.disabled || st.devnet.is_none() {
        return Err(ENOENT);
    }
    let d = Arc::new(DldStream { mac: m.clone(), st: Mutex::new(DldSt::default()), up });
    st.dld.push(d.clone());
    Ok(d)
}

/// `dld_close`: an active stream leaves dls's client first.
pub(crate) fn dld_close(host: &Arc<HostShared>, d: &Arc<DldStream>) {
    let was_bound = {
        let mut s = lock(&d.st);
        s.closed = true;
        s.bound.take().is_some()
    };
    if was_bound {
        deactivate(host, &d.mac);
    }
    lock(&d.mac.st).dld.retain(|o| !Arc::ptr_eq(o, d));
}

/// `dld_wput`: data is transmitted now, control queued for dld's taskq.
pub(crate) fn dld_wput(host: &Arc<HostShared>, d: &Arc<DldStream>, mp: *mut mblk_t) {
    match mblk::db_type(mp) {
        M_DATA => raw_tx(host, d, mp),
        M_PROTO | M_PCPROTO | M_IOCTL => {
            let hw = Arc::downgrade(host);
            let dd = d.clone();
            let m = MsgPtrs(mp);
            host.dld.push(Box::new(move || {
                let m = m;
                match hw.upgrade() {
                    Some(h) => control(&h, &dd, m.0),
                    None => free_here(m.0),
                }
            }));
        }
        _ => free_here(mp),
    }
}

/// Can the queue above dld's write side put more (`canputnext`)?  False
/// while dls's client is held back by the link (dld's `DLD_SETQFULL`).
pub(crate) fn dld_can_put(d: &DldStream) -> bool {
    let c = lock(&d.mac.st).dls_client.clone();
    c.is_none_or(|c| !lock(&c.backlog).blocked)
}

fn raw_tx(host: &Arc<HostShared>, d: &Arc<DldStream>, mp: *mut mblk_t) {
    let (ok, max) = {
        let s = lock(&d.st);
        let max = lock(&d.mac.st).sdu_max as usize;
        (s.bound.is_some() && s.raw && !s.closed, max)
    };
    let bytes = msg_bytes(mp);
    let tagged = bytes.get(12..14) == Some(&[0x81, 0x00]);
    let limit = max + 14 + if tagged { 4 } else { 0 };
    let client = lock(&d.mac.st).dls_client.clone();
    match client {
        Some(c) if ok && bytes.len() <= limit && bytes.len() >= 14 => client::dls_send(host, &c, mp, &bytes),
        _ => {
            d.mac.dld_tx_dropped.fetch_add(1, Ordering::Relaxed);
            free_here(mp);
        }
    }
}

/// Reply `prim` as dld would, upward.
fn reply(host: &Arc<HostShared>, d: &DldStream, ty: u8, words: &[u32], tail: &[u8]) {
    let mut b: Vec<u8> = words.iter().flat_map(|w| w.to_ne_bytes()).collect();
    b.extend_from_slice(tail);
    let mp = alloc_msg(host, ty, 0, &b);
    if !mp.is_null() {
        (d.up)(host, mp);
    }
}

fn ok_ack(host: &Arc<HostShared>, d: &DldStream, prim: u32) {
    reply(host, d, M_PCPROTO, &[DL_OK_ACK, prim], &[]);
}

fn error_ack(host: &Arc<HostShared>, d: &DldStream, prim: u32, err: u32, unix: u32) {
    reply(host, d, M_PCPROTO, &[DL_ERROR_ACK, prim, err, unix], &[]);
}

fn word(b: &[u8], i: usize) -> Option<u32> {
    b.get(i * 4..i * 4 + 4).map(|w| u32::from_ne_bytes([w[0], w[1], w[2], w[3]]))
}

/// Rule 2: `dld_wput_nondata_task` for one message (dld's taskq).
fn control(host: &Arc<HostShared>, d: &Arc<DldStream>, mp: *mut mblk_t) {
    if host.hooked(crate::faults::Hook::DldLosesNextAnswer) {
        return free_here(mp);
    }
    let ty = mblk::db_type(mp);
    let bytes = msg_bytes(mp);
    if ty == M_IOCTL {
        // Rule 3, and everything else NAKed (`ioc`: EINVAL, as dld does
        // for an ioctl mac does not know).
        // SAFETY: an M_IOCTL from the stream head above: its first block
        // holds an iocblk.
        let cmd = unsafe { (*(*mp).b_rptr.cast::<iocblk>()).ioc_cmd };
        // SAFETY: as above; the message is ours to turn around.
        unsafe {
            let ioc = (*mp).b_rptr.cast::<iocblk>();
            (*(*mp).b_datap).db_type = if cmd == DLIOCRAW { M_IOCACK } else { M_IOCNAK };
            (*ioc).ioc_count = 0;
            (*ioc).ioc_rval = 0;
            (*ioc).ioc_error = if cmd == DLIOCRAW { 0 } else { illumos_sys_hdrs::EINVAL };
        }
        if cmd == DLIOCRAW {
            lock(&d.st).raw = true;
        }
        (d.up)(host, mp);
        return;
    }
    free_here(mp);
    let Some(prim) = word(&bytes, 0) else { return };
    if host.hooked(crate::faults::Hook::DldStrayBeforeNextAnswer) {
        error_ack(host, d, DL_UNBIND_REQ, DL_OUTSTATE, 0);
    }
    match prim {
        DL_BIND_REQ => {
            let sap = word(&bytes, 1).unwrap_or(0);
            if lock(&d.st).bound.is_some() {
                return error_ack(host, d, prim, DL_OUTSTATE, 0);
            }
            let Ok(sap16) = u16::try_from(sap) else { return error_ack(host, d, prim, DL_BADSAP, 0) };
            if let Err(e) = activate(host, &d.mac) {
                return error_ack(host, d, prim, DL_SYSERR, e as u32);
            }
            lock(&d.st).bound = Some(sap16);
            let addr = lock(&d.mac.st).addr;
            let mut dlsap = addr.to_vec();
            dlsap.extend_from_slice(&sap16.to_ne_bytes());
            // dl_bind_ack_t: prim, sap, addr_length, addr_offset,
            // max_conind, xidtest_flg; the address follows.
            reply(host, d, M_PCPROTO, &[DL_BIND_ACK, sap, 8, 24, 0, 0], &dlsap);
        }
        DL_UNBIND_REQ => {
            if lock(&d.st).bound.take().is_none() {
                return error_ack(host, d, prim, DL_OUTSTATE, 0);
            }
            deactivate(host, &d.mac);
            ok_ack(host, d, prim);
        }
        DL_ENABMULTI_REQ | DL_DISABMULTI_REQ => {
            let (len, off) = (word(&bytes, 1).unwrap_or(0) as usize, word(&bytes, 2).unwrap_or(0) as usize);
            let Some(a) = bytes.get(off..off + len).and_then(|a| <[u8; 6]>::try_from(a).ok()) else {
                return error_ack(host, d, prim, DL_BADADDR, 0);
            };
            let mut s = lock(&d.st);
            if prim == DL_ENABMULTI_REQ {
                if !s.groups.contains(&a) {
                    s.groups.push(a);
                }
            } else if let Some(i) = s.groups.iter().position(|g| *g == a) {
                s.groups.remove(i);
            } else {
                drop(s);
                return error_ack(host, d, prim, DL_NOTENAB, 0);
            }
            drop(s);
            ok_ack(host, d, prim);
        }
        DL_PROMISCON_REQ | DL_PROMISCOFF_REQ => {
            let Some(bit) = word(&bytes, 1).and_then(level_bit) else {
                return error_ack(host, d, prim, DL_NOTSUPPORTED, 0);
            };
            let mut s = lock(&d.st);
            if prim == DL_PROMISCON_REQ {
                s.promisc |= bit;
            } else if s.promisc & bit == 0 {
                drop(s);
                return error_ack(host, d, prim, DL_NOTENAB, 0);
            } else {
                s.promisc &= !bit;
            }
            drop(s);
            ok_ack(host, d, prim);
        }
        _ => error_ack(host, d, prim, DL_BADPRIM, 0),
    }
}

/// Rule 4: the first active stream opens dls's primary client.
fn activate(host: &Arc<HostShared>, m: &Arc<MacImpl>) -> Result<(), Errno> {
    {
        let mut st = lock(&m.st);
        if st.dls_client.is_some() {
            st.dls_active += 1;
            return Ok(());
        }
        let taken = st.clients.iter().any(|o| o.kern.as_ref().is_some_and(|k| lock(&k.unicast).is_some()));
        if taken {
            // i_mac_unicast_add: EEXIST; dls_mac_active_set: EBUSY.
            let _ = EEXIST;
            return Err(EBUSY);
        }
    }
    let c = open_client_with(host, m, false, None)?;
    c.dls.store(true, Ordering::SeqCst);
    let mut st = lock(&m.st);
    st.dls_client = Some(c);
    st.dls_active = 1;
    Ok(())
}

/// Rule 4: the last active stream closes it.
fn deactivate(host: &Arc<HostShared>, m: &Arc<MacImpl>) {
    let c = {
        let mut st = lock(&m.st);
        st.dls_active = st.dls_active.saturating_sub(1);
        if st.dls_active > 0 {
            return;
        }
        st.dls_client.take()
    };
    if let Some(c) = c {
        close_client(host, &c);
    }
}

/// Does bound stream `s` take a frame (rule 6)?
fn accepts(s: &DldSt, own: &[u8; 6], frame: &[u8]) -> bool {
    let (Some(sap), Some(dst), Some(ty)) = (s.bound, frame.get(..6), frame.get(12..14)) else { return false };
    if s.closed || (u16::from_be_bytes([ty[0], ty[1]]) != sap && s.promisc & PROMISC_SAP == 0) {
        return false;
    }
    if dst == own || s.promisc & PROMISC_PHYS != 0 {
        return true;
    }
    if dst.iter().all(|b| *b == 0xff) {
        return true;
    }
    dst[0] & 1 == 1 && (s.promisc & PROMISC_MULTI != 0 || s.groups.iter().any(|g| g == dst))
}

/// Rule 6: `mac_rx` of a frame on a mac whose dls client is active.
pub(super) fn dls_rx(host: &Arc<HostShared>, m: &Arc<MacImpl>, c: &Arc<ClientInner>, bytes: &[u8], maxbw: Option<u64>) {
    match maxbw {
        None => dispatch(host, m, bytes),
        Some(bps) => {
            let mp = alloc_msg(host, M_DATA, 0, bytes);
            if mp.is_null() {
                return;
            }
            let hw = Arc::downgrade(host);
            let mw = Arc::downgrade(m);
            let r = c.rx_shaper.enqueue(mp, bps, super::kclient::Limit::rx(bps), || {
                Box::new(move |mp| {
                    if let (Some(h), Some(m)) = (hw.upgrade(), mw.upgrade()) {
                        dispatch(&h, &m, &msg_bytes(mp));
                    }
                    free_here(mp);
                })
            });
            if let Err(mp) = r {
                c.shaped_drops.fetch_add(1, Ordering::Relaxed);
                free_here(mp);
            }
        }
    }
}

fn dispatch(host: &Arc<HostShared>, m: &Arc<MacImpl>, bytes: &[u8]) {
    let (streams, own) = {
        let st = lock(&m.st);
        (st.dld.clone(), st.addr)
    };
    for d in streams {
        let take = {
            let s = lock(&d.st);
            s.raw && accepts(&s, &own, bytes)
        };
        if take {
            let mp = alloc_msg(host, M_DATA, 0, bytes);
            if !mp.is_null() {
                (d.up)(host, mp);
            }
        }
    }
}

/// What a test sees of the dld streams on a link.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DldInfo {
    /// Open dld streams.
    pub streams: usize,
    /// Of them, bound (active) ones.
    pub bound: usize,
    /// Is dls's client open (the link's primary client)?
    pub dls_client: bool,
    /// Raw frames dld freed (not `DL_IDLE`, not raw, too long).
    pub tx_dropped: u64,
    /// Frames dls's client's soft ring sets dropped.
    pub shaped_drops: u64,
}

impl SimHost {
    /// The dld streams on a link and dls's client.
    pub fn dld_info(&self, link: impl Into<LinkRef>) -> Result<DldInfo, Errno> {
        let m = self.mac_of(link)?;
        let st = lock(&m.st);
        Ok(DldInfo {
            streams: st.dld.len(),
            bound: st.dld.iter().filter(|d| lock(&d.st).bound.is_some()).count(),
            dls_client: st.dls_client.is_some(),
            tx_dropped: m.dld_tx_dropped.load(Ordering::Relaxed),
            shaped_drops: st.dls_client.as_ref().map_or(0, |c| c.shaped_drops.load(Ordering::Relaxed)),
        })
    }
}
