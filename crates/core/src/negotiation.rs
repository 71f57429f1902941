//! The negotiation between a taker and a maker, from the take request to an agreed (or refused) trade.
//!
//! Four signed messages travel between the two parties: [`MessageBody::TakeRequest`] (taker),
//! [`MessageBody::Counter`] (maker), [`MessageBody::Accept`] and [`MessageBody::Reject`]. Each is the
//! canonical postcard encoding of a [`NegotiationMessage`], signed over
//! [`NEGOTIATION_SIGNING_TAG`]` || message_bytes`, and decoded strictly (size first, then exact postcard,
//! then re-encoding must give the same bytes).
//!
//! Who may send what, and when, is the table [`TRANSITIONS`]; [`Negotiation`] applies it and checks every
//! message against the offer. Once agreed, [`record_agreed_trade`] stores the trade and its signed
//! transcript in one transaction. This module never reads the clock (callers pass `now_ms`) and never
//! touches the network.

use std::{fmt, str::FromStr, sync::LazyLock};

use libp2p::{PeerId, identity::Keypair};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::SqlitePool;
use uuid::Uuid;

use crate::{
    book::OfferState,
    error::ErrorKind,
    offer::{Offer, OfferError, PaymentMethod, Price},
    protocol::{roles::TradeRole, state::TradeState},
    signing::SigningError,
    store::StoreError,
};

/// Domain separation tag prefixed to the message bytes before signing.
pub const NEGOTIATION_SIGNING_TAG: &[u8] = b"souk/negotiation/v1\0";
/// Largest accepted encoded [`SignedNegotiationMessage`], checked before any decoding.
pub const MAX_SIGNED_NEGOTIATION_BYTES: usize = 4 * 1024;
/// Opaque payout details are at most this many characters.
pub const MAX_PAYOUT_CHARS: usize = 256;
/// A rejection reason is at most this many characters.
pub const MAX_REASON_CHARS: usize = 500;
/// Open takes of an offer: its trades not closed ([`TradeState::is_open`]).
static COUNT_OPEN_TAKES_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT COUNT(*) FROM trades WHERE offer_id = ? AND state NOT IN {}",
        TradeState::closed_sql()
    )
});

/// Every way a negotiation message or step can be refused. Each rule has its own variant.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NegotiationError {
    #[error("too large: {size} bytes, at most {max} are accepted")]
    TooLarge { size: usize, max: usize },
    #[error("malformed encoding: {0}")]
    Malformed(String),
    #[error("not in canonical encoding: re-encoding the decoded content gives different bytes")]
    NonCanonical,
    #[error("the signer key is not usable: {0}")]
    BadKey(String),
    #[error("the signature does not verify")]
    BadSignature,
    #[error("signed by {signer}, but the sender named inside is {sender}")]
    SignerMismatch { sender: String, signer: String },
    #[error("the payout details are {chars} characters; at most {MAX_PAYOUT_CHARS} are allowed")]
    PayoutTooLong { chars: usize },
    #[error("the reason is {chars} characters; at most {MAX_REASON_CHARS} are allowed")]
    ReasonTooLong { chars: usize },
    #[error("a counter must change the amount, the price or both")]
    EmptyCounter,
    #[error("the price {price} is not above zero")]
    PriceNotPositive { price: Decimal },
    #[error("the amount {amount} is outside the offer's range {min}..={max}")]
    AmountOutOfRange { amount: u64, min: u64, max: u64 },
    /// The agreed amount's deposit could not pay for a release or refund
    /// ([`OfferError::DepositBelowMinimum`]).
    #[error(transparent)]
    DepositBelowMinimum(OfferError),
    #[error("payment method {0} is not offered")]
    MethodNotOffered(String),
    #[error("the offer expired at {expires_at} (now {now})")]
    OfferExpired { expires_at: i64, now: i64 },
    #[error("the offer was withdrawn at {at}")]
    OfferWithdrawn { at: i64 },
    #[error("the message is about offer {got}, not {expected}")]
    WrongOffer { expected: Uuid, got: Uuid },
    #[error("the message is about trade {got}, not {expected}")]
    WrongTrade { expected: Uuid, got: Uuid },
    #[error("step {got} out of order: step {expected} was expected")]
    BadStep { expected: u32, got: u32 },
    #[error("{sender} is neither the maker nor the taker of this trade")]
    NotAParty { sender: String },
    #[error("the {party} never sends {kind}")]
    WrongParty { party: TradeRole, kind: MessageKind },
    #[error("not the {party}'s turn: the negotiation is {state}, waiting for the {expected}")]
    NotYourTurn {
        party: TradeRole,
        state: NegotiationState,
        expected: TradeRole,
    },
    #[error("{kind} is not a valid answer while the negotiation is {state}")]
    UnexpectedMessage {
        state: NegotiationState,
        kind: MessageKind,
    },
    #[error("the negotiation is already finished ({state})")]
    AlreadyFinished { state: NegotiationState },
    #[error("the negotiation is {state}, not agreed: nothing to record")]
    NotAgreed { state: NegotiationState },
    #[error("{open} takes of this offer are open already; the maker allows at most {cap}")]
    TooManyTakes { open: u32, cap: u32 },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("internal error: {0}")]
    Internal(String),
}

impl NegotiationError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::Internal(_) => ErrorKind::Internal,
            Self::Store(e) => e.kind(),
            _ => ErrorKind::InvalidInput,
        }
    }
}

impl From<sqlx::Error> for NegotiationError {
    fn from(e: sqlx::Error) -> Self {
        Self::Store(StoreError::Sql(e))
    }
}

impl From<SigningError> for NegotiationError {
    fn from(e: SigningError) -> Self {
        match e {
            SigningError::BadKey(reason) => Self::BadKey(reason),
            SigningError::BadSignature => Self::BadSignature,
            SigningError::Internal(reason) => Self::Internal(format!("signing failed: {reason}")),
        }
    }
}

impl From<NegotiationError> for crate::Error {
    fn from(e: NegotiationError) -> Self {
        match e {
            NegotiationError::Internal(message) => Self::Internal(message),
            NegotiationError::Store(e) => Self::Store(e),
            other => Self::InvalidInput(other.to_string()),
        }
    }
}

/// Which of the four messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageKind {
    TakeRequest,
    Counter,
    Accept,
    Reject,
}

impl MessageKind {
    /// The `trade_events.kind` text.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TakeRequest => "take_request",
            Self::Counter => "counter",
            Self::Accept => "accept",
            Self::Reject => "reject",
        }
    }
}

impl fmt::Display for MessageKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a negotiation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NegotiationState {
    Requested,
    Countered,
    Accepted,
    Rejected,
}

