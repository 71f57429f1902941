//! The local HTTP JSON API and WebSocket event stream of `souk node`: thin handlers over [`Node`].
//!
//! It owns request parsing (text amounts, percentages, durations → core types), the bearer-token guard
//! and the mapping of core error kinds to HTTP statuses. It must never hold behaviour of its own: every
//! decision about offers, the book or the network is the core's. It binds to loopback only; the caller
//! checks the address before binding.
//!
//! This root holds the shared state and builds the router from the route table; each resource's
//! handlers live in a child module.

mod auth;
mod backup;
mod chat;
mod disputes;
mod error;
mod events;
mod markets;
mod network;
mod offers;
mod openapi;
mod settings;
mod table;
pub mod trades;

use std::sync::Arc;

use axum::{
    Json, Router,
    extract::{DefaultBodyLimit, State},
    middleware,
    routing::{MethodRouter, delete, get, post},
};
use souk_core::node::Node;
use tokio_util::sync::CancellationToken;

use table::routes;

pub use error::{ApiError, ApiResult};
pub use markets::{Refreshed, parse_market};
pub use network::{PeerInfo, Status, dialable};
pub use offers::{OfferRequest, Withdrawn};
pub use trades::{CounterRequest, TakeRequest};

/// Largest accepted request body.
pub const BODY_LIMIT: usize = 64 * 1024;

#[derive(Clone)]
pub struct ApiState {
    pub node: Arc<Node>,
    pub token: Arc<str>,
    /// Cancelled when the node stops: open WebSocket streams end with it.
    pub stop: CancellationToken,
}

pub fn router(state: ApiState) -> Router {
    let mut router = Router::new();
    for (path, _) in routes() {
        router = router.route(path, methods(path));
    }
    router
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_token,
        ))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state)
}

fn methods(path: &str) -> MethodRouter<ApiState> {
    match path {
        "/api/v1/status" => get(network::status),
        "/api/v1/peers" => get(network::peers),
        "/api/v1/offers" => get(offers::list_offers).post(offers::post_offer),
        "/api/v1/offers/{id}" => delete(offers::withdraw_offer),
        "/api/v1/markets/{base}/{quote}/refresh" => post(markets::refresh_market),
        "/api/v1/trades" => get(trades::list).post(trades::take),
        "/api/v1/trades/{id}" => get(trades::show),
        "/api/v1/trades/{id}/accept" => post(trades::accept),
        "/api/v1/trades/{id}/reject" => post(trades::reject),
        "/api/v1/trades/{id}/counter" => post(trades::counter),
        "/api/v1/trades/{id}/messages" => get(chat::messages).post(chat::send_message),
        "/api/v1/trades/{id}/read" => post(chat::mark_read),
        "/api/v1/trades/{id}/address" => post(trades::address),
        "/api/v1/trades/{id}/fund" => post(trades::fund),
        "/api/v1/trades/{id}/paid" => post(trades::paid),
        "/api/v1/trades/{id}/received" => post(trades::received),
        "/api/v1/trades/{id}/cancel" => post(trades::cancel),
        "/api/v1/trades/{id}/dispute" => post(trades::dispute),
        "/api/v1/trades/{id}/rating" => post(trades::rate),
        "/api/v1/trades/{id}/receipt" => get(trades::receipt),
        "/api/v1/reputation/{peer}" => get(trades::reputation),
        "/api/v1/disputes" => get(disputes::disputes),
        "/api/v1/disputes/{id}" => get(disputes::dispute_info),
        "/api/v1/disputes/{id}/resolve" => post(disputes::resolve),
        "/api/v1/events" => get(events::events),
        "/api/v1/openapi.json" => get(openapi::openapi),
        "/api/v1/app-status" => {
            get(async |s: State<ApiState>| Ok::<_, ApiError>(Json(s.node.status().await?)))
        }
        "/api/v1/my-offers" => {
            get(async |s: State<ApiState>| Ok::<_, ApiError>(Json(s.node.my_offers().await?)))
        }
        "/api/v1/markets/{base}/{quote}/price" => get(markets::market_price),
        "/api/v1/network" => {
            get(async |s: State<ApiState>| Ok::<_, ApiError>(Json(s.node.network_status().await?)))
        }
        "/api/v1/chain" => {
            get(async |s: State<ApiState>| Ok::<_, ApiError>(Json(s.node.chain_status().await?)))
        }
        "/api/v1/preferences" => get(settings::preferences).put(settings::save_preferences),
        "/api/v1/startup" => get(settings::startup),
        "/api/v1/startup/retry" => post(settings::retry_startup),
        "/api/v1/settings/connection" => get(settings::connection).put(settings::save_connection),
        "/api/v1/settings/connection/test" => post(settings::test_chain),
        "/api/v1/backup/export" => post(backup::export),
        "/api/v1/settings/backup" => get(backup::settings).put(backup::save_settings),
        _ => MethodRouter::new(),
    }
}

#[cfg(test)]
mod tests {
    use axum::{body::Body, http::StatusCode};
    use tower::ServiceExt;

    use super::*;

    fn state() -> ApiState {
        ApiState {
            node: Arc::new(Node::new(
                std::env::temp_dir().join("souk-api-unit-never-created"),
                souk_core::config::Config::default(),
            )),
            token: "secret".into(),
            stop: CancellationToken::new(),
        }
    }

    #[tokio::test]
    async fn every_route_exists_and_needs_the_token() {
        for (path, methods) in routes() {
            for method in methods {
                let request = axum::http::Request::builder()
                    .method(method.to_ascii_uppercase().as_str())
                    .uri(path)
                    .body(Body::empty())
                    .unwrap();
                let answer = router(state()).oneshot(request).await.unwrap();
                assert_eq!(answer.status(), StatusCode::UNAUTHORIZED, "{method} {path}");
            }
        }
        let request = axum::http::Request::builder()
            .uri("/api/v1/nothing")
            .body(Body::empty())
            .unwrap();
        let answer = router(state()).oneshot(request).await.unwrap();
        assert_eq!(answer.status(), StatusCode::NOT_FOUND);
    }
}
