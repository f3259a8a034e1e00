// SPDX-License-Identifier: MPL-2.0
//! The provider side of the simulated mac: registration, the upcalls a
//! provider makes (`mac_rx`, `mac_tx_update`, `mac_link_update`, ...)
//! and the host-side operations on a link (properties, stats).  See
//! `mac/mod.rs` for the rules.

#[allow(unused_imports)]
use super::*;

// ----- registration -----

#[track_caller]
pub(crate) fn mac_register(
    host: &Arc<HostShared>,
    fill: &mut dyn FnMut(&mut mac_register_t),
) -> Result<MacHandle, Errno> {
    crate::context::check_may_block(host, "mac_register (enters the mac perimeter)");
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
            lso_flags: 0,
            capab_updates: 0,
            rx_hcksum: Vec::new(),
            opens: 0,
            maxbw: None,
            flows: Vec::new(),
            dld: Vec::new(),
            dls_client: None,
            dls_active: 0,
            bridge: None,
        }),
        open_lock: Mutex::new(()),
        dld_tx_dropped: AtomicU64::new(0),
    });
    drop(reg); // mac_free
    // mac asks for capabilities while registering.
    query_capabs(host, &m);
    let mut t = lock(&host.mac);
    if t.by_handle.values().any(|o| o.name == m.name) {
        drop(t);
        return Err(illumos_sys_hdrs::EEXIST);
    }
    let h = handle_of(&m);
    t.by_handle.insert(h.0.as_ptr() as usize, m);
    Ok(h)
}

pub(super) fn busy_reason(st: &MacState) -> Option<String> {
    if st.devnet.is_some() {
        return Some("a dls devnet is still bound (dls_devnet_destroy first)".into());
    }
    if !st.clients.is_empty() {
        return Some(format!("{} mac client(s) open", st.clients.len()));
    }
    if st.opens > 0 {
        return Some(format!("held by {} mac_open(s)", st.opens));
    }
    None
}

#[track_caller]
pub(crate) fn mac_disable(host: &Arc<HostShared>, mh: MacHandle) -> Result<(), Errno> {
    crate::context::check_may_block(host, "mac_disable (enters the mac perimeter)");
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
    crate::context::check_may_block(host, "mac_unregister (waits for mac's users)");
    host.injected(crate::faults::Fault::MacUnregister)?;
    let m = lookup_handle(host, mh, "mac_unregister").ok_or(EINVAL)?;
    {
        let mut st = lock(&m.st);
        if busy_reason(&st).is_some() {
            return Err(EBUSY);
        }
        st.disabled = true;
        st.unregistered = true;
    }
    super::flows::stop_flows(&m);
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
    let (clients, addr, maxbw) = {
        let st = lock(&m.st);
        if st.disabled {
            host.record_at(ViolationKind::MacProtocol, "mac_rx after mac_disable".into(), loc);
        }
        (st.clients.clone(), st.addr, st.maxbw)
    };
    {
        // What the stack would see of each packet's checksum state
        // (mac_hcksum_get on receive), for tests of offload.
        let mut st = lock(&m.st);
        for &mp in &msgs {
            let h = crate::offload::hcksum_get(host, mp, loc);
            if st.rx_hcksum.len() < 4096 {
                st.rx_hcksum.push(h.flags);
            }
        }
    }
    for mp in msgs {
        let bytes = msg_bytes(mp);
        for c in &clients {
            if c.snoop {
                c.snoop_push(host, mp, false);
            } else if c.dls.load(Ordering::SeqCst) {
                dld::dls_rx(host, &m, c, &bytes, maxbw);
            } else if c.kern.is_some() {
                kclient::rx_to_kclient(host, c, &bytes, &addr, maxbw);
            } else if let Some(bps) = maxbw {
                kclient::rx_shaped(host, c, bytes.clone(), bps);
            } else {
                c.rx_push(bytes.clone());
            }
        }
        free_here(mp);
    }
}

/// A word mac never hands out, behind the `mac_capab_lso_t` it passes.
const LSO_GUARD: u32 = 0xdead_beef;