impl NegotiationState {
    /// No message may follow: no transition leaves this state.
    pub fn is_final(self) -> bool {
        !TRANSITIONS.iter().any(|t| t.from == Some(self))
    }
}

impl fmt::Display for NegotiationState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Requested => "requested",
            Self::Countered => "countered",
            Self::Accepted => "accepted",
            Self::Rejected => "rejected",
        })
    }
}

/// One allowed step: in state `from` (`None`: before anything), `party` may send `kind`, which leads to `to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    pub from: Option<NegotiationState>,
    pub party: TradeRole,
    pub kind: MessageKind,
    pub to: NegotiationState,
}

const fn t(
    from: Option<NegotiationState>,
    party: TradeRole,
    kind: MessageKind,
    to: NegotiationState,
) -> Transition {
    Transition {
        from,
        party,
        kind,
        to,
    }
}

/// The whole protocol: anything not listed here is refused.
pub const TRANSITIONS: &[Transition] = {
    use MessageKind as K;
    use NegotiationState as S;
    use TradeRole as P;
    &[
        t(None, P::Taker, K::TakeRequest, S::Requested),
        t(Some(S::Requested), P::Maker, K::Accept, S::Accepted),
        t(Some(S::Requested), P::Maker, K::Reject, S::Rejected),
        t(Some(S::Requested), P::Maker, K::Counter, S::Countered),
        t(Some(S::Countered), P::Taker, K::Accept, S::Accepted),
        t(Some(S::Countered), P::Taker, K::Reject, S::Rejected),
    ]
};

/// Looks `(from, party, kind)` up in [`TRANSITIONS`]; the error says why it is not there.
fn transition(
    from: Option<NegotiationState>,
    party: TradeRole,
    kind: MessageKind,
) -> Result<NegotiationState, NegotiationError> {
    if let Some(state) = from
        && state.is_final()
    {
        return Err(NegotiationError::AlreadyFinished { state });
    }
    if !TRANSITIONS
        .iter()
        .any(|t| t.party == party && t.kind == kind)
    {
        return Err(NegotiationError::WrongParty { party, kind });
    }
    if let Some(found) = TRANSITIONS
        .iter()
        .find(|t| t.from == from && t.party == party && t.kind == kind)
    {
        return Ok(found.to);
    }
    let state = from.unwrap_or(NegotiationState::Requested);
    match TRANSITIONS.iter().find(|t| t.from == from) {
        Some(expected) if expected.party != party => Err(NegotiationError::NotYourTurn {
            party,
            state,
            expected: expected.party,
        }),
        _ => Err(NegotiationError::UnexpectedMessage { state, kind }),
    }
}

/// What a message says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageBody {
    /// The taker asks for `amount` base units, paid with `method`; `payout` is opaque payout details.
    TakeRequest {
        amount: u64,
        method: PaymentMethod,
        payout: String,
    },
    /// The maker proposes another amount and/or a fixed price (at least one).
    Counter {
        amount: Option<u64>,
        price: Option<Decimal>,
    },
    Accept,
    Reject {
        reason: String,
    },
}

impl MessageBody {
    pub fn kind(&self) -> MessageKind {
        match self {
            Self::TakeRequest { .. } => MessageKind::TakeRequest,
            Self::Counter { .. } => MessageKind::Counter,
            Self::Accept => MessageKind::Accept,
            Self::Reject { .. } => MessageKind::Reject,
        }
    }
}

/// One negotiation message. `step` numbers the messages of a trade from 0 (the take request).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NegotiationMessage {
    pub trade_id: Uuid,
    pub offer_id: Uuid,
    pub sender: PeerId,
    pub step: u32,
    pub body: MessageBody,
}

impl NegotiationMessage {
    /// The content rules that need nothing but the message.
    pub fn validate(&self) -> Result<(), NegotiationError> {
        match &self.body {
            MessageBody::TakeRequest { payout, .. } => {
                let chars = payout.chars().count();
                if chars > MAX_PAYOUT_CHARS {
                    return Err(NegotiationError::PayoutTooLong { chars });
                }
            }
            MessageBody::Counter { amount, price } => {
                if amount.is_none() && price.is_none() {
                    return Err(NegotiationError::EmptyCounter);
                }
                if let Some(price) = *price
                    && price <= Decimal::ZERO
                {
                    return Err(NegotiationError::PriceNotPositive { price });
                }
            }
            MessageBody::Accept => {}
            MessageBody::Reject { reason } => {
                let chars = reason.chars().count();
                if chars > MAX_REASON_CHARS {
                    return Err(NegotiationError::ReasonTooLong { chars });
                }
            }
        }
        Ok(())
    }

    fn to_wire(&self) -> WireMessage {
        WireMessage {
            trade_id: *self.trade_id.as_bytes(),
            offer_id: *self.offer_id.as_bytes(),
            sender: self.sender.to_bytes(),
            step: self.step,
            body: match &self.body {
                MessageBody::TakeRequest {
                    amount,
                    method,
                    payout,
                } => WireBody::TakeRequest {
                    amount: *amount,
                    method: method.as_str().to_owned(),
                    payout: payout.clone(),
                },
                MessageBody::Counter { amount, price } => WireBody::Counter {
                    amount: *amount,
                    price: price.map(|p| p.normalize().to_string()),
                },
                MessageBody::Accept => WireBody::Accept,
                MessageBody::Reject { reason } => WireBody::Reject {
                    reason: reason.clone(),
                },
            },
        }
    }

    /// The canonical bytes (not validated: see [`NegotiationMessage::validate`]).
    pub fn encode(&self) -> Result<Vec<u8>, NegotiationError> {
        postcard::to_stdvec(&self.to_wire())
            .map_err(|e| NegotiationError::Internal(format!("encoding failed: {e}")))
    }

