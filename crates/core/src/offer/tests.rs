use proptest::prelude::*;
use rust_decimal::Decimal;

use super::*;

/// A fixed clock: tests never read the real one.
const NOW: i64 = 1_750_000_000_000;
const HOUR: i64 = 60 * 60 * 1000;

fn keypair(seed: u8) -> libp2p_identity::Keypair {
    libp2p_identity::Keypair::ed25519_from_bytes([seed; 32]).unwrap()
}

fn peer(seed: u8) -> PeerId {
    keypair(seed).public().to_peer_id()
}

fn v7(millis: i64, random: u8) -> Uuid {
    uuid::Builder::from_unix_timestamp_millis(millis as u64, &[random; 10]).into_uuid()
}

fn methods(ids: &[&str]) -> Vec<PaymentMethod> {
    ids.iter()
        .map(|id| PaymentMethod::new(*id).unwrap())
        .collect()
}

/// A valid offer by `keypair(1)`, created an hour ago, expiring in a day. Its minimum, 0.01 BTC, gives a
/// deposit of 0.0015 BTC, above the escrow's minimum deposit.
fn sample() -> Offer {
    Offer {
        id: v7(NOW - HOUR, 7),
        maker: peer(1),
        side: Side::Sell,
        base: Asset::Btc,
        quote: Quote::Fiat(Fiat::Eur),
        price: Price::Fixed(Decimal::new(650_005, 1)),
        min_amount: 1_000_000,
        max_amount: 10_000_000,
        payment_methods: methods(&["SEPA", "REVOLUT"]),
        escrow: EscrowKind::Multisig {
            arbitrators: vec![peer(2), peer(3)],
        },
        deposit_bps: 1_500,
        maker_x25519: [9; 32],
        created_at: NOW - HOUR,
        expires_at: NOW + 24 * HOUR,
        terms: "SEPA instant only.\nReference: the trade id.".into(),
    }
}

/// Signs any bytes as offer bytes, skipping every check `SignedOffer::sign` does: the hostile maker.
fn sign_raw(offer_bytes: Vec<u8>, keypair: &libp2p_identity::Keypair) -> Vec<u8> {
    let signature = keypair
        .sign(&[OFFER_SIGNING_TAG, &offer_bytes].concat())
        .unwrap();
    SignedOffer {
        offer_bytes,
        maker_key: keypair.public().encode_protobuf(),
        signature,
    }
    .to_bytes()
}

/// Encodes `offer` without validating it and signs it with its maker's key (seed 1).
fn signed_unchecked(offer: &Offer) -> Vec<u8> {
    sign_raw(wire::encode_offer(offer).unwrap(), &keypair(1))
}

fn verify_err(bytes: &[u8]) -> OfferError {
    let err = SignedOffer::verify(bytes, NOW, None).unwrap_err();
    assert_eq!(err.kind(), crate::ErrorKind::InvalidInput, "{err}");
    err
}

/// The error both `SignedOffer::sign` and verification of a hostile maker's bytes give for `offer`.
fn refused(offer: Offer) -> OfferError {
    let at_sign = SignedOffer::sign(&offer, &keypair(1)).unwrap_err();
    let at_verify = verify_err(&signed_unchecked(&offer));
    assert_eq!(at_sign, at_verify);
    at_verify
}

fn with(change: impl FnOnce(&mut Offer)) -> Offer {
    let mut offer = sample();
    change(&mut offer);
    offer
}

fn replace(haystack: &[u8], needle: &[u8], with: &[u8]) -> Vec<u8> {
    let at = haystack
        .windows(needle.len())
        .position(|w| w == needle)
        .unwrap();
    [&haystack[..at], with, &haystack[at + needle.len()..]].concat()
}

/// Offset of the base asset tag in the offer bytes: id (16), maker (length + bytes), side (1).
fn base_tag_offset(offer: &Offer) -> usize {
    16 + 1 + offer.maker.to_bytes().len() + 1
}

// --- round trips ---

#[test]
fn sign_encode_verify_round_trip() {
    let offer = sample();
    let signed = SignedOffer::sign(&offer, &keypair(1)).unwrap();
    let bytes = signed.to_bytes();
    assert_eq!(bytes.len(), signed.encoded_len());
    let verified = SignedOffer::verify(&bytes, NOW, Some(&offer.record_key())).unwrap();
    assert_eq!(verified.offer(), &offer);
    assert_eq!(verified.signed(), &signed);
    assert_eq!(verified.to_bytes(), bytes);
    assert_eq!(verified.id(), offer.id);
    assert_eq!(verified.maker(), peer(1));
    assert!(verified.is_live(NOW));
    assert!(!verified.is_live(offer.expires_at));
    // Deterministic: ed25519 signatures and the canonical encoding give the same bytes every time.
    assert_eq!(
        SignedOffer::sign(&offer, &keypair(1)).unwrap().to_bytes(),
        bytes
    );
}

#[test]
fn market_relative_and_no_escrow_round_trip() {
    let offer = with(|o| {
        o.side = Side::Buy;
        o.base = Asset::Ltc;
        o.quote = Quote::Asset(Asset::Btc);
        o.price = Price::MarketRelative { premium_bps: -250 };
        o.escrow = EscrowKind::None;
        o.deposit_bps = 0;
        o.terms = String::new();
    });
    let bytes = SignedOffer::sign(&offer, &keypair(1)).unwrap().to_bytes();
    assert_eq!(
        SignedOffer::verify(&bytes, NOW, None).unwrap().offer(),
        &offer
    );
}

#[test]
fn offer_new_builds_a_valid_v7_offer() {
    let new = NewOffer {
        side: Side::Sell,
        base: Asset::Btc,
        quote: "eur".parse().unwrap(),
        price: Price::Fixed("65000.50".parse().unwrap()),
        min_amount: parse_amount("0.001", Asset::Btc).unwrap(),
        max_amount: parse_amount("0.1", Asset::Btc).unwrap(),
        payment_methods: methods(&["SEPA"]),
        escrow: EscrowKind::None,
        deposit_bps: 1_000,
        maker_x25519: [1; 32],
        ttl_ms: 24 * HOUR,
        terms: "hello".into(),
    };
    let offer = Offer::new(peer(1), new.clone(), NOW).unwrap();
    assert_eq!(offer.id.get_version_num(), 7);
    assert_eq!(offer.created_at, NOW);
    assert_eq!(offer.expires_at, NOW + 24 * HOUR);
    assert_ne!(Offer::new(peer(1), new.clone(), NOW).unwrap().id, offer.id);
    let bytes = SignedOffer::sign(&offer, &keypair(1)).unwrap().to_bytes();
    assert_eq!(
        SignedOffer::verify(&bytes, NOW, None).unwrap().offer(),
        &offer
    );

    let too_long = NewOffer {
        ttl_ms: MAX_TTL_MS + 1,
        ..new.clone()
    };
    assert!(matches!(
        Offer::new(peer(1), too_long, NOW),
        Err(OfferError::TtlTooLong { .. })
    ));
    let overflowing = NewOffer {
        ttl_ms: i64::MAX,
        ..new.clone()
    };
    assert!(matches!(
        Offer::new(peer(1), overflowing, NOW),
        Err(OfferError::TtlTooLong { .. })
    ));
    let zero = NewOffer { ttl_ms: 0, ..new };
    assert!(matches!(
        Offer::new(peer(1), zero, NOW),
        Err(OfferError::ExpiresBeforeCreation { .. })
    ));
}

