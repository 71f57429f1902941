//! A trade's escrow as stored: the row (keys, addresses, deadlines, what the chain showed, the release
//! and the returns) and what it says of the escrow. Its SQL (`trade_escrow`) is the store's
//! (`store/escrow.rs`); never calls the chain.

use uuid::Uuid;

use super::{USEFUL_OUTPUT_DUST_FACTOR, escrow_refusal, sql};
use crate::{
    error::Result,
    escrow::{Chain, EscrowParties, EscrowScript, Network, Party, Timelocks, TradeEscrow},
    trading::desk::Inner,
};

/// A trade's escrow as stored.
#[derive(Debug, Clone)]
pub(in crate::trading) struct EscrowRow {
    pub chain: Chain,
    pub network: Network,
    pub side: Party,
    pub my_pubkey: Vec<u8>,
    pub my_address: Option<String>,
    pub keys_sent: bool,
    pub peer_pubkey: Option<Vec<u8>>,
    pub peer_address: Option<String>,
    pub arbitrator: Option<String>,
    pub arbitrator_pubkey: Option<Vec<u8>>,
    /// The offer's second arbitrator, whose key opens the escrow's backup branch.
    pub backup_arbitrator: Option<String>,
    pub backup_arbitrator_pubkey: Option<Vec<u8>>,
    /// The seller's escrow output (amount and deposit).
    pub escrow_address: Option<String>,
    /// The buyer's escrow output (deposit).
    pub buyer_escrow_address: Option<String>,
    pub amount: u64,
    pub buyer_deposit: u64,
    pub seller_deposit: u64,
    pub funding_deadline: Option<i64>,
    pub payment_deadline: Option<i64>,
    pub funded_amount: u64,
    /// What each output holds in outputs worth counting.
    pub seller_funded: u64,
    pub buyer_funded: u64,
    pub funding_confirmations: u32,
    /// The transactions whose outputs the watcher saw on the escrow address, first seen first.
    pub funding_txids: Vec<String>,
    pub release_psbt: Option<Vec<u8>>,
    pub release_txid: Option<String>,
    /// The release or resolution this node broadcast (consensus bytes), broadcast again if lost.
    pub broadcast_tx: Option<Vec<u8>>,
    /// The tip when this node broadcast the release: the reserve lifts it after
    /// [`BUMP_AFTER_BLOCKS`](super::BUMP_AFTER_BLOCKS).
    pub release_height: Option<i64>,
    /// The child spending the release's fee reserve, `bumped` (lifting an unconfirmed release) or
    /// `forwarded` (after it confirmed), and whether it confirmed.
    pub anchor_tx: Option<Vec<u8>>,
    pub anchor_how: Option<String>,
    pub anchor_done: bool,
    pub release_confirmations: u32,
    /// This party's dispute case reached the arbitrator.
    pub case_sent: bool,
    /// It reached the backup arbitrator instead (the first did not take it, the backup lock passed).
    pub backup_case_sent: bool,
    pub release_deadline: Option<i64>,
    pub returns: Vec<ReturnRecord>,
    pub incoming_return: Option<Vec<u8>>,
    /// When the trade began (unix ms): no coins reached its escrow before, so watching starts there.
    pub trade_created_at: i64,
    /// Funding outputs in the mempool, not in a block yet, as the watcher last saw them.
    pub pending_funding: Vec<PendingFunding>,
}

/// An output paying into the escrow that the chain node holds in its mempool: seen, not confirmed.
#[derive(
    Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, ts_rs::TS, utoipa::ToSchema,
)]
pub struct PendingFunding {
    pub txid: String,
    pub vout: u32,
    /// Whose escrow output it pays.
    pub funder: Party,
    /// Base units.
    #[ts(type = "number")]
    pub value: u64,
}

/// A return of coins that are nobody else's to the party that sent them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(in crate::trading) struct ReturnRecord {
    pub funder: Party,
    pub outpoints: Vec<String>,
    pub amount: u64,
    pub address: String,
    pub txid: Option<String>,
    /// `cosigned` (both parties), `reclaimed` (the funder alone after the reclaim lock) or `signed` (this
    /// node signed the counterparty's return and sent it).
    pub how: String,
    /// The transaction as broadcast (hex), to broadcast again if the chain node loses it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tx: Option<String>,
    /// The tip when it was broadcast, and its fee reserve's child (hex), `bumped` or `forwarded`, and
    /// whether that confirmed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reserve_tx: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reserve_how: Option<String>,
    #[serde(default)]
    pub reserve_done: bool,
}

impl ReturnRecord {
    /// A return of `amount` to `address` not broadcast by this node; `how` says why (signed for the
    /// counterparty, refused by the arbitrator, lost and to be made again).
    pub(in crate::trading) fn unsent(
        funder: Party,
        outpoints: Vec<String>,
        amount: u64,
        address: String,
        how: String,
    ) -> Self {
        Self {
            funder,
            outpoints,
            amount,
            address,
            txid: None,
            how,
            tx: None,
            height: None,
            reserve_tx: None,
            reserve_how: None,
            reserve_done: false,
        }
    }

