// SPDX-License-Identifier: MPL-2.0
//! Old-API IP plumbing: a `/dev/tun` or `/dev/tap` stream that speaks
//! DLPI, as a style-2 Ethernet provider, so unmodified OpenVPN and
//! openconnect can `I_PUSH "ip"`, `IF_UNITSEL` (or `SIOCSLIFNAME`) and
//! `I_PLINK` a second stream onto the unit their first stream made with
//! `TUNNEWPPA`.
//!
//! # Theory statement
//!
//! A stream becomes a *DLPI stream* with its first `M_PROTO`/`M_PCPROTO`
//! message and stays one: it is never a packet queue, and a packet queue
//! never speaks DLPI (`DL_OUTSTATE`).  Its state is the DLPI state
//! machine reduced to what IP uses: `DL_UNATTACHED` -(`DL_ATTACH_REQ`
//! ppa)-> `DL_UNBOUND` -(`DL_BIND_REQ` Ethertype)-> `DL_IDLE`, and back
//! with `DL_UNBIND_REQ` / `DL_DETACH_REQ`.  `DL_ATTACH_REQ` finds the unit
//! `tun<ppa>`/`tap<ppa>` in the opener's zone and registers the stream in
//! the link's `plumbing` list; while any DLPI stream is attached the link
//! stays (even an old-API link whose packet stream closed) and deletion
//! is refused, as for IP plumbed on the datalink.
//!
//! **Personality.**  A `/dev/tun` stream answers as the old driver's tun
//! build did (kaizawa/tuntap `tun.c`, `tun_dl_info`, `tun_info_req`,
//! `tun_bind_req`): `DL_ETHER`, a DLSAP address that is the 2-byte SAP
//! alone (`dl_addr_length` 2, `dl_sap_length` -2) and no broadcast
//! address, so IP runs it point-to-point without ARP (`ip_if.c`,
//! `ip_ll_subnet_defaults`) — OpenVPN's tun path plumbs no ARP stream, and
//! an ARP interface without one cannot come up (`ip_arp.c`, `arp_ll_up`
//! answers `ENXIO`).  A `/dev/tap` stream is Ethernet: 8-byte DLSAP
//! addresses (MAC, then SAP in host order) and the all-ones broadcast
//! address (see [`prim::Personality`]).
//!
//! **Data.**  An attached stream relays onto a dld stream of its own on
//! the unit's link (`relay.rs`, where the decision and its citations
//! are): `DL_ATTACH_REQ` opens `/dev/net/<link>` in the kernel,
//! `DL_BIND_REQ` binds it too, and `DL_UNITDATA_REQ` from IP becomes an
//! Ethernet frame (tap: the destination DLSAP's address; tun: the link's
//! peer address) that dld transmits through dls's client of the link, so
//! link flows, maxbw, snoop and the link's counters see it exactly as
//! for IP plumbed with `ipadm`; what a process writes goes up through
//! `mac_rx`, dls's client and dld to our module, which passes it, as
//! `DL_UNITDATA_IND`, to the stream if its receive filter takes it
//! (`filter.rs`: bound SAP, own/broadcast/joined-group destination,
//! promiscuous levels; never a frame with the unit's own source address).
//! A link that is not relayed (a zone's link, no `/dev/net` node for
//! it, a kernel without LDI: `Relay::open_for`) keeps every stream on a
//! share of the link's own primary mac client (`mac_client.rs`: maxbw,
//! snoop and counters, but not flows); on a relayed link a relay that
//! cannot be set up, even after a retry, fails `DL_ATTACH_REQ`
//! (`DL_SYSERR` with the errno) rather than mixing the two paths on one
//! link (dls's client and a private client both want the primary
//! address: the second bind would get `EBUSY`).  A link with no devnet
//! goes to the
//! direct path: unit data to one attached packet queue, written frames
//! straight to the streams whose filter takes them and to mac only when
//! no such stream is bound to the Ethertype.  There is no fast path
//! (`DL_IOC_HDR_INFO` is refused, so IP uses unit data) and no flow
//! control toward IP (a full queue drops and counts).
//!
//! **Locks.**  A minor's `state` lock is never held while a link lock is
//! taken (link locks come first, see link.rs): transitions check and mark
//! the state, drop the lock, act on the link, then record the result.
//! Nothing is sent up with a lock held.
//!
//! **Invariants.**  Every request gets exactly one reply (`DL_OK_ACK`,
//! a typed ack, or `DL_ERROR_ACK`), except `DL_UNITDATA_REQ`; a request
//! too short for its primitive is `DL_BADPRIM`; nothing here panics.

