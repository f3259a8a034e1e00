// SPDX-License-Identifier: MPL-2.0
//! The stream head model and the STREAMS rules it enforces.

mod common;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use common::*;
use illumos_sys_hdrs::*;
use tuntap_drv::ddi::Kernel;
use tuntap_sim::{SimHost, ViolationKind};

const T: Option<Duration> = Some(Duration::from_secs(5));

fn setup() -> (SimHost, Arc<Loop>) {
    let host = new_host();
    let d = Loop::new(host.kernel());
    host.attach(d.clone());
    (host, d)
}

#[test]
fn loopback_write_read_and_clone_minor() {
    let (host, _d) = setup();
    let root = host.root_cred();
    let s = host.open(5, &root).unwrap();
    let s2 = host.open(5, &root).unwrap();
    assert_ne!(s.minor(), s2.minor());
    assert_eq!(s.write(b"hello").unwrap(), 5);
    let mut buf = [0u8; 16];
    assert_eq!(s.read(&mut buf, T).unwrap(), 5);
    assert_eq!(&buf[..5], b"hello");
    assert_eq!(s.try_read(&mut buf), Err(EAGAIN));
    assert_eq!(s.poll(POLLIN | POLLOUT, Some(Duration::ZERO)), POLLOUT);
    s.write(b"x").unwrap();
    assert_eq!(s.poll(POLLIN, T), POLLIN);
    drop(s);
    drop(s2);
    host.finish();
}

#[test]
fn read_modes() {
    let (host, _d) = setup();
    let s = host.open(5, &host.root_cred()).unwrap();
    let mut buf = [0u8; 4];
    // RNORM: a byte stream across messages.
    s.write(b"abc").unwrap();
    s.write(b"def").unwrap();
    assert_eq!(s.read(&mut buf, T).unwrap(), 4);
    assert_eq!(&buf, b"abcd");
    assert_eq!(s.read(&mut buf, T).unwrap(), 2);
    assert_eq!(&buf[..2], b"ef");
    // RMSGD: one message, rest discarded.
    s.set_read_opt(RMSGD).unwrap();
    s.write(b"123456").unwrap();
    s.write(b"78").unwrap();
    assert_eq!(s.read(&mut buf, T).unwrap(), 4);
    assert_eq!(&buf, b"1234");
    assert_eq!(s.read(&mut buf, T).unwrap(), 2);
    assert_eq!(&buf[..2], b"78");
    // RMSGN: one message, rest kept.
    s.set_read_opt(RMSGN).unwrap();
    s.write(b"123456").unwrap();
    assert_eq!(s.read(&mut buf, T).unwrap(), 4);
    assert_eq!(s.read(&mut buf, T).unwrap(), 2);
    assert_eq!(&buf[..2], b"56");
    assert_eq!(s.set_read_opt(0x40), Err(EINVAL));
    host.finish();
}

#[test]
fn setopts_readopt_wroff_and_packet_sizes() {
    let (host, d) = setup();
    d.set_opts((SO_READOPT | SO_WROFF | SO_MINPSZ | SO_MAXPSZ, 0, 0, RMSGD as i16, 32, 2, 100));
    let s = host.open(5, &host.root_cred()).unwrap();
    assert_eq!(s.read_opt(), RMSGD);
    assert_eq!(s.wroff(), 32);
    s.write(b"abcd").unwrap();
    assert_eq!(d.last_headroom.load(Ordering::SeqCst), 32);
    assert_eq!(s.write(b"a"), Err(ERANGE));
    assert_eq!(s.putmsg(&[0u8; 101]), Err(ERANGE));
    // write splits at maxpsz.
    s.write(&[1u8; 250]).unwrap();
    let mut buf = [0u8; 512];
    assert_eq!(s.read(&mut buf, T).unwrap(), 4);
    assert_eq!(s.read(&mut buf, T).unwrap(), 100);
    assert_eq!(s.read(&mut buf, T).unwrap(), 100);
    assert_eq!(s.read(&mut buf, T).unwrap(), 50);
    host.finish();
}

#[test]
fn flow_control_and_back_enable() {
    let (host, d) = setup();
    d.set_opts((SO_HIWAT | SO_LOWAT, 100, 40, 0, 0, 0, 0));
    let s = host.open(5, &host.root_cred()).unwrap();
    assert_eq!(s.water_marks(), (100, 40));
    for i in 0..10u8 {
        s.write(&[i; 30]).unwrap();
    }
    // The head stopped at its high-water mark; the rest waits in the driver.
    assert!(s.queued_bytes() >= 100 && s.queued_bytes() < 130);
    assert!(!d.held.lock().unwrap().is_empty());
    s.set_read_opt(RMSGD).unwrap();
    let mut buf = [0u8; 64];
    for i in 0..10u8 {
        assert_eq!(s.read(&mut buf, T).unwrap(), 30);
        assert_eq!(buf[0], i, "order preserved");
    }
    let threads = d.rsrv_threads.lock().unwrap().clone();
    assert!(!threads.is_empty(), "back-enable ran the service procedure");
    assert!(threads.iter().all(|t| t.contains("strsvc")), "rsrv ran on the service thread: {threads:?}");
    host.finish();
}

