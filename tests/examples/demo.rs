// SPDX-License-Identifier: MPL-2.0
//! Demo: a VPN through the tuntap driver (scenario 2), for an
//! administrator.  Run as root, no arguments:
//!
//! ```sh
//! cargo run --release -p tuntap-tests --example demo
//! ```
//!
//! A simulated illumos host runs the tuntap driver.  `tunctl` (its own
//! code) creates two tun links, `vpna0` and `vpnb0`; two Linux network
//! namespaces, A (10.77.0.1) and B (10.77.0.2), play the IP stacks on
//! top of them; two `tunneld` daemons join the links (UDP data channel keyed by TLS 1.3) on
//! loopback with certificates made for the occasion.  The demo lists the
//! links as `tunctl show` does, pings B from A across the VPN, measures a
//! 20 MB TCP transfer (digest checked), prints the daemons' and the
//! links' counters, and removes everything (namespaces, links) also when
//! a step fails; the simulator then checks that no DDI rule was broken
//! and nothing leaked.

use std::sync::Arc;
use std::time::Duration;

use illumos_sys_hdrs as sys;
use libdladm_plugin::sim::SimSystem;
use tunneld::device::sim::SimDevice;
use tunneld::{Counters, Mode};
use tuntap_tests::app::NsLink;
use tuntap_tests::tcp;
use tuntap_tests::vpn::{ADDR_A, ADDR_B, Pki, Tunneld, ns_link_on};

const TRANSFER: u64 = 20 << 20;

/// tunctl with `args` on the simulated host; its output, or its error.
fn tunctl(host: &SimSystem, args: &[&str]) -> Result<String, String> {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let platform = host.admin();
    let code = tunctl::run(&args, || Ok(platform), &mut out, &mut err);
    if code == tunctl::exit::OK {
        Ok(String::from_utf8_lossy(&out).into_owned())
    } else {
        Err(format!("tunctl {} failed (exit {code}): {}", args.join(" "), String::from_utf8_lossy(&err).trim()))
    }
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("    {l}\n")).collect()
}

/// The counters of one link, as `dladm show-link -s` / kstat read them.
fn link_counters(host: &SimSystem, link: &NsLink) -> Result<String, String> {
    let stat = |id: u32, name: &str| {
        host.host().get_stat(link.linkid, id).map_err(|e| format!("mc_getstat {name} of {}: errno {e}", link.link_name))
    };
    Ok(format!(
        "{:<6} ipackets={} rbytes={} opackets={} obytes={} ierrors={} oerrors={} norcvbuf={} noxmtbuf={}",
        link.link_name,
        stat(sys::MAC_STAT_IPACKETS, "ipackets")?,
        stat(sys::MAC_STAT_RBYTES, "rbytes")?,
        stat(sys::MAC_STAT_OPACKETS, "opackets")?,
        stat(sys::MAC_STAT_OBYTES, "obytes")?,
        stat(sys::MAC_STAT_IERRORS, "ierrors")?,
        stat(sys::MAC_STAT_OERRORS, "oerrors")?,
        stat(sys::MAC_STAT_NORCVBUF, "norcvbuf")?,
        stat(sys::MAC_STAT_NOXMTBUF, "noxmtbuf")?,
    ))
}

fn daemon_counters(who: &str, c: &Counters) -> String {
    format!("tunneld {who}: {}", c.summary())
}

/// Everything that needs tearing down, in the order it must go: the
/// daemons (detaching their queues), then the namespaces.
struct Vpn {
    daemons: Vec<(String, Tunneld)>,
    namespaces: Vec<NsLink>,
}

