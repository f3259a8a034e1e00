// SPDX-License-Identifier: MPL-2.0
//! What the relay's lower dld stream sends up, as its module's read put
//! procedure hands it over: raw frames to IP, acks to the waiting
//! request, the rest freed and counted (part of `Relay`, see mod.rs).
//!
//! # Theory statement
//!
//! Every function here runs in the module's read put procedure (dld's
//! taskq or whatever thread runs dls's receive): none blocks, and
//! `Relay::st` is released before anything is sent up or freed.  Acks
//! are matched to the request by primitive ([`answers`]); what answers
//! nothing, and every message type the relay has no use for, is freed and
//! counted, since the lower stream head it would reach is never read
//! (`dld_str_rx_raw` in usr/src/uts/common/io/dld/dld_str.c frees every
//! frame once `canputnext` fails there).  `M_ERROR`/`M_HANGUP` break the
//! relay (mod.rs, "A broken relay stays broken").

use illumos_sys_hdrs as sys;
use illumos_sys_hdrs::dlpi::*;

use super::super::prim;
use super::{Personality, Phase, Relay};
use crate::ddi::{DropReason, Kernel, Probe, RelayEvent};
use crate::frame::{self, AddrClass};
use crate::mblk::MsgBlk;

/// Does `ack` answer `prim`?  `DL_OK_ACK` names it in
/// `dl_correct_primitive`, `DL_ERROR_ACK` in `dl_error_primitive`, and
/// `DL_BIND_ACK` answers only `DL_BIND_REQ` (dlpi(4P); dld_proto.c
/// `dlokack`/`dlerrorack` fill them from the request, `proto_bind_req`
/// sends `dlbindack`).
pub(super) fn answers<K: Kernel>(prim: u32, ack: &MsgBlk<K>) -> bool {
    match ack.read_head::<u32>() {
        Some(DL_OK_ACK) => ack.read_head::<dl_ok_ack_t>().is_some_and(|a| a.dl_correct_primitive == prim),
        Some(DL_ERROR_ACK) => ack.read_head::<dl_error_ack_t>().is_some_and(|a| a.dl_error_primitive == prim),
        Some(DL_BIND_ACK) => prim == DL_BIND_REQ,
        _ => false,
    }
}

impl<K: Kernel> Relay<K> {
    /// Step 4: a raw frame from dld to IP.
    pub(super) fn rx(&self, mut msg: MsgBlk<K>) {
        {
            let mut s = self.st.lock();
            if s.phase != Phase::Ready || s.broken.is_some() {
                return;
            }
            s.inflight += 1;
        }
        if let Err(reason) = self.up(&mut msg).and_then(|()| self.send_up(msg)) {
            self.link.stats.dropped(reason);
            self.k.probe(Probe::Drop(self.link.linkid, reason));
        }
        self.leave();
    }

    fn up(&self, msg: &mut MsgBlk<K>) -> Result<(), DropReason> {
        let want = msg.len().min(frame::ETHER_HDR_LEN + frame::VLAN_TAG_LEN);
        if !msg.pullup(&self.k, want) {
            // No memory on the receive side (review L3).
            return Err(DropReason::NoBuffer);
        }
        Ok(())
    }

    fn send_up(&self, mut msg: MsgBlk<K>) -> Result<(), DropReason> {
        let Some(h) = frame::parse_ether(msg.first_block()) else { return Err(DropReason::BadWrite) };
        if h.header_len != frame::ETHER_HDR_LEN {
            // Old-API IP takes untagged frames only: counted as a frame of
            // a protocol nobody here takes (MAC_STAT_UNKNOWNS; review L1).
            return Err(DropReason::NotIp);
        }
        let rx = self.upper.dlpi_rx();
        let own = self.link.mac();
        let takes = match self.who {
            Personality::Tap => rx.takes_tap_frame(&own, &h.dst, &h.src, h.ethertype),
            Personality::Tun => rx.takes_tun_packet(h.ethertype),
        };
        if !takes {
            return Ok(());
        }
        let (dsap, ssap, class) = match self.who {
            Personality::Tap => {
                (self.who.dlsap(&h.dst, h.ethertype), self.who.dlsap(&h.src, h.ethertype), frame::classify(&h.dst))
            }
            Personality::Tun => {
                let none = [0; frame::ETHER_ADDR_LEN];
                (self.who.dlsap(&none, h.ethertype), self.who.dlsap(&none, h.ethertype), AddrClass::Unicast)
            }
        };
        if !msg.trim_front(frame::ETHER_HDR_LEN) {
            return Err(DropReason::BadWrite);
        }
        prim::send_unitdata_ind(&self.k, &self.upper, msg, &dsap, &ssap, class != AddrClass::Unicast)
    }

    /// An `M_PROTO`/`M_PCPROTO` from dld: the ack a request waits for,
    /// or stray (freed and counted).  Never blocks (put procedure).
    pub(super) fn ack(&self, msg: MsgBlk<K>) {
        let mut s = self.st.lock();
        match s.waiting {
            Some(p) if s.reply.is_none() && answers(p, &msg) => {
                s.reply = Some(msg);
                drop(s);
                self.cv.broadcast();
            }
            _ => {
                drop(s);
                self.stray(msg);
            }
        }
    }

    /// Free and count a message from dld that nobody takes.
    pub(super) fn stray(&self, msg: MsgBlk<K>) {
        drop(msg);
        self.k.probe(Probe::Relay(self.link.linkid, RelayEvent::Stray, 0));
    }

    /// `M_ERROR`/`M_HANGUP` from dld: the lower stream is gone for us
    /// (strrput would mark its head `STRDERR`/`STRHUP`, failing our later
    /// ioctls, while our own `putnext`s go around the head: os/strsubr.c
    /// `strrput`, os/streamio.c `strdoioctl`).  Broken: any waiter wakes
    /// with `ENXIO`, IP's next DLPI request through us fails, transmits
    /// and receives drop.  Never blocks (put procedure).
    pub(super) fn hang_up(&self, msg: MsgBlk<K>) {
        drop(msg);
        let mut s = self.st.lock();
        let first = s.broken.is_none();
        s.broken.get_or_insert(sys::ENXIO);
        // A request of IP's in flight: the control task answers it, then
        // sends the M_ERROR (RelaySt::ip_owed); else IP is told now.
        let in_flight = s.waiting.is_some();
        if first && in_flight {
            s.ip_owed = Some(sys::ENXIO);
        }
        drop(s);
        self.cv.broadcast();
        match (first, in_flight) {
            (true, false) => self.broke(RelayEvent::Hangup, sys::ENXIO),
            (true, true) => self.report(RelayEvent::Hangup, sys::ENXIO),
            _ => {}
        }
    }
}
