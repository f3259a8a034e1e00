// SPDX-License-Identifier: MPL-2.0

//! Gates on the linked kernel module (`out/kernel/amd64/tuntap`).
//!
//! Each gate looks for one way the object would fail to load, or would
//! corrupt the host, once `modload`/`add_drv` hands it to the illumos
//! kernel runtime linker (krtld):
//!
//! | gate          | rejects                                                   |
//! |---------------|-----------------------------------------------------------|
//! | `format`      | anything but an ELF64 little-endian x86-64 `ET_REL`        |
//! | `entry`       | a missing/local/undefined `_init`, `_info` or `_fini`      |
//! | `undefined`   | an undefined symbol not in kernel/allowlist.txt            |
//! | `fpu`         | any instruction touching x87/MMX/SSE/AVX state             |
//! | `soft-float`  | calls to soft-float routines (`__adddf3`, ...)             |
//! | `relocations` | `SHT_REL` sections and any type krtld mishandles (GOT, TLS)|
//! | `unwinding`   | `.eh_frame`/`.gcc_except_table`, `_Unwind_*`, personalities|
//! | `std`         | any symbol from Rust's `std` (or a missing panic handler)  |
//!
//! The gate functions are library code so that xtask's own tests can run
//! them on small crafted objects.

use std::path::Path;

use object::Object;
use object::ObjectSection;
use object::ObjectSymbol;
use object::RelocationFlags;
use object::RelocationTarget;
use object::SymbolSection;
use object::elf;
use object::read::elf::SectionHeader;

use crate::allowlist::Allowlist;
pub use crate::findings::{Finding, Gate};
use crate::findings::{Elf, finding};
use crate::disasm;
use crate::relocs;

/// Sizes of the allocated parts of the module, in bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sizes {
    pub text: u64,
    pub rodata: u64,
    pub data: u64,
    pub bss: u64,
}

/// What the gates found in one object.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub findings: Vec<Finding>,
    pub sizes: Sizes,
    /// Undefined symbols, sorted (all of them, allowed or not).
    pub undefined: Vec<String>,
    /// The module's `_depends_on` string, when it defines one.
    pub depends_on: Option<String>,
}

impl Report {
    pub fn passed(&self) -> bool {
        self.findings.is_empty()
    }

    /// Findings from one gate.
    pub fn from_gate(&self, gate: Gate) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(move |f| f.gate == gate)
    }
}


/// Checks the ELF identification and header before any parsing that
/// assumes ELF64: class, byte order, machine and type.
pub fn check_format(data: &[u8]) -> Vec<Finding> {
    let mut found = Vec::new();
    let bad = |m: String| finding(Gate::Format, m);
    if data.len() < 64 || &data[..4] != b"\x7fELF" {
        found.push(bad(
            "not an ELF file (bad magic or shorter than an ELF64 header)".into(),
        ));
        return found;
    }
    if data[4] != elf::ELFCLASS64 {
        found.push(bad(format!("ELF class {} is not ELFCLASS64", data[4])));
    }
    if data[5] != elf::ELFDATA2LSB {
        found.push(bad(format!(
            "ELF data encoding {} is not little-endian",
            data[5]
        )));
    }
    if !found.is_empty() {
        return found;
    }
    let e_type = u16::from_le_bytes([data[16], data[17]]);
    let e_machine = u16::from_le_bytes([data[18], data[19]]);
    if e_type != elf::ET_REL {
        let kind = match e_type {
            elf::ET_EXEC => "ET_EXEC (an executable)",
            elf::ET_DYN => "ET_DYN (a shared object)",
            _ => "not ET_REL",
        };
        found.push(bad(format!(
            "e_type {e_type} is {kind}: an illumos kernel module is a relocatable \
             object (ET_REL), link it with `ld -r`"
        )));
    }
    if e_machine != elf::EM_X86_64 {
        found.push(bad(format!("e_machine {e_machine} is not EM_X86_64 (62)")));
    }
    found
}

