// SPDX-License-Identifier: MPL-2.0
//! The client side of the simulated mac: clients that send through a
//! link (`mc_tx`) and receive what it passes up, and promiscuous
//! observers (snoop).  See `mac/mod.rs` for the rules.

#[allow(unused_imports)]
use super::*;

// ----- clients -----

pub(super) struct Backlog {
    pub(super) msgs: VecDeque<*mut mblk_t>,
    pub(super) blocked: bool,
    pub(super) resend_queued: bool,
}

/// One mac client or promiscuous observer.
pub(crate) struct ClientInner {
    pub(super) id: u64,
    pub(super) mac: Arc<MacImpl>,
    pub(super) snoop: bool,
    pub(super) rx: Mutex<VecDeque<Vec<u8>>>,
    pub(super) snooped: Mutex<VecDeque<(MsgPtrs, Snapshot, bool)>>,
    pub(super) backlog: Mutex<Backlog>,
    pub(super) tx_lock: Mutex<()>,
    pub(super) cv: Condvar,
    pub(super) closed: AtomicBool,
    pub(super) sent: AtomicU64,
    /// Times `mc_tx` handed back an unsent chain.
    pub(super) pushbacks: AtomicU64,
    /// Messages in those chains, summed (each resend counts again).
    pub(super) returned: AtomicU64,
    /// `maxbw` soft ring sets (kclient.rs rule 6).
    pub(super) tx_shaper: Arc<super::kclient::Shaper>,
    pub(super) rx_shaper: Arc<super::kclient::Shaper>,
    /// Frames the shapers dropped (transmit queue over `MAC_SRS_HIWAT`,
    /// receive queue over `rx_drop_threshold`).
    pub(super) shaped_drops: AtomicU64,
    /// Set for a client the driver opened (`mac_client_open`).
    pub(super) kern: Option<super::kclient::KernSide>,
    /// Set for dls's client of the link (dld.rs): `mac_rx` hands its
    /// frames to the link's dld streams.
    pub(super) dls: AtomicBool,
}

// SAFETY: the raw messages inside are owned by the client and only
// touched under its mutexes.
unsafe impl Send for ClientInner {}
// SAFETY: as above.
unsafe impl Sync for ClientInner {}

pub(super) fn open_client_with(
    host: &Arc<HostShared>,
    m: &Arc<MacImpl>,
    snoop: bool,
    kern: Option<super::kclient::KernSide>,
) -> Result<Arc<ClientInner>, Errno> {
    let _p = lock(&m.open_lock);
    let (first, first_promisc) = {
        let st = lock(&m.st);
        if st.disabled {
            return Err(ENOENT);
        }
        (st.clients.is_empty(), snoop && st.promisc_count == 0)
    };
    if first {
        let f = m.cb().mc_start.ok_or(EINVAL)?;
        // SAFETY: the driver's callback with its m_driver.
        let r = call(host, || unsafe { f(m.driver) });
        if r != 0 {
            return Err(r);
        }
    }
    if first_promisc
        && let Some(f) = m.cb().mc_setpromisc {
            // SAFETY: as above.
            let r = call(host, || unsafe { f(m.driver, B_TRUE) });
            if r != 0 {
                if first
                    && let Some(stop) = m.cb().mc_stop {
                        // SAFETY: as above.
                        call(host, || unsafe { stop(m.driver) });
                    }
                return Err(r);
            }
        }
    let id = {
        let mut t = lock(&host.mac);
        t.next_client += 1;
        t.next_client
    };
    let c = Arc::new(ClientInner {
        id,
        mac: m.clone(),
        snoop,
        rx: Mutex::new(VecDeque::new()),
        snooped: Mutex::new(VecDeque::new()),
        backlog: Mutex::new(Backlog { msgs: VecDeque::new(), blocked: false, resend_queued: false }),
        tx_lock: Mutex::new(()),
        cv: Condvar::new(),
        closed: AtomicBool::new(false),
        sent: AtomicU64::new(0),
        pushbacks: AtomicU64::new(0),
        returned: AtomicU64::new(0),
        tx_shaper: Default::default(),
        rx_shaper: Default::default(),
        shaped_drops: AtomicU64::new(0),
        kern,
        dls: AtomicBool::new(false),
    });
    let mut st = lock(&m.st);
    st.clients.push(c.clone());
    if snoop {
        st.promisc_count += 1;
    }
    Ok(c)
}

