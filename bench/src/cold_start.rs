//! What a user waits for when opening the app, measured through the real [`Node`] facade.
//!
//! 1. **Warm book from cache**: a data directory whose SQLite book already holds N offers (posted
//!    by the node itself on an isolated network, then shut down). Each repetition opens a fresh
//!    [`Node`] on it and times `Node::new` → `unlock` → the first `offers()` answer holding all N.
//!    Repetitions use a cheap KDF; one extra run uses the real default KDF, whose cost is written
//!    in the keystore's header (so that run first restores the identity into the same directory at
//!    the default cost). Baseline in the same process: sqlx alone opening the same file,
//!    `SELECT offer_json FROM offers` and decoding every row, the least any cold start must do.
//! 2. **Empty node to full book over the network**: M makers on loopback share N offers; a fresh
//!    taker bootstraps to one maker, and the time runs from `start_network` returning to its book
//!    holding all N after one `refresh_market` call (and whatever gossip brings meanwhile).
//!
//! Every wait is bounded by the overall deadline; a book that never fills is reported, not hidden.

use std::{
    collections::HashSet,
    fmt,
    future::Future,
    path::Path,
    time::{Duration, Instant},
};

use anyhow::Context;
use futures::future::join_all;
use serde::Serialize;
use souk_core::{
    book::BookQuery,
    book::MAX_OFFERS_PER_MAKER_PER_MARKET,
    config::Config,
    identity::KdfCost,
    market::MarketEvent,
    net::NetConfig,
    node::{NetInfo, Node},
    offer::{Asset, EscrowKind, Fiat, NewOffer, Offer, PaymentMethod, Price, Quote, Side},
};
use sqlx::{ConnectOptions, Connection, sqlite::SqliteConnectOptions};
use tokio::sync::broadcast;
use uuid::Uuid;

use crate::{
    market::{BASE, QUOTE},
    summary::LatencySummary,
};

/// The cheap KDF of the repeated runs (the scenario tests' cost): the KDF's own cost is shown once,
/// with the default, so it does not drown what the rest of the cold start costs.
pub const CHEAP_KDF: KdfCost = KdfCost {
    memory_kib: 256,
    iterations: 1,
    lanes: 1,
};
pub(crate) const PASSPHRASE: &str = "cold-start benchmark passphrase";
/// The keystore and database file names inside a data directory (`souk_core`'s own constants).
const KEYSTORE_FILE: &str = souk_core::identity::keystore::FILE_NAME;
const DB_FILE: &str = souk_core::store::FILE_NAME;
/// Most offers one maker serves in one direct answer (souk-core's `MAX_OFFERS_PER_ANSWER`): more
/// per maker could never fill a fresh node's book through `refresh_market`.
const MAX_OFFERS_PER_MAKER: usize = MAX_OFFERS_PER_MAKER_PER_MARKET;

/// What to measure.
#[derive(Debug, Clone)]
pub struct ColdStartSettings {
    /// N: offers in the warm book, and spread over the makers on the network.
    pub offers: usize,
    /// M: maker nodes on the network (maker i gets N / M offers, the first N % M one more).
    pub makers: usize,
    /// Fresh nodes opened on the warm data directory with the cheap KDF.
    pub repetitions: usize,
    /// Fresh takers joining the network one after another.
    pub joins: usize,
    /// Everything ends by then.
    pub deadline: Duration,
}

impl ColdStartSettings {
    /// 10 repetitions, 3 joins, 300 s overall.
    pub fn new(offers: usize, makers: usize) -> Self {
        Self {
            offers,
            makers,
            repetitions: 10,
            joins: 3,
            deadline: Duration::from_secs(300),
        }
    }
}

