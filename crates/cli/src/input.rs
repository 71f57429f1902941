//! What a person types on the command line (amounts in coins, percentages, durations, markets) turned
//! into the core's typed values before a command calls the API, which takes typed JSON only (the same
//! as the desktop app's commands). Every refusal says what was wrong, in words.

use std::str::FromStr;

use libp2p::PeerId;
use rust_decimal::Decimal;
use souk_core::offer::{
    Asset, EscrowKind, MAX_TTL_MS, NewOffer, PaymentMethod, Price, Quote, Side, format_amount,
    parse_amount,
};

/// A refusal: the reason, for the person.
fn refused(message: impl Into<String>) -> String {
    message.into()
}

/// `BTC/EUR` → its asset and quote (the core's reading, the same as `souk.toml`'s).
pub use souk_core::config::parse_market;

/// An amount in coins of `base` (`0.05`) → base units.
pub fn amount(text: &str, base: Asset) -> Result<u64, String> {
    parse_amount(text, base).map_err(|e| e.to_string())
}

/// A price in quote units per whole base coin (`60000`, `65000.5`).
pub fn price(text: &str) -> Result<Decimal, String> {
    Decimal::from_str(text.trim()).map_err(|_| format!("price {text:?} is not a number"))
}

pub fn parse_side(text: &str) -> Result<Side, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "buy" => Ok(Side::Buy),
        "sell" => Ok(Side::Sell),
        _ => Err(refused(format!("side {text:?} is neither buy nor sell"))),
    }
}

pub fn parse_method(text: &str) -> Result<PaymentMethod, String> {
    PaymentMethod::new(text.trim().to_ascii_uppercase()).map_err(|e| refused(e.to_string()))
}

/// An offer as a person types it (`souk offer post`): amounts in coins, percentages, durations.
#[derive(Debug, Clone, Default)]
pub struct OfferRequest {
    pub side: String,
    pub base: String,
    pub quote: String,
    /// A fixed price in quote units per whole base coin, e.g. "60000".
    pub price: Option<String>,
    /// Or a premium over the market price in percent, e.g. "1.5" or "-2".
    pub premium: Option<String>,
    pub min: String,
    pub max: String,
    pub methods: Vec<String>,
    pub escrow: Option<String>,
    pub arbitrators: Vec<String>,
    /// Security deposit in percent of the trade amount (default 15).
    pub deposit: Option<String>,
    /// How long the offer stays up: `30m`, `24h`, `7d` (default 24h).
    pub ttl: Option<String>,
    pub terms: Option<String>,
}

/// Percent text with at most two decimals → basis points.
pub fn percent_to_bps(what: &str, text: &str) -> Result<i64, String> {
    let value = Decimal::from_str(text.trim())
        .map_err(|_| refused(format!("{what} {text:?} is not a number of percent")))?;
    let bps = value * Decimal::ONE_HUNDRED;
    if !bps.fract().is_zero() {
        return Err(refused(format!(
            "{what} {text} has more than 2 decimal places (the unit is 0.01 %)"
        )));
    }
    i64::try_from(bps).map_err(|_| refused(format!("{what} {text} is out of range")))
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

pub fn new_offer(r: &OfferRequest) -> Result<NewOffer, String> {
    let bad = |e: souk_core::offer::OfferError| refused(e.to_string());
    let side = parse_side(&r.side)?;
    let base = Asset::from_str(&r.base).map_err(bad)?;
    let quote = Quote::from_str(&r.quote).map_err(bad)?;
    let price = match (&r.price, &r.premium) {
        (Some(_), Some(_)) => {
            return Err(refused("give either a price or a premium, not both"));
        }
        (None, None) => {
            return Err(refused(
                "give a price (e.g. \"60000\") or a premium over the market in percent (e.g. \"1.5\")",
            ));
        }
        (Some(p), None) => Price::Fixed(
            Decimal::from_str(p.trim())
                .map_err(|_| refused(format!("price {p:?} is not a number")))?,
        ),
        (None, Some(p)) => Price::MarketRelative {
            premium_bps: i32::try_from(percent_to_bps("premium", p)?)
                .map_err(|_| refused(format!("premium {p} is out of range")))?,
        },
    };
    let min = parse_amount(&r.min, base).map_err(bad)?;
    let max = parse_amount(&r.max, base).map_err(bad)?;
    if min > max {
        return Err(refused(format!(
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
        return Err(refused("name at least one payment method, e.g. SEPA"));
    }
    let arbitrators = r
        .arbitrators
        .iter()
        .map(|a| {
            PeerId::from_str(a.trim())
                .map_err(|e| refused(format!("arbitrator {a:?} is not a PeerId: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let escrow = match r.escrow.as_deref().map(str::trim) {
        Some("multisig") => EscrowKind::Multisig { arbitrators },
        Some("none") | None if arbitrators.is_empty() => EscrowKind::None,
        Some("none") | None => {
            return Err(refused("arbitrators only go with escrow \"multisig\""));
        }
        Some(other) => {
            return Err(refused(format!(
                "escrow {other:?} is neither \"none\" nor \"multisig\""
            )));
        }
    };
    let deposit = percent_to_bps("deposit", r.deposit.as_deref().unwrap_or("15"))?;
    let deposit_bps = u16::try_from(deposit)
        .map_err(|_| refused(format!("deposit {deposit} bps is out of range")))?;
    let ttl_ms = parse_ttl(r.ttl.as_deref().unwrap_or("24h")).map_err(refused)?;
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
        let reason = |r: OfferRequest| new_offer(&r).unwrap_err();
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
