//! Reputation from signed trade receipts on a real regtest chain (issue 14, part 1): a maker settles two
//! escrow trades and one without escrow with three takers; a fourth node that took part in none reads the
//! maker's reputation from the DHT with exactly those receipts, the escrow ones checked on its own chain.
//! A rogue node's forged receipts (one signature, a party's key swapped, a genuine receipt replayed in
//! its own set, escrow transactions the chain never saw) are refused and counted.

use std::{sync::Arc, time::Duration};

use bitcoin::hashes::Hash;
use libp2p::identity::Keypair;
use souk_core::{
    net::{AcceptAll, NetClient, NetConfig, Network},
    offer::{Asset, Fiat, Quote},
    reputation::{
        EscrowProof, HolderSet, Outcome, Receipt, ReceiptBody, ReceiptCheck, Reputation,
        SignedHolderSet, TxAt, holder_key, receipt::sign_body, subject_key, trade_hash,
    },
    trading::{TradeAnswer, TradeInfo, TradeState},
};
use souk_tests::{
    DEADLINE, TestNode,
    funded::{Ground, ground, in_state},
    sell_offer,
};

/// An escrow trade of `maker` (seller) with `taker` (buyer), funded, paid and released on the chain.
async fn escrow_trade(ground: &Ground, maker: &TestNode, taker: &TestNode) -> TradeInfo {
    let (trade, _) = ground.funded_trade(maker, taker).await;
    taker.node.mark_paid(trade.id).await.expect("paid");
    in_state(maker, &trade, "PaymentSent").await;
    maker.node.mark_received(trade.id).await.expect("received");
    in_state(taker, &trade, "Released").await;
    ground.ltc.mine(1).await;
    in_state(taker, &trade, "Completed").await;
    in_state(maker, &trade, "Completed").await
}

/// A BTC/EUR trade without escrow: taken, accepted, paid, confirmed.
async fn plain_trade(maker: &TestNode, taker: &TestNode) -> TradeInfo {
    let offer = maker
        .node
        .post_offer(sell_offer(60_000))
        .await
        .expect("post");
    taker
        .node
        .refresh_market(Asset::Btc, Quote::Fiat(Fiat::Eur))
        .await
        .expect("refresh");
    taker.await_offer(offer.id).await;
    let trade = taker
        .node
        .take_offer(
            offer.id,
            5_000_000,
            souk_core::offer::PaymentMethod::new("SEPA").unwrap(),
            "DE00 1234".into(),
        )
        .await
        .expect("take");
    maker
        .node
        .answer_trade(trade.id, TradeAnswer::Accept)
        .await
        .expect("accept");
    in_state(taker, &trade, "Accepted").await;
    taker.node.mark_paid(trade.id).await.expect("paid");
    in_state(maker, &trade, "PaymentSent").await;
    maker.node.mark_received(trade.id).await.expect("received");
    taker
        .await_trade(trade.id, "completed", |t| t.state == TradeState::Completed)
        .await;
    in_state(maker, &trade, "Completed").await
}

/// Waits until both parties hold the trade's receipt with both signatures.
async fn await_receipt(node: &TestNode, trade: &TradeInfo) {
    let mut events = node.node.trade_events();
    let wait = async {
        loop {
            if node
                .node
                .trade_receipt(trade.id)
                .await
                .ok()
                .flatten()
                .as_deref()
                == Some("signed by both parties")
            {
                return;
            }
            // The receipt is asked for and countersigned between the nodes: no event here says when.
            let _ = tokio::time::timeout(Duration::from_millis(500), events.recv()).await;
        }
    };
    if tokio::time::timeout(DEADLINE, wait).await.is_err() {
        panic!(
            "{}: the receipt of {} never got both signatures: {:?}",
            node.info.peer_id,
            trade.id,
            node.node.trade_receipt(trade.id).await
        );
    }
}

/// Reads `peer`'s reputation on `node` until `done` holds (the DHT takes a moment to hold every set).
async fn await_reputation(
    node: &TestNode,
    peer: &str,
    done: impl Fn(&Reputation) -> bool,
) -> Reputation {
    let deadline = tokio::time::Instant::now() + DEADLINE * 2;
    let mut events = node.node.trade_events();
    loop {
        let rep = node.node.reputation(peer).await.expect("reputation");
        if done(&rep) {
            return rep;
        }
        if tokio::time::Instant::now() > deadline {
            panic!(
                "{peer}'s reputation on {} never got there: {rep:#?}",
                node.info.peer_id
            );
        }
        let _ = tokio::time::timeout(Duration::from_secs(1), events.recv()).await;
    }
}

