// SPDX-License-Identifier: MPL-2.0
//! An in-process link: the daemon's side is a [`MemoryDevice`], the
//! "IP stack" side a [`MemoryPort`] held by a test or a benchmark.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::time::Duration;

use super::{Device, DeviceError, Mode};

/// The daemon's side of an in-process link.
pub struct MemoryDevice {
    name: String,
    mode: Mode,
    mtu: usize,
    from_stack: Mutex<Receiver<Vec<u8>>>,
    to_stack: SyncSender<Vec<u8>>,
    closed: AtomicBool,
    carrier: AtomicBool,
}

/// The stack's side: send packets into the link, receive what the
/// daemon wrote.
pub struct MemoryPort {
    pub to_daemon: SyncSender<Vec<u8>>,
    pub from_daemon: Receiver<Vec<u8>>,
}

impl MemoryDevice {
    /// A link named `name` with queues of `depth` packets each way.
    pub fn new(name: &str, mode: Mode, mtu: usize, depth: usize) -> (MemoryDevice, MemoryPort) {
        let (to_daemon, from_stack) = sync_channel(depth);
        let (to_stack, from_daemon) = sync_channel(depth);
        let dev = MemoryDevice {
            name: name.to_string(),
            mode,
            mtu,
            from_stack: Mutex::new(from_stack),
            to_stack,
            closed: AtomicBool::new(false),
            carrier: AtomicBool::new(true),
        };
        (dev, MemoryPort { to_daemon, from_daemon })
    }

    /// The carrier as the daemon last set it (up until it says).
    pub fn carrier(&self) -> bool {
        self.carrier.load(Ordering::SeqCst)
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }
}

impl Device for MemoryDevice {
    fn name(&self) -> &str {
        &self.name
    }
    fn mtu(&self) -> usize {
        self.mtu
    }
    fn mode(&self) -> Mode {
        self.mode
    }
    fn read_packet(&self, buf: &mut [u8]) -> Result<usize, DeviceError> {
        let rx = self.from_stack.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if self.is_closed() {
                return Err(DeviceError::Closed);
            }
            match rx.recv_timeout(Duration::from_millis(50)) {
                Ok(p) => {
                    let n = p.len().min(buf.len());
                    buf[..n].copy_from_slice(&p[..n]);
                    return Ok(n);
                }
                Err(RecvTimeoutError::Timeout) => continue,
                Err(RecvTimeoutError::Disconnected) => return Err(DeviceError::Gone("the stack side hung up".into())),
            }
        }
    }
    fn write_packet(&self, packet: &[u8]) -> Result<(), DeviceError> {
        if self.is_closed() {
            return Err(DeviceError::Closed);
        }
        let mut packet = packet.to_vec();
        loop {
            match self.to_stack.try_send(packet) {
                Ok(()) => return Ok(()),
                Err(TrySendError::Full(p)) if !self.is_closed() => {
                    packet = p;
                    std::thread::sleep(Duration::from_micros(200));
                }
                Err(TrySendError::Full(_)) => return Err(DeviceError::Closed),
                Err(TrySendError::Disconnected(_)) => return Err(DeviceError::Gone("the stack side hung up".into())),
            }
        }
    }
    fn set_carrier(&self, up: bool) {
        self.carrier.store(up, Ordering::SeqCst);
    }
    fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
    }
}
