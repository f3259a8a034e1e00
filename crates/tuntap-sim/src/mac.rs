// SPDX-License-Identifier: MPL-2.0
//! The mac module: provider registration, upcalls, callbacks, clients.
//!
//! Theory statement.  `mac_register` builds a zeroed `mac_register_t`
//! with `m_version = MAC_VERSION` (as `mac_alloc` does), lets the driver
//! fill it, then applies the checks of `mac_register()` in
//! `usr/src/uts/common/io/mac/mac_provider.c`: a known plugin
//! (`mac_ether`), `m_instance` 0, below `MAC_MAX_MINOR`, or `(uint_t)-1`
//! (a minor above `MAC_MAX_MINOR`), `m_max_sdu > m_min_sdu`,
//! `m_multicast_sdu` (0 means max) within the SDU range, `m_src_addr`
//! present (copied), no `m_pdata` for Ether, the mandatory callbacks
//! (`mc_getstat`, `mc_start`, `mc_stop`, `mc_setpromisc`, `mc_multicst`,
//! and `mc_unicst` since the simulator offers no ring groups), no
//! `MAC_VIRT_LEVEL1` without rings.  A failure returns `EINVAL` like mac
//! and is also recorded as a violation: the driver filled it wrongly.
//!
//! After registration the simulator calls the driver only through the
//! function pointers of its `mac_callbacks_t` with `m_driver`, honouring
//! the `MC_*` flags for the optional ones, with no simulator lock held.
//! `mc_start` runs when the first client opens, `mc_stop` when the last
//! closes; `mc_setpromisc` when the first/last promiscuous observer comes
//! and goes.  A bound dls devnet and every open client hold the mac:
//! `mac_disable`/`mac_unregister` answer `EBUSY` then.  A handle used
//! after `mac_unregister` is a violation.
//!
//! [`SimMacClient`] plays IP on a link: `tx` sends a `b_next` chain
//! through `mc_tx`; a returned chain must be the unsent tail of what was
//! sent (ordering preserved, nothing lost); the client keeps it and sends
//! it again (on the taskq thread) after `mac_tx_update`.  `mac_rx` hands
//! each client a copy; [`SimSnoop`] observers get `dupmsg` copies that
//! share data blocks (`db_ref > 1`) on receive and transmit, so a driver
//! that writes into a shared block is caught when the copy is consumed.
//!
//! Locks: the host's `mac` table, a mac's `open_lock` (serialises client
//! open/close and start/stop, like the mac perimeter), a client's
//! `tx_lock` (one transmitter at a time); these three may be held while
//! calling the driver but are never taken by a driver-to-simulator path.
//! A mac's `st` and a client's queues are never held across a callback.

use std::collections::{HashMap, VecDeque};
use std::ffi::{CStr, CString, c_void};
use std::panic::Location;
use std::ptr::{self, NonNull};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::time::{Duration, Instant};

use illumos_sys_hdrs::{
    B_FALSE, B_TRUE, EBUSY, EINVAL, ENOENT, ENOTSUP, M_DATA, MAC_CAPAB_HCKSUM, MAC_CAPAB_LSO,
    MAC_MAX_MINOR, MAC_PLUGIN_IDENT_ETHER, MAC_PROP_MTU, MAC_VERSION, MAC_VIRT_LEVEL1, MC_GETCAPAB,
    MC_GETPROP, MC_PROPINFO, MC_SETPROP, mac_callbacks_t, mac_capab_lso_t, mac_register_t, mblk_t,
};
use tuntap_abi::DatalinkId;
use tuntap_drv::ddi::{Errno, GLOBAL_ZONEID, LinkState, MacHandle, PropInfoHandle, PropPerm, ZoneId};

use crate::host::{HostShared, SimHost, ViolationKind, enter_context, lock};
use crate::mblk::{self, MsgPtrs, Snapshot, alloc_msg, check_msg, free_here, msg_bytes};
use crate::sync::McTxGuard;

/// Most snoop copies kept before the oldest are dropped.
const SNOOP_MAX: usize = 10_000;

pub(crate) struct MacState {
    pub sdu_min: u32,
    pub sdu_max: u32,
    pub multicast_sdu: u32,
    pub margin: u32,
    pub addr: [u8; 6],
    pub link_state: LinkState,
    pub link_history: Vec<LinkState>,
    pub disabled: bool,
    pub unregistered: bool,
    pub devnet: Option<(DatalinkId, ZoneId)>,
    pub clients: Vec<Arc<ClientInner>>,
    pub promisc_count: usize,
    pub tx_update_seq: u64,
    pub hcksum: Option<u32>,
    pub lso: Option<u32>,
}

/// One registered mac provider instance.
pub(crate) struct MacImpl {
    callbacks: *const mac_callbacks_t,
    driver: *mut c_void,
    pub name: String,
    pub type_ident: String,
    pub priv_props: Vec<String>,
    pub st: Mutex<MacState>,
    open_lock: Mutex<()>,
}

// SAFETY: the callback table and m_driver are the driver's, valid until
// mac_unregister returns and usable from any thread (the mac contract).
unsafe impl Send for MacImpl {}
// SAFETY: as above.
unsafe impl Sync for MacImpl {}

#[derive(Default)]
pub(crate) struct MacTable {
    by_handle: HashMap<usize, Arc<MacImpl>>,
    retired: Vec<Arc<MacImpl>>,
    next_minor: u32,
    prop_info: HashMap<usize, PropInfo>,
    next_client: u64,
}

/// What `mc_propinfo` reported for a property.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PropInfo {
    pub perm: Option<PropPerm>,
    pub default_u32: Option<u32>,
    pub ranges_u32: Vec<(u32, u32)>,
}

/// A link named by datalink name, id, or mac handle.
#[derive(Clone, Debug)]
pub enum LinkRef {
    Name(String),
    Id(DatalinkId),
    Handle(MacHandle),
}

