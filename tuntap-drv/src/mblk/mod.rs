// SPDX-License-Identifier: MPL-2.0
//! Owned STREAMS messages: one message ([`MsgBlk`], `block.rs`) and lists
//! of them ([`MsgQueue`], [`MsgChain`], [`MsgBuilder`], `lists.rs`).
//!
//! Theory statement.  This file only names the two halves; the rules
//! (ownership, bounds, headroom, `b_next` lists without allocation) are
//! in their files.  Every access to `b_rptr`/`b_wptr`/`b_datap` in the
//! driver goes through them.  `lists.rs` builds on `block.rs`, never the
//! other way round.

mod block;
mod lists;

pub use block::MsgBlk;
pub use lists::{MsgBuilder, MsgChain, MsgQueue, chain_from};
