//! The trade after the negotiation: its states, who may move it from one to the next, and the signed steps
//! that do. Pure: no clock, no chain, no database, no network — the trade desk feeds it and stores what it
//! says.
//!
//! A step is made by a party (buyer, seller, arbitrator) through a signed [`TradeStep`], or observed by
//! this node itself (the chain confirmed the funding or the release, a deadline passed) and recorded as a
//! step signed by this node. [`TRANSITIONS`] is the whole protocol; anything not in it is refused.

use std::fmt;

use libp2p::{PeerId, identity::Keypair};
use serde::{Deserialize, Serialize};
use ts_rs::TS;
use uuid::Uuid;

use super::roles::Party;
use crate::{error_kind::ErrorKind, signing::SigningError};

/// Signature domain of a trade step.
pub const TRADE_STEP_SIGNING_TAG: &[u8] = b"souk/trade-step/v1\0";
/// Largest signed step on the wire (a release PSBT of a few inputs fits easily).
pub const MAX_SIGNED_STEP_BYTES: usize = 48 * 1024;
/// Longest reason (dispute, cancel), in characters.
pub const MAX_REASON_CHARS: usize = 500;

pub use super::state::TradeState;

/// Who makes a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Actor {
    Buyer,
    Seller,
    Arbitrator,
    /// This node, from what the chain shows (funding confirmed, release confirmed).
    Chain,
    /// This node, because a deadline passed.
    Clock,
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Buyer => "buyer",
            Self::Seller => "seller",
            Self::Arbitrator => "arbitrator",
            Self::Chain => "chain",
            Self::Clock => "clock",
        })
    }
}

impl From<Party> for Actor {
    fn from(party: Party) -> Self {
        match party {
            Party::Buyer => Self::Buyer,
            Party::Seller => Self::Seller,
        }
    }
}

/// Which step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    /// Both escrow keys and payout addresses are known; the escrow address is agreed.
    EscrowReady,
    /// The escrow holds everything it should, with enough confirmations.
    Funded,
    PaymentSent,
    PaymentReceived,
    /// The release transaction was broadcast (by the buyer) or seen on the chain.
    Released,
    /// The release (or resolution) transaction has its confirmations.
    Confirmed,
    Cancel,
    /// The funding window closed without a funded escrow.
    FundingExpired,
    /// The payment window closed without payment: the trade goes to the arbitrator.
    PaymentExpired,
    /// The seller confirmed the payment, but no release reached the chain in time: the arbitrator decides.
    ReleaseExpired,
    Dispute,
    Resolve,
    /// A reorg took funding the escrow had counted: back to waiting for it, and no payment step meanwhile.
    FundingLost,
    /// The buyer said it paid, but the seller neither confirmed nor disputed in time: the arbitrator
    /// decides.
    ConfirmExpired,
}

impl StepKind {
    /// The `trade_events.kind` text.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::EscrowReady => "escrow_ready",
            Self::Funded => "funded",
            Self::PaymentSent => "payment_sent",
            Self::PaymentReceived => "payment_received",
            Self::Released => "released",
            Self::Confirmed => "confirmed",
            Self::Cancel => "cancel",
            Self::FundingExpired => "funding_expired",
            Self::PaymentExpired => "payment_expired",
            Self::ReleaseExpired => "release_expired",
            Self::Dispute => "dispute",
            Self::Resolve => "resolve",
            Self::FundingLost => "funding_lost",
            Self::ConfirmExpired => "confirm_expired",
        }
    }
}

impl fmt::Display for StepKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Does the trade use an escrow? Trades without one skip the escrow states.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Escrow,
    NoEscrow,
}

/// One allowed step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    pub from: TradeState,
    pub actor: Actor,
    pub kind: StepKind,
    pub to: TradeState,
    /// `None`: both modes.
    pub mode: Option<Mode>,
}

const fn t(
    from: TradeState,
    actor: Actor,
    kind: StepKind,
    to: TradeState,
    mode: Option<Mode>,
) -> Transition {
    Transition {
        from,
        actor,
        kind,
        to,
        mode,
    }
}

