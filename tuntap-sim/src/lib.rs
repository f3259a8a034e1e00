// SPDX-License-Identifier: MPL-2.0
//! A DDI-faithful host simulator of the illumos kernel services the tuntap
//! driver uses: test equipment, not a mock.
//!
//! # Theory statement
//!
//! **What it does.**  [`SimHost`] is one simulated illumos host.  Its
//! [`SimKernel`] handle implements [`tuntap_drv::ddi::Kernel`], so the
//! driver logic runs unchanged on top of it, and the host plays every
//! party the driver talks to:
//! * the STREAMS framework and a stream head per open ([`SimStream`]):
//!   real `queue_t` pairs, put/service procedures, flow control with
//!   back-enabling, `M_SETOPTS`, read modes, `M_IOCTL` (I_STR and
//!   transparent with `M_COPYIN`/`M_COPYOUT` against [`UserMemory`]),
//!   `M_ERROR`, `M_HANGUP`, `M_FLUSH`;
//! * the mac module ([`mac`]): `mac_register`'s checks, callbacks called
//!   through the driver's `mac_callbacks_t`, clients that play IP on top
//!   of a link ([`SimMacClient`]) and promiscuous observers ([`SimSnoop`]);
//! * dls and dlmgmtd (`dls`): link ids, names, classes, zones, devnet
//!   bindings, persistent configuration;
//! * credentials with privileges and zones ([`SimCred`]);
//! * message blocks: real `mblk_t`/`dblk_t` with reference counts,
//!   quarantine of freed blocks and leak accounting ([`mblk`]);
//! * locks that know which thread holds a driver lock ([`sync`]).
//!
//! Every documented rule a driver can break is checked where it is
//! broken; a broken rule is recorded as a [`Violation`] (kind, message,
//! where, backtrace).  [`SimHost::finish`] (or dropping the host) fails
//! the test when any violation or leak was recorded.
//!
//! **Threads.**  Each host owns two worker threads: the STREAMS service
//! thread, which runs read-side service procedures after `qenable` or a
//! back-enable (never in the caller's stack), and a taskq thread for
//! [`tuntap_drv::ddi::Kernel::defer`] work and mac's transmit restarts.
//! Tests may use any number of threads and any number of hosts.
//!
//! **Locks.**  Simulator-internal state sits behind `std::sync::Mutex`es
//! that are never held while the simulator calls into the driver, so the
//! driver may call back into the simulator from any entry point.  The
//! only lock order inside the simulator is: a stream's head state, then
//! the host's block registry.
//!
//! **Invariants.**  No process-global state: everything is keyed by host,
//! and a message block finds its host through its own header.  Memory of
//! queues, mac handles and freed message blocks is not returned until the
//! host is dropped, so a stale pointer from a buggy driver reads poisoned
//! simulator memory, never someone else's.

