// SPDX-License-Identifier: MPL-2.0

//! Kernel thread stacks: every entry point of a loaded module runs on a
//! stack of the size an illumos amd64 kernel thread gets, with an unmapped
//! guard page below it.
//!
//! Theory statement.
//!
//! *Size.*  `DEFAULTSTKSZ` is `5 * PAGESIZE` for `__amd64` in
//! illumos-gate `usr/src/uts/i86pc/sys/machparam.h` (the default kernel
//! thread stack; `thread_create` with a zero size uses it).  PAGESIZE is
//! 4096 on x86 (same header family, `usr/src/uts/intel/sys/param.h`).
//!
//! *Two stacks per thread.*  A thread that calls into a module ([`enter`])
//! gets, lazily, one kernel stack: `GUARD | DEFAULTSTKSZ`, the guard page
//! `PROT_NONE`.  Module code runs there.  When module code calls one of
//! the loader's C-ABI implementations of an illumos function, the heavy
//! ones ([`host`]) switch back to the thread's own (host) stack below the
//! point where it left, because the simulator behind them is ordinary Rust
//! that was never written for 20 KiB; the module's frames stay where they
//! are on the kernel stack.  A module entry point reached again from the
//! simulator during such a call (a `putnext` that ends in another queue's
//! put procedure, say) continues below the suspended module frames, as a
//! nested call on one kernel thread would.  So the kernel stack holds
//! exactly the module's own frames plus the leaf routines (`memcpy`,
//! `getminor`, ...) that run in place: what the measurement reports is
//! the module's use, and the real illumos routines' frames come on top of
//! it on a live system (kernel/README.md says so).
//!
//! *Depth.*  The stack is filled with [`FILL`] when mapped; after each
//! outermost entry returns, the lowest overwritten word gives the deepest
//! use, recorded per entry-point name ([`deepest`]); the used part is then
//! refilled.
//!
//! *Overflow.*  A SIGSEGV handler (installed once, running on a per-thread
//! `sigaltstack`) that finds the fault address inside the current thread's
//! guard page writes `kloader: kernel stack overflow in entry point <name>`
//! to stderr and ends the process with exit status [`OVERFLOW_EXIT`]: the
//! stack is gone, so nothing can continue, and the test binary fails with
//! the entry point named.  Any other SIGSEGV while module code runs names
//! the entry point too, then goes to the handler that was installed
//! before ours (Rust's stack-overflow reporter) or the default action.
//!
//! *Unwinding.*  A panic cannot cross a stack switch: the trampolines are
//! `extern "C"`, so a panic in module-called code aborts the process after
//! the panic message is printed.
//!
//! Locks: `DEEPEST` (a std mutex), taken only on the host stack.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::sync::{Mutex, Once};

/// x86 page size.
pub const PAGESIZE: usize = 4096;
/// illumos amd64 default kernel thread stack size (i86pc/sys/machparam.h).
pub const DEFAULTSTKSZ: usize = 5 * PAGESIZE;
/// The byte every unused stack word holds.
pub const FILL: u8 = 0xa5;
/// Exit status of a process whose module code ran into a guard page.
pub const OVERFLOW_EXIT: i32 = 86;
/// Size of the per-thread signal stack.
const ALTSTACK: usize = 64 * 1024;
/// Room left below a suspended frame before a stack is reused.
const MARGIN: usize = 64;

struct Mapping {
    base: *mut u8,
    len: usize,
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: base/len are exactly one mmap made by this module.
        unsafe { libc::munmap(self.base.cast(), self.len) };
    }
}

/// The thread's kernel stack and signal stack (freed at thread exit).
struct Stacks {
    _kstack: Mapping,
    alt: Mapping,
}

impl Drop for Stacks {
    fn drop(&mut self) {
        let ss = libc::stack_t { ss_sp: std::ptr::null_mut(), ss_flags: libc::SS_DISABLE, ss_size: 0 };
        // SAFETY: disables this thread's signal stack before it is unmapped.
        unsafe { libc::sigaltstack(&ss, std::ptr::null_mut()) };
        let _ = &self.alt;
        GUARD_LO.with(|g| g.set(0));
    }
}

