// SPDX-License-Identifier: MPL-2.0

//! The krtld part: map a relocatable module into the low 2 GiB, resolve
//! its symbols, apply its relocations, patch its DTrace probe sites.
//!
//! Theory statement.  [`load`] does for one `ET_REL` object what illumos
//! krtld does (illumos-gate `usr/src/uts/common/krtld/kobj.c` and
//! `usr/src/uts/intel/amd64/krtld/kobj_reloc.c`, read for this):
//!
//! * every `SHF_ALLOC` section is placed in one mapping made with
//!   `MAP_32BIT` (Linux: the first 2 GiB), so the kernel code model's
//!   sign-extended 32-bit absolute addresses (`R_X86_64_32S`) and
//!   rel32 calls reach everything; text, read-only data and writable data
//!   each start on a page of their own and get `R-X`, `R--`, `RW-` once
//!   relocated, so a write into `.rodata` or `.text` faults;
//! * `SHT_REL` sections fail the load, as in `do_relocations()`; RELA
//!   sections against non-allocated sections are skipped;
//! * a relocation type outside the set `kernel/RELOCATIONS.md` accepts
//!   fails the load naming the type (krtld would write garbage or refuse);
//!   32-bit results are range-checked like `do_reloc_krtld()`;
//! * an undefined global is looked up first among `__dtrace_probe_*`
//!   (patched as `sdt_reloc_resolve()` does: the 5-byte call becomes NOPs,
//!   a tail jump becomes four NOPs and a RET; in [`Krtld::Old`] mode, the
//!   one that wrote five NOPs whatever the opcode, a tail-jump site fails
//!   the load because execution would fall through), then in the modules
//!   named by the module's `_depends_on` (kobj.c `depends_on()`), then in
//!   the kernel's symbol table the caller passes ([`Kernel`]); anything
//!   else fails the load with its name ("not found", as krtld prints).  An undefined weak symbol
//!   the kernel lacks is not written at all: its relocations are skipped
//!   (kobj_reloc.c `do_relocate`), so the field keeps the object's bytes.
//!
//! Locks: none; a [`Module`] owns its mapping and unmaps it when dropped.

use std::collections::BTreeMap;

use object::elf;
use object::read::elf::{ElfFile64, FileHeader, Rela, SectionHeader, Sym};
use object::{Endianness, Object, ObjectSection, ObjectSymbol};

use crate::kstack::PAGESIZE;

/// Which krtld the probe patching imitates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Krtld {
    /// Current illumos: a tail-jump probe site gets a RET.
    Current,
    /// Older krtld: five NOPs whatever the instruction was.
    Old,
}

/// Where undefined kernel symbols come from.
pub trait Kernel {
    /// The address of kernel symbol `name`, or an explanation of why the
    /// kernel does not export it.
    fn lookup(&self, name: &str) -> Result<usize, String>;
}

/// A DTrace probe site krtld patched.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProbeSite {
    /// The probe name after `__dtrace_probe_`.
    pub name: String,
    /// Address of the patched instruction's first byte.
    pub addr: usize,
    /// It was a tail jump (now NOP NOP NOP NOP RET).
    pub tail_call: bool,
}

/// One loaded module.
pub struct Module {
    /// The module name (`tuntap`, `tun`).
    pub name: String,
    base: *mut u8,
    len: usize,
    /// Defined global symbols and their run-time addresses.
    pub globals: BTreeMap<String, usize>,
    /// Defined function symbols (local and global), by address.
    pub functions: BTreeMap<usize, (String, usize)>,
    /// The modules `_depends_on` names (e.g. `drv/tuntap`).
    pub depends_on: Vec<String>,
    /// The probe sites found.
    pub probes: Vec<ProbeSite>,
    /// Kernel symbols this module was bound to.
    pub imports: Vec<String>,
}

// SAFETY: the mapping is plain memory owned by the Module.
unsafe impl Send for Module {}
// SAFETY: as above; the Module itself is never mutated after load.
unsafe impl Sync for Module {}

