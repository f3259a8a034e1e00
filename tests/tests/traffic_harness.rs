// SPDX-License-Identifier: MPL-2.0
//! The traffic harness's own pieces that need no namespace: the echo
//! responder's packet logic, the transfer digest, command running and the
//! bad-input paths of the namespace helpers.

use std::time::Duration;

use tuntap_tests::app::{echo_reply, ipv6_upper_checksum};
use tuntap_tests::netns::{Netns, run_command};
use tuntap_tests::tcp::{Fnv64, PatternStream};
use tuntap_tests::*;

fn icmp4_echo(kind: u8, seq: u16, payload: &[u8]) -> Vec<u8> {
    let mut icmp = vec![kind, 0, 0, 0, 0xab, 0xcd];
    icmp.extend_from_slice(&seq.to_be_bytes());
    icmp.extend_from_slice(payload);
    let sum = checksum(&icmp);
    icmp[2..4].copy_from_slice(&sum.to_be_bytes());
    ipv4_packet([10, 0, 0, 1], [10, 0, 0, 2], 1, &icmp)
}

fn icmp6_echo(kind: u8, payload: &[u8]) -> Vec<u8> {
    let mut icmp = vec![kind, 0, 0, 0, 0, 7, 0, 1];
    icmp.extend_from_slice(payload);
    let p = ipv6_packet(58, &icmp);
    let sum = ipv6_upper_checksum(&p[8..24], &p[24..40], 58, &p[40..]);
    let mut p = p;
    p[42..44].copy_from_slice(&sum.to_be_bytes());
    p
}

#[test]
fn ipv4_echo_reply_swaps_addresses_and_checksums_verify() {
    let req = icmp4_echo(8, 5, b"hello, tun");
    let rep = echo_reply(&req).expect("a reply");
    assert_eq!(&rep[12..16], &[10, 0, 0, 2]);
    assert_eq!(&rep[16..20], &[10, 0, 0, 1]);
    assert_eq!(rep[20], 0, "echo reply");
    assert_eq!(&rep[24..], &req[24..], "identifier, sequence and data kept");
    assert_eq!(checksum(&rep[..20]), 0, "IP header checksum verifies");
    assert_eq!(checksum(&rep[20..]), 0, "ICMP checksum verifies");
}

#[test]
fn ipv6_echo_reply_checksum_covers_the_pseudo_header() {
    let req = icmp6_echo(128, b"hello, v6");
    let rep = echo_reply(&req).expect("a reply");
    assert_eq!(&rep[8..24], &req[24..40]);
    assert_eq!(&rep[24..40], &req[8..24]);
    assert_eq!(rep[40], 129);
    assert_eq!(ipv6_upper_checksum(&rep[8..24], &rep[24..40], 58, &rep[40..]), 0);
}

#[test]
fn echo_reply_ignores_what_is_not_a_valid_echo_request() {
    let mut bad_sum = icmp4_echo(8, 1, b"x");
    *bad_sum.last_mut().unwrap() ^= 0xff;
    assert_eq!(echo_reply(&bad_sum), None, "ICMP checksum wrong");
    assert_eq!(echo_reply(&icmp4_echo(0, 1, b"x")), None, "a reply is not answered");
    let mut short = icmp4_echo(8, 1, b"x");
    short.pop();
    assert_eq!(echo_reply(&short), None, "IP total length disagrees");
    assert_eq!(echo_reply(&udp4([1, 1, 1, 1], [2, 2, 2, 2], 1, 2, b"u")), None, "not ICMP");
    let mut v6 = icmp6_echo(128, b"y");
    v6[44] ^= 1;
    assert_eq!(echo_reply(&v6), None, "ICMPv6 checksum wrong");
    assert_eq!(echo_reply(&icmp6_echo(135, b"")), None, "neighbour solicitation is not echo");
    assert_eq!(echo_reply(&[]), None);
    assert_eq!(echo_reply(&[0x45]), None);
    assert_eq!(echo_reply(&[0x60; 30]), None);
}

#[test]
fn digest_is_independent_of_chunking_and_sees_corruption() {
    let mut data = vec![0u8; 100_000];
    PatternStream::new(7).fill(&mut data);
    let mut whole = Fnv64::default();
    whole.update(&data);
    let mut pieces = Fnv64::default();
    for c in data.chunks(1448) {
        pieces.update(c);
    }
    assert_eq!(whole.value(), pieces.value());
    data[50_000] ^= 1;
    let mut flipped = Fnv64::default();
    flipped.update(&data);
    assert_ne!(whole.value(), flipped.value());
    let (mut x, mut y) = (vec![0u8; 64], vec![0u8; 64]);
    PatternStream::new(1).fill(&mut x);
    PatternStream::new(2).fill(&mut y);
    assert_ne!(x, y, "seeds give different streams");
}

#[test]
fn commands_time_out_and_failures_name_the_command() {
    let out = run_command("sleep", &["5"], Duration::from_millis(100)).unwrap();
    assert!(out.timed_out && !out.success());
    let e = out.ok().unwrap_err().to_string();
    assert!(e.contains("sleep 5") && e.contains("timeout"), "{e}");
    let e = run_command("ip", &["link", "show", "dev", "no-such-device-x"], Duration::from_secs(5))
        .unwrap()
        .ok()
        .unwrap_err()
        .to_string();
    assert!(e.contains("no-such-device-x") && e.contains("exit"), "{e}");
    let e = run_command("/nonexistent/tool", &[], Duration::from_secs(1)).unwrap_err().to_string();
    assert!(e.contains("/nonexistent/tool"), "{e}");
}

#[test]
fn namespace_helpers_refuse_bad_names() {
    let e = Netns::new("bad name/").unwrap_err().to_string();
    assert!(e.contains("bad name/"), "{e}");
    assert!(Netns::new("").is_err());
    let ns = Netns::new("names").expect("a namespace (tests run as root)");
    let e = ns.tap("a-name-far-too-long", [2, 0, 0, 0, 0, 1], 1500).unwrap_err().to_string();
    assert!(e.contains("a-name-far-too-long"), "{e}");
    let e = ns.addr_add("nonexistent0", "10.0.0.1/24").unwrap_err().to_string();
    assert!(e.contains("nonexistent0"), "{e}");
    let e = ns.packet_socket("nonexistent0").unwrap_err().to_string();
    assert!(e.contains("nonexistent0") && e.contains(ns.name()), "{e}");
    let path = format!("/var/run/netns/{}", ns.name());
    assert!(std::path::Path::new(&path).exists());
    drop(ns);
    assert!(!std::path::Path::new(&path).exists(), "dropping the namespace deletes it");
}
