//! The flags of `souk backup …`: one encrypted file with the identity, the database and the settings.

use std::path::PathBuf;

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub(crate) enum BackupCommand {
    /// Write an encrypted backup (keystore, database, souk.toml) to FILE, or to a new file in FILE when
    /// it is a folder; works while `souk node` runs. It opens with the keystore passphrase.
    Export {
        /// A new file (an existing one is never replaced) or a folder
        #[arg(value_name = "FILE")]
        target: PathBuf,
    },
    /// Restore a backup into an empty data directory (one with an identity or a database is refused)
    Import {
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
    /// Whose backup FILE is and when it was made (no passphrase needed); checks it for damage
    Info {
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
}