pub(super) fn close_client(host: &Arc<HostShared>, c: &Arc<ClientInner>) {
    if c.closed.swap(true, Ordering::SeqCst) {
        return;
    }
    let m = &c.mac;
    // Shaper threads call back into this client: stop them first.
    c.tx_shaper.stop();
    c.rx_shaper.stop();
    let _p = lock(&m.open_lock);
    let _tx = lock(&c.tx_lock);
    let (last, last_promisc) = {
        let mut st = lock(&m.st);
        st.clients.retain(|o| o.id != c.id);
        if c.snoop {
            st.promisc_count -= 1;
        }
        (st.clients.is_empty(), c.snoop && st.promisc_count == 0)
    };
    {
        let mut b = lock(&c.backlog);
        for mp in b.msgs.drain(..) {
            free_here(mp);
        }
    }
    c.release_snooped(host, usize::MAX);
    let unregistered = lock(&m.st).unregistered;
    if !unregistered {
        if last_promisc
            && let Some(f) = m.cb().mc_setpromisc {
                // SAFETY: the driver's callback with its m_driver.
                call(host, || unsafe { f(m.driver, B_FALSE) });
            }
        if last
            && let Some(f) = m.cb().mc_stop {
                // SAFETY: as above.
                call(host, || unsafe { f(m.driver) });
            }
    }
    c.cv.notify_all();
}

impl ClientInner {
    pub(super) fn rx_push(&self, frame: Vec<u8>) {
        lock(&self.rx).push_back(frame);
        self.cv.notify_all();
    }

    pub(super) fn snoop_push(&self, host: &Arc<HostShared>, mp: *mut mblk_t, tx: bool) {
        let dup = mblk::dupmsg(host, mp);
        if dup.is_null() {
            return;
        }
        let snap = mblk::snapshot(dup);
        let over = {
            let mut q = lock(&self.snooped);
            q.push_back((MsgPtrs(dup), snap, tx));
            q.len() > SNOOP_MAX
        };
        if over {
            self.release_snooped(host, 1);
        }
        self.cv.notify_all();
    }

    /// Free up to `n` of the oldest snoop copies, checking that nobody
    /// wrote into their shared blocks.
    pub(super) fn release_snooped(&self, host: &Arc<HostShared>, n: usize) {
        for _ in 0..n {
            let Some((mp, snap, tx)) = lock(&self.snooped).pop_front() else { return };
            check_snapshot(host, &snap, tx);
            free_here(mp.0);
        }
    }

    pub(super) fn schedule_resend(self: &Arc<Self>, host: &Arc<HostShared>) {
        {
            let mut b = lock(&self.backlog);
            if b.msgs.is_empty() || b.resend_queued {
                return;
            }
            b.resend_queued = true;
        }
        let c = self.clone();
        let hw: Weak<HostShared> = Arc::downgrade(host);
        host.taskq.push(Box::new(move || {
            lock(&c.backlog).resend_queued = false;
            if let Some(h) = hw.upgrade() {
                c.send_backlog(&h, true);
            }
        }));
    }

    /// Send the backlog through mc_tx until the driver pushes back.
    pub(super) fn send_backlog(self: &Arc<Self>, host: &Arc<HostShared>, after_update: bool) {
        if self.closed.load(Ordering::SeqCst) {
            return;
        }
        let _tx = lock(&self.tx_lock);
        let m = &self.mac;
        if after_update {
            lock(&self.backlog).blocked = false;
        }
        loop {
            let sent: Vec<*mut mblk_t> = {
                let mut b = lock(&self.backlog);
                if b.blocked || b.msgs.is_empty() {
                    return;
                }
                b.msgs.drain(..).collect()
            };
            if lock(&m.st).unregistered {
                for mp in sent {
                    free_here(mp);
                }
                return;
            }
            for w in sent.windows(2) {
                // SAFETY: our own messages, linked into a b_next chain.
                unsafe { (*w[0]).b_next = w[1] };
            }
            let seq = lock(&m.st).tx_update_seq;
            let Some(f) = m.cb().mc_tx else { return };
            let chain = sent[0];
            let guard = McTxGuard::enter();
            // SAFETY: the driver's callback; the chain is owned by it now.
            let rest = call_tx(host, || unsafe { f(m.driver, chain) });
            drop(guard);
            if rest.is_null() {
                self.sent.fetch_add(sent.len() as u64, Ordering::Relaxed);
                return;
            }
            let Some(k) = sent.iter().position(|&p| p == rest) else {
                host.record(
                    ViolationKind::MacProtocol,
                    "mc_tx returned a chain that does not start with one of the messages it was given".into(),
                );
                return;
            };
            // The rest must be exactly sent[k..], still linked in order.
            let mut ok = true;
            for i in k..sent.len() {
                let mp = sent[i];
                if check_msg(host, mp, "mc_tx returned chain", false, Location::caller()).is_err() {
                    ok = false;
                    break;
                }
                // SAFETY: a checked live message.
                let next = unsafe { (*mp).b_next };
                let want = sent.get(i + 1).copied().unwrap_or(ptr::null_mut());
                if next != want {
                    ok = false;
                    break;
                }
            }
            if !ok {
                host.record(
                    ViolationKind::MacProtocol,
                    "mc_tx returned a chain that is not the unsent tail of the chain it was given \
                     (reordered, truncated or freed messages)"
                        .into(),
                );
                return;
            }
            self.sent.fetch_add(k as u64, Ordering::Relaxed);
            self.pushbacks.fetch_add(1, Ordering::Relaxed);
            self.returned.fetch_add((sent.len() - k) as u64, Ordering::Relaxed);
            let retry = {
                let mut b = lock(&self.backlog);
                for &mp in sent[k..].iter().rev() {
                    // SAFETY: back in our hands; unlink.
                    unsafe {
                        (*mp).b_next = ptr::null_mut();
                        (*mp).b_prev = ptr::null_mut();
                    }
                    b.msgs.push_front(mp);
                }
                let updated = lock(&m.st).tx_update_seq != seq;
                b.blocked = !updated;
                updated
            };
            self.cv.notify_all();
            if !retry {
                return;
            }
        }
    }
}

