//! The local HTTP JSON API and WebSocket event stream of `souk node`: thin handlers over [`Node`].
//!
//! It owns request parsing (text amounts, percentages, durations → core types), the bearer-token guard
//! and the mapping of core error kinds to HTTP statuses. It must never hold behaviour of its own: every
//! decision about offers, the book or the network is the core's. It binds to loopback only; the caller
//! checks the address before binding.

use std::{str::FromStr, sync::Arc};

use axum::{
    Json, Router,
    extract::{
        DefaultBodyLimit, Path, Query, Request, State,
        rejection::{JsonRejection, PathRejection, QueryRejection},
        ws::{Message, WebSocket, WebSocketUpgrade},
    },
    http::{HeaderMap, StatusCode, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::{MethodRouter, delete, get, post},
};
use libp2p::PeerId;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use souk_core::{
    Error, ErrorKind, ErrorPayload,
    book::BookQuery,
    events::{self, Followed},
    market::MarketEvent,
    node::Node,
    offer::{
        Asset, EscrowKind, MAX_TTL_MS, NewOffer, PaymentMethod, Price, Quote, Side, format_amount,
        parse_amount,
    },
    trading::TradeEvent,
};
use subtle::ConstantTimeEq;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::{settings_api, trades_api};

/// Largest accepted request body.
pub const BODY_LIMIT: usize = 64 * 1024;

/// Every route: its path and methods, in the order of [`COMMAND_ROUTES`] then [`HTTP_ONLY`]. The
/// router is built from this list only, so the OpenAPI description and the tests can check they cover it.
pub fn routes() -> Vec<(&'static str, Vec<&'static str>)> {
    let mut out: Vec<(&'static str, Vec<&'static str>)> = Vec::new();
    let all = COMMAND_ROUTES
        .iter()
        .flat_map(|(_, routes)| routes.iter())
        .chain(HTTP_ONLY.iter());
    for (method, path) in all {
        match out.iter_mut().find(|(p, _)| p == path) {
            Some((_, methods)) => methods.push(method),
            None => out.push((path, vec![method])),
        }
    }
    out
}

/// Each command of the core's command table (`souk_core::command_table!`) and the routes that serve it
/// here. A test fails when a command lacks its routes (and is not in [`NOT_OVER_HTTP`]), or when a route
/// serves no command (and is not in [`HTTP_ONLY`]).
pub const COMMAND_ROUTES: &[(&str, &[(&str, &str)])] = &[
    ("app_status", &[("get", "/api/v1/app-status")]),
    ("network_status", &[("get", "/api/v1/network")]),
    ("offers", &[("get", "/api/v1/offers")]),
    ("my_offers", &[("get", "/api/v1/my-offers")]),
    ("post_offer", &[("post", "/api/v1/offers")]),
    ("withdraw_offer", &[("delete", "/api/v1/offers/{id}")]),
    (
        "refresh_market",
        &[("post", "/api/v1/markets/{base}/{quote}/refresh")],
    ),
    (
        "market_price",
        &[("get", "/api/v1/markets/{base}/{quote}/price")],
    ),
    ("take_offer", &[("post", "/api/v1/trades")]),
    (
        "answer_trade",
        &[
            ("post", "/api/v1/trades/{id}/accept"),
            ("post", "/api/v1/trades/{id}/reject"),
            ("post", "/api/v1/trades/{id}/counter"),
        ],
    ),
    ("trades", &[("get", "/api/v1/trades")]),
    ("trade", &[("get", "/api/v1/trades/{id}")]),
    ("chat_log", &[("get", "/api/v1/trades/{id}/messages")]),
    ("send_chat", &[("post", "/api/v1/trades/{id}/messages")]),
    ("mark_read", &[("post", "/api/v1/trades/{id}/read")]),
    (
        "set_escrow_address",
        &[("post", "/api/v1/trades/{id}/address")],
    ),
    ("fund_from_wallet", &[("post", "/api/v1/trades/{id}/fund")]),
    ("mark_paid", &[("post", "/api/v1/trades/{id}/paid")]),
    ("mark_received", &[("post", "/api/v1/trades/{id}/received")]),
    ("cancel_trade", &[("post", "/api/v1/trades/{id}/cancel")]),
    ("dispute_trade", &[("post", "/api/v1/trades/{id}/dispute")]),
    ("preferences", &[("get", "/api/v1/preferences")]),
    ("save_preferences", &[("put", "/api/v1/preferences")]),
    ("chain_status", &[("get", "/api/v1/chain")]),
    ("disputes", &[("get", "/api/v1/disputes")]),
    ("dispute_info", &[("get", "/api/v1/disputes/{id}")]),
    (
        "resolve_dispute",
        &[("post", "/api/v1/disputes/{id}/resolve")],
    ),
    ("startup_progress", &[("get", "/api/v1/startup")]),
    ("retry_startup", &[("post", "/api/v1/startup/retry")]),
    (
        "connection_settings",
        &[("get", "/api/v1/settings/connection")],
    ),
    (
        "save_connection_settings",
        &[("put", "/api/v1/settings/connection")],
    ),
    (
        "test_chain_connection",
        &[("post", "/api/v1/settings/connection/test")],
    ),
];

/// Commands of the table the HTTP API does not serve, and why.
pub const NOT_OVER_HTTP: &[(&str, &str)] = &[
    (
        "create_identity",
        "a headless node's identity is made where it runs (souk init), never over the network",
    ),
    (
        "restore_identity",
        "a headless node's identity is restored where it runs (souk init --restore)",
    ),
    (
        "unlock",
        "a headless node is unlocked where it starts (souk node asks for the passphrase)",
    ),
];

/// Routes of the HTTP API's own, serving no command of the table.
pub const HTTP_ONLY: &[(&str, &str)] = &[
    ("get", "/api/v1/status"),
    ("get", "/api/v1/peers"),
    ("get", "/api/v1/events"),
    ("get", "/api/v1/openapi.json"),
];

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
        .route_layer(middleware::from_fn_with_state(state.clone(), require_token))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state)
}

