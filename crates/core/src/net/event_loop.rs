//! The one task that owns the `Swarm`. It routes: commands in, swarm events out, inbound data through
//! the [`InboundFilter`] and the per-peer [`Quotas`]. It must never await anything slow (database,
//! disk, another actor's reply) inside an arm: that would stall every connection of the node.

use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
    time::{Duration, Instant},
};

use futures::StreamExt;
use libp2p::{
    Multiaddr, PeerId, Swarm, autonat, gossipsub, identify,
    kad::{
        self, GetProvidersOk, GetRecordOk, InboundRequest, PutRecordError, QueryId, QueryResult,
        Quorum, Record, RecordKey, store::RecordStore,
    },
    mdns,
    multiaddr::Protocol,
    request_response::{self, InboundRequestId, OutboundRequestId, ResponseChannel},
    swarm::{
        ConnectionId, SwarmEvent,
        dial_opts::{DialOpts, PeerCondition},
    },
};
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;

use super::{
    InboundFilter, NatStatus, NetError, NetEvent, NetStats, Reachability, RelayCircuit,
    behaviour::{Behaviour, BehaviourEvent, KAD_PROTOCOL},
    direct::{DirectResponse, InboundId, PendingInbound, outbound_error},
    quota::{Entry, Quotas},
};

/// How often expired records are dropped and quotas re-counted.
const HOUSEKEEPING_INTERVAL: Duration = Duration::from_secs(60);

type Reply<T> = oneshot::Sender<Result<T, NetError>>;

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
    StartProviding(Vec<u8>, Reply<()>),
    StopProviding(Vec<u8>, Reply<()>),
    GetProviders(Vec<u8>, Reply<HashSet<PeerId>>),
    FindPeer(PeerId, Reply<bool>),
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
    pending_put: HashMap<QueryId, Reply<usize>>,
    pending_get: HashMap<QueryId, Reply<Option<Vec<u8>>>>,
    pending_providing: HashMap<QueryId, Reply<()>>,
    pending_providers: HashMap<QueryId, (HashSet<PeerId>, Reply<HashSet<PeerId>>)>,
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
}

