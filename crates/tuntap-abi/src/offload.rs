// SPDX-License-Identifier: MPL-2.0
//! Checksum and segmentation offload on a queue: the per-packet
//! [`VirtioNetHdr`] and [`TunIocOffload`], which turns it on.
//!
//! # Format
//!
//! With [`offload_flags::VNET_HDR`] on, every packet a queue reads or
//! writes starts with a [`VirtioNetHdr`] (10 bytes) in the exact layout
//! of Linux's `struct virtio_net_hdr` (`include/uapi/linux/virtio_net.h`:
//! `flags`, `gso_type`, `hdr_len`, `gso_size`, `csum_start`,
//! `csum_offset`, the 16-bit fields little-endian, as Linux's tun uses
//! them on little-endian hosts, `drivers/net/tun.c` `tun16_to_cpu`), so a
//! daemon ported from Linux's `IFF_VNET_HDR` reuses its code.  It comes
//! after the packet-information header, if that is on, and inside a batch
//! record, if batching is on.  Offsets count from the start of the packet
//! the header describes (the IP header on a tun queue, the Ethernet
//! header on a tap queue).
//!
//! Reading: `NEEDS_CSUM` says the packet's TCP/UDP checksum is partial:
//! the field at `csum_start + csum_offset` holds the pseudo-header sum and
//! the reader must finish it over `[csum_start, end)`.  `gso_type`
//! `TCPV4`/`TCPV6` says the packet is one large TCP segment (up to 64
//! KiB) to be cut into `gso_size`-byte segments after `hdr_len` bytes of
//! headers.  Writing: `NEEDS_CSUM` asks the driver to finish the checksum,
//! `DATA_VALID` vouches that every checksum in the packet is right (the
//! stack then skips verifying it), and a `gso_type` asks the driver to
//! cut the packet into segments.  A header that does not describe its
//! packet (offsets or lengths outside it, unknown flags or GSO types,
//! GSO without `NEEDS_CSUM`, a GSO type the queue did not enable) is
//! refused: the packet is dropped and counted ([`TunIocOffload::refused`]).

use crate::wire::Pod;

/// Linux's `struct virtio_net_hdr` (`include/uapi/linux/virtio_net.h`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VirtioNetHdr {
    pub flags: u8,
    pub gso_type: u8,
    /// Little-endian.
    pub hdr_len: u16,
    /// Little-endian.
    pub gso_size: u16,
    /// Little-endian.
    pub csum_start: u16,
    /// Little-endian.
    pub csum_offset: u16,
}

// SAFETY: #[repr(C)], integer fields only, no implicit padding (10 bytes).
unsafe impl Pod for VirtioNetHdr {}

/// Size of [`VirtioNetHdr`].
pub const VNET_HDR_LEN: usize = 10;

/// `VIRTIO_NET_HDR_F_*` (`include/uapi/linux/virtio_net.h`).
pub const VIRTIO_NET_HDR_F_NEEDS_CSUM: u8 = 1;
pub const VIRTIO_NET_HDR_F_DATA_VALID: u8 = 2;
/// `VIRTIO_NET_HDR_GSO_*` (`include/uapi/linux/virtio_net.h`).
pub const VIRTIO_NET_HDR_GSO_NONE: u8 = 0;
pub const VIRTIO_NET_HDR_GSO_TCPV4: u8 = 1;
pub const VIRTIO_NET_HDR_GSO_UDP: u8 = 3;
pub const VIRTIO_NET_HDR_GSO_TCPV6: u8 = 4;
pub const VIRTIO_NET_HDR_GSO_ECN: u8 = 0x80;

