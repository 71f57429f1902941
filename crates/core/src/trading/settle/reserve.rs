//! Fee reserves: the small output a payout (release, resolution, return) keeps for its own node's key,
//! spent once in a child that lifts a stuck payout (CPFP) or forwards the reserve once the payout
//! confirmed. A kept child is sent again until it confirms.

use bitcoin::{Amount, secp256k1::Keypair as SecpKeypair};
use uuid::Uuid;

use super::{
    BUMP_AFTER_BLOCKS, escrow_refusal, internal,
    journal::step_locked,
    my_key,
    resend::broadcast_again_if_lost,
    returns::record_return,
    row::{EscrowRow, load, load_row, save},
};
use crate::{
    chain::{Backend, ChainBackend},
    error::Result,
    escrow::{build_child, child_fee, find_anchor, parse_payout_address},
    store::now_ms,
    trading::desk::Inner,
};

/// The buyer's node spends the release's fee reserve once, in a child paying it on to the buyer's payout
/// address:
/// - the release is still unconfirmed [`BUMP_AFTER_BLOCKS`] after it was broadcast and pays less than
///   the current rate: the child pays what lifts the two together to that rate (CPFP), at most what the
///   reserve holds less dust;
/// - the release confirmed: the child forwards the reserve at the current rate.
///
/// The child is kept and sent again if the chain node loses it, until it confirms.
pub(super) async fn tend_reserve(inner: &Inner, backend: &Backend, trade_id: Uuid) -> Result<()> {
    let Some(row) = load_row(inner, trade_id).await? else {
        return Ok(());
    };
    if row.anchor_done {
        return Ok(());
    }
    let Some(bytes) = &row.broadcast_tx else {
        return Ok(());
    };
    let parent: bitcoin::Transaction =
        bitcoin::consensus::deserialize(bytes).map_err(|e| internal("stored release", e))?;
    let child = match &row.anchor_tx {
        Some(b) => Some(
            bitcoin::consensus::deserialize::<bitcoin::Transaction>(b)
                .map_err(|e| internal("stored child", e))?,
        ),
        None => None,
    };
    let key = my_key(inner, &row, trade_id)?;
    match reserve_step(
        inner,
        backend,
        &row,
        trade_id,
        &key,
        Broadcast {
            tx: &parent,
            since: row.release_height,
            child: child.as_ref(),
        },
    )
    .await?
    {
        ReserveStep::Wait => Ok(()),
        ReserveStep::Done => save_reserve(inner, trade_id, |row| row.anchor_done = true).await,
        ReserveStep::Since(tip) => {
            save_reserve(inner, trade_id, move |row| row.release_height = Some(tip)).await
        }
        ReserveStep::Spent(child, how) => {
            let bytes = bitcoin::consensus::serialize(&child);
            save_reserve(inner, trade_id, move |row| {
                row.anchor_tx = Some(bytes);
                row.anchor_how = Some(how.into());
            })
            .await
        }
    }
}

/// A payout this node broadcast, as [`reserve_step`] tends its fee reserve: the transaction, the tip
/// when it went out, and the reserve's child once made.
struct Broadcast<'a> {
    tx: &'a bitcoin::Transaction,
    since: Option<i64>,
    child: Option<&'a bitcoin::Transaction>,
}

