use libp2p_identity::{Keypair, PeerId};
use proptest::prelude::*;
use uuid::Uuid;
use x25519_dalek::StaticSecret;

use super::envelope::nonce;
use super::keys::direction_keys;
use super::take::open_take_with_secret_unchecked;
use super::*;
use crate::protocol::roles::TradeRole;

fn keypair(seed: u8) -> Keypair {
    Keypair::ed25519_from_bytes([seed; 32]).unwrap()
}

struct Trade {
    maker_key: Keypair,
    taker_key: Keypair,
    maker_static: StaticSecret,
    sealed: Vec<u8>,
    opened: OpenedTake,
    maker: TradeChannel,
    taker: TradeChannel,
}

fn establish() -> Trade {
    let maker_key = keypair(1);
    let taker_key = keypair(2);
    let maker_static = StaticSecret::from([7u8; 32]);
    let maker_static_pub = x25519_dalek::PublicKey::from(&maker_static).to_bytes();
    let offer_id = Uuid::now_v7();
    let (sealed, handshake) = seal_take(
        maker_key.public().to_peer_id(),
        &maker_static_pub,
        offer_id,
        Uuid::now_v7(),
        b"take 0.01 BTC at 1000 EUR",
        &taker_key,
    )
    .unwrap();
    let sealed = sealed.to_bytes().unwrap();
    let opened = open_take(&maker_static, maker_key.public().to_peer_id(), &sealed).unwrap();
    let (accept, maker) = accept_take(&opened, &maker_key).unwrap();
    let taker = handshake.finish(&accept.to_bytes().unwrap()).unwrap();
    Trade {
        maker_key,
        taker_key,
        maker_static,
        sealed,
        opened,
        maker,
        taker,
    }
}

/// Re-signs envelope bytes with `key`: models a sender who signs whatever it likes, so the checks after
/// the signature are exercised on their own.
fn signed_by(envelope_bytes: Vec<u8>, key: &Keypair) -> Vec<u8> {
    let signature = key
        .sign(&[ENVELOPE_SIGNING_TAG, &envelope_bytes].concat())
        .unwrap();
    SignedEnvelope {
        envelope_bytes,
        sender_key: key.public().encode_protobuf(),
        signature,
    }
    .to_bytes()
    .unwrap()
}

fn decode_inner(bytes: &[u8]) -> Envelope {
    Envelope::decode(&SignedEnvelope::decode(bytes).unwrap().envelope_bytes).unwrap()
}

fn seal_from_maker(trade: &Trade, sender: &mut Sender, plaintext: &[u8]) -> Vec<u8> {
    sender
        .seal(&trade.maker.keys, &trade.maker_key, plaintext)
        .unwrap()
        .to_bytes()
        .unwrap()
}

#[test]
fn take_accept_and_twenty_messages_each_way_round_trip_in_order() {
    let trade = establish();
    assert_eq!(trade.opened.plaintext(), b"take 0.01 BTC at 1000 EUR");
    assert_eq!(trade.opened.taker(), trade.taker_key.public().to_peer_id());
    assert_eq!(trade.maker.trade_id, trade.taker.trade_id);
    assert_eq!(trade.maker.offer_id, trade.taker.offer_id);
    assert_eq!(
        (trade.maker.role, trade.taker.role),
        (TradeRole::Maker, TradeRole::Taker)
    );
    assert_eq!(trade.maker.keys.send, trade.taker.keys.recv);
    assert_eq!(trade.maker.keys.recv, trade.taker.keys.send);
    assert_ne!(trade.maker.keys.send, trade.maker.keys.recv);

    let (mut maker_tx, mut maker_rx) = (trade.maker.sender(), trade.maker.receiver());
    let (mut taker_tx, mut taker_rx) = (trade.taker.sender(), trade.taker.receiver());
    for i in 0..20u64 {
        let to_maker = format!("taker says {i}");
        let bytes = taker_tx
            .seal(&trade.taker.keys, &trade.taker_key, to_maker.as_bytes())
            .unwrap()
            .to_bytes()
            .unwrap();
        let got = maker_rx.receive(&trade.maker.keys, &bytes).unwrap();
        assert_eq!(
            got,
            vec![Delivered {
                seq: i,
                plaintext: to_maker.into_bytes()
            }]
        );

        let to_taker = format!("maker says {i}");
        let bytes = seal_from_maker(&trade, &mut maker_tx, to_taker.as_bytes());
        let got = taker_rx.receive(&trade.taker.keys, &bytes).unwrap();
        assert_eq!(
            got,
            vec![Delivered {
                seq: i,
                plaintext: to_taker.into_bytes()
            }]
        );
    }
    assert_eq!((maker_tx.next_seq(), maker_rx.next_seq()), (20, 20));
    assert_eq!((taker_tx.next_seq(), taker_rx.next_seq()), (20, 20));
}

