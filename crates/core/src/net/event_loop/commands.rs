//! What the rest of the app asks through its [`NetClient`](super::super::NetClient): each
//! [`Command`] is routed to the protocol that answers it, or answered here (listeners, peers, stats).

use std::collections::HashSet;

use libp2p::kad::{RecordKey, store::RecordStore};

use super::{Command, EventLoop, NetError, NetStats, gossip::gossip_topic};
use crate::net::behaviour;

impl EventLoop {
    pub(super) fn on_command(&mut self, command: Command) {
        match command {
            Command::ListenAddrs(reply) => {
                // In Tor mode the loopback listener is tor's business: the onion address is ours.
                // A bridge tells its onion address next to its listeners (what Tor users dial).
                let addrs = if self.onion_only() {
                    self.swarm.external_addresses().cloned().collect()
                } else {
                    let onion = self
                        .swarm
                        .external_addresses()
                        .filter(|a| self.bridge && crate::net::tor::is_onion(a));
                    self.swarm.listeners().chain(onion).cloned().collect()
                };
                let _ = reply.send(Ok(addrs));
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
            Command::LocalProviders(key, reply) => {
                let now = std::time::Instant::now();
                let providers = self.kad().store_mut().providers(&RecordKey::from(key));
                let live = providers.into_iter().filter(|p| !p.is_expired(now));
                let _ = reply.send(Ok(live.map(|p| p.provider).collect()));
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
            Command::GetProviders(key, progress, reply) => {
                let id = self.kad().get_providers(RecordKey::from(key));
                self.pending_providers.insert(
                    id,
                    super::PendingProviders {
                        found: HashSet::new(),
                        progress,
                        reply,
                    },
                );
            }
            Command::FindPeer(peer, reply) => {
                if self.swarm.is_connected(&peer) {
                    let _ = reply.send(Ok(true));
                } else {
                    let id = self.kad().get_closest_peers(peer);
                    self.pending_find.insert(id, (peer, reply));
                }
            }
            Command::Announced(peers, reply) => {
                let _ = reply.send(Ok(peers.iter().map(|p| self.announced.get(p)).collect()));
            }
            Command::LookUp(peer, reply) => {
                if peer != self.local_peer_id
                    && self.announced.may_look_up(peer, std::time::Instant::now())
                {
                    self.kad().get_closest_peers(peer);
                }
                let _ = reply.send(Ok(()));
            }
            Command::Subscribe(topic, reply) => {
                let result = gossip_topic(&topic).and_then(|t| {
                    let gossipsub = &mut self.swarm.behaviour_mut().gossipsub;
                    gossipsub
                        .set_topic_params(t.clone(), behaviour::gossip_topic_score_params())
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

    fn stats(&mut self) -> NetStats {
        let connected_peers = self.swarm.connected_peers().count();
        let connections = self
            .swarm
            .network_info()
            .connection_counters()
            .num_established() as usize;
        let kad = self.kad();
        let routing_table_size = kad.kbuckets().map(|b| b.num_entries()).sum();
        let stored_records = kad.store_mut().records().count();
        let gossipsub = &self.swarm.behaviour().gossipsub;
        let gossip_mesh_peers = gossipsub
            .topics()
            .map(|t| gossipsub.mesh_peers(t).count())
            .sum();
        let graylist = behaviour::gossip_score_thresholds().graylist_threshold;
        let gossip_graylisted = self
            .swarm
            .connected_peers()
            .filter(|p| gossipsub.peer_score(p).is_some_and(|s| s < graylist))
            .count();
        NetStats {
            gossip_mesh_peers,
            gossip_graylisted,
            connected_peers,
            connections,
            routing_table_size,
            stored_records,
            pending_inbound: self.pending_inbound.len(),
            ..self.counters.clone()
        }
    }
}
