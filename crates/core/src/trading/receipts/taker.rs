//! The taker's side: a maker's receipt countersigned only when it says what this node's own record of the
//! trade says and its escrow checks out on this node's chain.

use std::collections::HashSet;

use libp2p::PeerId;

use super::{
    END_SLACK_MS, ReceiptRequest,
    body::{Made, body_of},
    reputations::backend_of,
    sha,
};
use crate::{
    error::Result,
    protocol::{ReturnAnswer, roles::TradeRole},
    reputation::{ReceiptBody, ReceiptCheck, TxAt, check_on_chain, receipt},
    store::now_ms,
    trading::{
        desk::Inner,
        errors::{internal, peer_fault},
        store::{self, receipts::ReceiptRow},
    },
};

/// The taker's side: countersigns the maker's body if it says what this node's record of the trade says.
pub(in crate::trading) async fn on_request(
    inner: &Inner,
    peer: PeerId,
    bytes: &[u8],
) -> ReturnAnswer {
    let answer = countersign(inner, peer, bytes).await;
    if let Err(e) = &answer {
        tracing::info!(%peer, error = %e, "a receipt not countersigned");
    } else {
        inner.receipts.kick();
    }
    ReturnAnswer::of(answer)
}

async fn countersign(inner: &Inner, peer: PeerId, bytes: &[u8]) -> Result<Vec<u8>> {
    let ReceiptRequest::Countersign {
        trade_id,
        body,
        signature,
    } = ReceiptRequest::decode(bytes).map_err(peer_fault)?;
    let trade = store::trade_info(&inner.pool, &inner.me.peer, trade_id)
        .await
        .map_err(|_| peer_fault(format!("no trade {trade_id} with you here")))?;
    if trade.counterparty != peer.to_string() || trade.role != TradeRole::Taker {
        return Err(peer_fault(format!("no trade {trade_id} with you here")));
    }
    let theirs = ReceiptBody::decode(&body).map_err(peer_fault)?;
    receipt::check_signature(&body, &theirs.maker_key, &signature)
        .map_err(|e| peer_fault(format!("your signature: {e}")))?;
    let mine = match body_of(inner, &trade).await? {
        Made::Ready(b) => b,
        Made::NotYet(why) => return Err(crate::Error::Internal(format!("not yet: {why}"))),
        Made::None => {
            return Err(peer_fault(format!(
                "trade {trade_id} gets no receipt here (it is {})",
                trade.state.as_str()
            )));
        }
    };
    let same = |what: &str, ok: bool| {
        if ok {
            Ok(())
        } else {
            Err(peer_fault(format!(
                "the receipt's {what} is not what this node recorded"
            )))
        }
    };
    same("trade", theirs.trade == mine.trade)?;
    same(
        "parties",
        theirs.maker_key == mine.maker_key && theirs.taker_key == mine.taker_key,
    )?;
    same("sides", theirs.maker_party == mine.maker_party)?;
    same(
        "market",
        theirs.base == mine.base && theirs.quote == mine.quote,
    )?;
    same("amount", theirs.bucket == mine.bucket)?;
    same("outcome", theirs.outcome == mine.outcome)?;
    same(
        "end time",
        (theirs.ended_at - mine.ended_at).abs() <= END_SLACK_MS,
    )?;
    match (&theirs.escrow, &mine.escrow) {
        (None, None) => {}
        (Some(t), Some(m)) => {
            let ids = |v: &[TxAt]| v.iter().map(|t| t.txid).collect::<HashSet<_>>();
            same("escrow funding", ids(&t.funding) == ids(&m.funding))?;
            // The payouts the maker names must be on the chain, spending the funding; it may not know
            // one (the winner of a dispute broadcasts it): the receipt then proves the funding only.
            match check_on_chain(backend_of(inner), t).await {
                ReceiptCheck::Verified => {}
                ReceiptCheck::Failed { reason } => return Err(peer_fault(reason)),
                other => return Err(crate::Error::Internal(format!("{other:?}"))),
            }
        }
        _ => same("escrow", false)?,
    }
    let id = sha(&body);
    let existing = store::receipts::id_and_countersignature(&inner.pool, trade_id).await?;
    if let Some((known, Some(sig))) = &existing {
        if known.as_slice() == id.as_slice() {
            return Ok(sig.clone());
        }
        return Err(peer_fault(
            "this node countersigned another receipt of the trade",
        ));
    }
    let mine_sig =
        receipt::sign_body(&body, &inner.me.keypair).map_err(|e| internal("signing", e))?;
    let countersigned = ReceiptRow {
        trade_id,
        id: &id,
        body: &body,
        maker_signature: &signature,
        counterparty: &peer.to_string(),
        ended_at: theirs.ended_at,
        created_at: now_ms(),
    };
    store::receipts::save_countersigned(&inner.pool, &countersigned, &mine_sig).await?;
    tracing::info!(%trade_id, "trade receipt countersigned for the maker");
    Ok(mine_sig)
}
