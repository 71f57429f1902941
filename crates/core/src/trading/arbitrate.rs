//! Disputes. A party whose trade is Disputed (its own dispute, the counterparty's, or the payment window
//! closing) sends its case to the offer's arbitrator, sealed to the arbitrator's announced X25519 key: the
//! offer, the terms, both parties' signed escrow-key steps (which prove each party's key and address), the
//! signed dispute steps in its log (which prove who opened the dispute), the reason and the chat. The
//! arbitrator decides (`souk dispute resolve ID --to buyer|seller`), signs a PSBT
//! paying the whole escrow to the winner with its own per-trade key, and sends it, signed, to both
//! parties. The winner's node checks it, co-signs, finalises and broadcasts; both record the resolution.

use std::{str::FromStr, sync::Arc, time::Duration};

use bitcoin::{Amount, FeeRate};
use libp2p::PeerId;
use serde::{Deserialize, Serialize};
use sqlx::{Row, SqliteConnection};
use ts_rs::TS;
use uuid::Uuid;

use super::{TradeEvent, desk::Inner, settle, store};
use crate::{
    arbiter::{SignedAnnouncement, arbitrator_trade_keypair, record_key},
    chain::ChainBackend,
    channel,
    error::{Error, Result},
    escrow::{
        Chain, EscrowInput, EscrowParties, EscrowScript, Funder, Network, Payout, SpendPath,
        SpendPlan, Timelocks, TradeEscrow, build_spend, check_psbt, decode_psbt, encode_psbt,
        finalize_psbt, parse_payout_address, sign_psbt, trade_keypair,
    },
    offer::{EscrowKind, Offer, Side},
    protocol::{DirectRequest, Stored},
    store::{StoreError, now_ms},
    trade::{SignedStep, StepBody, StepKind, TradeState},
};

/// Signature domain of an arbitrator's resolution.
pub const RESOLUTION_SIGNING_TAG: &[u8] = b"souk/resolution/v1\0";
/// The arbitrator's PSBT may pay at most this many times the fee rate the party's node suggests.
const MAX_FEE_RATE_FACTOR: u64 = 4;
/// Largest case a party may send (the chat is cut to fit).
const MAX_CASE_BYTES: usize = 7 * 1024;

fn sql(e: sqlx::Error) -> Error {
    Error::Store(StoreError::Sql(e))
}

fn refused(e: impl std::fmt::Display) -> Error {
    Error::InvalidInput(e.to_string())
}

/// What a party tells the arbitrator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisputeCase {
    pub trade_id: Uuid,
    /// The offer as taken, as JSON (postcard cannot carry its tagged enums).
    pub offer_json: String,
    pub amount: u64,
    pub buyer_deposit: u64,
    pub seller_deposit: u64,
    pub chain: Chain,
    pub network: Network,
    /// Both parties' signed `EscrowKeys` steps, as each signed it.
    pub escrow_keys: Vec<Vec<u8>>,
    /// The signed `Dispute` steps in this party's log (either party's), as each signed it; none when a
    /// deadline sent the trade to the arbitrator.
    pub dispute_steps: Vec<Vec<u8>>,
    /// This party's side: `buyer` or `seller`.
    pub side: String,
    pub reason: String,
    /// The chat and the trade's steps, as lines, oldest first.
    pub transcript: Vec<String>,
    /// The first arbitrator's key in this escrow, as the party derived it from the announcement: a
    /// backup arbitrator needs it to compute the script once the first is gone (a wrong key gives an
    /// escrow address that holds nothing on the chain, so it gains nothing).
    pub arbitrator_key: Vec<u8>,
}

impl DisputeCase {
    fn offer(&self) -> Result<Offer> {
        serde_json::from_str(&self.offer_json)
            .map_err(|e| refused(format!("the case's offer: {e}")))
    }
}

/// A dispute as the arbitrator keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct DisputeInfo {
    #[ts(type = "string")]
    pub trade_id: Uuid,
    pub chain: Chain,
    pub network: Network,
    /// The offer as taken (market, price, payment methods, terms), as the first case states it.
    pub offer: Offer,
    pub buyer: String,
    pub seller: String,
    pub buyer_address: String,
    pub seller_address: String,
    pub escrow_address: String,
    /// Base units the buyer buys; the escrow holds it and both deposits.
    pub amount: u64,
    pub buyer_deposit: u64,
    pub seller_deposit: u64,
    /// `buyer` or `seller`: whose signed dispute step came first; `None` when a deadline sent the trade to
    /// the arbitrator.
    pub opened_by: Option<String>,
    /// Each party's case as received (the buyer's first); one until the other party's arrives.
    pub cases: Vec<PartyCase>,
    /// When the first case arrived here.
    pub opened_at: i64,
    /// `buyer` or `seller` once decided.
    pub resolved_to: Option<String>,
    pub resolved_at: Option<i64>,
}

/// One party's case as the arbitrator shows it. Reason and transcript are the party's own text: shells
/// must never render them as markup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct PartyCase {
    /// `buyer` or `seller`.
    pub side: String,
    pub reason: String,
    /// The chat (and nothing else), oldest first, each line `SENT_AT_MS me|them: TEXT` from this party's
    /// point of view; the oldest lines are dropped when the case would be too large.
    pub transcript: Vec<String>,
}

