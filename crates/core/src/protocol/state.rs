//! Where a trade stands: one [`TradeState`] from the first take request to the end, the same in the
//! `trades.state` column, in [`crate::trading::TradeInfo`], in the TypeScript bindings, the alerts and the
//! UI. Which states are open, negotiating or closed is said here and nowhere else.

use std::{fmt, str::FromStr, sync::LazyLock};

use serde::{Deserialize, Serialize};
use sqlx::{
    Decode, Encode, Sqlite, Type,
    encode::IsNull,
    error::BoxDynError,
    sqlite::{SqliteArgumentsBuffer, SqliteTypeInfo, SqliteValueRef},
};
use ts_rs::TS;

/// Where a trade stands. `Requested` and `Countered` while the terms are negotiated (`Rejected` if they
/// never are), `Accepted` once they are, then the settlement states of
/// [`crate::protocol::settlement::TRANSITIONS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS, utoipa::ToSchema)]
pub enum TradeState {
    /// The taker asked; the maker has to answer.
    Requested,
    /// The maker proposed other terms; the taker has to answer.
    Countered,
    /// The terms are agreed.
    Accepted,
    /// The negotiation ended without agreement.
    Rejected,
    EscrowFunding,
    EscrowFunded,
    PaymentSent,
    PaymentConfirmed,
    Released,
    Completed,
    Cancelled,
    Expired,
    Disputed,
    Resolved,
}

impl TradeState {
    pub const ALL: [Self; 14] = [
        Self::Requested,
        Self::Countered,
        Self::Accepted,
        Self::Rejected,
        Self::EscrowFunding,
        Self::EscrowFunded,
        Self::PaymentSent,
        Self::PaymentConfirmed,
        Self::Released,
        Self::Completed,
        Self::Cancelled,
        Self::Expired,
        Self::Disputed,
        Self::Resolved,
    ];

    /// The states a trade ends in: nothing moves it any more, it no longer holds its offer's capacity
    /// and needs no node running.
    pub const CLOSED: [Self; 5] = [
        Self::Rejected,
        Self::Completed,
        Self::Cancelled,
        Self::Expired,
        Self::Resolved,
    ];

    /// The `trades.state` text (and the JSON and TypeScript value).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Requested => "Requested",
            Self::Countered => "Countered",
            Self::Accepted => "Accepted",
            Self::Rejected => "Rejected",
            Self::EscrowFunding => "EscrowFunding",
            Self::EscrowFunded => "EscrowFunded",
            Self::PaymentSent => "PaymentSent",
            Self::PaymentConfirmed => "PaymentConfirmed",
            Self::Released => "Released",
            Self::Completed => "Completed",
            Self::Cancelled => "Cancelled",
            Self::Expired => "Expired",
            Self::Disputed => "Disputed",
            Self::Resolved => "Resolved",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Not ended: negotiating, or agreed and not yet settled. An open trade holds its share of the
    /// offer and needs this node running.
    pub fn is_open(self) -> bool {
        !Self::CLOSED.contains(&self)
    }

    /// The terms are not agreed yet.
    pub fn is_negotiating(self) -> bool {
        matches!(self, Self::Requested | Self::Countered)
    }

    /// A state of the negotiation only (before agreement, or its refusal): settlement steps do not
    /// apply to it.
    pub fn is_before_agreement(self) -> bool {
        self.is_negotiating() || self == Self::Rejected
    }

    /// `('Completed', 'Cancelled', …)`: the closed states as an SQL list, for `state [NOT] IN …`.
    pub fn closed_sql() -> &'static str {
        static LIST: LazyLock<String> = LazyLock::new(|| TradeState::sql_list(|s| !s.is_open()));
        &LIST
    }

    /// `('Requested', 'Countered')`: the negotiating states as an SQL list.
    pub fn negotiating_sql() -> &'static str {
        static LIST: LazyLock<String> =
            LazyLock::new(|| TradeState::sql_list(TradeState::is_negotiating));
        &LIST
    }

    fn sql_list(keep: fn(TradeState) -> bool) -> String {
        let quoted: Vec<String> = Self::ALL
            .into_iter()
            .filter(|s| keep(*s))
            .map(|s| format!("'{}'", s.as_str()))
            .collect();
        format!("({})", quoted.join(", "))
    }
}