#[test]
fn envelope_encoding_is_postcard() {
    let signed = SignedOffer::sign(&sample(), &keypair(1)).unwrap();
    assert_eq!(signed.to_bytes(), postcard::to_stdvec(&signed).unwrap());
    let withdrawal = SignedWithdrawal::sign(&Withdrawal::of(&sample(), NOW), &keypair(1)).unwrap();
    assert_eq!(
        withdrawal.to_bytes(),
        postcard::to_stdvec(&withdrawal).unwrap()
    );
    for update in [
        MarketUpdate::Offer(signed),
        MarketUpdate::Withdrawal(withdrawal),
    ] {
        assert_eq!(update.to_bytes(), postcard::to_stdvec(&update).unwrap());
    }
    let mut long = Vec::new();
    crate::codec::put_varint(&mut long, 300);
    assert_eq!(long, postcard::to_stdvec(&300usize).unwrap());
    assert_eq!(crate::codec::varint_len(300), 2);
}

#[test]
fn offer_encoding_is_pinned() {
    // The signed format: if this changes, every published offer stops verifying. Bump the signing tags.
    // Pinned with the minimum `sample()` had before the minimum deposit (encoding does not validate).
    let bytes = wire::encode_offer(&with(|o| o.min_amount = 100_000)).unwrap();
    let digest: String = sha2::Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(digest, PINNED_OFFER_SHA256, "{} bytes", bytes.len());
}
const PINNED_OFFER_SHA256: &str =
    "c6d55399ac5530437147dbdeb565b8303733a1696fb513012454fd8714a6a940";

#[test]
fn the_largest_valid_offer_fits() {
    let offer = with(|o| {
        o.price = Price::Fixed("999999999999.99999999".parse().unwrap());
        o.payment_methods = (0..MAX_PAYMENT_METHODS)
            .map(|i| PaymentMethod::new(format!("{i}{}", "X".repeat(31))).unwrap())
            .collect();
        o.escrow = EscrowKind::Multisig {
            arbitrators: (2..2 + MAX_ARBITRATORS as u8).map(peer).collect(),
        };
        o.min_amount = MAX_AMOUNT;
        o.max_amount = MAX_AMOUNT;
        o.deposit_bps = MAX_DEPOSIT_BPS;
        o.created_at = i64::MAX - MAX_TTL_MS;
        o.expires_at = i64::MAX;
        o.terms = "中".repeat(MAX_TERMS_BYTES / 3);
    });
    offer.validate().unwrap();
    let signed = SignedOffer::sign(&offer, &keypair(1)).unwrap();
    assert!(
        signed.encoded_len() <= MAX_SIGNED_OFFER_BYTES - 1_000,
        "{}",
        signed.encoded_len()
    );
}

// --- keys and names ---

#[test]
fn market_and_record_keys() {
    let key = market_key(Asset::Btc, Quote::Fiat(Fiat::Eur));
    assert_eq!(
        key,
        <[u8; 32]>::from(Sha256::digest(b"souk/market/BTC/EUR"))
    );
    assert_eq!(
        market_key(Asset::Ltc, Quote::Asset(Asset::Btc)),
        <[u8; 32]>::from(Sha256::digest(b"souk/market/LTC/BTC"))
    );
    assert_eq!(sample().market_key(), key);
    assert_eq!(sample().market_topic(), "souk/market/BTC/EUR/v1");
    let id: Uuid = "0197a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b".parse().unwrap();
    assert_eq!(
        record_key(&id),
        <[u8; 32]>::from(Sha256::digest(
            b"souk/offer/0197a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"
        ))
    );
}

#[test]
fn codes_tags_and_parsing() {
    for (i, fiat) in Fiat::ALL.iter().enumerate() {
        assert_eq!(usize::from(fiat.tag()), i);
        assert_eq!(Fiat::from_tag(fiat.tag()), Some(*fiat));
        assert_eq!(fiat.code().parse::<Fiat>().unwrap(), *fiat);
        assert_eq!(fiat.code().len(), 3);
        assert!(
            fiat.code().parse::<Asset>().is_err(),
            "{fiat} is also an asset"
        );
    }
    for (i, asset) in Asset::ALL.iter().enumerate() {
        assert_eq!(usize::from(asset.tag()), i);
        assert_eq!(Asset::from_tag(asset.tag()), Some(*asset));
        assert_eq!(asset.decimals(), 8);
    }
    assert!(Fiat::ALL.len() >= 20);
    assert_eq!(Asset::from_tag(2), None);
    assert_eq!(" btc ".parse::<Asset>().unwrap(), Asset::Btc);
    assert_eq!("Ltc".parse::<Quote>().unwrap(), Quote::Asset(Asset::Ltc));
    assert_eq!("ngn".parse::<Quote>().unwrap(), Quote::Fiat(Fiat::Ngn));
    assert_eq!(
        "DOGE".parse::<Asset>().unwrap_err(),
        OfferError::UnknownAsset("DOGE".into())
    );
    assert_eq!(
        "XYZ".parse::<Quote>().unwrap_err(),
        OfferError::UnknownQuote("XYZ".into())
    );
    assert_eq!(MAX_FIXED_PRICE, Decimal::from(1_000_000_000_000u64));
}

#[test]
fn json_form_for_the_ui() {
    let offer = sample();
    let json = serde_json::to_value(&offer).unwrap();
    assert_eq!(json["maker"], peer(1).to_string());
    assert_eq!(json["quote"], "EUR");
    assert_eq!(json["base"], "BTC");
    assert_eq!(json["side"], "sell");
    assert_eq!(json["price"]["fixed"], "65000.5");
    assert_eq!(json["escrow"]["kind"], "multisig");
    assert_eq!(json["maker_x25519"], "09".repeat(32));
    assert_eq!(json["payment_methods"][0], "SEPA");
    let back: Offer = serde_json::from_value(json.clone()).unwrap();
    assert_eq!(back, offer);
    let mut bad = json;
    bad["payment_methods"][0] = "sepa".into();
    assert!(serde_json::from_value::<Offer>(bad).is_err());
}

