//! The market routes of the local API: asking a market's makers for their offers, and the market
//! price from the price feed; plus parsing a `BASE/QUOTE` market name.

use axum::{
    Json,
    extract::{Path, State, rejection::PathRejection},
};
use serde::{Deserialize, Serialize};

use super::{ApiError, ApiResult, ApiState};
use crate::input::parse_market;

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Refreshed {
    pub market: String,
    pub new_offers: usize,
}

#[utoipa::path(
    post,
    path = "/api/v1/markets/{base}/{quote}/refresh",
    tag = "markets",
    summary = "Ask the makers of a market for their offers",
    params(("base" = String, Path, description = "base asset, e.g. BTC"), ("quote" = String, Path, description = "quote currency, e.g. EUR")),
    responses((status = 200, description = "How many offers were new", body = Refreshed))
)]
pub(super) async fn refresh_market(
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

#[utoipa::path(
    get,
    path = "/api/v1/markets/{base}/{quote}/price",
    tag = "markets",
    summary = "The market price from the price feed, or null when none is known",
    params(("base" = String, Path, description = "base asset, e.g. BTC"), ("quote" = String, Path, description = "quote currency, e.g. EUR")),
    responses((status = 200, description = "The price, or null", body = Option<souk_core::price::MarketPrice>))
)]
pub(super) async fn market_price(
    State(state): State<ApiState>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> ApiResult<Json<Option<souk_core::price::MarketPrice>>> {
    let Path((base, quote)) = path?;
    let (base, quote) = parse_market(&format!("{base}/{quote}")).map_err(ApiError::bad_request)?;
    Ok(Json(state.node.market_price(base, quote).await?))
}
