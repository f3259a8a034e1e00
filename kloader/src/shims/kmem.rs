// SPDX-License-Identifier: MPL-2.0

//! Memory, string and console routines: `sys/systm.h`, `sys/kmem.h`,
//! `sys/cmn_err.h` (illumos-gate `usr/src/uts/common/sys/`).
//!
//! Theory statement.  The string and memory routines are leaves and run
//! in place on the kernel stack, like genunix's.  kmem buffers are tracked
//! with their size: `kmem_free` with another size (kmem_alloc(9F): the
//! size passed to kmem_free must be the allocated one), a double free, or
//! a buffer alive after the modules are unloaded is an error.
//! `cmn_err` goes to the loader's console log; `panic` (and `CE_PANIC`)
//! stops the process with the message and the entry point, as the system
//! would stop.  Locks: the `State` tables only.

use std::ffi::{c_char, c_int, c_void};

use illumos_sys_hdrs::KM_NOSLEEP;

use super::{format_c, lock, st};
use crate::kstack::host;

pub fn table() -> Vec<(&'static str, usize)> {
    vec![
        f!(memcpy),
        f!(memmove),
        f!(memset),
        f!(memcmp),
        f!(bcmp),
        f!(strlen),
        f!(kmem_alloc),
        f!(kmem_zalloc),
        f!(kmem_free),
        f!(cmn_err),
        f!(panic),
    ]
}

// ----- sys/systm.h: memory and string routines (leaves: run in place) -----

/// `void *memcpy(void *, const void *, size_t)` (sys/systm.h).
unsafe extern "C" fn memcpy(d: *mut c_void, s: *const c_void, n: usize) -> *mut c_void {
    // SAFETY: the module's contract with memcpy.
    unsafe { libc::memcpy(d, s, n) }
}
/// `void *memmove(void *, const void *, size_t)` (sys/systm.h).
unsafe extern "C" fn memmove(d: *mut c_void, s: *const c_void, n: usize) -> *mut c_void {
    // SAFETY: as above.
    unsafe { libc::memmove(d, s, n) }
}
/// `void *memset(void *, int, size_t)` (sys/systm.h).
unsafe extern "C" fn memset(d: *mut c_void, c: c_int, n: usize) -> *mut c_void {
    // SAFETY: as above.
    unsafe { libc::memset(d, c, n) }
}
/// `int memcmp(const void *, const void *, size_t)` (sys/systm.h).
unsafe extern "C" fn memcmp(a: *const c_void, b: *const c_void, n: usize) -> c_int {
    // SAFETY: as above.
    unsafe { libc::memcmp(a, b, n) }
}
/// `int bcmp(const void *, const void *, size_t)` (sys/systm.h).
unsafe extern "C" fn bcmp(a: *const c_void, b: *const c_void, n: usize) -> c_int {
    // SAFETY: as above.
    unsafe { libc::memcmp(a, b, n) }
}
/// `size_t strlen(const char *)` (sys/systm.h).
unsafe extern "C" fn strlen(s: *const c_char) -> usize {
    // SAFETY: as above.
    unsafe { libc::strlen(s) }
}

// ----- sys/kmem.h -----

fn kmem(size: usize, flags: c_int, zero: bool) -> *mut c_void {
    if size == 0 {
        return std::ptr::null_mut(); // kmem_alloc(9F): size 0 returns NULL
    }
    if flags & !KM_NOSLEEP != 0 {
        st().error(format!("kmem_alloc({size}, {flags:#x}): unknown flag bits"));
    }
    // SAFETY: plain allocation; malloc's 16-byte alignment covers kmem's 8.
    let p = unsafe { if zero { libc::calloc(1, size) } else { libc::malloc(size) } };
    if !zero && !p.is_null() {
        // SAFETY: p has size bytes; poison uninitialised memory.
        unsafe { std::ptr::write_bytes(p.cast::<u8>(), 0xbb, size) };
    }
    lock(&st().kmem).insert(p as usize, size);
    p
}

/// kmem_zalloc/kmem_alloc for the loader's own kernel objects.
pub(crate) fn kmem_raw(size: usize, zero: bool) -> *mut c_void {
    kmem(size, 0, zero)
}

/// kmem_free for the loader's own kernel objects.
pub(crate) fn kmem_free_raw(buf: *mut c_void, size: usize) {
    // SAFETY: forwarded contract.
    unsafe { kmem_free(buf, size) }
}

/// `void *kmem_alloc(size_t size, int kmflag)` (sys/kmem.h).
unsafe extern "C" fn kmem_alloc(size: usize, flags: c_int) -> *mut c_void {
    host(|| kmem(size, flags, false))
}
/// `void *kmem_zalloc(size_t size, int kmflag)` (sys/kmem.h).
unsafe extern "C" fn kmem_zalloc(size: usize, flags: c_int) -> *mut c_void {
    host(|| kmem(size, flags, true))
}
/// `void kmem_free(void *buf, size_t size)` (sys/kmem.h).
unsafe extern "C" fn kmem_free(buf: *mut c_void, size: usize) {
    host(|| {
        let s = st();
        let known = lock(&s.kmem).remove(&(buf as usize));
        match known {
            None => s.error(format!("kmem_free({buf:p}, {size}): not a live kmem_alloc buffer (double free?)")),
            Some(real) if real != size => {
                s.error(format!("kmem_free({buf:p}, {size}) of a {real}-byte buffer: wrong size"));
                // SAFETY: from malloc/calloc above.
                unsafe { libc::free(buf) }
            }
            // SAFETY: from malloc/calloc above.
            Some(_) => unsafe { libc::free(buf) },
        }
    })
}

// ----- sys/cmn_err.h -----

const CE_PANIC: c_int = 3;

/// `void cmn_err(int level, char *fmt, ...)` (sys/cmn_err.h); see
/// `format_c` for how the variadic arguments are read.
unsafe extern "C" fn cmn_err(level: c_int, fmt: *const c_char, a: usize, b: usize, c: usize, d: usize) {
    // SAFETY: fmt and its %s arguments come from the module's cmn_err call.
    let msg = host(|| unsafe { format_c(fmt, &[a, b, c, d]) });
    if level == CE_PANIC {
        die(&msg);
    }
    host(|| {
        if std::env::var_os("TUNTAP_SIM_VERBOSE").is_some() {
            eprintln!("kloader: cmn_err({level}): {msg}");
        }
        lock(&st().console).push(msg)
    });
}

fn die(msg: &str) -> ! {
    let entry = crate::kstack::current_entry().unwrap_or("?");
    eprintln!("kloader: the module called panic() in entry point {entry}: {msg}");
    std::process::abort()
}

/// `void panic(const char *fmt, ...)` (sys/cmn_err.h): the system stops;
/// here the process aborts with the message.
unsafe extern "C" fn panic(fmt: *const c_char, a: usize, b: usize, c: usize, d: usize, e: usize) -> ! {
    // SAFETY: as for cmn_err.
    let msg = host(|| unsafe { format_c(fmt, &[a, b, c, d, e]) });
    die(&msg)
}