#[test]
fn tampered_ciphertext_is_refused() {
    let trade = establish();
    let mut rx = trade.taker.receiver();
    let bytes = seal_from_maker(&trade, &mut trade.maker.sender(), b"pay to IBAN X");
    let mut envelope = decode_inner(&bytes);
    envelope.ciphertext[0] ^= 0x01;
    // Flipped in transit: the signature no longer holds.
    let mut in_transit = SignedEnvelope::decode(&bytes).unwrap();
    in_transit.envelope_bytes = envelope.to_bytes().unwrap();
    assert!(matches!(
        rx.receive(&trade.taker.keys, &in_transit.to_bytes().unwrap()),
        Err(ChannelError::BadSignature)
    ));
    // Even re-signed by the real sender, the AEAD refuses it.
    let resigned = signed_by(envelope.to_bytes().unwrap(), &trade.maker_key);
    assert!(matches!(
        rx.receive(&trade.taker.keys, &resigned),
        Err(ChannelError::TamperedCiphertext)
    ));
    assert_eq!(rx.next_seq(), 0);
}

#[test]
fn tampered_header_fails_the_associated_data() {
    let trade = establish();
    let mut rx = trade.taker.receiver();
    let (maker, taker) = (trade.maker.me, trade.maker.peer);
    // Sealed under the right key and nonce, but for another header (another recipient); then put in this
    // trade's header and signed by the real maker: only the associated data differs.
    let mut envelope = Envelope {
        trade_id: trade.maker.trade_id,
        sender: maker,
        recipient: PeerId::random(),
        seq: 0,
        ciphertext: Vec::new(),
    };
    envelope.ciphertext = aead_seal(
        &trade.maker.keys.send,
        nonce(0),
        &envelope.aad().unwrap(),
        b"hi",
    )
    .unwrap();
    envelope.recipient = taker;
    let bytes = signed_by(envelope.to_bytes().unwrap(), &trade.maker_key);
    assert!(matches!(
        rx.receive(&trade.taker.keys, &bytes),
        Err(ChannelError::TamperedCiphertext)
    ));

    // And a sequence number rewritten on a genuine envelope (nonce and AAD both bind it).
    let genuine = seal_from_maker(&trade, &mut trade.maker.sender(), b"hi");
    let mut envelope = decode_inner(&genuine);
    envelope.seq = 1;
    let bytes = signed_by(envelope.to_bytes().unwrap(), &trade.maker_key);
    assert!(matches!(
        rx.receive(&trade.taker.keys, &bytes),
        Err(ChannelError::TamperedCiphertext)
    ));
    assert_eq!((rx.next_seq(), rx.held_count()), (0, 0));
}

#[test]
fn envelope_for_another_recipient_is_refused() {
    let trade = establish();
    let mut rx = trade.taker.receiver();
    let mut tx = Sender::new(trade.maker.trade_id, trade.maker.me, PeerId::random());
    let bytes = seal_from_maker(&trade, &mut tx, b"not for you");
    assert!(matches!(
        rx.receive(&trade.taker.keys, &bytes),
        Err(ChannelError::WrongRecipient { .. })
    ));
}