/// The whole protocol after agreement.
pub const TRANSITIONS: &[Transition] = {
    use Actor as A;
    use Mode::{Escrow as E, NoEscrow as N};
    use StepKind as K;
    use TradeState as S;
    &[
        t(
            S::Accepted,
            A::Chain,
            K::EscrowReady,
            S::EscrowFunding,
            Some(E),
        ),
        t(
            S::EscrowFunding,
            A::Chain,
            K::Funded,
            S::EscrowFunded,
            Some(E),
        ),
        t(
            S::EscrowFunded,
            A::Buyer,
            K::PaymentSent,
            S::PaymentSent,
            Some(E),
        ),
        t(
            S::Accepted,
            A::Buyer,
            K::PaymentSent,
            S::PaymentSent,
            Some(N),
        ),
        t(
            S::PaymentSent,
            A::Seller,
            K::PaymentReceived,
            S::PaymentConfirmed,
            Some(E),
        ),
        t(
            S::PaymentSent,
            A::Seller,
            K::PaymentReceived,
            S::Completed,
            Some(N),
        ),
        t(
            S::PaymentConfirmed,
            A::Buyer,
            K::Released,
            S::Released,
            Some(E),
        ),
        t(
            S::PaymentConfirmed,
            A::Chain,
            K::Released,
            S::Released,
            Some(E),
        ),
        t(S::Released, A::Chain, K::Confirmed, S::Completed, Some(E)),
        // Before any coins are locked, either side may walk away.
        t(S::Accepted, A::Buyer, K::Cancel, S::Cancelled, None),
        t(S::Accepted, A::Seller, K::Cancel, S::Cancelled, None),
        t(S::EscrowFunding, A::Buyer, K::Cancel, S::Cancelled, Some(E)),
        t(
            S::EscrowFunding,
            A::Seller,
            K::Cancel,
            S::Cancelled,
            Some(E),
        ),
        t(
            S::EscrowFunding,
            A::Clock,
            K::FundingExpired,
            S::Expired,
            Some(E),
        ),
        // Once coins are locked, only the arbitrator ends a trade the parties cannot finish.
        t(
            S::EscrowFunded,
            A::Clock,
            K::PaymentExpired,
            S::Disputed,
            Some(E),
        ),
        t(
            S::PaymentConfirmed,
            A::Clock,
            K::ReleaseExpired,
            S::Disputed,
            Some(E),
        ),
        t(
            S::PaymentSent,
            A::Clock,
            K::ConfirmExpired,
            S::Disputed,
            Some(E),
        ),
        // The chain is the judge: funding a reorg took away is waited for again.
        t(
            S::EscrowFunded,
            A::Chain,
            K::FundingLost,
            S::EscrowFunding,
            Some(E),
        ),
        t(S::EscrowFunded, A::Buyer, K::Dispute, S::Disputed, Some(E)),
        t(S::EscrowFunded, A::Seller, K::Dispute, S::Disputed, Some(E)),
        t(S::PaymentSent, A::Buyer, K::Dispute, S::Disputed, Some(E)),
        t(S::PaymentSent, A::Seller, K::Dispute, S::Disputed, Some(E)),
        t(
            S::PaymentConfirmed,
            A::Buyer,
            K::Dispute,
            S::Disputed,
            Some(E),
        ),
        t(S::Disputed, A::Arbitrator, K::Resolve, S::Resolved, Some(E)),
    ]
};

/// Every way a step can be refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TradeError {
    #[error("the trade is {state}: it is over, nothing can follow")]
    Finished { state: TradeState },
    #[error("the {actor} cannot {kind} while the trade is {state}")]
    NotAllowed {
        actor: Actor,
        kind: StepKind,
        state: TradeState,
    },
    #[error("{kind} is not a step of a trade without escrow")]
    NoEscrow { kind: StepKind },
    #[error("too large: {size} bytes, at most {max} are accepted")]
    TooLarge { size: usize, max: usize },
    #[error("malformed trade step: {0}")]
    Malformed(String),
    #[error("not in canonical encoding")]
    NonCanonical,
    #[error("the signer key is not usable: {0}")]
    BadKey(String),
    #[error("the signature does not verify")]
    BadSignature,
    #[error("signed by {signer}, but the sender named inside is {sender}")]
    SignerMismatch { sender: String, signer: String },
    #[error("the reason is {chars} characters; at most {MAX_REASON_CHARS} are allowed")]
    ReasonTooLong { chars: usize },
    #[error("internal error: {0}")]
    Internal(String),
}

impl TradeError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::Internal(_) => ErrorKind::Internal,
            _ => ErrorKind::InvalidInput,
        }
    }
}

impl From<TradeError> for crate::Error {
    fn from(e: TradeError) -> Self {
        match e.kind() {
            ErrorKind::Internal => Self::Internal(e.to_string()),
            _ => Self::InvalidInput(e.to_string()),
        }
    }
}

impl From<SigningError> for TradeError {
    fn from(e: SigningError) -> Self {
        match e {
            SigningError::BadKey(r) => Self::BadKey(r),
            SigningError::BadSignature => Self::BadSignature,
            SigningError::Internal(r) => Self::Internal(r),
        }
    }
}

