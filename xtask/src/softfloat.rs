// SPDX-License-Identifier: MPL-2.0

//! The no-floating-point gate: no driver code may call a soft-float
//! routine.
//!
//! The kernel target is soft-float (kernel/x86_64-illumos-kernel.json), so
//! Rust `f32`/`f64`/`f16`/`f128` arithmetic does not touch the FPU at all:
//! rustc lowers it to calls to compiler-builtins routines (`__adddf3`,
//! `__floatundidf`, `__gtdf2`, ...), which `ld -r -u _init` then links into
//! the module as *defined* symbols.  The `undefined` gate never sees them
//! and the `fpu` gate finds no x87/SSE instruction, yet the driver is doing
//! floating point, which has no place in a network driver.
//!
//! compiler_builtins is one object, so once any of its members is needed
//! the whole of it (every soft-float routine, and libm functions that call
//! them) may be linked in with nobody in the driver calling them.  The gate
//! therefore rejects *calls*: a relocation (in a loaded section) that
//! targets a soft-float routine from a function that is not itself part of
//! compiler_builtins (a `compiler_builtins::` Rust symbol, or one of the
//! weak hidden C-named symbols it exports: `__adddf3`, `fminf`, `sqrt`...).  A soft-float routine that is referenced but not
//! defined is rejected too.  A defined routine without such a caller is
//! dead weight, not floating point in the driver, and passes.

use std::collections::BTreeSet;

use object::Object;
use object::ObjectSection;
use object::ObjectSymbol;
use object::RelocationFlags;
use object::RelocationTarget;
use object::SectionIndex;
use object::SymbolKind;
use object::SymbolSection;
use object::elf;
use object::read::elf::SectionHeader;

use crate::findings::{Elf, Finding, Gate};


/// Float modes in libgcc/compiler-rt names: `h` f16, `s` f32, `d` f64,
/// `x` x87 80-bit, `t` f128.
const FLOAT_MODES: &[&str] = &["h", "s", "d", "x", "t"];
/// Integer modes: `s` 32-bit, `d` 64-bit, `t` 128-bit.
const INT_MODES: &[&str] = &["s", "d", "t"];

/// Every libgcc/compiler-rt soft-float routine name, sorted: arithmetic,
/// negation, int<->float conversions, float<->float conversions,
/// comparisons, `powi`, complex multiply/divide, and the f16 helpers.
pub fn soft_float_routines() -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for f in FLOAT_MODES {
        for op in ["add", "sub", "mul", "div"] {
            names.insert(format!("__{op}{f}f3"));
        }
        names.insert(format!("__neg{f}f2"));
        names.insert(format!("__powi{f}f2"));
        names.insert(format!("__mul{f}c3"));
        names.insert(format!("__div{f}c3"));
        for cmp in ["eq", "ne", "lt", "le", "gt", "ge", "unord", "cmp"] {
            names.insert(format!("__{cmp}{f}f2"));
        }
        for i in INT_MODES {
            names.insert(format!("__float{i}i{f}f"));
            names.insert(format!("__floatun{i}i{f}f"));
            names.insert(format!("__fix{f}f{i}i"));
            names.insert(format!("__fixuns{f}f{i}i"));
        }
        for g in FLOAT_MODES {
            if f != g {
                names.insert(format!("__extend{f}f{g}f2"));
                names.insert(format!("__trunc{f}f{g}f2"));
            }
        }
    }
    names.insert("__gnu_h2f_ieee".to_owned());
    names.insert("__gnu_f2h_ieee".to_owned());
    names
}

/// Demangled form of a symbol name (`{:#}`: without the hash).
fn demangle(name: &str) -> String {
    format!("{:#}", rustc_demangle::demangle(name))
}

/// The soft-float routine `name` is, if any: the C name itself, or
/// compiler_builtins' Rust implementation behind it
/// (`compiler_builtins::float::add::__adddf3`).
fn routine_name(name: &str, routines: &BTreeSet<String>) -> Option<String> {
    if routines.contains(name) {
        return Some(name.to_owned());
    }
    let demangled = demangle(name);
    if !demangled.starts_with("compiler_builtins::") {
        return None;
    }
    let last = demangled.rsplit("::").next()?;
    routines.contains(last).then(|| last.to_owned())
}

