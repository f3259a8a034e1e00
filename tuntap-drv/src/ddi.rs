// SPDX-License-Identifier: MPL-2.0
//! The kernel services the driver logic is written against.
//!
//! Theory statement.  Everything the driver asks of the illumos kernel goes
//! through the [`Kernel`] trait: message blocks, STREAMS hand-offs, mac
//! registration and upcalls, dls/dlmgmtd, credentials and zones, locks,
//! time, randomness and DTrace probes.  Two implementations exist: the
//! illumos one (`crate::illumos`, FFI only, built with the `kernel`
//! feature) and the host simulator (`tuntap-sim`), which enforces the
//! documented rules of each interface and fails a test that breaks one.
//!
//! The trait keeps the C types of the real interfaces (`mblk_t`,
//! `queue_t`, `mac_register_t`) so that pointer code (b_rptr/b_wptr,
//! b_cont/b_next chains, q_ptr) runs unchanged in both worlds.
//!
//! Rules the implementations enforce and the driver must keep:
//! * No mac or dls upcall ([`Kernel::mac_rx`], [`Kernel::mac_tx_update`],
//!   [`Kernel::mac_link_update`], [`Kernel::mac_maxsdu_update`],
//!   [`Kernel::mac_unicst_update`], [`Kernel::mac_register`],
//!   [`Kernel::mac_unregister`], [`Kernel::mac_disable`],
//!   [`Kernel::dls_devnet_create`], [`Kernel::dls_devnet_destroy`]) is made
//!   while the calling thread holds a driver lock ([`Kernel::Mutex`]).
//! * Every message the driver allocates or is handed is freed, passed on,
//!   or returned exactly once.
//! * Every `M_IOCTL` gets exactly one reply.

use core::ffi::c_void;
use core::ptr::NonNull;

pub use illumos_sys_hdrs::{cred_t, mac_register_t, mblk_t, queue_t};
/// The driver's fixed node minors, as offsets from
/// [`Kernel::private_minor_base`]; clone opens get minors above these.
/// Defined once in `tuntap_abi::limits::node`.
pub use tuntap_abi::limits::node as node_minor;
use tuntap_abi::{DatalinkId, LinkName};

/// An illumos errno value (`usr/src/uts/common/sys/errno.h`).
pub type Errno = i32;

/// A zone id (`zoneid_t`).
pub type ZoneId = i32;

/// The global zone (`GLOBAL_ZONEID`, `usr/src/uts/common/sys/zone.h`).
pub const GLOBAL_ZONEID: ZoneId = 0;

/// A credential the kernel handed to an entry point.  Valid for the
/// duration of that entry point only.
#[derive(Clone, Copy, Debug)]
pub struct Cred(pub *const cred_t);

/// A registered mac provider instance (`mac_handle_t`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MacHandle(pub NonNull<c_void>);

// SAFETY: a mac_handle_t is an opaque kernel handle that the mac module
// allows any thread to use for the provider upcalls.
unsafe impl Send for MacHandle {}
// SAFETY: as above.
unsafe impl Sync for MacHandle {}

/// A mac client the driver opened on one of its own links
/// (`mac_client_handle_t`, `usr/src/uts/common/sys/mac_client.h`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MacClientHandle(pub NonNull<c_void>);

// SAFETY: an opaque kernel handle; mac allows any thread to use it
// (mac_tx from any context, the rest from contexts that may block).
unsafe impl Send for MacClientHandle {}
// SAFETY: as above.
unsafe impl Sync for MacClientHandle {}

/// A unicast address registration of a mac client (`mac_unicast_handle_t`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MacUnicastHandle(pub NonNull<c_void>);

// SAFETY: an opaque kernel handle, as MacClientHandle.
unsafe impl Send for MacUnicastHandle {}
// SAFETY: as above.
unsafe impl Sync for MacUnicastHandle {}