/// What to do next with a fee reserve this node holds in `parent`.
enum ReserveStep {
    /// Nothing now.
    Wait,
    /// Remember the tip: the parent was broadcast before its height was kept.
    Since(i64),
    /// The child spending the reserve was broadcast: `bumped` or `forwarded`.
    Spent(bitcoin::Transaction, &'static str),
    /// The child confirmed.
    Done,
}

/// One look at the fee reserve this node (`key`) holds in `parent`, which it broadcast at height
/// `since`: a kept `child` is watched (sent again if lost) until it confirms; without one, the reserve
/// is spent on to this party's address once the parent confirmed, or at once with the fee that lifts
/// both to the current rate when the parent is still unconfirmed [`BUMP_AFTER_BLOCKS`] on and pays less.
async fn reserve_step(
    inner: &Inner,
    backend: &Backend,
    row: &EscrowRow,
    trade_id: Uuid,
    key: &SecpKeypair,
    payout: Broadcast<'_>,
) -> Result<ReserveStep> {
    let Broadcast {
        tx: parent,
        since,
        child,
    } = payout;
    let Some(reserve) = find_anchor(parent, &key.public_key()) else {
        // A payout from before the reserve, or one too small for it: nothing to tend.
        return Ok(ReserveStep::Wait);
    };
    if let Some(child) = child {
        match backend.confirmations(&child.compute_txid()).await? {
            Some(0) => {}
            Some(_) => return Ok(ReserveStep::Done),
            None => {
                if backend
                    .confirmations(&parent.compute_txid())
                    .await?
                    .is_some()
                {
                    broadcast_again_if_lost(inner, backend, trade_id, child, "fee reserve's child")
                        .await?;
                }
            }
        }
        return Ok(ReserveStep::Wait);
    }
    let confirmed = match backend.confirmations(&parent.compute_txid()).await? {
        None => return Ok(ReserveStep::Wait),
        Some(c) => c > 0,
    };
    let rate = backend.fee_rate().await?;
    let parent_fee = if confirmed {
        Amount::ZERO
    } else {
        match backend.mempool_fee(&parent.compute_txid()).await? {
            Some(fee) => fee,
            None => return Ok(ReserveStep::Wait),
        }
    };
    if !confirmed {
        let tip = i64::try_from(backend.tip_height().await?).unwrap_or(i64::MAX);
        let Some(since) = since else {
            return Ok(ReserveStep::Since(tip));
        };
        let paying =
            bitcoin::FeeRate::from_sat_per_vb(parent_fee.to_sat() / (parent.vsize() as u64).max(1))
                .unwrap_or(bitcoin::FeeRate::ZERO);
        if tip - since < BUMP_AFTER_BLOCKS || paying >= rate {
            return Ok(ReserveStep::Wait);
        }
    }
    let to = row
        .address_of(row.side)
        .ok_or_else(|| internal("escrow", "no payout address"))
        .and_then(|a| {
            parse_payout_address(a, row.chain, row.network).map_err(|e| escrow_refusal(e).into())
        })?;
    let wanted = child_fee(rate, &to, (!confirmed).then_some((parent, parent_fee)))
        .map_err(escrow_refusal)?;
    // The cap: the reserve, less what keeps the payout above dust.
    let cap = reserve.1 - row.chain.dust_limit(&to);
    let fee = wanted.min(cap);
    // The child spends no escrow output: its payout script is watched so the chain backend can follow it.
    backend
        .watch(
            std::slice::from_ref(&to),
            u64::try_from(now_ms() / 1000).unwrap_or(0),
        )
        .await?;
    let child = build_child(row.chain, parent, reserve, key, to, fee).map_err(escrow_refusal)?;
    let txid = backend.broadcast(&child).await?;
    let how = if confirmed { "forwarded" } else { "bumped" };
    tracing::info!(%trade_id, %txid, fee = fee.to_sat(), how, "fee reserve spent");
    Ok(ReserveStep::Spent(child, how))
}

/// The fee reserves of the returns this node broadcast, tended like a release's (see [`reserve_step`]).
pub(super) async fn tend_return_reserves(
    inner: &Inner,
    backend: &Backend,
    row: &EscrowRow,
    trade_id: Uuid,
) -> Result<()> {
    let key = my_key(inner, row, trade_id)?;
    for r in &row.returns {
        let (Some(hex), false) = (&r.tx, r.reserve_done) else {
            continue;
        };
        let parent: bitcoin::Transaction = bitcoin::consensus::encode::deserialize_hex(hex)
            .map_err(|e| internal("stored return", e))?;
        let child = match &r.reserve_tx {
            Some(hex) => Some(
                bitcoin::consensus::encode::deserialize_hex::<bitcoin::Transaction>(hex)
                    .map_err(|e| internal("stored child", e))?,
            ),
            None => None,
        };
        let step = reserve_step(
            inner,
            backend,
            row,
            trade_id,
            &key,
            Broadcast {
                tx: &parent,
                since: r.height,
                child: child.as_ref(),
            },
        )
        .await?;
        let mut next = r.clone();
        match step {
            ReserveStep::Wait => continue,
            ReserveStep::Done => next.reserve_done = true,
            ReserveStep::Since(tip) => next.height = Some(tip),
            ReserveStep::Spent(child, how) => {
                next.reserve_tx = Some(bitcoin::consensus::encode::serialize_hex(&child));
                next.reserve_how = Some(how.into());
            }
        }
        record_return(inner, trade_id, next).await?;
    }
    Ok(())
}

/// Changes the reserve's fields of the trade's row and tells the shells.
async fn save_reserve(
    inner: &Inner,
    trade_id: Uuid,
    change: impl FnOnce(&mut EscrowRow) + Send + 'static,
) -> Result<()> {
    step_locked(inner, trade_id, move |_, tx| {
        Box::pin(async move {
            let Some(mut row) = load(tx, trade_id).await? else {
                return Ok(false);
            };
            change(&mut row);
            save(tx, trade_id, &row).await?;
            Ok(true)
        })
    })
    .await
}
