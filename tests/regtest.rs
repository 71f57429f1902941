//! A real Litecoin Core node per test: `litecoind -regtest` in its own temp datadir, RPC on a free
//! loopback port with a password of its own, no peer-to-peer listening, a legacy wallet holding matured
//! coins. Dropping the [`Litecoind`] kills the process and waits for it.
//!
//! Ready means the RPC answers (polled with a deadline, never a fixed sleep). A port taken between picking
//! and binding makes litecoind exit (or another node answer, which refuses our unique password): both are
//! retried on a new port.

use std::{
    fs::File,
    net::TcpListener,
    path::Path,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use bitcoin::{Amount, Denomination, Txid};
use serde_json::{Value, json};
use souk_core::{
    chain::{ChainError, RpcBackend},
    config::ChainConfig,
    escrow::{Chain, Network},
};

use crate::{DEADLINE, electrumx::ElectrumX};

/// Debian's package (`litecoind`, Litecoin Core 0.21); `cargo xtask test` installs it. The daemon
/// itself, not Debian's `/usr/bin/litecoind` wrapper: that script first runs `mkdir ~/.litecoin`
/// (without `-p`) when the folder is missing, so on a fresh machine two chains starting at once race
/// and one exits with "File exists". Every test chain has its own `-datadir` anyway.
pub const LITECOIND: &str = "/usr/lib/litecoin/litecoind";
/// RPC methods that change nothing a test counts (a fresh address changes nothing the test counts):
/// asked again once when the connection drops under them.
const READ_ONLY: &[&str] = &[
    "getnewaddress",
    "getblockcount",
    "getbestblockhash",
    "getblockhash",
    "getblock",
    "getrawtransaction",
    "gettransaction",
    "getmempoolentry",
    "getrawmempool",
    "getreceivedbyaddress",
    "listunspent",
    "gettxout",
    "getbalance",
];

const RPC_USER: &str = "souk";
const WALLET: &str = "souk-test";
/// Blocks a coinbase needs before it can be spent (plus the one being matured).
const MATURITY: u32 = 101;
const START_ATTEMPTS: usize = 5;
const POLL: Duration = Duration::from_millis(20);

/// The process and its datadir; killed (then waited for) on drop, whatever state it is in.
struct Process {
    child: Child,
    dir: tempfile::TempDir,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Process {
    /// The end of litecoind's stderr and debug.log, for failure messages.
    fn logs(&self) -> String {
        let tail = |path: &Path| {
            std::fs::read_to_string(path)
                .map(|text| {
                    let lines: Vec<&str> = text.lines().collect();
                    lines[lines.len().saturating_sub(15)..].join("\n")
                })
                .unwrap_or_default()
        };
        format!(
            "stderr:\n{}\ndebug.log:\n{}",
            tail(&self.dir.path().join("stderr.log")),
            tail(&self.dir.path().join("regtest/debug.log"))
        )
    }
}

/// Options for [`Litecoind::start_with`].
#[derive(Debug, Clone, Copy, Default)]
pub struct LitecoindOptions {
    /// `-txindex=1`. Souk needs none (it watches escrows in a watch-only wallet), so tests run without.
    pub txindex: bool,
    /// `-blockmintxfee` in litoshi/vB: blocks take no transaction (package) paying less.
    pub block_min_fee_sat_vb: Option<u64>,
    /// `-prune=550`: a pruned node (the smallest target; regtest's few blocks stay, but the node
    /// behaves as pruned: no transaction index allowed, `pruned` in `getblockchaininfo`).
    pub prune: bool,
}

/// A block as [`Litecoind::confirmations`] reads it: its txids and its parent's hash.
type Block = (Vec<String>, Option<String>);

/// The variable that makes every [`Litecoind`] of a test come with an Electrum server in front of it,
/// and the Souk nodes of the test settle through that server: `electrum`. Unset (or `core`), they talk to
/// the node's RPC. `cargo xtask test` runs the escrow scenarios once each way.
pub const BACKEND_VAR: &str = "SOUK_TEST_CHAIN_BACKEND";

/// Whether this run's Souk nodes settle through an Electrum server (see [`BACKEND_VAR`]).
pub fn through_electrum() -> bool {
    match std::env::var(BACKEND_VAR).as_deref() {
        Ok("electrum") => true,
        Ok("" | "core") | Err(_) => false,
        Ok(other) => panic!("{BACKEND_VAR}={other}: expected `core` or `electrum`"),
    }
}

/// A running regtest node with a funded wallet.
pub struct Litecoind {
    /// The Electrum server in front of the node when this run settles through one ([`BACKEND_VAR`]);
    /// stopped before the node.
    electrum: Option<ElectrumX>,
    process: Process,
    options: LitecoindOptions,
    /// How Souk's nodes reach the chain in this run, as they would from their config file: the node's
    /// RPC, or the Electrum server in front of it ([`BACKEND_VAR`]).
    pub config: ChainConfig,
    /// How to reach the node's own RPC (the harness's and Electrum server's way in; what a Souk node
    /// that must talk to Core itself, say to fund from its wallet, is given).
    pub core: ChainConfig,
    pub rpc: RpcBackend,
    mining_address: String,
    /// The txids of each block read so far (by block hash, so a reorg cannot mislead), and each block's
    /// parent: [`Self::confirmations`] reads every block once.
    blocks: std::sync::Mutex<std::collections::HashMap<String, Block>>,
}

impl std::fmt::Debug for Litecoind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Litecoind")
            .field("url", &self.core.rpc_url)
            .field("electrum", &self.electrum)
            .field("datadir", &self.process.dir.path())
            .finish()
    }
}

