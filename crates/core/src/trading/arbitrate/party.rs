//! A party's side of a dispute: its case, sealed to the offer's arbitrator (or the backup once the
//! backup lock has passed) and sent again until a decision comes; the signed decision, checked against
//! the chain and this party's own record before it is co-signed and broadcast.

use bitcoin::FeeRate;
use libp2p::PeerId;
use sqlx::SqliteConnection;
use uuid::Uuid;

use super::{
    DisputeCase, MAX_FEE_RATE_FACTOR, SignedResolution, arbitrator_of, backup_of,
    find_announcement, peer_fault, refused, resolution_plan, sql,
};
use crate::{
    chain::ChainBackend,
    channel,
    error::{Error, Result},
    escrow::{
        Chain, Network, Party, SpendPath, Timelocks, check_psbt, decode_psbt, finalize_psbt,
        sign_psbt, trade_keypair,
    },
    offer::Offer,
    protocol::settlement::{SignedStep, StepBody, StepKind, TradeState},
    protocol::{DirectRequest, Stored},
    store::now_ms,
    trading::{TradeEvent, desk::Inner, settle, store},
};

/// Largest case a party may send (the chat is cut to fit).
const MAX_CASE_BYTES: usize = 7 * 1024;

/// Sends this party's case to the arbitrator once the trade is Disputed, and again every
/// `case_resend` until a decision comes (an arbitrator that lost its database gets it back; one that has
/// it keeps the newest copy).
pub(in crate::trading) async fn send_case(inner: &Inner, trade_id: Uuid) -> Result<()> {
    let mut conn = inner.pool.acquire().await.map_err(sql)?;
    let Some(row) = settle::load(&mut conn, trade_id).await? else {
        return Ok(());
    };
    let sent_at = store::disputes::case_sent_at(&mut conn, trade_id).await?;
    let resend = i64::try_from(inner.config.case_resend.as_millis()).unwrap_or(i64::MAX);
    let again = row.case_sent || row.backup_case_sent;
    if again && sent_at.is_none_or(|at| now_ms().saturating_sub(at) < resend) {
        return Ok(());
    }
    let channel = store::load_channel(&mut conn, &inner.me.storage_key, trade_id)
        .await?
        .ok_or_else(|| store::unknown_trade(trade_id))?;
    let arbitrator = arbitrator_of(&channel.offer)?;
    let escrow_keys = signed_steps(&mut conn, trade_id, "escrow_keys").await?;
    let dispute_steps = signed_steps(&mut conn, trade_id, StepKind::Dispute.as_str()).await?;
    let dispute_reason = dispute_reason(&mut conn, trade_id, &inner.me.peer).await?;
    let log = store::chat_log(&inner.pool, &inner.me.peer, trade_id).await?;
    drop(conn);
    let mut transcript: Vec<String> = log
        .iter()
        .map(|m| {
            format!(
                "{} {}: {}",
                m.sent_at,
                if m.outgoing { "me" } else { "them" },
                m.body
            )
        })
        .collect();
    let mut case = DisputeCase {
        dispute_steps,
        reason: dispute_reason,
        ..super::case_of(trade_id, &channel.offer, &row, escrow_keys)?
    };
    // Keep the newest lines that fit.
    while !transcript.is_empty() {
        case.transcript = transcript.clone();
        if postcard::to_stdvec(&case).map_or(0, |b| b.len()) <= MAX_CASE_BYTES {
            break;
        }
        transcript.remove(0);
    }
    if transcript.is_empty() {
        case.transcript.clear();
    }
    let plaintext = postcard::to_stdvec(&case).map_err(|e| Error::Internal(e.to_string()))?;
    if row.backup_case_sent
        && let Some(backup) = backup_of(&channel.offer)
    {
        // The backup decides from then on: the copy goes to it.
        deliver_case(inner, &row, &channel.offer, trade_id, backup, &plaintext).await?;
        case_sent(inner, trade_id, "backup_case_sent").await?;
        tracing::info!(%trade_id, %backup, "dispute case sent again to the backup arbitrator");
        return Ok(());
    }
    let first = deliver_case(
        inner,
        &row,
        &channel.offer,
        trade_id,
        arbitrator,
        &plaintext,
    )
    .await;
    if first.is_ok() {
        case_sent(inner, trade_id, "case_sent").await?;
        tracing::info!(%trade_id, %arbitrator, again, "dispute case sent to the arbitrator");
        return Ok(());
    }
    // The first arbitrator does not take the case: once the backup lock has passed on every escrow
    // output, the backup arbitrator stands in (and decides alone from then on).
    if let Some(backup) = backup_of(&channel.offer)
        && backup_lock_passed(inner, &row).await?
    {
        deliver_case(inner, &row, &channel.offer, trade_id, backup, &plaintext).await?;
        case_sent(inner, trade_id, "backup_case_sent").await?;
        tracing::info!(%trade_id, %backup, "dispute case sent to the backup arbitrator");
        return Ok(());
    }
    first
}

