//! Returns: coins in a closed trade's escrow that are nobody else's go back to whoever sent them, signed
//! for the counterparty, co-signed for this node, or reclaimed alone after the reclaim lock. Coins a
//! release pays out, or (after a resolution) the arbitrator's to decide, are never returned.

use bitcoin::{Amount, FeeRate};
use uuid::Uuid;

use super::{
    MAX_FEE_RATE_FACTOR, SettleError, escrow_refusal, internal,
    journal::{send_step, step_locked},
    my_key, no_escrow,
    outputs::{escrow_utxos, spent_escrow_outputs},
    peer_psbt,
    resend::{broadcast_again_if_lost, resend_lost_returns},
    reserve::tend_return_reserves,
    row::{EscrowRow, ReturnRecord, load, load_row, save},
    sql,
};
use crate::{
    chain::{Backend, ChainBackend, Utxo},
    error::Result,
    escrow::{
        Chain, EscrowInput, Network, Party, Payout, SpendPath, SpendPlan, TradeEscrow,
        anchor_script, anchor_value, build_spend, check_psbt, decode_psbt, encode_psbt,
        finalize_psbt, parse_payout_address, sign_psbt,
    },
    protocol::settlement::StepBody,
    trading::{desk::Inner, store},
};

/// A payout (a share of a decision, a return) keeps a fee reserve only when it is at least this many
/// reserves.
const RESERVE_SHARE_FACTOR: u64 = 10;

/// What a return of `total` pays: all of it to the funder's `address`, less a fee reserve to the
/// funder's own key when it is at least [`RESERVE_SHARE_FACTOR`] reserves (the funder's node lifts a
/// stuck return with it, or pays it on). The fee comes out of the first output.
pub(in crate::trading) fn return_outputs(
    chain: Chain,
    network: Network,
    address: &str,
    funder_key: &bitcoin::secp256k1::PublicKey,
    total: u64,
) -> Result<Vec<Payout>> {
    let reserve = anchor_value(chain).to_sat();
    let kept = if total >= RESERVE_SHARE_FACTOR * reserve {
        reserve
    } else {
        0
    };
    let mut outputs = vec![Payout {
        script_pubkey: parse_payout_address(address, chain, network).map_err(escrow_refusal)?,
        amount: Amount::from_sat(total - kept),
    }];
    if kept > 0 {
        outputs.push(Payout {
            script_pubkey: anchor_script(funder_key),
            amount: Amount::from_sat(kept),
        });
    }
    Ok(outputs)
}

impl EscrowRow {
    /// A spend of `funder`'s outputs entirely back to it, the fee from its own coins.
    pub(in crate::trading) fn return_plan(
        &self,
        funder: Party,
        inputs: Vec<EscrowInput>,
        path: SpendPath,
    ) -> std::result::Result<SpendPlan, SettleError> {
        let address = self
            .address_of(funder)
            .ok_or(SettleError::AddressUnknown(funder.as_str()))?;
        let total: u64 = inputs.iter().map(|i| i.value.to_sat()).sum();
        let escrow = self
            .keys()?
            .ok_or_else(|| internal("escrow", "keys missing"))?;
        let key = match funder {
            Party::Buyer => escrow.parties().buyer,
            Party::Seller => escrow.parties().seller,
        };
        Ok(SpendPlan {
            chain: self.chain,
            inputs,
            outputs: return_outputs(self.chain, self.network, address, &key, total)?,
            fee_payer: 0,
            path,
        })
    }
}

