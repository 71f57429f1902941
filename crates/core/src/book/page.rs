//! Pages of one market's book, read in SQL along the sort-key indexes of migration 0018, so a page
//! costs the same at the top of a book of 100,000 offers as at its end.
//!
//! A market's offers come in four streams, each in its own index order: fixed-price sells, market-
//! relative sells, fixed-price buys, market-relative buys. A page takes the next offers of every stream
//! the query asks for and merges them in the book's order (sells before buys, best price first, then
//! oldest first, then by id). The cursor remembers, for each stream, the last offer it gave, and the
//! market price the first page was ordered by: offers that arrive or leave between two pages never make
//! a page repeat or skip one of the others, and the order stays the order of the first page.

use std::{cmp::Ordering, collections::HashMap};

use rust_decimal::{Decimal, prelude::ToPrimitive};
use serde::{Deserialize, Serialize};
use sqlx::Row;
use ts_rs::TS;

use super::{Book, BookEntry, BookQuery, entry_of, offer_of, side_text};
use crate::{
    offer::{Offer, Price, Side},
    price::apply_premium,
    protocol::state::TradeState,
    store::StoreError,
};

/// The most offers one page holds.
pub const MAX_PAGE: u32 = 500;

/// Which page of the book to read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS, utoipa::ToSchema)]
pub struct PageRequest {
    /// Where the page starts: the `next` of the page before; none for the first page.
    pub after: Option<String>,
    /// How many offers at most (1 to 500; 50 when not given).
    pub limit: Option<u32>,
}

/// The most offers a page's total counts: past it the total says "at least this many".
pub const TOTAL_CAP: u32 = 1_000;

/// A page of one market's book, in the book's order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, utoipa::ToSchema)]
pub struct BookPage {
    pub entries: Vec<BookEntry>,
    /// How many offers the query matched when its first page was read, on all pages (counted once,
    /// with the first page), up to [`TOTAL_CAP`]: counting a large book costs more than reading a page
    /// of it, so the count stops there (see `total_capped`).
    pub total: u32,
    /// The query matched more than `total` offers: the count stopped at [`TOTAL_CAP`] ("1,000+").
    pub total_capped: bool,
    /// Where the next page starts (give it as `after`); none after the last page.
    pub next: Option<String>,
}

/// Why a page cannot be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PageError {
    #[error("a page of the book is of one market: give its base and quote (e.g. BTC and EUR)")]
    NoMarket,
    #[error("a page holds 1 to {MAX_PAGE} offers, not {0}")]
    Limit(u32),
    #[error("the page cursor is not one this node gave: {0}")]
    BadCursor(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for PageError {
    fn from(e: sqlx::Error) -> Self {
        Self::Store(StoreError::Sql(e))
    }
}

impl From<PageError> for crate::Error {
    fn from(e: PageError) -> Self {
        match e {
            PageError::Store(e) => Self::Store(e),
            other => Self::InvalidInput(other.to_string()),
        }
    }
}

/// An offer's columns for paging, as [`Book::insert`] stores them.
pub(super) struct Keys {
    pub price_key: Option<f64>,
    pub premium_key: Option<i64>,
    pub min_amount: i64,
    pub max_amount: i64,
    pub methods: String,
}

impl Keys {
    pub(super) fn of(offer: &Offer) -> Self {
        let sign = |side: Side| if side == Side::Buy { -1 } else { 1 };
        let (price_key, premium_key) = match offer.price {
            Price::Fixed(p) => (p.to_f64().map(|p| p * f64::from(sign(offer.side))), None),
            Price::MarketRelative { premium_bps } => (
                None,
                Some(i64::from(premium_bps) * i64::from(sign(offer.side))),
            ),
        };
        let methods: Vec<String> = offer
            .payment_methods
            .iter()
            .map(|m| m.to_string())
            .collect();
        Self {
            price_key,
            premium_key,
            min_amount: i64::try_from(offer.min_amount).unwrap_or(i64::MAX),
            max_amount: i64::try_from(offer.max_amount).unwrap_or(i64::MAX),
            methods: format!(",{},", methods.join(",")),
        }
    }
}

/// The four streams of a market, in the book's order of sides.
const STREAMS: [(Side, Kind); 4] = [
    (Side::Sell, Kind::Fixed),
    (Side::Sell, Kind::Relative),
    (Side::Buy, Kind::Fixed),
    (Side::Buy, Kind::Relative),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Fixed,
    Relative,
}

impl Kind {
    fn column(self) -> &'static str {
        match self {
            Self::Fixed => "price_key",
            Self::Relative => "premium_key",
        }
    }

    /// The stream's index (migration 0018), named in the query: left to itself the planner may take
    /// another index of the market and sort its whole side for every page.
    fn index(self) -> &'static str {
        match self {
            Self::Fixed => "offers_fixed_page",
            Self::Relative => "offers_relative_page",
        }
    }
}

