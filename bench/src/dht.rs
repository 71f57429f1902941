//! The DHT at scale: N `Network`s on loopback with the production Kademlia settings (DHT server
//! mode, 30 s query timeout, 60 s idle connections, the real record filter), each joining through
//! one random earlier node as a new install joins through its bootstrap peer, then running a
//! Kademlia bootstrap. Signed offers are stored as records and keys announced by several providers
//! from random nodes; random other nodes look them up.
//!
//! The nodes live in this process, or spread over worker processes of this binary (`worker`) when
//! one process cannot hold them: node `i` lives in process `i mod P`, and a node joins through a node
//! of another process, so the processes make one network. This module keeps the plan and the
//! figures; `host` runs the operations next to the nodes, in whichever process holds them.
//!
//! Per lookup: its latency and the requests it had sent by the time it answered (libp2p-kad reports
//! requests, not hops; it asks up to α = 3 peers at a time, each round one step closer, so
//! rounds ≈ requests / 3). Also the routing-table sizes, the memory and the open files of every
//! process that holds nodes.
//!
//! Baseline in the same run: one request–answer on an open connection between two of the nodes (the
//! cost of one step without the search), so a lookup's latency reads as "so many round trips".

mod host;
mod placement;
pub mod worker;

use std::{
    fmt,
    path::PathBuf,
    time::{Duration, Instant},
};

use anyhow::Context;
use futures::future::join_all;
use serde::{Deserialize, Serialize};
use souk_core::net::NetConfig;

use self::{
    host::{Host, HostStats, Lookup, NodeHoldings, Op, Reply},
    placement::Placement,
    worker::Worker,
};
use crate::{propagation::Rng, summary::LatencySummary};

/// Nodes started or looking up at once.
const PARALLEL: usize = 16;
/// Waves in a row without a node that could look a key up before the lookups stop.
const IDLE_WAVES: usize = 50;
/// The routing tables count as settled when their total did not change over this many polls…
const SETTLED_POLLS: usize = 3;
/// … this far apart…
const SETTLE_POLL: Duration = Duration::from_secs(1);
/// … or when this long has passed.
const SETTLE_LIMIT: Duration = Duration::from_secs(120);

/// The transport every node listens and dials on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    Tcp,
    Quic,
}

#[derive(Debug, Clone)]
pub struct DhtSettings {
    pub nodes: usize,
    /// Processes holding the nodes: 1 runs them all in this process; more start that many workers
    /// (`worker_program dht-worker`), node `i` in worker `i mod processes`.
    pub processes: usize,
    /// The `souk-bench` binary the workers run (this process's own when absent).
    pub worker_program: Option<PathBuf>,
    /// Signed offers stored as records, each from a random node.
    pub records: usize,
    /// Keys announced by providers.
    pub provider_keys: usize,
    /// Nodes announcing each provider key (a market has many makers).
    pub providers_per_key: usize,
    /// Lookups of each kind, each from a random node that does not hold the key itself.
    pub lookups: usize,
    pub transport: Transport,
    /// How long an unused connection stays open (production: 60 s). Every open connection costs
    /// memory (QUIC ~0.3 MB) and, over TCP, an open file at each end: in one process a thousand
    /// nodes that keep every connection of their bootstrap for a minute do not fit.
    pub idle_connection: Duration,
    /// How often each node repeats its Kademlia bootstrap (production: every 5 minutes); `None`:
    /// never after the first.
    pub kad_bootstrap: Option<Duration>,
    pub seed: u64,
}

impl DhtSettings {
    pub fn new(nodes: usize) -> Self {
        Self {
            nodes,
            processes: 1,
            worker_program: None,
            records: 50,
            provider_keys: 20,
            providers_per_key: 5,
            lookups: 200,
            transport: Transport::Tcp,
            idle_connection: NetConfig::default().idle_connection_timeout,
            kad_bootstrap: NetConfig::default().kad_bootstrap_interval,
            seed: getrandom::u64().unwrap_or(0xd47),
        }
    }
}

