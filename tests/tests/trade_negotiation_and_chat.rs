//! Two real nodes negotiate a trade over their encrypted channel — take, counter, accept — then chat
//! twenty messages each way at once; both sides end with the same log, in the same order, every message
//! delivered once and read receipts back at the sender.

use std::time::Duration;

use rust_decimal::Decimal;
use souk_core::{
    offer::{PaymentMethod, Price},
    trading::{ChatMessage, TradeAnswer, TradeConfig, TradeRole, TradeState},
};
use souk_tests::{BTC_EUR, TestDir, TestNet, TestNode, sell_offer, test_trades};

const EACH_WAY: usize = 20;

async fn send(node: &souk_core::node::Node, id: uuid::Uuid, who: &str) {
    for i in 0..EACH_WAY {
        node.send_chat(id, format!("{who} says <b>{i}</b>"))
            .await
            .expect("send");
    }
}

fn bodies(log: &[ChatMessage]) -> Vec<(String, String, u64)> {
    log.iter()
        .map(|m| (m.sender.clone(), m.body.clone(), m.seq))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn take_counter_accept_then_chat_both_ways() {
    let net = TestNet::start(3).await;
    let (maker, taker) = (&net.nodes[1], &net.nodes[2]);
    let offer = maker
        .node
        .post_offer(sell_offer(60_000))
        .await
        .expect("post");
    taker.await_offer(offer.id).await;

    let sepa = PaymentMethod::new("SEPA").unwrap();
    let trade = taker
        .node
        .take_offer(offer.id, 5_000_000, sepa, "IBAN DE00 1234".into())
        .await
        .expect("take");
    assert_eq!(
        (trade.role, trade.state.as_str()),
        (TradeRole::Taker, "Requested")
    );
    assert_eq!(trade.waiting_for, Some(TradeRole::Maker));

    // The maker has the same trade at once (the take is answered synchronously)...
    let seen = maker
        .node
        .trade(trade.id)
        .await
        .expect("the maker knows the trade");
    assert_eq!(seen.role, TradeRole::Maker);
    assert_eq!(seen.terms, trade.terms);
    assert_eq!(seen.counterparty, taker.info.peer_id);

    // ...counters with another amount and price...
    let counter = TradeAnswer::Counter {
        amount: Some(2_000_000),
        price: Some(Decimal::from(61_000)),
    };
    maker
        .node
        .answer_trade(trade.id, counter)
        .await
        .expect("counter");
    let countered = taker
        .await_trade(trade.id, "the counter", |t| {
            t.state == TradeState::Countered
        })
        .await;
    assert_eq!(countered.terms.amount, 2_000_000);
    assert_eq!(countered.terms.price, Price::Fixed(Decimal::from(61_000)));
    assert_eq!(countered.waiting_for, Some(TradeRole::Taker));

    // ...the maker cannot answer its own counter; the taker accepts it.
    let err = maker
        .node
        .answer_trade(trade.id, TradeAnswer::Accept)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("not the maker's turn"), "{err}");
    taker
        .node
        .answer_trade(trade.id, TradeAnswer::Accept)
        .await
        .expect("accept");
    let agreed = maker
        .await_trade(trade.id, "the accept", |t| t.state == TradeState::Accepted)
        .await;
    assert_eq!(agreed.terms.amount, 2_000_000);
    // No escrow on this offer: the buyer (the taker of a sell offer) pays next.
    assert_eq!(agreed.waiting_for, Some(TradeRole::Taker));
    assert!(agreed.escrow.is_none());
    // The signed steps, each with when it happened, as the maker recorded them: the taker's request,
    // its own counter, the taker's accept.
    let steps: Vec<(&str, bool)> = agreed
        .steps
        .iter()
        .map(|s| (s.kind.as_str(), s.mine))
        .collect();
    assert_eq!(
        steps,
        [
            ("take_request", false),
            ("counter", true),
            ("accept", false)
        ]
    );
    assert!(
        agreed.steps.windows(2).all(|w| w[0].at <= w[1].at)
            && agreed.steps[0].at >= agreed.created_at
            && agreed.steps[2].at <= agreed.updated_at,
        "{:?}",
        agreed.steps
    );

    // Twenty messages each way, sent at the same time from both sides.
    futures::join!(
        send(&maker.node, trade.id, "maker"),
        send(&taker.node, trade.id, "taker")
    );
    let all_in = |log: &[ChatMessage]| {
        log.len() == 2 * EACH_WAY && log.iter().all(|m| m.delivered_at.is_some())
    };
    let maker_log = maker.await_chat(trade.id, "all messages", all_in).await;
    let taker_log = taker.await_chat(trade.id, "all messages", all_in).await;
    // The same messages on both sides, each log in its own node's order: its own lines when sent,
    // the counterparty's when they arrived (a peer's clock cannot reorder a transcript).
    let (mut m, mut t) = (bodies(&maker_log), bodies(&taker_log));
    m.sort();
    t.sort();
    assert_eq!(m, t, "the two logs hold different messages");
    for log in [&maker_log, &taker_log] {
        let placed: Vec<i64> = log
            .iter()
            .map(|m| {
                if m.outgoing {
                    m.sent_at
                } else {
                    m.delivered_at.unwrap()
                }
            })
            .collect();
        assert!(placed.windows(2).all(|w| w[0] <= w[1]), "{placed:?}");
    }
    for (who, log) in [("maker", &maker_log), ("taker", &taker_log)] {
        let mine: Vec<&str> = log
            .iter()
            .filter(|m| m.body.starts_with(who))
            .map(|m| m.body.as_str())
            .collect();
        let expected: Vec<String> = (0..EACH_WAY)
            .map(|i| format!("{who} says <b>{i}</b>"))
            .collect();
        assert_eq!(mine, expected, "{who}'s messages out of order or missing");
    }
    assert!(maker_log.iter().any(|m| m.outgoing) && maker_log.iter().any(|m| !m.outgoing));

    // The taker reads; the maker sees its messages marked read.
    assert_eq!(
        taker.node.trade(trade.id).await.unwrap().unread,
        EACH_WAY as u32
    );
    assert_eq!(
        taker.node.mark_read(trade.id).await.unwrap(),
        EACH_WAY as u32
    );
    assert_eq!(taker.node.trade(trade.id).await.unwrap().unread, 0);
    maker
        .await_chat(trade.id, "read receipts", |log| {
            log.iter()
                .filter(|m| m.outgoing)
                .all(|m| m.read_at.is_some())
        })
        .await;
    net.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn takes_are_refused_with_their_reason_and_store_nothing() {
    let net = TestNet::start(3).await;
    let (maker, taker) = (&net.nodes[1], &net.nodes[2]);
    let offer = maker
        .node
        .post_offer(sell_offer(60_000))
        .await
        .expect("post");
    taker.await_offer(offer.id).await;
    let sepa = PaymentMethod::new("SEPA").unwrap();

    // Out of range and an unknown method are caught by the taker's own node.
    let err = taker
        .node
        .take_offer(offer.id, 1, sepa.clone(), String::new())
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("outside the offer's range"),
        "{err}"
    );
    let err = taker
        .node
        .take_offer(
            offer.id,
            5_000_000,
            PaymentMethod::new("PAYPAL").unwrap(),
            String::new(),
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("PAYPAL is not offered"), "{err}");

    // One open take per offer by default: a second taker is refused by the maker.
    taker
        .node
        .take_offer(offer.id, 5_000_000, sepa.clone(), String::new())
        .await
        .expect("first take");
    let mut net = net;
    let second = net.join("second-taker").await;
    second
        .node
        .refresh_market(BTC_EUR.0, BTC_EUR.1)
        .await
        .expect("refresh");
    second.await_offer(offer.id).await;
    let err = second
        .node
        .take_offer(offer.id, 5_000_000, sepa.clone(), String::new())
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("the maker refused the take"),
        "{err}"
    );
    assert!(err.to_string().contains("at most 1"), "{err}");
    assert!(second.node.trades().await.unwrap().is_empty());

    // A withdrawn offer cannot be taken.
    let (maker, second) = (&net.nodes[1], &net.nodes[3]);
    maker.node.withdraw_offer(offer.id).await.expect("withdraw");
    second
        .await_book("the withdrawal", |b| {
            b.iter().all(|e| e.offer.id != offer.id)
        })
        .await;
    let err = second
        .node
        .take_offer(offer.id, 5_000_000, sepa, String::new())
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("withdrawn") || err.to_string().contains("no offer"),
        "{err}"
    );
    assert_eq!(maker.node.trades().await.unwrap().len(), 1);
    net.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_trade_without_escrow_completes_and_another_is_cancelled() {
    let net = TestNet::start(3).await;
    let (maker, taker) = (&net.nodes[1], &net.nodes[2]);
    let offer = maker
        .node
        .post_offer(souk_core::offer::NewOffer {
            max_amount: 10_000_000,
            ..sell_offer(60_000)
        })
        .await
        .expect("post");
    taker.await_offer(offer.id).await;
    let sepa = PaymentMethod::new("SEPA").unwrap();
    let agree = |amount: u64| {
        let sepa = sepa.clone();
        async move {
            let trade = taker
                .node
                .take_offer(offer.id, amount, sepa, "IBAN".into())
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
    };

    // Paid by the buyer, confirmed by the seller: done, on both sides.
    let trade = agree(2_000_000).await;
    let err = maker.node.mark_paid(trade.id).await.unwrap_err();
    assert!(
        err.to_string().contains("seller cannot payment_sent"),
        "{err}"
    );
    taker.node.mark_paid(trade.id).await.expect("paid");
    maker
        .await_trade(trade.id, "payment sent", |t| {
            t.state == TradeState::PaymentSent
        })
        .await;
    maker.node.mark_received(trade.id).await.expect("received");
    let done = taker
        .await_trade(trade.id, "completed", |t| t.state == TradeState::Completed)
        .await;
    assert_eq!(done.waiting_for, None);
    let settled: Vec<(&str, bool)> = done.steps[2..]
        .iter()
        .map(|s| (s.kind.as_str(), s.mine))
        .collect();
    assert_eq!(
        settled,
        [("payment_sent", true), ("payment_received", false)]
    );
    let err = taker
        .node
        .cancel_trade(trade.id, String::new())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("it is over"), "{err}");

    // The open take finished, so the offer can be taken again; this time the seller walks away.
    let trade = agree(3_000_000).await;
    maker
        .node
        .cancel_trade(trade.id, "changed my mind".into())
        .await
        .expect("cancel");
    taker
        .await_trade(trade.id, "the cancel", |t| t.state == TradeState::Cancelled)
        .await;
    let err = taker.node.mark_paid(trade.id).await.unwrap_err();
    assert!(err.to_string().contains("it is over"), "{err}");
    net.shutdown().await;
}

