// SPDX-License-Identifier: MPL-2.0
//! Injection points: failures of kernel services, and hooks that put the
//! driver into narrow windows deterministically.
//!
//! Theory statement.  A test arms an injection point with
//! [`SimHost::inject`] (the next `n` calls of that service fail with the
//! errno the real service returns in that case) or a one-shot hook with
//! [`SimHost::hook`]; the simulator consumes it at the call.
//! [`SimHost::hold_control_taskq`] keeps the driver's control taskq busy
//! so control messages stay queued until the test opens the gate.
//! [`SimHost::injections_left`] tells the test whether the driver reached
//! the point at all, so a test of a failure path cannot pass because the
//! path was never taken.
//!
//! Locks: none; counters are atomics.

use std::sync::atomic::{AtomicUsize, Ordering};

use illumos_sys_hdrs::{EBUSY, EBADF, ENOENT, ENOMEM};
use tuntap_drv::ddi::Errno;

use crate::host::{HostShared, SimHost};
use crate::worker::Gate;

/// A kernel service whose next calls can be made to fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Fault {
    /// `allocb` (and `msgpullup`) return null.
    Allocb,
    /// `mac_register` fails with `ENOMEM` (it cannot allocate the mac).
    MacRegister,
    /// `ddi_taskq_dispatch` with `DDI_NOSLEEP` fails (`ENOMEM`).
    Defer,
    /// `dls_mgmt_create` fails with `EBADF`: dlmgmtd's door is gone
    /// (`i_dls_mgmt_upcall`, usr/src/uts/common/io/dls/dls_mgmt.c).
    DlsMgmtCreate,
    /// `dls_devnet_create` fails with `EBADF`: its name lookup upcall
    /// (`dls_mgmt_get_linkinfo` from `dls_devnet_set`,
    /// usr/src/uts/common/io/dls/dls_mgmt.c) found no dlmgmtd.
    DlsDevnetCreate,
    /// `dls_devnet_setzid` fails with `EBADF`: its `DLMGMT_CMD_SETZONEID`
    /// upcall (`i_dls_devnet_setzid`, usr/src/uts/common/io/dls/dls_mgmt.c)
    /// found no dlmgmtd.
    DlsDevnetSetzid,
    /// `mac_unregister` fails with `EBUSY`: mac still has users of the
    /// provider (`mac_unregister` -> `mac_disable` in
    /// usr/src/uts/common/io/mac/mac_provider.c).
    MacUnregister,
    /// `ldi_open_by_name` of `/dev/net/<link>` fails with `ENOENT`
    /// although the link exists: dlmgmtd is restarting, so the name
    /// lookup's door upcall finds no door (`i_dls_mgmt_upcall` returns
    /// `EBADF`) and `dls_devnet_hold_by_name` reports that as `ENOENT`
    /// (usr/src/uts/common/io/dls/dls_mgmt.c); sdev's `devnet_lookup`
    /// passes it on.  A taskq thread takes no signals, so `EINTR` is not
    /// what it sees.
    LdiOpen,
}

impl Fault {
    /// The errno the simulated service returns when this fault fires.
    pub fn errno(self) -> Errno {
        match self {
            Fault::Allocb | Fault::MacRegister | Fault::Defer => ENOMEM,
            Fault::DlsMgmtCreate | Fault::DlsDevnetCreate | Fault::DlsDevnetSetzid => EBADF,
            Fault::MacUnregister => EBUSY,
            Fault::LdiOpen => ENOENT,
        }
    }
}