// --- hostile envelopes ---

#[test]
fn flipped_signature_byte_is_a_bad_signature() {
    let mut signed = SignedOffer::sign(&sample(), &keypair(1)).unwrap();
    signed.signature[10] ^= 0x01;
    assert_eq!(verify_err(&signed.to_bytes()), OfferError::BadSignature);
    signed.signature.pop();
    assert_eq!(verify_err(&signed.to_bytes()), OfferError::BadSignature);
}

#[test]
fn offer_signed_by_someone_else_than_its_maker() {
    let offer = sample(); // maker: peer(1).to_base58()
    assert_eq!(
        SignedOffer::sign(&offer, &keypair(5)).unwrap_err(),
        OfferError::MakerKeyMismatch {
            maker: peer(1).to_base58(),
            signer: peer(5).to_base58()
        }
    );
    let bytes = sign_raw(wire::encode_offer(&offer).unwrap(), &keypair(5));
    assert_eq!(
        verify_err(&bytes),
        OfferError::MakerKeyMismatch {
            maker: peer(1).to_base58(),
            signer: peer(5).to_base58()
        }
    );
}

#[test]
fn maker_key_swapped_for_another() {
    let mut signed = SignedOffer::sign(&sample(), &keypair(1)).unwrap();
    signed.maker_key = keypair(5).public().encode_protobuf();
    assert_eq!(verify_err(&signed.to_bytes()), OfferError::BadSignature);
    signed.maker_key = vec![1, 2, 3];
    assert!(matches!(
        verify_err(&signed.to_bytes()),
        OfferError::BadMakerKey(_)
    ));
}

#[test]
fn id_not_matching_the_record_key() {
    let offer = sample();
    let bytes = SignedOffer::sign(&offer, &keypair(1)).unwrap().to_bytes();
    let other = record_key(&v7(NOW, 8));
    assert_eq!(
        SignedOffer::verify(&bytes, NOW, Some(&other)).unwrap_err(),
        OfferError::RecordKeyMismatch { id: offer.id }
    );
    assert_eq!(
        SignedOffer::verify(&bytes, NOW, Some(&other[..16])).unwrap_err(),
        OfferError::RecordKeyMismatch { id: offer.id }
    );
    SignedOffer::verify(&bytes, NOW, Some(&offer.record_key())).unwrap();
}

#[test]
fn oversized_input_is_refused_before_decoding() {
    assert_eq!(
        verify_err(&vec![0u8; MAX_SIGNED_OFFER_BYTES + 1]),
        OfferError::TooLarge {
            size: MAX_SIGNED_OFFER_BYTES + 1,
            max: MAX_SIGNED_OFFER_BYTES
        }
    );
    // A genuinely signed offer with oversized terms is refused for its size, not its terms.
    let bytes = signed_unchecked(&with(|o| o.terms = "a".repeat(MAX_SIGNED_OFFER_BYTES)));
    assert!(matches!(
        verify_err(&bytes),
        OfferError::TooLarge {
            max: MAX_SIGNED_OFFER_BYTES,
            ..
        }
    ));
    assert!(matches!(
        MarketUpdate::verify(&vec![0u8; MAX_MARKET_UPDATE_BYTES + 1], NOW),
        Err(OfferError::TooLarge { .. })
    ));
}

#[test]
fn random_bytes_are_malformed() {
    for bytes in [
        &[][..],
        &[0xff; 64][..],
        &[0x05, 1, 2][..],
        b"not an offer at all",
    ] {
        assert!(
            matches!(verify_err(bytes), OfferError::Malformed(_)),
            "{bytes:?}"
        );
    }
}

#[test]
fn every_truncation_is_malformed() {
    let bytes = SignedOffer::sign(&sample(), &keypair(1))
        .unwrap()
        .to_bytes();
    for len in 0..bytes.len() {
        let err = verify_err(&bytes[..len]);
        assert!(
            matches!(err, OfferError::Malformed(_)),
            "length {len}: {err}"
        );
    }
}

#[test]
fn trailing_bytes_are_malformed() {
    let mut bytes = SignedOffer::sign(&sample(), &keypair(1))
        .unwrap()
        .to_bytes();
    bytes.push(0);
    assert!(matches!(verify_err(&bytes), OfferError::Malformed(m) if m.contains("trailing")));
    // Also inside the signed offer bytes, with a valid signature over them.
    let mut offer_bytes = wire::encode_offer(&sample()).unwrap();
    offer_bytes.push(0);
    let err = verify_err(&sign_raw(offer_bytes, &keypair(1)));
    assert!(matches!(err, OfferError::Malformed(m) if m.contains("trailing")));
}

#[test]
fn non_canonical_price_text_is_refused() {
    let canonical = wire::encode_offer(&sample()).unwrap();
    for other in [
        &b"\x0865000.50"[..],
        b"\x0865_000.5",
        b"\x08+65000.5",
        b"\x08065000.5",
    ] {
        let bytes = replace(&canonical, b"\x0765000.5", other);
        let err = verify_err(&sign_raw(bytes, &keypair(1)));
        // Either a form the decimal parser refuses, or one it accepts that is not the canonical text.
        assert!(
            matches!(err, OfferError::NonCanonical | OfferError::Malformed(_)),
            "{other:?}: {err}"
        );
    }
    let bytes = replace(&canonical, b"\x0765000.5", b"\x0865000.50");
    assert_eq!(
        verify_err(&sign_raw(bytes, &keypair(1))),
        OfferError::NonCanonical
    );
}

#[test]
fn non_minimal_varints_are_refused() {
    // In the unsigned envelope: the maker key's length (36) written in two bytes.
    let signed = SignedOffer::sign(&sample(), &keypair(1)).unwrap();
    let bytes = signed.to_bytes();
    let key_len_at = crate::codec::varint_len(signed.offer_bytes.len()) + signed.offer_bytes.len();
    assert_eq!(bytes[key_len_at], 36);
    let padded = [
        &bytes[..key_len_at],
        &[0x80 | 36, 0x00],
        &bytes[key_len_at + 1..],
    ]
    .concat();
    assert_eq!(verify_err(&padded), OfferError::NonCanonical);
    // In the signed offer bytes: the terms' length.
    let offer = with(|o| o.terms = "x".into());
    let canonical = wire::encode_offer(&offer).unwrap();
    assert_eq!(&canonical[canonical.len() - 2..], b"\x01x");
    let padded = [&canonical[..canonical.len() - 2], &b"\x81\x00x"[..]].concat();
    assert_eq!(
        verify_err(&sign_raw(padded, &keypair(1))),
        OfferError::NonCanonical
    );
}

