// SPDX-License-Identifier: MPL-2.0
//! Small fake drivers that exercise the simulator: a loopback STREAMS
//! driver with bug knobs, and a minimal mac provider.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::ffi::c_void;
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use illumos_sys_hdrs::*;
use tuntap_drv::ddi::{Cred, Errno, Kernel, MacHandle, StreamsEntry};
use tuntap_sim::SimKernel;

pub type K = SimKernel;

pub fn ptr_bytes(mp: *mut mblk_t) -> Vec<u8> {
    let mut v = Vec::new();
    let mut b = mp;
    while !b.is_null() {
        unsafe {
            let n = (*b).b_wptr as usize - (*b).b_rptr as usize;
            v.extend_from_slice(std::slice::from_raw_parts((*b).b_rptr, n));
            b = (*b).b_cont;
        }
    }
    v
}

pub fn alloc_data(k: &K, ty: u8, data: &[u8]) -> *mut mblk_t {
    let mp = k.allocb(data.len().max(1));
    unsafe {
        (*(*mp).b_datap).db_type = ty;
        ptr::copy_nonoverlapping(data.as_ptr(), (*mp).b_wptr, data.len());
        (*mp).b_wptr = (*mp).b_wptr.add(data.len());
    }
    mp
}

/// Turn an M_IOCTL into M_IOCACK/M_IOCNAK in place (miocack/miocnak).
pub unsafe fn ioc_reply(mp: *mut mblk_t, ack: bool, count: usize, rval: i32, err: i32) {
    unsafe {
        (*(*mp).b_datap).db_type = if ack { M_IOCACK } else { M_IOCNAK };
        let ioc = (*mp).b_rptr as *mut iocblk;
        (*ioc).ioc_count = count;
        (*ioc).ioc_rval = rval;
        (*ioc).ioc_error = err;
    }
}

pub unsafe fn ioc_of(mp: *mut mblk_t) -> *mut iocblk {
    unsafe { (*mp).b_rptr as *mut iocblk }
}

/// mcopyin: turn an M_IOCTL/M_IOCDATA into M_COPYIN of `size` bytes at `addr`.
pub unsafe fn mcopyin(k: &K, mp: *mut mblk_t, addr: usize, size: usize) {
    unsafe {
        let cq = (*mp).b_rptr as *mut copyreq;
        (*(*mp).b_datap).db_type = M_COPYIN;
        (*cq).cq_addr = addr as caddr_t;
        (*cq).cq_size = size;
        (*cq).cq_flag = 0;
        (*cq).cq_private = ptr::null_mut();
        (*mp).b_wptr = (*mp).b_rptr.add(size_of::<copyreq>());
        if !(*mp).b_cont.is_null() {
            K::freemsg((*mp).b_cont);
            (*mp).b_cont = ptr::null_mut();
        }
    }
    let _ = k;
}

/// Knobs that make the loopback driver break rules on purpose.
#[derive(Default)]
pub struct Bugs {
    pub no_qprocson: AtomicBool,
    pub no_qprocsoff: AtomicBool,
    pub no_ioctl_reply: AtomicBool,
    pub double_reply: AtomicBool,
    pub reply_after_failed_copy: AtomicBool,
    pub copyin_size: AtomicUsize,
    /// Free M_FLUSH instead of turning FLUSHR back up.
    pub no_flush_turnaround: AtomicBool,
    /// ACK unknown ioctls (I_FLUSH's dummy one included).
    pub ack_unknown_ioctl: AtomicBool,
}

/// A loopback STREAMS driver: what is written comes back to be read.
/// Holds messages while the stream head is flow controlled and sends
/// them from its read service procedure.
/// (flags, hiwat, lowat, readopt, wroff, minpsz, maxpsz) of an M_SETOPTS.
pub type Opts = (u32, usize, usize, i16, u16, isize, isize);

pub struct Loop {
    pub k: K,
    pub bugs: Bugs,
    pub held: Mutex<VecDeque<(usize, usize)>>, // (rq, mp)
    pub rsrv_threads: Mutex<Vec<String>>,
    pub setopts: Mutex<Option<Opts>>,
    pub next_minor: AtomicU32,
    pub last_headroom: AtomicUsize,
}

impl Loop {
    pub fn new(k: K) -> Arc<Loop> {
        Arc::new(Loop {
            k,
            bugs: Bugs::default(),
            held: Mutex::new(VecDeque::new()),
            rsrv_threads: Mutex::new(Vec::new()),
            setopts: Mutex::new(None),
            next_minor: AtomicU32::new(100),
            last_headroom: AtomicUsize::new(0),
        })
    }