/// A one-shot hook into a narrow window.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Hook {
    /// The next `canputnext` on a driver read queue answers "full" as if
    /// the stream head were at its high-water mark; at that instant the
    /// reader empties the head, which back-enables the driver's read
    /// queue (`canputnext`/`backenable` in
    /// usr/src/uts/common/os/putnext.c and strsubr.c: a refused
    /// `canputnext` sets `QWANTW`, and the reader's drain below the
    /// low-water mark enables the queue).  The call returns only after
    /// that service procedure ran: the back-enable lands inside the
    /// caller's window between the refusal and its next step.
    CanputnextFullThenBackenable,
    /// The next control message dld's taskq takes (mac/dld.rs rule 2) is
    /// freed without an answer: an ack lost on the way up (review H2 of
    /// the relay: an answer freed by a module below, or never sent).
    /// Whoever waits for it waits for ever unless its wait is bounded.
    DldLosesNextAnswer,
    /// Before answering the next DLPI request it takes, dld sends up a
    /// `DL_ERROR_ACK` for `DL_UNBIND_REQ` (`DL_OUTSTATE`) that answers
    /// nothing pending: a stray ack arriving while the relay waits
    /// (review M1).
    DldStrayBeforeNextAnswer,
}

/// The armed injection points of a host.
#[derive(Default)]
pub(crate) struct Faults {
    dls_mgmt_create: AtomicUsize,
    dls_devnet_create: AtomicUsize,
    dls_devnet_setzid: AtomicUsize,
    mac_unregister: AtomicUsize,
    ldi_open: AtomicUsize,
    canput_full: AtomicUsize,
    dld_silent: AtomicUsize,
    dld_stray: AtomicUsize,
}

fn take(c: &AtomicUsize) -> bool {
    c.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok()
}

impl Faults {
    fn counter<'a>(&'a self, host: &'a HostShared, f: Fault) -> &'a AtomicUsize {
        match f {
            Fault::Allocb => &host.allocb_failures,
            Fault::MacRegister => &host.mac_register_failures,
            Fault::Defer => &host.defer_failures,
            Fault::DlsMgmtCreate => &self.dls_mgmt_create,
            Fault::DlsDevnetCreate => &self.dls_devnet_create,
            Fault::DlsDevnetSetzid => &self.dls_devnet_setzid,
            Fault::MacUnregister => &self.mac_unregister,
            Fault::LdiOpen => &self.ldi_open,
        }
    }

    fn hook(&self, h: Hook) -> &AtomicUsize {
        match h {
            Hook::CanputnextFullThenBackenable => &self.canput_full,
            Hook::DldLosesNextAnswer => &self.dld_silent,
            Hook::DldStrayBeforeNextAnswer => &self.dld_stray,
        }
    }
}

impl HostShared {
    /// Consume one armed failure of `f`: `Err(errno)` if it fires.
    pub(crate) fn injected(&self, f: Fault) -> Result<(), Errno> {
        if take(self.faults.counter(self, f)) { Err(f.errno()) } else { Ok(()) }
    }

    /// Consume the hook `h` if armed.
    pub(crate) fn hooked(&self, h: Hook) -> bool {
        take(self.faults.hook(h))
    }
}

impl SimHost {
    /// Make the next `n` calls of the service `f` fail with
    /// [`Fault::errno`].
    pub fn inject(&self, f: Fault, n: usize) {
        self.shared.faults.counter(&self.shared, f).store(n, Ordering::SeqCst);
    }

    /// Armed failures of `f` not consumed yet.
    pub fn injections_left(&self, f: Fault) -> usize {
        self.shared.faults.counter(&self.shared, f).load(Ordering::SeqCst)
    }

    /// Arm the one-shot hook `h`.
    pub fn hook(&self, h: Hook) {
        self.shared.faults.hook(h).store(1, Ordering::SeqCst);
    }

    /// Keep the driver's control taskq busy until the returned gate is
    /// opened or dropped: control tasks the driver dispatches meanwhile
    /// wait in the taskq, and the control messages of their streams stay
    /// queued, unhandled (`taskq_dispatch` queues the entry while every
    /// thread is busy: `taskq_dispatch` in usr/src/uts/common/os/taskq.c).
    /// The window an `M_FLUSH` can land in.
    pub fn hold_control_taskq(&self) -> Gate {
        self.shared.control.hold()
    }

    /// Is the hook `h` still armed (not reached yet)?
    pub fn hook_armed(&self, h: Hook) -> bool {
        self.shared.faults.hook(h).load(Ordering::SeqCst) > 0
    }
}
