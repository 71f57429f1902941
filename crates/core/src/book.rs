//! The order book: every verified offer this node has seen (its own and others'), cached in SQLite so
//! a restarted node shows its book at once, with queries by market, side, payment method and amount.
//!
//! Only [`VerifiedOffer`]s and [`VerifiedWithdrawal`]s get in: this module never parses bytes from the
//! network itself. A withdrawal is kept as a tombstone, so an old copy of the offer that arrives later
//! (from a cache, a slow peer) stays withdrawn.

mod page;

pub use page::{BookPage, MAX_PAGE, PageError, PageRequest, TOTAL_CAP};

use std::cmp::Ordering;

use libp2p::PeerId;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sqlx::{Row, SqlitePool};
use ts_rs::TS;
use uuid::Uuid;

pub use crate::offer::OfferState;
use crate::{
    offer::{
        Asset, Offer, PaymentMethod, Price, Quote, Side, SignedOffer, VerifiedOffer,
        VerifiedWithdrawal,
    },
    price::apply_premium,
    store::{Store, StoreError},
};

/// What a query asks for; `None` means "any".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS, utoipa::ToSchema)]
pub struct BookQuery {
    pub base: Option<Asset>,
    pub quote: Option<Quote>,
    pub side: Option<Side>,
    #[ts(type = "string | null")]
    #[schema(value_type = Option<String>)]
    pub method: Option<PaymentMethod>,
    /// An amount (base units) the user wants to trade: only offers whose range contains it.
    pub amount: Option<u64>,
    /// Include this node's own offers (default true).
    pub include_mine: Option<bool>,
}

impl BookQuery {
    /// Whether `offer` is one this query asks for (as [`Book::query`] filters, without the book's own
    /// bookkeeping: liveness and whose offer it is are the caller's to check).
    pub fn matches(&self, offer: &crate::offer::Offer) -> bool {
        self.base.is_none_or(|b| b == offer.base)
            && self.quote.is_none_or(|q| q == offer.quote)
            && self.side.is_none_or(|s| s == offer.side)
            && self
                .method
                .as_ref()
                .is_none_or(|m| offer.payment_methods.contains(m))
            && self
                .amount
                .is_none_or(|a| (offer.min_amount..=offer.max_amount).contains(&a))
    }
}

/// One line of the book.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, utoipa::ToSchema)]
pub struct BookEntry {
    pub offer: Offer,
    pub mine: bool,
    /// When this node last heard from the maker (unix ms): the offer itself, or the maker online.
    pub maker_last_seen: i64,
    /// The price in quote units per whole base coin, when it can be known: a fixed price, or a
    /// market-relative one with a market price at hand.
    #[ts(type = "string | null")]
    #[schema(value_type = Option<String>)]
    pub effective_price: Option<Decimal>,
    /// Trades this node completed with the maker (from its own trades table: this node's history
    /// with them, not a reputation anyone else vouches for). 0 for this node's own offers.
    pub completed_with_maker: u32,
    /// How the maker can be reached, from what it announced to the network (a Tor-mode maker: over
    /// Tor only); unknown until its addresses reach this node (the node asks the DHT for them).
    #[serde(default = "unknown_reach")]
    pub maker_reach: crate::net::PeerReach,
}

fn unknown_reach() -> crate::net::PeerReach {
    crate::net::PeerReach::Unknown
}

/// Live offers one maker may have in one market; a further one is refused until one is withdrawn or
/// expires, so one identity cannot fill a market (or a node's disk) with offers. As many as one direct
/// answer carries, so a maker's whole side of a market always fits in one.
pub const MAX_OFFERS_PER_MAKER_PER_MARKET: usize = 256;

/// What inserting an offer did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inserted {
    New,
    /// Refused: its maker already has [`MAX_OFFERS_PER_MAKER_PER_MARKET`] live offers in its market.
    OverQuota,
    /// Already known; its last-seen time was refreshed.
    Known,
    /// A tombstone for it exists: not shown.
    Withdrawn,
}

#[derive(Debug, Clone)]
pub struct Book {
    pool: SqlitePool,
    /// For others' offers and withdrawals: see [`Store::relaxed_pool`]. This node's own offers
    /// and withdrawals are written through `pool`, synced before the user is told.
    relaxed: SqlitePool,
}

impl Book {
    pub fn new(store: &Store) -> Self {
        Self {
            pool: store.pool().clone(),
            relaxed: store.relaxed_pool().clone(),
        }
    }

    fn writer(&self, mine: bool) -> &SqlitePool {
        if mine { &self.pool } else { &self.relaxed }
    }

    /// Adds a verified offer, or refreshes when already known. A withdrawn offer stays withdrawn.
    /// Write transactions begin IMMEDIATE: a read that later upgrades to a write fails with "database
    /// is locked" under WAL when another connection wrote in between, busy timeout or not.
    pub async fn insert(
        &self,
        offer: &VerifiedOffer,
        mine: bool,
        now_ms: i64,
    ) -> Result<Inserted, StoreError> {
        let mut tx = self.writer(mine).begin_with("BEGIN IMMEDIATE").await?;
        let outcome = insert_in(&mut tx, offer, mine, now_ms).await?;
        tx.commit().await?;
        Ok(outcome)
    }

    /// [`Self::insert`] for others' offers, all in one transaction (a maker's answer brings up
    /// to 256 at once: one commit, not one each).
    pub async fn insert_many(
        &self,
        offers: &[VerifiedOffer],
        now_ms: i64,
    ) -> Result<Vec<Inserted>, StoreError> {
        let mut tx = self.relaxed.begin_with("BEGIN IMMEDIATE").await?;
        let mut outcomes = Vec::with_capacity(offers.len());
        for offer in offers {
            outcomes.push(insert_in(&mut tx, offer, false, now_ms).await?);
        }
        tx.commit().await?;
        Ok(outcomes)
    }

    /// Records a withdrawal from the network. Returns whether it took a live offer out of the book
    /// (`false` when the offer was unknown — the tombstone still waits for it — or already withdrawn).
    pub async fn withdraw(
        &self,
        withdrawal: &VerifiedWithdrawal,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        self.record_withdrawal(withdrawal, now_ms, false).await
    }

    /// Records this node's withdrawal of its own offer, synced to disk before it returns.
    pub async fn withdraw_mine(
        &self,
        withdrawal: &VerifiedWithdrawal,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        self.record_withdrawal(withdrawal, now_ms, true).await
    }