/// A closed trade's escrow outputs that still hold coins (funding of a cancelled or expired trade,
/// surplus, coins that came late) go back to whoever sent them, decided by which output holds them:
/// - the counterparty's coins: this node signs a return paying all of them to the counterparty's address
///   and sends it; the counterparty checks, co-signs and broadcasts;
/// - this node's own coins: it co-signs and broadcasts the counterparty's return when one came; once the
///   reclaim lock has passed on an output, it takes it back alone, needing no one.
///
/// After a resolution only coins that came late go back: the funding transactions' outputs are the
/// arbitrator's to decide (the resolution spends them, maybe not confirmed yet).
pub(super) async fn return_leftovers(
    inner: &Inner,
    backend: &Backend,
    trade_id: Uuid,
    late_only: bool,
) -> Result<()> {
    let Some(row) = load_row(inner, trade_id).await? else {
        return Ok(());
    };
    let Some(escrow) = row.keys()? else {
        return Ok(());
    };
    let utxos = escrow_utxos(backend, &row, &escrow).await?;
    if let Err(e) = resend_lost_returns(inner, backend, &row, &utxos, trade_id).await {
        tracing::warn!(%trade_id, error = %e, "a lost return is not sent again yet");
    }
    if let Err(e) = tend_return_reserves(inner, backend, &row, trade_id).await {
        tracing::warn!(%trade_id, error = %e, "a return's fee reserve is not tended yet");
    }
    // Coins a release (still confirming, or spent) pays out are never returned.
    let released: Vec<bitcoin::OutPoint> = match &row.release_psbt {
        Some(bytes) => decode_psbt(bytes)
            .map(|p| {
                p.unsigned_tx
                    .input
                    .iter()
                    .map(|i| i.previous_output)
                    .collect()
            })
            .unwrap_or_default(),
        None => Vec::new(),
    };
    let mine = row.side;
    if let Some(bytes) = row.incoming_return.clone() {
        if let Err(e) = cosign_return(inner, backend, &row, &escrow, trade_id, &bytes).await {
            tracing::warn!(%trade_id, error = %e, "the counterparty's return is not usable");
        }
        clear_incoming_return(inner, trade_id, &bytes).await?;
    }
    for funder in Party::BOTH {
        let coins: Vec<&Utxo> = utxos
            .iter()
            .filter(|(f, u)| *f == funder && !released.contains(&u.outpoint))
            .filter(|(_, u)| {
                !late_only || !row.funding_txids.contains(&u.outpoint.txid.to_string())
            })
            .map(|(_, u)| u)
            .filter(|u| {
                !row.returns
                    .iter()
                    .any(|r| r.txid.is_some() && r.outpoints.contains(&u.outpoint.to_string()))
            })
            .collect();
        if coins.is_empty() {
            continue;
        }
        if funder == mine {
            let reclaim = escrow.of(funder).timelocks().reclaim;
            let ripe: Vec<&Utxo> = coins
                .iter()
                .copied()
                .filter(|u| u.confirmations >= u32::from(reclaim))
                .collect();
            if !ripe.is_empty() {
                reclaim_alone(inner, backend, &row, &escrow, trade_id, &ripe).await?;
                continue;
            }
            // The other output holds nothing: the arbitrator co-signs at once (asked once per set of
            // coins it refused).
            let outpoints = outpoint_texts(&coins);
            let refused_before = row
                .returns
                .iter()
                .any(|r| r.outpoints == outpoints && r.how.starts_with("arbitrator refused"));
            if !refused_before && utxos.iter().all(|(f, _)| *f == mine) {
                crate::trading::arbitrate::ask_return(
                    inner, backend, &row, &escrow, trade_id, &coins,
                )
                .await?;
            }
        } else {
            sign_return_for_counterparty(inner, backend, &row, &escrow, trade_id, &coins).await?;
        }
    }
    Ok(())
}

fn outpoint_texts(coins: &[&Utxo]) -> Vec<String> {
    coins.iter().map(|u| u.outpoint.to_string()).collect()
}

/// Records a return in the trade's row and tells the shells.
pub(in crate::trading) async fn record_return(
    inner: &Inner,
    trade_id: Uuid,
    record: ReturnRecord,
) -> Result<()> {
    step_locked(inner, trade_id, move |_, tx| {
        Box::pin(async move {
            let Some(mut row) = load(tx, trade_id).await? else {
                return Ok(false);
            };
            row.returns
                .retain(|r| !(r.funder == record.funder && r.outpoints == record.outpoints));
            row.returns.push(record);
            save(tx, trade_id, &row).await?;
            Ok(true)
        })
    })
    .await
}

async fn clear_incoming_return(inner: &Inner, trade_id: Uuid, bytes: &[u8]) -> Result<()> {
    let (_guard, mut tx) = inner.write().await?;
    store::clear_incoming_return(&mut tx, trade_id, bytes).await?;
    tx.commit().await.map_err(sql)
}

