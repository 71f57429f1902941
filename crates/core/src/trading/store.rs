//! The trade desk's SQL: channel state (keys sealed at rest), the outbox, chat, disputes, receipts,
//! recovery copies, and the read models the shells query. Functions take a connection (or the pool)
//! so callers compose them into one transaction; what the rows mean stays with the callers.
//!
//! Children, one concern each: `channel` (a trade's channel row, its keys sealed at rest),
//! `envelopes` (held incoming envelopes, and outgoing ones sealed into the outbox), `outbox` (the
//! delivery loop's rows: what is due, acknowledgements, retries), `chat` (messages and the chat's
//! rules), `negotiation` (the signed negotiation steps), `disputes` (the arbitrator's dispute rows and
//! a party's case bookkeeping), `receipts` (trade receipts, ratings and receipt checks), `recovery`
//! (recovery copies handed over and kept, and a record's rows read and written back), `trades` (the
//! trade read model the shells query) and `progress` (what happens next, in words); settlement's:
//! `escrow` (a trade's escrow row), `journal` (a trade's events, state and terms) and `arbitrators`
//! (kept announcements, the lists saved in Settings).

mod arbitrators;
mod channel;
mod chat;
pub(super) mod disputes;
mod envelopes;
mod escrow;
mod journal;
pub(crate) mod negotiation;
pub(super) mod outbox;
mod progress;
pub(super) mod receipts;
pub(super) mod recovery;
mod trades;

pub(super) use arbitrators::{keep_announcement, kept_announcement, saved_arbitrator_lists};
pub(super) use channel::{ChannelRow, insert_channel, load_channel};
pub use chat::{MAX_CHAT_MESSAGES_PER_TRADE, chat_log, unread_messages};
pub(super) use chat::{
    chat_refusal, insert_message, last_incoming_sent_at, last_outgoing_sent_at, mark_incoming_read,
    mark_outgoing_read, unread_incoming,
};
pub(super) use envelopes::{enqueue, load_held, peers_to_reach, save_receiver, seq_i64};
pub(super) use escrow::{
    NewEscrow, clear_incoming_return, escrow_address_taken, insert_escrow, load_escrow,
    recovery_copies_at, save_escrow, save_resolution_broadcast, watched_escrows,
};
#[cfg(feature = "test-hooks")]
pub(super) use journal::envelope_delivery;
pub(super) use journal::{
    append_event, last_resolution, set_trade_state, trade_offer, trade_state, trade_terms,
};
pub(super) use progress::coins;
pub use trades::{list_open_trades, list_trades, trade_info};
pub(super) use trades::{load_negotiation, trade_info_on, unknown_trade};

use super::errors::{internal, sql};

// The chat's grace after a trade ended, for the trade tests.
#[cfg(test)]
pub use chat::CHAT_GRACE_MS;
