//! Seed-only recovery of open escrows (docs/protocol.md, "Recovery from the seed words").
//!
//! Each party hands its counterparty a sealed copy of its own rows of every open escrow trade (the
//! [`record`]), again whenever they change, and tells it a locator only its seed derives. The holder keeps
//! the newest copy per trade and, while the trade is open, announces itself in the DHT as a provider of
//! that locator. A node restored from its seed words alone looks its locator up, asks each provider which
//! copies it holds, fetches those of trades it does not have, opens them with its own key and puts the
//! rows back: the trade goes on from there like one restored from a backup of that moment.
//!
//! The holder learns nothing it did not know (the trade is its own; the copy is sealed), forges nothing
//! (only the owner's seed seals), and can at worst withhold a copy or hand back an older one: the restored
//! trade is then behind, and catches up as a stale backup does.

mod record;

use std::{
    collections::HashSet,
    sync::{Arc, LazyLock},
    time::Duration,
};

use futures::future::join_all;
use libp2p::PeerId;
use sqlx::{Column, Row, SqliteConnection, TypeInfo, ValueRef, sqlite::SqliteRow};
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

pub use record::{
    MAX_RECORD_BYTES, Record, RecordError, RecoveryAnswer, RecoveryKeys, RecoveryRequest, Table,
    Value,
};

use super::{
    TradeEvent,
    desk::Inner,
    errors::{internal, peer_fault, sql},
    settle::LATE_COINS_WATCH,
    store,
};
use crate::{
    error::{Error, ErrorKind, Result},
    protocol::{DirectRequest, reason_for_peer, state::TradeState},
    store::now_ms,
};

/// Copies go out this long after the last trade event of a burst...
const HAND_OVER_QUIET: Duration = Duration::from_secs(2);
/// ...and at least this often (a copy the counterparty did not store is offered again).
const HAND_OVER_EVERY: Duration = Duration::from_secs(60);
/// The first look for this node's copies, then twice as long each time nobody holds any...
const LOOK_FIRST: Duration = Duration::from_secs(1);
/// ...up to this; and this often once some were found.
const LOOK_EVERY: Duration = Duration::from_secs(15 * 60);
/// A holder takes at most one copy per trade this often.
const MIN_KEEP_GAP_MS: i64 = 1_000;
/// At most this many trades are taken from one holder's list per look.
const MAX_LISTED: usize = 256;

/// The tables a record carries, parents first (the order they are put back in), each with the query
/// reading one trade's rows. The outbox: only what the counterparty has not acknowledged, with its
/// retry counters cleared (they change on every attempt and mean nothing to a restored node). Chat
/// messages are added apart ([`MESSAGES`]), newest first while the record stays under its limit.
const TABLES: [(&str, &str); 5] = [
    ("trades", "SELECT * FROM trades WHERE id = ?"),
    (
        "trade_channels",
        "SELECT * FROM trade_channels WHERE trade_id = ?",
    ),
    (
        "trade_escrow",
        "SELECT * FROM trade_escrow WHERE trade_id = ?",
    ),
    (
        "trade_events",
        "SELECT * FROM trade_events WHERE trade_id = ? ORDER BY seq",
    ),
    (
        "outbox",
        "SELECT trade_id, seq, peer, envelope, created_at, 0 AS attempts, 0 AS next_attempt \
         FROM outbox WHERE trade_id = ? AND delivered_at IS NULL ORDER BY seq",
    ),
];
const MESSAGES: &str =
    "SELECT * FROM messages WHERE trade_id = ? ORDER BY sent_at DESC, outgoing, seq DESC";

/// This node's open escrow trades, as a party: the ones whose copies it hands over.
static OPEN_ESCROW_TRADES: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT t.id, t.counterparty FROM trades t JOIN trade_escrow e ON e.trade_id = t.id \
         WHERE t.role IN ('maker', 'taker') AND t.state NOT IN {}",
        TradeState::closed_sql()
    )
});
/// The locators of copies this node holds for open trades.
static OPEN_LOCATORS: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT DISTINCT c.locator FROM recovery_copies c JOIN trades t ON t.id = c.trade_id \
         WHERE t.state NOT IN {}",
        TradeState::closed_sql()
    )
});
/// Copies of trades closed before a time.
static FORGET_COPIES: LazyLock<String> = LazyLock::new(|| {
    format!(
        "DELETE FROM recovery_copies WHERE trade_id IN (SELECT id FROM trades \
         WHERE state IN {} AND updated_at < ?)",
        TradeState::closed_sql()
    )
});

