// SPDX-License-Identifier: MPL-2.0
//! The application side of a simulated stream: open, read, write,
//! getmsg/putmsg, poll, user memory for transparent ioctls (whose
//! exchange is in `ioctl.rs`), `I_FLUSH` and close, as the system calls
//! reach the stream head.  See `streams/mod.rs` for the rules.

#[allow(unused_imports)]
use super::*;

// ----- user memory for transparent ioctls -----

#[derive(Default)]
pub(crate) struct UserMemState {
    pub(super) regions: BTreeMap<usize, Vec<u8>>,
}

impl UserMemState {
    pub(super) fn find(&mut self, addr: usize, len: usize) -> Option<&mut [u8]> {
        let (start, buf) = self.regions.range_mut(..=addr).next_back()?;
        let off = addr.checked_sub(*start)?;
        let end = off.checked_add(len)?;
        buf.get_mut(off..end)
    }
}

/// The simulated address space of the processes on a host: what
/// `M_COPYIN`/`M_COPYOUT` read and write.
#[derive(Clone)]
pub struct UserMemory(Arc<HostShared>);

impl UserMemory {
    /// Map `bytes` at `addr` (replacing any region starting there).
    pub fn map(&self, addr: usize, bytes: &[u8]) {
        lock(&self.0.user_mem).regions.insert(addr, bytes.to_vec());
    }
    /// Unmap the region starting at `addr`.
    pub fn unmap(&self, addr: usize) {
        lock(&self.0.user_mem).regions.remove(&addr);
    }
    /// Read `len` bytes at `addr`; None if not all mapped.
    pub fn read(&self, addr: usize, len: usize) -> Option<Vec<u8>> {
        lock(&self.0.user_mem).find(addr, len).map(|b| b.to_vec())
    }
    /// Write bytes at `addr`; false if not all mapped.
    pub fn write(&self, addr: usize, bytes: &[u8]) -> bool {
        match lock(&self.0.user_mem).find(addr, bytes.len()) {
            Some(b) => {
                b.copy_from_slice(bytes);
                true
            }
            None => false,
        }
    }
}

// ----- the application side -----

/// Arguments of [`SimHost::open_with`].
#[derive(Clone)]
pub struct OpenArgs {
    /// The node minor opened (the driver may replace it on a clone open).
    pub minor: u32,
    /// Open flags (`FREAD | FWRITE` by default).
    pub flag: i32,
    /// `sflag`: `CLONEOPEN` for the clone nodes, 0 otherwise.
    pub sflag: i32,
    pub cred: SimCred,
    /// The pid the driver sees (`current_pid`) during this stream's calls.
    pub pid: i32,
}

/// An ioctl's successful result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IoctlReply {
    /// `ioc_rval`: the ioctl's return value.
    pub rval: i32,
    /// For I_STR: the `ioc_count` bytes the driver returned.
    pub data: Vec<u8>,
}

/// One message from [`SimStream::getmsg`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GetMsg {
    /// The control part (`M_PROTO`/`M_PCPROTO` blocks), if any.
    pub ctl: Option<Vec<u8>>,
    /// The data part.
    pub data: Vec<u8>,
    /// A high-priority (`M_PCPROTO`) message: getmsg(2)'s `RS_HIPRI`.
    pub priority: bool,
}

/// The application side of an open stream: a file descriptor.
/// Dropping it closes the stream.
pub struct SimStream {
    pub(super) host: Arc<HostShared>,
    pub(super) s: Arc<Stream>,
}

impl SimHost {
    /// The simulated user address space (for transparent ioctls).
    pub fn user_memory(&self) -> UserMemory {
        UserMemory(self.shared.clone())
    }

    /// Open node `minor` as a clone open (`sflag = CLONEOPEN`,
    /// `FREAD | FWRITE`) with `cred`, pid 1000.
    pub fn open(&self, minor: u32, cred: &SimCred) -> Result<SimStream, Errno> {
        self.open_with(OpenArgs { minor, flag: FREAD | FWRITE, sflag: CLONEOPEN, cred: cred.clone(), pid: 1000 })
    }

