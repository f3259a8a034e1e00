// SPDX-License-Identifier: MPL-2.0
//! The driver's STREAMS entry points (`qi_qopen`, `qi_qclose`, write
//! `qi_putp`, read `qi_srvp`; open(9E), close(9E), put(9E), srv(9E)) and
//! the non-ioctl messages: data, `M_FLUSH`, `M_SETOPTS`.
//!
//! # Theory statement
//!
//! Open gives each stream a clone minor and a [`Minor`] in `q_ptr` of
//! both queues; close detaches it from its link, waits for every data
//! path user of its read queue, turns procedures off and frees it.  The
//! write put procedure sorts messages by type: data to the attached
//! link, `M_IOCTL`/`M_IOCDATA` to the ioctl table (`ioctls.rs`),
//! `M_PROTO`/`M_PCPROTO` to DLPI (`dlpi/`), `M_FLUSH` answered as
//! put(9E) requires.  Locks: the table lock only to allocate or free a
//! minor number; nothing held across `putnext`/`qreply`.

use alloc::boxed::Box;
use alloc::sync::Arc;
use core::ptr;

use illumos_sys_hdrs as sys;
use illumos_sys_hdrs::dlpi::{DL_SYSERR, DL_UNITDATA_REQ};
use illumos_sys_hdrs::{mblk_t, queue_t};
use tuntap_abi::{self as abi, limits::node};

use super::Driver;
use crate::ddi::{Cred, DropReason, Errno, Kernel, Probe, StreamsEntry};
use crate::dlpi::prim as dlpi_prim;
use crate::frame;
use crate::ioctl;
use crate::mblk::MsgBlk;
use crate::minor::{Minor, Node};
use crate::queue::Queue;

impl<K: Kernel> Driver<K> {
    fn handle_data(&self, minor: &Minor<K>, msg: MsgBlk<K>) {
        let link = minor.link();
        let packet_info = minor.queue.packet_info();
        let vnet = minor.queue.vnet_hdr();
        match link {
            Some(link) if minor.queue.batch_writes() => match link.input_batch(msg, packet_info, vnet) {
                Err(crate::link::Refused::Framing(e, at)) => minor.queue.note_refused(e, at),
                Ok((_, bad)) => (0..bad).for_each(|_| minor.queue.note_bad_vnet()),
                Err(_) => {}
            },
            Some(link) => {
                if let Err(DropReason::BadOffload) = link.input(msg, packet_info, vnet) {
                    minor.queue.note_bad_vnet();
                }
            }
            None => {
                // Not attached: the write has nowhere to go.
                self.k.probe(Probe::Drop(0, DropReason::NoQueue));
                drop(msg);
            }
        }
    }

    /// Queue a control message for this stream's control task, starting
    /// one if none runs (see minor.rs, "Control work").  Never blocks.
    ///
    /// If the task cannot be dispatched (`ddi_taskq_dispatch` with
    /// `DDI_NOSLEEP` finds no memory), the queued requests are answered
    /// at once with `ENOMEM` (`M_IOCNAK`, or `DL_ERROR_ACK`/`DL_SYSERR`):
    /// the caller gets a clear error and may retry.  dld chose otherwise
    /// (`dld_wput_nondata` in usr/src/uts/common/io/dld/dld_str.c:
    /// `TQ_SLEEP` in the current gate, a `TQ_NOSLEEP` dispatch with a
    /// fallback worker thread in older ones); we keep a put procedure
    /// that never waits for memory and no thread of our own.
    fn queue_control(&self, wq: *mut queue_t, minor: &Arc<Minor<K>>, msg: MsgBlk<K>) {
        // The ioctl's credential outlives the ioctl if it times out while
        // queued (the stream head frees it then): hold it for the task.
        let cred = ioctl::message_cred(&msg);
        let start = {
            let mut c = minor.control.lock();
            if c.closing {
                drop(c);
                return self.refuse_control(wq, msg, sys::ENXIO);
            }
            if let Some(cr) = cred {
                self.k.cred_hold(cr);
            }
            c.pending.push_back(msg);
            !core::mem::replace(&mut c.running, true)
        };
        if !start {
            return;
        }
        // The task owns one reference to the stream's state.
        let arg = Arc::into_raw(minor.clone()).cast_mut().cast::<core::ffi::c_void>();
        // SAFETY: arg is a reference the task takes over; it stays valid
        // until the task has run (it owns it).
        if unsafe { self.k.dispatch_control(control_task::<K>, arg) }.is_err() {
            // SAFETY: not dispatched: take the task's reference back.
            let minor = unsafe { Arc::from_raw(arg.cast_const().cast::<Minor<K>>()) };
            self.fail_control(wq, &minor, sys::ENOMEM);
        }
    }

