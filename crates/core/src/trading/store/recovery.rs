//! Recovery rows. The owner's: its open escrow trades and which copy each holder stored last. The
//! holder's: the copies it keeps for others, and the locators it provides for them. A restore's: the
//! trade as this node has it, and the record's rows written back (see [`records`]). Rows only: sealing,
//! handing over and deciding what comes back is `trading::recovery`'s.

mod records;

use std::sync::LazyLock;

use libp2p::PeerId;
use sqlx::{SqliteConnection, SqliteExecutor, SqlitePool};
use uuid::Uuid;

pub(in crate::trading) use records::{
    chat_table, checked_inserts, execute, key_of, or_ignore, schema_version, trade_tables,
    update_of,
};

use super::sql;
use crate::{error::Result, protocol::state::TradeState, trading::recovery::CopyOffer};

/// This node's open escrow trades, as a party: the ones whose copies it hands over.
static OPEN_ESCROW_TRADES: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT t.id, t.counterparty, t.state FROM trades t JOIN trade_escrow e ON e.trade_id = t.id \
         WHERE t.role IN ('maker', 'taker') AND t.state NOT IN {}",
        TradeState::closed_sql()
    )
});

/// The locators of the copies this node keeps: as counterparty while the trade is open, as arbitrator
/// while copies keep coming (`?`: the oldest time still kept).
static KEPT_LOCATORS: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT DISTINCT c.locator FROM recovery_copies c LEFT JOIN trades t ON t.id = c.trade_id \
         WHERE (c.arbitrated = 0 AND t.state NOT IN {}) OR (c.arbitrated = 1 AND c.received_at > ?)",
        TradeState::closed_sql()
    )
});

/// Copies no longer kept: of trades closed before a time, or lodged with this arbitrator before it.
static FORGET_COPIES: LazyLock<String> = LazyLock::new(|| {
    format!(
        "DELETE FROM recovery_copies WHERE (arbitrated = 0 AND trade_id IN (SELECT id FROM trades \
         WHERE state IN {} AND updated_at < ?1)) OR (arbitrated = 1 AND received_at < ?1)",
        TradeState::closed_sql()
    )
});

/// This node's open escrow trades as a party: (trade id, counterparty, state), as stored.
pub(in crate::trading) async fn open_escrow_trades(
    pool: &SqlitePool,
) -> Result<Vec<(String, String, TradeState)>> {
    sqlx::query_as(OPEN_ESCROW_TRADES.as_str())
        .fetch_all(pool)
        .await
        .map_err(sql)
}

/// The digest of the copy of `trade_id` that `holder` stored last, and when it was handed over.
pub(in crate::trading) async fn last_sent(
    pool: &SqlitePool,
    trade_id: Uuid,
    holder: &PeerId,
) -> Result<Option<(Vec<u8>, i64)>> {
    sqlx::query_as("SELECT digest, sent_at FROM recovery_sent WHERE trade_id = ? AND holder = ?")
        .bind(trade_id.to_string())
        .bind(holder.to_base58())
        .fetch_optional(pool)
        .await
        .map_err(sql)
}

/// Records that `holder` stored the copy of `trade_id` with `digest` at `at`.
pub(in crate::trading) async fn save_sent(
    pool: &SqlitePool,
    trade_id: Uuid,
    holder: &PeerId,
    digest: &[u8],
    at: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO recovery_sent (trade_id, holder, digest, sent_at) VALUES (?, ?, ?, ?) \
         ON CONFLICT (trade_id, holder) DO UPDATE SET digest = excluded.digest, \
         sent_at = excluded.sent_at",
    )
    .bind(trade_id.to_string())
    .bind(holder.to_base58())
    .bind(digest)
    .bind(at)
    .execute(pool)
    .await
    .map_err(sql)?;
    Ok(())
}

/// A trade of this node's as a holder sees it: (counterparty, role, state), as stored.
pub(in crate::trading) async fn trade_of(
    pool: &SqlitePool,
    trade_id: Uuid,
) -> Result<Option<(String, String, TradeState)>> {
    sqlx::query_as("SELECT counterparty, role, state FROM trades WHERE id = ?")
        .bind(trade_id.to_string())
        .fetch_optional(pool)
        .await
        .map_err(sql)
}

/// How many trades other than `trade_id` this arbitrator keeps copies of for `owner`.
pub(in crate::trading) async fn lodged_besides(
    pool: &SqlitePool,
    owner: &PeerId,
    trade_id: Uuid,
) -> Result<i64> {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM recovery_copies WHERE owner = ? AND arbitrated = 1 AND trade_id != ?",
    )
    .bind(owner.to_base58())
    .bind(trade_id.to_string())
    .fetch_one(pool)
    .await
    .map_err(sql)
}

/// When `owner`'s copy of `trade_id` kept here arrived, and how many signed steps it holds.
pub(in crate::trading) async fn last_copy(
    pool: &SqlitePool,
    trade_id: Uuid,
    owner: &PeerId,
) -> Result<Option<(i64, i64)>> {
    sqlx::query_as(
        "SELECT received_at, events FROM recovery_copies WHERE trade_id = ? AND owner = ?",
    )
    .bind(trade_id.to_string())
    .bind(owner.to_base58())
    .fetch_optional(pool)
    .await
    .map_err(sql)
}

