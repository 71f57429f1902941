//! Funding this party's escrow output from a wallet of the user's Core node: `walletcreatefundedpsbt`
//! builds the payment (inputs and change from that wallet, at the chain backend's fee rate), Souk checks
//! it pays exactly what is still owed to exactly this party's escrow output, and then either hands the
//! unsigned PSBT out (for Sparrow, Electrum, a hardware wallet) or, once the user confirmed amount and
//! fee, has the wallet sign it and broadcasts it.
//!
//! Nothing here counts the funding: the watcher sees it on the chain like any other (in the mempool
//! first, then confirmed).

use bitcoin::Amount;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use ts_rs::TS;
use uuid::Uuid;

use super::{
    desk::Inner,
    errors::SettleError,
    settle::{self, EscrowRow},
};
use crate::{
    chain::{Backend, ChainBackend, ChainError},
    error::Error,
    protocol::settlement::TradeState,
};

/// The most a funding may pay in fees, as a share of what it sends: more means a wrong fee estimate.
const MAX_FEE_SHARE: u64 = 20;

/// A funding of this party's escrow output from a node wallet: what it pays, and the transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, utoipa::ToSchema)]
pub struct WalletFunding {
    pub wallet: String,
    /// The coin.
    pub asset: crate::offer::Asset,
    /// This party's escrow output.
    pub address: String,
    /// Base units sent to it: what is still owed (funding seen already, even unconfirmed, is counted).
    #[ts(type = "number")]
    pub amount: u64,
    /// Base units of fee the wallet pays on top.
    #[ts(type = "number")]
    pub fee: u64,
    /// The payment as an unsigned PSBT (base64), for an external signer.
    pub psbt: String,
    /// Set once signed by the wallet and broadcast.
    pub txid: Option<String>,
}

/// Builds (and with `broadcast`, signs and sends) the funding of this party's escrow output of
/// `trade_id` from the node wallet `wallet`.
pub(super) async fn fund_from_wallet(
    inner: &Inner,
    trade_id: Uuid,
    wallet: &str,
    broadcast: bool,
) -> std::result::Result<WalletFunding, SettleError> {
    // What the trade is decides first: a trade without an escrow has nothing to fund, whatever the
    // chain settings.
    let row = settle::load_row(inner, trade_id)
        .await?
        .ok_or(SettleError::NoEscrow(trade_id))?;
    let backend = settle::backend(inner)?;
    let Some(rpc) = backend.core().await? else {
        return Err(SettleError::WalletNeedsCore);
    };
    if wallet.is_empty() {
        return Err(SettleError::NoWalletName);
    }
    if wallet.len() > 64
        || wallet
            .chars()
            .any(|c| !(c.is_ascii_alphanumeric() || "-_.".contains(c)))
        || wallet.starts_with('.')
    {
        return Err(SettleError::BadWalletName(wallet.to_owned()));
    }
    let mut conn = inner.pool.acquire().await.map_err(settle::sql)?;
    let state = settle::current_state(&mut conn, trade_id).await?;
    drop(conn);
    if state != TradeState::EscrowFunding {
        return Err(SettleError::NotFunding { trade_id, state });
    }
    let (address, amount) = still_owed(backend, &row).await?;
    // Core's RPC takes amounts as a number of coins.
    let coins = |units: u64| Amount::from_sat(units).to_btc();
    let rate = backend.fee_rate().await?;
    let wallet_err = |e: ChainError| wallet_error(wallet, e);
    let created = rpc
        .call_wallet(
            wallet,
            "walletcreatefundedpsbt",
            json!([
                [],
                [{ address.clone(): coins(amount) }],
                0,
                { "fee_rate": rate.to_sat_per_vb_ceil(), "replaceable": true }
            ]),
        )
        .await
        .map_err(wallet_err)?;
    let psbt = created
        .get("psbt")
        .and_then(Value::as_str)
        .ok_or_else(|| Error::Internal("walletcreatefundedpsbt gave no psbt".into()))?
        .to_owned();
    let decoded = rpc
        .call("decodepsbt", json!([psbt]))
        .await
        .map_err(Error::Chain)?;
    let fee = check_funding(&decoded, &address, amount)?;
    let mut funding = WalletFunding {
        wallet: wallet.to_owned(),
        asset: match row.chain {
            crate::escrow::Chain::Btc => crate::offer::Asset::Btc,
            crate::escrow::Chain::Ltc => crate::offer::Asset::Ltc,
        },
        address,
        amount,
        fee,
        psbt,
        txid: None,
    };
    if !broadcast {
        return Ok(funding);
    }
    let signed = rpc
        .call_wallet(wallet, "walletprocesspsbt", json!([funding.psbt, true]))
        .await
        .map_err(wallet_err)?;
    if signed.get("complete").and_then(Value::as_bool) != Some(true) {
        return Err(SettleError::WalletCannotSign(wallet.to_owned()));
    }
    let finalized = rpc
        .call(
            "finalizepsbt",
            json!([signed.get("psbt").cloned().unwrap_or(Value::Null)]),
        )
        .await
        .map_err(Error::Chain)?;
    let hex = finalized
        .get("hex")
        .and_then(Value::as_str)
        .ok_or_else(|| Error::Internal("finalizepsbt gave no transaction".into()))?;
    let tx: bitcoin::Transaction = bitcoin::consensus::encode::deserialize_hex(hex)
        .map_err(|e| Error::Internal(format!("the signed funding: {e}")))?;
    let txid = backend.broadcast(&tx).await?;
    tracing::info!(%trade_id, %txid, amount, fee, wallet, "escrow funded from a node wallet");
    inner.watcher.kick();
    funding.txid = Some(txid.to_string());
    Ok(funding)
}

