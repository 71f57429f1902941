//! [`Node`]: the one facade every shell (CLI, desktop, `souk serve`) calls.
//!
//! A node starts locked: it knows its data directory and config but holds no keys. Creating, restoring
//! or unlocking an identity opens the keystore and the database; everything later (network, offers,
//! trades) hangs off the unlocked state. The facade never prints, prompts or exits: shells do that.

mod backup;
mod first_run;
mod lifecycle;
mod offers;
mod online;
mod settings;
mod status;
mod trades;

use std::{
    path::{Path, PathBuf},
    sync::{Arc, atomic::AtomicBool},
};

use tokio::sync::Mutex;

pub use self::{
    backup::{BackupFileInfo, BackupSettings, BackupSummary, ImportedBackup, backup_file_info},
    first_run::SetupChoices,
    lifecycle::{AppStatus, CreatedIdentity, IdentityInfo},
    online::{BOOTSTRAP_TIMEOUT, NetInfo, watch_wallet_name},
    settings::{BootstrapDial, SavedConnection},
    status::{ChainStatus, NatStatus, NetworkStatus, Reach, RelayStatus, reach_of},
};
use crate::{
    alerts::{self, Alert},
    book::Book,
    config::Config,
    connection::{self, ConnectionValues},
    error::{Error, Result},
    identity::{Identity, KdfCost, keystore},
    market::{Market, MarketEvent},
    net::NetConfig,
    offer::{Asset, Quote},
    preferences::NotificationPrefs,
    startup::StartupTracker,
    store::{self, Store},
    trading::{Desk, TradeConfig, TradeEvent},
};

#[derive(Debug)]
pub struct Node {
    data_dir: PathBuf,
    /// The config as given, amended once by the choices made while setting up an identity.
    config: first_run::RunningConfig,
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
    /// The saved searches as last stored, for the alert watcher's matching.
    saved_searches: tokio::sync::watch::Sender<Vec<crate::preferences::SavedSearch>>,
    /// A chain backend of another kind, given by the embedder (a fake chain in tests): used instead of
    /// the one `[chain]` names.
    chain_backend: Option<Arc<dyn crate::chain::ChainBackend>>,
    /// `[backup]` as it applies now: from the config at start, then as Settings last saved it.
    backup_config: std::sync::Mutex<crate::config::BackupConfig>,
}

#[derive(Debug, Clone)]
struct OnlinePlan {
    net: NetConfig,
    markets: Vec<(Asset, Quote)>,
}

#[derive(Debug)]
struct Unlocked {
    identity: Identity,
    store: Store,
    book: Book,
    market: Option<Arc<Market>>,
    desk: Option<Arc<Desk>>,
    alerts: Option<alerts::Watcher>,
    /// `[backup] folder`'s automatic backups, while unlocked.
    auto_backup: Option<backup::AutoBackup>,
    /// Tor mode's running `tor`, started before the network and stopped with the lock.
    tor: Option<Arc<crate::net::tor::Tor>>,
    /// That tor carries everything (Tor mode), not only a bridge's onion side: the chain backend
    /// goes through it too.
    tor_mode: bool,
}

impl Node {
    pub fn new(data_dir: impl Into<PathBuf>, config: Config) -> Self {
        let data_dir = data_dir.into();
        let file_at_start = connection::read_saved(&data_dir)
            .ok()
            .map(|c| ConnectionValues::of(&c));
        Self {
            data_dir,
            backup_config: std::sync::Mutex::new(config.backup.clone()),
            config: first_run::RunningConfig::new(config),
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
            saved_searches: tokio::sync::watch::Sender::new(Vec::new()),
            chain_backend: None,
        }
    }

    /// How this node trades (the cap on open takes per offer, delivery retries).
    pub fn with_trade_config(mut self, config: TradeConfig) -> Self {
        self.trade_config = config;
        self
    }

    /// Settles escrows through `backend` (any [`crate::chain::ChainBackend`], say a fake chain in tests)
    /// instead of the node or server `[chain]` names; `[chain]`'s chain and network still apply.
    pub fn with_chain_backend(mut self, backend: Arc<dyn crate::chain::ChainBackend>) -> Self {
        self.chain_backend = Some(backend);
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

    async fn market(&self) -> Result<Arc<Market>> {
        let guard = self.unlocked.lock().await;
        let u = guard
            .as_ref()
            .ok_or(Error::NotInitialized(self.data_dir.clone()))?;
        u.market.clone().ok_or(Error::Offline)
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

    /// The network client stays inside the core: shells go through the node's own methods.
    pub(crate) async fn net(&self) -> Result<crate::net::NetClient> {
        Ok(self.market().await?.net().clone())
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn join_error(e: tokio::task::JoinError) -> Error {
    Error::Internal(format!("background task failed: {e}"))
}

#[cfg(test)]
mod tests;
