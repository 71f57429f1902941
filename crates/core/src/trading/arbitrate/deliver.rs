//! The arbitrator's decision on its way to both parties: sent to each until it answers (across
//! restarts), and each party's answer recorded. Never decides anything itself.

use std::{sync::Arc, time::Duration};

use libp2p::PeerId;
use uuid::Uuid;

use crate::{
    error::Result,
    escrow::Party,
    protocol::{DirectRequest, Stored},
    trading::{desk::Inner, store},
};

/// Longest refusal reason kept from a party (its own words).
pub(super) const MAX_REFUSAL_CHARS: usize = 500;

/// Records `side`'s answer to the resolution `bytes` of `trade_id` (`stored` or `refused: REASON`): it
/// is not sent to that party again. An answer to a decision replaced since is not recorded.
pub(super) async fn record_answer(
    pool: &sqlx::SqlitePool,
    trade_id: Uuid,
    side: Party,
    bytes: &[u8],
    answer: &Stored,
) -> Result<()> {
    let text = match answer {
        Stored::Stored => "stored".to_owned(),
        Stored::Refused(reason) => format!(
            "refused: {}",
            reason.chars().take(MAX_REFUSAL_CHARS).collect::<String>()
        ),
        // Not an answer: the resolution stays owed to that party.
        Stored::Later(_) => return Ok(()),
    };
    store::disputes::save_answer(pool, trade_id, side, bytes, text).await
}

/// At start: sends every stored resolution again to each party that has not acknowledged it (the node
/// may have stopped before); ends when each is delivered or the desk shuts down.
pub(in crate::trading) async fn resend_resolutions(inner: Arc<Inner>) {
    let pending = match store::disputes::undelivered_resolutions(&inner.pool).await {
        Ok(pending) => pending,
        Err(e) => {
            tracing::warn!(error = %e, "could not list the resolutions to send again");
            return;
        }
    };
    let runs = pending.into_iter().map(|u| {
        tracing::info!(trade_id = %u.trade_id, party = %u.party, "sending a resolution again");
        deliver_resolution(inner.clone(), u.trade_id, u.side, u.party, u.bytes)
    });
    futures::future::join_all(runs).await;
}

/// Sends the resolution to one party until it acknowledges (it may be offline for a while) or the desk
/// shuts down; an acknowledgement or a refusal is recorded, so that a restart sends it only to a party
/// that has neither.
pub(super) async fn deliver_resolution(
    inner: Arc<Inner>,
    trade_id: Uuid,
    side: Party,
    party: PeerId,
    bytes: Vec<u8>,
) {
    let mut wait = Duration::from_millis(250);
    let attempt = async {
        loop {
            // A newer decision replaced this one: its own delivery takes over.
            let current = store::disputes::resolution(&inner.pool, trade_id)
                .await
                .unwrap_or(None);
            if current.flatten().as_deref() != Some(bytes.as_slice()) {
                return None;
            }
            let _ = inner.net.find_peer(party).await;
            match inner
                .net
                .request(party, DirectRequest::Resolution(bytes.clone()).encode())
                .await
                .map_err(|e| e.to_string())
                .and_then(|answer| Stored::decode(&answer))
            {
                Ok(Stored::Stored) => {
                    tracing::info!(%trade_id, %party, "the party has the resolution");
                    return Some(Stored::Stored);
                }
                Ok(Stored::Refused(reason)) => {
                    tracing::warn!(%trade_id, %party, %reason, "a party refused the resolution");
                    return Some(Stored::Refused(reason));
                }
                // The party's chain node or disk failed: the decision stays owed.
                Ok(Stored::Later(reason)) => {
                    tracing::info!(%trade_id, %party, %reason, "the party will take the resolution later");
                }
                Err(e) => {
                    tracing::debug!(%trade_id, %party, error = %e, "resolution not delivered yet");
                }
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(inner.config.max_retry);
        }
    };
    let answer = tokio::select! {
        biased;
        () = inner.stop.cancelled() => return,
        answer = attempt => answer,
    };
    let Some(answer) = answer else {
        tracing::info!(%trade_id, %party, "a newer decision replaced this one");
        return;
    };
    if let Err(e) = record_answer(&inner.pool, trade_id, side, &bytes, &answer).await {
        tracing::warn!(%trade_id, %party, error = %e, "could not record the resolution's delivery");
    }
}
