//! The desk's background tasks: the loop that hands each direct request to its handler, the expiry of
//! takes nobody answered, and the arbitrator's announcement. Each ends when the desk shuts down.

use std::{
    sync::{Arc, atomic::Ordering},
    time::Duration,
};

use libp2p::PeerId;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::{Inner, negotiate::answer_step};
use crate::{
    error::Result, net::NetEvent, protocol::DirectRequest, protocol::negotiation::MessageBody,
    store::now_ms, trading::settle,
};

/// Rejects the takes of this node's offers that waited longer than the answer window for the maker,
/// saying so to the taker: the offer's place is free again. Looks every quarter of the window (at
/// most every half minute), and at once after a start, so takes that expired while the node was off
/// are answered first.
pub(super) async fn expire_unanswered_takes(inner: Arc<Inner>, cancel: CancellationToken) {
    let window = inner.config.answer_window;
    let mut ticks = tokio::time::interval(
        (window / 4).clamp(Duration::from_millis(50), Duration::from_secs(30)),
    );
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            biased;
            () = cancel.cancelled() => return,
            _ = ticks.tick() => {}
        }
        let cutoff = now_ms() - i64::try_from(window.as_millis()).unwrap_or(i64::MAX);
        let expired =
            match crate::trading::store::negotiation::unanswered_takes(&inner.pool, cutoff).await {
                Ok(ids) => ids,
                Err(e) => {
                    tracing::warn!(error = %e, "looking for unanswered takes failed");
                    continue;
                }
            };
        for id in expired.iter().filter_map(|id| Uuid::parse_str(id).ok()) {
            let reason = format!(
                "not answered within {}: the take expired",
                window_words(window)
            );
            match answer_step(&inner, id, MessageBody::Reject { reason }).await {
                Ok(_) => {
                    inner.refused.takes_expired.fetch_add(1, Ordering::Relaxed);
                    tracing::info!(trade_id = %id, "an unanswered take expired");
                }
                // Answered meanwhile (the lock decides), or the trade is gone.
                Err(e) => {
                    tracing::debug!(trade_id = %id, error = %e, "an expired take was not rejected")
                }
            }
        }
    }
}

/// A window exactly, in its largest whole unit: "30 min", "2 h", "45 s", "500 ms".
fn window_words(d: Duration) -> String {
    let secs = d.as_secs();
    if secs >= 3_600 && secs.is_multiple_of(3_600) {
        format!("{} h", secs / 3_600)
    } else if secs >= 60 && secs.is_multiple_of(60) {
        format!("{} min", secs / 60)
    } else if secs >= 1 {
        format!("{secs} s")
    } else {
        format!("{} ms", d.as_millis())
    }
}

/// Answers the trade requests among the network's events; each in its own task, so a slow disk never
/// holds up the next.
pub(super) async fn serve(
    inner: Arc<Inner>,
    mut events: broadcast::Receiver<NetEvent>,
    cancel: CancellationToken,
) {
    loop {
        let event = tokio::select! {
            biased;
            () = cancel.cancelled() => break,
            event = events.recv() => event,
        };
        match event {
            Ok(NetEvent::Request { peer, id, data }) => {
                let request = match DirectRequest::decode(&data) {
                    Ok(DirectRequest::Take(bytes)) => Request::Take(bytes),
                    Ok(DirectRequest::Envelope(bytes)) => Request::Envelope(bytes),
                    Ok(DirectRequest::Dispute(bytes)) => Request::Dispute(bytes),
                    Ok(DirectRequest::Resolution(bytes)) => Request::Resolution(bytes),
                    Ok(DirectRequest::Return(bytes)) => Request::Return(bytes),
                    Ok(DirectRequest::Recovery(bytes)) => Request::Recovery(bytes),
                    Ok(DirectRequest::Receipt(bytes)) => Request::Receipt(bytes),
                    // The market answers offer requests and anything undecodable.
                    _ => continue,
                };
                let inner = inner.clone();
                tokio::spawn(async move {
                    let answer = match request {
                        Request::Take(bytes) => inner.on_take(peer, &bytes).await.encode(),
                        Request::Envelope(bytes) => inner.on_envelope(peer, &bytes).await.encode(),
                        Request::Dispute(bytes) => stored(
                            "dispute case",
                            peer,
                            crate::trading::arbitrate::on_case(&inner, &bytes).await,
                        ),
                        Request::Resolution(bytes) => stored(
                            "resolution",
                            peer,
                            crate::trading::arbitrate::on_resolution(&inner, &bytes).await,
                        ),
                        Request::Return(bytes) => {
                            let answer =
                                crate::trading::arbitrate::on_return_request(&inner, &bytes).await;
                            if let Err(e) = &answer {
                                tracing::info!(%peer, error = %e, "a return request not signed");
                            }
                            crate::protocol::ReturnAnswer::of(answer).encode()
                        }
                        Request::Recovery(bytes) => {
                            crate::trading::recovery::on_request(&inner, peer, &bytes)
                                .await
                                .encode()
                        }
                        Request::Receipt(bytes) => {
                            crate::trading::receipts::on_request(&inner, peer, &bytes)
                                .await
                                .encode()
                        }
                    };
                    if let Err(e) = inner.net.respond(id, answer).await {
                        tracing::debug!(%peer, error = %e, "could not answer a trade request");
                    }
                });
            }
            Ok(NetEvent::PeerConnected(peer)) => inner.outbox.peer_back(peer),
            Ok(_) => {}
            Err(broadcast::error::RecvError::Lagged(n)) => {
                tracing::warn!(
                    missed = n,
                    "the trade desk fell behind the network's events"
                );
            }
            Err(broadcast::error::RecvError::Closed) => break,
        }
    }
}

enum Request {
    Take(Vec<u8>),
    Envelope(Vec<u8>),
    Dispute(Vec<u8>),
    Resolution(Vec<u8>),
    Return(Vec<u8>),
    Recovery(Vec<u8>),
    Receipt(Vec<u8>),
}

fn stored(what: &str, from: PeerId, result: Result<()>) -> Vec<u8> {
    let answer = crate::protocol::Stored::of(&result);
    match &answer {
        crate::protocol::Stored::Stored => {}
        crate::protocol::Stored::Refused(reason) => {
            tracing::info!(%from, %reason, "{what} refused");
        }
        crate::protocol::Stored::Later(reason) => {
            tracing::warn!(%from, %reason, "{what} not handled now; the sender will try again");
        }
    }
    answer.encode()
}

/// Keeps this node's arbitrator announcement in the DHT: at start (retried until a peer stores it), then
/// twice a day.
pub(super) async fn announce(inner: Arc<Inner>, cancel: CancellationToken) {
    let mut wait = Duration::from_millis(250);
    loop {
        match settle::announce_arbitrator(&inner).await {
            Ok(()) => wait = Duration::from_secs(12 * 3600),
            Err(e) => {
                tracing::debug!(error = %e, "arbitrator announcement not stored yet");
                wait = (wait * 2).min(Duration::from_secs(30));
            }
        }
        tokio::select! {
            biased;
            () = cancel.cancelled() => break,
            () = tokio::time::sleep(wait) => {}
        }
    }
}
