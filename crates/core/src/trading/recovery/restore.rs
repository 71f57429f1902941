//! A node restored from its seed words: its copies looked up in the DHT, fetched from their holders, opened
//! and put back; and a trade this node has brought up to its own newer copy.

use std::{collections::HashMap, sync::Arc};

use libp2p::PeerId;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::{
    LOOK_EVERY, LOOK_FIRST, MAX_LISTED, Record, RecoveryAnswer, RecoveryKeys, RecoveryRequest,
    Value, ask,
};
use crate::{
    error::{Error, Result},
    protocol::state::TradeState,
    trading::{
        TradeEvent,
        desk::Inner,
        errors::{peer_fault, sql},
        store::{
            self,
            recovery::{checked_inserts, execute, key_of},
        },
    },
};

/// Looks for copies of this node's trades kept by others and puts back those of trades it does not
/// have, until cancelled: soon after start, then less and less often while nobody keeps any.
pub(in crate::trading) async fn recover(inner: Arc<Inner>, cancel: CancellationToken) {
    let keys = RecoveryKeys::derive(&inner.me.storage_key);
    let mut wait = LOOK_FIRST;
    loop {
        tokio::select! {
            biased;
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(wait) => {}
        }
        wait = match look(&inner, &keys).await {
            Ok(true) => LOOK_EVERY,
            Ok(false) => (wait * 2).min(LOOK_EVERY),
            Err(e) => {
                tracing::debug!(error = %e, "looking for recovery copies failed");
                (wait * 2).min(LOOK_EVERY)
            }
        };
    }
}

/// One look: asks every provider of the locator which copies it keeps, and puts back each trade this
/// node does not have from the holder with the newest copy (the next newest when that fails). Whether
/// anyone keeps copies of this node's at all.
async fn look(inner: &Inner, keys: &RecoveryKeys) -> Result<bool> {
    let providers = inner
        .net
        .get_providers(keys.locator().to_vec())
        .await
        .map_err(|e| Error::Internal(format!("looking up the recovery locator: {e}")))?;
    let mut holders: HashMap<Uuid, Vec<(i64, PeerId)>> = HashMap::new();
    for peer in providers.into_iter().filter(|p| *p != inner.me.peer) {
        match ask(inner, peer, RecoveryRequest::List).await {
            Ok(RecoveryAnswer::Listed(listed)) => {
                for (trade_id, at) in listed.into_iter().take(MAX_LISTED) {
                    holders.entry(trade_id).or_default().push((at, peer));
                }
            }
            Ok(other) => tracing::info!(%peer, "answered {other:?} to a list of recovery copies"),
            Err(e) => tracing::debug!(%peer, error = %e, "recovery copies not listed"),
        }
    }
    let any = !holders.is_empty();
    for (trade_id, mut from) in holders {
        if store::recovery::trade_known(&inner.pool, trade_id).await? {
            continue;
        }
        from.sort_by_key(|h| std::cmp::Reverse(h.0));
        for (_, peer) in from {
            match recover_from(inner, keys, peer, trade_id).await {
                Ok(()) => break,
                Err(e) => {
                    tracing::info!(%trade_id, %peer, error = %e, "a recovery copy not put back")
                }
            }
        }
    }
    Ok(any)
}

/// Fetches this node's copy of `trade_id` from `peer`, opens it and puts the trade back.
async fn recover_from(
    inner: &Inner,
    keys: &RecoveryKeys,
    peer: PeerId,
    trade_id: Uuid,
) -> Result<()> {
    let record = fetch_own(inner, keys, peer, trade_id).await?;
    let chat_left_out = record.chat_left_out;
    if put_back(inner, record).await? {
        tracing::info!(%trade_id, from = %peer, chat_left_out, "trade recovered");
    }
    Ok(())
}

/// This node's copy of `trade_id` as `peer` keeps it, opened: sealed by this seed, of this trade, this
/// node's own (anything else is refused and counted).
pub(super) async fn fetch_own(
    inner: &Inner,
    keys: &RecoveryKeys,
    peer: PeerId,
    trade_id: Uuid,
) -> Result<Record> {
    let sealed = match ask(inner, peer, RecoveryRequest::Fetch { trade_id }).await? {
        RecoveryAnswer::Record(sealed) => sealed,
        RecoveryAnswer::Refused(reason) | RecoveryAnswer::Later(reason) => {
            return Err(peer_fault(format!("not handed back: {reason}")));
        }
        other => return Err(peer_fault(format!("answered {other:?} to a fetch"))),
    };
    Record::open(keys, trade_id, &sealed)
        .map_err(peer_fault)
        .and_then(|record| {
            if record.owner == inner.me.peer.to_bytes() {
                Ok(record)
            } else {
                Err(peer_fault("a recovery copy of another node"))
            }
        })
        .inspect_err(|_| {
            inner
                .refused
                .recovery_copies
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        })
}