/// A take nobody answers does not hold the offer for ever: once the maker's answer window has passed,
/// the maker's node rejects it, saying why, and the offer can be taken again.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_unanswered_take_expires_and_frees_the_offer() {
    let dir = TestDir::new();
    let maker = TestNode::start_trading(
        dir.path("maker"),
        &[],
        TradeConfig {
            answer_window: Duration::from_millis(500),
            ..test_trades()
        },
    )
    .await;
    let bootstrap = [maker.address()];
    let first = TestNode::start(dir.path("first"), &bootstrap).await;
    let second = TestNode::start(dir.path("second"), &bootstrap).await;
    let offer = maker
        .node
        .post_offer(sell_offer(60_000))
        .await
        .expect("post");
    first.await_offer(offer.id).await;
    second.await_offer(offer.id).await;
    let sepa = PaymentMethod::new("SEPA").unwrap();
    let trade = first
        .node
        .take_offer(offer.id, 5_000_000, sepa.clone(), "IBAN".into())
        .await
        .expect("take");
    // Held: one open take per offer.
    let held = second
        .node
        .take_offer(offer.id, 5_000_000, sepa.clone(), "IBAN".into())
        .await
        .expect_err("the offer is held by the first take");
    assert!(held.to_string().contains("open"), "{held}");

    let expired = first
        .await_trade(trade.id, "the expiry", |t| t.state == TradeState::Rejected)
        .await;
    let reason = expired.reject_reason.expect("a reason");
    assert!(reason.contains("not answered within 500 ms"), "{reason}");
    assert_eq!(
        maker.node.trade(trade.id).await.expect("trade").state,
        TradeState::Rejected
    );
    let again = second
        .node
        .take_offer(offer.id, 5_000_000, sepa, "IBAN".into())
        .await
        .expect("the offer is free again");
    assert_eq!(again.state, TradeState::Requested);
    let refusals = maker.node.network_status().await.expect("status").refusals;
    assert_eq!(
        (refusals.takes_expired, refusals.takes),
        (1, 1),
        "{refusals:?}"
    );
    for node in [second, first, maker] {
        node.stop().await;
    }
}

