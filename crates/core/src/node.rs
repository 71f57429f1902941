//! [`Node`]: the one facade every shell (CLI, desktop, `souk serve`) calls.
//!
//! A node starts locked: it knows its data directory and config but holds no keys. Creating, restoring
//! or unlocking an identity opens the keystore and the database; everything later (network, offers,
//! trades) hangs off the unlocked state. The facade never prints, prompts or exits: shells do that.

use std::{
    path::{Path, PathBuf},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
};

use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;
use ts_rs::TS;

use crate::{
    alerts::{self, Alert, Alerts},
    book::{Book, BookEntry, BookQuery, MyOffer},
    config::Config,
    connection::{self, ChainCheck, ConnectionEdit, ConnectionSettings, ConnectionValues},
    error::{Error, Result},
    escrow::{Chain, Network as ChainNetwork},
    identity::{Identity, KdfCost, SeedPhrase, keystore},
    market::{Market, MarketEvent, OfferFilter, PriceFeed},
    net::{NetConfig, Network},
    offer::{Asset, NewOffer, Offer, Quote},
    preferences::{self, NotificationPrefs, Preferences},
    price::{HttpTicker, MarketPrice},
    startup::{StartupPhase, StartupProgress, StartupTracker},
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
    /// This node arbitrates disputes (`[trade] arbitrator`, `--arbitrator`): the shells show its disputes.
    pub arbitrator: bool,
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
    /// How far the start has come; readable while `unlocked` is held by a long unlock.
    startup: StartupTracker,
    /// How the network was last brought online, for a retry and to tell what runs now.
    online_plan: std::sync::Mutex<Option<OnlinePlan>>,
    /// One [`Node::go_online`] at a time.
    going_online: Mutex<()>,
    /// [`Node::go_online_in_background`] ran (and did not fail).
    online_started: AtomicBool,
    /// `souk.toml`'s connection settings when this node was made: a later save differs from them
    /// until a restart.
    file_at_start: Option<ConnectionValues>,
    /// Where the alert watcher publishes; shells subscribe before the network starts.
    alerts: tokio::sync::broadcast::Sender<Alert>,
    /// The book's and the trades' events: the node's own channels, handed to each start of the
    /// market and the desk, so a shell subscribes once (before the unlock too) and keeps receiving.
    market_events: tokio::sync::broadcast::Sender<MarketEvent>,
    trade_events: tokio::sync::broadcast::Sender<TradeEvent>,
    /// The notification choices as last stored, for the alert watcher.
    notification_prefs: tokio::sync::watch::Sender<NotificationPrefs>,
}

#[derive(Debug, Clone)]
struct OnlinePlan {
    net: NetConfig,
    markets: Vec<(Asset, Quote)>,
}

/// How long the start waits for each bootstrap peer to answer.
pub const BOOTSTRAP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// How long a bootstrap peer added in the settings gets to answer the dial that applies it live.
const LIVE_DIAL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

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

/// The network as a person sees it: who this node is, where it listens, who it is connected to, and
/// whether others can reach it.
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
    /// Can others reach this node, in one word.
    pub reach: Reach,
    /// AutoNAT's verdict on this node's addresses.
    pub nat_status: NatStatus,
    /// Addresses others confirmed reach this node (AutoNAT), or that the config names.
    pub external_addrs: Vec<String>,
    /// The relays this node listens through, each with its reservation once granted.
    pub relays: Vec<RelayStatus>,
    /// This node is a circuit relay for peers behind NAT.
    pub relay_server: bool,
    /// What this node refused from peers since it started.
    pub refusals: crate::trading::Refusals,
}

/// Whether others can open connections to this node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Reach {
    /// Directly: AutoNAT confirmed a public address, or the config names an external one.
    Public,
    /// Through a relay that granted this node a reservation.
    Relayed,
    /// Not at all: behind a NAT or firewall, with no relay reservation. Outgoing connections still work.
    Private,
    /// Not known yet: AutoNAT needs a few peers to dial back.
    Unknown,
}

/// AutoNAT's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum NatStatus {
    Public,
    Private,
    Unknown,
}

/// One relay this node listens through.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct RelayStatus {
    /// The relay's PeerId.
    pub relay: String,
    /// The relayed address this node listens on, once the relay granted a reservation.
    pub reservation: Option<String>,
}

