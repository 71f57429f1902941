//! What Souk asks of a chain: the tip height, a fee rate, the outputs sitting on an escrow script (in a
//! block or still in the mempool), how deep a transaction is, and broadcasting one. [`ChainBackend`] is
//! that question list; [`RpcBackend`] answers it through a Bitcoin Core–compatible JSON-RPC node (Bitcoin
//! Core, Litecoin Core), watching escrows in a watch-only wallet of its own on that node.
//!
//! This module never builds or signs transactions (that is [`crate::escrow`]) and never decides what a
//! trade does with an answer: it reports the chain as the node sees it, and says clearly why when it
//! cannot (node unreachable, wrong credentials, wrong chain, transaction index off, transaction refused).

mod rpc;

use std::{future::Future, path::PathBuf};

use bitcoin::{Amount, FeeRate, OutPoint, Script, ScriptBuf, Transaction, Txid};

pub use rpc::RpcBackend;

use crate::{
    error::ErrorKind,
    escrow::{EscrowInput, Funder},
};

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ChainError {
    #[error("cannot reach the chain node at {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error(
        "the chain node at {url} refused the RPC credentials: check rpc_user and rpc_password, or rpc_cookie_file"
    )]
    Auth { url: String },
    #[error("the chain node at {url} does not allow RPC from this address (its rpcallowip)")]
    Forbidden { url: String },
    #[error("cannot read the RPC cookie file {path}: {reason}")]
    Cookie { path: PathBuf, reason: String },
    #[error("the chain node is still starting: {0}")]
    WarmingUp(String),
    #[error("the chain node is on {node}, but Souk is configured for {expected}")]
    WrongChain { expected: String, node: String },
    #[error("the chain node answered {method} with error {code}: {message}")]
    Rpc {
        method: String,
        code: i64,
        message: String,
    },
    #[error("the chain node sent an unreadable answer to {method}: {reason}")]
    BadResponse { method: String, reason: String },
    #[error(
        "the chain node has no transaction index, so it cannot look up transactions it does not hold: restart it with -txindex=1"
    )]
    TxIndexOff,
    #[error("the chain node refused transaction {txid}: {reason}")]
    Rejected { txid: Txid, reason: String },
    #[error("invalid chain settings: {0}")]
    Config(String),
    #[error(
        "the chain node at {url} has its wallet disabled (-disablewallet): Souk watches escrows in a \
         watch-only wallet of its own there (no keys, no transaction index needed)"
    )]
    WalletDisabled { url: String },
}

impl ChainError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::Unreachable { .. }
            | Self::WarmingUp(_)
            | Self::Rpc { .. }
            | Self::BadResponse { .. } => ErrorKind::Io,
            Self::Auth { .. }
            | Self::Forbidden { .. }
            | Self::Cookie { .. }
            | Self::WrongChain { .. }
            | Self::TxIndexOff
            | Self::Rejected { .. }
            | Self::Config(_)
            | Self::WalletDisabled { .. } => ErrorKind::InvalidInput,
        }
    }
}

/// An unspent output on a watched script, as the chain sees it now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Utxo {
    pub outpoint: OutPoint,
    pub value: Amount,
    /// The block it was mined in; 0 while in the mempool.
    pub height: u64,
    /// 1 when in the tip block, 0 while in the mempool.
    pub confirmations: u32,
}

impl Utxo {
    /// This output as an input of an escrow spend, holding `funder`'s coins (the script it pays to says
    /// whose).
    pub fn input_of(&self, funder: Funder) -> EscrowInput {
        EscrowInput {
            outpoint: self.outpoint,
            value: self.value,
            funder,
        }
    }
}

/// The chain, as the rest of Souk sees it.
pub trait ChainBackend: Send + Sync {
    /// Height of the best block.
    fn tip_height(&self) -> impl Future<Output = Result<u64, ChainError>> + Send;

    /// The fee rate to pay now for confirmation within a couple of blocks, never below the floor the node
    /// and the config set.
    fn fee_rate(&self) -> impl Future<Output = Result<FeeRate, ChainError>> + Send;

    /// Watches `scripts` from now on, coins sent to them since `birth` (unix seconds) included. Asking
    /// again is cheap; a backend that sees every script anyway does nothing.
    fn watch(
        &self,
        scripts: &[ScriptBuf],
        birth: u64,
    ) -> impl Future<Output = Result<(), ChainError>> + Send;

    /// Unspent outputs paying to `script_pubkey`: confirmed ones (still listed while a spend of them
    /// waits in the mempool), then those of transactions in the mempool (`confirmations` 0). A script
    /// not watched yet is watched from now on.
    fn outputs(
        &self,
        script_pubkey: &Script,
    ) -> impl Future<Output = Result<Vec<Utxo>, ChainError>> + Send;

    /// The confirmed ones among [`Self::outputs`]: what an escrow may spend and count.
    fn escrow_utxos(
        &self,
        script_pubkey: &Script,
    ) -> impl Future<Output = Result<Vec<Utxo>, ChainError>> + Send {
        async move {
            let mut utxos = self.outputs(script_pubkey).await?;
            utxos.retain(|u| u.confirmations > 0);
            Ok(utxos)
        }
    }

    /// Checks `tx` against the node's policy, then broadcasts it. Broadcasting a transaction the node
    /// already has is not an error, so a restarted trade can broadcast again.
    fn broadcast(&self, tx: &Transaction) -> impl Future<Output = Result<Txid, ChainError>> + Send;

    /// `None` if the node does not know the transaction, `Some(0)` while it is in the mempool.
    fn confirmations(
        &self,
        txid: &Txid,
    ) -> impl Future<Output = Result<Option<u32>, ChainError>> + Send;
}
