// SPDX-License-Identifier: MPL-2.0
//! The application side of a link: what a VPN daemon does with the
//! queues it attached through `/dev/tun` or `/dev/tap`, in-process.
//!
//! * [`Queue`]: a [`SimStream`] attached to a link, with the new API's
//!   per-queue ioctls (`TUN_IOC_QUEUE_LIMITS`, `TUN_IOC_INFO`).
//! * [`Responder`]: a thread answering ICMP echo (IPv4) and ICMPv6 echo
//!   requests read from a tun queue, as the far end of a tunnel would.
//! * [`Forwarder`]: two threads moving packets between two queues (what a
//!   VPN daemon does once its peer is connected), optionally reading one
//!   direction slowly ([`Pace`]) to exercise flow control.
//! * [`NsLink`]: a link on the rig, a namespace, a TAP in it and the
//!   bridge between them: the building block of every traffic scenario;
//!   the application side is left to the caller (a `Queue`, a
//!   [`Responder`], or a daemon's simulator backend).
//!
//! Every worker stops when its handle is dropped (threads notice within
//! ~50 ms) and reports what it did through counters.
//!
//! # A scenario in five steps
//!
//! ```ignore
//! let rig = Rig::new();
//! let a = NsLink::new(&rig, "tun0", create_flags::TUN, 1500, "vpn-a")?; // link + netns + TAP + bridge
//! a.addr_add("10.9.0.1/24")?;
//! let q = Queue::attach(&rig, "tun0", mode::TUN)?;   // or a daemon attaches its own SimStream
//! let responder = Responder::start(q);               // or Forwarder::start(qa, qb, ..)
//! a.ns.ping("10.9.0.2", 3, None)?;                   // real tools in the namespace
//! tcp::transfer(&b.ns, "10.9.0.2", &a.ns, 1 << 20, timeout)?; // digest-checked TCP
//! a.ns.ip(&["link", "set", "dev", "tun0", "down"])?; // freeze, then:
//! eventually(t, || LinkAccount::check(&rig, &a, app_counts))?; // every frame accounted for
//! ```
//!
//! A VPN daemon under test (scenario 2) replaces the `Queue`/`Responder`
//! part: its simulator backend attaches its own stream to the link by
//! name (`rig.host`, `rig.open_tun`, `TUN_IOC_ATTACH`), and its own
//! packet counters fill in [`AppCounts`].  Drop order: the application
//! side, then the `NsLink`s (bridge stops, TAP and namespace go), then
//! `rig.finish()`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use illumos_sys_hdrs as sys;
use tuntap_abi::{self as abi, DatalinkId};
use tuntap_sim::SimStream;

use crate::bridge::{Bridge, BridgeOptions};
use crate::netns::{HarnessError, Netns, Result};
use crate::{Rig, checksum, decode};

/// How long a worker blocks in a read before it looks at its stop flag.
const POLL: Duration = Duration::from_millis(50);

// ----- links -----

/// Create a link through the control node with an explicit MTU (0 = the
/// driver's default); returns its id.  `flags` as for `TUN_IOC_CREATE`.
pub fn create_link(rig: &Rig, name: &str, flags: u32, mtu: u32) -> Result<DatalinkId> {
    let id = rig
        .host
        .dlmgmt_create_id(&rig.root, name, sys::DATALINK_CLASS_MISC, sys::DL_ETHER, tuntap_sim::DlFlags::ACTIVE)
        .map_err(|e| HarnessError(format!("dlmgmtd id for link {name}: {e:?}")))?;
    let ctl = rig.open_ctl(&rig.root);
    let mut req = abi::TunIocCreate::new(name, flags, id)
        .map_err(|e| HarnessError(format!("link name {name:?}: {e:?}")))?;
    req.mtu = mtu;
    let r = ctl.ioctl_istr(abi::TUN_IOC_CREATE, abi::as_bytes(&req));
    ctl.close();
    r.map_err(|e| HarnessError(format!("TUN_IOC_CREATE {name} (mtu {mtu}): errno {e}")))?;
    Ok(id)
}

