//! Ed25519 signatures with domain separation, shared by everything peers sign for each other: offers,
//! withdrawals, take requests, accepts and envelopes. Each kind of message has its own tag, so a
//! signature made for one can never pass as another.
//!
//! It must never sign with, or accept, anything but an ed25519 key in its canonical protobuf encoding.

use libp2p::{
    PeerId,
    identity::{Keypair, PublicKey},
};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigningError {
    #[error("{0}")]
    BadKey(String),
    #[error("the signature does not verify")]
    BadSignature,
    #[error("signing failed: {0}")]
    Internal(String),
}

fn message(tag: &[u8], payload: &[u8]) -> Vec<u8> {
    [tag, payload].concat()
}

/// Signs `tag || payload`; returns the signer's protobuf-encoded public key and the signature.
pub fn sign(
    tag: &[u8],
    payload: &[u8],
    keypair: &Keypair,
) -> Result<(Vec<u8>, Vec<u8>), SigningError> {
    let public = keypair.public();
    if public.clone().try_into_ed25519().is_err() {
        return Err(SigningError::BadKey(format!(
            "{:?} key; Souk signs with ed25519 identities only",
            public.key_type()
        )));
    }
    let signature = keypair
        .sign(&message(tag, payload))
        .map_err(|e| SigningError::Internal(e.to_string()))?;
    Ok((public.encode_protobuf(), signature))
}

/// Checks the key (ed25519, canonical protobuf) and the signature over `tag || payload`; returns the
/// signer's PeerId.
pub fn verify(
    tag: &[u8],
    payload: &[u8],
    key_bytes: &[u8],
    signature: &[u8],
) -> Result<PeerId, SigningError> {
    let key = PublicKey::try_decode_protobuf(key_bytes)
        .map_err(|e| SigningError::BadKey(e.to_string()))?;
    if key.clone().try_into_ed25519().is_err() {
        return Err(SigningError::BadKey(format!(
            "{:?} key; only ed25519 is accepted",
            key.key_type()
        )));
    }
    if key.encode_protobuf() != key_bytes {
        return Err(SigningError::BadKey(
            "not in canonical protobuf encoding".into(),
        ));
    }
    if !key.verify(&message(tag, payload), signature) {
        return Err(SigningError::BadSignature);
    }
    Ok(key.to_peer_id())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_is_bound_to_its_tag_payload_and_key() {
        let key = Keypair::generate_ed25519();
        let (public, sig) = sign(b"souk/a/v1\0", b"payload", &key).unwrap();
        assert_eq!(
            verify(b"souk/a/v1\0", b"payload", &public, &sig).unwrap(),
            key.public().to_peer_id()
        );
        assert_eq!(
            verify(b"souk/b/v1\0", b"payload", &public, &sig),
            Err(SigningError::BadSignature)
        );
        assert_eq!(
            verify(b"souk/a/v1\0", b"payloaD", &public, &sig),
            Err(SigningError::BadSignature)
        );
        let other = Keypair::generate_ed25519().public().encode_protobuf();
        assert_eq!(
            verify(b"souk/a/v1\0", b"payload", &other, &sig),
            Err(SigningError::BadSignature)
        );
        assert!(matches!(
            verify(b"souk/a/v1\0", b"payload", &public[1..], &sig),
            Err(SigningError::BadKey(_))
        ));
    }
}
