// SPDX-License-Identifier: MPL-2.0

//! The list of illumos kernel symbols the module may leave undefined.
//!
//! `kernel/allowlist.txt` holds one entry per line: the symbol, the
//! illumos-gate path of the header that declares it, and the key of how
//! its presence in the oldest supported releases (OmniOS r151046 LTS,
//! OpenIndiana 2024.04; kernel/README.md) was checked
//! (`mac_register  usr/src/uts/common/sys/mac_provider.h  crossbow`).
//! Keys are defined in the file itself by legend lines
//! `#@ key: how it was checked`; an entry with no key, or an unknown
//! one, is an error.  `#` otherwise starts a comment that runs to the end
//! of the line; blank lines are ignored.
//! Every undefined symbol in the built module must be on this list: a
//! symbol krtld cannot resolve makes `modload` fail, and a typo'd or
//! private symbol is better caught here than on a test host.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

/// One allowlisted symbol and where illumos declares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowlistEntry {
    pub symbol: String,
    pub header: String,
    /// How its presence in the supported releases was checked (a legend
    /// key); empty for a project export (allowlist-tun.txt).
    pub checked: String,
    /// 1-based line number in the file, for error messages.
    pub line: usize,
}

/// The parsed allowlist, keyed by symbol name.
#[derive(Debug, Clone, Default)]
pub struct Allowlist {
    entries: BTreeMap<String, AllowlistEntry>,
}

/// A line of the allowlist that does not follow the format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowlistError {
    pub line: usize,
    pub message: String,
}

impl fmt::Display for AllowlistError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "allowlist line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for AllowlistError {}

/// True when `name` looks like a C identifier (what the kernel exports).
fn is_c_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    match chars.next() {
        Some(c) if c == '_' || c.is_ascii_alphabetic() => {}
        _ => return false,
    }
    chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

/// What the second field of an entry must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    /// An illumos-gate header: `usr/src/.../x.h`.
    IllumosHeader,
    /// A file of this repository that defines the symbol in a module of
    /// ours (`tuntap-drv/.../x.rs`): for kernel/allowlist-tun.txt, whose
    /// symbols drv/tuntap exports to drv/tun.
    ProjectSource,
}

impl Source {
    fn accepts(self, path: &str) -> bool {
        match self {
            Source::IllumosHeader => path.starts_with("usr/src/") && path.ends_with(".h"),
            Source::ProjectSource => {
                path.starts_with("tuntap-drv/") && path.ends_with(".rs") && !path.contains("..")
            }
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Source::IllumosHeader => "an illumos-gate path under usr/src/ ending in .h",
            Source::ProjectSource => "a tuntap-drv/ source path ending in .rs (the module that defines it)",
        }
    }
}

impl Allowlist {
    /// Parses allowlist text, collecting every malformed line.
    pub fn parse(text: &str) -> Result<Allowlist, Vec<AllowlistError>> {
        Self::parse_as(text, Source::IllumosHeader)
    }

    /// Parses a list of symbols another module of this project defines
    /// (`symbol  tuntap-drv/src/.../file.rs`), e.g. kernel/allowlist-tun.txt.
    pub fn parse_project_exports(text: &str) -> Result<Allowlist, Vec<AllowlistError>> {
        Self::parse_as(text, Source::ProjectSource)
    }

    /// Adds every entry of `other`; a symbol listed in both is an error.
    pub fn merge(&mut self, other: Allowlist) -> Result<(), String> {
        for (symbol, entry) in other.entries {
            if self.entries.contains_key(&symbol) {
                return Err(format!("{symbol} is listed in two allowlists"));
            }
            self.entries.insert(symbol, entry);
        }
        Ok(())
    }

