// SPDX-License-Identifier: MPL-2.0
//! `libdltun`: the C interface to tun/tap link management
//! (`libdltun.so.1`, header `include/libdltun.h`), over
//! [`libdladm_plugin::TunAdm`].
//!
//! Theory statement.
//! * Every exported function runs its body inside [`std::panic::catch_unwind`]
//!   ([`guard`]); a panic becomes `DLTUN_STATUS_INTERNAL` with the panic
//!   message in `dltun_errmsg`, so nothing unwinds into C.  The library
//!   must therefore be built with `panic = "unwind"` (the default).
//! * Arguments are checked before anything is done: null pointers,
//!   unknown flags, bits and modes, and strings that are not
//!   NUL-terminated within their bound or not UTF-8 give
//!   `DLTUN_STATUS_BADARG` ([`convert`]).  Everything else is the
//!   library's validation and its [`libdladm_plugin::Status`] codes,
//!   passed through unchanged.
//! * A handle (`dltun_handle_t`) owns a `TunAdm` over the backend
//!   platform ([`backend`]) and the message of its last failure.  Entry
//!   points take it by shared reference (the message sits in a
//!   `RefCell` that is never borrowed across a callback), so a walk or
//!   up callback may call back into the library with the same handle.
//!   A handle is not thread-safe; C callers use one per thread or
//!   serialise.

use std::cell::RefCell;
use std::ffi::{CString, c_char, c_void};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::OnceLock;

use libdladm_plugin::{DeleteOptions, Error, Status, TunAdm, UpOutcome};

pub mod abi;
mod backend;
mod convert;
#[cfg(feature = "sim")]
pub mod sim;

use abi::*;
use backend::BackendPlatform;

/// An open handle (`dltun_handle_t`, opaque to C).
#[allow(non_camel_case_types)]
pub struct dltun_handle {
    adm: TunAdm<BackendPlatform>,
    extra: backend::Extra,
    last_error: RefCell<CString>,
}

#[allow(non_camel_case_types)]
pub type dltun_handle_t = dltun_handle;

/// A failed call: the status and the message for `dltun_errmsg`.
#[derive(Debug)]
pub struct Fail {
    pub status: dltun_status_t,
    pub message: String,
}

impl Fail {
    pub fn badarg(message: String) -> Fail {
        Fail { status: DLTUN_STATUS_BADARG, message }
    }
}

impl From<Error> for Fail {
    fn from(e: Error) -> Fail {
        Fail { status: e.status() as u32 as dltun_status_t, message: e.to_string() }
    }
}

fn text(s: &str) -> CString {
    // Messages never hold NUL; if one did, cut it there.
    CString::new(s.split('\0').next().unwrap_or_default()).unwrap_or_default()
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_string()
    }
}

/// Run `body`, catching panics; record the outcome on `handle` (if any)
/// and return its status.
fn guard(handle: Option<&dltun_handle>, body: impl FnOnce() -> Result<(), Fail>) -> dltun_status_t {
    let outcome = match catch_unwind(AssertUnwindSafe(body)) {
        Ok(r) => r,
        Err(payload) => Err(Fail {
            status: DLTUN_STATUS_INTERNAL,
            message: format!("internal error in libdltun: {}", panic_message(payload.as_ref())),
        }),
    };
    let (status, message) = match outcome {
        Ok(()) => (DLTUN_STATUS_OK, String::new()),
        Err(f) => (f.status, f.message),
    };
    if let Some(Ok(mut slot)) = handle.map(|h| h.last_error.try_borrow_mut()) {
        *slot = text(&message);
    }
    status
}

/// The handle behind `ptr`.
///
/// # Safety
/// `ptr` is null or a handle from `dltun_open` not yet closed.
unsafe fn handle_ref<'a>(ptr: *const dltun_handle) -> Option<&'a dltun_handle> {
    // SAFETY: the caller's contract.
    unsafe { ptr.as_ref() }
}

/// Entry with a handle: a null handle is BADARG (with no message slot).
///
/// # Safety
/// As [`handle_ref`].
unsafe fn with_handle(
    ptr: *const dltun_handle,
    body: impl FnOnce(&dltun_handle) -> Result<(), Fail>,
) -> dltun_status_t {
    // SAFETY: the caller's contract.
    match unsafe { handle_ref(ptr) } {
        Some(h) => guard(Some(h), || body(h)),
        None => DLTUN_STATUS_BADARG,
    }
}