pub(super) fn check_snapshot(host: &Arc<HostShared>, snap: &Snapshot, tx: bool) {
    let changed = mblk::snapshot_changed(snap);
    if !changed.is_empty() {
        host.record(
            ViolationKind::SharedBlockWritten,
            format!(
                "the driver wrote into data block(s) {changed:?} of a {} message while it was shared \
                 (db_ref > 1) with a promiscuous observer",
                if tx { "transmitted" } else { "received" }
            ),
        );
    }
}

/// Close every client and observer still open (end of test).
pub(crate) fn close_all_clients(host: &Arc<HostShared>) {
    let macs: Vec<Arc<MacImpl>> = {
        let t = lock(&host.mac);
        t.by_handle.values().chain(t.retired.iter()).cloned().collect()
    };
    for m in macs {
        // The driver's own clients are the driver's to close (streams
        // closed first); one left is reported by check_kclient_leaks.
        let clients: Vec<_> = lock(&m.st).clients.iter().filter(|c| c.kern.is_none()).cloned().collect();
        for c in clients {
            close_client(host, &c);
        }
    }
}

/// Report macs still registered at the end of a test.
pub(crate) fn check_leaks(host: &Arc<HostShared>) {
    super::kclient::check_kclient_leaks(host);
    let names: Vec<String> = lock(&host.mac).by_handle.values().map(|m| m.name.clone()).collect();
    if !names.is_empty() {
        host.record(ViolationKind::Leak, format!("mac(s) still registered at the end: {names:?}"));
    }
}

/// `mac_tx` on dls's client of a link (IP on the datalink, or a dld
/// stream's raw frame, dld.rs rule 5): the promiscuous taps get a copy,
/// a link flow classifies the frame first (flows.rs) and its `maxbw`,
/// else the link's, paces it (kclient.rs rule 6); then the client's
/// backlog toward `mc_tx`.  `bytes` are the frame's.  Never blocks.
pub(super) fn dls_send(host: &Arc<HostShared>, c: &Arc<ClientInner>, mp: *mut mblk_t, bytes: &[u8]) {
    let (snoops, maxbw): (Vec<Arc<ClientInner>>, Option<u64>) = {
        let st = lock(&c.mac.st);
        (st.clients.iter().filter(|c| c.snoop).cloned().collect(), st.maxbw)
    };
    for s in &snoops {
        s.snoop_push(host, mp, true);
    }
    let flow = super::flows::flow_of(&c.mac, bytes);
    let flow_bw = flow.as_ref().and_then(|fl| fl.count(bytes.len()));
    let (shaper, bps) = match (flow_bw, &flow, maxbw) {
        (Some(b), Some(fl), _) => (fl.shaper.clone(), b),
        (_, _, Some(b)) => (c.tx_shaper.clone(), b),
        _ => {
            {
                let mut b = lock(&c.backlog);
                if c.closed.load(Ordering::SeqCst) {
                    drop(b);
                    return free_here(mp);
                }
                b.msgs.push_back(mp);
            }
            c.send_backlog(host, false);
            return;
        }
    };
    let hw = Arc::downgrade(host);
    let cw = Arc::downgrade(c);
    let r = shaper.enqueue(mp, bps, super::kclient::Limit::TX, || {
        Box::new(move |mp| match (hw.upgrade(), cw.upgrade()) {
            (Some(h), Some(c)) if !c.closed.load(Ordering::SeqCst) => {
                lock(&c.backlog).msgs.push_back(mp);
                c.send_backlog(&h, false);
            }
            _ => free_here(mp),
        })
    });
    if let Err(mp) = r {
        c.shaped_drops.fetch_add(1, Ordering::Relaxed);
        free_here(mp);
    }
}

