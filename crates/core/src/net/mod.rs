//! The libp2p network: one task owns the `Swarm` (TCP + QUIC, Noise, Yamux, identify, ping, mDNS,
//! Kademlia, gossipsub, AutoNAT, circuit relay v2, DCUtR and the [`DIRECT_PROTOCOL`]
//! request-response); the rest of the app holds a cloneable
//! [`NetClient`] and listens to [`NetEvent`]s.
//!
//! Everything a peer sends is checked before it is stored, forwarded or shown: Kademlia runs with
//! manual insert filtering, gossipsub with application validation, both through one
//! [`InboundFilter`], plus per-peer quotas on what we store for others. This module must never know
//! about offers, trades or the database: it moves opaque bytes and lets the filter judge them.

mod behaviour;
mod client;
mod config;
mod delay;
mod direct;
mod error;
mod event_loop;
mod filter;
mod gossip_keep_alive;
mod quota;
mod reach;
pub mod tor;

use std::{collections::HashMap, sync::Arc, time::Duration};

use libp2p::{
    Multiaddr, PeerId, SwarmBuilder, Transport as _, core::transport::OptionalTransport,
    identity::Keypair, multiaddr::Protocol, noise, tcp, yamux,
};
use tokio::sync::{broadcast, mpsc, watch};
use tokio_util::sync::CancellationToken;

pub use behaviour::{IDENTIFY_PROTOCOL, KAD_PROTOCOL};
pub use client::NetClient;
pub use config::{DhtMode, NetConfig};
pub use direct::{DIRECT_PROTOCOL, InboundId};
pub use error::NetError;
pub use filter::{AcceptAll, InboundFilter};
pub use reach::PeerReach;

/// The relay a relayed address goes through: the peer named right before `/p2p-circuit`.
pub fn relay_of(addr: &Multiaddr) -> Option<PeerId> {
    let mut relay = None;
    for p in addr.iter() {
        match p {
            Protocol::P2p(peer) => relay = Some(peer),
            Protocol::P2pCircuit => return relay,
            _ => {}
        }
    }
    None
}

use behaviour::Behaviour;
use event_loop::{EventLoop, LoopSettings, peer_id_of};

/// How long `Network::start` waits for its listeners to report an address.
const LISTEN_DEADLINE: Duration = Duration::from_secs(10);

/// What the network tells the rest of the app. Lagging receivers lose the oldest events
/// (`broadcast` semantics); nothing here is needed for correctness of the network itself.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum NetEvent {
    Listening(Multiaddr),
    PeerConnected(PeerId),
    PeerDisconnected(PeerId),
    /// A peer serving the DHT entered our routing table.
    DhtPeerAdded(PeerId),
    /// A peer told us it subscribed to a gossip topic (on connecting, or later).
    TopicJoined {
        peer: PeerId,
        topic: String,
    },
    /// A gossip message that passed the filter. `source` is the peer that passed it on, not
    /// necessarily its publisher (gossipsub's envelope is not checked: the data carries its own
    /// author's signature).
    Gossip {
        topic: String,
        source: PeerId,
        data: Vec<u8>,
    },
    /// A record a peer asked us to store passed the filter and the quota and is now stored.
    RecordStored {
        key: Vec<u8>,
        value: Vec<u8>,
        from: PeerId,
    },
    /// Inbound data was refused (filter, quota, store capacity, or a direct request over the
    /// pending limits).
    Refused {
        from: PeerId,
        reason: String,
    },
    /// A peer asks something over the [`DIRECT_PROTOCOL`]; answer with [`NetClient::respond`]
    /// before [`NetConfig::request_timeout`]. The network never answers on its own.
    ///
    /// Like every event this is broadcast: a receiver that lags misses it, and the requester then
    /// times out (the id expires here with a [`NetEvent::RequestExpired`]). Exactly one receiver
    /// should answer; a second `respond` with the same id fails with
    /// [`NetError::UnknownRequest`].
    Request {
        peer: PeerId,
        id: InboundId,
        data: Vec<u8>,
    },
    /// An inbound request was dropped unanswered (timed out, or its connection closed): its id is
    /// no longer valid.
    RequestExpired {
        peer: PeerId,
        id: InboundId,
        reason: String,
    },
}

