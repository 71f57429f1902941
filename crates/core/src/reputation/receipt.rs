//! The signed pieces of reputation: a trade receipt both parties sign, a party's rating of a trade, and
//! the set of receipts and ratings a node publishes in the DHT.

use libp2p::{PeerId, identity::Keypair};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::{
    codec::decode_exact,
    protocol::roles::{Party, Winner},
    signing,
};

/// Signature domains: a receipt (both parties sign the same body), a rating, a published set.
pub const RECEIPT_SIGNING_TAG: &[u8] = b"souk/receipt/v1\0";
pub const RATING_SIGNING_TAG: &[u8] = b"souk/rating/v1\0";
pub const SET_SIGNING_TAG: &[u8] = b"souk/receipt-set/v1\0";
const TRADE_HASH_TAG: &[u8] = b"souk/receipt/v1/trade\0";
const SUBJECT_KEY_TAG: &[u8] = b"souk/reputation/v1/subject\0";
const HOLDER_KEY_TAG: &[u8] = b"souk/reputation/v1/holder\0";

/// Largest receipt body.
pub const MAX_BODY_BYTES: usize = 1024;
/// Longest rating comment, in bytes of UTF-8.
pub const MAX_COMMENT_BYTES: usize = 140;
/// At most this many funding and payout transactions per receipt.
pub const MAX_TXS: usize = 4;
/// A published set holds at most this many receipts (the newest) and ratings; it must also fit a DHT
/// record (16 KiB by default). Older receipts stay in the counterparties' sets.
pub const MAX_SET_RECEIPTS: usize = 32;
pub const MAX_SET_RATINGS: usize = 32;
/// Largest published set on the wire.
pub const MAX_SET_BYTES: usize = 16 * 1024;
/// A set claiming to be from further in the future than this is refused.
const MAX_CLOCK_SKEW_MS: i64 = 10 * 60 * 1000;

/// The hash a receipt carries instead of the trade id: the receipt proves a trade without naming it.
pub fn trade_hash(trade_id: &Uuid) -> [u8; 32] {
    Sha256::new()
        .chain_update(TRADE_HASH_TAG)
        .chain_update(trade_id.as_bytes())
        .finalize()
        .into()
}

/// The DHT key every node holding receipts about `peer` announces itself a provider of.
pub fn subject_key(peer: &PeerId) -> Vec<u8> {
    Sha256::new()
        .chain_update(SUBJECT_KEY_TAG)
        .chain_update(peer.to_bytes())
        .finalize()
        .to_vec()
}

/// The DHT key of the set `holder` publishes.
pub fn holder_key(holder: &PeerId) -> Vec<u8> {
    Sha256::new()
        .chain_update(HOLDER_KEY_TAG)
        .chain_update(holder.to_bytes())
        .finalize()
        .to_vec()
}

/// How a trade ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    /// The seller was paid and the buyer got the coins.
    Completed,
    /// Cancelled or expired after the escrow was funded: each funder got its coins back.
    Refunded,
    /// An arbitrator decided: who opened the dispute, and for whom it was decided.
    Resolved { disputed_by: Party, decided: Winner },
}

/// One transaction and the height of the block holding it: enough for any node to find it on the chain,
/// even a pruned node without a transaction index (`getblockhash` + `getrawtransaction … blockhash`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxAt {
    pub txid: [u8; 32],
    pub height: u32,
}

/// The escrow's transactions: what funded it, and what paid it out (the release, the resolution's payout
/// or the returns). Every payout spends a funding output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EscrowProof {
    pub chain: crate::escrow::Chain,
    pub network: crate::escrow::Network,
    pub funding: Vec<TxAt>,
    pub payouts: Vec<TxAt>,
}

/// What both parties sign when a trade ends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptBody {
    pub version: u8,
    /// [`trade_hash`] of the trade id.
    pub trade: [u8; 32],
    /// The parties' ed25519 keys (protobuf): the PeerIds derive from them.
    pub maker_key: Vec<u8>,
    pub taker_key: Vec<u8>,
    /// Whether the maker sold the coins (and the taker bought them).
    pub maker_party: Party,
    pub base: String,
    pub quote: String,
    /// The amount's order of magnitude: `10^bucket ≤ amount < 10^(bucket+1)` base units.
    pub bucket: u8,
    /// When the trade ended (unix ms, rounded down to the hour).
    pub ended_at: i64,
    pub outcome: Outcome,
    /// For escrow trades, what anyone can check on the chain.
    pub escrow: Option<EscrowProof>,
}

/// A receipt with both parties' signatures over its body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    pub body: Vec<u8>,
    pub maker_signature: Vec<u8>,
    pub taker_signature: Vec<u8>,
}

/// A receipt whose signatures verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedReceipt {
    pub id: [u8; 32],
    pub body: ReceiptBody,
    pub maker: PeerId,
    pub taker: PeerId,
    pub receipt: Receipt,
}