impl From<&str> for LinkRef {
    fn from(s: &str) -> Self {
        LinkRef::Name(s.to_string())
    }
}
impl From<DatalinkId> for LinkRef {
    fn from(id: DatalinkId) -> Self {
        LinkRef::Id(id)
    }
}
impl From<MacHandle> for LinkRef {
    fn from(h: MacHandle) -> Self {
        LinkRef::Handle(h)
    }
}

/// A snapshot of what mac knows about a link.
#[derive(Clone, Debug)]
pub struct MacInfo {
    pub name: String,
    pub type_ident: String,
    pub sdu_min: u32,
    pub sdu_max: u32,
    pub multicast_sdu: u32,
    pub margin: u32,
    pub addr: [u8; 6],
    pub link_state: LinkState,
    /// Every state `mac_link_update` reported, in order.
    pub link_history: Vec<LinkState>,
    pub priv_props: Vec<String>,
    pub clients: usize,
    pub started: bool,
    pub promisc: bool,
    pub devnet: Option<(DatalinkId, ZoneId)>,
    pub disabled: bool,
    /// What `mc_getcapab(MAC_CAPAB_HCKSUM)` returned, if true.
    pub hcksum: Option<u32>,
}

fn handle_of(m: &Arc<MacImpl>) -> MacHandle {
    // SAFETY-free: an Arc's pointer is never null.
    MacHandle(NonNull::new(Arc::as_ptr(m).cast_mut().cast()).unwrap_or(NonNull::dangling()))
}

/// The live mac of a handle, or a recorded violation.
#[track_caller]
pub(crate) fn lookup_handle(host: &Arc<HostShared>, mh: MacHandle, what: &str) -> Option<Arc<MacImpl>> {
    let t = lock(&host.mac);
    let key = mh.0.as_ptr() as usize;
    if let Some(m) = t.by_handle.get(&key) {
        return Some(m.clone());
    }
    let retired = t.retired.iter().any(|m| Arc::as_ptr(m) as usize == key);
    drop(t);
    host.record(
        ViolationKind::BadHandle,
        if retired {
            format!("{what} on a mac handle after mac_unregister")
        } else {
            format!("{what} on {:p}, which is not a registered mac handle", mh.0)
        },
    );
    None
}

impl MacImpl {
    fn cb(&self) -> &mac_callbacks_t {
        // SAFETY: the driver keeps its callback table valid while
        // registered (mac keeps the pointer, as here).
        unsafe { &*self.callbacks }
    }
    fn flags(&self) -> u32 {
        self.cb().mc_callbacks
    }
}

fn call<R>(host: &Arc<HostShared>, f: impl FnOnce() -> R) -> R {
    let _g = enter_context(host, 0);
    f()
}

// ----- registration -----

