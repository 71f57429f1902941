//! Settlement: from agreed terms to coins where they belong. Escrow keys and addresses are exchanged in
//! the channel, the escrow address is computed by both sides, the chain is watched for the funding, the
//! buyer says it paid, the seller signs the release, the buyer checks it, co-signs and broadcasts, and the
//! chain's confirmations complete the trade. Every step is one transaction: the signed event, the new
//! state and the envelope to send.

use std::{
    str::FromStr,
    sync::{Arc, LazyLock},
    time::Duration,
};

use bitcoin::{Amount, FeeRate, ScriptBuf, secp256k1::Keypair as SecpKeypair};
use libp2p::PeerId;
use sqlx::{Row, SqliteConnection};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::{
    TradeEvent,
    desk::Inner,
    store::{self, ChannelRow},
    wire::ChannelMessage,
};
use crate::{
    arbiter::{Announcement, SignedAnnouncement, record_key},
    chain::{Backend, ChainBackend, ChainError, Utxo},
    error::{Error, Result},
    escrow::{
        Chain, EscrowInput, EscrowParties, EscrowScript, Network, Party, Payout, SpendPath,
        SpendPlan, Timelocks, TradeEscrow, anchor_script, anchor_value, build_child, build_spend,
        check_psbt, child_fee, decode_psbt, encode_psbt, finalize_psbt, find_anchor,
        parse_payout_address, sign_psbt, trade_keypair,
    },
    offer::{Asset, EscrowKind, Offer},
    protocol::roles::TradeRole,
    protocol::settlement::{
        Actor, Mode, SignedStep, StepBody, StepKind, TradeState, TradeStep, next_state,
    },
    store::{StoreError, now_ms},
};

/// Signature domain of what a node records from its own observation (chain, clock).
const OBSERVATION_SIGNING_TAG: &[u8] = b"souk/trade-observation/v1\0";
/// A counterparty's release may pay at most this many times the fee rate the node suggests now.
const MAX_FEE_RATE_FACTOR: u64 = 4;
/// An escrow output worth less than this many times the dust limit counts for nothing: it neither funds
/// the escrow nor is spent (it would cost more fee than it brings), so spam cannot block or shrink a payout.
pub(super) const USEFUL_OUTPUT_DUST_FACTOR: u64 = 10;
/// How long after a trade closed (cancelled, expired, completed) its escrow outputs are still watched, so
/// coins that come late go back to whoever sent them.
pub const LATE_COINS_WATCH: Duration = Duration::from_secs(90 * 24 * 3600);
/// A payout (a share of a decision, a return) keeps a fee reserve only when it is at least this many
/// reserves.
pub(super) const RESERVE_SHARE_FACTOR: u64 = 10;

/// What a return of `total` pays: all of it to the funder's `address`, less a fee reserve to the
/// funder's own key when it is at least [`RESERVE_SHARE_FACTOR`] reserves (the funder's node lifts a
/// stuck return with it, or pays it on). The fee comes out of the first output.
pub(super) fn return_outputs(
    chain: Chain,
    network: Network,
    address: &str,
    funder_key: &bitcoin::secp256k1::PublicKey,
    total: u64,
) -> Result<Vec<Payout>> {
    let reserve = anchor_value(chain).to_sat();
    let kept = if total >= RESERVE_SHARE_FACTOR * reserve {
        reserve
    } else {
        0
    };
    let mut outputs = vec![Payout {
        script_pubkey: parse_payout_address(address, chain, network).map_err(refused)?,
        amount: Amount::from_sat(total - kept),
    }];
    if kept > 0 {
        outputs.push(Payout {
            script_pubkey: anchor_script(funder_key),
            amount: Amount::from_sat(kept),
        });
    }
    Ok(outputs)
}

/// Blocks a release may sit unconfirmed before the buyer's node lifts it with its fee reserve.
pub const BUMP_AFTER_BLOCKS: i64 = 3;

pub(super) fn sql(e: sqlx::Error) -> Error {
    Error::Store(StoreError::Sql(e))
}

fn internal(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Internal(format!("{what}: {e}"))
}

fn refused(e: impl std::fmt::Display) -> Error {
    Error::InvalidInput(e.to_string())
}

/// The maker of a sell offer sells; the maker of a buy offer buys.
pub(super) fn side_of(offer: &Offer, me: &PeerId) -> Party {
    let role = if offer.maker == *me {
        TradeRole::Maker
    } else {
        TradeRole::Taker
    };
    role.party(offer.side)
}

pub(super) fn mode_of(offer: &Offer) -> Mode {
    match offer.escrow {
        EscrowKind::Multisig { .. } => Mode::Escrow,
        EscrowKind::None => Mode::NoEscrow,
    }
}

fn chain_of(asset: Asset) -> Chain {
    match asset {
        Asset::Btc => Chain::Btc,
        Asset::Ltc => Chain::Ltc,
    }
}

/// A trade's escrow as stored.
#[derive(Debug, Clone)]
pub(super) struct EscrowRow {
    pub chain: Chain,
    pub network: Network,
    pub side: Party,
    pub my_pubkey: Vec<u8>,
    pub my_address: Option<String>,
    pub keys_sent: bool,
    pub peer_pubkey: Option<Vec<u8>>,
    pub peer_address: Option<String>,
    pub arbitrator: Option<String>,
    pub arbitrator_pubkey: Option<Vec<u8>>,
    /// The offer's second arbitrator, whose key opens the escrow's backup branch.
    pub backup_arbitrator: Option<String>,
    pub backup_arbitrator_pubkey: Option<Vec<u8>>,
    /// The seller's escrow output (amount and deposit).
    pub escrow_address: Option<String>,
    /// The buyer's escrow output (deposit).
    pub buyer_escrow_address: Option<String>,
    pub amount: u64,
    pub buyer_deposit: u64,
    pub seller_deposit: u64,
    pub funding_deadline: Option<i64>,
    pub payment_deadline: Option<i64>,
    pub funded_amount: u64,
    /// What each output holds in outputs worth counting.
    pub seller_funded: u64,
    pub buyer_funded: u64,
    pub funding_confirmations: u32,
    /// The transactions whose outputs the watcher saw on the escrow address, first seen first.
    pub funding_txids: Vec<String>,
    pub release_psbt: Option<Vec<u8>>,
    pub release_txid: Option<String>,
    /// The release or resolution this node broadcast (consensus bytes), broadcast again if lost.
    pub broadcast_tx: Option<Vec<u8>>,
    /// The tip when this node broadcast the release: the reserve lifts it after [`BUMP_AFTER_BLOCKS`].
    pub release_height: Option<i64>,
    /// The child spending the release's fee reserve, `bumped` (lifting an unconfirmed release) or
    /// `forwarded` (after it confirmed), and whether it confirmed.
    pub anchor_tx: Option<Vec<u8>>,
    pub anchor_how: Option<String>,
    pub anchor_done: bool,
    pub release_confirmations: u32,
    /// This party's dispute case reached the arbitrator.
    pub case_sent: bool,
    /// It reached the backup arbitrator instead (the first did not take it, the backup lock passed).
    pub backup_case_sent: bool,
    pub release_deadline: Option<i64>,
    pub returns: Vec<ReturnRecord>,
    pub incoming_return: Option<Vec<u8>>,
    /// When the trade began (unix ms): no coins reached its escrow before, so watching starts there.
    pub trade_created_at: i64,
    /// Funding outputs in the mempool, not in a block yet, as the watcher last saw them.
    pub pending_funding: Vec<PendingFunding>,
}

/// An output paying into the escrow that the chain node holds in its mempool: seen, not confirmed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, ts_rs::TS)]
pub struct PendingFunding {
    pub txid: String,
    pub vout: u32,
    /// Whose escrow output it pays.
    pub funder: Party,
    /// Base units.
    #[ts(type = "number")]
    pub value: u64,
}

/// A return of coins that are nobody else's to the party that sent them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(super) struct ReturnRecord {
    pub funder: Party,
    pub outpoints: Vec<String>,
    pub amount: u64,
    pub address: String,
    pub txid: Option<String>,
    /// `cosigned` (both parties), `reclaimed` (the funder alone after the reclaim lock) or `signed` (this
    /// node signed the counterparty's return and sent it).
    pub how: String,
    /// The transaction as broadcast (hex), to broadcast again if the chain node loses it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tx: Option<String>,
    /// The tip when it was broadcast, and its fee reserve's child (hex), `bumped` or `forwarded`, and
    /// whether that confirmed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reserve_tx: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reserve_how: Option<String>,
    #[serde(default)]
    pub reserve_done: bool,
}

impl ReturnRecord {
    /// A return of `amount` to `address` not broadcast by this node; `how` says why (signed for the
    /// counterparty, refused by the arbitrator, lost and to be made again).
    pub(super) fn unsent(
        funder: Party,
        outpoints: Vec<String>,
        amount: u64,
        address: String,
        how: String,
    ) -> Self {
        Self {
            funder,
            outpoints,
            amount,
            address,
            txid: None,
            how,
            tx: None,
            height: None,
            reserve_tx: None,
            reserve_how: None,
            reserve_done: false,
        }
    }

    /// The return `tx` this node broadcast at tip `height`, made `how`, kept to send again and to tend
    /// its fee reserve.
    pub(super) fn broadcast(
        funder: Party,
        amount: u64,
        address: String,
        tx: &bitcoin::Transaction,
        how: &str,
        height: Option<u64>,
    ) -> Self {
        Self {
            outpoints: tx
                .input
                .iter()
                .map(|i| i.previous_output.to_string())
                .collect(),
            txid: Some(tx.compute_txid().to_string()),
            tx: Some(bitcoin::consensus::encode::serialize_hex(tx)),
            height: height.and_then(|h| i64::try_from(h).ok()),
            ..Self::unsent(funder, Vec::new(), amount, address, how.into())
        }
    }

    /// This return forgotten, so its coins are returned anew: `how` says why.
    fn forgotten(&self, how: String) -> Self {
        Self::unsent(
            self.funder,
            self.outpoints.clone(),
            self.amount,
            self.address.clone(),
            how,
        )
    }
}

impl EscrowRow {
    /// When coins could first reach this escrow (unix seconds): the trade's start.
    pub fn birth(&self) -> u64 {
        u64::try_from(self.trade_created_at / 1000).unwrap_or(0)
    }

    pub fn script(&self) -> Result<Option<TradeEscrow>> {
        self.keys()
    }

    pub fn buyer_address_text(&self) -> Option<String> {
        self.buyer_address().map(str::to_owned)
    }

    pub fn seller_address_text(&self) -> Option<String> {
        self.seller_address().map(str::to_owned)
    }

    /// What the escrow must hold: the amount plus both deposits.
    pub fn required(&self) -> u64 {
        self.amount + self.buyer_deposit + self.seller_deposit
    }

    pub(super) fn keys(&self) -> Result<Option<TradeEscrow>> {
        let (Some(peer), Some(arbitrator)) = (&self.peer_pubkey, &self.arbitrator_pubkey) else {
            return Ok(None);
        };
        let backup = match (&self.backup_arbitrator, &self.backup_arbitrator_pubkey) {
            (None, _) => None,
            (Some(_), None) => return Ok(None),
            (Some(_), Some(key)) => Some(EscrowScript::parse_key(key).map_err(refused)?),
        };
        let mine = EscrowScript::parse_key(&self.my_pubkey).map_err(refused)?;
        let theirs = EscrowScript::parse_key(peer).map_err(refused)?;
        let arbitrator = EscrowScript::parse_key(arbitrator).map_err(refused)?;
        let (buyer, seller) = match self.side {
            Party::Buyer => (mine, theirs),
            Party::Seller => (theirs, mine),
        };
        let parties = EscrowParties {
            buyer,
            seller,
            arbitrator,
            backup,
        };
        Ok(Some(
            TradeEscrow::new(parties, Timelocks::of(self.chain, self.network)).map_err(refused)?,
        ))
    }

    /// The least an escrow output must hold to count.
    fn useful(&self, escrow: &TradeEscrow) -> u64 {
        let spk = escrow.of(Party::Seller).script_pubkey();
        self.chain.dust_limit(&spk).to_sat() * USEFUL_OUTPUT_DUST_FACTOR
    }

    /// What `funder` must lock.
    pub fn owed_by(&self, funder: Party) -> u64 {
        match funder {
            Party::Seller => self.amount + self.seller_deposit,
            Party::Buyer => self.buyer_deposit,
        }
    }

    /// Where `funder`'s coins go back to: the buyer's payout address, the seller's refund address.
    pub(super) fn address_of(&self, funder: Party) -> Option<&str> {
        match funder {
            Party::Buyer => self.buyer_address(),
            Party::Seller => self.seller_address(),
        }
    }

    /// This party's own escrow output address.
    pub(super) fn escrow_address_of(&self, funder: Party) -> Option<&str> {
        match funder {
            Party::Seller => self.escrow_address.as_deref(),
            Party::Buyer => self.buyer_escrow_address.as_deref(),
        }
    }

