//! An arbitrator's decision survives its restart, on a real Litecoin regtest chain: a funded escrow trade
//! goes to dispute; the winner's node is stopped; the arbitrator decides (the loser gets the decision);
//! the arbitrator's node stops before the winner had it, and starts again; the winner's node comes back on
//! a new port, receives the decision, co-signs and broadcasts; the chain pays the winner. A copy that
//! arrives twice is acknowledged and changes nothing.

use std::time::Duration;

use bitcoin::Amount;
use souk_core::trading::{Decision, Party, TradeConfig, TradeInfo, TradeState, Winner};
use souk_tests::{
    DEADLINE, TestDir, TestNode, agree_ltc_escrow_trade, regtest::Litecoind, test_trades,
};
use uuid::Uuid;

const AMOUNT: u64 = 100_000_000;
const DEPOSIT: u64 = 15_000_000;

fn arbitrator_trades() -> TradeConfig {
    TradeConfig {
        arbitrator: true,
        ..test_trades()
    }
}

fn party_trades() -> TradeConfig {
    TradeConfig {
        payment_window: Some(Duration::from_secs(3600)),
        ..test_trades()
    }
}

async fn in_state(node: &TestNode, trade: Uuid, state: &str) -> TradeInfo {
    node.await_trade(trade, state, |t| t.state.as_str() == state)
        .await
}

async fn db(node_dir: &std::path::Path, mode: &str) -> sqlx::SqlitePool {
    sqlx::SqlitePool::connect(&format!(
        "sqlite://{}?mode={mode}",
        node_dir.join(souk_core::store::FILE_NAME).display()
    ))
    .await
    .expect("open the arbitrator's database")
}