    /// Strict decoding: all bytes used, and re-encoding gives the same bytes.
    pub fn decode(bytes: &[u8]) -> Result<Self, NegotiationError> {
        let wire: WireMessage = from_postcard(bytes, "negotiation message")?;
        let malformed = |what: &str, e: &dyn fmt::Display| {
            NegotiationError::Malformed(format!("negotiation message: {what}: {e}"))
        };
        let body = match wire.body {
            WireBody::TakeRequest {
                amount,
                method,
                payout,
            } => MessageBody::TakeRequest {
                amount,
                method: PaymentMethod::new(method).map_err(|e| malformed("method", &e))?,
                payout,
            },
            WireBody::Counter { amount, price } => MessageBody::Counter {
                amount,
                price: price
                    .map(|p| Decimal::from_str(&p))
                    .transpose()
                    .map_err(|e| malformed("price", &e))?,
            },
            WireBody::Accept => MessageBody::Accept,
            WireBody::Reject { reason } => MessageBody::Reject { reason },
        };
        let message = Self {
            trade_id: Uuid::from_bytes(wire.trade_id),
            offer_id: Uuid::from_bytes(wire.offer_id),
            sender: PeerId::from_bytes(&wire.sender).map_err(|e| malformed("sender", &e))?,
            step: wire.step,
            body,
        };
        if message.encode()? != bytes {
            return Err(NegotiationError::NonCanonical);
        }
        Ok(message)
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct WireMessage {
    trade_id: [u8; 16],
    offer_id: [u8; 16],
    sender: Vec<u8>,
    step: u32,
    body: WireBody,
}

/// Variant tags are part of the signed encoding: append, never reorder.
#[derive(Debug, Serialize, Deserialize)]
enum WireBody {
    TakeRequest {
        amount: u64,
        method: String,
        payout: String,
    },
    Counter {
        amount: Option<u64>,
        price: Option<String>,
    },
    Accept,
    Reject {
        reason: String,
    },
}

fn from_postcard<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
    what: &str,
) -> Result<T, NegotiationError> {
    crate::codec::decode_exact(bytes, what).map_err(NegotiationError::Malformed)
}

fn check_size(size: usize) -> Result<(), NegotiationError> {
    if size > MAX_SIGNED_NEGOTIATION_BYTES {
        Err(NegotiationError::TooLarge {
            size,
            max: MAX_SIGNED_NEGOTIATION_BYTES,
        })
    } else {
        Ok(())
    }
}

/// A message as it travels and is stored: its canonical bytes, the sender's protobuf-encoded public
/// key, and the ed25519 signature over `NEGOTIATION_SIGNING_TAG || message_bytes`. Unverified.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedNegotiationMessage {
    pub message_bytes: Vec<u8>,
    pub signer_key: Vec<u8>,
    pub signature: Vec<u8>,
}

/// A message that passed [`SignedNegotiationMessage::verify`]: well-formed and signed by its sender.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedNegotiationMessage {
    message: NegotiationMessage,
    signed: SignedNegotiationMessage,
}

impl SignedNegotiationMessage {
    /// Validates `message`, checks `keypair` is its sender's, and signs it.
    pub fn sign(message: &NegotiationMessage, keypair: &Keypair) -> Result<Self, NegotiationError> {
        message.validate()?;
        let signer = keypair.public().to_peer_id();
        if signer != message.sender {
            return Err(NegotiationError::SignerMismatch {
                sender: message.sender.to_base58(),
                signer: signer.to_base58(),
            });
        }
        let message_bytes = message.encode()?;
        let (signer_key, signature) =
            crate::signing::sign(NEGOTIATION_SIGNING_TAG, &message_bytes, keypair)?;
        let signed = Self {
            message_bytes,
            signer_key,
            signature,
        };
        check_size(signed.to_bytes().len())?;
        Ok(signed)
    }

    /// The wire form: postcard of the three byte strings.
    pub fn to_bytes(&self) -> Vec<u8> {
        crate::codec::encode_envelope([&self.message_bytes, &self.signer_key, &self.signature])
    }

    /// Decodes the envelope only (size first, then strict canonical postcard). Nothing inside is checked.
    pub fn decode(bytes: &[u8]) -> Result<Self, NegotiationError> {
        check_size(bytes.len())?;
        let signed: Self = from_postcard(bytes, "signed negotiation message")?;
        if signed.to_bytes() != bytes {
            return Err(NegotiationError::NonCanonical);
        }
        Ok(signed)
    }

    /// Size, strict decoding, the signature, signer ↔ `message.sender`, and the content rules.
    pub fn verify(bytes: &[u8]) -> Result<VerifiedNegotiationMessage, NegotiationError> {
        Self::decode(bytes)?.into_verified()
    }

    pub fn into_verified(self) -> Result<VerifiedNegotiationMessage, NegotiationError> {
        check_size(self.to_bytes().len())?;
        let signer = crate::signing::verify(
            NEGOTIATION_SIGNING_TAG,
            &self.message_bytes,
            &self.signer_key,
            &self.signature,
        )?;
        let message = NegotiationMessage::decode(&self.message_bytes)?;
        if signer != message.sender {
            return Err(NegotiationError::SignerMismatch {
                sender: message.sender.to_base58(),
                signer: signer.to_base58(),
            });
        }
        message.validate()?;
        Ok(VerifiedNegotiationMessage {
            message,
            signed: self,
        })
    }
}

impl VerifiedNegotiationMessage {
    pub fn message(&self) -> &NegotiationMessage {
        &self.message
    }

    pub fn signed(&self) -> &SignedNegotiationMessage {
        &self.signed
    }

    pub fn kind(&self) -> MessageKind {
        self.message.body.kind()
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        self.signed.to_bytes()
    }
}

/// What the parties agree on (so far). Serialised as the `trades.terms` JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Terms {
    /// Base units.
    pub amount: u64,
    pub price: Price,
    pub method: PaymentMethod,
    /// The taker's opaque payout details.
    pub payout: String,
}

/// One trade's negotiation, built from verified messages only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiation {
    trade_id: Uuid,
    offer: Offer,
    taker: PeerId,
    state: NegotiationState,
    terms: Terms,
    reject_reason: Option<String>,
    transcript: Vec<VerifiedNegotiationMessage>,
}

/// Whether a message is new (a take or counter being made now) or replayed from a stored transcript.
/// Rules added after a trade was agreed (the minimum deposit) apply to new messages only: a stored
/// negotiation must keep loading after an upgrade, or its trade could never settle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Replay {
    New,
    Stored,
}

fn check_amount(offer: &Offer, amount: u64, replay: Replay) -> Result<(), NegotiationError> {
    if !(offer.min_amount..=offer.max_amount).contains(&amount) {
        return Err(NegotiationError::AmountOutOfRange {
            amount,
            min: offer.min_amount,
            max: offer.max_amount,
        });
    }
    if replay == Replay::New {
        offer
            .check_deposit(amount)
            .map_err(NegotiationError::DepositBelowMinimum)?;
    }
    Ok(())
}

impl Negotiation {
    /// Opens a negotiation with the taker's request for `offer`, which must be live at `now_ms`
    /// (`offer_state` as the book knows it, and not past its expiry).
    pub fn start(
        offer: &Offer,
        offer_state: OfferState,
        now_ms: i64,
        request: VerifiedNegotiationMessage,
    ) -> Result<Self, NegotiationError> {
        match offer_state {
            OfferState::Withdrawn { at } => return Err(NegotiationError::OfferWithdrawn { at }),
            OfferState::Expired => {
                return Err(NegotiationError::OfferExpired {
                    expires_at: offer.expires_at,
                    now: now_ms,
                });
            }
            OfferState::Live if offer.expires_at <= now_ms => {
                return Err(NegotiationError::OfferExpired {
                    expires_at: offer.expires_at,
                    now: now_ms,
                });
            }
            OfferState::Live => {}
        }
        Self::open(offer, request, Replay::New)
    }

