// SPDX-License-Identifier: MPL-2.0
//! The receive side's replay window: which counters of one key epoch
//! were already accepted.
//!
//! A bitmap of [`WINDOW`] bits used as a ring indexed by `counter %
//! WINDOW`, and `top`, one more than the highest counter accepted.  A
//! counter at or above `top` is new; one more than `WINDOW` below `top`
//! is too old to tell and refused; in between its bit says.  The check
//! ([`ReplayWindow::check`]) runs before decryption (cheap refusal) and
//! the update ([`ReplayWindow::accept`]) only after the datagram
//! authenticated, so a forgery cannot move the window.

/// Bits in the window: how far behind the newest datagram a reordered
/// one may still arrive.
pub const WINDOW: u64 = 2048;
const WORDS: usize = (WINDOW / 64) as usize;

/// Why a counter was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Replay {
    /// Already accepted once.
    Duplicate,
    /// More than [`WINDOW`] behind the newest: cannot be told apart.
    TooOld,
}

#[derive(Clone, Debug)]
pub struct ReplayWindow {
    top: u64,
    bits: [u64; WORDS],
}

impl Default for ReplayWindow {
    fn default() -> Self {
        ReplayWindow { top: 0, bits: [0; WORDS] }
    }
}

fn slot(counter: u64) -> (usize, u64) {
    let i = counter % WINDOW;
    ((i / 64) as usize, 1u64 << (i % 64))
}

impl ReplayWindow {
    /// May `counter` be accepted (if it authenticates)?
    pub fn check(&self, counter: u64) -> Result<(), Replay> {
        if counter >= self.top {
            return Ok(());
        }
        if self.top - counter > WINDOW {
            return Err(Replay::TooOld);
        }
        let (w, bit) = slot(counter);
        match self.bits.get(w) {
            Some(word) if word & bit == 0 => Ok(()),
            _ => Err(Replay::Duplicate),
        }
    }

    /// Record `counter` as accepted (call only after [`Self::check`]
    /// passed and the datagram authenticated).
    pub fn accept(&mut self, counter: u64) {
        if counter >= self.top {
            let advance = counter - self.top + 1;
            if advance >= WINDOW {
                self.bits = [0; WORDS];
            } else {
                // Forget the counters the window slides over.
                for c in self.top..=counter {
                    let (w, bit) = slot(c);
                    if let Some(word) = self.bits.get_mut(w) {
                        *word &= !bit;
                    }
                }
            }
            self.top = counter + 1;
        }
        let (w, bit) = slot(counter);
        if let Some(word) = self.bits.get_mut(w) {
            *word |= bit;
        }
    }

    /// One more than the highest counter accepted (0: none yet).
    pub fn top(&self) -> u64 {
        self.top
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn take(w: &mut ReplayWindow, c: u64) -> Result<(), Replay> {
        w.check(c)?;
        w.accept(c);
        Ok(())
    }

    #[test]
    fn in_order_reordered_duplicate_and_old() {
        let mut w = ReplayWindow::default();
        for c in 0..100 {
            assert_eq!(take(&mut w, c), Ok(()), "counter {c}");
        }
        assert_eq!(take(&mut w, 50), Err(Replay::Duplicate));
        assert_eq!(take(&mut w, 99), Err(Replay::Duplicate));
        // A gap, then the missing ones arrive late: accepted once each.
        assert_eq!(take(&mut w, 300), Ok(()));
        for c in 100..300 {
            assert_eq!(take(&mut w, c), Ok(()), "late counter {c}");
            assert_eq!(take(&mut w, c), Err(Replay::Duplicate), "late counter {c} twice");
        }
        // The window holds the WINDOW newest counters: 301 is the
        // oldest still known once 300 + WINDOW arrived.
        assert_eq!(take(&mut w, 301), Ok(()));
        assert_eq!(take(&mut w, 300 + WINDOW), Ok(()));
        assert_eq!(w.check(301), Err(Replay::Duplicate));
        assert_eq!(w.check(302), Ok(()));
        assert_eq!(w.check(300), Err(Replay::TooOld));
        assert_eq!(w.check(0), Err(Replay::TooOld));
    }

    #[test]
    fn sliding_clears_the_bits_of_reused_slots() {
        let mut w = ReplayWindow::default();
        assert_eq!(take(&mut w, 5), Ok(()));
        // 5 + WINDOW lands on the same slot as 5: it must be new.
        assert_eq!(take(&mut w, 5 + WINDOW), Ok(()));
        assert_eq!(take(&mut w, 5 + WINDOW), Err(Replay::Duplicate));
        // A jump of more than a window forgets everything before it.
        assert_eq!(take(&mut w, 10 * WINDOW), Ok(()));
        for c in 9 * WINDOW + 1..10 * WINDOW {
            assert_eq!(w.check(c), Ok(()), "counter {c} was never seen");
        }
        assert_eq!(w.top(), 10 * WINDOW + 1);
    }

    #[test]
    fn a_checked_but_not_accepted_counter_stays_usable() {
        // A forgery carrying counter 7 is checked, fails to
        // authenticate and is never accepted: the real 7 still gets in.
        let mut w = ReplayWindow::default();
        assert_eq!(w.check(7), Ok(()));
        assert_eq!(take(&mut w, 7), Ok(()));
    }
}