/// Part 1: opening a node whose book is already in SQLite.
#[derive(Debug, Clone, Serialize)]
pub struct WarmBookReport {
    /// Posting the N offers on an isolated node and shutting it down (setup, not measured).
    pub fill_secs: f64,
    pub cheap_kdf_memory_kib: u32,
    pub cheap_kdf_iterations: u32,
    /// Runs whose first `offers()` held all N (should be all of them).
    pub runs_full: usize,
    /// `Node::new` → `unlock` → first `offers()` with all N, cheap KDF.
    pub to_book: LatencySummary,
    /// The `unlock` part of it (keystore + opening and checking the database).
    pub unlock: LatencySummary,
    /// The first `offers()` part of it.
    pub first_query: LatencySummary,
    /// sqlx alone: connect to the file, select every `offer_json`, decode each into an `Offer`.
    pub sqlx_baseline: LatencySummary,
    pub p50_ratio_node_to_sqlx: Option<f64>,
    pub default_kdf_memory_kib: u32,
    pub default_kdf_iterations: u32,
    /// Once, with the keystore sealed at the default cost: the same path as `to_book`.
    pub default_kdf_to_book_us: f64,
    pub default_kdf_unlock_us: f64,
    /// `default_kdf_unlock_us / default_kdf_to_book_us`.
    pub default_kdf_unlock_share: f64,
    pub default_kdf_full: bool,
}

/// Part 2: a node with an empty book joining a network that holds N offers.
#[derive(Debug, Clone, Serialize)]
pub struct NetworkBookReport {
    /// Starting the makers and posting every offer (setup, not measured).
    pub setup_secs: f64,
    pub offers_per_maker: Vec<usize>,
    /// Takers whose book held all N before the deadline.
    pub joins_full: usize,
    /// `start_network` returned → `offers()` holds all N, per taker that got there.
    pub to_book: LatencySummary,
    /// The `refresh_market` call alone, per taker.
    pub refresh_call: LatencySummary,
    /// What each taker's `refresh_market` reported as new.
    pub refresh_added: Vec<usize>,
}

/// Everything measured, as written to `--json`.
#[derive(Debug, Clone, Serialize)]
pub struct ColdStartReport {
    pub offers: usize,
    pub makers: usize,
    pub repetitions: usize,
    pub joins: usize,
    pub warm: WarmBookReport,
    pub network: NetworkBookReport,
    pub timed_out: bool,
    pub total_secs: f64,
}

impl ColdStartReport {
    /// Every warm run saw all N offers, and every taker's book filled.
    pub fn all_filled(&self) -> bool {
        self.warm.runs_full == self.repetitions
            && self.warm.default_kdf_full
            && self.network.joins_full == self.joins
    }
}

/// Runs both parts. Errors when the measurement cannot be made at all (a node that does not start,
/// a post that fails, the deadline during setup); a book that does not fill is reported.
pub async fn run_cold_start(settings: ColdStartSettings) -> anyhow::Result<ColdStartReport> {
    anyhow::ensure!(settings.offers >= 1, "cold-start needs at least 1 offer");
    anyhow::ensure!(
        settings.offers <= WARM_MARKETS.len() * MAX_OFFERS_PER_MAKER_PER_MARKET,
        "the warm book holds at most {} offers ({} markets of one maker's {})",
        WARM_MARKETS.len() * MAX_OFFERS_PER_MAKER_PER_MARKET,
        WARM_MARKETS.len(),
        MAX_OFFERS_PER_MAKER_PER_MARKET
    );
    anyhow::ensure!(
        (1..=settings.offers).contains(&settings.makers),
        "cold-start needs between 1 and --offers makers"
    );
    anyhow::ensure!(
        settings.offers.div_ceil(settings.makers) <= MAX_OFFERS_PER_MAKER,
        "at most {MAX_OFFERS_PER_MAKER} offers per maker (one direct answer); use more makers"
    );
    anyhow::ensure!(
        settings.repetitions >= 1 && settings.joins >= 1,
        "cold-start needs at least 1 repetition and 1 join"
    );
    let started = Instant::now();
    let deadline = started + settings.deadline;
    let dir = tempfile::tempdir().context("creating a temp dir")?;

    let (warm, warm_timed_out) = warm_book(&settings, dir.path(), deadline).await?;
    let (network, net_timed_out) = network_book(&settings, dir.path(), deadline).await?;
    Ok(ColdStartReport {
        offers: settings.offers,
        makers: settings.makers,
        repetitions: settings.repetitions,
        joins: settings.joins,
        warm,
        network,
        timed_out: warm_timed_out || net_timed_out,
        total_secs: started.elapsed().as_secs_f64(),
    })
}

