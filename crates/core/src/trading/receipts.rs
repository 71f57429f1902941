//! Trade receipts (docs/protocol.md, "Reputation"): when one of this node's trades ends, the maker's node
//! builds the receipt from its record of the trade, signs it and asks the taker's node to countersign; the
//! taker's node builds its own and countersigns only a body that says the same (and whose escrow its chain
//! confirms). Each node then publishes its newest receipts and ratings as one signed set in the DHT and
//! provides the subject key of itself and of each counterparty, and reads other peers' reputations back.

use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
    time::Duration,
};

use bitcoin::{Txid, hashes::Hash};
use futures::future::join_all;
use libp2p::{PeerId, identity::PublicKey};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::{
    TradeEvent, TradeInfo,
    desk::Inner,
    errors::{internal, peer_fault, refused, sql},
    store,
};
use crate::{
    chain::ChainBackend,
    error::Result,
    protocol::{
        DirectRequest, ReturnAnswer,
        roles::{Party, TradeRole, Winner},
        state::TradeState,
    },
    reputation::{
        EscrowProof, HolderSet, Outcome, Rating, Receipt, ReceiptBody, ReceiptCheck, Reputation,
        SignedHolderSet, SignedRating, TxAt, bucket_of, check_on_chain, holder_key,
        receipt::{self, MAX_SET_BYTES, MAX_SET_RATINGS, MAX_SET_RECEIPTS},
        subject_key,
        summary::{collect, summarize},
        trade_hash,
    },
    store::now_ms,
};

/// A maker asks again this soon after the taker could not countersign, twice as long each time after...
const ASK_AGAIN_FIRST_MS: i64 = 5_000;
/// ...up to this.
const ASK_AGAIN_MAX_MS: i64 = 3_600_000;
/// The set is published again this often (a DHT record lives 48 h).
const PUBLISH_EVERY: Duration = Duration::from_secs(12 * 3600);
const RECORD_TTL: Duration = Duration::from_secs(48 * 3600);
/// A failed publication is tried again after this.
const PUBLISH_RETRY: Duration = Duration::from_secs(30);
/// The parties' end times may differ by this much.
const END_SLACK_MS: i64 = 24 * 3600 * 1000;
/// A reputation is read from at most this many holders.
const MAX_HOLDERS: usize = 64;
/// Counterparties whose subject key this node provides, the newest first.
const MAX_PROVIDED: usize = 64;

/// What a maker's node asks of the taker's (`DirectRequest::Receipt`): countersign this body, which the
/// maker signed. Answered with a [`ReturnAnswer`]: the taker's signature, refused, or not now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReceiptRequest {
    Countersign {
        trade_id: Uuid,
        body: Vec<u8>,
        signature: Vec<u8>,
    },
}

impl ReceiptRequest {
    pub fn encode(&self) -> Vec<u8> {
        postcard::to_stdvec(self).unwrap_or_default()
    }

    pub fn decode(bytes: &[u8]) -> std::result::Result<Self, String> {
        crate::codec::decode_exact(bytes, "receipt request")
    }
}

/// The ed25519 key inside an ed25519 PeerId.
fn key_of(peer: &PeerId) -> Result<Vec<u8>> {
    let hash: &libp2p::multihash::Multihash<64> = peer.as_ref();
    if hash.code() != 0 {
        return Err(peer_fault(format!("{peer} does not carry its key")));
    }
    PublicKey::try_decode_protobuf(hash.digest())
        .map(|k| k.encode_protobuf())
        .map_err(|e| peer_fault(format!("{peer}: {e}")))
}

/// What a trade's record gives for its receipt.
enum Made {
    Ready(ReceiptBody),
    /// Not yet: a payout waits for the chain, say.
    NotYet(String),
    /// This trade gets no receipt (nothing happened, or it is not over).
    None,
}

fn txid_of(s: &str) -> Result<Txid> {
    s.parse::<Txid>().map_err(|e| internal("a stored txid", e))
}