impl VirtioNetHdr {
    /// A header with its 16-bit fields stored little-endian.
    pub const fn new(flags: u8, gso_type: u8, hdr_len: u16, gso_size: u16, csum_start: u16, csum_offset: u16) -> Self {
        Self {
            flags,
            gso_type,
            hdr_len: hdr_len.to_le(),
            gso_size: gso_size.to_le(),
            csum_start: csum_start.to_le(),
            csum_offset: csum_offset.to_le(),
        }
    }
    pub const fn hdr_len(&self) -> u16 {
        u16::from_le(self.hdr_len)
    }
    pub const fn gso_size(&self) -> u16 {
        u16::from_le(self.gso_size)
    }
    pub const fn csum_start(&self) -> u16 {
        u16::from_le(self.csum_start)
    }
    pub const fn csum_offset(&self) -> u16 {
        u16::from_le(self.csum_offset)
    }
}

/// [`TunIocOffload::flags`], after Linux's `TUNSETOFFLOAD` bits
/// (`TUN_F_CSUM`, `TUN_F_TSO4`, `TUN_F_TSO6` in
/// `include/uapi/linux/if_tun.h`) plus the header itself
/// (`IFF_VNET_HDR`).
pub mod offload_flags {
    /// Every packet starts with a [`super::VirtioNetHdr`].
    pub const VNET_HDR: u32 = 0x1;
    /// The reader takes partial checksums (needs `VNET_HDR`).
    pub const CSUM: u32 = 0x2;
    /// The reader takes TCP/IPv4 segments of up to 64 KiB (needs `CSUM`).
    pub const TSO4: u32 = 0x4;
    /// The reader takes TCP/IPv6 segments of up to 64 KiB (needs `CSUM`).
    pub const TSO6: u32 = 0x8;
    pub const ALL: u32 = VNET_HDR | CSUM | TSO4 | TSO6;
}

/// Turn offload on or off for the queue.  In: `version`, `flags`; the
/// rest 0.  Out: the flags in force, whether the link advertises
/// checksum / segmentation offload now (`link_hcksum`: 1; `link_lso`:
/// 0x1 TCP/IPv4, 0x2 TCP/IPv6, only where the running mac knows IPv6 LSO;
/// every attached queue must take them), and the headers refused.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TunIocOffload {
    pub version: u32,
    pub flags: u32,
    pub link_hcksum: u32,
    pub link_lso: u32,
    pub refused: u32,
    pub _pad: u32,
}

// SAFETY: #[repr(C)], integer fields only, no implicit padding.
unsafe impl Pod for TunIocOffload {}

/// Is `flags` a consistent set (each needs the one before)?
pub const fn flags_consistent(flags: u32) -> bool {
    use offload_flags::*;
    let csum_needs_hdr = flags & CSUM == 0 || flags & VNET_HDR != 0;
    let tso_needs_csum = flags & (TSO4 | TSO6) == 0 || flags & CSUM != 0;
    csum_needs_hdr && tso_needs_csum
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::{offset_of, size_of};

    #[test]
    fn layout_is_linux_virtio_net_hdr() {
        assert_eq!(size_of::<VirtioNetHdr>(), VNET_HDR_LEN);
        assert_eq!(offset_of!(VirtioNetHdr, gso_type), 1);
        assert_eq!(offset_of!(VirtioNetHdr, hdr_len), 2);
        assert_eq!(offset_of!(VirtioNetHdr, gso_size), 4);
        assert_eq!(offset_of!(VirtioNetHdr, csum_start), 6);
        assert_eq!(offset_of!(VirtioNetHdr, csum_offset), 8);
        let h = VirtioNetHdr::new(1, 4, 0x0102, 1448, 40, 16);
        assert_eq!(crate::as_bytes(&h), &[1, 4, 2, 1, 0xa8, 5, 40, 0, 16, 0]);
        assert_eq!(size_of::<TunIocOffload>(), 24);
    }

    #[test]
    fn flag_dependencies() {
        use offload_flags::*;
        assert!(flags_consistent(0) && flags_consistent(VNET_HDR) && flags_consistent(ALL));
        assert!(!flags_consistent(CSUM) && !flags_consistent(VNET_HDR | TSO4));
    }
}
