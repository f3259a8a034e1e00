// SPDX-License-Identifier: MPL-2.0
//! When the driver is attached: the boot and auto-detach model.
//!
//! # Theory statement
//!
//! A `.conf`-defined pseudo node (`name="tuntap" parent="pseudo"
//! instance=0;`) is only enumerated at boot; nothing attaches it by
//! itself.  It is attached when something drives it: the boot-time
//! force-attach pass for drivers whose `.conf` sets `ddi-forceattach=1`
//! (`i_ddi_forceattach_drivers` -> `attach_drivers` in
//! `usr/src/uts/common/os/devcfg.c`, which holds and releases every
//! `DN_FORCE_ATTACH` driver), an open of one of *its own* minor nodes
//! (`spec_open` -> `e_ddi_hold_devi_by_dev` in
//! `usr/src/uts/common/fs/specfs/spec_vnops.c`), or
//! `ddi_hold_devi_by_instance(9F)`.  A `_depends_on` entry only loads a
//! module.  Opening `/dev/tun` (a node of `drv/tun`) therefore does not
//! attach `drv/tuntap`; with no provider published, `drv/tun`'s open
//! answers `ENXIO`.
//!
//! The moduninstall daemon (and `modunload -i 0`) detaches idle drivers
//! with `NDI_AUTODETACH`, which `predetach_node` refuses for a node whose
//! `ddi-forceattach` or `ddi-no-autodetach` property is 1 (devcfg.c).
//! Here: [`SimHost::boot`] attaches an installed driver only when its
//! configuration forces it, [`SimHost::autodetach_idle`] detaches it when
//! its detach(9E) check allows and nothing keeps it attached, and an
//! open while it is not attached fails with `ENXIO`.

use std::sync::Arc;

use tuntap_drv::ddi::StreamsEntry;

use crate::host::{SimHost, lock};

/// The driver-global properties of a `driver.conf(5)` file that decide
/// attach and detach.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DriverConf {
    /// `ddi-forceattach=1`.
    pub force_attach: bool,
    /// `ddi-no-autodetach=1`.
    pub no_autodetach: bool,
}

impl DriverConf {
    /// Read the properties from `driver.conf(5)` text: entries end with
    /// `;`, properties are `name=value` separated by blanks, `#` starts a
    /// comment.  A property set to 1 in any entry counts (global
    /// properties stand alone; node entries carry them too).
    pub fn parse(text: &str) -> DriverConf {
        let mut conf = DriverConf::default();
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or("");
            for entry in line.split(';') {
                for prop in entry.split_whitespace() {
                    match prop.split_once('=') {
                        Some(("ddi-forceattach", "1")) => conf.force_attach = true,
                        Some(("ddi-no-autodetach", "1")) => conf.no_autodetach = true,
                        _ => {}
                    }
                }
            }
        }
        conf
    }
}

/// A driver installed (`add_drv`) but maybe not attached.
pub(crate) struct Installed {
    pub(crate) conf: DriverConf,
    pub(crate) make: Box<dyn Fn() -> Arc<dyn StreamsEntry + Send + Sync> + Send + Sync>,
}

impl SimHost {
    /// Install a driver with its `.conf` properties, not attached: `make`
    /// builds an attached instance (attach(9E)).
    pub fn install_driver(
        &self,
        conf: DriverConf,
        make: impl Fn() -> Arc<dyn StreamsEntry + Send + Sync> + Send + Sync + 'static,
    ) {
        *lock(&self.shared.installed) = Some(Installed { conf, make: Box::new(make) });
    }

    /// Boot: the installed driver is attached only if its configuration
    /// forces it (`ddi-forceattach=1`); otherwise it stays detached until
    /// something holds it.
    pub fn boot(&self) {
        self.detach();
        let make = {
            let installed = lock(&self.shared.installed);
            match installed.as_ref() {
                Some(i) if i.conf.force_attach => Some((i.make)()),
                _ => None,
            }
        };
        if let Some(driver) = make {
            self.attach(driver);
        }
    }

    /// `modunload -i 0` / the moduninstall daemon: detach the driver if it
    /// is idle (its detach(9E) check passes) and neither
    /// `ddi-forceattach` nor `ddi-no-autodetach` keeps it.  Returns
    /// whether it was detached.
    pub fn autodetach_idle(&self) -> bool {
        let kept = lock(&self.shared.installed).as_ref().is_none_or(|i| i.conf.force_attach || i.conf.no_autodetach);
        if kept {
            return false;
        }
        let Some(driver) = self.shared.driver() else { return false };
        if driver.detach_check().is_err() {
            return false;
        }
        self.detach();
        true
    }

    /// Is a driver attached?
    pub fn is_attached(&self) -> bool {
        self.shared.driver().is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conf_properties_are_read_from_any_entry() {
        let conf = DriverConf::parse("# comment ddi-forceattach=1;\nname=\"tuntap\" parent=\"pseudo\" instance=0;\n");
        assert_eq!(conf, DriverConf::default());
        let conf = DriverConf::parse("name=\"tuntap\" parent=\"pseudo\" instance=0;\nddi-forceattach=1 ddi-no-autodetach=1;\n");
        assert_eq!(conf, DriverConf { force_attach: true, no_autodetach: true });
        assert!(!DriverConf::parse("ddi-forceattach=0;").force_attach);
    }
}
