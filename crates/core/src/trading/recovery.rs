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
    collections::{HashMap, HashSet},
    sync::{Arc, LazyLock, Mutex},
    time::Duration,
};

use futures::future::join_all;
use libp2p::PeerId;
use sqlx::{Column, Row, SqliteConnection, TypeInfo, ValueRef, sqlite::SqliteRow};
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

pub use record::{
    CopyOffer, MAX_RECORD_BYTES, Record, RecordError, RecoveryAnswer, RecoveryKeys,
    RecoveryRequest, Table, Value,
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
/// ...and at least this often (a copy the counterparty did not store is offered again)...
const HAND_OVER_EVERY: Duration = Duration::from_secs(60);
/// ...and this soon after a copy could not be handed over, twice as long each time after.
const HAND_OVER_RETRY: Duration = Duration::from_secs(1);
/// The first look for this node's copies, then twice as long each time nobody holds any...
const LOOK_FIRST: Duration = Duration::from_secs(1);
/// ...up to this; and this often once some were found.
const LOOK_EVERY: Duration = Duration::from_secs(15 * 60);
/// A holder takes at most one copy per trade and owner this often.
const MIN_KEEP_GAP_MS: i64 = 1_000;
/// A copy is handed over again after this long even when nothing changed, so the arbitrator, which
/// forgets copies [`LATE_COINS_WATCH`] after the last one, keeps it while the trade is open.
const REFRESH_AFTER_MS: i64 = 30 * 24 * 3600 * 1000;
/// An arbitrator keeps copies of at most this many trades per party.
pub const MAX_LODGED_PER_OWNER: i64 = 64;
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

/// Whether a copy goes to the trade's arbitrator too: while the escrow may hold coins and the trade is
/// not over (the arbitrator keeps copies only of escrows with coins on the chain).
fn lodged_in(state: TradeState) -> bool {
    matches!(
        state,
        TradeState::EscrowFunded
            | TradeState::PaymentSent
            | TradeState::PaymentConfirmed
            | TradeState::Disputed
    )
}

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
        RecoveryRequest::Keep(copy) => keep(inner, peer, copy).await,
        RecoveryRequest::List => list(inner, peer).await.map(RecoveryAnswer::Listed),
        RecoveryRequest::Fetch { trade_id } => fetch(inner, peer, trade_id)
            .await
            .map(RecoveryAnswer::Record),
        RecoveryRequest::Lodge { copy, case } => lodge(inner, peer, copy, &case).await,
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
async fn keep(inner: &Inner, peer: PeerId, copy: CopyOffer) -> Result<RecoveryAnswer> {
    let trade_id = copy.trade_id;
    if copy.record.len() > MAX_RECORD_BYTES {
        return Err(peer_fault(RecordError::TooLarge(copy.record.len())));
    }
    let trade: Option<(String, String, TradeState)> =
        sqlx::query_as("SELECT counterparty, role, state FROM trades WHERE id = ?")
            .bind(trade_id.to_string())
            .fetch_optional(&inner.pool)
            .await
            .map_err(sql)?;
    let Some((counterparty, role, state)) = trade else {
        return Err(peer_fault(format!("no trade {trade_id} with you here")));
    };
    if counterparty != peer.to_base58() || role == "arbitrator" {
        return Err(peer_fault(format!("no trade {trade_id} with you here")));
    }
    if let Some(answer) = not_now(inner, &copy, peer).await? {
        return Ok(answer);
    }
    store_copy(inner, peer, &copy, false).await?;
    if state.is_open() {
        provide(inner, copy.locator).await;
    }
    Ok(RecoveryAnswer::Stored)
}

/// As the trade's first arbitrator: keeps a party's copy when the trade's case shows it is a party and
/// the escrow holds coins on the chain; at most [`MAX_LODGED_PER_OWNER`] trades per party.
async fn lodge(
    inner: &Inner,
    peer: PeerId,
    copy: CopyOffer,
    case: &[u8],
) -> Result<RecoveryAnswer> {
    let trade_id = copy.trade_id;
    if !inner.config.arbitrator {
        return Err(peer_fault("this node is not an arbitrator"));
    }
    if copy.record.len() > MAX_RECORD_BYTES {
        return Err(peer_fault(RecordError::TooLarge(copy.record.len())));
    }
    if let Some(answer) = not_now(inner, &copy, peer).await? {
        return Ok(answer);
    }
    let others: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM recovery_copies WHERE owner = ? AND arbitrated = 1 AND trade_id != ?",
    )
    .bind(peer.to_base58())
    .bind(trade_id.to_string())
    .fetch_one(&inner.pool)
    .await
    .map_err(sql)?;
    if others >= MAX_LODGED_PER_OWNER {
        return Err(peer_fault(format!(
            "this arbitrator keeps copies of at most {MAX_LODGED_PER_OWNER} trades per party"
        )));
    }
    super::arbitrate::check_lodger(inner, trade_id, peer, case).await?;
    store_copy(inner, peer, &copy, true).await?;
    provide(inner, copy.locator).await;
    Ok(RecoveryAnswer::Stored)
}

