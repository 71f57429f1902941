//! Disputes on a real Litecoin regtest chain, the chain as the judge: the arbitrator node receives both
//! parties' cases, decides, and the winner's node co-signs and broadcasts the arbitrator's payout.
//! - the buyer never pays: the payment window closes, the trade goes to the arbitrator on both sides,
//!   and the arbitrator refunds the seller;
//! - the buyer paid but the seller does not confirm: the buyer opens a dispute and wins;
//! - the buyer says it paid but nothing arrived: the seller opens a dispute and wins.

use std::time::Duration;

use bitcoin::Amount;
use souk_core::{
    config::ChainConfig,
    trading::{Decision, DisputeInfo, Party, TradeConfig, TradeInfo, TradeState, Winner},
};
use souk_tests::{
    DEADLINE, TestDir, TestNode, agree_ltc_escrow_trade, regtest::Litecoind, test_trades,
};
use uuid::Uuid;

const AMOUNT: u64 = 100_000_000;
const DEPOSIT: u64 = 15_000_000;

struct Funded {
    ltc: Litecoind,
    _dir: TestDir,
    nodes: Vec<TestNode>,
    trade: TradeInfo,
    payout: String,
    refund: String,
}

impl Funded {
    fn arbitrator(&self) -> &TestNode {
        &self.nodes[1]
    }
    fn maker(&self) -> &TestNode {
        &self.nodes[2]
    }
    fn taker(&self) -> &TestNode {
        &self.nodes[3]
    }

    async fn in_state(&self, node: &TestNode, state: &str) -> TradeInfo {
        node.await_trade(self.trade.id, state, |t| t.state.as_str() == state)
            .await
    }

    /// Waits until the arbitrator holds the cases of both parties.
    async fn both_cases(&self) -> DisputeInfo {
        let arbitrator = self.arbitrator();
        let mut events = arbitrator.node.trade_events();
        let wait = async {
            loop {
                if let Ok(d) = arbitrator.node.dispute_info(self.trade.id).await
                    && d.cases.len() == 2
                {
                    return d;
                }
                let _ = events.recv().await;
            }
        };
        tokio::time::timeout(DEADLINE, wait)
            .await
            .expect("both cases at the arbitrator")
    }

    /// The arbitrator decides for `winner`; the winner's node broadcasts; once mined, the winner's address
    /// holds the whole escrow less the fee and the loser's nothing.
    async fn resolve_to(&self, winner: Party) {
        let resolved = self
            .arbitrator()
            .node
            .resolve_dispute(self.trade.id, &Decision::to(winner))
            .await
            .expect("resolve");
        assert_eq!(resolved.resolved_to, Some(winner.into()));
        let (winner_node, loser_node, won, lost) = match winner {
            Party::Buyer => (self.taker(), self.maker(), &self.payout, &self.refund),
            Party::Seller => (self.maker(), self.taker(), &self.refund, &self.payout),
        };
        let done = self.in_state(winner_node, "Resolved").await;
        self.in_state(loser_node, "Resolved").await;
        let txid = done
            .escrow
            .unwrap()
            .release_txid
            .expect("the winner broadcast");
        self.ltc.mine(1).await;
        self.ltc
            .await_confirmations(&txid.parse().unwrap(), 1)
            .await;
        let got = self.ltc.received_by(won, 1).await;
        let all = Amount::from_sat(AMOUNT + 2 * DEPOSIT);
        assert!(
            got < all && got > all - Amount::from_sat(100_000),
            "the {winner} got the escrow, less the fee: {got}"
        );
        assert_eq!(self.ltc.received_by(lost, 0).await, Amount::ZERO);
    }

    /// The buyer has paid and opened a dispute; the arbitrator holds both cases.
    async fn disputed_by_the_buyer(&self) -> DisputeInfo {
        self.in_state(self.taker(), "EscrowFunded").await;
        self.taker()
            .node
            .mark_paid(self.trade.id)
            .await
            .expect("paid");
        self.in_state(self.maker(), "PaymentSent").await;
        self.taker()
            .node
            .dispute_trade(
                self.trade.id,
                "I paid half, the bank stopped the rest".into(),
            )
            .await
            .expect("dispute");
        self.in_state(self.maker(), "Disputed").await;
        self.both_cases().await
    }

