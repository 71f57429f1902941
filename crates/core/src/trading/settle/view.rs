//! What the shells show of an escrow: the view types, and building them from the stored row and the
//! arbitrator's decision. Read only: never writes the store or calls the chain.

use sqlx::SqliteConnection;
use uuid::Uuid;

use super::row::{EscrowRow, PendingFunding, load};
use crate::{
    error::Result,
    escrow::{Chain, EscrowScript, Network, Party, Timelocks, decode_psbt, find_anchor},
    trading::store,
};

/// What the shells show of an escrow.
#[derive(
    Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, ts_rs::TS, utoipa::ToSchema,
)]
pub struct EscrowView {
    pub chain: Chain,
    pub network: Network,
    /// This node's side.
    pub side: Party,
    /// Where this node sends its coins: its own escrow output's address.
    pub address: Option<String>,
    /// The seller's escrow output (amount and deposit) and the buyer's (deposit): each party funds its
    /// own, so the chain shows whose coins are whose.
    pub seller_escrow_address: Option<String>,
    pub buyer_escrow_address: Option<String>,
    /// What the escrow must hold: the amount and both deposits.
    pub required: u64,
    pub amount: u64,
    pub buyer_deposit: u64,
    pub seller_deposit: u64,
    /// What this node must send to the escrow address.
    pub my_funding: u64,
    pub my_address: Option<String>,
    pub counterparty_address: Option<String>,
    pub arbitrator: Option<String>,
    /// The offer's second arbitrator, who can stand in for the first after the backup lock.
    pub backup_arbitrator: Option<String>,
    /// What both outputs hold (outputs worth counting), and each.
    pub funded: u64,
    pub seller_funded: u64,
    pub buyer_funded: u64,
    /// Blocks after an output confirmed when the backup arbitrator may stand in, and when its funder may
    /// take it back alone.
    pub backup_after_blocks: u32,
    pub reclaim_after_blocks: u32,
    pub funding_confirmations: u32,
    /// The transactions that funded the escrow, as the chain watcher saw them on its address (confirmed
    /// outputs only), first seen first; kept after the escrow is spent.
    pub funding_txids: Vec<String>,
    /// Funding the chain node holds in its mempool, not in a block yet ("seen, unconfirmed"); it counts
    /// once confirmed.
    pub pending_funding: Vec<PendingFunding>,
    pub funding_deadline: Option<i64>,
    pub payment_deadline: Option<i64>,
    /// Once the seller confirmed the payment: when the release must be on the chain.
    pub release_deadline: Option<i64>,
    pub release_txid: Option<String>,
    pub release_confirmations: u32,
    /// Coins going back to whoever sent them: a cancelled or expired trade's funding, surplus, late coins.
    pub returns: Vec<ReturnView>,
    /// The arbitrator's decision, once this node took it (Resolved).
    pub decision: Option<DecisionView>,
    /// The fee reserve of the release (once the seller signed it) or of this node's resolution.
    pub fee_reserve: Option<ReserveView>,
    /// When the counterparty last stored this node's sealed recovery copy of the trade (unix ms): from
    /// then on, the seed words alone bring the trade back.
    pub recovery_copy_at: Option<i64>,
    /// When the arbitrator last stored one (it keeps copies while the escrow holds coins): the trade
    /// comes back from the seed words even when the counterparty is gone.
    pub arbitrator_copy_at: Option<i64>,
}

/// A payout's fee reserve: a small output of a release (the buyer's) or a resolution (each party's with
/// a share) to the party's own key, carved from its payout, that its node spends on to its payout
/// address: at once with more fee when the payout is stuck at a low fee (it lifts it), otherwise once the
/// payout confirmed.
#[derive(
    Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, ts_rs::TS, utoipa::ToSchema,
)]
pub struct ReserveView {
    /// Base units set aside from the payout.
    pub amount: u64,
    /// The party's node spent it: `bumped` (it lifted the stuck payout) or `forwarded` (after the
    /// payout confirmed); `None` while set aside. Only that party's node knows.
    pub how: Option<String>,
    pub txid: Option<String>,
    /// Base units it brought to the payout address (the reserve less the child's fee).
    pub paid_on: Option<u64>,
    /// The child confirmed.
    pub done: bool,
}

/// The arbitrator's decision as a party shows it.
#[derive(
    Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, ts_rs::TS, utoipa::ToSchema,
)]
pub struct DecisionView {
    pub to: crate::protocol::roles::Winner,
    /// Base units of the escrow each party gets; the fee comes out of the larger share.
    pub buyer_share: u64,
    pub seller_share: u64,
    /// The arbitrator's words.
    pub reason: String,
    /// 1 for the first decision, more when the arbitrator decided again after a refusal.
    pub round: u32,
}