thread_local! {
    static STACKS: RefCell<Option<Stacks>> = const { RefCell::new(None) };
    static GUARD_LO: Cell<usize> = const { Cell::new(0) };
    static LOW: Cell<usize> = const { Cell::new(0) };
    static TOP: Cell<usize> = const { Cell::new(0) };
    /// Where the next kernel entry starts (TOP when none is suspended).
    static KSP: Cell<usize> = const { Cell::new(0) };
    /// Where a switch back to the host stack starts.
    static HSP: Cell<usize> = const { Cell::new(0) };
    static IN_KERNEL: Cell<bool> = const { Cell::new(false) };
    static ENTRY: Cell<&'static str> = const { Cell::new("") };
}

static DEEPEST: Mutex<BTreeMap<&'static str, usize>> = Mutex::new(BTreeMap::new());
static HANDLER: Once = Once::new();

fn map(len: usize, prot: libc::c_int) -> Mapping {
    // SAFETY: a fresh anonymous private mapping; checked below.
    let p = unsafe {
        libc::mmap(std::ptr::null_mut(), len, prot, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1, 0)
    };
    assert!(p != libc::MAP_FAILED, "kloader: cannot map {len} bytes of stack");
    Mapping { base: p.cast(), len }
}

fn ensure_stack() {
    if TOP.with(Cell::get) != 0 {
        return;
    }
    install_handler();
    let k = map(PAGESIZE + DEFAULTSTKSZ, libc::PROT_READ | libc::PROT_WRITE);
    // SAFETY: the first page of our own mapping becomes the guard.
    let rc = unsafe { libc::mprotect(k.base.cast(), PAGESIZE, libc::PROT_NONE) };
    assert_eq!(rc, 0, "kloader: cannot protect the guard page");
    let low = k.base as usize + PAGESIZE;
    // SAFETY: [low, low + DEFAULTSTKSZ) is mapped read-write and ours.
    unsafe { std::ptr::write_bytes(low as *mut u8, FILL, DEFAULTSTKSZ) };
    let alt = map(ALTSTACK, libc::PROT_READ | libc::PROT_WRITE);
    let ss = libc::stack_t { ss_sp: alt.base.cast(), ss_flags: 0, ss_size: ALTSTACK };
    // SAFETY: alt is mapped for ALTSTACK bytes and lives as long as the thread.
    let rc = unsafe { libc::sigaltstack(&ss, std::ptr::null_mut()) };
    assert_eq!(rc, 0, "kloader: sigaltstack failed");
    GUARD_LO.with(|g| g.set(k.base as usize));
    LOW.with(|c| c.set(low));
    TOP.with(|c| c.set(low + DEFAULTSTKSZ));
    KSP.with(|c| c.set(low + DEFAULTSTKSZ));
    STACKS.with(|s| *s.borrow_mut() = Some(Stacks { _kstack: k, alt }));
}

fn write_stderr(parts: &[&[u8]]) {
    for p in parts {
        // SAFETY: writes a byte slice we own to fd 2 (async-signal-safe).
        unsafe { libc::write(2, p.as_ptr().cast(), p.len()) };
    }
}

fn hex(mut v: usize, buf: &mut [u8; 18]) -> &[u8] {
    buf[0] = b'0';
    buf[1] = b'x';
    for i in (2..18).rev() {
        buf[i] = b"0123456789abcdef"[v & 15];
        v >>= 4;
    }
    &buf[..]
}