/// One word for [`crate::net::Reachability`]: a public address beats a relay, a relay beats nothing.
pub fn reach_of(r: &crate::net::Reachability) -> Reach {
    let direct = r.external_addrs.iter().any(|a| {
        !a.iter()
            .any(|p| p == libp2p::multiaddr::Protocol::P2pCircuit)
    });
    if r.nat == crate::net::NatStatus::Public || direct {
        Reach::Public
    } else if r.relays.iter().any(|c| c.reserved.is_some()) {
        Reach::Relayed
    } else if r.nat == crate::net::NatStatus::Private {
        Reach::Private
    } else {
        Reach::Unknown
    }
}

/// The chain node escrows settle on, as this node sees it now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct ChainStatus {
    /// A chain node is configured (`[chain] rpc_url` or `rpc_cookie_file`, or `--rpc-url`): escrow
    /// trades need one.
    pub configured: bool,
    pub chain: Chain,
    pub network: ChainNetwork,
    /// The JSON-RPC URL (or the Electrum server's) asked, without credentials; `None` when nothing is
    /// configured.
    pub rpc_url: Option<String>,
    /// The chain node answered just now, on the configured chain and network.
    pub connected: bool,
    /// Height of its best block.
    pub tip_height: Option<u64>,
    /// Confirmations before a funding or a release counts.
    pub confirmations: u32,
    /// Why the chain node cannot be used, in words: unreachable, credentials refused, another chain, …
    pub error: Option<String>,
}

/// How long the chain status waits for the chain node (its RPC timeout may be much longer).
const CHAIN_STATUS_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