    /// Send M_SETOPTS in open: (flags, hiwat, lowat, readopt, wroff, minpsz, maxpsz).
    pub fn set_opts(&self, o: Opts) {
        *self.setopts.lock().unwrap() = Some(o);
    }

    fn drain(&self, rq: *mut queue_t) {
        loop {
            let next = {
                let mut h = self.held.lock().unwrap();
                match h.iter().position(|(q, _)| *q == rq as usize) {
                    Some(i) if unsafe { self.k.canputnext(rq) } => h.remove(i),
                    _ => None,
                }
            };
            match next {
                Some((_, mp)) => unsafe { self.k.putnext(rq, mp as *mut mblk_t) },
                None => return,
            }
        }
    }

    pub fn send_up(&self, rq: *mut queue_t, ty: u8, data: &[u8]) {
        let mp = alloc_data(&self.k, ty, data);
        unsafe { self.k.putnext(rq, mp) };
    }
}

impl StreamsEntry for Loop {
    unsafe fn open(&self, rq: *mut queue_t, minor: &mut u32, _f: i32, sflag: i32, _cr: Cred) -> Result<(), Errno> {
        if sflag == CLONEOPEN {
            *minor = self.next_minor.fetch_add(1, Ordering::SeqCst);
        }
        if !self.bugs.no_qprocson.load(Ordering::SeqCst) {
            unsafe { self.k.qprocson(rq) };
        }
        if let Some((flags, hi, lo, ro, wroff, minp, maxp)) = *self.setopts.lock().unwrap() {
            let mut so: stroptions = unsafe { std::mem::zeroed() };
            so.so_flags = flags;
            so.so_hiwat = hi;
            so.so_lowat = lo;
            so.so_readopt = ro;
            so.so_wroff = wroff;
            so.so_minpsz = minp;
            so.so_maxpsz = maxp;
            let bytes = unsafe {
                std::slice::from_raw_parts((&so as *const stroptions).cast::<u8>(), size_of::<stroptions>())
            };
            self.send_up(rq, M_SETOPTS, bytes);
        }
        Ok(())
    }

    unsafe fn close(&self, rq: *mut queue_t, _f: i32, _cr: Cred) {
        if !self.bugs.no_qprocsoff.load(Ordering::SeqCst) {
            unsafe { self.k.qprocsoff(rq) };
        }
        let mut h = self.held.lock().unwrap();
        h.retain(|(q, mp)| {
            if *q == rq as usize {
                unsafe { K::freemsg(*mp as *mut mblk_t) };
                false
            } else {
                true
            }
        });
    }

    unsafe fn wput(&self, wq: *mut queue_t, mp: *mut mblk_t) {
        let rq = unsafe { wq.sub(1) };
        let ty = unsafe { (*(*mp).b_datap).db_type };
        match ty {
            M_DATA => {
                let hr = unsafe { (*mp).b_rptr as usize - (*(*mp).b_datap).db_base as usize };
                self.last_headroom.store(hr, Ordering::SeqCst);
                self.held.lock().unwrap().push_back((rq as usize, mp as usize));
                self.drain(rq);
            }
            M_FLUSH => unsafe {
                if *(*mp).b_rptr & FLUSHR != 0 {
                    // flushq(RD(q), FLUSHDATA): what this driver holds
                    // for the reader goes too.
                    self.held.lock().unwrap().retain(|(q, m)| {
                        if *q == rq as usize {
                            K::freemsg(*m as *mut mblk_t);
                            false
                        } else {
                            true
                        }
                    });
                }
                if *(*mp).b_rptr & FLUSHR != 0 && !self.bugs.no_flush_turnaround.load(Ordering::SeqCst) {
                    *(*mp).b_rptr &= !FLUSHW;
                    self.k.qreply(wq, mp);
                } else {
                    K::freemsg(mp);
                }
            },
            M_IOCTL => unsafe { self.ioctl(wq, mp) },
            M_IOCDATA => unsafe {
                let cp = (*mp).b_rptr as *mut copyresp;
                if !(*cp).cp_rval.is_null() {
                    if self.bugs.reply_after_failed_copy.load(Ordering::SeqCst) {
                        ioc_reply(mp, false, 0, 0, EFAULT);
                        self.k.qreply(wq, mp);
                    } else {
                        K::freemsg(mp);
                    }
                    return;
                }
                let v = ptr_bytes((*mp).b_cont);
                let rval = v.first().copied().unwrap_or(0) as i32;
                if !(*mp).b_cont.is_null() {
                    K::freemsg((*mp).b_cont);
                    (*mp).b_cont = ptr::null_mut();
                }
                (*(*mp).b_datap).db_type = M_IOCACK;
                let ioc = ioc_of(mp);
                (*ioc).ioc_count = 0;
                (*ioc).ioc_rval = rval;
                (*ioc).ioc_error = 0;
                self.k.qreply(wq, mp);
            },
            _ => unsafe { K::freemsg(mp) },
        }
    }

