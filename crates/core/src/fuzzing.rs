//! Entry points for the coverage-guided fuzz targets in `fuzz/` (cargo-fuzz, libFuzzer): one function
//! per decoder that reads bytes a peer or a file controls. Each takes arbitrary bytes and must return
//! (an error is fine) without panicking, hanging or allocating without bound. Not part of the API.

// The fixtures are built from constants: a failure there is a bug in this file, found at once.
#![allow(clippy::expect_used)]

use std::sync::LazyLock;

use bitcoin::{
    Amount, FeeRate, OutPoint, ScriptBuf, Txid, WPubkeyHash,
    hashes::Hash,
    secp256k1::{Keypair as SecpKeypair, Secp256k1, SecretKey},
};
use libp2p::{PeerId, identity::Keypair};
use uuid::Uuid;
use x25519_dalek::StaticSecret;

use crate::{
    arbiter::SignedAnnouncement,
    channel::{self, ChannelKeys, SignedEnvelope, TradeChannel},
    escrow::{
        self, Chain, EscrowInput, EscrowParties, Party, Payout, SpendPath, SpendPlan, Timelocks,
        TradeEscrow,
    },
    offer::{MarketUpdate, SignedWithdrawal},
    protocol::negotiation::SignedNegotiationMessage,
    protocol::{self, settlement},
    trading::wire::ChannelMessage,
};

/// A fixed "now" inside every fixture's validity, so runs are repeatable.
const NOW_MS: i64 = 1_750_000_000_000;

fn keypair(n: u8) -> Keypair {
    let mut seed = [n; 32];
    seed[0] = 0x5a;
    Keypair::ed25519_from_bytes(seed).expect("32 bytes")
}

/// The maker a take is sealed to, and an open channel between it and a taker (each side's view).
struct Maker {
    id: PeerId,
    secret: StaticSecret,
    /// The taker's side: receives what the maker sends.
    channel: TradeChannel,
    #[cfg(test)]
    maker_channel: TradeChannel,
}

static MAKER: LazyLock<Maker> = LazyLock::new(|| {
    let maker = keypair(1);
    let taker = keypair(2);
    let secret = StaticSecret::from([7u8; 32]);
    let public = x25519_dalek::PublicKey::from(&secret).to_bytes();
    let id = maker.public().to_peer_id();
    let (sealed, handshake) = channel::seal_take(
        id,
        &public,
        Uuid::from_u128(1),
        Uuid::from_u128(2),
        b"take",
        &taker,
    )
    .expect("seal");
    let opened = channel::open_take(&secret, id, &sealed.to_bytes().expect("bytes")).expect("open");
    let (accept, maker_channel) = channel::accept_take(&opened, &maker).expect("accept");
    let channel = handshake
        .finish(&accept.to_bytes().expect("bytes"))
        .expect("finish");
    #[cfg(not(test))]
    drop(maker_channel);
    Maker {
        id,
        secret,
        channel,
        #[cfg(test)]
        maker_channel,
    }
});

/// A signed market update (offer or withdrawal) as the book takes it from gossip or the DHT.
pub fn market_update(data: &[u8]) {
    let _ = MarketUpdate::verify(data, NOW_MS);
}

/// A signed withdrawal as the book takes it.
pub fn withdrawal(data: &[u8]) {
    let _ = SignedWithdrawal::verify(data, NOW_MS);
}

/// A sealed take request as the maker opens it (`open_take`).
pub fn take(data: &[u8]) {
    let maker = &*MAKER;
    let _ = channel::open_take(&maker.secret, maker.id, data);
}

/// The maker's signed accept as the taker finishes the handshake with it.
pub fn accept(data: &[u8]) {
    let maker = &*MAKER;
    let taker = keypair(2);
    let public = x25519_dalek::PublicKey::from(&maker.secret).to_bytes();
    if let Ok((_, handshake)) = channel::seal_take(
        maker.id,
        &public,
        Uuid::from_u128(1),
        Uuid::from_u128(3),
        b"take",
        &taker,
    ) {
        let _ = handshake.finish(data);
    }
}

