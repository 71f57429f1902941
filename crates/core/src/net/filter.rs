//! The gate every inbound record, provider announcement and gossip message passes before this node
//! stores, forwards or shows it.
//!
//! Filters run inside the swarm's event loop, so they must be synchronous and cheap (signature and
//! size checks, key ↔ content checks). They must never touch the database or wait on I/O: anything
//! slow belongs behind the `NetEvent` stream, after the network layer has accepted the data.

use libp2p::{PeerId, kad};

/// Decides whether inbound data from the network is acceptable.
///
/// A refusal carries a reason a person can read; the network layer logs it at debug, counts it in
/// [`super::NetStats`] and reports it as [`super::NetEvent::Refused`].
pub trait InboundFilter: Send + Sync + 'static {
    /// A record a peer asks us to store (`from` is the peer that sent it), or one a lookup returned.
    fn check_record(&self, from: &PeerId, record: &kad::Record) -> Result<(), String>;

    /// A gossip message on `topic`; `from` is the peer that passed it on (not necessarily its
    /// author: judge the data, which must carry its own signature).
    fn check_gossip(&self, topic: &str, data: &[u8], from: &PeerId) -> Result<(), String>;

    /// A peer announcing itself as a provider of `key`. Kademlia already guarantees the announcer
    /// is the connected peer itself; by default every such announcement is accepted (quotas still
    /// apply).
    fn check_provider(&self, from: &PeerId, key: &[u8]) -> Result<(), String> {
        let _ = (from, key);
        Ok(())
    }
}

/// Accepts everything. For tests and tools only: a real node validates what it stores.
#[derive(Debug, Clone, Copy, Default)]
pub struct AcceptAll;

impl InboundFilter for AcceptAll {
    fn check_record(&self, _from: &PeerId, _record: &kad::Record) -> Result<(), String> {
        Ok(())
    }

    fn check_gossip(&self, _topic: &str, _data: &[u8], _from: &PeerId) -> Result<(), String> {
        Ok(())
    }
}
