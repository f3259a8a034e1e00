// SPDX-License-Identifier: MPL-2.0
//! The driver instance: the link table and the link lifecycle (create,
//! publish, destroy, attach and detach queues).  The ioctl table is in
//! `ioctls.rs` and its commands in `commands.rs`; the STREAMS entry
//! points in `streams.rs`; old-API DLPI in `crate::dlpi`.
//!
//! # Theory statement
//!
//! **Table.**  `table` maps link ids and (zone, name) pairs to links, and
//! holds *reservations* for links being created, so two creators of one
//! id or name cannot both proceed; the loser gets `EEXIST`.  Creation
//! registers with mac and dls with no lock held, then publishes the link;
//! deletion condemns the link, tears mac and dls down with no lock held,
//! then unpublishes it.  Any failed step undoes the ones before it, so a
//! failure leaves no half-made link, no leaked id and no leaked memory.
//!
//! **Zones.**  A link belongs to its creator's zone.  A caller sees only
//! the links of its zone; the global zone sees and administers all.  Old
//! API units are numbered per zone.
//!
//! **Privilege.**  Create, delete and modify need `secpolicy_dl_config`.
//! Attaching needs to be the link's owner, in its group, or privileged.
//! Credentials come from each ioctl's own `ioc_cr`/`cp_cr`.
//!
//! **Old API.**  `TUNNEWPPA`/`TUNSETPPA`/`TUNGETPPA` take an `int`, as
//! `I_STR` (4 bytes of payload) or transparently.  Transparently the old
//! driver read the argument *value* (`ioctl(fd, TUNNEWPPA, -1)`); callers
//! that pass a pointer instead are served by `M_COPYIN`.  A value in
//! [-1, OLD_API_MAX_PPA] is taken as the value, anything else as a user
//! address (no valid user address is that small).
//!
//! Locks: `table` is taken before any link or minor lock, never after.

use alloc::boxed::Box;
use alloc::collections::{BTreeMap, BTreeSet};
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicUsize, Ordering};

use illumos_sys_hdrs as sys;
use illumos_sys_hdrs::mac_callbacks_t;
use tuntap_abi::{DatalinkId, LinkName};

use crate::ddi::{Cred, Errno, GLOBAL_ZONEID, Kernel, Probe, ZoneId};
use crate::link::callbacks::{PrivProps, mac_callbacks};
use crate::link::{self, Link, LinkSpec};
use crate::minor::Minor;
use crate::queue::Queue;
use crate::sync::KMutex;

mod commands;
mod ioctls;
pub mod streams;


struct Table<K: Kernel> {
    by_id: BTreeMap<DatalinkId, Arc<Link<K>>>,
    by_name: BTreeMap<(ZoneId, LinkName), DatalinkId>,
    reserved_ids: BTreeSet<DatalinkId>,
    reserved_names: BTreeSet<(ZoneId, LinkName)>,
    minors: BTreeSet<u32>,
}

pub struct Driver<K: Kernel> {
    k: K,
    table: KMutex<K, Table<K>>,
    /// Open streams.  Outside `table` so that close's last touch of the
    /// driver is this decrement (detach may free the driver right after).
    opens: AtomicUsize,
    callbacks: Box<mac_callbacks_t>,
    priv_props: PrivProps,
}

// SAFETY: the callback table holds only function pointers and a null
// reserved pointer; it is never written after construction.
unsafe impl<K: Kernel> Send for Driver<K> {}
// SAFETY: as above; everything else is behind KMutex or atomics.
unsafe impl<K: Kernel> Sync for Driver<K> {}

impl<K: Kernel> Driver<K> {
    pub fn new(k: K) -> Self {
        Self {
            k,
            table: KMutex::new(Table {
                by_id: BTreeMap::new(),
                by_name: BTreeMap::new(),
                reserved_ids: BTreeSet::new(),
                reserved_names: BTreeSet::new(),
                minors: BTreeSet::new(),
            }),
            opens: AtomicUsize::new(0),
            callbacks: Box::new(mac_callbacks::<K>()),
            priv_props: PrivProps::new(),
        }
    }

    pub fn kernel(&self) -> &K {
        &self.k
    }