fn value_of(row: &SqliteRow, i: usize) -> Result<Value> {
    let raw = row.try_get_raw(i).map_err(sql)?;
    if raw.is_null() {
        return Ok(Value::Null);
    }
    let kind = raw.type_info().name().to_owned();
    Ok(match kind.as_str() {
        "INTEGER" => Value::Integer(row.try_get(i).map_err(sql)?),
        "TEXT" => Value::Text(row.try_get(i).map_err(sql)?),
        "BLOB" => Value::Blob(row.try_get(i).map_err(sql)?),
        other => return Err(internal("a recovery record", format!("a {other} value"))),
    })
}

async fn read_table(
    conn: &mut SqliteConnection,
    name: &str,
    query: &'static str,
    trade_id: Uuid,
) -> Result<Table> {
    let rows = sqlx::query(query)
        .bind(trade_id.to_string())
        .fetch_all(&mut *conn)
        .await
        .map_err(sql)?;
    let columns = rows.first().map_or_else(Vec::new, |r| {
        r.columns().iter().map(|c| c.name().to_owned()).collect()
    });
    let rows = rows
        .iter()
        .map(|r| (0..columns.len()).map(|i| value_of(r, i)).collect())
        .collect::<Result<_>>()?;
    Ok(Table {
        name: name.to_owned(),
        columns,
        rows,
    })
}

/// The schema version of this node's database: the last migration applied.
async fn schema_version(conn: &mut SqliteConnection) -> Result<i64> {
    sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM _sqlx_migrations WHERE success")
        .fetch_one(&mut *conn)
        .await
        .map_err(sql)
}

/// This node's record of `trade_id` as it stands, chat included newest first as far as it fits.
pub(super) async fn build_record(
    conn: &mut SqliteConnection,
    me: &PeerId,
    trade_id: Uuid,
) -> Result<Record> {
    let mut tables = Vec::with_capacity(TABLES.len() + 1);
    for (name, query) in TABLES {
        tables.push(read_table(conn, name, query, trade_id).await?);
    }
    let mut record = Record {
        owner: me.to_bytes(),
        trade_id,
        schema: schema_version(conn).await?,
        made_at: now_ms(),
        tables,
        chat_left_out: 0,
    };
    let mut chat = read_table(conn, "messages", MESSAGES, trade_id).await?;
    let mut size = encoded_len(&record)
        + record::SEAL_OVERHEAD
        + encoded_len(&(&chat.name, &chat.columns))
        + 16;
    let mut kept = 0;
    for row in &chat.rows {
        let row_size = encoded_len(row);
        if size + row_size > MAX_RECORD_BYTES {
            break;
        }
        size += row_size;
        kept += 1;
    }
    record.chat_left_out = u32::try_from(chat.rows.len() - kept).unwrap_or(u32::MAX);
    chat.rows.truncate(kept);
    chat.rows.reverse();
    record.tables.push(chat);
    Ok(record)
}

/// The postcard size of a value, for fitting chat into a record.
fn encoded_len<T: serde::Serialize>(value: &T) -> usize {
    postcard::to_stdvec(value).map_or(usize::MAX / 4, |v| v.len())
}

/// Answers a party's recovery request (`DirectRequest::Recovery`).
pub(super) async fn on_request(inner: &Inner, peer: PeerId, bytes: &[u8]) -> RecoveryAnswer {
    let request = match RecoveryRequest::decode(bytes) {
        Ok(request) => request,
        Err(e) => return RecoveryAnswer::Refused(e),
    };
    let answer = match request {
        RecoveryRequest::Keep {
            trade_id,
            locator,
            record,
        } => keep(inner, peer, trade_id, locator, record).await,
        RecoveryRequest::List => list(inner, peer).await.map(RecoveryAnswer::Listed),
        RecoveryRequest::Fetch { trade_id } => fetch(inner, peer, trade_id)
            .await
            .map(RecoveryAnswer::Record),
    };
    answer.unwrap_or_else(|e| match e.kind() {
        ErrorKind::Io | ErrorKind::Storage | ErrorKind::Internal | ErrorKind::Offline => {
            RecoveryAnswer::Later(reason_for_peer(&e))
        }
        _ => RecoveryAnswer::Refused(reason_for_peer(&e)),
    })
}

