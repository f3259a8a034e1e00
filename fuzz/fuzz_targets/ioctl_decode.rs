// SPDX-License-Identifier: MPL-2.0
//! Fuzz the ioctl ABI decoding of tuntap-abi: `decode`/`decode_versioned`
//! of every ABI structure (at the input's own length and cut to the exact
//! size, so both the size check and the field paths are reached), the
//! flag checks, and the datalink-name rules.
#![no_main]

use core::mem::size_of;

use libfuzzer_sys::fuzz_target;
use tuntap_abi::*;

/// Decode `data` as a `T` both ways and check the round trip.
fn decode_all<T: Pod + PartialEq + core::fmt::Debug>(data: &[u8], each: impl Fn(&T)) {
    let exact = data.get(..size_of::<T>());
    for bytes in [Some(data), exact].into_iter().flatten() {
        match decode::<T>(bytes) {
            Ok(v) => {
                assert_eq!(bytes.len(), size_of::<T>());
                assert_eq!(as_bytes(&v), bytes);
                let mut buf = [0u8; 512];
                assert_eq!(encode_into(&v, &mut buf), Some(size_of::<T>()));
                assert_eq!(decode::<T>(&buf[..size_of::<T>()]), Ok(v));
                assert_eq!(encode_into(&v, &mut buf[..size_of::<T>().saturating_sub(1)]), None);
                each(&v);
            }
            Err(AbiError::BadSize { expected, got }) => {
                assert_eq!(expected, size_of::<T>());
                assert_eq!(got, bytes.len());
                assert_ne!(got, expected);
            }
            Err(e) => panic!("decode can only fail on size, got {e:?}"),
        }
        match decode_versioned::<T>(bytes) {
            Ok(v) => {
                assert_eq!(as_bytes(&v).get(..4), Some(&TUN_ABI_VERSION.to_ne_bytes()[..]));
                each(&v);
            }
            Err(AbiError::BadVersion { got }) => assert_ne!(got, TUN_ABI_VERSION),
            Err(AbiError::BadSize { .. }) => assert!(decode::<T>(bytes).is_err()),
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
}

fn check_name_field(field: &[u8; LINK_NAME_LEN]) {
    if let Ok(name) = LinkName::from_field(field) {
        let s = name.as_str();
        assert!(validate_link_name(s.as_bytes()).is_ok());
        let len = s.len();
        let stored = name.to_bytes();
        assert_eq!(stored[..len], field[..len]);
        assert!(stored[len..].iter().all(|c| *c == 0));
        let (prefix, unit) = name.split_unit();
        assert!(!prefix.is_empty());
        if let Some(u) = unit {
            // Leading zeros ("tun007") do not survive the round trip.
            if let Ok(again) = LinkName::with_unit(prefix, u) {
                assert_eq!(again.split_unit(), (prefix, Some(u)));
            }
        }
    }
}

fn flags_checked(flags: u32, all: u32) {
    match check_flags(flags, all) {
        Ok(()) => assert_eq!(flags & !all, 0),
        Err(AbiError::UnknownFlags { bits }) => assert_eq!(bits, flags & !all),
        Err(e) => panic!("unexpected {e:?}"),
    }
}

fuzz_target!(|data: &[u8]| {
    decode_all::<TunIocCreate>(data, |v| {
        check_name_field(&v.name);
        flags_checked(v.flags, create_flags::ALL);
    });
    decode_all::<TunIocDelete>(data, |v| flags_checked(v.flags, delete_flags::ALL));
    decode_all::<TunIocAttach>(data, |v| {
        check_name_field(&v.name);
        flags_checked(v.flags, attach_flags::ALL);
    });
    decode_all::<TunIocModify>(data, |v| flags_checked(v.what, modify_what::ALL));
    decode_all::<TunIocInfo>(data, |v| check_name_field(&v.name));
    decode_all::<TunIocList>(data, |_| {});
    decode_all::<TunIocQueueLimits>(data, |_| {});
    decode_all::<TunCounters>(data, |_| {});
    decode_all::<PacketInfo>(data, |_| {});
    decode_all::<u32>(data, |_| {});
    decode_all::<i32>(data, |_| {});

    // Names: raw bytes, and every 32-byte window as an ABI field.
    match validate_link_name(data) {
        Ok(()) => {
            let name = LinkName::from_bytes(data).expect("valid name stores");
            assert_eq!(name.as_str().as_bytes(), data);
            let mut field = [0u8; LINK_NAME_LEN];
            field[..data.len()].copy_from_slice(data);
            assert_eq!(LinkName::from_field(&field), Ok(name));
        }
        Err(e) => assert_eq!(LinkName::from_bytes(data), Err(e)),
    }
    for window in data.windows(LINK_NAME_LEN).take(64) {
        if let Ok(field) = <&[u8; LINK_NAME_LEN]>::try_from(window) {
            check_name_field(field);
        }
    }
    if let (Some((&hi, rest)), Some(unit)) =
        (data.split_first(), data.get(1..5).map(|b| u32::from_le_bytes(b.try_into().unwrap_or([0; 4]))))
    {
        let prefix_len = usize::from(hi % 40).min(rest.len());
        if let Ok(prefix) = core::str::from_utf8(&rest[..prefix_len]) {
            if let Ok(n) = LinkName::with_unit(prefix, unit) {
                assert!(validate_link_name(n.as_str().as_bytes()).is_ok());
                assert!(n.as_str().starts_with(prefix));
                if !prefix.ends_with(|c: char| c.is_ascii_digit()) {
                    assert_eq!(n.split_unit(), (prefix, Some(unit)));
                }
            }
        }
    }
});
