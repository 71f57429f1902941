//! Offers: what a maker publishes to a market, how it is encoded, signed, verified and withdrawn.
//!
//! This module owns the [`Offer`] data model and its validation rules, the one canonical byte encoding of
//! an offer (postcard, see the `wire` submodule), the signed envelopes that travel over the network ([`SignedOffer`],
//! [`SignedWithdrawal`], [`MarketUpdate`]), the DHT record / market keys and gossip topic names, and the
//! exact conversion between typed amounts ("0.01" BTC) and base units.
//!
//! It must never trust bytes it did not verify: everything that comes from a peer goes through
//! [`SignedOffer::verify`] / [`SignedWithdrawal::verify`] / [`MarketUpdate::verify`], which check the size
//! before decoding, then the encoding (strict and canonical), the signature, the key ↔ content binding,
//! every content rule and the expiry window. It never reads the clock (callers pass `now_ms`), never does
//! I/O, never touches the network, and never represents money as a float.

mod amount;
mod signed;
mod wire;

#[cfg(test)]
mod tests;

use std::{collections::HashSet, fmt, str::FromStr};

use libp2p_identity::PeerId;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use ts_rs::TS;
use uuid::Uuid;

use crate::{error::ErrorKind, escrow::Chain};

pub use amount::{format_amount, parse_amount};
pub use signed::{
    MarketUpdate, SignedOffer, SignedWithdrawal, VerifiedMarketUpdate, VerifiedOffer,
    VerifiedWithdrawal, Withdrawal,
};

/// Largest accepted encoded [`SignedOffer`] (its postcard bytes), checked before any decoding.
pub const MAX_SIGNED_OFFER_BYTES: usize = 8 * 1024;
/// Largest accepted encoded [`SignedWithdrawal`].
pub const MAX_SIGNED_WITHDRAWAL_BYTES: usize = 1024;
/// Largest accepted encoded [`MarketUpdate`]: a one-byte variant tag plus the largest envelope.
pub const MAX_MARKET_UPDATE_BYTES: usize = MAX_SIGNED_OFFER_BYTES + 1;

/// An offer may live at most this long (`expires_at - created_at`), and expire at most this far ahead.
pub const MAX_TTL_MS: i64 = 7 * 24 * 60 * 60 * 1000;
/// How far ahead of our clock a peer's `created_at` / `withdrawn_at` may be.
pub const MAX_CLOCK_SKEW_MS: i64 = 5 * 60 * 1000;

/// Highest amount in base units: 21 million coins of 10^8 units.
pub const MAX_AMOUNT: u64 = 21_000_000 * 100_000_000;
/// Highest fixed price, in quote units per whole base coin (10^12: room for BTC priced in VND or IDR).
pub const MAX_FIXED_PRICE: Decimal = Decimal::from_parts(3_567_587_328, 232, 0, false, 0);
/// Most decimal places a fixed price may have.
pub const MAX_PRICE_DECIMALS: u32 = 8;
/// A market-relative premium lies within ±50 %.
pub const MAX_PREMIUM_BPS: i32 = 5_000;
/// The security deposit is at most 50 % of the trade amount.
pub const MAX_DEPOSIT_BPS: u16 = 5_000;
/// An offer names 1 to 8 payment methods.
pub const MAX_PAYMENT_METHODS: usize = 8;
/// A multisig escrow names 1 to 5 arbitrators.
pub const MAX_ARBITRATORS: usize = 5;
/// Terms are at most 2000 characters...
pub const MAX_TERMS_CHARS: usize = 2_000;
/// ...and at most 6000 bytes of UTF-8, so the largest valid offer always fits in [`MAX_SIGNED_OFFER_BYTES`].
pub const MAX_TERMS_BYTES: usize = 6_000;

/// Domain separation tag prefixed to the offer bytes before signing.
pub const OFFER_SIGNING_TAG: &[u8] = b"souk/offer/v1\0";
/// Domain separation tag prefixed to the withdrawal bytes before signing.
pub const WITHDRAWAL_SIGNING_TAG: &[u8] = b"souk/offer-withdrawal/v1\0";

