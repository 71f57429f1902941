//! The composed libp2p behaviour and its wire protocol names. Construction only: events are routed
//! by the event loop.

use std::time::Duration;

use libp2p::{
    StreamProtocol, autonat, dcutr, gossipsub, identify,
    identity::Keypair,
    kad::{self, store::MemoryStore},
    mdns, ping, relay,
    request_response::{self, ProtocolSupport},
    swarm::{NetworkBehaviour, behaviour::toggle::Toggle},
};

use super::{
    DhtMode, NetConfig,
    direct::{DIRECT_PROTOCOL, DirectCodec},
    gossip_keep_alive::Gossip,
};

/// Identify protocol version: peers speaking another Souk wire version ignore each other.
pub const IDENTIFY_PROTOCOL: &str = "/souk/id/1.0.0";
/// Souk's gossip: gossipsub v1.1 with unsigned envelopes (see [`Behaviour::new`]), under a name of its
/// own, so it never meshes with strictly validating gossipsub (`/meshsub/1.1.0`), which would drop every
/// message it passes on.
pub const GOSSIP_PROTOCOL: &str = "/souk/gossip/1.0.0";
/// Kademlia protocol name: keeps Souk's DHT apart from IPFS and every other libp2p network.
pub const KAD_PROTOCOL: StreamProtocol = StreamProtocol::new("/souk/kad/1.0.0");