// --- hostile content ---

#[test]
fn unknown_asset_tag() {
    let offer = sample();
    let mut bytes = wire::encode_offer(&offer).unwrap();
    let at = base_tag_offset(&offer);
    assert_eq!(bytes[at], Asset::Btc.tag());
    bytes[at] = 99;
    assert_eq!(
        verify_err(&sign_raw(bytes, &keypair(1))),
        OfferError::UnknownAsset("tag 99".into())
    );
}

#[test]
fn unknown_quote_tag() {
    let offer = sample();
    let canonical = wire::encode_offer(&offer).unwrap();
    let at = base_tag_offset(&offer) + 1;
    assert_eq!(canonical[at..at + 2], [0, Fiat::Eur.tag()]);
    let mut bytes = canonical.clone();
    bytes[at + 1] = 200;
    assert_eq!(
        verify_err(&sign_raw(bytes, &keypair(1))),
        OfferError::UnknownQuote("fiat tag 200".into())
    );
    let mut bytes = canonical.clone();
    bytes[at] = 1;
    bytes[at + 1] = 7;
    assert_eq!(
        verify_err(&sign_raw(bytes, &keypair(1))),
        OfferError::UnknownQuote("asset tag 7".into())
    );
    // An unknown kind of quote (neither fiat nor asset) is just malformed.
    let mut bytes = canonical;
    bytes[at] = 2;
    assert!(matches!(
        verify_err(&sign_raw(bytes, &keypair(1))),
        OfferError::Malformed(_)
    ));
}

#[test]
fn unknown_side_tag() {
    let offer = sample();
    let mut bytes = wire::encode_offer(&offer).unwrap();
    bytes[base_tag_offset(&offer) - 1] = 2;
    assert!(matches!(
        verify_err(&sign_raw(bytes, &keypair(1))),
        OfferError::Malformed(m) if m.contains("side")
    ));
}

#[test]
fn expired_offer() {
    let err = refused_in_time(|o| {
        o.created_at = NOW - 2 * HOUR;
        o.expires_at = NOW - HOUR;
    });
    assert_eq!(
        err,
        OfferError::Expired {
            expires_at: NOW - HOUR,
            now: NOW
        }
    );
    // Expiring exactly now is expired.
    let err = refused_in_time(|o| o.expires_at = NOW);
    assert!(matches!(err, OfferError::Expired { .. }));
}

/// Time rules are checked at verification only: signing does not know the time.
fn refused_in_time(change: impl FnOnce(&mut Offer)) -> OfferError {
    let offer = with(change);
    let bytes = SignedOffer::sign(&offer, &keypair(1)).unwrap().to_bytes();
    verify_err(&bytes)
}

#[test]
fn far_future_expiry() {
    let err = refused_in_time(|o| {
        o.created_at = NOW + 2 * 60 * 1000;
        o.expires_at = NOW + MAX_TTL_MS + 60 * 1000;
    });
    assert_eq!(
        err,
        OfferError::ExpiresTooFar {
            expires_at: NOW + MAX_TTL_MS + 60 * 1000,
            max: NOW + MAX_TTL_MS
        }
    );
}

#[test]
fn created_in_the_future() {
    let err = refused_in_time(|o| {
        o.created_at = NOW + MAX_CLOCK_SKEW_MS + 1;
        o.expires_at = NOW + HOUR;
    });
    assert_eq!(
        err,
        OfferError::CreatedInFuture {
            created_at: NOW + MAX_CLOCK_SKEW_MS + 1,
            now: NOW
        }
    );
    // Within the allowed clock skew is fine.
    let offer = with(|o| o.created_at = NOW + MAX_CLOCK_SKEW_MS);
    let bytes = SignedOffer::sign(&offer, &keypair(1)).unwrap().to_bytes();
    SignedOffer::verify(&bytes, NOW, None).unwrap();
}

#[test]
fn expiry_before_creation_and_overlong_life() {
    assert_eq!(
        refused(with(|o| o.expires_at = o.created_at)),
        OfferError::ExpiresBeforeCreation {
            created_at: NOW - HOUR,
            expires_at: NOW - HOUR
        }
    );
    assert_eq!(
        refused(with(|o| o.created_at = NOW - 8 * 24 * HOUR)),
        OfferError::TtlTooLong {
            ttl_ms: 9 * 24 * HOUR,
            max_ms: MAX_TTL_MS
        }
    );
    assert!(matches!(
        refused(with(|o| o.created_at = i64::MIN)),
        OfferError::TtlTooLong { .. }
    ));
}

#[test]
fn zero_amounts() {
    assert_eq!(
        refused(with(|o| o.min_amount = 0)),
        OfferError::ZeroAmount { which: "minimum" }
    );
    assert_eq!(
        refused(with(|o| o.max_amount = 0)),
        OfferError::ZeroAmount { which: "maximum" }
    );
}

#[test]
fn min_above_max() {
    assert_eq!(
        refused(with(|o| {
            o.min_amount = 2_000;
            o.max_amount = 1_999;
        })),
        OfferError::MinAboveMax {
            min: 2_000,
            max: 1_999
        }
    );
}

#[test]
fn max_over_the_cap() {
    assert_eq!(
        refused(with(|o| o.max_amount = MAX_AMOUNT + 1)),
        OfferError::AmountOverCap {
            amount: MAX_AMOUNT + 1,
            cap: MAX_AMOUNT
        }
    );
    assert!(matches!(
        refused(with(|o| o.max_amount = u64::MAX)),
        OfferError::AmountOverCap { .. }
    ));
}

#[test]
fn bad_fixed_prices() {
    let fixed = |text: &str| with(|o| o.price = Price::Fixed(text.parse().unwrap()));
    assert!(matches!(
        refused(fixed("0")),
        OfferError::PriceNotPositive { .. }
    ));
    assert!(matches!(
        refused(fixed("-1")),
        OfferError::PriceNotPositive { .. }
    ));
    assert!(matches!(
        refused(fixed("1.000000001")),
        OfferError::PriceTooPrecise {
            scale: 9,
            max: 8,
            ..
        }
    ));
    assert!(matches!(
        refused(fixed("1000000000000.00000001")),
        OfferError::PriceTooHigh { .. }
    ));
    // Trailing zeros are not precision: 1.100000000 is 1.1.
    let ok = fixed("1.100000000");
    let bytes = SignedOffer::sign(&ok, &keypair(1)).unwrap().to_bytes();
    SignedOffer::verify(&bytes, NOW, None).unwrap();
    accepted(fixed("1000000000000"));
}

