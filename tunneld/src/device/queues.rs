// SPDX-License-Identifier: MPL-2.0
//! Several queues of one multi-queue link as one [`Device`]: the driver
//! spreads the link's packets over its queues by flow (tun(4D),
//! `MULTI_QUEUE`), [`super::DeviceIo`] reads each queue on its own
//! thread ([`Device::queues`]), and packets for the link are written
//! through the first queue (any queue's writes reach the link the
//! same way).  Closing closes every queue; the carrier is the link's,
//! set through the first.

use std::sync::Arc;

use super::{Device, DeviceError, Flushed, Mode};

/// The queues of one link, the first one writing.
pub struct Queues {
    queues: Vec<Arc<dyn Device>>,
}

impl Queues {
    /// At least one queue, all of the same link.
    pub fn new(queues: Vec<Arc<dyn Device>>) -> Option<Queues> {
        (!queues.is_empty()).then_some(Queues { queues })
    }

    fn first(&self) -> &Arc<dyn Device> {
        // new() refuses an empty list.
        &self.queues[0]
    }
}

impl Device for Queues {
    fn name(&self) -> &str {
        self.first().name()
    }
    fn mtu(&self) -> usize {
        self.first().mtu()
    }
    fn mode(&self) -> Mode {
        self.first().mode()
    }
    fn read_packet(&self, buf: &mut [u8]) -> Result<usize, DeviceError> {
        self.first().read_packet(buf)
    }
    fn try_read_packet(&self, buf: &mut [u8]) -> Result<Option<usize>, DeviceError> {
        self.first().try_read_packet(buf)
    }
    fn write_packet(&self, packet: &[u8]) -> Result<(), DeviceError> {
        self.first().write_packet(packet)
    }
    fn queue_packet(&self, packet: &[u8]) -> Flushed {
        self.first().queue_packet(packet)
    }
    fn flush(&self) -> Flushed {
        self.first().flush()
    }
    fn set_carrier(&self, up: bool) {
        self.first().set_carrier(up)
    }
    fn close(&self) {
        for q in &self.queues {
            q.close();
        }
    }
    fn queues(&self) -> Vec<Arc<dyn Device>> {
        self.queues.clone()
    }
}
