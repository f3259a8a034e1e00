// SPDX-License-Identifier: MPL-2.0
//! The device layer: one tun or tap link, whatever carries it.
//!
//! Every backend implements [`Device`], a small blocking interface (read
//! one packet, write one packet, MTU, name, close).  The daemon never
//! calls it from an async task: [`DeviceIo`] runs the blocking calls on
//! two dedicated threads and bridges them to tokio with bounded channels,
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
pub mod records;
#[cfg(feature = "sim")]
pub mod sim;
pub mod vnet;

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
    /// Write what [`Device::write_packet`] held back to merge (a backend
    /// that coalesces writes, [`linux`] with offload).  Every writer
    /// calls it when it has no more packets at hand.
    fn flush(&self) -> Result<(), DeviceError> {
        Ok(())
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
    reader: Option<JoinHandle<()>>,
    writer: Option<JoinHandle<()>>,
}

impl DeviceIo {
    /// Start the two threads.  `depth` bounds the writer's channel
    /// (packets).
    pub fn start(device: Arc<dyn Device>, depth: usize, counters: Arc<Counters>, table: Arc<Table>) -> io::Result<DeviceIo> {
        let (failed_tx, failed) = watch::channel::<Option<String>>(None);
        let (out_tx, mut out_rx) = mpsc::channel::<Vec<u8>>(depth);
        let name = device.name().to_string();
        let reader = {
            let device = device.clone();
            let counters = counters.clone();
            std::thread::Builder::new().name(format!("tunneld-{name}-rd")).spawn(move || {
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
            })?
        };
        let writer = {
            let device = device.clone();
            std::thread::Builder::new().name(format!("tunneld-{name}-wr")).spawn(move || {
                let mut reported = 0u32;
                while let Some(packet) = out_rx.blocking_recv() {
                    match device.write_packet(&packet) {
                        Ok(()) => {
                            counters.add(&counters.rx_packets, 1);
                            counters.add(&counters.rx_bytes, packet.len() as u64);
                        }
                        Err(DeviceError::Closed) => return,
                        Err(e) => {
                            counters.add(&counters.device_write_errors, 1);
                            if reported < 10 {
                                reported += 1;
                                tracing::warn!("link {}: write of a {}-byte packet failed: {e}", device.name(), packet.len());
                            }
                        }
                    }
                    if out_rx.is_empty() && device.flush().is_err() {
                        counters.add(&counters.device_write_errors, 1);
                    }
                }
            })?
        };
        Ok(DeviceIo { device, failed, to_device: out_tx, reader: Some(reader), writer: Some(writer) })
    }

    /// Close the device (detaching the link) and join both threads.
    pub fn stop(mut self) {
        self.device.close();
        drop(self.to_device);
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
        if let Some(w) = self.writer.take() {
            let _ = w.join();
        }
    }
}
