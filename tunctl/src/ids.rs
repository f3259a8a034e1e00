// SPDX-License-Identifier: MPL-2.0
//! Users and groups by name or number through the name service
//! (`getpwnam_r`, `getgrnam_r`, `getpwuid_r`, `getgrgid_r`), so LDAP and
//! NIS users work as they do for `dladm` and `chown`, not only
//! `/etc/passwd`.

use std::ffi::{CStr, CString};

/// The largest buffer tried for one entry (the calls say `ERANGE` while
/// the buffer is too small).
const MAX_BUF: usize = 1 << 20;

/// Run a `get*_r` call with growing buffers; `Ok(true)` when it found the
/// entry.
fn lookup(mut call: impl FnMut(&mut [libc::c_char]) -> (libc::c_int, bool)) -> Result<bool, String> {
    let mut size = 1024;
    loop {
        let mut buf = vec![0 as libc::c_char; size];
        let (rc, found) = call(&mut buf);
        match rc {
            0 => return Ok(found),
            libc::ERANGE if size < MAX_BUF => size *= 4,
            // Not found is 0 with a null result, but some name services
            // report it as ENOENT or ESRCH.
            libc::ENOENT | libc::ESRCH => return Ok(false),
            e => return Err(std::io::Error::from_raw_os_error(e).to_string()),
        }
    }
}

fn numeric(text: &str) -> Option<Result<u32, String>> {
    let n = text.parse::<u32>().ok()?;
    Some(if n == u32::MAX { Err(format!("{text} is not a valid id")) } else { Ok(n) })
}

/// A user given as a name or a number.
pub fn user_id(text: &str) -> Result<u32, String> {
    if let Some(n) = numeric(text) {
        return n;
    }
    let name = CString::new(text).map_err(|_| format!("no such user '{text}'"))?;
    let mut uid = None;
    let found = lookup(|buf| {
        // SAFETY: all-zero is a valid passwd (pointers null).
        let mut pw: libc::passwd = unsafe { std::mem::zeroed() };
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        // SAFETY: name is NUL-terminated; pw, buf and result live across
        // the call and buf.len() is buf's size.
        let rc = unsafe { libc::getpwnam_r(name.as_ptr(), &mut pw, buf.as_mut_ptr(), buf.len(), &mut result) };
        if rc == 0 && !result.is_null() {
            uid = Some(pw.pw_uid);
        }
        (rc, !result.is_null())
    })
    .map_err(|e| format!("cannot look up user '{text}': {e}"))?;
    match (found, uid) {
        (true, Some(uid)) => Ok(uid),
        _ => Err(format!("no such user '{text}'")),
    }
}

/// A group given as a name or a number.
pub fn group_id(text: &str) -> Result<u32, String> {
    if let Some(n) = numeric(text) {
        return n;
    }
    let name = CString::new(text).map_err(|_| format!("no such group '{text}'"))?;
    let mut gid = None;
    let found = lookup(|buf| {
        // SAFETY: all-zero is a valid group (pointers null).
        let mut gr: libc::group = unsafe { std::mem::zeroed() };
        let mut result: *mut libc::group = std::ptr::null_mut();
        // SAFETY: as in user_id.
        let rc = unsafe { libc::getgrnam_r(name.as_ptr(), &mut gr, buf.as_mut_ptr(), buf.len(), &mut result) };
        if rc == 0 && !result.is_null() {
            gid = Some(gr.gr_gid);
        }
        (rc, !result.is_null())
    })
    .map_err(|e| format!("cannot look up group '{text}': {e}"))?;
    match (found, gid) {
        (true, Some(gid)) => Ok(gid),
        _ => Err(format!("no such group '{text}'")),
    }
}

/// The name of a user id, if the name service knows it.
pub fn user_name(uid: u32) -> Option<String> {
    let mut name = None;
    lookup(|buf| {
        // SAFETY: all-zero is a valid passwd.
        let mut pw: libc::passwd = unsafe { std::mem::zeroed() };
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        // SAFETY: pw, buf and result live across the call.
        let rc = unsafe { libc::getpwuid_r(uid, &mut pw, buf.as_mut_ptr(), buf.len(), &mut result) };
        if rc == 0 && !result.is_null() && !pw.pw_name.is_null() {
            // SAFETY: pw_name points into buf, NUL-terminated by the call.
            name = Some(unsafe { CStr::from_ptr(pw.pw_name) }.to_string_lossy().into_owned());
        }
        (rc, !result.is_null())
    })
    .ok()?;
    name
}

/// The name of a group id, if the name service knows it.
pub fn group_name(gid: u32) -> Option<String> {
    let mut name = None;
    lookup(|buf| {
        // SAFETY: all-zero is a valid group.
        let mut gr: libc::group = unsafe { std::mem::zeroed() };
        let mut result: *mut libc::group = std::ptr::null_mut();
        // SAFETY: gr, buf and result live across the call.
        let rc = unsafe { libc::getgrgid_r(gid, &mut gr, buf.as_mut_ptr(), buf.len(), &mut result) };
        if rc == 0 && !result.is_null() && !gr.gr_name.is_null() {
            // SAFETY: gr_name points into buf, NUL-terminated by the call.
            name = Some(unsafe { CStr::from_ptr(gr.gr_name) }.to_string_lossy().into_owned());
        }
        (rc, !result.is_null())
    })
    .ok()?;
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers_resolve_both_ways() {
        assert_eq!(user_id("root"), Ok(0));
        assert_eq!(user_id("4242"), Ok(4242));
        assert_eq!(user_id("nosuchuser_x"), Err("no such user 'nosuchuser_x'".into()));
        assert_eq!(group_id("root"), Ok(0));
        assert_eq!(group_id("nosuchgroup_x"), Err("no such group 'nosuchgroup_x'".into()));
        assert_eq!(user_id("4294967295"), Err("4294967295 is not a valid id".into()));
        assert_eq!(user_name(0).as_deref(), Some("root"));
        assert_eq!(group_name(0).as_deref(), Some("root"));
        assert_eq!(user_name(4_000_000_000), None);
    }
}
