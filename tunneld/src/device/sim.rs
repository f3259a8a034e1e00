// SPDX-License-Identifier: MPL-2.0
//! A queue on a link of the simulated illumos host (feature `sim`).
//!
//! This is the driver's API exactly as the illumos backend uses it —
//! open `/dev/tun` or `/dev/tap` (a clone open), `TUN_IOC_ATTACH` by link
//! name, batched reads (`TUN_IOC_BATCH`: a run of queued packets per
//! read, handed to the daemon as one burst) where the driver has them,
//! one packet per write — but against `tuntap-sim`'s stream head, with
//! the driver's own code underneath.  [`SimStream`]'s calls block, which
//! is what [`Device`] expects.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tuntap_abi::{self as abi, TunIocAttach, TunIocInfo};
use tuntap_drv::ddi::node_minor;
use tuntap_sim::{SimHost, SimStream};

use tuntap_abi::batch::{TunIocBatch, batch_flags};

use super::records::Records;
use super::{Device, DeviceError, Mode};

use illumos_sys_hdrs::{EBADF, ENXIO, ETIME};

/// A queue attached to a simulated link.
pub struct SimDevice {
    stream: SimStream,
    name: String,
    mode: Mode,
    mtu: usize,
    /// Batched reads are on (`TUN_IOC_BATCH`): each read is a run of
    /// records, handed out one packet at a time.
    batched: bool,
    records: Mutex<Records>,
    /// Reads that returned more than one packet (for tests and benches).
    multi_reads: AtomicU64,
}

impl SimDevice {
    /// Open the node for `mode` on `host` as root and attach to the
    /// existing link `name`.  The error names the link and the errno.
    pub fn attach(host: &SimHost, name: &str, mode: Mode) -> Result<SimDevice, String> {
        Self::attach_with(host, name, mode, 0)
    }

    /// As [`SimDevice::attach`], with extra [`abi::attach_flags`] (e.g.
    /// `CREATE` for a transient link, `EXCLUSIVE`).
    pub fn attach_with(host: &SimHost, name: &str, mode: Mode, extra_flags: u32) -> Result<SimDevice, String> {
        let (node, flag, path) = match mode {
            Mode::Tun => (node_minor::TUN, abi::mode::TUN, "/dev/tun"),
            Mode::Tap => (node_minor::TAP, abi::mode::TAP, "/dev/tap"),
        };
        let stream = host
            .open(illumos_sys_hdrs::MAC_PRIVATE_MINOR + node, &host.root_cred())
            .map_err(|e| format!("open {path}: errno {e}"))?;
        let req = TunIocAttach::new(name, flag | extra_flags).map_err(|e| format!("link name {name:?}: {e}"))?;
        stream
            .ioctl_istr(abi::TUN_IOC_ATTACH, abi::as_bytes(&req))
            .map_err(|e| format!("attach {path} to link {name}: errno {e}"))?;
        let info = TunIocInfo { version: abi::TUN_ABI_VERSION, ..TunIocInfo::default() };
        let reply = stream
            .ioctl_istr(abi::TUN_IOC_INFO, abi::as_bytes(&info))
            .map_err(|e| format!("describe link {name}: errno {e}"))?;
        let info: TunIocInfo = abi::decode(&reply.data).map_err(|e| format!("describe link {name}: {e:?}"))?;
        // Batched reads where the driver has them (an older driver answers
        // EINVAL or ENOTSUP: one packet per read, as before).
        let req = TunIocBatch { version: abi::TUN_ABI_VERSION, flags: batch_flags::READ, ..TunIocBatch::default() };
        let batched = stream.ioctl_istr(abi::TUN_IOC_BATCH, abi::as_bytes(&req)).is_ok();
        Ok(SimDevice {
            stream,
            name: name.to_string(),
            mode,
            mtu: info.mtu as usize,
            batched,
            records: Mutex::new(Records::default()),
            multi_reads: AtomicU64::new(0),
        })
    }

    /// Whether reads are batched (`TUN_IOC_BATCH` accepted).
    pub fn batched(&self) -> bool {
        self.batched
    }

    /// Reads that carried more than one packet so far.
    pub fn multi_packet_reads(&self) -> u64 {
        self.multi_reads.load(Ordering::Relaxed)
    }

    fn records(&self) -> std::sync::MutexGuard<'_, Records> {
        self.records.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The underlying stream (for tests that inspect it).
    pub fn stream(&self) -> &SimStream {
        &self.stream
    }
}

impl Device for SimDevice {
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
        if let Some(n) = self.records().next(buf) {
            return Ok(n);
        }
        loop {
            match self.stream.read_packet(Some(Duration::from_secs(1))) {
                Ok(p) if p.is_empty() && self.stream.is_hung_up() => {
                    return Err(DeviceError::Gone("the driver hung up the queue (link deleted?)".into()));
                }
                Ok(p) if self.batched => {
                    let mut records = self.records();
                    records.fill(p).map_err(|e| DeviceError::Io(std::io::Error::other(e)))?;
                    let n = records.next(buf).ok_or_else(|| DeviceError::Io(std::io::Error::other("empty batched read")))?;
                    if records.remaining() > 0 {
                        self.multi_reads.fetch_add(1, Ordering::Relaxed);
                    }
                    return Ok(n);
                }
                Ok(p) => {
                    let n = p.len().min(buf.len());
                    buf[..n].copy_from_slice(&p[..n]);
                    return Ok(n);
                }
                Err(ETIME) => continue,
                Err(EBADF) => return Err(DeviceError::Closed),
                Err(ENXIO) => return Err(DeviceError::Gone("the link is gone (ENXIO)".into())),
                Err(e) => return Err(DeviceError::Io(std::io::Error::other(format!("read: illumos errno {e}")))),
            }
        }
    }
    fn write_packet(&self, packet: &[u8]) -> Result<(), DeviceError> {
        match self.stream.write(packet) {
            Ok(_) => Ok(()),
            Err(EBADF) => Err(DeviceError::Closed),
            Err(ENXIO) => Err(DeviceError::Gone("the link is gone (ENXIO)".into())),
            Err(e) => Err(DeviceError::Io(std::io::Error::other(format!("write: illumos errno {e}")))),
        }
    }
    fn try_read_packet(&self, buf: &mut [u8]) -> Result<Option<usize>, DeviceError> {
        Ok(self.records().next(buf))
    }
    fn set_carrier(&self, up: bool) {
        // TUN_IOC_SET_CARRIER on the queue: a u32, 1 on, 0 off.
        if self.stream.is_open() {
            let _ = self.stream.ioctl_istr(abi::TUN_IOC_SET_CARRIER, &u32::from(up).to_ne_bytes());
        }
    }
    fn close(&self) {
        if self.stream.is_open() {
            // Detach first, as the daemon does on illumos; closing alone
            // would also detach.
            let _ = self.stream.ioctl_istr(abi::TUN_IOC_DETACH, &[]);
        }
        self.stream.close();
    }
}
