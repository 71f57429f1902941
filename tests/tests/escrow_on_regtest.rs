//! The escrow against a real Litecoin Core regtest chain, the judge of every claim: the node computes the
//! same script address as we do, takes our release signed by any two parties, pays exactly the agreed
//! amounts, and refuses a release with one signature, naming its reason. The fallback branches hold too:
//! the backup arbitrator with a party, and the funder alone, only once their relative locks have passed.
//! A PSBT tampered with by the counterparty never reaches a signature.

use bitcoin::{
    Amount, FeeRate, OutPoint, Psbt, ScriptBuf, Transaction, TxIn, Witness, secp256k1::Keypair,
};
use serde_json::{Value, json};
use souk_core::{
    chain::{ChainBackend, ChainError, RpcBackend},
    escrow::{
        Chain, EscrowError, EscrowInput, EscrowParties, Network, Party, Payout, SpendPath,
        SpendPlan, Timelocks, TradeEscrow, address_from_script, build_spend, check_psbt,
        combine_psbts, decode_psbt, encode_psbt, finalize_psbt, parse_payout_address, sign_psbt,
        trade_keypair,
    },
    identity::{Identity, SeedPhrase},
};
use souk_tests::regtest::{Litecoind, LitecoindOptions};
use uuid::Uuid;

const LTC: Chain = Chain::Ltc;
const REGTEST: Network = Network::Regtest;
/// What the seller locks: the trade amount plus its deposit.
const ESCROWED: Amount = Amount::from_sat(100_000_000);
const TO_BUYER: Amount = Amount::from_sat(70_000_000);
const SELLER_DEPOSIT: Amount = Amount::from_sat(30_000_000);
/// The highest fee rate a party signs at.
const MAX_FEE_RATE: FeeRate = FeeRate::from_sat_per_vb_u32(20);

/// Three parties, each with its own seed, and their per-trade escrow.
struct Trade {
    buyer: Keypair,
    seller: Keypair,
    arbitrator: Keypair,
    backup: Keypair,
    escrow: TradeEscrow,
}

impl Trade {
    fn new() -> Self {
        let trade_id = Uuid::now_v7();
        let key = || {
            let identity =
                Identity::from_phrase(SeedPhrase::generate().expect("seed")).expect("identity");
            trade_keypair(identity.escrow_root(), LTC, REGTEST, &trade_id).expect("trade key")
        };
        let (buyer, seller, arbitrator, backup) = (key(), key(), key(), key());
        let escrow = TradeEscrow::new(
            EscrowParties {
                buyer: buyer.public_key(),
                seller: seller.public_key(),
                arbitrator: arbitrator.public_key(),
                backup: Some(backup.public_key()),
            },
            Timelocks::of(LTC, REGTEST),
        )
        .expect("escrow script");
        Self {
            buyer,
            seller,
            arbitrator,
            backup,
            escrow,
        }
    }

    /// The seller's escrow output, which these tests fund.
    fn address(&self) -> String {
        self.escrow
            .of(Party::Seller)
            .address(LTC, REGTEST)
            .expect("escrow address")
    }

    fn script_pubkey(&self) -> ScriptBuf {
        self.escrow.of(Party::Seller).script_pubkey()
    }

    /// The seller funds the escrow from the node's wallet; one block confirms it.
    async fn fund(&self, node: &Litecoind) -> EscrowInput {
        let funding = node.send_to(&self.address(), ESCROWED).await;
        let unconfirmed = node
            .rpc
            .escrow_utxos(&self.script_pubkey())
            .await
            .expect("scan");
        assert!(
            unconfirmed.is_empty(),
            "scantxoutset sees only confirmed outputs"
        );
        node.mine(1).await;
        let utxos = node
            .rpc
            .escrow_utxos(&self.script_pubkey())
            .await
            .expect("scan");
        assert_eq!(utxos.len(), 1, "{utxos:?}");
        let utxo = utxos[0];
        assert_eq!(utxo.outpoint.txid, funding);
        assert_eq!(utxo.value, ESCROWED);
        assert_eq!(utxo.confirmations, 1);
        assert_eq!(utxo.height, node.rpc.tip_height().await.expect("tip"));
        assert_eq!(node.await_confirmations(&funding, 1).await, 1);
        utxo.input_of(Party::Seller)
    }
}

