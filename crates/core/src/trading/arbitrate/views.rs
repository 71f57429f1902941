//! Disputes as the arbitrator shows them: the view types the shells get, read from the stored rows.
//! Reading only: nothing here changes a dispute.

use std::str::FromStr;

use libp2p::PeerId;
use serde::{Deserialize, Serialize};
use ts_rs::TS;
use uuid::Uuid;

use super::{
    DisputeCase,
    cases::{Identity, disputes_of, holdings},
};
use crate::{
    error::{Error, Result},
    escrow::{Chain, Network, Party},
    offer::Offer,
    trading::{
        DisputeError, Winner,
        desk::Inner,
        store::{self, disputes::DisputeRow},
    },
};

/// A dispute as the arbitrator keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, utoipa::ToSchema)]
pub struct DisputeInfo {
    #[ts(type = "string")]
    #[schema(value_type = String)]
    pub trade_id: Uuid,
    pub chain: Chain,
    pub network: Network,
    /// The offer as taken (market, price, payment methods, terms), as the first case states it.
    pub offer: Offer,
    pub buyer: String,
    pub seller: String,
    pub buyer_address: String,
    pub seller_address: String,
    pub escrow_address: String,
    /// Base units the buyer buys; the escrow holds it and both deposits.
    pub amount: u64,
    pub buyer_deposit: u64,
    pub seller_deposit: u64,
    /// Whose signed dispute step came first; `None` when a deadline sent the trade to the arbitrator.
    pub opened_by: Option<Party>,
    /// Each party's case as received (the buyer's first); one until the other party's arrives.
    pub cases: Vec<PartyCase>,
    /// When the first case arrived here.
    pub opened_at: i64,
    /// Who the latest decision gives the escrow to, once decided.
    pub resolved_to: Option<Winner>,
    pub resolved_at: Option<i64>,
    /// The latest decision: base units of the escrow each party gets (the fee comes out of the larger
    /// share), the arbitrator's reason, its round (1 for the first, more after a refusal) and each party's
    /// answer (`stored`, `refused: REASON`, or none yet).
    pub decision: Option<DecisionInfo>,
    /// What the escrow's outputs hold on the chain now (outputs worth counting), next to what the
    /// parties agreed; `None` in lists and when the chain cannot be asked.
    pub on_chain: Option<OnChain>,
}

/// The arbitrator's latest decision, as it shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, utoipa::ToSchema)]
pub struct DecisionInfo {
    pub round: u32,
    pub buyer_share: u64,
    pub seller_share: u64,
    pub reason: String,
    pub buyer_answer: Option<String>,
    pub seller_answer: Option<String>,
    /// A party refused it and none took it: the arbitrator may decide again.
    pub can_decide_again: bool,
}

/// What the escrow holds on the chain, per funder's output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, utoipa::ToSchema)]
pub struct OnChain {
    pub buyer_output: u64,
    pub seller_output: u64,
}

/// One party's case as the arbitrator shows it. Reason and transcript are the party's own text: shells
/// must never render them as markup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, utoipa::ToSchema)]
pub struct PartyCase {
    pub side: Party,
    pub reason: String,
    /// The chat (and nothing else), oldest first, each line `SENT_AT_MS me|them: TEXT` from this party's
    /// point of view; the oldest lines are dropped when the case would be too large.
    pub transcript: Vec<String>,
}

