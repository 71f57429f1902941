//! `souk offer …`: posting, listing and withdrawing offers, and refreshing a market.

use reqwest::Method;
use souk_core::{
    book::BookEntry,
    offer::{Offer, format_amount},
    peer_name::peer_name,
};

use super::{
    ApiClient,
    text::{abbreviate, duration_text, methods_text, now_ms, price_text, print_table},
};
use crate::{
    Failure,
    api::{Refreshed, Withdrawn},
    input::{self, OfferRequest},
    user_error,
};

pub async fn post_offer(
    client: &ApiClient,
    request: &OfferRequest,
    json: bool,
) -> Result<(), Failure> {
    let new = input::new_offer(request).map_err(user_error)?;
    let body = serde_json::to_value(new).map_err(|e| Failure::internal(e.to_string()))?;
    let Some(offer) = client
        .fetch::<Offer>(Method::POST, "/api/v1/offers", &[], Some(&body), json)
        .await?
    else {
        return Ok(());
    };
    println!("Posted offer {}", offer.id);
    println!(
        "  {} {}–{} {} at {}, paid by {}",
        offer.side,
        format_amount(offer.min_amount, offer.base),
        format_amount(offer.max_amount, offer.base),
        offer.base,
        price_text(&offer, None),
        methods_text(&offer),
    );
    println!(
        "  expires in {}",
        duration_text((offer.expires_at - offer.created_at) / 1000)
    );
    Ok(())
}

pub struct ListFilter {
    pub market: Option<String>,
    pub side: Option<String>,
    pub method: Option<String>,
    pub amount: Option<String>,
    pub mine: bool,
    /// Only makers with at least this many settled trades (their receipts, verified by the node).
    pub min_settled: Option<u32>,
}

pub async fn list_offers(
    client: &ApiClient,
    filter: ListFilter,
    json: bool,
) -> Result<(), Failure> {
    let mut query = Vec::new();
    let market = filter
        .market
        .as_deref()
        .map(input::parse_market)
        .transpose()
        .map_err(user_error)?;
    if let Some((base, quote)) = market {
        query.push(("base", base.to_string()));
        query.push(("quote", quote.to_string()));
    }
    if let Some(side) = &filter.side {
        query.push((
            "side",
            input::parse_side(side).map_err(user_error)?.to_string(),
        ));
    }
    if let Some(method) = filter.method {
        query.push(("method", method));
    }
    match (&filter.amount, market) {
        (None, _) => {}
        (Some(text), Some((base, _))) => {
            query.push((
                "amount",
                input::amount(text, base).map_err(user_error)?.to_string(),
            ));
        }
        (Some(_), None) => {
            return Err(user_error(
                "--amount needs --market (e.g. --market BTC/EUR) to know which asset it counts",
            ));
        }
    }
    if filter.mine {
        query.push(("mine", "true".to_owned()));
    }
    let min_settled = filter.min_settled.filter(|n| *n > 0);
    let Some(mut entries) = client
        .fetch::<Vec<BookEntry>>(
            Method::GET,
            "/api/v1/offers",
            &query,
            None,
            json && min_settled.is_none(),
        )
        .await?
    else {
        return Ok(());
    };
    if let Some(min) = min_settled {
        // One lookup per maker: the node reads each one's receipts from the DHT and checks them.
        let mut settled = std::collections::HashMap::new();
        for e in entries.iter().filter(|e| !e.mine) {
            let maker = e.offer.maker.to_string();
            if settled.contains_key(&maker) {
                continue;
            }
            let rep = client
                .fetch::<souk_core::reputation::Reputation>(
                    Method::GET,
                    &format!("/api/v1/reputation/{maker}"),
                    &[],
                    None,
                    false,
                )
                .await?
                .map_or(0, |r| r.settled);
            settled.insert(maker, rep);
        }
        entries.retain(|e| {
            e.mine
                || settled
                    .get(&e.offer.maker.to_string())
                    .is_some_and(|n| *n >= min)
        });
        if json {
            crate::print_json(&entries);
            return Ok(());
        }
    }
    if entries.is_empty() {
        println!("No offers.");
        return Ok(());
    }
    let now = now_ms();
    let rows: Vec<[String; 8]> = entries
        .iter()
        .map(|e| {
            let o = &e.offer;
            [
                o.id.to_string(),
                o.side.to_string(),
                format!("{}/{}", o.base, o.quote),
                price_text(o, e.effective_price),
                format!(
                    "{}–{} {}",
                    format_amount(o.min_amount, o.base),
                    format_amount(o.max_amount, o.base),
                    o.base
                ),
                methods_text(o),
                if e.mine {
                    "you".to_owned()
                } else {
                    let maker = o.maker.to_string();
                    format!("{} ({})", peer_name(&maker), abbreviate(&maker))
                },
                format!(
                    "{} ago",
                    duration_text((now - e.maker_last_seen).max(0) / 1000)
                ),
            ]
        })
        .collect();
    print_table(
        &[
            "ID", "SIDE", "MARKET", "PRICE", "AMOUNT", "METHODS", "MAKER", "SEEN",
        ],
        &rows,
    );
    Ok(())
}

pub async fn withdraw_offer(client: &ApiClient, id: &str, json: bool) -> Result<(), Failure> {
    let Some(withdrawn) = client
        .fetch::<Withdrawn>(
            Method::DELETE,
            &format!("/api/v1/offers/{id}"),
            &[],
            None,
            json,
        )
        .await?
    else {
        return Ok(());
    };
    println!("Withdrew offer {}", withdrawn.id);
    Ok(())
}

pub async fn refresh_market(client: &ApiClient, market: &str, json: bool) -> Result<(), Failure> {
    let (base, quote) = input::parse_market(market).map_err(user_error)?;
    let Some(refreshed) = client
        .fetch::<Refreshed>(
            Method::POST,
            &format!("/api/v1/markets/{base}/{quote}/refresh"),
            &[],
            None,
            json,
        )
        .await?
    else {
        return Ok(());
    };
    println!(
        "{}: {} new offer{}",
        refreshed.market,
        refreshed.new_offers,
        if refreshed.new_offers == 1 { "" } else { "s" }
    );
    Ok(())
}
