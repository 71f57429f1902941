//! A funded escrow trade on a real Litecoin regtest chain, for the scenarios where something is lost after
//! the coins are locked: a seller (maker) and a buyer (taker) under one arbitrator, both outputs funded
//! and confirmed.

use std::path::PathBuf;

use bitcoin::Amount;
use souk_core::trading::TradeInfo;

use crate::{TestDir, TestNode, agree_ltc_escrow_trade, regtest::Litecoind, test_trades};

/// 1 LTC.
pub const AMOUNT: u64 = 100_000_000;
/// 15 % of it.
pub const DEPOSIT: u64 = 15_000_000;

/// Waits until the trade is in `state` on `node`.
pub async fn in_state(node: &TestNode, trade: &TradeInfo, state: &str) -> TradeInfo {
    node.await_trade(trade.id, state, |t| t.state.as_str() == state)
        .await
}

/// A funded escrow trade between `maker` (seller) and `taker` (buyer) under the arbitrator in `nodes`.
pub struct Funded {
    pub ltc: Litecoind,
    pub dir: TestDir,
    pub bootstrap: Vec<String>,
    /// The bootstrap node and the arbitrator.
    pub nodes: Vec<TestNode>,
    pub maker: TestNode,
    pub taker: TestNode,
    pub trade: TradeInfo,
    /// The buyer's payout address.
    pub payout: String,
}

/// A regtest chain, a bootstrap node and an arbitrator settling on it: what every escrow scenario stands on.
pub struct Ground {
    pub ltc: Litecoind,
    pub dir: TestDir,
    pub bootstrap: Vec<String>,
    pub boot: TestNode,
    pub arbitrator: TestNode,
}

/// Starts the chain, the bootstrap node and the arbitrator.
pub async fn ground() -> Ground {
    crate::log_if_asked();
    let ltc = Litecoind::start().await;
    let dir = TestDir::new();
    let boot = TestNode::start(dir.path("boot"), &[]).await;
    let bootstrap = vec![boot.address()];
    let arbitrator = TestNode::start_settling(
        dir.path("arbitrator"),
        &bootstrap,
        ltc.config.clone(),
        souk_core::trading::TradeConfig {
            arbitrator: true,
            ..test_trades()
        },
    )
    .await;
    Ground {
        ltc,
        dir,
        bootstrap,
        boot,
        arbitrator,
    }
}

impl Ground {
    /// A trading party named `name`, settling on the chain.
    pub async fn party(&self, name: &str) -> TestNode {
        TestNode::start_settling(
            self.dir.path(name),
            &self.bootstrap,
            self.ltc.config.clone(),
            test_trades(),
        )
        .await
    }

    /// `maker` (seller) and `taker` (buyer) agree an escrow trade of [`AMOUNT`] under the arbitrator and
    /// fund both outputs, confirmed. The trade as the taker took it, and the buyer's payout address.
    pub async fn funded_trade(&self, maker: &TestNode, taker: &TestNode) -> (TradeInfo, String) {
        let ltc = &self.ltc;
        let payout = ltc.new_address().await;
        let trade = agree_ltc_escrow_trade(maker, taker, &self.arbitrator, AMOUNT, &payout).await;
        in_state(maker, &trade, "Accepted").await;
        let refund = ltc.new_address().await;
        maker
            .node
            .set_escrow_address(trade.id, &refund)
            .await
            .expect("refund address");
        let seller = in_state(maker, &trade, "EscrowFunding")
            .await
            .escrow
            .unwrap();
        let buyer = in_state(taker, &trade, "EscrowFunding")
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
        in_state(taker, &trade, "EscrowFunded").await;
        in_state(maker, &trade, "EscrowFunded").await;
        (trade, payout)
    }
}

/// Sets up the chain and the nodes, agrees the trade and funds both escrow outputs.
pub async fn funded_escrow() -> Funded {
    let ground = ground().await;
    let maker = ground.party("maker").await;
    let taker = ground.party("taker").await;
    let (trade, payout) = ground.funded_trade(&maker, &taker).await;
    let Ground {
        ltc,
        dir,
        bootstrap,
        boot,
        arbitrator,
    } = ground;
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

/// A party's node on `data_dir` (its identity already there), settling on `ltc`, joining through
/// `bootstrap`: a party starting again.
pub async fn start_party(ltc: &Litecoind, bootstrap: &[String], data_dir: PathBuf) -> TestNode {
    TestNode::start_settling(data_dir, bootstrap, ltc.config.clone(), test_trades()).await
}

impl Funded {
    /// The seller confirms (unless it did already), the buyer's node co-signs and broadcasts the
    /// release, and the chain pays the buyer's payout address the amount and its deposit, less the fee
    /// reserve.
    pub async fn release_pays_the_buyer(self, seller_confirmed: bool) {
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
