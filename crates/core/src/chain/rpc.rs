//! [`ChainBackend`] over Bitcoin Core's JSON-RPC, which Litecoin Core speaks unchanged.
//!
//! Node requirements: `-server=1` with an RPC user/password or cookie, and wallet support (the default).
//! No transaction index is needed and a pruned node works: Souk keeps a watch-only wallet of its own on
//! the node (no private keys, created at connect), imports each escrow script into it with a rescan
//! from the trade's start (`importdescriptors` with an `addr(…)` descriptor in a descriptor wallet, what
//! Bitcoin Core ≥ 23 creates; `importmulti` watch-only in a legacy wallet, the only kind Debian's Litecoin
//! Core has), and then asks only about its own transactions:
//! - the outputs on a script: `listreceivedbyaddress` names the wallet's transactions paying to it,
//!   `gettransaction` gives each once (kept), and `gettxout` says which outputs are unspent, confirmed or
//!   in the mempool. A watcher pass therefore costs a few calls per trade, whatever the size of the UTXO
//!   set (see `cargo xtask bench`, "watcher pass");
//! - confirmations: `gettransaction` (the wallet holds every transaction that pays to or spends a watched
//!   script), checked against the mempool while unconfirmed, so a dropped transaction reads as unknown.
//!
//! A backend made by [`RpcBackend::connect`] alone has no wallet (a connection test, or a node started
//! with `-disablewallet`): it falls back to `scantxoutset` (a scan of the whole UTXO set: minutes on
//! mainnet) and `getrawtransaction` (needs `-txindex=1` for confirmed transactions).
//! `estimatesmartfee` has no data on a fresh chain (always on regtest): the configured floor is used then.
//!
//! This file holds the backend, its construction and the check of the node's chain, and the
//! [`ChainBackend`] answers; [`transport`] the JSON-RPC calls and their credentials, [`wallet`] the
//! watch-only wallet, [`lookups`] what is asked of the node itself (UTXO set, mempool, raw transactions).

mod lookups;
mod transport;
mod wallet;

use std::{
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};

use bitcoin::{
    Amount, FeeRate, Script, ScriptBuf, Transaction, Txid, consensus::encode::serialize_hex,
};
use serde_json::{Value, json};

use super::{ChainBackend, ChainError, ChainFuture, Utxo};
use crate::{
    config::ChainConfig,
    escrow::{Chain, ChainParams, Network},
};
use transport::read_cookie;
use wallet::Watch;

/// Genesis block hashes Souk knows, to tell a Bitcoin node from a Litecoin one (their `getblockchaininfo`
/// look the same). A node whose genesis is not listed (a custom signet) is judged by its network alone.
pub(super) const GENESIS: &[(&str, Chain, Network)] = &[
    (
        "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f",
        Chain::Btc,
        Network::Main,
    ),
    (
        "000000000933ea01ad0ee984209779baaef3ee3fe9c1a3f0e7fb9be3ee3b9da9",
        Chain::Btc,
        Network::Test,
    ),
    (
        "00000008819873e925422c1ff0f99f7cc9bbb232af63a077a480a3633bee1ef6",
        Chain::Btc,
        Network::Signet,
    ),
    (
        "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206",
        Chain::Btc,
        Network::Regtest,
    ),
    (
        "12a765e31ffd4059bada1e25190f6e98c99d9714d334efa41a195a7e7e04bfe2",
        Chain::Ltc,
        Network::Main,
    ),
    (
        "4966625a4b2851d9fdee139e56211a0d88575f59ed816ff5e6a63deb4e3e29a0",
        Chain::Ltc,
        Network::Test,
    ),
    (
        "530827f38f93b43ed12af0b3ad25a288dc02ed74d6d7857862df51fc56c416f9",
        Chain::Ltc,
        Network::Regtest,
    ),
];
/// Blocks `estimatesmartfee` aims to confirm within.
const FEE_TARGET_BLOCKS: u32 = 2;
/// Reject reasons of `testmempoolaccept` that mean the node already has the transaction.
const ALREADY_KNOWN: &[&str] = &["txn-already-in-mempool", "txn-already-known"];
/// RPC error codes of Bitcoin Core (`src/rpc/protocol.h`).
const RPC_IN_WARMUP: i64 = -28;
const RPC_INVALID_ADDRESS_OR_KEY: i64 = -5;
const RPC_METHOD_NOT_FOUND: i64 = -32601;
const RPC_VERIFY_ALREADY_IN_CHAIN: i64 = -27;
const RPC_INVALID_PARAMETER: i64 = -8;
const RPC_WALLET_ERROR: i64 = -4;
const RPC_WALLET_NOT_FOUND: i64 = -18;
const RPC_WALLET_NOT_SPECIFIED: i64 = -19;
/// How often a scan waiting for another client's `scantxoutset` to finish asks again.
const SCAN_RETRY: Duration = Duration::from_millis(25);