/// `fut`, or an error naming `what` at the deadline.
pub(crate) async fn within<T, E>(
    deadline: Instant,
    what: &str,
    fut: impl Future<Output = Result<T, E>>,
) -> anyhow::Result<T>
where
    E: std::error::Error + Send + Sync + 'static,
{
    tokio::time::timeout_at(deadline.into(), fut)
        .await
        .map_err(|_| anyhow::anyhow!("deadline while {what}"))?
        .with_context(|| what.to_owned())
}

/// No price feed: the benchmark never leaves loopback.
pub(crate) fn offline_config() -> Config {
    let mut config = Config::default();
    config.price.url = String::new();
    config
}

pub(crate) fn loopback(bootstrap: Option<&str>, deadline: Duration) -> anyhow::Result<NetConfig> {
    Ok(NetConfig {
        bootstrap: bootstrap
            .map(|a| a.parse().context("a maker's address"))
            .transpose()?
            .into_iter()
            .collect(),
        // No connection may close for idleness while the benchmark runs.
        idle_connection_timeout: deadline,
        ..NetConfig::loopback_for_tests()
    })
}

/// A BTC/EUR sell offer at a fixed price, by SEPA.
pub(crate) fn sell_offer(price_eur: u32) -> anyhow::Result<NewOffer> {
    Ok(NewOffer {
        side: Side::Sell,
        base: BASE,
        quote: QUOTE,
        price: Price::Fixed(price_eur.into()),
        min_amount: 1_000_000,
        max_amount: 10_000_000,
        payment_methods: vec![PaymentMethod::new("SEPA")?],
        escrow: EscrowKind::None,
        deposit_bps: 1_500,
        maker_x25519: [0; 32],
        ttl_ms: 24 * 3_600_000,
        terms: "Cold-start benchmark offer.".into(),
    })
}

pub(crate) fn market_query() -> BookQuery {
    BookQuery {
        base: Some(BASE),
        quote: Some(QUOTE),
        ..BookQuery::default()
    }
}

/// This node's dialable loopback address, `/ip4/127.0.0.1/tcp/PORT/p2p/PEER`.
pub(crate) fn address(info: &NetInfo) -> anyhow::Result<String> {
    let addr = info
        .listen_addrs
        .iter()
        .find(|a| a.contains("127.0.0.1"))
        .context("a node without a loopback address")?;
    Ok(format!("{addr}/p2p/{}", info.peer_id))
}

// ------------------------------------------------------------------------------------ warm book

/// The markets the warm book's offers are spread over, 256 (one maker's most) in each.
const WARM_MARKETS: [(Asset, Quote); 4] = [
    (Asset::Btc, Quote::Fiat(Fiat::Eur)),
    (Asset::Btc, Quote::Fiat(Fiat::Usd)),
    (Asset::Ltc, Quote::Fiat(Fiat::Eur)),
    (Asset::Ltc, Quote::Fiat(Fiat::Usd)),
];

