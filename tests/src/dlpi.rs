// SPDX-License-Identifier: MPL-2.0
//! DLPI from the user's side, and a model of what illumos IP and ARP do
//! with a DLPI provider's answers, so a test can play IP's reaction to
//! the driver's old-API personality rather than only read the answer.
//!
//! # Theory statement
//!
//! * **Requests** go down one at a time and each must be answered by the
//!   acknowledgement naming it, as IP's `ill_dlpi_send` / `ill_dlpi_done`
//!   (`usr/src/uts/common/inet/ip/ip_if.c`) serialise them: a reply that
//!   names another primitive, or none within [`WAIT`], fails the test with
//!   the primitive's name.
//! * **IP's decision** ([`IpIll::from_info`]) is `ip_ll_subnet_defaults`
//!   (`ip_if.c`), reduced to the fields that decide it: with
//!   `DL_VERSION_2`, the broadcast length is `dl_brdcst_addr_length` (0 if
//!   the offset/length fall outside the message, as `mi_offset_param`
//!   does), the physical length is `dl_addr_length - |dl_sap_length|`.
//!   No broadcast address → `IRE_IF_NORESOLVER` and `ILLF_NOARP`, and with
//!   no physical address also `IPIF_POINTOPOINT` + `ILLF_MULTICAST`; a
//!   broadcast address → `IRE_IF_RESOLVER` (ARP), `IPIF_BROADCAST`,
//!   `ILLF_MULTICAST`.  (The same rule in the pre-2008 `ipif_allocate`:
//!   no broadcast → `IFF_NOARP`, no physical address → point-to-point.)
//! * **Bringing an address up** ([`IpIll::resolver_up`]): on a resolver
//!   interface `ipif_up` → `ipif_resolver_up` → `arp_ll_up`
//!   (`usr/src/uts/common/inet/ip/ip_arp.c`), which fails with `ENXIO`
//!   when no ARP stream is linked under the interface.
//! * **Addresses IP sends to** ([`IpIll::unitdata_dest`]): `ill_dlur_gen`
//!   builds `phys_len` bytes of physical address followed by the 2-byte
//!   SAP (`dl_sap_length` -2); on a no-resolver interface with no physical
//!   address that is the SAP alone.
//! * **Multicast**: `ip_ll_multireq` (`usr/src/uts/common/inet/ip/
//!   ip_multi.c`) sends `DL_ENABMULTI_REQ` only on a resolver interface
//!   that is not point-to-point ([`IpIll::sends_enabmulti`]).
//!
//! Sources of the sequences: `docs/research/compat-dlpi.md` §4.3–4.4
//! (`ill_init`, `ipif_set_values_tail` → `ip_ifname_notify` and
//! `ill_dl_phys`, `ill_dl_up`, `ill_dl_down`, `arp_ll_up`,
//! `arp_modclose`), OpenVPN `src/openvpn/tun.c` `open_tun` (Solaris).

use illumos_sys_hdrs::dlpi::*;
use tuntap_sim::SimStream;

use crate::WAIT;

/// `SIOCSLIFNAME` (`usr/src/uts/common/sys/sockio.h`:
/// `_IOWR('i', 129, struct lifreq)`): `IOC_INOUT` (0xc0000000) | (376 &
/// `IOCPARM_MASK` 0xff) << 16 | 'i' << 8 | 129, `sizeof (struct lifreq)`
/// being 376 on LP64 (`usr/src/uts/common/net/if.h`).  IP sends it down to
/// the driver at plumb time (`ip_ifname_notify`) and ignores the answer.
pub const SIOCSLIFNAME: i32 = 0xc078_6981_u32 as i32;
/// `sizeof (struct lifreq)` (LP64).
pub const LIFREQ_SIZE: usize = 376;

/// `DL_NOTIFY_REQ`'s notifications IP asks for in `ill_dl_phys`
/// (`DL_NOTE_PHYS_ADDR | PROMISC_ON_PHYS | PROMISC_OFF_PHYS | LINK_DOWN |
/// LINK_UP | SDU_SIZE | FASTPATH_FLUSH | CAPAB_RENEG`, dlpi.h values).
pub const IP_NOTES: u32 = 0x0001 | 0x0002 | 0x0004 | 0x0008 | 0x0010 | 0x0080 | 0x0200 | 0x0400;

