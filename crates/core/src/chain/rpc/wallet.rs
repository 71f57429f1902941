//! Souk's watch-only wallet on the node: opening (or creating) it, importing escrow scripts with a
//! rescan from the trade's start, and reading the outputs and confirmations of its transactions.
//! The wallet never holds a private key.

use std::{
    collections::{HashMap, HashSet},
    str::FromStr,
    sync::Mutex,
};

use bitcoin::{OutPoint, Script, ScriptBuf, Transaction, TxOut, Txid};
use serde_json::{Value, json};

use super::{
    RPC_INVALID_ADDRESS_OR_KEY, RPC_METHOD_NOT_FOUND, RPC_WALLET_ERROR, RPC_WALLET_NOT_FOUND,
    RPC_WALLET_NOT_SPECIFIED, RpcBackend, SCAN_RETRY,
};
use crate::{
    chain::{ChainBackend, ChainError, Utxo},
    config::ChainConfig,
    escrow::address_from_script,
};

/// Souk's watch-only wallet on the node, and what this process already knows of it.
#[derive(Debug)]
pub(super) struct Watch {
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

impl RpcBackend {
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

    /// Whether the node has wallet support, where Souk keeps its watch-only wallet (not so with
    /// `-disablewallet`).
    pub async fn wallets_enabled(&self) -> Result<bool, ChainError> {
        match self.call("listwallets", json!([])).await {
            Ok(_) => Ok(true),
            Err(ChainError::Rpc { code, .. }) if code == RPC_METHOD_NOT_FOUND => Ok(false),
            Err(e) => Err(e),
        }
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
    pub(super) async fn import(&self, scripts: &[ScriptBuf], birth: u64) -> Result<(), ChainError> {
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
    pub(super) async fn wallet_utxos(
        &self,
        watch: &Watch,
        script: &Script,
    ) -> Result<Vec<Utxo>, ChainError> {
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
    pub(super) async fn wallet_confirmations(
        &self,
        txid: &Txid,
    ) -> Result<Option<Option<u32>>, ChainError> {
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
}
