//! `souk trade …`: taking an offer, answering and stepping a trade, funding its escrow, and showing
//! trades (every text that came from a peer is printed through `printable`).

use reqwest::Method;
use serde_json::Value;
use souk_core::{
    book::BookEntry,
    offer::{Price, format_amount},
    trading::TradeInfo,
};

use super::{
    ApiClient, decode,
    text::{price_text, print_table, printable},
};
use crate::{
    Failure,
    api::{CounterRequest, TakeRequest},
    input, user_error,
};

/// `souk trade take`: the amount is read in coins of the offer's base asset, the offer from the
/// node's book.
pub async fn take(
    client: &ApiClient,
    offer_id: &str,
    amount: &str,
    method: &str,
    payout: &str,
    json: bool,
) -> Result<(), Failure> {
    let offer_id = uuid::Uuid::parse_str(offer_id.trim())
        .map_err(|_| user_error(format!("{offer_id:?} is not an offer id (a UUID)")))?;
    let book: Vec<BookEntry> = decode(
        &client
            .call(Method::GET, "/api/v1/offers", &[], None)
            .await?,
    )?;
    let offer = book
        .iter()
        .find(|e| e.offer.id == offer_id)
        .map(|e| &e.offer)
        .ok_or_else(|| {
            user_error(format!(
                "no offer {offer_id} in the book: it may be gone; refresh the market"
            ))
        })?;
    let request = TakeRequest {
        offer_id,
        amount: input::amount(amount, offer.base).map_err(user_error)?,
        method: input::parse_method(method).map_err(user_error)?,
        payout: payout.to_owned(),
    };
    let body = serde_json::to_value(request).map_err(|e| Failure::internal(e.to_string()))?;
    let Some(trade) = client
        .fetch::<TradeInfo>(Method::POST, "/api/v1/trades", &[], Some(&body), json)
        .await?
    else {
        return Ok(());
    };
    println!("Took offer {}: trade {}", trade.offer.id, trade.id);
    print_trade(&trade);
    Ok(())
}

/// `souk trade counter`: a new amount in coins of the trade's base asset and/or a new price.
pub async fn counter(
    client: &ApiClient,
    trade_id: &str,
    amount: Option<&str>,
    price: Option<&str>,
    json: bool,
) -> Result<(), Failure> {
    let amount = match amount {
        Some(text) => {
            let trade: TradeInfo = decode(
                &client
                    .call(
                        Method::GET,
                        &format!("/api/v1/trades/{trade_id}"),
                        &[],
                        None,
                    )
                    .await?,
            )?;
            Some(input::amount(text, trade.offer.base).map_err(user_error)?)
        }
        None => None,
    };
    let price = price.map(input::price).transpose().map_err(user_error)?;
    let body = serde_json::to_value(CounterRequest { amount, price })
        .map_err(|e| Failure::internal(e.to_string()))?;
    answer(client, trade_id, "counter", Some(body), json).await
}

/// `accept`, `reject` or `counter` one trade.
pub async fn answer(
    client: &ApiClient,
    trade_id: &str,
    verb: &str,
    body: Option<Value>,
    json: bool,
) -> Result<(), Failure> {
    let Some(trade) = client
        .fetch::<TradeInfo>(
            Method::POST,
            &format!("/api/v1/trades/{trade_id}/{verb}"),
            &[],
            body.as_ref(),
            json,
        )
        .await?
    else {
        return Ok(());
    };
    print_trade(&trade);
    Ok(())
}

/// `souk trade fund`: builds the funding (and with `yes`, has the node's wallet sign and send it).
pub async fn fund(
    client: &ApiClient,
    trade_id: &str,
    wallet: &str,
    yes: bool,
    psbt: Option<&std::path::Path>,
    json: bool,
) -> Result<(), Failure> {
    let body = serde_json::json!({ "wallet": wallet, "broadcast": yes });
    let Some(funding) = client
        .fetch::<souk_core::trading::WalletFunding>(
            Method::POST,
            &format!("/api/v1/trades/{trade_id}/fund"),
            &[],
            Some(&body),
            json,
        )
        .await?
    else {
        return Ok(());
    };
    let coins = |units: u64| format!("{} {}", format_amount(units, funding.asset), funding.asset);
    if let Some(path) = psbt {
        std::fs::write(path, &funding.psbt).map_err(|e| {
            Failure::from(souk_core::error::Error::InvalidInput(format!(
                "cannot write {}: {e}",
                path.display()
            )))
        })?;
        println!("Unsigned PSBT written to {}", path.display());
    }
    match &funding.txid {
        Some(txid) => println!(
            "Sent {} to {} from wallet {}, fee {}: {txid}",
            coins(funding.amount),
            funding.address,
            funding.wallet,
            coins(funding.fee)
        ),
        None => println!(
            "Would send {} to {} from wallet {}, fee {}. Run again with --yes to sign and broadcast.",
            coins(funding.amount),
            funding.address,
            funding.wallet,
            coins(funding.fee)
        ),
    }
    Ok(())
}

