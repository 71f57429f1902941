//! The market's background loops: routing network events into the book, sweeping expired offers,
//! and asking makers again for their offers. Database work happens here, never in the swarm's loop.

use std::{sync::Arc, time::Duration};

use libp2p::PeerId;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use super::Inner;
use crate::{
    net::NetEvent,
    offer::{Asset, Quote},
    store::now_ms,
};

/// The shortest time between two rounds of asking the makers after the book fell behind.
const RESYNC_AT_MOST_EVERY: Duration = Duration::from_secs(5);

/// How often expired offers are swept from the book.
const EXPIRY_SWEEP: Duration = Duration::from_secs(60);

/// Asks the makers of every watched market for their offers once the first peer connects (a node
/// that came up with nobody to ask learns what was posted before it), then every `every`: whatever
/// gossip missed (a partition, a dropped message, a maker this node has no gossip path to) comes back
/// through the DHT's provider lists within that. Gossip brings what is posted meanwhile.
pub(super) async fn keep_fresh(
    inner: Arc<Inner>,
    mut events: broadcast::Receiver<NetEvent>,
    every: Duration,
    cancel: CancellationToken,
) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks.tick().await;
    let mut waiting_for_first_peer = true;
    let mut last = tokio::time::Instant::now();
    loop {
        let due = tokio::select! {
            biased;
            () = cancel.cancelled() => return,
            _ = ticks.tick() => true,
            () = inner.resync.notified() => {
                // However often the book falls behind, the makers are asked at most this often.
                tokio::time::sleep_until(last + RESYNC_AT_MOST_EVERY).await;
                true
            }
            event = events.recv() => match event {
                Ok(NetEvent::PeerConnected(_)) if waiting_for_first_peer => {
                    waiting_for_first_peer = false;
                    true
                }
                Err(broadcast::error::RecvError::Closed) => return,
                _ => false,
            },
        };
        if !due {
            continue;
        }
        last = tokio::time::Instant::now();
        let watched: Vec<(Asset, Quote)> = inner
            .watched
            .read()
            .map(|w| w.iter().copied().collect())
            .unwrap_or_default();
        for (base, quote) in watched {
            tokio::select! {
                biased;
                () = cancel.cancelled() => return,
                result = inner.refresh(base, quote) => match result {
                    Ok(n) => tracing::debug!(market = %format!("{base}/{quote}"), new_offers = n, "market refreshed"),
                    Err(e) => tracing::debug!(market = %format!("{base}/{quote}"), error = %e, "market refresh failed"),
                },
            }
        }
    }
}

/// How long before a peer that joins a market again is asked for its offers again.
const ASK_PEER_AGAIN_AFTER: Duration = Duration::from_secs(60);

/// Routes network events into the book. Database work happens here, never in the swarm's loop.
pub(super) async fn pump(
    inner: Arc<Inner>,
    mut events: broadcast::Receiver<NetEvent>,
    cancel: CancellationToken,
) {
    let mut sweep = tokio::time::interval(EXPIRY_SWEEP);
    let mut asked: std::collections::HashMap<(PeerId, String), tokio::time::Instant> =
        std::collections::HashMap::new();
    loop {
        tokio::select! {
            biased;
            () = cancel.cancelled() => break,
            _ = sweep.tick() => {
                if let Err(e) = inner.book.expire(now_ms()).await {
                    tracing::warn!(error = %e, "sweeping expired offers failed");
                }
            }
            event = events.recv() => match event {
                Ok(NetEvent::Gossip { data, .. }) => inner.apply(&data).await,
                Ok(NetEvent::RecordStored { value, .. }) => inner.apply(&value).await,
                Ok(NetEvent::PeerConnected(peer)) => {
                    if let Err(e) = inner.book.saw_peer(&peer, now_ms()).await {
                        tracing::warn!(error = %e, "recording a peer failed");
                    }
                }
                // A peer in a market we watch: ask it for its offers. What it published before it knew
                // of our subscription never reached us by gossip; this closes that window.
                Ok(NetEvent::TopicJoined { peer, topic }) => {
                    // At most once a minute per peer and market, however often it re-subscribes.
                    let now = tokio::time::Instant::now();
                    asked.retain(|_, at| now.duration_since(*at) < ASK_PEER_AGAIN_AFTER);
                    if asked.contains_key(&(peer, topic.clone())) {
                        continue;
                    }
                    if let Some((base, quote)) = inner.watched_market(&topic) {
                        asked.insert((peer, topic), now);
                        let inner = inner.clone();
                        tokio::spawn(async move { inner.ask_peer(peer, base, quote).await });
                    }
                }
                Ok(NetEvent::Request { id, data, .. }) => {
                    let Some(answer) = inner.answer(&data).await else {
                        continue;
                    };
                    if let Err(e) = inner.net.respond(id, answer).await {
                        tracing::debug!(error = %e, "could not answer a request");
                    }
                }
                Ok(_) => {}
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    // Offers and withdrawals among them are gone from this channel, not from the
                    // network: their makers are asked for their books again.
                    tracing::warn!(missed = n, "the market fell behind the network's events; asking the makers again");
                    inner
                        .fell_behind
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    inner.resync.notify_one();
                }
                Err(broadcast::error::RecvError::Closed) => break,
            },
        }
    }
}
