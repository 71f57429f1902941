//! Where the records and provider announcements ended up, against where a lookup looks for them.
//! A lookup converges on the key's closest nodes (Kademlia distance over every node's id) and asks
//! those; a key held by few of them, or by none, is one a lookup can miss. Read once, after the
//! puts and announcements and before the lookups (a successful record lookup caches the record at
//! one more node).

use libp2p::{
    PeerId,
    kad::{KBucketKey, RecordKey},
};
use serde::Serialize;

use super::{Spread, host::NodeHoldings};

/// Kademlia's replication factor: how many closest nodes a put or an announcement aims at, and how
/// many a lookup converges on.
pub const CLOSEST: usize = 20;

/// One key: how many nodes hold it, how many of its closest do, and how its lookups fared.
#[derive(Debug, Clone, Default, Serialize)]
pub struct KeyPlacement {
    pub holders: usize,
    /// Of the key's [`CLOSEST`] closest nodes, how many hold it.
    pub closest_holders: usize,
    pub lookups: usize,
    pub found: usize,
}

/// Every key of one kind, and the spread of its placement over the lookups that found and missed.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Placement {
    pub keys: Vec<KeyPlacement>,
    /// Per lookup that found its key: the key's holders, and those among its closest.
    pub found_holders: Spread,
    pub found_closest_holders: Spread,
    /// Per lookup that missed.
    pub missed_holders: Spread,
    pub missed_closest_holders: Spread,
}

impl Placement {
    /// `held(n, k)`: node `n` holds key `k`; `outcomes`: (key index, found) per lookup.
    pub fn of(
        keys: &[Vec<u8>],
        nodes: &[NodeHoldings],
        held: impl Fn(&NodeHoldings, usize) -> bool,
        outcomes: &[(usize, bool)],
    ) -> Self {
        let ids: Vec<Option<KBucketKey<PeerId>>> = nodes
            .iter()
            .map(|n| n.peer.parse::<PeerId>().ok().map(KBucketKey::from))
            .collect();
        let mut placed: Vec<KeyPlacement> = keys
            .iter()
            .enumerate()
            .map(|(k, key)| {
                let target = KBucketKey::new(RecordKey::new(key));
                let mut by_distance: Vec<(usize, _)> = ids
                    .iter()
                    .enumerate()
                    .filter_map(|(i, id)| id.as_ref().map(|id| (i, id.distance(&target))))
                    .collect();
                by_distance.sort_by_key(|&(_, d)| d);
                KeyPlacement {
                    holders: nodes.iter().filter(|n| held(n, k)).count(),
                    closest_holders: by_distance
                        .iter()
                        .take(CLOSEST)
                        .filter(|&&(i, _)| held(&nodes[i], k))
                        .count(),
                    lookups: 0,
                    found: 0,
                }
            })
            .collect();
        let (mut found_holders, mut found_closest) = (Vec::new(), Vec::new());
        let (mut missed_holders, mut missed_closest) = (Vec::new(), Vec::new());
        for &(k, found) in outcomes {
            let Some(key) = placed.get_mut(k) else {
                continue;
            };
            key.lookups += 1;
            key.found += usize::from(found);
            let (holders, closest) = match found {
                true => (&mut found_holders, &mut found_closest),
                false => (&mut missed_holders, &mut missed_closest),
            };
            holders.push(key.holders);
            closest.push(key.closest_holders);
        }
        Self {
            keys: placed,
            found_holders: Spread::of(found_holders),
            found_closest_holders: Spread::of(found_closest),
            missed_holders: Spread::of(missed_holders),
            missed_closest_holders: Spread::of(missed_closest),
        }
    }

    /// Keys held by none of their closest nodes.
    pub fn away_from_closest(&self) -> usize {
        self.keys.iter().filter(|k| k.closest_holders == 0).count()
    }
}