#[track_caller]
pub(crate) fn mac_register(
    host: &Arc<HostShared>,
    fill: &mut dyn FnMut(&mut mac_register_t),
) -> Result<MacHandle, Errno> {
    let loc = Location::caller();
    let injected = host
        .mac_register_failures
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    if injected {
        return Err(illumos_sys_hdrs::ENOMEM);
    }
    // SAFETY: mac_register_t is integers and pointers; mac_alloc zeroes it.
    let mut reg: Box<mac_register_t> = Box::new(unsafe { std::mem::zeroed() });
    reg.m_version = MAC_VERSION;
    fill(&mut reg);
    let fail = |msg: String| -> Result<MacHandle, Errno> {
        host.record_at(ViolationKind::MacRegister, format!("mac_register: {msg}"), loc);
        Err(EINVAL)
    };
    if reg.m_version != MAC_VERSION {
        return fail(format!("m_version changed to {} (set by mac_alloc only)", reg.m_version));
    }
    if reg.m_type_ident.is_null() {
        return fail("m_type_ident is NULL".into());
    }
    // SAFETY: the driver passes a NUL-terminated plugin name.
    let ident = unsafe { CStr::from_ptr(reg.m_type_ident) };
    if ident != MAC_PLUGIN_IDENT_ETHER {
        return fail(format!("unknown mac plugin {ident:?} (the simulator has mac_ether)"));
    }
    let mut t_minor = None;
    let instance = match reg.m_instance {
        0 => 0,
        u32::MAX => {
            let mut t = lock(&host.mac);
            if t.next_minor <= MAC_MAX_MINOR {
                t.next_minor = MAC_MAX_MINOR + 1;
            }
            let minor = t.next_minor;
            t.next_minor += 1;
            t_minor = Some(minor);
            minor - 1
        }
        i if i >= MAC_MAX_MINOR => return fail(format!("m_instance {i} >= MAC_MAX_MINOR")),
        i => i,
    };
    let _ = t_minor;
    if reg.m_max_sdu <= reg.m_min_sdu {
        return fail(format!("m_max_sdu {} <= m_min_sdu {}", reg.m_max_sdu, reg.m_min_sdu));
    }
    let msdu = if reg.m_multicast_sdu == 0 { reg.m_max_sdu } else { reg.m_multicast_sdu };
    if msdu < reg.m_min_sdu || msdu > reg.m_max_sdu {
        return fail(format!("m_multicast_sdu {msdu} outside [{}, {}]", reg.m_min_sdu, reg.m_max_sdu));
    }
    if reg.m_src_addr.is_null() {
        return fail("m_src_addr is NULL but mac_ether has a 6-byte address".into());
    }
    let mut addr = [0u8; 6];
    // SAFETY: the driver provides an address of the plugin's length.
    unsafe { ptr::copy_nonoverlapping(reg.m_src_addr, addr.as_mut_ptr(), 6) };
    if !reg.m_pdata.is_null() || reg.m_pdata_size != 0 {
        return fail("m_pdata given, but mac_ether takes no plugin data".into());
    }
    let mut priv_props = Vec::new();
    if !reg.m_priv_props.is_null() {
        for i in 0..256 {
            // SAFETY: a NULL-terminated array of C strings.
            let p = unsafe { *reg.m_priv_props.add(i) };
            if p.is_null() {
                break;
            }
            // SAFETY: as above.
            let name = unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned();
            if !name.starts_with('_') {
                host.record_at(ViolationKind::MacRegister, format!("private property {name:?} must start with '_'"), loc);
            }
            priv_props.push(name);
        }
    }
    if reg.m_callbacks.is_null() {
        return fail("m_callbacks is NULL".into());
    }
    // SAFETY: non-null table the driver keeps valid while registered.
    let cb = unsafe { &*reg.m_callbacks };
    let mut missing = Vec::new();
    if cb.mc_getstat.is_none() {
        missing.push("mc_getstat");
    }
    if cb.mc_start.is_none() {
        missing.push("mc_start");
    }
    if cb.mc_stop.is_none() {
        missing.push("mc_stop");
    }
    if cb.mc_setpromisc.is_none() {
        missing.push("mc_setpromisc");
    }
    if cb.mc_multicst.is_none() {
        missing.push("mc_multicst");
    }
    if cb.mc_unicst.is_none() {
        missing.push("mc_unicst (required without rx ring groups)");
    }
    if !missing.is_empty() {
        return fail(format!("mandatory callbacks missing: {}", missing.join(", ")));
    }
    if cb.mc_tx.is_none() {
        return fail("mc_tx is NULL (required without tx rings)".into());
    }
    for (flag, present, name) in [
        (MC_GETCAPAB, cb.mc_getcapab.is_some(), "mc_getcapab"),
        (MC_SETPROP, cb.mc_setprop.is_some(), "mc_setprop"),
        (MC_GETPROP, cb.mc_getprop.is_some(), "mc_getprop"),
        (MC_PROPINFO, cb.mc_propinfo.is_some(), "mc_propinfo"),
    ] {
        if cb.mc_callbacks & flag != 0 && !present {
            return fail(format!("MC flag for {name} set but the pointer is NULL"));
        }
    }
    if reg.m_v12n & MAC_VIRT_LEVEL1 != 0 {
        return fail("MAC_VIRT_LEVEL1 needs rx ring groups (MAC_CAPAB_RINGS)".into());
    }
    let m = Arc::new(MacImpl {
        callbacks: reg.m_callbacks,
        driver: reg.m_driver,
        name: format!("simdrv{instance}"),
        type_ident: ident.to_string_lossy().into_owned(),
        priv_props,
        st: Mutex::new(MacState {
            sdu_min: reg.m_min_sdu,
            sdu_max: reg.m_max_sdu,
            multicast_sdu: msdu,
            margin: reg.m_margin,
            addr,
            link_state: LinkState::Unknown,
            link_history: Vec::new(),
            disabled: false,
            unregistered: false,
            devnet: None,
            clients: Vec::new(),
            promisc_count: 0,
            tx_update_seq: 0,
            hcksum: None,
            lso: None,
        }),
        open_lock: Mutex::new(()),
    });
    drop(reg); // mac_free
    // mac asks for capabilities while registering.
    if m.flags() & MC_GETCAPAB != 0
        && let Some(f) = m.cb().mc_getcapab {
            let mut hck: u32 = 0;
            // SAFETY: the driver's callback with its m_driver and a u32.
            let ok = call(host, || unsafe { f(m.driver, MAC_CAPAB_HCKSUM, (&raw mut hck).cast()) });
            // SAFETY: mac_capab_lso_t is integers.
            let mut lso: mac_capab_lso_t = unsafe { std::mem::zeroed() };
            // SAFETY: as above with a mac_capab_lso_t.
            let ok_lso = call(host, || unsafe { f(m.driver, MAC_CAPAB_LSO, (&raw mut lso).cast()) });
            let mut st = lock(&m.st);
            st.hcksum = (ok == B_TRUE).then_some(hck);
            st.lso = (ok_lso == B_TRUE).then_some(lso.lso_basic_tcp_ipv4.lso_max);
        }
    let mut t = lock(&host.mac);
    if t.by_handle.values().any(|o| o.name == m.name) {
        drop(t);
        return Err(illumos_sys_hdrs::EEXIST);
    }
    let h = handle_of(&m);
    t.by_handle.insert(h.0.as_ptr() as usize, m);
    Ok(h)
}

fn busy_reason(st: &MacState) -> Option<String> {
    if st.devnet.is_some() {
        return Some("a dls devnet is still bound (dls_devnet_destroy first)".into());
    }
    if !st.clients.is_empty() {
        return Some(format!("{} mac client(s) open", st.clients.len()));
    }
    None
}

#[track_caller]
pub(crate) fn mac_disable(host: &Arc<HostShared>, mh: MacHandle) -> Result<(), Errno> {
    let m = lookup_handle(host, mh, "mac_disable").ok_or(EINVAL)?;
    let mut st = lock(&m.st);
    if busy_reason(&st).is_some() {
        return Err(EBUSY);
    }
    st.disabled = true;
    Ok(())
}

#[track_caller]
pub(crate) fn mac_unregister(host: &Arc<HostShared>, mh: MacHandle) -> Result<(), Errno> {
    let m = lookup_handle(host, mh, "mac_unregister").ok_or(EINVAL)?;
    {
        let mut st = lock(&m.st);
        if busy_reason(&st).is_some() {
            return Err(EBUSY);
        }
        st.disabled = true;
        st.unregistered = true;
    }
    let mut t = lock(&host.mac);
    t.by_handle.remove(&(mh.0.as_ptr() as usize));
    t.retired.push(m);
    Ok(())
}

// ----- upcalls -----