async fn warm_book(
    settings: &ColdStartSettings,
    root: &Path,
    deadline: Instant,
) -> anyhow::Result<(WarmBookReport, bool)> {
    let n = settings.offers;
    let data_dir = root.join("warm");
    let fill_started = Instant::now();
    let words = fill_book(&data_dir, n, settings.deadline, deadline).await?;
    let fill_secs = fill_started.elapsed().as_secs_f64();
    let db = data_dir.join(DB_FILE);

    let (mut to_book, mut unlock, mut first_query, mut baseline) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut runs_full, mut timed_out) = (0, false);
    for _ in 0..settings.repetitions {
        if Instant::now() >= deadline {
            timed_out = true;
            break;
        }
        // Interleaved, so both see the same page cache and the same machine load.
        let (rows, took) = sqlx_read_book(&db, deadline).await?;
        anyhow::ensure!(rows == n, "the baseline read {rows} offers, not {n}");
        baseline.push(took);
        let run = open_warm_node(&data_dir, deadline).await?;
        to_book.push(run.total);
        unlock.push(run.unlock);
        first_query.push(run.total.saturating_sub(run.unlock));
        runs_full += usize::from(run.offers == n);
    }

    // The cost lives in the keystore header: re-seal the same identity at the default cost (the
    // database stays, as it belongs to the same identity), then open it once.
    std::fs::remove_file(data_dir.join(KEYSTORE_FILE)).context("removing the cheap keystore")?;
    let restoring = Node::new(&data_dir, offline_config()).with_kdf_cost(KdfCost::DEFAULT);
    within(
        deadline,
        "restoring the identity at the default KDF cost",
        restoring.restore_identity(&words, PASSPHRASE),
    )
    .await?;
    restoring.shutdown().await;
    let default_run = open_warm_node(&data_dir, deadline).await?;

    let to_book = LatencySummary::of(&to_book);
    let sqlx_baseline = LatencySummary::of(&baseline);
    let default_to_book_us = default_run.total.as_secs_f64() * 1e6;
    let default_unlock_us = default_run.unlock.as_secs_f64() * 1e6;
    Ok((
        WarmBookReport {
            fill_secs,
            cheap_kdf_memory_kib: CHEAP_KDF.memory_kib,
            cheap_kdf_iterations: CHEAP_KDF.iterations,
            runs_full,
            p50_ratio_node_to_sqlx: (to_book.samples > 0 && sqlx_baseline.p50_us > 0.0)
                .then(|| to_book.p50_us / sqlx_baseline.p50_us),
            to_book,
            unlock: LatencySummary::of(&unlock),
            first_query: LatencySummary::of(&first_query),
            sqlx_baseline,
            default_kdf_memory_kib: KdfCost::DEFAULT.memory_kib,
            default_kdf_iterations: KdfCost::DEFAULT.iterations,
            default_kdf_to_book_us: default_to_book_us,
            default_kdf_unlock_us: default_unlock_us,
            default_kdf_unlock_share: if default_to_book_us > 0.0 {
                default_unlock_us / default_to_book_us
            } else {
                0.0
            },
            default_kdf_full: default_run.offers == n,
        },
        timed_out,
    ))
}

/// Creates an identity in `data_dir` (cheap KDF), posts `n` offers on an isolated network so they
/// land in its own book, and shuts it down. Returns the seed words.
async fn fill_book(
    data_dir: &Path,
    n: usize,
    idle: Duration,
    deadline: Instant,
) -> anyhow::Result<String> {
    let node = Node::new(data_dir, offline_config()).with_kdf_cost(CHEAP_KDF);
    let created = within(
        deadline,
        "creating the warm node's identity",
        node.create_identity(PASSPHRASE),
    )
    .await?;
    let posted = async {
        within(
            deadline,
            "starting the warm node's network",
            node.start_network(loopback(None, idle)?, &[(BASE, QUOTE)]),
        )
        .await?;
        for i in 0..n {
            let price = 60_000 + u32::try_from(i).unwrap_or(u32::MAX - 60_000);
            // One maker holds at most 256 live offers per market: the warm book spreads over
            // several (and is read whole, as the Market screen's "all markets" view reads it).
            let (base, quote) =
                WARM_MARKETS[(i / MAX_OFFERS_PER_MAKER_PER_MARKET) % WARM_MARKETS.len()];
            let offer = NewOffer {
                base,
                quote,
                ..sell_offer(price)?
            };
            within(deadline, "posting to the warm book", node.post_offer(offer)).await?;
        }
        anyhow::Ok(())
    }
    .await;
    // Closes the database cleanly (checkpointing the WAL), as an app being quit does.
    node.shutdown().await;
    posted?;
    Ok(created.words.join(" "))
}

