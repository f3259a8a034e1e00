// SPDX-License-Identifier: MPL-2.0
//! What a test does to `/dev/net` streams from outside the driver: make
//! dld send something up a kernel-held stream, look at the lower stream
//! heads (ldi.rs rule 6), and open a stream of its own as a user process
//! would, push the driver's module on it and talk through it.
//!
//! # Theory statement
//!
//! A user's stream is the same [`Lower`] as a kernel-held one (ldi.rs),
//! opened without LDI and kept out of the LDI handle table (its leak is
//! the test's, not the driver's).  `I_PUSH` runs the module's open with
//! `MODOPEN` and the user's credential in the caller's thread, and
//! `I_STR` carries the user's credential in `ioc_cr`, as `strioctl`
//! does for a user's ioctl (usr/src/uts/common/os/streamio.c: `I_PUSH`
//! -> `qattach` with the caller's `crp`; `strdoioctl` sets `ioc_cr` to
//! the caller's `crp`).  Privileges to open `/dev/net` are not checked
//! here.  Locks: as ldi.rs (leaves, never held while calling the
//! driver).

use std::sync::Arc;

use tuntap_drv::ddi::{Cred, Errno, GLOBAL_ZONEID};

use crate::context::{self, Ctx};
use crate::dls::SimCred;
use crate::host::{HostShared, lock};
use crate::ldi::{Lower, close_lower, do_ioctl, open_lower, push_module, send_down_from_head, send_up_from_dld};
use crate::mblk::alloc_msg;

impl crate::SimHost {
    /// Rule 6: dld sends a message of type `ty` with `bytes` up every
    /// kernel-held stream on `link` (through the module, if pushed), as
    /// from its taskq: a stray ack, an `M_ERROR`/`M_HANGUP`, or anything
    /// else dld might send.
    pub fn dld_send_up(&self, link: &str, ty: u8, bytes: &[u8]) {
        let host = self.shared.clone();
        let lowers: Vec<Arc<Lower>> = lock(&host.ldi)
            .by_handle
            .values()
            .filter(|l| l.path.strip_prefix("/dev/net/") == Some(link))
            .cloned()
            .collect();
        for l in lowers {
            let mp = alloc_msg(&host, ty, 0, bytes);
            if !mp.is_null() {
                let _g = context::enter(&host, Ctx::Kernel);
                send_up_from_dld(&host, &l, mp);
            }
        }
    }

    /// Rule 6: (bytes queued at the lower stream heads on `link`, raw
    /// frames dld freed because a head was full).
    pub fn lower_head(&self, link: &str) -> (usize, u64) {
        let t = lock(&self.shared.ldi);
        t.by_handle
            .values()
            .filter(|l| l.path.strip_prefix("/dev/net/") == Some(link))
            .map(|l| {
                let st = lock(&l.st);
                (st.head_bytes, st.head_drops)
            })
            .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1))
    }
}

/// A user process's own stream on `/dev/net/<link>`.
pub struct UserDevNet {
    host: Arc<HostShared>,
    lower: Arc<Lower>,
    cred: Cred,
}

impl crate::SimHost {
    /// Open `/dev/net/<link>` as the process with credential `cred`.
    pub fn user_open_dev_net(&self, link: &str, cred: &SimCred) -> Result<UserDevNet, Errno> {
        let host = self.shared.clone();
        let lower = open_lower(&host, format!("/dev/net/{link}").as_bytes())?;
        Ok(UserDevNet { host, lower, cred: cred.as_cred() })
    }
}

impl UserDevNet {
    fn user(&self) -> context::ContextGuard {
        context::enter(&self.host, Ctx::User { pid: 1, zone: GLOBAL_ZONEID })
    }

    /// `ioctl(fd, I_PUSH, name)`.
    pub fn push(&self, name: &str) -> Result<(), Errno> {
        let _g = self.user();
        push_module(&self.host, &self.lower, name, self.cred).map(|_| ())
    }

    /// `ioctl(fd, I_STR, ..)` with `data` in and out; the `ioc_rval`.
    pub fn ioctl_istr(&self, cmd: i32, data: &mut [u8]) -> Result<i32, Errno> {
        let _g = self.user();
        do_ioctl(&self.host, &self.lower, cmd, data, self.cred)
    }

    /// `putmsg(2)`: one message of type `ty` down the stream.
    pub fn putmsg(&self, ty: u8, bytes: &[u8]) {
        let _g = self.user();
        let mp = alloc_msg(&self.host, ty, 0, bytes);
        if !mp.is_null() {
            send_down_from_head(&self.host, &self.lower, mp);
        }
    }

    /// Bytes waiting at the stream head (what `getmsg(2)` would read).
    pub fn queued(&self) -> usize {
        lock(&self.lower.st).head_bytes
    }

    /// `close(2)`: pops the module, closes dld, frees the head's queue.
    pub fn close(self) {
        let _g = self.user();
        close_lower(&self.host, &self.lower);
    }
}