/// Keeps `owner`'s copy (received at `at`; `arbitrated`: lodged with this node as arbitrator), in place
/// of the one it kept before.
pub(in crate::trading) async fn save_copy(
    pool: &SqlitePool,
    owner: &PeerId,
    copy: &CopyOffer,
    arbitrated: bool,
    at: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO recovery_copies \
         (trade_id, owner, locator, record, received_at, arbitrated, events) \
         VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (trade_id, owner) DO UPDATE SET \
         locator = excluded.locator, record = excluded.record, received_at = excluded.received_at, \
         arbitrated = excluded.arbitrated, events = excluded.events",
    )
    .bind(copy.trade_id.to_string())
    .bind(owner.to_base58())
    .bind(copy.locator.as_slice())
    .bind(&copy.record)
    .bind(at)
    .bind(arbitrated)
    .bind(i64::from(copy.events))
    .execute(pool)
    .await
    .map_err(sql)?;
    Ok(())
}

/// Up to `limit` of the trades this node keeps copies of for `owner`, newest first: (trade id, when
/// the copy arrived).
pub(in crate::trading) async fn copies_of(
    pool: &SqlitePool,
    owner: &PeerId,
    limit: i64,
) -> Result<Vec<(String, i64)>> {
    sqlx::query_as(
        "SELECT trade_id, received_at FROM recovery_copies WHERE owner = ? \
         ORDER BY received_at DESC LIMIT ?",
    )
    .bind(owner.to_base58())
    .bind(limit)
    .fetch_all(pool)
    .await
    .map_err(sql)
}

/// `owner`'s sealed copy of `trade_id`, as kept here.
pub(in crate::trading) async fn copy_record(
    pool: &SqlitePool,
    trade_id: Uuid,
    owner: &PeerId,
) -> Result<Option<Vec<u8>>> {
    sqlx::query_scalar("SELECT record FROM recovery_copies WHERE trade_id = ? AND owner = ?")
        .bind(trade_id.to_string())
        .bind(owner.to_base58())
        .fetch_optional(pool)
        .await
        .map_err(sql)
}

/// The locators of the copies kept here: of open trades, and lodged ones that arrived after
/// `oldest_kept`.
pub(in crate::trading) async fn kept_locators(
    pool: &SqlitePool,
    oldest_kept: i64,
) -> Result<Vec<Vec<u8>>> {
    sqlx::query_scalar(KEPT_LOCATORS.as_str())
        .bind(oldest_kept)
        .fetch_all(pool)
        .await
        .map_err(sql)
}

/// Forgets the copies no longer kept: of trades closed before `oldest_kept`, and lodged ones that
/// arrived before it.
pub(in crate::trading) async fn forget_copies(pool: &SqlitePool, oldest_kept: i64) -> Result<()> {
    sqlx::query(FORGET_COPIES.as_str())
        .bind(oldest_kept)
        .execute(pool)
        .await
        .map_err(sql)?;
    Ok(())
}

/// Whether this node has the trade. On the pool or in the caller's transaction.
pub(in crate::trading) async fn trade_known<'c>(
    conn: impl SqliteExecutor<'c>,
    trade_id: Uuid,
) -> Result<bool> {
    let known: Option<i64> = sqlx::query_scalar("SELECT 1 FROM trades WHERE id = ?")
        .bind(trade_id.to_string())
        .fetch_optional(conn)
        .await
        .map_err(sql)?;
    Ok(known.is_some())
}

/// The trade's state here; `None` when this node does not have it. In the caller's transaction.
pub(in crate::trading) async fn trade_state(
    conn: &mut SqliteConnection,
    trade_id: Uuid,
) -> Result<Option<TradeState>> {
    sqlx::query_scalar("SELECT state FROM trades WHERE id = ?")
        .bind(trade_id.to_string())
        .fetch_optional(conn)
        .await
        .map_err(sql)
}

/// The signed steps of the trade's log here, as (seq, signature), oldest first. In the caller's
/// transaction.
pub(in crate::trading) async fn step_signatures(
    conn: &mut SqliteConnection,
    trade_id: Uuid,
) -> Result<Vec<(i64, Vec<u8>)>> {
    sqlx::query_as("SELECT seq, signature FROM trade_events WHERE trade_id = ? ORDER BY seq")
        .bind(trade_id.to_string())
        .fetch_all(conn)
        .await
        .map_err(sql)
}

/// Drops the incoming envelopes held for the trade, in the caller's transaction.
pub(in crate::trading) async fn forget_held(
    conn: &mut SqliteConnection,
    trade_id: Uuid,
) -> Result<()> {
    sqlx::query("DELETE FROM held_envelopes WHERE trade_id = ?")
        .bind(trade_id.to_string())
        .execute(conn)
        .await
        .map_err(sql)?;
    Ok(())
}
