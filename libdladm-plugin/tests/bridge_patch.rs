// SPDX-License-Identifier: MPL-2.0
//! The illumos-gate bridge patch
//! (`patches/illumos-gate/0002-dladm-bridge-misc-links.patch`) compiles
//! and does what its README says: its code is cut out of the patch (the
//! pre-image and the post-image of each hunk), compiled with gcc inside a
//! stand-in for the rest of dladm (`tests/c/bridge_patch.c`) and run on
//! links of every class and media the checks care about.  The pre-image
//! is the stock dladm: it must refuse the tap link, so the test also
//! proves the patch is what lets it in.

use std::path::{Path, PathBuf};
use std::process::Command;

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// One hunk of the patch: the file it changes and its two images.
struct Hunk {
    file: String,
    before: Vec<String>,
    after: Vec<String>,
}

fn hunks() -> Vec<Hunk> {
    let path = crate_dir().join("../patches/illumos-gate/0002-dladm-bridge-misc-links.patch");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut out: Vec<Hunk> = Vec::new();
    let mut file = String::new();
    let mut in_hunk = false;
    for line in text.lines() {
        if let Some(f) = line.strip_prefix("+++ b/") {
            file = f.to_string();
            in_hunk = false;
        } else if line.starts_with("diff --git ") || line == "-- " {
            in_hunk = false;
        } else if line.starts_with("@@ ") {
            out.push(Hunk { file: file.clone(), before: Vec::new(), after: Vec::new() });
            in_hunk = true;
        } else if in_hunk && let Some(h) = out.last_mut() {
            match line.split_at_checked(1) {
                Some((" ", rest)) => {
                    h.before.push(rest.to_string());
                    h.after.push(rest.to_string());
                }
                Some(("-", rest)) => h.before.push(rest.to_string()),
                Some(("+", rest)) => h.after.push(rest.to_string()),
                _ if line.is_empty() => {
                    h.before.push(String::new());
                    h.after.push(String::new());
                }
                _ => panic!("unexpected line in a hunk of {file}: {line:?}"),
            }
        }
    }
    out
}

/// The statement of `image` that starts on the line containing `start`
/// and ends on the first line, from there, for which `end` holds.
fn statement(image: &[String], start: &str, end: impl Fn(&str) -> bool) -> String {
    let from = image.iter().position(|l| l.contains(start)).unwrap_or_else(|| panic!("no line with {start:?}"));
    let to = from + image[from..].iter().position(|l| end(l)).unwrap_or_else(|| panic!("{start:?} does not end"));
    image[from..=to].join("\n") + "\n"
}

/// Write the three fragments of one image (`after` = patched) into `dir`.
fn write_fragments(dir: &Path, after: bool) {
    let hunks = hunks();
    assert_eq!(hunks.len(), 3, "the patch has three hunks: the add check and two walks");
    let image = |h: &Hunk| if after { h.after.clone() } else { h.before.clone() };
    let check = hunks
        .iter()
        .find(|h| h.file == "usr/src/cmd/dladm/dladm.c" && h.after.iter().any(|l| l.contains("cannot be bridged")))
        .expect("a hunk of create_modify_add_bridge");
    std::fs::write(dir.join("add_bridge_check.c"), statement(&image(check), "for (n = 0; n < nlink; n++) {", |l| l == "\t}")).unwrap();
    let show = hunks
        .iter()
        .find(|h| h.file == "usr/src/cmd/dladm/dladm.c" && h.after.iter().any(|l| l.contains("show_bridge_link_walk")))
        .expect("a hunk of do_show_bridge");
    std::fs::write(dir.join("show_bridge_walk.c"), statement(&image(show), "dladm_walk_datalink_id(", |l| l.ends_with(");"))).unwrap();
    let delete = hunks
        .iter()
        .find(|h| h.file == "usr/src/lib/libdladm/common/libdlbridge.c")
        .expect("a hunk of dladm_bridge_delete");
    std::fs::write(dir.join("delete_bridge_walk.c"), statement(&image(delete), "dladm_walk_datalink_id(", |l| l.ends_with(");"))).unwrap();
}

/// Compile the stand-in with one image and run it on every test link.
fn run_image(after: bool) -> String {
    let dir = std::env::temp_dir().join(format!("bridge-patch-{}-{}", std::process::id(), if after { "after" } else { "before" }));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    write_fragments(&dir, after);
    let exe = dir.join("bridge_patch");
    let out = Command::new("gcc")
        .args(["-std=gnu99", "-Wall", "-Wextra", "-Werror", "-Wno-unused-parameter", "-I"])
        .arg(&dir)
        .arg(crate_dir().join("tests/c/bridge_patch.c"))
        .arg("-o")
        .arg(&exe)
        .output()
        .expect("run gcc");
    assert!(out.status.success(), "gcc: {}", String::from_utf8_lossy(&out.stderr));
    let out = Command::new(&exe).args(["e1000g0", "stub0", "tap0", "misc4", "vnic0", "ip.tun0", "nosuch0"]).output().expect("run the stand-in");
    assert!(out.status.success(), "stand-in failed: {}", String::from_utf8_lossy(&out.stderr));
    let _ = std::fs::remove_dir_all(&dir);
    String::from_utf8(out.stdout).unwrap()
}

/// Refused by both images.
const COMMON_REFUSALS: &str = "\
dladm: vnic vnic0 cannot be bridged
dladm: iptun ip.tun0 cannot be bridged
dladm: invalid link name 'nosuch0'
";

#[test]
fn the_patched_dladm_bridges_an_ethernet_misc_link_and_walks_misc_members() {
    let got = run_image(true);
    let want = format!(
        "accepted e1000g0 (id 1)\naccepted stub0 (id 2)\naccepted tap0 (id 3)\n\
         dladm: IPv4 interface misc4 cannot be bridged\n{COMMON_REFUSALS}\
         show-bridge -l walks misc links: yes\ndelete-bridge walks misc links: yes\n"
    );
    assert_eq!(got, want, "create_modify_add_bridge must accept class MISC with media DL_ETHER only, and both walks must include MISC");
}

#[test]
fn the_stock_dladm_refuses_the_tap_link_by_class() {
    let got = run_image(false);
    let want = format!(
        "accepted e1000g0 (id 1)\naccepted stub0 (id 2)\ndladm: misc tap0 cannot be bridged\n\
         dladm: misc misc4 cannot be bridged\n{COMMON_REFUSALS}\
         show-bridge -l walks misc links: no\ndelete-bridge walks misc links: no\n"
    );
    assert_eq!(got, want, "the pre-image is the stock dladm (illumos-gate 01c0cb1c, libdlbridge.c 0663b557)");
}