/// The order of magnitude of an amount, in base units.
pub fn bucket_of(amount: u64) -> u8 {
    u8::try_from(amount.max(1).ilog10()).unwrap_or(u8::MAX)
}

/// The bucket as a person reads it, in coins (8 decimals): "0.1–1", "1–10", "≥ 100".
pub fn bucket_words(bucket: u8) -> String {
    let coin = |exp: i32| {
        let v = 10f64.powi(exp - 8);
        if v >= 1.0 {
            format!("{v:.0}")
        } else {
            let s = format!("{v:.8}");
            s.trim_end_matches('0').to_owned()
        }
    };
    let low = i32::from(bucket);
    format!("{}–{}", coin(low), coin(low + 1))
}

impl ReceiptBody {
    pub fn encode(&self) -> Vec<u8> {
        postcard::to_stdvec(self).unwrap_or_default()
    }

    /// Strict decoding and the checks that need no signature: version, sizes, distinct parties.
    pub fn decode(bytes: &[u8]) -> Result<Self, String> {
        if bytes.len() > MAX_BODY_BYTES {
            return Err(format!(
                "a receipt of {} bytes; at most {MAX_BODY_BYTES}",
                bytes.len()
            ));
        }
        let body: Self = decode_exact(bytes, "receipt")?;
        if body.version != 1 {
            return Err(format!("receipt version {} is not known", body.version));
        }
        if body.maker_key == body.taker_key {
            return Err("a receipt whose maker is its taker".into());
        }
        if let Some(escrow) = &body.escrow {
            if escrow.funding.is_empty() {
                return Err("an escrow receipt without its funding".into());
            }
            if escrow.funding.len() > MAX_TXS || escrow.payouts.len() > MAX_TXS {
                return Err(format!(
                    "a receipt with more than {MAX_TXS} funding or payout transactions"
                ));
            }
        }
        if matches!(body.outcome, Outcome::Refunded) && body.escrow.is_none() {
            return Err("a refund without an escrow".into());
        }
        Ok(body)
    }

    /// The PeerId of the party playing `party` in the trade.
    pub fn party_of(&self, party: Party) -> Result<PeerId, String> {
        let key = if party == self.maker_party {
            &self.maker_key
        } else {
            &self.taker_key
        };
        peer_of(key)
    }
}

fn peer_of(key: &[u8]) -> Result<PeerId, String> {
    libp2p::identity::PublicKey::try_decode_protobuf(key)
        .map(|k| k.to_peer_id())
        .map_err(|e| format!("a party's key: {e}"))
}

/// Signs a receipt body as one of its parties.
pub fn sign_body(body: &[u8], keypair: &Keypair) -> Result<Vec<u8>, String> {
    signing::sign(RECEIPT_SIGNING_TAG, body, keypair)
        .map(|(_, signature)| signature)
        .map_err(|e| e.to_string())
}

/// Whether `signature` is `key`'s over `body`.
pub fn check_signature(body: &[u8], key: &[u8], signature: &[u8]) -> Result<(), String> {
    signing::verify(RECEIPT_SIGNING_TAG, body, key, signature)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

impl Receipt {
    /// The receipt's id: the hash of its body.
    pub fn id(&self) -> [u8; 32] {
        Sha256::digest(&self.body).into()
    }

    /// The body, and both signatures: the maker's and the taker's, each by the key the body names.
    pub fn verify(&self) -> Result<VerifiedReceipt, String> {
        let body = ReceiptBody::decode(&self.body)?;
        if self.maker_signature.is_empty() || self.taker_signature.is_empty() {
            return Err("signed by one party only".into());
        }
        check_signature(&self.body, &body.maker_key, &self.maker_signature)
            .map_err(|e| format!("the maker's signature: {e}"))?;
        check_signature(&self.body, &body.taker_key, &self.taker_signature)
            .map_err(|e| format!("the taker's signature: {e}"))?;
        Ok(VerifiedReceipt {
            id: self.id(),
            maker: peer_of(&body.maker_key)?,
            taker: peer_of(&body.taker_key)?,
            body,
            receipt: self.clone(),
        })
    }
}

impl VerifiedReceipt {
    /// Whether `peer` is one of the parties.
    pub fn names(&self, peer: &PeerId) -> bool {
        self.maker == *peer || self.taker == *peer
    }

    /// The other party.
    pub fn counterparty_of(&self, peer: &PeerId) -> PeerId {
        if self.maker == *peer {
            self.taker
        } else {
            self.maker
        }
    }

    /// Which side `peer` was on (it must be a party).
    pub fn party_of(&self, peer: &PeerId) -> Party {
        if self.maker == *peer {
            self.body.maker_party
        } else {
            self.body.maker_party.other()
        }
    }
}

/// A party's rating of a trade: 1–5 stars and a short comment, about its counterparty.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rating {
    /// The rated receipt's id.
    pub receipt: [u8; 32],
    pub stars: u8,
    pub comment: String,
    pub at: i64,
}

