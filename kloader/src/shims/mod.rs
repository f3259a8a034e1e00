// SPDX-License-Identifier: MPL-2.0

//! The illumos kernel functions the modules import, as C-ABI functions
//! backed by the simulator.
//!
//! Theory statement.
//!
//! *What.*  Each function here has the signature of the illumos function
//! of the same name (the illumos-gate header is cited next to it, the
//! same header `kernel/allowlist.txt` names) and does what that function
//! does, by calling the simulator's `SimKernel` (the `Kernel` trait the
//! driver logic already runs on) wherever the simulator has the
//! behaviour, so the simulator's rules and leak checks stay in force.  The
//! parts of illumos the simulator does not model (module linkage, the
//! device tree, `mac_init_ops`, kmem bookkeeping, task queues) are
//! modelled here, in [`State`].
//!
//! *Which.*  [`table`] lists every implementation by name.  The kernel
//! symbol table a module is linked against is that list intersected with
//! `kernel/allowlist.txt` (see `crate::image`): a symbol the gate forbids
//! is not exported, and an allowlisted symbol without an implementation
//! fails the load with its name.
//!
//! *Stacks.*  Functions that reach the simulator run on the host stack
//! (`kstack::host`); leaf routines (`memcpy`, `getminor`, ...) run in
//! place on the kernel stack, as their illumos versions do.
//!
//! *One kernel at a time.*  The functions find their simulator through
//! the process-wide [`State`] that `crate::LoadedKernel` installs; the
//! loader serialises kernels in a process (a module's globals are per
//! mapping, but these functions are shared).
//!
//! Locks: the `State` tables are std mutexes, never held while calling
//! module code or blocking on a simulated lock.

/// `(name, address)` of one C-ABI implementation, for the tables.
macro_rules! f {
    ($name:ident) => {
        (stringify!($name), $name as *const () as usize)
    };
}

pub mod ddi;
pub mod kmem;
pub mod locks;
pub mod mac;
pub mod mac_client;
pub mod modctl;
pub mod streams;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use illumos_sys_hdrs::mac_callbacks_t;
use tuntap_sim::SimKernel;
use tuntap_sim::sync::{SimCondvar, SimMutex};

/// A minor node a module made with `ddi_create_minor_node`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MinorNode {
    pub dip: usize,
    pub name: String,
    pub spec_type: i32,
    pub minor: u32,
    pub node_type: String,
}

/// What `mod_install` recorded for a module.
#[derive(Clone, Debug)]
pub struct Installed {
    /// The module that installed it.
    pub name: String,
    pub modlinkage: usize,
    pub dev_ops: usize,
}

/// One `ddi_taskq_t`.
pub struct TaskQueue {
    pub name: String,
    pub pending: Mutex<usize>,
    pub idle: std::sync::Condvar,
}

/// The simulated kernel the shims run against.
pub struct State {
    pub sim: SimKernel,
    pub minor_nodes: Mutex<Vec<MinorNode>>,
    pub installed: Mutex<Vec<Installed>>,
    /// dev_ops given to mac_init_ops (and not yet to mac_fini_ops).
    pub mac_ops: Mutex<Vec<usize>>,
    pub mutexes: Mutex<HashMap<usize, Arc<SimMutex>>>,
    pub condvars: Mutex<HashMap<usize, Arc<SimCondvar>>>,
    /// The module's own callbacks, by registration (`m_driver`).
    pub callbacks: Mutex<HashMap<usize, mac_callbacks_t>>,
    /// Live kmem_alloc buffers: address -> size.
    pub kmem: Mutex<BTreeMap<usize, usize>>,
    pub taskqs: Mutex<HashMap<usize, Arc<TaskQueue>>>,
    /// Console output (cmn_err).
    pub console: Mutex<Vec<String>>,
    /// Broken DDI rules the loader itself detects.
    pub errors: Mutex<Vec<String>>,
    /// The dev_info_t of each attached instance: name -> dip.
    pub dips: Mutex<BTreeMap<String, usize>>,
    /// Trampoline tables handed to mac (freed with the State).
    pub wrapped_tables: Mutex<Vec<usize>>,
    /// ddi_hold_devi_by_instance counts per dip.
    pub devi_holds: Mutex<HashMap<usize, usize>>,
    /// Live dls_devnet_hold_tmp handles.
    pub devnet_holds: Mutex<Vec<usize>>,
}

impl Drop for State {
    fn drop(&mut self) {
        for t in lock(&self.wrapped_tables).drain(..) {
            // SAFETY: made by Box::into_raw in mac_register, freed once.
            drop(unsafe { Box::from_raw(t as *mut mac_callbacks_t) });
        }
    }
}

// SAFETY: the raw pointers inside the callback tables are code addresses
// of loaded modules; the tables are behind mutexes.
unsafe impl Send for State {}
// SAFETY: as above.
unsafe impl Sync for State {}

