//! The handshake: a take request sealed to the maker's static X25519 key, and the maker's signed accept
//! carrying its ephemeral key. Both end in a [`TradeChannel`].

use std::fmt;

use libp2p_identity::{Keypair, PeerId};
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use x25519_dalek::StaticSecret;

use super::{
    ACCEPT_SIGNING_TAG, ChannelError, ChannelKeys, MAX_SEALED_TAKE_BYTES, MAX_SIGNED_ACCEPT_BYTES,
    MAX_TAKE_PLAINTEXT_BYTES, Receiver, Sender, TAKE_KDF_INFO, TAKE_SIGNING_TAG,
    TAKE_TRANSCRIPT_TAG, Transcript, aead_open, aead_seal, check_signature, check_size,
    diffie_hellman, from_postcard_strict, hkdf_key, peer_id, random_secret, sha256, sign_payload,
    to_postcard, x25519_public,
};
use crate::protocol::roles::TradeRole;

/// The take key is derived from a fresh ephemeral secret and used for exactly one encryption, so the
/// all-zero nonce is never reused under it.
const TAKE_NONCE: [u8; 12] = [0; 12];

/// The clear part of a take request: authenticated as the AEAD's associated data, hashed into the take
/// key's salt, and signed with the ciphertext.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct WireTakeHeader {
    offer_id: [u8; 16],
    trade_id: [u8; 16],
    maker: Vec<u8>,
    taker: Vec<u8>,
    maker_static: [u8; 32],
    taker_ephemeral: [u8; 32],
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct WireTake {
    header: WireTakeHeader,
    ciphertext: Vec<u8>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct WireAccept {
    trade_id: [u8; 16],
    /// SHA-256 of the sealed take's wire bytes: which take this accepts.
    take_hash: [u8; 32],
    maker_ephemeral: [u8; 32],
}

/// A take request as it travels: the canonical take bytes (header and ciphertext), the taker's protobuf
/// public key, and its ed25519 signature over `TAKE_SIGNING_TAG || take_bytes`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedTake {
    pub take_bytes: Vec<u8>,
    pub taker_key: Vec<u8>,
    pub signature: Vec<u8>,
}

/// The maker's answer: the canonical accept bytes, the maker's key and its signature over
/// `ACCEPT_SIGNING_TAG || accept_bytes`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedAccept {
    pub accept_bytes: Vec<u8>,
    pub maker_key: Vec<u8>,
    pub signature: Vec<u8>,
}

signed_wire!(SealedTake, MAX_SEALED_TAKE_BYTES, "sealed take");
signed_wire!(SignedAccept, MAX_SIGNED_ACCEPT_BYTES, "signed accept");

/// `SHA-256(TAKE_TRANSCRIPT_TAG || header_bytes)`: the transcript so far, salt of the take key.
fn take_key(
    shared: &[u8; 32],
    header_bytes: &[u8],
) -> Result<zeroize::Zeroizing<[u8; 32]>, ChannelError> {
    let salt = sha256(&[TAKE_TRANSCRIPT_TAG, header_bytes]);
    hkdf_key(&salt, shared, TAKE_KDF_INFO)
}

/// What the taker keeps between sending its take and receiving the accept. Holds the ephemeral secret
/// (zeroized on drop); [`TakerHandshake::finish`] consumes it, so the secret dies with the handshake.
pub struct TakerHandshake {
    offer_id: Uuid,
    trade_id: Uuid,
    maker: PeerId,
    taker: PeerId,
    ephemeral: StaticSecret,
    take_hash: [u8; 32],
    take_ciphertext: Vec<u8>,
}

impl fmt::Debug for TakerHandshake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TakerHandshake")
            .field("offer_id", &self.offer_id)
            .field("trade_id", &self.trade_id)
            .field("maker", &self.maker)
            .finish_non_exhaustive()
    }
}

