//! The trade desk's errors: one helper each for what every part of `trading` reports (SQL, an internal
//! failure, a peer's invalid input), and the errors of single operations with a `kind()` — the model
//! the other operations follow (see docs/architecture.md).
//!
//! A peer's invalid input is [`Error::Peer`] (`ErrorKind::PeerMisbehaved`): never reported as this
//! user's mistake, and told back to the peer as it is (`protocol::reason_for_peer`).

use libp2p::PeerId;
use uuid::Uuid;

use crate::{
    error::Error,
    error_kind::ErrorKind,
    protocol::{roles::Winner, settlement::TradeState},
    store::StoreError,
};

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

/// Why a settlement step was refused: giving the escrow address, funding from a node wallet, saying
/// the payment was sent or arrived, cancelling, opening a dispute ([`crate::trading::Desk`]'s settlement
/// calls), and the checks the escrow's setup and release make on the way.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SettleError {
    #[error("trade {0} has no escrow")]
    NoEscrow(Uuid),
    #[error(
        "no chain backend is configured: choose one in Settings → Connection (or start `souk node` \
         with --chain, --network and --rpc-url)"
    )]
    NoChain,
    #[error("this is a {trade} trade, but the chain backend is {backend}")]
    WrongChain {
        trade: &'static str,
        backend: &'static str,
    },
    #[error("trade {trade_id} is still being negotiated ({state}): agree on the terms first")]
    Negotiating { trade_id: Uuid, state: TradeState },
    /// The step does not follow from the trade's state (or its reason is too long, say).
    #[error(transparent)]
    Step(#[from] crate::protocol::settlement::TradeError),
    #[error("the escrow address of trade {trade_id} was given already ({given})")]
    AddressGiven { trade_id: Uuid, given: String },
    #[error("trade {0}'s escrow address is another trade's: refusing to use it")]
    AddressOfAnotherTrade(Uuid),
    /// The address given for this party's coins is not one of the trade's chain and network.
    #[error("{0}")]
    BadAddress(String),
    /// A party's payout (buyer) or refund (seller) address is not known yet.
    #[error("the {0}'s address is not known yet")]
    AddressUnknown(&'static str),
    /// The escrow's address is not computed yet (the keys have not all arrived).
    #[error("the escrow address is not agreed yet")]
    EscrowAddressUnknown,
    #[error("the escrow is not set up yet")]
    NotSetUp,
    #[error("the escrow is not set up yet: nothing to release")]
    NothingToRelease,
    #[error("the escrow holds nothing on the chain: it is not funded (or was spent)")]
    EmptyEscrow,
    #[error("the {funder}'s escrow output holds {held}, less than the {owed} it must: not funded")]
    Underfunded {
        funder: &'static str,
        held: u64,
        owed: u64,
    },
    #[error("the buyer's payout {payout} cannot hold the release's fee reserve of {reserve}")]
    PayoutBelowReserve { payout: u64, reserve: u64 },
    /// The offer's escrow cannot be set up: the arbitrator's id does not parse, its key does not
    /// derive, the escrow's script does not build.
    #[error("{0}")]
    Escrow(String),
    #[error("arbitrator {0} is a party of this trade: nobody may hold two of the escrow's keys")]
    ArbitratorIsParty(PeerId),
    /// Excluded in `souk.toml` (`[trade] exclude_arbitrators`) or in Settings.
    #[error("arbitrator {arbitrator} is one you excluded ({by})")]
    ArbitratorExcluded {
        arbitrator: PeerId,
        by: &'static str,
    },
    /// Not on the accepted list of `souk.toml` (`[trade] arbitrators`) or of Settings.
    #[error("arbitrator {arbitrator} is not one you accept ({by})")]
    ArbitratorNotAccepted {
        arbitrator: PeerId,
        by: &'static str,
    },
    #[error(
        "arbitrator {arbitrator} has not renewed its announcement for {days} days: it may be gone"
    )]
    ArbitratorStale { arbitrator: PeerId, days: i64 },
    #[error(
        "arbitrator {arbitrator} has no announcement for {chain} {network} in the DHT (is it online \
         with --arbitrator?)"
    )]
    ArbitratorUnannounced {
        arbitrator: PeerId,
        chain: &'static str,
        network: crate::escrow::Network,
    },
    /// The announcement found does not verify, or is another arbitrator's or another chain's.
    #[error("{0}")]
    BadAnnouncement(String),
    #[error(
        "funding from a node wallet needs the Core backend; through an Electrum server, pay the \
         escrow address (or its payment link) from your own wallet"
    )]
    WalletNeedsCore,
    #[error("name the node wallet to pay from")]
    NoWalletName,
    #[error(
        "wallet name {0:?}: Souk pays from wallets named with letters, digits, `-`, `_` and `.`"
    )]
    BadWalletName(String),
    #[error("trade {trade_id} is {state}: escrows are funded only while it waits for funding")]
    NotFunding { trade_id: Uuid, state: TradeState },
    /// Already paid, in coins (the mempool counted).
    #[error("your escrow output already holds {held} of the {owed} you owe (unconfirmed included)")]
    AlreadyFunded { held: String, owed: String },
    /// The wallet's fee, in coins, is more than a twentieth of what it sends.
    #[error("the wallet would pay {fee} in fees to send {amount}: refused")]
    FeeTooHigh { fee: f64, amount: f64 },
    #[error(
        "the chain node has no wallet `{0}` loaded (load it with `loadwallet {0}`, or name another)"
    )]
    NoSuchWallet(String),
    #[error("the wallet `{wallet}` does not hold enough to fund the escrow: {message}")]
    WalletShort { wallet: String, message: String },
    #[error("the wallet `{0}` is locked: unlock it with walletpassphrase, or export the PSBT")]
    WalletLocked(String),
    #[error(
        "the wallet `{0}` cannot sign this payment (watch-only, or locked: unlock it with \
         walletpassphrase); export the PSBT and sign it elsewhere"
    )]
    WalletCannotSign(String),
    /// The counterparty's release, or the outputs its PSBT spends, do not hold: its fault.
    #[error("{0}")]
    PeerPsbt(String),
    /// This node's own failure (database, keys, the chain backend).
    #[error(transparent)]
    Node(Box<Error>),
}