    /// A spend of `funder`'s outputs entirely back to it, the fee from its own coins.
    pub(super) fn return_plan(
        &self,
        funder: Party,
        inputs: Vec<EscrowInput>,
        path: SpendPath,
    ) -> Result<SpendPlan> {
        let address = self.address_of(funder).ok_or_else(|| {
            Error::InvalidInput(format!("the {}'s address is not known", funder.as_str()))
        })?;
        let total: u64 = inputs.iter().map(|i| i.value.to_sat()).sum();
        let escrow = self
            .keys()?
            .ok_or_else(|| internal("escrow", "keys missing"))?;
        let key = match funder {
            Party::Buyer => escrow.parties().buyer,
            Party::Seller => escrow.parties().seller,
        };
        Ok(SpendPlan {
            chain: self.chain,
            inputs,
            outputs: return_outputs(self.chain, self.network, address, &key, total)?,
            fee_payer: 0,
            path,
        })
    }

    fn buyer_address(&self) -> Option<&str> {
        match self.side {
            Party::Buyer => self.my_address.as_deref(),
            Party::Seller => self.peer_address.as_deref(),
        }
    }

    fn seller_address(&self) -> Option<&str> {
        match self.side {
            Party::Seller => self.my_address.as_deref(),
            Party::Buyer => self.peer_address.as_deref(),
        }
    }

    /// The release: the buyer gets the amount and what its own output holds (its deposit and any surplus),
    /// the seller what its output holds beyond the amount (its deposit and any surplus) less the fee.
    fn release_plan(&self, inputs: Vec<EscrowInput>) -> Result<SpendPlan> {
        let held = |f: Party| -> u64 {
            inputs
                .iter()
                .filter(|i| i.funder == f)
                .map(|i| i.value.to_sat())
                .sum()
        };
        let (seller_in, buyer_in) = (held(Party::Seller), held(Party::Buyer));
        for funder in Party::BOTH {
            let (held, owed) = (held(funder), self.owed_by(funder));
            if held < owed {
                return Err(Error::InvalidInput(format!(
                    "the {}'s escrow output holds {held}, less than the {owed} it must: not funded",
                    funder.as_str()
                )));
            }
        }
        let address = |a: Option<&str>, whose: &str| -> Result<ScriptBuf> {
            let a = a.ok_or_else(|| {
                Error::InvalidInput(format!("the {whose}'s address is not known yet"))
            })?;
            parse_payout_address(a, self.chain, self.network).map_err(refused)
        };
        let escrow = self
            .keys()?
            .ok_or_else(|| internal("escrow", "keys missing"))?;
        // The buyer's fee reserve comes out of the buyer's own payout.
        let reserve = anchor_value(self.chain).to_sat();
        let buyer_gets = (self.amount + buyer_in)
            .checked_sub(reserve)
            .ok_or_else(|| {
                Error::InvalidInput(format!(
                    "the buyer's payout {} cannot hold the release's fee reserve of {reserve}",
                    self.amount + buyer_in
                ))
            })?;
        Ok(SpendPlan {
            chain: self.chain,
            inputs,
            outputs: vec![
                Payout {
                    script_pubkey: address(self.buyer_address(), "buyer")?,
                    amount: Amount::from_sat(buyer_gets),
                },
                Payout {
                    script_pubkey: address(self.seller_address(), "seller")?,
                    amount: Amount::from_sat(seller_in - self.amount),
                },
                Payout {
                    script_pubkey: anchor_script(&escrow.parties().buyer),
                    amount: Amount::from_sat(reserve),
                },
            ],
            fee_payer: 1,
            path: SpendPath::Multisig,
        })
    }
}

pub(super) async fn load(conn: &mut SqliteConnection, trade_id: Uuid) -> Result<Option<EscrowRow>> {
    let Some(r) = sqlx::query(
        "SELECT e.*, t.created_at AS trade_created_at FROM trade_escrow e \
         JOIN trades t ON t.id = e.trade_id WHERE e.trade_id = ?",
    )
    .bind(trade_id.to_string())
    .fetch_optional(conn)
    .await
    .map_err(sql)?
    else {
        return Ok(None);
    };
    let get_u64 = |name: &str| -> Result<u64> {
        let v: i64 = r.try_get(name).map_err(sql)?;
        u64::try_from(v).map_err(|e| internal(name, e))
    };
    let chain: String = r.try_get("chain").map_err(sql)?;
    let network: String = r.try_get("network").map_err(sql)?;
    let side: Party = r.try_get("side").map_err(sql)?;
    let funding_txids: String = r.try_get("funding_txids").map_err(sql)?;
    let pending_funding: String = r.try_get("pending_funding").map_err(sql)?;
    let returns: String = r.try_get("returns").map_err(sql)?;
    Ok(Some(EscrowRow {
        chain: Chain::from_str(&chain).map_err(|e| internal("stored chain", e))?,
        network: Network::from_str(&network).map_err(|e| internal("stored network", e))?,
        side,
        my_pubkey: r.try_get("my_pubkey").map_err(sql)?,
        my_address: r.try_get("my_address").map_err(sql)?,
        keys_sent: r.try_get::<i64, _>("keys_sent").map_err(sql)? == 1,
        peer_pubkey: r.try_get("peer_pubkey").map_err(sql)?,
        peer_address: r.try_get("peer_address").map_err(sql)?,
        arbitrator: r.try_get("arbitrator").map_err(sql)?,
        arbitrator_pubkey: r.try_get("arbitrator_pubkey").map_err(sql)?,
        backup_arbitrator: r.try_get("backup_arbitrator").map_err(sql)?,
        backup_arbitrator_pubkey: r.try_get("backup_arbitrator_pubkey").map_err(sql)?,
        escrow_address: r.try_get("escrow_address").map_err(sql)?,
        buyer_escrow_address: r.try_get("buyer_escrow_address").map_err(sql)?,
        amount: get_u64("amount")?,
        buyer_deposit: get_u64("buyer_deposit")?,
        seller_deposit: get_u64("seller_deposit")?,
        funding_deadline: r.try_get("funding_deadline").map_err(sql)?,
        payment_deadline: r.try_get("payment_deadline").map_err(sql)?,
        funded_amount: get_u64("funded_amount")?,
        seller_funded: get_u64("seller_funded")?,
        buyer_funded: get_u64("buyer_funded")?,
        funding_confirmations: u32::try_from(get_u64("funding_confirmations")?).unwrap_or(u32::MAX),
        funding_txids: serde_json::from_str(&funding_txids)
            .map_err(|e| internal("stored funding txids", e))?,
        release_psbt: r.try_get("release_psbt").map_err(sql)?,
        release_txid: r.try_get("release_txid").map_err(sql)?,
        broadcast_tx: r.try_get("broadcast_tx").map_err(sql)?,
        release_height: r.try_get("release_height").map_err(sql)?,
        anchor_tx: r.try_get("anchor_tx").map_err(sql)?,
        anchor_how: r.try_get("anchor_how").map_err(sql)?,
        anchor_done: r.try_get::<i64, _>("anchor_done").map_err(sql)? == 1,
        release_confirmations: u32::try_from(get_u64("release_confirmations")?).unwrap_or(u32::MAX),
        case_sent: r.try_get::<i64, _>("case_sent").map_err(sql)? == 1,
        backup_case_sent: r.try_get::<i64, _>("backup_case_sent").map_err(sql)? == 1,
        release_deadline: r.try_get("release_deadline").map_err(sql)?,
        returns: serde_json::from_str(&returns).map_err(|e| internal("stored returns", e))?,
        incoming_return: r.try_get("incoming_return").map_err(sql)?,
        trade_created_at: r.try_get("trade_created_at").map_err(sql)?,
        pending_funding: serde_json::from_str(&pending_funding)
            .map_err(|e| internal("stored pending funding", e))?,
    }))
}

async fn save(conn: &mut SqliteConnection, trade_id: Uuid, e: &EscrowRow) -> Result<()> {
    sqlx::query(
        "UPDATE trade_escrow SET my_address = ?, keys_sent = ?, peer_pubkey = ?, peer_address = ?, \
         arbitrator = ?, arbitrator_pubkey = ?, escrow_address = ?, funding_deadline = ?, \
         payment_deadline = ?, funded_amount = ?, funding_confirmations = ?, funding_txids = ?, \
         release_psbt = ?, release_txid = ?, release_confirmations = ?, release_deadline = ?, \
         backup_arbitrator = ?, backup_arbitrator_pubkey = ?, buyer_escrow_address = ?, \
         seller_funded = ?, buyer_funded = ?, returns = ?, incoming_return = ?, broadcast_tx = ?, \
         release_height = ?, anchor_tx = ?, anchor_how = ?, anchor_done = ?, pending_funding = ? \
         WHERE trade_id = ?",
    )
    .bind(&e.my_address)
    .bind(i64::from(e.keys_sent))
    .bind(&e.peer_pubkey)
    .bind(&e.peer_address)
    .bind(&e.arbitrator)
    .bind(&e.arbitrator_pubkey)
    .bind(&e.escrow_address)
    .bind(e.funding_deadline)
    .bind(e.payment_deadline)
    .bind(i64::try_from(e.funded_amount).unwrap_or(i64::MAX))
    .bind(i64::from(e.funding_confirmations))
    .bind(serde_json::to_string(&e.funding_txids).map_err(|e| internal("funding txids", e))?)
    .bind(&e.release_psbt)
    .bind(&e.release_txid)
    .bind(i64::from(e.release_confirmations))
    .bind(e.release_deadline)
    .bind(&e.backup_arbitrator)
    .bind(&e.backup_arbitrator_pubkey)
    .bind(&e.buyer_escrow_address)
    .bind(i64::try_from(e.seller_funded).unwrap_or(i64::MAX))
    .bind(i64::try_from(e.buyer_funded).unwrap_or(i64::MAX))
    .bind(serde_json::to_string(&e.returns).map_err(|e| internal("returns", e))?)
    .bind(&e.incoming_return)
    .bind(&e.broadcast_tx)
    .bind(e.release_height)
    .bind(&e.anchor_tx)
    .bind(&e.anchor_how)
    .bind(i64::from(e.anchor_done))
    .bind(serde_json::to_string(&e.pending_funding).map_err(|e| internal("pending funding", e))?)
    .bind(trade_id.to_string())
    .execute(conn)
    .await
    .map_err(sql)?;
    Ok(())
}

/// The trade's state after the negotiation.
pub(super) async fn current_state(
    conn: &mut SqliteConnection,
    trade_id: Uuid,
) -> Result<TradeState> {
    let state: TradeState = sqlx::query_scalar("SELECT state FROM trades WHERE id = ?")
        .bind(trade_id.to_string())
        .fetch_one(conn)
        .await
        .map_err(sql)?;
    if state.is_before_agreement() {
        return Err(Error::InvalidInput(format!(
            "trade {trade_id} is still being negotiated ({state}): agree on the terms first"
        )));
    }
    Ok(state)
}

/// Appends an event and moves the trade to `state`.
async fn record(
    conn: &mut SqliteConnection,
    trade_id: Uuid,
    kind: &str,
    payload: &[u8],
    signer: &PeerId,
    signature: &[u8],
    state: Option<TradeState>,
) -> Result<()> {
    let now = now_ms();
    let id = trade_id.to_string();
    sqlx::query(
        "INSERT INTO trade_events (trade_id, seq, kind, payload, signer, signature, created_at) \
         VALUES (?, (SELECT COUNT(*) FROM trade_events WHERE trade_id = ?), ?, ?, ?, ?, ?)",
    )
    .bind(&id)
    .bind(&id)
    .bind(kind)
    .bind(payload)
    .bind(signer.to_base58())
    .bind(signature)
    .bind(now)
    .execute(&mut *conn)
    .await
    .map_err(sql)?;
    if let Some(state) = state {
        sqlx::query("UPDATE trades SET state = ?, updated_at = ? WHERE id = ?")
            .bind(state.as_str())
            .bind(now)
            .bind(&id)
            .execute(&mut *conn)
            .await
            .map_err(sql)?;
    }
    Ok(())
}

/// Records what this node saw itself (chain, clock) as a step signed by this node.
async fn observe(
    inner: &Inner,
    conn: &mut SqliteConnection,
    trade_id: Uuid,
    actor: Actor,
    kind: StepKind,
    detail: &str,
) -> Result<TradeState> {
    let state = current_state(conn, trade_id).await?;
    let offer = offer_of(conn, trade_id).await?;
    let next = next_state(state, actor, kind, mode_of(&offer)).map_err(Error::from)?;
    let payload = postcard::to_stdvec(&(trade_id.into_bytes(), kind.as_str(), detail, now_ms()))
        .map_err(|e| internal("encoding an observation", e))?;
    let (_, signature) = crate::signing::sign(OBSERVATION_SIGNING_TAG, &payload, &inner.me.keypair)
        .map_err(|e| internal("signing an observation", e))?;
    record(
        conn,
        trade_id,
        kind.as_str(),
        &payload,
        &inner.me.peer,
        &signature,
        Some(next),
    )
    .await?;
    tracing::info!(%trade_id, %kind, %detail, state = %next, "trade step observed");
    Ok(next)
}

async fn offer_of(conn: &mut SqliteConnection, trade_id: Uuid) -> Result<Offer> {
    let json: String =
        sqlx::query_scalar("SELECT offer_json FROM trade_channels WHERE trade_id = ?")
            .bind(trade_id.to_string())
            .fetch_one(conn)
            .await
            .map_err(sql)?;
    serde_json::from_str(&json).map_err(|e| internal("stored offer", e))
}

