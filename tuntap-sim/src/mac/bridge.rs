// SPDX-License-Identifier: MPL-2.0
//! Bridges and VNICs over a link: the kernel side of `dladm add-bridge`
//! and `dladm create-vnic`, as far as a lower link's driver can tell.
//!
//! # Theory statement
//!
//! What qualifies a link, and what the driver sees, follows illumos-gate:
//!
//! * **Bridge port** ([`SimBridge::add_link`], `bridge_add_link` in
//!   usr/src/uts/common/io/bridge.c):
//!   1. a link another bridge has is refused with `EBUSY` (the walk of
//!      `inst_list` before anything, and `mac_bridge_set` in mac.c);
//!   2. `mac_open_by_linkid`: an unknown link is `ENOENT`;
//!   3. "we bridge only Ethernet": `mac_info(mh)->mi_media != DL_ETHER`
//!      is `ENOTSUP`.  The class is never looked at, so a tap link (class
//!      MISC) qualifies, and so does a tun link, whose mac is an
//!      Ether-plugin link too (tunctl refuses tun links by mode);
//!   4. the first port sets the bridge's maximum SDU; a port whose SDU
//!      differs is added but marked SDU-failed (`link_sdu_fail`) and
//!      forwards nothing;
//!   5. `mac_client_open(mh, .., "<bridge>-<link>", 0)`, then
//!      `mac_margin_add(mh, &margin, B_TRUE)` (reads the current margin),
//!      then `mac_promisc_add(.., MAC_CLIENT_PROMISC_ALL, ..,
//!      MAC_PROMISC_FLAGS_NO_TX_LOOP)`: the driver gets `mc_start` (first
//!      client) and `mc_setpromisc(B_TRUE)` (first promiscuous client),
//!      and a refusal of either fails the add with its errno.
//!
//!   [`SimBridge::forward`] moves what each port received (its own
//!   transmissions excluded: `NO_TX_LOOP`) out of every other working
//!   port through that port's client (`mac_tx` -> the driver's `mc_tx`).
//!   It floods: no forwarding table, no STP (bridged's business).
//! * **VNIC** ([`SimHost::vnic_create`], `vnic_dev_create` in
//!   usr/src/uts/common/io/vnic/vnic_dev.c): `mac_open_by_linkid`
//!   (`ENOENT`); `mac_info(lower)->mi_nativemedia != DL_ETHER` is
//!   `ENOTSUP`; `mac_client_open` on the lower link (`mc_start` if
//!   first); `mac_unicast_add` of the VNIC's own address.  Our links have
//!   no RX groups (`m_getcapab` offers none), so `mac_add_macaddr`
//!   (usr/src/uts/common/io/mac/mac.c) turns device promiscuity on for
//!   any address but the primary: `i_mac_promisc_set(mip, B_TRUE)`, the
//!   driver's `mc_setpromisc(B_TRUE)`, whose refusal fails the create.
//!   A multicast address is `EINVAL` (`mac_unicast_add`).  The VNIC
//!   receives the frames mac classifies to it: its address, broadcast and
//!   multicast (`mac_rx_classify`); it transmits through its client.
//!
//! Locks: a mac's `open_lock` around the promiscuity change (as in
//! client.rs), never across the bridge's own `ports` lock; the driver is
//! called with no simulator lock but `open_lock` held.

#[allow(unused_imports)]
use super::*;

use illumos_sys_hdrs::ENOENT as ENOENT_ERRNO;

/// One port of a [`SimBridge`].
struct Port {
    link: String,
    /// The bridge's client on the link: promiscuous, and the one it
    /// transmits with.
    client: SimMacClient,
    sdu_failed: bool,
    /// The margin `mac_margin_add(.., B_TRUE)` reported.
    margin: u32,
}

/// A bridge instance of the bridge driver (`dladm create-bridge`), with
/// its ports.  Dropping it removes every port.
pub struct SimBridge {
    host: Arc<HostShared>,
    name: String,
    ports: Mutex<Vec<Port>>,
    maxsdu: Mutex<Option<u32>>,
}

/// The Ether plugin's identity: `mi_media == DL_ETHER` in mac's terms.
fn is_ether(m: &MacImpl) -> bool {
    m.type_ident.as_bytes() == illumos_sys_hdrs::MAC_PLUGIN_IDENT_ETHER.to_bytes()
}

