//! [`Desk`]: the running trade engine of one node.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

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
    ChatMessage, TradeAnswer, TradeEvent, TradeInfo, outbox, settle,
    store::{self, ChannelRow},
    wire::{ChannelMessage, check_chat_text},
};
use crate::{
    book::Book,
    channel::{self, ChannelError, SignedEnvelope},
    error::{Error, Result},
    negotiation::{
        self, MessageBody, Negotiation, NegotiationMessage, SignedNegotiationMessage,
        VerifiedNegotiationMessage,
    },
    net::{NetClient, NetEvent},
    offer::PaymentMethod,
    protocol::{DirectRequest, EnvelopeAnswer, TakeAnswer},
    store::{StoreError, now_ms},
};

/// How a node trades.
#[derive(Debug, Clone)]
pub struct TradeConfig {
    /// Open takes (negotiating or trading) one offer of this node may have at once.
    pub max_open_takes: u32,
    /// The longest wait between two delivery attempts of an envelope.
    pub max_retry: Duration,
    /// Announce this node as an arbitrator (needs a chain backend).
    pub arbitrator: bool,
    /// How long the parties have to fund an escrow once its address is agreed.
    pub funding_window: Duration,
    /// How long the buyer has to pay once the escrow is funded; `None`: by payment method
    /// ([`payment_window`]).
    pub payment_window: Option<Duration>,
    /// How long the release may take to reach the chain once the seller confirmed the payment.
    pub release_window: Duration,
    /// How often the chain is looked at for open escrows (also on every trade step).
    pub watch_every: Duration,
    /// The arbitrators this node accepts on offers it takes; empty: any announced arbitrator that is
    /// neither party and not in `exclude_arbitrators`.
    pub arbitrators: Vec<libp2p::PeerId>,
    pub exclude_arbitrators: Vec<libp2p::PeerId>,
    /// How long a take of one of this node's offers waits for the maker's answer: once it has waited
    /// that long, this node rejects it (saying so), and the offer's place is free again. A take from
    /// an identity that then goes away blocks an offer for no longer than this.
    pub answer_window: Duration,
    /// Takes one peer may make of this node's offers in an hour; more are refused.
    pub max_takes_per_peer_per_hour: u32,
    /// Chat messages one side may send in one trade within a minute (by the sender's clock); this
    /// node sends no more and keeps no more of its counterparty's.
    pub max_chat_per_minute: u32,
    /// How long a party waits, once its dispute case reached the arbitrator, before it sends it again
    /// (until a decision comes): an arbitrator that lost its database gets the case back.
    pub case_resend: Duration,
}

impl Default for TradeConfig {
    fn default() -> Self {
        Self {
            max_open_takes: 1,
            max_retry: Duration::from_secs(30),
            arbitrator: false,
            funding_window: Duration::from_secs(24 * 3600),
            payment_window: None,
            release_window: Duration::from_secs(24 * 3600),
            watch_every: Duration::from_secs(10),
            arbitrators: Vec::new(),
            exclude_arbitrators: Vec::new(),
            answer_window: Duration::from_secs(30 * 60),
            max_takes_per_peer_per_hour: 10,
            max_chat_per_minute: 30,
            case_resend: Duration::from_secs(6 * 3600),
        }
    }
}

/// How long a buyer has to pay by `method` once the escrow is funded: slow bank transfers get days,
/// instant methods a day, anything unknown two days.
pub fn payment_window(method: &crate::offer::PaymentMethod) -> Duration {
    const DAY: u64 = 24 * 3600;
    let days = match method.as_str() {
        "SEPA" | "ACH" | "SWIFT" | "BANK_TRANSFER" => 6,
        "ZELLE" | "INTERAC" => 4,
        "SEPA_INSTANT" | "FASTER_PAYMENTS" | "REVOLUT" | "WISE" | "PIX" | "UPI" | "CASH"
        | "CASH_BY_MAIL" | "PAYPAL" => 1,
        _ => 2,
    };
    Duration::from_secs(days * DAY)
}

/// The chain a desk settles escrows on.
#[derive(Debug, Clone)]
pub struct Settlement {
    pub backend: Arc<crate::chain::Backend>,
    /// Confirmations before a funding or a release counts.
    pub confirmations: u32,
}

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
    /// Wakes the delivery loop: something was put in the outbox, or a peer came back.
    pub wake: Notify,
    /// Wakes the escrow watcher: a step may have made an escrow ready or due.
    pub watch: Notify,
    /// Serialises every change of channel state (sequence numbers, receivers, negotiations).
    pub lock: Mutex<()>,
    /// The root of this node's per-trade escrow keys.
    pub escrow_root: bitcoin::bip32::Xpriv,
    pub chain: Option<Arc<crate::chain::Backend>>,
    pub required_confirmations: u32,
    /// Cancelled when the desk shuts down: ends the tasks it spawned along the way.
    pub stop: CancellationToken,
}