/// The last offer a stream gave: its key in the stream's index order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct After {
    key: f64,
    created_at: i64,
    id: String,
}

/// What a page's `next` carries, as JSON in hex: opaque to the caller.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Cursor {
    /// The market price the first page was ordered by.
    price: Option<Decimal>,
    /// The first page's total.
    total: u32,
    /// The first page's count stopped at the cap.
    #[serde(default)]
    capped: bool,
    after: [Option<After>; 4],
}

impl Cursor {
    fn encode(&self) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        json.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn decode(text: &str) -> Result<Self, PageError> {
        let bad = |why: &str| PageError::BadCursor(why.to_owned());
        if text.len() > 4_096 || !text.len().is_multiple_of(2) {
            return Err(bad("wrong length"));
        }
        let bytes = (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(text.get(i..i + 2).unwrap_or("zz"), 16))
            .collect::<Result<Vec<u8>, _>>()
            .map_err(|_| bad("not hex"))?;
        serde_json::from_slice(&bytes).map_err(|e| PageError::BadCursor(e.to_string()))
    }
}

/// One offer a stream gave, with where it sorts: read from the stream's index (no offer decoded).
struct Candidate {
    stream: usize,
    rowid: i64,
    after: After,
    order: Order,
}

/// Where an offer sorts in the book: sells first; a known price (ascending for sells, negated for
/// buys so the highest comes first) before an unknown one; then a market-relative offer's premium
/// key (0 for a fixed price: so each stream keeps its index order inside a page's merge, and a cursor
/// never passes an offer it did not give); then the oldest first; then the id.
pub(super) type Order = (u8, u8, f64, f64, i64, String);

pub(super) fn order(
    side: Side,
    known_price: Option<f64>,
    tiebreak: f64,
    created_at: i64,
    id: String,
) -> Order {
    (
        u8::from(side == Side::Buy),
        u8::from(known_price.is_none()),
        known_price.unwrap_or(0.0),
        tiebreak,
        created_at,
        id,
    )
}

/// A price as a sort key: negated for buy offers, so the best comes first on both sides.
pub(super) fn signed_price(side: Side, price: Decimal) -> Option<f64> {
    price
        .to_f64()
        .map(|p| if side == Side::Buy { -p } else { p })
}

