//! Settlement: from agreed terms to coins where they belong. Escrow keys and addresses are exchanged in
//! the channel, the escrow address is computed by both sides, the chain is watched for the funding, the
//! buyer says it paid, the seller signs the release, the buyer checks it, co-signs and broadcasts, and the
//! chain's confirmations complete the trade. Every step is one transaction: the signed event, the new
//! state and the envelope to send.
//!
//! This root holds what every phase shares (the settlement constants and small helpers) and the entry
//! points: a party's step by hand, a step from the counterparty, and the watcher that runs each open
//! trade's phase. The phases are the children: [`setup`] and [`arbitrators`] (to a ready escrow),
//! [`funding`], [`clock`] (deadlines), [`release`], [`reserve`] (fee bumps), [`resend`] (lost
//! transactions), [`returns`], over [`row`] (the stored escrow), [`outputs`] (the escrow's coins on the
//! chain) and [`journal`] (the trade's log); [`view`] is what the shells show.

mod arbitrators;
mod clock;
mod funding;
mod journal;
mod outputs;
mod release;
mod resend;
mod reserve;
mod returns;
mod row;
mod setup;
mod view;

use std::{str::FromStr, sync::Arc, time::Duration};

use bitcoin::secp256k1::Keypair as SecpKeypair;
use libp2p::PeerId;
use sqlx::SqliteConnection;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

pub(super) use self::{
    arbitrators::{announce_arbitrator, approve_arbitrators},
    journal::{current_state, record_resolution},
    outputs::{escrow_outputs, escrow_utxos, spent_escrow_outputs},
    returns::{record_return, return_outputs},
    row::{EscrowRow, ReturnRecord, load, load_row},
    setup::{after_agreement, set_address},
    view::view,
};
pub use self::{
    row::PendingFunding,
    view::{DecisionView, EscrowView, ReserveView, ReturnView},
};
#[cfg(feature = "test-hooks")]
pub(super) use journal::send_unchecked_step;

use self::{
    clock::{
        check_confirm_deadline, check_payment_deadline, check_release_deadline,
        start_confirm_window,
    },
    funding::{check_funding, check_funding_kept},
    journal::{record, send_step},
    release::{broadcast_release, check_release_confirmed, check_release_seen, prepare_release},
    resend::send_kept_again,
    reserve::tend_reserve,
    returns::return_leftovers,
    row::save,
    setup::make_ready,
};
use super::{
    TradeEvent,
    desk::Inner,
    store::{self, ChannelRow},
};
use crate::{
    chain::Backend,
    error::{Error, Result},
    escrow::{
        Chain, EscrowScript, Party, build_spend, decode_psbt, encode_psbt, parse_payout_address,
        sign_psbt, trade_keypair,
    },
    offer::{Asset, EscrowKind, Offer},
    protocol::roles::TradeRole,
    protocol::settlement::{Actor, Mode, SignedStep, StepBody, StepKind, TradeState, next_state},
    store::now_ms,
};

/// A counterparty's release may pay at most this many times the fee rate the node suggests now.
const MAX_FEE_RATE_FACTOR: u64 = 4;
/// An escrow output worth less than this many times the dust limit counts for nothing: it neither funds
/// the escrow nor is spent (it would cost more fee than it brings), so spam cannot block or shrink a payout.
pub(super) const USEFUL_OUTPUT_DUST_FACTOR: u64 = 10;
/// How long after a trade closed (cancelled, expired, completed) its escrow outputs are still watched, so
/// coins that come late go back to whoever sent them.
pub const LATE_COINS_WATCH: Duration = Duration::from_secs(90 * 24 * 3600);

/// Blocks a release may sit unconfirmed before the buyer's node lifts it with its fee reserve.
pub const BUMP_AFTER_BLOCKS: i64 = 3;

pub(super) use super::errors::{SettleError, internal, peer_fault, sql};

