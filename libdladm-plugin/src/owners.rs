// SPDX-License-Identifier: MPL-2.0
//! The owner registry: which processes ran under which SMF service, kept
//! where it survives a daemon's crash but not a reboot.
//!
//! Theory statement.  `cleanup --for FMRI` must find the links a
//! *crashed* daemon of a service left.  The driver records each link's
//! creator pid and creation time, but not the creator's service: there is
//! no DDI interface for a process's contract or FMRI.  Process contracts
//! vanish with their processes, so after a crash nothing on the system
//! maps the dead pid back to the service.  The service's method therefore
//! tells us, right after it starts its daemon: `tunctl register --for
//! FMRI --pid PID`, which records the pid **and the process's start
//! time** ([`OwnerEntry`]).  The start time makes the record mean "this
//! process", not "this pid": a link matches an entry only if its creator
//! had the entry's pid and the link was made after the entry's process
//! started (and no later-started registered process had that pid by
//! then), so a reused pid never matches.
//!
//! Storage ([`OwnerStore`]): one file per FMRI ([`Fmri::file_name`]) of
//! lines `pid start_time_ns`, in a directory on tmpfs
//! ([`OWNER_DIR`], `/etc/svc/volatile/tuntap/owners` on illumos): it
//! lives as long as the kernel's links do, and a reboot, which removes
//! every link, empties it.  Files are made mode 0600 in a 0700 directory
//! and replaced atomically (a temporary file, then `rename`), so a reader
//! never sees half a file.  Readers skip lines that are not two numbers
//! (with a warning), read at most [`MAX_FILE_BYTES`], and writers keep
//! the newest [`MAX_ENTRIES`] entries, so a damaged or runaway file cannot
//! break or slow cleanup.  Entries whose process is gone and which no
//! link can still be traced to are pruned on every register and cleanup.
//!
//! Concurrency: two writers for the same FMRI (two `register` calls of
//! one service at once) may lose one entry (last rename wins); methods
//! run one at a time per instance, which is the unit here.

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Mutex, PoisonError};

use crate::ids::Pid;

/// Where the registry lives on illumos: `/etc/svc/volatile` is tmpfs
/// (emptied by a reboot) and belongs to SMF's world.
pub const OWNER_DIR: &str = "/etc/svc/volatile/tuntap/owners";
/// Entries kept per FMRI: the newest ones.
pub const MAX_ENTRIES: usize = 64;
/// Bytes read of one registry file; the rest is ignored with a warning.
pub const MAX_FILE_BYTES: u64 = 64 * 1024;
/// Longest FMRI accepted.  The file name is the FMRI without `svc:/`,
/// so it stays within `MAXNAMELEN` (256, including the NUL).
pub const MAX_FMRI_LEN: usize = 255;

/// A validated SMF service-instance FMRI, `svc:/SERVICE:INSTANCE`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Fmri(String);

/// Is `s` an SMF name component: a letter, then letters, digits, `_`,
/// `,`, `.` or `-`?
fn valid_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | ',' | '.' | '-'))
}