    /// Rebuilds a negotiation from its stored, verified messages (after a restart): every rule but the
    /// offer's liveness, which held when the take was made, is checked again.
    pub fn resume(
        offer: &Offer,
        transcript: Vec<VerifiedNegotiationMessage>,
    ) -> Result<Self, NegotiationError> {
        let mut messages = transcript.into_iter();
        let first = messages.next().ok_or_else(|| {
            NegotiationError::Internal("a stored negotiation without its take request".into())
        })?;
        let mut negotiation = Self::open(offer, first, Replay::Stored)?;
        for message in messages {
            negotiation.step(message, Replay::Stored)?;
        }
        Ok(negotiation)
    }

    fn open(
        offer: &Offer,
        request: VerifiedNegotiationMessage,
        replay: Replay,
    ) -> Result<Self, NegotiationError> {
        let m = request.message();
        let party = if m.sender == offer.maker {
            TradeRole::Maker
        } else {
            TradeRole::Taker
        };
        let state = transition(None, party, m.body.kind())?;
        if m.offer_id != offer.id {
            return Err(NegotiationError::WrongOffer {
                expected: offer.id,
                got: m.offer_id,
            });
        }
        if m.step != 0 {
            return Err(NegotiationError::BadStep {
                expected: 0,
                got: m.step,
            });
        }
        let MessageBody::TakeRequest {
            amount,
            method,
            payout,
        } = &m.body
        else {
            return Err(NegotiationError::Internal(
                "the first transition is not a take request".into(),
            ));
        };
        check_amount(offer, *amount, replay)?;
        if !offer.payment_methods.contains(method) {
            return Err(NegotiationError::MethodNotOffered(method.to_string()));
        }
        Ok(Self {
            trade_id: m.trade_id,
            offer: offer.clone(),
            taker: m.sender,
            state,
            terms: Terms {
                amount: *amount,
                price: offer.price,
                method: method.clone(),
                payout: payout.clone(),
            },
            reject_reason: None,
            transcript: vec![request],
        })
    }

    /// Applies the next message; on any error nothing changes.
    pub fn apply(
        &mut self,
        message: VerifiedNegotiationMessage,
    ) -> Result<NegotiationState, NegotiationError> {
        self.step(message, Replay::New)
    }

    fn step(
        &mut self,
        message: VerifiedNegotiationMessage,
        replay: Replay,
    ) -> Result<NegotiationState, NegotiationError> {
        let m = message.message();
        if self.state.is_final() {
            return Err(NegotiationError::AlreadyFinished { state: self.state });
        }
        let party = self.party_of(&m.sender)?;
        let next = transition(Some(self.state), party, m.body.kind())?;
        if m.trade_id != self.trade_id {
            return Err(NegotiationError::WrongTrade {
                expected: self.trade_id,
                got: m.trade_id,
            });
        }
        if m.offer_id != self.offer.id {
            return Err(NegotiationError::WrongOffer {
                expected: self.offer.id,
                got: m.offer_id,
            });
        }
        if m.step != self.next_step() {
            return Err(NegotiationError::BadStep {
                expected: self.next_step(),
                got: m.step,
            });
        }
        let mut terms = self.terms.clone();
        let mut reject_reason = None;
        match &m.body {
            MessageBody::Counter { amount, price } => {
                if let Some(amount) = *amount {
                    check_amount(&self.offer, amount, replay)?;
                    terms.amount = amount;
                }
                if let Some(price) = *price {
                    terms.price = Price::Fixed(price);
                }
            }
            MessageBody::Reject { reason } => reject_reason = Some(reason.clone()),
            MessageBody::TakeRequest { .. } | MessageBody::Accept => {}
        }
        self.terms = terms;
        self.reject_reason = reject_reason;
        self.state = next;
        self.transcript.push(message);
        Ok(next)
    }

    /// Which party `peer` is in this trade.
    pub fn party_of(&self, peer: &PeerId) -> Result<TradeRole, NegotiationError> {
        if *peer == self.offer.maker {
            Ok(TradeRole::Maker)
        } else if *peer == self.taker {
            Ok(TradeRole::Taker)
        } else {
            Err(NegotiationError::NotAParty {
                sender: peer.to_base58(),
            })
        }
    }

    /// The `step` the next message must carry.
    pub fn next_step(&self) -> u32 {
        u32::try_from(self.transcript.len()).unwrap_or(u32::MAX)
    }

    pub fn trade_id(&self) -> Uuid {
        self.trade_id
    }

    pub fn offer(&self) -> &Offer {
        &self.offer
    }

    pub fn maker(&self) -> PeerId {
        self.offer.maker
    }

    pub fn taker(&self) -> PeerId {
        self.taker
    }

    pub fn state(&self) -> NegotiationState {
        self.state
    }

    /// The current terms: the request's, changed by a counter if there was one.
    pub fn terms(&self) -> &Terms {
        &self.terms
    }

    pub fn reject_reason(&self) -> Option<&str> {
        self.reject_reason.as_deref()
    }

    /// The verified messages, in order.
    pub fn transcript(&self) -> &[VerifiedNegotiationMessage] {
        &self.transcript
    }

    /// SHA-256 over the signed messages in order, each as its 8-byte little-endian length then its
    /// wire bytes ([`SignedNegotiationMessage::to_bytes`]).
    pub fn transcript_hash(&self) -> [u8; 32] {
        let mut hasher = Sha256::new();
        for m in &self.transcript {
            let bytes = m.to_bytes();
            hasher.update((bytes.len() as u64).to_le_bytes());
            hasher.update(&bytes);
        }
        hasher.finalize().into()
    }
}

/// How many takes of `offer_id` are open: recorded trades not in a closed [`TradeState`].
pub async fn count_open_takes(pool: &SqlitePool, offer_id: Uuid) -> Result<u32, NegotiationError> {
    let mut conn = pool.acquire().await?;
    count_open_takes_on(&mut conn, offer_id).await
}

async fn count_open_takes_on(
    conn: &mut sqlx::SqliteConnection,
    offer_id: Uuid,
) -> Result<u32, NegotiationError> {
    let n: i64 = sqlx::query_scalar(COUNT_OPEN_TAKES_SQL.as_str())
        .bind(offer_id.to_string())
        .fetch_one(conn)
        .await?;
    Ok(u32::try_from(n).unwrap_or(u32::MAX))
}

