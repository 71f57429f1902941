//! The per-trade direction keys and the transcript they are bound to.

use std::fmt;

use libp2p_identity::PeerId;
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use x25519_dalek::StaticSecret;
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::{
    CHANNEL_TRANSCRIPT_TAG, ChannelError, MAKER_TO_TAKER_INFO, TAKER_TO_MAKER_INFO, diffie_hellman,
    hkdf_key, sha256, to_postcard, x25519_public,
};

/// Everything both sides agreed on by the end of the handshake. Its hash salts the direction keys, so two
/// parties that disagree on any of it (a substituted key, another take, another trade) derive different
/// keys and every envelope between them fails authentication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transcript {
    pub offer_id: Uuid,
    pub trade_id: Uuid,
    pub maker: PeerId,
    pub taker: PeerId,
    pub taker_ephemeral: [u8; 32],
    pub maker_ephemeral: [u8; 32],
    /// The take request's ciphertext, exactly as sealed.
    pub take_ciphertext: Vec<u8>,
}

/// The canonical form hashed: postcard, fields in this order (every variable-length field is
/// length-prefixed, so the encoding is unambiguous).
#[derive(Serialize)]
struct WireTranscript<'a> {
    offer_id: [u8; 16],
    trade_id: [u8; 16],
    maker: Vec<u8>,
    taker: Vec<u8>,
    taker_ephemeral: [u8; 32],
    maker_ephemeral: [u8; 32],
    take_ciphertext: &'a [u8],
}

impl Transcript {
    /// `SHA-256(CHANNEL_TRANSCRIPT_TAG || postcard(transcript))`.
    pub fn hash(&self) -> Result<[u8; 32], ChannelError> {
        let wire = WireTranscript {
            offer_id: self.offer_id.into_bytes(),
            trade_id: self.trade_id.into_bytes(),
            maker: self.maker.to_bytes(),
            taker: self.taker.to_bytes(),
            taker_ephemeral: self.taker_ephemeral,
            maker_ephemeral: self.maker_ephemeral,
            take_ciphertext: &self.take_ciphertext,
        };
        Ok(sha256(&[CHANNEL_TRANSCRIPT_TAG, &to_postcard(&wire)?]))
    }
}

/// The two direction keys of one trade, as seen from one side: `send` seals what this node sends, `recv`
/// opens what it receives. Zeroized on drop. Serializable so a trade survives a restart; store it only
/// encrypted at rest, never in a log or next to the trade row in clear.
#[derive(Clone, Zeroize, ZeroizeOnDrop, Serialize, Deserialize)]
pub struct ChannelKeys {
    pub(super) send: [u8; 32],
    pub(super) recv: [u8; 32],
}

impl fmt::Debug for ChannelKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ChannelKeys(<redacted>)")
    }
}

/// A 32-byte key, zeroized on drop.
pub(super) type SecretKey = zeroize::Zeroizing<[u8; 32]>;

/// The (taker → maker, maker → taker) keys from the ephemeral-ephemeral shared secret and the transcript.
pub(super) fn direction_keys(
    shared: &[u8; 32],
    transcript_hash: &[u8; 32],
) -> Result<(SecretKey, SecretKey), ChannelError> {
    Ok((
        hkdf_key(transcript_hash, shared, TAKER_TO_MAKER_INFO)?,
        hkdf_key(transcript_hash, shared, MAKER_TO_TAKER_INFO)?,
    ))
}

impl ChannelKeys {
    /// The taker's keys: DH(taker ephemeral secret, maker ephemeral public) salted with the transcript hash.
    /// The static keys play no part, so stealing one later opens no finished trade.
    pub fn for_taker(
        taker_ephemeral: &StaticSecret,
        transcript: &Transcript,
    ) -> Result<Self, ChannelError> {
        if x25519_public(taker_ephemeral) != transcript.taker_ephemeral {
            return Err(ChannelError::EphemeralMismatch);
        }
        let shared = diffie_hellman(taker_ephemeral, &transcript.maker_ephemeral)?;
        let (to_maker, to_taker) = direction_keys(&shared, &transcript.hash()?)?;
        Ok(Self {
            send: *to_maker,
            recv: *to_taker,
        })
    }

    /// The maker's keys: DH(maker ephemeral secret, taker ephemeral public) salted with the transcript hash.
    pub fn for_maker(
        maker_ephemeral: &StaticSecret,
        transcript: &Transcript,
    ) -> Result<Self, ChannelError> {
        if x25519_public(maker_ephemeral) != transcript.maker_ephemeral {
            return Err(ChannelError::EphemeralMismatch);
        }
        let shared = diffie_hellman(maker_ephemeral, &transcript.taker_ephemeral)?;
        let (to_maker, to_taker) = direction_keys(&shared, &transcript.hash()?)?;
        Ok(Self {
            send: *to_taker,
            recv: *to_maker,
        })
    }
}
