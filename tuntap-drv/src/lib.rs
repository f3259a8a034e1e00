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
//! per-link peer MAC ([`frame::resolver::answer_resolver`]).
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
//!   mac callback table; its ioctl table (`driver/ioctls.rs`), commands
//!   (`driver/commands.rs`) and STREAMS entry points (`driver/streams.rs`).
//! * [`link::Link`]: one datalink: mac handle, properties, counters, the
//!   queues and DLPI streams attached to it; its packet path
//!   (`link/datapath.rs`) and mac callbacks (`link/callbacks.rs`).
//! * [`minor::Minor`]: one open stream of `/dev/tun`, `/dev/tap` or the
//!   control node: its attachment, pending ioctl, DLPI state and the
//!   control work queued for its taskq task.
//! * [`queue::Queue`]: a stream's read side, the part a link holds: the
//!   backlog of packets waiting for the reader.
//!
//! **The path of a packet and of an ioctl.**
//!
//! ```text
//!  process: write(2)/read(2)/ioctl(2) on /dev/tun, /dev/tap, /dev/tuntap
//!      |  stream head
//!  drv/tun (kmod-tun): tun_open/tun_wput/tun_rsrv/tun_close, translation only
//!      |  tuntap_str_open/_wput/_rsrv/_close (illumos/streams.rs, krtld-resolved)
//!  Driver: StreamsEntry (driver/streams.rs)
//!      |-- M_DATA ------------> Link::input (link/datapath.rs) --> mac_rx --> mac --> IP
//!      |-- DL_UNITDATA_REQ ---> dlpi (old-API IP) --> mac_tx on the link's own
//!      |                        mac client (dlpi/mac_client.rs) --> mac --> mc_tx
//!      |   (written packets: Link::input --> mac_rx --> that client's rx
//!      |    callback --> DL_UNITDATA_IND to the bound streams)
//!      |-- M_IOCTL, M_IOCDATA, DLPI control --> Minor::control --> taskq task
//!      |                        --> ioctl table (driver/ioctls.rs) / dlpi --> qreply
//!  IP --> mac --> mc_tx (link/callbacks.rs) --> Link::mc_tx --> Queue backlog
//!      --> putnext --> stream head --> read(2)
//! ```
//!
//! **Locks and their order.**  Take them only in this order:
//! 1. `Driver::table` (links by id and name, old-API units, minors).
//! 2. `Link::state` (properties, lifecycle, link-state reporting).
//! 3. `Link::queues`, then `Link::plumbing` (copy-on-write lists of
//!    attached queues and DLPI streams).
//! 4. `Minor::state` (attachment, pending ioctl, DLPI state).
//! 5. `Queue::backlog` (packets waiting for the reader).
//!
//! Leaves, under which nothing else is taken: `Link::quiesce` and
//! `Queue::quiesce` (only around their condition variables),
//! `Link::replies` (resolver replies for the taskq), `Minor::control`
//! (control messages for the taskq), the DLPI receive filter's groups,
//! `MacPath::slot` (the old-API mac client's handles and counts; never
//! held across a mac call).
//!
//! No lock is held across a mac or dls upcall (`mac_rx`,
//! `mac_tx_update`, `mac_link_update`, `mac_register`, ...), across
//! `putnext`/`qreply`, or across a call into mac that can call back into
//! the driver.  Work is decided under a lock and done after dropping it.
//!
//! **Contexts.**  Put and service procedures and mac callbacks never
//! block and never use the caller's process or credential: control work
//! (anything that creates or destroys a link, or waits) runs on the
//! driver's taskq with the ioctl's own credential, held; the table of
//! entry points and what each may call is in `kernel/README.md`.
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
