//! A trade's escrow as stored (`trade_escrow`): its first row once the terms are agreed, the row loaded
//! and saved whole, the columns written alone (a resolution's broadcast, a counterparty's return dealt
//! with), the escrow addresses no two trades share, and the escrows the watcher tends. Also when the
//! trade's recovery copies were last stored, which the escrow view shows.

use std::{str::FromStr, sync::LazyLock};

use sqlx::{Row, SqliteConnection, SqlitePool};
use uuid::Uuid;

use super::{internal, sql};
use crate::{
    error::Result,
    escrow::{Chain, Network, Party},
    protocol::settlement::TradeState,
    trading::settle::EscrowRow,
};

/// A trade's escrow as first stored, once the terms are agreed.
pub(in crate::trading) struct NewEscrow<'a> {
    pub trade_id: Uuid,
    pub chain: Chain,
    pub network: Network,
    pub side: Party,
    pub my_pubkey: Vec<u8>,
    pub my_address: Option<&'a str>,
    pub arbitrator: Option<String>,
    pub amount: u64,
    pub buyer_deposit: u64,
    pub seller_deposit: u64,
    pub backup_arbitrator: Option<String>,
}

pub(in crate::trading) async fn insert_escrow(
    conn: &mut SqliteConnection,
    new: NewEscrow<'_>,
) -> Result<()> {
    let i64_of = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    sqlx::query(
        "INSERT INTO trade_escrow (trade_id, chain, network, side, my_pubkey, my_address, arbitrator, \
         amount, buyer_deposit, seller_deposit, backup_arbitrator) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(new.trade_id.to_string())
    .bind(new.chain.to_string())
    .bind(new.network.to_string())
    .bind(new.side.as_str())
    .bind(new.my_pubkey)
    .bind(new.my_address)
    .bind(new.arbitrator)
    .bind(i64_of(new.amount))
    .bind(i64_of(new.buyer_deposit))
    .bind(i64_of(new.seller_deposit))
    .bind(new.backup_arbitrator)
    .execute(&mut *conn)
    .await
    .map_err(sql)?;
    Ok(())
}

/// The trade's escrow row, with when the trade began; `None` when the trade has no escrow.
pub(in crate::trading) async fn load_escrow(
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

/// Writes back what settlement changes in the row (never its chain, side, keys of its own, amounts or
/// the dispute's columns).
pub(in crate::trading) async fn save_escrow(
    conn: &mut SqliteConnection,
    trade_id: Uuid,
    e: &EscrowRow,
) -> Result<()> {
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

/// Another trade uses the seller's or the buyer's escrow address already.
pub(in crate::trading) async fn escrow_address_taken(
    conn: &mut SqliteConnection,
    trade_id: Uuid,
    seller: &str,
    buyer: &str,
) -> Result<bool> {
    let taken: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM trade_escrow WHERE trade_id <> ? AND \
         (escrow_address IN (?, ?) OR buyer_escrow_address IN (?, ?))",
    )
    .bind(trade_id.to_string())
    .bind(seller)
    .bind(buyer)
    .bind(seller)
    .bind(buyer)
    .fetch_one(&mut *conn)
    .await
    .map_err(sql)?;
    Ok(taken > 0)
}

/// The resolution `tx` this node broadcast at tip `height`, kept to broadcast again and to tend its fee
/// reserve.
pub(in crate::trading) async fn save_resolution_broadcast(
    conn: &mut SqliteConnection,
    trade_id: Uuid,
    tx: &bitcoin::Transaction,
    height: u64,
) -> Result<()> {
    sqlx::query(
        "UPDATE trade_escrow SET release_txid = ?, broadcast_tx = ?, release_height = ? \
         WHERE trade_id = ?",
    )
    .bind(tx.compute_txid().to_string())
    .bind(bitcoin::consensus::serialize(tx))
    .bind(i64::try_from(height).unwrap_or(i64::MAX))
    .bind(trade_id.to_string())
    .execute(&mut *conn)
    .await
    .map_err(sql)?;
    Ok(())
}

/// Forgets the counterparty's return `bytes` once dealt with (unless another came meanwhile).
pub(in crate::trading) async fn clear_incoming_return(
    conn: &mut SqliteConnection,
    trade_id: Uuid,
    bytes: &[u8],
) -> Result<()> {
    sqlx::query(
        "UPDATE trade_escrow SET incoming_return = NULL WHERE trade_id = ? AND incoming_return = ?",
    )
    .bind(trade_id.to_string())
    .bind(bytes)
    .execute(&mut *conn)
    .await
    .map_err(sql)?;
    Ok(())
}

/// The escrow trades the watcher tends, with their state: the open ones, and the closed ones whose
/// escrow address is known and that changed after `since` (unix ms).
pub(in crate::trading) async fn watched_escrows(
    pool: &SqlitePool,
    since: i64,
) -> Result<Vec<(Uuid, TradeState)>> {
    static QUERY: LazyLock<String> = LazyLock::new(|| {
        format!(
            "SELECT t.id, t.state FROM trades t JOIN trade_escrow e ON e.trade_id = t.id \
             WHERE t.state NOT IN {closed} \
             OR (t.state IN {closed} AND e.escrow_address IS NOT NULL AND t.updated_at > ?)",
            closed = TradeState::closed_sql()
        )
    });
    let rows: Vec<(String, TradeState)> = sqlx::query_as(QUERY.as_str())
        .bind(since)
        .fetch_all(pool)
        .await
        .map_err(sql)?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, state)| Some((Uuid::parse_str(&id).ok()?, state)))
        .collect())
}

/// When the counterparty, and when anyone else (the arbitrator), last stored this node's recovery copy
/// of the trade (unix ms).
pub(in crate::trading) async fn recovery_copies_at(
    conn: &mut SqliteConnection,
    trade_id: Uuid,
) -> Result<(Option<i64>, Option<i64>)> {
    let at: Option<(Option<i64>, Option<i64>)> = sqlx::query_as(
        "SELECT MAX(CASE WHEN s.holder = t.counterparty THEN s.sent_at END), \
         MAX(CASE WHEN s.holder != t.counterparty THEN s.sent_at END) \
         FROM trades t LEFT JOIN recovery_sent s ON s.trade_id = t.id WHERE t.id = ?",
    )
    .bind(trade_id.to_string())
    .fetch_optional(&mut *conn)
    .await
    .map_err(sql)?;
    Ok(at.unwrap_or_default())
}
