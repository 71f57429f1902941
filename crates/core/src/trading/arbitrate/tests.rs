//! Tests of disputes: the payout plan and outcome checks, cases from forgers and parties, and the
//! decision owed to each party until it answers.

use bitcoin::{Amount, hashes::Hash};
use libp2p::{PeerId, identity::Keypair};
use rust_decimal::Decimal;
use uuid::Uuid;

use super::deliver::{MAX_REFUSAL_CHARS, record_answer};
use super::*;
use crate::{
    channel,
    escrow::{
        EscrowParties, Party, Timelocks, TradeEscrow, anchor_script, anchor_value,
        parse_payout_address, trade_keypair,
    },
    identity::{Identity as Id, SeedPhrase},
    offer::{Asset, Fiat, NewOffer, PaymentMethod, Price, Quote, Side},
    protocol::Stored,
    protocol::roles::Winner,
    protocol::settlement::{StepBody, TradeStep},
    store::{FILE_NAME, Store, now_ms},
    trading::{
        Desk, TradeConfig,
        store::disputes::{Undelivered, undelivered_resolutions},
    },
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
    let desk = crate::trading::tests::desk_of(
        &id,
        &store,
        TradeConfig {
            arbitrator: true,
            ..TradeConfig::default()
        },
    )
    .await;
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

    let decided = |winner: Winner, buyer_share, seller_share| Resolution {
        trade_id: Uuid::nil(),
        winner,
        buyer_share,
        seller_share,
        reason: String::new(),
        round: 1,
        psbt: Vec::new(),
    };
    assert!(decided(Winner::Buyer, 10, 0).check_outcome().is_ok());
    assert!(decided(Winner::Split, 4, 6).check_outcome().is_ok());
    for (winner, b, s) in [
        (Winner::Buyer, 4, 6),
        (Winner::Seller, 1, 0),
        (Winner::Split, 0, 10),
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
