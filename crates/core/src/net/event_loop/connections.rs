//! Connections and addresses: swarm events about connections and listeners, dialing, what
//! identify and mDNS tell about peers, AutoNAT's verdict and the relayed (`/p2p-circuit`) listeners.
//!
//! Behind a NAT (AutoNAT: private) the node picks relays by itself among the connected peers that
//! offer the relay service (up to `NetConfig::auto_relays`), listens through each (a reservation),
//! announces the relayed addresses as its own (identify, the DHT), and DCUtR tries to turn relayed
//! connections into direct ones. When AutoNAT says public again, the picked relays are let go.
//!
//! Bridges join clearnet and Tor: a relay that announces an onion address and a clearnet one. A
//! Tor-mode node listens through up to `auto_relays` bridges (reached at their onion addresses) and
//! announces the clearnet-side relayed addresses, so clearnet nodes reach it without ever learning
//! where it is; a reachable clearnet node listens through one bridge and announces the onion-side
//! relayed address, so Tor-mode nodes reach it. Each announces only what the other side needs.

use std::collections::HashMap;

use libp2p::{
    Multiaddr, PeerId, autonat, identify, kad,
    multiaddr::Protocol,
    relay,
    swarm::{
        DialError, SwarmEvent,
        dial_opts::{DialOpts, PeerCondition},
    },
};

use super::{EventLoop, NetError, NetEvent, Reply, peer_id_of};

/// Relay offers remembered at most (a flood of peers claiming the service cannot grow the list).
const MAX_RELAY_OFFERS: usize = 64;
use crate::net::{
    NatStatus, Reachability, RelayCircuit,
    behaviour::{BehaviourEvent, KAD_PROTOCOL},
    tor::is_onion,
};