/// Turn the device's promiscuity on for one more user
/// (`i_mac_promisc_set(mip, B_TRUE)`): `mc_setpromisc(B_TRUE)` for the
/// first.
fn devpromisc_add(host: &Arc<HostShared>, m: &Arc<MacImpl>) -> Result<(), Errno> {
    let _p = lock(&m.open_lock);
    let first = lock(&m.st).promisc_count == 0;
    if first && let Some(f) = m.cb().mc_setpromisc {
        // SAFETY: the driver's callback with its m_driver.
        let r = call(host, || unsafe { f(m.driver, B_TRUE) });
        if r != 0 {
            return Err(r);
        }
    }
    lock(&m.st).promisc_count += 1;
    Ok(())
}

/// The reverse of [`devpromisc_add`]: `mc_setpromisc(B_FALSE)` for the
/// last user.
fn devpromisc_remove(host: &Arc<HostShared>, m: &Arc<MacImpl>) {
    let _p = lock(&m.open_lock);
    let last = {
        let mut st = lock(&m.st);
        st.promisc_count = st.promisc_count.saturating_sub(1);
        st.promisc_count == 0 && !st.unregistered
    };
    if last && let Some(f) = m.cb().mc_setpromisc {
        // SAFETY: as above.
        call(host, || unsafe { f(m.driver, B_FALSE) });
    }
}

impl SimHost {
    /// A new bridge instance (`BRIOC_NEWBRIDGE`), with no ports.
    pub fn bridge_create(&self, name: &str) -> SimBridge {
        SimBridge { host: self.shared.clone(), name: name.to_string(), ports: Mutex::new(Vec::new()), maxsdu: Mutex::new(None) }
    }

    /// `dladm create-vnic -l link -m addr`: a VNIC over `link` with the
    /// unicast address `addr` (rules in the module documentation).
    pub fn vnic_create(&self, link: impl Into<LinkRef>, addr: [u8; 6]) -> Result<SimVnic, Errno> {
        let m = self.mac_of(link).map_err(|_| ENOENT_ERRNO)?;
        if !is_ether(&m) {
            return Err(ENOTSUP);
        }
        if addr[0] & 1 != 0 {
            return Err(EINVAL);
        }
        let c = open_client_with(&self.shared, &m, false, None)?;
        let client = SimMacClient { host: self.shared.clone(), c };
        let primary = lock(&m.st).addr;
        let promisc = addr != primary;
        if promisc {
            devpromisc_add(&self.shared, &m)?;
        }
        Ok(SimVnic { client, addr, promisc })
    }
}

impl SimBridge {
    /// `BRIOC_ADDLINK`: make `link` a port (rules 1-5 of the module
    /// documentation).
    pub fn add_link(&self, link: &str) -> Result<(), Errno> {
        let m = provider_resolve(&self.host, &LinkRef::from(link), GLOBAL_ZONEID).map_err(|_| ENOENT_ERRNO)?;
        if lock(&m.st).bridge.is_some() {
            return Err(EBUSY);
        }
        if !is_ether(&m) {
            return Err(ENOTSUP);
        }
        let (sdu, margin) = {
            let st = lock(&m.st);
            (st.sdu_max, st.margin)
        };
        let sdu_failed = {
            let mut max = lock(&self.maxsdu);
            let ports_empty = lock(&self.ports).is_empty();
            if ports_empty {
                *max = Some(sdu);
            }
            *max != Some(sdu)
        };
        // mac_client_open + mac_promisc_add: one promiscuous client here.
        let c = open_client_with(&self.host, &m, true, None)?;
        lock(&m.st).bridge = Some(self.name.clone());
        let client = SimMacClient { host: self.host.clone(), c };
        lock(&self.ports).push(Port { link: link.to_string(), client, sdu_failed, margin });
        Ok(())
    }

    /// `BRIOC_REMLINK`: `ENOENT` if `link` is not a port.
    pub fn remove_link(&self, link: &str) -> Result<(), Errno> {
        let port = {
            let mut ports = lock(&self.ports);
            let i = ports.iter().position(|p| p.link == link).ok_or(ENOENT_ERRNO)?;
            ports.remove(i)
        };
        lock(&port.client.c.mac.st).bridge = None;
        port.client.close();
        Ok(())
    }

