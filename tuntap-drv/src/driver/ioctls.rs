// SPDX-License-Identifier: MPL-2.0
//! The ioctl table and its dispatcher: one row per command, like
//! `simnet_ioc_list` in illumos-gate `usr/src/uts/common/io/simnet/simnet.c`
//! (and dld's `dld_ioc_info_t` tables, `usr/src/uts/common/io/dld/dld_drv.c`).
//!
//! # Theory statement
//!
//! A row says everything about a command but its logic: its number, how
//! its argument travels ([`ArgKind`]), on which node it is valid
//! ([`On`]), what the caller must hold ([`Need`]) and its handler (in
//! `commands.rs`).  The dispatcher decodes the `M_IOCTL` (an `I_STR`
//! payload, or a transparent ioctl's value or `M_COPYIN`/`M_COPYOUT`
//! exchange, `usr/src/uts/common/os/streamio.c` `strioctl`), finds the
//! row, checks the node and the privilege (`secpolicy_dl_config(9F)`,
//! as dld checks `dld_ioc_info_t`'s `di_priv` before a handler runs in
//! `drv_ioctl`), runs the handler and sends exactly one `M_IOCACK` or
//! `M_IOCNAK`.  Adding an ioctl is one row and one function.
//!
//! Locks: a minor's `state` only to record or take the pending
//! transparent exchange; none across `qreply`.

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::mem::size_of;

use illumos_sys_hdrs as sys;
use illumos_sys_hdrs::queue_t;
use tuntap_abi::{self as abi, AbiError, Pod};

use super::Driver;
use crate::ddi::{Cred, Errno, Kernel, Probe};
use crate::ioctl::{self, IoctlHeader};
use crate::link::Link;
use crate::mblk::MsgBlk;
use crate::minor::{Minor, Node, Pending, Stage};

/// The result of a command: `ioc_rval` and the bytes to copy out.
pub(super) struct Reply {
    rval: i32,
    out: Option<Vec<u8>>,
}

impl Reply {
    pub(super) fn rval(rval: i32) -> Self {
        Self { rval, out: None }
    }
    pub(super) fn with<T: Pod>(value: &T) -> Self {
        Self { rval: 0, out: Some(abi::as_bytes(value).to_vec()) }
    }
}

pub(super) fn abi_errno(e: AbiError) -> Errno {
    match e {
        AbiError::BadSize { .. } | AbiError::UnknownFlags { .. } => sys::EINVAL,
        AbiError::BadVersion { .. } => sys::ENOTSUP,
    }
}

pub(super) fn decode<T: Pod>(input: &[u8]) -> Result<T, Errno> {
    abi::decode_versioned::<T>(input).map_err(abi_errno)
}

/// How a command takes its argument.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum ArgKind {
    /// No argument.
    None,
    /// A fixed-size structure (copied in transparently).
    Fixed(usize),
    /// An old-API int: I_STR payload, or transparent value-or-pointer.
    OldInt,
}

/// Reserved (padding) fields must be zero, so a later ABI version can
/// give them a meaning without old drivers misreading new callers.
pub(super) fn reserved_zero(is_zero: bool) -> Result<(), Errno> {
    if is_zero { Ok(()) } else { Err(sys::EINVAL) }
}

pub(super) fn read_u32(input: &[u8]) -> Result<u32, Errno> {
    let arr: [u8; 4] = input.try_into().map_err(|_| sys::EINVAL)?;
    Ok(u32::from_ne_bytes(arr))
}

/// On which streams a command is valid (`EINVAL` elsewhere).
#[derive(Clone, Copy, PartialEq, Eq)]
enum On {
    /// The control node, `/dev/tuntap`.
    Control,
    /// A `/dev/tun` or `/dev/tap` stream.
    Queue,
    /// Either.
    Any,
}

