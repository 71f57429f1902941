//! A trade's chat as stored: messages in and out, the rules both sides keep (rate, total, how long
//! after the end), unread counts and the log in the order both sides show it.

use libp2p::PeerId;
use sqlx::{Row, SqliteConnection, SqlitePool};
use uuid::Uuid;

use super::{envelopes::seq_i64, internal, sql, trades::unknown_trade};
use crate::{
    error::Result,
    trading::{ChatMessage, TradeState},
};

/// Inserts one chat message; `false` when (trade, direction, seq) is stored already.
pub(in crate::trading) async fn insert_message(
    conn: &mut SqliteConnection,
    message: &ChatMessage,
) -> Result<bool> {
    let done = sqlx::query(
        "INSERT INTO messages (id, trade_id, outgoing, seq, body, sent_at, delivered_at, read_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (trade_id, outgoing, seq) DO NOTHING",
    )
    .bind(message.id.to_string())
    .bind(message.trade_id.to_string())
    .bind(i64::from(message.outgoing))
    .bind(seq_i64(message.seq)?)
    .bind(&message.body)
    .bind(message.sent_at)
    .bind(message.delivered_at)
    .bind(message.read_at)
    .execute(conn)
    .await
    .map_err(sql)?;
    Ok(done.rows_affected() == 1)
}

/// The latest `sent_at` of this node's messages on a trade (chat times never go backwards per sender).
pub(in crate::trading) async fn last_outgoing_sent_at(
    conn: &mut SqliteConnection,
    trade_id: Uuid,
) -> Result<i64> {
    last_sent_at(conn, trade_id, true).await
}

/// Most chat messages one side may send in one trade.
pub const MAX_CHAT_MESSAGES_PER_TRADE: i64 = 1_000;
/// How long after a trade ended its chat stays open (a last word, a thank-you).
pub const CHAT_GRACE_MS: i64 = 7 * 24 * 3_600_000;

/// Why one more chat message from one side (`outgoing`: this node's) placed at `at` may not be kept:
/// the trade ended more than [`CHAT_GRACE_MS`] ago, or that side reached its total or its rate
/// (`per_minute`). Time is this node's: its own messages when sent, the counterparty's when they
/// arrived (see [`placed_at`]), so a peer that backdates its messages cannot spread a flood over
/// invented past minutes.
/// Both sides apply the same rules: a node refuses to send what its counterparty would not keep.
pub(in crate::trading) async fn chat_refusal(
    conn: &mut SqliteConnection,
    trade_id: Uuid,
    outgoing: bool,
    at: i64,
    per_minute: u32,
) -> Result<Option<String>> {
    let (state, updated_at): (TradeState, i64) =
        sqlx::query_as("SELECT state, updated_at FROM trades WHERE id = ?")
            .bind(trade_id.to_string())
            .fetch_one(&mut *conn)
            .await
            .map_err(sql)?;
    if !state.is_open() && at > updated_at.saturating_add(CHAT_GRACE_MS) {
        return Ok(Some(format!(
            "this trade ended ({}) more than 7 days ago: its chat is closed",
            state.as_str().to_lowercase()
        )));
    }
    let (total, last_minute): (i64, i64) = sqlx::query_as(
        "SELECT COUNT(*), \
         COALESCE(SUM(COALESCE(CASE WHEN outgoing = 0 THEN delivered_at END, sent_at) > ?), 0) \
         FROM messages WHERE trade_id = ? AND outgoing = ?",
    )
    .bind(at - 60_000)
    .bind(trade_id.to_string())
    .bind(i64::from(outgoing))
    .fetch_one(&mut *conn)
    .await
    .map_err(sql)?;
    if total >= MAX_CHAT_MESSAGES_PER_TRADE {
        return Ok(Some(format!(
            "this trade's chat is full: {MAX_CHAT_MESSAGES_PER_TRADE} messages from one side at most"
        )));
    }
    if last_minute >= i64::from(per_minute) {
        return Ok(Some(format!(
            "slow down: at most {per_minute} messages a minute in one trade"
        )));
    }
    Ok(None)
}

/// The latest `sent_at` of the counterparty's messages on a trade, as stored (clamped) here.
pub(in crate::trading) async fn last_incoming_sent_at(
    conn: &mut SqliteConnection,
    trade_id: Uuid,
) -> Result<i64> {
    last_sent_at(conn, trade_id, false).await
}