async fn rogue(bootstrap: &str, key: &Keypair) -> NetClient {
    let mut config = NetConfig::loopback_for_tests();
    config.bootstrap = vec![bootstrap.parse().expect("address")];
    let (net, _events) = Network::start(config, key.clone(), Arc::new(AcceptAll))
        .await
        .expect("rogue node");
    net.bootstrap().await.expect("bootstrap");
    net
}

fn key(k: &Keypair) -> Vec<u8> {
    k.public().encode_protobuf()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_third_node_verifies_a_makers_receipts_and_refuses_forged_ones() {
    let ground = ground().await;
    let maker = ground.party("maker").await;
    let t1 = ground.party("t1").await;
    let t2 = ground.party("t2").await;
    let t3 = ground.party("t3").await;
    let observer = ground.party("observer").await;
    let m = maker.info.peer_id.clone();
    // The maker chose a nickname: it is signed and published with its receipts.
    let mut prefs = maker.node.preferences().await.expect("preferences");
    prefs.nickname = "Ahmed's LTC".into();
    maker.node.save_preferences(prefs).await.expect("saved");
    let mut bad = maker.node.preferences().await.expect("preferences");
    bad.nickname = "x".repeat(25);
    let err = maker.node.save_preferences(bad).await.unwrap_err();
    assert!(err.to_string().contains("at most 24"), "{err}");

    let (e1, e2) = tokio::join!(
        escrow_trade(&ground, &maker, &t1),
        escrow_trade(&ground, &maker, &t2),
    );
    let plain = plain_trade(&maker, &t3).await;
    for (node, trade) in [
        (&maker, &e1),
        (&maker, &e2),
        (&maker, &plain),
        (&t1, &e1),
        (&t2, &e2),
        (&t3, &plain),
    ] {
        await_receipt(node, trade).await;
    }
    // Rating needs the countersigned receipt; a rating out of range is the user's mistake.
    let err = t1.node.rate_trade(e1.id, 6, "").await.unwrap_err();
    assert!(err.to_string().contains("1 to 5"), "{err}");
    t1.node
        .rate_trade(e1.id, 5, "fast and friendly")
        .await
        .expect("rate");

    let rep = await_reputation(&observer, &m, |r| {
        r.settled == 3 && r.with_escrow == 2 && r.ratings == 1
    })
    .await;
    assert_eq!(rep.counterparties, 3);
    assert_eq!(rep.nickname.as_deref(), Some("Ahmed's LTC"));
    assert_eq!((rep.disputes_opened, rep.disputes_lost), (0, 0));
    assert_eq!(rep.rating, Some(5.0));
    assert!(rep.refused.is_empty(), "{:?}", rep.refused);
    let mut cps: Vec<&str> = rep
        .receipts
        .iter()
        .map(|r| r.counterparty.as_str())
        .collect();
    cps.sort_unstable();
    let mut expected = vec![
        t1.info.peer_id.as_str(),
        t2.info.peer_id.as_str(),
        t3.info.peer_id.as_str(),
    ];
    expected.sort_unstable();
    assert_eq!(cps, expected, "exactly the maker's three trades");
    for r in &rep.receipts {
        assert_eq!(r.role, "maker");
        assert_eq!(r.outcome, "completed");
        let want = if r.counterparty == t3.info.peer_id {
            ReceiptCheck::NoEscrow
        } else {
            ReceiptCheck::Verified
        };
        assert_eq!(r.chain, want, "{r:?}");
    }
    assert_eq!(
        rep.receipts
            .iter()
            .filter_map(|r| r.rating_received.as_ref())
            .map(|r| r.comment.as_str())
            .collect::<Vec<_>>(),
        ["fast and friendly"]
    );

    // A rogue node reads the maker's genuine set and forges around it.
    let mallory = Keypair::generate_ed25519();
    let accomplice = Keypair::generate_ed25519();
    let net = rogue(&ground.boot.address(), &mallory).await;
    let maker_peer: libp2p::PeerId = m.parse().unwrap();
    let bytes = net
        .get_record(holder_key(&maker_peer))
        .await
        .expect("lookup")
        .expect("the maker's set is in the DHT");
    let (_, genuine) = SignedHolderSet::verify(&bytes, i64::MAX).expect("a genuine set");
    let real = genuine
        .receipts
        .iter()
        .find(|r| r.verify().is_ok_and(|v| v.body.escrow.is_some()))
        .expect("an escrow receipt")
        .clone();
    let real_body = ReceiptBody::decode(&real.body).unwrap();
    // 1. Only Mallory's half: a trade with the maker it never signed.
    let mut half = real_body.clone();
    half.trade = trade_hash(&uuid::Uuid::new_v4());
    half.taker_key = key(&mallory);
    let half_bytes = half.encode();
    let one_signature = Receipt {
        maker_signature: vec![],
        taker_signature: sign_body(&half_bytes, &mallory).unwrap(),
        body: half_bytes.clone(),
    };
    // 2. The wrong party: Mallory signs in the maker's place.
    let wrong_party = Receipt {
        maker_signature: sign_body(&half_bytes, &mallory).unwrap(),
        taker_signature: sign_body(&half_bytes, &mallory).unwrap(),
        body: half_bytes,
    };
    // 3. The maker's genuine receipt, replayed in Mallory's own set.
    let replayed = real.clone();
    // 4. Replayed for another maker: Mallory's key in the maker's place, the genuine signatures.
    let mut other = real_body.clone();
    other.maker_key = key(&mallory);
    let for_mallory = Receipt {
        body: other.encode(),
        ..real.clone()
    };
    // 5. Mallory and an accomplice sign a trade whose escrow the chain never saw.
    let unknown = ReceiptBody {
        trade: trade_hash(&uuid::Uuid::new_v4()),
        maker_key: key(&mallory),
        taker_key: key(&accomplice),
        escrow: Some(EscrowProof {
            funding: vec![TxAt {
                txid: bitcoin::Txid::from_byte_array([7; 32]).to_byte_array(),
                height: 101,
            }],
            ..real_body.escrow.clone().unwrap()
        }),
        outcome: Outcome::Completed,
        ..real_body
    };
    let unknown_bytes = unknown.encode();
    let unknown_txid = Receipt {
        maker_signature: sign_body(&unknown_bytes, &mallory).unwrap(),
        taker_signature: sign_body(&unknown_bytes, &accomplice).unwrap(),
        body: unknown_bytes,
    };
    let set = HolderSet {
        holder: mallory.public().to_peer_id().to_bytes(),
        nickname: String::new(),
        published_at: 1,
        receipts: vec![
            one_signature,
            wrong_party,
            replayed,
            for_mallory,
            unknown_txid,
        ],
        ratings: vec![],
    }
    .sign(&mallory)
    .expect("a set");
    let mallory_peer = mallory.public().to_peer_id();
    net.put_record(holder_key(&mallory_peer), set, Duration::from_secs(3600))
        .await
        .expect("stored");
    net.start_providing(subject_key(&maker_peer))
        .await
        .expect("provide");
    net.start_providing(subject_key(&mallory_peer))
        .await
        .expect("provide");

    let rep = await_reputation(&observer, &m, |r| r.refused.len() >= 4).await;
    assert_eq!(
        (rep.settled, rep.with_escrow),
        (3, 2),
        "forgeries add nothing: {rep:#?}"
    );
    let reasons: Vec<&str> = rep.refused.iter().map(|r| r.reason.as_str()).collect();
    // Everything in the set of a peer claiming to hold receipts about the maker counts: the three
    // forgeries naming the maker and the one replayed under Mallory's key.
    assert_eq!(reasons.len(), 4, "{reasons:?}");
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("signed by one party only")),
        "{reasons:?}"
    );
    assert_eq!(
        reasons
            .iter()
            .filter(|r| r.contains("the maker's signature"))
            .count(),
        2,
        "{reasons:?}"
    );
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("who is not a party to it")),
        "{reasons:?}"
    );
    assert!(
        rep.refused
            .iter()
            .all(|r| r.holder == mallory_peer.to_string())
    );

    // Mallory's own reputation: nothing holds.
    let rep = await_reputation(&observer, &mallory_peer.to_string(), |r| {
        r.refused.len() >= 2
    })
    .await;
    assert_eq!(rep.settled, 0, "{rep:#?}");
    let reasons: Vec<&str> = rep.refused.iter().map(|r| r.reason.as_str()).collect();
    assert!(
        reasons.iter().any(|r| r.contains("is not in block 101")),
        "the chain refuses a txid it never saw: {reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.contains("the maker's signature")),
        "{reasons:?}"
    );

    // The CLI-facing errors: a bad peer id says so.
    let err = observer.node.reputation("not-a-peer").await.unwrap_err();
    assert!(err.to_string().contains("is not a peer id"), "{err}");

    net.shutdown().await;
    for node in [maker, t1, t2, t3, observer, ground.arbitrator, ground.boot] {
        node.stop().await;
    }
}
