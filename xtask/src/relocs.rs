// SPDX-License-Identifier: MPL-2.0

//! Which x86-64 relocation types the illumos kernel runtime linker (krtld)
//! applies correctly to a loadable module.  kernel/RELOCATIONS.md has the
//! research behind this table, with citations into illumos-gate.
//!
//! In short: krtld (`do_relocate` in usr/src/uts/intel/amd64/krtld/
//! kobj_reloc.c) computes `S + A`, subtracts `P` when the type is
//! PC-relative, and writes 1, 2, 4 or 8 bytes (`do_reloc_krtld` in
//! usr/src/uts/intel/amd64/krtld/doreloc.c).  It never builds a GOT or PLT,
//! so a type whose meaning involves one is either refused at load time or,
//! worse, written as if it were a plain PC-relative reference: the code
//! then reads the target's first bytes as if they were its address.

/// What the gate makes of one relocation type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// krtld applies it with its psABI meaning.
    Accepted,
    /// Rejected, with the reason shown to the user.
    Rejected(&'static str),
}

const NEEDS_GOT: &str = "needs a GOT, which krtld never builds (it would either \
     refuse the module or patch the instruction as a plain PC-relative reference \
     and load garbage); build with code-model=kernel, relocation-model=static";
const TLS: &str = "thread-local storage relocation: krtld refuses it \
     (IS_TLS_INS) or writes a meaningless value; the kernel has no TLS";
const DYNAMIC: &str = "dynamic-linking relocation that belongs in a shared \
     object or executable, not a relocatable module";
const SIZE: &str = "symbol-size relocation: krtld would write S + A, not the \
     symbol size Z + A";
const UNSUPPORTED: &str = "krtld has no field size for it and fails the load \
     (\"offset size (0 bytes) is not supported\")";
const UNKNOWN: &str = "not an x86-64 relocation type krtld knows (> R_AMD64_NUM)";

/// The psABI name of an x86-64 relocation type number.
pub fn name(r_type: u32) -> &'static str {
    match r_type {
        0 => "R_X86_64_NONE",
        1 => "R_X86_64_64",
        2 => "R_X86_64_PC32",
        3 => "R_X86_64_GOT32",
        4 => "R_X86_64_PLT32",
        5 => "R_X86_64_COPY",
        6 => "R_X86_64_GLOB_DAT",
        7 => "R_X86_64_JUMP_SLOT",
        8 => "R_X86_64_RELATIVE",
        9 => "R_X86_64_GOTPCREL",
        10 => "R_X86_64_32",
        11 => "R_X86_64_32S",
        12 => "R_X86_64_16",
        13 => "R_X86_64_PC16",
        14 => "R_X86_64_8",
        15 => "R_X86_64_PC8",
        16 => "R_X86_64_DTPMOD64",
        17 => "R_X86_64_DTPOFF64",
        18 => "R_X86_64_TPOFF64",
        19 => "R_X86_64_TLSGD",
        20 => "R_X86_64_TLSLD",
        21 => "R_X86_64_DTPOFF32",
        22 => "R_X86_64_GOTTPOFF",
        23 => "R_X86_64_TPOFF32",
        24 => "R_X86_64_PC64",
        25 => "R_X86_64_GOTOFF64",
        26 => "R_X86_64_GOTPC32",
        27 => "R_X86_64_GOT64",
        28 => "R_X86_64_GOTPCREL64",
        29 => "R_X86_64_GOTPC64",
        30 => "R_X86_64_GOTPLT64",
        31 => "R_X86_64_PLTOFF64",
        32 => "R_X86_64_SIZE32",
        33 => "R_X86_64_SIZE64",
        34 => "R_X86_64_GOTPC32_TLSDESC",
        35 => "R_X86_64_TLSDESC_CALL",
        36 => "R_X86_64_TLSDESC",
        37 => "R_X86_64_IRELATIVE",
        38 => "R_X86_64_RELATIVE64",
        41 => "R_X86_64_GOTPCRELX",
        42 => "R_X86_64_REX_GOTPCRELX",
        _ => "R_X86_64_(unknown)",
    }
}

/// The gate's verdict on relocation type `r_type` in an allocated section.
pub fn verdict(r_type: u32) -> Verdict {
    match r_type {
        // NONE is skipped by krtld.  The rest have a field size in krtld's
        // table and a psABI formula that is just S + A (or S + A - P);
        // PLT32 is PC-relative there and, with no PLT, means S + A - P,
        // which is exactly a direct call.
        0 | 1 | 2 | 4 | 10 | 11 | 12 | 13 | 14 | 15 | 24 => Verdict::Accepted,
        3 | 9 | 25 | 26 | 27 | 28 | 29 | 30 | 31 | 41 | 42 => Verdict::Rejected(NEEDS_GOT),
        16..=23 | 34..=36 => Verdict::Rejected(TLS),
        5..=8 | 37 | 38 => Verdict::Rejected(DYNAMIC),
        32 | 33 => Verdict::Rejected(SIZE),
        39 | 40 => Verdict::Rejected(UNSUPPORTED),
        _ => Verdict::Rejected(UNKNOWN),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_exactly_the_plain_data_and_pc_relative_types() {
        let accepted: Vec<&str> = (0..64)
            .filter(|t| verdict(*t) == Verdict::Accepted)
            .map(name)
            .collect();
        assert_eq!(
            accepted,
            vec![
                "R_X86_64_NONE",
                "R_X86_64_64",
                "R_X86_64_PC32",
                "R_X86_64_PLT32",
                "R_X86_64_32",
                "R_X86_64_32S",
                "R_X86_64_16",
                "R_X86_64_PC16",
                "R_X86_64_8",
                "R_X86_64_PC8",
                "R_X86_64_PC64",
            ]
        );
    }

    #[test]
    fn every_got_type_is_rejected_as_needing_a_got() {
        for t in [3, 9, 25, 26, 27, 28, 29, 30, 31, 41, 42] {
            assert_eq!(verdict(t), Verdict::Rejected(NEEDS_GOT), "{}", name(t));
            assert!(
                name(t).contains("GOT") || name(t).contains("PLTOFF"),
                "{}",
                name(t)
            );
        }
    }
}
