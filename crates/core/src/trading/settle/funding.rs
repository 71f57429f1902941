//! Funding observation: what the escrow's two outputs hold, funding seen in the mempool or dropped from
//! it, the escrow funded (or not in time), and funding a reorg took away. Only confirmed outputs count.

use sqlx::SqliteConnection;
use uuid::Uuid;

use super::{
    clock::method_of,
    journal::{current_state, note, observe, step_locked},
    millis,
    outputs::{escrow_outputs, escrow_utxos},
    row::{EscrowRow, PendingFunding, load, load_row, save},
};
use crate::{
    chain::{Backend, Utxo},
    error::Result,
    escrow::Party,
    protocol::settlement::{Actor, StepKind, TradeState},
    store::now_ms,
    trading::{desk::Inner, store},
};

/// What the escrow's two outputs hold, as the chain shows it now.
#[derive(Debug, Clone)]
struct Holdings {
    seller: u64,
    buyer: u64,
    confirmations: u32,
    txids: Vec<String>,
    outputs: usize,
}

impl Holdings {
    fn of(utxos: &[(Party, Utxo)]) -> Self {
        let held = |f: Party| -> u64 {
            utxos
                .iter()
                .filter(|(g, _)| *g == f)
                .map(|(_, u)| u.value.to_sat())
                .sum()
        };
        Self {
            seller: held(Party::Seller),
            buyer: held(Party::Buyer),
            confirmations: utxos
                .iter()
                .map(|(_, u)| u.confirmations)
                .min()
                .unwrap_or(0),
            txids: utxos
                .iter()
                .map(|(_, u)| u.outpoint.txid.to_string())
                .collect(),
            outputs: utxos.len(),
        }
    }

    /// Each funder's output holds at least what it owes, with `required` confirmations.
    fn funds(&self, row: &EscrowRow, required: u32) -> bool {
        self.seller >= row.owed_by(Party::Seller)
            && self.buyer >= row.owed_by(Party::Buyer)
            && self.confirmations >= required
    }

    fn record(&self, row: &mut EscrowRow) -> bool {
        let known = row.funding_txids.len();
        for txid in &self.txids {
            if !row.funding_txids.contains(txid) {
                row.funding_txids.push(txid.clone());
            }
        }
        let changed = row.seller_funded != self.seller
            || row.buyer_funded != self.buyer
            || row.funding_confirmations != self.confirmations
            || row.funding_txids.len() != known;
        row.seller_funded = self.seller;
        row.buyer_funded = self.buyer;
        row.funded_amount = self.seller + self.buyer;
        row.funding_confirmations = self.confirmations;
        changed
    }
}

async fn holdings(backend: &Backend, row: &EscrowRow) -> Result<Option<Holdings>> {
    let Some(escrow) = row.keys()? else {
        return Ok(None);
    };
    Ok(Some(Holdings::of(
        &escrow_utxos(backend, row, &escrow).await?,
    )))
}