async fn last_sent_at(conn: &mut SqliteConnection, trade_id: Uuid, outgoing: bool) -> Result<i64> {
    let last: Option<i64> =
        sqlx::query_scalar("SELECT MAX(sent_at) FROM messages WHERE trade_id = ? AND outgoing = ?")
            .bind(trade_id.to_string())
            .bind(i64::from(outgoing))
            .fetch_one(conn)
            .await
            .map_err(sql)?;
    Ok(last.unwrap_or(i64::MIN))
}

/// When a message took its place in this node's transcript: its own messages when sent, the
/// counterparty's when they arrived. The transcript's order is the receiver's: a peer's clock cannot
/// move its lines before others.
fn placed_at(m: &ChatMessage) -> i64 {
    if m.outgoing {
        m.sent_at
    } else {
        m.delivered_at.unwrap_or(m.sent_at)
    }
}

/// Messages from counterparties, of every trade, not marked read yet.
pub async fn unread_messages(pool: &SqlitePool) -> Result<u32> {
    let count: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM messages WHERE outgoing = 0 AND read_at IS NULL")
            .fetch_one(pool)
            .await
            .map_err(sql)?;
    Ok(u32::try_from(count).unwrap_or(u32::MAX))
}

/// A trade's chat, in the order both sides show it: by the sender's time, then sender, then sequence
/// number (each sender's times never go backwards, so each direction stays in sequence order).
pub async fn chat_log(pool: &SqlitePool, me: &PeerId, trade_id: Uuid) -> Result<Vec<ChatMessage>> {
    let mut conn = pool.acquire().await.map_err(sql)?;
    let Some(peer) =
        sqlx::query_scalar::<_, String>("SELECT peer FROM trade_channels WHERE trade_id = ?")
            .bind(trade_id.to_string())
            .fetch_optional(&mut *conn)
            .await
            .map_err(sql)?
    else {
        return Err(unknown_trade(trade_id));
    };
    let rows = sqlx::query(
        "SELECT id, outgoing, seq, body, sent_at, delivered_at, read_at FROM messages \
         WHERE trade_id = ?",
    )
    .bind(trade_id.to_string())
    .fetch_all(&mut *conn)
    .await
    .map_err(sql)?;
    let me = me.to_base58();
    let mut log = rows
        .iter()
        .map(|r| {
            let outgoing = r.try_get::<i64, _>("outgoing").map_err(sql)? == 1;
            let id: String = r.try_get("id").map_err(sql)?;
            Ok(ChatMessage {
                id: Uuid::parse_str(&id).map_err(|e| internal("stored message id", e))?,
                trade_id,
                outgoing,
                seq: u64::try_from(r.try_get::<i64, _>("seq").map_err(sql)?)
                    .map_err(|e| internal("stored seq", e))?,
                sender: if outgoing { me.clone() } else { peer.clone() },
                body: r.try_get("body").map_err(sql)?,
                sent_at: r.try_get("sent_at").map_err(sql)?,
                delivered_at: r.try_get("delivered_at").map_err(sql)?,
                read_at: r.try_get("read_at").map_err(sql)?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    log.sort_by(|a, b| (placed_at(a), &a.sender, a.seq).cmp(&(placed_at(b), &b.sender, b.seq)));
    Ok(log)
}

/// How many of the counterparty's messages of `trade_id` are unread, and the last one's sequence number.
pub(in crate::trading) async fn unread_incoming(
    conn: &mut SqliteConnection,
    trade_id: Uuid,
) -> Result<(i64, Option<i64>)> {
    sqlx::query_as(
        "SELECT COUNT(*), MAX(seq) FROM messages WHERE trade_id = ? AND outgoing = 0 \
         AND read_at IS NULL",
    )
    .bind(trade_id.to_string())
    .fetch_one(conn)
    .await
    .map_err(sql)
}

/// Marks the counterparty's messages of `trade_id` read at `now`.
pub(in crate::trading) async fn mark_incoming_read(
    conn: &mut SqliteConnection,
    trade_id: Uuid,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "UPDATE messages SET read_at = ? WHERE trade_id = ? AND outgoing = 0 AND read_at IS NULL",
    )
    .bind(now)
    .bind(trade_id.to_string())
    .execute(conn)
    .await
    .map_err(sql)?;
    Ok(())
}

/// The counterparty read this node's messages of `trade_id` up to sequence number `up_to`.
pub(in crate::trading) async fn mark_outgoing_read(
    conn: &mut SqliteConnection,
    trade_id: Uuid,
    up_to: i64,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "UPDATE messages SET read_at = ? WHERE trade_id = ? AND outgoing = 1 \
         AND seq <= ? AND read_at IS NULL",
    )
    .bind(now)
    .bind(trade_id.to_string())
    .bind(up_to)
    .execute(conn)
    .await
    .map_err(sql)?;
    Ok(())
}
