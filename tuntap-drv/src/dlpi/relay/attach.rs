// SPDX-License-Identifier: MPL-2.0
//! How an old-API stream's `DL_ATTACH_REQ` gets its relay: the link's
//! path decided once, a transient open failure retried after a pause
//! (part of `Relay`, see mod.rs).
//!
//! # Theory statement
//!
//! Runs on the stream's control task only (it blocks: `ldi_open_by_name`
//! and the pause).  A link's old-API streams all take one path
//! ([`RelayPath`], on the `Link`): the first stream that attaches decides
//! it and it holds until the last plumbed stream leaves
//! (`Link::detach_plumbing`), so two streams of one link never end on
//! dls's client and a private one, which would fight over the primary
//! address (`EBUSY`, dld_proto.c `proto_bind_req`).  Only `ENOTSUP` (a
//! zone's link, a kernel without LDI) makes a link `Private`; every
//! other failure of the open on a link that is (to be) relayed is
//! transient, is retried once after [`RETRY_DELAY_USEC`], and then fails
//! the attach.  Locks: none of ours is held here.

use alloc::sync::Arc;

use illumos_sys_hdrs as sys;

use super::{RETRY_DELAY_USEC, Relay};
use super::super::prim::Personality;
use crate::ddi::{Errno, Kernel, Probe, RelayEvent};
use crate::link::{Link, RelayPath};
use crate::queue::Queue;
use crate::sync::{KCondvar, KMutex};


/// Sleep `usec` on the calling thread (`cv_reltimedwait(9F)` on a
/// condition variable nobody signals, as `delay(9F)` sleeps on a
/// timeout).  Blocks: control task only.
fn pause<K: Kernel>(usec: u64) {
    let m = KMutex::<K, ()>::new(());
    let cv = KCondvar::<K>::new();
    let g = m.lock();
    drop(m.wait_until_for(g, &cv, usec, |_| false));
}

impl<K: Kernel> Relay<K> {
    /// [`Relay::open`] for `DL_ATTACH_REQ`, deciding the link's path
    /// once ([`RelayPath`], kept until its last plumbed stream leaves):
    /// `Ok(None)` on a `Private` link, or when the open says `ENOTSUP`
    /// (a zone's link, a kernel without LDI: the same for every stream
    /// of the link), so that all of them keep the older path.  On a link
    /// that is (to be) relayed any other error is transient and is
    /// retried once after [`RETRY_DELAY_USEC`]: above all `ENOENT`, which
    /// is what a dlmgmtd restart looks like from here
    /// (`i_dls_mgmt_upcall` returns `EBADF` while the door is gone,
    /// after retrying `EAGAIN` itself, and `dls_devnet_hold_by_name`
    /// turns `EBADF` into `ENOENT`, usr/src/uts/common/io/dls/dls_mgmt.c;
    /// sdev's `devnet_lookup` passes it on), and a link the driver filed
    /// itself cannot vanish while plumbed (`Link::condemn`).  A failed
    /// retry is reported (`sdt:::tuntap-relay`, [`RelayEvent::OpenFailed`])
    /// and returned: the attach fails rather than putting this stream on
    /// another path than its siblings.  Blocks: control task only.
    pub fn open_for(k: &K, link: &Arc<Link<K>>, upper: &Arc<Queue<K>>, who: Personality) -> Result<Option<Arc<Self>>, Errno> {
        if link.relay_path() == RelayPath::Private {
            return Ok(None);
        }
        let mut retried = false;
        let e = loop {
            match Self::open(k, link, upper, who) {
                Ok(r) if link.settle_relay_path(RelayPath::Relayed) == RelayPath::Relayed => return Ok(Some(r)),
                Ok(r) => {
                    r.close();
                    return Ok(None);
                }
                Err(e) if e == sys::ENOTSUP && link.settle_relay_path(RelayPath::Private) == RelayPath::Private => {
                    return Ok(None);
                }
                // The retry's answer is final for this attach.
                Err(e) if retried => break e,
                Err(_) => {
                    retried = true;
                    pause::<K>(RETRY_DELAY_USEC);
                }
            }
        };
        k.probe(Probe::Relay(link.linkid, RelayEvent::OpenFailed, e));
        Err(e)
    }
}
