//! How a node trades: the desk's limits, windows and arbitrator choices, and the chain it settles on.
//! Plain settings only: nothing here acts on them.

use std::{sync::Arc, time::Duration};

/// How a node trades.
#[derive(Debug, Clone)]
pub struct TradeConfig {
    /// Open takes (negotiating or trading) one offer of this node may have at once.
    pub max_open_takes: u32,
    /// The longest wait between two delivery attempts of an envelope.
    pub max_retry: Duration,
    /// Announce this node as an arbitrator (needs a chain backend).
    pub arbitrator: bool,
    /// How long the parties have to fund an escrow once its address is agreed.
    pub funding_window: Duration,
    /// How long the buyer has to pay once the escrow is funded; `None`: by payment method
    /// ([`payment_window`]).
    pub payment_window: Option<Duration>,
    /// How long the release may take to reach the chain once the seller confirmed the payment.
    pub release_window: Duration,
    /// How often the chain is looked at for open escrows (also on every trade step).
    pub watch_every: Duration,
    /// The arbitrators this node accepts on offers it takes; empty: any announced arbitrator that is
    /// neither party and not in `exclude_arbitrators`.
    pub arbitrators: Vec<libp2p::PeerId>,
    pub exclude_arbitrators: Vec<libp2p::PeerId>,
    /// How long a take of one of this node's offers waits for the maker's answer: once it has waited
    /// that long, this node rejects it (saying so), and the offer's place is free again. A take from
    /// an identity that then goes away blocks an offer for no longer than this.
    pub answer_window: Duration,
    /// Takes one peer may make of this node's offers in an hour; more are refused.
    pub max_takes_per_peer_per_hour: u32,
    /// Chat messages one side may send in one trade within a minute (by the sender's clock); this
    /// node sends no more and keeps no more of its counterparty's.
    pub max_chat_per_minute: u32,
    /// How long a party waits, once its dispute case reached the arbitrator, before it sends it again
    /// (until a decision comes): an arbitrator that lost its database gets the case back.
    pub case_resend: Duration,
}

impl Default for TradeConfig {
    fn default() -> Self {
        Self {
            max_open_takes: 1,
            max_retry: Duration::from_secs(30),
            arbitrator: false,
            funding_window: Duration::from_secs(24 * 3600),
            payment_window: None,
            release_window: Duration::from_secs(24 * 3600),
            watch_every: Duration::from_secs(10),
            arbitrators: Vec::new(),
            exclude_arbitrators: Vec::new(),
            answer_window: Duration::from_secs(30 * 60),
            max_takes_per_peer_per_hour: 10,
            max_chat_per_minute: 30,
            case_resend: Duration::from_secs(6 * 3600),
        }
    }
}

/// How long a buyer has to pay by `method` once the escrow is funded: slow bank transfers get days,
/// instant methods a day, anything unknown two days.
pub fn payment_window(method: &crate::offer::PaymentMethod) -> Duration {
    const DAY: u64 = 24 * 3600;
    let days = match method.as_str() {
        "SEPA" | "ACH" | "SWIFT" | "BANK_TRANSFER" => 6,
        "ZELLE" | "INTERAC" => 4,
        "SEPA_INSTANT" | "FASTER_PAYMENTS" | "REVOLUT" | "WISE" | "PIX" | "UPI" | "CASH"
        | "CASH_BY_MAIL" | "PAYPAL" => 1,
        _ => 2,
    };
    Duration::from_secs(days * DAY)
}

/// The chain a desk settles escrows on.
#[derive(Debug, Clone)]
pub struct Settlement {
    pub backend: Arc<crate::chain::Backend>,
    /// Confirmations before a funding or a release counts.
    pub confirmations: u32,
}

#[cfg(test)]
mod window_tests {
    use super::payment_window;
    use crate::offer::PaymentMethod;

    #[test]
    fn slow_methods_get_more_time_to_pay() {
        let days = |m: &str| payment_window(&PaymentMethod::new(m).unwrap()).as_secs() / 86_400;
        assert_eq!(days("SEPA"), 6);
        assert_eq!(days("SEPA_INSTANT"), 1);
        assert_eq!(days("ZELLE"), 4);
        assert_eq!(days("SOMETHING_NEW"), 2);
    }
}