/// Signs `body` as this node's step, records it and queues it for the counterparty.
async fn send_step(
    inner: &Inner,
    conn: &mut SqliteConnection,
    channel: &mut ChannelRow,
    body: StepBody,
) -> Result<Option<TradeState>> {
    let trade_id = channel.trade_id;
    let next = match body.kind() {
        Some(kind) => {
            let state = current_state(conn, trade_id).await?;
            let side = side_of(&channel.offer, &inner.me.peer);
            Some(
                next_state(state, Actor::from(side), kind, mode_of(&channel.offer))
                    .map_err(Error::from)?,
            )
        }
        None => None,
    };
    let step = TradeStep {
        trade_id,
        sender: inner.me.peer,
        at: now_ms(),
        body: body.clone(),
    };
    let signed = step.sign(&inner.me.keypair).map_err(Error::from)?;
    record(
        conn,
        trade_id,
        body.event_kind(),
        &signed.bytes,
        &inner.me.peer,
        &signed.signature,
        next,
    )
    .await?;
    let bytes = signed.to_bytes().map_err(Error::from)?;
    store::enqueue(
        conn,
        channel,
        &inner.me.keypair,
        &ChannelMessage::TradeStep(bytes).encode(),
        now_ms(),
    )
    .await?;
    // The caller wakes the delivery loop once its transaction is committed.
    Ok(next)
}

/// Test hook: sends `body` as this node's signed step without checking or recording it here, as a lying
/// peer would, and waits for the counterparty's answer: `None` when it took the envelope, else its
/// refusal.
#[cfg(feature = "test-hooks")]
pub(super) async fn send_unchecked_step(
    inner: &Inner,
    trade_id: Uuid,
    body: StepBody,
) -> Result<Option<String>> {
    let seq = {
        let (_guard, mut db) = inner.write().await?;
        let mut channel = store::load_channel(&mut db, &inner.me.storage_key, trade_id)
            .await?
            .ok_or_else(|| store::unknown_trade(trade_id))?;
        let step = TradeStep {
            trade_id,
            sender: inner.me.peer,
            at: now_ms(),
            body,
        };
        let signed = step.sign(&inner.me.keypair).map_err(Error::from)?;
        let bytes = signed.to_bytes().map_err(Error::from)?;
        let seq = store::enqueue(
            &mut db,
            &mut channel,
            &inner.me.keypair,
            &ChannelMessage::TradeStep(bytes).encode(),
            now_ms(),
        )
        .await?;
        db.commit().await.map_err(sql)?;
        seq
    };
    inner.wake.notify_one();
    loop {
        let (delivered, error): (Option<i64>, Option<String>) = sqlx::query_as(
            "SELECT delivered_at, last_error FROM outbox WHERE trade_id = ? AND seq = ?",
        )
        .bind(trade_id.to_string())
        .bind(i64::try_from(seq).unwrap_or(i64::MAX))
        .fetch_one(&inner.pool)
        .await
        .map_err(sql)?;
        if delivered.is_some() {
            return Ok(None);
        }
        if let Some(error) = error {
            return Ok(Some(error));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// After the terms are agreed: with an escrow, this node's key for the trade, and its address when it
/// gave one already (a taker's payout details, when they are an address of the trade's chain).
pub(super) async fn after_agreement(
    inner: &Inner,
    conn: &mut SqliteConnection,
    channel: &mut ChannelRow,
    payout: &str,
    amount: u64,
) -> Result<()> {
    let offer = channel.offer.clone();
    if mode_of(&offer) == Mode::NoEscrow {
        return Ok(());
    }
    let Some(backend) = &inner.chain else {
        tracing::warn!(trade_id = %channel.trade_id, "an escrow trade, but no chain backend is configured");
        return Ok(());
    };
    let (chain, network) = (chain_of(offer.base), backend.network());
    if chain != backend.chain() {
        return Err(Error::InvalidInput(format!(
            "this is a {} trade, but the chain backend is {}",
            chain.name(),
            backend.chain().name()
        )));
    }
    let side = side_of(&offer, &inner.me.peer);
    let key =
        trade_keypair(&inner.escrow_root, chain, network, &channel.trade_id).map_err(refused)?;
    let deposit = |bps: u16| amount.saturating_mul(u64::from(bps)) / 10_000;
    let i64_of = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    let taker_address = (offer.maker != inner.me.peer
        && parse_payout_address(payout.trim(), chain, network).is_ok())
    .then(|| payout.trim().to_owned());
    let (arbitrator, backup) = match &offer.escrow {
        EscrowKind::Multisig { arbitrators } => (
            arbitrators.first().map(|a| a.to_base58()),
            arbitrators.get(1).map(|a| a.to_base58()),
        ),
        EscrowKind::None => (None, None),
    };
    sqlx::query(
        "INSERT INTO trade_escrow (trade_id, chain, network, side, my_pubkey, my_address, arbitrator, \
         amount, buyer_deposit, seller_deposit, backup_arbitrator) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(channel.trade_id.to_string())
    .bind(chain.to_string())
    .bind(network.to_string())
    .bind(side.as_str())
    .bind(key.public_key().serialize().to_vec())
    .bind(&taker_address)
    .bind(&arbitrator)
    .bind(i64_of(amount))
    .bind(i64_of(deposit(offer.deposit_bps)))
    .bind(i64_of(deposit(offer.deposit_bps)))
    .bind(&backup)
    .execute(&mut *conn)
    .await
    .map_err(sql)?;
    if taker_address.is_some() {
        send_keys(inner, conn, channel).await?;
    }
    Ok(())
}

async fn send_keys(
    inner: &Inner,
    conn: &mut SqliteConnection,
    channel: &mut ChannelRow,
) -> Result<()> {
    let trade_id = channel.trade_id;
    let mut row = load(conn, trade_id)
        .await?
        .ok_or_else(|| no_escrow(trade_id))?;
    let address = row
        .my_address
        .clone()
        .ok_or_else(|| internal("keys", "no address"))?;
    send_step(
        inner,
        conn,
        channel,
        StepBody::EscrowKeys {
            pubkey: row.my_pubkey.clone(),
            address,
        },
    )
    .await?;
    row.keys_sent = true;
    save(conn, trade_id, &row).await
}

fn no_escrow(trade_id: Uuid) -> Error {
    Error::InvalidInput(format!("trade {trade_id} has no escrow"))
}

/// The user gives the address where this party's coins go (buyer: payout; seller: refund).
pub(super) async fn set_address(inner: &Inner, trade_id: Uuid, address: &str) -> Result<()> {
    let ((_guard, mut tx), mut channel) = inner.write_trade(trade_id).await?;
    let mut row = load(&mut tx, trade_id)
        .await?
        .ok_or_else(|| no_escrow(trade_id))?;
    if row.keys_sent {
        return Err(Error::InvalidInput(format!(
            "the escrow address of trade {trade_id} was given already ({})",
            row.my_address.unwrap_or_default()
        )));
    }
    parse_payout_address(address.trim(), row.chain, row.network).map_err(refused)?;
    row.my_address = Some(address.trim().to_owned());
    save(&mut tx, trade_id, &row).await?;
    send_keys(inner, &mut tx, &mut channel).await?;
    tx.commit().await.map_err(sql)?;
    inner.wake.notify_one();
    inner.watch.notify_one();
    Ok(())
}

/// A party's step: the buyer says it paid; the seller confirms the payment (signing the release).
pub(super) async fn act(inner: &Inner, trade_id: Uuid, what: Act) -> Result<TradeState> {
    // The release is built from what the chain shows now, before the trade is locked.
    let utxos_and_rate = match what {
        Act::Received => prepare_release(inner, trade_id).await?,
        _ => None,
    };
    let ((_guard, mut tx), mut channel) = inner.write_trade(trade_id).await?;
    let body = match what {
        Act::Paid => {
            start_confirm_window(inner, &mut tx, trade_id).await?;
            StepBody::PaymentSent
        }
        Act::Cancel(reason) => StepBody::Cancel { reason },
        Act::Dispute(reason) => StepBody::Dispute { reason },
        Act::Received => match utxos_and_rate {
            None => StepBody::PaymentReceived {
                release_psbt: Vec::new(),
            },
            Some((inputs, rate)) => {
                let mut row = load(&mut tx, trade_id)
                    .await?
                    .ok_or_else(|| no_escrow(trade_id))?;
                let escrow = row
                    .keys()?
                    .ok_or_else(|| internal("release", "escrow not ready"))?;
                let plan = row.release_plan(inputs)?;
                let mut psbt = build_spend(&escrow, &plan, rate).map_err(refused)?;
                sign_psbt(&mut psbt, &escrow, &my_key(inner, &row, trade_id)?).map_err(refused)?;
                let bytes = encode_psbt(&psbt);
                row.release_psbt = Some(bytes.clone());
                row.release_deadline = Some(now_ms() + millis(inner.config.release_window));
                save(&mut tx, trade_id, &row).await?;
                StepBody::PaymentReceived {
                    release_psbt: bytes,
                }
            }
        },
    };
    let state = send_step(inner, &mut tx, &mut channel, body)
        .await?
        .ok_or_else(|| internal("step", "no transition"))?;
    let info = store::trade_info_on(&mut tx, &inner.me.peer, trade_id).await?;
    tx.commit().await.map_err(sql)?;
    inner.wake.notify_one();
    let _ = inner.events.send(TradeEvent::TradeUpdated {
        trade: Box::new(info),
    });
    Ok(state)
}

/// The buyer said it paid: the seller has a payment window (by method, or as configured) to confirm or
/// dispute before the arbitrator is brought in.
async fn start_confirm_window(
    inner: &Inner,
    conn: &mut SqliteConnection,
    trade_id: Uuid,
) -> Result<()> {
    let Some(mut row) = load(conn, trade_id).await? else {
        return Ok(());
    };
    let window = match inner.config.payment_window {
        Some(window) => window,
        None => {
            let terms: String = sqlx::query_scalar("SELECT terms FROM trades WHERE id = ?")
                .bind(trade_id.to_string())
                .fetch_one(&mut *conn)
                .await
                .map_err(sql)?;
            let terms: crate::negotiation::Terms =
                serde_json::from_str(&terms).map_err(|e| internal("stored terms", e))?;
            super::payment_window(&terms.method)
        }
    };
    row.payment_deadline = Some(now_ms() + millis(window));
    save(conn, trade_id, &row).await
}

/// What a party does by hand.
#[derive(Debug, Clone)]
pub(super) enum Act {
    Paid,
    Received,
    Cancel(String),
    Dispute(String),
}

pub(super) fn my_key(inner: &Inner, row: &EscrowRow, trade_id: Uuid) -> Result<SecpKeypair> {
    trade_keypair(&inner.escrow_root, row.chain, row.network, &trade_id).map_err(refused)
}

/// The escrow's outputs and the fee rate, for a seller about to sign the release.
async fn prepare_release(
    inner: &Inner,
    trade_id: Uuid,
) -> Result<Option<(Vec<EscrowInput>, FeeRate)>> {
    let mut conn = inner.pool.acquire().await.map_err(sql)?;
    let Some(row) = load(&mut conn, trade_id).await? else {
        return Ok(None);
    };
    drop(conn);
    let backend = backend(inner)?;
    let escrow = row.keys()?.ok_or_else(|| {
        Error::InvalidInput("the escrow is not set up yet: nothing to release".into())
    })?;
    let utxos = escrow_utxos(backend, &row, &escrow).await?;
    if utxos.is_empty() {
        return Err(Error::InvalidInput(
            "the escrow holds nothing on the chain: it is not funded (or was spent)".into(),
        ));
    }
    let rate = backend.fee_rate().await?;
    Ok(Some((
        utxos.iter().map(|(f, u)| u.input_of(*f)).collect(),
        rate,
    )))
}

/// The escrow's confirmed outputs worth counting, both funders', as the chain shows them now.
pub(super) async fn escrow_utxos(
    backend: &Backend,
    row: &EscrowRow,
    escrow: &TradeEscrow,
) -> Result<Vec<(Party, Utxo)>> {
    let mut all = escrow_outputs(backend, row, escrow).await?;
    all.retain(|(_, u)| u.confirmations > 0);
    Ok(all)
}

/// [`escrow_utxos`] and the outputs still in the mempool (`confirmations` 0).
pub(super) async fn escrow_outputs(
    backend: &Backend,
    row: &EscrowRow,
    escrow: &TradeEscrow,
) -> Result<Vec<(Party, Utxo)>> {
    let useful = row.useful(escrow);
    let scripts: Vec<_> = Party::BOTH
        .iter()
        .map(|f| escrow.of(*f).script_pubkey())
        .collect();
    backend.watch(&scripts, row.birth()).await?;
    let mut all = Vec::new();
    for funder in Party::BOTH {
        let utxos = backend.outputs(&escrow.of(funder).script_pubkey()).await?;
        all.extend(
            utxos
                .into_iter()
                .filter(|u| u.value.to_sat() >= useful)
                .map(|u| (funder, u)),
        );
    }
    Ok(all)
}

pub(super) fn backend(inner: &Inner) -> Result<&Arc<Backend>> {
    inner.chain.as_ref().ok_or_else(|| {
        Error::InvalidInput(
            "no chain backend is configured: start the node with --chain, --network and --rpc-url"
                .into(),
        )
    })
}

/// A step from the counterparty, inside the receiving transaction.
pub(super) async fn on_step(
    inner: &Inner,
    conn: &mut SqliteConnection,
    channel: &ChannelRow,
    bytes: &[u8],
    events: &mut Vec<TradeEvent>,
) -> Result<()> {
    let (step, signed) = SignedStep::verify(bytes).map_err(refused)?;
    let trade_id = channel.trade_id;
    if step.sender != channel.peer {
        return Err(Error::InvalidInput(format!(
            "a trade step signed by {}, not by the counterparty",
            step.sender
        )));
    }
    if step.trade_id != trade_id {
        return Err(Error::InvalidInput(format!(
            "a step of trade {} inside trade {trade_id}'s channel",
            step.trade_id
        )));
    }
    let their_side = match side_of(&channel.offer, &inner.me.peer) {
        Party::Buyer => Party::Seller,
        Party::Seller => Party::Buyer,
    };
    let mode = mode_of(&channel.offer);
    let next = match step.body.kind() {
        Some(kind) => {
            let state = current_state(conn, trade_id).await?;
            let next =
                next_state(state, Actor::from(their_side), kind, mode).map_err(Error::from)?;
            // A release counts when the chain shows it (see the watcher), not when the buyer says so.
            (kind != StepKind::Released).then_some(next)
        }
        None => None,
    };
    match &step.body {
        StepBody::EscrowKeys { pubkey, address } => {
            let mut row = load(conn, trade_id)
                .await?
                .ok_or_else(|| no_escrow(trade_id))?;
            if row.peer_pubkey.is_some() {
                return Err(Error::InvalidInput(
                    "the escrow keys were given already".into(),
                ));
            }
            EscrowScript::parse_key(pubkey).map_err(refused)?;
            parse_payout_address(address, row.chain, row.network).map_err(refused)?;
            row.peer_pubkey = Some(pubkey.clone());
            row.peer_address = Some(address.clone());
            save(conn, trade_id, &row).await?;
        }
        StepBody::PaymentReceived { release_psbt } if mode == Mode::Escrow => {
            let mut row = load(conn, trade_id)
                .await?
                .ok_or_else(|| no_escrow(trade_id))?;
            // Only its form here: no chain call runs while a step is received. The watcher checks it
            // against the chain before this node signs anything (`broadcast_release`); a release that
            // fails the check is never signed, and the release deadline brings in the arbitrator.
            decode_psbt(release_psbt).map_err(refused)?;
            row.release_psbt = Some(release_psbt.clone());
            inner.watch.notify_one();
            row.release_deadline = Some(now_ms() + millis(inner.config.release_window));
            save(conn, trade_id, &row).await?;
        }
        StepBody::Released { txid } => {
            let mut row = load(conn, trade_id)
                .await?
                .ok_or_else(|| no_escrow(trade_id))?;
            let claimed =
                bitcoin::Txid::from_str(txid).map_err(|e| refused(format!("release txid: {e}")))?;
            // The buyer's word is not the chain: the txid must be the release this seller signed, and
            // the trade moves on only once the watcher sees that transaction on the chain.
            let expected = row
                .release_psbt
                .as_deref()
                .map(decode_psbt)
                .transpose()
                .map_err(refused)?
                .map(|p| p.unsigned_tx.compute_txid());
            if expected != Some(claimed) {
                return Err(Error::InvalidInput(format!(
                    "the buyer says it broadcast {claimed}, which is not the release this seller signed"
                )));
            }
            row.release_txid = Some(txid.clone());
            save(conn, trade_id, &row).await?;
        }
        StepBody::Return { psbt } => {
            let mut row = load(conn, trade_id)
                .await?
                .ok_or_else(|| no_escrow(trade_id))?;
            decode_psbt(psbt).map_err(refused)?;
            // Checked against the chain, co-signed and broadcast by the watcher, outside this transaction.
            row.incoming_return = Some(psbt.clone());
            save(conn, trade_id, &row).await?;
            inner.watch.notify_one();
        }
        StepBody::PaymentSent if mode == Mode::Escrow => {
            start_confirm_window(inner, conn, trade_id).await?;
        }
        StepBody::PaymentSent
        | StepBody::PaymentReceived { .. }
        | StepBody::Cancel { .. }
        | StepBody::Dispute { .. } => {}
    }
    record(
        conn,
        trade_id,
        step.body.event_kind(),
        &signed.bytes,
        &step.sender,
        &signed.signature,
        next,
    )
    .await?;
    let info = store::trade_info_on(conn, &inner.me.peer, trade_id).await?;
    events.push(TradeEvent::TradeUpdated {
        trade: Box::new(info),
    });
    Ok(())
}

/// The buyer's check of the seller's release before it signs anything: exactly the escrow's outputs in,
/// exactly the agreed payouts out, a fee no higher than a few times what the chain asks now, and a valid
/// seller signature.
async fn check_release(inner: &Inner, row: &EscrowRow, bytes: &[u8]) -> Result<()> {
    let backend = backend(inner)?;
    let escrow = row
        .keys()?
        .ok_or_else(|| refused("a release before the escrow was set up"))?;
    let psbt = decode_psbt(bytes).map_err(refused)?;
    let plan = row.release_plan(spent_escrow_outputs(backend, row, &escrow, &psbt).await?)?;
    let rate = backend.fee_rate().await?;
    let max = FeeRate::from_sat_per_kwu(rate.to_sat_per_kwu().saturating_mul(MAX_FEE_RATE_FACTOR));
    check_psbt(&psbt, &escrow, &plan, max)
        .map_err(|e| Error::InvalidInput(format!("the seller's release is refused: {e}")))?;
    Ok(())
}

/// The escrow outputs `psbt` spends, each checked on the chain: unspent, on one of this trade's two
/// escrow scripts (which says whose coins it holds) and worth counting. Coins that came after the PSBT was
/// built are not in it; they are returned once the trade is over.
pub(super) async fn spent_escrow_outputs(
    backend: &Backend,
    row: &EscrowRow,
    escrow: &TradeEscrow,
    psbt: &bitcoin::Psbt,
) -> Result<Vec<EscrowInput>> {
    let utxos = escrow_utxos(backend, row, escrow).await?;
    psbt.unsigned_tx
        .input
        .iter()
        .map(|txin| {
            utxos
                .iter()
                .find(|(_, u)| u.outpoint == txin.previous_output)
                .map(|(f, u)| u.input_of(*f))
                .ok_or_else(|| {
                    Error::InvalidInput(format!(
                        "the PSBT spends {}, which the chain does not show as one of this escrow's \
                         unspent outputs",
                        txin.previous_output
                    ))
                })
        })
        .collect()
}

/// Watches the chain and the clock for every open escrow trade until cancelled.
pub(super) async fn watch(inner: Arc<Inner>, cancel: CancellationToken) {
    loop {
        if let Err(e) = watch_once(&inner).await {
            tracing::warn!(error = %e, "watching the escrows failed");
        }
        tokio::select! {
            biased;
            () = cancel.cancelled() => break,
            () = inner.watch.notified() => {}
            () = tokio::time::sleep(inner.config.watch_every) => {}
        }
    }
}

async fn open_escrows(inner: &Inner) -> Result<Vec<(Uuid, TradeState)>> {
    let since = now_ms() - millis(LATE_COINS_WATCH);
    // Open trades with an escrow, and closed ones whose escrow may still see late coins for a while.
    static QUERY: LazyLock<String> = LazyLock::new(|| {
        format!(
            "SELECT t.id, t.state FROM trades t JOIN trade_escrow e ON e.trade_id = t.id \
             WHERE t.state NOT IN {closed} \
             OR (t.state IN {closed} AND e.escrow_address IS NOT NULL AND t.updated_at > ?)",
            closed = TradeState::closed_sql()
        )
    });
    let rows: Vec<(String, TradeState)> = sqlx::query_as(QUERY.as_str())
        .bind(since)
        .fetch_all(&inner.pool)
        .await
        .map_err(sql)?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, state)| Some((Uuid::parse_str(&id).ok()?, state)))
        .collect())
}

async fn watch_once(inner: &Inner) -> Result<()> {
    let Some(backend) = inner.chain.clone() else {
        return Ok(());
    };
    for (trade_id, state) in open_escrows(inner).await? {
        let result = match state {
            TradeState::Accepted => make_ready(inner, trade_id).await,
            TradeState::EscrowFunding => check_funding(inner, &backend, trade_id).await,
            TradeState::EscrowFunded => {
                let kept = check_funding_kept(inner, &backend, trade_id).await;
                check_payment_deadline(inner, trade_id).await.and(kept)
            }
            TradeState::PaymentSent => check_confirm_deadline(inner, trade_id).await,
            TradeState::PaymentConfirmed => {
                let broadcast = broadcast_release(inner, &backend, trade_id).await;
                let seen = check_release_seen(inner, &backend, trade_id).await;
                check_release_deadline(inner, trade_id)
                    .await
                    .and(broadcast)
                    .and(seen)
            }
            TradeState::Released => {
                let again = send_kept_again(&backend, trade_id, inner).await;
                let reserve = tend_reserve(inner, &backend, trade_id).await;
                check_release_confirmed(inner, &backend, trade_id)
                    .await
                    .and(again)
                    .and(reserve)
            }
            TradeState::Completed => {
                let reserve = tend_reserve(inner, &backend, trade_id).await;
                return_leftovers(inner, &backend, trade_id, false)
                    .await
                    .and(reserve)
            }
            TradeState::Disputed => super::arbitrate::send_case(inner, trade_id).await,
            // An escrow is made only once the terms are agreed.
            TradeState::Requested | TradeState::Countered | TradeState::Rejected => Ok(()),
            TradeState::Cancelled | TradeState::Expired => {
                return_leftovers(inner, &backend, trade_id, false).await
            }
            TradeState::Resolved => {
                let again = send_kept_again(&backend, trade_id, inner).await;
                let reserve = tend_reserve(inner, &backend, trade_id).await;
                return_leftovers(inner, &backend, trade_id, true)
                    .await
                    .and(again)
                    .and(reserve)
            }
        };
        if let Err(e) = result {
            tracing::warn!(%trade_id, %state, error = %e, "escrow step not taken yet");
        }
    }
    Ok(())
}

/// Runs `f` on the trade under the lock in one transaction, then tells the shells.
async fn step_locked<F>(inner: &Inner, trade_id: Uuid, f: F) -> Result<()>
where
    F: for<'c> FnOnce(
        &'c Inner,
        &'c mut SqliteConnection,
    ) -> std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<bool>> + Send + 'c>,
    >,
{
    let (_guard, mut tx) = inner.write().await?;
    if !f(inner, &mut tx).await? {
        return Ok(());
    }
    let info = store::trade_info_on(&mut tx, &inner.me.peer, trade_id).await?;
    tx.commit().await.map_err(sql)?;
    let _ = inner.events.send(TradeEvent::TradeUpdated {
        trade: Box::new(info),
    });
    Ok(())
}