    async fn record_withdrawal(
        &self,
        withdrawal: &VerifiedWithdrawal,
        now_ms: i64,
        mine: bool,
    ) -> Result<bool, StoreError> {
        let w = withdrawal.withdrawal();
        let id = w.offer_id.to_string();
        let maker = w.maker.to_base58();
        let mut tx = self.writer(mine).begin_with("BEGIN IMMEDIATE").await?;
        let stored = sqlx::query(
            "INSERT INTO withdrawals (offer_id, maker, signed, withdrawn_at, received_at) VALUES (?, ?, ?, ?, ?) \
             ON CONFLICT (offer_id) DO NOTHING",
        )
        .bind(&id)
        .bind(&maker)
        .bind(withdrawal.to_bytes())
        .bind(w.withdrawn_at)
        .bind(now_ms)
        .execute(&mut *tx)
        .await?;
        // Only the offer's own maker can withdraw it: the maker column must match the signer.
        let removed = sqlx::query("UPDATE offers SET withdrawn_at = ? WHERE id = ? AND maker = ? AND withdrawn_at IS NULL")
            .bind(w.withdrawn_at)
            .bind(&id)
            .bind(&maker)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(stored.rows_affected() > 0 && removed.rows_affected() > 0)
    }

    /// How many live offers the book holds, in every market (this node's included): counted, not read.
    pub async fn live_count(&self, now_ms: i64) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM offers WHERE withdrawn_at IS NULL AND expires_at > ?",
        )
        .bind(now_ms)
        .fetch_one(&self.pool)
        .await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Live offers matching `query`, cheapest first for sell offers and highest first for buy offers.
    /// `market_price` (quote per base) lets market-relative offers sort among fixed ones.
    pub async fn query(
        &self,
        query: &BookQuery,
        now_ms: i64,
        market_price: Option<Decimal>,
    ) -> Result<Vec<BookEntry>, StoreError> {
        let rows = sqlx::query(
            "SELECT o.offer_json, o.is_mine, MAX(o.last_seen, COALESCE(p.last_seen, 0)) AS seen, \
                    (SELECT COUNT(*) FROM trades t WHERE t.counterparty = o.maker \
                       AND t.state = ? AND t.role IN ('maker', 'taker')) AS completed \
             FROM offers o LEFT JOIN peers p ON p.peer_id = o.maker \
             WHERE o.withdrawn_at IS NULL AND o.expires_at > ? \
               AND (? IS NULL OR o.base = ?) AND (? IS NULL OR o.quote = ?) \
               AND (? IS NULL OR o.side = ?) AND (? OR o.is_mine = 0)",
        )
        .bind(crate::protocol::settlement::TradeState::Completed.as_str())
        .bind(now_ms)
        .bind(query.base.map(Asset::code))
        .bind(query.base.map(Asset::code))
        .bind(query.quote.map(Quote::code))
        .bind(query.quote.map(Quote::code))
        .bind(query.side.map(side_text))
        .bind(query.side.map(side_text))
        .bind(query.include_mine.unwrap_or(true))
        .fetch_all(&self.pool)
        .await?;
        let mut entries = Vec::with_capacity(rows.len());
        for row in rows {
            let offer = offer_of(&row)?;
            if query
                .method
                .as_ref()
                .is_some_and(|m| !offer.payment_methods.contains(m))
            {
                continue;
            }
            if query
                .amount
                .is_some_and(|a| a < offer.min_amount || a > offer.max_amount)
            {
                continue;
            }
            entries.push(entry_of(&row, offer, market_price)?);
        }
        entries.sort_by(compare_entries);
        Ok(entries)
    }

    /// One offer by id, live or not (`None` when never seen).
    pub async fn get(&self, id: Uuid) -> Result<Option<(Offer, OfferState)>, StoreError> {
        let row =
            sqlx::query("SELECT offer_json, withdrawn_at, expires_at FROM offers WHERE id = ?")
                .bind(id.to_string())
                .fetch_optional(&self.pool)
                .await?;
        let Some(row) = row else { return Ok(None) };
        let offer = offer_of(&row)?;
        let withdrawn: Option<i64> = row.try_get("withdrawn_at")?;
        let state = match withdrawn {
            Some(at) => OfferState::Withdrawn { at },
            None if offer.expires_at <= crate::store::now_ms() => OfferState::Expired,
            None => OfferState::Live,
        };
        Ok(Some((offer, state)))
    }

    /// This node's own live offers, as signed, for re-announcing after a restart.
    pub async fn my_live_offers(&self, now_ms: i64) -> Result<Vec<SignedOffer>, StoreError> {
        let blobs: Vec<Vec<u8>> = sqlx::query_scalar(
            "SELECT signed FROM offers WHERE is_mine = 1 AND withdrawn_at IS NULL AND expires_at > ? ORDER BY created_at",
        )
        .bind(now_ms)
        .fetch_all(&self.pool)
        .await?;
        // Our own rows were verified when stored; a row that no longer decodes is skipped, not fatal.
        Ok(blobs
            .iter()
            .filter_map(|b| SignedOffer::decode(b).ok())
            .collect())
    }

    /// Every live offer of `maker` in a market, as signed (what a maker serves to takers who ask).
    pub async fn live_offers_of(
        &self,
        maker: &PeerId,
        base: Asset,
        quote: Quote,
        now_ms: i64,
    ) -> Result<Vec<SignedOffer>, StoreError> {
        let blobs: Vec<Vec<u8>> = sqlx::query_scalar(
            "SELECT signed FROM offers WHERE maker = ? AND base = ? AND quote = ? \
             AND withdrawn_at IS NULL AND expires_at > ? ORDER BY created_at",
        )
        .bind(maker.to_base58())
        .bind(base.code())
        .bind(quote.code())
        .bind(now_ms)
        .fetch_all(&self.pool)
        .await?;
        Ok(blobs
            .iter()
            .filter_map(|b| SignedOffer::decode(b).ok())
            .collect())
    }

    /// The makers with a live offer in a market, this node aside.
    pub async fn makers_in(
        &self,
        base: Asset,
        quote: Quote,
        now_ms: i64,
    ) -> Result<Vec<PeerId>, StoreError> {
        let makers: Vec<String> = sqlx::query_scalar(
            "SELECT DISTINCT maker FROM offers WHERE base = ? AND quote = ? AND is_mine = 0 \
             AND withdrawn_at IS NULL AND expires_at > ?",
        )
        .bind(base.code())
        .bind(quote.code())
        .bind(now_ms)
        .fetch_all(&self.pool)
        .await?;
        Ok(makers.iter().filter_map(|m| m.parse().ok()).collect())
    }

    /// Notes that a peer was online now (shown as the maker's last-seen time).
    pub async fn saw_peer(&self, peer: &PeerId, now_ms: i64) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO peers (peer_id, first_seen, last_seen) VALUES (?, ?, ?) \
             ON CONFLICT (peer_id) DO UPDATE SET last_seen = MAX(peers.last_seen, excluded.last_seen)",
        )
        .bind(peer.to_base58())
        .bind(now_ms)
        .bind(now_ms)
        .execute(&self.relaxed)
        .await?;
        Ok(())
    }

    /// Every offer this node made, newest first, with where it stands (what "My offers" lists).
    pub async fn my_offers(&self, now_ms: i64) -> Result<Vec<MyOffer>, StoreError> {
        let rows = sqlx::query(
            "SELECT offer_json, withdrawn_at FROM offers WHERE is_mine = 1 ORDER BY created_at DESC, rowid DESC",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut offers = Vec::with_capacity(rows.len());
        for row in rows {
            let offer = offer_of(&row)?;
            let withdrawn: Option<i64> = row.try_get("withdrawn_at")?;
            let state = match withdrawn {
                Some(at) => OfferState::Withdrawn { at },
                None if offer.expires_at <= now_ms => OfferState::Expired,
                None => OfferState::Live,
            };
            offers.push(MyOffer { offer, state });
        }
        Ok(offers)
    }

    /// Drops others' offers expired before `now_ms` (this node's own stay, as its history) and
    /// tombstones older than any offer they could cancel.
    pub async fn expire(&self, now_ms: i64) -> Result<u64, StoreError> {
        let offers = sqlx::query("DELETE FROM offers WHERE expires_at <= ? AND is_mine = 0")
            .bind(now_ms)
            .execute(&self.relaxed)
            .await?;
        let horizon = now_ms - crate::offer::MAX_TTL_MS - crate::offer::MAX_CLOCK_SKEW_MS;
        sqlx::query("DELETE FROM withdrawals WHERE withdrawn_at < ?")
            .bind(horizon)
            .execute(&self.relaxed)
            .await?;
        Ok(offers.rows_affected())
    }
}

