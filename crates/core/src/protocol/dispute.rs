//! What the arbitrator sends in a dispute: its signed [`Resolution`], with the rules a resolution must
//! keep. Pure: no clock, chain, database or network — the engine (`trading::arbitrate`) builds, sends,
//! checks against the chain and stores it. (A party's case, `trading::arbitrate::DisputeCase`, stays
//! with the engine: it names the escrow's chain and network, and `escrow` already depends on this
//! module's roles.)

use libp2p::{PeerId, identity::Keypair};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::roles::Winner;

/// Signature domain of an arbitrator's resolution.
pub const RESOLUTION_SIGNING_TAG: &[u8] = b"souk/resolution/v1\0";
/// Longest reason an arbitrator may give.
pub const MAX_DECISION_REASON_CHARS: usize = 1_000;

/// Why a case or a resolution does not hold.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DisputeMessageError {
    #[error(
        "a decision for the {winner} that gives the buyer {buyer_share} and the seller {seller_share}"
    )]
    SharesContradictWinner {
        winner: Winner,
        buyer_share: u64,
        seller_share: u64,
    },
    #[error("the decision's reason is too long")]
    ReasonTooLong,
    /// The signed resolution does not decode or its signature does not verify.
    #[error("{0}")]
    Unreadable(String),
    /// This node could not encode or sign (its own failure).
    #[error("internal error: {0}")]
    Internal(String),
}

/// The arbitrator's decision, signed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resolution {
    pub trade_id: Uuid,
    /// Who the escrow goes to. Signed as its name (`buyer`, `seller`, `split`), as it always was: a
    /// resolution with any other name does not decode.
    #[serde(with = "winner_by_name")]
    pub winner: Winner,
    /// Base units of the escrow's inputs each party gets before the fee; they add up to the inputs.
    pub buyer_share: u64,
    pub seller_share: u64,
    /// The arbitrator's words, shown to both parties.
    pub reason: String,
    /// 1 for the first decision; one more for each new decision after a refusal.
    pub round: u32,
    /// The PSBT paying the shares, signed by the arbitrator.
    pub psbt: Vec<u8>,
}

impl Resolution {
    /// The outcome must say what the shares say.
    pub fn check_outcome(&self) -> Result<(), DisputeMessageError> {
        let consistent = match self.winner {
            Winner::Buyer => self.seller_share == 0,
            Winner::Seller => self.buyer_share == 0,
            Winner::Split => self.buyer_share > 0 && self.seller_share > 0,
        };
        if !consistent {
            return Err(DisputeMessageError::SharesContradictWinner {
                winner: self.winner,
                buyer_share: self.buyer_share,
                seller_share: self.seller_share,
            });
        }
        if self.reason.chars().count() > MAX_DECISION_REASON_CHARS {
            return Err(DisputeMessageError::ReasonTooLong);
        }
        Ok(())
    }
}

/// A [`Resolution`] as the arbitrator signed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedResolution {
    pub bytes: Vec<u8>,
    pub key: Vec<u8>,
    pub signature: Vec<u8>,
}

impl SignedResolution {
    pub fn sign(resolution: &Resolution, keypair: &Keypair) -> Result<Self, DisputeMessageError> {
        let bytes = postcard::to_stdvec(resolution)
            .map_err(|e| DisputeMessageError::Internal(e.to_string()))?;
        let (key, signature) = crate::signing::sign(RESOLUTION_SIGNING_TAG, &bytes, keypair)
            .map_err(|e| DisputeMessageError::Internal(e.to_string()))?;
        Ok(Self {
            bytes,
            key,
            signature,
        })
    }

    /// Decodes and verifies: the resolution, who signed it, and the signed form.
    pub fn open(bytes: &[u8]) -> Result<(Resolution, PeerId, Self), DisputeMessageError> {
        let unreadable = |e: String| DisputeMessageError::Unreadable(e);
        let signed: Self = crate::codec::decode_exact(bytes, "resolution").map_err(unreadable)?;
        let signer = crate::signing::verify(
            RESOLUTION_SIGNING_TAG,
            &signed.bytes,
            &signed.key,
            &signed.signature,
        )
        .map_err(|e| unreadable(e.to_string()))?;
        let resolution: Resolution =
            crate::codec::decode_exact(&signed.bytes, "resolution").map_err(unreadable)?;
        Ok((resolution, signer, signed))
    }
}
/// A [`Winner`] in a signed resolution: its name, as a text (the encoding resolutions always had).
mod winner_by_name {
    use serde::{Deserialize, Deserializer, Serializer};

    use super::Winner;

    pub fn serialize<S: Serializer>(winner: &Winner, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(winner.as_str())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Winner, D::Error> {
        let name = String::deserialize(deserializer)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A resolution as it was signed before its winner was typed: the name as a text.
    #[derive(Serialize)]
    struct NamedWinner {
        trade_id: Uuid,
        winner: String,
        buyer_share: u64,
        seller_share: u64,
        reason: String,
        round: u32,
        psbt: Vec<u8>,
    }

    fn named(winner: &str) -> NamedWinner {
        NamedWinner {
            trade_id: Uuid::nil(),
            winner: winner.into(),
            buyer_share: 10,
            seller_share: 0,
            reason: "paid".into(),
            round: 1,
            psbt: vec![1, 2, 3],
        }
    }

    #[test]
    fn a_typed_winner_signs_and_reads_as_the_name_it_always_was() {
        for winner in Winner::ALL {
            let typed = Resolution {
                trade_id: Uuid::nil(),
                winner,
                buyer_share: 10,
                seller_share: 0,
                reason: "paid".into(),
                round: 1,
                psbt: vec![1, 2, 3],
            };
            let old = postcard::to_allocvec(&named(winner.as_str())).unwrap();
            // The same bytes, so every resolution signed before still verifies and decodes.
            assert_eq!(postcard::to_allocvec(&typed).unwrap(), old, "{winner}");
            let read: Resolution = crate::codec::decode_exact(&old, "resolution").unwrap();
            assert_eq!(read, typed);
        }
        // A name that is no winner does not decode at all.
        let both = postcard::to_allocvec(&named("both")).unwrap();
        let refused = crate::codec::decode_exact::<Resolution>(&both, "resolution").unwrap_err();
        assert!(refused.starts_with("resolution"), "{refused}");
        // Its other fields decode, so the name alone is what is refused.
        let buyer = postcard::to_allocvec(&named("buyer")).unwrap();
        assert_eq!(both.len(), buyer.len() - 1);
    }
}
