//! Every funding path of an escrow trade ends with the coins where they belong, on a real Litecoin
//! regtest chain that is the judge: the balances at the parties' payout and refund addresses are checked,
//! not the trade state alone. Each party funds its own escrow output, so the chain itself says whose coins
//! are whose; whatever is nobody else's (a cancelled or expired trade's funding, surplus, coins that came
//! late) goes back to whoever sent it, co-signed by the counterparty's node, or by the funder alone once
//! the reclaim lock has passed when everyone else is gone.

use std::time::Duration;

use bitcoin::Amount;
use souk_core::{
    config::ChainConfig,
    trading::{Decision, Party, TradeConfig, TradeInfo, TradeState},
};
use souk_tests::{
    TestDir, TestNode, agree_ltc_escrow_trade,
    regtest::{Litecoind, LitecoindOptions},
    test_trades,
};
use uuid::Uuid;

/// 1 LTC.
const AMOUNT: u64 = 100_000_000;
/// 15 % of it.
const DEPOSIT: u64 = 15_000_000;
/// The most a return or release may cost in fees here (regtest pays 1 sat/vB).
const FEE_BOUND: u64 = 100_000;

/// Boot node, arbitrator, maker (the seller) and taker (the buyer) with an agreed escrow trade whose
/// addresses are given: both in EscrowFunding.
struct Escrowed {
    dir: TestDir,
    boot: TestNode,
    arbitrator: TestNode,
    seller: TestNode,
    buyer: TestNode,
    trade: Uuid,
    /// Where the buyer's coins go (its payout) and the seller's (its refund).
    payout: String,
    refund: String,
    funding: TradeInfo,
}

impl Escrowed {
    async fn start(ltc: &Litecoind, trades: TradeConfig) -> Self {
        Self::start_with(ltc, trades, ltc.config.clone()).await
    }

    /// [`Self::start`] with the buyer's node on its own chain settings.
    async fn start_with(ltc: &Litecoind, trades: TradeConfig, buyer_chain: ChainConfig) -> Self {
        Self::start_on(ltc, trades, ltc.config.clone(), buyer_chain).await
    }

    /// [`Self::start`] with the nodes on `chain` (the buyer's on `buyer_chain`): the run's backend
    /// ([`Litecoind::config`]) or the node's RPC itself ([`Litecoind::core`]).
    async fn start_on(
        ltc: &Litecoind,
        trades: TradeConfig,
        chain: ChainConfig,
        buyer_chain: ChainConfig,
    ) -> Self {
        let dir = TestDir::new();
        let boot = TestNode::start(dir.path("boot"), &[]).await;
        let bootstrap = vec![boot.address()];
        let settling = |name: &str, trades: TradeConfig| {
            TestNode::start_settling(dir.path(name), &bootstrap, chain.clone(), trades)
        };
        let arbitrator = settling(
            "arbitrator",
            TradeConfig {
                arbitrator: true,
                ..test_trades()
            },
        )
        .await;
        let seller = settling("seller", trades.clone()).await;
        let buyer =
            TestNode::start_settling(dir.path("buyer"), &bootstrap, buyer_chain, trades).await;
        let payout = ltc.new_address().await;
        let trade = agree_ltc_escrow_trade(&seller, &buyer, &arbitrator, AMOUNT, &payout)
            .await
            .id;
        in_state(&seller, trade, "Accepted").await;
        let refund = ltc.new_address().await;
        seller
            .node
            .set_escrow_address(trade, &refund)
            .await
            .expect("refund address");
        in_state(&seller, trade, "EscrowFunding").await;
        let funding = in_state(&buyer, trade, "EscrowFunding").await;
        Self {
            dir,
            boot,
            arbitrator,
            seller,
            buyer,
            trade,
            payout,
            refund,
            funding,
        }
    }

    async fn stop(self) {
        for node in [self.buyer, self.seller, self.arbitrator, self.boot] {
            node.stop().await;
        }
    }
}

async fn in_state(node: &TestNode, trade: Uuid, state: &str) -> TradeInfo {
    node.await_trade(trade, state, |t| t.state.as_str() == state)
        .await
}

/// Waits until `node` broadcast the return of `amount` (what the outputs held) to its own address.
async fn returned(node: &TestNode, trade: Uuid, amount: u64) -> String {
    let view = node
        .await_trade(trade, "its coins returned", |t| {
            t.escrow.as_ref().is_some_and(|e| {
                e.returns
                    .iter()
                    .any(|r| r.amount == amount && r.txid.is_some())
            })
        })
        .await;
    let escrow = view.escrow.expect("an escrow");
    let r = escrow
        .returns
        .iter()
        .find(|r| r.amount == amount && r.txid.is_some())
        .expect("the return");
    r.txid.clone().expect("a txid")
}

/// Waits until `arbitrator` holds `side`'s case of `trade`.
async fn has_case(arbitrator: &TestNode, trade: Uuid, side: Party) {
    let mut events = arbitrator.node.trade_events();
    let wait = async {
        loop {
            if let Ok(d) = arbitrator.node.dispute_info(trade).await
                && d.cases.iter().any(|c| c.side == side)
            {
                return;
            }
            let _ = events.recv().await;
        }
    };
    tokio::time::timeout(souk_tests::DEADLINE, wait)
        .await
        .unwrap_or_else(|_| panic!("the arbitrator never got the {side}'s case"));
}

/// The buyer's payout address holds the amount and the buyer's deposit less the release's fee reserve;
/// once the buyer's node paid the reserve on, all of it less the reserve child's small fee. The seller
/// paid the release's fee.
async fn paid_in_full(ltc: &Litecoind, e: &Escrowed) {
    let reserve = souk_core::escrow::anchor_value(souk_core::escrow::Chain::Ltc).to_sat();
    let before = ltc.received_by(&e.payout, 1).await;
    let on = e.buyer.reserve_paid_on(e.trade, ltc).await;
    assert_eq!(on.amount, reserve);
    assert_eq!(
        before,
        Amount::from_sat(AMOUNT + DEPOSIT - reserve),
        "the release pays the amount and the deposit, less the reserve"
    );
    let paid_on = on.paid_on.expect("paid on");
    assert!(
        paid_on < reserve && reserve - paid_on < 1_000,
        "a small fee for the child: {paid_on} of {reserve}"
    );
    assert_eq!(
        ltc.received_by(&e.payout, 1).await,
        Amount::from_sat(AMOUNT + DEPOSIT - reserve + paid_on)
    );
}

