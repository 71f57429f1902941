//! Chaos: escrow trades between three `souk node` processes (maker, taker, arbitrator) on a real regtest
//! chain, with parties killed by SIGKILL and restarted at points a seed picks — between any two trade
//! steps, while a party's own step is on its way to a dead counterparty, and right after a block the
//! watchers must see. Every trade must end Completed, Resolved or Refunded with the chain paying what
//! the trade says and nothing left in the escrow, and both sides' signed event logs must hold the same
//! steps, none lost, none doubled.
//!
//! Run by `cargo xtask chaos [--trades N] [--seed S]` (and by `cargo xtask test` with a few trades);
//! it needs the `souk` binary (`SOUK_BIN`, else the one built beside the test).

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    process::Stdio,
    time::{Duration, Instant},
};

use bitcoin::Amount;
use serde_json::{Value, json};
use tokio::process::{Child, Command};

use crate::regtest::Litecoind;

/// How long one awaited condition may take: a restart (unlock, reconnect, redelivery) fits well inside.
const WAIT: Duration = Duration::from_secs(120);
const POLL: Duration = Duration::from_millis(250);
const PASSPHRASE: &str = "chaos passphrase";
/// 1 LTC, of a 0.5–2 LTC offer.
const AMOUNT: &str = "1";
/// What fees may take from a payout (several spends at the floor rate, and a fee-reserve forward).
const FEE_TOLERANCE: u64 = 100_000;

/// A small deterministic generator (SplitMix64): the same seed gives the same kills.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// 0..n
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    pub fn percent(&mut self, p: u64) -> bool {
        self.below(100) < p
    }
}

/// The `souk` binary: `SOUK_BIN`, else the one cargo built beside this test (`target/debug/souk`).
pub fn souk_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("SOUK_BIN") {
        return PathBuf::from(bin);
    }
    let exe = std::env::current_exe().expect("the test's path");
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .map(|debug| debug.join("souk"))
        .expect("target/debug");
    assert!(
        bin.exists(),
        "no souk binary at {}: build it (cargo build -p souk-cli) or set SOUK_BIN",
        bin.display()
    );
    bin
}

/// One party: a `souk node` process over its own data dir, restartable on the same address.
#[derive(Debug)]
pub struct Party {
    pub name: &'static str,
    dir: PathBuf,
    bin: PathBuf,
    node_args: Vec<String>,
    env: Vec<(String, String)>,
    child: Option<Child>,
    pub peer_id: String,
    /// Where it listens (kept across restarts, so the others' saved addresses stay right).
    listen: String,
    /// `listen` + `/p2p/PEERID`.
    pub addr: String,
    pub kills: u32,
}