    fn detach_check(&self) -> Result<(), Errno> {
        Ok(())
    }

    unsafe fn opened(&self, _rq: *mut queue_t) {}

    unsafe fn rsrv(&self, rq: *mut queue_t) {
        self.rsrv_threads.lock().unwrap().push(std::thread::current().name().unwrap_or("").to_string());
        self.drain(rq);
    }
}

/// ioctl commands of the loopback driver.
pub const IOC_ECHO: i32 = 1; // I_STR: ack with the same data
pub const IOC_LONG: i32 = 2; // I_STR: ack with data + 8 bytes
pub const IOC_COPYIN: i32 = 3; // transparent: copy in copyin_size bytes at arg
pub const IOC_ERROR: i32 = 4; // send M_ERROR(EIO) up, then ack
pub const IOC_HANGUP: i32 = 5; // send M_HANGUP up, then ack
pub const IOC_NAK: i32 = 6; // nak with ENOTTY
pub const IOC_COPYOUT: i32 = 7; // transparent: copy out 4 bytes "abcd" to arg

impl Loop {
    unsafe fn ioctl(&self, wq: *mut queue_t, mp: *mut mblk_t) {
        let rq = unsafe { wq.sub(1) };
        let ioc = unsafe { ioc_of(mp) };
        let cmd = unsafe { (*ioc).ioc_cmd };
        if self.bugs.no_ioctl_reply.load(Ordering::SeqCst) {
            unsafe { K::freemsg(mp) };
            return;
        }
        unsafe {
            match cmd {
                IOC_ECHO => {
                    let n = (*ioc).ioc_count;
                    if self.bugs.double_reply.load(Ordering::SeqCst) {
                        let second = alloc_data(&self.k, M_IOCTL, &ptr_bytes_first(mp));
                        ioc_reply(second, true, 0, 0, 0);
                        ioc_reply(mp, true, n, 7, 0);
                        self.k.qreply(wq, mp);
                        self.k.qreply(wq, second);
                    } else {
                        ioc_reply(mp, true, n, 7, 0);
                        self.k.qreply(wq, mp);
                    }
                }
                IOC_LONG => {
                    let n = (*ioc).ioc_count;
                    let extra = alloc_data(&self.k, M_DATA, &[9u8; 8]);
                    let mut last = mp;
                    while !(*last).b_cont.is_null() {
                        last = (*last).b_cont;
                    }
                    (*last).b_cont = extra;
                    ioc_reply(mp, true, n + 8, 0, 0);
                    self.k.qreply(wq, mp);
                }
                IOC_COPYIN => {
                    let addr = usize::from_ne_bytes(ptr_bytes((*mp).b_cont)[..8].try_into().unwrap());
                    mcopyin(&self.k, mp, addr, self.bugs.copyin_size.load(Ordering::SeqCst));
                    self.k.qreply(wq, mp);
                }
                IOC_COPYOUT => {
                    let addr = usize::from_ne_bytes(ptr_bytes((*mp).b_cont)[..8].try_into().unwrap());
                    mcopyin(&self.k, mp, addr, 4);
                    (*(*mp).b_datap).db_type = M_COPYOUT;
                    (*mp).b_cont = alloc_data(&self.k, M_DATA, b"abcd");
                    self.k.qreply(wq, mp);
                }
                IOC_ERROR => {
                    self.send_up(rq, M_ERROR, &[EIO as u8]);
                    ioc_reply(mp, true, 0, 0, 0);
                    self.k.qreply(wq, mp);
                }
                IOC_HANGUP => {
                    ioc_reply(mp, true, 0, 0, 0);
                    self.k.qreply(wq, mp);
                    self.send_up(rq, M_HANGUP, &[]);
                }
                _ => {
                    let ack = self.bugs.ack_unknown_ioctl.load(Ordering::SeqCst);
                    ioc_reply(mp, ack, 0, 0, if ack { 0 } else { ENOTTY });
                    self.k.qreply(wq, mp);
                }
            }
        }
    }
}

