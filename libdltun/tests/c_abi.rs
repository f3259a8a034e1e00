// SPDX-License-Identifier: MPL-2.0
//! The C side: the header compiles as C89, C99 and C++; the C compiler's
//! sizes, offsets and constants equal the Rust ones; and a C program
//! built with gcc against the header and the shared object (feature
//! `sim`, soname `libdltun.so.1`) manages links, its output checked line
//! by line.  Needs gcc (g++ for the C++ check, when present).

use std::collections::BTreeMap;
use std::mem::{offset_of, size_of};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use dltun::abi::*;

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn include_dir() -> PathBuf {
    crate_dir().join("include")
}

fn c_dir() -> PathBuf {
    crate_dir().join("tests/c")
}

/// A fresh scratch directory for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("libdltun-c-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[track_caller]
fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The shared object cargo built for this test run (beside the test
/// binary, in `deps/`), installed into `dir` as a system would:
/// `libdltun.so.1` and the link-time name `libdltun.so` pointing to it.
fn install_library(dir: &Path) {
    let exe = std::env::current_exe().unwrap();
    let deps = exe.parent().unwrap();
    let built = deps.join("libdltun.so");
    assert!(built.exists(), "{} is missing: cargo builds it with the tests", built.display());
    let nm = run(Command::new("nm").args(["-D", "--defined-only"]).arg(&built));
    assert!(
        String::from_utf8_lossy(&nm.stdout).contains("dltun_sim_reboot"),
        "{} was built without the sim feature (a plain `cargo build -p libdltun` overwrote it; \
         run `cargo clean -p libdltun` and test again)",
        built.display()
    );
    std::fs::copy(&built, dir.join("libdltun.so.1")).unwrap();
    std::os::unix::fs::symlink("libdltun.so.1", dir.join("libdltun.so")).unwrap();
}

fn gcc() -> Command {
    let mut c = Command::new("gcc");
    c.arg("-I").arg(include_dir()).arg("-I").arg(c_dir());
    c
}

#[test]
fn the_header_is_clean_c89_c99_and_cpp() {
    let dir = scratch("header");
    let src = dir.join("only_header.c");
    std::fs::write(&src, "#include <libdltun.h>\nint main(void) { return (DLTUN_STATUS_OK); }\n").unwrap();
    for std in ["-std=c89", "-std=c99", "-std=c11"] {
        run(gcc().args([std, "-pedantic-errors", "-Wall", "-Wextra", "-Werror", "-fsyntax-only"]).arg(&src));
    }
    if Command::new("g++").arg("--version").output().is_ok_and(|o| o.status.success()) {
        let cpp = dir.join("only_header.cc");
        std::fs::write(&cpp, "#include <libdltun.h>\nint main() { dltun_handle_t *h = 0; return dltun_open(&h); }\n")
            .unwrap();
        run(Command::new("g++")
            .arg("-I")
            .arg(include_dir())
            .args(["-std=c++98", "-pedantic-errors", "-Wall", "-Wextra", "-Werror", "-fsyntax-only"])
            .arg(&cpp));
    } else {
        eprintln!("g++ not installed: the C++ check of the header is skipped");
    }
}

/// What the Rust definitions say, in layout.c's format.
fn rust_layout() -> Vec<String> {
    let mut v = Vec::new();
    macro_rules! size {
        ($t:ty, $name:expr) => {
            v.push(format!("sizeof {} {}", $name, size_of::<$t>()))
        };
    }
    macro_rules! off {
        ($t:ident, $($f:ident),*) => {
            $(v.push(format!("offsetof {}.{} {}", stringify!($t), stringify!($f), offset_of!($t, $f)));)*
        };
    }
    macro_rules! val {
        ($($c:ident),*) => {
            $(v.push(format!("value {} {}", stringify!($c), $c as i64));)*
        };
    }
    size!(dltun_status_t, "dltun_status_t");
    size!(u32, "dltun_mode_t"); // modes are carried in uint32_t fields
    size!(dltun_up_result_t, "dltun_up_result_t");
    size!(dltun_attr_t, "dltun_attr_t");
    off!(dltun_attr_t, da_name, da_mode, da_flags, da_set, da_mtu, da_owner, da_group, da_macaddr);
    size!(dltun_modify_t, "dltun_modify_t");
    off!(dltun_modify_t, dm_set, dm_mtu, dm_owner, dm_group, dm_macaddr);
    size!(dltun_counters_t, "dltun_counters_t");
    off!(
        dltun_counters_t,
        dc_ipackets,
        dc_rbytes,
        dc_opackets,
        dc_obytes,
        dc_ierrors,
        dc_oerrors,
        dc_norcvbuf,
        dc_noxmtbuf
    );
    size!(dltun_counter_t, "dltun_counter_t");
    off!(dltun_counter_t, dn_name, dn_value);
    size!(dltun_info_t, "dltun_info_t");
    off!(
        dltun_info_t,
        di_name,
        di_linkid,
        di_mode,
        di_state,
        di_flags,
        di_origin,
        di_mtu,
        di_owner,
        di_group,
        di_zoneid,
        di_zonename,
        di_mac,
        di_macaddr,
        di_nqueues,
        di_npids,
        di_pids,
        di_creator_pid,
        di_created_ns,
        di_counters
    );
    // The queue options: the same structures and values as tuntap_abi's
    // (the driver's own definitions), under their C names.
    {
        use tuntap_abi::batch::{TunIocBatch, TunRecord};
        use tuntap_abi::offload::{TunIocOffload, VirtioNetHdr};
        macro_rules! off_as {
            ($t:ty, $c:literal, $($f:ident => $cf:literal),*) => {
                v.push(format!("sizeof {} {}", $c, size_of::<$t>()));
                $(v.push(format!("offsetof {}.{} {}", $c, $cf, offset_of!($t, $f)));)*
            };
        }
        off_as!(TunIocBatch, "dltun_ioc_batch_t", version => "qb_version", flags => "qb_flags",
            read_max => "qb_read_max", refused => "qb_refused", last_error => "qb_last_error",
            last_record => "qb_last_record");
        off_as!(TunRecord, "dltun_record_t", len => "dr_len", flags => "dr_flags", _pad => "dr_reserved");
        off_as!(TunIocOffload, "dltun_ioc_offload_t", version => "qo_version", flags => "qo_flags",
            link_hcksum => "qo_link_hcksum", link_lso => "qo_link_lso", refused => "qo_refused",
            _pad => "qo_reserved");
        off_as!(VirtioNetHdr, "dltun_vnet_hdr_t", flags => "vh_flags", gso_type => "vh_gso_type",
            hdr_len => "vh_hdr_len", gso_size => "vh_gso_size", csum_start => "vh_csum_start",
            csum_offset => "vh_csum_offset");
    }
    for (code, name) in STATUS_NAMES {
        v.push(format!("value {name} {code}"));
    }
    val!(DLTUN_NAMELEN, DLTUN_ZONENAMELEN, DLTUN_MACSTRLEN, DLTUN_MAXPIDS, DLTUN_NOID);
    val!(DLTUN_MODE_TUN, DLTUN_MODE_TAP, DLTUN_OPT_TEMPORARY, DLTUN_OPT_FORCE, DLTUN_OPT_PERSIST);
    val!(DLTUN_ATTR_MTU, DLTUN_ATTR_MACADDR, DLTUN_ATTR_OWNER, DLTUN_ATTR_GROUP);
    val!(DLTUN_STATE_DOWN, DLTUN_STATE_UP, DLTUN_STATE_CONFIGURED);
    val!(DLTUN_INFO_ACTIVE, DLTUN_INFO_PERSISTENT, DLTUN_INFO_CARRIER, DLTUN_INFO_EXCLUSIVE, DLTUN_INFO_KEEP);
    val!(DLTUN_ORIGIN_NONE, DLTUN_ORIGIN_ADMIN, DLTUN_ORIGIN_OLDAPI, DLTUN_ORIGIN_ATTACH);
    val!(DLTUN_WALK_CONTINUE, DLTUN_WALK_TERMINATE);
    val!(DLTUN_UP_CREATED, DLTUN_UP_ALREADY, DLTUN_UP_FAILED);
    {
        use tuntap_abi::batch::{self as b, BatchError as E, batch_flags};
        use tuntap_abi::offload::{self as o, offload_flags};
        let next = |off: usize, len: usize| off + b::RECORD_HDR_LEN + len + b::record_pad(len);
        for (name, value) in [
            ("DLTUN_QUEUE_VERSION", i64::from(tuntap_abi::TUN_ABI_VERSION)),
            ("DLTUN_IOC_BATCH", i64::from(tuntap_abi::TUN_IOC_BATCH)),
            ("DLTUN_IOC_OFFLOAD", i64::from(tuntap_abi::TUN_IOC_OFFLOAD)),
            ("DLTUN_BATCH_READ", i64::from(batch_flags::READ)),
            ("DLTUN_BATCH_WRITE", i64::from(batch_flags::WRITE)),
            ("DLTUN_BATCH_READ_MIN", i64::from(b::READ_MAX_MIN)),
            ("DLTUN_BATCH_READ_MAX", i64::from(b::READ_MAX_MAX)),
            ("DLTUN_BATCH_READ_DEFAULT", i64::from(b::READ_MAX_DEFAULT)),
            ("DLTUN_BATCH_WRITE_MAX", b::WRITE_MAX as i64),
            ("DLTUN_BATCH_ERR_TRUNCHDR", i64::from(E::TruncatedHeader.code())),
            ("DLTUN_BATCH_ERR_TRUNCREC", i64::from(E::TruncatedRecord.code())),
            ("DLTUN_BATCH_ERR_EMPTY", i64::from(E::Empty.code())),
            ("DLTUN_BATCH_ERR_OVERSIZE", i64::from(E::Oversize.code())),
            ("DLTUN_BATCH_ERR_RESERVED", i64::from(E::Reserved.code())),
            ("DLTUN_BATCH_ERR_NORECORD", i64::from(E::NoRecords.code())),
            ("DLTUN_RECORD_ALIGN", b::RECORD_ALIGN as i64),
            ("DLTUN_RECORD_NEXT(0, 1)", next(0, 1) as i64),
            ("DLTUN_RECORD_NEXT(12, 4)", next(12, 4) as i64),
            ("DLTUN_RECORD_NEXT(20, 1499)", next(20, 1499) as i64),
            ("DLTUN_OFFLOAD_VNET_HDR", i64::from(offload_flags::VNET_HDR)),
            ("DLTUN_OFFLOAD_CSUM", i64::from(offload_flags::CSUM)),
            ("DLTUN_OFFLOAD_TSO4", i64::from(offload_flags::TSO4)),
            ("DLTUN_OFFLOAD_TSO6", i64::from(offload_flags::TSO6)),
            ("DLTUN_VNET_F_NEEDS_CSUM", i64::from(o::VIRTIO_NET_HDR_F_NEEDS_CSUM)),
            ("DLTUN_VNET_F_DATA_VALID", i64::from(o::VIRTIO_NET_HDR_F_DATA_VALID)),
            ("DLTUN_VNET_GSO_NONE", i64::from(o::VIRTIO_NET_HDR_GSO_NONE)),
            ("DLTUN_VNET_GSO_TCPV4", i64::from(o::VIRTIO_NET_HDR_GSO_TCPV4)),
            ("DLTUN_VNET_GSO_TCPV6", i64::from(o::VIRTIO_NET_HDR_GSO_TCPV6)),
            ("DLTUN_VNET_GSO_ECN", i64::from(o::VIRTIO_NET_HDR_GSO_ECN)),
        ] {
            v.push(format!("value {name} {value}"));
        }
    }
    v
}

#[test]
fn c_sizes_offsets_and_constants_match_rust() {
    let dir = scratch("layout");
    let exe = dir.join("layout");
    run(gcc().args(["-std=c99", "-Wall", "-Wextra", "-Werror"]).arg(c_dir().join("layout.c")).arg("-o").arg(&exe));
    let out = run(&mut Command::new(&exe));
    let c: Vec<String> = String::from_utf8(out.stdout).unwrap().lines().map(str::to_string).collect();
    let rust = rust_layout();
    // Same facts, in the same order: a field or constant missing on either
    // side shows as a difference too.
    let c_map: BTreeMap<_, _> = c.iter().map(|l| (l.rsplit_once(' ').unwrap().0, l.as_str())).collect();
    for line in &rust {
        let key = line.rsplit_once(' ').unwrap().0;
        assert_eq!(c_map.get(key).copied(), Some(line.as_str()), "C and Rust differ on '{key}'");
    }
    assert_eq!(c, rust);
    // The layout the header documents for LP64.
    if size_of::<usize>() == 8 {
        assert_eq!(size_of::<dltun_info_t>(), 272);
        assert_eq!(size_of::<dltun_attr_t>(), 40);
        assert_eq!(size_of::<dltun_modify_t>(), 24);
    }
}

const BADARG: &str = "100 (invalid argument (null pointer, unknown flag or mode, unreadable string))";

fn expected_lifecycle() -> String {
    // Every counter of the driver's table, by name, all zero.
    let table = tuntap_abi::TunCounters::default().named();
    let counters_line = format!(
        "{} counters:{}",
        table.len(),
        table.iter().map(|(n, _)| format!(" {n}=0")).collect::<String>()
    );
    let lines = [
        "open: ok",
        "open errmsg: ''",
        "create tap0: ok",
        "linkid reported: yes",
        "linkid matches: yes",
        "info tap0: mode=tap state=1 active=1 persistent=1 mtu=1400 mac=2:8:20:0:0:1 owner=1001 zone=global queues=0 npids=0",
        "create tap0 again: 2 (link already exists) link tap0: already exists (a tap link)",
        "create mtu 100: 5 (invalid MTU) link tap1: invalid MTU 100: must be 576 to 65535",
        "create multicast mac: 6 (invalid MAC address) link tap1: invalid MAC address '1:0:5e:0:0:1': \
         it is a multicast/broadcast address (first octet is odd)",
        "create 1tap: 1 (invalid link name) link 1tap: invalid link name: link name must not start with a digit",
        &format!("create null name: {BADARG} no link name (null pointer)"),
        &format!("create null attr: {BADARG} no attributes (dltun_attr_t) (null pointer)"),
        &format!("info null name: {BADARG} no link name (null pointer)"),
        "info nope0: 3 (no such link) link nope0: no such link",
        "create tun1 -t: ok",
        "info tun1: mode=tun state=1 active=1 persistent=0 mtu=1500 mac=-- owner=none zone=global queues=0 npids=0",
        "info tun1 -P: 3 (no such link) link tun1: has no persistent configuration (it is a temporary link)",
        "walk all: tap0 tun1 (2)",
        "walk first: tap0 (1)",
        "walk -P: tap0 (1)",
        &format!("walk null callback: {BADARG} no walk callback (null pointer)"),
        "attach tap0: ok",
        "attached pid <pid>",
        "pid listed: yes",
        "info tap0: mode=tap state=2 active=1 persistent=1 mtu=1400 mac=2:8:20:0:0:1 owner=1001 zone=global queues=1 npids=1",
        "counters: ok",
        &counters_line,
        "delete tap0: 11 (link is busy) link tap0: busy: 1 queue(s) attached (pid <pid>); stop the daemon or use --force",
        "modify tap0 mtu 9000, no owner: ok",
        "info tap0: mode=tap state=2 active=1 persistent=1 mtu=9000 mac=2:8:20:0:0:1 owner=none zone=global queues=1 npids=1",
        "modify tap0 -t mtu 1280: ok",
        "info tap0: mode=tap state=2 active=1 persistent=1 mtu=1280 mac=2:8:20:0:0:1 owner=none zone=global queues=1 npids=1",
        "info tap0 -P: mode=tap state=2 active=1 persistent=1 mtu=9000 mac=2:8:20:0:0:1 owner=none zone=global queues=0 npids=0",
        "modify tun1 mac: 7 (a MAC address applies to tap links only) \
         link tun1: a MAC address applies to tap links only (this is a tun link)",
        &format!("modify tap0 unknown flag: {BADARG} unknown flag(s) 0x80"),
        "delete tap0 force: ok",
        "delete tun1: ok",
        "walk after delete: (0)",
        "create vpn0: ok",
        "reboot: ok",
        "info vpn0: mode=tun state=3 active=0 persistent=1 mtu=1420 mac=-- owner=none zone=global queues=0 npids=0",
        "up vpn0: created 0",
        "up: ok",
        "info vpn0: mode=tun state=1 active=1 persistent=1 mtu=1420 mac=-- owner=none zone=global queues=0 npids=0",
        "up vpn0: already 0",
        "up vpn0: ok",
        "delete vpn0: ok",
        "panic: 101 (internal error in libdltun) internal error in libdltun: deliberate panic from dltun_sim_panic",
    ];
    let mut out: Vec<String> = lines.iter().map(|s| s.to_string()).collect();
    for s in libdladm_plugin::Status::ALL {
        out.push(format!("strerror {}: {}", s as u32, s.description()));
    }
    out.push(format!("strerror 100: {}", &BADARG[5..BADARG.len() - 1]));
    out.push("strerror 101: internal error in libdltun".into());
    out.push("strerror 102: the tuntap driver or dlmgmtd is not available".into());
    out.push("strerror 103: unknown libdltun status".into());
    out.push("close: 0".into());
    out.join("\n") + "\n"
}

#[test]
fn a_c_program_manages_links_through_the_shared_object() {
    let dir = scratch("lifecycle");
    install_library(&dir);
    let exe = dir.join("lifecycle");
    run(gcc()
        .args(["-std=c99", "-Wall", "-Wextra", "-Werror"])
        .arg(c_dir().join("lifecycle.c"))
        .arg("-L")
        .arg(&dir)
        .arg("-ldltun")
        .arg("-o")
        .arg(&exe));

    // The program records the soname, not the link-time name.
    let dynamic = run(Command::new("readelf").arg("-d").arg(&exe));
    let dynamic = String::from_utf8_lossy(&dynamic.stdout);
    assert!(dynamic.contains("Shared library: [libdltun.so.1]"), "{dynamic}");
    // ... and the versions of what it calls (mapfile-vers).
    let needs = run(Command::new("readelf").arg("-V").arg(&exe));
    let needs = String::from_utf8_lossy(&needs.stdout);
    for version in ["LIBDLTUN_1.0", "LIBDLTUN_1.1"] {
        assert!(needs.contains(&format!("Name: {version}")), "the program needs {version}:\n{needs}");
    }

    let out = run(Command::new(&exe).env("LD_LIBRARY_PATH", &dir));
    let stdout = String::from_utf8(out.stdout).unwrap();
    // The daemon's pid is the simulator's; name it <pid>.
    let pid = stdout
        .lines()
        .find_map(|l| l.strip_prefix("attached pid "))
        .unwrap_or_else(|| panic!("no attached pid line:\n{stdout}"))
        .to_string();
    assert!(pid.parse::<i32>().is_ok_and(|p| p > 0), "pid '{pid}'");
    let stdout = stdout
        .replace(&format!("attached pid {pid}\n"), "attached pid <pid>\n")
        .replace(&format!("(pid {pid})"), "(pid <pid>)");
    let expected = expected_lifecycle();
    for (i, (got, want)) in stdout.lines().zip(expected.lines()).enumerate() {
        assert_eq!(got, want, "line {} of the C program's output", i + 1);
    }
    assert_eq!(stdout, expected);
}

/// The lines the dladm patch adds at the end of `dladm.c`: the tun
/// subcommands.
fn patch_subcommands() -> String {
    let patch = crate_dir().join("../patches/illumos-gate/0001-dladm-tun-subcommands.patch");
    let text = std::fs::read_to_string(&patch).unwrap_or_else(|e| panic!("{}: {e}", patch.display()));
    let dladm_c = text.split("diff --git a/usr/src/cmd/dladm/dladm.c").nth(1).expect("the patch changes dladm.c");
    // The last hunk of dladm.c appends the subcommands.
    let last_hunk = dladm_c.rsplit("\n@@ ").next().unwrap();
    let added: Vec<&str> = last_hunk
        .lines()
        .skip(1)
        .take_while(|l| *l != "-- ")
        .filter_map(|l| l.strip_prefix('+'))
        .collect();
    for f in ["do_create_tun", "do_delete_tun", "do_modify_tun", "do_show_tun", "do_up_tun"] {
        assert!(added.iter().any(|l| l.starts_with(&format!("{f}(int argc"))), "{f} is not defined by the patch");
        assert!(dladm_c.contains(&format!("\t{f},")), "{f} is not in dladm's command table");
    }
    added.join("\n") + "\n"
}

#[test]
fn the_dladm_patch_subcommands_run_against_libdltun() {
    let dir = scratch("dladm");
    install_library(&dir);
    std::fs::write(dir.join("tun_block.c"), patch_subcommands()).unwrap();
    let exe = dir.join("dladm_tun");
    // The patch's code with dladm's own warnings off: -Wno-unused-parameter
    // as for every dladm subcommand that ignores its usage string.
    run(gcc()
        .args(["-std=gnu99", "-Wall", "-Wextra", "-Werror", "-Wno-unused-function", "-Wno-unused-parameter"])
        .arg("-I")
        .arg(&dir)
        .arg(c_dir().join("dladm_tun.c"))
        .arg("-L")
        .arg(&dir)
        .arg("-ldltun")
        .arg("-o")
        .arg(&exe));
    let out = run(Command::new(&exe).env("LD_LIBRARY_PATH", &dir));
    let stdout = String::from_utf8(out.stdout).unwrap();
    // The simulated daemon's pid is the simulator's; name it <pid>.
    let stdout = match stdout.split_once("attached (pid ") {
        Some((before, after)) => {
            let (pid, rest) = after.split_once(')').unwrap();
            assert!(pid.parse::<i32>().is_ok(), "pid '{pid}'");
            format!("{before}attached (pid <pid>){rest}")
        }
        None => stdout,
    };
    let expected: String = std::fs::read_to_string(c_dir().join("dladm_tun.expected"))
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with("##"))
        .map(|l| format!("{l}\n"))
        .collect();
    for (i, (got, want)) in stdout.lines().zip(expected.lines()).enumerate() {
        assert_eq!(got, want, "line {} of the dladm run", i + 1);
    }
    assert_eq!(stdout, expected);
}
