//! The arbitrator decides: what it may decide, and the signed PSBT paying what the escrow holds on the
//! chain to the winner or split between both. One decision per round; a new round only after a refusal.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use ts_rs::TS;
use uuid::Uuid;

use super::{
    MAX_DECISION_REASON_CHARS, Resolution, SignedResolution, arbitrator_of,
    cases::{escrow_inputs, parties},
    deliver::deliver_resolution,
    refused, resolution_plan,
    views::{DisputeInfo, show, stored_dispute},
};
use crate::{
    arbiter::arbitrator_trade_keypair,
    chain::ChainBackend,
    error::Error,
    escrow::{Party, SpendPath, build_spend, encode_psbt, sign_psbt},
    store::now_ms,
    trading::{
        DisputeError, TradeEvent, Winner,
        desk::Inner,
        store::{self, disputes::DecisionRow},
    },
};

/// What the arbitrator decides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, utoipa::ToSchema)]
pub struct Decision {
    /// The buyer or the seller (the whole escrow), or a split.
    pub to: Winner,
    /// With `split`: base units of the escrow (as it stands on the chain) the buyer gets; the seller gets
    /// the rest. The fee comes out of the larger share.
    #[ts(type = "number | null")]
    pub buyer_gets: Option<u64>,
    /// Why, shown to both parties.
    pub reason: String,
}

impl Decision {
    /// The whole escrow to `party`, without a reason.
    pub fn to(party: Party) -> Self {
        Self {
            to: party.into(),
            buyer_gets: None,
            reason: String::new(),
        }
    }
}

/// The arbitrator decides: a PSBT paying what the escrow holds on the chain to the buyer, the seller or
/// both, signed with the arbitrator's per-trade key, sent signed to both parties. Once decided, a new
/// decision (the next round) is allowed only after a party refused the last one and none took it.
pub(in crate::trading) async fn resolve(
    inner: &Arc<Inner>,
    trade_id: Uuid,
    decision: &Decision,
) -> std::result::Result<DisputeInfo, DisputeError> {
    let to = decision.to;
    if to != Winner::Split && decision.buyer_gets.is_some() {
        return Err(DisputeError::ShareWithoutSplit(to));
    }
    let reason = decision.reason.trim();
    if reason.chars().count() > MAX_DECISION_REASON_CHARS {
        return Err(DisputeError::ReasonTooLong {
            max: MAX_DECISION_REASON_CHARS,
        });
    }
    let (dispute, cases) = stored_dispute(inner, trade_id)
        .await?
        .ok_or(DisputeError::NoDispute(trade_id))?;
    let round = match &dispute.decision {
        None => 1,
        Some(d) if d.can_decide_again => d.round + 1,
        Some(d) => {
            let why = if [&d.buyer_answer, &d.seller_answer]
                .iter()
                .any(|a| a.as_deref() == Some("stored"))
            {
                "a party has taken it"
            } else {
                "no party has refused it"
            };
            return Err(DisputeError::Decided {
                to: dispute.resolved_to.map_or("?", Winner::as_str).to_owned(),
                round: d.round,
                why,
            });
        }
    };
    let case = &cases[0];
    let (buyer, seller) = parties(case)?;
    let backend = inner.chain.clone().ok_or(DisputeError::NoChain)?;
    let key = arbitrator_trade_keypair(&inner.escrow_root, case.chain, case.network, &trade_id)
        .map_err(refused)?;
    let (escrow, utxos) = escrow_inputs(inner, case).await?;
    if utxos.is_empty() {
        return Err(DisputeError::EmptyEscrow);
    }
    let total: u64 = utxos.iter().map(|u| u.value.to_sat()).sum();
    let buyer_share = match (to, decision.buyer_gets) {
        (Winner::Buyer, _) => total,
        (Winner::Seller, _) => 0,
        (_, None) => return Err(DisputeError::SplitWithoutShare),
        (_, Some(share)) if share == 0 || share >= total => {
            return Err(DisputeError::ShareOutOfRange { total });
        }
        (_, Some(share)) => share,
    };
    let mut plan = resolution_plan(
        case.chain,
        case.network,
        (&buyer.2, &seller.2),
        (&escrow.parties().buyer, &escrow.parties().seller),
        buyer_share,
        utxos,
    )?;
    if arbitrator_of(&case.offer()?)? != inner.me.peer {
        // The backup arbitrator signs on the backup branch, which its lock opens.
        plan.path = SpendPath::Backup;
    }
    let mut psbt = build_spend(
        &escrow,
        &plan,
        backend.fee_rate().await.map_err(Error::from)?,
    )
    .map_err(|e| DisputeError::Unpayable(e.to_string()))?;
    sign_psbt(&mut psbt, &escrow, &key).map_err(refused)?;
    let resolution = Resolution {
        trade_id,
        winner: to,
        buyer_share,
        seller_share: total - buyer_share,
        reason: reason.into(),
        round,
        psbt: encode_psbt(&psbt),
    };
    resolution.check_outcome().map_err(Error::from)?;
    let signed = SignedResolution::sign(&resolution, &inner.me.keypair).map_err(Error::from)?;
    let bytes = postcard::to_stdvec(&signed).map_err(|e| Error::Internal(e.to_string()))?;
    // Only one decision per round is stored and sent, even when two arrive at once (two windows, a
    // double click): the second finds the round taken.
    let decision = DecisionRow {
        trade_id,
        round,
        to,
        at: now_ms(),
        resolution: &bytes,
        buyer_share: resolution.buyer_share,
        seller_share: resolution.seller_share,
        reason,
    };
    if !store::disputes::save_decision(&inner.pool, &decision).await? {
        let done = show(inner, trade_id).await?.resolved_to;
        return Err(DisputeError::DecidedMeanwhile(
            done.map_or("?", Winner::as_str).to_owned(),
        ));
    }
    for (side, party) in [(Party::Buyer, buyer.0), (Party::Seller, seller.0)] {
        tokio::spawn(deliver_resolution(
            inner.clone(),
            trade_id,
            side,
            party,
            bytes.clone(),
        ));
    }
    tracing::info!(%trade_id, %to, buyer_share, round, "dispute decided");
    let _ = inner.events.send(TradeEvent::DisputeResolved { trade_id });
    Ok(show(inner, trade_id).await?)
}
