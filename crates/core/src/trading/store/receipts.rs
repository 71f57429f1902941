//! Receipt rows: this node's receipts (made as maker, countersigned as taker) and their asks for a
//! countersignature, the ratings it gave, the receipt checks it remembers, and what the set it
//! publishes reads besides (the nickname, a maker's first and last offer). Rows only: what a receipt
//! says, and whether it holds, is `trading::receipts`'s.

use libp2p::PeerId;
use sqlx::SqlitePool;
use uuid::Uuid;

use super::sql;
use crate::error::Result;

/// A receipt waiting for the taker's signature: trade id, body, the maker's signature, the taker, attempts.
pub(in crate::trading) type Due = (String, Vec<u8>, Vec<u8>, String, i64);

/// A receipt as this node stores it: signed by the maker (and, when the taker stores it, by the taker).
pub(in crate::trading) struct ReceiptRow<'a> {
    pub trade_id: Uuid,
    /// The receipt's id: the SHA-256 of its body.
    pub id: &'a [u8],
    pub body: &'a [u8],
    pub maker_signature: &'a [u8],
    /// The counterparty's PeerId, as text.
    pub counterparty: &'a str,
    pub ended_at: i64,
    pub created_at: i64,
}

/// This node's ended trades as maker that have no receipt yet, the longest ended first.
pub(in crate::trading) async fn ended_without_receipt(pool: &SqlitePool) -> Result<Vec<String>> {
    sqlx::query_scalar(
        "SELECT t.id FROM trades t LEFT JOIN receipts r ON r.trade_id = t.id \
         WHERE t.role = 'maker' AND r.trade_id IS NULL \
         AND t.state IN ('Completed', 'Resolved', 'Cancelled', 'Expired') ORDER BY t.updated_at",
    )
    .fetch_all(pool)
    .await
    .map_err(sql)
}

