//! Soak: N real `souk node` processes on loopback (port 0, a temp data dir each, no mDNS, joined through
//! the first few by `--bootstrap`), with offers posted and withdrawn at a steady rate through each
//! node's local API (`POST /api/v1/offers`, `DELETE /api/v1/offers/{id}`, what `souk offer post` and
//! `souk offer withdraw` call) for M minutes.
//!
//! While it runs, and once more at the end, every node's book is read (`GET /api/v1/offers`) and held
//! against the ledger of what was posted and withdrawn: an offer posted more than a grace ago and not
//! yet withdrawn must be in every book, an offer withdrawn more than a grace ago must be in none. Each
//! node's resident memory (`VmRSS` of `/proc/PID/status`) and open file descriptors (`/proc/PID/fd`) are
//! sampled throughout; their least-squares slopes per minute are reported and judged (see
//! [`Limits`]).
//!
//! Run by `cargo xtask soak [--nodes N] [--minutes M]`; it needs the `souk` binary (`SOUK_BIN`, else
//! the one built beside the test).

use std::{
    collections::{BTreeMap, HashMap, HashSet, VecDeque},
    path::{Path, PathBuf},
    process::Stdio,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use serde_json::{Value, json};
use tokio::{
    process::{Child, Command},
    time::MissedTickBehavior,
};

use crate::chaos::souk_bin;

const PASSPHRASE: &str = "soak passphrase";
/// Marks the soak's offers in the books (the warm-up's are marked apart).
const TERMS: &str = "souk soak offer";
const WARM_UP_TERMS: &str = "souk soak warm-up";
/// How long a node may take to start, and the network to carry the warm-up offers.
const WAIT: Duration = Duration::from_secs(90);
/// How long one API call may take before it counts as failed. A post or a withdrawal answers once the
/// book holds it and gossip carries it (the DHT's share runs behind the answer); a write may wait up
/// to 30 s for SQLite under load. A slow answer is only a figure.
const API_TIMEOUT: Duration = Duration::from_secs(75);
const POLL: Duration = Duration::from_millis(200);
/// Nodes the others bootstrap through (the first few; each later node is given all of them).
const HUBS: usize = 3;
/// Nodes initialised or started at once: each `souk init` and each unlock runs the keystore's KDF.
const PARALLEL_STARTS: usize = 4;
/// The most API calls (a post and its withdrawal count as one) the soak has open at one node: a
/// maker's app does one thing at a time, not dozens. A beat whose node is still busy with as many is
/// skipped and counted; too many skips fail the run (the nodes did not keep the rate).
const IN_FLIGHT_PER_NODE: usize = 4;
/// The share of the scheduled posts that must be made for the rate to count as kept.
const RATE_KEPT: f64 = 0.9;
/// The most misses kept in the report with their details (all are counted).
const KEPT: usize = 50;

/// What a soak run does.
#[derive(Debug, Clone)]
pub struct Settings {
    pub nodes: usize,
    pub minutes: f64,
    /// Offers posted per minute across the network: 20 per node (1,000 at 50 nodes).
    pub offers_per_minute: f64,
    /// Each node's live offers: once it has more, it withdraws its oldest with each post. Far below
    /// `MAX_OFFERS_PER_MAKER_PER_MARKET` (256), so no post is refused for quota.
    pub live_per_node: usize,
    /// How long an offer or a withdrawal may take to reach every book before its absence (or
    /// presence) counts as a miss.
    pub grace: Duration,
    /// How often every book is read while the load runs.
    pub check_every: Duration,
    /// How often each node's RSS and fds are sampled.
    pub sample_every: Duration,
    /// How long the books may take to agree with the ledger after the last post.
    pub settle: Duration,
    pub markets: Vec<&'static str>,
}

impl Settings {
    pub fn new(nodes: usize, minutes: f64) -> Self {
        Self {
            nodes,
            minutes,
            offers_per_minute: 20.0 * nodes as f64,
            live_per_node: 15,
            grace: Duration::from_secs(10),
            check_every: Duration::from_secs(5),
            sample_every: Duration::from_secs(2),
            settle: Duration::from_secs(60),
            markets: vec!["BTC/EUR", "BTC/USD", "LTC/EUR", "LTC/USD"],
        }
    }

    /// Another rate across the network; each node keeps about 45 s worth of its posts live (15 at the
    /// default 20 a minute per node, at least 2), so withdrawals happen at any rate.
    pub fn with_rate(mut self, offers_per_minute: f64) -> Self {
        self.offers_per_minute = offers_per_minute;
        let per_node = offers_per_minute / self.nodes as f64;
        self.live_per_node = ((per_node * 0.75).round() as usize).clamp(2, 15);
        self
    }
}

/// When memory or descriptors count as growing without bound. A run of minutes cannot prove that
/// something is bounded; these catch a leak that is clearly there, and leave alone what a healthy node
/// does while it warms up.
///
/// - File descriptors. A healthy node holds a fixed set (its SQLite files, log, listeners, epoll and
///   friends) plus one socket per connected peer (at most N − 1) plus a few for the API connections the
///   soak keeps open. So over any run its count may move by up to N − 1 + [`Limits::fd_headroom`]
///   without anything being wrong. A node fails when its fitted growth over the run (slope × minutes)
///   exceeds that bound *and* its slope exceeds [`Limits::fd_per_minute`]: a leak of one descriptor per
///   offer or per withdrawal (tens a minute per node) fails within the first minute; a slow leak of a
///   few a minute fails once the run is long enough for it to outgrow the peer churn.
/// - Memory. A node's RSS rises while it warms up (allocator arenas, SQLite's page cache, gossip's
///   seen-message cache filling to its time window), so the first third of the run is not judged: the
///   slope is fitted over the later two thirds (at least the last 30 s). A node fails when that slope
///   exceeds [`Limits::rss_mib_per_minute`] and its RSS at the end is also above its RSS when the
///   judged window began by more than [`Limits::rss_growth_mib`] (a slope alone over a short window is
///   noisy). At 20 offers posted and 20 withdrawn per node per minute, every node receives 40 × N
///   updates a minute (400 at N = 10): 4 MiB/min is ~10 KiB kept per update received at N = 10,
///   far above anything a bounded cache keeps, and any such leak shows well inside a minute.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub fd_per_minute: f64,
    pub fd_headroom: f64,
    pub rss_mib_per_minute: f64,
    pub rss_growth_mib: f64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            fd_per_minute: 3.0,
            fd_headroom: 16.0,
            rss_mib_per_minute: 4.0,
            rss_growth_mib: 8.0,
        }
    }
}

