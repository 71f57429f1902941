//! The trade routes of the local API: text in (amounts as the user types them), core types out.
//! A trade's chat is in `chat`; the arbitrator's side of a dispute is in `disputes`.

use std::str::FromStr;

use axum::{
    Json,
    extract::{Path, State, rejection::JsonRejection, rejection::PathRejection},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use souk_core::{
    offer::PaymentMethod,
    trading::{TradeAnswer, TradeInfo},
};
use uuid::Uuid;

use super::{ApiError, ApiResult, ApiState};

/// The body of `POST /api/v1/trades`.
/// The body of `POST /api/v1/trades`: what the desktop app's `take_offer` takes.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TakeRequest {
    pub offer_id: Uuid,
    /// In base units of the offer's base asset.
    pub amount: u64,
    #[schema(value_type = String)]
    pub method: PaymentMethod,
    /// Where the taker wants to be paid (its payment account's details), if the trade needs it.
    #[serde(default)]
    pub payout: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RejectRequest {
    #[serde(default)]
    pub reason: String,
}

/// The body of `POST /api/v1/trades/{id}/counter`: a new amount, a new fixed price, or both.
/// The body of `POST /api/v1/trades/{id}/counter`: the counter of the desktop app's `answer_trade`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CounterRequest {
    /// Another amount, in base units.
    #[serde(default)]
    pub amount: Option<u64>,
    /// Another fixed price per whole base coin, e.g. "61000".
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub price: Option<Decimal>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddressRequest {
    pub address: String,
}

/// `POST /api/v1/trades/{id}/fund`: pay this party's escrow output from a wallet of the chain node.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FundRequest {
    /// The node wallet to pay from.
    pub wallet: String,
    /// Sign with that wallet and broadcast; without, only build it (amount, fee, unsigned PSBT).
    #[serde(default)]
    pub broadcast: bool,
}

fn uuid(text: &str, what: &str) -> ApiResult<Uuid> {
    Uuid::from_str(text.trim())
        .map_err(|_| ApiError::bad_request(format!("{text:?} is not {what} (a UUID)")))
}

pub(super) fn trade_id(path: Result<Path<String>, PathRejection>) -> ApiResult<Uuid> {
    let Path(id) = path?;
    uuid(&id, "a trade id")
}

#[utoipa::path(
    get,
    path = "/api/v1/trades",
    tag = "trades",
    summary = "This node's trades, newest activity first (works offline)",
    responses((status = 200, description = "Trades", body = Vec<souk_core::trading::TradeInfo>))
)]
pub async fn list(State(state): State<ApiState>) -> ApiResult<Json<Vec<TradeInfo>>> {
    Ok(Json(state.node.trades().await?))
}

#[utoipa::path(
    post,
    path = "/api/v1/trades",
    tag = "trades",
    summary = "Take an offer: its maker must be reachable; opens the trade's encrypted channel",
    request_body = TakeRequest,
    responses((status = 201, description = "The new trade", body = souk_core::trading::TradeInfo))
)]
pub async fn take(
    State(state): State<ApiState>,
    body: Result<Json<TakeRequest>, JsonRejection>,
) -> ApiResult<Response> {
    let Json(r) = body?;
    let trade = state
        .node
        .take_offer(r.offer_id, r.amount, r.method, r.payout)
        .await?;
    Ok((StatusCode::CREATED, Json(trade)).into_response())
}

#[utoipa::path(
    get,
    path = "/api/v1/trades/{id}",
    tag = "trades",
    summary = "One trade (works offline)",
    params(("id" = String, Path, description = "the trade id (UUID)")),
    responses((status = 200, description = "The trade", body = souk_core::trading::TradeInfo))
)]
pub async fn show(
    State(state): State<ApiState>,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<Json<TradeInfo>> {
    Ok(Json(state.node.trade(trade_id(path)?).await?))
}

#[utoipa::path(
    post,
    path = "/api/v1/trades/{id}/accept",
    tag = "trades",
    summary = "Accept the take request (maker) or the counter (taker)",
    params(("id" = String, Path, description = "the trade id (UUID)")),
    responses((status = 200, description = "The trade", body = souk_core::trading::TradeInfo))
)]
pub async fn accept(
    State(state): State<ApiState>,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<Json<TradeInfo>> {
    let id = trade_id(path)?;
    Ok(Json(
        state.node.answer_trade(id, TradeAnswer::Accept).await?,
    ))
}

#[utoipa::path(
    post,
    path = "/api/v1/trades/{id}/reject",
    tag = "trades",
    summary = "Reject the take request (maker) or the counter (taker)",
    params(("id" = String, Path, description = "the trade id (UUID)")),
    request_body = Option<RejectRequest>,
    responses((status = 200, description = "The trade", body = souk_core::trading::TradeInfo))
)]
pub async fn reject(
    State(state): State<ApiState>,
    path: Result<Path<String>, PathRejection>,
    body: Option<Json<RejectRequest>>,
) -> ApiResult<Json<TradeInfo>> {
    let id = trade_id(path)?;
    let reason = body.map(|Json(b)| b.reason).unwrap_or_default();
    Ok(Json(
        state
            .node
            .answer_trade(id, TradeAnswer::Reject { reason })
            .await?,
    ))
}