    /// Waits until the arbitrator's latest decision has both parties' answers.
    async fn both_answers(&self) -> DisputeInfo {
        let arbitrator = self.arbitrator();
        tokio::time::timeout(DEADLINE, async {
            loop {
                if let Ok(d) = arbitrator.node.dispute_info(self.trade.id).await
                    && d.decision
                        .as_ref()
                        .is_some_and(|x| x.buyer_answer.is_some() && x.seller_answer.is_some())
                {
                    return d;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
        .await
        .expect("both parties answered the decision")
    }

    /// A decision the arbitrator may not make: refused, saying `why`.
    async fn cannot_decide(&self, decision: &Decision, why: &str) {
        let err = self
            .arbitrator()
            .node
            .resolve_dispute(self.trade.id, decision)
            .await
            .unwrap_err();
        assert!(err.to_string().contains(why), "{decision:?}: {err}");
    }

    async fn stop(self) {
        for node in self.nodes.into_iter().rev() {
            node.stop().await;
        }
    }
}

/// An escrow trade up to EscrowFunded, with `payment_window` on both parties.
async fn funded_trade(payment_window: Duration) -> Funded {
    funded_trade_with(payment_window, |_| {}, test_trades()).await
}

/// The arbitrator's trade settings.
fn arbitrating() -> TradeConfig {
    TradeConfig {
        arbitrator: true,
        ..test_trades()
    }
}

/// [`funded_trade`] with the arbitrator's chain settings changed by `arbitrator_chain` and the parties'
/// trade settings from `party`.
async fn funded_trade_with(
    payment_window: Duration,
    arbitrator_chain: impl FnOnce(&mut ChainConfig),
    party: TradeConfig,
) -> Funded {
    funded_trade_on(
        Litecoind::start().await,
        payment_window,
        arbitrator_chain,
        party,
        |_| {},
    )
    .await
}

/// [`funded_trade_with`] on `ltc`, the taker's chain settings changed by `taker_chain`.
async fn funded_trade_on(
    ltc: Litecoind,
    payment_window: Duration,
    arbitrator_chain: impl FnOnce(&mut ChainConfig),
    party: TradeConfig,
    taker_chain: impl FnOnce(&mut ChainConfig),
) -> Funded {
    let dir = TestDir::new();
    let boot = TestNode::start(dir.path("boot"), &[]).await;
    let bootstrap = vec![boot.address()];
    let trades = TradeConfig {
        payment_window: Some(payment_window),
        ..party
    };
    let mut chain = ltc.config.clone();
    arbitrator_chain(&mut chain);
    let arbitrator =
        TestNode::start_settling(dir.path("arbitrator"), &bootstrap, chain, arbitrating()).await;
    let maker = TestNode::start_settling(
        dir.path("maker"),
        &bootstrap,
        ltc.config.clone(),
        trades.clone(),
    )
    .await;
    let mut taker_config = ltc.config.clone();
    taker_chain(&mut taker_config);
    let taker = TestNode::start_settling(dir.path("taker"), &bootstrap, taker_config, trades).await;
    let payout = ltc.new_address().await;
    let trade = agree_ltc_escrow_trade(&maker, &taker, &arbitrator, AMOUNT, &payout).await;
    maker
        .await_trade(trade.id, "the agreement", |t| {
            t.state == TradeState::Accepted
        })
        .await;
    let refund = ltc.new_address().await;
    maker
        .node
        .set_escrow_address(trade.id, &refund)
        .await
        .expect("refund address");
    let funding = taker
        .await_trade(trade.id, "the escrow address", |t| {
            t.state == TradeState::EscrowFunding
        })
        .await;
    ltc.fund_escrow(&funding.escrow.unwrap(), AMOUNT + DEPOSIT, DEPOSIT)
        .await;
    ltc.mine(1).await;
    let funded = Funded {
        ltc,
        _dir: dir,
        nodes: vec![boot, arbitrator, maker, taker],
        trade,
        payout,
        refund,
    };
    funded.in_state(funded.maker(), "EscrowFunded").await;
    funded
}

fn id(f: &Funded) -> Uuid {
    f.trade.id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_buyer_never_pays_and_the_arbitrator_refunds_the_seller() {
    let f = funded_trade(Duration::from_millis(300)).await;
    // Nobody does anything: the payment window closes on both sides.
    f.in_state(f.maker(), "Disputed").await;
    f.in_state(f.taker(), "Disputed").await;
    let case = f.both_cases().await;
    assert_eq!(case.seller_address, f.refund);
    assert_eq!(case.buyer_address, f.payout);
    assert!(
        case.cases
            .iter()
            .all(|c| c.reason.contains("payment window closed")),
        "{:?}",
        case.cases
    );
    // Nobody signed a dispute: the deadline opened it. The buyer's case comes first.
    assert_eq!(case.opened_by, None);
    let sides: Vec<&str> = case.cases.iter().map(|c| c.side.as_str()).collect();
    assert_eq!(sides, ["buyer", "seller"]);
    assert_eq!(
        (case.amount, case.buyer_deposit, case.seller_deposit),
        (AMOUNT, DEPOSIT, DEPOSIT)
    );
    assert_eq!(case.offer.id, f.trade.offer.id);
    let listed = f.arbitrator().node.disputes().await.unwrap();
    assert_eq!(listed.len(), 1);

    // A decision for anybody else cannot even be written: the shells refuse the text naming the choices.
    let nobody = "nobody".parse::<Winner>().unwrap_err().to_string();
    assert!(nobody.contains("buyer, seller or split"), "{nobody}");
    f.resolve_to(Party::Seller).await;

    // 0.2 LTC sent to the buyer's output after the resolution are not the arbitrator's to decide: they
    // go back to the buyer (the seller's node signs, the buyer's co-signs and broadcasts).
    let view = f.taker().node.trade(id(&f)).await.unwrap().escrow.unwrap();
    let late = 20_000_000;
    f.ltc.fund_escrow(&view, 0, late).await;
    f.ltc.mine(1).await;
    let back = f
        .taker()
        .await_trade(id(&f), "the late coins returned", |t| {
            t.escrow.as_ref().is_some_and(|e| {
                e.returns
                    .iter()
                    .any(|r| r.amount == late && r.txid.is_some())
            })
        })
        .await;
    let txid = back.escrow.unwrap().returns[0].txid.clone().unwrap();
    f.ltc.mine(1).await;
    assert_eq!(
        f.ltc.await_confirmations(&txid.parse().unwrap(), 1).await,
        1
    );
    let got = f.ltc.received_by(&f.payout, 1).await;
    assert!(
        got < Amount::from_sat(late) && got > Amount::from_sat(late - 100_000),
        "{got}"
    );
    f.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_dispute_opened_by_the_buyer_is_won_by_the_buyer() {
    let f = funded_trade(Duration::from_secs(3600)).await;
    f.in_state(f.taker(), "EscrowFunded").await;
    f.taker().node.mark_paid(id(&f)).await.expect("paid");
    f.in_state(f.maker(), "PaymentSent").await;
    // A dispute needs a reason.
    let err = f
        .maker()
        .node
        .dispute_trade(id(&f), "x".repeat(501))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("at most 500"), "{err}");
    // Chat goes to the arbitrator as the party wrote it: markup stays text for the shells to escape.
    let said = "I sent 80 EUR <script>alert(1)</script> by SEPA";
    f.taker()
        .node
        .send_chat(id(&f), said.into())
        .await
        .expect("chat");
    f.taker()
        .node
        .dispute_trade(id(&f), "I paid by SEPA on Monday; no answer since".into())
        .await
        .expect("dispute");
    f.in_state(f.maker(), "Disputed").await;
    let case = f.both_cases().await;
    // Each case carries its own party's reason: the seller gave none.
    let reasons: Vec<(&str, &str)> = case
        .cases
        .iter()
        .map(|c| (c.side.as_str(), c.reason.as_str()))
        .collect();
    assert_eq!(
        reasons,
        [
            ("buyer", "I paid by SEPA on Monday; no answer since"),
            (
                "seller",
                "the other party opened the dispute; this party gave no reason"
            )
        ]
    );
    assert_eq!(
        case.opened_by,
        Some(Party::Buyer),
        "the buyer's signed step"
    );
    let buyer_case = case.cases.iter().find(|c| c.side == Party::Buyer).unwrap();
    assert!(
        buyer_case
            .transcript
            .iter()
            .any(|line| line.ends_with(&format!(" me: {said}"))),
        "{:?}",
        buyer_case.transcript
    );
    f.resolve_to(Party::Buyer).await;
    // A second decision is refused.
    f.cannot_decide(&Decision::to(Party::Seller), "resolved already")
        .await;
    f.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_dispute_opened_by_the_seller_is_won_by_the_seller() {
    let f = funded_trade(Duration::from_secs(3600)).await;
    f.in_state(f.taker(), "EscrowFunded").await;
    f.taker().node.mark_paid(id(&f)).await.expect("paid");
    f.in_state(f.maker(), "PaymentSent").await;
    f.maker()
        .node
        .dispute_trade(id(&f), "nothing arrived on my account".into())
        .await
        .expect("dispute");
    f.in_state(f.taker(), "Disputed").await;
    let case = f.both_cases().await;
    assert!(
        case.cases
            .iter()
            .any(|c| c.side == Party::Seller && c.reason.starts_with("nothing arrived")),
        "{:?}",
        case.cases
    );
    assert_eq!(case.opened_by, Some(Party::Seller));
    // The list puts open disputes first; once decided, the dispute says so.
    assert_eq!(
        f.arbitrator().node.disputes().await.unwrap()[0].resolved_to,
        None
    );
    f.resolve_to(Party::Seller).await;
    f.stop().await;
}

/// The arbitrator sees what the escrow holds on the chain next to the agreed amounts, and splits it: the
/// buyer gets exactly its share, the seller the rest less the fee (the larger share pays it); both
/// parties see the decision with the arbitrator's reason, and each co-signs (the same transaction).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_split_decision_pays_both_parties_their_share() {
    let f = funded_trade(Duration::from_secs(3600)).await;
    let case = f.disputed_by_the_buyer().await;
    assert_eq!(case.decision, None);
    let held = f
        .arbitrator()
        .node
        .dispute_info(id(&f))
        .await
        .unwrap()
        .on_chain
        .expect("the arbitrator sees the escrow on the chain");
    assert_eq!(
        (held.buyer_output, held.seller_output),
        (DEPOSIT, AMOUNT + DEPOSIT)
    );
    let total = AMOUNT + 2 * DEPOSIT;

    let split = |buyer_gets| Decision {
        to: Winner::Split,
        buyer_gets,
        reason: "half the payment arrived: the buyer gets half the coins".into(),
    };
    for (bad, why) in [
        (None, "needs the buyer's share"),
        (Some(0), "more than nothing"),
        (Some(total), "less than"),
    ] {
        f.cannot_decide(&split(bad), why).await;
    }
    let buyer_share = AMOUNT / 2;
    let decided = f
        .arbitrator()
        .node
        .resolve_dispute(id(&f), &split(Some(buyer_share)))
        .await
        .expect("split");
    assert_eq!(decided.resolved_to, Some(Winner::Split));
    let decision = decided.decision.expect("the decision");
    assert_eq!(
        (decision.round, decision.buyer_share, decision.seller_share),
        (1, buyer_share, total - buyer_share)
    );

    let buyer = f.in_state(f.taker(), "Resolved").await;
    let seller = f.in_state(f.maker(), "Resolved").await;
    for view in [&buyer, &seller] {
        let seen = view.escrow.as_ref().unwrap().decision.clone().unwrap();
        assert_eq!(
            (seen.to.as_str(), seen.buyer_share, seen.seller_share),
            ("split", buyer_share, total - buyer_share)
        );
        assert!(
            seen.reason.starts_with("half the payment arrived"),
            "{seen:?}"
        );
    }
    let txid = buyer
        .escrow
        .unwrap()
        .release_txid
        .expect("the buyer broadcast");
    assert_eq!(
        seller.escrow.unwrap().release_txid.as_deref(),
        Some(txid.as_str()),
        "both co-signed the same payout"
    );
    f.ltc.mine(1).await;
    f.ltc.await_confirmations(&txid.parse().unwrap(), 1).await;
    let reserve = souk_core::escrow::anchor_value(souk_core::escrow::Chain::Ltc).to_sat();
    assert_eq!(
        f.ltc.received_by(&f.payout, 1).await,
        Amount::from_sat(buyer_share - reserve),
        "the buyer's share arrives whole, less its fee reserve"
    );
    let seller_got = f.ltc.received_by(&f.refund, 1).await;
    let seller_share = Amount::from_sat(total - buyer_share - reserve);
    assert!(
        seller_got < seller_share && seller_got > seller_share - Amount::from_sat(100_000),
        "the seller's share less its reserve and the fee: {seller_got}"
    );
    // Each party's node pays its own reserve on.
    let on = f.taker().reserve_paid_on(id(&f), &f.ltc).await;
    assert_eq!(on.amount, reserve);
    assert_eq!(
        f.ltc.received_by(&f.payout, 1).await,
        Amount::from_sat(buyer_share - reserve + on.paid_on.expect("paid on"))
    );
    let on = f.maker().reserve_paid_on(id(&f), &f.ltc).await;
    assert!(reserve - on.paid_on.expect("paid on") < 1_000);
    // The escrow is empty now: a new decision has nothing to pay and is refused anyway.
    f.cannot_decide(&Decision::to(Party::Buyer), "resolved already")
        .await;
    f.stop().await;
}

/// An arbitrator whose chain settings ask a fee far above the parties' own estimate: both parties refuse
/// the decision, with their reason; the arbitrator fixes its settings and decides again (round 2), which
/// the parties take and the chain pays. A decision that a party took cannot be replaced.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_refused_decision_is_decided_again() {
    let mut f = funded_trade_with(
        Duration::from_secs(3600),
        |chain| chain.fee_floor_sat_vb = 200,
        test_trades(),
    )
    .await;
    f.disputed_by_the_buyer().await;
    f.arbitrator()
        .node
        .resolve_dispute(id(&f), &Decision::to(Party::Buyer))
        .await
        .expect("first decision");
    let refused = f.both_answers().await.decision.unwrap();
    for answer in [&refused.buyer_answer, &refused.seller_answer] {
        let answer = answer.as_deref().unwrap();
        assert!(
            answer.starts_with("refused: ") && answer.contains("fee"),
            "{answer}"
        );
    }
    assert!(refused.can_decide_again);
    assert_eq!(
        f.taker().node.trade(id(&f)).await.unwrap().state,
        TradeState::Disputed
    );

    // The arbitrator restarts with its fee floor fixed and decides again.
    let arbitrator = f.nodes.remove(1);
    let bootstrap = vec![f.nodes[0].address()];
    let dir = arbitrator.stop().await;
    let restarted =
        TestNode::start_settling(dir, &bootstrap, f.ltc.config.clone(), arbitrating()).await;
    f.nodes.insert(1, restarted);
    let again = f
        .arbitrator()
        .node
        .resolve_dispute(
            id(&f),
            &Decision {
                reason: "decided again at a fee both accept".into(),
                ..Decision::to(Party::Buyer)
            },
        )
        .await
        .expect("second decision");
    assert_eq!(again.decision.as_ref().unwrap().round, 2);
    let won = f.in_state(f.taker(), "Resolved").await;
    let seen = won.escrow.as_ref().unwrap().decision.clone().unwrap();
    assert_eq!((seen.round, seen.to.as_str()), (2, "buyer"));
    let txid = won
        .escrow
        .unwrap()
        .release_txid
        .expect("the buyer broadcast");
    f.ltc.mine(1).await;
    f.ltc.await_confirmations(&txid.parse().unwrap(), 1).await;
    let got = f.ltc.received_by(&f.payout, 1).await;
    let all = Amount::from_sat(AMOUNT + 2 * DEPOSIT);
    assert!(got < all && got > all - Amount::from_sat(100_000), "{got}");
    let taken = f.both_answers().await.decision.unwrap();
    assert_eq!(taken.buyer_answer.as_deref(), Some("stored"));
    assert!(!taken.can_decide_again);
    f.cannot_decide(&Decision::to(Party::Seller), "a party has taken it")
        .await;
    f.stop().await;
}

/// The arbitrator loses its database (the identity is kept) after both cases arrived: the parties send
/// their cases again, the arbitrator decides, and the chain pays the winner.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_arbitrator_that_lost_its_database_gets_the_cases_again() {
    let party = TradeConfig {
        case_resend: Duration::from_secs(1),
        ..test_trades()
    };
    let mut f = funded_trade_with(Duration::from_secs(3600), |_| {}, party).await;
    f.disputed_by_the_buyer().await;
    let arbitrator = f.nodes.remove(1);
    let bootstrap = vec![f.nodes[0].address()];
    let dir = arbitrator.stop().await;
    for file in ["souk.db", "souk.db-wal", "souk.db-shm"] {
        let _ = std::fs::remove_file(dir.join(file));
    }
    let restarted =
        TestNode::start_settling(dir, &bootstrap, f.ltc.config.clone(), arbitrating()).await;
    assert!(
        restarted.node.disputes().await.unwrap().is_empty(),
        "the database is gone"
    );
    f.nodes.insert(1, restarted);
    let back = f.both_cases().await;
    assert_eq!(back.opened_by, Some(Party::Buyer));
    f.resolve_to(Party::Buyer).await;
    f.stop().await;
}

/// The chain node restarts and forgets its mempool right after the winner's node broadcast the
/// resolution: the winner's node broadcasts it again, and the chain pays the winner.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_resolution_the_chain_node_lost_is_broadcast_again() {
    let mut f = funded_trade(Duration::from_secs(3600)).await;
    f.disputed_by_the_buyer().await;
    f.arbitrator()
        .node
        .resolve_dispute(id(&f), &Decision::to(Party::Buyer))
        .await
        .expect("resolve");
    let done = f.in_state(f.taker(), "Resolved").await;
    let txid = done
        .escrow
        .unwrap()
        .release_txid
        .expect("the buyer broadcast");
    f.ltc.await_in_mempool(&txid).await;

    let restarted = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    f.ltc.restart_forgetting_mempool().await;
    let entered = f.ltc.await_in_mempool(&txid).await;
    assert!(
        entered >= restarted,
        "back in the mempool at {entered}, after the restart at {restarted}"
    );
    f.ltc.load_wallet().await;
    f.ltc.mine(1).await;
    f.ltc.await_confirmations(&txid.parse().unwrap(), 1).await;
    let got = f.ltc.received_by(&f.payout, 1).await;
    let all = Amount::from_sat(AMOUNT + 2 * DEPOSIT);
    assert!(
        got < all && got > all - Amount::from_sat(100_000),
        "the buyer got the escrow, less the fee: {got}"
    );
    f.stop().await;
}

/// A third node that learnt the trade id squats on it: it sends the arbitrator a forged case first (an
/// offer of its own naming the arbitrator, itself and a made-up buyer as the parties, so another escrow).
/// The arbitrator holds it, but the chain judges: when the real parties' cases arrive, their escrow holds
/// the coins and the squatter's holds nothing, so theirs replaces it. A forged case sent again is refused,
/// the list and the decision still work, and the chain pays the buyer.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_forged_case_from_a_third_node_neither_holds_nor_breaks_the_dispute() {
    let f = funded_trade(Duration::from_secs(3600)).await;
    let forger = TestNode::start_settling(
        f._dir.path("forger"),
        &[f.nodes[0].address()],
        f.ltc.config.clone(),
        test_trades(),
    )
    .await;
    let arbitrator: libp2p::PeerId = f.arbitrator().info.peer_id.parse().unwrap();
    let squatted = forger
        .node
        .send_forged_case(arbitrator, id(&f))
        .await
        .expect("the forged case reaches the arbitrator");
    assert_eq!(
        squatted, None,
        "nothing is held yet: the arbitrator holds the squatter's case"
    );
    let held = f.arbitrator().node.dispute_info(id(&f)).await.unwrap();
    assert_eq!(held.seller, forger.info.peer_id);

    let real = f.disputed_by_the_buyer().await;
    assert_eq!(
        real.seller,
        f.maker().info.peer_id,
        "the real parties' case replaced it"
    );
    assert_eq!(real.buyer, f.taker().info.peer_id);
    assert_eq!(real.cases.len(), 2);
    assert_ne!(real.escrow_address, held.escrow_address);

    let refused = forger
        .node
        .send_forged_case(arbitrator, id(&f))
        .await
        .expect("the forged case reaches the arbitrator")
        .expect("refused");
    assert!(
        refused.contains("does not match the dispute held"),
        "{refused}"
    );
    let after = f.arbitrator().node.dispute_info(id(&f)).await.unwrap();
    assert_eq!(
        (
            after.buyer.as_str(),
            after.seller.as_str(),
            after.cases.len()
        ),
        (real.buyer.as_str(), real.seller.as_str(), 2)
    );
    let list = f.arbitrator().node.disputes().await.unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].trade_id, id(&f));
    f.resolve_to(Party::Buyer).await;
    forger.stop().await;
    f.stop().await;
}