/// Seals `plaintext` (the take request) to the maker's static X25519 key from its offer, under a fresh
/// ephemeral key, and signs it with the taker's identity. The taker chooses the trade id (UUID v7), so
/// the request inside can name it.
pub fn seal_take(
    maker: PeerId,
    maker_static_pub: &[u8; 32],
    offer_id: Uuid,
    trade_id: Uuid,
    plaintext: &[u8],
    taker: &Keypair,
) -> Result<(SealedTake, TakerHandshake), ChannelError> {
    check_size(plaintext.len(), MAX_TAKE_PLAINTEXT_BYTES)?;
    let ephemeral = random_secret()?;
    let taker_id = taker.public().to_peer_id();
    let header = WireTakeHeader {
        offer_id: offer_id.into_bytes(),
        trade_id: trade_id.into_bytes(),
        maker: maker.to_bytes(),
        taker: taker_id.to_bytes(),
        maker_static: *maker_static_pub,
        taker_ephemeral: x25519_public(&ephemeral),
    };
    let header_bytes = to_postcard(&header)?;
    let shared = diffie_hellman(&ephemeral, maker_static_pub)?;
    let key = take_key(&shared, &header_bytes)?;
    let ciphertext = aead_seal(&key, TAKE_NONCE, &header_bytes, plaintext)?;
    let take_bytes = to_postcard(&WireTake {
        header,
        ciphertext: ciphertext.clone(),
    })?;
    let (taker_key, signature) = sign_payload(TAKE_SIGNING_TAG, &take_bytes, taker)?;
    let sealed = SealedTake {
        take_bytes,
        taker_key,
        signature,
    };
    let wire = sealed.to_bytes()?;
    check_size(wire.len(), MAX_SEALED_TAKE_BYTES)?;
    let handshake = TakerHandshake {
        offer_id,
        trade_id,
        maker,
        taker: taker_id,
        ephemeral,
        take_hash: sha256(&[&wire]),
        take_ciphertext: ciphertext,
    };
    Ok((sealed, handshake))
}

/// A take request that passed every check of [`open_take`]. Only opening makes one.
#[derive(Clone)]
pub struct OpenedTake {
    offer_id: Uuid,
    trade_id: Uuid,
    maker: PeerId,
    taker: PeerId,
    taker_ephemeral: [u8; 32],
    take_hash: [u8; 32],
    take_ciphertext: Vec<u8>,
    plaintext: Vec<u8>,
}

impl fmt::Debug for OpenedTake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenedTake")
            .field("offer_id", &self.offer_id)
            .field("trade_id", &self.trade_id)
            .field("taker", &self.taker)
            .finish_non_exhaustive()
    }
}

impl OpenedTake {
    pub fn offer_id(&self) -> Uuid {
        self.offer_id
    }
    /// Chosen by the taker: the maker must refuse a take whose trade id it already knows.
    pub fn trade_id(&self) -> Uuid {
        self.trade_id
    }
    /// The taker, as proven by its signature.
    pub fn taker(&self) -> PeerId {
        self.taker
    }
    pub fn taker_ephemeral(&self) -> [u8; 32] {
        self.taker_ephemeral
    }
    pub fn plaintext(&self) -> &[u8] {
        &self.plaintext
    }
}

/// The maker's side of a take: size, strict decoding, the taker's signature, signer ↔ the taker PeerId in
/// the header, addressed to `me`, sealed to `maker_static_secret`'s public key, then decryption.
pub fn open_take(
    maker_static_secret: &StaticSecret,
    me: PeerId,
    sealed_bytes: &[u8],
) -> Result<OpenedTake, ChannelError> {
    let sealed = SealedTake::decode(sealed_bytes)?;
    let signer = check_signature(
        TAKE_SIGNING_TAG,
        &sealed.take_bytes,
        &sealed.taker_key,
        &sealed.signature,
    )?;
    let take: WireTake = from_postcard_strict(&sealed.take_bytes, "take request")?;
    let header = &take.header;
    let taker = peer_id(&header.taker, "taker PeerId")?;
    if signer != taker {
        return Err(ChannelError::SignerMismatch {
            claimed: taker.to_base58(),
            signer: signer.to_base58(),
        });
    }
    let maker = peer_id(&header.maker, "maker PeerId")?;
    if maker != me {
        return Err(ChannelError::WrongRecipient {
            recipient: maker.to_base58(),
            me: me.to_base58(),
        });
    }
    if header.maker_static != x25519_public(maker_static_secret) {
        return Err(ChannelError::WrongStaticKey);
    }
    let plaintext = open_take_ciphertext(maker_static_secret, header, &take.ciphertext)?;
    Ok(OpenedTake {
        offer_id: Uuid::from_bytes(header.offer_id),
        trade_id: Uuid::from_bytes(header.trade_id),
        maker,
        taker,
        taker_ephemeral: header.taker_ephemeral,
        take_hash: sha256(&[sealed_bytes]),
        take_ciphertext: take.ciphertext,
        plaintext,
    })
}

/// The decryption alone, with whatever static secret is given: a wrong one fails authentication.
fn open_take_ciphertext(
    static_secret: &StaticSecret,
    header: &WireTakeHeader,
    ciphertext: &[u8],
) -> Result<Vec<u8>, ChannelError> {
    let header_bytes = to_postcard(header)?;
    let shared = diffie_hellman(static_secret, &header.taker_ephemeral)?;
    let key = take_key(&shared, &header_bytes)?;
    aead_open(&key, TAKE_NONCE, &header_bytes, ciphertext)
}

/// An established channel, for one side of one trade: who is who, and the direction keys.
pub struct TradeChannel {
    pub offer_id: Uuid,
    pub trade_id: Uuid,
    pub role: TradeRole,
    pub me: PeerId,
    pub peer: PeerId,
    pub keys: ChannelKeys,
}