/// The block height of each of `txids`, from this node's chain (`NotYet` when one is not confirmed).
async fn heights(
    chain: &dyn ChainBackend,
    txids: &[String],
) -> Result<std::result::Result<Vec<TxAt>, String>> {
    let tip = chain.tip_height().await?;
    let mut out = Vec::new();
    for s in txids {
        let id = txid_of(s)?;
        let Some(conf) = chain.confirmations(&id).await?.filter(|c| *c > 0) else {
            return Ok(Err(format!("{id} is not confirmed yet")));
        };
        let height = u32::try_from((tip + 1).saturating_sub(u64::from(conf))).unwrap_or(u32::MAX);
        // A block found between the two questions would put it one lower: the chain decides.
        if chain.transaction_at(&id, height).await?.is_none() {
            return Ok(Err(format!("{id} moved on the chain; looking again")));
        }
        out.push(TxAt {
            txid: id.to_byte_array(),
            height,
        });
    }
    Ok(Ok(out))
}

/// The receipt this node would sign for `trade`.
async fn body_of(inner: &Inner, trade: &TradeInfo) -> Result<Made> {
    if !matches!(
        trade.state,
        TradeState::Completed | TradeState::Resolved | TradeState::Cancelled | TradeState::Expired
    ) {
        return Ok(Made::None);
    }
    let me = key_of(&inner.me.peer)?;
    let cp: PeerId = trade
        .counterparty
        .parse()
        .map_err(|e| internal("the counterparty", e))?;
    let them = key_of(&cp)?;
    let mine = trade.party();
    let (maker_key, taker_key, maker_party) = match trade.role {
        TradeRole::Maker => (me, them, mine),
        TradeRole::Taker => (them, me, mine.other()),
    };
    let outcome = match trade.state {
        TradeState::Completed => Outcome::Completed,
        TradeState::Resolved => {
            let Some(decision) = trade.escrow.as_ref().and_then(|e| e.decision.as_ref()) else {
                return Ok(Made::None);
            };
            let Some(step) = trade.steps.iter().find(|s| s.kind == "dispute") else {
                return Ok(Made::None);
            };
            Outcome::Resolved {
                disputed_by: if step.mine { mine } else { mine.other() },
                decided: decision
                    .to
                    .parse::<Winner>()
                    .map_err(|e| internal("a decision", e))?,
            }
        }
        _ => Outcome::Refunded,
    };
    let escrow = match &trade.escrow {
        None if outcome == Outcome::Completed => None,
        None => return Ok(Made::None),
        Some(e) if e.funding_txids.is_empty() => return Ok(Made::None),
        Some(e) => {
            let Some(chain) = inner.chain.as_deref() else {
                return Ok(Made::NotYet("no chain configured".into()));
            };
            let payouts: Vec<String> = match outcome {
                Outcome::Refunded => {
                    if e.returns.iter().any(|r| r.txid.is_none()) {
                        return Ok(Made::NotYet("a return is not on the chain yet".into()));
                    }
                    e.returns.iter().filter_map(|r| r.txid.clone()).collect()
                }
                _ => e.release_txid.iter().cloned().collect(),
            };
            if payouts.is_empty() && outcome == Outcome::Refunded {
                // Funded, then cancelled: nothing went back yet.
                return Ok(Made::NotYet("no return on the chain yet".into()));
            }
            let funding = match heights(chain, &e.funding_txids).await? {
                Ok(f) => f,
                Err(why) => return Ok(Made::NotYet(why)),
            };
            let payouts = match heights(chain, &payouts).await? {
                Ok(p) => p,
                Err(why) => return Ok(Made::NotYet(why)),
            };
            Some(EscrowProof {
                chain: e.chain,
                network: e.network,
                funding: funding.into_iter().take(receipt::MAX_TXS).collect(),
                payouts: payouts.into_iter().take(receipt::MAX_TXS).collect(),
            })
        }
    };
    Ok(Made::Ready(body(
        trade,
        maker_key,
        taker_key,
        maker_party,
        outcome,
        escrow,
    )))
}