//! # Writing a driver test
//!
//! ```ignore
//! let host = SimHost::new();                       // one host per test
//! let drv = Arc::new(Driver::new(host.kernel()));  // SimKernel: Kernel
//! host.attach(drv.clone());                        // its STREAMS entry points
//! let root = host.root_cred();
//! let s = host.open(base + node_minor::TAP, &root)?;   // clone open
//! s.ioctl_istr(cmd, &bytes)?;                      // or ioctl_transparent
//! let ip = host.mac_client_open("tap0")?;          // IP on the link
//! ip.tx(&[&frame]); s.read(&mut buf, Some(secs))?; // packet paths
//! host.finish();                                   // fails on violations/leaks
//! ```
//!
//! Rules enforced beyond the ones in `tuntap_drv::ddi`: `putnext` and
//! `qreply` are, like the mac/dls upcalls, never made with a driver lock
//! held (STREAMS MT rule: no locks across putnext); `mc_tx` never sleeps
//! on a condition variable.  Tests that provoke a violation on purpose
//! consume it with [`SimHost::expect_violation`].
//!
//! Set `TUNTAP_SIM_VERBOSE=1` to print violations as they happen.
//!
//! # Rules that close the simulator's gaps (issue 11)
//!
//! Each is checked where it is broken and recorded as a [`Violation`]
//! of the kind named; the illumos-gate source it follows is given.
//!
//! * **Lock order** ([`lockorder`], [`ViolationKind::LockOrder`]).  Every
//!   driver kmutex instance records which mutexes the thread held when
//!   it was taken; taking one against an order already seen (directly or
//!   through other locks) is reported once per pair with the driver
//!   functions of the earlier order.  illumos itself never detects it:
//!   `mutex_vector_enter` (usr/src/uts/common/os/mutex.c) sleeps on the
//!   owner's turnstile, so an inversion is a production deadlock.  The
//!   order checked against is the one tuntap-drv/src/lib.rs documents.
//! * **Bounded waits** ([`watchdog::WAIT_BOUND`],
//!   [`ViolationKind::Deadlock`], [`ViolationKind::WaitBound`]).  A
//!   `mutex_enter` or `cv_wait` that does not return within the bound is a
//!   deadlock or lost wake-up: recorded, then the thread panics with the
//!   rule.  Reads, `getmsg` and `poll` without a timeout, worker joins and
//!   the back-enable hook are bounded too.
//! * **Test time limit** ([`SimHost::set_time_limit`]).  A host not
//!   finished within its limit prints the test's name and its violations
//!   and ends the process (status 124); the test rigs set
//!   [`TEST_TIME_LIMIT`].  A host dropped while its test panics prints its
//!   violations, so a failed assertion comes with the rule that caused it.
//! * **`I_FLUSH` round trip** ([`SimStream::flush`],
//!   [`ViolationKind::FlushProtocol`]).  As `strioctl` does for `I_FLUSH`
//!   (usr/src/uts/common/os/streamio.c): `ENXIO` after hangup, `EINVAL`
//!   for bits outside `FLUSHRW`, `M_FLUSH` down, then a dummy `I_STR`
//!   ioctl with `ic_cmd = -1` that must be NAKed.  The head's read side is
//!   flushed only by the driver's `M_FLUSH(FLUSHR)` coming back up, and
//!   that flush back-enables a waiting driver queue as `flushq_common`
//!   does (usr/src/uts/common/io/stream.c).
//! * **Kernel-made link ids** ([`ViolationKind::Leak`]).  Every id the
//!   kernel got from dlmgmtd with `dls_mgmt_create` must be given back
//!   with `dls_mgmt_destroy` (usr/src/uts/common/io/dls/dls_mgmt.c) by the
//!   end of the test, including after a creation that failed later.
//! * **Injection points** ([`SimHost::inject`], [`Fault`]): the next
//!   calls of `dls_mgmt_create` (`EBADF`: no dlmgmtd door,
//!   `i_dls_mgmt_upcall` in dls_mgmt.c), `dls_devnet_create` (`EBADF`
//!   from its name lookup upcall in `dls_devnet_set`), `dls_devnet_setzid`
//!   (`EBADF` from its `DLMGMT_CMD_SETZONEID` upcall), `mac_register`
//!   (`ENOMEM`, usr/src/uts/common/io/mac/mac_provider.c), `allocb` and
//!   NOSLEEP `defer` fail; [`SimHost::injections_left`] proves the driver
//!   reached the step.
//! * **The size of `mac_capab_lso_t`** ([`SimHost::set_mac_lso_ipv6`],
//!   [`ViolationKind::MacProtocol`]).  `mc_getcapab(MAC_CAPAB_LSO)` gets a
//!   structure of the modelled mac's size (8 bytes before TCPv6 LSO, 12
//!   with it; the caller's stack variable in `dld_capab_lso`,
//!   usr/src/uts/common/io/dld/dld_proto.c) with a guard word behind it;
//!   writing the guard, or setting `LSO_TX_BASIC_TCP_IPV6` for a mac
//!   without it, is recorded.
//! * **Narrow windows** ([`SimHost::hook`], [`Hook`]).
//!   [`Hook::CanputnextFullThenBackenable`]: the next `canputnext` says
//!   "full" (setting `QWANTW`, canputnext(9F)) while the reader empties
//!   the head at once, so the back-enabled service procedure runs inside
//!   the caller's window before `canputnext` returns.

