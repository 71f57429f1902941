//! What a person should be told about, as a shell shows it in a desktop notification: an offer of
//! theirs was taken, the counterparty wrote or answered, an escrow step happened, a deadline is near.
//!
//! [`Alerts`] decides, from the desk's [`TradeEvent`]s and the trades as they are stored; it is pure (the
//! clock is an argument) so every rule is tested without a network. [`Watcher`] runs it on a node: it
//! follows the desk's events, looks at the deadlines once a minute, and publishes each [`Alert`] on a
//! broadcast channel the shells subscribe to. It never shows anything itself, and it never lets text a
//! peer chose through, except a short excerpt of a chat message with every control and formatting
//! character removed.
//!
//! Rules:
//! - **Offer taken**: a take request for one of this node's offers ([`TradeEvent::TakeRequested`]).
//! - **Message**: a chat message from the counterparty, or its negotiation step (counter, accept,
//!   reject). This node's own messages and steps never alert.
//! - **Escrow**: each state change of a trade once it is agreed (escrow ready, funded, confirmed,
//!   payment sent, payment confirmed, released, completed, cancelled, expired, disputed, resolved), once
//!   per state, except the steps this node made itself (the buyer's "payment sent", the seller's
//!   "payment received").
//! - **Deadline**: the funding, payment and release deadline of the trade's current step, once per
//!   deadline, when what is left of its window drops to [`warning_lead`]: the larger of one hour and a
//!   tenth of the window, but never more than half of it (so a short window warns half-way, not at once).
//!
//! Each kind is shown only while the person's [`NotificationPrefs`] allow it; the prefs are read again
//! whenever they are saved. What happened while a kind was off is remembered as seen, so turning it on
//! again does not replay old news. The memory is per process: a restarted node takes the trades as it
//! finds them as seen, and may warn once more about a deadline it warned about before the restart.

use std::{
    collections::{HashMap, HashSet},
    time::Duration,
};

use libp2p::PeerId;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sqlx::SqlitePool;
use tokio::{
    sync::{broadcast, watch},
    task::JoinHandle,
};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::{
    offer::{Asset, Price, Quote, Side, format_amount},
    preferences::NotificationPrefs,
    trading::{ChatMessage, Party, TradeConfig, TradeEvent, TradeInfo, TradeRole, TradeState},
};

/// Longest chat excerpt in a notification, in characters (an ellipsis is added when cut).
pub const EXCERPT_CHARS: usize = 80;
/// How often the watcher looks at the deadlines of open trades.
pub const DEADLINE_CHECK_EVERY: Duration = Duration::from_secs(60);

/// Which preference governs an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    OfferTaken,
    Message,
    Escrow,
    Deadline,
}

impl AlertKind {
    pub fn allowed_by(self, prefs: &NotificationPrefs) -> bool {
        match self {
            Self::OfferTaken => prefs.offer_taken,
            Self::Message => prefs.message,
            Self::Escrow => prefs.escrow,
            Self::Deadline => prefs.deadline,
        }
    }
}

/// One notification: a short title and a sentence or two of plain text (never markup).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    pub kind: AlertKind,
    pub trade_id: Uuid,
    pub title: String,
    pub body: String,
}

/// The windows the desk gives each step, to tell how much of a deadline's window is left.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Windows {
    pub funding: Duration,
    /// `None`: by payment method ([`crate::trading::payment_window`]).
    pub payment: Option<Duration>,
    pub release: Duration,
}

impl From<&TradeConfig> for Windows {
    fn from(c: &TradeConfig) -> Self {
        Self {
            funding: c.funding_window,
            payment: c.payment_window,
            release: c.release_window,
        }
    }
}

/// How long before a deadline it is announced: max(1 h, 10 % of the window), at most half the window.
pub fn warning_lead(window: Duration) -> Duration {
    const HOUR: Duration = Duration::from_secs(3600);
    (window / 10).max(HOUR).min(window / 2)
}

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
                    trade_id: *trade_id,
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

fn alert(kind: AlertKind, trade: &TradeInfo, title: &str, body: String) -> Alert {
    Alert {
        kind,
        trade_id: trade.id,
        title: title.to_owned(),
        body,
    }
}

/// Whether this node is the buyer of the coins.
fn is_buyer(trade: &TradeInfo) -> bool {
    trade.party() == Party::Buyer
}

