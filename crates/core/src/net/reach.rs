//! What peers announce about where they can be reached (identify, DHT lookups), kept per peer so the
//! book can say whether an offer's maker is reachable over Tor before anyone dials it.

use std::{
    collections::{HashMap, VecDeque},
    time::{Duration, Instant},
};

use libp2p::{Multiaddr, PeerId, multiaddr::Protocol};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::tor::is_onion;

/// Peers whose announced addresses are kept; the oldest entry makes room for a new peer.
const MAX_PEERS: usize = 4096;
/// Addresses kept per peer (a peer announcing more is cut, not trusted with memory).
const MAX_ADDRS: usize = 16;
/// A peer is looked up in the DHT for its addresses at most this often.
const LOOKUP_EVERY: Duration = Duration::from_secs(60);

/// How a peer can be reached, from the addresses it announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PeerReach {
    /// Nothing announced reached this node yet.
    Unknown,
    /// At clearnet addresses only (directly, or through a relay).
    Clearnet,
    /// At its own onion address and never directly on clearnet: a Tor-mode node. Clearnet nodes
    /// reach it only through a bridge's relay, without learning where it is.
    Tor,
    /// At its onion address and directly on clearnet: a bridge.
    TorAndClearnet,
}

impl PeerReach {
    /// The reach these announced addresses show. Relayed addresses do not make a peer a Tor user
    /// (a clearnet node announces its bridge's onion side); its own onion address does.
    pub fn of(addrs: &[Multiaddr]) -> Self {
        let relayed = |a: &Multiaddr| a.iter().any(|p| p == Protocol::P2pCircuit);
        let own_onion = addrs.iter().any(|a| is_onion(a) && !relayed(a));
        let direct = addrs.iter().any(|a| !is_onion(a) && !relayed(a));
        match (own_onion, direct, addrs.is_empty()) {
            (_, _, true) => Self::Unknown,
            (true, true, _) => Self::TorAndClearnet,
            (true, false, _) => Self::Tor,
            (false, _, _) => Self::Clearnet,
        }
    }
}

/// What is known of one peer's addresses.
#[derive(Debug)]
struct Known {
    addrs: Vec<Multiaddr>,
    /// Told by the peer itself (identify, over a connection authenticated as that peer), not by
    /// DHT servers about it.
    from_peer: bool,
}

/// The addresses each peer announced, bounded: what the peer itself last said (identify) wins over
/// what DHT servers say of it; their answers add up until then. Each server knows only the
/// addresses it can use (a clearnet server drops a Tor-mode node's onion address and keeps its
/// relayed one), so taking the last answer alone made a Tor-mode maker look like a clearnet one
/// whenever such a server answered last.
#[derive(Debug, Default)]
pub(crate) struct Announced {
    addrs: HashMap<PeerId, Known>,
    order: VecDeque<PeerId>,
    looked_up: HashMap<PeerId, Instant>,
}

impl Announced {
    /// What `peer` told of itself (identify): replaces whatever was known.
    pub(crate) fn record_from_peer(
        &mut self,
        peer: PeerId,
        addrs: impl IntoIterator<Item = Multiaddr>,
    ) {
        let mut addrs: Vec<Multiaddr> = addrs.into_iter().take(MAX_ADDRS).collect();
        addrs.dedup();
        if addrs.is_empty() {
            return;
        }
        self.insert(
            peer,
            Known {
                addrs,
                from_peer: true,
            },
        );
    }

    /// What a DHT lookup said of `peer`: added to what other answers said (bounded), ignored once
    /// the peer told its own.
    pub(crate) fn record_from_dht(
        &mut self,
        peer: PeerId,
        addrs: impl IntoIterator<Item = Multiaddr>,
    ) {
        let mut known = match self.addrs.get(&peer) {
            Some(known) if known.from_peer => return,
            Some(known) => known.addrs.clone(),
            None => Vec::new(),
        };
        for addr in addrs {
            if known.len() >= MAX_ADDRS {
                break;
            }
            if !known.contains(&addr) {
                known.push(addr);
            }
        }
        if known.is_empty() {
            return;
        }
        self.insert(
            peer,
            Known {
                addrs: known,
                from_peer: false,
            },
        );
    }

    fn insert(&mut self, peer: PeerId, known: Known) {
        if self.addrs.insert(peer, known).is_none() {
            self.order.push_back(peer);
            while self.order.len() > MAX_PEERS {
                if let Some(old) = self.order.pop_front() {
                    self.addrs.remove(&old);
                }
            }
        }
    }

    pub(crate) fn get(&self, peer: &PeerId) -> Vec<Multiaddr> {
        self.addrs
            .get(peer)
            .map(|k| k.addrs.clone())
            .unwrap_or_default()
    }

