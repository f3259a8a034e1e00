// SPDX-License-Identifier: MPL-2.0
//! The real system as a [`Platform`]: libdladm (through `dladm-sys`) for
//! dlmgmtd and the persistent configuration, `I_STR` ioctls on the
//! driver's control node `/dev/tuntap`, `/proc/<pid>/psinfo` for
//! processes, `svcs -p` for service members, `ipadm` for IP interfaces.
//!
//! Theory statement.  [`Illumos`] owns one libdladm handle (closed on
//! drop) and one open control node.  Every unsafe block is one FFI call
//! with buffers this module owns for the duration of the call.
//! The owner registry is the directory [`OWNER_DIR`] on tmpfs (see
//! [`crate::owners`]): after a crash it is what ties a dead creator pid
//! to its SMF service.

use std::ffi::{CStr, CString, c_char, c_int, c_void};
use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::process::Command;
use std::sync::Arc;

use dladm_sys as dl;

use crate::owners::{DirStore, OWNER_DIR, OwnerStore};
use crate::platform::*;

/// The control node of the tuntap driver (`drv/tun`).
pub const CONTROL_NODE: &str = "/dev/tuntap";

// usr/src/uts/common/sys/stropts.h: `#define STR ('S'<<8)`,
// `#define I_STR (STR|010)`, and `struct strioctl`.
const I_STR: c_int = (b'S' as c_int) << 8 | 0o10;

#[repr(C)]
struct StrIoctl {
    ic_cmd: c_int,
    ic_timout: c_int,
    ic_len: c_int,
    ic_dp: *mut c_char,
}

unsafe extern "C" {
    fn ioctl(fd: c_int, request: c_int, ...) -> c_int;
    // usr/src/head/zone.h
    fn getzoneid() -> c_int;
    fn getzonenamebyid(id: c_int, buf: *mut c_char, buflen: usize) -> isize;
}

// usr/src/uts/common/sys/procfs.h, `psinfo_t` (LP64): `pr_start` (a
// timestruc_t) at byte 88, `pr_fname[PRFNSZ = 16]` at byte 136.
const PSINFO_START: usize = 88;
const PSINFO_FNAME: usize = 136;
const PRFNSZ: usize = 16;

/// The illumos system, acting with the caller's credentials.
pub struct Illumos {
    handle: dl::dladm_handle_t,
    /// The control node opened read-only (always) and read-write (on the
    /// first command that changes something: [`control_needs_write`]).
    control_ro: File,
    control_rw: std::sync::OnceLock<Result<File, Errno>>,
}

impl Drop for Illumos {
    fn drop(&mut self) {
        // SAFETY: the handle came from dladm_open and is closed once.
        unsafe { dl::dladm_close(self.handle) };
    }
}

fn status_error(status: dl::dladm_status_t) -> DlError {
    match status {
        dl::dladm_status_t::DLADM_STATUS_EXIST => DlError::Exists,
        // libdladm reports a missing dlmgmtd door as "not found" too.
        dl::dladm_status_t::DLADM_STATUS_NOTFOUND => not_found_or_unavailable(std::path::Path::new(DLMGMT_DOOR)),
        dl::dladm_status_t::DLADM_STATUS_DENIED => DlError::Denied,
        dl::dladm_status_t::DLADM_STATUS_TEMPONLY => DlError::TempOnly,
        dl::dladm_status_t::DLADM_STATUS_BADARG => DlError::BadArg,
        dl::dladm_status_t::DLADM_STATUS_LINKBUSY => DlError::Busy,
        other => {
            let mut buf = [0 as c_char; dl::DLADM_STRSIZE];
            // SAFETY: buf is DLADM_STRSIZE bytes, as dladm_status2str needs.
            let msg = unsafe { CStr::from_ptr(dl::dladm_status2str(other, buf.as_mut_ptr())) };
            DlError::Other(msg.to_string_lossy().into_owned())
        }
    }
}

fn check(status: dl::dladm_status_t) -> Result<(), DlError> {
    if status.is_ok() { Ok(()) } else { Err(status_error(status)) }
}

fn cstring(s: &str) -> Result<CString, DlError> {
    CString::new(s).map_err(|_| DlError::BadArg)
}

