//! A node that starts after offers were posted finds them: it asks the market's makers directly.

use std::time::Duration;

use souk_core::net::{DhtMode, NetConfig};
use souk_tests::{BTC_EUR, TestDir, TestNet, TestNode, sell_offer};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_node_started_later_finds_existing_offers() {
    let mut net = TestNet::start(20).await;
    let first = net.nodes[1]
        .node
        .post_offer(sell_offer(59_000))
        .await
        .expect("post");
    let second = net.nodes[2]
        .node
        .post_offer(sell_offer(61_000))
        .await
        .expect("post");
    // Let the offers settle in the network before the newcomer arrives.
    for id in [first.id, second.id] {
        net.nodes[3]
            .await_book("the offers", |b| b.iter().any(|e| e.offer.id == id))
            .await;
    }

    let late = net.join("late").await;
    late.node
        .refresh_market(BTC_EUR.0, BTC_EUR.1)
        .await
        .expect("refresh");
    late.await_book("both offers", |b| {
        [first.id, second.id]
            .iter()
            .all(|id| b.iter().any(|e| e.offer.id == *id))
    })
    .await;
    let book = late.book().await;
    assert_eq!(book[0].offer.id, first.id, "cheapest sell offer first");
    assert!(book.iter().all(|e| !e.mine));
    net.shutdown().await;
}

/// No refresh at all: a node that connects to a maker watching the same market learns of its
/// subscription and asks it for its offers, so what was published before it arrived reaches it anyway.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_node_meeting_a_maker_in_its_market_gets_its_offers_unasked() {
    let mut net = TestNet::start(1).await;
    let offer = net.nodes[0]
        .node
        .post_offer(sell_offer(60_500))
        .await
        .expect("post");
    let late = net.join("late").await;
    late.await_book("the maker's earlier offer", |b| {
        b.iter().any(|e| e.offer.id == offer.id)
    })
    .await;
    net.shutdown().await;
}

/// An offer whose gossip never reached a node (here: it takes no gossip message that large and keeps
/// no DHT records for others, so neither push can bring it) still reaches it: the core asks the
/// market's makers again every `market_refresh`, the desktop and the headless node alike.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_offer_whose_gossip_was_missed_arrives_with_the_next_refresh() {
    let dir = TestDir::new();
    let (maker, deaf) = maker_and_listener(&dir, |config| {
        config.max_gossip_bytes = 256;
        config.market_refresh = Duration::from_millis(300);
    })
    .await;
    let after = maker
        .node
        .post_offer(sell_offer(60_250))
        .await
        .expect("post");
    deaf.await_book("the offer whose gossip it dropped", |b| {
        b.iter().any(|e| e.offer.id == after.id)
    })
    .await;
    deaf.stop().await;
    maker.stop().await;
}

/// A node whose book falls behind the network's events (here: room for one event at a time, so a
/// burst of offers overflows it) loses those events, not the offers: it asks the makers again at
/// once, not at the next refresh (an hour away here).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn offers_lost_when_the_book_fell_behind_arrive_at_once() {
    let dir = TestDir::new();
    let (maker, slow) = maker_and_listener(&dir, |config| {
        config.event_buffer = 1;
        config.market_refresh = Duration::from_secs(3600);
    })
    .await;
    let burst = futures::future::join_all(
        (0..40u32).map(|i| maker.node.post_offer(sell_offer(60_001 + i))),
    )
    .await;
    let ids: Vec<_> = burst.into_iter().map(|o| o.expect("post").id).collect();
    slow.await_book("every offer of the burst", |b| {
        ids.iter().all(|id| b.iter().any(|e| e.offer.id == *id))
    })
    .await;
    assert!(
        slow.node.market_fell_behind().await.expect("market") > 0,
        "the burst did not overflow the node's events: this test shows nothing"
    );
    slow.stop().await;
    maker.stop().await;
}

/// A maker with one offer, and a DHT client that joined through it (set up by `adjust`) and, on
/// meeting the maker in the market, asked it once for its offers: the offer is in its book.
async fn maker_and_listener(
    dir: &TestDir,
    adjust: impl FnOnce(&mut NetConfig),
) -> (TestNode, TestNode) {
    let maker = TestNode::start(dir.path("maker"), &[]).await;
    let before = maker
        .node
        .post_offer(sell_offer(60_000))
        .await
        .expect("post");
    let mut config = NetConfig::loopback_for_tests();
    config.bootstrap = vec![maker.address().parse().expect("multiaddr")];
    config.dht_mode = DhtMode::Client;
    adjust(&mut config);
    let listener = TestNode::start_with(dir.path("listener"), config).await;
    listener
        .await_book("the offer posted before it came", |b| {
            b.iter().any(|e| e.offer.id == before.id)
        })
        .await;
    (maker, listener)
}