impl Party {
    /// `souk init` in `root/name`, then the first start.
    pub async fn create(
        name: &'static str,
        root: &Path,
        ltc: &Litecoind,
        extra: &[&str],
        bootstrap: &[String],
    ) -> Self {
        let dir = root.join(name);
        std::fs::create_dir_all(&dir).expect("data dir");
        let chain = &ltc.config;
        let mut node_args: Vec<String> = vec![
            "--no-mdns".into(),
            "--chain".into(),
            "ltc".into(),
            "--network".into(),
            "regtest".into(),
        ];
        let mut env = vec![
            ("SOUK_PASSPHRASE".to_owned(), PASSPHRASE.to_owned()),
            // The watcher looks every second (1 is the least souk.toml accepts): blocks are mined on demand.
            ("SOUK_WATCH_EVERY_SECS".to_owned(), "1".to_owned()),
            ("SOUK_LOG_LEVEL".to_owned(), "info".to_owned()),
        ];
        if chain.electrum_url.is_empty() {
            node_args.extend(["--rpc-url".into(), chain.rpc_url.clone()]);
            node_args.extend(["--rpc-user".into(), chain.rpc_user.clone()]);
            env.push(("SOUK_RPC_PASSWORD".into(), chain.rpc_password.clone()));
        } else {
            node_args.extend(["--electrum-url".into(), chain.electrum_url.clone()]);
            node_args.extend([
                "--electrum-cert-sha256".into(),
                chain.electrum_cert_sha256.clone(),
            ]);
        }
        node_args.extend(extra.iter().map(|s| (*s).to_owned()));
        let mut party = Self {
            name,
            dir,
            bin: souk_bin(),
            node_args,
            env,
            child: None,
            peer_id: String::new(),
            listen: "/ip4/127.0.0.1/tcp/0".into(),
            addr: String::new(),
            kills: 0,
        };
        let init = party.command().args(["--json", "init"]).output().await;
        let init = init.expect("souk init runs");
        assert!(
            init.status.success(),
            "souk init ({name}): {}",
            String::from_utf8_lossy(&init.stderr)
        );
        party.start(bootstrap).await;
        let status = party.must(&["status"]).await;
        party.peer_id = status["peer_id"].as_str().expect("peer_id").to_owned();
        let addr = status["listen_addrs"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .find(|a| a.starts_with("/ip4/127.0.0.1/tcp/"))
            .expect("a loopback TCP address")
            .to_owned();
        party.listen = addr.split("/p2p/").next().unwrap_or(&addr).to_owned();
        party.addr = format!("{}/p2p/{}", party.listen, party.peer_id);
        party
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new(&self.bin);
        cmd.arg("--data-dir").arg(&self.dir);
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd.kill_on_drop(true);
        cmd
    }

    fn log_path(&self) -> PathBuf {
        self.dir.with_extension("log")
    }

    /// The last lines of this party's log (every run of it, appended).
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.log_path()).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(60)..].join("\n")
    }

    /// Starts the node (again) and waits until its API answers as this process.
    pub async fn start(&mut self, bootstrap: &[String]) {
        assert!(self.child.is_none(), "{} is running", self.name);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .expect("log file");
        let mut cmd = self.command();
        cmd.args(["--json", "node", "--listen", &self.listen]);
        for b in bootstrap {
            cmd.args(["--bootstrap", b]);
        }
        cmd.args(&self.node_args)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log);
        let child = cmd.spawn().expect("souk node starts");
        let pid = child.id();
        self.child = Some(child);
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!(
                    "{} exited ({status}) while starting:\n{}",
                    self.name,
                    self.log_tail()
                );
            }
            let api: Option<Value> = std::fs::read_to_string(self.dir.join("api.json"))
                .ok()
                .and_then(|t| serde_json::from_str(&t).ok());
            if api.is_some_and(|a| a["pid"].as_u64() == pid.map(u64::from))
                && self.cli(&["status"]).await.is_ok()
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{} did not start within {WAIT:?}:\n{}",
                self.name,
                self.log_tail()
            );
            tokio::time::sleep(POLL).await;
        }
    }

    /// SIGKILL: no shutdown, no flush, whatever was in flight is cut.
    pub async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.start_kill().expect("kill");
            child.wait().await.expect("reaped");
            self.kills += 1;
        }
    }

    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// `souk --json ARGS` against this party's node: its JSON, or the error it printed.
    pub async fn cli(&self, args: &[&str]) -> Result<Value, String> {
        let out = tokio::time::timeout(WAIT, self.command().arg("--json").args(args).output())
            .await
            .map_err(|_| format!("souk {args:?} took over {WAIT:?}"))?
            .map_err(|e| e.to_string())?;
        if out.status.success() {
            serde_json::from_slice(&out.stdout).map_err(|e| format!("souk {args:?}: {e}"))
        } else {
            Err(format!(
                "souk {args:?} exited {}: {}{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    }

    /// [`Self::cli`] that must succeed.
    pub async fn must(&self, args: &[&str]) -> Value {
        match self.cli(args).await {
            Ok(v) => v,
            Err(e) => panic!(
                "{}: {e}\n{} log:\n{}",
                self.name,
                self.name,
                self.log_tail()
            ),
        }
    }

    /// Polls `souk trade show ID` until `done` holds.
    pub async fn await_trade(&self, id: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + WAIT;
        let mut last = Value::Null;
        loop {
            if let Ok(trade) = self.cli(&["trade", "show", id]).await {
                if done(&trade) {
                    return trade;
                }
                last = trade;
            }
            assert!(
                Instant::now() < deadline,
                "{}: trade {id} not {what} within {WAIT:?}; last seen: state {} steps {}\nlog:\n{}",
                self.name,
                last["state"],
                step_kinds(&last).join(","),
                self.log_tail()
            );
            tokio::time::sleep(POLL).await;
        }
    }

    pub async fn await_state(&self, id: &str, states: &[&str]) -> Value {
        self.await_trade(id, &states.join(" or "), |t| {
            states.iter().any(|s| t["state"].as_str() == Some(*s))
        })
        .await
    }
}

impl Drop for Party {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.start_kill();
        }
    }
}

fn step_kinds(trade: &Value) -> Vec<String> {
    trade["steps"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["kind"].as_str().map(str::to_owned))
        .collect()
}

/// How a trade ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// Paid, confirmed, released.
    Completed,
    /// A dispute the arbitrator decides for the buyer or the seller.
    Resolved { buyer_wins: bool },
}

