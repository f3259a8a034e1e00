// SPDX-License-Identifier: MPL-2.0

//! The kernel stack: DEFAULTSTKSZ with a guard page, depth measured.

use std::process::Command;

use kloader::kstack::{self, DEFAULTSTKSZ, OVERFLOW_EXIT};

/// Uses about `frames` KiB of stack.
#[inline(never)]
fn deep(frames: usize) -> u8 {
    let mut buf = [0u8; 1024];
    buf[frames % 1024] = frames as u8;
    let buf = std::hint::black_box(buf);
    if frames == 0 { buf[0] } else { deep(frames - 1).wrapping_add(buf[frames % 1024]) }
}

#[test]
fn depth_is_measured_per_entry_point() {
    kstack::enter("kstack-test 4k", || std::hint::black_box(deep(4)));
    let d = kstack::deepest()["kstack-test 4k"];
    assert!((4 * 1024..DEFAULTSTKSZ).contains(&d), "measured {d} bytes for ~5 KiB of frames");
    // The pattern is restored: a shallower call measures less.
    kstack::enter("kstack-test 1k", || std::hint::black_box(deep(1)));
    let e = kstack::deepest()["kstack-test 1k"];
    assert!(e < d && e >= 1024, "measured {e} after {d}");
}

#[test]
fn a_frame_deeper_than_defaultstksz_hits_the_guard_and_names_the_entry_point() {
    if std::env::var_os("KLOADER_OVERFLOW_CHILD").is_some() {
        // In the child: 40 KiB of frames on a 20 KiB stack.
        kstack::enter("deep_entry_point", || std::hint::black_box(deep(40)));
        unreachable!("the guard page was not hit");
    }
    let exe = std::env::current_exe().unwrap();
    let mut child = Command::new(exe);
    child
        .args(["--exact", "a_frame_deeper_than_defaultstksz_hits_the_guard_and_names_the_entry_point", "--nocapture"])
        .env("KLOADER_OVERFLOW_CHILD", "1");
    let out = output_within(&mut child, std::time::Duration::from_secs(60));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(OVERFLOW_EXIT), "child status {:?}; stderr:\n{stderr}", out.status);
    assert!(stderr.contains("kernel stack overflow in entry point deep_entry_point"), "{stderr}");
}

/// Runs `cmd` to completion, killing it (and failing) after `limit`.
fn output_within(cmd: &mut Command, limit: std::time::Duration) -> std::process::Output {
    use std::process::Stdio;
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn the test binary");
    let deadline = std::time::Instant::now() + limit;
    loop {
        if child.try_wait().expect("wait").is_some() {
            return child.wait_with_output().expect("output");
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the overflow child did not finish in {limit:?}");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn nested_switches_keep_both_stacks_intact() {
    // module code -> a kernel function on the host stack -> module code
    // again (putnext reaching another put procedure): every frame keeps
    // its values across the switches.
    let expect = deep(100).wrapping_add(deep(3)).wrapping_add(deep(2));
    let got = kstack::enter("nest-outer", || {
        let a = std::hint::black_box(deep(3));
        let b = kstack::host(|| {
            let c = std::hint::black_box(deep(100)); // 100 KiB: only the host stack has room
            c.wrapping_add(kstack::enter("nest-inner", || deep(2)))
        });
        a.wrapping_add(b)
    });
    assert_eq!(got, expect);
    assert!(kstack::deepest()["nest-outer"] < DEFAULTSTKSZ);
    assert!(!kstack::deepest().contains_key("nest-inner"), "a nested entry is counted in the outermost one");
}

#[test]
fn a_kernel_that_never_finishes_is_stopped_by_the_watchdog() {
    if std::env::var_os("KLOADER_WATCHDOG_CHILD").is_some() {
        let Some(paths) = kloader::Paths::built() else { std::process::exit(0) };
        let k = kloader::LoadedKernel::boot_built(&paths).unwrap();
        std::thread::sleep(std::time::Duration::from_secs(30)); // a "deadlock"
        drop(k);
        unreachable!("the watchdog did not fire");
    }
    if kloader::Paths::built().is_none() {
        return;
    }
    let mut child = Command::new(std::env::current_exe().unwrap());
    child
        .args(["--exact", "a_kernel_that_never_finishes_is_stopped_by_the_watchdog", "--nocapture"])
        .env("KLOADER_WATCHDOG_CHILD", "1")
        .env("KLOADER_WATCHDOG_SECS", "1");
    let out = output_within(&mut child, std::time::Duration::from_secs(20));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("still running after 1s"), "{stderr}");
}