fn ptr_bytes_first(mp: *mut mblk_t) -> Vec<u8> {
    unsafe {
        let n = (*mp).b_wptr as usize - (*mp).b_rptr as usize;
        std::slice::from_raw_parts((*mp).b_rptr, n).to_vec()
    }
}

// ----- a minimal mac provider -----

/// State of the fake mac provider; `m_driver` points at it.
pub struct FakeMac {
    pub k: K,
    pub mh: Mutex<Option<MacHandle>>,
    pub addr: [u8; 6],
    pub started: AtomicUsize,
    pub stopped: AtomicUsize,
    pub promisc: AtomicBool,
    /// Frames mc_tx accepted.
    pub txd: Mutex<Vec<Vec<u8>>>,
    /// How many more frames mc_tx accepts before returning the rest.
    pub tx_room: AtomicUsize,
    /// Write into every transmitted frame (a bug when shared).
    pub scribble: AtomicBool,
    pub mtu: AtomicU32,
}

impl FakeMac {
    pub fn new(k: K) -> Arc<FakeMac> {
        Arc::new(FakeMac {
            k,
            mh: Mutex::new(None),
            addr: [0x02, 0, 0, 0, 0, 1],
            started: AtomicUsize::new(0),
            stopped: AtomicUsize::new(0),
            promisc: AtomicBool::new(false),
            txd: Mutex::new(Vec::new()),
            tx_room: AtomicUsize::new(usize::MAX),
            scribble: AtomicBool::new(false),
            mtu: AtomicU32::new(1500),
        })
    }

    pub fn mh(&self) -> MacHandle {
        self.mh.lock().unwrap().expect("registered")
    }

    /// Register with the given callback table and a tweak of the fields.
    pub fn register(
        self: &Arc<Self>,
        cb: &'static mac_callbacks_t,
        tweak: impl Fn(&mut mac_register_t),
    ) -> Result<MacHandle, Errno> {
        let me = Arc::as_ptr(self) as *mut c_void;
        let addr = self.addr.as_ptr() as *mut u8;
        let r = self.k.mac_register(&mut |m: &mut mac_register_t| {
            m.m_type_ident = MAC_PLUGIN_IDENT_ETHER.as_ptr();
            m.m_driver = me;
            m.m_instance = u32::MAX;
            m.m_src_addr = addr;
            m.m_callbacks = cb as *const _ as *mut _;
            m.m_min_sdu = 0;
            m.m_max_sdu = 1500;
            m.m_margin = VLAN_TAGSZ as u32;
            tweak(m);
        });
        if let Ok(h) = r {
            *self.mh.lock().unwrap() = Some(h);
        }
        r
    }
}

fn fm<'a>(p: *mut c_void) -> &'a FakeMac {
    unsafe { &*(p as *const FakeMac) }
}