#[track_caller]
pub(crate) fn mac_rx(host: &Arc<HostShared>, mh: MacHandle, chain: *mut mblk_t) {
    let loc = Location::caller();
    let Some(m) = lookup_handle(host, mh, "mac_rx") else { return };
    let mut msgs = Vec::new();
    let mut mp = chain;
    while !mp.is_null() {
        if msgs.len() >= mblk::MAX_CHAIN {
            host.record_at(ViolationKind::BadMessage, "mac_rx: b_next chain loops".into(), loc);
            break;
        }
        if check_msg(host, mp, "mac_rx", false, loc).is_err() {
            break;
        }
        // SAFETY: a checked live message; we own the chain now.
        let next = unsafe {
            let n = (*mp).b_next;
            (*mp).b_next = ptr::null_mut();
            (*mp).b_prev = ptr::null_mut();
            n
        };
        if mblk::db_type(mp) != M_DATA {
            host.record_at(ViolationKind::BadMessage, format!("mac_rx: message of type {:#x}, not M_DATA", mblk::db_type(mp)), loc);
        }
        msgs.push(mp);
        mp = next;
    }
    let clients: Vec<Arc<ClientInner>> = {
        let st = lock(&m.st);
        if st.disabled {
            host.record_at(ViolationKind::MacProtocol, "mac_rx after mac_disable".into(), loc);
        }
        st.clients.clone()
    };
    for mp in msgs {
        let bytes = msg_bytes(mp);
        for c in &clients {
            if c.snoop {
                c.snoop_push(host, mp, false);
            } else {
                c.rx_push(bytes.clone());
            }
        }
        free_here(mp);
    }
}

#[track_caller]
pub(crate) fn mac_tx_update(host: &Arc<HostShared>, mh: MacHandle) {
    let Some(m) = lookup_handle(host, mh, "mac_tx_update") else { return };
    let clients = {
        let mut st = lock(&m.st);
        st.tx_update_seq += 1;
        st.clients.clone()
    };
    for c in clients {
        c.schedule_resend(host);
    }
}

#[track_caller]
pub(crate) fn mac_link_update(host: &Arc<HostShared>, mh: MacHandle, state: LinkState) {
    let Some(m) = lookup_handle(host, mh, "mac_link_update") else { return };
    let clients = {
        let mut st = lock(&m.st);
        st.link_state = state;
        st.link_history.push(state);
        st.clients.clone()
    };
    for c in clients {
        c.cv.notify_all();
    }
}

#[track_caller]
pub(crate) fn mac_maxsdu_update(host: &Arc<HostShared>, mh: MacHandle, sdu: u32) -> Result<(), Errno> {
    let m = lookup_handle(host, mh, "mac_maxsdu_update").ok_or(EINVAL)?;
    let mut st = lock(&m.st);
    if sdu == 0 || sdu < st.sdu_min {
        return Err(EINVAL);
    }
    st.sdu_max = sdu;
    if st.multicast_sdu > sdu {
        st.multicast_sdu = sdu;
    }
    Ok(())
}

#[track_caller]
pub(crate) fn mac_unicst_update(host: &Arc<HostShared>, mh: MacHandle, addr: &[u8; 6]) {
    if let Some(m) = lookup_handle(host, mh, "mac_unicst_update") {
        lock(&m.st).addr = *addr;
    }
}

#[track_caller]
pub(crate) fn prop_info_set(host: &Arc<HostShared>, ph: PropInfoHandle, f: impl FnOnce(&mut PropInfo)) {
    let mut t = lock(&host.mac);
    match t.prop_info.get_mut(&(ph.0 as usize)) {
        Some(p) => f(p),
        None => {
            drop(t);
            host.record(ViolationKind::MacProtocol, "mac_prop_info_set_* with a handle outside mc_propinfo".into());
        }
    }
}

// ----- host-side operations on a link -----

fn resolve(host: &Arc<HostShared>, link: &LinkRef, zone: ZoneId) -> Result<Arc<MacImpl>, Errno> {
    let key = match link {
        LinkRef::Handle(h) => h.0.as_ptr() as usize,
        LinkRef::Name(n) => {
            let dl = lock(&host.dl);
            let id = dl.id_by_name(n, zone).ok_or(ENOENT)?;
            let (h, z) = dl.devnet_of(id).ok_or(ENOENT)?;
            if zone != GLOBAL_ZONEID && z != zone {
                return Err(ENOENT);
            }
            h
        }
        LinkRef::Id(id) => {
            let dl = lock(&host.dl);
            let (h, z) = dl.devnet_of(*id).ok_or(ENOENT)?;
            if zone != GLOBAL_ZONEID && z != zone {
                return Err(ENOENT);
            }
            h
        }
    };
    lock(&host.mac).by_handle.get(&key).cloned().ok_or(ENOENT)
}

impl SimHost {
    fn mac_of(&self, link: impl Into<LinkRef>) -> Result<Arc<MacImpl>, Errno> {
        resolve(&self.shared, &link.into(), GLOBAL_ZONEID)
    }

    /// Handles of every registered mac.
    pub fn macs(&self) -> Vec<MacHandle> {
        lock(&self.shared.mac).by_handle.values().map(handle_of).collect()
    }

    /// What mac knows about a link.
    pub fn mac_info(&self, link: impl Into<LinkRef>) -> Result<MacInfo, Errno> {
        let m = self.mac_of(link)?;
        let st = lock(&m.st);
        Ok(MacInfo {
            name: m.name.clone(),
            type_ident: m.type_ident.clone(),
            sdu_min: st.sdu_min,
            sdu_max: st.sdu_max,
            multicast_sdu: st.multicast_sdu,
            margin: st.margin,
            addr: st.addr,
            link_state: st.link_state,
            link_history: st.link_history.clone(),
            priv_props: m.priv_props.clone(),
            clients: st.clients.len(),
            started: !st.clients.is_empty(),
            promisc: st.promisc_count > 0,
            devnet: st.devnet,
            disabled: st.disabled,
            hcksum: st.hcksum,
        })
    }