/// One peer cannot take every offer of a maker: past the hourly limit its takes are refused, saying
/// why, while another peer's are not.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_peer_s_takes_are_limited_per_hour() {
    let dir = TestDir::new();
    let maker = TestNode::start_trading(
        dir.path("maker"),
        &[],
        TradeConfig {
            max_takes_per_peer_per_hour: 2,
            ..test_trades()
        },
    )
    .await;
    let bootstrap = [maker.address()];
    let greedy = TestNode::start(dir.path("greedy"), &bootstrap).await;
    let other = TestNode::start(dir.path("other"), &bootstrap).await;
    let mut offers = Vec::new();
    for price in [60_000, 60_100, 60_200, 60_300] {
        let offer = maker
            .node
            .post_offer(sell_offer(price))
            .await
            .expect("post");
        greedy.await_offer(offer.id).await;
        other.await_offer(offer.id).await;
        offers.push(offer);
    }
    let sepa = PaymentMethod::new("SEPA").unwrap();
    for offer in &offers[..2] {
        greedy
            .node
            .take_offer(offer.id, 5_000_000, sepa.clone(), "IBAN".into())
            .await
            .expect("within the limit");
    }
    let refused = greedy
        .node
        .take_offer(offers[2].id, 5_000_000, sepa.clone(), "IBAN".into())
        .await
        .expect_err("past the limit");
    assert!(
        refused.to_string().contains(
            "too many takes from you: 2 of this node's offers in the last hour, at most 2"
        ),
        "{refused}"
    );
    other
        .node
        .take_offer(offers[3].id, 5_000_000, sepa, "IBAN".into())
        .await
        .expect("another peer is not limited by the first");
    let refusals = maker.node.network_status().await.expect("status").refusals;
    assert_eq!(refusals.takes, 1, "{refusals:?}");
    for node in [other, greedy, maker] {
        node.stop().await;
    }
}
