//! Takes: this node taking an offer from the book (the taker's side), and answering a take of one of its
//! own offers (the maker's side, with the per-peer take limit). A refused take stores nothing.

use std::sync::atomic::Ordering;

use libp2p::PeerId;
use uuid::Uuid;

use super::{Desk, Inner, negotiate::sign, peer_fault, sql};
use crate::{
    channel,
    error::{Error, Result},
    net::NetError,
    offer::PaymentMethod,
    protocol::negotiation::{
        MessageBody, Negotiation, NegotiationMessage, SignedNegotiationMessage,
    },
    protocol::{DirectRequest, TakeAnswer},
    store::now_ms,
    trading::{TakeError, TradeEvent, TradeInfo, settle, store},
};

/// How often a take that could not reach its maker is sent again, and the wait before the first
/// resend (doubled for the second).
const TAKE_REDIALS: u32 = 2;
const TAKE_REDIAL_WAIT: std::time::Duration = std::time::Duration::from_millis(750);

impl Desk {
    /// Takes `offer_id` from the book: asks its maker (who must be reachable now) and opens the trade's
    /// channel. Checks everything the maker would check first, so a bad take fails here with its reason.
    pub async fn take(
        &self,
        offer_id: Uuid,
        amount: u64,
        method: PaymentMethod,
        payout: String,
    ) -> std::result::Result<TradeInfo, TakeError> {
        let inner = &self.inner;
        let (offer, state) = inner
            .book
            .get(offer_id)
            .await
            .map_err(Error::from)?
            .ok_or(TakeError::NoOffer(offer_id))?;
        if offer.maker == inner.me.peer {
            return Err(TakeError::OwnOffer);
        }
        settle::approve_arbitrators(inner, &offer)
            .await
            .map_err(|e| match Error::from(e) {
                Error::InvalidInput(why) => TakeError::Terms(why),
                other => TakeError::from(other),
            })?;
        let trade_id = Uuid::now_v7();
        let request = NegotiationMessage {
            trade_id,
            offer_id,
            sender: inner.me.peer,
            step: 0,
            body: MessageBody::TakeRequest {
                amount,
                method,
                payout,
            },
        };
        let signed = sign(&request, &inner.me.keypair)?;
        let negotiation = Negotiation::start(&offer, state, now_ms(), signed.clone())
            .map_err(|e| TakeError::Terms(format!("cannot take this offer: {e}")))?;
        let (sealed, handshake) = channel::seal_take(
            offer.maker,
            &offer.maker_x25519,
            offer_id,
            trade_id,
            &signed.to_bytes(),
            &inner.me.keypair,
        )
        .map_err(Error::from)?;
        let take = DirectRequest::Take(sealed.to_bytes().map_err(Error::from)?).encode();
        // A maker that just announced a new address (a relay reservation) may not be findable for a
        // moment: a take that never left this node is sent again, twice, before it fails.
        let mut attempt = 0;
        let answer = loop {
            let _ = inner.net.find_peer(offer.maker).await;
            match inner.net.request(offer.maker, take.clone()).await {
                Err(NetError::NotConnected { .. }) if attempt < TAKE_REDIALS => {
                    attempt += 1;
                    tokio::time::sleep(TAKE_REDIAL_WAIT * attempt).await;
                }
                other => {
                    break other.map_err(|e| TakeError::MakerUnreachable {
                        maker: offer.maker,
                        reason: e.to_string(),
                    })?;
                }
            }
        };
        let accept = match TakeAnswer::decode(&answer).map_err(TakeError::Nonsense)? {
            TakeAnswer::Accepted(accept) => accept,
            TakeAnswer::Refused(reason) => return Err(TakeError::Refused(reason)),
        };
        let trade_channel = handshake
            .finish(&accept)
            .map_err(|e| TakeError::Nonsense(e.to_string()))?;
        let (_guard, mut tx) = inner.write().await?;
        crate::trading::store::negotiation::record_negotiation(
            &mut tx,
            &negotiation,
            &inner.me.peer,
            None,
            now_ms(),
        )
        .await
        .map_err(Error::from)?;
        store::insert_channel(&mut tx, &inner.me.storage_key, &trade_channel, &offer).await?;
        let info = store::trade_info_on(&mut tx, &inner.me.peer, trade_id).await?;
        tx.commit().await.map_err(sql)?;
        tracing::info!(%trade_id, %offer_id, maker = %offer.maker, "offer taken");
        let _ = inner.events.send(TradeEvent::TradeUpdated {
            trade: Box::new(info.clone()),
        });
        Ok(info)
    }
}

