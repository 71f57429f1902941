//! From the sets the DHT returned to what a person reads: which receipts about a peer hold (and which are
//! refused, and why), and the figures and score they add up to (docs/protocol.md, "Reputation").

use std::collections::{HashMap, HashSet};

use bitcoin::hex::DisplayHex;
use libp2p::PeerId;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::{
    check::ReceiptCheck,
    receipt::{HolderSet, Outcome, Rating, VerifiedReceipt, bucket_words},
};
use crate::protocol::roles::{Party, Winner};

/// Weight of a receipt whose escrow this node verified on its chain...
const ESCROW_WEIGHT: f64 = 1.0;
/// ...of one without escrow, or whose escrow could not be checked here...
const UNBACKED_WEIGHT: f64 = 0.25;
/// ...times this when the counterparty has no receipt with anyone else (a fresh identity vouching).
const NO_HISTORY_FACTOR: f64 = 0.5;
/// Each dispute decided against the peer takes this off the score.
const LOST_DISPUTE_PENALTY: f64 = 2.0;

/// A receipt or rating that did not hold, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, utoipa::ToSchema)]
pub struct RefusedReceipt {
    /// The peer whose set held it.
    pub holder: String,
    pub reason: String,
}

/// A rating as shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, utoipa::ToSchema)]
pub struct RatingView {
    pub stars: u8,
    pub comment: String,
    pub at: i64,
}

/// One receipt that counts, as shown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, utoipa::ToSchema)]
pub struct ReceiptView {
    /// The receipt's id (hex of the hash of its body).
    pub id: String,
    pub counterparty: String,
    /// Whether the peer was the trade's maker or taker, and its side of the coins.
    pub role: String,
    pub party: Party,
    /// "LTC/EUR".
    pub market: String,
    /// The amount's order of magnitude in coins: "0.1–1 LTC".
    pub amount: String,
    pub ended_at: i64,
    /// "completed", "refunded", "dispute opened by the buyer, decided for the seller".
    pub outcome: String,
    pub chain: ReceiptCheck,
    /// What it adds to the score.
    pub weight: f64,
    /// The counterparty's rating of the peer, and the peer's of the counterparty.
    pub rating_received: Option<RatingView>,
    pub rating_given: Option<RatingView>,
}

/// A peer's reputation, as this node verified it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, utoipa::ToSchema)]
pub struct Reputation {
    pub peer: String,
    /// The name the peer chose, from its own signed set (not unique, proves nothing).
    pub nickname: Option<String>,
    /// Receipts that hold (both signatures, a party's set, the chain where there was an escrow).
    pub settled: u32,
    /// Of them, escrow trades whose transactions this node found on its chain.
    pub with_escrow: u32,
    /// Distinct counterparties among them.
    pub counterparties: u32,
    pub disputes_opened: u32,
    pub disputes_lost: u32,
    /// The average of the counterparties' ratings (1–5), and how many there are.
    pub rating: Option<f64>,
    pub ratings: u32,
    /// The weighted sum (docs/protocol.md, "Reputation"): escrow receipts 1, others ¼, halved when the
    /// counterparty has no other history; 2 off per dispute lost.
    pub score: f64,
    /// The oldest receipt or offer of the peer this node saw (unix ms), and the newest.
    pub first_seen: Option<i64>,
    pub last_seen: Option<i64>,
    /// How many peers' sets were read.
    pub holders: u32,
    pub receipts: Vec<ReceiptView>,
    /// Receipts and ratings about the peer that did not hold: forged, misplaced, contradicted by the chain.
    pub refused: Vec<RefusedReceipt>,
}

/// What the sets say about one peer, before the chain is asked.
#[derive(Debug, Default)]
pub struct Collected {
    /// Receipts naming the peer that passed every check but the chain's, one per trade.
    pub receipts: Vec<VerifiedReceipt>,
    pub refused: Vec<RefusedReceipt>,
    /// Ratings of those receipts, by the rater, with the rater's PeerId.
    pub ratings: Vec<(Rating, PeerId)>,
    /// Every peer's counterparties in any verified receipt read (a counterparty's own history).
    pub partners: HashMap<PeerId, HashSet<PeerId>>,
    pub holders: u32,
    /// The peer's own nickname, from its own set.
    pub nickname: Option<String>,
}

