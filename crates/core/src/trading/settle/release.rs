//! The release: what it pays, the seller building and signing it, the buyer checking, co-signing and
//! broadcasting it, and the chain showing and confirming it. The buyer never signs a release it has not
//! checked against the chain.

use std::str::FromStr;

use bitcoin::{Amount, FeeRate};
use uuid::Uuid;

use super::{
    MAX_FEE_RATE_FACTOR, SettleError, backend, escrow_refusal, internal,
    journal::{current_state, observe, send_step, step_locked},
    my_key, no_escrow,
    outputs::{escrow_utxos, spent_escrow_outputs},
    peer_psbt,
    row::{EscrowRow, load, load_row, save},
    sql,
};
use crate::{
    chain::{Backend, ChainBackend},
    error::Result,
    escrow::{
        EscrowInput, Party, Payout, SpendPath, SpendPlan, anchor_script, anchor_value, check_psbt,
        decode_psbt, finalize_psbt, parse_payout_address, sign_psbt,
    },
    protocol::settlement::{Actor, StepBody, StepKind, TradeState},
    trading::{TradeEvent, desk::Inner, store},
};

impl EscrowRow {
    /// The release: the buyer gets the amount and what its own output holds (its deposit and any surplus),
    /// the seller what its output holds beyond the amount (its deposit and any surplus) less the fee.
    pub(super) fn release_plan(
        &self,
        inputs: Vec<EscrowInput>,
    ) -> std::result::Result<SpendPlan, SettleError> {
        let held = |f: Party| -> u64 {
            inputs
                .iter()
                .filter(|i| i.funder == f)
                .map(|i| i.value.to_sat())
                .sum()
        };
        let (seller_in, buyer_in) = (held(Party::Seller), held(Party::Buyer));
        for funder in Party::BOTH {
            let (held, owed) = (held(funder), self.owed_by(funder));
            if held < owed {
                return Err(SettleError::Underfunded {
                    funder: funder.as_str(),
                    held,
                    owed,
                });
            }
        }
        let address = |a: Option<&str>, whose: &'static str| {
            let a = a.ok_or(SettleError::AddressUnknown(whose))?;
            parse_payout_address(a, self.chain, self.network)
                .map_err(|e| SettleError::BadAddress(e.to_string()))
        };
        let escrow = self
            .keys()?
            .ok_or_else(|| internal("escrow", "keys missing"))?;
        // The buyer's fee reserve comes out of the buyer's own payout.
        let reserve = anchor_value(self.chain).to_sat();
        let buyer_gets = (self.amount + buyer_in).checked_sub(reserve).ok_or(
            SettleError::PayoutBelowReserve {
                payout: self.amount + buyer_in,
                reserve,
            },
        )?;
        Ok(SpendPlan {
            chain: self.chain,
            inputs,
            outputs: vec![
                Payout {
                    script_pubkey: address(self.buyer_address(), "buyer")?,
                    amount: Amount::from_sat(buyer_gets),
                },
                Payout {
                    script_pubkey: address(self.seller_address(), "seller")?,
                    amount: Amount::from_sat(seller_in - self.amount),
                },
                Payout {
                    script_pubkey: anchor_script(&escrow.parties().buyer),
                    amount: Amount::from_sat(reserve),
                },
            ],
            fee_payer: 1,
            path: SpendPath::Multisig,
        })
    }
}

/// The escrow's outputs and the fee rate, for a seller about to sign the release.
pub(super) async fn prepare_release(
    inner: &Inner,
    trade_id: Uuid,
) -> std::result::Result<Option<(Vec<EscrowInput>, FeeRate)>, SettleError> {
    let mut conn = inner.pool.acquire().await.map_err(sql)?;
    let Some(row) = load(&mut conn, trade_id).await? else {
        return Ok(None);
    };
    drop(conn);
    let backend = backend(inner)?;
    let escrow = row.keys()?.ok_or(SettleError::NothingToRelease)?;
    let utxos = escrow_utxos(backend, &row, &escrow).await?;
    if utxos.is_empty() {
        return Err(SettleError::EmptyEscrow);
    }
    let rate = backend.fee_rate().await?;
    Ok(Some((
        utxos.iter().map(|(f, u)| u.input_of(*f)).collect(),
        rate,
    )))
}

/// The buyer's check of the seller's release before it signs anything: exactly the escrow's outputs in,
/// exactly the agreed payouts out, a fee no higher than a few times what the chain asks now, and a valid
/// seller signature.
async fn check_release(
    inner: &Inner,
    row: &EscrowRow,
    bytes: &[u8],
) -> std::result::Result<(), SettleError> {
    let backend = backend(inner)?;
    let escrow = row
        .keys()?
        .ok_or_else(|| SettleError::PeerPsbt("a release before the escrow was set up".into()))?;
    let psbt = decode_psbt(bytes).map_err(|e| SettleError::PeerPsbt(e.to_string()))?;
    let plan = row.release_plan(spent_escrow_outputs(backend, row, &escrow, &psbt).await?)?;
    let rate = backend.fee_rate().await?;
    let max = FeeRate::from_sat_per_kwu(rate.to_sat_per_kwu().saturating_mul(MAX_FEE_RATE_FACTOR));
    check_psbt(&psbt, &escrow, &plan, max)
        .map_err(|e| SettleError::PeerPsbt(format!("the seller's release is refused: {e}")))?;
    Ok(())
}