fn opt_bits(f: DlFlags) -> u32 {
    let mut bits = 0;
    if f.active {
        bits |= dl::DLADM_OPT_ACTIVE;
    }
    if f.persistent {
        bits |= dl::DLADM_OPT_PERSIST;
    }
    if f.transient {
        bits |= dl::DLADM_OPT_TRANSIENT;
    }
    bits
}

fn flags_of(bits: u32) -> DlFlags {
    DlFlags {
        active: bits & dl::DLADM_OPT_ACTIVE != 0,
        persistent: bits & dl::DLADM_OPT_PERSIST != 0,
        transient: bits & dl::DLADM_OPT_TRANSIENT != 0,
    }
}

unsafe extern "C" fn collect_id(_h: dl::dladm_handle_t, linkid: dl::datalink_id_t, arg: *mut c_void) -> c_int {
    // SAFETY: arg is the &mut Vec<u32> dl_walk passes for this walk only.
    let ids = unsafe { &mut *arg.cast::<Vec<u32>>() };
    ids.push(linkid);
    dl::DLADM_WALK_CONTINUE
}

fn run(cmd: &mut Command) -> Result<String, String> {
    let out = cmd.output().map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!("{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr).trim()))
    }
}

impl Illumos {
    /// Open libdladm and the driver's control node.
    pub fn open() -> Result<Illumos, String> {
        let control_ro = OpenOptions::new()
            .read(true)
            .open(CONTROL_NODE)
            .map_err(|e| format!("cannot open {CONTROL_NODE} (is the tuntap driver installed?): {e}"))?;
        let mut handle: dl::dladm_handle_t = std::ptr::null_mut();
        // SAFETY: handle is a valid out-pointer.
        let status = unsafe { dl::dladm_open(&mut handle) };
        if !status.is_ok() {
            return Err(format!("cannot open libdladm: {}", status_error(status)));
        }
        Ok(Illumos { handle, control_ro, control_rw: std::sync::OnceLock::new() })
    }

    fn with_conf(
        &self,
        conf: dl::dladm_conf_t,
        f: impl FnOnce(dl::dladm_conf_t) -> Result<(), DlError>,
    ) -> Result<(), DlError> {
        let r = f(conf);
        // SAFETY: conf came from dladm_create/open/getsnap_conf.
        unsafe { dl::dladm_destroy_conf(self.handle, conf) };
        r
    }

    fn set_field(&self, conf: dl::dladm_conf_t, key: &str, value: Option<&str>) -> Result<(), DlError> {
        let k = cstring(key)?;
        match value {
            Some(v) => {
                let v = cstring(v)?;
                // SAFETY: k and v are NUL-terminated and live across the call.
                check(unsafe {
                    dl::dladm_set_conf_field(
                        self.handle,
                        conf,
                        k.as_ptr(),
                        dl::dladm_datatype_t::DLADM_TYPE_STR,
                        v.as_ptr().cast(),
                    )
                })
            }
            // SAFETY: k is NUL-terminated.
            None => match check(unsafe { dl::dladm_unset_conf_field(self.handle, conf, k.as_ptr()) }) {
                Err(DlError::NotFound) => Ok(()),
                r => r,
            },
        }
    }
}

impl Platform for Illumos {
    fn zone(&self) -> ZoneId {
        // SAFETY: no arguments.
        unsafe { getzoneid() }
    }

    fn zone_name(&self, zone: ZoneId) -> Option<String> {
        let mut buf = [0 as c_char; 64];
        // SAFETY: buf and its length are given together.
        let n = unsafe { getzonenamebyid(zone, buf.as_mut_ptr(), buf.len()) };
        if n <= 0 {
            return None;
        }
        // SAFETY: getzonenamebyid NUL-terminates within buflen.
        Some(unsafe { CStr::from_ptr(buf.as_ptr()) }.to_string_lossy().into_owned())
    }

    fn dl_create_id(&self, name: &str, flags: DlFlags) -> Result<DatalinkId, DlError> {
        let n = cstring(name)?;
        let mut id = 0;
        // SAFETY: n is NUL-terminated, id a valid out-pointer.
        check(unsafe {
            dl::dladm_create_datalink_id(
                self.handle,
                n.as_ptr(),
                dl::datalink_class_t::DATALINK_CLASS_MISC,
                dl::DL_ETHER,
                opt_bits(flags),
                &mut id,
            )
        })?;
        Ok(id)
    }