#[test]
fn replayed_envelope_is_dropped() {
    let trade = establish();
    let mut rx = trade.taker.receiver();
    let mut tx = trade.maker.sender();
    let first = seal_from_maker(&trade, &mut tx, b"one");
    assert_eq!(rx.receive(&trade.taker.keys, &first).unwrap().len(), 1);
    assert!(matches!(
        rx.receive(&trade.taker.keys, &first),
        Err(ChannelError::Replay { seq: 0, next: 1 })
    ));
    // A duplicate of an envelope still held is dropped too.
    let _second = seal_from_maker(&trade, &mut tx, b"two");
    let third = seal_from_maker(&trade, &mut tx, b"three");
    assert!(matches!(
        rx.receive(&trade.taker.keys, &third),
        Err(ChannelError::Gap { from: 1, to: 1 })
    ));
    assert!(matches!(
        rx.receive(&trade.taker.keys, &third),
        Err(ChannelError::Replay { seq: 2, next: 1 })
    ));
    assert_eq!((rx.next_seq(), rx.held_count()), (1, 1));
}

#[test]
fn reordered_envelopes_are_held_then_delivered_in_order() {
    let trade = establish();
    let mut rx = trade.taker.receiver();
    let mut tx = trade.maker.sender();
    let sent: Vec<Vec<u8>> = (0..5)
        .map(|i| seal_from_maker(&trade, &mut tx, format!("m{i}").as_bytes()))
        .collect();
    assert_eq!(rx.receive(&trade.taker.keys, &sent[0]).unwrap().len(), 1);
    assert!(matches!(
        rx.receive(&trade.taker.keys, &sent[3]),
        Err(ChannelError::Gap { from: 1, to: 2 })
    ));
    assert!(matches!(
        rx.receive(&trade.taker.keys, &sent[2]),
        Err(ChannelError::Gap { from: 1, to: 1 })
    ));
    assert_eq!(rx.missing(), vec![1..=1]);
    assert_eq!(rx.held_count(), 2);

    // The state survives a restart mid-gap.
    let mut rx: Receiver = postcard::from_bytes(&postcard::to_stdvec(&rx).unwrap()).unwrap();
    let json = serde_json::to_string(&rx).unwrap();
    assert_eq!(serde_json::from_str::<Receiver>(&json).unwrap(), rx);

    let got = rx.receive(&trade.taker.keys, &sent[1]).unwrap();
    let seqs: Vec<u64> = got.iter().map(|d| d.seq).collect();
    assert_eq!(seqs, vec![1, 2, 3]);
    assert_eq!(got[2].plaintext, b"m3");
    assert_eq!((rx.next_seq(), rx.held_count()), (4, 0));
    assert!(rx.missing().is_empty());
    assert_eq!(rx.receive(&trade.taker.keys, &sent[4]).unwrap()[0].seq, 4);
}

#[test]
fn envelope_too_far_ahead_is_not_held() {
    let trade = establish();
    let mut rx = trade.taker.receiver();
    let mut tx = trade.maker.sender();
    let mut last = Vec::new();
    for _ in 0..=RECEIVE_WINDOW {
        last = seal_from_maker(&trade, &mut tx, b"x");
    }
    assert!(matches!(
        rx.receive(&trade.taker.keys, &last),
        Err(ChannelError::TooFarAhead {
            seq: RECEIVE_WINDOW,
            next: 0,
            ..
        })
    ));
    assert_eq!(rx.held_count(), 0);
}

#[test]
fn envelope_signed_by_a_third_party_as_itself_is_refused() {
    let trade = establish();
    let mallory = keypair(9);
    let mut rx = trade.taker.receiver();
    let mut tx = Sender::new(
        trade.maker.trade_id,
        mallory.public().to_peer_id(),
        trade.taker.me,
    );
    let bytes = tx
        .seal(&trade.maker.keys, &mallory, b"release now")
        .unwrap()
        .to_bytes()
        .unwrap();
    assert!(matches!(
        rx.receive(&trade.taker.keys, &bytes),
        Err(ChannelError::UnexpectedSender { .. })
    ));
}

