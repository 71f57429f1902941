//! The market routes of the local API: asking a market's makers for their offers, and the market
//! price from the price feed; plus parsing a `BASE/QUOTE` market name.

use std::str::FromStr;

use axum::{
    Json,
    extract::{Path, State, rejection::PathRejection},
};
use serde::{Deserialize, Serialize};
use souk_core::offer::{Asset, Quote};

use super::{ApiError, ApiResult, ApiState};

/// `BTC/EUR` → its asset and quote.
pub fn parse_market(text: &str) -> Result<(Asset, Quote), String> {
    let (base, quote) = text
        .split_once('/')
        .ok_or_else(|| format!("market {text:?} is not BASE/QUOTE, e.g. BTC/EUR"))?;
    let base = Asset::from_str(base).map_err(|e| e.to_string())?;
    let quote = Quote::from_str(quote).map_err(|e| e.to_string())?;
    Ok((base, quote))
}

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