fn accepted(offer: Offer) {
    let bytes = SignedOffer::sign(&offer, &keypair(1)).unwrap().to_bytes();
    SignedOffer::verify(&bytes, NOW, None).unwrap();
}

#[test]
fn premium_out_of_range() {
    let premium = |bps| with(|o| o.price = Price::MarketRelative { premium_bps: bps });
    assert_eq!(
        refused(premium(5_001)),
        OfferError::PremiumOutOfRange {
            premium_bps: 5_001,
            max: 5_000
        }
    );
    assert!(matches!(
        refused(premium(i32::MIN)),
        OfferError::PremiumOutOfRange { .. }
    ));
    accepted(premium(5_000));
    accepted(premium(-5_000));
}

#[test]
fn deposit_out_of_range() {
    assert_eq!(
        refused(with(|o| o.deposit_bps = 5_001)),
        OfferError::DepositOutOfRange {
            deposit_bps: 5_001,
            max: 5_000
        }
    );
}

#[test]
fn escrow_deposit_below_the_minimum() {
    let min_btc = crate::escrow::min_deposit(crate::escrow::Chain::Btc).to_sat();
    let min_ltc = crate::escrow::min_deposit(crate::escrow::Chain::Ltc).to_sat();
    assert_eq!((min_btc, min_ltc), (55_730, 14_380));
    // 15 %: the smallest minimum amount whose deposit covers 55_730 sat is ceil(55_730 / 0.15) = 371_534.
    accepted(with(|o| o.min_amount = 371_534));
    assert_eq!(
        with(|o| o.min_amount = 371_534).deposit_for(371_534),
        55_730
    );
    assert_eq!(
        refused(with(|o| o.min_amount = 371_533)),
        OfferError::DepositBelowMinimum {
            asset: Asset::Btc,
            amount: 371_533,
            deposit_bps: 1_500,
            deposit: 55_729,
            minimum: 55_730,
        }
    );
    // The message names the deposit, its share and the minimum in coins.
    let ltc = |o: &mut Offer| {
        o.base = Asset::Ltc;
        o.deposit_bps = 100;
    };
    let err = refused(with(|o| {
        ltc(o);
        o.min_amount = 1_000_000;
    }));
    assert_eq!(
        err.to_string(),
        "the deposit of 0.0001 LTC (1 % of 0.01 LTC) is below the minimum of 0.0001438 LTC that pays \
         for a release or refund at a high fee rate: raise the deposit or the amount"
    );
    assert_eq!(err.kind(), crate::ErrorKind::InvalidInput);
    // 1 % of 0.01438 LTC is exactly the minimum.
    accepted(with(|o| {
        ltc(o);
        o.min_amount = 100 * min_ltc;
    }));
    // A zero deposit never suffices for an escrow; without one the rule does not apply.
    assert!(matches!(
        refused(with(|o| o.deposit_bps = 0)),
        OfferError::DepositBelowMinimum { deposit: 0, .. }
    ));
    accepted(with(|o| {
        o.escrow = EscrowKind::None;
        o.deposit_bps = 0;
        o.min_amount = 1;
    }));
}

#[test]
fn too_many_or_no_payment_methods() {
    let nine: Vec<String> = (0..9).map(|i| format!("METHOD_{i}")).collect();
    let nine: Vec<&str> = nine.iter().map(String::as_str).collect();
    assert_eq!(
        refused(with(|o| o.payment_methods = methods(&nine))),
        OfferError::PaymentMethodCount { count: 9, max: 8 }
    );
    assert_eq!(
        refused(with(|o| o.payment_methods.clear())),
        OfferError::PaymentMethodCount { count: 0, max: 8 }
    );
    accepted(with(|o| o.payment_methods = methods(&nine[..8])));
}

#[test]
fn duplicate_payment_methods() {
    assert_eq!(
        refused(with(
            |o| o.payment_methods = methods(&["SEPA", "WISE", "SEPA"])
        )),
        OfferError::DuplicatePaymentMethod("SEPA".into())
    );
}

#[test]
fn bad_payment_method_ids() {
    for bad in [
        "sepa",
        "S",
        "SEPA-INSTANT",
        "PÄYPAL",
        &"X".repeat(33),
        "",
        "SEPA ",
    ] {
        assert_eq!(
            PaymentMethod::new(bad).unwrap_err(),
            OfferError::BadPaymentMethod(bad.into())
        );
        // Built around the constructor and signed anyway: refused when signing and when verifying.
        let offer = with(|o| o.payment_methods = vec![PaymentMethod(bad.to_owned())]);
        assert_eq!(refused(offer), OfferError::BadPaymentMethod(bad.into()));
    }
    for good in ["SEPA", "CASH_IN_PERSON", "M2", &"Z".repeat(32)] {
        PaymentMethod::new(good).unwrap();
    }
}

#[test]
fn bad_arbitrators() {
    let arbitrators = |seeds: &[u8]| {
        with(|o| {
            o.escrow = EscrowKind::Multisig {
                arbitrators: seeds.iter().copied().map(peer).collect(),
            }
        })
    };
    assert_eq!(
        refused(arbitrators(&[])),
        OfferError::ArbitratorCount { count: 0, max: 5 }
    );
    assert_eq!(
        refused(arbitrators(&[2, 3, 4, 5, 6, 7])),
        OfferError::ArbitratorCount { count: 6, max: 5 }
    );
    assert_eq!(
        refused(arbitrators(&[2, 3, 2])),
        OfferError::DuplicateArbitrator(peer(2))
    );
    assert_eq!(refused(arbitrators(&[2, 1])), OfferError::MakerIsArbitrator);
    accepted(arbitrators(&[2, 3, 4, 5, 6]));
}

#[test]
fn malformed_arbitrator_peer_id() {
    let offer = sample();
    let canonical = wire::encode_offer(&offer).unwrap();
    let arbitrator = peer(2).to_bytes();
    let mut garbled = arbitrator.clone();
    garbled[0] = 0x77; // not a multihash code
    let bytes = replace(&canonical, &arbitrator, &garbled);
    assert!(matches!(
        verify_err(&sign_raw(bytes, &keypair(1))),
        OfferError::Malformed(m) if m.contains("arbitrator")
    ));
}

