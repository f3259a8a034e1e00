// SPDX-License-Identifier: MPL-2.0
//! Link properties: the MTU is the standard `mtu` link property, not a
//! field of ours, so `dladm set-linkprop -p mtu=` and `tunctl modify
//! --mtu` read and write one value and cannot disagree.  A running
//! link's MTU changes through `dladm_set_linkprop` (mac hands it to the
//! driver's `mc_setprop`); libdladm persists a property as the
//! configuration field named after it (`mtu`), which is
//! [`crate::CONF_MTU`].  `up` re-applies every persistent property
//! (`dladm_init_linkprop`: `mtu`, and `maxbw`, `priority` and the like an
//! administrator set with `dladm set-linkprop`) to each link it creates.
//!
//! The MAC address is not a link property on illumos, and is not made
//! one here: libdladm's `prop_table` (usr/src/lib/libdladm/common/
//! linkprop.c) has no entry for it (only `secondary-macs`, for VNICs) and
//! mac no `MAC_PROP_*` id.  A running link's primary address changes
//! through `mac_unicast_primary_set` (mac_client.c; dld calls it for
//! `DL_SET_PHYS_ADDR_REQ`, i.e. `ifconfig ... ether`), which calls the
//! driver's `mc_unicst`, and the driver's own changes (`tunctl modify
//! --mac`, `TUN_IOC_MODIFY`) reach mac through `mac_unicst_update`
//! (mac_provider.c).  The running value thus lives once, in the driver,
//! with mac following it both ways, so nothing can show two MAC
//! addresses for one running link (`tests/linkprop.rs`); the persistent
//! value is the `tun_mac` field, which `up` hands to `TUN_IOC_CREATE`
//! (mac_register needs it as `m_src_addr`).

use crate::error::{Error, ErrorKind};
use crate::manager::{TunAdm, dl_kind};
use crate::platform::{DatalinkId, DlError, Platform};

/// The link property that holds the MTU (the configuration field
/// [`crate::CONF_MTU`] is this property).
pub const PROP_MTU: &str = crate::manager::CONF_MTU;

impl<P: Platform> TunAdm<P> {
    /// Set the running link's MTU as `dladm set-linkprop -p mtu=` does,
    /// persistently unless `temporary`.
    pub(crate) fn set_mtu_property(&self, name: &str, linkid: DatalinkId, mtu: u32, temporary: bool) -> Result<(), Error> {
        self.platform()
            .set_linkprop(linkid, PROP_MTU, &mtu.to_string(), temporary)
            .map_err(|e| Error::new(name, dl_kind("set the mtu link property", e)))
    }

    /// Set other link properties (`maxbw`, `priority`, ...) on a running
    /// link, in order, as `dladm create-vnic -p` / `dladm set-linkprop`
    /// do (`dladm_set_linkprop`, persistent unless `temporary`; the
    /// persistent configuration must exist already).  The first refusal
    /// names the property; libdladm's "not found" for a property means it
    /// has no such property, not that the link is gone.
    pub(crate) fn set_link_props(
        &self,
        name: &str,
        linkid: DatalinkId,
        props: &[(String, String)],
        temporary: bool,
    ) -> Result<(), Error> {
        for (prop, value) in props {
            self.platform().set_linkprop(linkid, prop, value, temporary).map_err(|e| {
                let refused = |why: String| ErrorKind::Dladm {
                    op: "set a link property",
                    error: DlError::Other(format!("{prop}={value}: {why}")),
                };
                let kind = match e {
                    DlError::NotFound => refused(format!("invalid link property '{prop}'")),
                    DlError::BadArg => refused("invalid value".into()),
                    DlError::Other(m) => refused(m),
                    e => dl_kind("set a link property", e),
                };
                Error::new(name, kind)
            })?;
        }
        Ok(())
    }

    /// Apply the persistent link properties to a link `up` just made.
    pub(crate) fn reapply_properties(&self, name: &str, linkid: DatalinkId) -> Result<(), Error> {
        self.platform()
            .init_linkprop(linkid)
            .map_err(|e| Error::new(name, dl_kind("re-apply its persistent link properties", e)))
    }
}