impl Book {
    /// A page of one market's book (`query` must name its base and quote) in the book's order, with
    /// how many offers match in all and where the next page starts. `market_price` orders market-
    /// relative offers among fixed ones on the first page; later pages keep the first page's price.
    pub async fn page(
        &self,
        query: &BookQuery,
        request: &PageRequest,
        now_ms: i64,
        market_price: Option<Decimal>,
    ) -> Result<BookPage, PageError> {
        let (Some(base), Some(quote)) = (query.base, query.quote) else {
            return Err(PageError::NoMarket);
        };
        let limit = request.limit.unwrap_or(50);
        if !(1..=MAX_PAGE).contains(&limit) {
            return Err(PageError::Limit(limit));
        }
        let amount = query.amount.map(|a| i64::try_from(a).unwrap_or(i64::MAX));
        let method = query.method.as_ref().map(|m| format!(",{m},"));
        let include_mine = query.include_mine.unwrap_or(true);
        let cursor = match &request.after {
            Some(text) => Cursor::decode(text)?,
            None => {
                let counted = self.count(query, now_ms, TOTAL_CAP).await?;
                Cursor {
                    price: market_price,
                    total: counted.min(TOTAL_CAP),
                    capped: counted > TOTAL_CAP,
                    ..Cursor::default()
                }
            }
        };
        // Two steps: each stream's next offers as keys only (id, sort key, age: what the merge needs),
        // then the whole entries of the `limit` offers the merge kept — up to four times fewer offers
        // decoded than read. One read transaction: both steps see the same book.
        let mut tx = self.pool.begin().await?;
        let mut candidates = Vec::new();
        for (stream, (side, kind)) in STREAMS.iter().enumerate() {
            if query.side.is_some_and(|s| s != *side) {
                continue;
            }
            let after = cursor.after[stream].as_ref();
            let (column, index) = (kind.column(), kind.index());
            let sql = format!(
                "SELECT o.rowid, o.id, o.created_at, o.{column} AS key \
                 FROM offers o INDEXED BY {index} \
                 WHERE o.base = ? AND o.quote = ? AND o.side = ? AND o.{column} IS NOT NULL \
                   AND o.withdrawn_at IS NULL AND o.expires_at > ? \
                   AND (? IS NULL OR (o.min_amount <= ? AND o.max_amount >= ?)) \
                   AND (? IS NULL OR instr(o.methods, ?) > 0) AND (? OR o.is_mine = 0) {} \
                 ORDER BY o.{column}, o.created_at, o.id LIMIT ?",
                if after.is_some() {
                    format!("AND (o.{column}, o.created_at, o.id) > (?, ?, ?)")
                } else {
                    String::new()
                }
            );
            // Built from this module's constants only (the column and whether a cursor applies).
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(base.code())
                .bind(quote.code())
                .bind(side_text(*side))
                .bind(now_ms)
                .bind(amount)
                .bind(amount)
                .bind(amount)
                .bind(method.as_deref())
                .bind(method.as_deref())
                .bind(include_mine);
            if let Some(a) = after {
                q = match kind {
                    Kind::Fixed => q.bind(a.key),
                    // Premiums are whole basis points, kept exactly in the cursor's number.
                    Kind::Relative => q.bind(a.key as i64),
                }
                .bind(a.created_at)
                .bind(&a.id);
            }
            let rows = q.bind(i64::from(limit) + 1).fetch_all(&mut *tx).await?;
            for row in rows {
                let (key, known) = match kind {
                    Kind::Fixed => {
                        let key = row.try_get::<f64, _>("key")?;
                        (key, Some(key))
                    }
                    Kind::Relative => {
                        let premium = row.try_get::<i64, _>("key")?;
                        // The key is the premium negated for buys (best first on both sides).
                        let premium_bps = i32::try_from(if *side == Side::Buy {
                            -premium
                        } else {
                            premium
                        })
                        .unwrap_or(i32::MAX);
                        let known = cursor
                            .price
                            .and_then(|m| signed_price(*side, apply_premium(m, premium_bps)));
                        (premium as f64, known)
                    }
                };
                let tiebreak = if *kind == Kind::Relative { key } else { 0.0 };
                let id: String = row.try_get("id")?;
                let created_at: i64 = row.try_get("created_at")?;
                let order = order(*side, known, tiebreak, created_at, id.clone());
                candidates.push(Candidate {
                    stream,
                    rowid: row.try_get("rowid")?,
                    after: After {
                        key,
                        created_at,
                        id,
                    },
                    order,
                });
            }
        }
        candidates.sort_by(|a, b| compare_order(&a.order, &b.order));
        let more = candidates.len() > usize::try_from(limit).unwrap_or(usize::MAX);
        candidates.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        let mut kept = self
            .entries_at(&mut tx, candidates.iter().map(|c| c.rowid), cursor.price)
            .await?;
        tx.commit().await?;
        let mut next = cursor.clone();
        let mut entries = Vec::with_capacity(candidates.len());
        for c in candidates {
            next.after[c.stream] = Some(c.after);
            if let Some(entry) = kept.remove(&c.rowid) {
                entries.push(entry);
            }
        }
        Ok(BookPage {
            entries,
            total: cursor.total,
            total_capped: cursor.capped,
            next: more.then(|| next.encode()),
        })
    }

