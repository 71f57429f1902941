//! Envelope rows: incoming envelopes held until a gap fills (with the receiver's position), outgoing
//! ones sealed into the outbox, and the peers the outbox still has to reach. Rows only: delivery is
//! the outbox loop's.

use std::{collections::BTreeMap, sync::LazyLock};

use libp2p::{PeerId, identity::Keypair};
use sqlx::{SqliteConnection, SqlitePool};
use uuid::Uuid;

use super::{ChannelRow, internal, sql};
use crate::{
    channel::{Receiver, Sender},
    error::{Error, Result},
    trading::TradeState,
};

/// The envelopes of a trade held for a gap, as stored (each once, when it arrived).
pub(in crate::trading) async fn load_held(
    conn: &mut SqliteConnection,
    trade_id: Uuid,
) -> Result<BTreeMap<u64, Vec<u8>>> {
    let rows: Vec<(i64, Vec<u8>)> =
        sqlx::query_as("SELECT seq, plaintext FROM held_envelopes WHERE trade_id = ?")
            .bind(trade_id.to_string())
            .fetch_all(conn)
            .await
            .map_err(sql)?;
    rows.into_iter()
        .map(|(seq, plaintext)| {
            Ok((
                u64::try_from(seq).map_err(|e| internal("stored held seq", e))?,
                plaintext,
            ))
        })
        .collect()
}

/// Saves the receiver's position with the channel, and its held envelopes apart: those not in
/// `stored` (what [`load_held`] returned) are inserted, those no longer held (delivered) deleted. An
/// arrival writes its own envelope once, never the whole held set again.
pub(in crate::trading) async fn save_receiver(
    conn: &mut SqliteConnection,
    trade_id: Uuid,
    receiver: &Receiver,
    stored: &BTreeMap<u64, Vec<u8>>,
) -> Result<()> {
    let bytes = postcard::to_stdvec(&receiver.without_held())
        .map_err(|e| internal("encoding the receiver", e))?;
    sqlx::query("UPDATE trade_channels SET receiver = ? WHERE trade_id = ?")
        .bind(bytes)
        .bind(trade_id.to_string())
        .execute(&mut *conn)
        .await
        .map_err(sql)?;
    for (seq, plaintext) in receiver.held() {
        if !stored.contains_key(seq) {
            sqlx::query("INSERT INTO held_envelopes (trade_id, seq, plaintext) VALUES (?, ?, ?)")
                .bind(trade_id.to_string())
                .bind(seq_i64(*seq)?)
                .bind(plaintext)
                .execute(&mut *conn)
                .await
                .map_err(sql)?;
        }
    }
    for seq in stored
        .keys()
        .filter(|seq| !receiver.held().contains_key(seq))
    {
        sqlx::query("DELETE FROM held_envelopes WHERE trade_id = ? AND seq = ?")
            .bind(trade_id.to_string())
            .bind(seq_i64(*seq)?)
            .execute(&mut *conn)
            .await
            .map_err(sql)?;
    }
    Ok(())
}

/// Seals `plaintext` as the channel's next envelope and puts it in the outbox, in the caller's
/// transaction. Returns its sequence number.
pub(in crate::trading) async fn enqueue(
    conn: &mut SqliteConnection,
    channel: &mut ChannelRow,
    keypair: &Keypair,
    plaintext: &[u8],
    now_ms: i64,
) -> Result<u64> {
    let mut sender = Sender::resume(
        channel.trade_id,
        keypair.public().to_peer_id(),
        channel.peer,
        channel.send_next,
    );
    let seq = sender.next_seq();
    let envelope = sender.seal(&channel.keys, keypair, plaintext)?.to_bytes()?;
    sqlx::query(
        "INSERT INTO outbox (trade_id, seq, peer, envelope, created_at, next_attempt) \
         VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(channel.trade_id.to_string())
    .bind(seq_i64(seq)?)
    .bind(channel.peer.to_base58())
    .bind(envelope)
    .bind(now_ms)
    .bind(now_ms)
    .execute(&mut *conn)
    .await
    .map_err(sql)?;
    sqlx::query("UPDATE trade_channels SET send_next = ? WHERE trade_id = ?")
        .bind(seq_i64(sender.next_seq())?)
        .bind(channel.trade_id.to_string())
        .execute(&mut *conn)
        .await
        .map_err(sql)?;
    channel.send_next = sender.next_seq();
    Ok(seq)
}

pub(in crate::trading) fn seq_i64(seq: u64) -> Result<i64> {
    i64::try_from(seq).map_err(|_| Error::Internal(format!("sequence number {seq} out of range")))
}

/// Trades whose counterparty this node should reach: something waits in the outbox, or the
/// negotiation is still open.
pub(in crate::trading) async fn peers_to_reach(pool: &SqlitePool) -> Result<Vec<PeerId>> {
    static QUERY: LazyLock<String> = LazyLock::new(|| {
        format!(
            "SELECT DISTINCT peer FROM outbox WHERE delivered_at IS NULL \
             UNION SELECT c.peer FROM trade_channels c JOIN trades t ON t.id = c.trade_id \
             WHERE t.state IN {}",
            TradeState::negotiating_sql()
        )
    });
    let peers: Vec<String> = sqlx::query_scalar(QUERY.as_str())
        .fetch_all(pool)
        .await
        .map_err(sql)?;
    Ok(peers.iter().filter_map(|p| p.parse().ok()).collect())
}
