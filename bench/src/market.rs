//! The market the benchmark trades in: makers' signed offers for one market, and the inbound filter
//! that verifies them the way a real node does before anything is forwarded.

use libp2p::{PeerId, identity::Keypair, kad};
use souk_core::{
    net::InboundFilter,
    offer::{
        Asset, EscrowKind, Fiat, MarketUpdate, NewOffer, Offer, PaymentMethod, Price, Quote, Side,
        SignedOffer, VerifiedMarketUpdate, market_topic,
    },
    store::now_ms,
};
use uuid::Uuid;

/// The one market every benchmark node subscribes to.
pub const BASE: Asset = Asset::Btc;
pub const QUOTE: Quote = Quote::Fiat(Fiat::Eur);

/// The gossip topic of [`BASE`]/[`QUOTE`].
pub fn topic() -> String {
    market_topic(BASE, QUOTE)
}

/// A fresh offer by `maker`, signed and wrapped as it travels on the market topic: its id and bytes.
pub fn signed_offer_update(maker: &Keypair) -> anyhow::Result<(Uuid, Vec<u8>)> {
    let (offer, signed) = signed_offer(maker)?;
    Ok((offer.id, MarketUpdate::Offer(signed).to_bytes()))
}

/// A fresh offer by `maker` in this market, and its signed form.
pub fn signed_offer(maker: &Keypair) -> anyhow::Result<(Offer, SignedOffer)> {
    let new = NewOffer {
        side: Side::Sell,
        base: BASE,
        quote: QUOTE,
        price: Price::Fixed("65000.50".parse()?),
        min_amount: 100_000,
        max_amount: 10_000_000,
        payment_methods: vec![PaymentMethod::new("SEPA")?],
        escrow: EscrowKind::None,
        deposit_bps: 1_000,
        maker_x25519: [7; 32],
        ttl_ms: 60 * 60 * 1000,
        terms: "Benchmark offer: SEPA instant only, reply within 15 minutes.".into(),
    };
    let offer = Offer::new(maker.public().to_peer_id(), new, now_ms())?;
    let signed = SignedOffer::sign(&offer, maker)?;
    Ok((offer, signed))
}

/// What a receiving node does before it counts an update: the full [`MarketUpdate::verify`], and the
/// check that an offer belongs to the topic it arrived on. Returns the offer id.
pub fn verify_offer_update(topic: &str, data: &[u8]) -> Result<Uuid, String> {
    match MarketUpdate::verify(data, now_ms()).map_err(|e| e.to_string())? {
        VerifiedMarketUpdate::Offer(offer) if offer.offer().market_topic() == topic => {
            Ok(offer.id())
        }
        VerifiedMarketUpdate::Offer(_) => Err("an offer of another market".into()),
        VerifiedMarketUpdate::Withdrawal(_) => Err("a withdrawal, not an offer".into()),
    }
}

/// Refuses anything that is not a valid signed offer, as a real node's filter will: every relaying
/// peer pays for the verification before forwarding, so the latency measured includes it.
#[derive(Debug, Clone, Copy, Default)]
pub struct VerifyingFilter;

impl InboundFilter for VerifyingFilter {
    fn check_record(&self, _from: &PeerId, record: &kad::Record) -> Result<(), String> {
        SignedOffer::verify(&record.value, now_ms(), Some(record.key.as_ref()))
            .map(drop)
            .map_err(|e| e.to_string())
    }

    fn check_gossip(&self, topic: &str, data: &[u8], _from: &PeerId) -> Result<(), String> {
        verify_offer_update(topic, data).map(drop)
    }
}