/// Least, median and most of a count over the nodes (or the processes).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Spread {
    pub min: usize,
    pub median: usize,
    pub max: usize,
}

impl Spread {
    fn of(mut values: Vec<usize>) -> Self {
        values.sort_unstable();
        Self {
            min: values.first().copied().unwrap_or(0),
            median: values.get(values.len() / 2).copied().unwrap_or(0),
            max: values.last().copied().unwrap_or(0),
        }
    }
}

/// One kind of lookup: latency, requests, how many found what they looked for.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LookupFigures {
    pub latency: LatencySummary,
    /// Requests sent per lookup, nearest-rank percentiles (in the `_us` fields: a count, not µs).
    pub requests: LatencySummary,
    pub found: usize,
    pub lookups: usize,
    pub errors: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct DhtReport {
    pub nodes: usize,
    /// Processes holding the nodes (1: all in the benchmark's own process).
    pub processes: usize,
    pub transport: Transport,
    pub idle_connection_secs: f64,
    /// Seconds between each node's routine Kademlia bootstraps; `None`: none after the first.
    pub kad_bootstrap_secs: Option<f64>,
    pub seed: u64,
    pub start_secs: f64,
    /// From the last start until the routing tables stopped growing (each node's automatic bootstrap).
    pub bootstrap_secs: f64,
    /// From the first start to the last node stopped.
    pub wall_secs: f64,
    /// Peers in each node's routing table after the bootstrap and after the lookups.
    pub routing_table: Spread,
    pub routing_table_after: Spread,
    pub connected_peers_after: Spread,
    pub records_stored: usize,
    pub records_put_failures: usize,
    /// Per put, the peers that stored the record.
    pub record_stored_on: Spread,
    /// How long storing a record took (`put_record`: the closest peers found, then stored on them).
    pub record_put: LatencySummary,
    /// How long announcing a provider took.
    pub start_providing: LatencySummary,
    pub record: LookupFigures,
    /// Every provider of a key (the whole query, as the market's `get_providers` waits for).
    pub providers: LookupFigures,
    /// The first provider of a key (`get_providers_as_found`, what a cold start can act on).
    pub first_provider: LatencySummary,
    /// Where the records and announcements were before the lookups, next to how these fared.
    pub record_placement: Placement,
    pub provider_placement: Placement,
    /// Baseline: one request and its answer on an open connection between two nodes.
    pub baseline_request: LatencySummary,
    /// Resident memory at the end, summed over the processes holding nodes (with several processes
    /// the benchmark's own, which holds none, is left out).
    pub rss_mib: Option<f64>,
    pub rss_mib_per_node: Option<f64>,
    /// The peak resident memory of each process, summed (the peaks need not coincide).
    pub peak_rss_mib: Option<f64>,
    /// Resident memory at the end of each process holding nodes, in process order.
    pub process_rss_mib: Vec<f64>,
    /// Open files per process holding nodes: at the end, and the most at once during the run.
    pub open_files: Spread,
    pub open_files_peak: Spread,
}

impl DhtReport {
    /// Every lookup found what it looked for.
    pub fn all_found(&self) -> bool {
        self.record.found == self.record.lookups
            && self.providers.found == self.providers.lookups
            && self.record.lookups > 0
            && self.providers.lookups > 0
    }
}

pub async fn run_dht(settings: DhtSettings) -> anyhow::Result<DhtReport> {
    anyhow::ensure!(settings.nodes >= 2, "at least 2 nodes are needed");
    anyhow::ensure!(
        (1..=settings.nodes).contains(&settings.processes),
        "from 1 process to one per node"
    );
    raise_open_files();
    let started = Instant::now();
    let fleet = Fleet::start(&settings)?;
    let measured = measure(&fleet, &settings).await;
    // Stopped whether or not the run got through, so no worker outlives it.
    let stopped = fleet.shutdown().await;
    let mut report = measured?;
    stopped.context("stopping the nodes")?;
    report.wall_secs = started.elapsed().as_secs_f64();
    Ok(report)
}