/// A link on the rig joined to a Linux namespace: the namespace has a TAP
/// named like the link, carrying the link's MAC address and MTU, and a
/// [`Bridge`] moves frames between that TAP and a mac client on the link.
pub struct NsLink {
    /// Declared first: stops before the namespace goes.
    pub bridge: Bridge,
    pub ns: Netns,
    pub link_name: String,
    pub linkid: DatalinkId,
    /// The link's unicast address (the TAP has it too).
    pub mac: [u8; 6],
    /// On a tun link: the MAC the driver answers ARP/NDP with.
    pub peer_mac: [u8; 6],
    pub mtu: u32,
}

impl NsLink {
    /// Create link `link_name` (`mode::TUN` or `mode::TAP` as create
    /// flags) with `mtu` on `rig`, namespace `ns_label`, TAP `link_name`
    /// in it, bridged.  Addresses are left to the caller.
    pub fn new(rig: &Rig, link_name: &str, create_flags: u32, mtu: u32, ns_label: &str) -> Result<NsLink> {
        let ns = Netns::new(ns_label)?;
        let linkid = create_link(rig, link_name, create_flags, mtu)?;
        let link = rig
            .driver
            .link_by_id(linkid)
            .ok_or_else(|| HarnessError(format!("link {link_name} (id {linkid}) vanished after create")))?;
        let (mac, peer_mac, mtu) = (link.mac(), link.peer_mac, link.mtu());
        drop(link);
        let tap = ns.tap(link_name, mac, mtu)?;
        let client = rig
            .host
            .mac_client_open(link_name)
            .map_err(|e| HarnessError(format!("mac client on {link_name}: errno {e}")))?;
        let bridge = Bridge::with_options(client, tap, BridgeOptions::default());
        Ok(NsLink { bridge, ns, link_name: link_name.to_string(), linkid, mac, peer_mac, mtu })
    }

    /// The TAP's name inside the namespace (same as the link's).
    pub fn ifname(&self) -> &str {
        &self.link_name
    }

    /// Add an address to the TAP (IPv6 with `nodad`).
    pub fn addr_add(&self, cidr: &str) -> Result<()> {
        self.ns.addr_add(&self.link_name, cidr)
    }
}

// ----- queues -----

/// A queue attached to a link through `/dev/tun` or `/dev/tap`.
pub struct Queue {
    pub stream: SimStream,
}

impl Queue {
    /// Open the node of `mode` and attach to `link` (`attach_flags`).
    pub fn attach(rig: &Rig, link: &str, flags: u32) -> Result<Queue> {
        let s = if flags & abi::mode::TAP != 0 { rig.open_tap(&rig.root) } else { rig.open_tun(&rig.root) };
        let req = abi::TunIocAttach::new(link, flags).map_err(|e| HarnessError(format!("link name {link:?}: {e:?}")))?;
        s.ioctl_istr(abi::TUN_IOC_ATTACH, abi::as_bytes(&req))
            .map_err(|e| HarnessError(format!("TUN_IOC_ATTACH {link}: errno {e}")))?;
        Ok(Queue { stream: s })
    }

    /// `TUN_IOC_QUEUE_LIMITS`: bound this queue's backlog (0 keeps a
    /// value); returns the limits in force.
    pub fn set_limits(&self, max_packets: u32, max_bytes: u32) -> Result<(u32, u32)> {
        let req = abi::TunIocQueueLimits { version: abi::TUN_ABI_VERSION, max_packets, max_bytes, _pad: 0 };
        let r = self
            .stream
            .ioctl_istr(abi::TUN_IOC_QUEUE_LIMITS, abi::as_bytes(&req))
            .map_err(|e| HarnessError(format!("TUN_IOC_QUEUE_LIMITS ({max_packets}, {max_bytes}): errno {e}")))?;
        let got: abi::TunIocQueueLimits = decode(&r.data);
        Ok((got.max_packets, got.max_bytes))
    }

    /// `TUN_IOC_INFO` on the queue: the link it is attached to.
    pub fn info(&self) -> Result<abi::TunIocInfo> {
        let req = abi::TunIocInfo { version: abi::TUN_ABI_VERSION, linkid: abi::DATALINK_INVALID_LINKID, ..Default::default() };
        let r = self
            .stream
            .ioctl_istr(abi::TUN_IOC_INFO, abi::as_bytes(&req))
            .map_err(|e| HarnessError(format!("TUN_IOC_INFO on a queue: errno {e}")))?;
        Ok(decode(&r.data))
    }
}

