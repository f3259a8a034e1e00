// SPDX-License-Identifier: MPL-2.0
//! Link flows (`flowadm add-flow -l <link> -a transport=..,remote_port=..
//! -p maxbw=..`), modelled where illumos attaches them.
//!
//! # Theory statement
//!
//! `mac_link_flow_add` (`usr/src/uts/common/io/mac/mac_flow.c`) holds the
//! link with `dls_devnet_hold_link` and adds the flow to dls's client of
//! the link (`dlp->dl_mch`); `mac_tx` classifies a client's packets only
//! against that client's own subflow table (`mci_subflow_tab`,
//! `usr/src/uts/common/io/mac/mac_client.c`).  So a flow governs the
//! traffic of IP plumbed on the datalink (the simulator's
//! [`SimMacClient`], which plays dls's client) and **not** the traffic of
//! a client the driver opened itself (kclient.rs: the old-API DLPI
//! streams' client), whose `mac_tx` never looks at flows.  Modelled on
//! transmit: an untagged IPv4 frame of the flow's transport protocol to
//! its remote port counts in the flow (`flowstat` opkts/obytes) and, with
//! a `maxbw`, leaves through the flow's own soft ring set at that rate
//! (the link's `maxbw` is then not applied on top: the simulator has one
//! pacing stage per frame).  A flow's soft ring set delivers to the
//! client that first sent through it: tests use one IP client per link.
//! Receive-side flow classification is not modelled.

#[allow(unused_imports)]
use super::*;

use illumos_sys_hdrs::EEXIST;

/// One link flow.
pub(crate) struct SimFlow {
    pub(super) name: String,
    pub(super) proto: u8,
    pub(super) remote_port: u16,
    pub(super) maxbw: Option<u64>,
    pub(super) shaper: Arc<kclient::Shaper>,
    pub(super) opkts: AtomicU64,
    pub(super) obytes: AtomicU64,
}

/// What `flowadm add-flow` is given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlowSpec {
    /// `transport=`: IP protocol number (6 TCP, 17 UDP).
    pub proto: u8,
    /// `remote_port=`.
    pub remote_port: u16,
    /// `-p maxbw=` in bits/s.
    pub maxbw: Option<u64>,
}

/// (IP protocol, destination port) of an untagged IPv4 TCP/UDP frame.
pub(super) fn classify(frame: &[u8]) -> Option<(u8, u16)> {
    if frame.get(12..14)? != [0x08, 0x00] {
        return None;
    }
    let ip = frame.get(14..)?;
    let ihl = usize::from(ip.first()? & 0x0f) * 4;
    let proto = *ip.get(9)?;
    if proto != 6 && proto != 17 {
        return None;
    }
    let d = ip.get(ihl + 2..ihl + 4)?;
    Some((proto, u16::from_be_bytes([d[0], d[1]])))
}

/// The flow of `frame` on a mac, if any.
pub(super) fn flow_of(m: &MacImpl, frame: &[u8]) -> Option<Arc<SimFlow>> {
    let key = classify(frame)?;
    lock(&m.st).flows.iter().find(|f| (f.proto, f.remote_port) == key).cloned()
}

impl SimFlow {
    /// Count a transmitted frame; returns the flow's `maxbw`.
    pub(super) fn count(&self, len: usize) -> Option<u64> {
        self.opkts.fetch_add(1, Ordering::Relaxed);
        self.obytes.fetch_add(len as u64, Ordering::Relaxed);
        self.maxbw
    }
}

impl SimHost {
    /// `flowadm add-flow -t -l <link> -a transport=..,remote_port=.. [-p
    /// maxbw=..] <name>`: `EEXIST` for a name in use on the link.
    pub fn flow_add(&self, link: impl Into<LinkRef>, name: &str, spec: FlowSpec) -> Result<(), Errno> {
        let m = self.mac_of(link)?;
        let mut st = lock(&m.st);
        if st.flows.iter().any(|f| f.name == name) {
            return Err(EEXIST);
        }
        st.flows.push(Arc::new(SimFlow {
            name: name.to_string(),
            proto: spec.proto,
            remote_port: spec.remote_port,
            maxbw: spec.maxbw,
            shaper: Default::default(),
            opkts: AtomicU64::new(0),
            obytes: AtomicU64::new(0),
        }));
        Ok(())
    }

    /// `flowadm remove-flow`: frames still queued in its soft ring set
    /// are freed.
    pub fn flow_remove(&self, link: impl Into<LinkRef>, name: &str) -> Result<(), Errno> {
        let m = self.mac_of(link)?;
        let f = {
            let mut st = lock(&m.st);
            let i = st.flows.iter().position(|f| f.name == name).ok_or(ENOENT)?;
            st.flows.remove(i)
        };
        f.shaper.stop();
        Ok(())
    }

    /// `flowstat -p -o opkts,obytes <name>`.
    pub fn flow_stats(&self, link: impl Into<LinkRef>, name: &str) -> Result<(u64, u64), Errno> {
        let m = self.mac_of(link)?;
        let st = lock(&m.st);
        let f = st.flows.iter().find(|f| f.name == name).ok_or(ENOENT)?;
        Ok((f.opkts.load(Ordering::Relaxed), f.obytes.load(Ordering::Relaxed)))
    }
}

/// End of test: flows' soft ring sets still hold frames only until their
/// mac goes; stop them with it.
pub(crate) fn stop_flows(m: &MacImpl) {
    let flows: Vec<Arc<SimFlow>> = lock(&m.st).flows.drain(..).collect();
    for f in flows {
        f.shaper.stop();
    }
}
