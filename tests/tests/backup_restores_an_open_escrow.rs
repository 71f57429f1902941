//! The buyer's computer dies while coins sit in a funded 2-of-3 escrow on a real Litecoin regtest chain,
//! and the buyer restores a backup into an empty data directory.
//! - A backup of the trade as it stands: the restored node finds the trade, the buyer says it paid, the
//!   seller releases, and the chain pays the buyer the amount and its deposit.
//! - A backup older than the buyer's last step ("paid"): the restored node is behind the seller, and says
//!   what to do next as of the backup; doing it again (the seller drops the repeated step as one it has)
//!   brings both sides together, and the chain pays the buyer all the same.

use bitcoin::Amount;
use souk_core::{ErrorKind, node::BackupSummary, trading::TradeInfo};
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

/// A funded escrow trade between `maker` (seller) and `taker` (buyer) under `arbitrator`.
struct Funded {
    ltc: Litecoind,
    dir: TestDir,
    bootstrap: Vec<String>,
    nodes: Vec<TestNode>,
    maker: TestNode,
    taker: TestNode,
    trade: TradeInfo,
    payout: String,
}

async fn funded_escrow() -> Funded {
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
    Funded {
        ltc,
        dir,
        bootstrap,
        nodes: vec![boot, arbitrator],
        maker,
        taker,
        trade,
        payout,
    }
}

impl Funded {
    /// The buyer exports a backup while its node runs.
    async fn backup(&self) -> BackupSummary {
        let backups = self.dir.path("backups");
        std::fs::create_dir_all(&backups).unwrap();
        self.taker
            .node
            .export_backup(backups.to_str().unwrap(), PASSPHRASE)
            .await
            .expect("export")
    }

    /// The buyer's data directory is lost; `backup` is imported into an empty one, and the buyer's node
    /// starts again from it. A wrong passphrase changes nothing.
    async fn restore(mut self, backup: &BackupSummary) -> Self {
        let peer = self.taker.info.peer_id.clone();
        let taker_dir = self.taker.stop().await;
        std::fs::remove_dir_all(&taker_dir).unwrap();
        let restoring = node(&taker_dir);
        let err = restoring
            .import_backup(&backup.path, "not the passphrase")
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::WrongPassphrase);
        assert!(!taker_dir.exists());
        let imported = restoring
            .import_backup(&backup.path, PASSPHRASE)
            .await
            .expect("import");
        assert_eq!(imported.identity.peer_id, peer);
        assert_eq!(imported.backup.open_trades, 1);
        restoring.shutdown().await;
        self.taker = TestNode::start_settling(
            taker_dir,
            &self.bootstrap,
            self.ltc.config.clone(),
            test_trades(),
        )
        .await;
        self
    }

    /// The seller confirms (unless it did already), the restored buyer's node co-signs and broadcasts
    /// the release, and the chain pays the buyer's payout address the amount and its deposit, less the
    /// fee reserve.
    async fn release_pays_the_buyer(self, seller_confirmed: bool) {
        let Self {
            ltc,
            maker,
            taker,
            trade,
            payout,
            nodes,
            ..
        } = self;
        if !seller_confirmed {
            in_state(&maker, &trade, "PaymentSent").await;
            maker.node.mark_received(trade.id).await.expect("received");
        }
        in_state(&taker, &trade, "Released").await;
        ltc.mine(1).await;
        in_state(&taker, &trade, "Completed").await;
        in_state(&maker, &trade, "Completed").await;
        let reserve = souk_core::escrow::anchor_value(souk_core::escrow::Chain::Ltc).to_sat();
        assert_eq!(
            ltc.received_by(&payout, 1).await,
            Amount::from_sat(AMOUNT + DEPOSIT - reserve),
            "the buyer holds the amount and its deposit, less the release's fee reserve"
        );
        for node in [taker, maker].into_iter().chain(nodes) {
            node.stop().await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_backup_brings_back_a_funded_escrow_and_the_chain_pays_the_buyer() {
    let funded = funded_escrow().await;
    let backup = funded.backup().await;
    assert_eq!((backup.trades, backup.open_trades), (1, 1));
    let funded = funded.restore(&backup).await;
    let back = in_state(&funded.taker, &funded.trade, "EscrowFunded").await;
    assert_eq!(back.escrow.unwrap().funding_txids.len(), 2);
    funded
        .taker
        .node
        .mark_paid(funded.trade.id)
        .await
        .expect("paid");
    funded.release_pays_the_buyer(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_backup_older_than_the_buyer_s_payment_catches_up_when_the_step_is_taken_again() {
    let funded = funded_escrow().await;
    let backup = funded.backup().await;
    // After the backup, the buyer says it paid; the seller has it. Then the buyer's disk dies.
    funded
        .taker
        .node
        .mark_paid(funded.trade.id)
        .await
        .expect("paid");
    in_state(&funded.maker, &funded.trade, "PaymentSent").await;
    let funded = funded.restore(&backup).await;

    // The restored node is where the backup was, and says what to do as of then.
    let behind = in_state(&funded.taker, &funded.trade, "EscrowFunded").await;
    assert!(
        behind.next_step.contains("mark the payment sent"),
        "{}",
        behind.next_step
    );
    // The seller, which has the payment, confirms it: the restored buyer cannot take that step yet.
    funded
        .maker
        .node
        .mark_received(funded.trade.id)
        .await
        .expect("received");
    in_state(&funded.maker, &funded.trade, "PaymentConfirmed").await;
    // The buyer takes its step again: it reaches the seller as one it already has (the same sequence
    // number), the seller's confirmation is delivered again and now applies, and both sides agree.
    funded
        .taker
        .node
        .mark_paid(funded.trade.id)
        .await
        .expect("paid again");
    funded.release_pays_the_buyer(true).await;
}