/// "0.05 BTC trade".
fn trade_name(trade: &TradeInfo) -> String {
    format!(
        "{} {} trade",
        format_amount(trade.terms.amount, trade.offer.base),
        trade.offer.base
    )
}

/// "3,000 EUR", or "0.05 BTC at the market price +1.5 %" when the price follows the market.
fn quote_total(trade: &TradeInfo) -> String {
    let (amount, base, quote) = (trade.terms.amount, trade.offer.base, trade.offer.quote);
    match trade.terms.price {
        Price::Fixed(price) => match total(amount, base, price) {
            Some(total) => format!("{} {quote}", money(total, quote)),
            None => format!(
                "{} {base} at {price} {quote} per {base}",
                format_amount(amount, base)
            ),
        },
        Price::MarketRelative { premium_bps } => format!(
            "{} {base} at the market price {}",
            format_amount(amount, base),
            premium(premium_bps)
        ),
    }
}

fn total(amount: u64, base: Asset, price: Decimal) -> Option<Decimal> {
    let coins = Decimal::from(amount).checked_div(Decimal::from(10u64.pow(base.decimals())))?;
    coins.checked_mul(price)
}

/// Two decimals for fiat (none when whole), up to eight for a coin; thousands separated by commas.
fn money(value: Decimal, quote: Quote) -> String {
    let places = match quote {
        Quote::Fiat(_) => 2,
        Quote::Asset(a) => a.decimals(),
    };
    let rounded = value.round_dp(places);
    let text = if rounded.fract().is_zero() {
        rounded.trunc().to_string()
    } else {
        match quote {
            Quote::Fiat(_) => format!("{rounded:.2}"),
            Quote::Asset(_) => rounded.normalize().to_string(),
        }
    };
    let (whole, fraction) = text.split_once('.').unwrap_or((&text, ""));
    let (sign, digits) = whole.strip_prefix('-').map_or(("", whole), |d| ("-", d));
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    if fraction.is_empty() {
        format!("{sign}{grouped}")
    } else {
        format!("{sign}{grouped}.{fraction}")
    }
}

fn premium(bps: i32) -> String {
    let percent = Decimal::from(bps) / Decimal::from(100);
    match bps {
        0 => "(no premium)".into(),
        b if b > 0 => format!("+{} %", percent.normalize()),
        _ => format!("{} %", percent.normalize()),
    }
}

fn offer_taken(trade: &TradeInfo) -> Alert {
    let amount = format!(
        "{} {}",
        format_amount(trade.terms.amount, trade.offer.base),
        trade.offer.base
    );
    let (total, method) = (quote_total(trade), &trade.terms.method);
    let body = match (trade.offer.side, trade.terms.price) {
        (Side::Sell, Price::Fixed(_)) => {
            format!("Someone wants to buy {amount} from you for {total}, paying by {method}.")
        }
        (Side::Buy, Price::Fixed(_)) => {
            format!("Someone wants to sell you {amount} for {total}, paid by {method}.")
        }
        // The total names the amount already.
        (Side::Sell, Price::MarketRelative { .. }) => {
            format!("Someone wants to buy {total} from you, paying by {method}.")
        }
        (Side::Buy, Price::MarketRelative { .. }) => {
            format!("Someone wants to sell you {total}, paid by {method}.")
        }
    };
    alert(
        AlertKind::OfferTaken,
        trade,
        "Offer taken",
        format!("{body} Accept, counter or reject it in Trades."),
    )
}

fn incoming_message(message: &ChatMessage) -> Option<Alert> {
    if message.outgoing {
        return None;
    }
    Some(Alert {
        kind: AlertKind::Message,
        trade_id: message.trade_id,
        title: "New message".into(),
        body: format!("“{}”", excerpt(&message.body, EXCERPT_CHARS)),
    })
}

/// At most `max` characters of `text` on one line: control and invisible formatting characters
/// (bidirectional overrides, zero-width characters) go, runs of whitespace become one space.
pub fn excerpt(text: &str, max: usize) -> String {
    let cleaned: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .filter(|c| !is_invisible_format(*c))
        .collect();
    let words: Vec<&str> = cleaned.split_whitespace().collect();
    let line = words.join(" ");
    if line.chars().count() <= max {
        return line;
    }
    let cut: String = line.chars().take(max.saturating_sub(1)).collect();
    format!("{}…", cut.trim_end())
}