/// True when `name` is compiler_builtins code: a soft-float routine or a
/// Rust symbol of the compiler_builtins crate (its libm, its integer
/// helpers...).  Calls from there are the library's own business.
fn is_builtins(name: &str, routines: &BTreeSet<String>) -> bool {
    let demangled = demangle(name);
    routines.contains(name)
        || demangled.starts_with("compiler_builtins::")
        // Trait impls: `<u32 as compiler_builtins::int::Int>::abs`.
        || (demangled.starts_with('<') && demangled.contains(" as compiler_builtins::"))
        || demangled.starts_with("<compiler_builtins::")
}

/// A defined function symbol: name, section, start, size, and whether it
/// is compiler_builtins code.
struct Function {
    name: String,
    section: SectionIndex,
    start: u64,
    size: u64,
    builtins: bool,
}

fn functions(file: &Elf<'_>, routines: &BTreeSet<String>) -> Vec<Function> {
    file.symbols()
        .filter(|s| s.kind() == SymbolKind::Text)
        .filter_map(|s| {
            let SymbolSection::Section(section) = s.section() else {
                return None;
            };
            let name = s.name().ok().filter(|n| !n.is_empty())?;
            // compiler_builtins exports its C-named functions (`__adddf3`,
            // but also libm: `fminf`, `sqrt`, ...) as weak hidden symbols;
            // the driver's own functions are local or global after LTO.
            let weak_hidden = s.is_weak() && s.elf_symbol().st_visibility() == elf::STV_HIDDEN;
            Some(Function {
                name: name.to_owned(),
                section,
                start: s.address(),
                size: s.size(),
                builtins: weak_hidden || is_builtins(name, routines),
            })
        })
        .collect()
}

/// The function in `section` containing `offset`; the smallest one when
/// several overlap (aliases), a non-builtins one when they tie.
fn function_at(functions: &[Function], section: SectionIndex, offset: u64) -> Option<&Function> {
    functions
        .iter()
        .filter(|f| f.section == section && f.start <= offset && offset < f.start + f.size.max(1))
        .min_by_key(|f| (f.size, f.builtins))
}

/// Name of the soft-float routine a relocation targets, if it targets one:
/// by symbol name, or (for a section-relative target) by the address it
/// resolves to.
fn target_routine(
    file: &Elf<'_>,
    functions: &[Function],
    target: RelocationTarget,
    addend: i64,
    pc_relative: bool,
    routines: &BTreeSet<String>,
) -> Option<String> {
    let (section, base) = match target {
        RelocationTarget::Symbol(index) => {
            let symbol = file.symbol_by_index(index).ok()?;
            if let Some(name) = symbol.name().ok().filter(|n| !n.is_empty()) {
                return routine_name(name, routines);
            }
            let SymbolSection::Section(section) = symbol.section() else {
                return None;
            };
            (section, symbol.address())
        }
        RelocationTarget::Section(section) => (section, 0),
        _ => return None,
    };
    // A `call rel32` stores S + A - P with A = -4: the callee is S + A + 4.
    let adjust = if pc_relative { 4 } else { 0 };
    let address = base.wrapping_add_signed(addend).wrapping_add(adjust);
    functions
        .iter()
        .filter(|f| f.section == section && f.start == address)
        .find_map(|f| routine_name(&f.name, routines))
}

fn is_pc_relative(r_type: u32) -> bool {
    matches!(
        r_type,
        elf::R_X86_64_PC32 | elf::R_X86_64_PLT32 | elf::R_X86_64_PC64
    )
}