/// [`Book::insert`] inside the caller's write transaction.
async fn insert_in(
    tx: &mut sqlx::SqliteConnection,
    offer: &VerifiedOffer,
    mine: bool,
    now_ms: i64,
) -> Result<Inserted, StoreError> {
    let o = offer.offer();
    let id = o.id.to_string();
    let tombstone: Option<String> =
        sqlx::query_scalar("SELECT maker FROM withdrawals WHERE offer_id = ?")
            .bind(&id)
            .fetch_optional(&mut *tx)
            .await?;
    if tombstone.is_some_and(|maker| maker == o.maker.to_base58()) {
        return Ok(Inserted::Withdrawn);
    }
    let json = serde_json::to_string(o).map_err(|source| StoreError::BadSetting {
        key: format!("offer {id}"),
        source,
    })?;
    let known: Option<String> = sqlx::query_scalar("SELECT maker FROM offers WHERE id = ?")
        .bind(&id)
        .fetch_optional(&mut *tx)
        .await?;
    let outcome = match known {
        // Same id from another maker cannot happen with honest v7 ids; the first one stays.
        Some(maker) if maker != o.maker.to_base58() => Inserted::Known,
        Some(_) => {
            sqlx::query("UPDATE offers SET last_seen = MAX(last_seen, ?) WHERE id = ?")
                .bind(now_ms)
                .bind(&id)
                .execute(&mut *tx)
                .await?;
            Inserted::Known
        }
        None if {
            let live: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM offers WHERE maker = ? AND base = ? AND quote = ? \
                 AND withdrawn_at IS NULL AND expires_at > ?",
            )
            .bind(o.maker.to_base58())
            .bind(o.base.code())
            .bind(o.quote.code())
            .bind(now_ms)
            .fetch_one(&mut *tx)
            .await?;
            usize::try_from(live).unwrap_or(usize::MAX) >= MAX_OFFERS_PER_MAKER_PER_MARKET
        } =>
        {
            Inserted::OverQuota
        }
        None => {
            let keys = page::Keys::of(o);
            sqlx::query(
                "INSERT INTO offers (id, maker, side, base, quote, signed, is_mine, created_at, expires_at, \
                 last_seen, offer_json, price_key, premium_key, min_amount, max_amount, methods) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(&id)
            .bind(o.maker.to_base58())
            .bind(side_text(o.side))
            .bind(o.base.code())
            .bind(o.quote.code())
            .bind(offer.to_bytes())
            .bind(mine)
            .bind(o.created_at)
            .bind(o.expires_at)
            .bind(now_ms)
            .bind(json)
            .bind(keys.price_key)
            .bind(keys.premium_key)
            .bind(keys.min_amount)
            .bind(keys.max_amount)
            .bind(keys.methods)
            .execute(&mut *tx)
            .await?;
            Inserted::New
        }
    };
    Ok(outcome)
}

/// One of this node's own offers and where it stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, utoipa::ToSchema)]
pub struct MyOffer {
    pub offer: Offer,
    pub state: OfferState,
}

fn side_text(side: Side) -> &'static str {
    match side {
        Side::Buy => "buy",
        Side::Sell => "sell",
    }
}

/// The book's order ([`page::order`], the same for pages): sells before buys; sells cheapest first,
/// buys highest first; offers without a known price last, by premium; then oldest first.
fn compare_entries(a: &BookEntry, b: &BookEntry) -> Ordering {
    let key = |e: &BookEntry| {
        let side = e.offer.side;
        let (known, tiebreak) = match e.offer.price {
            Price::Fixed(p) => (page::signed_price(side, p), 0.0),
            Price::MarketRelative { premium_bps } => (
                e.effective_price.and_then(|p| page::signed_price(side, p)),
                f64::from(if side == Side::Buy {
                    -premium_bps
                } else {
                    premium_bps
                }),
            ),
        };
        page::order(
            side,
            known,
            tiebreak,
            e.offer.created_at,
            e.offer.id.to_string(),
        )
    };
    page::compare_order(&key(a), &key(b))
}

/// The offer stored in a row's `offer_json` column.
/// A book entry from a row with `is_mine`, `seen` and `completed` (as the book's queries select them)
/// and its decoded offer; a market-relative price is applied to `market_price`.
fn entry_of(
    row: &sqlx::sqlite::SqliteRow,
    offer: Offer,
    market_price: Option<Decimal>,
) -> Result<BookEntry, StoreError> {
    let effective_price = match offer.price {
        Price::Fixed(p) => Some(p),
        Price::MarketRelative { premium_bps } => {
            market_price.map(|m| apply_premium(m, premium_bps))
        }
    };
    Ok(BookEntry {
        offer,
        mine: row.try_get("is_mine")?,
        maker_last_seen: row.try_get("seen")?,
        effective_price,
        completed_with_maker: u32::try_from(row.try_get::<i64, _>("completed")?)
            .unwrap_or(u32::MAX),
        maker_reach: crate::net::PeerReach::Unknown,
    })
}

