//! The return of a funder's own escrow output while the other output holds nothing: the funder's
//! request (party side) and the arbitrator's co-signature, given only when it is safe whatever happened
//! off the chain.

use bitcoin::FeeRate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{
    DisputeCase, MAX_FEE_RATE_FACTOR, arbitrator_of,
    cases::{escrow_inputs, parties},
    party::{ask_arbitrator, signed_steps},
    peer_fault, refused, sql,
};
use crate::{
    arbiter::arbitrator_trade_keypair,
    chain::ChainBackend,
    channel,
    error::{Error, Result},
    escrow::{
        Party, SpendPath, SpendPlan, TradeEscrow, build_spend, check_psbt, decode_psbt,
        encode_psbt, finalize_psbt, sign_psbt,
    },
    protocol::DirectRequest,
    trading::{desk::Inner, settle, store},
};

/// A funder's request that the arbitrator co-sign the return of its own escrow output: the trade as a
/// case (offer, both parties' signed escrow keys) and the return, signed by the funder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReturnRequest {
    pub case: DisputeCase,
    pub psbt: Vec<u8>,
}

/// This party's coins in its own escrow output go back to it while the other party's output holds
/// nothing (it never funded, or the escrow was paid out and these came late): the arbitrator co-signs at
/// once, so the funder never waits for a silent counterparty or the reclaim lock. Broadcast and recorded.
pub(in crate::trading) async fn ask_return(
    inner: &Inner,
    backend: &crate::chain::Backend,
    row: &settle::EscrowRow,
    escrow: &TradeEscrow,
    trade_id: Uuid,
    coins: &[&crate::chain::Utxo],
) -> Result<()> {
    let funder = row.side;
    let inputs = coins.iter().map(|u| u.input_of(funder)).collect();
    let plan = row.return_plan(funder, inputs, SpendPath::Multisig)?;
    let mut psbt = build_spend(escrow, &plan, backend.fee_rate().await?).map_err(refused)?;
    sign_psbt(&mut psbt, escrow, &settle::my_key(inner, row, trade_id)?).map_err(refused)?;
    let mut conn = inner.pool.acquire().await.map_err(sql)?;
    let channel = store::load_channel(&mut conn, &inner.me.storage_key, trade_id)
        .await?
        .ok_or_else(|| store::unknown_trade(trade_id))?;
    let escrow_keys = signed_steps(&mut conn, trade_id, "escrow_keys").await?;
    drop(conn);
    let arbitrator = arbitrator_of(&channel.offer)?;
    let request = ReturnRequest {
        case: DisputeCase {
            reason: "the return of this party's own coins".into(),
            ..super::case_of(trade_id, &channel.offer, row, escrow_keys)?
        },
        psbt: encode_psbt(&psbt),
    };
    let plaintext = postcard::to_stdvec(&request).map_err(|e| Error::Internal(e.to_string()))?;
    let answer = ask_arbitrator(
        inner,
        (arbitrator, row.chain, row.network),
        channel.offer.id,
        trade_id,
        &plaintext,
        DirectRequest::Return,
    )
    .await?;
    let amount = coins.iter().map(|u| u.value.to_sat()).sum();
    let address = row.address_of(funder).unwrap_or_default().to_owned();
    let outpoints: Vec<String> = coins.iter().map(|u| u.outpoint.to_string()).collect();
    let signed = match crate::protocol::ReturnAnswer::decode(&answer).map_err(refused)? {
        crate::protocol::ReturnAnswer::Signed(bytes) => bytes,
        crate::protocol::ReturnAnswer::Refused(reason) => {
            // Not asked again for these coins: the counterparty or the reclaim lock returns them.
            tracing::warn!(%trade_id, %reason, "the arbitrator refused to co-sign the return");
            return settle::record_return(
                inner,
                trade_id,
                settle::ReturnRecord::unsent(
                    funder,
                    outpoints,
                    amount,
                    address,
                    format!(
                        "arbitrator refused: {}",
                        reason.chars().take(200).collect::<String>()
                    ),
                ),
            )
            .await;
        }
        crate::protocol::ReturnAnswer::Later(reason) => {
            return Err(Error::Internal(format!(
                "the arbitrator cannot co-sign the return now ({reason})"
            )));
        }
    };
    let theirs = decode_psbt(&signed).map_err(refused)?;
    if theirs.unsigned_tx != psbt.unsigned_tx {
        return Err(refused("the arbitrator signed another transaction"));
    }
    let combined = crate::escrow::combine_psbts(psbt, theirs).map_err(refused)?;
    let tx = finalize_psbt(combined, escrow).map_err(refused)?;
    let txid = backend.broadcast(&tx).await?;
    tracing::info!(%trade_id, %txid, amount, "own escrow coins returned, co-signed by the arbitrator");
    settle::record_return(
        inner,
        trade_id,
        settle::ReturnRecord::broadcast(
            funder,
            amount,
            address,
            &tx,
            "arbitrated",
            backend.tip_height().await.ok(),
        ),
    )
    .await
}

