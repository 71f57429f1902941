//! The offer routes of the local API: the order book (filtered by query), posting an offer from the
//! text a person types (amounts, percentages, durations → a core `NewOffer`), and withdrawing one.

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
use libp2p::PeerId;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use souk_core::{
    book::BookQuery,
    offer::{
        Asset, EscrowKind, MAX_TTL_MS, NewOffer, PaymentMethod, Price, Quote, Side, format_amount,
        parse_amount,
    },
};
use uuid::Uuid;

use super::{ApiError, ApiResult, ApiState, parse_market};

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct OfferListQuery {
    /// BASE/QUOTE, e.g. BTC/EUR.
    market: Option<String>,
    /// `buy` or `sell` (the maker's side).
    side: Option<String>,
    /// A payment method, e.g. SEPA.
    method: Option<String>,
    /// Only offers whose range contains this amount of the base asset, e.g. 0.05 (needs market).
    amount: Option<String>,
    /// `true`: only this node's offers; `false`: only others'; absent: both.
    mine: Option<bool>,
    /// Accepted (and ignored) so browsers can authenticate by query string here too.
    #[allow(dead_code)]
    #[param(ignore)]
    token: Option<String>,
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
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
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

#[utoipa::path(
    post,
    path = "/api/v1/offers",
    tag = "offers",
    summary = "Sign, store and publish a new offer",
    request_body = OfferRequest,
    responses((status = 201, description = "The offer as published", body = souk_core::offer::Offer), (status = 413, description = "The body is over 64 KiB", body = super::error::ErrorBody))
)]
pub(super) async fn post_offer(
    State(state): State<ApiState>,
    body: Result<Json<OfferRequest>, JsonRejection>,
) -> ApiResult<Response> {
    let Json(request) = body?;
    let new = new_offer(&request)?;
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

#[cfg(test)]
mod tests {
    use super::*;

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
