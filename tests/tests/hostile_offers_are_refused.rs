//! A hostile peer pushes forged, malformed, expired and oversized offers into the DHT and the gossip
//! mesh, and floods records beyond its quota. Honest nodes refuse each: nothing reaches a book, nothing
//! is forwarded, and the refusals are counted.

use std::{sync::Arc, time::Duration};

use libp2p::identity::Keypair;
use souk_core::{
    net::{AcceptAll, NetClient, NetConfig, NetEvent, Network},
    offer::{MarketUpdate, OFFER_SIGNING_TAG, Offer, SignedOffer, market_topic, record_key},
    store::now_ms,
};
use souk_tests::{BTC_EUR, DEADLINE, TestNet, sell_offer};
use tokio::sync::broadcast::{self, error::TryRecvError};
use uuid::Uuid;

const DAY: i64 = 24 * 3_600_000;

fn signed(offer: &Offer, key: &Keypair) -> SignedOffer {
    SignedOffer::sign(offer, key).expect("valid offer")
}

fn update(s: SignedOffer) -> Vec<u8> {
    MarketUpdate::Offer(s).to_bytes()
}

/// A raw network node that stores and forwards anything (no filter), joined to node 0, with its
/// events since it started.
async fn attacker_with_events(
    net: &TestNet,
    key: &Keypair,
) -> (NetClient, broadcast::Receiver<NetEvent>) {
    let mut config = NetConfig::loopback_for_tests();
    config.bootstrap = vec![net.nodes[0].address().parse().expect("address")];
    let (attacker, events) = Network::start(config, key.clone(), Arc::new(AcceptAll))
        .await
        .expect("attacker");
    attacker.bootstrap().await.expect("bootstrap");
    (attacker, events)
}

async fn attacker(net: &TestNet, key: &Keypair) -> NetClient {
    attacker_with_events(net, key).await.0
}

