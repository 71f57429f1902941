//! The marketplace on the network: publishes this node's offers and withdrawals, and fills the book
//! from gossip, DHT records and makers' direct answers.
//!
//! Publishing an offer: a Kademlia record under `sha256("souk/offer/" + id)` holding the signed
//! [`MarketUpdate`] (so a withdrawal replaces the offer under the same key), the maker as a provider of
//! the market key, and a gossip push on the market topic. Discovering: gossip for what happens now; for
//! what happened before this node came, `get_providers(market)` and a direct request to each maker for
//! its live offers. Everything from the network is verified again here before it reaches the book; the
//! network's filter only keeps junk out of the DHT and the gossip mesh.

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, RwLock},
    time::Duration,
};

use futures::future::join_all;
use libp2p::{PeerId, identity::Keypair, kad};
use serde::{Deserialize, Serialize};
use tokio::{sync::broadcast, task::JoinHandle};
use tokio_util::sync::CancellationToken;
use ts_rs::TS;
use uuid::Uuid;

use crate::{
    book::{Book, OfferState},
    error::{Error, Result},
    net::{InboundFilter, NetClient, NetEvent},
    offer::{
        Asset, MarketUpdate, NewOffer, Offer, Quote, SignedOffer, SignedWithdrawal,
        VerifiedMarketUpdate, VerifiedOffer, Withdrawal, market_key, market_topic,
    },
    price::{HttpTicker, MarketPrice, PriceSource},
    protocol::DirectRequest,
    store::now_ms,
};

/// Where prices come from and how often they are fetched again.
#[derive(Debug, Clone)]
pub struct PriceFeed {
    pub source: HttpTicker,
    pub every: Duration,
}

/// Most offers one maker serves in one answer.
const MAX_OFFERS_PER_ANSWER: usize = crate::book::MAX_OFFERS_PER_MAKER_PER_MARKET;
/// How often expired offers are swept from the book.
const EXPIRY_SWEEP: Duration = Duration::from_secs(60);

/// What the marketplace tells the shells (UI, API, CLI).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum MarketEvent {
    OfferAdded {
        offer: Box<Offer>,
    },
    OfferWithdrawn {
        #[ts(type = "string")]
        id: Uuid,
    },
    /// A watched market's price was fetched.
    PriceUpdated {
        base: Asset,
        quote: Quote,
        #[ts(type = "string")]
        price: rust_decimal::Decimal,
    },
}

/// Keeps malformed or forged offers out of the DHT store and the gossip mesh.
#[derive(Debug, Default)]
pub struct OfferFilter;

impl InboundFilter for OfferFilter {
    fn check_record(
        &self,
        _from: &PeerId,
        record: &kad::Record,
    ) -> std::result::Result<(), String> {
        let key = match MarketUpdate::verify(&record.value, now_ms()) {
            Ok(VerifiedMarketUpdate::Offer(o)) => o.record_key().to_vec(),
            Ok(VerifiedMarketUpdate::Withdrawal(w)) => w.record_key().to_vec(),
            // Not an offer: it may be an arbitrator's announcement; otherwise the offer's reason.
            Err(e) => match crate::arbiter::SignedAnnouncement::verify(&record.value) {
                Ok(a) => crate::arbiter::record_key(&a.arbitrator, a.chain, a.network),
                Err(_) => return Err(e.to_string()),
            },
        };
        if record.key.as_ref() == key.as_slice() {
            Ok(())
        } else {
            Err("the record key does not belong to the offer it holds".into())
        }
    }

    fn check_gossip(
        &self,
        topic: &str,
        data: &[u8],
        _from: &PeerId,
    ) -> std::result::Result<(), String> {
        match MarketUpdate::verify(data, now_ms()).map_err(|e| e.to_string())? {
            VerifiedMarketUpdate::Offer(o) if o.offer().market_topic() != topic => Err(format!(
                "an offer for {} on topic {topic}",
                o.offer().market_topic()
            )),
            _ => Ok(()),
        }
    }
}

/// The running marketplace of one node.
#[derive(Debug)]
pub struct Market {
    inner: Arc<Inner>,
    cancel: CancellationToken,
    pump: tokio::sync::Mutex<Option<JoinHandle<()>>>,
}

#[derive(Debug)]
struct Inner {
    net: NetClient,
    book: Book,
    keypair: Keypair,
    channel_key: [u8; 32],
    events: broadcast::Sender<MarketEvent>,
    /// Markets this node follows: subscribed topics, and the prices it keeps current.
    watched: RwLock<HashSet<(Asset, Quote)>>,
    prices: RwLock<HashMap<(Asset, Quote), MarketPrice>>,
}

