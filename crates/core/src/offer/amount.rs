//! Exact conversion between amounts as people type them ("0.01") and base units (sats, litoshis).

use super::{Asset, MAX_AMOUNT, OfferError};

/// Parses a positive amount of `asset` written in whole coins, e.g. `"0.01"` BTC → `1_000_000` sats.
/// Plain digits with an optional `.` and at most `asset.decimals()` decimal places; surrounding
/// whitespace is ignored. No signs, exponents, separators or floats; zero and amounts above
/// [`MAX_AMOUNT`] are refused.
pub fn parse_amount(text: &str, asset: Asset) -> Result<u64, OfferError> {
    let fail = |reason: String| OfferError::InvalidAmount {
        text: text.to_owned(),
        reason,
    };
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(fail("no amount given".into()));
    }
    if trimmed.starts_with('-') {
        return Err(fail("amounts cannot be negative".into()));
    }
    let decimals = asset.decimals();
    let (whole, fraction) = trimmed.split_once('.').unwrap_or((trimmed, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty()
        || !digits(whole)
        || !digits(fraction)
        || (trimmed.contains('.') && fraction.is_empty())
    {
        return Err(fail(format!(
            "not a plain decimal number of {} (e.g. 0.01)",
            asset.ticker()
        )));
    }
    if fraction.len() > decimals as usize {
        return Err(fail(format!(
            "more than {decimals} decimal places: the smallest amount of {} is 0.{}1",
            asset.ticker(),
            "0".repeat(decimals.saturating_sub(1) as usize)
        )));
    }
    let too_large = || {
        fail(format!(
            "above the maximum of {} {}",
            format_amount(MAX_AMOUNT, asset),
            asset.ticker()
        ))
    };
    let whole = whole.trim_start_matches('0');
    // More digits than the cap has cannot fit; this also keeps the arithmetic below from overflowing.
    if whole.len() > 20 {
        return Err(too_large());
    }
    let parse = |s: &str| -> u128 { s.bytes().fold(0, |n, b| n * 10 + u128::from(b - b'0')) };
    let scale = 10u128.pow(decimals);
    let padded = format!("{fraction:0<width$}", width = decimals as usize);
    let units = parse(whole) * scale + parse(&padded);
    if units == 0 {
        return Err(fail("the amount must be greater than zero".into()));
    }
    match u64::try_from(units) {
        Ok(units) if units <= MAX_AMOUNT => Ok(units),
        _ => Err(too_large()),
    }
}

/// Formats base units as whole coins with no trailing zeros: `1_000_000` sats → `"0.01"`, `10^8` → `"1"`.
pub fn format_amount(units: u64, asset: Asset) -> String {
    let decimals = asset.decimals();
    let scale = 10u64.pow(decimals);
    let (whole, fraction) = (units / scale, units % scale);
    if fraction == 0 {
        return whole.to_string();
    }
    let fraction = format!("{fraction:0width$}", width = decimals as usize);
    format!("{whole}.{}", fraction.trim_end_matches('0'))
}
