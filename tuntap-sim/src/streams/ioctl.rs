// SPDX-License-Identifier: MPL-2.0
//! Ioctls as the stream head runs them (`strdoioctl` in
//! usr/src/uts/common/os/streamio.c): `I_STR` and transparent, one at a
//! time per stream, with the `M_COPYIN`/`M_COPYOUT` exchange served from
//! [`UserMemory`] and every reply checked; `I_FLUSH` (an ioctl of the
//! head's own that sends `M_FLUSH` and waits behind a dummy ioctl) and a
//! bare `M_FLUSH`.  See `streams/mod.rs`.

#[allow(unused_imports)]
use super::*;

impl SimStream {
    /// An `I_STR` ioctl whose reply buffer (`ic_dp`) is `data.len()` bytes.
    pub fn ioctl_istr(&self, cmd: i32, data: &[u8]) -> Result<IoctlReply, Errno> {
        self.ioctl_istr_buf(cmd, data, data.len())
    }

    /// An `I_STR` ioctl sending `data` with a reply buffer of `buf_len`
    /// bytes: a reply longer than that is a violation.
    pub fn ioctl_istr_buf(&self, cmd: i32, data: &[u8], buf_len: usize) -> Result<IoctlReply, Errno> {
        self.ioctl_common(cmd, data, buf_len, None)
    }

    /// A transparent ioctl: `arg` is a user address (see
    /// [`SimHost::user_memory`]) or a plain value.
    pub fn ioctl_transparent(&self, cmd: i32, arg: usize) -> Result<IoctlReply, Errno> {
        self.ioctl_common(cmd, &[], 0, Some(arg))
    }

    /// `I_FLUSH` as `strioctl` does it (usr/src/uts/common/os/streamio.c,
    /// case `I_FLUSH`): `ENXIO` after a hangup, `EINVAL` for bits other
    /// than `FLUSHRW`; sends `M_FLUSH` down, then a dummy `I_STR` ioctl
    /// (`ic_cmd = -1`, no data) and waits for its NAK, so that the
    /// driver's answer to the `M_FLUSH` reaches the head first.  The head
    /// does not flush itself: its read side is emptied only when the
    /// driver turns `FLUSHR` back up.  Returns Ok whatever the dummy
    /// ioctl's answer; an ACK of it is a violation.
    pub fn flush(&self, flags: u8) -> Result<(), Errno> {
        {
            let h = head(&self.s);
            if h.phase != Phase::Open {
                return Err(EBADF);
            }
            if h.hangup {
                return Err(ENXIO);
            }
        }
        if flags & !(FLUSHR | FLUSHW) != 0 {
            return Err(EINVAL);
        }
        let mp = alloc_msg(&self.host, M_FLUSH, 0, &[flags]);
        self.call_wput(mp);
        if self.ioctl_common(FLUSH_DUMMY_IOCTL, &[], 0, None).is_ok() {
            self.host.record(
                ViolationKind::FlushProtocol,
                "I_FLUSH's dummy ioctl (ic_cmd = -1) was acknowledged: an unknown ioctl must be NAKed \
                 (strioctl, usr/src/uts/common/os/streamio.c)"
                    .into(),
            );
        }
        Ok(())
    }

    /// `M_FLUSH` alone, as `putnextctl1(q, M_FLUSH, flags)` sends it
    /// from above (a module, or the head on its own account): no dummy
    /// ioctl follows, so it is not held up behind a pending ioctl as
    /// [`SimStream::flush`] is (`strdoioctl` runs one ioctl at a time).
    pub fn send_flush(&self, flags: u8) {
        let mp = alloc_msg(&self.host, M_FLUSH, 0, &[flags]);
        self.call_wput(mp);
    }

    /// A bare `M_FLUSH` of one band (`FLUSHBAND` set, the band in the
    /// second byte, as `I_FLUSHBAND` sends it: os/streamio.c `strioctl`).
    pub fn send_flush_band(&self, flags: u8, band: u8) {
        let mp = alloc_msg(&self.host, M_FLUSH, 0, &[flags | illumos_sys_hdrs::FLUSHBAND, band]);
        self.call_wput(mp);
    }