/// The running trade engine: answers take requests and envelopes, and delivers the outbox.
pub struct Desk {
    pub(super) inner: Arc<Inner>,
    cancel: CancellationToken,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl std::fmt::Debug for Desk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Desk")
            .field("me", &self.inner.me.peer)
            .finish_non_exhaustive()
    }
}

fn sql(e: sqlx::Error) -> Error {
    Error::Store(StoreError::Sql(e))
}

fn refused(e: impl std::fmt::Display) -> Error {
    Error::InvalidInput(e.to_string())
}

/// What the desk refused from peers since it started, counted (shown on the Network screen).
#[derive(Debug, Default)]
pub(super) struct Refused {
    pub takes: AtomicU64,
    pub envelopes: AtomicU64,
    pub chat_messages: AtomicU64,
    pub takes_expired: AtomicU64,
}

/// What this node refused from peers since it started.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, ts_rs::TS,
)]
pub struct Refusals {
    /// Takes of this node's offers refused (bad, over a limit, of a withdrawn offer, …).
    #[ts(type = "number")]
    pub takes: u64,
    /// Trade envelopes refused (forged, tampered, out of place).
    #[ts(type = "number")]
    pub envelopes: u64,
    /// Chat messages dropped: past a trade's rate or total, or after its chat closed.
    #[ts(type = "number")]
    pub chat_messages: u64,
    /// Takes this node rejected because nobody answered them in time.
    #[ts(type = "number")]
    pub takes_expired: u64,
    /// Peers whose gossip is ignored now (they sent too much the book refused).
    pub peers_ignored: u32,
}

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
            wake: Notify::new(),
            watch: Notify::new(),
            lock: Mutex::new(()),
            escrow_root,
            required_confirmations: settlement.as_ref().map_or(1, |s| s.confirmations),
            chain: settlement.map(|s| s.backend),
            stop: cancel.clone(),
            refused: Refused::default(),
        });
        let tasks = vec![
            tokio::spawn(serve(
                inner.clone(),
                inner.net.subscribe_events(),
                cancel.clone(),
            )),
            tokio::spawn(outbox::deliver(inner.clone(), cancel.clone())),
            tokio::spawn(outbox::reach_counterparties(inner.clone(), cancel.clone())),
            tokio::spawn(settle::watch(inner.clone(), cancel.clone())),
            tokio::spawn(expire_unanswered_takes(inner.clone(), cancel.clone())),
            // Decisions of this node as an arbitrator that a party has not acknowledged yet.
            tokio::spawn(super::arbitrate::resend_resolutions(inner.clone())),
        ];
        let mut tasks = tasks;
        if inner.config.arbitrator {
            tasks.push(tokio::spawn(announce(inner.clone(), cancel.clone())));
        }
        Self {
            inner,
            cancel,
            tasks: Mutex::new(tasks),
        }
    }

    /// What this desk refused from peers since it started (`peers_ignored` is the network's to fill).
    pub fn refusals(&self) -> Refusals {
        let r = &self.inner.refused;
        Refusals {
            takes: r.takes.load(Ordering::Relaxed),
            envelopes: r.envelopes.load(Ordering::Relaxed),
            chat_messages: r.chat_messages.load(Ordering::Relaxed),
            takes_expired: r.takes_expired.load(Ordering::Relaxed),
            peers_ignored: 0,
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<TradeEvent> {
        self.inner.events.subscribe()
    }

    /// The chain node this desk settles on, when one is configured.
    pub fn chain(&self) -> Option<Arc<crate::chain::Backend>> {
        self.inner.chain.clone()
    }

    /// Takes `offer_id` from the book: asks its maker (who must be reachable now) and opens the trade's
    /// channel. Checks everything the maker would check first, so a bad take fails here with its reason.
    pub async fn take(
        &self,
        offer_id: Uuid,
        amount: u64,
        method: PaymentMethod,
        payout: String,
    ) -> Result<TradeInfo> {
        let inner = &self.inner;
        let (offer, state) = inner.book.get(offer_id).await?.ok_or_else(|| {
            Error::InvalidInput(format!(
                "no offer {offer_id} in the book: it may be gone; refresh the market"
            ))
        })?;
        if offer.maker == inner.me.peer {
            return Err(Error::InvalidInput(
                "this is your own offer: it cannot be taken by you".into(),
            ));
        }
        settle::approve_arbitrators(inner, &offer).await?;
        let trade_id = Uuid::now_v7();
        let request = NegotiationMessage {
            trade_id,
            offer_id,
            sender: inner.me.peer,
            step: 0,
            body: MessageBody::TakeRequest {
                amount,
                method,
                payout,
            },
        };
        let signed = sign(&request, &inner.me.keypair)?;
        let negotiation = Negotiation::start(&offer, state, now_ms(), signed.clone())
            .map_err(|e| Error::InvalidInput(format!("cannot take this offer: {e}")))?;
        let (sealed, handshake) = channel::seal_take(
            offer.maker,
            &offer.maker_x25519,
            offer_id,
            trade_id,
            &signed.to_bytes(),
            &inner.me.keypair,
        )?;
        let _ = inner.net.find_peer(offer.maker).await;
        let answer = inner
            .net
            .request(
                offer.maker,
                DirectRequest::Take(sealed.to_bytes()?).encode(),
            )
            .await
            .map_err(|e| {
                Error::InvalidInput(format!(
                    "the maker {} is not reachable now, so the offer cannot be taken: {e}",
                    offer.maker
                ))
            })?;
        let accept = match TakeAnswer::decode(&answer).map_err(|e| {
            Error::InvalidInput(format!("the maker answered nonsense to the take: {e}"))
        })? {
            TakeAnswer::Accepted(accept) => accept,
            TakeAnswer::Refused(reason) => {
                return Err(Error::InvalidInput(format!(
                    "the maker refused the take: {reason}"
                )));
            }
        };
        let trade_channel = handshake.finish(&accept)?;
        let (_guard, mut tx) = inner.write().await?;
        negotiation::record_negotiation(&mut tx, &negotiation, &inner.me.peer, None, now_ms())
            .await
            .map_err(Error::from)?;
        store::insert_channel(&mut tx, &inner.me.storage_key, &trade_channel, &offer).await?;
        let info = store::trade_info_on(&mut tx, &inner.me.peer, trade_id).await?;
        tx.commit().await.map_err(sql)?;
        tracing::info!(%trade_id, %offer_id, maker = %offer.maker, "offer taken");
        let _ = inner.events.send(TradeEvent::TradeUpdated {
            trade: Box::new(info.clone()),
        });
        Ok(info)
    }

    /// Answers the other side's last step: accept, reject, or (maker only) counter.
    pub async fn answer(&self, trade_id: Uuid, answer: TradeAnswer) -> Result<TradeInfo> {
        let body = match answer {
            TradeAnswer::Accept => MessageBody::Accept,
            TradeAnswer::Reject { reason } => MessageBody::Reject { reason },
            TradeAnswer::Counter { amount, price } => MessageBody::Counter { amount, price },
        };
        answer_step(&self.inner, trade_id, body).await
    }

    /// Stores a chat message and queues it for the counterparty.
    pub async fn send_chat(&self, trade_id: Uuid, text: String) -> Result<ChatMessage> {
        check_chat_text(&text).map_err(Error::InvalidInput)?;
        let inner = &self.inner;
        let ((_guard, mut tx), mut channel) = inner.write_trade(trade_id).await?;
        let now = now_ms();
        let sent_at = now.max(store::last_outgoing_sent_at(&mut tx, trade_id).await?);
        if let Some(why) = store::chat_refusal(
            &mut tx,
            trade_id,
            true,
            sent_at,
            inner.config.max_chat_per_minute,
        )
        .await?
        {
            return Err(Error::InvalidInput(why));
        }
        let plaintext = ChannelMessage::Chat {
            text: text.clone(),
            sent_at,
        }
        .encode();
        let seq = store::enqueue(&mut tx, &mut channel, &inner.me.keypair, &plaintext, now).await?;
        let message = ChatMessage {
            id: Uuid::now_v7(),
            trade_id,
            outgoing: true,
            seq,
            sender: inner.me.peer.to_base58(),
            body: text,
            sent_at,
            delivered_at: None,
            read_at: None,
        };
        store::insert_message(&mut tx, &message).await?;
        tx.commit().await.map_err(sql)?;
        inner.wake.notify_one();
        let _ = inner.events.send(TradeEvent::Message {
            message: message.clone(),
        });
        Ok(message)
    }

    /// Marks the counterparty's messages read and tells it so. Returns how many were unread.
    pub async fn mark_read(&self, trade_id: Uuid) -> Result<u32> {
        let inner = &self.inner;
        let ((_guard, mut tx), mut channel) = inner.write_trade(trade_id).await?;
        let (count, up_to): (i64, Option<i64>) = sqlx::query_as(
            "SELECT COUNT(*), MAX(seq) FROM messages WHERE trade_id = ? AND outgoing = 0 \
             AND read_at IS NULL",
        )
        .bind(trade_id.to_string())
        .fetch_one(&mut *tx)
        .await
        .map_err(sql)?;
        let Some(up_to) = up_to else {
            return Ok(0);
        };
        let now = now_ms();
        sqlx::query(
            "UPDATE messages SET read_at = ? WHERE trade_id = ? AND outgoing = 0 AND read_at IS NULL",
        )
        .bind(now)
        .bind(trade_id.to_string())
        .execute(&mut *tx)
        .await
        .map_err(sql)?;
        let up_to = u64::try_from(up_to).map_err(|e| Error::Internal(e.to_string()))?;
        let plaintext = ChannelMessage::Read { up_to }.encode();
        store::enqueue(&mut tx, &mut channel, &inner.me.keypair, &plaintext, now).await?;
        let info = store::trade_info_on(&mut tx, &inner.me.peer, trade_id).await?;
        tx.commit().await.map_err(sql)?;
        inner.wake.notify_one();
        // Its unread count changed: shells that show one (the tray) follow the events.
        let _ = inner.events.send(TradeEvent::TradeUpdated {
            trade: Box::new(info),
        });
        Ok(u32::try_from(count).unwrap_or(u32::MAX))
    }

    /// The address where this party's coins go (buyer: payout; seller: refund); sends the escrow keys.
    pub async fn set_escrow_address(&self, trade_id: Uuid, address: &str) -> Result<TradeInfo> {
        settle::set_address(&self.inner, trade_id, address).await?;
        store::trade_info(&self.inner.pool, &self.inner.me.peer, trade_id).await
    }

    /// Funds this party's escrow output of `trade_id` from the Core node's wallet `wallet`: with
    /// `broadcast`, signed by that wallet and sent; without, only built (amount, fee and the unsigned
    /// PSBT, for the user to confirm or to sign elsewhere).
    pub async fn fund_from_wallet(
        &self,
        trade_id: Uuid,
        wallet: &str,
        broadcast: bool,
    ) -> Result<super::WalletFunding> {
        super::fund::fund_from_wallet(&self.inner, trade_id, wallet, broadcast).await
    }

    /// The buyer: the payment is sent.
    pub async fn mark_paid(&self, trade_id: Uuid) -> Result<TradeInfo> {
        self.act(trade_id, settle::Act::Paid).await
    }

    /// The seller: the payment arrived; with an escrow, this signs the release for the buyer.
    pub async fn mark_received(&self, trade_id: Uuid) -> Result<TradeInfo> {
        self.act(trade_id, settle::Act::Received).await
    }

    /// Either party, before coins are locked.
    pub async fn cancel(&self, trade_id: Uuid, reason: String) -> Result<TradeInfo> {
        self.act(trade_id, settle::Act::Cancel(reason)).await
    }

    /// Either party, once coins are locked: the arbitrator decides.
    /// Test hook: see [`super::settle::send_unchecked_step`].
    #[cfg(feature = "test-hooks")]
    pub async fn send_unchecked_step(
        &self,
        trade_id: Uuid,
        body: crate::protocol::settlement::StepBody,
    ) -> Result<Option<String>> {
        super::settle::send_unchecked_step(&self.inner, trade_id, body).await
    }

    /// Test hook: see [`super::arbitrate::send_forged_case`].
    #[cfg(feature = "test-hooks")]
    pub async fn send_forged_case(
        &self,
        arbitrator: libp2p::PeerId,
        trade_id: Uuid,
    ) -> Result<Option<String>> {
        let backend = self
            .inner
            .chain
            .as_ref()
            .ok_or_else(|| crate::error::Error::Internal("no chain backend".into()))?;
        super::arbitrate::send_forged_case(
            &self.inner,
            arbitrator,
            trade_id,
            (backend.chain(), backend.network()),
        )
        .await
    }

    pub async fn dispute(&self, trade_id: Uuid, reason: String) -> Result<TradeInfo> {
        self.act(trade_id, settle::Act::Dispute(reason)).await
    }

    async fn act(&self, trade_id: Uuid, what: settle::Act) -> Result<TradeInfo> {
        settle::act(&self.inner, trade_id, what).await?;
        self.inner.watch.notify_one();
        store::trade_info(&self.inner.pool, &self.inner.me.peer, trade_id).await
    }

    /// The disputes this node arbitrates, newest first.
    pub async fn disputes(&self) -> Result<Vec<super::DisputeInfo>> {
        super::arbitrate::list(&self.inner).await
    }

    pub async fn dispute_info(&self, trade_id: Uuid) -> Result<super::DisputeInfo> {
        super::arbitrate::show(&self.inner, trade_id).await
    }

    /// As the arbitrator: pays the escrow to `to` (`buyer` or `seller`), signed, sent to both parties.
    pub async fn resolve(
        &self,
        trade_id: Uuid,
        decision: &super::Decision,
    ) -> Result<super::DisputeInfo> {
        super::arbitrate::resolve(&self.inner, trade_id, decision).await
    }

    /// Stops the desk's tasks. Everything is stored already; nothing is lost.
    pub async fn shutdown(&self) {
        self.cancel.cancel();
        for task in self.tasks.lock().await.drain(..) {
            let _ = task.await;
        }
    }
}

/// This node's answer to the other side's last negotiation step: signed, stored with the trade's new
/// state and queued for the counterparty in one transaction.
async fn answer_step(inner: &Inner, trade_id: Uuid, body: MessageBody) -> Result<TradeInfo> {
    let ((_guard, mut tx), mut channel) = inner.write_trade(trade_id).await?;
    let mut negotiation = store::load_negotiation(&mut tx, trade_id, &channel.offer).await?;
    let message = NegotiationMessage {
        trade_id,
        offer_id: channel.offer.id,
        sender: inner.me.peer,
        step: negotiation.next_step(),
        body,
    };
    let signed = sign(&message, &inner.me.keypair)?;
    negotiation.apply(signed.clone()).map_err(refused)?;
    let now = now_ms();
    negotiation::record_negotiation(&mut tx, &negotiation, &inner.me.peer, None, now)
        .await
        .map_err(Error::from)?;
    let plaintext = ChannelMessage::Negotiation(signed.to_bytes()).encode();
    store::enqueue(&mut tx, &mut channel, &inner.me.keypair, &plaintext, now).await?;
    if negotiation.state() == negotiation::NegotiationState::Accepted {
        let terms = negotiation.terms();
        settle::after_agreement(inner, &mut tx, &mut channel, &terms.payout, terms.amount).await?;
    }
    let info = store::trade_info_on(&mut tx, &inner.me.peer, trade_id).await?;
    tx.commit().await.map_err(sql)?;
    inner.wake.notify_one();
    inner.watch.notify_one();
    let _ = inner.events.send(TradeEvent::TradeUpdated {
        trade: Box::new(info.clone()),
    });
    Ok(info)
}

/// Rejects the takes of this node's offers that waited longer than the answer window for the maker,
/// saying so to the taker: the offer's place is free again. Looks every quarter of the window (at
/// most every half minute), and at once after a start, so takes that expired while the node was off
/// are answered first.
async fn expire_unanswered_takes(inner: Arc<Inner>, cancel: CancellationToken) {
    let window = inner.config.answer_window;
    let mut ticks = tokio::time::interval(
        (window / 4).clamp(Duration::from_millis(50), Duration::from_secs(30)),
    );
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            biased;
            () = cancel.cancelled() => return,
            _ = ticks.tick() => {}
        }
        let cutoff = now_ms() - i64::try_from(window.as_millis()).unwrap_or(i64::MAX);
        let expired: Vec<String> = match sqlx::query_scalar(
            "SELECT id FROM trades WHERE role = 'maker' AND state = 'Requested' AND created_at <= ? \
             ORDER BY created_at",
        )
        .bind(cutoff)
        .fetch_all(&inner.pool)
        .await
        {
            Ok(ids) => ids,
            Err(e) => {
                tracing::warn!(error = %e, "looking for unanswered takes failed");
                continue;
            }
        };
        for id in expired.iter().filter_map(|id| Uuid::parse_str(id).ok()) {
            let reason = format!(
                "not answered within {}: the take expired",
                window_words(window)
            );
            match answer_step(&inner, id, MessageBody::Reject { reason }).await {
                Ok(_) => {
                    inner.refused.takes_expired.fetch_add(1, Ordering::Relaxed);
                    tracing::info!(trade_id = %id, "an unanswered take expired");
                }
                // Answered meanwhile (the lock decides), or the trade is gone.
                Err(e) => {
                    tracing::debug!(trade_id = %id, error = %e, "an expired take was not rejected")
                }
            }
        }
    }
}

