// SPDX-License-Identifier: MPL-2.0
//! Where kernel code runs: the simulated thread context, and the rules
//! that depend on it.
//!
//! # Theory statement
//!
//! Whenever the simulator calls into the driver it records, for the
//! calling thread and the duration of the call, *which kind of kernel
//! context* the call runs in ([`Ctx`]), as illumos would run it:
//!
//! * `open(9E)` and `close(9E)` run in the calling process's own thread:
//!   user context, with its credential, pid and zone.
//! * Put and service procedures have no user context ("put() routines
//!   do not have user context", illumos-gate `usr/src/man/man9e/put.9e`;
//!   srv(9E) runs from the STREAMS scheduler).  `putnext` may even run a
//!   put procedure on a background thread (`usr/src/uts/common/os/putnext.c`,
//!   `putnext`: `qfill_syncq` when the stack is nearly exhausted), so
//!   the writer's credential, pid and zone mean nothing there.
//! * mac callbacks (`mc_tx` above all) run in mac's or IP's threads and
//!   must not block (mac(9E)).
//! * Deferred work (`ddi_taskq_dispatch(9F)`) runs on a taskq thread:
//!   it may block, but it has no user context either, and its credential
//!   is `kcred`, whose zone is the global zone (`zone_kcred()` in
//!   `usr/src/uts/common/os/cred.c`).
//!
//! Rules enforced here, each recorded as a [`ViolationKind::Context`]:
//!
//! 1. **No blocking where blocking is forbidden.**  A call that may
//!    sleep — a door upcall to dlmgmtd (`i_dls_mgmt_upcall` in
//!    `usr/src/uts/common/io/dls/dls_mgmt.c`: `door_ki_upcall_limited`,
//!    `delay(2 * hz)` retries), `mac_register`/`mac_unregister`/
//!    `mac_disable` (mac perimeter), `dls_devnet_create`/`_destroy`/
//!    `_setzid`, `cv_wait` — made from a put or service procedure or a
//!    mac callback is a violation ([`check_may_block`]).
//! 2. **No user context where there is none.**  `ddi_get_pid()` and
//!    `ddi_get_cred()` ("can be called from user context only",
//!    `usr/src/man/man9f/ddi_get_cred.9f`) outside open/close are
//!    violations ([`caller_pid`]).
//! 3. **dlmgmtd files a kernel-made link in the zone of the calling
//!    thread** (`i_dls_mgmt_upcall` passes `zone_kcred()` of the current
//!    thread to the door; `dlmgmt_upcall_create` in
//!    `usr/src/cmd/dlmgmtd/dlmgmt_door.c` files the link in the door
//!    caller's zone): on a taskq that is the global zone
//!    ([`caller_zone`]).
//!
//! Code that runs with no context recorded (the test harness calling the
//! driver directly, attach and detach run by [`crate::SimHost`]) is
//! treated as kernel context: it may block and has no process.

use std::cell::RefCell;
use std::sync::{Arc, Weak};

use tuntap_drv::ddi::{GLOBAL_ZONEID, ZoneId};

use crate::host::{HostShared, ViolationKind};

/// The kind of kernel context a thread is running driver code in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ctx {
    /// open(9E)/close(9E): the process's own thread.
    User { pid: i32, zone: ZoneId },
    /// A put procedure (`qi_putp`): no user context, must not block.
    Put,
    /// A service procedure (`qi_srvp`): no user context, must not block.
    Service,
    /// `mc_tx`: must never block.
    MacTx,
    /// Any other mac callback (`mc_getstat`, `mc_setprop`, ...): called
    /// by mac with its own locks or perimeter held; must not block.
    MacCallback,
    /// A taskq thread (`ddi_taskq_dispatch`): may block, no user context,
    /// global-zone `kcred`.
    Taskq,
    /// Module and device lifecycle (`_init`, attach, detach, `_fini`)
    /// and the test harness: may block, no process.
    Kernel,
}

impl Ctx {
    fn may_block(self) -> bool {
        matches!(self, Ctx::User { .. } | Ctx::Taskq | Ctx::Kernel)
    }

    fn describe(self) -> &'static str {
        match self {
            Ctx::User { .. } => "open/close (user context)",
            Ctx::Put => "a put procedure (put(9E): no user context, must not block)",
            Ctx::Service => "a service procedure (srv(9E): no user context, must not block)",
            Ctx::MacTx => "mc_tx (mac(9E): must never block)",
            Ctx::MacCallback => "a mac callback (mac(9E): called with mac's locks held, must not block)",
            Ctx::Taskq => "a taskq thread (no user context)",
            Ctx::Kernel => "kernel context",
        }
    }
}

thread_local! {
    static STACK: RefCell<Vec<(Weak<HostShared>, Ctx)>> = const { RefCell::new(Vec::new()) };
}

/// While alive, the calling thread runs driver code on behalf of `host`
/// in context `ctx`.
pub(crate) struct ContextGuard(());

pub(crate) fn enter(host: &Arc<HostShared>, ctx: Ctx) -> ContextGuard {
    STACK.with(|c| c.borrow_mut().push((Arc::downgrade(host), ctx)));
    ContextGuard(())
}

impl Drop for ContextGuard {
    fn drop(&mut self) {
        STACK.with(|c| {
            c.borrow_mut().pop();
        });
    }
}

/// The host whose driver code this thread runs, if any.
pub(crate) fn current_host() -> Option<Arc<HostShared>> {
    STACK.with(|c| c.borrow().last().and_then(|(h, _)| h.upgrade()))
}

/// The context this thread runs driver code in (kernel context when none
/// was recorded).
pub fn current() -> Ctx {
    STACK.with(|c| c.borrow().last().map(|(_, ctx)| *ctx).unwrap_or(Ctx::Kernel))
}

/// Rule 1: `what` may sleep; record a violation if this context forbids
/// it.  Returns whether the call may go on.
#[track_caller]
pub(crate) fn check_may_block(host: &HostShared, what: &str) -> bool {
    let ctx = current();
    if ctx.may_block() {
        return true;
    }
    let kind = if ctx == Ctx::MacTx { ViolationKind::BlockingInCallback } else { ViolationKind::Context };
    host.record(kind, format!("{what} may block, but it was called from {}", ctx.describe()));
    false
}

/// Rule 2: the pid of the process whose thread this is (`ddi_get_pid`).
/// Outside user context that is a violation, and 0.
#[track_caller]
pub(crate) fn caller_pid(host: &HostShared, what: &str) -> i32 {
    match current() {
        Ctx::User { pid, .. } => pid,
        Ctx::Kernel => 0,
        ctx => {
            host.record(
                ViolationKind::Context,
                format!(
                    "{what} outside user context, in {} (ddi_get_cred(9F)/ddi_get_pid(9F): user context only)",
                    ctx.describe()
                ),
            );
            0
        }
    }
}

/// Rule 3: the zone of the calling thread's credential, as a door upcall
/// to dlmgmtd sees it: the process's zone in user context, the global
/// zone everywhere else (`kcred`).
pub(crate) fn caller_zone() -> ZoneId {
    match current() {
        Ctx::User { zone, .. } => zone,
        _ => GLOBAL_ZONEID,
    }
}
