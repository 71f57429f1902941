//! Escrow trades settled through an Electrum server instead of a chain node of one's own: the parties
//! and the arbitrator reach a real ElectrumX (`e-x`) that indexes a regtest litecoind; the chain stays
//! the judge (balances are read from the node). The happy path (funding seen in the mempool, then
//! confirmed, release, reserve forwarded) and a dispute won by the buyer; TLS with a pinned self-signed
//! certificate. (`cargo xtask test` also runs the whole escrow suite through an ElectrumX over TLS:
//! tests/regtest.rs, `SOUK_TEST_CHAIN_BACKEND`.)

use bitcoin::Amount;
use souk_core::{
    chain::{ChainBackend, ChainError, ElectrumBackend},
    escrow::Network,
    trading::{Decision, Party, TradeConfig, TradeInfo, TradeState},
};
use souk_tests::{
    TestDir, TestNode, agree_ltc_escrow_trade,
    electrumx::ElectrumX,
    regtest::{Litecoind, LitecoindOptions},
    test_trades,
};

/// 1 LTC.
const AMOUNT: u64 = 100_000_000;
/// 15 % of it.
const DEPOSIT: u64 = 15_000_000;

/// A litecoind with the transaction index ElectrumX needs, and the server on it.
async fn chain() -> (Litecoind, ElectrumX) {
    let ltc = Litecoind::start_with(LitecoindOptions {
        txindex: true,
        ..LitecoindOptions::default()
    })
    .await;
    let electrum = ElectrumX::start(&ltc).await;
    (ltc, electrum)
}

/// What a person types into Settings to use the Electrum server at `url` (its certificate pinned by
/// `pin`, or none), and nothing else.
fn electrum_edit(url: &str, pin: &str) -> souk_core::connection::ConnectionEdit {
    souk_core::connection::ConnectionEdit {
        chain: souk_core::escrow::Chain::Ltc,
        network: Network::Regtest,
        rpc_url: String::new(),
        rpc_user: String::new(),
        rpc_password: None,
        rpc_cookie_file: String::new(),
        electrum_url: url.into(),
        electrum_cert_sha256: pin.into(),
        bootstrap: Vec::new(),
        tor: false,
    }
}

async fn in_state(node: &TestNode, trade: &TradeInfo, state: &str) -> TradeInfo {
    node.await_trade(trade.id, state, |t| t.state.as_str() == state)
        .await
}

/// Boot node, arbitrator, maker (seller) and taker (buyer), all settling through `electrum`, with an
/// agreed trade in EscrowFunding.
struct Parties {
    _dir: TestDir,
    nodes: Vec<TestNode>,
    trade: TradeInfo,
    payout: String,
    refund: String,
}

impl Parties {
    fn arbitrator(&self) -> &TestNode {
        &self.nodes[1]
    }
    fn maker(&self) -> &TestNode {
        &self.nodes[2]
    }
    fn taker(&self) -> &TestNode {
        &self.nodes[3]
    }