/// A window exactly, in its largest whole unit: "30 min", "2 h", "45 s", "500 ms".
fn window_words(d: Duration) -> String {
    let secs = d.as_secs();
    if secs >= 3_600 && secs.is_multiple_of(3_600) {
        format!("{} h", secs / 3_600)
    } else if secs >= 60 && secs.is_multiple_of(60) {
        format!("{} min", secs / 60)
    } else if secs >= 1 {
        format!("{secs} s")
    } else {
        format!("{} ms", d.as_millis())
    }
}

fn sign(message: &NegotiationMessage, keypair: &Keypair) -> Result<VerifiedNegotiationMessage> {
    message.validate().map_err(refused)?;
    let signed = SignedNegotiationMessage::sign(message, keypair).map_err(Error::from)?;
    signed.into_verified().map_err(Error::from)
}

/// Answers the trade requests among the network's events; each in its own task, so a slow disk never
/// holds up the next.
async fn serve(
    inner: Arc<Inner>,
    mut events: broadcast::Receiver<NetEvent>,
    cancel: CancellationToken,
) {
    loop {
        let event = tokio::select! {
            biased;
            () = cancel.cancelled() => break,
            event = events.recv() => event,
        };
        match event {
            Ok(NetEvent::Request { peer, id, data }) => {
                let request = match DirectRequest::decode(&data) {
                    Ok(DirectRequest::Take(bytes)) => Request::Take(bytes),
                    Ok(DirectRequest::Envelope(bytes)) => Request::Envelope(bytes),
                    Ok(DirectRequest::Dispute(bytes)) => Request::Dispute(bytes),
                    Ok(DirectRequest::Resolution(bytes)) => Request::Resolution(bytes),
                    Ok(DirectRequest::Return(bytes)) => Request::Return(bytes),
                    // The market answers offer requests and anything undecodable.
                    _ => continue,
                };
                let inner = inner.clone();
                tokio::spawn(async move {
                    let answer = match request {
                        Request::Take(bytes) => inner.on_take(peer, &bytes).await.encode(),
                        Request::Envelope(bytes) => inner.on_envelope(peer, &bytes).await.encode(),
                        Request::Dispute(bytes) => stored(
                            "dispute case",
                            peer,
                            super::arbitrate::on_case(&inner, &bytes).await,
                        ),
                        Request::Resolution(bytes) => stored(
                            "resolution",
                            peer,
                            super::arbitrate::on_resolution(&inner, &bytes).await,
                        ),
                        Request::Return(bytes) => {
                            let answer = super::arbitrate::on_return_request(&inner, &bytes).await;
                            if let Err(e) = &answer {
                                tracing::info!(%peer, error = %e, "a return request not signed");
                            }
                            crate::protocol::ReturnAnswer::of(answer).encode()
                        }
                    };
                    if let Err(e) = inner.net.respond(id, answer).await {
                        tracing::debug!(%peer, error = %e, "could not answer a trade request");
                    }
                });
            }
            Ok(NetEvent::PeerConnected(peer)) => {
                if let Err(e) = outbox::retry_now(&inner, &peer).await {
                    tracing::warn!(error = %e, "could not reschedule the outbox");
                }
            }
            Ok(_) => {}
            Err(broadcast::error::RecvError::Lagged(n)) => {
                tracing::warn!(
                    missed = n,
                    "the trade desk fell behind the network's events"
                );
            }
            Err(broadcast::error::RecvError::Closed) => break,
        }
    }
}