pub unsafe extern "C" fn fm_getstat(p: *mut c_void, stat: uint_t, v: *mut u64) -> i32 {
    match stat {
        MAC_STAT_OPACKETS => {
            unsafe { *v = fm(p).txd.lock().unwrap().len() as u64 };
            0
        }
        MAC_STAT_IFSPEED => {
            unsafe { *v = 100_000_000 };
            0
        }
        _ => ENOTSUP,
    }
}
pub unsafe extern "C" fn fm_start(p: *mut c_void) -> i32 {
    fm(p).started.fetch_add(1, Ordering::SeqCst);
    0
}
pub unsafe extern "C" fn fm_stop(p: *mut c_void) {
    fm(p).stopped.fetch_add(1, Ordering::SeqCst);
}
pub unsafe extern "C" fn fm_promisc(p: *mut c_void, on: boolean_t) -> i32 {
    fm(p).promisc.store(on == B_TRUE, Ordering::SeqCst);
    0
}
pub unsafe extern "C" fn fm_multicst(_p: *mut c_void, _add: boolean_t, _a: *const u8) -> i32 {
    0
}
pub unsafe extern "C" fn fm_unicst(_p: *mut c_void, _a: *const u8) -> i32 {
    0
}
pub unsafe extern "C" fn fm_tx(p: *mut c_void, chain: *mut mblk_t) -> *mut mblk_t {
    let me = fm(p);
    let mut mp = chain;
    while !mp.is_null() {
        if me.tx_room.load(Ordering::SeqCst) == 0 {
            return mp;
        }
        me.tx_room.fetch_sub(1, Ordering::SeqCst);
        unsafe {
            let next = (*mp).b_next;
            (*mp).b_next = ptr::null_mut();
            if me.scribble.load(Ordering::SeqCst) {
                *(*mp).b_rptr = 0xee;
            }
            me.txd.lock().unwrap().push(ptr_bytes(mp));
            K::freemsg(mp);
            mp = next;
        }
    }
    ptr::null_mut()
}
pub unsafe extern "C" fn fm_setprop(p: *mut c_void, _n: *const core::ffi::c_char, id: mac_prop_id_t, sz: uint_t, v: *const c_void) -> i32 {
    if id != MAC_PROP_MTU || sz != 4 {
        return ENOTSUP;
    }
    let mtu = unsafe { *(v as *const u32) };
    if !(576..=9000).contains(&mtu) {
        return EINVAL;
    }
    let me = fm(p);
    me.mtu.store(mtu, Ordering::SeqCst);
    me.k.mac_maxsdu_update(me.mh(), mtu).map(|_| 0).unwrap_or_else(|e| e)
}
pub unsafe extern "C" fn fm_getprop(_p: *mut c_void, _n: *const core::ffi::c_char, _id: mac_prop_id_t, _sz: uint_t, _v: *mut c_void) -> i32 {
    ENOTSUP
}
pub unsafe extern "C" fn fm_propinfo(p: *mut c_void, _n: *const core::ffi::c_char, id: mac_prop_id_t, ph: mac_prop_info_handle_t) {
    if id == MAC_PROP_MTU {
        let k = &fm(p).k;
        let ph = tuntap_drv::ddi::PropInfoHandle(ph.cast());
        k.mac_prop_info_set_default_uint32(ph, 1500);
        k.mac_prop_info_set_range_uint32(ph, 576, 9000);
    }
}

pub struct CbTable(pub mac_callbacks_t);
unsafe impl Sync for CbTable {}

/// Every callback of the fake provider, with the property ones.
const FULL: mac_callbacks_t = mac_callbacks_t {
    mc_callbacks: MC_SETPROP | MC_GETPROP | MC_PROPINFO,
    mc_getstat: Some(fm_getstat),
    mc_start: Some(fm_start),
    mc_stop: Some(fm_stop),
    mc_setpromisc: Some(fm_promisc),
    mc_multicst: Some(fm_multicst),
    mc_unicst: Some(fm_unicst),
    mc_tx: Some(fm_tx),
    mc_reserved: ptr::null_mut(),
    mc_ioctl: None,
    mc_getcapab: None,
    mc_open: None,
    mc_close: None,
    mc_setprop: Some(fm_setprop),
    mc_getprop: Some(fm_getprop),
    mc_propinfo: Some(fm_propinfo),
};

pub static FULL_CB: CbTable = CbTable(FULL);

/// The required callbacks but `mc_getstat`, and no property ones.
pub static NO_GETSTAT_CB: CbTable = CbTable(mac_callbacks_t {
    mc_callbacks: 0,
    mc_getstat: None,
    mc_setprop: None,
    mc_getprop: None,
    mc_propinfo: None,
    ..FULL
});

/// A host for one test, with the test time limit: a hung test ends its
/// process with its violations instead of hanging the suite.
pub fn new_host() -> tuntap_sim::SimHost {
    let host = tuntap_sim::SimHost::new();
    host.set_time_limit(tuntap_sim::TEST_TIME_LIMIT);
    host
}

/// Register a fake mac and bind it to a new dlmgmtd link `name` (with a
/// devnet, as `dls_devnet_create` makes it).
pub fn link(host: &tuntap_sim::SimHost, name: &str) -> Arc<FakeMac> {
    let m = FakeMac::new(host.kernel());
    let mh = m.register(&FULL_CB.0, |_| {}).unwrap();
    let id = host
        .dlmgmt_create_id(&host.root_cred(), name, DATALINK_CLASS_MISC, DL_ETHER, tuntap_sim::DlFlags::ACTIVE)
        .unwrap();
    host.kernel().dls_devnet_create(mh, id, 0).unwrap();
    m
}

/// Undo [`link`]: devnet, mac and dlmgmtd link.
pub fn teardown(host: &tuntap_sim::SimHost, m: &FakeMac) {
    let k = host.kernel();
    let id = k.dls_devnet_destroy(m.mh()).unwrap();
    k.mac_disable(m.mh()).unwrap();
    k.mac_unregister(m.mh()).unwrap();
    host.dlmgmt_destroy_id(&host.root_cred(), id, tuntap_sim::DlFlags::ACTIVE).unwrap();
}
