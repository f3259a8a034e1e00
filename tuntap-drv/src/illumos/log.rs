// SPDX-License-Identifier: MPL-2.0

//! Logging to the system console and log through `cmn_err(9F)`.
//!
//! Theory statement.  Messages are formatted with `core::fmt` into a
//! fixed buffer on the caller's stack ([`CStrBuf`]) and handed to
//! `cmn_err` as the single argument of a constant `"%s"` format, so no
//! text from the driver is ever interpreted as a format string and no
//! memory is allocated: the same buffer type is what the panic handler
//! in `tuntap-drv/kmod` uses, where allocation is not an option.
//! Output longer than the buffer is cut, never an error; interior NUL
//! bytes are replaced so that the string the kernel sees is whole.
//!
//! Locks: none.  `cmn_err` may block only for `CE_PANIC`; callers must
//! not log from high-level interrupt context (the driver has none).
//! Invariant: `CStrBuf::len < N`, and `buf[len]` is reserved for the NUL.

use core::ffi::{CStr, c_char};
use core::fmt;

use illumos_sys_hdrs::kernel::cmn_err;
use illumos_sys_hdrs::{CE_CONT, CE_NOTE, CE_WARN};

/// Severity of a console message (the `CE_*` levels drivers may use;
/// `CE_PANIC` is reserved for the panic handler).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    /// `CE_CONT`: continues the previous message, no prefix.
    Continue,
    /// `CE_NOTE`: "NOTICE:" prefix.
    Note,
    /// `CE_WARN`: "WARNING:" prefix.
    Warn,
}

impl Level {
    fn ce(self) -> core::ffi::c_int {
        match self {
            Level::Continue => CE_CONT,
            Level::Note => CE_NOTE,
            Level::Warn => CE_WARN,
        }
    }
}

/// A NUL-terminated string assembled in place, `N - 1` bytes at most.
pub struct CStrBuf<const N: usize> {
    buf: [u8; N],
    len: usize,
}

impl<const N: usize> CStrBuf<N> {
    pub const fn new() -> Self {
        Self {
            buf: [0; N],
            len: 0,
        }
    }

    /// The text written so far, NUL-terminated.
    pub fn as_cstr(&mut self) -> &CStr {
        if let Some(terminator) = self.buf.get_mut(self.len) {
            *terminator = 0;
        }
        match self.buf.get(..=self.len) {
            Some(bytes) => CStr::from_bytes_with_nul(bytes).unwrap_or(c""),
            // N == 0: there is no room even for the terminator.
            None => c"",
        }
    }

    /// Pointer to the NUL-terminated text, valid while `self` is not
    /// modified or moved.
    pub fn as_ptr(&mut self) -> *const c_char {
        self.as_cstr().as_ptr()
    }
}

impl<const N: usize> Default for CStrBuf<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> fmt::Write for CStrBuf<N> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for &byte in s.as_bytes() {
            // Keep one byte free for the terminator.
            if self.len.saturating_add(1) >= N {
                break;
            }
            if let Some(slot) = self.buf.get_mut(self.len) {
                *slot = if byte == 0 { b'?' } else { byte };
                self.len += 1;
            }
        }
        Ok(())
    }
}

/// Size of the on-stack message buffer used by [`log`].
const LOG_BUFFER: usize = 256;

/// Print a formatted message through `cmn_err(9F)`.
pub fn log(level: Level, args: fmt::Arguments<'_>) {
    let mut message = CStrBuf::<LOG_BUFFER>::new();
    // Writing to a CStrBuf never fails; a too-long message is cut.
    let _ = fmt::write(&mut message, args);
    // SAFETY: the format is a constant "%s" and its one argument is a
    // NUL-terminated string that outlives the call.
    unsafe { cmn_err(level.ce(), c"%s".as_ptr(), message.as_ptr()) };
}

/// `log(Level::Warn, ...)` with the driver name prefixed.
pub fn warn(args: fmt::Arguments<'_>) {
    log(Level::Warn, format_args!("tuntap: {args}"));
}

/// `log(Level::Note, ...)` with the driver name prefixed.
pub fn note(args: fmt::Arguments<'_>) {
    log(Level::Note, format_args!("tuntap: {args}"));
}