/// `mac_rx_t` (`usr/src/uts/common/sys/mac.h`): `void (*)(void *arg,
/// mac_resource_handle_t, mblk_t *chain, boolean_t loopback)`.  The chain
/// is owned by the callee; the callback must not block.
pub type MacRxFn = unsafe extern "C" fn(*mut c_void, *mut c_void, *mut mblk_t, i32);

/// A layered open of a device (`ldi_handle_t`, sys/sunldi.h): the
/// old-API DLPI stream's lower dld stream (dlpi/relay.rs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LdiHandle(pub NonNull<c_void>);

// SAFETY: an opaque kernel handle; LDI allows any thread that may block
// to use it.
unsafe impl Send for LdiHandle {}
// SAFETY: as above.
unsafe impl Sync for LdiHandle {}

/// `mac_prop_info_handle_t`: valid only inside `mc_propinfo`.
#[derive(Clone, Copy, Debug)]
pub struct PropInfoHandle(pub *mut c_void);

/// `link_state_t` values (`usr/src/uts/common/sys/mac.h`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(i32)]
pub enum LinkState {
    Unknown = -1,
    Down = 0,
    Up = 1,
}

/// `mac_prop_perm_t` values (`usr/src/uts/common/sys/mac.h`:
/// `MAC_PROP_PERM_READ` 0x1, `_WRITE` 0x10, `_RW` 0x11), from their one
/// home in `illumos-sys-hdrs`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum PropPerm {
    Read = illumos_sys_hdrs::MAC_PROP_PERM_READ,
    Write = illumos_sys_hdrs::MAC_PROP_PERM_WRITE,
    ReadWrite = illumos_sys_hdrs::MAC_PROP_PERM_RW,
}

/// A DTrace SDT probe point.  In the kernel each becomes
/// `__dtrace_probe_tuntap__<name>`; the simulator records them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Probe<'a> {
    /// A packet was dropped: (link id, reason).
    Drop(DatalinkId, DropReason),
    /// A link was created / destroyed / changed state.
    LinkCreate(DatalinkId, &'a LinkName),
    LinkDestroy(DatalinkId),
    LinkState(DatalinkId, LinkState),
    /// A queue (minor) attached to / detached from a link.
    QueueAttach(DatalinkId, u32),
    QueueDetach(DatalinkId, u32),
    /// An ioctl failed: (command, errno).
    IoctlFail(i32, Errno),
    /// Something went wrong on an old-API stream's lower dld stream
    /// (dlpi/relay.rs): (link id, what, errno or 0).
    Relay(DatalinkId, RelayEvent, Errno),
}

/// What [`Probe::Relay`] reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RelayEvent {
    /// The relay could not be set up (errno: why); DL_ATTACH failed.
    OpenFailed,
    /// dld did not answer a request in time; the relay is broken.
    AckTimeout,
    /// A message from dld that answered nothing was freed.
    Stray,
    /// dld sent `M_ERROR`/`M_HANGUP`; the relay is broken.
    Hangup,
}

/// Why a packet was dropped; each has its own counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DropReason {
    /// A write that is not a valid packet for the link's mode.
    BadWrite,
    /// A write longer than MTU plus link header.
    TooLong,
    /// No buffer for a packet (allocation failed).
    NoBuffer,
    /// No queue attached to take a packet from the stack.
    NoQueue,
    /// A non-IP frame on a tun link.
    NotIp,
    /// The link is going away.
    Closing,
    /// A written virtio-net header that does not describe its packet
    /// (`tuntap_abi::offload`).
    BadOffload,
}

/// A raw kernel mutex (`kmutex_t` in the kernel).
///
/// A zero-initialised adaptive `kmutex_t` is valid on illumos, so a value
/// made by [`RawMutex::new`] may be moved until first use.
pub trait RawMutex: Send + Sync {
    fn new() -> Self;
    fn enter(&self);
    fn exit(&self);
}

