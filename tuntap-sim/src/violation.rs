// SPDX-License-Identifier: MPL-2.0
//! Violations: the rules a driver can break, and where one was broken.

use std::fmt;

/// What rule a [`Violation`] broke.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ViolationKind {
    /// A message block freed twice (or a freed block freed again).
    DoubleFree,
    /// A freed message block handed to the simulator (putnext, mac_rx, ...).
    UseAfterFree,
    /// `b_rptr`/`b_wptr` outside `[db_base, db_lim]` or `b_rptr > b_wptr`.
    BadPointers,
    /// `b_next` (or `b_prev`) set on a message passed as a single message.
    BNextSet,
    /// A message of the wrong type or shape for the interface.
    BadMessage,
    /// Memory (message blocks, registrations) not released by the end.
    Leak,
    /// The driver wrote into a data block it shared (`db_ref > 1`).
    SharedBlockWritten,
    /// An `M_IOCTL` got no `M_IOCACK`/`M_IOCNAK`.
    IoctlNoReply,
    /// A reply for an ioctl that is not pending (second reply, wrong id,
    /// reply after the stream head failed the ioctl).
    IoctlDoubleReply,
    /// `M_IOCACK` data longer than the caller's buffer (I_STR `ic_len`).
    IoctlReplyTooLong,
    /// Any other breach of the ioctl protocol (`M_COPYIN` on an I_STR
    /// ioctl, malformed `copyreq`, short reply, ...).
    IoctlProtocol,
    /// `M_COPYIN`/`M_COPYOUT` with a size of 0 or beyond the bound.
    CopyBounds,
    /// A mac/dls upcall, `putnext` or `qreply` with a driver lock held.
    LockHeldInUpcall,
    /// `mutex_enter` of a mutex the thread already holds.
    RecursiveEnter,
    /// `mutex_exit`/`cv_wait` of a mutex the thread does not hold.
    MutexNotHeld,
    /// A callback that must not block did (cv_wait in mc_tx).
    BlockingInCallback,
    /// `mac_register` rejected the registration (the driver filled it
    /// wrongly).
    MacRegister,
    /// A mac handle that is not (or no longer) registered.
    BadHandle,
    /// A breach of a mac rule (foreign chain returned by mc_tx, upcall
    /// after unregister, ...).
    MacProtocol,
    /// A STREAMS queue used in a state that forbids it (put after
    /// qprocsoff/close, no qprocson in open, no qprocsoff in close, ...).
    QueueState,
    /// A pointer that is not a queue of an open stream of this host.
    BadQueue,
    /// A breach of a dls/dlmgmtd rule.
    DlsProtocol,
    /// A credential pointer that is not a live simulator credential.
    BadCred,
    /// Simulator worker threads did not go idle (deadlock in the driver?).
    WorkerStuck,
    /// A call not allowed in the context it was made from: a blocking
    /// call in a put or service procedure or mac callback, or a
    /// user-context-only call outside open/close (see `context.rs`).
    Context,
    /// A kmutex taken against the order of earlier acquisitions
    /// ([`crate::lockorder`]).
    LockOrder,
    /// A `mutex_enter` or `cv_wait` that did not return within
    /// [`crate::watchdog::WAIT_BOUND`].
    Deadlock,
    /// An application-side wait without a timeout (read, getmsg, poll)
    /// that lasted [`crate::watchdog::WAIT_BOUND`].
    WaitBound,
    /// `I_FLUSH`'s dummy ioctl (`ic_cmd = -1`) was acknowledged: it must
    /// be NAKed (strioctl in usr/src/uts/common/os/streamio.c).
    FlushProtocol,
    /// A layered (LDI) stream or the driver's own STREAMS module used
    /// against the rules of `usr/src/uts/common/os/driver_lyr.c` and
    /// `streamio.c` (a handle not open, an open left at the end, a
    /// module that skipped `qprocson`/`qprocsoff`, a message put into a
    /// module queue after its `qprocsoff`), see `ldi.rs`.
    LdiProtocol,
}

/// A broken rule, with where it was found.
#[derive(Clone)]
pub struct Violation {
    pub kind: ViolationKind,
    pub message: String,
    /// Source location of the simulator entry point that found it.
    pub location: String,
    pub thread: String,
    /// A backtrace (captured for the first few violations of a host).
    pub backtrace: Option<String>,
}

impl fmt::Debug for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{:?}] {} (at {}, thread {})", self.kind, self.message, self.location, self.thread)
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)?;
        if let Some(bt) = &self.backtrace {
            write!(f, "\n  backtrace:\n{bt}")?;
        }
        Ok(())
    }
}

