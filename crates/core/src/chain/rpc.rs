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

use std::{
    collections::{HashMap, HashSet},
    str::FromStr,
    sync::{
        Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use bitcoin::{
    Amount, FeeRate, OutPoint, Script, ScriptBuf, Transaction, TxOut, Txid,
    consensus::encode::serialize_hex, hex::DisplayHex,
};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ChainBackend, ChainError, Utxo};
use crate::{
    config::ChainConfig,
    escrow::{Chain, ChainParams, Network, address_from_script},
};

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

/// Souk's watch-only wallet on the node, and what this process already knows of it.
#[derive(Debug)]
struct Watch {
    name: String,
    /// `{url}/wallet/{name}`.
    url: String,
    /// Scripts known to be imported (checked or imported since this process started).
    watched: Mutex<HashSet<ScriptBuf>>,
    /// The outputs of each wallet transaction read so far (a txid's outputs never change).
    outputs: Mutex<HashMap<Txid, Vec<TxOut>>>,
    /// Whether it is a descriptor wallet (Bitcoin Core ≥ 23 makes those; Debian's Litecoin Core only
    /// legacy ones), once asked.
    descriptors: Mutex<Option<bool>>,
}

#[derive(Deserialize)]
struct RpcReply {
    #[serde(default)]
    result: Value,
    #[serde(default)]
    error: Option<RpcErrorObject>,
}

#[derive(Deserialize)]
struct RpcErrorObject {
    code: i64,
    message: String,
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
        let client = reqwest::Client::builder()
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

    /// [`Self::connect`], then opens (loading or creating) the watch-only wallet `wallet` on the node,
    /// in which escrow scripts are watched from then on. A node without wallet support is refused with
    /// its reason.
    pub async fn connect_watching(config: &ChainConfig, wallet: &str) -> Result<Self, ChainError> {
        let mut backend = Self::connect(config).await?;
        if wallet.is_empty()
            || wallet
                .chars()
                .any(|c| !(c.is_ascii_alphanumeric() || "-_.".contains(c)))
        {
            return Err(ChainError::Config(format!(
                "watch wallet name `{wallet}`: use letters, digits, `-`, `_` and `.`"
            )));
        }
        backend.wallet = Some(Watch {
            name: wallet.to_owned(),
            url: format!("{}/wallet/{wallet}", backend.url.trim_end_matches('/')),
            watched: Mutex::new(HashSet::new()),
            outputs: Mutex::new(HashMap::new()),
            descriptors: Mutex::new(None),
        });
        backend.open_wallet().await?;
        Ok(backend)
    }

    /// JSON-RPC calls sent so far.
    pub fn calls_made(&self) -> u64 {
        self.next_id.load(Ordering::Relaxed) - 1
    }

    /// Whether the node has wallet support, where Souk keeps its watch-only wallet (not so with
    /// `-disablewallet`).
    pub async fn wallets_enabled(&self) -> Result<bool, ChainError> {
        match self.call("listwallets", json!([])).await {
            Ok(_) => Ok(true),
            Err(ChainError::Rpc { code, .. }) if code == RPC_METHOD_NOT_FOUND => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Whether the node prunes old blocks (fine for Souk: escrows are watched from their start on).
    pub async fn pruned(&self) -> Result<bool, ChainError> {
        let info = self.call("getblockchaininfo", json!([])).await?;
        Ok(info.get("pruned").and_then(Value::as_bool).unwrap_or(false))
    }

    /// The watch-only wallet's name, when this backend watches through one.
    pub fn watch_wallet(&self) -> Option<&str> {
        self.wallet.as_ref().map(|w| w.name.as_str())
    }

    /// Loads the watch wallet, creating it (blank, without private keys) the first time. Another client
    /// creating or loading it at the same moment is waited out (up to the RPC timeout).
    async fn open_wallet(&self) -> Result<(), ChainError> {
        let deadline = tokio::time::Instant::now() + self.timeout;
        loop {
            match self.try_open_wallet().await {
                Err(ChainError::Rpc { code, .. })
                    if (code == RPC_WALLET_NOT_FOUND || code == RPC_WALLET_ERROR)
                        && tokio::time::Instant::now() < deadline =>
                {
                    tokio::time::sleep(SCAN_RETRY).await;
                }
                other => return other,
            }
        }
    }

    async fn try_open_wallet(&self) -> Result<(), ChainError> {
        let Some(watch) = &self.wallet else {
            return Ok(());
        };
        let disabled = |e: ChainError| match e {
            ChainError::Rpc { code, .. } if code == RPC_METHOD_NOT_FOUND => {
                ChainError::WalletDisabled {
                    url: self.url.clone(),
                }
            }
            e => e,
        };
        let already = |message: &str| message.contains("already");
        match self.call("loadwallet", json!([watch.name])).await {
            Ok(_) => Ok(()),
            Err(ChainError::Rpc { code, message, .. })
                if code == RPC_WALLET_ERROR && already(&message) =>
            {
                Ok(())
            }
            Err(ChainError::Rpc { code, .. }) if code == RPC_WALLET_NOT_FOUND => {
                // Another Souk on the same node may create it at the same moment: then load it.
                match self
                    .call("createwallet", json!([watch.name, true, true]))
                    .await
                {
                    Ok(_) => Ok(()),
                    Err(ChainError::Rpc { code, message, .. })
                        if code == RPC_WALLET_ERROR && already(&message) =>
                    {
                        match self.call("loadwallet", json!([watch.name])).await {
                            Err(ChainError::Rpc { code, message, .. })
                                if code == RPC_WALLET_ERROR && already(&message) =>
                            {
                                Ok(())
                            }
                            other => other.map(drop),
                        }
                    }
                    Err(e) => Err(disabled(e)),
                }
            }
            Err(e) => Err(disabled(e)),
        }
    }

    /// A call on the watch wallet; a wallet the node unloaded (it restarted) is loaded again once.
    async fn wallet_call(&self, method: &str, params: Value) -> Result<Value, ChainError> {
        let watch = self
            .wallet
            .as_ref()
            .ok_or_else(|| ChainError::Config("no watch wallet".into()))?;
        match self.call_at(&watch.url, method, params.clone()).await {
            Err(ChainError::Rpc { code, .. })
                if code == RPC_WALLET_NOT_FOUND || code == RPC_WALLET_NOT_SPECIFIED =>
            {
                self.open_wallet().await?;
                self.call_at(&watch.url, method, params).await
            }
            other => other,
        }
    }

    /// Imports `scripts` into the watch wallet (those not known to be there), rescanning the blocks
    /// since `birth` (unix seconds; the node looks two hours further back) for coins already sent.
    /// Concurrent rescans on the node are waited out up to the RPC timeout.
    async fn import(&self, scripts: &[ScriptBuf], birth: u64) -> Result<(), ChainError> {
        let Some(watch) = &self.wallet else {
            return Ok(());
        };
        let unknown: Vec<ScriptBuf> = {
            let watched = watch
                .watched
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            scripts
                .iter()
                .filter(|s| !watched.contains(*s))
                .cloned()
                .collect()
        };
        let mut missing = Vec::new();
        for script in unknown {
            let address = self.address_of(&script)?;
            let info = self.wallet_call("getaddressinfo", json!([address])).await?;
            if info.get("iswatchonly").and_then(Value::as_bool) == Some(true)
                || info.get("ismine").and_then(Value::as_bool) == Some(true)
            {
                watch
                    .watched
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .insert(script);
            } else {
                missing.push((script, address));
            }
        }
        if missing.is_empty() {
            return Ok(());
        }
        // A descriptor wallet takes `addr(…)` descriptors (`importdescriptors`, which rescans from
        // the timestamp by itself); a legacy one watch-only scripts (`importmulti`).
        let descriptors = self.is_descriptor_wallet(watch).await?;
        let (method, params) = if descriptors {
            let mut requests = Vec::with_capacity(missing.len());
            for (_, address) in &missing {
                // The node adds the checksum a descriptor must carry.
                let info = self
                    .call("getdescriptorinfo", json!([format!("addr({address})")]))
                    .await?;
                let desc = info
                    .get("descriptor")
                    .and_then(Value::as_str)
                    .ok_or_else(|| Self::bad("getdescriptorinfo", "no descriptor"))?;
                requests.push(json!({
                    "desc": desc,
                    "timestamp": birth,
                    "label": "souk escrow",
                }));
            }
            ("importdescriptors", json!([requests]))
        } else {
            let requests: Vec<Value> = missing
                .iter()
                .map(|(_, address)| {
                    json!({
                        "scriptPubKey": { "address": address },
                        "timestamp": birth,
                        "watchonly": true,
                        "label": "souk escrow",
                    })
                })
                .collect();
            ("importmulti", json!([requests, { "rescan": true }]))
        };
        let deadline = tokio::time::Instant::now() + self.timeout;
        let results = loop {
            match self.wallet_call(method, params.clone()).await {
                Err(ChainError::Rpc { code, message, .. })
                    if code == RPC_WALLET_ERROR
                        && message.contains("rescanning")
                        && tokio::time::Instant::now() < deadline =>
                {
                    tokio::time::sleep(SCAN_RETRY).await;
                }
                other => break other?,
            }
        };
        let results = results
            .as_array()
            .ok_or_else(|| Self::bad(method, "not a list"))?;
        for ((script, address), result) in missing.into_iter().zip(results) {
            if result.get("success").and_then(Value::as_bool) != Some(true) {
                return Err(Self::bad(
                    method,
                    format!("{address} was not imported: {}", result["error"]),
                ));
            }
            tracing::debug!(%address, birth, "escrow script watched");
            watch
                .watched
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .insert(script);
        }
        Ok(())
    }

    /// Whether the watch wallet is a descriptor wallet (`getwalletinfo`, asked once).
    async fn is_descriptor_wallet(&self, watch: &Watch) -> Result<bool, ChainError> {
        if let Some(known) = *watch
            .descriptors
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
        {
            return Ok(known);
        }
        let info = self.wallet_call("getwalletinfo", json!([])).await?;
        // Absent before descriptor wallets existed: legacy.
        let descriptors = info
            .get("descriptors")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        *watch
            .descriptors
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(descriptors);
        Ok(descriptors)
    }

    fn address_of(&self, script: &Script) -> Result<String, ChainError> {
        address_from_script(script, self.chain, self.network)
            .map_err(|e| ChainError::Config(format!("a script Souk cannot watch: {e}")))
    }

    /// The outputs of wallet transaction `txid`, read once.
    async fn wallet_tx_outputs(&self, watch: &Watch, txid: Txid) -> Result<Vec<TxOut>, ChainError> {
        if let Some(outputs) = watch
            .outputs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&txid)
        {
            return Ok(outputs.clone());
        }
        let tx = self
            .wallet_call("gettransaction", json!([txid.to_string(), true]))
            .await?;
        let hex = tx
            .get("hex")
            .and_then(Value::as_str)
            .ok_or_else(|| Self::bad("gettransaction", "no `hex`"))?;
        let decoded: Transaction = bitcoin::consensus::encode::deserialize_hex(hex)
            .map_err(|e| Self::bad("gettransaction", format!("an undecodable transaction: {e}")))?;
        let outputs = decoded.output;
        watch
            .outputs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(txid, outputs.clone());
        Ok(outputs)
    }

    /// The wallet's outputs on `script`: confirmed ones unspent in the UTXO set (a spend waiting in the
    /// mempool does not hide them, as with `scantxoutset`), then unspent ones in the mempool.
    async fn wallet_utxos(&self, watch: &Watch, script: &Script) -> Result<Vec<Utxo>, ChainError> {
        let address = self.address_of(script)?;
        let received = self
            .wallet_call("listreceivedbyaddress", json!([0, false, true, address]))
            .await?;
        let txids: Vec<Txid> = received
            .as_array()
            .into_iter()
            .flatten()
            .filter(|r| r.get("address").and_then(Value::as_str) == Some(address.as_str()))
            .flat_map(|r| {
                r.get("txids")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
            })
            .map(|t| {
                t.as_str()
                    .and_then(|t| Txid::from_str(t).ok())
                    .ok_or_else(|| Self::bad("listreceivedbyaddress", "an invalid txid"))
            })
            .collect::<Result<_, _>>()?;
        let mut utxos = Vec::new();
        let mut tip = None;
        for txid in txids {
            let outputs = self.wallet_tx_outputs(watch, txid).await?;
            for (vout, out) in outputs.iter().enumerate() {
                if out.script_pubkey.as_script() != script {
                    continue;
                }
                let vout = u32::try_from(vout).map_err(|_| Self::bad("gettransaction", "vout"))?;
                let outpoint = OutPoint::new(txid, vout);
                let confirmed = self
                    .call("gettxout", json!([txid.to_string(), vout, false]))
                    .await?;
                let confirmations = confirmed
                    .get("confirmations")
                    .and_then(Value::as_u64)
                    .and_then(|c| u32::try_from(c).ok());
                if let Some(confirmations) = confirmations.filter(|c| *c > 0) {
                    let tip = match tip {
                        Some(t) => t,
                        None => *tip.insert(self.tip_height().await?),
                    };
                    utxos.push(Utxo {
                        outpoint,
                        value: out.value,
                        height: (tip + 1).saturating_sub(u64::from(confirmations)),
                        confirmations,
                    });
                    continue;
                }
                let pending = self
                    .call("gettxout", json!([txid.to_string(), vout, true]))
                    .await?;
                if pending.is_object() {
                    utxos.push(Utxo {
                        outpoint,
                        value: out.value,
                        height: 0,
                        confirmations: 0,
                    });
                }
            }
        }
        utxos.sort_by_key(|u| (u.confirmations == 0, u.height, u.outpoint));
        Ok(utxos)
    }

    /// Confirmations of a transaction of the watch wallet; `Err(None)` when the wallet does not hold it.
    async fn wallet_confirmations(&self, txid: &Txid) -> Result<Option<Option<u32>>, ChainError> {
        let tx = match self
            .wallet_call("gettransaction", json!([txid.to_string(), true]))
            .await
        {
            Ok(tx) => tx,
            Err(ChainError::Rpc { code, .. }) if code == RPC_INVALID_ADDRESS_OR_KEY => {
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
        let confirmations = tx
            .get("confirmations")
            .and_then(Value::as_i64)
            .ok_or_else(|| Self::bad("gettransaction", "no `confirmations`"))?;
        Ok(Some(match confirmations {
            // Conflicted: a double spend or a reorg took it out.
            c if c < 0 => None,
            // The wallet keeps a transaction the mempool dropped: unknown to the chain until sent again.
            0 => self.in_mempool(txid).await?.then_some(0),
            c => Some(u32::try_from(c).unwrap_or(u32::MAX)),
        }))
    }

    async fn in_mempool(&self, txid: &Txid) -> Result<bool, ChainError> {
        match self
            .call("getmempoolentry", json!([txid.to_string()]))
            .await
        {
            Ok(_) => Ok(true),
            Err(ChainError::Rpc { code, .. }) if code == RPC_INVALID_ADDRESS_OR_KEY => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Confirmations of `txid` from the UTXO set, while its first output is unspent: `None` when the
    /// node has no such output (unknown, or spent since, when the wallet knows it anyway).
    async fn just_mined(&self, txid: &Txid) -> Result<Option<u32>, ChainError> {
        let out = self
            .call("gettxout", json!([txid.to_string(), 0, false]))
            .await?;
        Ok(out
            .get("confirmations")
            .and_then(Value::as_u64)
            .filter(|c| *c > 0)
            .map(|c| u32::try_from(c).unwrap_or(u32::MAX)))
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

    /// One raw JSON-RPC call. Typed wrappers are the [`ChainBackend`] methods; this is for everything
    /// else (and for test harnesses driving a regtest node).
    pub async fn call(&self, method: &str, params: Value) -> Result<Value, ChainError> {
        self.call_at(&self.url, method, params).await
    }

    /// One raw JSON-RPC call on the node's wallet `wallet` (`/wallet/NAME`).
    pub async fn call_wallet(
        &self,
        wallet: &str,
        method: &str,
        params: Value,
    ) -> Result<Value, ChainError> {
        let url = format!("{}/wallet/{wallet}", self.url.trim_end_matches('/'));
        self.call_at(&url, method, params).await
    }

    async fn call_at(&self, url: &str, method: &str, params: Value) -> Result<Value, ChainError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let body = json!({ "jsonrpc": "1.0", "id": id, "method": method, "params": params });
        let mut request = self.client.post(url).json(&body);
        if let Some((user, password)) = &self.auth {
            request = request.basic_auth(user, Some(password));
        }
        let response = request.send().await.map_err(|e| self.unreachable(&e))?;
        let status = response.status();
        match status.as_u16() {
            401 => {
                return Err(ChainError::Auth {
                    url: self.url.clone(),
                });
            }
            403 => {
                return Err(ChainError::Forbidden {
                    url: self.url.clone(),
                });
            }
            _ => {}
        }
        let bytes = response.bytes().await.map_err(|e| self.unreachable(&e))?;
        // Core answers RPC errors with HTTP 404/500 and a JSON body, so the body decides, not the status.
        let reply: RpcReply =
            serde_json::from_slice(&bytes).map_err(|e| ChainError::BadResponse {
                method: method.to_owned(),
                reason: format!(
                    "HTTP {status}, not a JSON-RPC reply ({e}): {}",
                    String::from_utf8_lossy(&bytes[..bytes.len().min(200)])
                ),
            })?;
        match reply.error {
            Some(e) if e.code == RPC_IN_WARMUP => Err(ChainError::WarmingUp(e.message)),
            Some(e) => Err(ChainError::Rpc {
                method: method.to_owned(),
                code: e.code,
                message: e.message,
            }),
            None => Ok(reply.result),
        }
    }

    /// The fee `txid` pays while it waits in the node's mempool; `None` when it is not there.
    pub async fn mempool_fee(&self, txid: &Txid) -> Result<Option<Amount>, ChainError> {
        match self
            .call("getmempoolentry", json!([txid.to_string()]))
            .await
        {
            Ok(entry) => Ok(Some(Self::amount(
                "getmempoolentry",
                entry.get("fees").and_then(|f| f.get("base")),
            )?)),
            Err(ChainError::Rpc { code, .. }) if code == RPC_INVALID_ADDRESS_OR_KEY => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn unreachable(&self, e: &reqwest::Error) -> ChainError {
        let reason = if e.is_timeout() {
            "no answer in time".to_owned()
        } else if e.is_connect() {
            "connection failed: is the node running, and do rpc_url, rpcbind and rpcport agree?"
                .to_owned()
        } else {
            let mut reason = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(s) = source {
                reason.push_str(&format!(": {s}"));
                source = s.source();
            }
            reason
        };
        ChainError::Unreachable {
            url: self.url.clone(),
            reason,
        }
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

/// The user a chain node writes into its cookie file (Bitcoin Core's and Litecoin Core's
/// `COOKIEAUTH_USER`).
const COOKIE_USER: &str = "__cookie__";
/// A cookie file is one short line; anything longer is not one.
const MAX_COOKIE_BYTES: u64 = 256;

/// `user:password` from a node's `.cookie` file, re-read at each connect (the node rewrites it at start).
/// Only a file that is a node's cookie is used (one short line, `__cookie__:` and a password of printable
/// characters): the path comes from settings a caller of the local API can test, and the credentials go
/// to a URL the same caller names, so no other file's contents may ever be sent — nor shown in an error.
fn read_cookie(path: &std::path::Path) -> Result<(String, String), ChainError> {
    let cookie = |reason: String| ChainError::Cookie {
        path: path.to_owned(),
        reason,
    };
    let not_a_cookie = || {
        cookie(format!(
            "it is not a chain node's cookie file (one line: `{COOKIE_USER}:` and a password, written by \
             the node at start)"
        ))
    };
    let meta = std::fs::metadata(path).map_err(|e| cookie(e.to_string()))?;
    if !meta.is_file() || meta.len() > MAX_COOKIE_BYTES {
        return Err(not_a_cookie());
    }
    let text = std::fs::read_to_string(path).map_err(|_| not_a_cookie())?;
    let line = text.strip_suffix('\n').unwrap_or(&text);
    let (user, password) = line.split_once(':').ok_or_else(not_a_cookie)?;
    if user != COOKIE_USER || password.is_empty() || !password.chars().all(|c| c.is_ascii_graphic())
    {
        return Err(not_a_cookie());
    }
    Ok((user.to_owned(), password.to_owned()))
}

impl ChainBackend for RpcBackend {
    async fn tip_height(&self) -> Result<u64, ChainError> {
        self.call("getblockcount", json!([]))
            .await?
            .as_u64()
            .ok_or_else(|| Self::bad("getblockcount", "not a height"))
    }

    async fn fee_rate(&self) -> Result<FeeRate, ChainError> {
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
    }

    async fn watch(&self, scripts: &[ScriptBuf], birth: u64) -> Result<(), ChainError> {
        self.import(scripts, birth).await
    }

    async fn outputs(&self, script_pubkey: &Script) -> Result<Vec<Utxo>, ChainError> {
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
    }
    async fn broadcast(&self, tx: &Transaction) -> Result<Txid, ChainError> {
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
            Err(ChainError::Rpc { code, .. }) if code == RPC_VERIFY_ALREADY_IN_CHAIN => Ok(txid),
            // Accepted a moment ago, refused now (a conflicting spend arrived in between).
            Err(ChainError::Rpc { code, message, .. }) if (-26..=-25).contains(&code) => {
                Err(ChainError::Rejected {
                    txid,
                    reason: message,
                })
            }
            Err(e) => Err(e),
        }
    }

    async fn confirmations(&self, txid: &Txid) -> Result<Option<u32>, ChainError> {
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
    }
}

impl RpcBackend {
    /// Confirmed outputs on `script_pubkey`, found by scanning the whole UTXO set (no wallet).
    async fn scan_utxos(&self, script_pubkey: &Script) -> Result<Vec<Utxo>, ChainError> {
        const METHOD: &str = "scantxoutset";
        let descriptor = format!("raw({})", script_pubkey.as_bytes().to_lower_hex_string());
        let scan = {
            let _turn = self.scan.lock().await;
            let deadline = tokio::time::Instant::now() + self.timeout;
            loop {
                match self.call(METHOD, json!(["start", [descriptor]])).await {
                    Err(ChainError::Rpc { code, message, .. })
                        if code == RPC_INVALID_PARAMETER
                            && message.contains("already in progress")
                            && tokio::time::Instant::now() < deadline =>
                    {
                        tokio::time::sleep(SCAN_RETRY).await;
                    }
                    other => break other?,
                }
            }
        };
        if scan.get("success").and_then(Value::as_bool) == Some(false) {
            return Err(Self::bad(METHOD, "the scan did not complete"));
        }
        let tip = scan
            .get("height")
            .and_then(Value::as_u64)
            .ok_or_else(|| Self::bad(METHOD, "no `height`"))?;
        let unspents = scan
            .get("unspents")
            .and_then(Value::as_array)
            .ok_or_else(|| Self::bad(METHOD, "no `unspents`"))?;
        let mut utxos = unspents
            .iter()
            .map(|u| {
                let txid = u
                    .get("txid")
                    .and_then(Value::as_str)
                    .and_then(|t| Txid::from_str(t).ok())
                    .ok_or_else(|| Self::bad(METHOD, "an unspent without a valid txid"))?;
                let vout = u
                    .get("vout")
                    .and_then(Value::as_u64)
                    .and_then(|v| u32::try_from(v).ok())
                    .ok_or_else(|| Self::bad(METHOD, "an unspent without a valid vout"))?;
                let height = u
                    .get("height")
                    .and_then(Value::as_u64)
                    .ok_or_else(|| Self::bad(METHOD, "an unspent without a height"))?;
                let confirmations = u32::try_from((tip + 1).saturating_sub(height))
                    .map_err(|_| Self::bad(METHOD, "implausible height"))?;
                Ok(Utxo {
                    outpoint: OutPoint::new(txid, vout),
                    value: Self::amount(METHOD, u.get("amount"))?,
                    height,
                    confirmations,
                })
            })
            .collect::<Result<Vec<_>, ChainError>>()?;
        utxos.sort_by_key(|u| (u.height, u.outpoint));
        Ok(utxos)
    }

    /// Confirmations through `getrawtransaction`: any mempool transaction, and confirmed ones with
    /// `-txindex=1`.
    async fn raw_confirmations(&self, txid: &Txid) -> Result<Option<u32>, ChainError> {
        if self.txindex == Some(false) && !self.in_mempool(txid).await? {
            return Err(ChainError::TxIndexOff);
        }
        match self
            .call("getrawtransaction", json!([txid.to_string(), true]))
            .await
        {
            Ok(tx) => {
                let confirmations = tx.get("confirmations").and_then(Value::as_u64).unwrap_or(0);
                Ok(Some(u32::try_from(confirmations).unwrap_or(u32::MAX)))
            }
            Err(ChainError::Rpc { code, message, .. }) if code == RPC_INVALID_ADDRESS_OR_KEY => {
                if message.contains("-txindex") {
                    Err(ChainError::TxIndexOff)
                } else {
                    Ok(None)
                }
            }
            Err(e) => Err(e),
        }
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
    fn cookies_are_read_and_bad_ones_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".cookie");
        std::fs::write(&path, "__cookie__:s3cr3t:x\n").unwrap();
        assert_eq!(
            read_cookie(&path).unwrap(),
            ("__cookie__".into(), "s3cr3t:x".into())
        );
        let hex = "0123456789abcdef".repeat(4);
        std::fs::write(&path, format!("__cookie__:{hex}")).unwrap();
        assert_eq!(read_cookie(&path).unwrap(), ("__cookie__".into(), hex));
        // Anything else is refused without a word of what it holds: never sent anywhere.
        for other in [
            "garbage".to_owned(),
            "root:x:0:0:root:/root:/bin/bash\n".to_owned(),
            "__cookie__:\n".to_owned(),
            "__cookie__:two words\n".to_owned(),
            "__cookie__:a\nsecond:line\n".to_owned(),
            format!("__cookie__:{}", "a".repeat(300)),
        ] {
            std::fs::write(&path, &other).unwrap();
            let err = read_cookie(&path).unwrap_err().to_string();
            assert!(
                err.contains(".cookie") && err.contains("not a chain node's cookie file"),
                "{other:?}: {err}"
            );
            assert!(!err.contains("root") && !err.contains("second"), "{err}");
        }
        let err = read_cookie(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("not a chain node's cookie file"),
            "a directory: {err}"
        );
        let err = read_cookie(&dir.path().join("missing"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("missing"), "{err}");
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