    fn parse_as(text: &str, source: Source) -> Result<Allowlist, Vec<AllowlistError>> {
        let mut entries = BTreeMap::new();
        let mut errors = Vec::new();
        let legend: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("#@"))
            .filter_map(|l| l.split(':').next())
            .map(str::trim)
            .collect();
        for (index, raw) in text.lines().enumerate() {
            let line = index + 1;
            let content = raw.split('#').next().unwrap_or("").trim();
            if content.is_empty() {
                continue;
            }
            let fields: Vec<&str> = content.split_whitespace().collect();
            let (symbol, header, checked) = match (source, fields.as_slice()) {
                (Source::IllumosHeader, [symbol, header, checked]) => (symbol, header, *checked),
                (Source::ProjectSource, [symbol, header]) => (symbol, header, ""),
                (Source::IllumosHeader, _) => {
                    errors.push(AllowlistError {
                        line,
                        message: format!(
                            "expected `symbol  usr/src/.../header.h  how-checked`, found {content:?}"
                        ),
                    });
                    continue;
                }
                (Source::ProjectSource, _) => {
                    errors.push(AllowlistError {
                        line,
                        message: format!("expected `symbol  tuntap-drv/.../file.rs`, found {content:?}"),
                    });
                    continue;
                }
            };
            if source == Source::IllumosHeader && !legend.contains(&checked) {
                errors.push(AllowlistError {
                    line,
                    message: format!(
                        "{symbol}: {checked:?} is not a `#@ key:` of this file (how its presence in the \
                         supported releases was checked)"
                    ),
                });
                continue;
            }
            if !is_c_identifier(symbol) {
                errors.push(AllowlistError {
                    line,
                    message: format!("{symbol:?} is not a C identifier"),
                });
                continue;
            }
            if !source.accepts(header) {
                errors.push(AllowlistError {
                    line,
                    message: format!(
                        "header {header:?} for {symbol} must be {}",
                        source.describe()
                    ),
                });
                continue;
            }
            let entry = AllowlistEntry {
                symbol: (*symbol).to_owned(),
                header: (*header).to_owned(),
                checked: checked.to_owned(),
                line,
            };
            if let Some(previous) = entries.insert(entry.symbol.clone(), entry) {
                errors.push(AllowlistError {
                    line,
                    message: format!(
                        "{} is listed twice (first on line {})",
                        previous.symbol, previous.line
                    ),
                });
            }
        }
        if errors.is_empty() {
            Ok(Allowlist { entries })
        } else {
            Err(errors)
        }
    }

    /// Reads and parses an allowlist file of illumos kernel symbols.
    pub fn load(path: &Path) -> Result<Allowlist, String> {
        Self::load_as(path, Source::IllumosHeader)
    }

    /// Reads and parses a list of symbols a module of ours exports.
    pub fn load_project_exports(path: &Path) -> Result<Allowlist, String> {
        Self::load_as(path, Source::ProjectSource)
    }

    fn load_as(path: &Path, source: Source) -> Result<Allowlist, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read allowlist {}: {e}", path.display()))?;
        Allowlist::parse_as(&text, source).map_err(|errors| {
            let lines: Vec<String> = errors.iter().map(|e| format!("  {e}")).collect();
            format!(
                "malformed allowlist {}:\n{}",
                path.display(),
                lines.join("\n")
            )
        })
    }

    pub fn get(&self, symbol: &str) -> Option<&AllowlistEntry> {
        self.entries.get(symbol)
    }

    pub fn contains(&self, symbol: &str) -> bool {
        self.entries.contains_key(symbol)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn entries(&self) -> impl Iterator<Item = &AllowlistEntry> {
        self.entries.values()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_entries_comments_and_blank_lines() {
        let text = "# header comment\n#@ ddi: read it\n\
                    mac_register  usr/src/uts/common/sys/mac_provider.h  ddi\n\
                    kmem_alloc\tusr/src/uts/common/sys/kmem.h ddi  # trailing\n";
        let list = Allowlist::parse(text).expect("valid list");
        assert_eq!(list.len(), 2);
        let entry = list.get("kmem_alloc").expect("kmem_alloc present");
        assert_eq!(entry.header, "usr/src/uts/common/sys/kmem.h");
        assert_eq!(entry.checked, "ddi");
        assert_eq!(entry.line, 4);
        assert!(!list.contains("mac_unregister"));
    }

    #[test]
    fn rejects_missing_header() {
        let errors = Allowlist::parse("mac_register\n").expect_err("must fail");
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].line, 1);
    }

    #[test]
    fn rejects_header_outside_usr_src() {
        let errors = Allowlist::parse("#@ k: x\nmac_register sys/mac_provider.h k\n").expect_err("must fail");
        assert!(errors[0].message.contains("usr/src/"), "{}", errors[0]);
    }

    #[test]
    fn project_exports_name_a_project_source_file() {
        let text = "tuntap_str_open  tuntap-drv/src/illumos/streams.rs\n";
        let list = Allowlist::parse_project_exports(text).expect("valid list");
        assert!(list.contains("tuntap_str_open"));
        // An illumos header is not where a project export is defined ...
        let errors = Allowlist::parse_project_exports("f usr/src/uts/common/sys/x.h\n")
            .expect_err("must fail");
        assert!(errors[0].message.contains("tuntap-drv/"), "{}", errors[0]);
        // ... and the kernel list does not take project files.
        let errors = Allowlist::parse(text).expect_err("must fail");
        assert!(errors[0].message.contains("usr/src/"), "{}", errors[0]);
        assert!(Allowlist::parse_project_exports("f tuntap-drv/../etc/x.rs\n").is_err());
    }

    #[test]
    fn merge_adds_entries_and_rejects_overlap() {
        let mut kernel = Allowlist::parse("#@ k: x\nmac_rx usr/src/uts/common/sys/mac_provider.h k\n").expect("ok");
        let exports = Allowlist::parse_project_exports("tuntap_str_wput tuntap-drv/src/illumos/streams.rs\n")
            .expect("ok");
        kernel.merge(exports.clone()).expect("disjoint");
        assert!(kernel.contains("mac_rx") && kernel.contains("tuntap_str_wput"));
        assert!(kernel.merge(exports).is_err());
    }

    #[test]
    fn rejects_extra_fields_bad_names_and_duplicates() {
        let text = "#@ k: x\n\
                    a usr/src/a.h k extra\n\
                    1abc usr/src/uts/common/sys/x.h k\n\
                    dup usr/src/uts/common/sys/x.h k\n\
                    dup usr/src/uts/common/sys/y.h k\n";
        let errors = Allowlist::parse(text).expect_err("must fail");
        let lines: Vec<usize> = errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![2, 3, 5]);
    }

    #[test]
    fn every_kernel_symbol_says_how_it_was_checked() {
        // No key, and a key the file's legend does not define.
        let text = "#@ ddi: read in sunddi.h\n\
                    ddi_get_time usr/src/uts/common/sys/sunddi.h\n\
                    mac_getinfo usr/src/uts/common/sys/mac_provider.h guessed\n\
                    nodev usr/src/uts/common/sys/systm.h ddi\n";
        let errors = Allowlist::parse(text).expect_err("must fail");
        let lines: Vec<usize> = errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![2, 3]);
        assert!(errors[1].message.contains("\"guessed\" is not a `#@ key:`"), "{}", errors[1]);
    }
}