/// `got` is `sent` less a fee, never more.
fn less_a_fee(got: Amount, sent: u64) {
    assert!(
        got < Amount::from_sat(sent) && got > Amount::from_sat(sent - FEE_BOUND),
        "{got} for {sent} sent"
    );
}

fn short_funding() -> TradeConfig {
    TradeConfig {
        funding_window: Duration::from_secs(4),
        ..test_trades()
    }
}

/// The buyer cancels after the seller locked 1.15 LTC: the trade is cancelled, and the seller's coins go
/// back to its refund address, co-signed by the buyer's node.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cancel_after_the_seller_funded_returns_its_coins() {
    let ltc = Litecoind::start().await;
    let e = Escrowed::start(&ltc, test_trades()).await;
    let escrow = e.funding.escrow.clone().unwrap();
    ltc.fund_escrow(&escrow, AMOUNT + DEPOSIT, 0).await;
    ltc.mine(1).await;
    e.seller
        .await_trade(e.trade, "the seller's output funded", |t| {
            t.escrow
                .as_ref()
                .is_some_and(|e| e.seller_funded == AMOUNT + DEPOSIT)
        })
        .await;
    e.buyer
        .node
        .cancel_trade(e.trade, "changed my mind".into())
        .await
        .expect("cancel");
    in_state(&e.seller, e.trade, "Cancelled").await;
    let txid = returned(&e.seller, e.trade, AMOUNT + DEPOSIT).await;
    let signed = e.buyer.node.trade(e.trade).await.unwrap().escrow.unwrap();
    assert!(
        signed
            .returns
            .iter()
            .any(|r| r.funder == Party::Seller && r.how == "signed"),
        "{:?}",
        signed.returns
    );
    ltc.mine(1).await;
    assert_eq!(ltc.await_confirmations(&txid.parse().unwrap(), 1).await, 1);
    less_a_fee(ltc.received_by(&e.refund, 1).await, AMOUNT + DEPOSIT);
    assert_eq!(ltc.received_by(&e.payout, 0).await, Amount::ZERO);
    e.stop().await;
}

/// One party funds its output; the other never funds and is gone for good (process stopped): at the
/// funding deadline the trade expires, and the arbitrator co-signs the funder's return at once (the other
/// output holds nothing, so no payment can have happened), without the reclaim lock. Each way.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_party_that_never_funds_and_vanishes_does_not_hold_the_other_s_coins() {
    for (funder, sent) in [("seller", AMOUNT + DEPOSIT), ("buyer", DEPOSIT)] {
        let ltc = Litecoind::start().await;
        let e = Escrowed::start(&ltc, short_funding()).await;
        let escrow = e.funding.escrow.clone().unwrap();
        let (stays, gone, address) = if funder == "seller" {
            ltc.fund_escrow(&escrow, sent, 0).await;
            (e.seller, e.buyer, e.refund)
        } else {
            ltc.fund_escrow(&escrow, 0, sent).await;
            (e.buyer, e.seller, e.payout)
        };
        gone.stop().await;
        ltc.mine(1).await;
        in_state(&stays, e.trade, "Expired").await;
        let txid = returned(&stays, e.trade, sent).await;
        let view = stays.node.trade(e.trade).await.unwrap().escrow.unwrap();
        assert!(
            view.returns
                .iter()
                .any(|r| r.how == "arbitrated" && r.txid.as_deref() == Some(txid.as_str())),
            "the {funder}'s return, co-signed by the arbitrator: {:?}",
            view.returns
        );
        ltc.mine(1).await;
        assert_eq!(ltc.await_confirmations(&txid.parse().unwrap(), 1).await, 1);
        less_a_fee(ltc.received_by(&address, 1).await, sent);
        for node in [stays, e.arbitrator, e.boot] {
            node.stop().await;
        }
        drop(e.dir);
    }
}

/// A lying buyer (its node restarted without a chain, so it never broadcasts) claims a release that is
/// not the one the seller signed: the seller refuses the step, does not move, and its release deadline
/// still brings in the arbitrator.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_fake_released_txid_is_refused_and_the_deadline_still_fires() {
    let ltc = Litecoind::start().await;
    let trades = TradeConfig {
        release_window: Duration::from_secs(15),
        ..test_trades()
    };
    let e = Escrowed::start(&ltc, trades).await;
    let escrow = e.funding.escrow.clone().unwrap();
    ltc.fund_escrow(&escrow, AMOUNT + DEPOSIT, DEPOSIT).await;
    ltc.mine(1).await;
    in_state(&e.buyer, e.trade, "EscrowFunded").await;
    e.buyer.node.mark_paid(e.trade).await.expect("paid");
    in_state(&e.seller, e.trade, "PaymentSent").await;
    let buyer_dir = e.buyer.stop().await;
    e.seller
        .node
        .mark_received(e.trade)
        .await
        .expect("payment received");
    let liar = TestNode::start(buyer_dir, &[e.boot.address()]).await;
    in_state(&liar, e.trade, "PaymentConfirmed").await;
    let fake = "11".repeat(32);
    let refusal = liar
        .node
        .send_unchecked_step(
            e.trade,
            souk_core::protocol::settlement::StepBody::Released { txid: fake },
        )
        .await
        .expect("sent")
        .expect("refused");
    assert!(
        refusal.contains("not the release this seller signed"),
        "{refusal}"
    );
    let seller = in_state(&e.seller, e.trade, "Disputed").await;
    let kinds: Vec<&str> = seller.steps.iter().map(|s| s.kind.as_str()).collect();
    assert!(kinds.contains(&"release_expired"), "{kinds:?}");
    assert!(!kinds.contains(&"released"), "{kinds:?}");
    assert_eq!(seller.escrow.unwrap().release_txid, None);
    for node in [liar, e.seller, e.arbitrator, e.boot] {
        node.stop().await;
    }
}

