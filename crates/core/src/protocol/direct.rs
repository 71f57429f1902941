//! What travels on the direct request-response protocol (`/souk/direct/1.0.0`): one request enum for
//! every service, so each service answers only its own requests and exactly one answers each.
//!
//! Postcard encodes the variant index first; `Offers` stays index 0 so nodes of the offer-book release
//! keep understanding each other. New services are appended, never inserted.

use serde::{Deserialize, Serialize};

/// A request a peer sends us.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum DirectRequest {
    /// "Send me your live offers in this market": base and quote codes. Answered by the market.
    Offers { base: String, quote: String },
    /// A sealed take request (`channel::SealedTake` bytes) for one of our offers. Answered by the trade
    /// desk with a [`TakeAnswer`].
    Take(Vec<u8>),
    /// One signed envelope (`channel::SignedEnvelope` bytes) of a trade channel. Answered by the trade
    /// desk with an [`EnvelopeAnswer`].
    Envelope(Vec<u8>),
    /// A party's dispute case, sealed to the arbitrator (a `channel::SealedTake` whose plaintext is a
    /// `DisputeCase`). Answered by the arbitrator's desk with [`Stored`].
    Dispute(Vec<u8>),
    /// The arbitrator's signed resolution, to each party. Answered with [`Stored`].
    Resolution(Vec<u8>),
    /// A funder asks the arbitrator to co-sign the return of its own escrow output while the other
    /// party's output holds nothing (a `channel::SealedTake` whose plaintext is a `ReturnRequest`).
    /// Answered with a [`ReturnAnswer`].
    Return(Vec<u8>),
    /// Seed-only recovery: a party leaves its sealed copy of a trade with its counterparty, or a
    /// restored node asks for its copies back (`trading::recovery::RecoveryRequest` bytes). Answered
    /// with a `RecoveryAnswer`.
    Recovery(Vec<u8>),
    /// Reputation: the maker asks the taker to countersign the receipt of their ended trade
    /// (`trading::receipts::ReceiptRequest` bytes). Answered with a [`ReturnAnswer`] (the signature).
    Receipt(Vec<u8>),
}

/// The arbitrator's answer to a return request: the PSBT signed by it, refused, or not now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReturnAnswer {
    Signed(Vec<u8>),
    Refused(String),
    Later(String),
}

/// What a peer is told when this node refuses what it sent: the reason when it is about what the peer
/// sent (a check of its input, the escrow's checks of a PSBT or a key); otherwise (this node's database,
/// disk, chain node, …) only that it failed here, never the internal, SQL, path or chain text.
pub fn reason_for_peer(e: &crate::Error) -> String {
    if matches!(
        e,
        crate::Error::InvalidInput(_) | crate::Error::Peer(_) | crate::Error::Escrow(_)
    ) {
        e.to_string()
    } else {
        "the node could not handle this now (a problem on its side, not in what was sent): try again later"
            .into()
    }
}

impl ReturnAnswer {
    pub fn of(result: Result<Vec<u8>, crate::Error>) -> Self {
        use crate::ErrorKind;
        match result {
            Ok(psbt) => Self::Signed(psbt),
            Err(e) => match e.kind() {
                ErrorKind::Io | ErrorKind::Storage | ErrorKind::Internal | ErrorKind::Offline => {
                    Self::Later(reason_for_peer(&e))
                }
                _ => Self::Refused(reason_for_peer(&e)),
            },
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        postcard::to_stdvec(self).unwrap_or_default()
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, String> {
        crate::codec::decode_exact(bytes, "return answer")
    }
}

/// Stored, refused with the reason, or not now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Stored {
    Stored,
    /// For good: sending the same bytes again will be refused again.
    Refused(String),
    /// Not now: the receiver could not handle it for a reason of its own (its chain node unreachable,
    /// its disk failing, …); send it again later. (Appended: a node that does not know this answer
    /// fails to decode it, which its sender treats as "not delivered" and retries, as wanted.)
    Later(String),
}

impl Stored {
    /// The answer for how handling a case or a resolution went: failures the sender cannot have caused
    /// (I/O, storage, the chain node, this node offline) ask it to come back later instead of
    /// ending delivery — an escrow must never stay locked because a chain node was down for a moment.
    pub fn of(result: &Result<(), crate::Error>) -> Self {
        use crate::ErrorKind;
        match result {
            Ok(()) => Self::Stored,
            Err(e) => match e.kind() {
                ErrorKind::Io | ErrorKind::Storage | ErrorKind::Internal | ErrorKind::Offline => {
                    Self::Later(reason_for_peer(e))
                }
                _ => Self::Refused(reason_for_peer(e)),
            },
        }
    }
}

impl DirectRequest {
    pub fn encode(&self) -> Vec<u8> {
        // Encoding an enum of byte strings into a Vec cannot fail.
        postcard::to_stdvec(self).unwrap_or_default()
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, String> {
        crate::codec::decode_exact(bytes, "direct request")
    }
}

/// The maker's answer to a take request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TakeAnswer {
    /// The channel is open: `channel::SignedAccept` bytes.
    Accepted(Vec<u8>),
    /// Refused, with the reason the taker is shown.
    Refused(String),
}

/// The recipient's answer to an envelope: a cumulative acknowledgement or a refusal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum EnvelopeAnswer {
    /// Every envelope below `next` is stored; `next` is the one expected now. An answer for an
    /// envelope at or above `next` means a gap: re-send from `next`.
    Ack { next: u64 },
    /// Dropped without storing anything (a duplicate, or too far ahead), with the reason; `next` as in
    /// `Ack`, so an honest sender whose earlier acknowledgement was lost carries on.
    Dropped { next: u64, reason: String },
    /// Refused and not stored, with the reason.
    Refused(String),
}