    /// The ports, in order: (link, forwarding), where a port whose SDU
    /// differs from the bridge's does not forward.
    pub fn ports(&self) -> Vec<(String, bool)> {
        lock(&self.ports).iter().map(|p| (p.link.clone(), !p.sdu_failed)).collect()
    }

    /// What `mac_margin_add(.., B_TRUE)` reported for a port.
    pub fn port_margin(&self, link: &str) -> Option<u32> {
        lock(&self.ports).iter().find(|p| p.link == link).map(|p| p.margin)
    }

    /// The bridge's maximum SDU (its first port's).
    pub fn max_sdu(&self) -> Option<u32> {
        *lock(&self.maxsdu)
    }

    /// Forward what the ports received: wait up to `wait` for the first
    /// frame, then go on until no port has had anything for
    /// [`SETTLE`]; returns the frames sent out (one per frame and output
    /// port).  Frames a port transmitted itself are not looped back.
    pub fn forward(&self, wait: Duration) -> usize {
        let mut sent = 0;
        let mut patience = wait;
        loop {
            let mut moved = false;
            let ports = lock(&self.ports);
            for (i, port) in ports.iter().enumerate() {
                while let Some((tx, frame)) = snoop_recv(&self.host, &port.client.c) {
                    if tx || port.sdu_failed {
                        continue;
                    }
                    moved = true;
                    for (j, out) in ports.iter().enumerate() {
                        if j != i && !out.sdu_failed {
                            out.client.tx(&[&frame]);
                            sent += 1;
                        }
                    }
                }
            }
            drop(ports);
            if moved {
                patience = SETTLE;
                continue;
            }
            let deadline = Instant::now() + patience;
            let arrived = loop {
                if lock(&self.ports).iter().any(|p| !lock(&p.client.c.snooped).is_empty()) {
                    break true;
                }
                if Instant::now() >= deadline {
                    break false;
                }
                self.host.taskq.release();
                std::thread::sleep(POLL);
            };
            if !arrived {
                return sent;
            }
        }
    }
}

/// How long [`SimBridge::forward`] waits for more once it has moved a
/// frame, and how often it looks.
const SETTLE: Duration = Duration::from_millis(50);
const POLL: Duration = Duration::from_millis(5);

impl Drop for SimBridge {
    fn drop(&mut self) {
        let ports = std::mem::take(&mut *lock(&self.ports));
        for p in ports {
            lock(&p.client.c.mac.st).bridge = None;
            p.client.close();
        }
    }
}

/// The next frame a promiscuous client observed: (`true` if
/// transmitted, bytes), as [`SimSnoop::recv`] without waiting.
fn snoop_recv(host: &Arc<HostShared>, c: &Arc<ClientInner>) -> Option<(bool, Vec<u8>)> {
    host.taskq.release();
    let (mp, snap, tx) = lock(&c.snooped).pop_front()?;
    check_snapshot(host, &snap, tx);
    let bytes = msg_bytes(mp.0);
    free_here(mp.0);
    Some((tx, bytes))
}

/// A VNIC over a link.  Dropping it deletes it (`vnic_dev_delete`:
/// `mac_unicast_remove`, which turns device promiscuity off for the last
/// secondary address, then `mac_client_close`).
pub struct SimVnic {
    client: SimMacClient,
    addr: [u8; 6],
    promisc: bool,
}

impl SimVnic {
    /// The VNIC's unicast address.
    pub fn addr(&self) -> [u8; 6] {
        self.addr
    }

    /// Transmit frames through the VNIC's client on the lower link.
    pub fn tx(&self, frames: &[&[u8]]) {
        self.client.tx(frames);
    }

    /// The next frame classified to the VNIC (its address, broadcast or
    /// multicast), others skipped; `None` after `timeout`.
    pub fn recv(&self, timeout: Duration) -> Option<Vec<u8>> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let frame = self.client.recv(left)?;
            let dst = frame.get(..6)?;
            if dst == self.addr || dst[0] & 1 != 0 {
                return Some(frame);
            }
        }
    }
}

impl Drop for SimVnic {
    fn drop(&mut self) {
        if self.promisc {
            devpromisc_remove(&self.client.host, &self.client.c.mac);
        }
        self.client.close();
    }
}
