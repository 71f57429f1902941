//! This node's negotiation steps: an answer to the other side's last step (accept, reject, counter),
//! signed, stored with the trade's new state and queued for the counterparty in one transaction.

use libp2p::identity::Keypair;
use uuid::Uuid;

use super::{Desk, Inner, refused, sql};
use crate::{
    error::{Error, Result},
    protocol::negotiation::{
        self, MessageBody, NegotiationMessage, SignedNegotiationMessage, VerifiedNegotiationMessage,
    },
    store::now_ms,
    trading::{TradeAnswer, TradeEvent, TradeInfo, settle, store, wire::ChannelMessage},
};

impl Desk {
    /// Answers the other side's last step: accept, reject, or (maker only) counter.
    pub async fn answer(&self, trade_id: Uuid, answer: TradeAnswer) -> Result<TradeInfo> {
        let body = match answer {
            TradeAnswer::Accept => MessageBody::Accept,
            TradeAnswer::Reject { reason } => MessageBody::Reject { reason },
            TradeAnswer::Counter { amount, price } => MessageBody::Counter { amount, price },
        };
        answer_step(&self.inner, trade_id, body).await
    }
}

/// This node's answer to the other side's last negotiation step: signed, stored with the trade's new
/// state and queued for the counterparty in one transaction.
pub(super) async fn answer_step(
    inner: &Inner,
    trade_id: Uuid,
    body: MessageBody,
) -> Result<TradeInfo> {
    let ((_guard, mut tx), mut channel) = inner.write_trade(trade_id).await?;
    let mut negotiation = store::load_negotiation(&mut tx, trade_id, &channel.offer).await?;
    let message = NegotiationMessage {
        trade_id,
        offer_id: channel.offer.id,
        sender: inner.me.peer,
        step: negotiation.next_step(),
        body,
    };
    let signed = sign(&message, &inner.me.keypair)?;
    negotiation.apply(signed.clone()).map_err(refused)?;
    let now = now_ms();
    crate::trading::store::negotiation::record_negotiation(
        &mut tx,
        &negotiation,
        &inner.me.peer,
        None,
        now,
    )
    .await
    .map_err(Error::from)?;
    let plaintext = ChannelMessage::Negotiation(signed.to_bytes()).encode();
    store::enqueue(&mut tx, &mut channel, &inner.me.keypair, &plaintext, now).await?;
    if negotiation.state() == negotiation::NegotiationState::Accepted {
        let terms = negotiation.terms();
        settle::after_agreement(inner, &mut tx, &mut channel, &terms.payout, terms.amount).await?;
    }
    let info = store::trade_info_on(&mut tx, &inner.me.peer, trade_id).await?;
    tx.commit().await.map_err(sql)?;
    inner.outbox.kick();
    inner.watcher.kick();
    let _ = inner.events.send(TradeEvent::TradeUpdated {
        trade: Box::new(info.clone()),
    });
    Ok(info)
}

pub(super) fn sign(
    message: &NegotiationMessage,
    keypair: &Keypair,
) -> Result<VerifiedNegotiationMessage> {
    message.validate().map_err(refused)?;
    let signed = SignedNegotiationMessage::sign(message, keypair).map_err(Error::from)?;
    signed.into_verified().map_err(Error::from)
}
