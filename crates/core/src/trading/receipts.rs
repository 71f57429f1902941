//! Trade receipts (docs/protocol.md, "Reputation"): when one of this node's trades ends, the maker's node
//! builds the receipt from its record of the trade, signs it and asks the taker's node to countersign; the
//! taker's node builds its own and countersigns only a body that says the same (and whose escrow its chain
//! confirms). Each node then publishes its newest receipts and ratings as one signed set in the DHT and
//! provides the subject key of itself and of each counterparty, and reads other peers' reputations back.

mod body;
mod maker;
mod publish;
mod reputations;
mod taker;

use std::time::Duration;

use libp2p::PeerId;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub(super) use self::{maker::keep_receipts, taker::on_request};

use self::{
    publish::{rate, receipt_state},
    reputations::reputation,
};
use crate::{error::Result, reputation::Reputation};

/// A maker asks again this soon after the taker could not countersign, twice as long each time after...
const ASK_AGAIN_FIRST_MS: i64 = 5_000;
/// ...up to this.
const ASK_AGAIN_MAX_MS: i64 = 3_600_000;
/// The set is published again this often (a DHT record lives 48 h).
const PUBLISH_EVERY: Duration = Duration::from_secs(12 * 3600);
const RECORD_TTL: Duration = Duration::from_secs(48 * 3600);
/// A failed publication is tried again after this.
const PUBLISH_RETRY: Duration = Duration::from_secs(30);
/// The parties' end times may differ by this much.
const END_SLACK_MS: i64 = 24 * 3600 * 1000;
/// A reputation is read from at most this many holders.
const MAX_HOLDERS: usize = 64;
/// Counterparties whose subject key this node provides, the newest first.
const MAX_PROVIDED: usize = 64;

/// What a maker's node asks of the taker's (`DirectRequest::Receipt`): countersign this body, which the
/// maker signed. Answered with a [`ReturnAnswer`]: the taker's signature, refused, or not now.
///
/// [`ReturnAnswer`]: crate::protocol::ReturnAnswer
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReceiptRequest {
    Countersign {
        trade_id: Uuid,
        body: Vec<u8>,
        signature: Vec<u8>,
    },
}

impl ReceiptRequest {
    pub fn encode(&self) -> Vec<u8> {
        postcard::to_stdvec(self).unwrap_or_default()
    }

    pub fn decode(bytes: &[u8]) -> std::result::Result<Self, String> {
        crate::codec::decode_exact(bytes, "receipt request")
    }
}

fn sha(bytes: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).into()
}

impl super::Desk {
    /// `peer`'s reputation, verified here (see [`reputation`]).
    pub async fn reputation(&self, peer: PeerId) -> Result<Reputation> {
        reputation(&self.inner, peer).await
    }

    /// Rates the counterparty of an ended trade of this node (see [`rate`]).
    pub async fn rate(&self, trade_id: Uuid, stars: u8, comment: &str) -> Result<()> {
        rate(&self.inner, trade_id, stars, comment).await
    }

    /// Publishes this node's set again now (its nickname changed).
    pub fn publish_again(&self) {
        self.inner.receipts.kick();
    }

    /// Where the receipt of one of this node's trades stands, in words (`None`: no receipt).
    pub async fn receipt_state(&self, trade_id: Uuid) -> Result<Option<String>> {
        receipt_state(&self.inner, trade_id).await
    }
}
