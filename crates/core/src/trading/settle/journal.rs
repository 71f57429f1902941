//! The trade's log: steps this node signs and queues for the counterparty, what it observes of chain and
//! clock, the arbitrator's resolution, and the one locked transaction every watcher change runs in.
//! The only writer of `trade_events` in settlement; the rows themselves are `store/journal.rs`'s.

#[cfg(feature = "test-hooks")]
use std::time::Duration;

use libp2p::PeerId;
use sqlx::SqliteConnection;
use uuid::Uuid;

use super::{SettleError, internal, mode_of, side_of, sql};
use crate::{
    error::{Error, Result},
    protocol::settlement::{Actor, StepBody, StepKind, TradeState, TradeStep, next_state},
    store::now_ms,
    trading::{
        TradeEvent,
        desk::Inner,
        store::{self, ChannelRow},
        wire::ChannelMessage,
    },
};

/// Signature domain of what a node records from its own observation (chain, clock).
const OBSERVATION_SIGNING_TAG: &[u8] = b"souk/trade-observation/v1\0";

/// The trade's state after the negotiation.
pub(in crate::trading) async fn current_state(
    conn: &mut SqliteConnection,
    trade_id: Uuid,
) -> std::result::Result<TradeState, SettleError> {
    let state = store::trade_state(conn, trade_id).await?;
    if state.is_before_agreement() {
        return Err(SettleError::Negotiating { trade_id, state });
    }
    Ok(state)
}

/// Appends an event and moves the trade to `state`.
pub(super) async fn record(
    conn: &mut SqliteConnection,
    trade_id: Uuid,
    kind: &str,
    payload: &[u8],
    signer: &PeerId,
    signature: &[u8],
    state: Option<TradeState>,
) -> Result<()> {
    let now = now_ms();
    store::append_event(conn, trade_id, kind, payload, signer, signature, now).await?;
    if let Some(state) = state {
        store::set_trade_state(conn, trade_id, state, now).await?;
    }
    Ok(())
}

/// Records what this node saw itself (chain, clock) as a step signed by this node.
pub(super) async fn observe(
    inner: &Inner,
    conn: &mut SqliteConnection,
    trade_id: Uuid,
    actor: Actor,
    kind: StepKind,
    detail: &str,
) -> Result<TradeState> {
    let state = current_state(conn, trade_id).await?;
    let offer = store::trade_offer(conn, trade_id).await?;
    let next = next_state(state, actor, kind, mode_of(&offer)).map_err(Error::from)?;
    let payload = postcard::to_stdvec(&(trade_id.into_bytes(), kind.as_str(), detail, now_ms()))
        .map_err(|e| internal("encoding an observation", e))?;
    let (_, signature) = crate::signing::sign(OBSERVATION_SIGNING_TAG, &payload, &inner.me.keypair)
        .map_err(|e| internal("signing an observation", e))?;
    record(
        conn,
        trade_id,
        kind.as_str(),
        &payload,
        &inner.me.peer,
        &signature,
        Some(next),
    )
    .await?;
    tracing::info!(%trade_id, %kind, %detail, state = %next, "trade step observed");
    Ok(next)
}

/// Signs `body` as this node's step, records it and queues it for the counterparty.
pub(super) async fn send_step(
    inner: &Inner,
    conn: &mut SqliteConnection,
    channel: &mut ChannelRow,
    body: StepBody,
) -> std::result::Result<Option<TradeState>, SettleError> {
    let trade_id = channel.trade_id;
    let next = match body.kind() {
        Some(kind) => {
            let state = current_state(conn, trade_id).await?;
            let side = side_of(&channel.offer, &inner.me.peer);
            Some(next_state(
                state,
                Actor::from(side),
                kind,
                mode_of(&channel.offer),
            )?)
        }
        None => None,
    };
    let step = TradeStep {
        trade_id,
        sender: inner.me.peer,
        at: now_ms(),
        body: body.clone(),
    };
    let signed = step.sign(&inner.me.keypair)?;
    record(
        conn,
        trade_id,
        body.event_kind(),
        &signed.bytes,
        &inner.me.peer,
        &signed.signature,
        next,
    )
    .await?;
    let bytes = signed.to_bytes()?;
    store::enqueue(
        conn,
        channel,
        &inner.me.keypair,
        &ChannelMessage::TradeStep(bytes).encode(),
        now_ms(),
    )
    .await?;
    // The caller wakes the delivery loop once its transaction is committed.
    Ok(next)
}

