//! The non-custodial escrow of a trade: per-trade keys, the two P2WSH outputs (one per funder) whose
//! scripts are a 2-of-3 multisig (buyer, seller, arbitrator) with a backup arbitrator and the funder's own
//! reclaim behind relative timelocks, payout address checks, and the release/refund PSBTs (BIP-174) the
//! parties build, check, sign, combine and finalise.
//!
//! Everything here is pure: it never talks to a chain node (that is [`crate::chain`]), never reads the
//! clock and never touches the database. Every input a counterparty can influence — their key, their PSBT,
//! their payout address — is checked here with a specific error before it is used or signed.
//!
//! Litecoin uses the same transaction format, script and BIP-143 sighash as Bitcoin, so rust-bitcoin builds
//! and signs for both; only addresses differ, which is why they are encoded here with the `bech32` crate and
//! base58check instead of rust-bitcoin's `Address` (it knows no Litecoin prefixes).

mod address;
mod anchor;
mod deposit;
mod keys;
mod network;
mod script;
mod spend;

pub use crate::protocol::roles::Party;
pub use address::{address_from_script, parse_payout_address};
pub use anchor::{anchor_script, anchor_value, build_child, child_fee, child_vsize, find_anchor};
pub use deposit::min_deposit;
pub use keys::{ESCROW_PURPOSE, trade_index, trade_key_path, trade_keypair};
pub use network::{Chain, ChainParams, Network};
pub use script::{EscrowParties, EscrowScript, SpendPath, Timelocks, TradeEscrow};
pub use spend::{
    CheckedSpend, EscrowInput, MAX_PSBT_BYTES, Payout, SpendPlan, build_spend, check_psbt,
    combine_psbts, decode_psbt, encode_psbt, finalize_psbt, sign_psbt,
};

use crate::error_kind::ErrorKind;

/// Every way an escrow input can be refused. Amounts are in the chain's smallest unit (satoshi/litoshi).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EscrowError {
    #[error("unknown chain `{0}`: use btc or ltc")]
    UnknownChain(String),
    #[error("unknown network `{0}`: use main, test, signet or regtest")]
    UnknownNetwork(String),
    #[error("the {first} and the {second} gave the same escrow key; each party needs its own")]
    DuplicateKey {
        first: &'static str,
        second: &'static str,
    },
    #[error("not a usable escrow public key: {0}")]
    BadKey(String),
    #[error("`{address}` is not a valid address: {reason}")]
    InvalidAddress { address: String, reason: String },
    #[error("`{address}` is {found}, but this trade is on {expected}")]
    WrongNetworkAddress {
        address: String,
        found: String,
        expected: String,
    },
    #[error(
        "`{address}` uses witness version {version}, which this version of Souk does not pay to"
    )]
    UnsupportedWitnessVersion { address: String, version: u8 },
    #[error("this output script has no address form on {0}")]
    NoAddressForm(String),
    #[error(
        "relative timelocks of {backup} and {reclaim} blocks: the backup's must be above 0 and below the reclaim's"
    )]
    BadTimelocks { backup: u16, reclaim: u16 },
    #[error("the escrow has no {0:?} branch (the offer names no backup arbitrator)")]
    NoSuchBranch(SpendPath),
    #[error("a reclaim spends one funder's outputs only: each funder signs for its own")]
    MixedReclaim,
    #[error("the spend has no {0}")]
    Empty(&'static str),
    #[error("output {index} is out of range: the spend has {outputs} outputs")]
    FeePayerOutOfRange { index: usize, outputs: usize },
    #[error("the outputs share out {outputs} but the escrow holds {inputs}: they must be equal")]
    SharesDoNotAddUp { inputs: u64, outputs: u64 },
    #[error("the escrow input {0} is listed twice")]
    DuplicateInput(bitcoin::OutPoint),
    #[error("amounts overflow")]
    AmountOverflow,
    #[error(
        "the fee of {fee} does not fit in output {index} ({amount}): it would leave less than the dust limit of {dust}"
    )]
    FeeDoesNotFit {
        index: usize,
        amount: u64,
        fee: u64,
        dust: u64,
    },
    #[error("output {index} pays {amount}, below the dust limit of {dust} for its script")]
    Dust {
        index: usize,
        amount: u64,
        dust: u64,
    },
    #[error("this key is none of the escrow's three keys, so it cannot sign for it")]
    NotAParty,
    #[error("input {input}: {reason}")]
    BadInput { input: usize, reason: String },
    #[error("input {input} has {have} valid signature(s); a release needs 2 of the 3 keys")]
    NotEnoughSignatures { input: usize, have: usize },
    #[error("input {input}: the signature for key {key} does not verify")]
    BadSignature { input: usize, key: String },
    #[error("the two PSBTs are for different transactions")]
    DifferentTransactions,
    #[error("not a valid PSBT: {0}")]
    MalformedPsbt(String),
    // What `check_psbt` refuses: a PSBT the counterparty built that is not the agreed spend.
    #[error("the PSBT spends {0}, which is not one of the escrow's outputs")]
    ForeignInput(bitcoin::OutPoint),
    #[error("the PSBT does not spend the escrow output {0}")]
    MissingInput(bitcoin::OutPoint),
    #[error("the PSBT has {got} outputs; the agreed spend has {expected}")]
    OutputCount { expected: usize, got: usize },
    #[error("output {index} pays to script {got}, not to the agreed {expected}")]
    OutputScript {
        index: usize,
        expected: String,
        got: String,
    },
    #[error("output {index} pays {got}; the agreed amount is {expected}")]
    OutputAmount {
        index: usize,
        expected: u64,
        got: u64,
    },
    #[error(
        "the fee is {fee} ({vsize} vB), above the limit of {limit} at the highest accepted fee rate"
    )]
    FeeAboveLimit { fee: u64, limit: u64, vsize: u64 },
    #[error("the transaction would not be final: {0}")]
    NotFinal(String),
    #[error("escrow key derivation failed: {0}")]
    Internal(String),
}

impl EscrowError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::Internal(_) => ErrorKind::Internal,
            _ => ErrorKind::InvalidInput,
        }
    }
}
