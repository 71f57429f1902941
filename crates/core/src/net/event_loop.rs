//! The one task that owns the `Swarm`. It routes: commands in, swarm events out, inbound data through
//! the [`InboundFilter`] and the per-peer [`Quotas`]. It must never await anything slow (database,
//! disk, another actor's reply) inside an arm: that would stall every connection of the node.
//!
//! The children hold the handling per protocol: [`kad`] (the DHT), [`gossip`], [`direct`] (direct
//! requests), [`connections`] (connections, dialing, identify, mDNS, AutoNAT, relays) and
//! [`commands`] (what the [`super::NetClient`] asks). This file holds the loop, its state and the
//! dispatch of behaviour events.

mod commands;
mod connections;
mod direct;
mod gossip;
mod kad;

use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
    time::{Duration, Instant},
};

use futures::StreamExt;
use libp2p::{
    Multiaddr, PeerId, Swarm, autonat, identify,
    kad::{QueryId, Record, store::MemoryStore},
    mdns,
    multiaddr::Protocol,
    request_response::{InboundRequestId, OutboundRequestId, ResponseChannel},
    swarm::{ConnectionId, SwarmEvent},
};
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;

use super::{
    InboundFilter, NetError, NetEvent, NetStats, Reachability,
    behaviour::{Behaviour, BehaviourEvent},
    direct::{DirectResponse, InboundId, PendingInbound},
    quota::Quotas,
};
use kad::still_stored;

/// How often expired records are dropped and quotas re-counted.
const HOUSEKEEPING_INTERVAL: Duration = Duration::from_secs(60);

type Reply<T> = oneshot::Sender<Result<T, NetError>>;

/// A provider lookup under way: who it found so far, where to send each new one, and the answer.
struct PendingProviders {
    found: HashSet<PeerId>,
    progress: Option<mpsc::UnboundedSender<PeerId>>,
    reply: Reply<HashSet<PeerId>>,
}

/// What the rest of the app can ask of the network task.
pub(crate) enum Command {
    ListenAddrs(Reply<Vec<Multiaddr>>),
    Dial(Multiaddr, Reply<PeerId>),
    Bootstrap(Reply<()>),
    PutRecord {
        key: Vec<u8>,
        value: Vec<u8>,
        ttl: Duration,
        reply: Reply<usize>,
    },
    GetRecord(Vec<u8>, Reply<Option<Vec<u8>>>),
    LocalRecord(Vec<u8>, Reply<Option<Vec<u8>>>),
    /// The providers of a key this node's own store holds (no lookup).
    LocalProviders(Vec<u8>, Reply<Vec<PeerId>>),
    StartProviding(Vec<u8>, Reply<()>),
    StopProviding(Vec<u8>, Reply<()>),
    /// Providers of a key; each one is also sent on the channel, when given, as the lookup meets it.
    GetProviders(
        Vec<u8>,
        Option<mpsc::UnboundedSender<PeerId>>,
        Reply<HashSet<PeerId>>,
    ),
    FindPeer(PeerId, Reply<bool>),
    /// What these peers announced about their addresses, in the same order.
    Announced(Vec<PeerId>, Reply<Vec<Vec<Multiaddr>>>),
    /// Ask the DHT for a peer's addresses (at most once a minute per peer), without dialling it.
    LookUp(PeerId, Reply<()>),
    Subscribe(String, Reply<bool>),
    Unsubscribe(String, Reply<bool>),
    Publish(String, Vec<u8>, Reply<usize>),
    ConnectedPeers(Reply<Vec<PeerId>>),
    Stats(Reply<NetStats>),
    Reachability(Reply<Reachability>),
    Request {
        peer: PeerId,
        data: Vec<u8>,
        reply: Reply<Vec<u8>>,
    },
    Respond {
        id: InboundId,
        data: Vec<u8>,
        reply: Reply<()>,
    },
}

