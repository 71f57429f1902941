//! [`NegotiationError`]: every way a negotiation message or step can be refused, one variant per
//! rule, and how it maps onto the crate's error kinds.

use rust_decimal::Decimal;
use uuid::Uuid;

use super::{MAX_PAYOUT_CHARS, MAX_REASON_CHARS, MessageKind, NegotiationState};
use crate::{
    error_kind::ErrorKind, offer::OfferError, protocol::roles::TradeRole, signing::SigningError,
    store::StoreError,
};

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
