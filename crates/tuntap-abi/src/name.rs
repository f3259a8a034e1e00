// SPDX-License-Identifier: MPL-2.0
//! Datalink names, with the rules of libdladm's `dladm_valid_linkname()`
//! (`usr/src/lib/libdladm/common/libdladm.c`): shorter than
//! `MAXLINKNAMELEN` (32), not starting with a digit, ending with a digit,
//! made of ASCII letters, digits, `_` and `.`.

use core::fmt;

use crate::LINK_NAME_LEN;

/// Why a name is not a valid datalink name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NameError {
    Empty,
    /// 32 bytes or more (a NUL must still fit).
    TooLong,
    /// No NUL inside the fixed-size field.
    NotTerminated,
    StartsWithDigit,
    NoTrailingDigit,
    /// A byte other than a letter, digit, `_` or `.`.
    BadCharacter(u8),
}

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NameError::Empty => write!(f, "link name is empty"),
            NameError::TooLong => {
                write!(f, "link name is longer than {} characters", LINK_NAME_LEN - 1)
            }
            NameError::NotTerminated => write!(f, "link name is not NUL-terminated"),
            NameError::StartsWithDigit => write!(f, "link name must not start with a digit"),
            NameError::NoTrailingDigit => write!(f, "link name must end with a digit"),
            NameError::BadCharacter(c) => write!(
                f,
                "link name may hold only letters, digits, '_' and '.' (found byte 0x{c:02x})"
            ),
        }
    }
}

/// Check `name` against the datalink-name rules.
pub fn validate_link_name(name: &[u8]) -> Result<(), NameError> {
    let (Some(first), Some(last)) = (name.first(), name.last()) else {
        return Err(NameError::Empty);
    };
    if name.len() >= LINK_NAME_LEN {
        return Err(NameError::TooLong);
    }
    if first.is_ascii_digit() {
        return Err(NameError::StartsWithDigit);
    }
    if !last.is_ascii_digit() {
        return Err(NameError::NoTrailingDigit);
    }
    match name.iter().find(|c| !(c.is_ascii_alphanumeric() || **c == b'_' || **c == b'.')) {
        Some(c) => Err(NameError::BadCharacter(*c)),
        None => Ok(()),
    }
}

/// A valid datalink name, stored inline.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LinkName {
    len: u8,
    bytes: [u8; LINK_NAME_LEN],
}

impl LinkName {
    /// Validate and store `name`.
    pub fn new(name: &str) -> Result<Self, NameError> {
        Self::from_bytes(name.as_bytes())
    }

    /// Validate and store a name given without its NUL.
    pub fn from_bytes(name: &[u8]) -> Result<Self, NameError> {
        validate_link_name(name)?;
        let mut bytes = [0u8; LINK_NAME_LEN];
        bytes.get_mut(..name.len()).ok_or(NameError::TooLong)?.copy_from_slice(name);
        Ok(Self { len: name.len() as u8, bytes })
    }

    /// Parse the NUL-terminated name inside an ABI field.
    pub fn from_field(field: &[u8; LINK_NAME_LEN]) -> Result<Self, NameError> {
        let len = field.iter().position(|c| *c == 0).ok_or(NameError::NotTerminated)?;
        Self::from_bytes(field.get(..len).ok_or(NameError::NotTerminated)?)
    }

    /// The name as text (always ASCII).
    pub fn as_str(&self) -> &str {
        let bytes = self.bytes.get(..usize::from(self.len)).unwrap_or(&[]);
        core::str::from_utf8(bytes).unwrap_or("")
    }

    /// The NUL-padded ABI field.
    pub fn to_bytes(&self) -> [u8; LINK_NAME_LEN] {
        self.bytes
    }

    /// `prefix` followed by the decimal `unit`, e.g. `tun` 3 -> `tun3`.
    pub fn with_unit(prefix: &str, unit: u32) -> Result<Self, NameError> {
        let mut buf = [0u8; LINK_NAME_LEN];
        let p = prefix.as_bytes();
        buf.get_mut(..p.len()).ok_or(NameError::TooLong)?.copy_from_slice(p);
        let mut digits = [0u8; 10];
        let mut n = unit;
        let mut i = digits.len();
        loop {
            i -= 1;
            if let Some(d) = digits.get_mut(i) {
                *d = b'0' + (n % 10) as u8;
            }
            n /= 10;
            if n == 0 || i == 0 {
                break;
            }
        }
        let digits = digits.get(i..).unwrap_or(&[]);
        let end = p.len() + digits.len();
        buf.get_mut(p.len()..end).ok_or(NameError::TooLong)?.copy_from_slice(digits);
        Self::from_bytes(buf.get(..end).ok_or(NameError::TooLong)?)
    }

    /// Split `tun12` into (`tun`, 12).
    pub fn split_unit(&self) -> (&str, Option<u32>) {
        let s = self.as_str();
        let at = s.trim_end_matches(|c: char| c.is_ascii_digit()).len();
        let (prefix, digits) = s.split_at(at);
        (prefix, digits.parse().ok())
    }
}

impl fmt::Debug for LinkName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}

impl fmt::Display for LinkName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_datalink_names() {
        for ok in ["tun0", "tap12", "vpn_office0", "net.1", "a1", "_x0", "T9"] {
            assert_eq!(validate_link_name(ok.as_bytes()), Ok(()), "{ok}");
        }
        let longest = "a".repeat(30) + "1";
        assert_eq!(validate_link_name(longest.as_bytes()), Ok(()));
    }

    #[test]
    fn refuses_bad_names_with_the_reason() {
        assert_eq!(validate_link_name(b""), Err(NameError::Empty));
        assert_eq!(validate_link_name(b"0tun"), Err(NameError::StartsWithDigit));
        assert_eq!(validate_link_name(b"tun"), Err(NameError::NoTrailingDigit));
        assert_eq!(validate_link_name(b"tun-0"), Err(NameError::BadCharacter(b'-')));
        assert_eq!(validate_link_name(b"t\xff0"), Err(NameError::BadCharacter(0xff)));
        assert_eq!(validate_link_name(b"t\x000"), Err(NameError::BadCharacter(0)));
        let too_long = "a".repeat(31) + "1";
        assert_eq!(validate_link_name(too_long.as_bytes()), Err(NameError::TooLong));
    }

    #[test]
    fn fields_must_be_terminated() {
        let mut field = [b'a'; LINK_NAME_LEN];
        assert_eq!(LinkName::from_field(&field), Err(NameError::NotTerminated));
        field[..5].copy_from_slice(b"tun7\0");
        assert_eq!(LinkName::from_field(&field).unwrap().as_str(), "tun7");
    }

    #[test]
    fn units_format_and_split() {
        assert_eq!(LinkName::with_unit("tun", 0).unwrap().as_str(), "tun0");
        assert_eq!(LinkName::with_unit("tap", 65535).unwrap().as_str(), "tap65535");
        assert_eq!(LinkName::with_unit("tun", u32::MAX).unwrap().as_str(), "tun4294967295");
        assert_eq!(LinkName::new("tun20").unwrap().split_unit(), ("tun", Some(20)));
        assert!(LinkName::with_unit(&"x".repeat(30), 100).is_err());
    }
}