/// What the caller's credential must hold, checked before the handler.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Need {
    /// Nothing here; a command that names a link checks the caller may
    /// use it (owner, group or privilege) through [`Driver::may_change`]
    /// once it has found it, or only shows the caller's zone.
    Nothing,
    /// `secpolicy_dl_config(9F)` (`PRIV_SYS_DL_CONFIG`), as dladm's
    /// create/delete/modify need.
    DlConfig,
    /// The stream is attached to a link the caller owns, is in the group
    /// of, or may configure; the handler gets that link.
    AttachedLinkUser,
}

/// What a handler is given.
struct Call<'a, K: Kernel> {
    cmd: i32,
    cr: Cred,
    minor: &'a Arc<Minor<K>>,
    input: &'a [u8],
    /// An old-API int argument (`ArgKind::OldInt`), else 0.
    old_arg: i64,
    /// The attached link, for `Need::AttachedLinkUser` rows.
    link: Option<Arc<Link<K>>>,
}

type Handler<K> = fn(&Driver<K>, &Call<'_, K>) -> Result<Reply, Errno>;

struct Row<K: Kernel> {
    cmd: i32,
    arg: ArgKind,
    on: On,
    need: Need,
    handler: Handler<K>,
}

const fn fixed<T>() -> ArgKind {
    ArgKind::Fixed(size_of::<T>())
}

/// The table.  Keep it in command-number order within each API.
fn rows<K: Kernel>() -> [Row<K>; 17] {
    use ArgKind::{None as NoArg, OldInt};
    use Need::{AttachedLinkUser, DlConfig, Nothing};
    use On::{Any, Control, Queue};
    [
        Row { cmd: abi::TUN_IOC_CREATE, arg: fixed::<abi::TunIocCreate>(), on: Control, need: DlConfig, handler: |d, c| d.cmd_create(c.cr, c.minor.queue.pid, c.input) },
        Row { cmd: abi::TUN_IOC_DELETE, arg: fixed::<abi::TunIocDelete>(), on: Control, need: DlConfig, handler: |d, c| d.cmd_delete(c.cr, c.input) },
        Row { cmd: abi::TUN_IOC_INFO, arg: fixed::<abi::TunIocInfo>(), on: Any, need: Nothing, handler: |d, c| d.cmd_info(c.cr, c.minor, c.input) },
        Row { cmd: abi::TUN_IOC_LIST, arg: fixed::<abi::TunIocList>(), on: Control, need: Nothing, handler: |d, c| d.cmd_list(c.cr, c.input) },
        Row { cmd: abi::TUN_IOC_MODIFY, arg: fixed::<abi::TunIocModify>(), on: Control, need: DlConfig, handler: |d, c| d.cmd_modify(c.cr, c.input) },
        Row { cmd: abi::TUN_IOC_ATTACH, arg: fixed::<abi::TunIocAttach>(), on: Queue, need: Nothing, handler: |d, c| d.cmd_attach(c.cr, c.minor, c.input) },
        Row { cmd: abi::TUN_IOC_DETACH, arg: NoArg, on: Queue, need: Nothing, handler: |d, c| d.cmd_detach(c.minor, c.input) },
        Row { cmd: abi::TUN_IOC_SET_OWNER, arg: fixed::<u32>(), on: Queue, need: AttachedLinkUser, handler: set_handler },
        Row { cmd: abi::TUN_IOC_SET_GROUP, arg: fixed::<u32>(), on: Queue, need: AttachedLinkUser, handler: set_handler },
        Row { cmd: abi::TUN_IOC_SET_PERSIST, arg: fixed::<u32>(), on: Queue, need: AttachedLinkUser, handler: set_handler },
        Row { cmd: abi::TUN_IOC_SET_CARRIER, arg: fixed::<u32>(), on: Queue, need: AttachedLinkUser, handler: set_handler },
        Row { cmd: abi::TUN_IOC_QUEUE_LIMITS, arg: fixed::<abi::TunIocQueueLimits>(), on: Queue, need: Nothing, handler: |d, c| d.cmd_queue_limits(c.minor, c.input) },
        Row { cmd: abi::TUN_IOC_BATCH, arg: fixed::<abi::batch::TunIocBatch>(), on: Queue, need: Nothing, handler: |d, c| d.cmd_batch(c.minor, c.input) },
        Row { cmd: abi::TUN_IOC_OFFLOAD, arg: fixed::<abi::offload::TunIocOffload>(), on: Queue, need: Nothing, handler: |d, c| d.cmd_offload(c.minor, c.input) },
        Row { cmd: abi::TUNNEWPPA, arg: OldInt, on: Queue, need: DlConfig, handler: |d, c| d.cmd_newppa(c.cr, c.minor, c.old_arg) },
        Row { cmd: abi::TUNSETPPA, arg: OldInt, on: Queue, need: Nothing, handler: |d, c| d.cmd_setppa(c.cr, c.minor, c.old_arg) },
        Row { cmd: abi::TUNGETPPA, arg: NoArg, on: Queue, need: Nothing, handler: |d, c| d.cmd_getppa(c.minor) },
    ]
}

fn set_handler<K: Kernel>(d: &Driver<K>, c: &Call<'_, K>) -> Result<Reply, Errno> {
    match &c.link {
        Some(link) => d.cmd_set(c.cmd, link, c.input),
        None => Err(sys::ENXIO),
    }
}

/// How `cmd` takes its argument, if it is ours.
fn arg_kind<K: Kernel>(cmd: i32) -> Option<ArgKind> {
    rows::<K>().iter().find(|r| r.cmd == cmd).map(|r| r.arg)
}

impl<K: Kernel> Driver<K> {
    /// Does a row know this `M_IOCTL`'s command?  A message too short to
    /// name one counts as known: its handler drops it.
    pub(super) fn ioctl_known(&self, msg: &MsgBlk<K>) -> bool {
        ioctl::header(msg).is_none_or(|h| arg_kind::<K>(h.cmd).is_some())
    }

    /// Run one command: find its row, check node and privilege, run it.
    fn run(&self, cmd: i32, cr: Cred, minor: &Arc<Minor<K>>, input: &[u8], old_arg: i64) -> Result<Reply, Errno> {
        let table = rows::<K>();
        let row = table.iter().find(|r| r.cmd == cmd).ok_or(sys::EINVAL)?;
        let control = minor.node == Node::Control;
        match (row.on, control) {
            (On::Control, false) | (On::Queue, true) => return Err(sys::EINVAL),
            _ => {}
        }
        let link = match row.need {
            Need::Nothing => None,
            Need::DlConfig => {
                self.privileged(cr)?;
                None
            }
            Need::AttachedLinkUser => {
                let link = Self::attached(minor)?;
                self.may_change(cr, &link)?;
                Some(link)
            }
        };
        (row.handler)(self, &Call { cmd, cr, minor, input, old_arg, link })
    }

    #[allow(clippy::too_many_arguments)]
    fn finish(&self, wq: *mut queue_t, msg: MsgBlk<K>, hdr_cmd: i32, transparent_addr: Option<usize>, r: Result<Reply, Errno>, minor: &Minor<K>, id: u32) {
        match r {
            Err(e) => {
                self.k.probe(Probe::IoctlFail(hdr_cmd, e));
                ioctl::nak(&self.k, wq, msg, e)
            }
            Ok(reply) => match (transparent_addr, reply.out) {
                (Some(addr), Some(out)) => {
                    minor.state.lock().pending =
                        Some(Pending { cmd: hdr_cmd, id, addr, stage: Stage::CopyOut { rval: reply.rval } });
                    ioctl::copyout(&self.k, wq, msg, addr, &out)
                }
                (Some(_), None) => ioctl::ack(&self.k, wq, msg, reply.rval, None),
                (None, out) => ioctl::ack(&self.k, wq, msg, reply.rval, out.as_deref()),
            },
        }
    }

    pub(super) fn handle_ioctl(&self, wq: *mut queue_t, minor: &Arc<Minor<K>>, msg: MsgBlk<K>) {
        let Some(hdr) = ioctl::header(&msg).filter(|_| ioctl::big_enough(&msg)) else {
            // Not a well-formed ioctl: nothing can be replied to.
            drop(msg);
            return;
        };
        let IoctlHeader { cmd, id, cred, transparent, count } = hdr;
        if minor.state.lock().pending.is_some() {
            // One transparent ioctl at a time per stream (the stream head
            // serialises them; anything else is a confused caller).
            return ioctl::nak(&self.k, wq, msg, sys::EBUSY);
        }
        let Some(kind) = arg_kind::<K>(cmd) else {
            return ioctl::nak(&self.k, wq, msg, sys::EINVAL);
        };
        if !transparent {
            let Some(input) = ioctl::payload(&msg, ioctl::MAX_PAYLOAD).filter(|p| p.len() == count.min(p.len()))
            else {
                return ioctl::nak(&self.k, wq, msg, sys::EINVAL);
            };
            let old_arg = match kind {
                ArgKind::OldInt => match <[u8; 4]>::try_from(input.as_slice()) {
                    Ok(b) => i64::from(i32::from_ne_bytes(b)),
                    Err(_) => return ioctl::nak(&self.k, wq, msg, sys::EINVAL),
                },
                _ => 0,
            };
            let r = self.run(cmd, cred, minor, &input, old_arg);
            return self.finish(wq, msg, cmd, None, r, minor, id);
        }
        let Some(arg) = ioctl::transparent_arg(&msg) else {
            return ioctl::nak(&self.k, wq, msg, sys::EINVAL);
        };
        match kind {
            ArgKind::None => {
                let r = self.run(cmd, cred, minor, &[], 0);
                self.finish(wq, msg, cmd, None, r, minor, id)
            }
            ArgKind::OldInt if (-1..=i64::from(abi::OLD_API_MAX_PPA)).contains(&arg) => {
                let r = self.run(cmd, cred, minor, &[], arg);
                self.finish(wq, msg, cmd, None, r, minor, id)
            }
            ArgKind::OldInt | ArgKind::Fixed(_) => {
                let size = match kind {
                    ArgKind::Fixed(n) => n,
                    _ => 4,
                };
                if arg <= 0 {
                    return ioctl::nak(&self.k, wq, msg, sys::EFAULT);
                }
                minor.state.lock().pending = Some(Pending { cmd, id, addr: arg as usize, stage: Stage::CopyIn });
                ioctl::copyin(&self.k, wq, msg, arg as usize, size)
            }
        }
    }

    pub(super) fn handle_iocdata(&self, wq: *mut queue_t, minor: &Arc<Minor<K>>, msg: MsgBlk<K>) {
        let Some(data) = ioctl::iocdata(&msg).filter(|_| ioctl::big_enough(&msg)) else {
            drop(msg);
            return;
        };
        let pending = minor.state.lock().pending.take();
        let Some(p) = pending.filter(|p| p.id == data.id && p.cmd == data.cmd) else {
            // Not ours (or stale): put the expectation back and drop it.
            if let Some(p) = pending {
                minor.state.lock().pending = Some(p);
            }
            drop(msg);
            return;
        };
        if data.failed {
            // The copy failed; the stream head already failed the ioctl.
            drop(msg);
            return;
        }
        match p.stage {
            Stage::CopyOut { rval } => ioctl::ack(&self.k, wq, msg, rval, None),
            Stage::CopyIn => {
                let input = ioctl::payload(&msg, ioctl::MAX_PAYLOAD).unwrap_or_default();
                let r = match arg_kind::<K>(p.cmd) {
                    Some(ArgKind::OldInt) => match <[u8; 4]>::try_from(input.as_slice()) {
                        Ok(b) => self.run(p.cmd, data.cred, minor, &[], i64::from(i32::from_ne_bytes(b))),
                        Err(_) => Err(sys::EINVAL),
                    },
                    _ => self.run(p.cmd, data.cred, minor, &input, 0),
                };
                self.finish(wq, msg, p.cmd, Some(p.addr), r, minor, p.id)
            }
        }
    }
}
