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

#[utoipa::path(
    get,
    path = "/api/v1/events",
    tag = "events",
    summary = "WebSocket: market and trade events as JSON text frames ({kind: offer_added, offer} | {kind: offer_withdrawn, id} | {kind: price_updated, …} | {kind: take_requested, trade} | {kind: trade_updated, trade} | {kind: recovered, trade} | {kind: message, message} | {kind: delivered, trade_id, up_to} | {kind: read, trade_id, up_to} | {kind: dispute_opened, trade_id} | {kind: dispute_resolved, trade_id} | {kind: lagged, missed})",
    responses((status = 101, description = "Switching to the WebSocket protocol"))
)]
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
