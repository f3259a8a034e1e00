// SPDX-License-Identifier: MPL-2.0
//! The link's IP address and routes, applied by the program at start
//! (`[link] address`, `[link] routes`) with the system's own tools, so
//! an operator's configuration is one file.
//!
//! * Linux: `ip addr add ADDR/LEN dev LINK`, `ip link set dev LINK up`,
//!   `ip route add DEST/LEN dev LINK`.  The interface is the daemon's
//!   and vanishes with it, taking addresses and routes along.
//! * illumos: `ipadm create-ip LINK`, `ipadm create-addr -T static -a
//!   local=ADDR/LEN LINK/tunneld` (ipadm(8), usr/src/man/man8/ipadm.8:
//!   an address object is `interface/name`), and per route `route -n add
//!   -net DEST/LEN ADDR -interface -ifp LINK` (route(8),
//!   usr/src/man/man8/route.8: `-interface` marks a destination directly
//!   reachable through the interface that has the gateway address,
//!   `-ifp` names that interface).  At stop the routes are deleted and
//!   `ipadm delete-addr LINK/tunneld` removes the address (the link stays,
//!   it is the administrator's).

use std::fmt;
use std::net::IpAddr;
use std::process::Command;

/// An address with a prefix length, `10.9.0.2/24` or `fd00::2/64`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    pub addr: IpAddr,
    pub len: u8,
}

impl Cidr {
    pub fn parse(s: &str) -> Result<Cidr, String> {
        let (a, l) = s.split_once('/').ok_or_else(|| format!("{s:?} is not ADDRESS/PREFIX-LENGTH"))?;
        let addr: IpAddr = a.parse().map_err(|_| format!("{s:?}: {a:?} is not an IP address"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let len: u8 = l.parse().ok().filter(|&n| n <= max).ok_or_else(|| format!("{s:?}: prefix length must be 0 to {max}"))?;
        Ok(Cidr { addr, len })
    }
}

impl Cidr {
    /// Is `ip` inside this prefix?  (An IPv4 prefix holds no IPv6 address
    /// and the other way round.)
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.len)).unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(self.len)).unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

/// Which system's tools.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum System {
    Linux,
    Illumos,
}

/// The commands that configure `link`, and those that undo them at stop.
pub fn plan(system: System, link: &str, address: Cidr, routes: &[Cidr]) -> (Vec<Vec<String>>, Vec<Vec<String>>) {
    let v = |parts: &[&str]| parts.iter().map(|s| s.to_string()).collect::<Vec<String>>();
    let (a, addr) = (address.to_string(), address.addr.to_string());
    let mut up = Vec::new();
    let mut down = Vec::new();
    match system {
        System::Linux => {
            up.push(v(&["ip", "addr", "add", &a, "dev", link]));
            up.push(v(&["ip", "link", "set", "dev", link, "up"]));
            for r in routes {
                up.push(v(&["ip", "route", "add", &r.to_string(), "dev", link]));
            }
        }
        System::Illumos => {
            let object = format!("{link}/tunneld");
            up.push(v(&["ipadm", "create-ip", link]));
            up.push(v(&["ipadm", "create-addr", "-T", "static", "-a", &format!("local={a}"), &object]));
            for r in routes {
                let family = if r.addr.is_ipv4() { "-inet" } else { "-inet6" };
                let dest = r.to_string();
                up.push(v(&["route", "-n", "add", family, "-net", &dest, &addr, "-interface", "-ifp", link]));
                down.push(v(&["route", "-n", "delete", family, "-net", &dest, &addr, "-interface", "-ifp", link]));
            }
            down.push(v(&["ipadm", "delete-addr", &object]));
        }
    }
    (up, down)
}

/// Run `commands` in order; the first failure names the command and
/// what it said.
pub fn run(commands: &[Vec<String>]) -> Result<(), String> {
    for c in commands {
        let (program, args) = c.split_first().ok_or("empty command")?;
        let out = Command::new(program).args(args).output().map_err(|e| format!("`{}`: {e}", c.join(" ")))?;
        if !out.status.success() {
            let said = String::from_utf8_lossy(&out.stderr).trim().replace('\n', " ");
            return Err(format!("`{}` failed ({}): {said}", c.join(" "), out.status));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs_parse_and_refuse() {
        assert_eq!(Cidr::parse("10.9.0.2/24").unwrap().to_string(), "10.9.0.2/24");
        assert_eq!(Cidr::parse("fd00::2/64").unwrap().len, 64);
        assert!(Cidr::parse("10.9.0.2").unwrap_err().contains("ADDRESS/PREFIX-LENGTH"));
        assert!(Cidr::parse("10.9.0.2/33").unwrap_err().contains("0 to 32"));
        assert!(Cidr::parse("vpn/24").unwrap_err().contains("not an IP address"));
    }

    #[test]
    fn plans_for_both_systems() {
        let a = Cidr::parse("10.9.0.2/24").unwrap();
        let r = [Cidr::parse("10.10.0.0/16").unwrap()];
        let (up, down) = plan(System::Linux, "vpn0", a, &r);
        let up: Vec<String> = up.iter().map(|c| c.join(" ")).collect();
        assert_eq!(up, ["ip addr add 10.9.0.2/24 dev vpn0", "ip link set dev vpn0 up", "ip route add 10.10.0.0/16 dev vpn0"]);
        assert!(down.is_empty(), "the interface goes away with the daemon");
        let (up, down) = plan(System::Illumos, "vpn0", a, &r);
        let up: Vec<String> = up.iter().map(|c| c.join(" ")).collect();
        assert_eq!(
            up,
            [
                "ipadm create-ip vpn0",
                "ipadm create-addr -T static -a local=10.9.0.2/24 vpn0/tunneld",
                "route -n add -inet -net 10.10.0.0/16 10.9.0.2 -interface -ifp vpn0"
            ]
        );
        let down: Vec<String> = down.iter().map(|c| c.join(" ")).collect();
        assert_eq!(down, ["route -n delete -inet -net 10.10.0.0/16 10.9.0.2 -interface -ifp vpn0", "ipadm delete-addr vpn0/tunneld"]);
    }
}