/// A snapshot of the network's state and counters since start.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetStats {
    pub connected_peers: usize,
    /// Open connections, all peers together (more than `connected_peers` when a peer has several).
    pub connections: usize,
    pub routing_table_size: usize,
    /// Value records in the local store (ours and others').
    pub stored_records: usize,
    /// Inbound records stored for other peers.
    pub records_accepted: u64,
    /// Records refused by the filter (inbound puts, and records returned by lookups).
    pub records_refused: u64,
    /// Provider announcements refused by the filter.
    pub providers_refused: u64,
    /// Inbound records / announcements refused by a per-peer quota, the size limit or a full store.
    pub quota_refused: u64,
    /// Peers in this node's gossip mesh, summed over its topics (they get each message at once).
    pub gossip_mesh_peers: usize,
    pub gossip_accepted: u64,
    pub gossip_refused: u64,
    /// Connected peers whose gossip this node ignores now: they sent too many messages it refused.
    pub gossip_graylisted: usize,
    /// Direct requests we sent (handed to libp2p; the oversized ones refused locally not counted).
    pub requests_sent: u64,
    /// Inbound direct requests we answered (answer handed to the stream).
    pub requests_answered: u64,
    /// Inbound direct requests dropped unanswered on arrival: over the total or per-peer pending
    /// limit, or no event receiver to answer them. Requests over the size limit are refused inside
    /// the codec and not counted.
    pub requests_refused: u64,
    /// Inbound direct requests waiting for our answer now.
    pub pending_inbound: usize,
    /// Record and provider lookups this node answered its caller (found or not).
    pub dht_lookups: u64,
    /// Requests those lookups had sent to other peers by the time they answered (libp2p-kad does
    /// not report hops: a lookup asks up to 3 peers at a time, each step one hop closer).
    pub dht_lookup_requests: u64,
}

impl NetStats {
    pub fn refused_total(&self) -> u64 {
        self.records_refused
            + self.providers_refused
            + self.quota_refused
            + self.gossip_refused
            + self.requests_refused
    }
}

/// AutoNAT's verdict on this node's addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NatStatus {
    /// Peers dialled back and reached this node.
    Public,
    /// Peers could not dial back: behind a NAT or firewall.
    Private,
    /// Not enough peers asked yet.
    Unknown,
}

/// One relay this node listens through (a `…/p2p/<relay>/p2p-circuit` listen address).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayCircuit {
    pub relay: PeerId,
    /// The address as configured.
    pub listen_addr: Multiaddr,
    /// The relayed address this node listens on once the relay granted a reservation.
    pub reserved: Option<Multiaddr>,
    /// Picked by this node behind a NAT, not named in its config.
    pub automatic: bool,
}

/// How others can reach this node, as the swarm knows it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reachability {
    pub nat: NatStatus,
    /// Confirmed external addresses (by AutoNAT, or named in the config).
    pub external_addrs: Vec<Multiaddr>,
    pub relays: Vec<RelayCircuit>,
    /// This node is a circuit relay for others.
    pub relay_server: bool,
}

/// Starts the network task.
#[derive(Debug)]
pub struct Network;

impl Network {
    /// Build the swarm, start listening (waiting until every listener has an address), dial the
    /// bootstrap peers and spawn the event loop on the current tokio runtime.
    pub async fn start(
        config: NetConfig,
        keypair: Keypair,
        filter: Arc<dyn InboundFilter>,
    ) -> Result<(NetClient, broadcast::Receiver<NetEvent>), NetError> {
        Self::start_with(config, keypair, filter, None).await
    }

    /// [`Network::start`] in Tor mode: every connection through `tor` (a running, bootstrapped
    /// [`tor::Tor`], kept running as long as the network), reachable only at the onion address
    /// published before this returns.
    pub async fn start_over_tor(
        config: NetConfig,
        keypair: Keypair,
        filter: Arc<dyn InboundFilter>,
        tor: Arc<tor::Tor>,
    ) -> Result<(NetClient, broadcast::Receiver<NetEvent>), NetError> {
        Self::start_with(config, keypair, filter, Some(tor)).await
    }

