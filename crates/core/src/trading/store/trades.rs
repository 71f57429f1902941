//! The trade read model: one trade, or the list of them, as the shells show it (terms, role, state,
//! escrow, signed steps), assembled from the trade, channel, message and event rows. Reads only.

use std::sync::LazyLock;

use libp2p::PeerId;
use sqlx::{Row, SqliteConnection, SqlitePool};
use uuid::Uuid;

use super::{internal, progress::progress, sql};
use crate::{
    error::{Error, Result},
    offer::Offer,
    protocol::negotiation::Negotiation,
    trading::{Party, StepRecord, TradeInfo, TradeRole, TradeState, TradeTerms},
};

/// The stored negotiation of a trade, every signature verified again.
pub(in crate::trading) async fn load_negotiation(
    conn: &mut SqliteConnection,
    trade_id: Uuid,
    offer: &Offer,
) -> Result<Negotiation> {
    let transcript = super::negotiation::load_transcript(conn, trade_id)
        .await
        .map_err(|e| internal("stored negotiation", e))?;
    Negotiation::resume(offer, transcript).map_err(|e| internal("stored negotiation", e))
}

async fn trade_exists(conn: &mut SqliteConnection, trade_id: Uuid) -> Result<bool> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM trade_channels WHERE trade_id = ?")
        .bind(trade_id.to_string())
        .fetch_one(conn)
        .await
        .map_err(sql)?;
    Ok(n > 0)
}

pub(in crate::trading) fn unknown_trade(trade_id: Uuid) -> Error {
    Error::InvalidInput(format!(
        "no trade {trade_id} here: `souk trade list` shows this node's trades"
    ))
}

/// One trade as the shells show it, as seen by `me`.
pub async fn trade_info(pool: &SqlitePool, me: &PeerId, trade_id: Uuid) -> Result<TradeInfo> {
    let mut conn = pool.acquire().await.map_err(sql)?;
    trade_info_on(&mut conn, me, trade_id).await
}

pub(in crate::trading) async fn trade_info_on(
    conn: &mut SqliteConnection,
    me: &PeerId,
    trade_id: Uuid,
) -> Result<TradeInfo> {
    if !trade_exists(conn, trade_id).await? {
        return Err(unknown_trade(trade_id));
    }
    let row = sqlx::query(
        "SELECT t.created_at, t.updated_at, t.state, c.offer_json, \
         (SELECT COUNT(*) FROM messages m WHERE m.trade_id = t.id AND m.outgoing = 0 \
          AND m.read_at IS NULL) AS unread \
         FROM trades t JOIN trade_channels c ON c.trade_id = t.id WHERE t.id = ?",
    )
    .bind(trade_id.to_string())
    .fetch_one(&mut *conn)
    .await
    .map_err(sql)?;
    let offer_json: String = row.try_get("offer_json").map_err(sql)?;
    let offer: Offer =
        serde_json::from_str(&offer_json).map_err(|e| internal("stored offer", e))?;
    let negotiation = load_negotiation(conn, trade_id, &offer).await?;
    let (role, counterparty) = match negotiation
        .party_of(me)
        .map_err(|e| internal("stored trade", e))?
    {
        TradeRole::Maker => (TradeRole::Maker, negotiation.taker()),
        TradeRole::Taker => (TradeRole::Taker, negotiation.maker()),
    };
    let state: TradeState = row.try_get("state").map_err(sql)?;
    let escrow = crate::trading::settle::view(conn, trade_id).await?;
    let buyer = match role.party(negotiation.offer().side) {
        Party::Buyer => role,
        Party::Seller => role.other(),
    };
    let (waiting_for, next_step) = progress(state, role, buyer, escrow.as_ref());
    let terms = negotiation.terms();
    let unread: i64 = row.try_get("unread").map_err(sql)?;
    let me_text = me.to_base58();
    let steps = sqlx::query_as::<_, (String, String, i64)>(
        "SELECT kind, signer, created_at FROM trade_events WHERE trade_id = ? ORDER BY seq",
    )
    .bind(trade_id.to_string())
    .fetch_all(&mut *conn)
    .await
    .map_err(sql)?
    .into_iter()
    .map(|(kind, signer, at)| StepRecord {
        kind,
        at,
        mine: signer == me_text,
    })
    .collect();
    Ok(TradeInfo {
        id: trade_id,
        role,
        counterparty: counterparty.to_base58(),
        state,
        offer,
        terms: TradeTerms {
            amount: terms.amount,
            price: terms.price,
            method: terms.method.clone(),
            payout: terms.payout.clone(),
        },
        reject_reason: negotiation.reject_reason().map(str::to_owned),
        waiting_for,
        next_step,
        escrow,
        steps,
        unread: u32::try_from(unread).unwrap_or(u32::MAX),
        created_at: row.try_get("created_at").map_err(sql)?,
        updated_at: row.try_get("updated_at").map_err(sql)?,
    })
}

/// Every trade with a channel, newest activity first.
pub async fn list_trades(pool: &SqlitePool, me: &PeerId) -> Result<Vec<TradeInfo>> {
    list_trades_by(pool, me, ALL_TRADES_SQL).await
}

/// The trades not closed yet ([`TradeState::is_open`]), newest activity first.
pub async fn list_open_trades(pool: &SqlitePool, me: &PeerId) -> Result<Vec<TradeInfo>> {
    list_trades_by(pool, me, OPEN_TRADES_SQL.as_str()).await
}

const ALL_TRADES_SQL: &str = "SELECT t.id FROM trades t JOIN trade_channels c ON c.trade_id = t.id \
     ORDER BY t.updated_at DESC, t.id DESC";
static OPEN_TRADES_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT t.id FROM trades t JOIN trade_channels c ON c.trade_id = t.id \
         WHERE t.state NOT IN {} ORDER BY t.updated_at DESC, t.id DESC",
        TradeState::closed_sql()
    )
});

async fn list_trades_by(
    pool: &SqlitePool,
    me: &PeerId,
    query: &'static str,
) -> Result<Vec<TradeInfo>> {
    let mut conn = pool.acquire().await.map_err(sql)?;
    let ids: Vec<String> = sqlx::query_scalar(query)
        .fetch_all(&mut *conn)
        .await
        .map_err(sql)?;
    let mut trades = Vec::with_capacity(ids.len());
    for id in ids {
        let id = Uuid::parse_str(&id).map_err(|e| internal("stored trade id", e))?;
        trades.push(trade_info_on(&mut conn, me, id).await?);
    }
    Ok(trades)
}