// ----- ICMP echo -----

/// The Internet checksum of the IPv6 pseudo-header plus `upper`.
pub fn ipv6_upper_checksum(src: &[u8], dst: &[u8], next_header: u8, upper: &[u8]) -> u16 {
    let mut buf = Vec::with_capacity(40 + upper.len());
    buf.extend_from_slice(src);
    buf.extend_from_slice(dst);
    buf.extend_from_slice(&(upper.len() as u32).to_be_bytes());
    buf.extend_from_slice(&[0, 0, 0, next_header]);
    buf.extend_from_slice(upper);
    checksum(&buf)
}

/// Does `sum` verify (the checksum over data including its checksum
/// field is zero)?
fn verifies(bytes: &[u8]) -> bool {
    checksum(bytes) == 0
}

/// The echo reply to an IPv4 ICMP echo request or IPv6 ICMPv6 echo
/// request, or `None` for anything else (or a request whose checksums do
/// not verify).  Options and extension headers are not supported: such
/// requests are not answered.
pub fn echo_reply(packet: &[u8]) -> Option<Vec<u8>> {
    match packet.first()? >> 4 {
        4 => {
            let ihl = usize::from(packet[0] & 0x0f) * 4;
            let total = usize::from(u16::from_be_bytes([*packet.get(2)?, *packet.get(3)?]));
            if ihl != 20 || total != packet.len() || packet[9] != 1 || !verifies(&packet[..20]) {
                return None;
            }
            let icmp = &packet[20..];
            if icmp.len() < 8 || icmp[0] != 8 || icmp[1] != 0 || !verifies(icmp) {
                return None;
            }
            let mut out = packet.to_vec();
            out[8] = 64; // TTL
            out[10..12].fill(0);
            out[12..16].copy_from_slice(&packet[16..20]);
            out[16..20].copy_from_slice(&packet[12..16]);
            let sum = checksum(&out[..20]);
            out[10..12].copy_from_slice(&sum.to_be_bytes());
            out[20] = 0; // echo reply
            out[22..24].fill(0);
            let sum = checksum(&out[20..]);
            out[22..24].copy_from_slice(&sum.to_be_bytes());
            Some(out)
        }
        6 => {
            if packet.len() < 48 || packet[6] != 58 {
                return None;
            }
            let plen = usize::from(u16::from_be_bytes([packet[4], packet[5]]));
            if plen + 40 != packet.len() {
                return None;
            }
            let (src, dst) = (&packet[8..24], &packet[24..40]);
            let icmp = &packet[40..];
            if icmp[0] != 128 || icmp[1] != 0 || ipv6_upper_checksum(src, dst, 58, icmp) != 0 {
                return None;
            }
            let mut out = packet.to_vec();
            out[7] = 64; // hop limit
            out[8..24].copy_from_slice(dst);
            out[24..40].copy_from_slice(src);
            out[40] = 129; // echo reply
            out[42..44].fill(0);
            let sum = ipv6_upper_checksum(&out[8..24], &out[24..40], 58, &out[40..]);
            out[42..44].copy_from_slice(&sum.to_be_bytes());
            Some(out)
        }
        _ => None,
    }
}

/// What a [`Responder`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ResponderStats {
    /// Packets read from the queue.
    pub read: u64,
    pub read_bytes: u64,
    /// Bytes of the replies written.
    pub written_bytes: u64,
    /// Echo replies written (and accepted by the driver's write path).
    pub replied_v4: u64,
    pub replied_v6: u64,
    /// Packets that were not echo requests (router solicitations, MLD).
    pub ignored: u64,
    /// Replies the write refused.
    pub write_errors: u64,
}

#[derive(Default)]
struct ResponderCounters {
    read: AtomicU64,
    read_bytes: AtomicU64,
    written_bytes: AtomicU64,
    replied_v4: AtomicU64,
    replied_v6: AtomicU64,
    ignored: AtomicU64,
    write_errors: AtomicU64,
}

/// A thread answering echo requests on a tun queue.
pub struct Responder {
    stop: Arc<AtomicBool>,
    counters: Arc<ResponderCounters>,
    thread: Option<JoinHandle<SimStream>>,
}