pub(super) async fn load_row(inner: &Inner, trade_id: Uuid) -> Result<Option<EscrowRow>> {
    let mut conn = inner.pool.acquire().await.map_err(sql)?;
    load(&mut conn, trade_id).await
}

/// Both keys and addresses are in: fetch the arbitrators' keys and fix the escrow addresses.
async fn make_ready(inner: &Inner, trade_id: Uuid) -> Result<()> {
    let Some(row) = load_row(inner, trade_id).await? else {
        return Ok(());
    };
    if row.peer_pubkey.is_none() || row.my_address.is_none() || !row.keys_sent {
        return Ok(());
    }
    let parse = |who: &str, id: Option<&str>| -> Result<PeerId> {
        id.ok_or_else(|| refused("the offer names no arbitrator"))?
            .parse()
            .map_err(|e| refused(format!("{who}: {e}")))
    };
    let arbitrator = parse("arbitrator", row.arbitrator.as_deref())?;
    let announcement = find_arbitrator(inner, &arbitrator, row.chain, row.network).await?;
    let key = announcement.trade_key(&trade_id).map_err(refused)?;
    let backup_key = match row.backup_arbitrator.as_deref() {
        Some(backup) => {
            let backup = parse("backup arbitrator", Some(backup))?;
            let announcement = find_arbitrator(inner, &backup, row.chain, row.network).await?;
            Some(announcement.trade_key(&trade_id).map_err(refused)?)
        }
        None => None,
    };
    // Watched before anyone is shown the addresses: a funding broadcast the next moment is seen in the
    // mempool (importing a script later finds only the coins already in blocks).
    if let Some(backend) = inner.chain.as_ref() {
        let mut ready = row.clone();
        ready.arbitrator_pubkey = Some(key.serialize().to_vec());
        ready.backup_arbitrator_pubkey = backup_key.map(|k| k.serialize().to_vec());
        if let Some(escrow) = ready.keys()? {
            let scripts: Vec<_> = Party::BOTH
                .iter()
                .map(|f| escrow.of(*f).script_pubkey())
                .collect();
            backend.watch(&scripts, row.birth()).await?;
        }
    }
    let funding_window = inner.config.funding_window;
    step_locked(inner, trade_id, move |inner, tx| {
        Box::pin(async move {
            let Some(mut row) = load(tx, trade_id).await? else {
                return Ok(false);
            };
            if current_state(tx, trade_id).await? != TradeState::Accepted {
                return Ok(false);
            }
            row.arbitrator_pubkey = Some(key.serialize().to_vec());
            row.backup_arbitrator_pubkey = backup_key.map(|k| k.serialize().to_vec());
            let escrow = row
                .keys()?
                .ok_or_else(|| internal("escrow", "keys missing"))?;
            let seller = escrow
                .of(Party::Seller)
                .address(row.chain, row.network)
                .map_err(refused)?;
            let buyer = escrow
                .of(Party::Buyer)
                .address(row.chain, row.network)
                .map_err(refused)?;
            // Two trades on one escrow address could pay one's release from the other's coins.
            let taken: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM trade_escrow WHERE trade_id <> ? AND \
                 (escrow_address IN (?, ?) OR buyer_escrow_address IN (?, ?))",
            )
            .bind(trade_id.to_string())
            .bind(&seller)
            .bind(&buyer)
            .bind(&seller)
            .bind(&buyer)
            .fetch_one(&mut *tx)
            .await
            .map_err(sql)?;
            if taken > 0 {
                return Err(Error::InvalidInput(format!(
                    "trade {trade_id}'s escrow address is another trade's: refusing to use it"
                )));
            }
            row.escrow_address = Some(seller.clone());
            row.buyer_escrow_address = Some(buyer.clone());
            row.funding_deadline = Some(now_ms() + millis(funding_window));
            save(tx, trade_id, &row).await?;
            observe(
                inner,
                tx,
                trade_id,
                Actor::Chain,
                StepKind::EscrowReady,
                &format!("seller {seller}, buyer {buyer}"),
            )
            .await?;
            Ok(true)
        })
    })
    .await
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// The longest an arbitrator's announcement may go unrenewed (arbitrators renew it twice a day) and still
/// be trusted with the third key of a new trade.
const ANNOUNCEMENT_FRESH: Duration = Duration::from_secs(3 * 24 * 3600);

