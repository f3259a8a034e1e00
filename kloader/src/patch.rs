// SPDX-License-Identifier: MPL-2.0

//! Deliberately broken copies of a module object, for the tests that show
//! the loader and the scenarios catch each kind of defect.
//!
//! Theory statement.  Each function takes the bytes of an `ET_REL`
//! object and returns a patched copy that models one defect exactly as
//! the compiler would have produced it, by editing only the symbol table,
//! the string table, relocation entries or one opcode byte:
//!
//! * [`rename_symbol`]: the module imports a symbol under another name
//!   (a missing or misspelt kernel function);
//! * [`swap_field_relocations`]: two pointer fields of a static
//!   `repr(C)` structure trade places, as if the Rust declaration listed
//!   them in the wrong order (a wrong field offset);
//! * [`swap_function_pointers`]: two function-pointer slots of a table
//!   trade targets, so mac calls a function through a slot whose C
//!   signature is not that function's (a callback with a wrong
//!   signature);
//! * [`probe_call_to_tail_jump`]: one DTrace probe call (`e8 rel32`)
//!   becomes a jump (`e9 rel32`), which is what the compiler emits for a
//!   probe in tail position.
//!
//! Locks: none; pure functions on byte vectors.

use object::elf;
use object::read::elf::{ElfFile64, Rela, SectionHeader, Sym};
use object::{Endianness, Object};

const RELA_SIZE: usize = 24;
const SYM_SIZE: usize = 24;

struct Rel {
    /// File offset of the entry.
    at: usize,
    /// Target section index.
    target: usize,
    r_offset: u64,
    sym: usize,
    addend: i64,
}

struct View {
    relas: Vec<Rel>,
    /// (name, value, shndx, file offset of the Sym entry)
    syms: Vec<(String, u64, usize, usize)>,
    strtab_off: usize,
    /// Per section: (file offset, flags).
    sections: Vec<(usize, u64)>,
}

fn view(data: &[u8]) -> Result<View, String> {
    let file = ElfFile64::<Endianness>::parse(data).map_err(|e| e.to_string())?;
    let endian = file.endian();
    let table = file.elf_section_table();
    let mut sections = Vec::new();
    let mut relas = Vec::new();
    let mut symtab_off = 0;
    let mut strtab_off = 0;
    for (i, sh) in table.iter().enumerate() {
        sections.push((sh.sh_offset(endian) as usize, sh.sh_flags(endian)));
        if sh.sh_type(endian) == elf::SHT_SYMTAB {
            symtab_off = sh.sh_offset(endian) as usize;
            let link = sh.sh_link(endian) as usize;
            let st = table.section(object::SectionIndex(link)).map_err(|e| e.to_string())?;
            strtab_off = st.sh_offset(endian) as usize;
        }
        if sh.sh_type(endian) == elf::SHT_RELA {
            let entries = sh.data_as_array::<elf::Rela64<Endianness>, _>(endian, data).map_err(|e| e.to_string())?;
            for (k, r) in entries.iter().enumerate() {
                relas.push(Rel {
                    at: sh.sh_offset(endian) as usize + k * RELA_SIZE,
                    target: sh.sh_info(endian) as usize,
                    r_offset: r.r_offset(endian),
                    sym: r.r_sym(endian, false) as usize,
                    addend: r.r_addend(endian),
                });
            }
            let _ = i;
        }
    }
    let symtab = file.elf_symbol_table();
    let mut syms = Vec::new();
    for (i, s) in symtab.iter().enumerate() {
        let name = String::from_utf8_lossy(s.name(endian, symtab.strings()).unwrap_or(b"")).into_owned();
        syms.push((name, s.st_value(endian), s.st_shndx(endian) as usize, symtab_off + i * SYM_SIZE));
    }
    let _ = file.endianness();
    Ok(View { relas, syms, strtab_off, sections })
}

