//! Harness for Souk's end-to-end scenarios: real nodes (real SQLite files, real libp2p swarms on
//! loopback, port 0), each in its own temp data dir; helpers await events instead of sleeping.

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use souk_core::{
    book::{BookEntry, BookQuery},
    config::Config,
    identity::KdfCost,
    net::NetConfig,
    node::{NetInfo, Node},
    offer::{Asset, EscrowKind, Fiat, NewOffer, PaymentMethod, Price, Quote, Side},
    trading::{TradeAnswer, TradeInfo},
};
use uuid::Uuid;

pub mod chaos;
pub mod electrumx;
pub mod funded;
pub mod regtest;
pub mod soak;
pub mod tor;

/// The keystore's strength is tested in souk-core; scenarios use a cheap KDF so they stay fast.
pub const TEST_KDF: KdfCost = KdfCost {
    memory_kib: 256,
    iterations: 1,
    lanes: 1,
};
pub const PASSPHRASE: &str = "scenario passphrase";
/// How long any awaited condition may take before a scenario fails.
pub const DEADLINE: Duration = Duration::from_secs(30);
pub const BTC_EUR: (Asset, Quote) = (Asset::Btc, Quote::Fiat(Fiat::Eur));
/// How long [`TestNode::await_offer`] waits for gossip before asking the makers directly.
pub const GOSSIP_GRACE: Duration = Duration::from_secs(10);

/// With `SOUK_TEST_LOG` set (an `EnvFilter`, say `souk_core=debug`), the test's nodes log to the test's
/// output (`cargo test -- --nocapture` shows it), with the time since the test started.
pub fn log_if_asked() {
    if let Ok(filter) = std::env::var("SOUK_TEST_LOG") {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
            .with_timer(tracing_subscriber::fmt::time::uptime())
            .with_test_writer()
            .try_init();
    }
}

/// A data directory that disappears with the test.
#[derive(Debug)]
pub struct TestDir {
    dir: tempfile::TempDir,
}