fn null_check<T>(ptr: *const T, what: &str) -> Result<(), Fail> {
    if ptr.is_null() { Err(Fail::badarg(format!("no {what} (null pointer)"))) } else { Ok(()) }
}

thread_local! {
    /// Why the last `dltun_open` on this thread failed ("" after a
    /// success): what `dltun_errmsg(NULL)` returns.
    static OPEN_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

fn set_open_error(reason: &str) {
    OPEN_ERROR.with(|slot| {
        if let Ok(mut slot) = slot.try_borrow_mut() {
            *slot = text(reason);
        }
    });
}

/// Open a handle.  See `libdltun.h`.
///
/// # Safety
/// `handlep` is null or valid for writing one pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dltun_open(handlep: *mut *mut dltun_handle) -> dltun_status_t {
    if handlep.is_null() {
        return DLTUN_STATUS_BADARG;
    }
    let opened = catch_unwind(backend::open);
    let (status, reason) = match opened {
        Ok(Ok((adm, extra))) => {
            let h = Box::new(dltun_handle { adm, extra, last_error: RefCell::new(CString::default()) });
            // SAFETY: handlep is non-null and writable (the contract).
            unsafe { *handlep = Box::into_raw(h) };
            set_open_error("");
            return DLTUN_STATUS_OK;
        }
        Ok(Err(reason)) => (DLTUN_STATUS_UNAVAIL, reason),
        Err(p) => (DLTUN_STATUS_INTERNAL, format!("internal error in libdltun: {}", panic_message(p.as_ref()))),
    };
    set_open_error(&reason);
    // SAFETY: as above.
    unsafe { *handlep = std::ptr::null_mut() };
    status
}

/// Close a handle.
///
/// # Safety
/// `handle` is null or a handle from `dltun_open`, not used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dltun_close(handle: *mut dltun_handle) -> dltun_status_t {
    if handle.is_null() {
        return DLTUN_STATUS_OK;
    }
    // SAFETY: the handle came from Box::into_raw in dltun_open and is
    // closed once (the contract).
    let h = unsafe { Box::from_raw(handle) };
    let dltun_handle { adm, extra, .. } = *h;
    match catch_unwind(AssertUnwindSafe(|| backend::close(adm, extra))) {
        Ok(()) => DLTUN_STATUS_OK,
        Err(_) => DLTUN_STATUS_INTERNAL,
    }
}

/// Create a link.
///
/// # Safety
/// `handle` as for `dltun_close`; `attr` null or a valid `dltun_attr_t`
/// whose strings are null or NUL-terminated; `linkidp` null or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dltun_create(
    handle: *mut dltun_handle,
    attr: *const dltun_attr_t,
    linkidp: *mut u32,
) -> dltun_status_t {
    // SAFETY: the caller's contract.
    unsafe {
        with_handle(handle, |h| {
            null_check(attr, "attributes (dltun_attr_t)")?;
            // SAFETY: attr is non-null and valid (the contract).
            let req = convert::create_request(&*attr)?;
            let link = h.adm.create(&req)?;
            if !linkidp.is_null() {
                *linkidp = link.linkid;
            }
            Ok(())
        })
    }
}

/// Delete a link.
///
/// # Safety
/// `handle` as for `dltun_close`; `link` null or a C string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dltun_delete(handle: *mut dltun_handle, link: *const c_char, flags: u32) -> dltun_status_t {
    // SAFETY: the caller's contract.
    unsafe {
        with_handle(handle, |h| {
            let name = convert::link_name(link)?;
            convert::check_flags(flags, DLTUN_OPT_TEMPORARY | DLTUN_OPT_FORCE)?;
            let opts = DeleteOptions {
                temporary: flags & DLTUN_OPT_TEMPORARY != 0,
                force: flags & DLTUN_OPT_FORCE != 0,
            };
            h.adm.delete(name, opts)?;
            Ok(())
        })
    }
}

fn no_configuration(name: &str) -> Fail {
    Fail {
        status: DLTUN_STATUS_NOTFOUND,
        message: format!("link {name}: has no persistent configuration (it is a temporary link)"),
    }
}