#[test]
fn qenable_runs_rsrv_asynchronously() {
    let (host, d) = setup();
    let s = host.open(5, &host.root_cred()).unwrap();
    unsafe { host.kernel().qenable(s.rq()) };
    assert!(host.settle(Duration::from_secs(5)));
    assert_eq!(d.rsrv_threads.lock().unwrap().len(), 1);
    host.finish();
}

#[test]
fn istr_ioctl_echo_nak_and_reply_too_long() {
    let (host, d) = setup();
    let s = host.open(5, &host.root_cred()).unwrap();
    let r = s.ioctl_istr(IOC_ECHO, b"ping").unwrap();
    assert_eq!((r.rval, r.data.as_slice()), (7, &b"ping"[..]));
    assert_eq!(s.ioctl_istr(IOC_NAK, b""), Err(ENOTTY));
    assert!(host.violations().is_empty());
    let _ = s.ioctl_istr(IOC_LONG, b"ping");
    host.expect_violation(ViolationKind::IoctlReplyTooLong);
    let _ = d;
    host.finish();
}

#[test]
fn missing_ioctl_reply_is_a_violation() {
    let (host, d) = setup();
    host.set_ioctl_timeout(Duration::from_millis(200));
    let s = host.open(5, &host.root_cred()).unwrap();
    d.bugs.no_ioctl_reply.store(true, Ordering::SeqCst);
    assert_eq!(s.ioctl_istr(IOC_ECHO, b"x"), Err(ETIME));
    host.expect_violation(ViolationKind::IoctlNoReply);
    host.finish();
}

#[test]
fn double_ioctl_reply_is_a_violation() {
    let (host, d) = setup();
    let s = host.open(5, &host.root_cred()).unwrap();
    d.bugs.double_reply.store(true, Ordering::SeqCst);
    s.ioctl_istr(IOC_ECHO, b"x").unwrap();
    host.expect_violation(ViolationKind::IoctlDoubleReply);
    host.finish();
}

#[test]
fn transparent_copyin_good_and_bad_address() {
    let (host, d) = setup();
    let s = host.open(5, &host.root_cred()).unwrap();
    let mem = host.user_memory();
    mem.map(0x1000, &[42, 0, 0, 0, 0, 0, 0, 0]);
    d.bugs.copyin_size.store(8, Ordering::SeqCst);
    assert_eq!(s.ioctl_transparent(IOC_COPYIN, 0x1000).unwrap().rval, 42);
    // An unmapped address: EFAULT, and the driver must not reply.
    assert_eq!(s.ioctl_transparent(IOC_COPYIN, 0x9000), Err(EFAULT));
    // Partly mapped is unmapped too.
    assert_eq!(s.ioctl_transparent(IOC_COPYIN, 0x1004), Err(EFAULT));
    assert!(host.violations().is_empty(), "{:?}", host.violations());
    // Copyout.
    mem.map(0x2000, &[0; 4]);
    s.ioctl_transparent(IOC_COPYOUT, 0x2000).unwrap();
    assert_eq!(mem.read(0x2000, 4).unwrap(), b"abcd");
    assert_eq!(s.ioctl_transparent(IOC_COPYOUT, 0x7000), Err(EFAULT));
    host.finish();
}

#[test]
fn reply_after_failed_copyin_is_a_violation() {
    let (host, d) = setup();
    let s = host.open(5, &host.root_cred()).unwrap();
    d.bugs.copyin_size.store(8, Ordering::SeqCst);
    d.bugs.reply_after_failed_copy.store(true, Ordering::SeqCst);
    assert_eq!(s.ioctl_transparent(IOC_COPYIN, 0x9000), Err(EFAULT));
    host.expect_violation(ViolationKind::IoctlDoubleReply);
    host.finish();
}

#[test]
fn copy_bounds_and_copyin_on_istr() {
    let (host, d) = setup();
    let s = host.open(5, &host.root_cred()).unwrap();
    host.user_memory().map(0x1000, &[0; 8]);
    d.bugs.copyin_size.store(0, Ordering::SeqCst);
    assert_eq!(s.ioctl_transparent(IOC_COPYIN, 0x1000).err(), Some(EINVAL));
    host.expect_violation(ViolationKind::CopyBounds);
    d.bugs.copyin_size.store(1 << 20, Ordering::SeqCst);
    assert_eq!(s.ioctl_transparent(IOC_COPYIN, 0x1000).err(), Some(EINVAL));
    host.expect_violation(ViolationKind::CopyBounds);
    // M_COPYIN answering an I_STR ioctl.
    d.bugs.copyin_size.store(8, Ordering::SeqCst);
    let arg = 0x1000usize.to_ne_bytes();
    assert_eq!(s.ioctl_istr(IOC_COPYIN, &arg).err(), Some(EINVAL));
    host.expect_violation(ViolationKind::IoctlProtocol);
    host.finish();
}

