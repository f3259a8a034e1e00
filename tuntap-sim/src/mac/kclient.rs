// SPDX-License-Identifier: MPL-2.0
//! Mac clients the *driver* opens on its own links (the old-API DLPI
//! stream's client, `tuntap-drv/src/dlpi/mac_client.rs`), and the link
//! resources that govern them.
//!
//! # Theory statement
//!
//! Rules modelled, each from illumos-gate:
//! 1. `mac_open_by_linkid` (sys/mac.h; mac.c: `dls_devnet_hold_tmp`, then
//!    `mac_open`) resolves a link id to its mac and holds it: while held,
//!    `mac_disable` answers `EBUSY` (mac.c `mac_disable`: `mi_ref != 0`).
//!    A held mac must be released by `mac_close`, once.
//! 2. `mac_client_open` on a held mac (mac_client.c).  `mac_client_close`
//!    with a unicast address or rx callback still registered is a bug
//!    (mac_client.c `mac_client_close` asserts the lists are empty).
//! 3. At most one `MAC_UNICAST_PRIMARY` client per mac: a second gets
//!    `EEXIST` with `MAC_DIAG_MACADDR_INUSE` (mac_client.c
//!    `i_mac_unicast_add`; dls maps it to `EBUSY`, dls.c
//!    `dls_mac_active_set`).  A primary client takes the link's resource
//!    properties (`maxbw`) cached on the mac (`mac_get_resources` +
//!    `mac_client_set_resources` in `i_mac_unicast_add`); a later
//!    `dladm set-linkprop -p maxbw` reaches it too (mac.c
//!    `i_mac_set_resources` applies to `mac_primary_client_handle`).
//! 4. `mac_rx_set`/`mac_rx_clear` quiesce the receive path and may block
//!    (mac_client.c); after `mac_rx_clear` returns the callback is never
//!    called again.  Frames reach the callback only if addressed to the
//!    link's primary address or a group address (mac classification by
//!    destination; broadcast goes to every client, mac_bcast.c).
//! 5. `mac_tx` never blocks (mac_client.c `mac_tx` is called from put
//!    procedures by dld); promiscuous observers get a copy of every
//!    transmitted frame (mac_client.c `mac_tx_send` /
//!    `mac_promisc_dispatch`), then the frame goes to the link's `mc_tx`.
//!    What `mc_tx` hands back is freed under `MAC_DROP_ON_NO_DESC`.
//! 6. `maxbw` is a rate limit on the client's transmit and receive
//!    (mac_bw.c; mac_sched.c `mac_tx_bw_mode`, `SRS_TX_BW`): frames over
//!    the rate wait in the soft ring set and leave at the rate; beyond
//!    `mac_tx_srs_hiwat` (1000, mac_sched.c) queued frames a
//!    `MAC_DROP_ON_NO_DESC` sender loses them.  Receive has no sender
//!    to push back on: a bandwidth-controlled receive SRS queues at most
//!    twice the bytes one clock tick allows and frees the rest
//!    (`mac_bw_drop_threshold = mac_bw_limit << 1`, "twice the queuing
//!    capability", with `mac_bw_limit = FLOW_BYTES_PER_TICK(maxbw)` in
//!    mac_datapath.c / `mac_bw_ctl_set_state`; the drop in mac_sched.c
//!    `mac_rx_srs_process`): at 10 Mbit/s and `hz` = 100 that is 25,000
//!    bytes.  The rate is kept as a departure schedule in
//!    wall time (each frame's bytes at `maxbw` bits/s), so a late wake-up
//!    does not lower the long-run rate.
//!
//! Locks: a client's `rx` state and a shaper's queue are never held
//! across a driver callback.  Shaper threads call the driver in
//! `Ctx::MacTx` (transmit) or `Ctx::MacCallback` (receive).

#[allow(unused_imports)]
use super::*;

use illumos_sys_hdrs::{EEXIST, MAC_DIAG_MACADDR_INUSE, MAC_DROP_ON_NO_DESC, MAC_UNICAST_PRIMARY};
use std::thread::JoinHandle;
use tuntap_drv::ddi::{MacClientHandle, MacRxFn, MacUnicastHandle};

/// `mac_tx_srs_hiwat` (mac_sched.c): frames a bandwidth-limited soft ring
/// set queues before a `MAC_DROP_ON_NO_DESC` sender loses them.
pub const MAC_SRS_HIWAT: usize = 1000;

