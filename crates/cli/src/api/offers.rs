//! The offer routes of the local API: the order book (filtered by query), posting an offer (a core
//! `NewOffer`, the same JSON the desktop app's `post_offer` takes), and withdrawing one.

use std::str::FromStr;

use axum::{
    Json,
    extract::{
        Path, Query, State,
        rejection::{JsonRejection, PathRejection, QueryRejection},
    },
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde::{Deserialize, Serialize};
use souk_core::{
    book::BookQuery,
    offer::{Asset, NewOffer, PaymentMethod, Quote, Side},
};
use uuid::Uuid;

use super::{ApiError, ApiResult, ApiState};

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct OfferListQuery {
    /// The base asset, e.g. BTC.
    base: Option<Asset>,
    /// The quote, e.g. EUR.
    quote: Option<Quote>,
    /// `buy` or `sell` (the maker's side).
    side: Option<Side>,
    /// A payment method, e.g. SEPA.
    method: Option<String>,
    /// Only offers whose range contains this amount, in base units (needs base).
    amount: Option<u64>,
    /// `true`: only this node's offers; `false`: only others'; absent: both.
    mine: Option<bool>,
    /// Accepted (and ignored) so browsers can authenticate by query string here too.
    #[allow(dead_code)]
    #[param(ignore)]
    token: Option<String>,
}

#[utoipa::path(
    get,
    path = "/api/v1/offers",
    tag = "offers",
    summary = "The order book, from this node's cache",
    params(OfferListQuery),
    responses((status = 200, description = "Book entries, best price first", body = Vec<souk_core::book::BookEntry>))
)]
pub(super) async fn list_offers(
    State(state): State<ApiState>,
    query: Result<Query<OfferListQuery>, QueryRejection>,
) -> ApiResult<Json<Vec<souk_core::book::BookEntry>>> {
    let Query(q) = query?;
    let query = book_query(q.base, q.quote, q.side, q.method.as_deref(), q.amount)?;
    let query = BookQuery {
        include_mine: Some(q.mine != Some(false)),
        ..query
    };
    let mut entries = state.node.offers(&query).await?;
    if q.mine == Some(true) {
        entries.retain(|e| e.mine);
    }
    Ok(Json(entries))
}

/// The book query of a request's filters.
fn book_query(
    base: Option<Asset>,
    quote: Option<Quote>,
    side: Option<Side>,
    method: Option<&str>,
    amount: Option<u64>,
) -> Result<BookQuery, ApiError> {
    if amount.is_some() && base.is_none() {
        return Err(ApiError::bad_request(
            "amount needs base (e.g. base=BTC) to know which asset it counts",
        ));
    }
    let method = method
        .map(|m| PaymentMethod::new(m.trim().to_ascii_uppercase()))
        .transpose()
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    Ok(BookQuery {
        base,
        quote,
        side,
        method,
        amount,
        include_mine: None,
    })
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct BookPageQuery {
    /// The market's base asset, e.g. BTC.
    base: Asset,
    /// The market's quote, e.g. EUR.
    quote: Quote,
    /// `buy` or `sell` (the maker's side); both when absent.
    side: Option<Side>,
    /// A payment method, e.g. SEPA.
    method: Option<String>,
    /// Only offers whose range contains this amount, in base units.
    amount: Option<u64>,
    /// `false`: leave this node's own offers out.
    include_mine: Option<bool>,
    /// Where the page starts: the `next` of the page before.
    after: Option<String>,
    /// How many offers at most, 1 to 500 (50 when absent).
    limit: Option<u32>,
    /// Accepted (and ignored) so browsers can authenticate by query string here too.
    #[allow(dead_code)]
    #[param(ignore)]
    token: Option<String>,
}

#[utoipa::path(
    get,
    path = "/api/v1/book",
    tag = "offers",
    summary = "A page of one market's book, best price first, with how many offers match and where the next page starts (works offline)",
    params(BookPageQuery),
    responses((status = 200, description = "The page", body = souk_core::book::BookPage))
)]
pub(super) async fn book_page(
    State(state): State<ApiState>,
    query: Result<Query<BookPageQuery>, QueryRejection>,
) -> ApiResult<Json<souk_core::book::BookPage>> {
    let Query(q) = query?;
    let query = BookQuery {
        include_mine: q.include_mine,
        ..book_query(
            Some(q.base),
            Some(q.quote),
            q.side,
            q.method.as_deref(),
            q.amount,
        )?
    };
    let page = souk_core::book::PageRequest {
        after: q.after,
        limit: q.limit,
    };
    Ok(Json(state.node.book_page(&query, &page).await?))
}

#[utoipa::path(
    post,
    path = "/api/v1/offers",
    tag = "offers",
    summary = "Sign, store and publish a new offer",
    request_body = NewOffer,
    responses((status = 201, description = "The offer as published", body = souk_core::offer::Offer), (status = 413, description = "The body is over 64 KiB", body = super::error::ErrorBody))
)]
pub(super) async fn post_offer(
    State(state): State<ApiState>,
    body: Result<Json<NewOffer>, JsonRejection>,
) -> ApiResult<Response> {
    let Json(new) = body?;
    let offer = state.node.post_offer(new).await?;
    Ok((StatusCode::CREATED, Json(offer)).into_response())
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Withdrawn {
    pub id: Uuid,
    pub withdrawn: bool,
}

#[utoipa::path(
    delete,
    path = "/api/v1/offers/{id}",
    tag = "offers",
    summary = "Withdraw one of this node's offers (a signed tombstone replaces it everywhere)",
    params(("id" = String, Path, description = "the offer id (UUID)")),
    responses((status = 200, description = "Withdrawn", body = Withdrawn))
)]
pub(super) async fn withdraw_offer(
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

#[utoipa::path(
    get,
    path = "/api/v1/my-offers",
    tag = "offers",
    summary = "This node's own offers, live, expired and withdrawn, newest first",
    responses((status = 200, description = "Own offers", body = Vec<souk_core::book::MyOffer>))
)]
pub(super) async fn my_offers(
    State(state): State<ApiState>,
) -> ApiResult<Json<Vec<souk_core::book::MyOffer>>> {
    Ok(Json(state.node.my_offers().await?))
}