#[derive(NetworkBehaviour)]
pub(crate) struct Behaviour {
    pub(crate) identify: identify::Behaviour,
    pub(crate) ping: ping::Behaviour,
    pub(crate) mdns: Toggle<mdns::tokio::Behaviour>,
    pub(crate) kad: kad::Behaviour<MemoryStore>,
    pub(crate) gossipsub: Gossip,
    pub(crate) autonat: autonat::Behaviour,
    pub(crate) relay_client: relay::client::Behaviour,
    pub(crate) relay_server: Toggle<relay::Behaviour>,
    /// Off in Tor mode: hole punching means telling and dialling IP addresses.
    pub(crate) dcutr: Toggle<dcutr::Behaviour>,
    pub(crate) direct: request_response::Behaviour<DirectCodec>,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl Behaviour {
    pub(crate) fn new(
        config: &NetConfig,
        key: &Keypair,
        relay_client: relay::client::Behaviour,
    ) -> Result<Self, BoxError> {
        let peer_id = key.public().to_peer_id();

        let identify = identify::Behaviour::new(
            identify::Config::new(IDENTIFY_PROTOCOL.to_string(), key.public())
                .with_agent_version(config.agent_version.clone())
                // A relay reservation (or any new listener) is told to connected peers at once, so
                // a node reachable only through a relay can be found through the DHT.
                .with_push_listen_addr_updates(true)
                // Tor mode: the loopback listener is tor's, never to be told; the onion address is
                // the external one.
                .with_hide_listen_addrs(config.tor.is_some()),
        );

        let mdns = if config.mdns {
            Some(mdns::tokio::Behaviour::new(
                mdns::Config::default(),
                peer_id,
            )?)
        } else {
            None
        };

        let store = MemoryStore::with_config(
            peer_id,
            kad::store::MemoryStoreConfig {
                max_records: config.max_records_total,
                // MemoryStore refuses values whose length is >= this bound.
                max_value_bytes: config.max_value_bytes.saturating_add(1),
                max_provided_keys: config.max_records_total,
                ..Default::default()
            },
        );
        let mut kad_config = kad::Config::new(KAD_PROTOCOL);
        kad_config
            .set_record_filtering(kad::StoreInserts::FilterBoth)
            .set_record_ttl(Some(config.record_ttl))
            .set_publication_interval(Some(config.record_republish_interval))
            .set_replication_interval(Some(config.record_replication_interval))
            .set_provider_publication_interval(Some(config.provider_republish_interval))
            .set_provider_record_ttl(Some(config.provider_ttl))
            .set_query_timeout(config.query_timeout)
            .set_periodic_bootstrap_interval(config.kad_bootstrap_interval)
            // Room for a full-size value plus key, publisher and protobuf framing.
            .set_max_packet_size(config.max_value_bytes.saturating_mul(2).max(16 * 1024));
        let mut kad = kad::Behaviour::with_config(peer_id, store, kad_config);
        match config.effective_dht_mode() {
            DhtMode::Auto => kad.set_mode(None),
            DhtMode::Server => kad.set_mode(Some(kad::Mode::Server)),
            DhtMode::Client => kad.set_mode(Some(kad::Mode::Client)),
        }

        // Market messages are small and rare, and must be everywhere at once. A node grafts up to
        // `mesh_n` topic peers as soon as it learns their subscription, and accepts every graft up to
        // `mesh_n_high`: an ordinary node's mesh stays near 2 × `mesh_n`, while a node many others
        // connect to (a bootstrap node, a relay: the hub of nodes that reach nobody else) pushes
        // each message to all of them at once instead of leaving most to the next heartbeat's
        // IHAVE. The publisher sends to every topic peer (flood publish, libp2p's default).
        let gossip_config = gossipsub::ConfigBuilder::default()
            .mesh_n_low(config.gossip_mesh_low)
            .mesh_n(config.gossip_mesh_low)
            .mesh_n_high(config.gossip_mesh_high)
            .flood_publish(true)
            .heartbeat_interval(config.gossip_heartbeat)
            // Every market message carries its author's own signature, which the filter checks once
            // per message before anything is forwarded or shown. Gossipsub's own envelope signature
            // is left out: strict validation checked it on every copy, duplicates included, before
            // they were dropped — the largest cost of a busy market — and proved only who passed the
            // bytes on. Envelopes carry no publisher and no sequence number (one with either is
            // refused), messages are named by their content (the same bytes are one message, and
            // nobody can pre-empt another's message with junk under its id), and a refusal is
            // charged to the peer that sent the message.
            .protocol_id(GOSSIP_PROTOCOL, gossipsub::Version::V1_1)
            .validation_mode(gossipsub::ValidationMode::Anonymous)
            .message_id_fn(content_message_id)
            .validate_messages()
            .max_transmit_size(config.max_gossip_bytes)
            .build()?;
        let mut gossipsub =
            gossipsub::Behaviour::new(gossipsub::MessageAuthenticity::Anonymous, gossip_config)?;
        gossipsub
            .with_peer_score(gossip_score_params(), gossip_score_thresholds())
            .map_err(|e| format!("gossip peer scoring: {e}"))?;

        let relay_server = config.relay_server.then(|| {
            let relay_config = match config.bridge {
                Some(_) => bridge_relay_config(),
                None => relay::Config::default(),
            };
            relay::Behaviour::new(peer_id, relay_config)
        });

        let direct = request_response::Behaviour::with_codec(
            DirectCodec::new(config.max_request_bytes, config.max_response_bytes),
            [(DIRECT_PROTOCOL, ProtocolSupport::Full)],
            request_response::Config::default().with_request_timeout(config.request_timeout),
        );

        Ok(Self {
            identify,
            ping: ping::Behaviour::new(ping::Config::new()),
            mdns: Toggle::from(mdns),
            kad,
            gossipsub: Gossip::new(gossipsub),
            autonat: autonat::Behaviour::new(
                peer_id,
                autonat::Config {
                    only_global_ips: !config.probe_private_addresses,
                    ..autonat::Config::default()
                },
            ),
            relay_client,
            relay_server: Toggle::from(relay_server),
            dcutr: Toggle::from(config.tor.is_none().then(|| dcutr::Behaviour::new(peer_id))),
            direct,
        })
    }
}

/// Gossipsub peer scoring (v1.1), on for one reason: a peer that sends messages the book refuses
/// (forged, malformed, expired offers) loses standing with every one — after about 4 it is no longer
/// gossiped to, after about 8 nothing it publishes is taken, after about 9 everything it sends is
/// ignored (graylisted). Nothing rewards a peer (a quiet market would otherwise count against honest
/// ones), and many peers behind one address are not suspicious here (NAT, one machine in tests).
pub(crate) fn gossip_score_params() -> gossipsub::PeerScoreParams {
    gossipsub::PeerScoreParams {
        ip_colocation_factor_weight: 0.0,
        ..gossipsub::PeerScoreParams::default()
    }
}

pub(crate) fn gossip_score_thresholds() -> gossipsub::PeerScoreThresholds {
    gossipsub::PeerScoreThresholds {
        gossip_threshold: -10.0,
        publish_threshold: -50.0,
        graylist_threshold: -80.0,
        ..gossipsub::PeerScoreThresholds::default()
    }
}

/// A market topic's scoring: only invalid messages count (-1 × their number squared, decaying by 1 % a
/// second, so the standing comes back in minutes once the peer stops).
pub(crate) fn gossip_topic_score_params() -> gossipsub::TopicScoreParams {
    gossipsub::TopicScoreParams {
        topic_weight: 1.0,
        time_in_mesh_weight: 0.0,
        first_message_deliveries_weight: 0.0,
        mesh_message_deliveries_weight: 0.0,
        mesh_failure_penalty_weight: 0.0,
        invalid_message_deliveries_weight: -1.0,
        invalid_message_deliveries_decay: 0.99,
        ..gossipsub::TopicScoreParams::default()
    }
}

/// A gossip message's id: a hash of its topic and data, so the same bytes are the same message
/// whoever claims to have published them.
fn content_message_id(message: &gossipsub::Message) -> gossipsub::MessageId {
    use sha2::{Digest, Sha256};
    let mut hash = Sha256::new();
    hash.update(message.topic.as_str().as_bytes());
    hash.update([0]);
    hash.update(&message.data);
    gossipsub::MessageId::new(&hash.finalize()[..20])
}

/// A bridge's relay service. Its circuits carry whole trades between a Tor-mode node and a clearnet
/// one (libp2p's defaults, 2 minutes and 128 KiB, are for the start of a hole punch), and every
/// Tor-mode client arrives from tor's loopback address: limits per peer, none per IP address.
fn bridge_relay_config() -> relay::Config {
    let thirty = std::num::NonZeroU32::MIN.saturating_add(29);
    let two_minutes = Duration::from_secs(2 * 60);
    relay::Config {
        max_reservations: 1024,
        max_reservations_per_peer: 4,
        reservation_rate_limiters: Vec::new(),
        max_circuits: 256,
        max_circuits_per_peer: 16,
        max_circuit_duration: Duration::from_secs(60 * 60),
        max_circuit_bytes: 64 << 20,
        circuit_src_rate_limiters: Vec::new(),
        ..relay::Config::default()
    }
    .reservation_rate_per_peer(thirty, two_minutes)
    .circuit_src_per_peer(thirty, two_minutes)
}