use alloc::sync::Arc;
use core::mem::size_of;

use illumos_sys_hdrs as sys;
use illumos_sys_hdrs::dlpi::*;
use illumos_sys_hdrs::queue_t;
use tuntap_abi::LinkName;

use crate::ddi::{DropReason, Kernel, Probe};
use crate::driver::Driver;
use crate::frame;
use crate::link::{Link, Mode};
use crate::mblk::MsgBlk;
use crate::minor::{DlpiState, Minor, Node};
use relay::Relay;

pub mod filter;
pub mod mac_client;
pub mod prim;
pub mod relay;
mod rx;

use prim::{MIN_ETHERTYPE, Personality, SAP_LENGTH, error_ack, ok_ack, proto_msg, read_req, send_reply, uderror_ind};

impl<K: Kernel> Driver<K> {
    /// An `M_PROTO`/`M_PCPROTO` message on a queue node.
    pub(crate) fn handle_dlpi(&self, wq: *mut queue_t, minor: &Arc<Minor<K>>, msg: MsgBlk<K>) {
        let k = self.kernel();
        let Some(prim) = read_req::<u32>(msg.first_block()) else {
            // Too short to name a primitive: nothing to answer to.
            k.probe(Probe::Drop(0, DropReason::BadWrite));
            return;
        };
        if minor.node == Node::Control {
            return error_ack(k, wq, prim, DL_BADPRIM, 0);
        }
        {
            let mut st = minor.state.lock();
            if st.link.is_some() || st.pending.is_some() {
                drop(st);
                return error_ack(k, wq, prim, DL_OUTSTATE, 0);
            }
            if st.dlpi.is_none() {
                st.dlpi = Some(DlpiState { state: DL_UNATTACHED, link: None, relay: None });
            }
        }
        match prim {
            DL_INFO_REQ => self.dl_info(wq, minor),
            DL_ATTACH_REQ => match read_req::<dl_attach_req_t>(msg.first_block()) {
                Some(req) => self.dl_attach(wq, minor, req.dl_ppa),
                None => error_ack(k, wq, prim, DL_BADPRIM, 0),
            },
            DL_DETACH_REQ => self.dl_detach(wq, minor),
            DL_BIND_REQ => match read_req::<dl_bind_req_t>(msg.first_block()) {
                Some(req) => self.dl_bind(wq, minor, req.dl_sap),
                None => error_ack(k, wq, prim, DL_BADPRIM, 0),
            },
            DL_UNBIND_REQ => self.dl_unbind(wq, minor),
            DL_PHYS_ADDR_REQ => match read_req::<dl_phys_addr_req_t>(msg.first_block()) {
                Some(_) => self.dl_phys_addr(wq, minor),
                None => error_ack(k, wq, prim, DL_BADPRIM, 0),
            },
            DL_ENABMULTI_REQ | DL_DISABMULTI_REQ => self.dl_multi(wq, minor, prim, msg.first_block()),
            DL_PROMISCON_REQ | DL_PROMISCOFF_REQ => self.dl_promisc(wq, minor, prim, msg.first_block()),
            DL_UNITDATA_REQ => self.dl_unitdata(wq, minor, msg),
            DL_SET_PHYS_ADDR_REQ | DL_NOTIFY_REQ | DL_CAPABILITY_REQ => error_ack(k, wq, prim, DL_NOTSUPPORTED, 0),
            _ => error_ack(k, wq, prim, DL_BADPRIM, 0),
        }
        // A relay that broke while this request was in flight tells IP
        // now, after the answer (relay.rs RelaySt::ip_owed); only the
        // control task (never DL_UNITDATA_REQ's put procedure, which could
        // overtake a reply still to come).
        if prim != DL_UNITDATA_REQ {
            if let Some(r) = self.dlpi_relay(minor) {
                r.tell_ip_owed();
            }
        }
    }

