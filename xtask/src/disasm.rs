// SPDX-License-Identifier: MPL-2.0

//! The floating-point gate: no instruction may touch the FPU.
//!
//! The illumos kernel does not save or restore FPU/SIMD state for kernel
//! code (a kernel thread that wants it must bracket the use with
//! kernel_fpu_begin/kernel_fpu_end), so an `xmm` load in a driver silently
//! corrupts the interrupted user thread's registers.  The target spec turns
//! SSE and friends off (`+soft-float`), and this gate proves the result:
//! it disassembles every executable section with `objdump -d` (AT&T
//! syntax) and rejects
//!   * any operand naming an `%xmm`, `%ymm`, `%zmm`, `%mm`, `%k` (AVX-512
//!     mask) or `%st` register, and
//!   * any x87, MMX or SSE/AVX control instruction, which may have no
//!     register operand at all (`fninit`, `fnstcw`, `emms`, `vzeroupper`,
//!     `ldmxcsr`, `fxsave`, ...).

use std::path::Path;
use std::process::Command;

/// One offending instruction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FpuUse {
    /// The function (symbol) the instruction is in, as objdump names it.
    pub function: String,
    /// Offset within the section, as printed by objdump.
    pub address: String,
    /// The instruction text (mnemonic and operands).
    pub instruction: String,
    /// Why it was rejected: the register or mnemonic.
    pub reason: String,
}

/// x87 mnemonics without their AT&T size suffix, plus the MMX/SSE/AVX
/// state and control instructions that have no vector register operand.
const FPU_MNEMONICS: &[&str] = &[
    // x87 loads, stores and constants.
    "fld",
    "fild",
    "fbld",
    "fst",
    "fstp",
    "fist",
    "fistp",
    "fisttp",
    "fbstp",
    "fld1",
    "fldz",
    "fldpi",
    "fldl2e",
    "fldl2t",
    "fldlg2",
    "fldln2",
    "fxch",
    "fcmovb",
    "fcmove",
    "fcmovbe",
    "fcmovu",
    "fcmovnb",
    "fcmovne",
    "fcmovnbe",
    "fcmovnu",
    // x87 arithmetic.
    "fadd",
    "faddp",
    "fiadd",
    "fsub",
    "fsubp",
    "fisub",
    "fsubr",
    "fsubrp",
    "fisubr",
    "fmul",
    "fmulp",
    "fimul",
    "fdiv",
    "fdivp",
    "fidiv",
    "fdivr",
    "fdivrp",
    "fidivr",
    "fprem",
    "fprem1",
    "fabs",
    "fchs",
    "frndint",
    "fscale",
    "fsqrt",
    "fxtract",
    "fsin",
    "fcos",
    "fsincos",
    "fptan",
    "fpatan",
    "f2xm1",
    "fyl2x",
    "fyl2xp1",
    // x87 comparisons.
    "fcom",
    "fcomp",
    "fcompp",
    "fcomi",
    "fcomip",
    "fucom",
    "fucomp",
    "fucompp",
    "fucomi",
    "fucomip",
    "ficom",
    "ficomp",
    "ftst",
    "fxam",
    // x87 control and state.
    "finit",
    "fninit",
    "fclex",
    "fnclex",
    "fstcw",
    "fnstcw",
    "fldcw",
    "fstenv",
    "fnstenv",
    "fldenv",
    "fsave",
    "fnsave",
    "frstor",
    "fstsw",
    "fnstsw",
    "ffree",
    "ffreep",
    "fincstp",
    "fdecstp",
    "fnop",
    "fwait",
    "wait",
    // MMX / SSE / AVX state without a vector register operand.
    "emms",
    "femms",
    "ldmxcsr",
    "stmxcsr",
    "vldmxcsr",
    "vstmxcsr",
    "vzeroupper",
    "vzeroall",
    "fxsave",
    "fxsave64",
    "fxrstor",
    "fxrstor64",
    "xsave",
    "xsave64",
    "xsaveopt",
    "xsaveopt64",
    "xsavec",
    "xsavec64",
    "xsaves",
    "xsaves64",
    "xrstor",
    "xrstor64",
    "xrstors",
    "xrstors64",
];

/// Instruction prefixes objdump prints before the mnemonic.
const PREFIXES: &[&str] = &[
    "lock", "rep", "repe", "repz", "repne", "repnz", "notrack", "bnd", "data16", "addr32", "cs",
    "ds", "es", "fs", "gs", "ss", "xacquire", "xrelease",
];

/// The x87 mnemonic `mnemonic` is an instance of, if any, trying it bare
/// and with each AT&T size suffix (s, l, t, q, ll) removed.
fn fpu_mnemonic(mnemonic: &str) -> Option<&'static str> {
    let lookup = |m: &str| FPU_MNEMONICS.iter().copied().find(|known| *known == m);
    if let Some(found) = lookup(mnemonic) {
        return Some(found);
    }
    if !mnemonic.starts_with('f') {
        return None;
    }
    ["ll", "s", "l", "t", "q"]
        .iter()
        .filter_map(|suffix| mnemonic.strip_suffix(suffix))
        .find_map(lookup)
}