/// The kernel's clock rate, `hz` (100 unless `hires_tick` is set;
/// usr/src/uts/common/conf/param.c).
pub const HZ: u64 = 100;

/// Bytes a bandwidth-controlled receive SRS holds before it drops:
/// twice `FLOW_BYTES_PER_TICK(maxbw)` (`mac_bw_drop_threshold`, see
/// rule 6 above).
pub fn rx_drop_threshold(bps: u64) -> u64 {
    (bps / 8 / HZ) << 1
}

/// How much a shaper queues before it refuses.
#[derive(Clone, Copy, Debug)]
pub(super) enum Limit {
    /// Transmit: frames (`mac_tx_srs_hiwat`).
    Frames(usize),
    /// Receive: bytes (`mac_bw_drop_threshold`).
    Bytes(u64),
}

impl Limit {
    pub(super) const TX: Limit = Limit::Frames(MAC_SRS_HIWAT);

    pub(super) fn rx(bps: u64) -> Limit {
        Limit::Bytes(rx_drop_threshold(bps))
    }
}

/// The driver side of a client opened with `mac_client_open`.
pub(crate) struct KernSide {
    pub(super) name: String,
    pub(super) unicast: Mutex<Option<usize>>,
    rx: Mutex<RxCb>,
    rx_cv: Condvar,
    /// Frames mac dropped for this client (over the queue limit, or
    /// handed back by `mc_tx` under `MAC_DROP_ON_NO_DESC`).
    pub(super) tx_dropped: AtomicU64,
    pub(super) rx_dropped: AtomicU64,
    /// Frames passed to `mc_tx` / to the rx callback.
    pub(super) tx_sent: AtomicU64,
    pub(super) rx_delivered: AtomicU64,
}

#[derive(Default)]
struct RxCb {
    f: Option<(MacRxFn, usize)>,
    active: usize,
}

impl KernSide {
    pub(super) fn new(name: String) -> KernSide {
        KernSide {
            name,
            unicast: Mutex::new(None),
            rx: Mutex::new(RxCb::default()),
            rx_cv: Condvar::new(),
            tx_dropped: AtomicU64::new(0),
            rx_dropped: AtomicU64::new(0),
            tx_sent: AtomicU64::new(0),
            rx_delivered: AtomicU64::new(0),
        }
    }
}

// ----- the bandwidth shaper (a BW-mode soft ring set) -----

#[derive(Default)]
pub(crate) struct Shaper {
    st: Mutex<ShaperState>,
    cv: Condvar,
}

#[derive(Default)]
struct ShaperState {
    q: VecDeque<(MsgPtrs, Instant)>,
    /// Bytes in `q`.
    bytes: u64,
    next_free: Option<Instant>,
    stop: bool,
    thread: Option<JoinHandle<()>>,
}

pub(super) type Sink = Box<dyn Fn(*mut mblk_t) + Send + 'static>;

impl Shaper {
    /// Queue `mp` to leave at `bps`; `Err(mp)` when the queue is full.
    pub(super) fn enqueue(self: &Arc<Self>, mp: *mut mblk_t, bps: u64, limit: Limit, sink: impl FnOnce() -> Sink) -> Result<(), *mut mblk_t> {
        let len = mblk::msg_bytes(mp).len() as u64;
        let mut st = lock(&self.st);
        let full = match limit {
            Limit::Frames(n) => st.q.len() >= n,
            Limit::Bytes(b) => st.bytes + len > b,
        };
        if st.stop || full {
            return Err(mp);
        }
        st.bytes += len;
        let now = Instant::now();
        let at = st.next_free.map_or(now, |t| t.max(now));
        let cost = Duration::from_nanos(len.saturating_mul(8).saturating_mul(1_000_000_000) / bps.max(1));
        st.next_free = Some(at + cost);
        st.q.push_back((MsgPtrs(mp), at));
        if st.thread.is_none() {
            let me = self.clone();
            let sink = sink();
            st.thread = Some(std::thread::spawn(move || me.run(sink)));
        }
        drop(st);
        self.cv.notify_all();
        Ok(())
    }