pub(crate) struct EventLoop {
    swarm: Swarm<Behaviour>,
    commands: mpsc::Receiver<Command>,
    events: broadcast::Sender<NetEvent>,
    cancel: CancellationToken,
    filter: Arc<dyn InboundFilter>,
    quotas: Quotas,
    /// Running counters; the live parts of [`NetStats`] are filled in on request.
    counters: NetStats,
    local_peer_id: PeerId,
    allow_loopback_peers: bool,
    auto_dht_mode: bool,
    max_value_bytes: usize,
    max_gossip_bytes: usize,
    pending_dial: HashMap<ConnectionId, (Multiaddr, Reply<PeerId>)>,
    /// Dials asked for while another dial to the same peer was under way: they wait for that one
    /// (a second connection to a peer is never opened on purpose; see `EventLoop::dial`).
    dial_waiters: HashMap<PeerId, Vec<(Multiaddr, Reply<PeerId>)>>,
    /// How long the search of a query that publishes (a record, a provider announcement) may run
    /// before it is cut and what it found gets the record (`EventLoop::cut_long_searches`).
    search_limit: Duration,
    /// Our records stored here, whose closest peers are being searched for (`EventLoop::put_record`).
    pending_put_search: HashMap<QueryId, (Record, Reply<usize>)>,
    /// Our puts being sent to the closest peers found: to how many, and the answer.
    pending_put: HashMap<QueryId, (usize, Reply<usize>)>,
    pending_get: HashMap<QueryId, Reply<Option<Vec<u8>>>>,
    pending_providing: HashMap<QueryId, Reply<()>>,
    pending_providers: HashMap<QueryId, PendingProviders>,
    pending_bootstrap: HashMap<QueryId, Reply<()>>,
    pending_find: HashMap<QueryId, (PeerId, Reply<bool>)>,
    max_request_bytes: usize,
    max_response_bytes: usize,
    /// Our direct requests waiting for an answer. libp2p always ends each one (answer, failure or
    /// timeout), so this cannot grow without bound.
    pending_requests: HashMap<OutboundRequestId, (Instant, Reply<Vec<u8>>)>,
    /// Inbound direct requests waiting for the application's answer.
    pending_inbound: PendingInbound<InboundRequestId, ResponseChannel<DirectResponse>>,
    /// Relayed (`/p2p-circuit`) addresses to listen on: each through its relay, once connected to
    /// it, and again after its listener closes (the relay restarted, the reservation lapsed).
    circuits: Vec<Circuit>,
    /// Behind a NAT, how many relays to pick by itself (0: none).
    auto_relays: usize,
    /// AutoNAT's verdict is "private": others cannot dial this node's own addresses.
    private: bool,
    /// Peers that offer the relay service (identify lists the hop protocol). A relay is asked only
    /// at the address this node dialled it at (`reached_at`).
    relay_offers: HashSet<PeerId>,
    /// The address each peer was reached at over a connection this node dialled (not relayed).
    reached_at: HashMap<PeerId, Multiaddr>,
    /// Relay offers that are bridges: they announce an onion address and a clearnet one.
    bridge_offers: HashSet<PeerId>,
    /// Tor mode (or a bridge's onion side): what keeps tor running.
    tor: Option<Arc<crate::net::tor::Tor>>,
    /// This node is a bridge: clearnet, and onions through its tor.
    bridge: bool,
    /// The addresses peers announced (identify, DHT lookups), whether this node can use them or not.
    announced: crate::net::reach::Announced,
}

pub(crate) struct Circuit {
    pub(crate) relay: PeerId,
    pub(crate) addr: Multiaddr,
    pub(crate) listener: Option<libp2p::core::transport::ListenerId>,
    /// Picked by this node behind a NAT, not named in its config.
    pub(crate) automatic: bool,
}