/// Describe one link.
///
/// # Safety
/// `handle` as for `dltun_close`; `link` null or a C string; `infop` null
/// or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dltun_info(
    handle: *mut dltun_handle,
    link: *const c_char,
    flags: u32,
    infop: *mut dltun_info_t,
) -> dltun_status_t {
    // SAFETY: the caller's contract.
    unsafe {
        with_handle(handle, |h| {
            let name = convert::link_name(link)?;
            convert::check_flags(flags, DLTUN_OPT_PERSIST)?;
            null_check(infop, "info buffer (dltun_info_t)")?;
            let shown = h.adm.show(name)?;
            let info = convert::info(&shown, flags & DLTUN_OPT_PERSIST != 0).ok_or_else(|| no_configuration(name))?;
            infop.write(info);
            Ok(())
        })
    }
}

/// Call `cb` for every link.
///
/// # Safety
/// `handle` as for `dltun_close`; `cb` null or a function of the
/// `dltun_walk_cb_t` type; `arg` whatever `cb` expects.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dltun_walk(
    handle: *mut dltun_handle,
    flags: u32,
    cb: dltun_walk_cb_t,
    arg: *mut c_void,
) -> dltun_status_t {
    // SAFETY: the caller's contract.
    unsafe {
        with_handle(handle, |h| {
            convert::check_flags(flags, DLTUN_OPT_PERSIST)?;
            let cb = cb.ok_or_else(|| Fail::badarg("no walk callback (null pointer)".into()))?;
            let links = h.adm.list()?;
            for link in &links {
                let Some(info) = convert::info(link, flags & DLTUN_OPT_PERSIST != 0) else { continue };
                if cb(&info, arg) != DLTUN_WALK_CONTINUE {
                    break;
                }
            }
            Ok(())
        })
    }
}

/// Change a link.
///
/// # Safety
/// `handle` as for `dltun_close`; `link` null or a C string; `m` null or a
/// valid `dltun_modify_t` whose string is null or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dltun_modify(
    handle: *mut dltun_handle,
    link: *const c_char,
    m: *const dltun_modify_t,
    flags: u32,
) -> dltun_status_t {
    // SAFETY: the caller's contract.
    unsafe {
        with_handle(handle, |h| {
            let name = convert::link_name(link)?;
            convert::check_flags(flags, DLTUN_OPT_TEMPORARY)?;
            null_check(m, "changes (dltun_modify_t)")?;
            let req = convert::modify_request(name, &*m, flags)?;
            h.adm.modify(name, &req)?;
            Ok(())
        })
    }
}

/// Bring up configured links.
///
/// # Safety
/// `handle` as for `dltun_close`; `link` null (every link) or a C string;
/// `cb` null or a function of the `dltun_up_cb_t` type.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dltun_up(
    handle: *mut dltun_handle,
    link: *const c_char,
    cb: dltun_up_cb_t,
    arg: *mut c_void,
) -> dltun_status_t {
    // SAFETY: the caller's contract.
    unsafe {
        with_handle(handle, |h| {
            let name = if link.is_null() { None } else { Some(convert::link_name(link)?) };
            let report = h.adm.up(name)?;
            let mut first_failure: Option<Fail> = None;
            for entry in &report.entries {
                let (result, status, message) = match &entry.outcome {
                    UpOutcome::Created => (DLTUN_UP_CREATED, DLTUN_STATUS_OK, String::new()),
                    UpOutcome::AlreadyUp => (DLTUN_UP_ALREADY, DLTUN_STATUS_OK, String::new()),
                    UpOutcome::Failed(e) => (DLTUN_UP_FAILED, e.status() as u32 as dltun_status_t, e.to_string()),
                };
                if let Some(cb) = cb {
                    let link_c = text(&entry.name);
                    let msg_c = text(&message);
                    cb(link_c.as_ptr(), result, status, msg_c.as_ptr(), arg);
                }
                if result == DLTUN_UP_FAILED && first_failure.is_none() {
                    first_failure = Some(Fail { status, message });
                }
            }
            match first_failure {
                None => Ok(()),
                Some(f) => Err(Fail {
                    status: f.status,
                    message: format!("{} of {} link(s) did not come up; first: {}", report.failures(), report.entries.len(), f.message),
                }),
            }
        })
    }
}

/// The counters' names as C strings, in the driver's order
/// (`TunCounters::named`, the one table); they live as long as the
/// library.
fn counter_names() -> &'static [CString] {
    static NAMES: OnceLock<Vec<CString>> = OnceLock::new();
    NAMES.get_or_init(|| libdladm_plugin::TunCounters::default().named().iter().map(|(n, _)| text(n)).collect())
}