/// The buyer, holding a checked release signed by the seller: co-sign, finalise, broadcast.
pub(super) async fn broadcast_release(
    inner: &Inner,
    backend: &Backend,
    trade_id: Uuid,
) -> Result<()> {
    let Some(row) = load_row(inner, trade_id).await? else {
        return Ok(());
    };
    if row.side != Party::Buyer || row.release_txid.is_some() {
        return Ok(());
    }
    let Some(bytes) = &row.release_psbt else {
        return Ok(());
    };
    let escrow = row
        .keys()?
        .ok_or_else(|| internal("escrow", "keys missing"))?;
    check_release(inner, &row, bytes).await?;
    let mut psbt = decode_psbt(bytes).map_err(peer_psbt)?;
    sign_psbt(&mut psbt, &escrow, &my_key(inner, &row, trade_id)?).map_err(escrow_refusal)?;
    let tx = finalize_psbt(psbt, &escrow).map_err(escrow_refusal)?;
    let txid = backend.broadcast(&tx).await?;
    let height = backend
        .tip_height()
        .await
        .ok()
        .and_then(|h| i64::try_from(h).ok());
    tracing::info!(%trade_id, %txid, "release broadcast");
    let (_guard, mut db) = inner.write().await?;
    if current_state(&mut db, trade_id).await? != TradeState::PaymentConfirmed {
        return Ok(());
    }
    let mut channel = store::load_channel(&mut db, &inner.me.storage_key, trade_id)
        .await?
        .ok_or_else(|| store::unknown_trade(trade_id))?;
    let mut row = load(&mut db, trade_id)
        .await?
        .ok_or_else(|| no_escrow(trade_id))?;
    row.release_txid = Some(txid.to_string());
    row.broadcast_tx = Some(bitcoin::consensus::serialize(&tx));
    row.release_height = height;
    save(&mut db, trade_id, &row).await?;
    send_step(
        inner,
        &mut db,
        &mut channel,
        StepBody::Released {
            txid: txid.to_string(),
        },
    )
    .await?;
    let info = store::trade_info_on(&mut db, &inner.me.peer, trade_id).await?;
    db.commit().await.map_err(sql)?;
    inner.outbox.kick();
    let _ = inner.events.send(TradeEvent::TradeUpdated {
        trade: Box::new(info),
    });
    Ok(())
}

/// The seller, told the release was broadcast: it counts once the chain shows the very transaction the
/// seller signed (in the mempool or a block).
pub(super) async fn check_release_seen(
    inner: &Inner,
    backend: &Backend,
    trade_id: Uuid,
) -> Result<()> {
    let Some(row) = load_row(inner, trade_id).await? else {
        return Ok(());
    };
    let Some(txid) = row.release_txid.as_deref() else {
        return Ok(());
    };
    if row.side != Party::Seller {
        return Ok(());
    }
    let txid = bitcoin::Txid::from_str(txid).map_err(|e| internal("stored txid", e))?;
    if backend.confirmations(&txid).await?.is_none() {
        return Ok(());
    }
    step_locked(inner, trade_id, move |inner, tx| {
        Box::pin(async move {
            if current_state(tx, trade_id).await? != TradeState::PaymentConfirmed {
                return Ok(false);
            }
            let detail = format!("{txid} seen on the chain");
            observe(
                inner,
                tx,
                trade_id,
                Actor::Chain,
                StepKind::Released,
                &detail,
            )
            .await?;
            Ok(true)
        })
    })
    .await
}

pub(super) async fn check_release_confirmed(
    inner: &Inner,
    backend: &Backend,
    trade_id: Uuid,
) -> Result<()> {
    let Some(row) = load_row(inner, trade_id).await? else {
        return Ok(());
    };
    let Some(txid) = &row.release_txid else {
        return Ok(());
    };
    let txid = bitcoin::Txid::from_str(txid).map_err(|e| internal("stored txid", e))?;
    let confirmations = backend.confirmations(&txid).await?.unwrap_or(0);
    let required = inner.required_confirmations;
    step_locked(inner, trade_id, move |inner, tx| {
        Box::pin(async move {
            let Some(mut row) = load(tx, trade_id).await? else {
                return Ok(false);
            };
            if current_state(tx, trade_id).await? != TradeState::Released {
                return Ok(false);
            }
            let changed = row.release_confirmations != confirmations;
            row.release_confirmations = confirmations;
            save(tx, trade_id, &row).await?;
            if confirmations >= required {
                let detail = format!("{txid}: {confirmations} confirmations");
                observe(
                    inner,
                    tx,
                    trade_id,
                    Actor::Chain,
                    StepKind::Confirmed,
                    &detail,
                )
                .await?;
                return Ok(true);
            }
            Ok(changed)
        })
    })
    .await
}