/// `DL_NOTIFY_ACK` and `DL_CAPABILITY_ACK` (dlpi.h, Solaris extensions).
pub const DL_NOTIFY_ACK: u32 = 0x101;
pub const DL_CAPABILITY_ACK: u32 = 0x111;

/// The Ethertypes IP and ARP bind.
pub const SAP_IPV4: u32 = 0x0800;
pub const SAP_ARP: u32 = 0x0806;

/// IPv4 all-hosts (224.0.0.1) mapped to Ethernet (RFC 1112 §6.4), the
/// group `ipif_multicast_up` joins first.
pub const ALL_HOSTS_MAC: [u8; 6] = [0x01, 0x00, 0x5e, 0x00, 0x00, 0x01];

pub fn words(ws: &[u32]) -> Vec<u8> {
    ws.iter().flat_map(|w| w.to_ne_bytes()).collect()
}

pub fn word(b: &[u8], i: usize) -> u32 {
    match b.get(i * 4..i * 4 + 4) {
        Some(w) => u32::from_ne_bytes(w.try_into().unwrap()),
        None => panic!("reply {b:?} has no word {i}"),
    }
}

/// The bytes at (offset, length) of a primitive, `None` if outside it.
pub fn field(b: &[u8], off_word: usize, len_word: usize) -> Option<&[u8]> {
    let (off, len) = (word(b, off_word) as usize, word(b, len_word) as usize);
    b.get(off..off.checked_add(len)?)
}

/// Send a DLPI request (control part only) and return the control part
/// of the reply.
pub fn request(s: &SimStream, ctl: &[u8]) -> Vec<u8> {
    request_with_data(s, ctl, &[])
}

/// As [`request`], with a data part.  Acknowledgements (`DL_OK_ACK`,
/// `DL_ERROR_ACK`, `DL_INFO_ACK`, `DL_BIND_ACK`, `DL_PHYS_ADDR_ACK`) must
/// come as `M_PCPROTO` (dlpi(4P)); indications as `M_PROTO`.
pub fn request_with_data(s: &SimStream, ctl: &[u8], data: &[u8]) -> Vec<u8> {
    s.putmsg_proto(ctl, data).unwrap();
    let m = match s.getmsg(Some(WAIT)) {
        Ok(m) => m,
        Err(e) => panic!("no reply to DLPI primitive {:#x} within {WAIT:?} (errno {e})", word(ctl, 0)),
    };
    let reply = m.ctl.unwrap_or_else(|| panic!("reply to {:#x} has no control part", word(ctl, 0)));
    let ack = matches!(word(&reply, 0), DL_OK_ACK | DL_ERROR_ACK | DL_INFO_ACK | DL_BIND_ACK | DL_PHYS_ADDR_ACK);
    assert_eq!(m.priority, ack, "reply {:#x} to {:#x}: acknowledgements are M_PCPROTO, indications M_PROTO", word(&reply, 0), word(ctl, 0));
    reply
}

pub fn expect_error(reply: &[u8], prim: u32, dl_errno: u32) {
    assert_eq!(word(reply, 0), DL_ERROR_ACK, "reply to {prim:#x}: {reply:?}");
    assert_eq!((word(reply, 1), word(reply, 2)), (prim, dl_errno), "DL_ERROR_ACK (primitive, dl_errno) for {prim:#x}");
}

pub fn expect_ok(reply: &[u8], prim: u32) {
    assert_eq!((word(reply, 0), word(reply, 1)), (DL_OK_ACK, prim), "reply to {prim:#x}: {reply:?}");
}