async fn measure(fleet: &Fleet, settings: &DhtSettings) -> anyhow::Result<DhtReport> {
    let mut rng = Rng::new(settings.seed);
    let processes = fleet.processes();
    let idle_connection_ms =
        u64::try_from(settings.idle_connection.as_millis()).unwrap_or(u64::MAX);
    let kad_bootstrap_secs = settings.kad_bootstrap.map(|d| d.as_secs());

    // Start: the first node alone, then each joins through one random node started before it (in
    // another process, when there are several).
    let started = Instant::now();
    let mut addrs: Vec<String> = Vec::with_capacity(settings.nodes);
    let mut first = 0..1;
    let mut rest = (1..settings.nodes).step_by(PARALLEL);
    while let Some(chunk_start) = first.next().or_else(|| rest.next()) {
        let chunk_end = match chunk_start {
            0 => 1,
            _ => (chunk_start + PARALLEL).min(settings.nodes),
        };
        let starts: Vec<_> = (chunk_start..chunk_end)
            .map(|node| {
                let bootstrap = match chunk_start {
                    0 => None,
                    _ => {
                        let through = bootstrap_peer(&mut rng, node, chunk_start, processes);
                        Some(addrs[through].clone())
                    }
                };
                let op = Op::Start {
                    node,
                    bootstrap,
                    transport: settings.transport,
                    idle_connection_ms,
                    kad_bootstrap_secs,
                };
                async move { (node, fleet.on(node, op).await) }
            })
            .collect();
        for (node, reply) in join_all(starts).await {
            match reply {
                Ok(Reply::Started { addr }) => addrs.push(addr),
                other => return Err(unexpected(other).context(format!("starting node {node}"))),
            }
        }
    }
    let start_secs = started.elapsed().as_secs_f64();
    progress(format_args!(
        "{} nodes started in {start_secs:.1} s",
        settings.nodes
    ));

    // Each node bootstraps on its own as a production node does (libp2p-kad's automatic bootstrap
    // once its routing table gets its first peer): wait until the routing tables stop growing.
    let started = Instant::now();
    let mut last = 0;
    let mut steady = 0;
    while steady < SETTLED_POLLS && started.elapsed() < SETTLE_LIMIT {
        tokio::time::sleep(SETTLE_POLL).await;
        let total: usize = table_sizes(&fleet.stats().await?).iter().sum();
        steady = if total == last { steady + 1 } else { 0 };
        last = total;
    }
    let bootstrap_secs = started.elapsed().as_secs_f64();
    let routing_table = Spread::of(table_sizes(&fleet.stats().await?));
    progress(format_args!(
        "routing tables settled in {bootstrap_secs:.1} s (median {})",
        routing_table.median
    ));

    // Records: signed offers, each stored from a random node, `PARALLEL` at a time (at 1,000 nodes
    // on two cores a put can take its whole 30 s query timeout).
    let makers: Vec<usize> = (0..settings.records)
        .map(|_| rng.below(settings.nodes))
        .collect();
    let mut record_keys = Vec::new();
    let mut records_put_failures = 0;
    let mut put_times = Vec::new();
    let mut stored_ons = Vec::new();
    for wave in makers.chunks(PARALLEL) {
        let puts = wave
            .iter()
            .map(|&maker| fleet.on(maker, Op::PutOffer { node: maker }));
        for put in join_all(puts).await {
            match put {
                Ok(Reply::Put {
                    key,
                    stored_on,
                    took_us,
                }) => {
                    put_times.push(Duration::from_micros(took_us));
                    stored_ons.push(stored_on);
                    match key {
                        Some(key) => record_keys.push(key),
                        None => records_put_failures += 1,
                    }
                }
                _ => records_put_failures += 1,
            }
        }
    }
    // Provider keys, each announced by several random nodes, `PARALLEL` announcements at a time.
    let provider_keys: Vec<(Vec<u8>, Vec<usize>)> = (0..settings.provider_keys)
        .map(|k| {
            let key = format!("souk-bench provider key {k} {}", settings.seed).into_bytes();
            (
                key,
                rng.distinct_below(settings.nodes, settings.providers_per_key),
            )
        })
        .collect();
    let announcements: Vec<(usize, &Vec<u8>)> = provider_keys
        .iter()
        .flat_map(|(key, providers)| providers.iter().map(move |&node| (node, key)))
        .collect();
    let mut provide_times = Vec::new();
    for wave in announcements.chunks(PARALLEL) {
        let announce = wave.iter().map(|&(node, key)| {
            let key = key.clone();
            fleet.on(node, Op::Provide { node, key })
        });
        for announced in join_all(announce).await {
            match announced {
                Ok(Reply::Provided { took_us }) => {
                    provide_times.push(Duration::from_micros(took_us));
                }
                other => return Err(unexpected(other).context("announcing a provider")),
            }
        }
    }

    progress(format_args!(
        "{} records stored, {} provider keys announced",
        record_keys.len(),
        provider_keys.len()
    ));
    let provider_key_bytes: Vec<Vec<u8>> = provider_keys.iter().map(|(k, _)| k.clone()).collect();
    let holdings = fleet
        .holdings(record_keys.clone(), provider_key_bytes.clone())
        .await?;
    let (record, record_outcomes) = look_up_records(
        fleet,
        settings.nodes,
        &record_keys,
        settings.lookups,
        &mut rng,
    )
    .await;
    progress(format_args!("{} record lookups done", record.lookups));
    let (providers, first_provider, provider_outcomes) = look_up_providers(
        fleet,
        settings.nodes,
        &provider_keys,
        settings.lookups,
        &mut rng,
    )
    .await;
    progress(format_args!("{} provider lookups done", providers.lookups));
    let baseline_request = baseline(fleet, &addrs[1], 200).await;
    let record_placement = Placement::of(
        &record_keys,
        &holdings,
        |n, k| n.records[k],
        &record_outcomes,
    );
    let provider_placement = Placement::of(
        &provider_key_bytes,
        &holdings,
        |n, k| n.providers[k],
        &provider_outcomes,
    );

    let hosts = fleet.stats().await?;
    let kib_to_mib = |kib: u64| kib as f64 / 1024.0;
    let process_rss_mib: Vec<f64> = hosts
        .iter()
        .filter_map(|h| h.rss_kib.map(kib_to_mib))
        .collect();
    let measured_all = process_rss_mib.len() == hosts.len();
    let rss_mib = measured_all.then(|| process_rss_mib.iter().sum::<f64>());
    let peak_rss_mib = hosts
        .iter()
        .map(|h| h.peak_rss_kib.map(kib_to_mib))
        .sum::<Option<f64>>();
    let connected = hosts
        .iter()
        .flat_map(|h| h.nodes.iter().map(|n| n.connected_peers))
        .collect();
    Ok(DhtReport {
        nodes: settings.nodes,
        processes,
        transport: settings.transport,
        idle_connection_secs: settings.idle_connection.as_secs_f64(),
        kad_bootstrap_secs: settings.kad_bootstrap.map(|d| d.as_secs_f64()),
        seed: settings.seed,
        start_secs,
        bootstrap_secs,
        wall_secs: 0.0,
        routing_table,
        routing_table_after: Spread::of(table_sizes(&hosts)),
        connected_peers_after: Spread::of(connected),
        records_stored: record_keys.len(),
        records_put_failures,
        record_stored_on: Spread::of(stored_ons),
        record_put: LatencySummary::of(&put_times),
        start_providing: LatencySummary::of(&provide_times),
        record,
        providers,
        first_provider,
        record_placement,
        provider_placement,
        baseline_request,
        rss_mib,
        rss_mib_per_node: rss_mib.map(|m| m / settings.nodes as f64),
        peak_rss_mib,
        process_rss_mib,
        open_files: Spread::of(hosts.iter().filter_map(|h| h.open_files).collect()),
        open_files_peak: Spread::of(hosts.iter().filter_map(|h| h.peak_open_files).collect()),
    })
}