/// One `souk node` process.
struct SoakNode {
    index: usize,
    dir: PathBuf,
    child: Child,
    pid: u32,
    url: String,
    token: String,
    /// A loopback TCP address ending in `/p2p/PEERID`.
    addr: String,
}

impl SoakNode {
    fn log_path(dir: &Path) -> PathBuf {
        dir.with_extension("log")
    }

    fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(Self::log_path(&self.dir)).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

fn souk(dir: &Path) -> Command {
    let mut cmd = Command::new(souk_bin());
    cmd.arg("--data-dir")
        .arg(dir)
        .env("SOUK_PASSPHRASE", PASSPHRASE)
        // Loopback only: no market price feed.
        .env("SOUK_PRICE_URL", "")
        .env_remove("SOUK_DATA_DIR")
        .env_remove("SOUK_LOG_LEVEL")
        .env_remove("SOUK_LOG_FILE")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    cmd
}

async fn init(dir: PathBuf) -> Result<(), String> {
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let out = souk(&dir)
        .args(["--json", "init"])
        .output()
        .await
        .map_err(|e| format!("souk init: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "souk init in {}: {}",
            dir.display(),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

async fn start(
    index: usize,
    dir: PathBuf,
    bootstrap: Vec<String>,
    market_args: Vec<String>,
    http: reqwest::Client,
) -> Result<SoakNode, String> {
    let log = std::fs::File::create(SoakNode::log_path(&dir)).map_err(|e| e.to_string())?;
    let mut cmd = souk(&dir);
    cmd.args([
        "--json",
        "node",
        "--listen",
        "/ip4/127.0.0.1/tcp/0",
        "--no-mdns",
    ]);
    for b in &bootstrap {
        cmd.args(["--bootstrap", b]);
    }
    cmd.args(&market_args)
        .stdout(log.try_clone().map_err(|e| e.to_string())?)
        .stderr(log);
    let mut child = cmd.spawn().map_err(|e| format!("souk node: {e}"))?;
    let pid = child.id().ok_or("souk node has no pid")?;
    let deadline = Instant::now() + WAIT;
    let tail = |dir: &Path| {
        let text = std::fs::read_to_string(SoakNode::log_path(dir)).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(40)..].join("\n")
    };
    let api = loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!(
                "node {index} exited ({status}) while starting:\n{}",
                tail(&dir)
            ));
        }
        let api = std::fs::read_to_string(dir.join("api.json"))
            .ok()
            .and_then(|t| serde_json::from_str::<Value>(&t).ok())
            .filter(|a| a["pid"].as_u64() == Some(u64::from(pid)));
        if let Some(api) = api {
            break api;
        }
        if Instant::now() > deadline {
            return Err(format!(
                "node {index} did not start within {WAIT:?}:\n{}",
                tail(&dir)
            ));
        }
        tokio::time::sleep(POLL).await;
    };
    let url = api["url"].as_str().ok_or("api.json has no url")?.to_owned();
    let token = api["token"]
        .as_str()
        .ok_or("api.json has no token")?
        .to_owned();
    let status = call(http.get(format!("{url}/api/v1/status")).bearer_auth(&token)).await?;
    let peer_id = status["peer_id"]
        .as_str()
        .ok_or_else(|| format!("node {index}: no peer_id in {status}"))?;
    let listen = status["listen_addrs"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .find(|a| a.starts_with("/ip4/127.0.0.1/tcp/"))
        .ok_or_else(|| format!("node {index}: no loopback TCP address in {status}"))?;
    let listen = listen.split("/p2p/").next().unwrap_or(listen);
    Ok(SoakNode {
        index,
        dir,
        child,
        pid,
        url,
        token,
        addr: format!("{listen}/p2p/{peer_id}"),
    })
}

/// An error with its causes ("error sending request …: operation timed out").
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

async fn call(request: reqwest::RequestBuilder) -> Result<Value, String> {
    let response = request.send().await.map_err(|e| chain(&e))?;
    let status = response.status();
    let text = response.text().await.map_err(|e| chain(&e))?;
    if !status.is_success() {
        return Err(format!("API answered {status}: {text}"));
    }
    serde_json::from_str(&text).map_err(|e| format!("API answered {status} with non-JSON: {e}"))
}

/// The node's API, shared by the load, the checks and the warm-up.
#[derive(Clone)]
struct Api {
    http: reqwest::Client,
    url: String,
    token: String,
}

impl Api {
    async fn post(&self, body: &Value) -> Result<String, String> {
        let offer = call(
            self.http
                .post(format!("{}/api/v1/offers", self.url))
                .bearer_auth(&self.token)
                .json(body),
        )
        .await?;
        offer["id"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("posted offer without an id: {offer}"))
    }

    async fn withdraw(&self, id: &str) -> Result<(), String> {
        call(
            self.http
                .delete(format!("{}/api/v1/offers/{id}", self.url))
                .bearer_auth(&self.token),
        )
        .await
        .map(drop)
    }

