// SPDX-License-Identifier: MPL-2.0
//! From C arguments to library requests, and from [`TunLink`] to
//! `dltun_info_t`.  Every C string is read with a bound, so a string
//! without its NUL is refused rather than read past.

use std::ffi::{CStr, c_char};

use libdladm_plugin::{
    CreateRequest, Error, ErrorKind, MacAddr, Mode, ModifyRequest, Origin, TunLink,
};

use crate::Fail;
use crate::abi::*;

/// Longest MAC text read ("02:08:20:0a:0b:0c" is 17 bytes).
const MAC_TEXT_MAX: usize = 64;

/// Read a NUL-terminated string of at most `max - 1` bytes.
///
/// # Safety
/// `ptr` is null or points to at least `min(max, strlen + 1)` readable
/// bytes (a C string, or a buffer of `max` bytes).
unsafe fn bounded_str<'a>(ptr: *const c_char, max: usize, what: &str) -> Result<&'a str, Fail> {
    if ptr.is_null() {
        return Err(Fail::badarg(format!("no {what} (null pointer)")));
    }
    let mut len = 0;
    loop {
        if len == max {
            return Err(Fail::badarg(format!("{what} is not NUL-terminated within {max} bytes (too long)")));
        }
        // SAFETY: bytes 0..len are non-NUL and readable, so the string
        // continues: byte `len` is readable (the caller's contract).
        if unsafe { *ptr.add(len) } == 0 {
            break;
        }
        len += 1;
    }
    // SAFETY: `len` readable bytes followed by the NUL at `len`.
    let bytes = unsafe { CStr::from_ptr(ptr) }.to_bytes();
    std::str::from_utf8(bytes).map_err(|_| Fail::badarg(format!("{what} is not valid UTF-8")))
}

/// A link name argument.
///
/// # Safety
/// As [`bounded_str`].
pub unsafe fn link_name<'a>(ptr: *const c_char) -> Result<&'a str, Fail> {
    // SAFETY: the caller's contract.
    unsafe { bounded_str(ptr, DLTUN_NAMELEN, "link name") }
}

/// A MAC address argument for link `name`.
///
/// # Safety
/// As [`bounded_str`].
unsafe fn mac_arg(name: &str, ptr: *const c_char) -> Result<MacAddr, Fail> {
    // SAFETY: the caller's contract.
    let text = unsafe { bounded_str(ptr, MAC_TEXT_MAX, "MAC address") }?;
    text.parse::<MacAddr>()
        .map_err(|reason| Fail::from(Error::new(name, ErrorKind::InvalidMac { text: text.to_string(), reason })))
}

fn check_bits(value: u32, allowed: u32, what: &str) -> Result<(), Fail> {
    match value & !allowed {
        0 => Ok(()),
        unknown => Err(Fail::badarg(format!("unknown {what} 0x{unknown:x}"))),
    }
}

/// Refuse flags other than `allowed`.
pub fn check_flags(flags: u32, allowed: u32) -> Result<(), Fail> {
    check_bits(flags, allowed, "flag(s)")
}

fn id(v: u32) -> Option<u32> {
    (v != DLTUN_NOID).then_some(v)
}

/// `dltun_attr_t` to a create request.
///
/// # Safety
/// `attr`'s string pointers follow [`bounded_str`]'s contract.
pub unsafe fn create_request(attr: &dltun_attr_t) -> Result<CreateRequest, Fail> {
    // SAFETY: the caller's contract.
    let name = unsafe { link_name(attr.da_name) }?;
    let mode = match attr.da_mode {
        DLTUN_MODE_TUN => Mode::Tun,
        DLTUN_MODE_TAP => Mode::Tap,
        other => return Err(Fail::badarg(format!("link {name}: unknown mode {other} (use DLTUN_MODE_TUN or DLTUN_MODE_TAP)"))),
    };
    check_bits(attr.da_flags, DLTUN_OPT_TEMPORARY, "da_flags bit(s)")?;
    check_bits(attr.da_set, DLTUN_ATTR_ALL, "da_set bit(s)")?;
    let given = |bit| attr.da_set & bit != 0;
    let mac = if given(DLTUN_ATTR_MACADDR) {
        // SAFETY: the caller's contract.
        Some(unsafe { mac_arg(name, attr.da_macaddr) }?)
    } else {
        None
    };
    Ok(CreateRequest {
        name: name.to_string(),
        mode,
        persistent: attr.da_flags & DLTUN_OPT_TEMPORARY == 0,
        mtu: given(DLTUN_ATTR_MTU).then_some(attr.da_mtu),
        mac,
        owner: if given(DLTUN_ATTR_OWNER) { id(attr.da_owner) } else { None },
        group: if given(DLTUN_ATTR_GROUP) { id(attr.da_group) } else { None },
        link_props: Vec::new(),
    })
}