/// Each party's answer to the resolution, as the arbitrator recorded it (`None`: owed still).
async fn answers(pool: &sqlx::SqlitePool, trade: Uuid) -> (Option<String>, Option<String>) {
    sqlx::query_as("SELECT buyer_answer, seller_answer FROM disputes WHERE trade_id = ?")
        .bind(trade.to_string())
        .fetch_one(pool)
        .await
        .expect("the dispute at the arbitrator")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_winner_gets_the_decision_after_the_arbitrator_restarts() {
    let ltc = Litecoind::start().await;
    let dir = TestDir::new();
    let boot = TestNode::start(dir.path("boot"), &[]).await;
    let bootstrap = vec![boot.address()];
    let arbitrator = TestNode::start_settling(
        dir.path("arbitrator"),
        &bootstrap,
        ltc.config.clone(),
        arbitrator_trades(),
    )
    .await;
    let maker = TestNode::start_settling(
        dir.path("maker"),
        &bootstrap,
        ltc.config.clone(),
        party_trades(),
    )
    .await;
    let taker = TestNode::start_settling(
        dir.path("taker"),
        &bootstrap,
        ltc.config.clone(),
        party_trades(),
    )
    .await;

    // A funded escrow trade: the maker sells, the taker buys.
    let payout = ltc.new_address().await;
    let trade = agree_ltc_escrow_trade(&maker, &taker, &arbitrator, AMOUNT, &payout)
        .await
        .id;
    in_state(&maker, trade, "Accepted").await;
    let refund = ltc.new_address().await;
    maker
        .node
        .set_escrow_address(trade, &refund)
        .await
        .expect("refund address");
    let funding = in_state(&taker, trade, "EscrowFunding").await;
    ltc.fund_escrow(&funding.escrow.unwrap(), AMOUNT + DEPOSIT, DEPOSIT)
        .await;
    ltc.mine(1).await;
    in_state(&maker, trade, "EscrowFunded").await;
    in_state(&taker, trade, "EscrowFunded").await;

    // The buyer paid; the seller does not confirm; the buyer opens a dispute.
    taker.node.mark_paid(trade).await.expect("paid");
    in_state(&maker, trade, "PaymentSent").await;
    taker
        .node
        .dispute_trade(trade, "I paid by SEPA on Monday; no answer since".into())
        .await
        .expect("dispute");
    in_state(&maker, trade, "Disputed").await;
    let mut events = arbitrator.node.trade_events();
    tokio::time::timeout(DEADLINE, async {
        loop {
            if let Ok(d) = arbitrator.node.dispute_info(trade).await
                && d.cases.len() == 2
            {
                return;
            }
            let _ = events.recv().await;
        }
    })
    .await
    .expect("both cases at the arbitrator");

    // The winner goes offline; the arbitrator decides for it; the loser gets the decision.
    let taker_dir = taker.stop().await;
    let resolved = arbitrator
        .node
        .resolve_dispute(trade, &Decision::to(Party::Buyer))
        .await
        .expect("resolve");
    assert_eq!(resolved.resolved_to, Some(Winner::Buyer));
    let lost = in_state(&maker, trade, "Resolved").await;
    assert_eq!(
        lost.escrow.unwrap().release_txid,
        None,
        "the loser broadcasts nothing"
    );

    // The arbitrator stops before the winner had the decision; it still owes it.
    let arbitrator_dir = arbitrator.stop().await;
    {
        let pool = db(&arbitrator_dir, "ro").await;
        let (buyer, _) = answers(&pool, trade).await;
        assert_eq!(buyer, None, "the offline winner cannot have answered");
        pool.close().await;
    }
    let arbitrator = TestNode::start_settling(
        arbitrator_dir,
        &bootstrap,
        ltc.config.clone(),
        arbitrator_trades(),
    )
    .await;
    // The winner comes back (on a new port) and gets the decision from the restarted arbitrator.
    let taker =
        TestNode::start_settling(taker_dir, &bootstrap, ltc.config.clone(), party_trades()).await;
    let won = in_state(&taker, trade, "Resolved").await;
    let txid = won
        .escrow
        .unwrap()
        .release_txid
        .expect("the winner broadcast");
    ltc.mine(1).await;
    ltc.await_confirmations(&txid.parse().unwrap(), 1).await;
    let all = Amount::from_sat(AMOUNT + 2 * DEPOSIT);
    let got = ltc.received_by(&payout, 1).await;
    assert!(
        got < all && got > all - Amount::from_sat(100_000),
        "the buyer got the escrow, less the fee: {got}"
    );
    assert_eq!(ltc.received_by(&refund, 0).await, Amount::ZERO);
    in_state(&maker, trade, "Resolved").await;

    // Both answers lost (the arbitrator stopped as they arrived, say): after a restart both parties get
    // the decision again, acknowledge it, and nothing changes on their side or on the chain.
    let arbitrator_dir = arbitrator.stop().await;
    {
        let pool = db(&arbitrator_dir, "rw").await;
        sqlx::query("UPDATE disputes SET buyer_answer = NULL, seller_answer = NULL")
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
    }
    let arbitrator = TestNode::start_settling(
        arbitrator_dir,
        &bootstrap,
        ltc.config.clone(),
        arbitrator_trades(),
    )
    .await;
    let pool = db(&arbitrator.data_dir, "ro").await;
    let answered = tokio::time::timeout(DEADLINE, async {
        loop {
            let now = answers(&pool, trade).await;
            if now.0.is_some() && now.1.is_some() {
                return now;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("both parties answer the second copy");
    pool.close().await;
    assert_eq!(
        answered,
        (Some("stored".into()), Some("stored".into())),
        "a second copy is acknowledged"
    );
    let again = taker.node.trade(trade).await.unwrap();
    assert_eq!(again.state, TradeState::Resolved);
    assert_eq!(
        again.escrow.unwrap().release_txid.as_deref(),
        Some(txid.as_str()),
        "nothing broadcast twice"
    );
    assert_eq!(
        maker.node.trade(trade).await.unwrap().state,
        TradeState::Resolved
    );
    assert_eq!(ltc.received_by(&payout, 1).await, got);

    for node in [taker, maker, arbitrator, boot] {
        node.stop().await;
    }
}
