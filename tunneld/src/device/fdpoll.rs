// SPDX-License-Identifier: MPL-2.0
//! The poll loop the file-descriptor backends (illumos, Linux) share:
//! wait for a device fd, waking every [`POLL_MS`] to notice `close`.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};

use super::DeviceError;

/// How often a blocked read or write looks at the closed flag.
pub(crate) const POLL_MS: libc::c_int = 100;

/// Wait until `fd` reports something for `events`; returns `revents`
/// (the caller decides what a hang-up means for its device).
/// `Closed` once `closed` is set; signals are retried.
pub(crate) fn wait_fd(closed: &AtomicBool, fd: libc::c_int, events: libc::c_short) -> Result<libc::c_short, DeviceError> {
    loop {
        if closed.load(Ordering::SeqCst) {
            return Err(DeviceError::Closed);
        }
        let mut pfd = libc::pollfd { fd, events, revents: 0 };
        // SAFETY: one pollfd, valid for the call.
        let r = unsafe { libc::poll(&mut pfd, 1, POLL_MS) };
        if r < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(DeviceError::Io(e));
        }
        if r > 0 {
            return Ok(pfd.revents);
        }
    }
}