/// One DLPI request as IP sends it: the reply must name it.  `Ok` with
/// the positive reply, `Err(dl_errno)` for a `DL_ERROR_ACK`.
pub fn ip_request(s: &SimStream, ctl: &[u8]) -> Result<Vec<u8>, u32> {
    let prim = word(ctl, 0);
    let reply = request(s, ctl);
    let named = match word(&reply, 0) {
        DL_ERROR_ACK => return if word(&reply, 1) == prim { Err(word(&reply, 2)) } else { panic!("DL_ERROR_ACK for {:#x} answers {prim:#x}: IP would wait for ever (ill_dlpi_done)", word(&reply, 1)) },
        DL_OK_ACK => word(&reply, 1),
        DL_INFO_ACK => DL_INFO_REQ,
        DL_BIND_ACK => DL_BIND_REQ,
        DL_PHYS_ADDR_ACK => DL_PHYS_ADDR_REQ,
        DL_CAPABILITY_ACK => DL_CAPABILITY_REQ,
        DL_NOTIFY_ACK => DL_NOTIFY_REQ,
        other => panic!("reply primitive {other:#x} to {prim:#x} is not an acknowledgement"),
    };
    assert_eq!(named, prim, "reply {reply:?} does not answer {prim:#x}: IP would wait for ever (ill_dlpi_done)");
    Ok(reply)
}

/// The fields of a `DL_INFO_ACK` IP reads.
#[derive(Clone, Debug)]
pub struct InfoAck {
    pub max_sdu: u32,
    pub addr_length: u32,
    pub mac_type: u32,
    pub state: u32,
    pub sap_length: i32,
    pub style: u32,
    pub version: u32,
    /// The DLSAP address, if given.
    pub addr: Option<Vec<u8>>,
    /// `dl_brdcst_addr_length` as IP takes it (0 if it does not fit).
    pub brdcst_len: usize,
}

impl InfoAck {
    pub fn parse(b: &[u8]) -> InfoAck {
        assert_eq!(word(b, 0), DL_INFO_ACK, "DL_INFO_ACK expected: {b:?}");
        let addr = if word(b, 14) != 0 { field(b, 14, 3).map(<[u8]>::to_vec) } else { None };
        InfoAck {
            max_sdu: word(b, 1),
            addr_length: word(b, 3),
            mac_type: word(b, 4),
            state: word(b, 6),
            sap_length: word(b, 7) as i32,
            style: word(b, 13),
            version: word(b, 15),
            addr,
            brdcst_len: field(b, 17, 16).map_or(0, <[u8]>::len),
        }
    }
}

/// IP's interface (`ill_t`) as `ip_ll_subnet_defaults` sets it up from
/// the second `DL_INFO_ACK`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IpIll {
    /// `IRE_IF_RESOLVER` (true) or `IRE_IF_NORESOLVER`.
    pub resolver: bool,
    pub noarp: bool,
    pub pointopoint: bool,
    pub broadcast: bool,
    pub multicast: bool,
    pub phys_len: usize,
    pub sap_len: i32,
    pub max_frag: u32,
}

impl IpIll {
    pub fn from_info(ack: &InfoAck) -> IpIll {
        assert_eq!(ack.version, DL_VERSION_2, "IP reads the lengths only from a DL_VERSION_2 ack");
        let phys_len = (ack.addr_length as i64 - i64::from(ack.sap_length.unsigned_abs())).max(0) as usize;
        let resolver = ack.brdcst_len != 0;
        let p2p = !resolver && phys_len == 0;
        IpIll {
            resolver,
            noarp: !resolver,
            pointopoint: p2p,
            broadcast: resolver,
            multicast: resolver || p2p,
            phys_len,
            sap_len: ack.sap_length,
            max_frag: ack.max_sdu.max(68),
        }
    }

    /// `ipif_resolver_up` → `arp_ll_up`: a resolver interface needs an
    /// ARP stream linked under it.
    pub fn resolver_up(&self, arp_linked: bool) -> Result<(), String> {
        if self.resolver && !arp_linked {
            return Err("ENXIO: IP made this an ARP (IRE_IF_RESOLVER) interface because DL_INFO_ACK \
                 carries a broadcast address (ip_ll_subnet_defaults), and arp_ll_up finds no ARP \
                 stream linked under it (OpenVPN's tun path plumbs none)"
                .into());
        }
        Ok(())
    }