    /// Leave the stream's link and DLPI attachment (which may delete a
    /// transient link) on the control taskq, and wait for it: close runs
    /// on the closing process's thread, whose dlmgmtd door upcalls carry
    /// its zone (`i_dls_mgmt_upcall`), and dlmgmtd moves a link back out of
    /// a zone only for the global zone (`dlmgmt_setzoneid` in
    /// usr/src/cmd/dlmgmtd/dlmgmt_door.c); a signal would also cut such an
    /// upcall short (EINTR), where a taskq thread takes none.  The wait
    /// is `cv_wait`, not interruptible.  If the task cannot be dispatched
    /// the work is done here, as before.
    fn teardown_on_taskq(&self, minor: &Arc<Minor<K>>) {
        minor.control.lock().running = true;
        let arg = Arc::into_raw(minor.clone()).cast_mut().cast::<core::ffi::c_void>();
        // SAFETY: arg is a reference the task takes over.
        if unsafe { self.k.dispatch_control(teardown_task::<K>, arg) }.is_err() {
            // SAFETY: not dispatched: take the task's reference back.
            drop(unsafe { Arc::from_raw(arg.cast_const().cast::<Minor<K>>()) });
            self.teardown(minor);
            minor.control.lock().running = false;
            return;
        }
        let c = minor.control.lock();
        drop(minor.control.wait_until(c, &minor.control_idle, |c| !c.running));
    }

    /// Leave the link and the DLPI attachment (close's last work).
    fn teardown(&self, minor: &Arc<Minor<K>>) {
        if let Some(link) = minor.link() {
            self.detach_minor(minor, &link);
        }
        let plumbed = minor.state.lock().dlpi.as_mut().and_then(|d| d.link.take());
        if let Some(link) = plumbed {
            self.release_plumbing(minor, &link);
        }
    }

    /// The control task's loop: handle queued control messages in order
    /// until none is left (taskq context: may block, no user context).
    fn run_control(&self, minor: &Arc<Minor<K>>) {
        let wq = other_queue(minor.queue.rq());
        loop {
            let next = {
                let mut c = minor.control.lock();
                match c.pending.pop_front() {
                    Some(msg) => msg,
                    None => {
                        c.running = false;
                        minor.control_idle.broadcast();
                        return;
                    }
                }
            };
            let cred = ioctl::message_cred(&next);
            match next.db_type() {
                sys::M_IOCTL => self.handle_ioctl(wq, minor, next),
                sys::M_IOCDATA => self.handle_iocdata(wq, minor, next),
                _ => self.handle_dlpi(wq, minor, next),
            }
            if let Some(cr) = cred {
                self.k.cred_release(cr);
            }
        }
    }

    /// The control task could not be dispatched: answer every queued
    /// message with `error` so no caller waits for a reply that never
    /// comes (dld retries with a sleeping dispatch from a thread of its
    /// own; failing fast is the simpler promise).
    fn fail_control(&self, wq: *mut queue_t, minor: &Minor<K>, error: Errno) {
        let pending = {
            let mut c = minor.control.lock();
            c.running = false;
            minor.control_idle.broadcast();
            c.pending.take_all()
        };
        for msg in pending {
            if let Some(cr) = ioctl::message_cred(&msg) {
                self.k.cred_release(cr);
            }
            self.refuse_control(wq, msg, error);
        }
    }

