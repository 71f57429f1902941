//! A name and an avatar for every PeerId, the same on every node, so people can tell peers apart at a
//! glance: "Amber Falcon 07" and a 5×5 mirrored pattern in one hue.
//!
//! Both come from a 64-bit hash of the PeerId's text (FNV-1a, then the SplitMix64 finaliser to spread
//! its bits). The UI computes the same in TypeScript (`ui/src/logic/peerName.ts`) from the word lists and
//! the test vectors generated into `bindings.ts`, so a book and a CLI show the same name.
//!
//! A name is for telling peers apart, not for trusting them: there are 409,600 names, so anyone can make
//! a fresh identity with someone else's name in seconds. What a peer has done (its receipts, its trades
//! with you) is tied to the full PeerId, which the UI keeps one click away.

use serde::Serialize;
use ts_rs::TS;

pub const ADJECTIVES: [&str; 64] = [
    "Amber", "Azure", "Bold", "Brave", "Bright", "Calm", "Clever", "Copper", "Coral", "Crimson",
    "Dapper", "Eager", "Early", "Fair", "Fancy", "Fierce", "Gentle", "Gilded", "Glad", "Golden",
    "Grand", "Green", "Happy", "Hardy", "Honest", "Ivory", "Jade", "Jolly", "Keen", "Kind",
    "Lively", "Lucky", "Lunar", "Mellow", "Merry", "Misty", "Noble", "Olive", "Opal", "Patient",
    "Plucky", "Polar", "Proud", "Quick", "Quiet", "Rapid", "Ruby", "Rustic", "Sable", "Scarlet",
    "Silent", "Silver", "Sly", "Solar", "Steady", "Stormy", "Sunny", "Swift", "Tawny", "Teal",
    "Topaz", "Velvet", "Violet", "Witty",
];

pub const ANIMALS: [&str; 64] = [
    "Albatross",
    "Antelope",
    "Badger",
    "Bear",
    "Beaver",
    "Bison",
    "Bobcat",
    "Camel",
    "Caracal",
    "Cheetah",
    "Condor",
    "Cougar",
    "Coyote",
    "Crane",
    "Dingo",
    "Dolphin",
    "Eagle",
    "Egret",
    "Elk",
    "Falcon",
    "Ferret",
    "Finch",
    "Fox",
    "Gazelle",
    "Gecko",
    "Heron",
    "Hyena",
    "Ibex",
    "Ibis",
    "Jackal",
    "Jaguar",
    "Kestrel",
    "Koala",
    "Lemur",
    "Leopard",
    "Lion",
    "Lynx",
    "Marten",
    "Mink",
    "Moose",
    "Narwhal",
    "Ocelot",
    "Orca",
    "Oryx",
    "Osprey",
    "Otter",
    "Owl",
    "Panther",
    "Pelican",
    "Puffin",
    "Puma",
    "Quail",
    "Raven",
    "Seal",
    "Serval",
    "Sparrow",
    "Stoat",
    "Swan",
    "Tapir",
    "Tiger",
    "Walrus",
    "Weasel",
    "Wolf",
    "Yak",
];

/// The 64-bit hash names and avatars are read from.
pub fn peer_hash(peer_id: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in peer_id.trim().bytes() {
        h ^= u64::from(byte);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

/// `Amber Falcon 07`: bits 0–5 the adjective, 6–11 the animal, 12–31 the number (mod 100).
pub fn peer_name(peer_id: &str) -> String {
    let h = peer_hash(peer_id);
    let adjective = ADJECTIVES[(h & 63) as usize];
    let animal = ANIMALS[((h >> 6) & 63) as usize];
    let number = ((h >> 12) & 0xf_ffff) % 100;
    format!("{adjective} {animal} {number:02}")
}

/// What the UI draws: a hue (bits 32–47, mod 360) and 15 cells (bits 48–62) of a 5×5 grid whose two
/// right columns mirror the two left ones; cell `i` is column `i / 5`, row `i % 5`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS, utoipa::ToSchema)]
pub struct Avatar {
    pub hue: u16,
    pub cells: Vec<bool>,
}

pub fn avatar(peer_id: &str) -> Avatar {
    let h = peer_hash(peer_id);
    Avatar {
        hue: (((h >> 32) & 0xffff) % 360) as u16,
        cells: (0..15).map(|i| (h >> (48 + i)) & 1 == 1).collect(),
    }
}

/// PeerIds with their hash, name and avatar: generated into `bindings.ts`, where the UI's own
/// computation is checked against them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS, utoipa::ToSchema)]
pub struct PeerNameVector {
    pub peer_id: String,
    /// The hash as 16 hex digits (a u64 does not fit a JavaScript number).
    pub hash: String,
    pub name: String,
    pub avatar: Avatar,
}

pub fn test_vectors() -> Vec<PeerNameVector> {
    [
        "12D3KooWBqph6ZF9esfcLigaTjNsf8rCYJew4cxLaqtT2GAzR1wy",
        "12D3KooWEaUDcgBS2Z6rWwymiVyW3XekPbfgZBN1oCCvoeKfQwS9",
        "12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo",
        "",
    ]
    .into_iter()
    .map(|peer_id| PeerNameVector {
        peer_id: peer_id.to_owned(),
        hash: format!("{:016x}", peer_hash(peer_id)),
        name: peer_name(peer_id),
        avatar: avatar(peer_id),
    })
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_words_are_distinct_and_a_name_is_stable() {
        for list in [&ADJECTIVES[..], &ANIMALS[..]] {
            let mut sorted = list.to_vec();
            sorted.sort();
            sorted.dedup();
            assert_eq!(sorted.len(), 64);
        }
        // Pinned (and checked by hand in Python): a change to the hash, which would rename every peer,
        // fails here first.
        assert_eq!(peer_hash(""), 0xf52a_15e9_a9b5_e89b);
        let id = "12D3KooWBqph6ZF9esfcLigaTjNsf8rCYJew4cxLaqtT2GAzR1wy";
        assert_eq!(peer_name(id), peer_name(&format!(" {id}\n")));
        assert_ne!(
            peer_name(id),
            peer_name("12D3KooWEaUDcgBS2Z6rWwymiVyW3XekPbfgZBN1oCCvoeKfQwS9")
        );
    }

    #[test]
    fn names_spread_over_many_peers() {
        let names: std::collections::HashSet<String> = (0..2_000)
            .map(|i| peer_name(&format!("12D3KooW{i:044}")))
            .collect();
        // 2,000 draws from 409,600 names: a handful of collisions at most.
        assert!(names.len() > 1_980, "{}", names.len());
        let hues: std::collections::HashSet<u16> =
            (0..2_000).map(|i| avatar(&format!("p{i}")).hue).collect();
        assert!(hues.len() > 300, "{}", hues.len());
    }
}