    /// `mc_getstat(stat)`.
    pub fn get_stat(&self, link: impl Into<LinkRef>, stat: u32) -> Result<u64, Errno> {
        let m = self.mac_of(link)?;
        let f = m.cb().mc_getstat.ok_or(ENOTSUP)?;
        let mut v: u64 = 0;
        // SAFETY: the driver's callback with its m_driver and a u64.
        let r = call(&self.shared, || unsafe { f(m.driver, stat, &raw mut v) });
        if r == 0 { Ok(v) } else { Err(r) }
    }

    /// `mac_set_prop`: `mc_setprop(id, name, val)`; `ENOTSUP` without
    /// `MC_SETPROP`.  On success for `MAC_PROP_MTU` mac records the new
    /// SDU itself.
    pub fn set_prop(&self, link: impl Into<LinkRef>, id: i32, name: &str, val: &[u8]) -> Result<(), Errno> {
        let m = self.mac_of(link)?;
        let _p = lock(&m.open_lock);
        if m.flags() & MC_SETPROP == 0 {
            return Err(ENOTSUP);
        }
        let f = m.cb().mc_setprop.ok_or(ENOTSUP)?;
        let cname = CString::new(name).map_err(|_| EINVAL)?;
        // SAFETY: the driver's callback; the buffer outlives the call.
        let r = call(&self.shared, || unsafe {
            f(m.driver, cname.as_ptr(), id, val.len() as u32, val.as_ptr().cast())
        });
        if r != 0 {
            return Err(r);
        }
        if id == MAC_PROP_MTU && val.len() == 4 {
            let mtu = u32::from_ne_bytes([val[0], val[1], val[2], val[3]]);
            lock(&m.st).sdu_max = mtu;
        }
        Ok(())
    }

    /// `dladm set-linkprop -p mtu=`.
    pub fn set_prop_mtu(&self, link: impl Into<LinkRef>, mtu: u32) -> Result<(), Errno> {
        self.set_prop(link, MAC_PROP_MTU, "mtu", &mtu.to_ne_bytes())
    }

    /// `mac_get_prop`: the MTU is answered by mac itself; the rest by
    /// `mc_getprop` into a buffer of `size` bytes (`ENOTSUP` without
    /// `MC_GETPROP`).
    pub fn get_prop(&self, link: impl Into<LinkRef>, id: i32, name: &str, size: usize) -> Result<Vec<u8>, Errno> {
        let m = self.mac_of(link)?;
        if id == MAC_PROP_MTU {
            return Ok(lock(&m.st).sdu_max.to_ne_bytes().to_vec());
        }
        if m.flags() & MC_GETPROP == 0 {
            return Err(ENOTSUP);
        }
        let f = m.cb().mc_getprop.ok_or(ENOTSUP)?;
        let cname = CString::new(name).map_err(|_| EINVAL)?;
        let mut buf = vec![0u8; size];
        // SAFETY: the driver's callback; the buffer outlives the call.
        let r = call(&self.shared, || unsafe {
            f(m.driver, cname.as_ptr(), id, size as u32, buf.as_mut_ptr().cast())
        });
        if r == 0 { Ok(buf) } else { Err(r) }
    }

    /// `mc_propinfo(id, name)`: what the driver reported through the
    /// `mac_prop_info_set_*` calls; `ENOTSUP` without `MC_PROPINFO`.
    pub fn prop_info(&self, link: impl Into<LinkRef>, id: i32, name: &str) -> Result<PropInfo, Errno> {
        let m = self.mac_of(link)?;
        if m.flags() & MC_PROPINFO == 0 {
            return Err(ENOTSUP);
        }
        let f = m.cb().mc_propinfo.ok_or(ENOTSUP)?;
        let cname = CString::new(name).map_err(|_| EINVAL)?;
        let token = Box::new(0u64);
        let key = &*token as *const u64 as usize;
        lock(&self.shared.mac).prop_info.insert(key, PropInfo::default());
        // SAFETY: the driver's callback with a handle valid during the call.
        call(&self.shared, || unsafe { f(m.driver, cname.as_ptr(), id, key as *mut _) });
        let info = lock(&self.shared.mac).prop_info.remove(&key).unwrap_or_default();
        drop(token);
        Ok(info)
    }

    /// `mac_unicst_set`: a unicast address (`EINVAL` for multicast, as
    /// the Ether plugin verifies), then `mc_unicst`.
    pub fn set_unicast_addr(&self, link: impl Into<LinkRef>, addr: [u8; 6]) -> Result<(), Errno> {
        let m = self.mac_of(link)?;
        if addr[0] & 1 != 0 {
            return Err(EINVAL);
        }
        let f = m.cb().mc_unicst.ok_or(ENOTSUP)?;
        // SAFETY: the driver's callback; addr outlives the call.
        let r = call(&self.shared, || unsafe { f(m.driver, addr.as_ptr()) });
        if r != 0 {
            return Err(r);
        }
        lock(&m.st).addr = addr;
        Ok(())
    }

    /// `mc_multicst(add, addr)`.
    pub fn multicast(&self, link: impl Into<LinkRef>, add: bool, addr: [u8; 6]) -> Result<(), Errno> {
        let m = self.mac_of(link)?;
        let f = m.cb().mc_multicst.ok_or(ENOTSUP)?;
        // SAFETY: as above.
        let r = call(&self.shared, || unsafe { f(m.driver, if add { B_TRUE } else { B_FALSE }, addr.as_ptr()) });
        if r == 0 { Ok(()) } else { Err(r) }
    }

    /// Open a mac client on a link from the global zone (IP plumbing).
    pub fn mac_client_open(&self, link: impl Into<LinkRef>) -> Result<SimMacClient, Errno> {
        self.mac_client_open_in(link, GLOBAL_ZONEID)
    }

