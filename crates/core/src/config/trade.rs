//! How a node trades: the desk's settings ([`TradeConfig`]) with their defaults, and `[trade]` in `souk.toml`,
//! checked against their limits and turned into them.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::ConfigError;

/// Longest accepted `trade.watch_every_secs`: an escrow watcher that looks less than hourly would miss
/// deadlines by that much.
pub const MAX_WATCH_EVERY_SECS: u64 = 3_600;

/// Shortest accepted trade window (`trade.*_window_secs`): tests run whole trades in seconds.
pub const MIN_WINDOW_SECS: u64 = 1;
/// Longest accepted trade window: 30 days. Coins wait in the escrow for as long as a window lasts, and
/// no fiat payment method needs longer to arrive.
pub const MAX_WINDOW_SECS: u64 = 30 * 24 * 3_600;

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
    /// ([`crate::trading::payment_window`]).
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

/// How this node trades: `[trade]` in `souk.toml`. Maps to [`TradeConfig`] (see [`TradeSettings::resolve`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TradeSettings {
    /// Announce this node as an arbitrator for escrow trades and decide their disputes (needs a chain
    /// backend in `[chain]`).
    pub arbitrator: bool,
    /// How many takes of one of this node's offers may be open (negotiating or trading) at once.
    pub max_takes_per_offer: u32,
    /// How often the escrow watcher looks at the chain for open escrows, in seconds (every trade step
    /// also wakes it).
    pub watch_every_secs: u64,
    /// How long the parties have to fund an escrow once its address is agreed, in seconds.
    pub funding_window_secs: u64,
    /// How long the buyer has to pay once the escrow is funded, in seconds; absent: by payment method
    /// (days for bank transfers, see [`crate::trading::payment_window`]).
    pub payment_window_secs: Option<u64>,
    /// How long the release may take to reach the chain once the seller confirmed the payment, in
    /// seconds.
    pub release_window_secs: u64,
    /// How long a take of one of this node's offers waits for an answer before this node rejects it,
    /// in seconds.
    pub answer_window_secs: u64,
    /// Takes one peer may make of this node's offers in an hour.
    pub max_takes_per_peer_per_hour: u32,
    /// The arbitrators (PeerIds) this node accepts on the offers it takes; empty: any announced
    /// arbitrator that is neither party and not excluded.
    pub arbitrators: Vec<String>,
    /// Arbitrators (PeerIds) this node never accepts.
    pub exclude_arbitrators: Vec<String>,
}

impl Default for TradeSettings {
    fn default() -> Self {
        let trade = TradeConfig::default();
        Self {
            arbitrator: trade.arbitrator,
            max_takes_per_offer: trade.max_open_takes,
            watch_every_secs: trade.watch_every.as_secs(),
            funding_window_secs: trade.funding_window.as_secs(),
            payment_window_secs: trade.payment_window.map(|w| w.as_secs()),
            release_window_secs: trade.release_window.as_secs(),
            answer_window_secs: trade.answer_window.as_secs(),
            max_takes_per_peer_per_hour: trade.max_takes_per_peer_per_hour,
            arbitrators: Vec::new(),
            exclude_arbitrators: Vec::new(),
        }
    }
}

impl TradeSettings {
    /// The trade desk's settings these stand for (everything not in `[trade]` keeps its default).
    pub fn resolve(&self) -> Result<TradeConfig, ConfigError> {
        let invalid = |message: String| ConfigError::Invalid {
            origin: "[trade]".into(),
            message,
        };
        if self.max_takes_per_offer == 0 {
            return Err(invalid(
                "max_takes_per_offer is 0: at least 1 take per offer must be allowed".into(),
            ));
        }
        if self.max_takes_per_peer_per_hour == 0 {
            return Err(invalid(
                "max_takes_per_peer_per_hour is 0: at least 1 take per peer and hour must be allowed"
                    .into(),
            ));
        }
        if !(1..=MAX_WATCH_EVERY_SECS).contains(&self.watch_every_secs) {
            return Err(invalid(format!(
                "watch_every_secs is {}: it must be 1 to {MAX_WATCH_EVERY_SECS} seconds",
                self.watch_every_secs
            )));
        }
        let peers = |key: &str, list: &[String]| -> Result<Vec<libp2p::PeerId>, ConfigError> {
            list.iter()
                .map(|p| {
                    p.trim().parse().map_err(|e| {
                        invalid(format!("{key}: `{p}` is not a peer id (12D3Koo…): {e}"))
                    })
                })
                .collect()
        };
        let window = |key: &str, secs: u64| {
            if (MIN_WINDOW_SECS..=MAX_WINDOW_SECS).contains(&secs) {
                Ok(Duration::from_secs(secs))
            } else {
                Err(invalid(format!(
                    "{key} is {secs}: it must be {MIN_WINDOW_SECS} to {MAX_WINDOW_SECS} seconds (30 days)"
                )))
            }
        };
        Ok(TradeConfig {
            arbitrator: self.arbitrator,
            max_open_takes: self.max_takes_per_offer,
            watch_every: Duration::from_secs(self.watch_every_secs),
            funding_window: window("funding_window_secs", self.funding_window_secs)?,
            payment_window: self
                .payment_window_secs
                .map(|secs| window("payment_window_secs", secs))
                .transpose()?,
            release_window: window("release_window_secs", self.release_window_secs)?,
            answer_window: window("answer_window_secs", self.answer_window_secs)?,
            max_takes_per_peer_per_hour: self.max_takes_per_peer_per_hour,
            arbitrators: peers("arbitrators", &self.arbitrators)?,
            exclude_arbitrators: peers("exclude_arbitrators", &self.exclude_arbitrators)?,
            ..TradeConfig::default()
        })
    }
}
