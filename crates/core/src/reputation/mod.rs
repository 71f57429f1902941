//! Reputation from signed trade receipts (docs/protocol.md, "Reputation").
//!
//! When a trade ends, its parties sign one [`Receipt`]: the trade's hash, market, amount bucket, end time,
//! outcome and, for escrow trades, the funding and payout transactions with their block heights. Each node
//! publishes the newest receipts it is a party to (and its ratings) as one signed [`HolderSet`] under
//! [`holder_key`], and announces itself a provider of [`subject_key`] of each of its counterparties and of
//! itself. A node that wants a peer's reputation asks the DHT for the providers of that peer's subject key,
//! reads each provider's set, checks every receipt naming the peer (both signatures, that the holder is a
//! party, the escrow on its own chain) and sums them up ([`summary`]). A receipt a peer leaves out of its
//! own set still reaches readers through its counterparty's.

pub mod check;
pub mod receipt;
pub mod summary;

pub use check::{ReceiptCheck, check_on_chain};
pub use receipt::{
    EscrowProof, HolderSet, Outcome, Rating, Receipt, ReceiptBody, SignedHolderSet, SignedRating,
    TxAt, VerifiedReceipt, bucket_of, bucket_words, holder_key, subject_key, trade_hash,
};
pub use summary::{RatingView, ReceiptView, RefusedReceipt, Reputation, summarize};

#[cfg(test)]
mod tests;
