//! What Souk asks of a chain: the tip height, a fee rate, the outputs sitting on an escrow script (in a
//! block or still in the mempool), how deep a transaction is, and broadcasting one. [`ChainBackend`] is
//! that question list; [`RpcBackend`] answers it through a Bitcoin Core–compatible JSON-RPC node (Bitcoin
//! Core, Litecoin Core), watching escrows in a watch-only wallet of its own on that node.
//!
//! This module never builds or signs transactions (that is [`crate::escrow`]) and never decides what a
//! trade does with an answer: it reports the chain as the node sees it, and says clearly why when it
//! cannot (node unreachable, wrong credentials, wrong chain, transaction index off, transaction refused).

mod electrum;
#[cfg(any(test, feature = "test-hooks"))]
pub mod fake;
mod rpc;
pub mod tls;

use std::{future::Future, path::PathBuf, pin::Pin, sync::Arc};

use bitcoin::{Amount, FeeRate, OutPoint, Script, ScriptBuf, Transaction, Txid};

pub use electrum::ElectrumBackend;
pub use rpc::RpcBackend;

use crate::{
    config::ChainConfig,
    error_kind::ErrorKind,
    escrow::{EscrowInput, Party},
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
        "the Electrum server at {url} showed a certificate Souk does not trust ({reason}); its SHA-256 \
         fingerprint is {fingerprint}. If the server's operator confirms that fingerprint, pin it as \
         electrum_cert_sha256 (Settings, --electrum-cert-sha256)"
    )]
    Certificate {
        url: String,
        fingerprint: String,
        reason: String,
    },
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
            | Self::Certificate { .. }
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
    pub fn input_of(&self, funder: Party) -> EscrowInput {
        EscrowInput {
            outpoint: self.outpoint,
            value: self.value,
            funder,
        }
    }
}

/// The chain, as the rest of Souk sees it.
/// A chain answer on its way: what [`ChainBackend`]'s methods return (boxed, so the trait works as
/// `dyn ChainBackend`: a backend of another kind, or a fake chain in tests, plugs in the same way).
pub type ChainFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, ChainError>> + Send + 'a>>;

pub trait ChainBackend: Send + Sync + std::fmt::Debug {
    /// Height of the best block.
    fn tip_height(&self) -> ChainFuture<'_, u64>;

    /// The fee rate to pay now for confirmation within a couple of blocks, never below the floor the node
    /// and the config set.
    fn fee_rate(&self) -> ChainFuture<'_, FeeRate>;

    /// Watches `scripts` from now on, coins sent to them since `birth` (unix seconds) included. Asking
    /// again is cheap; a backend that sees every script anyway does nothing.
    fn watch<'a>(&'a self, scripts: &'a [ScriptBuf], birth: u64) -> ChainFuture<'a, ()>;

    /// Unspent outputs paying to `script_pubkey`: confirmed ones (still listed while a spend of them
    /// waits in the mempool), then those of transactions in the mempool (`confirmations` 0). A script
    /// not watched yet is watched from now on.
    fn outputs<'a>(&'a self, script_pubkey: &'a Script) -> ChainFuture<'a, Vec<Utxo>>;

    /// The confirmed ones among [`Self::outputs`]: what an escrow may spend and count.
    fn escrow_utxos<'a>(&'a self, script_pubkey: &'a Script) -> ChainFuture<'a, Vec<Utxo>> {
        Box::pin(async move {
            let mut utxos = self.outputs(script_pubkey).await?;
            utxos.retain(|u| u.confirmations > 0);
            Ok(utxos)
        })
    }

    /// Checks `tx` against the node's policy, then broadcasts it. Broadcasting a transaction the node
    /// already has is not an error, so a restarted trade can broadcast again.
    fn broadcast<'a>(&'a self, tx: &'a Transaction) -> ChainFuture<'a, Txid>;

    /// `None` if the node does not know the transaction, `Some(0)` while it is in the mempool.
    fn confirmations<'a>(&'a self, txid: &'a Txid) -> ChainFuture<'a, Option<u32>>;

    /// Any transaction (not only a watched script's) in the block at `height` of the best chain: `None`
    /// when that block does not hold it. What a node uses to check another peer's claim about the chain
    /// (a trade receipt's txids), with no transaction index needed.
    fn transaction_at<'a>(
        &'a self,
        txid: &'a Txid,
        height: u32,
    ) -> ChainFuture<'a, Option<Transaction>> {
        let _ = (txid, height);
        Box::pin(async move {
            Err(ChainError::Config(
                "this chain backend cannot look up other peers' transactions".into(),
            ))
        })
    }
}