/// Test hook: sends `body` as this node's signed step without checking or recording it here, as a lying
/// peer would, and waits for the counterparty's answer: `None` when it took the envelope, else its
/// refusal.
#[cfg(feature = "test-hooks")]
pub(in crate::trading) async fn send_unchecked_step(
    inner: &Inner,
    trade_id: Uuid,
    body: StepBody,
) -> Result<Option<String>> {
    let seq = {
        let (_guard, mut db) = inner.write().await?;
        let mut channel = store::load_channel(&mut db, &inner.me.storage_key, trade_id)
            .await?
            .ok_or_else(|| store::unknown_trade(trade_id))?;
        let step = TradeStep {
            trade_id,
            sender: inner.me.peer,
            at: now_ms(),
            body,
        };
        let signed = step.sign(&inner.me.keypair).map_err(Error::from)?;
        let bytes = signed.to_bytes().map_err(Error::from)?;
        let seq = store::enqueue(
            &mut db,
            &mut channel,
            &inner.me.keypair,
            &ChannelMessage::TradeStep(bytes).encode(),
            now_ms(),
        )
        .await?;
        db.commit().await.map_err(sql)?;
        seq
    };
    inner.outbox.kick();
    loop {
        let (delivered, error) = store::envelope_delivery(&inner.pool, trade_id, seq).await?;
        if delivered.is_some() {
            return Ok(None);
        }
        if let Some(error) = error {
            return Ok(Some(error));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// What the chain showed, in the trade's log beside the steps, without moving the trade: signed like an
/// observation.
pub(super) async fn note(
    inner: &Inner,
    conn: &mut SqliteConnection,
    trade_id: Uuid,
    kind: &'static str,
    detail: &str,
) -> Result<()> {
    let payload = postcard::to_stdvec(&(trade_id.into_bytes(), kind, detail, now_ms()))
        .map_err(|e| internal("encoding an observation", e))?;
    let (_, signature) = crate::signing::sign(OBSERVATION_SIGNING_TAG, &payload, &inner.me.keypair)
        .map_err(|e| internal("signing an observation", e))?;
    record(
        conn,
        trade_id,
        kind,
        &payload,
        &inner.me.peer,
        &signature,
        None,
    )
    .await?;
    tracing::info!(%trade_id, kind, %detail, "chain noted");
    Ok(())
}

/// Runs `f` on the trade under the lock in one transaction, then tells the shells.
pub(super) async fn step_locked<F>(inner: &Inner, trade_id: Uuid, f: F) -> Result<()>
where
    F: for<'c> FnOnce(
        &'c Inner,
        &'c mut SqliteConnection,
    ) -> std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<bool>> + Send + 'c>,
    >,
{
    let (_guard, mut tx) = inner.write().await?;
    if !f(inner, &mut tx).await? {
        return Ok(());
    }
    let info = store::trade_info_on(&mut tx, &inner.me.peer, trade_id).await?;
    tx.commit().await.map_err(sql)?;
    let _ = inner.events.send(TradeEvent::TradeUpdated {
        trade: Box::new(info),
    });
    Ok(())
}

/// Records the arbitrator's signed resolution and moves the trade to Resolved.
pub(in crate::trading) async fn record_resolution(
    conn: &mut SqliteConnection,
    trade_id: Uuid,
    payload: &[u8],
    arbitrator: &PeerId,
    signature: &[u8],
    broadcast: Option<(&bitcoin::Transaction, u64)>,
) -> Result<()> {
    let state = current_state(conn, trade_id).await?;
    let offer = store::trade_offer(conn, trade_id).await?;
    let next = next_state(state, Actor::Arbitrator, StepKind::Resolve, mode_of(&offer))
        .map_err(Error::from)?;
    if let Some((tx, height)) = broadcast {
        store::save_resolution_broadcast(conn, trade_id, tx, height).await?;
    }
    record(
        conn,
        trade_id,
        StepKind::Resolve.as_str(),
        payload,
        arbitrator,
        signature,
        Some(next),
    )
    .await
}