    fn run(&self, sink: Sink) {
        let mut st = lock(&self.st);
        loop {
            if st.stop {
                return;
            }
            let now = Instant::now();
            match st.q.front().map(|(_, at)| *at) {
                Some(at) if at <= now => {
                    let Some((mp, _)) = st.q.pop_front() else { continue };
                    st.bytes = st.bytes.saturating_sub(mblk::msg_bytes(mp.0).len() as u64);
                    drop(st);
                    sink(mp.0);
                    st = lock(&self.st);
                }
                Some(at) => {
                    st = self.cv.wait_timeout(st, at - now).unwrap_or_else(|e| e.into_inner()).0;
                }
                None => {
                    st = self.cv.wait_timeout(st, Duration::from_millis(100)).unwrap_or_else(|e| e.into_inner()).0;
                }
            }
        }
    }

    /// Stop the thread and free what is still queued.
    pub(super) fn stop(&self) {
        let t = {
            let mut st = lock(&self.st);
            st.stop = true;
            st.thread.take()
        };
        self.cv.notify_all();
        if let Some(t) = t {
            let _ = t.join();
        }
        let left: Vec<MsgPtrs> = {
            let mut st = lock(&self.st);
            st.bytes = 0;
            st.q.drain(..).map(|(m, _)| m).collect()
        };
        for m in left {
            free_here(m.0);
        }
    }
}

// ----- handles -----

fn kclient_of(host: &Arc<HostShared>, mch: MacClientHandle, what: &str) -> Option<Arc<ClientInner>> {
    let key = mch.0.as_ptr() as usize;
    let c = lock(&host.mac).kclients.get(&key).cloned();
    if c.is_none() {
        host.record(ViolationKind::BadHandle, format!("{what} on {key:#x}, which is not an open mac client handle"));
    }
    c
}

fn kside<'a>(c: &'a ClientInner) -> Option<&'a KernSide> {
    c.kern.as_ref()
}

// ----- the calls -----

pub(crate) fn mac_open_by_linkid(host: &Arc<HostShared>, linkid: DatalinkId) -> Result<MacHandle, Errno> {
    context::check_may_block(host, "mac_open_by_linkid (dls_devnet_hold_tmp, mac perimeter)");
    let m = provider::resolve(host, &LinkRef::Id(linkid), GLOBAL_ZONEID)?;
    let mut st = lock(&m.st);
    if st.disabled {
        return Err(ENOENT);
    }
    st.opens += 1;
    drop(st);
    Ok(handle_of(&m))
}

pub(crate) fn mac_close(host: &Arc<HostShared>, mh: MacHandle) {
    let Some(m) = lookup_handle(host, mh, "mac_close") else { return };
    let mut st = lock(&m.st);
    if st.opens == 0 {
        drop(st);
        host.record(ViolationKind::MacProtocol, "mac_close of a mac that is not held by mac_open".into());
        return;
    }
    st.opens -= 1;
}

pub(crate) fn mac_client_open(host: &Arc<HostShared>, mh: MacHandle, name: &[u8]) -> Result<MacClientHandle, Errno> {
    context::check_may_block(host, "mac_client_open (mac perimeter, KM_SLEEP)");
    let m = lookup_handle(host, mh, "mac_client_open").ok_or(EINVAL)?;
    if lock(&m.st).opens == 0 {
        host.record(ViolationKind::MacProtocol, "mac_client_open on a mac not held by mac_open".into());
        return Err(EINVAL);
    }
    let name = String::from_utf8_lossy(name).into_owned();
    let c = open_client_with(host, &m, false, Some(KernSide::new(name)))?;
    let key = Arc::as_ptr(&c) as usize;
    lock(&host.mac).kclients.insert(key, c);
    Ok(MacClientHandle(NonNull::new(key as *mut c_void).unwrap_or(NonNull::dangling())))
}

pub(crate) fn mac_client_close(host: &Arc<HostShared>, mch: MacClientHandle) {
    context::check_may_block(host, "mac_client_close (mac perimeter)");
    let Some(c) = kclient_of(host, mch, "mac_client_close") else { return };
    let Some(k) = kside(&c) else { return };
    let left_unicast = lock(&k.unicast).is_some();
    let left_rx = lock(&k.rx).f.is_some();
    if left_unicast || left_rx {
        host.record(
            ViolationKind::MacProtocol,
            format!(
                "mac_client_close of client {:?} with {} still registered (mac_client.c asserts every list is empty)",
                k.name,
                if left_unicast { "a unicast address" } else { "an rx callback" }
            ),
        );
    }
    lock(&host.mac).kclients.remove(&(mch.0.as_ptr() as usize));
    close_client(host, &c);
}