fn check_cap(open: u32, cap: u32) -> Result<(), NegotiationError> {
    if open >= cap {
        Err(NegotiationError::TooManyTakes { open, cap })
    } else {
        Ok(())
    }
}

/// `Ok` when one more take of `offer_id` stays within `cap` open takes; the maker asks before answering.
pub async fn check_take_capacity(
    pool: &SqlitePool,
    offer_id: Uuid,
    cap: u32,
) -> Result<(), NegotiationError> {
    check_cap(count_open_takes(pool, offer_id).await?, cap)
}

impl From<NegotiationState> for TradeState {
    fn from(state: NegotiationState) -> Self {
        match state {
            NegotiationState::Requested => Self::Requested,
            NegotiationState::Countered => Self::Countered,
            NegotiationState::Accepted => Self::Accepted,
            NegotiationState::Rejected => Self::Rejected,
        }
    }
}

/// Records an agreed negotiation as `me` (its maker or taker), in one `BEGIN IMMEDIATE` transaction: see
/// [`record_negotiation`]. Refuses a negotiation that is not agreed.
pub async fn record_agreed_trade(
    pool: &SqlitePool,
    negotiation: &Negotiation,
    me: &PeerId,
    cap: Option<u32>,
    now_ms: i64,
) -> Result<(), NegotiationError> {
    if negotiation.state != NegotiationState::Accepted {
        return Err(NegotiationError::NotAgreed {
            state: negotiation.state,
        });
    }
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    record_negotiation(&mut tx, negotiation, me, cap, now_ms).await?;
    tx.commit().await?;
    Ok(())
}

