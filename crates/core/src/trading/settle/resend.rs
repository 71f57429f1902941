//! Re-broadcast: transactions this node broadcast (a release, a resolution, returns) are sent again when
//! the chain node lost them, never left for lost; a return that cannot go out again is forgotten, so its
//! coins are returned anew.

use std::str::FromStr;

use uuid::Uuid;

use super::{
    internal,
    journal::{note, step_locked},
    returns::record_return,
    row::{EscrowRow, load_row},
};
use crate::{
    chain::{Backend, ChainBackend, ChainError, Utxo},
    error::{Error, Result},
    escrow::Party,
    trading::desk::Inner,
};

/// Broadcasts `tx` again when the chain node no longer knows it (restarted without its mempool, or it
/// evicted it): a transaction this node broadcast is never left for lost. True when sent again.
pub(super) async fn broadcast_again_if_lost(
    inner: &Inner,
    backend: &Backend,
    trade_id: Uuid,
    tx: &bitcoin::Transaction,
    what: &'static str,
) -> Result<bool> {
    let txid = tx.compute_txid();
    if backend.confirmations(&txid).await?.is_some() {
        return Ok(false);
    }
    backend.broadcast(tx).await?;
    tracing::info!(%trade_id, %txid, what, "broadcast again: the chain node no longer knew it");
    // In the trade's log: the chain lost it (dropped from the mempool, or a reorg took its block), and
    // it went out again.
    let detail = format!(
        "the {what} {txid} was no longer on the chain or in the mempool (dropped, or its block reorganised away): broadcast again"
    );
    step_locked(inner, trade_id, move |inner, tx| {
        Box::pin(async move {
            note(inner, tx, trade_id, "payout_resent", &detail).await?;
            Ok(true)
        })
    })
    .await?;
    Ok(true)
}

/// The release (the buyer's node) or resolution (a party's node) this node broadcast, sent again if the
/// chain node lost it while it waits for confirmations.
pub(super) async fn send_kept_again(
    backend: &Backend,
    trade_id: Uuid,
    inner: &Inner,
) -> Result<()> {
    let Some(row) = load_row(inner, trade_id).await? else {
        return Ok(());
    };
    let Some(bytes) = &row.broadcast_tx else {
        return Ok(());
    };
    let tx: bitcoin::Transaction =
        bitcoin::consensus::deserialize(bytes).map_err(|e| internal("stored transaction", e))?;
    let what = if row.release_txid.as_deref() == Some(tx.compute_txid().to_string().as_str()) {
        "release"
    } else {
        "payout"
    };
    broadcast_again_if_lost(inner, backend, trade_id, &tx, what).await?;
    Ok(())
}

/// Returns this node broadcast whose coins the chain still shows unspent: broadcast again when the chain
/// node lost them; one kept without its transaction (recorded before it was kept) is forgotten, so the
/// coins are returned anew.
pub(super) async fn resend_lost_returns(
    inner: &Inner,
    backend: &Backend,
    row: &EscrowRow,
    utxos: &[(Party, Utxo)],
    trade_id: Uuid,
) -> Result<()> {
    for r in &row.returns {
        let Some(txid) = &r.txid else {
            continue;
        };
        let unspent = |o: &String| utxos.iter().any(|(_, u)| u.outpoint.to_string() == *o);
        if r.outpoints.is_empty() || !r.outpoints.iter().all(unspent) {
            continue;
        }
        match &r.tx {
            Some(hex) => {
                let tx: bitcoin::Transaction = bitcoin::consensus::encode::deserialize_hex(hex)
                    .map_err(|e| internal("stored return", e))?;
                match broadcast_again_if_lost(inner, backend, trade_id, &tx, "return").await {
                    Ok(_) => {}
                    // Refused for good (its fee is below what the chain node now relays): made anew,
                    // at today's rate, by the counterparty, the arbitrator or the reclaim lock.
                    Err(Error::Chain(ChainError::Rejected { reason, .. })) => {
                        tracing::warn!(%trade_id, %txid, %reason, "a lost return is refused: made again");
                        record_return(
                            inner,
                            trade_id,
                            r.forgotten(format!(
                                "refused when sent again ({}): made again",
                                reason.chars().take(200).collect::<String>()
                            )),
                        )
                        .await?;
                    }
                    Err(e) => return Err(e),
                }
            }
            None => {
                let txid = bitcoin::Txid::from_str(txid).map_err(|e| internal("stored txid", e))?;
                if backend.confirmations(&txid).await?.is_none() {
                    tracing::warn!(%trade_id, %txid, "a return the chain node lost is made again");
                    record_return(
                        inner,
                        trade_id,
                        r.forgotten("lost by the chain node: made again".into()),
                    )
                    .await?;
                }
            }
        }
    }
    Ok(())
}
