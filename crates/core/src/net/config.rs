//! Settings of the network layer. Plain data: reading them from TOML / environment is `config`'s job.

use std::time::Duration;

use libp2p::{Multiaddr, multiaddr::Protocol};

/// Whether this node answers Kademlia queries from others.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DhtMode {
    /// Client until AutoNAT confirms a public address, then server (libp2p's own rule); server
    /// straight away when every listen address is loopback.
    #[default]
    Auto,
    /// Always serve the DHT: bootstrap nodes, LAN setups, loopback tests.
    Server,
    /// Never serve the DHT (only query it).
    Client,
}

/// Network settings; see [`NetConfig::default`] for the values a desktop node starts with.
#[derive(Debug, Clone)]
pub struct NetConfig {
    /// Addresses to listen on. A `<relay addr>/p2p/<relay id>/p2p-circuit` entry asks that relay for a
    /// reservation (reachability behind NAT); it is not waited for at start.
    pub listen: Vec<Multiaddr>,
    /// Bootstrap peers, each ending in `/p2p/<peer id>`; dialled at start.
    pub bootstrap: Vec<Multiaddr>,
    /// Discover peers on the local network with mDNS.
    pub mdns: bool,
    /// Act as a circuit-relay v2 server for peers behind NAT (headless / bootstrap nodes).
    pub relay_server: bool,
    /// Behind a NAT (AutoNAT says private), listen through this many relays chosen among the
    /// connected peers that offer the relay service; 0: only the relays `listen` names. A Tor-mode
    /// node listens through this many bridges (so clearnet nodes reach it), a reachable clearnet
    /// node through one bridge (so Tor-mode nodes reach it).
    pub auto_relays: usize,
    /// Treat private addresses (10.x, 192.168.x, …) as ones others may reach: AutoNAT tests them and
    /// vouches for them. For a network that is private throughout (a lab, a company network); off
    /// on the internet, where a private address is never reachable from outside.
    pub probe_private_addresses: bool,
    /// Addresses other nodes can reach this one at, announced as they are (a server with a public
    /// address, or a relay whose clients need its address in their reservations).
    pub external_addresses: Vec<Multiaddr>,
    pub dht_mode: DhtMode,
    /// Keep loopback addresses learned from peers (tests and single-machine setups only).
    pub allow_loopback_peers: bool,
    /// The longest a stored record lives here without being republished; also caps inbound TTLs.
    pub record_ttl: Duration,
    /// How often our own records are republished to the DHT.
    pub record_republish_interval: Duration,
    /// How often records stored for others are re-replicated to the closest peers.
    pub record_replication_interval: Duration,
    /// How often our provider announcements are renewed, and how long others' announcements live.
    pub provider_republish_interval: Duration,
    pub provider_ttl: Duration,
    /// Timeout of one DHT query (get/put/providers/bootstrap).
    pub query_timeout: Duration,
    /// How often the routing table is refreshed with a Kademlia bootstrap (a lookup of this node's
    /// own id and of a random id per bucket); `None`: only when the table is nearly empty. For one
    /// node ~10 lookups every 5 minutes are nothing; a simulation of 1,000 nodes on one machine
    /// cannot serve them all (the DHT benchmark reports when it turns them off).
    pub kad_bootstrap_interval: Option<Duration>,
    /// Largest record value accepted, in bytes.
    pub max_value_bytes: usize,
    /// Inbound quota per sending peer: number of records plus provider announcements...
    pub max_records_per_peer: usize,
    /// ...and the bytes of their values.
    pub max_bytes_per_peer: usize,
    /// Capacity of the local record store (ours and others').
    pub max_records_total: usize,
    /// Gossipsub heartbeat; the mesh forms over a few of these.
    pub gossip_heartbeat: Duration,
    /// Gossip mesh: a node grafts this many topic peers as soon as it learns of them...
    pub gossip_mesh_low: usize,
    /// ...and accepts grafts from up to this many, so a hub pushes to all its peers at once.
    pub gossip_mesh_high: usize,
    /// Largest gossip message, in bytes.
    pub max_gossip_bytes: usize,
    /// Connections with no protocol activity close after this long.
    pub idle_connection_timeout: Duration,
    /// Capacity of the command channel and of the event broadcast.
    pub command_buffer: usize,
    pub event_buffer: usize,
    /// Identify agent version reported to peers.
    pub agent_version: String,
    /// Largest direct-protocol request, in bytes, sent or accepted.
    pub max_request_bytes: usize,
    /// Largest direct-protocol answer, in bytes, sent or accepted.
    pub max_response_bytes: usize,
    /// How long a direct request may wait for its answer once sent (both ways: our requests give up,
    /// and inbound requests we have not answered by then are dropped).
    pub request_timeout: Duration,
    /// Inbound direct requests waiting for our answer, in total...
    pub max_pending_requests: usize,
    /// ...and from one peer; beyond either, new ones are dropped unanswered.
    pub max_pending_requests_per_peer: usize,
    /// How often the watched markets' makers are asked again for their offers (through the DHT's
    /// provider lists): the safety net under gossip.
    pub market_refresh: Duration,
    /// For measuring only: every byte received over TCP becomes readable this long after it
    /// arrived (one-way latency on every connection; QUIC is not delayed). Zero: off.
    pub added_latency: Duration,
    /// Tor mode: every connection goes through this node's own `tor` (onion addresses only, no
    /// clearnet listener, no mDNS, no QUIC, no DNS lookups of our own).
    pub tor: Option<super::tor::TorSettings>,
    /// A bridge between clearnet and Tor: everything of a clearnet node as configured, plus this
    /// node's own `tor`, an onion service and a relay server for both sides, so Tor-mode nodes
    /// reserve circuits here and clearnet nodes reach them through it (and the other way round).
    /// Excludes `tor`.
    pub bridge: Option<super::tor::TorSettings>,
}

