//! The handle the rest of the app holds: every method sends one [`Command`] to the network task and
//! awaits its reply. Cheap to clone; all clones talk to the same task.

use std::{collections::HashSet, time::Duration};

use libp2p::{Multiaddr, PeerId};
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;

use super::{InboundId, NetError, NetEvent, NetStats, event_loop::Command};

#[derive(Clone)]
pub struct NetClient {
    tx: mpsc::Sender<Command>,
    events: broadcast::Sender<NetEvent>,
    cancel: CancellationToken,
    done: watch::Receiver<()>,
    local_peer_id: PeerId,
}

impl std::fmt::Debug for NetClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NetClient")
            .field("local_peer_id", &self.local_peer_id)
            .field("stopped", &self.cancel.is_cancelled())
            .finish()
    }
}

type Reply<T> = oneshot::Sender<Result<T, NetError>>;

impl NetClient {
    pub(crate) fn new(
        tx: mpsc::Sender<Command>,
        events: broadcast::Sender<NetEvent>,
        cancel: CancellationToken,
        done: watch::Receiver<()>,
        local_peer_id: PeerId,
    ) -> Self {
        Self {
            tx,
            events,
            cancel,
            done,
            local_peer_id,
        }
    }

    async fn call<T>(&self, command: impl FnOnce(Reply<T>) -> Command) -> Result<T, NetError> {
        if self.cancel.is_cancelled() {
            return Err(NetError::Stopped);
        }
        let (reply, response) = oneshot::channel();
        self.tx
            .send(command(reply))
            .await
            .map_err(|_| NetError::Stopped)?;
        response.await.map_err(|_| NetError::Stopped)?
    }

    pub fn local_peer_id(&self) -> PeerId {
        self.local_peer_id
    }

    /// A new receiver of [`NetEvent`]s (from now on).
    pub fn subscribe_events(&self) -> broadcast::Receiver<NetEvent> {
        self.events.subscribe()
    }

    /// The addresses we listen on (without `/p2p`; see [`Self::local_peer_id`]).
    pub async fn listen_addrs(&self) -> Result<Vec<Multiaddr>, NetError> {
        self.call(Command::ListenAddrs).await
    }

    /// Connect to `addr`; returns the peer once a connection is established.
    pub async fn dial(&self, addr: Multiaddr) -> Result<PeerId, NetError> {
        self.call(|r| Command::Dial(addr, r)).await
    }

    /// Run a Kademlia bootstrap; `Err(NoKnownPeers)` when the routing table is empty.
    pub async fn bootstrap(&self) -> Result<(), NetError> {
        self.call(Command::Bootstrap).await
    }

    /// Store a record locally (expiring after `ttl`) and replicate it to the closest peers the DHT
    /// finds (up to 20), waiting for each to answer or fail. Succeeds even with no peer; returns on
    /// how many peers it is stored.
    ///
    /// A peer confirms a put before its own filter has judged it: a confirmation means "received",
    /// not "will serve".
    pub async fn put_record(
        &self,
        key: Vec<u8>,
        value: Vec<u8>,
        ttl: Duration,
    ) -> Result<usize, NetError> {
        self.call(|reply| Command::PutRecord {
            key,
            value,
            ttl,
            reply,
        })
        .await
    }

    /// The value for `key`: from the local store if present, otherwise from the DHT. Every record
    /// returned passes the [`super::InboundFilter`] again.
    pub async fn get_record(&self, key: Vec<u8>) -> Result<Option<Vec<u8>>, NetError> {
        self.call(|r| Command::GetRecord(key, r)).await
    }

    /// The value for `key` in the local store only (no network).
    pub async fn local_record(&self, key: Vec<u8>) -> Result<Option<Vec<u8>>, NetError> {
        self.call(|r| Command::LocalRecord(key, r)).await
    }

    /// The providers of `key` this node's own store holds (what it would answer a lookup with),
    /// without a lookup.
    pub async fn local_providers(&self, key: Vec<u8>) -> Result<Vec<PeerId>, NetError> {
        self.call(|r| Command::LocalProviders(key, r)).await
    }

    /// Announce this node as a provider of `key` (renewed on schedule while running).
    pub async fn start_providing(&self, key: Vec<u8>) -> Result<(), NetError> {
        self.call(|r| Command::StartProviding(key, r)).await
    }

    pub async fn stop_providing(&self, key: Vec<u8>) -> Result<(), NetError> {
        self.call(|r| Command::StopProviding(key, r)).await
    }

    /// Every provider of `key` found locally and in the DHT.
    pub async fn get_providers(&self, key: Vec<u8>) -> Result<HashSet<PeerId>, NetError> {
        self.call(|r| Command::GetProviders(key, None, r)).await
    }

