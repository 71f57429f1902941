//! A receipt's escrow, checked on this node's own chain: every funding transaction in the block the receipt
//! names, and every payout there too, spending a funding output.

use std::collections::HashSet;

use bitcoin::{Txid, hashes::Hash};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::receipt::EscrowProof;
use crate::{
    chain::ChainBackend,
    escrow::{Chain, Network},
};

/// What this node's chain says about a receipt's escrow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ReceiptCheck {
    /// A trade without escrow: nothing on the chain to check.
    NoEscrow,
    /// Every transaction is where the receipt says, and the payouts spend the funding.
    Verified,
    /// The chain contradicts the receipt.
    Failed { reason: String },
    /// This node could not check it (no chain configured, another chain, the chain node unreachable).
    NotChecked { reason: String },
}

impl ReceiptCheck {
    pub fn is_refusal(&self) -> bool {
        matches!(self, Self::Failed { .. })
    }
}

fn txid(bytes: &[u8; 32]) -> Txid {
    Txid::from_byte_array(*bytes)
}

/// Checks `proof` on `backend`, which follows `chain`/`network` (`None`: this node has no chain).
pub async fn check_on_chain(
    backend: Option<(&dyn ChainBackend, Chain, Network)>,
    proof: &EscrowProof,
) -> ReceiptCheck {
    let Some((backend, chain, network)) = backend else {
        return ReceiptCheck::NotChecked {
            reason: "this node has no chain configured".into(),
        };
    };
    if (proof.chain, proof.network) != (chain, network) {
        return ReceiptCheck::NotChecked {
            reason: format!(
                "an escrow on {} {}; this node follows {} {}",
                proof.chain.name(),
                proof.network.core_name(),
                chain.name(),
                network.core_name()
            ),
        };
    }
    let mut funding = HashSet::new();
    for at in &proof.funding {
        let id = txid(&at.txid);
        match backend.transaction_at(&id, at.height).await {
            Ok(Some(_)) => {
                funding.insert(id);
            }
            Ok(None) => {
                return ReceiptCheck::Failed {
                    reason: format!("funding {id} is not in block {}", at.height),
                };
            }
            Err(e) => {
                return ReceiptCheck::NotChecked {
                    reason: format!("the chain did not answer: {e}"),
                };
            }
        }
    }
    for at in &proof.payouts {
        let id = txid(&at.txid);
        match backend.transaction_at(&id, at.height).await {
            Ok(Some(tx)) => {
                if !tx
                    .input
                    .iter()
                    .any(|i| funding.contains(&i.previous_output.txid))
                {
                    return ReceiptCheck::Failed {
                        reason: format!("payout {id} spends none of the escrow's funding"),
                    };
                }
            }
            Ok(None) => {
                return ReceiptCheck::Failed {
                    reason: format!("payout {id} is not in block {}", at.height),
                };
            }
            Err(e) => {
                return ReceiptCheck::NotChecked {
                    reason: format!("the chain did not answer: {e}"),
                };
            }
        }
    }
    ReceiptCheck::Verified
}
