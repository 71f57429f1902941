//! The holder's side: a counterparty's or, as arbitrator, a party's copy kept, listed and handed back to its
//! owner, and the locators of the copies kept here provided in the DHT while they are kept.

use std::collections::HashSet;

use libp2p::PeerId;
use uuid::Uuid;

use super::{
    CopyOffer, LATE_COINS_WATCH, MAX_LISTED, MAX_LODGED_PER_OWNER, MAX_RECORD_BYTES,
    MIN_KEEP_GAP_MS, RecordError, RecoveryAnswer, RecoveryRequest,
};
use crate::{
    error::{ErrorKind, Result},
    protocol::reason_for_peer,
    store::now_ms,
    trading::{desk::Inner, errors::peer_fault, store},
};

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
    let trade = store::recovery::trade_of(&inner.pool, trade_id).await?;
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
    let others = store::recovery::lodged_besides(&inner.pool, &peer, trade_id).await?;
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
    let last = store::recovery::last_copy(&inner.pool, copy.trade_id, &owner).await?;
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
    store::recovery::save_copy(&inner.pool, &owner, copy, arbitrated, now_ms()).await
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
    let rows = store::recovery::copies_of(&inner.pool, &peer, MAX_LISTED as i64).await?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, at)| Some((Uuid::parse_str(&id).ok()?, at)))
        .collect())
}

/// `peer`'s copy of `trade_id`, only to `peer` (the connection proves who asks).
async fn fetch(inner: &Inner, peer: PeerId, trade_id: Uuid) -> Result<Vec<u8>> {
    store::recovery::copy_record(&inner.pool, trade_id, &peer)
        .await?
        .ok_or_else(|| peer_fault(format!("no copy of trade {trade_id} of yours here")))
}

/// Provides the locators of the copies kept here (after a restart too), stops providing the others,
/// and forgets copies no longer kept.
pub(super) async fn provide_kept(inner: &Inner) -> Result<()> {
    let watch_ms = i64::try_from(LATE_COINS_WATCH.as_millis()).unwrap_or(i64::MAX);
    let oldest_kept = now_ms() - watch_ms;
    let kept = store::recovery::kept_locators(&inner.pool, oldest_kept).await?;
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
    store::recovery::forget_copies(&inner.pool, oldest_kept).await
}