    /// Whether `peer` may be looked up now (not within the last minute); remembers that it was.
    pub(crate) fn may_look_up(&mut self, peer: PeerId, now: Instant) -> bool {
        self.looked_up
            .retain(|_, at| now.duration_since(*at) < LOOKUP_EVERY);
        if self.looked_up.contains_key(&peer) || self.looked_up.len() >= MAX_PEERS {
            return false;
        }
        self.looked_up.insert(peer, now);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addrs(list: &[&str]) -> Vec<Multiaddr> {
        list.iter().map(|a| a.parse().unwrap()).collect()
    }

    const ONION: &str = "/onion3/vww6ybal4bd7szmgncyruucpgfkqahzddi37ktceo3ah7ngmcopnpyyd:4001";
    const RELAY: &str = "12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA";

    #[test]
    fn the_reach_follows_the_peers_own_addresses_not_its_relays() {
        assert_eq!(PeerReach::of(&[]), PeerReach::Unknown);
        assert_eq!(
            PeerReach::of(&addrs(&["/ip4/1.2.3.4/tcp/4001"])),
            PeerReach::Clearnet
        );
        // A Tor-mode node: its onion address and a bridge's clearnet side.
        let tor = format!("/ip4/1.2.3.4/tcp/4001/p2p/{RELAY}/p2p-circuit");
        assert_eq!(PeerReach::of(&addrs(&[ONION, &tor])), PeerReach::Tor);
        // A clearnet node with a reservation at a bridge's onion side stays clearnet.
        let clear = format!("{ONION}/p2p/{RELAY}/p2p-circuit");
        assert_eq!(
            PeerReach::of(&addrs(&["/ip4/5.6.7.8/tcp/4001", &clear])),
            PeerReach::Clearnet
        );
        assert_eq!(
            PeerReach::of(&addrs(&[ONION, "/ip4/1.2.3.4/tcp/4001"])),
            PeerReach::TorAndClearnet
        );
    }

    /// A Tor-mode maker as a clearnet taker learns of it before any connection: one DHT server
    /// knows its onion address and relayed one, another (a clearnet server) the relayed one only.
    /// Whatever order the answers come in, the maker is a Tor user; once it speaks for itself, its
    /// own word stands, and servers' answers no longer change it.
    #[test]
    fn dht_answers_add_up_and_the_peers_own_word_wins() {
        let relayed = format!("/ip4/1.2.3.4/tcp/4001/p2p/{RELAY}/p2p-circuit");
        let maker = PeerId::random();
        let mut announced = Announced::default();
        announced.record_from_dht(maker, addrs(&[ONION, &relayed]));
        announced.record_from_dht(maker, addrs(&[&relayed]));
        assert_eq!(PeerReach::of(&announced.get(&maker)), PeerReach::Tor);
        let mut other_order = Announced::default();
        other_order.record_from_dht(maker, addrs(&[&relayed]));
        assert_eq!(PeerReach::of(&other_order.get(&maker)), PeerReach::Clearnet);
        other_order.record_from_dht(maker, addrs(&[ONION, &relayed]));
        assert_eq!(PeerReach::of(&other_order.get(&maker)), PeerReach::Tor);

        // The peer's own identify replaces what servers said; a server claiming more is ignored.
        announced.record_from_peer(maker, addrs(&[ONION]));
        announced.record_from_dht(maker, addrs(&["/ip4/6.6.6.6/tcp/1"]));
        assert_eq!(announced.get(&maker), addrs(&[ONION]));

        // Servers' answers stay bounded too.
        let peer = PeerId::random();
        for p in 0..100 {
            announced.record_from_dht(peer, addrs(&[&format!("/ip4/1.2.3.4/tcp/{p}")]));
        }
        assert_eq!(announced.get(&peer).len(), MAX_ADDRS);
    }

    #[test]
    fn kept_addresses_and_lookups_are_bounded() {
        let mut announced = Announced::default();
        let first = PeerId::random();
        announced.record_from_peer(first, addrs(&["/ip4/1.2.3.4/tcp/1"]));
        for _ in 0..MAX_PEERS {
            announced.record_from_peer(PeerId::random(), addrs(&["/ip4/1.2.3.4/tcp/1"]));
        }
        assert!(
            announced.get(&first).is_empty(),
            "the oldest peer made room"
        );
        assert_eq!(announced.addrs.len(), MAX_PEERS);
        let many: Vec<Multiaddr> = (0..100)
            .map(|p| format!("/ip4/1.2.3.4/tcp/{p}").parse().unwrap())
            .collect();
        let peer = PeerId::random();
        announced.record_from_peer(peer, many);
        assert_eq!(announced.get(&peer).len(), MAX_ADDRS);

        let now = Instant::now();
        assert!(announced.may_look_up(peer, now));
        assert!(!announced.may_look_up(peer, now + Duration::from_secs(1)));
        assert!(announced.may_look_up(peer, now + LOOKUP_EVERY));
    }
}