/// The taker approves the offer's arbitrators before any coin moves: neither party, in its accepted set
/// (`[trade] arbitrators` and `exclude_arbitrators` of souk.toml, with the lists saved in Settings), and,
/// when this node settles on the offer's chain, announced in the DHT recently.
pub(super) async fn approve_arbitrators(inner: &Inner, offer: &Offer) -> Result<()> {
    let EscrowKind::Multisig { arbitrators } = &offer.escrow else {
        return Ok(());
    };
    let saved: Option<String> = sqlx::query_scalar("SELECT value FROM settings WHERE key = ?")
        .bind(crate::preferences::KEY)
        .fetch_optional(&inner.pool)
        .await
        .map_err(sql)?;
    let (accepted, excluded) = saved
        .and_then(|json| serde_json::from_str::<crate::preferences::Preferences>(&json).ok())
        .map(|p| p.arbitrator_lists())
        .unwrap_or_default();
    for arbitrator in arbitrators {
        if *arbitrator == offer.maker || *arbitrator == inner.me.peer {
            return Err(Error::InvalidInput(format!(
                "arbitrator {arbitrator} is a party of this trade: nobody may hold two of the escrow's keys"
            )));
        }
        if inner.config.exclude_arbitrators.contains(arbitrator) {
            return Err(Error::InvalidInput(format!(
                "arbitrator {arbitrator} is one you excluded ([trade] exclude_arbitrators)"
            )));
        }
        if !inner.config.arbitrators.is_empty() && !inner.config.arbitrators.contains(arbitrator) {
            return Err(Error::InvalidInput(format!(
                "arbitrator {arbitrator} is not one you accept ([trade] arbitrators)"
            )));
        }
        if excluded.contains(arbitrator) {
            return Err(Error::InvalidInput(format!(
                "arbitrator {arbitrator} is one you excluded (Settings)"
            )));
        }
        if !accepted.is_empty() && !accepted.contains(arbitrator) {
            return Err(Error::InvalidInput(format!(
                "arbitrator {arbitrator} is not one you accept (Settings)"
            )));
        }
        if let Some(backend) = &inner.chain
            && backend.chain() == chain_of(offer.base)
        {
            let announcement =
                find_arbitrator(inner, arbitrator, backend.chain(), backend.network()).await?;
            if now_ms() - announcement.at > millis(ANNOUNCEMENT_FRESH) {
                return Err(Error::InvalidInput(format!(
                    "arbitrator {arbitrator} has not renewed its announcement for {} days: it may be gone",
                    (now_ms() - announcement.at) / 86_400_000
                )));
            }
        }
    }
    Ok(())
}

/// The arbitrator's announcement for the chain, from the DHT.
async fn find_arbitrator(
    inner: &Inner,
    arbitrator: &PeerId,
    chain: Chain,
    network: Network,
) -> Result<Announcement> {
    let key = record_key(arbitrator, chain, network);
    let value = inner.net.get_record(key).await?.ok_or_else(|| {
        Error::InvalidInput(format!(
            "arbitrator {arbitrator} has no announcement for {} {} in the DHT (is it online with --arbitrator?)",
            chain.name(),
            network
        ))
    })?;
    let announcement = SignedAnnouncement::verify(&value).map_err(refused)?;
    if announcement.arbitrator != *arbitrator
        || announcement.chain != chain
        || announcement.network != network
    {
        return Err(refused(
            "the arbitrator's announcement is for someone or something else",
        ));
    }
    Ok(announcement)
}

/// What the escrow's two outputs hold, as the chain shows it now.
#[derive(Debug, Clone)]
struct Holdings {
    seller: u64,
    buyer: u64,
    confirmations: u32,
    txids: Vec<String>,
    outputs: usize,
}

impl Holdings {
    fn of(utxos: &[(Party, Utxo)]) -> Self {
        let held = |f: Party| -> u64 {
            utxos
                .iter()
                .filter(|(g, _)| *g == f)
                .map(|(_, u)| u.value.to_sat())
                .sum()
        };
        Self {
            seller: held(Party::Seller),
            buyer: held(Party::Buyer),
            confirmations: utxos
                .iter()
                .map(|(_, u)| u.confirmations)
                .min()
                .unwrap_or(0),
            txids: utxos
                .iter()
                .map(|(_, u)| u.outpoint.txid.to_string())
                .collect(),
            outputs: utxos.len(),
        }
    }

    /// Each funder's output holds at least what it owes, with `required` confirmations.
    fn funds(&self, row: &EscrowRow, required: u32) -> bool {
        self.seller >= row.owed_by(Party::Seller)
            && self.buyer >= row.owed_by(Party::Buyer)
            && self.confirmations >= required
    }

    fn record(&self, row: &mut EscrowRow) -> bool {
        let known = row.funding_txids.len();
        for txid in &self.txids {
            if !row.funding_txids.contains(txid) {
                row.funding_txids.push(txid.clone());
            }
        }
        let changed = row.seller_funded != self.seller
            || row.buyer_funded != self.buyer
            || row.funding_confirmations != self.confirmations
            || row.funding_txids.len() != known;
        row.seller_funded = self.seller;
        row.buyer_funded = self.buyer;
        row.funded_amount = self.seller + self.buyer;
        row.funding_confirmations = self.confirmations;
        changed
    }
}

async fn holdings(backend: &Backend, row: &EscrowRow) -> Result<Option<Holdings>> {
    let Some(escrow) = row.keys()? else {
        return Ok(None);
    };
    Ok(Some(Holdings::of(
        &escrow_utxos(backend, row, &escrow).await?,
    )))
}

async fn check_funding(inner: &Inner, backend: &Backend, trade_id: Uuid) -> Result<()> {
    let Some(row) = load_row(inner, trade_id).await? else {
        return Ok(());
    };
    let Some(escrow) = row.keys()? else {
        return Ok(());
    };
    let outputs = escrow_outputs(backend, &row, &escrow).await?;
    let (confirmed, unconfirmed): (Vec<_>, Vec<_>) =
        outputs.into_iter().partition(|(_, u)| u.confirmations > 0);
    let held = Holdings::of(&confirmed);
    let pending: Vec<PendingFunding> = unconfirmed
        .iter()
        .map(|(funder, u)| PendingFunding {
            txid: u.outpoint.txid.to_string(),
            vout: u.outpoint.vout,
            funder: *funder,
            value: u.value.to_sat(),
        })
        .collect();
    let confirmed_outpoints: Vec<(String, u32)> = confirmed
        .iter()
        .map(|(_, u)| (u.outpoint.txid.to_string(), u.outpoint.vout))
        .collect();
    let funded = held.funds(&row, inner.required_confirmations);
    let expired = row.funding_deadline.is_some_and(|d| now_ms() > d);
    let payment_window = match inner.config.payment_window {
        Some(window) => window,
        None => super::payment_window(&method_of(inner, trade_id).await?),
    };
    step_locked(inner, trade_id, move |inner, tx| {
        Box::pin(async move {
            let Some(mut row) = load(tx, trade_id).await? else {
                return Ok(false);
            };
            if current_state(tx, trade_id).await? != TradeState::EscrowFunding {
                return Ok(false);
            }
            let mut changed = held.record(&mut row);
            changed |=
                note_pending(inner, tx, trade_id, &mut row, pending, &confirmed_outpoints).await?;
            if funded {
                row.payment_deadline = Some(now_ms() + millis(payment_window));
                save(tx, trade_id, &row).await?;
                let detail = format!(
                    "seller {}, buyer {} in {} outputs, {} confirmations",
                    held.seller, held.buyer, held.outputs, held.confirmations
                );
                observe(inner, tx, trade_id, Actor::Chain, StepKind::Funded, &detail).await?;
                return Ok(true);
            }
            save(tx, trade_id, &row).await?;
            if expired {
                // Short of the total: whatever did arrive goes back to whoever sent it (see
                // `return_leftovers`); nobody's deposit pays for the other's failure to fund.
                let detail = format!(
                    "not funded in time: seller {} of {}, buyer {} of {}",
                    held.seller,
                    row.owed_by(Party::Seller),
                    held.buyer,
                    row.owed_by(Party::Buyer)
                );
                observe(
                    inner,
                    tx,
                    trade_id,
                    Actor::Clock,
                    StepKind::FundingExpired,
                    &detail,
                )
                .await?;
                return Ok(true);
            }
            Ok(changed)
        })
    })
    .await
}

/// Funding seen in the mempool for the first time is noted in the trade's log ("seen, unconfirmed"), and
/// so is funding that left the mempool without reaching a block (replaced, evicted, or the node
/// restarted without it): the trade keeps waiting for funding either way, and only confirmed outputs
/// ever count. True when anything changed.
async fn note_pending(
    inner: &Inner,
    conn: &mut SqliteConnection,
    trade_id: Uuid,
    row: &mut EscrowRow,
    pending: Vec<PendingFunding>,
    confirmed: &[(String, u32)],
) -> Result<bool> {
    let same = |a: &PendingFunding, b: &PendingFunding| a.txid == b.txid && a.vout == b.vout;
    let coins = |value: u64| store::coins(row.chain, value);
    let mut changed = false;
    for p in pending
        .iter()
        .filter(|p| !row.pending_funding.iter().any(|q| same(p, q)))
    {
        let detail = format!(
            "{} to the {}'s escrow output, unconfirmed: {}:{}",
            coins(p.value),
            p.funder,
            p.txid,
            p.vout
        );
        note(inner, conn, trade_id, "funding_seen", &detail).await?;
        changed = true;
    }
    for p in row.pending_funding.iter().filter(|p| {
        !pending.iter().any(|q| same(p, q))
            && !confirmed
                .iter()
                .any(|(txid, vout)| *txid == p.txid && *vout == p.vout)
    }) {
        let detail = format!(
            "{} to the {}'s escrow output left the mempool without confirming: {}:{}",
            coins(p.value),
            p.funder,
            p.txid,
            p.vout
        );
        note(inner, conn, trade_id, "funding_dropped", &detail).await?;
        changed = true;
    }
    changed |= row.pending_funding != pending;
    row.pending_funding = pending;
    Ok(changed)
}

/// What the chain showed, in the trade's log beside the steps, without moving the trade: signed like an
/// observation.
async fn note(
    inner: &Inner,
    conn: &mut SqliteConnection,
    trade_id: Uuid,
    kind: &'static str,
    detail: &str,
) -> Result<()> {
    let payload = postcard::to_stdvec(&(trade_id.into_bytes(), kind, detail, now_ms()))
        .map_err(|e| internal("encoding an observation", e))?;
    let (_, signature) = crate::signing::sign(OBSERVATION_SIGNING_TAG, &payload, &inner.me.keypair)
        .map_err(|e| internal("signing an observation", e))?;
    record(
        conn,
        trade_id,
        kind,
        &payload,
        &inner.me.peer,
        &signature,
        None,
    )
    .await?;
    tracing::info!(%trade_id, kind, %detail, "chain noted");
    Ok(())
}

/// A funded escrow is checked again on every pass: funding a reorg took away sends the trade back to
/// waiting for it, so the buyer is never asked to pay against coins the chain no longer shows.
async fn check_funding_kept(inner: &Inner, backend: &Backend, trade_id: Uuid) -> Result<()> {
    let Some(row) = load_row(inner, trade_id).await? else {
        return Ok(());
    };
    let Some(held) = holdings(backend, &row).await? else {
        return Ok(());
    };
    // Deeper confirmations are not asked again: only coins that are gone (or back to unconfirmed) count.
    if held.funds(&row, 1) {
        return Ok(());
    }
    let funding_window = inner.config.funding_window;
    step_locked(inner, trade_id, move |inner, tx| {
        Box::pin(async move {
            let Some(mut row) = load(tx, trade_id).await? else {
                return Ok(false);
            };
            if current_state(tx, trade_id).await? != TradeState::EscrowFunded {
                return Ok(false);
            }
            held.record(&mut row);
            row.payment_deadline = None;
            row.funding_deadline = Some(now_ms() + millis(funding_window));
            save(tx, trade_id, &row).await?;
            let detail = format!(
                "the chain no longer shows the funding: seller {}, buyer {}",
                held.seller, held.buyer
            );
            observe(
                inner,
                tx,
                trade_id,
                Actor::Chain,
                StepKind::FundingLost,
                &detail,
            )
            .await?;
            Ok(true)
        })
    })
    .await
}

