use std::collections::HashMap;

use libp2p::{PeerId, identity::Keypair};
use uuid::Uuid;

use super::{summary::collect, *};
use crate::{
    escrow::{Chain, Network},
    protocol::roles::{Party, Winner},
};

fn key(k: &Keypair) -> Vec<u8> {
    k.public().encode_protobuf()
}

fn body(maker: &Keypair, taker: &Keypair, outcome: Outcome, escrow: bool) -> ReceiptBody {
    ReceiptBody {
        version: 1,
        trade: trade_hash(&Uuid::new_v4()),
        maker_key: key(maker),
        taker_key: key(taker),
        maker_party: Party::Seller,
        base: "LTC".into(),
        quote: "EUR".into(),
        bucket: bucket_of(150_000_000),
        ended_at: 1_700_000_000_000,
        outcome,
        escrow: escrow.then(|| EscrowProof {
            chain: Chain::Ltc,
            network: Network::Regtest,
            funding: vec![TxAt {
                txid: [1; 32],
                height: 101,
            }],
            payouts: vec![TxAt {
                txid: [2; 32],
                height: 103,
            }],
        }),
    }
}

fn signed(body: &ReceiptBody, maker: &Keypair, taker: &Keypair) -> Receipt {
    let bytes = body.encode();
    Receipt {
        maker_signature: receipt::sign_body(&bytes, maker).unwrap(),
        taker_signature: receipt::sign_body(&bytes, taker).unwrap(),
        body: bytes,
    }
}

fn set(
    holder: &Keypair,
    receipts: Vec<Receipt>,
    ratings: Vec<SignedRating>,
) -> (PeerId, HolderSet) {
    let set = HolderSet {
        holder: holder.public().to_peer_id().to_bytes(),
        nickname: String::new(),
        published_at: 1,
        receipts,
        ratings,
    };
    // Through the wire, as a reader gets it.
    let bytes = set.sign(holder).unwrap();
    SignedHolderSet::verify(&bytes, 2).unwrap()
}

#[test]
fn a_receipt_holds_only_with_both_parties_signatures_over_the_same_body() {
    let (m, t, x) = (
        Keypair::generate_ed25519(),
        Keypair::generate_ed25519(),
        Keypair::generate_ed25519(),
    );
    let b = body(&m, &t, Outcome::Completed, true);
    let good = signed(&b, &m, &t);
    let v = good.verify().unwrap();
    assert_eq!(
        (v.maker, v.taker),
        (m.public().to_peer_id(), t.public().to_peer_id())
    );
    assert_eq!(v.party_of(&t.public().to_peer_id()), Party::Buyer);

    let one = Receipt {
        taker_signature: vec![],
        ..good.clone()
    };
    assert_eq!(one.verify().unwrap_err(), "signed by one party only");
    // Signed by a third peer in the taker's place.
    let wrong = Receipt {
        taker_signature: receipt::sign_body(&good.body, &x).unwrap(),
        ..good.clone()
    };
    assert!(
        wrong
            .verify()
            .unwrap_err()
            .starts_with("the taker's signature")
    );
    // The same signatures over a body naming another maker.
    let mut other = b.clone();
    other.maker_key = key(&x);
    let replayed = Receipt {
        body: other.encode(),
        ..good.clone()
    };
    assert!(
        replayed
            .verify()
            .unwrap_err()
            .starts_with("the maker's signature")
    );
    // A changed outcome breaks both.
    let mut lost = b;
    lost.outcome = Outcome::Refunded;
    assert!(
        Receipt {
            body: lost.encode(),
            ..good
        }
        .verify()
        .is_err()
    );
}

#[test]
fn bodies_out_of_bounds_are_refused() {
    let (m, t) = (Keypair::generate_ed25519(), Keypair::generate_ed25519());
    let mut b = body(&m, &t, Outcome::Refunded, false);
    assert_eq!(
        ReceiptBody::decode(&b.encode()).unwrap_err(),
        "a refund without an escrow"
    );
    b.outcome = Outcome::Completed;
    b.taker_key = b.maker_key.clone();
    assert_eq!(
        ReceiptBody::decode(&b.encode()).unwrap_err(),
        "a receipt whose maker is its taker"
    );
    let mut b = body(&m, &t, Outcome::Completed, true);
    b.version = 2;
    assert!(ReceiptBody::decode(&b.encode()).is_err());
    let mut b = body(&m, &t, Outcome::Completed, true);
    if let Some(e) = &mut b.escrow {
        e.payouts = vec![e.payouts[0]; receipt::MAX_TXS + 1];
    }
    assert!(ReceiptBody::decode(&b.encode()).is_err());
    let mut bytes = body(&m, &t, Outcome::Completed, true).encode();
    bytes.push(0);
    assert!(
        ReceiptBody::decode(&bytes)
            .unwrap_err()
            .contains("trailing")
    );
}