    /// The ids in this node's book whose terms start with `mark`.
    async fn book(&self, mark: &str) -> Result<HashSet<String>, String> {
        let entries = call(
            self.http
                .get(format!("{}/api/v1/offers", self.url))
                .bearer_auth(&self.token),
        )
        .await?;
        Ok(entries
            .as_array()
            .ok_or_else(|| format!("the book is not a list: {entries}"))?
            .iter()
            .filter(|e| {
                e["offer"]["terms"]
                    .as_str()
                    .is_some_and(|t| t.starts_with(mark))
            })
            .filter_map(|e| e["offer"]["id"].as_str().map(str::to_owned))
            .collect())
    }
}

fn offer_body(n: u64, market: &str, terms: &str) -> Value {
    let (base, quote) = market.split_once('/').unwrap_or(("BTC", "EUR"));
    let price = if base == "BTC" { 60_000 } else { 80 } + n % 1000;
    json!({
        "side": if n.is_multiple_of(2) { "sell" } else { "buy" },
        "base": base,
        "quote": quote,
        "price": {"fixed": price.to_string()},
        "min_amount": 1_000_000,
        "max_amount": 10_000_000,
        "payment_methods": ["SEPA"],
        "escrow": {"kind": "none"},
        "deposit_bps": 1500,
        "ttl_ms": 7 * 86_400_000_i64,
        "terms": format!("{terms} {n}"),
    })
}

/// One posted offer, as the soak knows it.
#[derive(Debug, Clone)]
struct Record {
    maker: usize,
    market: &'static str,
    /// When the maker's API answered the post.
    posted: Instant,
    /// When the withdrawal was asked for, and when the maker's API answered it.
    withdraw_asked: Option<Instant>,
    withdrawn: Option<Instant>,
    /// A withdrawal that failed: the offer's state is unknown, so no book is held to it.
    unsure: bool,
}

#[derive(Debug, Default)]
struct Ledger {
    offers: HashMap<String, Record>,
    posted: u64,
    withdrawn: u64,
    post_errors: Vec<String>,
    withdraw_errors: Vec<String>,
    post_ms: Vec<f64>,
    withdraw_ms: Vec<f64>,
}

/// What a book was found to lack or to hold wrongly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    /// A live offer, posted more than the grace ago, absent.
    Missing,
    /// An offer withdrawn more than the grace ago, present.
    Stale,
}

#[derive(Debug, Clone)]
struct Miss {
    node: usize,
    offer: String,
    kind: Kind,
    maker: usize,
    market: &'static str,
    /// Seconds since the post (missing) or the withdrawal (stale) when first seen wrong.
    age_s: f64,
    /// Check rounds it was seen wrong in.
    rounds: u32,
    /// Seconds into the run when first seen wrong.
    at_s: f64,
}

#[derive(Debug, Default)]
struct Checks {
    rounds: u64,
    book_reads: u64,
    read_errors: Vec<String>,
    /// (node, offer) pairs checked to be present / absent, over all rounds.
    presence_checks: u64,
    absence_checks: u64,
    misses: BTreeMap<(usize, String, Kind), Miss>,
    /// Per node, every soak offer ever seen in its book.
    seen: Vec<HashSet<String>>,
}

/// Compares one node's book, read between `read_from` and `read_to`, with the ledger.
fn judge(
    node: usize,
    book: &HashSet<String>,
    (read_from, read_to): (Instant, Instant),
    ledger: &Ledger,
    grace: Duration,
    started: Instant,
    checks: &mut Checks,
) -> (u64, u64) {
    let mut wrong = (0, 0);
    checks.seen[node].extend(book.iter().cloned());
    for (id, r) in &ledger.offers {
        if r.unsure {
            continue;
        }
        // Must be there: posted (answered) a grace before the read began, no withdrawal asked for
        // before the read ended.
        let due = r.posted + grace <= read_from && r.withdraw_asked.is_none_or(|w| w > read_to);
        // Must be gone: withdrawn (answered) a grace before the read began.
        let gone = r.withdrawn.is_some_and(|w| w + grace <= read_from);
        let (kind, since) = if due {
            checks.presence_checks += 1;
            if book.contains(id) {
                continue;
            }
            wrong.0 += 1;
            (Kind::Missing, r.posted)
        } else if gone {
            checks.absence_checks += 1;
            if !book.contains(id) {
                continue;
            }
            wrong.1 += 1;
            (Kind::Stale, r.withdrawn.unwrap_or(r.posted))
        } else {
            continue;
        };
        checks
            .misses
            .entry((node, id.clone(), kind))
            .and_modify(|m| m.rounds += 1)
            .or_insert_with(|| Miss {
                node,
                offer: id.clone(),
                kind,
                maker: r.maker,
                market: r.market,
                age_s: read_from.saturating_duration_since(since).as_secs_f64(),
                rounds: 1,
                at_s: read_from.saturating_duration_since(started).as_secs_f64(),
            });
    }
    wrong
}

/// One node's samples: (minutes since the load began, RSS in KiB, open fds).
#[derive(Debug, Default, Clone)]
struct Samples {
    points: Vec<(f64, f64, f64)>,
    errors: u32,
}

fn sample(pid: u32) -> Option<(f64, f64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss_kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse::<f64>()
        .ok()?;
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count();
    Some((rss_kib, fds as f64))
}

/// The least-squares slope of y over x (0 with fewer than two distinct x).
pub fn slope(points: &[(f64, f64)]) -> f64 {
    let n = points.len() as f64;
    if points.len() < 2 {
        return 0.0;
    }
    let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    if sxx == 0.0 { 0.0 } else { sxy / sxx }
}

fn round(x: f64, places: i32) -> f64 {
    let f = 10f64.powi(places);
    (x * f).round() / f
}

fn percentile(values: &[f64], p: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let i = ((v.len() - 1) as f64 * p).round() as usize;
    v[i.min(v.len() - 1)]
}