enum StartFailure {
    /// Lost a race for the port: try another.
    PortTaken(String),
    Fatal(String),
}

impl Litecoind {
    /// A node without a transaction index, with a wallet and 101 mined blocks (one matured coinbase of 50 LTC, more as
    /// blocks are mined).
    pub async fn start() -> Self {
        Self::start_with(LitecoindOptions::default()).await
    }

    /// With [`BACKEND_VAR`] = `electrum`, the node keeps a transaction index and an Electrum server
    /// indexes it; [`Self::config`] points there.
    pub async fn start_with(mut options: LitecoindOptions) -> Self {
        let electrum = through_electrum();
        // An Electrum server asks its node for any transaction by id.
        options.txindex |= electrum;
        let mut failures = Vec::new();
        for _ in 0..START_ATTEMPTS {
            match Self::try_start(options).await {
                Ok(mut node) => {
                    // Legacy wallet: Debian's litecoind has no descriptor wallets (built without sqlite).
                    node.call("createwallet", json!([WALLET])).await;
                    node.mining_address = node.new_address().await;
                    node.mine(MATURITY).await;
                    if electrum {
                        let server = ElectrumX::start(&node).await;
                        // Over TLS, as a user reaches a server: the whole suite crosses it.
                        node.config = server.tls_config(&node);
                        node.electrum = Some(server);
                    }
                    return node;
                }
                Err(StartFailure::PortTaken(why)) => failures.push(why),
                Err(StartFailure::Fatal(why)) => panic!("litecoind did not start: {why}"),
            }
        }
        panic!(
            "litecoind did not start in {START_ATTEMPTS} attempts:\n{}",
            failures.join("\n---\n")
        );
    }

    async fn try_start(options: LitecoindOptions) -> Result<Self, StartFailure> {
        let dir = tempfile::tempdir().map_err(|e| StartFailure::Fatal(format!("temp dir: {e}")))?;
        // Unique per node, so a node that grabbed our port cannot be mistaken for ours.
        let password = dir
            .path()
            .file_name()
            .map(|n| {
                n.to_string_lossy()
                    .replace(|c: char| !c.is_ascii_alphanumeric(), "")
            })
            .unwrap_or_default()
            + "-regtest";
        let port = free_port();
        let child = spawn(dir.path(), port, &password, options, &[])?;
        let mut process = Process { child, dir };
        let config = ChainConfig {
            chain: Chain::Ltc,
            network: Network::Regtest,
            rpc_url: format!("http://127.0.0.1:{port}/"),
            rpc_user: RPC_USER.into(),
            rpc_password: password,
            ..ChainConfig::default()
        };
        let rpc = Self::await_rpc(&mut process, &config, port).await?;
        Ok(Self {
            electrum: None,
            process,
            options,
            config: config.clone(),
            core: config,
            rpc,
            mining_address: String::new(),
            blocks: Default::default(),
        })
    }