/// `Later` when `owner`'s last copy of the trade arrived less than [`MIN_KEEP_GAP_MS`] ago; `Newer` when
/// the copy kept holds more of the trade's log than this one (the owner is behind: it fetches the copy).
async fn not_now(inner: &Inner, copy: &CopyOffer, owner: PeerId) -> Result<Option<RecoveryAnswer>> {
    let last: Option<(i64, i64)> = sqlx::query_as(
        "SELECT received_at, events FROM recovery_copies WHERE trade_id = ? AND owner = ?",
    )
    .bind(copy.trade_id.to_string())
    .bind(owner.to_base58())
    .fetch_optional(&inner.pool)
    .await
    .map_err(sql)?;
    Ok(match last {
        Some((at, _)) if now_ms() - at < MIN_KEEP_GAP_MS => Some(RecoveryAnswer::Later(
            "a copy of this trade arrived less than a second ago".into(),
        )),
        Some((_, events)) if events > i64::from(copy.events) => Some(RecoveryAnswer::Newer),
        _ => None,
    })
}

async fn store_copy(
    inner: &Inner,
    owner: PeerId,
    copy: &CopyOffer,
    arbitrated: bool,
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
    .bind(now_ms())
    .bind(arbitrated)
    .bind(i64::from(copy.events))
    .execute(&inner.pool)
    .await
    .map_err(sql)?;
    Ok(())
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

/// What a holder refused, by (trade, holder): the digest refused, so the same copy is not offered again.
type RefusedCopies = Mutex<HashMap<(Uuid, PeerId), [u8; 32]>>;

/// Hands copies to counterparties (and arbitrators) and keeps the providing in step with the copies
/// kept here, until cancelled: after each burst of trade events, and every [`HAND_OVER_EVERY`].
pub(super) async fn keep_copies(inner: Arc<Inner>, cancel: CancellationToken) {
    let keys = RecoveryKeys::derive(&inner.me.storage_key);
    let refused = RefusedCopies::default();
    let mut events = inner.events.subscribe();
    let mut retry = HAND_OVER_RETRY;
    loop {
        // A copy not handed over (its holder unreachable, say right after this node started) is
        // offered again soon, then less and less often, up to every HAND_OVER_EVERY.
        let wait = match hand_over(&inner, &keys, &refused).await {
            Ok(true) => {
                retry = HAND_OVER_RETRY;
                HAND_OVER_EVERY
            }
            Ok(false) => {
                let wait = retry;
                retry = (retry * 2).min(HAND_OVER_EVERY);
                wait
            }
            Err(e) => {
                tracing::warn!(error = %e, "handing recovery copies over failed");
                HAND_OVER_EVERY
            }
        };
        if let Err(e) = provide_kept(&inner).await {
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
            () = tokio::time::sleep(wait) => continue,
        }
        // Wait for the burst to end (at most HAND_OVER_EVERY: a trade that never falls quiet still
        // gets its copies).
        let burst_until = tokio::time::Instant::now() + HAND_OVER_EVERY;
        loop {
            tokio::select! {
                biased;
                () = cancel.cancelled() => return,
                () = tokio::time::sleep_until(burst_until) => break,
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

/// Offers each open escrow trade's holders (its counterparty; its first arbitrator while the escrow may
/// hold coins) this node's copy, where it changed since the holder last stored one. Whether every copy
/// due went where it should (stored, or refused for good).
async fn hand_over(inner: &Inner, keys: &RecoveryKeys, refused: &RefusedCopies) -> Result<bool> {
    let trades: Vec<(String, String, TradeState)> = sqlx::query_as(OPEN_ESCROW_TRADES.as_str())
        .fetch_all(&inner.pool)
        .await
        .map_err(sql)?;
    let runs = trades.into_iter().filter_map(|(id, peer, state)| {
        Some((
            Uuid::parse_str(&id).ok()?,
            peer.parse::<PeerId>().ok()?,
            state,
        ))
    });
    let results = join_all(runs.map(|(id, peer, state)| async move {
        let record = {
            let mut conn = inner.pool.acquire().await.map_err(sql)?;
            build_record(&mut conn, &inner.me.peer, id).await?
        };
        let mut result = hand_over_one(inner, keys, refused, &record, peer, None).await;
        if lodged_in(state) {
            let (arbitrator, case) = super::arbitrate::lodging_case(inner, id).await?;
            let lodged = hand_over_one(inner, keys, refused, &record, arbitrator, Some(case)).await;
            result = result.and(lodged);
        }
        result
    }))
    .await;
    let mut all = true;
    for result in results {
        if let Err(e) = result {
            tracing::debug!(error = %e, "a recovery copy was not handed over");
            all = false;
        }
    }
    Ok(all)
}

/// Offers `holder` the copy `record` (to the arbitrator with the trade's `case`), unless it stored the
/// same rows lately or refused them.
async fn hand_over_one(
    inner: &Inner,
    keys: &RecoveryKeys,
    refused: &RefusedCopies,
    record: &Record,
    holder: PeerId,
    case: Option<Vec<u8>>,
) -> Result<()> {
    let trade_id = record.trade_id;
    let id = trade_id.to_string();
    let digest = record.digest();
    let last: Option<(Vec<u8>, i64)> = sqlx::query_as(
        "SELECT digest, sent_at FROM recovery_sent WHERE trade_id = ? AND holder = ?",
    )
    .bind(&id)
    .bind(holder.to_base58())
    .fetch_optional(&inner.pool)
    .await
    .map_err(sql)?;
    if last.is_some_and(|(d, at)| d == digest && now_ms() - at < REFRESH_AFTER_MS) {
        return Ok(());
    }
    let was_refused = refused
        .lock()
        .map(|r| r.get(&(trade_id, holder)) == Some(&digest))
        .unwrap_or(false);
    if was_refused {
        return Ok(());
    }
    let sealed = record
        .seal(keys)
        .map_err(|e| internal("sealing a recovery copy", e))?;
    let copy = CopyOffer {
        trade_id,
        locator: keys.locator(),
        record: sealed,
        events: record.events(),
    };
    let request = match case {
        None => RecoveryRequest::Keep(copy),
        Some(case) => RecoveryRequest::Lodge { copy, case },
    };
    match ask(inner, holder, request).await? {
        RecoveryAnswer::Stored => {
            sqlx::query(
                "INSERT INTO recovery_sent (trade_id, holder, digest, sent_at) VALUES (?, ?, ?, ?) \
                 ON CONFLICT (trade_id, holder) DO UPDATE SET digest = excluded.digest, \
                 sent_at = excluded.sent_at",
            )
            .bind(&id)
            .bind(holder.to_base58())
            .bind(digest.as_slice())
            .bind(now_ms())
            .execute(&inner.pool)
            .await
            .map_err(sql)?;
            tracing::debug!(%trade_id, %holder, "a recovery copy is kept");
            // The shells show since when the trade can be recovered.
            if let Ok(info) = store::trade_info(&inner.pool, &inner.me.peer, trade_id).await {
                let _ = inner.events.send(TradeEvent::TradeUpdated {
                    trade: Box::new(info),
                });
            }
            Ok(())
        }
        RecoveryAnswer::Refused(reason) => {
            tracing::info!(%trade_id, %holder, %reason, "a recovery copy was refused");
            if let Ok(mut r) = refused.lock() {
                r.insert((trade_id, holder), digest);
            }
            Ok(())
        }
        RecoveryAnswer::Later(reason) => Err(Error::Internal(reason)),
        RecoveryAnswer::Newer => {
            // This node is behind its own copy (restored from an older backup): it catches up first;
            // the next pass hands the holder the copy as it is then.
            let copy = fetch_own(inner, keys, holder, trade_id).await?;
            if catch_up(inner, copy).await? {
                tracing::info!(%trade_id, from = %holder, "trade caught up from its recovery copy");
            } else {
                // The holder's copy does not extend this node's log (another history): not fetched
                // again for this state of the trade.
                tracing::warn!(%trade_id, %holder, "a holder's newer copy is not of this node's history");
                if let Ok(mut r) = refused.lock() {
                    r.insert((trade_id, holder), digest);
                }
            }
            Ok(())
        }
        other => Err(peer_fault(format!("answered {other:?} to a copy"))),
    }
}

/// Provides the locators of the copies kept here (after a restart too), stops providing the others,
/// and forgets copies no longer kept.
async fn provide_kept(inner: &Inner) -> Result<()> {
    let watch_ms = i64::try_from(LATE_COINS_WATCH.as_millis()).unwrap_or(i64::MAX);
    let oldest_kept = now_ms() - watch_ms;
    let kept: Vec<Vec<u8>> = sqlx::query_scalar(KEPT_LOCATORS.as_str())
        .bind(oldest_kept)
        .fetch_all(&inner.pool)
        .await
        .map_err(sql)?;
    let kept: HashSet<[u8; 32]> = kept
        .into_iter()
        .filter_map(|l| <[u8; 32]>::try_from(l.as_slice()).ok())
        .collect();
    for locator in &kept {
        provide(inner, *locator).await;
    }
    let done: Vec<[u8; 32]> = inner
        .providing
        .lock()
        .map(|set| set.difference(&kept).copied().collect())
        .unwrap_or_default();
    for locator in done {
        let _ = inner.net.stop_providing(locator.to_vec()).await;
        if let Ok(mut set) = inner.providing.lock() {
            set.remove(&locator);
        }
    }
    sqlx::query(FORGET_COPIES.as_str())
        .bind(oldest_kept)
        .execute(&inner.pool)
        .await
        .map_err(sql)?;
    Ok(())
}

/// Looks for copies of this node's trades kept by others and puts back those of trades it does not
/// have, until cancelled: soon after start, then less and less often while nobody keeps any.
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

/// One look: asks every provider of the locator which copies it keeps, and puts back each trade this
/// node does not have from the holder with the newest copy (the next newest when that fails). Whether
/// anyone keeps copies of this node's at all.
async fn look(inner: &Inner, keys: &RecoveryKeys) -> Result<bool> {
    let providers = inner
        .net
        .get_providers(keys.locator().to_vec())
        .await
        .map_err(|e| Error::Internal(format!("looking up the recovery locator: {e}")))?;
    let mut holders: HashMap<Uuid, Vec<(i64, PeerId)>> = HashMap::new();
    for peer in providers.into_iter().filter(|p| *p != inner.me.peer) {
        match ask(inner, peer, RecoveryRequest::List).await {
            Ok(RecoveryAnswer::Listed(listed)) => {
                for (trade_id, at) in listed.into_iter().take(MAX_LISTED) {
                    holders.entry(trade_id).or_default().push((at, peer));
                }
            }
            Ok(other) => tracing::info!(%peer, "answered {other:?} to a list of recovery copies"),
            Err(e) => tracing::debug!(%peer, error = %e, "recovery copies not listed"),
        }
    }
    let any = !holders.is_empty();
    for (trade_id, mut from) in holders {
        let known: Option<i64> = sqlx::query_scalar("SELECT 1 FROM trades WHERE id = ?")
            .bind(trade_id.to_string())
            .fetch_optional(&inner.pool)
            .await
            .map_err(sql)?;
        if known.is_some() {
            continue;
        }
        from.sort_by_key(|h| std::cmp::Reverse(h.0));
        for (_, peer) in from {
            match recover_from(inner, keys, peer, trade_id).await {
                Ok(()) => break,
                Err(e) => {
                    tracing::info!(%trade_id, %peer, error = %e, "a recovery copy not put back")
                }
            }
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

/// Fetches this node's copy of `trade_id` from `peer`, opens it and puts the trade back.
async fn recover_from(
    inner: &Inner,
    keys: &RecoveryKeys,
    peer: PeerId,
    trade_id: Uuid,
) -> Result<()> {
    let record = fetch_own(inner, keys, peer, trade_id).await?;
    let chat_left_out = record.chat_left_out;
    if put_back(inner, record).await? {
        tracing::info!(%trade_id, from = %peer, chat_left_out, "trade recovered");
    }
    Ok(())
}

/// This node's copy of `trade_id` as `peer` keeps it, opened: sealed by this seed, of this trade, this
/// node's own (anything else is refused and counted).
async fn fetch_own(
    inner: &Inner,
    keys: &RecoveryKeys,
    peer: PeerId,
    trade_id: Uuid,
) -> Result<Record> {
    let sealed = match ask(inner, peer, RecoveryRequest::Fetch { trade_id }).await? {
        RecoveryAnswer::Record(sealed) => sealed,
        RecoveryAnswer::Refused(reason) | RecoveryAnswer::Later(reason) => {
            return Err(peer_fault(format!("not handed back: {reason}")));
        }
        other => return Err(peer_fault(format!("answered {other:?} to a fetch"))),
    };
    Record::open(keys, trade_id, &sealed)
        .map_err(peer_fault)
        .and_then(|record| {
            if record.owner == inner.me.peer.to_bytes() {
                Ok(record)
            } else {
                Err(peer_fault("a recovery copy of another node"))
            }
        })
        .inspect_err(|_| {
            inner
                .refused
                .recovery_copies
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        })
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

/// The tables a record may write, checked against this node's own schema: every table one this module
/// reads, every column one this node has, every row of the record's trade. The `INSERT` of each.
async fn checked_inserts(conn: &mut SqliteConnection, record: &Record) -> Result<Vec<String>> {
    let schema = schema_version(conn).await?;
    if record.schema > schema {
        return Err(Error::InvalidInput(format!(
            "the recovery copy of trade {} was made by a newer Souk (schema {}, this one {schema}): \
             update Souk and it is put back",
            record.trade_id, record.schema
        )));
    }
    let id = Value::Text(record.trade_id.to_string());
    let allowed: Vec<&str> = TABLES
        .iter()
        .map(|(name, _)| *name)
        .chain(["messages"])
        .collect();
    let mut inserts = Vec::with_capacity(record.tables.len());
    for table in &record.tables {
        if !allowed.contains(&table.name.as_str()) {
            return Err(internal("a recovery copy", format!("table {}", table.name)));
        }
        let known = columns_of(conn, &table.name).await?;
        if let Some(unknown) = table.columns.iter().find(|c| !known.contains(*c)) {
            return Err(internal(
                "a recovery copy",
                format!("column {}.{unknown} unknown here", table.name),
            ));
        }
        let key_at = table.columns.iter().position(|c| c == key_of(&table.name));
        for row in &table.rows {
            if row.len() != table.columns.len() || key_at.and_then(|i| row.get(i)) != Some(&id) {
                return Err(internal(
                    "a recovery copy",
                    format!("a row of {} not of this trade", table.name),
                ));
            }
        }
        inserts.push(format!(
            "INSERT INTO {} ({}) VALUES ({})",
            table.name,
            table.columns.join(", "),
            vec!["?"; table.columns.len()].join(", ")
        ));
    }
    Ok(inserts)
}

/// The column naming the trade in `table`.
fn key_of(table: &str) -> &'static str {
    if table == "trades" { "id" } else { "trade_id" }
}

/// Runs `sql` (checked by [`checked_inserts`] or built from checked names) with `row` bound.
async fn execute(conn: &mut SqliteConnection, sql_text: &str, row: &[&Value]) -> Result<u64> {
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql_text.to_owned()));
    for value in row {
        query = match value {
            Value::Null => query.bind(None::<i64>),
            Value::Integer(n) => query.bind(*n),
            Value::Text(s) => query.bind(s.clone()),
            Value::Blob(b) => query.bind(b.clone()),
        };
    }
    Ok(query
        .execute(&mut *conn)
        .await
        .map_err(sql)?
        .rows_affected())
}

/// After a trade came back or caught up: the engine picks it up, the shells show it and tell the person.
async fn announce_change(inner: &Inner, trade_id: Uuid) {
    inner.watch.notify_one();
    inner.wake.notify_one();
    if let Ok(info) = store::trade_info(&inner.pool, &inner.me.peer, trade_id).await {
        let _ = inner.events.send(TradeEvent::Recovered {
            trade: Box::new(info),
        });
    }
}

/// Puts a record's rows back, in one transaction, unless the trade is here already. Whether it did.
pub(super) async fn put_back(inner: &Inner, record: Record) -> Result<bool> {
    let trade_id = record.trade_id;
    let (guard, mut tx) = inner.write().await?;
    let known: Option<i64> = sqlx::query_scalar("SELECT 1 FROM trades WHERE id = ?")
        .bind(trade_id.to_string())
        .fetch_optional(&mut *tx)
        .await
        .map_err(sql)?;
    if known.is_some() {
        return Ok(false);
    }
    let inserts = checked_inserts(&mut tx, &record).await?;
    for (table, insert) in record.tables.iter().zip(&inserts) {
        for row in &table.rows {
            execute(&mut tx, insert, &row.iter().collect::<Vec<_>>()).await?;
        }
    }
    tx.commit().await.map_err(sql)?;
    drop(guard);
    announce_change(inner, trade_id).await;
    Ok(true)
}

/// Brings an open trade this node has up to its own newer copy (a node restored from a backup older than
/// its last steps): only when the copy holds every signed step this node has, and more. The steps it
/// lacks are added, the trade's, channel's and escrow's rows take the copy's values, the chat and the
/// unacknowledged envelopes it lacks are added. Whether it did.
pub(super) async fn catch_up(inner: &Inner, record: Record) -> Result<bool> {
    let trade_id = record.trade_id;
    let id = trade_id.to_string();
    let (guard, mut tx) = inner.write().await?;
    let state: Option<TradeState> = sqlx::query_scalar("SELECT state FROM trades WHERE id = ?")
        .bind(&id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(sql)?;
    if !state.is_some_and(TradeState::is_open) {
        return Ok(false);
    }
    let inserts = checked_inserts(&mut tx, &record).await?;
    let mine: Vec<(i64, Vec<u8>)> =
        sqlx::query_as("SELECT seq, signature FROM trade_events WHERE trade_id = ? ORDER BY seq")
            .bind(&id)
            .fetch_all(&mut *tx)
            .await
            .map_err(sql)?;
    let Some(events) = record.tables.iter().find(|t| t.name == "trade_events") else {
        return Ok(false);
    };
    let at = |name: &str| events.columns.iter().position(|c| c == name);
    let (Some(seq_at), Some(sig_at)) = (at("seq"), at("signature")) else {
        return Ok(false);
    };
    let theirs: Vec<(i64, Vec<u8>)> = events
        .rows
        .iter()
        .filter_map(|row| match (&row[seq_at], &row[sig_at]) {
            (Value::Integer(seq), Value::Blob(sig)) => Some((*seq, sig.clone())),
            _ => None,
        })
        .collect();
    if theirs.len() <= mine.len() || mine.iter().any(|m| !theirs.contains(m)) {
        return Ok(false);
    }
    // Envelopes held out of order were for the old receiver; the counterparty sends them again.
    sqlx::query("DELETE FROM held_envelopes WHERE trade_id = ?")
        .bind(&id)
        .execute(&mut *tx)
        .await
        .map_err(sql)?;
    for (table, insert) in record.tables.iter().zip(&inserts) {
        match table.name.as_str() {
            "trade_events" => {
                for row in &table.rows {
                    let seq = &row[seq_at];
                    if !mine.iter().any(|(s, _)| Value::Integer(*s) == *seq) {
                        execute(&mut tx, insert, &row.iter().collect::<Vec<_>>()).await?;
                    }
                }
            }
            "trades" | "trade_channels" | "trade_escrow" => {
                let key = key_of(&table.name);
                let set: Vec<String> = table
                    .columns
                    .iter()
                    .filter(|c| *c != key)
                    .map(|c| format!("{c} = ?"))
                    .collect();
                let update = format!(
                    "UPDATE {} SET {} WHERE {key} = ?",
                    table.name,
                    set.join(", ")
                );
                for row in &table.rows {
                    let mut values: Vec<&Value> = table
                        .columns
                        .iter()
                        .zip(row)
                        .filter(|(c, _)| *c != key)
                        .map(|(_, v)| v)
                        .collect();
                    let key_value = Value::Text(id.clone());
                    values.push(&key_value);
                    if execute(&mut tx, &update, &values).await? == 0 {
                        execute(&mut tx, insert, &row.iter().collect::<Vec<_>>()).await?;
                    }
                }
            }
            _ => {
                let insert = insert.replacen("INSERT INTO", "INSERT OR IGNORE INTO", 1);
                for row in &table.rows {
                    execute(&mut tx, &insert, &row.iter().collect::<Vec<_>>()).await?;
                }
            }
        }
    }
    tx.commit().await.map_err(sql)?;
    drop(guard);
    announce_change(inner, trade_id).await;
    Ok(true)
}

#[cfg(test)]
mod tests;