/// The arbitrator's decision, signed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resolution {
    pub trade_id: Uuid,
    /// `buyer` or `seller`.
    pub winner: String,
    /// The PSBT paying the escrow to the winner, signed by the arbitrator.
    pub psbt: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedResolution {
    pub bytes: Vec<u8>,
    pub key: Vec<u8>,
    pub signature: Vec<u8>,
}

impl SignedResolution {
    fn sign(resolution: &Resolution, keypair: &libp2p::identity::Keypair) -> Result<Self> {
        let bytes = postcard::to_stdvec(resolution).map_err(|e| Error::Internal(e.to_string()))?;
        let (key, signature) = crate::signing::sign(RESOLUTION_SIGNING_TAG, &bytes, keypair)
            .map_err(|e| Error::Internal(e.to_string()))?;
        Ok(Self {
            bytes,
            key,
            signature,
        })
    }

    fn open(bytes: &[u8]) -> Result<(Resolution, PeerId, Self)> {
        let signed: Self = crate::codec::decode_exact(bytes, "resolution").map_err(refused)?;
        let signer = crate::signing::verify(
            RESOLUTION_SIGNING_TAG,
            &signed.bytes,
            &signed.key,
            &signed.signature,
        )
        .map_err(refused)?;
        let resolution: Resolution =
            crate::codec::decode_exact(&signed.bytes, "resolution").map_err(refused)?;
        Ok((resolution, signer, signed))
    }
}

/// The offer's second arbitrator, who stands in after the backup lock.
fn backup_of(offer: &Offer) -> Option<PeerId> {
    match &offer.escrow {
        EscrowKind::Multisig { arbitrators } => arbitrators.get(1).copied(),
        EscrowKind::None => None,
    }
}

fn arbitrator_of(offer: &Offer) -> Result<PeerId> {
    match &offer.escrow {
        EscrowKind::Multisig { arbitrators } => arbitrators
            .first()
            .copied()
            .ok_or_else(|| refused("the offer names no arbitrator")),
        EscrowKind::None => Err(refused("a trade without escrow has no arbitrator")),
    }
}

/// The parties, their keys and addresses, from their own signed steps: (buyer, seller) each as
/// (PeerId, pubkey, address).
type Party = (PeerId, Vec<u8>, String);

fn parties(case: &DisputeCase) -> Result<(Party, Party)> {
    let mut keys = Vec::new();
    for bytes in &case.escrow_keys {
        let (step, _) = SignedStep::verify(bytes).map_err(refused)?;
        if step.trade_id != case.trade_id {
            return Err(refused("an escrow-key step of another trade"));
        }
        let StepBody::EscrowKeys { pubkey, address } = step.body else {
            return Err(refused("not an escrow-key step"));
        };
        parse_payout_address(&address, case.chain, case.network).map_err(refused)?;
        keys.push((step.sender, pubkey, address));
    }
    let offer = case.offer()?;
    let maker = offer.maker;
    let (Some(m), Some(t)) = (
        keys.iter().find(|k| k.0 == maker).cloned(),
        keys.iter().find(|k| k.0 != maker).cloned(),
    ) else {
        return Err(refused("the case lacks one party's signed escrow keys"));
    };
    Ok(match offer.side {
        Side::Sell => (t, m),
        Side::Buy => (m, t),
    })
}

/// The trade's escrow as the arbitrator computes it: the parties' signed keys, its own key, and the
/// backup arbitrator's (the offer's second) from its announcement in the DHT.
async fn escrow_of(
    inner: &Inner,
    case: &DisputeCase,
    buyer: &Party,
    seller: &Party,
    mine: bitcoin::secp256k1::PublicKey,
) -> Result<TradeEscrow> {
    let offer = case.offer()?;
    let (arbitrator, backup) = if arbitrator_of(&offer)? == inner.me.peer {
        let backup = match backup_of(&offer) {
            Some(backup) => Some(
                find_announcement(inner, &backup, case.chain, case.network)
                    .await?
                    .trade_key(&case.trade_id)
                    .map_err(refused)?,
            ),
            None => None,
        };
        (mine, backup)
    } else {
        // The backup: the first arbitrator may be gone, its key comes with the case.
        (
            EscrowScript::parse_key(&case.arbitrator_key).map_err(refused)?,
            Some(mine),
        )
    };
    let parties = EscrowParties {
        buyer: EscrowScript::parse_key(&buyer.1).map_err(refused)?,
        seller: EscrowScript::parse_key(&seller.1).map_err(refused)?,
        arbitrator,
        backup,
    };
    TradeEscrow::new(parties, Timelocks::of(case.chain, case.network)).map_err(refused)
}

/// The whole escrow to the winner, the fee from its output.
fn resolution_plan(
    chain: Chain,
    network: Network,
    address: &str,
    inputs: Vec<EscrowInput>,
) -> Result<SpendPlan> {
    let total: u64 = inputs.iter().map(|i| i.value.to_sat()).sum();
    Ok(SpendPlan {
        chain,
        inputs,
        outputs: vec![Payout {
            script_pubkey: parse_payout_address(address, chain, network).map_err(refused)?,
            amount: Amount::from_sat(total),
        }],
        fee_payer: 0,
        path: SpendPath::Multisig,
    })
}