/// The state after `actor` makes `kind` in `from`, or why it may not.
pub fn next_state(
    from: TradeState,
    actor: Actor,
    kind: StepKind,
    mode: Mode,
) -> Result<TradeState, TradeError> {
    if !from.is_open() {
        return Err(TradeError::Finished { state: from });
    }
    let allowed = |t: &&Transition| t.mode.is_none_or(|m| m == mode);
    if let Some(found) = TRANSITIONS
        .iter()
        .filter(allowed)
        .find(|t| t.from == from && t.actor == actor && t.kind == kind)
    {
        return Ok(found.to);
    }
    if mode == Mode::NoEscrow && !TRANSITIONS.iter().filter(allowed).any(|t| t.kind == kind) {
        return Err(TradeError::NoEscrow { kind });
    }
    Err(TradeError::NotAllowed {
        actor,
        kind,
        state: from,
    })
}

/// What a party's signed step says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum StepBody {
    /// "My escrow key for this trade, and where my coins go": the buyer's payout address, or the
    /// seller's refund address. Not a transition by itself: once a node has both, it records
    /// [`StepKind::EscrowReady`].
    EscrowKeys {
        pubkey: Vec<u8>,
        address: String,
    },
    PaymentSent,
    /// The seller confirms the payment; with an escrow, it carries the release PSBT it signed.
    PaymentReceived {
        release_psbt: Vec<u8>,
    },
    /// The buyer broadcast the release.
    Released {
        txid: String,
    },
    Cancel {
        reason: String,
    },
    Dispute {
        reason: String,
    },
    /// Coins of the counterparty's escrow output that are nobody else's (a cancelled or expired trade's
    /// funding, surplus, coins that came late), paid back to the address it named, signed by this party:
    /// the counterparty checks, co-signs and broadcasts. Not a transition.
    Return {
        psbt: Vec<u8>,
    },
}

impl StepBody {
    /// The transition this body asks for; `None` for [`StepBody::EscrowKeys`].
    pub fn kind(&self) -> Option<StepKind> {
        Some(match self {
            Self::EscrowKeys { .. } | Self::Return { .. } => return None,
            Self::PaymentSent => StepKind::PaymentSent,
            Self::PaymentReceived { .. } => StepKind::PaymentReceived,
            Self::Released { .. } => StepKind::Released,
            Self::Cancel { .. } => StepKind::Cancel,
            Self::Dispute { .. } => StepKind::Dispute,
        })
    }

    /// The `trade_events.kind` text.
    pub fn event_kind(&self) -> &'static str {
        match self {
            Self::EscrowKeys { .. } => "escrow_keys",
            Self::Return { .. } => "return",
            _ => self.kind().map_or("step", StepKind::as_str),
        }
    }
}

/// A step as signed: which trade, who, what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TradeStep {
    pub trade_id: Uuid,
    pub sender: PeerId,
    /// The sender's clock (unix ms), for the record.
    pub at: i64,
    pub body: StepBody,
}

#[derive(Serialize, Deserialize)]
struct WireStep {
    trade_id: [u8; 16],
    sender: Vec<u8>,
    at: i64,
    body: StepBody,
}

/// A step with its signature: `bytes` is the canonical postcard of the step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedStep {
    pub bytes: Vec<u8>,
    pub key: Vec<u8>,
    pub signature: Vec<u8>,
}

impl TradeStep {
    fn check(&self) -> Result<(), TradeError> {
        if let StepBody::Cancel { reason } | StepBody::Dispute { reason } = &self.body {
            let chars = reason.chars().count();
            if chars > MAX_REASON_CHARS {
                return Err(TradeError::ReasonTooLong { chars });
            }
        }
        Ok(())
    }

    fn encode(&self) -> Result<Vec<u8>, TradeError> {
        postcard::to_stdvec(&WireStep {
            trade_id: self.trade_id.into_bytes(),
            sender: self.sender.to_bytes(),
            at: self.at,
            body: self.body.clone(),
        })
        .map_err(|e| TradeError::Internal(format!("encoding a step: {e}")))
    }

    pub fn sign(&self, keypair: &Keypair) -> Result<SignedStep, TradeError> {
        self.check()?;
        let bytes = self.encode()?;
        let (key, signature) = crate::signing::sign(TRADE_STEP_SIGNING_TAG, &bytes, keypair)?;
        let signed = SignedStep {
            bytes,
            key,
            signature,
        };
        let size = signed.to_bytes()?.len();
        if size > MAX_SIGNED_STEP_BYTES {
            return Err(TradeError::TooLarge {
                size,
                max: MAX_SIGNED_STEP_BYTES,
            });
        }
        Ok(signed)
    }
}