pub(crate) fn mac_unicast_add_primary(
    host: &Arc<HostShared>,
    mch: MacClientHandle,
    flags: u16,
) -> Result<MacUnicastHandle, (Errno, i32)> {
    context::check_may_block(host, "mac_unicast_add (mac perimeter)");
    let c = kclient_of(host, mch, "mac_unicast_add").ok_or((EINVAL, 0))?;
    let Some(k) = kside(&c) else { return Err((EINVAL, 0)) };
    if flags & MAC_UNICAST_PRIMARY == 0 {
        host.record(ViolationKind::MacProtocol, "mac_unicast_add with a NULL address needs MAC_UNICAST_PRIMARY".into());
        return Err((EINVAL, 0));
    }
    let _p = lock(&c.mac.open_lock);
    let taken = lock(&c.mac.st)
        .clients
        .iter()
        .any(|o| o.id != c.id && o.kern.as_ref().is_some_and(|ok| lock(&ok.unicast).is_some()));
    if taken {
        return Err((EEXIST, MAC_DIAG_MACADDR_INUSE));
    }
    let mut u = lock(&k.unicast);
    if u.is_some() {
        return Err((EEXIST, MAC_DIAG_MACADDR_INUSE));
    }
    let id = {
        let mut t = lock(&host.mac);
        t.next_client += 1;
        t.next_client as usize
    };
    *u = Some(id);
    Ok(MacUnicastHandle(NonNull::new((id << 4) as *mut c_void).unwrap_or(NonNull::dangling())))
}

pub(crate) fn mac_unicast_remove(host: &Arc<HostShared>, mch: MacClientHandle, muh: MacUnicastHandle) -> Result<(), Errno> {
    context::check_may_block(host, "mac_unicast_remove (mac perimeter)");
    let c = kclient_of(host, mch, "mac_unicast_remove").ok_or(EINVAL)?;
    let k = kside(&c).ok_or(EINVAL)?;
    let mut u = lock(&k.unicast);
    if *u != Some(muh.0.as_ptr() as usize >> 4) {
        drop(u);
        host.record(ViolationKind::BadHandle, "mac_unicast_remove with a handle this client did not get".into());
        return Err(EINVAL);
    }
    *u = None;
    Ok(())
}

pub(crate) fn mac_rx_set(host: &Arc<HostShared>, mch: MacClientHandle, f: MacRxFn, arg: *mut c_void) {
    context::check_may_block(host, "mac_rx_set (quiesces the client's receive path)");
    let Some(c) = kclient_of(host, mch, "mac_rx_set") else { return };
    let Some(k) = kside(&c) else { return };
    let mut rx = lock(&k.rx);
    while rx.active > 0 {
        rx = k.rx_cv.wait(rx).unwrap_or_else(|e| e.into_inner());
    }
    rx.f = Some((f, arg as usize));
}

pub(crate) fn mac_rx_clear(host: &Arc<HostShared>, mch: MacClientHandle) {
    context::check_may_block(host, "mac_rx_clear (quiesces the client's receive path)");
    let Some(c) = kclient_of(host, mch, "mac_rx_clear") else { return };
    let Some(k) = kside(&c) else { return };
    let mut rx = lock(&k.rx);
    rx.f = None;
    while rx.active > 0 {
        rx = k.rx_cv.wait(rx).unwrap_or_else(|e| e.into_inner());
    }
}

/// Split a `b_next` chain into checked messages.
fn chain_msgs(host: &Arc<HostShared>, chain: *mut mblk_t, what: &str) -> Vec<*mut mblk_t> {
    let loc = Location::caller();
    let mut msgs = Vec::new();
    let mut mp = chain;
    while !mp.is_null() && msgs.len() < mblk::MAX_CHAIN {
        if check_msg(host, mp, what, false, loc).is_err() {
            break;
        }
        // SAFETY: a checked live message whose chain we own.
        let next = unsafe {
            let n = (*mp).b_next;
            (*mp).b_next = ptr::null_mut();
            (*mp).b_prev = ptr::null_mut();
            n
        };
        msgs.push(mp);
        mp = next;
    }
    msgs
}

