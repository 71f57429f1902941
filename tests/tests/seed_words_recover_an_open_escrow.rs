//! A party's computer dies while coins sit in a funded 2-of-3 escrow on a real Litecoin regtest chain, and
//! nothing survives but its seed words: no database, no backup. Restored from the words on an empty data
//! directory, the node finds its counterparty through the DHT (the counterparty provides the locator only
//! the seed derives), gets back its sealed copy of the trade, and the trade ends with the chain paying the
//! buyer — whether the buyer or the seller was the one that lost everything, and even when the seller is
//! gone for good (the arbitrator keeps a copy too, and decides the dispute the restored buyer opens).

use std::path::PathBuf;

use bitcoin::Amount;
use souk_core::{
    escrow::Party,
    trading::{Decision, TradeInfo},
};
use souk_tests::{
    PASSPHRASE, TestNode,
    funded::{AMOUNT, DEPOSIT, funded_escrow, in_state, start_party},
    node,
};

/// Waits until `node`'s counterparty stores `node`'s copy of the trade as it is now (funded).
async fn copy_is_held(node: &TestNode, trade: &TradeInfo) -> TradeInfo {
    node.await_trade(trade.id, "the counterparty to hold a copy", |t| {
        t.state.as_str() == "EscrowFunded"
            && t.escrow
                .as_ref()
                .and_then(|e| e.recovery_copy_at)
                .is_some_and(|at| at >= t.updated_at)
    })
    .await
}

/// Waits until `node`'s trade is in `state` and both its counterparty and the arbitrator store `node`'s
/// copy of it as it is now.
async fn both_copies_held(node: &TestNode, trade: &TradeInfo, state: &str) -> TradeInfo {
    node.await_trade(
        trade.id,
        "the counterparty and the arbitrator to hold copies",
        |t| {
            let fresh = |at: Option<i64>| at.is_some_and(|at| at >= t.updated_at);
            t.state.as_str() == state
                && t.escrow
                    .as_ref()
                    .is_some_and(|e| fresh(e.recovery_copy_at) && fresh(e.arbitrator_copy_at))
        },
    )
    .await
}

/// `lost`'s data directory is gone for good; a node on the empty directory `dir` is restored from the
/// seed words alone.
async fn restore_from_words(lost: TestNode, dir: PathBuf, trade: &TradeInfo) -> PathBuf {
    let words = lost.words.clone().expect("the identity was created here");
    let peer = lost.info.peer_id.clone();
    let old = lost.stop().await;
    std::fs::remove_dir_all(&old).unwrap();
    let fresh = node(&dir);
    let restored = fresh
        .restore_identity(&words.join(" "), PASSPHRASE)
        .await
        .expect("restore from the words");
    assert_eq!(restored.peer_id, peer);
    assert!(
        fresh.trade(trade.id).await.is_err(),
        "the words alone do not hold the trade"
    );
    fresh.shutdown().await;
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_buyer_restored_from_its_words_finds_the_trade_and_the_chain_pays_it() {
    let mut funded = funded_escrow().await;
    let before = copy_is_held(&funded.taker, &funded.trade).await;

    let dir = restore_from_words(funded.taker, funded.dir.path("taker-again"), &funded.trade).await;
    funded.taker = start_party(&funded.ltc, &funded.bootstrap, dir).await;

    // The trade comes back from the seller's copy, where it stood: funded, the buyer to pay.
    let back = in_state(&funded.taker, &funded.trade, "EscrowFunded").await;
    assert_eq!(back.role, before.role);
    assert_eq!(back.terms, before.terms);
    assert_eq!(back.counterparty, before.counterparty);
    let escrow = back.escrow.expect("the escrow");
    assert_eq!(escrow.funding_txids.len(), 2);
    assert_eq!(escrow.address, before.escrow.as_ref().unwrap().address);
    assert!(
        back.next_step.contains("mark the payment sent"),
        "{}",
        back.next_step
    );
    funded
        .taker
        .node
        .mark_paid(funded.trade.id)
        .await
        .expect("paid");
    funded.release_pays_the_buyer(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_seller_restored_from_its_words_while_the_buyer_is_away_releases_once_paid() {
    let mut funded = funded_escrow().await;
    copy_is_held(&funded.maker, &funded.trade).await;

    // The buyer's node is off while the seller restores: the seller keeps looking, and finds the
    // copy once the buyer's node is back and provides the locator again.
    let buyer_dir = funded.taker.stop().await;
    let dir = restore_from_words(funded.maker, funded.dir.path("maker-again"), &funded.trade).await;
    funded.maker = start_party(&funded.ltc, &funded.bootstrap, dir).await;
    assert!(
        funded.maker.node.trade(funded.trade.id).await.is_err(),
        "nobody holds the copy while the buyer is away"
    );
    funded.taker = start_party(&funded.ltc, &funded.bootstrap, buyer_dir).await;
    in_state(&funded.maker, &funded.trade, "EscrowFunded").await;

    // The buyer pays; the restored seller's node takes the step and the seller releases.
    funded
        .taker
        .node
        .mark_paid(funded.trade.id)
        .await
        .expect("paid");
    funded.release_pays_the_buyer(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_buyer_restored_after_the_seller_vanished_gets_its_trade_from_the_arbitrator() {
    let mut funded = funded_escrow().await;
    funded
        .taker
        .node
        .mark_paid(funded.trade.id)
        .await
        .expect("paid");
    in_state(&funded.maker, &funded.trade, "PaymentSent").await;
    both_copies_held(&funded.taker, &funded.trade, "PaymentSent").await;

    // The seller vanishes for good with the coins locked; then the buyer's computer dies.
    funded.maker.stop().await;
    let dir = restore_from_words(funded.taker, funded.dir.path("taker-again"), &funded.trade).await;
    funded.taker = start_party(&funded.ltc, &funded.bootstrap, dir).await;

    // Only the arbitrator holds a copy now: the trade comes back where it stood, and the buyer takes
    // it to the arbitrator, who decides for the buyer; the chain pays the buyer.
    in_state(&funded.taker, &funded.trade, "PaymentSent").await;
    funded
        .taker
        .node
        .dispute_trade(
            funded.trade.id,
            "the seller vanished after my payment".into(),
        )
        .await
        .expect("dispute");
    let arbitrator = &funded.nodes[1];
    tokio::time::timeout(souk_tests::DEADLINE, async {
        while arbitrator.node.dispute_info(funded.trade.id).await.is_err() {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("the buyer's case at the arbitrator");
    arbitrator
        .node
        .resolve_dispute(funded.trade.id, &Decision::to(Party::Buyer))
        .await
        .expect("resolve");
    let done = in_state(&funded.taker, &funded.trade, "Resolved").await;
    let txid = done
        .escrow
        .unwrap()
        .release_txid
        .expect("the buyer broadcast the decision");
    funded.ltc.mine(1).await;
    funded
        .ltc
        .await_confirmations(&txid.parse().unwrap(), 1)
        .await;
    let got = funded.ltc.received_by(&funded.payout, 1).await;
    assert!(
        got > Amount::from_sat(AMOUNT + DEPOSIT) && got < Amount::from_sat(AMOUNT + 2 * DEPOSIT),
        "the buyer got the escrow, the seller's deposit included, less the fee and reserve: {got}"
    );
    funded.taker.stop().await;
    for node in funded.nodes {
        node.stop().await;
    }
}
