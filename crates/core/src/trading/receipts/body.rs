//! The receipt a trade's record gives: the body this node would sign for an ended trade, its escrow's
//! transactions found on this node's chain (or why not yet).

use bitcoin::{Txid, hashes::Hash};
use libp2p::{PeerId, identity::PublicKey};

use crate::{
    chain::ChainBackend,
    error::Result,
    protocol::{
        roles::{Party, TradeRole},
        state::TradeState,
    },
    reputation::{EscrowProof, Outcome, ReceiptBody, TxAt, bucket_of, receipt, trade_hash},
    trading::{
        TradeInfo,
        desk::Inner,
        errors::{internal, peer_fault},
    },
};

/// The ed25519 key inside an ed25519 PeerId.
fn key_of(peer: &PeerId) -> Result<Vec<u8>> {
    let hash: &libp2p::multihash::Multihash<64> = peer.as_ref();
    if hash.code() != 0 {
        return Err(peer_fault(format!("{peer} does not carry its key")));
    }
    PublicKey::try_decode_protobuf(hash.digest())
        .map(|k| k.encode_protobuf())
        .map_err(|e| peer_fault(format!("{peer}: {e}")))
}

/// What a trade's record gives for its receipt.
pub(super) enum Made {
    Ready(ReceiptBody),
    /// Not yet: a payout waits for the chain, say.
    NotYet(String),
    /// This trade gets no receipt (nothing happened, or it is not over).
    None,
}

fn txid_of(s: &str) -> Result<Txid> {
    s.parse::<Txid>().map_err(|e| internal("a stored txid", e))
}

/// The block height of each of `txids`, from this node's chain (`NotYet` when one is not confirmed).
async fn heights(
    chain: &dyn ChainBackend,
    txids: &[String],
) -> Result<std::result::Result<Vec<TxAt>, String>> {
    let tip = chain.tip_height().await?;
    let mut out = Vec::new();
    for s in txids {
        let id = txid_of(s)?;
        let Some(conf) = chain.confirmations(&id).await?.filter(|c| *c > 0) else {
            return Ok(Err(format!("{id} is not confirmed yet")));
        };
        let height = u32::try_from((tip + 1).saturating_sub(u64::from(conf))).unwrap_or(u32::MAX);
        // A block found between the two questions would put it one lower: the chain decides.
        if chain.transaction_at(&id, height).await?.is_none() {
            return Ok(Err(format!("{id} moved on the chain; looking again")));
        }
        out.push(TxAt {
            txid: id.to_byte_array(),
            height,
        });
    }
    Ok(Ok(out))
}

/// The receipt this node would sign for `trade`.
pub(super) async fn body_of(inner: &Inner, trade: &TradeInfo) -> Result<Made> {
    if !matches!(
        trade.state,
        TradeState::Completed | TradeState::Resolved | TradeState::Cancelled | TradeState::Expired
    ) {
        return Ok(Made::None);
    }
    let me = key_of(&inner.me.peer)?;
    let cp: PeerId = trade
        .counterparty
        .parse()
        .map_err(|e| internal("the counterparty", e))?;
    let them = key_of(&cp)?;
    let mine = trade.party();
    let (maker_key, taker_key, maker_party) = match trade.role {
        TradeRole::Maker => (me, them, mine),
        TradeRole::Taker => (them, me, mine.other()),
    };
    let outcome = match trade.state {
        TradeState::Completed => Outcome::Completed,
        TradeState::Resolved => {
            let Some(decision) = trade.escrow.as_ref().and_then(|e| e.decision.as_ref()) else {
                return Ok(Made::None);
            };
            let Some(step) = trade.steps.iter().find(|s| s.kind == "dispute") else {
                return Ok(Made::None);
            };
            Outcome::Resolved {
                disputed_by: if step.mine { mine } else { mine.other() },
                decided: decision.to,
            }
        }
        _ => Outcome::Refunded,
    };
    let escrow = match &trade.escrow {
        None if outcome == Outcome::Completed => None,
        None => return Ok(Made::None),
        Some(e) if e.funding_txids.is_empty() => return Ok(Made::None),
        Some(e) => {
            let Some(chain) = inner.chain.as_deref() else {
                return Ok(Made::NotYet("no chain configured".into()));
            };
            let payouts: Vec<String> = match outcome {
                Outcome::Refunded => {
                    if e.returns.iter().any(|r| r.txid.is_none()) {
                        return Ok(Made::NotYet("a return is not on the chain yet".into()));
                    }
                    e.returns.iter().filter_map(|r| r.txid.clone()).collect()
                }
                _ => e.release_txid.iter().cloned().collect(),
            };
            if payouts.is_empty() && outcome == Outcome::Refunded {
                // Funded, then cancelled: nothing went back yet.
                return Ok(Made::NotYet("no return on the chain yet".into()));
            }
            let funding = match heights(chain, &e.funding_txids).await? {
                Ok(f) => f,
                Err(why) => return Ok(Made::NotYet(why)),
            };
            let payouts = match heights(chain, &payouts).await? {
                Ok(p) => p,
                Err(why) => return Ok(Made::NotYet(why)),
            };
            Some(EscrowProof {
                chain: e.chain,
                network: e.network,
                funding: funding.into_iter().take(receipt::MAX_TXS).collect(),
                payouts: payouts.into_iter().take(receipt::MAX_TXS).collect(),
            })
        }
    };
    Ok(Made::Ready(body(
        trade,
        maker_key,
        taker_key,
        maker_party,
        outcome,
        escrow,
    )))
}

fn body(
    trade: &TradeInfo,
    maker_key: Vec<u8>,
    taker_key: Vec<u8>,
    maker_party: Party,
    outcome: Outcome,
    escrow: Option<EscrowProof>,
) -> ReceiptBody {
    const HOUR_MS: i64 = 3_600_000;
    ReceiptBody {
        version: 1,
        trade: trade_hash(&trade.id),
        maker_key,
        taker_key,
        maker_party,
        base: trade.offer.base.code().into(),
        quote: trade.offer.quote.code().into(),
        bucket: bucket_of(trade.terms.amount),
        ended_at: trade.updated_at - trade.updated_at.rem_euclid(HOUR_MS),
        outcome,
        escrow,
    }
}
