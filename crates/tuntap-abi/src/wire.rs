// SPDX-License-Identifier: MPL-2.0
//! Byte-level encoding of ABI structures: exact-size checks, no panics.

use core::mem::size_of;

use crate::TUN_ABI_VERSION;

/// Plain old data: `#[repr(C)]`, integer and byte-array fields only, no
/// implicit padding, every bit pattern valid.
///
/// # Safety
/// Implement only for types that meet every condition above.
pub unsafe trait Pod: Copy + 'static {}

// SAFETY: integers are plain old data.
unsafe impl Pod for u32 {}
// SAFETY: integers are plain old data.
unsafe impl Pod for i32 {}

/// Why a payload was refused.  Each maps to one errno.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AbiError {
    /// The payload is not exactly the structure's size (`EINVAL`).
    BadSize { expected: usize, got: usize },
    /// The `version` field names an ABI this side does not speak
    /// (`ENOTSUP`).
    BadVersion { got: u32 },
    /// A flag outside the defined set (`EINVAL`).
    UnknownFlags { bits: u32 },
}

/// Decode `bytes` as a `T`, which must be exactly `size_of::<T>()` long.
pub fn decode<T: Pod>(bytes: &[u8]) -> Result<T, AbiError> {
    if bytes.len() != size_of::<T>() {
        return Err(AbiError::BadSize { expected: size_of::<T>(), got: bytes.len() });
    }
    // SAFETY: the length was checked; T is Pod, so any bytes form a valid
    // T; read_unaligned has no alignment requirement.
    Ok(unsafe { core::ptr::read_unaligned(bytes.as_ptr().cast::<T>()) })
}

/// Decode a versioned structure: its first four bytes are the version.
pub fn decode_versioned<T: Pod>(bytes: &[u8]) -> Result<T, AbiError> {
    let value = decode::<T>(bytes)?;
    let version = bytes
        .get(..4)
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map(u32::from_ne_bytes)
        .unwrap_or(0);
    if version != TUN_ABI_VERSION {
        return Err(AbiError::BadVersion { got: version });
    }
    Ok(value)
}

/// Refuse bits outside `allowed`.
pub fn check_flags(flags: u32, allowed: u32) -> Result<(), AbiError> {
    match flags & !allowed {
        0 => Ok(()),
        bits => Err(AbiError::UnknownFlags { bits }),
    }
}

/// The bytes of a `T`.
pub fn as_bytes<T: Pod>(value: &T) -> &[u8] {
    // SAFETY: T is Pod (no padding, fully initialised), so its
    // size_of::<T>() bytes may be read as u8 for the borrow's lifetime.
    unsafe { core::slice::from_raw_parts((value as *const T).cast::<u8>(), size_of::<T>()) }
}

/// Copy `value` into the front of `out`; `None` if `out` is too short.
pub fn encode_into<T: Pod>(value: &T, out: &mut [u8]) -> Option<usize> {
    let bytes = as_bytes(value);
    out.get_mut(..bytes.len())?.copy_from_slice(bytes);
    Some(bytes.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{TunIocDelete, TunIocInfo};

    #[test]
    fn decode_checks_exact_size() {
        let d = TunIocDelete { version: 1, flags: 0, linkid: 5, _pad: 0 };
        let bytes = as_bytes(&d);
        assert_eq!(decode::<TunIocDelete>(bytes), Ok(d));
        assert_eq!(
            decode::<TunIocDelete>(&bytes[..15]),
            Err(AbiError::BadSize { expected: 16, got: 15 })
        );
        let mut long = [0u8; 17];
        long[..16].copy_from_slice(bytes);
        assert!(matches!(decode::<TunIocDelete>(&long), Err(AbiError::BadSize { .. })));
        assert!(matches!(decode::<TunIocDelete>(&[]), Err(AbiError::BadSize { .. })));
    }

    #[test]
    fn decode_versioned_refuses_other_versions() {
        let mut d = TunIocDelete { version: 2, flags: 0, linkid: 5, _pad: 0 };
        assert_eq!(
            decode_versioned::<TunIocDelete>(as_bytes(&d)),
            Err(AbiError::BadVersion { got: 2 })
        );
        d.version = 1;
        assert!(decode_versioned::<TunIocDelete>(as_bytes(&d)).is_ok());
    }

    #[test]
    fn flags_outside_the_set_are_named() {
        assert_eq!(check_flags(0x3, 0x3), Ok(()));
        assert_eq!(check_flags(0x13, 0x3), Err(AbiError::UnknownFlags { bits: 0x10 }));
    }

    #[test]
    fn encode_round_trips_and_refuses_short_buffers() {
        let info = TunIocInfo { linkid: 9, mtu: 9000, ..TunIocInfo::default() };
        let mut buf = [0u8; 512];
        let n = encode_into(&info, &mut buf).unwrap();
        assert_eq!(decode::<TunIocInfo>(&buf[..n]), Ok(info));
        let mut short = [0u8; 8];
        assert_eq!(encode_into(&info, &mut short), None);
    }
}