    /// The whole entries of the offers at `rowids` (the page's, chosen by their keys), by rowid.
    async fn entries_at(
        &self,
        tx: &mut sqlx::SqliteConnection,
        rowids: impl Iterator<Item = i64>,
        market_price: Option<Decimal>,
    ) -> Result<HashMap<i64, BookEntry>, PageError> {
        let rowids: Vec<i64> = rowids.collect();
        let rows = sqlx::query(
            "SELECT o.rowid, o.offer_json, o.is_mine, \
                    MAX(o.last_seen, COALESCE(p.last_seen, 0)) AS seen, \
                    (SELECT COUNT(*) FROM trades t WHERE t.counterparty = o.maker \
                       AND t.state = ? AND t.role IN ('maker', 'taker')) AS completed \
             FROM offers o LEFT JOIN peers p ON p.peer_id = o.maker \
             WHERE o.rowid IN (SELECT value FROM json_each(?))",
        )
        .bind(TradeState::Completed.as_str())
        .bind(serde_json::to_string(&rowids).unwrap_or_default())
        .fetch_all(&mut *tx)
        .await?;
        let mut entries = HashMap::with_capacity(rows.len());
        for row in rows {
            let offer = offer_of(&row)?;
            entries.insert(row.try_get("rowid")?, entry_of(&row, offer, market_price)?);
        }
        Ok(entries)
    }

    /// How many offers `query` matches, counted up to `cap + 1` (more than `cap`: at least that many).
    /// Read from an index alone (migration 0019): with a payment method, that method's entries of the
    /// market in `offer_methods`; otherwise the market's in `offers_market`. Each counted offer costs an
    /// index entry, not a read of the offer, and a method filter does not read the other methods' offers.
    pub(super) async fn count(
        &self,
        query: &BookQuery,
        now_ms: i64,
        cap: u32,
    ) -> Result<u32, PageError> {
        let amount = query.amount.map(|a| i64::try_from(a).unwrap_or(i64::MAX));
        let include_mine = query.include_mine.unwrap_or(true);
        let (from, method_test) = match query.method {
            Some(_) => ("offer_methods o", "AND o.method = ?"),
            None => ("offers o INDEXED BY offers_market", ""),
        };
        // A side given is an equality on the index's third column; `(? IS NULL OR side = ?)` would
        // make SQLite scan both sides.
        let side_test = if query.side.is_some() {
            "AND o.side = ?"
        } else {
            ""
        };
        let sql = format!(
            "SELECT COUNT(*) FROM (SELECT 1 FROM {from} \
             WHERE o.base = ? AND o.quote = ? {method_test} {side_test} \
               AND o.withdrawn_at IS NULL AND o.expires_at > ? \
               AND (? IS NULL OR (o.min_amount <= ? AND o.max_amount >= ?)) \
               AND (? OR o.is_mine = 0) LIMIT ?)"
        );
        // Built from this function's constants only.
        let mut q = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .bind(query.base.map(|b| b.code()))
            .bind(query.quote.map(|q| q.code()));
        if let Some(method) = &query.method {
            q = q.bind(method.to_string());
        }
        if let Some(side) = query.side {
            q = q.bind(side_text(side));
        }
        let n: i64 = q
            .bind(now_ms)
            .bind(amount)
            .bind(amount)
            .bind(amount)
            .bind(include_mine)
            .bind(i64::from(cap) + 1)
            .fetch_one(&self.pool)
            .await?;
        Ok(u32::try_from(n).unwrap_or(u32::MAX))
    }
}

pub(super) fn compare_order(a: &Order, b: &Order) -> Ordering {
    a.0.cmp(&b.0)
        .then(a.1.cmp(&b.1))
        .then(a.2.total_cmp(&b.2))
        .then(a.3.total_cmp(&b.3))
        .then(a.4.cmp(&b.4))
        .then_with(|| a.5.cmp(&b.5))
}
