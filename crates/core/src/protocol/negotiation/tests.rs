//! The negotiation end to end: messages, signing, the transitions, and what is stored.

use sqlx::Row;

use libp2p::identity::Keypair;
use rust_decimal::Decimal;

use super::{message::WireBody, *};
use crate::store::Store;
use crate::trading::store::negotiation::{
    check_take_capacity, count_open_takes, record_agreed_trade,
};
use crate::{
    error::ErrorKind,
    offer::{Asset, EscrowKind, Fiat, NewOffer, OfferError, Quote, Side},
};

const NOW: i64 = 1_800_000_000_000;
const HOUR: i64 = 3_600_000;

struct Fixture {
    maker: Keypair,
    taker: Keypair,
    offer: Offer,
    trade_id: Uuid,
}

fn fixture() -> Fixture {
    let maker = Keypair::generate_ed25519();
    let new = NewOffer {
        side: Side::Sell,
        base: Asset::Btc,
        quote: Quote::Fiat(Fiat::Eur),
        price: Price::Fixed(Decimal::from(60_000)),
        min_amount: 10_000,
        max_amount: 1_000_000,
        payment_methods: vec![PaymentMethod::new("SEPA").unwrap()],
        escrow: EscrowKind::None,
        deposit_bps: 1_500,
        maker_x25519: [7; 32],
        ttl_ms: 24 * HOUR,
        terms: String::new(),
    };
    let offer = Offer::new(maker.public().to_peer_id(), new, NOW).unwrap();
    Fixture {
        maker,
        taker: Keypair::generate_ed25519(),
        offer,
        trade_id: Uuid::now_v7(),
    }
}

impl Fixture {
    fn msg_by(&self, key: &Keypair, step: u32, body: MessageBody) -> VerifiedNegotiationMessage {
        let m = NegotiationMessage {
            trade_id: self.trade_id,
            offer_id: self.offer.id,
            sender: key.public().to_peer_id(),
            step,
            body,
        };
        let bytes = SignedNegotiationMessage::sign(&m, key).unwrap().to_bytes();
        SignedNegotiationMessage::verify(&bytes).unwrap()
    }

    fn take_body(&self, amount: u64) -> MessageBody {
        MessageBody::TakeRequest {
            amount,
            method: PaymentMethod::new("SEPA").unwrap(),
            payout: "IBAN DE00 1234".into(),
        }
    }

    fn start(&self) -> Negotiation {
        let take = self.msg_by(&self.taker, 0, self.take_body(50_000));
        Negotiation::start(&self.offer, OfferState::Live, NOW, take).unwrap()
    }
}

async fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join(crate::store::FILE_NAME))
        .await
        .unwrap();
    (dir, store)
}

#[tokio::test]
async fn take_counter_accept_records_the_trade_and_its_transcript() {
    let f = fixture();
    let mut n = f.start();
    let counter = MessageBody::Counter {
        amount: Some(20_000),
        price: Some(Decimal::from(61_000)),
    };
    assert_eq!(
        n.apply(f.msg_by(&f.maker, 1, counter)).unwrap(),
        NegotiationState::Countered
    );
    assert_eq!(
        n.apply(f.msg_by(&f.taker, 2, MessageBody::Accept)).unwrap(),
        NegotiationState::Accepted
    );
    assert_eq!(n.terms().amount, 20_000);
    assert_eq!(n.terms().price, Price::Fixed(Decimal::from(61_000)));

    let (_dir, store) = store().await;
    let me = f.maker.public().to_peer_id();
    record_agreed_trade(store.pool(), &n, &me, Some(3), NOW)
        .await
        .unwrap();
    let row = sqlx::query(
        "SELECT role, counterparty, state, terms, transcript_hash FROM trades WHERE id = ?",
    )
    .bind(f.trade_id.to_string())
    .fetch_one(store.pool())
    .await
    .unwrap();
    assert_eq!(row.get::<String, _>("role"), "maker");
    assert_eq!(
        row.get::<String, _>("counterparty"),
        f.taker.public().to_peer_id().to_base58()
    );
    assert_eq!(row.get::<String, _>("state"), "Accepted");
    let terms: Terms = serde_json::from_str(&row.get::<String, _>("terms")).unwrap();
    assert_eq!(&terms, n.terms());
    assert_eq!(terms.payout, "IBAN DE00 1234");
    assert_eq!(
        row.get::<Vec<u8>, _>("transcript_hash"),
        n.transcript_hash().to_vec()
    );

    let events = sqlx::query("SELECT seq, kind, payload, signer, signature FROM trade_events WHERE trade_id = ? ORDER BY seq")
        .bind(f.trade_id.to_string())
        .fetch_all(store.pool())
        .await
        .unwrap();
    let kinds: Vec<String> = events.iter().map(|r| r.get("kind")).collect();
    assert_eq!(kinds, ["take_request", "counter", "accept"]);
    for (i, (row, m)) in events.iter().zip(n.transcript()).enumerate() {
        assert_eq!(row.get::<i64, _>("seq"), i as i64);
        assert_eq!(row.get::<Vec<u8>, _>("payload"), m.signed().message_bytes);
        assert_eq!(row.get::<Vec<u8>, _>("signature"), m.signed().signature);
        assert_eq!(
            row.get::<String, _>("signer"),
            m.message().sender.to_base58()
        );
    }
    assert_eq!(count_open_takes(store.pool(), f.offer.id).await.unwrap(), 1);
}

