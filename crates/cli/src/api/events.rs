//! The WebSocket event stream of the local API: market and trade events as JSON text frames until
//! the client leaves or the node stops.

use axum::{
    extract::{
        State,
        ws::{Message, WebSocket, WebSocketUpgrade},
    },
    response::Response,
};
use serde::Serialize;
use souk_core::{
    events::{self, Followed},
    market::MarketEvent,
    trading::TradeEvent,
};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use super::{ApiResult, ApiState};

pub(super) async fn events(
    State(state): State<ApiState>,
    upgrade: WebSocketUpgrade,
) -> ApiResult<Response> {
    let market = state.node.market_events();
    let trades = state.node.trade_events();
    Ok(upgrade.on_upgrade(move |socket| stream_events(socket, market, trades, state.stop)))
}

/// Encodes one event (or how many a slow client missed); `None` once the channel is closed.
fn event_text<T: Serialize>(event: Option<Followed<T>>) -> Option<String> {
    serde_json::to_string(&event?)
        .inspect_err(|e| tracing::warn!(error = %e, "cannot encode an event"))
        .ok()
}

/// Forwards market and trade events as JSON text frames until the client leaves or the node stops. A
/// client too slow to keep up is told how many events it missed.
async fn stream_events(
    mut socket: WebSocket,
    mut market: broadcast::Receiver<MarketEvent>,
    mut trades: broadcast::Receiver<TradeEvent>,
    stop: CancellationToken,
) {
    loop {
        let text = tokio::select! {
            biased;
            () = stop.cancelled() => break,
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => continue,
            },
            event = events::next(&mut market) => event_text(event),
            event = events::next(&mut trades) => event_text(event),
        };
        let Some(text) = text else { break };
        if socket.send(Message::Text(text.into())).await.is_err() {
            return;
        }
    }
    let _ = socket.send(Message::Close(None)).await;
}
