//! Per-peer accounting of what this node stores on behalf of others, so one peer cannot fill the
//! record store. Pure bookkeeping: the event loop asks [`Quotas::admit`] before every inbound insert
//! and tells it when entries disappear.

use std::collections::HashMap;

use libp2p::{PeerId, kad::RecordKey};

/// One stored item charged to a peer: a value record (charged to its sender) or a provider
/// announcement (charged to the provider itself).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Entry {
    Record(RecordKey),
    Provider(RecordKey),
}

#[derive(Debug, Default)]
struct Usage {
    entries: HashMap<Entry, usize>,
    bytes: usize,
}

#[derive(Debug)]
pub(crate) struct Quotas {
    max_entries: usize,
    max_bytes: usize,
    per_peer: HashMap<PeerId, Usage>,
    /// Who a value record is currently charged to (a later put from another peer moves it).
    record_owner: HashMap<RecordKey, PeerId>,
}

impl Quotas {
    pub(crate) fn new(max_entries: usize, max_bytes: usize) -> Self {
        Self {
            max_entries,
            max_bytes,
            per_peer: HashMap::new(),
            record_owner: HashMap::new(),
        }
    }

    /// Would storing `entry` of `size` bytes for `peer` stay within its quota? Replacing an entry
    /// the peer already owns only counts the difference in size.
    pub(crate) fn check(&self, peer: &PeerId, entry: &Entry, size: usize) -> Result<(), String> {
        let usage = self.per_peer.get(peer);
        let (entries, bytes, previous) = match usage {
            Some(u) => (u.entries.len(), u.bytes, u.entries.get(entry).copied()),
            None => (0, 0, None),
        };
        let new_entries = if previous.is_some() {
            entries
        } else {
            entries + 1
        };
        let new_bytes = bytes - previous.unwrap_or(0) + size;
        if new_entries > self.max_entries {
            return Err(format!(
                "per-peer quota: already {entries} records stored (limit {})",
                self.max_entries
            ));
        }
        if new_bytes > self.max_bytes {
            return Err(format!(
                "per-peer quota: {new_bytes} bytes would exceed the limit of {} bytes",
                self.max_bytes
            ));
        }
        Ok(())
    }

    /// Charge `entry` to `peer` (call after the store accepted it).
    pub(crate) fn charge(&mut self, peer: PeerId, entry: Entry, size: usize) {
        if let Entry::Record(key) = &entry
            && let Some(previous_owner) = self.record_owner.insert(key.clone(), peer)
            && previous_owner != peer
        {
            self.uncharge(&previous_owner, &entry);
        }
        let usage = self.per_peer.entry(peer).or_default();
        let previous = usage.entries.insert(entry, size).unwrap_or(0);
        usage.bytes = usage.bytes - previous + size;
    }

    fn uncharge(&mut self, peer: &PeerId, entry: &Entry) {
        if let Some(usage) = self.per_peer.get_mut(peer) {
            if let Some(size) = usage.entries.remove(entry) {
                usage.bytes -= size;
            }
            if usage.entries.is_empty() {
                self.per_peer.remove(peer);
            }
        }
    }

    /// A record left the store (expired, removed, or overwritten by our own put).
    pub(crate) fn release_record(&mut self, key: &RecordKey) {
        if let Some(owner) = self.record_owner.remove(key) {
            self.uncharge(&owner, &Entry::Record(key.clone()));
        }
    }

    /// Drop every entry of `peer` (or of all peers when `None`) for which `still_stored` is false.
    pub(crate) fn reconcile(
        &mut self,
        peer: Option<&PeerId>,
        mut still_stored: impl FnMut(&PeerId, &Entry) -> bool,
    ) {
        let peers: Vec<PeerId> = match peer {
            Some(p) => vec![*p],
            None => self.per_peer.keys().copied().collect(),
        };
        for p in peers {
            let gone: Vec<Entry> = match self.per_peer.get(&p) {
                Some(usage) => usage
                    .entries
                    .keys()
                    .filter(|e| !still_stored(&p, e))
                    .cloned()
                    .collect(),
                None => continue,
            };
            for entry in gone {
                if let Entry::Record(key) = &entry {
                    self.record_owner.remove(key);
                }
                self.uncharge(&p, &entry);
            }
        }
    }

    #[cfg(test)]
    fn usage(&self, peer: &PeerId) -> (usize, usize) {
        self.per_peer
            .get(peer)
            .map_or((0, 0), |u| (u.entries.len(), u.bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(k: &str) -> Entry {
        Entry::Record(RecordKey::new(&k))
    }

    #[test]
    fn counts_and_bytes_are_enforced() {
        let mut q = Quotas::new(2, 100);
        let a = PeerId::random();
        assert!(q.check(&a, &rec("1"), 40).is_ok());
        q.charge(a, rec("1"), 40);
        q.charge(a, rec("2"), 40);
        assert!(q.check(&a, &rec("3"), 1).is_err(), "third entry refused");
        // Replacing an owned entry only counts the size difference.
        assert!(q.check(&a, &rec("2"), 60).is_ok());
        assert!(q.check(&a, &rec("2"), 61).is_err());
        assert_eq!(q.usage(&a), (2, 80));
    }

    #[test]
    fn overwrite_moves_the_charge_and_reconcile_frees() {
        let mut q = Quotas::new(10, 1000);
        let (a, b) = (PeerId::random(), PeerId::random());
        q.charge(a, rec("k"), 10);
        q.charge(b, rec("k"), 20);
        assert_eq!(q.usage(&a), (0, 0));
        assert_eq!(q.usage(&b), (1, 20));
        q.charge(b, Entry::Provider(RecordKey::new(&"p")), 1);
        q.reconcile(None, |_, e| matches!(e, Entry::Provider(_)));
        assert_eq!(q.usage(&b), (1, 1));
        q.release_record(&RecordKey::new(&"missing"));
        q.reconcile(Some(&b), |_, _| false);
        assert_eq!(q.usage(&b), (0, 0));
    }
}