/// One cold open of the warm data directory.
struct WarmRun {
    total: Duration,
    unlock: Duration,
    offers: usize,
}

async fn open_warm_node(data_dir: &Path, deadline: Instant) -> anyhow::Result<WarmRun> {
    let started = Instant::now();
    // The cost given here only matters for creating a keystore; unlocking obeys the file's header.
    let node = Node::new(data_dir, offline_config()).with_kdf_cost(CHEAP_KDF);
    let opened = async {
        within(deadline, "unlocking the warm node", node.unlock(PASSPHRASE)).await?;
        let unlock = started.elapsed();
        let book = within(
            deadline,
            "querying the warm book",
            node.offers(&BookQuery::default()),
        )
        .await?;
        let total = started.elapsed();
        anyhow::Ok(WarmRun {
            total,
            unlock,
            offers: book.len(),
        })
    }
    .await;
    node.shutdown().await;
    opened
}

/// The baseline: the least a cold start must do to show the cached book. Returns the rows and the
/// time.
async fn sqlx_read_book(db: &Path, deadline: Instant) -> anyhow::Result<(usize, Duration)> {
    let started = Instant::now();
    let mut conn = within(
        deadline,
        "opening the database with sqlx",
        SqliteConnectOptions::new()
            .filename(db)
            .read_only(true)
            .connect(),
    )
    .await?;
    let rows: Vec<String> = within(
        deadline,
        "selecting offer_json",
        sqlx::query_scalar("SELECT offer_json FROM offers").fetch_all(&mut conn),
    )
    .await?;
    let offers = rows
        .iter()
        .map(|json| serde_json::from_str::<Offer>(json))
        .collect::<Result<Vec<_>, _>>()
        .context("decoding offer_json")?;
    let took = started.elapsed();
    within(deadline, "closing the sqlx connection", conn.close()).await?;
    Ok((offers.len(), took))
}

// ------------------------------------------------------------------------------ network book

/// A running maker.
struct Maker {
    node: Node,
    info: NetInfo,
}

async fn network_book(
    settings: &ColdStartSettings,
    root: &Path,
    deadline: Instant,
) -> anyhow::Result<(NetworkBookReport, bool)> {
    let setup_started = Instant::now();
    let mut makers = Vec::with_capacity(settings.makers);
    let outcome = async {
        let expected = start_makers(settings, root, deadline, &mut makers).await?;
        let setup_secs = setup_started.elapsed().as_secs_f64();
        let bootstrap = address(&makers[0].info)?;
        let (mut to_book, mut refresh_call, mut refresh_added) =
            (Vec::new(), Vec::new(), Vec::new());
        let mut timed_out = false;
        for join in 0..settings.joins {
            if Instant::now() >= deadline {
                timed_out = true;
                break;
            }
            let taker_dir = root.join(format!("taker-{join}"));
            let run = join_taker(&taker_dir, &bootstrap, &expected, settings, deadline).await?;
            refresh_call.push(run.refresh_call);
            refresh_added.push(run.refresh_added);
            match run.to_book {
                Some(took) => to_book.push(took),
                None => timed_out = true,
            }
        }
        let offers_per_maker = (0..settings.makers)
            .map(|i| offers_of_maker(settings, i))
            .collect();
        anyhow::Ok((
            NetworkBookReport {
                setup_secs,
                offers_per_maker,
                joins_full: to_book.len(),
                to_book: LatencySummary::of(&to_book),
                refresh_call: LatencySummary::of(&refresh_call),
                refresh_added,
            },
            timed_out,
        ))
    }
    .await;
    join_all(makers.iter().map(|m| m.node.shutdown())).await;
    outcome
}

fn offers_of_maker(settings: &ColdStartSettings, maker: usize) -> usize {
    settings.offers / settings.makers + usize::from(maker < settings.offers % settings.makers)
}

