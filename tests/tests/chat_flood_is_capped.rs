//! A hostile counterparty floods a trade's chat: the receiving node keeps at most what the chat's
//! limits allow, stays responsive while the flood comes in, and loses nothing else.
//!
//! Three real nodes: the receiver posts two offers; the hostile node takes one (as the buyer), an
//! honest node the other. The hostile node then queues [`FLOOD`] chat messages on its trade through
//! the `send_unchecked_chat` test hook: real signed, encrypted envelopes through its outbox, but past
//! its own sender-side checks, as a peer that does not run them would. The messages claim times
//! [`SPACING_MS`] apart, ending now: a peer's clock is its own to lie about, and backdating is how a
//! hostile peer would try to get past the per-minute rate (the claims spread the flood over 50
//! minutes). The receiver counts the rate by its own clock, when each message arrives: it keeps the
//! rate's worth per minute of arrival and drops all the rest (the total per trade,
//! [`MAX_CHAT_MESSAGES_PER_TRADE`], is reached only by a peer that keeps chatting for half an hour: the
//! unit tests show that cap). Right behind the flood, the hostile node marks the payment
//! sent: that step must still arrive and move the trade.
//!
//! While the flood is delivered, the receiver is asked for its network status, its trades and the
//! flooded chat every 100 ms, each answer within [`LIVENESS`] (a liveness bound, not a benchmark), and
//! the honest node chats with it both ways on the other trade, all of which must arrive.
//!
//! Why 2,000 messages and not 10,000: every envelope is one request and one SQLite transaction on each
//! side, in order. On the shared 2-core machine this was written on (load average 5–6), 10,000 took
//! 272 s to deliver; 2,000 took 28 s, well inside a minute.

use std::time::{Duration, Instant};

use souk_core::{
    offer::PaymentMethod,
    trading::{ChatMessage, TradeAnswer, TradeInfo, TradeState},
};
use souk_tests::{TestDir, TestNode, sell_offer};
use uuid::Uuid;

/// Chat messages the hostile node sends.
const FLOOD: usize = 2_000;
/// How far apart (by the hostile node's claimed clock) its messages are: 40 a minute, over 50 minutes.
const SPACING_MS: i64 = 1_500;
/// How long any one request to the receiver may take during the flood.
const LIVENESS: Duration = Duration::from_secs(5);
/// How long the whole flood may take to be delivered.
const FLOOD_DEADLINE: Duration = Duration::from_secs(120);
/// Chat messages each way on the honest trade (within the rate of 30 a minute).
const HONEST: usize = 20;

fn now_ms() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("a clock after 1970")
            .as_millis(),
    )
    .expect("a time in range")
}

