//! A maker whose node restarts puts its live offers back on the network, and a restarted node shows
//! its book from its cache at once, before the network has said anything.

use souk_core::book::BookQuery;
use souk_tests::{TestNet, TestNode, sell_offer};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_restarted_maker_reannounces_its_live_offers() {
    let mut net = TestNet::start(2).await;
    let maker = net.nodes.remove(1);
    let offer = maker
        .node
        .post_offer(sell_offer(60_000))
        .await
        .expect("post");
    net.nodes[0]
        .await_book("the offer", |b| b.iter().any(|e| e.offer.id == offer.id))
        .await;
    let maker_dir = maker.stop().await;

    // A node that never heard of the offer joins while the maker is away.
    let bystander_addr = net.nodes[0].address();
    let bystander = net.join("bystander").await;
    assert!(!bystander.has_offer(offer.id).await);

    // The maker comes back: its book is there at once, from SQLite...
    let cached = souk_tests::node(&maker_dir);
    cached.unlock(souk_tests::PASSPHRASE).await.expect("unlock");
    let from_cache = cached
        .offers(&BookQuery::default())
        .await
        .expect("book from cache");
    assert!(
        from_cache.iter().any(|e| e.offer.id == offer.id && e.mine),
        "the cached book is empty"
    );
    cached.shutdown().await;

    // ...and once its network is up, it announces the offer again, so the bystander learns it.
    let maker = TestNode::start(maker_dir, &[bystander_addr]).await;
    net.nodes[1]
        .await_book("the re-announced offer", |b| {
            b.iter().any(|e| e.offer.id == offer.id)
        })
        .await;
    maker.stop().await;
    net.shutdown().await;
}
