//! The arbitrator's side: dispute cases from the parties, opened, checked against the parties' signed
//! steps and the chain, and stored one dispute per trade. A case that does not match the held dispute
//! never replaces it, unless the chain shows the held one's escrow empty and the new one's not.

use libp2p::PeerId;
use uuid::Uuid;

use super::{
    DisputeCase, OnChain, arbitrator_of, backup_of, find_announcement, peer_fault, refused, sql,
};
use crate::{
    arbiter::arbitrator_trade_keypair,
    chain::ChainBackend,
    channel,
    error::{Error, Result},
    escrow::{
        EscrowInput, EscrowParties, EscrowScript, Party, Timelocks, TradeEscrow,
        parse_payout_address,
    },
    offer::Side,
    protocol::settlement::{SignedStep, StepBody},
    store::now_ms,
    trading::{
        TradeEvent,
        desk::Inner,
        settle,
        store::{
            self,
            disputes::{CasesRow, DisputeRow},
        },
    },
};

/// The parties, their keys and addresses, from their own signed steps: (buyer, seller) each as
/// (PeerId, pubkey, address).
pub(super) type PartyKeys = (PeerId, Vec<u8>, String);

pub(super) fn parties(case: &DisputeCase) -> Result<(PartyKeys, PartyKeys)> {
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

/// What makes a dispute the dispute about one trade: every case for it must say the same.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Identity {
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
    pub(super) fn stored(row: &DisputeRow) -> Result<(Self, Vec<DisputeCase>)> {
        let cases = row.cases()?;
        let cases: Vec<DisputeCase> = serde_json::from_str(&cases)
            .map_err(|e| Error::Internal(format!("stored cases: {e}")))?;
        let first = cases
            .first()
            .ok_or_else(|| Error::Internal("a dispute without a case".into()))?;
        let amount = row.amount()?;
        let identity = Self {
            chain: row.chain()?,
            network: row.network()?,
            offer_id: first.offer()?.id,
            buyer: row.buyer()?,
            seller: row.seller()?,
            buyer_address: row.buyer_address()?,
            seller_address: row.seller_address()?,
            escrow_address: row.escrow_address()?,
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
pub(in crate::trading) async fn on_case(inner: &Inner, bytes: &[u8]) -> Result<()> {
    let opened = channel::open_take(&inner.me.channel_secret, inner.me.peer, bytes)?;
    let case: DisputeCase =
        crate::codec::decode_exact(opened.plaintext(), "dispute case").map_err(peer_fault)?;
    if case.trade_id != opened.trade_id() {
        return Err(peer_fault("the case names another trade than its envelope"));
    }
    let offer = case.offer()?;
    if arbitrator_of(&offer)? != inner.me.peer && backup_of(&offer) != Some(inner.me.peer) {
        return Err(peer_fault("this node is not an arbitrator of that offer"));
    }
    let (buyer, seller) = parties(&case)?;
    let reporter = opened.taker();
    if reporter != buyer.0 && reporter != seller.0 {
        return Err(peer_fault("the case comes from neither party"));
    }
    disputes_of(&case, &buyer.0, &seller.0)?;
    let key =
        arbitrator_trade_keypair(&inner.escrow_root, case.chain, case.network, &case.trade_id)
            .map_err(peer_fault)?;
    let escrow = escrow_of(inner, &case, &buyer, &seller, key.public_key()).await?;
    let address = escrow
        .of(Party::Seller)
        .address(case.chain, case.network)
        .map_err(peer_fault)?;
    let identity = Identity::of(&case, &buyer, &seller, &address)?;
    let side = if reporter == buyer.0 {
        "buyer"
    } else {
        "seller"
    };
    // A different dispute under this trade id: the chain decides whether the new case replaces it.
    let mut replaces = None;
    let held = match store::disputes::load(&inner.pool, case.trade_id).await? {
        Some(row) => Some((Identity::stored(&row)?, row)),
        None => None,
    };
    if let Some(((held, held_cases), row)) = held
        && held != identity
    {
        let undecided = row.resolution()?.is_none();
        let differs = held.differences(&identity);
        let refusal = || {
            tracing::warn!(trade_id = %case.trade_id, %reporter, %differs, "a case that does not match the dispute held here");
            peer_fault(format!(
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
    let existing = store::disputes::load(&mut *tx, case.trade_id).await?;
    let mut cases: Vec<DisputeCase> = match &existing {
        Some(row) => {
            let (held, cases) = Identity::stored(row)?;
            if held == identity {
                cases
            } else if Some(&held) == replaces.as_ref() {
                store::disputes::delete(&mut tx, case.trade_id).await?;
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
    let dispute = CasesRow {
        trade_id: case.trade_id,
        chain: &identity.chain,
        network: &identity.network,
        buyer: &identity.buyer,
        seller: &identity.seller,
        buyer_address: &identity.buyer_address,
        seller_address: &identity.seller_address,
        escrow_address: &identity.escrow_address,
        amount: i64::try_from(case.amount).unwrap_or(i64::MAX),
        cases: &json,
        opened_at: now,
    };
    store::disputes::save_cases(&mut tx, &dispute).await?;
    tx.commit().await.map_err(sql)?;
    tracing::info!(trade_id = %case.trade_id, %side, new, "dispute case received");
    if new {
        let _ = inner.events.send(TradeEvent::DisputeOpened {
            trade_id: case.trade_id,
        });
    }
    Ok(())
}

impl OnChain {
    fn total(&self) -> u64 {
        self.buyer_output + self.seller_output
    }
}

/// The escrow of `case`, as this arbitrator computes it, with what each output holds on the chain
/// (outputs worth counting) as inputs.
pub(super) async fn escrow_inputs(
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

pub(super) async fn holdings(inner: &Inner, case: &DisputeCase) -> Result<OnChain> {
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
pub(super) fn disputes_of(
    case: &DisputeCase,
    buyer: &PeerId,
    seller: &PeerId,
) -> Result<Vec<(PeerId, i64)>> {
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
