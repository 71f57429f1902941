//! The recovery record: one party's own rows of one trade, sealed under a key only its seed derives, and
//! the requests that hand it to the counterparty for safekeeping and fetch it back. Bytes only: no
//! network, no database (see `super` for both).
//!
//! Keys, both from the identity's storage key (itself derived from the seed):
//! - seal: `HKDF-SHA256(ikm = storage key, info = "souk/recovery/v1/seal")`, XChaCha20-Poly1305 with a
//!   random 24-byte nonce;
//! - locator: `HKDF-SHA256(ikm = storage key, info = "souk/recovery/v1/locator")`, the DHT key under which
//!   the holders of this node's records announce themselves as providers.
//!
//! Sealed form: `version 1 | nonce[24] | ciphertext`, the associated data `"souk/recovery-record/v1\0" ||
//! version || trade id (16 bytes)`, the plaintext postcard of [`Record`].

use chacha20poly1305::{KeyInit, XChaCha20Poly1305, XNonce, aead::Aead, aead::Payload};
use hkdf::Hkdf;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;
use zeroize::Zeroizing;

/// Format version of the sealed record (its first byte).
pub const RECORD_VERSION: u8 = 1;
/// Largest sealed record: it travels in one direct request (at most 64 KiB with its framing and, to the
/// arbitrator, the trade's case).
pub const MAX_RECORD_BYTES: usize = 56 * 1024;
/// Associated-data domain of a sealed record.
const RECORD_AAD_TAG: &[u8] = b"souk/recovery-record/v1\0";
const SEAL_INFO: &[u8] = b"souk/recovery/v1/seal";
const LOCATOR_INFO: &[u8] = b"souk/recovery/v1/locator";
const NONCE_BYTES: usize = 24;
/// Version byte, nonce and the AEAD tag.
pub const SEAL_OVERHEAD: usize = 1 + NONCE_BYTES + 16;

/// Why a record could not be sealed or opened.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RecordError {
    #[error("a recovery record of {0} bytes is over the limit of {MAX_RECORD_BYTES}")]
    TooLarge(usize),
    #[error("not a recovery record of a version this node reads")]
    Version,
    #[error("the recovery record does not open with this seed's key (not this node's, or damaged)")]
    Seal,
    #[error("the recovery record does not decode: {0}")]
    Decode(String),
    #[error("the recovery record is of trade {found}, not {expected}")]
    OtherTrade { expected: Uuid, found: Uuid },
}

/// This node's recovery keys, derived from its storage key. Zeroized on drop.
pub struct RecoveryKeys {
    seal: Zeroizing<[u8; 32]>,
    locator: [u8; 32],
}

impl RecoveryKeys {
    pub fn derive(storage_key: &[u8; 32]) -> Self {
        let hk = Hkdf::<Sha256>::new(None, storage_key);
        let mut seal = Zeroizing::new([0u8; 32]);
        let mut locator = [0u8; 32];
        // 32 bytes is far below HKDF-SHA256's limit of 255 × 32: `expand` cannot fail here.
        let _ = hk.expand(SEAL_INFO, seal.as_mut());
        let _ = hk.expand(LOCATOR_INFO, &mut locator);
        Self { seal, locator }
    }

    /// The DHT key the holders of this node's records provide.
    pub fn locator(&self) -> [u8; 32] {
        self.locator
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(&chacha20poly1305::Key::from(*self.seal))
    }
}

/// One stored value, as SQLite holds it (the tables are STRICT: no REAL columns).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Value {
    Null,
    Integer(i64),
    Text(String),
    Blob(Vec<u8>),
}

/// The rows of one table, by column name (so a newer node can read an older record: columns it added
/// since take their defaults).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Table {
    pub name: String,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Value>>,
}

/// Everything one node holds about one of its trades, as of `made_at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// The owner's PeerId bytes.
    pub owner: Vec<u8>,
    pub trade_id: Uuid,
    /// The database schema version the rows are of (the last migration applied).
    pub schema: i64,
    /// Unix milliseconds.
    pub made_at: i64,
    pub tables: Vec<Table>,
    /// Chat messages left out to stay under the size limit (the oldest go first).
    pub chat_left_out: u32,
}

impl Record {
    /// How many signed steps of the trade's log the record holds.
    pub fn events(&self) -> u32 {
        self.tables
            .iter()
            .find(|t| t.name == "trade_events")
            .map_or(0, |t| u32::try_from(t.rows.len()).unwrap_or(u32::MAX))
    }

    /// What the record says, without when it was made: equal digests, nothing new to hand over.
    pub fn digest(&self) -> [u8; 32] {
        let body =
            postcard::to_stdvec(&(&self.owner, &self.trade_id, &self.tables)).unwrap_or_default();
        Sha256::digest(body).into()
    }