fn methods(path: &str) -> MethodRouter<ApiState> {
    match path {
        "/api/v1/status" => get(status),
        "/api/v1/peers" => get(peers),
        "/api/v1/offers" => get(list_offers).post(post_offer),
        "/api/v1/offers/{id}" => delete(withdraw_offer),
        "/api/v1/markets/{base}/{quote}/refresh" => post(refresh_market),
        "/api/v1/trades" => get(trades_api::list).post(trades_api::take),
        "/api/v1/trades/{id}" => get(trades_api::show),
        "/api/v1/trades/{id}/accept" => post(trades_api::accept),
        "/api/v1/trades/{id}/reject" => post(trades_api::reject),
        "/api/v1/trades/{id}/counter" => post(trades_api::counter),
        "/api/v1/trades/{id}/messages" => get(trades_api::messages).post(trades_api::send_message),
        "/api/v1/trades/{id}/read" => post(trades_api::mark_read),
        "/api/v1/trades/{id}/address" => post(trades_api::address),
        "/api/v1/trades/{id}/fund" => post(trades_api::fund),
        "/api/v1/trades/{id}/paid" => post(trades_api::paid),
        "/api/v1/trades/{id}/received" => post(trades_api::received),
        "/api/v1/trades/{id}/cancel" => post(trades_api::cancel),
        "/api/v1/trades/{id}/dispute" => post(trades_api::dispute),
        "/api/v1/disputes" => get(trades_api::disputes),
        "/api/v1/disputes/{id}" => get(trades_api::dispute_info),
        "/api/v1/disputes/{id}/resolve" => post(trades_api::resolve),
        "/api/v1/events" => get(events),
        "/api/v1/openapi.json" => get(openapi),
        "/api/v1/app-status" => {
            get(async |s: State<ApiState>| Ok::<_, ApiError>(Json(s.node.status().await?)))
        }
        "/api/v1/my-offers" => {
            get(async |s: State<ApiState>| Ok::<_, ApiError>(Json(s.node.my_offers().await?)))
        }
        "/api/v1/markets/{base}/{quote}/price" => get(market_price),
        "/api/v1/network" => {
            get(async |s: State<ApiState>| Ok::<_, ApiError>(Json(s.node.network_status().await?)))
        }
        "/api/v1/chain" => {
            get(async |s: State<ApiState>| Ok::<_, ApiError>(Json(s.node.chain_status().await?)))
        }
        "/api/v1/preferences" => get(settings_api::preferences).put(settings_api::save_preferences),
        "/api/v1/startup" => get(settings_api::startup),
        "/api/v1/startup/retry" => post(settings_api::retry_startup),
        "/api/v1/settings/connection" => {
            get(settings_api::connection).put(settings_api::save_connection)
        }
        "/api/v1/settings/connection/test" => post(settings_api::test_chain),
        _ => MethodRouter::new(),
    }
}

/// An error answer: `{kind, message}` with a status.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    kind: String,
    message: String,
}

impl ApiError {
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            kind: kind_name(ErrorKind::InvalidInput),
            message: message.into(),
        }
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        let ErrorPayload { kind, message } = e.payload();
        let status = match kind {
            ErrorKind::InvalidInput | ErrorKind::InvalidSeedPhrase => StatusCode::BAD_REQUEST,
            ErrorKind::AlreadyInitialized => StatusCode::CONFLICT,
            ErrorKind::Offline | ErrorKind::NotInitialized => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        Self {
            status,
            kind: kind_name(kind),
            message,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(json!({ "kind": self.kind, "message": self.message })),
        )
            .into_response()
    }
}

fn kind_name(kind: ErrorKind) -> String {
    match serde_json::to_value(kind) {
        Ok(Value::String(s)) => s,
        _ => "internal".into(),
    }
}