/// The backend a node settles on, chosen by its config: an Electrum server when `electrum_url` is set,
/// otherwise a Bitcoin Core / Litecoin Core node over JSON-RPC (escrows watched in a watch-only wallet
/// named `wallet` there). Settlement sees only [`ChainBackend`].
#[derive(Debug)]
pub enum Backend {
    Core(Box<RpcBackend>),
    Electrum(ElectrumBackend),
    /// Not reachable when the node started (offline, warming up): connected at the first question that
    /// finds it up. Until then every question fails with the reason, so the trade engine waits and
    /// concludes nothing.
    Waiting(Box<Waiting>),
    /// Any other backend behind the trait (a fake chain in tests), with where it says it is.
    Custom(Box<Custom>),
}

/// What status and logs show as the place of a backend given by the embedder
/// (`Node::with_chain_backend`).
pub const GIVEN_BACKEND_URL: &str = "a chain backend given by the application";

/// A backend of another kind, as [`Backend::Custom`] holds it.
#[derive(Debug)]
pub struct Custom {
    pub backend: Arc<dyn ChainBackend>,
    pub chain: crate::escrow::Chain,
    pub network: crate::escrow::Network,
    /// Where it is reached, for logs and status.
    pub url: String,
}

/// A backend to connect to later.
#[derive(Debug)]
pub struct Waiting {
    config: ChainConfig,
    wallet: String,
    connected: tokio::sync::OnceCell<Backend>,
}

/// A connected backend, borrowed.
enum Ready<'a> {
    Core(&'a RpcBackend),
    Electrum(&'a ElectrumBackend),
    Custom(&'a dyn ChainBackend),
}

impl Backend {
    /// Connects to the backend `config` names and checks its chain and network.
    pub async fn connect(config: &ChainConfig, wallet: &str) -> Result<Self, ChainError> {
        if config.uses_electrum() {
            Ok(Self::Electrum(ElectrumBackend::connect(config).await?))
        } else {
            let core = RpcBackend::connect_watching(config, wallet).await?;
            Ok(Self::Core(Box::new(core)))
        }
    }

    /// [`Self::connect`], or, when the backend is only unreachable or still starting, a backend that
    /// connects once it answers. Wrong settings (credentials, chain, network) are refused at once.
    pub async fn connect_or_wait(config: &ChainConfig, wallet: &str) -> Result<Self, ChainError> {
        match Self::connect(config, wallet).await {
            Err(e @ (ChainError::Unreachable { .. } | ChainError::WarmingUp(_))) => {
                tracing::warn!(error = %e, "the chain backend is not up: escrow trades wait for it");
                Ok(Self::Waiting(Box::new(Waiting {
                    config: config.clone(),
                    wallet: wallet.to_owned(),
                    connected: tokio::sync::OnceCell::new(),
                })))
            }
            other => other,
        }
    }

    async fn ready(&self) -> Result<Ready<'_>, ChainError> {
        let backend = match self {
            Self::Waiting(w) => {
                w.connected
                    .get_or_try_init(|| async {
                        let backend = Self::connect(&w.config, &w.wallet).await?;
                        tracing::info!(url = %backend.url(), "the chain backend is up");
                        Ok::<_, ChainError>(backend)
                    })
                    .await?
            }
            other => other,
        };
        match backend {
            Self::Core(b) => Ok(Ready::Core(b)),
            Self::Electrum(b) => Ok(Ready::Electrum(b)),
            Self::Custom(c) => Ok(Ready::Custom(c.backend.as_ref())),
            Self::Waiting(_) => Err(ChainError::Config("a backend waiting for a backend".into())),
        }
    }

    /// The Core node, when this is (or will be) the Core backend; `None` for Electrum.
    pub async fn core(&self) -> Result<Option<&RpcBackend>, ChainError> {
        match self.ready().await? {
            Ready::Core(b) => Ok(Some(b)),
            Ready::Electrum(_) | Ready::Custom(_) => Ok(None),
        }
    }

    fn config_url(config: &ChainConfig) -> String {
        if config.uses_electrum() {
            config.electrum_url.trim().to_owned()
        } else {
            config.rpc_url()
        }
    }

    /// Where it is reached, for logs and status.
    pub fn url(&self) -> String {
        match self {
            Self::Core(b) => b.url().to_owned(),
            Self::Electrum(b) => b.url().to_owned(),
            Self::Waiting(w) => Self::config_url(&w.config),
            Self::Custom(c) => c.url.clone(),
        }
    }

    pub fn chain(&self) -> crate::escrow::Chain {
        match self {
            Self::Core(b) => b.chain(),
            Self::Electrum(b) => b.chain(),
            Self::Waiting(w) => w.config.chain,
            Self::Custom(c) => c.chain,
        }
    }

    pub fn network(&self) -> crate::escrow::Network {
        match self {
            Self::Core(b) => b.network(),
            Self::Electrum(b) => b.network(),
            Self::Waiting(w) => w.config.network,
            Self::Custom(c) => c.network,
        }
    }

    /// `core`, `electrum` or `custom`.
    pub fn kind(&self) -> &'static str {
        let electrum = match self {
            Self::Core(_) => false,
            Self::Electrum(_) => true,
            Self::Waiting(w) => w.config.uses_electrum(),
            Self::Custom(_) => return "custom",
        };
        if electrum { "electrum" } else { "core" }
    }

    /// Requests sent so far (0 while waiting).
    pub fn calls_made(&self) -> u64 {
        match self {
            Self::Core(b) => b.calls_made(),
            Self::Electrum(b) => b.calls_made(),
            Self::Waiting(w) => w.connected.get().map_or(0, Self::calls_made),
            Self::Custom(_) => 0,
        }
    }

    /// The fee `txid` pays while it waits in the mempool; `None` when it is not there.
    pub async fn mempool_fee(&self, txid: &Txid) -> Result<Option<Amount>, ChainError> {
        match self.ready().await? {
            Ready::Core(b) => b.mempool_fee(txid).await,
            Ready::Electrum(b) => b.mempool_fee(txid).await,
            // A backend of another kind does not say: fee bumps go by the fee rate alone.
            Ready::Custom(_) => Ok(None),
        }
    }
}

