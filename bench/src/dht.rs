//! The DHT at scale: N `Network`s in this process on loopback with the production Kademlia settings
//! (DHT server mode, 30 s query timeout, 60 s idle connections, the real record filter), each joining
//! through one random earlier node as a new install joins through its bootstrap peer, then running a
//! Kademlia bootstrap. Signed offers are stored as records and keys announced by several providers
//! from random nodes; random other nodes look them up.
//!
//! Per lookup: its latency and the requests it had sent by the time it answered (libp2p-kad reports
//! requests, not hops; it asks up to α = 3 peers at a time, each round one step closer, so
//! rounds ≈ requests / 3). Also the routing-table sizes and the process's memory.
//!
//! Baseline in the same run: one request–answer on an open connection between two of the nodes (the
//! cost of one step without the search), so a lookup's latency reads as "so many round trips".

use std::{
    fmt,
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::Context;
use futures::future::join_all;
use libp2p::{Multiaddr, PeerId, identity::Keypair, multiaddr::Protocol};
use serde::Serialize;
use souk_core::net::{DhtMode, InboundFilter, NetClient, NetConfig, NetEvent, Network};
use tokio::sync::broadcast;

use crate::{
    market::VerifyingFilter, memory::MemoryReading, propagation::Rng, summary::LatencySummary,
};

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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    Tcp,
    Quic,
}

#[derive(Debug, Clone)]
pub struct DhtSettings {
    pub nodes: usize,
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
    /// memory (QUIC ~0.3 MB) and, over TCP, two file descriptors in this one process: a thousand
    /// nodes that keep every connection of their bootstrap for a minute do not fit one machine.
    pub idle_connection: Duration,
    pub seed: u64,
}

impl DhtSettings {
    pub fn new(nodes: usize) -> Self {
        Self {
            nodes,
            records: 50,
            provider_keys: 20,
            providers_per_key: 5,
            lookups: 200,
            transport: Transport::Tcp,
            idle_connection: NetConfig::default().idle_connection_timeout,
            seed: getrandom::u64().unwrap_or(0xd47),
        }
    }
}

/// Least, median and most of a count over the nodes.
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
    pub transport: Transport,
    pub idle_connection_secs: f64,
    pub seed: u64,
    pub start_secs: f64,
    /// From the last start until the routing tables stopped growing (each node's automatic bootstrap).
    pub bootstrap_secs: f64,
    /// Peers in each node's routing table after the bootstrap and after the lookups.
    pub routing_table: Spread,
    pub routing_table_after: Spread,
    pub connected_peers_after: Spread,
    pub records_stored: usize,
    pub records_put_failures: usize,
    pub record: LookupFigures,
    /// Every provider of a key (the whole query, as the market's `get_providers` waits for).
    pub providers: LookupFigures,
    /// The first provider of a key (`get_providers_as_found`, what a cold start can act on).
    pub first_provider: LatencySummary,
    /// Baseline: one request and its answer on an open connection between two nodes.
    pub baseline_request: LatencySummary,
    pub rss_mib: Option<f64>,
    pub rss_mib_per_node: Option<f64>,
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

struct DhtNode {
    client: NetClient,
    addr: Multiaddr,
    keypair: Keypair,
}