enum Request {
    Take(Vec<u8>),
    Envelope(Vec<u8>),
    Dispute(Vec<u8>),
    Resolution(Vec<u8>),
    Return(Vec<u8>),
}

fn stored(what: &str, from: PeerId, result: Result<()>) -> Vec<u8> {
    let answer = crate::protocol::Stored::of(&result);
    match &answer {
        crate::protocol::Stored::Stored => {}
        crate::protocol::Stored::Refused(reason) => {
            tracing::info!(%from, %reason, "{what} refused");
        }
        crate::protocol::Stored::Later(reason) => {
            tracing::warn!(%from, %reason, "{what} not handled now; the sender will try again");
        }
    }
    answer.encode()
}

/// Keeps this node's arbitrator announcement in the DHT: at start (retried until a peer stores it), then
/// twice a day.
async fn announce(inner: Arc<Inner>, cancel: CancellationToken) {
    let mut wait = Duration::from_millis(250);
    loop {
        match settle::announce_arbitrator(&inner).await {
            Ok(()) => wait = Duration::from_secs(12 * 3600),
            Err(e) => {
                tracing::debug!(error = %e, "arbitrator announcement not stored yet");
                wait = (wait * 2).min(Duration::from_secs(30));
            }
        }
        tokio::select! {
            biased;
            () = cancel.cancelled() => break,
            () = tokio::time::sleep(wait) => {}
        }
    }
}

