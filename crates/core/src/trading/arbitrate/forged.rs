//! Test hook only (`test-hooks`): a node that is no party to a trade forges a dispute case about it, to
//! prove the arbitrator refuses it. Never compiled into a release build.

use libp2p::PeerId;
use uuid::Uuid;

use super::{DisputeCase, party::ask_arbitrator, refused};
use crate::{
    error::{Error, Result},
    escrow::{Chain, Network, trade_keypair},
    offer::{EscrowKind, Offer, Side},
    protocol::settlement::StepBody,
    protocol::{DirectRequest, Stored},
    store::now_ms,
    trading::desk::Inner,
};

/// Test hook: this node, no party to trade `trade_id`, forges a case about it for `arbitrator`: an offer
/// of its own naming the arbitrator, itself as the seller and a made-up buyer, each with escrow keys and a
/// payout address of their own, signed as a party would. Returns the arbitrator's refusal, `None` when it
/// stored the case.
#[cfg(feature = "test-hooks")]
pub(in crate::trading) async fn send_forged_case(
    inner: &Inner,
    arbitrator: PeerId,
    trade_id: Uuid,
    (chain, network): (Chain, Network),
) -> Result<Option<String>> {
    use crate::{
        identity::{Identity, SeedPhrase},
        offer::{Asset, Fiat, NewOffer, PaymentMethod, Price, Quote},
    };
    let internal = |e: &dyn std::fmt::Display| Error::Internal(e.to_string());
    let puppet = SeedPhrase::generate()
        .and_then(Identity::from_phrase)
        .map_err(|e| internal(&e))?;
    let offer = Offer::new(
        inner.me.peer,
        NewOffer {
            side: Side::Sell,
            base: Asset::Ltc,
            quote: Quote::Fiat(Fiat::Eur),
            price: Price::Fixed(rust_decimal::Decimal::from(80)),
            min_amount: 50_000_000,
            max_amount: 200_000_000,
            payment_methods: vec![PaymentMethod::new("SEPA").map_err(|e| internal(&e))?],
            escrow: EscrowKind::Multisig {
                arbitrators: vec![arbitrator],
            },
            deposit_bps: 1_500,
            maker_x25519: x25519_dalek::PublicKey::from(&inner.me.channel_secret).to_bytes(),
            ttl_ms: 3_600_000,
            terms: String::new(),
        },
        now_ms(),
    )
    .map_err(|e| internal(&e))?;
    let keys_step = |peer: PeerId,
                     keypair: &libp2p::identity::Keypair,
                     root: &bitcoin::bip32::Xpriv|
     -> Result<Vec<u8>> {
        let key = trade_keypair(root, chain, network, &trade_id).map_err(refused)?;
        let payout = bitcoin::ScriptBuf::new_p2wpkh(
            &bitcoin::CompressedPublicKey(key.public_key()).wpubkey_hash(),
        );
        let address =
            crate::escrow::address_from_script(&payout, chain, network).map_err(refused)?;
        crate::protocol::settlement::TradeStep {
            trade_id,
            sender: peer,
            at: now_ms(),
            body: StepBody::EscrowKeys {
                pubkey: key.public_key().serialize().to_vec(),
                address,
            },
        }
        .sign(keypair)
        .map_err(|e| internal(&e))?
        .to_bytes()
        .map_err(|e| internal(&e))
    };
    let case = DisputeCase {
        trade_id,
        offer_json: serde_json::to_string(&offer).map_err(|e| internal(&e))?,
        amount: 100_000_000,
        buyer_deposit: 15_000_000,
        seller_deposit: 15_000_000,
        chain,
        network,
        escrow_keys: vec![
            keys_step(inner.me.peer, &inner.me.keypair, &inner.escrow_root)?,
            keys_step(puppet.peer_id(), puppet.keypair(), puppet.escrow_root())?,
        ],
        dispute_steps: Vec::new(),
        side: "seller".into(),
        reason: "pay me".into(),
        transcript: Vec::new(),
        arbitrator_key: Vec::new(),
    };
    let plaintext = postcard::to_stdvec(&case).map_err(|e| internal(&e))?;
    let answer = ask_arbitrator(
        inner,
        (arbitrator, chain, network),
        offer.id,
        trade_id,
        &plaintext,
        DirectRequest::Dispute,
    )
    .await?;
    Ok(match Stored::decode(&answer).map_err(refused)? {
        Stored::Stored => None,
        Stored::Refused(reason) | Stored::Later(reason) => Some(reason),
    })
}
