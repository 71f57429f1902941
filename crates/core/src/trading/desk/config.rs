//! How a node trades: the desk's limits, windows and arbitrator choices, and the chain it settles on.
//! Plain settings only: nothing here acts on them.

use std::{sync::Arc, time::Duration};

pub use crate::config::TradeConfig;

/// How long a buyer has to pay by `method` once the escrow is funded: slow bank transfers get days,
/// instant methods a day, anything unknown two days.
pub fn payment_window(method: &crate::offer::PaymentMethod) -> Duration {
    const DAY: u64 = 24 * 3600;
    let days = match method.as_str() {
        "SEPA" | "ACH" | "SWIFT" | "BANK_TRANSFER" => 6,
        "ZELLE" | "INTERAC" => 4,
        "SEPA_INSTANT" | "FASTER_PAYMENTS" | "REVOLUT" | "WISE" | "PIX" | "UPI" | "CASH"
        | "CASH_BY_MAIL" | "PAYPAL" => 1,
        _ => 2,
    };
    Duration::from_secs(days * DAY)
}

/// The chain a desk settles escrows on.
#[derive(Debug, Clone)]
pub struct Settlement {
    pub backend: Arc<crate::chain::Backend>,
    /// Confirmations before a funding or a release counts.
    pub confirmations: u32,
}

#[cfg(test)]
mod window_tests {
    use super::payment_window;
    use crate::offer::PaymentMethod;

    #[test]
    fn slow_methods_get_more_time_to_pay() {
        let days = |m: &str| payment_window(&PaymentMethod::new(m).unwrap()).as_secs() / 86_400;
        assert_eq!(days("SEPA"), 6);
        assert_eq!(days("SEPA_INSTANT"), 1);
        assert_eq!(days("ZELLE"), 4);
        assert_eq!(days("SOMETHING_NEW"), 2);
    }
}