/// The funding window closes with the seller's output only partly funded and the buyer's deposit in:
/// the trade expires and each party gets its own coins back; no deposit pays for the other's failure.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_short_funding_at_the_deadline_returns_each_partys_own_coins() {
    let ltc = Litecoind::start().await;
    let e = Escrowed::start(&ltc, short_funding()).await;
    let escrow = e.funding.escrow.clone().unwrap();
    let partly = AMOUNT / 2;
    ltc.fund_escrow(&escrow, partly, DEPOSIT).await;
    ltc.mine(1).await;
    for node in [&e.seller, &e.buyer] {
        in_state(node, e.trade, "Expired").await;
    }
    let seller_back = returned(&e.seller, e.trade, partly).await;
    let buyer_back = returned(&e.buyer, e.trade, DEPOSIT).await;
    ltc.mine(1).await;
    for txid in [seller_back, buyer_back] {
        assert_eq!(ltc.await_confirmations(&txid.parse().unwrap(), 1).await, 1);
    }
    less_a_fee(ltc.received_by(&e.refund, 1).await, partly);
    less_a_fee(ltc.received_by(&e.payout, 1).await, DEPOSIT);
    e.stop().await;
}

/// The seller sends 0.3 LTC too much: the release still pays the buyer exactly the amount and its
/// deposit, and the surplus goes back to the seller with its deposit. Coins the seller sends after the
/// trade completed go back to it too.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn surplus_and_late_coins_go_back_to_their_sender() {
    let ltc = Litecoind::start().await;
    let e = Escrowed::start(&ltc, test_trades()).await;
    let escrow = e.funding.escrow.clone().unwrap();
    let surplus = 30_000_000;
    ltc.fund_escrow(&escrow, AMOUNT + DEPOSIT + surplus, DEPOSIT)
        .await;
    ltc.mine(1).await;
    in_state(&e.seller, e.trade, "EscrowFunded").await;
    in_state(&e.buyer, e.trade, "EscrowFunded").await;
    e.buyer.node.mark_paid(e.trade).await.expect("paid");
    in_state(&e.seller, e.trade, "PaymentSent").await;
    e.seller
        .node
        .mark_received(e.trade)
        .await
        .expect("received");
    in_state(&e.buyer, e.trade, "Released").await;
    in_state(&e.seller, e.trade, "Released").await;
    ltc.mine(1).await;
    in_state(&e.buyer, e.trade, "Completed").await;
    in_state(&e.seller, e.trade, "Completed").await;
    less_a_fee(ltc.received_by(&e.refund, 1).await, DEPOSIT + surplus);
    paid_in_full(&ltc, &e).await;

    // 0.2 LTC sent to the seller's output after the trade is over.
    let late = 20_000_000;
    let before = ltc.received_by(&e.refund, 1).await;
    ltc.fund_escrow(&escrow, late, 0).await;
    ltc.mine(1).await;
    let txid = returned(&e.seller, e.trade, late).await;
    ltc.mine(1).await;
    assert_eq!(ltc.await_confirmations(&txid.parse().unwrap(), 1).await, 1);
    less_a_fee(ltc.received_by(&e.refund, 1).await - before, late);
    e.stop().await;
}

/// The seller funds, then the buyer's node and the arbitrator vanish for good (the arbitrator's data
/// directory deleted). Nobody co-signs anything; once the reclaim lock has passed on the seller's output,
/// the seller's node takes its coins back alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_funder_gets_out_alone_when_everyone_else_is_gone() {
    let ltc = Litecoind::start().await;
    let e = Escrowed::start(&ltc, short_funding()).await;
    let escrow = e.funding.escrow.clone().unwrap();
    ltc.fund_escrow(&escrow, AMOUNT + DEPOSIT, 0).await;
    let Escrowed {
        dir,
        boot,
        arbitrator,
        seller,
        buyer,
        trade,
        refund,
        payout: _,
        funding: _,
    } = e;
    buyer.stop().await;
    let gone = arbitrator.stop().await;
    std::fs::remove_dir_all(&gone).expect("the arbitrator's data dir deleted");
    ltc.mine(1).await;
    in_state(&seller, trade, "Expired").await;
    let reclaim = escrow.reclaim_after_blocks;
    ltc.mine(reclaim).await;
    let txid = returned(&seller, trade, AMOUNT + DEPOSIT).await;
    let view = seller.node.trade(trade).await.unwrap().escrow.unwrap();
    assert!(
        view.returns.iter().any(|r| r.how == "reclaimed"),
        "{:?}",
        view.returns
    );
    ltc.mine(1).await;
    assert_eq!(ltc.await_confirmations(&txid.parse().unwrap(), 1).await, 1);
    less_a_fee(ltc.received_by(&refund, 1).await, AMOUNT + DEPOSIT);
    seller.stop().await;
    boot.stop().await;
    drop(dir);
}

/// A reorg takes the funding away after the escrow counted it: the trade goes back to waiting for the
/// funds and the buyer cannot mark a payment meanwhile; once the chain has the funding again, it goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_reorged_funding_is_waited_for_again() {
    let ltc = Litecoind::start().await;
    let e = Escrowed::start(&ltc, test_trades()).await;
    let escrow = e.funding.escrow.clone().unwrap();
    ltc.fund_escrow(&escrow, AMOUNT + DEPOSIT, DEPOSIT).await;
    let mined = ltc.mine(1).await;
    in_state(&e.buyer, e.trade, "EscrowFunded").await;
    in_state(&e.seller, e.trade, "EscrowFunded").await;
    // A longer chain without the funding replaces the block that held it (an Electrum server follows a
    // reorg when blocks come, not when its node merely steps back).
    ltc.call("invalidateblock", serde_json::json!([mined[0]]))
        .await;
    let elsewhere = ltc.new_address().await;
    for _ in 0..2 {
        ltc.call("generateblock", serde_json::json!([elsewhere, []]))
            .await;
    }
    let back = in_state(&e.buyer, e.trade, "EscrowFunding").await;
    assert!(
        back.steps.iter().any(|s| s.kind == "funding_lost"),
        "{:?}",
        back.steps
    );
    let err = e.buyer.node.mark_paid(e.trade).await.unwrap_err();
    assert!(err.to_string().contains("EscrowFunding"), "{err}");
    // The funding is back in the mempool; the next block confirms it again and the trade goes on.
    ltc.mine(1).await;
    in_state(&e.buyer, e.trade, "EscrowFunded").await;
    e.stop().await;
}