/// A rating with the rater's key and signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedRating {
    pub bytes: Vec<u8>,
    pub key: Vec<u8>,
    pub signature: Vec<u8>,
}

impl Rating {
    /// Stars in 1–5 and a comment of at most [`MAX_COMMENT_BYTES`] without control characters.
    pub fn check(&self) -> Result<(), String> {
        if !(1..=5).contains(&self.stars) {
            return Err(format!("{} stars; a rating gives 1 to 5", self.stars));
        }
        if self.comment.len() > MAX_COMMENT_BYTES {
            return Err(format!(
                "a comment of {} bytes; at most {MAX_COMMENT_BYTES}",
                self.comment.len()
            ));
        }
        if self.comment.chars().any(char::is_control) {
            return Err("a comment with control characters".into());
        }
        Ok(())
    }

    pub fn sign(&self, keypair: &Keypair) -> Result<SignedRating, String> {
        self.check()?;
        let bytes = postcard::to_stdvec(self).map_err(|e| e.to_string())?;
        let (key, signature) =
            signing::sign(RATING_SIGNING_TAG, &bytes, keypair).map_err(|e| e.to_string())?;
        Ok(SignedRating {
            bytes,
            key,
            signature,
        })
    }
}

impl SignedRating {
    /// The rating and its rater.
    pub fn verify(&self) -> Result<(Rating, PeerId), String> {
        let rater = signing::verify(RATING_SIGNING_TAG, &self.bytes, &self.key, &self.signature)
            .map_err(|e| format!("a rating's signature: {e}"))?;
        let rating: Rating = decode_exact(&self.bytes, "rating")?;
        rating.check()?;
        Ok((rating, rater))
    }
}

/// What a node publishes under [`holder_key`]: the newest receipts it is a party to, and its ratings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HolderSet {
    pub holder: Vec<u8>,
    pub published_at: i64,
    /// The name the holder chose to be shown with (empty: none); see
    /// [`crate::preferences::nickname_problem`].
    pub nickname: String,
    pub receipts: Vec<Receipt>,
    pub ratings: Vec<SignedRating>,
}

/// A set with its holder's signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedHolderSet {
    pub bytes: Vec<u8>,
    pub key: Vec<u8>,
    pub signature: Vec<u8>,
}

impl HolderSet {
    pub fn sign(&self, keypair: &Keypair) -> Result<Vec<u8>, String> {
        let bytes = postcard::to_stdvec(self).map_err(|e| e.to_string())?;
        let (key, signature) =
            signing::sign(SET_SIGNING_TAG, &bytes, keypair).map_err(|e| e.to_string())?;
        let out = postcard::to_stdvec(&SignedHolderSet {
            bytes,
            key,
            signature,
        })
        .map_err(|e| e.to_string())?;
        if out.len() > MAX_SET_BYTES {
            return Err(format!(
                "a set of {} bytes; at most {MAX_SET_BYTES}",
                out.len()
            ));
        }
        Ok(out)
    }
}

impl SignedHolderSet {
    /// Size, strict decoding, the holder's signature and the caps; the receipts in it are checked one by
    /// one by whoever reads them (a bad one is counted against the peer it is about, not dropped
    /// silently). Returns the holder and its set.
    pub fn verify(bytes: &[u8], now: i64) -> Result<(PeerId, HolderSet), String> {
        if bytes.len() > MAX_SET_BYTES {
            return Err(format!(
                "a receipt set of {} bytes; at most {MAX_SET_BYTES}",
                bytes.len()
            ));
        }
        let signed: Self = decode_exact(bytes, "receipt set")?;
        let signer = signing::verify(
            SET_SIGNING_TAG,
            &signed.bytes,
            &signed.key,
            &signed.signature,
        )
        .map_err(|e| format!("a receipt set's signature: {e}"))?;
        let set: HolderSet = decode_exact(&signed.bytes, "receipt set")?;
        let holder = PeerId::from_bytes(&set.holder).map_err(|e| format!("holder: {e}"))?;
        if holder != signer {
            return Err(format!("a receipt set of {holder} signed by {signer}"));
        }
        if set.receipts.len() > MAX_SET_RECEIPTS || set.ratings.len() > MAX_SET_RATINGS {
            return Err(format!(
                "a receipt set with {} receipts and {} ratings; at most {MAX_SET_RECEIPTS} and \
                 {MAX_SET_RATINGS}",
                set.receipts.len(),
                set.ratings.len()
            ));
        }
        if let Some(problem) = crate::preferences::nickname_problem(&set.nickname) {
            return Err(problem);
        }
        if set.published_at > now.saturating_add(MAX_CLOCK_SKEW_MS) {
            return Err("a receipt set from the future".into());
        }
        Ok((holder, set))
    }
}
