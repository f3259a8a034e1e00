// SPDX-License-Identifier: MPL-2.0
//! Tap links as bridge ports and as the lower links of VNICs: `tunctl
//! bridge add|remove`, and what `delete` and `up` do for them.
//!
//! Theory statement.
//! * **Why through libdladm.**  Stock `dladm add-bridge -l tap0 br0`
//!   refuses a tap link in the command alone: `create_modify_add_bridge`
//!   (usr/src/cmd/dladm/dladm.c) accepts only PHYS, AGGR, ETHERSTUB and
//!   SIMNET links.  Nothing below checks the class: `dladm_bridge_setlink`
//!   (usr/src/lib/libdladm/common/libdlbridge.c) stores the `FBRIDGE`
//!   field of any link with a persistent configuration and refreshes the
//!   bridge; bridged's refresh walks every class; the kernel's
//!   `bridge_add_link` (usr/src/uts/common/io/bridge.c) wants media
//!   `DL_ETHER`, which a tap link is.  So [`TunAdm::bridge_add`] makes
//!   the library call the command would make (the RCM bridge module uses
//!   it too), and `patches/illumos-gate/0002-*` lets dladm itself do it.
//! * **What qualifies.**  A tap link (a tun link carries IP packets:
//!   refused, although its mac is an Ether-plugin link that the kernel
//!   would take), persistent (`dladm_bridge_setlink` starts with
//!   `dladm_open_conf`, and dlmgmtd's `dlmgmt_openconf` answers `ENOENT`
//!   for a link without persistent configuration), of the caller's zone.
//! * **Delete** takes the link off its bridge first: stock
//!   `dladm_bridge_delete` walks only PHYS|AGGR|ETHERSTUB|SIMNET links for
//!   members, so nothing else would ever clear a tap link's `FBRIDGE`, and
//!   the bridge daemon must drop the port before the link goes.
//! * **Up**: after a tap link is created, `dladm_bridge_refresh` makes a
//!   bridge daemon that started before our links add the port (as
//!   `dladm_vnic_create` does for VLANs in libdlvnic.c).  Persistent VNICs
//!   over the link (`FLINKOVER`) that are not active are re-created with
//!   `dladm_vnic_up`.  At boot our service runs before network/physical
//!   (`smf/tuntap/tuntap.xml`), whose `dladm up-vnic` would re-create them
//!   anyway (INFERRED: illumos's net-physical; the snapshot at hand is
//!   SmartOS's); a `tunctl up` at any other time (a link whose boot
//!   creation failed, a `delete -t` undone) has no later step that would,
//!   so it does it.  Only inactive VNICs are touched, so `up` stays
//!   idempotent.
//!
//! No lock: dlmgmtd serialises; a race shows as its error.

use crate::error::{Error, ErrorKind};
use crate::manager::dl_kind;
use crate::platform::{DATALINK_CLASS_VNIC, DatalinkId, DlError, Platform};
use crate::types::Mode;
use crate::TunAdm;

impl<P: Platform> TunAdm<P> {
    /// The tap link `name` joins bridge `bridge` (`dladm add-bridge -l`).
    /// The bridge must exist for the port to carry traffic (`dladm
    /// create-bridge br0`); as with dladm, membership is configuration
    /// that its daemon picks up when it (re)starts.
    pub fn bridge_add(&self, name: &str, bridge: &str) -> Result<(), Error> {
        let linkid = self.bridge_port(name, "join a bridge")?;
        if bridge.is_empty() {
            return Err(Error::new(name, ErrorKind::Dladm { op: "join a bridge", error: DlError::BadArg }));
        }
        match self.platform().bridge_getlink(linkid).map_err(|e| Error::new(name, dl_kind("read its bridge", e)))? {
            Some(b) if b == bridge => return Ok(()),
            Some(b) => return Err(Error::new(name, ErrorKind::OnOtherBridge { bridge: b })),
            None => {}
        }
        self.platform().bridge_setlink(linkid, bridge).map_err(|e| Error::new(name, dl_kind("join the bridge", e)))
    }

    /// Take the tap link `name` off its bridge (`dladm remove-bridge -l`);
    /// the bridge it was on, `None` if it was on none.
    pub fn bridge_remove(&self, name: &str) -> Result<Option<String>, Error> {
        let linkid = self.bridge_port(name, "leave a bridge")?;
        let old = self.platform().bridge_getlink(linkid).map_err(|e| Error::new(name, dl_kind("read its bridge", e)))?;
        if old.is_some() {
            self.platform().bridge_setlink(linkid, "").map_err(|e| Error::new(name, dl_kind("leave the bridge", e)))?;
        }
        Ok(old)
    }

    /// The bridge the link `name` is on, if any.
    pub fn bridge_of(&self, name: &str) -> Result<Option<String>, Error> {
        let link = self.show(name)?;
        if !link.persistent {
            return Ok(None);
        }
        self.platform().bridge_getlink(link.linkid).map_err(|e| Error::new(name, dl_kind("read its bridge", e)))
    }

    /// A link that may be a bridge port: ours, a tap, persistent.
    fn bridge_port(&self, name: &str, op: &'static str) -> Result<DatalinkId, Error> {
        let link = self.show(name)?;
        if link.mode == Mode::Tun {
            return Err(Error::new(name, ErrorKind::TunLink { op }));
        }
        if !link.persistent {
            return Err(Error::new(name, ErrorKind::NotPersistent { op }));
        }
        Ok(link.linkid)
    }

    /// Before a persistent link is deleted: off its bridge, if on one.
    pub(crate) fn leave_bridge_before_delete(&self, name: &str, linkid: DatalinkId) -> Result<(), Error> {
        match self.platform().bridge_getlink(linkid) {
            Ok(Some(_)) => self.platform().bridge_setlink(linkid, "").map_err(|e| Error::new(name, dl_kind("leave its bridge", e))),
            Ok(None) | Err(DlError::NotFound) => Ok(()),
            Err(e) => Err(Error::new(name, dl_kind("read its bridge", e))),
        }
    }

    /// After `up` created a tap link: its bridge adds the port, and the
    /// persistent VNICs over it that are not active come up.
    pub(crate) fn up_dependents(&self, name: &str, linkid: DatalinkId) -> Result<(), Error> {
        self.platform().bridge_refresh(linkid).map_err(|e| Error::new(name, dl_kind("refresh its bridge", e)))?;
        let vnics = self.platform().dl_walk(DATALINK_CLASS_VNIC).map_err(|e| Error::new(name, dl_kind("list VNICs", e)))?;
        for v in vnics.into_iter().filter(|v| v.flags.persistent && !v.flags.active) {
            if self.platform().vnic_lower(v.linkid).map_err(|e| Error::new(&v.name, dl_kind("read the VNIC's link", e)))? == Some(linkid) {
                self.platform().vnic_up(v.linkid).map_err(|e| Error::new(&v.name, dl_kind("bring up the VNIC", e)))?;
            }
        }
        Ok(())
    }
}