/// Funding shows the second the chain node has it: "seen, unconfirmed" in both parties' views and logs
/// before any block. A funding replaced in the mempool by a double spend (never mined) is noted as gone
/// and the trade keeps waiting; the funding that does confirm moves the trade on, its confirmations
/// counting up. Nothing here ever counts unconfirmed coins as funded.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn funding_is_seen_in_the_mempool_and_a_replaced_one_is_waited_for_again() {
    let ltc = Litecoind::start().await;
    let e = Escrowed::start(&ltc, test_trades()).await;
    let escrow = e.funding.escrow.clone().unwrap();
    let seller_address = escrow.seller_escrow_address.clone().unwrap();
    // Replaceable (BIP 125), so the wallet can double-spend it below.
    let first = ltc
        .send_replaceable(&seller_address, Amount::from_sat(AMOUNT + DEPOSIT))
        .await;
    for node in [&e.seller, &e.buyer] {
        let seen = node
            .await_trade(e.trade, "the funding seen in the mempool", |t| {
                t.escrow
                    .as_ref()
                    .is_some_and(|x| x.pending_funding.iter().any(|p| p.txid == first))
            })
            .await;
        assert_eq!(seen.state, TradeState::EscrowFunding);
        assert!(
            seen.steps.iter().any(|s| s.kind == "funding_seen"),
            "{:?}",
            seen.steps
        );
        if seen.role == souk_core::trading::TradeRole::Maker {
            // The seller is told its coins are on the way, not asked to send them again.
            assert!(
                seen.next_step
                    .contains("1.15 LTC seen, waiting for a block"),
                "{}",
                seen.next_step
            );
        }
        let view = seen.escrow.unwrap();
        assert_eq!(view.seller_funded, 0, "unconfirmed coins never count");
        let p = &view.pending_funding[0];
        assert_eq!((p.funder.as_str(), p.value), ("seller", AMOUNT + DEPOSIT));
    }
    assert_eq!(ltc.confirmations(&first.parse().unwrap()).await, Some(0));

    // The same coins, spent back to the wallet at a higher fee: the funding leaves the mempool.
    ltc.replace_in_mempool(&first).await;
    assert_eq!(ltc.confirmations(&first.parse().unwrap()).await, None);
    let gone = e
        .seller
        .await_trade(e.trade, "the replaced funding noted as gone", |t| {
            t.steps.iter().any(|s| s.kind == "funding_dropped")
        })
        .await;
    assert_eq!(
        gone.state,
        TradeState::EscrowFunding,
        "still waiting for funding"
    );
    assert!(gone.escrow.unwrap().pending_funding.is_empty());
    ltc.mine(1).await;
    let waiting = in_state(&e.seller, e.trade, "EscrowFunding").await;
    assert_eq!(waiting.escrow.unwrap().seller_funded, 0);

    // Funded for real: seen first, then confirmed, and the trade goes on.
    let sent = ltc.fund_escrow(&escrow, AMOUNT + DEPOSIT, DEPOSIT).await;
    e.buyer
        .await_trade(e.trade, "both fundings seen", |t| {
            t.escrow.as_ref().is_some_and(|x| {
                sent.iter()
                    .all(|s| x.pending_funding.iter().any(|p| p.txid == s.to_string()))
            })
        })
        .await;
    ltc.mine(1).await;
    let funded = in_state(&e.buyer, e.trade, "EscrowFunded").await;
    let view = funded.escrow.unwrap();
    assert!(
        view.pending_funding.is_empty(),
        "{:?}",
        view.pending_funding
    );
    assert_eq!(view.funding_confirmations, 1);
    let kinds: Vec<&str> = funded.steps.iter().map(|s| s.kind.as_str()).collect();
    let seen_at = kinds.iter().rposition(|k| *k == "funding_seen").unwrap();
    let funded_at = kinds.iter().position(|k| *k == "funded").unwrap();
    assert!(seen_at < funded_at, "seen before funded: {kinds:?}");
    e.stop().await;
}

/// Each party pays its escrow output from a wallet of its chain node: first only built (amount, fee and
/// an unsigned PSBT that decodes to exactly the funding owed, nothing sent), then signed and broadcast;
/// a second payment is refused, and a wallet the node does not have is named. A node wallet is Core's:
/// the nodes talk to the node's RPC even in a run through an Electrum server.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_party_funds_its_escrow_from_its_node_wallet() {
    let ltc = Litecoind::start().await;
    let e = Escrowed::start_on(&ltc, test_trades(), ltc.core.clone(), ltc.core.clone()).await;
    let escrow = e.funding.escrow.clone().unwrap();
    let seller_address = escrow.seller_escrow_address.clone().unwrap();

    let err = e
        .seller
        .node
        .fund_from_wallet(e.trade, "nope", false)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no wallet `nope`"), "{err}");
    let err = e
        .seller
        .node
        .fund_from_wallet(e.trade, "../souk-test", false)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("letters, digits"), "{err}");

    let plan = e
        .seller
        .node
        .fund_from_wallet(e.trade, "souk-test", false)
        .await
        .expect("a funding plan");
    assert_eq!(
        (
            plan.amount,
            plan.address.as_str(),
            plan.asset.to_string().as_str()
        ),
        (AMOUNT + DEPOSIT, seller_address.as_str(), "LTC")
    );
    assert!(plan.fee > 0 && plan.fee < 100_000, "{}", plan.fee);
    assert_eq!(plan.txid, None);
    let decoded = ltc.call("decodepsbt", serde_json::json!([plan.psbt])).await;
    let to_escrow: Vec<&serde_json::Value> = decoded["tx"]["vout"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["scriptPubKey"]["addresses"][0] == seller_address.as_str())
        .collect();
    assert_eq!(to_escrow.len(), 1, "{decoded}");
    assert_eq!(
        Amount::from_btc(to_escrow[0]["value"].as_f64().unwrap()).unwrap(),
        Amount::from_sat(AMOUNT + DEPOSIT)
    );
    let mempool = ltc.call("getrawmempool", serde_json::json!([])).await;
    assert_eq!(mempool, serde_json::json!([]), "nothing sent before --yes");

    let sent = e
        .seller
        .node
        .fund_from_wallet(e.trade, "souk-test", true)
        .await
        .expect("funded");
    let txid = sent.txid.clone().expect("broadcast");
    ltc.await_in_mempool(&txid).await;
    e.seller
        .await_trade(e.trade, "its funding seen", |t| {
            t.escrow
                .as_ref()
                .is_some_and(|x| x.pending_funding.iter().any(|p| p.txid == txid))
        })
        .await;
    let again = e
        .seller
        .node
        .fund_from_wallet(e.trade, "souk-test", true)
        .await
        .unwrap_err();
    assert!(again.to_string().contains("already holds"), "{again}");

    let buyer = e
        .buyer
        .node
        .fund_from_wallet(e.trade, "souk-test", true)
        .await
        .expect("the buyer funded");
    assert_eq!(buyer.amount, DEPOSIT);
    ltc.await_in_mempool(buyer.txid.as_deref().unwrap()).await;
    ltc.mine(1).await;
    let funded = in_state(&e.seller, e.trade, "EscrowFunded").await;
    let view = funded.escrow.unwrap();
    assert_eq!(
        (view.seller_funded, view.buyer_funded),
        (AMOUNT + DEPOSIT, DEPOSIT)
    );
    e.stop().await;
}