    async fn start(ltc: &Litecoind, electrum: &ElectrumX) -> Self {
        let dir = TestDir::new();
        let boot = TestNode::start(dir.path("boot"), &[]).await;
        let bootstrap = vec![boot.address()];
        let config = electrum.config(ltc);
        let settling = |name: &str, trades: TradeConfig| {
            TestNode::start_settling(dir.path(name), &bootstrap, config.clone(), trades)
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
        let payout = ltc.new_address().await;
        let trade = agree_ltc_escrow_trade(&maker, &taker, &arbitrator, AMOUNT, &payout).await;
        in_state(&maker, &trade, "Accepted").await;
        let refund = ltc.new_address().await;
        maker
            .node
            .set_escrow_address(trade.id, &refund)
            .await
            .expect("refund address");
        in_state(&maker, &trade, "EscrowFunding").await;
        in_state(&taker, &trade, "EscrowFunding").await;
        Self {
            _dir: dir,
            nodes: vec![boot, arbitrator, maker, taker],
            trade,
            payout,
            refund,
        }
    }

    /// Both fund; the taker sees both fundings in the mempool first, then a block confirms them.
    async fn fund(&self, ltc: &Litecoind) {
        let view = in_state(self.taker(), &self.trade, "EscrowFunding").await;
        let sent = ltc
            .fund_escrow(&view.escrow.unwrap(), AMOUNT + DEPOSIT, DEPOSIT)
            .await;
        let seen = self
            .taker()
            .await_trade(self.trade.id, "both fundings seen, unconfirmed", |t| {
                t.escrow.as_ref().is_some_and(|e| {
                    sent.iter()
                        .all(|s| e.pending_funding.iter().any(|p| p.txid == s.to_string()))
                })
            })
            .await;
        assert_eq!(
            seen.state,
            TradeState::EscrowFunding,
            "unconfirmed coins never count"
        );
        ltc.mine(1).await;
        for node in [self.maker(), self.taker()] {
            let funded = in_state(node, &self.trade, "EscrowFunded").await;
            let mut txids = funded.escrow.unwrap().funding_txids;
            txids.sort();
            let mut want: Vec<String> = sent.iter().map(ToString::to_string).collect();
            want.sort();
            assert_eq!(txids, want);
        }
    }

    async fn stop(self) {
        for node in self.nodes.into_iter().rev() {
            node.stop().await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_escrow_trade_settles_through_an_electrum_server() {
    let (ltc, electrum) = chain().await;

    // The backend checks what it is told: a wrong network, a closed port.
    let mut wrong = electrum.config(&ltc);
    wrong.network = Network::Main;
    let err = ElectrumBackend::connect(&wrong).await.unwrap_err();
    assert!(matches!(err, ChainError::WrongChain { .. }), "{err}");
    let mut closed = electrum.config(&ltc);
    closed.electrum_url = format!(
        "tcp://127.0.0.1:{}",
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    );
    let err = ElectrumBackend::connect(&closed).await.unwrap_err();
    assert!(matches!(err, ChainError::Unreachable { .. }), "{err}");
    let direct = ElectrumBackend::connect(&electrum.config(&ltc))
        .await
        .unwrap();
    assert_eq!(
        direct.tip_height().await.unwrap(),
        ltc.rpc.tip_height().await.unwrap()
    );

    let p = Parties::start(&ltc, &electrum).await;
    // The Settings screen's connection test speaks Electrum too.
    let check = p
        .taker()
        .node
        .test_chain_connection(electrum_edit(&electrum.url, ""))
        .await
        .expect("the Electrum server answers");
    assert!(check.electrum, "{check:?}");
    assert_eq!(check.url, electrum.url);
    assert_eq!(check.tip_height, ltc.rpc.tip_height().await.unwrap());
    // The status a user sees names the Electrum server.
    let status = p.taker().node.chain_status().await.expect("chain status");
    assert!(status.connected, "{status:?}");
    assert_eq!(status.rpc_url.as_deref(), Some(electrum.url.as_str()));
    p.fund(&ltc).await;

    p.taker().node.mark_paid(p.trade.id).await.expect("paid");
    in_state(p.maker(), &p.trade, "PaymentSent").await;
    p.maker()
        .node
        .mark_received(p.trade.id)
        .await
        .expect("received");
    let released = in_state(p.taker(), &p.trade, "Released").await;
    let txid = released.escrow.unwrap().release_txid.expect("a release");
    // The seller's node sees the release in the mempool through the server.
    in_state(p.maker(), &p.trade, "Released").await;
    ltc.mine(1).await;
    in_state(p.taker(), &p.trade, "Completed").await;
    in_state(p.maker(), &p.trade, "Completed").await;
    assert!(ltc.await_confirmations(&txid.parse().unwrap(), 1).await >= 1);

    // The chain is the judge.
    let reserve = souk_core::escrow::anchor_value(souk_core::escrow::Chain::Ltc).to_sat();
    assert_eq!(
        ltc.received_by(&p.payout, 1).await,
        Amount::from_sat(AMOUNT + DEPOSIT - reserve)
    );
    let back = ltc.received_by(&p.refund, 1).await;
    assert!(
        back < Amount::from_sat(DEPOSIT) && back > Amount::from_sat(DEPOSIT - 100_000),
        "{back}"
    );
    let on = p.taker().reserve_paid_on(p.trade.id, &ltc).await;
    assert_eq!(on.how.as_deref(), Some("forwarded"));
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_dispute_is_resolved_through_an_electrum_server() {
    let (ltc, electrum) = chain().await;
    let p = Parties::start(&ltc, &electrum).await;
    p.fund(&ltc).await;
    p.taker().node.mark_paid(p.trade.id).await.expect("paid");
    in_state(p.maker(), &p.trade, "PaymentSent").await;
    p.taker()
        .node
        .dispute_trade(p.trade.id, "I paid by SEPA; no answer since".into())
        .await
        .expect("dispute");
    in_state(p.maker(), &p.trade, "Disputed").await;
    // The arbitrator reads the escrow through the server before it may decide.
    let arbitrator = p.arbitrator();
    let mut events = arbitrator.node.trade_events();
    tokio::time::timeout(souk_tests::DEADLINE, async {
        loop {
            if let Ok(d) = arbitrator.node.dispute_info(p.trade.id).await
                && d.cases.len() == 2
            {
                return;
            }
            let _ = events.recv().await;
        }
    })
    .await
    .expect("both cases at the arbitrator");
    arbitrator
        .node
        .resolve_dispute(p.trade.id, &Decision::to(Party::Buyer))
        .await
        .expect("resolve");
    let done = in_state(p.taker(), &p.trade, "Resolved").await;
    in_state(p.maker(), &p.trade, "Resolved").await;
    let txid = done
        .escrow
        .unwrap()
        .release_txid
        .expect("the winner broadcast");
    ltc.mine(1).await;
    ltc.await_confirmations(&txid.parse().unwrap(), 1).await;
    let got = ltc.received_by(&p.payout, 1).await;
    let all = Amount::from_sat(AMOUNT + 2 * DEPOSIT);
    assert!(
        got < all && got > all - Amount::from_sat(100_000),
        "the buyer got the escrow, less the fee: {got}"
    );
    assert_eq!(ltc.received_by(&p.refund, 0).await, Amount::ZERO);

    // Both parties sign the trade's receipt; the arbitrator's node, a third one on the same Electrum
    // server, checks the escrow through it (merkle proofs against the block headers) and counts the
    // dispute: opened by the buyer, lost by the seller.
    let seller = p.maker().info.peer_id.clone();
    let buyer = p.taker().info.peer_id.clone();
    let mut events = arbitrator.node.trade_events();
    let seen = tokio::time::timeout(souk_tests::DEADLINE * 2, async {
        loop {
            if let Ok(r) = arbitrator.node.reputation(&seller).await
                && r.with_escrow == 1
            {
                return r;
            }
            // Receipts are signed and published between the parties' nodes: no event here says when.
            let _ = tokio::time::timeout(std::time::Duration::from_secs(1), events.recv()).await;
        }
    })
    .await
    .expect("the seller's receipt, verified through Electrum");
    assert_eq!(
        (seen.settled, seen.disputes_opened, seen.disputes_lost),
        (1, 0, 1)
    );
    assert_eq!(
        seen.receipts[0].outcome,
        "dispute opened by the buyer, decided for the buyer"
    );
    let r = arbitrator
        .node
        .reputation(&buyer)
        .await
        .expect("the buyer's");
    assert_eq!((r.settled, r.with_escrow), (1, 1));
    assert_eq!((r.disputes_opened, r.disputes_lost), (1, 0));
    assert!(r.score > seen.score, "{} > {}", r.score, seen.score);
    p.stop().await;
}

/// A node whose Electrum server is down when it starts still starts: its chain status says why escrows
/// wait, and once the server is up the node connects by itself and reads the chain.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_node_started_while_its_electrum_server_is_down_connects_once_it_is_up() {
    let ltc = Litecoind::start_with(LitecoindOptions {
        txindex: true,
        ..LitecoindOptions::default()
    })
    .await;
    let port = souk_tests::electrumx::free_port();
    let config = souk_core::config::ChainConfig {
        rpc_url: String::new(),
        rpc_user: String::new(),
        rpc_password: String::new(),
        electrum_url: format!("tcp://127.0.0.1:{port}"),
        ..ltc.config.clone()
    };
    let dir = TestDir::new();
    let node = TestNode::start_settling(dir.path("node"), &[], config, test_trades()).await;
    let down = node.node.chain_status().await.expect("chain status");
    assert!(down.configured && !down.connected, "{down:?}");
    let why = down.error.unwrap_or_default();
    assert!(why.contains("cannot reach"), "{why}");

    let _electrum = ElectrumX::start_on(&ltc, Some(port)).await;
    let tip = ltc.rpc.tip_height().await.unwrap();
    let deadline = std::time::Instant::now() + souk_tests::DEADLINE;
    loop {
        let up = node.node.chain_status().await.expect("chain status");
        if up.connected {
            assert_eq!(up.tip_height, Some(tip));
            assert_eq!(up.error, None);
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never connected: {up:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    node.stop().await;
}

/// Through the Electrum server too, the chain decides: a funding replaced in the mempool is noted as
/// gone and the trade waits; a confirmed funding a reorg takes away sends the trade back to waiting,
/// and the block coming back moves it on again.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_replaced_or_reorged_funding_is_waited_for_again_through_electrum() {
    let (ltc, electrum) = chain().await;
    let p = Parties::start(&ltc, &electrum).await;
    let view = in_state(p.maker(), &p.trade, "EscrowFunding").await;
    let escrow = view.escrow.unwrap();
    let seller_address = escrow.seller_escrow_address.clone().unwrap();
    let first = ltc
        .send_replaceable(&seller_address, Amount::from_sat(AMOUNT + DEPOSIT))
        .await;
    p.maker()
        .await_trade(p.trade.id, "the funding seen", |t| {
            t.escrow
                .as_ref()
                .is_some_and(|x| x.pending_funding.iter().any(|f| f.txid == first))
        })
        .await;
    // The same coins spent back to the wallet at a higher fee.
    ltc.replace_in_mempool(&first).await;
    let gone = p
        .maker()
        .await_trade(p.trade.id, "the replaced funding noted", |t| {
            t.steps.iter().any(|s| s.kind == "funding_dropped")
        })
        .await;
    assert_eq!(gone.state, TradeState::EscrowFunding);

    // Funded for real, then a reorg takes the block away and gives it back.
    ltc.fund_escrow(&escrow, AMOUNT + DEPOSIT, DEPOSIT).await;
    let mined = ltc.mine(1).await;
    in_state(p.taker(), &p.trade, "EscrowFunded").await;
    // A longer chain without the funding: ElectrumX follows a reorg when blocks come, not when the
    // node merely steps back, so two empty blocks replace the one that held it.
    ltc.call("invalidateblock", serde_json::json!([mined[0]]))
        .await;
    let elsewhere = ltc.new_address().await;
    for _ in 0..2 {
        ltc.call("generateblock", serde_json::json!([elsewhere, []]))
            .await;
    }
    let lost = in_state(p.taker(), &p.trade, "EscrowFunding").await;
    assert!(
        lost.steps.iter().any(|s| s.kind == "funding_lost"),
        "{:?}",
        lost.steps
    );
    // The funding is back in the mempool; the next block confirms it again.
    ltc.mine(1).await;
    in_state(p.taker(), &p.trade, "EscrowFunded").await;
    p.stop().await;
}

/// Over TLS, a self-signed certificate (what most personal servers have) is refused until pinned, and
/// the refusal names its fingerprint (the one `openssl` prints for the server's certificate), both to
/// the backend and in the Settings connection test; another pinned fingerprint is refused, the right one
/// (as printed, or bare lower-case hex) connects, and a pin on a plain-TCP URL is a settings error.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_tls_server_is_trusted_by_its_pinned_certificate() {
    let (ltc, electrum) = chain().await;
    let pinned = electrum.tls_config(&ltc);
    let unpinned = souk_core::config::ChainConfig {
        electrum_cert_sha256: String::new(),
        ..pinned.clone()
    };
    let err = ElectrumBackend::connect(&unpinned).await.unwrap_err();
    match &err {
        ChainError::Certificate { fingerprint, .. } => {
            assert_eq!(*fingerprint, electrum.fingerprint)
        }
        other => panic!("expected a certificate refusal, got {other}"),
    }
    assert!(err.to_string().contains("electrum_cert_sha256"), "{err}");

    let mut other = electrum.fingerprint.clone();
    let flipped = if other.starts_with('0') { "1" } else { "0" };
    other.replace_range(0..1, flipped);
    let wrong = souk_core::config::ChainConfig {
        electrum_cert_sha256: other,
        ..pinned.clone()
    };
    let err = ElectrumBackend::connect(&wrong).await.unwrap_err();
    assert!(
        matches!(&err, ChainError::Certificate { .. })
            && err.to_string().contains("not the pinned"),
        "{err}"
    );

    let tip = ltc.rpc.tip_height().await.unwrap();
    let backend = ElectrumBackend::connect(&pinned)
        .await
        .expect("pinned: trusted");
    assert_eq!(backend.tip_height().await.unwrap(), tip);
    let bare = souk_core::config::ChainConfig {
        electrum_cert_sha256: electrum.fingerprint.replace(':', "").to_lowercase(),
        ..pinned.clone()
    };
    ElectrumBackend::connect(&bare)
        .await
        .expect("the same pin, written bare");
    let plain = souk_core::config::ChainConfig {
        electrum_url: electrum.url.clone(),
        ..pinned.clone()
    };
    let err = ElectrumBackend::connect(&plain).await.unwrap_err();
    assert!(
        matches!(err, ChainError::Config(_)) && err.to_string().contains("ssl://"),
        "{err}"
    );

    // What the Settings screen shows.
    let dir = TestDir::new();
    let node = TestNode::start(dir.path("node"), &[]).await;
    let edit = |pin: &str| electrum_edit(&electrum.tls_url, pin);
    let err = node.node.test_chain_connection(edit("")).await.unwrap_err();
    assert!(err.to_string().contains(&electrum.fingerprint), "{err}");
    let check = node
        .node
        .test_chain_connection(edit(&electrum.fingerprint))
        .await
        .expect("pinned: the server answers");
    assert!(check.electrum && check.tip_height == tip, "{check:?}");
    node.stop().await;
}

/// A transaction Souk broadcast a moment ago, which the chain node then lost before the Electrum server
/// indexed it (the node restarted without its mempool): the backend asks the server's node instead of
/// taking it for in the mempool until its grace for unindexed broadcasts (a minute) ends, so the trade
/// sends it again at once. Its script is one no one watches, so no server history can ever show it:
/// only the node can say it is gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_broadcast_the_node_lost_before_the_server_indexed_it_is_known_lost() {
    let (mut ltc, electrum) = chain().await;
    let backend = ElectrumBackend::connect(&electrum.config(&ltc))
        .await
        .expect("connected");
    let to = ltc.new_address().await;
    let raw = ltc
        .call(
            "createrawtransaction",
            serde_json::json!([[], [{ to: 0.5 }]]),
        )
        .await;
    let funded = ltc
        .call("fundrawtransaction", serde_json::json!([raw]))
        .await;
    let signed = ltc
        .call(
            "signrawtransactionwithwallet",
            serde_json::json!([funded["hex"]]),
        )
        .await;
    let tx: bitcoin::Transaction =
        bitcoin::consensus::encode::deserialize_hex(signed["hex"].as_str().expect("hex"))
            .expect("a transaction");
    let txid = backend.broadcast(&tx).await.expect("broadcast");
    assert_eq!(
        backend.confirmations(&txid).await.expect("asked"),
        Some(0),
        "just broadcast: in the mempool"
    );

    ltc.restart_forgetting_mempool().await;
    assert_eq!(ltc.confirmations(&txid).await, None, "the node lost it");
    let lost_at = std::time::Instant::now();
    loop {
        // While the server reconnects to its node: a moment of errors or of the old answer.
        if let Ok(None) = backend.confirmations(&txid).await {
            break;
        }
        assert!(
            lost_at.elapsed() < souk_tests::DEADLINE,
            "still taken for in the mempool {:?} after the node lost it",
            lost_at.elapsed()
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    // Sent again, it is in the mempool again, and the backend says so.
    ltc.load_wallet().await;
    assert_eq!(backend.broadcast(&tx).await.expect("sent again"), txid);
    ltc.await_in_mempool(&txid.to_string()).await;
    assert_eq!(backend.confirmations(&txid).await.expect("asked"), Some(0));
}