/// `_init`, `_info` and `_fini` must be defined, global and in a section.
pub fn check_entry_points(file: &Elf<'_>) -> Vec<Finding> {
    let mut found = Vec::new();
    for name in ["_init", "_info", "_fini"] {
        let matches: Vec<_> = file
            .symbols()
            .filter(|s| s.name().is_ok_and(|n| n == name))
            .collect();
        let Some(symbol) = matches.iter().find(|s| !s.is_undefined()) else {
            let why = if matches.is_empty() {
                "missing"
            } else {
                "undefined"
            };
            found.push(finding(
                Gate::EntryPoints,
                format!(
                    "{name} is {why}: modload calls _init/_info/_fini, define it with \
                     #[unsafe(no_mangle)] pub extern \"C\" fn {name}"
                ),
            ));
            continue;
        };
        if symbol.elf_symbol().st_bind() != elf::STB_GLOBAL {
            found.push(finding(
                Gate::EntryPoints,
                format!("{name} is not a global symbol (krtld looks up global symbols)"),
            ));
        }
        if !matches!(symbol.section(), SymbolSection::Section(_)) {
            found.push(finding(
                Gate::EntryPoints,
                format!(
                    "{name} is not defined in a section ({:?})",
                    symbol.section()
                ),
            ));
        }
    }
    found
}

/// Undefined symbols, sorted and deduplicated.
pub fn undefined_symbols(file: &Elf<'_>) -> Vec<String> {
    undefined_names(file, false)
}

/// Undefined symbols (only the strong ones if `strong_only`), sorted and
/// deduplicated.
fn undefined_names(file: &Elf<'_>, strong_only: bool) -> Vec<String> {
    let mut names: Vec<String> = file
        .symbols()
        .filter(|s| s.is_undefined() && !(strong_only && s.is_weak()))
        .filter_map(|s| s.name().ok().map(str::to_owned))
        .filter(|n| !n.is_empty())
        .collect();
    names.sort();
    names.dedup();
    names
}

/// The allowlist key of a symbol some supported release lacks: the
/// module may only reference it weakly (`STB_WEAK`).  krtld lets a weak
/// undefined symbol through (`do_symbols` in
/// usr/src/uts/common/krtld/kobj.c reports only non-weak ones) and skips
/// its relocations (`do_relocate` in
/// usr/src/uts/intel/amd64/krtld/kobj_reloc.c: `continue` for a weak
/// `SHN_UNDEF`), so the reference reads as the object's own bytes, 0;
/// a strong reference fails `modload` on that release.
pub const WEAK_KEY: &str = "weak";

/// Undefined symbols referenced strongly (not `STB_WEAK`), sorted.
pub fn strong_undefined_symbols(file: &Elf<'_>) -> Vec<String> {
    undefined_names(file, true)
}

/// A symbol allowlisted with the key [`WEAK_KEY`] must not be referenced
/// strongly.
pub fn check_weak(strong: &[String], allowlist: &Allowlist) -> Vec<Finding> {
    strong
        .iter()
        .filter(|name| allowlist.get(name).is_some_and(|e| e.checked == WEAK_KEY))
        .map(|name| {
            finding(
                Gate::Undefined,
                format!(
                    "{name} is referenced strongly, but kernel/allowlist.txt marks it `{WEAK_KEY}` (a supported \
                     release lacks it): krtld fails the load where a non-weak symbol is missing (kobj.c \
                     do_symbols); reference it with `.weak {name}`"
                ),
            )
        })
        .collect()
}

/// Every relocation against an undefined weak symbol must be an absolute
/// `R_X86_64_64` with addend 0 in a data section: where the symbol is
/// absent krtld *skips* the relocation (`do_relocate` in
/// usr/src/uts/intel/amd64/krtld/kobj_reloc.c: `continue` for a weak
/// `SHN_UNDEF`), so the field keeps the bytes the assembler left, which
/// read as 0 only for that form.  A PC-relative reference (`call`,
/// `lea sym(%rip)`) would leave a rel32 of 0, i.e. the next instruction,
/// and the module would take the missing symbol for present.
pub fn check_weak_relocations(file: &Elf<'_>) -> Vec<Finding> {
    let endian = file.endian();
    let mut found = Vec::new();
    for section in file.sections() {
        let flags = section.elf_section_header().sh_flags(endian);
        if flags & u64::from(elf::SHF_ALLOC) == 0 {
            continue;
        }
        let exec = flags & u64::from(elf::SHF_EXECINSTR) != 0;
        let name = section.name().unwrap_or("?");
        for (offset, relocation) in section.relocations() {
            let RelocationTarget::Symbol(index) = relocation.target() else { continue };
            let Ok(symbol) = file.symbol_by_index(index) else { continue };
            if !(symbol.is_undefined() && symbol.is_weak()) {
                continue;
            }
            let RelocationFlags::Elf { r_type } = relocation.flags() else { continue };
            if r_type != elf::R_X86_64_64 || relocation.addend() != 0 || exec {
                found.push(finding(
                    Gate::Relocations,
                    format!(
                        "{} against the weak symbol {} in {name}+{offset:#x} (addend {}): where the symbol is \
                         missing krtld skips the relocation (kobj_reloc.c do_relocate), so only an absolute \
                         8-byte data word with addend 0 reads as 0; take the address into such a word (.quad)",
                        relocs::name(r_type),
                        symbol.name().unwrap_or("?"),
                        relocation.addend(),
                    ),
                ));
            }
        }
    }
    found
}