/// Keeps a party's copy of a trade this node shares with it, and provides its locator while the
/// trade is open. Only the counterparty of the trade may leave one, one copy per trade, the newest.
async fn keep(
    inner: &Inner,
    peer: PeerId,
    trade_id: Uuid,
    locator: [u8; 32],
    record: Vec<u8>,
) -> Result<RecoveryAnswer> {
    if record.len() > MAX_RECORD_BYTES {
        return Err(peer_fault(RecordError::TooLarge(record.len())));
    }
    let id = trade_id.to_string();
    let trade: Option<(String, String, TradeState)> =
        sqlx::query_as("SELECT counterparty, role, state FROM trades WHERE id = ?")
            .bind(&id)
            .fetch_optional(&inner.pool)
            .await
            .map_err(sql)?;
    let Some((counterparty, role, state)) = trade else {
        return Err(peer_fault(format!("no trade {trade_id} with you here")));
    };
    if counterparty != peer.to_base58() || role == "arbitrator" {
        return Err(peer_fault(format!("no trade {trade_id} with you here")));
    }
    let last: Option<i64> =
        sqlx::query_scalar("SELECT received_at FROM recovery_copies WHERE trade_id = ?")
            .bind(&id)
            .fetch_optional(&inner.pool)
            .await
            .map_err(sql)?;
    let now = now_ms();
    if last.is_some_and(|at| now - at < MIN_KEEP_GAP_MS) {
        return Ok(RecoveryAnswer::Later(
            "a copy of this trade arrived less than a second ago".into(),
        ));
    }
    sqlx::query(
        "INSERT INTO recovery_copies (trade_id, owner, locator, record, received_at) \
         VALUES (?, ?, ?, ?, ?) ON CONFLICT (trade_id) DO UPDATE SET \
         owner = excluded.owner, locator = excluded.locator, record = excluded.record, \
         received_at = excluded.received_at",
    )
    .bind(&id)
    .bind(peer.to_base58())
    .bind(locator.as_slice())
    .bind(&record)
    .bind(now)
    .execute(&inner.pool)
    .await
    .map_err(sql)?;
    if state.is_open() {
        provide(inner, locator).await;
    }
    Ok(RecoveryAnswer::Stored)
}

/// Announces this node as a provider of `locator`, once per locator while the node runs (the DHT
/// renews what it provides by itself).
async fn provide(inner: &Inner, locator: [u8; 32]) {
    let new = inner
        .providing
        .lock()
        .map(|mut set| set.insert(locator))
        .unwrap_or(false);
    if new && let Err(e) = inner.net.start_providing(locator.to_vec()).await {
        tracing::debug!(error = %e, "could not announce a recovery locator yet");
        if let Ok(mut set) = inner.providing.lock() {
            set.remove(&locator);
        }
    }
}

/// The trades this node holds copies of for `peer`, newest first.
async fn list(inner: &Inner, peer: PeerId) -> Result<Vec<(Uuid, i64)>> {
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT trade_id, received_at FROM recovery_copies WHERE owner = ? \
         ORDER BY received_at DESC LIMIT ?",
    )
    .bind(peer.to_base58())
    .bind(MAX_LISTED as i64)
    .fetch_all(&inner.pool)
    .await
    .map_err(sql)?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, at)| Some((Uuid::parse_str(&id).ok()?, at)))
        .collect())
}

/// `peer`'s copy of `trade_id`, only to `peer` (the connection proves who asks).
async fn fetch(inner: &Inner, peer: PeerId, trade_id: Uuid) -> Result<Vec<u8>> {
    sqlx::query_scalar("SELECT record FROM recovery_copies WHERE trade_id = ? AND owner = ?")
        .bind(trade_id.to_string())
        .bind(peer.to_base58())
        .fetch_optional(&inner.pool)
        .await
        .map_err(sql)?
        .ok_or_else(|| peer_fault(format!("no copy of trade {trade_id} of yours here")))
}

