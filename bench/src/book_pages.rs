//! The Market screen's queries on a book of many offers in one market (100,000 by default), through the
//! real [`Book`] on a real SQLite file in a temporary directory: the first page, a page from the
//! middle of the book (its cursor found by walking the whole book once, which also checks that every
//! offer comes exactly once), filtered pages (a side and a payment method; an amount), and the first
//! page without a market price. Beside them, in the same process on the same file:
//! - **baseline**: a bare sqlx query of the same page of one stream along its index, decoding each
//!   row's JSON — the least any paged read must do;
//! - **unpaged**: [`Book::query`] of the whole market, what the Market screen asked for before pages.
//!
//! And the first page after a quiet spell: the store closes connections that sat idle (a thread and
//! a page cache each), so the first query after one opens a connection again with a cold cache.
//!
//! The offers are real signed offers (400 makers, at most 250 each, the per-maker cap of a market),
//! verified and stored through [`Book::insert_many`] as the network path stores them. No network.

use std::{collections::HashSet, fmt, time::Instant};

use anyhow::Context;
use libp2p::identity::Keypair;
use rust_decimal::Decimal;
use serde::Serialize;
use souk_core::{
    book::{Book, BookQuery, PageRequest},
    offer::{
        Asset, EscrowKind, Fiat, NewOffer, Offer, PaymentMethod, Price, Quote, Side, SignedOffer,
    },
    store::Store,
};
use sqlx::Row;

use crate::summary::LatencySummary;

/// Offers per maker: under the per-maker cap of one market.
const PER_MAKER: usize = 250;
const PAGE: u32 = 50;

#[derive(Debug, Clone)]
pub struct BookPagesSettings {
    /// Offers in the market.
    pub offers: usize,
    /// Timed repetitions of each paged query.
    pub repetitions: usize,
    /// Timed repetitions of the unpaged whole-market query (slow at 100k).
    pub unpaged_repetitions: usize,
    /// Timed first pages after a quiet spell, each waiting for the store to close its idle
    /// connections (up to ~20 s each).
    pub after_quiet_repetitions: usize,
}

impl BookPagesSettings {
    pub fn new(offers: usize) -> Self {
        Self {
            offers,
            repetitions: 200,
            unpaged_repetitions: 5,
            after_quiet_repetitions: 3,
        }
    }
}

/// One timed query.
#[derive(Debug, Clone, Serialize)]
pub struct Case {
    pub name: String,
    /// Offers the query returned (the last repetition).
    pub rows: usize,
    pub latency: LatencySummary,
}

#[derive(Debug, Clone, Serialize)]
pub struct BookPagesReport {
    pub offers: usize,
    /// Signing, verifying and storing the book.
    pub fill_secs: f64,
    /// The database file with its WAL, after the fill.
    pub database_bytes: u64,
    /// Offers read by walking the whole book a page (of 500) at a time.
    pub walked: usize,
    /// The walk read every offer exactly once.
    pub complete: bool,
    pub pages: Vec<Case>,
    pub baseline: Case,
    pub unpaged: Case,
    /// The first page once the store had closed its idle connections.
    pub after_quiet: Option<Case>,
}

impl BookPagesReport {
    /// p95 of the first page over p95 of the baseline page.
    pub fn first_page_ratio(&self) -> Option<f64> {
        let first = self.pages.first()?;
        (self.baseline.latency.p95_us > 0.0)
            .then(|| first.latency.p95_us / self.baseline.latency.p95_us)
    }
}

impl fmt::Display for BookPagesReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "book pages: {} offers in one market (filled in {:.1} s, database {:.1} MiB); walk read {} ({})",
            self.offers,
            self.fill_secs,
            self.database_bytes as f64 / (1024.0 * 1024.0),
            self.walked,
            if self.complete {
                "each once"
            } else {
                "NOT each exactly once"
            }
        )?;
        writeln!(
            f,
            "  {:<44} {:>6} {:>10} {:>10} {:>10}",
            "query", "rows", "p50 µs", "p95 µs", "p99 µs"
        )?;
        for c in self
            .pages
            .iter()
            .chain([&self.baseline, &self.unpaged])
            .chain(self.after_quiet.iter())
        {
            writeln!(
                f,
                "  {:<44} {:>6} {:>10.0} {:>10.0} {:>10.0}",
                c.name, c.rows, c.latency.p50_us, c.latency.p95_us, c.latency.p99_us
            )?;
        }
        if let Some(ratio) = self.first_page_ratio() {
            writeln!(f, "  first page p95 / baseline p95: {ratio:.2}")?;
        }
        Ok(())
    }
}