    async fn start_with(
        mut config: NetConfig,
        keypair: Keypair,
        filter: Arc<dyn InboundFilter>,
        tor: Option<Arc<tor::Tor>>,
    ) -> Result<(NetClient, broadcast::Receiver<NetEvent>), NetError> {
        // Tor mode: only through tor. A bridge: clearnet as configured, and onions through tor.
        let bridge = match (&tor, &config.tor, &config.bridge) {
            (_, Some(_), Some(_)) => {
                return Err(NetError::Tor(
                    "Tor mode and a bridge exclude each other: a bridge also speaks clearnet"
                        .into(),
                ));
            }
            (Some(_), None, Some(_)) => {
                config.open_bridge();
                true
            }
            (Some(_), _, None) => {
                config.confine_to_tor();
                false
            }
            (None, Some(_), _) | (None, _, Some(_)) => {
                return Err(NetError::Tor(
                    "Tor mode is on but tor is not running: start it first".into(),
                ));
            }
            (None, None, None) => false,
        };
        let onion_only = tor.is_some() && !bridge;
        let bootstrap = parse_bootstrap(&config.bootstrap)?;
        if onion_only && let Some((_, clear)) = bootstrap.iter().find(|(_, a)| !tor::is_onion(a)) {
            return Err(NetError::InvalidAddress {
                addr: clear.to_string(),
                reason: "Tor mode reaches peers only at onion addresses (/onion3/…)".into(),
            });
        }
        let idle = config.idle_connection_timeout;
        let latency = config.added_latency;
        // A bridge dials onion addresses through its tor, everything else directly.
        let onions = tor.as_ref().filter(|_| bridge).map(|t| t.socks_addr());
        let mut swarm = match tor.as_ref().filter(|_| onion_only) {
            None => SwarmBuilder::with_existing_identity(keypair.clone())
                .with_tokio()
                .with_quic()
                // TCP as `with_tcp` builds it, with the (normally absent) added latency on its streams.
                .with_other_transport(
                    |key| -> Result<_, Box<dyn std::error::Error + Send + Sync>> {
                        Ok(
                            tcp::tokio::Transport::new(tcp::Config::default().nodelay(true))
                                .or_transport(match onions {
                                    Some(socks) => OptionalTransport::some(
                                        tor::OnionTransport::onions_only(socks),
                                    ),
                                    None => OptionalTransport::none(),
                                })
                                .map(move |stream, _| {
                                    delay::MaybeDelayed::new(stream.into_inner(), latency)
                                })
                                .upgrade(libp2p::core::upgrade::Version::V1Lazy)
                                .authenticate(noise::Config::new(key)?)
                                .multiplex(yamux::Config::default()),
                        )
                    },
                )
                .map_err(|e| NetError::Transport(e.to_string()))?
                .with_dns()
                .map_err(|e| NetError::Transport(e.to_string()))?
                .with_relay_client(noise::Config::new, yamux::Config::default)
                .map_err(|e| NetError::Transport(e.to_string()))?
                .with_behaviour(|key, relay_client| Behaviour::new(&config, key, relay_client))
                .map_err(|e| NetError::Transport(e.to_string()))?
                .with_swarm_config(|c| c.with_idle_connection_timeout(idle))
                .build(),
            // No QUIC, no DNS resolver of our own: the only way out is tor's SOCKS port.
            Some(tor) => {
                let socks = tor.socks_addr();
                SwarmBuilder::with_existing_identity(keypair.clone())
                    .with_tokio()
                    .with_other_transport(
                        |key| -> Result<_, Box<dyn std::error::Error + Send + Sync>> {
                            Ok(tor::OnionTransport::new(socks)
                                .upgrade(libp2p::core::upgrade::Version::V1Lazy)
                                .authenticate(noise::Config::new(key)?)
                                .multiplex(yamux::Config::default()))
                        },
                    )
                    .map_err(|e| NetError::Transport(e.to_string()))?
                    .with_relay_client(noise::Config::new, yamux::Config::default)
                    .map_err(|e| NetError::Transport(e.to_string()))?
                    .with_behaviour(|key, relay_client| Behaviour::new(&config, key, relay_client))
                    .map_err(|e| NetError::Transport(e.to_string()))?
                    .with_swarm_config(|c| c.with_idle_connection_timeout(idle))
                    .build()
            }
        };

        let mut listeners = HashMap::new();
        let mut circuits = Vec::new();
        for addr in &config.listen {
            // A relayed (`/p2p-circuit`) address needs a connection to its relay first: the event
            // loop listens on it once connected, and it must not hold up the start.
            if addr.iter().any(|p| p == Protocol::P2pCircuit) {
                circuits.push(circuit(addr)?);
                continue;
            }
            let id = swarm
                .listen_on(addr.clone())
                .map_err(|e| NetError::Listen {
                    addr: addr.to_string(),
                    reason: e.to_string(),
                })?;
            listeners.insert(id, addr.clone());
        }

        let local_peer_id = *swarm.local_peer_id();
        let (command_tx, command_rx) = mpsc::channel(config.command_buffer.max(1));
        let (event_tx, event_rx) = broadcast::channel(config.event_buffer.max(1));
        let cancel = CancellationToken::new();
        let (done_tx, done_rx) = watch::channel(());

        let mut event_loop = EventLoop::new(
            swarm,
            command_rx,
            event_tx.clone(),
            cancel.clone(),
            filter,
            LoopSettings {
                allow_loopback_peers: config.allow_loopback_peers,
                auto_dht_mode: config.effective_dht_mode() == DhtMode::Auto,
                max_value_bytes: config.max_value_bytes,
                max_gossip_bytes: config.max_gossip_bytes,
                max_records_per_peer: config.max_records_per_peer,
                max_bytes_per_peer: config.max_bytes_per_peer,
                max_request_bytes: config.max_request_bytes,
                max_response_bytes: config.max_response_bytes,
                max_pending_requests: config.max_pending_requests,
                max_pending_requests_per_peer: config.max_pending_requests_per_peer,
                auto_relays: config.auto_relays,
                tor: tor.clone(),
                bridge,
                query_timeout: config.query_timeout,
            },
        );
        event_loop
            .wait_listening(listeners, LISTEN_DEADLINE)
            .await?;
        let relays: Vec<Multiaddr> = circuits
            .iter()
            .map(|c: &event_loop::Circuit| relay_part(&c.addr))
            .collect();
        event_loop.set_circuits(circuits);

        let swarm = event_loop.swarm_mut();
        for relay in relays {
            if let Err(e) = swarm.dial(relay.clone()) {
                tracing::warn!(%relay, %e, "relay not dialled");
            }
        }
        for addr in &config.external_addresses {
            swarm.add_external_address(addr.clone());
        }
        if bridge && config.allow_loopback_peers {
            // A bridge on one machine (a test, a lab): its loopback addresses are how the clearnet
            // side reaches it, and what its relay service gives Tor-mode nodes to announce.
            let local: Vec<Multiaddr> = swarm
                .listeners()
                .filter(|a| socket_addr(a).is_some_and(|s| s.ip().is_loopback()))
                .cloned()
                .collect();
            for addr in local {
                swarm.add_external_address(addr);
            }
        }
        if let Some(tor) = &tor {
            let target = swarm
                .listeners()
                .filter_map(socket_addr)
                .find(|a| a.ip().is_loopback())
                .ok_or_else(|| {
                    NetError::Tor("no loopback listener for the onion service".into())
                })?;
            let onion = tor.publish(&keypair, target).await?;
            tracing::info!(%onion, "reachable at our onion address");
            swarm.add_external_address(onion);
        }
        for (peer, addr) in bootstrap {
            swarm.behaviour_mut().kad.add_address(&peer, addr.clone());
            if let Err(e) = swarm.dial(addr.clone()) {
                tracing::warn!(%addr, %e, "bootstrap peer not dialled");
            }
        }

        tokio::spawn(event_loop.run(done_tx));
        tracing::info!(peer = %local_peer_id, "network started");
        let client = NetClient::new(command_tx, event_tx, cancel, done_rx, local_peer_id);
        Ok((client, event_rx))
    }
}

