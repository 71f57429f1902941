//! Other peers' reputations read back: every holder's set from the DHT, each receipt checked and its escrow
//! looked up on this node's chain (the answer remembered), summed up.

use std::collections::{HashMap, HashSet};

use futures::future::join_all;
use libp2p::PeerId;

use super::{MAX_HOLDERS, publish::own_set};
use crate::{
    chain::ChainBackend,
    error::Result,
    reputation::{
        EscrowProof, ReceiptCheck, Reputation, SignedHolderSet, check_on_chain, holder_key,
        subject_key,
        summary::{collect, summarize},
    },
    store::now_ms,
    trading::{desk::Inner, errors::internal, store},
};

/// `peer`'s reputation as this node verifies it: every holder's set from the DHT (this node's own from
/// its database), each receipt checked, escrows on this node's chain.
pub(super) async fn reputation(inner: &Inner, peer: PeerId) -> Result<Reputation> {
    let mut holders: HashSet<PeerId> = match inner.net.get_providers(subject_key(&peer)).await {
        Ok(p) => p,
        Err(e) => {
            tracing::debug!(error = %e, "no providers of the peer's receipts found");
            HashSet::new()
        }
    };
    holders.insert(peer);
    let me = inner.me.peer;
    let mine = own_set(inner).await?;
    if mine
        .receipts
        .iter()
        .any(|r| r.verify().is_ok_and(|v| v.names(&peer)))
    {
        holders.insert(me);
    }
    let reads = holders
        .into_iter()
        .filter(|h| *h != me)
        .take(MAX_HOLDERS)
        .map(|holder| async move {
            let got = inner.net.get_record(holder_key(&holder)).await;
            (holder, got)
        });
    let mut sets = Vec::new();
    if peer == me
        || mine
            .receipts
            .iter()
            .any(|r| r.verify().is_ok_and(|v| v.names(&peer)))
    {
        sets.push((me, mine));
    }
    for (holder, got) in join_all(reads).await {
        match got {
            Ok(Some(bytes)) => match SignedHolderSet::verify(&bytes, now_ms()) {
                Ok((h, set)) if h == holder => sets.push((h, set)),
                Ok((h, _)) => tracing::debug!(%holder, %h, "a set under another holder's key"),
                Err(e) => tracing::debug!(%holder, error = %e, "a receipt set refused"),
            },
            Ok(None) => {}
            Err(e) => tracing::debug!(%holder, error = %e, "no receipt set found"),
        }
    }
    let collected = collect(&peer, &sets);
    let mut checks = HashMap::new();
    for r in &collected.receipts {
        let Some(proof) = &r.body.escrow else {
            continue;
        };
        checks.insert(r.id, checked(inner, r.id, proof).await?);
    }
    let seen = store::receipts::offers_seen(&inner.pool, &peer).await?;
    let seen = seen.and_then(|(a, b)| Some((a?, b?)));
    Ok(summarize(&peer, collected, &checks, seen))
}

pub(super) fn backend_of(
    inner: &Inner,
) -> Option<(
    &dyn ChainBackend,
    crate::escrow::Chain,
    crate::escrow::Network,
)> {
    inner
        .chain
        .as_deref()
        .map(|b| (b as &dyn ChainBackend, b.chain(), b.network()))
}

/// A receipt's escrow checked on this node's chain, remembered once the chain said yes or no.
async fn checked(inner: &Inner, id: [u8; 32], proof: &EscrowProof) -> Result<ReceiptCheck> {
    let known = store::receipts::check_of(&inner.pool, &id).await?;
    if let Some(check) = known.and_then(|k| serde_json::from_str::<ReceiptCheck>(&k).ok()) {
        return Ok(check);
    }
    let check = check_on_chain(backend_of(inner), proof).await;
    if matches!(check, ReceiptCheck::Verified | ReceiptCheck::Failed { .. }) {
        let result = serde_json::to_string(&check).map_err(|e| internal("a check", e))?;
        store::receipts::save_check(&inner.pool, &id, result, now_ms()).await?;
    }
    Ok(check)
}