/// The buyer said it paid and the seller never answers: at the deadline the trade goes to the arbitrator.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_silent_seller_after_payment_sent_brings_in_the_arbitrator() {
    let ltc = Litecoind::start().await;
    let trades = TradeConfig {
        payment_window: Some(Duration::from_secs(6)),
        ..test_trades()
    };
    let e = Escrowed::start(&ltc, trades).await;
    let escrow = e.funding.escrow.clone().unwrap();
    ltc.fund_escrow(&escrow, AMOUNT + DEPOSIT, DEPOSIT).await;
    ltc.mine(1).await;
    in_state(&e.buyer, e.trade, "EscrowFunded").await;
    e.buyer.node.mark_paid(e.trade).await.expect("paid");
    let disputed = in_state(&e.buyer, e.trade, "Disputed").await;
    assert!(
        disputed.steps.iter().any(|s| s.kind == "confirm_expired"),
        "{:?}",
        disputed.steps
    );
    // The buyer's node sends its case; the arbitrator's list shows it.
    let arbitrator = &e.arbitrator;
    has_case(arbitrator, e.trade, Party::Buyer).await;
    e.stop().await;
}

/// The buyer paid, the seller falls silent, and the arbitrator is gone for good (process stopped, data
/// directory deleted). Once the backup lock has passed on the escrow outputs, the buyer's node sends its
/// case to the offer's second arbitrator, who decides; the buyer co-signs on the backup branch and the
/// chain pays it the whole escrow.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_backup_arbitrator_decides_when_the_arbitrator_is_gone() {
    let ltc = Litecoind::start().await;
    let dir = TestDir::new();
    let boot = TestNode::start(dir.path("boot"), &[]).await;
    let bootstrap = vec![boot.address()];
    let settling = |name: &str, trades: TradeConfig| {
        TestNode::start_settling(dir.path(name), &bootstrap, ltc.config.clone(), trades)
    };
    let arbitrating = || TradeConfig {
        arbitrator: true,
        ..test_trades()
    };
    let first = settling("first", arbitrating()).await;
    let backup = settling("backup", arbitrating()).await;
    let trades = TradeConfig {
        payment_window: Some(Duration::from_secs(6)),
        ..test_trades()
    };
    let seller = settling("seller", trades.clone()).await;
    let buyer = settling("buyer", trades).await;
    let mut new = souk_tests::ltc_escrow_offer(first.info.peer_id.parse().unwrap());
    new.escrow = souk_core::offer::EscrowKind::Multisig {
        arbitrators: vec![
            first.info.peer_id.parse().unwrap(),
            backup.info.peer_id.parse().unwrap(),
        ],
    };
    let offer = seller.node.post_offer(new).await.expect("post");
    buyer
        .node
        .refresh_market(
            souk_core::offer::Asset::Ltc,
            souk_core::offer::Quote::Fiat(souk_core::offer::Fiat::Eur),
        )
        .await
        .expect("refresh");
    buyer.await_offer(offer.id).await;
    let payout = ltc.new_address().await;
    let trade = buyer
        .node
        .take_offer(
            offer.id,
            AMOUNT,
            souk_core::offer::PaymentMethod::new("SEPA").unwrap(),
            payout.clone(),
        )
        .await
        .expect("take")
        .id;
    seller
        .node
        .answer_trade(trade, souk_core::trading::TradeAnswer::Accept)
        .await
        .expect("accept");
    in_state(&seller, trade, "Accepted").await;
    let refund = ltc.new_address().await;
    seller
        .node
        .set_escrow_address(trade, &refund)
        .await
        .expect("refund address");
    let funding = in_state(&buyer, trade, "EscrowFunding").await;
    let escrow = funding.escrow.unwrap();
    assert_eq!(
        escrow.backup_arbitrator.as_deref(),
        Some(backup.info.peer_id.as_str())
    );
    ltc.fund_escrow(&escrow, AMOUNT + DEPOSIT, DEPOSIT).await;
    ltc.mine(1).await;
    in_state(&seller, trade, "EscrowFunded").await;
    in_state(&buyer, trade, "EscrowFunded").await;

    // The arbitrator vanishes for good; the buyer pays and the seller goes silent.
    let gone = first.stop().await;
    std::fs::remove_dir_all(&gone).expect("the arbitrator's data dir deleted");
    buyer.node.mark_paid(trade).await.expect("paid");
    in_state(&seller, trade, "PaymentSent").await;
    let seller_dir = seller.stop().await;
    in_state(&buyer, trade, "Disputed").await;

    // The backup lock passes; the buyer's case reaches the backup, who decides for the buyer.
    ltc.mine(escrow.backup_after_blocks).await;
    has_case(&backup, trade, Party::Buyer).await;
    backup
        .node
        .resolve_dispute(trade, &Decision::to(Party::Buyer))
        .await
        .expect("resolve");
    in_state(&buyer, trade, "Resolved").await;
    ltc.mine(1).await;
    let all = AMOUNT + 2 * DEPOSIT;
    let got = ltc.received_by(&payout, 1).await;
    assert!(
        got < Amount::from_sat(all) && got > Amount::from_sat(all - FEE_BOUND),
        "the buyer gets the whole escrow less the fee: {got}"
    );
    assert_eq!(ltc.received_by(&refund, 0).await, Amount::ZERO);
    drop(seller_dir);
    for node in [buyer, backup, boot] {
        node.stop().await;
    }
}