    /// [`Self::get_providers`], sending each provider on `found` as soon as the lookup meets it
    /// (the local store's first): a caller can act on the first while the lookup runs on, up to
    /// its timeout when a peer on the way does not answer.
    pub async fn get_providers_as_found(
        &self,
        key: Vec<u8>,
        found: mpsc::UnboundedSender<PeerId>,
    ) -> Result<HashSet<PeerId>, NetError> {
        self.call(|r| Command::GetProviders(key, Some(found), r))
            .await
    }

    /// Subscribe to a gossip topic; `Ok(false)` if already subscribed.
    /// Looks `peer` up in the DHT when not connected, and dials the addresses found. `true` when
    /// connected already or addresses were found (the dial may still fail); `false` when nobody knew.
    pub async fn find_peer(&self, peer: PeerId) -> Result<bool, NetError> {
        self.call(|reply| Command::FindPeer(peer, reply)).await
    }

    /// How each of `peers` can be reached, from what it announced (identify, DHT lookups).
    pub async fn reach_of(&self, peers: Vec<PeerId>) -> Result<Vec<super::PeerReach>, NetError> {
        let announced = self.call(|r| Command::Announced(peers, r)).await?;
        Ok(announced.iter().map(|a| super::PeerReach::of(a)).collect())
    }

    /// Asks the DHT where `peer` is, without dialling it (at most once a minute per peer): what it
    /// finds feeds [`NetClient::reach_of`].
    pub async fn look_up(&self, peer: PeerId) -> Result<(), NetError> {
        self.call(|r| Command::LookUp(peer, r)).await
    }

    pub async fn subscribe(&self, topic: &str) -> Result<bool, NetError> {
        let topic = topic.to_owned();
        self.call(|r| Command::Subscribe(topic, r)).await
    }

    /// Unsubscribe; `Ok(false)` if we were not subscribed.
    pub async fn unsubscribe(&self, topic: &str) -> Result<bool, NetError> {
        let topic = topic.to_owned();
        self.call(|r| Command::Unsubscribe(topic, r)).await
    }

    /// Publish on `topic`. Returns how many known peers are subscribed to it; `Ok(0)` when nobody
    /// is (not an error: a fresh node often has no gossip peers yet).
    pub async fn publish(&self, topic: &str, data: Vec<u8>) -> Result<usize, NetError> {
        let topic = topic.to_owned();
        self.call(|r| Command::Publish(topic, data, r)).await
    }

    /// Ask `peer` over [`super::DIRECT_PROTOCOL`] and wait for its answer. Dials the peer if we
    /// are not connected (addresses from Kademlia, mDNS or earlier connections); the
    /// [`super::NetConfig::request_timeout`] runs once the request is on its way, dialing comes
    /// before it.
    ///
    /// Fails with [`NetError::RequestTooLarge`] before sending anything,
    /// [`NetError::RequestTimedOut`], [`NetError::RequestRefused`] (the peer is busy or has nobody
    /// to answer: retry later), [`NetError::ResponseTooLarge`], or [`NetError::RequestFailed`].
    pub async fn request(&self, peer: PeerId, data: Vec<u8>) -> Result<Vec<u8>, NetError> {
        self.call(|reply| Command::Request { peer, data, reply })
            .await
    }

    /// Answer the inbound request `id` (from a [`NetEvent::Request`]). Fails with
    /// [`NetError::UnknownRequest`] when it was already answered or has expired,
    /// [`NetError::RequestClosed`] when it expired just now, and [`NetError::AnswerTooLarge`]
    /// (the request stays answerable) when `data` is over our limit.
    pub async fn respond(&self, id: InboundId, data: Vec<u8>) -> Result<(), NetError> {
        self.call(|reply| Command::Respond { id, data, reply })
            .await
    }

    pub async fn connected_peers(&self) -> Result<Vec<PeerId>, NetError> {
        self.call(Command::ConnectedPeers).await
    }

    pub async fn stats(&self) -> Result<NetStats, NetError> {
        self.call(Command::Stats).await
    }

    /// AutoNAT's verdict, confirmed external addresses and relay reservations.
    pub async fn reachability(&self) -> Result<super::Reachability, NetError> {
        self.call(Command::Reachability).await
    }

    /// Stop the network task and wait until it has ended (all connections dropped). Idempotent;
    /// afterwards every method returns [`NetError::Stopped`].
    pub async fn shutdown(&self) {
        self.cancel.cancel();
        let mut done = self.done.clone();
        // `changed` fails once the task has dropped its sender, i.e. has ended.
        while done.changed().await.is_ok() {}
    }
}