/// Prefix of DTrace SDT probe calls, which krtld turns into probe sites
/// rather than resolving (kobj_reloc.c: `sdt_reloc_resolve`).
pub const SDT_PROBE_PREFIX: &str = "__dtrace_probe_";

/// Every undefined symbol must be allowlisted (or be an SDT probe).
pub fn check_undefined(undefined: &[String], allowlist: &Allowlist) -> Vec<Finding> {
    undefined
        .iter()
        .filter(|name| !allowlist.contains(name) && !name.starts_with(SDT_PROBE_PREFIX))
        .map(|name| {
            if name == "_GLOBAL_OFFSET_TABLE_" {
                return finding(
                    Gate::Undefined,
                    "undefined symbol _GLOBAL_OFFSET_TABLE_: the code was built to use a \
                     GOT (position-independent), which krtld never builds; see the \
                     relocations gate",
                );
            }
            finding(
                Gate::Undefined,
                format!(
                    "undefined symbol {name} is not in the allowlist (kernel/allowlist.txt); if it is a \
                     real illumos kernel interface, add `{name}  usr/src/.../header.h` \
                     after checking illumos-gate, otherwise remove the call"
                ),
            )
        })
        .collect()
}

fn section_name(file: &Elf<'_>, index: object::SectionIndex) -> String {
    file.section_by_index(index)
        .ok()
        .and_then(|s| s.name().ok().map(str::to_owned))
        .unwrap_or_else(|| format!("section #{}", index.0))
}

/// Name of a relocation's target, for messages.
fn target_name(file: &Elf<'_>, target: RelocationTarget) -> String {
    match target {
        RelocationTarget::Symbol(index) => match file.symbol_by_index(index) {
            Ok(sym) => match sym.name() {
                Ok(name) if !name.is_empty() => name.to_owned(),
                _ => match sym.section() {
                    SymbolSection::Section(sec) => section_name(file, sec),
                    other => format!("{other:?}"),
                },
            },
            Err(_) => format!("symbol #{}", index.0),
        },
        RelocationTarget::Section(index) => section_name(file, index),
        RelocationTarget::Absolute => "(absolute)".into(),
        _ => "(unknown target)".into(),
    }
}

/// Relocations: only `SHT_RELA`, and only types krtld applies correctly
/// in the sections it loads (krtld skips relocations for sections without
/// `SHF_ALLOC`, such as DWARF).
pub fn check_relocations(file: &Elf<'_>) -> Vec<Finding> {
    let endian = file.endian();
    let mut found = Vec::new();
    for section in file.sections() {
        let header = section.elf_section_header();
        if header.sh_type(endian) == elf::SHT_REL {
            found.push(finding(
                Gate::Relocations,
                format!(
                    "section {} is SHT_REL; krtld only processes SHT_RELA",
                    section.name().unwrap_or("?")
                ),
            ));
        }
    }
    for section in file.sections() {
        let flags = section.elf_section_header().sh_flags(endian);
        if flags & u64::from(elf::SHF_ALLOC) == 0 {
            continue;
        }
        let name = section.name().unwrap_or("?");
        for (offset, relocation) in section.relocations() {
            let RelocationFlags::Elf { r_type } = relocation.flags() else {
                continue;
            };
            if let relocs::Verdict::Rejected(why) = relocs::verdict(r_type) {
                found.push(finding(
                    Gate::Relocations,
                    format!(
                        "{} against {} in {name}+{offset:#x}: {why}",
                        relocs::name(r_type),
                        target_name(file, relocation.target()),
                    ),
                ));
            }
        }
    }
    found
}