/// The chain stops mining the resolution's fee rate: litecoind takes nothing under 5 litoshi/vB into a
/// block, the arbitrator built the payout at 1, and the winning buyer's node now asks 10. Three blocks on,
/// the buyer's node spends its share's fee reserve in a child that lifts both, and the next block takes
/// them: the buyer gets the escrow less the fees.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_resolution_stuck_at_a_low_fee_is_lifted_by_the_winner_s_reserve() {
    let ltc = Litecoind::start_with(souk_tests::regtest::LitecoindOptions {
        block_min_fee_sat_vb: Some(5),
        ..Default::default()
    })
    .await;
    let f = funded_trade_on(
        ltc,
        Duration::from_secs(3600),
        |_| {},
        test_trades(),
        |chain| chain.fee_floor_sat_vb = 10,
    )
    .await;
    f.disputed_by_the_buyer().await;
    f.arbitrator()
        .node
        .resolve_dispute(id(&f), &Decision::to(Party::Buyer))
        .await
        .expect("resolve");
    let done = f.in_state(f.taker(), "Resolved").await;
    let txid = done
        .escrow
        .unwrap()
        .release_txid
        .expect("the buyer broadcast");
    f.ltc.await_in_mempool(&txid).await;
    f.ltc.mine(3).await;
    let lifted = f
        .taker()
        .await_trade(id(&f), "the reserve lifting the payout", |t| {
            t.escrow
                .as_ref()
                .and_then(|e| e.fee_reserve.as_ref())
                .is_some_and(|r| r.how.as_deref() == Some("bumped"))
        })
        .await;
    let reserve = lifted.escrow.unwrap().fee_reserve.unwrap();
    let child = reserve.txid.clone().expect("the child");
    let parsed: bitcoin::Txid = txid.parse().unwrap();
    assert_eq!(
        f.ltc.confirmations(&parsed).await,
        Some(0),
        "three blocks did not take the payout at 1 litoshi/vB"
    );
    f.ltc.await_in_mempool(&child).await;
    f.ltc.mine(1).await;
    f.ltc.await_confirmations(&parsed, 1).await;
    f.ltc.await_confirmations(&child.parse().unwrap(), 1).await;
    let got = f.ltc.received_by(&f.payout, 1).await;
    let all = Amount::from_sat(AMOUNT + 2 * DEPOSIT);
    assert!(
        got < all && got > all - Amount::from_sat(100_000),
        "the buyer got the escrow, less the fees: {got}"
    );
    // The payout itself (the escrow less the reserve and the arbitrator's low fee), then the reserve
    // less the child's fee, which paid for both.
    let payout = got - Amount::from_sat(reserve.paid_on.expect("paid on"));
    let without_reserve = all - Amount::from_sat(reserve.amount);
    assert!(
        payout < without_reserve && payout > without_reserve - Amount::from_sat(2_000),
        "{payout}"
    );
    f.stop().await;
}