//!
//! # Rules of the old-API relay (issue 13)
//!
//! * **LDI** ([`ldi`], [`ViolationKind::LdiProtocol`], and
//!   [`ViolationKind::Context`] for rule 1): `ldi_open_by_name`,
//!   `ldi_ioctl` and `ldi_close` only where blocking is allowed
//!   (usr/src/uts/common/os/driver_lyr.c); `/dev/net/<link>` resolved
//!   from the global zone; `I_PUSH` of a registered module only, whose
//!   open must `qprocson` and close `qprocsoff` (streamio.c `strioctl`);
//!   ioctls go down through the module with `ioc_cr == kcred`; nothing is
//!   put into a module queue after its `qprocsoff`; every handle is
//!   closed by the end of the test ([`ViolationKind::Leak`]).  The
//!   lower stream head is a sink nobody reads: what reaches it stays
//!   queued, and at `STRHIGH` (sys/stream.h) dld's raw receive drops
//!   every frame (`dld_str_rx_raw`); `M_ERROR`/`M_HANGUP` there fail
//!   later ioctls (`strdoioctl`).  [`ldi_user`]: a test's injections
//!   from dld and a user's own `/dev/net` stream with the module pushed.
//! * **Timed waits** (`sync.rs`): `cv_reltimedwait` runs out after its
//!   time ([`SimHost::set_timed_wait_cap`] lets time pass faster).
//! * **dld and dls** (`mac/dld.rs`): `/dev/net` streams are style 1 and
//!   attached; their control messages are answered asynchronously from
//!   dld's taskq (dld_str.c `dld_wput_nondata_task`); the first active
//!   stream makes dls's client the link's primary client (`EBUSY` against
//!   a foreign primary, dls.c `dls_mac_active_set`) and the last one
//!   removes it; raw frames are transmitted through dls's client, so link
//!   flows (`mac_flow.c`: flows live on dls's client), `maxbw` and snoop
//!   apply; received frames go to the streams `dls_accept` takes.
//!
//! # Bridges and VNICs over a link (issue 13)
//!
//! * **Bridge ports** ([`SimHost::bridge_create`], [`SimBridge`],
//!   `mac/bridge.rs`): `bridge_add_link` (usr/src/uts/common/io/bridge.c)
//!   refuses a link another bridge has (`EBUSY`), an unknown link
//!   (`ENOENT`) and media other than `DL_ETHER` (`ENOTSUP`), never a
//!   class; a port of another max SDU is kept but forwards nothing; the
//!   port is a promiscuous client (`mc_setpromisc(B_TRUE)`, whose refusal
//!   fails the add).  Frames received on a port go out of the others.
//! * **VNICs** ([`SimHost::vnic_create`], [`SimVnic`]): `vnic_dev_create`
//!   (usr/src/uts/common/io/vnic/vnic_dev.c) wants native media
//!   `DL_ETHER`; a second unicast address on a mac without RX groups
//!   makes the device promiscuous (`mac_add_macaddr`, mac.c) until the
//!   VNIC goes.

#![allow(clippy::missing_safety_doc)]

pub mod boot;
pub mod context;
mod dls;
pub mod faults;
pub mod host;
mod kernel;
pub mod ldi;
pub mod ldi_user;
pub mod lockorder;
pub mod mac;
pub mod mblk;
pub mod offload;
pub mod procs;
pub mod streams;
pub mod sync;
mod violation;
pub mod watchdog;
mod worker;

pub use dls::{CredSpec, DlError, DlFlags, LinkInfo, Privileges, SimCred};
pub use faults::{Fault, Hook};
pub use worker::Gate;
pub use watchdog::{TEST_TIME_LIMIT, WAIT_BOUND};
pub use host::{ProbeRecord, SimHost, SimKernel, Violation, ViolationKind};
pub use procs::{ProcessRecord, SimProcesses, SpawnError};
pub use mac::{DldInfo, SimBridge, SimVnic, FlowSpec, KernClientInfo, LinkRef, MAC_SRS_HIWAT, MacInfo, rx_drop_threshold, PropInfo, SimMacClient, SimSnoop, TxOpts};
pub use offload::TxOffload;
pub use streams::{GetMsg, IoctlReply, OpenArgs, SimStream, UserMemory};

/// An illumos errno value.
pub type Errno = i32;
