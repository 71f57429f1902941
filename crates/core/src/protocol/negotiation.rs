//! The negotiation between a taker and a maker, from the take request to an agreed (or refused) trade.
//!
//! Four signed messages travel between the two parties: [`MessageBody::TakeRequest`] (taker),
//! [`MessageBody::Counter`] (maker), [`MessageBody::Accept`] and [`MessageBody::Reject`]. Each is the
//! canonical postcard encoding of a [`NegotiationMessage`], signed over
//! [`NEGOTIATION_SIGNING_TAG`]` || message_bytes`, and decoded strictly (size first, then exact postcard,
//! then re-encoding must give the same bytes).
//!
//! Who may send what, and when, is the table [`TRANSITIONS`]; [`Negotiation`] applies it and checks every
//! message against the offer. The engine stores what it says (`trading::store::negotiation`: the trade
//! and its signed transcript in one transaction). This module never reads the clock (callers pass
//! `now_ms`), the database or the network.

mod error;
mod message;
mod transitions;

use libp2p::PeerId;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use self::transitions::transition;
pub use self::{
    error::NegotiationError,
    message::{
        MessageBody, NegotiationMessage, SignedNegotiationMessage, VerifiedNegotiationMessage,
    },
    transitions::{MessageKind, NegotiationState, TRANSITIONS, Transition},
};
use crate::{
    offer::{Offer, OfferState, PaymentMethod, Price},
    protocol::roles::TradeRole,
};

/// Domain separation tag prefixed to the message bytes before signing.
pub const NEGOTIATION_SIGNING_TAG: &[u8] = b"souk/negotiation/v1\0";
/// Largest accepted encoded [`SignedNegotiationMessage`], checked before any decoding.
pub const MAX_SIGNED_NEGOTIATION_BYTES: usize = 4 * 1024;
/// Opaque payout details are at most this many characters.
pub const MAX_PAYOUT_CHARS: usize = 256;
/// A rejection reason is at most this many characters.
pub const MAX_REASON_CHARS: usize = 500;

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

#[cfg(test)]
mod tests;