pub(crate) struct LoopSettings {
    pub(crate) allow_loopback_peers: bool,
    pub(crate) auto_dht_mode: bool,
    pub(crate) max_value_bytes: usize,
    pub(crate) max_gossip_bytes: usize,
    pub(crate) max_records_per_peer: usize,
    pub(crate) max_bytes_per_peer: usize,
    pub(crate) max_request_bytes: usize,
    pub(crate) max_response_bytes: usize,
    pub(crate) max_pending_requests: usize,
    pub(crate) max_pending_requests_per_peer: usize,
    pub(crate) auto_relays: usize,
    pub(crate) tor: Option<Arc<crate::net::tor::Tor>>,
    pub(crate) bridge: bool,
    pub(crate) query_timeout: Duration,
}

impl EventLoop {
    pub(crate) fn new(
        swarm: Swarm<Behaviour>,
        commands: mpsc::Receiver<Command>,
        events: broadcast::Sender<NetEvent>,
        cancel: CancellationToken,
        filter: Arc<dyn InboundFilter>,
        settings: LoopSettings,
    ) -> Self {
        let local_peer_id = *swarm.local_peer_id();
        Self {
            swarm,
            commands,
            events,
            cancel,
            filter,
            quotas: Quotas::new(settings.max_records_per_peer, settings.max_bytes_per_peer),
            counters: NetStats::default(),
            local_peer_id,
            allow_loopback_peers: settings.allow_loopback_peers,
            auto_dht_mode: settings.auto_dht_mode,
            max_value_bytes: settings.max_value_bytes,
            max_gossip_bytes: settings.max_gossip_bytes,
            pending_dial: HashMap::new(),
            dial_waiters: HashMap::new(),
            search_limit: settings.query_timeout * 2 / 3,
            pending_put_search: HashMap::new(),
            pending_put: HashMap::new(),
            pending_get: HashMap::new(),
            pending_providing: HashMap::new(),
            pending_providers: HashMap::new(),
            pending_bootstrap: HashMap::new(),
            pending_find: HashMap::new(),
            max_request_bytes: settings.max_request_bytes,
            max_response_bytes: settings.max_response_bytes,
            pending_requests: HashMap::new(),
            pending_inbound: PendingInbound::new(
                settings.max_pending_requests,
                settings.max_pending_requests_per_peer,
            ),
            circuits: Vec::new(),
            auto_relays: settings.auto_relays,
            private: false,
            relay_offers: HashSet::new(),
            reached_at: HashMap::new(),
            bridge_offers: HashSet::new(),
            tor: settings.tor,
            bridge: settings.bridge,
            announced: crate::net::reach::Announced::default(),
        }
    }

    /// Tor mode: the only addresses this node uses and tells are onion addresses.
    pub(crate) fn onion_only(&self) -> bool {
        self.tor.is_some() && !self.bridge
    }

    pub(crate) fn swarm_mut(&mut self) -> &mut Swarm<Behaviour> {
        &mut self.swarm
    }

