//! The nodes one process holds, and the operations the DHT benchmark drives them with. The same
//! operations run in the benchmark's own process (one process) or in a worker process reached over
//! its stdin and stdout (`worker`). Every latency is measured here, next to the node, so the pipe
//! between the processes is never part of a figure.
//!
//! Nodes are named by their index in the whole network; a host holds only some of them.

use std::{
    collections::BTreeMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use futures::future::join_all;
use libp2p::{Multiaddr, PeerId, identity::Keypair, multiaddr::Protocol};
use serde::{Deserialize, Serialize};
use souk_core::net::{DhtMode, InboundFilter, NetClient, NetConfig, NetEvent, Network};
use tokio::{sync::broadcast, task::JoinHandle};

use super::Transport;
use crate::{market::VerifyingFilter, memory::MemoryReading};

/// How often the open files of the process are counted for their peak. Reading `/proc/self/fd` of
/// a worker with 3,000 sockets every 500 ms took 5 % of its CPU (perf, 1,000 nodes in 20 workers).
const OPEN_FILES_POLL: Duration = Duration::from_secs(5);

/// What the benchmark asks of a host.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    /// Start node `node`, joining through `bootstrap` (none for the first node of the network).
    Start {
        node: usize,
        bootstrap: Option<String>,
        transport: Transport,
        idle_connection_ms: u64,
        /// Seconds between the node's routine Kademlia bootstraps; absent: none.
        kad_bootstrap_secs: Option<u64>,
    },
    /// Every node's routing table and connections, and the process's memory and open files.
    Stats,
    /// Store a fresh signed offer of `node`'s as a record.
    PutOffer {
        node: usize,
    },
    /// Announce `node` as a provider of `key`.
    Provide {
        node: usize,
        key: Vec<u8>,
    },
    /// Whether `node` holds the record `key` itself (it would answer a lookup from its own store).
    HoldsRecord {
        node: usize,
        key: Vec<u8>,
    },
    /// Which of these records and provider keys each node of this process holds in its own store.
    Holdings {
        records: Vec<Vec<u8>>,
        providers: Vec<Vec<u8>>,
    },
    GetRecord {
        node: usize,
        key: Vec<u8>,
    },
    /// Every provider of `key`, then the first provider alone as a fresh search.
    GetProviders {
        node: usize,
        key: Vec<u8>,
    },
    /// `count` request–answers from `node` to the node at `peer` on one open connection.
    Baseline {
        node: usize,
        peer: String,
        count: usize,
    },
    /// Stop every node.
    Shutdown,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reply {
    /// The node's address, with its peer id.
    Started {
        addr: String,
    },
    Stats(HostStats),
    /// The key of the stored record (none when no peer confirmed it), and how long the put took.
    Put {
        key: Option<Vec<u8>>,
        /// Peers that stored it.
        stored_on: usize,
        took_us: u64,
    },
    /// How long announcing a provider took.
    Provided {
        took_us: u64,
    },
    Done,
    Holds(bool),
    Holdings(Vec<NodeHoldings>),
    Lookup(Lookup),
    /// Round trips, in µs.
    Samples(Vec<u64>),
}

/// One lookup, measured next to the node that ran it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Lookup {
    pub found: bool,
    pub took_us: u64,
    /// Requests the lookup had sent by the time it answered.
    pub requests: u64,
    /// Provider lookups: how long a fresh search took to its first provider (none: it met none).
    pub first_provider_us: Option<u64>,
}

