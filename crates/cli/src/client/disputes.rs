//! `souk dispute …`: as an arbitrator, listing the disputes sent to this node, showing one and
//! deciding it.

use reqwest::Method;
use souk_core::{
    offer::format_amount,
    trading::{Decision, DisputeInfo, Winner},
};

use super::{
    ApiClient, decode,
    text::{print_table, printable},
};
use crate::{Failure, input, print_json, user_error};

pub async fn disputes(client: &ApiClient, json: bool) -> Result<(), Failure> {
    let Some(list) = client
        .fetch::<Vec<DisputeInfo>>(Method::GET, "/api/v1/disputes", &[], None, json)
        .await?
    else {
        return Ok(());
    };
    if list.is_empty() {
        println!("No disputes.");
        return Ok(());
    }
    let rows: Vec<[String; 4]> = list
        .iter()
        .map(|d| {
            [
                d.trade_id.to_string(),
                format!("{} {}", d.chain, d.network),
                d.cases
                    .iter()
                    .map(|c| format!("{}: {}", c.side, printable(&c.reason)))
                    .collect::<Vec<_>>()
                    .join(" | "),
                match (&d.resolved_to, &d.decision) {
                    (Some(_), Some(x)) if x.can_decide_again => "refused: decide again".to_owned(),
                    (Some(Winner::Split), _) => "split".to_owned(),
                    (Some(w), _) => format!("to the {w}"),
                    (None, _) => "open".to_owned(),
                },
            ]
        })
        .collect();
    print_table(&["TRADE", "CHAIN", "REASONS", "DECISION"], &rows);
    Ok(())
}

/// `souk dispute resolve`: the winner by name, the buyer's share (with a split) in coins of the
/// dispute's asset.
pub async fn resolve(
    client: &ApiClient,
    trade_id: &str,
    to: &str,
    buyer_gets: Option<&str>,
    reason: &str,
    json: bool,
) -> Result<(), Failure> {
    let to = to
        .trim()
        .parse::<Winner>()
        .map_err(|e| user_error(e.to_string()))?;
    let buyer_gets = match buyer_gets.map(str::trim) {
        Some(text) if !text.is_empty() => {
            let dispute: DisputeInfo = decode(
                &client
                    .call(
                        Method::GET,
                        &format!("/api/v1/disputes/{trade_id}"),
                        &[],
                        None,
                    )
                    .await?,
            )?;
            Some(
                input::amount(text, dispute.offer.base)
                    .map_err(|e| user_error(format!("the buyer's share {text:?}: {e}")))?,
            )
        }
        _ => None,
    };
    let decision = Decision {
        to,
        buyer_gets,
        reason: reason.to_owned(),
    };
    let body = serde_json::to_value(decision).map_err(|e| Failure::internal(e.to_string()))?;
    dispute(client, trade_id, Some(&body), json).await
}

/// Shows one dispute, or decides it (`decision`: the body of `POST …/resolve`).
pub async fn dispute(
    client: &ApiClient,
    trade_id: &str,
    decision: Option<&serde_json::Value>,
    json: bool,
) -> Result<(), Failure> {
    let value = match decision {
        Some(body) => {
            client
                .call(
                    Method::POST,
                    &format!("/api/v1/disputes/{trade_id}/resolve"),
                    &[],
                    Some(body),
                )
                .await?
        }
        None => {
            client
                .call(
                    Method::GET,
                    &format!("/api/v1/disputes/{trade_id}"),
                    &[],
                    None,
                )
                .await?
        }
    };
    if json {
        print_json(&value);
        return Ok(());
    }
    let d: DisputeInfo = decode(&value)?;
    println!("Dispute about trade {}", d.trade_id);
    println!("  Chain:    {} {}", d.chain, d.network);
    println!("  Escrow:   {}", d.escrow_address);
    println!(
        "  Buyer:    {} (paid to {})",
        d.buyer,
        printable(&d.buyer_address)
    );
    println!(
        "  Seller:   {} (refunded to {})",
        d.seller, d.seller_address
    );
    println!(
        "  Amount:   {} (+ deposits {} buyer, {} seller)",
        format_amount(d.amount, d.offer.base),
        format_amount(d.buyer_deposit, d.offer.base),
        format_amount(d.seller_deposit, d.offer.base)
    );
    println!(
        "  Opened:   {}",
        d.opened_by
            .map_or("by a deadline".to_owned(), |s| format!("by the {s}"))
    );
    for case in &d.cases {
        println!("  The {}'s case:", case.side);
        println!("    Reason: {}", printable(&case.reason));
        for line in &case.transcript {
            println!("    {}", printable(line));
        }
    }
    let base = d.offer.base;
    match &d.on_chain {
        Some(held) => println!(
            "  On chain: {} in the buyer's output, {} in the seller's ({} in all; agreed: {} and {})",
            format_amount(held.buyer_output, base),
            format_amount(held.seller_output, base),
            format_amount(held.buyer_output + held.seller_output, base),
            format_amount(d.buyer_deposit, base),
            format_amount(d.amount + d.seller_deposit, base)
        ),
        None => println!("  On chain: not known now (no chain connection)"),
    }
    let decide = format!(
        "souk dispute resolve {} --to buyer|seller|split [--buyer-gets X] [--reason TEXT]",
        d.trade_id
    );
    match &d.decision {
        Some(decision) => {
            println!(
                "  Decided:  the buyer gets {}, the seller {} (before the fee; decision {})",
                format_amount(decision.buyer_share, base),
                format_amount(decision.seller_share, base),
                decision.round
            );
            if !decision.reason.is_empty() {
                println!("    Reason: {}", printable(&decision.reason));
            }
            for (side, answer) in [
                ("buyer", &decision.buyer_answer),
                ("seller", &decision.seller_answer),
            ] {
                let answer = answer
                    .as_deref()
                    .map_or("no answer yet".to_owned(), printable);
                println!("    The {side}: {answer}");
            }
            if decision.can_decide_again {
                println!("  A party refused it and none took it; decide again: {decide}");
            }
        }
        None => println!("  Decide:   {decide}"),
    }
    Ok(())
}
