//! Errors of the network layer, each with a stable [`ErrorKind`].

use std::time::Duration;

use libp2p::PeerId;

use super::InboundId;
use crate::ErrorKind;

/// Why a network operation failed.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum NetError {
    /// The network task has ended (after `shutdown()`, or because it failed).
    #[error("network stopped")]
    Stopped,
    #[error("could not set up the network transport: {0}")]
    Transport(String),
    #[error("cannot listen on {addr}: {reason}")]
    Listen { addr: String, reason: String },
    #[error("cannot dial {addr}: {reason}")]
    Dial { addr: String, reason: String },
    #[error("invalid address {addr}: {reason}")]
    InvalidAddress { addr: String, reason: String },
    #[error("no known peers: configure a bootstrap peer or dial one first")]
    NoKnownPeers,
    #[error("{what} timed out")]
    QueryTimedOut { what: &'static str },
    #[error("record of {size} bytes is too large (limit {max} bytes)")]
    RecordTooLarge { size: usize, max: usize },
    #[error("the local record store is full")]
    StoreFull,
    #[error("invalid gossip topic {topic:?}: {reason}")]
    InvalidTopic { topic: String, reason: String },
    #[error("message of {size} bytes is too large to gossip")]
    MessageTooLarge { size: usize },
    /// Refused locally, before anything was sent.
    #[error("request of {size} bytes is too large (limit {max} bytes)")]
    RequestTooLarge { size: usize, max: usize },
    /// Our own answer is over our limit; the request stays pending, a smaller answer can follow.
    #[error("answer of {size} bytes is too large (limit {max} bytes)")]
    AnswerTooLarge { size: usize, max: usize },
    /// The peer's answer is over our limit; it was not read.
    #[error("{peer} answered with {size} bytes, over the limit of {max} bytes")]
    ResponseTooLarge {
        peer: PeerId,
        size: usize,
        max: usize,
    },
    /// No answer in time: our request timeout ran out, or the peer's own did first.
    #[error("{peer} did not answer within {after:?}")]
    RequestTimedOut { peer: PeerId, after: Duration },
    /// The peer said "not now" (too many of our requests pending there, or nobody to answer):
    /// worth retrying later.
    #[error("{peer} refused the request")]
    RequestRefused { peer: PeerId },
    #[error("request to {peer} failed: {reason}")]
    RequestFailed { peer: PeerId, reason: String },
    /// No connection to the peer could be made (no known address, or every dial failed): the
    /// request was never sent, so sending it again is safe.
    #[error("request to {peer} failed: could not connect (no known address, or every dial failed)")]
    NotConnected { peer: PeerId },
    #[error(
        "no inbound request {id} waits for an answer: already answered, expired, or its connection closed"
    )]
    UnknownRequest { id: InboundId },
    #[error(
        "inbound request {id} expired or its connection closed before the answer could be sent"
    )]
    RequestClosed { id: InboundId },
    /// Tor mode's `tor` could not be started, bootstrapped or asked to publish the onion service.
    #[error("Tor: {0}")]
    Tor(String),
    #[error("network error: {0}")]
    Internal(String),
}

impl NetError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::InvalidAddress { .. }
            | Self::RecordTooLarge { .. }
            | Self::InvalidTopic { .. }
            | Self::MessageTooLarge { .. }
            | Self::RequestTooLarge { .. }
            | Self::AnswerTooLarge { .. }
            | Self::UnknownRequest { .. } => ErrorKind::InvalidInput,
            Self::Listen { .. }
            | Self::Dial { .. }
            | Self::NoKnownPeers
            | Self::QueryTimedOut { .. }
            | Self::ResponseTooLarge { .. }
            | Self::RequestTimedOut { .. }
            | Self::RequestRefused { .. }
            | Self::RequestFailed { .. }
            | Self::NotConnected { .. }
            | Self::RequestClosed { .. }
            | Self::Tor(_) => ErrorKind::Io,
            Self::Stopped | Self::Transport(_) | Self::StoreFull | Self::Internal(_) => {
                ErrorKind::Internal
            }
        }
    }
}
