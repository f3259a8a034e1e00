// SPDX-License-Identifier: MPL-2.0

//! kloader: a userland krtld that loads the built kernel objects
//! `out/kernel/amd64/tuntap` and `tun` and runs them against the
//! simulator.
//!
//! # Theory statement
//!
//! **What it does.**  [`LoadedKernel::boot`] plays the illumos kernel for
//! the two shipped relocatable objects: it links each one as krtld does
//! ([`elf`]: low-2-GiB mapping, relocations, `_depends_on`, SDT probe
//! sites) against a kernel symbol table made of the allowlisted C-ABI
//! implementations in [`shims`] (backed by a `tuntap_sim::SimHost`), runs
//! `_init`, attaches instance 0 of each driver through its `dev_ops`, and
//! installs a STREAMS adapter (`adapter.rs`) as the simulator's driver,
//! so every `SimHost::open`/`write`/`ioctl` goes through `drv/tun`'s
//! `streamtab` (real `queue_t` pairs from the simulator) into the
//! cross-module calls to `drv/tuntap`, and mac drives the `mac_callbacks_t`
//! the module registered.  Every entry point runs on a
//! `DEFAULTSTKSZ` kernel stack with a guard page ([`kstack`]).
//!
//! **Lifecycle.**  [`LoadedKernel::unload`] detaches (refused by the
//! driver while links or streams exist), then calls `_fini`;
//! [`LoadedKernel::finish`] unloads, checks that no kmem buffer is left
//! and that the loader saw no broken DDI rule, then runs the simulator's
//! own finish (violations, leaked message blocks and mac handles), and
//! panics with every finding.
//!
//! **One at a time.**  The shims reach the simulator through one
//! process-wide slot, so a `LoadedKernel` holds a process-wide lock for
//! its lifetime: tests that load run one after another.
//!
//! **Locks.**  `SERIAL` (held by a LoadedKernel), then the shims' tables.

mod adapter;
pub mod devtree;
pub mod elf;
pub mod image;
pub mod kstack;
pub mod patch;
pub mod shims;

use std::ffi::c_int;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use illumos_sys_hdrs::{DDI_SUCCESS, EBUSY, dev_info_t, dev_ops, dev_t};
use tuntap_sim::SimHost;

pub use elf::{Krtld, Module};
use image::{Allowlist, KernelSymbols};
use shims::{State, lock};

/// The major numbers the loader gives the drivers (any values work: the
/// modules only pass them back through makedevice/getmajor).
pub const TUNTAP_MAJOR: u32 = 200;
/// See [`TUNTAP_MAJOR`].
pub const TUN_MAJOR: u32 = 201;

/// The driver a major number belongs to.
pub(crate) fn driver_of_major(major: u32) -> Option<&'static str> {
    match major {
        TUNTAP_MAJOR => Some("tuntap"),
        TUN_MAJOR => Some("tun"),
        _ => None,
    }
}

/// Where the modules and allowlists are.
#[derive(Clone, Debug)]
pub struct Paths {
    pub tuntap: PathBuf,
    pub tun: PathBuf,
    pub allowlist: PathBuf,
    pub allowlist_tun: PathBuf,
}

impl Paths {
    /// The repository's `out/kernel/amd64/{tuntap,tun}` (or the directory
    /// in `KLOADER_MODULES`) and `kernel/allowlist*.txt`.
    pub fn repo() -> Paths {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let dir = std::env::var_os("KLOADER_MODULES")
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join("out/kernel/amd64"));
        Paths {
            tuntap: dir.join("tuntap"),
            tun: dir.join("tun"),
            allowlist: root.join("kernel/allowlist.txt"),
            allowlist_tun: root.join("kernel/allowlist-tun.txt"),
        }
    }

    /// The repository paths if both modules exist.  When they do not:
    /// `None` (the host `cargo test` runs before `cargo xtask kmod`), or,
    /// with `KLOADER_REQUIRE=1` (scripts/test.sh's loader step), a panic.
    ///
    /// Objects older than the driver sources are stale (a host `cargo
    /// test` in a worktree where `out/` is left from an earlier build):
    /// they are skipped too, unless `KLOADER_REQUIRE=1`.
    pub fn built() -> Option<Paths> {
        let p = Paths::repo();
        let require = std::env::var_os("KLOADER_REQUIRE").is_some_and(|v| v == "1");
        if p.tuntap.exists() && p.tun.exists() {
            if !require && let Some(src) = p.stale_against() {
                eprintln!("kloader: {} is older than {}; skipping (cargo xtask kmod rebuilds it)", p.tuntap.display(), src.display());
                return None;
            }
            return Some(p);
        }
        if require {
            panic!(
                "kloader: KLOADER_REQUIRE=1 but {} or {} is missing (run cargo xtask kmod)",
                p.tuntap.display(),
                p.tun.display()
            );
        }
        eprintln!("kloader: {} not built; skipping (cargo xtask kmod builds it)", p.tuntap.display());
        None
    }
}

