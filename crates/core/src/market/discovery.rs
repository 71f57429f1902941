//! Filling the book from the network: verified gossip and DHT updates, makers' answers to offer
//! requests, and this node's answers to others'. Everything is verified again before the book sees it.

use std::{
    collections::{HashMap, HashSet, VecDeque},
    time::{Duration, Instant},
};

use futures::stream::{FuturesUnordered, StreamExt};
use libp2p::PeerId;
use sha2::{Digest, Sha256};

#[cfg(doc)]
use super::Market;
use super::{Inner, MarketEvent};
use crate::{
    book::Inserted,
    error::Result,
    offer::{
        Asset, MarketUpdate, Quote, SignedOffer, VerifiedMarketUpdate, VerifiedOffer, market_key,
        market_topic,
    },
    protocol::DirectRequest,
    store::now_ms,
};

/// Most offers one maker serves in one answer.
const MAX_OFFERS_PER_ANSWER: usize = crate::book::MAX_OFFERS_PER_MAKER_PER_MARKET;

impl Inner {
    /// See [`Market::refresh`]. The makers this book already knows in the market are asked at once,
    /// and every other provider the DHT lookup meets as soon as it meets it, all in parallel: the
    /// book fills while the lookup runs on (a lookup ends only when the closest peers have all
    /// answered, or at its timeout).
    pub(super) async fn refresh(&self, base: Asset, quote: Quote) -> Result<usize> {
        let inner = self;
        inner.net.subscribe(&market_topic(base, quote)).await?;
        if let Ok(mut watched) = inner.watched.write() {
            watched.insert((base, quote));
        }
        let me = inner.keypair.public().to_peer_id();
        let request = DirectRequest::Offers {
            base: base.code().into(),
            quote: quote.code().into(),
        }
        .encode();
        let ask = |maker: PeerId| {
            let request = request.clone();
            async move { (maker, inner.net.request(maker, request).await) }
        };
        let mut asked = HashSet::from([me]);
        let mut asks = FuturesUnordered::new();
        for maker in inner.book.makers_in(base, quote, now_ms()).await? {
            if asked.insert(maker) {
                asks.push(ask(maker));
            }
        }
        let (found_tx, mut found) = tokio::sync::mpsc::unbounded_channel();
        let lookup = inner
            .net
            .get_providers_as_found(market_key(base, quote).to_vec(), found_tx);
        tokio::pin!(lookup);
        let mut lookup_done = false;
        let mut lookup_failed = None;
        let mut added = 0;
        loop {
            tokio::select! {
                Some(maker) = found.recv() => {
                    if asked.insert(maker) {
                        asks.push(ask(maker));
                    }
                }
                result = &mut lookup, if !lookup_done => {
                    lookup_done = true;
                    match result {
                        Ok(all) => {
                            for maker in all {
                                if asked.insert(maker) {
                                    asks.push(ask(maker));
                                }
                            }
                        }
                        Err(e) => lookup_failed = Some(e),
                    }
                }
                Some((maker, answer)) = asks.next() => match answer {
                    Ok(bytes) => added += inner.take_answer(maker, base, quote, &bytes).await,
                    Err(e) => tracing::debug!(%maker, error = %e, "maker did not answer"),
                },
                else => break,
            }
        }
        match lookup_failed {
            // Nothing to show for it but the lookup's failure: say so (the network stopped).
            Some(e) if asked.len() == 1 => Err(e.into()),
            _ => Ok(added),
        }
    }