    /// The destination DLSAP address of IP's `DL_UNITDATA_REQ`
    /// (`ill_dlur_gen`): `phys_len` bytes of the next hop's address (from
    /// ARP on a resolver interface), then the SAP.
    pub fn unitdata_dest(&self, next_hop: &[u8; 6], sap: u16) -> Vec<u8> {
        let mut a = next_hop[..self.phys_len.min(6)].to_vec();
        a.resize(self.phys_len, 0);
        a.extend_from_slice(&sap.to_ne_bytes());
        a
    }

    /// `ip_ll_multireq`: only resolver, non-point-to-point interfaces
    /// send `DL_ENABMULTI_REQ`.
    pub fn sends_enabmulti(&self) -> bool {
        self.resolver && !self.pointopoint
    }

    /// Length of the DLSAP addresses of this interface.
    pub fn dlsap_len(&self) -> usize {
        self.phys_len + self.sap_len.unsigned_abs() as usize
    }
}

/// `I_PUSH "ip"` (`ill_init`): the first `DL_INFO_REQ`; IP only learns the
/// style (a style-2 provider needs `DL_ATTACH_REQ`).
pub fn ip_push(if_fd: &SimStream) -> InfoAck {
    let first = InfoAck::parse(&ip_request(if_fd, &words(&[DL_INFO_REQ])).expect("DL_INFO_ACK at I_PUSH ip"));
    assert_eq!(first.style, DL_STYLE2, "IP attaches with DL_ATTACH_REQ only on a style-2 provider");
    first
}

/// `ip_ifname_notify`: the `SIOCSLIFNAME` `M_IOCTL` IP sends down at
/// plumb time; the driver must answer it (IP ignores the answer) and
/// must not act on it.  Returns the errno of the NAK.
pub fn ip_ifname_notify(if_fd: &SimStream, name: &str, ppa: u32) -> Result<(), i32> {
    let mut lifr = vec![0u8; LIFREQ_SIZE];
    lifr[..name.len()].copy_from_slice(name.as_bytes());
    lifr[32..36].copy_from_slice(&ppa.to_ne_bytes());
    if_fd.ioctl_istr(SIOCSLIFNAME, &lifr).map(|_| ())
}

/// `ill_dl_phys` (after `SIOCSLIFNAME`/`IF_UNITSEL`): attach, bind,
/// second info, capability probe, physical address, notifications,
/// unbind.  Returns IP's interface as the second `DL_INFO_ACK` made it.
pub fn ip_dl_phys(if_fd: &SimStream, ppa: u32, sap: u32) -> IpIll {
    expect_ok(&ip_request(if_fd, &words(&[DL_ATTACH_REQ, ppa])).expect("DL_ATTACH_REQ"), DL_ATTACH_REQ);
    let bind = ip_request(if_fd, &words(&[DL_BIND_REQ, sap, 0, DL_CLDLS, 0])).expect("DL_BIND_REQ");
    assert_eq!(word(&bind, 1), sap, "DL_BIND_ACK dl_sap");
    let info = InfoAck::parse(&ip_request(if_fd, &words(&[DL_INFO_REQ])).expect("second DL_INFO_REQ"));
    let ill = IpIll::from_info(&info);
    assert_eq!(word(&bind, 2) as usize, ill.dlsap_len(), "DL_BIND_ACK address length matches DL_INFO_ACK's");
    // IP copes with DL_ERROR_ACK for the Sun extensions (capability
    // state machine: probe sent -> failed; notifications: none).
    let _ = ip_request(if_fd, &words(&[DL_CAPABILITY_REQ, 0, 0]));
    let phys = ip_request(if_fd, &words(&[DL_PHYS_ADDR_REQ, DL_CURR_PHYS_ADDR])).expect("DL_PHYS_ADDR_REQ");
    assert_eq!(word(&phys, 0), DL_PHYS_ADDR_ACK);
    if ill.phys_len > 0 {
        assert_eq!(word(&phys, 1) as usize, ill.phys_len, "physical address length");
    }
    let _ = ip_request(if_fd, &words(&[DL_NOTIFY_REQ, IP_NOTES, 0, 0]));
    expect_ok(&ip_request(if_fd, &words(&[DL_UNBIND_REQ])).expect("DL_UNBIND_REQ"), DL_UNBIND_REQ);
    ill
}