/// A Bitcoin Core or Litecoin Core node over JSON-RPC, checked at connect time to be on the configured
/// chain and network.
#[derive(Debug)]
pub struct RpcBackend {
    client: reqwest::Client,
    url: String,
    auth: Option<(String, String)>,
    chain: Chain,
    network: Network,
    fee_floor: FeeRate,
    /// `None` when the node cannot say (no `getindexinfo` before Core 0.21).
    txindex: Option<bool>,
    next_id: AtomicU64,
    /// The node runs one `scantxoutset` at a time: this backend's scans queue here, and a scan by another
    /// client is waited out (up to the RPC timeout).
    scan: tokio::sync::Mutex<()>,
    timeout: Duration,
    /// The watch-only wallet escrows are watched in; `None`: scan the UTXO set instead.
    wallet: Option<Watch>,
}

impl RpcBackend {
    /// Connects, authenticates and checks that the node is on `config.chain`/`config.network`.
    pub async fn connect(config: &ChainConfig) -> Result<Self, ChainError> {
        let mut backend = Self::new(config)?;
        backend.check_chain().await?;
        backend.txindex = backend.read_txindex().await?;
        Ok(backend)
    }

    fn new(config: &ChainConfig) -> Result<Self, ChainError> {
        let url = config.rpc_url();
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(ChainError::Config(format!(
                "rpc_url `{url}` must start with http:// or https://"
            )));
        }
        let auth = match &config.rpc_cookie_file {
            Some(path) => Some(read_cookie(path)?),
            None if !config.rpc_user.is_empty() => {
                Some((config.rpc_user.clone(), config.rpc_password.clone()))
            }
            None => None,
        };
        let fee_floor =
            FeeRate::from_sat_per_vb(config.fee_floor_sat_vb.max(1)).ok_or_else(|| {
                ChainError::Config(format!(
                    "fee_floor_sat_vb {} is too large",
                    config.fee_floor_sat_vb
                ))
            })?;
        let timeout = Duration::from_secs(config.rpc_timeout_secs.max(1));
        let mut client = reqwest::Client::builder();
        if let Some(proxy) = config.proxy {
            // `socks5h`: the proxy resolves the node's name (an onion address has no other way).
            let proxy = reqwest::Proxy::all(format!("socks5h://{proxy}"))
                .map_err(|e| ChainError::Config(format!("the proxy {proxy}: {e}")))?;
            client = client.proxy(proxy);
        }
        let client = client
            .timeout(timeout)
            // Below Core's `-rpcservertimeout` (30 s), so a connection the node closed is never reused.
            .pool_idle_timeout(Duration::from_secs(20))
            .user_agent(concat!("souk/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ChainError::Config(format!("HTTP client: {e}")))?;
        Ok(Self {
            client,
            url,
            auth,
            chain: config.chain,
            network: config.network,
            fee_floor,
            txindex: None,
            next_id: AtomicU64::new(1),
            scan: tokio::sync::Mutex::new(()),
            timeout,
            wallet: None,
        })
    }

    /// JSON-RPC calls sent so far.
    pub fn calls_made(&self) -> u64 {
        self.next_id.load(Ordering::Relaxed) - 1
    }

    /// Whether the node prunes old blocks (fine for Souk: escrows are watched from their start on).
    pub async fn pruned(&self) -> Result<bool, ChainError> {
        let info = self.call("getblockchaininfo", json!([])).await?;
        Ok(info.get("pruned").and_then(Value::as_bool).unwrap_or(false))
    }

    pub fn chain(&self) -> Chain {
        self.chain
    }

    pub fn network(&self) -> Network {
        self.network
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Whether the node keeps a transaction index; `None` when it cannot say (before Core 0.21).
    pub fn txindex(&self) -> Option<bool> {
        self.txindex
    }

    fn bad(method: &str, reason: impl Into<String>) -> ChainError {
        ChainError::BadResponse {
            method: method.to_owned(),
            reason: reason.into(),
        }
    }

    async fn check_chain(&self) -> Result<(), ChainError> {
        let expected = ChainParams::of(self.chain, self.network).describe();
        let info = self.call("getblockchaininfo", json!([])).await?;
        let node_chain = info
            .get("chain")
            .and_then(Value::as_str)
            .ok_or_else(|| Self::bad("getblockchaininfo", "no `chain` field"))?;
        let genesis = self.call("getblockhash", json!([0])).await?;
        let genesis = genesis
            .as_str()
            .ok_or_else(|| Self::bad("getblockhash", "not a block hash"))?;
        if let Some((_, chain, network)) = GENESIS.iter().find(|(hash, ..)| *hash == genesis)
            && (*chain, *network) != (self.chain, self.network)
        {
            return Err(ChainError::WrongChain {
                expected,
                node: ChainParams::of(*chain, *network).describe(),
            });
        }
        let node_network = match node_chain {
            "main" => Some(Network::Main),
            "test" | "testnet4" => Some(Network::Test),
            "signet" => Some(Network::Signet),
            "regtest" => Some(Network::Regtest),
            _ => None,
        };
        if node_network != Some(self.network) {
            return Err(ChainError::WrongChain {
                expected,
                node: format!("its `{node_chain}` network"),
            });
        }
        Ok(())
    }

    async fn read_txindex(&self) -> Result<Option<bool>, ChainError> {
        match self.call("getindexinfo", json!([])).await {
            Ok(info) => Ok(Some(info.get("txindex").is_some())),
            Err(ChainError::Rpc { code, .. }) if code == RPC_METHOD_NOT_FOUND => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn amount(method: &str, value: Option<&Value>) -> Result<Amount, ChainError> {
        let coins = value
            .and_then(Value::as_f64)
            .ok_or_else(|| Self::bad(method, "missing amount"))?;
        Amount::from_btc(coins).map_err(|e| Self::bad(method, format!("amount {coins}: {e}")))
    }
}

/// A coin-per-kvB rate (what Core reports) as a [`FeeRate`], rounded up to the next sat/kwu.
fn rate_from_coin_per_kvb(method: &str, value: Option<&Value>) -> Result<FeeRate, ChainError> {
    let per_kvb = RpcBackend::amount(method, value)?.to_sat();
    Ok(FeeRate::from_sat_per_kwu(per_kvb.div_ceil(4)))
}

impl ChainBackend for RpcBackend {
    fn tip_height<'a>(&'a self) -> ChainFuture<'a, u64> {
        Box::pin(async move {
            self.call("getblockcount", json!([]))
                .await?
                .as_u64()
                .ok_or_else(|| Self::bad("getblockcount", "not a height"))
        })
    }

    fn fee_rate<'a>(&'a self) -> ChainFuture<'a, FeeRate> {
        Box::pin(async move {
            let estimate = self
                .call("estimatesmartfee", json!([FEE_TARGET_BLOCKS]))
                .await?;
            // No `feerate` (only `errors`) means no estimate yet: fall back to the floor.
            let estimated = match estimate.get("feerate") {
                Some(v) => Some(rate_from_coin_per_kvb("estimatesmartfee", Some(v))?),
                None => None,
            };
            let mempool = self.call("getmempoolinfo", json!([])).await?;
            let mempool_min = match mempool.get("mempoolminfee") {
                Some(v) => rate_from_coin_per_kvb("getmempoolinfo", Some(v))?,
                None => FeeRate::ZERO,
            };
            Ok(estimated
                .unwrap_or(self.fee_floor)
                .max(self.fee_floor)
                .max(mempool_min))
        })
    }