    /// Open a stream with every argument given.
    pub fn open_with(&self, args: OpenArgs) -> Result<SimStream, Errno> {
        let host = &self.shared;
        // SAFETY: queue_t is pointers and integers; all-zero is valid.
        let mut qs: Box<[queue_t; 4]> = Box::new(unsafe { std::mem::zeroed() });
        let base = qs.as_mut_ptr();
        // SAFETY: four queues in one allocation; link them as illumos does.
        unsafe {
            let (shr, shw, rq, wq) = (base, base.add(1), base.add(2), base.add(3));
            (*shr).q_flag = QREADR | QUSE;
            (*shr).q_hiwat = STRHIGH;
            (*shr).q_lowat = STRLOW;
            (*shr).q_maxpsz = INFPSZ;
            (*shw).q_flag = QUSE;
            (*shw).q_next = wq;
            (*rq).q_flag = QREADR | QUSE;
            (*rq).q_next = shr;
            (*wq).q_flag = QUSE;
            for q in [rq, wq, shw] {
                (*q).q_hiwat = STRHIGH;
                (*q).q_lowat = STRLOW;
                (*q).q_maxpsz = INFPSZ;
            }
        }
        let queues = Box::into_raw(qs);
        let s = Arc::new(Stream {
            queues,
            minor: AtomicU32::new(args.minor),
            pid: AtomicI32::new(args.pid),
            flag: args.flag,
            cred: args.cred.clone(),
            puts_done: AtomicU64::new(0),
            head: std::sync::Mutex::new(Head {
                phase: Phase::Opening,
                qprocs_on: false,
                qprocs_off: false,
                msgs: VecDeque::new(),
                count: 0,
                hiwat: STRHIGH,
                lowat: STRLOW,
                want_backenable: false,
                readopt: RNORM,
                wroff: 0,
                minpsz: None,
                maxpsz: None,
                rerr: 0,
                werr: 0,
                hangup: false,
                svc_queued: false,
                svc_running: false,
                svc_runs: 0,
                ioc: None,
                abandoned_iocs: Vec::new(),
                control_arrivals: Vec::new(),
            }),
            cv: Condvar::new(),
        });
        {
            let mut t = lock(&host.streams);
            t.queue_mem.push(queues);
            t.by_q.insert(s.rq() as usize, s.clone());
            t.by_q.insert(s.wq() as usize, s.clone());
        }
        let rq = s.rq();
        let mut minor = args.minor;
        // SAFETY: rq heads a freshly allocated, zeroed queue pair.
        // No driver attached: drv/tun finds no provider published (boot.rs).
        let r = call_driver(host, user_ctx(host, args.pid, &args.cred), |d| unsafe { d.open(rq, &mut minor, args.flag, args.sflag, args.cred.as_cred()) })
            .unwrap_or(Err(illumos_sys_hdrs::ENXIO));
        let mut h = head(&s);
        match r {
            Err(e) => {
                if h.qprocs_on && !h.qprocs_off {
                    host.record(ViolationKind::QueueState, format!("open failed ({e}) after qprocson without qprocsoff"));
                }
                h.phase = Phase::Closed;
                flush_head(&mut h);
                Err(e)
            }
            Ok(()) => {
                if !h.qprocs_on {
                    host.record(ViolationKind::QueueState, "the driver's open returned without calling qprocson".into());
                }
                if h.qprocs_off {
                    host.record(ViolationKind::QueueState, "the driver's open succeeded but called qprocsoff".into());
                }
                h.phase = Phase::Open;
                drop(h);
                s.minor.store(minor, Ordering::Relaxed);
                // What the open sends up goes right after it, with no
                // lock of the caller held (StreamsEntry::opened).
                call_driver(host, user_ctx(host, args.pid, &args.cred), |d| unsafe { d.opened(rq) });
                let mut t = lock(&host.streams);
                let dup = t.all.iter().any(|o| o.minor.load(Ordering::Relaxed) == minor && head(o).phase == Phase::Open);
                if dup && args.sflag == CLONEOPEN {
                    drop(t);
                    host.record(ViolationKind::QueueState, format!("clone open returned minor {minor}, already in use"));
                    t = lock(&host.streams);
                }
                t.all.push(s.clone());
                Ok(SimStream { host: host.clone(), s })
            }
        }
    }
}

pub(super) fn remaining(deadline: Option<Instant>) -> Option<Duration> {
    deadline.map(|d| d.saturating_duration_since(Instant::now()))
}

