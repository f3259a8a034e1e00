// SPDX-License-Identifier: MPL-2.0

//! The loadable module `tuntap`: the kernel runtime around the driver.
//!
//! Theory statement.  This staticlib is what `ld -r` turns into the
//! module object.  It supplies the two things `no_std` Rust needs from its
//! environment and the kernel provides: a global allocator backed by
//! `kmem_alloc(9F)` and a panic handler that reports through
//! `cmn_err(9F)` and then panics the system with `panic(9F)` (a Rust
//! panic in the kernel has no safe way to continue).  The driver's
//! `extern "C"` entry points (`_init`, `_info`, `_fini`, ...) come from
//! `tuntap_drv::illumos`, re-exported so that they stay in the archive.
//!
//! Locks: none.  Invariants:
//! - Allocations use `KM_SLEEP`, which cannot fail, so they must not be
//!   made where sleeping is forbidden (interrupt context; this driver has
//!   none).  `kmem_alloc` guarantees 8-byte alignment only: a layout that
//!   asks for more is refused with NULL rather than served misaligned.
//! - `kmem_free` needs the size that was allocated; `GlobalAlloc` hands
//!   `dealloc` the same layout `alloc` got, so `layout.size()` is it.
//! - The panic handler formats into a fixed buffer on its own stack and
//!   never allocates (the allocator may be what panicked).

#![no_std]

use core::alloc::{GlobalAlloc, Layout};
use core::fmt::Write;
use core::panic::PanicInfo;
use core::ptr;

use illumos_sys_hdrs::CE_WARN;
use illumos_sys_hdrs::KM_SLEEP;
use illumos_sys_hdrs::kernel::{cmn_err, kmem_alloc, kmem_free, kmem_zalloc, panic};
use tuntap_drv::illumos::log::CStrBuf;

pub use tuntap_drv;

/// The alignment every `kmem_alloc` buffer is guaranteed to have.
const KMEM_ALIGN: usize = 8;

/// `#[global_allocator]` over the kernel memory allocator.
struct KmemAllocator;

// SAFETY: kmem_alloc returns either a fresh buffer of at least `size`
// bytes aligned to KMEM_ALIGN or (never, with KM_SLEEP) NULL; we refuse
// stricter alignments, and dealloc frees with the size alloc was given.
unsafe impl GlobalAlloc for KmemAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.align() > KMEM_ALIGN {
            return ptr::null_mut();
        }
        // SAFETY: GlobalAlloc callers pass a non-zero size; KM_SLEEP is
        // allowed in the kernel-thread contexts this driver runs in.
        unsafe { kmem_alloc(layout.size(), KM_SLEEP).cast() }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if layout.align() > KMEM_ALIGN {
            return ptr::null_mut();
        }
        // SAFETY: as in alloc().
        unsafe { kmem_zalloc(layout.size(), KM_SLEEP).cast() }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from alloc()/alloc_zeroed() with this same
        // layout, hence from kmem_alloc with `layout.size()` bytes.
        unsafe { kmem_free(ptr.cast(), layout.size()) }
    }
}

#[global_allocator]
static ALLOCATOR: KmemAllocator = KmemAllocator;

/// Size of the panic message buffer (on the panicking thread's stack).
const PANIC_MESSAGE_MAX: usize = 512;

#[panic_handler]
fn tuntap_panic(info: &PanicInfo<'_>) -> ! {
    let mut message = CStrBuf::<PANIC_MESSAGE_MAX>::new();
    // Writing to a CStrBuf never fails; long messages are cut.
    let _ = match info.location() {
        Some(at) => write!(message, "tuntap: Rust panic at {at}: {}", info.message()),
        None => write!(message, "tuntap: Rust panic: {}", info.message()),
    };
    let text = message.as_ptr();
    // SAFETY: constant "%s" formats with a NUL-terminated argument that
    // lives until panic(), which does not return.
    unsafe {
        cmn_err(CE_WARN, c"%s".as_ptr(), text);
        panic(c"%s".as_ptr(), text)
    }
}