enum Received {
    /// Stored (delivered in order, or held until a gap fills).
    Stored {
        next: u64,
    },
    Dropped {
        next: u64,
        reason: String,
    },
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

    /// The maker's side of a take. Every refusal says why and stores nothing.
    pub(super) async fn on_take(&self, from: PeerId, bytes: &[u8]) -> TakeAnswer {
        match self.open_trade(bytes).await {
            Ok(accept) => TakeAnswer::Accepted(accept),
            Err(e) => {
                self.refused.takes.fetch_add(1, Ordering::Relaxed);
                tracing::info!(%from, reason = %e, "take refused");
                TakeAnswer::Refused(crate::protocol::reason_for_peer(&e))
            }
        }
    }

    async fn open_trade(&self, bytes: &[u8]) -> Result<Vec<u8>> {
        let opened = channel::open_take(&self.me.channel_secret, self.me.peer, bytes)?;
        let request = SignedNegotiationMessage::verify(opened.plaintext()).map_err(refused)?;
        let m = request.message();
        if m.sender != opened.taker()
            || m.trade_id != opened.trade_id()
            || m.offer_id != opened.offer_id()
        {
            return Err(Error::InvalidInput(
                "the take request inside does not match its sealed envelope (taker, trade or offer)"
                    .into(),
            ));
        }
        let (offer, state) = self
            .book
            .get(m.offer_id)
            .await?
            .ok_or_else(|| Error::InvalidInput(format!("no offer {} here", m.offer_id)))?;
        if offer.maker != self.me.peer {
            return Err(Error::InvalidInput(format!(
                "offer {} is not one of this node's",
                offer.id
            )));
        }
        if let crate::offer::EscrowKind::Multisig { arbitrators } = &offer.escrow
            && arbitrators.contains(&m.sender)
        {
            return Err(Error::InvalidInput(
                "the taker is an arbitrator of this offer: nobody holds two of the escrow's keys"
                    .into(),
            ));
        }
        let now = now_ms();
        let negotiation = Negotiation::start(&offer, state, now, request).map_err(refused)?;
        let (accept, trade_channel) = channel::accept_take(&opened, &self.me.keypair)?;
        let _guard = self.lock.lock().await;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(sql)?;
        if store::load_channel(&mut tx, &self.me.storage_key, trade_channel.trade_id)
            .await?
            .is_some()
        {
            return Err(Error::InvalidInput(format!(
                "trade {} exists already: a take is answered once",
                trade_channel.trade_id
            )));
        }
        let hour_ago = now - 3_600_000;
        let recent: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM trades WHERE role = 'maker' AND counterparty = ? AND created_at > ?",
        )
        .bind(opened.taker().to_base58())
        .bind(hour_ago)
        .fetch_one(&mut *tx)
        .await
        .map_err(sql)?;
        let limit = self.config.max_takes_per_peer_per_hour;
        if recent >= i64::from(limit) {
            return Err(Error::InvalidInput(format!(
                "too many takes from you: {recent} of this node's offers in the last hour, at most \
                 {limit}; try again later"
            )));
        }
        negotiation::record_negotiation(
            &mut tx,
            &negotiation,
            &self.me.peer,
            Some(self.config.max_open_takes),
            now,
        )
        .await
        .map_err(Error::from)?;
        store::insert_channel(&mut tx, &self.me.storage_key, &trade_channel, &offer).await?;
        let info = store::trade_info_on(&mut tx, &self.me.peer, trade_channel.trade_id).await?;
        tx.commit().await.map_err(sql)?;
        tracing::info!(trade_id = %info.id, offer_id = %offer.id, taker = %info.counterparty, "offer taken by a peer");
        let _ = self.events.send(TradeEvent::TakeRequested {
            trade: Box::new(info),
        });
        Ok(accept.to_bytes()?)
    }

    /// One envelope from a peer: verified, put in order, its content checked and stored in one
    /// transaction with the receiver's state, or refused with nothing stored.
    pub(super) async fn on_envelope(&self, from: PeerId, bytes: &[u8]) -> EnvelopeAnswer {
        match self.receive(bytes).await {
            Ok(Received::Stored { next }) => EnvelopeAnswer::Ack { next },
            Ok(Received::Dropped { next, reason }) => {
                tracing::debug!(%from, %reason, "envelope dropped");
                EnvelopeAnswer::Dropped { next, reason }
            }
            Err(e) => {
                self.refused.envelopes.fetch_add(1, Ordering::Relaxed);
                tracing::info!(%from, reason = %e, "envelope refused");
                EnvelopeAnswer::Refused(crate::protocol::reason_for_peer(&e))
            }
        }
    }

    async fn receive(&self, bytes: &[u8]) -> Result<Received> {
        let verified = SignedEnvelope::verify(bytes)?;
        let trade_id = verified.trade_id();
        let _guard = self.lock.lock().await;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(sql)?;
        let mut channel = store::load_channel(&mut tx, &self.me.storage_key, trade_id)
            .await?
            .ok_or(ChannelError::UnknownTrade { trade_id })?;
        let stored = store::load_held(&mut tx, trade_id).await?;
        let mut receiver = channel.receiver.clone().with_held(stored.clone());
        let delivered = match receiver.receive_verified(&channel.keys, verified) {
            Ok(delivered) => delivered,
            Err(ChannelError::Gap { .. }) => {
                // Authenticated and held until the gap fills; the ack asks for the gap.
                store::save_receiver(&mut tx, trade_id, &receiver, &stored).await?;
                tx.commit().await.map_err(sql)?;
                return Ok(Received::Stored {
                    next: receiver.next_seq(),
                });
            }
            // A duplicate, or too far ahead: nothing to store; the answer says what comes next.
            Err(e @ (ChannelError::Replay { .. } | ChannelError::TooFarAhead { .. })) => {
                return Ok(Received::Dropped {
                    next: channel.receiver.next_seq(),
                    reason: e.to_string(),
                });
            }
            Err(e) => return Err(e.into()),
        };
        let mut events = Vec::new();
        for item in delivered {
            let message = ChannelMessage::decode(&item.plaintext).map_err(|e| {
                Error::InvalidInput(format!("envelope {} of trade {trade_id}: {e}", item.seq))
            })?;
            self.apply(&mut tx, &mut channel, item.seq, message, &mut events)
                .await?;
        }
        store::save_receiver(&mut tx, trade_id, &receiver, &stored).await?;
        tx.commit().await.map_err(sql)?;
        // A step may have queued an answer, or made an escrow ready or due.
        self.wake.notify_one();
        self.watch.notify_one();
        for event in events {
            let _ = self.events.send(event);
        }
        Ok(Received::Stored {
            next: receiver.next_seq(),
        })
    }

    async fn apply(
        &self,
        tx: &mut sqlx::SqliteConnection,
        channel: &mut ChannelRow,
        seq: u64,
        message: ChannelMessage,
        events: &mut Vec<TradeEvent>,
    ) -> Result<()> {
        let trade_id = channel.trade_id;
        let now = now_ms();
        match message {
            ChannelMessage::Negotiation(bytes) => {
                let step = SignedNegotiationMessage::verify(&bytes).map_err(refused)?;
                if step.message().sender != channel.peer {
                    return Err(Error::InvalidInput(format!(
                        "a negotiation step signed by {}, not by the counterparty",
                        step.message().sender
                    )));
                }
                let mut negotiation = store::load_negotiation(tx, trade_id, &channel.offer).await?;
                negotiation.apply(step).map_err(refused)?;
                negotiation::record_negotiation(tx, &negotiation, &self.me.peer, None, now)
                    .await
                    .map_err(Error::from)?;
                if negotiation.state() == negotiation::NegotiationState::Accepted {
                    let terms = negotiation.terms();
                    settle::after_agreement(self, tx, channel, &terms.payout, terms.amount).await?;
                }
                let info = store::trade_info_on(tx, &self.me.peer, trade_id).await?;
                events.push(TradeEvent::TradeUpdated {
                    trade: Box::new(info),
                });
            }
            ChannelMessage::Chat { text, sent_at } => {
                // The sender's clock, within what this node can tell: not in the future of its own
                // clock, and not before the sender's previous message (delivery is in order).
                let earliest = store::last_incoming_sent_at(tx, trade_id).await?;
                let sent_at = sent_at.min(now).max(earliest.min(now));
                // Past the rules both sides keep, the envelope is taken (its sequence moves on, so the
                // trade's steps behind it are not held up) and the message dropped: no store, no alert.
                if let Some(why) = store::chat_refusal(
                    tx,
                    trade_id,
                    false,
                    sent_at,
                    self.config.max_chat_per_minute,
                )
                .await?
                {
                    self.refused.chat_messages.fetch_add(1, Ordering::Relaxed);
                    tracing::info!(%trade_id, peer = %channel.peer, reason = %why, "chat message dropped");
                    return Ok(());
                }
                let message = ChatMessage {
                    id: Uuid::now_v7(),
                    trade_id,
                    outgoing: false,
                    seq,
                    sender: channel.peer.to_base58(),
                    body: text,
                    sent_at,
                    delivered_at: Some(now),
                    read_at: None,
                };
                if store::insert_message(tx, &message).await? {
                    events.push(TradeEvent::Message { message });
                }
            }
            ChannelMessage::Read { up_to } => {
                sqlx::query(
                    "UPDATE messages SET read_at = ? WHERE trade_id = ? AND outgoing = 1 \
                     AND seq <= ? AND read_at IS NULL",
                )
                .bind(now)
                .bind(trade_id.to_string())
                .bind(store::seq_i64(up_to.min(channel.send_next))?)
                .execute(&mut *tx)
                .await
                .map_err(sql)?;
                events.push(TradeEvent::Read { trade_id, up_to });
            }
            ChannelMessage::TradeStep(bytes) => {
                settle::on_step(self, tx, channel, &bytes, events).await?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod window_tests {
    use super::payment_window;
    use crate::offer::PaymentMethod;

    #[test]
    fn slow_methods_get_more_time_to_pay() {
        let days = |m: &str| payment_window(&PaymentMethod::new(m).unwrap()).as_secs() / 86_400;
        assert_eq!(days("SEPA"), 6);
        assert_eq!(days("SEPA_INSTANT"), 1);
        assert_eq!(days("ZELLE"), 4);
        assert_eq!(days("SOMETHING_NEW"), 2);
    }
}