#[test]
fn bad_terms() {
    assert_eq!(
        refused(with(|o| o.terms = "a".repeat(MAX_TERMS_CHARS + 1))),
        OfferError::TermsTooLong {
            chars: 2_001,
            bytes: 2_001
        }
    );
    assert_eq!(
        refused(with(|o| o.terms = "€".repeat(MAX_TERMS_BYTES / 3 + 1))),
        OfferError::TermsTooLong {
            chars: 2_001,
            bytes: 6_003
        }
    );
    assert_eq!(
        refused(with(|o| o.terms = "pay\rnow".into())),
        OfferError::TermsControlChar {
            index: 3,
            code: 0x0d
        }
    );
    assert_eq!(
        refused(with(|o| o.terms = "a\u{202E}b".into())),
        OfferError::TermsControlChar {
            index: 1,
            code: 0x202e
        }
    );
    for control in ['\0', '\t', '\u{7f}', '\u{9b}', '\u{1b}'] {
        assert!(matches!(
            refused(with(|o| o.terms = format!("x{control}"))),
            OfferError::TermsControlChar { index: 1, .. }
        ));
    }
    accepted(with(|o| o.terms = "€ 中文 ünïcödé\nsecond line".repeat(50)));
}

#[test]
fn base_equal_to_quote() {
    assert_eq!(
        refused(with(|o| o.quote = Quote::Asset(Asset::Btc))),
        OfferError::SameAsset(Asset::Btc)
    );
}

#[test]
fn id_must_be_uuid_v7() {
    let v4 = Uuid::from_bytes([0x42; 16]); // version nibble 4
    assert_eq!(
        refused(with(|o| o.id = v4)),
        OfferError::NotUuidV7 { id: v4 }
    );
    assert!(matches!(
        refused(with(|o| o.id = Uuid::nil())),
        OfferError::NotUuidV7 { .. }
    ));
}

#[test]
fn errors_are_invalid_input_and_convert() {
    let err = refused(with(|o| o.min_amount = 0));
    assert_eq!(err.kind(), crate::ErrorKind::InvalidInput);
    let converted: crate::Error = err.clone().into();
    assert_eq!(converted.kind(), crate::ErrorKind::InvalidInput);
    assert_eq!(converted.to_string(), err.to_string());
    let internal: crate::Error = OfferError::Internal("x".into()).into();
    assert_eq!(internal.kind(), crate::ErrorKind::Internal);
}

// --- withdrawals ---

fn verified_sample() -> VerifiedOffer {
    let bytes = SignedOffer::sign(&sample(), &keypair(1))
        .unwrap()
        .to_bytes();
    SignedOffer::verify(&bytes, NOW, None).unwrap()
}

#[test]
fn withdrawal_round_trip() {
    let offer = verified_sample();
    let withdrawal = Withdrawal::of(offer.offer(), NOW);
    assert_eq!(withdrawal.withdrawn_at, NOW);
    let signed = SignedWithdrawal::sign(&withdrawal, &keypair(1)).unwrap();
    let bytes = signed.to_bytes();
    assert!(bytes.len() <= MAX_SIGNED_WITHDRAWAL_BYTES);
    let verified = SignedWithdrawal::verify(&bytes, NOW).unwrap();
    assert_eq!(verified.withdrawal(), &withdrawal);
    assert_eq!(verified.signed(), &signed);
    assert_eq!(verified.to_bytes(), bytes);
    assert_eq!(verified.record_key(), offer.record_key());
    assert!(offer.is_withdrawn_by(&verified));
    verified.applies_to(&offer).unwrap();
    // Never dated before the offer it withdraws.
    assert_eq!(
        Withdrawal::of(offer.offer(), 0).withdrawn_at,
        offer.offer().created_at
    );
}

#[test]
fn withdrawal_by_someone_else() {
    let offer = verified_sample(); // by peer(1)
    // B withdrawing in its own name verifies as a statement, but does not withdraw A's offer.
    let by_b = Withdrawal {
        offer_id: offer.id(),
        maker: peer(5),
        withdrawn_at: NOW,
    };
    let bytes = SignedWithdrawal::sign(&by_b, &keypair(5))
        .unwrap()
        .to_bytes();
    let verified = SignedWithdrawal::verify(&bytes, NOW).unwrap();
    assert!(!offer.is_withdrawn_by(&verified));
    assert_eq!(
        verified.applies_to(&offer).unwrap_err(),
        OfferError::WithdrawalNotByMaker {
            maker: peer(1).to_base58(),
            withdrawer: peer(5).to_base58()
        }
    );
    // B claiming to be A: refused when signing and, forged by hand, when verifying.
    let as_a = Withdrawal::of(offer.offer(), NOW);
    let mismatch = OfferError::MakerKeyMismatch {
        maker: peer(1).to_base58(),
        signer: peer(5).to_base58(),
    };
    assert_eq!(
        SignedWithdrawal::sign(&as_a, &keypair(5)).unwrap_err(),
        mismatch
    );
    let withdrawal_bytes = wire::encode_withdrawal(&as_a).unwrap();
    let forged = SignedWithdrawal {
        signature: keypair(5)
            .sign(&[WITHDRAWAL_SIGNING_TAG, &withdrawal_bytes].concat())
            .unwrap(),
        withdrawal_bytes,
        maker_key: keypair(5).public().encode_protobuf(),
    };
    assert_eq!(
        SignedWithdrawal::verify(&forged.to_bytes(), NOW).unwrap_err(),
        mismatch
    );
}

#[test]
fn withdrawal_of_another_offer() {
    let offer = verified_sample();
    let other = Withdrawal {
        offer_id: v7(NOW, 1),
        maker: peer(1),
        withdrawn_at: NOW,
    };
    let bytes = SignedWithdrawal::sign(&other, &keypair(1))
        .unwrap()
        .to_bytes();
    let verified = SignedWithdrawal::verify(&bytes, NOW).unwrap();
    assert!(!offer.is_withdrawn_by(&verified));
    assert!(matches!(
        verified.applies_to(&offer),
        Err(OfferError::WithdrawalOfferMismatch { .. })
    ));
}