/// Where the nodes run: in this process, or spread over worker processes (node `i` in worker
/// `i mod P`).
enum Fleet {
    Here(Host),
    Workers(Vec<Worker>),
}

impl Fleet {
    fn start(settings: &DhtSettings) -> anyhow::Result<Self> {
        if settings.processes == 1 {
            return Ok(Self::Here(Host::new()));
        }
        let program = match &settings.worker_program {
            Some(program) => program.clone(),
            None => std::env::current_exe().context("finding this program to run its workers")?,
        };
        let workers = (0..settings.processes)
            .map(|index| Worker::spawn(&program, index))
            .collect::<anyhow::Result<_>>()?;
        Ok(Self::Workers(workers))
    }

    fn processes(&self) -> usize {
        match self {
            Self::Here(_) => 1,
            Self::Workers(workers) => workers.len(),
        }
    }

    /// Runs `op` in the process that holds node `node`.
    async fn on(&self, node: usize, op: Op) -> Result<Reply, String> {
        match self {
            Self::Here(host) => host.handle(op).await,
            Self::Workers(workers) => workers[node % workers.len()].call(op).await,
        }
    }

    /// Every process's nodes, memory and open files, in process order.
    async fn stats(&self) -> anyhow::Result<Vec<HostStats>> {
        let replies = match self {
            Self::Here(host) => vec![host.handle(Op::Stats).await],
            Self::Workers(workers) => join_all(workers.iter().map(|w| w.call(Op::Stats))).await,
        };
        replies
            .into_iter()
            .map(|reply| match reply {
                Ok(Reply::Stats(stats)) => Ok(stats),
                other => Err(unexpected(other).context("reading the nodes' stats")),
            })
            .collect()
    }

