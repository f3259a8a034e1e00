// SPDX-License-Identifier: MPL-2.0
//! The stream head and the STREAMS calls a driver makes (`putnext`,
//! `qreply`, `canputnext`, `qenable`, `qprocson`/`qprocsoff`): the kernel
//! side of a simulated stream.  See `streams/mod.rs` for the rules.

#[allow(unused_imports)]
use super::*;

// ----- the driver-facing STREAMS calls -----

#[track_caller]
pub(crate) fn putnext(host: &Arc<HostShared>, q: *mut queue_t, mp: *mut mblk_t, what: &str) {
    let loc = Location::caller();
    if crate::ldi::route_put(host, q, mp, false, what).is_some() {
        return;
    }
    host.check_no_driver_locks(what);
    let Some((s, is_rq)) = lookup(host, q) else {
        host.record_at(ViolationKind::BadQueue, format!("{what}: {q:p} is not a queue of a stream"), loc);
        return;
    };
    if check_msg(host, mp, what, true, loc).is_err() {
        return;
    }
    if !is_rq {
        host.record_at(
            ViolationKind::QueueState,
            format!("{what} on the driver's write queue: nothing is below a driver (q_next is NULL)"),
            loc,
        );
        free_here(mp);
        return;
    }
    deliver_up(host, &s, mp, what, loc);
}

#[track_caller]
pub(crate) fn qreply(host: &Arc<HostShared>, q: *mut queue_t, mp: *mut mblk_t) {
    let loc = Location::caller();
    if crate::ldi::route_put(host, q, mp, true, "qreply").is_some() {
        return;
    }
    host.check_no_driver_locks("qreply");
    let Some((s, is_rq)) = lookup(host, q) else {
        host.record_at(ViolationKind::BadQueue, format!("qreply: {q:p} is not a queue of a stream"), loc);
        return;
    };
    if check_msg(host, mp, "qreply", true, loc).is_err() {
        return;
    }
    if is_rq {
        host.record_at(
            ViolationKind::QueueState,
            "qreply on the driver's read queue would send into the driver's own write side".into(),
            loc,
        );
        free_here(mp);
        return;
    }
    deliver_up(host, &s, mp, "qreply", loc);
}

/// How long the back-enable hook waits for the service procedure.
const HOOK_WAIT: Duration = Duration::from_secs(2);

#[track_caller]
pub(crate) fn canputnext(host: &Arc<HostShared>, q: *mut queue_t) -> bool {
    let loc = Location::caller();
    if let Some(r) = crate::ldi::route_canputnext(host, q) {
        return r;
    }
    let Some((s, is_rq)) = lookup(host, q) else {
        host.record_at(ViolationKind::BadQueue, format!("canputnext: {q:p} is not a queue of a stream"), loc);
        return false;
    };
    if !is_rq {
        host.record_at(ViolationKind::QueueState, "canputnext on the driver's write queue (q_next is NULL)".into(), loc);
        return true;
    }
    let mut h = head(&s);
    if h.phase == Phase::Closed || h.qprocs_off {
        drop(h);
        host.record_at(ViolationKind::QueueState, "canputnext on a queue after qprocsoff/close".into(), loc);
        return false;
    }
    if host.hooked(Hook::CanputnextFullThenBackenable) {
        // "Full" (QWANTW set), and the reader drains the head at once,
        // which back-enables us; return once that service run is over.
        let runs = h.svc_runs;
        drop(h);
        schedule_service(host, &s);
        // Wait only where the service procedure can run meanwhile: not on
        // the service thread, not with a driver lock held (it may need
        // it), and not longer than HOOK_WAIT.
        if !host.svc.is_current() && crate::sync::driver_locks_held() == 0 {
            let deadline = Instant::now() + HOOK_WAIT;
            let mut h = head(&s);
            while h.svc_runs == runs && !h.qprocs_off {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                h = s.cv.wait_timeout(h, left).unwrap_or_else(|e| e.into_inner()).0;
            }
        }
        return false;
    }
    if h.count >= h.hiwat {
        h.want_backenable = true;
        false
    } else {
        true
    }
}