/// The figures of one node's RSS and fds, and whether they grew without bound (see [`Limits`]).
fn resources(s: &Samples, nodes: usize, limits: Limits) -> (Value, Vec<String>) {
    let rss: Vec<(f64, f64)> = s.points.iter().map(|p| (p.0, p.1 / 1024.0)).collect();
    let fds: Vec<(f64, f64)> = s.points.iter().map(|p| (p.0, p.2)).collect();
    let span = s.points.last().map_or(0.0, |p| p.0);
    let judged_from = (span / 3.0).min(span - 0.5).max(0.0);
    let late: Vec<(f64, f64)> = rss.iter().copied().filter(|p| p.0 >= judged_from).collect();
    let rss_slope = slope(&rss);
    let rss_late_slope = slope(&late);
    let rss_late_growth = match (late.first(), late.last()) {
        (Some(a), Some(b)) => b.1 - a.1,
        _ => 0.0,
    };
    let fd_slope = slope(&fds);
    let fd_bound = (nodes as f64 - 1.0) + limits.fd_headroom;
    let first = |v: &[(f64, f64)]| v.first().map_or(0.0, |p| p.1);
    let last = |v: &[(f64, f64)]| v.last().map_or(0.0, |p| p.1);
    let max = |v: &[(f64, f64)]| v.iter().map(|p| p.1).fold(0.0, f64::max);
    let mut problems = Vec::new();
    if fd_slope > limits.fd_per_minute && fd_slope * span > fd_bound {
        problems.push(format!(
            "open fds grow {fd_slope:.1}/min ({:.0} → {:.0}; more than {} a minute and more than \
             the {fd_bound:.0} peers and API connections explain over {span:.1} min)",
            first(&fds),
            last(&fds),
            limits.fd_per_minute
        ));
    }
    if rss_late_slope > limits.rss_mib_per_minute && rss_late_growth > limits.rss_growth_mib {
        problems.push(format!(
            "RSS grows {rss_late_slope:.1} MiB/min after warm-up ({:.1} → {:.1} MiB; more than {} \
             MiB/min and more than {} MiB)",
            first(&late),
            last(&late),
            limits.rss_mib_per_minute,
            limits.rss_growth_mib
        ));
    }
    let figures = json!({
        "samples": s.points.len(),
        "sample_errors": s.errors,
        "rss_mib": {
            "first": round(first(&rss), 1),
            "last": round(last(&rss), 1),
            "max": round(max(&rss), 1),
            "slope_per_min": round(rss_slope, 2),
            "slope_per_min_after_warm_up": round(rss_late_slope, 2),
        },
        "fds": {
            "first": first(&fds),
            "last": last(&fds),
            "max": max(&fds),
            "slope_per_min": round(fd_slope, 2),
        },
    });
    (figures, problems)
}

/// What a run found: its figures (written as JSON) and the reasons it failed, if it did.
#[derive(Debug)]
pub struct Report {
    pub json: Value,
    pub problems: Vec<String>,
    pub summary: String,
}

