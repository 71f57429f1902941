//! The flags of `souk chat …`: a trade's chat.

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub(crate) enum ChatCommand {
    /// Send a message (delivered when the counterparty is reachable, even after restarts)
    Send {
        trade_id: String,
        /// The message, plain text
        text: String,
    },
    /// Show a trade's chat in order, and mark the counterparty's messages read
    Log { trade_id: String },
}
