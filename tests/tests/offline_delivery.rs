//! Messages to a peer that is offline wait in the sender's outbox, survive the sender's restart too, and
//! arrive exactly once and in order when the peer comes back (at a new address, found through the DHT).

use souk_core::{
    offer::PaymentMethod,
    trading::{TradeAnswer, TradeState},
};
use souk_tests::{TestNet, TestNode, sell_offer};

const MESSAGES: usize = 10;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn messages_wait_for_an_offline_peer_across_restarts() {
    let mut net = TestNet::start(1).await;
    let bootstrap = vec![net.nodes[0].address()];
    let maker = TestNode::start(net.dir.path("maker"), &bootstrap).await;
    let taker = TestNode::start(net.dir.path("taker"), &bootstrap).await;
    let offer = maker
        .node
        .post_offer(sell_offer(60_000))
        .await
        .expect("post");
    taker.await_offer(offer.id).await;
    let trade = taker
        .node
        .take_offer(
            offer.id,
            5_000_000,
            PaymentMethod::new("SEPA").unwrap(),
            String::new(),
        )
        .await
        .expect("take");
    maker
        .node
        .answer_trade(trade.id, TradeAnswer::Accept)
        .await
        .expect("accept");
    taker
        .await_trade(trade.id, "the accept", |t| t.state == TradeState::Accepted)
        .await;

    // The recipient goes away; the sender writes, then restarts too.
    let taker_dir = taker.stop().await;
    for i in 0..MESSAGES {
        maker
            .node
            .send_chat(trade.id, format!("message {i}"))
            .await
            .expect("send while the peer is offline");
    }
    let pending = maker.node.chat_log(trade.id).await.unwrap();
    assert_eq!(pending.len(), MESSAGES);
    assert!(
        pending.iter().all(|m| m.delivered_at.is_none()),
        "delivered to a stopped node?"
    );
    let maker_dir = maker.stop().await;
    let maker = TestNode::start(maker_dir, &bootstrap).await;
    assert_eq!(maker.node.chat_log(trade.id).await.unwrap().len(), MESSAGES);

    // The recipient comes back, at a new port: every message arrives once, in order.
    let taker = TestNode::start(taker_dir, &bootstrap).await;
    let log = taker
        .await_chat(trade.id, "the offline messages", |log| {
            log.len() >= MESSAGES
        })
        .await;
    let got: Vec<&str> = log.iter().map(|m| m.body.as_str()).collect();
    let expected: Vec<String> = (0..MESSAGES).map(|i| format!("message {i}")).collect();
    assert_eq!(got, expected);
    maker
        .await_chat(trade.id, "delivery receipts", |log| {
            log.iter().all(|m| m.delivered_at.is_some())
        })
        .await;
    // Nothing arrives twice, even after everything settled.
    assert_eq!(taker.node.chat_log(trade.id).await.unwrap().len(), MESSAGES);

    maker.stop().await;
    taker.stop().await;
    net.nodes.pop().unwrap().stop().await;
}
