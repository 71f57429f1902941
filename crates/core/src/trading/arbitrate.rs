//! Disputes. A party whose trade is Disputed (its own dispute, the counterparty's, or a deadline) sends
//! its case to the offer's arbitrator, sealed to the arbitrator's announced X25519 key: the offer, the
//! terms, both parties' signed escrow-key steps (which prove each party's key and address), the signed
//! dispute steps in its log (which prove who opened the dispute), its own reason and the chat. It sends
//! the case again now and then until a decision comes, so an arbitrator that lost its database gets it
//! back.
//!
//! The arbitrator keeps one dispute per trade: a case whose parties, keys, addresses, amounts or escrow
//! differ from the one it holds is refused, unless the held one's escrow is empty on the chain and the new
//! one's is not (a squatter who guessed the trade id cannot lock the real parties out). It decides
//! (`souk dispute resolve ID --to buyer|seller|split [--buyer-gets X] [--reason TEXT]`): a PSBT paying the
//! escrow as it stands on the chain to the winner, or split between both, signed with its own per-trade
//! key and sent, signed, to both parties. A party checks it against the chain and its own record of the
//! trade, and only while its trade is Disputed; a party who gets anything co-signs and broadcasts (the
//! same transaction from both is harmless). When a party refuses a decision and no party has taken it,
//! the arbitrator may issue a new one (a new round).
//!
//! Children: `party` (a party's case out, the decision in), `returns` (a funder's own coins back,
//! both sides), `cases` (the arbitrator storing cases), `views` (disputes as the arbitrator shows
//! them), `decide` (the arbitrator's decision), `deliver` (the decision to both parties) and, with
//! `test-hooks` only, `forged` (a forged case). This root holds the party's case and the payout plan
//! both sides compute; the arbitrator's signed resolution is the protocol's (`protocol::dispute`).

mod cases;
mod copies;
mod decide;
mod deliver;
#[cfg(feature = "test-hooks")]
mod forged;
mod party;
mod returns;
mod views;

use libp2p::PeerId;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{desk::Inner, settle};
pub use crate::protocol::dispute::{MAX_DECISION_REASON_CHARS, Resolution, SignedResolution};
use crate::{
    arbiter::{SignedAnnouncement, record_key},
    error::{Error, Result},
    escrow::{Chain, EscrowInput, Network, SpendPath, SpendPlan},
    offer::{EscrowKind, Offer},
};

pub(super) use cases::on_case;
pub(super) use copies::{check_lodger, lodging_case};
pub use decide::Decision;
pub(super) use decide::resolve;
pub(super) use deliver::resend_resolutions;
#[cfg(feature = "test-hooks")]
pub(super) use forged::send_forged_case;
pub(super) use party::{on_resolution, send_case};
pub(super) use returns::{ReturnRequest, ask_return, on_return_request};
pub use views::{DecisionInfo, DisputeInfo, OnChain, PartyCase};
pub(super) use views::{list, show};

/// The arbitrator's PSBT may pay at most this many times the fee rate the party's node suggests.
const MAX_FEE_RATE_FACTOR: u64 = 4;

use super::errors::{peer_fault, refused, sql};

/// What a party tells the arbitrator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisputeCase {
    pub trade_id: Uuid,
    /// The offer as taken, as JSON (postcard cannot carry its tagged enums).
    pub offer_json: String,
    pub amount: u64,
    pub buyer_deposit: u64,
    pub seller_deposit: u64,
    pub chain: Chain,
    pub network: Network,
    /// Both parties' signed `EscrowKeys` steps, as each signed it.
    pub escrow_keys: Vec<Vec<u8>>,
    /// The signed `Dispute` steps in this party's log (either party's), as each signed it; none when a
    /// deadline sent the trade to the arbitrator.
    pub dispute_steps: Vec<Vec<u8>>,
    /// This party's side: `buyer` or `seller`.
    pub side: String,
    pub reason: String,
    /// The chat and the trade's steps, as lines, oldest first.
    pub transcript: Vec<String>,
    /// The first arbitrator's key in this escrow, as the party derived it from the announcement: a
    /// backup arbitrator needs it to compute the script once the first is gone (a wrong key gives an
    /// escrow address that holds nothing on the chain, so it gains nothing).
    pub arbitrator_key: Vec<u8>,
}

