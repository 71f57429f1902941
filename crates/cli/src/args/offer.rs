//! The flags of `souk offer …`, and a posted offer's flags as the API's request body.

use clap::{Args, Subcommand};

#[derive(Debug, Subcommand)]
pub(crate) enum OfferCommand {
    /// Sign and publish a new offer
    Post(Box<PostArgs>),
    /// Show the order book (this node's view of it)
    List {
        /// Only this market, e.g. BTC/EUR
        #[arg(long, value_name = "BASE/QUOTE")]
        market: Option<String>,
        /// Only offers whose maker buys or sells
        #[arg(long, value_parser = ["buy", "sell"])]
        side: Option<String>,
        /// Only offers paid by this method, e.g. SEPA
        #[arg(long, value_name = "METHOD")]
        method: Option<String>,
        /// Only offers whose range contains this amount of the base asset, e.g. 0.05 (needs --market)
        #[arg(long, value_name = "AMOUNT")]
        amount: Option<String>,
        /// Only this node's own offers
        #[arg(long)]
        mine: bool,
        /// Only makers with at least N settled trades (their signed receipts, verified by the node)
        #[arg(long, value_name = "N")]
        min_settled: Option<u32>,
    },
    /// Withdraw one of your offers everywhere
    Withdraw {
        /// The offer id (from `souk offer list`)
        id: String,
    },
    /// Ask the makers of a market for their offers now
    Refresh {
        #[arg(long, value_name = "BASE/QUOTE")]
        market: String,
    },
}

#[derive(Debug, Clone, Args)]
pub(crate) struct PostArgs {
    /// The maker's side: sell the base asset, or buy it
    #[arg(long, value_parser = ["buy", "sell"])]
    side: String,
    /// The asset traded, e.g. BTC
    #[arg(long)]
    base: String,
    /// What it is priced in and paid with, e.g. EUR
    #[arg(long)]
    quote: String,
    /// A fixed price per whole coin, e.g. 60000
    #[arg(long, required_unless_present = "premium", conflicts_with = "premium")]
    price: Option<String>,
    /// Or a premium over the market price in percent, e.g. 1.5 or -2
    #[arg(long, allow_hyphen_values = true)]
    premium: Option<String>,
    /// Smallest amount of the base asset per trade, e.g. 0.01
    #[arg(long)]
    min: String,
    /// Largest amount of the base asset per trade, e.g. 0.1
    #[arg(long)]
    max: String,
    /// A payment method, e.g. SEPA (repeatable)
    #[arg(long = "method", required = true, value_name = "METHOD")]
    methods: Vec<String>,
    /// How the coins are secured
    #[arg(long, value_parser = ["none", "multisig"])]
    escrow: Option<String>,
    /// An arbitrator you accept for a multisig escrow (repeatable)
    #[arg(long = "arbitrator", value_name = "PEERID")]
    arbitrators: Vec<String>,
    /// Security deposit in percent of the trade amount [default: 15]
    #[arg(long)]
    deposit: Option<String>,
    /// How long the offer stays up: 30m, 24h, 7d [default: 24h]
    #[arg(long)]
    ttl: Option<String>,
    /// Free-text terms shown to takers
    #[arg(long)]
    terms: Option<String>,
}

impl From<PostArgs> for crate::input::OfferRequest {
    fn from(a: PostArgs) -> Self {
        Self {
            side: a.side,
            base: a.base,
            quote: a.quote,
            price: a.price,
            premium: a.premium,
            min: a.min,
            max: a.max,
            methods: a.methods,
            escrow: a.escrow,
            arbitrators: a.arbitrators,
            deposit: a.deposit,
            ttl: a.ttl,
            terms: a.terms,
        }
    }
}
