// SPDX-License-Identifier: MPL-2.0
//! The userland man pages state the facts `tuntap-abi` owns (issue 10):
//! `tunctl(8)`'s list of counters is `TunCounters::named()`, in order,
//! and every MTU range a page gives is `MTU_MIN`..`MTU_MAX` with default
//! `MTU_DEFAULT`.  Each check also runs on a stale copy to show it bites.

use std::fs;
use std::path::{Path, PathBuf};

use tuntap_abi::{MTU_DEFAULT, MTU_MAX, MTU_MIN, TunCounters};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).expect("xtask lives in the repository")
}

fn page(name: &str) -> String {
    fs::read_to_string(repo().join("man").join(name)).unwrap_or_else(|e| panic!("read man/{name}: {e}"))
}

/// The counters `tunctl(8)` lists after "in this order:" in its `-s`
/// paragraph: the `.Sy` words (and the one after `and`) until the list ends.
fn page_counters(page: &str) -> Result<Vec<String>, String> {
    let mut lines = page.lines().skip_while(|l| !l.contains("in this order:"));
    if lines.next().is_none() {
        return Err("tunctl(8) has no counter list ('in this order:')".into());
    }
    let mut names = Vec::new();
    for line in lines {
        if let Some(rest) = line.strip_prefix(".Sy ") {
            names.extend(rest.split(',').map(|w| w.trim().to_string()).filter(|w| !w.is_empty() && w != "."));
        } else if line.trim() != "and" {
            break;
        }
    }
    Ok(names)
}

fn counter_problems(page: &str) -> Vec<String> {
    let want: Vec<String> = TunCounters::default().named().iter().map(|(n, _)| n.to_string()).collect();
    match page_counters(page) {
        Err(e) => vec![e],
        Ok(listed) if listed != want => vec![format!(
            "tunctl(8) lists the counters {listed:?}; TunCounters::named() has {want:?} (a new counter is a row in named() and a word on this page)"
        )],
        Ok(_) => vec![],
    }
}

#[test]
fn tunctl_page_lists_exactly_the_abi_counters() {
    let problems = counter_problems(&page("tunctl.8"));
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn counter_check_catches_a_stale_page() {
    let stale = page("tunctl.8").replace(".Sy resolver_replies", ".Sy rbytes");
    let problems = counter_problems(&stale);
    assert!(problems.iter().any(|p| p.contains("TunCounters::named()")), "{problems:?}");
}

/// Every "A to B" MTU range and "default N"/"N by default" a page gives
/// near the word MTU, as numbers.
fn mtu_problems(name: &str, page: &str) -> Vec<String> {
    let mut out = Vec::new();
    let range = format!("{MTU_MIN} to {MTU_MAX}");
    let mut seen = 0;
    for (n, line) in page.lines().enumerate() {
        let words: Vec<&str> = line.split(|c: char| !c.is_ascii_digit()).filter(|w| !w.is_empty()).collect();
        if let Some(at) = line.find(" to ") {
            let before = line[..at].rsplit(|c: char| !c.is_ascii_digit()).next().unwrap_or("");
            let after: String = line[at + 4..].chars().take_while(char::is_ascii_digit).collect();
            if let (Ok(lo), Ok(hi)) = (before.parse::<u32>(), after.parse::<u32>())
                && lo >= 500
            {
                seen += 1;
                if !line.contains(&range) {
                    out.push(format!("man/{name}:{}: MTU range {lo} to {hi}, the ABI says {range}", n + 1));
                }
                let default = words.iter().filter_map(|w| w.parse::<u32>().ok()).find(|v| *v != lo && *v != hi);
                if let Some(d) = default
                    && d != MTU_DEFAULT
                {
                    out.push(format!("man/{name}:{}: default MTU {d}, the ABI says {MTU_DEFAULT}", n + 1));
                }
            }
        }
    }
    if seen == 0 {
        out.push(format!("man/{name}: gives no MTU range ({range})"));
    }
    out
}

#[test]
fn pages_give_the_abi_mtu_range_and_default() {
    let mut problems = Vec::new();
    for name in ["tunctl.8", "dladm-tun.8", "libdltun.3lib"] {
        problems.extend(mtu_problems(name, &page(name)));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn mtu_check_catches_a_stale_page() {
    let stale = page("tunctl.8").replace(&format!("{MTU_MIN} to {MTU_MAX}; {MTU_DEFAULT}"), "1280 to 65535; 1500");
    assert!(mtu_problems("tunctl.8", &stale).iter().any(|p| p.contains("the ABI says")), "stale range not caught");
    let stale = page("tunctl.8").replace(&format!("{MTU_MAX}; {MTU_DEFAULT}"), &format!("{MTU_MAX}; 9000"));
    assert!(mtu_problems("tunctl.8", &stale).iter().any(|p| p.contains("default MTU 9000")), "stale default not caught");
}