fn run(host: &SimSystem, vpn: &mut Vpn) -> Result<(), String> {
    println!("==> a simulated illumos host with the tuntap driver; two tun links made by tunctl");
    for link in ["vpna0", "vpnb0"] {
        print!("{}", indent(&tunctl(host, &["create", "-T", "tun", "--temporary", link])?));
    }

    println!("\n==> namespaces A ({ADDR_A}) and B ({ADDR_B}) on the links; two tunneld on loopback (TLS 1.3 control, sealed UDP data)");
    let driver = host.driver();
    let e = |e: tuntap_tests::netns::HarnessError| e.0;
    vpn.namespaces.push(ns_link_on(host.host(), &driver, "vpna0", "demo-a", false).map_err(e)?);
    vpn.namespaces.push(ns_link_on(host.host(), &driver, "vpnb0", "demo-b", false).map_err(e)?);
    let pki = Pki::new().map_err(e)?;
    let dev_b = SimDevice::attach(host.host(), "vpnb0", Mode::Tun)?;
    let server = Tunneld::start("B", pki.server_config("vpnb0", Mode::Tun, 1500).map_err(e)?, Arc::new(dev_b)).map_err(e)?;
    let address = server.local_addr().map_err(e)?;
    vpn.daemons.push(("B (server)".into(), server));
    let dev_a = SimDevice::attach(host.host(), "vpna0", Mode::Tun)?;
    let client = Tunneld::start("A", pki.client_config(address, "vpna0", Mode::Tun, 1500).map_err(e)?, Arc::new(dev_a)).map_err(e)?;
    client.wait_connected(Duration::from_secs(10)).map_err(e)?;
    vpn.daemons.push(("A (client)".into(), client));
    let (a, b) = (&vpn.namespaces[0], &vpn.namespaces[1]);
    a.addr_add(&format!("{ADDR_A}/24")).map_err(e)?;
    b.addr_add(&format!("{ADDR_B}/24")).map_err(e)?;
    println!("    tunneld B listens on {address} (vpnb0); tunneld A (vpna0) connected, certificates checked both ways");

    println!("\n==> tunctl show");
    print!("{}", indent(&tunctl(host, &["show"])?));

    println!("\n==> ping {ADDR_B} from namespace A, across the VPN");
    let ping = a.ns.ping(ADDR_B, 3, None).map_err(e)?;
    print!("{}", indent(ping.output.trim_end()));

    println!("\n==> TCP: {} MB from A to B", TRANSFER >> 20);
    let t = tcp::transfer(&b.ns, ADDR_B, &a.ns, TRANSFER, Duration::from_secs(60)).map_err(e)?;
    if !t.intact() {
        return Err(format!("the transfer arrived damaged: {t:?}"));
    }
    let profile = if cfg!(debug_assertions) { "debug build: run with --release for representative numbers" } else { "release build" };
    println!(
        "    {} bytes in {:.2} s: {:.2} Gbit/s; digest {:016x} sent and received ({profile})",
        t.received_bytes,
        t.elapsed.as_secs_f64(),
        t.received_bytes as f64 * 8.0 / t.elapsed.as_secs_f64() / 1e9,
        t.received_digest,
    );

    println!("\n==> counters");
    for (who, d) in &vpn.daemons {
        println!("    {}", daemon_counters(who, d.counters()));
    }
    for link in &vpn.namespaces {
        println!("    {}", link_counters(host, link)?);
    }
    Ok(())
}

fn main() {
    let host = SimSystem::new();
    let mut vpn = Vpn { daemons: Vec::new(), namespaces: Vec::new() };
    let outcome = run(&host, &mut vpn);

    println!("\n==> cleaning up");
    for (who, d) in vpn.daemons.drain(..).rev() {
        match d.stop() {
            Ok(Ok(())) => println!("    tunneld {who} stopped; its link detached"),
            Ok(Err(e)) => println!("    tunneld {who} had stopped: {e}"),
            Err(e) => println!("    tunneld {who}: {e}"),
        }
    }
    let names: Vec<String> = vpn.namespaces.iter().map(|l| l.ns.name().to_string()).collect();
    vpn.namespaces.clear();
    if !names.is_empty() {
        println!("    namespaces {} deleted", names.join(", "));
    }
    for link in ["vpna0", "vpnb0"] {
        if let Ok(out) = tunctl(&host, &["delete", link]) {
            print!("{}", indent(&out));
        }
    }
    host.finish();
    println!("    the simulated host saw no DDI rule broken and nothing leaked");

    if let Err(msg) = outcome {
        eprintln!("\ndemo failed: {msg}");
        std::process::exit(1);
    }
}