    /// `detach(9E)`: refused while any link exists or any stream is open.
    pub fn can_detach(&self) -> Result<(), Errno> {
        let t = self.table.lock();
        let idle = t.by_id.is_empty() && t.minors.is_empty() && t.reserved_ids.is_empty();
        if idle && self.opens.load(Ordering::Acquire) == 0 { Ok(()) } else { Err(sys::EBUSY) }
    }

    fn stream_opened(&self) {
        self.opens.fetch_add(1, Ordering::AcqRel);
    }

    /// A stream's close is done with the driver.
    fn stream_closed(&self) {
        self.opens.fetch_sub(1, Ordering::AcqRel);
    }

    /// Every link, for tests and the simulator's inspection.
    pub fn links(&self) -> Vec<Arc<Link<K>>> {
        self.table.lock().by_id.values().cloned().collect()
    }

    pub fn link_by_id(&self, linkid: DatalinkId) -> Option<Arc<Link<K>>> {
        self.table.lock().by_id.get(&linkid).cloned()
    }

    fn visible(link: &Link<K>, zone: ZoneId) -> bool {
        zone == GLOBAL_ZONEID || link.zone == zone
    }

    fn lookup_visible(&self, linkid: DatalinkId, zone: ZoneId) -> Result<Arc<Link<K>>, Errno> {
        match self.link_by_id(linkid) {
            Some(l) if Self::visible(&l, zone) => Ok(l),
            _ => Err(sys::ENOENT),
        }
    }

    pub(crate) fn lookup_name(&self, zone: ZoneId, name: &LinkName) -> Option<Arc<Link<K>>> {
        let t = self.table.lock();
        let id = t.by_name.get(&(zone, *name))?;
        t.by_id.get(id).cloned()
    }

    // ----- link creation and destruction -----

    /// Create and publish a link whose id dlmgmtd gave userland in the
    /// caller's zone (`dladm`/`tunctl` through the control node): dls
    /// binds it in that zone, as `vnic_dev_create` does with the ioctl
    /// caller's zone.  On failure nothing is left behind.  Blocks: call
    /// from the taskq or user context only.
    pub fn create_link(&self, spec: LinkSpec) -> Result<Arc<Link<K>>, Errno> {
        self.create_link_in(spec, spec.zone)
    }

    /// [`Driver::create_link`], with dls binding the link in `devnet_zone`.
    fn create_link_in(&self, spec: LinkSpec, devnet_zone: ZoneId) -> Result<Arc<Link<K>>, Errno> {
        {
            let mut t = self.table.lock();
            let key = (spec.zone, spec.name);
            if t.by_id.contains_key(&spec.linkid)
                || t.reserved_ids.contains(&spec.linkid)
                || t.by_name.contains_key(&key)
                || t.reserved_names.contains(&key)
            {
                return Err(sys::EEXIST);
            }
            t.reserved_ids.insert(spec.linkid);
            t.reserved_names.insert(key);
        }
        let unreserve = |d: &Self| {
            let mut t = d.table.lock();
            t.reserved_ids.remove(&spec.linkid);
            t.reserved_names.remove(&(spec.zone, spec.name));
        };
        let link = Link::new(&self.k, &spec);
        let mut mac = [0u8; 6];
        let callbacks: *const mac_callbacks_t = &*self.callbacks;
        let priv_props = self.priv_props.as_ptr();
        let reg = self
            .k
            .mac_register(&mut |reg| link.fill_registration(reg, callbacks, &mut mac, priv_props));
        let mh = match reg {
            Ok(mh) => mh,
            Err(e) => {
                unreserve(self);
                return Err(e);
            }
        };
        link.set_mac_handle(Some(mh));
        if let Err(e) = self.k.dls_devnet_create(mh, spec.linkid, devnet_zone) {
            if self.k.mac_unregister(mh).is_err() {
                // Nothing opened it yet, so this cannot be busy; if it is,
                // keep the link published rather than free what mac uses.
                self.publish(&spec, link);
                return Err(e);
            }
            link.set_mac_handle(None);
            unreserve(self);
            return Err(e);
        }
        link.set_devnet_bound(true);
        self.publish(&spec, link.clone());
        self.k.probe(Probe::LinkCreate(spec.linkid, &spec.name));
        // Once published a concurrent delete may condemn the link: these
        // upcalls go through with_mac so they never follow its teardown.
        link.sync_link_state();
        link.with_mac(|mh| self.k.mac_tx_update(mh));
        Ok(link)
    }