/// The taker approves the arbitrator before any coin moves: an arbitrator that is a party, one the taker
/// excluded, one outside the taker's accepted set, and a maker's puppet that no arbitrator node announces
/// are each refused with the reason; the announced arbitrator a default taker accepts.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_taker_approves_the_arbitrator_before_any_coin_moves() {
    let ltc = Litecoind::start().await;
    let dir = TestDir::new();
    let boot = TestNode::start(dir.path("boot"), &[]).await;
    let bootstrap = vec![boot.address()];
    let settling = |name: &str, trades: TradeConfig| {
        TestNode::start_settling(dir.path(name), &bootstrap, ltc.config.clone(), trades)
    };
    let arbitrator = settling(
        "arbitrator",
        TradeConfig {
            arbitrator: true,
            ..test_trades()
        },
    )
    .await;
    let arbitrator_id: libp2p::PeerId = arbitrator.info.peer_id.parse().unwrap();
    let maker = settling("maker", test_trades()).await;
    let puppet = libp2p::PeerId::random();
    let honest = maker
        .node
        .post_offer(souk_tests::ltc_escrow_offer(arbitrator_id))
        .await
        .expect("post");
    let puppeted = maker
        .node
        .post_offer(souk_tests::ltc_escrow_offer(puppet))
        .await
        .expect("post");
    async fn take(node: &TestNode, offer: Uuid) -> Result<TradeInfo, String> {
        node.node
            .refresh_market(
                souk_core::offer::Asset::Ltc,
                souk_core::offer::Quote::Fiat(souk_core::offer::Fiat::Eur),
            )
            .await
            .expect("refresh");
        node.node
            .take_offer(
                offer,
                AMOUNT,
                souk_core::offer::PaymentMethod::new("SEPA").unwrap(),
                String::new(),
            )
            .await
            .map_err(|e| e.to_string())
    }
    let refused = |result: Result<TradeInfo, String>, why: &str| {
        let err = result.expect_err("refused");
        assert!(err.contains(why), "{err}");
    };
    for offer in [honest.id, puppeted.id] {
        arbitrator.await_offer(offer).await;
    }
    // The arbitrator itself may not take an offer it arbitrates.
    refused(take(&arbitrator, honest.id).await, "a party of this trade");
    let excluding = settling(
        "excluding",
        TradeConfig {
            exclude_arbitrators: vec![arbitrator_id],
            ..test_trades()
        },
    )
    .await;
    excluding.await_offer(honest.id).await;
    refused(take(&excluding, honest.id).await, "one you excluded");
    let picky = settling(
        "picky",
        TradeConfig {
            arbitrators: vec![libp2p::PeerId::random()],
            ..test_trades()
        },
    )
    .await;
    picky.await_offer(honest.id).await;
    refused(take(&picky, honest.id).await, "not one you accept");
    let default = settling("default", test_trades()).await;
    default.await_offer(puppeted.id).await;
    refused(take(&default, puppeted.id).await, "has no announcement");
    // The same choices made in Settings (the preferences), not in souk.toml.
    let settings =
        |accepted: Vec<String>, excluded: Vec<String>| souk_core::preferences::Preferences {
            accepted_arbitrators: accepted,
            excluded_arbitrators: excluded,
            ..Default::default()
        };
    let err = default
        .node
        .save_preferences(settings(vec!["not a peer".into()], vec![]))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("is not a peer id"), "{err}");
    let id = arbitrator_id.to_base58();
    default
        .node
        .save_preferences(settings(vec![], vec![id.clone()]))
        .await
        .expect("exclude in Settings");
    refused(
        take(&default, honest.id).await,
        "one you excluded (Settings)",
    );
    default
        .node
        .save_preferences(settings(vec![libp2p::PeerId::random().to_base58()], vec![]))
        .await
        .expect("accept another in Settings");
    refused(
        take(&default, honest.id).await,
        "not one you accept (Settings)",
    );
    default
        .node
        .save_preferences(settings(vec![id], vec![]))
        .await
        .expect("accept it in Settings");
    let trade = take(&default, honest.id)
        .await
        .expect("the announced arbitrator is accepted");
    assert_eq!(trade.state, TradeState::Requested);
    for node in [default, picky, excluding, maker, arbitrator, boot] {
        node.stop().await;
    }
}

/// Unix seconds now, as the chain node's clock reads them (same machine).
fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
}

/// The chain node restarts and forgets its mempool right after the buyer's node broadcast the release:
/// the buyer's node sees the node no longer knows it and broadcasts it again, and the chain pays.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_release_the_chain_node_lost_is_broadcast_again() {
    let mut ltc = Litecoind::start().await;
    let e = Escrowed::start(&ltc, test_trades()).await;
    let escrow = e.funding.escrow.clone().unwrap();
    ltc.fund_escrow(&escrow, AMOUNT + DEPOSIT, DEPOSIT).await;
    ltc.mine(1).await;
    in_state(&e.buyer, e.trade, "EscrowFunded").await;
    in_state(&e.seller, e.trade, "EscrowFunded").await;
    e.buyer.node.mark_paid(e.trade).await.expect("paid");
    in_state(&e.seller, e.trade, "PaymentSent").await;
    e.seller
        .node
        .mark_received(e.trade)
        .await
        .expect("received");
    let released = in_state(&e.buyer, e.trade, "Released").await;
    let txid = released
        .escrow
        .unwrap()
        .release_txid
        .expect("a release txid");
    ltc.await_in_mempool(&txid).await;

    let restarted = unix_now();
    ltc.restart_forgetting_mempool().await;
    let entered = ltc.await_in_mempool(&txid).await;
    assert!(
        entered >= restarted,
        "back in the mempool at {entered}, after the restart at {restarted}"
    );
    // Through an Electrum server, the buyer's node sent it again and its log says so. (Core's own
    // watch-only wallet of Souk puts its transactions back when the node loads it, before Souk looks.)
    if souk_tests::regtest::through_electrum() {
        e.buyer
            .await_trade(e.trade, "the resend noted", |t| {
                t.steps.iter().any(|s| s.kind == "payout_resent")
            })
            .await;
    }
    ltc.load_wallet().await;
    ltc.mine(1).await;
    in_state(&e.buyer, e.trade, "Completed").await;
    assert_eq!(ltc.await_confirmations(&txid.parse().unwrap(), 1).await, 1);
    less_a_fee(ltc.received_by(&e.refund, 1).await, DEPOSIT);
    paid_in_full(&ltc, &e).await;
    e.stop().await;
}

