//! The escrow's coins as the chain shows them: both funders' outputs worth counting (confirmed, or with
//! the mempool's), and the ones a PSBT spends. Reads the chain only; never writes the store.

use super::{SettleError, row::EscrowRow};
use crate::{
    chain::{Backend, ChainBackend, Utxo},
    error::Result,
    escrow::{EscrowInput, Party, TradeEscrow},
};

/// The escrow's confirmed outputs worth counting, both funders', as the chain shows them now.
pub(in crate::trading) async fn escrow_utxos(
    backend: &Backend,
    row: &EscrowRow,
    escrow: &TradeEscrow,
) -> Result<Vec<(Party, Utxo)>> {
    let mut all = escrow_outputs(backend, row, escrow).await?;
    all.retain(|(_, u)| u.confirmations > 0);
    Ok(all)
}

/// [`escrow_utxos`] and the outputs still in the mempool (`confirmations` 0).
pub(in crate::trading) async fn escrow_outputs(
    backend: &Backend,
    row: &EscrowRow,
    escrow: &TradeEscrow,
) -> Result<Vec<(Party, Utxo)>> {
    let useful = row.useful(escrow);
    let scripts: Vec<_> = Party::BOTH
        .iter()
        .map(|f| escrow.of(*f).script_pubkey())
        .collect();
    backend.watch(&scripts, row.birth()).await?;
    let mut all = Vec::new();
    for funder in Party::BOTH {
        let utxos = backend.outputs(&escrow.of(funder).script_pubkey()).await?;
        all.extend(
            utxos
                .into_iter()
                .filter(|u| u.value.to_sat() >= useful)
                .map(|u| (funder, u)),
        );
    }
    Ok(all)
}

/// The escrow outputs `psbt` spends, each checked on the chain: unspent, on one of this trade's two
/// escrow scripts (which says whose coins it holds) and worth counting. Coins that came after the PSBT was
/// built are not in it; they are returned once the trade is over.
pub(in crate::trading) async fn spent_escrow_outputs(
    backend: &Backend,
    row: &EscrowRow,
    escrow: &TradeEscrow,
    psbt: &bitcoin::Psbt,
) -> std::result::Result<Vec<EscrowInput>, SettleError> {
    let utxos = escrow_utxos(backend, row, escrow).await?;
    psbt.unsigned_tx
        .input
        .iter()
        .map(|txin| {
            utxos
                .iter()
                .find(|(_, u)| u.outpoint == txin.previous_output)
                .map(|(f, u)| u.input_of(*f))
                .ok_or_else(|| {
                    SettleError::PeerPsbt(format!(
                        "the PSBT spends {}, which the chain does not show as one of this escrow's \
                         unspent outputs",
                        txin.previous_output
                    ))
                })
        })
        .collect()
}