/// Every way an offer, a withdrawal or an amount can be refused. Each rule has its own variant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OfferError {
    #[error("too large: {size} bytes, at most {max} are accepted")]
    TooLarge { size: usize, max: usize },
    #[error("malformed encoding: {0}")]
    Malformed(String),
    #[error("not in canonical encoding: re-encoding the decoded content gives different bytes")]
    NonCanonical,
    #[error("the maker key is not usable: {0}")]
    BadMakerKey(String),
    #[error("the signature does not verify against the maker key")]
    BadSignature,
    /// PeerIds as base58 text (two `PeerId`s would make every `Result` of this module large).
    #[error("signed by {signer}, but the maker named inside is {maker}")]
    MakerKeyMismatch { maker: String, signer: String },
    #[error("offer {id} does not belong under the record key it was found at")]
    RecordKeyMismatch { id: Uuid },
    #[error("expired at {expires_at} (now {now})")]
    Expired { expires_at: i64, now: i64 },
    #[error("expires at {expires_at}, too far ahead: at most {max} (7 days from now) is accepted")]
    ExpiresTooFar { expires_at: i64, max: i64 },
    #[error("created at {created_at}, in the future (now {now}, 5 minutes of clock skew allowed)")]
    CreatedInFuture { created_at: i64, now: i64 },
    #[error("expires at {expires_at}, not after its creation at {created_at}")]
    ExpiresBeforeCreation { created_at: i64, expires_at: i64 },
    #[error("lives {ttl_ms} ms; an offer may live at most {max_ms} ms (7 days)")]
    TtlTooLong { ttl_ms: i64, max_ms: i64 },
    #[error(
        "withdrawn at {withdrawn_at}, in the future (now {now}, 5 minutes of clock skew allowed)"
    )]
    WithdrawnInFuture { withdrawn_at: i64, now: i64 },
    #[error("withdrawn at {withdrawn_at}: too old to matter any more (now {now})")]
    WithdrawalStale { withdrawn_at: i64, now: i64 },
    #[error("the {which} amount is zero")]
    ZeroAmount { which: &'static str },
    #[error("the minimum amount {min} is above the maximum {max}")]
    MinAboveMax { min: u64, max: u64 },
    #[error("the amount {amount} is above the cap of {cap} base units")]
    AmountOverCap { amount: u64, cap: u64 },
    #[error("invalid amount {text:?}: {reason}")]
    InvalidAmount { text: String, reason: String },
    #[error("the price {price} is not above zero")]
    PriceNotPositive { price: Decimal },
    #[error("the price {price} has {scale} decimal places; at most {max} are allowed")]
    PriceTooPrecise {
        price: Decimal,
        scale: u32,
        max: u32,
    },
    #[error("the price {price} is above the cap of {max}")]
    PriceTooHigh { price: Decimal, max: Decimal },
    #[error("a premium of {premium_bps} basis points is outside ±{max}")]
    PremiumOutOfRange { premium_bps: i32, max: i32 },
    #[error("a security deposit of {deposit_bps} basis points is above {max}")]
    DepositOutOfRange { deposit_bps: u16, max: u16 },
    #[error(
        "the deposit of {} {asset} ({} of {} {asset}) is below the minimum of {} {asset} that pays for a release or refund at a high fee rate: raise the deposit or the amount",
        format_amount(*.deposit, *.asset),
        bps_percent(*.deposit_bps),
        format_amount(*.amount, *.asset),
        format_amount(*.minimum, *.asset)
    )]
    DepositBelowMinimum {
        asset: Asset,
        amount: u64,
        deposit_bps: u16,
        deposit: u64,
        minimum: u64,
    },
    #[error("{count} payment methods; an offer names 1 to {max}")]
    PaymentMethodCount { count: usize, max: usize },
    #[error("invalid payment method {0:?}: use 2 to 32 characters of A-Z, 0-9 and _")]
    BadPaymentMethod(String),
    #[error("payment method {0} is listed twice")]
    DuplicatePaymentMethod(String),
    #[error("{count} arbitrators; a multisig escrow names 1 to {max}")]
    ArbitratorCount { count: usize, max: usize },
    #[error("arbitrator {0} is listed twice")]
    DuplicateArbitrator(PeerId),
    #[error("the maker cannot be an arbitrator of its own offer")]
    MakerIsArbitrator,
    #[error(
        "the terms are {chars} characters ({bytes} bytes); at most {MAX_TERMS_CHARS} characters and {MAX_TERMS_BYTES} bytes are allowed"
    )]
    TermsTooLong { chars: usize, bytes: usize },
    #[error(
        "the terms contain control character U+{code:04X} at character {index}; only newlines are allowed"
    )]
    TermsControlChar { index: usize, code: u32 },
    #[error("base and quote are both {0}")]
    SameAsset(Asset),
    #[error("id {id} is not a version 7 UUID")]
    NotUuidV7 { id: Uuid },
    #[error("unknown asset {0}")]
    UnknownAsset(String),
    #[error("unknown quote currency {0}")]
    UnknownQuote(String),
    #[error("the withdrawal is for offer {withdrawal}, not {offer}")]
    WithdrawalOfferMismatch { offer: Uuid, withdrawal: Uuid },
    #[error("offer by {maker} cannot be withdrawn by {withdrawer}")]
    WithdrawalNotByMaker { maker: String, withdrawer: String },
    #[error("internal error: {0}")]
    Internal(String),
}

