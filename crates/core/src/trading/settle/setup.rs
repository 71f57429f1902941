//! Escrow setup, from agreed terms to a ready escrow: this node's trade key, the addresses given and the
//! keys exchanged, the arbitrators' keys fetched and the escrow addresses fixed (never one another trade
//! uses).

use libp2p::PeerId;
use sqlx::SqliteConnection;
use uuid::Uuid;

use super::{
    SettleError,
    arbitrators::find_arbitrator,
    chain_of, escrow_refusal, internal,
    journal::{current_state, observe, send_step, step_locked},
    millis, mode_of, no_escrow,
    row::{load, load_row, save},
    side_of, sql,
};
use crate::{
    chain::ChainBackend,
    error::Result,
    escrow::{Party, parse_payout_address, trade_keypair},
    offer::EscrowKind,
    protocol::settlement::{Actor, Mode, StepBody, StepKind, TradeState},
    store::now_ms,
    trading::{
        desk::Inner,
        store::{self, ChannelRow, NewEscrow},
    },
};

/// After the terms are agreed: with an escrow, this node's key for the trade, and its address when it
/// gave one already (a taker's payout details, when they are an address of the trade's chain).
pub(in crate::trading) async fn after_agreement(
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
        return Err(SettleError::WrongChain {
            trade: chain.name(),
            backend: backend.chain().name(),
        }
        .into());
    }
    let side = side_of(&offer, &inner.me.peer);
    let key = trade_keypair(&inner.escrow_root, chain, network, &channel.trade_id)
        .map_err(escrow_refusal)?;
    let deposit = |bps: u16| amount.saturating_mul(u64::from(bps)) / 10_000;
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
    store::insert_escrow(
        conn,
        NewEscrow {
            trade_id: channel.trade_id,
            chain,
            network,
            side,
            my_pubkey: key.public_key().serialize().to_vec(),
            my_address: taker_address.as_deref(),
            arbitrator,
            amount,
            buyer_deposit: deposit(offer.deposit_bps),
            seller_deposit: deposit(offer.deposit_bps),
            backup_arbitrator: backup,
        },
    )
    .await?;
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

/// The user gives the address where this party's coins go (buyer: payout; seller: refund).
pub(in crate::trading) async fn set_address(
    inner: &Inner,
    trade_id: Uuid,
    address: &str,
) -> std::result::Result<(), SettleError> {
    let ((_guard, mut tx), mut channel) = inner.write_trade(trade_id).await?;
    let mut row = load(&mut tx, trade_id)
        .await?
        .ok_or_else(|| no_escrow(trade_id))?;
    if row.keys_sent {
        return Err(SettleError::AddressGiven {
            trade_id,
            given: row.my_address.unwrap_or_default(),
        });
    }
    parse_payout_address(address.trim(), row.chain, row.network)
        .map_err(|e| SettleError::BadAddress(e.to_string()))?;
    row.my_address = Some(address.trim().to_owned());
    save(&mut tx, trade_id, &row).await?;
    send_keys(inner, &mut tx, &mut channel).await?;
    tx.commit().await.map_err(sql)?;
    inner.outbox.kick();
    inner.watcher.kick();
    Ok(())
}

/// Both keys and addresses are in: fetch the arbitrators' keys and fix the escrow addresses.
pub(super) async fn make_ready(inner: &Inner, trade_id: Uuid) -> Result<()> {
    let Some(row) = load_row(inner, trade_id).await? else {
        return Ok(());
    };
    if row.peer_pubkey.is_none() || row.my_address.is_none() || !row.keys_sent {
        return Ok(());
    }
    let parse = |who: &str, id: Option<&str>| -> std::result::Result<PeerId, SettleError> {
        id.ok_or_else(|| SettleError::Escrow("the offer names no arbitrator".into()))?
            .parse()
            .map_err(|e| SettleError::Escrow(format!("{who}: {e}")))
    };
    let arbitrator = parse("arbitrator", row.arbitrator.as_deref())?;
    let announcement = find_arbitrator(inner, &arbitrator, row.chain, row.network).await?;
    let key = announcement.trade_key(&trade_id).map_err(escrow_refusal)?;
    let backup_key = match row.backup_arbitrator.as_deref() {
        Some(backup) => {
            let backup = parse("backup arbitrator", Some(backup))?;
            let announcement = find_arbitrator(inner, &backup, row.chain, row.network).await?;
            Some(announcement.trade_key(&trade_id).map_err(escrow_refusal)?)
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
                .map_err(escrow_refusal)?;
            let buyer = escrow
                .of(Party::Buyer)
                .address(row.chain, row.network)
                .map_err(escrow_refusal)?;
            // Two trades on one escrow address could pay one's release from the other's coins.
            if store::escrow_address_taken(tx, trade_id, &seller, &buyer).await? {
                return Err(SettleError::AddressOfAnotherTrade(trade_id).into());
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
