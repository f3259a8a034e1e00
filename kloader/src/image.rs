// SPDX-License-Identifier: MPL-2.0

//! The "kernel image": the symbols a module can link against.
//!
//! Theory statement.  On illumos every module and the kernel sit within
//! 2 GiB of each other, so a rel32 call from a module reaches `allocb`
//! directly.  The test binary's functions are far away (PIE, high
//! addresses), so the image is one low mapping (`MAP_32BIT`) holding, for
//! each implementation in `shims::table`, a 16-byte stub
//! `jmp *0(%rip); .quad target` and, for each data symbol in
//! `shims::DATA`, zeroed storage.  It is built once per process.
//!
//! Which symbols a module may bind to is decided by the allowlists: the
//! kernel exports exactly the `kernel/allowlist.txt` entries that have an
//! implementation ([`KernelSymbols`]).  An allowlisted name with no
//! implementation fails the load naming it (the lead adds a symbol to the
//! driver and the allowlist: the loader must grow with it), and a name
//! missing from the allowlist fails as the `kmod-check` gate would.
//! [`NOT_IMPLEMENTED`] records, with the reason, the allowlisted names
//! that have no implementation yet; `tests/coverage.rs` fails when the
//! allowlist and the implementations drift apart in either direction.
//!
//! Locks: none (the image is immutable after construction).

use std::collections::{BTreeMap, HashMap};
use std::sync::OnceLock;

use crate::elf;
use crate::shims;

/// Allowlisted symbols without an implementation, and why.
pub const NOT_IMPLEMENTED: &[(&str, &str)] = &[
    ("dupmsg", "the simulator's shared data blocks (dupb) are not reachable from a SimKernel"),
    ("putq", "the simulator keeps no q_first/q_last lists a loader could share"),
    ("getq", "as putq"),
    ("putbq", "as putq"),
    ("flushq", "as putq"),
    ("ddi_copyin", "no user address space behind a SimKernel (UserMemory is the SimHost's)"),
    ("ddi_copyout", "as ddi_copyin"),
    ("uiomove", "as ddi_copyin"),
    ("pollwakeup", "the simulator's stream head owns poll; no pollhead to wake"),
];

/// Implementations that may be missing from the allowlist, and why.
/// They are not exported to a module until `kernel/allowlist.txt` lists them.
pub const UNLISTED: &[(&str, &str)] = &[
    ("gethrestime", "announced driver change"),
];

/// The low mapping with stubs and data.
pub struct Image {
    symbols: HashMap<&'static str, usize>,
    data: HashMap<&'static str, usize>,
}

const STUB: usize = 16;

fn build() -> Image {
    let funcs = shims::table();
    let text_len = (funcs.len() * STUB).div_ceil(4096) * 4096;
    let data_len = shims::DATA.iter().map(|d| d.1.div_ceil(16) * 16).sum::<usize>().div_ceil(4096).max(1) * 4096;
    let len = text_len + data_len;
    let base = elf::map_low(len).expect("kloader: cannot map the kernel image below 2 GiB") as usize;
    let mut symbols = HashMap::new();
    let mut at = base;
    for (name, target) in funcs {
        let mut stub = [0xccu8; STUB];
        stub[..6].copy_from_slice(&[0xff, 0x25, 0, 0, 0, 0]);
        stub[6..14].copy_from_slice(&(target as u64).to_le_bytes());
        // SAFETY: [at, at + STUB) is inside the mapping.
        unsafe { std::ptr::copy_nonoverlapping(stub.as_ptr(), at as *mut u8, STUB) };
        symbols.insert(name, at);
        at += STUB;
    }
    let mut data = HashMap::new();
    let mut at = base + text_len;
    for (name, size) in shims::DATA {
        data.insert(*name, at);
        at += size.div_ceil(16) * 16;
    }
    // SAFETY: the stub pages of our mapping become read+execute.
    let rc = unsafe { libc::mprotect(base as *mut libc::c_void, text_len, libc::PROT_READ | libc::PROT_EXEC) };
    assert_eq!(rc, 0, "kloader: cannot protect the kernel image");
    Image { symbols, data }
}

/// The process's kernel image.
pub fn image() -> &'static Image {
    static IMAGE: OnceLock<Image> = OnceLock::new();
    IMAGE.get_or_init(build)
}

impl Image {
    /// The stub or data address of `name`, if the loader implements it.
    pub fn address(&self, name: &str) -> Option<usize> {
        self.symbols.get(name).or_else(|| self.data.get(name)).copied()
    }

    /// Names of every implementation (functions and data).
    pub fn names(&self) -> Vec<&'static str> {
        let mut v: Vec<&'static str> = self.symbols.keys().chain(self.data.keys()).copied().collect();
        v.sort_unstable();
        v
    }
}

/// Address of kernel data symbol `name` (0 if none).
pub fn data_address(name: &str) -> usize {
    image().data.get(name).copied().unwrap_or(0)
}

/// One allowlist file: symbol -> the header (or source) it names.
#[derive(Clone, Debug, Default)]
pub struct Allowlist(pub BTreeMap<String, String>);

impl Allowlist {
    /// Parses `symbol  path` lines; `#` starts a comment.
    pub fn parse(text: &str) -> Allowlist {
        let mut m = BTreeMap::new();
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or("").trim();
            let mut it = line.split_whitespace();
            if let Some(sym) = it.next() {
                m.insert(sym.to_owned(), it.next().unwrap_or("").to_owned());
            }
        }
        Allowlist(m)
    }

    /// Reads and parses `path`.
    pub fn read(path: &std::path::Path) -> Result<Allowlist, String> {
        std::fs::read_to_string(path)
            .map(|t| Allowlist::parse(&t))
            .map_err(|e| format!("cannot read {}: {e}", path.display()))
    }
}

/// The kernel symbol table a module links against.
pub struct KernelSymbols<'a> {
    pub allow: &'a Allowlist,
}

impl elf::Kernel for KernelSymbols<'_> {
    fn lookup(&self, name: &str) -> Result<usize, String> {
        if !self.allow.0.contains_key(name) {
            return Err("not in kernel/allowlist.txt, so the kernel does not export it to this module".into());
        }
        image().address(name).ok_or_else(|| {
            format!(
                "listed in kernel/allowlist.txt ({}) but kloader has no implementation of it",
                self.allow.0.get(name).map(String::as_str).unwrap_or("?")
            )
        })
    }
}
