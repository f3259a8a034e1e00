// SPDX-License-Identifier: MPL-2.0
//
// Smoke-test kernel module for the xtask gates.  It declares the few
// illumos kernel functions it calls by hand (the real driver takes them
// from illumos-sys-hdrs) and exercises alloc so that the allocator and
// compiler_builtins paths are linked in, as they will be in the driver.
#![no_std]

extern crate alloc;

use alloc::vec::Vec;
use core::alloc::GlobalAlloc;
use core::alloc::Layout;
use core::ffi::c_char;
use core::ffi::c_int;
use core::ffi::c_void;

const KM_SLEEP: c_int = 0;
const CE_WARN: c_int = 2;
const EINVAL: c_int = 22;

unsafe extern "C" {
    fn kmem_alloc(size: usize, flags: c_int) -> *mut c_void;
    fn kmem_free(buf: *mut c_void, size: usize);
    fn cmn_err(level: c_int, fmt: *const c_char, ...);
    fn panic(fmt: *const c_char, ...) -> !;
}

struct KmemAllocator;

// SAFETY: kmem_alloc(9F) returns memory aligned to at least 8 bytes; larger
// alignments are refused (null), which GlobalAlloc permits.
unsafe impl GlobalAlloc for KmemAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.align() > 8 {
            return core::ptr::null_mut();
        }
        // SAFETY: KM_SLEEP never returns null; size is the caller's.
        unsafe { kmem_alloc(layout.size(), KM_SLEEP).cast() }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: ptr came from kmem_alloc with this same size.
        unsafe { kmem_free(ptr.cast(), layout.size()) }
    }
}

#[global_allocator]
static ALLOCATOR: KmemAllocator = KmemAllocator;

#[panic_handler]
fn on_panic(_info: &core::panic::PanicInfo<'_>) -> ! {
    // SAFETY: both format strings are NUL-terminated and take no arguments.
    unsafe {
        cmn_err(CE_WARN, c"smoke: rust panic".as_ptr());
        panic(c"smoke: rust panic".as_ptr())
    }
}

#[inline(never)]
fn checksum(words: &[u64]) -> u64 {
    let mut buf: Vec<u64> = Vec::with_capacity(words.len());
    buf.extend_from_slice(words);
    buf.iter().fold(0u64, |acc, w| acc.rotate_left(5) ^ w) / (words.len() as u64 | 1)
}

#[unsafe(no_mangle)]
pub extern "C" fn _init() -> c_int {
    let words = [1u64, 2, 3, 0x1234_5678_9abc_def0];
    if checksum(&words) == 0 { EINVAL } else { 0 }
}

#[unsafe(no_mangle)]
pub extern "C" fn _info(_modinfo: *mut c_void) -> c_int {
    0
}

#[unsafe(no_mangle)]
pub extern "C" fn _fini() -> c_int {
    0
}