/// Decodes step bytes stored after their signature was checked (the event log).
pub fn decode_step(bytes: &[u8]) -> Result<TradeStep, TradeError> {
    let wire: WireStep =
        crate::codec::decode_exact(bytes, "trade step").map_err(TradeError::Malformed)?;
    Ok(TradeStep {
        trade_id: Uuid::from_bytes(wire.trade_id),
        sender: PeerId::from_bytes(&wire.sender)
            .map_err(|e| TradeError::Malformed(format!("sender: {e}")))?,
        at: wire.at,
        body: wire.body,
    })
}

impl SignedStep {
    pub fn to_bytes(&self) -> Result<Vec<u8>, TradeError> {
        postcard::to_stdvec(self).map_err(|e| TradeError::Internal(format!("encoding: {e}")))
    }

    /// Size, strict decoding, signature, signer ↔ sender, content rules.
    pub fn verify(bytes: &[u8]) -> Result<(TradeStep, SignedStep), TradeError> {
        if bytes.len() > MAX_SIGNED_STEP_BYTES {
            return Err(TradeError::TooLarge {
                size: bytes.len(),
                max: MAX_SIGNED_STEP_BYTES,
            });
        }
        let signed: SignedStep =
            crate::codec::decode_exact(bytes, "signed step").map_err(TradeError::Malformed)?;
        let step = signed.open()?;
        Ok((step, signed))
    }