/// The FPU/SIMD register an operand list names, if any (`%xmm0`, `%st(1)`,
/// `%mm3`, `%k1`, ...).
fn fpu_register(operands: &str) -> Option<String> {
    for (pos, _) in operands.match_indices('%') {
        let rest = &operands[pos + 1..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        let is_vector = ["xmm", "ymm", "zmm"].iter().any(|p| {
            name.strip_prefix(p)
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        });
        let is_mmx = name
            .strip_prefix("mm")
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        let is_mask = name
            .strip_prefix('k')
            .is_some_and(|n| n.len() == 1 && n.bytes().all(|b| (b'0'..=b'7').contains(&b)));
        let is_x87 = name == "st";
        if is_vector || is_mmx || is_mask || is_x87 {
            // Report `%st(1)` whole, the others by name.
            if is_x87 && rest[2..].starts_with('(') {
                let end = rest.find(')').map_or(rest.len(), |i| i + 1);
                return Some(format!("%{}", &rest[..end]));
            }
            return Some(format!("%{name}"));
        }
    }
    None
}

/// Scans `objdump -d` output (AT&T syntax) for FPU/SIMD use.
pub fn scan_disassembly(disassembly: &str) -> Vec<FpuUse> {
    let mut function = String::from("?");
    let mut found = Vec::new();
    for line in disassembly.lines() {
        // Function headers: `0000000000000000 <name>:`
        if let (Some(open), true) = (line.find(" <"), line.ends_with(">:")) {
            function = line[open + 2..line.len() - 2].to_owned();
            continue;
        }
        // Instructions: `  1f:\t<bytes>\t<mnemonic operands>` (bytes may be
        // absent with --no-show-raw-insn).
        let Some((address, rest)) = line.split_once(":\t") else {
            continue;
        };
        let address = address.trim();
        if address.is_empty() || !address.bytes().all(|b| b.is_ascii_hexdigit()) {
            continue;
        }
        let instruction = rest.rsplit('\t').next().unwrap_or(rest).trim();
        if instruction.is_empty() || instruction.starts_with('(') {
            continue; // a continuation line of raw bytes
        }
        let mut tokens = instruction.split_whitespace().peekable();
        while tokens
            .peek()
            .is_some_and(|t| PREFIXES.contains(t) || t.starts_with("rex"))
        {
            tokens.next();
        }
        let Some(mnemonic) = tokens.next() else {
            continue;
        };
        let operands = instruction
            .split_once(mnemonic)
            .map_or("", |(_, after)| after);
        // Symbolic annotations (`<foo+0x10>`) and comments (`# 0x...`) are
        // not operands.
        let operands = operands.split(['<', '#']).next().unwrap_or("");
        let reason = if let Some(x87) = fpu_mnemonic(mnemonic) {
            Some(format!("x87/SIMD-state instruction `{x87}`"))
        } else {
            fpu_register(operands).map(|reg| format!("FPU/SIMD register {reg}"))
        };
        if let Some(reason) = reason {
            found.push(FpuUse {
                function: function.clone(),
                address: address.to_owned(),
                instruction: instruction.to_owned(),
                reason,
            });
        }
    }
    found
}

/// Disassembles `object` with `objdump -d` and scans it.
pub fn scan_object(object: &Path) -> Result<Vec<FpuUse>, String> {
    let output = Command::new("objdump")
        .args(["-d", "-w", "--no-show-raw-insn"])
        .arg(object)
        .output()
        .map_err(|e| {
            format!("cannot run objdump ({e}); install binutils (apt-get install binutils)")
        })?;
    if !output.status.success() {
        return Err(format!(
            "objdump -d {} failed: {}",
            object.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    Ok(scan_disassembly(&String::from_utf8_lossy(&output.stdout)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
0000000000000000 <clean>:
   0:\tpush   %rbp
   1:\tmov    %rsp,%rbp
   4:\tlock cmpxchg %rcx,(%rdx)
   8:\tcall   d <clean+0xd>
   d:\tret
0000000000000010 <sse>:
  10:\tmovsd  %xmm0,-0x8(%rbp)
0000000000000020 <x87>:
  20:\tfldl   0x8(%rsp)
  24:\tfstp   %st(1)
  26:\tfnstcw -0x2(%rbp)
0000000000000030 <avx>:
  30:\tvzeroupper
  33:\tkmovw  %k1,%eax
";

    #[test]
    fn finds_vector_x87_and_control_instructions() {
        let found = scan_disassembly(SAMPLE);
        let summary: Vec<(&str, &str)> = found
            .iter()
            .map(|f| (f.function.as_str(), f.address.as_str()))
            .collect();
        assert_eq!(
            summary,
            vec![
                ("sse", "10"),
                ("x87", "20"),
                ("x87", "24"),
                ("x87", "26"),
                ("avx", "30"),
                ("avx", "33")
            ]
        );
        assert!(found[0].reason.contains("%xmm0"), "{}", found[0].reason);
        assert!(found[1].reason.contains("`fld`"), "{}", found[1].reason);
        assert!(found[3].reason.contains("`fnstcw`"), "{}", found[3].reason);
        assert!(found[5].reason.contains("%k1"), "{}", found[5].reason);
    }

    #[test]
    fn ignores_integer_code_and_symbol_annotations() {
        let text = "\
0000000000000000 <fstat_like>:
   0:\tcall   5 <fld_helper>
   5:\tmov    %rsp,%rbp
   8:\tmov    0x0(%rip),%rax        # f <stmxcsr_name+0x3>
";
        assert!(scan_disassembly(text).is_empty());
    }

    #[test]
    fn suffix_stripping_does_not_overreach() {
        assert_eq!(fpu_mnemonic("fildll"), Some("fild"));
        assert_eq!(fpu_mnemonic("fstps"), Some("fstp"));
        assert_eq!(fpu_mnemonic("fabs"), Some("fabs"));
        assert_eq!(fpu_mnemonic("fs"), None);
        assert_eq!(fpu_mnemonic("mov"), None);
    }
}