/// The chain node forgets its mempool right after the seller's node broadcast the return of its coins
/// (the buyer cancelled after the seller funded): the seller's node broadcasts the return again.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_return_the_chain_node_lost_is_broadcast_again() {
    let mut ltc = Litecoind::start().await;
    let e = Escrowed::start(&ltc, test_trades()).await;
    let escrow = e.funding.escrow.clone().unwrap();
    ltc.fund_escrow(&escrow, AMOUNT + DEPOSIT, 0).await;
    ltc.mine(1).await;
    e.seller
        .await_trade(e.trade, "the seller's output funded", |t| {
            t.escrow
                .as_ref()
                .is_some_and(|e| e.seller_funded == AMOUNT + DEPOSIT)
        })
        .await;
    e.buyer
        .node
        .cancel_trade(e.trade, "changed my mind".into())
        .await
        .expect("cancel");
    let txid = returned(&e.seller, e.trade, AMOUNT + DEPOSIT).await;
    ltc.await_in_mempool(&txid).await;

    let restarted = unix_now();
    ltc.restart_forgetting_mempool().await;
    let entered = ltc.await_in_mempool(&txid).await;
    assert!(
        entered >= restarted,
        "back in the mempool at {entered}, after the restart at {restarted}"
    );
    // As for the release above.
    if souk_tests::regtest::through_electrum() {
        e.seller
            .await_trade(e.trade, "the resend noted", |t| {
                t.steps.iter().any(|s| s.kind == "payout_resent")
            })
            .await;
    }
    ltc.load_wallet().await;
    ltc.mine(1).await;
    assert_eq!(ltc.await_confirmations(&txid.parse().unwrap(), 1).await, 1);
    less_a_fee(ltc.received_by(&e.refund, 1).await, AMOUNT + DEPOSIT);
    e.stop().await;
}

/// The chain stops mining the release's fee rate after the seller signed it: litecoind takes nothing
/// under 5 litoshi/vB into a block, the seller's node signed at 1, and the buyer's node now asks 10. Three
/// blocks on, the buyer's node spends the release's fee reserve in a child that lifts the two to
/// 10 litoshi/vB, and the next block takes both: the buyer gets the amount and its deposit, less the
/// child's fee (paid from its own reserve), the seller its deposit less the release's fee.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_release_stuck_at_a_low_fee_is_lifted_by_the_buyer_s_reserve() {
    let ltc = Litecoind::start_with(LitecoindOptions {
        block_min_fee_sat_vb: Some(5),
        ..LitecoindOptions::default()
    })
    .await;
    let buyer_chain = ChainConfig {
        fee_floor_sat_vb: 10,
        ..ltc.config.clone()
    };
    let e = Escrowed::start_with(&ltc, test_trades(), buyer_chain).await;
    let escrow = e.funding.escrow.clone().unwrap();
    ltc.fund_escrow(&escrow, AMOUNT + DEPOSIT, DEPOSIT).await;
    ltc.mine(1).await;
    in_state(&e.buyer, e.trade, "EscrowFunded").await;
    in_state(&e.seller, e.trade, "EscrowFunded").await;
    e.buyer.node.mark_paid(e.trade).await.expect("paid");
    in_state(&e.seller, e.trade, "PaymentSent").await;
    e.seller
        .node
        .mark_received(e.trade)
        .await
        .expect("received");
    let released = in_state(&e.buyer, e.trade, "Released").await;
    let txid: bitcoin::Txid = released
        .escrow
        .unwrap()
        .release_txid
        .expect("a release txid")
        .parse()
        .unwrap();
    ltc.await_in_mempool(&txid.to_string()).await;
    ltc.mine(1).await;
    assert_eq!(
        ltc.confirmations(&txid).await,
        Some(0),
        "a block does not take the release at 1 litoshi/vB"
    );
    assert_eq!(
        e.buyer
            .node
            .trade(e.trade)
            .await
            .unwrap()
            .escrow
            .unwrap()
            .fee_reserve
            .unwrap()
            .how,
        None,
        "not lifted before three blocks"
    );

    ltc.mine(2).await;
    let lifted = e
        .buyer
        .await_trade(e.trade, "the reserve lifting the release", |t| {
            t.escrow
                .as_ref()
                .and_then(|e| e.fee_reserve.as_ref())
                .is_some_and(|r| r.how.as_deref() == Some("bumped"))
        })
        .await;
    let reserve = lifted.escrow.unwrap().fee_reserve.unwrap();
    let child = reserve.txid.clone().expect("the child");
    ltc.await_in_mempool(&child).await;
    ltc.mine(1).await;
    assert!(ltc.await_confirmations(&txid, 1).await >= 1);
    assert!(ltc.await_confirmations(&child.parse().unwrap(), 1).await >= 1);
    in_state(&e.buyer, e.trade, "Completed").await;
    in_state(&e.seller, e.trade, "Completed").await;

    let paid_on = reserve.paid_on.expect("paid on");
    assert_eq!(
        ltc.received_by(&e.payout, 1).await,
        Amount::from_sat(AMOUNT + DEPOSIT - reserve.amount + paid_on),
        "the buyer's payout and what its reserve brought on"
    );
    // The child paid for both: the pair pays at least 10 litoshi/vB.
    let (parent_vsize, parent_out) = vsize_and_outputs(&ltc, &txid.to_string()).await;
    let (child_vsize, _) = vsize_and_outputs(&ltc, &child).await;
    let parent_fee = AMOUNT + 2 * DEPOSIT - parent_out;
    let child_fee = reserve.amount - paid_on;
    assert!(
        parent_fee < 2 * parent_vsize,
        "the seller signed at about 1 litoshi/vB: {parent_fee} for {parent_vsize} vB"
    );
    assert!(
        parent_fee + child_fee >= 10 * (parent_vsize + child_vsize),
        "{parent_fee} + {child_fee} for {parent_vsize} + {child_vsize} vB"
    );
    less_a_fee(ltc.received_by(&e.refund, 1).await, DEPOSIT);
    e.stop().await;
}