/// A signed envelope of a trade channel, verified and received in order.
pub fn envelope(data: &[u8]) {
    let channel = &MAKER.channel;
    let keys: &ChannelKeys = &channel.keys;
    let mut receiver = channel.receiver();
    if let Ok(verified) = SignedEnvelope::verify(data) {
        let _ = receiver.receive_verified(keys, verified);
    }
}

/// What an envelope carries.
pub fn channel_message(data: &[u8]) {
    let _ = ChannelMessage::decode(data);
}

/// A signed negotiation message (take request, counter, accept, reject).
pub fn negotiation(data: &[u8]) {
    let _ = SignedNegotiationMessage::verify(data);
}

/// A signed trade step (escrow keys, payment sent, …), and a step's payload alone.
pub fn trade_step(data: &[u8]) {
    let _ = settlement::SignedStep::verify(data);
    let _ = settlement::decode_step(data);
}

/// A direct-protocol request and the answers to one.
pub fn direct(data: &[u8]) {
    let _ = protocol::DirectRequest::decode(data);
    let _ = protocol::TakeAnswer::decode(data);
    let _ = protocol::EnvelopeAnswer::decode(data);
    let _ = protocol::ReturnAnswer::decode(data);
    let _ = protocol::Stored::decode(data);
}

/// A party's dispute case, a return request and the arbitrator's resolution.
pub fn dispute(data: &[u8]) {
    crate::trading::fuzz_entry::dispute_case(data);
    crate::trading::fuzz_entry::return_request(data);
    crate::trading::fuzz_entry::resolution(data);
}

/// An arbitrator's signed announcement as found in the DHT.
pub fn announcement(data: &[u8]) {
    let _ = SignedAnnouncement::verify(data);
}

struct Psbts {
    escrow: TradeEscrow,
    plan: SpendPlan,
}

static PSBTS: LazyLock<Psbts> = LazyLock::new(|| {
    let key = |n: u8| {
        let mut sk = [0x42u8; 32];
        sk[31] = n;
        SecpKeypair::from_secret_key(&Secp256k1::new(), &SecretKey::from_slice(&sk).expect("key"))
            .public_key()
    };
    let escrow = TradeEscrow::new(
        EscrowParties {
            buyer: key(1),
            seller: key(2),
            arbitrator: key(3),
            backup: Some(key(4)),
        },
        Timelocks {
            backup: 20,
            reclaim: 40,
        },
    )
    .expect("escrow");
    let wpkh = |n: u8| ScriptBuf::new_p2wpkh(&WPubkeyHash::from_byte_array([n; 20]));
    let plan = SpendPlan {
        chain: Chain::Btc,
        inputs: vec![EscrowInput {
            outpoint: OutPoint::new(Txid::from_byte_array([9; 32]), 9),
            value: Amount::from_sat(1_000_000),
            funder: Party::Seller,
        }],
        outputs: vec![
            Payout {
                script_pubkey: wpkh(1),
                amount: Amount::from_sat(700_000),
            },
            Payout {
                script_pubkey: wpkh(2),
                amount: Amount::from_sat(300_000),
            },
        ],
        fee_payer: 1,
        path: SpendPath::Multisig,
    };
    Psbts { escrow, plan }
});

/// A PSBT a counterparty or the arbitrator sends, checked against the escrow it must spend.
pub fn psbt(data: &[u8]) {
    let fixture = &*PSBTS;
    if let Ok(psbt) = escrow::decode_psbt(data) {
        let _ = escrow::check_psbt(
            &psbt,
            &fixture.escrow,
            &fixture.plan,
            FeeRate::from_sat_per_vb_u32(20),
        );
    }
}

/// A price ticker's answer.
pub fn ticker(data: &[u8]) {
    let _ = crate::price::parse_ticker(data, "BTC", "EUR");
}

/// A keystore file's header (the passphrase-derived part is argon2: the header bounds its cost).
pub fn keystore(data: &[u8]) {
    let _ = crate::identity::keystore::parse(data);
}

