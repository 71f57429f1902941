//! [`OfferFilter`]: the network's first check on what reaches the DHT store and the gossip mesh.
//! Keeps junk out only; the market verifies everything again before the book sees it.

use libp2p::{PeerId, kad};

use crate::{
    net::InboundFilter,
    offer::{MarketUpdate, VerifiedMarketUpdate},
    store::now_ms,
};

/// Keeps malformed or forged offers out of the DHT store and the gossip mesh.
#[derive(Debug, Default)]
pub struct OfferFilter;

impl InboundFilter for OfferFilter {
    fn check_record(
        &self,
        _from: &PeerId,
        record: &kad::Record,
    ) -> std::result::Result<(), String> {
        let key = match MarketUpdate::verify(&record.value, now_ms()) {
            Ok(VerifiedMarketUpdate::Offer(o)) => o.record_key().to_vec(),
            Ok(VerifiedMarketUpdate::Withdrawal(w)) => w.record_key().to_vec(),
            // Not an offer: it may be an arbitrator's announcement; otherwise the offer's reason.
            Err(e) => match crate::arbiter::SignedAnnouncement::verify(&record.value) {
                Ok(a) => crate::arbiter::record_key(&a.arbitrator, a.chain, a.network),
                // Or a peer's set of trade receipts, under its holder key.
                Err(_) => match crate::reputation::SignedHolderSet::verify(&record.value, now_ms())
                {
                    Ok((holder, _)) => crate::reputation::holder_key(&holder),
                    Err(_) => return Err(e.to_string()),
                },
            },
        };
        if record.key.as_ref() == key.as_slice() {
            Ok(())
        } else {
            Err("the record key does not belong to the offer it holds".into())
        }
    }

    fn check_gossip(
        &self,
        topic: &str,
        data: &[u8],
        _from: &PeerId,
    ) -> std::result::Result<(), String> {
        match MarketUpdate::verify(data, now_ms()).map_err(|e| e.to_string())? {
            VerifiedMarketUpdate::Offer(o) if o.offer().market_topic() != topic => Err(format!(
                "an offer for {} on topic {topic}",
                o.offer().market_topic()
            )),
            _ => Ok(()),
        }
    }
}