pub(crate) struct Circuit {
    pub(crate) relay: PeerId,
    pub(crate) addr: Multiaddr,
    pub(crate) listener: Option<libp2p::core::transport::ListenerId>,
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
        }
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

    fn kad(&mut self) -> &mut kad::Behaviour<kad::store::MemoryStore> {
        &mut self.swarm.behaviour_mut().kad
    }

    // ---------------------------------------------------------------- commands

    fn on_command(&mut self, command: Command) {
        match command {
            Command::ListenAddrs(reply) => {
                let _ = reply.send(Ok(self.swarm.listeners().cloned().collect()));
            }
            Command::Dial(addr, reply) => self.dial(addr, reply),
            Command::Bootstrap(reply) => match self.kad().bootstrap() {
                Ok(id) => {
                    self.pending_bootstrap.insert(id, reply);
                }
                Err(_) => {
                    let _ = reply.send(Err(NetError::NoKnownPeers));
                }
            },
            Command::PutRecord {
                key,
                value,
                ttl,
                reply,
            } => self.put_record(key, value, ttl, reply),
            Command::GetRecord(key, reply) => self.get_record(key, reply),
            Command::LocalRecord(key, reply) => {
                let key = RecordKey::from(key);
                let value = self.accepted_local_record(&key).map(|r| r.value);
                let _ = reply.send(Ok(value));
            }
            Command::StartProviding(key, reply) => {
                match self.kad().start_providing(RecordKey::from(key)) {
                    Ok(id) => {
                        self.pending_providing.insert(id, reply);
                    }
                    Err(_) => {
                        let _ = reply.send(Err(NetError::StoreFull));
                    }
                }
            }
            Command::StopProviding(key, reply) => {
                self.kad().stop_providing(&RecordKey::from(key));
                let _ = reply.send(Ok(()));
            }
            Command::GetProviders(key, reply) => {
                let id = self.kad().get_providers(RecordKey::from(key));
                self.pending_providers.insert(id, (HashSet::new(), reply));
            }
            Command::FindPeer(peer, reply) => {
                if self.swarm.is_connected(&peer) {
                    let _ = reply.send(Ok(true));
                } else {
                    let id = self.kad().get_closest_peers(peer);
                    self.pending_find.insert(id, (peer, reply));
                }
            }
            Command::Subscribe(topic, reply) => {
                let result = gossip_topic(&topic).and_then(|t| {
                    let gossipsub = &mut self.swarm.behaviour_mut().gossipsub;
                    gossipsub
                        .set_topic_params(t.clone(), super::behaviour::gossip_topic_score_params())
                        .map_err(|e| NetError::Internal(format!("scoring {topic}: {e}")))?;
                    gossipsub
                        .subscribe(&t)
                        .map_err(|e| NetError::Internal(format!("subscribe to {topic}: {e}")))
                });
                let _ = reply.send(result);
            }
            Command::Unsubscribe(topic, reply) => {
                let result = gossip_topic(&topic)
                    .map(|t| self.swarm.behaviour_mut().gossipsub.unsubscribe(&t));
                let _ = reply.send(result);
            }
            Command::Publish(topic, data, reply) => {
                let _ = reply.send(self.publish(&topic, data));
            }
            Command::ConnectedPeers(reply) => {
                let _ = reply.send(Ok(self.swarm.connected_peers().copied().collect()));
            }
            Command::Stats(reply) => {
                let _ = reply.send(Ok(self.stats()));
            }
            Command::Reachability(reply) => {
                let _ = reply.send(Ok(self.reachability()));
            }
            Command::Request { peer, data, reply } => self.send_request(peer, data, reply),
            Command::Respond { id, data, reply } => {
                let _ = reply.send(self.respond(id, data));
            }
        }
    }

    fn send_request(&mut self, peer: PeerId, data: Vec<u8>, reply: Reply<Vec<u8>>) {
        if data.len() > self.max_request_bytes {
            let _ = reply.send(Err(NetError::RequestTooLarge {
                size: data.len(),
                max: self.max_request_bytes,
            }));
            return;
        }
        if peer == self.local_peer_id {
            let _ = reply.send(Err(NetError::RequestFailed {
                peer,
                reason: "a node cannot send a request to itself".into(),
            }));
            return;
        }
        // Dials when not connected, with the addresses every behaviour (Kademlia, mDNS) knows.
        let id = self.swarm.behaviour_mut().direct.send_request(&peer, data);
        self.counters.requests_sent += 1;
        self.pending_requests.insert(id, (Instant::now(), reply));
    }

    fn respond(&mut self, id: InboundId, data: Vec<u8>) -> Result<(), NetError> {
        if data.len() > self.max_response_bytes {
            return Err(NetError::AnswerTooLarge {
                size: data.len(),
                max: self.max_response_bytes,
            });
        }
        let (peer, channel) = self
            .pending_inbound
            .take(&id.0)
            .ok_or(NetError::UnknownRequest { id })?;
        match self
            .swarm
            .behaviour_mut()
            .direct
            .send_response(channel, DirectResponse::Answer(data))
        {
            Ok(()) => {
                self.counters.requests_answered += 1;
                tracing::debug!(%peer, %id, "answered direct request");
                Ok(())
            }
            // Timed out or disconnected a moment ago; libp2p's failure event follows.
            Err(_) => Err(NetError::RequestClosed { id }),
        }
    }

    fn dial(&mut self, addr: Multiaddr, reply: Reply<PeerId>) {
        if let Some(peer) = peer_id_of(&addr)
            && self.swarm.is_connected(&peer)
        {
            let _ = reply.send(Ok(peer));
            return;
        }
        let opts = DialOpts::from(addr.clone());
        let connection_id = opts.connection_id();
        match self.swarm.dial(opts) {
            Ok(()) => {
                self.pending_dial.insert(connection_id, (addr, reply));
            }
            Err(e) => {
                let _ = reply.send(Err(NetError::Dial {
                    addr: addr.to_string(),
                    reason: e.to_string(),
                }));
            }
        }
    }

    fn put_record(&mut self, key: Vec<u8>, value: Vec<u8>, ttl: Duration, reply: Reply<usize>) {
        if value.len() > self.max_value_bytes {
            let _ = reply.send(Err(NetError::RecordTooLarge {
                size: value.len(),
                max: self.max_value_bytes,
            }));
            return;
        }
        let mut record = Record::new(key, value);
        record.expires = Instant::now().checked_add(ttl);
        // From now on the record is ours, not charged to whichever peer stored it here before.
        self.quotas.release_record(&record.key);
        match self.kad().put_record(record, Quorum::One) {
            Ok(id) => {
                self.pending_put.insert(id, reply);
            }
            Err(kad::store::Error::ValueTooLarge) => {
                let _ = reply.send(Err(NetError::RecordTooLarge {
                    size: 0,
                    max: self.max_value_bytes,
                }));
            }
            Err(_) => {
                let _ = reply.send(Err(NetError::StoreFull));
            }
        }
    }

    /// The locally stored, unexpired record for `key`, if it still passes the filter. A foreign
    /// record that no longer passes is dropped from the store.
    fn accepted_local_record(&mut self, key: &RecordKey) -> Option<Record> {
        let now = Instant::now();
        let record = self
            .kad()
            .store_mut()
            .get(key)
            .map(std::borrow::Cow::into_owned)?;
        if record.is_expired(now) {
            self.kad().store_mut().remove(key);
            self.quotas.release_record(key);
            return None;
        }
        let from = record.publisher.unwrap_or(self.local_peer_id);
        match self.filter.check_record(&from, &record) {
            Ok(()) => Some(record),
            Err(reason) => {
                self.counters.records_refused += 1;
                self.refuse(
                    from,
                    format!("stored record {}: {reason}", short_hex(key.as_ref())),
                );
                if from != self.local_peer_id {
                    self.kad().store_mut().remove(key);
                    self.quotas.release_record(key);
                }
                None
            }
        }
    }

    fn get_record(&mut self, key: Vec<u8>, reply: Reply<Option<Vec<u8>>>) {
        let key = RecordKey::from(key);
        if let Some(record) = self.accepted_local_record(&key) {
            let _ = reply.send(Ok(Some(record.value)));
            return;
        }
        let id = self.kad().get_record(key);
        self.pending_get.insert(id, reply);
    }

    fn publish(&mut self, topic: &str, data: Vec<u8>) -> Result<usize, NetError> {
        let topic = gossip_topic(topic)?;
        if data.len() > self.max_gossip_bytes {
            return Err(NetError::MessageTooLarge { size: data.len() });
        }
        let size = data.len();
        let gossipsub = &mut self.swarm.behaviour_mut().gossipsub;
        match gossipsub.publish(topic.clone(), data) {
            Ok(_) => {
                let hash = topic.hash();
                Ok(gossipsub
                    .all_peers()
                    .filter(|(_, topics)| topics.contains(&&hash))
                    .count())
            }
            // Nobody listens yet: normal for a fresh node; the DHT still carries the data.
            Err(gossipsub::PublishError::NoPeersSubscribedToTopic) => Ok(0),
            Err(gossipsub::PublishError::AllQueuesFull(n)) => {
                tracing::warn!(%topic, peers = n, "gossip not sent: every peer queue is full");
                Ok(0)
            }
            Err(gossipsub::PublishError::MessageTooLarge) => {
                Err(NetError::MessageTooLarge { size })
            }
            Err(e) => Err(NetError::Internal(format!("publish on {topic}: {e}"))),
        }
    }

    fn stats(&mut self) -> NetStats {
        let connected_peers = self.swarm.connected_peers().count();
        let kad = self.kad();
        let routing_table_size = kad.kbuckets().map(|b| b.num_entries()).sum();
        let stored_records = kad.store_mut().records().count();
        let gossipsub = &self.swarm.behaviour().gossipsub;
        let gossip_mesh_peers = gossipsub
            .topics()
            .map(|t| gossipsub.mesh_peers(t).count())
            .sum();
        let graylist = super::behaviour::gossip_score_thresholds().graylist_threshold;
        let gossip_graylisted = self
            .swarm
            .connected_peers()
            .filter(|p| gossipsub.peer_score(p).is_some_and(|s| s < graylist))
            .count();
        NetStats {
            gossip_mesh_peers,
            gossip_graylisted,
            connected_peers,
            routing_table_size,
            stored_records,
            pending_inbound: self.pending_inbound.len(),
            ..self.counters.clone()
        }
    }

    fn reachability(&self) -> Reachability {
        let behaviour = self.swarm.behaviour();
        let nat = match behaviour.autonat.nat_status() {
            autonat::NatStatus::Public(_) => NatStatus::Public,
            autonat::NatStatus::Private => NatStatus::Private,
            autonat::NatStatus::Unknown => NatStatus::Unknown,
        };
        let relayed: Vec<&Multiaddr> = self
            .swarm
            .listeners()
            .filter(|a| a.iter().any(|p| p == Protocol::P2pCircuit))
            .collect();
        let relays = self
            .circuits
            .iter()
            .map(|c| RelayCircuit {
                relay: c.relay,
                listen_addr: c.addr.clone(),
                reserved: relayed
                    .iter()
                    .find(|a| super::relay_of(a) == Some(c.relay))
                    .map(|a| (*a).clone()),
            })
            .collect();
        Reachability {
            nat,
            external_addrs: self.swarm.external_addresses().cloned().collect(),
            relays,
            relay_server: behaviour.relay_server.is_enabled(),
        }
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

    // ---------------------------------------------------------------- swarm events

    fn on_swarm_event(&mut self, event: SwarmEvent<BehaviourEvent>) {
        match event {
            SwarmEvent::Behaviour(event) => self.on_behaviour_event(event),
            SwarmEvent::NewListenAddr { address, .. } => {
                tracing::info!(%address, "listening");
                self.emit(NetEvent::Listening(address));
            }
            SwarmEvent::ListenerClosed { listener_id, .. } => {
                for circuit in &mut self.circuits {
                    if circuit.listener == Some(listener_id) {
                        tracing::info!(addr = %circuit.addr, "relayed listener closed; renewed on the next connection to the relay");
                        circuit.listener = None;
                    }
                }
            }
            SwarmEvent::ConnectionEstablished {
                peer_id,
                connection_id,
                num_established,
                endpoint,
                ..
            } => {
                tracing::debug!(peer = %peer_id, addr = %endpoint.get_remote_address(), "connected");
                if let Some((_, reply)) = self.pending_dial.remove(&connection_id) {
                    let _ = reply.send(Ok(peer_id));
                }
                if num_established.get() == 1 {
                    self.emit(NetEvent::PeerConnected(peer_id));
                }
                self.listen_through(peer_id);
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                num_established,
                cause,
                ..
            } => {
                tracing::debug!(peer = %peer_id, ?cause, "connection closed");
                if num_established == 0 {
                    self.emit(NetEvent::PeerDisconnected(peer_id));
                }
            }
            SwarmEvent::OutgoingConnectionError {
                connection_id,
                peer_id,
                error,
            } => {
                tracing::debug!(peer = ?peer_id, %error, "dial failed");
                if let Some((addr, reply)) = self.pending_dial.remove(&connection_id) {
                    let _ = reply.send(Err(NetError::Dial {
                        addr: addr.to_string(),
                        reason: error.to_string(),
                    }));
                }
            }
            SwarmEvent::ListenerError { error, .. } => {
                tracing::warn!(%error, "listener error");
            }
            SwarmEvent::ExternalAddrConfirmed { address } => {
                tracing::info!(%address, "external address confirmed");
            }
            other => tracing::trace!(event = ?other, "swarm event"),
        }
    }

    fn on_behaviour_event(&mut self, event: BehaviourEvent) {
        match event {
            BehaviourEvent::Kad(event) => self.on_kad_event(event),
            BehaviourEvent::Gossipsub(event) => self.on_gossip_event(event),
            BehaviourEvent::Direct(event) => self.on_direct_event(event),
            BehaviourEvent::Identify(identify::Event::Received { peer_id, info, .. }) => {
                // Only peers that serve our DHT belong in the routing table; a listener learns the
                // dialer's addresses only from identify.
                if info.protocols.contains(&KAD_PROTOCOL) {
                    for addr in info.listen_addrs {
                        if self.usable_peer_addr(&addr) {
                            self.kad().add_address(&peer_id, addr);
                        }
                    }
                }
            }
            BehaviourEvent::Mdns(mdns::Event::Discovered(found)) => {
                // One dial per peer with all its addresses, not one per (peer, address) pair.
                let mut by_peer: HashMap<PeerId, Vec<Multiaddr>> = HashMap::new();
                for (peer, addr) in found {
                    by_peer.entry(peer).or_default().push(addr);
                }
                for (peer, addrs) in by_peer {
                    if self.swarm.is_connected(&peer) {
                        continue;
                    }
                    tracing::debug!(%peer, ?addrs, "found on the LAN");
                    let opts = DialOpts::peer_id(peer)
                        .condition(PeerCondition::DisconnectedAndNotDialing)
                        .addresses(addrs)
                        .build();
                    if let Err(e) = self.swarm.dial(opts) {
                        tracing::debug!(%peer, %e, "dial of LAN peer not started");
                    }
                }
            }
            BehaviourEvent::Autonat(autonat::Event::StatusChanged { old, new }) => {
                tracing::info!(?old, ?new, "NAT status changed");
                if self.auto_dht_mode {
                    let mode = match new {
                        autonat::NatStatus::Public(_) => Some(kad::Mode::Server),
                        _ => None,
                    };
                    self.kad().set_mode(mode);
                }
            }
            other => tracing::trace!(event = ?other, "behaviour event"),
        }
    }

    fn on_kad_event(&mut self, event: kad::Event) {
        match event {
            kad::Event::InboundRequest { request } => match request {
                InboundRequest::PutRecord {
                    source,
                    record: Some(record),
                    ..
                } => self.on_inbound_record(source, record),
                InboundRequest::AddProvider {
                    record: Some(record),
                } => self.on_inbound_provider(record),
                _ => {}
            },
            kad::Event::OutboundQueryProgressed {
                id, result, step, ..
            } => self.on_query_progress(id, result, step.last),
            kad::Event::RoutingUpdated {
                peer,
                is_new_peer: true,
                ..
            } => self.emit(NetEvent::DhtPeerAdded(peer)),
            kad::Event::ModeChanged { new_mode } => {
                tracing::info!(mode = %new_mode, "DHT mode changed");
            }
            other => tracing::trace!(event = ?other, "kad event"),
        }
    }

    /// Is `entry` admissible for `peer`? On a refusal, first forget what has already left the store.
    fn check_quota(&mut self, peer: &PeerId, entry: &Entry, size: usize) -> Result<(), String> {
        if self.quotas.check(peer, entry, size).is_ok() {
            return Ok(());
        }
        let now = Instant::now();
        let Self { swarm, quotas, .. } = self;
        let store = swarm.behaviour_mut().kad.store_mut();
        quotas.reconcile(Some(peer), |p, e| still_stored(store, p, e, now));
        quotas.check(peer, entry, size)
    }

    fn on_inbound_record(&mut self, source: PeerId, record: Record) {
        let key_hex = short_hex(record.key.as_ref());
        let size = record.value.len();
        if size > self.max_value_bytes {
            self.counters.quota_refused += 1;
            self.refuse(
                source,
                format!(
                    "record {key_hex}: {size} bytes exceeds {}",
                    self.max_value_bytes
                ),
            );
            return;
        }
        if let Err(reason) = self.filter.check_record(&source, &record) {
            self.counters.records_refused += 1;
            self.refuse(source, format!("record {key_hex}: {reason}"));
            return;
        }
        let local = self.local_peer_id;
        let ours = self
            .kad()
            .store_mut()
            .get(&record.key)
            .filter(|r| r.publisher == Some(local))
            .map(|r| r.value == record.value);
        match ours {
            // Our own record replicated back to us: nothing to do, nothing wrong.
            Some(true) => return,
            Some(false) => {
                self.counters.records_refused += 1;
                self.refuse(
                    source,
                    format!("record {key_hex}: would replace our own record"),
                );
                return;
            }
            None => {}
        }
        let entry = Entry::Record(record.key.clone());
        if let Err(reason) = self.check_quota(&source, &entry, size) {
            self.counters.quota_refused += 1;
            self.refuse(source, format!("record {key_hex}: {reason}"));
            return;
        }
        let key = record.key.to_vec();
        let value = record.value.clone();
        match self.kad().store_mut().put(record) {
            Ok(()) => {
                self.quotas.charge(source, entry, size);
                self.counters.records_accepted += 1;
                tracing::debug!(from = %source, key = %key_hex, size, "stored inbound record");
                self.emit(NetEvent::RecordStored {
                    key,
                    value,
                    from: source,
                });
            }
            Err(e) => {
                self.counters.quota_refused += 1;
                self.refuse(source, format!("record {key_hex}: {e}"));
            }
        }
    }

    fn on_inbound_provider(&mut self, record: kad::ProviderRecord) {
        // Kademlia only reports announcements whose provider is the sending peer itself.
        let from = record.provider;
        let key_hex = short_hex(record.key.as_ref());
        if let Err(reason) = self.filter.check_provider(&from, record.key.as_ref()) {
            self.counters.providers_refused += 1;
            self.refuse(from, format!("provider of {key_hex}: {reason}"));
            return;
        }
        let entry = Entry::Provider(record.key.clone());
        let size = record.key.as_ref().len();
        if let Err(reason) = self.check_quota(&from, &entry, size) {
            self.counters.quota_refused += 1;
            self.refuse(from, format!("provider of {key_hex}: {reason}"));
            return;
        }
        match self.kad().store_mut().add_provider(record) {
            Ok(()) => {
                self.quotas.charge(from, entry, size);
                tracing::debug!(%from, key = %key_hex, "stored provider announcement");
            }
            Err(e) => {
                self.counters.quota_refused += 1;
                self.refuse(from, format!("provider of {key_hex}: {e}"));
            }
        }
    }

    fn on_query_progress(&mut self, id: QueryId, result: QueryResult, last: bool) {
        match result {
            QueryResult::PutRecord(result) => {
                let Some(reply) = self.pending_put.remove(&id) else {
                    return;
                };
                // Quorum::One: success means at least one peer answered; libp2p does not report
                // how many more did before the query finished.
                let stored_on = match result {
                    Ok(_) => 1,
                    Err(PutRecordError::QuorumFailed { success, .. })
                    | Err(PutRecordError::Timeout { success, .. }) => success.len(),
                };
                let _ = reply.send(Ok(stored_on));
            }
            QueryResult::GetRecord(Ok(GetRecordOk::FoundRecord(found))) => {
                if !self.pending_get.contains_key(&id) {
                    return;
                }
                let from = found
                    .peer
                    .or(found.record.publisher)
                    .unwrap_or(self.local_peer_id);
                match self.filter.check_record(&from, &found.record) {
                    Ok(()) => {
                        if let Some(reply) = self.pending_get.remove(&id) {
                            let _ = reply.send(Ok(Some(found.record.value)));
                        }
                        if let Some(mut query) = self.kad().query_mut(&id) {
                            query.finish();
                        }
                    }
                    Err(reason) => {
                        self.counters.records_refused += 1;
                        let key_hex = short_hex(found.record.key.as_ref());
                        self.refuse(from, format!("fetched record {key_hex}: {reason}"));
                        if last && let Some(reply) = self.pending_get.remove(&id) {
                            let _ = reply.send(Ok(None));
                        }
                    }
                }
            }
            QueryResult::GetRecord(other) => {
                if let Err(e) = &other {
                    tracing::debug!(%e, "record lookup ended without a record");
                }
                if let Some(reply) = self.pending_get.remove(&id) {
                    let _ = reply.send(Ok(None));
                }
            }
            QueryResult::StartProviding(result) => {
                if let Err(e) = result {
                    // Stored locally and republished on schedule: not the caller's failure.
                    tracing::debug!(%e, "provider announcement incomplete");
                }
                if let Some(reply) = self.pending_providing.remove(&id) {
                    let _ = reply.send(Ok(()));
                }
            }
            QueryResult::GetProviders(result) => {
                let finished = match result {
                    Ok(GetProvidersOk::FoundProviders { providers, .. }) => {
                        if let Some((found, _)) = self.pending_providers.get_mut(&id) {
                            found.extend(providers);
                        }
                        last
                    }
                    Ok(GetProvidersOk::FinishedWithNoAdditionalRecord { .. }) => true,
                    Err(e) => {
                        tracing::debug!(%e, "provider lookup timed out");
                        true
                    }
                };
                if finished && let Some((found, reply)) = self.pending_providers.remove(&id) {
                    let _ = reply.send(Ok(found));
                }
            }
            QueryResult::Bootstrap(result) => {
                let failed = result.is_err();
                if (last || failed)
                    && let Some(reply) = self.pending_bootstrap.remove(&id)
                {
                    let _ = reply.send(match result {
                        Ok(_) => Ok(()),
                        Err(_) => Err(NetError::QueryTimedOut { what: "bootstrap" }),
                    });
                }
            }
            QueryResult::GetClosestPeers(result) => {
                let Some((target, _)) = self.pending_find.get(&id) else {
                    return;
                };
                let target = *target;
                let peers = match &result {
                    Ok(ok) => ok.peers.as_slice(),
                    Err(kad::GetClosestPeersError::Timeout { peers, .. }) => peers.as_slice(),
                };
                let addrs: Vec<Multiaddr> = peers
                    .iter()
                    .filter(|p| p.peer_id == target)
                    .flat_map(|p| p.addrs.iter().cloned())
                    .collect();
                let found = !addrs.is_empty();
                if found {
                    // Dial with what the DHT told; a request queued for the peer waits for it.
                    let opts = DialOpts::peer_id(target)
                        .addresses(addrs)
                        .condition(PeerCondition::DisconnectedAndNotDialing)
                        .build();
                    if let Err(e) = self.swarm.dial(opts) {
                        tracing::debug!(peer = %target, error = %e, "dialing a found peer failed");
                    }
                }
                if (last || found || result.is_err())
                    && let Some((_, reply)) = self.pending_find.remove(&id)
                {
                    let _ = reply.send(Ok(found));
                }
            }
            QueryResult::RepublishRecord(Err(e)) => {
                tracing::debug!(%e, "record republish incomplete");
            }
            other => tracing::trace!(result = ?other, "kad query progressed"),
        }
    }

    fn on_gossip_event(&mut self, event: gossipsub::Event) {
        match event {
            gossipsub::Event::Message {
                propagation_source,
                message_id,
                message,
            } => {
                // Strict validation mode: the message is signed, so `source` is its author.
                let author = message.source.unwrap_or(propagation_source);
                let topic = message.topic.as_str().to_owned();
                let verdict = self.filter.check_gossip(&topic, &message.data, &author);
                let acceptance = if verdict.is_ok() {
                    gossipsub::MessageAcceptance::Accept
                } else {
                    gossipsub::MessageAcceptance::Reject
                };
                self.swarm
                    .behaviour_mut()
                    .gossipsub
                    .report_message_validation_result(&message_id, &propagation_source, acceptance);
                match verdict {
                    Ok(()) => {
                        self.counters.gossip_accepted += 1;
                        self.emit(NetEvent::Gossip {
                            topic,
                            source: author,
                            data: message.data,
                        });
                    }
                    Err(reason) => {
                        self.counters.gossip_refused += 1;
                        self.refuse(
                            author,
                            format!("gossip on {topic} via {propagation_source}: {reason}"),
                        );
                    }
                }
            }
            gossipsub::Event::Subscribed { peer_id, topic } => self.emit(NetEvent::TopicJoined {
                peer: peer_id,
                topic: topic.into_string(),
            }),
            other => tracing::trace!(event = ?other, "gossipsub event"),
        }
    }

    fn on_direct_event(&mut self, event: request_response::Event<Vec<u8>, DirectResponse>) {
        use request_response::{Event, Message};
        match event {
            Event::Message {
                peer,
                message:
                    Message::Request {
                        request_id,
                        request,
                        channel,
                    },
                ..
            } => self.on_inbound_request(peer, request_id, request, channel),
            Event::Message {
                message:
                    Message::Response {
                        request_id,
                        response,
                    },
                peer,
                ..
            } => {
                if let Some((_, reply)) = self.pending_requests.remove(&request_id) {
                    let _ = reply.send(match response {
                        DirectResponse::Answer(data) => Ok(data),
                        DirectResponse::Refused => Err(NetError::RequestRefused { peer }),
                    });
                }
            }
            Event::OutboundFailure {
                peer,
                request_id,
                error,
                ..
            } => {
                tracing::debug!(%peer, %error, "direct request failed");
                if let Some((sent, reply)) = self.pending_requests.remove(&request_id) {
                    let _ = reply.send(Err(outbound_error(peer, error, sent.elapsed())));
                }
            }
            Event::InboundFailure {
                peer,
                request_id,
                error,
                ..
            } => {
                if self.pending_inbound.take(&request_id).is_some() {
                    tracing::debug!(%peer, %error, id = %request_id, "inbound request expired");
                    self.emit(NetEvent::RequestExpired {
                        peer,
                        id: InboundId(request_id),
                        reason: error.to_string(),
                    });
                }
            }
            Event::ResponseSent { .. } => {}
        }
    }

    fn on_inbound_request(
        &mut self,
        peer: PeerId,
        id: InboundRequestId,
        data: Vec<u8>,
        channel: ResponseChannel<DirectResponse>,
    ) {
        // Nobody could ever answer: let the requester know now rather than at its timeout.
        let refusal = if self.events.receiver_count() == 0 {
            Err((
                channel,
                "no receiver of network events to answer it".to_owned(),
            ))
        } else {
            self.pending_inbound.admit(id, peer, channel)
        };
        match refusal {
            Ok(()) => self.emit(NetEvent::Request {
                peer,
                id: InboundId(id),
                data,
            }),
            Err((channel, reason)) => {
                // An explicit "not now", so the requester need not wait for its timeout. If the
                // stream is already gone there is nobody left to tell.
                let _ = self
                    .swarm
                    .behaviour_mut()
                    .direct
                    .send_response(channel, DirectResponse::Refused);
                self.counters.requests_refused += 1;
                self.refuse(peer, format!("direct request: {reason}"));
            }
        }
    }

    /// Listens on every relayed address of `relay` that has no listener: only now that a connection
    /// to the relay exists can the relay client ask it for a reservation.
    fn listen_through(&mut self, relay: PeerId) {
        for circuit in &mut self.circuits {
            if circuit.relay != relay || circuit.listener.is_some() {
                continue;
            }
            match self.swarm.listen_on(circuit.addr.clone()) {
                Ok(id) => circuit.listener = Some(id),
                Err(e) => {
                    tracing::warn!(addr = %circuit.addr, %e, "cannot listen through the relay")
                }
            }
        }
    }

    pub(crate) fn set_circuits(&mut self, circuits: Vec<Circuit>) {
        self.circuits = circuits;
    }

    fn usable_peer_addr(&self, addr: &Multiaddr) -> bool {
        if self.allow_loopback_peers {
            return true;
        }
        !addr.iter().any(|p| match p {
            Protocol::Ip4(ip) => ip.is_loopback() || ip.is_unspecified(),
            Protocol::Ip6(ip) => ip.is_loopback() || ip.is_unspecified(),
            _ => false,
        })
    }
}

fn still_stored(
    store: &mut kad::store::MemoryStore,
    peer: &PeerId,
    entry: &Entry,
    now: Instant,
) -> bool {
    match entry {
        Entry::Record(key) => store.get(key).is_some_and(|r| !r.is_expired(now)),
        Entry::Provider(key) => store
            .providers(key)
            .iter()
            .any(|p| p.provider == *peer && !p.is_expired(now)),
    }
}

fn gossip_topic(topic: &str) -> Result<gossipsub::IdentTopic, NetError> {
    if topic.is_empty() || topic.len() > 256 {
        return Err(NetError::InvalidTopic {
            topic: topic.chars().take(64).collect(),
            reason: "a topic is 1 to 256 bytes".into(),
        });
    }
    Ok(gossipsub::IdentTopic::new(topic))
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
