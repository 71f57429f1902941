//! [`Desk`]: the running trade engine of one node.
//!
//! This root holds the desk's state (`Inner`), its start and shutdown, and the write lock every change
//! of trade state happens under. Children: `config` (how a node trades), `refusals` (what was refused
//! from peers, counted), `take` (taking an offer, and answering a take), `negotiate` (this node's
//! negotiation steps), `chat`, `settling` (the settlement and dispute calls of the shells), `receive`
//! (envelopes from the counterparty) and `tasks` (the request loop and the other background tasks).

mod chat;
mod config;
mod negotiate;
mod receive;
mod refusals;
mod settling;
mod take;
mod tasks;

use std::sync::Arc;

use libp2p::{PeerId, identity::Keypair};
use sqlx::SqlitePool;
use tokio::{
    sync::{Mutex, Notify, broadcast},
    task::JoinHandle,
};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;
use x25519_dalek::StaticSecret;
use zeroize::Zeroizing;

use super::{
    TradeEvent,
    outbox::{self, Outbox, OutboxHandle},
    settle,
    store::{self, ChannelRow},
};
use crate::{book::Book, error::Result, net::NetClient};

pub use config::{Settlement, TradeConfig, payment_window};
pub use refusals::Refusals;
use refusals::Refused;
use tasks::{announce, expire_unanswered_takes, serve};

/// This node's keys, as the desk needs them.
pub(super) struct Me {
    pub keypair: Keypair,
    pub peer: PeerId,
    pub channel_secret: StaticSecret,
    pub storage_key: Zeroizing<[u8; 32]>,
}

pub(super) struct Inner {
    pub pool: SqlitePool,
    book: Book,
    pub net: NetClient,
    pub me: Me,
    pub config: TradeConfig,
    pub events: broadcast::Sender<TradeEvent>,
    /// What was refused from peers, counted.
    pub refused: Refused,
    /// The outbox, a part of its own: told when envelopes were stored or a peer came back.
    pub outbox: OutboxHandle,
    /// Wakes the escrow watcher: a step may have made an escrow ready or due.
    pub watcher: Kick,
    /// Serialises every change of channel state (sequence numbers, receivers, negotiations).
    pub lock: Mutex<()>,
    /// The root of this node's per-trade escrow keys.
    pub escrow_root: bitcoin::bip32::Xpriv,
    pub chain: Option<Arc<crate::chain::Backend>>,
    pub required_confirmations: u32,
    /// Cancelled when the desk shuts down: ends the tasks it spawned along the way.
    pub stop: CancellationToken,
    /// The recovery locators this node announces in the DHT (it holds copies for open trades).
    pub providing: std::sync::Mutex<std::collections::HashSet<[u8; 32]>>,
    /// Wakes the receipts task: a receipt was countersigned or a rating given.
    pub receipts: Kick,
}

/// Wakes one of the desk's background parts that read their work from the database (the escrow
/// watcher, the receipts task): wakes before it runs count as one, and none is lost.
#[derive(Debug, Clone, Default)]
pub(super) struct Kick(Arc<Notify>);

impl Kick {
    pub(super) fn kick(&self) {
        self.0.notify_one();
    }

    pub(super) async fn woken(&self) {
        self.0.notified().await;
    }
}

/// The running trade engine: answers take requests and envelopes, and delivers the outbox.
pub struct Desk {
    pub(super) inner: Arc<Inner>,
    cancel: CancellationToken,
    /// The desk's parts, each a task of its own, by name.
    tasks: Mutex<Vec<(&'static str, JoinHandle<()>)>>,
}

impl std::fmt::Debug for Desk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Desk")
            .field("me", &self.inner.me.peer)
            .finish_non_exhaustive()
    }
}

use super::errors::{peer_fault, refused, sql};

