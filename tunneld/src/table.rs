// SPDX-License-Identifier: MPL-2.0
//! The peers on the link: which session a packet read from the link goes
//! to, and which packets a peer may put on the link.
//!
//! # Theory statement
//!
//! **What it does.**  Every session that is up has one [`Route`] in the
//! daemon's [`Table`]: its key (the configured peer's name; sessions of
//! the same peer replace each other), its tunnel addresses
//! (`[[peer]] addresses`), and the two ways to it — the UDP sending path
//! ([`TxPath`], sealed and sent by the link's reader thread itself) or,
//! on the TCP transport, a bounded channel to the session's task.  The
//! link's reader thread asks [`Table::pick`] for each packet:
//!
//! * tun: the route whose prefix holds the packet's destination, longest
//!   prefix first; a route without addresses takes what no prefix holds
//!   (so a client, whose one route is the server, sends everything);
//! * tap: the route the destination MAC address was learned from (the
//!   receiving side calls [`Table::learn`] with each frame's source);
//!   broadcast, multicast and unknown destinations go to every route.
//!
//! On tap the daemon is also a switch between its peers: a frame from
//! one peer ([`Table::relay`]) whose destination was learned behind
//! another goes to that peer only (not on the link); broadcast,
//! multicast and unknown destinations go to every other peer and on the
//! link.  Sources of frames read from the link are learned too (under
//! [`LINK_KEY`]), so a peer's frames for the link's own address are not
//! flooded to the other peers.
//!
//! The receiving side asks [`Table::source_ok`]: on tun a peer with
//! addresses may only send packets whose source is inside them (so one
//! client cannot pose as another), counted as `rx_wrong_source`.
//!
//! **Locks and order.**  `routes` (read by the reader thread for every
//! packet, written when a session comes or goes) is never held while a
//! route's `tx` is locked: pick clones the `Arc<Route>` and lets go.
//! `macs` is a leaf.  Order: `Route::tx`, then the [`TxPath`]'s peer
//! address lock (see [`crate::fastpath`]).
//!
//! **Invariants.**  At most one route per key; a session removes only its
//! own route (by id), so a replaced session ending late cannot remove the
//! session that replaced it.  A packet that no route takes is dropped and
//! counted (`tx_dropped_no_peer`); a TCP-transport session whose channel
//! is full while other sessions are up loses the packet
//! (`tx_dropped_queue_full`) rather than stalling the other peers.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::{Arc, Mutex, RwLock};

use tokio::sync::mpsc;

use crate::counters::Counters;
use crate::device::Mode;
use crate::fastpath::TxPath;
use crate::netconf::Cidr;

/// One session's place on the link.
pub(crate) struct Route {
    /// The configured peer's name ("" without `[[peer]]`).
    pub key: String,
    /// Unique per session of this daemon.
    pub id: u64,
    pub prefixes: Vec<Cidr>,
    /// UDP: the sending path.  None on the TCP transport.
    pub tx: Mutex<Option<TxPath>>,
    /// TCP transport: packets for the session's task.
    pub chan: Option<mpsc::Sender<Vec<u8>>>,
}

/// Where a packet from the link goes.
pub(crate) enum Pick {
    Nobody,
    One(Arc<Route>),
    Every(Vec<Arc<Route>>),
}

/// The daemon's routes.
pub(crate) struct Table {
    mode: Mode,
    routes: RwLock<Vec<Arc<Route>>>,
    /// tap: MAC address -> the key of the route it was last seen from.
    macs: Mutex<HashMap<[u8; 6], String>>,
}

/// tap: the key MAC addresses seen on the link itself are learned
/// under (no configured peer's name starts with NUL).
const LINK_KEY: &str = "\u{0}link";

/// At most this many learned MAC addresses (a peer flooding sources
/// cannot grow the table without bound; when full, new ones are flooded).
const MAX_MACS: usize = 4096;

