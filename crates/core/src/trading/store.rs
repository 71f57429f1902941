//! The trade desk's SQL: channel state (keys sealed at rest), the outbox, chat, and the read models the
//! shells query. Functions take a connection so callers compose them into one transaction.

use std::{collections::BTreeMap, sync::LazyLock};

use chacha20poly1305::{ChaCha20Poly1305, KeyInit, Nonce, aead::Aead, aead::Payload};
use libp2p::{PeerId, identity::Keypair};
use sqlx::{Row, SqliteConnection, SqlitePool};
use uuid::Uuid;
use zeroize::Zeroizing;

use super::{ChatMessage, Party, StepRecord, TradeInfo, TradeRole, TradeState, TradeTerms};
use crate::{
    channel::{ChannelKeys, Receiver, Sender, TradeChannel},
    error::{Error, Result},
    negotiation::{self, Negotiation},
    offer::Offer,
    store::StoreError,
};

const KEYS_AAD_TAG: &[u8] = b"souk/channel-keys/v1\0";

fn sql(e: sqlx::Error) -> Error {
    Error::Store(StoreError::Sql(e))
}

fn internal(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Internal(format!("{what}: {e}"))
}

/// `nonce || ChaCha20-Poly1305(storage key, postcard(keys))`, bound to the trade id.
pub(super) fn seal_keys(
    storage_key: &[u8; 32],
    trade_id: Uuid,
    keys: &ChannelKeys,
) -> Result<Vec<u8>> {
    let plain = Zeroizing::new(
        postcard::to_stdvec(keys).map_err(|e| internal("encoding channel keys", e))?,
    );
    let mut nonce = [0u8; 12];
    getrandom::fill(&mut nonce).map_err(|e| internal("no randomness", e))?;
    let aad = [KEYS_AAD_TAG, trade_id.as_bytes()].concat();
    let sealed = ChaCha20Poly1305::new(&chacha20poly1305::Key::from(*storage_key))
        .encrypt(
            &Nonce::from(nonce),
            Payload {
                msg: &plain,
                aad: &aad,
            },
        )
        .map_err(|_| Error::Internal("sealing channel keys failed".into()))?;
    Ok([nonce.as_slice(), &sealed].concat())
}

fn open_keys(storage_key: &[u8; 32], trade_id: Uuid, sealed: &[u8]) -> Result<ChannelKeys> {
    let damaged = || {
        Error::Internal(format!(
            "the stored channel keys of trade {trade_id} do not open: damaged, or from another identity"
        ))
    };
    if sealed.len() < 12 {
        return Err(damaged());
    }
    let (nonce, body) = sealed.split_at(12);
    let nonce: [u8; 12] = nonce.try_into().map_err(|_| damaged())?;
    let aad = [KEYS_AAD_TAG, trade_id.as_bytes()].concat();
    let plain = Zeroizing::new(
        ChaCha20Poly1305::new(&chacha20poly1305::Key::from(*storage_key))
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: body,
                    aad: &aad,
                },
            )
            .map_err(|_| damaged())?,
    );
    postcard::from_bytes(&plain).map_err(|_| damaged())
}

/// One trade's channel as stored.
pub(super) struct ChannelRow {
    pub trade_id: Uuid,
    pub peer: PeerId,
    pub offer: Offer,
    pub keys: ChannelKeys,
    pub send_next: u64,
    pub receiver: Receiver,
}

pub(super) async fn insert_channel(
    conn: &mut SqliteConnection,
    storage_key: &[u8; 32],
    channel: &TradeChannel,
    offer: &Offer,
) -> Result<()> {
    let offer_json = serde_json::to_string(offer).map_err(|e| internal("encoding the offer", e))?;
    let receiver = postcard::to_stdvec(&channel.receiver())
        .map_err(|e| internal("encoding the receiver", e))?;
    sqlx::query(
        "INSERT INTO trade_channels (trade_id, peer, offer_json, sealed_keys, send_next, receiver) \
         VALUES (?, ?, ?, ?, 0, ?)",
    )
    .bind(channel.trade_id.to_string())
    .bind(channel.peer.to_base58())
    .bind(offer_json)
    .bind(seal_keys(storage_key, channel.trade_id, &channel.keys)?)
    .bind(receiver)
    .execute(conn)
    .await
    .map_err(sql)?;
    Ok(())
}

