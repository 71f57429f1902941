//! What happens next in a trade, in words, and who acts: derived from its state and escrow view, for
//! the trade view. Pure: no SQL here.

use crate::trading::{EscrowView, Party, TradeRole, TradeState};

/// Who acts next and what happens next, from `me`'s point of view.
pub(super) fn progress(
    state: TradeState,
    me: TradeRole,
    buyer: TradeRole,
    escrow: Option<&EscrowView>,
) -> (Option<TradeRole>, String) {
    use TradeState as S;
    let seller = buyer.other();
    let you = |role: TradeRole, what: &str, otherwise: &str| {
        let text = if role == me { what } else { otherwise };
        (Some(role), text.to_owned())
    };
    match (state, escrow) {
        (S::Requested, _) => you(
            TradeRole::Maker,
            "accept, counter or reject the take",
            "waiting for the maker to answer the take",
        ),
        (S::Countered, _) => you(
            TradeRole::Taker,
            "accept or reject the counter",
            "waiting for the taker to answer the counter",
        ),
        (S::Accepted, Some(e)) if e.my_address.is_none() => (
            Some(me),
            "give the address your coins go to (souk trade address)".into(),
        ),
        (S::Accepted, Some(e)) if e.counterparty_address.is_none() => {
            let other = if me == buyer { seller } else { buyer };
            (
                Some(other),
                "waiting for the counterparty's escrow address".into(),
            )
        }
        (S::Accepted, Some(_)) => (None, "setting up the escrow".into()),
        (S::Accepted, None) => you(
            buyer,
            "pay the seller, then mark the payment sent",
            "waiting for the buyer's payment",
        ),
        (S::EscrowFunding, Some(e)) => {
            let (mine, held) = if me == buyer {
                (e.buyer_deposit, e.buyer_funded)
            } else {
                (e.amount + e.seller_deposit, e.seller_funded)
            };
            let coin = coins(e.chain, e.my_funding);
            let text = if held >= mine {
                format!(
                    "your escrow output holds its {}; waiting for the counterparty's ({} of {} there)",
                    coin,
                    coins(e.chain, e.funded - held),
                    coins(e.chain, e.required - mine)
                )
            } else {
                let side = if me == buyer {
                    Party::Buyer
                } else {
                    Party::Seller
                };
                let seen: u64 = e
                    .pending_funding
                    .iter()
                    .filter(|p| p.funder == side)
                    .map(|p| p.value)
                    .sum();
                let pending = if seen > 0 {
                    format!("; {} seen, waiting for a block", coins(e.chain, seen))
                } else {
                    String::new()
                };
                format!(
                    "fund the escrow: send {} to your escrow address {} ({} there so far{pending})",
                    coin,
                    e.address.as_deref().unwrap_or("?"),
                    coins(e.chain, held)
                )
            };
            (if held >= mine { None } else { Some(me) }, text)
        }
        (S::EscrowFunded, _) => you(
            buyer,
            "pay the seller, then mark the payment sent",
            "waiting for the buyer's payment",
        ),
        (S::PaymentSent, _) => you(
            seller,
            "check the payment arrived, then confirm it (this releases the escrow)",
            "waiting for the seller to confirm the payment",
        ),
        (S::PaymentConfirmed, _) => (None, "the release is being signed and broadcast".into()),
        (S::Released, _) => (None, "waiting for the release to confirm".into()),
        (S::Disputed, _) => (None, "the arbitrator decides".into()),
        (S::Cancelled | S::Expired | S::Completed, Some(e)) if !e.returns.is_empty() => (
            None,
            e.returns
                .iter()
                .map(|r| {
                    let whose = if (r.funder == Party::Buyer) == (me == buyer) {
                        "your"
                    } else {
                        "the counterparty's"
                    };
                    match &r.txid {
                        Some(txid) => format!(
                            "{} of {whose} coins went back to {} ({txid})",
                            coins(e.chain, r.amount),
                            r.address
                        ),
                        None => format!(
                            "{} of {whose} coins are going back to {}",
                            coins(e.chain, r.amount),
                            r.address
                        ),
                    }
                })
                .collect::<Vec<_>>()
                .join("; "),
        ),
        (other, _) => (
            None,
            format!("{} (nothing left to do)", other.as_str().to_lowercase()),
        ),
    }
}

/// `units` of the chain's coin in words: "1.15 LTC".
pub(in crate::trading) fn coins(chain: crate::escrow::Chain, units: u64) -> String {
    let asset = match chain {
        crate::escrow::Chain::Btc => crate::offer::Asset::Btc,
        crate::escrow::Chain::Ltc => crate::offer::Asset::Ltc,
    };
    format!(
        "{} {}",
        crate::offer::format_amount(units, asset),
        chain.to_string().to_uppercase()
    )
}
