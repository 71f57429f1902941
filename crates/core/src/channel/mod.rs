//! The negotiation channel between a maker and a taker: the sealed take request, the maker's accept, the
//! per-trade direction keys, and the signed, encrypted, sequenced envelopes that carry chat, trade steps and
//! escrow PSBTs. See `docs/protocol.md` for the construction and what it protects.
//!
//! This module is crypto and byte formats only. It must never touch the network or the database, never
//! reuse a (key, nonce) pair, never hand out a plaintext that failed any check, and never decide what a
//! message means: it delivers authenticated bytes in order, exactly once, to the trade engine.

/// `to_bytes` and `decode` for a signed wire triple (postcard of three byte strings): size first, then
/// strict canonical decoding. Defined before the submodules so they can use it.
macro_rules! signed_wire {
    ($ty:ty, $max:expr, $what:literal) => {
        impl $ty {
            /// The wire form: postcard of the three byte strings.
            pub fn to_bytes(&self) -> Result<Vec<u8>, ChannelError> {
                super::to_postcard(self)
            }

            /// Size first, then strict canonical postcard. Nothing inside is checked yet.
            pub fn decode(bytes: &[u8]) -> Result<Self, ChannelError> {
                super::check_size(bytes.len(), $max)?;
                super::from_postcard_strict(bytes, $what)
            }
        }
    };
}

mod envelope;
mod keys;
mod take;
#[cfg(test)]
mod tests;

use chacha20poly1305::{ChaCha20Poly1305, KeyInit, Nonce, aead::Aead, aead::Payload};
use hkdf::Hkdf;
use libp2p_identity::{Keypair, PeerId};
use serde::{Serialize, de::DeserializeOwned};
use sha2::{Digest, Sha256};
use uuid::Uuid;
use x25519_dalek::StaticSecret;
use zeroize::Zeroizing;

use crate::error::ErrorKind;

pub use envelope::{Delivered, Envelope, Receiver, Sender, SignedEnvelope, VerifiedEnvelope};
pub use keys::{ChannelKeys, Transcript};

pub use take::{
    OpenedTake, SealedTake, SignedAccept, TakerHandshake, TradeChannel, accept_take, open_take,
    seal_take,
};

/// Signature domain of an envelope: `sign(ENVELOPE_SIGNING_TAG || envelope_bytes)`.
pub const ENVELOPE_SIGNING_TAG: &[u8] = b"souk/envelope/v1\0";
/// Signature domain of a sealed take request (signed by the taker's identity).
pub const TAKE_SIGNING_TAG: &[u8] = b"souk/take/v1\0";
/// Signature domain of a maker's accept.
pub const ACCEPT_SIGNING_TAG: &[u8] = b"souk/accept/v1\0";
/// HKDF info of the single-use key that seals a take request.
pub const TAKE_KDF_INFO: &[u8] = b"souk/take/v1";
/// HKDF info of the taker → maker direction key.
pub const TAKER_TO_MAKER_INFO: &[u8] = b"souk/channel/v1/taker->maker";
/// HKDF info of the maker → taker direction key.
pub const MAKER_TO_TAKER_INFO: &[u8] = b"souk/channel/v1/maker->taker";
/// Hash domain of the take transcript (the HKDF salt of the take key).
pub const TAKE_TRANSCRIPT_TAG: &[u8] = b"souk/take-transcript/v1\0";
/// Hash domain of the channel transcript (the HKDF salt of the direction keys).
pub const CHANNEL_TRANSCRIPT_TAG: &[u8] = b"souk/channel-transcript/v1\0";