pub(super) async fn load_channel(
    conn: &mut SqliteConnection,
    storage_key: &[u8; 32],
    trade_id: Uuid,
) -> Result<Option<ChannelRow>> {
    let Some(row) = sqlx::query(
        "SELECT peer, offer_json, sealed_keys, send_next, receiver FROM trade_channels WHERE trade_id = ?",
    )
    .bind(trade_id.to_string())
    .fetch_optional(conn)
    .await
    .map_err(sql)?
    else {
        return Ok(None);
    };
    let peer: String = row.try_get("peer").map_err(sql)?;
    let offer: String = row.try_get("offer_json").map_err(sql)?;
    let sealed: Vec<u8> = row.try_get("sealed_keys").map_err(sql)?;
    let send_next: i64 = row.try_get("send_next").map_err(sql)?;
    let receiver: Vec<u8> = row.try_get("receiver").map_err(sql)?;
    Ok(Some(ChannelRow {
        trade_id,
        peer: peer.parse().map_err(|e| internal("stored peer", e))?,
        offer: serde_json::from_str(&offer).map_err(|e| internal("stored offer", e))?,
        keys: open_keys(storage_key, trade_id, &sealed)?,
        send_next: u64::try_from(send_next).map_err(|e| internal("stored send_next", e))?,
        receiver: postcard::from_bytes(&receiver).map_err(|e| internal("stored receiver", e))?,
    }))
}