#[test]
fn a_set_is_its_holders_and_within_its_caps() {
    let (h, x) = (Keypair::generate_ed25519(), Keypair::generate_ed25519());
    let bytes = HolderSet {
        holder: x.public().to_peer_id().to_bytes(),
        nickname: String::new(),
        published_at: 1,
        receipts: vec![],
        ratings: vec![],
    }
    .sign(&h)
    .unwrap();
    assert!(
        SignedHolderSet::verify(&bytes, 2)
            .unwrap_err()
            .contains("signed by")
    );
    let too_many = HolderSet {
        holder: h.public().to_peer_id().to_bytes(),
        nickname: String::new(),
        published_at: 1,
        receipts: vec![],
        ratings: vec![
            Rating {
                receipt: [0; 32],
                stars: 5,
                comment: String::new(),
                at: 1,
            }
            .sign(&h)
            .unwrap();
            receipt::MAX_SET_RATINGS + 1
        ],
    };
    let bytes = too_many.sign(&h).unwrap();
    assert!(
        SignedHolderSet::verify(&bytes, 2)
            .unwrap_err()
            .contains("at most")
    );
    let future = HolderSet {
        holder: h.public().to_peer_id().to_bytes(),
        nickname: String::new(),
        published_at: 10_000_000,
        receipts: vec![],
        ratings: vec![],
    };
    assert!(SignedHolderSet::verify(&future.sign(&h).unwrap(), 0).is_err());
    assert!(SignedHolderSet::verify(&[0; receipt::MAX_SET_BYTES + 1], 0).is_err());
}

#[test]
fn ratings_are_checked() {
    let k = Keypair::generate_ed25519();
    let rating = |stars, comment: &str| Rating {
        receipt: [0; 32],
        stars,
        comment: comment.into(),
        at: 1,
    };
    assert!(rating(0, "").sign(&k).is_err());
    assert!(rating(6, "").sign(&k).is_err());
    assert!(rating(5, "\u{1b}[2J").sign(&k).is_err());
    assert!(
        rating(5, &"x".repeat(receipt::MAX_COMMENT_BYTES + 1))
            .sign(&k)
            .is_err()
    );
    let s = rating(4, "quick and polite").sign(&k).unwrap();
    assert_eq!(s.verify().unwrap().1, k.public().to_peer_id());
    let mut forged = s;
    forged.bytes = postcard::to_stdvec(&rating(1, "quick and polite")).unwrap();
    assert!(forged.verify().is_err());
}

#[test]
fn collected_receipts_count_once_and_refusals_are_named() {
    let (m, t1, t2, x) = (
        Keypair::generate_ed25519(),
        Keypair::generate_ed25519(),
        Keypair::generate_ed25519(),
        Keypair::generate_ed25519(),
    );
    let mp = m.public().to_peer_id();
    let r1 = signed(&body(&m, &t1, Outcome::Completed, true), &m, &t1);
    let r2 = signed(&body(&m, &t2, Outcome::Completed, false), &m, &t2);
    // t1 vouched by someone else too: t1 has a history of its own.
    let r3 = signed(&body(&x, &t1, Outcome::Completed, false), &x, &t1);
    let one_sig = Receipt {
        taker_signature: vec![],
        ..signed(&body(&m, &x, Outcome::Completed, false), &m, &x)
    };
    let mut again = body(&m, &t2, Outcome::Completed, false);
    again.trade = r2.verify().unwrap().body.trade;
    again.ended_at += 1;
    let second = signed(&again, &m, &t2);
    let rating = Rating {
        receipt: r1.id(),
        stars: 4,
        comment: "fine".into(),
        at: 5,
    };
    let sets = vec![
        set(&m, vec![r1.clone(), r2.clone(), one_sig], vec![]),
        set(&t1, vec![r1.clone(), r3], vec![rating.sign(&t1).unwrap()]),
        set(&t2, vec![r2.clone(), second], vec![]),
        // x replays m's receipt with t1 in its own set, and rates it.
        set(&x, vec![r1.clone()], vec![rating.sign(&x).unwrap()]),
    ];
    let collected = collect(&mp, &sets);
    assert_eq!(collected.receipts.len(), 2);
    let reasons: Vec<&str> = collected
        .refused
        .iter()
        .map(|r| r.reason.as_str())
        .collect();
    assert_eq!(reasons.len(), 4, "{reasons:?}");
    assert!(reasons[0].contains("signed by one party only"));
    assert!(reasons[1].contains("a second receipt for the same trade"));
    assert!(reasons[2].contains("who is not a party to it"));
    assert!(reasons[3].contains("who is not a party to the trade"));

    let mut checks = HashMap::new();
    checks.insert(r1.id(), ReceiptCheck::Verified);
    let rep = summary::summarize(&mp, collected, &checks, Some((10, 1_800_000_000_000)));
    assert_eq!(
        (rep.settled, rep.with_escrow, rep.counterparties),
        (2, 1, 2)
    );
    assert_eq!(rep.rating, Some(4.0));
    // r1: escrow 1 (t1 has history); r2: no escrow ¼, halved (t2 has none).
    assert_eq!(rep.score, 1.13);
    assert_eq!(rep.first_seen, Some(10));
    assert_eq!(rep.last_seen, Some(1_800_000_000_000));
    assert_eq!(rep.holders, 4);
    let view = rep
        .receipts
        .iter()
        .find(|v| v.id.starts_with(&rep.receipts[0].id))
        .unwrap();
    assert_eq!(view.amount, "1–10 LTC");
    assert_eq!(view.role, "maker");

    // The chain contradicting a receipt refuses it.
    let collected = collect(&mp, &sets);
    checks.insert(
        r1.id(),
        ReceiptCheck::Failed {
            reason: "funding x is not in block 101".into(),
        },
    );
    let rep = summary::summarize(&mp, collected, &checks, None);
    assert_eq!((rep.settled, rep.with_escrow), (1, 0));
    assert!(rep.refused.last().unwrap().reason.contains("not in block"));
}

