//! Offers are pushed, never left for the next gossip round. The network here is what strangers on
//! the internet build: one hub (a bootstrap node serving the DHT) and nodes that reach nobody but
//! the hub (DHT clients, no mDNS). Gossip heartbeats are an hour apart, so nothing can arrive by the
//! heartbeat's lazy IHAVE/IWANT path or by mesh upkeep: only an eager push gets an offer anywhere.
//!
//! A node joins, and as soon as the hub has it in its mesh (no refresh, nothing asked), an offer
//! posted on another leaf reaches it and every other node, and so does its withdrawal.

use std::time::Duration;

use souk_core::net::{DhtMode, NetConfig};
use souk_tests::{DEADLINE, TestDir, TestNode, sell_offer};

/// More leaves than gossipsub's default mesh bound (12), so a hub that forwarded only to a default
/// mesh would leave some of them waiting for a heartbeat.
const LEAVES: usize = 15;

fn config(bootstrap: Option<&str>) -> NetConfig {
    let mut config = NetConfig::loopback_for_tests();
    config.gossip_heartbeat = Duration::from_secs(3600);
    if let Some(hub) = bootstrap {
        config.dht_mode = DhtMode::Client;
        config.bootstrap = vec![hub.parse().expect("multiaddr")];
    }
    config
}

/// Waits until the hub's gossip mesh holds `peers` peers (it pushes every message to them at once).
async fn await_hub_mesh(hub: &TestNode, peers: usize) {
    let wait = async {
        let mut tick = tokio::time::interval(Duration::from_millis(20));
        loop {
            tick.tick().await;
            if hub.net_stats().await.gossip_mesh_peers >= peers {
                return;
            }
        }
    };
    if tokio::time::timeout(DEADLINE, wait).await.is_err() {
        panic!(
            "the hub's mesh never held {peers} peers: {:?}",
            hub.net_stats().await
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_offer_reaches_a_node_that_just_joined_without_waiting_for_a_heartbeat() {
    let dir = TestDir::new();
    let hub = TestNode::start_with(dir.path("hub"), config(None)).await;
    let hub_addr = hub.address();
    let leaves = (0..LEAVES)
        .map(|i| TestNode::start_with(dir.path(&format!("leaf-{i}")), config(Some(&hub_addr))));
    let mut nodes = futures::future::join_all(leaves).await;
    await_hub_mesh(&hub, LEAVES).await;
    for leaf in &nodes {
        assert_eq!(
            leaf.net_stats().await.connected_peers,
            1,
            "a leaf reaches only the hub"
        );
    }

    let newcomer = TestNode::start_with(dir.path("newcomer"), config(Some(&hub_addr))).await;
    await_hub_mesh(&hub, LEAVES + 1).await;
    nodes.push(newcomer);

    let maker = &nodes[3];
    let offer = maker
        .node
        .post_offer(sell_offer(60_000))
        .await
        .expect("post");
    let everyone = nodes.iter().chain(std::iter::once(&hub));
    futures::future::join_all(everyone.clone().map(|n| {
        n.await_book("the offer", |book| {
            book.iter().any(|e| e.offer.id == offer.id)
        })
    }))
    .await;
    let newcomer = nodes.last().expect("the newcomer");
    assert_eq!(
        newcomer.book().await[0].offer,
        offer,
        "the newcomer holds exactly what the maker signed"
    );

    maker.node.withdraw_offer(offer.id).await.expect("withdraw");
    futures::future::join_all(everyone.map(|n| {
        n.await_book("the withdrawal", |book| {
            book.iter().all(|e| e.offer.id != offer.id)
        })
    }))
    .await;

    futures::future::join_all(nodes.into_iter().chain([hub]).map(TestNode::stop)).await;
}
