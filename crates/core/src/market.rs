//! The marketplace on the network: publishes this node's offers and withdrawals, and fills the book
//! from gossip, DHT records and makers' direct answers.
//!
//! Publishing an offer: a Kademlia record under `sha256("souk/offer/" + id)` holding the signed
//! [`MarketUpdate`] (so a withdrawal replaces the offer under the same key), the maker as a provider of
//! the market key, and a gossip push on the market topic. Discovering: gossip for what happens now; for
//! what happened before this node came, `get_providers(market)` and a direct request to each maker for
//! its live offers. Everything from the network is verified again here before it reaches the book; the
//! network's filter only keeps junk out of the DHT and the gossip mesh.
//!
//! Posting and withdrawing answer once the book holds the change and gossip carries it (milliseconds);
//! the DHT's share (a query's round trips, up to its timeout) runs behind the answer, in order per key
//! (a withdrawal's record never lands before its offer's), keys in parallel.

mod discovery;
mod filter;
mod prices;
mod pump;

use std::{
    collections::{HashMap, HashSet},
    future::Future,
    sync::{Arc, Mutex, RwLock},
    time::{Duration, Instant},
};

use libp2p::identity::Keypair;
use serde::{Deserialize, Serialize};
use tokio::{sync::broadcast, task::JoinHandle};
use tokio_util::sync::CancellationToken;
use ts_rs::TS;
use uuid::Uuid;

pub use self::{filter::OfferFilter, prices::PriceFeed};
use self::{
    prices::fetch_prices,
    pump::{keep_fresh, pump},
};
use crate::{
    book::{Book, OfferState},
    error::{Error, Result},
    net::NetClient,
    offer::{
        Asset, MarketUpdate, NewOffer, Offer, Quote, SignedOffer, SignedWithdrawal, VerifiedOffer,
        Withdrawal, market_topic,
    },
    price::MarketPrice,
    store::now_ms,
};

/// How long a market's provider announcement stands for every offer posted in it meanwhile.
const ANNOUNCE_AGAIN_AFTER: Duration = Duration::from_secs(60);

/// What the marketplace tells the shells (UI, API, CLI).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum MarketEvent {
    OfferAdded {
        offer: Box<Offer>,
    },
    OfferWithdrawn {
        #[ts(type = "string")]
        #[schema(value_type = String)]
        id: Uuid,
    },
    /// A new offer of another maker matches a saved search (`Preferences::saved_searches`): once per
    /// offer and search, while this node runs.
    OfferMatched {
        #[ts(type = "string")]
        #[schema(value_type = String)]
        search_id: Uuid,
        search_name: String,
        offer: Box<Offer>,
    },
    /// A watched market's price was fetched.
    PriceUpdated {
        base: Asset,
        quote: Quote,
        #[ts(type = "string")]
        #[schema(value_type = String)]
        price: rust_decimal::Decimal,
    },
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
    /// DHT work behind the answers: the last job queued per key (see [`Inner::in_background`]).
    dht_jobs: Mutex<HashMap<Vec<u8>, JoinHandle<()>>>,
    /// Market keys this node announced itself a provider of, and when (Kademlia renews an
    /// announcement hourly): a burst of posts makes one announcement per market, not one per offer.
    providing: Mutex<HashMap<Vec<u8>, Instant>>,
    /// Updates the book took lately: their copies are not verified and written again.
    recent: Mutex<discovery::Recent>,
    /// Raised when the book fell behind the network's events: the makers are asked again now.
    resync: tokio::sync::Notify,
    /// How many times the book fell behind since start.
    fell_behind: std::sync::atomic::AtomicU64,
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
            dht_jobs: Mutex::new(HashMap::new()),
            providing: Mutex::new(HashMap::new()),
            recent: Mutex::new(discovery::Recent::default()),
            resync: tokio::sync::Notify::new(),
            fell_behind: std::sync::atomic::AtomicU64::new(0),
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

    /// How many times since start the book fell behind the network's events (each time, the
    /// market's makers were asked for their offers again).
    pub fn fell_behind(&self) -> u64 {
        self.inner
            .fell_behind
            .load(std::sync::atomic::Ordering::Relaxed)
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
        inner.book.withdraw_mine(&verified, now).await?;
        let bytes = MarketUpdate::Withdrawal(withdrawal).to_bytes();
        let ttl = Duration::from_millis(u64::try_from(crate::offer::MAX_TTL_MS).unwrap_or(0));
        // Gossip reaches every connected book in milliseconds; the DHT store can take a query's
        // round trips, and runs behind the answer.
        inner
            .net
            .publish(&offer.market_topic(), bytes.clone())
            .await?;
        inner.put_in_background(offer.record_key().to_vec(), bytes, ttl);
        if inner
            .book
            .live_offers_of(&me, offer.base, offer.quote, now)
            .await?
            .is_empty()
        {
            inner.stop_providing_in_background(offer.market_key().to_vec());
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
        // The DHT's copies are a convenience for later nodes: gossip carried every change, and the
        // next start announces the live offers again.
        if let Ok(mut jobs) = self.inner.dht_jobs.lock() {
            for (_, job) in jobs.drain() {
                job.abort();
            }
        }
        self.inner.net.shutdown().await;
    }
}