fn script_of(address: &str) -> ScriptBuf {
    parse_payout_address(address, LTC, REGTEST).expect("a regtest address")
}

/// The buyer gets the trade amount; the seller's deposit goes back, less the fee.
fn release_plan(input: EscrowInput, buyer_address: &str, seller_address: &str) -> SpendPlan {
    SpendPlan {
        chain: LTC,
        inputs: vec![input],
        outputs: vec![
            Payout {
                script_pubkey: script_of(buyer_address),
                amount: TO_BUYER,
            },
            Payout {
                script_pubkey: script_of(seller_address),
                amount: SELLER_DEPOSIT,
            },
        ],
        fee_payer: 1,
        path: SpendPath::Multisig,
    }
}

/// What a party does with a PSBT that came over the wire: check, then sign, then send back.
fn check_and_sign(wire: &[u8], trade: &Trade, plan: &SpendPlan, key: &Keypair) -> Vec<u8> {
    let mut psbt = decode_psbt(wire).expect("decode");
    check_psbt(&psbt, &trade.escrow, plan, MAX_FEE_RATE).expect("the honest PSBT passes");
    sign_psbt(&mut psbt, &trade.escrow, key).expect("sign");
    encode_psbt(&psbt)
}

fn str_field<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no {key} in {v}"))
}

#[tokio::test]
async fn script_and_addresses_agree_with_litecoin_core() {
    let node = Litecoind::start().await;
    let trade = Trade::new();
    // Litecoin Core decodes our witness script to the same P2WSH address, for each funder's output.
    for funder in [Party::Seller, Party::Buyer] {
        let script = trade.escrow.of(funder);
        let decoded = node
            .call(
                "decodescript",
                json!([script.witness_script().to_hex_string()]),
            )
            .await;
        assert_eq!(
            decoded["segwit"]["addresses"],
            json!([script.address(LTC, REGTEST).unwrap()]),
            "{decoded}"
        );
        let asm = str_field(&decoded, "asm");
        assert!(
            asm.starts_with("OP_IF 2 ") && asm.contains("OP_CHECKSEQUENCEVERIFY"),
            "{asm}"
        );
        // The first branch is the sorted 2-of-3 of buyer, seller and arbitrator.
        for key in script.keys() {
            assert!(asm.contains(&key.to_string()), "{asm}");
        }
    }
    assert_ne!(
        trade.escrow.of(Party::Seller).script_pubkey(),
        trade.escrow.of(Party::Buyer).script_pubkey()
    );
    let validated = node.call("validateaddress", json!([trade.address()])).await;
    assert_eq!(validated["isvalid"], json!(true));
    assert_eq!(
        str_field(&validated, "scriptPubKey"),
        trade.script_pubkey().to_hex_string()
    );

    // Every kind of address the node's wallet hands out parses to the node's own script and prints back
    // the same (`rltc1…`, base58 `m…`/`n…`, and Litecoin's own `Q…` P2SH).
    for kind in ["bech32", "legacy", "p2sh-segwit"] {
        let address = node.new_address_of(kind).await;
        let script = script_of(&address);
        let info = node.call("validateaddress", json!([address])).await;
        assert_eq!(
            str_field(&info, "scriptPubKey"),
            script.to_hex_string(),
            "{address}"
        );
        assert_eq!(address_from_script(&script, LTC, REGTEST).unwrap(), address);
    }

    // A regtest address is refused for another chain or network, saying what it is.
    let address = node.new_address().await;
    let err = parse_payout_address(&address, Chain::Btc, Network::Regtest)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("is a Litecoin regtest address, but this trade is on Bitcoin regtest"),
        "{err}"
    );
    let err = parse_payout_address(&address, LTC, Network::Main)
        .unwrap_err()
        .to_string();
    assert!(err.contains("this trade is on Litecoin mainnet"), "{err}");
}