impl SimStream {
    /// The stream's minor (after a clone open, the one the driver chose).
    pub fn minor(&self) -> u32 {
        self.s.minor.load(Ordering::Relaxed)
    }
    /// The driver's read queue.
    pub fn rq(&self) -> *mut queue_t {
        self.s.rq()
    }
    /// The driver's write queue.
    pub fn wq(&self) -> *mut queue_t {
        self.s.wq()
    }
    /// The pid the driver sees during this stream's calls.
    pub fn pid(&self) -> i32 {
        self.s.pid.load(Ordering::Relaxed)
    }
    /// Change the pid (e.g. after the fd passed to another process).
    pub fn set_pid(&self, pid: i32) {
        self.s.pid.store(pid, Ordering::Relaxed);
    }
    /// The credential the stream was opened with.
    pub fn cred(&self) -> &SimCred {
        &self.s.cred
    }
    /// Bytes the stream head holds (its `q_count`).
    pub fn queued_bytes(&self) -> usize {
        head(&self.s).count
    }
    /// Messages the stream head holds.
    pub fn queued_msgs(&self) -> usize {
        head(&self.s).msgs.len()
    }
    /// The stream head's (high, low) water marks.
    pub fn water_marks(&self) -> (usize, usize) {
        let h = head(&self.s);
        (h.hiwat, h.lowat)
    }
    /// The write offset set by `SO_WROFF`.
    pub fn wroff(&self) -> usize {
        head(&self.s).wroff
    }
    /// The read mode (`RNORM`, `RMSGD`, `RMSGN`).
    pub fn read_opt(&self) -> i32 {
        head(&self.s).readopt
    }
    /// Has the driver sent `M_HANGUP`?
    pub fn is_hung_up(&self) -> bool {
        head(&self.s).hangup
    }
    /// Is the stream open (not closed by [`SimStream::close`])?
    pub fn is_open(&self) -> bool {
        head(&self.s).phase == Phase::Open
    }

    pub(super) fn call_wput(&self, mp: *mut mblk_t) {
        let wq = self.s.wq();
        // SAFETY: the stream is open; the driver owns mp from here.
        call_driver(&self.host, Ctx::Put, |d| unsafe { d.wput(wq, mp) });
        self.s.puts_done.fetch_add(1, Ordering::SeqCst);
    }

    /// Messages this head has handed to the driver's write put procedure
    /// so far, counted when the call returned (a test on another thread
    /// waits on it to know a message is in the driver).
    pub fn messages_put(&self) -> u64 {
        self.s.puts_done.load(Ordering::SeqCst)
    }

    /// The types of the messages other than `M_DATA` that reached this
    /// head (up to the first 256), in arrival order.
    pub fn control_arrivals(&self) -> Vec<u8> {
        head(&self.s).control_arrivals.clone()
    }

    pub(super) fn write_check(&self) -> Result<(usize, isize, isize), Errno> {
        let h = head(&self.s);
        if h.phase != Phase::Open {
            return Err(EBADF);
        }
        if h.werr != 0 {
            return Err(h.werr);
        }
        if h.hangup {
            return Err(ENXIO);
        }
        // SAFETY: our queue; the driver may have set its packet sizes.
        let (qmin, qmax) = unsafe { ((*self.s.wq()).q_minpsz, (*self.s.wq()).q_maxpsz) };
        Ok((h.wroff, h.minpsz.unwrap_or(qmin), h.maxpsz.unwrap_or(qmax)))
    }

    /// `write(2)`: one copy into messages of at most the maximum packet
    /// size, each with `SO_WROFF` bytes of headroom, handed to the
    /// driver's `wput`.  `ERANGE` below the minimum packet size.  A write
    /// of 0 bytes sends nothing.
    pub fn write(&self, data: &[u8]) -> Result<usize, Errno> {
        let (wroff, minpsz, maxpsz) = self.write_check()?;
        if minpsz > 0 && (data.len() as isize) < minpsz {
            return Err(ERANGE);
        }
        if data.is_empty() || maxpsz == 0 {
            return Ok(0);
        }
        let chunk = if maxpsz == INFPSZ || maxpsz < 0 { data.len() } else { maxpsz as usize };
        for part in data.chunks(chunk) {
            let mp = alloc_msg(&self.host, M_DATA, wroff, part);
            self.call_wput(mp);
        }
        Ok(data.len())
    }