/// `/ip4/a.b.c.d/tcp/p` → its socket address.
fn socket_addr(addr: &Multiaddr) -> Option<std::net::SocketAddr> {
    let mut parts = addr.iter();
    match (parts.next()?, parts.next()?) {
        (Protocol::Ip4(ip), Protocol::Tcp(port)) => Some((ip, port).into()),
        (Protocol::Ip6(ip), Protocol::Tcp(port)) => Some((ip, port).into()),
        _ => None,
    }
}

/// The address of the relay in a relayed address: everything before `/p2p-circuit`.
fn relay_part(addr: &Multiaddr) -> Multiaddr {
    addr.iter()
        .take_while(|p| *p != Protocol::P2pCircuit)
        .collect()
}

fn circuit(addr: &Multiaddr) -> Result<event_loop::Circuit, NetError> {
    let relay = peer_id_of(&relay_part(addr)).ok_or_else(|| NetError::InvalidAddress {
        addr: addr.to_string(),
        reason: "a relayed address names its relay: /…/p2p/<relay peer id>/p2p-circuit".into(),
    })?;
    Ok(event_loop::Circuit {
        relay,
        addr: addr.clone(),
        listener: None,
        automatic: false,
    })
}

fn parse_bootstrap(addrs: &[Multiaddr]) -> Result<Vec<(PeerId, Multiaddr)>, NetError> {
    addrs
        .iter()
        .map(|addr| {
            peer_id_of(addr)
                .map(|peer| (peer, addr.clone()))
                .ok_or_else(|| NetError::InvalidAddress {
                    addr: addr.to_string(),
                    reason: "a bootstrap address must end with /p2p/<peer id>".into(),
                })
        })
        .collect()
}
