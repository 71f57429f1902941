//! [`Watcher`]: runs [`Alerts`] on a node, following the desk's events and the deadline clock, and
//! publishes each [`Alert`] on a broadcast channel. Shows nothing itself.

use std::time::Duration;

use libp2p::PeerId;
use sqlx::SqlitePool;
use tokio::{
    sync::{broadcast, watch},
    task::JoinHandle,
};
use tokio_util::sync::CancellationToken;

use super::{Alert, Alerts, SearchMatcher, offer_matched};
use crate::{
    market::MarketEvent,
    preferences::{NotificationPrefs, SavedSearch},
    trading::{TradeEvent, TradeInfo},
};

/// How often the watcher looks at the deadlines of open trades.
pub const DEADLINE_CHECK_EVERY: Duration = Duration::from_secs(60);

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

/// The market side of the watcher: the book's events in, saved searches to match, matches out.
#[derive(Debug)]
pub struct MarketSide {
    pub events: broadcast::Receiver<MarketEvent>,
    pub searches: watch::Receiver<Vec<SavedSearch>>,
    /// Where [`MarketEvent::OfferMatched`] goes: the market's own event channel.
    pub out: broadcast::Sender<MarketEvent>,
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
        market: MarketSide,
    ) -> Self {
        let cancel = CancellationToken::new();
        let task = tokio::spawn(watch_loop(
            engine,
            events,
            source,
            prefs,
            out,
            market,
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
    mut market: MarketSide,
    cancel: CancellationToken,
) {
    use broadcast::error::RecvError;
    let publish = |alerts: Vec<Alert>| {
        for alert in alerts {
            tracing::debug!(trade_id = ?alert.trade_id, offer_id = ?alert.offer_id, kind = ?alert.kind, title = %alert.title, "alert");
            // Nobody listening (a headless node) is fine.
            let _ = out.send(alert);
        }
    };
    let mut matcher = SearchMatcher::default();
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
            event = market.events.recv() => {
                match event {
                    Ok(MarketEvent::OfferAdded { offer }) => {
                        let searches = market.searches.borrow().clone();
                        let allowed = prefs.borrow().matching_offer;
                        for matched in matcher.on_offer(&offer, &searches, &source.me) {
                            if let (true, MarketEvent::OfferMatched { search_name, offer, .. }) =
                                (allowed, &matched)
                            {
                                publish(vec![offer_matched(search_name, offer)]);
                            }
                            let _ = market.out.send(matched);
                        }
                    }
                    // A missed offer is not announced: the book still shows it.
                    Ok(_) | Err(RecvError::Lagged(_)) => {}
                    Err(RecvError::Closed) => return,
                }
                None
            }
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