/// Brings the stored trade up to `negotiation`, as `me` (its maker or taker), inside the caller's
/// transaction: the `trades` row (created at the first call; state, terms JSON and transcript hash
/// updated at every call) and one `trade_events` row per signed message not stored yet (seq = step, the
/// message bytes, signer, signature). With `cap` (the maker's limit on open takes of the offer), creating
/// the row is refused with [`NegotiationError::TooManyTakes`] when the trade would exceed it.
pub async fn record_negotiation(
    conn: &mut sqlx::SqliteConnection,
    negotiation: &Negotiation,
    me: &PeerId,
    cap: Option<u32>,
    now_ms: i64,
) -> Result<(), NegotiationError> {
    let (role, counterparty) = match negotiation.party_of(me)? {
        TradeRole::Maker => (TradeRole::Maker, negotiation.taker),
        TradeRole::Taker => (TradeRole::Taker, negotiation.maker()),
    };
    let terms = serde_json::to_string(&negotiation.terms)
        .map_err(|e| NegotiationError::Internal(format!("encoding the terms failed: {e}")))?;
    let trade_id = negotiation.trade_id.to_string();
    let stored: Option<i64> = sqlx::query_scalar(
        "SELECT (SELECT COUNT(*) FROM trade_events WHERE trade_id = ?1) FROM trades WHERE id = ?1",
    )
    .bind(&trade_id)
    .fetch_optional(&mut *conn)
    .await?;
    let state = TradeState::from(negotiation.state);
    let hash = negotiation.transcript_hash().to_vec();
    let stored = match stored {
        Some(n) => {
            sqlx::query(
                "UPDATE trades SET state = ?, terms = ?, transcript_hash = ?, updated_at = ? WHERE id = ?",
            )
            .bind(state)
            .bind(&terms)
            .bind(&hash)
            .bind(now_ms)
            .bind(&trade_id)
            .execute(&mut *conn)
            .await?;
            usize::try_from(n).unwrap_or(usize::MAX)
        }
        None => {
            if let Some(cap) = cap {
                check_cap(count_open_takes_on(conn, negotiation.offer.id).await?, cap)?;
            }
            sqlx::query(
                "INSERT INTO trades (id, offer_id, role, counterparty, state, terms, transcript_hash, \
                 created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(&trade_id)
            .bind(negotiation.offer.id.to_string())
            .bind(role)
            .bind(counterparty.to_base58())
            .bind(state)
            .bind(&terms)
            .bind(&hash)
            .bind(now_ms)
            .bind(now_ms)
            .execute(&mut *conn)
            .await?;
            0
        }
    };
    for (seq, m) in negotiation.transcript.iter().enumerate().skip(stored) {
        sqlx::query(
            "INSERT INTO trade_events (trade_id, seq, kind, payload, signer, signature, created_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&trade_id)
        .bind(i64::try_from(seq).unwrap_or(i64::MAX))
        .bind(m.kind().as_str())
        .bind(&m.signed.message_bytes)
        .bind(m.message.sender.to_base58())
        .bind(&m.signed.signature)
        .bind(now_ms)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// The stored signed messages of a trade's negotiation, verified again, in order.
pub async fn load_transcript(
    conn: &mut sqlx::SqliteConnection,
    trade_id: Uuid,
) -> Result<Vec<VerifiedNegotiationMessage>, NegotiationError> {
    let kinds: Vec<&str> = [
        MessageKind::TakeRequest,
        MessageKind::Counter,
        MessageKind::Accept,
        MessageKind::Reject,
    ]
    .iter()
    .map(|k| k.as_str())
    .collect();
    let rows: Vec<(String, Vec<u8>, Vec<u8>)> = sqlx::query_as(
        "SELECT kind, payload, signature FROM trade_events WHERE trade_id = ? ORDER BY seq",
    )
    .bind(trade_id.to_string())
    .fetch_all(&mut *conn)
    .await?;
    let mut transcript = Vec::new();
    for (kind, payload, signature) in rows {
        if !kinds.contains(&kind.as_str()) {
            // Later events (escrow steps) are not part of the negotiation.
            break;
        }
        let message = NegotiationMessage::decode(&payload)?;
        let signer_key = stored_signer_key(&message.sender)?;
        let signed = SignedNegotiationMessage {
            message_bytes: payload,
            signer_key,
            signature,
        };
        transcript.push(signed.into_verified()?);
    }
    Ok(transcript)
}

/// The protobuf public key inside an ed25519 PeerId (an identity multihash of the key).
fn stored_signer_key(peer: &PeerId) -> Result<Vec<u8>, NegotiationError> {
    let multihash = peer.as_ref();
    if multihash.code() != 0 {
        return Err(NegotiationError::BadKey(format!(
            "{peer} does not embed its public key"
        )));
    }
    Ok(multihash.digest().to_vec())
}

#[cfg(test)]
mod tests {
    use sqlx::Row;

    use super::*;
    use crate::offer::{Asset, EscrowKind, Fiat, NewOffer, Quote, Side};
    use crate::store::Store;

    const NOW: i64 = 1_800_000_000_000;
    const HOUR: i64 = 3_600_000;

    struct Fixture {
        maker: Keypair,
        taker: Keypair,
        offer: Offer,
        trade_id: Uuid,
    }

    fn fixture() -> Fixture {
        let maker = Keypair::generate_ed25519();
        let new = NewOffer {
            side: Side::Sell,
            base: Asset::Btc,
            quote: Quote::Fiat(Fiat::Eur),
            price: Price::Fixed(Decimal::from(60_000)),
            min_amount: 10_000,
            max_amount: 1_000_000,
            payment_methods: vec![PaymentMethod::new("SEPA").unwrap()],
            escrow: EscrowKind::None,
            deposit_bps: 1_500,
            maker_x25519: [7; 32],
            ttl_ms: 24 * HOUR,
            terms: String::new(),
        };
        let offer = Offer::new(maker.public().to_peer_id(), new, NOW).unwrap();
        Fixture {
            maker,
            taker: Keypair::generate_ed25519(),
            offer,
            trade_id: Uuid::now_v7(),
        }
    }

    impl Fixture {
        fn msg_by(
            &self,
            key: &Keypair,
            step: u32,
            body: MessageBody,
        ) -> VerifiedNegotiationMessage {
            let m = NegotiationMessage {
                trade_id: self.trade_id,
                offer_id: self.offer.id,
                sender: key.public().to_peer_id(),
                step,
                body,
            };
            let bytes = SignedNegotiationMessage::sign(&m, key).unwrap().to_bytes();
            SignedNegotiationMessage::verify(&bytes).unwrap()
        }

        fn take_body(&self, amount: u64) -> MessageBody {
            MessageBody::TakeRequest {
                amount,
                method: PaymentMethod::new("SEPA").unwrap(),
                payout: "IBAN DE00 1234".into(),
            }
        }

        fn start(&self) -> Negotiation {
            let take = self.msg_by(&self.taker, 0, self.take_body(50_000));
            Negotiation::start(&self.offer, OfferState::Live, NOW, take).unwrap()
        }
    }

    async fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join(crate::store::FILE_NAME))
            .await
            .unwrap();
        (dir, store)
    }

    #[tokio::test]
    async fn take_counter_accept_records_the_trade_and_its_transcript() {
        let f = fixture();
        let mut n = f.start();
        let counter = MessageBody::Counter {
            amount: Some(20_000),
            price: Some(Decimal::from(61_000)),
        };
        assert_eq!(
            n.apply(f.msg_by(&f.maker, 1, counter)).unwrap(),
            NegotiationState::Countered
        );
        assert_eq!(
            n.apply(f.msg_by(&f.taker, 2, MessageBody::Accept)).unwrap(),
            NegotiationState::Accepted
        );
        assert_eq!(n.terms().amount, 20_000);
        assert_eq!(n.terms().price, Price::Fixed(Decimal::from(61_000)));

        let (_dir, store) = store().await;
        let me = f.maker.public().to_peer_id();
        record_agreed_trade(store.pool(), &n, &me, Some(3), NOW)
            .await
            .unwrap();
        let row = sqlx::query(
            "SELECT role, counterparty, state, terms, transcript_hash FROM trades WHERE id = ?",
        )
        .bind(f.trade_id.to_string())
        .fetch_one(store.pool())
        .await
        .unwrap();
        assert_eq!(row.get::<String, _>("role"), "maker");
        assert_eq!(
            row.get::<String, _>("counterparty"),
            f.taker.public().to_peer_id().to_base58()
        );
        assert_eq!(row.get::<String, _>("state"), "Accepted");
        let terms: Terms = serde_json::from_str(&row.get::<String, _>("terms")).unwrap();
        assert_eq!(&terms, n.terms());
        assert_eq!(terms.payout, "IBAN DE00 1234");
        assert_eq!(
            row.get::<Vec<u8>, _>("transcript_hash"),
            n.transcript_hash().to_vec()
        );

        let events = sqlx::query("SELECT seq, kind, payload, signer, signature FROM trade_events WHERE trade_id = ? ORDER BY seq")
            .bind(f.trade_id.to_string())
            .fetch_all(store.pool())
            .await
            .unwrap();
        let kinds: Vec<String> = events.iter().map(|r| r.get("kind")).collect();
        assert_eq!(kinds, ["take_request", "counter", "accept"]);
        for (i, (row, m)) in events.iter().zip(n.transcript()).enumerate() {
            assert_eq!(row.get::<i64, _>("seq"), i as i64);
            assert_eq!(row.get::<Vec<u8>, _>("payload"), m.signed().message_bytes);
            assert_eq!(row.get::<Vec<u8>, _>("signature"), m.signed().signature);
            assert_eq!(
                row.get::<String, _>("signer"),
                m.message().sender.to_base58()
            );
        }
        assert_eq!(count_open_takes(store.pool(), f.offer.id).await.unwrap(), 1);
    }

    #[tokio::test]
    async fn take_then_accept_keeps_the_offer_terms_and_records_as_taker() {
        let f = fixture();
        let mut n = f.start();
        assert_eq!(
            n.apply(f.msg_by(&f.maker, 1, MessageBody::Accept)).unwrap(),
            NegotiationState::Accepted
        );
        assert_eq!(n.terms().amount, 50_000);
        assert_eq!(n.terms().price, f.offer.price);
        let (_dir, store) = store().await;
        record_agreed_trade(store.pool(), &n, &f.taker.public().to_peer_id(), None, NOW)
            .await
            .unwrap();
        let role: String = sqlx::query_scalar("SELECT role FROM trades")
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(role, "taker");
    }

    #[tokio::test]
    async fn rejections_finish_the_negotiation_and_cannot_be_recorded() {
        let f = fixture();
        let reject = || MessageBody::Reject {
            reason: "no".into(),
        };
        let mut n = f.start();
        assert_eq!(
            n.apply(f.msg_by(&f.maker, 1, reject())).unwrap(),
            NegotiationState::Rejected
        );
        assert_eq!(n.reject_reason(), Some("no"));
        let (_dir, store) = store().await;
        assert!(matches!(
            record_agreed_trade(store.pool(), &n, &f.maker.public().to_peer_id(), None, NOW).await,
            Err(NegotiationError::NotAgreed {
                state: NegotiationState::Rejected
            })
        ));

        let mut n = f.start();
        let counter = MessageBody::Counter {
            amount: Some(20_000),
            price: None,
        };
        n.apply(f.msg_by(&f.maker, 1, counter)).unwrap();
        assert_eq!(
            n.apply(f.msg_by(&f.taker, 2, reject())).unwrap(),
            NegotiationState::Rejected
        );
    }

    #[test]
    fn the_maker_cannot_send_a_take_request() {
        let f = fixture();
        let take = f.msg_by(&f.maker, 0, f.take_body(50_000));
        assert!(matches!(
            Negotiation::start(&f.offer, OfferState::Live, NOW, take),
            Err(NegotiationError::WrongParty {
                party: TradeRole::Maker,
                kind: MessageKind::TakeRequest
            })
        ));
    }

    #[test]
    fn the_taker_cannot_accept_its_own_request() {
        let f = fixture();
        let mut n = f.start();
        let before = n.clone();
        let err = n
            .apply(f.msg_by(&f.taker, 1, MessageBody::Accept))
            .unwrap_err();
        assert!(matches!(
            err,
            NegotiationError::NotYourTurn {
                party: TradeRole::Taker,
                expected: TradeRole::Maker,
                ..
            }
        ));
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert_eq!(n, before);
    }

    #[test]
    fn the_taker_cannot_counter() {
        let f = fixture();
        let mut n = f.start();
        n.apply(f.msg_by(
            &f.maker,
            1,
            MessageBody::Counter {
                amount: Some(20_000),
                price: None,
            },
        ))
        .unwrap();
        let counter = MessageBody::Counter {
            amount: Some(30_000),
            price: None,
        };
        assert!(matches!(
            n.apply(f.msg_by(&f.taker, 2, counter)),
            Err(NegotiationError::WrongParty {
                party: TradeRole::Taker,
                kind: MessageKind::Counter
            })
        ));
    }

    #[test]
    fn no_answer_after_the_end() {
        let f = fixture();
        let mut n = f.start();
        n.apply(f.msg_by(&f.maker, 1, MessageBody::Accept)).unwrap();
        assert!(matches!(
            n.apply(f.msg_by(
                &f.taker,
                2,
                MessageBody::Reject {
                    reason: String::new()
                }
            )),
            Err(NegotiationError::AlreadyFinished {
                state: NegotiationState::Accepted
            })
        ));
    }

    #[test]
    fn steps_out_of_order_are_refused() {
        let f = fixture();
        let mut n = f.start();
        assert!(matches!(
            n.apply(f.msg_by(&f.maker, 5, MessageBody::Accept)),
            Err(NegotiationError::BadStep {
                expected: 1,
                got: 5
            })
        ));
    }

    #[test]
    fn amounts_outside_the_offer_range_are_refused() {
        let f = fixture();
        for amount in [9_999, 1_000_001] {
            let take = f.msg_by(&f.taker, 0, f.take_body(amount));
            assert!(matches!(
                Negotiation::start(&f.offer, OfferState::Live, NOW, take),
                Err(NegotiationError::AmountOutOfRange { .. })
            ));
        }
        let mut n = f.start();
        let counter = MessageBody::Counter {
            amount: Some(2_000_000),
            price: None,
        };
        assert!(matches!(
            n.apply(f.msg_by(&f.maker, 1, counter)),
            Err(NegotiationError::AmountOutOfRange {
                amount: 2_000_000,
                ..
            })
        ));
        assert_eq!(n.state(), NegotiationState::Requested);
    }

    #[test]
    fn amounts_whose_escrow_deposit_is_below_the_minimum_are_refused() {
        // An escrow offer whose range reaches below the minimum deposit (one published before the
        // rule, or by a peer that skips it): 15 % of 0.001 BTC is 0.00015 BTC, below 0.0005573 BTC.
        let mut f = fixture();
        f.offer.escrow = EscrowKind::Multisig {
            arbitrators: vec![Keypair::generate_ed25519().public().to_peer_id()],
        };
        let take = f.msg_by(&f.taker, 0, f.take_body(100_000));
        let err = Negotiation::start(&f.offer, OfferState::Live, NOW, take.clone()).unwrap_err();
        assert!(
            matches!(
                &err,
                NegotiationError::DepositBelowMinimum(OfferError::DepositBelowMinimum {
                    amount: 100_000,
                    deposit: 15_000,
                    minimum: 55_730,
                    ..
                })
            ),
            "{err:?}"
        );
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert!(
            err.to_string().starts_with(
                "the deposit of 0.00015 BTC (15 % of 0.001 BTC) is below the minimum of \
                 0.0005573 BTC"
            ),
            "{err}"
        );

        // A take whose deposit covers it (15 % of 0.00371534 BTC = 55_730 sat) opens; a counter down
        // to a smaller amount is refused and changes nothing.
        let enough = f.msg_by(&f.taker, 0, f.take_body(371_534));
        let mut n = Negotiation::start(&f.offer, OfferState::Live, NOW, enough).unwrap();
        let counter = MessageBody::Counter {
            amount: Some(371_533),
            price: None,
        };
        assert!(matches!(
            n.apply(f.msg_by(&f.maker, 1, counter)),
            Err(NegotiationError::DepositBelowMinimum(_))
        ));
        assert_eq!(n.state(), NegotiationState::Requested);
        assert_eq!(n.terms().amount, 371_534);

        // A negotiation stored before the rule still loads, so its trade can settle.
        let resumed = Negotiation::resume(&f.offer, vec![take]).unwrap();
        assert_eq!(resumed.terms().amount, 100_000);
    }

    #[test]
    fn a_method_the_offer_does_not_name_is_refused() {
        let f = fixture();
        let body = MessageBody::TakeRequest {
            amount: 50_000,
            method: PaymentMethod::new("PAYPAL").unwrap(),
            payout: String::new(),
        };
        let take = f.msg_by(&f.taker, 0, body);
        assert!(matches!(
            Negotiation::start(&f.offer, OfferState::Live, NOW, take),
            Err(NegotiationError::MethodNotOffered(m)) if m == "PAYPAL"
        ));
    }

    #[test]
    fn expired_or_withdrawn_offers_cannot_be_taken() {
        let f = fixture();
        let take = || f.msg_by(&f.taker, 0, f.take_body(50_000));
        assert!(matches!(
            Negotiation::start(&f.offer, OfferState::Live, f.offer.expires_at, take()),
            Err(NegotiationError::OfferExpired { .. })
        ));
        assert!(matches!(
            Negotiation::start(&f.offer, OfferState::Expired, NOW, take()),
            Err(NegotiationError::OfferExpired { .. })
        ));
        assert!(matches!(
            Negotiation::start(&f.offer, OfferState::Withdrawn { at: NOW }, NOW, take()),
            Err(NegotiationError::OfferWithdrawn { at: NOW })
        ));
    }

    #[test]
    fn a_counter_must_say_something_and_price_above_zero() {
        let f = fixture();
        let m = |body| NegotiationMessage {
            trade_id: f.trade_id,
            offer_id: f.offer.id,
            sender: f.maker.public().to_peer_id(),
            step: 1,
            body,
        };
        let empty = m(MessageBody::Counter {
            amount: None,
            price: None,
        });
        assert!(matches!(
            SignedNegotiationMessage::sign(&empty, &f.maker),
            Err(NegotiationError::EmptyCounter)
        ));
        // Signed by hand, past `sign`'s checks: verification refuses it too.
        let bytes = empty.encode().unwrap();
        let (signer_key, signature) =
            crate::signing::sign(NEGOTIATION_SIGNING_TAG, &bytes, &f.maker).unwrap();
        let forged = SignedNegotiationMessage {
            message_bytes: bytes,
            signer_key,
            signature,
        };
        assert!(matches!(
            SignedNegotiationMessage::verify(&forged.to_bytes()),
            Err(NegotiationError::EmptyCounter)
        ));
        let zero = m(MessageBody::Counter {
            amount: None,
            price: Some(Decimal::ZERO),
        });
        assert!(matches!(
            SignedNegotiationMessage::sign(&zero, &f.maker),
            Err(NegotiationError::PriceNotPositive { .. })
        ));
    }

    #[test]
    fn messages_from_a_third_party_are_refused() {
        let f = fixture();
        let stranger = Keypair::generate_ed25519();
        // Claims to be the maker, signed by someone else.
        let m = NegotiationMessage {
            trade_id: f.trade_id,
            offer_id: f.offer.id,
            sender: f.maker.public().to_peer_id(),
            step: 1,
            body: MessageBody::Accept,
        };
        let bytes = m.encode().unwrap();
        let (signer_key, signature) =
            crate::signing::sign(NEGOTIATION_SIGNING_TAG, &bytes, &stranger).unwrap();
        let forged = SignedNegotiationMessage {
            message_bytes: bytes,
            signer_key,
            signature,
        };
        assert!(matches!(
            SignedNegotiationMessage::verify(&forged.to_bytes()),
            Err(NegotiationError::SignerMismatch { .. })
        ));
        // Speaks for itself: a valid signature, but not a party to the trade.
        let mut n = f.start();
        assert!(matches!(
            n.apply(f.msg_by(&stranger, 1, MessageBody::Accept)),
            Err(NegotiationError::NotAParty { .. })
        ));
    }

    #[test]
    fn tampered_or_non_canonical_bytes_are_refused() {
        let f = fixture();
        let good = f.msg_by(&f.taker, 0, f.take_body(50_000)).to_bytes();
        let mut bad_sig = 0;
        for i in 0..good.len() {
            let mut tampered = good.clone();
            tampered[i] ^= 0x01;
            assert!(
                SignedNegotiationMessage::verify(&tampered).is_err(),
                "byte {i}"
            );
            if matches!(
                SignedNegotiationMessage::verify(&tampered),
                Err(NegotiationError::BadSignature)
            ) {
                bad_sig += 1;
            }
        }
        assert!(bad_sig > 0);
        let mut trailing = good.clone();
        trailing.push(0);
        assert!(matches!(
            SignedNegotiationMessage::verify(&trailing),
            Err(NegotiationError::Malformed(_))
        ));
        assert!(matches!(
            SignedNegotiationMessage::verify(&vec![0; MAX_SIGNED_NEGOTIATION_BYTES + 1]),
            Err(NegotiationError::TooLarge { .. })
        ));
        // A price with trailing zeros is not the canonical text.
        let mut wire = NegotiationMessage {
            trade_id: f.trade_id,
            offer_id: f.offer.id,
            sender: f.maker.public().to_peer_id(),
            step: 1,
            body: MessageBody::Counter {
                amount: None,
                price: Some(Decimal::from(5)),
            },
        }
        .to_wire();
        wire.body = WireBody::Counter {
            amount: None,
            price: Some("5.0".into()),
        };
        let bytes = postcard::to_stdvec(&wire).unwrap();
        assert!(matches!(
            NegotiationMessage::decode(&bytes),
            Err(NegotiationError::NonCanonical)
        ));
    }

    #[test]
    fn limits_on_free_text() {
        let f = fixture();
        let take = NegotiationMessage {
            trade_id: f.trade_id,
            offer_id: f.offer.id,
            sender: f.taker.public().to_peer_id(),
            step: 0,
            body: MessageBody::TakeRequest {
                amount: 50_000,
                method: PaymentMethod::new("SEPA").unwrap(),
                payout: "é".repeat(MAX_PAYOUT_CHARS + 1),
            },
        };
        assert!(matches!(
            SignedNegotiationMessage::sign(&take, &f.taker),
            Err(NegotiationError::PayoutTooLong { .. })
        ));
        let reject = NegotiationMessage {
            step: 1,
            sender: f.maker.public().to_peer_id(),
            body: MessageBody::Reject {
                reason: "€".repeat(MAX_REASON_CHARS),
            },
            ..take
        };
        SignedNegotiationMessage::sign(&reject, &f.maker).unwrap();
    }

    #[tokio::test]
    async fn the_cap_on_open_takes_is_enforced() {
        let f = fixture();
        let (_dir, store) = store().await;
        let me = f.maker.public().to_peer_id();
        let agreed = |trade_id| {
            let f2 = Fixture {
                maker: f.maker.clone(),
                taker: f.taker.clone(),
                offer: f.offer.clone(),
                trade_id,
            };
            let mut n = f2.start();
            n.apply(f2.msg_by(&f2.maker, 1, MessageBody::Accept))
                .unwrap();
            n
        };
        record_agreed_trade(store.pool(), &agreed(Uuid::now_v7()), &me, Some(2), NOW)
            .await
            .unwrap();
        record_agreed_trade(store.pool(), &agreed(Uuid::now_v7()), &me, Some(2), NOW)
            .await
            .unwrap();
        assert_eq!(count_open_takes(store.pool(), f.offer.id).await.unwrap(), 2);
        assert!(matches!(
            check_take_capacity(store.pool(), f.offer.id, 2).await,
            Err(NegotiationError::TooManyTakes { open: 2, cap: 2 })
        ));
        let err = record_agreed_trade(store.pool(), &agreed(Uuid::now_v7()), &me, Some(2), NOW)
            .await
            .unwrap_err();
        assert!(matches!(
            err,
            NegotiationError::TooManyTakes { open: 2, cap: 2 }
        ));
        assert_eq!(crate::Error::from(err).kind(), ErrorKind::InvalidInput);
        // A closed trade frees its slot; other offers are not counted.
        sqlx::query(
            "UPDATE trades SET state = 'Completed' WHERE id IN (SELECT id FROM trades LIMIT 1)",
        )
        .execute(store.pool())
        .await
        .unwrap();
        check_take_capacity(store.pool(), f.offer.id, 2)
            .await
            .unwrap();
        assert_eq!(
            count_open_takes(store.pool(), Uuid::now_v7())
                .await
                .unwrap(),
            0
        );
    }
}