    /// Open a mac client from `zone`: the link must be visible there.
    pub fn mac_client_open_in(&self, link: impl Into<LinkRef>, zone: ZoneId) -> Result<SimMacClient, Errno> {
        let m = resolve(&self.shared, &link.into(), zone)?;
        let c = open_client(&self.shared, &m, false)?;
        Ok(SimMacClient { host: self.shared.clone(), c })
    }

    /// A promiscuous observer (snoop) on a link: sees every frame received
    /// and transmitted, as `dupmsg` copies sharing the data blocks.
    pub fn snoop(&self, link: impl Into<LinkRef>) -> Result<SimSnoop, Errno> {
        let m = self.mac_of(link)?;
        let c = open_client(&self.shared, &m, true)?;
        Ok(SimSnoop { host: self.shared.clone(), c })
    }
}

// ----- clients -----

struct Backlog {
    msgs: VecDeque<*mut mblk_t>,
    blocked: bool,
    resend_queued: bool,
}

/// One mac client or promiscuous observer.
pub(crate) struct ClientInner {
    id: u64,
    mac: Arc<MacImpl>,
    snoop: bool,
    rx: Mutex<VecDeque<Vec<u8>>>,
    snooped: Mutex<VecDeque<(MsgPtrs, Snapshot, bool)>>,
    backlog: Mutex<Backlog>,
    tx_lock: Mutex<()>,
    cv: Condvar,
    closed: AtomicBool,
    sent: AtomicU64,
    /// Times `mc_tx` handed back an unsent chain.
    pushbacks: AtomicU64,
    /// Messages in those chains, summed (each resend counts again).
    returned: AtomicU64,
}

// SAFETY: the raw messages inside are owned by the client and only
// touched under its mutexes.
unsafe impl Send for ClientInner {}
// SAFETY: as above.
unsafe impl Sync for ClientInner {}

fn open_client(host: &Arc<HostShared>, m: &Arc<MacImpl>, snoop: bool) -> Result<Arc<ClientInner>, Errno> {
    let _p = lock(&m.open_lock);
    let (first, first_promisc) = {
        let st = lock(&m.st);
        if st.disabled {
            return Err(ENOENT);
        }
        (st.clients.is_empty(), snoop && st.promisc_count == 0)
    };
    if first {
        let f = m.cb().mc_start.ok_or(EINVAL)?;
        // SAFETY: the driver's callback with its m_driver.
        let r = call(host, || unsafe { f(m.driver) });
        if r != 0 {
            return Err(r);
        }
    }
    if first_promisc
        && let Some(f) = m.cb().mc_setpromisc {
            // SAFETY: as above.
            let r = call(host, || unsafe { f(m.driver, B_TRUE) });
            if r != 0 {
                if first
                    && let Some(stop) = m.cb().mc_stop {
                        // SAFETY: as above.
                        call(host, || unsafe { stop(m.driver) });
                    }
                return Err(r);
            }
        }
    let id = {
        let mut t = lock(&host.mac);
        t.next_client += 1;
        t.next_client
    };
    let c = Arc::new(ClientInner {
        id,
        mac: m.clone(),
        snoop,
        rx: Mutex::new(VecDeque::new()),
        snooped: Mutex::new(VecDeque::new()),
        backlog: Mutex::new(Backlog { msgs: VecDeque::new(), blocked: false, resend_queued: false }),
        tx_lock: Mutex::new(()),
        cv: Condvar::new(),
        closed: AtomicBool::new(false),
        sent: AtomicU64::new(0),
        pushbacks: AtomicU64::new(0),
        returned: AtomicU64::new(0),
    });
    let mut st = lock(&m.st);
    st.clients.push(c.clone());
    if snoop {
        st.promisc_count += 1;
    }
    Ok(c)
}

fn close_client(host: &Arc<HostShared>, c: &Arc<ClientInner>) {
    if c.closed.swap(true, Ordering::SeqCst) {
        return;
    }
    let m = &c.mac;
    let _p = lock(&m.open_lock);
    let _tx = lock(&c.tx_lock);
    let (last, last_promisc) = {
        let mut st = lock(&m.st);
        st.clients.retain(|o| o.id != c.id);
        if c.snoop {
            st.promisc_count -= 1;
        }
        (st.clients.is_empty(), c.snoop && st.promisc_count == 0)
    };
    {
        let mut b = lock(&c.backlog);
        for mp in b.msgs.drain(..) {
            free_here(mp);
        }
    }
    c.release_snooped(host, usize::MAX);
    let unregistered = lock(&m.st).unregistered;
    if !unregistered {
        if last_promisc
            && let Some(f) = m.cb().mc_setpromisc {
                // SAFETY: the driver's callback with its m_driver.
                call(host, || unsafe { f(m.driver, B_FALSE) });
            }
        if last
            && let Some(f) = m.cb().mc_stop {
                // SAFETY: as above.
                call(host, || unsafe { f(m.driver) });
            }
    }
    c.cv.notify_all();
}

impl ClientInner {
    fn rx_push(&self, frame: Vec<u8>) {
        lock(&self.rx).push_back(frame);
        self.cv.notify_all();
    }

    fn snoop_push(&self, host: &Arc<HostShared>, mp: *mut mblk_t, tx: bool) {
        let dup = mblk::dupmsg(host, mp);
        if dup.is_null() {
            return;
        }
        let snap = mblk::snapshot(dup);
        let over = {
            let mut q = lock(&self.snooped);
            q.push_back((MsgPtrs(dup), snap, tx));
            q.len() > SNOOP_MAX
        };
        if over {
            self.release_snooped(host, 1);
        }
        self.cv.notify_all();
    }

    /// Free up to `n` of the oldest snoop copies, checking that nobody
    /// wrote into their shared blocks.
    fn release_snooped(&self, host: &Arc<HostShared>, n: usize) {
        for _ in 0..n {
            let Some((mp, snap, tx)) = lock(&self.snooped).pop_front() else { return };
            check_snapshot(host, &snap, tx);
            free_here(mp.0);
        }
    }

