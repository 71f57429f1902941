//! [`Alerts`], the engine: what is news in a desk event or in the trades as stored, and which
//! deadline is near. Pure: the clock is an argument; no database, no network, no wording of its own.

use std::{
    collections::{HashMap, HashSet},
    time::Duration,
};

use uuid::Uuid;

use super::{
    Alert, AlertKind, Windows,
    format::{duration_words, quote_total, trade_name},
    warning_lead,
    wording::{alert, incoming_message, is_buyer, offer_taken, recovered, state_change},
};
use crate::{
    preferences::NotificationPrefs,
    trading::{TradeEvent, TradeInfo, TradeRole, TradeState},
};

/// Which deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Deadline {
    Funding,
    Payment,
    Release,
}

/// What the engine remembers of a trade.
#[derive(Debug, Clone)]
struct Seen {
    state: TradeState,
    fully_funded: bool,
}

/// The decisions, without a clock, a database or a network.
#[derive(Debug, Clone)]
pub struct Alerts {
    windows: Windows,
    trades: HashMap<Uuid, Seen>,
    taken: HashSet<Uuid>,
    /// Disputes already announced to this node as an arbitrator.
    disputes: HashSet<Uuid>,
    warned: HashSet<(Uuid, Deadline, i64)>,
    /// When each trade raised its latest chat alerts: [`MESSAGE_ALERTS_PER_MINUTE`] at most.
    messaged: HashMap<Uuid, std::collections::VecDeque<i64>>,
}

/// A chatty counterparty raises at most this many "New message" alerts per trade within a minute; the
/// trade's unread count still shows every message.
pub const MESSAGE_ALERTS_PER_MINUTE: usize = 5;

impl Alerts {
    /// Starts with `trades` as they are now: nothing about them is news.
    pub fn new(windows: Windows, trades: &[TradeInfo], now_ms: i64) -> Self {
        let mut alerts = Self {
            windows,
            trades: HashMap::new(),
            taken: HashSet::new(),
            disputes: HashSet::new(),
            warned: HashSet::new(),
            messaged: HashMap::new(),
        };
        for trade in trades {
            alerts.remember(trade);
            // A deadline already inside its warning lead was (or would have been) announced before.
            if let Some((which, deadline, _)) = alerts.deadline_of(trade)
                && deadline - now_ms <= millis(alerts.lead(which, trade))
            {
                alerts.warned.insert((trade.id, which, deadline));
            }
        }
        alerts
    }

    fn remember(&mut self, trade: &TradeInfo) -> Option<Seen> {
        self.trades.insert(
            trade.id,
            Seen {
                state: trade.state,
                fully_funded: fully_funded(trade),
            },
        )
    }

    /// The alerts one desk event makes, filtered by `prefs`.
    pub fn on_event(
        &mut self,
        event: &TradeEvent,
        prefs: &NotificationPrefs,
        now_ms: i64,
    ) -> Vec<Alert> {
        let all = match event {
            TradeEvent::TakeRequested { trade } => {
                let mut out = Vec::new();
                if trade.role == TradeRole::Maker && self.taken.insert(trade.id) {
                    out.push(offer_taken(trade));
                }
                self.remember(trade);
                out.extend(self.deadlines(trade, now_ms));
                out
            }
            TradeEvent::TradeUpdated { trade } => self.on_trade(trade, now_ms),
            TradeEvent::Recovered { trade } => {
                self.remember(trade);
                let mut out = vec![recovered(trade)];
                out.extend(self.deadlines(trade, now_ms));
                out
            }
            TradeEvent::Message { message } => {
                let Some(alert) = incoming_message(message) else {
                    return Vec::new();
                };
                let recent = self.messaged.entry(message.trade_id).or_default();
                recent.retain(|at| now_ms - at < 60_000);
                if recent.len() >= MESSAGE_ALERTS_PER_MINUTE {
                    Vec::new()
                } else {
                    recent.push_back(now_ms);
                    vec![alert]
                }
            }
            // As an arbitrator: a party asks for a decision (once per trade; its counterparty's case
            // arriving later is no news).
            TradeEvent::DisputeOpened { trade_id } if self.disputes.insert(*trade_id) => {
                vec![Alert {
                    kind: AlertKind::Escrow,
                    trade_id: Some(*trade_id),
                    offer_id: None,
                    title: "A dispute needs your decision".into(),
                    body:
                        "A party to an escrow trade you arbitrate opened a dispute. Open Disputes \
                           to read both cases and decide."
                            .into(),
                }]
            }
            TradeEvent::Delivered { .. }
            | TradeEvent::Read { .. }
            | TradeEvent::DisputeOpened { .. }
            | TradeEvent::DisputeResolved { .. } => Vec::new(),
        };
        all.into_iter()
            .filter(|a| a.kind.allowed_by(prefs))
            .collect()
    }