/// A funder asks this arbitrator to co-sign the return of its own escrow output. Signed only when it is
/// safe whatever happened off the chain: the request comes from one of the trade's two parties (their
/// signed escrow keys), the other party's output holds nothing on the chain (so the trade was never
/// funded, or it was paid out and these coins came late), the return spends only the asker's own output
/// and pays all of it, less a sane fee, to the address the asker signed, and no dispute about the trade is
/// held here (then the decision pays).
pub(in crate::trading) async fn on_return_request(inner: &Inner, bytes: &[u8]) -> Result<Vec<u8>> {
    let opened = channel::open_take(&inner.me.channel_secret, inner.me.peer, bytes)?;
    let request: ReturnRequest =
        crate::codec::decode_exact(opened.plaintext(), "return request").map_err(peer_fault)?;
    let case = &request.case;
    if case.trade_id != opened.trade_id() {
        return Err(peer_fault(
            "the request names another trade than its envelope",
        ));
    }
    if arbitrator_of(&case.offer()?)? != inner.me.peer {
        return Err(peer_fault(
            "this node is not the first arbitrator of that offer",
        ));
    }
    let (buyer, seller) = parties(case)?;
    let asker = opened.taker();
    let (funder, address) = if asker == buyer.0 {
        (Party::Buyer, &buyer.2)
    } else if asker == seller.0 {
        (Party::Seller, &seller.2)
    } else {
        return Err(peer_fault("the request comes from neither party"));
    };
    if store::disputes::load(&inner.pool, case.trade_id)
        .await?
        .is_some()
    {
        return Err(peer_fault(
            "this trade is in dispute here: the decision says where its coins go",
        ));
    }
    let (escrow, inputs) = escrow_inputs(inner, case).await?;
    if inputs.iter().any(|i| i.funder != funder) {
        return Err(peer_fault(format!(
            "the {}'s escrow output holds coins: only both parties or a decision can move them",
            funder.other().as_str()
        )));
    }
    let mut psbt = decode_psbt(&request.psbt).map_err(peer_fault)?;
    let spent = psbt
        .unsigned_tx
        .input
        .iter()
        .map(|txin| {
            inputs
                .iter()
                .find(|i| i.outpoint == txin.previous_output)
                .cloned()
                .ok_or_else(|| {
                    peer_fault(format!(
                        "the return spends {}, not an unspent output of the asker's escrow",
                        txin.previous_output
                    ))
                })
        })
        .collect::<Result<Vec<_>>>()?;
    let total: u64 = spent.iter().map(|i| i.value.to_sat()).sum();
    let funder_key = match funder {
        Party::Buyer => escrow.parties().buyer,
        Party::Seller => escrow.parties().seller,
    };
    let plan = SpendPlan {
        chain: case.chain,
        inputs: spent,
        outputs: settle::return_outputs(case.chain, case.network, address, &funder_key, total)?,
        fee_payer: 0,
        path: SpendPath::Multisig,
    };
    let backend = inner
        .chain
        .clone()
        .ok_or_else(|| Error::Internal("no chain backend configured".into()))?;
    let rate = backend.fee_rate().await?;
    let max = FeeRate::from_sat_per_kwu(rate.to_sat_per_kwu().saturating_mul(MAX_FEE_RATE_FACTOR));
    check_psbt(&psbt, &escrow, &plan, max).map_err(|e| peer_fault(format!("the return: {e}")))?;
    let key =
        arbitrator_trade_keypair(&inner.escrow_root, case.chain, case.network, &case.trade_id)
            .map_err(peer_fault)?;
    sign_psbt(&mut psbt, &escrow, &key).map_err(peer_fault)?;
    tracing::info!(trade_id = %case.trade_id, funder = funder.as_str(), total, "co-signed the return of a funder's own coins");
    Ok(encode_psbt(&psbt))
}
