//! A trade's escrow as stored: the row (keys, addresses, deadlines, what the chain showed, the release
//! and the returns) and its loading and saving. Reads and writes `trade_escrow`; never calls the chain.

use std::str::FromStr;

use sqlx::{Row, SqliteConnection};
use uuid::Uuid;

use super::{USEFUL_OUTPUT_DUST_FACTOR, escrow_refusal, internal, sql};
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

pub(in crate::trading) async fn load(
    conn: &mut SqliteConnection,
    trade_id: Uuid,
) -> Result<Option<EscrowRow>> {
    let Some(r) = sqlx::query(
        "SELECT e.*, t.created_at AS trade_created_at FROM trade_escrow e \
         JOIN trades t ON t.id = e.trade_id WHERE e.trade_id = ?",
    )
    .bind(trade_id.to_string())
    .fetch_optional(conn)
    .await
    .map_err(sql)?
    else {
        return Ok(None);
    };
    let get_u64 = |name: &str| -> Result<u64> {
        let v: i64 = r.try_get(name).map_err(sql)?;
        u64::try_from(v).map_err(|e| internal(name, e))
    };
    let chain: String = r.try_get("chain").map_err(sql)?;
    let network: String = r.try_get("network").map_err(sql)?;
    let side: Party = r.try_get("side").map_err(sql)?;
    let funding_txids: String = r.try_get("funding_txids").map_err(sql)?;
    let pending_funding: String = r.try_get("pending_funding").map_err(sql)?;
    let returns: String = r.try_get("returns").map_err(sql)?;
    Ok(Some(EscrowRow {
        chain: Chain::from_str(&chain).map_err(|e| internal("stored chain", e))?,
        network: Network::from_str(&network).map_err(|e| internal("stored network", e))?,
        side,
        my_pubkey: r.try_get("my_pubkey").map_err(sql)?,
        my_address: r.try_get("my_address").map_err(sql)?,
        keys_sent: r.try_get::<i64, _>("keys_sent").map_err(sql)? == 1,
        peer_pubkey: r.try_get("peer_pubkey").map_err(sql)?,
        peer_address: r.try_get("peer_address").map_err(sql)?,
        arbitrator: r.try_get("arbitrator").map_err(sql)?,
        arbitrator_pubkey: r.try_get("arbitrator_pubkey").map_err(sql)?,
        backup_arbitrator: r.try_get("backup_arbitrator").map_err(sql)?,
        backup_arbitrator_pubkey: r.try_get("backup_arbitrator_pubkey").map_err(sql)?,
        escrow_address: r.try_get("escrow_address").map_err(sql)?,
        buyer_escrow_address: r.try_get("buyer_escrow_address").map_err(sql)?,
        amount: get_u64("amount")?,
        buyer_deposit: get_u64("buyer_deposit")?,
        seller_deposit: get_u64("seller_deposit")?,
        funding_deadline: r.try_get("funding_deadline").map_err(sql)?,
        payment_deadline: r.try_get("payment_deadline").map_err(sql)?,
        funded_amount: get_u64("funded_amount")?,
        seller_funded: get_u64("seller_funded")?,
        buyer_funded: get_u64("buyer_funded")?,
        funding_confirmations: u32::try_from(get_u64("funding_confirmations")?).unwrap_or(u32::MAX),
        funding_txids: serde_json::from_str(&funding_txids)
            .map_err(|e| internal("stored funding txids", e))?,
        release_psbt: r.try_get("release_psbt").map_err(sql)?,
        release_txid: r.try_get("release_txid").map_err(sql)?,
        broadcast_tx: r.try_get("broadcast_tx").map_err(sql)?,
        release_height: r.try_get("release_height").map_err(sql)?,
        anchor_tx: r.try_get("anchor_tx").map_err(sql)?,
        anchor_how: r.try_get("anchor_how").map_err(sql)?,
        anchor_done: r.try_get::<i64, _>("anchor_done").map_err(sql)? == 1,
        release_confirmations: u32::try_from(get_u64("release_confirmations")?).unwrap_or(u32::MAX),
        case_sent: r.try_get::<i64, _>("case_sent").map_err(sql)? == 1,
        backup_case_sent: r.try_get::<i64, _>("backup_case_sent").map_err(sql)? == 1,
        release_deadline: r.try_get("release_deadline").map_err(sql)?,
        returns: serde_json::from_str(&returns).map_err(|e| internal("stored returns", e))?,
        incoming_return: r.try_get("incoming_return").map_err(sql)?,
        trade_created_at: r.try_get("trade_created_at").map_err(sql)?,
        pending_funding: serde_json::from_str(&pending_funding)
            .map_err(|e| internal("stored pending funding", e))?,
    }))
}

pub(super) async fn save(conn: &mut SqliteConnection, trade_id: Uuid, e: &EscrowRow) -> Result<()> {
    sqlx::query(
        "UPDATE trade_escrow SET my_address = ?, keys_sent = ?, peer_pubkey = ?, peer_address = ?, \
         arbitrator = ?, arbitrator_pubkey = ?, escrow_address = ?, funding_deadline = ?, \
         payment_deadline = ?, funded_amount = ?, funding_confirmations = ?, funding_txids = ?, \
         release_psbt = ?, release_txid = ?, release_confirmations = ?, release_deadline = ?, \
         backup_arbitrator = ?, backup_arbitrator_pubkey = ?, buyer_escrow_address = ?, \
         seller_funded = ?, buyer_funded = ?, returns = ?, incoming_return = ?, broadcast_tx = ?, \
         release_height = ?, anchor_tx = ?, anchor_how = ?, anchor_done = ?, pending_funding = ? \
         WHERE trade_id = ?",
    )
    .bind(&e.my_address)
    .bind(i64::from(e.keys_sent))
    .bind(&e.peer_pubkey)
    .bind(&e.peer_address)
    .bind(&e.arbitrator)
    .bind(&e.arbitrator_pubkey)
    .bind(&e.escrow_address)
    .bind(e.funding_deadline)
    .bind(e.payment_deadline)
    .bind(i64::try_from(e.funded_amount).unwrap_or(i64::MAX))
    .bind(i64::from(e.funding_confirmations))
    .bind(serde_json::to_string(&e.funding_txids).map_err(|e| internal("funding txids", e))?)
    .bind(&e.release_psbt)
    .bind(&e.release_txid)
    .bind(i64::from(e.release_confirmations))
    .bind(e.release_deadline)
    .bind(&e.backup_arbitrator)
    .bind(&e.backup_arbitrator_pubkey)
    .bind(&e.buyer_escrow_address)
    .bind(i64::try_from(e.seller_funded).unwrap_or(i64::MAX))
    .bind(i64::try_from(e.buyer_funded).unwrap_or(i64::MAX))
    .bind(serde_json::to_string(&e.returns).map_err(|e| internal("returns", e))?)
    .bind(&e.incoming_return)
    .bind(&e.broadcast_tx)
    .bind(e.release_height)
    .bind(&e.anchor_tx)
    .bind(&e.anchor_how)
    .bind(i64::from(e.anchor_done))
    .bind(serde_json::to_string(&e.pending_funding).map_err(|e| internal("pending funding", e))?)
    .bind(trade_id.to_string())
    .execute(conn)
    .await
    .map_err(sql)?;
    Ok(())
}

pub(in crate::trading) async fn load_row(
    inner: &Inner,
    trade_id: Uuid,
) -> Result<Option<EscrowRow>> {
    let mut conn = inner.pool.acquire().await.map_err(sql)?;
    load(&mut conn, trade_id).await
}