impl Desk {
    /// Starts answering trade requests on `net` and delivering the outbox kept in `pool`; what
    /// happens to trades is sent on `events` (the node's, so subscribers outlive a restart).
    #[allow(clippy::too_many_arguments)]
    pub fn start(
        net: NetClient,
        pool: SqlitePool,
        book: Book,
        keypair: Keypair,
        channel_secret: StaticSecret,
        storage_key: [u8; 32],
        escrow_root: bitcoin::bip32::Xpriv,
        settlement: Option<Settlement>,
        config: TradeConfig,
        events: broadcast::Sender<TradeEvent>,
    ) -> Self {
        let cancel = CancellationToken::new();
        let (outbox, delivering) = Outbox {
            pool: pool.clone(),
            net: net.clone(),
            events: events.clone(),
            max_retry: config.max_retry,
        }
        .start(cancel.clone());
        let reaching = tokio::spawn(outbox::reach_counterparties(
            pool.clone(),
            net.clone(),
            cancel.clone(),
        ));
        let inner = Arc::new(Inner {
            pool,
            book,
            me: Me {
                peer: keypair.public().to_peer_id(),
                keypair,
                channel_secret,
                storage_key: Zeroizing::new(storage_key),
            },
            net,
            config,
            events,
            outbox,
            watcher: Kick::default(),
            lock: Mutex::new(()),
            escrow_root,
            required_confirmations: settlement.as_ref().map_or(1, |s| s.confirmations),
            chain: settlement.map(|s| s.backend),
            stop: cancel.clone(),
            refused: Refused::default(),
            providing: std::sync::Mutex::default(),
            receipts: Kick::default(),
        });
        let mut tasks = vec![
            (
                "requests",
                tokio::spawn(serve(
                    inner.clone(),
                    inner.net.subscribe_events(),
                    cancel.clone(),
                )),
            ),
            ("outbox", delivering),
            ("reach counterparties", reaching),
            (
                "escrow watcher",
                tokio::spawn(settle::watch(inner.clone(), cancel.clone())),
            ),
            (
                "unanswered takes",
                tokio::spawn(expire_unanswered_takes(inner.clone(), cancel.clone())),
            ),
            // Seed-only recovery: copies handed to counterparties, copies looked for.
            (
                "recovery copies",
                tokio::spawn(super::recovery::keep_copies(inner.clone(), cancel.clone())),
            ),
            (
                "recovery",
                tokio::spawn(super::recovery::recover(inner.clone(), cancel.clone())),
            ),
            // Receipts of ended trades, countersigned and published.
            (
                "receipts",
                tokio::spawn(super::receipts::keep_receipts(
                    inner.clone(),
                    cancel.clone(),
                )),
            ),
            // Decisions of this node as an arbitrator that a party has not acknowledged yet.
            (
                "resolutions",
                tokio::spawn(super::arbitrate::resend_resolutions(inner.clone())),
            ),
        ];
        if inner.config.arbitrator {
            tasks.push((
                "arbitrator announcement",
                tokio::spawn(announce(inner.clone(), cancel.clone())),
            ));
        }
        Self {
            inner,
            cancel,
            tasks: Mutex::new(tasks),
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<TradeEvent> {
        self.inner.events.subscribe()
    }

    /// The chain node this desk settles on, when one is configured.
    pub fn chain(&self) -> Option<Arc<crate::chain::Backend>> {
        self.inner.chain.clone()
    }

    /// Stops the desk's tasks. Everything is stored already; nothing is lost.
    pub async fn shutdown(&self) {
        self.cancel.cancel();
        for (part, task) in self.tasks.lock().await.drain(..) {
            if let Err(e) = task.await
                && e.is_panic()
            {
                tracing::error!(
                    part,
                    "a part of the trade desk panicked before the shutdown"
                );
            }
        }
    }
}

/// The desk's lock and a write transaction: every change of trade state happens under both.
pub(super) type Write<'a> = (
    tokio::sync::MutexGuard<'a, ()>,
    sqlx::Transaction<'static, sqlx::Sqlite>,
);

impl Inner {
    /// Takes the desk's lock, then opens an immediate (write) transaction.
    pub(super) async fn write(&self) -> Result<Write<'_>> {
        let guard = self.lock.lock().await;
        let tx = self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(sql)?;
        Ok((guard, tx))
    }

    /// [`Inner::write`] and the trade's channel; an unknown trade is refused with its reason.
    pub(super) async fn write_trade(&self, trade_id: Uuid) -> Result<(Write<'_>, ChannelRow)> {
        let (guard, mut tx) = self.write().await?;
        let channel = store::load_channel(&mut tx, &self.me.storage_key, trade_id)
            .await?
            .ok_or_else(|| store::unknown_trade(trade_id))?;
        Ok(((guard, tx), channel))
    }
}