impl Responder {
    /// Start answering on `queue` (a tun queue without packet info).
    pub fn start(queue: Queue) -> Responder {
        let stop = Arc::new(AtomicBool::new(false));
        let counters = Arc::new(ResponderCounters::default());
        let (st, c) = (stop.clone(), counters.clone());
        let thread = std::thread::Builder::new()
            .name("responder".into())
            .spawn(move || {
                let q = queue.stream;
                while !st.load(Ordering::SeqCst) {
                    let pkt = match q.read_packet(Some(POLL)) {
                        Ok(p) => p,
                        Err(sys::ETIME) => continue,
                        Err(e) => {
                            eprintln!("responder: read failed: errno {e}; stopping");
                            break;
                        }
                    };
                    c.read.fetch_add(1, Ordering::SeqCst);
                    c.read_bytes.fetch_add(pkt.len() as u64, Ordering::SeqCst);
                    match echo_reply(&pkt) {
                        Some(reply) => {
                            let v6 = reply[0] >> 4 == 6;
                            match q.write(&reply) {
                                Ok(_) => {
                                    c.written_bytes.fetch_add(reply.len() as u64, Ordering::SeqCst);
                                    if v6 { &c.replied_v6 } else { &c.replied_v4 }.fetch_add(1, Ordering::SeqCst);
                                }
                                Err(e) => {
                                    eprintln!("responder: write failed: errno {e}");
                                    c.write_errors.fetch_add(1, Ordering::SeqCst);
                                }
                            }
                        }
                        None => {
                            c.ignored.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                }
                q
            })
            .expect("start the responder thread");
        Responder { stop, counters, thread: Some(thread) }
    }

    pub fn stats(&self) -> ResponderStats {
        let c = &self.counters;
        let l = |a: &AtomicU64| a.load(Ordering::SeqCst);
        ResponderStats {
            read: l(&c.read),
            read_bytes: l(&c.read_bytes),
            written_bytes: l(&c.written_bytes),
            replied_v4: l(&c.replied_v4),
            replied_v6: l(&c.replied_v6),
            ignored: l(&c.ignored),
            write_errors: l(&c.write_errors),
        }
    }

    /// Stop and give the queue back (still attached).
    pub fn stop(mut self) -> SimStream {
        self.stop.store(true, Ordering::SeqCst);
        let t = self.thread.take().expect("running");
        t.join().expect("the responder thread panicked")
    }
}

impl Drop for Responder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

// ----- forwarding between two queues -----

/// How a forwarding direction reads: at full speed, or slowly.
#[derive(Clone, Copy, Debug, Default)]
pub struct Pace {
    /// Sleep this long after every `every` packets (0: never).
    pub pause: Duration,
    pub every: u32,
}

impl Pace {
    pub const FULL_SPEED: Pace = Pace { pause: Duration::ZERO, every: 0 };
}

/// What one direction of a [`Forwarder`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DirectionStats {
    /// Packets read from the source queue.
    pub read: u64,
    pub read_bytes: u64,
    /// Packets the destination queue's write accepted.
    pub written: u64,
    pub write_errors: u64,
    /// Frames with an 802.1Q tag (tap links).
    pub vlan_tagged: u64,
    /// ARP frames (tap links).
    pub arp: u64,
}

#[derive(Default)]
struct DirCounters {
    read: AtomicU64,
    read_bytes: AtomicU64,
    written: AtomicU64,
    write_errors: AtomicU64,
    vlan_tagged: AtomicU64,
    arp: AtomicU64,
}

impl DirCounters {
    fn snapshot(&self) -> DirectionStats {
        let l = |a: &AtomicU64| a.load(Ordering::SeqCst);
        DirectionStats {
            read: l(&self.read),
            read_bytes: l(&self.read_bytes),
            written: l(&self.written),
            write_errors: l(&self.write_errors),
            vlan_tagged: l(&self.vlan_tagged),
            arp: l(&self.arp),
        }
    }
}

/// Two threads forwarding packets between queues `a` and `b`, the
/// in-process stand-in for a VPN daemon pair.
pub struct Forwarder {
    stop: Arc<AtomicBool>,
    a_to_b: Arc<DirCounters>,
    b_to_a: Arc<DirCounters>,
    threads: Vec<JoinHandle<()>>,
}

fn forward(from: &SimStream, to: &SimStream, pace: Pace, stop: &AtomicBool, c: &DirCounters) {
    let mut since_pause = 0u32;
    while !stop.load(Ordering::SeqCst) {
        let pkt = match from.read_packet(Some(POLL)) {
            Ok(p) => p,
            Err(sys::ETIME) => continue,
            Err(e) => {
                eprintln!("forwarder: read failed: errno {e}; stopping this direction");
                return;
            }
        };
        c.read.fetch_add(1, Ordering::SeqCst);
        c.read_bytes.fetch_add(pkt.len() as u64, Ordering::SeqCst);
        if pkt.len() >= 14 {
            match u16::from_be_bytes([pkt[12], pkt[13]]) {
                0x8100 => c.vlan_tagged.fetch_add(1, Ordering::SeqCst),
                0x0806 => c.arp.fetch_add(1, Ordering::SeqCst),
                _ => 0,
            };
        }
        match to.write(&pkt) {
            Ok(_) => c.written.fetch_add(1, Ordering::SeqCst),
            Err(_) => c.write_errors.fetch_add(1, Ordering::SeqCst),
        };
        if pace.every > 0 {
            since_pause += 1;
            if since_pause >= pace.every {
                since_pause = 0;
                std::thread::sleep(pace.pause);
            }
        }
    }
}

impl Forwarder {
    /// Forward between `a` and `b`; `pace_ab` sets how `a` is read.
    pub fn start(a: Queue, b: Queue, pace_ab: Pace, pace_ba: Pace) -> Forwarder {
        let (a, b) = (Arc::new(a.stream), Arc::new(b.stream));
        let stop = Arc::new(AtomicBool::new(false));
        let (a_to_b, b_to_a) = (Arc::new(DirCounters::default()), Arc::new(DirCounters::default()));
        let mut threads = Vec::new();
        for (from, to, pace, c, name) in
            [(a.clone(), b.clone(), pace_ab, a_to_b.clone(), "fwd-ab"), (b, a, pace_ba, b_to_a.clone(), "fwd-ba")]
        {
            let st = stop.clone();
            threads.push(
                std::thread::Builder::new()
                    .name(name.into())
                    .spawn(move || forward(&from, &to, pace, &st, &c))
                    .expect("start a forwarder thread"),
            );
        }
        Forwarder { stop, a_to_b, b_to_a, threads }
    }