/// `maker` posts a sell offer at `price`; `taker` takes it, the maker accepts. The taker's view.
async fn agree(maker: &TestNode, taker: &TestNode, price: u32) -> TradeInfo {
    let offer = maker
        .node
        .post_offer(sell_offer(price))
        .await
        .expect("post");
    taker.await_offer(offer.id).await;
    let trade = taker
        .node
        .take_offer(
            offer.id,
            5_000_000,
            PaymentMethod::new("SEPA").expect("valid method"),
            "IBAN".into(),
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

/// Runs `call` on the receiver within [`LIVENESS`]; its answer and how long it took.
async fn timed<T, E: std::fmt::Debug>(
    what: &str,
    call: impl std::future::Future<Output = Result<T, E>>,
) -> (T, Duration) {
    let started = Instant::now();
    match tokio::time::timeout(LIVENESS, call).await {
        Ok(Ok(answer)) => (answer, started.elapsed()),
        Ok(Err(e)) => panic!("{what} failed during the flood: {e:?}"),
        Err(_) => panic!("{what} took longer than {LIVENESS:?} during the flood"),
    }
}

async fn send_honest(node: &souk_core::node::Node, id: Uuid, who: &str) {
    for i in 0..HONEST {
        node.send_chat(id, format!("{who} {i}"))
            .await
            .expect("an honest message within the rate");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_flooded_chat_keeps_its_cap_and_the_node_keeps_answering() {
    let dir = TestDir::new();
    let receiver = TestNode::start(dir.path("receiver"), &[]).await;
    let bootstrap = [receiver.address()];
    let (hostile, honest) = futures::join!(
        TestNode::start(dir.path("hostile"), &bootstrap),
        TestNode::start(dir.path("honest"), &bootstrap)
    );
    let flooded = agree(&receiver, &hostile, 60_000).await;
    let other = agree(&receiver, &honest, 60_100).await;
    let per_minute = souk_tests::test_trades().max_chat_per_minute;
    let rate = usize::try_from(per_minute).expect("a small rate");

    // The flood, queued at once past the hostile node's own checks, and a trade step behind it.
    let start = now_ms() - SPACING_MS * i64::try_from(FLOOD).expect("a small flood");
    let messages = (0..FLOOD)
        .map(|i| {
            let at = start + SPACING_MS * i64::try_from(i).expect("a small flood");
            (format!("flood {i}"), at)
        })
        .collect();
    let began = Instant::now();
    hostile
        .node
        .send_unchecked_chat(flooded.id, messages)
        .await
        .expect("the flood queued");
    hostile
        .node
        .mark_paid(flooded.id)
        .await
        .expect("the payment marked sent");

    // While it comes in: the receiver answers, and chats with the honest node on the other trade.
    let probe = async {
        let mut worst = Duration::ZERO;
        let mut during = 0_usize;
        // Pacing only (a probe every 100 ms): the loop ends on what the receiver shows, not on time.
        let mut every = tokio::time::interval(Duration::from_millis(100));
        loop {
            every.tick().await;
            let (status, took) = timed("the network status", receiver.node.network_status()).await;
            worst = worst.max(took);
            let (trades, took) = timed("listing the trades", receiver.node.trades()).await;
            worst = worst.max(took);
            let (_, took) = timed("the flooded chat", receiver.node.chat_log(flooded.id)).await;
            worst = worst.max(took);
            let trade = trades
                .iter()
                .find(|t| t.id == flooded.id)
                .expect("the flooded trade listed");
            if trade.state == TradeState::PaymentSent {
                // The step came after every message of the flood: all of it was taken.
                return (worst, during);
            }
            during += 1;
            assert!(
                began.elapsed() < FLOOD_DEADLINE,
                "the flood was not delivered within {FLOOD_DEADLINE:?}; refused so far: {:?}",
                status.refusals
            );
        }
    };
    let chat = async {
        let sent = Instant::now();
        futures::join!(
            send_honest(&honest.node, other.id, "honest"),
            send_honest(&receiver.node, other.id, "receiver")
        );
        let all_in = |log: &[ChatMessage]| {
            log.len() == 2 * HONEST && log.iter().all(|m| m.delivered_at.is_some())
        };
        let (on_receiver, on_honest) = futures::join!(
            receiver.await_chat(other.id, "the honest chat", all_in),
            honest.await_chat(other.id, "the honest chat", all_in)
        );
        (sent.elapsed(), on_receiver, on_honest)
    };
    let ((worst, during), (honest_took, on_receiver, on_honest)) = futures::join!(probe, chat);
    let flood_took = began.elapsed();

    // The receiver kept its rate by its own clock: at most `per_minute` in any minute of arrival,
    // however far apart the flood claimed its messages were; at least the first minute's worth; the
    // flood's messages in the order sent.
    let log = receiver.node.chat_log(flooded.id).await.expect("chat log");
    let kept: Vec<&ChatMessage> = log.iter().filter(|m| !m.outgoing).collect();
    let index = |m: &ChatMessage| -> usize {
        m.body
            .strip_prefix("flood ")
            .and_then(|i| i.parse().ok())
            .unwrap_or_else(|| panic!("not a flood message: {m:?}"))
    };
    let indices: Vec<usize> = kept.iter().map(|m| index(m)).collect();
    assert!(indices.windows(2).all(|w| w[0] < w[1]), "kept out of order");
    let arrived = |m: &ChatMessage| m.delivered_at.expect("an arrival time");
    for (n, m) in kept.iter().enumerate() {
        let window = kept[..=n]
            .iter()
            .filter(|k| arrived(k) > arrived(m) - 60_000)
            .count();
        assert!(
            window <= rate,
            "{window} messages kept within the minute before {} arrived",
            m.body
        );
    }
    let minutes = usize::try_from(flood_took.as_secs() / 60).expect("a short flood") + 1;
    assert!(
        (rate..=rate * minutes).contains(&kept.len()),
        "kept {} of a flood delivered in {flood_took:?}",
        kept.len()
    );
    assert_eq!(
        indices[..rate],
        (0..rate).collect::<Vec<_>>()[..],
        "the first minute's"
    );
    assert!(log.iter().all(|m| !m.outgoing), "{log:?}");
    // Everything over the limits was counted as refused, and nothing else (asked again: the status
    // the probe saw last may predate the flood's last envelopes).
    let refusals = receiver
        .node
        .network_status()
        .await
        .expect("status")
        .refusals;
    assert_eq!(
        usize::try_from(refusals.chat_messages).expect("a count"),
        FLOOD - kept.len(),
        "{refusals:?}"
    );
    assert_eq!(refusals.envelopes, 0, "{refusals:?}");

    // It answered throughout, and the liveness check did run while the flood came in.
    assert!(
        during >= 3,
        "only {during} probes ran during the flood ({flood_took:?})"
    );

    // Nothing else was lost: the honest chat came in full both ways (checked by the awaits), and in
    // order; the trade step behind the flood moved the trade, and the trade goes on.
    for (log, who) in [(&on_receiver, "honest"), (&on_honest, "receiver")] {
        let theirs: Vec<&str> = log
            .iter()
            .filter(|m| m.body.starts_with(who))
            .map(|m| m.body.as_str())
            .collect();
        let expected: Vec<String> = (0..HONEST).map(|i| format!("{who} {i}")).collect();
        assert_eq!(theirs, expected, "{who}'s messages lost or out of order");
    }
    receiver
        .node
        .mark_received(flooded.id)
        .await
        .expect("received");
    hostile
        .await_trade(flooded.id, "completed", |t| {
            t.state == TradeState::Completed
        })
        .await;
    eprintln!(
        "flood of {FLOOD}: kept {}, refused {}, delivered in {flood_took:?}; worst answer {worst:?} \
         over {during} probes; the honest chat took {honest_took:?}",
        kept.len(),
        refusals.chat_messages,
    );
    for node in [honest, hostile, receiver] {
        node.stop().await;
    }
}