/// A mac client playing IP on a link.  Dropping it closes it.
/// How long a receiver waits before letting held deferred work run again.
const RELEASE_SLICE: Duration = Duration::from_millis(20);

pub struct SimMacClient {
    pub(super) host: Arc<HostShared>,
    pub(super) c: Arc<ClientInner>,
}

/// Options of [`SimMacClient::tx_with`].
#[derive(Clone, Copy, Debug, Default)]
pub struct TxOpts {
    /// Free bytes in front of each frame (IP leaves room for headers).
    pub headroom: usize,
    /// Split each frame into `b_cont` blocks of at most this many bytes.
    pub split: Option<usize>,
    /// Offload metadata IP puts on each frame (only what the link
    /// advertises: anything else is a violation, as IP never sends it).
    pub offload: Option<crate::offload::TxOffload>,
}

impl SimMacClient {
    /// Send frames as one `b_next` chain through `mc_tx`.  What the
    /// driver returns unsent is kept and sent again after
    /// `mac_tx_update`; frames sent while blocked wait behind it.
    pub fn tx(&self, frames: &[&[u8]]) {
        self.tx_with(frames, TxOpts::default());
    }

    /// [`SimMacClient::tx`] with headroom and `b_cont` splitting.
    pub fn tx_with(&self, frames: &[&[u8]], opts: TxOpts) {
        let host = &self.host;
        let (snoops, maxbw): (Vec<Arc<ClientInner>>, Option<u64>) = {
            let st = lock(&self.c.mac.st);
            (st.clients.iter().filter(|c| c.snoop).cloned().collect(), st.maxbw)
        };
        let flowed = !lock(&self.c.mac.st).flows.is_empty();
        if flowed || maxbw.is_some() {
            // IP on the datalink is dls's primary client (dld.rs).
            for f in frames {
                let mp = build_frame(host, f, opts);
                dls_send(host, &self.c, mp, f);
            }
            return;
        }
        {
            let mut b = lock(&self.c.backlog);
            if self.c.closed.load(Ordering::SeqCst) {
                // Sent by another thread of "IP" while this client closed:
                // nothing to send through; close already freed the backlog.
                return;
            }
            if let Some(o) = opts.offload {
                let st = lock(&self.c.mac.st);
                let ok = (o.partial.is_none() || st.hcksum.is_some_and(|h| h & illumos_sys_hdrs::HCKSUM_INET_PARTIAL != 0))
                    && (o.lso_mss.is_none() || st.lso.is_some());
                drop(st);
                if !ok {
                    host.record(
                        ViolationKind::MacProtocol,
                        format!("IP sent offload metadata {o:?} the link does not advertise"),
                    );
                }
            }
            for f in frames {
                let mp = build_frame(host, f, opts);
                if let Some(o) = opts.offload {
                    crate::offload::apply(mp, o);
                }
                for s in &snoops {
                    s.snoop_push(host, mp, true);
                }
                b.msgs.push_back(mp);
            }
        }
        self.c.send_backlog(host, false);
    }

    /// Frames the client's `maxbw` soft ring sets dropped (transmit over
    /// `MAC_SRS_HIWAT`, receive over `rx_drop_threshold`).
    pub fn shaped_drops(&self) -> u64 {
        self.c.shaped_drops.load(Ordering::Relaxed)
    }

    /// Frames waiting for `mac_tx_update` (flow-controlled by the driver).
    pub fn tx_backlog(&self) -> usize {
        lock(&self.c.backlog).msgs.len()
    }

    /// Is the client blocked waiting for `mac_tx_update`?
    pub fn tx_blocked(&self) -> bool {
        lock(&self.c.backlog).blocked
    }

    /// Frames the driver accepted so far.
    pub fn tx_accepted(&self) -> u64 {
        self.c.sent.load(Ordering::Relaxed)
    }

    /// How many times `mc_tx` returned an unsent chain to this client
    /// (flow control pushing back).
    pub fn tx_pushbacks(&self) -> u64 {
        self.c.pushbacks.load(Ordering::Relaxed)
    }