impl Report {
    pub fn passed(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Starts the nodes, runs the load, checks the books and samples the nodes; every node is stopped
/// when it returns. Panics only when the network cannot be set up at all.
pub async fn run(settings: Settings, limits: Limits) -> Report {
    assert!(settings.nodes >= 2, "a soak needs at least 2 nodes");
    assert!(settings.minutes > 0.0, "a soak needs some minutes");
    let run_started = Instant::now();
    let tmp = tempfile::tempdir().expect("temp dir");
    let http = reqwest::Client::builder()
        .timeout(API_TIMEOUT)
        .build()
        .expect("HTTP client");
    let market_args: Vec<String> = settings
        .markets
        .iter()
        .flat_map(|m| ["--market".to_owned(), (*m).to_owned()])
        .collect();

    // Identities, a few at a time; then the hubs, one after the other; then the rest through them.
    let dirs: Vec<PathBuf> = (0..settings.nodes)
        .map(|i| tmp.path().join(format!("node{i:02}")))
        .collect();
    let inits: Vec<_> = {
        use futures::StreamExt;
        futures::stream::iter(dirs.iter().cloned().map(init))
            .buffer_unordered(PARALLEL_STARTS)
            .collect()
            .await
    };
    for r in inits {
        r.unwrap_or_else(|e| panic!("{e}"));
    }
    let mut nodes: Vec<SoakNode> = Vec::new();
    let hubs = HUBS.min(settings.nodes);
    for (i, dir) in dirs.iter().enumerate().take(hubs) {
        let bootstrap = nodes.iter().map(|n| n.addr.clone()).collect();
        let node = start(i, dir.clone(), bootstrap, market_args.clone(), http.clone()).await;
        nodes.push(node.unwrap_or_else(|e| panic!("{e}")));
    }
    let hub_addrs: Vec<String> = nodes.iter().map(|n| n.addr.clone()).collect();
    let rest: Vec<_> = {
        use futures::StreamExt;
        futures::stream::iter(dirs.iter().enumerate().skip(hubs).map(|(i, d)| {
            start(
                i,
                d.clone(),
                hub_addrs.clone(),
                market_args.clone(),
                http.clone(),
            )
        }))
        .buffered(PARALLEL_STARTS)
        .collect()
        .await
    };
    for node in rest {
        nodes.push(node.unwrap_or_else(|e| panic!("{e}")));
    }
    let started_s = run_started.elapsed().as_secs_f64();
    eprintln!(
        "soak: {} nodes up in {started_s:.1} s (logs in {})",
        nodes.len(),
        tmp.path().display()
    );
    let apis: Vec<Api> = nodes
        .iter()
        .map(|n| Api {
            http: http.clone(),
            url: n.url.clone(),
            token: n.token.clone(),
        })
        .collect();

    // Warm-up: one offer per market from the last node must reach every book, and its withdrawal too,
    // before the load begins (the mesh of every market's topic has formed).
    let warm_started = Instant::now();
    let last = apis.last().expect("nodes");
    let mut warm_ids = Vec::new();
    for (k, market) in settings.markets.iter().enumerate() {
        let id = last
            .post(&offer_body(k as u64, market, WARM_UP_TERMS))
            .await
            .unwrap_or_else(|e| panic!("warm-up post: {e}"));
        warm_ids.push(id);
    }
    let want: HashSet<String> = warm_ids.iter().cloned().collect();
    await_books(&apis, &nodes, WARM_UP_TERMS, &want, "the warm-up offers").await;
    for id in &warm_ids {
        last.withdraw(id)
            .await
            .unwrap_or_else(|e| panic!("warm-up withdrawal: {e}"));
    }
    await_books(
        &apis,
        &nodes,
        WARM_UP_TERMS,
        &HashSet::new(),
        "the warm-up withdrawals",
    )
    .await;
    let warm_up_s = warm_started.elapsed().as_secs_f64();
    eprintln!("soak: warm-up offers reached every book and left it in {warm_up_s:.1} s");

    // The load, the checks and the sampler run side by side until the time is up.
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let checks = Arc::new(tokio::sync::Mutex::new(Checks {
        seen: vec![HashSet::new(); nodes.len()],
        ..Default::default()
    }));
    let samples = Arc::new(Mutex::new(vec![Samples::default(); nodes.len()]));
    let load_started = Instant::now();
    let duration = Duration::from_secs_f64(settings.minutes * 60.0);
    let load_until = load_started + duration;
    let pids: Vec<u32> = nodes.iter().map(|n| n.pid).collect();
    // Set once the last operation answered: the checks and the samples stop then.
    let stop = Arc::new(AtomicBool::new(false));

    let sampler = {
        let (samples, stop) = (samples.clone(), stop.clone());
        let pids = pids.clone();
        let every = settings.sample_every;
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let at = load_started.elapsed().as_secs_f64() / 60.0;
                let mut s = samples.lock().expect("samples");
                for (i, pid) in pids.iter().enumerate() {
                    match sample(*pid) {
                        Some((rss, fds)) => s[i].points.push((at, rss, fds)),
                        None => s[i].errors += 1,
                    }
                }
                drop(s);
                if stop.load(Ordering::SeqCst) {
                    return;
                }
            }
        })
    };

    let checker = {
        let (apis, ledger, checks) = (apis.clone(), ledger.clone(), checks.clone());
        let stop = stop.clone();
        let (grace, every) = (settings.grace, settings.check_every);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
            tick.tick().await;
            loop {
                tick.tick().await;
                if stop.load(Ordering::SeqCst) {
                    return;
                }
                let (mut missing, mut stale) = (0, 0);
                for (i, api) in apis.iter().enumerate() {
                    let from = Instant::now();
                    let book = api.book(TERMS).await;
                    let to = Instant::now();
                    let mut c = checks.lock().await;
                    c.book_reads += 1;
                    match book {
                        Ok(book) => {
                            let l = ledger.lock().expect("ledger");
                            let w = judge(i, &book, (from, to), &l, grace, load_started, &mut c);
                            missing += w.0;
                            stale += w.1;
                        }
                        Err(e) => c.read_errors.push(format!("node {i}: {e}")),
                    }
                }
                let mut c = checks.lock().await;
                c.rounds += 1;
                let (posted, withdrawn) = {
                    let l = ledger.lock().expect("ledger");
                    (l.posted, l.withdrawn)
                };
                eprintln!(
                    "soak: {:>5.1} s: {posted} posted, {withdrawn} withdrawn; check round {}: {missing} \
                     missing, {stale} stale",
                    load_started.elapsed().as_secs_f64(),
                    c.rounds
                );
            }
        })
    };

    // Posts come round-robin from the nodes, each node's market in turn, on a steady beat: each post
    // is a task of its own, so a slow API answer does not slow the beat (the answers' times are
    // reported). A node with more than its live share after a post withdraws its oldest offer.
    let live: Vec<Arc<Mutex<VecDeque<String>>>> = (0..nodes.len())
        .map(|_| Arc::new(Mutex::new(VecDeque::new())))
        .collect();
    let busy: Vec<Arc<AtomicUsize>> = (0..nodes.len())
        .map(|_| Arc::new(AtomicUsize::new(0)))
        .collect();
    let in_flight = Arc::new(AtomicUsize::new(0));
    let most_in_flight = Arc::new(AtomicUsize::new(0));
    let mut skipped: u64 = 0;
    let period = Duration::from_secs_f64(60.0 / settings.offers_per_minute);
    let mut beat = tokio::time::interval(period);
    beat.set_missed_tick_behavior(MissedTickBehavior::Burst);
    let mut ops = Vec::new();
    let mut n: u64 = 0;
    loop {
        beat.tick().await;
        if Instant::now() >= load_until {
            break;
        }
        let node = (n as usize) % nodes.len();
        let market = settings.markets[(n as usize / nodes.len()) % settings.markets.len()];
        n += 1;
        let busy = busy[node].clone();
        if busy.load(Ordering::SeqCst) >= IN_FLIGHT_PER_NODE {
            skipped += 1;
            continue;
        }
        busy.fetch_add(1, Ordering::SeqCst);
        let (api, live, ledger) = (apis[node].clone(), live[node].clone(), ledger.clone());
        let (in_flight, most_in_flight) = (in_flight.clone(), most_in_flight.clone());
        let keep = settings.live_per_node;
        ops.push(tokio::spawn(async move {
            let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            most_in_flight.fetch_max(now, Ordering::SeqCst);
            let asked = Instant::now();
            let oldest = match api.post(&offer_body(n, market, TERMS)).await {
                Ok(id) => {
                    let posted = Instant::now();
                    let mut l = ledger.lock().expect("ledger");
                    l.posted += 1;
                    l.post_ms
                        .push(posted.duration_since(asked).as_secs_f64() * 1000.0);
                    l.offers.insert(
                        id.clone(),
                        Record {
                            maker: node,
                            market,
                            posted,
                            withdraw_asked: None,
                            withdrawn: None,
                            unsure: false,
                        },
                    );
                    let mut live = live.lock().expect("live offers");
                    live.push_back(id);
                    let oldest = (live.len() > keep).then(|| live.pop_front()).flatten();
                    if let Some(r) = oldest.as_ref().and_then(|id| l.offers.get_mut(id)) {
                        r.withdraw_asked = Some(Instant::now());
                    }
                    oldest
                }
                Err(e) => {
                    let mut l = ledger.lock().expect("ledger");
                    l.post_errors.push(format!("node {node}: {e}"));
                    None
                }
            };
            if let Some(id) = oldest {
                let asked = Instant::now();
                let result = api.withdraw(&id).await;
                let done = Instant::now();
                let mut l = ledger.lock().expect("ledger");
                match result {
                    Ok(()) => {
                        l.withdrawn += 1;
                        l.withdraw_ms
                            .push(done.duration_since(asked).as_secs_f64() * 1000.0);
                        if let Some(r) = l.offers.get_mut(&id) {
                            r.withdrawn = Some(done);
                        }
                    }
                    Err(e) => {
                        l.withdraw_errors
                            .push(format!("node {node}: offer {id}: {e}"));
                        if let Some(r) = l.offers.get_mut(&id) {
                            r.unsure = true;
                        }
                    }
                }
            }
            in_flight.fetch_sub(1, Ordering::SeqCst);
            busy.fetch_sub(1, Ordering::SeqCst);
        }));
    }
    let scheduled = n;
    for op in ops {
        op.await.expect("an operation panicked");
    }
    let load_s = load_started.elapsed().as_secs_f64();
    stop.store(true, Ordering::SeqCst);
    checker.await.expect("the checker panicked");
    sampler.await.expect("the sampler panicked");
    eprintln!("soak: load over after {load_s:.1} s; waiting for the books to settle");

    // The end: every book must come to hold exactly the live offers, within the settle time.
    let settle_started = Instant::now();
    let mut checks = Arc::try_unwrap(checks)
        .expect("the checker is done")
        .into_inner();
    let ledger = Arc::try_unwrap(ledger)
        .expect("the operations are done")
        .into_inner()
        .expect("ledger");
    let live_ids: HashSet<String> = ledger
        .offers
        .iter()
        .filter(|(_, r)| r.withdraw_asked.is_none())
        .map(|(id, _)| id.clone())
        .collect();
    let withdrawn_ids: HashSet<String> = ledger
        .offers
        .iter()
        .filter(|(_, r)| r.withdrawn.is_some() && !r.unsure)
        .map(|(id, _)| id.clone())
        .collect();
    let mut settled: Vec<Option<f64>> = vec![None; nodes.len()];
    let mut last_books: Vec<HashSet<String>> = vec![HashSet::new(); nodes.len()];
    let settle_deadline = settle_started + settings.settle;
    loop {
        for (i, api) in apis.iter().enumerate() {
            if settled[i].is_some() {
                continue;
            }
            checks.book_reads += 1;
            match api.book(TERMS).await {
                Ok(book) => {
                    checks.seen[i].extend(book.iter().cloned());
                    if live_ids.is_subset(&book) && book.is_disjoint(&withdrawn_ids) {
                        settled[i] = Some(settle_started.elapsed().as_secs_f64());
                    }
                    last_books[i] = book;
                }
                Err(e) => checks.read_errors.push(format!("node {i} (final): {e}")),
            }
        }
        if settled.iter().all(Option::is_some) || Instant::now() >= settle_deadline {
            break;
        }
        tokio::time::sleep(POLL).await;
    }
    // Each node's last read held every live offer and no withdrawn one, or the difference is below.
    checks.presence_checks += (live_ids.len() * nodes.len()) as u64;
    checks.absence_checks += (withdrawn_ids.len() * nodes.len()) as u64;
    // What did not settle is lost (never arrived) or stale (never left).
    let mut final_missing: Vec<Value> = Vec::new();
    let mut final_stale: Vec<Value> = Vec::new();
    for (i, book) in last_books.iter().enumerate() {
        if settled[i].is_some() {
            continue;
        }
        for id in live_ids.difference(book) {
            let r = &ledger.offers[id];
            final_missing.push(json!({
                "node": i, "offer": id, "maker": r.maker, "market": r.market,
                "age_s": round(r.posted.elapsed().as_secs_f64(), 1),
            }));
        }
        for id in book.intersection(&withdrawn_ids) {
            let r = &ledger.offers[id];
            final_stale.push(json!({
                "node": i, "offer": id, "maker": r.maker, "market": r.market,
                "withdrawn_s_ago": round(r.withdrawn.map_or(0.0, |w| w.elapsed().as_secs_f64()), 1),
            }));
        }
    }
    let settle_s = settled.iter().flatten().fold(0.0, |a: f64, b| a.max(*b));

    // The nodes are done: their last samples are in, stop them before the figures.
    let logs_of_trouble: Vec<(usize, String)> = {
        let mut troubled: Vec<usize> = checks.misses.keys().map(|k| k.0).collect();
        troubled.extend(
            settled
                .iter()
                .enumerate()
                .filter(|(_, s)| s.is_none())
                .map(|(i, _)| i),
        );
        troubled.sort_unstable();
        troubled.dedup();
        troubled
            .into_iter()
            .take(2)
            .map(|i| (i, nodes[i].log_tail(30)))
            .collect()
    };
    let mut exited = Vec::new();
    for node in &mut nodes {
        if let Ok(Some(status)) = node.child.try_wait() {
            exited.push(format!(
                "node {} exited during the run ({status})",
                node.index
            ));
        }
        let _ = node.child.start_kill();
        let _ = node.child.wait().await;
    }

    // Figures.
    let minutes = load_s / 60.0;
    let samples = samples.lock().expect("samples").clone();
    let mut problems: Vec<String> = exited;
    let mut per_node = Vec::new();
    let mut rss_slopes = Vec::new();
    let mut fd_slopes = Vec::new();
    for (i, s) in samples.iter().enumerate() {
        let (figures, node_problems) = resources(s, nodes.len(), limits);
        rss_slopes.push(figures["rss_mib"]["slope_per_min"].as_f64().unwrap_or(0.0));
        fd_slopes.push(figures["fds"]["slope_per_min"].as_f64().unwrap_or(0.0));
        problems.extend(node_problems.into_iter().map(|p| format!("node {i}: {p}")));
        let mut figures = figures;
        figures["node"] = i.into();
        figures["pid"] = pids[i].into();
        per_node.push(figures);
    }
    // Overall: the slope of the sum over all nodes (the machine's view), and the mean per node.
    let total = |f: fn(&(f64, f64, f64)) -> f64| -> Vec<(f64, f64)> {
        let len = samples.iter().map(|s| s.points.len()).min().unwrap_or(0);
        (0..len)
            .map(|k| {
                let at = samples[0].points[k].0;
                (at, samples.iter().map(|s| f(&s.points[k])).sum())
            })
            .collect()
    };
    let total_rss = total(|p| p.1 / 1024.0);
    let total_fds = total(|p| p.2);
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    let maxf = |v: &[f64]| v.iter().copied().fold(f64::MIN, f64::max);

    let misses: Vec<&Miss> = checks.misses.values().collect();
    let missing: Vec<&&Miss> = misses.iter().filter(|m| m.kind == Kind::Missing).collect();
    let stale: Vec<&&Miss> = misses.iter().filter(|m| m.kind == Kind::Stale).collect();
    // A miss while the load ran is late when the node's book held the offer afterwards, lost when
    // it never did.
    let lost = missing
        .iter()
        .filter(|m| !checks.seen[m.node].contains(&m.offer))
        .count();
    let miss_json = |m: &Miss| {
        json!({
            "node": m.node, "offer": m.offer, "maker": m.maker, "market": m.market,
            "age_s": round(m.age_s, 1), "rounds": m.rounds, "at_s": round(m.at_s, 1),
            "later_seen": checks.seen[m.node].contains(&m.offer),
        })
    };
    if !missing.is_empty() {
        problems.push(format!(
            "{} offer×node misses while the load ran ({lost} never arrived), first: node {} lacked \
             offer {} (maker node {}, {}) {:.1} s after it was posted",
            missing.len(),
            missing[0].node,
            missing[0].offer,
            missing[0].maker,
            missing[0].market,
            missing[0].age_s
        ));
    }
    if !stale.is_empty() {
        problems.push(format!(
            "{} withdrawn offer×node still present while the load ran, first: node {} held offer {} \
             (maker node {}) {:.1} s after its withdrawal",
            stale.len(),
            stale[0].node,
            stale[0].offer,
            stale[0].maker,
            stale[0].age_s
        ));
    }
    if !final_missing.is_empty() {
        problems.push(format!(
            "{} live offer×node missing {:.0} s after the load ended, first: {}",
            final_missing.len(),
            settings.settle.as_secs_f64(),
            final_missing[0]
        ));
    }
    if !final_stale.is_empty() {
        problems.push(format!(
            "{} withdrawn offer×node still present {:.0} s after the load ended, first: {}",
            final_stale.len(),
            settings.settle.as_secs_f64(),
            final_stale[0]
        ));
    }
    if !ledger.post_errors.is_empty() {
        problems.push(format!(
            "{} posts failed, first: {}",
            ledger.post_errors.len(),
            ledger.post_errors[0]
        ));
    }
    if !ledger.withdraw_errors.is_empty() {
        problems.push(format!(
            "{} withdrawals failed, first: {}",
            ledger.withdraw_errors.len(),
            ledger.withdraw_errors[0]
        ));
    }
    if !checks.read_errors.is_empty() {
        problems.push(format!(
            "{} book reads failed, first: {}",
            checks.read_errors.len(),
            checks.read_errors[0]
        ));
    }
    // The beat must have been kept: nodes that cannot take 20 posts a minute each are a finding too.
    if (ledger.posted as f64) < RATE_KEPT * scheduled as f64 {
        problems.push(format!(
            "the rate was not kept: {} of {scheduled} scheduled posts made ({skipped} skipped while \
             the node still had {IN_FLIGHT_PER_NODE} calls open, {} failed); post answers took p50 \
             {:.1} s, p99 {:.1} s",
            ledger.posted,
            ledger.post_errors.len(),
            percentile(&ledger.post_ms, 0.5) / 1000.0,
            percentile(&ledger.post_ms, 0.99) / 1000.0,
        ));
    }
    for (i, log) in &logs_of_trouble {
        eprintln!("soak: node {i}'s log, last lines:\n{log}");
    }

    let json = json!({
        "passed": problems.is_empty(),
        "problems": problems,
        "settings": {
            "nodes": settings.nodes,
            "minutes": settings.minutes,
            "offers_per_minute": settings.offers_per_minute,
            "live_per_node": settings.live_per_node,
            "grace_s": settings.grace.as_secs_f64(),
            "check_every_s": settings.check_every.as_secs_f64(),
            "sample_every_s": settings.sample_every.as_secs_f64(),
            "settle_s": settings.settle.as_secs_f64(),
            "markets": settings.markets,
            "hubs": hubs,
            "souk": souk_bin().display().to_string(),
        },
        "limits": {
            "fd_per_minute": limits.fd_per_minute,
            "fd_bound_over_run": (nodes.len() as f64 - 1.0) + limits.fd_headroom,
            "rss_mib_per_minute_after_warm_up": limits.rss_mib_per_minute,
            "rss_growth_mib_after_warm_up": limits.rss_growth_mib,
        },
        "seconds": {
            "start_nodes": round(started_s, 1),
            "warm_up": round(warm_up_s, 1),
            "load": round(load_s, 1),
            "settle": round(settle_s, 1),
            "total": round(run_started.elapsed().as_secs_f64(), 1),
        },
        "offers": {
            "scheduled": scheduled,
            "skipped_node_busy": skipped,
            "in_flight_per_node_cap": IN_FLIGHT_PER_NODE,
            "most_calls_in_flight": most_in_flight.load(Ordering::SeqCst),
            "posted": ledger.posted,
            "withdrawn": ledger.withdrawn,
            "live_at_end": live_ids.len(),
            "post_errors": ledger.post_errors.len(),
            "withdraw_errors": ledger.withdraw_errors.len(),
            "posts_per_minute": round(ledger.posted as f64 / minutes, 1),
            "post_ms": {"p50": round(percentile(&ledger.post_ms, 0.5), 1), "p99": round(percentile(&ledger.post_ms, 0.99), 1), "max": round(percentile(&ledger.post_ms, 1.0), 1)},
            "withdraw_ms": {"p50": round(percentile(&ledger.withdraw_ms, 0.5), 1), "p99": round(percentile(&ledger.withdraw_ms, 0.99), 1), "max": round(percentile(&ledger.withdraw_ms, 1.0), 1)},
            "errors": ledger.post_errors.iter().chain(&ledger.withdraw_errors).take(KEPT).collect::<Vec<_>>(),
        },
        "checks": {
            "rounds": checks.rounds,
            "book_reads": checks.book_reads,
            "read_errors": checks.read_errors.len(),
            "presence_checks": checks.presence_checks,
            "absence_checks": checks.absence_checks,
            "missing": missing.len(),
            "missing_never_arrived": lost,
            "stale": stale.len(),
            "final_missing": final_missing.len(),
            "final_stale": final_stale.len(),
            "nodes_settled": settled.iter().filter(|s| s.is_some()).count(),
            "misses": missing.iter().chain(&stale).take(KEPT).map(|m| miss_json(m)).collect::<Vec<_>>(),
            "final": final_missing.iter().chain(&final_stale).take(KEPT).collect::<Vec<_>>(),
        },
        "resources": {
            "overall": {
                "rss_mib_total_first": round(total_rss.first().map_or(0.0, |p| p.1), 1),
                "rss_mib_total_last": round(total_rss.last().map_or(0.0, |p| p.1), 1),
                "rss_mib_total_slope_per_min": round(slope(&total_rss), 2),
                "rss_mib_slope_per_min_mean": round(mean(&rss_slopes), 2),
                "rss_mib_slope_per_min_max": round(maxf(&rss_slopes), 2),
                "fds_total_first": total_fds.first().map_or(0.0, |p| p.1),
                "fds_total_last": total_fds.last().map_or(0.0, |p| p.1),
                "fds_total_slope_per_min": round(slope(&total_fds), 2),
                "fds_slope_per_min_mean": round(mean(&fd_slopes), 2),
                "fds_slope_per_min_max": round(maxf(&fd_slopes), 2),
            },
            "nodes": per_node,
        },
    });
    let summary = summary(&json);
    // A failed run leaves its nodes' logs where it is told to (`SOUK_SOAK_LOGS`).
    if !problems.is_empty()
        && let Some(keep) = std::env::var_os("SOUK_SOAK_LOGS")
    {
        let keep = PathBuf::from(keep);
        let _ = std::fs::remove_dir_all(&keep);
        if std::fs::create_dir_all(&keep).is_ok() {
            for node in &nodes {
                let log = SoakNode::log_path(&node.dir);
                let _ = std::fs::copy(&log, keep.join(format!("node{:02}.log", node.index)));
            }
            eprintln!("soak: the nodes' logs are in {}", keep.display());
        }
    }
    drop(tmp);
    Report {
        json,
        problems,
        summary,
    }
}