/// `dltun_modify_t` to a modify request for link `name`.
///
/// # Safety
/// `m.dm_macaddr` follows [`bounded_str`]'s contract.
pub unsafe fn modify_request(name: &str, m: &dltun_modify_t, flags: u32) -> Result<ModifyRequest, Fail> {
    check_bits(m.dm_set, DLTUN_ATTR_ALL, "dm_set bit(s)")?;
    if m.dm_set == 0 {
        return Err(Fail::badarg(format!("link {name}: nothing to change (dm_set is 0)")));
    }
    let given = |bit| m.dm_set & bit != 0;
    let mac = if given(DLTUN_ATTR_MACADDR) {
        // SAFETY: the caller's contract.
        Some(unsafe { mac_arg(name, m.dm_macaddr) }?)
    } else {
        None
    };
    Ok(ModifyRequest {
        mtu: given(DLTUN_ATTR_MTU).then_some(m.dm_mtu),
        mac,
        owner: given(DLTUN_ATTR_OWNER).then_some(id(m.dm_owner)),
        group: given(DLTUN_ATTR_GROUP).then_some(id(m.dm_group)),
        link_props: Vec::new(),
        temporary: flags & DLTUN_OPT_TEMPORARY != 0,
    })
}

/// Copy `text` into a fixed C field, truncated to leave room for the NUL.
fn put(field: &mut [c_char], text: &str) {
    let room = field.len().saturating_sub(1);
    for (slot, byte) in field.iter_mut().zip(text.bytes().take(room).chain(std::iter::repeat(0))) {
        *slot = byte as c_char;
    }
}

fn mode_code(mode: Mode) -> u32 {
    match mode {
        Mode::Tun => DLTUN_MODE_TUN,
        Mode::Tap => DLTUN_MODE_TAP,
    }
}

/// Describe `link`: the running link, or (`persistent_view`, or when it
/// is not running) its configuration.  `None` when the persistent view is
/// asked for a link without configuration.
pub fn info(link: &TunLink, persistent_view: bool) -> Option<dltun_info_t> {
    let mut out = dltun_info_t::default();
    put(&mut out.di_name, &link.name);
    out.di_linkid = link.linkid;
    out.di_mode = mode_code(link.mode);
    out.di_zoneid = link.zone;
    put(&mut out.di_zonename, &link.zone_name);
    if link.persistent {
        out.di_flags |= DLTUN_INFO_PERSISTENT;
    }
    if link.active {
        out.di_flags |= DLTUN_INFO_ACTIVE;
    }
    match (&link.kernel, persistent_view) {
        (Some(k), false) => {
            out.di_mode = mode_code(k.mode);
            out.di_state = if k.link_up { DLTUN_STATE_UP } else { DLTUN_STATE_DOWN };
            if k.carrier {
                out.di_flags |= DLTUN_INFO_CARRIER;
            }
            if k.exclusive {
                out.di_flags |= DLTUN_INFO_EXCLUSIVE;
            }
            if k.kernel_persist {
                out.di_flags |= DLTUN_INFO_KEEP;
            }
            out.di_origin = match k.origin {
                Origin::Admin => DLTUN_ORIGIN_ADMIN,
                Origin::OldApi => DLTUN_ORIGIN_OLDAPI,
                Origin::Attach => DLTUN_ORIGIN_ATTACH,
            };
            out.di_mtu = k.mtu;
            out.di_owner = k.owner.unwrap_or(DLTUN_NOID);
            out.di_group = k.group.unwrap_or(DLTUN_NOID);
            if k.mode == Mode::Tap {
                // A tun link has no link-layer address to show.
                out.di_mac = k.mac.0;
                put(&mut out.di_macaddr, &k.mac.to_string());
            }
            out.di_nqueues = k.queues;
            for (slot, pid) in out.di_pids.iter_mut().zip(&k.pids) {
                *slot = *pid;
                out.di_npids += 1;
            }
            out.di_creator_pid = k.creator_pid;
            out.di_created_ns = k.created_ns;
            let c = &k.counters;
            out.di_counters = dltun_counters_t {
                dc_ipackets: c.ipackets,
                dc_rbytes: c.rbytes,
                dc_opackets: c.opackets,
                dc_obytes: c.obytes,
                dc_ierrors: c.ierrors,
                dc_oerrors: c.oerrors,
                dc_norcvbuf: c.norcvbuf,
                dc_noxmtbuf: c.noxmtbuf,
            };
        }
        _ => {
            let Some(c) = &link.config else {
                // Running but asked for the persistent view of a
                // temporary link: there is no configuration to show.
                return None;
            };
            out.di_mode = mode_code(c.mode);
            out.di_state = match &link.kernel {
                Some(k) if k.link_up => DLTUN_STATE_UP,
                Some(_) => DLTUN_STATE_DOWN,
                None => DLTUN_STATE_CONFIGURED,
            };
            out.di_mtu = c.mtu.unwrap_or(0);
            out.di_owner = c.owner.unwrap_or(DLTUN_NOID);
            out.di_group = c.group.unwrap_or(DLTUN_NOID);
            if let Some(mac) = c.mac {
                out.di_mac = mac.0;
                put(&mut out.di_macaddr, &mac.to_string());
            }
        }
    }
    Some(out)
}