impl State {
    pub fn new(sim: SimKernel) -> State {
        State {
            sim,
            minor_nodes: Mutex::new(Vec::new()),
            installed: Mutex::new(Vec::new()),
            mac_ops: Mutex::new(Vec::new()),
            mutexes: Mutex::new(HashMap::new()),
            condvars: Mutex::new(HashMap::new()),
            callbacks: Mutex::new(HashMap::new()),
            kmem: Mutex::new(BTreeMap::new()),
            taskqs: Mutex::new(HashMap::new()),
            console: Mutex::new(Vec::new()),
            errors: Mutex::new(Vec::new()),
            dips: Mutex::new(BTreeMap::new()),
            wrapped_tables: Mutex::new(Vec::new()),
            devnet_holds: Mutex::new(Vec::new()),
            devi_holds: Mutex::new(HashMap::new()),
        }
    }

    /// Record a DDI rule the module broke.
    pub fn error(&self, msg: String) {
        if std::env::var_os("TUNTAP_SIM_VERBOSE").is_some() {
            eprintln!("kloader: {msg}");
        }
        lock(&self.errors).push(msg);
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

static STATE: RwLock<Option<Arc<State>>> = RwLock::new(None);

/// Installs (or with None removes) the kernel the shims serve.
pub(crate) fn install(state: Option<Arc<State>>) {
    *STATE.write().unwrap_or_else(|e| e.into_inner()) = state;
}

/// The current kernel.  Module code runs only while one is installed.
pub(crate) fn st() -> Arc<State> {
    match STATE.read().unwrap_or_else(|e| e.into_inner()).as_ref() {
        Some(s) => s.clone(),
        None => {
            eprintln!("kloader: a kernel function was called with no loaded kernel");
            std::process::abort()
        }
    }
}

/// Every C-ABI implementation, by illumos name.
pub fn table() -> Vec<(&'static str, usize)> {
    let mut t = Vec::new();
    t.extend(streams::table());
    t.extend(kmem::table());
    t.extend(locks::table());
    t.extend(ddi::table());
    t.extend(modctl::table());
    t.extend(mac::table());
    t.extend(mac_client::table());
    t
}

/// Data symbols the kernel exports: name and size (zero-filled, placed in
/// the low kernel image).
pub const DATA: &[(&str, usize)] = &[
    // struct mod_ops (sys/modctl.h); its contents are krtld-private, the
    // module only stores its address in modldrv.drv_modops.
    ("mod_driverops", 64),
];

/// Reads a C string the module passed.
///
/// # Safety
/// `p` is NULL or a NUL-terminated string.
pub(crate) unsafe fn cstr(p: *const libc::c_char) -> String {
    if p.is_null() {
        return String::new();
    }
    // SAFETY: per the contract.
    unsafe { std::ffi::CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

/// Formats a cmn_err(9F)-style message from the register arguments.
///
/// cmn_err and panic are variadic in C; on the SysV x86-64 ABI the
/// integer arguments of a variadic call travel in the same registers as
/// those of a fixed-argument call, so a callee that names four integer
/// arguments sees the first four of them (floating-point arguments, which
/// the kernel has none of, would be missed).  Supports %s %d %i %u %x %X
/// %p %c %% with l/ll modifiers.
///
/// # Safety
/// `fmt` is a NUL-terminated format whose %s arguments are strings.
pub(crate) unsafe fn format_c(fmt: *const libc::c_char, args: &[usize]) -> String {
    // SAFETY: per the contract.
    let f = unsafe { cstr(fmt) };
    let mut out = String::new();
    let mut it = f.chars().peekable();
    let mut next = args.iter().copied();
    while let Some(c) = it.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut long = false;
        while matches!(it.peek(), Some('l')) {
            it.next();
            long = true;
        }
        match it.next() {
            Some('%') => out.push('%'),
            Some('s') => {
                // SAFETY: per the contract, %s arguments are C strings.
                out.push_str(&unsafe { cstr(next.next().unwrap_or(0) as *const libc::c_char) })
            }
            Some('d') | Some('i') => {
                let v = next.next().unwrap_or(0);
                let v = if long { v as i64 } else { v as i32 as i64 };
                out.push_str(&v.to_string());
            }
            Some('u') => {
                let v = next.next().unwrap_or(0);
                let v = if long { v as u64 } else { v as u32 as u64 };
                out.push_str(&v.to_string());
            }
            Some('x') | Some('X') => out.push_str(&format!("{:x}", next.next().unwrap_or(0))),
            Some('p') => out.push_str(&format!("{:#x}", next.next().unwrap_or(0))),
            Some('c') => out.push(char::from(next.next().unwrap_or(0) as u8)),
            Some(o) => {
                out.push('%');
                out.push(o);
            }
            None => out.push('%'),
        }
    }
    out
}
