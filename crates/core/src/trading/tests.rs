//! Hostile inputs against a real desk (real SQLite file, real loopback swarm): each is refused or dropped
//! with its reason, and the database is exactly as it was.

use std::sync::Arc;

use libp2p::identity::Keypair;
use rust_decimal::Decimal;
use uuid::Uuid;

use super::{Desk, SettleError, TradeConfig, TradeState, wire::ChannelMessage};
use crate::{
    book::Book,
    channel::{self, ENVELOPE_SIGNING_TAG, Sender, SignedEnvelope, TradeChannel},
    error_kind::ErrorKind,
    identity::{Identity, SeedPhrase},
    net::{AcceptAll, NetConfig, Network},
    offer::{
        Asset, EscrowKind, Fiat, NewOffer, Offer, PaymentMethod, Price, Quote, Side, SignedOffer,
        SignedWithdrawal, Withdrawal,
    },
    protocol::negotiation::{MessageBody, NegotiationMessage, SignedNegotiationMessage},
    protocol::{EnvelopeAnswer, TakeAnswer},
    store::{Store, now_ms},
};

pub(super) struct Fixture {
    _dir: tempfile::TempDir,
    pub(super) store: Store,
    pub(super) book: Book,
    pub(super) desk: Desk,
    pub(super) maker: Identity,
    pub(super) taker: Identity,
    offer: Offer,
}

pub(super) fn identity() -> Identity {
    Identity::from_phrase(SeedPhrase::generate().unwrap()).unwrap()
}

/// A desk of `who` over `store`, on a real loopback swarm, without a chain backend.
pub(super) async fn desk_of(who: &Identity, store: &Store, config: TradeConfig) -> Desk {
    let (net, _) = Network::start(
        NetConfig::loopback_for_tests(),
        who.keypair().clone(),
        Arc::new(AcceptAll),
    )
    .await
    .unwrap();
    Desk::start(
        net,
        store.pool().clone(),
        Book::new(store),
        who.keypair().clone(),
        who.channel_secret().clone(),
        *who.storage_key(),
        *who.escrow_root(),
        None,
        config,
        tokio::sync::broadcast::channel(64).0,
    )
}

pub(super) async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join(crate::store::FILE_NAME))
        .await
        .unwrap();
    let book = Book::new(&store);
    let (maker, taker) = (identity(), identity());
    let now = now_ms();
    let new = NewOffer {
        side: Side::Sell,
        base: Asset::Btc,
        quote: Quote::Fiat(Fiat::Eur),
        price: Price::Fixed(Decimal::from(60_000)),
        min_amount: 1_000_000,
        max_amount: 10_000_000,
        payment_methods: vec![PaymentMethod::new("SEPA").unwrap()],
        escrow: EscrowKind::None,
        deposit_bps: 1_500,
        maker_x25519: maker.channel_public_key(),
        ttl_ms: 3_600_000,
        terms: String::new(),
    };
    let offer = Offer::new(maker.peer_id(), new, now).unwrap();
    let signed = SignedOffer::sign(&offer, maker.keypair()).unwrap();
    book.insert(&signed.into_verified(now, None).unwrap(), true, now)
        .await
        .unwrap();
    let desk = desk_of(&maker, &store, TradeConfig::default()).await;
    Fixture {
        _dir: dir,
        store,
        book,
        desk,
        maker,
        taker,
        offer,
    }
}

/// Everything the desk could have written.
#[derive(Debug, PartialEq)]
struct Snapshot {
    trades: Vec<(String, String)>,
    events: i64,
    messages: Vec<(String, i64)>,
    outbox: i64,
    receivers: Vec<Vec<u8>>,
}