#[tokio::test]
async fn take_then_accept_keeps_the_offer_terms_and_records_as_taker() {
    let f = fixture();
    let mut n = f.start();
    assert_eq!(
        n.apply(f.msg_by(&f.maker, 1, MessageBody::Accept)).unwrap(),
        NegotiationState::Accepted
    );
    assert_eq!(n.terms().amount, 50_000);
    assert_eq!(n.terms().price, f.offer.price);
    let (_dir, store) = store().await;
    record_agreed_trade(store.pool(), &n, &f.taker.public().to_peer_id(), None, NOW)
        .await
        .unwrap();
    let role: String = sqlx::query_scalar("SELECT role FROM trades")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(role, "taker");
}

#[tokio::test]
async fn rejections_finish_the_negotiation_and_cannot_be_recorded() {
    let f = fixture();
    let reject = || MessageBody::Reject {
        reason: "no".into(),
    };
    let mut n = f.start();
    assert_eq!(
        n.apply(f.msg_by(&f.maker, 1, reject())).unwrap(),
        NegotiationState::Rejected
    );
    assert_eq!(n.reject_reason(), Some("no"));
    let (_dir, store) = store().await;
    assert!(matches!(
        record_agreed_trade(store.pool(), &n, &f.maker.public().to_peer_id(), None, NOW).await,
        Err(NegotiationError::NotAgreed {
            state: NegotiationState::Rejected
        })
    ));

    let mut n = f.start();
    let counter = MessageBody::Counter {
        amount: Some(20_000),
        price: None,
    };
    n.apply(f.msg_by(&f.maker, 1, counter)).unwrap();
    assert_eq!(
        n.apply(f.msg_by(&f.taker, 2, reject())).unwrap(),
        NegotiationState::Rejected
    );
}

#[test]
fn the_maker_cannot_send_a_take_request() {
    let f = fixture();
    let take = f.msg_by(&f.maker, 0, f.take_body(50_000));
    assert!(matches!(
        Negotiation::start(&f.offer, OfferState::Live, NOW, take),
        Err(NegotiationError::WrongParty {
            party: TradeRole::Maker,
            kind: MessageKind::TakeRequest
        })
    ));
}

#[test]
fn the_taker_cannot_accept_its_own_request() {
    let f = fixture();
    let mut n = f.start();
    let before = n.clone();
    let err = n
        .apply(f.msg_by(&f.taker, 1, MessageBody::Accept))
        .unwrap_err();
    assert!(matches!(
        err,
        NegotiationError::NotYourTurn {
            party: TradeRole::Taker,
            expected: TradeRole::Maker,
            ..
        }
    ));
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert_eq!(n, before);
}

