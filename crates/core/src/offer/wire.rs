//! The canonical byte encodings. Part of the signed format: changing anything here breaks every
//! published offer, so it only ever changes together with the signing tags' version.
//!
//! An offer is postcard over [`WireOffer`]: the fields of [`Offer`] in declaration order, enums as
//! explicit one-byte tags (so an unknown asset is reported as such, not as noise), PeerIds as their
//! multihash bytes, the fixed price as its normalized decimal string, the X25519 key as 32 raw bytes.
//! A withdrawal is postcard over [`WireWithdrawal`]. The envelopes ([`super::SignedOffer`],
//! [`super::SignedWithdrawal`]) are three length-prefixed byte strings, exactly as postcard encodes a
//! struct of three `Vec<u8>`.
//!
//! Decoding is strict: no trailing bytes, and the decoded value must re-encode to the very same bytes,
//! so every valid offer has exactly one encoding and a signature covers exactly one meaning.

use std::str::FromStr;

use libp2p_identity::PeerId;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use uuid::Uuid;

use super::{
    Asset, EscrowKind, Fiat, Offer, OfferError, PaymentMethod, Price, Quote, Side, Withdrawal,
};

#[derive(Debug, Serialize, Deserialize)]
pub(super) struct WireOffer {
    id: [u8; 16],
    maker: Vec<u8>,
    side: u8,
    base: u8,
    quote: WireQuote,
    price: WirePrice,
    min_amount: u64,
    max_amount: u64,
    payment_methods: Vec<String>,
    escrow: WireEscrow,
    deposit_bps: u16,
    maker_x25519: [u8; 32],
    created_at: i64,
    expires_at: i64,
    terms: String,
}

#[derive(Debug, Serialize, Deserialize)]
enum WireQuote {
    Fiat(u8),
    Asset(u8),
}

#[derive(Debug, Serialize, Deserialize)]
enum WirePrice {
    Fixed(String),
    MarketRelative(i32),
}

#[derive(Debug, Serialize, Deserialize)]
enum WireEscrow {
    Multisig(Vec<Vec<u8>>),
    None,
}

#[derive(Debug, Serialize, Deserialize)]
pub(super) struct WireWithdrawal {
    offer_id: [u8; 16],
    maker: Vec<u8>,
    withdrawn_at: i64,
}

/// The one text form of a price on the wire: normalized (no trailing zeros, no `-0`).
fn price_text(price: Decimal) -> String {
    price.normalize().to_string()
}

fn to_postcard<T: Serialize>(value: &T) -> Result<Vec<u8>, OfferError> {
    postcard::to_stdvec(value).map_err(|e| OfferError::Internal(format!("encoding failed: {e}")))
}

/// Decodes exactly one `T` from all of `bytes`.
pub(super) fn from_postcard<T: DeserializeOwned>(
    bytes: &[u8],
    what: &str,
) -> Result<T, OfferError> {
    crate::codec::decode_exact(bytes, what).map_err(OfferError::Malformed)
}

fn peer_id(bytes: &[u8], what: &str) -> Result<PeerId, OfferError> {
    PeerId::from_bytes(bytes).map_err(|e| OfferError::Malformed(format!("{what}: {e}")))
}

/// The canonical bytes of an offer (not validated: see [`Offer::validate`]).
pub(super) fn encode_offer(offer: &Offer) -> Result<Vec<u8>, OfferError> {
    let wire = WireOffer {
        id: offer.id.into_bytes(),
        maker: offer.maker.to_bytes(),
        side: offer.side.tag(),
        base: offer.base.tag(),
        quote: match offer.quote {
            Quote::Fiat(f) => WireQuote::Fiat(f.tag()),
            Quote::Asset(a) => WireQuote::Asset(a.tag()),
        },
        price: match offer.price {
            Price::Fixed(p) => WirePrice::Fixed(price_text(p)),
            Price::MarketRelative { premium_bps } => WirePrice::MarketRelative(premium_bps),
        },
        min_amount: offer.min_amount,
        max_amount: offer.max_amount,
        payment_methods: offer
            .payment_methods
            .iter()
            .map(|m| m.as_str().to_owned())
            .collect(),
        escrow: match &offer.escrow {
            EscrowKind::Multisig { arbitrators } => {
                WireEscrow::Multisig(arbitrators.iter().map(|p| p.to_bytes()).collect())
            }
            EscrowKind::None => WireEscrow::None,
        },
        deposit_bps: offer.deposit_bps,
        maker_x25519: offer.maker_x25519,
        created_at: offer.created_at,
        expires_at: offer.expires_at,
        terms: offer.terms.clone(),
    };
    to_postcard(&wire)
}