/// Records that the case reached an arbitrator (`column`: `case_sent` or `backup_case_sent`) and when.
async fn case_sent(inner: &Inner, trade_id: Uuid, column: &str) -> Result<()> {
    store::disputes::save_case_sent(&inner.pool, trade_id, column, now_ms()).await
}

/// Every escrow output of the trade has been confirmed for at least the backup lock.
async fn backup_lock_passed(inner: &Inner, row: &settle::EscrowRow) -> Result<bool> {
    let (Some(backend), Some(escrow)) = (inner.chain.as_ref(), row.script()?) else {
        return Ok(false);
    };
    let utxos = settle::escrow_utxos(backend, row, &escrow).await?;
    let lock = u32::from(Timelocks::of(row.chain, row.network).backup);
    Ok(!utxos.is_empty() && utxos.iter().all(|(_, u)| u.confirmations >= lock))
}

/// Seals a case to `arbitrator`'s announced channel key and sends it; `Ok` once it is stored there.
async fn deliver_case(
    inner: &Inner,
    row: &settle::EscrowRow,
    offer: &Offer,
    trade_id: Uuid,
    arbitrator: PeerId,
    plaintext: &[u8],
) -> Result<()> {
    let answer = ask_arbitrator(
        inner,
        (arbitrator, row.chain, row.network),
        offer.id,
        trade_id,
        plaintext,
        DirectRequest::Dispute,
    )
    .await?;
    match Stored::decode(&answer).map_err(refused)? {
        Stored::Stored => Ok(()),
        Stored::Refused(reason) => Err(Error::InvalidInput(format!(
            "the arbitrator refused the case: {reason}"
        ))),
        Stored::Later(reason) => Err(Error::Internal(format!(
            "the arbitrator could not take the case now ({reason}); sending it again later"
        ))),
    }
}

/// Seals `plaintext` to the arbitrator's announced channel key (the take envelope's construction, from
/// this node) and sends it as the request `wrap` makes; returns the arbitrator's answer bytes.
pub(super) async fn ask_arbitrator(
    inner: &Inner,
    (arbitrator, chain, network): (PeerId, Chain, Network),
    offer_id: Uuid,
    trade_id: Uuid,
    plaintext: &[u8],
    wrap: fn(Vec<u8>) -> DirectRequest,
) -> Result<Vec<u8>> {
    let announcement = find_announcement(inner, &arbitrator, chain, network).await?;
    let (sealed, _) = channel::seal_take(
        arbitrator,
        &announcement.channel_key,
        offer_id,
        trade_id,
        plaintext,
        &inner.me.keypair,
    )?;
    let _ = inner.net.find_peer(arbitrator).await;
    Ok(inner
        .net
        .request(arbitrator, wrap(sealed.to_bytes()?).encode())
        .await?)
}

/// The trade's signed steps of `kind`, each rebuilt as its signer made it (the event holds the step bytes
/// and the signature; the key is in the signer's PeerId).
pub(super) async fn signed_steps(
    conn: &mut SqliteConnection,
    trade_id: Uuid,
    kind: &str,
) -> Result<Vec<Vec<u8>>> {
    let rows = store::disputes::steps_of_kind(conn, trade_id, kind).await?;
    rows.into_iter()
        .map(|(bytes, signature, signer)| {
            let signer: PeerId = signer
                .parse()
                .map_err(|e| Error::Internal(format!("stored signer: {e}")))?;
            SignedStep {
                bytes,
                key: key_of(&signer)?,
                signature,
            }
            .to_bytes()
            .map_err(Error::from)
        })
        .collect()
}

/// This party's own reason: its own dispute steps and the deadlines its node saw close (the
/// counterparty's reason travels in the counterparty's case, and its signed step in `dispute_steps`).
async fn dispute_reason(
    conn: &mut SqliteConnection,
    trade_id: Uuid,
    me: &PeerId,
) -> Result<String> {
    let events = store::disputes::dispute_events(conn, trade_id).await?;
    let me = me.to_base58();
    let reasons: Vec<String> = events
        .iter()
        .filter(|(kind, _, signer)| kind != "dispute" || *signer == me)
        .map(|(kind, payload, _)| match kind.as_str() {
            "payment_expired" => "the payment window closed without payment".to_owned(),
            "confirm_expired" => {
                "the buyer said it paid, but the seller neither confirmed nor disputed in time"
                    .to_owned()
            }
            "release_expired" => {
                "the seller confirmed the payment, but no release reached the chain in time"
                    .to_owned()
            }
            _ => match crate::protocol::settlement::decode_step(payload) {
                Ok(step) => match step.body {
                    StepBody::Dispute { reason } => reason,
                    _ => String::new(),
                },
                Err(e) => format!("(unreadable: {e})"),
            },
        })
        .collect();
    if reasons.is_empty() {
        return Ok("the other party opened the dispute; this party gave no reason".into());
    }
    Ok(reasons.join(" / "))
}

fn key_of(peer: &PeerId) -> Result<Vec<u8>> {
    let multihash = peer.as_ref();
    if multihash.code() != 0 {
        return Err(Error::Internal(format!("{peer} does not embed its key")));
    }
    Ok(multihash.digest().to_vec())
}