/// Polls every book until its `mark`ed offers are exactly `want`.
async fn await_books(
    apis: &[Api],
    nodes: &[SoakNode],
    mark: &str,
    want: &HashSet<String>,
    what: &str,
) {
    let deadline = Instant::now() + WAIT;
    let mut done = vec![false; apis.len()];
    loop {
        for (i, api) in apis.iter().enumerate() {
            if !done[i] {
                done[i] = api.book(mark).await.is_ok_and(|b| &b == want);
            }
        }
        if done.iter().all(|d| *d) {
            return;
        }
        if Instant::now() > deadline {
            let late: Vec<usize> = (0..apis.len()).filter(|i| !done[*i]).collect();
            panic!(
                "{what} did not reach nodes {late:?} within {WAIT:?}; node {}'s log:\n{}",
                late[0],
                nodes[late[0]].log_tail(40)
            );
        }
        tokio::time::sleep(POLL).await;
    }
}

/// The figures a person reads at the end of a run.
fn summary(r: &Value) -> String {
    let o = &r["offers"];
    let c = &r["checks"];
    let t = &r["seconds"];
    let all = &r["resources"]["overall"];
    let mut s = String::new();
    let mut line = |l: String| {
        s.push_str(&l);
        s.push('\n');
    };
    line(format!(
        "soak {}: {} nodes, {} min of load ({} s), {} offers/min target",
        if r["passed"] == true {
            "PASSED"
        } else {
            "FAILED"
        },
        r["settings"]["nodes"],
        r["settings"]["minutes"],
        t["load"],
        r["settings"]["offers_per_minute"],
    ));
    line(format!(
        "  offers: {} posted ({}/min), {} withdrawn, {} live at the end; errors: {} posts, {} \
         withdrawals; post p50 {} ms p99 {} ms, withdraw p50 {} ms p99 {} ms",
        o["posted"],
        o["posts_per_minute"],
        o["withdrawn"],
        o["live_at_end"],
        o["post_errors"],
        o["withdraw_errors"],
        o["post_ms"]["p50"],
        o["post_ms"]["p99"],
        o["withdraw_ms"]["p50"],
        o["withdraw_ms"]["p99"],
    ));
    line(format!(
        "  checks: {} rounds, {} book reads ({} failed), {} presence and {} absence checks (grace {} s); \
         {} missing ({} never arrived), {} stale; at the end: {} missing, {} stale, {}/{} nodes settled \
         in {} s",
        c["rounds"],
        c["book_reads"],
        c["read_errors"],
        c["presence_checks"],
        c["absence_checks"],
        r["settings"]["grace_s"],
        c["missing"],
        c["missing_never_arrived"],
        c["stale"],
        c["final_missing"],
        c["final_stale"],
        c["nodes_settled"],
        r["settings"]["nodes"],
        t["settle"],
    ));
    line(format!(
        "  RSS: {} → {} MiB over all nodes, slope {} MiB/min overall, per node mean {} max {} MiB/min",
        all["rss_mib_total_first"],
        all["rss_mib_total_last"],
        all["rss_mib_total_slope_per_min"],
        all["rss_mib_slope_per_min_mean"],
        all["rss_mib_slope_per_min_max"],
    ));
    line(format!(
        "  fds: {} → {} over all nodes, slope {}/min overall, per node mean {} max {}/min",
        all["fds_total_first"],
        all["fds_total_last"],
        all["fds_total_slope_per_min"],
        all["fds_slope_per_min_mean"],
        all["fds_slope_per_min_max"],
    ));
    line("  node   RSS MiB first→last (max)   slope  after warm-up   fds first→last  slope".into());
    for n in r["resources"]["nodes"].as_array().into_iter().flatten() {
        line(format!(
            "  {:>4}   {:>7} → {:<7} ({:>6})  {:>6}  {:>13}   {:>5} → {:<5}  {:>5}",
            n["node"].to_string(),
            n["rss_mib"]["first"].to_string(),
            n["rss_mib"]["last"].to_string(),
            n["rss_mib"]["max"].to_string(),
            n["rss_mib"]["slope_per_min"].to_string(),
            n["rss_mib"]["slope_per_min_after_warm_up"].to_string(),
            n["fds"]["first"].to_string(),
            n["fds"]["last"].to_string(),
            n["fds"]["slope_per_min"].to_string(),
        ));
    }
    line(format!(
        "  time: {} s starting nodes, {} s warm-up, {} s load, {} s settling, {} s in all",
        t["start_nodes"], t["warm_up"], t["load"], t["settle"], t["total"]
    ));
    for p in r["problems"].as_array().into_iter().flatten() {
        line(format!("  problem: {}", p.as_str().unwrap_or_default()));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::slope;

    #[test]
    fn slope_is_the_least_squares_fit() {
        assert_eq!(slope(&[]), 0.0);
        assert_eq!(slope(&[(1.0, 5.0)]), 0.0);
        assert!((slope(&[(0.0, 1.0), (1.0, 3.0), (2.0, 5.0)]) - 2.0).abs() < 1e-9);
        assert!((slope(&[(0.0, 0.0), (1.0, 1.0), (2.0, 0.0), (3.0, 1.0)]) - 0.2).abs() < 1e-9);
    }
}