fn rejection(status: StatusCode, message: String) -> ApiError {
    ApiError {
        status: if status == StatusCode::PAYLOAD_TOO_LARGE {
            status
        } else {
            StatusCode::BAD_REQUEST
        },
        kind: kind_name(ErrorKind::InvalidInput),
        message,
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        rejection(r.status(), r.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        rejection(r.status(), r.body_text())
    }
}

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> Self {
        rejection(r.status(), r.body_text())
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// The token comes as `Authorization: Bearer …` or, for browsers opening a WebSocket, `?token=…`.
async fn require_token(State(state): State<ApiState>, request: Request, next: Next) -> Response {
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

/// Listen addresses with `/p2p/<peer id>` appended, ready to be used as `--bootstrap`.
pub fn dialable(addrs: &[String], peer_id: &str) -> Vec<String> {
    addrs
        .iter()
        .map(|a| {
            if a.contains("/p2p/") {
                a.clone()
            } else {
                format!("{a}/p2p/{peer_id}")
            }
        })
        .collect()
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Status {
    pub peer_id: String,
    pub listen_addrs: Vec<String>,
    pub connected_peers: usize,
    pub routing_table_size: usize,
    pub stored_records: usize,
}

async fn status(State(state): State<ApiState>) -> ApiResult<Json<Status>> {
    let status = state.node.network_status().await?;
    Ok(Json(Status {
        listen_addrs: status.listen_addrs,
        peer_id: status.peer_id,
        connected_peers: status.connected_peers.len(),
        routing_table_size: usize::try_from(status.routing_table_size).unwrap_or(usize::MAX),
        stored_records: usize::try_from(status.stored_records).unwrap_or(usize::MAX),
    }))
}

#[derive(Debug, Serialize, Deserialize)]
pub struct PeerInfo {
    pub peer_id: String,
}

async fn peers(State(state): State<ApiState>) -> ApiResult<Json<Vec<PeerInfo>>> {
    let status = state.node.network_status().await?;
    Ok(Json(
        status
            .connected_peers
            .into_iter()
            .map(|peer_id| PeerInfo { peer_id })
            .collect(),
    ))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OfferListQuery {
    market: Option<String>,
    side: Option<String>,
    method: Option<String>,
    amount: Option<String>,
    /// `true`: only this node's offers; `false`: only others'; absent: both.
    mine: Option<bool>,
    /// Accepted (and ignored) so browsers can authenticate by query string here too.
    #[allow(dead_code)]
    token: Option<String>,
}

/// `BTC/EUR` → its asset and quote.
pub fn parse_market(text: &str) -> Result<(Asset, Quote), String> {
    let (base, quote) = text
        .split_once('/')
        .ok_or_else(|| format!("market {text:?} is not BASE/QUOTE, e.g. BTC/EUR"))?;
    let base = Asset::from_str(base).map_err(|e| e.to_string())?;
    let quote = Quote::from_str(quote).map_err(|e| e.to_string())?;
    Ok((base, quote))
}

fn parse_side(text: &str) -> Result<Side, ApiError> {
    match text.trim().to_ascii_lowercase().as_str() {
        "buy" => Ok(Side::Buy),
        "sell" => Ok(Side::Sell),
        _ => Err(ApiError::bad_request(format!(
            "side {text:?} is neither buy nor sell"
        ))),
    }
}

fn parse_method(text: &str) -> Result<PaymentMethod, ApiError> {
    PaymentMethod::new(text.trim().to_ascii_uppercase())
        .map_err(|e| ApiError::bad_request(e.to_string()))
}

async fn list_offers(
    State(state): State<ApiState>,
    query: Result<Query<OfferListQuery>, QueryRejection>,
) -> ApiResult<Json<Vec<souk_core::book::BookEntry>>> {
    let Query(q) = query?;
    let market = q
        .market
        .as_deref()
        .map(parse_market)
        .transpose()
        .map_err(ApiError::bad_request)?;
    let amount = match (&q.amount, market) {
        (None, _) => None,
        (Some(text), Some((base, _))) => {
            Some(parse_amount(text, base).map_err(|e| ApiError::bad_request(e.to_string()))?)
        }
        (Some(_), None) => {
            return Err(ApiError::bad_request(
                "amount needs a market (e.g. market=BTC/EUR) to know which asset it counts",
            ));
        }
    };
    let query = BookQuery {
        base: market.map(|m| m.0),
        quote: market.map(|m| m.1),
        side: q.side.as_deref().map(parse_side).transpose()?,
        method: q.method.as_deref().map(parse_method).transpose()?,
        amount,
        include_mine: Some(q.mine != Some(false)),
    };
    let mut entries = state.node.offers(&query).await?;
    if q.mine == Some(true) {
        entries.retain(|e| e.mine);
    }
    Ok(Json(entries))
}

/// The body of `POST /api/v1/offers`: what a person types, as text.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OfferRequest {
    pub side: String,
    pub base: String,
    pub quote: String,
    /// A fixed price in quote units per whole base coin, e.g. "60000".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price: Option<String>,
    /// Or a premium over the market price in percent, e.g. "1.5" or "-2".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub premium: Option<String>,
    pub min: String,
    pub max: String,
    pub methods: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escrow: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub arbitrators: Vec<String>,
    /// Security deposit in percent of the trade amount (default 15).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deposit: Option<String>,
    /// How long the offer stays up: `30m`, `24h`, `7d` (default 24h).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terms: Option<String>,
}

/// Percent text with at most two decimals → basis points.
fn percent_to_bps(what: &str, text: &str) -> Result<i64, ApiError> {
    let value = Decimal::from_str(text.trim()).map_err(|_| {
        ApiError::bad_request(format!("{what} {text:?} is not a number of percent"))
    })?;
    let bps = value * Decimal::ONE_HUNDRED;
    if !bps.fract().is_zero() {
        return Err(ApiError::bad_request(format!(
            "{what} {text} has more than 2 decimal places (the unit is 0.01 %)"
        )));
    }
    i64::try_from(bps).map_err(|_| ApiError::bad_request(format!("{what} {text} is out of range")))
}

/// `30m`, `24h`, `7d` → milliseconds.
pub fn parse_ttl(text: &str) -> Result<i64, String> {
    let t = text.trim();
    let bad = || format!("ttl {text:?} is not a duration like 30m, 24h or 7d");
    let split = t.len().checked_sub(1).ok_or_else(bad)?;
    let (number, unit) = t.split_at(split);
    let unit_ms: i64 = match unit {
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err(bad()),
    };
    let n: i64 = number.parse().map_err(|_| bad())?;
    if n <= 0 {
        return Err(format!("ttl {text} must be longer than zero"));
    }
    let ms = n.checked_mul(unit_ms).ok_or_else(bad)?;
    if ms > MAX_TTL_MS {
        return Err(format!("ttl {text} is longer than the 7-day maximum"));
    }
    Ok(ms)
}

pub fn new_offer(r: &OfferRequest) -> Result<NewOffer, ApiError> {
    let bad = |e: souk_core::offer::OfferError| ApiError::bad_request(e.to_string());
    let side = parse_side(&r.side)?;
    let base = Asset::from_str(&r.base).map_err(bad)?;
    let quote = Quote::from_str(&r.quote).map_err(bad)?;
    let price = match (&r.price, &r.premium) {
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_request(
                "give either a price or a premium, not both",
            ));
        }
        (None, None) => {
            return Err(ApiError::bad_request(
                "give a price (e.g. \"60000\") or a premium over the market in percent (e.g. \"1.5\")",
            ));
        }
        (Some(p), None) => Price::Fixed(
            Decimal::from_str(p.trim())
                .map_err(|_| ApiError::bad_request(format!("price {p:?} is not a number")))?,
        ),
        (None, Some(p)) => Price::MarketRelative {
            premium_bps: i32::try_from(percent_to_bps("premium", p)?)
                .map_err(|_| ApiError::bad_request(format!("premium {p} is out of range")))?,
        },
    };
    let min = parse_amount(&r.min, base).map_err(bad)?;
    let max = parse_amount(&r.max, base).map_err(bad)?;
    if min > max {
        return Err(ApiError::bad_request(format!(
            "min {} is above max {}",
            format_amount(min, base),
            format_amount(max, base)
        )));
    }
    let payment_methods = r
        .methods
        .iter()
        .map(|m| parse_method(m))
        .collect::<Result<Vec<_>, _>>()?;
    if payment_methods.is_empty() {
        return Err(ApiError::bad_request(
            "name at least one payment method, e.g. SEPA",
        ));
    }
    let arbitrators = r
        .arbitrators
        .iter()
        .map(|a| {
            PeerId::from_str(a.trim()).map_err(|e| {
                ApiError::bad_request(format!("arbitrator {a:?} is not a PeerId: {e}"))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let escrow = match r.escrow.as_deref().map(str::trim) {
        Some("multisig") => EscrowKind::Multisig { arbitrators },
        Some("none") | None if arbitrators.is_empty() => EscrowKind::None,
        Some("none") | None => {
            return Err(ApiError::bad_request(
                "arbitrators only go with escrow \"multisig\"",
            ));
        }
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "escrow {other:?} is neither \"none\" nor \"multisig\""
            )));
        }
    };
    let deposit = percent_to_bps("deposit", r.deposit.as_deref().unwrap_or("15"))?;
    let deposit_bps = u16::try_from(deposit)
        .map_err(|_| ApiError::bad_request(format!("deposit {deposit} bps is out of range")))?;
    let ttl_ms = parse_ttl(r.ttl.as_deref().unwrap_or("24h")).map_err(ApiError::bad_request)?;
    Ok(NewOffer {
        side,
        base,
        quote,
        price,
        min_amount: min,
        max_amount: max,
        payment_methods,
        escrow,
        deposit_bps,
        // The node puts its own channel key in when it signs.
        maker_x25519: [0; 32],
        ttl_ms,
        terms: r.terms.clone().unwrap_or_default(),
    })
}

async fn post_offer(
    State(state): State<ApiState>,
    body: Result<Json<OfferRequest>, JsonRejection>,
) -> ApiResult<Response> {
    let Json(request) = body?;
    let new = new_offer(&request)?;
    let offer = state.node.post_offer(new).await?;
    Ok((StatusCode::CREATED, Json(offer)).into_response())
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Withdrawn {
    pub id: Uuid,
    pub withdrawn: bool,
}

async fn withdraw_offer(
    State(state): State<ApiState>,
    id: Result<Path<String>, PathRejection>,
) -> ApiResult<Json<Withdrawn>> {
    let Path(id) = id?;
    let id = Uuid::from_str(&id)
        .map_err(|_| ApiError::bad_request(format!("{id:?} is not an offer id (a UUID)")))?;
    state.node.withdraw_offer(id).await?;
    Ok(Json(Withdrawn {
        id,
        withdrawn: true,
    }))
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Refreshed {
    pub market: String,
    pub new_offers: usize,
}

async fn refresh_market(
    State(state): State<ApiState>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> ApiResult<Json<Refreshed>> {
    let Path((base, quote)) = path?;
    let (base, quote) = parse_market(&format!("{base}/{quote}")).map_err(ApiError::bad_request)?;
    let new_offers = state.node.refresh_market(base, quote).await?;
    Ok(Json(Refreshed {
        market: format!("{base}/{quote}"),
        new_offers,
    }))
}

async fn market_price(
    State(state): State<ApiState>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> ApiResult<Json<Option<souk_core::price::MarketPrice>>> {
    let Path((base, quote)) = path?;
    let (base, quote) = parse_market(&format!("{base}/{quote}")).map_err(ApiError::bad_request)?;
    Ok(Json(state.node.market_price(base, quote).await?))
}

async fn events(State(state): State<ApiState>, upgrade: WebSocketUpgrade) -> ApiResult<Response> {
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

async fn openapi() -> Json<Value> {
    Json(openapi_document())
}

/// The OpenAPI 3.1 description of [`routes`].
pub fn openapi_document() -> Value {
    let error = json!({ "$ref": "#/components/responses/Error" });
    let errors = json!({ "400": error, "401": error, "500": error, "503": error });
    let ok = |description: &str, schema: Value| json!({ "description": description, "content": { "application/json": { "schema": schema } } });
    let merge = |mut base: Value, extra: &Value| {
        if let (Some(b), Some(e)) = (base.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                b.insert(k.clone(), v.clone());
            }
        }
        base
    };
    let query_param = |name: &str, description: &str, schema: Value| json!({ "name": name, "in": "query", "required": false, "description": description, "schema": schema });
    let path_param = |name: &str, description: &str| json!({ "name": name, "in": "path", "required": true, "description": description, "schema": { "type": "string" } });
    let settings_paths = settings_api::openapi_paths(&errors);
    let not_here: Vec<String> = NOT_OVER_HTTP
        .iter()
        .map(|(command, why)| format!("`{command}`: {why}"))
        .collect();
    let description = format!(
        "The local API of a running `souk node`. Bound to loopback; every route needs the bearer token from api.json in the data directory (`Authorization: Bearer TOKEN`, or `?token=TOKEN` where headers cannot be set, e.g. a browser WebSocket). Not served here: {}.",
        not_here.join("; ")
    );
    let mut doc = json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Souk node API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": description
        },
        "security": [{ "bearer": [] }],
        "paths": {
            "/api/v1/status": { "get": {
                "summary": "This node: PeerId, listen addresses, connected peers, DHT routing table size",
                "responses": merge(json!({ "200": ok("Status", json!({ "$ref": "#/components/schemas/Status" })) }), &errors)
            }},
            "/api/v1/peers": { "get": {
                "summary": "Connected peers",
                "responses": merge(json!({ "200": ok("Peers", json!({ "type": "array", "items": { "type": "object", "properties": { "peer_id": { "type": "string" } } } })) }), &errors)
            }},
            "/api/v1/offers": {
                "get": {
                    "summary": "The order book, from this node's cache",
                    "parameters": [
                        query_param("market", "BASE/QUOTE, e.g. BTC/EUR", json!({ "type": "string" })),
                        query_param("side", "buy or sell (the maker's side)", json!({ "type": "string", "enum": ["buy", "sell"] })),
                        query_param("method", "payment method, e.g. SEPA", json!({ "type": "string" })),
                        query_param("amount", "only offers whose range contains this amount of the base asset, e.g. 0.05 (needs market)", json!({ "type": "string" })),
                        query_param("mine", "true: only this node's offers; false: only others'; absent: both", json!({ "type": "boolean" }))
                    ],
                    "responses": merge(json!({ "200": ok("Book entries, best price first", json!({ "type": "array", "items": { "$ref": "#/components/schemas/BookEntry" } })) }), &errors)
                },
                "post": {
                    "summary": "Sign, store and publish a new offer",
                    "requestBody": { "required": true, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/OfferRequest" } } } },
                    "responses": merge(json!({ "201": ok("The offer as published", json!({ "$ref": "#/components/schemas/Offer" })), "413": error }), &errors)
                }
            },
            "/api/v1/offers/{id}": { "delete": {
                "summary": "Withdraw one of this node's offers (a signed tombstone replaces it everywhere)",
                "parameters": [path_param("id", "the offer id (UUID)")],
                "responses": merge(json!({ "200": ok("Withdrawn", json!({ "type": "object", "properties": { "id": { "type": "string" }, "withdrawn": { "type": "boolean" } } })) }), &errors)
            }},
            "/api/v1/markets/{base}/{quote}/refresh": { "post": {
                "summary": "Ask the makers of a market for their offers",
                "parameters": [path_param("base", "base asset, e.g. BTC"), path_param("quote", "quote currency, e.g. EUR")],
                "responses": merge(json!({ "200": ok("How many offers were new", json!({ "type": "object", "properties": { "market": { "type": "string" }, "new_offers": { "type": "integer" } } })) }), &errors)
            }},
            "/api/v1/trades": {
                "get": {
                    "summary": "This node's trades, newest activity first (works offline)",
                    "responses": merge(json!({ "200": ok("Trades", json!({ "type": "array", "items": { "$ref": "#/components/schemas/Trade" } })) }), &errors)
                },
                "post": {
                    "summary": "Take an offer: its maker must be reachable; opens the trade's encrypted channel",
                    "requestBody": { "required": true, "content": { "application/json": { "schema": { "type": "object", "required": ["offer_id", "amount", "method"], "additionalProperties": false, "properties": {
                        "offer_id": { "type": "string" },
                        "amount": { "type": "string", "description": "in the offer's base asset, e.g. 0.05" },
                        "method": { "type": "string" },
                        "payout": { "type": "string", "description": "where the taker wants to be paid" }
                    }}}}},
                    "responses": merge(json!({ "201": ok("The new trade", json!({ "$ref": "#/components/schemas/Trade" })) }), &errors)
                }
            },
            "/api/v1/trades/{id}": { "get": {
                "summary": "One trade (works offline)",
                "parameters": [path_param("id", "the trade id (UUID)")],
                "responses": merge(json!({ "200": ok("The trade", json!({ "$ref": "#/components/schemas/Trade" })) }), &errors)
            }},
            "/api/v1/trades/{id}/accept": { "post": {
                "summary": "Accept the take request (maker) or the counter (taker)",
                "parameters": [path_param("id", "the trade id (UUID)")],
                "responses": merge(json!({ "200": ok("The trade", json!({ "$ref": "#/components/schemas/Trade" })) }), &errors)
            }},
            "/api/v1/trades/{id}/reject": { "post": {
                "summary": "Reject the take request (maker) or the counter (taker)",
                "parameters": [path_param("id", "the trade id (UUID)")],
                "requestBody": { "required": false, "content": { "application/json": { "schema": { "type": "object", "properties": { "reason": { "type": "string" } } } } } },
                "responses": merge(json!({ "200": ok("The trade", json!({ "$ref": "#/components/schemas/Trade" })) }), &errors)
            }},
            "/api/v1/trades/{id}/counter": { "post": {
                "summary": "Maker: propose another amount and/or fixed price",
                "parameters": [path_param("id", "the trade id (UUID)")],
                "requestBody": { "required": true, "content": { "application/json": { "schema": { "type": "object", "additionalProperties": false, "properties": {
                    "amount": { "type": "string", "description": "in the base asset, e.g. 0.02" },
                    "price": { "type": "string", "description": "fixed price per whole base coin" }
                }}}}},
                "responses": merge(json!({ "200": ok("The trade", json!({ "$ref": "#/components/schemas/Trade" })) }), &errors)
            }},
            "/api/v1/trades/{id}/messages": {
                "get": {
                    "summary": "The trade's chat in order (plain text; works offline)",
                    "parameters": [path_param("id", "the trade id (UUID)")],
                    "responses": merge(json!({ "200": ok("Messages", json!({ "type": "array", "items": { "$ref": "#/components/schemas/ChatMessage" } })) }), &errors)
                },
                "post": {
                    "summary": "Send a chat message (stored, then delivered when the counterparty is reachable)",
                    "parameters": [path_param("id", "the trade id (UUID)")],
                    "requestBody": { "required": true, "content": { "application/json": { "schema": { "type": "object", "required": ["text"], "additionalProperties": false, "properties": { "text": { "type": "string", "maxLength": 4000 } } } } } },
                    "responses": merge(json!({ "201": ok("The stored message", json!({ "$ref": "#/components/schemas/ChatMessage" })) }), &errors)
                }
            },
            "/api/v1/trades/{id}/read": { "post": {
                "summary": "Mark the counterparty's messages read and send it a read receipt",
                "parameters": [path_param("id", "the trade id (UUID)")],
                "responses": merge(json!({ "200": ok("How many were marked", json!({ "type": "object", "properties": { "trade_id": { "type": "string" }, "marked": { "type": "integer" } } })) }), &errors)
            }},
            "/api/v1/trades/{id}/address": { "post": {
                "summary": "Escrow trades: the address this party's coins go to (buyer: payout; seller: deposit refund); sends the escrow keys",
                "parameters": [path_param("id", "the trade id (UUID)")],
                "requestBody": { "required": true, "content": { "application/json": { "schema": { "type": "object", "required": ["address"], "additionalProperties": false, "properties": { "address": { "type": "string" } } } } } },
                "responses": merge(json!({ "200": ok("The trade", json!({ "$ref": "#/components/schemas/Trade" })) }), &errors)
            }},
            "/api/v1/trades/{id}/fund": { "post": {
                "summary": "Pay this party's escrow output from a wallet of the chain node (Core backend): the amount still owed, at the backend's fee rate; signed and broadcast only with broadcast=true, otherwise the unsigned PSBT to confirm or sign elsewhere",
                "parameters": [path_param("id", "the trade id (UUID)")],
                "requestBody": { "required": true, "content": { "application/json": { "schema": { "type": "object", "required": ["wallet"], "additionalProperties": false, "properties": { "wallet": { "type": "string" }, "broadcast": { "type": "boolean" } } } } } },
                "responses": merge(json!({ "200": ok("WalletFunding: wallet, address, amount and fee in base units, psbt (base64), txid once broadcast", json!({ "type": "object" })) }), &errors)
            }},
            "/api/v1/trades/{id}/paid": { "post": {
                "summary": "Buyer: the payment was sent",
                "parameters": [path_param("id", "the trade id (UUID)")],
                "responses": merge(json!({ "200": ok("The trade", json!({ "$ref": "#/components/schemas/Trade" })) }), &errors)
            }},
            "/api/v1/trades/{id}/received": { "post": {
                "summary": "Seller: the payment arrived; signs the escrow's release for the buyer",
                "parameters": [path_param("id", "the trade id (UUID)")],
                "responses": merge(json!({ "200": ok("The trade", json!({ "$ref": "#/components/schemas/Trade" })) }), &errors)
            }},
            "/api/v1/trades/{id}/cancel": { "post": {
                "summary": "Either party, before any coins are locked",
                "parameters": [path_param("id", "the trade id (UUID)")],
                "requestBody": { "required": false, "content": { "application/json": { "schema": { "type": "object", "properties": { "reason": { "type": "string" } } } } } },
                "responses": merge(json!({ "200": ok("The trade", json!({ "$ref": "#/components/schemas/Trade" })) }), &errors)
            }},
            "/api/v1/trades/{id}/dispute": { "post": {
                "summary": "Either party, once coins are locked: the arbitrator decides",
                "parameters": [path_param("id", "the trade id (UUID)")],
                "requestBody": { "required": true, "content": { "application/json": { "schema": { "type": "object", "required": ["reason"], "properties": { "reason": { "type": "string" } } } } } },
                "responses": merge(json!({ "200": ok("The trade", json!({ "$ref": "#/components/schemas/Trade" })) }), &errors)
            }},
            "/api/v1/disputes": { "get": {
                "summary": "As an arbitrator: the disputes sent to this node, newest first",
                "responses": merge(json!({ "200": ok("Disputes", json!({ "type": "array", "items": { "$ref": "#/components/schemas/Dispute" } })) }), &errors)
            }},
            "/api/v1/disputes/{id}": { "get": {
                "summary": "As an arbitrator: one dispute, with both parties' reasons and transcripts",
                "parameters": [path_param("id", "the trade id (UUID)")],
                "responses": merge(json!({ "200": ok("The dispute", json!({ "$ref": "#/components/schemas/Dispute" })) }), &errors)
            }},
            "/api/v1/disputes/{id}/resolve": { "post": {
                "summary": "As an arbitrator: pay the escrow to the buyer, the seller, or split between them (a PSBT signed by this node, sent to both parties; a party who gets anything co-signs and broadcasts). A new decision is accepted after a party refused the last one and none took it",
                "parameters": [path_param("id", "the trade id (UUID)")],
                "requestBody": { "required": true, "content": { "application/json": { "schema": { "type": "object", "required": ["to"], "additionalProperties": false, "properties": { "to": { "type": "string", "enum": ["buyer", "seller", "split"] }, "buyer_gets": { "type": "string", "description": "with split: the buyer's share in the traded asset, e.g. \"0.6\"; the seller gets the rest, the fee comes out of the larger share" }, "reason": { "type": "string", "description": "shown to both parties" } } } } } },
                "responses": merge(json!({ "200": ok("The dispute", json!({ "$ref": "#/components/schemas/Dispute" })) }), &errors)
            }},
            "/api/v1/events": { "get": {
                "summary": "WebSocket: market and trade events as JSON text frames ({kind: offer_added, offer} | {kind: offer_withdrawn, id} | {kind: price_updated, …} | {kind: take_requested, trade} | {kind: trade_updated, trade} | {kind: message, message} | {kind: delivered, trade_id, up_to} | {kind: read, trade_id, up_to} | {kind: dispute_opened, trade_id} | {kind: dispute_resolved, trade_id} | {kind: lagged, missed})",
                "responses": merge(json!({ "101": { "description": "Switching to the WebSocket protocol" } }), &errors)
            }},
            "/api/v1/openapi.json": { "get": {
                "summary": "This description",
                "responses": merge(json!({ "200": ok("OpenAPI 3.1 document", json!({ "type": "object" })) }), &errors)
            }},
            "/api/v1/app-status": { "get": {
                "summary": "The node's identity state (AppStatus in the TypeScript bindings)",
                "responses": merge(json!({ "200": ok("AppStatus", json!({ "type": "object" })) }), &errors)
            }},
            "/api/v1/my-offers": { "get": {
                "summary": "This node's own offers, live, expired and withdrawn, newest first",
                "responses": merge(json!({ "200": ok("MyOffer list", json!({ "type": "array", "items": { "type": "object", "properties": { "offer": { "$ref": "#/components/schemas/Offer" }, "state": { "type": "object" } } } })) }), &errors)
            }},
            "/api/v1/markets/{base}/{quote}/price": { "get": {
                "summary": "The market price from the price feed, or null when none is known",
                "parameters": [path_param("base", "base asset, e.g. BTC"), path_param("quote", "quote currency, e.g. EUR")],
                "responses": merge(json!({ "200": ok("MarketPrice or null", json!({ "type": ["object", "null"] })) }), &errors)
            }},
            "/api/v1/network": { "get": {
                "summary": "The network as the UI shows it (NetworkStatus in the TypeScript bindings): peers, listen addresses, DHT state, and reachability (reach: public | relayed | private | unknown, AutoNAT's verdict, confirmed external addresses, relay reservations)",
                "responses": merge(json!({ "200": ok("NetworkStatus", json!({ "type": "object" })) }), &errors)
            }},
            "/api/v1/chain": { "get": {
                "summary": "The chain backend (ChainStatus in the TypeScript bindings): configured or not, chain and network, connected with its tip height, or the reason it cannot be reached",
                "responses": merge(json!({ "200": ok("ChainStatus", json!({ "type": "object", "properties": {
                    "configured": { "type": "boolean" },
                    "chain": { "type": "string" },
                    "network": { "type": "string" },
                    "rpc_url": { "type": ["string", "null"] },
                    "connected": { "type": "boolean" },
                    "tip_height": { "type": ["integer", "null"] },
                    "confirmations": { "type": "integer" },
                    "error": { "type": ["string", "null"] }
                } })) }), &errors)
            }}
        },
        "components": {
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } },
            "responses": {
                "Error": { "description": "An error", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } }
            },
            "schemas": {
                "Error": { "type": "object", "required": ["kind", "message"], "properties": {
                    "kind": { "type": "string", "description": "unauthorized, invalid_input, offline, internal, storage, io, …" },
                    "message": { "type": "string" }
                }},
                "Status": { "type": "object", "properties": {
                    "peer_id": { "type": "string" },
                    "listen_addrs": { "type": "array", "items": { "type": "string" } },
                    "connected_peers": { "type": "integer" },
                    "routing_table_size": { "type": "integer" },
                    "stored_records": { "type": "integer" }
                }},
                "OfferRequest": { "type": "object", "required": ["side", "base", "quote", "min", "max", "methods"], "additionalProperties": false, "properties": {
                    "side": { "type": "string", "enum": ["buy", "sell"] },
                    "base": { "type": "string", "examples": ["BTC"] },
                    "quote": { "type": "string", "examples": ["EUR"] },
                    "price": { "type": "string", "description": "fixed price per whole base coin; or give premium" },
                    "premium": { "type": "string", "description": "percent over the market price, e.g. 1.5" },
                    "min": { "type": "string", "examples": ["0.01"] },
                    "max": { "type": "string", "examples": ["0.1"] },
                    "methods": { "type": "array", "items": { "type": "string" } },
                    "escrow": { "type": "string", "enum": ["none", "multisig"] },
                    "arbitrators": { "type": "array", "items": { "type": "string" } },
                    "deposit": { "type": "string", "description": "percent, default 15" },
                    "ttl": { "type": "string", "description": "30m, 24h, 7d; default 24h" },
                    "terms": { "type": "string" }
                }},
                "Offer": { "type": "object", "description": "A signed offer (see souk-core's generated TypeScript bindings)" },
                "Trade": { "type": "object", "description": "TradeInfo: id, role, counterparty, state, offer, terms, reject_reason, waiting_for, unread (see the generated TypeScript bindings)" },
                "Dispute": { "type": "object", "description": "DisputeInfo: trade_id, chain, network, offer, buyer, seller, their addresses, escrow_address, amount, buyer_deposit, seller_deposit, opened_by (buyer | seller | null: a deadline), cases (each party's side, reason and transcript), opened_at, resolved_to (buyer | seller | split), resolved_at, decision (round, buyer_share, seller_share, reason, buyer_answer, seller_answer, can_decide_again), on_chain (buyer_output, seller_output: what the escrow holds now)" },
                "ChatMessage": { "type": "object", "description": "id, trade_id, outgoing, seq, sender, body (plain text), sent_at, delivered_at, read_at" },
                "BookEntry": { "type": "object", "properties": {
                    "offer": { "$ref": "#/components/schemas/Offer" },
                    "mine": { "type": "boolean" },
                    "maker_last_seen": { "type": "integer", "description": "unix ms" },
                    "effective_price": { "type": ["string", "null"] },
                    "completed_with_maker": { "type": "integer", "description": "trades this node completed with the maker (its own history, not a reputation)" }
                }}
            }
        }
    });
    if let (Some(paths), Some(extra)) = (doc["paths"].as_object_mut(), settings_paths.as_object()) {
        paths.extend(extra.clone());
    }
    doc
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
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

    #[test]
    fn openapi_describes_every_route_and_method() {
        let doc = openapi_document();
        for (path, methods) in routes() {
            for method in methods {
                assert!(
                    doc["paths"][path][method].is_object(),
                    "{method} {path} is missing from openapi.json"
                );
            }
        }
        assert_eq!(
            doc["paths"].as_object().unwrap().len(),
            routes().len(),
            "openapi.json names a route the router lacks"
        );
    }

    #[test]
    fn every_command_of_the_table_has_its_routes_and_every_route_serves_one() {
        use std::collections::BTreeSet;
        let table: BTreeSet<&str> = souk_core::bindings::COMMAND_NAMES.iter().copied().collect();
        let mapped: BTreeSet<&str> = COMMAND_ROUTES.iter().map(|(name, _)| *name).collect();
        let excused: BTreeSet<&str> = NOT_OVER_HTTP.iter().map(|(name, _)| *name).collect();
        assert_eq!(
            mapped.len(),
            COMMAND_ROUTES.len(),
            "a command is mapped twice"
        );
        assert!(
            mapped.is_disjoint(&excused),
            "{:?}",
            mapped.intersection(&excused)
        );
        let served: BTreeSet<&str> = mapped.union(&excused).copied().collect();
        assert_eq!(
            table.difference(&served).collect::<Vec<_>>(),
            Vec::<&&str>::new(),
            "commands of the table the HTTP API neither serves nor excuses"
        );
        assert_eq!(
            served.difference(&table).collect::<Vec<_>>(),
            Vec::<&&str>::new(),
            "commands served or excused here that the table does not have"
        );
        let routes: BTreeSet<(&str, &str)> = routes()
            .into_iter()
            .flat_map(|(path, methods)| methods.into_iter().map(move |m| (m, path)))
            .collect();
        let claimed: Vec<(&str, &str)> = COMMAND_ROUTES
            .iter()
            .flat_map(|(_, routes)| routes.iter().copied())
            .chain(HTTP_ONLY.iter().copied())
            .collect();
        let claimed_set: BTreeSet<(&str, &str)> = claimed.iter().copied().collect();
        assert_eq!(
            claimed.len(),
            claimed_set.len(),
            "a route serves two commands"
        );
        assert_eq!(
            routes.difference(&claimed_set).collect::<Vec<_>>(),
            Vec::<&(&str, &str)>::new(),
            "routes that serve no command and are not the API's own"
        );
        assert_eq!(
            claimed_set.difference(&routes).collect::<Vec<_>>(),
            Vec::<&(&str, &str)>::new(),
            "routes named for a command that the router lacks"
        );
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

    #[test]
    fn offer_requests_are_checked_with_reasons() {
        let good = OfferRequest {
            side: "sell".into(),
            base: "BTC".into(),
            quote: "EUR".into(),
            premium: Some("1.5".into()),
            min: "0.01".into(),
            max: "0.1".into(),
            methods: vec!["sepa".into()],
            ..Default::default()
        };
        let new = new_offer(&good).unwrap();
        assert_eq!(new.price, Price::MarketRelative { premium_bps: 150 });
        assert_eq!((new.min_amount, new.max_amount), (1_000_000, 10_000_000));
        assert_eq!(new.deposit_bps, 1_500);
        assert_eq!(new.ttl_ms, 24 * 3_600_000);
        let reason = |r: OfferRequest| new_offer(&r).unwrap_err().message;
        assert_eq!(
            reason(OfferRequest {
                min: "0.2".into(),
                ..good.clone()
            }),
            "min 0.2 is above max 0.1"
        );
        assert_eq!(
            reason(OfferRequest {
                base: "DOGE".into(),
                ..good.clone()
            }),
            "unknown asset DOGE"
        );
        assert!(
            reason(OfferRequest {
                ttl: Some("8d".into()),
                ..good.clone()
            })
            .contains("7-day")
        );
        assert!(
            reason(OfferRequest {
                premium: Some("1.005".into()),
                ..good.clone()
            })
            .contains("decimal places")
        );
        assert!(
            reason(OfferRequest {
                price: Some("60000".into()),
                ..good
            })
            .contains("not both")
        );
    }
}
