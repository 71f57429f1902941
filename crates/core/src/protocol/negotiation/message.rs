//! The four messages and their wire forms: canonical postcard encoding, strict decoding, signing over
//! [`NEGOTIATION_SIGNING_TAG`] and verification. Checks a message on its own, never against an offer.

use std::{fmt, str::FromStr};

use libp2p::{PeerId, identity::Keypair};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{
    MAX_PAYOUT_CHARS, MAX_REASON_CHARS, MAX_SIGNED_NEGOTIATION_BYTES, MessageKind,
    NEGOTIATION_SIGNING_TAG, NegotiationError,
};
use crate::offer::PaymentMethod;

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

    pub(super) fn to_wire(&self) -> WireMessage {
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
pub(super) struct WireMessage {
    trade_id: [u8; 16],
    offer_id: [u8; 16],
    sender: Vec<u8>,
    step: u32,
    pub(super) body: WireBody,
}

/// Variant tags are part of the signed encoding: append, never reorder.
#[derive(Debug, Serialize, Deserialize)]
pub(super) enum WireBody {
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
    pub(super) message: NegotiationMessage,
    pub(super) signed: SignedNegotiationMessage,
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
