//! Offers across real `souk node` processes: N release nodes with the production network settings
//! (default listen addresses, DHT on, 1 s gossip heartbeat, SQLite book), bootstrapped through the
//! first one, each watched through its own WebSocket (`/api/v1/events`, what the UI listens to).
//! An offer is posted through one node's API (`POST /api/v1/offers`, what `souk offer post` calls)
//! and timed until every other node has announced it; then it is withdrawn (`DELETE`) and timed
//! until every other node has announced the withdrawal. Afterwards every book is read through the
//! API to check what the events said.
//!
//! mDNS is off: nodes on one machine would all find each other through it, which strangers on the
//! internet never do; they meet through the bootstrap node and the DHT, as here.
//!
//! The idle traffic figure is every byte the nodes send each other on the loopback interface
//! (`/proc/net/dev`) over a quiet window, per node and minute: gossip, DHT, identify and ping
//! together, so an upper bound of the gossip's share.

use std::{
    collections::HashMap,
    fmt,
    path::{Path, PathBuf},
    process::Stdio,
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use futures::StreamExt;
use serde::Serialize;
use serde_json::{Value, json};
use tokio::{process::Child, sync::mpsc};

use crate::{dht::Transport, propagation::Rng, summary::LatencySummary};

pub(crate) const PASS: &str = "souk bench passphrase";

#[derive(Debug, Clone)]
pub struct RealNodesSettings {
    /// The `souk` binary (a release build for figures worth quoting).
    pub souk: PathBuf,
    pub nodes: usize,
    /// Offers posted one after another, each from a random node, each withdrawn after it arrived.
    pub offers: usize,
    /// How long the network runs after the last node answered before the first offer (the issue's
    /// measurement used 8 s).
    pub settle: Duration,
    /// The quiet window in which idle traffic is counted (zero: not measured).
    pub idle: Duration,
    /// How long one offer or withdrawal may take to reach every node before it counts as lost there.
    pub per_update: Duration,
    /// Listen on 127.0.0.1 only instead of the default (all interfaces): every node is then a DHT
    /// server and nodes dial each other, a dense network instead of leaves around the bootstrap node.
    pub listen_loopback: bool,
    /// How many nodes are initialised / started at once.
    pub parallel_starts: usize,
    pub seed: u64,
    /// Listen (and so connect) over this transport only; `None`: the default, TCP and QUIC.
    pub transport: Option<Transport>,
    /// One-way latency every node adds to what it receives over TCP (`--added-latency-ms`).
    pub latency: Duration,
    /// This share of the nodes (never the bootstrap node) leaves and comes back during the run: before
    /// each offer one of them is killed (no goodbye) and the one killed before restarts.
    pub churn: f64,
}

impl RealNodesSettings {
    pub fn new(souk: PathBuf, nodes: usize, offers: usize) -> Self {
        Self {
            souk,
            nodes,
            offers,
            settle: Duration::from_secs(8),
            idle: Duration::from_secs(60),
            per_update: Duration::from_secs(10),
            listen_loopback: false,
            parallel_starts: 4,
            seed: getrandom::u64().unwrap_or(0x5eed),
            transport: None,
            latency: Duration::ZERO,
            churn: 0.0,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct RealNodesReport {
    pub nodes: usize,
    pub listen_loopback: bool,
    /// `None`: TCP and QUIC (the default listen addresses).
    pub transport: Option<Transport>,
    pub latency_ms: u64,
    /// Node restarts during the run (each after being killed); 0 without churn.
    pub restarts: usize,
    pub offers: usize,
    pub seed: u64,
    pub settle_secs: f64,
    /// Connected peers per node after settling: least, median, most.
    pub peers_min: usize,
    pub peers_median: usize,
    pub peers_max: usize,
    /// How long `POST /api/v1/offers` took to answer on the maker.
    pub post_call: LatencySummary,
    /// Post sent → offer_added on each other node.
    pub offer: LatencySummary,
    pub offers_expected: usize,
    pub offers_delivered: usize,
    /// Withdraw sent → offer_withdrawn on each other node.
    pub withdrawal: LatencySummary,
    pub withdrawals_expected: usize,
    pub withdrawals_delivered: usize,
    /// Books read through the API at the end that disagree with the events (an offer shown as live
    /// after its withdrawal arrived, or a posted offer missing without its withdrawal).
    pub books_wrong: usize,
    /// Loopback bytes per node per minute while nothing was posted; `None` when not measured.
    pub idle_bytes_per_node_per_min: Option<f64>,
}

impl RealNodesReport {
    pub fn all_delivered(&self) -> bool {
        self.offers_delivered == self.offers_expected
            && self.withdrawals_delivered == self.withdrawals_expected
            && self.books_wrong == 0
    }
}

impl fmt::Display for RealNodesReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = |us: f64| us / 1000.0;
        writeln!(
            f,
            "real nodes: {} `souk node` processes{} over {}{}, {} offers (seed {}), settled {:.1} s, peers per node {}/{}/{} (min/median/max)",
            self.nodes,
            if self.listen_loopback {
                " on 127.0.0.1 only (all DHT servers)"
            } else {
                ""
            },
            match self.transport {
                None => "TCP and QUIC",
                Some(Transport::Tcp) => "TCP",
                Some(Transport::Quic) => "QUIC",
            },
            match (self.latency_ms, self.restarts) {
                (0, 0) => String::new(),
                (0, r) => format!(" with {r} restarts (churn)"),
                (ms, 0) => format!(" with {ms} ms added one-way latency"),
                (ms, r) => format!(" with {ms} ms added one-way latency and {r} restarts (churn)"),
            },
            self.offers,
            self.seed,
            self.settle_secs,
            self.peers_min,
            self.peers_median,
            self.peers_max
        )?;
        writeln!(
            f,
            "{:<12} {:>9} {:>9} {:>9} {:>9} {:>9}  delivered",
            "", "p50 ms", "p95 ms", "p99 ms", "max ms", "mean ms"
        )?;
        for (name, s, got, of) in [
            (
                "offer",
                &self.offer,
                self.offers_delivered,
                self.offers_expected,
            ),
            (
                "withdrawal",
                &self.withdrawal,
                self.withdrawals_delivered,
                self.withdrawals_expected,
            ),
            ("post call", &self.post_call, self.offers, self.offers),
        ] {
            writeln!(
                f,
                "{name:<12} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>9.1}  {got}/{of}",
                ms(s.p50_us),
                ms(s.p95_us),
                ms(s.p99_us),
                ms(s.max_us),
                ms(s.mean_us)
            )?;
        }
        writeln!(f, "books disagreeing with the events: {}", self.books_wrong)?;
        match self.idle_bytes_per_node_per_min {
            Some(b) => writeln!(
                f,
                "idle traffic: {:.0} bytes per node per minute (all protocols, loopback)",
                b
            ),
            None => writeln!(f, "idle traffic: not measured"),
        }
    }
}

/// One event a node's WebSocket delivered.
struct Seen {
    node: usize,
    kind: String,
    id: String,
    at: Instant,
}

/// A running `souk node`, killed when dropped.
pub(crate) struct Proc {
    pub(crate) child: Child,
    pub(crate) url: String,
    pub(crate) token: String,
    pub(crate) peer_id: String,
    pub(crate) addrs: Vec<String>,
}

pub async fn run_real_nodes(settings: RealNodesSettings) -> anyhow::Result<RealNodesReport> {
    if settings.nodes < 2 {
        bail!("at least 2 nodes are needed");
    }
    let tmp = tempfile::tempdir()?;
    if std::env::var_os("SOUK_BENCH_DEBUG").is_some() {
        eprintln!("nodes in {}", tmp.path().display());
    }
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;

    // Identities first, a few at a time (each runs the keystore's KDF).
    let dirs: Vec<PathBuf> = (0..settings.nodes)
        .map(|i| tmp.path().join(format!("node{i}")))
        .collect();
    futures::stream::iter(dirs.iter().map(|d| init(&settings.souk, d)))
        .buffer_unordered(settings.parallel_starts)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<anyhow::Result<Vec<()>>>()?;

    let first = start(&settings, &dirs[0], None, &http).await?;
    let wanted = match settings.transport {
        Some(Transport::Quic) => "/quic-v1",
        _ => "/tcp/",
    };
    let bootstrap = first
        .addrs
        .iter()
        .find(|a| a.contains("/ip4/127.0.0.1/") && a.contains(wanted))
        .cloned()
        .with_context(|| format!("node 0 has no loopback {wanted} address: {:?}", first.addrs))?;
    let mut procs = vec![first];
    let rest = futures::stream::iter(
        dirs[1..]
            .iter()
            .map(|d| start(&settings, d, Some(&bootstrap), &http)),
    )
    .buffered(settings.parallel_starts)
    .collect::<Vec<_>>()
    .await;
    for p in rest {
        procs.push(p?);
    }

    let (seen_tx, mut seen) = mpsc::unbounded_channel::<Seen>();
    for (i, p) in procs.iter().enumerate() {
        watch(i, p, seen_tx.clone()).await?;
    }

    let settle_started = Instant::now();
    tokio::time::sleep(settings.settle).await;
    let mut peers = Vec::new();
    for p in &procs {
        let status = get(&http, p, "/api/v1/status").await?;
        peers.push(status["connected_peers"].as_u64().unwrap_or(0) as usize);
    }
    peers.sort_unstable();
    let settle_secs = settle_started.elapsed().as_secs_f64();

    let mut rng = Rng::new(settings.seed);
    let mut post_calls = Vec::new();
    let mut offer_lat = Vec::new();
    let mut withdrawal_lat = Vec::new();
    let mut offers_delivered = 0;
    let mut withdrawals_delivered = 0;
    let mut early: Vec<Seen> = Vec::new();
    let mut expected = 0;
    // Churn: these nodes take turns leaving (killed) and coming back (restarted, same data).
    let churners: Vec<usize> = {
        let count = ((settings.nodes as f64) * settings.churn).round() as usize;
        rng.distinct_below(settings.nodes - 1, count.min(settings.nodes - 1))
            .into_iter()
            .map(|i| i + 1)
            .collect()
    };
    let mut down: Option<usize> = None;
    let mut restarts = 0;
    for k in 0..settings.offers {
        if !churners.is_empty() {
            let leaving = churners[k % churners.len()];
            if let Some(back) = down.take() {
                let _ = std::fs::remove_file(dirs[back].join("api.json"));
                let proc = start(&settings, &dirs[back], Some(&bootstrap), &http).await?;
                watch(back, &proc, seen_tx.clone()).await?;
                procs[back] = proc;
                restarts += 1;
            }
            procs[leaving]
                .child
                .kill()
                .await
                .context("killing a node")?;
            down = Some(leaving);
        }
        let up: Vec<usize> = (0..settings.nodes).filter(|n| Some(*n) != down).collect();
        let maker = up[rng.below(up.len())];
        let others = up.len() - 1;
        expected += others;
        let sent = Instant::now();
        let offer = post(&http, &procs[maker], offer_body(k)).await?;
        post_calls.push(sent.elapsed());
        let id = offer["id"]
            .as_str()
            .context("the posted offer has no id")?
            .to_owned();
        let got = collect(
            &mut seen,
            &mut early,
            "offer_added",
            &id,
            maker,
            others,
            sent + settings.per_update,
        )
        .await;
        offers_delivered += got.len();
        if std::env::var_os("SOUK_BENCH_DEBUG").is_some() {
            let mut slow: Vec<_> = got
                .iter()
                .filter(|(_, at)| at.duration_since(sent) > Duration::from_millis(300))
                .map(|(n, at)| (*n, at.duration_since(sent).as_millis()))
                .collect();
            slow.sort();
            eprintln!(
                "offer {k} from {maker}: slow {slow:?} missing {:?}",
                (0..settings.nodes)
                    .filter(|n| *n != maker && !got.contains_key(n))
                    .collect::<Vec<_>>()
            );
        }
        offer_lat.extend(got.values().map(|at| at.duration_since(sent)));

        let sent = Instant::now();
        delete(&http, &procs[maker], &format!("/api/v1/offers/{id}")).await?;
        let got = collect(
            &mut seen,
            &mut early,
            "offer_withdrawn",
            &id,
            maker,
            others,
            sent + settings.per_update,
        )
        .await;
        withdrawals_delivered += got.len();
        withdrawal_lat.extend(got.values().map(|at| at.duration_since(sent)));
    }

    drop(seen_tx);
    if let Some(back) = down.take() {
        let _ = std::fs::remove_file(dirs[back].join("api.json"));
        procs[back] = start(&settings, &dirs[back], Some(&bootstrap), &http).await?;
        restarts += 1;
    }

    // Every book, read through the API: no offer of this run may still be live anywhere.
    let mut books_wrong = 0;
    for p in &procs {
        let book = get(&http, p, "/api/v1/offers").await?;
        books_wrong += book
            .as_array()
            .map(|entries| {
                entries
                    .iter()
                    .filter(|e| e["offer"]["terms"].as_str().is_some_and(is_ours))
                    .count()
            })
            .unwrap_or(0);
    }

    let idle_bytes_per_node_per_min = if settings.idle.is_zero() {
        None
    } else {
        // Let the last gossip history (a few heartbeats) and DHT puts finish first.
        tokio::time::sleep(Duration::from_secs(5)).await;
        let before = loopback_bytes()?;
        tokio::time::sleep(settings.idle).await;
        let after = loopback_bytes()?;
        let minutes = settings.idle.as_secs_f64() / 60.0;
        Some(after.saturating_sub(before) as f64 / settings.nodes as f64 / minutes)
    };

    drop(procs);
    if std::env::var_os("SOUK_BENCH_DEBUG").is_some() {
        let _ = tmp.keep();
    }
    Ok(RealNodesReport {
        nodes: settings.nodes,
        listen_loopback: settings.listen_loopback,
        transport: settings.transport,
        latency_ms: u64::try_from(settings.latency.as_millis()).unwrap_or(u64::MAX),
        restarts,
        offers: settings.offers,
        seed: settings.seed,
        settle_secs,
        peers_min: peers[0],
        peers_median: peers[peers.len() / 2],
        peers_max: peers[peers.len() - 1],
        post_call: LatencySummary::of(&post_calls),
        offer: LatencySummary::of(&offer_lat),
        offers_expected: expected,
        offers_delivered,
        withdrawal: LatencySummary::of(&withdrawal_lat),
        withdrawals_expected: expected,
        withdrawals_delivered,
        books_wrong,
        idle_bytes_per_node_per_min,
    })
}

/// Sends what node `i`'s WebSocket announces (offers added and withdrawn) to `tx`, until it closes.
async fn watch(i: usize, p: &Proc, tx: mpsc::UnboundedSender<Seen>) -> anyhow::Result<()> {
    let url = format!(
        "{}/api/v1/events?token={}",
        p.url.replacen("http://", "ws://", 1),
        p.token
    );
    let (socket, _) = tokio_tungstenite::connect_async(url)
        .await
        .with_context(|| format!("node {i}'s event stream"))?;
    tokio::spawn(async move {
        let (_, mut read) = socket.split();
        while let Some(Ok(msg)) = read.next().await {
            let at = Instant::now();
            let Ok(text) = msg.to_text() else { continue };
            let Ok(v) = serde_json::from_str::<Value>(text) else {
                continue;
            };
            let kind = v["kind"].as_str().unwrap_or_default().to_owned();
            let id = match kind.as_str() {
                "offer_added" => v["offer"]["id"].as_str(),
                "offer_withdrawn" => v["id"].as_str(),
                _ => None,
            };
            if let Some(id) = id {
                let id = id.to_owned();
                if tx
                    .send(Seen {
                        node: i,
                        kind,
                        id,
                        at,
                    })
                    .is_err()
                {
                    break;
                }
            }
        }
    });
    Ok(())
}

/// Waits until `want` nodes other than `maker` reported `kind` for `id`, or `until`. Events for
/// other updates that come early (a withdrawal racing its offer's last delivery) are kept.
async fn collect(
    seen: &mut mpsc::UnboundedReceiver<Seen>,
    early: &mut Vec<Seen>,
    kind: &str,
    id: &str,
    maker: usize,
    want: usize,
    until: Instant,
) -> HashMap<usize, Instant> {
    let mut got = HashMap::new();
    let mut keep = Vec::new();
    for s in early.drain(..) {
        if s.kind == kind && s.id == id {
            if s.node != maker {
                got.entry(s.node).or_insert(s.at);
            }
        } else {
            keep.push(s);
        }
    }
    *early = keep;
    while got.len() < want {
        let left = until.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, seen.recv()).await {
            Ok(Some(s)) if s.kind == kind && s.id == id => {
                if s.node != maker {
                    got.entry(s.node).or_insert(s.at);
                }
            }
            Ok(Some(s)) => early.push(s),
            Ok(None) | Err(_) => break,
        }
    }
    got
}

const TERMS_MARK: &str = "souk-bench real-nodes offer";

fn is_ours(terms: &str) -> bool {
    terms.starts_with(TERMS_MARK)
}

fn offer_body(k: usize) -> Value {
    json!({
        "side": if k.is_multiple_of(2) { "sell" } else { "buy" },
        "base": "BTC",
        "quote": "EUR",
        "price": {"fixed": format!("{}", 60_000 + k)},
        "min_amount": 1_000_000,
        "max_amount": 10_000_000,
        "payment_methods": ["SEPA"],
        "escrow": {"kind": "none"},
        "deposit_bps": 1500,
        "ttl_ms": 30 * 60_000,
        "terms": format!("{TERMS_MARK} {k}"),
    })
}

pub(crate) async fn init(souk: &Path, dir: &Path) -> anyhow::Result<()> {
    let out = souk_command(souk, dir)
        .args(["--json", "init"])
        .output()
        .await
        .context("running souk init")?;
    if !out.status.success() {
        bail!(
            "souk init in {} failed: {}",
            dir.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

pub(crate) async fn start(
    settings: &RealNodesSettings,
    dir: &Path,
    bootstrap: Option<&str>,
    http: &reqwest::Client,
) -> anyhow::Result<Proc> {
    let mut cmd = souk_command(&settings.souk, dir);
    cmd.args(["--json", "node", "--no-mdns"]);
    let host = match settings.listen_loopback {
        true => "127.0.0.1",
        false => "0.0.0.0",
    };
    match (settings.transport, settings.listen_loopback) {
        (None, false) => {}
        (None, true) => {
            cmd.args(["--listen", "/ip4/127.0.0.1/tcp/0"]);
        }
        (Some(Transport::Tcp), _) => {
            cmd.args(["--listen", &format!("/ip4/{host}/tcp/0")]);
        }
        (Some(Transport::Quic), _) => {
            cmd.args(["--listen", &format!("/ip4/{host}/udp/0/quic-v1")]);
        }
    }
    if !settings.latency.is_zero() {
        cmd.args([
            "--added-latency-ms",
            &settings.latency.as_millis().to_string(),
        ]);
    }
    if let Ok(filter) = std::env::var("SOUK_BENCH_NODE_LOG") {
        cmd.args(["--log-level", &filter]);
    }
    if let Some(b) = bootstrap {
        cmd.args(["--bootstrap", b]);
    }
    let log = std::fs::File::create(dir.with_extension("stderr.log"))?;
    let child = cmd
        .stdout(Stdio::null())
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .context("starting souk node")?;
    let deadline = Instant::now() + Duration::from_secs(60);
    let api = loop {
        if let Some(api) = std::fs::read_to_string(dir.join("api.json"))
            .ok()
            .and_then(|t| serde_json::from_str::<Value>(&t).ok())
        {
            break api;
        }
        if Instant::now() > deadline {
            bail!(
                "souk node in {} did not start: {}",
                dir.display(),
                std::fs::read_to_string(dir.with_extension("stderr.log")).unwrap_or_default()
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let mut proc = Proc {
        child,
        url: api["url"].as_str().context("api.json url")?.to_owned(),
        token: api["token"].as_str().context("api.json token")?.to_owned(),
        peer_id: String::new(),
        addrs: Vec::new(),
    };
    let status = get(http, &proc, "/api/v1/status").await?;
    proc.peer_id = status["peer_id"].as_str().unwrap_or_default().to_owned();
    proc.addrs = status["listen_addrs"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    if proc.peer_id.is_empty() {
        bail!("node in {} reported no peer id", dir.display());
    }
    Ok(proc)
}

fn souk_command(souk: &Path, dir: &Path) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(souk);
    cmd.arg("--data-dir")
        .arg(dir)
        .env("SOUK_PASSPHRASE", PASS)
        // Loopback only: no market price feed.
        .env("SOUK_PRICE_URL", "")
        .env_remove("SOUK_DATA_DIR")
        .env_remove("SOUK_LOG_LEVEL")
        .env_remove("SOUK_LOG_FILE")
        .stdin(Stdio::null());
    // The nodes' log filter, for looking into a run (with `SOUK_BENCH_DEBUG` their directories stay).
    if let Some(filter) = std::env::var_os("SOUK_BENCH_NODE_LOG") {
        cmd.env("SOUK_LOG_LEVEL", filter);
    }
    cmd
}

pub(crate) async fn get(http: &reqwest::Client, p: &Proc, path: &str) -> anyhow::Result<Value> {
    answer(http.get(format!("{}{path}", p.url)).bearer_auth(&p.token)).await
}

async fn post(http: &reqwest::Client, p: &Proc, body: Value) -> anyhow::Result<Value> {
    answer(
        http.post(format!("{}/api/v1/offers", p.url))
            .bearer_auth(&p.token)
            .json(&body),
    )
    .await
}

async fn delete(http: &reqwest::Client, p: &Proc, path: &str) -> anyhow::Result<Value> {
    answer(
        http.delete(format!("{}{path}", p.url))
            .bearer_auth(&p.token),
    )
    .await
}

async fn answer(request: reqwest::RequestBuilder) -> anyhow::Result<Value> {
    let response = request.send().await?;
    let status = response.status();
    let text = response.text().await?;
    if !status.is_success() {
        bail!("API answered {status}: {text}");
    }
    if text.trim().is_empty() {
        return Ok(Value::Null);
    }
    Ok(serde_json::from_str(&text)?)
}

/// Bytes sent on the loopback interface so far (every node here talks over it).
fn loopback_bytes() -> anyhow::Result<u64> {
    let dev = std::fs::read_to_string("/proc/net/dev").context("reading /proc/net/dev")?;
    for line in dev.lines() {
        if let Some((name, counters)) = line.split_once(':')
            && name.trim() == "lo"
        {
            // Receive bytes is the first counter; on loopback every byte sent is received.
            return counters
                .split_whitespace()
                .next()
                .and_then(|b| b.parse().ok())
                .context("unreadable /proc/net/dev line for lo");
        }
    }
    bail!("no loopback interface in /proc/net/dev")
}
