//! Settlement: from agreed terms to coins where they belong. Escrow keys and addresses are exchanged in
//! the channel, the escrow address is computed by both sides, the chain is watched for the funding, the
//! buyer says it paid, the seller signs the release, the buyer checks it, co-signs and broadcasts, and the
//! chain's confirmations complete the trade. Every step is one transaction: the signed event, the new
//! state and the envelope to send.

use std::{str::FromStr, sync::Arc, time::Duration};

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
    chain::{ChainBackend, RpcBackend},
    error::{Error, Result},
    escrow::{
        Chain, EscrowInput, EscrowScript, Network, Payout, SpendPlan, build_spend, check_psbt,
        decode_psbt, encode_psbt, finalize_psbt, parse_payout_address, sign_psbt, trade_keypair,
    },
    offer::{Asset, EscrowKind, Offer, Side},
    store::{StoreError, now_ms},
    trade::{Actor, Mode, SignedStep, StepBody, StepKind, TradeState, TradeStep, next_state},
};

/// Signature domain of what a node records from its own observation (chain, clock).
const OBSERVATION_SIGNING_TAG: &[u8] = b"souk/trade-observation/v1\0";
/// A counterparty's release may pay at most this many times the fee rate the node suggests now.
const MAX_FEE_RATE_FACTOR: u64 = 4;

fn sql(e: sqlx::Error) -> Error {
    Error::Store(StoreError::Sql(e))
}

fn internal(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Internal(format!("{what}: {e}"))
}

fn refused(e: impl std::fmt::Display) -> Error {
    Error::InvalidInput(e.to_string())
}

/// Which side of the coins a party is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Side2 {
    Buyer,
    Seller,
}

impl Side2 {
    fn as_str(self) -> &'static str {
        match self {
            Self::Buyer => "buyer",
            Self::Seller => "seller",
        }
    }

    fn actor(self) -> Actor {
        match self {
            Self::Buyer => Actor::Buyer,
            Self::Seller => Actor::Seller,
        }
    }
}

/// The maker of a sell offer sells; the maker of a buy offer buys.
pub(super) fn side_of(offer: &Offer, me: &PeerId) -> Side2 {
    let maker = offer.maker == *me;
    match (offer.side, maker) {
        (Side::Sell, true) | (Side::Buy, false) => Side2::Seller,
        (Side::Sell, false) | (Side::Buy, true) => Side2::Buyer,
    }
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
    pub side: Side2,
    pub my_pubkey: Vec<u8>,
    pub my_address: Option<String>,
    pub keys_sent: bool,
    pub peer_pubkey: Option<Vec<u8>>,
    pub peer_address: Option<String>,
    pub arbitrator: Option<String>,
    pub arbitrator_pubkey: Option<Vec<u8>>,
    pub escrow_address: Option<String>,
    pub amount: u64,
    pub buyer_deposit: u64,
    pub seller_deposit: u64,
    pub funding_deadline: Option<i64>,
    pub payment_deadline: Option<i64>,
    pub funded_amount: u64,
    pub funding_confirmations: u32,
    /// The transactions whose outputs the watcher saw on the escrow address, first seen first.
    pub funding_txids: Vec<String>,
    pub release_psbt: Option<Vec<u8>>,
    pub release_txid: Option<String>,
    pub release_confirmations: u32,
    /// This party's dispute case reached the arbitrator.
    pub case_sent: bool,
    pub release_deadline: Option<i64>,
}