/// What one run did.
#[derive(Debug, Default)]
pub struct Report {
    pub trades: u32,
    pub completed: u32,
    pub resolved: u32,
    pub kills: u32,
    /// Kills that hit a party during another's step (the step had to wait for it).
    pub kills_during_steps: u32,
    /// Kills right after a block the watchers had to see.
    pub kills_during_chain: u32,
    pub double_kills: u32,
    /// Each kill: trade, point, party, how.
    pub events: Vec<String>,
    pub seconds: f64,
}

impl Report {
    pub fn json(&self) -> Value {
        json!({
            "trades": self.trades,
            "completed": self.completed,
            "resolved": self.resolved,
            "kills": self.kills,
            "kills_during_steps": self.kills_during_steps,
            "kills_during_chain": self.kills_during_chain,
            "double_kills": self.double_kills,
            "seconds": self.seconds,
            "events": self.events,
        })
    }
}

/// Index of maker, taker, arbitrator in [`Chaos::parties`].
const MAKER: usize = 0;
const TAKER: usize = 1;
const ARBITRATOR: usize = 2;

/// The three parties, the chain, the seed's choices and what happened.
#[derive(Debug)]
pub struct Chaos<'a> {
    pub ltc: &'a Litecoind,
    pub parties: Vec<Party>,
    rng: Rng,
    /// Chance of a kill at each point, in percent.
    kill_percent: u64,
    pub report: Report,
    trade_no: u32,
}

impl<'a> Chaos<'a> {
    pub async fn start(ltc: &'a Litecoind, root: &Path, seed: u64, kill_percent: u64) -> Self {
        let arbitrator = Party::create("arbitrator", root, ltc, &["--arbitrator"], &[]).await;
        let boot = vec![arbitrator.addr.clone()];
        // One taker takes every offer: the maker's per-peer limit (10 an hour) would refuse the 11th.
        let maker = Party::create(
            "maker",
            root,
            ltc,
            &["--max-takes-per-peer-per-hour", "1000000"],
            &boot,
        )
        .await;
        let boot = vec![arbitrator.addr.clone(), maker.addr.clone()];
        let taker = Party::create("taker", root, ltc, &[], &boot).await;
        Self {
            ltc,
            parties: vec![maker, taker, arbitrator],
            rng: Rng::new(seed),
            kill_percent,
            report: Report::default(),
            trade_no: 0,
        }
    }

    fn others(&self, i: usize) -> Vec<String> {
        (0..self.parties.len())
            .filter(|&j| j != i)
            .map(|j| self.parties[j].addr.clone())
            .collect()
    }

    async fn restart(&mut self, i: usize) {
        let boot = self.others(i);
        self.parties[i].start(&boot).await;
    }

    /// Makes sure party `i` runs (before it acts).
    async fn up(&mut self, i: usize) {
        if !self.parties[i].is_running() {
            self.restart(i).await;
        }
    }

    /// Kill and restart at once; sometimes twice, the second time while it is still starting up.
    async fn kill_restart(&mut self, i: usize, point: &str) {
        self.parties[i].kill().await;
        let twice = self.rng.percent(30);
        if twice {
            let boot = self.others(i);
            let party = &mut self.parties[i];
            // Started, then killed again a moment later: during unlock, reconnect or redelivery.
            let wait = Duration::from_millis(100 + self.rng.below(1500));
            let started = tokio::time::timeout(wait, party.start(&boot)).await;
            if started.is_err() {
                // Still starting when the time ran out: its child is set; kill it where it stands.
            }
            party.kill().await;
            self.report.double_kills += 1;
        }
        self.restart(i).await;
        self.note(i, point, if twice { "killed twice" } else { "killed" });
    }

    fn note(&mut self, i: usize, point: &str, how: &str) {
        self.report.kills += 1;
        let line = format!(
            "trade {} {point}: {} {how}",
            self.trade_no, self.parties[i].name
        );
        eprintln!("chaos: {line}");
        self.report.events.push(line);
    }