    /// `putmsg(2)` of a data part only: exactly one `M_DATA` message;
    /// `ERANGE` outside `[minpsz, maxpsz]`.
    pub fn putmsg(&self, data: &[u8]) -> Result<(), Errno> {
        let (wroff, minpsz, maxpsz) = self.write_check()?;
        let n = data.len() as isize;
        if n < minpsz || (maxpsz != INFPSZ && n > maxpsz) {
            return Err(ERANGE);
        }
        let mp = alloc_msg(&self.host, M_DATA, wroff, data);
        self.call_wput(mp);
        Ok(())
    }

    /// `putmsg(2)` with a control part: `M_PROTO` then `M_DATA`.
    pub fn putmsg_proto(&self, ctl: &[u8], data: &[u8]) -> Result<(), Errno> {
        let (wroff, _, _) = self.write_check()?;
        let mp = alloc_msg(&self.host, M_PROTO, 0, ctl);
        if !data.is_empty() {
            let d = alloc_msg(&self.host, M_DATA, wroff, data);
            // SAFETY: fresh blocks.
            unsafe { (*mp).b_cont = d };
        }
        self.call_wput(mp);
        Ok(())
    }

    /// `read(2)`, blocking up to `timeout` (None: forever).  Honours the
    /// read mode: `RNORM` byte stream, `RMSGD` one message (rest
    /// discarded), `RMSGN` one message (rest kept).  Ok(0) at a
    /// zero-length message or after hangup; `EBADMSG` for a control
    /// message at the front; the read error of `M_ERROR`; `EBADF` once
    /// closed; `ETIME` on timeout.
    pub fn read(&self, buf: &mut [u8], timeout: Option<Duration>) -> Result<usize, Errno> {
        self.read_inner(buf, timeout.map(|t| Instant::now() + t), true)
    }

    /// Non-blocking `read(2)` (`O_NONBLOCK`): `EAGAIN` when nothing is
    /// queued.
    pub fn try_read(&self, buf: &mut [u8]) -> Result<usize, Errno> {
        self.read_inner(buf, None, false)
    }

    /// Read one whole message as a Vec (like `read` with a 64 KiB buffer
    /// in `RMSGD` mode, whatever the stream's mode).
    pub fn read_packet(&self, timeout: Option<Duration>) -> Result<Vec<u8>, Errno> {
        self.getmsg(timeout).map(|m| m.data)
    }