/// Waits until `peer` told the attacker it follows `topic`: from then on, what the attacker publishes
/// on it goes to `peer`.
async fn await_follower(events: &mut broadcast::Receiver<NetEvent>, peer: &str, topic: &str) {
    let wait = async {
        loop {
            match events.recv().await {
                Ok(NetEvent::TopicJoined { peer: p, topic: t })
                    if p.to_base58() == peer && t == topic =>
                {
                    return;
                }
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(e) => panic!("the attacker's events: {e}"),
            }
        }
    };
    tokio::time::timeout(DEADLINE, wait)
        .await
        .unwrap_or_else(|_| panic!("{peer} never told the attacker it follows {topic}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn forged_and_malformed_offers_never_reach_a_book() {
    let net = TestNet::start(3).await;
    let mut events = Vec::new();
    for n in &net.nodes {
        events.push(n.node.network_events().await.expect("events"));
    }
    let mallory = Keypair::generate_ed25519();
    let alice = Keypair::generate_ed25519();
    let (attacker, mut attacker_events) = attacker_with_events(&net, &mallory).await;
    let topic = market_topic(BTC_EUR.0, BTC_EUR.1);
    attacker.subscribe(&topic).await.expect("subscribe");
    await_follower(&mut attacker_events, &net.nodes[0].info.peer_id, &topic).await;
    let now = now_ms();
    let me = mallory.public().to_peer_id();

    let mut bad: Vec<(&str, Uuid, Vec<u8>, Vec<u8>)> = Vec::new(); // (what, id, record key, bytes)
    let good = Offer::new(me, sell_offer(60_000), now).expect("offer");

    let mut flipped = signed(&good, &mallory);
    flipped.signature[0] ^= 1;
    bad.push((
        "bad signature",
        good.id,
        record_key(&good.id).to_vec(),
        update(flipped),
    ));

    // Alice's name on the offer, Mallory's key and signature under it.
    let framed = Offer::new(alice.public().to_peer_id(), sell_offer(1), now).expect("offer");
    let mut as_alice = signed(
        &Offer {
            maker: me,
            ..framed.clone()
        },
        &mallory,
    );
    as_alice.offer_bytes = signed(&framed, &alice).offer_bytes;
    as_alice.signature = mallory
        .sign(&[OFFER_SIGNING_TAG, &as_alice.offer_bytes].concat())
        .expect("sign");
    bad.push((
        "signed by another key than its maker",
        framed.id,
        record_key(&framed.id).to_vec(),
        update(as_alice),
    ));

    let stale = Offer::new(me, sell_offer(62_000), now - 2 * DAY).expect("offer");
    bad.push((
        "expired",
        stale.id,
        record_key(&stale.id).to_vec(),
        update(signed(&stale, &mallory)),
    ));

    let junk_id = Uuid::now_v7();
    bad.push((
        "malformed",
        junk_id,
        record_key(&junk_id).to_vec(),
        b"\x00\x05not an offer at all".to_vec(),
    ));
    bad.push((
        "oversized",
        junk_id,
        record_key(&junk_id).to_vec(),
        vec![0u8; 9 * 1024],
    ));

    // Each hostile case goes both ways: as a DHT record and as a gossip message.
    for (_, _, key, bytes) in &bad {
        let _ = attacker
            .put_record(key.clone(), bytes.clone(), Duration::from_secs(3600))
            .await;
        let _ = attacker.publish(&topic, bytes.clone()).await;
    }
    // A valid offer stored under another offer's key: hostile only as a record (gossip has no key).
    let other = Offer::new(me, sell_offer(61_000), now).expect("offer");
    let misfiled = update(signed(&other, &mallory));
    let _ = attacker
        .put_record(
            record_key(&good.id).to_vec(),
            misfiled,
            Duration::from_secs(3600),
        )
        .await;
    bad.push((
        "id not matching the record key",
        other.id,
        Vec::new(),
        Vec::new(),
    ));
    // A valid offer from the same peer, sent last, marks the moment everything before it was judged.
    let sentinel_offer = Offer::new(me, sell_offer(59_000), now).expect("offer");
    let sentinel = signed(&sentinel_offer, &mallory);
    attacker
        .put_record(
            sentinel_offer.record_key().to_vec(),
            update(sentinel.clone()),
            Duration::from_secs(3600),
        )
        .await
        .expect("put");
    attacker
        .publish(&topic, update(sentinel))
        .await
        .expect("publish");
    for n in &net.nodes {
        n.await_book("the valid sentinel offer", |b| {
            b.iter().any(|e| e.offer.id == sentinel_offer.id)
        })
        .await;
    }

    let mut refused = 0;
    let me = me.to_base58();
    let gossiped = bad
        .iter()
        .filter(|(_, _, _, bytes)| !bytes.is_empty())
        .count();
    for (i, (n, events)) in net.nodes.iter().zip(&mut events).enumerate() {
        // Each node's refusals name the attacker, and a refused gossip message came straight from
        // it: no honest node forwarded one (gossip waits for the filter's verdict before passing a
        // message on).
        let mut gossip_refusals = 0;
        loop {
            match events.try_recv() {
                Ok(NetEvent::Refused { from, reason }) => {
                    assert_eq!(from, mallory.public().to_peer_id(), "node {i}: {reason}");
                    if reason.starts_with("gossip") {
                        assert!(
                            reason.contains(&format!(" via {me}: ")),
                            "node {i} got a hostile message forwarded: {reason}"
                        );
                        gossip_refusals += 1;
                    }
                }
                Ok(_) => {}
                Err(TryRecvError::Empty) => break,
                Err(e) => panic!("node {i}'s events: {e}"),
            }
        }
        let stats = n.net_stats().await;
        assert_eq!(stats.gossip_refused, gossip_refusals, "node {i}");
        // The node the attacker joined through has it in its mesh: it judged every hostile message.
        if i == 0 {
            assert!(
                gossip_refusals >= gossiped as u64,
                "node 0 refused {gossip_refusals} of the {gossiped} hostile gossip messages"
            );
        }
        let book = n.book().await;
        for (what, id, _, _) in &bad {
            assert!(
                book.iter().all(|e| e.offer.id != *id),
                "{what} reached a book"
            );
        }
        assert!(
            book.iter()
                .all(|e| e.offer.maker != alice.public().to_peer_id()),
            "the framed offer reached a book"
        );
        assert_eq!(book.len(), 1, "only the sentinel: {book:?}");
        refused += stats.records_refused + stats.gossip_refused + stats.quota_refused;
    }
    assert!(
        refused >= bad.len() as u64,
        "refusals were not counted: {refused}"
    );
    attacker.shutdown().await;
    net.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_flood_of_valid_records_stops_at_the_per_peer_quota() {
    let net = TestNet::start(1).await;
    let mallory = Keypair::generate_ed25519();
    let attacker = attacker(&net, &mallory).await;
    let quota = NetConfig::default().max_records_per_peer;
    let now = now_ms();
    for i in 0..quota + 20 {
        let offer = Offer::new(
            mallory.public().to_peer_id(),
            sell_offer(50_000 + i as u32),
            now,
        )
        .expect("offer");
        let bytes = update(signed(&offer, &mallory));
        attacker
            .put_record(
                offer.record_key().to_vec(),
                bytes,
                Duration::from_secs(3600),
            )
            .await
            .expect("put");
    }
    let stats = net.nodes[0].net_stats().await;
    assert!(
        stats.quota_refused >= 20,
        "the flood was not cut off: {stats:?}"
    );
    assert!(
        net.nodes[0].book().await.len() <= quota,
        "more than the quota reached the book"
    );
    attacker.shutdown().await;
    net.shutdown().await;
}

/// Gossip peer scoring: a peer that keeps sending offers the book refuses is soon ignored altogether
/// (graylisted) by the nodes it sends them to, while the honest peers around keep their standing.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_peer_that_keeps_sending_refused_gossip_is_ignored() {
    let net = TestNet::start(3).await;
    let mallory = Keypair::generate_ed25519();
    let attacker = attacker(&net, &mallory).await;
    let topic = market_topic(BTC_EUR.0, BTC_EUR.1);
    attacker.subscribe(&topic).await.expect("subscribe");
    // The attacker is in node 0's mesh once node 0 learnt of its subscription: an honest offer
    // published by it now (the sentinel) is taken, so the bad ones below reach node 0 too.
    let now = now_ms();
    let sentinel =
        Offer::new(mallory.public().to_peer_id(), sell_offer(59_000), now).expect("offer");
    let sentinel_bytes = update(signed(&sentinel, &mallory));
    let delivered = async {
        loop {
            let _ = attacker.publish(&topic, sentinel_bytes.clone()).await;
            if net.nodes[0].has_offer(sentinel.id).await {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    tokio::time::timeout(souk_tests::DEADLINE, delivered)
        .await
        .expect("the attacker's honest offer reached node 0");
    for node in &net.nodes {
        assert_eq!(node.net_stats().await.gossip_graylisted, 0);
    }

    for i in 0..30 {
        let offer =
            Offer::new(mallory.public().to_peer_id(), sell_offer(60_000 + i), now).expect("offer");
        let mut forged = signed(&offer, &mallory);
        forged.signature[0] ^= 1;
        attacker
            .publish(&topic, update(forged))
            .await
            .expect("publish");
    }
    let ignored = async {
        loop {
            if net.nodes[0].net_stats().await.gossip_graylisted == 1 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(souk_tests::DEADLINE, ignored)
        .await
        .expect("node 0 graylisted the attacker");
    let refused = net.nodes[0].net_stats().await.gossip_refused;
    assert!(
        refused < 30,
        "every forged message was still looked at: {refused}"
    );
    // Honest peers keep their standing everywhere.
    for node in &net.nodes[1..] {
        assert!(node.net_stats().await.gossip_graylisted <= 1);
    }
    attacker.shutdown().await;
    net.shutdown().await;
}