pub async fn run_dht(settings: DhtSettings) -> anyhow::Result<DhtReport> {
    anyhow::ensure!(settings.nodes >= 2, "at least 2 nodes are needed");
    raise_open_files();
    let mut rng = Rng::new(settings.seed);
    let filter: Arc<dyn InboundFilter> = Arc::new(VerifyingFilter);

    // Start: the first node alone, then each joins through one random node started before it.
    let started = Instant::now();
    let mut nodes: Vec<DhtNode> = Vec::with_capacity(settings.nodes);
    let mut answering = Vec::new();
    let mut first = 0..1;
    let mut rest = (1..settings.nodes).step_by(PARALLEL);
    while let Some(chunk_start) = first.next().or_else(|| rest.next()) {
        let chunk_end = match chunk_start {
            0 => 1,
            _ => (chunk_start + PARALLEL).min(settings.nodes),
        };
        let starts = (chunk_start..chunk_end).map(|_| {
            let bootstrap = match chunk_start {
                0 => Vec::new(),
                _ => vec![nodes[rng.below(chunk_start)].addr.clone()],
            };
            let mut config = config(settings.transport, bootstrap);
            config.idle_connection_timeout = settings.idle_connection;
            start_node(config, filter.clone())
        });
        let starts: Vec<_> = starts.collect();
        for started in join_all(starts).await {
            let (node, events) = started?;
            // Something must take the network's events, or its direct requests go unanswered.
            answering.push(tokio::spawn(answer_requests(node.client.clone(), events)));
            nodes.push(node);
        }
    }
    let start_secs = started.elapsed().as_secs_f64();

    // Each node bootstraps on its own as a production node does (libp2p-kad's automatic bootstrap
    // once its routing table gets its first peer): wait until the routing tables stop growing.
    let started = Instant::now();
    let mut last = 0;
    let mut steady = 0;
    while steady < SETTLED_POLLS && started.elapsed() < SETTLE_LIMIT {
        tokio::time::sleep(SETTLE_POLL).await;
        let total: usize = table_sizes(&nodes).await.iter().sum();
        steady = if total == last { steady + 1 } else { 0 };
        last = total;
    }
    let bootstrap_secs = started.elapsed().as_secs_f64();
    let routing_table = Spread::of(table_sizes(&nodes).await);

    // Records: signed offers, each stored from a random node.
    let mut record_keys = Vec::new();
    let mut records_put_failures = 0;
    for _ in 0..settings.records {
        let maker = &nodes[rng.below(nodes.len())];
        let (key, value) = signed_record(&maker.keypair)?;
        match maker
            .client
            .put_record(key.clone(), value, Duration::from_secs(3600))
            .await
        {
            Ok(stored_on) if stored_on > 0 => record_keys.push(key),
            _ => records_put_failures += 1,
        }
    }
    // Provider keys, each announced by several random nodes.
    let mut provider_keys = Vec::new();
    for k in 0..settings.provider_keys {
        let key = format!("souk-bench provider key {k} {}", settings.seed).into_bytes();
        let providers = rng.distinct_below(nodes.len(), settings.providers_per_key);
        let announce = providers
            .iter()
            .map(|&p| nodes[p].client.start_providing(key.clone()));
        for result in join_all(announce).await {
            result.context("announcing a provider")?;
        }
        provider_keys.push((key, providers));
    }

    let record = look_up_records(&nodes, &record_keys, settings.lookups, &mut rng).await;
    let (providers, first_provider) =
        look_up_providers(&nodes, &provider_keys, settings.lookups, &mut rng).await;
    let baseline_request = baseline(&nodes, 200).await;

    let memory = MemoryReading::now();
    let rss_mib = memory.rss_kib.map(|kib| kib as f64 / 1024.0);
    let routing_table_after = Spread::of(table_sizes(&nodes).await);
    let mut connected = Vec::new();
    for node in &nodes {
        connected.push(node.client.stats().await.map_or(0, |s| s.connected_peers));
    }
    for chunk in nodes.chunks(64) {
        join_all(chunk.iter().map(|n| n.client.shutdown())).await;
    }
    for task in answering {
        task.abort();
    }
    Ok(DhtReport {
        nodes: settings.nodes,
        transport: settings.transport,
        idle_connection_secs: settings.idle_connection.as_secs_f64(),
        seed: settings.seed,
        start_secs,
        bootstrap_secs,
        routing_table,
        routing_table_after,
        connected_peers_after: Spread::of(connected),
        records_stored: record_keys.len(),
        records_put_failures,
        record,
        providers,
        first_provider,
        baseline_request,
        rss_mib,
        rss_mib_per_node: rss_mib.map(|m| m / settings.nodes as f64),
    })
}