/// Decodes an offer strictly: well-formed, known tags, nothing trailing, canonical. Not validated.
pub(super) fn decode_offer(bytes: &[u8]) -> Result<Offer, OfferError> {
    let wire: WireOffer = from_postcard(bytes, "offer")?;
    let offer = Offer {
        id: Uuid::from_bytes(wire.id),
        maker: peer_id(&wire.maker, "maker PeerId")?,
        side: Side::from_tag(wire.side)
            .ok_or_else(|| OfferError::Malformed(format!("unknown side tag {}", wire.side)))?,
        base: Asset::from_tag(wire.base)
            .ok_or_else(|| OfferError::UnknownAsset(format!("tag {}", wire.base)))?,
        quote: match wire.quote {
            WireQuote::Fiat(tag) => Quote::Fiat(
                Fiat::from_tag(tag)
                    .ok_or_else(|| OfferError::UnknownQuote(format!("fiat tag {tag}")))?,
            ),
            WireQuote::Asset(tag) => Quote::Asset(
                Asset::from_tag(tag)
                    .ok_or_else(|| OfferError::UnknownQuote(format!("asset tag {tag}")))?,
            ),
        },
        price: match wire.price {
            WirePrice::Fixed(text) => Price::Fixed(Decimal::from_str(&text).map_err(|e| {
                OfferError::Malformed(format!("price {text:?} is not a decimal: {e}"))
            })?),
            WirePrice::MarketRelative(premium_bps) => Price::MarketRelative { premium_bps },
        },
        min_amount: wire.min_amount,
        max_amount: wire.max_amount,
        payment_methods: wire
            .payment_methods
            .into_iter()
            .map(PaymentMethod::new)
            .collect::<Result<_, _>>()?,
        escrow: match wire.escrow {
            WireEscrow::Multisig(arbitrators) => EscrowKind::Multisig {
                arbitrators: arbitrators
                    .iter()
                    .map(|bytes| peer_id(bytes, "arbitrator PeerId"))
                    .collect::<Result<_, _>>()?,
            },
            WireEscrow::None => EscrowKind::None,
        },
        deposit_bps: wire.deposit_bps,
        maker_x25519: wire.maker_x25519,
        created_at: wire.created_at,
        expires_at: wire.expires_at,
        terms: wire.terms,
    };
    if encode_offer(&offer)? != bytes {
        return Err(OfferError::NonCanonical);
    }
    Ok(offer)
}

pub(super) fn encode_withdrawal(w: &Withdrawal) -> Result<Vec<u8>, OfferError> {
    to_postcard(&WireWithdrawal {
        offer_id: w.offer_id.into_bytes(),
        maker: w.maker.to_bytes(),
        withdrawn_at: w.withdrawn_at,
    })
}

pub(super) fn decode_withdrawal(bytes: &[u8]) -> Result<Withdrawal, OfferError> {
    let wire: WireWithdrawal = from_postcard(bytes, "withdrawal")?;
    let withdrawal = Withdrawal {
        offer_id: Uuid::from_bytes(wire.offer_id),
        maker: peer_id(&wire.maker, "maker PeerId")?,
        withdrawn_at: wire.withdrawn_at,
    };
    if encode_withdrawal(&withdrawal)? != bytes {
        return Err(OfferError::NonCanonical);
    }
    Ok(withdrawal)
}

/// Postcard's unsigned LEB128 varint, as it encodes lengths.
pub(super) use crate::codec::{encode_envelope, envelope_len};
