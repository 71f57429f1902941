//! What the desk refused from peers since it started, counted: the counters the desk bumps and the
//! snapshot the shells get. Counting only: the refusals themselves happen where the input is checked.

use std::sync::atomic::{AtomicU64, Ordering};

use super::Desk;

/// What the desk refused from peers since it started, counted (shown on the Network screen).
#[derive(Debug, Default)]
pub(in crate::trading) struct Refused {
    pub takes: AtomicU64,
    pub envelopes: AtomicU64,
    pub chat_messages: AtomicU64,
    pub takes_expired: AtomicU64,
    pub recovery_copies: AtomicU64,
}

/// What this node refused from peers since it started.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    serde::Serialize,
    serde::Deserialize,
    ts_rs::TS,
    utoipa::ToSchema,
)]
pub struct Refusals {
    /// Takes of this node's offers refused (bad, over a limit, of a withdrawn offer, …).
    #[ts(type = "number")]
    pub takes: u64,
    /// Trade envelopes refused (forged, tampered, out of place).
    #[ts(type = "number")]
    pub envelopes: u64,
    /// Chat messages dropped: past a trade's rate or total, or after its chat closed.
    #[ts(type = "number")]
    pub chat_messages: u64,
    /// Takes this node rejected because nobody answered them in time.
    #[ts(type = "number")]
    pub takes_expired: u64,
    /// Recovery copies handed back to this node that did not open with its seed's key or were not its own.
    #[ts(type = "number")]
    pub recovery_copies: u64,
    /// Peers whose gossip is ignored now (they sent too much the book refused).
    pub peers_ignored: u32,
}

impl Desk {
    /// What this desk refused from peers since it started (`peers_ignored` is the network's to fill).
    pub fn refusals(&self) -> Refusals {
        let r = &self.inner.refused;
        Refusals {
            takes: r.takes.load(Ordering::Relaxed),
            envelopes: r.envelopes.load(Ordering::Relaxed),
            chat_messages: r.chat_messages.load(Ordering::Relaxed),
            takes_expired: r.takes_expired.load(Ordering::Relaxed),
            recovery_copies: r.recovery_copies.load(Ordering::Relaxed),
            peers_ignored: 0,
        }
    }
}