/// Every counter of a running link, by name.
///
/// # Safety
/// `handle` as for `dltun_close`; `link` null or a C string; `countp`
/// null or a readable and writable `uint32_t`; `counters` null or room
/// for `*countp` entries.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dltun_get_counters(
    handle: *mut dltun_handle,
    link: *const c_char,
    counters: *mut dltun_counter_t,
    countp: *mut u32,
) -> dltun_status_t {
    // SAFETY: the caller's contract.
    unsafe {
        with_handle(handle, |h| {
            let name = convert::link_name(link)?;
            null_check(countp, "counter count")?;
            let room = *countp as usize;
            if room > 0 {
                null_check(counters, "counter array")?;
            }
            let link = h.adm.show(name)?;
            let Some(kernel) = link.kernel else {
                return Err(Error::new(name, libdladm_plugin::ErrorKind::NotActive).into());
            };
            let values = kernel.counters.named();
            for (i, ((_, value), c_name)) in values.iter().zip(counter_names()).enumerate().take(room) {
                *counters.add(i) = dltun_counter_t { dn_name: c_name.as_ptr(), dn_value: *value };
            }
            *countp = u32::try_from(values.len()).unwrap_or(u32::MAX);
            Ok(())
        })
    }
}

fn messages() -> &'static Vec<(dltun_status_t, CString)> {
    static MESSAGES: OnceLock<Vec<(dltun_status_t, CString)>> = OnceLock::new();
    MESSAGES.get_or_init(|| {
        let mut v: Vec<(dltun_status_t, CString)> =
            Status::ALL.iter().map(|s| (*s as u32 as dltun_status_t, text(s.description()))).collect();
        v.push((DLTUN_STATUS_BADARG, text("invalid argument (null pointer, unknown flag or mode, unreadable string)")));
        v.push((DLTUN_STATUS_INTERNAL, text("internal error in libdltun")));
        v.push((DLTUN_STATUS_UNAVAIL, text(Status::Unavailable.description())));
        v
    })
}

static UNKNOWN_STATUS: &std::ffi::CStr = c"unknown libdltun status";

/// Describe a status.
#[unsafe(no_mangle)]
pub extern "C" fn dltun_strerror(status: dltun_status_t) -> *const c_char {
    let found = catch_unwind(|| messages().iter().find(|(code, _)| *code == status).map(|(_, m)| m.as_ptr()));
    match found {
        Ok(Some(p)) => p,
        _ => UNKNOWN_STATUS.as_ptr(),
    }
}

/// The message of the last failed call on `handle`; with a null handle,
/// why the last `dltun_open` on this thread failed.
///
/// # Safety
/// `handle` null or a handle from `dltun_open` not yet closed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dltun_errmsg(handle: *const dltun_handle) -> *const c_char {
    // SAFETY: the caller's contract.
    match unsafe { handle_ref(handle) } {
        // The CString's buffer stays put until the next call replaces it.
        Some(h) => match h.last_error.try_borrow() {
            Ok(m) => m.as_ptr(),
            Err(_) => c"".as_ptr(),
        },
        // The thread-local lives as long as the thread; its buffer stays
        // put until the next dltun_open on this thread replaces it.
        None => OPEN_ERROR
            .try_with(|slot| slot.try_borrow().map(|m| m.as_ptr()).unwrap_or(c"".as_ptr()))
            .unwrap_or(c"".as_ptr()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_in_a_body_becomes_internal_with_its_message() {
        let status = guard(None, || panic!("boom in the body"));
        assert_eq!(status, DLTUN_STATUS_INTERNAL);
        let status = guard(None, || Err(Fail::badarg("x".into())));
        assert_eq!(status, DLTUN_STATUS_BADARG);
        assert_eq!(guard(None, || Ok(())), DLTUN_STATUS_OK);
    }

    #[test]
    fn panic_payloads_are_described() {
        let p = catch_unwind(|| panic!("static text")).unwrap_err();
        assert_eq!(panic_message(p.as_ref()), "static text");
        let n = 7;
        let p = catch_unwind(|| panic!("formatted {n}")).unwrap_err();
        assert_eq!(panic_message(p.as_ref()), "formatted 7");
    }

    #[test]
    fn messages_never_carry_an_inner_nul() {
        assert_eq!(text("abc\0def").as_bytes(), b"abc");
        assert_eq!(text("").as_bytes(), b"");
    }
}