    fn schedule_resend(self: &Arc<Self>, host: &Arc<HostShared>) {
        {
            let mut b = lock(&self.backlog);
            if b.msgs.is_empty() || b.resend_queued {
                return;
            }
            b.resend_queued = true;
        }
        let c = self.clone();
        let hw: Weak<HostShared> = Arc::downgrade(host);
        host.taskq.push(Box::new(move || {
            lock(&c.backlog).resend_queued = false;
            if let Some(h) = hw.upgrade() {
                c.send_backlog(&h, true);
            }
        }));
    }

    /// Send the backlog through mc_tx until the driver pushes back.
    fn send_backlog(self: &Arc<Self>, host: &Arc<HostShared>, after_update: bool) {
        if self.closed.load(Ordering::SeqCst) {
            return;
        }
        let _tx = lock(&self.tx_lock);
        let m = &self.mac;
        if after_update {
            lock(&self.backlog).blocked = false;
        }
        loop {
            let sent: Vec<*mut mblk_t> = {
                let mut b = lock(&self.backlog);
                if b.blocked || b.msgs.is_empty() {
                    return;
                }
                b.msgs.drain(..).collect()
            };
            if lock(&m.st).unregistered {
                for mp in sent {
                    free_here(mp);
                }
                return;
            }
            for w in sent.windows(2) {
                // SAFETY: our own messages, linked into a b_next chain.
                unsafe { (*w[0]).b_next = w[1] };
            }
            let seq = lock(&m.st).tx_update_seq;
            let Some(f) = m.cb().mc_tx else { return };
            let chain = sent[0];
            let guard = McTxGuard::enter();
            // SAFETY: the driver's callback; the chain is owned by it now.
            let rest = call(host, || unsafe { f(m.driver, chain) });
            drop(guard);
            if rest.is_null() {
                self.sent.fetch_add(sent.len() as u64, Ordering::Relaxed);
                return;
            }
            let Some(k) = sent.iter().position(|&p| p == rest) else {
                host.record(
                    ViolationKind::MacProtocol,
                    "mc_tx returned a chain that does not start with one of the messages it was given".into(),
                );
                return;
            };
            // The rest must be exactly sent[k..], still linked in order.
            let mut ok = true;
            for i in k..sent.len() {
                let mp = sent[i];
                if check_msg(host, mp, "mc_tx returned chain", false, Location::caller()).is_err() {
                    ok = false;
                    break;
                }
                // SAFETY: a checked live message.
                let next = unsafe { (*mp).b_next };
                let want = sent.get(i + 1).copied().unwrap_or(ptr::null_mut());
                if next != want {
                    ok = false;
                    break;
                }
            }
            if !ok {
                host.record(
                    ViolationKind::MacProtocol,
                    "mc_tx returned a chain that is not the unsent tail of the chain it was given \
                     (reordered, truncated or freed messages)"
                        .into(),
                );
                return;
            }
            self.sent.fetch_add(k as u64, Ordering::Relaxed);
            self.pushbacks.fetch_add(1, Ordering::Relaxed);
            self.returned.fetch_add((sent.len() - k) as u64, Ordering::Relaxed);
            let retry = {
                let mut b = lock(&self.backlog);
                for &mp in sent[k..].iter().rev() {
                    // SAFETY: back in our hands; unlink.
                    unsafe {
                        (*mp).b_next = ptr::null_mut();
                        (*mp).b_prev = ptr::null_mut();
                    }
                    b.msgs.push_front(mp);
                }
                let updated = lock(&m.st).tx_update_seq != seq;
                b.blocked = !updated;
                updated
            };
            self.cv.notify_all();
            if !retry {
                return;
            }
        }
    }
}

fn check_snapshot(host: &Arc<HostShared>, snap: &Snapshot, tx: bool) {
    let changed = mblk::snapshot_changed(snap);
    if !changed.is_empty() {
        host.record(
            ViolationKind::SharedBlockWritten,
            format!(
                "the driver wrote into data block(s) {changed:?} of a {} message while it was shared \
                 (db_ref > 1) with a promiscuous observer",
                if tx { "transmitted" } else { "received" }
            ),
        );
    }
}

/// Close every client and observer still open (end of test).
pub(crate) fn close_all_clients(host: &Arc<HostShared>) {
    let macs: Vec<Arc<MacImpl>> = {
        let t = lock(&host.mac);
        t.by_handle.values().chain(t.retired.iter()).cloned().collect()
    };
    for m in macs {
        let clients = lock(&m.st).clients.clone();
        for c in clients {
            close_client(host, &c);
        }
    }
}

/// Report macs still registered at the end of a test.
pub(crate) fn check_leaks(host: &Arc<HostShared>) {
    let names: Vec<String> = lock(&host.mac).by_handle.values().map(|m| m.name.clone()).collect();
    if !names.is_empty() {
        host.record(ViolationKind::Leak, format!("mac(s) still registered at the end: {names:?}"));
    }
}

/// A mac client playing IP on a link.  Dropping it closes it.
pub struct SimMacClient {
    host: Arc<HostShared>,
    c: Arc<ClientInner>,
}

/// Options of [`SimMacClient::tx_with`].
#[derive(Clone, Copy, Debug, Default)]
pub struct TxOpts {
    /// Free bytes in front of each frame (IP leaves room for headers).
    pub headroom: usize,
    /// Split each frame into `b_cont` blocks of at most this many bytes.
    pub split: Option<usize>,
}

impl SimMacClient {
    /// Send frames as one `b_next` chain through `mc_tx`.  What the
    /// driver returns unsent is kept and sent again after
    /// `mac_tx_update`; frames sent while blocked wait behind it.
    pub fn tx(&self, frames: &[&[u8]]) {
        self.tx_with(frames, TxOpts::default());
    }