/// A resolution from the arbitrator: checked against the chain and this party's own record of the trade,
/// only while the trade is Disputed here; recorded, and, when this party gets anything, co-signed and
/// broadcast.
pub(in crate::trading) async fn on_resolution(inner: &Inner, bytes: &[u8]) -> Result<()> {
    let (resolution, signer, signed) = SignedResolution::open(bytes)?;
    resolution.check_outcome()?;
    let trade_id = resolution.trade_id;
    let mut conn = inner.pool.acquire().await.map_err(sql)?;
    let channel = store::load_channel(&mut conn, &inner.me.storage_key, trade_id)
        .await?
        .ok_or_else(|| store::unknown_trade(trade_id))?;
    let row = settle::load(&mut conn, trade_id)
        .await?
        .ok_or_else(|| peer_fault("no escrow for this trade"))?;
    let by_backup = backup_of(&channel.offer) == Some(signer);
    if signer != arbitrator_of(&channel.offer)? && !by_backup {
        return Err(peer_fault(format!(
            "a resolution signed by {signer}, who is not this trade's arbitrator"
        )));
    }
    // A second copy (the arbitrator sends it again until it hears back, also after a restart): it is
    // acknowledged, and nothing is checked, broadcast or recorded twice.
    match settle::current_state(&mut conn, trade_id).await? {
        TradeState::Resolved => {
            tracing::debug!(%trade_id, "the resolution is here already");
            return Ok(());
        }
        TradeState::Disputed => {}
        // The dispute step may not have arrived here yet: the arbitrator keeps the decision owed.
        other if other.is_open() => {
            return Err(Error::Internal(format!(
                "the trade is {other} here, not in dispute yet: send the decision again later"
            )));
        }
        other => {
            return Err(peer_fault(format!(
                "the trade is {other} here, not in dispute: a decision is not taken"
            )));
        }
    }
    drop(conn);
    let backend = inner
        .chain
        .clone()
        .ok_or_else(|| Error::Internal("no chain backend configured".into()))?;
    let escrow = row
        .script()?
        .ok_or_else(|| peer_fault("the escrow is not set up"))?;
    let (Some(buyer_address), Some(seller_address)) =
        (row.buyer_address_text(), row.seller_address_text())
    else {
        return Err(peer_fault("a party's address is unknown"));
    };
    let mut psbt = decode_psbt(&resolution.psbt).map_err(peer_fault)?;
    let inputs = settle::spent_escrow_outputs(&backend, &row, &escrow, &psbt).await?;
    let total: u64 = inputs.iter().map(|i| i.value.to_sat()).sum();
    if resolution.buyer_share.checked_add(resolution.seller_share) != Some(total) {
        return Err(peer_fault(format!(
            "the decision shares out {} + {} but its inputs hold {total}",
            resolution.buyer_share, resolution.seller_share
        )));
    }
    let mut plan = resolution_plan(
        row.chain,
        row.network,
        (&buyer_address, &seller_address),
        (&escrow.parties().buyer, &escrow.parties().seller),
        resolution.buyer_share,
        inputs,
    )?;
    if by_backup {
        plan.path = SpendPath::Backup;
    }
    let rate = backend.fee_rate().await?;
    let max = FeeRate::from_sat_per_kwu(rate.to_sat_per_kwu().saturating_mul(MAX_FEE_RATE_FACTOR));
    check_psbt(&psbt, &escrow, &plan, max)
        .map_err(|e| peer_fault(format!("the arbitrator's payout is refused: {e}")))?;
    let mine = match row.side {
        Party::Buyer => resolution.buyer_share,
        Party::Seller => resolution.seller_share,
    };
    let broadcast = if mine > 0 {
        let key = trade_keypair(&inner.escrow_root, row.chain, row.network, &trade_id)
            .map_err(peer_fault)?;
        sign_psbt(&mut psbt, &escrow, &key).map_err(peer_fault)?;
        let tx = finalize_psbt(psbt, &escrow).map_err(peer_fault)?;
        backend.broadcast(&tx).await?;
        let height = backend.tip_height().await?;
        Some((tx, height))
    } else {
        None
    };
    let txid = broadcast
        .as_ref()
        .map(|(tx, _)| tx.compute_txid().to_string());
    let (_guard, mut tx) = inner.write().await?;
    if settle::current_state(&mut tx, trade_id).await? != TradeState::Disputed {
        return Ok(());
    }
    settle::record_resolution(
        &mut tx,
        trade_id,
        &signed.bytes,
        &signer,
        &signed.signature,
        broadcast.as_ref().map(|(tx, height)| (tx, *height)),
    )
    .await?;
    let info = store::trade_info_on(&mut tx, &inner.me.peer, trade_id).await?;
    tx.commit().await.map_err(sql)?;
    tracing::info!(
        %trade_id,
        winner = %resolution.winner,
        buyer_share = resolution.buyer_share,
        seller_share = resolution.seller_share,
        round = resolution.round,
        ?txid,
        "dispute resolved"
    );
    let _ = inner.events.send(TradeEvent::TradeUpdated {
        trade: Box::new(info),
    });
    Ok(())
}