/// The counterparty's coins are nobody else's: sign their return and send it, once per set of coins.
async fn sign_return_for_counterparty(
    inner: &Inner,
    backend: &Backend,
    row: &EscrowRow,
    escrow: &TradeEscrow,
    trade_id: Uuid,
    coins: &[&Utxo],
) -> Result<()> {
    let funder = row.side.other();
    let outpoints = outpoint_texts(coins);
    if row
        .returns
        .iter()
        .any(|r| r.funder == funder && r.outpoints == outpoints)
    {
        return Ok(());
    }
    let inputs = coins.iter().map(|u| u.input_of(funder)).collect();
    let plan = row.return_plan(funder, inputs, SpendPath::Multisig)?;
    let mut psbt = build_spend(escrow, &plan, backend.fee_rate().await?).map_err(escrow_refusal)?;
    sign_psbt(&mut psbt, escrow, &my_key(inner, row, trade_id)?).map_err(escrow_refusal)?;
    let address = row.address_of(funder).unwrap_or_default().to_owned();
    let amount = coins.iter().map(|u| u.value.to_sat()).sum();
    let (_guard, mut db) = inner.write().await?;
    let mut channel = store::load_channel(&mut db, &inner.me.storage_key, trade_id)
        .await?
        .ok_or_else(|| store::unknown_trade(trade_id))?;
    send_step(
        inner,
        &mut db,
        &mut channel,
        StepBody::Return {
            psbt: encode_psbt(&psbt),
        },
    )
    .await?;
    let mut stored = load(&mut db, trade_id)
        .await?
        .ok_or_else(|| no_escrow(trade_id))?;
    stored.returns.push(ReturnRecord::unsent(
        funder,
        outpoints,
        amount,
        address,
        "signed".into(),
    ));
    save(&mut db, trade_id, &stored).await?;
    db.commit().await.map_err(sql)?;
    inner.outbox.kick();
    tracing::info!(%trade_id, funder = funder.as_str(), amount, "signed the return of the counterparty's coins");
    Ok(())
}

/// The counterparty signed a return of this node's own coins: check it pays them all to this node's
/// address at a sane fee, co-sign, broadcast.
async fn cosign_return(
    inner: &Inner,
    backend: &Backend,
    row: &EscrowRow,
    escrow: &TradeEscrow,
    trade_id: Uuid,
    bytes: &[u8],
) -> Result<()> {
    let funder = row.side;
    let mut psbt = decode_psbt(bytes).map_err(peer_psbt)?;
    let inputs = spent_escrow_outputs(backend, row, escrow, &psbt).await?;
    if inputs.iter().any(|i| i.funder != funder) {
        return Err(SettleError::PeerPsbt(
            "the return spends coins that are not this party's".into(),
        )
        .into());
    }
    let amount = inputs.iter().map(|i| i.value.to_sat()).sum();
    let plan = row.return_plan(funder, inputs, SpendPath::Multisig)?;
    let rate = backend.fee_rate().await?;
    let max = FeeRate::from_sat_per_kwu(rate.to_sat_per_kwu().saturating_mul(MAX_FEE_RATE_FACTOR));
    check_psbt(&psbt, escrow, &plan, max).map_err(peer_psbt)?;
    sign_psbt(&mut psbt, escrow, &my_key(inner, row, trade_id)?).map_err(escrow_refusal)?;
    let tx = finalize_psbt(psbt, escrow).map_err(escrow_refusal)?;
    // The very return this node broadcast before (co-signed by the arbitrator meanwhile), which the
    // chain node lost: sent again as such, and the trade's log says so.
    let same = tx.compute_txid().to_string();
    if row
        .returns
        .iter()
        .any(|r| r.txid.as_deref() == Some(same.as_str()))
    {
        broadcast_again_if_lost(inner, backend, trade_id, &tx, "return").await?;
        return Ok(());
    }
    let txid = backend.broadcast(&tx).await?;
    tracing::info!(%trade_id, %txid, amount, "own escrow coins returned, co-signed by the counterparty");
    record_return(
        inner,
        trade_id,
        ReturnRecord::broadcast(
            funder,
            amount,
            row.address_of(funder).unwrap_or_default().to_owned(),
            &tx,
            "cosigned",
            backend.tip_height().await.ok(),
        ),
    )
    .await
}

/// The reclaim lock passed on this node's own coins: take them back with this party's key alone.
async fn reclaim_alone(
    inner: &Inner,
    backend: &Backend,
    row: &EscrowRow,
    escrow: &TradeEscrow,
    trade_id: Uuid,
    coins: &[&Utxo],
) -> Result<()> {
    let funder = row.side;
    let inputs = coins.iter().map(|u| u.input_of(funder)).collect();
    let plan = row.return_plan(funder, inputs, SpendPath::Reclaim)?;
    let mut psbt = build_spend(escrow, &plan, backend.fee_rate().await?).map_err(escrow_refusal)?;
    sign_psbt(&mut psbt, escrow, &my_key(inner, row, trade_id)?).map_err(escrow_refusal)?;
    let tx = finalize_psbt(psbt, escrow).map_err(escrow_refusal)?;
    let amount = coins.iter().map(|u| u.value.to_sat()).sum();
    let txid = backend.broadcast(&tx).await?;
    tracing::info!(%trade_id, %txid, amount, "own escrow coins reclaimed alone after the reclaim lock");
    record_return(
        inner,
        trade_id,
        ReturnRecord::broadcast(
            funder,
            amount,
            row.address_of(funder).unwrap_or_default().to_owned(),
            &tx,
            "reclaimed",
            backend.tip_height().await.ok(),
        ),
    )
    .await
}