/// The production settings, on loopback (so: a DHT server that accepts loopback peers) with mDNS
/// off (nodes on one machine would all find each other through it).
fn config(transport: Transport, bootstrap: Vec<Multiaddr>) -> NetConfig {
    let listen = match transport {
        Transport::Tcp => Multiaddr::empty()
            .with(Protocol::Ip4([127, 0, 0, 1].into()))
            .with(Protocol::Tcp(0)),
        Transport::Quic => Multiaddr::empty()
            .with(Protocol::Ip4([127, 0, 0, 1].into()))
            .with(Protocol::Udp(0))
            .with(Protocol::QuicV1),
    };
    NetConfig {
        listen: vec![listen],
        bootstrap,
        mdns: false,
        dht_mode: DhtMode::Server,
        allow_loopback_peers: true,
        ..NetConfig::default()
    }
}

async fn start_node(
    config: NetConfig,
    filter: Arc<dyn InboundFilter>,
) -> anyhow::Result<(DhtNode, broadcast::Receiver<NetEvent>)> {
    let keypair = Keypair::generate_ed25519();
    let (client, events) = Network::start(config, keypair.clone(), filter).await?;
    let addr = client
        .listen_addrs()
        .await?
        .into_iter()
        .next()
        .context("a node without a listen address")?
        .with(Protocol::P2p(client.local_peer_id()));
    Ok((
        DhtNode {
            client,
            addr,
            keypair,
        },
        events,
    ))
}

