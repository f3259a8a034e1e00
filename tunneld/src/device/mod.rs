// SPDX-License-Identifier: MPL-2.0
//! The device layer: one tun or tap link, whatever carries it.
//!
//! Every backend implements [`Device`], a small blocking interface (read
//! one packet, write one packet or queue several and flush them as one
//! write, MTU, name, close).  The daemon never calls it from an async
//! task: [`DeviceIo`] runs the blocking calls on dedicated threads (a
//! reader per queue of a multi-queue link, [`queues`], and one writer)
//! and bridges them to tokio with bounded channels,
//! so a slow device pushes back on the TLS connection and a slow peer
//! pushes back on the device (the driver then queues and, past its
//! limits, drops and counts).
//!
//! Backends:
//! * [`illumos`] (`target_os = "illumos"`): the tuntap driver's API,
//!   `/dev/tun` or `/dev/tap` attached to a link by name.
//! * [`sim`] (feature `sim`): a queue on a link of the simulated illumos
//!   host (`tuntap-sim`), the driver's own code underneath.
//! * [`linux`] (`target_os = "linux"`): Linux's `/dev/net/tun`, so the
//!   daemon can be measured next to other VPNs.
//! * [`memory`]: an in-process link whose other side is a test's handle.

use std::fmt;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread::JoinHandle;

use tokio::sync::{mpsc, watch};

use crate::counters::Counters;
use crate::table::Table;

#[cfg(any(target_os = "illumos", target_os = "linux"))]
mod fdpoll;
#[cfg(target_os = "illumos")]
pub mod illumos;
#[cfg(target_os = "linux")]
pub mod linux;
pub mod memory;
pub mod gso;
pub mod queues;
pub mod records;
#[cfg(feature = "sim")]
pub mod sim;
pub mod vnet;

/// What the driver backends (illumos, sim) turn on when they attach.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Features {
    /// Several packets per write (`TUN_IOC_BATCH` `WRITE`), where the
    /// driver has it; reads are batched whenever it does.
    pub batch_writes: bool,
    /// Checksum and segmentation offload (`TUN_IOC_OFFLOAD`, the
    /// virtio-net header): IP hands the queue partial checksums and large
    /// TCP segments, which [`gso`] finishes and cuts.  Needs batched
    /// reads (the segments of one read come out as one burst).
    pub offload: bool,
}

impl Default for Features {
    fn default() -> Features {
        Features { batch_writes: true, offload: false }
    }
}

/// What handing packets to the link did: packets and bytes written, and
/// what was lost — packets of a write that failed, a packet the queue
/// can never take, batched writes the driver refused whole
/// (`TUN_IOC_BATCH`'s `refused`, found some time after the write) — with
/// the error that cost them.
#[derive(Debug, Default)]
pub struct Flushed {
    pub packets: u64,
    pub bytes: u64,
    pub lost: u64,
    pub refused_batches: u64,
    pub error: Option<DeviceError>,
}

impl Flushed {
    /// One packet's write.
    pub fn one(result: Result<(), DeviceError>, len: usize) -> Flushed {
        match result {
            Ok(()) => Flushed { packets: 1, bytes: len as u64, ..Flushed::default() },
            Err(e) => Flushed { lost: 1, error: Some(e), ..Flushed::default() },
        }
    }

    /// Add `other` (its error replaces ours: the latest is reported).
    pub fn merge(&mut self, other: Flushed) {
        self.packets += other.packets;
        self.bytes += other.bytes;
        self.lost += other.lost;
        self.refused_batches += other.refused_batches;
        if other.error.is_some() {
            self.error = other.error;
        }
    }

