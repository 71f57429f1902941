//! The holder's side: a counterparty's or, as arbitrator, a party's copy kept, listed and handed back to its
//! owner, and the locators of the copies kept here provided in the DHT while they are kept.

use std::{collections::HashSet, sync::LazyLock};

use libp2p::PeerId;
use uuid::Uuid;

use super::{
    CopyOffer, LATE_COINS_WATCH, MAX_LISTED, MAX_LODGED_PER_OWNER, MAX_RECORD_BYTES,
    MIN_KEEP_GAP_MS, RecordError, RecoveryAnswer, RecoveryRequest,
};
use crate::{
    error::{ErrorKind, Result},
    protocol::{reason_for_peer, state::TradeState},
    store::now_ms,
    trading::{
        desk::Inner,
        errors::{peer_fault, sql},
    },
};

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

/// Answers a party's recovery request (`DirectRequest::Recovery`).
pub(in crate::trading) async fn on_request(
    inner: &Inner,
    peer: PeerId,
    bytes: &[u8],
) -> RecoveryAnswer {
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
    crate::trading::arbitrate::check_lodger(inner, trade_id, peer, case).await?;
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

/// Provides the locators of the copies kept here (after a restart too), stops providing the others,
/// and forgets copies no longer kept.
pub(super) async fn provide_kept(inner: &Inner) -> Result<()> {
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