#[test]
fn disputes_count_for_who_opened_and_who_lost() {
    let (m, t, x) = (
        Keypair::generate_ed25519(),
        Keypair::generate_ed25519(),
        Keypair::generate_ed25519(),
    );
    let tp = t.public().to_peer_id();
    let lost = signed(
        &body(
            &m,
            &t,
            Outcome::Resolved {
                disputed_by: Party::Buyer,
                decided: Winner::Seller,
            },
            true,
        ),
        &m,
        &t,
    );
    let sets = vec![set(&t, vec![lost.clone()], vec![])];
    let mut checks = HashMap::new();
    checks.insert(lost.id(), ReceiptCheck::Verified);
    let rep = summary::summarize(&tp, collect(&tp, &sets), &checks, None);
    assert_eq!((rep.disputes_opened, rep.disputes_lost), (1, 1));
    assert_eq!(
        rep.receipts[0].outcome,
        "dispute opened by the buyer, decided for the seller"
    );
    assert!(rep.score < 0.0);
    let mp = m.public().to_peer_id();
    let rep = summary::summarize(&mp, collect(&mp, &sets), &checks, None);
    assert_eq!((rep.disputes_opened, rep.disputes_lost), (0, 0));
    let _ = x;
}

#[test]
fn buckets_read_in_coins() {
    assert_eq!(bucket_of(0), 0);
    assert_eq!(bucket_of(99_999_999), 7);
    assert_eq!(bucket_of(100_000_000), 8);
    assert_eq!(bucket_words(7), "0.1–1");
    assert_eq!(bucket_words(8), "1–10");
    assert_eq!(bucket_words(2), "0.000001–0.00001");
}

#[test]
fn a_nickname_comes_from_the_peers_own_set_and_is_checked() {
    let (m, x) = (Keypair::generate_ed25519(), Keypair::generate_ed25519());
    let mp = m.public().to_peer_id();
    let named = |k: &Keypair, nickname: &str| HolderSet {
        holder: k.public().to_peer_id().to_bytes(),
        published_at: 1,
        nickname: nickname.into(),
        receipts: vec![],
        ratings: vec![],
    };
    for bad in ["x".repeat(25), "tab\there".into(), " padded".into()] {
        let bytes = named(&m, &bad).sign(&m).unwrap();
        assert!(SignedHolderSet::verify(&bytes, 2).is_err(), "{bad:?}");
    }
    let mine = SignedHolderSet::verify(&named(&m, "Ahmed’s LTC").sign(&m).unwrap(), 2).unwrap();
    // Another peer's set cannot name m.
    let theirs = SignedHolderSet::verify(&named(&x, "Not Ahmed").sign(&x).unwrap(), 2).unwrap();
    let rep = summary::summarize(
        &mp,
        collect(&mp, &[theirs.clone(), mine]),
        &HashMap::new(),
        None,
    );
    assert_eq!(rep.nickname.as_deref(), Some("Ahmed’s LTC"));
    let rep = summary::summarize(&mp, collect(&mp, &[theirs]), &HashMap::new(), None);
    assert_eq!(rep.nickname, None);
}