#[test]
fn withdrawal_hostile_inputs() {
    let withdrawal = Withdrawal::of(&sample(), NOW);
    let signed = SignedWithdrawal::sign(&withdrawal, &keypair(1)).unwrap();
    let mut bad_sig = signed.clone();
    bad_sig.signature[0] ^= 0x80;
    assert_eq!(
        SignedWithdrawal::verify(&bad_sig.to_bytes(), NOW).unwrap_err(),
        OfferError::BadSignature
    );
    // The offer tag does not make a withdrawal signature (and the other way round).
    let cross = SignedWithdrawal {
        signature: keypair(1)
            .sign(&[OFFER_SIGNING_TAG, &signed.withdrawal_bytes].concat())
            .unwrap(),
        ..signed.clone()
    };
    assert_eq!(
        SignedWithdrawal::verify(&cross.to_bytes(), NOW).unwrap_err(),
        OfferError::BadSignature
    );
    let bytes = signed.to_bytes();
    assert!(matches!(
        SignedWithdrawal::verify(&bytes, NOW - MAX_CLOCK_SKEW_MS - 1),
        Err(OfferError::WithdrawnInFuture { .. })
    ));
    assert!(matches!(
        SignedWithdrawal::verify(&bytes, NOW + MAX_TTL_MS + MAX_CLOCK_SKEW_MS + 1),
        Err(OfferError::WithdrawalStale { .. })
    ));
    assert!(matches!(
        SignedWithdrawal::verify(&[0u8; MAX_SIGNED_WITHDRAWAL_BYTES + 1], NOW),
        Err(OfferError::TooLarge { .. })
    ));
    for len in 0..bytes.len() {
        assert!(matches!(
            SignedWithdrawal::verify(&bytes[..len], NOW),
            Err(OfferError::Malformed(_))
        ));
    }
    let trailing = [&bytes[..], &[0]].concat();
    assert!(matches!(
        SignedWithdrawal::verify(&trailing, NOW),
        Err(OfferError::Malformed(_))
    ));
    let v4 = Withdrawal {
        offer_id: Uuid::from_bytes([0x42; 16]),
        ..withdrawal
    };
    assert!(matches!(
        SignedWithdrawal::sign(&v4, &keypair(1)),
        Err(OfferError::NotUuidV7 { .. })
    ));
}

// --- gossip ---

#[test]
fn market_update_round_trip() {
    let signed = SignedOffer::sign(&sample(), &keypair(1)).unwrap();
    let bytes = MarketUpdate::Offer(signed.clone()).to_bytes();
    assert_eq!(bytes[0], 0);
    assert_eq!(
        MarketUpdate::decode(&bytes).unwrap(),
        MarketUpdate::Offer(signed.clone())
    );
    match MarketUpdate::verify(&bytes, NOW).unwrap() {
        VerifiedMarketUpdate::Offer(o) => assert_eq!(o.offer(), &sample()),
        other => panic!("{other:?}"),
    }
    let withdrawal = SignedWithdrawal::sign(&Withdrawal::of(&sample(), NOW), &keypair(1)).unwrap();
    let bytes = MarketUpdate::Withdrawal(withdrawal.clone()).to_bytes();
    assert_eq!(bytes[0], 1);
    match MarketUpdate::verify(&bytes, NOW).unwrap() {
        VerifiedMarketUpdate::Withdrawal(w) => assert_eq!(w.signed(), &withdrawal),
        other => panic!("{other:?}"),
    }
}

#[test]
fn market_update_hostile_inputs() {
    let signed = SignedOffer::sign(&sample(), &keypair(1)).unwrap();
    let bytes = MarketUpdate::Offer(signed.clone()).to_bytes();
    let mut unknown = bytes.clone();
    unknown[0] = 2;
    assert!(matches!(
        MarketUpdate::decode(&unknown),
        Err(OfferError::Malformed(_))
    ));
    let trailing = [&bytes[..], &[0]].concat();
    assert!(matches!(
        MarketUpdate::decode(&trailing),
        Err(OfferError::Malformed(_))
    ));
    let mut bad_sig = signed;
    bad_sig.signature[0] ^= 1;
    assert_eq!(
        MarketUpdate::verify(&MarketUpdate::Offer(bad_sig).to_bytes(), NOW).unwrap_err(),
        OfferError::BadSignature
    );
    assert!(matches!(
        MarketUpdate::verify(&bytes, NOW + 25 * HOUR),
        Err(OfferError::Expired { .. })
    ));
    // A withdrawal-sized limit applies to a withdrawal inside an update.
    let fat = SignedWithdrawal {
        withdrawal_bytes: vec![0; MAX_SIGNED_WITHDRAWAL_BYTES],
        maker_key: vec![],
        signature: vec![],
    };
    assert!(matches!(
        MarketUpdate::verify(&MarketUpdate::Withdrawal(fat).to_bytes(), NOW),
        Err(OfferError::TooLarge { .. })
    ));
}

#[test]
fn every_byte_flip_is_refused() {
    // Lowest and highest bit of every byte (each bit everywhere is ~4x slower in debug builds).
    let bytes = SignedOffer::sign(&sample(), &keypair(1))
        .unwrap()
        .to_bytes();
    for i in 0..bytes.len() {
        for mask in [0x01, 0x80] {
            let mut bad = bytes.clone();
            bad[i] ^= mask;
            assert!(
                SignedOffer::verify(&bad, NOW, None).is_err(),
                "byte {i} ^ {mask:#04x} accepted"
            );
        }
    }
}

// --- amounts ---

#[test]
fn parse_amount_exact() {
    let btc = Asset::Btc;
    assert_eq!(parse_amount("0.01", btc).unwrap(), 1_000_000);
    assert_eq!(parse_amount("1", btc).unwrap(), 100_000_000);
    assert_eq!(parse_amount(" 2.5 ", btc).unwrap(), 250_000_000);
    assert_eq!(parse_amount("0.00000001", btc).unwrap(), 1);
    assert_eq!(parse_amount("000.10", Asset::Ltc).unwrap(), 10_000_000);
    assert_eq!(parse_amount("21000000", btc).unwrap(), MAX_AMOUNT);
    // The classic float trap: 0.1 + 0.2 style values stay exact.
    assert_eq!(parse_amount("0.3", btc).unwrap(), 30_000_000);
}

#[test]
fn parse_amount_refusals() {
    let reason = |text: &str| match parse_amount(text, Asset::Btc).unwrap_err() {
        OfferError::InvalidAmount { reason, .. } => reason,
        other => panic!("{text}: {other:?}"),
    };
    assert!(reason("0.000000001").contains("more than 8 decimal places"));
    assert!(reason("-1").contains("negative"));
    assert!(reason("0").contains("greater than zero"));
    assert!(reason("0.00000000").contains("greater than zero"));
    assert!(reason("21000000.00000001").contains("above the maximum"));
    assert!(reason(&"9".repeat(40)).contains("above the maximum"));
    assert!(reason("").contains("no amount"));
    for bad in [
        "1e5", "1,5", ".5", "1.", "+1", "1.2.3", "abc", "1 000", "0x10", "١",
    ] {
        assert!(reason(bad).contains("plain decimal"), "{bad}");
    }
}

#[test]
fn format_amount_examples() {
    assert_eq!(format_amount(1_000_000, Asset::Btc), "0.01");
    assert_eq!(format_amount(100_000_000, Asset::Btc), "1");
    assert_eq!(format_amount(1, Asset::Btc), "0.00000001");
    assert_eq!(format_amount(0, Asset::Btc), "0");
    assert_eq!(format_amount(123_456_789, Asset::Ltc), "1.23456789");
    assert_eq!(format_amount(u64::MAX, Asset::Btc), "184467440737.09551615");
}

