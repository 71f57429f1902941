//! The price feed: fetching the prices of watched markets and dropping stale ones. Never blocks the
//! book: a market without a price is a normal state.

use std::{sync::Arc, time::Duration};

use tokio_util::sync::CancellationToken;

use super::{Inner, MarketEvent};
use crate::{
    offer::{Asset, Quote},
    price::{HttpTicker, PriceSource},
    store::now_ms,
};

/// Where prices come from and how often they are fetched again.
#[derive(Debug, Clone)]
pub struct PriceFeed {
    pub source: HttpTicker,
    pub every: Duration,
}

/// Keeps the prices of watched markets current. A failed fetch keeps the last price for a while (it
/// carries its time), then drops it, so a stale price is never shown as current for long.
pub(super) async fn fetch_prices(inner: Arc<Inner>, feed: PriceFeed, cancel: CancellationToken) {
    const KEEP_STALE_MS: i64 = 10 * 60 * 1000;
    let mut tick = tokio::time::interval(feed.every);
    loop {
        tokio::select! {
            biased;
            () = cancel.cancelled() => break,
            _ = tick.tick() => {}
        }
        let markets: Vec<(Asset, Quote)> = inner
            .watched
            .read()
            .map(|w| w.iter().copied().collect())
            .unwrap_or_default();
        for (base, quote) in markets {
            let fetched = tokio::select! {
                biased;
                () = cancel.cancelled() => return,
                fetched = feed.source.price(base.code(), quote.code()) => fetched,
            };
            let Ok(mut prices) = inner.prices.write() else {
                return;
            };
            match fetched {
                Ok(price) => {
                    let event = MarketEvent::PriceUpdated {
                        base,
                        quote,
                        price: price.price,
                    };
                    prices.insert((base, quote), price);
                    drop(prices);
                    let _ = inner.events.send(event);
                }
                Err(e) => {
                    tracing::debug!(error = %e, "no market price");
                    if prices
                        .get(&(base, quote))
                        .is_some_and(|p| now_ms() - p.fetched_at_ms > KEEP_STALE_MS)
                    {
                        prices.remove(&(base, quote));
                    }
                }
            }
        }
    }
}