    /// The DLSAP format of a stream: fixed by the node it was opened on.
    pub(crate) fn personality(minor: &Minor<K>) -> Personality {
        if minor.node == Node::Tap { Personality::Tap } else { Personality::Tun }
    }

    fn dlpi_link(&self, minor: &Minor<K>) -> Option<Arc<Link<K>>> {
        minor.state.lock().dlpi.as_ref().and_then(|d| d.link.clone())
    }

    /// The stream's lower dld stream, if it has one (relay.rs).
    pub(crate) fn dlpi_relay(&self, minor: &Minor<K>) -> Option<Arc<Relay<K>>> {
        minor.state.lock().dlpi.as_ref().and_then(|d| d.relay.clone())
    }

    /// `DL_INFO_REQ` → `DL_INFO_ACK` (dlpi.h `dl_info_ack_t`), in the
    /// stream's personality: tun as the old driver's `tun_dl_info`
    /// (kaizawa/tuntap `tun.c`: address length 2, no broadcast address),
    /// tap as Ethernet.  What IP makes of it: `ip_ll_subnet_defaults`
    /// (`usr/src/uts/common/inet/ip/ip_if.c`).
    fn dl_info(&self, wq: *mut queue_t, minor: &Minor<K>) {
        let k = self.kernel();
        let (state, link) = match &minor.state.lock().dlpi {
            Some(d) => (d.state, d.link.clone()),
            None => (DL_UNATTACHED, None),
        };
        let who = Self::personality(minor);
        let sap = minor.queue.dlpi_bound_sap().unwrap_or(0);
        let addr = link.as_ref().map(|l| who.dlsap(&l.mac(), sap));
        let addr_bytes: &[u8] = addr.as_ref().map_or(&[], |a| a.as_bytes());
        let brdcst = who.broadcast();
        let head = size_of::<dl_info_ack_t>();
        let ack = dl_info_ack_t {
            dl_primitive: DL_INFO_ACK,
            dl_max_sdu: link.as_ref().map_or(1500, |l| l.mtu()),
            dl_min_sdu: 1,
            dl_addr_length: who.dlsap_len() as u32,
            dl_mac_type: sys::DL_ETHER,
            dl_reserved: 0,
            dl_current_state: state,
            dl_sap_length: SAP_LENGTH,
            dl_service_mode: DL_CLDLS,
            dl_qos_length: 0,
            dl_qos_offset: 0,
            dl_qos_range_length: 0,
            dl_qos_range_offset: 0,
            dl_provider_style: DL_STYLE2,
            dl_addr_offset: if addr_bytes.is_empty() { 0 } else { head as u32 },
            dl_version: DL_VERSION_2,
            dl_brdcst_addr_length: brdcst.len() as u32,
            dl_brdcst_addr_offset: if brdcst.is_empty() { 0 } else { (head + addr_bytes.len()) as u32 },
            dl_growth: 0,
        };
        send_reply(k, wq, proto_msg(k, sys::M_PCPROTO, &ack, addr_bytes, brdcst));
    }

