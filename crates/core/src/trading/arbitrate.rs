//! Disputes. A party whose trade is Disputed (its own dispute, the counterparty's, or a deadline) sends
//! its case to the offer's arbitrator, sealed to the arbitrator's announced X25519 key: the offer, the
//! terms, both parties' signed escrow-key steps (which prove each party's key and address), the signed
//! dispute steps in its log (which prove who opened the dispute), its own reason and the chat. It sends
//! the case again now and then until a decision comes, so an arbitrator that lost its database gets it
//! back.
//!
//! The arbitrator keeps one dispute per trade: a case whose parties, keys, addresses, amounts or escrow
//! differ from the one it holds is refused, unless the held one's escrow is empty on the chain and the new
//! one's is not (a squatter who guessed the trade id cannot lock the real parties out). It decides
//! (`souk dispute resolve ID --to buyer|seller|split [--buyer-gets X] [--reason TEXT]`): a PSBT paying the
//! escrow as it stands on the chain to the winner, or split between both, signed with its own per-trade
//! key and sent, signed, to both parties. A party checks it against the chain and its own record of the
//! trade, and only while its trade is Disputed; a party who gets anything co-signs and broadcasts (the
//! same transaction from both is harmless). When a party refuses a decision and no party has taken it,
//! the arbitrator may issue a new one (a new round).

use std::{str::FromStr, sync::Arc, time::Duration};

use bitcoin::FeeRate;
use libp2p::PeerId;
use serde::{Deserialize, Serialize};
use sqlx::{Row, SqliteConnection};
use ts_rs::TS;
use uuid::Uuid;

use super::{TradeEvent, Winner, desk::Inner, settle, store};
use crate::{
    arbiter::{SignedAnnouncement, arbitrator_trade_keypair, record_key},
    chain::ChainBackend,
    channel,
    error::{Error, Result},
    escrow::{
        Chain, EscrowInput, EscrowParties, EscrowScript, Network, Party, SpendPath, SpendPlan,
        Timelocks, TradeEscrow, build_spend, check_psbt, decode_psbt, encode_psbt, finalize_psbt,
        parse_payout_address, sign_psbt, trade_keypair,
    },
    offer::{EscrowKind, Offer, Side},
    protocol::settlement::{SignedStep, StepBody, StepKind, TradeState},
    protocol::{DirectRequest, Stored},
    store::{StoreError, now_ms},
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
    /// This party's trade as the arbitrator needs it: no dispute steps, reason or chat yet.
    fn of(
        trade_id: Uuid,
        offer: &Offer,
        row: &settle::EscrowRow,
        escrow_keys: Vec<Vec<u8>>,
    ) -> Result<Self> {
        Ok(Self {
            trade_id,
            offer_json: serde_json::to_string(offer).map_err(|e| Error::Internal(e.to_string()))?,
            amount: row.amount,
            buyer_deposit: row.buyer_deposit,
            seller_deposit: row.seller_deposit,
            chain: row.chain,
            network: row.network,
            escrow_keys,
            dispute_steps: Vec::new(),
            side: row.side.as_str().into(),
            reason: String::new(),
            transcript: Vec::new(),
            arbitrator_key: row.arbitrator_pubkey.clone().unwrap_or_default(),
        })
    }

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
    /// Whose signed dispute step came first; `None` when a deadline sent the trade to the arbitrator.
    pub opened_by: Option<Party>,
    /// Each party's case as received (the buyer's first); one until the other party's arrives.
    pub cases: Vec<PartyCase>,
    /// When the first case arrived here.
    pub opened_at: i64,
    /// Who the latest decision gives the escrow to, once decided.
    pub resolved_to: Option<Winner>,
    pub resolved_at: Option<i64>,
    /// The latest decision: base units of the escrow each party gets (the fee comes out of the larger
    /// share), the arbitrator's reason, its round (1 for the first, more after a refusal) and each party's
    /// answer (`stored`, `refused: REASON`, or none yet).
    pub decision: Option<DecisionInfo>,
    /// What the escrow's outputs hold on the chain now (outputs worth counting), next to what the
    /// parties agreed; `None` in lists and when the chain cannot be asked.
    pub on_chain: Option<OnChain>,
}

/// The arbitrator's latest decision, as it shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct DecisionInfo {
    pub round: u32,
    pub buyer_share: u64,
    pub seller_share: u64,
    pub reason: String,
    pub buyer_answer: Option<String>,
    pub seller_answer: Option<String>,
    /// A party refused it and none took it: the arbitrator may decide again.
    pub can_decide_again: bool,
}

/// What the escrow holds on the chain, per funder's output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct OnChain {
    pub buyer_output: u64,
    pub seller_output: u64,
}

/// What the arbitrator decides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Decision {
    /// The buyer or the seller (the whole escrow), or a split.
    pub to: Winner,
    /// With `split`: base units of the escrow (as it stands on the chain) the buyer gets; the seller gets
    /// the rest. The fee comes out of the larger share.
    #[ts(type = "number | null")]
    pub buyer_gets: Option<u64>,
    /// Why, shown to both parties.
    pub reason: String,
}

impl Decision {
    /// The whole escrow to `party`, without a reason.
    pub fn to(party: Party) -> Self {
        Self {
            to: party.into(),
            buyer_gets: None,
            reason: String::new(),
        }
    }
}

/// Longest reason an arbitrator may give.
pub const MAX_DECISION_REASON_CHARS: usize = 1_000;

/// One party's case as the arbitrator shows it. Reason and transcript are the party's own text: shells
/// must never render them as markup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct PartyCase {
    pub side: Party,
    pub reason: String,
    /// The chat (and nothing else), oldest first, each line `SENT_AT_MS me|them: TEXT` from this party's
    /// point of view; the oldest lines are dropped when the case would be too large.
    pub transcript: Vec<String>,
}

/// The arbitrator's decision, signed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resolution {
    pub trade_id: Uuid,
    /// `buyer`, `seller` or `split`.
    pub winner: String,
    /// Base units of the escrow's inputs each party gets before the fee; they add up to the inputs.
    pub buyer_share: u64,
    pub seller_share: u64,
    /// The arbitrator's words, shown to both parties.
    pub reason: String,
    /// 1 for the first decision; one more for each new decision after a refusal.
    pub round: u32,
    /// The PSBT paying the shares, signed by the arbitrator.
    pub psbt: Vec<u8>,
}

impl Resolution {
    /// The outcome must say what the shares say.
    fn check_outcome(&self) -> Result<()> {
        let consistent = match self.winner.as_str() {
            "buyer" => self.seller_share == 0,
            "seller" => self.buyer_share == 0,
            "split" => self.buyer_share > 0 && self.seller_share > 0,
            other => return Err(refused(format!("a decision for {other:?}"))),
        };
        if !consistent {
            return Err(refused(format!(
                "a decision for the {} that gives the buyer {} and the seller {}",
                self.winner, self.buyer_share, self.seller_share
            )));
        }
        if self.reason.chars().count() > MAX_DECISION_REASON_CHARS {
            return Err(refused("the decision's reason is too long"));
        }
        Ok(())
    }
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

