//! The flags of `souk dispute …`: an arbitrator's disputes and decisions.

use clap::Subcommand;
use souk_core::trading::Winner;

#[derive(Debug, Subcommand)]
pub(crate) enum DisputeCommand {
    /// The disputes you arbitrate, newest first
    List,
    /// One dispute: parties, addresses, escrow, both reasons and transcripts
    Show { trade_id: String },
    /// Decide: the escrow goes to the buyer, the seller, or is split (signed by you, sent to both);
    /// decide again after a party refused your decision and none took it
    Resolve {
        trade_id: String,
        #[arg(long, value_parser = Winner::ALL.map(Winner::as_str))]
        to: String,
        /// With --to split: what the buyer gets, e.g. 0.6; the seller gets the rest (the fee comes out
        /// of the larger share)
        #[arg(long)]
        buyer_gets: Option<String>,
        /// Why, shown to both parties
        #[arg(long, default_value = "")]
        reason: String,
    },
}