extern "C" fn on_segv(_sig: libc::c_int, info: *mut libc::siginfo_t, _ctx: *mut libc::c_void) {
    // SAFETY: the kernel hands a valid siginfo to an SA_SIGINFO handler.
    let addr = unsafe { (*info).si_addr() } as usize;
    let guard = GUARD_LO.with(Cell::get);
    let entry = ENTRY.with(Cell::get);
    let mut b = [0u8; 18];
    if guard != 0 && addr >= guard && addr < guard + PAGESIZE {
        write_stderr(&[
            b"kloader: kernel stack overflow in entry point ",
            entry.as_bytes(),
            b": the guard page below its ",
            b"20480-byte stack (DEFAULTSTKSZ) was touched at ",
            hex(addr, &mut b),
            b"\n",
        ]);
        // SAFETY: ends the process; nothing on the lost stack can resume.
        unsafe { libc::_exit(OVERFLOW_EXIT) };
    }
    if IN_KERNEL.with(Cell::get) {
        write_stderr(&[
            b"kloader: SIGSEGV in module code, entry point ",
            entry.as_bytes(),
            b", address ",
            hex(addr, &mut b),
            b"\n",
        ]);
    }
    // Not ours: hand the fault back to whoever handled SIGSEGV before us
    // (Rust's own stack-overflow reporter), by reinstalling that action;
    // returning re-executes the faulting instruction under it.
    let old = OLD_ACTION.load(std::sync::atomic::Ordering::Acquire);
    // SAFETY: OLD_ACTION is NULL or the leaked sigaction saved at install.
    unsafe {
        if old.is_null() {
            libc::signal(libc::SIGSEGV, libc::SIG_DFL);
        } else {
            libc::sigaction(libc::SIGSEGV, old, std::ptr::null_mut());
        }
    }
}

/// The SIGSEGV action in place before ours (leaked, set once).
static OLD_ACTION: std::sync::atomic::AtomicPtr<libc::sigaction> =
    std::sync::atomic::AtomicPtr::new(std::ptr::null_mut());

fn install_handler() {
    HANDLER.call_once(|| {
        // SAFETY: a zeroed sigaction with our handler, SA_ONSTACK so it runs
        // on the signal stack even when the faulting stack is exhausted.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_segv as *const () as usize;
            sa.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
            libc::sigemptyset(&mut sa.sa_mask);
            let old: &'static mut libc::sigaction = Box::leak(Box::new(std::mem::zeroed()));
            if libc::sigaction(libc::SIGSEGV, &sa, &mut *old) == 0 {
                OLD_ACTION.store(old, std::sync::atomic::Ordering::Release);
            }
        }
    });
}


// `kloader_switch_call(arg, f, sp, save)`: calls `f(arg)` with rsp =
// `sp`, after storing the caller's stack pointer (below which the
// caller's stack is free while `f` runs) at `save`.  The frame keeps the
// caller's stack in rbp and says so in its CFI, so an
// unwinder (the simulator captures backtraces when it records a
// violation) walks from the callee back to the caller's stack instead of
// reading garbage; on the module side it stops at module code, which has
// no unwind tables.
std::arch::global_asm!(
    ".text",
    ".p2align 4",
    ".globl kloader_switch_call",
    ".type kloader_switch_call,@function",
    "kloader_switch_call:",
    ".cfi_startproc",
    "push rbp",
    ".cfi_def_cfa_offset 16",
    ".cfi_offset rbp, -16",
    "mov rbp, rsp",
    ".cfi_def_cfa_register rbp",
    "mov qword ptr [rcx], rbp",
    "mov rsp, rdx",
    "call rsi",
    "mov rsp, rbp",
    "pop rbp",
    ".cfi_def_cfa rsp, 8",
    "ret",
    ".cfi_endproc",
    ".size kloader_switch_call, .-kloader_switch_call",
);

unsafe extern "C" {
    fn kloader_switch_call(arg: *mut u8, f: unsafe extern "C" fn(*mut u8), sp: usize, save: *mut usize);
}

/// Calls `f(arg)` with the stack pointer set to `sp` (16-byte aligned),
/// storing at `save` the lowest in-use address of the stack it leaves.
///
/// # Safety
/// `sp` is the top of free, mapped stack memory large enough for `f`;
/// `save` is valid for writes.
unsafe fn call_on_stack(sp: usize, f: unsafe extern "C" fn(*mut u8), arg: *mut u8, save: *mut usize) {
    debug_assert_eq!(sp % 16, 0);
    // SAFETY: kloader_switch_call follows the C ABI; `f` returns with rsp
    // as it found it and rbp preserved, so the old stack is restored.
    unsafe { kloader_switch_call(arg, f, sp, save) }
}