// ------------------------------------------------------------------------------------- party side

/// Sends this party's case to the arbitrator once the trade is Disputed.
pub(super) async fn send_case(inner: &Inner, trade_id: Uuid) -> Result<()> {
    let mut conn = inner.pool.acquire().await.map_err(sql)?;
    let Some(row) = settle::load(&mut conn, trade_id).await? else {
        return Ok(());
    };
    if row.case_sent || row.backup_case_sent {
        return Ok(());
    }
    let channel = store::load_channel(&mut conn, &inner.me.storage_key, trade_id)
        .await?
        .ok_or_else(|| store::unknown_trade(trade_id))?;
    let arbitrator = arbitrator_of(&channel.offer)?;
    let escrow_keys = signed_steps(&mut conn, trade_id, "escrow_keys").await?;
    let dispute_steps = signed_steps(&mut conn, trade_id, StepKind::Dispute.as_str()).await?;
    let dispute_reason = dispute_reason(&mut conn, trade_id).await?;
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
        trade_id,
        offer_json: serde_json::to_string(&channel.offer)
            .map_err(|e| Error::Internal(e.to_string()))?,
        amount: row.amount,
        buyer_deposit: row.buyer_deposit,
        seller_deposit: row.seller_deposit,
        chain: row.chain,
        network: row.network,
        escrow_keys,
        dispute_steps,
        side: row.side_text().into(),
        reason: dispute_reason,
        transcript: Vec::new(),
        arbitrator_key: row.arbitrator_pubkey.clone().unwrap_or_default(),
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
        sqlx::query("UPDATE trade_escrow SET case_sent = 1 WHERE trade_id = ?")
            .bind(trade_id.to_string())
            .execute(&inner.pool)
            .await
            .map_err(sql)?;
        tracing::info!(%trade_id, %arbitrator, "dispute case sent to the arbitrator");
        return Ok(());
    }
    // The first arbitrator does not take the case: once the backup lock has passed on every escrow
    // output, the backup arbitrator stands in (and decides alone from then on).
    if let Some(backup) = backup_of(&channel.offer)
        && backup_lock_passed(inner, &row).await?
    {
        deliver_case(inner, &row, &channel.offer, trade_id, backup, &plaintext).await?;
        sqlx::query("UPDATE trade_escrow SET backup_case_sent = 1 WHERE trade_id = ?")
            .bind(trade_id.to_string())
            .execute(&inner.pool)
            .await
            .map_err(sql)?;
        tracing::info!(%trade_id, %backup, "dispute case sent to the backup arbitrator");
        return Ok(());
    }
    first
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
    let announcement = find_announcement(inner, &arbitrator, row.chain, row.network).await?;
    let (sealed, _) = channel::seal_take(
        arbitrator,
        &announcement.channel_key,
        offer.id,
        trade_id,
        plaintext,
        &inner.me.keypair,
    )?;
    let _ = inner.net.find_peer(arbitrator).await;
    let answer = inner
        .net
        .request(
            arbitrator,
            DirectRequest::Dispute(sealed.to_bytes()?).encode(),
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

/// The trade's signed steps of `kind`, each rebuilt as its signer made it (the event holds the step bytes
/// and the signature; the key is in the signer's PeerId).
async fn signed_steps(
    conn: &mut SqliteConnection,
    trade_id: Uuid,
    kind: &str,
) -> Result<Vec<Vec<u8>>> {
    let rows: Vec<(Vec<u8>, Vec<u8>, String)> = sqlx::query_as(
        "SELECT payload, signature, signer FROM trade_events WHERE trade_id = ? AND kind = ? \
         ORDER BY seq",
    )
    .bind(trade_id.to_string())
    .bind(kind)
    .fetch_all(conn)
    .await
    .map_err(sql)?;
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

async fn dispute_reason(conn: &mut SqliteConnection, trade_id: Uuid) -> Result<String> {
    let events: Vec<(String, Vec<u8>)> = sqlx::query_as(
        "SELECT kind, payload FROM trade_events WHERE trade_id = ? \
         AND kind IN ('dispute', 'payment_expired', 'release_expired', 'confirm_expired') \
         ORDER BY seq",
    )
    .bind(trade_id.to_string())
    .fetch_all(conn)
    .await
    .map_err(sql)?;
    let reasons: Vec<String> = events
        .iter()
        .map(|(kind, payload)| match kind.as_str() {
            "payment_expired" => "the payment window closed without payment".to_owned(),
            "confirm_expired" => {
                "the buyer said it paid, but the seller neither confirmed nor disputed in time"
                    .to_owned()
            }
            "release_expired" => {
                "the seller confirmed the payment, but no release reached the chain in time"
                    .to_owned()
            }
            _ => match crate::trade::decode_step(payload) {
                Ok(step) => match step.body {
                    StepBody::Dispute { reason } => reason,
                    _ => String::new(),
                },
                Err(e) => format!("(unreadable: {e})"),
            },
        })
        .collect();
    Ok(reasons.join(" / "))
}

fn key_of(peer: &PeerId) -> Result<Vec<u8>> {
    let multihash = peer.as_ref();
    if multihash.code() != 0 {
        return Err(Error::Internal(format!("{peer} does not embed its key")));
    }
    Ok(multihash.digest().to_vec())
}

async fn find_announcement(
    inner: &Inner,
    arbitrator: &PeerId,
    chain: Chain,
    network: Network,
) -> Result<crate::arbiter::Announcement> {
    let value = inner
        .net
        .get_record(record_key(arbitrator, chain, network))
        .await?
        .ok_or_else(|| {
            refused(format!(
                "arbitrator {arbitrator} is not announced in the DHT"
            ))
        })?;
    let a = SignedAnnouncement::verify(&value).map_err(refused)?;
    if a.arbitrator != *arbitrator {
        return Err(refused("an announcement of another arbitrator"));
    }
    Ok(a)
}

/// A resolution from the arbitrator: checked, recorded, and, when this party won, co-signed and
/// broadcast.
pub(super) async fn on_resolution(inner: &Inner, bytes: &[u8]) -> Result<()> {
    let (resolution, signer, signed) = SignedResolution::open(bytes)?;
    let trade_id = resolution.trade_id;
    let mut conn = inner.pool.acquire().await.map_err(sql)?;
    let channel = store::load_channel(&mut conn, &inner.me.storage_key, trade_id)
        .await?
        .ok_or_else(|| store::unknown_trade(trade_id))?;
    let row = settle::load(&mut conn, trade_id)
        .await?
        .ok_or_else(|| refused("no escrow for this trade"))?;
    let by_backup = backup_of(&channel.offer) == Some(signer);
    if signer != arbitrator_of(&channel.offer)? && !by_backup {
        return Err(refused(format!(
            "a resolution signed by {signer}, who is not this trade's arbitrator"
        )));
    }
    // A second copy (the arbitrator sends it again until it hears back, also after a restart): it is
    // acknowledged, and nothing is checked, broadcast or recorded twice.
    if settle::current_state(&mut conn, trade_id).await? == TradeState::Resolved {
        tracing::debug!(%trade_id, "the resolution is here already");
        return Ok(());
    }
    drop(conn);
    let backend = inner
        .chain
        .clone()
        .ok_or_else(|| refused("no chain backend configured"))?;
    let escrow = row
        .script()?
        .ok_or_else(|| refused("the escrow is not set up"))?;
    let winner_address = match resolution.winner.as_str() {
        "buyer" => row.buyer_address_text(),
        "seller" => row.seller_address_text(),
        other => return Err(refused(format!("winner {other:?}"))),
    }
    .ok_or_else(|| refused("the winner's address is unknown"))?;
    let mut psbt = decode_psbt(&resolution.psbt).map_err(refused)?;
    let inputs = settle::spent_escrow_outputs(&backend, &row, &escrow, &psbt).await?;
    let mut plan = resolution_plan(row.chain, row.network, &winner_address, inputs)?;
    if by_backup {
        plan.path = SpendPath::Backup;
    }
    let rate = backend.fee_rate().await?;
    let max = FeeRate::from_sat_per_kwu(rate.to_sat_per_kwu().saturating_mul(MAX_FEE_RATE_FACTOR));
    check_psbt(&psbt, &escrow, &plan, max)
        .map_err(|e| refused(format!("the arbitrator's payout is refused: {e}")))?;
    let won = resolution.winner == row.side_text();
    let txid = if won {
        let key = trade_keypair(&inner.escrow_root, row.chain, row.network, &trade_id)
            .map_err(refused)?;
        sign_psbt(&mut psbt, &escrow, &key).map_err(refused)?;
        let tx = finalize_psbt(psbt, &escrow).map_err(refused)?;
        Some(backend.broadcast(&tx).await?.to_string())
    } else {
        None
    };
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
        txid.as_deref(),
    )
    .await?;
    let info = store::trade_info_on(&mut tx, &inner.me.peer, trade_id).await?;
    tx.commit().await.map_err(sql)?;
    tracing::info!(%trade_id, winner = %resolution.winner, ?txid, "dispute resolved");
    let _ = inner.events.send(TradeEvent::TradeUpdated {
        trade: Box::new(info),
    });
    Ok(())
}

// -------------------------------------------------------------------------------- arbitrator side

/// A sealed case from a party: opened, checked, stored (once per party).
pub(super) async fn on_case(inner: &Inner, bytes: &[u8]) -> Result<()> {
    let opened = channel::open_take(&inner.me.channel_secret, inner.me.peer, bytes)?;
    let case: DisputeCase =
        crate::codec::decode_exact(opened.plaintext(), "dispute case").map_err(refused)?;
    if case.trade_id != opened.trade_id() {
        return Err(refused("the case names another trade than its envelope"));
    }
    let offer = case.offer()?;
    if arbitrator_of(&offer)? != inner.me.peer && backup_of(&offer) != Some(inner.me.peer) {
        return Err(refused("this node is not an arbitrator of that offer"));
    }
    let (buyer, seller) = parties(&case)?;
    let reporter = opened.taker();
    if reporter != buyer.0 && reporter != seller.0 {
        return Err(refused("the case comes from neither party"));
    }
    disputes_of(&case, &buyer.0, &seller.0)?;
    let key =
        arbitrator_trade_keypair(&inner.escrow_root, case.chain, case.network, &case.trade_id)
            .map_err(refused)?;
    let escrow = escrow_of(inner, &case, &buyer, &seller, key.public_key()).await?;
    let address = escrow
        .of(Funder::Seller)
        .address(case.chain, case.network)
        .map_err(refused)?;
    let side = if reporter == buyer.0 {
        "buyer"
    } else {
        "seller"
    };
    let now = now_ms();
    let mut tx = inner
        .pool
        .begin_with("BEGIN IMMEDIATE")
        .await
        .map_err(sql)?;
    let existing: Option<String> =
        sqlx::query_scalar("SELECT cases FROM disputes WHERE trade_id = ?")
            .bind(case.trade_id.to_string())
            .fetch_optional(&mut *tx)
            .await
            .map_err(sql)?;
    let mut cases: Vec<DisputeCase> = match existing {
        Some(json) => serde_json::from_str(&json).map_err(|e| Error::Internal(e.to_string()))?,
        None => Vec::new(),
    };
    cases.retain(|c| c.side != side);
    let mut case = case;
    case.side = side.into();
    cases.push(case.clone());
    let json = serde_json::to_string(&cases).map_err(|e| Error::Internal(e.to_string()))?;
    sqlx::query(
        "INSERT INTO disputes (trade_id, chain, network, buyer, seller, buyer_address, seller_address, \
         escrow_address, amount, cases, opened_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
         ON CONFLICT (trade_id) DO UPDATE SET cases = excluded.cases",
    )
    .bind(case.trade_id.to_string())
    .bind(case.chain.to_string())
    .bind(case.network.to_string())
    .bind(buyer.0.to_base58())
    .bind(seller.0.to_base58())
    .bind(&buyer.2)
    .bind(&seller.2)
    .bind(&address)
    .bind(i64::try_from(case.amount).unwrap_or(i64::MAX))
    .bind(json)
    .bind(now)
    .execute(&mut *tx)
    .await
    .map_err(sql)?;
    tx.commit().await.map_err(sql)?;
    tracing::info!(trade_id = %case.trade_id, %side, "dispute case received");
    let _ = inner.events.send(TradeEvent::DisputeOpened {
        trade_id: case.trade_id,
    });
    Ok(())
}

/// The case's signed dispute steps, each checked (signature, trade, body, signed by a party), as
/// (sender, the sender's time); a case with a step that fails any check is refused.
fn disputes_of(case: &DisputeCase, buyer: &PeerId, seller: &PeerId) -> Result<Vec<(PeerId, i64)>> {
    case.dispute_steps
        .iter()
        .map(|bytes| {
            let (step, _) = SignedStep::verify(bytes).map_err(refused)?;
            if step.trade_id != case.trade_id {
                return Err(refused("a dispute step of another trade"));
            }
            if !matches!(step.body, StepBody::Dispute { .. }) {
                return Err(refused("a dispute step that is no dispute"));
            }
            if step.sender != *buyer && step.sender != *seller {
                return Err(refused("a dispute step signed by neither party"));
            }
            Ok((step.sender, step.at))
        })
        .collect()
}

fn info_of(row: &sqlx::sqlite::SqliteRow) -> Result<DisputeInfo> {
    let stored =
        |what: &str, e: &dyn std::fmt::Display| Error::Internal(format!("stored {what}: {e}"));
    let cases: String = row.try_get("cases").map_err(sql)?;
    let mut cases: Vec<DisputeCase> =
        serde_json::from_str(&cases).map_err(|e| stored("cases", &e))?;
    let first = cases
        .first()
        .ok_or_else(|| Error::Internal("a dispute without a case".into()))?;
    let offer = first.offer()?;
    let (buyer_deposit, seller_deposit) = (first.buyer_deposit, first.seller_deposit);
    let id: String = row.try_get("trade_id").map_err(sql)?;
    let chain: String = row.try_get("chain").map_err(sql)?;
    let network: String = row.try_get("network").map_err(sql)?;
    let amount: i64 = row.try_get("amount").map_err(sql)?;
    let buyer: String = row.try_get("buyer").map_err(sql)?;
    let seller: String = row.try_get("seller").map_err(sql)?;
    let (buyer_id, seller_id): (PeerId, PeerId) = (
        buyer.parse().map_err(|e| stored("buyer", &e))?,
        seller.parse().map_err(|e| stored("seller", &e))?,
    );
    // Who opened it: the earliest signed dispute step in any case (each was checked on arrival).
    let mut steps = Vec::new();
    for case in &cases {
        steps.extend(disputes_of(case, &buyer_id, &seller_id)?);
    }
    let opened_by = steps.iter().min_by_key(|(_, at)| *at).map(|(sender, _)| {
        if *sender == buyer_id {
            "buyer"
        } else {
            "seller"
        }
        .to_owned()
    });
    cases.sort_by_key(|c| c.side != "buyer");
    Ok(DisputeInfo {
        trade_id: Uuid::parse_str(&id).map_err(|e| stored("trade id", &e))?,
        chain: Chain::from_str(&chain).map_err(|e| stored("chain", &e))?,
        network: Network::from_str(&network).map_err(|e| stored("network", &e))?,
        offer,
        buyer,
        seller,
        buyer_address: row.try_get("buyer_address").map_err(sql)?,
        seller_address: row.try_get("seller_address").map_err(sql)?,
        escrow_address: row.try_get("escrow_address").map_err(sql)?,
        amount: u64::try_from(amount).unwrap_or(0),
        buyer_deposit,
        seller_deposit,
        opened_by,
        cases: cases
            .into_iter()
            .map(|c| PartyCase {
                side: c.side,
                reason: c.reason,
                transcript: c.transcript,
            })
            .collect(),
        opened_at: row.try_get("opened_at").map_err(sql)?,
        resolved_to: row.try_get("resolved_to").map_err(sql)?,
        resolved_at: row.try_get("resolved_at").map_err(sql)?,
    })
}

/// Open disputes first, then the decided ones; newest first in each.
pub(super) async fn list(inner: &Inner) -> Result<Vec<DisputeInfo>> {
    let rows = sqlx::query(
        "SELECT * FROM disputes ORDER BY resolved_to IS NOT NULL, opened_at DESC, trade_id",
    )
    .fetch_all(&inner.pool)
    .await
    .map_err(sql)?;
    rows.iter().map(info_of).collect()
}

pub(super) async fn show(inner: &Inner, trade_id: Uuid) -> Result<DisputeInfo> {
    let row = sqlx::query("SELECT * FROM disputes WHERE trade_id = ?")
        .bind(trade_id.to_string())
        .fetch_optional(&inner.pool)
        .await
        .map_err(sql)?
        .ok_or_else(|| refused(format!("no dispute about trade {trade_id} here")))?;
    info_of(&row)
}

/// The arbitrator decides: a PSBT paying the whole escrow to `winner`, signed with the arbitrator's
/// per-trade key, sent signed to both parties.
pub(super) async fn resolve(
    inner: &Arc<Inner>,
    trade_id: Uuid,
    winner: &str,
) -> Result<DisputeInfo> {
    if winner != "buyer" && winner != "seller" {
        return Err(refused(format!(
            "resolve to buyer or seller, not {winner:?}"
        )));
    }
    let dispute = show(inner, trade_id).await?;
    if let Some(done) = &dispute.resolved_to {
        return Err(refused(format!(
            "this dispute was resolved already, to the {done}"
        )));
    }
    let row = sqlx::query("SELECT cases FROM disputes WHERE trade_id = ?")
        .bind(trade_id.to_string())
        .fetch_one(&inner.pool)
        .await
        .map_err(sql)?;
    let cases: Vec<DisputeCase> =
        serde_json::from_str(&row.try_get::<String, _>("cases").map_err(sql)?)
            .map_err(|e| Error::Internal(e.to_string()))?;
    let case = cases
        .first()
        .ok_or_else(|| Error::Internal("a dispute without a case".into()))?;
    let (buyer, seller) = parties(case)?;
    let backend = inner
        .chain
        .clone()
        .ok_or_else(|| refused("no chain backend configured"))?;
    let key = arbitrator_trade_keypair(&inner.escrow_root, case.chain, case.network, &trade_id)
        .map_err(refused)?;
    let escrow = escrow_of(inner, case, &buyer, &seller, key.public_key()).await?;
    let mut utxos = Vec::new();
    for funder in Funder::BOTH {
        let spk = escrow.of(funder).script_pubkey();
        let useful = case.chain.dust_limit(&spk).to_sat() * settle::USEFUL_OUTPUT_DUST_FACTOR;
        utxos.extend(
            backend
                .escrow_utxos(&spk)
                .await?
                .into_iter()
                .filter(|u| u.value.to_sat() >= useful)
                .map(|u| u.input_of(funder)),
        );
    }
    if utxos.is_empty() {
        return Err(refused("the escrow holds nothing on the chain"));
    }
    let address = if winner == "buyer" {
        &buyer.2
    } else {
        &seller.2
    };
    let mut plan = resolution_plan(case.chain, case.network, address, utxos)?;
    if arbitrator_of(&case.offer()?)? != inner.me.peer {
        // The backup arbitrator signs on the backup branch, which its lock opens.
        plan.path = SpendPath::Backup;
    }
    let mut psbt = build_spend(&escrow, &plan, backend.fee_rate().await?).map_err(refused)?;
    sign_psbt(&mut psbt, &escrow, &key).map_err(refused)?;
    let signed = SignedResolution::sign(
        &Resolution {
            trade_id,
            winner: winner.into(),
            psbt: encode_psbt(&psbt),
        },
        &inner.me.keypair,
    )?;
    let bytes = postcard::to_stdvec(&signed).map_err(|e| Error::Internal(e.to_string()))?;
    // Only the first decision is stored and sent, even when two arrive at once (two windows, a double
    // click): the second finds the dispute decided.
    let decided = sqlx::query(
        "UPDATE disputes SET resolved_to = ?, resolved_at = ?, resolution = ? \
         WHERE trade_id = ? AND resolved_to IS NULL",
    )
    .bind(winner)
    .bind(now_ms())
    .bind(&bytes)
    .bind(trade_id.to_string())
    .execute(&inner.pool)
    .await
    .map_err(sql)?;
    if decided.rows_affected() != 1 {
        let done = show(inner, trade_id).await?.resolved_to.unwrap_or_default();
        return Err(refused(format!(
            "this dispute was resolved already, to the {done}"
        )));
    }
    for (side, party) in [(PartySide::Buyer, buyer.0), (PartySide::Seller, seller.0)] {
        tokio::spawn(deliver_resolution(
            inner.clone(),
            trade_id,
            side,
            party,
            bytes.clone(),
        ));
    }
    tracing::info!(%trade_id, %winner, "dispute decided");
    let _ = inner.events.send(TradeEvent::DisputeResolved { trade_id });
    show(inner, trade_id).await
}

/// A party of a dispute, as the arbitrator records who has its resolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum PartySide {
    Buyer,
    Seller,
}

