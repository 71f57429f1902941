//! This node's own set: its receipts (both signatures) and ratings gathered, signed and put in the DHT, a
//! rating given, and where a receipt stands as the shells show it.

use uuid::Uuid;

use super::{MAX_PROVIDED, RECORD_TTL};
use crate::{
    error::Result,
    reputation::{
        HolderSet, Rating, Receipt, SignedRating, holder_key,
        receipt::{MAX_SET_BYTES, MAX_SET_RATINGS, MAX_SET_RECEIPTS},
        subject_key,
    },
    store::now_ms,
    trading::{
        desk::Inner,
        errors::{internal, refused},
        store,
    },
};

/// This node's receipts (both signatures) and ratings, newest first, as the set it publishes.
pub(super) async fn own_set(inner: &Inner) -> Result<HolderSet> {
    let rows = store::receipts::countersigned(
        &inner.pool,
        i64::try_from(MAX_SET_RECEIPTS).unwrap_or(i64::MAX),
    )
    .await?;
    let ratings = store::receipts::ratings(
        &inner.pool,
        i64::try_from(MAX_SET_RATINGS).unwrap_or(i64::MAX),
    )
    .await?;
    let nickname = store::receipts::nickname(&inner.pool).await?;
    Ok(HolderSet {
        holder: inner.me.peer.to_bytes(),
        published_at: now_ms(),
        nickname: nickname
            .filter(|n| crate::preferences::nickname_problem(n).is_none())
            .unwrap_or_default(),
        receipts: rows
            .into_iter()
            .map(|(body, maker_signature, taker_signature)| Receipt {
                body,
                maker_signature,
                taker_signature,
            })
            .collect(),
        ratings: ratings
            .iter()
            .filter_map(|r| postcard::from_bytes::<SignedRating>(r).ok())
            .collect(),
    })
}

/// Puts this node's set in the DHT (the oldest receipts left out until it fits a record) and provides
/// the subject keys of itself and its counterparties.
pub(super) async fn publish(inner: &Inner) -> Result<()> {
    let mut set = own_set(inner).await?;
    if set.receipts.is_empty() && set.ratings.is_empty() && set.nickname.is_empty() {
        return Ok(());
    }
    let bytes = loop {
        match set.sign(&inner.me.keypair) {
            Ok(b) => break b,
            Err(_) if !set.receipts.is_empty() => {
                set.receipts.pop();
            }
            Err(_) if !set.ratings.is_empty() => {
                set.ratings.pop();
            }
            Err(e) => return Err(internal("the receipt set", e)),
        }
    };
    debug_assert!(bytes.len() <= MAX_SET_BYTES);
    let mut subjects = vec![inner.me.peer];
    for r in &set.receipts {
        if let Ok(v) = r.verify() {
            let cp = v.counterparty_of(&inner.me.peer);
            if !subjects.contains(&cp) && subjects.len() <= MAX_PROVIDED {
                subjects.push(cp);
            }
        }
    }
    inner
        .net
        .put_record(holder_key(&inner.me.peer), bytes, RECORD_TTL)
        .await?;
    for subject in subjects {
        inner.net.start_providing(subject_key(&subject)).await?;
    }
    tracing::info!(receipts = set.receipts.len(), "receipt set published");
    Ok(())
}

/// Rates the counterparty of one of this node's trades (1–5 stars, a short comment) once its receipt
/// holds both signatures; a new rating replaces the old. Published at once.
pub(super) async fn rate(inner: &Inner, trade_id: Uuid, stars: u8, comment: &str) -> Result<()> {
    let id = store::receipts::id_and_countersignature(&inner.pool, trade_id).await?;
    let receipt: [u8; 32] = match id {
        Some((id, Some(_))) => id
            .try_into()
            .map_err(|_| internal("a stored receipt id", "not 32 bytes"))?,
        Some((_, None)) => {
            return Err(refused(
                "the counterparty has not countersigned this trade's receipt yet; rate it once it did",
            ));
        }
        None => {
            return Err(refused(format!(
                "trade {trade_id} has no receipt: only ended trades of yours get one"
            )));
        }
    };
    let at = now_ms();
    let signed = Rating {
        receipt,
        stars,
        comment: comment.trim().to_owned(),
        at,
    }
    .sign(&inner.me.keypair)
    .map_err(refused)?;
    let rating = postcard::to_stdvec(&signed).map_err(|e| internal("a rating", e))?;
    store::receipts::save_rating(&inner.pool, trade_id, rating, at).await?;
    inner.receipts.kick();
    Ok(())
}

/// The receipt of one of this node's trades, as its shells show it.
pub(super) async fn receipt_state(inner: &Inner, trade_id: Uuid) -> Result<Option<String>> {
    let row = store::receipts::countersignature_and_refusal(&inner.pool, trade_id).await?;
    Ok(row.map(|(sig, refused)| match (sig, refused) {
        (Some(_), _) => "signed by both parties".into(),
        (None, Some(why)) => format!("waiting for the counterparty's signature ({why})"),
        (None, None) => "waiting for the counterparty's signature".into(),
    }))
}
