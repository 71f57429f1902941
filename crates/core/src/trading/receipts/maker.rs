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
        errors::internal,
        store::{self, receipts::ReceiptRow},
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
            () = inner.receipts.woken() => publish_at = tokio::time::Instant::now(),
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
    let ended = store::receipts::ended_without_receipt(&inner.pool).await?;
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
                let made = ReceiptRow {
                    trade_id: id,
                    id: &sha(&bytes),
                    body: &bytes,
                    maker_signature: &signature,
                    counterparty: &trade.counterparty,
                    ended_at: body.ended_at,
                    created_at: now_ms(),
                };
                store::receipts::insert_made(&inner.pool, &made).await?;
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
    let due = store::receipts::due_asks(&inner.pool, now_ms()).await?;
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
        store::receipts::postpone_ask(&inner.pool, &trade_id, at, refusal).await?;
    }
    let pending = store::receipts::next_ask(&inner.pool).await?;
    if let Some(p) = pending {
        next = Some(next.map_or(p, |n| n.min(p)));
    }
    Ok((changed, next))
}

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
    store::receipts::save_taker_signature(&inner.pool, trade_id, &taker_signature)
        .await
        .map_err(|e| e.to_string())?;
    tracing::info!(%trade_id, "trade receipt countersigned");
    Ok(())
}