unsafe extern "C" fn trampoline<F: FnOnce() -> R, R>(p: *mut u8) {
    // SAFETY: `p` is the slot `run` built for exactly these F and R.
    let slot = unsafe { &mut *p.cast::<(Option<F>, Option<R>)>() };
    if let Some(f) = slot.0.take() {
        slot.1 = Some(f());
    }
}

fn run<F: FnOnce() -> R, R>(sp: usize, save: *mut usize, f: F) -> R {
    let mut slot: (Option<F>, Option<R>) = (Some(f), None);
    // SAFETY: sp is the free part of a stack this thread owns (callers);
    // save is one of this thread's stack-pointer cells.
    unsafe { call_on_stack(sp, trampoline::<F, R>, (&raw mut slot).cast(), save) };
    match slot.1 {
        Some(r) => r,
        None => unreachable!("kloader: the stack-switched call did not complete"),
    }
}

fn align_down(v: usize) -> usize {
    v & !15
}

/// Runs module code `f` (entry point `entry`) on this thread's kernel stack.
pub fn enter<R>(entry: &'static str, f: impl FnOnce() -> R) -> R {
    if IN_KERNEL.with(Cell::get) {
        return f();
    }
    ensure_stack();
    let top = TOP.with(Cell::get);
    let ksp = KSP.with(Cell::get);
    let outermost = ksp == top;
    let saved_hsp = HSP.with(Cell::get);
    let saved_entry = ENTRY.with(Cell::get);
    if outermost {
        ENTRY.with(|c| c.set(entry));
    }
    IN_KERNEL.with(|c| c.set(true));
    // The switch stores the host stack pointer it leaves in HSP: a host()
    // call from the module continues below it.
    let sp = if outermost { top } else { align_down(ksp - MARGIN) };
    let r = run(sp, HSP.with(Cell::as_ptr), f);
    IN_KERNEL.with(|c| c.set(false));
    HSP.with(|c| c.set(saved_hsp));
    ENTRY.with(|c| c.set(saved_entry));
    if outermost {
        measure(entry);
    }
    r
}

/// Runs loader code `f` on the host stack when called from module code.
pub fn host<R>(f: impl FnOnce() -> R) -> R {
    if !IN_KERNEL.with(Cell::get) {
        return f();
    }
    let saved_ksp = KSP.with(Cell::get);
    IN_KERNEL.with(|c| c.set(false));
    // The switch stores the kernel stack pointer it leaves in KSP: a
    // nested enter() continues below the suspended module frames.
    let r = run(align_down(HSP.with(Cell::get) - MARGIN), KSP.with(Cell::as_ptr), f);
    IN_KERNEL.with(|c| c.set(true));
    KSP.with(|c| c.set(saved_ksp));
    r
}

/// The entry point running on this thread's kernel stack, if any.
pub fn current_entry() -> Option<&'static str> {
    let e = ENTRY.with(Cell::get);
    (!e.is_empty()).then_some(e)
}

fn measure(entry: &'static str) {
    let low = LOW.with(Cell::get);
    let top = TOP.with(Cell::get);
    let word = u64::from_ne_bytes([FILL; 8]);
    let mut p = low;
    while p < top {
        // SAFETY: [low, top) is this thread's mapped kernel stack, idle now.
        if unsafe { std::ptr::read(p as *const u64) } != word {
            break;
        }
        p += 8;
    }
    let used = top - p;
    // SAFETY: as above; restores the pattern over the used part.
    unsafe { std::ptr::write_bytes(p as *mut u8, FILL, used) };
    let mut d = DEEPEST.lock().unwrap_or_else(|e| e.into_inner());
    let e = d.entry(entry).or_insert(0);
    *e = (*e).max(used);
}

/// Deepest kernel-stack use seen so far, per entry point (bytes).
pub fn deepest() -> BTreeMap<&'static str, usize> {
    DEEPEST.lock().unwrap_or_else(|e| e.into_inner()).clone()
}