    /// Answer a control message with an error, from wherever we are
    /// (never blocks): `M_IOCNAK` for an ioctl, `DL_ERROR_ACK` with
    /// `DL_SYSERR` for a DLPI request.
    fn refuse_control(&self, wq: *mut queue_t, msg: MsgBlk<K>, error: Errno) {
        match msg.db_type() {
            // A failed M_IOCDATA: the stream head already failed the
            // ioctl; nothing may answer it (mcopyin(9F)).
            sys::M_IOCDATA if ioctl::iocdata(&msg).is_none_or(|d| d.failed) => drop(msg),
            sys::M_IOCTL | sys::M_IOCDATA if ioctl::big_enough(&msg) => ioctl::nak(&self.k, wq, msg, error),
            sys::M_PROTO | sys::M_PCPROTO => {
                if let Some(prim) = msg.read_head::<u32>() {
                    dlpi_prim::error_ack(&self.k, wq, prim, DL_SYSERR, error as u32);
                }
            }
            _ => drop(msg),
        }
    }

    /// `M_FLUSH`, as put(9E) and dld's `dld_wput` (`case M_FLUSH`,
    /// usr/src/uts/common/io/dld/dld_str.c) answer it: `FLUSHW` discards
    /// the write side's queued data; `FLUSHR` empties the read side and
    /// is turned back up (with `FLUSHW` cleared) so the stream head
    /// empties its own; otherwise the message is freed.
    ///
    /// With `FLUSHBAND` only the band in the message's second byte is
    /// flushed (`flushband(q, pri, FLUSHDATA)`, usr/src/uts/common/io/
    /// stream.c, as `strrput`'s `M_FLUSH` case does on the read side):
    /// everything this driver queues (packets, DLPI requests) is band 0,
    /// so a flush of another band leaves it all.
    fn handle_flush(&self, wq: *mut queue_t, minor: &Minor<K>, mut msg: MsgBlk<K>) {
        let flags = msg.first_block().first().copied().unwrap_or(0);
        let band = if flags & sys::FLUSHBAND != 0 { msg.first_block().get(1).copied().unwrap_or(0) } else { 0 };
        let ours = band == 0;
        if flags & sys::FLUSHW != 0 && ours {
            self.flush_queued_requests(minor);
        }
        if flags & sys::FLUSHR != 0 {
            if ours {
                minor.queue.flush();
            }
            // Send it back up so the stream head flushes its read side;
            // clearing FLUSHW keeps it from bouncing back down.
            msg.set_first_byte(|f| f & !sys::FLUSHW);
            // SAFETY: wq is our write queue; the message is ours.
            unsafe { self.k.qreply(wq, msg.into_raw()) };
        } else {
            drop(msg);
        }
    }

    /// `FLUSHW`: discard the DLPI requests (`M_PROTO`/`M_PCPROTO`) still
    /// queued for the control task, unanswered, and keep its ioctls.
    ///
    /// The write side's queued data is what a driver with a write queue
    /// discards with `flushq(wq, FLUSHDATA)`, and flushq(9F) counts
    /// `M_PROTO` and `M_PCPROTO` as data (with `M_DATA` and `M_DELAY`);
    /// `control.pending` is this stream's write queue for them.
    /// OpenSolaris's dld flushed its queue of control messages the same
    /// way (`dld_flush_nondata` from `dld_wput`'s `M_FLUSH`, in the
    /// dld_str.c that had `dld_wput_nondata_task`), but freed queued ioctls
    /// too; today's illumos dld flushes none.  An ioctl is not data: flushq(9F) `FLUSHDATA`
    /// keeps it, and the caller sleeps in `strdoioctl`
    /// (usr/src/uts/common/os/streamio.c) until its one `M_IOCACK` or
    /// `M_IOCNAK`, so it stays queued in order and is answered once.  A
    /// request the task already took is not queued any more and is
    /// answered as usual.
    fn flush_queued_requests(&self, minor: &Minor<K>) {
        let mut flushed = crate::mblk::MsgQueue::<K>::new();
        {
            let mut c = minor.control.lock();
            for msg in c.pending.take_all() {
                match msg.db_type() {
                    sys::M_PROTO | sys::M_PCPROTO => flushed.push_back(msg),
                    _ => c.pending.push_back(msg),
                }
            }
        }
        // Freed outside the leaf lock; DLPI requests hold no credential.
        drop(flushed);
    }