/// Hands copies to counterparties and keeps the providing in step with the open trades, until
/// cancelled: after each burst of trade events, and every [`HAND_OVER_EVERY`].
pub(super) async fn keep_copies(inner: Arc<Inner>, cancel: CancellationToken) {
    let keys = RecoveryKeys::derive(&inner.me.storage_key);
    let mut events = inner.events.subscribe();
    loop {
        if let Err(e) = hand_over(&inner, &keys).await {
            tracing::warn!(error = %e, "handing recovery copies over failed");
        }
        if let Err(e) = provide_open(&inner).await {
            tracing::warn!(error = %e, "announcing recovery copies failed");
        }
        tokio::select! {
            biased;
            () = cancel.cancelled() => return,
            event = events.recv() => {
                if matches!(event, Err(RecvError::Closed)) {
                    return;
                }
            }
            () = tokio::time::sleep(HAND_OVER_EVERY) => continue,
        }
        // Wait for the burst to end.
        loop {
            tokio::select! {
                biased;
                () = cancel.cancelled() => return,
                event = events.recv() => {
                    if matches!(event, Err(RecvError::Closed)) {
                        return;
                    }
                }
                () = tokio::time::sleep(HAND_OVER_QUIET) => break,
            }
        }
    }
}

/// Offers the counterparty of each open escrow trade this node's copy, where it changed since the
/// counterparty last stored one.
async fn hand_over(inner: &Inner, keys: &RecoveryKeys) -> Result<()> {
    let trades: Vec<(String, String)> = sqlx::query_as(OPEN_ESCROW_TRADES.as_str())
        .fetch_all(&inner.pool)
        .await
        .map_err(sql)?;
    let runs = trades
        .into_iter()
        .filter_map(|(id, peer)| Some((Uuid::parse_str(&id).ok()?, peer.parse::<PeerId>().ok()?)));
    for result in join_all(runs.map(|(id, peer)| hand_over_one(inner, keys, id, peer))).await {
        if let Err(e) = result {
            tracing::debug!(error = %e, "a recovery copy was not handed over");
        }
    }
    Ok(())
}

async fn hand_over_one(
    inner: &Inner,
    keys: &RecoveryKeys,
    trade_id: Uuid,
    peer: PeerId,
) -> Result<()> {
    let id = trade_id.to_string();
    let record = {
        let mut conn = inner.pool.acquire().await.map_err(sql)?;
        build_record(&mut conn, &inner.me.peer, trade_id).await?
    };
    let digest = record.digest();
    let last: Option<Vec<u8>> =
        sqlx::query_scalar("SELECT digest FROM recovery_sent WHERE trade_id = ?")
            .bind(&id)
            .fetch_optional(&inner.pool)
            .await
            .map_err(sql)?;
    if last.as_deref() == Some(digest.as_slice()) {
        return Ok(());
    }
    let sealed = record
        .seal(keys)
        .map_err(|e| internal("sealing a recovery copy", e))?;
    let request = RecoveryRequest::Keep {
        trade_id,
        locator: keys.locator(),
        record: sealed,
    };
    let answer = inner
        .net
        .request(peer, DirectRequest::Recovery(request.encode()).encode())
        .await
        .map_err(|e| Error::Internal(format!("the counterparty is not reachable: {e}")))?;
    match RecoveryAnswer::decode(&answer).map_err(peer_fault)? {
        RecoveryAnswer::Stored => {
            sqlx::query(
                "INSERT INTO recovery_sent (trade_id, digest, sent_at) VALUES (?, ?, ?) \
                 ON CONFLICT (trade_id) DO UPDATE SET digest = excluded.digest, \
                 sent_at = excluded.sent_at",
            )
            .bind(&id)
            .bind(digest.as_slice())
            .bind(now_ms())
            .execute(&inner.pool)
            .await
            .map_err(sql)?;
            tracing::debug!(%trade_id, %peer, "the counterparty keeps a recovery copy");
            // The shells show since when the trade can be recovered.
            if let Ok(info) = store::trade_info(&inner.pool, &inner.me.peer, trade_id).await {
                let _ = inner.events.send(TradeEvent::TradeUpdated {
                    trade: Box::new(info),
                });
            }
            Ok(())
        }
        RecoveryAnswer::Refused(reason) => {
            tracing::info!(%trade_id, %peer, %reason, "the counterparty refused a recovery copy");
            Ok(())
        }
        RecoveryAnswer::Later(reason) => Err(Error::Internal(reason)),
        other => Err(peer_fault(format!("answered {other:?} to a copy"))),
    }
}