    pub fn a_to_b(&self) -> DirectionStats {
        self.a_to_b.snapshot()
    }

    pub fn b_to_a(&self) -> DirectionStats {
        self.b_to_a.snapshot()
    }

    /// Stop both directions (also done by drop).
    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        self.stop();
    }
}

// ----- waiting -----

/// Retry `check` until it returns `Ok` or `timeout` passes; then the
/// last error.  For conditions that become true once in-flight packets
/// have landed (counter equations after traffic stopped).
pub fn eventually<T>(timeout: Duration, mut check: impl FnMut() -> std::result::Result<T, String>) -> std::result::Result<T, String> {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        match check() {
            Ok(v) => return Ok(v),
            Err(e) if std::time::Instant::now() >= deadline => return Err(e),
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

// ----- counters -----

/// Every counter along one link's path, read at one moment.
#[derive(Clone, Copy, Debug)]
pub struct LinkAccount {
    /// Linux's counters of the namespace's TAP.
    pub linux: crate::netns::LinuxLinkStats,
    pub bridge: crate::bridge::BridgeStats,
    /// Frames `mc_tx` accepted from the bridge's client, pushbacks, and
    /// frames handed back in them.
    pub accepted: u64,
    pub pushbacks: u64,
    pub returned: u64,
    pub mac: MacStats,
    pub resolver_replies: u64,
}

/// What the application side did with one link's queue(s).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AppCounts {
    /// Packets and bytes read from the link's queues.
    pub read: u64,
    pub read_bytes: u64,
    /// Packets written to the link's queues (writes the stream head took).
    pub written: u64,
}

impl LinkAccount {
    /// Read every counter of `link` and check that they add up, given
    /// what the application side did: every frame Linux sent was bridged,
    /// `mc_tx` took each one (after any pushback), and each was delivered
    /// to a queue, answered by the resolver, or counted as a drop; the
    /// application read exactly what was delivered; every packet it wrote
    /// was passed up or counted as dropped, and everything passed up
    /// reached Linux.  Call once traffic has stopped (retry with
    /// [`eventually`] while the last packets land).
    pub fn check(rig: &Rig, link: &NsLink, app: AppCounts) -> std::result::Result<LinkAccount, String> {
        let client = link.bridge.client();
        let acc = LinkAccount {
            linux: link.ns.link_stats(link.ifname()).map_err(|e| e.0)?,
            bridge: link.bridge.stats(),
            accepted: client.tx_accepted(),
            pushbacks: client.tx_pushbacks(),
            returned: client.tx_returned(),
            mac: MacStats::read(rig, link.linkid).map_err(|e| e.0)?,
            resolver_replies: rig.info(link.linkid).counters.resolver_replies,
        };
        let (m, b) = (&acc.mac, &acc.bridge);
        let write_drops = m.ierrors + m.norcvbuf + m.oerrors;
        let checks = [
            (acc.linux.tx_packets == b.to_mac_frames, "every frame Linux sent was bridged"),
            (acc.accepted == b.to_mac_frames && client.tx_backlog() == 0, "mc_tx took every frame in the end"),
            (
                b.to_mac_frames == m.opackets + acc.resolver_replies + m.drops(),
                "each frame was delivered, answered, or counted as dropped",
            ),
            (app.read == m.opackets && app.read_bytes == m.obytes, "the queues got exactly opackets/obytes"),
            (app.written == m.ipackets || app.written == m.ipackets + write_drops, "every write passed up or counted"),
            // A frame in flight when the test sets the TAP down fails to
            // write (EIO): counted by the bridge, never seen by Linux.
            (
                b.to_tap_frames + b.tap_write_errors == m.ipackets + acc.resolver_replies,
                "everything passed up reached the bridge (written to the TAP or counted as failed)",
            ),
            (acc.linux.rx_packets == b.to_tap_frames, "and Linux"),
        ];
        match checks.iter().find(|(ok, _)| !ok) {
            Some((_, what)) => Err(format!("link {}: {what}:\n{acc:#?}\napp side {app:?}", link.link_name)),
            None => Ok(acc),
        }
    }
}

/// The link's counters through `mc_getstat` (what `dladm show-link -s`
/// and kstat read), for the statistics the driver keeps.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MacStats {
    pub ipackets: u64,
    pub rbytes: u64,
    pub opackets: u64,
    pub obytes: u64,
    pub ierrors: u64,
    pub oerrors: u64,
    pub norcvbuf: u64,
    pub noxmtbuf: u64,
    pub unknowns: u64,
}