impl Fixture {
    async fn snapshot(&self) -> Snapshot {
        let pool = self.store.pool();
        Snapshot {
            trades: sqlx::query_as("SELECT id, state FROM trades ORDER BY id")
                .fetch_all(pool)
                .await
                .unwrap(),
            events: sqlx::query_scalar("SELECT COUNT(*) FROM trade_events")
                .fetch_one(pool)
                .await
                .unwrap(),
            messages: sqlx::query_as("SELECT body, seq FROM messages ORDER BY seq")
                .fetch_all(pool)
                .await
                .unwrap(),
            outbox: sqlx::query_scalar("SELECT COUNT(*) FROM outbox")
                .fetch_one(pool)
                .await
                .unwrap(),
            receivers: sqlx::query_scalar("SELECT receiver FROM trade_channels ORDER BY trade_id")
                .fetch_all(pool)
                .await
                .unwrap(),
        }
    }

    /// A take request by `taker` for `amount`, sealed to the maker.
    fn sealed_take(&self, amount: u64) -> (Vec<u8>, channel::TakerHandshake) {
        let trade_id = Uuid::now_v7();
        let request = NegotiationMessage {
            trade_id,
            offer_id: self.offer.id,
            sender: self.taker.peer_id(),
            step: 0,
            body: MessageBody::TakeRequest {
                amount,
                method: PaymentMethod::new("SEPA").unwrap(),
                payout: "IBAN".into(),
            },
        };
        let signed = SignedNegotiationMessage::sign(&request, self.taker.keypair()).unwrap();
        let (sealed, handshake) = channel::seal_take(
            self.maker.peer_id(),
            &self.maker.channel_public_key(),
            self.offer.id,
            trade_id,
            &signed.to_bytes(),
            self.taker.keypair(),
        )
        .unwrap();
        (sealed.to_bytes().unwrap(), handshake)
    }

    async fn take(&self, bytes: &[u8]) -> TakeAnswer {
        self.desk.inner.on_take(self.taker.peer_id(), bytes).await
    }

    /// A trade the taker opened; its channel as the taker sees it.
    pub(super) async fn open(&self) -> (TradeChannel, Sender) {
        let (bytes, handshake) = self.sealed_take(5_000_000);
        let TakeAnswer::Accepted(accept) = self.take(&bytes).await else {
            panic!("the take was refused");
        };
        let channel = handshake.finish(&accept).unwrap();
        let sender = channel.sender();
        (channel, sender)
    }

    pub(super) async fn send(&self, bytes: &[u8]) -> EnvelopeAnswer {
        self.desk
            .inner
            .on_envelope(self.taker.peer_id(), bytes)
            .await
    }

    pub(super) fn seal(
        &self,
        channel: &TradeChannel,
        sender: &mut Sender,
        message: &ChannelMessage,
    ) -> SignedEnvelope {
        sender
            .seal(&channel.keys, self.taker.keypair(), &message.encode())
            .unwrap()
    }
}

pub(super) fn chat(text: &str) -> ChannelMessage {
    ChannelMessage::Chat {
        text: text.into(),
        sent_at: now_ms(),
    }
}

fn assert_refused(answer: EnvelopeAnswer, reason: &str) {
    match answer {
        EnvelopeAnswer::Refused(r) => {
            assert!(r.contains(reason), "refused for {r:?}, not {reason:?}")
        }
        other => panic!("not refused ({other:?}); expected {reason:?}"),
    }
}

/// Re-signs envelope bytes with `key`, as an attacker holding that key can.
fn resign(envelope_bytes: Vec<u8>, key: &Keypair) -> Vec<u8> {
    let (sender_key, signature) =
        crate::signing::sign(ENVELOPE_SIGNING_TAG, &envelope_bytes, key).unwrap();
    SignedEnvelope {
        envelope_bytes,
        sender_key,
        signature,
    }
    .to_bytes()
    .unwrap()
}