/// A stored resolution a party has not acknowledged yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Undelivered {
    pub trade_id: Uuid,
    pub side: PartySide,
    pub party: PeerId,
    pub bytes: Vec<u8>,
}

/// Every stored resolution, once per party that has not acknowledged it.
pub(super) async fn undelivered_resolutions(pool: &sqlx::SqlitePool) -> Result<Vec<Undelivered>> {
    let rows = sqlx::query(
        "SELECT trade_id, buyer, seller, buyer_answer, seller_answer, resolution FROM disputes \
         WHERE resolution IS NOT NULL AND (buyer_answer IS NULL OR seller_answer IS NULL) \
         ORDER BY resolved_at, trade_id",
    )
    .fetch_all(pool)
    .await
    .map_err(sql)?;
    let stored =
        |what: &str, e: &dyn std::fmt::Display| Error::Internal(format!("stored {what}: {e}"));
    let mut out = Vec::new();
    for row in rows {
        let id: String = row.try_get("trade_id").map_err(sql)?;
        let trade_id = Uuid::parse_str(&id).map_err(|e| stored("trade id", &e))?;
        let bytes: Vec<u8> = row.try_get("resolution").map_err(sql)?;
        for (side, peer, has) in [
            (PartySide::Buyer, "buyer", "buyer_answer"),
            (PartySide::Seller, "seller", "seller_answer"),
        ] {
            if row
                .try_get::<Option<String>, _>(has)
                .map_err(sql)?
                .is_some()
            {
                continue;
            }
            let peer: String = row.try_get(peer).map_err(sql)?;
            out.push(Undelivered {
                trade_id,
                side,
                party: peer.parse().map_err(|e| stored("party", &e))?,
                bytes: bytes.clone(),
            });
        }
    }
    Ok(out)
}