impl Drop for Module {
    fn drop(&mut self) {
        // SAFETY: base/len are the one mapping load() made for this module.
        unsafe { libc::munmap(self.base.cast(), self.len) };
    }
}

impl Module {
    /// The address of global `name`.
    pub fn symbol(&self, name: &str) -> Option<usize> {
        self.globals.get(name).copied()
    }

    /// The function containing `addr`, for messages.
    pub fn function_at(&self, addr: usize) -> Option<&str> {
        let (start, (name, size)) = self.functions.range(..=addr).next_back()?;
        (addr < start + (*size).max(1)).then_some(name.as_str())
    }

    /// Does `addr` lie in this module's mapping?
    pub fn contains(&self, addr: usize) -> bool {
        let b = self.base as usize;
        addr >= b && addr < b + self.len
    }
}

const SDT_PREFIX: &str = "__dtrace_probe_";
// x86 opcodes sdt_reloc_resolve() writes or tests (kobj_reloc.c).
const OP_CALL: u8 = 0xe8;
const OP_JMP: u8 = 0xe9;
const OP_NOP: u8 = 0x90;
const OP_RET: u8 = 0xc3;

fn round_up(v: usize, a: usize) -> usize {
    let a = a.max(1);
    v.div_ceil(a) * a
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Class {
    Text,
    RoData,
    Data,
}

/// Loads `data` (the bytes of module `name`) against the modules already
/// loaded and the kernel's symbols.  `from_deps` lists the symbols the
/// module may take from the modules its `_depends_on` names (what
/// `kernel/allowlist-tun.txt` allows `tun`); any other symbol found there
/// fails the load, as the `kmod-check` gate would.
pub fn load(
    name: &str,
    data: &[u8],
    loaded: &[&Module],
    from_deps: &[&str],
    kernel: &dyn Kernel,
    krtld: Krtld,
) -> Result<Module, String> {
    let m = |e: String| format!("{name}: {e}");
    let file = ElfFile64::<Endianness>::parse(data).map_err(|e| m(format!("not an ELF64 object: {e}")))?;
    let endian = file.endian();
    let hdr = file.elf_header();
    if hdr.e_type(endian) != elf::ET_REL {
        return Err(m("not a relocatable object (ET_REL)".into()));
    }
    if hdr.e_machine(endian) != elf::EM_X86_64 || !file.is_little_endian() {
        return Err(m("not a little-endian x86-64 object".into()));
    }
    let sections = file.elf_section_table();
    // 1. Layout.
    let mut place: BTreeMap<usize, usize> = BTreeMap::new(); // section index -> offset
    let mut order: Vec<(Class, usize, u64, u64, bool)> = Vec::new();
    for (i, sh) in sections.iter().enumerate() {
        let flags = sh.sh_flags(endian);
        if sh.sh_type(endian) == elf::SHT_REL {
            return Err(m(format!("section {i} is SHT_REL: krtld can't process type SHT_REL")));
        }
        if flags & u64::from(elf::SHF_ALLOC) == 0 || sh.sh_size(endian) == 0 {
            continue;
        }
        let class = if flags & u64::from(elf::SHF_EXECINSTR) != 0 {
            Class::Text
        } else if flags & u64::from(elf::SHF_WRITE) != 0 {
            Class::Data
        } else {
            Class::RoData
        };
        let nobits = sh.sh_type(endian) == elf::SHT_NOBITS;
        order.push((class, i, sh.sh_size(endian), sh.sh_addralign(endian), nobits));
    }
    order.sort_by_key(|o| (o.0, o.1));
    let mut off = 0usize;
    let mut ranges: Vec<(Class, usize, usize)> = Vec::new();
    let mut prev: Option<Class> = None;
    for (class, i, size, align, _) in &order {
        if prev != Some(*class) {
            off = round_up(off, PAGESIZE);
            ranges.push((*class, off, off));
        }
        prev = Some(*class);
        off = round_up(off, *align as usize);
        place.insert(*i, off);
        off += *size as usize;
        if let Some(r) = ranges.last_mut() {
            r.2 = off;
        }
    }
    let len = round_up(off.max(1), PAGESIZE);
    let base = map_low(len).ok_or_else(|| m(format!("cannot map {len} bytes below 2 GiB")))?;
    let mut module = Module {
        name: name.to_owned(),
        base,
        len,
        globals: BTreeMap::new(),
        functions: BTreeMap::new(),
        depends_on: Vec::new(),
        probes: Vec::new(),
        imports: Vec::new(),
    };
    let base = base as usize;
    if base + len > 0x8000_0000 {
        return Err(m(format!("mapping at {base:#x} is not below 2 GiB")));
    }
    for (class, i, size, _, nobits) in &order {
        if *nobits {
            continue; // anonymous memory is zeroed: .bss
        }
        let _ = class;
        let sh = sections.section(object::SectionIndex(*i)).map_err(|e| m(e.to_string()))?;
        let bytes = sh.data(endian, data).map_err(|e| m(format!("section {i}: {e}")))?;
        let at = base + place[i];
        // SAFETY: [at, at + size) lies inside the mapping made above.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), at as *mut u8, (*size as usize).min(bytes.len())) };
    }
    // 2. Symbols.
    let symtab = file.elf_symbol_table();
    let strings = symtab.strings();
    let mut sym_addr: Vec<Option<usize>> = Vec::with_capacity(symtab.len());
    let mut undefined: BTreeMap<usize, (String, bool)> = BTreeMap::new();
    for (idx, s) in symtab.iter().enumerate() {
        let sname = String::from_utf8_lossy(s.name(endian, strings).unwrap_or(b"")).into_owned();
        let shndx = s.st_shndx(endian);
        let value = s.st_value(endian) as usize;
        let addr = match shndx {
            elf::SHN_UNDEF => None,
            elf::SHN_ABS => Some(value),
            elf::SHN_COMMON => return Err(m(format!("COMMON symbol {sname}: not produced by ld -r here"))),
            _ => place.get(&(shndx as usize)).map(|o| base + o + value),
        };
        if idx > 0 && shndx == elf::SHN_UNDEF {
            undefined.insert(idx, (sname.clone(), s.st_bind() == elf::STB_WEAK));
        }
        if let Some(a) = addr
            && shndx != elf::SHN_UNDEF
        {
            if s.st_bind() != elf::STB_LOCAL && !sname.is_empty() {
                module.globals.insert(sname.clone(), a);
            }
            if s.st_type() == elf::STT_FUNC {
                module.functions.insert(a, (sname.clone(), s.st_size(endian) as usize));
            }
        }
        sym_addr.push(addr);
    }
    // _depends_on (kobj.c depends_on(): a NUL-terminated, space-separated list).
    if let Some(sym) = file.symbols().find(|s| s.name() == Ok("_depends_on") && !s.is_undefined()) {
        let sec = sym.section_index().ok_or_else(|| m("_depends_on has no section".into()))?;
        let sdata = file.section_by_index(sec).and_then(|s| s.data()).map_err(|e| m(e.to_string()))?;
        let start = sym.address() as usize;
        let bytes = sdata.get(start..start + sym.size() as usize).ok_or_else(|| m("_depends_on out of its section".into()))?;
        let nul = bytes.iter().position(|b| *b == 0).ok_or_else(|| m("_depends_on is not NUL-terminated".into()))?;
        let text = String::from_utf8_lossy(&bytes[..nul]);
        module.depends_on = text.split_whitespace().map(str::to_owned).collect();
    }
    let deps: Vec<&Module> = module
        .depends_on
        .iter()
        .filter_map(|d| {
            let short = d.rsplit('/').next().unwrap_or(d);
            loaded.iter().copied().find(|l| l.name == short)
        })
        .collect();
    // Resolve undefined symbols that are not probes.
    let mut missing = Vec::new();
    // Weak symbols the kernel lacks: their relocations are skipped.
    let mut absent_weak = std::collections::BTreeSet::new();
    for (idx, (sname, weak)) in &undefined {
        if sname.starts_with(SDT_PREFIX) {
            continue;
        }
        if let Some((d, a)) = deps.iter().find_map(|d| d.symbol(sname).map(|a| (d, a))) {
            if !from_deps.contains(&sname.as_str()) {
                missing.push(format!(
                    "{sname} resolves to module {} but is not in the allowlist of symbols {name} may take from it",
                    d.name
                ));
                continue;
            }
            sym_addr[*idx] = Some(a);
            continue;
        }
        match kernel.lookup(sname) {
            Ok(a) => {
                sym_addr[*idx] = Some(a);
                module.imports.push(sname.clone());
            }
            Err(_) if *weak => {
                absent_weak.insert(*idx);
            }
            Err(why) => missing.push(format!("not found: {sname} ({why})")),
        }
    }
    if !missing.is_empty() {
        return Err(m(missing.join("; ")));
    }
    // 3. Relocations.
    for (ri, rsh) in sections.iter().enumerate() {
        if rsh.sh_type(endian) != elf::SHT_RELA {
            continue;
        }
        let target = rsh.sh_info(endian) as usize;
        let Some(toff) = place.get(&target).copied() else {
            continue; // not allocated: krtld skips it
        };
        let relas = rsh
            .data_as_array::<elf::Rela64<Endianness>, _>(endian, data)
            .map_err(|e| m(format!("section {ri}: {e}")))?;
        for r in relas {
            let rtype = r.r_type(endian, false);
            let sidx = r.r_sym(endian, false) as usize;
            let p = base + toff + r.r_offset(endian) as usize;
            let addend = r.r_addend(endian);
            if rtype == elf::R_X86_64_NONE {
                continue;
            }
            // krtld leaves the field as the object has it for a weak
            // symbol nobody defines (kobj_reloc.c do_relocate: `continue`
            // for a weak SHN_UNDEF), it does not write S + A with S = 0.
            if absent_weak.contains(&sidx) {
                continue;
            }
            if let Some((sname, _)) = undefined.get(&sidx)
                && let Some(probe) = sname.strip_prefix(SDT_PREFIX)
            {
                let site = patch_probe(p, probe, rtype, krtld, &module).map_err(&m)?;
                module.probes.push(site);
                continue;
            }
            let s = sym_addr
                .get(sidx)
                .copied()
                .flatten()
                .ok_or_else(|| m(format!("relocation at {p:#x} names symbol {sidx} with no address")))?;
            let v = (s as i64).wrapping_add(addend);
            apply(rtype, p, v).map_err(|e| {
                let sname = undefined.get(&sidx).map(|u| u.0.clone()).unwrap_or_else(|| format!("#{sidx}"));
                m(format!("{e} (symbol {sname}, at {})", module.function_at(p).unwrap_or("?")))
            })?;
        }
    }
    // 4. Protections.
    for (class, start, end) in &ranges {
        let prot = match class {
            Class::Text => libc::PROT_READ | libc::PROT_EXEC,
            Class::RoData => libc::PROT_READ,
            Class::Data => libc::PROT_READ | libc::PROT_WRITE,
        };
        let lo = base + start;
        let hi = base + round_up(*end, PAGESIZE);
        // SAFETY: page range inside our mapping.
        if unsafe { libc::mprotect(lo as *mut libc::c_void, hi - lo, prot) } != 0 {
            return Err(m("mprotect failed".into()));
        }
    }
    Ok(module)
}

fn patch_probe(p: usize, probe: &str, rtype: u32, krtld: Krtld, module: &Module) -> Result<ProbeSite, String> {
    if rtype != elf::R_X86_64_PLT32 && rtype != elf::R_X86_64_PC32 {
        return Err(format!(
            "probe __dtrace_probe_{probe}: relocation type {rtype} is not a call/jmp rel32 (its address is taken?)"
        ));
    }
    // SAFETY: p - 1 .. p + 4 lie in the text section being relocated
    // (the rel32 field of a 5-byte call/jmp and its opcode).
    let op = unsafe { *((p - 1) as *const u8) };
    let tail_call = op != OP_CALL;
    if tail_call && op != OP_JMP {
        return Err(format!(
            "probe __dtrace_probe_{probe} in {}: opcode {op:#04x} before the site is neither call nor jmp",
            module.function_at(p).unwrap_or("?")
        ));
    }
    if tail_call && krtld == Krtld::Old {
        return Err(format!(
            "probe __dtrace_probe_{probe} in {} is a tail jump (jmp, not call): the old krtld patches \
             it to five NOPs and execution falls through past the end of the function",
            module.function_at(p).unwrap_or("?")
        ));
    }
    let bytes = [OP_NOP, OP_NOP, OP_NOP, OP_NOP, if tail_call { OP_RET } else { OP_NOP }];
    // SAFETY: the five bytes of the call/jmp instruction (see above).
    unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), (p - 1) as *mut u8, 5) };
    Ok(ProbeSite { name: probe.to_owned(), addr: p - 1, tail_call })
}