/// The escrow's script, keys or spend do not build from what is stored (see [`SettleError::Escrow`]).
pub(super) fn escrow_refusal(e: impl std::fmt::Display) -> SettleError {
    SettleError::Escrow(e.to_string())
}

/// The counterparty's PSBT does not decode or does not pass the checks: its fault.
pub(super) fn peer_psbt(e: impl std::fmt::Display) -> SettleError {
    SettleError::PeerPsbt(e.to_string())
}

/// The maker of a sell offer sells; the maker of a buy offer buys.
pub(super) fn side_of(offer: &Offer, me: &PeerId) -> Party {
    let role = if offer.maker == *me {
        TradeRole::Maker
    } else {
        TradeRole::Taker
    };
    role.party(offer.side)
}

pub(super) fn mode_of(offer: &Offer) -> Mode {
    match offer.escrow {
        EscrowKind::Multisig { .. } => Mode::Escrow,
        EscrowKind::None => Mode::NoEscrow,
    }
}

fn chain_of(asset: Asset) -> Chain {
    match asset {
        Asset::Btc => Chain::Btc,
        Asset::Ltc => Chain::Ltc,
    }
}

fn no_escrow(trade_id: Uuid) -> SettleError {
    SettleError::NoEscrow(trade_id)
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

pub(super) fn my_key(inner: &Inner, row: &EscrowRow, trade_id: Uuid) -> Result<SecpKeypair> {
    trade_keypair(&inner.escrow_root, row.chain, row.network, &trade_id)
        .map_err(|e| escrow_refusal(e).into())
}

pub(super) fn backend(inner: &Inner) -> std::result::Result<&Arc<Backend>, SettleError> {
    inner.chain.as_ref().ok_or(SettleError::NoChain)
}

/// A party's step: the buyer says it paid; the seller confirms the payment (signing the release).
pub(super) async fn act(
    inner: &Inner,
    trade_id: Uuid,
    what: Act,
) -> std::result::Result<TradeState, SettleError> {
    // The release is built from what the chain shows now, before the trade is locked.
    let utxos_and_rate = match what {
        Act::Received => prepare_release(inner, trade_id).await?,
        _ => None,
    };
    let ((_guard, mut tx), mut channel) = inner.write_trade(trade_id).await?;
    let body = match what {
        Act::Paid => {
            start_confirm_window(inner, &mut tx, trade_id).await?;
            StepBody::PaymentSent
        }
        Act::Cancel(reason) => StepBody::Cancel { reason },
        Act::Dispute(reason) => StepBody::Dispute { reason },
        Act::Received => match utxos_and_rate {
            None => StepBody::PaymentReceived {
                release_psbt: Vec::new(),
            },
            Some((inputs, rate)) => {
                let mut row = load(&mut tx, trade_id)
                    .await?
                    .ok_or_else(|| no_escrow(trade_id))?;
                let escrow = row
                    .keys()?
                    .ok_or_else(|| internal("release", "escrow not ready"))?;
                let plan = row.release_plan(inputs)?;
                let mut psbt = build_spend(&escrow, &plan, rate).map_err(escrow_refusal)?;
                sign_psbt(&mut psbt, &escrow, &my_key(inner, &row, trade_id)?)
                    .map_err(escrow_refusal)?;
                let bytes = encode_psbt(&psbt);
                row.release_psbt = Some(bytes.clone());
                row.release_deadline = Some(now_ms() + millis(inner.config.release_window));
                save(&mut tx, trade_id, &row).await?;
                StepBody::PaymentReceived {
                    release_psbt: bytes,
                }
            }
        },
    };
    let state = send_step(inner, &mut tx, &mut channel, body)
        .await?
        .ok_or_else(|| internal("step", "no transition"))?;
    let info = store::trade_info_on(&mut tx, &inner.me.peer, trade_id).await?;
    tx.commit().await.map_err(sql)?;
    inner.outbox.kick();
    let _ = inner.events.send(TradeEvent::TradeUpdated {
        trade: Box::new(info),
    });
    Ok(state)
}

/// What a party does by hand.
#[derive(Debug, Clone)]
pub(super) enum Act {
    Paid,
    Received,
    Cancel(String),
    Dispute(String),
}

/// A step from the counterparty, inside the receiving transaction.
pub(super) async fn on_step(
    inner: &Inner,
    conn: &mut SqliteConnection,
    channel: &ChannelRow,
    bytes: &[u8],
    events: &mut Vec<TradeEvent>,
) -> Result<()> {
    let (step, signed) = SignedStep::verify(bytes).map_err(peer_fault)?;
    let trade_id = channel.trade_id;
    if step.sender != channel.peer {
        return Err(peer_fault(format!(
            "a trade step signed by {}, not by the counterparty",
            step.sender
        )));
    }
    if step.trade_id != trade_id {
        return Err(peer_fault(format!(
            "a step of trade {} inside trade {trade_id}'s channel",
            step.trade_id
        )));
    }
    let their_side = match side_of(&channel.offer, &inner.me.peer) {
        Party::Buyer => Party::Seller,
        Party::Seller => Party::Buyer,
    };
    let mode = mode_of(&channel.offer);
    let next = match step.body.kind() {
        Some(kind) => {
            let state = current_state(conn, trade_id).await?;
            let next =
                next_state(state, Actor::from(their_side), kind, mode).map_err(Error::from)?;
            // A release counts when the chain shows it (see the watcher), not when the buyer says so.
            (kind != StepKind::Released).then_some(next)
        }
        None => None,
    };
    match &step.body {
        StepBody::EscrowKeys { pubkey, address } => {
            let mut row = load(conn, trade_id)
                .await?
                .ok_or_else(|| no_escrow(trade_id))?;
            if row.peer_pubkey.is_some() {
                return Err(peer_fault("the escrow keys were given already"));
            }
            EscrowScript::parse_key(pubkey).map_err(peer_fault)?;
            parse_payout_address(address, row.chain, row.network).map_err(peer_fault)?;
            row.peer_pubkey = Some(pubkey.clone());
            row.peer_address = Some(address.clone());
            save(conn, trade_id, &row).await?;
        }
        StepBody::PaymentReceived { release_psbt } if mode == Mode::Escrow => {
            let mut row = load(conn, trade_id)
                .await?
                .ok_or_else(|| no_escrow(trade_id))?;
            // Only its form here: no chain call runs while a step is received. The watcher checks it
            // against the chain before this node signs anything (`broadcast_release`); a release that
            // fails the check is never signed, and the release deadline brings in the arbitrator.
            decode_psbt(release_psbt).map_err(peer_fault)?;
            row.release_psbt = Some(release_psbt.clone());
            inner.watcher.kick();
            row.release_deadline = Some(now_ms() + millis(inner.config.release_window));
            save(conn, trade_id, &row).await?;
        }
        StepBody::Released { txid } => {
            let mut row = load(conn, trade_id)
                .await?
                .ok_or_else(|| no_escrow(trade_id))?;
            let claimed = bitcoin::Txid::from_str(txid)
                .map_err(|e| peer_fault(format!("release txid: {e}")))?;
            // The buyer's word is not the chain: the txid must be the release this seller signed, and
            // the trade moves on only once the watcher sees that transaction on the chain.
            let expected = row
                .release_psbt
                .as_deref()
                .map(decode_psbt)
                .transpose()
                .map_err(peer_fault)?
                .map(|p| p.unsigned_tx.compute_txid());
            if expected != Some(claimed) {
                return Err(peer_fault(format!(
                    "the buyer says it broadcast {claimed}, which is not the release this seller signed"
                )));
            }
            row.release_txid = Some(txid.clone());
            save(conn, trade_id, &row).await?;
        }
        StepBody::Return { psbt } => {
            let mut row = load(conn, trade_id)
                .await?
                .ok_or_else(|| no_escrow(trade_id))?;
            decode_psbt(psbt).map_err(peer_fault)?;
            // Checked against the chain, co-signed and broadcast by the watcher, outside this transaction.
            row.incoming_return = Some(psbt.clone());
            save(conn, trade_id, &row).await?;
            inner.watcher.kick();
        }
        StepBody::PaymentSent if mode == Mode::Escrow => {
            start_confirm_window(inner, conn, trade_id).await?;
        }
        StepBody::PaymentSent
        | StepBody::PaymentReceived { .. }
        | StepBody::Cancel { .. }
        | StepBody::Dispute { .. } => {}
    }
    record(
        conn,
        trade_id,
        step.body.event_kind(),
        &signed.bytes,
        &step.sender,
        &signed.signature,
        next,
    )
    .await?;
    let info = store::trade_info_on(conn, &inner.me.peer, trade_id).await?;
    events.push(TradeEvent::TradeUpdated {
        trade: Box::new(info),
    });
    Ok(())
}

/// Watches the chain and the clock for every open escrow trade until cancelled.
pub(super) async fn watch(inner: Arc<Inner>, cancel: CancellationToken) {
    loop {
        if let Err(e) = watch_once(&inner).await {
            tracing::warn!(error = %e, "watching the escrows failed");
        }
        tokio::select! {
            biased;
            () = cancel.cancelled() => break,
            () = inner.watcher.woken() => {}
            () = tokio::time::sleep(inner.config.watch_every) => {}
        }
    }
}

async fn open_escrows(inner: &Inner) -> Result<Vec<(Uuid, TradeState)>> {
    // Open trades with an escrow, and closed ones whose escrow may still see late coins for a while.
    store::watched_escrows(&inner.pool, now_ms() - millis(LATE_COINS_WATCH)).await
}

async fn watch_once(inner: &Inner) -> Result<()> {
    let Some(backend) = inner.chain.clone() else {
        return Ok(());
    };
    for (trade_id, state) in open_escrows(inner).await? {
        let result = match state {
            TradeState::Accepted => make_ready(inner, trade_id).await,
            TradeState::EscrowFunding => check_funding(inner, &backend, trade_id).await,
            TradeState::EscrowFunded => {
                let kept = check_funding_kept(inner, &backend, trade_id).await;
                check_payment_deadline(inner, trade_id).await.and(kept)
            }
            TradeState::PaymentSent => check_confirm_deadline(inner, trade_id).await,
            TradeState::PaymentConfirmed => {
                let broadcast = broadcast_release(inner, &backend, trade_id).await;
                let seen = check_release_seen(inner, &backend, trade_id).await;
                check_release_deadline(inner, trade_id)
                    .await
                    .and(broadcast)
                    .and(seen)
            }
            TradeState::Released => {
                let again = send_kept_again(&backend, trade_id, inner).await;
                let reserve = tend_reserve(inner, &backend, trade_id).await;
                check_release_confirmed(inner, &backend, trade_id)
                    .await
                    .and(again)
                    .and(reserve)
            }
            TradeState::Completed => {
                let reserve = tend_reserve(inner, &backend, trade_id).await;
                return_leftovers(inner, &backend, trade_id, false)
                    .await
                    .and(reserve)
            }
            TradeState::Disputed => super::arbitrate::send_case(inner, trade_id).await,
            // An escrow is made only once the terms are agreed.
            TradeState::Requested | TradeState::Countered | TradeState::Rejected => Ok(()),
            TradeState::Cancelled | TradeState::Expired => {
                return_leftovers(inner, &backend, trade_id, false).await
            }
            TradeState::Resolved => {
                let again = send_kept_again(&backend, trade_id, inner).await;
                let reserve = tend_reserve(inner, &backend, trade_id).await;
                return_leftovers(inner, &backend, trade_id, true)
                    .await
                    .and(again)
                    .and(reserve)
            }
        };
        if let Err(e) = result {
            tracing::warn!(%trade_id, %state, error = %e, "escrow step not taken yet");
        }
    }
    Ok(())
}