    fn watch<'a>(&'a self, scripts: &'a [ScriptBuf], birth: u64) -> ChainFuture<'a, ()> {
        Box::pin(async move { self.import(scripts, birth).await })
    }

    fn outputs<'a>(&'a self, script_pubkey: &'a Script) -> ChainFuture<'a, Vec<Utxo>> {
        Box::pin(async move {
            match &self.wallet {
                Some(watch) => {
                    // Watched from now on if no one asked before (callers name the trade's start).
                    let now = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map_or(0, |d| d.as_secs());
                    self.import(&[script_pubkey.to_owned()], now).await?;
                    self.wallet_utxos(watch, script_pubkey).await
                }
                None => self.scan_utxos(script_pubkey).await,
            }
        })
    }
    fn broadcast<'a>(&'a self, tx: &'a Transaction) -> ChainFuture<'a, Txid> {
        Box::pin(async move {
            let txid = tx.compute_txid();
            let hex = serialize_hex(tx);
            let verdicts = self.call("testmempoolaccept", json!([[hex]])).await?;
            let verdict = verdicts
                .get(0)
                .ok_or_else(|| Self::bad("testmempoolaccept", "an empty answer"))?;
            if verdict.get("allowed").and_then(Value::as_bool) != Some(true) {
                let reason = verdict
                    .get("reject-reason")
                    .and_then(Value::as_str)
                    .unwrap_or("no reason given");
                if ALREADY_KNOWN.contains(&reason) {
                    return Ok(txid);
                }
                return Err(ChainError::Rejected {
                    txid,
                    reason: reason.to_owned(),
                });
            }
            match self.call("sendrawtransaction", json!([hex])).await {
                Ok(_) => Ok(txid),
                Err(ChainError::Rpc { code, .. }) if code == RPC_VERIFY_ALREADY_IN_CHAIN => {
                    Ok(txid)
                }
                // Accepted a moment ago, refused now (a conflicting spend arrived in between).
                Err(ChainError::Rpc { code, message, .. }) if (-26..=-25).contains(&code) => {
                    Err(ChainError::Rejected {
                        txid,
                        reason: message,
                    })
                }
                Err(e) => Err(e),
            }
        })
    }