    /// Tell the stream head the largest write to pass down whole:
    /// `SO_MAXPSZ` (`usr/src/uts/common/sys/stream.h`, `struct
    /// stroptions`), so a batched write arrives as one message.
    pub(super) fn send_maxpsz(&self, rq: *mut queue_t, maxpsz: usize) {
        // SAFETY: stroptions is plain C data; all-zero is a valid value.
        let mut v: sys::stroptions = unsafe { core::mem::zeroed() };
        v.so_flags = sys::SO_MAXPSZ;
        v.so_maxpsz = maxpsz as isize;
        self.put_options(rq, &v);
    }

    fn put_options(&self, rq: *mut queue_t, v: &sys::stroptions) {
        let size = core::mem::size_of::<sys::stroptions>();
        let Some(mut msg) = MsgBlk::<K>::alloc_with(&self.k, 0, &[0u8; core::mem::size_of::<sys::stroptions>()]) else {
            return;
        };
        if !msg.write_head(v, size) {
            return;
        }
        msg.set_db_type(sys::M_SETOPTS);
        // SAFETY: rq is the read queue of an open stream of ours.
        unsafe { self.k.putnext(rq, msg.into_raw()) };
    }

    fn send_options(&self, rq: *mut queue_t) {
        // SAFETY: stroptions is plain C data; all-zero is a valid value.
        let mut v: sys::stroptions = unsafe { core::mem::zeroed() };
        v.so_flags = sys::SO_READOPT | sys::SO_WROFF | sys::SO_MAXPSZ | sys::SO_MINPSZ | sys::SO_HIWAT | sys::SO_LOWAT;
        v.so_readopt = sys::RMSGD as i16;
        v.so_wroff = (frame::ETHER_HDR_LEN + frame::VLAN_TAG_LEN) as u16;
        v.so_minpsz = 0;
        v.so_maxpsz = ONE_PACKET_MAXPSZ as isize;
        v.so_hiwat = STREAM_HEAD_HIWAT;
        v.so_lowat = STREAM_HEAD_LOWAT;
        self.put_options(rq, &v);
    }
}

/// The largest one-packet write: MTU_MAX plus link header and packet info.
pub(super) const ONE_PACKET_MAXPSZ: usize = abi::MTU_MAX as usize + frame::ETHER_HDR_LEN + frame::VLAN_TAG_LEN + 4;

/// Stream-head read high/low water marks we ask for: room for a burst of
/// full-size packets so the reader is not woken for each one.
pub const STREAM_HEAD_HIWAT: usize = 1024 * 1024;
pub const STREAM_HEAD_LOWAT: usize = 256 * 1024;

/// The `Minor` in a queue's `q_ptr`.
///
/// # Safety
/// `q` is a queue of a stream this driver opened and has not closed.
unsafe fn minor_of<'a, K: Kernel>(q: *mut queue_t) -> Option<&'a Arc<Minor<K>>> {
    // SAFETY: open stored a Box<Arc<Minor<K>>> in q_ptr of both queues;
    // close clears it after every user is gone.
    unsafe { ((*q).q_ptr as *const Arc<Minor<K>>).as_ref() }
}

/// The other queue of the pair (`OTHERQ`): illumos allocates the read
/// queue immediately before the write queue.
fn other_queue(q: *mut queue_t) -> *mut queue_t {
    // SAFETY: q is one queue of an allocated pair, so q +/- 1 is the other.
    unsafe {
        if (*q).q_flag & sys::QREADR != 0 { q.add(1) } else { q.sub(1) }
    }
}

/// Is this DLPI message IP's data (`DL_UNITDATA_REQ`)?
fn is_unitdata<K: Kernel>(msg: &MsgBlk<K>) -> bool {
    msg.read_head::<u32>() == Some(DL_UNITDATA_REQ)
}

