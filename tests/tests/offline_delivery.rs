//! Messages to a peer that is offline wait in the sender's outbox, survive the sender's restart too, and
//! arrive exactly once and in order when the peer comes back (at a new address, found through the DHT).

use souk_core::{
    offer::PaymentMethod,
    trading::{TradeAnswer, TradeState},
};
use souk_tests::{TestNet, TestNode, sell_offer};

const MESSAGES: usize = 10;

/// A trade `taker` opened on an offer of `maker`'s, accepted by the maker.
async fn accepted_trade(maker: &TestNode, taker: &TestNode) -> souk_core::trading::TradeInfo {
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
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn messages_wait_for_an_offline_peer_across_restarts() {
    let mut net = TestNet::start(1).await;
    let bootstrap = vec![net.nodes[0].address()];
    let maker = TestNode::start(net.dir.path("maker"), &bootstrap).await;
    let taker = TestNode::start(net.dir.path("taker"), &bootstrap).await;
    let trade = accepted_trade(&maker, &taker).await;

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

/// The outbox hears of a peer that comes back: what waits for it goes at once, not at its next retry
/// (here an hour away).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_peer_that_comes_back_gets_what_waits_at_once() {
    let mut net = TestNet::start(1).await;
    let bootstrap = vec![net.nodes[0].address()];
    let patient = souk_core::trading::TradeConfig {
        max_retry: std::time::Duration::from_secs(3_600),
        ..souk_tests::test_trades()
    };
    let maker = TestNode::start_trading(net.dir.path("maker"), &bootstrap, patient).await;
    let taker = TestNode::start(net.dir.path("taker"), &bootstrap).await;
    let trade = accepted_trade(&maker, &taker).await;

    let taker_dir = taker.stop().await;
    maker
        .node
        .send_chat(trade.id, "while you were away".into())
        .await
        .unwrap();
    // Its next attempt is an hour away, as after many failed ones (once the first attempt failed:
    // none is under way when the peer comes back).
    let db = sqlx::SqlitePool::connect(&format!(
        "sqlite://{}",
        maker.data_dir.join(souk_core::store::FILE_NAME).display()
    ))
    .await
    .unwrap();
    let tried = async {
        loop {
            let attempts: Option<i64> = sqlx::query_scalar(
                "SELECT MAX(attempts) FROM outbox WHERE delivered_at IS NULL AND trade_id = ?",
            )
            .bind(trade.id.to_string())
            .fetch_one(&db)
            .await
            .unwrap();
            if attempts.is_some_and(|a| a > 0) {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(souk_tests::DEADLINE, tried)
        .await
        .expect("the maker never tried to deliver");
    let later = souk_core::store::now_ms() + 3_600_000;
    let postponed = sqlx::query(
        "UPDATE outbox SET attempts = 12, next_attempt = ? WHERE delivered_at IS NULL AND trade_id = ?",
    )
    .bind(later)
    .bind(trade.id.to_string())
    .execute(&db)
    .await
    .unwrap()
    .rows_affected();
    assert!(postponed >= 1, "nothing waited in the outbox");
    db.close().await;

    let taker = TestNode::start(taker_dir, &bootstrap).await;
    let log = taker
        .await_chat(trade.id, "the waiting message", |log| !log.is_empty())
        .await;
    assert_eq!(log[0].body, "while you were away");

    maker.stop().await;
    taker.stop().await;
    net.nodes.pop().unwrap().stop().await;
}
