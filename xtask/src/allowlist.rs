// SPDX-License-Identifier: MPL-2.0

//! The list of illumos kernel symbols the module may leave undefined.
//!
//! `kernel/allowlist.txt` holds one entry per line: the symbol, then
//! whitespace, then the illumos-gate path of the header that declares it
//! (`mac_register  usr/src/uts/common/sys/mac_provider.h`).  `#` starts a
//! comment that runs to the end of the line; blank lines are ignored.
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

impl Allowlist {
    /// Parses allowlist text, collecting every malformed line.
    pub fn parse(text: &str) -> Result<Allowlist, Vec<AllowlistError>> {
        let mut entries = BTreeMap::new();
        let mut errors = Vec::new();
        for (index, raw) in text.lines().enumerate() {
            let line = index + 1;
            let content = raw.split('#').next().unwrap_or("").trim();
            if content.is_empty() {
                continue;
            }
            let fields: Vec<&str> = content.split_whitespace().collect();
            let [symbol, header] = fields.as_slice() else {
                errors.push(AllowlistError {
                    line,
                    message: format!("expected `symbol  usr/src/.../header.h`, found {content:?}"),
                });
                continue;
            };
            if !is_c_identifier(symbol) {
                errors.push(AllowlistError {
                    line,
                    message: format!("{symbol:?} is not a C identifier"),
                });
                continue;
            }
            if !header.starts_with("usr/src/") || !header.ends_with(".h") {
                errors.push(AllowlistError {
                    line,
                    message: format!(
                        "header {header:?} for {symbol} must be an illumos-gate \
                         path under usr/src/ ending in .h"
                    ),
                });
                continue;
            }
            let entry = AllowlistEntry {
                symbol: (*symbol).to_owned(),
                header: (*header).to_owned(),
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

    /// Reads and parses an allowlist file.
    pub fn load(path: &Path) -> Result<Allowlist, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read allowlist {}: {e}", path.display()))?;
        Allowlist::parse(&text).map_err(|errors| {
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
        let text = "# header comment\n\n\
                    mac_register  usr/src/uts/common/sys/mac_provider.h\n\
                    kmem_alloc\tusr/src/uts/common/sys/kmem.h  # trailing\n";
        let list = Allowlist::parse(text).expect("valid list");
        assert_eq!(list.len(), 2);
        let entry = list.get("kmem_alloc").expect("kmem_alloc present");
        assert_eq!(entry.header, "usr/src/uts/common/sys/kmem.h");
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
        let errors = Allowlist::parse("mac_register sys/mac_provider.h\n").expect_err("must fail");
        assert!(errors[0].message.contains("usr/src/"), "{}", errors[0]);
    }

    #[test]
    fn rejects_extra_fields_bad_names_and_duplicates() {
        let text = "a usr/src/a.h extra\n\
                    1abc usr/src/uts/common/sys/x.h\n\
                    dup usr/src/uts/common/sys/x.h\n\
                    dup usr/src/uts/common/sys/y.h\n";
        let errors = Allowlist::parse(text).expect_err("must fail");
        let lines: Vec<usize> = errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![1, 2, 4]);
    }
}