pub(super) async fn check_funding(inner: &Inner, backend: &Backend, trade_id: Uuid) -> Result<()> {
    let Some(row) = load_row(inner, trade_id).await? else {
        return Ok(());
    };
    let Some(escrow) = row.keys()? else {
        return Ok(());
    };
    let outputs = escrow_outputs(backend, &row, &escrow).await?;
    let (confirmed, unconfirmed): (Vec<_>, Vec<_>) =
        outputs.into_iter().partition(|(_, u)| u.confirmations > 0);
    let held = Holdings::of(&confirmed);
    let pending: Vec<PendingFunding> = unconfirmed
        .iter()
        .map(|(funder, u)| PendingFunding {
            txid: u.outpoint.txid.to_string(),
            vout: u.outpoint.vout,
            funder: *funder,
            value: u.value.to_sat(),
        })
        .collect();
    let confirmed_outpoints: Vec<(String, u32)> = confirmed
        .iter()
        .map(|(_, u)| (u.outpoint.txid.to_string(), u.outpoint.vout))
        .collect();
    let funded = held.funds(&row, inner.required_confirmations);
    let expired = row.funding_deadline.is_some_and(|d| now_ms() > d);
    let payment_window = match inner.config.payment_window {
        Some(window) => window,
        None => crate::trading::payment_window(&method_of(inner, trade_id).await?),
    };
    step_locked(inner, trade_id, move |inner, tx| {
        Box::pin(async move {
            let Some(mut row) = load(tx, trade_id).await? else {
                return Ok(false);
            };
            if current_state(tx, trade_id).await? != TradeState::EscrowFunding {
                return Ok(false);
            }
            let mut changed = held.record(&mut row);
            changed |=
                note_pending(inner, tx, trade_id, &mut row, pending, &confirmed_outpoints).await?;
            if funded {
                row.payment_deadline = Some(now_ms() + millis(payment_window));
                save(tx, trade_id, &row).await?;
                let detail = format!(
                    "seller {}, buyer {} in {} outputs, {} confirmations",
                    held.seller, held.buyer, held.outputs, held.confirmations
                );
                observe(inner, tx, trade_id, Actor::Chain, StepKind::Funded, &detail).await?;
                return Ok(true);
            }
            save(tx, trade_id, &row).await?;
            if expired {
                // Short of the total: whatever did arrive goes back to whoever sent it (see
                // `return_leftovers`); nobody's deposit pays for the other's failure to fund.
                let detail = format!(
                    "not funded in time: seller {} of {}, buyer {} of {}",
                    held.seller,
                    row.owed_by(Party::Seller),
                    held.buyer,
                    row.owed_by(Party::Buyer)
                );
                observe(
                    inner,
                    tx,
                    trade_id,
                    Actor::Clock,
                    StepKind::FundingExpired,
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

/// Funding seen in the mempool for the first time is noted in the trade's log ("seen, unconfirmed"), and
/// so is funding that left the mempool without reaching a block (replaced, evicted, or the node
/// restarted without it): the trade keeps waiting for funding either way, and only confirmed outputs
/// ever count. True when anything changed.
async fn note_pending(
    inner: &Inner,
    conn: &mut SqliteConnection,
    trade_id: Uuid,
    row: &mut EscrowRow,
    pending: Vec<PendingFunding>,
    confirmed: &[(String, u32)],
) -> Result<bool> {
    let same = |a: &PendingFunding, b: &PendingFunding| a.txid == b.txid && a.vout == b.vout;
    let coins = |value: u64| store::coins(row.chain, value);
    let mut changed = false;
    for p in pending
        .iter()
        .filter(|p| !row.pending_funding.iter().any(|q| same(p, q)))
    {
        let detail = format!(
            "{} to the {}'s escrow output, unconfirmed: {}:{}",
            coins(p.value),
            p.funder,
            p.txid,
            p.vout
        );
        note(inner, conn, trade_id, "funding_seen", &detail).await?;
        changed = true;
    }
    for p in row.pending_funding.iter().filter(|p| {
        !pending.iter().any(|q| same(p, q))
            && !confirmed
                .iter()
                .any(|(txid, vout)| *txid == p.txid && *vout == p.vout)
    }) {
        let detail = format!(
            "{} to the {}'s escrow output left the mempool without confirming: {}:{}",
            coins(p.value),
            p.funder,
            p.txid,
            p.vout
        );
        note(inner, conn, trade_id, "funding_dropped", &detail).await?;
        changed = true;
    }
    changed |= row.pending_funding != pending;
    row.pending_funding = pending;
    Ok(changed)
}

/// A funded escrow is checked again on every pass: funding a reorg took away sends the trade back to
/// waiting for it, so the buyer is never asked to pay against coins the chain no longer shows.
pub(super) async fn check_funding_kept(
    inner: &Inner,
    backend: &Backend,
    trade_id: Uuid,
) -> Result<()> {
    let Some(row) = load_row(inner, trade_id).await? else {
        return Ok(());
    };
    let Some(held) = holdings(backend, &row).await? else {
        return Ok(());
    };
    // Deeper confirmations are not asked again: only coins that are gone (or back to unconfirmed) count.
    if held.funds(&row, 1) {
        return Ok(());
    }
    let funding_window = inner.config.funding_window;
    step_locked(inner, trade_id, move |inner, tx| {
        Box::pin(async move {
            let Some(mut row) = load(tx, trade_id).await? else {
                return Ok(false);
            };
            if current_state(tx, trade_id).await? != TradeState::EscrowFunded {
                return Ok(false);
            }
            held.record(&mut row);
            row.payment_deadline = None;
            row.funding_deadline = Some(now_ms() + millis(funding_window));
            save(tx, trade_id, &row).await?;
            let detail = format!(
                "the chain no longer shows the funding: seller {}, buyer {}",
                held.seller, held.buyer
            );
            observe(
                inner,
                tx,
                trade_id,
                Actor::Chain,
                StepKind::FundingLost,
                &detail,
            )
            .await?;
            Ok(true)
        })
    })
    .await
}