/// A return of escrow coins to the party that sent them.
#[derive(
    Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, ts_rs::TS, utoipa::ToSchema,
)]
pub struct ReturnView {
    /// Whose coins.
    pub funder: Party,
    /// What the escrow outputs held (the fee comes out of it).
    pub amount: u64,
    pub address: String,
    /// Once broadcast.
    pub txid: Option<String>,
    /// `signed` (this node signed the counterparty's return; it broadcasts), `cosigned` (both parties
    /// signed and it was broadcast), `arbitrated` (the arbitrator co-signed it: the other output held
    /// nothing), `reclaimed` (taken back by its funder alone after the reclaim lock), or `arbitrator
    /// refused: REASON` (no txid; the counterparty or the reclaim lock returns the coins).
    pub how: String,
    /// The return's fee reserve, when this node broadcast it and kept one: its child's txid once spent,
    /// `bumped` (it lifted the stuck return) or `forwarded`, and whether that confirmed.
    pub reserve_txid: Option<String>,
    pub reserve_how: Option<String>,
    pub reserve_done: bool,
}

pub(in crate::trading) async fn view(
    conn: &mut SqliteConnection,
    trade_id: Uuid,
) -> Result<Option<EscrowView>> {
    let resolution = store::last_resolution(conn, trade_id).await?;
    let decision = resolution
        .as_deref()
        .and_then(crate::trading::arbitrate::decision_of)
        .map(|r| DecisionView {
            to: r.winner,
            buyer_share: r.buyer_share,
            seller_share: r.seller_share,
            reason: r.reason,
            round: r.round,
        });
    let (recovery_copy_at, arbitrator_copy_at) = store::recovery_copies_at(conn, trade_id).await?;
    Ok(load(conn, trade_id).await?.map(|r| EscrowView {
        recovery_copy_at,
        arbitrator_copy_at,
        decision,
        fee_reserve: reserve_view(&r),
        chain: r.chain,
        network: r.network,
        side: r.side,
        address: r.escrow_address_of(r.side).map(str::to_owned),
        seller_escrow_address: r.escrow_address.clone(),
        buyer_escrow_address: r.buyer_escrow_address.clone(),
        required: r.required(),
        amount: r.amount,
        buyer_deposit: r.buyer_deposit,
        seller_deposit: r.seller_deposit,
        my_funding: match r.side {
            Party::Buyer => r.buyer_deposit,
            Party::Seller => r.amount + r.seller_deposit,
        },
        my_address: r.my_address.clone(),
        counterparty_address: r.peer_address.clone(),
        arbitrator: r.arbitrator.clone(),
        backup_arbitrator: r.backup_arbitrator.clone(),
        funded: r.funded_amount,
        seller_funded: r.seller_funded,
        buyer_funded: r.buyer_funded,
        backup_after_blocks: u32::from(Timelocks::of(r.chain, r.network).backup),
        reclaim_after_blocks: u32::from(Timelocks::of(r.chain, r.network).reclaim),
        funding_confirmations: r.funding_confirmations,
        funding_txids: r.funding_txids.clone(),
        pending_funding: r.pending_funding.clone(),
        funding_deadline: r.funding_deadline,
        payment_deadline: r.payment_deadline,
        release_deadline: r.release_deadline,
        release_txid: r.release_txid.clone(),
        release_confirmations: r.release_confirmations,
        returns: r
            .returns
            .iter()
            .map(|x| ReturnView {
                funder: x.funder,
                amount: x.amount,
                address: x.address.clone(),
                txid: x.txid.clone(),
                how: x.how.clone(),
                reserve_txid: x
                    .reserve_tx
                    .as_deref()
                    .and_then(|h| {
                        bitcoin::consensus::encode::deserialize_hex::<bitcoin::Transaction>(h).ok()
                    })
                    .map(|c| c.compute_txid().to_string()),
                reserve_how: x.reserve_how.clone(),
                reserve_done: x.reserve_done,
            })
            .collect(),
    }))
}

/// The release's fee reserve as the shells show it, from the release the seller signed.
fn reserve_view(r: &EscrowRow) -> Option<ReserveView> {
    // This node's own reserve in what it broadcast (a release or a resolution), else the buyer's in the
    // release the seller signed.
    let (parent, key) = match &r.broadcast_tx {
        Some(bytes) => (
            bitcoin::consensus::deserialize::<bitcoin::Transaction>(bytes).ok()?,
            &r.my_pubkey,
        ),
        None => (
            decode_psbt(r.release_psbt.as_deref()?).ok()?.unsigned_tx,
            match r.side {
                Party::Buyer => &r.my_pubkey,
                Party::Seller => r.peer_pubkey.as_ref()?,
            },
        ),
    };
    let key = EscrowScript::parse_key(key).ok()?;
    let (_, amount) = find_anchor(&parent, &key)?;
    let child: Option<bitcoin::Transaction> = r
        .anchor_tx
        .as_deref()
        .and_then(|b| bitcoin::consensus::deserialize(b).ok());
    Some(ReserveView {
        amount: amount.to_sat(),
        how: r.anchor_how.clone(),
        txid: child.as_ref().map(|c| c.compute_txid().to_string()),
        paid_on: child
            .as_ref()
            .and_then(|c| c.output.first())
            .map(|o| o.value.to_sat()),
        done: r.anchor_done,
    })
}