impl Market {
    /// Starts listening to the network, re-announces this node's live offers and watches `markets`,
    /// asking their makers for their offers when the first peer connects and every `refresh_every`.
    /// What changes in the book is sent on `events` (the node's, so subscribers outlive a restart).
    #[allow(clippy::too_many_arguments)]
    pub async fn start(
        net: NetClient,
        book: Book,
        keypair: Keypair,
        channel_key: [u8; 32],
        markets: &[(Asset, Quote)],
        prices: Option<PriceFeed>,
        refresh_every: Duration,
        events: broadcast::Sender<MarketEvent>,
    ) -> Result<Self> {
        let inner = Arc::new(Inner {
            net,
            book,
            keypair,
            channel_key,
            events,
            watched: RwLock::new(markets.iter().copied().collect()),
            prices: RwLock::new(HashMap::new()),
        });
        let cancel = CancellationToken::new();
        let pump = tokio::spawn(pump(
            inner.clone(),
            inner.net.subscribe_events(),
            cancel.clone(),
        ));
        if let Some(feed) = prices {
            tokio::spawn(fetch_prices(inner.clone(), feed, cancel.clone()));
        }
        tokio::spawn(keep_fresh(
            inner.clone(),
            inner.net.subscribe_events(),
            refresh_every,
            cancel.clone(),
        ));
        let market = Self {
            inner,
            cancel,
            pump: tokio::sync::Mutex::new(Some(pump)),
        };
        market.announce_mine().await?;
        for (base, quote) in markets {
            market
                .inner
                .net
                .subscribe(&market_topic(*base, *quote))
                .await?;
        }
        Ok(market)
    }

    pub fn subscribe(&self) -> broadcast::Receiver<MarketEvent> {
        self.inner.events.subscribe()
    }

    /// The latest known price of a market, if the price feed has one (no price is a normal state).
    pub fn price(&self, base: Asset, quote: Quote) -> Option<MarketPrice> {
        self.inner.prices.read().ok()?.get(&(base, quote)).cloned()
    }

    pub fn book(&self) -> &Book {
        &self.inner.book
    }

    pub fn net(&self) -> &NetClient {
        &self.inner.net
    }

    /// Signs, stores and publishes a new offer made by this node.
    pub async fn post(&self, new: NewOffer) -> Result<Offer> {
        let inner = &self.inner;
        let now = now_ms();
        let mut new = new;
        new.maker_x25519 = inner.channel_key;
        let offer = Offer::new(inner.keypair.public().to_peer_id(), new, now)?;
        let signed = SignedOffer::sign(&offer, &inner.keypair)?;
        let verified = signed.into_verified(now, None)?;
        if inner.book.insert(&verified, true, now).await? == crate::book::Inserted::OverQuota {
            return Err(Error::InvalidInput(format!(
                "you already have {} live offers in {}/{}, the most other nodes take from one maker: \
                 withdraw one first",
                crate::book::MAX_OFFERS_PER_MAKER_PER_MARKET,
                offer.base,
                offer.quote
            )));
        }
        inner.publish_offer(&verified).await?;
        let _ = inner.events.send(MarketEvent::OfferAdded {
            offer: Box::new(offer.clone()),
        });
        tracing::info!(offer_id = %offer.id, market = %offer.market_topic(), "offer posted");
        Ok(offer)
    }

    /// Withdraws one of this node's offers everywhere: a signed tombstone replaces it in the DHT and
    /// is pushed over gossip.
    pub async fn withdraw(&self, id: Uuid) -> Result<()> {
        let inner = &self.inner;
        let me = inner.keypair.public().to_peer_id();
        let (offer, state) = inner
            .book
            .get(id)
            .await?
            .ok_or_else(|| Error::InvalidInput(format!("no offer {id}")))?;
        if offer.maker != me {
            return Err(Error::InvalidInput(format!(
                "offer {id} is not yours: only its maker can withdraw it"
            )));
        }
        if let OfferState::Withdrawn { .. } = state {
            return Err(Error::InvalidInput(format!(
                "offer {id} is already withdrawn"
            )));
        }
        let now = now_ms();
        let withdrawal = SignedWithdrawal::sign(&Withdrawal::of(&offer, now), &inner.keypair)?;
        let verified = withdrawal.clone().into_verified(now)?;
        inner.book.withdraw(&verified, now).await?;
        let bytes = MarketUpdate::Withdrawal(withdrawal).to_bytes();
        let ttl = Duration::from_millis(u64::try_from(crate::offer::MAX_TTL_MS).unwrap_or(0));
        // Gossip first: it reaches every connected book in milliseconds, the DHT store can take
        // a query's round trips.
        inner
            .net
            .publish(&offer.market_topic(), bytes.clone())
            .await?;
        inner
            .net
            .put_record(offer.record_key().to_vec(), bytes, ttl)
            .await?;
        if inner
            .book
            .live_offers_of(&me, offer.base, offer.quote, now)
            .await?
            .is_empty()
        {
            inner
                .net
                .stop_providing(offer.market_key().to_vec())
                .await?;
        }
        let _ = inner.events.send(MarketEvent::OfferWithdrawn { id });
        tracing::info!(offer_id = %id, "offer withdrawn");
        Ok(())
    }