    fn aad(trade_id: &Uuid) -> Vec<u8> {
        [RECORD_AAD_TAG, &[RECORD_VERSION], trade_id.as_bytes()].concat()
    }

    /// Seals the record; refused when the sealed form would be over [`MAX_RECORD_BYTES`].
    pub fn seal(&self, keys: &RecoveryKeys) -> Result<Vec<u8>, RecordError> {
        let plain = Zeroizing::new(
            postcard::to_stdvec(self).map_err(|e| RecordError::Decode(e.to_string()))?,
        );
        let size = plain.len() + SEAL_OVERHEAD;
        if size > MAX_RECORD_BYTES {
            return Err(RecordError::TooLarge(size));
        }
        let mut nonce = [0u8; NONCE_BYTES];
        getrandom::fill(&mut nonce).map_err(|_| RecordError::Seal)?;
        let sealed = keys
            .cipher()
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: &plain,
                    aad: &Self::aad(&self.trade_id),
                },
            )
            .map_err(|_| RecordError::Seal)?;
        Ok([&[RECORD_VERSION][..], &nonce, &sealed].concat())
    }

    /// Opens a sealed record of `trade_id`: size, version, the seal (only this seed's key opens it), the
    /// encoding, and that it is the record of that trade.
    pub fn open(keys: &RecoveryKeys, trade_id: Uuid, sealed: &[u8]) -> Result<Self, RecordError> {
        if sealed.len() > MAX_RECORD_BYTES {
            return Err(RecordError::TooLarge(sealed.len()));
        }
        let Some((&version, rest)) = sealed.split_first() else {
            return Err(RecordError::Version);
        };
        if version != RECORD_VERSION {
            return Err(RecordError::Version);
        }
        if rest.len() < NONCE_BYTES + 16 {
            return Err(RecordError::Seal);
        }
        let (nonce, ciphertext) = rest.split_at(NONCE_BYTES);
        let nonce = XNonce::try_from(nonce).map_err(|_| RecordError::Seal)?;
        let plain = Zeroizing::new(
            keys.cipher()
                .decrypt(
                    &nonce,
                    Payload {
                        msg: ciphertext,
                        aad: &Self::aad(&trade_id),
                    },
                )
                .map_err(|_| RecordError::Seal)?,
        );
        let record: Self =
            crate::codec::decode_exact(&plain, "recovery record").map_err(RecordError::Decode)?;
        if record.trade_id != trade_id {
            return Err(RecordError::OtherTrade {
                expected: trade_id,
                found: record.trade_id,
            });
        }
        Ok(record)
    }
}

/// A party's sealed copy of one trade, as it hands it over. `events`: how many signed steps of the
/// trade's log the copy holds (a copy with fewer than the one kept is older).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CopyOffer {
    pub trade_id: Uuid,
    /// The owner's locator: the holder provides it in the DHT while it keeps the copy.
    pub locator: [u8; 32],
    pub record: Vec<u8>,
    pub events: u32,
}

/// What a party asks the node that holds (or is to hold) its records (`DirectRequest::Recovery`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RecoveryRequest {
    /// To the counterparty: "keep this sealed record of our trade".
    Keep(CopyOffer),
    /// "Which trades do you hold records of mine for?"
    List,
    /// "Hand back my record of this trade."
    Fetch { trade_id: Uuid },
    /// To the trade's first arbitrator: "keep this sealed record too"; `case` (postcard of the
    /// arbitrator's `DisputeCase`: the offer, amounts, both parties' signed escrow keys) lets it check
    /// that the asker is a party and the escrow holds coins.
    Lodge { copy: CopyOffer, case: Vec<u8> },
}

/// The holder's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RecoveryAnswer {
    Stored,
    /// The trades, with when each record arrived (unix ms).
    Listed(Vec<(Uuid, i64)>),
    Record(Vec<u8>),
    /// For good: the same request will be refused again.
    Refused(String),
    /// Not now (this node's own failure, or too soon after the last copy): ask again later.
    Later(String),
    /// Not kept: the copy kept here holds more of the trade's log (the owner is behind, say restored
    /// from an older backup): fetch it.
    Newer,
}