impl EventLoop {
    /// Connection and listener events; behaviour events go on to the dispatch in the root.
    pub(super) fn on_swarm_event(&mut self, event: SwarmEvent<BehaviourEvent>) {
        match event {
            SwarmEvent::Behaviour(event) => self.on_behaviour_event(event),
            SwarmEvent::NewListenAddr { address, .. } => {
                tracing::info!(%address, "listening");
                if is_relayed(&address) {
                    // A reservation granted: others reach this node through the relay at this
                    // address, so it is announced as this node's own (identify, the DHT).
                    self.announce_relayed();
                }
                self.emit(NetEvent::Listening(address));
            }
            SwarmEvent::ListenerClosed {
                listener_id,
                addresses,
                ..
            } => {
                for address in addresses.iter().filter(|a| is_relayed(a)) {
                    self.swarm.remove_external_address(address);
                }
                for circuit in &mut self.circuits {
                    if circuit.listener == Some(listener_id) {
                        tracing::info!(addr = %circuit.addr, "relayed listener closed; renewed on the next connection to the relay");
                        circuit.listener = None;
                    }
                }
                // A picked relay that went away is replaced by another.
                let before = self.circuits.len();
                self.circuits.retain(|c| {
                    !(c.automatic && c.listener.is_none() && !self.swarm.is_connected(&c.relay))
                });
                if self.circuits.len() != before {
                    self.pick_relays();
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
                for (_, reply) in self.dial_waiters.remove(&peer_id).unwrap_or_default() {
                    let _ = reply.send(Ok(peer_id));
                }
                if num_established.get() == 1 {
                    self.emit(NetEvent::PeerConnected(peer_id));
                }
                let relayed = endpoint
                    .get_remote_address()
                    .iter()
                    .any(|p| p == Protocol::P2pCircuit);
                if endpoint.is_dialer() && !relayed {
                    // Where this node reached the peer: the address to ask it for a reservation at.
                    self.reached_at
                        .insert(peer_id, endpoint.get_remote_address().clone());
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
                    self.reached_at.remove(&peer_id);
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
                // The dial they waited for failed: each tries its own address now (or waits again
                // for a dial still under way).
                if let Some(peer) = peer_id
                    && !self.swarm.is_connected(&peer)
                {
                    for (addr, reply) in self.dial_waiters.remove(&peer).unwrap_or_default() {
                        self.dial(addr, reply);
                    }
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

    /// Dials `addr`, answering with the peer once connected. A peer already connected answers at
    /// once; one being dialled already (the start's own dial of a bootstrap peer, another caller)
    /// is not dialled a second time: the request waits for that dial. Two connections to one peer
    /// cost a handshake and, worse, let gossipsub spread what it sends that peer over both, so a
    /// GRAFT could overtake the subscription it depends on and be dropped, leaving the peer out of
    /// the mesh and every message reaching it a heartbeat late.
    pub(super) fn dial(&mut self, addr: Multiaddr, reply: Reply<PeerId>) {
        let peer = peer_id_of(&addr);
        if let Some(peer) = peer
            && self.swarm.is_connected(&peer)
        {
            let _ = reply.send(Ok(peer));
            return;
        }
        let opts = match peer {
            Some(peer) => DialOpts::peer_id(peer)
                .addresses(vec![addr.clone()])
                .condition(PeerCondition::DisconnectedAndNotDialing)
                .build(),
            None => DialOpts::from(addr.clone()),
        };
        let connection_id = opts.connection_id();
        match self.swarm.dial(opts) {
            Ok(()) => {
                self.pending_dial.insert(connection_id, (addr, reply));
            }
            Err(e) => match (peer, e) {
                (Some(peer), DialError::DialPeerConditionFalse(_)) => {
                    self.dial_waiters
                        .entry(peer)
                        .or_default()
                        .push((addr, reply));
                }
                (_, e) => {
                    let _ = reply.send(Err(NetError::Dial {
                        addr: addr.to_string(),
                        reason: e.to_string(),
                    }));
                }
            },
        }
    }

    /// What identify told of a peer: its listen addresses, for the DHT's routing table; whether it
    /// offers the relay service.
    pub(super) fn on_identified(&mut self, peer_id: PeerId, info: identify::Info) {
        self.announced
            .record_from_peer(peer_id, info.listen_addrs.iter().cloned());
        if info.protocols.contains(&relay::HOP_PROTOCOL_NAME) {
            if self.relay_offers.len() < MAX_RELAY_OFFERS {
                self.relay_offers.insert(peer_id);
                let onion = info.listen_addrs.iter().any(is_onion);
                let clear = info
                    .listen_addrs
                    .iter()
                    .any(|a| !is_onion(a) && !is_relayed(a));
                if onion && clear {
                    self.bridge_offers.insert(peer_id);
                } else {
                    self.bridge_offers.remove(&peer_id);
                }
            }
            self.pick_relays();
        } else {
            self.relay_offers.remove(&peer_id);
            self.bridge_offers.remove(&peer_id);
        }
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

    /// Peers mDNS found on the LAN: dialed unless already connected.
    pub(super) fn on_lan_peers(&mut self, found: Vec<(PeerId, Multiaddr)>) {
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

    /// AutoNAT's verdict changed: in automatic DHT mode, a public node serves the DHT, otherwise
    /// Kademlia picks its mode itself.
    pub(super) fn on_nat_status(&mut self, old: autonat::NatStatus, new: autonat::NatStatus) {
        tracing::info!(?old, ?new, "NAT status changed");
        self.private = new == autonat::NatStatus::Private;
        if !self.onion_only() {
            match new {
                autonat::NatStatus::Private => self.pick_relays(),
                autonat::NatStatus::Public(_) => self.drop_picked_relays(),
                autonat::NatStatus::Unknown => {}
            }
            self.announce_relayed();
        }
        if self.auto_dht_mode {
            let mode = match new {
                autonat::NatStatus::Public(_) => Some(kad::Mode::Server),
                _ => None,
            };
            self.kad().set_mode(mode);
        }
    }

    pub(super) fn reachability(&self) -> Reachability {
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
                    .find(|a| crate::net::relay_of(a) == Some(c.relay))
                    .map(|a| (*a).clone()),
                automatic: c.automatic,
            })
            .collect();
        Reachability {
            nat,
            external_addrs: self.swarm.external_addresses().cloned().collect(),
            relays,
            relay_server: behaviour.relay_server.is_enabled(),
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

    /// Listens through more relays until enough are picked: connected peers that offer the relay
    /// service, reached at an address this node dialled, not picked yet. Behind a NAT,
    /// `auto_relays` of any kind; in Tor mode, `auto_relays` bridges; a reachable clearnet node,
    /// one bridge; a bridge needs none.
    pub(super) fn pick_relays(&mut self) {
        let (wanted, offers) = if self.onion_only() {
            (self.auto_relays, &self.bridge_offers)
        } else if self.private {
            (self.auto_relays, &self.relay_offers)
        } else if self.bridge {
            (0, &self.bridge_offers)
        } else {
            (self.auto_relays.min(1), &self.bridge_offers)
        };
        if wanted == 0 {
            return;
        }
        let picked = self.circuits.iter().filter(|c| c.automatic).count();
        let mut offers: Vec<(PeerId, Multiaddr)> = offers
            .iter()
            .filter_map(|peer| self.reached_at.get(peer).map(|at| (*peer, at.clone())))
            .filter(|(peer, _)| {
                self.swarm.is_connected(peer) && !self.circuits.iter().any(|c| c.relay == *peer)
            })
            .collect();
        offers.sort_by_key(|(peer, _)| peer.to_bytes());
        for (relay, at) in offers.into_iter().take(wanted.saturating_sub(picked)) {
            let base: Multiaddr = at
                .iter()
                .filter(|p| !matches!(p, Protocol::P2p(_)))
                .collect();
            let addr = base.with(Protocol::P2p(relay)).with(Protocol::P2pCircuit);
            tracing::info!(%relay, %addr, bridge = self.bridge_offers.contains(&relay), "listening through a relay");
            self.circuits.push(super::Circuit {
                relay,
                addr,
                listener: None,
                automatic: true,
            });
            self.listen_through(relay);
        }
    }

    /// Reachable directly again: the relays picked behind the NAT are let go (configured ones stay),
    /// but for one bridge, kept for Tor-mode nodes.
    fn drop_picked_relays(&mut self) {
        let keep = self
            .circuits
            .iter()
            .find(|c| c.automatic && self.bridge_offers.contains(&c.relay))
            .map(|c| c.relay)
            .filter(|_| !self.bridge && self.auto_relays > 0);
        for circuit in self
            .circuits
            .iter()
            .filter(|c| c.automatic && Some(c.relay) != keep)
        {
            if let Some(listener) = circuit.listener {
                self.swarm.remove_listener(listener);
            }
        }
        self.circuits
            .retain(|c| !c.automatic || Some(c.relay) == keep);
        self.pick_relays();
    }

    /// Announces the relayed addresses this node listens on that others need, and withdraws the
    /// rest: in Tor mode the clearnet side of its bridges (Tor reaches its onion address); on a
    /// clearnet node the relays its config names, and of the relays it picked the onion side
    /// (clearnet reaches it directly), or all behind a NAT.
    fn announce_relayed(&mut self) {
        let relayed: Vec<Multiaddr> = self
            .swarm
            .listeners()
            .filter(|a| is_relayed(a))
            .cloned()
            .collect();
        for addr in relayed {
            let configured = self
                .circuits
                .iter()
                .any(|c| !c.automatic && Some(c.relay) == crate::net::relay_of(&addr));
            let wanted = if self.onion_only() {
                !is_onion(&addr)
            } else {
                configured || self.private || is_onion(&addr)
            };
            if wanted {
                self.swarm.add_external_address(addr);
            } else {
                self.swarm.remove_external_address(&addr);
            }
        }
    }

    pub(super) fn usable_peer_addr(&self, addr: &Multiaddr) -> bool {
        if self.onion_only() {
            return is_onion(addr);
        }
        if is_onion(addr) && !self.bridge {
            // Only a node with its own tor can reach an onion address (or a relay at one).
            return false;
        }
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

fn is_relayed(addr: &Multiaddr) -> bool {
    addr.iter().any(|p| p == Protocol::P2pCircuit)
}
