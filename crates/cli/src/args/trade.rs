//! The flags of `souk trade …`: taking an offer and each step of a trade.

use std::path::PathBuf;

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub(crate) enum TradeCommand {
    /// Take an offer: asks its maker (who must be online) and opens the trade
    Take {
        /// The offer id (from `souk offer list`)
        offer_id: String,
        /// How much of the base asset, e.g. 0.05 (within the offer's range)
        #[arg(long)]
        amount: String,
        /// The payment method, one of the offer's, e.g. SEPA
        #[arg(long)]
        method: String,
        /// Where you want to be paid (shared with the maker only), e.g. an IBAN or an address
        #[arg(long, default_value = "")]
        payout: String,
    },
    /// Accept the take request (maker) or the counter (taker)
    Accept { trade_id: String },
    /// Reject the take request (maker) or the counter (taker)
    Reject {
        trade_id: String,
        /// Why, shown to the counterparty
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Maker: answer a take request with another amount and/or price
    Counter {
        trade_id: String,
        /// A new amount of the base asset, e.g. 0.02
        #[arg(long, required_unless_present = "price")]
        amount: Option<String>,
        /// A new fixed price per whole coin
        #[arg(long)]
        price: Option<String>,
    },
    /// Escrow trades: the address your coins go to (buyer: payout; seller: refund of your deposit)
    Address { trade_id: String, address: String },
    /// Escrow trades: pay your escrow output from a wallet of your chain node (Core backend). Shows the
    /// amount and fee; --yes signs with that wallet and broadcasts; --psbt writes the unsigned PSBT
    /// (base64) for Sparrow, Electrum or a hardware wallet
    Fund {
        trade_id: String,
        /// The chain node's wallet to pay from
        #[arg(long, value_name = "NAME")]
        wallet: String,
        /// Sign and broadcast (after you checked amount and fee)
        #[arg(long)]
        yes: bool,
        /// Write the unsigned PSBT (base64) to this file
        #[arg(long, value_name = "FILE")]
        psbt: Option<PathBuf>,
    },
    /// Buyer: you sent the payment
    Paid { trade_id: String },
    /// Seller: the payment arrived; signs the escrow's release to the buyer
    Received { trade_id: String },
    /// Walk away before any coins are locked
    Cancel {
        trade_id: String,
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Ask the arbitrator to decide (once coins are locked)
    Dispute {
        trade_id: String,
        #[arg(long)]
        reason: String,
    },
    /// List your trades, newest activity first
    List,
    /// Show one trade: offer, terms, state and whose turn it is
    Show { trade_id: String },
    /// Rate the counterparty of an ended trade (1-5 stars), published with your trade receipts
    Rate {
        trade_id: String,
        /// 1 to 5
        stars: u8,
        /// A short comment (at most 140 bytes)
        #[arg(long, default_value = "")]
        comment: String,
    },
}