impl Default for NetConfig {
    fn default() -> Self {
        Self {
            listen: vec![
                Multiaddr::empty()
                    .with(Protocol::Ip4([0, 0, 0, 0].into()))
                    .with(Protocol::Tcp(0)),
                Multiaddr::empty()
                    .with(Protocol::Ip4([0, 0, 0, 0].into()))
                    .with(Protocol::Udp(0))
                    .with(Protocol::QuicV1),
            ],
            bootstrap: Vec::new(),
            mdns: true,
            relay_server: false,
            auto_relays: 2,
            probe_private_addresses: false,
            external_addresses: Vec::new(),
            dht_mode: DhtMode::Auto,
            allow_loopback_peers: false,
            record_ttl: Duration::from_secs(24 * 60 * 60),
            record_republish_interval: Duration::from_secs(60 * 60),
            record_replication_interval: Duration::from_secs(60 * 60),
            provider_republish_interval: Duration::from_secs(60 * 60),
            provider_ttl: Duration::from_secs(4 * 60 * 60),
            query_timeout: Duration::from_secs(30),
            kad_bootstrap_interval: Some(Duration::from_secs(5 * 60)),
            max_value_bytes: 16 * 1024,
            max_records_per_peer: 256,
            max_bytes_per_peer: 1024 * 1024,
            max_records_total: 65_536,
            gossip_heartbeat: Duration::from_secs(1),
            gossip_mesh_low: 6,
            gossip_mesh_high: 1_000,
            max_gossip_bytes: 64 * 1024,
            idle_connection_timeout: Duration::from_secs(60),
            command_buffer: 64,
            event_buffer: 1024,
            agent_version: format!("souk/{}", env!("CARGO_PKG_VERSION")),
            max_request_bytes: 64 * 1024,
            max_response_bytes: 1024 * 1024,
            request_timeout: Duration::from_secs(30),
            max_pending_requests: 1024,
            max_pending_requests_per_peer: 16,
            market_refresh: Duration::from_secs(10 * 60),
            added_latency: Duration::ZERO,
            tor: None,
            bridge: None,
        }
    }
}

impl NetConfig {
    /// One node on 127.0.0.1 (TCP, port chosen by the OS): no mDNS, no QUIC, DHT server forced on,
    /// fast gossip heartbeat, short query and request timeouts, so in-process tests converge in milliseconds.
    pub fn loopback_for_tests() -> Self {
        Self {
            listen: vec![
                Multiaddr::empty()
                    .with(Protocol::Ip4([127, 0, 0, 1].into()))
                    .with(Protocol::Tcp(0)),
            ],
            mdns: false,
            dht_mode: DhtMode::Server,
            allow_loopback_peers: true,
            gossip_heartbeat: Duration::from_millis(100),
            query_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(5),
            ..Self::default()
        }
    }

    /// The `tor` this node starts: Tor mode's or a bridge's.
    pub fn tor_settings(&self) -> Option<&super::tor::TorSettings> {
        self.tor.as_ref().or(self.bridge.as_ref())
    }

    /// What Tor mode forces whatever else was asked: one loopback TCP listener (tor forwards the
    /// onion service there), no mDNS, no relaying for others (relays are used only to be reached
    /// from clearnet through bridges: the onion service is reachable from all of Tor), the DHT
    /// served.
    pub(crate) fn confine_to_tor(&mut self) {
        if self.tor.is_none() {
            self.tor = Some(self.bridge.take().unwrap_or_default());
        }
        self.bridge = None;
        if self.tor.as_ref().is_some_and(|t| !t.via_bridges) {
            self.auto_relays = 0;
        }
        self.listen = vec![
            Multiaddr::empty()
                .with(Protocol::Ip4([127, 0, 0, 1].into()))
                .with(Protocol::Tcp(0)),
        ];
        self.mdns = false;
        self.relay_server = false;
        self.probe_private_addresses = false;
        self.external_addresses.clear();
        self.allow_loopback_peers = false;
        self.dht_mode = DhtMode::Server;
        self.added_latency = Duration::ZERO;
    }

    /// What a bridge adds to a clearnet node: the relay server, and a loopback TCP listener for
    /// the onion service unless one of the listeners already takes loopback connections.
    pub(crate) fn open_bridge(&mut self) {
        self.relay_server = true;
        let takes_loopback = self.listen.iter().any(|a| {
            let mut parts = a.iter();
            matches!(parts.next(), Some(Protocol::Ip4(ip)) if ip.is_loopback() || ip.is_unspecified())
                && matches!(parts.next(), Some(Protocol::Tcp(_)))
        });
        if !takes_loopback {
            self.listen.push(
                Multiaddr::empty()
                    .with(Protocol::Ip4([127, 0, 0, 1].into()))
                    .with(Protocol::Tcp(0)),
            );
        }
    }

    /// [`DhtMode::Auto`] on a node that only listens on loopback means server: nobody could ever
    /// confirm it reachable, yet its local peers need it to serve the DHT.
    pub(crate) fn effective_dht_mode(&self) -> DhtMode {
        let loopback_only = !self.listen.is_empty() && self.listen.iter().all(is_loopback);
        match self.dht_mode {
            DhtMode::Auto if loopback_only => DhtMode::Server,
            mode => mode,
        }
    }
}

fn is_loopback(addr: &Multiaddr) -> bool {
    addr.iter().any(|p| match p {
        Protocol::Ip4(ip) => ip.is_loopback(),
        Protocol::Ip6(ip) => ip.is_loopback(),
        _ => false,
    })
}