    /// Checks the signature and decodes the step inside.
    pub fn open(&self) -> Result<TradeStep, TradeError> {
        let signer = crate::signing::verify(
            TRADE_STEP_SIGNING_TAG,
            &self.bytes,
            &self.key,
            &self.signature,
        )?;
        let wire: WireStep =
            crate::codec::decode_exact(&self.bytes, "trade step").map_err(TradeError::Malformed)?;
        let sender = PeerId::from_bytes(&wire.sender)
            .map_err(|e| TradeError::Malformed(format!("sender: {e}")))?;
        let step = TradeStep {
            trade_id: Uuid::from_bytes(wire.trade_id),
            sender,
            at: wire.at,
            body: wire.body,
        };
        if step.encode()? != self.bytes {
            return Err(TradeError::NonCanonical);
        }
        if signer != sender {
            return Err(TradeError::SignerMismatch {
                sender: sender.to_base58(),
                signer: signer.to_base58(),
            });
        }
        step.check()?;
        Ok(step)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACTORS: [Actor; 5] = [
        Actor::Buyer,
        Actor::Seller,
        Actor::Arbitrator,
        Actor::Chain,
        Actor::Clock,
    ];
    const KINDS: [StepKind; 14] = [
        StepKind::FundingLost,
        StepKind::ConfirmExpired,
        StepKind::EscrowReady,
        StepKind::Funded,
        StepKind::PaymentSent,
        StepKind::PaymentReceived,
        StepKind::Released,
        StepKind::Confirmed,
        StepKind::Cancel,
        StepKind::FundingExpired,
        StepKind::PaymentExpired,
        StepKind::ReleaseExpired,
        StepKind::Dispute,
        StepKind::Resolve,
    ];

    /// The table, written out once more by hand: every (state, actor, step, mode) not listed here must
    /// be refused, and every one listed must lead exactly there.
    fn expected(from: TradeState, actor: Actor, kind: StepKind, mode: Mode) -> Option<TradeState> {
        use Actor as A;
        use Mode::*;
        use StepKind as K;
        use TradeState as S;
        Some(match (from, actor, kind, mode) {
            (S::Accepted, A::Chain, K::EscrowReady, Escrow) => S::EscrowFunding,
            (S::EscrowFunding, A::Chain, K::Funded, Escrow) => S::EscrowFunded,
            (S::EscrowFunded, A::Buyer, K::PaymentSent, Escrow) => S::PaymentSent,
            (S::Accepted, A::Buyer, K::PaymentSent, NoEscrow) => S::PaymentSent,
            (S::PaymentSent, A::Seller, K::PaymentReceived, Escrow) => S::PaymentConfirmed,
            (S::PaymentSent, A::Seller, K::PaymentReceived, NoEscrow) => S::Completed,
            (S::PaymentConfirmed, A::Buyer | A::Chain, K::Released, Escrow) => S::Released,
            (S::Released, A::Chain, K::Confirmed, Escrow) => S::Completed,
            (S::Accepted, A::Buyer | A::Seller, K::Cancel, _) => S::Cancelled,
            (S::EscrowFunding, A::Buyer | A::Seller, K::Cancel, Escrow) => S::Cancelled,
            (S::EscrowFunding, A::Clock, K::FundingExpired, Escrow) => S::Expired,
            (S::EscrowFunded, A::Clock, K::PaymentExpired, Escrow) => S::Disputed,
            (S::PaymentConfirmed, A::Clock, K::ReleaseExpired, Escrow) => S::Disputed,
            (S::PaymentSent, A::Clock, K::ConfirmExpired, Escrow) => S::Disputed,
            (S::EscrowFunded, A::Chain, K::FundingLost, Escrow) => S::EscrowFunding,
            (S::EscrowFunded | S::PaymentSent, A::Buyer | A::Seller, K::Dispute, Escrow) => {
                S::Disputed
            }
            (S::PaymentConfirmed, A::Buyer, K::Dispute, Escrow) => S::Disputed,
            (S::Disputed, A::Arbitrator, K::Resolve, Escrow) => S::Resolved,
            _ => return None,
        })
    }

    #[test]
    fn the_full_transition_table_is_enforced() {
        let mut allowed = 0;
        for from in TradeState::ALL {
            for actor in ACTORS {
                for kind in KINDS {
                    for mode in [Mode::Escrow, Mode::NoEscrow] {
                        let got = next_state(from, actor, kind, mode);
                        match (expected(from, actor, kind, mode), got) {
                            (Some(to), Ok(got)) => {
                                assert_eq!(got, to, "{from} {actor} {kind} {mode:?}");
                                allowed += 1;
                            }
                            (None, Err(e)) => {
                                // Every refusal names what was refused.
                                let text = e.to_string();
                                assert!(
                                    text.contains(from.as_str()) || text.contains(kind.as_str()),
                                    "{text}"
                                );
                            }
                            (want, got) => {
                                panic!("{from} {actor} {kind} {mode:?}: want {want:?}, got {got:?}")
                            }
                        }
                    }
                }
            }
        }
        assert_eq!(allowed, 26);
        // A closed state is left by no step; every open state after agreement by some step.
        for state in TradeState::ALL {
            let left = TRANSITIONS.iter().any(|t| t.from == state);
            assert_eq!(left, state.is_open() && !state.is_negotiating(), "{state}");
        }
        assert!(TradeState::Disputed.is_open());
    }

    #[test]
    fn refusals_say_why() {
        let err = next_state(
            TradeState::EscrowFunded,
            Actor::Seller,
            StepKind::PaymentSent,
            Mode::Escrow,
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "the seller cannot payment_sent while the trade is EscrowFunded"
        );
        let err = next_state(
            TradeState::Accepted,
            Actor::Chain,
            StepKind::EscrowReady,
            Mode::NoEscrow,
        )
        .unwrap_err();
        assert!(err.to_string().contains("without escrow"), "{err}");
        let err = next_state(
            TradeState::Completed,
            Actor::Buyer,
            StepKind::Dispute,
            Mode::Escrow,
        )
        .unwrap_err();
        assert!(err.to_string().contains("it is over"), "{err}");
    }

    #[test]
    fn signed_steps_round_trip_and_refuse_forgery() {
        let key = Keypair::generate_ed25519();
        let step = TradeStep {
            trade_id: Uuid::now_v7(),
            sender: key.public().to_peer_id(),
            at: 5,
            body: StepBody::Dispute {
                reason: "no payment".into(),
            },
        };
        let signed = step.sign(&key).unwrap();
        let (opened, _) = SignedStep::verify(&signed.to_bytes().unwrap()).unwrap();
        assert_eq!(opened, step);
        // Signed by someone else than the sender named inside.
        let other = Keypair::generate_ed25519();
        let (key_bytes, signature) =
            crate::signing::sign(TRADE_STEP_SIGNING_TAG, &signed.bytes, &other).unwrap();
        let forged = SignedStep {
            bytes: signed.bytes.clone(),
            key: key_bytes,
            signature,
        };
        assert!(matches!(
            forged.open(),
            Err(TradeError::SignerMismatch { .. })
        ));
        let mut tampered = signed.clone();
        *tampered.bytes.last_mut().unwrap() ^= 1;
        assert!(matches!(tampered.open(), Err(TradeError::BadSignature)));
        let long = TradeStep {
            body: StepBody::Cancel {
                reason: "x".repeat(MAX_REASON_CHARS + 1),
            },
            ..step
        };
        assert!(matches!(
            long.sign(&key),
            Err(TradeError::ReasonTooLong { .. })
        ));
    }
}