#[test]
fn envelope_signed_by_a_third_party_claiming_the_counterparty_is_refused() {
    let trade = establish();
    let mallory = keypair(9);
    let mut rx = trade.taker.receiver();
    let genuine = seal_from_maker(&trade, &mut trade.maker.sender(), b"hi");
    let forged = signed_by(
        SignedEnvelope::decode(&genuine).unwrap().envelope_bytes,
        &mallory,
    );
    assert!(matches!(
        rx.receive(&trade.taker.keys, &forged),
        Err(ChannelError::SignerMismatch { .. })
    ));
    // The maker cannot sign with someone else's identity either.
    let mut tx = trade.maker.sender();
    assert!(matches!(
        tx.seal(&trade.maker.keys, &mallory, b"hi"),
        Err(ChannelError::SignerMismatch { .. })
    ));
    assert_eq!(tx.next_seq(), 0);
}

#[test]
fn envelope_for_an_unknown_trade_is_refused() {
    let trade = establish();
    let mut rx = trade.taker.receiver();
    let other = Uuid::now_v7();
    let mut tx = Sender::new(other, trade.maker.me, trade.maker.peer);
    let bytes = seal_from_maker(&trade, &mut tx, b"hi");
    assert!(matches!(
        rx.receive(&trade.taker.keys, &bytes),
        Err(ChannelError::UnknownTrade { trade_id }) if trade_id == other
    ));
    assert_eq!(SignedEnvelope::verify(&bytes).unwrap().trade_id(), other);
}

#[test]
fn oversized_messages_are_refused() {
    let trade = establish();
    let mut tx = trade.maker.sender();
    let mut rx = trade.taker.receiver();
    assert!(matches!(
        tx.seal(&trade.maker.keys, &trade.maker_key, &vec![0u8; MAX_PLAINTEXT_BYTES + 1]),
        Err(ChannelError::TooLarge { size, max: MAX_PLAINTEXT_BYTES }) if size == MAX_PLAINTEXT_BYTES + 1
    ));
    assert_eq!(tx.next_seq(), 0);
    // The largest plaintext fits in the envelope limit.
    let largest = seal_from_maker(&trade, &mut tx, &vec![7u8; MAX_PLAINTEXT_BYTES]);
    assert!(largest.len() <= MAX_SIGNED_ENVELOPE_BYTES);
    assert_eq!(
        rx.receive(&trade.taker.keys, &largest).unwrap()[0]
            .plaintext
            .len(),
        MAX_PLAINTEXT_BYTES
    );
    // Refused on size alone, before any decoding.
    let huge = vec![0u8; MAX_SIGNED_ENVELOPE_BYTES + 1];
    assert!(matches!(
        rx.receive(&trade.taker.keys, &huge),
        Err(ChannelError::TooLarge {
            max: MAX_SIGNED_ENVELOPE_BYTES,
            ..
        })
    ));
}

/// Re-encodes the postcard varint starting at `at` one byte longer: the same value, overlong.
fn overlong_varint_at(bytes: &[u8], at: usize) -> Vec<u8> {
    let len = bytes[at..].iter().position(|b| b & 0x80 == 0).unwrap() + 1;
    let end = at + len;
    let mut out = bytes[..end].to_vec();
    out[end - 1] |= 0x80;
    out.push(0x00);
    out.extend_from_slice(&bytes[end..]);
    out
}

#[test]
fn non_canonical_encodings_are_refused() {
    let trade = establish();
    let mut rx = trade.taker.receiver();
    let genuine = seal_from_maker(&trade, &mut trade.maker.sender(), b"hi");
    // Outer layer: an overlong length prefix of `envelope_bytes` decodes to the same signed envelope (the
    // signature still holds) but is not its encoding.
    let bytes = overlong_varint_at(&genuine, 0);
    assert_eq!(
        postcard::from_bytes::<SignedEnvelope>(&bytes).unwrap(),
        SignedEnvelope::decode(&genuine).unwrap()
    );
    assert!(matches!(
        rx.receive(&trade.taker.keys, &bytes),
        Err(ChannelError::NonCanonical)
    ));
    // Inner layer: the sender signs an envelope whose sender-PeerId length prefix (after the 16-byte trade
    // id) is overlong.
    let inner = SignedEnvelope::decode(&genuine).unwrap().envelope_bytes;
    let bytes = signed_by(overlong_varint_at(&inner, 16), &trade.maker_key);
    assert!(matches!(
        rx.receive(&trade.taker.keys, &bytes),
        Err(ChannelError::NonCanonical)
    ));
    // Trailing bytes are malformed.
    let bytes = [genuine.clone(), vec![0]].concat();
    assert!(matches!(
        rx.receive(&trade.taker.keys, &bytes),
        Err(ChannelError::Malformed(_))
    ));
    assert_eq!(rx.receive(&trade.taker.keys, &genuine).unwrap().len(), 1);
}