/// Sorts the receipts and ratings of `sets` about `subject` into those that hold and those refused.
pub fn collect(subject: &PeerId, sets: &[(PeerId, HolderSet)]) -> Collected {
    let mut out = Collected {
        holders: u32::try_from(sets.len()).unwrap_or(u32::MAX),
        ..Collected::default()
    };
    out.nickname = sets
        .iter()
        .find(|(holder, set)| holder == subject && !set.nickname.is_empty())
        .map(|(_, set)| set.nickname.clone());
    let mut by_trade: HashMap<[u8; 32], [u8; 32]> = HashMap::new();
    let refuse = |out: &mut Collected, holder: &PeerId, reason: String| {
        out.refused.push(RefusedReceipt {
            holder: holder.to_string(),
            reason,
        });
    };
    for (holder, set) in sets {
        for receipt in &set.receipts {
            let verified = match receipt.verify() {
                Ok(v) => v,
                Err(reason) => {
                    // Junk a provider of this peer's key hands out counts against what it claims to be
                    // about; a valid receipt between other peers is only context.
                    refuse(&mut out, holder, format!("receipt: {reason}"));
                    continue;
                }
            };
            out.partners
                .entry(verified.maker)
                .or_default()
                .insert(verified.taker);
            out.partners
                .entry(verified.taker)
                .or_default()
                .insert(verified.maker);
            if !verified.names(subject) {
                continue;
            }
            if !verified.names(holder) {
                refuse(
                    &mut out,
                    holder,
                    format!(
                        "receipt {}: held by {holder}, who is not a party to it",
                        short(&verified.id)
                    ),
                );
                continue;
            }
            match by_trade.get(&verified.body.trade) {
                Some(id) if *id == verified.id => {}
                Some(_) => refuse(
                    &mut out,
                    holder,
                    format!(
                        "receipt {}: a second receipt for the same trade",
                        short(&verified.id)
                    ),
                ),
                None => {
                    by_trade.insert(verified.body.trade, verified.id);
                    out.receipts.push(verified);
                }
            }
        }
    }
    let known: HashMap<[u8; 32], &VerifiedReceipt> =
        out.receipts.iter().map(|r| (r.id, r)).collect();
    let mut ratings: HashMap<([u8; 32], PeerId), Rating> = HashMap::new();
    let mut refused_ratings = Vec::new();
    for (holder, set) in sets {
        for signed in &set.ratings {
            let (rating, rater) = match signed.verify() {
                Ok(r) => r,
                Err(reason) => {
                    refused_ratings.push((holder, format!("rating: {reason}")));
                    continue;
                }
            };
            let Some(receipt) = known.get(&rating.receipt) else {
                // A rating of a trade not about this peer, or of a receipt that did not hold.
                continue;
            };
            let wrong = if !receipt.names(&rater) {
                Some(format!("by {rater}, who is not a party to the trade"))
            } else if rater != *holder {
                Some(format!("held by {holder}, not by its rater"))
            } else {
                None
            };
            if let Some(wrong) = wrong {
                refused_ratings.push((
                    holder,
                    format!("rating of {}: {wrong}", short(&rating.receipt)),
                ));
                continue;
            }
            let slot = ratings
                .entry((rating.receipt, rater))
                .or_insert(rating.clone());
            if rating.at > slot.at {
                *slot = rating;
            }
        }
    }
    for (holder, reason) in refused_ratings {
        refuse(&mut out, holder, reason);
    }
    out.ratings = ratings.into_iter().map(|((_, r), v)| (v, r)).collect();
    out
}

fn short(id: &[u8; 32]) -> String {
    id[..6].to_lower_hex_string()
}

fn outcome_words(outcome: Outcome) -> String {
    match outcome {
        Outcome::Completed => "completed".into(),
        Outcome::Refunded => "refunded".into(),
        Outcome::Resolved {
            disputed_by,
            decided,
        } => format!(
            "dispute opened by the {}, decided {}",
            disputed_by.as_str(),
            match decided {
                Winner::Split => "for a split".to_owned(),
                w => format!("for the {}", w.as_str()),
            }
        ),
    }
}