    /// Before a step by `actor`: maybe kill someone. A party other than the actor may stay down while the
    /// step happens (the actor's node must deliver it later); it is restarted before the harness waits
    /// for the step's outcome ([`Self::wait`]) or when it next acts.
    async fn before_step(&mut self, point: &str, actor: usize) {
        // Anyone left down by the previous point comes back now, unless the dice keep it down.
        for i in 0..self.parties.len() {
            if !self.parties[i].is_running() && (i == actor || self.rng.percent(50)) {
                self.restart(i).await;
            }
        }
        if !self.rng.percent(self.kill_percent) {
            return;
        }
        let victim = self.rng.below(3) as usize;
        if victim != actor && self.rng.percent(50) {
            self.parties[victim].kill().await;
            self.report.kills_during_steps += 1;
            self.note(victim, point, "killed, down during the step");
        } else {
            self.kill_restart(victim, point).await;
        }
    }

    /// After a block: maybe kill someone before its watcher looked.
    async fn after_block(&mut self, point: &str) {
        if self.rng.percent(self.kill_percent) {
            let victim = self.rng.below(3) as usize;
            if self.parties[victim].is_running() {
                self.report.kills_during_chain += 1;
                self.kill_restart(victim, point).await;
            }
        }
    }

    async fn all_up(&mut self) {
        for i in 0..self.parties.len() {
            self.up(i).await;
        }
    }

