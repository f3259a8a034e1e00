// SPDX-License-Identifier: MPL-2.0
//! What a gate reports: the gates' names and their findings, shared by
//! every gate module (`gates`, `softfloat`, `probes`) so none of them
//! imports another.

use std::fmt;

use object::read::elf::ElfFile64;

/// The relocatable ELF64 objects the gates read.
pub type Elf<'data> = ElfFile64<'data, object::Endianness>;

/// The gates, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Gate {
    Format,
    EntryPoints,
    Undefined,
    Fpu,
    SoftFloat,
    Relocations,
    ProbeSites,
    Unwinding,
    Std,
}

impl fmt::Display for Gate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Gate::Format => "format",
            Gate::EntryPoints => "entry",
            Gate::Undefined => "undefined",
            Gate::Fpu => "fpu",
            Gate::SoftFloat => "soft-float",
            Gate::Relocations => "relocations",
            Gate::ProbeSites => "probe-sites",
            Gate::Unwinding => "unwinding",
            Gate::Std => "std",
        })
    }
}

/// One reason the module fails a gate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub gate: Gate,
    pub message: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] {}", self.gate, self.message)
    }
}

pub(crate) fn finding(gate: Gate, message: impl Into<String>) -> Finding {
    Finding { gate, message: message.into() }
}
