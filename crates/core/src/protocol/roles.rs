//! Who is who in a trade, on two independent axes: who posted the offer ([`TradeRole::Maker`]) and who
//! took it ([`TradeRole::Taker`]); who buys the coins ([`Party::Buyer`], pays outside the chain) and who
//! sells them ([`Party::Seller`], puts them in escrow). The offer's [`Side`] links the two. An arbitrator's
//! decision gives the escrow to a [`Winner`].

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};
use sqlx::{
    Decode, Encode, Sqlite, Type,
    encode::IsNull,
    error::BoxDynError,
    sqlite::{SqliteArgumentsBuffer, SqliteTypeInfo, SqliteValueRef},
};
use ts_rs::TS;

use crate::offer::Side;

/// Which side of the offer a node is on: it posted it, or took it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TradeRole {
    Maker,
    Taker,
}

impl TradeRole {
    pub const ALL: [Self; 2] = [Self::Maker, Self::Taker];

    /// The `trades.role` text.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Maker => "maker",
            Self::Taker => "taker",
        }
    }

    pub fn other(self) -> Self {
        match self {
            Self::Maker => Self::Taker,
            Self::Taker => Self::Maker,
        }
    }

    /// Whether this role buys or sells the coins of an offer whose maker is on `side`.
    pub fn party(self, side: Side) -> Party {
        match (side, self) {
            (Side::Sell, Self::Taker) | (Side::Buy, Self::Maker) => Party::Buyer,
            (Side::Sell, Self::Maker) | (Side::Buy, Self::Taker) => Party::Seller,
        }
    }
}

/// Which side of the coins a party is on: the buyer pays outside the chain and receives the coins; the
/// seller puts them in escrow. In an escrow where both fund (the buyer's security deposit), each output
/// belongs to its funder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Party {
    Buyer,
    Seller,
}

impl Party {
    /// Both, the seller's output first (as funding outputs are ordered).
    pub const BOTH: [Self; 2] = [Self::Seller, Self::Buyer];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Buyer => "buyer",
            Self::Seller => "seller",
        }
    }

    pub fn other(self) -> Self {
        match self {
            Self::Buyer => Self::Seller,
            Self::Seller => Self::Buyer,
        }
    }
}

/// Who an arbitrator's decision gives the escrow to: all of it to one party, or split between them.
/// Read from JSON by its name, refusing any other with the names it could be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, TS, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Winner {
    Buyer,
    Seller,
    Split,
}

impl Winner {
    pub const ALL: [Self; 3] = [Self::Buyer, Self::Seller, Self::Split];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Buyer => "buyer",
            Self::Seller => "seller",
            Self::Split => "split",
        }
    }
}

impl<'de> Deserialize<'de> for Winner {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        if deserializer.is_human_readable() {
            let text = String::deserialize(deserializer)?;
            return text.parse().map_err(serde::de::Error::custom);
        }
        // Signed encodings (postcard) carry the variant's index, as the derive writes it.
        #[derive(Deserialize)]
        enum Indexed {
            Buyer,
            Seller,
            Split,
        }
        Ok(match Indexed::deserialize(deserializer)? {
            Indexed::Buyer => Self::Buyer,
            Indexed::Seller => Self::Seller,
            Indexed::Split => Self::Split,
        })
    }
}

impl From<Party> for Winner {
    fn from(party: Party) -> Self {
        match party {
            Party::Buyer => Self::Buyer,
            Party::Seller => Self::Seller,
        }
    }
}

/// A text that names no role, party or winner.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {text:?}: expected {expected}")]
pub struct UnknownName {
    pub what: &'static str,
    pub text: String,
    pub expected: &'static str,
}

