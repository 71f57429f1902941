//! The trade desk's errors: one helper each for what every part of `trading` reports (SQL, an internal
//! failure, a peer's invalid input), and the errors of single operations with a `kind()` — the model
//! the other operations follow (see docs/architecture.md).
//!
//! A peer's invalid input is [`Error::Peer`] (`ErrorKind::PeerMisbehaved`): never reported as this
//! user's mistake, and told back to the peer as it is (`protocol::reason_for_peer`).

use libp2p::PeerId;
use uuid::Uuid;

use crate::{error::Error, error_kind::ErrorKind, protocol::roles::Winner, store::StoreError};

/// A database failure.
pub(super) fn sql(e: sqlx::Error) -> Error {
    Error::Store(StoreError::Sql(e))
}

/// Something of this node's own that cannot be (a stored value that does not parse, say).
pub(super) fn internal(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Internal(format!("{what}: {e}"))
}

/// A request of this node's user or a value this node holds does not hold (the user's to fix).
pub(super) fn refused(e: impl std::fmt::Display) -> Error {
    Error::InvalidInput(e.to_string())
}

/// What a peer sent does not hold: its fault, said as it is (and told to it so).
pub(super) fn peer_fault(e: impl std::fmt::Display) -> Error {
    Error::Peer(e.to_string())
}

/// A dispute message that does not hold: a peer's unreadable resolution is its fault; a case or an
/// outcome that contradicts itself is refused as before; this node's own signing failure is internal.
impl From<crate::protocol::dispute::DisputeMessageError> for Error {
    fn from(e: crate::protocol::dispute::DisputeMessageError) -> Self {
        use crate::protocol::dispute::DisputeMessageError as M;
        match e {
            M::Internal(message) => Self::Internal(message),
            M::Unreadable(_) => Self::Peer(e.to_string()),
            other => Self::InvalidInput(other.to_string()),
        }
    }
}

/// Why taking an offer failed ([`crate::trading::Desk::take`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TakeError {
    #[error("no offer {0} in the book: it may be gone; refresh the market")]
    NoOffer(Uuid),
    #[error("this is your own offer: it cannot be taken by you")]
    OwnOffer,
    /// The amount, method or payout do not fit the offer, or its arbitrators are not ones this node
    /// accepts.
    #[error("{0}")]
    Terms(String),
    #[error("the maker {maker} is not reachable now, so the offer cannot be taken: {reason}")]
    MakerUnreachable { maker: PeerId, reason: String },
    #[error("the maker refused the take: {0}")]
    Refused(String),
    /// The maker's answer does not decode, or its half of the channel handshake does not hold.
    #[error("the maker answered nonsense to the take: {0}")]
    Nonsense(String),
    /// This node's own failure (database, keys).
    #[error(transparent)]
    Node(Box<Error>),
}

impl TakeError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::NoOffer(_) | Self::OwnOffer | Self::Terms(_) | Self::Refused(_) => {
                ErrorKind::InvalidInput
            }
            // The user's to act on (later, or another offer), as it always was: exit 1.
            Self::MakerUnreachable { .. } => ErrorKind::InvalidInput,
            Self::Nonsense(_) => ErrorKind::PeerMisbehaved,
            Self::Node(e) => e.kind(),
        }
    }
}

impl From<Error> for TakeError {
    fn from(e: Error) -> Self {
        Self::Node(Box::new(e))
    }
}

impl From<TakeError> for Error {
    fn from(e: TakeError) -> Self {
        match e {
            TakeError::Node(e) => *e,
            TakeError::Nonsense(_) => Self::Peer(e.to_string()),
            other => Self::InvalidInput(other.to_string()),
        }
    }
}