    fn dl_attach(&self, wq: *mut queue_t, minor: &Arc<Minor<K>>, ppa: u32) {
        let k = self.kernel();
        {
            let mut st = minor.state.lock();
            match st.dlpi.as_mut() {
                Some(d) if d.state == DL_UNATTACHED => d.state = DL_ATTACH_PENDING,
                _ => {
                    drop(st);
                    return error_ack(k, wq, DL_ATTACH_REQ, DL_OUTSTATE, 0);
                }
            }
        }
        let prefix = if minor.node == Node::Tap { "tap" } else { "tun" };
        let want = if minor.node == Node::Tap { Mode::Tap } else { Mode::Tun };
        let found = LinkName::with_unit(prefix, ppa)
            .ok()
            .and_then(|name| self.lookup_name(minor.zone, &name))
            .filter(|l| l.mode == want);
        let attached = found.and_then(|l| l.attach_plumbing(&minor.queue).ok().map(|()| l));
        // The lower dld stream (relay.rs); a link that is not relayed
        // keeps the older path (mac_client.rs) for all its streams, and a
        // relay that fails on a link that is fails the attach, so one
        // link never mixes paths.  On the control task: blocks.
        let relay = match &attached {
            Some(l) => match Relay::open_for(k, l, &minor.queue, Self::personality(minor)) {
                Ok(r) => r,
                Err(e) => {
                    self.release_plumbing(minor, l);
                    let mut st = minor.state.lock();
                    if let Some(d) = st.dlpi.as_mut() {
                        d.state = DL_UNATTACHED;
                    }
                    drop(st);
                    return error_ack(k, wq, DL_ATTACH_REQ, DL_SYSERR, e as u32);
                }
            },
            None => None,
        };
        let mut st = minor.state.lock();
        let Some(d) = st.dlpi.as_mut() else {
            drop(st);
            if let Some(r) = relay {
                r.close();
            }
            return;
        };
        match attached {
            Some(link) => {
                d.state = DL_UNBOUND;
                d.link = Some(link);
                d.relay = relay;
                drop(st);
                ok_ack(k, wq, DL_ATTACH_REQ);
            }
            None => {
                d.state = DL_UNATTACHED;
                drop(st);
                error_ack(k, wq, DL_ATTACH_REQ, DL_BADPPA, 0);
            }
        }
    }

    fn dl_detach(&self, wq: *mut queue_t, minor: &Arc<Minor<K>>) {
        let k = self.kernel();
        let (link, relay) = {
            let mut st = minor.state.lock();
            match st.dlpi.as_mut() {
                Some(d) if d.state == DL_UNBOUND => {
                    d.state = DL_UNATTACHED;
                    minor.queue.dlpi_rx().reset();
                    (d.link.take(), d.relay.take())
                }
                _ => {
                    drop(st);
                    return error_ack(k, wq, DL_DETACH_REQ, DL_OUTSTATE, 0);
                }
            }
        };
        if let Some(r) = relay {
            r.close();
        }
        if let Some(link) = link {
            self.release_plumbing(minor, &link);
        }
        ok_ack(k, wq, DL_DETACH_REQ);
    }

    /// A DLPI stream lets go of its link (detach or close): a transient
    /// link nobody uses any more goes away.
    pub(crate) fn release_plumbing(&self, minor: &Minor<K>, link: &Arc<Link<K>>) {
        if link.detach_plumbing(&minor.queue) && link.should_vanish() {
            let _ = self.destroy_link(link, false);
        }
    }

    /// `DL_BIND_REQ` → `DL_BIND_ACK` with the stream's own DLSAP address
    /// (tun: `{sap}`, tap: `{MAC, sap}`, as kaizawa/tuntap `tun_bind_req`).
    fn dl_bind(&self, wq: *mut queue_t, minor: &Minor<K>, sap: u32) {
        let k = self.kernel();
        if !(MIN_ETHERTYPE..=u32::from(u16::MAX)).contains(&sap) {
            return error_ack(k, wq, DL_BIND_REQ, DL_BADSAP, 0);
        }
        let (link, relay) = {
            let mut st = minor.state.lock();
            match st.dlpi.as_mut() {
                Some(d) if d.state == DL_UNBOUND => {
                    d.state = DL_IDLE;
                    minor.queue.dlpi_rx().set_bound_sap(Some(sap as u16));
                    (d.link.clone(), d.relay.clone())
                }
                _ => {
                    drop(st);
                    return error_ack(k, wq, DL_BIND_REQ, DL_OUTSTATE, 0);
                }
            }
        };
        let unbound = || {
            let mut st = minor.state.lock();
            if let Some(d) = st.dlpi.as_mut() {
                d.state = DL_UNBOUND;
            }
            minor.queue.dlpi_rx().set_bound_sap(None);
        };
        // Through the lower dld stream (relay.rs): dld binds it, and
        // refuses what it refuses (dld_proto.c proto_bind_req).
        if let Some(r) = &relay {
            if let Err((dl_errno, unix)) = r.bind(sap) {
                unbound();
                return error_ack(k, wq, DL_BIND_REQ, dl_errno, unix);
            }
            minor.queue.dlpi_rx().set_via_mac(true);
        }
        // Become the link's primary mac client (mac_client.rs), as dls
        // does for an active stream; someone else's primary refuses the
        // bind (DL_SYSERR/EBUSY, dld_proto.c proto_bind_req).  A link
        // without a devnet keeps the legacy path.
        if let (Some(l), None) = (&link, &relay) {
            match mac_client::MacPath::of(l).open(k, l, &minor.queue) {
                Ok(()) => {}
                Err(e) if e == sys::EBUSY => {
                    unbound();
                    return error_ack(k, wq, DL_BIND_REQ, DL_SYSERR, e as u32);
                }
                Err(_) => {}
            }
        }
        let mac = link.map_or([0; 6], |l| l.mac());
        let addr = Self::personality(minor).dlsap(&mac, sap as u16);
        let ack = dl_bind_ack_t {
            dl_primitive: DL_BIND_ACK,
            dl_sap: sap,
            dl_addr_length: addr.as_bytes().len() as u32,
            dl_addr_offset: size_of::<dl_bind_ack_t>() as u32,
            dl_max_conind: 0,
            dl_xidtest_flg: 0,
        };
        send_reply(k, wq, proto_msg(k, sys::M_PCPROTO, &ack, addr.as_bytes(), &[]));
    }