/// The taskq side of [`Driver::queue_control`].
///
/// # Safety
/// `arg` is an `Arc<Minor<K>>` reference made by `Arc::into_raw`, which
/// this task takes over; the stream is open (close waits for this task).
unsafe extern "C" fn control_task<K: Kernel>(arg: *mut core::ffi::c_void) {
    // SAFETY: queue_control passed a reference it gave up.
    let minor = unsafe { Arc::from_raw(arg.cast_const().cast::<Minor<K>>()) };
    // SAFETY: the driver outlives every open stream (detach is refused
    // while any is open) and this stream's close waits for this task.
    let driver = unsafe { &*minor.driver().cast::<Driver<K>>() };
    driver.run_control(&minor);
}

/// The taskq side of [`Driver::teardown_on_taskq`].
///
/// # Safety
/// As for [`control_task`]; close waits for this task.
unsafe extern "C" fn teardown_task<K: Kernel>(arg: *mut core::ffi::c_void) {
    // SAFETY: teardown_on_taskq passed a reference it gave up.
    let minor = unsafe { Arc::from_raw(arg.cast_const().cast::<Minor<K>>()) };
    // SAFETY: as in control_task: close is waiting for this task.
    let driver = unsafe { &*minor.driver().cast::<Driver<K>>() };
    driver.teardown(&minor);
    let mut c = minor.control.lock();
    c.running = false;
    minor.control_idle.broadcast();
}

impl<K: Kernel> StreamsEntry for Driver<K> {
    unsafe fn open(&self, rq: *mut queue_t, minor: &mut u32, _flag: i32, _sflag: i32, cr: Cred) -> Result<(), Errno> {
        let base = self.k.private_minor_base();
        let node = match minor.checked_sub(base) {
            Some(node::CTL) => Node::Control,
            Some(node::TUN) => Node::Tun,
            Some(node::TAP) => Node::Tap,
            _ => return Err(sys::ENXIO),
        };
        // SAFETY: rq is the read queue the kernel is opening.
        if unsafe { !(*rq).q_ptr.is_null() } {
            // A re-open of an existing stream: nothing to do.
            return Ok(());
        }
        let new_minor = {
            let mut t = self.table.lock();
            let first = base.checked_add(node::FIRST_CLONE).ok_or(sys::ENXIO)?;
            let mut m = first;
            while t.minors.contains(&m) {
                m = m.checked_add(1).ok_or(sys::ENOSPC)?;
            }
            t.minors.insert(m);
            self.stream_opened();
            m
        };
        let queue = Arc::new(Queue::new(&self.k, new_minor, node == Node::Tap, self.k.current_pid(), rq));
        let me = (self as *const Self).cast::<core::ffi::c_void>();
        let state = Box::new(Arc::new(Minor::new(queue, node, self.k.cred_zone(cr), me)));
        let ptr = Box::into_raw(state).cast::<core::ffi::c_void>();
        // SAFETY: rq/wq are the fresh queue pair of this open.
        unsafe {
            (*rq).q_ptr = ptr;
            (*other_queue(rq)).q_ptr = ptr;
            self.k.qprocson(rq);
        }
        *minor = new_minor;
        Ok(())
    }

    unsafe fn opened(&self, rq: *mut queue_t) {
        // SAFETY: rq is the stream just opened (the caller's contract).
        if let Some(minor) = unsafe { minor_of::<K>(rq) } {
            if minor.node != Node::Control {
                self.send_options(rq);
            }
        }
    }

