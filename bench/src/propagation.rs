//! How fast a signed offer reaches every node of a market: N real libp2p nodes in this process on
//! loopback, joined into a random sparse graph, all subscribed to one market topic. Random makers
//! publish offers one at a time; every node verifies what it receives (in its inbound filter before
//! forwarding, and again before counting it, as the app layer does), and each (offer, receiving node)
//! pair gives one latency from the publish call to the verified receipt.
//!
//! Baseline, in the same process and before any node starts: the same number of updates over plain
//! loopback TCP ([`crate::raw_tcp`]). Every wait is for a condition under the overall deadline; when
//! the deadline passes, the report holds what was measured so far.

use std::{
    collections::HashMap,
    fmt,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::Context;
use futures::future::join_all;
use libp2p::{Multiaddr, identity::Keypair, multiaddr::Protocol};
use serde::Serialize;
use souk_core::net::{DhtMode, InboundFilter, NetClient, NetConfig, NetEvent, Network};
use tokio::sync::{broadcast, mpsc};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::{
    market::{self, VerifyingFilter, signed_offer_update, verify_offer_update},
    memory::MemoryReading,
    raw_tcp,
    summary::LatencySummary,
};

/// A mesh counts as formed once this many probes in a row reached every node.
const WARMUP_STREAK: usize = 3;
/// How long one warm-up probe may take to reach every node before the next one is sent.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);
/// How often connection counts are polled while the graph forms.
const POLL_INTERVAL: Duration = Duration::from_millis(20);
/// Bound on reading counters and shutting the nodes down at the end.
const WIND_DOWN: Duration = Duration::from_secs(10);

/// What to measure.
#[derive(Debug, Clone)]
pub struct PropagationSettings {
    pub nodes: usize,
    pub offers: usize,
    /// Each node dials this many distinct random earlier nodes (fewer when there are fewer).
    pub dials_per_node: usize,
    /// Everything (baseline, setup, warm-up, measurement) ends by then.
    pub deadline: Duration,
    /// The longest the warm-up may probe the mesh before measuring anyway.
    pub warmup_limit: Duration,
    /// The longest one offer is waited for before the next is published.
    pub offer_timeout: Duration,
    /// Seed of the graph and of the choice of makers.
    pub seed: u64,
}

impl PropagationSettings {
    /// Four dials per node, 120 s overall, a random seed.
    pub fn new(nodes: usize, offers: usize) -> Self {
        Self {
            nodes,
            offers,
            dials_per_node: 4,
            deadline: Duration::from_secs(120),
            warmup_limit: Duration::from_secs(30),
            offer_timeout: Duration::from_secs(10),
            seed: getrandom::u64().unwrap_or(0x5eed),
        }
    }
}

/// Memory of the whole process, and divided by the node count as a rough per-node figure.
#[derive(Debug, Clone, Serialize)]
pub struct MemoryReport {
    /// After the baseline, before the first node started.
    pub before_nodes: MemoryReading,
    /// After the measurement, before the nodes shut down.
    pub after_run: MemoryReading,
    /// Peak RSS (VmHWM) / nodes.
    pub peak_rss_per_node_kib: Option<f64>,
    /// (Peak RSS − RSS before the nodes) / nodes: closer to what one more node costs.
    pub growth_per_node_kib: Option<f64>,
}

/// Everything measured, as written to `--json`.
#[derive(Debug, Clone, Serialize)]
pub struct PropagationReport {
    pub nodes: usize,
    pub offers: usize,
    pub offers_published: usize,
    pub dials_per_node: usize,
    pub seed: u64,
    /// Connections made by the dials (the graph).
    pub connections_dialled: usize,
    /// Connections open at the end (more would mean peers found others on their own).
    pub connections_at_end: usize,
    pub update_bytes: usize,
    /// Starting, connecting and subscribing every node.
    pub setup_secs: f64,
    /// Warm-up time until the mesh formed; `None` when it never did within the limit.
    pub mesh_ready_secs: Option<f64>,
    pub warmup_probes: usize,
    /// offers × (nodes − 1): every node but the maker should receive every offer.
    pub expected_deliveries: usize,
    pub delivered: usize,
    pub delivered_fraction: f64,
    /// Publish → verified receipt, per (offer, receiving node).
    pub gossip: LatencySummary,
    /// Write → verified read over one loopback TCP connection, same number of messages.
    pub raw_tcp: LatencySummary,
    pub p50_ratio_gossip_to_raw_tcp: Option<f64>,
    /// Gossip refused by the nodes' filters (should be 0: every update is valid).
    pub gossip_refused: u64,
    /// Network events lost because a receiving task fell behind.
    pub events_lagged: u64,
    pub publish_errors: usize,
    pub memory: MemoryReport,
    /// The overall deadline ended the run before every offer was published and waited for.
    pub timed_out: bool,
    pub total_secs: f64,
}

impl PropagationReport {
    pub fn all_delivered(&self) -> bool {
        self.expected_deliveries > 0 && self.delivered == self.expected_deliveries
    }
}

/// Runs the baseline and the gossip measurement. Errors only when the measurement cannot be made at
/// all (no socket, a node that does not start, a dial that fails); slowness and losses are reported.
pub async fn run_propagation(settings: PropagationSettings) -> anyhow::Result<PropagationReport> {
    anyhow::ensure!(settings.nodes >= 2, "propagation needs at least 2 nodes");
    anyhow::ensure!(settings.offers >= 1, "propagation needs at least 1 offer");
    let started = Instant::now();
    let deadline = started + settings.deadline;
    let topic = market::topic();
    let expected = settings.offers * (settings.nodes - 1);

    let baseline_maker = Keypair::generate_ed25519();
    let baseline_updates = (0..settings.offers)
        .map(|_| signed_offer_update(&baseline_maker).map(|(_, bytes)| bytes))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let update_bytes = baseline_updates.first().map_or(0, Vec::len);
    let raw = raw_tcp::measure(&baseline_updates, expected, &topic, deadline).await?;
    let before_nodes = MemoryReading::now();

    let (receipts_tx, receipts_rx) = mpsc::unbounded_channel();
    let mut net = BenchNet::new(receipts_tx);
    let measured = match net
        .measure(&settings, &topic, deadline, Deliveries::new(receipts_rx))
        .await
    {
        Ok(measured) => measured,
        Err(e) => {
            net.shutdown().await;
            return Err(e);
        }
    };
    let (connections_at_end, gossip_refused) = net.counters().await;
    let after_run = MemoryReading::now();
    let events_lagged = net.lagged.load(Ordering::Relaxed);
    net.shutdown().await;

    let gossip = LatencySummary::of(&measured.latencies);
    let raw_tcp = LatencySummary::of(&raw);
    let nodes = settings.nodes as f64;
    let peak = after_run.peak_rss_kib;
    Ok(PropagationReport {
        nodes: settings.nodes,
        offers: settings.offers,
        offers_published: measured.offers_published,
        dials_per_node: settings.dials_per_node,
        seed: settings.seed,
        connections_dialled: measured.connections_dialled,
        connections_at_end,
        update_bytes,
        setup_secs: measured.setup.as_secs_f64(),
        mesh_ready_secs: measured.mesh_ready.map(|d| d.as_secs_f64()),
        warmup_probes: measured.warmup_probes,
        expected_deliveries: expected,
        delivered: measured.latencies.len(),
        delivered_fraction: measured.latencies.len() as f64 / expected as f64,
        p50_ratio_gossip_to_raw_tcp: (gossip.samples > 0 && raw_tcp.p50_us > 0.0)
            .then(|| gossip.p50_us / raw_tcp.p50_us),
        gossip,
        raw_tcp,
        gossip_refused,
        events_lagged,
        publish_errors: measured.publish_errors,
        memory: MemoryReport {
            before_nodes,
            after_run,
            peak_rss_per_node_kib: peak.map(|p| p as f64 / nodes),
            growth_per_node_kib: peak
                .zip(before_nodes.rss_kib)
                .map(|(p, b)| p.saturating_sub(b) as f64 / nodes),
        },
        timed_out: measured.timed_out,
        total_secs: started.elapsed().as_secs_f64(),
    })
}

/// What [`BenchNet::measure`] found.
struct Measured {
    latencies: Vec<Duration>,
    offers_published: usize,
    connections_dialled: usize,
    setup: Duration,
    mesh_ready: Option<Duration>,
    warmup_probes: usize,
    publish_errors: usize,
    timed_out: bool,
}

/// One benchmark node: the network handle, and the identity its offers are signed with.
struct BenchNode {
    client: NetClient,
    maker: Keypair,
    addr: Multiaddr,
}

/// The running nodes and the tasks counting their receipts.
struct BenchNet {
    nodes: Vec<BenchNode>,
    receipts: mpsc::UnboundedSender<Receipt>,
    lagged: Arc<AtomicU64>,
    cancel: CancellationToken,
    counters: Vec<tokio::task::JoinHandle<()>>,
}

impl BenchNet {
    fn new(receipts: mpsc::UnboundedSender<Receipt>) -> Self {
        Self {
            nodes: Vec::new(),
            receipts,
            lagged: Arc::new(AtomicU64::new(0)),
            cancel: CancellationToken::new(),
            counters: Vec::new(),
        }
    }

    async fn measure(
        &mut self,
        settings: &PropagationSettings,
        topic: &str,
        deadline: Instant,
        mut deliveries: Deliveries,
    ) -> anyhow::Result<Measured> {
        let setup_started = Instant::now();
        let mut rng = Rng::new(settings.seed);
        self.start_nodes(settings, topic, deadline).await?;
        let connections_dialled = self.connect(settings, &mut rng, deadline).await?;
        for node in &self.nodes {
            node.client.subscribe(topic).await?;
        }
        let setup = setup_started.elapsed();

        let receivers = settings.nodes - 1;
        let warmup_started = Instant::now();
        let warmup_end = deadline.min(warmup_started + settings.warmup_limit);
        let (mut warmup_probes, mut streak) = (0, 0);
        while streak < WARMUP_STREAK && Instant::now() < warmup_end {
            let (id, _) = self
                .publish(rng.below(settings.nodes), topic, &mut deliveries)
                .await?;
            warmup_probes += 1;
            let until = warmup_end.min(Instant::now() + PROBE_TIMEOUT);
            if deliveries.wait_complete(id, receivers, until).await {
                streak += 1;
            } else {
                streak = 0;
            }
        }
        let mesh_ready = (streak >= WARMUP_STREAK).then(|| warmup_started.elapsed());

        let mut offers = Vec::with_capacity(settings.offers);
        let (mut publish_errors, mut timed_out) = (0, false);
        for _ in 0..settings.offers {
            if Instant::now() >= deadline {
                timed_out = true;
                break;
            }
            let (id, published) = self
                .publish(rng.below(settings.nodes), topic, &mut deliveries)
                .await?;
            offers.push(id);
            if !published {
                publish_errors += 1;
            }
            let until = deadline.min(Instant::now() + settings.offer_timeout);
            if !deliveries.wait_complete(id, receivers, until).await && Instant::now() >= deadline {
                timed_out = true;
                break;
            }
        }
        deliveries.drain();
        Ok(Measured {
            latencies: deliveries.latencies(&offers),
            offers_published: offers.len(),
            connections_dialled,
            setup,
            mesh_ready,
            warmup_probes,
            publish_errors,
            timed_out,
        })
    }

    async fn start_nodes(
        &mut self,
        settings: &PropagationSettings,
        topic: &str,
        deadline: Instant,
    ) -> anyhow::Result<()> {
        let config = NetConfig {
            mdns: false,
            // Nobody serves the DHT, so no node finds others through it: the graph stays as dialled.
            dht_mode: DhtMode::Client,
            // No connection may close for idleness while the benchmark runs.
            idle_connection_timeout: settings.deadline + WIND_DOWN,
            ..NetConfig::loopback_for_tests()
        };
        let filter: Arc<dyn InboundFilter> = Arc::new(VerifyingFilter);
        for index in 0..settings.nodes {
            let maker = Keypair::generate_ed25519();
            let started = Network::start(config.clone(), maker.clone(), filter.clone());
            let (client, events) = tokio::time::timeout_at(deadline.into(), started)
                .await
                .context("deadline while starting the nodes")??;
            self.counters.push(tokio::spawn(count_receipts(
                index,
                events,
                topic.to_owned(),
                self.receipts.clone(),
                self.lagged.clone(),
                self.cancel.clone(),
            )));
            let addr = client
                .listen_addrs()
                .await?
                .into_iter()
                .next()
                .context("a node without a listen address")?
                .with(Protocol::P2p(client.local_peer_id()));
            self.nodes.push(BenchNode {
                client,
                maker,
                addr,
            });
        }
        Ok(())
    }

    /// Node `i` dials up to `dials_per_node` distinct random nodes before it, so the graph is
    /// connected and sparse; waits until both ends of every connection see it. Returns the edge count.
    async fn connect(
        &self,
        settings: &PropagationSettings,
        rng: &mut Rng,
        deadline: Instant,
    ) -> anyhow::Result<usize> {
        let mut degree = vec![0usize; self.nodes.len()];
        for (i, node) in self.nodes.iter().enumerate().skip(1) {
            let targets = rng.distinct_below(i, settings.dials_per_node.min(i));
            let dials = targets
                .iter()
                .map(|&j| node.client.dial(self.nodes[j].addr.clone()));
            let results = tokio::time::timeout_at(deadline.into(), join_all(dials))
                .await
                .context("deadline while connecting the nodes")?;
            for (&j, result) in targets.iter().zip(results) {
                result.with_context(|| format!("node {i} dialling node {j}"))?;
                degree[i] += 1;
                degree[j] += 1;
            }
        }
        loop {
            let mut connected = true;
            for (node, &wanted) in self.nodes.iter().zip(&degree) {
                if node.client.connected_peers().await?.len() < wanted {
                    connected = false;
                    break;
                }
            }
            if connected {
                return Ok(degree.iter().sum::<usize>() / 2);
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "deadline while waiting for both ends of every connection"
            );
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// A fresh offer by node `maker`, published on `topic`; `false` when the publish failed.
    async fn publish(
        &self,
        maker: usize,
        topic: &str,
        deliveries: &mut Deliveries,
    ) -> anyhow::Result<(Uuid, bool)> {
        let node = &self.nodes[maker];
        // Signing is the maker's work before publishing: outside the measured time.
        let (id, bytes) = signed_offer_update(&node.maker)?;
        deliveries.expect(id, maker);
        Ok((id, node.client.publish(topic, bytes).await.is_ok()))
    }

    /// Open connections (counted from both ends) and gossip refused, summed over the nodes.
    async fn counters(&self) -> (usize, u64) {
        let read = async {
            let (mut ends, mut refused) = (0, 0);
            for node in &self.nodes {
                if let Ok(stats) = node.client.stats().await {
                    ends += stats.connected_peers;
                    refused += stats.gossip_refused;
                }
            }
            (ends / 2, refused)
        };
        tokio::time::timeout(WIND_DOWN, read)
            .await
            .unwrap_or_default()
    }

    async fn shutdown(self) {
        self.cancel.cancel();
        let stops = join_all(self.nodes.iter().map(|n| n.client.shutdown()));
        if tokio::time::timeout(WIND_DOWN, stops).await.is_err() {
            eprintln!("souk-bench: some nodes did not stop within {WIND_DOWN:?}");
        }
        for counter in self.counters {
            let _ = counter.await;
        }
    }
}

/// One verified offer on one node.
#[derive(Debug)]
struct Receipt {
    node: usize,
    offer: Uuid,
    at: Instant,
}

/// A node's receiving side, as the app layer has it: verifies every gossip on `topic` and reports
/// the valid offers.
async fn count_receipts(
    node: usize,
    mut events: broadcast::Receiver<NetEvent>,
    topic: String,
    receipts: mpsc::UnboundedSender<Receipt>,
    lagged: Arc<AtomicU64>,
    cancel: CancellationToken,
) {
    loop {
        let event = tokio::select! {
            biased;
            () = cancel.cancelled() => return,
            event = events.recv() => event,
        };
        match event {
            Ok(NetEvent::Gossip {
                topic: on, data, ..
            }) if on == topic => {
                if let Ok(offer) = verify_offer_update(&on, &data) {
                    let at = Instant::now();
                    let _ = receipts.send(Receipt { node, offer, at });
                }
            }
            Ok(_) => {}
            Err(broadcast::error::RecvError::Lagged(lost)) => {
                lagged.fetch_add(lost, Ordering::Relaxed);
            }
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}

/// When each offer was published and when each node received it.
struct Deliveries {
    receipts: mpsc::UnboundedReceiver<Receipt>,
    offers: HashMap<Uuid, Delivery>,
}

struct Delivery {
    maker: usize,
    published_at: Instant,
    received: HashMap<usize, Instant>,
}

impl Deliveries {
    fn new(receipts: mpsc::UnboundedReceiver<Receipt>) -> Self {
        Self {
            receipts,
            offers: HashMap::new(),
        }
    }

    /// Called right before `id` is published: its latencies count from now.
    fn expect(&mut self, id: Uuid, maker: usize) {
        self.offers.insert(
            id,
            Delivery {
                maker,
                published_at: Instant::now(),
                received: HashMap::new(),
            },
        );
    }

    fn note(&mut self, receipt: Receipt) {
        if let Some(delivery) = self.offers.get_mut(&receipt.offer)
            && receipt.node != delivery.maker
        {
            delivery.received.entry(receipt.node).or_insert(receipt.at);
        }
    }

    /// `true` once `id` reached `receivers` nodes; `false` at `until`.
    async fn wait_complete(&mut self, id: Uuid, receivers: usize, until: Instant) -> bool {
        loop {
            if self
                .offers
                .get(&id)
                .is_some_and(|d| d.received.len() >= receivers)
            {
                return true;
            }
            match tokio::time::timeout_at(until.into(), self.receipts.recv()).await {
                Ok(Some(receipt)) => self.note(receipt),
                Ok(None) | Err(_) => return false,
            }
        }
    }

    /// Takes in the receipts already queued (late arrivals of earlier offers).
    fn drain(&mut self) {
        while let Ok(receipt) = self.receipts.try_recv() {
            self.note(receipt);
        }
    }

    fn latencies(&self, offers: &[Uuid]) -> Vec<Duration> {
        offers
            .iter()
            .filter_map(|id| self.offers.get(id))
            .flat_map(|d| {
                d.received
                    .values()
                    .map(|at| at.saturating_duration_since(d.published_at))
            })
            .collect()
    }
}

/// xorshift64*: reproducible from `--seed`, and no dependency for a few hundred draws.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        // splitmix64 of the seed: any seed, 0 included, gives a non-zero state.
        let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        Self((z ^ (z >> 31)) | 1)
    }

    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform enough in `0..n` for picking nodes (n is tiny next to 2^64).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    /// `k` distinct values of `0..n` (partial Fisher–Yates).
    pub(crate) fn distinct_below(&mut self, n: usize, k: usize) -> Vec<usize> {
        let mut all: Vec<usize> = (0..n).collect();
        let k = k.min(n);
        for i in 0..k {
            let j = i + self.below(n - i);
            all.swap(i, j);
        }
        all.truncate(k);
        all
    }
}

impl fmt::Display for PropagationReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = |us: f64| us / 1000.0;
        let mib = |kib: u64| kib as f64 / 1024.0;
        writeln!(
            f,
            "propagation: {} nodes, {} offers ({} B each), {} connections dialled ({} open at the end), seed {}",
            self.nodes,
            self.offers,
            self.update_bytes,
            self.connections_dialled,
            self.connections_at_end,
            self.seed
        )?;
        match self.mesh_ready_secs {
            Some(s) => writeln!(
                f,
                "setup {:.2} s; mesh formed after {s:.2} s ({} probes)",
                self.setup_secs, self.warmup_probes
            )?,
            None => writeln!(
                f,
                "setup {:.2} s; mesh NOT confirmed after {} probes (measured anyway)",
                self.setup_secs, self.warmup_probes
            )?,
        }
        writeln!(
            f,
            "{:<22} {:>10} {:>10} {:>10} {:>10} {:>8}",
            "latency (ms)", "p50", "p95", "p99", "max", "samples"
        )?;
        for (name, s) in [
            ("gossip", &self.gossip),
            ("raw TCP baseline", &self.raw_tcp),
        ] {
            writeln!(
                f,
                "{name:<22} {:>10.3} {:>10.3} {:>10.3} {:>10.3} {:>8}",
                ms(s.p50_us),
                ms(s.p95_us),
                ms(s.p99_us),
                ms(s.max_us),
                s.samples
            )?;
        }
        match self.p50_ratio_gossip_to_raw_tcp {
            Some(r) => writeln!(f, "p50 ratio gossip / raw TCP: {r:.1}x")?,
            None => writeln!(f, "p50 ratio gossip / raw TCP: n/a (no samples)")?,
        }
        writeln!(
            f,
            "delivered: {} / {} ({:.2} %){}",
            self.delivered,
            self.expected_deliveries,
            self.delivered_fraction * 100.0,
            if self.timed_out {
                " -- stopped by the deadline"
            } else {
                ""
            }
        )?;
        if self.gossip_refused + self.events_lagged > 0 || self.publish_errors > 0 {
            writeln!(
                f,
                "anomalies: {} gossip refused, {} events lagged, {} publish errors",
                self.gossip_refused, self.events_lagged, self.publish_errors
            )?;
        }
        let m = &self.memory;
        match (m.after_run.peak_rss_kib, m.before_nodes.rss_kib) {
            (Some(peak), Some(before)) => writeln!(
                f,
                "memory: peak RSS {:.1} MiB (VmHWM); {:.2} MiB per node (VmHWM / {}); {:.2} MiB per node above the {:.1} MiB before the nodes",
                mib(peak),
                self.memory.peak_rss_per_node_kib.unwrap_or(0.0) / 1024.0,
                self.nodes,
                self.memory.growth_per_node_kib.unwrap_or(0.0) / 1024.0,
                mib(before)
            ),
            _ => writeln!(f, "memory: not available (no /proc/self/status)"),
        }
    }
}