/// One frame to the link's `mc_tx`; what comes back is dropped.
fn send_one(host: &Arc<HostShared>, c: &Arc<ClientInner>, mp: *mut mblk_t) {
    let m = &c.mac;
    let Some(k) = kside(c) else { return free_here(mp) };
    if lock(&m.st).unregistered {
        k.tx_dropped.fetch_add(1, Ordering::Relaxed);
        return free_here(mp);
    }
    let Some(f) = m.cb().mc_tx else { return free_here(mp) };
    let _tx = lock(&c.tx_lock);
    let guard = McTxGuard::enter();
    // SAFETY: the driver's callback; the message is owned by it now.
    let rest = call_tx(host, || unsafe { f(m.driver, mp) });
    drop(guard);
    if rest.is_null() {
        k.tx_sent.fetch_add(1, Ordering::Relaxed);
    } else {
        // MAC_DROP_ON_NO_DESC: freed, counted.
        for r in chain_msgs(host, rest, "mc_tx returned chain") {
            free_here(r);
            k.tx_dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

#[track_caller]
pub(crate) fn mac_tx(host: &Arc<HostShared>, mch: MacClientHandle, chain: *mut mblk_t, flag: u16) -> *mut mblk_t {
    let Some(c) = kclient_of(host, mch, "mac_tx") else { return chain };
    let Some(k) = kside(&c) else { return chain };
    let msgs = chain_msgs(host, chain, "mac_tx");
    if lock(&k.unicast).is_none() {
        host.record(ViolationKind::MacProtocol, "mac_tx on a client with no unicast address (not active)".into());
    }
    let (snoops, maxbw) = {
        let st = lock(&c.mac.st);
        (st.clients.iter().filter(|o| o.snoop).cloned().collect::<Vec<_>>(), st.maxbw)
    };
    let mut back: Vec<*mut mblk_t> = Vec::new();
    for mp in msgs {
        for s in &snoops {
            s.snoop_push(host, mp, true);
        }
        match maxbw {
            None => send_one(host, &c, mp),
            Some(bps) => {
                let hw = Arc::downgrade(host);
                let cw = Arc::downgrade(&c);
                let r = c.tx_shaper.enqueue(mp, bps, Limit::TX, || {
                    Box::new(move |mp| match (hw.upgrade(), cw.upgrade()) {
                        (Some(h), Some(c)) => send_one(&h, &c, mp),
                        _ => free_here(mp),
                    })
                });
                if let Err(mp) = r {
                    if flag & MAC_DROP_ON_NO_DESC != 0 {
                        k.tx_dropped.fetch_add(1, Ordering::Relaxed);
                        free_here(mp);
                    } else {
                        back.push(mp);
                    }
                }
            }
        }
    }
    for w in back.windows(2) {
        // SAFETY: our own unsent messages, relinked for the caller.
        unsafe { (*w[0]).b_next = w[1] };
    }
    back.first().copied().unwrap_or(ptr::null_mut())
}

/// Call the client's rx callback with one frame (or free it).
fn deliver_rx(host: &Arc<HostShared>, c: &Arc<ClientInner>, mp: *mut mblk_t) {
    let Some(k) = kside(c) else { return free_here(mp) };
    let cb = {
        let mut rx = lock(&k.rx);
        let f = rx.f;
        if f.is_some() {
            rx.active += 1;
        }
        f
    };
    let Some((f, arg)) = cb else {
        k.rx_dropped.fetch_add(1, Ordering::Relaxed);
        return free_here(mp);
    };
    k.rx_delivered.fetch_add(1, Ordering::Relaxed);
    // SAFETY: the driver's rx callback with the arg it registered, valid
    // until mac_rx_clear (which waits for `active`); the frame is its own.
    call(host, || unsafe { f(arg as *mut c_void, ptr::null_mut(), mp, B_FALSE) });
    let mut rx = lock(&k.rx);
    rx.active -= 1;
    drop(rx);
    k.rx_cv.notify_all();
}

/// `mac_rx` hands a frame to a driver-opened client: only an active
/// (unicast-registered) client, only frames for its address or a group.
pub(super) fn rx_to_kclient(host: &Arc<HostShared>, c: &Arc<ClientInner>, bytes: &[u8], addr: &[u8; 6], maxbw: Option<u64>) {
    let Some(k) = kside(c) else { return };
    if lock(&k.unicast).is_none() {
        return;
    }
    let Some(dst) = bytes.get(..6) else { return };
    let group = dst.first().is_some_and(|b| b & 1 == 1);
    if dst != addr && !group {
        return;
    }
    let mp = alloc_msg(host, M_DATA, 0, bytes);
    if mp.is_null() {
        return;
    }
    match maxbw {
        None => deliver_rx(host, c, mp),
        Some(bps) => {
            let hw = Arc::downgrade(host);
            let cw = Arc::downgrade(c);
            let r = c.rx_shaper.enqueue(mp, bps, Limit::rx(bps), || {
                Box::new(move |mp| match (hw.upgrade(), cw.upgrade()) {
                    (Some(h), Some(c)) => deliver_rx(&h, &c, mp),
                    _ => free_here(mp),
                })
            });
            if let Err(mp) = r {
                k.rx_dropped.fetch_add(1, Ordering::Relaxed);
                free_here(mp);
            }
        }
    }
}

/// `mac_rx` to a test client (IP on the datalink) under `maxbw`.
pub(super) fn rx_shaped(host: &Arc<HostShared>, c: &Arc<ClientInner>, bytes: Vec<u8>, bps: u64) {
    let mp = alloc_msg(host, M_DATA, 0, &bytes);
    if mp.is_null() {
        return;
    }
    let cw = Arc::downgrade(c);
    let r = c.rx_shaper.enqueue(mp, bps, Limit::rx(bps), || {
        Box::new(move |mp| {
            if let Some(c) = cw.upgrade() {
                c.rx_push(msg_bytes(mp));
            }
            free_here(mp);
        })
    });
    if let Err(mp) = r {
        c.shaped_drops.fetch_add(1, Ordering::Relaxed);
        free_here(mp);
    }
}

/// What a test sees of the driver's own clients on a link.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KernClientInfo {
    pub name: String,
    pub primary: bool,
    pub rx_set: bool,
    pub tx_sent: u64,
    pub tx_dropped: u64,
    pub rx_delivered: u64,
    pub rx_dropped: u64,
}

impl SimHost {
    /// `dladm set-linkprop -p maxbw=<bps> <link>` (`None`: reset): cached
    /// on the mac and applied to its primary client (mac.c
    /// `i_mac_set_resources`).
    pub fn set_maxbw(&self, link: impl Into<LinkRef>, bps: Option<u64>) -> Result<(), Errno> {
        let m = self.mac_of(link)?;
        lock(&m.st).maxbw = bps;
        Ok(())
    }

    /// The driver-opened clients on a link.
    pub fn kernel_clients(&self, link: impl Into<LinkRef>) -> Result<Vec<KernClientInfo>, Errno> {
        let m = self.mac_of(link)?;
        let cs: Vec<Arc<ClientInner>> = lock(&m.st).clients.iter().filter(|c| c.kern.is_some()).cloned().collect();
        Ok(cs
            .iter()
            .filter_map(|c| {
                let k = c.kern.as_ref()?;
                Some(KernClientInfo {
                    name: k.name.clone(),
                    primary: lock(&k.unicast).is_some(),
                    rx_set: lock(&k.rx).f.is_some(),
                    tx_sent: k.tx_sent.load(Ordering::Relaxed),
                    tx_dropped: k.tx_dropped.load(Ordering::Relaxed),
                    rx_delivered: k.rx_delivered.load(Ordering::Relaxed),
                    rx_dropped: k.rx_dropped.load(Ordering::Relaxed),
                })
            })
            .collect())
    }

    /// How many `mac_open` holds are on a link's mac.
    pub fn mac_opens(&self, link: impl Into<LinkRef>) -> Result<usize, Errno> {
        Ok(lock(&self.mac_of(link)?.st).opens)
    }
}

/// End of test: driver-opened clients and `mac_open` holds left behind.
pub(crate) fn check_kclient_leaks(host: &Arc<HostShared>) {
    let left: Vec<String> = lock(&host.mac).kclients.values().filter_map(|c| c.kern.as_ref().map(|k| k.name.clone())).collect();
    if !left.is_empty() {
        host.record(ViolationKind::Leak, format!("mac client(s) the driver opened are still open at the end: {left:?}"));
    }
    let held: Vec<String> = {
        let t = lock(&host.mac);
        t.by_handle.values().chain(t.retired.iter()).filter(|m| lock(&m.st).opens > 0).map(|m| m.name.clone()).collect()
    };
    if !held.is_empty() {
        host.record(ViolationKind::Leak, format!("mac(s) still held by mac_open_by_linkid at the end: {held:?}"));
    }
}
