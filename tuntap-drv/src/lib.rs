// SPDX-License-Identifier: MPL-2.0
//! tuntap: tun and tap links for illumos, each a real GLDv3 datalink.
//!
//! # Theory statement
//!
//! **What it is.**  A GLDv3 mac provider whose links are real datalinks
//! (`dladm show-link`, link properties, flows, `snoop`, `ipadm`, zones),
//! plus a STREAMS packet path through which a user process reads the
//! packets the IP stack sends on a link and writes the packets the stack
//! receives.  A *tun* link carries IP packets to the process, a *tap* link
//! Ethernet frames.  Both are Ether-plugin links: mac classifies IP flows
//! only when the link's SAP is an Ethertype, so a tun link strips the
//! Ethernet header on the way to the process, adds one on the way up, and
//! answers ARP and IPv6 neighbour solicitations itself with a fixed
//! per-link peer MAC ([`frame::answer_resolver`]).
//!
//! **Shape.**  All logic is in this crate and written against
//! [`ddi::Kernel`], a small trait of kernel services.  The illumos
//! implementation (`illumos`, feature `kernel`) only translates; the host
//! simulator (`tuntap-sim`) enforces the documented DDI rules in tests.
//! On illumos the code ships as two modules, because a mac provider whose
//! link minors belong to dld cannot also offer STREAMS minors of its own
//! (dld's open answers `ENOSTR` for private minors; see
//! docs/research/illumos-facts.md): `drv/tuntap`, the mac provider, and
//! `drv/tun`, the STREAMS driver behind `/dev/tun`, `/dev/tap` and the
//! control node `/dev/tuntap`, whose queue procedures call into
//! [`driver::Driver`].
//!
//! **Objects.**
//! * [`driver::Driver`]: the instance: link table, minor numbers, the
//!   mac callback table.
//! * [`link::Link`]: one datalink: mac handle, properties, counters, the
//!   set of attached queues.
//! * [`minor::Minor`]: one open stream of `/dev/tun`, `/dev/tap` or the
//!   control node: its attachment and its backlog of packets to read.
//!
//! **Locks and their order.**  Take them only in this order:
//! 1. `Driver::table` (links by id and name, old-API units).
//! 2. `Link::state` (properties, attached queues, lifecycle).
//! 3. `Minor::state` (attachment, pending ioctl).
//! 4. `Minor::backlog` (packets waiting for the reader).
//!
//! No lock is held across a mac or dls upcall (`mac_rx`,
//! `mac_tx_update`, `mac_link_update`, `mac_register`, ...), across
//! `putnext`/`qreply`, or across a call into mac that can call back into
//! the driver.  Work is decided under a lock and done after dropping it.
//!
//! **Invariants.**
//! * A link is in the table from the end of its creation until the start
//!   of its destruction; lookups never see half-built links.
//! * Every message is freed, passed on or returned exactly once
//!   ([`mblk::MsgBlk`] frees on drop).
//! * Every `M_IOCTL` gets exactly one `M_IOCACK`/`M_IOCNAK` (transparent
//!   ioctls after their `M_COPYIN`/`M_COPYOUT` exchange).
//! * No path reachable from user input or the network panics: the crate
//!   denies `unwrap`, `expect`, `panic!` and unchecked indexing.

#![no_std]
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
#![deny(unsafe_op_in_unsafe_fn)]
// Nested `if let` reads better than let-chains here, and keeps the crate
// building with older compilers.
#![allow(clippy::collapsible_if)]

extern crate alloc;

pub mod ddi;
pub mod dlpi;
pub mod driver;
pub mod frame;
pub mod ioctl;
pub mod link;
pub mod mblk;
pub mod minor;
pub mod queue;
pub mod stats;
pub mod sync;

#[cfg(feature = "kernel")]
pub mod illumos;

pub use driver::Driver;