impl Paths {
    /// Does `<module>.conf` next to the objects' directory set
    /// `ddi-forceattach=1`?  (`out/kernel/<module>.conf`.)
    pub fn forceattach(&self, module: &str) -> bool {
        let conf = self.tuntap.parent().and_then(Path::parent).map(|d| d.join(format!("{module}.conf")));
        conf.and_then(|c| std::fs::read_to_string(c).ok()).is_some_and(|t| devtree::forceattach(&t))
    }

    /// A driver source file newer than either object, if any.
    fn stale_against(&self) -> Option<PathBuf> {
        let mtime = |f: &Path| std::fs::metadata(f).and_then(|m| m.modified()).ok();
        let built = mtime(&self.tuntap)?.min(mtime(&self.tun)?);
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut stack: Vec<PathBuf> = ["tuntap-drv", "crates/illumos-sys-hdrs/src", "crates/tuntap-abi/src"]
            .iter()
            .map(|d| root.join(d))
            .collect();
        while let Some(dir) = stack.pop() {
            let Ok(rd) = std::fs::read_dir(&dir) else { continue };
            for e in rd.flatten() {
                let path = e.path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|x| x == "rs" || x == "toml")
                    && mtime(&path).is_some_and(|t| t > built)
                {
                    return Some(path);
                }
            }
        }
        None
    }
}

static SERIAL: Mutex<()> = Mutex::new(());

/// Bytes of the two objects (tests patch copies of them).
#[derive(Clone)]
pub struct Objects {
    pub tuntap: Vec<u8>,
    pub tun: Vec<u8>,
}

impl Objects {
    pub fn read(p: &Paths) -> Result<Objects, String> {
        let r = |f: &Path| std::fs::read(f).map_err(|e| format!("cannot read {}: {e}", f.display()));
        Ok(Objects { tuntap: r(&p.tuntap)?, tun: r(&p.tun)? })
    }
}

/// Which instances are attached when the boot returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lifecycle {
    /// Right after `add_drv tuntap; add_drv tun`: both attached.
    Installed,
    /// After a reboot: only drivers whose `.conf` says
    /// `ddi-forceattach=1`; the others attach when their minor nodes are
    /// opened or a `ddi_hold_devi_by_instance` asks for them.
    Reboot,
}

/// Options of a boot.
#[derive(Clone, Copy, Debug)]
pub struct BootOptions {
    pub krtld: Krtld,
    pub lifecycle: Lifecycle,
    /// The kernel's mac has TCPv6 LSO (illumos 12466: a 12-byte
    /// `mac_capab_lso_t`) and exports `mac_getinfo` (illumos 15342);
    /// `false` plays an older kernel: no `mac_getinfo` for the module's
    /// weak reference, and the simulated mac passes the 8-byte structure.
    pub mac_lso_ipv6: bool,
}

impl Default for BootOptions {
    fn default() -> Self {
        BootOptions { krtld: Krtld::Current, lifecycle: Lifecycle::Installed, mac_lso_ipv6: true }
    }
}

/// The kernel symbol `BootOptions::mac_lso_ipv6` takes away: the module's
/// witness of TCPv6 LSO (tuntap-drv/src/link/offload.rs).
pub const MAC_LSO_IPV6_WITNESS: &str = "mac_getinfo";

/// The two modules loaded, initialised and attached on a simulated host.
pub struct LoadedKernel {
    host: Option<SimHost>,
    state: Arc<State>,
    modules: Vec<Module>,
    /// Known findings a test chose to tolerate (see [`Tolerated`]).
    tolerated: Vec<Tolerated>,
    /// Dropping it stops the watchdog.
    _watchdog: std::sync::mpsc::Sender<()>,
    _serial: MutexGuard<'static, ()>,
}