/// A raw kernel condition variable (`kcondvar_t`).
pub trait RawCondvar<M: RawMutex>: Send + Sync {
    fn new() -> Self;
    /// Atomically release `m`, sleep, and re-acquire `m`.
    fn wait(&self, m: &M);
    /// As [`RawCondvar::wait`], but for at most `usec` microseconds:
    /// `cv_reltimedwait(cv, m, drv_usectohz(usec), TR_CLOCK_TICK)`
    /// (usr/src/uts/common/os/condvar.c `cv_reltimedwait` ->
    /// `cv_timedwait_hires`: -1 when the time ran out, else the time
    /// left).  `None` when the time ran out, else the microseconds left.
    /// Not interruptible; may block: user or kernel thread context only,
    /// never a put or service procedure or a mac callback.
    fn timed_wait(&self, m: &M, usec: u64) -> Option<u64>;
    fn broadcast(&self);
}

/// The hardware-offload metadata of a message's first data block, as
/// `mac_hcksum_get`/`mac_hcksum_set` and `mac_lso_get` read and write it
/// (`usr/src/uts/common/io/mac/mac_provider.c`; kept in the dblk's
/// `DB_CKSUMFLAGS`, `DB_CKSUMSTART`/`STUFF`/`END`, `DB_CKSUM16` and
/// `DB_LSOMSS`, `usr/src/uts/common/sys/strsubr.h`).  Offsets count from
/// the start of the IP header (`ip_output_cksum_v4`,
/// `usr/src/uts/common/inet/ip/ip_output.c`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Hcksum {
    /// `HCK_*` bits (`illumos_sys_hdrs::HCK_PARTIALCKSUM`, ...).
    pub flags: u32,
    pub start: u32,
    pub stuff: u32,
    pub end: u32,
    pub value: u32,
}

/// A link as dlmgmtd knows it ([`Kernel::dls_mgmt_linkinfo`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DlmgmtLink {
    /// The link's name.
    pub name: LinkName,
    /// `datalink_class_t`.
    pub class: i32,
    /// DLPI media type (`DL_ETHER`, ...).
    pub media: u32,
}

/// A task for [`Kernel::defer`]: the `ddi_taskq_dispatch(9F)` callback shape.
pub type DeferredTask = unsafe extern "C" fn(*mut core::ffi::c_void);