impl Fmri {
    /// Check `text` and wrap it.
    pub fn parse(text: &str) -> Result<Fmri, OwnerError> {
        let bad = |reason: String| Err(OwnerError::BadFmri { text: text.to_string(), reason });
        if text.is_empty() {
            return bad("it is empty".into());
        }
        if text.len() > MAX_FMRI_LEN {
            return bad(format!("it is {} bytes long; at most {MAX_FMRI_LEN} are allowed", text.len()));
        }
        let Some(rest) = text.strip_prefix("svc:/") else {
            return bad("it does not start with svc:/ (e.g. svc:/network/openvpn:office)".into());
        };
        let Some((service, instance)) = rest.split_once(':') else {
            return bad("it names no instance (svc:/SERVICE:INSTANCE, e.g. svc:/network/openvpn:office)".into());
        };
        if !service.split('/').all(valid_name) {
            return bad(format!(
                "service name '{service}' is not valid (parts separated by '/', each a letter then letters, digits, '_', ',', '.' or '-')"
            ));
        }
        if !valid_name(instance) {
            return bad(format!(
                "instance name '{instance}' is not valid (a letter, then letters, digits, '_', ',', '.' or '-')"
            ));
        }
        Ok(Fmri(text.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The registry file's name: the FMRI without `svc:/`, with `/` as
    /// `@` and `:` as `+` (neither occurs in SMF names, so the mapping
    /// is reversible and the name has no `/` and never starts with `.`).
    pub fn file_name(&self) -> String {
        self.0["svc:/".len()..].chars().map(|c| match c {
            '/' => '@',
            ':' => '+',
            c => c,
        }).collect()
    }

    /// The FMRI a registry file name stands for, if it is one.
    pub fn from_file_name(name: &str) -> Option<Fmri> {
        let text: String = name.chars().map(|c| match c {
            '@' => '/',
            '+' => ':',
            c => c,
        }).collect();
        Fmri::parse(&format!("svc:/{text}")).ok().filter(|f| f.file_name() == name)
    }
}

impl FromStr for Fmri {
    type Err = OwnerError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Fmri::parse(s)
    }
}

impl fmt::Display for Fmri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Check a pid given by a user.
pub fn validate_pid(pid: i64) -> Result<Pid, OwnerError> {
    match Pid::try_from(pid) {
        Ok(p) if p > 0 => Ok(p),
        _ => Err(OwnerError::BadPid { text: pid.to_string() }),
    }
}

/// One registered process.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OwnerEntry {
    pub pid: Pid,
    /// The process's start time, nanoseconds since the epoch (`pr_start`).
    pub started_ns: u64,
}

/// What went wrong with the owner registry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OwnerError {
    /// The FMRI text is not `svc:/SERVICE:INSTANCE`.
    BadFmri { text: String, reason: String },
    /// Not a positive pid.
    BadPid { text: String },
    /// No live process has the pid.
    NoSuchProcess { pid: Pid },
    /// The store could not be read or written (`what`: the file).
    Store { what: String, message: String },
}

impl fmt::Display for OwnerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OwnerError::BadFmri { text, reason } => write!(f, "'{text}' is not an SMF instance FMRI: {reason}"),
            OwnerError::BadPid { text } => write!(f, "'{text}' is not a valid pid (a number from 1 to {})", Pid::MAX),
            OwnerError::NoSuchProcess { pid } => write!(f, "no process has pid {pid}"),
            OwnerError::Store { what, message } => write!(f, "owner registry {what}: {message}"),
        }
    }
}

impl std::error::Error for OwnerError {}

/// Where registry files live.  Files are named by [`Fmri::file_name`].
pub trait OwnerStore: Send + Sync {
    /// Where, for messages (a directory, or "memory").
    fn location(&self) -> String;
    /// A file's text (at most [`MAX_FILE_BYTES`], and whether there was
    /// more), `None` if it does not exist.
    fn read(&self, name: &str) -> io::Result<Option<(String, bool)>>;
    /// Replace a file's text atomically.
    fn write(&self, name: &str, text: &str) -> io::Result<()>;
    /// Remove a file; not an error when it is absent.
    fn remove(&self, name: &str) -> io::Result<()>;
    /// Every file's name.
    fn names(&self) -> io::Result<Vec<String>>;
}

/// The registry in a directory (tmpfs on illumos; any directory in tests).
pub struct DirStore {
    dir: PathBuf,
}