/// Display, parsing and the SQLite text column, for an enum of names given by `as_str`.
macro_rules! named {
    ($ty:ty, $what:literal, $expected:literal, [$($variant:expr),+]) => {
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $ty {
            type Err = UnknownName;

            fn from_str(text: &str) -> Result<Self, Self::Err> {
                [$($variant),+]
                    .into_iter()
                    .find(|v: &$ty| v.as_str() == text)
                    .ok_or_else(|| UnknownName { what: $what, text: text.to_owned(), expected: $expected })
            }
        }

        impl Type<Sqlite> for $ty {
            fn type_info() -> SqliteTypeInfo {
                <&str as Type<Sqlite>>::type_info()
            }

            fn compatible(ty: &SqliteTypeInfo) -> bool {
                <&str as Type<Sqlite>>::compatible(ty)
            }
        }

        impl<'q> Encode<'q, Sqlite> for $ty {
            fn encode_by_ref(
                &self,
                buf: &mut SqliteArgumentsBuffer,
            ) -> Result<IsNull, BoxDynError> {
                self.as_str().encode_by_ref(buf)
            }
        }

        impl<'r> Decode<'r, Sqlite> for $ty {
            fn decode(value: SqliteValueRef<'r>) -> Result<Self, BoxDynError> {
                Ok(<&str as Decode<'r, Sqlite>>::decode(value)?.parse()?)
            }
        }
    };
}

named!(
    TradeRole,
    "role",
    "maker or taker",
    [TradeRole::Maker, TradeRole::Taker]
);
named!(
    Party,
    "party",
    "buyer or seller",
    [Party::Buyer, Party::Seller]
);
named!(
    Winner,
    "winner",
    "buyer, seller or split",
    [Winner::Buyer, Winner::Seller, Winner::Split]
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_offer_side_decides_who_buys() {
        assert_eq!(TradeRole::Taker.party(Side::Sell), Party::Buyer);
        assert_eq!(TradeRole::Maker.party(Side::Sell), Party::Seller);
        assert_eq!(TradeRole::Maker.party(Side::Buy), Party::Buyer);
        assert_eq!(TradeRole::Taker.party(Side::Buy), Party::Seller);
        for side in [Side::Buy, Side::Sell] {
            for role in TradeRole::ALL {
                assert_eq!(role.other().party(side), role.party(side).other());
            }
        }
    }

    #[test]
    fn names_read_back_and_a_wrong_one_says_what_was_expected() {
        for role in TradeRole::ALL {
            assert_eq!(role.to_string().parse::<TradeRole>(), Ok(role));
            assert_eq!(serde_json::to_value(role).unwrap(), role.as_str());
        }
        for party in Party::BOTH {
            assert_eq!(party.to_string().parse::<Party>(), Ok(party));
            assert_eq!(serde_json::to_value(party).unwrap(), party.as_str());
            assert_eq!(Winner::from(party).as_str(), party.as_str());
        }
        for winner in Winner::ALL {
            assert_eq!(winner.to_string().parse::<Winner>(), Ok(winner));
            assert_eq!(serde_json::to_value(winner).unwrap(), winner.as_str());
        }
        assert_eq!(
            "Buyer".parse::<Party>().unwrap_err().to_string(),
            "unknown party \"Buyer\": expected buyer or seller"
        );
        assert_eq!(
            "half".parse::<Winner>().unwrap_err().to_string(),
            "unknown winner \"half\": expected buyer, seller or split"
        );
    }

    /// A winner is read back from JSON by name (a wrong one says which would do) and from the signed
    /// postcard encodings by the index the derive writes, so receipts signed before keep verifying.
    #[test]
    fn a_winner_reads_back_from_json_and_from_postcard() {
        for winner in Winner::ALL {
            let json = serde_json::to_string(&winner).unwrap();
            assert_eq!(serde_json::from_str::<Winner>(&json).unwrap(), winner);
            let bytes = postcard::to_stdvec(&winner).unwrap();
            assert_eq!(postcard::from_bytes::<Winner>(&bytes).unwrap(), winner);
        }
        assert_eq!(postcard::to_stdvec(&Winner::Split).unwrap(), [2]);
        assert_eq!(
            serde_json::from_str::<Winner>("\"nobody\"")
                .unwrap_err()
                .to_string(),
            "unknown winner \"nobody\": expected buyer, seller or split"
        );
    }
}