/// Longest refusal reason kept from a party (its own words).
const MAX_REFUSAL_CHARS: usize = 500;

/// Records `side`'s answer to the resolution of `trade_id` (`stored` or `refused: REASON`): it is not
/// sent to that party again.
pub(super) async fn record_answer(
    pool: &sqlx::SqlitePool,
    trade_id: Uuid,
    side: PartySide,
    answer: &Stored,
) -> Result<()> {
    let query = match side {
        PartySide::Buyer => "UPDATE disputes SET buyer_answer = ? WHERE trade_id = ?",
        PartySide::Seller => "UPDATE disputes SET seller_answer = ? WHERE trade_id = ?",
    };
    let text = match answer {
        Stored::Stored => "stored".to_owned(),
        Stored::Refused(reason) => format!(
            "refused: {}",
            reason.chars().take(MAX_REFUSAL_CHARS).collect::<String>()
        ),
        // Not an answer: the resolution stays owed to that party.
        Stored::Later(_) => return Ok(()),
    };
    sqlx::query(query)
        .bind(text)
        .bind(trade_id.to_string())
        .execute(pool)
        .await
        .map_err(sql)?;
    Ok(())
}

/// At start: sends every stored resolution again to each party that has not acknowledged it (the node
/// may have stopped before); ends when each is delivered or the desk shuts down.
pub(super) async fn resend_resolutions(inner: Arc<Inner>) {
    let pending = match undelivered_resolutions(&inner.pool).await {
        Ok(pending) => pending,
        Err(e) => {
            tracing::warn!(error = %e, "could not list the resolutions to send again");
            return;
        }
    };
    let runs = pending.into_iter().map(|u| {
        tracing::info!(trade_id = %u.trade_id, party = %u.party, "sending a resolution again");
        deliver_resolution(inner.clone(), u.trade_id, u.side, u.party, u.bytes)
    });
    futures::future::join_all(runs).await;
}