#[track_caller]
pub(crate) fn qenable(host: &Arc<HostShared>, q: *mut queue_t) {
    let loc = Location::caller();
    if crate::ldi::route_qop(host, q, "qenable").is_some() {
        return;
    }
    let Some((s, is_rq)) = lookup(host, q) else {
        host.record_at(ViolationKind::BadQueue, format!("qenable: {q:p} is not a queue of a stream"), loc);
        return;
    };
    {
        let h = head(&s);
        if h.phase == Phase::Closed || h.qprocs_off {
            drop(h);
            host.record_at(ViolationKind::QueueState, "qenable of a queue after qprocsoff/close".into(), loc);
            return;
        }
    }
    if is_rq {
        schedule_service(host, &s);
    }
    // The driver's write queue has no service procedure: a no-op, as
    // qenable is for a queue without qi_srvp.
}

#[track_caller]
pub(crate) fn qprocson(host: &Arc<HostShared>, q: *mut queue_t) {
    let loc = Location::caller();
    if crate::ldi::route_qop(host, q, "qprocson").is_some() {
        return;
    }
    match lookup(host, q) {
        Some((s, true)) => {
            let mut h = head(&s);
            if h.phase != Phase::Opening {
                drop(h);
                host.record_at(ViolationKind::QueueState, "qprocson outside the driver's open".into(), loc);
                return;
            }
            h.qprocs_on = true;
        }
        Some((_, false)) => host.record_at(ViolationKind::QueueState, "qprocson must be given the read queue".into(), loc),
        None => host.record_at(ViolationKind::BadQueue, format!("qprocson: {q:p} is not a queue of a stream"), loc),
    }
}

#[track_caller]
pub(crate) fn qprocsoff(host: &Arc<HostShared>, q: *mut queue_t) {
    let loc = Location::caller();
    if crate::ldi::route_qop(host, q, "qprocsoff").is_some() {
        return;
    }
    let s = match lookup(host, q) {
        Some((s, true)) => s,
        Some((_, false)) => {
            host.record_at(ViolationKind::QueueState, "qprocsoff must be given the read queue".into(), loc);
            return;
        }
        None => {
            host.record_at(ViolationKind::BadQueue, format!("qprocsoff: {q:p} is not a queue of a stream"), loc);
            return;
        }
    };
    let mut h = head(&s);
    if !matches!(h.phase, Phase::Closing | Phase::Opening) {
        drop(h);
        host.record_at(ViolationKind::QueueState, "qprocsoff outside the driver's open/close".into(), loc);
        return;
    }
    h.qprocs_off = true;
    h.svc_queued = false;
    // qprocsoff waits for a running service procedure to finish.
    if !host.svc.is_current() {
        let deadline = Instant::now() + Duration::from_secs(10);
        while h.svc_running {
            let now = Instant::now();
            if now >= deadline {
                drop(h);
                host.record_at(ViolationKind::WorkerStuck, "qprocsoff: the service procedure did not return in 10 s".into(), loc);
                return;
            }
            h = s.cv.wait_timeout(h, deadline - now).unwrap_or_else(|e| e.into_inner()).0;
        }
    }
}

pub(super) fn schedule_service(host: &Arc<HostShared>, s: &Arc<Stream>) {
    {
        let mut h = head(s);
        if h.svc_queued || h.qprocs_off || matches!(h.phase, Phase::Closed) {
            return;
        }
        h.svc_queued = true;
        // SAFETY: rq is our queue; QENAB mirrors the queued state.
        unsafe { (*s.rq()).q_flag |= illumos_sys_hdrs::QENAB };
    }
    let hw: Weak<HostShared> = Arc::downgrade(host);
    let s = s.clone();
    host.svc.push(Box::new(move || {
        let Some(host) = hw.upgrade() else { return };
        {
            let mut h = head(&s);
            // SAFETY: as above.
            unsafe { (*s.rq()).q_flag &= !illumos_sys_hdrs::QENAB };
            if !h.svc_queued || h.qprocs_off || h.phase == Phase::Closed {
                h.svc_queued = false;
                h.svc_runs += 1;
                s.cv.notify_all();
                return;
            }
            h.svc_queued = false;
            h.svc_running = true;
        }
        let rq = s.rq();
        // SAFETY: rq is the read queue of a stream the driver opened and
        // has not yet closed (qprocsoff waits for us).
        call_driver(&host, Ctx::Service, |d| unsafe { d.rsrv(rq) });
        let mut h = head(&s);
        h.svc_running = false;
        h.svc_runs += 1;
        s.cv.notify_all();
    }));
}