#[tokio::test]
async fn a_good_envelope_is_stored_once_and_acknowledged() {
    let f = fixture().await;
    let (channel, mut sender) = f.open().await;
    let envelope = f
        .seal(&channel, &mut sender, &chat("hello"))
        .to_bytes()
        .unwrap();
    assert_eq!(f.send(&envelope).await, EnvelopeAnswer::Ack { next: 1 });
    let before = f.snapshot().await;
    assert_eq!(before.messages, vec![("hello".to_owned(), 0)]);
    // Replayed: dropped with its reason, acknowledged so an honest sender moves on, nothing stored.
    match f.send(&envelope).await {
        EnvelopeAnswer::Dropped { next: 1, reason } => {
            assert!(reason.contains("already received"), "{reason}")
        }
        other => panic!("a replay was not dropped: {other:?}"),
    }
    assert_eq!(f.snapshot().await, before);
}

/// A peer's clock is not believed beyond what the receiver can tell: a message dated in the future is
/// stored at the receiver's time, one dated before the peer's previous message at that message's time,
/// and the transcript is in the order the receiver got them.
#[tokio::test]
async fn a_chat_message_s_time_is_clamped_to_the_receiver_s_clock() {
    let f = fixture().await;
    let (channel, mut sender) = f.open().await;
    let dated = |text: &str, sent_at: i64| ChannelMessage::Chat {
        text: text.into(),
        sent_at,
    };
    let before = now_ms();
    let future = before + 3_600_000;
    for message in [dated("from the future", future), dated("from 1970", 1_000)] {
        let bytes = f.seal(&channel, &mut sender, &message).to_bytes().unwrap();
        assert!(matches!(f.send(&bytes).await, EnvelopeAnswer::Ack { .. }));
    }
    let after = now_ms();
    let log = super::store::chat_log(f.store.pool(), &f.maker.peer_id(), channel.trade_id)
        .await
        .unwrap();
    let got: Vec<(&str, i64)> = log.iter().map(|m| (m.body.as_str(), m.sent_at)).collect();
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[0].0, "from the future");
    assert!((before..=after).contains(&got[0].1), "{got:?}");
    assert_eq!(got[1].0, "from 1970", "the receiver's order");
    assert_eq!(
        got[1].1, got[0].1,
        "not before the previous message: {got:?}"
    );
}

/// A peer that floods a trade's chat gets its envelopes taken (the trade's steps behind them are not
/// held up) but no more than the rate of messages kept and shown; the maker's own sends keep the same
/// rule and say so. A trade ended longer ago than the grace takes no chat at all.
#[tokio::test]
async fn a_flooded_chat_keeps_the_rate_and_an_ended_trade_s_chat_closes() {
    use super::store::CHAT_GRACE_MS;
    let f = fixture().await;
    let per_minute = i64::from(f.desk.inner.config.max_chat_per_minute);
    let (channel, mut sender) = f.open().await;
    let start = now_ms() - 10_000;
    let flood = usize::try_from(per_minute).unwrap() + 5;
    for i in 0..flood {
        let message = ChannelMessage::Chat {
            text: format!("spam {i}"),
            sent_at: start + i64::try_from(i).unwrap(),
        };
        let bytes = f.seal(&channel, &mut sender, &message).to_bytes().unwrap();
        let next = u64::try_from(i).unwrap() + 1;
        assert_eq!(
            f.send(&bytes).await,
            EnvelopeAnswer::Ack { next },
            "message {i}"
        );
    }
    let kept = super::store::chat_log(f.store.pool(), &f.maker.peer_id(), channel.trade_id)
        .await
        .unwrap();
    assert_eq!(kept.len(), usize::try_from(per_minute).unwrap());
    assert_eq!(f.desk.refusals().chat_messages, 5);
    assert_eq!(kept.last().unwrap().body, "spam 29");

    // The maker's node sends by the same rule.
    for i in 0..per_minute {
        f.desk
            .send_chat(channel.trade_id, format!("reply {i}"))
            .await
            .expect("within the rate");
    }
    let err = f
        .desk
        .send_chat(channel.trade_id, "one too many".into())
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("at most 30 messages a minute"),
        "{err}"
    );

    // Ended more than the grace ago: neither side's chat is kept.
    sqlx::query("UPDATE trades SET state = 'Completed', updated_at = ? WHERE id = ?")
        .bind(now_ms() - CHAT_GRACE_MS - 120_000)
        .bind(channel.trade_id.to_string())
        .execute(f.store.pool())
        .await
        .unwrap();
    let late = ChannelMessage::Chat {
        text: "thanks".into(),
        sent_at: now_ms(),
    };
    let bytes = f.seal(&channel, &mut sender, &late).to_bytes().unwrap();
    let next = u64::try_from(flood).unwrap() + 1;
    assert_eq!(f.send(&bytes).await, EnvelopeAnswer::Ack { next });
    let after = super::store::chat_log(f.store.pool(), &f.maker.peer_id(), channel.trade_id)
        .await
        .unwrap();
    assert!(after.iter().all(|m| m.body != "thanks"), "{after:?}");
    let err = f
        .desk
        .send_chat(channel.trade_id, "bye".into())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("its chat is closed"), "{err}");
}