    /// The return `tx` this node broadcast at tip `height`, made `how`, kept to send again and to tend
    /// its fee reserve.
    pub(in crate::trading) fn broadcast(
        funder: Party,
        amount: u64,
        address: String,
        tx: &bitcoin::Transaction,
        how: &str,
        height: Option<u64>,
    ) -> Self {
        Self {
            outpoints: tx
                .input
                .iter()
                .map(|i| i.previous_output.to_string())
                .collect(),
            txid: Some(tx.compute_txid().to_string()),
            tx: Some(bitcoin::consensus::encode::serialize_hex(tx)),
            height: height.and_then(|h| i64::try_from(h).ok()),
            ..Self::unsent(funder, Vec::new(), amount, address, how.into())
        }
    }

    /// This return forgotten, so its coins are returned anew: `how` says why.
    pub(super) fn forgotten(&self, how: String) -> Self {
        Self::unsent(
            self.funder,
            self.outpoints.clone(),
            self.amount,
            self.address.clone(),
            how,
        )
    }
}

impl EscrowRow {
    /// When coins could first reach this escrow (unix seconds): the trade's start.
    pub fn birth(&self) -> u64 {
        u64::try_from(self.trade_created_at / 1000).unwrap_or(0)
    }

    pub fn script(&self) -> Result<Option<TradeEscrow>> {
        self.keys()
    }

    pub fn buyer_address_text(&self) -> Option<String> {
        self.buyer_address().map(str::to_owned)
    }

    pub fn seller_address_text(&self) -> Option<String> {
        self.seller_address().map(str::to_owned)
    }

    /// What the escrow must hold: the amount plus both deposits.
    pub fn required(&self) -> u64 {
        self.amount + self.buyer_deposit + self.seller_deposit
    }

    pub(in crate::trading) fn keys(&self) -> Result<Option<TradeEscrow>> {
        let (Some(peer), Some(arbitrator)) = (&self.peer_pubkey, &self.arbitrator_pubkey) else {
            return Ok(None);
        };
        let backup = match (&self.backup_arbitrator, &self.backup_arbitrator_pubkey) {
            (None, _) => None,
            (Some(_), None) => return Ok(None),
            (Some(_), Some(key)) => Some(EscrowScript::parse_key(key).map_err(escrow_refusal)?),
        };
        let mine = EscrowScript::parse_key(&self.my_pubkey).map_err(escrow_refusal)?;
        let theirs = EscrowScript::parse_key(peer).map_err(escrow_refusal)?;
        let arbitrator = EscrowScript::parse_key(arbitrator).map_err(escrow_refusal)?;
        let (buyer, seller) = match self.side {
            Party::Buyer => (mine, theirs),
            Party::Seller => (theirs, mine),
        };
        let parties = EscrowParties {
            buyer,
            seller,
            arbitrator,
            backup,
        };
        Ok(Some(
            TradeEscrow::new(parties, Timelocks::of(self.chain, self.network))
                .map_err(escrow_refusal)?,
        ))
    }

    /// The least an escrow output must hold to count.
    pub(super) fn useful(&self, escrow: &TradeEscrow) -> u64 {
        let spk = escrow.of(Party::Seller).script_pubkey();
        self.chain.dust_limit(&spk).to_sat() * USEFUL_OUTPUT_DUST_FACTOR
    }

    /// What `funder` must lock.
    pub fn owed_by(&self, funder: Party) -> u64 {
        match funder {
            Party::Seller => self.amount + self.seller_deposit,
            Party::Buyer => self.buyer_deposit,
        }
    }

    /// Where `funder`'s coins go back to: the buyer's payout address, the seller's refund address.
    pub(in crate::trading) fn address_of(&self, funder: Party) -> Option<&str> {
        match funder {
            Party::Buyer => self.buyer_address(),
            Party::Seller => self.seller_address(),
        }
    }

    /// This party's own escrow output address.
    pub(in crate::trading) fn escrow_address_of(&self, funder: Party) -> Option<&str> {
        match funder {
            Party::Seller => self.escrow_address.as_deref(),
            Party::Buyer => self.buyer_escrow_address.as_deref(),
        }
    }

    pub(super) fn buyer_address(&self) -> Option<&str> {
        match self.side {
            Party::Buyer => self.my_address.as_deref(),
            Party::Seller => self.peer_address.as_deref(),
        }
    }

    pub(super) fn seller_address(&self) -> Option<&str> {
        match self.side {
            Party::Seller => self.my_address.as_deref(),
            Party::Buyer => self.peer_address.as_deref(),
        }
    }
}

/// The row's loading and saving are the store's (`store/escrow.rs`), under the names settlement uses.
pub(in crate::trading) use crate::trading::store::load_escrow as load;
pub(super) use crate::trading::store::save_escrow as save;

pub(in crate::trading) async fn load_row(
    inner: &Inner,
    trade_id: Uuid,
) -> Result<Option<EscrowRow>> {
    let mut conn = inner.pool.acquire().await.map_err(sql)?;
    load(&mut conn, trade_id).await
}