fn write_u64(out: &mut [u8], at: usize, v: u64) {
    out[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

/// Renames symbol `old` to `new` (not longer than `old`) in the string table.
pub fn rename_symbol(data: &[u8], old: &str, new: &str) -> Result<Vec<u8>, String> {
    if new.len() > old.len() {
        return Err(format!("{new} is longer than {old}"));
    }
    let v = view(data)?;
    let (_, _, _, sym_at) = v.syms.iter().find(|s| s.0 == old).ok_or_else(|| format!("no symbol {old}"))?;
    let st_name = u32::from_le_bytes(data[*sym_at..*sym_at + 4].try_into().map_err(|_| "short symtab")?) as usize;
    let mut out = data.to_vec();
    let at = v.strtab_off + st_name;
    out[at..at + new.len()].copy_from_slice(new.as_bytes());
    out[at + new.len()] = 0;
    Ok(out)
}

/// The defined symbol whose name contains `part`: (section, value).
fn find(v: &View, part: &str) -> Result<(usize, u64), String> {
    let mut hits = v.syms.iter().filter(|s| s.0.contains(part) && s.2 != 0 && s.2 < 0xff00);
    let first = hits.next().ok_or_else(|| format!("no defined symbol containing {part}"))?;
    if let Some(second) = hits.next() {
        return Err(format!("{part} is ambiguous: {} and {}", first.0, second.0));
    }
    Ok((first.2, first.1))
}

/// Swaps the positions of the pointer fields at byte offsets `a` and `b`
/// of the static whose symbol name contains `static_name`.
pub fn swap_field_relocations(data: &[u8], static_name: &str, a: u64, b: u64) -> Result<Vec<u8>, String> {
    let v = view(data)?;
    let (sec, base) = find(&v, static_name)?;
    let ra = v.relas.iter().find(|r| r.target == sec && r.r_offset == base + a).ok_or("no relocation at field a")?;
    let rb = v.relas.iter().find(|r| r.target == sec && r.r_offset == base + b).ok_or("no relocation at field b")?;
    let mut out = data.to_vec();
    write_u64(&mut out, ra.at, base + b);
    write_u64(&mut out, rb.at, base + a);
    Ok(out)
}

/// Swaps the targets of the two relocations in loaded sections that
/// point at the functions whose names contain `fa` and `fb` (a
/// function-pointer table with two slots exchanged).
pub fn swap_function_pointers(data: &[u8], fa: &str, fb: &str) -> Result<Vec<u8>, String> {
    let v = view(data)?;
    let target = |part: &str| -> Result<&Rel, String> {
        let (sec, value) = find(&v, part)?;
        let mut hits = v.relas.iter().filter(|r| {
            // Loaded sections only: the table may be static data or built
            // by code (`movq $fn, slot(%reg)` with an R_X86_64_32S).
            let data_section = v.sections.get(r.target).is_some_and(|s| s.1 & u64::from(elf::SHF_ALLOC) != 0);
            let Some(s) = v.syms.get(r.sym) else { return false };
            let points = if s.2 == sec && s.0.contains(part) {
                r.addend == 0
            } else {
                s.2 == sec && s.1 as i64 + r.addend == value as i64 && s.0.is_empty()
            };
            data_section && points
        });
        let hit = hits.next().ok_or_else(|| format!("no relocation in a loaded section points at {part}"))?;
        if hits.next().is_some() {
            return Err(format!("more than one relocation in a loaded section points at {part}"));
        }
        Ok(hit)
    };
    let (ra, rb) = (target(fa)?, target(fb)?);
    let mut out = data.to_vec();
    for (from, to) in [(ra, rb), (rb, ra)] {
        out[to.at + 8..to.at + RELA_SIZE].copy_from_slice(&data[from.at + 8..from.at + RELA_SIZE]);
    }
    Ok(out)
}

/// Turns the first DTrace probe call into a tail jump; returns the patched
/// object and the probe's name.
pub fn probe_call_to_tail_jump(data: &[u8]) -> Result<(Vec<u8>, String), String> {
    let v = view(data)?;
    for r in &v.relas {
        let Some(s) = v.syms.get(r.sym) else { continue };
        let Some(probe) = s.0.strip_prefix("__dtrace_probe_") else { continue };
        let Some((text_off, _)) = v.sections.get(r.target) else { continue };
        let at = text_off + r.r_offset as usize - 1;
        if data.get(at) == Some(&0xe8) {
            let mut out = data.to_vec();
            out[at] = 0xe9;
            return Ok((out, probe.to_owned()));
        }
    }
    Err("no probe call site found".into())
}

/// Changes the type of the first relocation of type `from` in a loaded
/// section to `to` (e.g. a GOT-relative load krtld cannot apply).
pub fn retype_first_relocation(data: &[u8], from: u32, to: u32) -> Result<Vec<u8>, String> {
    let v = view(data)?;
    for r in &v.relas {
        let loaded = v.sections.get(r.target).is_some_and(|s| s.1 & u64::from(elf::SHF_ALLOC) != 0);
        let info = u64::from_le_bytes(data[r.at + 8..r.at + 16].try_into().map_err(|_| "short rela")?);
        if loaded && (info & 0xffff_ffff) as u32 == from {
            let mut out = data.to_vec();
            write_u64(&mut out, r.at + 8, (info & !0xffff_ffff) | u64::from(to));
            return Ok(out);
        }
    }
    Err(format!("no relocation of type {from} in a loaded section"))
}
