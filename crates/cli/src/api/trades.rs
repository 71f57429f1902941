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
    offer::{PaymentMethod, parse_amount},
    trading::{TradeAnswer, TradeInfo},
};
use uuid::Uuid;

use super::{ApiError, ApiResult, ApiState};

/// The body of `POST /api/v1/trades`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TakeRequest {
    pub offer_id: String,
    /// In the offer's base asset, e.g. "0.05".
    pub amount: String,
    pub method: String,
    /// Where the taker wants to be paid (opaque to Souk), e.g. an IBAN or an address.
    #[serde(default)]
    pub payout: String,
}

/// The body of `POST /api/v1/trades/{id}/reject`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RejectRequest {
    #[serde(default)]
    pub reason: String,
}

/// The body of `POST /api/v1/trades/{id}/counter`: a new amount, a new fixed price, or both.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CounterRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price: Option<String>,
}

/// The body of `POST /api/v1/trades/{id}/address`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddressRequest {
    pub address: String,
}

/// `POST /api/v1/trades/{id}/fund`: pay this party's escrow output from a wallet of the chain node.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
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

pub async fn list(State(state): State<ApiState>) -> ApiResult<Json<Vec<TradeInfo>>> {
    Ok(Json(state.node.trades().await?))
}

pub async fn take(
    State(state): State<ApiState>,
    body: Result<Json<TakeRequest>, JsonRejection>,
) -> ApiResult<Response> {
    let Json(r) = body?;
    let offer_id = uuid(&r.offer_id, "an offer id")?;
    let (offer, _) = state.node.offer(offer_id).await?.ok_or_else(|| {
        ApiError::bad_request(format!(
            "no offer {offer_id} in the book: it may be gone; refresh the market"
        ))
    })?;
    let amount =
        parse_amount(&r.amount, offer.base).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let method = PaymentMethod::new(r.method.trim().to_ascii_uppercase())
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let trade = state
        .node
        .take_offer(offer_id, amount, method, r.payout)
        .await?;
    Ok((StatusCode::CREATED, Json(trade)).into_response())
}

pub async fn show(
    State(state): State<ApiState>,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<Json<TradeInfo>> {
    Ok(Json(state.node.trade(trade_id(path)?).await?))
}

pub async fn accept(
    State(state): State<ApiState>,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<Json<TradeInfo>> {
    let id = trade_id(path)?;
    Ok(Json(
        state.node.answer_trade(id, TradeAnswer::Accept).await?,
    ))
}

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

pub async fn counter(
    State(state): State<ApiState>,
    path: Result<Path<String>, PathRejection>,
    body: Result<Json<CounterRequest>, JsonRejection>,
) -> ApiResult<Json<TradeInfo>> {
    let id = trade_id(path)?;
    let Json(r) = body?;
    let trade = state.node.trade(id).await?;
    let amount = r
        .amount
        .as_deref()
        .map(|a| parse_amount(a, trade.offer.base))
        .transpose()
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let price = r
        .price
        .as_deref()
        .map(|p| {
            Decimal::from_str(p.trim())
                .map_err(|_| ApiError::bad_request(format!("price {p:?} is not a number")))
        })
        .transpose()?;
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

pub async fn address(
    State(state): State<ApiState>,
    path: Result<Path<String>, PathRejection>,
    body: Result<Json<AddressRequest>, JsonRejection>,
) -> ApiResult<Json<TradeInfo>> {
    let id = trade_id(path)?;
    let Json(r) = body?;
    Ok(Json(state.node.set_escrow_address(id, &r.address).await?))
}

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

pub async fn paid(
    State(state): State<ApiState>,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<Json<TradeInfo>> {
    Ok(Json(state.node.mark_paid(trade_id(path)?).await?))
}

pub async fn received(
    State(state): State<ApiState>,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<Json<TradeInfo>> {
    Ok(Json(state.node.mark_received(trade_id(path)?).await?))
}

pub async fn cancel(
    State(state): State<ApiState>,
    path: Result<Path<String>, PathRejection>,
    body: Option<Json<RejectRequest>>,
) -> ApiResult<Json<TradeInfo>> {
    let id = trade_id(path)?;
    let reason = body.map(|Json(b)| b.reason).unwrap_or_default();
    Ok(Json(state.node.cancel_trade(id, reason).await?))
}

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
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RatingRequest {
    /// 1 to 5.
    pub stars: u8,
    /// At most 140 bytes.
    #[serde(default)]
    pub comment: String,
}

/// The receipt of an ended trade, in words (`null`: none yet).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReceiptState {
    pub receipt: Option<String>,
}

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

pub async fn receipt(
    State(state): State<ApiState>,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<Json<ReceiptState>> {
    let id = trade_id(path)?;
    Ok(Json(ReceiptState {
        receipt: state.node.trade_receipt(id).await?,
    }))
}

pub async fn reputation(
    State(state): State<ApiState>,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<Json<souk_core::reputation::Reputation>> {
    let Path(peer) = path?;
    Ok(Json(state.node.reputation(&peer).await?))
}