#[test]
fn the_taker_cannot_counter() {
    let f = fixture();
    let mut n = f.start();
    n.apply(f.msg_by(
        &f.maker,
        1,
        MessageBody::Counter {
            amount: Some(20_000),
            price: None,
        },
    ))
    .unwrap();
    let counter = MessageBody::Counter {
        amount: Some(30_000),
        price: None,
    };
    assert!(matches!(
        n.apply(f.msg_by(&f.taker, 2, counter)),
        Err(NegotiationError::WrongParty {
            party: TradeRole::Taker,
            kind: MessageKind::Counter
        })
    ));
}

#[test]
fn no_answer_after_the_end() {
    let f = fixture();
    let mut n = f.start();
    n.apply(f.msg_by(&f.maker, 1, MessageBody::Accept)).unwrap();
    assert!(matches!(
        n.apply(f.msg_by(
            &f.taker,
            2,
            MessageBody::Reject {
                reason: String::new()
            }
        )),
        Err(NegotiationError::AlreadyFinished {
            state: NegotiationState::Accepted
        })
    ));
}

#[test]
fn steps_out_of_order_are_refused() {
    let f = fixture();
    let mut n = f.start();
    assert!(matches!(
        n.apply(f.msg_by(&f.maker, 5, MessageBody::Accept)),
        Err(NegotiationError::BadStep {
            expected: 1,
            got: 5
        })
    ));
}

#[test]
fn amounts_outside_the_offer_range_are_refused() {
    let f = fixture();
    for amount in [9_999, 1_000_001] {
        let take = f.msg_by(&f.taker, 0, f.take_body(amount));
        assert!(matches!(
            Negotiation::start(&f.offer, OfferState::Live, NOW, take),
            Err(NegotiationError::AmountOutOfRange { .. })
        ));
    }
    let mut n = f.start();
    let counter = MessageBody::Counter {
        amount: Some(2_000_000),
        price: None,
    };
    assert!(matches!(
        n.apply(f.msg_by(&f.maker, 1, counter)),
        Err(NegotiationError::AmountOutOfRange {
            amount: 2_000_000,
            ..
        })
    ));
    assert_eq!(n.state(), NegotiationState::Requested);
}

#[test]
fn amounts_whose_escrow_deposit_is_below_the_minimum_are_refused() {
    // An escrow offer whose range reaches below the minimum deposit (one published before the
    // rule, or by a peer that skips it): 15 % of 0.001 BTC is 0.00015 BTC, below 0.0005573 BTC.
    let mut f = fixture();
    f.offer.escrow = EscrowKind::Multisig {
        arbitrators: vec![Keypair::generate_ed25519().public().to_peer_id()],
    };
    let take = f.msg_by(&f.taker, 0, f.take_body(100_000));
    let err = Negotiation::start(&f.offer, OfferState::Live, NOW, take.clone()).unwrap_err();
    assert!(
        matches!(
            &err,
            NegotiationError::DepositBelowMinimum(OfferError::DepositBelowMinimum {
                amount: 100_000,
                deposit: 15_000,
                minimum: 55_730,
                ..
            })
        ),
        "{err:?}"
    );
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(
        err.to_string().starts_with(
            "the deposit of 0.00015 BTC (15 % of 0.001 BTC) is below the minimum of \
             0.0005573 BTC"
        ),
        "{err}"
    );

    // A take whose deposit covers it (15 % of 0.00371534 BTC = 55_730 sat) opens; a counter down
    // to a smaller amount is refused and changes nothing.
    let enough = f.msg_by(&f.taker, 0, f.take_body(371_534));
    let mut n = Negotiation::start(&f.offer, OfferState::Live, NOW, enough).unwrap();
    let counter = MessageBody::Counter {
        amount: Some(371_533),
        price: None,
    };
    assert!(matches!(
        n.apply(f.msg_by(&f.maker, 1, counter)),
        Err(NegotiationError::DepositBelowMinimum(_))
    ));
    assert_eq!(n.state(), NegotiationState::Requested);
    assert_eq!(n.terms().amount, 371_534);

    // A negotiation stored before the rule still loads, so its trade can settle.
    let resumed = Negotiation::resume(&f.offer, vec![take]).unwrap();
    assert_eq!(resumed.terms().amount, 100_000);
}

