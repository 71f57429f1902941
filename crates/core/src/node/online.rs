//! Going online: the network, the desk, the alert watcher and the market started on the unlocked
//! identity, the bootstrap peers reached, the book loaded, and a retry of all that.

use std::sync::{Arc, atomic::Ordering};

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::{Node, OnlinePlan, plural};
use crate::{
    alerts::{self, Alerts},
    book::BookQuery,
    error::{Error, Result},
    market::{Market, OfferFilter, PriceFeed},
    net::{NetConfig, Network},
    offer::{Asset, Quote},
    price::HttpTicker,
    startup::{StartupPhase, StartupProgress},
    store,
    trading::Desk,
};

/// How long the start waits for each bootstrap peer to answer.
pub const BOOTSTRAP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Where a started network listens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, utoipa::ToSchema)]
pub struct NetInfo {
    pub peer_id: String,
    pub listen_addrs: Vec<String>,
}

impl Node {
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
        let tor = match config.tor_settings() {
            Some(settings) => Some(self.ensure_tor(settings).await?),
            None => None,
        };
        // Only Tor mode sends everything through tor; a bridge's price feed is clearnet.
        let tor_mode = config.tor.is_some();
        if tor_mode && let Some(u) = self.unlocked.lock().await.as_mut() {
            u.tor_mode = true;
        }
        let prices = match self.config.price.url.trim() {
            "" => None,
            url => Some(PriceFeed {
                // Tor mode asks for prices through tor too.
                source: HttpTicker::through(
                    url,
                    std::time::Duration::from_secs(10),
                    tor.as_ref().filter(|_| tor_mode).map(|t| t.socks_addr()),
                )?,
                every: std::time::Duration::from_secs(self.config.price.refresh_secs.max(1)),
            }),
        };
        let me = keypair.public().to_peer_id();
        let settlement = self.settlement(&me).await?;
        // What the alerts take as known: the trades before the desk can change any of them.
        let known = crate::trading::list_trades(&pool, &me).await?;
        let preferences = self.preferences().await?;
        self.notification_prefs
            .send_replace(preferences.notifications);
        self.saved_searches.send_replace(preferences.saved_searches);
        let refresh_every = config.market_refresh;
        let (net, _events) = match tor {
            Some(tor) => {
                Network::start_over_tor(config, keypair.clone(), Arc::new(OfferFilter), tor).await?
            }
            None => Network::start(config, keypair.clone(), Arc::new(OfferFilter)).await?,
        };
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
            alerts::MarketSide {
                events: self.market_events.subscribe(),
                searches: self.saved_searches.subscribe(),
                out: self.market_events.clone(),
            },
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

    /// `[chain]` as this node reaches it: in Tor mode a backend off this machine goes through tor's
    /// SOCKS port (the backend never learns where this node is; an onion address works), one on
    /// this machine directly.
    pub(crate) async fn reach_chain(
        &self,
    ) -> std::result::Result<crate::config::ChainConfig, crate::chain::ChainError> {
        let mut chain = self.config.chain.clone();
        if chain.is_configured() && !chain.is_local() {
            chain.proxy = self.chain_proxy().await?;
        }
        Ok(chain)
    }

    /// The proxy a chain backend off this machine is reached through: tor's in Tor mode. Tor mode
    /// without a running tor refuses rather than go around it.
    pub(crate) async fn chain_proxy(
        &self,
    ) -> std::result::Result<Option<std::net::SocketAddr>, crate::chain::ChainError> {
        let running = {
            let guard = self.unlocked.lock().await;
            guard
                .as_ref()
                .filter(|u| u.tor_mode)
                .and_then(|u| u.tor.as_ref().map(|t| t.socks_addr()))
        };
        let planned = self
            .online_plan
            .lock()
            .ok()
            .and_then(|plan| plan.as_ref().map(|p| p.net.tor.is_some()));
        match running {
            Some(socks) => Ok(Some(socks)),
            None if planned.unwrap_or(self.config.net.tor) => {
                Err(crate::chain::ChainError::Config(
                    "Tor mode: the chain backend is reached through tor, which has not started yet"
                        .into(),
                ))
            }
            None => Ok(None),
        }
    }

    /// This identity's running `tor`, started (and waited for through its bootstrap, each step noted
    /// in the startup progress) when there is none yet.
    async fn ensure_tor(
        &self,
        settings: &crate::net::tor::TorSettings,
    ) -> Result<Arc<crate::net::tor::Tor>> {
        {
            let guard = self.unlocked.lock().await;
            let u = guard
                .as_ref()
                .ok_or(Error::NotInitialized(self.data_dir.clone()))?;
            if let Some(tor) = &u.tor {
                return Ok(tor.clone());
            }
        }
        let startup = self.startup.clone();
        let tor = Arc::new(
            crate::net::tor::Tor::launch(settings, &self.data_dir.join("tor"), |progress| {
                tracing::info!(%progress, "tor bootstrap");
                startup.note(StartupPhase::Tor, progress.to_string());
            })
            .await?,
        );
        let mut guard = self.unlocked.lock().await;
        match guard.as_mut() {
            Some(u) => Ok(u.tor.get_or_insert(tor).clone()),
            // Locked meanwhile: this tor stops as it is dropped.
            None => Err(Error::NotInitialized(self.data_dir.clone())),
        }
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
        self.startup.reset_from(StartupPhase::Tor);
        self.startup.set_tor(config.tor_settings().is_some());
        if let Some(settings) = config.tor_settings() {
            self.startup
                .run(StartupPhase::Tor, self.ensure_tor(settings), |tor| {
                    format!("bootstrapped; SOCKS proxy {}", tor.socks_addr())
                })
                .await?;
        }
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
        // Counted in SQLite: reading a large book whole only to count it would leave its memory with
        // the process (the allocator keeps what it freed) for as long as the node runs.
        let (book, _) = self.book_and_price(&BookQuery::default()).await?;
        let total =
            usize::try_from(book.live_count(crate::store::now_ms()).await?).unwrap_or(usize::MAX);
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

    /// The chain backend, when the config names one (an RPC URL or a cookie file): checked now, so a
    /// wrong chain, network or password stops the start with its reason. Escrows are watched in a
    /// watch-only wallet on the node named after this identity ([`watch_wallet_name`]).
    async fn settlement(&self, me: &libp2p::PeerId) -> Result<Option<crate::trading::Settlement>> {
        let chain = &self.reach_chain().await?;
        if let Some(backend) = &self.chain_backend {
            let custom = crate::chain::Custom {
                backend: backend.clone(),
                chain: chain.chain,
                network: chain.network,
                url: crate::chain::GIVEN_BACKEND_URL.into(),
            };
            return Ok(Some(crate::trading::Settlement {
                backend: Arc::new(crate::chain::Backend::Custom(Box::new(custom))),
                confirmations: chain.required_confirmations(),
            }));
        }
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
pub(super) async fn dial_bootstrap(
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

async fn net_info(market: &Market) -> Result<NetInfo> {
    let addrs = market.net().listen_addrs().await?;
    Ok(NetInfo {
        peer_id: market.net().local_peer_id().to_string(),
        listen_addrs: addrs.iter().map(ToString::to_string).collect(),
    })
}

/// The watch-only wallet this identity keeps on its chain node: one per identity, so several Souk
/// installs (or a party and an arbitrator) can share a node without sharing a wallet.
pub fn watch_wallet_name(me: &libp2p::PeerId) -> String {
    let id = me.to_base58();
    format!("souk-{}", &id[id.len().saturating_sub(12)..])
}