/// After a trade came back or caught up: the engine picks it up, the shells show it and tell the person.
async fn announce_change(inner: &Inner, trade_id: Uuid) {
    inner.watcher.kick();
    inner.outbox.kick();
    if let Ok(info) = store::trade_info(&inner.pool, &inner.me.peer, trade_id).await {
        let _ = inner.events.send(TradeEvent::Recovered {
            trade: Box::new(info),
        });
    }
}

/// Puts a record's rows back, in one transaction, unless the trade is here already. Whether it did.
pub(super) async fn put_back(inner: &Inner, record: Record) -> Result<bool> {
    let trade_id = record.trade_id;
    let (guard, mut tx) = inner.write().await?;
    if store::recovery::trade_known(&mut *tx, trade_id).await? {
        return Ok(false);
    }
    let inserts = checked_inserts(&mut tx, &record).await?;
    for (table, insert) in record.tables.iter().zip(&inserts) {
        for row in &table.rows {
            execute(&mut tx, insert, &row.iter().collect::<Vec<_>>()).await?;
        }
    }
    tx.commit().await.map_err(sql)?;
    drop(guard);
    announce_change(inner, trade_id).await;
    Ok(true)
}

/// Brings an open trade this node has up to its own newer copy (a node restored from a backup older than
/// its last steps): only when the copy holds every signed step this node has, and more. The steps it
/// lacks are added, the trade's, channel's and escrow's rows take the copy's values, the chat and the
/// unacknowledged envelopes it lacks are added. Whether it did.
pub(super) async fn catch_up(inner: &Inner, record: Record) -> Result<bool> {
    let trade_id = record.trade_id;
    let id = trade_id.to_string();
    let (guard, mut tx) = inner.write().await?;
    let state = store::recovery::trade_state(&mut tx, trade_id).await?;
    if !state.is_some_and(TradeState::is_open) {
        return Ok(false);
    }
    let inserts = checked_inserts(&mut tx, &record).await?;
    let mine = store::recovery::step_signatures(&mut tx, trade_id).await?;
    let Some(events) = record.tables.iter().find(|t| t.name == "trade_events") else {
        return Ok(false);
    };
    let at = |name: &str| events.columns.iter().position(|c| c == name);
    let (Some(seq_at), Some(sig_at)) = (at("seq"), at("signature")) else {
        return Ok(false);
    };
    let theirs: Vec<(i64, Vec<u8>)> = events
        .rows
        .iter()
        .filter_map(|row| match (&row[seq_at], &row[sig_at]) {
            (Value::Integer(seq), Value::Blob(sig)) => Some((*seq, sig.clone())),
            _ => None,
        })
        .collect();
    if theirs.len() <= mine.len() || mine.iter().any(|m| !theirs.contains(m)) {
        return Ok(false);
    }
    // Envelopes held out of order were for the old receiver; the counterparty sends them again.
    store::recovery::forget_held(&mut tx, trade_id).await?;
    for (table, insert) in record.tables.iter().zip(&inserts) {
        match table.name.as_str() {
            "trade_events" => {
                for row in &table.rows {
                    let seq = &row[seq_at];
                    if !mine.iter().any(|(s, _)| Value::Integer(*s) == *seq) {
                        execute(&mut tx, insert, &row.iter().collect::<Vec<_>>()).await?;
                    }
                }
            }
            "trades" | "trade_channels" | "trade_escrow" => {
                let key = key_of(&table.name);
                let update = store::recovery::update_of(table);
                for row in &table.rows {
                    let mut values: Vec<&Value> = table
                        .columns
                        .iter()
                        .zip(row)
                        .filter(|(c, _)| *c != key)
                        .map(|(_, v)| v)
                        .collect();
                    let key_value = Value::Text(id.clone());
                    values.push(&key_value);
                    if execute(&mut tx, &update, &values).await? == 0 {
                        execute(&mut tx, insert, &row.iter().collect::<Vec<_>>()).await?;
                    }
                }
            }
            _ => {
                let insert = store::recovery::or_ignore(insert);
                for row in &table.rows {
                    execute(&mut tx, &insert, &row.iter().collect::<Vec<_>>()).await?;
                }
            }
        }
    }
    tx.commit().await.map_err(sql)?;
    drop(guard);
    announce_change(inner, trade_id).await;
    Ok(true)
}