/// What the stream head does with a message from the driver.
pub(super) fn deliver_up(host: &Arc<HostShared>, s: &Arc<Stream>, mp: *mut mblk_t, what: &str, loc: &Location<'_>) {
    let mut h = head(s);
    if h.phase == Phase::Closed || h.qprocs_off {
        drop(h);
        host.record_at(ViolationKind::QueueState, format!("{what} after qprocsoff/close of the stream"), loc);
        free_here(mp);
        return;
    }
    if !h.qprocs_on {
        host.record_at(ViolationKind::QueueState, format!("{what} before qprocson"), loc);
    }
    let ty = db_type(mp);
    if ty != M_DATA && h.control_arrivals.len() < super::CONTROL_ARRIVALS {
        h.control_arrivals.push(ty);
    }
    let mut turn_around: Option<*mut mblk_t> = None;
    let mut backenable = false;
    match ty {
        M_DATA | M_PROTO => {
            h.count += msg_len(mp);
            h.msgs.push_back(MsgPtr(mp));
        }
        M_PCPROTO => h.msgs.push_front(MsgPtr(mp)),
        M_SETOPTS => {
            // SAFETY: mp is a checked live message we own.
            let data = unsafe { mblk::block_bytes(mp) };
            if data.len() < size_of::<stroptions>() {
                drop(h);
                host.record_at(
                    ViolationKind::BadMessage,
                    format!("M_SETOPTS of {} bytes, need sizeof (struct stroptions) = {}", data.len(), size_of::<stroptions>()),
                    loc,
                );
                free_here(mp);
                return;
            }
            // SAFETY: at least sizeof (stroptions) bytes; unaligned read.
            let so: stroptions = unsafe { ptr::read_unaligned(data.as_ptr().cast()) };
            apply_setopts(host, s, &mut h, &so, loc);
            free_here(mp);
        }
        M_IOCACK | M_IOCNAK | M_COPYIN | M_COPYOUT => {
            // SAFETY: as above.
            let data = unsafe { mblk::block_bytes(mp) };
            if data.len() < 24 {
                drop(h);
                host.record_at(ViolationKind::IoctlProtocol, format!("ioctl reply (type {ty:#x}) of {} bytes", data.len()), loc);
                free_here(mp);
                return;
            }
            let id = u32::from_ne_bytes([data[16], data[17], data[18], data[19]]);
            match &mut h.ioc {
                Some(p) if p.id == id => {
                    p.inbox.push_back(MsgPtr(mp));
                }
                _ => {
                    let abandoned = h.abandoned_iocs.contains(&id);
                    drop(h);
                    if !abandoned {
                        host.record_at(
                            ViolationKind::IoctlDoubleReply,
                            format!(
                                "ioctl reply (type {ty:#x}) for ioc_id {id}, which is not pending: a second \
                                 reply, a wrong id, or a reply after the stream head failed the ioctl"
                            ),
                            loc,
                        );
                    }
                    free_here(mp);
                    return;
                }
            }
        }
        M_ERROR => {
            // SAFETY: as above.
            let data = unsafe { mblk::block_bytes(mp) }.to_vec();
            match data.len() {
                0 => host.record_at(ViolationKind::BadMessage, "empty M_ERROR".into(), loc),
                1 => {
                    h.rerr = i32::from(data[0]);
                    h.werr = i32::from(data[0]);
                }
                _ => {
                    if data[0] != NOERROR {
                        h.rerr = i32::from(data[0]);
                    }
                    if data[1] != NOERROR {
                        h.werr = i32::from(data[1]);
                    }
                }
            }
            free_here(mp);
        }
        M_HANGUP => {
            h.hangup = true;
            free_here(mp);
        }
        M_UNHANGUP => {
            h.hangup = false;
            free_here(mp);
        }
        M_FLUSH => {
            // SAFETY: as above.
            let flags = unsafe { mblk::block_bytes(mp) }.first().copied().unwrap_or(0);
            if flags & FLUSHR != 0 {
                flush_head(&mut h);
                // flushq_common (usr/src/uts/common/io/stream.c) back-
                // enables a writer waiting on the emptied queue.
                if h.want_backenable {
                    h.want_backenable = false;
                    backenable = true;
                }
            }
            if flags & FLUSHW != 0 && h.phase == Phase::Open {
                // SAFETY: the block has at least one byte (flags read).
                unsafe { *(*mp).b_rptr &= !FLUSHR };
                turn_around = Some(mp);
            } else {
                free_here(mp);
            }
        }
        _ => free_here(mp),
    }
    // Keep the stream head queue's fields current for drivers that look.
    // SAFETY: our queue.
    unsafe { (*s.head_rq()).q_count = h.count };
    s.cv.notify_all();
    drop(h);
    if backenable {
        schedule_service(host, s);
    }
    if let Some(mp) = turn_around {
        let wq = s.wq();
        // SAFETY: the stream is open; the driver owns mp from here.
        call_driver(host, Ctx::Put, |d| unsafe { d.wput(wq, mp) });
    }
}

