//! The arbitrator as the second holder of a party's recovery copy (`trading::recovery`): a party whose
//! counterparty is gone for good, and which lost its own data, still gets its trade back from the
//! arbitrator. The arbitrator keeps a copy only for a party of a trade that names it first arbitrator and
//! whose escrow holds coins on the chain (so keeping copies costs a spammer real locked coins).

use libp2p::PeerId;
use uuid::Uuid;

use super::{
    DisputeCase, arbitrator_of,
    cases::{escrow_inputs, parties},
    party::signed_steps,
    peer_fault, sql,
};
use crate::{
    error::{Error, Result},
    trading::{desk::Inner, settle, store},
};

/// This party's trade as a case for its first arbitrator to check a copy against (the offer, amounts and
/// both parties' signed escrow keys; no reason, no chat), and that arbitrator.
pub(in crate::trading) async fn lodging_case(
    inner: &Inner,
    trade_id: Uuid,
) -> Result<(PeerId, Vec<u8>)> {
    let mut conn = inner.pool.acquire().await.map_err(sql)?;
    let row = settle::load(&mut conn, trade_id)
        .await?
        .ok_or_else(|| store::unknown_trade(trade_id))?;
    let channel = store::load_channel(&mut conn, &inner.me.storage_key, trade_id)
        .await?
        .ok_or_else(|| store::unknown_trade(trade_id))?;
    let escrow_keys = signed_steps(&mut conn, trade_id, "escrow_keys").await?;
    drop(conn);
    let case = super::case_of(trade_id, &channel.offer, &row, escrow_keys)?;
    let bytes = postcard::to_stdvec(&case).map_err(|e| Error::Internal(e.to_string()))?;
    Ok((arbitrator_of(&channel.offer)?, bytes))
}

/// Whether `asker` may leave its copy of `trade_id` here: `case` is of that trade, names this node the
/// first arbitrator, `asker` is one of its two parties (their signed escrow keys), and the escrow holds
/// coins on the chain.
pub(in crate::trading) async fn check_lodger(
    inner: &Inner,
    trade_id: Uuid,
    asker: PeerId,
    case: &[u8],
) -> Result<()> {
    let case: DisputeCase = crate::codec::decode_exact(case, "trade case").map_err(peer_fault)?;
    if case.trade_id != trade_id {
        return Err(peer_fault("the case is of another trade than the copy"));
    }
    if arbitrator_of(&case.offer()?)? != inner.me.peer {
        return Err(peer_fault(
            "this node is not the first arbitrator of that offer",
        ));
    }
    let (buyer, seller) = parties(&case).map_err(|e| peer_fault(e.to_string()))?;
    if asker != buyer.0 && asker != seller.0 {
        return Err(peer_fault("the copy comes from neither party of the trade"));
    }
    let (_, inputs) = escrow_inputs(inner, &case).await?;
    if inputs.is_empty() {
        // Not for good: the chain node may not show coins it was just told to watch; the party asks
        // again, less and less often.
        return Err(Error::Internal(
            "the trade's escrow holds no coins on the chain here (yet): there is nothing to keep a copy for"
                .into(),
        ));
    }
    Ok(())
}