/// Stores the maker's receipt, unless the trade has one already.
pub(in crate::trading) async fn insert_made(
    pool: &SqlitePool,
    receipt: &ReceiptRow<'_>,
) -> Result<()> {
    sqlx::query(
        "INSERT OR IGNORE INTO receipts (trade_id, id, body, maker_signature, counterparty, \
         ended_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(receipt.trade_id.to_string())
    .bind(receipt.id)
    .bind(receipt.body)
    .bind(receipt.maker_signature)
    .bind(receipt.counterparty)
    .bind(receipt.ended_at)
    .bind(receipt.created_at)
    .execute(pool)
    .await
    .map_err(sql)?;
    Ok(())
}

/// The receipts whose ask for the taker's signature is due at `now`.
pub(in crate::trading) async fn due_asks(pool: &SqlitePool, now: i64) -> Result<Vec<Due>> {
    sqlx::query_as(
        "SELECT trade_id, body, maker_signature, counterparty, attempts FROM receipts \
         WHERE taker_signature IS NULL AND next_attempt <= ?",
    )
    .bind(now)
    .fetch_all(pool)
    .await
    .map_err(sql)
}

/// Records an ask the taker did not answer with its signature: asked again at `next_attempt`, and why
/// not (`refused`, in words).
pub(in crate::trading) async fn postpone_ask(
    pool: &SqlitePool,
    trade_id: &str,
    next_attempt: i64,
    refused: String,
) -> Result<()> {
    sqlx::query(
        "UPDATE receipts SET attempts = attempts + 1, next_attempt = ?, refused = ? WHERE trade_id = ?",
    )
    .bind(next_attempt)
    .bind(refused)
    .bind(trade_id)
    .execute(pool)
    .await
    .map_err(sql)?;
    Ok(())
}

/// When the next ask for a taker's signature is due (unix ms); `None` when none waits.
pub(in crate::trading) async fn next_ask(pool: &SqlitePool) -> Result<Option<i64>> {
    sqlx::query_scalar("SELECT MIN(next_attempt) FROM receipts WHERE taker_signature IS NULL")
        .fetch_one(pool)
        .await
        .map_err(sql)
}

/// Stores the taker's signature on a receipt. The database's error as it is: the caller keeps it, in
/// words, as why the receipt is not countersigned yet.
pub(in crate::trading) async fn save_taker_signature(
    pool: &SqlitePool,
    trade_id: &str,
    signature: &[u8],
) -> std::result::Result<(), sqlx::Error> {
    sqlx::query("UPDATE receipts SET taker_signature = ?, refused = NULL WHERE trade_id = ?")
        .bind(signature)
        .bind(trade_id)
        .execute(pool)
        .await?;
    Ok(())
}

/// Stores a receipt this node countersigned as taker, with both signatures (replacing any before).
pub(in crate::trading) async fn save_countersigned(
    pool: &SqlitePool,
    receipt: &ReceiptRow<'_>,
    taker_signature: &[u8],
) -> Result<()> {
    sqlx::query(
        "INSERT OR REPLACE INTO receipts (trade_id, id, body, maker_signature, taker_signature, \
         counterparty, ended_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(receipt.trade_id.to_string())
    .bind(receipt.id)
    .bind(receipt.body)
    .bind(receipt.maker_signature)
    .bind(taker_signature)
    .bind(receipt.counterparty)
    .bind(receipt.ended_at)
    .bind(receipt.created_at)
    .execute(pool)
    .await
    .map_err(sql)?;
    Ok(())
}

/// The receipt of a trade: its id and the taker's signature, once given; `None` without a receipt.
pub(in crate::trading) async fn id_and_countersignature(
    pool: &SqlitePool,
    trade_id: Uuid,
) -> Result<Option<(Vec<u8>, Option<Vec<u8>>)>> {
    sqlx::query_as("SELECT id, taker_signature FROM receipts WHERE trade_id = ?")
        .bind(trade_id.to_string())
        .fetch_optional(pool)
        .await
        .map_err(sql)
}

/// Where the receipt of a trade stands: the taker's signature, once given, and why it was not given
/// yet; `None` without a receipt.
pub(in crate::trading) async fn countersignature_and_refusal(
    pool: &SqlitePool,
    trade_id: Uuid,
) -> Result<Option<(Option<Vec<u8>>, Option<String>)>> {
    sqlx::query_as("SELECT taker_signature, refused FROM receipts WHERE trade_id = ?")
        .bind(trade_id.to_string())
        .fetch_optional(pool)
        .await
        .map_err(sql)
}

/// Up to `limit` of this node's receipts with both signatures, the latest ended first: (body, the
/// maker's signature, the taker's).
pub(in crate::trading) async fn countersigned(
    pool: &SqlitePool,
    limit: i64,
) -> Result<Vec<(Vec<u8>, Vec<u8>, Vec<u8>)>> {
    sqlx::query_as(
        "SELECT body, maker_signature, taker_signature FROM receipts \
         WHERE taker_signature IS NOT NULL ORDER BY ended_at DESC, trade_id LIMIT ?",
    )
    .bind(limit)
    .fetch_all(pool)
    .await
    .map_err(sql)
}

/// Up to `limit` of the ratings this node gave, signed and encoded, the newest first.
pub(in crate::trading) async fn ratings(pool: &SqlitePool, limit: i64) -> Result<Vec<Vec<u8>>> {
    sqlx::query_scalar("SELECT rating FROM receipt_ratings ORDER BY at DESC LIMIT ?")
        .bind(limit)
        .fetch_all(pool)
        .await
        .map_err(sql)
}

/// Stores this node's rating of a trade's counterparty (signed and encoded), replacing an older one.
pub(in crate::trading) async fn save_rating(
    pool: &SqlitePool,
    trade_id: Uuid,
    rating: Vec<u8>,
    at: i64,
) -> Result<()> {
    sqlx::query("INSERT OR REPLACE INTO receipt_ratings (trade_id, rating, at) VALUES (?, ?, ?)")
        .bind(trade_id.to_string())
        .bind(rating)
        .bind(at)
        .execute(pool)
        .await
        .map_err(sql)?;
    Ok(())
}

/// The nickname in this node's preferences, as stored (checked by the caller).
pub(in crate::trading) async fn nickname(pool: &SqlitePool) -> Result<Option<String>> {
    let nickname: Option<Option<String>> =
        sqlx::query_scalar("SELECT json_extract(value, '$.nickname') FROM settings WHERE key = ?")
            .bind(crate::preferences::KEY)
            .fetch_optional(pool)
            .await
            .map_err(sql)?;
    Ok(nickname.flatten())
}

/// When `maker`'s first offer this node saw was made and when it saw one last (unix ms).
pub(in crate::trading) async fn offers_seen(
    pool: &SqlitePool,
    maker: &PeerId,
) -> Result<Option<(Option<i64>, Option<i64>)>> {
    sqlx::query_as("SELECT MIN(created_at), MAX(last_seen) FROM offers WHERE maker = ?")
        .bind(maker.to_string())
        .fetch_optional(pool)
        .await
        .map_err(sql)
}

/// What the chain said of receipt `id`'s escrow, when this node asked before (JSON).
pub(in crate::trading) async fn check_of(
    pool: &SqlitePool,
    id: &[u8; 32],
) -> Result<Option<String>> {
    sqlx::query_scalar("SELECT result FROM receipt_checks WHERE id = ?")
        .bind(id.to_vec())
        .fetch_optional(pool)
        .await
        .map_err(sql)
}

/// Remembers what the chain said of receipt `id`'s escrow (JSON), checked at `at`.
pub(in crate::trading) async fn save_check(
    pool: &SqlitePool,
    id: &[u8; 32],
    result: String,
    at: i64,
) -> Result<()> {
    sqlx::query("INSERT OR REPLACE INTO receipt_checks (id, result, checked_at) VALUES (?, ?, ?)")
        .bind(id.to_vec())
        .bind(result)
        .bind(at)
        .execute(pool)
        .await
        .map_err(sql)?;
    Ok(())
}