/// Why an arbitrator's decision was refused ([`crate::trading::Desk::resolve_dispute`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DisputeError {
    #[error("no dispute about trade {0} here")]
    NoDispute(Uuid),
    #[error("a share for the buyer goes with --to split only, not --to {0}")]
    ShareWithoutSplit(Winner),
    #[error("a split needs the buyer's share (--buyer-gets); the seller gets the rest")]
    SplitWithoutShare,
    #[error(
        "the buyer's share must be more than nothing and less than the {total} the escrow holds; \
         give the whole escrow with --to buyer or --to seller"
    )]
    ShareOutOfRange { total: u64 },
    #[error("the reason is longer than {max} characters")]
    ReasonTooLong { max: usize },
    /// A decision stands: no party refused it, or one has taken it.
    #[error(
        "this dispute was resolved already, to the {to} (decision {round}), and {why}: it stands"
    )]
    Decided {
        to: String,
        round: u32,
        why: &'static str,
    },
    /// Another decision of the same round was stored first (two windows, a double click).
    #[error("this dispute was resolved already, to the {0}")]
    DecidedMeanwhile(String),
    #[error("no chain backend configured")]
    NoChain,
    #[error("the escrow holds nothing on the chain")]
    EmptyEscrow,
    /// The escrow's coins cannot pay this decision (too little for the fee, say).
    #[error("this decision cannot be paid out: {0}")]
    Unpayable(String),
    /// This node's own failure (database, keys, the chain backend), or a stored case that does not hold.
    #[error(transparent)]
    Node(Box<Error>),
}

impl DisputeError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::Node(e) => e.kind(),
            // The arbitrator's to fix (another decision, a chain backend) or to know: exit 1.
            _ => ErrorKind::InvalidInput,
        }
    }
}

impl From<Error> for DisputeError {
    fn from(e: Error) -> Self {
        Self::Node(Box::new(e))
    }
}

impl From<crate::protocol::dispute::DisputeMessageError> for DisputeError {
    fn from(e: crate::protocol::dispute::DisputeMessageError) -> Self {
        Self::Node(Box::new(e.into()))
    }
}

impl From<DisputeError> for Error {
    fn from(e: DisputeError) -> Self {
        match e {
            DisputeError::Node(e) => *e,
            other => Self::InvalidInput(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_maker_s_nonsense_is_the_maker_s_fault_and_told_as_such() {
        let nonsense = TakeError::Nonsense("unreadable answer".into());
        assert_eq!(nonsense.kind(), ErrorKind::PeerMisbehaved);
        let e = Error::from(nonsense);
        assert_eq!(e.kind(), ErrorKind::PeerMisbehaved);
        assert!(!e.kind().is_user_error(), "not the user's mistake");
        assert_eq!(
            e.to_string(),
            "the maker answered nonsense to the take: unreadable answer"
        );
        // The user's own mistakes stay the user's, with the same words as before.
        for (mistake, words) in [
            (
                TakeError::OwnOffer,
                "this is your own offer: it cannot be taken by you",
            ),
            (
                TakeError::Refused("sold out".into()),
                "the maker refused the take: sold out",
            ),
        ] {
            let e = Error::from(mistake);
            assert_eq!(
                (e.kind(), e.to_string().as_str()),
                (ErrorKind::InvalidInput, words)
            );
        }
        // A failure of this node's own keeps its kind.
        let own = Error::from(TakeError::from(Error::Internal("disk".into())));
        assert_eq!(own.kind(), ErrorKind::Internal);
        // A peer's invalid input is told back to it as it is.
        assert_eq!(
            crate::protocol::reason_for_peer(&peer_fault("a step of another trade")),
            "a step of another trade"
        );
    }

    #[test]
    fn a_refused_decision_says_why_in_the_arbitrator_s_words() {
        for (refusal, words) in [
            (
                DisputeError::ShareWithoutSplit(Winner::Buyer),
                "a share for the buyer goes with --to split only, not --to buyer",
            ),
            (
                DisputeError::ShareOutOfRange { total: 1_000 },
                "the buyer's share must be more than nothing and less than the 1000 the escrow \
                 holds; give the whole escrow with --to buyer or --to seller",
            ),
            (
                DisputeError::Decided {
                    to: "seller".into(),
                    round: 2,
                    why: "a party has taken it",
                },
                "this dispute was resolved already, to the seller (decision 2), and a party has \
                 taken it: it stands",
            ),
        ] {
            assert_eq!(refusal.kind(), ErrorKind::InvalidInput);
            let e = Error::from(refusal);
            assert_eq!(
                (e.kind(), e.to_string().as_str()),
                (ErrorKind::InvalidInput, words)
            );
        }
        // This node's own failure keeps its kind, and is not the arbitrator's to fix.
        let own = DisputeError::from(Error::Internal("disk".into()));
        assert_eq!(own.kind(), ErrorKind::Internal);
        assert_eq!(Error::from(own).kind(), ErrorKind::Internal);
    }
}