pub async fn list_trades(client: &ApiClient, json: bool) -> Result<(), Failure> {
    let Some(trades) = client
        .fetch::<Vec<TradeInfo>>(Method::GET, "/api/v1/trades", &[], None, json)
        .await?
    else {
        return Ok(());
    };
    if trades.is_empty() {
        println!("No trades.");
        return Ok(());
    }
    let rows: Vec<[String; 7]> = trades
        .iter()
        .map(|t| {
            [
                t.id.to_string(),
                t.role.to_string(),
                format!("{}/{}", t.offer.base, t.offer.quote),
                format!(
                    "{} {}",
                    format_amount(t.terms.amount, t.offer.base),
                    t.offer.base
                ),
                t.state.to_string(),
                next_text(t),
                t.unread.to_string(),
            ]
        })
        .collect();
    print_table(
        &["ID", "ROLE", "MARKET", "AMOUNT", "STATE", "NEXT", "UNREAD"],
        &rows,
    );
    Ok(())
}

pub async fn show_trade(client: &ApiClient, trade_id: &str, json: bool) -> Result<(), Failure> {
    let Some(trade) = client
        .fetch::<TradeInfo>(
            Method::GET,
            &format!("/api/v1/trades/{trade_id}"),
            &[],
            None,
            json,
        )
        .await?
    else {
        return Ok(());
    };
    print_trade(&trade);
    if !trade.is_open() {
        super::reputation::receipt_line(client, trade_id).await?;
    }
    Ok(())
}

/// Whose turn it is, from this node's point of view.
fn next_text(trade: &TradeInfo) -> String {
    match trade.waiting_for {
        Some(role) if role == trade.role => format!("you: {}", trade.next_step),
        Some(role) => format!("the {}", role),
        None => trade.next_step.clone(),
    }
}

