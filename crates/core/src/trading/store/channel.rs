//! A trade's channel as stored: its peer, the offer as taken, the receiver's position and the channel
//! keys, sealed at rest under the identity's storage key (never stored in the clear).

use chacha20poly1305::{ChaCha20Poly1305, KeyInit, Nonce, aead::Aead, aead::Payload};
use libp2p::PeerId;
use sqlx::{Row, SqliteConnection};
use uuid::Uuid;
use zeroize::Zeroizing;

use super::{internal, sql};
use crate::{
    channel::{ChannelKeys, Receiver, TradeChannel},
    error::{Error, Result},
    offer::Offer,
};

const KEYS_AAD_TAG: &[u8] = b"souk/channel-keys/v1\0";

/// `nonce || ChaCha20-Poly1305(storage key, postcard(keys))`, bound to the trade id.
fn seal_keys(storage_key: &[u8; 32], trade_id: Uuid, keys: &ChannelKeys) -> Result<Vec<u8>> {
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
pub(in crate::trading) struct ChannelRow {
    pub trade_id: Uuid,
    pub peer: PeerId,
    pub offer: Offer,
    pub keys: ChannelKeys,
    pub send_next: u64,
    pub receiver: Receiver,
}

pub(in crate::trading) async fn insert_channel(
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

pub(in crate::trading) async fn load_channel(
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
