//! Envelopes: the signed, encrypted, sequenced messages of an established channel, and the sender and
//! receiver states that number them and put them back in order.

use std::collections::BTreeMap;
use std::ops::RangeInclusive;

use libp2p_identity::{Keypair, PeerId};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{
    ChannelError, ChannelKeys, ENVELOPE_SIGNING_TAG, MAX_PLAINTEXT_BYTES,
    MAX_SIGNED_ENVELOPE_BYTES, RECEIVE_WINDOW, aead_open, aead_seal, check_signature, check_size,
    from_postcard_strict, peer_id, sign_payload, to_postcard,
};

/// The envelope header: the AEAD's associated data is exactly its postcard encoding.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct WireHeader {
    trade_id: [u8; 16],
    sender: Vec<u8>,
    recipient: Vec<u8>,
    seq: u64,
}

/// The canonical envelope bytes: the header's encoding followed by the length-prefixed ciphertext.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct WireEnvelope {
    header: WireHeader,
    ciphertext: Vec<u8>,
}

/// One message of a trade, encrypted under the sender's direction key with nonce = `seq`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    pub trade_id: Uuid,
    pub sender: PeerId,
    pub recipient: PeerId,
    pub seq: u64,
    pub ciphertext: Vec<u8>,
}

impl Envelope {
    fn header(&self) -> WireHeader {
        WireHeader {
            trade_id: self.trade_id.into_bytes(),
            sender: self.sender.to_bytes(),
            recipient: self.recipient.to_bytes(),
            seq: self.seq,
        }
    }

    /// The associated data: the canonical encoding of (trade id, sender, recipient, seq).
    pub(super) fn aad(&self) -> Result<Vec<u8>, ChannelError> {
        to_postcard(&self.header())
    }

    pub(super) fn to_bytes(&self) -> Result<Vec<u8>, ChannelError> {
        to_postcard(&WireEnvelope {
            header: self.header(),
            ciphertext: self.ciphertext.clone(),
        })
    }

    pub(super) fn decode(bytes: &[u8]) -> Result<Self, ChannelError> {
        let wire: WireEnvelope = from_postcard_strict(bytes, "envelope")?;
        Ok(Self {
            trade_id: Uuid::from_bytes(wire.header.trade_id),
            sender: peer_id(&wire.header.sender, "sender PeerId")?,
            recipient: peer_id(&wire.header.recipient, "recipient PeerId")?,
            seq: wire.header.seq,
            ciphertext: wire.ciphertext,
        })
    }
}

/// 96-bit nonce: four zero bytes, then `seq` big-endian.
pub(super) fn nonce(seq: u64) -> [u8; 12] {
    let mut nonce = [0u8; 12];
    nonce[4..].copy_from_slice(&seq.to_be_bytes());
    nonce
}

/// An envelope as it travels: the canonical envelope bytes, the sender's protobuf public key, and its
/// ed25519 signature over `ENVELOPE_SIGNING_TAG || envelope_bytes`. Unverified until
/// [`SignedEnvelope::verify`] says otherwise.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedEnvelope {
    pub envelope_bytes: Vec<u8>,
    pub sender_key: Vec<u8>,
    pub signature: Vec<u8>,
}

signed_wire!(SignedEnvelope, MAX_SIGNED_ENVELOPE_BYTES, "signed envelope");

/// An envelope whose signature is valid and made by the key of the PeerId it names as sender. Only
/// verification makes one; the trade engine routes it by [`VerifiedEnvelope::trade_id`] to its
/// [`Receiver`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedEnvelope(Envelope);

impl VerifiedEnvelope {
    pub fn envelope(&self) -> &Envelope {
        &self.0
    }

    pub fn trade_id(&self) -> Uuid {
        self.0.trade_id
    }
}

impl SignedEnvelope {
    /// Size (before decoding), strict canonical decoding of both layers, the signature, and signer ↔
    /// `sender`. Says nothing yet about whether this node should accept it: that is [`Receiver`]'s job.
    pub fn verify(bytes: &[u8]) -> Result<VerifiedEnvelope, ChannelError> {
        Self::decode(bytes)?.into_verified()
    }