impl fmt::Display for TradeState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A text that is not one of the states.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown trade state {0:?}")]
pub struct UnknownState(pub String);

impl FromStr for TradeState {
    type Err = UnknownState;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text).ok_or_else(|| UnknownState(text.to_owned()))
    }
}

impl Type<Sqlite> for TradeState {
    fn type_info() -> SqliteTypeInfo {
        <&str as Type<Sqlite>>::type_info()
    }

    fn compatible(ty: &SqliteTypeInfo) -> bool {
        <&str as Type<Sqlite>>::compatible(ty)
    }
}

impl<'q> Encode<'q, Sqlite> for TradeState {
    fn encode_by_ref(&self, buf: &mut SqliteArgumentsBuffer) -> Result<IsNull, BoxDynError> {
        self.as_str().encode_by_ref(buf)
    }
}

impl<'r> Decode<'r, Sqlite> for TradeState {
    fn decode(value: SqliteValueRef<'r>) -> Result<Self, BoxDynError> {
        let text = <&str as Decode<'r, Sqlite>>::decode(value)?;
        Ok(text.parse()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_reads_back_from_its_text_and_nothing_else_does() {
        for state in TradeState::ALL {
            assert_eq!(state.as_str().parse::<TradeState>(), Ok(state));
            assert_eq!(
                serde_json::to_string(&state).unwrap(),
                format!("\"{}\"", state.as_str())
            );
        }
        let err = "completed".parse::<TradeState>().unwrap_err();
        assert_eq!(err.to_string(), "unknown trade state \"completed\"");
    }

    #[test]
    fn the_closed_states_are_the_ones_not_open_and_the_sql_lists_exactly_them() {
        let closed: Vec<TradeState> = TradeState::ALL
            .into_iter()
            .filter(|s| !s.is_open())
            .collect();
        assert_eq!(closed, TradeState::CLOSED);
        assert_eq!(
            TradeState::closed_sql(),
            "('Rejected', 'Completed', 'Cancelled', 'Expired', 'Resolved')"
        );
        assert_eq!(TradeState::negotiating_sql(), "('Requested', 'Countered')");
        assert!(TradeState::Requested.is_negotiating() && TradeState::Requested.is_open());
        assert!(TradeState::Rejected.is_before_agreement() && !TradeState::Rejected.is_open());
        assert!(!TradeState::Accepted.is_before_agreement());
    }

    #[tokio::test]
    async fn the_column_reads_and_writes_the_state_and_refuses_an_unknown_one() {
        let pool = sqlx::SqlitePool::connect("sqlite::memory:").await.unwrap();
        sqlx::query("CREATE TABLE t (state TEXT NOT NULL)")
            .execute(&pool)
            .await
            .unwrap();
        sqlx::query("INSERT INTO t VALUES (?)")
            .bind(TradeState::PaymentSent)
            .execute(&pool)
            .await
            .unwrap();
        let read: TradeState = sqlx::query_scalar("SELECT state FROM t")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(read, TradeState::PaymentSent);
        let text: String = sqlx::query_scalar("SELECT state FROM t")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(text, "PaymentSent");
        sqlx::query("UPDATE t SET state = 'Paid'")
            .execute(&pool)
            .await
            .unwrap();
        let err = sqlx::query_scalar::<_, TradeState>("SELECT state FROM t")
            .fetch_one(&pool)
            .await
            .unwrap_err();
        assert!(
            err.to_string().contains("unknown trade state \"Paid\""),
            "{err}"
        );
    }
}
