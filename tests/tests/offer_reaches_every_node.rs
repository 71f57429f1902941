//! The heart of the marketplace: an offer posted on one of 20 nodes reaches every other node's book,
//! and its withdrawal takes it out of every book.

use souk_tests::{TestNet, sell_offer};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn offer_and_withdrawal_reach_all_twenty_nodes() {
    let net = TestNet::start(20).await;
    let maker = &net.nodes[7];
    let offer = maker
        .node
        .post_offer(sell_offer(60_000))
        .await
        .expect("post");
    assert!(
        maker.has_offer(offer.id).await,
        "the maker's own book shows its offer"
    );

    let arrived = net.nodes.iter().map(|n| {
        n.await_book("the offer", |book| {
            book.iter().any(|e| e.offer.id == offer.id)
        })
    });
    futures::future::join_all(arrived).await;
    for n in &net.nodes {
        let entry = n
            .book()
            .await
            .into_iter()
            .find(|e| e.offer.id == offer.id)
            .expect("in every book");
        assert_eq!(
            entry.offer, offer,
            "every node sees exactly what the maker signed"
        );
        assert_eq!(entry.mine, n.info.peer_id == maker.info.peer_id);
    }

    maker.node.withdraw_offer(offer.id).await.expect("withdraw");
    let gone = net.nodes.iter().map(|n| {
        n.await_book("the withdrawal", |book| {
            book.iter().all(|e| e.offer.id != offer.id)
        })
    });
    futures::future::join_all(gone).await;
    net.shutdown().await;
}