/// Provides the locators of copies whose trade is open (after a restart too), stops providing the
/// others, and forgets copies of trades closed longer than the late-coins watch.
async fn provide_open(inner: &Inner) -> Result<()> {
    let open: Vec<Vec<u8>> = sqlx::query_scalar(OPEN_LOCATORS.as_str())
        .fetch_all(&inner.pool)
        .await
        .map_err(sql)?;
    let open: HashSet<[u8; 32]> = open
        .into_iter()
        .filter_map(|l| <[u8; 32]>::try_from(l.as_slice()).ok())
        .collect();
    for locator in &open {
        provide(inner, *locator).await;
    }
    let done: Vec<[u8; 32]> = inner
        .providing
        .lock()
        .map(|set| set.difference(&open).copied().collect())
        .unwrap_or_default();
    for locator in done {
        let _ = inner.net.stop_providing(locator.to_vec()).await;
        if let Ok(mut set) = inner.providing.lock() {
            set.remove(&locator);
        }
    }
    let watch_ms = i64::try_from(LATE_COINS_WATCH.as_millis()).unwrap_or(i64::MAX);
    sqlx::query(FORGET_COPIES.as_str())
        .bind(now_ms() - watch_ms)
        .execute(&inner.pool)
        .await
        .map_err(sql)?;
    Ok(())
}

/// Looks for copies of this node's trades held by others and puts back those of trades it does not
/// have, until cancelled: soon after start, then less and less often while nobody holds any.
pub(super) async fn recover(inner: Arc<Inner>, cancel: CancellationToken) {
    let keys = RecoveryKeys::derive(&inner.me.storage_key);
    let mut wait = LOOK_FIRST;
    loop {
        tokio::select! {
            biased;
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(wait) => {}
        }
        wait = match look(&inner, &keys).await {
            Ok(true) => LOOK_EVERY,
            Ok(false) => (wait * 2).min(LOOK_EVERY),
            Err(e) => {
                tracing::debug!(error = %e, "looking for recovery copies failed");
                (wait * 2).min(LOOK_EVERY)
            }
        };
    }
}

/// One look: whether anyone holds copies of this node's trades.
async fn look(inner: &Inner, keys: &RecoveryKeys) -> Result<bool> {
    let providers = inner
        .net
        .get_providers(keys.locator().to_vec())
        .await
        .map_err(|e| Error::Internal(format!("looking up the recovery locator: {e}")))?;
    let mut any = false;
    for peer in providers.into_iter().filter(|p| *p != inner.me.peer) {
        match recover_from(inner, keys, peer).await {
            Ok(held) => any |= held,
            Err(e) => tracing::info!(%peer, error = %e, "recovery copies not fetched"),
        }
    }
    Ok(any)
}

async fn ask(inner: &Inner, peer: PeerId, request: RecoveryRequest) -> Result<RecoveryAnswer> {
    let answer = inner
        .net
        .request(peer, DirectRequest::Recovery(request.encode()).encode())
        .await
        .map_err(|e| Error::Internal(format!("not reachable: {e}")))?;
    RecoveryAnswer::decode(&answer).map_err(peer_fault)
}

/// Fetches from `peer` the copies of trades this node does not have, and puts them back. Whether `peer`
/// holds any copy of this node's at all.
async fn recover_from(inner: &Inner, keys: &RecoveryKeys, peer: PeerId) -> Result<bool> {
    let listed = match ask(inner, peer, RecoveryRequest::List).await? {
        RecoveryAnswer::Listed(listed) => listed,
        RecoveryAnswer::Refused(reason) | RecoveryAnswer::Later(reason) => {
            return Err(peer_fault(reason));
        }
        other => return Err(peer_fault(format!("answered {other:?} to a list"))),
    };
    let held = !listed.is_empty();
    for (trade_id, _) in listed.into_iter().take(MAX_LISTED) {
        let known: Option<i64> = sqlx::query_scalar("SELECT 1 FROM trades WHERE id = ?")
            .bind(trade_id.to_string())
            .fetch_optional(&inner.pool)
            .await
            .map_err(sql)?;
        if known.is_some() {
            continue;
        }
        let sealed = match ask(inner, peer, RecoveryRequest::Fetch { trade_id }).await? {
            RecoveryAnswer::Record(sealed) => sealed,
            RecoveryAnswer::Refused(reason) | RecoveryAnswer::Later(reason) => {
                tracing::info!(%trade_id, %peer, %reason, "a recovery copy was not handed back");
                continue;
            }
            other => return Err(peer_fault(format!("answered {other:?} to a fetch"))),
        };
        let restored = Record::open(keys, trade_id, &sealed)
            .map_err(peer_fault)
            .and_then(|record| {
                if record.owner == inner.me.peer.to_bytes() {
                    Ok(record)
                } else {
                    Err(peer_fault("a recovery copy of another node"))
                }
            });
        match restored {
            Ok(record) => {
                let chat_left_out = record.chat_left_out;
                if put_back(inner, record).await? {
                    tracing::info!(%trade_id, from = %peer, chat_left_out, "trade recovered");
                }
            }
            Err(e) => {
                inner
                    .refused
                    .recovery_copies
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                tracing::warn!(%trade_id, %peer, error = %e, "a recovery copy refused");
            }
        }
    }
    Ok(held)
}

