//! What is asked of the node itself, not of its wallet: the UTXO set (`scantxoutset`, `gettxout`),
//! the mempool (`getmempoolentry`) and raw transactions (`getrawtransaction`, which needs
//! `-txindex=1` for confirmed ones). A backend without a watch wallet relies on these alone.

use std::str::FromStr;

use bitcoin::{Amount, OutPoint, Script, Txid, hex::DisplayHex};
use serde_json::{Value, json};

use super::{RPC_INVALID_ADDRESS_OR_KEY, RPC_INVALID_PARAMETER, RpcBackend, SCAN_RETRY};
use crate::chain::{ChainError, Utxo};

impl RpcBackend {
    /// Confirmed outputs on `script_pubkey`, found by scanning the whole UTXO set (no wallet).
    pub(super) async fn scan_utxos(&self, script_pubkey: &Script) -> Result<Vec<Utxo>, ChainError> {
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

    /// `txid` in the block at `height` (`getblockhash`, then `getrawtransaction` with that block: no
    /// transaction index needed, only the block; a pruned node no longer has old ones).
    pub(super) async fn transaction_in_block(
        &self,
        txid: &Txid,
        height: u32,
    ) -> Result<Option<bitcoin::Transaction>, ChainError> {
        let hash = match self.call("getblockhash", json!([height])).await {
            Ok(hash) => hash,
            // Past the tip: no such block (yet).
            Err(ChainError::Rpc { code, .. }) if code == RPC_INVALID_PARAMETER => return Ok(None),
            Err(e) => return Err(e),
        };
        match self
            .call("getrawtransaction", json!([txid.to_string(), false, hash]))
            .await
        {
            Ok(Value::String(hex)) => {
                let tx: bitcoin::Transaction = bitcoin::consensus::encode::deserialize_hex(&hex)
                    .map_err(|e| Self::bad("getrawtransaction", e.to_string()))?;
                if tx.compute_txid() == *txid {
                    Ok(Some(tx))
                } else {
                    Err(Self::bad(
                        "getrawtransaction",
                        format!("asked for {txid}, got {}", tx.compute_txid()),
                    ))
                }
            }
            Ok(_) => Err(Self::bad("getrawtransaction", "not a transaction")),
            Err(ChainError::Rpc { code, message, .. })
                if code == RPC_INVALID_ADDRESS_OR_KEY && !message.contains("not available") =>
            {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// Confirmations through `getrawtransaction`: any mempool transaction, and confirmed ones with
    /// `-txindex=1`.
    pub(super) async fn raw_confirmations(&self, txid: &Txid) -> Result<Option<u32>, ChainError> {
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

    pub(super) async fn in_mempool(&self, txid: &Txid) -> Result<bool, ChainError> {
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
    pub(super) async fn just_mined(&self, txid: &Txid) -> Result<Option<u32>, ChainError> {
        let out = self
            .call("gettxout", json!([txid.to_string(), 0, false]))
            .await?;
        Ok(out
            .get("confirmations")
            .and_then(Value::as_u64)
            .filter(|c| *c > 0)
            .map(|c| u32::try_from(c).unwrap_or(u32::MAX)))
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
}