impl fmt::Debug for TradeChannel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TradeChannel")
            .field("trade_id", &self.trade_id)
            .field("role", &self.role)
            .field("me", &self.me)
            .field("peer", &self.peer)
            .finish_non_exhaustive()
    }
}

impl TradeChannel {
    /// A fresh sender state (first sequence number 0).
    pub fn sender(&self) -> Sender {
        Sender::new(self.trade_id, self.me, self.peer)
    }

    /// A fresh receiver state (expects sequence number 0 first).
    pub fn receiver(&self) -> Receiver {
        Receiver::new(self.trade_id, self.me, self.peer)
    }
}

/// The maker accepts an opened take: a fresh ephemeral key, the direction keys from
/// DH(maker ephemeral, taker ephemeral) and the transcript, and a signed accept for the taker. The
/// ephemeral secret is dropped (zeroized) before this returns.
pub fn accept_take(
    opened: &OpenedTake,
    maker: &Keypair,
) -> Result<(SignedAccept, TradeChannel), ChannelError> {
    let signer = maker.public().to_peer_id();
    if signer != opened.maker {
        return Err(ChannelError::SignerMismatch {
            claimed: opened.maker.to_base58(),
            signer: signer.to_base58(),
        });
    }
    let ephemeral = random_secret()?;
    let maker_ephemeral = x25519_public(&ephemeral);
    let transcript = Transcript {
        offer_id: opened.offer_id,
        trade_id: opened.trade_id,
        maker: opened.maker,
        taker: opened.taker,
        taker_ephemeral: opened.taker_ephemeral,
        maker_ephemeral,
        take_ciphertext: opened.take_ciphertext.clone(),
    };
    let keys = ChannelKeys::for_maker(&ephemeral, &transcript)?;
    drop(ephemeral);
    let accept_bytes = to_postcard(&WireAccept {
        trade_id: opened.trade_id.into_bytes(),
        take_hash: opened.take_hash,
        maker_ephemeral,
    })?;
    let (maker_key, signature) = sign_payload(ACCEPT_SIGNING_TAG, &accept_bytes, maker)?;
    let accept = SignedAccept {
        accept_bytes,
        maker_key,
        signature,
    };
    let channel = TradeChannel {
        offer_id: opened.offer_id,
        trade_id: opened.trade_id,
        role: TradeRole::Maker,
        me: opened.maker,
        peer: opened.taker,
        keys,
    };
    Ok((accept, channel))
}

impl TakerHandshake {
    pub fn trade_id(&self) -> Uuid {
        self.trade_id
    }

    pub fn offer_id(&self) -> Uuid {
        self.offer_id
    }

    /// The taker checks the accept (size, strict decoding, signed by the offer's maker, for this trade and
    /// this very take) and derives the direction keys. Consumes the handshake: the ephemeral secret is
    /// zeroized when this returns, whatever the outcome.
    pub fn finish(self, accept_bytes: &[u8]) -> Result<TradeChannel, ChannelError> {
        let accept = SignedAccept::decode(accept_bytes)?;
        let signer = check_signature(
            ACCEPT_SIGNING_TAG,
            &accept.accept_bytes,
            &accept.maker_key,
            &accept.signature,
        )?;
        if signer != self.maker {
            return Err(ChannelError::SignerMismatch {
                claimed: self.maker.to_base58(),
                signer: signer.to_base58(),
            });
        }
        let wire: WireAccept = from_postcard_strict(&accept.accept_bytes, "accept")?;
        let trade_id = Uuid::from_bytes(wire.trade_id);
        if trade_id != self.trade_id {
            return Err(ChannelError::UnknownTrade { trade_id });
        }
        if wire.take_hash != self.take_hash {
            return Err(ChannelError::AcceptMismatch);
        }
        let transcript = Transcript {
            offer_id: self.offer_id,
            trade_id: self.trade_id,
            maker: self.maker,
            taker: self.taker,
            taker_ephemeral: x25519_public(&self.ephemeral),
            maker_ephemeral: wire.maker_ephemeral,
            take_ciphertext: self.take_ciphertext.clone(),
        };
        let keys = ChannelKeys::for_taker(&self.ephemeral, &transcript)?;
        Ok(TradeChannel {
            offer_id: self.offer_id,
            trade_id: self.trade_id,
            role: TradeRole::Taker,
            me: self.taker,
            peer: self.maker,
            keys,
        })
    }
}

#[cfg(test)]
pub(super) fn open_take_with_secret_unchecked(
    static_secret: &StaticSecret,
    sealed_bytes: &[u8],
) -> Result<Vec<u8>, ChannelError> {
    let sealed = SealedTake::decode(sealed_bytes)?;
    let take: WireTake = from_postcard_strict(&sealed.take_bytes, "take request")?;
    open_take_ciphertext(static_secret, &take.header, &take.ciphertext)
}