pub(super) fn flush_head(h: &mut Head) {
    for m in h.msgs.drain(..) {
        free_here(m.0);
    }
    h.count = 0;
}

pub(super) fn apply_setopts(host: &Arc<HostShared>, s: &Stream, h: &mut Head, so: &stroptions, loc: &Location<'_>) {
    let f = so.so_flags;
    if f & SO_READOPT != 0 {
        let mode = i32::from(so.so_readopt) & RMODEMASK;
        if mode == RNORM || mode == RMSGD || mode == RMSGN {
            h.readopt = mode;
        } else {
            host.record_at(ViolationKind::BadMessage, format!("M_SETOPTS SO_READOPT {mode:#x} is no read mode"), loc);
        }
    }
    if f & SO_WROFF != 0 {
        h.wroff = usize::from(so.so_wroff);
    }
    if f & SO_MINPSZ != 0 {
        h.minpsz = Some(so.so_minpsz);
    }
    if f & SO_MAXPSZ != 0 {
        h.maxpsz = Some(so.so_maxpsz);
    }
    if f & SO_BAND == 0 {
        if f & SO_HIWAT != 0 {
            h.hiwat = so.so_hiwat;
        }
        if f & SO_LOWAT != 0 {
            h.lowat = so.so_lowat;
        }
    }
    if h.lowat > h.hiwat {
        host.record_at(
            ViolationKind::BadMessage,
            format!("M_SETOPTS leaves low water {} above high water {}", h.lowat, h.hiwat),
            loc,
        );
    }
    // SAFETY: our queue.
    unsafe {
        (*s.head_rq()).q_hiwat = h.hiwat;
        (*s.head_rq()).q_lowat = h.lowat;
    }
}

/// Close every stream the application side still has open (process
/// exit), at the end of a test.
pub(crate) fn close_all(host: &Arc<HostShared>) {
    let all: Vec<Arc<Stream>> = lock(&host.streams).all.clone();
    for s in all {
        close_stream(host, &s);
    }
}

pub(super) fn close_stream(host: &Arc<HostShared>, s: &Arc<Stream>) {
    {
        let mut h = head(s);
        if h.phase != Phase::Open {
            return;
        }
        h.phase = Phase::Closing;
    }
    let rq = s.rq();
    let cr = s.cred.as_cred();
    let flag = s.flag;
    // SAFETY: rq is the read queue of a stream the driver opened.
    call_driver(host, user_ctx(host, s.pid.load(Ordering::Relaxed), &s.cred), |d| unsafe { d.close(rq, flag, cr) });
    let mut h = head(s);
    if !h.qprocs_off {
        host.record(ViolationKind::QueueState, "the driver's close returned without calling qprocsoff".into());
    }
    h.phase = Phase::Closed;
    flush_head(&mut h);
    if let Some(p) = h.ioc.take() {
        for m in p.inbox {
            free_here(m.0);
        }
    }
    s.cv.notify_all();
}