macro_rules! answer_codec {
    ($ty:ty, $what:literal) => {
        impl $ty {
            pub fn encode(&self) -> Vec<u8> {
                postcard::to_stdvec(self).unwrap_or_default()
            }

            pub fn decode(bytes: &[u8]) -> Result<Self, String> {
                crate::codec::decode_exact(bytes, $what)
            }
        }
    };
}

answer_codec!(TakeAnswer, "take answer");
answer_codec!(EnvelopeAnswer, "envelope answer");
answer_codec!(Stored, "answer");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_of_the_receivers_own_are_later_and_bad_input_is_refused() {
        use crate::{Error, chain::ChainError};
        assert_eq!(Stored::of(&Ok(())), Stored::Stored);
        let down = Error::Chain(ChainError::Unreachable {
            url: "http://127.0.0.1:1/".into(),
            reason: "connection refused".into(),
        });
        // Later, and without the chain node's address or error: that is this node's business.
        assert!(matches!(Stored::of(&Err(down)), Stored::Later(r)
                if r.contains("try again later") && !r.contains("127.0.0.1") && !r.contains("refused")));
        assert!(matches!(Stored::of(&Err(Error::Offline)), Stored::Later(_)));
        let bad = Error::InvalidInput("a resolution signed by a stranger".into());
        assert!(matches!(Stored::of(&Err(bad)), Stored::Refused(r) if r.contains("stranger")));
    }

    #[test]
    fn later_is_appended_so_older_nodes_retry_on_it() {
        assert_eq!(Stored::Stored.encode()[0], 0);
        assert_eq!(Stored::Refused("x".into()).encode()[0], 1);
        let later = Stored::Later("disk full".into()).encode();
        assert_eq!(later[0], 2);
        assert_eq!(
            Stored::decode(&later).unwrap(),
            Stored::Later("disk full".into())
        );
        // What a node from before `Later` makes of it: undecodable, i.e. "not delivered, try again".
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        enum OldStored {
            Stored,
            Refused(String),
        }
        assert!(postcard::from_bytes::<OldStored>(&later).is_err());
    }

    #[test]
    fn offers_request_keeps_the_first_variant_index() {
        let bytes = DirectRequest::Offers {
            base: "BTC".into(),
            quote: "EUR".into(),
        }
        .encode();
        assert_eq!(bytes[0], 0, "Offers must stay variant 0 for older nodes");
        assert_eq!(DirectRequest::Envelope(vec![1, 2]).encode()[0], 2);
    }

    #[test]
    fn round_trips_and_refuses_trailing_bytes() {
        let request = DirectRequest::Take(vec![9; 40]);
        assert_eq!(DirectRequest::decode(&request.encode()).unwrap(), request);
        let mut bytes = request.encode();
        bytes.push(0);
        assert!(DirectRequest::decode(&bytes).is_err());
        let answer = EnvelopeAnswer::Ack { next: 7 };
        assert_eq!(EnvelopeAnswer::decode(&answer.encode()).unwrap(), answer);
        assert!(TakeAnswer::decode(&[7]).is_err());
    }
}