    /// Count it in `c` (written: `rx_packets`/`rx_bytes`; lost:
    /// `device_write_errors`; refused: `device_batches_refused`) and log a
    /// loss (the first ten of each caller, `reported`).  Err: the link is
    /// closed or gone, the caller stops.
    pub(crate) fn account(self, c: &Counters, link: &str, reported: &AtomicU32) -> Result<(), DeviceError> {
        c.add(&c.rx_packets, self.packets);
        c.add(&c.rx_bytes, self.bytes);
        c.add(&c.device_write_errors, self.lost);
        c.add(&c.device_batches_refused, self.refused_batches);
        match self.error {
            Some(e @ (DeviceError::Closed | DeviceError::Gone(_))) => Err(e),
            Some(e) if reported.fetch_add(1, Ordering::Relaxed) < 10 => {
                tracing::warn!("link {link}: {} packets lost, {} batched writes refused: {e}", self.lost, self.refused_batches);
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

/// What a link carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// IP packets (IPv4 or IPv6), no link header.
    Tun,
    /// Ethernet frames.
    Tap,
}

impl Mode {
    /// The most bytes a packet may carry beyond the MTU: an Ethernet
    /// header with one 802.1Q tag on tap, nothing on tun.
    pub fn link_header_len(self) -> usize {
        match self {
            Mode::Tun => 0,
            Mode::Tap => 14 + 4,
        }
    }

    /// The largest packet a link of this mode and `mtu` carries.
    pub fn max_packet(self, mtu: usize) -> usize {
        mtu + self.link_header_len()
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::Tun => "tun",
            Mode::Tap => "tap",
        })
    }
}

/// Why a device call failed.
#[derive(Debug)]
pub enum DeviceError {
    /// [`Device::close`] was called: the normal end.
    Closed,
    /// The link went away underneath (deleted, hung up): fatal.
    Gone(String),
    /// One call failed; the device may still work.
    Io(io::Error),
}

impl fmt::Display for DeviceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeviceError::Closed => f.write_str("device closed"),
            DeviceError::Gone(why) => write!(f, "link gone: {why}"),
            DeviceError::Io(e) => write!(f, "{e}"),
        }
    }
}

/// One attached tun/tap link.  All methods are blocking and may be
/// called from different threads at once: one reader, and writers (the
/// writer thread for packets that came over TLS, a UDP session's
/// receiving thread, [`crate::fastpath`]); each write is one packet.
pub trait Device: Send + Sync + 'static {
    /// The link's name.
    fn name(&self) -> &str;
    /// The link's MTU (IP bytes per packet).
    fn mtu(&self) -> usize;
    /// Tun or tap.
    fn mode(&self) -> Mode;
    /// Block until one packet arrives from the link and copy it into
    /// `buf` (at least [`Mode::max_packet`] bytes); its length.
    /// [`DeviceError::Closed`] once [`Device::close`] was called.
    fn read_packet(&self, buf: &mut [u8]) -> Result<usize, DeviceError>;
    /// Hand one packet to the link.
    fn write_packet(&self, packet: &[u8]) -> Result<(), DeviceError>;
    /// Detach from the link and wake a blocked reader.  Idempotent.
    fn close(&self);
    /// Report the peer's liveness as the link's carrier (up while a
    /// session is up).  Backends without a carrier control ignore it.
    fn set_carrier(&self, _up: bool) {}
    /// A packet if one is queued now, without waiting (None: nothing
    /// queued, or the backend cannot tell).  Lets the reader take a
    /// burst and send it with one system call.
    fn try_read_packet(&self, _buf: &mut [u8]) -> Result<Option<usize>, DeviceError> {
        Ok(None)
    }
    /// Hand one packet to the link, possibly held with others for one
    /// write until [`Device::flush`] (or until the batch is full).
    /// Counts what was written or lost by this call.
    fn queue_packet(&self, packet: &[u8]) -> Flushed {
        Flushed::one(self.write_packet(packet), packet.len())
    }
    /// Write what [`Device::queue_packet`] holds.
    fn flush(&self) -> Flushed {
        Flushed::default()
    }
    /// The queues of a multi-queue link, each to be read by its own
    /// thread (empty: this device is the only queue).
    fn queues(&self) -> Vec<Arc<dyn Device>> {
        Vec::new()
    }
}