#[test]
fn a_method_the_offer_does_not_name_is_refused() {
    let f = fixture();
    let body = MessageBody::TakeRequest {
        amount: 50_000,
        method: PaymentMethod::new("PAYPAL").unwrap(),
        payout: String::new(),
    };
    let take = f.msg_by(&f.taker, 0, body);
    assert!(matches!(
        Negotiation::start(&f.offer, OfferState::Live, NOW, take),
        Err(NegotiationError::MethodNotOffered(m)) if m == "PAYPAL"
    ));
}

#[test]
fn expired_or_withdrawn_offers_cannot_be_taken() {
    let f = fixture();
    let take = || f.msg_by(&f.taker, 0, f.take_body(50_000));
    assert!(matches!(
        Negotiation::start(&f.offer, OfferState::Live, f.offer.expires_at, take()),
        Err(NegotiationError::OfferExpired { .. })
    ));
    assert!(matches!(
        Negotiation::start(&f.offer, OfferState::Expired, NOW, take()),
        Err(NegotiationError::OfferExpired { .. })
    ));
    assert!(matches!(
        Negotiation::start(&f.offer, OfferState::Withdrawn { at: NOW }, NOW, take()),
        Err(NegotiationError::OfferWithdrawn { at: NOW })
    ));
}

#[test]
fn a_counter_must_say_something_and_price_above_zero() {
    let f = fixture();
    let m = |body| NegotiationMessage {
        trade_id: f.trade_id,
        offer_id: f.offer.id,
        sender: f.maker.public().to_peer_id(),
        step: 1,
        body,
    };
    let empty = m(MessageBody::Counter {
        amount: None,
        price: None,
    });
    assert!(matches!(
        SignedNegotiationMessage::sign(&empty, &f.maker),
        Err(NegotiationError::EmptyCounter)
    ));
    // Signed by hand, past `sign`'s checks: verification refuses it too.
    let bytes = empty.encode().unwrap();
    let (signer_key, signature) =
        crate::signing::sign(NEGOTIATION_SIGNING_TAG, &bytes, &f.maker).unwrap();
    let forged = SignedNegotiationMessage {
        message_bytes: bytes,
        signer_key,
        signature,
    };
    assert!(matches!(
        SignedNegotiationMessage::verify(&forged.to_bytes()),
        Err(NegotiationError::EmptyCounter)
    ));
    let zero = m(MessageBody::Counter {
        amount: None,
        price: Some(Decimal::ZERO),
    });
    assert!(matches!(
        SignedNegotiationMessage::sign(&zero, &f.maker),
        Err(NegotiationError::PriceNotPositive { .. })
    ));
}

#[test]
fn messages_from_a_third_party_are_refused() {
    let f = fixture();
    let stranger = Keypair::generate_ed25519();
    // Claims to be the maker, signed by someone else.
    let m = NegotiationMessage {
        trade_id: f.trade_id,
        offer_id: f.offer.id,
        sender: f.maker.public().to_peer_id(),
        step: 1,
        body: MessageBody::Accept,
    };
    let bytes = m.encode().unwrap();
    let (signer_key, signature) =
        crate::signing::sign(NEGOTIATION_SIGNING_TAG, &bytes, &stranger).unwrap();
    let forged = SignedNegotiationMessage {
        message_bytes: bytes,
        signer_key,
        signature,
    };
    assert!(matches!(
        SignedNegotiationMessage::verify(&forged.to_bytes()),
        Err(NegotiationError::SignerMismatch { .. })
    ));
    // Speaks for itself: a valid signature, but not a party to the trade.
    let mut n = f.start();
    assert!(matches!(
        n.apply(f.msg_by(&stranger, 1, MessageBody::Accept)),
        Err(NegotiationError::NotAParty { .. })
    ));
}