    fn dl_destroy_id(&self, linkid: DatalinkId, flags: DlFlags) -> Result<(), DlError> {
        // SAFETY: plain values.
        check(unsafe { dl::dladm_destroy_datalink_id(self.handle, linkid, opt_bits(flags)) })
    }

    fn dl_up_id(&self, linkid: DatalinkId) -> Result<(), DlError> {
        // SAFETY: plain values.
        check(unsafe { dl::dladm_up_datalink_id(self.handle, linkid) })
    }

    fn dl_name2info(&self, name: &str) -> Result<DlEntry, DlError> {
        let n = cstring(name)?;
        let mut id = 0;
        // SAFETY: n is NUL-terminated; the other out-pointers may be null.
        check(unsafe {
            dl::dladm_name2info(
                self.handle,
                n.as_ptr(),
                &mut id,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            )
        })?;
        self.dl_id2info(id)
    }

    fn dl_id2info(&self, linkid: DatalinkId) -> Result<DlEntry, DlError> {
        let (mut flags, mut class, mut media) = (0u32, dl::datalink_class_t(0), 0u32);
        let mut name = [0 as c_char; dl::MAXLINKNAMELEN];
        // SAFETY: out-pointers are valid; name holds MAXLINKNAMELEN bytes.
        check(unsafe {
            dl::dladm_datalink_id2info(
                self.handle,
                linkid,
                &mut flags,
                &mut class,
                &mut media,
                name.as_mut_ptr(),
                name.len(),
            )
        })?;
        // SAFETY: libdladm NUL-terminates the name within the buffer.
        let name = unsafe { CStr::from_ptr(name.as_ptr()) }.to_string_lossy().into_owned();
        Ok(DlEntry { linkid, name, class: class.0 as u32, media, flags: flags_of(flags) })
    }

    fn dl_walk(&self, class_mask: u32) -> Result<Vec<DlEntry>, DlError> {
        let mut ids: Vec<u32> = Vec::new();
        // SAFETY: collect_id only pushes into `ids`, which outlives the walk.
        check(unsafe {
            dl::dladm_walk_datalink_id(
                Some(collect_id),
                self.handle,
                (&mut ids as *mut Vec<u32>).cast(),
                dl::datalink_class_t(class_mask as c_int),
                dl::DATALINK_ANY_MEDIATYPE,
                dl::DLADM_OPT_ACTIVE | dl::DLADM_OPT_PERSIST,
            )
        })?;
        Ok(ids.into_iter().filter_map(|id| self.dl_id2info(id).ok()).collect())
    }

    fn conf_create(&self, linkid: DatalinkId, name: &str, fields: &[(&str, String)]) -> Result<(), DlError> {
        let n = cstring(name)?;
        let mut conf = dl::dladm_conf_t::INVALID;
        // SAFETY: n is NUL-terminated, conf a valid out-pointer.
        check(unsafe {
            dl::dladm_create_conf(
                self.handle,
                n.as_ptr(),
                linkid,
                dl::datalink_class_t::DATALINK_CLASS_MISC,
                dl::DL_ETHER,
                &mut conf,
            )
        })?;
        self.with_conf(conf, |conf| {
            for (k, v) in fields {
                self.set_field(conf, k, Some(v))?;
            }
            // SAFETY: conf is a writable configuration handle.
            check(unsafe { dl::dladm_write_conf(self.handle, conf) })
        })
    }

    fn conf_update(&self, linkid: DatalinkId, fields: &[(&str, Option<String>)]) -> Result<(), DlError> {
        let mut conf = dl::dladm_conf_t::INVALID;
        // SAFETY: conf is a valid out-pointer.
        check(unsafe { dl::dladm_open_conf(self.handle, linkid, &mut conf) })?;
        self.with_conf(conf, |conf| {
            for (k, v) in fields {
                self.set_field(conf, k, v.as_deref())?;
            }
            // SAFETY: conf is a writable configuration handle.
            check(unsafe { dl::dladm_write_conf(self.handle, conf) })
        })
    }

