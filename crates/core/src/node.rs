//! [`Node`]: the one facade every shell (CLI, desktop, `souk serve`) calls.
//!
//! A node starts locked: it knows its data directory and config but holds no keys. Creating, restoring
//! or unlocking an identity opens the keystore and the database; everything later (network, offers,
//! trades) hangs off the unlocked state. The facade never prints, prompts or exits: shells do that.

use std::{
    path::{Path, PathBuf},
    sync::Arc,
};

use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;
use ts_rs::TS;

use crate::{
    alerts::{self, Alert, Alerts},
    book::{Book, BookEntry, BookQuery, MyOffer},
    config::Config,
    error::{Error, Result},
    identity::{Identity, KdfCost, SeedPhrase, keystore},
    market::{Market, MarketEvent, OfferFilter, PriceFeed},
    net::{NetConfig, Network},
    offer::{Asset, NewOffer, Offer, Quote},
    preferences::{self, NotificationPrefs, Preferences},
    price::{HttpTicker, MarketPrice},
    store::{self, Store},
    trading::{ChatMessage, Desk, TradeAnswer, TradeConfig, TradeEvent, TradeInfo},
};

/// What a shell shows first: set-up, the unlock screen, or the app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum AppStatus {
    NeedsSetup { data_dir: String },
    Locked { data_dir: String, peer_id: String },
    Unlocked { identity: IdentityInfo },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct IdentityInfo {
    pub peer_id: String,
    pub data_dir: String,
    pub schema_version: u32,
}

/// A new identity and, this once, its seed words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct CreatedIdentity {
    pub identity: IdentityInfo,
    pub words: Vec<String>,
}

#[derive(Debug)]
pub struct Node {
    data_dir: PathBuf,
    config: Config,
    kdf_cost: KdfCost,
    trade_config: TradeConfig,
    unlocked: Mutex<Option<Unlocked>>,
    /// Where the alert watcher publishes; shells subscribe before the network starts.
    alerts: tokio::sync::broadcast::Sender<Alert>,
    /// The notification choices as last stored, for the alert watcher.
    notification_prefs: tokio::sync::watch::Sender<NotificationPrefs>,
}

#[derive(Debug)]
struct Unlocked {
    identity: Identity,
    store: Store,
    book: Book,
    market: Option<Arc<Market>>,
    desk: Option<Arc<Desk>>,
    alerts: Option<alerts::Watcher>,
}

/// Where a started network listens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct NetInfo {
    pub peer_id: String,
    pub listen_addrs: Vec<String>,
}

/// The network as a person sees it: who this node is, where it listens, who it is connected to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct NetworkStatus {
    pub peer_id: String,
    /// Listen addresses ending in `/p2p/<peer id>`, ready to be given to others as a bootstrap.
    pub listen_addrs: Vec<String>,
    pub connected_peers: Vec<String>,
    /// Peers in the Kademlia routing table.
    pub routing_table_size: u32,
    /// Value records in the local DHT store (ours and others').
    pub stored_records: u32,
}

impl Node {
    pub fn new(data_dir: impl Into<PathBuf>, config: Config) -> Self {
        Self {
            data_dir: data_dir.into(),
            config,
            kdf_cost: KdfCost::DEFAULT,
            trade_config: TradeConfig::default(),
            unlocked: Mutex::new(None),
            alerts: tokio::sync::broadcast::channel(256).0,
            notification_prefs: tokio::sync::watch::Sender::new(NotificationPrefs::default()),
        }
    }

    /// How this node trades (the cap on open takes per offer, delivery retries).
    pub fn with_trade_config(mut self, config: TradeConfig) -> Self {
        self.trade_config = config;
        self
    }