/// The payment method the parties agreed on.
async fn method_of(inner: &Inner, trade_id: Uuid) -> Result<crate::offer::PaymentMethod> {
    let terms: String = sqlx::query_scalar("SELECT terms FROM trades WHERE id = ?")
        .bind(trade_id.to_string())
        .fetch_one(&inner.pool)
        .await
        .map_err(sql)?;
    let terms: crate::negotiation::Terms =
        serde_json::from_str(&terms).map_err(|e| internal("stored terms", e))?;
    Ok(terms.method)
}

/// A deadline in `state` (read from the row by `deadline`) that passed moves the trade with `kind`.
async fn clock_step(
    inner: &Inner,
    trade_id: Uuid,
    state: TradeState,
    deadline: fn(&EscrowRow) -> Option<i64>,
    kind: StepKind,
    detail: &'static str,
) -> Result<()> {
    step_locked(inner, trade_id, move |inner, tx| {
        Box::pin(async move {
            let Some(row) = load(tx, trade_id).await? else {
                return Ok(false);
            };
            if current_state(tx, trade_id).await? != state
                || deadline(&row).is_none_or(|d| now_ms() <= d)
            {
                return Ok(false);
            }
            observe(inner, tx, trade_id, Actor::Clock, kind, detail).await?;
            Ok(true)
        })
    })
    .await
}

/// Once the seller confirmed the payment, the release must reach the chain in time; otherwise the
/// arbitrator decides (the seller's deposit must not stay locked by a buyer who never broadcasts, and a
/// buyer's word that it did is not the chain).
async fn check_release_deadline(inner: &Inner, trade_id: Uuid) -> Result<()> {
    clock_step(
        inner,
        trade_id,
        TradeState::PaymentConfirmed,
        |row| row.release_deadline,
        StepKind::ReleaseExpired,
        "no release on the chain in time",
    )
    .await
}

async fn check_payment_deadline(inner: &Inner, trade_id: Uuid) -> Result<()> {
    clock_step(
        inner,
        trade_id,
        TradeState::EscrowFunded,
        |row| row.payment_deadline,
        StepKind::PaymentExpired,
        "no payment in time",
    )
    .await
}

/// The buyer said it paid: the seller confirms or disputes by the deadline, or the arbitrator decides.
async fn check_confirm_deadline(inner: &Inner, trade_id: Uuid) -> Result<()> {
    clock_step(
        inner,
        trade_id,
        TradeState::PaymentSent,
        |row| row.payment_deadline,
        StepKind::ConfirmExpired,
        "the seller neither confirmed nor disputed the payment in time",
    )
    .await
}

/// The buyer, holding a checked release signed by the seller: co-sign, finalise, broadcast.
async fn broadcast_release(inner: &Inner, backend: &Backend, trade_id: Uuid) -> Result<()> {
    let Some(row) = load_row(inner, trade_id).await? else {
        return Ok(());
    };
    if row.side != Party::Buyer || row.release_txid.is_some() {
        return Ok(());
    }
    let Some(bytes) = &row.release_psbt else {
        return Ok(());
    };
    let escrow = row
        .keys()?
        .ok_or_else(|| internal("escrow", "keys missing"))?;
    check_release(inner, &row, bytes).await?;
    let mut psbt = decode_psbt(bytes).map_err(refused)?;
    sign_psbt(&mut psbt, &escrow, &my_key(inner, &row, trade_id)?).map_err(refused)?;
    let tx = finalize_psbt(psbt, &escrow).map_err(refused)?;
    let txid = backend.broadcast(&tx).await?;
    let height = backend
        .tip_height()
        .await
        .ok()
        .and_then(|h| i64::try_from(h).ok());
    tracing::info!(%trade_id, %txid, "release broadcast");
    let (_guard, mut db) = inner.write().await?;
    if current_state(&mut db, trade_id).await? != TradeState::PaymentConfirmed {
        return Ok(());
    }
    let mut channel = store::load_channel(&mut db, &inner.me.storage_key, trade_id)
        .await?
        .ok_or_else(|| store::unknown_trade(trade_id))?;
    let mut row = load(&mut db, trade_id)
        .await?
        .ok_or_else(|| no_escrow(trade_id))?;
    row.release_txid = Some(txid.to_string());
    row.broadcast_tx = Some(bitcoin::consensus::serialize(&tx));
    row.release_height = height;
    save(&mut db, trade_id, &row).await?;
    send_step(
        inner,
        &mut db,
        &mut channel,
        StepBody::Released {
            txid: txid.to_string(),
        },
    )
    .await?;
    let info = store::trade_info_on(&mut db, &inner.me.peer, trade_id).await?;
    db.commit().await.map_err(sql)?;
    inner.wake.notify_one();
    let _ = inner.events.send(TradeEvent::TradeUpdated {
        trade: Box::new(info),
    });
    Ok(())
}

/// The seller, told the release was broadcast: it counts once the chain shows the very transaction the
/// seller signed (in the mempool or a block).
async fn check_release_seen(inner: &Inner, backend: &Backend, trade_id: Uuid) -> Result<()> {
    let Some(row) = load_row(inner, trade_id).await? else {
        return Ok(());
    };
    let Some(txid) = row.release_txid.as_deref() else {
        return Ok(());
    };
    if row.side != Party::Seller {
        return Ok(());
    }
    let txid = bitcoin::Txid::from_str(txid).map_err(|e| internal("stored txid", e))?;
    if backend.confirmations(&txid).await?.is_none() {
        return Ok(());
    }
    step_locked(inner, trade_id, move |inner, tx| {
        Box::pin(async move {
            if current_state(tx, trade_id).await? != TradeState::PaymentConfirmed {
                return Ok(false);
            }
            let detail = format!("{txid} seen on the chain");
            observe(
                inner,
                tx,
                trade_id,
                Actor::Chain,
                StepKind::Released,
                &detail,
            )
            .await?;
            Ok(true)
        })
    })
    .await
}

/// Broadcasts `tx` again when the chain node no longer knows it (restarted without its mempool, or it
/// evicted it): a transaction this node broadcast is never left for lost. True when sent again.
async fn broadcast_again_if_lost(
    inner: &Inner,
    backend: &Backend,
    trade_id: Uuid,
    tx: &bitcoin::Transaction,
    what: &'static str,
) -> Result<bool> {
    let txid = tx.compute_txid();
    if backend.confirmations(&txid).await?.is_some() {
        return Ok(false);
    }
    backend.broadcast(tx).await?;
    tracing::info!(%trade_id, %txid, what, "broadcast again: the chain node no longer knew it");
    // In the trade's log: the chain lost it (dropped from the mempool, or a reorg took its block), and
    // it went out again.
    let detail = format!(
        "the {what} {txid} was no longer on the chain or in the mempool (dropped, or its block reorganised away): broadcast again"
    );
    step_locked(inner, trade_id, move |inner, tx| {
        Box::pin(async move {
            note(inner, tx, trade_id, "payout_resent", &detail).await?;
            Ok(true)
        })
    })
    .await?;
    Ok(true)
}

/// The buyer's node spends the release's fee reserve once, in a child paying it on to the buyer's payout
/// address:
/// - the release is still unconfirmed [`BUMP_AFTER_BLOCKS`] after it was broadcast and pays less than
///   the current rate: the child pays what lifts the two together to that rate (CPFP), at most what the
///   reserve holds less dust;
/// - the release confirmed: the child forwards the reserve at the current rate.
///
/// The child is kept and sent again if the chain node loses it, until it confirms.
async fn tend_reserve(inner: &Inner, backend: &Backend, trade_id: Uuid) -> Result<()> {
    let Some(row) = load_row(inner, trade_id).await? else {
        return Ok(());
    };
    if row.anchor_done {
        return Ok(());
    }
    let Some(bytes) = &row.broadcast_tx else {
        return Ok(());
    };
    let parent: bitcoin::Transaction =
        bitcoin::consensus::deserialize(bytes).map_err(|e| internal("stored release", e))?;
    let child = match &row.anchor_tx {
        Some(b) => Some(
            bitcoin::consensus::deserialize::<bitcoin::Transaction>(b)
                .map_err(|e| internal("stored child", e))?,
        ),
        None => None,
    };
    let key = my_key(inner, &row, trade_id)?;
    match reserve_step(
        inner,
        backend,
        &row,
        trade_id,
        &key,
        Broadcast {
            tx: &parent,
            since: row.release_height,
            child: child.as_ref(),
        },
    )
    .await?
    {
        ReserveStep::Wait => Ok(()),
        ReserveStep::Done => save_reserve(inner, trade_id, |row| row.anchor_done = true).await,
        ReserveStep::Since(tip) => {
            save_reserve(inner, trade_id, move |row| row.release_height = Some(tip)).await
        }
        ReserveStep::Spent(child, how) => {
            let bytes = bitcoin::consensus::serialize(&child);
            save_reserve(inner, trade_id, move |row| {
                row.anchor_tx = Some(bytes);
                row.anchor_how = Some(how.into());
            })
            .await
        }
    }
}

/// A payout this node broadcast, as [`reserve_step`] tends its fee reserve: the transaction, the tip
/// when it went out, and the reserve's child once made.
struct Broadcast<'a> {
    tx: &'a bitcoin::Transaction,
    since: Option<i64>,
    child: Option<&'a bitcoin::Transaction>,
}