    pub(super) fn open(bytes: &[u8]) -> Result<(Resolution, PeerId, Self)> {
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
type PartyKeys = (PeerId, Vec<u8>, String);

fn parties(case: &DisputeCase) -> Result<(PartyKeys, PartyKeys)> {
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
    buyer: &PartyKeys,
    seller: &PartyKeys,
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

/// The escrow's inputs shared out: `buyer_share` to the buyer's address, the rest to the seller's (a
/// share of nothing has no output); the fee comes out of the larger share (the buyer's on a tie).
fn resolution_plan(
    chain: Chain,
    network: Network,
    (buyer_address, seller_address): (&str, &str),
    (buyer_key, seller_key): (
        &bitcoin::secp256k1::PublicKey,
        &bitcoin::secp256k1::PublicKey,
    ),
    buyer_share: u64,
    inputs: Vec<EscrowInput>,
) -> Result<SpendPlan> {
    let total: u64 = inputs.iter().map(|i| i.value.to_sat()).sum();
    let seller_share = total.checked_sub(buyer_share).ok_or_else(|| {
        refused(format!(
            "the buyer's share {buyer_share} is more than the escrow's {total}"
        ))
    })?;
    let mut outputs = Vec::new();
    let mut reserves = Vec::new();
    for (share, address, key) in [
        (buyer_share, buyer_address, buyer_key),
        (seller_share, seller_address, seller_key),
    ] {
        if share == 0 {
            continue;
        }
        // Each share is paid like a return: its payout, then a fee reserve to its party's key when the
        // share is large enough. Payouts come first, reserves after.
        let mut paid = settle::return_outputs(chain, network, address, key, share)?;
        outputs.push(paid.remove(0));
        reserves.extend(paid);
    }
    let fee_payer = usize::from(outputs.len() == 2 && seller_share > buyer_share);
    outputs.extend(reserves);
    Ok(SpendPlan {
        chain,
        inputs,
        outputs,
        fee_payer,
        path: SpendPath::Multisig,
    })
}

// ------------------------------------------------------------------------------------- party side

/// Sends this party's case to the arbitrator once the trade is Disputed, and again every
/// `case_resend` until a decision comes (an arbitrator that lost its database gets it back; one that has
/// it keeps the newest copy).
pub(super) async fn send_case(inner: &Inner, trade_id: Uuid) -> Result<()> {
    let mut conn = inner.pool.acquire().await.map_err(sql)?;
    let Some(row) = settle::load(&mut conn, trade_id).await? else {
        return Ok(());
    };
    let sent_at: Option<i64> =
        sqlx::query_scalar("SELECT case_sent_at FROM trade_escrow WHERE trade_id = ?")
            .bind(trade_id.to_string())
            .fetch_one(&mut *conn)
            .await
            .map_err(sql)?;
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
        ..DisputeCase::of(trade_id, &channel.offer, &row, escrow_keys)?
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
    let query = match column {
        "backup_case_sent" => {
            "UPDATE trade_escrow SET backup_case_sent = 1, case_sent_at = ? WHERE trade_id = ?"
        }
        _ => "UPDATE trade_escrow SET case_sent = 1, case_sent_at = ? WHERE trade_id = ?",
    };
    sqlx::query(query)
        .bind(now_ms())
        .bind(trade_id.to_string())
        .execute(&inner.pool)
        .await
        .map_err(sql)?;
    Ok(())
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

/// Test hook: this node, no party to trade `trade_id`, forges a case about it for `arbitrator`: an offer
/// of its own naming the arbitrator, itself as the seller and a made-up buyer, each with escrow keys and a
/// payout address of their own, signed as a party would. Returns the arbitrator's refusal, `None` when it
/// stored the case.
#[cfg(feature = "test-hooks")]
pub(super) async fn send_forged_case(
    inner: &Inner,
    arbitrator: PeerId,
    trade_id: Uuid,
    (chain, network): (Chain, Network),
) -> Result<Option<String>> {
    use crate::{
        identity::{Identity, SeedPhrase},
        offer::{Asset, Fiat, NewOffer, PaymentMethod, Price, Quote},
    };
    let internal = |e: &dyn std::fmt::Display| Error::Internal(e.to_string());
    let puppet = SeedPhrase::generate()
        .and_then(Identity::from_phrase)
        .map_err(|e| internal(&e))?;
    let offer = Offer::new(
        inner.me.peer,
        NewOffer {
            side: Side::Sell,
            base: Asset::Ltc,
            quote: Quote::Fiat(Fiat::Eur),
            price: Price::Fixed(rust_decimal::Decimal::from(80)),
            min_amount: 50_000_000,
            max_amount: 200_000_000,
            payment_methods: vec![PaymentMethod::new("SEPA").map_err(|e| internal(&e))?],
            escrow: EscrowKind::Multisig {
                arbitrators: vec![arbitrator],
            },
            deposit_bps: 1_500,
            maker_x25519: x25519_dalek::PublicKey::from(&inner.me.channel_secret).to_bytes(),
            ttl_ms: 3_600_000,
            terms: String::new(),
        },
        now_ms(),
    )
    .map_err(|e| internal(&e))?;
    let keys_step = |peer: PeerId,
                     keypair: &libp2p::identity::Keypair,
                     root: &bitcoin::bip32::Xpriv|
     -> Result<Vec<u8>> {
        let key = trade_keypair(root, chain, network, &trade_id).map_err(refused)?;
        let payout = bitcoin::ScriptBuf::new_p2wpkh(
            &bitcoin::CompressedPublicKey(key.public_key()).wpubkey_hash(),
        );
        let address =
            crate::escrow::address_from_script(&payout, chain, network).map_err(refused)?;
        crate::protocol::settlement::TradeStep {
            trade_id,
            sender: peer,
            at: now_ms(),
            body: StepBody::EscrowKeys {
                pubkey: key.public_key().serialize().to_vec(),
                address,
            },
        }
        .sign(keypair)
        .map_err(|e| internal(&e))?
        .to_bytes()
        .map_err(|e| internal(&e))
    };
    let case = DisputeCase {
        trade_id,
        offer_json: serde_json::to_string(&offer).map_err(|e| internal(&e))?,
        amount: 100_000_000,
        buyer_deposit: 15_000_000,
        seller_deposit: 15_000_000,
        chain,
        network,
        escrow_keys: vec![
            keys_step(inner.me.peer, &inner.me.keypair, &inner.escrow_root)?,
            keys_step(puppet.peer_id(), puppet.keypair(), puppet.escrow_root())?,
        ],
        dispute_steps: Vec::new(),
        side: "seller".into(),
        reason: "pay me".into(),
        transcript: Vec::new(),
        arbitrator_key: Vec::new(),
    };
    let plaintext = postcard::to_stdvec(&case).map_err(|e| internal(&e))?;
    let answer = ask_arbitrator(
        inner,
        (arbitrator, chain, network),
        offer.id,
        trade_id,
        &plaintext,
        DirectRequest::Dispute,
    )
    .await?;
    Ok(match Stored::decode(&answer).map_err(refused)? {
        Stored::Stored => None,
        Stored::Refused(reason) | Stored::Later(reason) => Some(reason),
    })
}

/// Seals `plaintext` to the arbitrator's announced channel key (the take envelope's construction, from
/// this node) and sends it as the request `wrap` makes; returns the arbitrator's answer bytes.
async fn ask_arbitrator(
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

/// This party's own reason: its own dispute steps and the deadlines its node saw close (the
/// counterparty's reason travels in the counterparty's case, and its signed step in `dispute_steps`).
async fn dispute_reason(
    conn: &mut SqliteConnection,
    trade_id: Uuid,
    me: &PeerId,
) -> Result<String> {
    let events: Vec<(String, Vec<u8>, String)> = sqlx::query_as(
        "SELECT kind, payload, signer FROM trade_events WHERE trade_id = ? \
         AND kind IN ('dispute', 'payment_expired', 'release_expired', 'confirm_expired') \
         ORDER BY seq",
    )
    .bind(trade_id.to_string())
    .fetch_all(conn)
    .await
    .map_err(sql)?;
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

/// A resolution from the arbitrator: checked against the chain and this party's own record of the trade,
/// only while the trade is Disputed here; recorded, and, when this party gets anything, co-signed and
/// broadcast.
pub(super) async fn on_resolution(inner: &Inner, bytes: &[u8]) -> Result<()> {
    let (resolution, signer, signed) = SignedResolution::open(bytes)?;
    resolution.check_outcome()?;
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
            return Err(refused(format!(
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
        .ok_or_else(|| refused("the escrow is not set up"))?;
    let (Some(buyer_address), Some(seller_address)) =
        (row.buyer_address_text(), row.seller_address_text())
    else {
        return Err(refused("a party's address is unknown"));
    };
    let mut psbt = decode_psbt(&resolution.psbt).map_err(refused)?;
    let inputs = settle::spent_escrow_outputs(&backend, &row, &escrow, &psbt).await?;
    let total: u64 = inputs.iter().map(|i| i.value.to_sat()).sum();
    if resolution.buyer_share.checked_add(resolution.seller_share) != Some(total) {
        return Err(refused(format!(
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
        .map_err(|e| refused(format!("the arbitrator's payout is refused: {e}")))?;
    let mine = match row.side {
        Party::Buyer => resolution.buyer_share,
        Party::Seller => resolution.seller_share,
    };
    let broadcast = if mine > 0 {
        let key = trade_keypair(&inner.escrow_root, row.chain, row.network, &trade_id)
            .map_err(refused)?;
        sign_psbt(&mut psbt, &escrow, &key).map_err(refused)?;
        let tx = finalize_psbt(psbt, &escrow).map_err(refused)?;
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

/// The decision recorded in a Resolved trade's log, for the trade view.
pub(super) fn decision_of(payload: &[u8]) -> Option<Resolution> {
    crate::codec::decode_exact::<Resolution>(payload, "resolution").ok()
}

/// A funder's request that the arbitrator co-sign the return of its own escrow output: the trade as a
/// case (offer, both parties' signed escrow keys) and the return, signed by the funder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReturnRequest {
    pub case: DisputeCase,
    pub psbt: Vec<u8>,
}

/// This party's coins in its own escrow output go back to it while the other party's output holds
/// nothing (it never funded, or the escrow was paid out and these came late): the arbitrator co-signs at
/// once, so the funder never waits for a silent counterparty or the reclaim lock. Broadcast and recorded.
pub(super) async fn ask_return(
    inner: &Inner,
    backend: &crate::chain::Backend,
    row: &settle::EscrowRow,
    escrow: &TradeEscrow,
    trade_id: Uuid,
    coins: &[&crate::chain::Utxo],
) -> Result<()> {
    let funder = row.side;
    let inputs = coins.iter().map(|u| u.input_of(funder)).collect();
    let plan = row.return_plan(funder, inputs, SpendPath::Multisig)?;
    let mut psbt = build_spend(escrow, &plan, backend.fee_rate().await?).map_err(refused)?;
    sign_psbt(&mut psbt, escrow, &settle::my_key(inner, row, trade_id)?).map_err(refused)?;
    let mut conn = inner.pool.acquire().await.map_err(sql)?;
    let channel = store::load_channel(&mut conn, &inner.me.storage_key, trade_id)
        .await?
        .ok_or_else(|| store::unknown_trade(trade_id))?;
    let escrow_keys = signed_steps(&mut conn, trade_id, "escrow_keys").await?;
    drop(conn);
    let arbitrator = arbitrator_of(&channel.offer)?;
    let request = ReturnRequest {
        case: DisputeCase {
            reason: "the return of this party's own coins".into(),
            ..DisputeCase::of(trade_id, &channel.offer, row, escrow_keys)?
        },
        psbt: encode_psbt(&psbt),
    };
    let plaintext = postcard::to_stdvec(&request).map_err(|e| Error::Internal(e.to_string()))?;
    let answer = ask_arbitrator(
        inner,
        (arbitrator, row.chain, row.network),
        channel.offer.id,
        trade_id,
        &plaintext,
        DirectRequest::Return,
    )
    .await?;
    let amount = coins.iter().map(|u| u.value.to_sat()).sum();
    let address = row.address_of(funder).unwrap_or_default().to_owned();
    let outpoints: Vec<String> = coins.iter().map(|u| u.outpoint.to_string()).collect();
    let signed = match crate::protocol::ReturnAnswer::decode(&answer).map_err(refused)? {
        crate::protocol::ReturnAnswer::Signed(bytes) => bytes,
        crate::protocol::ReturnAnswer::Refused(reason) => {
            // Not asked again for these coins: the counterparty or the reclaim lock returns them.
            tracing::warn!(%trade_id, %reason, "the arbitrator refused to co-sign the return");
            return settle::record_return(
                inner,
                trade_id,
                settle::ReturnRecord::unsent(
                    funder,
                    outpoints,
                    amount,
                    address,
                    format!(
                        "arbitrator refused: {}",
                        reason.chars().take(200).collect::<String>()
                    ),
                ),
            )
            .await;
        }
        crate::protocol::ReturnAnswer::Later(reason) => {
            return Err(Error::Internal(format!(
                "the arbitrator cannot co-sign the return now ({reason})"
            )));
        }
    };
    let theirs = decode_psbt(&signed).map_err(refused)?;
    if theirs.unsigned_tx != psbt.unsigned_tx {
        return Err(refused("the arbitrator signed another transaction"));
    }
    let combined = crate::escrow::combine_psbts(psbt, theirs).map_err(refused)?;
    let tx = finalize_psbt(combined, escrow).map_err(refused)?;
    let txid = backend.broadcast(&tx).await?;
    tracing::info!(%trade_id, %txid, amount, "own escrow coins returned, co-signed by the arbitrator");
    settle::record_return(
        inner,
        trade_id,
        settle::ReturnRecord::broadcast(
            funder,
            amount,
            address,
            &tx,
            "arbitrated",
            backend.tip_height().await.ok(),
        ),
    )
    .await
}

// -------------------------------------------------------------------------------- arbitrator side

/// A funder asks this arbitrator to co-sign the return of its own escrow output. Signed only when it is
/// safe whatever happened off the chain: the request comes from one of the trade's two parties (their
/// signed escrow keys), the other party's output holds nothing on the chain (so the trade was never
/// funded, or it was paid out and these coins came late), the return spends only the asker's own output
/// and pays all of it, less a sane fee, to the address the asker signed, and no dispute about the trade is
/// held here (then the decision pays).
pub(super) async fn on_return_request(inner: &Inner, bytes: &[u8]) -> Result<Vec<u8>> {
    let opened = channel::open_take(&inner.me.channel_secret, inner.me.peer, bytes)?;
    let request: ReturnRequest =
        crate::codec::decode_exact(opened.plaintext(), "return request").map_err(refused)?;
    let case = &request.case;
    if case.trade_id != opened.trade_id() {
        return Err(refused("the request names another trade than its envelope"));
    }
    if arbitrator_of(&case.offer()?)? != inner.me.peer {
        return Err(refused(
            "this node is not the first arbitrator of that offer",
        ));
    }
    let (buyer, seller) = parties(case)?;
    let asker = opened.taker();
    let (funder, address) = if asker == buyer.0 {
        (Party::Buyer, &buyer.2)
    } else if asker == seller.0 {
        (Party::Seller, &seller.2)
    } else {
        return Err(refused("the request comes from neither party"));
    };
    if dispute_row(inner, case.trade_id).await?.is_some() {
        return Err(refused(
            "this trade is in dispute here: the decision says where its coins go",
        ));
    }
    let (escrow, inputs) = escrow_inputs(inner, case).await?;
    if inputs.iter().any(|i| i.funder != funder) {
        return Err(refused(format!(
            "the {}'s escrow output holds coins: only both parties or a decision can move them",
            funder.other().as_str()
        )));
    }
    let mut psbt = decode_psbt(&request.psbt).map_err(refused)?;
    let spent = psbt
        .unsigned_tx
        .input
        .iter()
        .map(|txin| {
            inputs
                .iter()
                .find(|i| i.outpoint == txin.previous_output)
                .cloned()
                .ok_or_else(|| {
                    refused(format!(
                        "the return spends {}, not an unspent output of the asker's escrow",
                        txin.previous_output
                    ))
                })
        })
        .collect::<Result<Vec<_>>>()?;
    let total: u64 = spent.iter().map(|i| i.value.to_sat()).sum();
    let funder_key = match funder {
        Party::Buyer => escrow.parties().buyer,
        Party::Seller => escrow.parties().seller,
    };
    let plan = SpendPlan {
        chain: case.chain,
        inputs: spent,
        outputs: settle::return_outputs(case.chain, case.network, address, &funder_key, total)?,
        fee_payer: 0,
        path: SpendPath::Multisig,
    };
    let backend = inner
        .chain
        .clone()
        .ok_or_else(|| Error::Internal("no chain backend configured".into()))?;
    let rate = backend.fee_rate().await?;
    let max = FeeRate::from_sat_per_kwu(rate.to_sat_per_kwu().saturating_mul(MAX_FEE_RATE_FACTOR));
    check_psbt(&psbt, &escrow, &plan, max).map_err(|e| refused(format!("the return: {e}")))?;
    let key =
        arbitrator_trade_keypair(&inner.escrow_root, case.chain, case.network, &case.trade_id)
            .map_err(refused)?;
    sign_psbt(&mut psbt, &escrow, &key).map_err(refused)?;
    tracing::info!(trade_id = %case.trade_id, funder = funder.as_str(), total, "co-signed the return of a funder's own coins");
    Ok(encode_psbt(&psbt))
}

/// What makes a dispute the dispute about one trade: every case for it must say the same.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Identity {
    chain: String,
    network: String,
    offer_id: Uuid,
    buyer: String,
    seller: String,
    buyer_address: String,
    seller_address: String,
    escrow_address: String,
    amount: u64,
    buyer_deposit: u64,
    seller_deposit: u64,
}

impl Identity {
    fn of(
        case: &DisputeCase,
        buyer: &PartyKeys,
        seller: &PartyKeys,
        escrow_address: &str,
    ) -> Result<Self> {
        Ok(Self {
            chain: case.chain.to_string(),
            network: case.network.to_string(),
            offer_id: case.offer()?.id,
            buyer: buyer.0.to_base58(),
            seller: seller.0.to_base58(),
            buyer_address: buyer.2.clone(),
            seller_address: seller.2.clone(),
            escrow_address: escrow_address.to_owned(),
            amount: case.amount,
            buyer_deposit: case.buyer_deposit,
            seller_deposit: case.seller_deposit,
        })
    }

    /// The stored dispute's, with its cases.
    fn stored(row: &sqlx::sqlite::SqliteRow) -> Result<(Self, Vec<DisputeCase>)> {
        let cases: String = row.try_get("cases").map_err(sql)?;
        let cases: Vec<DisputeCase> = serde_json::from_str(&cases)
            .map_err(|e| Error::Internal(format!("stored cases: {e}")))?;
        let first = cases
            .first()
            .ok_or_else(|| Error::Internal("a dispute without a case".into()))?;
        let amount: i64 = row.try_get("amount").map_err(sql)?;
        let identity = Self {
            chain: row.try_get("chain").map_err(sql)?,
            network: row.try_get("network").map_err(sql)?,
            offer_id: first.offer()?.id,
            buyer: row.try_get("buyer").map_err(sql)?,
            seller: row.try_get("seller").map_err(sql)?,
            buyer_address: row.try_get("buyer_address").map_err(sql)?,
            seller_address: row.try_get("seller_address").map_err(sql)?,
            escrow_address: row.try_get("escrow_address").map_err(sql)?,
            amount: u64::try_from(amount).unwrap_or(0),
            buyer_deposit: first.buyer_deposit,
            seller_deposit: first.seller_deposit,
        };
        Ok((identity, cases))
    }

    /// What differs, in words.
    fn differences(&self, other: &Self) -> String {
        let mut out = Vec::new();
        if (&self.buyer, &self.seller) != (&other.buyer, &other.seller) {
            out.push("the parties");
        }
        if (&self.buyer_address, &self.seller_address)
            != (&other.buyer_address, &other.seller_address)
        {
            out.push("the payout addresses");
        }
        if self.escrow_address != other.escrow_address {
            out.push("the escrow");
        }
        if (self.amount, self.buyer_deposit, self.seller_deposit)
            != (other.amount, other.buyer_deposit, other.seller_deposit)
        {
            out.push("the amounts");
        }
        if (&self.chain, &self.network, self.offer_id)
            != (&other.chain, &other.network, other.offer_id)
        {
            out.push("the offer");
        }
        out.join(", ")
    }
}

/// A sealed case from a party: opened, checked, stored (one per party; a party's newer copy replaces its
/// older one). A case that does not match the dispute held for its trade is refused, unless the held
/// dispute is undecided and its escrow is empty on the chain while the new case's is not: the chain says
/// which one is real.
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
        .of(Party::Seller)
        .address(case.chain, case.network)
        .map_err(refused)?;
    let identity = Identity::of(&case, &buyer, &seller, &address)?;
    let side = if reporter == buyer.0 {
        "buyer"
    } else {
        "seller"
    };
    // A different dispute under this trade id: the chain decides whether the new case replaces it.
    let mut replaces = None;
    let held = match dispute_row(inner, case.trade_id).await? {
        Some(row) => Some((Identity::stored(&row)?, row)),
        None => None,
    };
    if let Some(((held, held_cases), row)) = held
        && held != identity
    {
        let undecided = row
            .try_get::<Option<Vec<u8>>, _>("resolution")
            .map_err(sql)?
            .is_none();
        let differs = held.differences(&identity);
        let refusal = || {
            tracing::warn!(trade_id = %case.trade_id, %reporter, %differs, "a case that does not match the dispute held here");
            refused(format!(
                "the case does not match the dispute held for trade {} ({differs} differ)",
                case.trade_id
            ))
        };
        // Only an undecided dispute over an empty escrow gives way, and only to one whose (other)
        // escrow holds coins: the chain says which is real. The same escrow with other terms never.
        if !undecided
            || held.escrow_address == identity.escrow_address
            || holdings(inner, &held_cases[0]).await?.total() > 0
            || holdings(inner, &case).await?.total() == 0
        {
            return Err(refusal());
        }
        tracing::warn!(trade_id = %case.trade_id, %differs, "a dispute whose escrow is empty is replaced by one whose escrow holds coins");
        replaces = Some(held);
    }
    let now = now_ms();
    let mut tx = inner
        .pool
        .begin_with("BEGIN IMMEDIATE")
        .await
        .map_err(sql)?;
    let existing = sqlx::query("SELECT * FROM disputes WHERE trade_id = ?")
        .bind(case.trade_id.to_string())
        .fetch_optional(&mut *tx)
        .await
        .map_err(sql)?;
    let mut cases: Vec<DisputeCase> = match &existing {
        Some(row) => {
            let (held, cases) = Identity::stored(row)?;
            if held == identity {
                cases
            } else if Some(&held) == replaces.as_ref() {
                sqlx::query("DELETE FROM disputes WHERE trade_id = ?")
                    .bind(case.trade_id.to_string())
                    .execute(&mut *tx)
                    .await
                    .map_err(sql)?;
                Vec::new()
            } else {
                return Err(Error::Internal(
                    "the dispute changed while the case was checked; send it again".into(),
                ));
            }
        }
        None => Vec::new(),
    };
    let new = !cases.iter().any(|c| c.side == side);
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
    .bind(&identity.chain)
    .bind(&identity.network)
    .bind(&identity.buyer)
    .bind(&identity.seller)
    .bind(&identity.buyer_address)
    .bind(&identity.seller_address)
    .bind(&identity.escrow_address)
    .bind(i64::try_from(case.amount).unwrap_or(i64::MAX))
    .bind(json)
    .bind(now)
    .execute(&mut *tx)
    .await
    .map_err(sql)?;
    tx.commit().await.map_err(sql)?;
    tracing::info!(trade_id = %case.trade_id, %side, new, "dispute case received");
    if new {
        let _ = inner.events.send(TradeEvent::DisputeOpened {
            trade_id: case.trade_id,
        });
    }
    Ok(())
}

async fn dispute_row(inner: &Inner, trade_id: Uuid) -> Result<Option<sqlx::sqlite::SqliteRow>> {
    sqlx::query("SELECT * FROM disputes WHERE trade_id = ?")
        .bind(trade_id.to_string())
        .fetch_optional(&inner.pool)
        .await
        .map_err(sql)
}

impl OnChain {
    fn total(&self) -> u64 {
        self.buyer_output + self.seller_output
    }
}

/// The escrow of `case`, as this arbitrator computes it, with what each output holds on the chain
/// (outputs worth counting) as inputs.
async fn escrow_inputs(
    inner: &Inner,
    case: &DisputeCase,
) -> Result<(TradeEscrow, Vec<EscrowInput>)> {
    let (buyer, seller) = parties(case)?;
    let backend = inner
        .chain
        .clone()
        .ok_or_else(|| Error::Internal("no chain backend configured".into()))?;
    let key =
        arbitrator_trade_keypair(&inner.escrow_root, case.chain, case.network, &case.trade_id)
            .map_err(refused)?;
    let escrow = escrow_of(inner, case, &buyer, &seller, key.public_key()).await?;
    let scripts: Vec<_> = Party::BOTH
        .iter()
        .map(|f| escrow.of(*f).script_pubkey())
        .collect();
    backend.watch(&scripts, case_birth(case)?).await?;
    let mut inputs = Vec::new();
    for funder in Party::BOTH {
        let spk = escrow.of(funder).script_pubkey();
        let useful = case.chain.dust_limit(&spk).to_sat() * settle::USEFUL_OUTPUT_DUST_FACTOR;
        inputs.extend(
            backend
                .escrow_utxos(&spk)
                .await?
                .into_iter()
                .filter(|u| u.value.to_sat() >= useful)
                .map(|u| u.input_of(funder)),
        );
    }
    Ok((escrow, inputs))
}

/// Oldest a case's escrow may be watched from: a party's claim, so bounded (a rescan of the whole chain
/// is not the arbitrator's to pay for).
const OLDEST_CASE: std::time::Duration = std::time::Duration::from_secs(365 * 24 * 3600);

/// When coins could first reach the case's escrow (unix seconds): the offer's creation, at most
/// [`OLDEST_CASE`] ago.
fn case_birth(case: &DisputeCase) -> Result<u64> {
    let oldest = crate::store::now_ms() - i64::try_from(OLDEST_CASE.as_millis()).unwrap_or(0);
    let created = case.offer()?.created_at.max(oldest);
    Ok(u64::try_from(created / 1000).unwrap_or(0))
}

async fn holdings(inner: &Inner, case: &DisputeCase) -> Result<OnChain> {
    let (_, inputs) = escrow_inputs(inner, case).await?;
    let held = |f: Party| -> u64 {
        inputs
            .iter()
            .filter(|i| i.funder == f)
            .map(|i| i.value.to_sat())
            .sum()
    };
    Ok(OnChain {
        buyer_output: held(Party::Buyer),
        seller_output: held(Party::Seller),
    })
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
            Party::Buyer
        } else {
            Party::Seller
        }
    });
    cases.sort_by_key(|c| c.side != Party::Buyer.as_str());
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
            .map(|c| {
                Ok(PartyCase {
                    side: c.side.parse().map_err(|e| stored("case side", &e))?,
                    reason: c.reason,
                    transcript: c.transcript,
                })
            })
            .collect::<Result<_>>()?,
        opened_at: row.try_get("opened_at").map_err(sql)?,
        resolved_to: row.try_get("resolved_to").map_err(sql)?,
        resolved_at: row.try_get("resolved_at").map_err(sql)?,
        decision: decision_info(row)?,
        on_chain: None,
    })
}

fn decision_info(row: &sqlx::sqlite::SqliteRow) -> Result<Option<DecisionInfo>> {
    let round: i64 = row.try_get("round").map_err(sql)?;
    if round == 0 {
        return Ok(None);
    }
    let share = |name: &str| -> Result<u64> {
        let v: Option<i64> = row.try_get(name).map_err(sql)?;
        Ok(v.and_then(|v| u64::try_from(v).ok()).unwrap_or(0))
    };
    let buyer_answer: Option<String> = row.try_get("buyer_answer").map_err(sql)?;
    let seller_answer: Option<String> = row.try_get("seller_answer").map_err(sql)?;
    let answers = [&buyer_answer, &seller_answer];
    let can_decide_again = answers.iter().all(|a| a.as_deref() != Some("stored"))
        && answers
            .iter()
            .any(|a| a.as_deref().is_some_and(|a| a.starts_with("refused")));
    Ok(Some(DecisionInfo {
        round: u32::try_from(round).unwrap_or(u32::MAX),
        buyer_share: share("buyer_share")?,
        seller_share: share("seller_share")?,
        reason: row
            .try_get::<Option<String>, _>("decision_reason")
            .map_err(sql)?
            .unwrap_or_default(),
        buyer_answer,
        seller_answer,
        can_decide_again,
    }))
}

/// Open disputes first, then the decided ones; newest first in each. A stored dispute that cannot be
/// read is left out (and logged), so it cannot hide the others.
pub(super) async fn list(inner: &Inner) -> Result<Vec<DisputeInfo>> {
    let rows = sqlx::query(
        "SELECT * FROM disputes ORDER BY resolved_to IS NOT NULL, opened_at DESC, trade_id",
    )
    .fetch_all(&inner.pool)
    .await
    .map_err(sql)?;
    Ok(rows
        .iter()
        .filter_map(|row| match info_of(row) {
            Ok(info) => Some(info),
            Err(e) => {
                let id = row.try_get::<String, _>("trade_id").unwrap_or_default();
                tracing::warn!(trade_id = %id, error = %e, "a stored dispute cannot be read");
                None
            }
        })
        .collect())
}

/// One dispute, with what its escrow holds on the chain now (left out when the chain cannot say).
pub(super) async fn show(inner: &Inner, trade_id: Uuid) -> Result<DisputeInfo> {
    let (mut info, cases) = stored_dispute(inner, trade_id).await?;
    match holdings(inner, &cases[0]).await {
        Ok(on_chain) => info.on_chain = Some(on_chain),
        Err(e) => tracing::info!(%trade_id, error = %e, "the escrow's balance is not known now"),
    }
    Ok(info)
}

async fn stored_dispute(inner: &Inner, trade_id: Uuid) -> Result<(DisputeInfo, Vec<DisputeCase>)> {
    let row = dispute_row(inner, trade_id)
        .await?
        .ok_or_else(|| refused(format!("no dispute about trade {trade_id} here")))?;
    let (_, cases) = Identity::stored(&row)?;
    Ok((info_of(&row)?, cases))
}

/// The arbitrator decides: a PSBT paying what the escrow holds on the chain to the buyer, the seller or
/// both, signed with the arbitrator's per-trade key, sent signed to both parties. Once decided, a new
/// decision (the next round) is allowed only after a party refused the last one and none took it.
pub(super) async fn resolve(
    inner: &Arc<Inner>,
    trade_id: Uuid,
    decision: &Decision,
) -> Result<DisputeInfo> {
    let to = decision.to;
    if to != Winner::Split && decision.buyer_gets.is_some() {
        return Err(refused(format!(
            "a share for the buyer goes with --to split only, not --to {to}"
        )));
    }
    let reason = decision.reason.trim();
    if reason.chars().count() > MAX_DECISION_REASON_CHARS {
        return Err(refused(format!(
            "the reason is longer than {MAX_DECISION_REASON_CHARS} characters"
        )));
    }
    let (dispute, cases) = stored_dispute(inner, trade_id).await?;
    let round = match &dispute.decision {
        None => 1,
        Some(d) if d.can_decide_again => d.round + 1,
        Some(d) => {
            let why = if [&d.buyer_answer, &d.seller_answer]
                .iter()
                .any(|a| a.as_deref() == Some("stored"))
            {
                "a party has taken it"
            } else {
                "no party has refused it"
            };
            return Err(refused(format!(
                "this dispute was resolved already, to the {} (decision {}), and {why}: it stands",
                dispute.resolved_to.map_or("?", Winner::as_str),
                d.round
            )));
        }
    };
    let case = &cases[0];
    let (buyer, seller) = parties(case)?;
    let backend = inner
        .chain
        .clone()
        .ok_or_else(|| refused("no chain backend configured"))?;
    let key = arbitrator_trade_keypair(&inner.escrow_root, case.chain, case.network, &trade_id)
        .map_err(refused)?;
    let (escrow, utxos) = escrow_inputs(inner, case).await?;
    if utxos.is_empty() {
        return Err(refused("the escrow holds nothing on the chain"));
    }
    let total: u64 = utxos.iter().map(|u| u.value.to_sat()).sum();
    let buyer_share = match (to, decision.buyer_gets) {
        (Winner::Buyer, _) => total,
        (Winner::Seller, _) => 0,
        (_, None) => {
            return Err(refused(
                "a split needs the buyer's share (--buyer-gets); the seller gets the rest",
            ));
        }
        (_, Some(share)) if share == 0 || share >= total => {
            return Err(refused(format!(
                "the buyer's share must be more than nothing and less than the {total} the escrow \
                 holds; give the whole escrow with --to buyer or --to seller"
            )));
        }
        (_, Some(share)) => share,
    };
    let mut plan = resolution_plan(
        case.chain,
        case.network,
        (&buyer.2, &seller.2),
        (&escrow.parties().buyer, &escrow.parties().seller),
        buyer_share,
        utxos,
    )?;
    if arbitrator_of(&case.offer()?)? != inner.me.peer {
        // The backup arbitrator signs on the backup branch, which its lock opens.
        plan.path = SpendPath::Backup;
    }
    let mut psbt = build_spend(&escrow, &plan, backend.fee_rate().await?)
        .map_err(|e| refused(format!("this decision cannot be paid out: {e}")))?;
    sign_psbt(&mut psbt, &escrow, &key).map_err(refused)?;
    let resolution = Resolution {
        trade_id,
        winner: to.as_str().into(),
        buyer_share,
        seller_share: total - buyer_share,
        reason: reason.into(),
        round,
        psbt: encode_psbt(&psbt),
    };
    resolution.check_outcome()?;
    let signed = SignedResolution::sign(&resolution, &inner.me.keypair)?;
    let bytes = postcard::to_stdvec(&signed).map_err(|e| Error::Internal(e.to_string()))?;
    // Only one decision per round is stored and sent, even when two arrive at once (two windows, a
    // double click): the second finds the round taken.
    let decided = sqlx::query(
        "UPDATE disputes SET resolved_to = ?, resolved_at = ?, resolution = ?, buyer_share = ?, \
         seller_share = ?, decision_reason = ?, round = ?, buyer_answer = NULL, seller_answer = NULL \
         WHERE trade_id = ? AND round = ?",
    )
    .bind(to)
    .bind(now_ms())
    .bind(&bytes)
    .bind(i64::try_from(resolution.buyer_share).unwrap_or(i64::MAX))
    .bind(i64::try_from(resolution.seller_share).unwrap_or(i64::MAX))
    .bind(reason)
    .bind(i64::from(round))
    .bind(trade_id.to_string())
    .bind(i64::from(round - 1))
    .execute(&inner.pool)
    .await
    .map_err(sql)?;
    if decided.rows_affected() != 1 {
        let done = show(inner, trade_id).await?.resolved_to;
        return Err(refused(format!(
            "this dispute was resolved already, to the {}",
            done.map_or("?", Winner::as_str)
        )));
    }
    for (side, party) in [(Party::Buyer, buyer.0), (Party::Seller, seller.0)] {
        tokio::spawn(deliver_resolution(
            inner.clone(),
            trade_id,
            side,
            party,
            bytes.clone(),
        ));
    }
    tracing::info!(%trade_id, %to, buyer_share, round, "dispute decided");
    let _ = inner.events.send(TradeEvent::DisputeResolved { trade_id });
    show(inner, trade_id).await
}

/// A stored resolution a party has not acknowledged yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Undelivered {
    pub trade_id: Uuid,
    pub side: Party,
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
            (Party::Buyer, "buyer", "buyer_answer"),
            (Party::Seller, "seller", "seller_answer"),
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

/// Records `side`'s answer to the resolution `bytes` of `trade_id` (`stored` or `refused: REASON`): it
/// is not sent to that party again. An answer to a decision replaced since is not recorded.
pub(super) async fn record_answer(
    pool: &sqlx::SqlitePool,
    trade_id: Uuid,
    side: Party,
    bytes: &[u8],
    answer: &Stored,
) -> Result<()> {
    let query = match side {
        Party::Buyer => {
            "UPDATE disputes SET buyer_answer = ? WHERE trade_id = ? AND resolution = ?"
        }
        Party::Seller => {
            "UPDATE disputes SET seller_answer = ? WHERE trade_id = ? AND resolution = ?"
        }
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
        .bind(bytes)
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
    side: Party,
    party: PeerId,
    bytes: Vec<u8>,
) {
    let mut wait = Duration::from_millis(250);
    let attempt = async {
        loop {
            // A newer decision replaced this one: its own delivery takes over.
            let current: Option<Option<Vec<u8>>> =
                sqlx::query_scalar("SELECT resolution FROM disputes WHERE trade_id = ?")
                    .bind(trade_id.to_string())
                    .fetch_optional(&inner.pool)
                    .await
                    .unwrap_or(None);
            if current.flatten().as_deref() != Some(bytes.as_slice()) {
                return None;
            }
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
                    return Some(Stored::Stored);
                }
                Ok(Stored::Refused(reason)) => {
                    tracing::warn!(%trade_id, %party, %reason, "a party refused the resolution");
                    return Some(Stored::Refused(reason));
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
    let Some(answer) = answer else {
        tracing::info!(%trade_id, %party, "a newer decision replaced this one");
        return;
    };
    if let Err(e) = record_answer(&inner.pool, trade_id, side, &bytes, &answer).await {
        tracing::warn!(%trade_id, %party, error = %e, "could not record the resolution's delivery");
    }
}

#[cfg(test)]
mod tests {
    use crate::escrow::{anchor_script, anchor_value};
    use bitcoin::{Amount, hashes::Hash};
    use libp2p::identity::Keypair;
    use rust_decimal::Decimal;

    use super::*;
    use crate::{
        book::Book,
        identity::{Identity as Id, SeedPhrase},
        net::{AcceptAll, NetConfig, Network as Net},
        offer::{Asset, Fiat, NewOffer, PaymentMethod, Price, Quote},
        protocol::settlement::TradeStep,
        store::{FILE_NAME, Store},
        trading::{Desk, TradeConfig},
    };

    fn identity() -> Id {
        Id::from_phrase(SeedPhrase::generate().unwrap()).unwrap()
    }

    /// An arbitrator's desk on a real SQLite file and a real loopback swarm (no chain backend).
    struct Arbitrator {
        _dir: tempfile::TempDir,
        id: Id,
        desk: Desk,
    }

    async fn arbitrator() -> Arbitrator {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join(FILE_NAME)).await.unwrap();
        let id = identity();
        let (net, _) = Net::start(
            NetConfig::loopback_for_tests(),
            id.keypair().clone(),
            Arc::new(AcceptAll),
        )
        .await
        .unwrap();
        let desk = Desk::start(
            net,
            store.pool().clone(),
            Book::new(&store),
            id.keypair().clone(),
            id.channel_secret().clone(),
            *id.storage_key(),
            *id.escrow_root(),
            None,
            TradeConfig {
                arbitrator: true,
                ..TradeConfig::default()
            },
            tokio::sync::broadcast::channel(64).0,
        );
        Arbitrator {
            _dir: dir,
            id,
            desk,
        }
    }

    /// A maker's LTC sell offer naming `arbitrator`.
    fn offer(maker: &Id, arbitrator: PeerId) -> Offer {
        let new = NewOffer {
            side: Side::Sell,
            base: Asset::Ltc,
            quote: Quote::Fiat(Fiat::Eur),
            price: Price::Fixed(Decimal::from(80)),
            min_amount: 50_000_000,
            max_amount: 200_000_000,
            payment_methods: vec![PaymentMethod::new("SEPA").unwrap()],
            escrow: EscrowKind::Multisig {
                arbitrators: vec![arbitrator],
            },
            deposit_bps: 1_500,
            maker_x25519: maker.channel_public_key(),
            ttl_ms: 3_600_000,
            terms: String::new(),
        };
        Offer::new(maker.peer_id(), new, now_ms()).unwrap()
    }

    /// A regtest payout address of its own for `who`.
    fn address_of(who: &Id) -> String {
        let key = trade_keypair(
            who.escrow_root(),
            Chain::Ltc,
            Network::Regtest,
            &Uuid::nil(),
        )
        .unwrap()
        .public_key();
        let parties = EscrowParties {
            buyer: key,
            seller: trade_keypair(
                who.escrow_root(),
                Chain::Ltc,
                Network::Regtest,
                &Uuid::max(),
            )
            .unwrap()
            .public_key(),
            arbitrator: trade_keypair(
                who.escrow_root(),
                Chain::Ltc,
                Network::Regtest,
                &Uuid::from_u128(1),
            )
            .unwrap()
            .public_key(),
            backup: None,
        };
        TradeEscrow::new(parties, Timelocks::of(Chain::Ltc, Network::Regtest))
            .unwrap()
            .of(Party::Buyer)
            .address(Chain::Ltc, Network::Regtest)
            .unwrap()
    }

    fn keys_step(trade_id: Uuid, who: &Id, address: &str) -> Vec<u8> {
        let pubkey = trade_keypair(who.escrow_root(), Chain::Ltc, Network::Regtest, &trade_id)
            .unwrap()
            .public_key()
            .serialize()
            .to_vec();
        TradeStep {
            trade_id,
            sender: who.peer_id(),
            at: now_ms(),
            body: StepBody::EscrowKeys {
                pubkey,
                address: address.into(),
            },
        }
        .sign(who.keypair())
        .unwrap()
        .to_bytes()
        .unwrap()
    }

    /// `reporter`'s case about a trade of `offer` between `buyer` and `seller` (the maker), sealed to
    /// the arbitrator.
    fn sealed_case(
        arbitrator: &Id,
        offer: &Offer,
        trade_id: Uuid,
        (buyer, buyer_address): (&Id, &str),
        (seller, seller_address): (&Id, &str),
        reporter: &Id,
        reason: &str,
    ) -> Vec<u8> {
        let case = DisputeCase {
            trade_id,
            offer_json: serde_json::to_string(offer).unwrap(),
            amount: 100_000_000,
            buyer_deposit: 15_000_000,
            seller_deposit: 15_000_000,
            chain: Chain::Ltc,
            network: Network::Regtest,
            escrow_keys: vec![
                keys_step(trade_id, seller, seller_address),
                keys_step(trade_id, buyer, buyer_address),
            ],
            dispute_steps: Vec::new(),
            side: "whatever the sender says".into(),
            reason: reason.into(),
            transcript: Vec::new(),
            arbitrator_key: Vec::new(),
        };
        let (sealed, _) = channel::seal_take(
            arbitrator.peer_id(),
            &arbitrator.channel_public_key(),
            offer.id,
            trade_id,
            &postcard::to_stdvec(&case).unwrap(),
            reporter.keypair(),
        )
        .unwrap();
        sealed.to_bytes().unwrap()
    }

    /// A split pays both addresses, the fee from the larger share; a share of nothing has no output;
    /// a share above the escrow is refused; the outcome must say what the shares say.
    #[test]
    fn decisions_share_out_the_escrow() {
        let (b, s) = (identity(), identity());
        let (buyer, seller) = (address_of(&b), address_of(&s));
        let input = |sat: u64, n: u8| EscrowInput {
            outpoint: bitcoin::OutPoint::new(bitcoin::Txid::from_byte_array([n; 32]), 0),
            value: Amount::from_sat(sat),
            funder: Party::Seller,
        };
        let key = |who: &Id| {
            trade_keypair(
                who.escrow_root(),
                Chain::Ltc,
                Network::Regtest,
                &Uuid::nil(),
            )
            .unwrap()
            .public_key()
        };
        let (buyer_key, seller_key) = (key(&b), key(&s));
        let plan = |share| {
            resolution_plan(
                Chain::Ltc,
                Network::Regtest,
                (&buyer, &seller),
                (&buyer_key, &seller_key),
                share,
                vec![input(115_000_000, 1), input(15_000_000, 2)],
            )
        };
        let amounts = |p: &SpendPlan| {
            p.outputs
                .iter()
                .map(|o| o.amount.to_sat())
                .collect::<Vec<_>>()
        };
        // Each share keeps a fee reserve of its own, to its party's key, after the payouts.
        let r = anchor_value(Chain::Ltc).to_sat();
        let split = plan(60_000_000).unwrap();
        assert_eq!(amounts(&split), [60_000_000 - r, 70_000_000 - r, r, r]);
        assert_eq!(split.outputs[2].script_pubkey, anchor_script(&buyer_key));
        assert_eq!(split.outputs[3].script_pubkey, anchor_script(&seller_key));
        assert_eq!(split.fee_payer, 1, "the seller's larger share pays the fee");
        assert_eq!(plan(90_000_000).unwrap().fee_payer, 0);
        let all = plan(130_000_000).unwrap();
        assert_eq!(
            (amounts(&all), all.fee_payer),
            (vec![130_000_000 - r, r], 0)
        );
        let none = plan(0).unwrap();
        assert_eq!(
            (amounts(&none), none.fee_payer),
            (vec![130_000_000 - r, r], 0)
        );
        assert_eq!(
            none.outputs[0].script_pubkey,
            parse_payout_address(&seller, Chain::Ltc, Network::Regtest).unwrap()
        );
        // A share too small for a reserve is paid whole.
        let small = plan(9 * r).unwrap();
        assert_eq!(amounts(&small), [9 * r, 130_000_000 - 9 * r - r, r]);
        let err = plan(130_000_001).unwrap_err();
        assert!(err.to_string().contains("more than the escrow"), "{err}");

        let decided = |winner: &str, buyer_share, seller_share| Resolution {
            trade_id: Uuid::nil(),
            winner: winner.into(),
            buyer_share,
            seller_share,
            reason: String::new(),
            round: 1,
            psbt: Vec::new(),
        };
        assert!(decided("buyer", 10, 0).check_outcome().is_ok());
        assert!(decided("split", 4, 6).check_outcome().is_ok());
        for (winner, b, s) in [
            ("buyer", 4, 6),
            ("seller", 1, 0),
            ("split", 0, 10),
            ("both", 5, 5),
        ] {
            assert!(
                decided(winner, b, s).check_outcome().is_err(),
                "{winner} {b} {s}"
            );
        }
    }

    /// A third node that knows the trade id cannot replace a party's case, nor break the list; a party
    /// cannot change the trade's addresses by sending its case again; a party's newer copy replaces its
    /// own older one; the other party's case joins it.
    #[tokio::test]
    async fn a_forged_case_neither_replaces_a_real_one_nor_breaks_the_list() {
        let a = arbitrator().await;
        let inner = &a.desk.inner;
        let (seller, buyer, forger, puppet) = (identity(), identity(), identity(), identity());
        let (seller_addr, buyer_addr) = (address_of(&seller), address_of(&buyer));
        let real_offer = offer(&seller, a.id.peer_id());
        let trade_id = Uuid::now_v7();
        let case = |reporter: &Id, buyer_address: &str, reason: &str| {
            sealed_case(
                &a.id,
                &real_offer,
                trade_id,
                (&buyer, buyer_address),
                (&seller, &seller_addr),
                reporter,
                reason,
            )
        };
        on_case(inner, &case(&buyer, &buyer_addr, "I paid"))
            .await
            .unwrap();
        let held = show(inner, trade_id).await.unwrap();
        assert_eq!(held.cases.len(), 1);

        // The forger's own offer and puppet, under the real trade's id: its escrow is another.
        let forged_offer = offer(&forger, a.id.peer_id());
        let forged = sealed_case(
            &a.id,
            &forged_offer,
            trade_id,
            (&puppet, &address_of(&puppet)),
            (&forger, &address_of(&forger)),
            &puppet,
            "pay me",
        );
        let err = on_case(inner, &forged).await.unwrap_err();
        // The arbitrator has no chain here: it cannot tell which escrow holds coins, so nothing changes.
        assert!(
            err.to_string().contains("no chain backend"),
            "refused until the chain can judge: {err}"
        );
        // The real parties' signed keys, sent by the forger: it is neither party.
        let replayed = case(&forger, &buyer_addr, "pay me");
        let err = on_case(inner, &replayed).await.unwrap_err();
        assert!(err.to_string().contains("neither party"), "{err}");
        // The buyer itself cannot move the payout elsewhere by a new case: its signed key step is
        // part of what the dispute is.
        let moved = case(&buyer, &address_of(&puppet), "pay me elsewhere");
        let err = on_case(inner, &moved).await.unwrap_err();
        assert!(err.to_string().contains("does not match"), "{err}");
        assert!(err.to_string().contains("payout addresses"), "{err}");

        let after = show(inner, trade_id).await.unwrap();
        assert_eq!(after.buyer, buyer.peer_id().to_base58());
        assert_eq!(after.seller, seller.peer_id().to_base58());
        assert_eq!(after.buyer_address, buyer_addr);
        assert_eq!(after.cases.len(), 1);
        assert_eq!(after.cases[0].reason, "I paid");

        // A newer copy from the buyer replaces its own; the seller's case joins.
        on_case(inner, &case(&buyer, &buyer_addr, "I paid on Monday"))
            .await
            .unwrap();
        let seller_case = sealed_case(
            &a.id,
            &real_offer,
            trade_id,
            (&buyer, &buyer_addr),
            (&seller, &seller_addr),
            &seller,
            "nothing arrived",
        );
        on_case(inner, &seller_case).await.unwrap();
        let both = show(inner, trade_id).await.unwrap();
        let reasons: Vec<(&str, &str)> = both
            .cases
            .iter()
            .map(|c| (c.side.as_str(), c.reason.as_str()))
            .collect();
        assert_eq!(
            reasons,
            [("buyer", "I paid on Monday"), ("seller", "nothing arrived")]
        );

        // An unreadable stored dispute (say, written by a bug) hides only itself.
        let other = Uuid::now_v7();
        sqlx::query(
            "INSERT INTO disputes (trade_id, chain, network, buyer, seller, buyer_address, \
             seller_address, escrow_address, amount, cases, opened_at) \
             VALUES (?, 'ltc', 'regtest', 'b', 's', 'b', 's', 'e', 1, 'not json', 1)",
        )
        .bind(other.to_string())
        .execute(&inner.pool)
        .await
        .unwrap();
        let listed = list(inner).await.unwrap();
        assert_eq!(
            listed.iter().map(|d| d.trade_id).collect::<Vec<_>>(),
            [trade_id]
        );
        a.desk.shutdown().await;
    }

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
        assert_eq!(owed, [to(Party::Buyer, buyer), to(Party::Seller, seller)]);

        record_answer(
            store.pool(),
            decided,
            Party::Buyer,
            b"signed",
            &Stored::Stored,
        )
        .await
        .unwrap();
        drop(store);
        let store = Store::open(&path).await.unwrap();
        assert_eq!(
            undelivered_resolutions(store.pool()).await.unwrap(),
            [to(Party::Seller, seller)]
        );
        // "Later" is no answer: still owed.
        let later = Stored::Later("the chain node is unreachable".into());
        record_answer(store.pool(), decided, Party::Seller, b"signed", &later)
            .await
            .unwrap();
        assert_eq!(
            undelivered_resolutions(store.pool()).await.unwrap(),
            [to(Party::Seller, seller)]
        );
        let refusal = Stored::Refused(format!("no such trade {}", "x".repeat(2000)));
        record_answer(store.pool(), decided, Party::Seller, b"signed", &refusal)
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