    fn conf_get(&self, linkid: DatalinkId, key: &str) -> Result<Option<String>, DlError> {
        let k = cstring(key)?;
        let mut conf = dl::dladm_conf_t::INVALID;
        // SAFETY: conf is a valid out-pointer.
        match check(unsafe { dl::dladm_getsnap_conf(self.handle, linkid, &mut conf) }) {
            Err(DlError::NotFound) => return Ok(None),
            r => r?,
        }
        let mut buf = vec![0u8; dl::MAXLINKATTRVALLEN];
        let mut value = None;
        self.with_conf(conf, |conf| {
            // SAFETY: k is NUL-terminated; buf holds buf.len() bytes.
            let r = check(unsafe {
                dl::dladm_get_conf_field(self.handle, conf, k.as_ptr(), buf.as_mut_ptr().cast(), buf.len())
            });
            match r {
                Ok(()) => {
                    value = CStr::from_bytes_until_nul(&buf).ok().map(|s| s.to_string_lossy().into_owned());
                    Ok(())
                }
                Err(DlError::NotFound) => Ok(()),
                Err(e) => Err(e),
            }
        })?;
        Ok(value)
    }

    fn conf_remove(&self, linkid: DatalinkId) -> Result<(), DlError> {
        // SAFETY: plain values.
        check(unsafe { dl::dladm_remove_conf(self.handle, linkid) })
    }

    fn set_linkprop(&self, linkid: DatalinkId, name: &str, value: &str, temporary: bool) -> Result<(), DlError> {
        let n = cstring(name)?;
        let v = cstring(value)?;
        let mut vals = [v.as_ptr().cast_mut()];
        let flags = if temporary { dl::DLADM_OPT_ACTIVE } else { dl::DLADM_OPT_ACTIVE | dl::DLADM_OPT_PERSIST };
        // SAFETY: n and v are NUL-terminated and outlive the call; vals
        // holds one value pointer, as val_cnt says; libdladm does not
        // write through it.
        check(unsafe { dl::dladm_set_linkprop(self.handle, linkid, n.as_ptr(), vals.as_mut_ptr(), 1, flags) })
    }

    fn init_linkprop(&self, linkid: DatalinkId) -> Result<(), DlError> {
        // SAFETY: plain values.
        check(unsafe { dl::dladm_init_linkprop(self.handle, linkid, dl::boolean_t::B_FALSE) })
    }

    fn bridge_setlink(&self, linkid: DatalinkId, bridge: &str) -> Result<(), DlError> {
        let b = cstring(bridge)?;
        // SAFETY: b is NUL-terminated and outlives the call.
        check(unsafe { dl::dladm_bridge_setlink(self.handle, linkid, b.as_ptr()) })
    }