fn now_ms() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis(),
    )
    .unwrap_or(i64::MAX)
}

fn market() -> BookQuery {
    BookQuery {
        base: Some(Asset::Btc),
        quote: Some(Quote::Fiat(Fiat::Eur)),
        ..BookQuery::default()
    }
}

/// Fills `book` with `n` signed offers of many makers: a mix of sides, fixed and market-relative
/// prices, payment methods and ranges.
pub(crate) async fn fill(book: &Book, n: usize) -> anyhow::Result<()> {
    let methods = ["SEPA", "REVOLUT", "CASH_IN_PERSON", "ZELLE", "WISE"]
        .map(|m| PaymentMethod::new(m).map_err(|e| anyhow::anyhow!("{e}")));
    let methods = methods.into_iter().collect::<Result<Vec<_>, _>>()?;
    let now = now_ms();
    let mut x: u64 = 0x5eed;
    let mut next = move || {
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        x >> 33
    };
    let mut made = 0;
    while made < n {
        let maker = Keypair::generate_ed25519();
        let mut batch = Vec::new();
        for _ in 0..PER_MAKER.min(n - made) {
            let side = if next() % 2 == 0 {
                Side::Sell
            } else {
                Side::Buy
            };
            let price = if next() % 4 == 0 {
                Price::MarketRelative {
                    premium_bps: i32::try_from(next() % 600)? - 300,
                }
            } else {
                Price::Fixed(Decimal::new(
                    i64::try_from(5_500_000 + next() % 1_000_000)?,
                    2,
                ))
            };
            let min = 100_000 + next() % 1_000_000;
            let new = NewOffer {
                side,
                base: Asset::Btc,
                quote: Quote::Fiat(Fiat::Eur),
                price,
                min_amount: min,
                max_amount: min + next() % 20_000_000,
                payment_methods: vec![methods[usize::try_from(next() % 5)?].clone()],
                escrow: EscrowKind::None,
                deposit_bps: 1_500,
                maker_x25519: [7; 32],
                ttl_ms: 7 * 86_400_000 - 60_000,
                terms: String::new(),
            };
            let offer = Offer::new(maker.public().to_peer_id(), new, now - i64::try_from(made)?)?;
            let bytes = SignedOffer::sign(&offer, &maker)?.to_bytes();
            batch.push(SignedOffer::verify(&bytes, now, None)?);
            made += 1;
        }
        book.insert_many(&batch, now).await?;
    }
    Ok(())
}

async fn time<F, Fut>(name: &str, repetitions: usize, mut run: F) -> anyhow::Result<Case>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<usize>>,
{
    // Untimed first: the page cache is warm for every case alike.
    let mut rows = run().await?;
    let mut samples = Vec::with_capacity(repetitions);
    for _ in 0..repetitions {
        let started = Instant::now();
        rows = run().await?;
        samples.push(started.elapsed());
    }
    Ok(Case {
        name: name.to_owned(),
        rows,
        latency: LatencySummary::of(&samples),
    })
}

