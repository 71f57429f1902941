//! The Kademlia DHT: records and provider announcements we publish or look up for the client,
//! and what peers ask us to store, which passes the filter and the per-peer quota first.

use std::time::{Duration, Instant};

use libp2p::{
    Multiaddr, PeerId,
    kad::{
        self, AddProviderPhase, GetProvidersOk, GetRecordOk, InboundRequest, PutRecordError,
        PutRecordPhase, QueryId, QueryInfo, QueryResult, Quorum, Record, RecordKey,
        store::RecordStore,
    },
    swarm::dial_opts::{DialOpts, PeerCondition},
};

use super::{EventLoop, NetError, NetEvent, Reply, short_hex};
use crate::net::quota::Entry;

impl EventLoop {
    pub(super) fn put_record(
        &mut self,
        key: Vec<u8>,
        value: Vec<u8>,
        ttl: Duration,
        reply: Reply<usize>,
    ) {
        if value.len() > self.max_value_bytes {
            let _ = reply.send(Err(NetError::RecordTooLarge {
                size: value.len(),
                max: self.max_value_bytes,
            }));
            return;
        }
        let mut record = Record::new(key, value);
        record.expires = Instant::now().checked_add(ttl);
        record.publisher = Some(self.local_peer_id);
        // From now on the record is ours, not charged to whichever peer stored it here before.
        self.quotas.release_record(&record.key);
        // Stored here first (from here it is republished on schedule), then sent to the closest
        // peers the search finds. Two steps rather than libp2p's `put_record`, which sends nothing
        // when its search for the closest peers runs out of time (a slow or vanished peer among
        // them, a busy network): here the peers found by then get the record.
        match self.kad().store_mut().put(record.clone()) {
            Ok(()) => {
                let id = self.kad().get_closest_peers(record.key.to_vec());
                self.pending_put_search.insert(id, (record, reply));
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

    /// Ends the search of every query that publishes (our puts, provider announcements, libp2p's
    /// republishing) once it has run for `search_limit`: the closest peers that answered by then
    /// get the record or announcement, with a timeout of their own. libp2p sends them only when the
    /// search ends, and one that runs out of the query's time sends nothing at all; a search that
    /// long is held up by slow or vanished peers among the closest, not still finding closer ones.
    pub(super) fn cut_long_searches(&mut self) {
        let limit = self.search_limit;
        let Self {
            swarm,
            pending_put_search,
            ..
        } = self;
        for mut query in swarm.behaviour_mut().kad.iter_queries_mut() {
            let publishing = match query.info() {
                QueryInfo::AddProvider {
                    phase: AddProviderPhase::GetClosestPeers,
                    ..
                }
                | QueryInfo::PutRecord {
                    phase: PutRecordPhase::GetClosestPeers,
                    ..
                } => true,
                QueryInfo::GetClosestPeers { .. } => pending_put_search.contains_key(&query.id()),
                _ => false,
            };
            if publishing && query.stats().duration().is_some_and(|d| d >= limit) {
                tracing::debug!(query = ?query.id(), "search of a publishing query cut at its limit");
                query.finish();
            }
        }
    }

    /// The locally stored, unexpired record for `key`, if it still passes the filter. A foreign
    /// record that no longer passes is dropped from the store.
    pub(super) fn accepted_local_record(&mut self, key: &RecordKey) -> Option<Record> {
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

    pub(super) fn get_record(&mut self, key: Vec<u8>, reply: Reply<Option<Vec<u8>>>) {
        let key = RecordKey::from(key);
        if let Some(record) = self.accepted_local_record(&key) {
            let _ = reply.send(Ok(Some(record.value)));
            return;
        }
        let id = self.kad().get_record(key);
        self.pending_get.insert(id, reply);
    }

    pub(super) fn on_kad_event(&mut self, event: kad::Event) {
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
                id,
                result,
                step,
                stats,
            } => self.on_query_progress(id, result, step.last, &stats),
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

    /// The search for `record`'s closest peers ended: they get it, and the answer is how many stored
    /// it. A search that ran out of time still names the closest peers that answered by then.
    ///
    /// The answer waits for all of them, not the first: with a quorum of one, libp2p ends the query
    /// at the first peer that confirms (the others may not hold the record yet, and one it was
    /// still dialling never gets it), and the caller learns only "one".
    fn put_to_closest(
        &mut self,
        record: Record,
        search: &Result<kad::GetClosestPeersOk, kad::GetClosestPeersError>,
        reply: Reply<usize>,
    ) {
        let found = match search {
            Ok(ok) => &ok.peers,
            Err(kad::GetClosestPeersError::Timeout { peers, .. }) => peers,
        };
        if found.is_empty() {
            let _ = reply.send(Ok(0));
            return;
        }
        tracing::debug!(
            key = %short_hex(record.key.as_ref()),
            found = found.len(),
            timed_out = search.is_err(),
            "sending a record to the closest peers found"
        );
        let peers: Vec<PeerId> = found.iter().map(|p| p.peer_id).collect();
        let sent_to = peers.len();
        let id = self
            .kad()
            .put_record_to(record, peers.into_iter(), Quorum::All);
        self.pending_put.insert(id, (sent_to, reply));
    }

    /// A record or provider lookup answered its caller after `stats`' requests.
    fn note_lookup(&mut self, stats: &kad::QueryStats) {
        self.counters.dht_lookups += 1;
        self.counters.dht_lookup_requests += u64::from(stats.num_requests());
    }

    fn on_query_progress(
        &mut self,
        id: QueryId,
        result: QueryResult,
        last: bool,
        stats: &kad::QueryStats,
    ) {
        match result {
            QueryResult::PutRecord(result) => {
                let Some((sent_to, reply)) = self.pending_put.remove(&id) else {
                    return;
                };
                // Quorum::All: success means every peer it went to stored it.
                let stored_on = match &result {
                    Ok(_) => sent_to,
                    Err(PutRecordError::QuorumFailed { success, .. })
                    | Err(PutRecordError::Timeout { success, .. }) => success.len(),
                };
                tracing::debug!(sent_to, stored_on, error = ?result.err(), "put finished");
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
                            self.note_lookup(stats);
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
                            self.note_lookup(stats);
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
                    self.note_lookup(stats);
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
                        if let Some(pending) = self.pending_providers.get_mut(&id) {
                            for provider in providers {
                                if pending.found.insert(provider)
                                    && let Some(progress) = &pending.progress
                                {
                                    let _ = progress.send(provider);
                                }
                            }
                        }
                        last
                    }
                    Ok(GetProvidersOk::FinishedWithNoAdditionalRecord { .. }) => true,
                    Err(e) => {
                        tracing::debug!(%e, "provider lookup timed out");
                        true
                    }
                };
                if finished && let Some(pending) = self.pending_providers.remove(&id) {
                    let _ = pending.reply.send(Ok(pending.found));
                    self.note_lookup(stats);
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
                if let Ok(ok) = &result {
                    for peer in &ok.peers {
                        self.announced
                            .record_from_dht(peer.peer_id, peer.addrs.iter().cloned());
                    }
                }
                if let Some((record, reply)) = self.pending_put_search.remove(&id) {
                    self.put_to_closest(record, &result, reply);
                    return;
                }
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
                    .filter(|a| self.usable_peer_addr(a))
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
}

pub(super) fn still_stored(
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