    pub fn into_verified(self) -> Result<VerifiedEnvelope, ChannelError> {
        let signer = check_signature(
            ENVELOPE_SIGNING_TAG,
            &self.envelope_bytes,
            &self.sender_key,
            &self.signature,
        )?;
        let envelope = Envelope::decode(&self.envelope_bytes)?;
        if signer != envelope.sender {
            return Err(ChannelError::SignerMismatch {
                claimed: envelope.sender.to_base58(),
                signer: signer.to_base58(),
            });
        }
        Ok(VerifiedEnvelope(envelope))
    }
}

/// Numbers and seals what this node sends on one trade. Persist it (and the sealed envelope, in the
/// outbox) before sending: a sequence number reused after a crash would reuse a nonce.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sender {
    trade_id: Uuid,
    me: PeerId,
    peer: PeerId,
    next_seq: u64,
}

impl Sender {
    pub fn new(trade_id: Uuid, me: PeerId, peer: PeerId) -> Self {
        Self {
            trade_id,
            me,
            peer,
            next_seq: 0,
        }
    }

    /// A sender that continues at `next_seq` (restored from storage).
    pub fn resume(trade_id: Uuid, me: PeerId, peer: PeerId, next_seq: u64) -> Self {
        Self {
            trade_id,
            me,
            peer,
            next_seq,
        }
    }

    /// The sequence number the next envelope will carry.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    pub fn trade_id(&self) -> Uuid {
        self.trade_id
    }

    /// Encrypts `plaintext` under `keys.send` with nonce = the next sequence number, signs the envelope with
    /// `identity` (which must be `me`), and advances the sequence number. Nothing advances on failure.
    pub fn seal(
        &mut self,
        keys: &ChannelKeys,
        identity: &Keypair,
        plaintext: &[u8],
    ) -> Result<SignedEnvelope, ChannelError> {
        check_size(plaintext.len(), MAX_PLAINTEXT_BYTES)?;
        let signer = identity.public().to_peer_id();
        if signer != self.me {
            return Err(ChannelError::SignerMismatch {
                claimed: self.me.to_base58(),
                signer: signer.to_base58(),
            });
        }
        let seq = self.next_seq;
        // u64::MAX is never sent, so a receiver's `next` can always advance past what it delivers.
        let after = seq.checked_add(1).ok_or(ChannelError::SequenceExhausted)?;
        let mut envelope = Envelope {
            trade_id: self.trade_id,
            sender: self.me,
            recipient: self.peer,
            seq,
            ciphertext: Vec::new(),
        };
        envelope.ciphertext = aead_seal(&keys.send, nonce(seq), &envelope.aad()?, plaintext)?;
        let envelope_bytes = envelope.to_bytes()?;
        let (sender_key, signature) =
            sign_payload(ENVELOPE_SIGNING_TAG, &envelope_bytes, identity)?;
        let signed = SignedEnvelope {
            envelope_bytes,
            sender_key,
            signature,
        };
        check_size(signed.to_bytes()?.len(), MAX_SIGNED_ENVELOPE_BYTES)?;
        self.next_seq = after;
        Ok(signed)
    }
}

/// A plaintext delivered in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered {
    pub seq: u64,
    pub plaintext: Vec<u8>,
}

/// Checks, opens and orders what the counterparty sends on one trade. Delivers each sequence number exactly
/// once and in order; holds early arrivals (at most [`RECEIVE_WINDOW`]` - 1`, already authenticated) until
/// the gap before them fills. Persist it after every successful call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receiver {
    trade_id: Uuid,
    me: PeerId,
    peer: PeerId,
    next: u64,
    held: BTreeMap<u64, Vec<u8>>,
}

impl Receiver {
    pub fn new(trade_id: Uuid, me: PeerId, peer: PeerId) -> Self {
        Self {
            trade_id,
            me,
            peer,
            next: 0,
            held: BTreeMap::new(),
        }
    }

    /// The sequence number that will be delivered next.
    pub fn next_seq(&self) -> u64 {
        self.next
    }

