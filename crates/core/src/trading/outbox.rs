//! Delivery of the outbox: each trade's envelopes in sequence order, one request each, until the
//! counterparty's cumulative acknowledgement covers them. Unreachable peers are retried with backoff,
//! looked up in the DHT again, and retried at once when they connect. The outbox's rows are
//! `store::outbox`'s; this module only decides what to send when.

use std::{sync::Arc, time::Duration};

use futures::future::join_all;
use libp2p::PeerId;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::{
    TradeEvent,
    desk::Inner,
    store::{self, seq_i64},
};
use crate::{
    error::Result,
    protocol::{DirectRequest, EnvelopeAnswer},
    store::now_ms,
};

/// The first retry waits this long; each further one twice as long, up to `TradeConfig::max_retry`.
const FIRST_RETRY: Duration = Duration::from_millis(500);
/// The loop looks at the outbox at least this often.
const IDLE_CHECK: Duration = Duration::from_secs(60);
/// How many trades are delivered to at once.
const PARALLEL_TRADES: usize = 16;

use super::errors::sql;

/// The delivery loop: runs until cancelled.
pub(super) async fn deliver(inner: Arc<Inner>, cancel: CancellationToken) {
    loop {
        let wait = match deliver_due(&inner).await {
            Ok(wait) => wait,
            Err(e) => {
                tracing::warn!(error = %e, "delivering the outbox failed");
                Duration::from_secs(1)
            }
        };
        tokio::select! {
            biased;
            () = cancel.cancelled() => break,
            () = inner.wake.notified() => {}
            () = tokio::time::sleep(wait) => {}
        }
    }
}

/// Delivers every trade with a due envelope; returns how long until the next one is due.
async fn deliver_due(inner: &Arc<Inner>) -> Result<Duration> {
    let now = now_ms();
    let due = store::outbox::due_trades(&inner.pool, now, PARALLEL_TRADES as i64).await?;
    let runs = due
        .into_iter()
        .map(|(trade, peer)| deliver_trade(inner, trade, peer));
    for result in join_all(runs).await {
        if let Err(e) = result {
            tracing::warn!(error = %e, "delivering a trade's envelopes failed");
        }
    }
    let next = store::outbox::next_due(&inner.pool).await?;
    Ok(match next {
        Some(at) => {
            Duration::from_millis(u64::try_from(at - now_ms()).unwrap_or(0)).min(IDLE_CHECK)
        }
        None => IDLE_CHECK,
    })
}

/// Sends one trade's undelivered envelopes in order until one fails or all are acknowledged.
async fn deliver_trade(inner: &Inner, trade_id: Uuid, peer: PeerId) -> Result<()> {
    // Each envelope goes out at most once per run: a peer that keeps asking for the same one again
    // waits for the next retry instead of spinning this loop.
    let mut sent = std::collections::HashSet::new();
    loop {
        let row = store::outbox::next_envelope(&inner.pool, trade_id).await?;
        let Some((seq, envelope, attempts)) = row else {
            return Ok(());
        };
        if !sent.insert(seq) {
            return postpone(
                inner,
                trade_id,
                seq,
                attempts,
                "the peer asked for it again",
            )
            .await;
        }
        if attempts > 0 {
            // It failed before: the peer may have moved. Ask the DHT where it is now.
            let _ = inner.net.find_peer(peer).await;
        }
        let answer = inner
            .net
            .request(peer, DirectRequest::Envelope(envelope).encode())
            .await;
        let answer = match answer {
            Ok(bytes) => EnvelopeAnswer::decode(&bytes).map_err(|e| format!("bad answer: {e}")),
            Err(e) => Err(e.to_string()),
        };
        match answer {
            Ok(EnvelopeAnswer::Ack { next } | EnvelopeAnswer::Dropped { next, .. }) => {
                acknowledge(inner, trade_id, next).await?;
                let next = seq_i64(next)?;
                if next <= seq {
                    tracing::debug!(%trade_id, seq, next, "the peer asks to re-send from {next}");
                }
            }
            Ok(EnvelopeAnswer::Refused(reason)) => {
                tracing::warn!(%trade_id, seq, %peer, %reason, "the peer refused an envelope");
                return postpone(inner, trade_id, seq, attempts, &reason).await;
            }
            Err(reason) => {
                tracing::debug!(%trade_id, seq, %peer, %reason, "envelope not delivered yet");
                return postpone(inner, trade_id, seq, attempts, &reason).await;
            }
        }
    }
}

/// Everything below `next` arrived. Anything at or above it that was marked delivered did not stay
/// delivered (the peer lost it): it is sent again.
async fn acknowledge(inner: &Inner, trade_id: Uuid, next: u64) -> Result<()> {
    let next_i = seq_i64(next)?;
    let now = now_ms();
    let mut tx = inner.pool.begin().await.map_err(sql)?;
    let newly = store::outbox::acknowledge(&mut tx, trade_id, next_i, now).await?;
    tx.commit().await.map_err(sql)?;
    if newly > 0 && next > 0 {
        let _ = inner.events.send(TradeEvent::Delivered {
            trade_id,
            up_to: next - 1,
        });
    }
    Ok(())
}

async fn postpone(
    inner: &Inner,
    trade_id: Uuid,
    seq: i64,
    attempts: i64,
    reason: &str,
) -> Result<()> {
    let attempts = attempts.saturating_add(1);
    let exponent = u32::try_from(attempts.min(20)).unwrap_or(20);
    let wait = FIRST_RETRY
        .saturating_mul(2u32.saturating_pow(exponent - 1))
        .min(inner.config.max_retry);
    let next_attempt = now_ms() + i64::try_from(wait.as_millis()).unwrap_or(i64::MAX);
    store::outbox::postpone(&inner.pool, trade_id, seq, attempts, next_attempt, reason).await
}

/// A peer connected: whatever waits for it is due now.
pub(super) async fn retry_now(inner: &Inner, peer: &PeerId) -> Result<()> {
    let changed = store::outbox::due_now(&inner.pool, peer, now_ms()).await?;
    if changed > 0 {
        inner.wake.notify_one();
    }
    Ok(())
}

/// After a start: looks up the counterparties of open trades and of waiting envelopes, so both sides
/// reconnect (and deliver) without waiting for the next retry.
pub(super) async fn reach_counterparties(inner: Arc<Inner>, cancel: CancellationToken) {
    let peers = match store::peers_to_reach(&inner.pool).await {
        Ok(peers) => peers,
        Err(e) => {
            tracing::warn!(error = %e, "could not list the counterparties to reach");
            return;
        }
    };
    let lookups = peers.into_iter().map(|peer| {
        let net = inner.net.clone();
        async move { (peer, net.find_peer(peer).await) }
    });
    tokio::select! {
        () = cancel.cancelled() => {}
        found = join_all(lookups) => {
            for (peer, found) in found {
                tracing::debug!(%peer, ?found, "looked up a counterparty");
            }
        }
    }
}