#[test]
fn m_error_and_m_hangup() {
    let (host, _d) = setup();
    let s = host.open(5, &host.root_cred()).unwrap();
    s.ioctl_istr(IOC_ERROR, b"").unwrap();
    let mut buf = [0u8; 8];
    assert_eq!(s.read(&mut buf, T), Err(EIO));
    assert_eq!(s.write(b"x"), Err(EIO));
    assert_ne!(s.poll(POLLIN, T) & POLLERR, 0);
    let s2 = host.open(5, &host.root_cred()).unwrap();
    s2.ioctl_istr(IOC_HANGUP, b"").unwrap();
    assert_eq!(s2.read(&mut buf, T), Ok(0));
    assert_eq!(s2.write(b"x"), Err(ENXIO));
    assert_ne!(s2.poll(POLLIN, T) & POLLHUP, 0);
    host.finish();
}

#[test]
fn flush_turnaround() {
    let (host, d) = setup();
    d.set_opts((SO_HIWAT | SO_LOWAT, 10, 5, 0, 0, 0, 0));
    let s = host.open(5, &host.root_cred()).unwrap();
    s.write(b"0123456789ab").unwrap();
    s.write(b"more").unwrap();
    assert!(s.queued_bytes() > 0);
    s.flush(FLUSHRW).unwrap();
    // The head flushed its read side; the driver's reply came back up.
    assert_eq!(s.queued_bytes(), 0);
    host.finish();
}

#[test]
fn close_wakes_a_blocked_reader() {
    let (host, _d) = setup();
    let s = Arc::new(host.open(5, &host.root_cred()).unwrap());
    let s2 = s.clone();
    let t = std::thread::spawn(move || {
        let mut buf = [0u8; 4];
        s2.read(&mut buf, Some(Duration::from_secs(20)))
    });
    std::thread::sleep(Duration::from_millis(50));
    s.close();
    assert_eq!(t.join().unwrap(), Err(EBADF));
    host.finish();
}

#[test]
fn missing_qprocson_and_qprocsoff() {
    let (host, d) = setup();
    d.bugs.no_qprocson.store(true, Ordering::SeqCst);
    let s = host.open(5, &host.root_cred()).unwrap();
    host.expect_violation(ViolationKind::QueueState);
    d.bugs.no_qprocson.store(false, Ordering::SeqCst);
    d.bugs.no_qprocsoff.store(true, Ordering::SeqCst);
    s.close();
    host.expect_violation(ViolationKind::QueueState);
    host.finish();
}

#[test]
fn putnext_after_close_is_a_violation() {
    let (host, d) = setup();
    let s = host.open(5, &host.root_cred()).unwrap();
    let rq = s.rq();
    s.close();
    d.send_up(rq, M_DATA, b"late");
    host.expect_violation(ViolationKind::QueueState);
    host.finish();
}

#[test]
fn bad_messages_at_putnext() {
    let (host, _d) = setup();
    let k = host.kernel();
    let s = host.open(5, &host.root_cred()).unwrap();
    // b_wptr beyond db_lim.
    let mp = k.allocb(8);
    unsafe { (*mp).b_wptr = (*mp).b_wptr.add(9) };
    unsafe { k.putnext(s.rq(), mp) };
    host.expect_violation(ViolationKind::BadPointers);
    // b_rptr > b_wptr.
    let mp = k.allocb(8);
    unsafe { (*mp).b_rptr = (*mp).b_rptr.add(2) };
    unsafe { k.putnext(s.rq(), mp) };
    host.expect_violation(ViolationKind::BadPointers);
    // b_next set on a single message.
    let a = alloc_data(&k, M_DATA, b"a");
    let b = alloc_data(&k, M_DATA, b"b");
    unsafe { (*a).b_next = b };
    unsafe { k.putnext(s.rq(), a) };
    host.expect_violation(ViolationKind::BNextSet);
    unsafe { <tuntap_sim::SimKernel as Kernel>::freemsg(b) };
    // A freed message.
    let c = alloc_data(&k, M_DATA, b"c");
    unsafe { <tuntap_sim::SimKernel as Kernel>::freemsg(c) };
    unsafe { k.putnext(s.rq(), c) };
    host.expect_violation(ViolationKind::UseAfterFree);
    // A write queue has nothing below it.
    let e = alloc_data(&k, M_DATA, b"e");
    unsafe { k.putnext(s.wq(), e) };
    host.expect_violation(ViolationKind::QueueState);
    host.finish();
}