    /// What every node holds of `records` and `providers`, in node order.
    async fn holdings(
        &self,
        records: Vec<Vec<u8>>,
        providers: Vec<Vec<u8>>,
    ) -> anyhow::Result<Vec<NodeHoldings>> {
        let op = Op::Holdings { records, providers };
        let replies = match self {
            Self::Here(host) => vec![host.handle(op).await],
            Self::Workers(workers) => join_all(workers.iter().map(|w| w.call(op.clone()))).await,
        };
        let mut nodes = Vec::new();
        for reply in replies {
            match reply {
                Ok(Reply::Holdings(held)) => nodes.extend(held),
                other => return Err(unexpected(other).context("reading what the nodes hold")),
            }
        }
        nodes.sort_by_key(|n| n.node);
        Ok(nodes)
    }

    async fn shutdown(self) -> anyhow::Result<()> {
        match self {
            Self::Here(host) => match host.handle(Op::Shutdown).await {
                Ok(_) => Ok(()),
                Err(e) => Err(anyhow::anyhow!(e)),
            },
            Self::Workers(workers) => {
                let stopped = join_all(workers.into_iter().map(Worker::stop)).await;
                stopped.into_iter().collect()
            }
        }
    }
}

/// A long run says where it is on stderr (the report goes to stdout).
fn progress(what: fmt::Arguments<'_>) {
    eprintln!("souk-bench dht: {what}");
}

fn unexpected(reply: Result<Reply, String>) -> anyhow::Error {
    match reply {
        Err(e) => anyhow::anyhow!(e),
        Ok(other) => anyhow::anyhow!("an unexpected reply: {other:?}"),
    }
}

/// The node `node` joins through: a random one of the `started` before it, in another process when
/// there is one (with one process: any, and the same draw as ever).
fn bootstrap_peer(rng: &mut Rng, node: usize, started: usize, processes: usize) -> usize {
    let elsewhere: Vec<usize> = (0..started)
        .filter(|&other| other % processes != node % processes)
        .collect();
    match elsewhere.is_empty() {
        true => rng.below(started),
        false => elsewhere[rng.below(elsewhere.len())],
    }
}