/// A peer that backdates its flood, one message every 15 s of invented time over the last ten minutes,
/// is counted by this node's clock: the messages arrive within a minute, and only the rate is kept.
#[tokio::test]
async fn a_backdated_chat_flood_is_counted_when_it_arrives() {
    let f = fixture().await;
    let per_minute = usize::try_from(f.desk.inner.config.max_chat_per_minute).unwrap();
    let (channel, mut sender) = f.open().await;
    let start = now_ms() - 10 * 60_000;
    let flood = per_minute + 10;
    for i in 0..flood {
        let message = ChannelMessage::Chat {
            text: format!("old news {i}"),
            sent_at: start + i64::try_from(i).unwrap() * 15_000,
        };
        let bytes = f.seal(&channel, &mut sender, &message).to_bytes().unwrap();
        let next = u64::try_from(i).unwrap() + 1;
        assert_eq!(f.send(&bytes).await, EnvelopeAnswer::Ack { next });
    }
    let kept = super::store::chat_log(f.store.pool(), &f.maker.peer_id(), channel.trade_id)
        .await
        .unwrap();
    assert_eq!(kept.len(), per_minute, "{kept:?}");
    assert_eq!(f.desk.refusals().chat_messages, 10);
}

/// However slowly a side chats, one trade keeps at most its total of that side's messages.
#[tokio::test]
async fn a_trade_keeps_at_most_its_total_of_chat_from_one_side() {
    use super::store::MAX_CHAT_MESSAGES_PER_TRADE;
    let f = fixture().await;
    let (channel, _) = f.open().await;
    let start = now_ms() - 100 * 24 * 3_600_000;
    let mut tx = f.store.pool().begin().await.unwrap();
    for i in 0..MAX_CHAT_MESSAGES_PER_TRADE {
        sqlx::query(
            "INSERT INTO messages (id, trade_id, outgoing, seq, body, sent_at) VALUES (?, ?, 0, ?, 'x', ?)",
        )
        .bind(Uuid::now_v7().to_string())
        .bind(channel.trade_id.to_string())
        .bind(i)
        .bind(start + i * 60_000)
        .execute(&mut *tx)
        .await
        .unwrap();
    }
    let now = now_ms();
    let why = super::store::chat_refusal(&mut tx, channel.trade_id, false, now, 30)
        .await
        .unwrap();
    assert_eq!(
        why.as_deref(),
        Some("this trade's chat is full: 1000 messages from one side at most")
    );
    // The other side has said nothing yet: its messages are kept.
    assert_eq!(
        super::store::chat_refusal(&mut tx, channel.trade_id, true, now, 30)
            .await
            .unwrap(),
        None
    );
}