    pub fn trade_id(&self) -> Uuid {
        self.trade_id
    }

    /// How many authenticated envelopes wait for a gap to fill.
    pub fn held_count(&self) -> usize {
        self.held.len()
    }

    /// The envelopes (opened) waiting for a gap to fill, by sequence number.
    pub fn held(&self) -> &BTreeMap<u64, Vec<u8>> {
        &self.held
    }

    /// This receiver with `held` waiting as well (kept apart from it in storage).
    pub fn with_held(mut self, held: BTreeMap<u64, Vec<u8>>) -> Self {
        self.held
            .extend(held.into_iter().filter(|(seq, _)| *seq >= self.next));
        self
    }

    /// This receiver's position without the envelopes it holds: what is stored with the channel.
    pub fn without_held(&self) -> Self {
        Self {
            trade_id: self.trade_id,
            me: self.me,
            peer: self.peer,
            next: self.next,
            held: BTreeMap::new(),
        }
    }

    /// Every range of sequence numbers missing below the highest held one: what to re-request.
    pub fn missing(&self) -> Vec<RangeInclusive<u64>> {
        let mut ranges = Vec::new();
        let mut expect = self.next;
        for &seq in self.held.keys() {
            if seq > expect {
                ranges.push(expect..=seq - 1);
            }
            expect = seq.saturating_add(1);
        }
        ranges
    }

    /// [`SignedEnvelope::verify`] then [`Receiver::receive_verified`].
    pub fn receive(
        &mut self,
        keys: &ChannelKeys,
        bytes: &[u8],
    ) -> Result<Vec<Delivered>, ChannelError> {
        self.receive_verified(keys, SignedEnvelope::verify(bytes)?)
    }

    /// Checks the envelope is for this trade, from the counterparty, to this node, and neither a replay nor
    /// too far ahead; then decrypts it. In order: returns it and every held envelope that now follows.
    /// Early: holds it and returns [`ChannelError::Gap`] with the range to re-request. The state changes
    /// only when an envelope is delivered or held.
    pub fn receive_verified(
        &mut self,
        keys: &ChannelKeys,
        verified: VerifiedEnvelope,
    ) -> Result<Vec<Delivered>, ChannelError> {
        let envelope = verified.0;
        if envelope.trade_id != self.trade_id {
            return Err(ChannelError::UnknownTrade {
                trade_id: envelope.trade_id,
            });
        }
        if envelope.sender != self.peer {
            return Err(ChannelError::UnexpectedSender {
                sender: envelope.sender.to_base58(),
                expected: self.peer.to_base58(),
            });
        }
        if envelope.recipient != self.me {
            return Err(ChannelError::WrongRecipient {
                recipient: envelope.recipient.to_base58(),
                me: self.me.to_base58(),
            });
        }
        let seq = envelope.seq;
        if seq < self.next || self.held.contains_key(&seq) {
            return Err(ChannelError::Replay {
                seq,
                next: self.next,
            });
        }
        if seq >= self.next.saturating_add(RECEIVE_WINDOW) {
            return Err(ChannelError::TooFarAhead {
                seq,
                next: self.next,
                window: RECEIVE_WINDOW,
            });
        }
        let plaintext = aead_open(
            &keys.recv,
            nonce(seq),
            &envelope.aad()?,
            &envelope.ciphertext,
        )?;
        if seq > self.next {
            self.held.insert(seq, plaintext);
            // The first hole is what blocks delivery; `missing()` lists every hole.
            let first_held = self.held.keys().next().copied().unwrap_or(seq);
            return Err(ChannelError::Gap {
                from: self.next,
                to: first_held - 1,
            });
        }
        let mut delivered = vec![Delivered { seq, plaintext }];
        let mut next = seq.checked_add(1).ok_or(ChannelError::SequenceExhausted)?;
        while let Some(plaintext) = self.held.remove(&next) {
            delivered.push(Delivered {
                seq: next,
                plaintext,
            });
            next = next.checked_add(1).ok_or(ChannelError::SequenceExhausted)?;
        }
        self.next = next;
        Ok(delivered)
    }
}
