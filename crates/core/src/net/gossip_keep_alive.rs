//! Gossipsub, except that its substreams do not hold a connection open.
//!
//! libp2p keeps a connection alive while any of its substreams is open, and gossipsub keeps one
//! substream each way open for as long as the connection lasts, so no connection that ever spoke
//! gossip went idle: a node stayed connected to every peer it met (DHT lookups, bootstrap, a chat),
//! which at a few hundred peers is hundreds of sockets and their buffers (libp2p/rust-libp2p#5190,
//! open upstream). Gossipsub's own rule is the intended one — a connection is kept while the peer
//! is in one of this node's gossip meshes — so this wrapper marks gossip's substreams as not
//! counting ([`libp2p::Stream::ignore_for_keep_alive`]) and leaves everything else to gossipsub:
//! mesh peers stay connected, other connections close `idle_connection_timeout` after their last
//! request (DHT, direct, identify) like any other.

use std::task::{Context, Poll};

use futures::future::Either;
use libp2p::{
    Multiaddr, PeerId,
    core::{Endpoint, transport::PortUse},
    gossipsub,
    swarm::{
        ConnectionDenied, ConnectionHandler, ConnectionHandlerEvent, ConnectionId, FromSwarm,
        NetworkBehaviour, SubstreamProtocol, THandlerInEvent, THandlerOutEvent, ToSwarm,
        handler::{ConnectionEvent, FullyNegotiatedInbound, FullyNegotiatedOutbound},
    },
};

type GossipHandler = <gossipsub::Behaviour as NetworkBehaviour>::ConnectionHandler;

/// [`gossipsub::Behaviour`] whose substreams do not keep connections alive (see the module).
pub(crate) struct Gossip(gossipsub::Behaviour);

impl Gossip {
    pub(crate) fn new(inner: gossipsub::Behaviour) -> Self {
        Self(inner)
    }
}

impl std::ops::Deref for Gossip {
    type Target = gossipsub::Behaviour;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl std::ops::DerefMut for Gossip {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

impl NetworkBehaviour for Gossip {
    type ConnectionHandler = Handler;
    type ToSwarm = gossipsub::Event;

    fn handle_pending_inbound_connection(
        &mut self,
        connection_id: ConnectionId,
        local_addr: &Multiaddr,
        remote_addr: &Multiaddr,
    ) -> Result<(), ConnectionDenied> {
        self.0
            .handle_pending_inbound_connection(connection_id, local_addr, remote_addr)
    }

    fn handle_established_inbound_connection(
        &mut self,
        connection_id: ConnectionId,
        peer: PeerId,
        local_addr: &Multiaddr,
        remote_addr: &Multiaddr,
    ) -> Result<Handler, ConnectionDenied> {
        self.0
            .handle_established_inbound_connection(connection_id, peer, local_addr, remote_addr)
            .map(Handler)
    }

    fn handle_pending_outbound_connection(
        &mut self,
        connection_id: ConnectionId,
        maybe_peer: Option<PeerId>,
        addresses: &[Multiaddr],
        effective_role: Endpoint,
    ) -> Result<Vec<Multiaddr>, ConnectionDenied> {
        self.0.handle_pending_outbound_connection(
            connection_id,
            maybe_peer,
            addresses,
            effective_role,
        )
    }

    fn handle_established_outbound_connection(
        &mut self,
        connection_id: ConnectionId,
        peer: PeerId,
        addr: &Multiaddr,
        role_override: Endpoint,
        port_use: PortUse,
    ) -> Result<Handler, ConnectionDenied> {
        self.0
            .handle_established_outbound_connection(
                connection_id,
                peer,
                addr,
                role_override,
                port_use,
            )
            .map(Handler)
    }

    fn on_swarm_event(&mut self, event: FromSwarm) {
        self.0.on_swarm_event(event)
    }

    fn on_connection_handler_event(
        &mut self,
        peer_id: PeerId,
        connection_id: ConnectionId,
        event: THandlerOutEvent<Self>,
    ) {
        self.0
            .on_connection_handler_event(peer_id, connection_id, event)
    }

    fn poll(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<ToSwarm<Self::ToSwarm, THandlerInEvent<Self>>> {
        self.0.poll(cx)
    }
}

/// Gossipsub's connection handler; each substream it is handed is first marked as not keeping
/// the connection alive. Whether the connection stays is then gossipsub's own answer (in a mesh).
pub(crate) struct Handler(GossipHandler);

impl ConnectionHandler for Handler {
    type FromBehaviour = <GossipHandler as ConnectionHandler>::FromBehaviour;
    type ToBehaviour = <GossipHandler as ConnectionHandler>::ToBehaviour;
    type InboundProtocol = <GossipHandler as ConnectionHandler>::InboundProtocol;
    type OutboundProtocol = <GossipHandler as ConnectionHandler>::OutboundProtocol;
    type InboundOpenInfo = <GossipHandler as ConnectionHandler>::InboundOpenInfo;
    type OutboundOpenInfo = <GossipHandler as ConnectionHandler>::OutboundOpenInfo;

    fn listen_protocol(&self) -> SubstreamProtocol<Self::InboundProtocol, Self::InboundOpenInfo> {
        self.0.listen_protocol()
    }

    fn connection_keep_alive(&self) -> bool {
        self.0.connection_keep_alive()
    }

    fn poll(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<
        ConnectionHandlerEvent<Self::OutboundProtocol, Self::OutboundOpenInfo, Self::ToBehaviour>,
    > {
        self.0.poll(cx)
    }

    fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<Option<Self::ToBehaviour>> {
        self.0.poll_close(cx)
    }

    fn on_behaviour_event(&mut self, event: Self::FromBehaviour) {
        self.0.on_behaviour_event(event)
    }

    fn on_connection_event(
        &mut self,
        mut event: ConnectionEvent<
            Self::InboundProtocol,
            Self::OutboundProtocol,
            Self::InboundOpenInfo,
            Self::OutboundOpenInfo,
        >,
    ) {
        match &mut event {
            ConnectionEvent::FullyNegotiatedInbound(FullyNegotiatedInbound {
                protocol: Either::Left((framed, _)),
                ..
            }) => framed.ignore_for_keep_alive(),
            ConnectionEvent::FullyNegotiatedOutbound(FullyNegotiatedOutbound {
                protocol: (framed, _),
                ..
            }) => framed.ignore_for_keep_alive(),
            _ => {}
        }
        self.0.on_connection_event(event)
    }
}