const UNWIND_SECTIONS: &[&str] = &[".eh_frame", ".eh_frame_hdr", ".rela.eh_frame"];
const UNWIND_SYMBOL_PREFIXES: &[&str] = &[
    "_Unwind_",
    "__gcc_personality",
    "rust_eh_personality",
    "__cxa_",
    "_ZN6unwind",
    "__register_frame",
];

/// No unwinding tables and no unwinder: the kernel has neither, and with
/// panic=abort nothing should need them.
pub fn check_unwinding(file: &Elf<'_>) -> Vec<Finding> {
    let mut found = Vec::new();
    for section in file.sections() {
        let name = section.name().unwrap_or("");
        if UNWIND_SECTIONS.contains(&name) || name.starts_with(".gcc_except_table") {
            found.push(finding(
                Gate::Unwinding,
                format!(
                    "section {name} present: unwind tables are dead weight in the kernel \
                     (build with panic=abort and -Cforce-unwind-tables=no, or strip it)"
                ),
            ));
        }
    }
    for symbol in file.symbols() {
        let Ok(name) = symbol.name() else { continue };
        if UNWIND_SYMBOL_PREFIXES.iter().any(|p| name.starts_with(p)) {
            let how = if symbol.is_undefined() {
                "references"
            } else {
                "defines"
            };
            found.push(finding(
                Gate::Unwinding,
                format!("module {how} unwinding symbol {name}"),
            ));
        }
    }
    found
}

/// True when a demangled Rust path mentions the crate `krate` as a path
/// root (`std::...`, `<std::...`, `&std::...`), not as part of a longer
/// identifier (`my_std::...`).
fn mentions_crate(demangled: &str, krate: &str) -> bool {
    let needle = format!("{krate}::");
    demangled.match_indices(&needle).any(|(pos, _)| {
        demangled[..pos]
            .chars()
            .next_back()
            .is_none_or(|c| !(c.is_alphanumeric() || c == '_'))
    })
}

/// No Rust `std` (or `panic_unwind`) code, and a panic handler present.
pub fn check_no_std(file: &Elf<'_>) -> Vec<Finding> {
    let mut found = Vec::new();
    let mut reported = std::collections::BTreeSet::new();
    for symbol in file.symbols() {
        let Ok(name) = symbol.name() else { continue };
        if name.is_empty() {
            continue;
        }
        let demangled = format!("{:#}", rustc_demangle::demangle(name));
        // Newer rustc mangles the panic handler as `__rustc::rust_begin_unwind`.
        if symbol.is_undefined() && demangled.ends_with("rust_begin_unwind") {
            found.push(finding(
                Gate::Std,
                "rust_begin_unwind is undefined: the crate has no #[panic_handler] \
                 (the kernel module must provide one that calls cmn_err and panic)",
            ));
            continue;
        }
        for krate in ["std", "panic_unwind"] {
            if mentions_crate(&demangled, krate) && reported.insert(name.to_owned()) {
                found.push(finding(
                    Gate::Std,
                    format!("symbol {name} ({demangled}) comes from Rust's `{krate}` crate"),
                ));
            }
        }
    }
    found
}

/// Sizes of the allocated sections, by kind.
pub fn section_sizes(file: &Elf<'_>) -> Sizes {
    let endian = file.endian();
    let mut sizes = Sizes::default();
    for section in file.sections() {
        let header = section.elf_section_header();
        let flags = header.sh_flags(endian);
        if flags & u64::from(elf::SHF_ALLOC) == 0 {
            continue;
        }
        let size = header.sh_size(endian);
        if header.sh_type(endian) == elf::SHT_NOBITS {
            sizes.bss += size;
        } else if flags & u64::from(elf::SHF_EXECINSTR) != 0 {
            sizes.text += size;
        } else if flags & u64::from(elf::SHF_WRITE) != 0 {
            sizes.data += size;
        } else {
            sizes.rodata += size;
        }
    }
    sizes
}