    /// Polls until the RPC answers; a process that exited, or another server on the port, is reported.
    async fn await_rpc(
        process: &mut Process,
        config: &ChainConfig,
        port: u16,
    ) -> Result<RpcBackend, StartFailure> {
        let deadline = Instant::now() + DEADLINE;
        loop {
            if let Ok(Some(status)) = process.child.try_wait() {
                let logs = process.logs();
                let why = format!("litecoind exited ({status}) on port {port}:\n{logs}");
                return Err(if logs.contains("bind") || logs.contains("Bind") {
                    StartFailure::PortTaken(why)
                } else {
                    StartFailure::Fatal(why)
                });
            }
            match RpcBackend::connect(config).await {
                Ok(rpc) => return Ok(rpc),
                Err(ChainError::Unreachable { .. } | ChainError::WarmingUp(_)) => {}
                Err(ChainError::Auth { .. }) => {
                    return Err(StartFailure::PortTaken(format!(
                        "another RPC server answered on port {port}"
                    )));
                }
                Err(e) => {
                    return Err(StartFailure::Fatal(format!("{e}\n{}", process.logs())));
                }
            }
            if Instant::now() > deadline {
                return Err(StartFailure::Fatal(format!(
                    "RPC not ready after {DEADLINE:?}\n{}",
                    process.logs()
                )));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Stops the node (RPC `stop`, then waits for the process to exit) and starts it again on the same
    /// datadir, port and password with `-persistmempool=0`: the chain stays, every unconfirmed
    /// transaction is gone, as after a node restart that lost its mempool. The wallet stays unloaded
    /// (loading it would put its own unconfirmed transactions back) until [`Self::load_wallet`].
    pub async fn restart_forgetting_mempool(&mut self) {
        self.restart_forgetting_mempool_with(&[]).await;
    }

    /// [`Self::restart_forgetting_mempool`] with more arguments for the new process (say, a higher
    /// `-minrelaytxfee`).
    pub async fn restart_forgetting_mempool_with(&mut self, extra: &[&str]) {
        self.call("stop", json!([])).await;
        let deadline = Instant::now() + DEADLINE;
        while self
            .process
            .child
            .try_wait()
            .expect("litecoind's status")
            .is_none()
        {
            assert!(
                Instant::now() < deadline,
                "litecoind did not stop in {DEADLINE:?}"
            );
            tokio::time::sleep(POLL).await;
        }
        let port: u16 = self
            .core
            .rpc_url
            .trim_end_matches('/')
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("the RPC port");
        let child = spawn(
            self.process.dir.path(),
            port,
            &self.core.rpc_password,
            self.options,
            &[&["-persistmempool=0"], extra].concat(),
        )
        .unwrap_or_else(|_| panic!("litecoind did not start again"));
        self.process.child = child;
        match Self::await_rpc(&mut self.process, &self.core, port).await {
            Ok(rpc) => self.rpc = rpc,
            Err(StartFailure::PortTaken(why) | StartFailure::Fatal(why)) => {
                panic!("litecoind did not come back: {why}")
            }
        }
        // An Electrum server follows its node back by itself, but keeps the node's relay fee for a
        // minute (ElectrumX caches `getnetworkinfo`): with a new policy, the server is restarted too, as
        // its operator would.
        if !extra.is_empty()
            && let Some(mut server) = self.electrum.take()
        {
            server.restart(self).await;
            self.electrum = Some(server);
        }
    }

    /// Loads the test wallet again after [`Self::restart_forgetting_mempool`].
    pub async fn load_wallet(&self) {
        self.call("loadwallet", json!([WALLET])).await;
    }

    /// Polls until `txid` is in the mempool and returns when it entered it (unix seconds).
    pub async fn await_in_mempool(&self, txid: &str) -> u64 {
        let deadline = Instant::now() + DEADLINE;
        loop {
            if let Ok(entry) = self.rpc.call("getmempoolentry", json!([txid])).await {
                return entry["time"].as_u64().expect("an entry time");
            }
            assert!(
                Instant::now() < deadline,
                "{txid} not in the mempool after {DEADLINE:?}"
            );
            tokio::time::sleep(POLL).await;
        }
    }

    /// A raw RPC call that must succeed, on the test wallet (node-wide methods work there too; Souk's
    /// own watch-only wallets are loaded beside it).
    pub async fn call(&self, method: &str, params: Value) -> Value {
        let mut result = self.rpc.call_wallet(WALLET, method, params.clone()).await;
        // litecoind runs here with `-rpcservertimeout=1` (so `stop` does not wait on idle connections),
        // while the RPC client keeps an idle connection for 20 s: a call sent on one the node just
        // closed fails with "connection closed before message completed" without having been read.
        // That call, and only that failure, is sent once more — whatever the method; a read-only one
        // is also asked again on any other connection failure.
        if let Err(ChainError::Unreachable { reason, .. }) = &result
            && (reason.contains("connection closed before message completed")
                || READ_ONLY.contains(&method))
        {
            result = self.rpc.call_wallet(WALLET, method, params.clone()).await;
        }
        result.unwrap_or_else(|e| panic!("{method} {params}: {e}\n{}", self.process.logs()))
    }

    /// Mines `n` blocks (to the wallet) and returns their hashes.
    pub async fn mine(&self, n: u32) -> Vec<String> {
        let hashes = self
            .call("generatetoaddress", json!([n, self.mining_address]))
            .await;
        serde_json::from_value(hashes).expect("block hashes")
    }

    /// A fresh bech32 (`rltc1q…`) address of the node's wallet.
    pub async fn new_address(&self) -> String {
        self.new_address_of("bech32").await
    }

    /// A fresh wallet address of a kind: `bech32`, `legacy` or `p2sh-segwit`.
    pub async fn new_address_of(&self, kind: &str) -> String {
        self.call("getnewaddress", json!(["", kind]))
            .await
            .as_str()
            .expect("an address")
            .to_owned()
    }

    /// Pays `amount` from the wallet to `address` (unconfirmed until [`Self::mine`]).
    pub async fn send_to(&self, address: &str, amount: Amount) -> Txid {
        let txid = self
            .call(
                "sendtoaddress",
                json!([address, amount.to_string_in(Denomination::Bitcoin)]),
            )
            .await;
        txid.as_str().and_then(|t| t.parse().ok()).expect("a txid")
    }

    /// Pays `amount` to `address` in a transaction that signals BIP-125 replacement (unconfirmed).
    pub async fn send_replaceable(&self, address: &str, amount: Amount) -> String {
        let txid = self
            .call(
                "sendtoaddress",
                json!([
                    address,
                    amount.to_string_in(Denomination::Bitcoin),
                    "",
                    "",
                    false,
                    true
                ]),
            )
            .await;
        txid.as_str().expect("a txid").to_owned()
    }

    /// Double-spends the mempool transaction `txid` (of the test wallet): the same inputs, all back to
    /// the wallet at a higher fee. `txid` leaves the mempool; returns the replacement's txid.
    pub async fn replace_in_mempool(&self, txid: &str) -> String {
        let tx = self.raw_transaction(txid).await;
        let mut inputs = Vec::new();
        let mut total = Amount::ZERO;
        for input in tx["vin"].as_array().expect("inputs") {
            inputs.push(json!({ "txid": input["txid"], "vout": input["vout"] }));
            let prev = self
                .raw_transaction(input["txid"].as_str().expect("a txid"))
                .await;
            let vout = usize::try_from(input["vout"].as_u64().expect("a vout")).expect("an index");
            let value = prev["vout"][vout]["value"].as_f64().expect("a value");
            total += Amount::from_btc(value).expect("an amount");
        }
        let back = self.new_address().await;
        let keep = total - Amount::from_sat(100_000);
        let raw = self
            .call(
                "createrawtransaction",
                json!([inputs, [{ back: keep.to_btc() }]]),
            )
            .await;
        let signed = self
            .call("signrawtransactionwithwallet", json!([raw]))
            .await;
        let replacement = self
            .call("sendrawtransaction", json!([signed["hex"]]))
            .await;
        replacement.as_str().expect("a txid").to_owned()
    }

    /// Each party funds its own escrow output, as a trade's view names them: the seller `seller`, the
    /// buyer `buyer` (a zero amount sends nothing). Returns the txids sent, seller's first.
    pub async fn fund_escrow(
        &self,
        escrow: &souk_core::trading::EscrowView,
        seller: u64,
        buyer: u64,
    ) -> Vec<Txid> {
        let mut sent = Vec::new();
        for (address, amount) in [
            (&escrow.seller_escrow_address, seller),
            (&escrow.buyer_escrow_address, buyer),
        ] {
            if amount > 0 {
                let address = address.as_deref().expect("the escrow's addresses are set");
                sent.push(self.send_to(address, Amount::from_sat(amount)).await);
            }
        }
        sent
    }

    /// What a wallet address has received in transactions with at least `min_confirmations`.
    pub async fn received_by(&self, address: &str, min_confirmations: u32) -> Amount {
        let coins = self
            .call("getreceivedbyaddress", json!([address, min_confirmations]))
            .await;
        Amount::from_btc(coins.as_f64().expect("an amount")).expect("a valid amount")
    }

    /// The chain's own answer, found by reading the blocks (no wallet, no transaction index): `Some(0)`
    /// in the mempool, `Some(n)` when in the block n - 1 below the tip, `None` when unknown.
    pub async fn confirmations(&self, txid: &Txid) -> Option<u32> {
        let id = txid.to_string();
        if self.rpc.call("getmempoolentry", json!([id])).await.is_ok() {
            return Some(0);
        }
        self.find_in_blocks(&id).await.map(|(depth, _)| depth)
    }

    /// `getrawtransaction` (verbose) of a transaction in the mempool or any block of the best chain,
    /// without a transaction index.
    pub async fn raw_transaction(&self, txid: &str) -> Value {
        if let Ok(tx) = self
            .rpc
            .call("getrawtransaction", json!([txid, true]))
            .await
        {
            return tx;
        }
        let (_, block) = self
            .find_in_blocks(txid)
            .await
            .unwrap_or_else(|| panic!("{txid} is neither in the mempool nor in a block"));
        self.call("getrawtransaction", json!([txid, true, block]))
            .await
    }

    /// The depth (1 = tip) and hash of the best chain's block holding `txid`. Each block is read once.
    async fn find_in_blocks(&self, txid: &str) -> Option<(u32, String)> {
        let mut hash = self.call("getbestblockhash", json!([])).await;
        let mut depth = 1;
        while let Some(h) = hash.as_str().map(str::to_owned) {
            let known = self.blocks.lock().expect("blocks").get(&h).cloned();
            let (txids, parent) = match known {
                Some(block) => block,
                None => {
                    let block = self.call("getblock", json!([h, 1])).await;
                    let txids: Vec<String> =
                        serde_json::from_value(block["tx"].clone()).expect("the block's txids");
                    let parent = block["previousblockhash"].as_str().map(str::to_owned);
                    self.blocks
                        .lock()
                        .expect("blocks")
                        .insert(h.clone(), (txids.clone(), parent.clone()));
                    (txids, parent)
                }
            };
            if txids.iter().any(|t| t == txid) {
                return Some((depth, h));
            }
            depth += 1;
            hash = parent.map_or(Value::Null, Value::String);
        }
        None
    }

    /// Polls until `txid` has at least `n` confirmations.
    pub async fn await_confirmations(&self, txid: &Txid, n: u32) -> u32 {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let confirmations = self.confirmations(txid).await;
            match confirmations {
                Some(c) if c >= n => return c,
                _ if Instant::now() > deadline => {
                    panic!("{txid} has {confirmations:?} confirmations after {DEADLINE:?}, not {n}")
                }
                _ => tokio::time::sleep(POLL).await,
            }
        }
    }
}

/// Runs `litecoind -regtest` on `dir` with RPC on `port`, plus `extra` arguments.
fn spawn(
    dir: &Path,
    port: u16,
    password: &str,
    options: LitecoindOptions,
    extra: &[&str],
) -> Result<Child, StartFailure> {
    let stderr = File::create(dir.join("stderr.log"))
        .map_err(|e| StartFailure::Fatal(format!("stderr log: {e}")))?;
    Command::new(LITECOIND)
        .arg("-regtest")
        .arg(format!("-datadir={}", dir.display()))
        .arg(format!("-txindex={}", u8::from(options.txindex)))
        .arg(format!("-prune={}", if options.prune { 550 } else { 0 }))
        .arg("-fallbackfee=0.0002")
        // Bitcoin Core's policy (BIP 125 replacement), which Litecoin Core turns off by default: tests
        // replace transactions in the mempool to drop a funding.
        .arg("-mempoolreplacement=1")
        // Idle RPC connections close after a second: `stop` waits for every open one (30 s by default).
        .arg("-rpcservertimeout=1")
        .arg("-keypool=10")
        // MWEB never activates: on regtest it would at block 432, where Litecoin Core then fails to
        // mine (`bad-txns-vin-empty`: its first HogEx needs a peg-in). Souk's escrows are plain segwit;
        // long runs (the chaos harness) mine past that height.
        .arg("-vbparams=mweb:-2:0")
        .arg(format!("-rpcuser={RPC_USER}"))
        .arg(format!("-rpcpassword={password}"))
        .arg(format!("-rpcport={port}"))
        .args(["-rpcbind=127.0.0.1", "-rpcallowip=127.0.0.1"])
        .args([
            "-server=1",
            "-listen=0",
            "-listenonion=0",
            "-dnsseed=0",
            "-discover=0",
        ])
        .arg("-printtoconsole=0")
        .args(options.block_min_fee_sat_vb.map(|rate| {
            // LTC per kvB.
            format!("-blockmintxfee={}", Amount::from_sat(rate * 1000).to_btc())
        }))
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .map_err(|e| {
            StartFailure::Fatal(format!(
                "cannot run {LITECOIND}: {e}; install Debian's litecoind (cargo xtask test does)"
            ))
        })
}

/// A loopback port nothing listened on a moment ago.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}