    /// Frames in the chains `mc_tx` returned, summed over every
    /// pushback (a frame returned twice counts twice).
    pub fn tx_returned(&self) -> u64 {
        self.c.returned.load(Ordering::Relaxed)
    }

    /// Wait until every frame was accepted by the driver; false on
    /// timeout.
    pub fn flush_tx(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut b = lock(&self.c.backlog);
        while !b.msgs.is_empty() {
            let d = deadline.saturating_duration_since(Instant::now());
            if d.is_zero() {
                return false;
            }
            b = self.c.cv.wait_timeout(b, d.min(Duration::from_millis(50))).unwrap_or_else(|e| e.into_inner()).0;
        }
        true
    }

    /// The next frame delivered by `mac_rx`, waiting up to `timeout`.
    pub fn recv(&self, timeout: Duration) -> Option<Vec<u8>> {
        // Waiting for what the driver passes up lets held deferred work
        // (resolver replies) run.
        let deadline = Instant::now() + timeout;
        loop {
            self.host.taskq.release();
            let mut q = lock(&self.c.rx);
            if let Some(f) = q.pop_front() {
                return Some(f);
            }
            let d = deadline.saturating_duration_since(Instant::now());
            if d.is_zero() {
                return None;
            }
            q = self.c.cv.wait_timeout(q, d.min(RELEASE_SLICE)).unwrap_or_else(|e| e.into_inner()).0;
            if let Some(f) = q.pop_front() {
                return Some(f);
            }
        }
    }

    /// Frames received and not yet taken.
    pub fn rx_pending(&self) -> usize {
        lock(&self.c.rx).len()
    }

    /// The link state the client sees.
    pub fn link_state(&self) -> LinkState {
        lock(&self.c.mac.st).link_state
    }

    /// The (min, max) SDU the client sees.
    pub fn sdu(&self) -> (u32, u32) {
        let st = lock(&self.c.mac.st);
        (st.sdu_min, st.sdu_max)
    }

    /// The link's unicast address.
    pub fn mac_addr(&self) -> [u8; 6] {
        lock(&self.c.mac.st).addr
    }

    /// Wait until the link state is `want`; false on timeout.
    pub fn wait_link_state(&self, want: LinkState, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if self.link_state() == want {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Close the client (`mc_stop` if it was the last).
    pub fn close(&self) {
        close_client(&self.host, &self.c);
    }
}

impl Drop for SimMacClient {
    fn drop(&mut self) {
        self.close();
    }
}

pub(super) fn build_frame(host: &Arc<HostShared>, f: &[u8], opts: TxOpts) -> *mut mblk_t {
    match opts.split {
        Some(n) if n > 0 && f.len() > n => {
            let mut head: *mut mblk_t = ptr::null_mut();
            let mut tail: *mut mblk_t = ptr::null_mut();
            for (i, part) in f.chunks(n).enumerate() {
                let b = alloc_msg(host, M_DATA, if i == 0 { opts.headroom } else { 0 }, part);
                if tail.is_null() {
                    head = b;
                } else {
                    // SAFETY: our fresh blocks.
                    unsafe { (*tail).b_cont = b };
                }
                tail = b;
            }
            head
        }
        _ => alloc_msg(host, M_DATA, opts.headroom, f),
    }
}

/// A promiscuous observer of a link.  Dropping it closes it.
pub struct SimSnoop {
    pub(super) host: Arc<HostShared>,
    pub(super) c: Arc<ClientInner>,
}

impl SimSnoop {
    /// The next observed frame: (`true` if transmitted, bytes).  Its
    /// shared copy is checked for writes by the driver and freed.
    pub fn recv(&self, timeout: Duration) -> Option<(bool, Vec<u8>)> {
        let deadline = Instant::now() + timeout;
        let mut q = lock(&self.c.snooped);
        loop {
            drop(q);
            // As for SimMacClient::recv: held deferred work may run.
            self.host.taskq.release();
            q = lock(&self.c.snooped);
            if let Some((mp, snap, tx)) = q.pop_front() {
                drop(q);
                check_snapshot(&self.host, &snap, tx);
                let bytes = msg_bytes(mp.0);
                free_here(mp.0);
                return Some((tx, bytes));
            }
            let d = deadline.saturating_duration_since(Instant::now());
            if d.is_zero() {
                return None;
            }
            q = self.c.cv.wait_timeout(q, d.min(RELEASE_SLICE)).unwrap_or_else(|e| e.into_inner()).0;
        }
    }

    /// Close the observer.
    pub fn close(&self) {
        close_client(&self.host, &self.c);
    }
}

impl Drop for SimSnoop {
    fn drop(&mut self) {
        self.close();
    }
}
