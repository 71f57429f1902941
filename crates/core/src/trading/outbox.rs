//! Delivery of the outbox: each trade's envelopes in sequence order, one request each, until the
//! counterparty's cumulative acknowledgement covers them. Unreachable peers are retried with backoff,
//! looked up in the DHT again, and retried at once when they connect. The outbox's rows are
//! `store::outbox`'s; this module only decides what to send when.
//!
//! The outbox is a part of the desk of its own: an [`Outbox`] holds only what delivery needs (the
//! database, the network client, the event channel, the retry cap), runs as one task, and the rest of
//! the desk reaches it only through its [`OutboxHandle`] — "something was stored" and "this peer is
//! back" — never through the desk's shared state.

use std::time::Duration;

use futures::future::join_all;
use libp2p::PeerId;
use sqlx::SqlitePool;
use tokio::{
    sync::{broadcast, mpsc},
    task::JoinHandle,
};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::{
    TradeEvent,
    errors::sql,
    store::{self, seq_i64},
};
use crate::{
    error::Result,
    net::NetClient,
    protocol::{DirectRequest, EnvelopeAnswer},
    store::now_ms,
};

/// The first retry waits this long; each further one twice as long, up to `TradeConfig::max_retry`.
const FIRST_RETRY: Duration = Duration::from_millis(500);
/// The loop looks at the outbox at least this often.
const IDLE_CHECK: Duration = Duration::from_secs(60);
/// How many trades are delivered to at once.
const PARALLEL_TRADES: usize = 16;
/// Mail the outbox holds before more is dropped (it reads its work from the database, so a dropped
/// "stored" is never lost, and a dropped "peer back" waits for the next retry).
const MAILBOX: usize = 1_024;

/// What delivery needs, and nothing else of the desk.
pub(super) struct Outbox {
    pub pool: SqlitePool,
    pub net: NetClient,
    pub events: broadcast::Sender<TradeEvent>,
    /// The longest wait between two attempts (`TradeConfig::max_retry`).
    pub max_retry: Duration,
}

/// What the rest of the desk tells the outbox.
#[derive(Debug)]
enum Mail {
    /// Envelopes were stored (their transaction committed): deliver them.
    Stored,
    /// A peer connected: what waits for it is due now.
    PeerBack(PeerId),
}

/// The way to the outbox: the desk's parts hold this, never the outbox itself.
#[derive(Debug, Clone)]
pub(super) struct OutboxHandle {
    mail: mpsc::Sender<Mail>,
}

impl OutboxHandle {
    /// Envelopes were stored and committed: the outbox delivers them now.
    pub(super) fn kick(&self) {
        // A full mailbox means the outbox has mail to read and will look at the database anyway.
        let _ = self.mail.try_send(Mail::Stored);
    }

    /// `peer` connected: what waits for it is delivered now instead of at its next retry.
    pub(super) fn peer_back(&self, peer: PeerId) {
        if self.mail.try_send(Mail::PeerBack(peer)).is_err() {
            tracing::debug!(%peer, "the outbox's mailbox is full: the peer waits for its next retry");
        }
    }
}

impl Outbox {
    /// Starts delivering: the handle for the desk and the task (which ends when `cancel` fires).
    pub(super) fn start(self, cancel: CancellationToken) -> (OutboxHandle, JoinHandle<()>) {
        let (mail, mailbox) = mpsc::channel(MAILBOX);
        let task = tokio::spawn(self.deliver(mailbox, cancel));
        (OutboxHandle { mail }, task)
    }