impl OfferError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::Internal(_) => ErrorKind::Internal,
            _ => ErrorKind::InvalidInput,
        }
    }
}

impl From<crate::signing::SigningError> for OfferError {
    fn from(e: crate::signing::SigningError) -> Self {
        match e {
            crate::signing::SigningError::BadKey(reason) => Self::BadMakerKey(reason),
            crate::signing::SigningError::BadSignature => Self::BadSignature,
            crate::signing::SigningError::Internal(reason) => {
                Self::Internal(format!("signing failed: {reason}"))
            }
        }
    }
}

impl From<OfferError> for crate::Error {
    fn from(e: OfferError) -> Self {
        match e {
            OfferError::Internal(message) => Self::Internal(message),
            other => Self::InvalidInput(other.to_string()),
        }
    }
}

/// The maker's side: `Sell` means the maker sells the base asset for the quote, `Buy` the opposite.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    Buy,
    Sell,
}

impl Side {
    fn tag(self) -> u8 {
        match self {
            Self::Buy => 0,
            Self::Sell => 1,
        }
    }

    fn from_tag(tag: u8) -> Option<Self> {
        match tag {
            0 => Some(Self::Buy),
            1 => Some(Self::Sell),
            _ => None,
        }
    }
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Buy => "buy",
            Self::Sell => "sell",
        })
    }
}

/// Declares a closed list of codes with stable wire tags. Tags are part of the signed encoding:
/// append new entries with new tags, never renumber or reuse one.
macro_rules! coded_enum {
    ($(#[$meta:meta])* $name:ident, $unknown:ident { $($variant:ident = $tag:literal, $code:literal;)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, TS)]
        #[non_exhaustive]
        pub enum $name {
            $(#[doc = $code] #[serde(rename = $code)] $variant,)*
        }

        /// Written out: the derive does not see the codes through the macro.
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .enum_values(Some([$($code),*]))
                    .into()
            }
        }

        impl utoipa::ToSchema for $name {}

        impl $name {
            /// Every known value, in tag order.
            pub const ALL: &'static [Self] = &[$(Self::$variant),*];

            /// The upper-case code, as used in market keys and topics.
            pub fn code(self) -> &'static str {
                match self {
                    $(Self::$variant => $code,)*
                }
            }

            fn tag(self) -> u8 {
                match self {
                    $(Self::$variant => $tag,)*
                }
            }

            fn from_tag(tag: u8) -> Option<Self> {
                match tag {
                    $($tag => Some(Self::$variant),)*
                    _ => None,
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.code())
            }
        }

        /// Case-insensitive: `"btc"` and `"BTC"` are the same.
        impl FromStr for $name {
            type Err = OfferError;
            fn from_str(s: &str) -> Result<Self, OfferError> {
                let upper = s.trim().to_ascii_uppercase();
                Self::ALL
                    .iter()
                    .copied()
                    .find(|v| v.code() == upper)
                    .ok_or_else(|| OfferError::$unknown(s.to_owned()))
            }
        }
    };
}

