// SPDX-License-Identifier: MPL-2.0
//! The probe-site gate: every DTrace SDT probe is a real `call`.
//!
//! krtld turns each relocation against an undefined `__dtrace_probe_*`
//! symbol into a probe site (`sdt_reloc_resolve` in illumos-gate
//! `usr/src/uts/intel/amd64/krtld/kobj_reloc.c`, called from
//! `do_relocate`).  Until 2024 it overwrote the five bytes of the
//! instruction (`instr[-1]..instr[3]`) with NOPs whatever the opcode; a
//! probe the compiler emitted as a tail jump (`e9 rel32`) then falls
//! through into whatever follows and the kernel panics (OPTE issue 476;
//! docs/research/kernel-contexts.md §2).  The 2024 krtld writes a `ret`
//! for a `jmp`, but the releases we support (OmniOS r151046, OpenIndiana
//! 2024.04) predate it.  So the only safe site is `e8 rel32`, a call,
//! and this gate rejects every other opcode before a probe relocation
//! (`e9` jmp, `0f 8x` conditional jump, anything else).

use object::Object;
use object::ObjectSection;
use object::ObjectSymbol;
use object::RelocationFlags;
use object::RelocationTarget;
use object::elf;
use object::read::elf::SectionHeader;

use crate::findings::{Elf, Finding, Gate, finding};

/// The prefix krtld recognises (`sdt_reloc_resolve`).
pub const PROBE_PREFIX: &str = "__dtrace_probe_";

/// `call rel32`: the only opcode a probe site may have.
const CALL_REL32: u8 = 0xe8;

/// What sits before the relocated field.
fn describe(opcode: u8, before: Option<u8>) -> String {
    match (before, opcode) {
        (_, 0xe9) => "a tail jump (`jmp rel32`, e9)".to_string(),
        (Some(0x0f), 0x80..=0x8f) => format!("a conditional jump (0f {opcode:02x})"),
        _ => format!("opcode byte {opcode:#04x}, not a call (e8)"),
    }
}

/// Every relocation against a `__dtrace_probe_*` symbol must sit on a
/// `call rel32`.  `data` is the whole object file.
pub fn check_probe_sites(file: &Elf<'_>, data: &[u8]) -> Vec<Finding> {
    let mut found = Vec::new();
    let endian = file.endian();
    for section in file.sections() {
        // krtld relocates only allocated sections (`do_relocations` in
        // kobj_reloc.c skips the rest), so only they hold probe sites.
        if section.elf_section_header().sh_flags(endian) & u64::from(elf::SHF_ALLOC) == 0 {
            continue;
        }
        let Some((sec_off, sec_size)) = section.file_range() else { continue };
        let name = section.name().unwrap_or("?");
        for (offset, relocation) in section.relocations() {
            let RelocationTarget::Symbol(index) = relocation.target() else { continue };
            let Ok(symbol) = file.symbol_by_index(index) else { continue };
            let Ok(symbol_name) = symbol.name() else { continue };
            if !symbol_name.starts_with(PROBE_PREFIX) {
                continue;
            }
            // krtld NOPs the site whatever the relocation type, so only a
            // call's own rel32 (PC32/PLT32) is a probe site; anything else
            // (a function pointer to a probe) would be stomped.
            let rel32 = matches!(
                relocation.flags(),
                RelocationFlags::Elf { r_type } if r_type == elf::R_X86_64_PC32 || r_type == elf::R_X86_64_PLT32
            );
            if !rel32 {
                found.push(finding(
                    Gate::ProbeSites,
                    format!(
                        "{symbol_name} in {name}+{offset:#x} is referenced by a relocation other \
                         than a call's PC32/PLT32: krtld would write NOPs over it"
                    ),
                ));
                continue;
            }
            let at = |back: u64| {
                offset
                    .checked_sub(back)
                    .filter(|o| *o < sec_size)
                    .and_then(|o| data.get(usize::try_from(sec_off + o).ok()?).copied())
            };
            match at(1) {
                Some(CALL_REL32) => {}
                Some(opcode) => found.push(finding(
                    Gate::ProbeSites,
                    format!(
                        "{symbol_name} in {name}+{offset:#x} is reached by {}: krtld's \
                         sdt_reloc_resolve NOPs the 5 bytes and execution falls through \
                         (make the probe a real call, not in tail position)",
                        describe(opcode, at(2))
                    ),
                )),
                None => found.push(finding(
                    Gate::ProbeSites,
                    format!("{symbol_name} in {name}+{offset:#x}: no instruction before the relocation"),
                )),
            }
        }
    }
    found
}