/// Largest signed envelope on the wire; checked before decoding anything.
pub const MAX_SIGNED_ENVELOPE_BYTES: usize = 64 * 1024;
/// Largest plaintext one envelope carries. With the header, tag, key and signature it always fits in
/// [`MAX_SIGNED_ENVELOPE_BYTES`].
pub const MAX_PLAINTEXT_BYTES: usize = 60 * 1024;
/// Largest take request plaintext.
pub const MAX_TAKE_PLAINTEXT_BYTES: usize = 8 * 1024;
/// Largest sealed take request on the wire.
pub const MAX_SEALED_TAKE_BYTES: usize = 10 * 1024;
/// Largest signed accept on the wire.
pub const MAX_SIGNED_ACCEPT_BYTES: usize = 1024;
/// How far ahead of the next expected sequence number an envelope may be and still be held: a receiver
/// holds at most `RECEIVE_WINDOW - 1` envelopes per direction.
pub const RECEIVE_WINDOW: u64 = 256;

/// Every way a channel operation can fail. Each refusal of a received message has its own variant, so the
/// trade engine can tell a replay (ignore) from a gap (re-request) from an attack (log and drop).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ChannelError {
    #[error("message is {size} bytes; at most {max} are allowed")]
    TooLarge { size: usize, max: usize },
    #[error("malformed {0}")]
    Malformed(String),
    #[error("not in canonical encoding: the bytes decode but do not re-encode to themselves")]
    NonCanonical,
    #[error("bad signing key: {0}")]
    BadKey(String),
    #[error("bad signature: not signed by the key it carries")]
    BadSignature,
    #[error("signed by {signer}, but claims to come from {claimed}")]
    SignerMismatch { claimed: String, signer: String },
    #[error("addressed to {recipient}, not to this node ({me})")]
    WrongRecipient { recipient: String, me: String },
    #[error("no channel here for trade {trade_id}")]
    UnknownTrade { trade_id: Uuid },
    #[error("sent by {sender}, but the counterparty of this trade is {expected}")]
    UnexpectedSender { sender: String, expected: String },
    #[error(
        "the ciphertext failed authentication: tampered with, or sealed under another key or header"
    )]
    TamperedCiphertext,
    #[error(
        "envelope {seq} was already received (next expected is {next}): duplicate or replay, dropped"
    )]
    Replay { seq: u64, next: u64 },
    #[error(
        "envelopes {from}..={to} are missing: the later envelope is held; re-request the missing range"
    )]
    Gap { from: u64, to: u64 },
    #[error(
        "envelope {seq} is too far ahead (next expected is {next}, window {window}): dropped; re-request from {next}"
    )]
    TooFarAhead { seq: u64, next: u64, window: u64 },
    #[error("the sequence numbers of this direction are exhausted: open a new trade channel")]
    SequenceExhausted,
    #[error("the take request is sealed to another X25519 key than this node's")]
    WrongStaticKey,
    #[error("weak X25519 public key: the key exchange would not be contributory")]
    WeakKey,
    #[error("the accept answers another take request than this one")]
    AcceptMismatch,
    #[error("the ephemeral secret does not match this side's key in the transcript")]
    EphemeralMismatch,
    #[error("no randomness from the operating system: {0}")]
    Randomness(String),
    #[error("internal channel error: {0}")]
    Internal(String),
}

impl ChannelError {
    /// Everything a peer or a caller can cause is `InvalidInput`; only the machine's own failures are not.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::Randomness(_) | Self::Internal(_) => ErrorKind::Internal,
            _ => ErrorKind::InvalidInput,
        }
    }
}

impl From<ChannelError> for crate::Error {
    fn from(e: ChannelError) -> Self {
        match e.kind() {
            ErrorKind::Internal => crate::Error::Internal(e.to_string()),
            _ => crate::Error::InvalidInput(e.to_string()),
        }
    }
}

fn check_size(size: usize, max: usize) -> Result<(), ChannelError> {
    if size > max {
        Err(ChannelError::TooLarge { size, max })
    } else {
        Ok(())
    }
}

fn to_postcard<T: Serialize>(value: &T) -> Result<Vec<u8>, ChannelError> {
    postcard::to_stdvec(value).map_err(|e| ChannelError::Internal(format!("encoding failed: {e}")))
}