fn table_sizes(hosts: &[HostStats]) -> Vec<usize> {
    hosts
        .iter()
        .flat_map(|h| h.nodes.iter().map(|n| n.routing_table))
        .collect()
}

/// `count` lookups, `PARALLEL` at a time from distinct nodes, each of a random key from a random
/// node that does not hold it: (latency, requests, found) each; and (key index, found) each.
async fn look_up_records(
    fleet: &Fleet,
    nodes: usize,
    keys: &[Vec<u8>],
    count: usize,
    rng: &mut Rng,
) -> (LookupFigures, Vec<(usize, bool)>) {
    let mut samples = Vec::new();
    let mut outcomes = Vec::new();
    let mut errors = 0;
    if keys.is_empty() {
        return (LookupFigures::default(), outcomes);
    }
    // In a small network every node may hold every record (it goes to the 20 closest): a few waves
    // that find no asker end the run with fewer lookups rather than never.
    let mut idle_waves = 0;
    while samples.len() + errors < count && idle_waves < IDLE_WAVES {
        let wave = (count - samples.len() - errors).min(PARALLEL);
        let askers = rng.distinct_below(nodes, wave);
        let drawn: Vec<(usize, usize)> = askers
            .into_iter()
            .map(|asker| (asker, rng.below(keys.len())))
            .collect();
        // A node that holds the record answers from its own store: not a lookup. Asked all at
        // once: at 1,000 nodes on two cores one answer takes seconds.
        let holds = drawn.iter().map(|&(asker, k)| {
            let op = Op::HoldsRecord {
                node: asker,
                key: keys[k].clone(),
            };
            fleet.on(asker, op)
        });
        let holds = join_all(holds).await;
        let plan: Vec<(usize, usize)> = drawn
            .into_iter()
            .zip(holds)
            .filter(|(_, held)| !matches!(held, Ok(Reply::Holds(true))))
            .map(|(planned, _)| planned)
            .collect();
        idle_waves = if plan.is_empty() { idle_waves + 1 } else { 0 };
        let runs = plan.into_iter().map(|(asker, k)| async move {
            let op = Op::GetRecord {
                node: asker,
                key: keys[k].clone(),
            };
            (k, fleet.on(asker, op).await)
        });
        for (k, result) in join_all(runs).await {
            match result {
                Ok(Reply::Lookup(lookup)) => {
                    outcomes.push((k, lookup.found));
                    samples.push(sample(&lookup));
                }
                _ => errors += 1,
            }
        }
    }
    (figures(&samples, errors), outcomes)
}

/// Provider lookups: the whole query (every provider), and apart from it the first provider alone.
async fn look_up_providers(
    fleet: &Fleet,
    nodes: usize,
    keys: &[(Vec<u8>, Vec<usize>)],
    count: usize,
    rng: &mut Rng,
) -> (LookupFigures, LatencySummary, Vec<(usize, bool)>) {
    let mut samples = Vec::new();
    let mut firsts = Vec::new();
    let mut outcomes = Vec::new();
    let mut errors = 0;
    if keys.is_empty() {
        return (
            LookupFigures::default(),
            LatencySummary::default(),
            outcomes,
        );
    }
    let mut idle_waves = 0;
    while samples.len() + errors < count && idle_waves < IDLE_WAVES {
        let wave = (count - samples.len() - errors).min(PARALLEL);
        let askers = rng.distinct_below(nodes, wave);
        let mut plan = Vec::new();
        for asker in askers {
            let k = rng.below(keys.len());
            if keys[k].1.contains(&asker) {
                continue;
            }
            plan.push((asker, k));
        }
        idle_waves = if plan.is_empty() { idle_waves + 1 } else { 0 };
        let runs = plan.into_iter().map(|(asker, k)| async move {
            let op = Op::GetProviders {
                node: asker,
                key: keys[k].0.clone(),
            };
            (k, fleet.on(asker, op).await)
        });
        for (k, result) in join_all(runs).await {
            match result {
                Ok(Reply::Lookup(lookup)) => {
                    outcomes.push((k, lookup.found));
                    samples.push(sample(&lookup));
                    firsts.extend(lookup.first_provider_us.map(Duration::from_micros));
                }
                _ => errors += 1,
            }
        }
    }
    (
        figures(&samples, errors),
        LatencySummary::of(&firsts),
        outcomes,
    )
}

