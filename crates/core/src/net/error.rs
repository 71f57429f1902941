//! Errors of the network layer, each with a stable [`ErrorKind`].

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
    #[error("network error: {0}")]
    Internal(String),
}

impl NetError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::InvalidAddress { .. }
            | Self::RecordTooLarge { .. }
            | Self::InvalidTopic { .. }
            | Self::MessageTooLarge { .. } => ErrorKind::InvalidInput,
            Self::Listen { .. }
            | Self::Dial { .. }
            | Self::NoKnownPeers
            | Self::QueryTimedOut { .. } => ErrorKind::Io,
            Self::Stopped | Self::Transport(_) | Self::StoreFull | Self::Internal(_) => {
                ErrorKind::Internal
            }
        }
    }
}