    fn confirmations<'a>(&'a self, txid: &'a Txid) -> ChainFuture<'a, Option<u32>> {
        Box::pin(async move {
            if self.wallet.is_none() {
                return self.raw_confirmations(txid).await;
            }
            match self.wallet_confirmations(txid).await? {
                Some(known) => Ok(known),
                // Every transaction paying to or spending a watched script is in the wallet: one that is
                // not is either waiting in the mempool or unknown to this chain — or just mined, out of the
                // mempool already while the wallet has not caught up with the block yet (the node tells
                // its wallet asynchronously). The UTXO set has it at once: its first output, unspent.
                None if self.in_mempool(txid).await? => Ok(Some(0)),
                None => self.just_mined(txid).await,
            }
        })
    }

    fn transaction_at<'a>(
        &'a self,
        txid: &'a Txid,
        height: u32,
    ) -> ChainFuture<'a, Option<Transaction>> {
        Box::pin(self.transaction_in_block(txid, height))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(url: &str) -> ChainConfig {
        ChainConfig {
            chain: Chain::Ltc,
            network: Network::Regtest,
            rpc_url: url.into(),
            rpc_user: "u".into(),
            rpc_password: "p".into(),
            ..ChainConfig::default()
        }
    }

    #[test]
    fn core_fee_rates_convert_rounding_up() {
        let rate = |v: f64| rate_from_coin_per_kvb("m", Some(&json!(v))).unwrap();
        // 0.00001 coin/kvB = 1,000 sat/kvB = 1 sat/vB = 250 sat/kwu.
        assert_eq!(rate(0.00001), FeeRate::from_sat_per_vb_u32(1));
        assert_eq!(rate(0.00001001).to_sat_per_kwu(), 251);
        assert_eq!(rate(0.0002).to_sat_per_vb_ceil(), 20);
        assert!(rate_from_coin_per_kvb("m", Some(&json!("x"))).is_err());
        assert!(rate_from_coin_per_kvb("m", Some(&json!(-1.0))).is_err());
    }

    #[test]
    fn bad_settings_are_refused_before_any_call() {
        let err = RpcBackend::new(&config("127.0.0.1:19443"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("http://"), "{err}");
        let mut with_cookie = config("");
        with_cookie.rpc_cookie_file = Some("/nonexistent/.cookie".into());
        assert!(matches!(
            RpcBackend::new(&with_cookie).unwrap_err(),
            ChainError::Cookie { .. }
        ));
        assert_eq!(
            RpcBackend::new(&config("")).unwrap().url(),
            "http://127.0.0.1:19443/"
        );
    }

    #[tokio::test]
    async fn a_closed_port_is_reported_unreachable() {
        // A port that was free a moment ago: nothing listens there.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = format!("http://127.0.0.1:{port}/");
        let err = RpcBackend::connect(&config(&url)).await.unwrap_err();
        assert!(matches!(err, ChainError::Unreachable { .. }), "{err}");
        assert!(err.to_string().contains(&url), "{err}");
    }
}