#[tokio::test]
async fn the_chain_backend_says_what_is_wrong() {
    let node = Litecoind::start().await;
    assert_eq!(node.rpc.tip_height().await.unwrap(), 101);
    // No estimate on a fresh regtest chain: the configured floor (1 sat/vB), the node's relay minimum.
    assert_eq!(
        node.rpc.fee_rate().await.unwrap(),
        FeeRate::from_sat_per_vb_u32(1)
    );
    let mut config = node.core.clone();
    config.fee_floor_sat_vb = 3;
    let floor = RpcBackend::connect(&config).await.unwrap();
    assert_eq!(
        floor.fee_rate().await.unwrap(),
        FeeRate::from_sat_per_vb_u32(3)
    );

    let mut config = node.core.clone();
    config.rpc_password = "wrong".into();
    let err = RpcBackend::connect(&config).await.unwrap_err();
    assert!(matches!(err, ChainError::Auth { .. }), "{err}");
    assert!(err.to_string().contains("rpc_password"), "{err}");

    let mut config = node.core.clone();
    config.chain = Chain::Btc;
    let err = RpcBackend::connect(&config).await.unwrap_err().to_string();
    assert!(
        err.contains("on Litecoin regtest, but Souk is configured for Bitcoin regtest"),
        "{err}"
    );
    let mut config = node.core.clone();
    config.network = Network::Main;
    let err = RpcBackend::connect(&config).await.unwrap_err().to_string();
    assert!(
        err.contains("Litecoin regtest") && err.contains("Litecoin mainnet"),
        "{err}"
    );

    // Scans from several clients at once wait their turn instead of failing ("Scan already in progress").
    let other = RpcBackend::connect(&node.core).await.unwrap();
    let script = ScriptBuf::new_op_return([7u8; 4]);
    let scans = (0..12).map(|i| {
        let backend = if i % 2 == 0 { &node.rpc } else { &other };
        backend.escrow_utxos(&script)
    });
    for result in futures::future::join_all(scans).await {
        assert!(result.unwrap().is_empty());
    }

    let unknown = "00".repeat(32).parse().unwrap();
    let err = node.rpc.call("nosuchmethod", json!([])).await.unwrap_err();
    assert!(matches!(err, ChainError::Rpc { code: -32601, .. }), "{err}");

    // Without a wallet and without -txindex, confirmations of arbitrary transactions cannot be
    // answered: said so, not guessed. Souk's own backend watches in a wallet and needs no index.
    let err = node.rpc.confirmations(&unknown).await.unwrap_err();
    assert!(matches!(err, ChainError::TxIndexOff), "{err}");
    assert!(err.to_string().contains("-txindex=1"), "{err}");
    let watching = RpcBackend::connect_watching(&node.core, "souk-check")
        .await
        .unwrap();
    assert_eq!(watching.confirmations(&unknown).await.unwrap(), None);
    let err = RpcBackend::connect_watching(&node.core, "../escape")
        .await
        .unwrap_err();
    assert!(matches!(err, ChainError::Config(_)), "{err}");
}

/// Seconds since the epoch.
fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The watch-only wallet follows an escrow on a node without a transaction index: funding is seen in the
/// mempool, then confirmed; a spend waiting in the mempool leaves the output listed (as the UTXO set
/// has it) until a block takes it; every transaction's confirmations are known; coins sent before the
/// script was watched are found by the rescan from the trade's start; and Souk installs sharing the
/// node open the same wallet at once without failing.
#[tokio::test]
async fn a_watch_only_wallet_follows_an_escrow_without_txindex() {
    let node = Litecoind::start().await;
    assert!(!node.rpc.pruned().await.unwrap());
    follows_an_escrow(node).await;
}

/// The same on a pruned node (`-prune=550`), which the Settings connection test reports as pruned.
#[tokio::test]
async fn a_watch_only_wallet_follows_an_escrow_on_a_pruned_node() {
    let node = Litecoind::start_with(LitecoindOptions {
        prune: true,
        ..LitecoindOptions::default()
    })
    .await;
    assert!(node.rpc.pruned().await.unwrap(), "the node prunes");
    let dir = tempfile::tempdir().unwrap();
    let check = souk_core::connection::test_chain(
        dir.path(),
        &souk_core::connection::ConnectionEdit {
            chain: Chain::Ltc,
            network: Network::Regtest,
            rpc_url: node.core.rpc_url.clone(),
            rpc_user: node.core.rpc_user.clone(),
            rpc_password: Some(node.core.rpc_password.clone()),
            rpc_cookie_file: String::new(),
            electrum_url: String::new(),
            electrum_cert_sha256: String::new(),
            bootstrap: Vec::new(),
            tor: false,
        },
        Ok(None),
    )
    .await
    .expect("the pruned node answers");
    assert!(check.pruned && check.wallets, "{check:?}");
    follows_an_escrow(node).await;
}