/// Unicode format characters that change how text around them reads without being seen.
fn is_invisible_format(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{061C}' | '\u{180E}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{206F}' | '\u{FEFF}' | '\u{FFF9}'..='\u{FFFB}')
}

/// The alert for a trade that went from `before` to its state now; `None` for this node's own steps.
fn state_change(before: TradeState, trade: &TradeInfo) -> Option<Alert> {
    use TradeState as S;
    let name = trade_name(trade);
    let buyer = is_buyer(trade);
    let me_maker = trade.role == TradeRole::Maker;
    // In negotiation, the maker answers a take and the taker answers a counter.
    let counterparty_answered = match before {
        S::Requested => !me_maker,
        S::Countered => me_maker,
        _ => false,
    };
    let message = |title: &str, body: String| Some(alert(AlertKind::Message, trade, title, body));
    let escrow = |title: &str, body: String| Some(alert(AlertKind::Escrow, trade, title, body));
    match trade.state {
        S::Countered if counterparty_answered => message(
            "Counter-offer",
            format!(
                "The maker proposes {} instead. Accept or reject it in Trades.",
                quote_total_with_amount(trade)
            ),
        ),
        S::Accepted if counterparty_answered => {
            let next = match (&trade.escrow, buyer) {
                (Some(_), _) => "Next: the escrow (see the trade).".to_owned(),
                (None, true) => format!(
                    "Pay {} by {}, then mark the payment sent.",
                    quote_total(trade),
                    trade.terms.method
                ),
                (None, false) => "The buyer pays you next.".to_owned(),
            };
            message(
                if me_maker {
                    "Counter accepted"
                } else {
                    "Take accepted"
                },
                format!(
                    "The {name} is agreed: {}. {next}",
                    quote_total_with_amount(trade)
                ),
            )
        }
        S::Rejected if counterparty_answered => message(
            if me_maker {
                "Counter rejected"
            } else {
                "Take rejected"
            },
            format!("The counterparty rejected the {name}."),
        ),
        S::Requested | S::Countered | S::Accepted | S::Rejected => None,
        S::EscrowFunding => escrow(
            "Escrow ready",
            format!(
                "Fund the escrow of the {name}: send {} {} to its address (see the trade).",
                format_amount(
                    trade.escrow.as_ref().map_or(0, |e| e.my_funding),
                    trade.offer.base
                ),
                trade.offer.base
            ),
        ),
        S::EscrowFunded if buyer => escrow(
            "Escrow confirmed",
            format!(
                "The escrow of the {name} is confirmed. Pay {} by {}, then mark the payment sent.",
                quote_total(trade),
                trade.terms.method
            ),
        ),
        S::EscrowFunded => escrow(
            "Escrow confirmed",
            format!("The escrow of the {name} is confirmed; the buyer pays you next."),
        ),
        // The buyer's own step.
        S::PaymentSent if buyer => None,
        S::PaymentSent => escrow(
            "Payment sent",
            format!(
                "The buyer of the {name} says {} is sent by {}. Check it arrived, then confirm it.",
                quote_total(trade),
                trade.terms.method
            ),
        ),
        // The seller's own step.
        S::PaymentConfirmed if !buyer => None,
        S::PaymentConfirmed => escrow(
            "Payment confirmed",
            format!(
                "The seller confirmed your payment; the escrow of the {name} is being released."
            ),
        ),
        S::Released => escrow(
            "Escrow released",
            format!("The release of the {name} is on the chain; waiting for its confirmations."),
        ),
        S::Completed if before == S::PaymentSent && !buyer => None,
        S::Completed => escrow("Trade completed", format!("The {name} is complete.")),
        S::Cancelled => escrow("Trade cancelled", format!("The {name} was cancelled.")),
        S::Expired => escrow(
            "Trade expired",
            format!("The escrow of the {name} was not funded in time."),
        ),
        S::Disputed => escrow(
            "Trade in dispute",
            format!("The {name} is in dispute: the arbitrator decides."),
        ),
        S::Resolved => escrow(
            "Dispute resolved",
            format!("The arbitrator decided the dispute of the {name}."),
        ),
    }
}

