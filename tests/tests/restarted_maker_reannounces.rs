//! A maker whose node restarts puts its live offers back on the network, and a restarted node shows
//! its book from its cache at once, before the network has said anything.

use souk_core::book::BookQuery;
use souk_tests::{TestDir, TestNet, TestNode, sell_offer};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_restarted_maker_reannounces_its_live_offers() {
    // The maker posts while on its own (say, the network lost its records while it was away): no other
    // node can know the offer except through the maker announcing it again after its restart.
    let maker_home = TestDir::new();
    let alone = TestNode::start(maker_home.path("maker"), &[]).await;
    let offer = alone
        .node
        .post_offer(sell_offer(60_000))
        .await
        .expect("post");
    let maker_dir = alone.stop().await;

    // Back from a restart, its book is there at once, from SQLite, with the network still down...
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

    // ...and once its network is up, it announces the offer again: all twenty nodes learn it.
    let net = TestNet::start(20).await;
    assert!(!net.nodes[0].has_offer(offer.id).await);
    let maker = TestNode::start(maker_dir, &[net.nodes[0].address()]).await;
    let learned = net.nodes.iter().map(|n| {
        n.await_book("the re-announced offer", |b| {
            b.iter().any(|e| e.offer.id == offer.id)
        })
    });
    futures::future::join_all(learned).await;
    maker.stop().await;
    net.shutdown().await;
}