/// What one node holds of the keys asked about, in their order.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NodeHoldings {
    pub node: usize,
    pub peer: String,
    pub records: Vec<bool>,
    /// Some provider of the key (this node itself, when it is one).
    pub providers: Vec<bool>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct HostStats {
    pub nodes: Vec<NodeStats>,
    pub rss_kib: Option<u64>,
    pub peak_rss_kib: Option<u64>,
    pub open_files: Option<usize>,
    /// The most open files seen at once since the host started (counted every 5 s and at each poll).
    pub peak_open_files: Option<usize>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NodeStats {
    pub node: usize,
    pub routing_table: usize,
    pub connected_peers: usize,
}

#[derive(Clone)]
struct HostedNode {
    client: NetClient,
    keypair: Keypair,
}

pub struct Host {
    filter: Arc<dyn InboundFilter>,
    nodes: Mutex<BTreeMap<usize, HostedNode>>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    peak_open_files: Arc<AtomicUsize>,
}

impl Host {
    /// Must run inside a Tokio runtime: the open-files sampler starts here.
    pub fn new() -> Self {
        let peak_open_files = Arc::new(AtomicUsize::new(0));
        let sampler = tokio::spawn(sample_open_files(peak_open_files.clone()));
        Self {
            filter: Arc::new(VerifyingFilter),
            nodes: Mutex::new(BTreeMap::new()),
            tasks: Mutex::new(vec![sampler]),
            peak_open_files,
        }
    }

    /// Runs one operation; the error is a sentence (it crosses the pipe as text).
    pub async fn handle(&self, op: Op) -> Result<Reply, String> {
        match op {
            Op::Start {
                node,
                bootstrap,
                transport,
                idle_connection_ms,
                kad_bootstrap_secs,
            } => {
                let bootstrap = match bootstrap {
                    Some(addr) => vec![addr.parse().map_err(|e| format!("{addr}: {e}"))?],
                    None => Vec::new(),
                };
                let mut config = config(transport, bootstrap);
                config.idle_connection_timeout = Duration::from_millis(idle_connection_ms);
                config.kad_bootstrap_interval = kad_bootstrap_secs.map(Duration::from_secs);
                self.start(node, config).await.map(|addr| Reply::Started {
                    addr: addr.to_string(),
                })
            }
            Op::Stats => Ok(Reply::Stats(self.stats().await)),
            Op::PutOffer { node } => {
                let node = self.node(node)?;
                let (key, value) = signed_record(&node.keypair).map_err(|e| format!("{e:#}"))?;
                let started = Instant::now();
                let stored_on = node
                    .client
                    .put_record(key.clone(), value, Duration::from_secs(3600))
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(Reply::Put {
                    key: (stored_on > 0).then_some(key),
                    stored_on,
                    took_us: micros(started.elapsed()),
                })
            }
            Op::Provide { node, key } => {
                let node = self.node(node)?;
                let started = Instant::now();
                node.client
                    .start_providing(key)
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(Reply::Provided {
                    took_us: micros(started.elapsed()),
                })
            }
            Op::HoldsRecord { node, key } => {
                let node = self.node(node)?;
                let held = node.client.local_record(key).await;
                Ok(Reply::Holds(matches!(held, Ok(Some(_)))))
            }
            Op::Holdings { records, providers } => {
                let nodes = self.clients();
                let mut holdings = Vec::with_capacity(nodes.len());
                for (node, client) in nodes {
                    let mut held = NodeHoldings {
                        node,
                        peer: client.local_peer_id().to_string(),
                        records: Vec::with_capacity(records.len()),
                        providers: Vec::with_capacity(providers.len()),
                    };
                    for key in &records {
                        let record = client.local_record(key.clone()).await;
                        held.records.push(matches!(record, Ok(Some(_))));
                    }
                    for key in &providers {
                        let found = client.local_providers(key.clone()).await;
                        held.providers.push(found.is_ok_and(|p| !p.is_empty()));
                    }
                    holdings.push(held);
                }
                Ok(Reply::Holdings(holdings))
            }
            Op::GetRecord { node, key } => {
                let client = self.node(node)?.client;
                let before = lookup_counters(&client).await;
                let started = Instant::now();
                let result = client.get_record(key).await;
                let took = started.elapsed();
                let after = lookup_counters(&client).await;
                let found = result.map_err(|e| e.to_string())?;
                Ok(Reply::Lookup(Lookup {
                    found: found.is_some(),
                    took_us: micros(took),
                    requests: after.1.saturating_sub(before.1),
                    first_provider_us: None,
                }))
            }
            Op::GetProviders { node, key } => {
                let client = self.node(node)?.client;
                self.get_providers(&client, key).await.map(Reply::Lookup)
            }
            Op::Baseline { node, peer, count } => {
                let client = self.node(node)?.client;
                let peer: Multiaddr = peer.parse().map_err(|e| format!("{peer}: {e}"))?;
                Ok(Reply::Samples(baseline(&client, peer, count).await))
            }
            Op::Shutdown => {
                let nodes: Vec<HostedNode> = self.lock_nodes().values().cloned().collect();
                for chunk in nodes.chunks(64) {
                    join_all(chunk.iter().map(|n| n.client.shutdown())).await;
                }
                let tasks =
                    std::mem::take(&mut *self.tasks.lock().unwrap_or_else(|e| e.into_inner()));
                for task in tasks {
                    task.abort();
                }
                Ok(Reply::Done)
            }
        }
    }

    async fn start(&self, index: usize, config: NetConfig) -> Result<Multiaddr, String> {
        let keypair = Keypair::generate_ed25519();
        let (client, events) = Network::start(config, keypair.clone(), self.filter.clone())
            .await
            .map_err(|e| e.to_string())?;
        let addr = client
            .listen_addrs()
            .await
            .map_err(|e| e.to_string())?
            .into_iter()
            .next()
            .ok_or("a node without a listen address")?
            .with(Protocol::P2p(client.local_peer_id()));
        // Something must take the network's events, or its direct requests go unanswered.
        let answering = tokio::spawn(answer_requests(client.clone(), events));
        self.tasks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(answering);
        self.lock_nodes()
            .insert(index, HostedNode { client, keypair });
        Ok(addr)
    }

    async fn stats(&self) -> HostStats {
        let nodes = self.clients();
        let mut stats = Vec::with_capacity(nodes.len());
        for (node, client) in nodes {
            let s = client.stats().await.ok();
            stats.push(NodeStats {
                node,
                routing_table: s.as_ref().map_or(0, |s| s.routing_table_size),
                connected_peers: s.as_ref().map_or(0, |s| s.connected_peers),
            });
        }
        let memory = MemoryReading::now();
        let open_files = open_files();
        if let Some(now) = open_files {
            self.peak_open_files.fetch_max(now, Ordering::Relaxed);
        }
        HostStats {
            nodes: stats,
            rss_kib: memory.rss_kib,
            peak_rss_kib: memory.peak_rss_kib,
            open_files,
            peak_open_files: open_files.map(|_| self.peak_open_files.load(Ordering::Relaxed)),
        }
    }

    /// Every provider (the whole query, as the market's `get_providers` waits for), then the first
    /// provider alone as a fresh search (the local cache of providers is none: a node keeps only what
    /// it announces and what is announced to it).
    async fn get_providers(&self, client: &NetClient, key: Vec<u8>) -> Result<Lookup, String> {
        let before = lookup_counters(client).await;
        let started = Instant::now();
        let result = client.get_providers(key.clone()).await;
        let took = started.elapsed();
        let after = lookup_counters(client).await;
        let found = result.map_err(|e| e.to_string())?;
        let (found_tx, mut found_rx) = tokio::sync::mpsc::unbounded_channel::<PeerId>();
        let started = Instant::now();
        let search = client.get_providers_as_found(key, found_tx);
        let first = tokio::select! {
            Some(_) = found_rx.recv() => Some(micros(started.elapsed())),
            _ = search => None,
        };
        Ok(Lookup {
            found: !found.is_empty(),
            took_us: micros(took),
            requests: after.1.saturating_sub(before.1),
            first_provider_us: first,
        })
    }

    fn node(&self, index: usize) -> Result<HostedNode, String> {
        self.lock_nodes()
            .get(&index)
            .cloned()
            .ok_or_else(|| format!("node {index} is not hosted here"))
    }

    /// Each hosted node's index and client, taken out of the lock (they are asked things after).
    fn clients(&self) -> Vec<(usize, NetClient)> {
        self.lock_nodes()
            .iter()
            .map(|(&i, n)| (i, n.client.clone()))
            .collect()
    }

    fn lock_nodes(&self) -> std::sync::MutexGuard<'_, BTreeMap<usize, HostedNode>> {
        self.nodes.lock().unwrap_or_else(|e| e.into_inner())
    }
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

/// The node's lookup counters: (lookups answered, requests they sent).
async fn lookup_counters(client: &NetClient) -> (u64, u64) {
    client
        .stats()
        .await
        .map_or((0, 0), |s| (s.dht_lookups, s.dht_lookup_requests))
}

/// `count` request–answers to `peer` on an open connection, in µs (none when it cannot be dialled).
async fn baseline(client: &NetClient, peer: Multiaddr, count: usize) -> Vec<u64> {
    let Some(Protocol::P2p(peer_id)) = peer.iter().last() else {
        return Vec::new();
    };
    if client.dial(peer).await.is_err() {
        return Vec::new();
    }
    let _ = client.request(peer_id, b"warm".to_vec()).await;
    let mut samples = Vec::with_capacity(count);
    for _ in 0..count {
        let started = Instant::now();
        if client.request(peer_id, b"ping".to_vec()).await.is_ok() {
            samples.push(micros(started.elapsed()));
        }
    }
    samples
}

/// Keeps the most open files this process had at once.
async fn sample_open_files(peak: Arc<AtomicUsize>) {
    loop {
        if let Some(now) = open_files() {
            peak.fetch_max(now, Ordering::Relaxed);
        }
        tokio::time::sleep(OPEN_FILES_POLL).await;
    }
}

/// Open file descriptors of this process (Linux: `/proc/self/fd`; elsewhere none).
fn open_files() -> Option<usize> {
    std::fs::read_dir("/proc/self/fd")
        .ok()
        .map(|entries| entries.count())
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}