    /// Drive the swarm until every listener in `waiting` reported an address, so that
    /// `listen_addrs()` is meaningful as soon as `Network::start` returns.
    pub(crate) async fn wait_listening(
        &mut self,
        mut waiting: HashMap<libp2p::core::transport::ListenerId, Multiaddr>,
        deadline: Duration,
    ) -> Result<(), NetError> {
        let until = tokio::time::Instant::now() + deadline;
        while !waiting.is_empty() {
            let event = tokio::time::timeout_at(until, self.swarm.select_next_some())
                .await
                .map_err(|_| NetError::Listen {
                    addr: waiting
                        .values()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", "),
                    reason: "no listen address reported in time".into(),
                })?;
            match &event {
                SwarmEvent::NewListenAddr { listener_id, .. } => {
                    waiting.remove(listener_id);
                }
                SwarmEvent::ListenerClosed {
                    listener_id,
                    reason: Err(e),
                    ..
                } => {
                    if let Some(addr) = waiting.remove(listener_id) {
                        return Err(NetError::Listen {
                            addr: addr.to_string(),
                            reason: e.to_string(),
                        });
                    }
                }
                SwarmEvent::ListenerError { listener_id, error } => {
                    if let Some(addr) = waiting.remove(listener_id) {
                        return Err(NetError::Listen {
                            addr: addr.to_string(),
                            reason: error.to_string(),
                        });
                    }
                }
                _ => {}
            }
            self.on_swarm_event(event);
        }
        Ok(())
    }

    /// Run until cancelled or every `NetClient` is gone. Dropping `_done` tells `shutdown()` we ended.
    pub(crate) async fn run(mut self, _done: watch::Sender<()>) {
        let mut housekeeping = tokio::time::interval(HOUSEKEEPING_INTERVAL);
        housekeeping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut search_watch = tokio::time::interval(
            (self.search_limit / 8).clamp(Duration::from_millis(10), Duration::from_secs(1)),
        );
        search_watch.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                biased;
                () = self.cancel.cancelled() => break,
                event = self.swarm.select_next_some() => self.on_swarm_event(event),
                command = self.commands.recv() => match command {
                    Some(command) => self.on_command(command),
                    None => break,
                },
                _ = housekeeping.tick() => self.housekeeping(),
                _ = search_watch.tick() => self.cut_long_searches(),
            }
        }
        tracing::debug!(peer = %self.local_peer_id, "network task stopped");
    }

    fn emit(&self, event: NetEvent) {
        // No subscriber is not an error: events are advisory.
        let _ = self.events.send(event);
    }

    fn refuse(&self, from: PeerId, reason: String) {
        tracing::debug!(%from, %reason, "refused inbound data");
        self.emit(NetEvent::Refused { from, reason });
    }

    fn kad(&mut self) -> &mut libp2p::kad::Behaviour<MemoryStore> {
        &mut self.swarm.behaviour_mut().kad
    }

    fn housekeeping(&mut self) {
        let now = Instant::now();
        let Self { swarm, quotas, .. } = self;
        let store = swarm.behaviour_mut().kad.store_mut();
        store.retain(|_, r| !r.is_expired(now));
        quotas.reconcile(None, |peer, entry| still_stored(store, peer, entry, now));
        // libp2p reports every expiry as an `InboundFailure`; this only guards against a missed one.
        for (id, peer) in self.pending_inbound.retain_open(ResponseChannel::is_open) {
            self.emit(NetEvent::RequestExpired {
                peer,
                id: InboundId(id),
                reason: "closed without a failure report".into(),
            });
        }
    }

    pub(crate) fn set_circuits(&mut self, circuits: Vec<Circuit>) {
        self.circuits = circuits;
    }

    fn on_behaviour_event(&mut self, event: BehaviourEvent) {
        match event {
            BehaviourEvent::Kad(event) => self.on_kad_event(event),
            BehaviourEvent::Gossipsub(event) => self.on_gossip_event(event),
            BehaviourEvent::Direct(event) => self.on_direct_event(event),
            BehaviourEvent::Identify(identify::Event::Received { peer_id, info, .. }) => {
                self.on_identified(peer_id, info);
            }
            BehaviourEvent::Mdns(mdns::Event::Discovered(found)) => self.on_lan_peers(found),
            BehaviourEvent::Autonat(autonat::Event::StatusChanged { old, new }) => {
                self.on_nat_status(old, new);
            }
            BehaviourEvent::Dcutr(event) => match event.result {
                Ok(connection) => {
                    tracing::info!(peer = %event.remote_peer_id, ?connection, "hole punch: a direct connection")
                }
                Err(e) => {
                    tracing::info!(peer = %event.remote_peer_id, error = %e, "hole punch failed: the connection stays relayed")
                }
            },
            other => tracing::trace!(event = ?other, "behaviour event"),
        }
    }
}

/// The peer id an address ends with (`/p2p/<id>`), if any.
pub(crate) fn peer_id_of(addr: &Multiaddr) -> Option<PeerId> {
    match addr.iter().last() {
        Some(Protocol::P2p(peer)) => Some(peer),
        _ => None,
    }
}

/// First bytes of a key in hex, enough to tell records apart in logs.
fn short_hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(17);
    for b in bytes.iter().take(8) {
        let _ = write!(s, "{b:02x}");
    }
    if bytes.len() > 8 {
        s.push('…');
    }
    s
}