    /// `DL_UNBIND_REQ`: `DL_IDLE` back to `DL_UNBOUND`.
    fn dl_unbind(&self, wq: *mut queue_t, minor: &Minor<K>) {
        let k = self.kernel();
        let ok = {
            let mut st = minor.state.lock();
            match st.dlpi.as_mut() {
                Some(d) if d.state == DL_IDLE => {
                    d.state = DL_UNBOUND;
                    minor.queue.dlpi_rx().set_bound_sap(None);
                    true
                }
                _ => false,
            }
        };
        if ok {
            // On the control task: the teardown may block.
            match self.dlpi_relay(minor) {
                Some(r) => {
                    r.unbind();
                    minor.queue.dlpi_rx().set_via_mac(false);
                }
                None => {
                    if let Some(link) = self.dlpi_link(minor) {
                        mac_client::MacPath::of(&link).close(k, &minor.queue);
                    }
                }
            }
        }
        if ok { ok_ack(k, wq, DL_UNBIND_REQ) } else { error_ack(k, wq, DL_UNBIND_REQ, DL_OUTSTATE, 0) }
    }

    /// `DL_PHYS_ADDR_REQ` → `DL_PHYS_ADDR_ACK`.  tap: the unit's MAC.
    /// tun has none; like the old driver (kaizawa/tuntap `tun.c`,
    /// `tun_physaddr_req`) it answers six zero bytes, which IP leaves
    /// unused on an interface whose DLSAP address has no physical part.
    fn dl_phys_addr(&self, wq: *mut queue_t, minor: &Minor<K>) {
        let k = self.kernel();
        let Some(link) = self.dlpi_link(minor) else {
            return error_ack(k, wq, DL_PHYS_ADDR_REQ, DL_OUTSTATE, 0);
        };
        let mac = match Self::personality(minor) {
            Personality::Tap => link.mac(),
            Personality::Tun => [0; frame::ETHER_ADDR_LEN],
        };
        let ack = dl_phys_addr_ack_t {
            dl_primitive: DL_PHYS_ADDR_ACK,
            dl_addr_length: frame::ETHER_ADDR_LEN as u32,
            dl_addr_offset: size_of::<dl_phys_addr_ack_t>() as u32,
        };
        send_reply(k, wq, proto_msg(k, sys::M_PCPROTO, &ack, &mac, &[]));
    }