    /// Turn a creation reservation into a published link.
    fn publish(&self, spec: &LinkSpec, link: Arc<Link<K>>) {
        let mut t = self.table.lock();
        t.reserved_ids.remove(&spec.linkid);
        t.reserved_names.remove(&(spec.zone, spec.name));
        t.by_name.insert((spec.zone, spec.name), spec.linkid);
        t.by_id.insert(spec.linkid, link);
    }

    /// Create a link whose id the kernel asks dlmgmtd for (old-API units,
    /// attach-with-create).  The upcall runs on the driver's taskq, so
    /// dlmgmtd files the id in the global zone (`i_dls_mgmt_upcall` uses
    /// the calling thread's `zone_kcred()`, `usr/src/uts/common/io/dls/dls_mgmt.c`);
    /// dls binds it there too, and a link asked for by a non-global zone
    /// is then moved to that zone in dls and dlmgmtd with
    /// `dls_devnet_setzid` (which upcalls `DLMGMT_CMD_SETZONEID`), as
    /// zoneadm moves links.  On failure nothing is left behind.
    fn create_kernel_link(&self, mut spec: LinkSpec) -> Result<Arc<Link<K>>, Errno> {
        spec.linkid = self.k.dls_mgmt_create(&spec.name)?;
        let link = match self.create_link_in(spec, GLOBAL_ZONEID) {
            Ok(link) => link,
            Err(e) => {
                let _ = self.k.dls_mgmt_destroy(spec.linkid);
                return Err(e);
            }
        };
        if spec.zone != GLOBAL_ZONEID {
            if let Err(e) = self.k.dls_devnet_setzid(spec.linkid, spec.zone) {
                // Still in the global zone: an ordinary teardown (moving
                // it "back" there is a no-op).  Should even that fail,
                // the link stays published for `tunctl cleanup`.
                let _ = self.destroy_link(&link, true);
                return Err(e);
            }
        }
        Ok(link)
    }

    /// A kernel-made link living in a non-global zone was moved there with
    /// `dls_devnet_setzid`, which holds it until it is moved back.
    fn moved_to_zone(link: &Link<K>) -> bool {
        link.origin.kernel_owns_id() && link.zone != GLOBAL_ZONEID
    }

    /// Tear a link down: dls, quiesce, mac; `force` detaches queues.
    pub fn destroy_link(&self, link: &Arc<Link<K>>, force: bool) -> Result<(), Errno> {
        link.condemn(force).map_err(|e| match e {
            link::CondemnError::AlreadyGoing => sys::ENOENT,
            link::CondemnError::HasQueues | link::CondemnError::IpPlumbed => sys::EBUSY,
        })?;
        let Some(mh) = link.mac_handle() else {
            link.restore();
            return Err(sys::ENOENT);
        };
        // A link whose dls binding failed at creation (and whose mac could
        // not be unregistered then) has no binding to undo.
        let bound = link.devnet_bound();
        let moved = bound && Self::moved_to_zone(link);
        if moved {
            if let Err(e) = self.k.dls_devnet_setzid(link.linkid, GLOBAL_ZONEID) {
                link.restore();
                return Err(e);
            }
        }
        // Undo the unbinding after a later step failed; says whether the
        // link is bound again (a failed rebind leaves it unbound, and a
        // later delete must not unbind it twice: dls_devnet_destroy of an
        // unbound mac corrupts dls's state, dls_devnet_unset in dls_mgmt.c).
        let rebind = |d: &Self| -> bool {
            if !bound {
                return false;
            }
            if d.k.dls_devnet_create(mh, link.linkid, if moved { GLOBAL_ZONEID } else { link.zone }).is_err() {
                return false;
            }
            if moved {
                let _ = d.k.dls_devnet_setzid(link.linkid, link.zone);
            }
            true
        };
        if bound {
            if let Err(e) = self.k.dls_devnet_destroy(mh) {
                if moved {
                    let _ = self.k.dls_devnet_setzid(link.linkid, link.zone);
                }
                link.restore();
                return Err(e);
            }
            link.set_devnet_bound(false);
        }
        if let Err(e) = self.k.mac_disable(mh) {
            link.set_devnet_bound(rebind(self));
            link.restore();
            return Err(e);
        }
        // No client can send now: detach every queue.  Readers get ENXIO.
        for queue in link.queue_snapshot().iter() {
            self.evict_queue(queue, link);
        }
        // Resolver replies queued for a taskq must not outlive the link.
        while link.replies_pending() {
            link.flush_replies();
        }
        if let Err(e) = self.k.mac_unregister(mh) {
            link.set_devnet_bound(rebind(self));
            link.restore();
            return Err(e);
        }
        link.set_mac_handle(None);
        {
            let mut t = self.table.lock();
            t.by_id.remove(&link.linkid);
            t.by_name.remove(&(link.zone, link.name));
        }
        if link.origin.kernel_owns_id() {
            let _ = self.k.dls_mgmt_destroy(link.linkid);
        }
        self.k.probe(Probe::LinkDestroy(link.linkid));
        Ok(())
    }

