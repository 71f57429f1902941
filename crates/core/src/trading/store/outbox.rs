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

/// Records a failed attempt at envelope `seq` of a trade: its attempts so far and why it failed. The
/// trade's whole queue is due again at `next_attempt`: nothing behind `seq` can go before it, so an
/// envelope stored meanwhile must not make the trade due at once again (that would retry an offline
/// peer in a tight loop).
pub(in crate::trading) async fn postpone(
    pool: &SqlitePool,
    trade_id: Uuid,
    seq: i64,
    attempts: i64,
    next_attempt: i64,
    reason: &str,
) -> Result<()> {
    let id = trade_id.to_string();
    let mut tx = pool.begin().await.map_err(sql)?;
    sqlx::query("UPDATE outbox SET attempts = ?, last_error = ? WHERE trade_id = ? AND seq = ?")
        .bind(attempts)
        .bind(reason)
        .bind(&id)
        .bind(seq)
        .execute(&mut *tx)
        .await
        .map_err(sql)?;
    sqlx::query("UPDATE outbox SET next_attempt = ? WHERE trade_id = ? AND delivered_at IS NULL")
        .bind(next_attempt)
        .bind(&id)
        .execute(&mut *tx)
        .await
        .map_err(sql)?;
    tx.commit().await.map_err(sql)?;
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
    use libp2p::PeerId;
    use uuid::Uuid;

    use super::{NEXT_ENVELOPE, due_now, due_trades, next_due, postpone};
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

    /// A failed attempt postpones the trade's whole queue: an envelope stored behind it (due when it
    /// was stored) does not make the trade due again at once, which retried an offline peer in a
    /// tight loop (every ~30 ms) for as long as it stayed away.
    #[tokio::test]
    async fn a_failed_attempt_postpones_everything_queued_behind_it() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let store = Store::open(&dir.path().join("souk.db"))
            .await
            .expect("opened");
        let pool = store.pool();
        let trade = Uuid::now_v7();
        let peer = PeerId::random();
        sqlx::query(
            "INSERT INTO trades (id, offer_id, role, counterparty, state, terms, created_at, updated_at) \
             VALUES (?, 'o1', 'maker', ?, 'Accepted', '{}', 0, 0)",
        )
        .bind(trade.to_string())
        .bind(peer.to_base58())
        .execute(pool)
        .await
        .expect("a trade");
        for seq in 0..3 {
            sqlx::query(
                "INSERT INTO outbox (trade_id, seq, peer, envelope, created_at, next_attempt) \
                 VALUES (?, ?, ?, x'00', 1000, 1000)",
            )
            .bind(trade.to_string())
            .bind(seq)
            .bind(peer.to_base58())
            .execute(pool)
            .await
            .expect("an envelope");
        }
        assert_eq!(
            due_trades(pool, 1_000, 16).await.unwrap(),
            vec![(trade, peer)]
        );

        postpone(pool, trade, 0, 1, 5_000, "offline").await.unwrap();
        assert!(
            due_trades(pool, 1_001, 16).await.unwrap().is_empty(),
            "the envelopes behind the failed one made the trade due again"
        );
        assert_eq!(next_due(pool).await.unwrap(), Some(5_000));
        assert_eq!(
            due_trades(pool, 5_000, 16).await.unwrap(),
            vec![(trade, peer)]
        );
        let attempts: Vec<i64> =
            sqlx::query_scalar("SELECT attempts FROM outbox WHERE trade_id = ? ORDER BY seq")
                .bind(trade.to_string())
                .fetch_all(pool)
                .await
                .unwrap();
        assert_eq!(
            attempts,
            vec![1, 0, 0],
            "only the one tried counts an attempt"
        );

        // The peer comes back: everything waiting for it is due now.
        assert_eq!(due_now(pool, &peer, 2_000).await.unwrap(), 3);
        assert_eq!(
            due_trades(pool, 2_000, 16).await.unwrap(),
            vec![(trade, peer)]
        );
    }
}
