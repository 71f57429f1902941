//! The trade desk's errors: one helper each for what every part of `trading` reports (SQL, an internal
//! failure, a peer's invalid input), and the errors of single operations with a `kind()` — the model
//! the other operations follow (see docs/architecture.md).
//!
//! A peer's invalid input is [`Error::Peer`] (`ErrorKind::PeerMisbehaved`): never reported as this
//! user's mistake, and told back to the peer as it is (`protocol::reason_for_peer`).

use libp2p::PeerId;
use uuid::Uuid;

use crate::{error::Error, error_kind::ErrorKind, store::StoreError};

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
}