/// A backup file's header and checksum, and the list of files its ciphertext holds (the passphrase-
/// derived part is argon2: the header bounds its cost, as the keystore's).
pub fn backup(data: &[u8]) {
    let _ = crate::backup::header(data);
    let _ = crate::backup::entries(data);
}

/// Seed-only recovery: a request to keep, list, fetch or lodge a copy, the holder's answer, a sealed
/// copy handed back (opened with a fixed key), and the copy's plaintext as it is decoded once opened.
pub fn recovery(data: &[u8]) {
    use crate::trading::recovery::{Record, RecoveryAnswer, RecoveryKeys, RecoveryRequest};
    static KEYS: std::sync::LazyLock<RecoveryKeys> =
        std::sync::LazyLock::new(|| RecoveryKeys::derive(&[7; 32]));
    let _ = RecoveryRequest::decode(data);
    let _ = RecoveryAnswer::decode(data);
    let _ = Record::open(&KEYS, Uuid::from_u128(4), data);
    let _ = crate::codec::decode_exact::<Record>(data, "recovery record");
}

/// Reputation: a published receipt set as a DHT node and a reader take it (the holder's signature, then
/// every receipt and rating in it, sorted for a fixed peer), a receipt body, and a maker's request to
/// countersign.
pub fn receipts(data: &[u8]) {
    use crate::reputation::{ReceiptBody, SignedHolderSet, summary::collect};
    if let Ok((holder, set)) = SignedHolderSet::verify(data, NOW_MS) {
        let _ = collect(&holder, &[(holder, set)]);
    }
    let _ = ReceiptBody::decode(data);
    let _ = crate::trading::receipts::ReceiptRequest::decode(data);
}

/// `souk.toml`, with every section resolved as the app does.
pub fn config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(config) = crate::config::Config::from_parts("souk.toml", text, []) {
        let _ = config.net.resolve();
        let _ = config.trade.resolve();
    }
}

#[cfg(test)]
mod seeds {
    //! The fuzz corpus's seeds: a valid input of each decoder (the fuzzer mutates from there instead of
    //! from nothing, which for signed formats matters). This test checks each seed is one its decoder
    //! takes and that the fuzz entry point runs on it, and replays every committed corpus file through
    //! its target (the smoke `cargo test` gives the fuzz targets on every run; the coverage-guided runs
    //! are `cargo xtask fuzz`). `SOUK_UPDATE_FUZZ_SEEDS=1` writes the seeds to
    //! `fuzz/corpus/TARGET/seed-NAME`.

    use super::*;
    use crate::{
        offer::{
            Asset, EscrowKind, Fiat, NewOffer, Offer, PaymentMethod, Price, Quote, Side,
            SignedOffer, Withdrawal,
        },
        protocol::DirectRequest,
        protocol::negotiation::{MessageBody, NegotiationMessage},
    };

    fn offer(maker: &Keypair) -> Offer {
        let new = NewOffer {
            side: Side::Sell,
            base: Asset::Btc,
            quote: Quote::Fiat(Fiat::Eur),
            price: Price::Fixed(60_000.into()),
            min_amount: 1_000_000,
            max_amount: 10_000_000,
            payment_methods: vec![PaymentMethod::new("SEPA").unwrap()],
            escrow: EscrowKind::None,
            deposit_bps: 1_500,
            maker_x25519: [9; 32],
            ttl_ms: 24 * 3_600_000,
            terms: String::new(),
        };
        Offer::new(maker.public().to_peer_id(), new, NOW_MS - 60_000).unwrap()
    }