/// What to do next with a fee reserve this node holds in `parent`.
enum ReserveStep {
    /// Nothing now.
    Wait,
    /// Remember the tip: the parent was broadcast before its height was kept.
    Since(i64),
    /// The child spending the reserve was broadcast: `bumped` or `forwarded`.
    Spent(bitcoin::Transaction, &'static str),
    /// The child confirmed.
    Done,
}

/// One look at the fee reserve this node (`key`) holds in `parent`, which it broadcast at height
/// `since`: a kept `child` is watched (sent again if lost) until it confirms; without one, the reserve
/// is spent on to this party's address once the parent confirmed, or at once with the fee that lifts
/// both to the current rate when the parent is still unconfirmed [`BUMP_AFTER_BLOCKS`] on and pays less.
async fn reserve_step(
    inner: &Inner,
    backend: &Backend,
    row: &EscrowRow,
    trade_id: Uuid,
    key: &SecpKeypair,
    payout: Broadcast<'_>,
) -> Result<ReserveStep> {
    let Broadcast {
        tx: parent,
        since,
        child,
    } = payout;
    let Some(reserve) = find_anchor(parent, &key.public_key()) else {
        // A payout from before the reserve, or one too small for it: nothing to tend.
        return Ok(ReserveStep::Wait);
    };
    if let Some(child) = child {
        match backend.confirmations(&child.compute_txid()).await? {
            Some(0) => {}
            Some(_) => return Ok(ReserveStep::Done),
            None => {
                if backend
                    .confirmations(&parent.compute_txid())
                    .await?
                    .is_some()
                {
                    broadcast_again_if_lost(inner, backend, trade_id, child, "fee reserve's child")
                        .await?;
                }
            }
        }
        return Ok(ReserveStep::Wait);
    }
    let confirmed = match backend.confirmations(&parent.compute_txid()).await? {
        None => return Ok(ReserveStep::Wait),
        Some(c) => c > 0,
    };
    let rate = backend.fee_rate().await?;
    let parent_fee = if confirmed {
        Amount::ZERO
    } else {
        match backend.mempool_fee(&parent.compute_txid()).await? {
            Some(fee) => fee,
            None => return Ok(ReserveStep::Wait),
        }
    };
    if !confirmed {
        let tip = i64::try_from(backend.tip_height().await?).unwrap_or(i64::MAX);
        let Some(since) = since else {
            return Ok(ReserveStep::Since(tip));
        };
        let paying =
            bitcoin::FeeRate::from_sat_per_vb(parent_fee.to_sat() / (parent.vsize() as u64).max(1))
                .unwrap_or(bitcoin::FeeRate::ZERO);
        if tip - since < BUMP_AFTER_BLOCKS || paying >= rate {
            return Ok(ReserveStep::Wait);
        }
    }
    let to = row
        .address_of(row.side)
        .ok_or_else(|| internal("escrow", "no payout address"))
        .and_then(|a| parse_payout_address(a, row.chain, row.network).map_err(refused))?;
    let wanted =
        child_fee(rate, &to, (!confirmed).then_some((parent, parent_fee))).map_err(refused)?;
    // The cap: the reserve, less what keeps the payout above dust.
    let cap = reserve.1 - row.chain.dust_limit(&to);
    let fee = wanted.min(cap);
    // The child spends no escrow output: its payout script is watched so the chain backend can follow it.
    backend
        .watch(
            std::slice::from_ref(&to),
            u64::try_from(now_ms() / 1000).unwrap_or(0),
        )
        .await?;
    let child = build_child(row.chain, parent, reserve, key, to, fee).map_err(refused)?;
    let txid = backend.broadcast(&child).await?;
    let how = if confirmed { "forwarded" } else { "bumped" };
    tracing::info!(%trade_id, %txid, fee = fee.to_sat(), how, "fee reserve spent");
    Ok(ReserveStep::Spent(child, how))
}

/// The fee reserves of the returns this node broadcast, tended like a release's (see [`reserve_step`]).
async fn tend_return_reserves(
    inner: &Inner,
    backend: &Backend,
    row: &EscrowRow,
    trade_id: Uuid,
) -> Result<()> {
    let key = my_key(inner, row, trade_id)?;
    for r in &row.returns {
        let (Some(hex), false) = (&r.tx, r.reserve_done) else {
            continue;
        };
        let parent: bitcoin::Transaction = bitcoin::consensus::encode::deserialize_hex(hex)
            .map_err(|e| internal("stored return", e))?;
        let child = match &r.reserve_tx {
            Some(hex) => Some(
                bitcoin::consensus::encode::deserialize_hex::<bitcoin::Transaction>(hex)
                    .map_err(|e| internal("stored child", e))?,
            ),
            None => None,
        };
        let step = reserve_step(
            inner,
            backend,
            row,
            trade_id,
            &key,
            Broadcast {
                tx: &parent,
                since: r.height,
                child: child.as_ref(),
            },
        )
        .await?;
        let mut next = r.clone();
        match step {
            ReserveStep::Wait => continue,
            ReserveStep::Done => next.reserve_done = true,
            ReserveStep::Since(tip) => next.height = Some(tip),
            ReserveStep::Spent(child, how) => {
                next.reserve_tx = Some(bitcoin::consensus::encode::serialize_hex(&child));
                next.reserve_how = Some(how.into());
            }
        }
        record_return(inner, trade_id, next).await?;
    }
    Ok(())
}

/// Changes the reserve's fields of the trade's row and tells the shells.
async fn save_reserve(
    inner: &Inner,
    trade_id: Uuid,
    change: impl FnOnce(&mut EscrowRow) + Send + 'static,
) -> Result<()> {
    step_locked(inner, trade_id, move |_, tx| {
        Box::pin(async move {
            let Some(mut row) = load(tx, trade_id).await? else {
                return Ok(false);
            };
            change(&mut row);
            save(tx, trade_id, &row).await?;
            Ok(true)
        })
    })
    .await
}

/// The release (the buyer's node) or resolution (a party's node) this node broadcast, sent again if the
/// chain node lost it while it waits for confirmations.
async fn send_kept_again(backend: &Backend, trade_id: Uuid, inner: &Inner) -> Result<()> {
    let Some(row) = load_row(inner, trade_id).await? else {
        return Ok(());
    };
    let Some(bytes) = &row.broadcast_tx else {
        return Ok(());
    };
    let tx: bitcoin::Transaction =
        bitcoin::consensus::deserialize(bytes).map_err(|e| internal("stored transaction", e))?;
    let what = if row.release_txid.as_deref() == Some(tx.compute_txid().to_string().as_str()) {
        "release"
    } else {
        "payout"
    };
    broadcast_again_if_lost(inner, backend, trade_id, &tx, what).await?;
    Ok(())
}

/// Returns this node broadcast whose coins the chain still shows unspent: broadcast again when the chain
/// node lost them; one kept without its transaction (recorded before it was kept) is forgotten, so the
/// coins are returned anew.
async fn resend_lost_returns(
    inner: &Inner,
    backend: &Backend,
    row: &EscrowRow,
    utxos: &[(Party, Utxo)],
    trade_id: Uuid,
) -> Result<()> {
    for r in &row.returns {
        let Some(txid) = &r.txid else {
            continue;
        };
        let unspent = |o: &String| utxos.iter().any(|(_, u)| u.outpoint.to_string() == *o);
        if r.outpoints.is_empty() || !r.outpoints.iter().all(unspent) {
            continue;
        }
        match &r.tx {
            Some(hex) => {
                let tx: bitcoin::Transaction = bitcoin::consensus::encode::deserialize_hex(hex)
                    .map_err(|e| internal("stored return", e))?;
                match broadcast_again_if_lost(inner, backend, trade_id, &tx, "return").await {
                    Ok(_) => {}
                    // Refused for good (its fee is below what the chain node now relays): made anew,
                    // at today's rate, by the counterparty, the arbitrator or the reclaim lock.
                    Err(Error::Chain(ChainError::Rejected { reason, .. })) => {
                        tracing::warn!(%trade_id, %txid, %reason, "a lost return is refused: made again");
                        record_return(
                            inner,
                            trade_id,
                            r.forgotten(format!(
                                "refused when sent again ({}): made again",
                                reason.chars().take(200).collect::<String>()
                            )),
                        )
                        .await?;
                    }
                    Err(e) => return Err(e),
                }
            }
            None => {
                let txid = bitcoin::Txid::from_str(txid).map_err(|e| internal("stored txid", e))?;
                if backend.confirmations(&txid).await?.is_none() {
                    tracing::warn!(%trade_id, %txid, "a return the chain node lost is made again");
                    record_return(
                        inner,
                        trade_id,
                        r.forgotten("lost by the chain node: made again".into()),
                    )
                    .await?;
                }
            }
        }
    }
    Ok(())
}

async fn check_release_confirmed(inner: &Inner, backend: &Backend, trade_id: Uuid) -> Result<()> {
    let Some(row) = load_row(inner, trade_id).await? else {
        return Ok(());
    };
    let Some(txid) = &row.release_txid else {
        return Ok(());
    };
    let txid = bitcoin::Txid::from_str(txid).map_err(|e| internal("stored txid", e))?;
    let confirmations = backend.confirmations(&txid).await?.unwrap_or(0);
    let required = inner.required_confirmations;
    step_locked(inner, trade_id, move |inner, tx| {
        Box::pin(async move {
            let Some(mut row) = load(tx, trade_id).await? else {
                return Ok(false);
            };
            if current_state(tx, trade_id).await? != TradeState::Released {
                return Ok(false);
            }
            let changed = row.release_confirmations != confirmations;
            row.release_confirmations = confirmations;
            save(tx, trade_id, &row).await?;
            if confirmations >= required {
                let detail = format!("{txid}: {confirmations} confirmations");
                observe(
                    inner,
                    tx,
                    trade_id,
                    Actor::Chain,
                    StepKind::Confirmed,
                    &detail,
                )
                .await?;
                return Ok(true);
            }
            Ok(changed)
        })
    })
    .await
}

/// A closed trade's escrow outputs that still hold coins (funding of a cancelled or expired trade,
/// surplus, coins that came late) go back to whoever sent them, decided by which output holds them:
/// - the counterparty's coins: this node signs a return paying all of them to the counterparty's address
///   and sends it; the counterparty checks, co-signs and broadcasts;
/// - this node's own coins: it co-signs and broadcasts the counterparty's return when one came; once the
///   reclaim lock has passed on an output, it takes it back alone, needing no one.
///
/// After a resolution only coins that came late go back: the funding transactions' outputs are the
/// arbitrator's to decide (the resolution spends them, maybe not confirmed yet).
async fn return_leftovers(
    inner: &Inner,
    backend: &Backend,
    trade_id: Uuid,
    late_only: bool,
) -> Result<()> {
    let Some(row) = load_row(inner, trade_id).await? else {
        return Ok(());
    };
    let Some(escrow) = row.keys()? else {
        return Ok(());
    };
    let utxos = escrow_utxos(backend, &row, &escrow).await?;
    if let Err(e) = resend_lost_returns(inner, backend, &row, &utxos, trade_id).await {
        tracing::warn!(%trade_id, error = %e, "a lost return is not sent again yet");
    }
    if let Err(e) = tend_return_reserves(inner, backend, &row, trade_id).await {
        tracing::warn!(%trade_id, error = %e, "a return's fee reserve is not tended yet");
    }
    // Coins a release (still confirming, or spent) pays out are never returned.
    let released: Vec<bitcoin::OutPoint> = match &row.release_psbt {
        Some(bytes) => decode_psbt(bytes)
            .map(|p| {
                p.unsigned_tx
                    .input
                    .iter()
                    .map(|i| i.previous_output)
                    .collect()
            })
            .unwrap_or_default(),
        None => Vec::new(),
    };
    let mine = row.side;
    if let Some(bytes) = row.incoming_return.clone() {
        if let Err(e) = cosign_return(inner, backend, &row, &escrow, trade_id, &bytes).await {
            tracing::warn!(%trade_id, error = %e, "the counterparty's return is not usable");
        }
        clear_incoming_return(inner, trade_id, &bytes).await?;
    }
    for funder in Party::BOTH {
        let coins: Vec<&Utxo> = utxos
            .iter()
            .filter(|(f, u)| *f == funder && !released.contains(&u.outpoint))
            .filter(|(_, u)| {
                !late_only || !row.funding_txids.contains(&u.outpoint.txid.to_string())
            })
            .map(|(_, u)| u)
            .filter(|u| {
                !row.returns
                    .iter()
                    .any(|r| r.txid.is_some() && r.outpoints.contains(&u.outpoint.to_string()))
            })
            .collect();
        if coins.is_empty() {
            continue;
        }
        if funder == mine {
            let reclaim = escrow.of(funder).timelocks().reclaim;
            let ripe: Vec<&Utxo> = coins
                .iter()
                .copied()
                .filter(|u| u.confirmations >= u32::from(reclaim))
                .collect();
            if !ripe.is_empty() {
                reclaim_alone(inner, backend, &row, &escrow, trade_id, &ripe).await?;
                continue;
            }
            // The other output holds nothing: the arbitrator co-signs at once (asked once per set of
            // coins it refused).
            let outpoints = outpoint_texts(&coins);
            let refused_before = row
                .returns
                .iter()
                .any(|r| r.outpoints == outpoints && r.how.starts_with("arbitrator refused"));
            if !refused_before && utxos.iter().all(|(f, _)| *f == mine) {
                super::arbitrate::ask_return(inner, backend, &row, &escrow, trade_id, &coins)
                    .await?;
            }
        } else {
            sign_return_for_counterparty(inner, backend, &row, &escrow, trade_id, &coins).await?;
        }
    }
    Ok(())
}

fn outpoint_texts(coins: &[&Utxo]) -> Vec<String> {
    coins.iter().map(|u| u.outpoint.to_string()).collect()
}

/// Records a return in the trade's row and tells the shells.
pub(super) async fn record_return(
    inner: &Inner,
    trade_id: Uuid,
    record: ReturnRecord,
) -> Result<()> {
    step_locked(inner, trade_id, move |_, tx| {
        Box::pin(async move {
            let Some(mut row) = load(tx, trade_id).await? else {
                return Ok(false);
            };
            row.returns
                .retain(|r| !(r.funder == record.funder && r.outpoints == record.outpoints));
            row.returns.push(record);
            save(tx, trade_id, &row).await?;
            Ok(true)
        })
    })
    .await
}

async fn clear_incoming_return(inner: &Inner, trade_id: Uuid, bytes: &[u8]) -> Result<()> {
    let (_guard, mut tx) = inner.write().await?;
    sqlx::query(
        "UPDATE trade_escrow SET incoming_return = NULL WHERE trade_id = ? AND incoming_return = ?",
    )
    .bind(trade_id.to_string())
    .bind(bytes)
    .execute(&mut *tx)
    .await
    .map_err(sql)?;
    tx.commit().await.map_err(sql)
}

/// The counterparty's coins are nobody else's: sign their return and send it, once per set of coins.
async fn sign_return_for_counterparty(
    inner: &Inner,
    backend: &Backend,
    row: &EscrowRow,
    escrow: &TradeEscrow,
    trade_id: Uuid,
    coins: &[&Utxo],
) -> Result<()> {
    let funder = row.side.other();
    let outpoints = outpoint_texts(coins);
    if row
        .returns
        .iter()
        .any(|r| r.funder == funder && r.outpoints == outpoints)
    {
        return Ok(());
    }
    let inputs = coins.iter().map(|u| u.input_of(funder)).collect();
    let plan = row.return_plan(funder, inputs, SpendPath::Multisig)?;
    let mut psbt = build_spend(escrow, &plan, backend.fee_rate().await?).map_err(refused)?;
    sign_psbt(&mut psbt, escrow, &my_key(inner, row, trade_id)?).map_err(refused)?;
    let address = row.address_of(funder).unwrap_or_default().to_owned();
    let amount = coins.iter().map(|u| u.value.to_sat()).sum();
    let (_guard, mut db) = inner.write().await?;
    let mut channel = store::load_channel(&mut db, &inner.me.storage_key, trade_id)
        .await?
        .ok_or_else(|| store::unknown_trade(trade_id))?;
    send_step(
        inner,
        &mut db,
        &mut channel,
        StepBody::Return {
            psbt: encode_psbt(&psbt),
        },
    )
    .await?;
    let mut stored = load(&mut db, trade_id)
        .await?
        .ok_or_else(|| no_escrow(trade_id))?;
    stored.returns.push(ReturnRecord::unsent(
        funder,
        outpoints,
        amount,
        address,
        "signed".into(),
    ));
    save(&mut db, trade_id, &stored).await?;
    db.commit().await.map_err(sql)?;
    inner.wake.notify_one();
    tracing::info!(%trade_id, funder = funder.as_str(), amount, "signed the return of the counterparty's coins");
    Ok(())
}

/// The counterparty signed a return of this node's own coins: check it pays them all to this node's
/// address at a sane fee, co-sign, broadcast.
async fn cosign_return(
    inner: &Inner,
    backend: &Backend,
    row: &EscrowRow,
    escrow: &TradeEscrow,
    trade_id: Uuid,
    bytes: &[u8],
) -> Result<()> {
    let funder = row.side;
    let mut psbt = decode_psbt(bytes).map_err(refused)?;
    let inputs = spent_escrow_outputs(backend, row, escrow, &psbt).await?;
    if inputs.iter().any(|i| i.funder != funder) {
        return Err(refused("the return spends coins that are not this party's"));
    }
    let amount = inputs.iter().map(|i| i.value.to_sat()).sum();
    let plan = row.return_plan(funder, inputs, SpendPath::Multisig)?;
    let rate = backend.fee_rate().await?;
    let max = FeeRate::from_sat_per_kwu(rate.to_sat_per_kwu().saturating_mul(MAX_FEE_RATE_FACTOR));
    check_psbt(&psbt, escrow, &plan, max).map_err(refused)?;
    sign_psbt(&mut psbt, escrow, &my_key(inner, row, trade_id)?).map_err(refused)?;
    let tx = finalize_psbt(psbt, escrow).map_err(refused)?;
    let txid = backend.broadcast(&tx).await?;
    tracing::info!(%trade_id, %txid, amount, "own escrow coins returned, co-signed by the counterparty");
    record_return(
        inner,
        trade_id,
        ReturnRecord::broadcast(
            funder,
            amount,
            row.address_of(funder).unwrap_or_default().to_owned(),
            &tx,
            "cosigned",
            backend.tip_height().await.ok(),
        ),
    )
    .await
}

/// The reclaim lock passed on this node's own coins: take them back with this party's key alone.
async fn reclaim_alone(
    inner: &Inner,
    backend: &Backend,
    row: &EscrowRow,
    escrow: &TradeEscrow,
    trade_id: Uuid,
    coins: &[&Utxo],
) -> Result<()> {
    let funder = row.side;
    let inputs = coins.iter().map(|u| u.input_of(funder)).collect();
    let plan = row.return_plan(funder, inputs, SpendPath::Reclaim)?;
    let mut psbt = build_spend(escrow, &plan, backend.fee_rate().await?).map_err(refused)?;
    sign_psbt(&mut psbt, escrow, &my_key(inner, row, trade_id)?).map_err(refused)?;
    let tx = finalize_psbt(psbt, escrow).map_err(refused)?;
    let amount = coins.iter().map(|u| u.value.to_sat()).sum();
    let txid = backend.broadcast(&tx).await?;
    tracing::info!(%trade_id, %txid, amount, "own escrow coins reclaimed alone after the reclaim lock");
    record_return(
        inner,
        trade_id,
        ReturnRecord::broadcast(
            funder,
            amount,
            row.address_of(funder).unwrap_or_default().to_owned(),
            &tx,
            "reclaimed",
            backend.tip_height().await.ok(),
        ),
    )
    .await
}

/// Records the arbitrator's signed resolution and moves the trade to Resolved.
pub(super) async fn record_resolution(
    conn: &mut SqliteConnection,
    trade_id: Uuid,
    payload: &[u8],
    arbitrator: &PeerId,
    signature: &[u8],
    broadcast: Option<(&bitcoin::Transaction, u64)>,
) -> Result<()> {
    let state = current_state(conn, trade_id).await?;
    let offer = offer_of(conn, trade_id).await?;
    let next = next_state(state, Actor::Arbitrator, StepKind::Resolve, mode_of(&offer))
        .map_err(Error::from)?;
    if let Some((tx, height)) = broadcast {
        sqlx::query(
            "UPDATE trade_escrow SET release_txid = ?, broadcast_tx = ?, release_height = ? \
             WHERE trade_id = ?",
        )
        .bind(tx.compute_txid().to_string())
        .bind(bitcoin::consensus::serialize(tx))
        .bind(i64::try_from(height).unwrap_or(i64::MAX))
        .bind(trade_id.to_string())
        .execute(&mut *conn)
        .await
        .map_err(sql)?;
    }
    record(
        conn,
        trade_id,
        StepKind::Resolve.as_str(),
        payload,
        arbitrator,
        signature,
        Some(next),
    )
    .await
}

/// What the shells show of an escrow.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, ts_rs::TS)]
pub struct EscrowView {
    pub chain: Chain,
    pub network: Network,
    /// This node's side.
    pub side: Party,
    /// Where this node sends its coins: its own escrow output's address.
    pub address: Option<String>,
    /// The seller's escrow output (amount and deposit) and the buyer's (deposit): each party funds its
    /// own, so the chain shows whose coins are whose.
    pub seller_escrow_address: Option<String>,
    pub buyer_escrow_address: Option<String>,
    /// What the escrow must hold: the amount and both deposits.
    pub required: u64,
    pub amount: u64,
    pub buyer_deposit: u64,
    pub seller_deposit: u64,
    /// What this node must send to the escrow address.
    pub my_funding: u64,
    pub my_address: Option<String>,
    pub counterparty_address: Option<String>,
    pub arbitrator: Option<String>,
    /// The offer's second arbitrator, who can stand in for the first after the backup lock.
    pub backup_arbitrator: Option<String>,
    /// What both outputs hold (outputs worth counting), and each.
    pub funded: u64,
    pub seller_funded: u64,
    pub buyer_funded: u64,
    /// Blocks after an output confirmed when the backup arbitrator may stand in, and when its funder may
    /// take it back alone.
    pub backup_after_blocks: u32,
    pub reclaim_after_blocks: u32,
    pub funding_confirmations: u32,
    /// The transactions that funded the escrow, as the chain watcher saw them on its address (confirmed
    /// outputs only), first seen first; kept after the escrow is spent.
    pub funding_txids: Vec<String>,
    /// Funding the chain node holds in its mempool, not in a block yet ("seen, unconfirmed"); it counts
    /// once confirmed.
    pub pending_funding: Vec<PendingFunding>,
    pub funding_deadline: Option<i64>,
    pub payment_deadline: Option<i64>,
    /// Once the seller confirmed the payment: when the release must be on the chain.
    pub release_deadline: Option<i64>,
    pub release_txid: Option<String>,
    pub release_confirmations: u32,
    /// Coins going back to whoever sent them: a cancelled or expired trade's funding, surplus, late coins.
    pub returns: Vec<ReturnView>,
    /// The arbitrator's decision, once this node took it (Resolved).
    pub decision: Option<DecisionView>,
    /// The fee reserve of the release (once the seller signed it) or of this node's resolution.
    pub fee_reserve: Option<ReserveView>,
}

/// A payout's fee reserve: a small output of a release (the buyer's) or a resolution (each party's with
/// a share) to the party's own key, carved from its payout, that its node spends on to its payout
/// address: at once with more fee when the payout is stuck at a low fee (it lifts it), otherwise once the
/// payout confirmed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, ts_rs::TS)]
pub struct ReserveView {
    /// Base units set aside from the payout.
    pub amount: u64,
    /// The party's node spent it: `bumped` (it lifted the stuck payout) or `forwarded` (after the
    /// payout confirmed); `None` while set aside. Only that party's node knows.
    pub how: Option<String>,
    pub txid: Option<String>,
    /// Base units it brought to the payout address (the reserve less the child's fee).
    pub paid_on: Option<u64>,
    /// The child confirmed.
    pub done: bool,
}

/// The arbitrator's decision as a party shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, ts_rs::TS)]
pub struct DecisionView {
    /// `buyer`, `seller` or `split`.
    pub to: String,
    /// Base units of the escrow each party gets; the fee comes out of the larger share.
    pub buyer_share: u64,
    pub seller_share: u64,
    /// The arbitrator's words.
    pub reason: String,
    /// 1 for the first decision, more when the arbitrator decided again after a refusal.
    pub round: u32,
}

/// A return of escrow coins to the party that sent them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, ts_rs::TS)]
pub struct ReturnView {
    /// Whose coins.
    pub funder: Party,
    /// What the escrow outputs held (the fee comes out of it).
    pub amount: u64,
    pub address: String,
    /// Once broadcast.
    pub txid: Option<String>,
    /// `signed` (this node signed the counterparty's return; it broadcasts), `cosigned` (both parties
    /// signed and it was broadcast), `arbitrated` (the arbitrator co-signed it: the other output held
    /// nothing), `reclaimed` (taken back by its funder alone after the reclaim lock), or `arbitrator
    /// refused: REASON` (no txid; the counterparty or the reclaim lock returns the coins).
    pub how: String,
    /// The return's fee reserve, when this node broadcast it and kept one: its child's txid once spent,
    /// `bumped` (it lifted the stuck return) or `forwarded`, and whether that confirmed.
    pub reserve_txid: Option<String>,
    pub reserve_how: Option<String>,
    pub reserve_done: bool,
}

pub(super) async fn view(
    conn: &mut SqliteConnection,
    trade_id: Uuid,
) -> Result<Option<EscrowView>> {
    let resolution: Option<Vec<u8>> = sqlx::query_scalar(
        "SELECT payload FROM trade_events WHERE trade_id = ? AND kind = 'resolve' ORDER BY seq DESC",
    )
    .bind(trade_id.to_string())
    .fetch_optional(&mut *conn)
    .await
    .map_err(sql)?;
    let decision = resolution
        .as_deref()
        .and_then(super::arbitrate::decision_of)
        .map(|r| DecisionView {
            to: r.winner,
            buyer_share: r.buyer_share,
            seller_share: r.seller_share,
            reason: r.reason,
            round: r.round,
        });
    Ok(load(conn, trade_id).await?.map(|r| EscrowView {
        decision,
        fee_reserve: reserve_view(&r),
        chain: r.chain,
        network: r.network,
        side: r.side,
        address: r.escrow_address_of(r.side).map(str::to_owned),
        seller_escrow_address: r.escrow_address.clone(),
        buyer_escrow_address: r.buyer_escrow_address.clone(),
        required: r.required(),
        amount: r.amount,
        buyer_deposit: r.buyer_deposit,
        seller_deposit: r.seller_deposit,
        my_funding: match r.side {
            Party::Buyer => r.buyer_deposit,
            Party::Seller => r.amount + r.seller_deposit,
        },
        my_address: r.my_address.clone(),
        counterparty_address: r.peer_address.clone(),
        arbitrator: r.arbitrator.clone(),
        backup_arbitrator: r.backup_arbitrator.clone(),
        funded: r.funded_amount,
        seller_funded: r.seller_funded,
        buyer_funded: r.buyer_funded,
        backup_after_blocks: u32::from(Timelocks::of(r.chain, r.network).backup),
        reclaim_after_blocks: u32::from(Timelocks::of(r.chain, r.network).reclaim),
        funding_confirmations: r.funding_confirmations,
        funding_txids: r.funding_txids.clone(),
        pending_funding: r.pending_funding.clone(),
        funding_deadline: r.funding_deadline,
        payment_deadline: r.payment_deadline,
        release_deadline: r.release_deadline,
        release_txid: r.release_txid.clone(),
        release_confirmations: r.release_confirmations,
        returns: r
            .returns
            .iter()
            .map(|x| ReturnView {
                funder: x.funder,
                amount: x.amount,
                address: x.address.clone(),
                txid: x.txid.clone(),
                how: x.how.clone(),
                reserve_txid: x
                    .reserve_tx
                    .as_deref()
                    .and_then(|h| {
                        bitcoin::consensus::encode::deserialize_hex::<bitcoin::Transaction>(h).ok()
                    })
                    .map(|c| c.compute_txid().to_string()),
                reserve_how: x.reserve_how.clone(),
                reserve_done: x.reserve_done,
            })
            .collect(),
    }))
}

/// The release's fee reserve as the shells show it, from the release the seller signed.
fn reserve_view(r: &EscrowRow) -> Option<ReserveView> {
    // This node's own reserve in what it broadcast (a release or a resolution), else the buyer's in the
    // release the seller signed.
    let (parent, key) = match &r.broadcast_tx {
        Some(bytes) => (
            bitcoin::consensus::deserialize::<bitcoin::Transaction>(bytes).ok()?,
            &r.my_pubkey,
        ),
        None => (
            decode_psbt(r.release_psbt.as_deref()?).ok()?.unsigned_tx,
            match r.side {
                Party::Buyer => &r.my_pubkey,
                Party::Seller => r.peer_pubkey.as_ref()?,
            },
        ),
    };
    let key = EscrowScript::parse_key(key).ok()?;
    let (_, amount) = find_anchor(&parent, &key)?;
    let child: Option<bitcoin::Transaction> = r
        .anchor_tx
        .as_deref()
        .and_then(|b| bitcoin::consensus::deserialize(b).ok());
    Some(ReserveView {
        amount: amount.to_sat(),
        how: r.anchor_how.clone(),
        txid: child.as_ref().map(|c| c.compute_txid().to_string()),
        paid_on: child
            .as_ref()
            .and_then(|c| c.output.first())
            .map(|o| o.value.to_sat()),
        done: r.anchor_done,
    })
}

/// An arbitrator's announcement, published when the node starts as one.
pub(super) async fn announce_arbitrator(inner: &Inner) -> Result<()> {
    let backend = backend(inner)?;
    let announcement = Announcement::of(
        &inner.escrow_root,
        inner.me.peer,
        backend.chain(),
        backend.network(),
        x25519_dalek::PublicKey::from(&inner.me.channel_secret).to_bytes(),
        now_ms(),
    )
    .map_err(refused)?;
    let signed = announcement.sign(&inner.me.keypair).map_err(refused)?;
    let key = record_key(&inner.me.peer, backend.chain(), backend.network());
    inner
        .net
        .put_record(key, signed.to_bytes(), Duration::from_secs(24 * 3600))
        .await?;
    tracing::info!(chain = %backend.chain(), network = %backend.network(), "announced as an arbitrator");
    Ok(())
}