/// A refusal tells the peer what was wrong with what it sent, and nothing of the node's insides.
#[test]
fn a_peer_hears_its_own_mistake_never_the_node_s_internals() {
    use crate::error::Error;
    let theirs = Error::InvalidInput("the offer is withdrawn".into());
    assert_eq!(
        crate::protocol::reason_for_peer(&theirs),
        "the offer is withdrawn"
    );
    for ours in [
        Error::Internal("sqlite: UNIQUE constraint failed: trades.id".into()),
        Error::io(
            "reading /home/alice/.souk/souk.db",
            std::io::Error::other("disk full"),
        ),
        Error::Chain(crate::chain::ChainError::Config(
            "rpc_password s3cret".into(),
        )),
    ] {
        let told = crate::protocol::reason_for_peer(&ours);
        for secret in ["sqlite", "UNIQUE", "alice", "disk", "s3cret"] {
            assert!(!told.contains(secret), "{ours} leaked as {told}");
        }
        assert!(told.contains("try again later"), "{told}");
        // The arbitrator's answers to a case, a resolution or a return request say no more.
        let stored = crate::protocol::Stored::of(&Err(ours));
        let (crate::protocol::Stored::Later(said) | crate::protocol::Stored::Refused(said)) =
            &stored
        else {
            panic!("{stored:?}");
        };
        for secret in ["sqlite", "UNIQUE", "alice", "disk", "s3cret"] {
            assert!(!said.contains(secret), "leaked to a party as {said}");
        }
    }
    let refused = crate::protocol::ReturnAnswer::of(Err(Error::Internal("sqlite: locked".into())));
    assert!(
        matches!(&refused, crate::protocol::ReturnAnswer::Later(r) if !r.contains("sqlite")),
        "{refused:?}"
    );
}

#[tokio::test]
async fn tampered_ciphertext_is_refused() {
    let f = fixture().await;
    let (channel, mut sender) = f.open().await;
    let mut bytes = f
        .seal(&channel, &mut sender, &chat("pay me"))
        .envelope_bytes;
    // The ciphertext (with its tag) ends the envelope; the taker re-signs, so only the AEAD can tell.
    *bytes.last_mut().unwrap() ^= 1;
    let before = f.snapshot().await;
    assert_refused(
        f.send(&resign(bytes, f.taker.keypair())).await,
        "failed authentication",
    );
    assert_eq!(f.snapshot().await, before);
}

#[tokio::test]
async fn an_envelope_for_another_recipient_is_refused() {
    let f = fixture().await;
    let (channel, _) = f.open().await;
    let elsewhere = Keypair::generate_ed25519().public().to_peer_id();
    let mut sender = Sender::new(channel.trade_id, f.taker.peer_id(), elsewhere);
    let before = f.snapshot().await;
    let bytes = f
        .seal(&channel, &mut sender, &chat("hi"))
        .to_bytes()
        .unwrap();
    assert_refused(f.send(&bytes).await, "not to this node");
    assert_eq!(f.snapshot().await, before);
}

#[tokio::test]
async fn an_envelope_signed_by_a_third_party_is_refused() {
    let f = fixture().await;
    let (channel, mut sender) = f.open().await;
    let bytes = f.seal(&channel, &mut sender, &chat("hi")).envelope_bytes;
    let before = f.snapshot().await;
    let forged = resign(bytes, &Keypair::generate_ed25519());
    assert_refused(f.send(&forged).await, "but claims to come from");
    assert_eq!(f.snapshot().await, before);
}

#[tokio::test]
async fn an_envelope_for_an_unknown_trade_is_refused() {
    let f = fixture().await;
    let (channel, _) = f.open().await;
    let mut sender = Sender::new(Uuid::now_v7(), f.taker.peer_id(), f.maker.peer_id());
    let before = f.snapshot().await;
    let bytes = f
        .seal(&channel, &mut sender, &chat("hi"))
        .to_bytes()
        .unwrap();
    assert_refused(f.send(&bytes).await, "no channel here for trade");
    assert_eq!(f.snapshot().await, before);
}