impl Inner {
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
        self.put_in_background(
            offer.record_key().to_vec(),
            bytes,
            Duration::from_millis(ttl_ms),
        );
        self.provide_in_background(offer.market_key().to_vec());
        Ok(())
    }

    /// Stores `value` under `key` in the DHT, behind the answer.
    fn put_in_background(&self, key: Vec<u8>, value: Vec<u8>, ttl: Duration) {
        let net = self.net.clone();
        self.in_background(key.clone(), "storing a DHT record", async move {
            net.put_record(key, value, ttl).await.map(|_| ())
        });
    }

    /// Announces this node a provider of the market `key`, unless it did a moment ago (an
    /// announcement made before any peer was known reaches nobody, so it is not skipped for long).
    fn provide_in_background(&self, key: Vec<u8>) {
        let Ok(mut providing) = self.providing.lock() else {
            return;
        };
        let now = Instant::now();
        if providing
            .get(&key)
            .is_some_and(|at| now.duration_since(*at) < ANNOUNCE_AGAIN_AFTER)
        {
            return;
        }
        providing.insert(key.clone(), now);
        drop(providing);
        let net = self.net.clone();
        self.in_background(key.clone(), "announcing a market", async move {
            net.start_providing(key).await
        });
    }

    fn stop_providing_in_background(&self, key: Vec<u8>) {
        if let Ok(mut providing) = self.providing.lock() {
            providing.remove(&key);
        }
        let net = self.net.clone();
        self.in_background(key.clone(), "leaving a market", async move {
            net.stop_providing(key).await
        });
    }

    /// Runs `job` after the job queued before it for the same `key` (a withdrawal's record after its
    /// offer's, a market's leave after its announcement), beside the jobs of other keys. A failure is
    /// logged: gossip carried the change already, and the DHT's copy is renewed at the next start.
    fn in_background(
        &self,
        key: Vec<u8>,
        what: &'static str,
        job: impl Future<Output = std::result::Result<(), crate::net::NetError>> + Send + 'static,
    ) {
        let Ok(mut jobs) = self.dht_jobs.lock() else {
            return;
        };
        jobs.retain(|_, j| !j.is_finished());
        let before = jobs.remove(&key);
        let handle = tokio::spawn(async move {
            if let Some(before) = before {
                let _ = before.await;
            }
            if let Err(e) = job.await {
                tracing::warn!(error = %e, what, "the DHT did not take it; gossip carried it");
            }
        });
        jobs.insert(key, handle);
    }
}