    fn bridge_getlink(&self, linkid: DatalinkId) -> Result<Option<String>, DlError> {
        let mut buf = [0u8; dl::MAXLINKNAMELEN];
        // SAFETY: buf holds buf.len() bytes; libdladm NUL-terminates.
        match check(unsafe { dl::dladm_bridge_getlink(self.handle, linkid, buf.as_mut_ptr().cast(), buf.len()) }) {
            Ok(()) => Ok(CStr::from_bytes_until_nul(&buf).ok().map(|s| s.to_string_lossy().into_owned())),
            Err(DlError::NotFound) => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn bridge_refresh(&self, linkid: DatalinkId) -> Result<(), DlError> {
        // SAFETY: plain values.
        check(unsafe { dl::dladm_bridge_refresh(self.handle, linkid) })
    }

    fn vnic_lower(&self, vnic: DatalinkId) -> Result<Option<DatalinkId>, DlError> {
        // FLINKOVER is stored as DLADM_TYPE_UINT64; dladm_get_conf_field
        // copies the value into a buffer of at least 8 bytes, as
        // dladm_vnic_info's persistent path reads it (libdlvnic.c).
        let k = cstring("linkover")?;
        let mut conf = dl::dladm_conf_t::INVALID;
        // SAFETY: conf is a valid out-pointer.
        match check(unsafe { dl::dladm_getsnap_conf(self.handle, vnic, &mut conf) }) {
            Err(DlError::NotFound) => return Ok(None),
            r => r?,
        }
        let mut value: u64 = 0;
        let mut found = false;
        self.with_conf(conf, |conf| {
            // SAFETY: k is NUL-terminated; value is 8 writable bytes.
            let r = check(unsafe {
                dl::dladm_get_conf_field(self.handle, conf, k.as_ptr(), (&raw mut value).cast(), size_of::<u64>())
            });
            match r {
                Ok(()) => {
                    found = true;
                    Ok(())
                }
                Err(DlError::NotFound) => Ok(()),
                Err(e) => Err(e),
            }
        })?;
        Ok(if found { u32::try_from(value).ok() } else { None })
    }

    fn vnic_up(&self, vnic: DatalinkId) -> Result<(), DlError> {
        // SAFETY: plain values.
        check(unsafe { dl::dladm_vnic_up(self.handle, vnic, 0) })
    }

    fn control_ioctl(&self, cmd: i32, input: &[u8]) -> Result<Vec<u8>, Errno> {
        let fd = if control_needs_write(cmd) {
            let rw = self.control_rw.get_or_init(|| {
                OpenOptions::new()
                    .read(true)
                    .write(true)
                    .open(CONTROL_NODE)
                    .map_err(|e| Errno(e.raw_os_error().unwrap_or(0)))
            });
            rw.as_ref().map_err(|e| *e)?.as_raw_fd()
        } else {
            self.control_ro.as_raw_fd()
        };
        let mut buf = input.to_vec();
        let mut sio = StrIoctl {
            ic_cmd: cmd,
            ic_timout: 0,
            ic_len: c_int::try_from(buf.len()).map_err(|_| Errno::EINVAL)?,
            ic_dp: buf.as_mut_ptr().cast(),
        };
        // SAFETY: sio points at buf, which holds ic_len bytes and outlives
        // the call; the driver replies with at most the request's size.
        let r = unsafe { ioctl(fd, I_STR, &mut sio as *mut StrIoctl) };
        if r < 0 {
            let errno = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
            return Err(Errno(errno));
        }
        buf.truncate(usize::try_from(sio.ic_len).unwrap_or(0));
        Ok(buf)
    }

    fn process(&self, pid: Pid) -> Option<ProcessInfo> {
        let bytes = std::fs::read(format!("/proc/{pid}/psinfo")).ok()?;
        let sec = i64::from_ne_bytes(bytes.get(PSINFO_START..PSINFO_START + 8)?.try_into().ok()?);
        let nsec = i64::from_ne_bytes(bytes.get(PSINFO_START + 8..PSINFO_START + 16)?.try_into().ok()?);
        let fname = bytes.get(PSINFO_FNAME..PSINFO_FNAME + PRFNSZ)?;
        let name_len = fname.iter().position(|b| *b == 0).unwrap_or(PRFNSZ);
        Some(ProcessInfo {
            pid,
            name: String::from_utf8_lossy(fname.get(..name_len)?).into_owned(),
            started_ns: u64::try_from(sec).ok()?.saturating_mul(1_000_000_000).saturating_add(u64::try_from(nsec).ok()?),
        })
    }

    fn service_pids(&self, fmri: &str) -> Result<Vec<Pid>, String> {
        // In the C locale (crate::svcs): the start-time column must not
        // shift the pid.
        run(&mut crate::svcs::command(fmri)).map(|out| crate::svcs::member_pids(&out))
    }

    fn owner_store(&self) -> Arc<dyn OwnerStore> {
        Arc::new(DirStore::new(OWNER_DIR))
    }

    fn ip_interfaces(&self, link: &str) -> Result<Vec<String>, String> {
        let out = run(Command::new("/usr/sbin/ipadm").args(["show-if", "-p", "-o", "ifname"]))?;
        Ok(out.lines().map(str::trim).filter(|i| *i == link).map(str::to_string).collect())
    }

    fn ip_unplumb(&self, ifname: &str) -> Result<(), String> {
        run(Command::new("/usr/sbin/ipadm").args(["delete-ip", ifname])).map(|_| ())
    }
}