/// The kernel services the driver uses.  See the module documentation.
pub trait Kernel: Clone + Send + Sync + Sized + 'static {
    type Mutex: RawMutex;
    type Condvar: RawCondvar<Self::Mutex>;

    // ----- message blocks (allocb(9F), freemsg(9F), msgpullup(9F)) -----

    /// `allocb(size, BPRI_MED)`: null when no memory.
    fn allocb(&self, size: usize) -> *mut mblk_t;

    /// `freemsg(9F)`: free a whole `b_cont` chain.  An associated function
    /// so that owners can free on drop.
    ///
    /// # Safety
    /// `mp` is a message the caller owns; it is not used afterwards.
    unsafe fn freemsg(mp: *mut mblk_t);

    /// `msgpullup(mp, -1)`: a new single-block copy of the message, or null.
    ///
    /// # Safety
    /// `mp` is a valid message; it stays owned by the caller.
    unsafe fn msgpullup(&self, mp: *mut mblk_t) -> *mut mblk_t;

    /// `mac_hcksum_get`: the checksum-offload metadata of `mp`.
    ///
    /// # Safety
    /// `mp` is a valid `M_DATA` message.
    unsafe fn hcksum_get(&self, mp: *const mblk_t) -> Hcksum;
    /// `mac_hcksum_set`.
    ///
    /// # Safety
    /// `mp` is a valid `M_DATA` message the caller owns.
    unsafe fn hcksum_set(&self, mp: *mut mblk_t, h: Hcksum);
    /// `mac_lso_get`: the MSS when `mp` is a large segment (`HW_LSO`).
    ///
    /// # Safety
    /// `mp` is a valid `M_DATA` message the caller owns.
    unsafe fn lso_get(&self, mp: *mut mblk_t) -> Option<u32>;

    // ----- STREAMS (putnext(9F), canputnext(9F), qreply(9F), ...) -----

    /// # Safety
    /// `q` is a queue of an open stream of this driver; `mp` is owned.
    unsafe fn putnext(&self, q: *mut queue_t, mp: *mut mblk_t);
    /// # Safety
    /// `q` is a queue of an open stream of this driver.
    unsafe fn canputnext(&self, q: *mut queue_t) -> bool;
    /// # Safety
    /// `q` is a write queue of an open stream; `mp` is owned.
    unsafe fn qreply(&self, q: *mut queue_t, mp: *mut mblk_t);
    /// # Safety
    /// `q` is a queue of an open stream of this driver.
    unsafe fn qenable(&self, q: *mut queue_t);
    /// # Safety
    /// `q` is the read queue passed to open.
    unsafe fn qprocson(&self, q: *mut queue_t);
    /// # Safety
    /// `q` is the read queue passed to close.
    unsafe fn qprocsoff(&self, q: *mut queue_t);

    // ----- mac provider (mac_provider.h) -----

    /// `mac_alloc(MAC_VERSION)`, let `fill` set every field but
    /// `m_version`, `mac_register()`, `mac_free()`.
    fn mac_register(&self, fill: &mut dyn FnMut(&mut mac_register_t)) -> Result<MacHandle, Errno>;
    fn mac_disable(&self, mh: MacHandle) -> Result<(), Errno>;
    fn mac_unregister(&self, mh: MacHandle) -> Result<(), Errno>;
    /// # Safety
    /// `chain` is an owned `b_next` chain of messages.
    unsafe fn mac_rx(&self, mh: MacHandle, chain: *mut mblk_t);
    fn mac_tx_update(&self, mh: MacHandle);
    /// `mac_capab_update`: the link's capabilities changed; mac asks
    /// `mc_getcapab` again (`i_mac_notify(MAC_NOTE_CAPAB_CHG)`,
    /// `usr/src/uts/common/io/mac/mac_provider.c`; thread context, no
    /// driver lock held: mac calls `mc_getcapab` back).
    fn mac_capab_update(&self, mh: MacHandle);
    /// Does the running mac's `mac_capab_lso_t` have the TCP/IPv6 member
    /// (`LSO_TX_BASIC_TCP_IPV6`, `lso_basic_tcp_ipv6`; illumos 12466)?
    /// How the module tells: link/offload.rs.  Gates before it
    /// allocate 8 bytes on the caller's stack (`dld_capab_lso`,
    /// `usr/src/uts/common/io/dld/dld_proto.c`), so `mc_getcapab` must not
    /// write past them (`illumos_sys_hdrs::mac_capab_lso_v6_t`).
    fn mac_lso_ipv6(&self) -> bool;
    fn mac_link_update(&self, mh: MacHandle, state: LinkState);
    fn mac_maxsdu_update(&self, mh: MacHandle, sdu: u32) -> Result<(), Errno>;
    fn mac_unicst_update(&self, mh: MacHandle, addr: &[u8; 6]);
    fn mac_prop_info_set_default_uint32(&self, ph: PropInfoHandle, value: u32);
    fn mac_prop_info_set_range_uint32(&self, ph: PropInfoHandle, min: u32, max: u32);
    fn mac_prop_info_set_perm(&self, ph: PropInfoHandle, perm: PropPerm);

    // ----- mac client (mac_client.h, mac.h): the driver as a client of
    // its own links, see dlpi/mac_client.rs -----

    /// `mac_open_by_linkid(linkid, &mh)` (sys/mac.h, mac.c): hold the mac
    /// behind a link id (`mac_disable` answers `EBUSY` until
    /// [`Kernel::mac_close`]).  Blocks.
    fn mac_open_by_linkid(&self, linkid: DatalinkId) -> Result<MacHandle, Errno>;
    /// `mac_close(mh)`: release a [`Kernel::mac_open_by_linkid`].
    fn mac_close(&self, mh: MacHandle);
    /// `mac_client_open(mh, &mch, name, flags)`.  `name` is NUL-free; the
    /// implementation terminates it.  Blocks (mac perimeter, KM_SLEEP).
    fn mac_client_open(&self, mh: MacHandle, name: &[u8], flags: u16) -> Result<MacClientHandle, Errno>;
    /// `mac_client_close(mch, flags)`: every unicast address and the rx
    /// callback must be gone first (mac_client.c asserts it).  Blocks.
    fn mac_client_close(&self, mch: MacClientHandle, flags: u16);
    /// `mac_unicast_add(mch, NULL, flags, &muh, 0, &diag)`: register the
    /// link's primary address (`addr` NULL, vid 0).  `Err((errno, diag))`.
    /// Blocks.
    fn mac_unicast_add_primary(&self, mch: MacClientHandle, flags: u16) -> Result<MacUnicastHandle, (Errno, i32)>;
    /// `mac_unicast_remove(mch, muh)`.  Blocks.
    fn mac_unicast_remove(&self, mch: MacClientHandle, muh: MacUnicastHandle) -> Result<(), Errno>;
    /// `mac_rx_set(mch, rx, arg)`: from now on mac passes the client's
    /// frames to `rx(arg, ..)`.  Blocks (quiesces the receive path); never
    /// call it from `rx` itself.
    ///
    /// # Safety
    /// `arg` stays valid until [`Kernel::mac_rx_clear`] has returned.
    unsafe fn mac_rx_set(&self, mch: MacClientHandle, rx: MacRxFn, arg: *mut c_void);
    /// `mac_rx_clear(mch)`: after it returns `rx` is never called again.
    /// Blocks.
    fn mac_rx_clear(&self, mch: MacClientHandle);
    /// `mac_tx(mch, chain, 0, flag, &ret)`: send a `b_next` chain through
    /// the client (protection, bandwidth, promiscuous taps, then the
    /// link's `mc_tx`).  Returns `ret`: what was not sent (null with
    /// `MAC_DROP_ON_NO_DESC`, which frees it instead).  Never blocks; may
    /// be called from a put procedure.
    ///
    /// # Safety
    /// `chain` is an owned `b_next` chain of valid messages.
    unsafe fn mac_tx(&self, mch: MacClientHandle, chain: *mut mblk_t, flag: u16) -> *mut mblk_t;

    // ----- LDI (sys/sunldi.h, usr/src/uts/common/os/driver_lyr.c): the
    // old-API DLPI stream's lower dld stream, see dlpi/relay.rs -----

    /// `ldi_ident_from_dip(tun's dip)`, `ldi_open_by_name(path,
    /// FREAD|FWRITE, kcred, &lh, li)`, `ldi_ident_release(li)`: open a
    /// device by path in the kernel (the path is resolved from the
    /// global zone's root, `ldi_vp_from_name`).  `path` has no NUL; the
    /// implementation terminates it.  Blocks (path lookup, the device's
    /// open): taskq, open or close only; never a put or service procedure
    /// or a mac callback (every LDI entry asserts `!servicing_interrupt()`).
    fn ldi_open_by_name(&self, path: &[u8]) -> Result<LdiHandle, Errno>;
    /// `ldi_ioctl(lh, cmd, arg, FKIOCTL, kcred, &rval)`: for a stream,
    /// `strioctl` with `K_TO_K` copies.  Used with `DLIOCRAW` (arg 0),
    /// `I_PUSH` (arg: a NUL-terminated module name in kernel memory).
    /// Returns `rval`.  Blocks (the ioctl waits for its ack).
    ///
    /// # Safety
    /// `arg` is what `cmd` expects, valid for the duration of the call.
    unsafe fn ldi_ioctl(&self, lh: LdiHandle, cmd: i32, arg: isize) -> Result<i32, Errno>;
    /// `ldi_ioctl(lh, I_STR, &strioctl{cmd, timeout_secs, len, data},
    /// FKIOCTL, kcred, &rval)`: an `M_IOCTL` whose `b_cont` holds `data`;
    /// what the acknowledgement carries back is copied into `data`.
    /// Waits at most `timeout_secs` for it (`ic_timout`; `ETIME` past it,
    /// `strdoioctl` in usr/src/uts/common/os/streamio.c), whereas a
    /// command `ldi_ioctl` sends as a transparent ioctl waits `INFTIM`
    /// (`strioctl`'s default case).  Blocks.
    fn ldi_ioctl_istr(&self, lh: LdiHandle, cmd: i32, data: &mut [u8], timeout_secs: i32) -> Result<i32, Errno>;
    /// `ldi_close(lh, FREAD|FWRITE, kcred)`: pops and closes every module
    /// pushed on the stream, then closes the device.  Blocks.
    fn ldi_close(&self, lh: LdiHandle);
    /// Is `cr` the kernel's own credential (`cr == kcred`, sys/cred.h)?
    /// What an ioctl that only the kernel may send checks (dld's
    /// `ioc_fast` refuses `DLIOCHDRINFO` unless `ioc_cr == kcred`).
    fn is_kcred(&self, cr: Cred) -> bool;

    // ----- dls and dlmgmtd (dls.h, dls_mgmt.h) -----

    /// `dls_devnet_create(mh, linkid, zoneid)` (illumos-gate
    /// `usr/src/uts/common/io/dls/dls_mgmt.c`): bind the mac to its link
    /// id, owned by `zone`.  Blocks (mac perimeter, dlmgmtd upcall).
    fn dls_devnet_create(&self, mh: MacHandle, linkid: DatalinkId, zone: ZoneId) -> Result<(), Errno>;
    /// `dls_devnet_destroy(mh, &linkid, B_TRUE)`.  Blocks.
    fn dls_devnet_destroy(&self, mh: MacHandle) -> Result<DatalinkId, Errno>;
    /// Move an active link to `zone` in dls and in dlmgmtd
    /// (`dls_devnet_hold_tmp` + `dls_devnet_setzid` + `dls_devnet_rele_tmp`,
    /// as `dls_zone_remove` and dld's `drv_ioc_setzid` do; `dls_devnet_setzid`
    /// upcalls `DLMGMT_CMD_SETZONEID`).  Blocks.
    fn dls_devnet_setzid(&self, linkid: DatalinkId, zone: ZoneId) -> Result<(), Errno>;
    /// `dls_mgmt_create(name, 0, DATALINK_CLASS_MISC, DL_ETHER, B_FALSE,
    /// &id)`: a new link id from dlmgmtd, for links the kernel creates
    /// itself (old-API `tunN`/`tapN`, attach-with-create).  dlmgmtd files
    /// it in the zone of the *calling thread* (`i_dls_mgmt_upcall` passes
    /// `zone_kcred()`): on a taskq, the global zone.  A door upcall: blocks.
    fn dls_mgmt_create(&self, name: &LinkName) -> Result<DatalinkId, Errno>;
    /// `dls_mgmt_get_linkinfo(linkid, name, &class, &media, &flags)`: what
    /// dlmgmtd records for a link id.  `ENOENT` if none.  Blocks.
    fn dls_mgmt_linkinfo(&self, linkid: DatalinkId) -> Result<DlmgmtLink, Errno>;
    /// `dls_mgmt_get_linkid(name, &id)`: the id `name` has in the zone of
    /// the calling thread (on a taskq, the global zone).  Blocks.
    fn dls_mgmt_linkid(&self, name: &LinkName) -> Result<DatalinkId, Errno>;
    /// Give a link id obtained by [`Kernel::dls_mgmt_create`] back
    /// (`dls_mgmt_destroy(linkid, B_FALSE)`).  Blocks.
    fn dls_mgmt_destroy(&self, linkid: DatalinkId) -> Result<(), Errno>;

    // ----- credentials, zones, processes -----

    fn cred_zone(&self, cr: Cred) -> ZoneId;
    fn cred_uid(&self, cr: Cred) -> u32;
    fn cred_gid(&self, cr: Cred) -> u32;
    /// Does `gid` appear in the credential's group list?
    fn cred_in_group(&self, cr: Cred, gid: u32) -> bool;
    /// `secpolicy_dl_config(9F)`: `Ok` or `EPERM`.
    fn secpolicy_dl_config(&self, cr: Cred) -> Result<(), Errno>;
    /// `crhold(9F)`: keep `cr` alive past the entry point that received it
    /// (an ioctl's `ioc_cr` is freed by the stream head when the ioctl
    /// ends, even on timeout: `strdoioctl` in `usr/src/uts/common/os/streamio.c`).
    fn cred_hold(&self, cr: Cred);
    /// `crfree(9F)`: release a [`Kernel::cred_hold`].
    fn cred_release(&self, cr: Cred);
    /// `ddi_get_pid(9F)`: the pid of the process in whose context the
    /// driver runs now.  User context only (open and close): put and
    /// service procedures and taskq threads have no process.
    fn current_pid(&self) -> i32;

    // ----- time, randomness, probes -----

    /// Wall-clock time, nanoseconds since the epoch.
    fn wall_clock_ns(&self) -> u64;
    /// `random_get_pseudo_bytes(9F)`.
    fn random_bytes(&self, out: &mut [u8]);
    fn probe(&self, probe: Probe<'_>);
    /// `cmn_err(9F)` with `CE_WARN`: a line on the console and in the
    /// system log, "tuntap: " prefixed.  Any context but high-level
    /// interrupt (put procedures included); for what an administrator
    /// must see once, not per packet.
    fn warn(&self, args: core::fmt::Arguments<'_>);

    /// Run `task(arg)` soon in kernel context on another thread (a
    /// taskq, `ddi_taskq_dispatch(9F)` with `DDI_NOSLEEP`): never within
    /// the caller's stack, and without allocating from the caller's
    /// thread, so it may be called where sleeping is not allowed
    /// (`mc_tx`).  `Err(ENOMEM)` if it cannot be queued.
    ///
    /// # Safety
    /// `arg` stays valid for `task` until the task has run.
    unsafe fn defer(&self, task: DeferredTask, arg: *mut core::ffi::c_void) -> Result<(), Errno>;

    /// Run control work (`task(arg)`: ioctls and DLPI requests, which may
    /// block for seconds in a dlmgmtd door upcall or the mac perimeter)
    /// on a taskq of its own with several threads, as dld runs its
    /// control work on the multi-threaded `dld_disp_taskq`
    /// (`dld_str_init` in usr/src/uts/common/io/dld/dld_str.c): one
    /// stream's slow request never holds up another's, nor the resolver
    /// replies of [`Kernel::defer`].  Dispatched with `DDI_NOSLEEP`.
    ///
    /// # Safety
    /// As for [`Kernel::defer`].
    unsafe fn dispatch_control(&self, task: DeferredTask, arg: *mut core::ffi::c_void) -> Result<(), Errno> {
        // SAFETY: the caller's contract is defer's.
        unsafe { self.defer(task, arg) }
    }

    /// `mac_private_minor()`: the first minor number the driver may use
    /// for its own nodes; lower minors belong to mac/dld link nodes.
    fn private_minor_base(&self) -> u32;
}

/// The driver's STREAMS entry points (its `qinit` procedures), as the
/// kernel's thin `extern "C"` layer or the simulator's stream head call
/// them.  `rq`/`wq` are the read/write queues of one open stream; the
/// driver keeps its per-stream state in `q_ptr` of both.
pub trait StreamsEntry {
    /// `qi_qopen`: `minor` is the minor opened (a node minor: control,
    /// tun or tap); a clone open replaces it with the new stream's minor.
    ///
    /// # Safety
    /// `rq` is the read queue of a freshly allocated queue pair (the write
    /// queue follows it), with `q_ptr` null for a first open.
    unsafe fn open(&self, rq: *mut queue_t, minor: &mut u32, flag: i32, sflag: i32, cr: Cred)
        -> Result<(), Errno>;
    /// Right after a successful [`StreamsEntry::open`], with no lock of
    /// the caller held: what the open has to send up (`M_SETOPTS`), since
    /// nothing may be `putnext` with a lock held.
    ///
    /// # Safety
    /// `rq` is the read queue of the stream just opened.
    unsafe fn opened(&self, rq: *mut queue_t);
    /// `qi_qclose`.  After it returns the driver never touches `rq` again.
    ///
    /// # Safety
    /// `rq` is the read queue of a stream this driver opened.
    unsafe fn close(&self, rq: *mut queue_t, flag: i32, cr: Cred);
    /// Write-side `qi_putp`: the driver owns `mp` from here on.
    ///
    /// # Safety
    /// `wq` is the write queue of a stream this driver opened; `mp` is a
    /// valid message.
    unsafe fn wput(&self, wq: *mut queue_t, mp: *mut mblk_t);
    /// detach(9E)'s decision: `Ok` when the instance may go (no links,
    /// no open streams), else `EBUSY`.
    fn detach_check(&self) -> Result<(), Errno>;
    /// Read-side `qi_srvp`: run when the queue is (back-)enabled.
    ///
    /// # Safety
    /// `rq` is the read queue of a stream this driver opened.
    unsafe fn rsrv(&self, rq: *mut queue_t);

    // ----- the driver's STREAMS module `tunrly` (dlpi/relay.rs): its
    // `fmodsw` entry's `streamtab`, pushed by the driver itself on its
    // lower dld streams.  A driver without the module refuses the push. -----

    /// Module `qi_qopen` (`sflag == MODOPEN`): must `qprocson`.
    ///
    /// # Safety
    /// `rq` is the read queue of a fresh module queue pair.
    unsafe fn mod_open(&self, _rq: *mut queue_t, _sflag: i32, _cr: Cred) -> Result<(), Errno> {
        Err(illumos_sys_hdrs::ENXIO)
    }
    /// Module `qi_qclose`: must `qprocsoff`; the queues are not touched
    /// after it returns.
    ///
    /// # Safety
    /// `rq` is the read queue of a pair `mod_open` succeeded on.
    unsafe fn mod_close(&self, _rq: *mut queue_t) {}
    /// Module write-side `qi_putp` (from the stream head, downstream).
    ///
    /// # Safety
    /// `wq` is the module's write queue; `mp` is owned.
    unsafe fn mod_wput(&self, _wq: *mut queue_t, _mp: *mut mblk_t) {}
    /// Module read-side `qi_putp` (from the driver below, upstream).
    ///
    /// # Safety
    /// `rq` is the module's read queue; `mp` is owned.
    unsafe fn mod_rput(&self, _rq: *mut queue_t, _mp: *mut mblk_t) {}
}

#[cfg(test)]
mod tests {
    use super::PropPerm;

    #[test]
    fn prop_perm_values_are_mac_h_s() {
        // usr/src/uts/common/sys/mac.h: MAC_PROP_PERM_READ 0x0001,
        // MAC_PROP_PERM_WRITE 0x0010, MAC_PROP_PERM_RW (READ|WRITE).
        assert_eq!(PropPerm::Read as u8, 0x01);
        assert_eq!(PropPerm::Write as u8, 0x10);
        assert_eq!(PropPerm::ReadWrite as u8, 0x11);
    }
}