/// "0.05 BTC for 3,000 EUR".
fn quote_total_with_amount(trade: &TradeInfo) -> String {
    match trade.terms.price {
        Price::Fixed(_) => format!(
            "{} {} for {}",
            format_amount(trade.terms.amount, trade.offer.base),
            trade.offer.base,
            quote_total(trade)
        ),
        Price::MarketRelative { .. } => quote_total(trade),
    }
}

/// "2 h 5 min", "45 min", "1 day 3 h".
fn duration_words(ms: i64) -> String {
    let minutes = (ms + 59_999) / 60_000;
    let (days, hours, mins) = (minutes / 1440, minutes % 1440 / 60, minutes % 60);
    match (days, hours, mins) {
        (0, 0, m) => format!("{m} min"),
        (0, h, 0) => format!("{h} h"),
        (0, h, m) => format!("{h} h {m} min"),
        (1, 0, _) => "1 day".into(),
        (1, h, _) => format!("1 day {h} h"),
        (d, 0, _) => format!("{d} days"),
        (d, h, _) => format!("{d} days {h} h"),
    }
}

/// Runs [`Alerts`] on a node: follows the desk's events and the clock, publishes on `out`.
#[derive(Debug)]
pub struct Watcher {
    cancel: CancellationToken,
    task: tokio::sync::Mutex<Option<JoinHandle<()>>>,
}

/// What the watcher reads the trades from.
#[derive(Debug, Clone)]
pub struct TradeSource {
    pub pool: SqlitePool,
    pub me: PeerId,
}

impl TradeSource {
    /// Every trade after missed events (one may have closed meanwhile); only the open ones on the
    /// deadline tick (a closed trade has no deadline, and old trades pile up).
    async fn trades(&self, open_only: bool) -> crate::error::Result<Vec<TradeInfo>> {
        if open_only {
            crate::trading::list_open_trades(&self.pool, &self.me).await
        } else {
            crate::trading::list_trades(&self.pool, &self.me).await
        }
    }
}

impl Watcher {
    /// `events` must be subscribed before anything can happen that `seed` (the trades as stored
    /// when the desk started) does not show.
    pub fn start(
        engine: Alerts,
        events: broadcast::Receiver<TradeEvent>,
        source: TradeSource,
        prefs: watch::Receiver<NotificationPrefs>,
        out: broadcast::Sender<Alert>,
    ) -> Self {
        let cancel = CancellationToken::new();
        let task = tokio::spawn(watch_loop(
            engine,
            events,
            source,
            prefs,
            out,
            cancel.clone(),
        ));
        Self {
            cancel,
            task: tokio::sync::Mutex::new(Some(task)),
        }
    }

    pub async fn shutdown(&self) {
        self.cancel.cancel();
        if let Some(task) = self.task.lock().await.take() {
            let _ = task.await;
        }
    }
}

async fn watch_loop(
    mut engine: Alerts,
    mut events: broadcast::Receiver<TradeEvent>,
    source: TradeSource,
    prefs: watch::Receiver<NotificationPrefs>,
    out: broadcast::Sender<Alert>,
    cancel: CancellationToken,
) {
    use broadcast::error::RecvError;
    let publish = |alerts: Vec<Alert>| {
        for alert in alerts {
            tracing::debug!(trade_id = %alert.trade_id, kind = ?alert.kind, title = %alert.title, "alert");
            // Nobody listening (a headless node) is fine.
            let _ = out.send(alert);
        }
    };
    let mut tick = tokio::time::interval(DEADLINE_CHECK_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        // Whether to read the trades again: `Some(true)` the open ones (the clock ticked), `Some(false)`
        // all of them (events were missed).
        let look_again = tokio::select! {
            biased;
            () = cancel.cancelled() => return,
            event = events.recv() => match event {
                Ok(event) => {
                    let current = *prefs.borrow();
                    publish(engine.on_event(&event, &current, crate::store::now_ms()));
                    None
                }
                Err(RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "the alert watcher missed trade events; reading the trades again");
                    Some(false)
                }
                Err(RecvError::Closed) => return,
            },
            _ = tick.tick() => Some(true),
        };
        if let Some(open_only) = look_again {
            match source.trades(open_only).await {
                Ok(trades) => {
                    let current = *prefs.borrow();
                    publish(engine.on_trades(&trades, &current, crate::store::now_ms()));
                }
                Err(e) => tracing::warn!(error = %e, "cannot read the trades for alerts"),
            }
        }
    }
}

#[cfg(test)]
mod tests;
