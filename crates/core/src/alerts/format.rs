//! Amounts, prices, totals and durations in words a person reads, and the excerpt of peer text
//! cleaned of control and invisible formatting characters.

use rust_decimal::Decimal;

use crate::{
    offer::{Asset, Price, Quote, format_amount},
    trading::TradeInfo,
};

/// "0.05 BTC trade".
pub(super) fn trade_name(trade: &TradeInfo) -> String {
    format!(
        "{} {} trade",
        format_amount(trade.terms.amount, trade.offer.base),
        trade.offer.base
    )
}

/// "3,000 EUR", or "0.05 BTC at the market price +1.5 %" when the price follows the market.
pub(super) fn quote_total(trade: &TradeInfo) -> String {
    let (amount, base, quote) = (trade.terms.amount, trade.offer.base, trade.offer.quote);
    match trade.terms.price {
        Price::Fixed(price) => match total(amount, base, price) {
            Some(total) => format!("{} {quote}", money(total, quote)),
            None => format!(
                "{} {base} at {price} {quote} per {base}",
                format_amount(amount, base)
            ),
        },
        Price::MarketRelative { premium_bps } => format!(
            "{} {base} at the market price {}",
            format_amount(amount, base),
            premium(premium_bps)
        ),
    }
}

fn total(amount: u64, base: Asset, price: Decimal) -> Option<Decimal> {
    let coins = Decimal::from(amount).checked_div(Decimal::from(10u64.pow(base.decimals())))?;
    coins.checked_mul(price)
}

/// Two decimals for fiat (none when whole), up to eight for a coin; thousands separated by commas.
pub(super) fn money(value: Decimal, quote: Quote) -> String {
    let places = match quote {
        Quote::Fiat(_) => 2,
        Quote::Asset(a) => a.decimals(),
    };
    let rounded = value.round_dp(places);
    let text = if rounded.fract().is_zero() {
        rounded.trunc().to_string()
    } else {
        match quote {
            Quote::Fiat(_) => format!("{rounded:.2}"),
            Quote::Asset(_) => rounded.normalize().to_string(),
        }
    };
    let (whole, fraction) = text.split_once('.').unwrap_or((&text, ""));
    let (sign, digits) = whole.strip_prefix('-').map_or(("", whole), |d| ("-", d));
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    if fraction.is_empty() {
        format!("{sign}{grouped}")
    } else {
        format!("{sign}{grouped}.{fraction}")
    }
}

pub(super) fn premium(bps: i32) -> String {
    let percent = Decimal::from(bps) / Decimal::from(100);
    match bps {
        0 => "(no premium)".into(),
        b if b > 0 => format!("+{} %", percent.normalize()),
        _ => format!("{} %", percent.normalize()),
    }
}

/// "0.05 BTC for 3,000 EUR".
pub(super) fn quote_total_with_amount(trade: &TradeInfo) -> String {
    match trade.terms.price {
        Price::Fixed(_) => format!(
            "{} {} for {}",
            format_amount(trade.terms.amount, trade.offer.base),
            trade.offer.base,
            quote_total(trade)
        ),
        Price::MarketRelative { .. } => quote_total(trade),
    }
}

/// "2 h 5 min", "45 min", "1 day 3 h".
pub(super) fn duration_words(ms: i64) -> String {
    let minutes = (ms + 59_999) / 60_000;
    let (days, hours, mins) = (minutes / 1440, minutes % 1440 / 60, minutes % 60);
    match (days, hours, mins) {
        (0, 0, m) => format!("{m} min"),
        (0, h, 0) => format!("{h} h"),
        (0, h, m) => format!("{h} h {m} min"),
        (1, 0, _) => "1 day".into(),
        (1, h, _) => format!("1 day {h} h"),
        (d, 0, _) => format!("{d} days"),
        (d, h, _) => format!("{d} days {h} h"),
    }
}

/// At most `max` characters of `text` on one line: control and invisible formatting characters
/// (bidirectional overrides, zero-width characters) go, runs of whitespace become one space.
pub fn excerpt(text: &str, max: usize) -> String {
    let cleaned: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .filter(|c| !is_invisible_format(*c))
        .collect();
    let words: Vec<&str> = cleaned.split_whitespace().collect();
    let line = words.join(" ");
    if line.chars().count() <= max {
        return line;
    }
    let cut: String = line.chars().take(max.saturating_sub(1)).collect();
    format!("{}…", cut.trim_end())
}

/// Unicode format characters that change how text around them reads without being seen.
pub(super) fn is_invisible_format(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{061C}' | '\u{180E}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{206F}' | '\u{FEFF}' | '\u{FFF9}'..='\u{FFFB}')
}