#[tokio::test]
async fn reordered_envelopes_are_held_and_delivered_in_order() {
    let f = fixture().await;
    let (channel, mut sender) = f.open().await;
    let first = f
        .seal(&channel, &mut sender, &chat("first"))
        .to_bytes()
        .unwrap();
    let second = f
        .seal(&channel, &mut sender, &chat("second"))
        .to_bytes()
        .unwrap();
    // The later one first: held, not shown, and the answer asks for the gap (next = 0).
    assert_eq!(f.send(&second).await, EnvelopeAnswer::Ack { next: 0 });
    assert!(f.snapshot().await.messages.is_empty());
    assert_eq!(f.send(&first).await, EnvelopeAnswer::Ack { next: 2 });
    let bodies: Vec<String> = f
        .snapshot()
        .await
        .messages
        .into_iter()
        .map(|m| m.0)
        .collect();
    assert_eq!(bodies, ["first", "second"]);
}

/// Envelopes held for a gap are each written once, when they arrive: the channel's stored receiver
/// stays the same small record however many wait, and delivery removes them.
#[tokio::test]
async fn held_envelopes_are_stored_once_each_and_gone_once_delivered() {
    let f = fixture().await;
    let (channel, mut sender) = f.open().await;
    let big = "x".repeat(3_000);
    let sealed: Vec<Vec<u8>> = (0..6)
        .map(|i| {
            f.seal(&channel, &mut sender, &chat(&format!("{i} {big}")))
                .to_bytes()
                .unwrap()
        })
        .collect();
    let id = channel.trade_id.to_string();
    let receiver_len = || async {
        sqlx::query_scalar::<_, i64>(
            "SELECT length(receiver) FROM trade_channels WHERE trade_id = ?",
        )
        .bind(&id)
        .fetch_one(f.store.pool())
        .await
        .unwrap()
    };
    let held = || async {
        sqlx::query_scalar::<_, i64>(
            "SELECT seq FROM held_envelopes WHERE trade_id = ? ORDER BY seq",
        )
        .bind(&id)
        .fetch_all(f.store.pool())
        .await
        .unwrap()
    };
    let empty = receiver_len().await;
    for (i, bytes) in sealed.iter().enumerate().skip(1) {
        assert_eq!(
            f.send(bytes).await,
            EnvelopeAnswer::Ack { next: 0 },
            "envelope {i}"
        );
        assert_eq!(receiver_len().await, empty, "the receiver record grew");
    }
    assert_eq!(held().await, [1, 2, 3, 4, 5]);
    assert_eq!(f.send(&sealed[0]).await, EnvelopeAnswer::Ack { next: 6 });
    assert_eq!(held().await, Vec::<i64>::new());
    assert_eq!(f.snapshot().await.messages.len(), 6);
}

#[tokio::test]
async fn oversized_input_is_refused() {
    let f = fixture().await;
    let (channel, mut sender) = f.open().await;
    let before = f.snapshot().await;
    assert_refused(f.send(&vec![0u8; 70 * 1024]).await, "at most 65536");
    // A sealed chat over the text limit: authenticated, but its content breaks the rules.
    let long = f
        .seal(&channel, &mut sender, &chat(&"x".repeat(4_001)))
        .to_bytes()
        .unwrap();
    assert_refused(f.send(&long).await, "at most 4000 are allowed");
    assert_eq!(f.snapshot().await, before);
    // This node's own shells get the same rule before anything is sealed.
    let err = f
        .desk
        .send_chat(channel.trade_id, "y".repeat(4_001))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("at most 4000"), "{err}");
    assert_eq!(f.snapshot().await, before);
}