/// Sends the resolution to one party until it acknowledges (it may be offline for a while) or the desk
/// shuts down; an acknowledgement or a refusal is recorded, so that a restart sends it only to a party
/// that has neither.
async fn deliver_resolution(
    inner: Arc<Inner>,
    trade_id: Uuid,
    side: PartySide,
    party: PeerId,
    bytes: Vec<u8>,
) {
    let mut wait = Duration::from_millis(250);
    let attempt = async {
        loop {
            let _ = inner.net.find_peer(party).await;
            match inner
                .net
                .request(party, DirectRequest::Resolution(bytes.clone()).encode())
                .await
                .map_err(|e| e.to_string())
                .and_then(|answer| Stored::decode(&answer))
            {
                Ok(Stored::Stored) => {
                    tracing::info!(%trade_id, %party, "the party has the resolution");
                    return Stored::Stored;
                }
                Ok(Stored::Refused(reason)) => {
                    tracing::warn!(%trade_id, %party, %reason, "a party refused the resolution");
                    return Stored::Refused(reason);
                }
                // The party's chain node or disk failed: the decision stays owed.
                Ok(Stored::Later(reason)) => {
                    tracing::info!(%trade_id, %party, %reason, "the party will take the resolution later");
                }
                Err(e) => {
                    tracing::debug!(%trade_id, %party, error = %e, "resolution not delivered yet");
                }
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(inner.config.max_retry);
        }
    };
    let answer = tokio::select! {
        biased;
        () = inner.stop.cancelled() => return,
        answer = attempt => answer,
    };
    if let Err(e) = record_answer(&inner.pool, trade_id, side, &answer).await {
        tracing::warn!(%trade_id, %party, error = %e, "could not record the resolution's delivery");
    }
}

#[cfg(test)]
mod tests {
    use libp2p::identity::Keypair;

    use super::*;
    use crate::store::{FILE_NAME, Store};

    async fn dispute(
        pool: &sqlx::SqlitePool,
        buyer: PeerId,
        seller: PeerId,
        resolution: Option<&[u8]>,
    ) -> Uuid {
        let id = Uuid::new_v4();
        sqlx::query(
            "INSERT INTO disputes (trade_id, chain, network, buyer, seller, buyer_address, \
             seller_address, escrow_address, amount, cases, opened_at, resolved_to, resolved_at, resolution) \
             VALUES (?, 'ltc', 'regtest', ?, ?, 'b', 's', 'e', 1, '[]', 1, ?, ?, ?)",
        )
        .bind(id.to_string())
        .bind(buyer.to_string())
        .bind(seller.to_string())
        .bind(resolution.map(|_| "buyer"))
        .bind(resolution.map(|_| 2_i64))
        .bind(resolution)
        .execute(pool)
        .await
        .unwrap();
        id
    }

    async fn answers(pool: &sqlx::SqlitePool, id: Uuid) -> (Option<String>, Option<String>) {
        sqlx::query_as("SELECT buyer_answer, seller_answer FROM disputes WHERE trade_id = ?")
            .bind(id.to_string())
            .fetch_one(pool)
            .await
            .unwrap()
    }

    /// A decision is owed to each party until it answers, across a restart (the real file is reopened);
    /// an undecided dispute owes nothing; a refusal is kept with the party's reason, cut short.
    #[tokio::test]
    async fn a_resolution_is_owed_to_each_party_until_it_answers() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        let store = Store::open(&path).await.unwrap();
        let (buyer, seller) = (
            Keypair::generate_ed25519().public().to_peer_id(),
            Keypair::generate_ed25519().public().to_peer_id(),
        );
        dispute(store.pool(), buyer, seller, None).await;
        let decided = dispute(store.pool(), buyer, seller, Some(b"signed")).await;
        let owed = undelivered_resolutions(store.pool()).await.unwrap();
        let to = |side, party| Undelivered {
            trade_id: decided,
            side,
            party,
            bytes: b"signed".to_vec(),
        };
        assert_eq!(
            owed,
            [to(PartySide::Buyer, buyer), to(PartySide::Seller, seller)]
        );

        record_answer(store.pool(), decided, PartySide::Buyer, &Stored::Stored)
            .await
            .unwrap();
        drop(store);
        let store = Store::open(&path).await.unwrap();
        assert_eq!(
            undelivered_resolutions(store.pool()).await.unwrap(),
            [to(PartySide::Seller, seller)]
        );
        // "Later" is no answer: still owed.
        let later = Stored::Later("the chain node is unreachable".into());
        record_answer(store.pool(), decided, PartySide::Seller, &later)
            .await
            .unwrap();
        assert_eq!(
            undelivered_resolutions(store.pool()).await.unwrap(),
            [to(PartySide::Seller, seller)]
        );
        let refusal = Stored::Refused(format!("no such trade {}", "x".repeat(2000)));
        record_answer(store.pool(), decided, PartySide::Seller, &refusal)
            .await
            .unwrap();
        assert_eq!(undelivered_resolutions(store.pool()).await.unwrap(), []);
        let (bought, sold) = answers(store.pool(), decided).await;
        assert_eq!(bought.as_deref(), Some("stored"));
        let sold = sold.unwrap();
        assert!(sold.starts_with("refused: no such trade xxx"), "{sold}");
        assert_eq!(sold.chars().count(), "refused: ".len() + MAX_REFUSAL_CHARS);
    }
}