    /// Subscribes to a market and asks every known maker in it for its live offers. Returns how many
    /// offers were new to this node.
    pub async fn refresh(&self, base: Asset, quote: Quote) -> Result<usize> {
        self.inner.refresh(base, quote).await
    }

    /// Puts this node's live offers back on the network (after a start or a restart).
    async fn announce_mine(&self) -> Result<()> {
        let now = now_ms();
        for signed in self.inner.book.my_live_offers(now).await? {
            match signed.into_verified(now, None) {
                Ok(verified) => self.inner.publish_offer(&verified).await?,
                Err(e) => {
                    tracing::warn!(error = %e, "a stored offer of ours no longer verifies; not announced")
                }
            }
        }
        Ok(())
    }

    pub async fn shutdown(&self) {
        self.cancel.cancel();
        if let Some(pump) = self.pump.lock().await.take() {
            let _ = pump.await;
        }
        self.inner.net.shutdown().await;
    }
}

impl Inner {
    /// See [`Market::refresh`].
    async fn refresh(&self, base: Asset, quote: Quote) -> Result<usize> {
        let inner = self;
        inner.net.subscribe(&market_topic(base, quote)).await?;
        if let Ok(mut watched) = inner.watched.write() {
            watched.insert((base, quote));
        }
        let me = inner.keypair.public().to_peer_id();
        let makers = inner
            .net
            .get_providers(market_key(base, quote).to_vec())
            .await?;
        let request = DirectRequest::Offers {
            base: base.code().into(),
            quote: quote.code().into(),
        }
        .encode();
        let asks = makers.into_iter().filter(|m| *m != me).map(|maker| {
            let request = request.clone();
            async move { (maker, inner.net.request(maker, request).await) }
        });
        let mut added = 0;
        for (maker, answer) in join_all(asks).await {
            match answer {
                Ok(bytes) => added += inner.take_answer(maker, base, quote, &bytes).await,
                Err(e) => tracing::debug!(%maker, error = %e, "maker did not answer"),
            }
        }
        Ok(added)
    }

    async fn publish_offer(&self, verified: &VerifiedOffer) -> Result<()> {
        let offer = verified.offer();
        let bytes = MarketUpdate::Offer(verified.signed().clone()).to_bytes();
        let ttl_ms = u64::try_from(offer.expires_at - now_ms()).unwrap_or(0);
        // Gossip first: it reaches every connected book in milliseconds; the DHT record (for nodes
        // that come later) and the provider announcement can take a query's round trips.
        self.net.subscribe(&offer.market_topic()).await?;
        self.net
            .publish(&offer.market_topic(), bytes.clone())
            .await?;
        self.net
            .put_record(
                offer.record_key().to_vec(),
                bytes,
                Duration::from_millis(ttl_ms),
            )
            .await?;
        self.net
            .start_providing(offer.market_key().to_vec())
            .await?;
        Ok(())
    }