// --- properties ---

fn arb_offer() -> impl Strategy<Value = Offer> {
    let times = (NOW + 1..=NOW + MAX_TTL_MS).prop_flat_map(|expires_at| {
        let earliest = expires_at - MAX_TTL_MS;
        let latest = (expires_at - 1).min(NOW + MAX_CLOCK_SKEW_MS);
        (earliest..=latest).prop_map(move |created_at| (created_at, expires_at))
    });
    let price = prop_oneof![
        (0u32..=MAX_PRICE_DECIMALS).prop_flat_map(|scale| {
            (1i128..=10i128.pow(12 + scale))
                .prop_map(move |m| Price::Fixed(Decimal::from_i128_with_scale(m, scale)))
        }),
        (-MAX_PREMIUM_BPS..=MAX_PREMIUM_BPS)
            .prop_map(|premium_bps| Price::MarketRelative { premium_bps }),
    ];
    let base_quote = prop::sample::select(Asset::ALL).prop_flat_map(|base| {
        let others: Vec<Asset> = Asset::ALL.iter().copied().filter(|a| *a != base).collect();
        (
            Just(base),
            prop_oneof![
                prop::sample::select(Fiat::ALL).prop_map(Quote::Fiat),
                prop::sample::select(others).prop_map(Quote::Asset),
            ],
        )
    });
    let amounts = (1..=MAX_AMOUNT).prop_flat_map(|max| (1..=max, Just(max)));
    let methods =
        prop::collection::hash_set("[A-Z0-9_]{2,32}", 1..=MAX_PAYMENT_METHODS).prop_map(|set| {
            set.into_iter()
                .map(|m| PaymentMethod::new(m).unwrap())
                .collect::<Vec<_>>()
        });
    let escrow = prop_oneof![
        Just(EscrowKind::None),
        prop::collection::hash_set(2u8..=255, 1..=MAX_ARBITRATORS).prop_map(|seeds| {
            EscrowKind::Multisig {
                arbitrators: seeds.into_iter().map(peer).collect(),
            }
        }),
    ];
    (
        (any::<[u8; 10]>(), 0u64..(1 << 48), any::<bool>()),
        base_quote,
        price,
        amounts,
        methods,
        escrow,
        0..=MAX_DEPOSIT_BPS,
        any::<[u8; 32]>(),
        times,
        "[ -~\n\u{e9}\u{20ac}\u{4e2d}]{0,300}",
    )
        .prop_map(
            |(
                (random, millis, sell),
                (base, quote),
                price,
                (min_amount, max_amount),
                payment_methods,
                escrow,
                deposit_bps,
                maker_x25519,
                (created_at, expires_at),
                terms,
            )| Offer {
                id: uuid::Builder::from_unix_timestamp_millis(millis, &random).into_uuid(),
                maker: peer(1),
                side: if sell { Side::Sell } else { Side::Buy },
                base,
                quote,
                price,
                min_amount,
                max_amount,
                payment_methods,
                escrow,
                deposit_bps,
                maker_x25519,
                created_at,
                expires_at,
                terms,
            },
        )
        .prop_filter("an escrow deposit covers the minimum", |o| {
            o.check_deposit(o.min_amount).is_ok()
        })
}

proptest! {
    #[test]
    fn any_valid_offer_round_trips(offer in arb_offer()) {
        let bytes = SignedOffer::sign(&offer, &keypair(1)).unwrap().to_bytes();
        prop_assert!(bytes.len() <= MAX_SIGNED_OFFER_BYTES);
        let verified = SignedOffer::verify(&bytes, NOW, Some(&offer.record_key())).unwrap();
        prop_assert_eq!(verified.offer(), &offer);
        prop_assert_eq!(verified.to_bytes(), bytes);
        let update = MarketUpdate::Offer(verified.signed().clone()).to_bytes();
        prop_assert!(MarketUpdate::verify(&update, NOW).is_ok());
    }

    #[test]
    fn any_single_byte_mutation_is_refused_or_harmless(
        offer in arb_offer(),
        at in any::<prop::sample::Index>(),
        xor in 1u8..=255,
    ) {
        let bytes = SignedOffer::sign(&offer, &keypair(1)).unwrap().to_bytes();
        let mut bad = bytes.clone();
        let i = at.index(bad.len());
        bad[i] ^= xor;
        if let Ok(verified) = SignedOffer::verify(&bad, NOW, None) {
            prop_assert_eq!(verified.offer(), &offer);
        }
    }

    #[test]
    fn amounts_round_trip(units in 1..=MAX_AMOUNT, ltc in any::<bool>()) {
        let asset = if ltc { Asset::Ltc } else { Asset::Btc };
        let text = format_amount(units, asset);
        prop_assert_eq!(parse_amount(&text, asset).unwrap(), units);
    }

    #[test]
    fn parsed_amounts_format_back(whole in 0u64..=20_999_999, fraction in "[0-9]{1,8}") {
        let text = format!("{whole}.{fraction}");
        if let Ok(units) = parse_amount(&text, Asset::Btc) {
            let formatted = format_amount(units, Asset::Btc);
            prop_assert_eq!(parse_amount(&formatted, Asset::Btc).unwrap(), units);
            let padded = format!("{fraction:0<8}");
            prop_assert_eq!(units, whole * 100_000_000 + padded.parse::<u64>().unwrap());
        } else {
            prop_assert!(whole == 0 && fraction.bytes().all(|b| b == b'0'));
        }
    }
}

#[test]
fn ui_types_have_typescript_declarations() {
    use ts_rs::TS;
    let cfg = ts_rs::Config::new().with_large_int("number");
    assert_eq!(Side::decl(&cfg), r#"type Side = "buy" | "sell";"#);
    assert_eq!(Asset::decl(&cfg), r#"type Asset = "BTC" | "LTC";"#);
    assert_eq!(Quote::decl(&cfg), "type Quote = Fiat | Asset;");
    assert_eq!(PaymentMethod::decl(&cfg), "type PaymentMethod = string;");
    assert!(Fiat::decl(&cfg).contains(r#""EUR" | "USD""#));
    assert!(Price::decl(&cfg).contains(r#"{ "fixed": string }"#));
    assert!(EscrowKind::decl(&cfg).contains("arbitrators: Array<string>"));
    let offer = Offer::decl(&cfg);
    for field in [
        "id: string",
        "maker: string",
        "maker_x25519: string",
        "min_amount: number",
    ] {
        assert!(offer.contains(field), "{field} in {offer}");
    }
    assert!(NewOffer::decl(&cfg).contains("ttl_ms: number"));
}