coded_enum! {
    /// A base asset Souk can escrow and settle on chain.
    Asset, UnknownAsset {
        Btc = 0, "BTC";
        Ltc = 1, "LTC";
    }
}

impl Asset {
    /// Decimal places of one whole coin: amounts are integers of `10^-decimals` coins.
    pub fn decimals(self) -> u32 {
        match self {
            Self::Btc | Self::Ltc => 8,
        }
    }

    /// Same as [`Asset::code`].
    pub fn ticker(self) -> &'static str {
        self.code()
    }

    /// The chain this asset's escrows live on.
    pub fn chain(self) -> Chain {
        match self {
            Self::Btc => Chain::Btc,
            Self::Ltc => Chain::Ltc,
        }
    }
}

coded_enum! {
    /// A fiat currency, by ISO-4217 code.
    Fiat, UnknownQuote {
        Eur = 0, "EUR";
        Usd = 1, "USD";
        Gbp = 2, "GBP";
        Chf = 3, "CHF";
        Jpy = 4, "JPY";
        Cad = 5, "CAD";
        Aud = 6, "AUD";
        Brl = 7, "BRL";
        Ars = 8, "ARS";
        Ngn = 9, "NGN";
        Kes = 10, "KES";
        Inr = 11, "INR";
        Cny = 12, "CNY";
        Mxn = 13, "MXN";
        Zar = 14, "ZAR";
        Try = 15, "TRY";
        Sek = 16, "SEK";
        Nok = 17, "NOK";
        Dkk = 18, "DKK";
        Pln = 19, "PLN";
        Czk = 20, "CZK";
        Nzd = 21, "NZD";
        Sgd = 22, "SGD";
        Hkd = 23, "HKD";
        Krw = 24, "KRW";
        Idr = 25, "IDR";
        Php = 26, "PHP";
        Vnd = 27, "VND";
        Aed = 28, "AED";
        Uah = 29, "UAH";
    }
}

/// What the base asset is priced in and paid with: a fiat currency or another asset. Serialised (JSON)
/// as its bare code, e.g. `"EUR"` or `"LTC"`; fiat and asset codes never collide.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS, utoipa::ToSchema)]
#[serde(untagged)]
pub enum Quote {
    Fiat(Fiat),
    Asset(Asset),
}

impl Quote {
    pub fn code(self) -> &'static str {
        match self {
            Self::Fiat(f) => f.code(),
            Self::Asset(a) => a.code(),
        }
    }
}

impl fmt::Display for Quote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Quote {
    type Err = OfferError;
    fn from_str(s: &str) -> Result<Self, OfferError> {
        if let Ok(fiat) = s.parse::<Fiat>() {
            return Ok(Self::Fiat(fiat));
        }
        s.parse::<Asset>()
            .map(Self::Asset)
            .map_err(|_| OfferError::UnknownQuote(s.to_owned()))
    }
}

/// The price of one whole base coin in the quote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Price {
    /// A fixed number of quote units per base coin, e.g. `65000.5` EUR per BTC.
    Fixed(#[ts(type = "string")] Decimal),
    /// The market rate at take time plus a premium (negative: a discount), in basis points.
    MarketRelative { premium_bps: i32 },
}