/// The relocation types kernel/RELOCATIONS.md accepts, and their names.
pub const ACCEPTED: &[(u32, &str)] = &[
    (elf::R_X86_64_64, "R_X86_64_64"),
    (elf::R_X86_64_PC32, "R_X86_64_PC32"),
    (elf::R_X86_64_PLT32, "R_X86_64_PLT32"),
    (elf::R_X86_64_32, "R_X86_64_32"),
    (elf::R_X86_64_32S, "R_X86_64_32S"),
    (elf::R_X86_64_16, "R_X86_64_16"),
    (elf::R_X86_64_PC16, "R_X86_64_PC16"),
    (elf::R_X86_64_8, "R_X86_64_8"),
    (elf::R_X86_64_PC8, "R_X86_64_PC8"),
    (elf::R_X86_64_PC64, "R_X86_64_PC64"),
];

/// Writes relocation `rtype` with value `v` (S + A) at `p`.
fn apply(rtype: u32, p: usize, v: i64) -> Result<(), String> {
    let pc = v.wrapping_sub(p as i64);
    // SAFETY (each write): p is inside the section being relocated, which
    // lies inside the module's writable mapping; unaligned writes.
    unsafe {
        match rtype {
            elf::R_X86_64_64 => std::ptr::write_unaligned(p as *mut i64, v),
            elf::R_X86_64_PC64 => std::ptr::write_unaligned(p as *mut i64, pc),
            elf::R_X86_64_PC32 | elf::R_X86_64_PLT32 => {
                let w = i32::try_from(pc).map_err(|_| format!("relocation type {rtype} at {p:#x}: value {pc:#x} does not fit (sign-extended 32 bits)"))?;
                std::ptr::write_unaligned(p as *mut i32, w)
            }
            elf::R_X86_64_32 => {
                let w = u32::try_from(v).map_err(|_| format!("R_X86_64_32 at {p:#x}: value {v:#x} does not fit (zero-extended 32 bits)"))?;
                std::ptr::write_unaligned(p as *mut u32, w)
            }
            elf::R_X86_64_32S => {
                let w = i32::try_from(v).map_err(|_| format!("R_X86_64_32S at {p:#x}: value {v:#x} does not fit (sign-extended 32 bits)"))?;
                std::ptr::write_unaligned(p as *mut i32, w)
            }
            elf::R_X86_64_16 => std::ptr::write_unaligned(p as *mut u16, v as u16),
            elf::R_X86_64_PC16 => std::ptr::write_unaligned(p as *mut u16, pc as u16),
            elf::R_X86_64_8 => std::ptr::write_unaligned(p as *mut u8, v as u8),
            elf::R_X86_64_PC8 => std::ptr::write_unaligned(p as *mut u8, pc as u8),
            other => {
                return Err(format!(
                    "relocation type {other} at {p:#x} is not one krtld applies correctly (kernel/RELOCATIONS.md)"
                ));
            }
        }
    }
    Ok(())
}

/// A fresh read-write anonymous mapping of `len` bytes in the first
/// 2 GiB (`MAP_32BIT`), where the kernel code model's 32-bit addresses
/// reach; `None` when there is no room.
pub(crate) fn map_low(len: usize) -> Option<*mut u8> {
    // SAFETY: a fresh anonymous mapping; it touches no existing memory.
    let base = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_32BIT,
            -1,
            0,
        )
    };
    (base != libc::MAP_FAILED).then(|| base.cast())
}
