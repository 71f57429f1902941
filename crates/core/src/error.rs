//! The error every shell sees: a stable [`ErrorKind`] the UI can act on, and a message a person can read.
//!
//! Module errors (`identity`, `store`, `config`, `escrow`, `chain`, …) convert into [`Error`]; shells never match on strings.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::{
    backup::BackupError, chain::ChainError, config::ConfigError, escrow::EscrowError,
    identity::KeystoreError, net::NetError, price::PriceError, store::StoreError,
};

pub use crate::error_kind::ErrorKind;

/// The error crossing IPC / HTTP / JSON output: `{ kind, message }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, utoipa::ToSchema)]
pub struct ErrorPayload {
    pub kind: ErrorKind,
    pub message: String,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error(transparent)]
    Keystore(KeystoreError),
    #[error(transparent)]
    Backup(#[from] BackupError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Net(#[from] NetError),
    #[error(transparent)]
    Price(#[from] PriceError),
    #[error(transparent)]
    Escrow(#[from] EscrowError),
    #[error(transparent)]
    Chain(#[from] ChainError),
    #[error("the network is not running: unlock the identity and start the node first")]
    Offline,
    #[error("{0}")]
    InvalidInput(String),
    /// What a peer sent is invalid (its fault, told to it as it is: see `protocol::reason_for_peer`).
    #[error("{0}")]
    Peer(String),

    #[error("no identity in {0}: run `souk init` or `souk restore` first")]
    NotInitialized(std::path::PathBuf),
    #[error("an identity already exists in {0}; choose another data directory to create a new one")]
    AlreadyInitialized(std::path::PathBuf),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("internal error: {0}")]
    Internal(String),
}

/// A missing or existing keystore and a failed read or write are the crate's own kinds, as before the
/// keystore had errors of its own.
impl From<KeystoreError> for Error {
    fn from(e: KeystoreError) -> Self {
        match e {
            KeystoreError::Missing(dir) => Self::NotInitialized(dir),
            KeystoreError::Exists(dir) => Self::AlreadyInitialized(dir),
            KeystoreError::Io { context, source } => Self::Io { context, source },
            other => Self::Keystore(other),
        }
    }
}

impl Error {
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            context: context.into(),
            source,
        }
    }

    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::Keystore(e) => e.kind(),
            Self::Backup(e) => e.kind(),
            Self::Store(e) => e.kind(),
            Self::Config(e) => e.kind(),
            Self::Net(e) => e.kind(),
            Self::Price(e) => e.kind(),
            Self::Escrow(e) => e.kind(),
            Self::Chain(e) => e.kind(),
            Self::Offline => ErrorKind::Offline,
            Self::InvalidInput(_) => ErrorKind::InvalidInput,
            Self::Peer(_) => ErrorKind::PeerMisbehaved,

            Self::NotInitialized(_) => ErrorKind::NotInitialized,
            Self::AlreadyInitialized(_) => ErrorKind::AlreadyInitialized,
            Self::Io { .. } => ErrorKind::Io,
            Self::Internal(_) => ErrorKind::Internal,
        }
    }

    pub fn payload(&self) -> ErrorPayload {
        ErrorPayload {
            kind: self.kind(),
            message: self.to_string(),
        }
    }
}

impl From<Error> for ErrorPayload {
    fn from(e: Error) -> Self {
        e.payload()
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