    /// Verifies an update from the network and applies it to the book; tells the shells when it changed.
    async fn apply(&self, bytes: &[u8]) {
        let now = now_ms();
        match MarketUpdate::verify(bytes, now) {
            Ok(VerifiedMarketUpdate::Offer(offer)) => {
                self.add(&offer, now).await;
            }
            Ok(VerifiedMarketUpdate::Withdrawal(w)) => match self.book.withdraw(&w, now).await {
                Ok(true) => {
                    let _ = self.events.send(MarketEvent::OfferWithdrawn {
                        id: w.withdrawal().offer_id,
                    });
                }
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, "storing a withdrawal failed"),
            },
            Err(e) => tracing::debug!(error = %e, "refused a market update"),
        }
    }

    async fn add(&self, offer: &VerifiedOffer, now: i64) -> bool {
        match self.book.insert(offer, false, now).await {
            Ok(crate::book::Inserted::New) => {
                let _ = self.events.send(MarketEvent::OfferAdded {
                    offer: Box::new(offer.offer().clone()),
                });
                true
            }
            Ok(crate::book::Inserted::OverQuota) => {
                tracing::debug!(offer_id = %offer.id(), maker = %offer.offer().maker, "refused an offer: its maker has the most live offers a market takes");
                false
            }
            Ok(_) => false,
            Err(e) => {
                tracing::warn!(error = %e, "storing an offer failed");
                false
            }
        }
    }

    /// The watched market whose gossip topic is `topic`, if any.
    fn watched_market(&self, topic: &str) -> Option<(Asset, Quote)> {
        let watched = self.watched.read().ok()?;
        watched
            .iter()
            .copied()
            .find(|&(base, quote)| market_topic(base, quote) == topic)
    }

    /// Asks one peer for its live offers in a market and adds what is new.
    async fn ask_peer(&self, peer: PeerId, base: Asset, quote: Quote) {
        let request = DirectRequest::Offers {
            base: base.code().into(),
            quote: quote.code().into(),
        }
        .encode();
        match self.net.request(peer, request).await {
            Ok(bytes) => {
                let added = self.take_answer(peer, base, quote, &bytes).await;
                if added > 0 {
                    tracing::debug!(%peer, added, market = %format!("{base}/{quote}"), "offers from a peer that joined the market");
                }
            }
            Err(e) => tracing::debug!(%peer, error = %e, "a peer in the market did not answer"),
        }
    }

    /// A maker's answer: only its own live offers in the market asked for count.
    async fn take_answer(&self, maker: PeerId, base: Asset, quote: Quote, bytes: &[u8]) -> usize {
        let Ok(list) = postcard::from_bytes::<Vec<Vec<u8>>>(bytes) else {
            tracing::debug!(%maker, "unreadable offer list");
            return 0;
        };
        let now = now_ms();
        let mut added = 0;
        for item in list.iter().take(MAX_OFFERS_PER_ANSWER) {
            match SignedOffer::verify(item, now, None) {
                Ok(o)
                    if o.maker() == maker && o.offer().base == base && o.offer().quote == quote =>
                {
                    added += usize::from(self.add(&o, now).await);
                }
                Ok(o) => {
                    tracing::debug!(%maker, offer_id = %o.id(), "answer held an offer it should not")
                }
                Err(e) => tracing::debug!(%maker, error = %e, "answer held an invalid offer"),
            }
        }
        added
    }

    /// The answer to an offer request, and to anything no service can decode (an empty list); `None`
    /// for another service's request.
    async fn answer(&self, data: &[u8]) -> Option<Vec<u8>> {
        let offers = match DirectRequest::decode(data) {
            Ok(DirectRequest::Offers { base, quote }) => {
                match (base.parse::<Asset>(), quote.parse::<Quote>()) {
                    (Ok(base), Ok(quote)) => {
                        let me = self.keypair.public().to_peer_id();
                        self.book
                            .live_offers_of(&me, base, quote, now_ms())
                            .await
                            .unwrap_or_default()
                    }
                    _ => Vec::new(),
                }
            }
            // Another service's request: the trade desk answers it.
            Ok(_) => return None,
            Err(_) => Vec::new(),
        };
        let list: Vec<Vec<u8>> = offers
            .iter()
            .take(MAX_OFFERS_PER_ANSWER)
            .map(SignedOffer::to_bytes)
            .collect();
        Some(postcard::to_stdvec(&list).unwrap_or_default())
    }
}

/// Asks the makers of every watched market for their offers once the first peer connects (a node
/// that came up with nobody to ask learns what was posted before it), then every `every`: whatever
/// gossip missed (a partition, a dropped message, a maker this node has no gossip path to) comes back
/// through the DHT's provider lists within that. Gossip brings what is posted meanwhile.
async fn keep_fresh(
    inner: Arc<Inner>,
    mut events: broadcast::Receiver<NetEvent>,
    every: Duration,
    cancel: CancellationToken,
) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks.tick().await;
    let mut waiting_for_first_peer = true;
    loop {
        let due = tokio::select! {
            biased;
            () = cancel.cancelled() => return,
            _ = ticks.tick() => true,
            event = events.recv() => match event {
                Ok(NetEvent::PeerConnected(_)) if waiting_for_first_peer => {
                    waiting_for_first_peer = false;
                    true
                }
                Err(broadcast::error::RecvError::Closed) => return,
                _ => false,
            },
        };
        if !due {
            continue;
        }
        let watched: Vec<(Asset, Quote)> = inner
            .watched
            .read()
            .map(|w| w.iter().copied().collect())
            .unwrap_or_default();
        for (base, quote) in watched {
            tokio::select! {
                biased;
                () = cancel.cancelled() => return,
                result = inner.refresh(base, quote) => match result {
                    Ok(n) => tracing::debug!(market = %format!("{base}/{quote}"), new_offers = n, "market refreshed"),
                    Err(e) => tracing::debug!(market = %format!("{base}/{quote}"), error = %e, "market refresh failed"),
                },
            }
        }
    }
}