    /// (target, seed name, bytes), each checked by the decoder it is for.
    fn seeds() -> Vec<(&'static str, &'static str, Vec<u8>)> {
        let maker = keypair(1);
        let taker = keypair(2);
        let offer = offer(&maker);
        let signed = SignedOffer::sign(&offer, &maker).unwrap();
        let update = MarketUpdate::Offer(signed).to_bytes();
        assert!(MarketUpdate::verify(&update, NOW_MS).is_ok());
        let withdrawal =
            SignedWithdrawal::sign(&Withdrawal::of(&offer, NOW_MS - 1_000), &maker).unwrap();
        let withdrawal_bytes = withdrawal.to_bytes();
        assert!(SignedWithdrawal::verify(&withdrawal_bytes, NOW_MS).is_ok());

        let m = &*MAKER;
        let public = x25519_dalek::PublicKey::from(&m.secret).to_bytes();
        let (sealed, _) = channel::seal_take(
            m.id,
            &public,
            offer.id,
            Uuid::from_u128(4),
            b"take request",
            &taker,
        )
        .unwrap();
        let take_bytes = sealed.to_bytes().unwrap();
        assert!(channel::open_take(&m.secret, m.id, &take_bytes).is_ok());

        let chat = ChannelMessage::Chat {
            text: "paid, see you".into(),
            sent_at: NOW_MS,
        }
        .encode();
        let mut sender = m.maker_channel.sender();
        let envelope_bytes = sender
            .seal(&m.maker_channel.keys, &maker, &chat)
            .unwrap()
            .to_bytes()
            .unwrap();
        let mut receiver = m.channel.receiver();
        assert!(
            receiver
                .receive_verified(
                    &m.channel.keys,
                    SignedEnvelope::verify(&envelope_bytes).unwrap()
                )
                .is_ok()
        );

        let request = NegotiationMessage {
            trade_id: Uuid::from_u128(4),
            offer_id: offer.id,
            sender: taker.public().to_peer_id(),
            step: 0,
            body: MessageBody::TakeRequest {
                amount: 5_000_000,
                method: PaymentMethod::new("SEPA").unwrap(),
                payout: "IBAN DE00".into(),
            },
        };
        let negotiation_bytes = SignedNegotiationMessage::sign(&request, &taker)
            .unwrap()
            .to_bytes();
        assert!(SignedNegotiationMessage::verify(&negotiation_bytes).is_ok());

        let direct_bytes = DirectRequest::Offers {
            base: "BTC".into(),
            quote: "EUR".into(),
        }
        .encode();
        assert!(DirectRequest::decode(&direct_bytes).is_ok());

        let fixture = &*PSBTS;
        let psbt = escrow::build_spend(
            &fixture.escrow,
            &fixture.plan,
            FeeRate::from_sat_per_vb_u32(10),
        )
        .unwrap();
        let psbt_bytes = escrow::encode_psbt(&psbt);
        assert!(
            escrow::check_psbt(
                &escrow::decode_psbt(&psbt_bytes).unwrap(),
                &fixture.escrow,
                &fixture.plan,
                FeeRate::from_sat_per_vb_u32(20)
            )
            .is_ok()
        );

        let flat = br#"{"symbol":"BTCEUR","price":"61234.50"}"#.to_vec();
        let spot = br#"{"data":{"base":"BTC","currency":"EUR","amount":"61234.50"}}"#.to_vec();
        for body in [&flat, &spot] {
            assert!(crate::price::parse_ticker(body, "BTC", "EUR").is_ok());
        }

        let identity = crate::identity::Identity::from_phrase(
            crate::identity::SeedPhrase::generate().unwrap(),
        )
        .unwrap();
        let keystore_bytes = crate::identity::keystore::seal(
            &identity,
            "a long passphrase",
            crate::identity::KdfCost {
                memory_kib: 8,
                iterations: 1,
                lanes: 1,
            },
        )
        .unwrap();
        assert!(crate::identity::keystore::parse(&keystore_bytes).is_ok());

        let contents = crate::backup::Contents {
            keystore: keystore_bytes.clone(),
            database: b"SQLite format 3\0 (a snapshot)".to_vec(),
            config: Some(b"[log]\nlevel = \"info\"\n".to_vec()),
        };
        let backup_bytes = crate::backup::seal(
            &contents,
            &crate::backup::Header {
                peer_id: identity.peer_id(),
                created_at_ms: NOW_MS.try_into().unwrap(),
            },
            "a long passphrase",
            crate::identity::KdfCost {
                memory_kib: 8,
                iterations: 1,
                lanes: 1,
            },
        )
        .unwrap();
        assert!(crate::backup::header(&backup_bytes).is_ok());
        let backup_files = crate::backup::plaintext(&contents).to_vec();
        assert_eq!(crate::backup::entries(&backup_files).unwrap(), contents);

        let step = settlement::TradeStep {
            trade_id: Uuid::from_u128(4),
            sender: taker.public().to_peer_id(),
            at: NOW_MS,
            body: settlement::StepBody::Cancel {
                reason: "changed my mind".into(),
            },
        };
        let step_bytes = step.sign(&taker).unwrap().to_bytes().unwrap();
        assert!(settlement::SignedStep::verify(&step_bytes).is_ok());

        let arbitrator = crate::identity::Identity::from_phrase(
            crate::identity::SeedPhrase::generate().unwrap(),
        )
        .unwrap();
        let announcement_bytes = crate::arbiter::Announcement::of(
            arbitrator.escrow_root(),
            arbitrator.peer_id(),
            crate::escrow::Chain::Ltc,
            crate::escrow::Network::Regtest,
            arbitrator.channel_public_key(),
            NOW_MS,
        )
        .unwrap()
        .sign(arbitrator.keypair())
        .unwrap()
        .to_bytes();
        assert!(SignedAnnouncement::verify(&announcement_bytes).is_ok());

        let toml = b"[net]\nlisten = [\"/ip4/127.0.0.1/tcp/0\"]\nmdns = false\nmarkets = [\"BTC/EUR\"]\n\n\
            [trade]\nfunding_window_secs = 3600\nanswer_window_secs = 600\n\n\
            [chain]\nnetwork = \"regtest\"\nconfirmations = 1\n"
            .to_vec();
        let config =
            crate::config::Config::from_parts("souk.toml", std::str::from_utf8(&toml).unwrap(), [])
                .unwrap();
        assert!(config.net.resolve().is_ok() && config.trade.resolve().is_ok());

        let record = crate::trading::recovery::Record {
            owner: maker.public().to_peer_id().to_bytes(),
            trade_id: Uuid::from_u128(4),
            schema: 16,
            made_at: NOW_MS,
            tables: vec![crate::trading::recovery::Table {
                name: "trades".into(),
                columns: vec!["id".into(), "state".into(), "transcript_hash".into()],
                rows: vec![vec![
                    crate::trading::recovery::Value::Text(Uuid::from_u128(4).to_string()),
                    crate::trading::recovery::Value::Text("EscrowFunded".into()),
                    crate::trading::recovery::Value::Null,
                ]],
            }],
            chat_left_out: 0,
        };
        let record_keys = crate::trading::recovery::RecoveryKeys::derive(&[7; 32]);
        let sealed_record = record.seal(&record_keys).unwrap();
        assert_eq!(
            crate::trading::recovery::Record::open(
                &record_keys,
                Uuid::from_u128(4),
                &sealed_record
            )
            .unwrap(),
            record
        );
        let keep_bytes =
            crate::trading::recovery::RecoveryRequest::Keep(crate::trading::recovery::CopyOffer {
                trade_id: Uuid::from_u128(4),
                locator: record_keys.locator(),
                record: sealed_record.clone(),
                events: record.events(),
            })
            .encode();
        let record_plain = postcard::to_stdvec(&record).unwrap();

        let receipt_body = crate::reputation::ReceiptBody {
            version: 1,
            trade: crate::reputation::trade_hash(&Uuid::from_u128(4)),
            maker_key: maker.public().encode_protobuf(),
            taker_key: taker.public().encode_protobuf(),
            maker_party: crate::protocol::roles::Party::Seller,
            base: "LTC".into(),
            quote: "EUR".into(),
            bucket: 8,
            ended_at: NOW_MS - 3_600_000,
            outcome: crate::reputation::Outcome::Completed,
            escrow: Some(crate::reputation::EscrowProof {
                chain: crate::escrow::Chain::Ltc,
                network: crate::escrow::Network::Regtest,
                funding: vec![crate::reputation::TxAt {
                    txid: [1; 32],
                    height: 101,
                }],
                payouts: vec![crate::reputation::TxAt {
                    txid: [2; 32],
                    height: 103,
                }],
            }),
        }
        .encode();
        let receipt = crate::reputation::Receipt {
            maker_signature: crate::reputation::receipt::sign_body(&receipt_body, &maker).unwrap(),
            taker_signature: crate::reputation::receipt::sign_body(&receipt_body, &taker).unwrap(),
            body: receipt_body.clone(),
        };
        let rating = crate::reputation::Rating {
            receipt: receipt.id(),
            stars: 5,
            comment: "quick".into(),
            at: NOW_MS,
        }
        .sign(&taker)
        .unwrap();
        let receipt_set = crate::reputation::HolderSet {
            holder: taker.public().to_peer_id().to_bytes(),
            nickname: String::new(),
            published_at: NOW_MS,
            receipts: vec![receipt.clone()],
            ratings: vec![rating],
        }
        .sign(&taker)
        .unwrap();
        assert!(crate::reputation::SignedHolderSet::verify(&receipt_set, NOW_MS).is_ok());
        let receipt_request = crate::trading::receipts::ReceiptRequest::Countersign {
            trade_id: Uuid::from_u128(4),
            body: receipt_body,
            signature: receipt.maker_signature,
        }
        .encode();
        vec![
            ("market_update", "offer", update),
            (
                "market_update",
                "withdrawal",
                MarketUpdate::Withdrawal(withdrawal).to_bytes(),
            ),
            ("withdrawal", "withdrawal", withdrawal_bytes),
            ("take", "take", take_bytes),
            ("envelope", "chat", envelope_bytes),
            ("channel_message", "chat", chat),
            ("negotiation", "take_request", negotiation_bytes),
            ("trade_step", "cancel", step_bytes),
            ("announcement", "ltc_regtest", announcement_bytes),
            ("direct", "offers", direct_bytes),
            ("psbt", "release", psbt_bytes),
            ("ticker", "flat", flat),
            ("ticker", "spot", spot),
            ("keystore", "cheap", keystore_bytes),
            ("backup", "file", backup_bytes),
            ("backup", "files", backup_files),
            ("config", "souk_toml", toml),
            ("recovery", "keep", keep_bytes),
            ("recovery", "sealed", sealed_record),
            ("recovery", "record", record_plain),
            ("receipts", "set", receipt_set),
            ("receipts", "request", receipt_request),
        ]
    }