    /// [`SimMacClient::tx`] with headroom and `b_cont` splitting.
    pub fn tx_with(&self, frames: &[&[u8]], opts: TxOpts) {
        let host = &self.host;
        let snoops: Vec<Arc<ClientInner>> =
            lock(&self.c.mac.st).clients.iter().filter(|c| c.snoop).cloned().collect();
        {
            let mut b = lock(&self.c.backlog);
            if self.c.closed.load(Ordering::SeqCst) {
                // Sent by another thread of "IP" while this client closed:
                // nothing to send through; close already freed the backlog.
                return;
            }
            for f in frames {
                let mp = build_frame(host, f, opts);
                for s in &snoops {
                    s.snoop_push(host, mp, true);
                }
                b.msgs.push_back(mp);
            }
        }
        self.c.send_backlog(host, false);
    }

    /// Frames waiting for `mac_tx_update` (flow-controlled by the driver).
    pub fn tx_backlog(&self) -> usize {
        lock(&self.c.backlog).msgs.len()
    }

    /// Is the client blocked waiting for `mac_tx_update`?
    pub fn tx_blocked(&self) -> bool {
        lock(&self.c.backlog).blocked
    }

    /// Frames the driver accepted so far.
    pub fn tx_accepted(&self) -> u64 {
        self.c.sent.load(Ordering::Relaxed)
    }

    /// How many times `mc_tx` returned an unsent chain to this client
    /// (flow control pushing back).
    pub fn tx_pushbacks(&self) -> u64 {
        self.c.pushbacks.load(Ordering::Relaxed)
    }

    /// Frames in the chains `mc_tx` returned, summed over every
    /// pushback (a frame returned twice counts twice).
    pub fn tx_returned(&self) -> u64 {
        self.c.returned.load(Ordering::Relaxed)
    }

    /// Wait until every frame was accepted by the driver; false on
    /// timeout.
    pub fn flush_tx(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut b = lock(&self.c.backlog);
        while !b.msgs.is_empty() {
            let d = deadline.saturating_duration_since(Instant::now());
            if d.is_zero() {
                return false;
            }
            b = self.c.cv.wait_timeout(b, d.min(Duration::from_millis(50))).unwrap_or_else(|e| e.into_inner()).0;
        }
        true
    }

    /// The next frame delivered by `mac_rx`, waiting up to `timeout`.
    pub fn recv(&self, timeout: Duration) -> Option<Vec<u8>> {
        let deadline = Instant::now() + timeout;
        let mut q = lock(&self.c.rx);
        loop {
            if let Some(f) = q.pop_front() {
                return Some(f);
            }
            let d = deadline.saturating_duration_since(Instant::now());
            if d.is_zero() {
                return None;
            }
            q = self.c.cv.wait_timeout(q, d).unwrap_or_else(|e| e.into_inner()).0;
        }
    }

    /// Frames received and not yet taken.
    pub fn rx_pending(&self) -> usize {
        lock(&self.c.rx).len()
    }

    /// The link state the client sees.
    pub fn link_state(&self) -> LinkState {
        lock(&self.c.mac.st).link_state
    }

    /// The (min, max) SDU the client sees.
    pub fn sdu(&self) -> (u32, u32) {
        let st = lock(&self.c.mac.st);
        (st.sdu_min, st.sdu_max)
    }

    /// The link's unicast address.
    pub fn mac_addr(&self) -> [u8; 6] {
        lock(&self.c.mac.st).addr
    }

    /// Wait until the link state is `want`; false on timeout.
    pub fn wait_link_state(&self, want: LinkState, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if self.link_state() == want {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Close the client (`mc_stop` if it was the last).
    pub fn close(&self) {
        close_client(&self.host, &self.c);
    }
}

impl Drop for SimMacClient {
    fn drop(&mut self) {
        self.close();
    }
}

fn build_frame(host: &Arc<HostShared>, f: &[u8], opts: TxOpts) -> *mut mblk_t {
    match opts.split {
        Some(n) if n > 0 && f.len() > n => {
            let mut head: *mut mblk_t = ptr::null_mut();
            let mut tail: *mut mblk_t = ptr::null_mut();
            for (i, part) in f.chunks(n).enumerate() {
                let b = alloc_msg(host, M_DATA, if i == 0 { opts.headroom } else { 0 }, part);
                if tail.is_null() {
                    head = b;
                } else {
                    // SAFETY: our fresh blocks.
                    unsafe { (*tail).b_cont = b };
                }
                tail = b;
            }
            head
        }
        _ => alloc_msg(host, M_DATA, opts.headroom, f),
    }
}

/// A promiscuous observer of a link.  Dropping it closes it.
pub struct SimSnoop {
    host: Arc<HostShared>,
    c: Arc<ClientInner>,
}

impl SimSnoop {
    /// The next observed frame: (`true` if transmitted, bytes).  Its
    /// shared copy is checked for writes by the driver and freed.
    pub fn recv(&self, timeout: Duration) -> Option<(bool, Vec<u8>)> {
        let deadline = Instant::now() + timeout;
        let mut q = lock(&self.c.snooped);
        loop {
            if let Some((mp, snap, tx)) = q.pop_front() {
                drop(q);
                check_snapshot(&self.host, &snap, tx);
                let bytes = msg_bytes(mp.0);
                free_here(mp.0);
                return Some((tx, bytes));
            }
            let d = deadline.saturating_duration_since(Instant::now());
            if d.is_zero() {
                return None;
            }
            q = self.c.cv.wait_timeout(q, d).unwrap_or_else(|e| e.into_inner()).0;
        }
    }

    /// Close the observer.
    pub fn close(&self) {
        close_client(&self.host, &self.c);
    }
}

impl Drop for SimSnoop {
    fn drop(&mut self) {
        self.close();
    }
}
