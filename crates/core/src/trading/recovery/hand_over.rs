//! The owner's side: this node's copy of each open escrow trade handed to its counterparty and, while the
//! escrow may hold coins, its first arbitrator, again whenever the trade changes.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use futures::future::join_all;
use libp2p::PeerId;
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::{
    CopyOffer, HAND_OVER_EVERY, HAND_OVER_QUIET, HAND_OVER_RETRY, REFRESH_AFTER_MS, Record,
    RecoveryAnswer, RecoveryKeys, RecoveryRequest, ask,
    holder::provide_kept,
    restore::{catch_up, fetch_own},
    rows::build_record,
};
use crate::{
    error::{Error, Result},
    protocol::state::TradeState,
    store::now_ms,
    trading::{
        TradeEvent,
        desk::Inner,
        errors::{internal, peer_fault, sql},
        store,
    },
};

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

/// What a holder refused, by (trade, holder): the digest refused, so the same copy is not offered again.
type RefusedCopies = Mutex<HashMap<(Uuid, PeerId), [u8; 32]>>;

/// Hands copies to counterparties (and arbitrators) and keeps the providing in step with the copies
/// kept here, until cancelled: after each burst of trade events, and every [`HAND_OVER_EVERY`].
pub(in crate::trading) async fn keep_copies(inner: Arc<Inner>, cancel: CancellationToken) {
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
    let trades = store::recovery::open_escrow_trades(&inner.pool).await?;
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
            let (arbitrator, case) = crate::trading::arbitrate::lodging_case(inner, id).await?;
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
    let digest = record.digest();
    let last = store::recovery::last_sent(&inner.pool, trade_id, &holder).await?;
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
            store::recovery::save_sent(&inner.pool, trade_id, &holder, &digest, now_ms()).await?;
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