/// Maker 0 first, the others bootstrapping to it, then every maker posts its share (makers in
/// parallel). Started makers go into `makers` even on failure, so the caller can stop them.
async fn start_makers(
    settings: &ColdStartSettings,
    root: &Path,
    deadline: Instant,
    makers: &mut Vec<Maker>,
) -> anyhow::Result<HashSet<Uuid>> {
    let mut bootstrap = None;
    for i in 0..settings.makers {
        let node =
            Node::new(root.join(format!("maker-{i}")), offline_config()).with_kdf_cost(CHEAP_KDF);
        within(
            deadline,
            "creating a maker's identity",
            node.create_identity(PASSPHRASE),
        )
        .await?;
        let config = loopback(bootstrap.as_deref(), settings.deadline)?;
        let started = within(
            deadline,
            "starting a maker's network",
            node.start_network(config, &[(BASE, QUOTE)]),
        );
        let info = match started.await {
            Ok(info) => info,
            Err(e) => {
                node.shutdown().await;
                return Err(e);
            }
        };
        if bootstrap.is_none() {
            bootstrap = Some(address(&info)?);
        }
        makers.push(Maker { node, info });
    }
    let posts = makers.iter().enumerate().map(|(i, maker)| async move {
        let mut ids = Vec::new();
        for k in 0..offers_of_maker(settings, i) {
            let price = 60_000 + u32::try_from(i * 1_000 + k).unwrap_or(0);
            let offer = within(
                deadline,
                "a maker posting its offers",
                maker.node.post_offer(sell_offer(price)?),
            )
            .await?;
            ids.push(offer.id);
        }
        anyhow::Ok(ids)
    });
    let mut expected = HashSet::new();
    for ids in join_all(posts).await {
        expected.extend(ids?);
    }
    Ok(expected)
}

/// One fresh taker's join.
struct JoinRun {
    /// `None` when its book did not hold every offer by the deadline.
    to_book: Option<Duration>,
    refresh_call: Duration,
    refresh_added: usize,
}

async fn join_taker(
    data_dir: &Path,
    bootstrap: &str,
    expected: &HashSet<Uuid>,
    settings: &ColdStartSettings,
    deadline: Instant,
) -> anyhow::Result<JoinRun> {
    let node = Node::new(data_dir, offline_config()).with_kdf_cost(CHEAP_KDF);
    let run = async {
        within(
            deadline,
            "creating a taker's identity",
            node.create_identity(PASSPHRASE),
        )
        .await?;
        let config = loopback(Some(bootstrap), settings.deadline)?;
        within(
            deadline,
            "starting a taker's network",
            node.start_network(config, &[(BASE, QUOTE)]),
        )
        .await?;
        let started = Instant::now();
        let events = node.market_events();
        let refresh_added = within(
            deadline,
            "refreshing the market",
            node.refresh_market(BASE, QUOTE),
        )
        .await?;
        let refresh_call = started.elapsed();
        let full =
            tokio::time::timeout_at(deadline.into(), await_full_book(&node, expected, events))
                .await
                .ok()
                .transpose()?;
        anyhow::Ok(JoinRun {
            to_book: full.map(|()| started.elapsed()),
            refresh_call,
            refresh_added,
        })
    }
    .await;
    node.shutdown().await;
    run
}