fn sample(lookup: &Lookup) -> (Duration, u64, bool) {
    (
        Duration::from_micros(lookup.took_us),
        lookup.requests,
        lookup.found,
    )
}

fn figures(samples: &[(Duration, u64, bool)], errors: usize) -> LookupFigures {
    let latencies: Vec<Duration> = samples.iter().map(|s| s.0).collect();
    // Counts through the percentile code: one "µs" per request.
    let requests: Vec<Duration> = samples.iter().map(|s| Duration::from_micros(s.1)).collect();
    LookupFigures {
        latency: LatencySummary::of(&latencies),
        requests: LatencySummary::of(&requests),
        found: samples.iter().filter(|s| s.2).count(),
        lookups: samples.len(),
        errors,
    }
}

/// One request–answer from node 0 to node 1 (`peer`) on an open connection, `count` times.
async fn baseline(fleet: &Fleet, peer: &str, count: usize) -> LatencySummary {
    let op = Op::Baseline {
        node: 0,
        peer: peer.to_owned(),
        count,
    };
    match fleet.on(0, op).await {
        Ok(Reply::Samples(samples)) => {
            let samples: Vec<Duration> = samples.into_iter().map(Duration::from_micros).collect();
            LatencySummary::of(&samples)
        }
        _ => LatencySummary::default(),
    }
}

/// In one process a thousand nodes hold tens of thousands of sockets (two per TCP connection, both
/// ends being in this process): as root, raise the hard limit too; otherwise use what the hard
/// limit allows.
fn raise_open_files() {
    const WANTED: u64 = 1 << 18;
    if rlimit::setrlimit(rlimit::Resource::NOFILE, WANTED, WANTED).is_ok() {
        return;
    }
    if let Err(e) = rlimit::increase_nofile_limit(u64::MAX) {
        eprintln!("souk-bench: could not raise the open-files limit: {e}");
    }
}