    /// One whole trade; returns its id after every check passed.
    pub async fn trade(&mut self) -> String {
        self.trade_no += 1;
        let maker_sells = self.rng.percent(50);
        let ending = if self.rng.percent(60) {
            Ending::Completed
        } else {
            Ending::Resolved {
                buyer_wins: self.rng.percent(50),
            }
        };
        let (seller, buyer) = if maker_sells {
            (MAKER, TAKER)
        } else {
            (TAKER, MAKER)
        };
        let payout = self.ltc.new_address().await;
        let refund = self.ltc.new_address().await;
        let arbitrator_id = self.parties[ARBITRATOR].peer_id.clone();

        // The maker posts; the taker must see it (and the maker must be up to answer the take).
        self.before_step("post", MAKER).await;
        self.up(MAKER).await;
        let side = if maker_sells { "sell" } else { "buy" };
        let offer = self.parties[MAKER]
            .must(&[
                "offer",
                "post",
                "--side",
                side,
                "--base",
                "LTC",
                "--quote",
                "EUR",
                "--price",
                "80",
                "--min",
                "0.5",
                "--max",
                "2",
                "--method",
                "SEPA",
                "--escrow",
                "multisig",
                "--arbitrator",
                &arbitrator_id,
            ])
            .await;
        let offer_id = offer["id"].as_str().expect("offer id").to_owned();

        self.before_step("take", TAKER).await;
        self.all_up().await;
        self.await_offer(&offer_id).await;
        let payout_arg = if buyer == TAKER { payout.as_str() } else { "" };
        let trade = self.parties[TAKER]
            .must(&[
                "trade", "take", &offer_id, "--amount", AMOUNT, "--method", "SEPA", "--payout",
                payout_arg,
            ])
            .await;
        let id = trade["id"].as_str().expect("trade id").to_owned();

        self.before_step("accept", MAKER).await;
        self.wait(MAKER, &id, &["Requested"]).await;
        self.parties[MAKER].must(&["trade", "accept", &id]).await;

        // Addresses: the seller's refund address, and the buyer's payout when the buyer is the maker.
        for (who, address) in [(seller, refund.clone()), (buyer, payout.clone())] {
            if who == TAKER && buyer == TAKER {
                continue;
            }
            self.before_step("address", who).await;
            self.up(who).await;
            self.wait(who, &id, &["Accepted", "EscrowFunding"]).await;
            self.parties[who]
                .must(&["trade", "address", &id, &address])
                .await;
        }

        // Both fund their own outputs from their wallets (the harness's), once both nodes show them.
        // Setting the escrow up needs the arbitrator's announcement: with three nodes, every DHT copy of
        // it may have died with a killed node, so the arbitrator must be back to announce again.
        self.before_step("fund", seller).await;
        self.all_up().await;
        let seller_view = self.wait(seller, &id, &["EscrowFunding"]).await;
        self.wait(buyer, &id, &["EscrowFunding"]).await;
        let escrow = seller_view["escrow"].clone();
        let amount = escrow["amount"].as_u64().expect("amount");
        let buyer_deposit = escrow["buyer_deposit"].as_u64().expect("deposit");
        let seller_deposit = escrow["seller_deposit"].as_u64().expect("deposit");
        let seller_address = escrow["seller_escrow_address"]
            .as_str()
            .expect("seller's escrow output")
            .to_owned();
        let buyer_address = escrow["buyer_escrow_address"]
            .as_str()
            .expect("buyer's escrow output")
            .to_owned();
        self.ltc
            .send_to(&seller_address, Amount::from_sat(amount + seller_deposit))
            .await;
        self.ltc
            .send_to(&buyer_address, Amount::from_sat(buyer_deposit))
            .await;
        self.ltc.mine(1).await;
        self.after_block("funding mined").await;
        self.all_up().await;
        for i in [seller, buyer] {
            self.wait(i, &id, &["EscrowFunded"]).await;
        }

        // (buyer's payout, seller's refund) the chain must show in the end.
        let expected = match ending {
            Ending::Completed => {
                self.before_step("paid", buyer).await;
                self.up(buyer).await;
                self.parties[buyer].must(&["trade", "paid", &id]).await;
                self.before_step("received", seller).await;
                self.up(seller).await;
                self.wait(seller, &id, &["PaymentSent"]).await;
                self.parties[seller].must(&["trade", "received", &id]).await;
                self.before_step("release", buyer).await;
                self.up(buyer).await;
                self.wait(buyer, &id, &["Released", "Completed"]).await;
                self.report.completed += 1;
                (amount + buyer_deposit, seller_deposit)
            }
            Ending::Resolved { buyer_wins } => {
                let opener = if self.rng.percent(50) { buyer } else { seller };
                self.before_step("dispute", opener).await;
                self.up(opener).await;
                self.parties[opener]
                    .must(&["trade", "dispute", &id, "--reason", "chaos says so"])
                    .await;
                self.before_step("resolve", ARBITRATOR).await;
                self.up(ARBITRATOR).await;
                self.all_up().await;
                self.await_dispute(&id).await;
                let to = if buyer_wins { "buyer" } else { "seller" };
                let decided = self.parties[ARBITRATOR]
                    .must(&["dispute", "resolve", &id, "--to", to, "--reason", "chaos"])
                    .await;
                let decision = &decided["decision"];
                let shares = (
                    decision["buyer_share"].as_u64().unwrap_or(0),
                    decision["seller_share"].as_u64().unwrap_or(0),
                );
                self.report.resolved += 1;
                if shares == (0, 0) {
                    let total = amount + buyer_deposit + seller_deposit;
                    if buyer_wins { (total, 0) } else { (0, total) }
                } else {
                    shares
                }
            }
        };

        // Blocks until both sides are done and the chain shows the payouts; the watchers may be killed
        // right after any of them.
        let final_states: &[&str] = match ending {
            Ending::Completed => &["Completed"],
            Ending::Resolved { .. } => &["Resolved"],
        };
        let deadline = Instant::now() + WAIT * 2;
        // Kills while the payout confirms: the first few blocks only, so the trade can end.
        let mut blocks = 0;
        loop {
            self.ltc.mine(1).await;
            blocks += 1;
            if blocks <= 3 {
                self.after_block("payout mined").await;
            }
            self.all_up().await;
            let mut done = true;
            let mut seen = Vec::new();
            for i in [MAKER, TAKER] {
                let t = self.parties[i].must(&["trade", "show", &id]).await;
                done &= final_states.iter().any(|s| t["state"].as_str() == Some(*s));
                seen.push(format!(
                    "{}: {} {}",
                    self.parties[i].name,
                    t["state"],
                    step_kinds(&t).join(",")
                ));
            }
            let paid = self.ltc.received_by(&payout, 1).await.to_sat();
            let refunded = self.ltc.received_by(&refund, 1).await.to_sat();
            let escrow_left =
                self.unspent(&seller_address).await + self.unspent(&buyer_address).await;
            done &= paid + FEE_TOLERANCE >= expected.0
                && refunded + FEE_TOLERANCE >= expected.1
                && escrow_left == 0;
            if done {
                // Nothing beyond what the trade says either.
                assert!(
                    paid <= expected.0 && refunded <= expected.1,
                    "trade {id}: paid {paid}, refunded {refunded}, expected {expected:?}"
                );
                break;
            }
            assert!(
                Instant::now() < deadline,
                "trade {id} ({ending:?}) not settled: payout {paid}, refund {refunded}, expected \
                 {expected:?}, escrow still holds {escrow_left}\n{}\nmaker log:\n{}\ntaker log:\n{}",
                seen.join("\n"),
                self.parties[MAKER].log_tail(),
                self.parties[TAKER].log_tail()
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        self.compare_logs(&id).await;
        self.report.trades += 1;
        id
    }

    /// Waits until party `who` shows trade `id` in one of `states`, everyone running: a party left down
    /// during the step just made comes back first (what it sent or must receive travels then).
    async fn wait(&mut self, who: usize, id: &str, states: &[&str]) -> Value {
        self.all_up().await;
        self.parties[who].await_state(id, states).await
    }

    async fn await_offer(&self, offer_id: &str) {
        let deadline = Instant::now() + WAIT;
        let taker = &self.parties[TAKER];
        loop {
            let list = taker
                .cli(&["offer", "list", "--market", "LTC/EUR"])
                .await
                .unwrap_or(Value::Null);
            if list
                .as_array()
                .into_iter()
                .flatten()
                .any(|e| e["offer"]["id"].as_str() == Some(offer_id))
            {
                return;
            }
            if Instant::now() > deadline {
                panic!(
                    "offer {offer_id} not in the taker's book within {WAIT:?}\n{}",
                    taker.log_tail()
                );
            }
            // Ask the makers directly now and then (gossip may have gone to a dead node).
            let _ = taker.cli(&["offer", "refresh", "LTC/EUR"]).await;
            tokio::time::sleep(POLL).await;
        }
    }

    async fn await_dispute(&self, id: &str) {
        let arbitrator = &self.parties[ARBITRATOR];
        let deadline = Instant::now() + WAIT;
        while arbitrator.cli(&["dispute", "show", id]).await.is_err() {
            assert!(
                Instant::now() < deadline,
                "the arbitrator never got the dispute of {id}\n{}",
                arbitrator.log_tail()
            );
            tokio::time::sleep(POLL).await;
        }
    }

    /// Base units still unspent at `address`, by the chain's UTXO set.
    async fn unspent(&self, address: &str) -> u64 {
        let scan = self
            .ltc
            .call(
                "scantxoutset",
                json!(["start", [format!("addr({address})")]]),
            )
            .await;
        Amount::from_btc(scan["total_amount"].as_f64().unwrap_or(0.0))
            .map(|a| a.to_sat())
            .unwrap_or(u64::MAX)
    }

    /// Each side's own signed steps reached the other, in the same order, none lost and none doubled; and
    /// no side recorded any step twice from the same signer (the seller may hold the buyer's signed
    /// `released` and its own sighting of that release on the chain: two records, two signers).
    async fn compare_logs(&self, id: &str) {
        let maker = self.parties[MAKER].must(&["trade", "show", id]).await;
        let taker = self.parties[TAKER].must(&["trade", "show", id]).await;
        let report = format!(
            "trade {id}\n maker: {}\n taker: {}",
            maker["steps"], taker["steps"]
        );
        let sent = |t: &Value, mine: bool| -> Vec<String> {
            t["steps"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|s| s["mine"].as_bool() == Some(mine))
                .filter_map(|s| s["kind"].as_str())
                .filter(|k| SENT_STEPS.contains(k))
                .map(str::to_owned)
                .collect()
        };
        assert_eq!(
            sent(&maker, true),
            sent(&taker, false),
            "the maker's steps as the taker holds them: {report}"
        );
        assert_eq!(
            sent(&taker, true),
            sent(&maker, false),
            "the taker's steps as the maker holds them: {report}"
        );
        for log in [&maker, &taker] {
            let mut counts: BTreeMap<(String, bool), u32> = BTreeMap::new();
            for step in log["steps"].as_array().into_iter().flatten() {
                let kind = step["kind"].as_str().unwrap_or("").to_owned();
                let mine = step["mine"].as_bool().unwrap_or(false);
                *counts.entry((kind, mine)).or_default() += 1;
            }
            for ((kind, mine), n) in counts {
                assert!(
                    n == 1 || OBSERVED_REPEATABLE.contains(&kind.as_str()),
                    "{kind} (mine: {mine}) recorded {n} times: {report}"
                );
            }
        }
    }
}

/// Steps a party signs and sends to the other (the buyer's `released` is left out: the seller also
/// records its own sighting of the release under that name).
const SENT_STEPS: &[&str] = &[
    "take_request",
    "counter",
    "accept",
    "reject",
    "escrow_keys",
    "payment_sent",
    "payment_received",
    "cancel",
    "dispute",
];

/// Observations a node may record more than once (a funding seen, dropped and seen again; a payout
/// resent after the node lost it).
const OBSERVED_REPEATABLE: &[&str] = &["funding_seen", "funding_dropped", "payout_resent"];