/// Returns once `offers()` holds every expected offer. Counts arrivals from the market's events and
/// only queries the book when they may be complete (or were lost to a lag), so the wait itself does
/// not load the node with a query per offer.
async fn await_full_book(
    node: &Node,
    expected: &HashSet<Uuid>,
    mut events: broadcast::Receiver<MarketEvent>,
) -> anyhow::Result<()> {
    let mut seen = HashSet::with_capacity(expected.len());
    let mut look = true;
    loop {
        if look {
            let book = node.offers(&market_query()).await?;
            seen.extend(
                book.iter()
                    .map(|e| e.offer.id)
                    .filter(|id| expected.contains(id)),
            );
            if seen.len() == expected.len()
                && book
                    .iter()
                    .filter(|e| expected.contains(&e.offer.id))
                    .count()
                    == expected.len()
            {
                return Ok(());
            }
            look = false;
        }
        match events.recv().await {
            Ok(MarketEvent::OfferAdded { offer }) => {
                if expected.contains(&offer.id) && seen.insert(offer.id) {
                    look = seen.len() == expected.len();
                }
            }
            Ok(_) => {}
            Err(broadcast::error::RecvError::Lagged(_)) => look = true,
            Err(broadcast::error::RecvError::Closed) => {
                anyhow::bail!("the taker's market stopped")
            }
        }
    }
}

// ------------------------------------------------------------------------------------ display

impl fmt::Display for ColdStartReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = |us: f64| us / 1000.0;
        let w = &self.warm;
        let n = &self.network;
        writeln!(
            f,
            "cold-start: {} offers in {}/{}; {} makers ({:?} offers each); {} repetitions; {} joins",
            self.offers,
            BASE.code(),
            QUOTE.code(),
            self.makers,
            n.offers_per_maker,
            self.repetitions,
            self.joins
        )?;
        writeln!(
            f,
            "{:<46} {:>10} {:>10} {:>8}",
            "warm book from cache (ms)", "p50", "max", "samples"
        )?;
        let row = |f: &mut fmt::Formatter<'_>, name: &str, s: &LatencySummary| {
            writeln!(
                f,
                "{name:<46} {:>10.3} {:>10.3} {:>8}",
                ms(s.p50_us),
                ms(s.max_us),
                s.samples
            )
        };
        row(
            f,
            &format!(
                "  new→unlock→offers(), KDF {} KiB×{}",
                w.cheap_kdf_memory_kib, w.cheap_kdf_iterations
            ),
            &w.to_book,
        )?;
        row(f, "    of which unlock (keystore + database)", &w.unlock)?;
        row(f, "    of which first offers()", &w.first_query)?;
        row(f, "  sqlx baseline: open, select, decode", &w.sqlx_baseline)?;
        match w.p50_ratio_node_to_sqlx {
            Some(r) => writeln!(f, "  p50 ratio node / sqlx: {r:.1}x")?,
            None => writeln!(f, "  p50 ratio node / sqlx: n/a (no samples)")?,
        }
        let share = w.default_kdf_unlock_share * 100.0;
        writeln!(
            f,
            "  default KDF ({} MiB×{}), once: {:.1} ms, of which unlock {:.1} ms ({share:.0} %){}",
            w.default_kdf_memory_kib / 1024,
            w.default_kdf_iterations,
            ms(w.default_kdf_to_book_us),
            ms(w.default_kdf_unlock_us),
            if w.default_kdf_unlock_share > 0.5 {
                ": the KDF dominates the cold start"
            } else {
                ""
            }
        )?;
        writeln!(
            f,
            "  full book on first query: {} / {} runs{}",
            w.runs_full,
            self.repetitions,
            if w.default_kdf_full {
                " (and the default-KDF run)"
            } else {
                " (NOT the default-KDF run)"
            }
        )?;
        writeln!(
            f,
            "{:<46} {:>10} {:>10} {:>8}",
            "empty node to full book over loopback (ms)", "p50", "max", "samples"
        )?;
        row(
            f,
            "  start_network returned → all N in offers()",
            &n.to_book,
        )?;
        row(f, "  the refresh_market call", &n.refresh_call)?;
        writeln!(
            f,
            "  filled: {} / {} joins (refresh_market reported {:?} new)",
            n.joins_full, self.joins, n.refresh_added
        )?;
        writeln!(
            f,
            "setup: warm fill {:.2} s, makers {:.2} s; total {:.2} s{}",
            w.fill_secs,
            n.setup_secs,
            self.total_secs,
            if self.timed_out {
                " -- stopped by the deadline"
            } else {
                ""
            }
        )
    }
}