fn body(
    trade: &TradeInfo,
    maker_key: Vec<u8>,
    taker_key: Vec<u8>,
    maker_party: Party,
    outcome: Outcome,
    escrow: Option<EscrowProof>,
) -> ReceiptBody {
    const HOUR_MS: i64 = 3_600_000;
    ReceiptBody {
        version: 1,
        trade: trade_hash(&trade.id),
        maker_key,
        taker_key,
        maker_party,
        base: trade.offer.base.code().into(),
        quote: trade.offer.quote.code().into(),
        bucket: bucket_of(trade.terms.amount),
        ended_at: trade.updated_at - trade.updated_at.rem_euclid(HOUR_MS),
        outcome,
        escrow,
    }
}

/// Keeps this node's receipts: made when its trades end (asking the taker to countersign, again until it
/// did), and published in the DHT on every change and twice a day.
pub(super) async fn keep_receipts(inner: Arc<Inner>, cancel: CancellationToken) {
    let mut events = inner.events.subscribe();
    let mut no_receipt: HashSet<Uuid> = HashSet::new();
    let mut publish_at = tokio::time::Instant::now();
    loop {
        let (changed, next_ask) = match pass(&inner, &mut no_receipt).await {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(error = %e, "receipts: a pass failed");
                (false, Some(now_ms() + 60_000))
            }
        };
        if changed {
            publish_at = tokio::time::Instant::now();
        }
        if publish_at <= tokio::time::Instant::now() {
            publish_at = match publish(&inner).await {
                Ok(()) => tokio::time::Instant::now() + PUBLISH_EVERY,
                Err(e) => {
                    tracing::debug!(error = %e, "receipts: the set is not published yet");
                    tokio::time::Instant::now() + PUBLISH_RETRY
                }
            };
        }
        let ask_in = next_ask.map_or(Duration::from_secs(60), |at| {
            Duration::from_millis(u64::try_from(at - now_ms()).unwrap_or(0))
        });
        let wake =
            (tokio::time::Instant::now() + ask_in.min(Duration::from_secs(60))).min(publish_at);
        tokio::select! {
            biased;
            () = cancel.cancelled() => return,
            // A receipt countersigned here, or a rating given: the set changed.
            () = inner.receipts.notified() => publish_at = tokio::time::Instant::now(),
            () = tokio::time::sleep_until(wake) => {}
            event = events.recv() => match event {
                Ok(TradeEvent::TradeUpdated { trade } | TradeEvent::Recovered { trade })
                    if !trade.is_open() => {}
                Ok(_) => continue,
                Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => return,
            },
        }
        // A burst of steps ends in one pass.
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Makes the missing receipts of this node's ended trades as maker and asks for the countersignatures
/// due. Whether a receipt was completed, and when the next ask is due.
async fn pass(inner: &Inner, no_receipt: &mut HashSet<Uuid>) -> Result<(bool, Option<i64>)> {
    let ended: Vec<String> = sqlx::query_scalar(
        "SELECT t.id FROM trades t LEFT JOIN receipts r ON r.trade_id = t.id \
         WHERE t.role = 'maker' AND r.trade_id IS NULL \
         AND t.state IN ('Completed', 'Resolved', 'Cancelled', 'Expired') ORDER BY t.updated_at",
    )
    .fetch_all(&inner.pool)
    .await
    .map_err(sql)?;
    let mut next: Option<i64> = None;
    for id in ended.iter().filter_map(|s| Uuid::parse_str(s).ok()) {
        if no_receipt.contains(&id) {
            continue;
        }
        let trade = store::trade_info(&inner.pool, &inner.me.peer, id).await?;
        match body_of(inner, &trade).await? {
            Made::Ready(body) => {
                let bytes = body.encode();
                let signature = receipt::sign_body(&bytes, &inner.me.keypair)
                    .map_err(|e| internal("signing", e))?;
                sqlx::query(
                    "INSERT OR IGNORE INTO receipts (trade_id, id, body, maker_signature, counterparty, \
                     ended_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                )
                .bind(id.to_string())
                .bind(sha(&bytes).to_vec())
                .bind(&bytes)
                .bind(&signature)
                .bind(&trade.counterparty)
                .bind(body.ended_at)
                .bind(now_ms())
                .execute(&inner.pool)
                .await
                .map_err(sql)?;
            }
            Made::NotYet(why) => {
                tracing::debug!(trade_id = %id, %why, "receipts: not yet");
                next = Some(next.map_or(now_ms() + 10_000, |n| n.min(now_ms() + 10_000)));
            }
            Made::None => {
                no_receipt.insert(id);
            }
        }
    }
    let due: Vec<Due> = sqlx::query_as(
        "SELECT trade_id, body, maker_signature, counterparty, attempts FROM receipts \
         WHERE taker_signature IS NULL AND next_attempt <= ?",
    )
    .bind(now_ms())
    .fetch_all(&inner.pool)
    .await
    .map_err(sql)?;
    let asks = due
        .into_iter()
        .map(|(trade_id, body, signature, cp, attempts)| async move {
            let answer = ask(inner, &trade_id, &body, &signature, &cp).await;
            (trade_id, answer, attempts)
        });
    let mut changed = false;
    for (trade_id, answer, attempts) in join_all(asks).await {
        let retry = |attempts: i64| {
            now_ms() + (ASK_AGAIN_FIRST_MS << attempts.clamp(0, 20)).min(ASK_AGAIN_MAX_MS)
        };
        let refusal = match answer {
            Ok(()) => {
                changed = true;
                continue;
            }
            Err(e) => e,
        };
        tracing::debug!(%trade_id, reason = %refusal, "receipts: not countersigned yet");
        let at = retry(attempts);
        next = Some(next.map_or(at, |n| n.min(at)));
        sqlx::query(
            "UPDATE receipts SET attempts = attempts + 1, next_attempt = ?, refused = ? WHERE trade_id = ?",
        )
        .bind(at)
        .bind(refusal)
        .bind(&trade_id)
        .execute(&inner.pool)
        .await
        .map_err(sql)?;
    }
    let pending: Option<i64> =
        sqlx::query_scalar("SELECT MIN(next_attempt) FROM receipts WHERE taker_signature IS NULL")
            .fetch_one(&inner.pool)
            .await
            .map_err(sql)?;
    if let Some(p) = pending {
        next = Some(next.map_or(p, |n| n.min(p)));
    }
    Ok((changed, next))
}

/// A receipt waiting for the taker's signature: trade id, body, the maker's signature, the taker, attempts.
type Due = (String, Vec<u8>, Vec<u8>, String, i64);

fn sha(bytes: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).into()
}

/// Asks the taker to countersign; stores its signature. The error is why not, in words.
async fn ask(
    inner: &Inner,
    trade_id: &str,
    body: &[u8],
    signature: &[u8],
    counterparty: &str,
) -> std::result::Result<(), String> {
    let peer: PeerId = counterparty.parse().map_err(|e| format!("{e}"))?;
    let trade_uuid = Uuid::parse_str(trade_id).map_err(|e| e.to_string())?;
    let request = DirectRequest::Receipt(
        ReceiptRequest::Countersign {
            trade_id: trade_uuid,
            body: body.to_vec(),
            signature: signature.to_vec(),
        }
        .encode(),
    )
    .encode();
    let answer = inner
        .net
        .request(peer, request)
        .await
        .map_err(|e| format!("the taker's node: {e}"))?;
    let taker_signature = match ReturnAnswer::decode(&answer)? {
        ReturnAnswer::Signed(s) => s,
        ReturnAnswer::Refused(why) => return Err(format!("refused: {why}")),
        ReturnAnswer::Later(why) => return Err(format!("not now: {why}")),
    };
    let parsed = ReceiptBody::decode(body)?;
    receipt::check_signature(body, &parsed.taker_key, &taker_signature)
        .map_err(|e| format!("the taker's signature: {e}"))?;
    sqlx::query("UPDATE receipts SET taker_signature = ?, refused = NULL WHERE trade_id = ?")
        .bind(&taker_signature)
        .bind(trade_id)
        .execute(&inner.pool)
        .await
        .map_err(|e| e.to_string())?;
    tracing::info!(%trade_id, "trade receipt countersigned");
    Ok(())
}

/// The taker's side: countersigns the maker's body if it says what this node's record of the trade says.
pub(super) async fn on_request(inner: &Inner, peer: PeerId, bytes: &[u8]) -> ReturnAnswer {
    let answer = countersign(inner, peer, bytes).await;
    if let Err(e) = &answer {
        tracing::info!(%peer, error = %e, "a receipt not countersigned");
    } else {
        inner.receipts.notify_one();
    }
    ReturnAnswer::of(answer)
}

async fn countersign(inner: &Inner, peer: PeerId, bytes: &[u8]) -> Result<Vec<u8>> {
    let ReceiptRequest::Countersign {
        trade_id,
        body,
        signature,
    } = ReceiptRequest::decode(bytes).map_err(peer_fault)?;
    let trade = store::trade_info(&inner.pool, &inner.me.peer, trade_id)
        .await
        .map_err(|_| peer_fault(format!("no trade {trade_id} with you here")))?;
    if trade.counterparty != peer.to_string() || trade.role != TradeRole::Taker {
        return Err(peer_fault(format!("no trade {trade_id} with you here")));
    }
    let theirs = ReceiptBody::decode(&body).map_err(peer_fault)?;
    receipt::check_signature(&body, &theirs.maker_key, &signature)
        .map_err(|e| peer_fault(format!("your signature: {e}")))?;
    let mine = match body_of(inner, &trade).await? {
        Made::Ready(b) => b,
        Made::NotYet(why) => return Err(crate::Error::Internal(format!("not yet: {why}"))),
        Made::None => {
            return Err(peer_fault(format!(
                "trade {trade_id} gets no receipt here (it is {})",
                trade.state.as_str()
            )));
        }
    };
    let same = |what: &str, ok: bool| {
        if ok {
            Ok(())
        } else {
            Err(peer_fault(format!(
                "the receipt's {what} is not what this node recorded"
            )))
        }
    };
    same("trade", theirs.trade == mine.trade)?;
    same(
        "parties",
        theirs.maker_key == mine.maker_key && theirs.taker_key == mine.taker_key,
    )?;
    same("sides", theirs.maker_party == mine.maker_party)?;
    same(
        "market",
        theirs.base == mine.base && theirs.quote == mine.quote,
    )?;
    same("amount", theirs.bucket == mine.bucket)?;
    same("outcome", theirs.outcome == mine.outcome)?;
    same(
        "end time",
        (theirs.ended_at - mine.ended_at).abs() <= END_SLACK_MS,
    )?;
    match (&theirs.escrow, &mine.escrow) {
        (None, None) => {}
        (Some(t), Some(m)) => {
            let ids = |v: &[TxAt]| v.iter().map(|t| t.txid).collect::<HashSet<_>>();
            same("escrow funding", ids(&t.funding) == ids(&m.funding))?;
            // The payouts the maker names must be on the chain, spending the funding; it may not know
            // one (the winner of a dispute broadcasts it): the receipt then proves the funding only.
            match check_on_chain(backend_of(inner), t).await {
                ReceiptCheck::Verified => {}
                ReceiptCheck::Failed { reason } => return Err(peer_fault(reason)),
                other => return Err(crate::Error::Internal(format!("{other:?}"))),
            }
        }
        _ => same("escrow", false)?,
    }
    let id = sha(&body);
    let existing: Option<(Vec<u8>, Option<Vec<u8>>)> =
        sqlx::query_as("SELECT id, taker_signature FROM receipts WHERE trade_id = ?")
            .bind(trade_id.to_string())
            .fetch_optional(&inner.pool)
            .await
            .map_err(sql)?;
    if let Some((known, Some(sig))) = &existing {
        if known.as_slice() == id.as_slice() {
            return Ok(sig.clone());
        }
        return Err(peer_fault(
            "this node countersigned another receipt of the trade",
        ));
    }
    let mine_sig =
        receipt::sign_body(&body, &inner.me.keypair).map_err(|e| internal("signing", e))?;
    sqlx::query(
        "INSERT OR REPLACE INTO receipts (trade_id, id, body, maker_signature, taker_signature, \
         counterparty, ended_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(trade_id.to_string())
    .bind(id.to_vec())
    .bind(&body)
    .bind(&signature)
    .bind(&mine_sig)
    .bind(peer.to_string())
    .bind(theirs.ended_at)
    .bind(now_ms())
    .execute(&inner.pool)
    .await
    .map_err(sql)?;
    tracing::info!(%trade_id, "trade receipt countersigned for the maker");
    Ok(mine_sig)
}

/// This node's receipts (both signatures) and ratings, newest first, as the set it publishes.
async fn own_set(inner: &Inner) -> Result<HolderSet> {
    let rows: Vec<(Vec<u8>, Vec<u8>, Vec<u8>)> = sqlx::query_as(
        "SELECT body, maker_signature, taker_signature FROM receipts \
         WHERE taker_signature IS NOT NULL ORDER BY ended_at DESC, trade_id LIMIT ?",
    )
    .bind(i64::try_from(MAX_SET_RECEIPTS).unwrap_or(i64::MAX))
    .fetch_all(&inner.pool)
    .await
    .map_err(sql)?;
    let ratings: Vec<Vec<u8>> =
        sqlx::query_scalar("SELECT rating FROM receipt_ratings ORDER BY at DESC LIMIT ?")
            .bind(i64::try_from(MAX_SET_RATINGS).unwrap_or(i64::MAX))
            .fetch_all(&inner.pool)
            .await
            .map_err(sql)?;
    let nickname: Option<String> =
        sqlx::query_scalar("SELECT json_extract(value, '$.nickname') FROM settings WHERE key = ?")
            .bind(crate::preferences::KEY)
            .fetch_optional(&inner.pool)
            .await
            .map_err(sql)?
            .flatten();
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
async fn publish(inner: &Inner) -> Result<()> {
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
    let id: Option<(Vec<u8>, Option<Vec<u8>>)> =
        sqlx::query_as("SELECT id, taker_signature FROM receipts WHERE trade_id = ?")
            .bind(trade_id.to_string())
            .fetch_optional(&inner.pool)
            .await
            .map_err(sql)?;
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
    sqlx::query("INSERT OR REPLACE INTO receipt_ratings (trade_id, rating, at) VALUES (?, ?, ?)")
        .bind(trade_id.to_string())
        .bind(postcard::to_stdvec(&signed).map_err(|e| internal("a rating", e))?)
        .bind(at)
        .execute(&inner.pool)
        .await
        .map_err(sql)?;
    inner.receipts.notify_one();
    Ok(())
}

/// The receipt of one of this node's trades, as its shells show it.
pub(super) async fn receipt_state(inner: &Inner, trade_id: Uuid) -> Result<Option<String>> {
    let row: Option<(Option<Vec<u8>>, Option<String>)> =
        sqlx::query_as("SELECT taker_signature, refused FROM receipts WHERE trade_id = ?")
            .bind(trade_id.to_string())
            .fetch_optional(&inner.pool)
            .await
            .map_err(sql)?;
    Ok(row.map(|(sig, refused)| match (sig, refused) {
        (Some(_), _) => "signed by both parties".into(),
        (None, Some(why)) => format!("waiting for the counterparty's signature ({why})"),
        (None, None) => "waiting for the counterparty's signature".into(),
    }))
}

/// `peer`'s reputation as this node verifies it: every holder's set from the DHT (this node's own from
/// its database), each receipt checked, escrows on this node's chain.
pub(super) async fn reputation(inner: &Inner, peer: PeerId) -> Result<Reputation> {
    let mut holders: HashSet<PeerId> = match inner.net.get_providers(subject_key(&peer)).await {
        Ok(p) => p,
        Err(e) => {
            tracing::debug!(error = %e, "no providers of the peer's receipts found");
            HashSet::new()
        }
    };
    holders.insert(peer);
    let me = inner.me.peer;
    let mine = own_set(inner).await?;
    if mine
        .receipts
        .iter()
        .any(|r| r.verify().is_ok_and(|v| v.names(&peer)))
    {
        holders.insert(me);
    }
    let reads = holders
        .into_iter()
        .filter(|h| *h != me)
        .take(MAX_HOLDERS)
        .map(|holder| async move {
            let got = inner.net.get_record(holder_key(&holder)).await;
            (holder, got)
        });
    let mut sets = Vec::new();
    if peer == me
        || mine
            .receipts
            .iter()
            .any(|r| r.verify().is_ok_and(|v| v.names(&peer)))
    {
        sets.push((me, mine));
    }
    for (holder, got) in join_all(reads).await {
        match got {
            Ok(Some(bytes)) => match SignedHolderSet::verify(&bytes, now_ms()) {
                Ok((h, set)) if h == holder => sets.push((h, set)),
                Ok((h, _)) => tracing::debug!(%holder, %h, "a set under another holder's key"),
                Err(e) => tracing::debug!(%holder, error = %e, "a receipt set refused"),
            },
            Ok(None) => {}
            Err(e) => tracing::debug!(%holder, error = %e, "no receipt set found"),
        }
    }
    let collected = collect(&peer, &sets);
    let mut checks = HashMap::new();
    for r in &collected.receipts {
        let Some(proof) = &r.body.escrow else {
            continue;
        };
        checks.insert(r.id, checked(inner, r.id, proof).await?);
    }
    let seen: Option<(Option<i64>, Option<i64>)> =
        sqlx::query_as("SELECT MIN(created_at), MAX(last_seen) FROM offers WHERE maker = ?")
            .bind(peer.to_string())
            .fetch_optional(&inner.pool)
            .await
            .map_err(sql)?;
    let seen = seen.and_then(|(a, b)| Some((a?, b?)));
    Ok(summarize(&peer, collected, &checks, seen))
}

fn backend_of(
    inner: &Inner,
) -> Option<(
    &dyn ChainBackend,
    crate::escrow::Chain,
    crate::escrow::Network,
)> {
    inner
        .chain
        .as_deref()
        .map(|b| (b as &dyn ChainBackend, b.chain(), b.network()))
}

/// A receipt's escrow checked on this node's chain, remembered once the chain said yes or no.
async fn checked(inner: &Inner, id: [u8; 32], proof: &EscrowProof) -> Result<ReceiptCheck> {
    let known: Option<String> =
        sqlx::query_scalar("SELECT result FROM receipt_checks WHERE id = ?")
            .bind(id.to_vec())
            .fetch_optional(&inner.pool)
            .await
            .map_err(sql)?;
    if let Some(check) = known.and_then(|k| serde_json::from_str::<ReceiptCheck>(&k).ok()) {
        return Ok(check);
    }
    let check = check_on_chain(backend_of(inner), proof).await;
    if matches!(check, ReceiptCheck::Verified | ReceiptCheck::Failed { .. }) {
        sqlx::query(
            "INSERT OR REPLACE INTO receipt_checks (id, result, checked_at) VALUES (?, ?, ?)",
        )
        .bind(id.to_vec())
        .bind(serde_json::to_string(&check).map_err(|e| internal("a check", e))?)
        .bind(now_ms())
        .execute(&inner.pool)
        .await
        .map_err(sql)?;
    }
    Ok(check)
}

impl super::Desk {
    /// `peer`'s reputation, verified here (see [`reputation`]).
    pub async fn reputation(&self, peer: PeerId) -> Result<Reputation> {
        reputation(&self.inner, peer).await
    }

    /// Rates the counterparty of an ended trade of this node (see [`rate`]).
    pub async fn rate(&self, trade_id: Uuid, stars: u8, comment: &str) -> Result<()> {
        rate(&self.inner, trade_id, stars, comment).await
    }

    /// Publishes this node's set again now (its nickname changed).
    pub fn publish_again(&self) {
        self.inner.receipts.notify_one();
    }

    /// Where the receipt of one of this node's trades stands, in words (`None`: no receipt).
    pub async fn receipt_state(&self, trade_id: Uuid) -> Result<Option<String>> {
        receipt_state(&self.inner, trade_id).await
    }
}