impl DirStore {
    pub fn new(dir: impl Into<PathBuf>) -> DirStore {
        DirStore { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl OwnerStore for DirStore {
    fn location(&self) -> String {
        self.dir.display().to_string()
    }

    fn read(&self, name: &str) -> io::Result<Option<(String, bool)>> {
        let file = match fs::File::open(self.dir.join(name)) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let mut bytes = Vec::new();
        file.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes)?;
        let truncated = bytes.len() as u64 > MAX_FILE_BYTES;
        bytes.truncate(MAX_FILE_BYTES as usize);
        Ok(Some((String::from_utf8_lossy(&bytes).into_owned(), truncated)))
    }

    fn write(&self, name: &str, text: &str) -> io::Result<()> {
        fs::DirBuilder::new().recursive(true).mode(0o700).create(&self.dir)?;
        let temp = self.dir.join(format!(".{name}.{}.tmp", std::process::id()));
        // A temporary file a crashed writer of this pid left: ours to drop.
        let _ = fs::remove_file(&temp);
        let result = (|| {
            // create_new: never through a link someone placed there.
            let mut f = fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&temp)?;
            f.write_all(text.as_bytes())?;
            f.sync_all()?;
            fs::rename(&temp, self.dir.join(name))
        })();
        if result.is_err() {
            let _ = fs::remove_file(&temp);
        }
        result
    }

    fn remove(&self, name: &str) -> io::Result<()> {
        match fs::remove_file(self.dir.join(name)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    fn names(&self) -> io::Result<Vec<String>> {
        let entries = match fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let mut names = Vec::new();
        for entry in entries {
            if let Some(name) = entry?.file_name().to_str()
                && !name.starts_with('.')
            {
                names.push(name.to_string());
            }
        }
        names.sort();
        Ok(names)
    }
}

/// The registry in memory (the simulator's tmpfs).
#[derive(Default)]
pub struct MemStore {
    files: Mutex<BTreeMap<String, String>>,
}

impl MemStore {
    pub fn new() -> MemStore {
        MemStore::default()
    }

    fn files(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, String>> {
        self.files.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Empty it (what a reboot does to tmpfs).
    pub fn clear(&self) {
        self.files().clear();
    }

    /// Put raw text in a file (tests: damaged files).
    pub fn put_raw(&self, name: &str, text: &str) {
        self.files().insert(name.to_string(), text.to_string());
    }

    /// A file's raw text.
    pub fn raw(&self, name: &str) -> Option<String> {
        self.files().get(name).cloned()
    }
}

impl OwnerStore for MemStore {
    fn location(&self) -> String {
        "memory".into()
    }

    fn read(&self, name: &str) -> io::Result<Option<(String, bool)>> {
        Ok(self.files().get(name).map(|text| {
            let limit = MAX_FILE_BYTES as usize;
            if text.len() > limit {
                let mut end = limit;
                while !text.is_char_boundary(end) {
                    end -= 1;
                }
                (text[..end].to_string(), true)
            } else {
                (text.clone(), false)
            }
        }))
    }

    fn write(&self, name: &str, text: &str) -> io::Result<()> {
        self.files().insert(name.to_string(), text.to_string());
        Ok(())
    }

    fn remove(&self, name: &str) -> io::Result<()> {
        self.files().remove(name);
        Ok(())
    }

    fn names(&self) -> io::Result<Vec<String>> {
        Ok(self.files().keys().cloned().collect())
    }
}

/// One FMRI's entries as read, with what was wrong with the file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OwnerFile {
    /// Oldest first.
    pub entries: Vec<OwnerEntry>,
    /// Skipped lines and the like, each naming the file and the line.
    pub warnings: Vec<String>,
}

/// Parse a registry file.  `where_` names it in warnings.
pub fn parse(text: &str, truncated: bool, where_: &str) -> OwnerFile {
    let mut file = OwnerFile::default();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut fields = line.split_whitespace();
        let entry = match (fields.next(), fields.next(), fields.next()) {
            (Some(pid), Some(start), None) => pid
                .parse::<Pid>()
                .ok()
                .filter(|p| *p > 0)
                .zip(start.parse::<u64>().ok())
                .map(|(pid, started_ns)| OwnerEntry { pid, started_ns }),
            _ => None,
        };
        match entry {
            Some(e) if !file.entries.contains(&e) => file.entries.push(e),
            Some(_) => {}
            None => {
                let shown: String = line.chars().take(60).collect();
                file.warnings.push(format!("{where_} line {}: '{shown}' is not 'pid start_time_ns'; skipped", n + 1));
            }
        }
    }
    if truncated {
        file.warnings.push(format!("{where_}: longer than {MAX_FILE_BYTES} bytes; the rest was ignored"));
    }
    file
}

/// The text of a registry file: a comment naming the FMRI, then the
/// newest [`MAX_ENTRIES`] entries, oldest first.
pub fn render(fmri: &Fmri, entries: &[OwnerEntry]) -> String {
    let mut text = format!("# tuntap owner registry of {fmri}\n# pid start_time_ns (newest last)\n");
    for e in &entries[entries.len().saturating_sub(MAX_ENTRIES)..] {
        text.push_str(&format!("{} {}\n", e.pid, e.started_ns));
    }
    text
}

/// Read one FMRI's entries from `store`.  A missing file is no entries.
pub fn load(store: &dyn OwnerStore, fmri: &Fmri) -> Result<OwnerFile, OwnerError> {
    let name = fmri.file_name();
    let where_ = format!("{}/{name}", store.location());
    match store.read(&name) {
        Ok(None) => Ok(OwnerFile::default()),
        Ok(Some((text, truncated))) => Ok(parse(&text, truncated, &where_)),
        Err(e) => Err(OwnerError::Store { what: where_, message: format!("cannot read it: {e}") }),
    }
}

/// Replace one FMRI's entries (removing the file when there are none).
pub fn save(store: &dyn OwnerStore, fmri: &Fmri, entries: &[OwnerEntry]) -> Result<(), OwnerError> {
    let name = fmri.file_name();
    let result = if entries.is_empty() { store.remove(&name) } else { store.write(&name, &render(fmri, entries)) };
    result.map_err(|e| OwnerError::Store {
        what: format!("{}/{name}", store.location()),
        message: format!("cannot write it: {e}"),
    })
}

/// Every FMRI with a file in `store`, with its entries.  Files whose
/// name is no FMRI are skipped with a warning.
pub fn load_all(store: &dyn OwnerStore, warnings: &mut Vec<String>) -> BTreeMap<Fmri, Vec<OwnerEntry>> {
    let mut all = BTreeMap::new();
    let names = match store.names() {
        Ok(n) => n,
        Err(e) => {
            warnings.push(format!("owner registry {}: cannot list it: {e}", store.location()));
            return all;
        }
    };
    for name in names {
        let Some(fmri) = Fmri::from_file_name(&name) else {
            warnings.push(format!("owner registry {}/{name}: not named after an FMRI; ignored", store.location()));
            continue;
        };
        match load(store, &fmri) {
            Ok(file) => {
                warnings.extend(file.warnings);
                all.insert(fmri, file.entries);
            }
            Err(e) => warnings.push(e.to_string()),
        }
    }
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fmris_map_to_file_names_and_back() {
        let f = Fmri::parse("svc:/network/openvpn:office").unwrap();
        assert_eq!(f.file_name(), "network@openvpn+office");
        assert_eq!(Fmri::from_file_name("network@openvpn+office"), Some(f));
        assert_eq!(Fmri::from_file_name(".network@openvpn+office.1.tmp"), None);
        assert_eq!(Fmri::from_file_name("network@openvpn"), None, "no instance");
    }

    #[test]
    fn render_keeps_the_newest_entries() {
        let f = Fmri::parse("svc:/a:b").unwrap();
        let entries: Vec<OwnerEntry> =
            (1..=MAX_ENTRIES as i32 + 5).map(|pid| OwnerEntry { pid, started_ns: pid as u64 }).collect();
        let back = parse(&render(&f, &entries), false, "x");
        assert!(back.warnings.is_empty());
        assert_eq!(back.entries.len(), MAX_ENTRIES);
        assert_eq!(back.entries.first().unwrap().pid, 6);
        assert_eq!(back.entries.last().unwrap().pid, MAX_ENTRIES as i32 + 5);
    }
}
