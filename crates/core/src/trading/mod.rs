//! The trade desk: takes offers, answers takes, carries the negotiation and the chat of every trade over
//! its encrypted channel, and delivers each envelope exactly once, across restarts and offline peers.
//!
//! Layers, from the wire up: `protocol` (which direct request is which) → `channel` (sealed take,
//! signed encrypted sequenced envelopes) → [`wire::ChannelMessage`] (what an envelope carries) →
//! `negotiation` (the signed steps and their rules) → this module (storage, delivery, events).
//!
//! Every change is one SQLite transaction that stores the new state *and* the envelope to send (the
//! outbox) before anything leaves the node; the delivery loop only reads the outbox. A crash at any
//! point either lost nothing or sends the stored envelope again, which the receiver drops as a replay.

mod arbitrate;
mod desk;
mod errors;
mod fund;
mod outbox;
pub mod receipts;
pub mod recovery;
mod settle;
pub(crate) mod store;
pub mod wire;

/// Entry points for the fuzz targets (`fuzz/`) into decoders private to the trade engine.
#[doc(hidden)]
pub mod fuzz_entry {
    /// A dispute case as the arbitrator decodes it from a sealed take's plaintext.
    pub fn dispute_case(data: &[u8]) {
        let _ = crate::codec::decode_exact::<super::arbitrate::DisputeCase>(data, "dispute case");
    }

    /// A return request as the arbitrator decodes it.
    pub fn return_request(data: &[u8]) {
        let _ =
            crate::codec::decode_exact::<super::arbitrate::ReturnRequest>(data, "return request");
    }

    /// An arbitrator's signed resolution as a party opens it.
    pub fn resolution(data: &[u8]) {
        let _ = super::arbitrate::SignedResolution::open(data);
    }
}

use serde::{Deserialize, Serialize};
use ts_rs::TS;
use uuid::Uuid;

use crate::offer::{Offer, PaymentMethod, Price};

pub use crate::protocol::{
    roles::{Party, TradeRole, Winner},
    state::TradeState,
};
pub use arbitrate::{
    Decision, DecisionInfo, DisputeInfo, MAX_DECISION_REASON_CHARS, OnChain, PartyCase,
};
pub use desk::{Desk, Refusals, Settlement, TradeConfig, payment_window};
pub use errors::{DisputeError, SettleError, TakeError};
pub use fund::WalletFunding;
pub use settle::{DecisionView, EscrowView, PendingFunding, ReserveView, ReturnView};
pub use store::{
    MAX_CHAT_MESSAGES_PER_TRADE, chat_log, list_open_trades, list_trades, trade_info,
    unread_messages,
};

/// What the two parties agree on (so far).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, utoipa::ToSchema)]
pub struct TradeTerms {
    /// Base units (satoshis, litoshis).
    pub amount: u64,
    pub price: Price,
    pub method: PaymentMethod,
    /// The taker's payout details, opaque text.
    pub payout: String,
}

/// A trade as the shells show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, utoipa::ToSchema)]
pub struct TradeInfo {
    #[ts(type = "string")]
    #[schema(value_type = String)]
    pub id: Uuid,
    pub role: TradeRole,
    pub counterparty: String,
    pub state: TradeState,
    /// The offer as it was taken.
    pub offer: Offer,
    pub terms: TradeTerms,
    pub reject_reason: Option<String>,
    /// Who has to act next; `None` when nobody has to (the trade is over, or waits for the chain).
    pub waiting_for: Option<TradeRole>,
    /// What happens next, in words.
    pub next_step: String,
    /// Messages from the counterparty not marked read yet.
    pub unread: u32,
    /// The escrow, for trades that have one (once the terms are agreed).
    pub escrow: Option<EscrowView>,
    /// The trade's signed event log, oldest first: when each step happened.
    pub steps: Vec<StepRecord>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// One entry of a trade's signed event log, as the shells show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, utoipa::ToSchema)]
pub struct StepRecord {
    /// The step: `take_request`, `counter`, `accept`, `reject` (negotiation); `escrow_keys`,
    /// `escrow_ready`, `funded`, `payment_sent`, `payment_received`, `released`, `confirmed`, `cancel`,
    /// `funding_expired`, `payment_expired`, `release_expired`, `dispute`, `resolve` (settlement);
    /// what the chain showed without moving the trade: `funding_seen`, `funding_dropped`,
    /// `payout_resent` (a payout this node broadcast left the chain and was sent again).
    pub kind: String,
    /// When this node recorded it (unix ms): made here, received from the counterparty or the
    /// arbitrator, or observed on the chain or the clock.
    pub at: i64,
    /// Signed by this node: its own step, or what it observed itself.
    pub mine: bool,
}

impl TradeInfo {
    /// Whether the trade still needs this node running: negotiating, or not yet in a final state.
    pub fn is_open(&self) -> bool {
        self.state.is_open()
    }

    /// Whether this node buys or sells the coins.
    pub fn party(&self) -> Party {
        self.role.party(self.offer.side)
    }
}

/// One chat message of a trade. The body is plain text: shells must never render it as markup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, utoipa::ToSchema)]
pub struct ChatMessage {
    #[ts(type = "string")]
    #[schema(value_type = String)]
    pub id: Uuid,
    #[ts(type = "string")]
    #[schema(value_type = String)]
    pub trade_id: Uuid,
    pub outgoing: bool,
    /// The sender's envelope sequence number.
    pub seq: u64,
    /// The sender's PeerId.
    pub sender: String,
    pub body: String,
    /// The sender's clock when it sent the message (unix ms); for an incoming message clamped on
    /// arrival to no later than this node's clock and no earlier than the sender's previous message.
    pub sent_at: i64,
    /// Outgoing: when the counterparty's node acknowledged it. Incoming: when it arrived.
    pub delivered_at: Option<i64>,
    /// Outgoing: when the counterparty read it. Incoming: when this node's user did.
    pub read_at: Option<i64>,
}

/// An answer to the other side's last negotiation step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TradeAnswer {
    Accept,
    Reject {
        reason: String,
    },
    /// The maker proposes another amount and/or a fixed price.
    Counter {
        amount: Option<u64>,
        #[ts(type = "string | null")]
        #[schema(value_type = Option<String>)]
        price: Option<rust_decimal::Decimal>,
    },
}

/// What the desk tells the shells.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TradeEvent {
    /// Someone took one of this node's offers.
    TakeRequested { trade: Box<TradeInfo> },
    /// A trade changed (a negotiation step, either side).
    TradeUpdated { trade: Box<TradeInfo> },
    /// A trade of this node came back from its sealed recovery copy: put back after a restore from the
    /// seed words, or caught up after a restore from an older backup.
    Recovered { trade: Box<TradeInfo> },
    /// A chat message was stored (sent by this node, or received).
    Message { message: ChatMessage },
    /// The counterparty's node acknowledged this node's envelopes up to `up_to`.
    Delivered {
        #[ts(type = "string")]
        #[schema(value_type = String)]
        trade_id: Uuid,
        up_to: u64,
    },
    /// The counterparty read this node's messages up to `up_to`.
    Read {
        #[ts(type = "string")]
        #[schema(value_type = String)]
        trade_id: Uuid,
        up_to: u64,
    },
    /// As an arbitrator: a party's dispute case arrived.
    DisputeOpened {
        #[ts(type = "string")]
        #[schema(value_type = String)]
        trade_id: Uuid,
    },
    /// As an arbitrator: this node decided a dispute (from any shell).
    DisputeResolved {
        #[ts(type = "string")]
        #[schema(value_type = String)]
        trade_id: Uuid,
    },
}

#[cfg(test)]
mod tests;
