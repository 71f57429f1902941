//! The buyer's computer dies while coins sit in a funded 2-of-3 escrow on a real Litecoin regtest chain.
//! A backup the buyer exported while the trade ran is imported into an empty data directory; the
//! restored node finds the trade, the buyer says it paid, the seller releases, and the chain pays the
//! buyer the amount and its deposit.

use bitcoin::Amount;
use souk_core::{ErrorKind, trading::TradeInfo};
use souk_tests::{
    PASSPHRASE, TestDir, TestNode, agree_ltc_escrow_trade, node, regtest::Litecoind, test_trades,
};

/// 1 LTC.
const AMOUNT: u64 = 100_000_000;
/// 15 % of it.
const DEPOSIT: u64 = 15_000_000;

async fn in_state(node: &TestNode, trade: &TradeInfo, state: &str) -> TradeInfo {
    node.await_trade(trade.id, state, |t| t.state.as_str() == state)
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_backup_brings_back_a_funded_escrow_and_the_chain_pays_the_buyer() {
    let ltc = Litecoind::start().await;
    let dir = TestDir::new();
    let boot = TestNode::start(dir.path("boot"), &[]).await;
    let bootstrap = vec![boot.address()];
    let settling = |name: &str, trades| {
        TestNode::start_settling(dir.path(name), &bootstrap, ltc.config.clone(), trades)
    };
    let arbitrator = settling(
        "arbitrator",
        souk_core::trading::TradeConfig {
            arbitrator: true,
            ..test_trades()
        },
    )
    .await;
    let maker = settling("maker", test_trades()).await;
    let taker = settling("taker", test_trades()).await;

    let payout = ltc.new_address().await;
    let trade = agree_ltc_escrow_trade(&maker, &taker, &arbitrator, AMOUNT, &payout).await;
    in_state(&maker, &trade, "Accepted").await;
    let refund = ltc.new_address().await;
    maker
        .node
        .set_escrow_address(trade.id, &refund)
        .await
        .expect("refund address");
    let seller = in_state(&maker, &trade, "EscrowFunding")
        .await
        .escrow
        .unwrap();
    let buyer = in_state(&taker, &trade, "EscrowFunding")
        .await
        .escrow
        .unwrap();
    ltc.send_to(
        &seller.address.expect("the seller's escrow output"),
        Amount::from_sat(AMOUNT + DEPOSIT),
    )
    .await;
    ltc.send_to(
        &buyer.address.expect("the buyer's escrow output"),
        Amount::from_sat(DEPOSIT),
    )
    .await;
    ltc.mine(1).await;
    in_state(&taker, &trade, "EscrowFunded").await;
    in_state(&maker, &trade, "EscrowFunded").await;

    // The buyer exports a backup while its node runs, then loses its data directory.
    let backups = dir.path("backups");
    std::fs::create_dir_all(&backups).unwrap();
    let summary = taker
        .node
        .export_backup(backups.to_str().unwrap(), PASSPHRASE)
        .await
        .expect("export");
    assert_eq!((summary.trades, summary.open_trades), (1, 1));
    let taker_peer = taker.info.peer_id.clone();
    let taker_dir = taker.stop().await;
    std::fs::remove_dir_all(&taker_dir).unwrap();

    // A wrong passphrase changes nothing; the right one brings the identity and the trade back.
    let restoring = node(&taker_dir);
    let err = restoring
        .import_backup(&summary.path, "not the passphrase")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::WrongPassphrase);
    assert!(!taker_dir.exists());
    let imported = restoring
        .import_backup(&summary.path, PASSPHRASE)
        .await
        .expect("import");
    assert_eq!(imported.identity.peer_id, taker_peer);
    assert_eq!(imported.backup.open_trades, 1);
    restoring.shutdown().await;

    let taker =
        TestNode::start_settling(taker_dir, &bootstrap, ltc.config.clone(), test_trades()).await;
    let back = in_state(&taker, &trade, "EscrowFunded").await;
    assert_eq!(back.escrow.unwrap().funding_txids.len(), 2);
    taker.node.mark_paid(trade.id).await.expect("paid");
    in_state(&maker, &trade, "PaymentSent").await;
    maker.node.mark_received(trade.id).await.expect("received");
    in_state(&taker, &trade, "Released").await;
    ltc.mine(1).await;
    in_state(&taker, &trade, "Completed").await;
    in_state(&maker, &trade, "Completed").await;

    // The chain is the judge: the restored buyer's release paid its payout address.
    let reserve = souk_core::escrow::anchor_value(souk_core::escrow::Chain::Ltc).to_sat();
    assert_eq!(
        ltc.received_by(&payout, 1).await,
        Amount::from_sat(AMOUNT + DEPOSIT - reserve),
        "the buyer holds the amount and its deposit, less the release's fee reserve"
    );
    for node in [taker, maker, arbitrator, boot] {
        node.stop().await;
    }
}