#[test]
fn wrong_static_key_cannot_open_a_take() {
    let trade = establish();
    let me = trade.maker_key.public().to_peer_id();
    let other = StaticSecret::from([8u8; 32]);
    assert!(matches!(
        open_take(&other, me, &trade.sealed),
        Err(ChannelError::WrongStaticKey)
    ));
    // Past the header check, the decryption itself fails under another key.
    assert!(matches!(
        open_take_with_secret_unchecked(&other, &trade.sealed),
        Err(ChannelError::TamperedCiphertext)
    ));
    assert!(open_take_with_secret_unchecked(&trade.maker_static, &trade.sealed).is_ok());
}

#[test]
fn take_for_another_maker_or_tampered_is_refused() {
    let trade = establish();
    assert!(matches!(
        open_take(&trade.maker_static, PeerId::random(), &trade.sealed),
        Err(ChannelError::WrongRecipient { .. })
    ));
    let mut sealed = SealedTake::decode(&trade.sealed).unwrap();
    let last = sealed.take_bytes.len() - 1;
    sealed.take_bytes[last] ^= 0x01;
    assert!(matches!(
        open_take(
            &trade.maker_static,
            trade.maker.me,
            &sealed.to_bytes().unwrap()
        ),
        Err(ChannelError::BadSignature)
    ));
}

#[test]
fn take_to_a_low_order_key_is_refused() {
    let err = seal_take(
        PeerId::random(),
        &[0u8; 32],
        Uuid::now_v7(),
        Uuid::now_v7(),
        b"x",
        &keypair(2),
    )
    .unwrap_err();
    assert!(matches!(err, ChannelError::WeakKey));
}

#[test]
fn accept_from_another_maker_or_for_another_take_is_refused() {
    let trade = establish();
    let maker_static_pub = x25519_dalek::PublicKey::from(&trade.maker_static).to_bytes();
    let seal = || {
        seal_take(
            trade.maker.me,
            &maker_static_pub,
            trade.maker.offer_id,
            Uuid::now_v7(),
            b"again",
            &trade.taker_key,
        )
        .unwrap()
    };
    // Signed by someone who is not the offer's maker.
    let (_, handshake) = seal();
    let mallory = keypair(9);
    let wire = [postcard::to_stdvec(&[0u8; 16]).unwrap(), vec![0u8; 64]].concat();
    let signature = mallory.sign(&[ACCEPT_SIGNING_TAG, &wire].concat()).unwrap();
    let forged = SignedAccept {
        accept_bytes: wire,
        maker_key: mallory.public().encode_protobuf(),
        signature,
    };
    assert!(matches!(
        handshake.finish(&forged.to_bytes().unwrap()),
        Err(ChannelError::SignerMismatch { .. })
    ));
    // Signed by the maker for the right trade, but answering another take (another take hash).
    let (_, handshake) = seal();
    let wire = [
        &handshake.trade_id().into_bytes()[..],
        &[0u8; 32],
        &x25519_dalek::PublicKey::from(&StaticSecret::from([5u8; 32])).to_bytes(),
    ]
    .concat();
    let signature = trade
        .maker_key
        .sign(&[ACCEPT_SIGNING_TAG, &wire].concat())
        .unwrap();
    let mismatched = SignedAccept {
        accept_bytes: wire,
        maker_key: trade.maker_key.public().encode_protobuf(),
        signature,
    };
    assert!(matches!(
        handshake.finish(&mismatched.to_bytes().unwrap()),
        Err(ChannelError::AcceptMismatch)
    ));
    // The maker's genuine accept of the first take does not finish a second one.
    let (accept, _) = accept_take(&trade.opened, &trade.maker_key).unwrap();
    let (_, second) = seal();
    assert!(matches!(
        second.finish(&accept.to_bytes().unwrap()),
        Err(ChannelError::UnknownTrade { .. })
    ));
}