    /// A cheaper key derivation for tests of everything but the keystore's strength.
    #[doc(hidden)]
    pub fn with_kdf_cost(mut self, cost: KdfCost) -> Self {
        self.kdf_cost = cost;
        self
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    fn keystore_path(&self) -> PathBuf {
        self.data_dir.join(keystore::FILE_NAME)
    }

    fn db_path(&self) -> PathBuf {
        self.data_dir.join(store::FILE_NAME)
    }

    fn data_dir_string(&self) -> String {
        self.data_dir.display().to_string()
    }

    pub async fn status(&self) -> Result<AppStatus> {
        if let Some(u) = self.unlocked.lock().await.as_ref() {
            return Ok(AppStatus::Unlocked {
                identity: self.info(u).await?,
            });
        }
        let path = self.keystore_path();
        let status = match tokio::task::spawn_blocking(move || keystore::peer_id(&path))
            .await
            .map_err(join_error)?
        {
            Ok(peer_id) => AppStatus::Locked {
                data_dir: self.data_dir_string(),
                peer_id: peer_id.to_string(),
            },
            Err(Error::NotInitialized(_)) => AppStatus::NeedsSetup {
                data_dir: self.data_dir_string(),
            },
            Err(e) => return Err(e),
        };
        Ok(status)
    }

    /// Creates a new identity in an empty data directory. The words are returned once and never stored
    /// in the clear.
    pub async fn create_identity(&self, passphrase: &str) -> Result<CreatedIdentity> {
        let identity =
            tokio::task::spawn_blocking(|| SeedPhrase::generate().and_then(Identity::from_phrase))
                .await
                .map_err(join_error)??;
        let words = identity.seed_words();
        let info = self.install(identity, passphrase).await?;
        Ok(CreatedIdentity {
            identity: info,
            words,
        })
    }

    /// Re-creates an identity from its seed words. A database left in the data directory by the same
    /// identity is kept, with all its trades; one of another identity is refused.
    pub async fn restore_identity(&self, words: &str, passphrase: &str) -> Result<IdentityInfo> {
        let words = words.to_owned();
        let identity = tokio::task::spawn_blocking(move || {
            SeedPhrase::parse(&words).and_then(Identity::from_phrase)
        })
        .await
        .map_err(join_error)??;
        self.install(identity, passphrase).await
    }

    async fn install(&self, identity: Identity, passphrase: &str) -> Result<IdentityInfo> {
        let keystore_path = self.keystore_path();
        if keystore_path.exists() {
            return Err(Error::AlreadyInitialized(self.data_dir.clone()));
        }
        if passphrase.chars().count() < crate::identity::MIN_PASSPHRASE_CHARS {
            return Err(crate::identity::KeystoreError::WeakPassphrase.into());
        }
        create_private_dir(&self.data_dir)?;
        // The database is checked before the keystore is written, so a refusal leaves no keystore behind.
        let store = self.open_store_for(&identity).await?;
        let (cost, pass) = (self.kdf_cost, passphrase.to_owned());
        let identity = tokio::task::spawn_blocking(move || {
            keystore::create(&keystore_path, &identity, &pass, cost).map(|()| identity)
        })
        .await
        .map_err(join_error)??;
        store.bind_identity(&identity.peer_id().to_string()).await?;
        tracing::info!(peer_id = %identity.peer_id(), data_dir = %self.data_dir.display(), "identity installed");
        self.finish_unlock(identity, store).await
    }

    /// Opens the keystore with `passphrase` and the database behind it.
    pub async fn unlock(&self, passphrase: &str) -> Result<IdentityInfo> {
        let (path, pass) = (self.keystore_path(), passphrase.to_owned());
        let identity = tokio::task::spawn_blocking(move || keystore::open(&path, &pass))
            .await
            .map_err(join_error)??;
        let store = self.open_store_for(&identity).await?;
        store.bind_identity(&identity.peer_id().to_string()).await?;
        self.finish_unlock(identity, store).await
    }

    async fn open_store_for(&self, identity: &Identity) -> Result<Store> {
        let store = Store::open(&self.db_path()).await?;
        let peer_id = identity.peer_id().to_string();
        let owner: Option<String> = sqlx::query_scalar("SELECT peer_id FROM identity WHERE id = 1")
            .fetch_optional(store.pool())
            .await
            .map_err(store::StoreError::from)?;
        if let Some(owner) = owner.filter(|o| *o != peer_id) {
            store.close().await;
            return Err(Error::InvalidInput(format!(
                "the database in {} belongs to identity {owner}, not {peer_id}; use another data directory",
                self.data_dir.display()
            )));
        }
        Ok(store)
    }

    async fn finish_unlock(&self, identity: Identity, store: Store) -> Result<IdentityInfo> {
        let book = Book::new(&store);
        let unlocked = Unlocked {
            identity,
            store,
            book,
            market: None,
            desk: None,
            alerts: None,
        };
        let info = self.info(&unlocked).await?;
        if let Some(previous) = self.unlocked.lock().await.replace(unlocked) {
            close(previous).await;
        }
        Ok(info)
    }

    /// Starts the peer-to-peer network and the marketplace on it, watching `markets` for offers.
    /// The book answers from its cache before and while the network comes up.
    pub async fn start_network(
        &self,
        config: NetConfig,
        markets: &[(Asset, Quote)],
    ) -> Result<NetInfo> {
        // The lock is not held while the network starts and re-announces (that waits on peers), so
        // status and book queries stay answered meanwhile.
        let (keypair, channel_key, channel_secret, storage_key, escrow_root, book, pool) = {
            let guard = self.unlocked.lock().await;
            let u = guard
                .as_ref()
                .ok_or(Error::NotInitialized(self.data_dir.clone()))?;
            if let Some(market) = &u.market {
                return net_info(market).await;
            }
            (
                u.identity.keypair().clone(),
                u.identity.channel_public_key(),
                u.identity.channel_secret().clone(),
                *u.identity.storage_key(),
                *u.identity.escrow_root(),
                u.book.clone(),
                u.store.pool().clone(),
            )
        };
        let prices = match self.config.price.url.trim() {
            "" => None,
            url => Some(PriceFeed {
                source: HttpTicker::new(url, std::time::Duration::from_secs(10))?,
                every: std::time::Duration::from_secs(self.config.price.refresh_secs.max(1)),
            }),
        };
        let settlement = self.settlement().await?;
        // What the alerts take as known: the trades before the desk can change any of them.
        let me = keypair.public().to_peer_id();
        let known = crate::trading::list_trades(&pool, &me).await?;
        self.notification_prefs
            .send_replace(self.preferences().await?.notifications);
        let (net, _events) = Network::start(config, keypair.clone(), Arc::new(OfferFilter)).await?;
        // The desk listens before the market announces anything, so no early take goes unanswered.
        let alert_source = alerts::TradeSource {
            pool: pool.clone(),
            me,
        };
        let desk = Arc::new(Desk::start(
            net.clone(),
            pool,
            book.clone(),
            keypair.clone(),
            channel_secret,
            storage_key,
            escrow_root,
            settlement,
            self.trade_config.clone(),
        ));
        let watcher = alerts::Watcher::start(
            Alerts::new((&self.trade_config).into(), &known, store::now_ms()),
            desk.subscribe(),
            alert_source,
            self.notification_prefs.subscribe(),
            self.alerts.clone(),
        );
        let market =
            match Market::start(net.clone(), book, keypair, channel_key, markets, prices).await {
                Ok(market) => Arc::new(market),
                Err(e) => {
                    watcher.shutdown().await;
                    desk.shutdown().await;
                    net.shutdown().await;
                    return Err(e);
                }
            };
        let mut guard = self.unlocked.lock().await;
        match guard.as_mut() {
            Some(u) if u.market.is_none() => {
                u.market = Some(market.clone());
                u.desk = Some(desk);
                u.alerts = Some(watcher);
            }
            // Started twice at once, or locked meanwhile: keep the first, stop this one.
            _ => {
                drop(guard);
                watcher.shutdown().await;
                desk.shutdown().await;
                market.shutdown().await;
                return Err(Error::InvalidInput(
                    "the network was started twice at once".into(),
                ));
            }
        }
        drop(guard);
        net_info(&market).await
    }

    async fn market(&self) -> Result<Arc<Market>> {
        let guard = self.unlocked.lock().await;
        let u = guard
            .as_ref()
            .ok_or(Error::NotInitialized(self.data_dir.clone()))?;
        u.market.clone().ok_or(Error::Offline)
    }

    /// The local order book (works offline, from the cache). With a market named in the query and a
    /// price known for it, market-relative offers come with their current price.
    pub async fn offers(&self, query: &BookQuery) -> Result<Vec<BookEntry>> {
        let (book, market) = {
            let guard = self.unlocked.lock().await;
            let u = guard
                .as_ref()
                .ok_or(Error::NotInitialized(self.data_dir.clone()))?;
            (u.book.clone(), u.market.clone())
        };
        let price = match (query.base, query.quote, market) {
            (Some(base), Some(quote), Some(market)) => market.price(base, quote).map(|p| p.price),
            _ => None,
        };
        Ok(book.query(query, store::now_ms(), price).await?)
    }

    /// One offer of the local book, with its state (works offline).
    pub async fn offer(&self, id: uuid::Uuid) -> Result<Option<(Offer, crate::book::OfferState)>> {
        let book = {
            let guard = self.unlocked.lock().await;
            let u = guard
                .as_ref()
                .ok_or(Error::NotInitialized(self.data_dir.clone()))?;
            u.book.clone()
        };
        Ok(book.get(id).await?)
    }

    /// The current market price, when the price feed has one.
    pub async fn market_price(&self, base: Asset, quote: Quote) -> Result<Option<MarketPrice>> {
        Ok(self.market().await?.price(base, quote))
    }

    pub async fn post_offer(&self, new: NewOffer) -> Result<Offer> {
        self.market().await?.post(new).await
    }

    pub async fn withdraw_offer(&self, id: uuid::Uuid) -> Result<()> {
        self.market().await?.withdraw(id).await
    }

    /// Asks the makers of a market for their offers; returns how many were new.
    pub async fn refresh_market(&self, base: Asset, quote: Quote) -> Result<usize> {
        self.market().await?.refresh(base, quote).await
    }

    pub async fn market_events(&self) -> Result<tokio::sync::broadcast::Receiver<MarketEvent>> {
        Ok(self.market().await?.subscribe())
    }

    /// The chain backend, when the config names one (an RPC URL or a cookie file): checked now, so a
    /// wrong chain, network or password stops the start with its reason.
    async fn settlement(&self) -> Result<Option<crate::trading::Settlement>> {
        let chain = &self.config.chain;
        if chain.rpc_url.trim().is_empty() && chain.rpc_cookie_file.is_none() {
            if self.trade_config.arbitrator {
                return Err(Error::InvalidInput(
                    "an arbitrator needs a chain backend: give --rpc-url (and --chain, --network)"
                        .into(),
                ));
            }
            return Ok(None);
        }
        let backend = crate::chain::RpcBackend::connect(chain).await?;
        tracing::info!(chain = %chain.chain, network = %chain.network, url = %backend.url(), "chain backend connected");
        Ok(Some(crate::trading::Settlement {
            backend: Arc::new(backend),
            confirmations: chain.required_confirmations(),
        }))
    }

    async fn desk(&self) -> Result<Arc<Desk>> {
        let guard = self.unlocked.lock().await;
        let u = guard
            .as_ref()
            .ok_or(Error::NotInitialized(self.data_dir.clone()))?;
        u.desk.clone().ok_or(Error::Offline)
    }

    async fn store(&self) -> Result<Store> {
        let guard = self.unlocked.lock().await;
        let u = guard
            .as_ref()
            .ok_or(Error::NotInitialized(self.data_dir.clone()))?;
        Ok(u.store.clone())
    }

    /// The database and this node's PeerId, for what works offline.
    async fn local(&self) -> Result<(sqlx::SqlitePool, libp2p::PeerId)> {
        let guard = self.unlocked.lock().await;
        let u = guard
            .as_ref()
            .ok_or(Error::NotInitialized(self.data_dir.clone()))?;
        Ok((u.store.pool().clone(), u.identity.peer_id()))
    }

    /// Takes an offer from the book; its maker must be reachable.
    pub async fn take_offer(
        &self,
        offer_id: uuid::Uuid,
        amount: u64,
        method: crate::offer::PaymentMethod,
        payout: String,
    ) -> Result<TradeInfo> {
        self.desk()
            .await?
            .take(offer_id, amount, method, payout)
            .await
    }

    /// Accepts, rejects or counters the other side's last negotiation step.
    pub async fn answer_trade(
        &self,
        trade_id: uuid::Uuid,
        answer: TradeAnswer,
    ) -> Result<TradeInfo> {
        self.desk().await?.answer(trade_id, answer).await
    }

    /// Every trade of this node (works offline).
    pub async fn trades(&self) -> Result<Vec<TradeInfo>> {
        let (pool, me) = self.local().await?;
        crate::trading::list_trades(&pool, &me).await
    }

    /// One trade (works offline).
    pub async fn trade(&self, trade_id: uuid::Uuid) -> Result<TradeInfo> {
        let (pool, me) = self.local().await?;
        crate::trading::trade_info(&pool, &me, trade_id).await
    }

    pub async fn send_chat(&self, trade_id: uuid::Uuid, text: String) -> Result<ChatMessage> {
        self.desk().await?.send_chat(trade_id, text).await
    }

    /// A trade's chat in order (works offline).
    pub async fn chat_log(&self, trade_id: uuid::Uuid) -> Result<Vec<ChatMessage>> {
        let (pool, me) = self.local().await?;
        crate::trading::chat_log(&pool, &me, trade_id).await
    }

    /// Marks the counterparty's messages read and tells it; returns how many were unread.
    pub async fn mark_read(&self, trade_id: uuid::Uuid) -> Result<u32> {
        self.desk().await?.mark_read(trade_id).await
    }

    /// The address this party's coins go to (buyer: payout; seller: refund) for an escrow trade.
    pub async fn set_escrow_address(
        &self,
        trade_id: uuid::Uuid,
        address: &str,
    ) -> Result<TradeInfo> {
        self.desk()
            .await?
            .set_escrow_address(trade_id, address)
            .await
    }

    /// The buyer: payment sent.
    pub async fn mark_paid(&self, trade_id: uuid::Uuid) -> Result<TradeInfo> {
        self.desk().await?.mark_paid(trade_id).await
    }

    /// The seller: payment received (signs the escrow's release).
    pub async fn mark_received(&self, trade_id: uuid::Uuid) -> Result<TradeInfo> {
        self.desk().await?.mark_received(trade_id).await
    }

    pub async fn cancel_trade(&self, trade_id: uuid::Uuid, reason: String) -> Result<TradeInfo> {
        self.desk().await?.cancel(trade_id, reason).await
    }

    /// The disputes this node arbitrates (works offline: they are stored).
    pub async fn disputes(&self) -> Result<Vec<crate::trading::DisputeInfo>> {
        self.desk().await?.disputes().await
    }

    pub async fn dispute_info(&self, trade_id: uuid::Uuid) -> Result<crate::trading::DisputeInfo> {
        self.desk().await?.dispute_info(trade_id).await
    }

    /// As the arbitrator: decide a dispute for `to` (`buyer` or `seller`).
    pub async fn resolve_dispute(
        &self,
        trade_id: uuid::Uuid,
        to: &str,
    ) -> Result<crate::trading::DisputeInfo> {
        self.desk().await?.resolve(trade_id, to).await
    }

    pub async fn dispute_trade(&self, trade_id: uuid::Uuid, reason: String) -> Result<TradeInfo> {
        self.desk().await?.dispute(trade_id, reason).await
    }

    pub async fn trade_events(&self) -> Result<tokio::sync::broadcast::Receiver<TradeEvent>> {
        Ok(self.desk().await?.subscribe())
    }

    /// What to tell the person (see [`crate::alerts`]), as the notification preferences allow.
    /// Works before the network starts: alerts flow once it has.
    pub fn alerts(&self) -> tokio::sync::broadcast::Receiver<Alert> {
        self.alerts.subscribe()
    }

    /// Messages from counterparties not marked read yet, across every trade (works offline).
    pub async fn unread_messages(&self) -> Result<u32> {
        let (pool, _) = self.local().await?;
        crate::trading::unread_messages(&pool).await
    }

    /// The person's preferences (theme, notifications, payment accounts); defaults until saved.
    /// Works offline.
    pub async fn preferences(&self) -> Result<Preferences> {
        Ok(self
            .store()
            .await?
            .setting(preferences::KEY)
            .await?
            .unwrap_or_default())
    }

    /// Checks and stores the preferences whole; a refusal leaves the stored ones as they were.
    pub async fn save_preferences(&self, preferences: Preferences) -> Result<Preferences> {
        preferences.validate()?;
        self.store()
            .await?
            .set_setting(preferences::KEY, &preferences)
            .await?;
        self.notification_prefs
            .send_replace(preferences.notifications);
        Ok(preferences)
    }

    /// This node's own offers, live, expired and withdrawn, newest first. Works offline.
    pub async fn my_offers(&self) -> Result<Vec<MyOffer>> {
        let book = {
            let guard = self.unlocked.lock().await;
            let u = guard
                .as_ref()
                .ok_or(Error::NotInitialized(self.data_dir.clone()))?;
            u.book.clone()
        };
        Ok(book.my_offers(store::now_ms()).await?)
    }

    /// Peers, listen addresses and DHT state; [`Error::Offline`] before the network started.
    pub async fn network_status(&self) -> Result<NetworkStatus> {
        let net = self.net().await?;
        let stats = net.stats().await?;
        let peer_id = net.local_peer_id().to_string();
        let listen_addrs = net
            .listen_addrs()
            .await?
            .iter()
            .map(|a| dialable(&a.to_string(), &peer_id))
            .collect();
        let mut connected_peers: Vec<String> = net
            .connected_peers()
            .await?
            .iter()
            .map(ToString::to_string)
            .collect();
        connected_peers.sort();
        Ok(NetworkStatus {
            peer_id,
            listen_addrs,
            connected_peers,
            routing_table_size: u32::try_from(stats.routing_table_size).unwrap_or(u32::MAX),
            stored_records: u32::try_from(stats.stored_records).unwrap_or(u32::MAX),
        })
    }

    pub async fn net(&self) -> Result<crate::net::NetClient> {
        Ok(self.market().await?.net().clone())
    }

    async fn info(&self, u: &Unlocked) -> Result<IdentityInfo> {
        let version = u.store.schema_version().await?;
        Ok(IdentityInfo {
            peer_id: u.identity.peer_id().to_string(),
            data_dir: self.data_dir_string(),
            schema_version: u32::try_from(version)
                .map_err(|_| Error::Internal(format!("schema version {version}")))?,
        })
    }

    /// Closes the database cleanly (checkpointing the WAL) and forgets the keys.
    pub async fn shutdown(&self) {
        if let Some(u) = self.unlocked.lock().await.take() {
            close(u).await;
        }
    }
}

async fn close(u: Unlocked) {
    if let Some(alerts) = u.alerts {
        alerts.shutdown().await;
    }
    if let Some(desk) = u.desk {
        desk.shutdown().await;
    }
    if let Some(market) = u.market {
        market.shutdown().await;
    }
    u.store.close().await;
}

async fn net_info(market: &Market) -> Result<NetInfo> {
    let addrs = market.net().listen_addrs().await?;
    Ok(NetInfo {
        peer_id: market.net().local_peer_id().to_string(),
        listen_addrs: addrs.iter().map(ToString::to_string).collect(),
    })
}

/// A listen address with `/p2p/<peer id>` appended, so others can dial it.
fn dialable(addr: &str, peer_id: &str) -> String {
    if addr.contains("/p2p/") {
        addr.to_owned()
    } else {
        format!("{addr}/p2p/{peer_id}")
    }
}

fn join_error(e: tokio::task::JoinError) -> Error {
    Error::Internal(format!("background task failed: {e}"))
}

fn create_private_dir(dir: &Path) -> Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(dir)
        .map_err(|e| Error::io(format!("creating data directory {}", dir.display()), e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    const FAST: KdfCost = KdfCost {
        memory_kib: 64,
        iterations: 1,
        lanes: 1,
    };

    fn node(dir: &Path) -> Node {
        Node::new(dir, Config::default()).with_kdf_cost(FAST)
    }

    #[tokio::test]
    async fn create_lock_unlock_and_restore() {
        let tmp = tempfile::tempdir().unwrap();
        let a = tmp.path().join("a");
        let n = node(&a);
        assert!(matches!(
            n.status().await.unwrap(),
            AppStatus::NeedsSetup { .. }
        ));
        let created = n.create_identity("passphrase-1").await.unwrap();
        assert_eq!(created.words.len(), 24);
        assert!(
            matches!(n.status().await.unwrap(), AppStatus::Unlocked { identity } if identity == created.identity)
        );
        let err = n.create_identity("passphrase-1").await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::AlreadyInitialized);
        n.shutdown().await;

        let n = node(&a);
        assert_eq!(
            n.status().await.unwrap(),
            AppStatus::Locked {
                data_dir: a.display().to_string(),
                peer_id: created.identity.peer_id.clone()
            }
        );
        assert_eq!(
            n.unlock("passphrase-2").await.unwrap_err().kind(),
            ErrorKind::WrongPassphrase
        );
        assert_eq!(n.unlock("passphrase-1").await.unwrap(), created.identity);

        let b = tmp.path().join("b");
        let restored = node(&b)
            .restore_identity(&created.words.join(" "), "other passphrase")
            .await
            .unwrap();
        assert_eq!(restored.peer_id, created.identity.peer_id);
    }

    #[tokio::test]
    async fn restore_keeps_the_same_identitys_database_and_refuses_anothers() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("d");
        let n = node(&dir);
        let created = n.create_identity("passphrase-1").await.unwrap();
        n.shutdown().await;
        // The keystore is lost; the database with its trades is not.
        std::fs::remove_file(dir.join(keystore::FILE_NAME)).unwrap();
        let n = node(&dir);
        assert!(matches!(
            n.status().await.unwrap(),
            AppStatus::NeedsSetup { .. }
        ));
        let other = SeedPhrase::generate().unwrap().words().join(" ");
        let err = n
            .restore_identity(&other, "passphrase-2")
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert!(err.to_string().contains("belongs to identity"), "{err}");
        assert!(
            !dir.join(keystore::FILE_NAME).exists(),
            "a refused restore left a keystore behind"
        );
        let info = n
            .restore_identity(&created.words.join(" "), "passphrase-2")
            .await
            .unwrap();
        assert_eq!(info.peer_id, created.identity.peer_id);
    }