/// `ifconfig <if> <addr> ... up`: `ill_dl_up` (bind, capability probe),
/// then the resolver (`arp_ll_up`) and the all-hosts group
/// (`ipif_multicast_up` → `ip_ll_multireq`).
pub fn ip_up(if_fd: &SimStream, ill: &IpIll, sap: u32, arp_linked: bool) -> Result<(), String> {
    let bind = ip_request(if_fd, &words(&[DL_BIND_REQ, sap, 0, DL_CLDLS, 0]))
        .map_err(|e| format!("DL_BIND_REQ at up: dl_errno {e:#x}"))?;
    assert_eq!(word(&bind, 0), DL_BIND_ACK);
    let _ = ip_request(if_fd, &words(&[DL_CAPABILITY_REQ, 0, 0]));
    ill.resolver_up(arp_linked)?;
    if ill.sends_enabmulti() {
        let mut req = words(&[DL_ENABMULTI_REQ, 6, 12]);
        req.extend_from_slice(&ALL_HOSTS_MAC);
        let r = ip_request(if_fd, &req).map_err(|e| format!("DL_ENABMULTI_REQ 224.0.0.1: dl_errno {e:#x}"))?;
        expect_ok(&r, DL_ENABMULTI_REQ);
    }
    Ok(())
}

/// `ifconfig <if> down` / unplumb: `ill_dl_down` unbinds and stays
/// attached.
pub fn ip_down(if_fd: &SimStream) {
    expect_ok(&ip_request(if_fd, &words(&[DL_UNBIND_REQ])).expect("DL_UNBIND_REQ at down"), DL_UNBIND_REQ);
}

/// ARP's stream under a tap interface (`arp_ll_up`): attach by PPA (it is
/// a fresh `/dev/tap` stream nobody made a unit with), bind 0x0806.
pub fn arp_ll_up(arp_fd: &SimStream, ppa: u32) {
    expect_ok(&ip_request(arp_fd, &words(&[DL_ATTACH_REQ, ppa])).expect("ARP DL_ATTACH_REQ"), DL_ATTACH_REQ);
    let bind = ip_request(arp_fd, &words(&[DL_BIND_REQ, SAP_ARP, 0, DL_CLDLS, 0])).expect("ARP DL_BIND_REQ");
    assert_eq!((word(&bind, 0), word(&bind, 1)), (DL_BIND_ACK, SAP_ARP));
}

/// `arp_modclose` waits for the `DL_UNBIND_ACK` of its `arp_ll_down`.
pub fn arp_ll_down(arp_fd: &SimStream) {
    expect_ok(&ip_request(arp_fd, &words(&[DL_UNBIND_REQ])).expect("ARP DL_UNBIND_REQ at close"), DL_UNBIND_REQ);
}

/// A `DL_UNITDATA_REQ` control part with destination `dest`.
pub fn unitdata_req(dest: &[u8]) -> Vec<u8> {
    let mut req = words(&[DL_UNITDATA_REQ, dest.len() as u32, 20, 0, 0]);
    req.extend_from_slice(dest);
    req
}

/// A received `DL_UNITDATA_IND`: destination and source DLSAP addresses,
/// group flag, payload.
#[derive(Debug, PartialEq, Eq)]
pub struct UnitdataInd {
    pub dst: Vec<u8>,
    pub src: Vec<u8>,
    pub group: bool,
    pub data: Vec<u8>,
}

/// Read one message and require it to be a `DL_UNITDATA_IND`.
pub fn read_unitdata(s: &SimStream) -> UnitdataInd {
    let m = s.getmsg(Some(WAIT)).unwrap_or_else(|e| panic!("no DL_UNITDATA_IND within {WAIT:?} (errno {e})"));
    let ctl = m.ctl.expect("a DL_UNITDATA_IND control part");
    assert_eq!(word(&ctl, 0), DL_UNITDATA_IND, "{ctl:?}");
    assert!(!m.priority, "DL_UNITDATA_IND is M_PROTO");
    UnitdataInd {
        dst: field(&ctl, 2, 1).expect("destination inside the primitive").to_vec(),
        src: field(&ctl, 4, 3).expect("source inside the primitive").to_vec(),
        group: word(&ctl, 5) != 0,
        data: m.data,
    }
}