/// The envelopes of a trade held for a gap, as stored (each once, when it arrived).
pub(super) async fn load_held(
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
pub(super) async fn save_receiver(
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
pub(super) async fn enqueue(
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

pub(super) fn seq_i64(seq: u64) -> Result<i64> {
    i64::try_from(seq).map_err(|_| Error::Internal(format!("sequence number {seq} out of range")))
}

/// The stored negotiation of a trade, every signature verified again.
pub(super) async fn load_negotiation(
    conn: &mut SqliteConnection,
    trade_id: Uuid,
    offer: &Offer,
) -> Result<Negotiation> {
    let transcript = negotiation::load_transcript(conn, trade_id)
        .await
        .map_err(|e| internal("stored negotiation", e))?;
    Negotiation::resume(offer, transcript).map_err(|e| internal("stored negotiation", e))
}

/// Inserts one chat message; `false` when (trade, direction, seq) is stored already.
pub(super) async fn insert_message(
    conn: &mut SqliteConnection,
    message: &ChatMessage,
) -> Result<bool> {
    let done = sqlx::query(
        "INSERT INTO messages (id, trade_id, outgoing, seq, body, sent_at, delivered_at, read_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (trade_id, outgoing, seq) DO NOTHING",
    )
    .bind(message.id.to_string())
    .bind(message.trade_id.to_string())
    .bind(i64::from(message.outgoing))
    .bind(seq_i64(message.seq)?)
    .bind(&message.body)
    .bind(message.sent_at)
    .bind(message.delivered_at)
    .bind(message.read_at)
    .execute(conn)
    .await
    .map_err(sql)?;
    Ok(done.rows_affected() == 1)
}

/// The latest `sent_at` of this node's messages on a trade (chat times never go backwards per sender).
pub(super) async fn last_outgoing_sent_at(
    conn: &mut SqliteConnection,
    trade_id: Uuid,
) -> Result<i64> {
    last_sent_at(conn, trade_id, true).await
}

/// The latest `sent_at` of the counterparty's messages on a trade, as stored (clamped) here.
/// Most chat messages one side may send in one trade.
pub const MAX_CHAT_MESSAGES_PER_TRADE: i64 = 1_000;
/// How long after a trade ended its chat stays open (a last word, a thank-you).
pub const CHAT_GRACE_MS: i64 = 7 * 24 * 3_600_000;

/// Why one more chat message from one side (`outgoing`: this node's) sent at `sent_at` may not be
/// kept: the trade ended more than [`CHAT_GRACE_MS`] ago, or that side reached its total or its rate
/// (`per_minute`).
/// Both sides apply the same rules: a node refuses to send what its counterparty would not keep.
pub(super) async fn chat_refusal(
    conn: &mut SqliteConnection,
    trade_id: Uuid,
    outgoing: bool,
    sent_at: i64,
    per_minute: u32,
) -> Result<Option<String>> {
    let (state, updated_at): (TradeState, i64) =
        sqlx::query_as("SELECT state, updated_at FROM trades WHERE id = ?")
            .bind(trade_id.to_string())
            .fetch_one(&mut *conn)
            .await
            .map_err(sql)?;
    if !state.is_open() && sent_at > updated_at.saturating_add(CHAT_GRACE_MS) {
        return Ok(Some(format!(
            "this trade ended ({}) more than 7 days ago: its chat is closed",
            state.as_str().to_lowercase()
        )));
    }
    let (total, last_minute): (i64, i64) = sqlx::query_as(
        "SELECT COUNT(*), COALESCE(SUM(sent_at > ?), 0) FROM messages \
         WHERE trade_id = ? AND outgoing = ?",
    )
    .bind(sent_at - 60_000)
    .bind(trade_id.to_string())
    .bind(i64::from(outgoing))
    .fetch_one(&mut *conn)
    .await
    .map_err(sql)?;
    if total >= MAX_CHAT_MESSAGES_PER_TRADE {
        return Ok(Some(format!(
            "this trade's chat is full: {MAX_CHAT_MESSAGES_PER_TRADE} messages from one side at most"
        )));
    }
    if last_minute >= i64::from(per_minute) {
        return Ok(Some(format!(
            "slow down: at most {per_minute} messages a minute in one trade"
        )));
    }
    Ok(None)
}

pub(super) async fn last_incoming_sent_at(
    conn: &mut SqliteConnection,
    trade_id: Uuid,
) -> Result<i64> {
    last_sent_at(conn, trade_id, false).await
}

async fn last_sent_at(conn: &mut SqliteConnection, trade_id: Uuid, outgoing: bool) -> Result<i64> {
    let last: Option<i64> =
        sqlx::query_scalar("SELECT MAX(sent_at) FROM messages WHERE trade_id = ? AND outgoing = ?")
            .bind(trade_id.to_string())
            .bind(i64::from(outgoing))
            .fetch_one(conn)
            .await
            .map_err(sql)?;
    Ok(last.unwrap_or(i64::MIN))
}

/// When a message took its place in this node's transcript: its own messages when sent, the
/// counterparty's when they arrived. The transcript's order is the receiver's: a peer's clock cannot
/// move its lines before others.
fn placed_at(m: &ChatMessage) -> i64 {
    if m.outgoing {
        m.sent_at
    } else {
        m.delivered_at.unwrap_or(m.sent_at)
    }
}

async fn trade_exists(conn: &mut SqliteConnection, trade_id: Uuid) -> Result<bool> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM trade_channels WHERE trade_id = ?")
        .bind(trade_id.to_string())
        .fetch_one(conn)
        .await
        .map_err(sql)?;
    Ok(n > 0)
}

pub(super) fn unknown_trade(trade_id: Uuid) -> Error {
    Error::InvalidInput(format!(
        "no trade {trade_id} here: `souk trade list` shows this node's trades"
    ))
}

/// One trade as the shells show it, as seen by `me`.
pub async fn trade_info(pool: &SqlitePool, me: &PeerId, trade_id: Uuid) -> Result<TradeInfo> {
    let mut conn = pool.acquire().await.map_err(sql)?;
    trade_info_on(&mut conn, me, trade_id).await
}

pub(super) async fn trade_info_on(
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
    let escrow = super::settle::view(conn, trade_id).await?;
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

/// Who acts next and what happens next, from `me`'s point of view.
fn progress(
    state: TradeState,
    me: TradeRole,
    buyer: TradeRole,
    escrow: Option<&super::EscrowView>,
) -> (Option<TradeRole>, String) {
    use TradeState as S;
    let seller = buyer.other();
    let you = |role: TradeRole, what: &str, otherwise: &str| {
        let text = if role == me { what } else { otherwise };
        (Some(role), text.to_owned())
    };
    match (state, escrow) {
        (S::Requested, _) => you(
            TradeRole::Maker,
            "accept, counter or reject the take",
            "waiting for the maker to answer the take",
        ),
        (S::Countered, _) => you(
            TradeRole::Taker,
            "accept or reject the counter",
            "waiting for the taker to answer the counter",
        ),
        (S::Accepted, Some(e)) if e.my_address.is_none() => (
            Some(me),
            "give the address your coins go to (souk trade address)".into(),
        ),
        (S::Accepted, Some(e)) if e.counterparty_address.is_none() => {
            let other = if me == buyer { seller } else { buyer };
            (
                Some(other),
                "waiting for the counterparty's escrow address".into(),
            )
        }
        (S::Accepted, Some(_)) => (None, "setting up the escrow".into()),
        (S::Accepted, None) => you(
            buyer,
            "pay the seller, then mark the payment sent",
            "waiting for the buyer's payment",
        ),
        (S::EscrowFunding, Some(e)) => {
            let (mine, held) = if me == buyer {
                (e.buyer_deposit, e.buyer_funded)
            } else {
                (e.amount + e.seller_deposit, e.seller_funded)
            };
            let coin = coins(e.chain, e.my_funding);
            let text = if held >= mine {
                format!(
                    "your escrow output holds its {}; waiting for the counterparty's ({} of {} there)",
                    coin,
                    coins(e.chain, e.funded - held),
                    coins(e.chain, e.required - mine)
                )
            } else {
                let side = if me == buyer {
                    Party::Buyer
                } else {
                    Party::Seller
                };
                let seen: u64 = e
                    .pending_funding
                    .iter()
                    .filter(|p| p.funder == side)
                    .map(|p| p.value)
                    .sum();
                let pending = if seen > 0 {
                    format!("; {} seen, waiting for a block", coins(e.chain, seen))
                } else {
                    String::new()
                };
                format!(
                    "fund the escrow: send {} to your escrow address {} ({} there so far{pending})",
                    coin,
                    e.address.as_deref().unwrap_or("?"),
                    coins(e.chain, held)
                )
            };
            (if held >= mine { None } else { Some(me) }, text)
        }
        (S::EscrowFunded, _) => you(
            buyer,
            "pay the seller, then mark the payment sent",
            "waiting for the buyer's payment",
        ),
        (S::PaymentSent, _) => you(
            seller,
            "check the payment arrived, then confirm it (this releases the escrow)",
            "waiting for the seller to confirm the payment",
        ),
        (S::PaymentConfirmed, _) => (None, "the release is being signed and broadcast".into()),
        (S::Released, _) => (None, "waiting for the release to confirm".into()),
        (S::Disputed, _) => (None, "the arbitrator decides".into()),
        (S::Cancelled | S::Expired | S::Completed, Some(e)) if !e.returns.is_empty() => (
            None,
            e.returns
                .iter()
                .map(|r| {
                    let whose = if (r.funder == Party::Buyer) == (me == buyer) {
                        "your"
                    } else {
                        "the counterparty's"
                    };
                    match &r.txid {
                        Some(txid) => format!(
                            "{} of {whose} coins went back to {} ({txid})",
                            coins(e.chain, r.amount),
                            r.address
                        ),
                        None => format!(
                            "{} of {whose} coins are going back to {}",
                            coins(e.chain, r.amount),
                            r.address
                        ),
                    }
                })
                .collect::<Vec<_>>()
                .join("; "),
        ),
        (other, _) => (
            None,
            format!("{} (nothing left to do)", other.as_str().to_lowercase()),
        ),
    }
}

/// `units` of the chain's coin in words: "1.15 LTC".
pub(super) fn coins(chain: crate::escrow::Chain, units: u64) -> String {
    let asset = match chain {
        crate::escrow::Chain::Btc => crate::offer::Asset::Btc,
        crate::escrow::Chain::Ltc => crate::offer::Asset::Ltc,
    };
    format!(
        "{} {}",
        crate::offer::format_amount(units, asset),
        chain.to_string().to_uppercase()
    )
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

/// Messages from counterparties, of every trade, not marked read yet.
pub async fn unread_messages(pool: &SqlitePool) -> Result<u32> {
    let count: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM messages WHERE outgoing = 0 AND read_at IS NULL")
            .fetch_one(pool)
            .await
            .map_err(sql)?;
    Ok(u32::try_from(count).unwrap_or(u32::MAX))
}

/// A trade's chat, in the order both sides show it: by the sender's time, then sender, then sequence
/// number (each sender's times never go backwards, so each direction stays in sequence order).
pub async fn chat_log(pool: &SqlitePool, me: &PeerId, trade_id: Uuid) -> Result<Vec<ChatMessage>> {
    let mut conn = pool.acquire().await.map_err(sql)?;
    let Some(peer) =
        sqlx::query_scalar::<_, String>("SELECT peer FROM trade_channels WHERE trade_id = ?")
            .bind(trade_id.to_string())
            .fetch_optional(&mut *conn)
            .await
            .map_err(sql)?
    else {
        return Err(unknown_trade(trade_id));
    };
    let rows = sqlx::query(
        "SELECT id, outgoing, seq, body, sent_at, delivered_at, read_at FROM messages \
         WHERE trade_id = ?",
    )
    .bind(trade_id.to_string())
    .fetch_all(&mut *conn)
    .await
    .map_err(sql)?;
    let me = me.to_base58();
    let mut log = rows
        .iter()
        .map(|r| {
            let outgoing = r.try_get::<i64, _>("outgoing").map_err(sql)? == 1;
            let id: String = r.try_get("id").map_err(sql)?;
            Ok(ChatMessage {
                id: Uuid::parse_str(&id).map_err(|e| internal("stored message id", e))?,
                trade_id,
                outgoing,
                seq: u64::try_from(r.try_get::<i64, _>("seq").map_err(sql)?)
                    .map_err(|e| internal("stored seq", e))?,
                sender: if outgoing { me.clone() } else { peer.clone() },
                body: r.try_get("body").map_err(sql)?,
                sent_at: r.try_get("sent_at").map_err(sql)?,
                delivered_at: r.try_get("delivered_at").map_err(sql)?,
                read_at: r.try_get("read_at").map_err(sql)?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    log.sort_by(|a, b| (placed_at(a), &a.sender, a.seq).cmp(&(placed_at(b), &b.sender, b.seq)));
    Ok(log)
}

/// Trades whose counterparty this node should reach: something waits in the outbox, or the
/// negotiation is still open.
pub(super) async fn peers_to_reach(pool: &SqlitePool) -> Result<Vec<PeerId>> {
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