impl fmt::Display for DhtReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = |us: f64| us / 1000.0;
        writeln!(
            f,
            "DHT: {} nodes in {} over {:?}, unused connections closed after {:.0} s, {} (seed {}), started in {:.1} s, routing tables settled {:.1} s later, {:.0} s in all",
            self.nodes,
            match self.processes {
                1 => "this process".to_owned(),
                n => format!("{n} processes"),
            },
            self.transport,
            self.idle_connection_secs,
            {
                let production = NetConfig::default()
                    .kad_bootstrap_interval
                    .map(|d| d.as_secs_f64());
                match self.kad_bootstrap_secs {
                    s if s == production => format!(
                        "routine Kademlia bootstrap every {:.0} s as in production",
                        s.unwrap_or(0.0)
                    ),
                    Some(s) => {
                        format!("routine Kademlia bootstrap every {s:.0} s (NOT production's)")
                    }
                    None => "NO routine Kademlia bootstrap (NOT production's)".to_owned(),
                }
            },
            self.seed,
            self.start_secs,
            self.bootstrap_secs,
            self.wall_secs,
        )?;
        writeln!(
            f,
            "routing table per node (min/median/max): {}/{}/{} after the bootstrap, {}/{}/{} at the end; connected peers at the end {}/{}/{}",
            self.routing_table.min,
            self.routing_table.median,
            self.routing_table.max,
            self.routing_table_after.min,
            self.routing_table_after.median,
            self.routing_table_after.max,
            self.connected_peers_after.min,
            self.connected_peers_after.median,
            self.connected_peers_after.max
        )?;
        writeln!(
            f,
            "records stored: {} ({} puts failed) on {}/{}/{} peers each (min/median/max), put p50/p95 {:.1}/{:.1} ms; provider announcement p50/p95 {:.1}/{:.1} ms",
            self.records_stored,
            self.records_put_failures,
            self.record_stored_on.min,
            self.record_stored_on.median,
            self.record_stored_on.max,
            ms(self.record_put.p50_us),
            ms(self.record_put.p95_us),
            ms(self.start_providing.p50_us),
            ms(self.start_providing.p95_us),
        )?;
        writeln!(
            f,
            "{:<16} {:>8} {:>8} {:>8} {:>8}   {:>9} {:>9}   found",
            "", "p50 ms", "p95 ms", "p99 ms", "max ms", "req p50", "req p95"
        )?;
        for (name, l) in [("record", &self.record), ("all providers", &self.providers)] {
            writeln!(
                f,
                "{name:<16} {:>8.1} {:>8.1} {:>8.1} {:>8.1}   {:>9.0} {:>9.0}   {}/{}{}",
                ms(l.latency.p50_us),
                ms(l.latency.p95_us),
                ms(l.latency.p99_us),
                ms(l.latency.max_us),
                l.requests.p50_us,
                l.requests.p95_us,
                l.found,
                l.lookups,
                match l.errors {
                    0 => String::new(),
                    n => format!(" ({n} errors)"),
                }
            )?;
        }
        let fp = &self.first_provider;
        writeln!(
            f,
            "{:<16} {:>8.1} {:>8.1} {:>8.1} {:>8.1}   ({} samples)",
            "first provider",
            ms(fp.p50_us),
            ms(fp.p95_us),
            ms(fp.p99_us),
            ms(fp.max_us),
            fp.samples
        )?;
        for (name, p) in [
            ("records", &self.record_placement),
            ("provider keys", &self.provider_placement),
        ] {
            writeln!(
                f,
                "{name} before the lookups: {} of {} held by none of their {} closest nodes; per lookup, the key's holders (of them among its closest) min/median/max: found {}/{}/{} ({}/{}/{}), missed {}/{}/{} ({}/{}/{})",
                p.away_from_closest(),
                p.keys.len(),
                placement::CLOSEST,
                p.found_holders.min,
                p.found_holders.median,
                p.found_holders.max,
                p.found_closest_holders.min,
                p.found_closest_holders.median,
                p.found_closest_holders.max,
                p.missed_holders.min,
                p.missed_holders.median,
                p.missed_holders.max,
                p.missed_closest_holders.min,
                p.missed_closest_holders.median,
                p.missed_closest_holders.max,
            )?;
        }
        let b = &self.baseline_request;
        writeln!(
            f,
            "{:<16} {:>8.2} {:>8.2} {:>8.2} {:>8.2}   (one request on an open connection)",
            "baseline",
            ms(b.p50_us),
            ms(b.p95_us),
            ms(b.p99_us),
            ms(b.max_us)
        )?;
        match (self.rss_mib, self.rss_mib_per_node) {
            (Some(total), Some(per)) => {
                let largest = self.process_rss_mib.iter().copied().fold(0.0, f64::max);
                writeln!(
                    f,
                    "memory: {total:.0} MiB resident over {} process(es) (largest {largest:.0} MiB, peaks summed {:.0} MiB), {per:.2} MiB per node",
                    self.process_rss_mib.len(),
                    self.peak_rss_mib.unwrap_or(0.0),
                )?;
            }
            _ => writeln!(f, "memory: not measured here")?,
        }
        writeln!(
            f,
            "open files per process (min/median/max): {}/{}/{} at the end, {}/{}/{} at the most",
            self.open_files.min,
            self.open_files.median,
            self.open_files.max,
            self.open_files_peak.min,
            self.open_files_peak.median,
            self.open_files_peak.max
        )
    }
}