    /// `DL_UNITDATA_REQ`: IP sends a packet, to a reader of the unit.
    /// Errors as dld's `proto_unitdata_req` (`usr/src/uts/common/io/dld/
    /// dld_proto.c`): a short request, a stream not in `DL_IDLE` or a
    /// destination that is not one DLSAP address of the stream's format
    /// (tun: 2 bytes, tap: 8) get `DL_ERROR_ACK` (`DL_BADPRIM`,
    /// `DL_OUTSTATE`, `DL_BADADDR`); a payload that is missing, too long
    /// or (tun) not an IP packet of the bound type gets `DL_UDERROR_IND`
    /// `DL_BADDATA`.  Each is counted as an output error.
    fn dl_unitdata(&self, wq: *mut queue_t, minor: &Minor<K>, msg: MsgBlk<K>) {
        let k = self.kernel();
        let Some(req) = read_req::<dl_unitdata_req_t>(msg.first_block()) else {
            return error_ack(k, wq, DL_UNITDATA_REQ, DL_BADPRIM, 0);
        };
        let (link, relay, sap) = match (&minor.state.lock().dlpi, minor.queue.dlpi_bound_sap()) {
            (Some(d), Some(sap)) if d.state == DL_IDLE => (d.link.clone(), d.relay.clone(), sap),
            _ => (None, None, 0),
        };
        let Some(link) = link else {
            k.probe(Probe::Drop(0, DropReason::NoQueue));
            return error_ack(k, wq, DL_UNITDATA_REQ, DL_OUTSTATE, 0);
        };
        let off = req.dl_dest_addr_offset as usize;
        let len = req.dl_dest_addr_length as usize;
        let addr = off.checked_add(len).and_then(|end| msg.first_block().get(off..end));
        let Some(dst) = addr.and_then(|a| Self::personality(minor).unitdata_dest(a)) else {
            link.stats.tx_dropped();
            k.probe(Probe::Drop(link.linkid, DropReason::BadWrite));
            return error_ack(k, wq, DL_UNITDATA_REQ, DL_BADADDR, 0);
        };
        let mut dest = [0u8; prim::MAX_DLSAP_LEN];
        let dest_len = addr.map_or(0, |a| a.len().min(dest.len()));
        if let (Some(to), Some(from)) = (dest.get_mut(..dest_len), addr.and_then(|a| a.get(..dest_len))) {
            to.copy_from_slice(from);
        }
        let (_proto, data) = msg.split_first();
        let valid = data.and_then(|mut data| {
            let len = data.len();
            let ok = match link.mode {
                Mode::Tun => {
                    data.pullup(k, len.min(40))
                        && frame::check_tun_packet(data.first_block(), len, link.mtu()).is_ok_and(|t| t == sap)
                }
                Mode::Tap => {
                    len <= link.mtu() as usize && data.prepend(k, &frame::ether_header(&dst, &link.mac(), sap))
                }
            };
            ok.then_some(data)
        });
        let Some(data) = valid else {
            link.stats.tx_dropped();
            k.probe(Probe::Drop(link.linkid, DropReason::BadWrite));
            return uderror_ind(k, wq, dest.get(..dest_len).unwrap_or(&[]), DL_BADDATA);
        };
        // Through the stream's mac client when it has one: a whole
        // Ethernet frame (tun: to the link's peer address, as IP plumbed
        // on the datalink would send after resolution).
        // Through the lower dld stream (relay.rs): a whole Ethernet frame.
        if let Some(r) = relay {
            let mut data = data;
            if link.mode == Mode::Tun && !data.prepend(k, &frame::ether_header(&link.peer_mac, &link.mac(), sap)) {
                link.stats.tx_dropped();
                k.probe(Probe::Drop(link.linkid, DropReason::NoBuffer));
                return;
            }
            return r.tx(data);
        }
        let data = match link.mode {
            Mode::Tun if minor.queue.dlpi_rx().via_mac() => {
                let mut data = data;
                if !data.prepend(k, &frame::ether_header(&link.peer_mac, &link.mac(), sap)) {
                    link.stats.tx_dropped();
                    k.probe(Probe::Drop(link.linkid, DropReason::NoBuffer));
                    return;
                }
                match mac_client::MacPath::of(&link).tx(k, data) {
                    Ok(()) => return,
                    // Unbound meanwhile: back to the bare packet.
                    Err(mut back) => {
                        if !back.trim_front(frame::ETHER_HDR_LEN) {
                            return;
                        }
                        back
                    }
                }
            }
            Mode::Tap if minor.queue.dlpi_rx().via_mac() => match mac_client::MacPath::of(&link).tx(k, data) {
                Ok(()) => return,
                Err(back) => back,
            },
            _ => data,
        };
        let _ = link.deliver_from_plumbing(data);
    }
}