/// The module's `_depends_on` string (krtld's fallback dependency list,
/// used when the object has no DT_NEEDED entries), if defined.
pub fn depends_on(file: &Elf<'_>) -> Option<Result<String, String>> {
    let symbol = file
        .symbols()
        .find(|s| s.name().is_ok_and(|n| n == "_depends_on"))?;
    if symbol.is_undefined() {
        return Some(Err("_depends_on is undefined".into()));
    }
    let SymbolSection::Section(index) = symbol.section() else {
        return Some(Err("_depends_on is not in a section".into()));
    };
    let bytes = file
        .section_by_index(index)
        .ok()
        .and_then(|s| s.data().ok())
        .and_then(|data| {
            let start = usize::try_from(symbol.address()).ok()?;
            let len = usize::try_from(symbol.size()).ok()?;
            data.get(start..start.checked_add(len)?)
        });
    Some(match bytes {
        Some([text @ .., 0]) => Ok(String::from_utf8_lossy(text).into_owned()),
        Some(_) => Err("_depends_on is not NUL-terminated (krtld rejects it)".into()),
        None => Err("_depends_on has no readable contents".into()),
    })
}

/// Runs every gate on the object at `path`.
pub fn check_module(path: &Path, allowlist: &Allowlist) -> Result<Report, String> {
    let data = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut report = Report {
        findings: check_format(&data),
        ..Report::default()
    };
    if !report.findings.is_empty() {
        return Ok(report);
    }
    let file =
        Elf::parse(&*data).map_err(|e| format!("cannot parse {} as ELF64: {e}", path.display()))?;
    report.findings.extend(check_entry_points(&file));
    report.undefined = undefined_symbols(&file);
    report
        .findings
        .extend(check_undefined(&report.undefined, allowlist));
    report
        .findings
        .extend(check_weak(&strong_undefined_symbols(&file), allowlist));
    for fpu in disasm::scan_object(path)? {
        report.findings.push(finding(
            Gate::Fpu,
            format!(
                "{} in {} at {:#}: `{}`",
                fpu.reason, fpu.function, fpu.address, fpu.instruction
            ),
        ));
    }
    report
        .findings
        .extend(crate::softfloat::check_soft_float(&file));
    report.findings.extend(check_relocations(&file));
    report.findings.extend(check_weak_relocations(&file));
    report.findings.extend(crate::probes::check_probe_sites(&file, &data));
    report.findings.extend(check_unwinding(&file));
    report.findings.extend(check_no_std(&file));
    report.sizes = section_sizes(&file);
    match depends_on(&file) {
        Some(Ok(deps)) => report.depends_on = Some(deps),
        Some(Err(why)) => report.findings.push(finding(Gate::Format, why)),
        None => {}
    }
    report.findings.sort_by_key(|f| f.gate);
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crate_mentions_need_a_path_boundary() {
        assert!(mentions_crate("std::io::stdio::_print", "std"));
        assert!(mentions_crate(
            "<std::sys::Foo as core::fmt::Debug>::fmt",
            "std"
        ));
        assert!(mentions_crate(
            "core::ptr::drop_in_place<&std::ffi::OsStr>",
            "std"
        ));
        assert!(!mentions_crate("my_std::thing", "std"));
        assert!(!mentions_crate("core::fmt::write", "std"));
    }

    #[test]
    fn demangled_legacy_and_v0_std_symbols_are_found() {
        let legacy = format!(
            "{:#}",
            rustc_demangle::demangle("_ZN3std2io5stdio6_print17h0123456789abcdefE")
        );
        assert!(mentions_crate(&legacy, "std"), "{legacy}");
        let v0 = format!(
            "{:#}",
            rustc_demangle::demangle("_RNvNtNtCsjrHSEGnQ3l9_3std2io5stdio6__print")
        );
        assert!(mentions_crate(&v0, "std"), "{v0}");
    }

    #[test]
    fn format_gate_names_the_problem() {
        assert!(
            check_format(b"not an elf")[0]
                .message
                .contains("not an ELF")
        );
        let mut header = vec![0u8; 64];
        header[..4].copy_from_slice(b"\x7fELF");
        header[4] = elf::ELFCLASS64;
        header[5] = elf::ELFDATA2LSB;
        header[16..18].copy_from_slice(&elf::ET_DYN.to_le_bytes());
        header[18..20].copy_from_slice(&elf::EM_X86_64.to_le_bytes());
        let found = check_format(&header);
        assert_eq!(found.len(), 1);
        assert!(found[0].message.contains("ET_DYN"), "{}", found[0].message);
        header[4] = elf::ELFCLASS32;
        assert!(check_format(&header)[0].message.contains("ELFCLASS64"));
    }
}