impl SettleError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::Node(e) => e.kind(),
            Self::Step(e) => e.kind(),
            Self::PeerPsbt(_) => ErrorKind::PeerMisbehaved,
            // The user's to fix (an address, a wallet, a backend, a setting) or to know: exit 1.
            _ => ErrorKind::InvalidInput,
        }
    }
}

impl From<Error> for SettleError {
    fn from(e: Error) -> Self {
        Self::Node(Box::new(e))
    }
}

impl From<sqlx::Error> for SettleError {
    fn from(e: sqlx::Error) -> Self {
        sql(e).into()
    }
}

impl From<crate::chain::ChainError> for SettleError {
    fn from(e: crate::chain::ChainError) -> Self {
        Error::Chain(e).into()
    }
}

impl From<SettleError> for Error {
    fn from(e: SettleError) -> Self {
        match e {
            SettleError::Node(e) => *e,
            SettleError::Step(e) => e.into(),
            SettleError::PeerPsbt(_) => Self::Peer(e.to_string()),
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

    #[test]
    fn a_settlement_refusal_keeps_its_words_and_says_whose_fault_it_is() {
        use crate::protocol::settlement::{Actor, StepKind, TradeError};
        let trade_id = Uuid::nil();
        // The user's to fix: exit 1, in the words the shells always showed.
        for (refusal, words) in [
            (
                SettleError::NoEscrow(trade_id),
                format!("trade {trade_id} has no escrow"),
            ),
            (
                SettleError::AddressGiven {
                    trade_id,
                    given: "ltc1qgiven".into(),
                },
                format!("the escrow address of trade {trade_id} was given already (ltc1qgiven)"),
            ),
            (
                SettleError::ArbitratorExcluded {
                    arbitrator: PeerId::random(),
                    by: "Settings",
                },
                "is one you excluded (Settings)".into(),
            ),
            (
                SettleError::NoSuchWallet("w1".into()),
                "the chain node has no wallet `w1` loaded (load it with `loadwallet w1`, or name \
                 another)"
                    .into(),
            ),
            (
                SettleError::Underfunded {
                    funder: "buyer",
                    held: 5,
                    owed: 9,
                },
                "the buyer's escrow output holds 5, less than the 9 it must: not funded".into(),
            ),
        ] {
            assert_eq!(refusal.kind(), ErrorKind::InvalidInput, "{refusal}");
            let e = Error::from(refusal);
            assert_eq!(e.kind(), ErrorKind::InvalidInput);
            assert!(e.to_string().ends_with(&words), "{e} / {words}");
        }
        // A step the trade's state does not allow: the transition table's words, the user's to know.
        let step = SettleError::from(TradeError::NotAllowed {
            actor: Actor::Buyer,
            kind: StepKind::PaymentSent,
            state: TradeState::EscrowFunding,
        });
        assert_eq!(step.kind(), ErrorKind::InvalidInput);
        assert_eq!(
            Error::from(step).to_string(),
            "the buyer cannot payment_sent while the trade is EscrowFunding"
                .replace("payment_sent", &StepKind::PaymentSent.to_string())
                .replace("EscrowFunding", &TradeState::EscrowFunding.to_string())
        );
        // The counterparty's PSBT that does not hold is its fault, and told to it as it is.
        let release = SettleError::PeerPsbt("the seller's release is refused: fee too high".into());
        assert_eq!(release.kind(), ErrorKind::PeerMisbehaved);
        let e = Error::from(release);
        assert_eq!(e.kind(), ErrorKind::PeerMisbehaved);
        assert_eq!(
            crate::protocol::reason_for_peer(&e),
            "the seller's release is refused: fee too high"
        );
        // This node's own failure keeps its kind, both ways round.
        let own = SettleError::from(Error::Internal("disk".into()));
        assert_eq!(own.kind(), ErrorKind::Internal);
        assert_eq!(Error::from(own).kind(), ErrorKind::Internal);
    }
}