    /// Verifies an update from the network and applies it to the book; tells the shells when it changed.
    /// The same bytes again soon after (most updates come by gossip and again as a DHT record) cost
    /// a hash: the book already holds what they say.
    pub(super) async fn apply(&self, bytes: &[u8]) {
        let digest: [u8; 32] = Sha256::digest(bytes).into();
        let started = std::time::Instant::now();
        if self
            .recent
            .lock()
            .is_ok_and(|recent| recent.holds(&digest, started))
        {
            return;
        }
        let now = now_ms();
        let held = match MarketUpdate::verify(bytes, now) {
            Ok(VerifiedMarketUpdate::Offer(offer)) => matches!(
                self.insert(&offer, now).await,
                Some(Inserted::New | Inserted::Known | Inserted::Withdrawn)
            ),
            Ok(VerifiedMarketUpdate::Withdrawal(w)) => match self.book.withdraw(&w, now).await {
                Ok(removed) => {
                    if removed {
                        let _ = self.events.send(MarketEvent::OfferWithdrawn {
                            id: w.withdrawal().offer_id,
                        });
                    }
                    true
                }
                Err(e) => {
                    tracing::warn!(error = %e, "storing a withdrawal failed");
                    false
                }
            },
            Err(e) => {
                tracing::debug!(error = %e, "refused a market update");
                false
            }
        };
        if held && let Ok(mut recent) = self.recent.lock() {
            recent.add(digest, started);
        }
    }

    /// Puts another maker's offer in the book and tells the shells when it is new; `None` when
    /// the book could not be written.
    async fn insert(&self, offer: &VerifiedOffer, now: i64) -> Option<Inserted> {
        match self.book.insert(offer, false, now).await {
            Ok(inserted) => {
                self.tell(offer, inserted);
                Some(inserted)
            }
            Err(e) => {
                tracing::warn!(error = %e, "storing an offer failed");
                None
            }
        }
    }

    /// Tells the shells of an offer new to the book; notes one refused for its maker's cap.
    fn tell(&self, offer: &VerifiedOffer, inserted: Inserted) {
        match inserted {
            Inserted::New => {
                let _ = self.events.send(MarketEvent::OfferAdded {
                    offer: Box::new(offer.offer().clone()),
                });
            }
            Inserted::OverQuota => {
                tracing::debug!(offer_id = %offer.id(), maker = %offer.offer().maker, "refused an offer: its maker has the most live offers a market takes");
            }
            Inserted::Known | Inserted::Withdrawn => {}
        }
    }

    /// The watched market whose gossip topic is `topic`, if any.
    pub(super) fn watched_market(&self, topic: &str) -> Option<(Asset, Quote)> {
        let watched = self.watched.read().ok()?;
        watched
            .iter()
            .copied()
            .find(|&(base, quote)| market_topic(base, quote) == topic)
    }

    /// Asks one peer for its live offers in a market and adds what is new.
    pub(super) async fn ask_peer(&self, peer: PeerId, base: Asset, quote: Quote) {
        let request = DirectRequest::Offers {
            base: base.code().into(),
            quote: quote.code().into(),
        }
        .encode();
        match self.net.request(peer, request).await {
            Ok(bytes) => {
                let added = self.take_answer(peer, base, quote, &bytes).await;
                if added > 0 {
                    tracing::debug!(%peer, added, market = %format!("{base}/{quote}"), "offers from a peer that joined the market");
                }
            }
            Err(e) => tracing::debug!(%peer, error = %e, "a peer in the market did not answer"),
        }
    }

    /// A maker's answer: only its own live offers in the market asked for count.
    async fn take_answer(&self, maker: PeerId, base: Asset, quote: Quote, bytes: &[u8]) -> usize {
        let Ok(list) = postcard::from_bytes::<Vec<Vec<u8>>>(bytes) else {
            tracing::debug!(%maker, "unreadable offer list");
            return 0;
        };
        let now = now_ms();
        let mut valid = Vec::with_capacity(list.len().min(MAX_OFFERS_PER_ANSWER));
        for item in list.iter().take(MAX_OFFERS_PER_ANSWER) {
            match SignedOffer::verify(item, now, None) {
                Ok(o)
                    if o.maker() == maker && o.offer().base == base && o.offer().quote == quote =>
                {
                    valid.push(o);
                }
                Ok(o) => {
                    tracing::debug!(%maker, offer_id = %o.id(), "answer held an offer it should not")
                }
                Err(e) => tracing::debug!(%maker, error = %e, "answer held an invalid offer"),
            }
        }
        let outcomes = match self.book.insert_many(&valid, now).await {
            Ok(outcomes) => outcomes,
            Err(e) => {
                tracing::warn!(%maker, error = %e, "storing a maker's offers failed");
                return 0;
            }
        };
        let mut added = 0;
        for (offer, outcome) in valid.iter().zip(outcomes) {
            self.tell(offer, outcome);
            added += usize::from(outcome == Inserted::New);
        }
        added
    }

