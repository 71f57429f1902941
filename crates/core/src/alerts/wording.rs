//! The words of each alert: an offer taken, a message or negotiation answer from the counterparty,
//! each escrow step. Never lets text a peer chose through, except a cleaned chat excerpt.

use super::{
    Alert, AlertKind,
    format::{excerpt, quote_total, quote_total_with_amount, trade_name},
};
use crate::{
    offer::{Price, Side, format_amount},
    peer_name::peer_name,
    trading::{ChatMessage, Party, TradeInfo, TradeRole, TradeState},
};

/// Longest chat excerpt in a notification, in characters (an ellipsis is added when cut).
pub const EXCERPT_CHARS: usize = 80;

pub(super) fn alert(kind: AlertKind, trade: &TradeInfo, title: &str, body: String) -> Alert {
    Alert {
        kind,
        trade_id: Some(trade.id),
        offer_id: None,
        title: title.to_owned(),
        body,
    }
}

/// Whether this node is the buyer of the coins.
pub(super) fn is_buyer(trade: &TradeInfo) -> bool {
    trade.party() == Party::Buyer
}

pub(super) fn offer_taken(trade: &TradeInfo) -> Alert {
    let amount = format!(
        "{} {}",
        format_amount(trade.terms.amount, trade.offer.base),
        trade.offer.base
    );
    let (total, method) = (quote_total(trade), &trade.terms.method);
    // The taker's name, as every node derives it from its PeerId (never text it chose).
    let who = peer_name(&trade.counterparty);
    let body = match (trade.offer.side, trade.terms.price) {
        (Side::Sell, Price::Fixed(_)) => {
            format!("{who} wants to buy {amount} from you for {total}, paying by {method}.")
        }
        (Side::Buy, Price::Fixed(_)) => {
            format!("{who} wants to sell you {amount} for {total}, paid by {method}.")
        }
        // The total names the amount already.
        (Side::Sell, Price::MarketRelative { .. }) => {
            format!("{who} wants to buy {total} from you, paying by {method}.")
        }
        (Side::Buy, Price::MarketRelative { .. }) => {
            format!("{who} wants to sell you {total}, paid by {method}.")
        }
    };
    alert(
        AlertKind::OfferTaken,
        trade,
        "Offer taken",
        format!("{body} Accept, counter or reject it in Trades."),
    )
}

pub(super) fn incoming_message(message: &ChatMessage) -> Option<Alert> {
    if message.outgoing {
        return None;
    }
    Some(Alert {
        kind: AlertKind::Message,
        trade_id: Some(message.trade_id),
        offer_id: None,
        title: "New message".into(),
        body: format!("“{}”", excerpt(&message.body, EXCERPT_CHARS)),
    })
}

/// The alert for a trade that went from `before` to its state now; `None` for this node's own steps.
pub(super) fn state_change(before: TradeState, trade: &TradeInfo) -> Option<Alert> {
    use TradeState as S;
    let name = trade_name(trade);
    let buyer = is_buyer(trade);
    let me_maker = trade.role == TradeRole::Maker;
    // In negotiation, the maker answers a take and the taker answers a counter.
    let counterparty_answered = match before {
        S::Requested => !me_maker,
        S::Countered => me_maker,
        _ => false,
    };
    let message = |title: &str, body: String| Some(alert(AlertKind::Message, trade, title, body));
    let escrow = |title: &str, body: String| Some(alert(AlertKind::Escrow, trade, title, body));
    match trade.state {
        S::Countered if counterparty_answered => message(
            "Counter-offer",
            format!(
                "The maker proposes {} instead. Accept or reject it in Trades.",
                quote_total_with_amount(trade)
            ),
        ),
        S::Accepted if counterparty_answered => {
            let next = match (&trade.escrow, buyer) {
                (Some(_), _) => "Next: the escrow (see the trade).".to_owned(),
                (None, true) => format!(
                    "Pay {} by {}, then mark the payment sent.",
                    quote_total(trade),
                    trade.terms.method
                ),
                (None, false) => "The buyer pays you next.".to_owned(),
            };
            message(
                if me_maker {
                    "Counter accepted"
                } else {
                    "Take accepted"
                },
                format!(
                    "The {name} is agreed: {}. {next}",
                    quote_total_with_amount(trade)
                ),
            )
        }
        S::Rejected if counterparty_answered => message(
            if me_maker {
                "Counter rejected"
            } else {
                "Take rejected"
            },
            format!("The counterparty rejected the {name}."),
        ),
        S::Requested | S::Countered | S::Accepted | S::Rejected => None,
        S::EscrowFunding => escrow(
            "Escrow ready",
            format!(
                "Fund the escrow of the {name}: send {} {} to its address (see the trade).",
                format_amount(
                    trade.escrow.as_ref().map_or(0, |e| e.my_funding),
                    trade.offer.base
                ),
                trade.offer.base
            ),
        ),
        S::EscrowFunded if buyer => escrow(
            "Escrow confirmed",
            format!(
                "The escrow of the {name} is confirmed. Pay {} by {}, then mark the payment sent.",
                quote_total(trade),
                trade.terms.method
            ),
        ),
        S::EscrowFunded => escrow(
            "Escrow confirmed",
            format!("The escrow of the {name} is confirmed; the buyer pays you next."),
        ),
        // The buyer's own step.
        S::PaymentSent if buyer => None,
        S::PaymentSent => escrow(
            "Payment sent",
            format!(
                "The buyer of the {name} says {} is sent by {}. Check it arrived, then confirm it.",
                quote_total(trade),
                trade.terms.method
            ),
        ),
        // The seller's own step.
        S::PaymentConfirmed if !buyer => None,
        S::PaymentConfirmed => escrow(
            "Payment confirmed",
            format!(
                "The seller confirmed your payment; the escrow of the {name} is being released."
            ),
        ),
        S::Released => escrow(
            "Escrow released",
            format!("The release of the {name} is on the chain; waiting for its confirmations."),
        ),
        S::Completed if before == S::PaymentSent && !buyer => None,
        S::Completed => escrow("Trade completed", format!("The {name} is complete.")),
        S::Cancelled => escrow("Trade cancelled", format!("The {name} was cancelled.")),
        S::Expired => escrow(
            "Trade expired",
            format!("The escrow of the {name} was not funded in time."),
        ),
        S::Disputed => escrow(
            "Trade in dispute",
            format!("The {name} is in dispute: the arbitrator decides."),
        ),
        S::Resolved => escrow(
            "Dispute resolved",
            format!("The arbitrator decided the dispute of the {name}."),
        ),
    }
}

/// A trade came back from its recovery copy: what it is and what happens next.
pub(super) fn recovered(trade: &TradeInfo) -> Alert {
    alert(
        AlertKind::Escrow,
        trade,
        "Trade recovered",
        format!(
            "Your {} with {} is back from its sealed copy, as it stood: {}.",
            trade_name(trade),
            peer_name(&trade.counterparty),
            trade.next_step
        ),
    )
}