fn info_of(row: &DisputeRow) -> Result<DisputeInfo> {
    let stored =
        |what: &str, e: &dyn std::fmt::Display| Error::Internal(format!("stored {what}: {e}"));
    let cases = row.cases()?;
    let mut cases: Vec<DisputeCase> =
        serde_json::from_str(&cases).map_err(|e| stored("cases", &e))?;
    let first = cases
        .first()
        .ok_or_else(|| Error::Internal("a dispute without a case".into()))?;
    let offer = first.offer()?;
    let (buyer_deposit, seller_deposit) = (first.buyer_deposit, first.seller_deposit);
    let id = row.trade_id()?;
    let chain = row.chain()?;
    let network = row.network()?;
    let amount = row.amount()?;
    let buyer = row.buyer()?;
    let seller = row.seller()?;
    let (buyer_id, seller_id): (PeerId, PeerId) = (
        buyer.parse().map_err(|e| stored("buyer", &e))?,
        seller.parse().map_err(|e| stored("seller", &e))?,
    );
    // Who opened it: the earliest signed dispute step in any case (each was checked on arrival).
    let mut steps = Vec::new();
    for case in &cases {
        steps.extend(disputes_of(case, &buyer_id, &seller_id)?);
    }
    let opened_by = steps.iter().min_by_key(|(_, at)| *at).map(|(sender, _)| {
        if *sender == buyer_id {
            Party::Buyer
        } else {
            Party::Seller
        }
    });
    cases.sort_by_key(|c| c.side != Party::Buyer.as_str());
    Ok(DisputeInfo {
        trade_id: Uuid::parse_str(&id).map_err(|e| stored("trade id", &e))?,
        chain: Chain::from_str(&chain).map_err(|e| stored("chain", &e))?,
        network: Network::from_str(&network).map_err(|e| stored("network", &e))?,
        offer,
        buyer,
        seller,
        buyer_address: row.buyer_address()?,
        seller_address: row.seller_address()?,
        escrow_address: row.escrow_address()?,
        amount: u64::try_from(amount).unwrap_or(0),
        buyer_deposit,
        seller_deposit,
        opened_by,
        cases: cases
            .into_iter()
            .map(|c| {
                Ok(PartyCase {
                    side: c.side.parse().map_err(|e| stored("case side", &e))?,
                    reason: c.reason,
                    transcript: c.transcript,
                })
            })
            .collect::<Result<_>>()?,
        opened_at: row.opened_at()?,
        resolved_to: row.resolved_to()?,
        resolved_at: row.resolved_at()?,
        decision: decision_info(row)?,
        on_chain: None,
    })
}

fn decision_info(row: &DisputeRow) -> Result<Option<DecisionInfo>> {
    let round = row.round()?;
    if round == 0 {
        return Ok(None);
    }
    let share = |v: Option<i64>| v.and_then(|v| u64::try_from(v).ok()).unwrap_or(0);
    let buyer_answer = row.buyer_answer()?;
    let seller_answer = row.seller_answer()?;
    let answers = [&buyer_answer, &seller_answer];
    let can_decide_again = answers.iter().all(|a| a.as_deref() != Some("stored"))
        && answers
            .iter()
            .any(|a| a.as_deref().is_some_and(|a| a.starts_with("refused")));
    Ok(Some(DecisionInfo {
        round: u32::try_from(round).unwrap_or(u32::MAX),
        buyer_share: share(row.buyer_share()?),
        seller_share: share(row.seller_share()?),
        reason: row.decision_reason()?.unwrap_or_default(),
        buyer_answer,
        seller_answer,
        can_decide_again,
    }))
}

/// Open disputes first, then the decided ones; newest first in each. A stored dispute that cannot be
/// read is left out (and logged), so it cannot hide the others.
pub(in crate::trading) async fn list(inner: &Inner) -> Result<Vec<DisputeInfo>> {
    let rows = store::disputes::load_all(&inner.pool).await?;
    Ok(rows
        .iter()
        .filter_map(|row| match info_of(row) {
            Ok(info) => Some(info),
            Err(e) => {
                let id = row.trade_id().unwrap_or_default();
                tracing::warn!(trade_id = %id, error = %e, "a stored dispute cannot be read");
                None
            }
        })
        .collect())
}

/// One dispute, with what its escrow holds on the chain now (left out when the chain cannot say).
pub(in crate::trading) async fn show(inner: &Inner, trade_id: Uuid) -> Result<DisputeInfo> {
    let (mut info, cases) = stored_dispute(inner, trade_id)
        .await?
        .ok_or_else(|| Error::from(DisputeError::NoDispute(trade_id)))?;
    match holdings(inner, &cases[0]).await {
        Ok(on_chain) => info.on_chain = Some(on_chain),
        Err(e) => tracing::info!(%trade_id, error = %e, "the escrow's balance is not known now"),
    }
    Ok(info)
}

/// One dispute as stored, with its cases; `None` when no dispute about the trade came here.
pub(super) async fn stored_dispute(
    inner: &Inner,
    trade_id: Uuid,
) -> Result<Option<(DisputeInfo, Vec<DisputeCase>)>> {
    let Some(row) = store::disputes::load(&inner.pool, trade_id).await? else {
        return Ok(None);
    };
    let (_, cases) = Identity::stored(&row)?;
    Ok(Some((info_of(&row)?, cases)))
}