fn offer_of(row: &sqlx::sqlite::SqliteRow) -> Result<Offer, StoreError> {
    let json: String = row.try_get("offer_json")?;
    serde_json::from_str(&json).map_err(|source| StoreError::BadSetting {
        key: "offers.offer_json".into(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use libp2p::identity::Keypair;

    use super::*;
    use crate::offer::{EscrowKind, Fiat, NewOffer, SignedWithdrawal, Withdrawal};

    const NOW: i64 = 1_800_000_000_000;
    const HOUR: i64 = 3_600_000;

    fn new_offer(side: Side, price: Price, min: u64, max: u64, methods: &[&str]) -> NewOffer {
        NewOffer {
            side,
            base: Asset::Btc,
            quote: Quote::Fiat(Fiat::Eur),
            price,
            min_amount: min,
            max_amount: max,
            payment_methods: methods
                .iter()
                .map(|m| PaymentMethod::new(*m).unwrap())
                .collect(),
            escrow: EscrowKind::None,
            deposit_bps: 1_500,
            maker_x25519: [7; 32],
            ttl_ms: 24 * HOUR,
            terms: String::new(),
        }
    }

    fn signed(key: &Keypair, new: NewOffer, created: i64) -> VerifiedOffer {
        let offer = Offer::new(key.public().to_peer_id(), new, created).unwrap();
        let bytes = SignedOffer::sign(&offer, key).unwrap().to_bytes();
        SignedOffer::verify(&bytes, created, None).unwrap()
    }

    fn fixed(p: &str) -> Price {
        Price::Fixed(Decimal::from_str(p).unwrap())
    }

    async fn book() -> (tempfile::TempDir, Book) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join(crate::store::FILE_NAME))
            .await
            .unwrap();
        (dir, Book::new(&store))
    }

    /// A trade row as the trading module writes it, reduced to what the book counts.
    async fn trade_row(book: &Book, counterparty: &PeerId, role: &str, state: &str) {
        sqlx::query(
            "INSERT INTO trades (id, offer_id, role, counterparty, state, terms, created_at, updated_at) \
             VALUES (?, ?, ?, ?, ?, '{}', 0, 0)",
        )
        .bind(Uuid::new_v4().to_string())
        .bind(Uuid::new_v4().to_string())
        .bind(role)
        .bind(counterparty.to_string())
        .bind(state)
        .execute(&book.pool)
        .await
        .unwrap();
    }

    #[tokio::test]
    async fn entries_count_the_trades_completed_with_their_maker() {
        let (_dir, book) = book().await;
        let (known, stranger, third) = (
            Keypair::generate_ed25519(),
            Keypair::generate_ed25519(),
            Keypair::generate_ed25519(),
        );
        let known_offer = signed(
            &known,
            new_offer(Side::Sell, fixed("60000"), 1, 10, &["SEPA"]),
            NOW,
        );
        let stranger_offer = signed(
            &stranger,
            new_offer(Side::Sell, fixed("60001"), 1, 10, &["SEPA"]),
            NOW,
        );
        for o in [&known_offer, &stranger_offer] {
            book.insert(o, false, NOW).await.unwrap();
        }
        let maker = known.public().to_peer_id();
        trade_row(&book, &maker, "taker", "Completed").await;
        trade_row(&book, &maker, "maker", "Completed").await;
        // Not completed, or not a trade of ours (arbitrated between others): not counted.
        trade_row(&book, &maker, "taker", "Cancelled").await;
        trade_row(&book, &maker, "arbitrator", "Completed").await;
        trade_row(&book, &third.public().to_peer_id(), "taker", "Completed").await;

        let entries = book.query(&BookQuery::default(), NOW, None).await.unwrap();
        let count = |id: Uuid| {
            entries
                .iter()
                .find(|e| e.offer.id == id)
                .map(|e| e.completed_with_maker)
        };
        assert_eq!(count(known_offer.id()), Some(2));
        assert_eq!(count(stranger_offer.id()), Some(0));
    }

    #[tokio::test]
    async fn query_filters_and_sorts_by_price() {
        let (_dir, book) = book().await;
        let (a, b) = (Keypair::generate_ed25519(), Keypair::generate_ed25519());
        let cheap = signed(
            &a,
            new_offer(Side::Sell, fixed("59000"), 100_000, 1_000_000, &["SEPA"]),
            NOW,
        );
        let dear = signed(
            &b,
            new_offer(
                Side::Sell,
                fixed("61000"),
                100_000,
                5_000_000,
                &["SEPA", "REVOLUT"],
            ),
            NOW,
        );
        let relative = signed(
            &b,
            new_offer(
                Side::Sell,
                Price::MarketRelative { premium_bps: 100 },
                1,
                10,
                &["SEPA"],
            ),
            NOW,
        );
        let bid_low = signed(
            &a,
            new_offer(Side::Buy, fixed("55000"), 100_000, 1_000_000, &["SEPA"]),
            NOW,
        );
        let bid_high = signed(
            &b,
            new_offer(Side::Buy, fixed("58000"), 100_000, 1_000_000, &["SEPA"]),
            NOW,
        );
        for o in [&dear, &cheap, &relative, &bid_low, &bid_high] {
            assert_eq!(book.insert(o, false, NOW).await.unwrap(), Inserted::New);
        }
        assert_eq!(
            book.insert(&cheap, false, NOW + 1).await.unwrap(),
            Inserted::Known
        );

        let ids =
            |entries: Vec<BookEntry>| entries.into_iter().map(|e| e.offer.id).collect::<Vec<_>>();
        let all = book.query(&BookQuery::default(), NOW, None).await.unwrap();
        assert_eq!(
            ids(all),
            [
                cheap.id(),
                dear.id(),
                relative.id(),
                bid_high.id(),
                bid_low.id()
            ]
        );
        // With a market price, the relative offer (60000 + 1 %) sorts between the fixed ones.
        let with_market = book
            .query(&BookQuery::default(), NOW, Some(Decimal::from(60_000)))
            .await
            .unwrap();
        assert_eq!(with_market[1].effective_price, Some(Decimal::from(60_600)));
        assert_eq!(with_market[1].offer.id, relative.id());

        let sells = BookQuery {
            side: Some(Side::Sell),
            ..Default::default()
        };
        assert_eq!(book.query(&sells, NOW, None).await.unwrap().len(), 3);
        let revolut = BookQuery {
            method: Some(PaymentMethod::new("REVOLUT").unwrap()),
            ..Default::default()
        };
        assert_eq!(
            ids(book.query(&revolut, NOW, None).await.unwrap()),
            [dear.id()]
        );
        let two_million = BookQuery {
            amount: Some(2_000_000),
            ..Default::default()
        };
        assert_eq!(
            ids(book.query(&two_million, NOW, None).await.unwrap()),
            [dear.id()]
        );
        let other_market = BookQuery {
            base: Some(Asset::Ltc),
            ..Default::default()
        };
        assert!(
            book.query(&other_market, NOW, None)
                .await
                .unwrap()
                .is_empty()
        );
        let usd = BookQuery {
            quote: Some(Quote::Fiat(Fiat::Usd)),
            ..Default::default()
        };
        assert!(book.query(&usd, NOW, None).await.unwrap().is_empty());
        // Expired offers vanish from queries, then from the table.
        assert!(
            book.query(&BookQuery::default(), NOW + 25 * HOUR, None)
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(book.expire(NOW + 25 * HOUR).await.unwrap(), 5);
    }

    #[tokio::test]
    async fn my_offers_keep_their_history_with_states() {
        let (_dir, book) = book().await;
        let key = Keypair::generate_ed25519();
        let old = signed(
            &key,
            new_offer(Side::Sell, fixed("1"), 1, 10, &["SEPA"]),
            NOW,
        );
        let gone = signed(
            &key,
            new_offer(Side::Buy, fixed("2"), 1, 10, &["SEPA"]),
            NOW + 1,
        );
        let live = signed(
            &key,
            new_offer(Side::Sell, fixed("3"), 1, 10, &["SEPA"]),
            NOW + 2,
        );
        let theirs = signed(
            &Keypair::generate_ed25519(),
            new_offer(Side::Sell, fixed("4"), 1, 10, &["SEPA"]),
            NOW,
        );
        for offer in [&old, &gone, &live] {
            book.insert(offer, true, NOW + 2).await.unwrap();
        }
        book.insert(&theirs, false, NOW + 2).await.unwrap();
        let w = SignedWithdrawal::sign(&Withdrawal::of(gone.offer(), NOW + 5), &key)
            .unwrap()
            .to_bytes();
        book.withdraw(&SignedWithdrawal::verify(&w, NOW + 5).unwrap(), NOW + 5)
            .await
            .unwrap();

        let states = |mine: Vec<MyOffer>| -> Vec<(Uuid, OfferState)> {
            mine.into_iter().map(|m| (m.offer.id, m.state)).collect()
        };
        assert_eq!(
            states(book.my_offers(NOW + 6).await.unwrap()),
            [
                (live.id(), OfferState::Live),
                (gone.id(), OfferState::Withdrawn { at: NOW + 5 }),
                (old.id(), OfferState::Live),
            ]
        );
        // Past expiry: others' offers are swept, this node's own stay as its history.
        let later = old.offer().expires_at + 1;
        assert_eq!(book.expire(later).await.unwrap(), 1);
        let after = states(book.my_offers(later).await.unwrap());
        assert_eq!(after.len(), 3);
        assert!(after.contains(&(old.id(), OfferState::Expired)));
        assert!(after.contains(&(live.id(), OfferState::Live)));
        // Nothing expired is re-announced.
        assert_eq!(
            book.my_live_offers(later).await.unwrap(),
            vec![live.signed().clone()]
        );
    }

    #[tokio::test]
    async fn withdrawal_removes_and_keeps_late_copies_out() {
        let (_dir, book) = book().await;
        let key = Keypair::generate_ed25519();
        let offer = signed(
            &key,
            new_offer(Side::Sell, fixed("60000"), 1, 10, &["SEPA"]),
            NOW,
        );
        book.insert(&offer, true, NOW).await.unwrap();
        assert_eq!(
            book.my_live_offers(NOW).await.unwrap(),
            vec![offer.signed().clone()]
        );

        let w = SignedWithdrawal::sign(&Withdrawal::of(offer.offer(), NOW + 5), &key)
            .unwrap()
            .to_bytes();
        let w = SignedWithdrawal::verify(&w, NOW + 5).unwrap();
        assert!(book.withdraw(&w, NOW + 5).await.unwrap());
        assert!(
            !book.withdraw(&w, NOW + 6).await.unwrap(),
            "a repeated withdrawal changes nothing"
        );
        assert!(
            book.query(&BookQuery::default(), NOW + 6, None)
                .await
                .unwrap()
                .is_empty()
        );
        assert!(book.my_live_offers(NOW + 6).await.unwrap().is_empty());
        assert_eq!(
            book.get(offer.id()).await.unwrap().unwrap().1,
            OfferState::Withdrawn { at: NOW + 5 }
        );
        // A stale copy arriving later stays out.
        assert_eq!(
            book.insert(&offer, false, NOW + 7).await.unwrap(),
            Inserted::Withdrawn
        );
        assert!(
            book.query(&BookQuery::default(), NOW + 7, None)
                .await
                .unwrap()
                .is_empty()
        );
    }

    #[tokio::test]
    async fn a_tombstone_that_arrives_first_still_wins_and_others_cannot_withdraw() {
        let (_dir, book) = book().await;
        let (maker, mallory) = (Keypair::generate_ed25519(), Keypair::generate_ed25519());
        let offer = signed(
            &maker,
            new_offer(Side::Sell, fixed("60000"), 1, 10, &["SEPA"]),
            NOW,
        );
        let victim = signed(
            &maker,
            new_offer(Side::Sell, fixed("60001"), 1, 10, &["SEPA"]),
            NOW,
        );

        let w = SignedWithdrawal::sign(&Withdrawal::of(offer.offer(), NOW), &maker)
            .unwrap()
            .to_bytes();
        let w = SignedWithdrawal::verify(&w, NOW).unwrap();
        assert!(
            !book.withdraw(&w, NOW).await.unwrap(),
            "nothing to remove yet"
        );
        assert_eq!(
            book.insert(&offer, false, NOW).await.unwrap(),
            Inserted::Withdrawn
        );

        // Mallory signs a "withdrawal" of the maker's other offer with her own key.
        book.insert(&victim, false, NOW).await.unwrap();
        let forged = Withdrawal {
            offer_id: victim.id(),
            maker: mallory.public().to_peer_id(),
            withdrawn_at: NOW,
        };
        let forged = SignedWithdrawal::sign(&forged, &mallory)
            .unwrap()
            .to_bytes();
        let forged = SignedWithdrawal::verify(&forged, NOW).unwrap();
        assert!(!book.withdraw(&forged, NOW).await.unwrap());
        let live = book.query(&BookQuery::default(), NOW, None).await.unwrap();
        assert_eq!(
            live.iter().map(|e| e.offer.id).collect::<Vec<_>>(),
            [victim.id()]
        );
    }

    /// A maker's live offers in one market are capped; withdrawn or expired ones free a place, other
    /// markets and other makers are not affected.
    #[tokio::test]
    async fn a_maker_cannot_fill_a_market() {
        let (_dir, book) = book().await;
        let (maker, other) = (Keypair::generate_ed25519(), Keypair::generate_ed25519());
        let offer = |key: &Keypair| {
            signed(
                key,
                new_offer(Side::Sell, fixed("60000"), 1, 10, &["SEPA"]),
                NOW,
            )
        };
        let mut first = None;
        for _ in 0..MAX_OFFERS_PER_MAKER_PER_MARKET {
            let o = offer(&maker);
            assert_eq!(book.insert(&o, false, NOW).await.unwrap(), Inserted::New);
            first.get_or_insert(o);
        }
        let one_more = offer(&maker);
        assert_eq!(
            book.insert(&one_more, false, NOW).await.unwrap(),
            Inserted::OverQuota
        );
        assert_eq!(
            book.insert(&offer(&other), false, NOW).await.unwrap(),
            Inserted::New,
            "another maker"
        );
        let first = first.unwrap();
        let w = SignedWithdrawal::sign(&Withdrawal::of(first.offer(), NOW), &maker)
            .unwrap()
            .to_bytes();
        assert!(
            book.withdraw(&SignedWithdrawal::verify(&w, NOW).unwrap(), NOW)
                .await
                .unwrap()
        );
        assert_eq!(
            book.insert(&one_more, false, NOW).await.unwrap(),
            Inserted::New,
            "a withdrawn offer frees its place"
        );
        let live = book.query(&BookQuery::default(), NOW, None).await.unwrap();
        assert_eq!(
            live.len(),
            MAX_OFFERS_PER_MAKER_PER_MARKET + 1,
            "the cap, and the other maker's"
        );
    }

    /// A maker's whole answer in one transaction, each offer judged as [`Book::insert`] judges it:
    /// new, known, withdrawn before it came, over the maker's cap; and the makers this node knows
    /// in a market are those with a live offer there.
    #[tokio::test]
    async fn a_batch_is_judged_offer_by_offer() {
        let (_dir, book) = book().await;
        let maker = Keypair::generate_ed25519();
        let offers: Vec<VerifiedOffer> = (0..=MAX_OFFERS_PER_MAKER_PER_MARKET + 1)
            .map(|_| {
                signed(
                    &maker,
                    new_offer(Side::Sell, fixed("60000"), 1, 10, &["SEPA"]),
                    NOW,
                )
            })
            .collect();
        let w = SignedWithdrawal::sign(&Withdrawal::of(offers[0].offer(), NOW), &maker)
            .unwrap()
            .to_bytes();
        book.withdraw(&SignedWithdrawal::verify(&w, NOW).unwrap(), NOW)
            .await
            .unwrap();
        book.insert(&offers[1], false, NOW).await.unwrap();

        let outcomes = book.insert_many(&offers, NOW).await.unwrap();
        assert_eq!(outcomes[0], Inserted::Withdrawn);
        assert_eq!(outcomes[1], Inserted::Known);
        assert!(
            outcomes[2..=MAX_OFFERS_PER_MAKER_PER_MARKET]
                .iter()
                .all(|o| *o == Inserted::New)
        );
        assert_eq!(
            outcomes[MAX_OFFERS_PER_MAKER_PER_MARKET + 1],
            Inserted::OverQuota
        );
        let live = book.query(&BookQuery::default(), NOW, None).await.unwrap();
        assert_eq!(live.len(), MAX_OFFERS_PER_MAKER_PER_MARKET);
        assert_eq!(
            book.makers_in(Asset::Btc, Quote::Fiat(crate::offer::Fiat::Eur), NOW)
                .await
                .unwrap(),
            [maker.public().to_peer_id()]
        );
        assert!(
            book.makers_in(Asset::Ltc, Quote::Fiat(crate::offer::Fiat::Eur), NOW)
                .await
                .unwrap()
                .is_empty()
        );
    }

    #[tokio::test]
    async fn maker_last_seen_is_the_latest_sighting() {
        let (_dir, book) = book().await;
        let key = Keypair::generate_ed25519();
        let offer = signed(
            &key,
            new_offer(Side::Sell, fixed("60000"), 1, 10, &["SEPA"]),
            NOW,
        );
        book.insert(&offer, false, NOW).await.unwrap();
        assert_eq!(
            book.query(&BookQuery::default(), NOW, None).await.unwrap()[0].maker_last_seen,
            NOW
        );
        book.saw_peer(&key.public().to_peer_id(), NOW + HOUR)
            .await
            .unwrap();
        assert_eq!(
            book.query(&BookQuery::default(), NOW, None).await.unwrap()[0].maker_last_seen,
            NOW + HOUR
        );
        book.insert(&offer, false, NOW + 2 * HOUR).await.unwrap();
        assert_eq!(
            book.query(&BookQuery::default(), NOW, None).await.unwrap()[0].maker_last_seen,
            NOW + 2 * HOUR
        );
        let mine = BookQuery {
            include_mine: Some(false),
            ..Default::default()
        };
        assert_eq!(book.query(&mine, NOW, None).await.unwrap().len(), 1);
    }

    /// A book of many makers' offers of all four kinds (fixed and market-relative, sells and buys),
    /// some at the same price, each made at its own time.
    async fn paged_book(book: &Book, makers: &[Keypair], per_maker: usize, seed: u64) -> Vec<Uuid> {
        let mut x = seed;
        let mut next = move || {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            x >> 33
        };
        let mut ids = Vec::new();
        let mut batch = Vec::new();
        for (m, key) in makers.iter().enumerate() {
            for i in 0..per_maker {
                let side = if next() % 2 == 0 {
                    Side::Sell
                } else {
                    Side::Buy
                };
                let price = if next() % 3 == 0 {
                    Price::MarketRelative {
                        premium_bps: i32::try_from(next() % 400).unwrap() - 200,
                    }
                } else {
                    // Few distinct prices: ties are common.
                    fixed(&format!("{}", 59_000 + (next() % 40) * 50))
                };
                let method = ["SEPA", "REVOLUT", "CASH"][usize::try_from(next() % 3).unwrap()];
                let min = 1 + next() % 1_000_000;
                let created = NOW - i64::try_from(m * per_maker + i).unwrap() * 7 - 1_000;
                let offer = signed(
                    key,
                    new_offer(side, price, min, min + next() % 5_000_000, &[method]),
                    created,
                );
                ids.push(offer.offer().id);
                batch.push(offer);
            }
        }
        book.insert_many(&batch, NOW).await.unwrap();
        ids
    }

    fn btc_eur() -> BookQuery {
        BookQuery {
            base: Some(Asset::Btc),
            quote: Some(Quote::Fiat(Fiat::Eur)),
            ..BookQuery::default()
        }
    }

    async fn all_pages(
        book: &Book,
        query: &BookQuery,
        limit: u32,
        price: Option<Decimal>,
    ) -> Vec<BookEntry> {
        let mut out = Vec::new();
        let mut after = None;
        loop {
            let page = book
                .page(
                    query,
                    &PageRequest {
                        after,
                        limit: Some(limit),
                    },
                    NOW,
                    price,
                )
                .await
                .unwrap();
            assert!(page.entries.len() <= usize::try_from(limit).unwrap());
            out.extend(page.entries);
            match page.next {
                Some(next) => after = Some(next),
                None => return out,
            }
        }
    }

    #[tokio::test]
    async fn pages_of_a_market_are_the_book_in_its_order_with_a_total() {
        let (_dir, book) = book().await;
        let makers: Vec<Keypair> = (0..4).map(|_| Keypair::generate_ed25519()).collect();
        paged_book(&book, &makers, 60, 7).await;
        let price = Some(Decimal::from(60_000));
        let whole = book.query(&btc_eur(), NOW, price).await.unwrap();
        assert_eq!(whole.len(), 240);
        for limit in [1, 7, 50, 500] {
            let paged = all_pages(&book, &btc_eur(), limit, price).await;
            let ids = |e: &[BookEntry]| e.iter().map(|e| e.offer.id).collect::<Vec<_>>();
            // The same offers, in the book's order (the unpaged query sorts them in memory; offers at
            // the same price go oldest first in both).
            assert_eq!(ids(&paged), ids(&whole), "limit {limit}");
        }
        let first = book
            .page(
                &btc_eur(),
                &PageRequest {
                    after: None,
                    limit: Some(10),
                },
                NOW,
                price,
            )
            .await
            .unwrap();
        assert_eq!((first.entries.len(), first.total), (10, 240));
        assert!(!first.total_capped, "240 offers are counted to the last");
        // The whole book counted without reading it: every market, none once all expired.
        assert_eq!(book.live_count(NOW).await.unwrap(), 240);
        assert_eq!(book.live_count(i64::MAX).await.unwrap(), 0);
        // Past the cap the count stops and says so: exact up to it, one more means "more than".
        for (cap, counted) in [(1_000, 240), (240, 240), (239, 240), (100, 101), (1, 2)] {
            let n = book.count(&btc_eur(), NOW, cap).await.unwrap();
            assert_eq!(n, counted, "cap {cap}");
        }
        let sells = BookQuery {
            side: Some(Side::Sell),
            ..btc_eur()
        };
        let sell_count = book.count(&sells, NOW, 1_000).await.unwrap();
        assert_eq!(
            sell_count,
            u32::try_from(book.query(&sells, NOW, price).await.unwrap().len()).unwrap()
        );
        // Without a market price, market-relative offers come after the priced ones, by premium.
        let unpriced = all_pages(&book, &btc_eur(), 9, None).await;
        assert_eq!(
            ids_of(&unpriced),
            ids_of(&book.query(&btc_eur(), NOW, None).await.unwrap())
        );
        // Filters are the unpaged query's.
        for query in [
            BookQuery {
                side: Some(Side::Buy),
                ..btc_eur()
            },
            BookQuery {
                method: Some(PaymentMethod::new("CASH").unwrap()),
                ..btc_eur()
            },
            BookQuery {
                amount: Some(700_000),
                ..btc_eur()
            },
            BookQuery {
                include_mine: Some(false),
                ..btc_eur()
            },
        ] {
            let whole = book.query(&query, NOW, price).await.unwrap();
            let paged = all_pages(&book, &query, 13, price).await;
            assert_eq!(ids_of(&paged), ids_of(&whole), "{query:?}");
            let page = book
                .page(&query, &PageRequest::default(), NOW, price)
                .await
                .unwrap();
            assert_eq!(
                usize::try_from(page.total).unwrap(),
                whole.len(),
                "{query:?}"
            );
        }
    }

    /// A page's total is counted from indexes alone (migration 0019: `offer_methods`, kept by
    /// triggers, for a payment method): it agrees with the book as offers arrive (one method or
    /// several, others' and this node's), are withdrawn and expire.
    #[tokio::test]
    async fn totals_follow_offers_arriving_withdrawn_and_expiring() {
        let (_dir, book) = book().await;
        let makers: Vec<Keypair> = (0..3).map(|_| Keypair::generate_ed25519()).collect();
        paged_book(&book, &makers, 40, 5).await;
        let me = Keypair::generate_ed25519();
        let mut mine = Vec::new();
        for (i, methods) in [&["SEPA", "CASH"][..], &["REVOLUT"], &["CASH", "REVOLUT"]]
            .into_iter()
            .enumerate()
        {
            let offer = signed(
                &me,
                new_offer(Side::Sell, fixed("60000"), 1_000, 900_000, methods),
                NOW - i64::try_from(i).unwrap(),
            );
            book.insert(&offer, true, NOW).await.unwrap();
            mine.push(offer);
        }
        let method = |m: &str| Some(PaymentMethod::new(m).unwrap());
        let queries = [
            btc_eur(),
            BookQuery {
                method: method("CASH"),
                ..btc_eur()
            },
            BookQuery {
                method: method("SEPA"),
                side: Some(Side::Sell),
                ..btc_eur()
            },
            BookQuery {
                method: method("REVOLUT"),
                amount: Some(700_000),
                ..btc_eur()
            },
            BookQuery {
                method: method("CASH"),
                include_mine: Some(false),
                ..btc_eur()
            },
            BookQuery {
                side: Some(Side::Buy),
                amount: Some(700_000),
                ..btc_eur()
            },
            BookQuery {
                method: method("ZELLE"),
                ..btc_eur()
            },
        ];
        let agree = |when: &'static str| {
            let book = &book;
            let queries = &queries;
            async move {
                for query in queries {
                    let whole = book.query(query, NOW, None).await.unwrap();
                    let counted = book.count(query, NOW, 1_000).await.unwrap();
                    assert_eq!(
                        usize::try_from(counted).unwrap(),
                        whole.len(),
                        "{when}: {query:?}"
                    );
                }
            }
        };
        agree("as stored").await;
        let cash = book.count(&queries[1], NOW, 1_000).await.unwrap();
        assert!(cash > 2, "the book has CASH offers to count: {cash}");

        // Withdrawn: one of mine with two methods, and a dozen of others'.
        let mut withdrawn = vec![(&me, mine[0].offer().clone())];
        let others = book.query(&btc_eur(), NOW, None).await.unwrap();
        for entry in others.iter().filter(|e| !e.mine).take(12) {
            let key = makers
                .iter()
                .find(|k| k.public().to_peer_id() == entry.offer.maker)
                .unwrap();
            withdrawn.push((key, entry.offer.clone()));
        }
        for (key, offer) in &withdrawn {
            let w = SignedWithdrawal::sign(&Withdrawal::of(offer, NOW + 1), key)
                .unwrap()
                .to_bytes();
            let w = SignedWithdrawal::verify(&w, NOW + 1).unwrap();
            assert!(book.withdraw(&w, NOW + 1).await.unwrap());
        }
        agree("after withdrawals").await;
        assert!(book.count(&queries[1], NOW, 1_000).await.unwrap() < cash);

        // Expired and dropped: the older half of others' offers (this node keeps its own).
        let oldest = others.iter().map(|e| e.offer.created_at).min().unwrap();
        let newest = others.iter().map(|e| e.offer.created_at).max().unwrap();
        let dropped = book
            .expire(oldest + (newest - oldest) / 2 + 24 * HOUR)
            .await
            .unwrap();
        assert!(dropped > 10, "{dropped} offers expired");
        agree("after expiry").await;
        let left: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM offer_methods m WHERE NOT EXISTS \
             (SELECT 1 FROM offers o WHERE o.id = m.offer_id)",
        )
        .fetch_one(&book.pool)
        .await
        .unwrap();
        assert_eq!(left, 0, "a dropped offer leaves no method behind");
    }

    fn ids_of(entries: &[BookEntry]) -> Vec<Uuid> {
        entries.iter().map(|e| e.offer.id).collect()
    }

    /// Offers arrive (before and after where the reader is) and leave while a reader pages through:
    /// no page repeats an offer, every offer that was there all along is read once, and the order of
    /// the first page holds even when the market price moves.
    #[tokio::test]
    async fn paging_while_offers_arrive_and_leave_repeats_and_skips_nothing() {
        let (_dir, book) = book().await;
        let makers: Vec<Keypair> = (0..4).map(|_| Keypair::generate_ed25519()).collect();
        let start = paged_book(&book, &makers, 50, 11).await;
        let late_makers: Vec<Keypair> = (0..4).map(|_| Keypair::generate_ed25519()).collect();
        let mut seen = Vec::new();
        let mut after = None;
        let mut withdrawn = std::collections::HashSet::new();
        let mut round = 0u64;
        loop {
            // The price feed moves between pages: the cursor keeps the first page's order.
            let price = Some(Decimal::from(60_000 + round * 500));
            let page = book
                .page(
                    &btc_eur(),
                    &PageRequest {
                        after,
                        limit: Some(17),
                    },
                    NOW,
                    price,
                )
                .await
                .unwrap();
            seen.extend(ids_of(&page.entries));
            let Some(next) = page.next else { break };
            after = Some(next);
            round += 1;
            // New offers, all over the book's order.
            paged_book(
                &book,
                &late_makers[usize::try_from(round % 4).unwrap()..][..1],
                5,
                round,
            )
            .await;
            // One offer not read yet leaves.
            if let Some(gone) = start
                .iter()
                .rev()
                .find(|id| !seen.contains(id) && !withdrawn.contains(*id))
            {
                let (offer, _) = book.get(*gone).await.unwrap().unwrap();
                let maker = makers
                    .iter()
                    .find(|k| k.public().to_peer_id() == offer.maker)
                    .unwrap();
                let w = SignedWithdrawal::sign(&Withdrawal::of(&offer, NOW), maker)
                    .unwrap()
                    .to_bytes();
                book.withdraw(&SignedWithdrawal::verify(&w, NOW).unwrap(), NOW)
                    .await
                    .unwrap();
                withdrawn.insert(*gone);
            }
        }
        let unique: std::collections::HashSet<Uuid> = seen.iter().copied().collect();
        assert_eq!(unique.len(), seen.len(), "an offer was read twice");
        let missing: Vec<&Uuid> = start
            .iter()
            .filter(|id| !withdrawn.contains(*id) && !unique.contains(*id))
            .collect();
        assert!(missing.is_empty(), "{} offers were skipped", missing.len());
        assert!(withdrawn.iter().all(|id| !unique.contains(id)));
        assert!(round > 5, "the walk took {round} pages");
    }

    #[tokio::test]
    async fn a_page_needs_a_market_a_sane_size_and_a_cursor_this_node_gave() {
        let (_dir, book) = book().await;
        let page = |query: BookQuery, after: Option<&str>, limit: Option<u32>| {
            let book = book.clone();
            let request = PageRequest {
                after: after.map(str::to_owned),
                limit,
            };
            async move { book.page(&query, &request, NOW, None).await }
        };
        assert!(matches!(
            page(BookQuery::default(), None, None).await,
            Err(PageError::NoMarket)
        ));
        assert!(matches!(
            page(btc_eur(), None, Some(0)).await,
            Err(PageError::Limit(0))
        ));
        assert!(matches!(
            page(btc_eur(), None, Some(501)).await,
            Err(PageError::Limit(501))
        ));
        assert!(matches!(
            page(btc_eur(), Some("zz"), None).await,
            Err(PageError::BadCursor(_))
        ));
        assert!(matches!(
            page(btc_eur(), Some("7b7d00"), None).await,
            Err(PageError::BadCursor(_))
        ));
        let empty = page(btc_eur(), None, None).await.unwrap();
        assert_eq!((empty.entries.len(), empty.total, empty.next), (0, 0, None));
        assert_eq!(
            crate::Error::from(PageError::NoMarket).kind(),
            crate::ErrorKind::InvalidInput
        );
    }

    /// Offers a Souk stored before migration 0018 get their sort keys, amounts and methods from their
    /// stored JSON: the upgraded book pages them like new ones.
    #[tokio::test]
    async fn offers_stored_before_paging_are_paged_after_the_upgrade() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(crate::store::FILE_NAME);
        let old = crate::store::create_at_version(&path, 17).await;
        let key = Keypair::generate_ed25519();
        let mut offers = Vec::new();
        for (i, (side, price, method)) in [
            (Side::Sell, fixed("60100.5"), "SEPA"),
            (
                Side::Sell,
                Price::MarketRelative { premium_bps: -150 },
                "CASH",
            ),
            (Side::Buy, fixed("59000"), "SEPA"),
            (
                Side::Buy,
                Price::MarketRelative { premium_bps: 250 },
                "REVOLUT",
            ),
            (Side::Sell, fixed("59900"), "REVOLUT"),
        ]
        .into_iter()
        .enumerate()
        {
            let offer = signed(
                &key,
                new_offer(side, price, 1_000, 2_000 + i as u64, &[method, "ZELLE"]),
                NOW - i64::try_from(i).unwrap(),
            );
            let o = offer.offer();
            sqlx::query(
                "INSERT INTO offers (id, maker, side, base, quote, signed, is_mine, created_at, \
                 expires_at, last_seen, offer_json) VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?)",
            )
            .bind(o.id.to_string())
            .bind(o.maker.to_base58())
            .bind(side_text(o.side))
            .bind(o.base.code())
            .bind(o.quote.code())
            .bind(offer.to_bytes())
            .bind(o.created_at)
            .bind(o.expires_at)
            .bind(NOW)
            .bind(serde_json::to_string(o).unwrap())
            .execute(&old)
            .await
            .unwrap();
            offers.push(offer);
        }
        old.close().await;
        let store = Store::open(&path).await.unwrap();
        let book = Book::new(&store);
        for price in [None, Some(Decimal::from(60_000))] {
            let whole = book.query(&btc_eur(), NOW, price).await.unwrap();
            assert_eq!(whole.len(), 5);
            assert_eq!(
                ids_of(&all_pages(&book, &btc_eur(), 2, price).await),
                ids_of(&whole)
            );
        }
        // Methods and amounts were filled in too.
        let zelle = BookQuery {
            method: Some(PaymentMethod::new("REVOLUT").unwrap()),
            amount: Some(2_004),
            ..btc_eur()
        };
        let page = book
            .page(&zelle, &PageRequest::default(), NOW, None)
            .await
            .unwrap();
        assert_eq!(ids_of(&page.entries), [offers[4].offer().id]);
        assert_eq!(
            page.total, 1,
            "counted from the methods migration 0019 filled in"
        );
        let zelle = BookQuery {
            method: Some(PaymentMethod::new("ZELLE").unwrap()),
            ..btc_eur()
        };
        assert_eq!(book.count(&zelle, NOW, 1_000).await.unwrap(), 5);
        // The keys as an offer inserted now would have them.
        for offer in &offers {
            let o = offer.offer();
            let keys = page::Keys::of(o);
            let (price_key, premium_key, min, max, methods): (
                Option<f64>,
                Option<i64>,
                i64,
                i64,
                String,
            ) = sqlx::query_as(
                "SELECT price_key, premium_key, min_amount, max_amount, methods FROM offers \
                     WHERE id = ?",
            )
            .bind(o.id.to_string())
            .fetch_one(&book.pool)
            .await
            .unwrap();
            assert_eq!(
                (price_key, premium_key, min, max, methods),
                (
                    keys.price_key,
                    keys.premium_key,
                    keys.min_amount,
                    keys.max_amount,
                    keys.methods
                )
            );
        }
    }
}
