// SPDX-License-Identifier: MPL-2.0
//! A queue on a link of the simulated illumos host (feature `sim`).
//!
//! This is the driver's API exactly as the illumos backend uses it —
//! open `/dev/tun` or `/dev/tap` (a clone open), `TUN_IOC_ATTACH` by link
//! name, batched reads (`TUN_IOC_BATCH`: a run of queued packets per
//! read, handed to the daemon as one burst) and batched writes (the
//! packets queued until a flush, [`BatchWriter`]) where the driver has
//! them, checksum and segmentation offload (`TUN_IOC_OFFLOAD`, the
//! virtio-net header, [`super::gso`]) when asked, several queues of a
//! multi-queue link ([`SimDevice::attach_queues`]) — but against
//! `tuntap-sim`'s stream head, with the driver's own code underneath.
//! [`SimStream`]'s calls block, which is what [`Device`] expects.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tuntap_abi::{self as abi, TunIocAttach, TunIocInfo};
use tuntap_drv::ddi::node_minor;
use tuntap_sim::{SimHost, SimStream};

use std::sync::Arc;

use tuntap_abi::batch::{TunIocBatch, batch_flags};
use tuntap_abi::offload::{TunIocOffload, offload_flags};

use super::records::{BatchWriter, Records};
use super::{Device, DeviceError, Features, Flushed, Mode};

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
    /// Reads done (system calls on illumos).
    reads: AtomicU64,
    /// Batched writes are on: packets gather here until a flush.
    writer: Option<BatchWriter>,
    /// The flags batching was turned on with (to ask for its counters).
    batch_req: TunIocBatch,
    /// The virtio-net header is on (reads expanded by [`super::gso`]).
    offload: bool,
    /// Records whose virtio-net header did not describe the packet.
    bad_headers: AtomicU64,
    /// One-packet writes done.
    single_writes: AtomicU64,
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
        Self::attach_features(host, name, mode, extra_flags, Features::default())
    }

    /// `n` queues of link `name` (`MULTI_QUEUE`), one [`Device`] whose
    /// [`Device::queues`] the daemon reads with a thread each.
    pub fn attach_queues(host: &SimHost, name: &str, mode: Mode, n: usize, features: Features) -> Result<(super::queues::Queues, Vec<Arc<SimDevice>>), String> {
        let queues = (0..n.max(1))
            .map(|_| Self::attach_features(host, name, mode, abi::attach_flags::MULTI_QUEUE, features).map(Arc::new))
            .collect::<Result<Vec<_>, String>>()?;
        let devices = queues.iter().map(|q| q.clone() as Arc<dyn Device>).collect();
        let all = super::queues::Queues::new(devices).ok_or("no queue")?;
        Ok((all, queues))
    }

    /// As [`SimDevice::attach_with`], with batched writes and offload as
    /// `features` asks (each where the driver has it).
    pub fn attach_features(host: &SimHost, name: &str, mode: Mode, extra_flags: u32, features: Features) -> Result<SimDevice, String> {
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
        let flags = if features.batch_writes { batch_flags::ALL } else { batch_flags::READ };
        let batch_req = TunIocBatch { version: abi::TUN_ABI_VERSION, flags, ..TunIocBatch::default() };
        let batched = stream.ioctl_istr(abi::TUN_IOC_BATCH, abi::as_bytes(&batch_req)).is_ok();
        // Offload only with batched reads (a large segment's pieces leave
        // as one burst); an older driver refuses and packets stay plain.
        let req = TunIocOffload { version: abi::TUN_ABI_VERSION, flags: offload_flags::ALL, ..TunIocOffload::default() };
        let offload = features.offload && batched && stream.ioctl_istr(abi::TUN_IOC_OFFLOAD, abi::as_bytes(&req)).is_ok();
        let prefix: &'static [u8] = if offload { &super::gso::WRITE_HDR } else { &[] };
        let writer = (batched && features.batch_writes).then(|| BatchWriter::new(mode.max_packet(info.mtu as usize), prefix));
        Ok(SimDevice {
            stream,
            name: name.to_string(),
            mode,
            mtu: info.mtu as usize,
            batched,
            records: Mutex::new(Records::default()),
            multi_reads: AtomicU64::new(0),
            reads: AtomicU64::new(0),
            writer,
            batch_req,
            offload,
            bad_headers: AtomicU64::new(0),
            single_writes: AtomicU64::new(0),
        })
    }

    /// Whether writes are batched.
    pub fn batched_writes(&self) -> bool {
        self.writer.is_some()
    }

    /// Whether the virtio-net header is on (`TUN_IOC_OFFLOAD` accepted).
    pub fn offload(&self) -> bool {
        self.offload
    }

    /// Reads (system calls) so far.
    pub fn reads(&self) -> u64 {
        self.reads.load(Ordering::Relaxed)
    }

    /// Writes (system calls) so far, batched or not.
    pub fn writes(&self) -> u64 {
        self.single_writes.load(Ordering::Relaxed) + self.writer.as_ref().map_or(0, BatchWriter::writes)
    }

    /// Records read whose virtio-net header did not describe the packet.
    pub fn bad_headers(&self) -> u64 {
        self.bad_headers.load(Ordering::Relaxed)
    }

    /// One write(2) of `bytes` on the stream.
    fn write_once(&self, bytes: &[u8]) -> Result<(), DeviceError> {
        match self.stream.write(bytes) {
            Ok(_) => Ok(()),
            Err(EBADF) => Err(DeviceError::Closed),
            Err(ENXIO) => Err(DeviceError::Gone("the link is gone (ENXIO)".into())),
            Err(e) => Err(DeviceError::Io(std::io::Error::other(format!("write: illumos errno {e}")))),
        }
    }

    /// `TUN_IOC_BATCH` with the flags in force: the refusal counters.
    fn batch_status(&self) -> Option<TunIocBatch> {
        let reply = self.stream.ioctl_istr(abi::TUN_IOC_BATCH, abi::as_bytes(&self.batch_req)).ok()?;
        abi::decode(&reply.data).ok()
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
                    self.reads.fetch_add(1, Ordering::Relaxed);
                    let mut records = self.records();
                    if self.offload {
                        let bad = records.fill_offload(p, self.mode == Mode::Tap).map_err(|e| DeviceError::Io(std::io::Error::other(e)))?;
                        self.bad_headers.fetch_add(bad, Ordering::Relaxed);
                    } else {
                        records.fill(p).map_err(|e| DeviceError::Io(std::io::Error::other(e)))?;
                    }
                    let n = records.next(buf).ok_or_else(|| DeviceError::Io(std::io::Error::other("empty batched read")))?;
                    if records.remaining() > 0 {
                        self.multi_reads.fetch_add(1, Ordering::Relaxed);
                    }
                    return Ok(n);
                }
                Ok(p) => {
                    self.reads.fetch_add(1, Ordering::Relaxed);
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
        if let Some(w) = &self.writer {
            return w.write_now(packet, |b| self.write_once(b), || self.batch_status());
        }
        self.single_writes.fetch_add(1, Ordering::Relaxed);
        if self.offload {
            return self.write_once(&super::gso::with_write_hdr(packet));
        }
        self.write_once(packet)
    }
    fn queue_packet(&self, packet: &[u8]) -> Flushed {
        match &self.writer {
            Some(w) => w.queue(packet, |b| self.write_once(b)),
            None => Flushed::one(self.write_packet(packet), packet.len()),
        }
    }
    fn flush(&self) -> Flushed {
        match &self.writer {
            Some(w) => w.flush(|b| self.write_once(b), || self.batch_status()),
            None => Flushed::default(),
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