/// This party's escrow output and what it still owes there: the watcher's view of the chain, funding
/// in the mempool included (so paying twice takes a deliberate second payment).
async fn still_owed(
    backend: &Backend,
    row: &EscrowRow,
) -> std::result::Result<(String, u64), SettleError> {
    let funder = row.side;
    let address = row
        .escrow_address_of(funder)
        .ok_or(SettleError::EscrowAddressUnknown)?
        .to_owned();
    let escrow = row.keys()?.ok_or(SettleError::NotSetUp)?;
    let held: u64 = settle::escrow_outputs(backend, row, &escrow)
        .await?
        .iter()
        .filter(|(f, _)| *f == funder)
        .map(|(_, u)| u.value.to_sat())
        .sum();
    let owed = row.owed_by(funder);
    if held >= owed {
        return Err(SettleError::AlreadyFunded {
            held: super::store::coins(row.chain, held),
            owed: super::store::coins(row.chain, owed),
        });
    }
    Ok((address, owed - held))
}

/// The wallet's PSBT pays `amount` to `address` in exactly one output and nothing else to the escrow,
/// at a sane fee; the fee in base units.
fn check_funding(
    decoded: &Value,
    address: &str,
    amount: u64,
) -> std::result::Result<u64, SettleError> {
    let bad = |why: String| {
        SettleError::from(Error::Internal(format!("the wallet's funding PSBT: {why}")))
    };
    let outputs = decoded
        .pointer("/tx/vout")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("no outputs".into()))?;
    let to_escrow: Vec<u64> = outputs
        .iter()
        .filter(|o| {
            o.pointer("/scriptPubKey/address").and_then(Value::as_str) == Some(address)
                || o.pointer("/scriptPubKey/addresses/0")
                    .and_then(Value::as_str)
                    == Some(address)
        })
        .filter_map(|o| o.get("value").and_then(Value::as_f64))
        .filter_map(|v| Amount::from_btc(v).ok())
        .map(Amount::to_sat)
        .collect();
    if to_escrow != [amount] {
        return Err(bad(format!(
            "it pays {to_escrow:?} to the escrow output, not {amount}"
        )));
    }
    let fee = decoded
        .get("fee")
        .and_then(Value::as_f64)
        .and_then(|f| Amount::from_btc(f).ok())
        .ok_or_else(|| bad("no fee".into()))?
        .to_sat();
    if fee > amount / MAX_FEE_SHARE {
        return Err(SettleError::FeeTooHigh {
            fee: Amount::from_sat(fee).to_btc(),
            amount: Amount::from_sat(amount).to_btc(),
        });
    }
    Ok(fee)
}

/// A wallet error in words.
fn wallet_error(wallet: &str, e: ChainError) -> SettleError {
    match e {
        ChainError::Rpc { code: -18, .. } | ChainError::Rpc { code: -19, .. } => {
            SettleError::NoSuchWallet(wallet.to_owned())
        }
        ChainError::Rpc {
            code: -4 | -6,
            message,
            ..
        } if message.to_lowercase().contains("insufficient") => SettleError::WalletShort {
            wallet: wallet.to_owned(),
            message,
        },
        ChainError::Rpc { code: -13, .. } => SettleError::WalletLocked(wallet.to_owned()),
        e => e.into(),
    }
}