async fn follows_an_escrow(node: Litecoind) {
    let index = node.rpc.call("getindexinfo", json!([])).await.unwrap();
    assert!(
        index.get("txindex").is_none(),
        "started with an index: {index}"
    );
    let opened = futures::future::join_all(
        (0..4).map(|_| RpcBackend::connect_watching(&node.core, "souk-shared")),
    )
    .await;
    let mut opened: Vec<RpcBackend> = opened.into_iter().map(Result::unwrap).collect();
    let watching = opened.pop().unwrap();
    let info = node
        .rpc
        .call_wallet("souk-shared", "getwalletinfo", json!([]))
        .await
        .unwrap();
    assert_eq!(info["private_keys_enabled"], json!(false), "{info}");

    let trade = Trade::new();
    let script = trade.script_pubkey();
    watching
        .watch(std::slice::from_ref(&script), now_secs())
        .await
        .unwrap();
    assert!(watching.outputs(&script).await.unwrap().is_empty());

    let funding = node.send_to(&trade.address(), ESCROWED).await;
    // The wallet takes in mempool transactions a moment after the node accepted them.
    let deadline = std::time::Instant::now() + souk_tests::DEADLINE;
    let seen = loop {
        let seen = watching.outputs(&script).await.unwrap();
        if !seen.is_empty() || std::time::Instant::now() > deadline {
            break seen;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].outpoint.txid, funding);
    assert_eq!((seen[0].confirmations, seen[0].height), (0, 0));
    assert_eq!(seen[0].value, ESCROWED);
    assert!(watching.escrow_utxos(&script).await.unwrap().is_empty());
    assert_eq!(watching.confirmations(&funding).await.unwrap(), Some(0));

    node.mine(1).await;
    let tip = node.rpc.tip_height().await.unwrap();
    let utxos = watching.escrow_utxos(&script).await.unwrap();
    assert_eq!(utxos.len(), 1, "{utxos:?}");
    assert_eq!((utxos[0].confirmations, utxos[0].height), (1, tip));
    assert_eq!(watching.confirmations(&funding).await.unwrap(), Some(1));

    // Released by buyer and seller; the release waits in the mempool, then confirms.
    let (buyer_address, seller_address) = (node.new_address().await, node.new_address().await);
    let plan = release_plan(
        utxos[0].input_of(Party::Seller),
        &buyer_address,
        &seller_address,
    );
    let wire =
        encode_psbt(&build_spend(&trade.escrow, &plan, FeeRate::from_sat_per_vb_u32(2)).unwrap());
    let combined = combine_psbts(
        decode_psbt(&check_and_sign(&wire, &trade, &plan, &trade.buyer)).unwrap(),
        decode_psbt(&check_and_sign(&wire, &trade, &plan, &trade.seller)).unwrap(),
    )
    .unwrap();
    let release = finalize_psbt(combined, &trade.escrow).unwrap();
    let txid = watching.broadcast(&release).await.unwrap();
    assert_eq!(watching.confirmations(&txid).await.unwrap(), Some(0));
    assert_eq!(watching.escrow_utxos(&script).await.unwrap(), utxos);
    node.mine(2).await;
    assert_eq!(watching.confirmations(&txid).await.unwrap(), Some(2));
    assert_eq!(watching.confirmations(&funding).await.unwrap(), Some(3));
    assert!(watching.outputs(&script).await.unwrap().is_empty());

    // Coins that came before the script was watched: the import rescans from the trade's start.
    let earlier = Trade::new();
    let start = now_secs();
    let early = node.send_to(&earlier.address(), ESCROWED).await;
    node.mine(1).await;
    let late_watcher = RpcBackend::connect_watching(&node.core, "souk-late")
        .await
        .unwrap();
    late_watcher
        .watch(&[earlier.script_pubkey()], start)
        .await
        .unwrap();
    let found = late_watcher
        .escrow_utxos(&earlier.script_pubkey())
        .await
        .unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].outpoint.txid, early);
    assert_eq!(late_watcher.confirmations(&early).await.unwrap(), Some(1));
}

