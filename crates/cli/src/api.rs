//! The local HTTP JSON API and WebSocket event stream of `souk node`: thin handlers over [`Node`].
//!
//! It takes the same typed JSON as the desktop app's commands (amounts in base units, the core's own
//! types; the text a person types is the CLI's to read, in `input`), and owns the bearer-token guard
//! and the mapping of core error kinds to HTTP statuses. It must never hold behaviour of its own: every
//! decision about offers, the book or the network is the core's. It binds to loopback only; the caller
//! checks the address before binding.
//!
//! This root holds the shared state and builds the router (and its OpenAPI document) from the
//! handlers' annotations; each resource's handlers live in a child module.

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

use axum::{Router, extract::DefaultBodyLimit, middleware};
use souk_core::node::Node;
use tokio_util::sync::CancellationToken;
use utoipa_axum::{router::OpenApiRouter, routes};

pub use error::{ApiError, ApiResult};
pub use markets::Refreshed;
pub use network::{PeerInfo, Status, dialable};
pub use offers::Withdrawn;
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
    let (router, _) = api().split_for_parts();
    router
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_token,
        ))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state)
}

/// Every route with its handler and its OpenAPI description, both from the handler's
/// `#[utoipa::path]`: a route cannot be served without being described. One `routes!` per path.
fn api() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(network::status))
        .routes(routes!(network::peers))
        .routes(routes!(network::app_status))
        .routes(routes!(network::network))
        .routes(routes!(network::chain))
        .routes(routes!(offers::list_offers, offers::post_offer))
        .routes(routes!(offers::withdraw_offer))
        .routes(routes!(offers::book_page))
        .routes(routes!(offers::my_offers))
        .routes(routes!(markets::refresh_market))
        .routes(routes!(markets::market_price))
        .routes(routes!(trades::list, trades::take))
        .routes(routes!(trades::show))
        .routes(routes!(trades::accept))
        .routes(routes!(trades::reject))
        .routes(routes!(trades::counter))
        .routes(routes!(chat::messages, chat::send_message))
        .routes(routes!(chat::mark_read))
        .routes(routes!(trades::address))
        .routes(routes!(trades::fund))
        .routes(routes!(trades::paid))
        .routes(routes!(trades::received))
        .routes(routes!(trades::cancel))
        .routes(routes!(trades::dispute))
        .routes(routes!(trades::rate))
        .routes(routes!(trades::receipt))
        .routes(routes!(trades::reputation))
        .routes(routes!(disputes::disputes))
        .routes(routes!(disputes::dispute_info))
        .routes(routes!(disputes::resolve))
        .routes(routes!(events::events))
        .routes(routes!(openapi::openapi))
        .routes(routes!(settings::preferences, settings::save_preferences))
        .routes(routes!(settings::startup))
        .routes(routes!(settings::retry_startup))
        .routes(routes!(settings::connection, settings::save_connection))
        .routes(routes!(settings::test_chain))
        .routes(routes!(backup::export))
        .routes(routes!(backup::settings, backup::save_settings))
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

    use table::routes;

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