/// Keeps the prices of watched markets current. A failed fetch keeps the last price for a while (it
/// carries its time), then drops it, so a stale price is never shown as current for long.
async fn fetch_prices(inner: Arc<Inner>, feed: PriceFeed, cancel: CancellationToken) {
    const KEEP_STALE_MS: i64 = 10 * 60 * 1000;
    let mut tick = tokio::time::interval(feed.every);
    loop {
        tokio::select! {
            biased;
            () = cancel.cancelled() => break,
            _ = tick.tick() => {}
        }
        let markets: Vec<(Asset, Quote)> = inner
            .watched
            .read()
            .map(|w| w.iter().copied().collect())
            .unwrap_or_default();
        for (base, quote) in markets {
            let fetched = tokio::select! {
                biased;
                () = cancel.cancelled() => return,
                fetched = feed.source.price(base.code(), quote.code()) => fetched,
            };
            let Ok(mut prices) = inner.prices.write() else {
                return;
            };
            match fetched {
                Ok(price) => {
                    let event = MarketEvent::PriceUpdated {
                        base,
                        quote,
                        price: price.price,
                    };
                    prices.insert((base, quote), price);
                    drop(prices);
                    let _ = inner.events.send(event);
                }
                Err(e) => {
                    tracing::debug!(error = %e, "no market price");
                    if prices
                        .get(&(base, quote))
                        .is_some_and(|p| now_ms() - p.fetched_at_ms > KEEP_STALE_MS)
                    {
                        prices.remove(&(base, quote));
                    }
                }
            }
        }
    }
}

/// How long before a peer that joins a market again is asked for its offers again.
const ASK_PEER_AGAIN_AFTER: Duration = Duration::from_secs(60);

/// Routes network events into the book. Database work happens here, never in the swarm's loop.
async fn pump(
    inner: Arc<Inner>,
    mut events: broadcast::Receiver<NetEvent>,
    cancel: CancellationToken,
) {
    let mut sweep = tokio::time::interval(EXPIRY_SWEEP);
    let mut asked: std::collections::HashMap<(PeerId, String), tokio::time::Instant> =
        std::collections::HashMap::new();
    loop {
        tokio::select! {
            biased;
            () = cancel.cancelled() => break,
            _ = sweep.tick() => {
                if let Err(e) = inner.book.expire(now_ms()).await {
                    tracing::warn!(error = %e, "sweeping expired offers failed");
                }
            }
            event = events.recv() => match event {
                Ok(NetEvent::Gossip { data, .. }) => inner.apply(&data).await,
                Ok(NetEvent::RecordStored { value, .. }) => inner.apply(&value).await,
                Ok(NetEvent::PeerConnected(peer)) => {
                    if let Err(e) = inner.book.saw_peer(&peer, now_ms()).await {
                        tracing::warn!(error = %e, "recording a peer failed");
                    }
                }
                // A peer in a market we watch: ask it for its offers. What it published before it knew
                // of our subscription never reached us by gossip; this closes that window.
                Ok(NetEvent::TopicJoined { peer, topic }) => {
                    // At most once a minute per peer and market, however often it re-subscribes.
                    let now = tokio::time::Instant::now();
                    asked.retain(|_, at| now.duration_since(*at) < ASK_PEER_AGAIN_AFTER);
                    if asked.contains_key(&(peer, topic.clone())) {
                        continue;
                    }
                    if let Some((base, quote)) = inner.watched_market(&topic) {
                        asked.insert((peer, topic), now);
                        let inner = inner.clone();
                        tokio::spawn(async move { inner.ask_peer(peer, base, quote).await });
                    }
                }
                Ok(NetEvent::Request { id, data, .. }) => {
                    let Some(answer) = inner.answer(&data).await else {
                        continue;
                    };
                    if let Err(e) = inner.net.respond(id, answer).await {
                        tracing::debug!(error = %e, "could not answer a request");
                    }
                }
                Ok(_) => {}
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!(missed = n, "the market fell behind the network's events");
                }
                Err(broadcast::error::RecvError::Closed) => break,
            },
        }
    }
}