/// The chain node restarts without its mempool and now relays nothing under 10 litoshi/vB, so the
/// seller's return (signed at 1) is refused when its node sends it again: the return is made anew at
/// today's rate, co-signed by the arbitrator (the buyer's output is empty), and the seller gets its coins.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_lost_return_the_chain_node_now_refuses_is_made_again() {
    let mut ltc = Litecoind::start().await;
    let e = Escrowed::start(&ltc, test_trades()).await;
    let escrow = e.funding.escrow.clone().unwrap();
    ltc.fund_escrow(&escrow, AMOUNT + DEPOSIT, 0).await;
    ltc.mine(1).await;
    e.seller
        .await_trade(e.trade, "the seller's output funded", |t| {
            t.escrow
                .as_ref()
                .is_some_and(|e| e.seller_funded == AMOUNT + DEPOSIT)
        })
        .await;
    e.buyer
        .node
        .cancel_trade(e.trade, "changed my mind".into())
        .await
        .expect("cancel");
    let first = returned(&e.seller, e.trade, AMOUNT + DEPOSIT).await;
    ltc.await_in_mempool(&first).await;

    ltc.restart_forgetting_mempool_with(&["-minrelaytxfee=0.0001"])
        .await;
    let again = e
        .seller
        .await_trade(e.trade, "the return made again", |t| {
            t.escrow.as_ref().is_some_and(|e| {
                e.returns
                    .iter()
                    .any(|r| r.txid.as_ref().is_some_and(|t| *t != first))
            })
        })
        .await;
    let escrow = again.escrow.unwrap();
    let remade = escrow
        .returns
        .iter()
        .find_map(|r| r.txid.clone().filter(|t| *t != first))
        .expect("a txid");
    // A new transaction at today's rate (the first could be co-signed by the counterparty or the
    // arbitrator, whichever answered first; so could this one).
    ltc.await_in_mempool(&remade).await;
    ltc.load_wallet().await;
    ltc.mine(1).await;
    assert_eq!(
        ltc.await_confirmations(&remade.parse().unwrap(), 1).await,
        1
    );
    less_a_fee(ltc.received_by(&e.refund, 1).await, AMOUNT + DEPOSIT);
    e.stop().await;
}

/// A return stuck at a low fee: the seller never funds and is gone, so the buyer's deposit goes back,
/// co-signed by the arbitrator at 1 litoshi/vB, which litecoind no longer mines (nothing under 5). The
/// buyer's node comes back asking 10: three blocks on, it spends the return's fee reserve in a child that
/// lifts both, and the next block takes them.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_return_stuck_at_a_low_fee_is_lifted_by_its_reserve() {
    let ltc = Litecoind::start_with(LitecoindOptions {
        block_min_fee_sat_vb: Some(5),
        ..LitecoindOptions::default()
    })
    .await;
    let e = Escrowed::start(&ltc, short_funding()).await;
    let escrow = e.funding.escrow.clone().unwrap();
    ltc.fund_escrow(&escrow, 0, DEPOSIT).await;
    e.seller.stop().await;
    ltc.mine(1).await;
    in_state(&e.buyer, e.trade, "Expired").await;
    let txid = returned(&e.buyer, e.trade, DEPOSIT).await;
    ltc.await_in_mempool(&txid).await;
    ltc.mine(1).await;
    let parsed: bitcoin::Txid = txid.parse().unwrap();
    assert_eq!(
        ltc.confirmations(&parsed).await,
        Some(0),
        "a block does not take the return at 1 litoshi/vB"
    );

    let dir = e.buyer.stop().await;
    let buyer = TestNode::start_settling(
        dir,
        &[e.boot.address()],
        ChainConfig {
            fee_floor_sat_vb: 10,
            ..ltc.config.clone()
        },
        short_funding(),
    )
    .await;
    ltc.mine(2).await;
    let lifted = buyer
        .await_trade(e.trade, "the return's reserve lifting it", |t| {
            t.escrow.as_ref().is_some_and(|e| {
                e.returns
                    .iter()
                    .any(|r| r.reserve_how.as_deref() == Some("bumped"))
            })
        })
        .await;
    let child = lifted
        .escrow
        .unwrap()
        .returns
        .into_iter()
        .find_map(|r| r.reserve_txid)
        .expect("the child");
    ltc.await_in_mempool(&child).await;
    ltc.mine(1).await;
    assert!(ltc.await_confirmations(&parsed, 1).await >= 1);
    assert!(ltc.await_confirmations(&child.parse().unwrap(), 1).await >= 1);
    less_a_fee(ltc.received_by(&e.payout, 1).await, DEPOSIT);
    for node in [buyer, e.arbitrator, e.boot] {
        node.stop().await;
    }
}

/// A transaction's virtual size and what its outputs pay in all, as the chain node reports them.
async fn vsize_and_outputs(ltc: &Litecoind, txid: &str) -> (u64, u64) {
    let tx = ltc.raw_transaction(txid).await;
    let paid = tx["vout"]
        .as_array()
        .expect("outputs")
        .iter()
        .map(|o| Amount::from_btc(o["value"].as_f64().expect("a value")).expect("an amount"))
        .map(Amount::to_sat)
        .sum();
    (tx["vsize"].as_u64().expect("a vsize"), paid)
}