/// Decodes exactly one `T` from all of `bytes`, and only if `T` re-encodes to the very same bytes (postcard
/// accepts overlong varints; a signature must cover exactly one meaning).
fn from_postcard_strict<T: Serialize + DeserializeOwned>(
    bytes: &[u8],
    what: &str,
) -> Result<T, ChannelError> {
    let value: T = crate::codec::decode_exact(bytes, what).map_err(ChannelError::Malformed)?;
    if to_postcard(&value)? != bytes {
        return Err(ChannelError::NonCanonical);
    }
    Ok(value)
}

fn peer_id(bytes: &[u8], what: &str) -> Result<PeerId, ChannelError> {
    PeerId::from_bytes(bytes).map_err(|e| ChannelError::Malformed(format!("{what}: {e}")))
}

fn sign_payload(
    tag: &[u8],
    payload: &[u8],
    keypair: &Keypair,
) -> Result<(Vec<u8>, Vec<u8>), ChannelError> {
    crate::signing::sign(tag, payload, keypair).map_err(ChannelError::from)
}

fn check_signature(
    tag: &[u8],
    payload: &[u8],
    key_bytes: &[u8],
    signature: &[u8],
) -> Result<PeerId, ChannelError> {
    crate::signing::verify(tag, payload, key_bytes, signature).map_err(ChannelError::from)
}

fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part);
    }
    hasher.finalize().into()
}

/// A fresh X25519 secret from the operating system's randomness.
fn random_secret() -> Result<StaticSecret, ChannelError> {
    let mut bytes = Zeroizing::new([0u8; 32]);
    getrandom::fill(bytes.as_mut()).map_err(|e| ChannelError::Randomness(e.to_string()))?;
    Ok(StaticSecret::from(*bytes))
}

fn x25519_public(secret: &StaticSecret) -> [u8; 32] {
    x25519_dalek::PublicKey::from(secret).to_bytes()
}

/// X25519, refusing low-order public keys (whose shared secret would not depend on our secret).
fn diffie_hellman(
    secret: &StaticSecret,
    their_public: &[u8; 32],
) -> Result<Zeroizing<[u8; 32]>, ChannelError> {
    let shared = secret.diffie_hellman(&x25519_dalek::PublicKey::from(*their_public));
    if !shared.was_contributory() {
        return Err(ChannelError::WeakKey);
    }
    Ok(Zeroizing::new(shared.to_bytes()))
}

/// HKDF-SHA256(salt, ikm) expanded to one 32-byte key for `info`.
fn hkdf_key(salt: &[u8], ikm: &[u8], info: &[u8]) -> Result<Zeroizing<[u8; 32]>, ChannelError> {
    let mut okm = Zeroizing::new([0u8; 32]);
    Hkdf::<Sha256>::new(Some(salt), ikm)
        .expand(info, okm.as_mut())
        .map_err(|e| ChannelError::Internal(format!("key derivation failed: {e}")))?;
    Ok(okm)
}

fn aead_seal(
    key: &[u8; 32],
    nonce: [u8; 12],
    aad: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>, ChannelError> {
    ChaCha20Poly1305::new(&chacha20poly1305::Key::from(*key))
        .encrypt(
            &Nonce::from(nonce),
            Payload {
                msg: plaintext,
                aad,
            },
        )
        .map_err(|_| ChannelError::Internal("encryption failed".into()))
}

fn aead_open(
    key: &[u8; 32],
    nonce: [u8; 12],
    aad: &[u8],
    ciphertext: &[u8],
) -> Result<Vec<u8>, ChannelError> {
    ChaCha20Poly1305::new(&chacha20poly1305::Key::from(*key))
        .decrypt(
            &Nonce::from(nonce),
            Payload {
                msg: ciphertext,
                aad,
            },
        )
        .map_err(|_| ChannelError::TamperedCiphertext)
}

impl From<crate::signing::SigningError> for ChannelError {
    fn from(e: crate::signing::SigningError) -> Self {
        match e {
            crate::signing::SigningError::BadKey(reason) => Self::BadKey(reason),
            crate::signing::SigningError::BadSignature => Self::BadSignature,
            crate::signing::SigningError::Internal(reason) => {
                Self::Internal(format!("signing failed: {reason}"))
            }
        }
    }
}
