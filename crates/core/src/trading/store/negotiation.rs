//! Storing negotiations: the `trades` row and its signed `trade_events`, the cap on open takes of
//! an offer, and loading (and verifying again) a stored transcript. Never reads the clock.

use std::sync::LazyLock;

use libp2p::PeerId;
#[cfg(test)]
use sqlx::SqlitePool;
use uuid::Uuid;

use crate::protocol::{
    negotiation::{
        MessageKind, Negotiation, NegotiationError, NegotiationMessage, NegotiationState,
        SignedNegotiationMessage, VerifiedNegotiationMessage,
    },
    roles::TradeRole,
    state::TradeState,
};

/// The store's failures, as the negotiation's (kind `storage`).
impl From<sqlx::Error> for NegotiationError {
    fn from(e: sqlx::Error) -> Self {
        Self::Store(crate::store::StoreError::Sql(e))
    }
}

/// Open takes of an offer: its trades not closed ([`TradeState::is_open`]).
static COUNT_OPEN_TAKES_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT COUNT(*) FROM trades WHERE offer_id = ? AND state NOT IN {}",
        TradeState::closed_sql()
    )
});

/// How many takes of `offer_id` are open: recorded trades not in a closed [`TradeState`].
#[cfg(test)]
pub async fn count_open_takes(pool: &SqlitePool, offer_id: Uuid) -> Result<u32, NegotiationError> {
    let mut conn = pool.acquire().await?;
    count_open_takes_on(&mut conn, offer_id).await
}

async fn count_open_takes_on(
    conn: &mut sqlx::SqliteConnection,
    offer_id: Uuid,
) -> Result<u32, NegotiationError> {
    let n: i64 = sqlx::query_scalar(COUNT_OPEN_TAKES_SQL.as_str())
        .bind(offer_id.to_string())
        .fetch_one(conn)
        .await?;
    Ok(u32::try_from(n).unwrap_or(u32::MAX))
}

fn check_cap(open: u32, cap: u32) -> Result<(), NegotiationError> {
    if open >= cap {
        Err(NegotiationError::TooManyTakes { open, cap })
    } else {
        Ok(())
    }
}

/// `Ok` when one more take of `offer_id` stays within `cap` open takes (the engine checks the cap inside
/// [`record_negotiation`]'s transaction).
#[cfg(test)]
pub async fn check_take_capacity(
    pool: &SqlitePool,
    offer_id: Uuid,
    cap: u32,
) -> Result<(), NegotiationError> {
    check_cap(count_open_takes(pool, offer_id).await?, cap)
}

impl From<NegotiationState> for TradeState {
    fn from(state: NegotiationState) -> Self {
        match state {
            NegotiationState::Requested => Self::Requested,
            NegotiationState::Countered => Self::Countered,
            NegotiationState::Accepted => Self::Accepted,
            NegotiationState::Rejected => Self::Rejected,
        }
    }
}

/// Records an agreed negotiation as `me` (its maker or taker), in one `BEGIN IMMEDIATE` transaction: see
/// [`record_negotiation`]. Refuses a negotiation that is not agreed.
#[cfg(test)]
pub async fn record_agreed_trade(
    pool: &SqlitePool,
    negotiation: &Negotiation,
    me: &PeerId,
    cap: Option<u32>,
    now_ms: i64,
) -> Result<(), NegotiationError> {
    if negotiation.state() != NegotiationState::Accepted {
        return Err(NegotiationError::NotAgreed {
            state: negotiation.state(),
        });
    }
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    record_negotiation(&mut tx, negotiation, me, cap, now_ms).await?;
    tx.commit().await?;
    Ok(())
}