#[tokio::test]
async fn an_accept_by_the_wrong_party_is_refused() {
    let f = fixture().await;
    let (channel, mut sender) = f.open().await;
    let before = f.snapshot().await;
    // The take request is waiting for the maker; the taker cannot accept it itself.
    let step = |key: &Keypair| {
        let message = NegotiationMessage {
            trade_id: channel.trade_id,
            offer_id: f.offer.id,
            sender: key.public().to_peer_id(),
            step: 1,
            body: MessageBody::Accept,
        };
        SignedNegotiationMessage::sign(&message, key)
            .unwrap()
            .to_bytes()
    };
    let by_taker = ChannelMessage::Negotiation(step(f.taker.keypair()));
    let bytes = f
        .seal(&channel, &mut sender.clone(), &by_taker)
        .to_bytes()
        .unwrap();
    assert_refused(f.send(&bytes).await, "not the taker's turn");
    // Nor can a third party, even inside the taker's channel.
    let by_stranger = ChannelMessage::Negotiation(step(&Keypair::generate_ed25519()));
    let bytes = f
        .seal(&channel, &mut sender, &by_stranger)
        .to_bytes()
        .unwrap();
    assert_refused(f.send(&bytes).await, "not by the counterparty");
    assert_eq!(f.snapshot().await, before);
}

#[tokio::test]
async fn takes_of_a_withdrawn_offer_or_twice_the_same_trade_are_refused() {
    let f = fixture().await;
    let (bytes, _) = f.sealed_take(5_000_000);
    assert!(matches!(f.take(&bytes).await, TakeAnswer::Accepted(_)));
    let before = f.snapshot().await;
    // The same sealed take again (a replay) opens nothing new.
    match f.take(&bytes).await {
        TakeAnswer::Refused(reason) => assert!(reason.contains("exists already"), "{reason}"),
        other => panic!("a replayed take was accepted: {other:?}"),
    }
    assert_eq!(f.snapshot().await, before);

    let now = now_ms();
    let withdrawal = SignedWithdrawal::sign(&Withdrawal::of(&f.offer, now), f.maker.keypair())
        .unwrap()
        .into_verified(now)
        .unwrap();
    f.book.withdraw(&withdrawal, now).await.unwrap();
    let before = f.snapshot().await;
    let (bytes, _) = f.sealed_take(5_000_000);
    match f.take(&bytes).await {
        TakeAnswer::Refused(reason) => assert!(reason.contains("withdrawn"), "{reason}"),
        other => panic!("a withdrawn offer was taken: {other:?}"),
    }
    assert_eq!(f.snapshot().await, before);
    f.desk.shutdown().await;
}

#[tokio::test]
async fn a_settlement_step_before_the_terms_are_agreed_is_refused_by_name_and_changes_nothing() {
    let f = fixture().await;
    let (channel, _) = f.open().await;
    let trade_id = channel.trade_id;
    let before = f.snapshot().await;
    for refusal in [
        f.desk.mark_paid(trade_id).await.unwrap_err(),
        f.desk.mark_received(trade_id).await.unwrap_err(),
        f.desk
            .cancel(trade_id, "changed my mind".into())
            .await
            .unwrap_err(),
    ] {
        assert!(
            matches!(refusal, SettleError::Negotiating { trade_id: t, state } if t == trade_id
                && state == TradeState::Requested),
            "{refusal:?}"
        );
        assert_eq!(refusal.kind(), ErrorKind::InvalidInput);
    }
    // A trade without an escrow has no address to give and nothing to fund.
    let address = f
        .desk
        .set_escrow_address(trade_id, "bc1qany")
        .await
        .unwrap_err();
    assert!(
        matches!(address, SettleError::NoEscrow(t) if t == trade_id),
        "{address:?}"
    );
    let funding = f
        .desk
        .fund_from_wallet(trade_id, "w", false)
        .await
        .unwrap_err();
    assert!(
        matches!(funding, SettleError::NoEscrow(t) if t == trade_id),
        "{funding:?}"
    );
    // An unknown trade is this node's answer, not a settlement rule.
    let unknown = f.desk.mark_paid(Uuid::now_v7()).await.unwrap_err();
    assert!(matches!(unknown, SettleError::Node(_)), "{unknown:?}");
    assert!(unknown.to_string().starts_with("no trade "), "{unknown}");
    assert_eq!(f.snapshot().await, before);
}