/// Answers every direct request with its own bytes (the baseline's echo).
async fn answer_requests(client: NetClient, mut events: broadcast::Receiver<NetEvent>) {
    loop {
        match events.recv().await {
            Ok(NetEvent::Request { id, data, .. }) => {
                let _ = client.respond(id, data).await;
            }
            Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}

/// A signed offer of `maker`'s as a record: its key and bytes (what the real filter accepts).
fn signed_record(maker: &Keypair) -> anyhow::Result<(Vec<u8>, Vec<u8>)> {
    let (offer, signed) = crate::market::signed_offer(maker)?;
    Ok((offer.record_key().to_vec(), signed.to_bytes()))
}

async fn table_sizes(nodes: &[DhtNode]) -> Vec<usize> {
    let mut sizes = Vec::with_capacity(nodes.len());
    for node in nodes {
        sizes.push(
            node.client
                .stats()
                .await
                .map_or(0, |s| s.routing_table_size),
        );
    }
    sizes
}

/// The node's lookup counters: (lookups answered, requests they sent).
async fn lookup_counters(client: &NetClient) -> (u64, u64) {
    client
        .stats()
        .await
        .map_or((0, 0), |s| (s.dht_lookups, s.dht_lookup_requests))
}

/// `count` lookups, `PARALLEL` at a time from distinct nodes, each of a random key from a random
/// node that does not hold it: (latency, requests, found) each.
async fn look_up_records(
    nodes: &[DhtNode],
    keys: &[Vec<u8>],
    count: usize,
    rng: &mut Rng,
) -> LookupFigures {
    let mut samples = Vec::new();
    let mut errors = 0;
    if keys.is_empty() {
        return LookupFigures::default();
    }
    // In a small network every node may hold every record (it goes to the 20 closest): a few waves
    // that find no asker end the run with fewer lookups rather than never.
    let mut idle_waves = 0;
    while samples.len() + errors < count && idle_waves < IDLE_WAVES {
        let wave = (count - samples.len() - errors).min(PARALLEL);
        let askers = rng.distinct_below(nodes.len(), wave);
        let mut plan = Vec::new();
        for asker in askers {
            let key = keys[rng.below(keys.len())].clone();
            // A node that holds the record answers from its own store: not a lookup.
            if matches!(
                nodes[asker].client.local_record(key.clone()).await,
                Ok(Some(_))
            ) {
                continue;
            }
            plan.push((asker, key));
        }
        idle_waves = if plan.is_empty() { idle_waves + 1 } else { 0 };
        let runs = plan.into_iter().map(|(asker, key)| async move {
            let client = &nodes[asker].client;
            let before = lookup_counters(client).await;
            let started = Instant::now();
            let result = client.get_record(key).await;
            let took = started.elapsed();
            let after = lookup_counters(client).await;
            (result, took, after.1.saturating_sub(before.1))
        });
        for (result, took, requests) in join_all(runs).await {
            match result {
                Ok(found) => samples.push((took, requests, found.is_some())),
                Err(_) => errors += 1,
            }
        }
    }
    figures(&samples, errors)
}

/// Provider lookups: the whole query (every provider), and apart from it the first provider alone.
async fn look_up_providers(
    nodes: &[DhtNode],
    keys: &[(Vec<u8>, Vec<usize>)],
    count: usize,
    rng: &mut Rng,
) -> (LookupFigures, LatencySummary) {
    let mut samples = Vec::new();
    let mut firsts = Vec::new();
    let mut errors = 0;
    if keys.is_empty() {
        return (LookupFigures::default(), LatencySummary::default());
    }
    let mut idle_waves = 0;
    while samples.len() + errors < count && idle_waves < IDLE_WAVES {
        let wave = (count - samples.len() - errors).min(PARALLEL);
        let askers = rng.distinct_below(nodes.len(), wave);
        let mut plan = Vec::new();
        for asker in askers {
            let (key, providers) = &keys[rng.below(keys.len())];
            if providers.contains(&asker) {
                continue;
            }
            plan.push((asker, key.clone()));
        }
        idle_waves = if plan.is_empty() { idle_waves + 1 } else { 0 };
        let runs = plan.into_iter().map(|(asker, key)| async move {
            let client = &nodes[asker].client;
            let before = lookup_counters(client).await;
            let started = Instant::now();
            let result = client.get_providers(key.clone()).await;
            let took = started.elapsed();
            let after = lookup_counters(client).await;
            // The first provider alone, as a fresh search (the local cache of providers is none:
            // a node keeps only what it announces and what is announced to it).
            let (found_tx, mut found_rx) = tokio::sync::mpsc::unbounded_channel::<PeerId>();
            let started = Instant::now();
            let search = client.get_providers_as_found(key, found_tx);
            let first = tokio::select! {
                Some(_) = found_rx.recv() => Some(started.elapsed()),
                _ = search => None,
            };
            (
                result.map(|found| !found.is_empty()),
                took,
                after.1.saturating_sub(before.1),
                first,
            )
        });
        for (result, took, requests, first) in join_all(runs).await {
            match result {
                Ok(found) => samples.push((took, requests, found)),
                Err(_) => errors += 1,
            }
            firsts.extend(first);
        }
    }
    (figures(&samples, errors), LatencySummary::of(&firsts))
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

/// One request–answer between node 0 and node 1 on an open connection, `count` times.
async fn baseline(nodes: &[DhtNode], count: usize) -> LatencySummary {
    let (a, b) = (&nodes[0].client, &nodes[1]);
    if a.dial(b.addr.clone()).await.is_err() {
        return LatencySummary::default();
    }
    let peer = b.client.local_peer_id();
    let _ = a.request(peer, b"warm".to_vec()).await;
    let mut samples = Vec::with_capacity(count);
    for _ in 0..count {
        let started = Instant::now();
        if a.request(peer, b"ping".to_vec()).await.is_ok() {
            samples.push(started.elapsed());
        }
    }
    LatencySummary::of(&samples)
}

/// A thousand nodes hold tens of thousands of sockets (two per TCP connection, both ends being in
/// this process): as root, raise the hard limit too; otherwise use what the hard limit allows.
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
            "DHT: {} in-process nodes over {:?}, unused connections closed after {:.0} s (seed {}), started in {:.1} s, routing tables settled {:.1} s later",
            self.nodes,
            self.transport,
            self.idle_connection_secs,
            self.seed,
            self.start_secs,
            self.bootstrap_secs,
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
            "records stored: {} ({} puts failed)",
            self.records_stored, self.records_put_failures
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
            (Some(total), Some(per)) => writeln!(
                f,
                "memory: {total:.0} MiB resident for the process, {per:.2} MiB per node"
            ),
            _ => writeln!(f, "memory: not measured here"),
        }
    }
}
