//! A trade's log and where it stands, as settlement reads and moves them: its events (`trade_events`),
//! the state and agreed terms of its `trades` row, and the offer it was made on. Settlement decides what
//! goes in; this only reads and writes the rows.

use libp2p::PeerId;
use sqlx::SqliteConnection;
use uuid::Uuid;

use super::{internal, sql};
use crate::{
    error::Result,
    offer::Offer,
    protocol::{negotiation::Terms, settlement::TradeState},
};

/// The trade's state as stored.
pub(in crate::trading) async fn trade_state(
    conn: &mut SqliteConnection,
    trade_id: Uuid,
) -> Result<TradeState> {
    sqlx::query_scalar("SELECT state FROM trades WHERE id = ?")
        .bind(trade_id.to_string())
        .fetch_one(conn)
        .await
        .map_err(sql)
}

/// Appends a signed event to the trade's log, numbered after the ones before.
pub(in crate::trading) async fn append_event(
    conn: &mut SqliteConnection,
    trade_id: Uuid,
    kind: &str,
    payload: &[u8],
    signer: &PeerId,
    signature: &[u8],
    now: i64,
) -> Result<()> {
    let id = trade_id.to_string();
    sqlx::query(
        "INSERT INTO trade_events (trade_id, seq, kind, payload, signer, signature, created_at) \
         VALUES (?, (SELECT COUNT(*) FROM trade_events WHERE trade_id = ?), ?, ?, ?, ?, ?)",
    )
    .bind(&id)
    .bind(&id)
    .bind(kind)
    .bind(payload)
    .bind(signer.to_base58())
    .bind(signature)
    .bind(now)
    .execute(&mut *conn)
    .await
    .map_err(sql)?;
    Ok(())
}

/// Moves the trade to `state` at `now`.
pub(in crate::trading) async fn set_trade_state(
    conn: &mut SqliteConnection,
    trade_id: Uuid,
    state: TradeState,
    now: i64,
) -> Result<()> {
    sqlx::query("UPDATE trades SET state = ?, updated_at = ? WHERE id = ?")
        .bind(state.as_str())
        .bind(now)
        .bind(trade_id.to_string())
        .execute(&mut *conn)
        .await
        .map_err(sql)?;
    Ok(())
}

/// The arbitrator's latest resolution of the trade (its signed payload), if any.
pub(in crate::trading) async fn last_resolution(
    conn: &mut SqliteConnection,
    trade_id: Uuid,
) -> Result<Option<Vec<u8>>> {
    sqlx::query_scalar(
        "SELECT payload FROM trade_events WHERE trade_id = ? AND kind = 'resolve' ORDER BY seq DESC",
    )
    .bind(trade_id.to_string())
    .fetch_optional(&mut *conn)
    .await
    .map_err(sql)
}

/// The terms the parties agreed on.
pub(in crate::trading) async fn trade_terms(
    conn: &mut SqliteConnection,
    trade_id: Uuid,
) -> Result<Terms> {
    let terms: String = sqlx::query_scalar("SELECT terms FROM trades WHERE id = ?")
        .bind(trade_id.to_string())
        .fetch_one(&mut *conn)
        .await
        .map_err(sql)?;
    serde_json::from_str(&terms).map_err(|e| internal("stored terms", e))
}

/// The offer the trade was made on, as its channel keeps it.
pub(in crate::trading) async fn trade_offer(
    conn: &mut SqliteConnection,
    trade_id: Uuid,
) -> Result<Offer> {
    let json: String =
        sqlx::query_scalar("SELECT offer_json FROM trade_channels WHERE trade_id = ?")
            .bind(trade_id.to_string())
            .fetch_one(conn)
            .await
            .map_err(sql)?;
    serde_json::from_str(&json).map_err(|e| internal("stored offer", e))
}

/// Whether the outbox delivered the trade's envelope `seq` (when), or the last error delivering it: for
/// the test hook that sends a step unchecked and waits for the counterparty's answer.
#[cfg(feature = "test-hooks")]
pub(in crate::trading) async fn envelope_delivery(
    pool: &sqlx::SqlitePool,
    trade_id: Uuid,
    seq: u64,
) -> Result<(Option<i64>, Option<String>)> {
    sqlx::query_as("SELECT delivered_at, last_error FROM outbox WHERE trade_id = ? AND seq = ?")
        .bind(trade_id.to_string())
        .bind(i64::try_from(seq).unwrap_or(i64::MAX))
        .fetch_one(pool)
        .await
        .map_err(sql)
}