/// Funds the escrow, releases it with the signatures of `signers`, and checks the chain paid out.
async fn release_signed_by(signers: impl Fn(&Trade) -> [&Keypair; 2]) {
    let node = Litecoind::start().await;
    let trade = Trade::new();
    let input = trade.fund(&node).await;
    let (buyer_address, seller_address) = (node.new_address().await, node.new_address().await);
    let plan = release_plan(input, &buyer_address, &seller_address);

    // One side builds the release at the chain's fee rate; each signer checks what it received first.
    let fee_rate = node.rpc.fee_rate().await.unwrap();
    let wire = encode_psbt(&build_spend(&trade.escrow, &plan, fee_rate).unwrap());
    let [first, second] = signers(&trade);
    let signed_first = check_and_sign(&wire, &trade, &plan, first);
    let signed_second = check_and_sign(&wire, &trade, &plan, second);
    let combined = combine_psbts(
        decode_psbt(&signed_first).unwrap(),
        decode_psbt(&signed_second).unwrap(),
    )
    .unwrap();
    let fee = combined.fee().unwrap();
    let release = finalize_psbt(combined, &trade.escrow).unwrap();

    let txid = node.rpc.broadcast(&release).await.unwrap();
    assert_eq!(txid, release.compute_txid());
    assert_eq!(node.rpc.confirmations(&txid).await.unwrap(), Some(0));
    // Broadcasting again (say, after a restart) is not an error.
    assert_eq!(node.rpc.broadcast(&release).await.unwrap(), txid);
    node.mine(1).await;
    assert_eq!(node.await_confirmations(&txid, 1).await, 1);
    assert_eq!(node.rpc.broadcast(&release).await.unwrap(), txid);

    assert_eq!(node.received_by(&buyer_address, 1).await, TO_BUYER);
    assert_eq!(
        node.received_by(&seller_address, 1).await,
        SELLER_DEPOSIT - fee
    );
    assert!(fee <= MAX_FEE_RATE.fee_vb(release.vsize() as u64).unwrap());
    assert!(
        node.rpc
            .escrow_utxos(&trade.script_pubkey())
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn buyer_and_seller_release_the_escrow() {
    release_signed_by(|t| [&t.buyer, &t.seller]).await;
}

#[tokio::test]
async fn seller_and_arbitrator_release_the_escrow() {
    release_signed_by(|t| [&t.seller, &t.arbitrator]).await;
}

#[tokio::test]
async fn a_tampered_release_is_refused_before_signing() {
    let node = Litecoind::start().await;
    let trade = Trade::new();
    let input = trade.fund(&node).await;
    let (buyer_address, seller_address) = (node.new_address().await, node.new_address().await);
    let plan = release_plan(input, &buyer_address, &seller_address);
    let fee_rate = node.rpc.fee_rate().await.unwrap();
    let honest = build_spend(&trade.escrow, &plan, fee_rate).unwrap();
    check_psbt(&honest, &trade.escrow, &plan, MAX_FEE_RATE).unwrap();

    // The buyer builds the release and tampers with it in each way; the seller's check refuses each.
    let thief = script_of(&node.new_address().await);
    let tampered = |f: &dyn Fn(&mut Psbt)| {
        let mut psbt = honest.clone();
        f(&mut psbt);
        let wire = encode_psbt(&psbt);
        check_psbt(
            &decode_psbt(&wire).unwrap(),
            &trade.escrow,
            &plan,
            MAX_FEE_RATE,
        )
        .unwrap_err()
    };
    let err = tampered(&|p| p.unsigned_tx.output[1].script_pubkey = thief.clone());
    assert!(
        matches!(err, EscrowError::OutputScript { index: 1, .. }),
        "{err}"
    );
    let err = tampered(&|p| p.unsigned_tx.output[1].value = Amount::from_sat(1_000_000));
    assert!(matches!(err, EscrowError::FeeAboveLimit { .. }), "{err}");
    let err = tampered(&|p| {
        p.unsigned_tx.output[1].value -= Amount::from_sat(10_000_000);
        p.unsigned_tx.output.push(bitcoin::TxOut {
            value: Amount::from_sat(10_000_000),
            script_pubkey: thief.clone(),
        });
        p.outputs.push(Default::default());
    });
    assert!(
        matches!(
            err,
            EscrowError::OutputCount {
                expected: 2,
                got: 3
            }
        ),
        "{err}"
    );
    // Another of the node's real outputs slipped in as an input.
    let unspent = node.call("listunspent", json!([1])).await;
    let other = OutPoint::new(
        str_field(&unspent[0], "txid").parse().unwrap(),
        unspent[0]["vout"].as_u64().unwrap() as u32,
    );
    let err = tampered(&|p| {
        p.unsigned_tx.input.push(TxIn {
            previous_output: other,
            ..p.unsigned_tx.input[0].clone()
        });
        p.inputs.push(p.inputs[0].clone());
    });
    assert!(
        matches!(err, EscrowError::ForeignInput(o) if o == other),
        "{err}"
    );
    assert!(
        err.to_string().contains("not one of the escrow's outputs"),
        "{err}"
    );
}

#[tokio::test]
async fn a_release_with_one_signature_is_refused_by_the_node_with_its_reason() {
    let node = Litecoind::start().await;
    let trade = Trade::new();
    let input = trade.fund(&node).await;
    let plan = release_plan(input, &node.new_address().await, &node.new_address().await);
    let mut psbt = build_spend(&trade.escrow, &plan, node.rpc.fee_rate().await.unwrap()).unwrap();
    sign_psbt(&mut psbt, &trade.escrow, &trade.buyer).unwrap();
    let err = finalize_psbt(psbt.clone(), &trade.escrow).unwrap_err();
    assert!(
        matches!(err, EscrowError::NotEnoughSignatures { have: 1, .. }),
        "{err}"
    );

    // Forced through anyway: the buyer's signature and an empty one in the witness.
    let signature = *psbt.inputs[0].partial_sigs.values().next().unwrap();
    let mut tx: Transaction = psbt.unsigned_tx.clone();
    tx.input[0].witness = Witness::from_slice(&[
        Vec::new(),
        signature.to_vec(),
        Vec::new(),
        vec![1],
        trade.escrow.of(Party::Seller).witness_script().to_bytes(),
    ]);
    let err = node.rpc.broadcast(&tx).await.unwrap_err();
    let ChainError::Rejected { txid, reason } = &err else {
        panic!("expected a rejection, got {err}");
    };
    assert_eq!(*txid, tx.compute_txid());
    assert!(reason.contains("script-verify-flag"), "{reason}");
    println!("litecoind refused it: {err}");
    assert!(
        err.to_string()
            .contains("the chain node refused transaction"),
        "{err}"
    );
    // The escrow is untouched.
    assert_eq!(
        node.rpc
            .escrow_utxos(&trade.script_pubkey())
            .await
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn litecoin_dust_limit_is_the_nodes() {
    let node = Litecoind::start().await;
    let trade = Trade::new();
    let input = trade.fund(&node).await;
    let buyer = script_of(&node.new_address().await);
    // 2,000 litoshi clears Bitcoin's dust limit for P2WPKH (294) but not Litecoin's (2,940).
    let small = Amount::from_sat(2_000);
    let mut plan = release_plan(input, &node.new_address().await, &node.new_address().await);
    plan.outputs[0].amount -= small;
    plan.outputs.push(Payout {
        script_pubkey: buyer,
        amount: small,
    });
    let err = build_spend(&trade.escrow, &plan, MAX_FEE_RATE).unwrap_err();
    assert!(
        matches!(
            err,
            EscrowError::Dust {
                index: 2,
                dust: 2_940,
                ..
            }
        ),
        "{err}"
    );

    // Built with Bitcoin's limit and fully signed, the node refuses it as dust.
    plan.chain = Chain::Btc;
    let mut psbt = build_spend(&trade.escrow, &plan, node.rpc.fee_rate().await.unwrap()).unwrap();
    sign_psbt(&mut psbt, &trade.escrow, &trade.seller).unwrap();
    sign_psbt(&mut psbt, &trade.escrow, &trade.arbitrator).unwrap();
    let tx = finalize_psbt(psbt, &trade.escrow).unwrap();
    let err = node.rpc.broadcast(&tx).await.unwrap_err();
    assert!(
        matches!(&err, ChainError::Rejected { reason, .. } if reason == "dust"),
        "{err}"
    );
}

/// All of `input` to `to` on `path`, the fee from it.
fn sweep(input: EscrowInput, to: &str, path: SpendPath) -> SpendPlan {
    SpendPlan {
        chain: LTC,
        inputs: vec![input],
        outputs: vec![Payout {
            script_pubkey: script_of(to),
            amount: input.value,
        }],
        fee_payer: 0,
        path,
    }
}

/// Spends the funded seller output on `path`, signed by `signers`, to a fresh wallet address.
async fn fallback_spend(
    node: &Litecoind,
    trade: &Trade,
    input: EscrowInput,
    path: SpendPath,
    signers: &[&Keypair],
) -> (Transaction, String) {
    let to = node.new_address().await;
    let plan = sweep(input, &to, path);
    let mut psbt = build_spend(&trade.escrow, &plan, node.rpc.fee_rate().await.unwrap()).unwrap();
    check_psbt(&psbt, &trade.escrow, &plan, MAX_FEE_RATE).unwrap();
    for key in signers {
        sign_psbt(&mut psbt, &trade.escrow, key).unwrap();
    }
    (finalize_psbt(psbt, &trade.escrow).unwrap(), to)
}

/// The arbitrator is gone: a party and the backup arbitrator move the coins, but only once the backup
/// lock has passed since the funding confirmed; before, Litecoin Core refuses the spend as not final.
#[tokio::test]
async fn the_backup_arbitrator_stands_in_after_its_lock() {
    let node = Litecoind::start().await;
    let trade = Trade::new();
    let input = trade.fund(&node).await;
    let locks = Timelocks::of(LTC, REGTEST);
    let (tx, to) = fallback_spend(
        &node,
        &trade,
        input,
        SpendPath::Backup,
        &[&trade.buyer, &trade.backup],
    )
    .await;
    // Funded one block ago: the relative lock has not passed.
    let err = node.rpc.broadcast(&tx).await.unwrap_err();
    assert!(
        matches!(&err, ChainError::Rejected { reason, .. } if reason.contains("non-BIP68-final")),
        "{err}"
    );
    node.mine(u32::from(locks.backup) - 2).await;
    assert!(node.rpc.broadcast(&tx).await.is_err(), "one block early");
    node.mine(1).await;
    let txid = node.rpc.broadcast(&tx).await.expect("the backup branch");
    node.mine(1).await;
    assert_eq!(node.await_confirmations(&txid, 1).await, 1);
    assert!(node.received_by(&to, 1).await > ESCROWED - Amount::from_sat(100_000));
}

/// Everyone else is gone: the funder takes its own output back alone after the reclaim lock, and only
/// the funder can — the buyer's key alone opens nothing on the seller's output.
#[tokio::test]
async fn the_funder_reclaims_its_own_coins_alone_after_the_reclaim_lock() {
    let node = Litecoind::start().await;
    let trade = Trade::new();
    let input = trade.fund(&node).await;
    let locks = Timelocks::of(LTC, REGTEST);
    let (tx, to) = fallback_spend(&node, &trade, input, SpendPath::Reclaim, &[&trade.seller]).await;
    node.mine(u32::from(locks.backup)).await;
    let err = node.rpc.broadcast(&tx).await.unwrap_err();
    assert!(
        matches!(&err, ChainError::Rejected { reason, .. } if reason.contains("non-BIP68-final")),
        "the backup lock is not the reclaim lock: {err}"
    );
    // A buyer's lone signature, forced into the reclaim branch of the seller's output, is refused.
    let mut forged = tx.clone();
    let plan = sweep(input, &to, SpendPath::Reclaim);
    let mut psbt = build_spend(&trade.escrow, &plan, node.rpc.fee_rate().await.unwrap()).unwrap();
    sign_psbt(&mut psbt, &trade.escrow, &trade.buyer).unwrap();
    let buyer_sig = psbt.inputs[0]
        .partial_sigs
        .values()
        .next()
        .unwrap()
        .to_vec();
    let mut items: Vec<Vec<u8>> = forged.input[0].witness.iter().map(<[u8]>::to_vec).collect();
    items[0] = buyer_sig;
    forged.input[0].witness = Witness::from_slice(&items);
    node.mine(u32::from(locks.reclaim - locks.backup)).await;
    let err = node.rpc.broadcast(&forged).await.unwrap_err();
    assert!(
        matches!(&err, ChainError::Rejected { reason, .. } if reason.contains("script-verify-flag")),
        "{err}"
    );
    let txid = node.rpc.broadcast(&tx).await.expect("the reclaim branch");
    node.mine(1).await;
    assert_eq!(node.await_confirmations(&txid, 1).await, 1);
    let back = node.received_by(&to, 1).await;
    assert!(
        back > ESCROWED - Amount::from_sat(100_000) && back < ESCROWED,
        "{back}"
    );
}