impl DisputeCase {
    /// The offer the case is about.
    fn offer(&self) -> Result<Offer> {
        serde_json::from_str(&self.offer_json)
            .map_err(|e| refused(format!("the case's offer: {e}")))
    }
}

/// This party's trade as the arbitrator needs it: no dispute steps, reason or chat yet.
fn case_of(
    trade_id: Uuid,
    offer: &Offer,
    row: &settle::EscrowRow,
    escrow_keys: Vec<Vec<u8>>,
) -> Result<DisputeCase> {
    Ok(DisputeCase {
        trade_id,
        offer_json: serde_json::to_string(offer).map_err(|e| Error::Internal(e.to_string()))?,
        amount: row.amount,
        buyer_deposit: row.buyer_deposit,
        seller_deposit: row.seller_deposit,
        chain: row.chain,
        network: row.network,
        escrow_keys,
        dispute_steps: Vec::new(),
        side: row.side.as_str().into(),
        reason: String::new(),
        transcript: Vec::new(),
        arbitrator_key: row.arbitrator_pubkey.clone().unwrap_or_default(),
    })
}

/// The offer's second arbitrator, who stands in after the backup lock.
fn backup_of(offer: &Offer) -> Option<PeerId> {
    match &offer.escrow {
        EscrowKind::Multisig { arbitrators } => arbitrators.get(1).copied(),
        EscrowKind::None => None,
    }
}

fn arbitrator_of(offer: &Offer) -> Result<PeerId> {
    match &offer.escrow {
        EscrowKind::Multisig { arbitrators } => arbitrators
            .first()
            .copied()
            .ok_or_else(|| refused("the offer names no arbitrator")),
        EscrowKind::None => Err(refused("a trade without escrow has no arbitrator")),
    }
}

async fn find_announcement(
    inner: &Inner,
    arbitrator: &PeerId,
    chain: Chain,
    network: Network,
) -> Result<crate::arbiter::Announcement> {
    let value = inner
        .net
        .get_record(record_key(arbitrator, chain, network))
        .await?
        .ok_or_else(|| {
            refused(format!(
                "arbitrator {arbitrator} is not announced in the DHT"
            ))
        })?;
    let a = SignedAnnouncement::verify(&value).map_err(refused)?;
    if a.arbitrator != *arbitrator {
        return Err(refused("an announcement of another arbitrator"));
    }
    Ok(a)
}

/// The escrow's inputs shared out: `buyer_share` to the buyer's address, the rest to the seller's (a
/// share of nothing has no output); the fee comes out of the larger share (the buyer's on a tie).
fn resolution_plan(
    chain: Chain,
    network: Network,
    (buyer_address, seller_address): (&str, &str),
    (buyer_key, seller_key): (
        &bitcoin::secp256k1::PublicKey,
        &bitcoin::secp256k1::PublicKey,
    ),
    buyer_share: u64,
    inputs: Vec<EscrowInput>,
) -> Result<SpendPlan> {
    let total: u64 = inputs.iter().map(|i| i.value.to_sat()).sum();
    let seller_share = total.checked_sub(buyer_share).ok_or_else(|| {
        refused(format!(
            "the buyer's share {buyer_share} is more than the escrow's {total}"
        ))
    })?;
    let mut outputs = Vec::new();
    let mut reserves = Vec::new();
    for (share, address, key) in [
        (buyer_share, buyer_address, buyer_key),
        (seller_share, seller_address, seller_key),
    ] {
        if share == 0 {
            continue;
        }
        // Each share is paid like a return: its payout, then a fee reserve to its party's key when the
        // share is large enough. Payouts come first, reserves after.
        let mut paid = settle::return_outputs(chain, network, address, key, share)?;
        outputs.push(paid.remove(0));
        reserves.extend(paid);
    }
    let fee_payer = usize::from(outputs.len() == 2 && seller_share > buyer_share);
    outputs.extend(reserves);
    Ok(SpendPlan {
        chain,
        inputs,
        outputs,
        fee_payer,
        path: SpendPath::Multisig,
    })
}

/// The decision recorded in a Resolved trade's log, for the trade view.
pub(super) fn decision_of(payload: &[u8]) -> Option<Resolution> {
    crate::codec::decode_exact::<Resolution>(payload, "resolution").ok()
}

#[cfg(test)]
mod tests;