#[test]
fn channel_keys_do_not_depend_on_the_static_key() {
    let trade = establish();
    let transcript = Transcript {
        offer_id: trade.opened.offer_id(),
        trade_id: trade.opened.trade_id(),
        maker: trade.maker.me,
        taker: trade.taker.me,
        taker_ephemeral: trade.opened.taker_ephemeral(),
        maker_ephemeral: [0u8; 32],
        take_ciphertext: Vec::new(),
    };
    // What a thief of the maker's static key can compute from a recorded take: DH(static, taker eph).
    let static_dh = trade
        .maker_static
        .diffie_hellman(&x25519_dalek::PublicKey::from(
            trade.opened.taker_ephemeral(),
        ))
        .to_bytes();
    // Even handed the true transcript hash, the keys it yields are not the channel's.
    for hash in [transcript.hash().unwrap(), [0u8; 32]] {
        let (to_maker, to_taker) = direction_keys(&static_dh, &hash).unwrap();
        for key in [*to_maker, *to_taker] {
            assert_ne!(key, trade.maker.keys.send);
            assert_ne!(key, trade.maker.keys.recv);
        }
    }
    // A fresh accept of the very same take yields fresh keys: they come from the ephemeral keys alone.
    let (_, again) = accept_take(&trade.opened, &trade.maker_key).unwrap();
    assert_ne!(again.keys.send, trade.maker.keys.send);
    assert_ne!(again.keys.recv, trade.maker.keys.recv);
    // And the constructors refuse a secret that is not theirs in the transcript.
    assert!(matches!(
        ChannelKeys::for_maker(&trade.maker_static, &transcript),
        Err(ChannelError::EphemeralMismatch)
    ));
}

#[test]
fn sender_state_round_trips_through_serde() {
    let trade = establish();
    let mut tx = trade.maker.sender();
    seal_from_maker(&trade, &mut tx, b"a");
    let restored: Sender = postcard::from_bytes(&postcard::to_stdvec(&tx).unwrap()).unwrap();
    assert_eq!(restored, tx);
    assert_eq!(restored.next_seq(), 1);
}

#[test]
fn errors_are_invalid_input_for_the_shells() {
    let e = ChannelError::Replay { seq: 1, next: 2 };
    assert_eq!(e.kind(), crate::ErrorKind::InvalidInput);
    let err: crate::Error = e.into();
    assert_eq!(err.kind(), crate::ErrorKind::InvalidInput);
    assert!(err.to_string().contains("duplicate or replay"));
    assert_eq!(
        ChannelError::Internal("x".into()).kind(),
        crate::ErrorKind::Internal
    );
}

proptest! {
    #[test]
    fn any_plaintext_round_trips(plaintext in proptest::collection::vec(any::<u8>(), 0..4096)) {
        let trade = establish();
        let mut tx = trade.taker.sender();
        let mut rx = trade.maker.receiver();
        let bytes = tx.seal(&trade.taker.keys, &trade.taker_key, &plaintext).unwrap().to_bytes().unwrap();
        let got = rx.receive(&trade.maker.keys, &bytes).unwrap();
        prop_assert_eq!(got, vec![Delivered { seq: 0, plaintext }]);
    }

    #[test]
    fn any_single_byte_mutation_is_refused(
        plaintext in proptest::collection::vec(any::<u8>(), 0..256),
        index in any::<proptest::sample::Index>(),
        flip in 1u8..=255,
    ) {
        let trade = establish();
        let bytes = seal_from_maker(&trade, &mut trade.maker.sender(), &plaintext);
        let mut mutated = bytes.clone();
        let at = index.index(mutated.len());
        mutated[at] ^= flip;
        let mut rx = trade.taker.receiver();
        prop_assert!(rx.receive(&trade.taker.keys, &mutated).is_err());
        prop_assert_eq!(rx.clone(), trade.taker.receiver());
        prop_assert!(rx.receive(&trade.taker.keys, &bytes).is_ok());
    }
}
