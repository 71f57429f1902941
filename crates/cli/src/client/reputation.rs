//! `souk reputation` and `souk trade rate`: a peer's verified receipts, and rating a counterparty.

use reqwest::Method;
use serde_json::json;
use souk_core::reputation::{ReceiptCheck, Reputation};

use super::{
    ApiClient, Failure,
    text::{date_text, printable},
};
use crate::api::trades::ReceiptState;

pub async fn reputation(client: &ApiClient, peer: &str, json: bool) -> Result<(), Failure> {
    let Some(r) = client
        .fetch::<Reputation>(
            Method::GET,
            &format!("/api/v1/reputation/{}", peer.trim()),
            &[],
            None,
            json,
        )
        .await?
    else {
        return Ok(());
    };
    let day = date_text;
    println!("{} ({})", souk_core::peer_name::peer_name(&r.peer), r.peer);
    println!(
        "  Settled trades:  {} ({} with escrow verified on the chain) with {} counterparties",
        r.settled, r.with_escrow, r.counterparties
    );
    println!(
        "  Disputes:        {} opened, {} lost",
        r.disputes_opened, r.disputes_lost
    );
    match r.rating {
        Some(avg) => println!("  Rating:          {avg:.1} / 5 from {} ratings", r.ratings),
        None => println!("  Rating:          none yet"),
    }
    println!("  Score:           {}", r.score);
    match (r.first_seen, r.last_seen) {
        (Some(first), Some(last)) => {
            println!(
                "  Seen:            since {}, last {}",
                day(first),
                day(last)
            );
        }
        _ => println!("  Seen:            never (no offer or receipt of this peer)"),
    }
    println!(
        "  Read from:       {} peer{} holding its receipts",
        r.holders,
        if r.holders == 1 { "" } else { "s" }
    );
    if !r.receipts.is_empty() {
        println!("  Receipts:");
    }
    for v in &r.receipts {
        let chain = match &v.chain {
            ReceiptCheck::NoEscrow => "no escrow".to_owned(),
            ReceiptCheck::Verified => "escrow verified on the chain".to_owned(),
            ReceiptCheck::Failed { reason } => format!("chain contradicts it: {reason}"),
            ReceiptCheck::NotChecked { reason } => format!("escrow not checked: {reason}"),
        };
        println!(
            "    {}  {} {} as {} ({}), {}, {}; {}",
            day(v.ended_at),
            v.market,
            v.amount,
            v.role,
            v.party.as_str(),
            v.outcome,
            chain,
            souk_core::peer_name::peer_name(&v.counterparty),
        );
        if let Some(rating) = &v.rating_received {
            println!(
                "      rated {}/5{}",
                rating.stars,
                if rating.comment.is_empty() {
                    String::new()
                } else {
                    format!(": {}", printable(&rating.comment))
                }
            );
        }
    }
    if !r.refused.is_empty() {
        println!("  Refused:         {}", r.refused.len());
        for f in &r.refused {
            println!("    {} (from {})", printable(&f.reason), f.holder);
        }
    }
    Ok(())
}

pub async fn rate(
    client: &ApiClient,
    trade_id: &str,
    stars: u8,
    comment: &str,
    json: bool,
) -> Result<(), Failure> {
    let body = json!({ "stars": stars, "comment": comment });
    if client
        .fetch::<ReceiptState>(
            Method::POST,
            &format!("/api/v1/trades/{trade_id}/rating"),
            &[],
            Some(&body),
            json,
        )
        .await?
        .is_some()
    {
        println!("Rated {stars}/5; published with your receipts.");
    }
    Ok(())
}

/// The "Receipt:" line of `souk trade show` for an ended trade.
pub async fn receipt_line(client: &ApiClient, trade_id: &str) -> Result<(), Failure> {
    if let Some(state) = client
        .fetch::<ReceiptState>(
            Method::GET,
            &format!("/api/v1/trades/{trade_id}/receipt"),
            &[],
            None,
            false,
        )
        .await?
    {
        match state.receipt {
            Some(words) => println!("  Receipt:       {words}"),
            None => println!("  Receipt:       none (yet)"),
        }
    }
    Ok(())
}

/// `souk nickname [NAME]`: shows the nickname, sets it, or (`--clear`) removes it.
pub async fn nickname(
    client: &ApiClient,
    name: Option<&str>,
    clear: bool,
    json: bool,
) -> Result<(), Failure> {
    let Some(mut prefs) = client
        .fetch::<souk_core::preferences::Preferences>(
            Method::GET,
            "/api/v1/preferences",
            &[],
            None,
            false,
        )
        .await?
    else {
        return Ok(());
    };
    let wanted = match (name, clear) {
        (_, true) => String::new(),
        (Some(n), false) => n.trim().to_owned(),
        (None, false) => {
            if json {
                crate::print_json(&json!({ "nickname": prefs.nickname }));
            } else if prefs.nickname.is_empty() {
                println!("No nickname: others see only the name derived from your key.");
            } else {
                println!("“{}”", printable(&prefs.nickname));
            }
            return Ok(());
        }
    };
    prefs.nickname = wanted;
    let body = serde_json::to_value(&prefs).map_err(|e| Failure::internal(e.to_string()))?;
    if let Some(saved) = client
        .fetch::<souk_core::preferences::Preferences>(
            Method::PUT,
            "/api/v1/preferences",
            &[],
            Some(&body),
            false,
        )
        .await?
    {
        if json {
            crate::print_json(&json!({ "nickname": saved.nickname }));
        } else if saved.nickname.is_empty() {
            println!("Nickname removed.");
        } else {
            println!(
                "Nickname set to “{}”; published with your trade receipts.",
                printable(&saved.nickname)
            );
        }
    }
    Ok(())
}