    /// Detach `minor` from `link` (`TUN_IOC_DETACH` or close).  Removes a
    /// transient link that lost its last queue.
    pub(crate) fn detach_minor(&self, minor: &Arc<Minor<K>>, link: &Arc<Link<K>>) {
        {
            let mut st = minor.state.lock();
            minor.settle(&mut st);
            if st.link.as_ref().is_some_and(|l| Arc::ptr_eq(l, link)) {
                st.link = None;
            }
        }
        link.detach(&minor.queue);
        if link.should_vanish() {
            // A plumbed IP interface keeps it busy: it stays, as a stale
            // link for `tunctl cleanup` to find.
            let _ = self.destroy_link(link, false);
        }
    }

    /// The link is being deleted: take `queue` off it and tell its reader
    /// with `M_ERROR` (`ENXIO`); its stream forgets the link at its next
    /// use ([`Minor::settle`]).
    fn evict_queue(&self, queue: &Arc<Queue<K>>, link: &Link<K>) {
        if !link.detach(queue) {
            return;
        }
        queue.mark_evicted();
        queue.send_error(&self.k, sys::ENXIO);
    }

    fn privileged(&self, cr: Cred) -> Result<(), Errno> {
        self.k.secpolicy_dl_config(cr)
    }

    pub(crate) fn attach_minor(
        &self,
        minor: &Arc<Minor<K>>,
        link: &Arc<Link<K>>,
        exclusive: bool,
        multi: bool,
        packet_info: bool,
    ) -> Result<(), Errno> {
        {
            let mut st = minor.state.lock();
            minor.settle(&mut st);
            if st.link.is_some() {
                return Err(sys::EBUSY);
            }
            st.link = Some(link.clone());
            minor.queue.set_packet_info(packet_info);
        }
        if let Err(e) = link.attach(&minor.queue, exclusive, multi) {
            minor.state.lock().link = None;
            // A transient link made for this attach must not linger.
            if link.should_vanish() {
                let _ = self.destroy_link(link, false);
            }
            return Err(e.errno());
        }
        Ok(())
    }

    /// A stream that speaks DLPI (old-API IP plumbing) never becomes a
    /// packet queue.
    fn not_dlpi(minor: &Minor<K>) -> Result<(), Errno> {
        if minor.state.lock().dlpi.is_some() { Err(sys::EINVAL) } else { Ok(()) }
    }

    fn attached(minor: &Minor<K>) -> Result<Arc<Link<K>>, Errno> {
        minor.link().ok_or(sys::ENXIO)
    }

    /// Changes through a queue need ownership or privilege.
    fn may_change(&self, cr: Cred, link: &Link<K>) -> Result<(), Errno> {
        let privileged = self.privileged(cr).is_ok();
        if link.may_attach(self.k.cred_uid(cr), |g| self.k.cred_in_group(cr, g), privileged) {
            Ok(())
        } else {
            Err(sys::EPERM)
        }
    }
}

#[allow(dead_code)]
fn _assert_send_sync<K: Kernel>() {
    fn is<T: Send + Sync>() {}
    is::<Driver<K>>();
}