#[utoipa::path(
    post,
    path = "/api/v1/trades/{id}/counter",
    tag = "trades",
    summary = "Maker: propose another amount and/or fixed price",
    params(("id" = String, Path, description = "the trade id (UUID)")),
    request_body = CounterRequest,
    responses((status = 200, description = "The trade", body = souk_core::trading::TradeInfo))
)]
pub async fn counter(
    State(state): State<ApiState>,
    path: Result<Path<String>, PathRejection>,
    body: Result<Json<CounterRequest>, JsonRejection>,
) -> ApiResult<Json<TradeInfo>> {
    let id = trade_id(path)?;
    let Json(r) = body?;
    let CounterRequest { amount, price } = r;
    if amount.is_none() && price.is_none() {
        return Err(ApiError::bad_request(
            "a counter needs a new amount, a new price or both",
        ));
    }
    Ok(Json(
        state
            .node
            .answer_trade(id, TradeAnswer::Counter { amount, price })
            .await?,
    ))
}

#[utoipa::path(
    post,
    path = "/api/v1/trades/{id}/address",
    tag = "trades",
    summary = "Escrow trades: the address this party's coins go to (buyer: payout; seller: deposit refund); sends the escrow keys",
    params(("id" = String, Path, description = "the trade id (UUID)")),
    request_body = AddressRequest,
    responses((status = 200, description = "The trade", body = souk_core::trading::TradeInfo))
)]
pub async fn address(
    State(state): State<ApiState>,
    path: Result<Path<String>, PathRejection>,
    body: Result<Json<AddressRequest>, JsonRejection>,
) -> ApiResult<Json<TradeInfo>> {
    let id = trade_id(path)?;
    let Json(r) = body?;
    Ok(Json(state.node.set_escrow_address(id, &r.address).await?))
}

#[utoipa::path(
    post,
    path = "/api/v1/trades/{id}/fund",
    tag = "trades",
    summary = "Pay this party's escrow output from a wallet of the chain node (Core backend): the amount still owed, at the backend's fee rate; signed and broadcast only with broadcast=true, otherwise the unsigned PSBT to confirm or sign elsewhere",
    params(("id" = String, Path, description = "the trade id (UUID)")),
    request_body = FundRequest,
    responses((status = 200, description = "The funding: wallet, address, amount and fee in base units, the PSBT (base64), the txid once broadcast", body = souk_core::trading::WalletFunding))
)]
pub async fn fund(
    State(state): State<ApiState>,
    path: Result<Path<String>, PathRejection>,
    body: Result<Json<FundRequest>, JsonRejection>,
) -> ApiResult<Json<souk_core::trading::WalletFunding>> {
    let id = trade_id(path)?;
    let Json(r) = body?;
    Ok(Json(
        state
            .node
            .fund_from_wallet(id, r.wallet.trim(), r.broadcast)
            .await?,
    ))
}

