//! The maker's side: the task that makes the receipts of this node's ended trades, asks the taker to
//! countersign each (again until it did) and has the set published on every change.

use std::{collections::HashSet, sync::Arc, time::Duration};

use futures::future::join_all;
use libp2p::PeerId;
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::{
    ASK_AGAIN_FIRST_MS, ASK_AGAIN_MAX_MS, PUBLISH_EVERY, PUBLISH_RETRY, ReceiptRequest,
    body::{Made, body_of},
    publish::publish,
    sha,
};
use crate::{
    error::Result,
    protocol::{DirectRequest, ReturnAnswer},
    reputation::{ReceiptBody, receipt},
    store::now_ms,
    trading::{
        TradeEvent,
        desk::Inner,
        errors::{internal, sql},
        store,
    },
};

/// Keeps this node's receipts: made when its trades end (asking the taker to countersign, again until it
/// did), and published in the DHT on every change and twice a day.
pub(in crate::trading) async fn keep_receipts(inner: Arc<Inner>, cancel: CancellationToken) {
    let mut events = inner.events.subscribe();
    let mut no_receipt: HashSet<Uuid> = HashSet::new();
    let mut publish_at = tokio::time::Instant::now();
    loop {
        let (changed, next_ask) = match pass(&inner, &mut no_receipt).await {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(error = %e, "receipts: a pass failed");
                (false, Some(now_ms() + 60_000))
            }
        };
        if changed {
            publish_at = tokio::time::Instant::now();
        }
        if publish_at <= tokio::time::Instant::now() {
            publish_at = match publish(&inner).await {
                Ok(()) => tokio::time::Instant::now() + PUBLISH_EVERY,
                Err(e) => {
                    tracing::debug!(error = %e, "receipts: the set is not published yet");
                    tokio::time::Instant::now() + PUBLISH_RETRY
                }
            };
        }
        let ask_in = next_ask.map_or(Duration::from_secs(60), |at| {
            Duration::from_millis(u64::try_from(at - now_ms()).unwrap_or(0))
        });
        let wake =
            (tokio::time::Instant::now() + ask_in.min(Duration::from_secs(60))).min(publish_at);
        tokio::select! {
            biased;
            () = cancel.cancelled() => return,
            // A receipt countersigned here, or a rating given: the set changed.
            () = inner.receipts.notified() => publish_at = tokio::time::Instant::now(),
            () = tokio::time::sleep_until(wake) => {}
            event = events.recv() => match event {
                Ok(TradeEvent::TradeUpdated { trade } | TradeEvent::Recovered { trade })
                    if !trade.is_open() => {}
                Ok(_) => continue,
                Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => return,
            },
        }
        // A burst of steps ends in one pass.
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Makes the missing receipts of this node's ended trades as maker and asks for the countersignatures
/// due. Whether a receipt was completed, and when the next ask is due.
async fn pass(inner: &Inner, no_receipt: &mut HashSet<Uuid>) -> Result<(bool, Option<i64>)> {
    let ended: Vec<String> = sqlx::query_scalar(
        "SELECT t.id FROM trades t LEFT JOIN receipts r ON r.trade_id = t.id \
         WHERE t.role = 'maker' AND r.trade_id IS NULL \
         AND t.state IN ('Completed', 'Resolved', 'Cancelled', 'Expired') ORDER BY t.updated_at",
    )
    .fetch_all(&inner.pool)
    .await
    .map_err(sql)?;
    let mut next: Option<i64> = None;
    for id in ended.iter().filter_map(|s| Uuid::parse_str(s).ok()) {
        if no_receipt.contains(&id) {
            continue;
        }
        let trade = store::trade_info(&inner.pool, &inner.me.peer, id).await?;
        match body_of(inner, &trade).await? {
            Made::Ready(body) => {
                let bytes = body.encode();
                let signature = receipt::sign_body(&bytes, &inner.me.keypair)
                    .map_err(|e| internal("signing", e))?;
                sqlx::query(
                    "INSERT OR IGNORE INTO receipts (trade_id, id, body, maker_signature, counterparty, \
                     ended_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                )
                .bind(id.to_string())
                .bind(sha(&bytes).to_vec())
                .bind(&bytes)
                .bind(&signature)
                .bind(&trade.counterparty)
                .bind(body.ended_at)
                .bind(now_ms())
                .execute(&inner.pool)
                .await
                .map_err(sql)?;
            }
            Made::NotYet(why) => {
                tracing::debug!(trade_id = %id, %why, "receipts: not yet");
                next = Some(next.map_or(now_ms() + 10_000, |n| n.min(now_ms() + 10_000)));
            }
            Made::None => {
                no_receipt.insert(id);
            }
        }
    }
    let due: Vec<Due> = sqlx::query_as(
        "SELECT trade_id, body, maker_signature, counterparty, attempts FROM receipts \
         WHERE taker_signature IS NULL AND next_attempt <= ?",
    )
    .bind(now_ms())
    .fetch_all(&inner.pool)
    .await
    .map_err(sql)?;
    let asks = due
        .into_iter()
        .map(|(trade_id, body, signature, cp, attempts)| async move {
            let answer = ask(inner, &trade_id, &body, &signature, &cp).await;
            (trade_id, answer, attempts)
        });
    let mut changed = false;
    for (trade_id, answer, attempts) in join_all(asks).await {
        let retry = |attempts: i64| {
            now_ms() + (ASK_AGAIN_FIRST_MS << attempts.clamp(0, 20)).min(ASK_AGAIN_MAX_MS)
        };
        let refusal = match answer {
            Ok(()) => {
                changed = true;
                continue;
            }
            Err(e) => e,
        };
        tracing::debug!(%trade_id, reason = %refusal, "receipts: not countersigned yet");
        let at = retry(attempts);
        next = Some(next.map_or(at, |n| n.min(at)));
        sqlx::query(
            "UPDATE receipts SET attempts = attempts + 1, next_attempt = ?, refused = ? WHERE trade_id = ?",
        )
        .bind(at)
        .bind(refusal)
        .bind(&trade_id)
        .execute(&inner.pool)
        .await
        .map_err(sql)?;
    }
    let pending: Option<i64> =
        sqlx::query_scalar("SELECT MIN(next_attempt) FROM receipts WHERE taker_signature IS NULL")
            .fetch_one(&inner.pool)
            .await
            .map_err(sql)?;
    if let Some(p) = pending {
        next = Some(next.map_or(p, |n| n.min(p)));
    }
    Ok((changed, next))
}

/// A receipt waiting for the taker's signature: trade id, body, the maker's signature, the taker, attempts.
type Due = (String, Vec<u8>, Vec<u8>, String, i64);

/// Asks the taker to countersign; stores its signature. The error is why not, in words.
async fn ask(
    inner: &Inner,
    trade_id: &str,
    body: &[u8],
    signature: &[u8],
    counterparty: &str,
) -> std::result::Result<(), String> {
    let peer: PeerId = counterparty.parse().map_err(|e| format!("{e}"))?;
    let trade_uuid = Uuid::parse_str(trade_id).map_err(|e| e.to_string())?;
    let request = DirectRequest::Receipt(
        ReceiptRequest::Countersign {
            trade_id: trade_uuid,
            body: body.to_vec(),
            signature: signature.to_vec(),
        }
        .encode(),
    )
    .encode();
    let answer = inner
        .net
        .request(peer, request)
        .await
        .map_err(|e| format!("the taker's node: {e}"))?;
    let taker_signature = match ReturnAnswer::decode(&answer)? {
        ReturnAnswer::Signed(s) => s,
        ReturnAnswer::Refused(why) => return Err(format!("refused: {why}")),
        ReturnAnswer::Later(why) => return Err(format!("not now: {why}")),
    };
    let parsed = ReceiptBody::decode(body)?;
    receipt::check_signature(body, &parsed.taker_key, &taker_signature)
        .map_err(|e| format!("the taker's signature: {e}"))?;
    sqlx::query("UPDATE receipts SET taker_signature = ?, refused = NULL WHERE trade_id = ?")
        .bind(&taker_signature)
        .bind(trade_id)
        .execute(&inner.pool)
        .await
        .map_err(|e| e.to_string())?;
    tracing::info!(%trade_id, "trade receipt countersigned");
    Ok(())
}