    /// The answer to an offer request, and to anything no service can decode (an empty list); `None`
    /// for another service's request.
    pub(super) async fn answer(&self, data: &[u8]) -> Option<Vec<u8>> {
        let offers = match DirectRequest::decode(data) {
            Ok(DirectRequest::Offers { base, quote }) => {
                match (base.parse::<Asset>(), quote.parse::<Quote>()) {
                    (Ok(base), Ok(quote)) => {
                        let me = self.keypair.public().to_peer_id();
                        self.book
                            .live_offers_of(&me, base, quote, now_ms())
                            .await
                            .unwrap_or_default()
                    }
                    _ => Vec::new(),
                }
            }
            // Another service's request: the trade desk answers it.
            Ok(_) => return None,
            Err(_) => Vec::new(),
        };
        let list: Vec<Vec<u8>> = offers
            .iter()
            .take(MAX_OFFERS_PER_ANSWER)
            .map(SignedOffer::to_bytes)
            .collect();
        Some(postcard::to_stdvec(&list).unwrap_or_default())
    }
}

/// The digests of the updates the book took lately (at most [`Recent::CAPACITY`], none older than
/// [`Recent::WINDOW`]): a copy of one of them changes nothing in the book. The window is short so
/// that a maker's republished offer still refreshes when it was last seen.
#[derive(Debug, Default)]
pub(super) struct Recent {
    at: HashMap<[u8; 32], Instant>,
    order: VecDeque<([u8; 32], Instant)>,
}

impl Recent {
    const CAPACITY: usize = 4_096;
    const WINDOW: Duration = Duration::from_secs(60);

    fn holds(&self, digest: &[u8; 32], now: Instant) -> bool {
        self.at
            .get(digest)
            .is_some_and(|at| now.duration_since(*at) < Self::WINDOW)
    }

    fn add(&mut self, digest: [u8; 32], now: Instant) {
        while let Some(&(oldest, at)) = self.order.front() {
            if self.order.len() < Self::CAPACITY && now.duration_since(at) < Self::WINDOW {
                break;
            }
            self.order.pop_front();
            if self.at.get(&oldest) == Some(&at) {
                self.at.remove(&oldest);
            }
        }
        self.at.insert(digest, now);
        self.order.push_back((digest, now));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recent_updates_are_forgotten_by_count_and_by_age() {
        let start = Instant::now();
        let mut recent = Recent::default();
        recent.add([0; 32], start);
        assert!(recent.holds(&[0; 32], start));
        assert!(!recent.holds(&[1; 32], start));
        assert!(!recent.holds(&[0; 32], start + Recent::WINDOW));
        for i in 1..=Recent::CAPACITY {
            let mut d = [0u8; 32];
            d[..8].copy_from_slice(&(i as u64).to_le_bytes());
            recent.add(d, start);
        }
        assert!(!recent.holds(&[0; 32], start), "the oldest went first");
        assert_eq!(recent.at.len(), Recent::CAPACITY);
        assert_eq!(recent.order.len(), Recent::CAPACITY);
        // The same digest added again is kept under its new time, not dropped with its old entry.
        let mut again = Recent::default();
        again.add([7; 32], start);
        again.add([7; 32], start + Duration::from_secs(30));
        again.add([8; 32], start + Duration::from_secs(61));
        assert!(again.holds(&[7; 32], start + Duration::from_secs(61)));
    }
}