#[test]
fn tampered_or_non_canonical_bytes_are_refused() {
    let f = fixture();
    let good = f.msg_by(&f.taker, 0, f.take_body(50_000)).to_bytes();
    let mut bad_sig = 0;
    for i in 0..good.len() {
        let mut tampered = good.clone();
        tampered[i] ^= 0x01;
        assert!(
            SignedNegotiationMessage::verify(&tampered).is_err(),
            "byte {i}"
        );
        if matches!(
            SignedNegotiationMessage::verify(&tampered),
            Err(NegotiationError::BadSignature)
        ) {
            bad_sig += 1;
        }
    }
    assert!(bad_sig > 0);
    let mut trailing = good.clone();
    trailing.push(0);
    assert!(matches!(
        SignedNegotiationMessage::verify(&trailing),
        Err(NegotiationError::Malformed(_))
    ));
    assert!(matches!(
        SignedNegotiationMessage::verify(&vec![0; MAX_SIGNED_NEGOTIATION_BYTES + 1]),
        Err(NegotiationError::TooLarge { .. })
    ));
    // A price with trailing zeros is not the canonical text.
    let mut wire = NegotiationMessage {
        trade_id: f.trade_id,
        offer_id: f.offer.id,
        sender: f.maker.public().to_peer_id(),
        step: 1,
        body: MessageBody::Counter {
            amount: None,
            price: Some(Decimal::from(5)),
        },
    }
    .to_wire();
    wire.body = WireBody::Counter {
        amount: None,
        price: Some("5.0".into()),
    };
    let bytes = postcard::to_stdvec(&wire).unwrap();
    assert!(matches!(
        NegotiationMessage::decode(&bytes),
        Err(NegotiationError::NonCanonical)
    ));
}

#[test]
fn limits_on_free_text() {
    let f = fixture();
    let take = NegotiationMessage {
        trade_id: f.trade_id,
        offer_id: f.offer.id,
        sender: f.taker.public().to_peer_id(),
        step: 0,
        body: MessageBody::TakeRequest {
            amount: 50_000,
            method: PaymentMethod::new("SEPA").unwrap(),
            payout: "é".repeat(MAX_PAYOUT_CHARS + 1),
        },
    };
    assert!(matches!(
        SignedNegotiationMessage::sign(&take, &f.taker),
        Err(NegotiationError::PayoutTooLong { .. })
    ));
    let reject = NegotiationMessage {
        step: 1,
        sender: f.maker.public().to_peer_id(),
        body: MessageBody::Reject {
            reason: "€".repeat(MAX_REASON_CHARS),
        },
        ..take
    };
    SignedNegotiationMessage::sign(&reject, &f.maker).unwrap();
}

#[tokio::test]
async fn the_cap_on_open_takes_is_enforced() {
    let f = fixture();
    let (_dir, store) = store().await;
    let me = f.maker.public().to_peer_id();
    let agreed = |trade_id| {
        let f2 = Fixture {
            maker: f.maker.clone(),
            taker: f.taker.clone(),
            offer: f.offer.clone(),
            trade_id,
        };
        let mut n = f2.start();
        n.apply(f2.msg_by(&f2.maker, 1, MessageBody::Accept))
            .unwrap();
        n
    };
    record_agreed_trade(store.pool(), &agreed(Uuid::now_v7()), &me, Some(2), NOW)
        .await
        .unwrap();
    record_agreed_trade(store.pool(), &agreed(Uuid::now_v7()), &me, Some(2), NOW)
        .await
        .unwrap();
    assert_eq!(count_open_takes(store.pool(), f.offer.id).await.unwrap(), 2);
    assert!(matches!(
        check_take_capacity(store.pool(), f.offer.id, 2).await,
        Err(NegotiationError::TooManyTakes { open: 2, cap: 2 })
    ));
    let err = record_agreed_trade(store.pool(), &agreed(Uuid::now_v7()), &me, Some(2), NOW)
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        NegotiationError::TooManyTakes { open: 2, cap: 2 }
    ));
    assert_eq!(crate::Error::from(err).kind(), ErrorKind::InvalidInput);
    // A closed trade frees its slot; other offers are not counted.
    sqlx::query(
        "UPDATE trades SET state = 'Completed' WHERE id IN (SELECT id FROM trades LIMIT 1)",
    )
    .execute(store.pool())
    .await
    .unwrap();
    check_take_capacity(store.pool(), f.offer.id, 2)
        .await
        .unwrap();
    assert_eq!(
        count_open_takes(store.pool(), Uuid::now_v7())
            .await
            .unwrap(),
        0
    );
}
