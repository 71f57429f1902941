//! What went wrong, as a category every layer shares: a leaf module (it imports nothing of the crate), so
//! a module can name the kind of its own errors without depending on `error.rs`, which wraps them all.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// What went wrong, as a machine-readable category. Serialised in `snake_case` over every boundary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorKind {
    WrongPassphrase,
    KeystoreCorrupt,
    /// A backup file is damaged, truncated, of a newer version or not a backup at all.
    BackupCorrupt,
    AlreadyInitialized,
    NotInitialized,
    InvalidSeedPhrase,
    InvalidInput,
    NewerSchema,
    /// The action needs the network, which is not running.
    Offline,
    /// The other side (a maker, a counterparty, an arbitrator) sent something invalid: neither this
    /// user's mistake nor this node's fault.
    PeerMisbehaved,
    Storage,
    Io,
    Internal,
}

impl ErrorKind {
    /// `true` when the user (not the program) can fix it: exit code 1 in the CLI, 2 otherwise.
    pub fn is_user_error(self) -> bool {
        !matches!(
            self,
            Self::Storage | Self::Io | Self::Internal | Self::PeerMisbehaved
        )
    }
}
