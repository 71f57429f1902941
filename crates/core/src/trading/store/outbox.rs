//! The outbox as the delivery loop reads and updates it: which trades have an envelope due, each
//! trade's next undelivered envelope, acknowledgements and retries. Envelopes get in through
//! [`super::enqueue`]; sending them is the delivery loop's (`trading::outbox`), never this module's.

use libp2p::PeerId;
use sqlx::{SqliteConnection, SqlitePool};
use uuid::Uuid;

use super::sql;
use crate::error::Result;

/// A trade's first undelivered envelope (read through the `outbox_undelivered` index, never through
/// the envelopes already delivered).
const NEXT_ENVELOPE: &str = "SELECT seq, envelope, attempts FROM outbox WHERE trade_id = ? \
     AND delivered_at IS NULL ORDER BY seq LIMIT 1";

/// Up to `limit` trades with an envelope due at `now`, each with its counterparty (rows that do not
/// parse are left out).
pub(in crate::trading) async fn due_trades(
    pool: &SqlitePool,
    now: i64,
    limit: i64,
) -> Result<Vec<(Uuid, PeerId)>> {
    let due: Vec<(String, String)> = sqlx::query_as(
        "SELECT trade_id, MIN(peer) FROM outbox WHERE delivered_at IS NULL \
         GROUP BY trade_id HAVING MIN(next_attempt) <= ? LIMIT ?",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(pool)
    .await
    .map_err(sql)?;
    Ok(due
        .into_iter()
        .filter_map(|(trade, peer)| {
            Some((Uuid::parse_str(&trade).ok()?, peer.parse::<PeerId>().ok()?))
        })
        .collect())
}

/// When the next undelivered envelope is due (unix ms); `None` when everything is delivered.
pub(in crate::trading) async fn next_due(pool: &SqlitePool) -> Result<Option<i64>> {
    sqlx::query_scalar("SELECT MIN(next_attempt) FROM outbox WHERE delivered_at IS NULL")
        .fetch_one(pool)
        .await
        .map_err(sql)
}

/// A trade's first undelivered envelope: its sequence number, the envelope and its attempts so far.
pub(in crate::trading) async fn next_envelope(
    pool: &SqlitePool,
    trade_id: Uuid,
) -> Result<Option<(i64, Vec<u8>, i64)>> {
    sqlx::query_as(NEXT_ENVELOPE)
        .bind(trade_id.to_string())
        .fetch_optional(pool)
        .await
        .map_err(sql)
}

/// The counterparty holds a trade's envelopes below `next`: they and the outgoing chat messages they
/// carried are marked delivered at `now`; those at or above it that were marked delivered did not stay
/// (the peer lost them) and are due again at `now`. How many envelopes were newly delivered. In the
/// caller's transaction.
pub(in crate::trading) async fn acknowledge(
    conn: &mut SqliteConnection,
    trade_id: Uuid,
    next: i64,
    now: i64,
) -> Result<u64> {
    let id = trade_id.to_string();
    let newly = sqlx::query(
        "UPDATE outbox SET delivered_at = ?, last_error = NULL WHERE trade_id = ? AND seq < ? \
         AND delivered_at IS NULL",
    )
    .bind(now)
    .bind(&id)
    .bind(next)
    .execute(&mut *conn)
    .await
    .map_err(sql)?
    .rows_affected();
    sqlx::query(
        "UPDATE outbox SET delivered_at = NULL, attempts = 0, next_attempt = ? WHERE trade_id = ? \
         AND seq >= ? AND delivered_at IS NOT NULL",
    )
    .bind(now)
    .bind(&id)
    .bind(next)
    .execute(&mut *conn)
    .await
    .map_err(sql)?;
    sqlx::query(
        "UPDATE messages SET delivered_at = ? WHERE trade_id = ? AND outgoing = 1 AND seq < ? \
         AND delivered_at IS NULL",
    )
    .bind(now)
    .bind(&id)
    .bind(next)
    .execute(&mut *conn)
    .await
    .map_err(sql)?;
    Ok(newly)
}

/// Records a failed attempt at envelope `seq` of a trade: its attempts so far, when it is due again
/// and why it failed.
pub(in crate::trading) async fn postpone(
    pool: &SqlitePool,
    trade_id: Uuid,
    seq: i64,
    attempts: i64,
    next_attempt: i64,
    reason: &str,
) -> Result<()> {
    sqlx::query(
        "UPDATE outbox SET attempts = ?, next_attempt = ?, last_error = ? WHERE trade_id = ? AND seq = ?",
    )
    .bind(attempts)
    .bind(next_attempt)
    .bind(reason)
    .bind(trade_id.to_string())
    .bind(seq)
    .execute(pool)
    .await
    .map_err(sql)?;
    Ok(())
}

/// Makes every undelivered envelope to `peer` due at `now`. How many there are.
pub(in crate::trading) async fn due_now(pool: &SqlitePool, peer: &PeerId, now: i64) -> Result<u64> {
    Ok(
        sqlx::query("UPDATE outbox SET next_attempt = ? WHERE peer = ? AND delivered_at IS NULL")
            .bind(now)
            .bind(peer.to_base58())
            .execute(pool)
            .await
            .map_err(sql)?
            .rows_affected(),
    )
}

#[cfg(test)]
mod tests {
    use super::NEXT_ENVELOPE;
    use crate::store::Store;

    /// SQLite's plan for `sql`, one line per step.
    async fn plan(store: &Store, sql: &str) -> String {
        let rows: Vec<(i64, i64, i64, String)> =
            sqlx::query_as(sqlx::AssertSqlSafe(format!("EXPLAIN QUERY PLAN {sql}")))
                .bind("01a24133-f165-71af-9a5c-5d5ec61326a7")
                .fetch_all(store.pool())
                .await
                .expect("a plan");
        rows.into_iter()
            .map(|(.., detail)| detail)
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[tokio::test]
    async fn the_next_envelope_is_read_without_stepping_through_delivered_ones() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let store = Store::open(&dir.path().join("souk.db"))
            .await
            .expect("opened");
        let plan = plan(&store, NEXT_ENVELOPE).await;
        assert!(
            plan.contains("USING INDEX outbox_undelivered "),
            "the plan: {plan}"
        );
        assert!(!plan.contains("TEMP B-TREE"), "no sort: {plan}");
    }
}
