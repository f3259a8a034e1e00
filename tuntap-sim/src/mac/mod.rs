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
    MC_GETPROP, MC_PROPINFO, MC_SETPROP, mac_callbacks_t, LSO_TX_BASIC_TCP_IPV6, mac_register_t, mblk_t,
};
use tuntap_abi::DatalinkId;
use tuntap_drv::ddi::{Errno, GLOBAL_ZONEID, LinkState, MacHandle, PropInfoHandle, PropPerm, ZoneId};

use crate::context::{self, Ctx};
use crate::host::{HostShared, SimHost, ViolationKind, lock};
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
    pub lso_flags: u32,
    pub capab_updates: u64,
    pub rx_hcksum: Vec<u32>,
    /// `mac_open` holds (kclient.rs rule 1).
    pub opens: usize,
    /// The `maxbw` link property in bits/s (kclient.rs rule 6).
    pub maxbw: Option<u64>,
    /// Link flows (`flowadm add-flow -l`), attached to dls's client of
    /// the link (flows.rs).
    pub flows: Vec<Arc<flows::SimFlow>>,
    /// dld streams open on the link (`/dev/net/<link>` through LDI,
    /// dld.rs).
    pub dld: Vec<Arc<dld::DldStream>>,
    /// dls's client of the link, open while a dld stream is bound
    /// (dld.rs rule 4), and how many are.
    pub dls_client: Option<Arc<ClientInner>>,
    pub dls_active: usize,
    /// The bridge this link is a port of (`mac_bridge_set`, bridge.rs).
    pub bridge: Option<String>,
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
    /// Raw frames dld freed (dld.rs rule 5).
    pub dld_tx_dropped: AtomicU64,
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
    /// Clients the driver opened (`mac_client_open`), by handle.
    kclients: HashMap<usize, Arc<ClientInner>>,
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
    /// What `mc_getcapab(MAC_CAPAB_LSO)` returned, if true: (`lso_flags`,
    /// IPv4 `lso_max`).
    pub lso: Option<(u32, u32)>,
    /// `mac_capab_update` calls so far.
    pub capab_updates: u64,
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

/// Run a mac callback of the driver (mac(9E): no user context, must not
/// block).
fn call<R>(host: &Arc<HostShared>, f: impl FnOnce() -> R) -> R {
    let _g = context::enter(host, Ctx::MacCallback);
    f()
}

/// Run the driver's `mc_tx` (must never block).
fn call_tx<R>(host: &Arc<HostShared>, f: impl FnOnce() -> R) -> R {
    let _g = context::enter(host, Ctx::MacTx);
    f()
}

mod provider;
mod client;

/// A link's mac, as `provider::resolve` finds it for `zone`.
pub(crate) fn provider_resolve(host: &Arc<HostShared>, link: &LinkRef, zone: ZoneId) -> Result<Arc<MacImpl>, Errno> {
    provider::resolve(host, link, zone)
}
mod kclient;
mod flows;
pub(crate) mod dld;
mod bridge;

#[allow(unused_imports)]
pub use provider::*;
#[allow(unused_imports)]
pub use client::*;
#[allow(unused_imports)]
pub use kclient::*;
#[allow(unused_imports)]
pub use flows::*;
pub use dld::DldInfo;
pub use bridge::{SimBridge, SimVnic};