impl RecoveryRequest {
    pub fn encode(&self) -> Vec<u8> {
        postcard::to_stdvec(self).unwrap_or_default()
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, String> {
        crate::codec::decode_exact(bytes, "recovery request")
    }
}

impl RecoveryAnswer {
    pub fn encode(&self) -> Vec<u8> {
        postcard::to_stdvec(self).unwrap_or_default()
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, String> {
        crate::codec::decode_exact(bytes, "recovery answer")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(trade_id: Uuid) -> Record {
        Record {
            owner: vec![1, 2, 3],
            trade_id,
            schema: 16,
            made_at: 1_700_000_000_000,
            tables: vec![Table {
                name: "trades".into(),
                columns: vec!["id".into(), "state".into(), "transcript_hash".into()],
                rows: vec![vec![
                    Value::Text(trade_id.to_string()),
                    Value::Text("EscrowFunded".into()),
                    Value::Null,
                ]],
            }],
            chat_left_out: 0,
        }
    }

    #[test]
    fn a_record_opens_only_with_its_seed_s_key_and_only_as_its_trade() {
        let keys = RecoveryKeys::derive(&[7; 32]);
        let id = Uuid::from_bytes([1; 16]);
        let sealed = record(id).seal(&keys).unwrap();
        assert_eq!(sealed[0], RECORD_VERSION);
        assert_eq!(Record::open(&keys, id, &sealed).unwrap(), record(id));
        // Two seals of the same record differ (random nonce) and both open.
        let again = record(id).seal(&keys).unwrap();
        assert_ne!(sealed, again);
        assert_eq!(Record::open(&keys, id, &again).unwrap(), record(id));

        let other_seed = RecoveryKeys::derive(&[8; 32]);
        assert_eq!(
            Record::open(&other_seed, id, &sealed),
            Err(RecordError::Seal)
        );
        // Handed back as another trade's record: the associated data does not match.
        assert_eq!(
            Record::open(&keys, Uuid::from_bytes([2; 16]), &sealed),
            Err(RecordError::Seal)
        );
        let mut flipped = sealed.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert_eq!(Record::open(&keys, id, &flipped), Err(RecordError::Seal));
        let mut newer = sealed.clone();
        newer[0] = 2;
        assert_eq!(Record::open(&keys, id, &newer), Err(RecordError::Version));
        assert_eq!(Record::open(&keys, id, &[]), Err(RecordError::Version));
        assert_eq!(Record::open(&keys, id, &[1, 0, 0]), Err(RecordError::Seal));
        let huge = vec![1u8; MAX_RECORD_BYTES + 1];
        assert_eq!(
            Record::open(&keys, id, &huge),
            Err(RecordError::TooLarge(MAX_RECORD_BYTES + 1))
        );
    }

    #[test]
    fn keys_come_from_the_storage_key_alone_and_the_locator_is_not_the_seal_key() {
        let a = RecoveryKeys::derive(&[7; 32]);
        let b = RecoveryKeys::derive(&[7; 32]);
        assert_eq!(a.locator(), b.locator());
        assert_eq!(*a.seal, *b.seal);
        assert_ne!(a.locator(), *a.seal);
        assert_ne!(a.locator(), RecoveryKeys::derive(&[9; 32]).locator());
        // Pinned: the derivation is part of the format (a restored node must find the same key).
        let hk = Hkdf::<Sha256>::new(None, &[7; 32]);
        let mut expected = [0u8; 32];
        hk.expand(b"souk/recovery/v1/locator", &mut expected)
            .unwrap();
        assert_eq!(a.locator(), expected);
    }

    #[test]
    fn a_record_over_the_limit_is_not_sealed_and_the_digest_ignores_the_time() {
        let keys = RecoveryKeys::derive(&[7; 32]);
        let id = Uuid::from_bytes([1; 16]);
        let mut big = record(id);
        big.tables[0]
            .rows
            .push(vec![Value::Blob(vec![0; MAX_RECORD_BYTES])]);
        assert!(matches!(big.seal(&keys), Err(RecordError::TooLarge(_))));

        let mut later = record(id);
        later.made_at += 1;
        assert_eq!(later.digest(), record(id).digest());
        later.tables[0].rows[0][1] = Value::Text("PaymentSent".into());
        assert_ne!(later.digest(), record(id).digest());
    }

    #[test]
    fn requests_and_answers_round_trip_and_refuse_trailing_bytes() {
        let copy = CopyOffer {
            trade_id: Uuid::from_bytes([3; 16]),
            locator: [4; 32],
            record: vec![5; 10],
            events: 3,
        };
        let keep = RecoveryRequest::Keep(copy.clone());
        for request in [
            keep,
            RecoveryRequest::List,
            RecoveryRequest::Fetch {
                trade_id: Uuid::from_bytes([3; 16]),
            },
            RecoveryRequest::Lodge {
                copy,
                case: vec![6; 3],
            },
        ] {
            assert_eq!(RecoveryRequest::decode(&request.encode()).unwrap(), request);
            let mut long = request.encode();
            long.push(0);
            assert!(RecoveryRequest::decode(&long).is_err());
        }
        let answer = RecoveryAnswer::Listed(vec![(Uuid::from_bytes([3; 16]), 9)]);
        assert_eq!(RecoveryAnswer::decode(&answer.encode()).unwrap(), answer);
    }
}