impl EscrowRow {
    pub fn side_text(&self) -> &'static str {
        self.side.as_str()
    }

    pub fn script(&self) -> Result<Option<EscrowScript>> {
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

    fn keys(&self) -> Result<Option<EscrowScript>> {
        let (Some(peer), Some(arbitrator)) = (&self.peer_pubkey, &self.arbitrator_pubkey) else {
            return Ok(None);
        };
        let mine = EscrowScript::parse_key(&self.my_pubkey).map_err(refused)?;
        let theirs = EscrowScript::parse_key(peer).map_err(refused)?;
        let arbitrator = EscrowScript::parse_key(arbitrator).map_err(refused)?;
        let (buyer, seller) = match self.side {
            Side2::Buyer => (mine, theirs),
            Side2::Seller => (theirs, mine),
        };
        Ok(Some(
            EscrowScript::new(buyer, seller, arbitrator).map_err(refused)?,
        ))
    }

    fn buyer_address(&self) -> Option<&str> {
        match self.side {
            Side2::Buyer => self.my_address.as_deref(),
            Side2::Seller => self.peer_address.as_deref(),
        }
    }

    fn seller_address(&self) -> Option<&str> {
        match self.side {
            Side2::Seller => self.my_address.as_deref(),
            Side2::Buyer => self.peer_address.as_deref(),
        }
    }

    /// The release: the buyer gets the amount and its deposit back, the seller its deposit less the fee.
    fn release_plan(&self, inputs: Vec<EscrowInput>) -> Result<SpendPlan> {
        let address = |a: Option<&str>, whose: &str| -> Result<ScriptBuf> {
            let a = a.ok_or_else(|| {
                Error::InvalidInput(format!("the {whose}'s address is not known yet"))
            })?;
            parse_payout_address(a, self.chain, self.network).map_err(refused)
        };
        Ok(SpendPlan {
            chain: self.chain,
            inputs,
            outputs: vec![
                Payout {
                    script_pubkey: address(self.buyer_address(), "buyer")?,
                    amount: Amount::from_sat(self.amount + self.buyer_deposit),
                },
                Payout {
                    script_pubkey: address(self.seller_address(), "seller")?,
                    amount: Amount::from_sat(self.seller_deposit),
                },
            ],
            fee_payer: 1,
        })
    }
}

pub(super) async fn load(conn: &mut SqliteConnection, trade_id: Uuid) -> Result<Option<EscrowRow>> {
    let Some(r) = sqlx::query("SELECT * FROM trade_escrow WHERE trade_id = ?")
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
    let side: String = r.try_get("side").map_err(sql)?;
    let funding_txids: String = r.try_get("funding_txids").map_err(sql)?;
    Ok(Some(EscrowRow {
        chain: Chain::from_str(&chain).map_err(|e| internal("stored chain", e))?,
        network: Network::from_str(&network).map_err(|e| internal("stored network", e))?,
        side: if side == "buyer" {
            Side2::Buyer
        } else {
            Side2::Seller
        },
        my_pubkey: r.try_get("my_pubkey").map_err(sql)?,
        my_address: r.try_get("my_address").map_err(sql)?,
        keys_sent: r.try_get::<i64, _>("keys_sent").map_err(sql)? == 1,
        peer_pubkey: r.try_get("peer_pubkey").map_err(sql)?,
        peer_address: r.try_get("peer_address").map_err(sql)?,
        arbitrator: r.try_get("arbitrator").map_err(sql)?,
        arbitrator_pubkey: r.try_get("arbitrator_pubkey").map_err(sql)?,
        escrow_address: r.try_get("escrow_address").map_err(sql)?,
        amount: get_u64("amount")?,
        buyer_deposit: get_u64("buyer_deposit")?,
        seller_deposit: get_u64("seller_deposit")?,
        funding_deadline: r.try_get("funding_deadline").map_err(sql)?,
        payment_deadline: r.try_get("payment_deadline").map_err(sql)?,
        funded_amount: get_u64("funded_amount")?,
        funding_confirmations: u32::try_from(get_u64("funding_confirmations")?).unwrap_or(u32::MAX),
        funding_txids: serde_json::from_str(&funding_txids)
            .map_err(|e| internal("stored funding txids", e))?,
        release_psbt: r.try_get("release_psbt").map_err(sql)?,
        release_txid: r.try_get("release_txid").map_err(sql)?,
        release_confirmations: u32::try_from(get_u64("release_confirmations")?).unwrap_or(u32::MAX),
        case_sent: r.try_get::<i64, _>("case_sent").map_err(sql)? == 1,
        release_deadline: r.try_get("release_deadline").map_err(sql)?,
    }))
}