    unsafe fn close(&self, rq: *mut queue_t, _flag: i32, _cr: Cred) {
        // SAFETY: rq is the read queue of a stream we opened.
        let Some(minor) = (unsafe { minor_of::<K>(rq) }).cloned() else { return };
        // Refuse further control work and wait for the task in flight:
        // its replies must precede qprocsoff (close(9E) runs in user
        // context and may block).
        {
            let mut c = minor.control.lock();
            c.closing = true;
            drop(minor.control.wait_until(c, &minor.control_idle, |c| !c.running));
        }
        // An old-API IP stream's mac client goes first: after this its rx
        // callback never runs again (dlpi/mac_client.rs).
        // Its lower dld stream likewise (dlpi/relay.rs): after close no
        // frame from dld reaches this stream.
        let (dlpi_link, relay) = match minor.state.lock().dlpi.as_mut() {
            Some(d) => (d.link.clone(), d.relay.take()),
            None => (None, None),
        };
        match (relay, dlpi_link) {
            (Some(r), _) => r.close(),
            (None, Some(link)) => crate::dlpi::mac_client::MacPath::of(&link).close(&self.k, &minor.queue),
            (None, None) => {}
        }
        minor.queue.quiesce();
        // SAFETY: rq is ours; qprocsoff waits out every put and service
        // procedure in progress (`qprocsoff` -> `removeq` -> `strlock` in
        // usr/src/uts/common/os/strsubr.c); after it none runs again.
        unsafe { self.k.qprocsoff(rq) };
        self.teardown_on_taskq(&minor);
        minor.queue.flush();
        // SAFETY: open stored this Box; both q_ptrs are cleared so nothing
        // finds it again.
        unsafe {
            let p = (*rq).q_ptr as *mut Arc<Minor<K>>;
            (*rq).q_ptr = ptr::null_mut();
            (*other_queue(rq)).q_ptr = ptr::null_mut();
            drop(Box::from_raw(p));
        }
        self.table.lock().minors.remove(&minor.minor);
        drop(minor);
        // Last: once the count drops, detach may free the driver, so
        // nothing of it (not even a mutex) is touched after this.
        self.stream_closed();
    }

    unsafe fn wput(&self, wq: *mut queue_t, mp: *mut mblk_t) {
        // SAFETY: STREAMS hands us ownership of mp.
        let Some(msg) = (unsafe { MsgBlk::<K>::from_raw(mp) }) else { return };
        // SAFETY: wq is our write queue.
        let Some(minor) = (unsafe { minor_of::<K>(wq) }).cloned() else {
            drop(msg);
            return;
        };
        match msg.db_type() {
            sys::M_DATA if minor.node != Node::Control => self.handle_data(&minor, msg),
            // IP's packets stay on the data path, in the put procedure.
            sys::M_PROTO | sys::M_PCPROTO if is_unitdata(&msg) => self.handle_dlpi(wq, &minor, msg),
            // An ioctl no row knows is refused at once (I_FLUSH's dummy
            // `ic_cmd = -1` ioctl waits for that NAK: `strioctl`).
            sys::M_IOCTL if !self.ioctl_known(&msg) => self.refuse_control(wq, msg, sys::EINVAL),
            // Control work may block: to the stream's control task.
            sys::M_IOCTL | sys::M_IOCDATA | sys::M_PROTO | sys::M_PCPROTO => self.queue_control(wq, &minor, msg),
            sys::M_FLUSH => self.handle_flush(wq, &minor, msg),
            _ => drop(msg),
        }
    }

    fn detach_check(&self) -> Result<(), Errno> {
        self.can_detach()
    }

    unsafe fn mod_open(&self, rq: *mut queue_t, sflag: i32, cr: Cred) -> Result<(), Errno> {
        // SAFETY: the caller's contract is mod_open's.
        unsafe { crate::dlpi::relay::mod_open(&self.k, rq, sflag, cr) }?;
        // An open module instance keeps the driver, as a stream does.
        self.stream_opened();
        Ok(())
    }

    unsafe fn mod_close(&self, rq: *mut queue_t) {
        // SAFETY: as above.
        unsafe { crate::dlpi::relay::mod_close(&self.k, rq) };
        // Last: the driver may go once the count drops.
        self.stream_closed();
    }

    unsafe fn mod_wput(&self, wq: *mut queue_t, mp: *mut mblk_t) {
        // SAFETY: as above.
        unsafe { crate::dlpi::relay::mod_wput(&self.k, wq, mp) }
    }

    unsafe fn mod_rput(&self, rq: *mut queue_t, mp: *mut mblk_t) {
        // SAFETY: as above.
        unsafe { crate::dlpi::relay::mod_rput(&self.k, rq, mp) }
    }

    unsafe fn rsrv(&self, rq: *mut queue_t) {
        // SAFETY: rq is our read queue; the service procedure only runs
        // between qprocson and qprocsoff.
        if let Some(minor) = unsafe { minor_of::<K>(rq) } {
            if minor.queue.service() {
                // Mac was held back by this queue and may resume.
                if let Some(link) = minor.link() {
                    link.with_mac(|mh| self.k.mac_tx_update(mh));
                }
            }
        }
    }
}


