//! Settlement against a chain in memory (`souk_core::chain::fake::FakeChain` behind `dyn ChainBackend`):
//! a whole escrow trade — funding, payment, release, payout — runs through the real engine of three
//! in-process nodes without any chain node, in seconds. The fake checks every broadcast for what
//! settlement can get wrong (missing or spent inputs, no witness, outputs over inputs); signatures are
//! checked by the regtest suite on a real litecoind.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use bitcoin::{Amount, ScriptBuf, WPubkeyHash, hashes::Hash};
use souk_core::{
    chain::fake::FakeChain,
    escrow::{Chain, Network, address_from_script, parse_payout_address},
    trading::TradeInfo,
};
use souk_tests::{TestDir, TestNode, agree_ltc_escrow_trade, test_trades};

/// 1 LTC, and 15 % of it.
const AMOUNT: u64 = 100_000_000;
const DEPOSIT: u64 = 15_000_000;
/// Fees at the fake's 2 sat/vB, a release and a fee-reserve forward: well under this.
const FEES: u64 = 10_000;

fn script(address: &str) -> ScriptBuf {
    parse_payout_address(address, Chain::Ltc, Network::Regtest).unwrap()
}

/// A fresh address of an outside wallet: a P2WPKH of a made-up key hash.
fn address(n: u8) -> (String, ScriptBuf) {
    let script = ScriptBuf::new_p2wpkh(&WPubkeyHash::from_byte_array([n; 20]));
    let address = address_from_script(&script, Chain::Ltc, Network::Regtest).unwrap();
    (address, script)
}

async fn in_state(node: &TestNode, trade: &TradeInfo, state: &str) -> TradeInfo {
    node.await_trade(trade.id, state, |t| t.state.as_str() == state)
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_escrow_trade_settles_against_a_fake_chain() {
    let chain = Arc::new(FakeChain::new());
    chain.mine();
    let dir = TestDir::new();
    let boot = TestNode::start(dir.path("boot"), &[]).await;
    let bootstrap = vec![boot.address()];
    let start = |name: &str, arbitrator: bool| {
        let mut trades = test_trades();
        trades.arbitrator = arbitrator;
        TestNode::start_on_fake_chain(dir.path(name), &bootstrap, chain.clone(), trades)
    };
    let arbitrator = start("arbitrator", true).await;
    let maker = start("maker", false).await;
    let taker = start("taker", false).await;
    let status = taker.node.chain_status().await.unwrap();
    assert!(status.configured && status.connected, "{status:?}");
    assert_eq!(status.tip_height, Some(1));

    let (payout, payout_script) = address(1);
    let (refund, refund_script) = address(2);
    let trade = agree_ltc_escrow_trade(&maker, &taker, &arbitrator, AMOUNT, &payout).await;
    in_state(&maker, &trade, "Accepted").await;
    maker
        .node
        .set_escrow_address(trade.id, &refund)
        .await
        .unwrap();
    let escrow = in_state(&maker, &trade, "EscrowFunding")
        .await
        .escrow
        .unwrap();
    in_state(&taker, &trade, "EscrowFunding").await;
    let seller_escrow = script(escrow.seller_escrow_address.as_deref().unwrap());
    let buyer_escrow = script(escrow.buyer_escrow_address.as_deref().unwrap());

    // Each funds its own output; nothing counts until mined.
    chain.pay(&seller_escrow, Amount::from_sat(AMOUNT + DEPOSIT));
    chain.pay(&buyer_escrow, Amount::from_sat(DEPOSIT));
    chain.mine();
    in_state(&maker, &trade, "EscrowFunded").await;
    in_state(&taker, &trade, "EscrowFunded").await;

    taker.node.mark_paid(trade.id).await.unwrap();
    in_state(&maker, &trade, "PaymentSent").await;
    maker.node.mark_received(trade.id).await.unwrap();
    let released = in_state(&taker, &trade, "Released").await;
    let txid = released.escrow.unwrap().release_txid.unwrap();
    chain.mine();
    let done = in_state(&taker, &trade, "Completed").await;
    in_state(&maker, &trade, "Completed").await;
    assert_eq!(
        done.escrow.unwrap().release_txid.as_deref(),
        Some(txid.as_str())
    );
    // The buyer's fee reserve goes on to the payout address once the release confirmed.
    let forwarded = taker
        .await_trade(trade.id, "the fee reserve paid on", |t| {
            t.escrow
                .as_ref()
                .and_then(|e| e.fee_reserve.as_ref())
                .is_some_and(|r| r.txid.is_some())
        })
        .await;
    let reserve = forwarded.escrow.unwrap().fee_reserve.unwrap();
    assert!(reserve.amount > 0, "{reserve:?}");
    chain.mine();

    // The chain is the judge: the escrow is empty, spent by one transaction, and the payouts are what
    // the trade says, less the fees.
    assert_eq!(chain.unspent(&seller_escrow), Amount::ZERO);
    assert_eq!(chain.unspent(&buyer_escrow), Amount::ZERO);
    assert_eq!(chain.spends_from(&seller_escrow), 1);
    let paid = chain.received(&payout_script).to_sat();
    let refunded = chain.received(&refund_script).to_sat();
    assert!(
        paid <= AMOUNT + DEPOSIT && paid + FEES >= AMOUNT + DEPOSIT,
        "payout {paid}"
    );
    assert!(
        refunded <= DEPOSIT && refunded + FEES >= DEPOSIT,
        "refund {refunded}"
    );
    assert_eq!(chain.refused(), Vec::<String>::new());
}