async fn save(conn: &mut SqliteConnection, trade_id: Uuid, e: &EscrowRow) -> Result<()> {
    sqlx::query(
        "UPDATE trade_escrow SET my_address = ?, keys_sent = ?, peer_pubkey = ?, peer_address = ?, \
         arbitrator = ?, arbitrator_pubkey = ?, escrow_address = ?, funding_deadline = ?, \
         payment_deadline = ?, funded_amount = ?, funding_confirmations = ?, funding_txids = ?, \
         release_psbt = ?, release_txid = ?, release_confirmations = ?, release_deadline = ? \
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
    let text: String = sqlx::query_scalar("SELECT state FROM trades WHERE id = ?")
        .bind(trade_id.to_string())
        .fetch_one(conn)
        .await
        .map_err(sql)?;
    TradeState::parse(&text).ok_or_else(|| {
        Error::InvalidInput(format!(
            "trade {trade_id} is still being negotiated ({text}): agree on the terms first"
        ))
    })
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
                next_state(state, side.actor(), kind, mode_of(&channel.offer))
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
    let arbitrator = match &offer.escrow {
        EscrowKind::Multisig { arbitrators } => arbitrators.first().map(|a| a.to_base58()),
        EscrowKind::None => None,
    };
    sqlx::query(
        "INSERT INTO trade_escrow (trade_id, chain, network, side, my_pubkey, my_address, arbitrator, \
         amount, buyer_deposit, seller_deposit) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
        Act::Paid => StepBody::PaymentSent,
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

/// What a party does by hand.
#[derive(Debug, Clone)]
pub(super) enum Act {
    Paid,
    Received,
    Cancel(String),
    Dispute(String),
}

fn my_key(inner: &Inner, row: &EscrowRow, trade_id: Uuid) -> Result<SecpKeypair> {
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
    let utxos = backend.escrow_utxos(&escrow.script_pubkey()).await?;
    if utxos.is_empty() {
        return Err(Error::InvalidInput(
            "the escrow holds nothing on the chain: it is not funded (or was spent)".into(),
        ));
    }
    let rate = backend.fee_rate().await?;
    Ok(Some((utxos.iter().map(EscrowInput::from).collect(), rate)))
}

fn backend(inner: &Inner) -> Result<&Arc<RpcBackend>> {
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
        Side2::Buyer => Side2::Seller,
        Side2::Seller => Side2::Buyer,
    };
    let mode = mode_of(&channel.offer);
    let next = match step.body.kind() {
        Some(kind) => {
            let state = current_state(conn, trade_id).await?;
            Some(next_state(state, their_side.actor(), kind, mode).map_err(Error::from)?)
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
            check_release(inner, &row, release_psbt).await?;
            row.release_psbt = Some(release_psbt.clone());
            row.release_deadline = Some(now_ms() + millis(inner.config.release_window));
            save(conn, trade_id, &row).await?;
        }
        StepBody::Released { txid } => {
            let mut row = load(conn, trade_id)
                .await?
                .ok_or_else(|| no_escrow(trade_id))?;
            bitcoin::Txid::from_str(txid).map_err(|e| refused(format!("release txid: {e}")))?;
            row.release_txid = Some(txid.clone());
            save(conn, trade_id, &row).await?;
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
    let utxos = backend.escrow_utxos(&escrow.script_pubkey()).await?;
    let plan = row.release_plan(utxos.iter().map(EscrowInput::from).collect())?;
    let rate = backend.fee_rate().await?;
    let max = FeeRate::from_sat_per_kwu(rate.to_sat_per_kwu().saturating_mul(MAX_FEE_RATE_FACTOR));
    check_psbt(&psbt, &escrow, &plan, max)
        .map_err(|e| Error::InvalidInput(format!("the seller's release is refused: {e}")))?;
    Ok(())
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
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT t.id, t.state FROM trades t JOIN trade_escrow e ON e.trade_id = t.id \
         WHERE t.state IN ('Accepted', 'EscrowFunding', 'EscrowFunded', 'PaymentConfirmed', \
         'Released', 'Disputed')",
    )
    .fetch_all(&inner.pool)
    .await
    .map_err(sql)?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, state)| Some((Uuid::parse_str(&id).ok()?, TradeState::parse(&state)?)))
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
            TradeState::EscrowFunded => check_payment_deadline(inner, trade_id).await,
            TradeState::PaymentConfirmed => {
                let broadcast = broadcast_release(inner, &backend, trade_id).await;
                check_release_deadline(inner, trade_id).await.and(broadcast)
            }
            TradeState::Released => check_release_confirmed(inner, &backend, trade_id).await,
            TradeState::Disputed => super::arbitrate::send_case(inner, trade_id).await,
            _ => Ok(()),
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

/// Both keys and addresses are in: fetch the arbitrator's key and fix the escrow address.
async fn make_ready(inner: &Inner, trade_id: Uuid) -> Result<()> {
    let mut conn = inner.pool.acquire().await.map_err(sql)?;
    let Some(row) = load(&mut conn, trade_id).await? else {
        return Ok(());
    };
    drop(conn);
    if row.peer_pubkey.is_none() || row.my_address.is_none() || !row.keys_sent {
        return Ok(());
    }
    let arbitrator: PeerId = row
        .arbitrator
        .as_deref()
        .ok_or_else(|| refused("the offer names no arbitrator"))?
        .parse()
        .map_err(|e| refused(format!("arbitrator: {e}")))?;
    let announcement = find_arbitrator(inner, &arbitrator, row.chain, row.network).await?;
    let key = announcement.trade_key(&trade_id).map_err(refused)?;
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
            let escrow = row
                .keys()?
                .ok_or_else(|| internal("escrow", "keys missing"))?;
            let address = escrow.address(row.chain, row.network).map_err(refused)?;
            row.escrow_address = Some(address.clone());
            row.funding_deadline = Some(now_ms() + millis(funding_window));
            save(tx, trade_id, &row).await?;
            observe(
                inner,
                tx,
                trade_id,
                Actor::Chain,
                StepKind::EscrowReady,
                &address,
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

async fn check_funding(inner: &Inner, backend: &RpcBackend, trade_id: Uuid) -> Result<()> {
    let mut conn = inner.pool.acquire().await.map_err(sql)?;
    let Some(row) = load(&mut conn, trade_id).await? else {
        return Ok(());
    };
    drop(conn);
    let escrow = row
        .keys()?
        .ok_or_else(|| internal("escrow", "keys missing"))?;
    let utxos = backend.escrow_utxos(&escrow.script_pubkey()).await?;
    let held: u64 = utxos.iter().map(|u| u.value.to_sat()).sum();
    let confirmations = utxos.iter().map(|u| u.confirmations).min().unwrap_or(0);
    let seen: Vec<String> = utxos.iter().map(|u| u.outpoint.txid.to_string()).collect();
    let required = inner.required_confirmations;
    let funded = held >= row.required() && confirmations >= required;
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
            let known = row.funding_txids.len();
            for txid in seen {
                if !row.funding_txids.contains(&txid) {
                    row.funding_txids.push(txid);
                }
            }
            let changed = row.funded_amount != held
                || row.funding_confirmations != confirmations
                || row.funding_txids.len() != known;
            row.funded_amount = held;
            row.funding_confirmations = confirmations;
            if funded {
                row.payment_deadline = Some(now_ms() + millis(payment_window));
                save(tx, trade_id, &row).await?;
                let detail = format!(
                    "{held} in {} outputs, {confirmations} confirmations",
                    utxos.len()
                );
                observe(inner, tx, trade_id, Actor::Chain, StepKind::Funded, &detail).await?;
                return Ok(true);
            }
            save(tx, trade_id, &row).await?;
            if expired && held == 0 {
                observe(
                    inner,
                    tx,
                    trade_id,
                    Actor::Clock,
                    StepKind::FundingExpired,
                    "no funding",
                )
                .await?;
                return Ok(true);
            }
            Ok(changed)
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

/// Once the seller confirmed the payment, the release must reach the chain in time; otherwise the
/// arbitrator decides (the seller's deposit must not stay locked by a buyer who never broadcasts).
async fn check_release_deadline(inner: &Inner, trade_id: Uuid) -> Result<()> {
    step_locked(inner, trade_id, move |inner, tx| {
        Box::pin(async move {
            let Some(row) = load(tx, trade_id).await? else {
                return Ok(false);
            };
            if current_state(tx, trade_id).await? != TradeState::PaymentConfirmed
                || row.release_txid.is_some()
                || row.release_deadline.is_none_or(|d| now_ms() <= d)
            {
                return Ok(false);
            }
            observe(
                inner,
                tx,
                trade_id,
                Actor::Clock,
                StepKind::ReleaseExpired,
                "no release on the chain in time",
            )
            .await?;
            Ok(true)
        })
    })
    .await
}

async fn check_payment_deadline(inner: &Inner, trade_id: Uuid) -> Result<()> {
    step_locked(inner, trade_id, move |inner, tx| {
        Box::pin(async move {
            let Some(row) = load(tx, trade_id).await? else {
                return Ok(false);
            };
            if current_state(tx, trade_id).await? != TradeState::EscrowFunded
                || row.payment_deadline.is_none_or(|d| now_ms() <= d)
            {
                return Ok(false);
            }
            observe(
                inner,
                tx,
                trade_id,
                Actor::Clock,
                StepKind::PaymentExpired,
                "no payment in time",
            )
            .await?;
            Ok(true)
        })
    })
    .await
}

/// The buyer, holding a checked release signed by the seller: co-sign, finalise, broadcast.
async fn broadcast_release(inner: &Inner, backend: &RpcBackend, trade_id: Uuid) -> Result<()> {
    let mut conn = inner.pool.acquire().await.map_err(sql)?;
    let Some(row) = load(&mut conn, trade_id).await? else {
        return Ok(());
    };
    drop(conn);
    if row.side != Side2::Buyer || row.release_txid.is_some() {
        return Ok(());
    }
    let Some(bytes) = &row.release_psbt else {
        return Ok(());
    };
    let escrow = row
        .keys()?
        .ok_or_else(|| internal("escrow", "keys missing"))?;
    let mut psbt = decode_psbt(bytes).map_err(refused)?;
    sign_psbt(&mut psbt, &escrow, &my_key(inner, &row, trade_id)?).map_err(refused)?;
    let tx = finalize_psbt(psbt, &escrow).map_err(refused)?;
    let txid = backend.broadcast(&tx).await?;
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

async fn check_release_confirmed(
    inner: &Inner,
    backend: &RpcBackend,
    trade_id: Uuid,
) -> Result<()> {
    let mut conn = inner.pool.acquire().await.map_err(sql)?;
    let Some(row) = load(&mut conn, trade_id).await? else {
        return Ok(());
    };
    drop(conn);
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

/// Records the arbitrator's signed resolution and moves the trade to Resolved.
pub(super) async fn record_resolution(
    conn: &mut SqliteConnection,
    trade_id: Uuid,
    payload: &[u8],
    arbitrator: &PeerId,
    signature: &[u8],
    txid: Option<&str>,
) -> Result<()> {
    let state = current_state(conn, trade_id).await?;
    let offer = offer_of(conn, trade_id).await?;
    let next = next_state(state, Actor::Arbitrator, StepKind::Resolve, mode_of(&offer))
        .map_err(Error::from)?;
    if let Some(txid) = txid {
        sqlx::query("UPDATE trade_escrow SET release_txid = ? WHERE trade_id = ?")
            .bind(txid)
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
    /// `buyer` or `seller`: this node's side.
    pub side: String,
    pub address: Option<String>,
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
    pub funded: u64,
    pub funding_confirmations: u32,
    /// The transactions that funded the escrow, as the chain watcher saw them on its address (confirmed
    /// outputs only), first seen first; kept after the escrow is spent.
    pub funding_txids: Vec<String>,
    pub funding_deadline: Option<i64>,
    pub payment_deadline: Option<i64>,
    /// Once the seller confirmed the payment: when the release must be on the chain.
    pub release_deadline: Option<i64>,
    pub release_txid: Option<String>,
    pub release_confirmations: u32,
}

pub(super) async fn view(
    conn: &mut SqliteConnection,
    trade_id: Uuid,
) -> Result<Option<EscrowView>> {
    Ok(load(conn, trade_id).await?.map(|r| EscrowView {
        chain: r.chain,
        network: r.network,
        side: r.side.as_str().into(),
        address: r.escrow_address.clone(),
        required: r.required(),
        amount: r.amount,
        buyer_deposit: r.buyer_deposit,
        seller_deposit: r.seller_deposit,
        my_funding: match r.side {
            Side2::Buyer => r.buyer_deposit,
            Side2::Seller => r.amount + r.seller_deposit,
        },
        my_address: r.my_address.clone(),
        counterparty_address: r.peer_address.clone(),
        arbitrator: r.arbitrator.clone(),
        funded: r.funded_amount,
        funding_confirmations: r.funding_confirmations,
        funding_txids: r.funding_txids.clone(),
        funding_deadline: r.funding_deadline,
        payment_deadline: r.payment_deadline,
        release_deadline: r.release_deadline,
        release_txid: r.release_txid.clone(),
        release_confirmations: r.release_confirmations,
    }))
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
