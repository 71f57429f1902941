//! What a person should be told about, as a shell shows it in a desktop notification: an offer of
//! theirs was taken, the counterparty wrote or answered, an escrow step happened, a deadline is near.
//!
//! [`Alerts`] decides, from the desk's [`TradeEvent`]s and the trades as they are stored; it is pure (the
//! clock is an argument) so every rule is tested without a network. [`Watcher`] runs it on a node: it
//! follows the desk's events, looks at the deadlines once a minute, and publishes each [`Alert`] on a
//! broadcast channel the shells subscribe to. It never shows anything itself, and it never lets text a
//! peer chose through, except a short excerpt of a chat message with every control and formatting
//! character removed.
//!
//! Rules:
//! - **Offer taken**: a take request for one of this node's offers ([`TradeEvent::TakeRequested`]).
//! - **Message**: a chat message from the counterparty, or its negotiation step (counter, accept,
//!   reject). This node's own messages and steps never alert.
//! - **Escrow**: each state change of a trade once it is agreed (escrow ready, funded, confirmed,
//!   payment sent, payment confirmed, released, completed, cancelled, expired, disputed, resolved), once
//!   per state, except the steps this node made itself (the buyer's "payment sent", the seller's
//!   "payment received").
//! - **Recovered** (an escrow alert): a trade came back from its sealed recovery copy after a restore
//!   ([`TradeEvent::Recovered`]), with what happens next.
//! - **Matching offer**: another maker's new offer matches a saved search ([`SearchMatcher`]).
//! - **Deadline**: the funding, payment and release deadline of the trade's current step, once per
//!   deadline, when what is left of its window drops to [`warning_lead`]: the larger of one hour and a
//!   tenth of the window, but never more than half of it (so a short window warns half-way, not at once).
//!
//! Each kind is shown only while the person's [`NotificationPrefs`] allow it; the prefs are read again
//! whenever they are saved. What happened while a kind was off is remembered as seen, so turning it on
//! again does not replay old news. The memory is per process: a restarted node takes the trades as it
//! finds them as seen, and may warn once more about a deadline it warned about before the restart.

mod engine;
mod format;
mod searches;
mod watcher;
mod wording;

use std::time::Duration;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use self::{
    engine::{Alerts, MESSAGE_ALERTS_PER_MINUTE},
    format::excerpt,
    searches::{SearchMatcher, offer_matched},
    watcher::{DEADLINE_CHECK_EVERY, MarketSide, TradeSource, Watcher},
    wording::EXCERPT_CHARS,
};
#[cfg(doc)]
use crate::trading::TradeEvent;
use crate::{preferences::NotificationPrefs, trading::TradeConfig};

/// Which preference governs an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    OfferTaken,
    Message,
    Escrow,
    Deadline,
    /// A new offer matches a saved search.
    OfferMatched,
}

impl AlertKind {
    pub fn allowed_by(self, prefs: &NotificationPrefs) -> bool {
        match self {
            Self::OfferTaken => prefs.offer_taken,
            Self::Message => prefs.message,
            Self::Escrow => prefs.escrow,
            Self::Deadline => prefs.deadline,
            Self::OfferMatched => prefs.matching_offer,
        }
    }
}

/// One notification: a short title and a sentence or two of plain text (never markup).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    pub kind: AlertKind,
    /// The trade it is about; `None` for an offer matching a saved search.
    pub trade_id: Option<Uuid>,
    /// The offer it is about (a saved search's match).
    pub offer_id: Option<Uuid>,
    pub title: String,
    pub body: String,
}

/// The windows the desk gives each step, to tell how much of a deadline's window is left.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Windows {
    pub funding: Duration,
    /// `None`: by payment method ([`crate::trading::payment_window`]).
    pub payment: Option<Duration>,
    pub release: Duration,
}

impl From<&TradeConfig> for Windows {
    fn from(c: &TradeConfig) -> Self {
        Self {
            funding: c.funding_window,
            payment: c.payment_window,
            release: c.release_window,
        }
    }
}

/// How long before a deadline it is announced: max(1 h, 10 % of the window), at most half the window.
pub fn warning_lead(window: Duration) -> Duration {
    const HOUR: Duration = Duration::from_secs(3600);
    (window / 10).max(HOUR).min(window / 2)
}

#[cfg(test)]
mod tests;