#[track_caller]
/// Ask the provider for its offload capabilities (`mc_getcapab`), as mac
/// does at registration and on `MAC_NOTE_CAPAB_CHG`.
///
/// Rule: `mc_getcapab(MAC_CAPAB_LSO)` writes only the `mac_capab_lso_t`
/// of the running mac: 8 bytes before TCPv6 LSO, 12 with it
/// (`illumos_sys_hdrs::mac_capab_lso_v6_t`; the caller's structure is a
/// stack variable, `dld_capab_lso` in
/// `usr/src/uts/common/io/dld/dld_proto.c`).  The model passes a
/// structure of the size [`crate::SimHost::set_mac_lso_ipv6`] chose with
/// a guard word behind it and records [`ViolationKind::MacProtocol`] when
/// the guard changed.
fn query_capabs(host: &Arc<HostShared>, m: &Arc<MacImpl>) {
    let loc = Location::caller();
    if m.flags() & MC_GETCAPAB != 0
        && let Some(f) = m.cb().mc_getcapab {
            let mut hck: u32 = 0;
            // SAFETY: the driver's callback with its m_driver and a u32.
            let ok = call(host, || unsafe { f(m.driver, MAC_CAPAB_HCKSUM, (&raw mut hck).cast()) });
            let v6 = host.mac_lso_ipv6.load(Ordering::Relaxed);
            let words = if v6 { 3 } else { 2 };
            // lso_flags, lso_basic_tcp_ipv4, [lso_basic_tcp_ipv6,] guard.
            let mut lso = [0u32; 4];
            lso[words] = LSO_GUARD;
            // SAFETY: the buffer holds a whole mac_capab_lso_t of the
            // modelled size (integers, 4-aligned) and more.
            let ok_lso = call(host, || unsafe { f(m.driver, MAC_CAPAB_LSO, lso.as_mut_ptr().cast()) });
            if lso[words] != LSO_GUARD {
                host.record_at(
                    ViolationKind::MacProtocol,
                    format!(
                        "mc_getcapab(MAC_CAPAB_LSO) wrote past the {}-byte mac_capab_lso_t this mac allocates \
                         ({}; on illumos a write past dld_capab_lso's stack variable)",
                        words * 4,
                        if v6 { "with lso_basic_tcp_ipv6" } else { "a gate without TCPv6 LSO" }
                    ),
                    loc,
                );
            }
            let mut st = lock(&m.st);
            st.hcksum = (ok == B_TRUE).then_some(hck);
            st.lso = (ok_lso == B_TRUE).then_some(lso[1]);
            st.lso_flags = if ok_lso == B_TRUE { lso[0] } else { 0 };
            if ok_lso == B_TRUE && !v6 && lso[0] & LSO_TX_BASIC_TCP_IPV6 != 0 {
                host.record_at(
                    ViolationKind::MacProtocol,
                    "mc_getcapab(MAC_CAPAB_LSO) set LSO_TX_BASIC_TCP_IPV6, unknown to this mac".into(),
                    loc,
                );
            }
        }
}

/// `mac_capab_update`: mac sends `MAC_NOTE_CAPAB_CHG` and its clients ask
/// again (`usr/src/uts/common/io/mac/mac_provider.c`).
pub(crate) fn mac_capab_update(host: &Arc<HostShared>, mh: MacHandle) {
    let Some(m) = lookup_handle(host, mh, "mac_capab_update") else { return };
    lock(&m.st).capab_updates += 1;
    query_capabs(host, &m);
}

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

pub(super) fn resolve(host: &Arc<HostShared>, link: &LinkRef, zone: ZoneId) -> Result<Arc<MacImpl>, Errno> {
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
    pub(super) fn mac_of(&self, link: impl Into<LinkRef>) -> Result<Arc<MacImpl>, Errno> {
        resolve(&self.shared, &link.into(), GLOBAL_ZONEID)
    }

    /// Handles of every registered mac.
    pub fn macs(&self) -> Vec<MacHandle> {
        lock(&self.shared.mac).by_handle.values().map(handle_of).collect()
    }

    /// What mac knows about a link.
    /// The `HCK_*` flags of each packet passed to `mac_rx` since the last
    /// call (at most 4096 kept).
    pub fn take_rx_hcksum(&self, link: impl Into<LinkRef>) -> Result<Vec<u32>, Errno> {
        let m = self.mac_of(link)?;
        Ok(std::mem::take(&mut lock(&m.st).rx_hcksum))
    }

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
            lso: st.lso.map(|max| (st.lso_flags, max)),
            capab_updates: st.capab_updates,
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
        let c = open_client_with(&self.shared, &m, false, None)?;
        Ok(SimMacClient { host: self.shared.clone(), c })
    }

    /// A promiscuous observer (snoop) on a link: sees every frame received
    /// and transmitted, as `dupmsg` copies sharing the data blocks.
    pub fn snoop(&self, link: impl Into<LinkRef>) -> Result<SimSnoop, Errno> {
        let m = self.mac_of(link)?;
        let c = open_client_with(&self.shared, &m, true, None)?;
        Ok(SimSnoop { host: self.shared.clone(), c })
    }
}