    #[tokio::test]
    async fn preferences_survive_a_restart_and_a_refused_save_keeps_the_stored_ones() {
        use crate::preferences::{PaymentAccount, Theme};
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("d");
        let n = node(&dir);
        assert_eq!(
            n.preferences().await.unwrap_err().kind(),
            ErrorKind::NotInitialized
        );
        n.create_identity("passphrase-1").await.unwrap();
        assert_eq!(n.preferences().await.unwrap(), Preferences::default());

        let mut chosen = Preferences {
            theme: Theme::Dark,
            payment_accounts: vec![PaymentAccount {
                id: uuid::Uuid::new_v4(),
                method: crate::offer::PaymentMethod::new("SEPA").unwrap(),
                label: "Main bank".into(),
                details: "DE89 3704 0044 0532 0130 00".into(),
            }],
            ..Preferences::default()
        };
        chosen.notifications.message = false;
        assert_eq!(n.save_preferences(chosen.clone()).await.unwrap(), chosen);

        let mut bad = chosen.clone();
        bad.payment_accounts[0].label = String::new();
        let err = n.save_preferences(bad).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        n.shutdown().await;

        let n = node(&dir);
        n.unlock("passphrase-1").await.unwrap();
        assert_eq!(n.preferences().await.unwrap(), chosen);
    }

    #[tokio::test]
    async fn bad_inputs_store_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("d");
        let n = node(&dir);
        assert_eq!(
            n.create_identity("short").await.unwrap_err().kind(),
            ErrorKind::InvalidInput
        );
        assert_eq!(
            n.restore_identity("not words at all", "long enough")
                .await
                .unwrap_err()
                .kind(),
            ErrorKind::InvalidSeedPhrase
        );
        assert!(!dir.exists());
        assert_eq!(
            n.unlock("whatever1").await.unwrap_err().kind(),
            ErrorKind::NotInitialized
        );
    }
}
