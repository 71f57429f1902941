//! Filling the book from the network: verified gossip and DHT updates, makers' answers to offer
//! requests, and this node's answers to others'. Everything is verified again before the book sees it.

use futures::future::join_all;
use libp2p::PeerId;

#[cfg(doc)]
use super::Market;
use super::{Inner, MarketEvent};
use crate::{
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
    /// See [`Market::refresh`].
    pub(super) async fn refresh(&self, base: Asset, quote: Quote) -> Result<usize> {
        let inner = self;
        inner.net.subscribe(&market_topic(base, quote)).await?;
        if let Ok(mut watched) = inner.watched.write() {
            watched.insert((base, quote));
        }
        let me = inner.keypair.public().to_peer_id();
        let makers = inner
            .net
            .get_providers(market_key(base, quote).to_vec())
            .await?;
        let request = DirectRequest::Offers {
            base: base.code().into(),
            quote: quote.code().into(),
        }
        .encode();
        let asks = makers.into_iter().filter(|m| *m != me).map(|maker| {
            let request = request.clone();
            async move { (maker, inner.net.request(maker, request).await) }
        });
        let mut added = 0;
        for (maker, answer) in join_all(asks).await {
            match answer {
                Ok(bytes) => added += inner.take_answer(maker, base, quote, &bytes).await,
                Err(e) => tracing::debug!(%maker, error = %e, "maker did not answer"),
            }
        }
        Ok(added)
    }

    /// Verifies an update from the network and applies it to the book; tells the shells when it changed.
    pub(super) async fn apply(&self, bytes: &[u8]) {
        let now = now_ms();
        match MarketUpdate::verify(bytes, now) {
            Ok(VerifiedMarketUpdate::Offer(offer)) => {
                self.add(&offer, now).await;
            }
            Ok(VerifiedMarketUpdate::Withdrawal(w)) => match self.book.withdraw(&w, now).await {
                Ok(true) => {
                    let _ = self.events.send(MarketEvent::OfferWithdrawn {
                        id: w.withdrawal().offer_id,
                    });
                }
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, "storing a withdrawal failed"),
            },
            Err(e) => tracing::debug!(error = %e, "refused a market update"),
        }
    }

    async fn add(&self, offer: &VerifiedOffer, now: i64) -> bool {
        match self.book.insert(offer, false, now).await {
            Ok(crate::book::Inserted::New) => {
                let _ = self.events.send(MarketEvent::OfferAdded {
                    offer: Box::new(offer.offer().clone()),
                });
                true
            }
            Ok(crate::book::Inserted::OverQuota) => {
                tracing::debug!(offer_id = %offer.id(), maker = %offer.offer().maker, "refused an offer: its maker has the most live offers a market takes");
                false
            }
            Ok(_) => false,
            Err(e) => {
                tracing::warn!(error = %e, "storing an offer failed");
                false
            }
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
        let mut added = 0;
        for item in list.iter().take(MAX_OFFERS_PER_ANSWER) {
            match SignedOffer::verify(item, now, None) {
                Ok(o)
                    if o.maker() == maker && o.offer().base == base && o.offer().quote == quote =>
                {
                    added += usize::from(self.add(&o, now).await);
                }
                Ok(o) => {
                    tracing::debug!(%maker, offer_id = %o.id(), "answer held an offer it should not")
                }
                Err(e) => tracing::debug!(%maker, error = %e, "answer held an invalid offer"),
            }
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