/// How the trade's coins are secured.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, TS, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EscrowKind {
    /// A 2-of-3 multisig between maker, taker and one of these arbitrators the maker accepts.
    Multisig {
        #[serde(with = "text::peer_ids")]
        #[ts(type = "Array<string>")]
        #[schema(value_type = Vec<String>)]
        arbitrators: Vec<PeerId>,
    },
    /// No escrow: the parties trust each other.
    None,
}

/// A payment method id such as `SEPA` or `CASH_IN_PERSON`: 2 to 32 characters of `A-Z`, `0-9`, `_`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, TS, utoipa::ToSchema)]
#[ts(type = "string")]
#[schema(value_type = String)]
pub struct PaymentMethod(String);

impl Serialize for PaymentMethod {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

/// Validates while deserialising: a `PaymentMethod` is always well-formed.
impl<'de> Deserialize<'de> for PaymentMethod {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Self::new(String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

impl PaymentMethod {
    pub fn new(id: impl Into<String>) -> Result<Self, OfferError> {
        let id = id.into();
        let valid = (2..=32).contains(&id.len())
            && id
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
        if valid {
            Ok(Self(id))
        } else {
            Err(OfferError::BadPaymentMethod(id))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for PaymentMethod {
    type Error = OfferError;
    fn try_from(id: String) -> Result<Self, OfferError> {
        Self::new(id)
    }
}

impl From<PaymentMethod> for String {
    fn from(m: PaymentMethod) -> Self {
        m.0
    }
}

impl fmt::Display for PaymentMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for PaymentMethod {
    type Err = OfferError;
    fn from_str(s: &str) -> Result<Self, OfferError> {
        Self::new(s)
    }
}

/// An offer as the maker publishes it. Amounts are base units of `base` (sats, litoshis); timestamps are
/// unix milliseconds. A value of this type is only known to be valid once [`Offer::validate`] passed or
/// it came out of [`SignedOffer::verify`] (as a [`VerifiedOffer`]).
///
/// The JSON form (for the UI) uses strings for the id, PeerIds, the price and the X25519 key (hex); the
/// signed form is the canonical postcard encoding of the `wire` submodule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, utoipa::ToSchema)]
pub struct Offer {
    #[ts(type = "string")]
    #[schema(value_type = String)]
    pub id: Uuid,
    #[serde(with = "text::peer_id")]
    #[ts(type = "string")]
    #[schema(value_type = String)]
    pub maker: PeerId,
    pub side: Side,
    pub base: Asset,
    pub quote: Quote,
    pub price: Price,
    pub min_amount: u64,
    pub max_amount: u64,
    pub payment_methods: Vec<PaymentMethod>,
    pub escrow: EscrowKind,
    /// Security deposit each party locks, in basis points of the trade amount.
    pub deposit_bps: u16,
    /// The maker's X25519 public key: take requests are sealed to it.
    #[serde(with = "text::hex32")]
    #[ts(type = "string")]
    #[schema(value_type = String)]
    pub maker_x25519: [u8; 32],
    pub created_at: i64,
    pub expires_at: i64,
    pub terms: String,
}

/// Where an offer stands in a node's book.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, utoipa::ToSchema)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum OfferState {
    Live,
    Expired,
    Withdrawn { at: i64 },
}

/// What a maker chooses for a new offer; [`Offer::new`] adds the id, the maker and the timestamps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, utoipa::ToSchema)]
pub struct NewOffer {
    pub side: Side,
    pub base: Asset,
    pub quote: Quote,
    pub price: Price,
    pub min_amount: u64,
    pub max_amount: u64,
    pub payment_methods: Vec<PaymentMethod>,
    pub escrow: EscrowKind,
    pub deposit_bps: u16,
    /// The maker's channel key: the node puts its own in when it signs (any value given is replaced,
    /// so a request may leave it out).
    #[serde(default, with = "text::hex32")]
    #[ts(type = "string")]
    #[schema(value_type = String)]
    pub maker_x25519: [u8; 32],
    /// How long the offer stays up, in milliseconds: at most [`MAX_TTL_MS`].
    pub ttl_ms: i64,
    pub terms: String,
}

impl Offer {
    /// A new valid offer with a fresh UUID v7 id, created at `now_ms`.
    pub fn new(maker: PeerId, new: NewOffer, now_ms: i64) -> Result<Self, OfferError> {
        let mut random = [0u8; 10];
        getrandom::fill(&mut random)
            .map_err(|e| OfferError::Internal(format!("no randomness for the offer id: {e}")))?;
        // A clock before 1970 is not worth an error of its own: the time checks refuse such offers anyway.
        let millis = u64::try_from(now_ms).unwrap_or(0);
        let id = uuid::Builder::from_unix_timestamp_millis(millis, &random).into_uuid();
        Self::with_id(id, maker, new, now_ms)
    }

    fn with_id(id: Uuid, maker: PeerId, new: NewOffer, now_ms: i64) -> Result<Self, OfferError> {
        let expires_at = now_ms
            .checked_add(new.ttl_ms)
            .ok_or(OfferError::TtlTooLong {
                ttl_ms: new.ttl_ms,
                max_ms: MAX_TTL_MS,
            })?;
        let offer = Self {
            id,
            maker,
            side: new.side,
            base: new.base,
            quote: new.quote,
            price: new.price,
            min_amount: new.min_amount,
            max_amount: new.max_amount,
            payment_methods: new.payment_methods,
            escrow: new.escrow,
            deposit_bps: new.deposit_bps,
            maker_x25519: new.maker_x25519,
            created_at: now_ms,
            expires_at,
            terms: new.terms,
        };
        offer.validate()?;
        Ok(offer)
    }

    /// Every rule that does not depend on the clock. [`SignedOffer::sign`] and verification run it.
    pub fn validate(&self) -> Result<(), OfferError> {
        if self.id.get_version_num() != 7 || self.id.get_variant() != uuid::Variant::RFC4122 {
            return Err(OfferError::NotUuidV7 { id: self.id });
        }
        if self.quote == Quote::Asset(self.base) {
            return Err(OfferError::SameAsset(self.base));
        }
        self.validate_amounts()?;
        self.validate_price()?;
        if self.deposit_bps > MAX_DEPOSIT_BPS {
            return Err(OfferError::DepositOutOfRange {
                deposit_bps: self.deposit_bps,
                max: MAX_DEPOSIT_BPS,
            });
        }
        self.validate_payment_methods()?;
        self.validate_escrow()?;
        // Every amount of the range must afford the minimum; the deposit grows with the amount.
        self.check_deposit(self.min_amount)?;
        validate_terms(&self.terms)?;
        if self.expires_at <= self.created_at {
            return Err(OfferError::ExpiresBeforeCreation {
                created_at: self.created_at,
                expires_at: self.expires_at,
            });
        }
        let ttl_ms = self.expires_at.saturating_sub(self.created_at);
        if ttl_ms > MAX_TTL_MS {
            return Err(OfferError::TtlTooLong {
                ttl_ms,
                max_ms: MAX_TTL_MS,
            });
        }
        Ok(())
    }

    /// The rules that depend on the clock: live now, not expiring too far ahead, not created in the future.
    pub fn check_time(&self, now_ms: i64) -> Result<(), OfferError> {
        if self.expires_at <= now_ms {
            return Err(OfferError::Expired {
                expires_at: self.expires_at,
                now: now_ms,
            });
        }
        let max = now_ms.saturating_add(MAX_TTL_MS);
        if self.expires_at > max {
            return Err(OfferError::ExpiresTooFar {
                expires_at: self.expires_at,
                max,
            });
        }
        if self.created_at > now_ms.saturating_add(MAX_CLOCK_SKEW_MS) {
            return Err(OfferError::CreatedInFuture {
                created_at: self.created_at,
                now: now_ms,
            });
        }
        Ok(())
    }

    fn validate_amounts(&self) -> Result<(), OfferError> {
        if self.min_amount == 0 {
            return Err(OfferError::ZeroAmount { which: "minimum" });
        }
        if self.max_amount == 0 {
            return Err(OfferError::ZeroAmount { which: "maximum" });
        }
        if self.max_amount > MAX_AMOUNT {
            return Err(OfferError::AmountOverCap {
                amount: self.max_amount,
                cap: MAX_AMOUNT,
            });
        }
        if self.min_amount > self.max_amount {
            return Err(OfferError::MinAboveMax {
                min: self.min_amount,
                max: self.max_amount,
            });
        }
        Ok(())
    }

    fn validate_price(&self) -> Result<(), OfferError> {
        match self.price {
            Price::Fixed(price) => {
                if price <= Decimal::ZERO {
                    return Err(OfferError::PriceNotPositive { price });
                }
                let scale = price.normalize().scale();
                if scale > MAX_PRICE_DECIMALS {
                    return Err(OfferError::PriceTooPrecise {
                        price,
                        scale,
                        max: MAX_PRICE_DECIMALS,
                    });
                }
                if price > MAX_FIXED_PRICE {
                    return Err(OfferError::PriceTooHigh {
                        price,
                        max: MAX_FIXED_PRICE,
                    });
                }
            }
            Price::MarketRelative { premium_bps } => {
                if !(-MAX_PREMIUM_BPS..=MAX_PREMIUM_BPS).contains(&premium_bps) {
                    return Err(OfferError::PremiumOutOfRange {
                        premium_bps,
                        max: MAX_PREMIUM_BPS,
                    });
                }
            }
        }
        Ok(())
    }

    fn validate_payment_methods(&self) -> Result<(), OfferError> {
        let count = self.payment_methods.len();
        if !(1..=MAX_PAYMENT_METHODS).contains(&count) {
            return Err(OfferError::PaymentMethodCount {
                count,
                max: MAX_PAYMENT_METHODS,
            });
        }
        let mut seen = HashSet::new();
        for method in &self.payment_methods {
            // Re-checked: the field is public, so a method may have been built around the constructor.
            PaymentMethod::new(method.as_str())?;
            if !seen.insert(method.as_str()) {
                return Err(OfferError::DuplicatePaymentMethod(method.0.clone()));
            }
        }
        Ok(())
    }

    fn validate_escrow(&self) -> Result<(), OfferError> {
        let EscrowKind::Multisig { arbitrators } = &self.escrow else {
            return Ok(());
        };
        let count = arbitrators.len();
        if !(1..=MAX_ARBITRATORS).contains(&count) {
            return Err(OfferError::ArbitratorCount {
                count,
                max: MAX_ARBITRATORS,
            });
        }
        let mut seen = HashSet::new();
        for arbitrator in arbitrators {
            if *arbitrator == self.maker {
                return Err(OfferError::MakerIsArbitrator);
            }
            if !seen.insert(arbitrator) {
                return Err(OfferError::DuplicateArbitrator(*arbitrator));
            }
        }
        Ok(())
    }

    /// The security deposit each party locks for a trade of `amount` (base units, rounded down).
    pub fn deposit_for(&self, amount: u64) -> u64 {
        amount.saturating_mul(u64::from(self.deposit_bps)) / 10_000
    }

    /// Escrow offers: refuses an `amount` whose deposit could not pay for a release or refund at a high
    /// fee rate ([`crate::escrow::min_deposit`]). Offers without escrow lock no deposit on chain.
    pub fn check_deposit(&self, amount: u64) -> Result<(), OfferError> {
        if matches!(self.escrow, EscrowKind::None) {
            return Ok(());
        }
        let deposit = self.deposit_for(amount);
        let minimum = crate::escrow::min_deposit(self.base.chain()).to_sat();
        if deposit < minimum {
            return Err(OfferError::DepositBelowMinimum {
                asset: self.base,
                amount,
                deposit_bps: self.deposit_bps,
                deposit,
                minimum,
            });
        }
        Ok(())
    }

    /// The DHT record key this offer is stored under.
    pub fn record_key(&self) -> [u8; 32] {
        record_key(&self.id)
    }

    /// The DHT provider key of this offer's market.
    pub fn market_key(&self) -> [u8; 32] {
        market_key(self.base, self.quote)
    }

    /// The gossipsub topic of this offer's market.
    pub fn market_topic(&self) -> String {
        market_topic(self.base, self.quote)
    }
}

/// Basis points as a percentage for messages: `150` → `"1.5 %"`.
fn bps_percent(bps: u16) -> String {
    format!(
        "{} %",
        (Decimal::from(bps) / Decimal::from(100)).normalize()
    )
}

fn validate_terms(terms: &str) -> Result<(), OfferError> {
    let chars = terms.chars().count();
    if chars > MAX_TERMS_CHARS || terms.len() > MAX_TERMS_BYTES {
        return Err(OfferError::TermsTooLong {
            chars,
            bytes: terms.len(),
        });
    }
    if let Some((index, c)) = terms.chars().enumerate().find(|(_, c)| is_forbidden(*c)) {
        return Err(OfferError::TermsControlChar {
            index,
            code: u32::from(c),
        });
    }
    Ok(())
}

/// Control characters other than `\n`, and the bidirectional controls that can make text read
/// differently from what it says.
fn is_forbidden(c: char) -> bool {
    (c.is_control() && c != '\n')
        || matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// `sha256("souk/market/" + BASE + "/" + QUOTE)`, e.g. for `souk/market/BTC/EUR`: the DHT provider key
/// under which makers announce they have offers in this market.
pub fn market_key(base: Asset, quote: Quote) -> [u8; 32] {
    Sha256::digest(format!("souk/market/{}/{}", base.code(), quote.code())).into()
}

/// `sha256("souk/offer/" + id)`, the id as its lower-case hyphenated UUID string: the DHT record key of
/// an offer (and of its withdrawal).
pub fn record_key(id: &Uuid) -> [u8; 32] {
    Sha256::digest(format!("souk/offer/{}", id.as_hyphenated())).into()
}

/// The gossipsub topic of a market: `souk/market/BASE/QUOTE/v1`.
pub fn market_topic(base: Asset, quote: Quote) -> String {
    format!("souk/market/{}/{}/v1", base.code(), quote.code())
}

/// Text forms of binary fields for the JSON (UI) serialisation.
mod text {
    pub mod peer_id {
        use libp2p_identity::PeerId;
        use serde::{Deserialize, Deserializer, Serializer, de::Error};

        pub fn serialize<S: Serializer>(peer: &PeerId, s: S) -> Result<S::Ok, S::Error> {
            s.collect_str(peer)
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<PeerId, D::Error> {
            String::deserialize(d)?.parse().map_err(D::Error::custom)
        }
    }

    pub mod peer_ids {
        use libp2p_identity::PeerId;
        use serde::{Deserialize, Deserializer, Serializer, de::Error};

        pub fn serialize<S: Serializer>(peers: &[PeerId], s: S) -> Result<S::Ok, S::Error> {
            s.collect_seq(peers.iter().map(|p| p.to_base58()))
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<PeerId>, D::Error> {
            Vec::<String>::deserialize(d)?
                .iter()
                .map(|s| s.parse().map_err(D::Error::custom))
                .collect()
        }
    }

    pub mod hex32 {
        use serde::{Deserialize, Deserializer, Serializer, de::Error};

        pub fn serialize<S: Serializer>(bytes: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
            s.collect_str(&bytes.iter().map(|b| format!("{b:02x}")).collect::<String>())
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
            let text = String::deserialize(d)?;
            let bad = || D::Error::custom("expected 64 hexadecimal digits");
            if text.len() != 64 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(bad());
            }
            let mut out = [0u8; 32];
            for (i, byte) in out.iter_mut().enumerate() {
                *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
            }
            Ok(out)
        }
    }
}