    /// The delivery loop: runs until cancelled (or every handle is gone).
    async fn deliver(self, mut mailbox: mpsc::Receiver<Mail>, cancel: CancellationToken) {
        loop {
            // A round can wait on a request to a peer that is gone (dialing, a DHT lookup): the stop
            // does not wait for it. What it did not finish stays in the outbox for the next start.
            let round = tokio::select! {
                biased;
                () = cancel.cancelled() => break,
                round = self.deliver_due() => round,
            };
            let wait = match round {
                Ok(wait) => wait,
                Err(e) => {
                    tracing::warn!(error = %e, "delivering the outbox failed");
                    Duration::from_secs(1)
                }
            };
            let first = tokio::select! {
                biased;
                () = cancel.cancelled() => break,
                mail = mailbox.recv() => match mail {
                    Some(mail) => Some(mail),
                    None => break,
                },
                () = tokio::time::sleep(wait) => None,
            };
            // Everything that came meanwhile is read at once: one look at the database serves it all.
            let mut mails: Vec<Mail> = first.into_iter().collect();
            while let Ok(mail) = mailbox.try_recv() {
                mails.push(mail);
            }
            for mail in mails {
                if let Mail::PeerBack(peer) = mail
                    && let Err(e) = self.retry_now(&peer).await
                {
                    tracing::warn!(%peer, error = %e, "could not retry a peer's envelopes");
                }
            }
        }
    }

    /// Delivers every trade with a due envelope; returns how long until the next one is due.
    async fn deliver_due(&self) -> Result<Duration> {
        let inner = self;
        let now = now_ms();
        let due = store::outbox::due_trades(&inner.pool, now, PARALLEL_TRADES as i64).await?;
        let runs = due
            .into_iter()
            .map(|(trade, peer)| inner.deliver_trade(trade, peer));
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
    async fn deliver_trade(&self, trade_id: Uuid, peer: PeerId) -> Result<()> {
        let inner = self;
        // Each envelope goes out at most once per run: a peer that keeps asking for the same one again
        // waits for the next retry instead of spinning this loop.
        let mut sent = std::collections::HashSet::new();
        loop {
            let row = store::outbox::next_envelope(&inner.pool, trade_id).await?;
            let Some((seq, envelope, attempts)) = row else {
                return Ok(());
            };
            if !sent.insert(seq) {
                return inner
                    .postpone(trade_id, seq, attempts, "the peer asked for it again")
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
                    inner.acknowledge(trade_id, next).await?;
                    let next = seq_i64(next)?;
                    if next <= seq {
                        tracing::debug!(%trade_id, seq, next, "the peer asks to re-send from {next}");
                    }
                }
                Ok(EnvelopeAnswer::Refused(reason)) => {
                    tracing::warn!(%trade_id, seq, %peer, %reason, "the peer refused an envelope");
                    return inner.postpone(trade_id, seq, attempts, &reason).await;
                }
                Err(reason) => {
                    tracing::debug!(%trade_id, seq, %peer, %reason, "envelope not delivered yet");
                    return inner.postpone(trade_id, seq, attempts, &reason).await;
                }
            }
        }
    }

    /// Everything below `next` arrived. Anything at or above it that was marked delivered did not stay
    /// delivered (the peer lost it): it is sent again.
    async fn acknowledge(&self, trade_id: Uuid, next: u64) -> Result<()> {
        let inner = self;
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

    async fn postpone(&self, trade_id: Uuid, seq: i64, attempts: i64, reason: &str) -> Result<()> {
        let attempts = attempts.saturating_add(1);
        let exponent = u32::try_from(attempts.min(20)).unwrap_or(20);
        let wait = FIRST_RETRY
            .saturating_mul(2u32.saturating_pow(exponent - 1))
            .min(self.max_retry);
        let next_attempt = now_ms() + i64::try_from(wait.as_millis()).unwrap_or(i64::MAX);
        store::outbox::postpone(&self.pool, trade_id, seq, attempts, next_attempt, reason).await
    }

    /// A peer connected: whatever waits for it is due now (the loop delivers it next).
    async fn retry_now(&self, peer: &PeerId) -> Result<()> {
        store::outbox::due_now(&self.pool, peer, now_ms()).await?;
        Ok(())
    }
}

/// After a start: looks up the counterparties of open trades and of waiting envelopes, so both sides
/// reconnect (and deliver) without waiting for the next retry.
pub(super) async fn reach_counterparties(
    pool: SqlitePool,
    net: NetClient,
    cancel: CancellationToken,
) {
    let peers = match store::peers_to_reach(&pool).await {
        Ok(peers) => peers,
        Err(e) => {
            tracing::warn!(error = %e, "could not list the counterparties to reach");
            return;
        }
    };
    let lookups = peers.into_iter().map(|peer| {
        let net = net.clone();
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