/// How long one loaded kernel may live before the process is stopped: a
/// deadlock in module code (a kmutex never released) would otherwise hang
/// the test.  The scenarios take well under a second each.
/// `KLOADER_WATCHDOG_SECS` overrides it (the watchdog's own test).
pub const WATCHDOG: std::time::Duration = std::time::Duration::from_secs(120);

fn watchdog() -> std::sync::mpsc::Sender<()> {
    let limit = std::env::var("KLOADER_WATCHDOG_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map(std::time::Duration::from_secs)
        .unwrap_or(WATCHDOG);
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    std::thread::spawn(move || {
        if let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(limit) {
            eprintln!(
                "kloader: a loaded kernel is still running after {limit:?}: deadlock in module \
                 code? stopping the test process"
            );
            std::process::abort();
        }
    });
    tx
}

/// A known finding in the loaded objects that a scenario tolerates so it
/// can test everything else: each loader error starting with
/// `loader_error` is dropped together with one simulator violation
/// matching `violation` (kind and message prefix), when the event
/// produces one.  Every tolerance is pinned by a test that fails once the
/// finding is fixed (none is open now: see kernel/README.md).
#[derive(Clone, Debug)]
pub struct Tolerated {
    pub loader_error: &'static str,
    /// The simulator violation the same event produces, if any.
    pub violation: Option<(tuntap_sim::ViolationKind, &'static str)>,
}


/// Calls a module function `f` of type `T` at `addr` on the kernel stack.
macro_rules! call {
    ($entry:expr, $addr:expr, $t:ty, ($($a:expr),*)) => {{
        // SAFETY: $addr is the address of a function of type $t in a
        // loaded module (a symbol or a pointer the module stored).
        let f: $t = unsafe { std::mem::transmute::<usize, $t>($addr) };
        kstack::enter($entry, move || unsafe { f($($a),*) })
    }};
}

impl LoadedKernel {
    /// Loads (links) both objects without running anything.
    pub fn link(paths: &Paths, objects: &Objects, opts: BootOptions) -> Result<LoadedKernel, String> {
        let serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        let mut allow = Allowlist::read(&paths.allowlist)?;
        if !opts.mac_lso_ipv6 {
            // An older kernel does not export it at all.
            allow.0.remove(MAC_LSO_IPV6_WITNESS);
        }
        let allow_tun = Allowlist::read(&paths.allowlist_tun)?;
        let from_tuntap: Vec<&str> = allow_tun.0.keys().map(String::as_str).collect();
        let host = SimHost::new();
        host.set_mac_lso_ipv6(opts.mac_lso_ipv6);
        let state = Arc::new(State::new(host.kernel()));
        shims::install(Some(state.clone()));
        let mut k = LoadedKernel {
            host: Some(host),
            state,
            modules: Vec::new(),
            tolerated: Vec::new(),
            _watchdog: watchdog(),
            _serial: serial,
        };
        let syms = KernelSymbols { allow: &allow };
        let tuntap = elf::load("tuntap", &objects.tuntap, &[], &[], &syms, opts.krtld)?;
        let tun = elf::load("tun", &objects.tun, &[&tuntap], &from_tuntap, &syms, opts.krtld)?;
        k.modules.push(tuntap);
        k.modules.push(tun);
        Ok(k)
    }

    /// Links, runs `_init` of both, attaches both, and makes the
    /// simulator's STREAMS head call drv/tun.
    pub fn boot(paths: &Paths, objects: &Objects, opts: BootOptions) -> Result<LoadedKernel, String> {
        let mut k = LoadedKernel::link(paths, objects, opts)?;
        for m in ["tuntap", "tun"] {
            let rc = k.init(m);
            if rc != 0 {
                return Err(format!("{m}: _init returned {rc}; loader errors: {:?}", k.errors()));
            }
            if opts.lifecycle == Lifecycle::Reboot && !paths.forceattach(m) {
                continue;
            }
            let rc = k.attach(m);
            if rc != DDI_SUCCESS {
                return Err(format!("{m}: attach(9E) through dev_ops returned {rc}; loader errors: {:?}", k.errors()));
            }
        }
        let st = k.tun_streamtab().ok_or("tun: cb_ops->cb_str is NULL after _init")?;
        let rly = k.tun_module_streamtab()?;
        // `kcred` (sys/cred.h) is the credential the LDI calls put in
        // `ioc_cr`: the loaded module compares ioctl credentials with it.
        let kcred_at = image::data_address("kcred");
        if kcred_at != 0 {
            // SAFETY: the loader's zero-filled 8-byte data symbol `kcred`.
            unsafe { *(kcred_at as *mut usize) = k.host().kcred().0 as usize };
        }
        k.host().attach(Arc::new(adapter::TunStreams { st, rly }));
        Ok(k)
    }

    /// Boots the repository's built objects.
    pub fn boot_built(paths: &Paths) -> Result<LoadedKernel, String> {
        LoadedKernel::boot(paths, &Objects::read(paths)?, BootOptions::default())
    }

    /// The simulated host (streams, mac clients, dlmgmtd).
    pub fn host(&self) -> &SimHost {
        match &self.host {
            Some(h) => h,
            None => unreachable!("host taken by finish"),
        }
    }

    /// A loaded module by name.
    pub fn module(&self, name: &str) -> Option<&Module> {
        self.modules.iter().find(|m| m.name == name)
    }

    fn sym(&self, module: &str, name: &str) -> Result<usize, String> {
        self.module(module)
            .and_then(|m| m.symbol(name))
            .ok_or_else(|| format!("{module}: no global symbol {name}"))
    }

    /// Runs `_init` of `module`; returns its status.
    pub fn init(&mut self, module: &str) -> c_int {
        let Ok(a) = self.sym(module, "_init") else { return -1 };
        shims::modctl::LOADING.with(|l| *l.borrow_mut() = module.to_owned());
        call!("_init", a, unsafe extern "C" fn() -> c_int, ())
    }

    /// Runs `_fini` of `module`; returns its status.
    pub fn fini(&mut self, module: &str) -> c_int {
        let Ok(a) = self.sym(module, "_fini") else { return -1 };
        shims::modctl::LOADING.with(|l| *l.borrow_mut() = module.to_owned());
        call!("_fini", a, unsafe extern "C" fn() -> c_int, ())
    }

    /// The dev_ops `mod_install` recorded for `module`.
    pub fn dev_ops(&self, module: &str) -> Option<*mut dev_ops> {
        devtree::dev_ops(&self.state, module)
    }

    /// The relay module's streamtab from drv/tun's second linkage (a
    /// `modlstrmod` with `&mod_strmodops` and an `fmodsw` named
    /// [`tuntap_drv::dlpi::relay::MODULE_NAME`]); `None` if it links none.
    fn tun_module_streamtab(&self) -> Result<Option<usize>, String> {
        let Some(ml) = lock(&self.state.installed).iter().find(|i| i.name == "tun").map(|i| i.modlinkage) else {
            return Ok(None);
        };
        let ops = image::data_address("mod_strmodops");
        // SAFETY: the modlinkage drv/tun passed to mod_install.
        let ml = unsafe { &*(ml as *const illumos_sys_hdrs::modlinkage) };
        for l in ml.ml_linkage.iter().skip(1).take_while(|l| !l.is_null()) {
            // SAFETY: a linkage structure of the module; every kind starts
            // with its mod_ops pointer (sys/modctl.h).
            let sm = unsafe { &*l.cast::<illumos_sys_hdrs::modlstrmod>() };
            if sm.strmod_modops as usize != ops || sm.strmod_fmodsw.is_null() {
                return Err("tun: a second linkage that is not a modlstrmod with &mod_strmodops".into());
            }
            // SAFETY: the module's static fmodsw.
            let fm = unsafe { &*sm.strmod_fmodsw };
            let name: Vec<u8> = fm.f_name.iter().take_while(|c| **c != 0).map(|c| *c as u8).collect();
            if name != tuntap_drv::dlpi::relay::MODULE_NAME.as_bytes() || fm.f_str.is_null() {
                return Err(format!("tun: STREAMS module {:?} is not the relay module", String::from_utf8_lossy(&name)));
            }
            return Ok(Some(fm.f_str as usize));
        }
        Ok(None)
    }

    fn tun_streamtab(&self) -> Option<usize> {
        let d = self.dev_ops("tun")?;
        // SAFETY: dev_ops and cb_ops of the loaded tun module.
        let st = unsafe { (*(*d).devo_cb_ops).cb_str };
        (!st.is_null()).then_some(st as usize)
    }

    /// The dip of an attached instance.
    pub fn dip(&self, module: &str) -> Option<*mut dev_info_t> {
        devtree::dip(&self.state, module)
    }

    /// attach(9E) of instance 0 through `devo_attach`.
    pub fn attach(&mut self, module: &str) -> c_int {
        devtree::attach(&self.state, module)
    }

    /// detach(9E) of instance 0 through `devo_detach` (refused while held).
    pub fn detach(&mut self, module: &str) -> c_int {
        devtree::detach(&self.state, module)
    }

    /// getinfo(9E) through `devo_getinfo`.
    pub fn getinfo(&self, module: &str, cmd: c_int, dev: dev_t) -> Result<usize, c_int> {
        let ops = self.dev_ops(module).ok_or(-1)?;
        // SAFETY: the module's dev_ops.
        let f = unsafe { (*ops).devo_getinfo }.ok_or(-1)?;
        let mut out: *mut libc::c_void = std::ptr::null_mut();
        let outp = &raw mut out;
        let rc = call!("devo_getinfo", f as usize, unsafe extern "C" fn(*mut dev_info_t, c_int, *mut libc::c_void, *mut *mut libc::c_void) -> c_int,
            (std::ptr::null_mut(), cmd, dev as *mut libc::c_void, outp));
        if rc == DDI_SUCCESS { Ok(out as usize) } else { Err(rc) }
    }

    /// modunload: detach the instance (refused by the driver while it is
    /// busy), then `_fini`.  0 or an errno (EBUSY when detach refused).
    pub fn unload(&mut self, module: &str) -> c_int {
        if self.dip(module).is_some() && self.detach(module) != DDI_SUCCESS {
            return EBUSY;
        }
        self.fini(module)
    }

    /// Tolerate a known finding (see [`Tolerated`]).
    pub fn tolerate(&mut self, t: Tolerated) {
        self.tolerated.push(t);
    }

    /// Minor nodes the modules made.
    pub fn minor_nodes(&self) -> Vec<shims::MinorNode> {
        lock(&self.state.minor_nodes).clone()
    }

    /// cmn_err output so far.
    pub fn console(&self) -> Vec<String> {
        lock(&self.state.console).clone()
    }

    /// DDI rules broken so far (loader-detected).
    pub fn errors(&self) -> Vec<String> {
        lock(&self.state.errors).clone()
    }

    /// Unloads both modules and checks everything; panics listing every
    /// finding (unload refused, kmem leaks, loader errors, simulator
    /// violations and leaks).
    pub fn finish(mut self) {
        let mut findings = Vec::new();
        let host = self.host.take();
        if let Some(h) = &host
            && !h.settle(std::time::Duration::from_secs(10))
        {
            findings.push("service/taskq work did not settle in 10 s".to_owned());
        }
        for m in ["tun", "tuntap"] {
            if self.dev_ops(m).is_none() {
                continue; // already unloaded (its _fini succeeded)
            }
            let rc = self.unload(m);
            if rc != 0 {
                findings.push(format!("unload of {m} refused: {rc} (links or streams left?)"));
            }
        }
        if let Some(h) = &host {
            h.detach();
        }
        let kmem = lock(&self.state.kmem).clone();
        if !kmem.is_empty() {
            let total: usize = kmem.values().sum();
            findings.push(format!("{} kmem buffer(s), {total} bytes, still allocated after both modules were unloaded", kmem.len()));
        }
        let devnet = lock(&self.state.devnet_holds).len();
        if devnet > 0 {
            findings.push(format!("{devnet} dls_devnet_hold_tmp hold(s) never released with dls_devnet_rele_tmp"));
        }
        let mut errors = self.errors();
        let mut violations = host.map(|h| h.finish_report()).unwrap_or_default();
        for t in &self.tolerated {
            while let Some(i) = errors.iter().position(|e| e.starts_with(t.loader_error)) {
                if let Some((kind, msg)) = t.violation {
                    let Some(j) = violations.iter().position(|v| v.kind == kind && v.message.starts_with(msg)) else {
                        break;
                    };
                    violations.remove(j);
                }
                errors.remove(i);
            }
        }
        findings.extend(errors);
        findings.extend(violations.iter().map(|v| format!("simulator: {v}")));
        if !findings.is_empty() {
            panic!("kloader: {} finding(s):\n- {}", findings.len(), findings.join("\n- "));
        }
    }
}

impl Drop for LoadedKernel {
    fn drop(&mut self) {
        if let Some(h) = self.host.take() {
            h.detach();
            drop(h);
        }
        self.modules.clear();
        shims::install(None);
    }
}