impl Node {
    pub fn new(data_dir: impl Into<PathBuf>, config: Config) -> Self {
        let data_dir = data_dir.into();
        let file_at_start = connection::read_saved(&data_dir)
            .ok()
            .map(|c| ConnectionValues::of(&c));
        Self {
            data_dir,
            config,
            kdf_cost: KdfCost::DEFAULT,
            trade_config: TradeConfig::default(),
            unlocked: Mutex::new(None),
            startup: StartupTracker::default(),
            online_plan: std::sync::Mutex::new(None),
            going_online: Mutex::new(()),
            online_started: AtomicBool::new(false),
            file_at_start,
            alerts: tokio::sync::broadcast::channel(256).0,
            market_events: tokio::sync::broadcast::channel(1024).0,
            trade_events: tokio::sync::broadcast::channel(1024).0,
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
        self.startup.reset();
        self.startup.begin(StartupPhase::Keystore);
        let identity =
            tokio::task::spawn_blocking(|| SeedPhrase::generate().and_then(Identity::from_phrase))
                .await
                .map_err(join_error)
                .and_then(|r| r.map_err(Error::from))
                .inspect_err(|e| self.startup.fail(StartupPhase::Keystore, e))?;
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
        self.startup.reset();
        self.startup.begin(StartupPhase::Keystore);
        let words = words.to_owned();
        let identity = tokio::task::spawn_blocking(move || {
            SeedPhrase::parse(&words).and_then(Identity::from_phrase)
        })
        .await
        .map_err(join_error)
        .and_then(|r| r.map_err(Error::from))
        .inspect_err(|e| self.startup.fail(StartupPhase::Keystore, e))?;
        self.install(identity, passphrase).await
    }

    /// Writes the keystore (the Keystore phase, begun by the caller) and opens the database.
    async fn install(&self, identity: Identity, passphrase: &str) -> Result<IdentityInfo> {
        let result = self.install_keystore(identity, passphrase).await;
        let (identity, store) =
            result.inspect_err(|e| self.startup.fail(StartupPhase::Keystore, e))?;
        self.startup
            .done(StartupPhase::Keystore, "created and encrypted");
        let info = self
            .startup
            .run(
                StartupPhase::Database,
                async {
                    store.bind_identity(&identity.peer_id().to_string()).await?;
                    self.finish_unlock(identity, store).await
                },
                database_detail,
            )
            .await?;
        tracing::info!(peer_id = %info.peer_id, data_dir = %self.data_dir.display(), "identity installed");
        Ok(info)
    }

    async fn install_keystore(
        &self,
        identity: Identity,
        passphrase: &str,
    ) -> Result<(Identity, Store)> {
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
        Ok((identity, store))
    }

    /// Opens the keystore with `passphrase` and the database behind it, recording both phases in
    /// [`Self::startup_progress`].
    pub async fn unlock(&self, passphrase: &str) -> Result<IdentityInfo> {
        self.startup.reset();
        let (path, pass) = (self.keystore_path(), passphrase.to_owned());
        let identity = self
            .startup
            .run(
                StartupPhase::Keystore,
                async {
                    tokio::task::spawn_blocking(move || keystore::open(&path, &pass))
                        .await
                        .map_err(join_error)?
                },
                |_| "opened".into(),
            )
            .await?;
        self.startup
            .run(
                StartupPhase::Database,
                async {
                    let store = self.open_store_for(&identity).await?;
                    store.bind_identity(&identity.peer_id().to_string()).await?;
                    self.finish_unlock(identity, store).await
                },
                database_detail,
            )
            .await
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
        let me = keypair.public().to_peer_id();
        let settlement = self.settlement(&me).await?;
        // What the alerts take as known: the trades before the desk can change any of them.
        let known = crate::trading::list_trades(&pool, &me).await?;
        self.notification_prefs
            .send_replace(self.preferences().await?.notifications);
        let refresh_every = config.market_refresh;
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
            self.trade_events.clone(),
        ));
        let watcher = alerts::Watcher::start(
            Alerts::new((&self.trade_config).into(), &known, store::now_ms()),
            desk.subscribe(),
            alert_source,
            self.notification_prefs.subscribe(),
            self.alerts.clone(),
        );
        let market = match Market::start(
            net.clone(),
            book,
            keypair,
            channel_key,
            markets,
            prices,
            refresh_every,
            self.market_events.clone(),
        )
        .await
        {
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

    /// Brings the node online the way a person watches it: starts the network, reaches the
    /// bootstrap peers, then loads the book of `markets` from their makers, recording each phase in
    /// [`Self::startup_progress`]. Only a network that cannot start is an error: unreachable
    /// bootstrap peers or makers are recorded as such and the node keeps running on what it has
    /// (the cached book, trades, gossip and mDNS). Called again (a retry), it skips what runs already.
    pub async fn go_online(
        &self,
        config: NetConfig,
        markets: &[(Asset, Quote)],
    ) -> Result<NetInfo> {
        let _one_at_a_time = self.going_online.lock().await;
        if let Ok(mut plan) = self.online_plan.lock() {
            *plan = Some(OnlinePlan {
                net: config.clone(),
                markets: markets.to_vec(),
            });
        }
        self.startup.reset_from(StartupPhase::Network);
        let bootstrap = config.bootstrap.clone();
        let mdns = config.mdns;
        let info = self
            .startup
            .run(
                StartupPhase::Network,
                self.start_network(config, markets),
                |info| {
                    format!(
                        "listening on {} address{}",
                        info.listen_addrs.len(),
                        if info.listen_addrs.len() == 1 {
                            ""
                        } else {
                            "es"
                        }
                    )
                },
            )
            .await?;
        let net = self.net().await?;
        let reached = self
            .startup
            .run(
                StartupPhase::Bootstrap,
                reach_bootstrap(&net, &bootstrap, mdns),
                Clone::clone,
            )
            .await;
        if let Err(e) = &reached {
            tracing::warn!(error = %e, "no bootstrap peer answered; running on the cached book");
        }
        let loaded = self
            .startup
            .run(
                StartupPhase::Book,
                self.load_book(&net, markets),
                Clone::clone,
            )
            .await;
        if let Err(e) = loaded {
            tracing::warn!(error = %e, "the book could not be loaded from the network");
        }
        Ok(info)
    }

    /// [`Self::go_online`] again with the settings it was last given (after a failed phase), or with
    /// the config's `[net]` settings when it was never brought online.
    pub async fn retry_online(&self) -> Result<StartupProgress> {
        if self.unlocked.lock().await.is_none() {
            return Err(Error::InvalidInput(
                "the network was never started here: unlock the identity first".into(),
            ));
        }
        let plan = self.online_plan.lock().ok().and_then(|plan| plan.clone());
        let (net, markets) = match plan {
            Some(plan) => (plan.net, plan.markets),
            None => self.config.net.resolve()?,
        };
        // The outcome of each phase is in the progress returned.
        let _ = self.go_online(net, &markets).await;
        Ok(self.startup_progress())
    }

    /// Brings the node online in the background, once, with the config's `[net]` settings: what an
    /// app does after its identity is created, restored or unlocked, so the unlock answers at once
    /// (until the network is up, network calls answer `offline`). A start that fails may be started
    /// again this way; [`Self::startup_progress`] says how it goes.
    pub fn go_online_in_background(self: &Arc<Self>) {
        if self.online_started.swap(true, Ordering::SeqCst) {
            return;
        }
        let node = self.clone();
        tokio::spawn(async move {
            let started = match node.config.net.resolve() {
                Ok((net, markets)) => node.go_online(net, &markets).await.map(|info| {
                    tracing::info!(peer_id = %info.peer_id, addrs = ?info.listen_addrs, "network started");
                }),
                Err(e) => Err(e.into()),
            };
            if let Err(e) = started {
                tracing::error!(error = %e, "the network did not start");
                node.online_started.store(false, Ordering::SeqCst);
            }
        });
    }

    /// How far the start has come, phase by phase. Never waits on an unlock or a network start.
    pub fn startup_progress(&self) -> StartupProgress {
        self.startup.snapshot()
    }

    /// Asks the makers of `markets` for their offers when there is anyone to ask, and counts the book.
    async fn load_book(
        &self,
        net: &crate::net::NetClient,
        markets: &[(Asset, Quote)],
    ) -> Result<String> {
        let peers = net.connected_peers().await?.len();
        let mut new = 0;
        let mut failures = Vec::new();
        if peers > 0 {
            let asks = markets.iter().map(|&(base, quote)| async move {
                (base, quote, self.refresh_market(base, quote).await)
            });
            for (base, quote, answer) in futures::future::join_all(asks).await {
                match answer {
                    Ok(n) => new += n,
                    Err(e) => failures.push(format!("{base}/{quote}: {e}")),
                }
            }
        }
        if !markets.is_empty() && failures.len() == markets.len() {
            return Err(Error::io(
                "no market's makers could be asked for offers (the cached book is still shown)",
                std::io::Error::other(failures.join("; ")),
            ));
        }
        let total = self.offers(&BookQuery::default()).await?.len();
        let offers = plural(total, "offer", "offers");
        Ok(if peers == 0 {
            format!("{offers} from this computer's cache; no peer to ask yet")
        } else if failures.is_empty() {
            format!("{offers} in the book, {new} new")
        } else {
            format!(
                "{offers} in the book, {new} new; not answered: {}",
                failures.join("; ")
            )
        })
    }

    /// The chain backend and bootstrap peers: as saved in `souk.toml`, and as this node runs.
    /// Works locked and offline.
    pub fn connection_settings(&self) -> Result<ConnectionSettings> {
        let saved = ConnectionValues::of(&connection::read_saved(&self.data_dir)?);
        let running_bootstrap = self
            .online_plan
            .lock()
            .ok()
            .and_then(|plan| {
                plan.as_ref()
                    .map(|p| p.net.bootstrap.iter().map(ToString::to_string).collect())
            })
            .unwrap_or_else(|| self.config.net.bootstrap.clone());
        let running = ConnectionValues::from_parts(&self.config.chain, &running_bootstrap);
        // The chain backend is read once, at start; bootstrap peers new to a running network are
        // dialled when saved, so only those not reached yet wait for a restart.
        let chain_changed = self
            .file_at_start
            .as_ref()
            .is_some_and(|start| !same_chain(start, &saved));
        let bootstrap_waiting = saved
            .bootstrap
            .iter()
            .any(|a| !running.bootstrap.contains(a));
        let restart_needed = chain_changed || bootstrap_waiting;
        Ok(ConnectionSettings {
            path: connection::file_path(&self.data_dir).display().to_string(),
            saved,
            running,
            env_overrides: connection::env_overrides(),
            restart_needed,
        })
    }

    /// Saves the chain backend and bootstrap peers into `souk.toml` (see [`connection::save`]). A
    /// bootstrap peer new to the running network is dialled at once; the rest applies on restart.
    pub async fn save_connection_settings(&self, edit: ConnectionEdit) -> Result<SavedConnection> {
        let addrs = edit.validate()?;
        let me = self
            .unlocked
            .lock()
            .await
            .as_ref()
            .map(|u| u.identity.peer_id());
        if let Some(me) = me
            && let Some(own) = addrs.iter().find(|a| peer_of(a) == Some(me))
        {
            return Err(Error::InvalidInput(format!(
                "bootstrap peer {own} is this node itself: give another node's address"
            )));
        }
        let data_dir = self.data_dir.clone();
        tokio::task::spawn_blocking(move || connection::save(&data_dir, &edit))
            .await
            .map_err(join_error)??;
        let mut dialled = Vec::new();
        if let Ok(net) = self.net().await {
            let running: Vec<libp2p::Multiaddr> = self
                .online_plan
                .lock()
                .ok()
                .and_then(|plan| plan.as_ref().map(|p| p.net.bootstrap.clone()))
                .unwrap_or_default();
            let fresh = addrs.iter().filter(|a| !running.contains(a)).map(|addr| {
                let net = net.clone();
                async move {
                    BootstrapDial {
                        addr: addr.to_string(),
                        error: dial_bootstrap(&net, addr, LIVE_DIAL_TIMEOUT)
                            .await
                            .err()
                            .map(|e| e.to_string()),
                    }
                }
            });
            dialled = futures::future::join_all(fresh).await;
            // The running network now answers to the saved list: a retry dials these.
            if let Ok(mut plan) = self.online_plan.lock()
                && let Some(plan) = plan.as_mut()
            {
                plan.net.bootstrap = addrs;
            }
        }
        Ok(SavedConnection {
            settings: self.connection_settings()?,
            dialled,
        })
    }

    /// Connects to the chain backend an edit describes and reports its chain, network and tip,
    /// or exactly why it cannot; saves nothing.
    pub async fn test_chain_connection(&self, edit: ConnectionEdit) -> Result<ChainCheck> {
        connection::test_chain(&self.data_dir, &edit).await
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

    /// What changes in the book. Works before the network starts (and across a restart of it):
    /// events flow while it runs.
    pub fn market_events(&self) -> tokio::sync::broadcast::Receiver<MarketEvent> {
        self.market_events.subscribe()
    }

    /// The chain backend, when the config names one (an RPC URL or a cookie file): checked now, so a
    /// wrong chain, network or password stops the start with its reason. Escrows are watched in a
    /// watch-only wallet on the node named after this identity ([`watch_wallet_name`]).
    async fn settlement(&self, me: &libp2p::PeerId) -> Result<Option<crate::trading::Settlement>> {
        let chain = &self.config.chain;
        if !chain.is_configured() {
            if self.trade_config.arbitrator {
                return Err(Error::InvalidInput(
                    "an arbitrator needs a chain backend: give --rpc-url (and --chain, --network)"
                        .into(),
                ));
            }
            return Ok(None);
        }
        let backend = crate::chain::Backend::connect_or_wait(chain, &watch_wallet_name(me)).await?;
        tracing::info!(
            chain = %chain.chain, network = %chain.network, backend = backend.kind(),
            url = %backend.url(), "chain backend connected"
        );
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

    /// Funds this party's escrow output from the chain node's wallet `wallet` (Core backend): built and
    /// checked, then with `broadcast` signed by the wallet and sent (see [`crate::trading::WalletFunding`]).
    pub async fn fund_from_wallet(
        &self,
        trade_id: uuid::Uuid,
        wallet: &str,
        broadcast: bool,
    ) -> Result<crate::trading::WalletFunding> {
        self.desk()
            .await?
            .fund_from_wallet(trade_id, wallet, broadcast)
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

    /// As the arbitrator: decide a dispute (the whole escrow to the buyer or the seller, or a split).
    pub async fn resolve_dispute(
        &self,
        trade_id: uuid::Uuid,
        decision: &crate::trading::Decision,
    ) -> Result<crate::trading::DisputeInfo> {
        self.desk().await?.resolve(trade_id, decision).await
    }

    /// Test hook: makes this node lie to its counterparty by sending `body` as its signed step, unchecked
    /// and unrecorded here; returns the counterparty's refusal, `None` when it took it.
    #[cfg(feature = "test-hooks")]
    pub async fn send_unchecked_step(
        &self,
        trade_id: uuid::Uuid,
        body: crate::protocol::settlement::StepBody,
    ) -> Result<Option<String>> {
        self.desk().await?.send_unchecked_step(trade_id, body).await
    }

    /// Test hook: this node, no party to the trade, forges a dispute case about it for `arbitrator`;
    /// returns the arbitrator's refusal, `None` when it stored the case.
    #[cfg(feature = "test-hooks")]
    pub async fn send_forged_case(
        &self,
        arbitrator: libp2p::PeerId,
        trade_id: uuid::Uuid,
    ) -> Result<Option<String>> {
        self.desk()
            .await?
            .send_forged_case(arbitrator, trade_id)
            .await
    }

    pub async fn dispute_trade(&self, trade_id: uuid::Uuid, reason: String) -> Result<TradeInfo> {
        self.desk().await?.dispute(trade_id, reason).await
    }

    /// What happens to trades and disputes. Works before the network starts (and across a restart
    /// of it): events flow while it runs.
    pub fn trade_events(&self) -> tokio::sync::broadcast::Receiver<TradeEvent> {
        self.trade_events.subscribe()
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

    /// The chain node as it answers now: configured or not, connected with its tip height, or why not.
    /// Works before the network started (then it connects just to ask) and needs no unlocked identity.
    pub async fn chain_status(&self) -> Result<ChainStatus> {
        let config = &self.config.chain;
        let mut status = ChainStatus {
            configured: config.is_configured(),
            chain: config.chain,
            network: config.network,
            rpc_url: None,
            connected: false,
            tip_height: None,
            confirmations: config.required_confirmations(),
            error: None,
        };
        if !status.configured {
            return Ok(status);
        }
        let url = if config.uses_electrum() {
            config.electrum_url.trim().to_owned()
        } else {
            config.rpc_url()
        };
        let shown = without_credentials(&url);
        status.rpc_url = Some(shown.clone());
        let running = {
            let guard = self.unlocked.lock().await;
            guard
                .as_ref()
                .and_then(|u| u.desk.as_ref())
                .and_then(|d| d.chain())
        };
        let ask = async {
            use crate::chain::ChainBackend;
            match running {
                Some(backend) => backend.tip_height().await,
                None if config.uses_electrum() => {
                    crate::chain::ElectrumBackend::connect(config)
                        .await?
                        .tip_height()
                        .await
                }
                None => {
                    crate::chain::RpcBackend::connect(config)
                        .await?
                        .tip_height()
                        .await
                }
            }
        };
        match tokio::time::timeout(CHAIN_STATUS_TIMEOUT, ask).await {
            Ok(Ok(height)) => {
                status.connected = true;
                status.tip_height = Some(height);
            }
            Ok(Err(e)) => status.error = Some(e.to_string().replace(&url, &shown)),
            Err(_) => {
                status.error = Some(format!(
                    "the chain node at {shown} did not answer within {} s",
                    CHAIN_STATUS_TIMEOUT.as_secs()
                ));
            }
        }
        Ok(status)
    }

    /// Peers, listen addresses, DHT state and reachability; [`Error::Offline`] before the network
    /// started.
    pub async fn network_status(&self) -> Result<NetworkStatus> {
        let net = self.net().await?;
        let stats = net.stats().await?;
        let reachability = net.reachability().await?;
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
            listen_addrs,
            connected_peers,
            routing_table_size: u32::try_from(stats.routing_table_size).unwrap_or(u32::MAX),
            stored_records: u32::try_from(stats.stored_records).unwrap_or(u32::MAX),
            reach: reach_of(&reachability),
            nat_status: match reachability.nat {
                crate::net::NatStatus::Public => NatStatus::Public,
                crate::net::NatStatus::Private => NatStatus::Private,
                crate::net::NatStatus::Unknown => NatStatus::Unknown,
            },
            external_addrs: reachability
                .external_addrs
                .iter()
                .map(|a| dialable(&a.to_string(), &peer_id))
                .collect(),
            relays: reachability
                .relays
                .iter()
                .map(|c| RelayStatus {
                    relay: c.relay.to_string(),
                    reservation: c
                        .reserved
                        .as_ref()
                        .map(|a| dialable(&a.to_string(), &peer_id)),
                })
                .collect(),
            relay_server: reachability.relay_server,
            refusals: crate::trading::Refusals {
                peers_ignored: u32::try_from(stats.gossip_graylisted).unwrap_or(u32::MAX),
                ..self.desk().await?.refusals()
            },
            peer_id,
        })
    }

    /// The running network's counters: peers, routing table, records, and what was refused.
    pub async fn net_stats(&self) -> Result<crate::net::NetStats> {
        Ok(self.net().await?.stats().await?)
    }

    /// The running network's events (peers coming and going, addresses, reservations), to follow it.
    pub async fn network_events(
        &self,
    ) -> Result<tokio::sync::broadcast::Receiver<crate::net::NetEvent>> {
        Ok(self.net().await?.subscribe_events())
    }

    /// The network client stays inside the core: shells go through the node's own methods.
    pub(crate) async fn net(&self) -> Result<crate::net::NetClient> {
        Ok(self.market().await?.net().clone())
    }

    async fn info(&self, u: &Unlocked) -> Result<IdentityInfo> {
        let version = u.store.schema_version().await?;
        Ok(IdentityInfo {
            peer_id: u.identity.peer_id().to_string(),
            data_dir: self.data_dir_string(),
            schema_version: u32::try_from(version)
                .map_err(|_| Error::Internal(format!("schema version {version}")))?,
            arbitrator: self.trade_config.arbitrator,
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

/// What a settings save did: the settings as they now stand, and the bootstrap peers new to the
/// running network, dialled at once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct SavedConnection {
    pub settings: ConnectionSettings,
    pub dialled: Vec<BootstrapDial>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct BootstrapDial {
    pub addr: String,
    /// `None` when connected.
    pub error: Option<String>,
}

/// Dials every bootstrap peer at once; fails only when there are some and none answers.
async fn reach_bootstrap(
    net: &crate::net::NetClient,
    bootstrap: &[libp2p::Multiaddr],
    mdns: bool,
) -> Result<String> {
    if bootstrap.is_empty() {
        return Ok(if mdns {
            "no bootstrap peers set; looking for peers on the local network".into()
        } else {
            "no bootstrap peers set".into()
        });
    }
    let dials = bootstrap
        .iter()
        .map(|addr| dial_bootstrap(net, addr, BOOTSTRAP_TIMEOUT));
    let mut failures: Vec<crate::net::NetError> = futures::future::join_all(dials)
        .await
        .into_iter()
        .filter_map(Result::err)
        .collect();
    let reached = bootstrap.len() - failures.len();
    if reached == 0 {
        if failures.len() == 1
            && let Some(only) = failures.pop()
        {
            return Err(only.into());
        }
        let reasons: Vec<String> = failures.iter().map(ToString::to_string).collect();
        return Err(crate::net::NetError::Dial {
            addr: format!("any of the {} bootstrap peers", failures.len()),
            reason: reasons.join("; "),
        }
        .into());
    }
    let peers = net.connected_peers().await?.len();
    let mut detail = format!(
        "{reached} of {} bootstrap peers connected; {}",
        bootstrap.len(),
        plural(peers, "peer", "peers")
    );
    if !failures.is_empty() {
        let reasons: Vec<String> = failures.iter().map(ToString::to_string).collect();
        detail.push_str(&format!("; not answered: {}", reasons.join("; ")));
    }
    Ok(detail)
}

/// Dials one bootstrap peer, waiting at most `timeout`; the error says why in plain words.
async fn dial_bootstrap(
    net: &crate::net::NetClient,
    addr: &libp2p::Multiaddr,
    timeout: std::time::Duration,
) -> std::result::Result<(), crate::net::NetError> {
    match tokio::time::timeout(timeout, net.dial(addr.clone())).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(crate::net::NetError::Dial { addr, reason })) => {
            tracing::debug!(%addr, %reason, "bootstrap peer not reached");
            Err(crate::net::NetError::Dial {
                reason: plain_dial_reason(&reason),
                addr,
            })
        }
        Ok(Err(e)) => Err(e),
        Err(_) => Err(crate::net::NetError::Dial {
            addr: addr.to_string(),
            reason: format!("no answer within {} s", timeout.as_secs()),
        }),
    }
}

/// The same chain backend settings (bootstrap peers aside).
fn same_chain(a: &ConnectionValues, b: &ConnectionValues) -> bool {
    (
        &a.chain,
        &a.network,
        &a.rpc_url,
        &a.rpc_user,
        a.rpc_password_set,
        &a.rpc_cookie_file,
    ) == (
        &b.chain,
        &b.network,
        &b.rpc_url,
        &b.rpc_user,
        b.rpc_password_set,
        &b.rpc_cookie_file,
    )
}

/// libp2p's nested dial error in words a person can act on; the full text goes to the log.
fn plain_dial_reason(reason: &str) -> String {
    let has = |needle: &str| reason.to_ascii_lowercase().contains(needle);
    if has("connection refused") {
        "connection refused: nothing listens at that address (is the peer running?)".into()
    } else if has("wrongpeerid") || has("unexpected peer") || has("peer id mismatch") {
        "another node answered at that address: check the /p2p/<PeerId> part".into()
    } else if has("timed out") || has("timeout") {
        "no answer in time".into()
    } else if has("no route to host") || has("network is unreachable") {
        "no route to that host from this computer".into()
    } else if has("failed to lookup") || has("name or service not known") || has("dns") {
        "the host name could not be resolved".into()
    } else {
        reason.to_owned()
    }
}

fn database_detail(info: &IdentityInfo) -> String {
    format!("schema version {}", info.schema_version)
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn peer_of(addr: &libp2p::Multiaddr) -> Option<libp2p::PeerId> {
    match addr.iter().last() {
        Some(libp2p::multiaddr::Protocol::P2p(peer)) => Some(peer),
        _ => None,
    }
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

/// `http://user:password@host/` → `http://host/`: a URL as it may be shown.
fn without_credentials(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://{}", &rest[at + 1..]),
        None => url.to_owned(),
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

/// The watch-only wallet this identity keeps on its chain node: one per identity, so several Souk
/// installs (or a party and an arbitrator) can share a node without sharing a wallet.
pub fn watch_wallet_name(me: &libp2p::PeerId) -> String {
    let id = me.to_base58();
    format!("souk-{}", &id[id.len().saturating_sub(12)..])
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
    async fn chain_status_says_unconfigured_or_why_the_chain_node_cannot_be_reached() {
        let tmp = tempfile::tempdir().unwrap();
        let status = node(tmp.path()).chain_status().await.unwrap();
        assert!(!status.configured && !status.connected, "{status:?}");
        assert_eq!((status.rpc_url, status.error), (None, None));

        // A port nothing listens on (bound, then freed), with credentials in the URL: the reason is
        // given in words, and the credentials are never shown.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut config = Config::default();
        config.chain.rpc_url = format!("http://souk:s3cret@127.0.0.1:{port}/");
        let status = Node::new(tmp.path(), config).chain_status().await.unwrap();
        assert!(status.configured && !status.connected, "{status:?}");
        assert_eq!(status.tip_height, None);
        let shown = format!("http://127.0.0.1:{port}/");
        assert_eq!(status.rpc_url.as_deref(), Some(shown.as_str()));
        let error = status.error.unwrap();
        assert!(
            error.contains("cannot reach the chain node") && error.contains(&shown),
            "{error}"
        );
        assert!(!error.contains("s3cret"), "{error}");
    }

    #[test]
    fn urls_are_shown_without_credentials() {
        assert_eq!(
            without_credentials("http://u:p@10.0.0.2:8332/wallet/x"),
            "http://10.0.0.2:8332/wallet/x"
        );
        assert_eq!(without_credentials("http://h:1/a@b"), "http://h:1/a@b");
        assert_eq!(without_credentials("nonsense"), "nonsense");
    }

    #[test]
    fn reach_prefers_a_public_address_over_a_relay_over_nothing() {
        use crate::net::{NatStatus as Nat, Reachability, RelayCircuit};
        let relay: libp2p::PeerId = libp2p::identity::Keypair::generate_ed25519()
            .public()
            .to_peer_id();
        let circuit: libp2p::Multiaddr = format!("/ip4/127.0.0.1/tcp/1/p2p/{relay}/p2p-circuit")
            .parse()
            .unwrap();
        let of = |nat, external: Vec<libp2p::Multiaddr>, reserved: bool| {
            reach_of(&Reachability {
                nat,
                external_addrs: external,
                relays: vec![RelayCircuit {
                    relay,
                    listen_addr: circuit.clone(),
                    reserved: reserved.then(|| circuit.clone()),
                }],
                relay_server: false,
            })
        };
        let public: libp2p::Multiaddr = "/ip4/203.0.113.7/tcp/4001".parse().unwrap();
        assert_eq!(of(Nat::Unknown, vec![], false), Reach::Unknown);
        assert_eq!(of(Nat::Private, vec![], false), Reach::Private);
        assert_eq!(of(Nat::Private, vec![], true), Reach::Relayed);
        // A relayed address confirmed as external is still only relayed.
        assert_eq!(
            of(Nat::Unknown, vec![circuit.clone()], true),
            Reach::Relayed
        );
        assert_eq!(of(Nat::Unknown, vec![public.clone()], true), Reach::Public);
        assert_eq!(of(Nat::Public, vec![], true), Reach::Public);
    }

    #[tokio::test]
    async fn the_arbitrator_setting_is_in_the_identity_info() {
        let tmp = tempfile::tempdir().unwrap();
        let plain = node(&tmp.path().join("a"));
        assert!(
            !plain
                .create_identity("passphrase-1")
                .await
                .unwrap()
                .identity
                .arbitrator
        );
        let arbitrator = node(&tmp.path().join("b")).with_trade_config(TradeConfig {
            arbitrator: true,
            ..TradeConfig::default()
        });
        arbitrator.create_identity("passphrase-1").await.unwrap();
        assert!(
            matches!(arbitrator.status().await.unwrap(), AppStatus::Unlocked { identity } if identity.arbitrator)
        );
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
