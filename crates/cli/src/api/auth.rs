//! The bearer-token guard in front of every route. It must compare tokens in constant time and never
//! echo the expected token.

use axum::{
    Json,
    extract::{Request, State},
    http::{HeaderMap, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use serde_json::json;
use subtle::ConstantTimeEq;

use super::ApiState;

/// The token comes as `Authorization: Bearer …` or, for browsers opening a WebSocket, `?token=…`.
pub(super) async fn require_token(
    State(state): State<ApiState>,
    request: Request,
    next: Next,
) -> Response {
    let from_header = bearer(request.headers());
    let from_query = request.uri().query().and_then(|q| {
        q.split('&')
            .find_map(|pair| pair.strip_prefix("token="))
            .map(str::to_owned)
    });
    let presented = from_header.or(from_query);
    let ok = presented.is_some_and(|t| bool::from(t.as_bytes().ct_eq(state.token.as_bytes())));
    if ok {
        return next.run(request).await;
    }
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, "Bearer")],
        Json(json!({
            "kind": "unauthorized",
            "message": "missing or wrong API token: send `Authorization: Bearer TOKEN` (the token is in api.json in the data directory)",
        })),
    )
        .into_response()
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
}