pub async fn run_book_pages(settings: &BookPagesSettings) -> anyhow::Result<BookPagesReport> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join(souk_core::store::FILE_NAME);
    let store = Store::open(&path).await?;
    let book = Book::new(&store);
    let started = Instant::now();
    fill(&book, settings.offers)
        .await
        .context("filling the book")?;
    let fill_secs = started.elapsed().as_secs_f64();
    let database_bytes = ["", "-wal"]
        .iter()
        .filter_map(|s| std::fs::metadata(format!("{}{s}", path.display())).ok())
        .map(|m| m.len())
        .sum();
    let price = Some(Decimal::from(60_000));
    let now = now_ms();

    // The walk: every offer once, and a cursor from the middle.
    let mut seen = HashSet::new();
    let mut walked = 0;
    let mut after = None;
    let mut middle = None;
    loop {
        let request = PageRequest {
            after: after.clone(),
            limit: Some(500),
        };
        let page = book.page(&market(), &request, now, price).await?;
        walked += page.entries.len();
        seen.extend(page.entries.iter().map(|e| e.offer.id));
        if middle.is_none() && walked >= settings.offers / 2 {
            middle = page.next.clone();
        }
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    let complete = walked == settings.offers && seen.len() == settings.offers;

    let page_of = |query: BookQuery, after: Option<String>, price: Option<Decimal>| {
        let book = book.clone();
        move || {
            let (book, query, after) = (book.clone(), query.clone(), after.clone());
            async move {
                let request = PageRequest {
                    after,
                    limit: Some(PAGE),
                };
                Ok(book.page(&query, &request, now, price).await?.entries.len())
            }
        }
    };
    let reps = settings.repetitions;
    let sepa = PaymentMethod::new("SEPA").map_err(|e| anyhow::anyhow!("{e}"))?;
    let pages = vec![
        time("first page (50)", reps, page_of(market(), None, price)).await?,
        time(
            "page from the middle",
            reps,
            page_of(market(), middle, price),
        )
        .await?,
        time(
            "first page, buy side, SEPA",
            reps,
            page_of(
                BookQuery {
                    side: Some(Side::Buy),
                    method: Some(sepa),
                    ..market()
                },
                None,
                price,
            ),
        )
        .await?,
        time(
            "first page, amount 0.05 BTC",
            reps,
            page_of(
                BookQuery {
                    amount: Some(5_000_000),
                    ..market()
                },
                None,
                price,
            ),
        )
        .await?,
        time(
            "first page, no market price",
            reps,
            page_of(market(), None, None),
        )
        .await?,
    ];

    // The baseline: one stream's page along its index, bare sqlx on the same file.
    let raw = sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(sqlx::sqlite::SqliteConnectOptions::new().filename(&path))
        .await?;
    let baseline = time("baseline: bare sqlx, one stream's page", reps, || {
        let pool = raw.clone();
        async move {
            let rows = sqlx::query(
                "SELECT offer_json FROM offers WHERE base = 'BTC' AND quote = 'EUR' \
                 AND side = 'sell' AND price_key IS NOT NULL AND withdrawn_at IS NULL \
                 AND expires_at > ? ORDER BY price_key, created_at, id LIMIT ?",
            )
            .bind(now)
            .bind(i64::from(PAGE))
            .fetch_all(&pool)
            .await?;
            let mut decoded = 0;
            for row in rows {
                let json: String = row.try_get("offer_json")?;
                let _: Offer = serde_json::from_str(&json)?;
                decoded += 1;
            }
            Ok(decoded)
        }
    })
    .await?;
    raw.close().await;

    let unpaged = time(
        "unpaged: the whole market (before pages)",
        settings.unpaged_repetitions,
        || {
            let book = book.clone();
            async move { Ok(book.query(&market(), now, price).await?.len()) }
        },
    )
    .await?;
    let after_quiet = if settings.after_quiet_repetitions == 0 {
        None
    } else {
        let mut samples = Vec::new();
        let mut rows = 0;
        let first_page = page_of(market(), None, price);
        for _ in 0..settings.after_quiet_repetitions {
            let deadline = Instant::now() + std::time::Duration::from_secs(60);
            while store.pool().size() > 0 {
                anyhow::ensure!(
                    Instant::now() < deadline,
                    "the store kept {} idle connections open for 60 s",
                    store.pool().size()
                );
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            let started = Instant::now();
            rows = first_page().await?;
            samples.push(started.elapsed());
        }
        Some(Case {
            name: "first page after quiet (connection reopened)".to_owned(),
            rows,
            latency: LatencySummary::of(&samples),
        })
    };
    Ok(BookPagesReport {
        offers: settings.offers,
        fill_secs,
        database_bytes,
        walked,
        complete,
        pages,
        baseline,
        unpaged,
        after_quiet,
    })
}