#[utoipa::path(
    post,
    path = "/api/v1/trades/{id}/paid",
    tag = "trades",
    summary = "Buyer: the payment was sent",
    params(("id" = String, Path, description = "the trade id (UUID)")),
    responses((status = 200, description = "The trade", body = souk_core::trading::TradeInfo))
)]
pub async fn paid(
    State(state): State<ApiState>,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<Json<TradeInfo>> {
    Ok(Json(state.node.mark_paid(trade_id(path)?).await?))
}

#[utoipa::path(
    post,
    path = "/api/v1/trades/{id}/received",
    tag = "trades",
    summary = "Seller: the payment arrived; signs the escrow's release for the buyer",
    params(("id" = String, Path, description = "the trade id (UUID)")),
    responses((status = 200, description = "The trade", body = souk_core::trading::TradeInfo))
)]
pub async fn received(
    State(state): State<ApiState>,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<Json<TradeInfo>> {
    Ok(Json(state.node.mark_received(trade_id(path)?).await?))
}

#[utoipa::path(
    post,
    path = "/api/v1/trades/{id}/cancel",
    tag = "trades",
    summary = "Either party, before any coins are locked",
    params(("id" = String, Path, description = "the trade id (UUID)")),
    request_body = Option<RejectRequest>,
    responses((status = 200, description = "The trade", body = souk_core::trading::TradeInfo))
)]
pub async fn cancel(
    State(state): State<ApiState>,
    path: Result<Path<String>, PathRejection>,
    body: Option<Json<RejectRequest>>,
) -> ApiResult<Json<TradeInfo>> {
    let id = trade_id(path)?;
    let reason = body.map(|Json(b)| b.reason).unwrap_or_default();
    Ok(Json(state.node.cancel_trade(id, reason).await?))
}

#[utoipa::path(
    post,
    path = "/api/v1/trades/{id}/dispute",
    tag = "trades",
    summary = "Either party, once coins are locked: the arbitrator decides",
    params(("id" = String, Path, description = "the trade id (UUID)")),
    request_body = RejectRequest,
    responses((status = 200, description = "The trade", body = souk_core::trading::TradeInfo))
)]
pub async fn dispute(
    State(state): State<ApiState>,
    path: Result<Path<String>, PathRejection>,
    body: Result<Json<RejectRequest>, JsonRejection>,
) -> ApiResult<Json<TradeInfo>> {
    let id = trade_id(path)?;
    let Json(r) = body?;
    if r.reason.trim().is_empty() {
        return Err(ApiError::bad_request(
            "a dispute needs a reason: the arbitrator reads it",
        ));
    }
    Ok(Json(state.node.dispute_trade(id, r.reason).await?))
}

/// The body of `POST /api/v1/trades/{id}/rating`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RatingRequest {
    /// 1 to 5.
    pub stars: u8,
    /// At most 140 bytes.
    #[serde(default)]
    pub comment: String,
}

/// The receipt of an ended trade, in words (`null`: none yet).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReceiptState {
    pub receipt: Option<String>,
}

#[utoipa::path(
    post,
    path = "/api/v1/trades/{id}/rating",
    tag = "trades",
    summary = "Rate the counterparty of an ended trade whose receipt both parties signed: 1 to 5 stars and a comment of at most 140 bytes; a new rating replaces the old, published with this node's receipts",
    params(("id" = String, Path, description = "the trade id (UUID)")),
    request_body = RatingRequest,
    responses((status = 200, description = "The receipt's state", body = ReceiptState))
)]
pub async fn rate(
    State(state): State<ApiState>,
    path: Result<Path<String>, PathRejection>,
    body: Result<Json<RatingRequest>, JsonRejection>,
) -> ApiResult<Json<ReceiptState>> {
    let id = trade_id(path)?;
    let Json(r) = body?;
    state.node.rate_trade(id, r.stars, &r.comment).await?;
    Ok(Json(ReceiptState {
        receipt: state.node.trade_receipt(id).await?,
    }))
}

#[utoipa::path(
    get,
    path = "/api/v1/trades/{id}/receipt",
    tag = "trades",
    summary = "Where an ended trade's receipt stands, in words (null: none yet)",
    params(("id" = String, Path, description = "the trade id (UUID)")),
    responses((status = 200, description = "The receipt's state", body = ReceiptState))
)]
pub async fn receipt(
    State(state): State<ApiState>,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<Json<ReceiptState>> {
    let id = trade_id(path)?;
    Ok(Json(ReceiptState {
        receipt: state.node.trade_receipt(id).await?,
    }))
}

#[utoipa::path(
    get,
    path = "/api/v1/reputation/{peer}",
    tag = "trades",
    summary = "A peer's reputation from its trade receipts, as this node verifies them: every receipt naming the peer found in the DHT, both signatures checked, escrow transactions looked up on this node's chain; refused receipts listed with the reason",
    params(("peer" = String, Path, description = "the PeerId (12D3KooW…)")),
    responses((status = 200, description = "The reputation", body = souk_core::reputation::Reputation))
)]
pub async fn reputation(
    State(state): State<ApiState>,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<Json<souk_core::reputation::Reputation>> {
    let Path(peer) = path?;
    Ok(Json(state.node.reputation(&peer).await?))
}