    pub(super) fn ioctl_common(&self, cmd: i32, data: &[u8], buf_len: usize, arg: Option<usize>) -> Result<IoctlReply, Errno> {
        let host = &self.host;
        let timeout = *lock(&host.ioctl_timeout);
        let deadline = Instant::now() + timeout;
        let transparent = arg.is_some();
        let id = {
            let mut t = lock(&host.streams);
            t.next_ioc_id = t.next_ioc_id.wrapping_add(1).max(1);
            t.next_ioc_id
        };
        {
            // One ioctl at a time per stream, as the stream head does.
            let mut h = head(&self.s);
            while h.ioc.is_some() {
                let d = deadline.saturating_duration_since(Instant::now());
                if d.is_zero() {
                    return Err(ETIME);
                }
                h = self.s.cv.wait_timeout(h, d).unwrap_or_else(|e| e.into_inner()).0;
            }
            if h.phase != Phase::Open {
                return Err(EBADF);
            }
            if h.hangup {
                return Err(ENXIO);
            }
            h.ioc = Some(PendingIoc { id, inbox: VecDeque::new() });
        }
        // SAFETY: iocblk is integers and pointers.
        let mut ioc: iocblk = unsafe { std::mem::zeroed() };
        ioc.ioc_cmd = cmd;
        ioc.ioc_cr = self.s.cred.as_cred().0.cast_mut();
        ioc.ioc_id = id;
        ioc.ioc_flag = IOC_NATIVE;
        ioc.ioc_count = if transparent { TRANSPARENT as usize } else { data.len() };
        let mp = union_msg(host, M_IOCTL, &ioc);
        let cont = match arg {
            Some(a) => alloc_msg(host, M_DATA, 0, &a.to_ne_bytes()),
            None if !data.is_empty() => alloc_msg(host, M_DATA, 0, data),
            None => ptr::null_mut(),
        };
        // SAFETY: fresh blocks.
        unsafe { (*mp).b_cont = cont };
        self.call_wput(mp);
        loop {
            let next = {
                let mut h = head(&self.s);
                loop {
                    if let Some(p) = h.ioc.as_mut()
                        && let Some(m) = p.inbox.pop_front() {
                            break Some(m.0);
                        }
                    if h.phase != Phase::Open {
                        h.ioc = None;
                        break None;
                    }
                    let d = deadline.saturating_duration_since(Instant::now());
                    if d.is_zero() {
                        h.ioc = None;
                        h.abandoned_iocs.push(id);
                        self.s.cv.notify_all();
                        drop(h);
                        host.record(
                            ViolationKind::IoctlNoReply,
                            format!("M_IOCTL cmd {cmd:#x} (ioc_id {id}) got no M_IOCACK/M_IOCNAK within {timeout:?}"),
                        );
                        return Err(ETIME);
                    }
                    h = self.s.cv.wait_timeout(h, d).unwrap_or_else(|e| e.into_inner()).0;
                }
            };
            let Some(mp) = next else { return Err(EBADF) };
            match self.ioctl_step(cmd, id, mp, transparent, buf_len) {
                Step::Continue(iocdata) => self.call_wput(iocdata),
                Step::Done(r) => {
                    self.finish_ioc();
                    return r;
                }
                Step::FailAndSend(e, iocdata) => {
                    self.finish_ioc();
                    self.call_wput(iocdata);
                    return Err(e);
                }
            }
        }
    }

    pub(super) fn finish_ioc(&self) {
        let mut h = head(&self.s);
        let left = h.ioc.take().map(|p| p.inbox).unwrap_or_default();
        self.s.cv.notify_all();
        drop(h);
        for m in left {
            self.host.record(
                ViolationKind::IoctlDoubleReply,
                format!("a second reply (type {:#x}) to an ioctl that was already answered", db_type(m.0)),
            );
            free_here(m.0);
        }
    }