fn print_trade(t: &TradeInfo) {
    let o = &t.offer;
    println!("Trade {}", t.id);
    println!("  State:         {}", t.state);
    println!(
        "  You are:       the {} ({} {} {}/{})",
        t.role, o.side, o.base, o.base, o.quote
    );
    println!(
        "  Counterparty:  {} ({})",
        souk_core::peer_name::peer_name(&t.counterparty),
        t.counterparty
    );
    println!("  Offer:         {}", o.id);
    println!(
        "  Amount:        {} {}",
        format_amount(t.terms.amount, o.base),
        o.base
    );
    let price = match t.terms.price {
        Price::Fixed(p) => format!("{p} {}", o.quote),
        Price::MarketRelative { .. } => price_text(o, None),
    };
    println!("  Price:         {price}");
    println!("  Method:        {}", t.terms.method);
    if !t.terms.payout.is_empty() {
        println!("  Payout:        {}", printable(&t.terms.payout));
    }
    if let Some(reason) = &t.reject_reason {
        println!(
            "  Rejected:      {}",
            if reason.is_empty() {
                "(no reason given)".into()
            } else {
                printable(reason)
            }
        );
    }
    if let Some(e) = &t.escrow {
        println!(
            "  Escrow:        {} on {} {} (you are the {})",
            e.address.as_deref().unwrap_or("(being set up)"),
            e.chain,
            e.network,
            e.side
        );
        println!(
            "  Holds:         {} of {} (amount {} + deposits {} and {}), {} confirmations",
            format_amount(e.funded, o.base),
            format_amount(e.required, o.base),
            format_amount(e.amount, o.base),
            format_amount(e.buyer_deposit, o.base),
            format_amount(e.seller_deposit, o.base),
            e.funding_confirmations
        );
        println!(
            "  You fund:      {} {} to your escrow output",
            format_amount(e.my_funding, o.base),
            o.base
        );
        for (whose, address, held, owed) in [
            (
                "Seller's",
                &e.seller_escrow_address,
                e.seller_funded,
                e.amount + e.seller_deposit,
            ),
            (
                "Buyer's",
                &e.buyer_escrow_address,
                e.buyer_funded,
                e.buyer_deposit,
            ),
        ] {
            if let Some(address) = address {
                println!(
                    "  {whose:<9} output: {address} holds {} of {} {}",
                    format_amount(held, o.base),
                    format_amount(owed, o.base),
                    o.base
                );
            }
        }
        println!(
            "  Fallbacks:     {}each party takes its own coins back alone {} blocks after they confirmed",
            match &e.backup_arbitrator {
                Some(b) => format!(
                    "backup arbitrator {b} may stand in {} blocks after funding; ",
                    e.backup_after_blocks
                ),
                None => String::new(),
            },
            e.reclaim_after_blocks
        );
        for r in &e.returns {
            println!(
                "  Return:        {} {} of the {}'s coins to {} ({})",
                format_amount(r.amount, o.base),
                o.base,
                r.funder,
                r.address,
                match &r.txid {
                    Some(txid) => format!("{}, txid {txid}", return_how(&r.how)),
                    None => format!("{}, not broadcast yet", return_how(&r.how)),
                }
            );
            if let (Some(how), Some(txid)) = (&r.reserve_how, &r.reserve_txid) {
                println!(
                    "                 its fee reserve {} paid on, txid {txid}{}",
                    if how == "bumped" {
                        "sped it up and was"
                    } else {
                        "was"
                    },
                    if r.reserve_done { ", confirmed" } else { "" }
                );
            }
        }
        if let Some(txid) = &e.release_txid {
            println!(
                "  Release:       {txid} ({} confirmations)",
                e.release_confirmations
            );
        }
        if t.is_open() {
            let when = |at: i64| souk_core::backup::utc_text(u64::try_from(at).unwrap_or(0));
            let holders: Vec<String> = [
                e.recovery_copy_at
                    .map(|at| format!("the counterparty (as of {})", when(at))),
                e.arbitrator_copy_at
                    .map(|at| format!("the arbitrator (as of {})", when(at))),
            ]
            .into_iter()
            .flatten()
            .collect();
            if holders.is_empty() {
                println!(
                    "  Recovery:      the counterparty holds no copy yet: until it does, only a backup \
                     brings this trade back"
                );
            } else {
                println!(
                    "  Recovery:      sealed copies kept by {}: the seed words alone bring this trade back",
                    holders.join(" and ")
                );
            }
        }
        if let Some(r) = &e.fee_reserve {
            let amount = format!("{} {}", format_amount(r.amount, o.base), o.base);
            let spent = match (r.how.as_deref(), &r.txid) {
                (Some(how), Some(txid)) => format!(
                    "{} to the payout address ({} {} after the fee), txid {txid}{}",
                    if how == "bumped" {
                        "spent to speed up the stuck payout, and paid on"
                    } else {
                        "paid on"
                    },
                    format_amount(r.paid_on.unwrap_or(0), o.base),
                    o.base,
                    if r.done { ", confirmed" } else { "" }
                ),
                _ => "set aside from the payout; the receiving party's node pays it on once the \
                      payout confirms, or spends it to speed up a payout stuck at a low fee"
                    .into(),
            };
            println!("  Fee reserve:   {amount} {spent}");
        }
        if let Some(d) = &e.decision {
            println!(
                "  Decision:      the buyer gets {} {}, the seller {} {} (before the fee){}",
                format_amount(d.buyer_share, o.base),
                o.base,
                format_amount(d.seller_share, o.base),
                o.base,
                if d.round > 1 {
                    format!(", decision {}", d.round)
                } else {
                    String::new()
                }
            );
            if !d.reason.is_empty() {
                println!("  Why:           {}", printable(&d.reason));
            }
        }
    }
    println!("  Next:          {}", printable(&t.next_step));
    if t.unread > 0 {
        println!("  Unread:        {} (souk chat log {})", t.unread, t.id);
    }
}

/// How a return is made, in words.
fn return_how(how: &str) -> String {
    match how {
        "signed" => "signed by this node, the counterparty broadcasts".into(),
        "cosigned" => "co-signed by both parties".into(),
        "arbitrated" => "co-signed by the arbitrator".into(),
        "reclaimed" => "taken back alone after the reclaim lock".into(),
        other => printable(other),
    }
}