impl Inner {
    /// The maker's side of a take. Every refusal says why and stores nothing.
    pub(in crate::trading) async fn on_take(&self, from: PeerId, bytes: &[u8]) -> TakeAnswer {
        match self.open_trade(bytes).await {
            Ok(accept) => TakeAnswer::Accepted(accept),
            Err(e) => {
                self.refused.takes.fetch_add(1, Ordering::Relaxed);
                tracing::info!(%from, reason = %e, "take refused");
                TakeAnswer::Refused(crate::protocol::reason_for_peer(&e))
            }
        }
    }

    async fn open_trade(&self, bytes: &[u8]) -> Result<Vec<u8>> {
        let opened = channel::open_take(&self.me.channel_secret, self.me.peer, bytes)?;
        let request = SignedNegotiationMessage::verify(opened.plaintext()).map_err(peer_fault)?;
        let m = request.message();
        if m.sender != opened.taker()
            || m.trade_id != opened.trade_id()
            || m.offer_id != opened.offer_id()
        {
            return Err(peer_fault(
                "the take request inside does not match its sealed envelope (taker, trade or offer)",
            ));
        }
        let (offer, state) = self
            .book
            .get(m.offer_id)
            .await?
            .ok_or_else(|| peer_fault(format!("no offer {} here", m.offer_id)))?;
        if offer.maker != self.me.peer {
            return Err(peer_fault(format!(
                "offer {} is not one of this node's",
                offer.id
            )));
        }
        if let crate::offer::EscrowKind::Multisig { arbitrators } = &offer.escrow
            && arbitrators.contains(&m.sender)
        {
            return Err(peer_fault(
                "the taker is an arbitrator of this offer: nobody holds two of the escrow's keys",
            ));
        }
        let now = now_ms();
        let negotiation = Negotiation::start(&offer, state, now, request).map_err(peer_fault)?;
        let (accept, trade_channel) = channel::accept_take(&opened, &self.me.keypair)?;
        let _guard = self.lock.lock().await;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(sql)?;
        if store::load_channel(&mut tx, &self.me.storage_key, trade_channel.trade_id)
            .await?
            .is_some()
        {
            return Err(peer_fault(format!(
                "trade {} exists already: a take is answered once",
                trade_channel.trade_id
            )));
        }
        let hour_ago = now - 3_600_000;
        let recent =
            store::negotiation::takes_from_since(&mut tx, &opened.taker(), hour_ago).await?;
        let limit = self.config.max_takes_per_peer_per_hour;
        if recent >= i64::from(limit) {
            return Err(peer_fault(format!(
                "too many takes from you: {recent} of this node's offers in the last hour, at most \
                 {limit}; try again later"
            )));
        }
        crate::trading::store::negotiation::record_negotiation(
            &mut tx,
            &negotiation,
            &self.me.peer,
            Some(self.config.max_open_takes),
            now,
        )
        .await
        .map_err(Error::from)?;
        store::insert_channel(&mut tx, &self.me.storage_key, &trade_channel, &offer).await?;
        let info = store::trade_info_on(&mut tx, &self.me.peer, trade_channel.trade_id).await?;
        tx.commit().await.map_err(sql)?;
        tracing::info!(trade_id = %info.id, offer_id = %offer.id, taker = %info.counterparty, "offer taken by a peer");
        let _ = self.events.send(TradeEvent::TakeRequested {
            trade: Box::new(info),
        });
        Ok(accept.to_bytes()?)
    }
}