/// Brings the stored trade up to `negotiation`, as `me` (its maker or taker), inside the caller's
/// transaction: the `trades` row (created at the first call; state, terms JSON and transcript hash
/// updated at every call) and one `trade_events` row per signed message not stored yet (seq = step, the
/// message bytes, signer, signature). With `cap` (the maker's limit on open takes of the offer), creating
/// the row is refused with [`NegotiationError::TooManyTakes`] when the trade would exceed it.
pub async fn record_negotiation(
    conn: &mut sqlx::SqliteConnection,
    negotiation: &Negotiation,
    me: &PeerId,
    cap: Option<u32>,
    now_ms: i64,
) -> Result<(), NegotiationError> {
    let (role, counterparty) = match negotiation.party_of(me)? {
        TradeRole::Maker => (TradeRole::Maker, negotiation.taker()),
        TradeRole::Taker => (TradeRole::Taker, negotiation.maker()),
    };
    let terms = serde_json::to_string(&negotiation.terms())
        .map_err(|e| NegotiationError::Internal(format!("encoding the terms failed: {e}")))?;
    let trade_id = negotiation.trade_id().to_string();
    let stored: Option<i64> = sqlx::query_scalar(
        "SELECT (SELECT COUNT(*) FROM trade_events WHERE trade_id = ?1) FROM trades WHERE id = ?1",
    )
    .bind(&trade_id)
    .fetch_optional(&mut *conn)
    .await?;
    let state = TradeState::from(negotiation.state());
    let hash = negotiation.transcript_hash().to_vec();
    let stored = match stored {
        Some(n) => {
            sqlx::query(
                "UPDATE trades SET state = ?, terms = ?, transcript_hash = ?, updated_at = ? WHERE id = ?",
            )
            .bind(state)
            .bind(&terms)
            .bind(&hash)
            .bind(now_ms)
            .bind(&trade_id)
            .execute(&mut *conn)
            .await?;
            usize::try_from(n).unwrap_or(usize::MAX)
        }
        None => {
            if let Some(cap) = cap {
                check_cap(
                    count_open_takes_on(conn, negotiation.offer().id).await?,
                    cap,
                )?;
            }
            sqlx::query(
                "INSERT INTO trades (id, offer_id, role, counterparty, state, terms, transcript_hash, \
                 created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(&trade_id)
            .bind(negotiation.offer().id.to_string())
            .bind(role)
            .bind(counterparty.to_base58())
            .bind(state)
            .bind(&terms)
            .bind(&hash)
            .bind(now_ms)
            .bind(now_ms)
            .execute(&mut *conn)
            .await?;
            0
        }
    };
    for (seq, m) in negotiation.transcript().iter().enumerate().skip(stored) {
        sqlx::query(
            "INSERT INTO trade_events (trade_id, seq, kind, payload, signer, signature, created_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&trade_id)
        .bind(i64::try_from(seq).unwrap_or(i64::MAX))
        .bind(m.kind().as_str())
        .bind(&m.signed().message_bytes)
        .bind(m.message().sender.to_base58())
        .bind(&m.signed().signature)
        .bind(now_ms)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// The stored signed messages of a trade's negotiation, verified again, in order.
pub async fn load_transcript(
    conn: &mut sqlx::SqliteConnection,
    trade_id: Uuid,
) -> Result<Vec<VerifiedNegotiationMessage>, NegotiationError> {
    let kinds: Vec<&str> = [
        MessageKind::TakeRequest,
        MessageKind::Counter,
        MessageKind::Accept,
        MessageKind::Reject,
    ]
    .iter()
    .map(|k| k.as_str())
    .collect();
    let rows: Vec<(String, Vec<u8>, Vec<u8>)> = sqlx::query_as(
        "SELECT kind, payload, signature FROM trade_events WHERE trade_id = ? ORDER BY seq",
    )
    .bind(trade_id.to_string())
    .fetch_all(&mut *conn)
    .await?;
    let mut transcript = Vec::new();
    for (kind, payload, signature) in rows {
        if !kinds.contains(&kind.as_str()) {
            // Later events (escrow steps) are not part of the negotiation.
            break;
        }
        let message = NegotiationMessage::decode(&payload)?;
        let signer_key = stored_signer_key(&message.sender)?;
        let signed = SignedNegotiationMessage {
            message_bytes: payload,
            signer_key,
            signature,
        };
        transcript.push(signed.into_verified()?);
    }
    Ok(transcript)
}

/// The protobuf public key inside an ed25519 PeerId (an identity multihash of the key).
fn stored_signer_key(peer: &PeerId) -> Result<Vec<u8>, NegotiationError> {
    let multihash = peer.as_ref();
    if multihash.code() != 0 {
        return Err(NegotiationError::BadKey(format!(
            "{peer} does not embed its public key"
        )));
    }
    Ok(multihash.digest().to_vec())
}

/// How many trades `taker` opened on this node's offers since `since` (ms).
pub(in crate::trading) async fn takes_from_since(
    conn: &mut sqlx::SqliteConnection,
    taker: &PeerId,
    since: i64,
) -> crate::error::Result<i64> {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM trades WHERE role = 'maker' AND counterparty = ? AND created_at > ?",
    )
    .bind(taker.to_base58())
    .bind(since)
    .fetch_one(conn)
    .await
    .map_err(super::sql)
}

/// The takes of this node's offers still unanswered since `cutoff` (ms), oldest first.
pub(in crate::trading) async fn unanswered_takes(
    pool: &sqlx::SqlitePool,
    cutoff: i64,
) -> crate::error::Result<Vec<String>> {
    sqlx::query_scalar(
        "SELECT id FROM trades WHERE role = 'maker' AND state = 'Requested' AND created_at <= ? \
         ORDER BY created_at",
    )
    .bind(cutoff)
    .fetch_all(pool)
    .await
    .map_err(super::sql)
}