    pub(super) fn ioctl_step(&self, cmd: i32, id: u32, mp: *mut mblk_t, transparent: bool, buf_len: usize) -> Step {
        let host = &self.host;
        let ty = db_type(mp);
        // SAFETY: a checked message the head owns.
        let first = unsafe { mblk::block_bytes(mp) }.to_vec();
        match ty {
            M_IOCACK | M_IOCNAK => {
                if first.len() < size_of::<iocblk>() {
                    host.record(ViolationKind::IoctlProtocol, format!("ioctl reply of {} bytes < sizeof (iocblk)", first.len()));
                    free_here(mp);
                    return Step::Done(Err(EINVAL));
                }
                // SAFETY: enough bytes for an iocblk.
                let ioc: iocblk = unsafe { ptr::read_unaligned(first.as_ptr().cast()) };
                // SAFETY: as above.
                let cont = unsafe { (*mp).b_cont };
                let payload = msg_bytes(cont);
                free_here(mp);
                if ty == M_IOCNAK {
                    return Step::Done(Err(if ioc.ioc_error != 0 { ioc.ioc_error } else { EINVAL }));
                }
                if ioc.ioc_error != 0 {
                    return Step::Done(Err(ioc.ioc_error));
                }
                let mut data = Vec::new();
                if !transparent && ioc.ioc_count > 0 {
                    let n = ioc.ioc_count;
                    if n > payload.len() {
                        host.record(
                            ViolationKind::IoctlProtocol,
                            format!("M_IOCACK ioc_count {n} but only {} bytes of data in b_cont", payload.len()),
                        );
                    }
                    if n > buf_len {
                        host.record(
                            ViolationKind::IoctlReplyTooLong,
                            format!("M_IOCACK of cmd {cmd:#x} returns {n} bytes, the caller's buffer (ic_len) is {buf_len}"),
                        );
                    }
                    data = payload[..n.min(payload.len()).min(buf_len)].to_vec();
                }
                Step::Done(Ok(IoctlReply { rval: ioc.ioc_rval, data }))
            }
            M_COPYIN | M_COPYOUT => {
                let what = if ty == M_COPYIN { "M_COPYIN" } else { "M_COPYOUT" };
                if !transparent {
                    host.record(
                        ViolationKind::IoctlProtocol,
                        format!("{what} on an I_STR ioctl (cmd {cmd:#x}): the data already came in M_IOCTL's b_cont"),
                    );
                }
                if first.len() < size_of::<copyreq>() {
                    host.record(ViolationKind::IoctlProtocol, format!("{what} of {} bytes < sizeof (copyreq)", first.len()));
                    free_here(mp);
                    return Step::Done(Err(EINVAL));
                }
                // SAFETY: enough bytes for a copyreq.
                let cq: copyreq = unsafe { ptr::read_unaligned(first.as_ptr().cast()) };
                // SAFETY: as above.
                let cont = unsafe { (*mp).b_cont };
                let payload = msg_bytes(cont);
                free_here(mp);
                let mut rval: usize = 0;
                let mut data_in = None;
                if !transparent {
                    rval = EINVAL as usize;
                } else if cq.cq_size == 0 || cq.cq_size > MAX_COPY {
                    host.record(
                        ViolationKind::CopyBounds,
                        format!("{what} of cq_size {} (must be 1..={MAX_COPY})", cq.cq_size),
                    );
                    rval = EINVAL as usize;
                } else if ty == M_COPYIN {
                    match self.host_mem().read(cq.cq_addr as usize, cq.cq_size) {
                        Some(b) => data_in = Some(b),
                        None => rval = EFAULT as usize,
                    }
                } else {
                    if payload.len() < cq.cq_size {
                        host.record(
                            ViolationKind::IoctlProtocol,
                            format!("M_COPYOUT of cq_size {} with only {} bytes in b_cont", cq.cq_size, payload.len()),
                        );
                        rval = EINVAL as usize;
                    } else if !self.host_mem().write(cq.cq_addr as usize, &payload[..cq.cq_size]) {
                        rval = EFAULT as usize;
                    }
                }
                // SAFETY: copyresp is integers and pointers.
                let mut cp: copyresp = unsafe { std::mem::zeroed() };
                cp.cp_cmd = cmd;
                cp.cp_cr = self.s.cred.as_cred().0.cast_mut();
                cp.cp_id = id;
                cp.cp_flag = cq.cq_flag;
                cp.cp_private = cq.cq_private;
                cp.cp_rval = rval as illumos_sys_hdrs::caddr_t;
                let out = union_msg(host, M_IOCDATA, &cp);
                if let Some(b) = data_in {
                    let d = alloc_msg(host, M_DATA, 0, &b);
                    // SAFETY: fresh blocks.
                    unsafe { (*out).b_cont = d };
                }
                if rval != 0 {
                    Step::FailAndSend(rval as Errno, out)
                } else {
                    Step::Continue(out)
                }
            }
            _ => {
                free_here(mp);
                Step::Done(Err(EINVAL))
            }
        }
    }
}

pub(super) enum Step {
    Continue(*mut mblk_t),
    Done(Result<IoctlReply, Errno>),
    FailAndSend(Errno, *mut mblk_t),
}

/// A message whose first block is sized like `union ioctypes` and holds
/// `v` (so a driver can turn an M_IOCTL into M_COPYIN in place).
pub(super) fn union_msg<T>(host: &Arc<HostShared>, ty: u8, v: &T) -> *mut mblk_t {
    let mp = mblk::allocb(host, IOCTYPES_SIZE);
    // SAFETY: a fresh block of IOCTYPES_SIZE >= size_of::<T>() bytes.
    unsafe {
        (*(*mp).b_datap).db_type = ty;
        ptr::copy_nonoverlapping((v as *const T).cast::<u8>(), (*mp).b_rptr, size_of::<T>());
        (*mp).b_wptr = (*mp).b_rptr.add(size_of::<T>());
    }
    mp
}