    #[test]
    fn every_seed_is_taken_by_its_decoder_and_runs_through_its_target() {
        type Target = (&'static str, fn(&[u8]));
        let targets: &[Target] = &[
            ("market_update", market_update),
            ("withdrawal", withdrawal),
            ("take", take),
            ("accept", accept),
            ("envelope", envelope),
            ("channel_message", channel_message),
            ("negotiation", negotiation),
            ("trade_step", trade_step),
            ("direct", direct),
            ("dispute", dispute),
            ("announcement", announcement),
            ("psbt", psbt),
            ("ticker", ticker),
            ("keystore", keystore),
            ("backup", backup),
            ("config", config),
            ("recovery", recovery),
            ("receipts", receipts),
        ];
        let write = std::env::var_os("SOUK_UPDATE_FUZZ_SEEDS").is_some();
        let corpus = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus");
        for (target, name, bytes) in seeds() {
            let (_, run) = targets
                .iter()
                .find(|(t, _)| *t == target)
                .expect("a target of that name");
            run(&bytes);
            if write {
                let dir = corpus.join(target);
                std::fs::create_dir_all(&dir).unwrap();
                std::fs::write(dir.join(format!("seed-{name}")), &bytes).unwrap();
            }
        }
        // Every target also takes nothing and garbage, and replays its committed corpus (the seeds and
        // every input a fuzz run ever crashed on, kept as a regression).
        for (target, run) in targets {
            run(&[]);
            run(&[0xff; 300]);
            let Ok(files) = std::fs::read_dir(corpus.join(target)) else {
                continue;
            };
            for file in files {
                let path = file.unwrap().path();
                run(&std::fs::read(&path).unwrap());
            }
        }
    }
}