impl MacStats {
    /// Read every statistic of `link` with `mc_getstat`.
    pub fn read(rig: &Rig, link: DatalinkId) -> Result<MacStats> {
        let g = |stat: u32, name: &str| {
            rig.host.get_stat(link, stat).map_err(|e| HarnessError(format!("mc_getstat {name} of link {link}: errno {e}")))
        };
        Ok(MacStats {
            ipackets: g(sys::MAC_STAT_IPACKETS, "ipackets")?,
            rbytes: g(sys::MAC_STAT_RBYTES, "rbytes")?,
            opackets: g(sys::MAC_STAT_OPACKETS, "opackets")?,
            obytes: g(sys::MAC_STAT_OBYTES, "obytes")?,
            ierrors: g(sys::MAC_STAT_IERRORS, "ierrors")?,
            oerrors: g(sys::MAC_STAT_OERRORS, "oerrors")?,
            norcvbuf: g(sys::MAC_STAT_NORCVBUF, "norcvbuf")?,
            noxmtbuf: g(sys::MAC_STAT_NOXMTBUF, "noxmtbuf")?,
            unknowns: g(sys::MAC_STAT_UNKNOWNS, "unknowns")?,
        })
    }

    /// Every drop counter summed.
    pub fn drops(&self) -> u64 {
        self.ierrors + self.oerrors + self.norcvbuf + self.noxmtbuf + self.unknowns
    }
}