impl ChainBackend for Backend {
    fn tip_height<'a>(&'a self) -> ChainFuture<'a, u64> {
        Box::pin(async move {
            match self.ready().await? {
                Ready::Core(b) => b.tip_height().await,
                Ready::Electrum(b) => b.tip_height().await,
                Ready::Custom(b) => b.tip_height().await,
            }
        })
    }

    fn fee_rate<'a>(&'a self) -> ChainFuture<'a, FeeRate> {
        Box::pin(async move {
            match self.ready().await? {
                Ready::Core(b) => b.fee_rate().await,
                Ready::Electrum(b) => b.fee_rate().await,
                Ready::Custom(b) => b.fee_rate().await,
            }
        })
    }

    fn watch<'a>(&'a self, scripts: &'a [ScriptBuf], birth: u64) -> ChainFuture<'a, ()> {
        Box::pin(async move {
            match self.ready().await? {
                Ready::Core(b) => b.watch(scripts, birth).await,
                Ready::Electrum(b) => b.watch(scripts, birth).await,
                Ready::Custom(b) => b.watch(scripts, birth).await,
            }
        })
    }

    fn outputs<'a>(&'a self, script_pubkey: &'a Script) -> ChainFuture<'a, Vec<Utxo>> {
        Box::pin(async move {
            match self.ready().await? {
                Ready::Core(b) => b.outputs(script_pubkey).await,
                Ready::Electrum(b) => b.outputs(script_pubkey).await,
                Ready::Custom(b) => b.outputs(script_pubkey).await,
            }
        })
    }

    fn broadcast<'a>(&'a self, tx: &'a Transaction) -> ChainFuture<'a, Txid> {
        Box::pin(async move {
            match self.ready().await? {
                Ready::Core(b) => b.broadcast(tx).await,
                Ready::Electrum(b) => b.broadcast(tx).await,
                Ready::Custom(b) => b.broadcast(tx).await,
            }
        })
    }

    fn confirmations<'a>(&'a self, txid: &'a Txid) -> ChainFuture<'a, Option<u32>> {
        Box::pin(async move {
            match self.ready().await? {
                Ready::Core(b) => b.confirmations(txid).await,
                Ready::Electrum(b) => b.confirmations(txid).await,
                Ready::Custom(b) => b.confirmations(txid).await,
            }
        })
    }

    fn transaction_at<'a>(
        &'a self,
        txid: &'a Txid,
        height: u32,
    ) -> ChainFuture<'a, Option<Transaction>> {
        Box::pin(async move {
            match self.ready().await? {
                Ready::Core(b) => b.transaction_at(txid, height).await,
                Ready::Electrum(b) => b.transaction_at(txid, height).await,
                Ready::Custom(b) => b.transaction_at(txid, height).await,
            }
        })
    }
}
