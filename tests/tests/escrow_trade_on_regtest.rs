//! A whole escrow trade on a real Litecoin regtest chain, with the chain as the judge: maker (seller),
//! taker (buyer) and an arbitrator node; keys and addresses over the encrypted channel; both fund the
//! 2-of-3 escrow from a real wallet; the seller's node is killed right after funding and comes back; the
//! buyer pays, the seller signs the release, the buyer co-signs and broadcasts; the payout address holds
//! the amount and the buyer's deposit, the seller's deposit comes back less the fee, and both sides end
//! Completed. Along the way: both sides show the funding transactions the wallet sent, every step with
//! when it happened, and the chain backend's status (connected, at the chain's tip).

use bitcoin::Amount;
use souk_core::{
    escrow::{Chain, Network},
    trading::{TradeConfig, TradeInfo},
};
use souk_tests::{TestDir, TestNode, agree_ltc_escrow_trade, regtest::Litecoind, test_trades};

/// 1 LTC.
const AMOUNT: u64 = 100_000_000;
/// 15 % of it.
const DEPOSIT: u64 = 15_000_000;

async fn in_state(node: &TestNode, trade: &TradeInfo, state: &str) -> TradeInfo {
    node.await_trade(trade.id, state, |t| t.state.as_str() == state)
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_escrow_trade_settles_on_chain_even_across_a_seller_restart() {
    let ltc = Litecoind::start().await;
    let dir = TestDir::new();
    let boot = TestNode::start(dir.path("boot"), &[]).await;
    let bootstrap = vec![boot.address()];
    // A node without a chain backend says so.
    let unconfigured = boot.node.chain_status().await.expect("chain status");
    assert!(
        !unconfigured.configured && !unconfigured.connected,
        "{unconfigured:?}"
    );
    assert_eq!((unconfigured.tip_height, unconfigured.error), (None, None));
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
    let maker = settling("maker", test_trades()).await;
    let taker = settling("taker", test_trades()).await;

    // The buyer's payout details are an address of the chain: its escrow keys go out with the agreement.
    let payout = ltc.new_address().await;
    let trade = agree_ltc_escrow_trade(&maker, &taker, &arbitrator, AMOUNT, &payout).await;
    let waiting = in_state(&maker, &trade, "Accepted").await;
    let escrow = waiting.escrow.expect("an escrow trade");
    assert_eq!(
        (escrow.side.as_str(), escrow.my_address.as_deref()),
        ("seller", None)
    );
    assert!(
        waiting.next_step.contains("souk trade address"),
        "{}",
        waiting.next_step
    );

    // A refund address of the wrong network is refused; the right one completes the set-up.
    let err = maker
        .node
        .set_escrow_address(trade.id, "ltc1qw508d6qejxtdg4y5r3zarvary0c5xw7kgmn4n9")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("regtest"), "{err}");
    let refund = ltc.new_address().await;
    maker
        .node
        .set_escrow_address(trade.id, &refund)
        .await
        .expect("refund address");
    let seller_view = in_state(&maker, &trade, "EscrowFunding").await;
    let buyer_view = in_state(&taker, &trade, "EscrowFunding").await;
    let (seller_escrow, buyer_escrow) = (seller_view.escrow.unwrap(), buyer_view.escrow.unwrap());
    // Each side funds its own output: the seller's view shows the seller's, the buyer's the buyer's.
    let address = seller_escrow.address.clone().expect("an escrow address");
    assert_eq!(
        seller_escrow.seller_escrow_address.as_deref(),
        Some(address.as_str())
    );
    assert_eq!(
        buyer_escrow.seller_escrow_address, seller_escrow.seller_escrow_address,
        "both sides agree"
    );
    assert_eq!(
        buyer_escrow.buyer_escrow_address, seller_escrow.buyer_escrow_address,
        "both sides agree"
    );
    assert_eq!(buyer_escrow.address, buyer_escrow.buyer_escrow_address);
    assert_ne!(buyer_escrow.address.as_deref(), Some(address.as_str()));
    assert!(address.starts_with("rltc1q"), "{address}");
    assert_eq!(seller_escrow.my_funding, AMOUNT + DEPOSIT);
    assert_eq!(buyer_escrow.my_funding, DEPOSIT);
    assert_eq!(seller_escrow.required, AMOUNT + 2 * DEPOSIT);

    // The chain backend as a settling node sees it: connected, at the chain's tip.
    let chain = taker.node.chain_status().await.expect("chain status");
    let tip = ltc.call("getblockcount", serde_json::json!([])).await;
    assert!(chain.configured && chain.connected, "{chain:?}");
    assert_eq!(chain.tip_height, tip.as_u64());
    assert_eq!(chain.error, None);
    assert_eq!((chain.chain, chain.network), (Chain::Ltc, Network::Regtest));

    // Both fund from their wallets; the seller's node dies right after and is restarted.
    let seller_funding = ltc
        .send_to(&address, Amount::from_sat(AMOUNT + DEPOSIT))
        .await;
    let buyer_address = buyer_escrow
        .address
        .clone()
        .expect("the buyer's escrow output");
    let buyer_funding = ltc.send_to(&buyer_address, Amount::from_sat(DEPOSIT)).await;
    let maker_dir = maker.stop().await;
    ltc.mine(1).await;
    let maker =
        TestNode::start_settling(maker_dir, &bootstrap, ltc.config.clone(), test_trades()).await;
    let mut sent = vec![seller_funding.to_string(), buyer_funding.to_string()];
    sent.sort();
    for view in [
        in_state(&taker, &trade, "EscrowFunded").await,
        in_state(&maker, &trade, "EscrowFunded").await,
    ] {
        // What the watcher saw on the escrow address is exactly what the wallet sent.
        let mut seen = view.escrow.unwrap().funding_txids;
        seen.sort();
        assert_eq!(seen, sent);
    }

    // Only the buyer says it paid; only the seller confirms.
    let err = maker.node.mark_paid(trade.id).await.unwrap_err();
    assert!(
        err.to_string().contains("seller cannot payment_sent"),
        "{err}"
    );
    taker.node.mark_paid(trade.id).await.expect("paid");
    in_state(&maker, &trade, "PaymentSent").await;
    maker.node.mark_received(trade.id).await.expect("received");

    // The buyer's node checks the seller's release, co-signs and broadcasts it.
    let released = in_state(&taker, &trade, "Released").await;
    let txid = released
        .escrow
        .unwrap()
        .release_txid
        .expect("a release txid");
    in_state(&maker, &trade, "Released").await;
    ltc.mine(1).await;
    let done = in_state(&taker, &trade, "Completed").await;
    in_state(&maker, &trade, "Completed").await;
    let escrow = done.escrow.clone().unwrap();
    assert_eq!(escrow.release_txid.as_deref(), Some(txid.as_str()));
    assert_eq!(
        escrow.funding_txids.len(),
        2,
        "kept after the escrow is spent"
    );
    // Every step of the settlement, in order, each with when this node recorded it.
    let settlement: Vec<&str> = done
        .steps
        .iter()
        .map(|s| s.kind.as_str())
        // `funding_seen` is there when a watcher pass fell between broadcast and block.
        .filter(|k| {
            !matches!(
                *k,
                "take_request" | "counter" | "accept" | "escrow_keys" | "funding_seen"
            )
        })
        .collect();
    assert_eq!(
        settlement,
        [
            "escrow_ready",
            "funded",
            "payment_sent",
            "payment_received",
            "released",
            "confirmed"
        ]
    );
    assert!(
        done.steps.windows(2).all(|w| w[0].at <= w[1].at)
            && done.steps.last().is_some_and(|s| s.at <= done.updated_at),
        "{:?}",
        done.steps
    );
    let mine = |kind: &str| done.steps.iter().find(|s| s.kind == kind).unwrap().mine;
    assert!(mine("payment_sent") && mine("released") && mine("funded"));
    assert!(!mine("payment_received"), "the seller's step");

    // The chain is the judge.
    let reserve = souk_core::escrow::anchor_value(souk_core::escrow::Chain::Ltc).to_sat();
    assert_eq!(
        ltc.received_by(&payout, 1).await,
        Amount::from_sat(AMOUNT + DEPOSIT - reserve),
        "the buyer holds the amount and its deposit, less the release's fee reserve"
    );
    let back = ltc.received_by(&refund, 1).await;
    assert!(
        back < Amount::from_sat(DEPOSIT) && back > Amount::from_sat(DEPOSIT - 100_000),
        "the seller's deposit came back less the fee: {back}"
    );
    // The buyer's node pays the reserve on, less a small fee of its own.
    let on = taker.reserve_paid_on(trade.id, &ltc).await;
    let paid_on = on.paid_on.expect("paid on");
    assert!(reserve - paid_on < 1_000, "{paid_on} of {reserve}");
    assert_eq!(
        ltc.received_by(&payout, 1).await,
        Amount::from_sat(AMOUNT + DEPOSIT - reserve + paid_on)
    );
    assert_eq!(on.how.as_deref(), Some("forwarded"));
    for node in [taker, maker, arbitrator, boot] {
        node.stop().await;
    }
}
