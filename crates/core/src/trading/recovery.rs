//! Seed-only recovery of open escrows (docs/protocol.md, "Recovery from the seed words").
//!
//! Each party hands its counterparty a sealed copy of its own rows of every open escrow trade (the
//! [`record`]), again whenever they change, and tells it a locator only its seed derives. The holder keeps
//! the newest copy per trade and, while the trade is open, announces itself in the DHT as a provider of
//! that locator. A node restored from its seed words alone looks its locator up, asks each provider which
//! copies it holds, fetches those of trades it does not have, opens them with its own key and puts the
//! rows back: the trade goes on from there like one restored from a backup of that moment.
//!
//! The holder learns nothing it did not know (the trade is its own; the copy is sealed), forges nothing
//! (only the owner's seed seals), and can at worst withhold a copy or hand back an older one: the restored
//! trade is then behind, and catches up as a stale backup does.

mod hand_over;
mod holder;
mod record;
mod restore;
mod rows;

use std::time::Duration;

use libp2p::PeerId;

pub(super) use self::{hand_over::keep_copies, holder::on_request, restore::recover};
pub use record::{
    CopyOffer, MAX_RECORD_BYTES, Record, RecordError, RecoveryAnswer, RecoveryKeys,
    RecoveryRequest, Table, Value,
};

use super::{desk::Inner, errors::peer_fault, settle::LATE_COINS_WATCH};
use crate::{
    error::{Error, Result},
    protocol::DirectRequest,
};

/// Copies go out this long after the last trade event of a burst...
const HAND_OVER_QUIET: Duration = Duration::from_secs(2);
/// ...and at least this often (a copy the counterparty did not store is offered again)...
const HAND_OVER_EVERY: Duration = Duration::from_secs(60);
/// ...and this soon after a copy could not be handed over, twice as long each time after.
const HAND_OVER_RETRY: Duration = Duration::from_secs(1);
/// The first look for this node's copies, then twice as long each time nobody holds any...
const LOOK_FIRST: Duration = Duration::from_secs(1);
/// ...up to this; and this often once some were found.
const LOOK_EVERY: Duration = Duration::from_secs(15 * 60);
/// A holder takes at most one copy per trade and owner this often.
const MIN_KEEP_GAP_MS: i64 = 1_000;
/// A copy is handed over again after this long even when nothing changed, so the arbitrator, which
/// forgets copies [`LATE_COINS_WATCH`] after the last one, keeps it while the trade is open.
const REFRESH_AFTER_MS: i64 = 30 * 24 * 3600 * 1000;
/// An arbitrator keeps copies of at most this many trades per party.
pub const MAX_LODGED_PER_OWNER: i64 = 64;
/// At most this many trades are taken from one holder's list per look.
const MAX_LISTED: usize = 256;

async fn ask(inner: &Inner, peer: PeerId, request: RecoveryRequest) -> Result<RecoveryAnswer> {
    let answer = inner
        .net
        .request(peer, DirectRequest::Recovery(request.encode()).encode())
        .await
        .map_err(|e| Error::Internal(format!("not reachable: {e}")))?;
    RecoveryAnswer::decode(&answer).map_err(peer_fault)
}

#[cfg(test)]
mod tests;