impl TestDir {
    pub fn new() -> Self {
        log_if_asked();
        Self {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

impl Default for TestDir {
    fn default() -> Self {
        Self::new()
    }
}

/// A node over `data_dir` with the cheap KDF and no price feed (tests never leave loopback).
pub fn node(data_dir: &Path) -> Node {
    let mut config = Config::default();
    config.price.url = String::new();
    node_with(data_dir, config)
}

/// Test nodes retry undelivered envelopes every second at most, so a peer that comes back is reached
/// well inside [`DEADLINE`].
pub fn node_with(data_dir: &Path, config: Config) -> Node {
    Node::new(data_dir, config)
        .with_kdf_cost(TEST_KDF)
        .with_trade_config(test_trades())
}

/// Fast retries, and a chain watcher that looks often (tests mine blocks and wait for the result).
pub fn test_trades() -> souk_core::trading::TradeConfig {
    souk_core::trading::TradeConfig {
        max_retry: Duration::from_secs(1),
        watch_every: Duration::from_millis(200),
        ..Default::default()
    }
}

/// One running node of a [`TestNet`].
#[derive(Debug)]
pub struct TestNode {
    pub node: Node,
    pub data_dir: PathBuf,
    pub info: NetInfo,
    /// The seed words, when this start created the identity.
    pub words: Option<Vec<String>>,
}

impl TestNode {
    /// Creates (first time) or unlocks (restart) the identity in `data_dir` and starts its network.
    pub async fn start(data_dir: PathBuf, bootstrap: &[String]) -> Self {
        let mut config = NetConfig::loopback_for_tests();
        config.bootstrap = bootstrap
            .iter()
            .map(|a| a.parse().expect("multiaddr"))
            .collect();
        Self::start_with(data_dir, config).await
    }

    /// [`TestNode::start`] with a network configuration of the test's own.
    pub async fn start_with(data_dir: PathBuf, config: NetConfig) -> Self {
        Self::start_node(node(&data_dir), data_dir, config).await
    }

    /// A node without a chain, joining through `bootstrap`, trading by `trades`.
    pub async fn start_trading(
        data_dir: PathBuf,
        bootstrap: &[String],
        trades: souk_core::trading::TradeConfig,
    ) -> Self {
        Self::start_settling(data_dir, bootstrap, Config::default().chain, trades).await
    }

    /// A node settling escrows on `chain`, joining through `bootstrap`, trading by `trades`.
    pub async fn start_settling(
        data_dir: PathBuf,
        bootstrap: &[String],
        chain: souk_core::config::ChainConfig,
        trades: souk_core::trading::TradeConfig,
    ) -> Self {
        Self::start_with_chain(data_dir, bootstrap, chain, trades, |node| node).await
    }

    /// A node settling escrows on Litecoin regtest through `chain`, a chain in memory shared by the
    /// test's nodes (no chain node), joining through `bootstrap`, trading by `trades`.
    pub async fn start_on_fake_chain(
        data_dir: PathBuf,
        bootstrap: &[String],
        chain: std::sync::Arc<souk_core::chain::fake::FakeChain>,
        trades: souk_core::trading::TradeConfig,
    ) -> Self {
        let mut config = Config::default().chain;
        config.chain = souk_core::escrow::Chain::Ltc;
        config.network = souk_core::escrow::Network::Regtest;
        Self::start_with_chain(data_dir, bootstrap, config, trades, |node| {
            node.with_chain_backend(chain)
        })
        .await
    }

    /// A node with the chain settings `chain` (and whatever `build` adds), joining through `bootstrap`.
    async fn start_with_chain(
        data_dir: PathBuf,
        bootstrap: &[String],
        chain: souk_core::config::ChainConfig,
        trades: souk_core::trading::TradeConfig,
        build: impl FnOnce(Node) -> Node,
    ) -> Self {
        let mut config = Config::default();
        config.price.url = String::new();
        config.chain = chain;
        let node = build(
            Node::new(&data_dir, config)
                .with_kdf_cost(TEST_KDF)
                .with_trade_config(trades),
        );
        let mut net = NetConfig::loopback_for_tests();
        net.bootstrap = bootstrap
            .iter()
            .map(|a| a.parse().expect("multiaddr"))
            .collect();
        Self::start_node(node, data_dir, net).await
    }

    async fn start_node(node: Node, data_dir: PathBuf, config: NetConfig) -> Self {
        let words = if data_dir.join("identity.keystore").exists() {
            node.unlock(PASSPHRASE).await.expect("unlock");
            None
        } else {
            let created = node
                .create_identity(PASSPHRASE)
                .await
                .expect("create identity");
            Some(created.words)
        };
        let info = node
            .start_network(config, &[BTC_EUR])
            .await
            .expect("start network");
        Self {
            node,
            data_dir,
            info,
            words,
        }
    }

    /// This node's dialable address, `/ip4/127.0.0.1/tcp/PORT/p2p/PEER`.
    pub fn address(&self) -> String {
        let addr = self
            .info
            .listen_addrs
            .iter()
            .find(|a| a.contains("127.0.0.1"))
            .expect("a loopback address");
        format!("{addr}/p2p/{}", self.info.peer_id)
    }

    pub async fn book(&self) -> Vec<BookEntry> {
        self.node
            .offers(&BookQuery::default())
            .await
            .expect("query the book")
    }

    pub async fn net_stats(&self) -> souk_core::net::NetStats {
        self.node.net_stats().await.expect("network running")
    }

    pub async fn has_offer(&self, id: Uuid) -> bool {
        self.book().await.iter().any(|e| e.offer.id == id)
    }

    /// Waits until `check` holds for this node's book, re-checking on every market event.
    pub async fn await_book(&self, what: &str, check: impl Fn(&[BookEntry]) -> bool) {
        let mut events = self.node.market_events();
        let wait = async {
            loop {
                if check(&self.book().await) {
                    return;
                }
                // Any event (or a lag) is a reason to look again.
                let _ = events.recv().await;
            }
        };
        if tokio::time::timeout(DEADLINE, wait).await.is_err() {
            panic!(
                "{} timed out waiting for {what}; its book: {:?}",
                self.info.peer_id,
                self.book().await
            );
        }
    }

    /// Waits until offer `id` is in this node's book, for scenarios about what comes after.
    ///
    /// Gossip or a DHT store brings an offer within a second or so. On a loaded machine a node can
    /// miss the gossip (the maker published before it learnt of this node's subscription); the app
    /// then gets the offer from the makers when it refreshes the market (at start, and from the Market
    /// screen). After [`GOSSIP_GRACE`] this does the same, every two seconds, and says so on stderr.
    /// Propagation itself is tested with [`Self::await_book`] (`offer_reaches_every_node`).
    pub async fn await_offer(&self, id: Uuid) {
        let has = |b: &[BookEntry]| b.iter().any(|e| e.offer.id == id);
        let mut events = self.node.market_events();
        let started = tokio::time::Instant::now();
        let wait = async {
            let mut said = false;
            loop {
                if has(&self.book().await) {
                    return;
                }
                if started.elapsed() < GOSSIP_GRACE {
                    let _ = tokio::time::timeout(Duration::from_secs(1), events.recv()).await;
                    continue;
                }
                if !said {
                    eprintln!(
                        "{}: offer {id} did not arrive by gossip within {GOSSIP_GRACE:?}; asking the makers",
                        self.info.peer_id
                    );
                    said = true;
                }
                for (base, quote) in [BTC_EUR, (Asset::Ltc, Quote::Fiat(Fiat::Eur))] {
                    let _ = self.node.refresh_market(base, quote).await;
                }
                let _ = tokio::time::timeout(Duration::from_secs(2), events.recv()).await;
            }
        };
        if tokio::time::timeout(DEADLINE, wait).await.is_err() {
            panic!(
                "{} timed out waiting for offer {id}; its book: {:?}",
                self.info.peer_id,
                self.book().await
            );
        }
    }

    /// Waits until `check` holds for trade `id` on this node, re-checking on every trade event.
    pub async fn await_trade(
        &self,
        id: Uuid,
        what: &str,
        check: impl Fn(&souk_core::trading::TradeInfo) -> bool,
    ) -> souk_core::trading::TradeInfo {
        let mut events = self.node.trade_events();
        let wait = async {
            loop {
                if let Ok(trade) = self.node.trade(id).await
                    && check(&trade)
                {
                    return trade;
                }
                let _ = events.recv().await;
            }
        };
        match tokio::time::timeout(DEADLINE, wait).await {
            Ok(trade) => trade,
            Err(_) => panic!(
                "{} timed out waiting for {what}; the trade: {:?}",
                self.info.peer_id,
                self.node.trade(id).await
            ),
        }
    }

    /// Waits until `check` holds for the chat of trade `id`, re-checking on every trade event.
    pub async fn await_chat(
        &self,
        id: Uuid,
        what: &str,
        check: impl Fn(&[souk_core::trading::ChatMessage]) -> bool,
    ) -> Vec<souk_core::trading::ChatMessage> {
        let mut events = self.node.trade_events();
        let wait = async {
            loop {
                let log = self.node.chat_log(id).await.expect("chat log");
                if check(&log) {
                    return log;
                }
                let _ = events.recv().await;
            }
        };
        match tokio::time::timeout(DEADLINE, wait).await {
            Ok(log) => log,
            Err(_) => panic!(
                "{} timed out waiting for {what}; the chat: {:?}",
                self.info.peer_id,
                self.node.chat_log(id).await
            ),
        }
    }

    /// The buyer's node pays the release's fee reserve on to its payout address once the release
    /// confirmed: waits for that child, mines a block and waits until the child is confirmed. Returns
    /// the reserve as the buyer's node shows it.
    pub async fn reserve_paid_on(
        &self,
        id: Uuid,
        ltc: &regtest::Litecoind,
    ) -> souk_core::trading::ReserveView {
        let spent = self
            .await_trade(id, "the fee reserve paid on", |t| {
                t.escrow
                    .as_ref()
                    .and_then(|e| e.fee_reserve.as_ref())
                    .is_some_and(|r| r.txid.is_some())
            })
            .await;
        let reserve = spent.escrow.and_then(|e| e.fee_reserve).expect("a reserve");
        let txid = reserve
            .txid
            .clone()
            .expect("a child")
            .parse()
            .expect("a txid");
        ltc.mine(1).await;
        ltc.await_confirmations(&txid, 1).await;
        self.await_trade(id, "the fee reserve's child confirmed", |t| {
            t.escrow
                .as_ref()
                .and_then(|e| e.fee_reserve.as_ref())
                .is_some_and(|r| r.done)
        })
        .await;
        reserve
    }

    pub async fn stop(self) -> PathBuf {
        self.node.shutdown().await;
        self.data_dir
    }
}

/// N real nodes on loopback: node 0 is everyone's bootstrap peer.
#[derive(Debug)]
pub struct TestNet {
    pub nodes: Vec<TestNode>,
    pub dir: TestDir,
}

impl TestNet {
    pub async fn start(n: usize) -> Self {
        let dir = TestDir::new();
        let mut nodes = vec![TestNode::start(dir.path("node-0"), &[]).await];
        let bootstrap = vec![nodes[0].address()];
        let rest = (1..n).map(|i| TestNode::start(dir.path(&format!("node-{i}")), &bootstrap));
        nodes.extend(futures::future::join_all(rest).await);
        Self { nodes, dir }
    }

    /// Starts one more node that joins through node 0.
    pub async fn join(&mut self, name: &str) -> &TestNode {
        let node = TestNode::start(self.dir.path(name), &[self.nodes[0].address()]).await;
        self.nodes.push(node);
        self.nodes.last().expect("just pushed")
    }

    pub async fn shutdown(self) {
        futures::future::join_all(self.nodes.into_iter().map(TestNode::stop)).await;
    }
}

/// A BTC/EUR sell offer at a fixed price, 0.01–0.1 BTC by SEPA.
pub fn sell_offer(price_eur: u32) -> NewOffer {
    NewOffer {
        side: Side::Sell,
        base: Asset::Btc,
        quote: Quote::Fiat(Fiat::Eur),
        price: Price::Fixed(price_eur.into()),
        min_amount: 1_000_000,
        max_amount: 10_000_000,
        payment_methods: vec![PaymentMethod::new("SEPA").expect("valid method")],
        escrow: EscrowKind::None,
        deposit_bps: 1_500,
        maker_x25519: [0; 32],
        ttl_ms: 24 * 3_600_000,
        terms: String::new(),
    }
}

/// An LTC/EUR sell offer, 0.5–2 LTC by SEPA, with a 2-of-3 escrow under `arbitrator` and 15 % deposits.
/// An escrow trade agreed: `maker` posts [`ltc_escrow_offer`] under `arbitrator`, `taker` finds it and
/// takes `amount` by SEPA to be paid at `payout`, and the maker accepts. The taker's view of the trade.
pub async fn agree_ltc_escrow_trade(
    maker: &TestNode,
    taker: &TestNode,
    arbitrator: &TestNode,
    amount: u64,
    payout: &str,
) -> TradeInfo {
    let arbitrator = arbitrator.info.peer_id.parse().expect("a PeerId");
    let offer = maker
        .node
        .post_offer(ltc_escrow_offer(arbitrator))
        .await
        .expect("post");
    taker
        .node
        .refresh_market(Asset::Ltc, Quote::Fiat(Fiat::Eur))
        .await
        .expect("refresh");
    taker.await_offer(offer.id).await;
    let trade = taker
        .node
        .take_offer(
            offer.id,
            amount,
            PaymentMethod::new("SEPA").expect("valid method"),
            payout.to_owned(),
        )
        .await
        .expect("take");
    maker
        .node
        .answer_trade(trade.id, TradeAnswer::Accept)
        .await
        .expect("accept");
    trade
}

pub fn ltc_escrow_offer(arbitrator: libp2p::PeerId) -> NewOffer {
    NewOffer {
        side: Side::Sell,
        base: Asset::Ltc,
        quote: Quote::Fiat(Fiat::Eur),
        price: Price::Fixed(80.into()),
        min_amount: 50_000_000,
        max_amount: 200_000_000,
        payment_methods: vec![PaymentMethod::new("SEPA").expect("valid method")],
        escrow: EscrowKind::Multisig {
            arbitrators: vec![arbitrator],
        },
        deposit_bps: 1_500,
        maker_x25519: [0; 32],
        ttl_ms: 3_600_000,
        terms: String::new(),
    }
}