    /// Looks at `trades` as stored now (after missed events, and on the deadline tick).
    pub fn on_trades(
        &mut self,
        trades: &[TradeInfo],
        prefs: &NotificationPrefs,
        now_ms: i64,
    ) -> Vec<Alert> {
        trades
            .iter()
            .flat_map(|t| self.on_trade(t, now_ms))
            .filter(|a| a.kind.allowed_by(prefs))
            .collect()
    }

    fn on_trade(&mut self, trade: &TradeInfo, now_ms: i64) -> Vec<Alert> {
        let before = self.remember(trade);
        let mut out = Vec::new();
        if let Some(before) = before {
            if before.state != trade.state {
                out.extend(state_change(before.state, trade));
            } else if trade.state == TradeState::EscrowFunding
                && !before.fully_funded
                && fully_funded(trade)
            {
                out.push(alert(
                    AlertKind::Escrow,
                    trade,
                    "Escrow funded",
                    format!(
                        "The escrow of the {} now holds everything; waiting for the confirmations.",
                        trade_name(trade)
                    ),
                ));
            }
        }
        out.extend(self.deadlines(trade, now_ms));
        out
    }

    fn lead(&self, which: Deadline, trade: &TradeInfo) -> Duration {
        let window = match which {
            Deadline::Funding => self.windows.funding,
            Deadline::Payment => self
                .windows
                .payment
                .unwrap_or_else(|| crate::trading::payment_window(&trade.terms.method)),
            Deadline::Release => self.windows.release,
        };
        warning_lead(window)
    }

    /// The deadline of the trade's current step, if it has one.
    fn deadline_of(&self, trade: &TradeInfo) -> Option<(Deadline, i64, &'static str)> {
        let escrow = trade.escrow.as_ref()?;
        match trade.state {
            TradeState::EscrowFunding => escrow
                .funding_deadline
                .map(|d| (Deadline::Funding, d, "Funding deadline near")),
            TradeState::EscrowFunded => escrow
                .payment_deadline
                .map(|d| (Deadline::Payment, d, "Payment deadline near")),
            TradeState::PaymentConfirmed if escrow.release_txid.is_none() => escrow
                .release_deadline
                .map(|d| (Deadline::Release, d, "Release deadline near")),
            _ => None,
        }
    }

    fn deadlines(&mut self, trade: &TradeInfo, now_ms: i64) -> Vec<Alert> {
        let Some((which, deadline, title)) = self.deadline_of(trade) else {
            return Vec::new();
        };
        let left = deadline - now_ms;
        if left <= 0
            || left > millis(self.lead(which, trade))
            || !self.warned.insert((trade.id, which, deadline))
        {
            return Vec::new();
        }
        let left = duration_words(left);
        let name = trade_name(trade);
        let buyer = is_buyer(trade);
        let body = match which {
            Deadline::Funding => {
                format!("Fund the escrow of the {name} within {left}, or the trade expires.")
            }
            Deadline::Payment if buyer => format!(
                "Pay {} within {left}, then mark the payment sent; after that the arbitrator decides.",
                quote_total(trade)
            ),
            Deadline::Payment => format!(
                "The buyer of the {name} has {left} left to pay; after that the arbitrator decides."
            ),
            Deadline::Release => format!(
                "The release of the {name} must reach the chain within {left}, or the arbitrator decides."
            ),
        };
        vec![alert(AlertKind::Deadline, trade, title, body)]
    }
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn fully_funded(trade: &TradeInfo) -> bool {
    trade
        .escrow
        .as_ref()
        .is_some_and(|e| e.required > 0 && e.funded >= e.required)
}