/// The figures of `subject` from `collected`, with `checks` (by receipt id) from the chain and the
/// first and last time this node saw the peer's offers.
pub fn summarize(
    subject: &PeerId,
    collected: Collected,
    checks: &HashMap<[u8; 32], ReceiptCheck>,
    offers_seen: Option<(i64, i64)>,
) -> Reputation {
    let Collected {
        receipts,
        mut refused,
        ratings,
        partners,
        holders,
        nickname,
    } = collected;
    let rating_of = |receipt: &[u8; 32], by: &PeerId| {
        ratings
            .iter()
            .find(|(r, rater)| r.receipt == *receipt && rater == by)
            .map(|(r, _)| RatingView {
                stars: r.stars,
                comment: r.comment.clone(),
                at: r.at,
            })
    };
    let mut views = Vec::new();
    let mut counterparties = HashSet::new();
    let (mut with_escrow, mut opened, mut lost, mut score) = (0, 0, 0, 0.0);
    let mut stars = Vec::new();
    for r in receipts {
        let chain = match &r.body.escrow {
            None => ReceiptCheck::NoEscrow,
            Some(_) => checks
                .get(&r.id)
                .cloned()
                .unwrap_or(ReceiptCheck::NotChecked {
                    reason: "not checked yet".into(),
                }),
        };
        if let ReceiptCheck::Failed { reason } = &chain {
            refused.push(RefusedReceipt {
                holder: subject.to_string(),
                reason: format!("receipt {}: {reason}", short(&r.id)),
            });
            continue;
        }
        let cp = r.counterparty_of(subject);
        let party = r.party_of(subject);
        let mut weight = if chain == ReceiptCheck::Verified {
            with_escrow += 1;
            ESCROW_WEIGHT
        } else {
            UNBACKED_WEIGHT
        };
        if partners
            .get(&cp)
            .is_none_or(|p| p.iter().all(|peer| peer == subject))
        {
            weight *= NO_HISTORY_FACTOR;
        }
        if let Outcome::Resolved {
            disputed_by,
            decided,
        } = r.body.outcome
        {
            if disputed_by == party {
                opened += 1;
            }
            if decided == Winner::from(party.other()) {
                lost += 1;
                weight -= LOST_DISPUTE_PENALTY;
            }
        }
        score += weight;
        counterparties.insert(cp);
        let received = rating_of(&r.id, &cp);
        if let Some(v) = &received {
            stars.push(f64::from(v.stars));
        }
        views.push(ReceiptView {
            id: r.id.to_lower_hex_string(),
            counterparty: cp.to_string(),
            role: if r.maker == *subject {
                "maker"
            } else {
                "taker"
            }
            .into(),
            party,
            market: format!("{}/{}", r.body.base, r.body.quote),
            amount: format!("{} {}", bucket_words(r.body.bucket), r.body.base),
            ended_at: r.body.ended_at,
            outcome: outcome_words(r.body.outcome),
            chain,
            weight,
            rating_received: received,
            rating_given: rating_of(&r.id, subject),
        });
    }
    views.sort_by(|a, b| b.ended_at.cmp(&a.ended_at).then(a.id.cmp(&b.id)));
    let ended = views.iter().map(|v| v.ended_at);
    let first_seen = ended.clone().chain(offers_seen.map(|s| s.0)).min();
    let last_seen = ended.chain(offers_seen.map(|s| s.1)).max();
    Reputation {
        peer: subject.to_string(),
        nickname,
        settled: u32::try_from(views.len()).unwrap_or(u32::MAX),
        with_escrow,
        counterparties: u32::try_from(counterparties.len()).unwrap_or(u32::MAX),
        disputes_opened: opened,
        disputes_lost: lost,
        rating: (!stars.is_empty())
            .then(|| (stars.iter().sum::<f64>() / stars.len() as f64 * 10.0).round() / 10.0),
        ratings: u32::try_from(stars.len()).unwrap_or(u32::MAX),
        score: (score * 100.0).round() / 100.0,
        first_seen,
        last_seen,
        holders,
        receipts: views,
        refused,
    }
}
