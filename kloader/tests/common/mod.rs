// SPDX-License-Identifier: MPL-2.0

//! The steps userland takes, against the loaded objects: what
//! `tuntap_tests::Rig` does for the driver-on-the-simulator tests, but
//! with nothing but the STREAMS interface (the loaded driver has no Rust
//! handle to ask).

#![allow(dead_code, unused_imports)]

use illumos_sys_hdrs as sys;
use kloader::{LoadedKernel, Paths};
use tuntap_abi::{self as abi, DatalinkId};
use tuntap_drv::ddi::node_minor;
use tuntap_sim::{DlFlags, SimCred, SimStream};

pub use tuntap_tests::{WAIT, arp_request, ether, ipv6_packet, udp4};

pub struct Rig {
    pub k: LoadedKernel,
    pub root: SimCred,
    pub links: std::sync::Mutex<Vec<DatalinkId>>,
}

impl Rig {
    /// Boots the built objects, or None when they are not built.
    pub fn boot() -> Option<Rig> {
        let paths = Paths::built()?;
        let objects = kloader::Objects::read(&paths).unwrap_or_else(|e| panic!("{e}"));
        Some(Rig::boot_objects(&paths, &objects))
    }

    /// Boots given (possibly patched) objects.
    pub fn boot_objects(paths: &Paths, objects: &kloader::Objects) -> Rig {
        Rig::boot_objects_with(paths, objects, Default::default())
    }

    /// Boots the built objects with `opts`, or None when they are not built.
    pub fn boot_with(opts: kloader::BootOptions) -> Option<Rig> {
        let paths = Paths::built()?;
        let objects = kloader::Objects::read(&paths).unwrap_or_else(|e| panic!("{e}"));
        Some(Rig::boot_objects_with(&paths, &objects, opts))
    }

    fn boot_objects_with(paths: &Paths, objects: &kloader::Objects, opts: kloader::BootOptions) -> Rig {
        let k = LoadedKernel::boot(paths, objects, opts).unwrap_or_else(|e| panic!("{e}"));
        let root = k.host().root_cred();
        Rig { k, root, links: Default::default() }
    }

    pub fn node(&self, node: u32) -> u32 {
        sys::MAC_PRIVATE_MINOR + node
    }

    pub fn open_ctl(&self) -> SimStream {
        self.k.host().open(self.node(node_minor::CTL), &self.root).expect("open /dev/tuntap")
    }

    pub fn open_tun(&self) -> SimStream {
        self.k.host().open(self.node(node_minor::TUN), &self.root).expect("open /dev/tun")
    }

    pub fn open_tap(&self) -> SimStream {
        self.k.host().open(self.node(node_minor::TAP), &self.root).expect("open /dev/tap")
    }

    /// dlmgmtd id + TUN_IOC_CREATE on the control node.
    pub fn create(&self, name: &str, flags: u32) -> Result<DatalinkId, i32> {
        let id = self
            .k
            .host()
            .dlmgmt_create_id(&self.root, name, sys::DATALINK_CLASS_MISC, sys::DL_ETHER, DlFlags::ACTIVE)
            .expect("dlmgmtd link id");
        let ctl = self.open_ctl();
        let req = abi::TunIocCreate::new(name, flags, id).expect("name");
        ctl.ioctl_istr(abi::TUN_IOC_CREATE, abi::as_bytes(&req))?;
        self.links.lock().unwrap().push(id);
        Ok(id)
    }

    pub fn delete(&self, id: DatalinkId, flags: u32) -> Result<(), i32> {
        let ctl = self.open_ctl();
        let del = abi::TunIocDelete { version: abi::TUN_ABI_VERSION, flags, linkid: id, _pad: 0 };
        ctl.ioctl_istr(abi::TUN_IOC_DELETE, abi::as_bytes(&del))?;
        self.links.lock().unwrap().retain(|l| *l != id);
        Ok(())
    }

    pub fn attach(&self, name: &str, flags: u32) -> SimStream {
        let s = if flags & abi::mode::TAP != 0 { self.open_tap() } else { self.open_tun() };
        let req = abi::TunIocAttach::new(name, flags).expect("name");
        s.ioctl_istr(abi::TUN_IOC_ATTACH, abi::as_bytes(&req)).expect("attach");
        s
    }

    pub fn info(&self, id: DatalinkId) -> abi::TunIocInfo {
        let ctl = self.open_ctl();
        let req = abi::TunIocInfo { version: abi::TUN_ABI_VERSION, linkid: id, ..Default::default() };
        let r = ctl.ioctl_istr(abi::TUN_IOC_INFO, abi::as_bytes(&req)).expect("info");
        abi::decode::<abi::TunIocInfo>(&r.data).expect("info reply")
    }

    /// Deletes what is left, unloads both modules, checks every rule and leak.
    pub fn finish(self) {
        let left: Vec<DatalinkId> = self.links.lock().unwrap().clone();
        for id in left {
            self.delete(id, abi::delete_flags::FORCE).expect("delete at teardown");
        }
        eprintln!("kloader deepest stack use per entry point: {:?}", kloader::kstack::deepest());
        self.k.finish();
    }
}

/// Setting a link's unicast address through mac (mc_unicst) reaches the
/// driver: TUN_IOC_INFO reports the new address.
pub fn unicast_scenario(rig: &Rig) -> Result<(), String> {
    let id = rig.create("uc0", abi::create_flags::TAP).map_err(|e| format!("create: {e}"))?;
    let new = [0x02, 0x11, 0x22, 0x33, 0x44, 0x55];
    rig.k.host().set_unicast_addr("uc0", new).map_err(|e| format!("mc_unicst failed: {e}"))?;
    let info = rig.info(id);
    if info.mac != new {
        return Err(format!(
            "mc_unicst returned success but the driver still has {:02x?}: the function in the \
             mc_unicst slot of mac_callbacks_t is not mc_unicst (wrong callback or signature)",
            info.mac
        ));
    }
    Ok(())
}