    pub(super) fn wait_data<'a>(
        &'a self,
        mut h: std::sync::MutexGuard<'a, Head>,
        deadline: Option<Instant>,
        block: bool,
    ) -> Result<std::sync::MutexGuard<'a, Head>, Errno> {
        loop {
            if h.phase != Phase::Open {
                return Err(EBADF);
            }
            if h.rerr != 0 {
                return Err(h.rerr);
            }
            if !h.msgs.is_empty() || h.hangup {
                return Ok(h);
            }
            if !block {
                return Err(EAGAIN);
            }
            match self.wait_head(h, deadline, "a read without a timeout got nothing") {
                Some(g) => h = g,
                None => return Err(ETIME),
            }
        }
    }

    /// One wait on the stream head's condition variable: until
    /// `deadline`, or with none for at most `WAIT_BOUND`, past which the
    /// wait is a `WaitBound` violation (`what` got nothing).  `None` when
    /// the deadline has passed or the bound ran out.
    fn wait_head<'a>(
        &'a self,
        h: std::sync::MutexGuard<'a, Head>,
        deadline: Option<Instant>,
        what: &str,
    ) -> Option<std::sync::MutexGuard<'a, Head>> {
        match remaining(deadline) {
            Some(d) if d.is_zero() => None,
            Some(d) => Some(self.s.cv.wait_timeout(h, d).unwrap_or_else(|e| e.into_inner()).0),
            None => {
                let (g, t) = self.s.cv.wait_timeout(h, WAIT_BOUND).unwrap_or_else(|e| e.into_inner());
                if t.timed_out() {
                    drop(g);
                    self.host.record(ViolationKind::WaitBound, format!("{what} in {WAIT_BOUND:?}"));
                    return None;
                }
                Some(g)
            }
        }
    }

    pub(super) fn read_inner(&self, buf: &mut [u8], deadline: Option<Instant>, block: bool) -> Result<usize, Errno> {
        let mut h = self.wait_data(head(&self.s), deadline, block)?;
        let mut done = 0usize;
        let mode = h.readopt;
        while let Some(&MsgPtr(mp)) = h.msgs.front() {
            let ty = db_type(mp);
            if ty != M_DATA {
                if done == 0 {
                    return Err(EBADMSG);
                }
                break;
            }
            let bytes = msg_bytes(mp);
            h.msgs.pop_front();
            h.count -= msg_len(mp);
            free_here(mp);
            let take = bytes.len().min(buf.len() - done);
            buf[done..done + take].copy_from_slice(&bytes[..take]);
            done += take;
            let rest = &bytes[take..];
            if !rest.is_empty() && (mode == RNORM || mode == RMSGN) {
                let r = alloc_msg(&self.host, M_DATA, 0, rest);
                h.count += rest.len();
                h.msgs.push_front(MsgPtr(r));
            }
            if mode != RNORM || done == buf.len() || bytes.is_empty() {
                break;
            }
        }
        self.after_consume(h);
        Ok(done)
    }

    pub(super) fn after_consume(&self, mut h: std::sync::MutexGuard<'_, Head>) {
        // SAFETY: our queue.
        unsafe { (*self.s.head_rq()).q_count = h.count };
        if h.want_backenable && (h.count < h.lowat || h.lowat == 0) {
            h.want_backenable = false;
            drop(h);
            schedule_service(&self.host, &self.s);
        }
    }

    /// `getmsg(2)`: one whole message, whatever the read mode.
    pub fn getmsg(&self, timeout: Option<Duration>) -> Result<GetMsg, Errno> {
        let mut h = self.wait_data(head(&self.s), timeout.map(|t| Instant::now() + t), true)?;
        let Some(MsgPtr(mp)) = h.msgs.pop_front() else {
            return Ok(GetMsg { ctl: None, data: Vec::new(), priority: false });
        };
        let priority = db_type(mp) == M_PCPROTO;
        if !priority {
            h.count -= msg_len(mp);
        }
        let mut ctl: Option<Vec<u8>> = None;
        let mut data = Vec::new();
        let mut b = mp;
        while !b.is_null() {
            // SAFETY: a message the head owns.
            unsafe {
                let ty = (*(*b).b_datap).db_type;
                if ty == M_PROTO || ty == M_PCPROTO {
                    ctl.get_or_insert_with(Vec::new).extend_from_slice(mblk::block_bytes(b));
                } else {
                    data.extend_from_slice(mblk::block_bytes(b));
                }
                b = (*b).b_cont;
            }
        }
        free_here(mp);
        self.after_consume(h);
        Ok(GetMsg { ctl, data, priority })
    }

    /// `poll(2)` on this stream: the ready subset of `events` plus
    /// `POLLERR`/`POLLHUP`/`POLLNVAL`, waiting up to `timeout` for one.
    pub fn poll(&self, events: i16, timeout: Option<Duration>) -> i16 {
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut h = head(&self.s);
        loop {
            let mut ready: i16 = 0;
            if h.phase != Phase::Open {
                ready |= POLLNVAL;
            }
            if let Some(&MsgPtr(mp)) = h.msgs.front() {
                if db_type(mp) == M_PCPROTO {
                    ready |= POLLPRI;
                } else {
                    ready |= POLLIN | POLLRDNORM;
                }
            }
            if h.rerr != 0 || h.werr != 0 {
                ready |= POLLERR;
            }
            if h.hangup {
                ready |= POLLHUP;
            } else if h.werr == 0 {
                ready |= POLLOUT | POLLWRNORM;
            }
            let r = ready & (events | POLLERR | POLLHUP | POLLNVAL);
            if r != 0 {
                return r;
            }
            match self.wait_head(h, deadline, "a poll without a timeout saw nothing") {
                Some(g) => h = g,
                None => return 0,
            }
        }
    }

    /// `I_SRDOPT`: handled by the stream head, not the driver.
    pub fn set_read_opt(&self, mode: i32) -> Result<(), Errno> {
        let m = mode & RMODEMASK;
        if mode & !(RMODEMASK | illumos_sys_hdrs::RPROTMASK) != 0 || !(m == RNORM || m == RMSGD || m == RMSGN) {
            return Err(EINVAL);
        }
        head(&self.s).readopt = m;
        Ok(())
    }

    pub(super) fn host_mem(&self) -> UserMemory {
        UserMemory(self.host.clone())
    }

    /// `close(2)`: calls the driver's close; wakes readers blocked on
    /// other threads (they get `EBADF`).  Idempotent.
    pub fn close(&self) {
        close_stream(&self.host, &self.s);
    }
}

impl Drop for SimStream {
    fn drop(&mut self) {
        self.close();
    }
}