/// A [`Device`] driven by two threads: the reader hands each packet to
/// its peer's route ([`crate::table::Table::dispatch`]: sealed and sent
/// there on UDP), the writer takes packets that came over TLS.
pub(crate) struct DeviceIo {
    device: Arc<dyn Device>,
    /// Set once, with why, when the link went away (fatal).
    pub failed: watch::Receiver<Option<String>>,
    /// Packets to write to the link (TCP transport).
    pub to_device: mpsc::Sender<Vec<u8>>,
    readers: Vec<JoinHandle<()>>,
    writer: Option<JoinHandle<()>>,
}

impl DeviceIo {
    /// Start the two threads.  `depth` bounds the writer's channel
    /// (packets).
    pub fn start(device: Arc<dyn Device>, depth: usize, counters: Arc<Counters>, table: Arc<Table>) -> io::Result<DeviceIo> {
        let (failed_tx, failed) = watch::channel::<Option<String>>(None);
        let (out_tx, mut out_rx) = mpsc::channel::<Vec<u8>>(depth);
        let name = device.name().to_string();
        let mut queues = device.queues();
        if queues.is_empty() {
            queues.push(device.clone());
        }
        let mut readers = Vec::new();
        for (q, device) in queues.into_iter().enumerate() {
            let counters = counters.clone();
            let table = table.clone();
            let failed_tx = failed_tx.clone();
            readers.push(std::thread::Builder::new().name(format!("tunneld-{name}-rd{q}")).spawn(move || {
                let size = device.mode().max_packet(device.mtu()).max(65_535 + 18);
                let mut buf = vec![0u8; size];
                // A burst: the packet just read and those queued behind it.
                let mut burst: Vec<Vec<u8>> = Vec::new();
                let mut lens: Vec<usize> = Vec::new();
                let mut reported = 0u32;
                loop {
                    match device.read_packet(&mut buf) {
                        Ok(n) => {
                            let packet = buf.get(..n).unwrap_or_default();
                            if table.is_empty() {
                                counters.add(&counters.tx_dropped_no_peer, 1);
                                continue;
                            }
                            lens.clear();
                            while lens.len() + 1 < crate::batch::BATCH {
                                if burst.len() <= lens.len() {
                                    burst.push(vec![0u8; size]);
                                }
                                let Some(b) = burst.get_mut(lens.len()) else { break };
                                match device.try_read_packet(b) {
                                    Ok(Some(m)) => lens.push(m),
                                    _ => break,
                                }
                            }
                            let more = burst.iter().zip(&lens).map(|(b, &m)| b.get(..m).unwrap_or_default());
                            table.dispatch(std::iter::once(packet).chain(more), &counters);
                        }
                        Err(DeviceError::Closed) => return,
                        Err(DeviceError::Gone(why)) => {
                            let _ = failed_tx.send(Some(format!("link {}: {why}", device.name())));
                            return;
                        }
                        Err(DeviceError::Io(e)) => {
                            counters.add(&counters.device_read_errors, 1);
                            if reported < 10 {
                                reported += 1;
                                tracing::warn!("link {}: read failed: {e}", device.name());
                            }
                            // Do not spin on a persistent error.
                            std::thread::sleep(std::time::Duration::from_millis(10));
                        }
                    }
                }
            })?);
        }
        let writer = {
            let device = device.clone();
            std::thread::Builder::new().name(format!("tunneld-{name}-wr")).spawn(move || {
                let reported = AtomicU32::new(0);
                while let Some(packet) = out_rx.blocking_recv() {
                    // What else is waiting goes in the same write.
                    let mut done = device.queue_packet(&packet);
                    for _ in 1..crate::batch::BATCH {
                        let Ok(packet) = out_rx.try_recv() else { break };
                        done.merge(device.queue_packet(&packet));
                    }
                    done.merge(device.flush());
                    if let Err(DeviceError::Closed) = done.account(&counters, device.name(), &reported) {
                        return;
                    }
                }
            })?
        };
        Ok(DeviceIo { device, failed, to_device: out_tx, readers, writer: Some(writer) })
    }

    /// Close the device (detaching the link) and join both threads.
    pub fn stop(mut self) {
        self.device.close();
        drop(self.to_device);
        for r in self.readers.drain(..) {
            let _ = r.join();
        }
        if let Some(w) = self.writer.take() {
            let _ = w.join();
        }
    }
}