/// The gate: one finding per (routine, calling function), plus one per
/// undefined soft-float routine that no relocation in a loaded section
/// was found to call.
pub fn check_soft_float(file: &Elf<'_>) -> Vec<Finding> {
    let routines = soft_float_routines();
    let functions = functions(file, &routines);
    let endian = file.endian();
    let mut calls = BTreeSet::new();
    let mut called = BTreeSet::new();
    for section in file.sections() {
        let flags = section.elf_section_header().sh_flags(endian);
        if flags & u64::from(elf::SHF_ALLOC) == 0 {
            continue;
        }
        for (offset, relocation) in section.relocations() {
            let pc_relative = match relocation.flags() {
                RelocationFlags::Elf { r_type } => is_pc_relative(r_type),
                _ => false,
            };
            let Some(routine) = target_routine(
                file,
                &functions,
                relocation.target(),
                relocation.addend(),
                pc_relative,
                &routines,
            ) else {
                continue;
            };
            let caller = function_at(&functions, section.index(), offset);
            if caller.is_some_and(|f| f.builtins) {
                continue;
            }
            let caller = match caller {
                Some(f) => format!("`{}`", demangle(&f.name)),
                None => format!("{}+{offset:#x}", section.name().unwrap_or("?")),
            };
            called.insert(routine.clone());
            calls.insert((routine, caller));
        }
    }
    let mut found: Vec<Finding> = calls
        .into_iter()
        .map(|(routine, caller)| Finding {
            gate: Gate::SoftFloat,
            message: format!(
                "floating point: `{routine}` called from {caller} (a soft-float \
                 routine: the driver does f32/f64 arithmetic or conversion; use \
                 integers)"
            ),
        })
        .collect();
    let undefined: BTreeSet<String> = file
        .symbols()
        .filter(|s| s.is_undefined())
        .filter_map(|s| s.name().ok().and_then(|n| routine_name(n, &routines)))
        .filter(|n| !called.contains(n))
        .collect();
    for routine in undefined {
        found.push(Finding {
            gate: Gate::SoftFloat,
            message: format!("floating point: module references soft-float routine `{routine}`"),
        });
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routine_names_cover_the_compiler_builtins_set() {
        let routines = soft_float_routines();
        for name in [
            "__adddf3",
            "__subdf3",
            "__muldf3",
            "__divdf3",
            "__addsf3",
            "__mulsf3",
            "__divsf3",
            "__subsf3",
            "__addtf3",
            "__floatsidf",
            "__floatdidf",
            "__floatundidf",
            "__floatunsidf",
            "__floattisf",
            "__fixdfsi",
            "__fixdfdi",
            "__fixunsdfdi",
            "__fixunsdfsi",
            "__fixsfti",
            "__fixunstfsi",
            "__extendsfdf2",
            "__truncdfsf2",
            "__extendhftf2",
            "__trunctfhf2",
            "__eqdf2",
            "__nedf2",
            "__ltdf2",
            "__ledf2",
            "__gtdf2",
            "__gedf2",
            "__unorddf2",
            "__unordsf2",
            "__powidf2",
            "__powisf2",
            "__cmpdf2",
            "__cmpsf2",
            "__negdf2",
            "__muldc3",
            "__gnu_h2f_ieee",
        ] {
            assert!(routines.contains(name), "{name}");
        }
        for name in ["__muldi3", "__udivti3", "__ashlti3", "memcpy", "__clzsi2"] {
            assert!(!routines.contains(name), "{name} is integer code");
        }
    }

    #[test]
    fn rust_implementation_maps_to_the_routine() {
        let routines = soft_float_routines();
        assert_eq!(
            routine_name(
                "_RNvNtNtCs93limHhM7Dk_17compiler_builtins5float3add8___adddf3",
                &routines
            )
            .as_deref(),
            Some("__adddf3")
        );
        assert_eq!(
            routine_name("_RNvCsgFQc59M1cUg_5smoke5ratio", &routines),
            None
        );
        assert!(is_builtins(
            "_RNvXs0_NtNtNtNtCs93limHhM7Dk_17compiler_builtins4math9libm_math7support10int_traitsjNtB5_3Int3abs",
            &routines
        ));
        assert!(!is_builtins("_RNvCsgFQc59M1cUg_5smoke5ratio", &routines));
    }
}