impl Table {
    pub fn new(mode: Mode) -> Table {
        Table { mode, routes: RwLock::new(Vec::new()), macs: Mutex::new(HashMap::new()) }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Vec<Arc<Route>>> {
        self.routes.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Vec<Arc<Route>>> {
        self.routes.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Add a session's route; one of the same key is replaced.
    pub fn insert(&self, route: Arc<Route>) {
        let mut routes = self.write();
        routes.retain(|r| r.key != route.key);
        routes.push(route);
    }

    /// Remove the route of session `id` (if still there).  True when no
    /// route is left.
    pub fn remove(&self, id: u64) -> bool {
        let mut routes = self.write();
        routes.retain(|r| r.id != id);
        let empty = routes.is_empty();
        let keys: Vec<String> = routes.iter().map(|r| r.key.clone()).collect();
        drop(routes);
        self.macs.lock().unwrap_or_else(|e| e.into_inner()).retain(|_, key| key == LINK_KEY || keys.contains(key));
        empty
    }

    pub fn is_empty(&self) -> bool {
        self.read().is_empty()
    }

    /// Where `packet`, read from the link, goes.
    pub fn pick(&self, packet: &[u8]) -> Pick {
        let routes = self.read();
        match routes.len() {
            0 => return Pick::Nobody,
            1 if routes.first().is_some_and(|r| r.prefixes.is_empty()) => {
                return routes.first().cloned().map_or(Pick::Nobody, Pick::One);
            }
            _ => {}
        }
        match self.mode {
            Mode::Tun => {
                let Some(dst) = ip_address(packet, false) else { return Pick::Nobody };
                let mut best: Option<(i16, &Arc<Route>)> = None;
                for r in routes.iter() {
                    let len = if r.prefixes.is_empty() {
                        -1
                    } else {
                        match r.prefixes.iter().filter(|c| c.contains(dst)).map(|c| i16::from(c.len)).max() {
                            Some(l) => l,
                            None => continue,
                        }
                    };
                    if best.is_none_or(|(b, _)| len > b) {
                        best = Some((len, r));
                    }
                }
                best.map_or(Pick::Nobody, |(_, r)| Pick::One(r.clone()))
            }
            Mode::Tap => {
                let dst: Option<[u8; 6]> = packet.get(..6).and_then(|d| d.try_into().ok());
                let unicast = dst.is_some_and(|d| d[0] & 1 == 0);
                if unicast && let Some(d) = dst {
                    let key = self.macs.lock().unwrap_or_else(|e| e.into_inner()).get(&d).cloned();
                    if let Some(r) = key.and_then(|k| routes.iter().find(|r| r.key == k)) {
                        return Pick::One(r.clone());
                    }
                }
                Pick::Every(routes.clone())
            }
        }
    }

    /// tap: remember that the source of `frame` is behind `route`.
    pub fn learn(&self, route: &Route, frame: &[u8]) {
        self.learn_as(&route.key, frame);
    }

    /// tap: pass `frame`, which came from `from`'s peer, on to the other
    /// peers it is for (see the theory statement); each copy counted as
    /// `rx_relayed`.  True if it goes on the link too.
    pub fn relay(&self, from: &Route, frame: &[u8], counters: &Counters) -> bool {
        if self.mode != Mode::Tap {
            return true;
        }
        let routes = self.read();
        if routes.len() < 2 {
            return true;
        }
        let dst: Option<[u8; 6]> = frame.get(..6).and_then(|d| d.try_into().ok());
        let learned = match dst {
            Some(d) if d[0] & 1 == 0 => self.macs.lock().unwrap_or_else(|e| e.into_inner()).get(&d).cloned(),
            _ => None,
        };
        let behind = learned.as_deref().and_then(|k| routes.iter().find(|r| r.key == k));
        let (targets, on_link): (Vec<Arc<Route>>, bool) = match (learned.as_deref(), behind) {
            (Some(LINK_KEY), _) => return true,
            (Some(_), Some(r)) if r.key == from.key => return false,
            (Some(_), Some(r)) => (vec![r.clone()], false),
            _ => (routes.iter().filter(|r| r.key != from.key).cloned().collect(), true),
        };
        drop(routes);
        for r in &targets {
            send(r, &[frame], true, counters);
            counters.add(&counters.rx_relayed, 1);
        }
        on_link
    }

    fn learn_as(&self, key: &str, frame: &[u8]) {
        if self.mode != Mode::Tap {
            return;
        }
        let Some(src) = frame.get(6..12).and_then(|s| <[u8; 6]>::try_from(s).ok()) else { return };
        if src[0] & 1 != 0 {
            return;
        }
        let mut macs = self.macs.lock().unwrap_or_else(|e| e.into_inner());
        if macs.get(&src).map(String::as_str) != Some(key) && (macs.len() < MAX_MACS || macs.contains_key(&src)) {
            macs.insert(src, key.to_string());
        }
    }

    /// May `route`'s peer put `packet` on the link?  (tun: its source is
    /// inside the peer's addresses, when it has any.)
    pub fn source_ok(&self, route: &Route, packet: &[u8]) -> bool {
        if self.mode != Mode::Tun || route.prefixes.is_empty() {
            return true;
        }
        ip_address(packet, true).is_some_and(|src| route.prefixes.iter().any(|c| c.contains(src)))
    }

    /// Hand packets read together from the link to their routes: runs of
    /// packets for the same route go out as one burst.
    pub fn dispatch<'p>(&self, packets: impl Iterator<Item = &'p [u8]>, counters: &Counters) {
        let mut run: Vec<&'p [u8]> = Vec::new();
        let mut run_route: Option<Arc<Route>> = None;
        let several = self.read().len() > 1;
        for p in packets {
            self.learn_as(LINK_KEY, p);
            match self.pick(p) {
                Pick::Nobody => counters.add(&counters.tx_dropped_no_peer, 1),
                Pick::One(r) => {
                    if run_route.as_ref().is_some_and(|cur| !Arc::ptr_eq(cur, &r)) {
                        if let Some(cur) = run_route.take() {
                            send(&cur, &run, several, counters);
                        }
                        run.clear();
                    }
                    run_route = Some(r);
                    run.push(p);
                }
                Pick::Every(all) => {
                    if let Some(cur) = run_route.take() {
                        send(&cur, &run, several, counters);
                    }
                    run.clear();
                    for r in &all {
                        send(r, &[p], several, counters);
                    }
                }
            }
        }
        if let Some(cur) = run_route {
            send(&cur, &run, several, counters);
        }
    }
}

/// Send `packets` to one route: sealed at once (UDP) or queued for the
/// session's task (TCP; waiting for room only when it is the only peer).
fn send(route: &Route, packets: &[&[u8]], several: bool, counters: &Counters) {
    if let Some(tx) = route.tx.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
        tx.send_burst(packets.iter().copied());
        return;
    }
    let Some(chan) = &route.chan else { return };
    for p in packets {
        if several {
            if let Err(mpsc::error::TrySendError::Full(_)) = chan.try_send(p.to_vec()) {
                counters.add(&counters.tx_dropped_queue_full, 1);
            }
        } else if chan.blocking_send(p.to_vec()).is_err() {
            counters.add(&counters.tx_dropped_no_peer, 1);
        }
    }
}

/// The source (`source`) or destination address of an IP packet.
fn ip_address(packet: &[u8], source: bool) -> Option<IpAddr> {
    match packet.first()? >> 4 {
        4 => {
            let at = if source { 12 } else { 16 };
            let b: [u8; 4] = packet.get(at..at + 4)?.try_into().ok()?;
            Some(IpAddr::V4(Ipv4Addr::from(b)))
        }
        6 => {
            let at = if source { 8 } else { 24 };
            let b: [u8; 16] = packet.get(at..at + 16)?.try_into().ok()?;
            Some(IpAddr::V6(Ipv6Addr::from(b)))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(key: &str, id: u64, prefixes: &[&str]) -> Arc<Route> {
        Arc::new(Route {
            key: key.into(),
            id,
            prefixes: prefixes.iter().map(|p| Cidr::parse(p).unwrap()).collect(),
            tx: Mutex::new(None),
            chan: None,
        })
    }

    fn v4(src: [u8; 4], dst: [u8; 4]) -> Vec<u8> {
        let mut p = vec![0u8; 20];
        p[0] = 0x45;
        p[12..16].copy_from_slice(&src);
        p[16..20].copy_from_slice(&dst);
        p
    }

    fn picked(t: &Table, p: &[u8]) -> Option<String> {
        match t.pick(p) {
            Pick::One(r) => Some(r.key.clone()),
            _ => None,
        }
    }

    #[test]
    fn tun_longest_prefix_then_catch_all() {
        let t = Table::new(Mode::Tun);
        t.insert(route("a", 1, &["10.9.0.2/32"]));
        t.insert(route("b", 2, &["10.9.0.3/32", "10.20.0.0/16"]));
        t.insert(route("wide", 3, &["10.0.0.0/8"]));
        assert_eq!(picked(&t, &v4([10, 9, 0, 1], [10, 9, 0, 2])).as_deref(), Some("a"));
        assert_eq!(picked(&t, &v4([10, 9, 0, 1], [10, 20, 1, 1])).as_deref(), Some("b"));
        assert_eq!(picked(&t, &v4([10, 9, 0, 1], [10, 30, 1, 1])).as_deref(), Some("wide"));
        assert!(matches!(t.pick(&v4([10, 9, 0, 1], [192, 168, 0, 1])), Pick::Nobody));
        t.insert(route("default", 4, &[]));
        assert_eq!(picked(&t, &v4([10, 9, 0, 1], [192, 168, 0, 1])).as_deref(), Some("default"));
        // A replaced session's late removal leaves its successor alone.
        t.insert(route("a", 5, &["10.9.0.2/32"]));
        assert!(!t.remove(1));
        assert_eq!(picked(&t, &v4([10, 9, 0, 1], [10, 9, 0, 2])).as_deref(), Some("a"));
    }

    #[test]
    fn tun_source_must_be_the_peers() {
        let t = Table::new(Mode::Tun);
        let a = route("a", 1, &["10.9.0.2/32"]);
        assert!(t.source_ok(&a, &v4([10, 9, 0, 2], [10, 9, 0, 1])));
        assert!(!t.source_ok(&a, &v4([10, 9, 0, 3], [10, 9, 0, 1])), "a posing as another address is refused");
        assert!(t.source_ok(&route("any", 2, &[]), &v4([1, 2, 3, 4], [10, 9, 0, 1])));
    }

    #[test]
    fn tap_learns_and_floods() {
        let t = Table::new(Mode::Tap);
        let (a, b) = (route("a", 1, &[]), route("b", 2, &[]));
        t.insert(a.clone());
        t.insert(b.clone());
        let frame = |dst: [u8; 6], src: [u8; 6]| [&dst[..], &src[..], &[0x08, 0x00]].concat();
        let (ma, mb) = ([2, 0, 0, 0, 0, 0xa], [2, 0, 0, 0, 0, 0xb]);
        assert!(matches!(t.pick(&frame(ma, mb)), Pick::Every(v) if v.len() == 2), "unknown: flooded");
        t.learn(&a, &frame([0xff; 6], ma));
        assert_eq!(picked(&t, &frame(ma, mb)).as_deref(), Some("a"));
        assert!(matches!(t.pick(&frame([0xff; 6], mb)), Pick::Every(_)), "broadcast: flooded");
        t.remove(1);
        assert!(matches!(t.pick(&frame(ma, mb)), Pick::One(r) if r.key == "b"), "a gone: its address forgotten");
    }

    #[test]
    fn tap_relays_between_peers_like_a_switch() {
        let t = Table::new(Mode::Tap);
        let counters = Counters::default();
        let peer = |key: &str, id: u64| {
            let (tx, rx) = mpsc::channel::<Vec<u8>>(16);
            (Arc::new(Route { key: key.into(), id, prefixes: Vec::new(), tx: Mutex::new(None), chan: Some(tx) }), rx)
        };
        let ((a, mut to_a), (b, mut to_b), (c, mut to_c)) = (peer("a", 1), peer("b", 2), peer("c", 3));
        for r in [&a, &b, &c] {
            t.insert(r.clone());
        }
        let frame = |dst: [u8; 6], src: [u8; 6]| [&dst[..], &src[..], &[0x08, 0x00]].concat();
        let (ma, mb, mlink) = ([2, 0, 0, 0, 0, 0xa], [2, 0, 0, 0, 0, 0xb], [2, 0, 0, 0, 0, 0x1]);
        // a broadcasts: b and c get it, and so does the link.
        let hello = frame([0xff; 6], ma);
        t.learn(&a, &hello);
        assert!(t.relay(&a, &hello, &counters), "a broadcast goes on the link");
        assert_eq!((to_b.try_recv().ok(), to_c.try_recv().ok()), (Some(hello.clone()), Some(hello.clone())));
        assert!(to_a.try_recv().is_err(), "not back to its sender");
        // b answers a: to a only, not on the link, not to c.
        let answer = frame(ma, mb);
        t.learn(&b, &answer);
        assert!(!t.relay(&b, &answer, &counters), "a frame for another peer stays off the link");
        assert_eq!(to_a.try_recv().ok(), Some(answer));
        assert!(to_c.try_recv().is_err(), "c does not see b's frame for a");
        // A frame for the link's own address (learned from the link) is
        // not flooded to the peers.
        t.dispatch(std::iter::once(&frame([0xff; 6], mlink)[..]), &counters);
        let _ = (to_a.try_recv(), to_b.try_recv(), to_c.try_recv());
        assert!(t.relay(&a, &frame(mlink, ma), &counters));
        assert!(to_b.try_recv().is_err() && to_c.try_recv().is_err(), "the link's unicast is not flooded");
        assert_eq!(Counters::get(&counters.rx_relayed), 3);
    }
}