/// The columns of `table` in this node's schema.
async fn columns_of(conn: &mut SqliteConnection, table: &str) -> Result<HashSet<String>> {
    let rows = sqlx::query("SELECT name FROM pragma_table_info(?)")
        .bind(table)
        .fetch_all(&mut *conn)
        .await
        .map_err(sql)?;
    rows.iter()
        .map(|r| r.try_get::<String, _>(0).map_err(sql))
        .collect()
}

/// Puts a record's rows back, in one transaction, unless the trade is here already. Whether it did.
pub(super) async fn put_back(inner: &Inner, record: Record) -> Result<bool> {
    let trade_id = record.trade_id;
    let id = trade_id.to_string();
    let (guard, mut tx) = inner.write().await?;
    let known: Option<i64> = sqlx::query_scalar("SELECT 1 FROM trades WHERE id = ?")
        .bind(&id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(sql)?;
    if known.is_some() {
        return Ok(false);
    }
    let schema = schema_version(&mut tx).await?;
    if record.schema > schema {
        return Err(Error::InvalidInput(format!(
            "the recovery copy of trade {trade_id} was made by a newer Souk (schema {}, this one {schema}): \
             update Souk and it is put back",
            record.schema
        )));
    }
    let allowed: Vec<&str> = TABLES
        .iter()
        .map(|(name, _)| *name)
        .chain(["messages"])
        .collect();
    for table in &record.tables {
        if !allowed.contains(&table.name.as_str()) {
            return Err(internal("a recovery copy", format!("table {}", table.name)));
        }
        let known = columns_of(&mut tx, &table.name).await?;
        if let Some(unknown) = table.columns.iter().find(|c| !known.contains(*c)) {
            return Err(internal(
                "a recovery copy",
                format!("column {}.{unknown} unknown here", table.name),
            ));
        }
        let key = if table.name == "trades" {
            "id"
        } else {
            "trade_id"
        };
        let key_at = table.columns.iter().position(|c| c == key);
        let sql_text = format!(
            "INSERT INTO {} ({}) VALUES ({})",
            table.name,
            table.columns.join(", "),
            vec!["?"; table.columns.len()].join(", ")
        );
        for row in &table.rows {
            let ours = key_at.and_then(|i| row.get(i)) == Some(&Value::Text(id.clone()));
            if row.len() != table.columns.len() || !ours {
                return Err(internal(
                    "a recovery copy",
                    format!("a row of {} not of this trade", table.name),
                ));
            }
            // Table and column names are checked against this node's own schema above.
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql_text.clone()));
            for value in row {
                query = match value {
                    Value::Null => query.bind(None::<i64>),
                    Value::Integer(n) => query.bind(*n),
                    Value::Text(s) => query.bind(s.clone()),
                    Value::Blob(b) => query.bind(b.clone()),
                };
            }
            query.execute(&mut *tx).await.map_err(sql)?;
        }
    }
    tx.commit().await.map_err(sql)?;
    drop(guard);
    inner.watch.notify_one();
    inner.wake.notify_one();
    if let Ok(info) = store::trade_info(&inner.pool, &inner.me.peer, trade_id).await {
        let _ = inner.events.send(TradeEvent::TradeUpdated {
            trade: Box::new(info),
        });
    }
    Ok(true)
}

#[cfg(test)]
mod tests;
