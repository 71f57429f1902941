//! Printing helpers of the scripting commands: peer text made safe for a terminal, times, prices,
//! durations and aligned tables. They must never let peer text reach the terminal unescaped.

use std::time::{SystemTime, UNIX_EPOCH};

use souk_core::offer::{Offer, Price};

/// Peer text as it can be shown in a terminal: control characters (escape sequences that move the
/// cursor, recolour or retitle the terminal, line breaks that forge lines) and the invisible marks that
/// reorder text (bidirectional overrides) are shown escaped (`\u{1b}`), everything else as it is.
pub(super) fn printable(text: &str) -> String {
    let hidden = |c: char| {
        c.is_control()
            || matches!(
                c,
                '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
            )
    };
    text.chars()
        .map(|c| {
            if hidden(c) {
                c.escape_unicode().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// Unix ms as `YYYY-MM-DD` UTC.
pub(super) fn date_text(ms: i64) -> String {
    let [y, m, d, ..] = souk_core::backup::utc_parts(u64::try_from(ms).unwrap_or(0));
    format!("{y:04}-{m:02}-{d:02}")
}

/// Unix ms as `HH:MM:SS` UTC.
pub(super) fn time_text(ms: i64) -> String {
    let secs = ms.div_euclid(1000).rem_euclid(86_400);
    format!(
        "{:02}:{:02}:{:02}",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

pub(super) fn price_text(offer: &Offer, effective: Option<rust_decimal::Decimal>) -> String {
    match offer.price {
        Price::Fixed(p) => format!("{p} {}", offer.quote),
        Price::MarketRelative { premium_bps } => {
            let premium = rust_decimal::Decimal::new(i64::from(premium_bps), 2).normalize();
            let sign = if premium_bps >= 0 { "+" } else { "" };
            match effective {
                Some(p) => format!("{p} {} (market {sign}{premium}%)", offer.quote),
                None => format!("market {sign}{premium}% (no market price available)"),
            }
        }
    }
}

pub(super) fn methods_text(offer: &Offer) -> String {
    offer
        .payment_methods
        .iter()
        .map(|m| m.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

/// `12D3KooWAbc…wxyz`.
pub(super) fn abbreviate(peer: &str) -> String {
    let chars: Vec<char> = peer.chars().collect();
    if chars.len() <= 16 {
        return peer.to_owned();
    }
    let head: String = chars[..12].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}…{tail}")
}

/// Seconds as `42s`, `5m`, `3h`, `2d`.
pub(super) fn duration_text(secs: i64) -> String {
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 2 * 3600 => format!("{}m", s / 60),
        s if s < 2 * 86_400 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

pub(super) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

pub(super) fn print_table<const N: usize>(headers: &[&str; N], rows: &[[String; N]]) {
    let mut widths = headers.map(|h| h.chars().count());
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c}{}", " ".repeat(w - c.chars().count())))
            .collect();
        println!("{}", padded.join("  ").trim_end());
    };
    line(headers.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn peer_text_cannot_drive_the_terminal() {
        use super::printable;
        assert_eq!(printable("rltc1q… ok"), "rltc1q… ok");
        assert_eq!(super::date_text(0), "1970-01-01");
        assert_eq!(super::date_text(951_782_400_000), "2000-02-29");
        assert_eq!(super::date_text(1_796_428_799_999), "2026-12-04");
        assert_eq!(
            printable("paid\u{1b}[2J\u{1b}]0;title\u{7}\nforged line"),
            "paid\\u{1b}[2J\\u{1b}]0;title\\u{7}\\u{a}forged line"
        );
        assert_eq!(printable("abc\u{202e}fed"), "abc\\u{202e}fed");
    }

    use std::str::FromStr;

    use libp2p::identity::Keypair;
    use rust_decimal::Decimal;
    use souk_core::offer::{Asset, EscrowKind, Fiat, NewOffer, PaymentMethod, Quote, Side};

    use super::*;

    fn offer(price: Price) -> Offer {
        let new = NewOffer {
            side: Side::Sell,
            base: Asset::Btc,
            quote: Quote::Fiat(Fiat::Eur),
            price,
            min_amount: 1,
            max_amount: 2,
            payment_methods: vec![PaymentMethod::new("SEPA").unwrap()],
            escrow: EscrowKind::None,
            deposit_bps: 0,
            maker_x25519: [1; 32],
            ttl_ms: 3_600_000,
            terms: String::new(),
        };
        Offer::new(
            Keypair::generate_ed25519().public().to_peer_id(),
            new,
            1_800_000_000_000,
        )
        .unwrap()
    }

    #[test]
    fn prices_say_when_no_market_price_is_known() {
        let fixed = offer(Price::Fixed(Decimal::from(60_000)));
        assert_eq!(price_text(&fixed, Some(Decimal::from(60_000))), "60000 EUR");
        let relative = offer(Price::MarketRelative { premium_bps: 150 });
        assert_eq!(
            price_text(&relative, None),
            "market +1.5% (no market price available)"
        );
        let priced = Decimal::from_str("60900").unwrap();
        assert_eq!(
            price_text(&relative, Some(priced)),
            "60900 EUR (market +1.5%)"
        );
        let below = offer(Price::MarketRelative { premium_bps: -200 });
        assert_eq!(
            price_text(&below, None),
            "market -2% (no market price available)"
        );
    }
}
