//! Envelopes from the counterparty: verified, put in order, their content (negotiation steps, chat,
//! read marks, trade steps) checked and stored in one transaction with the receiver's state, or
//! refused with nothing stored.

use std::sync::atomic::Ordering;

use libp2p::PeerId;
use uuid::Uuid;

use super::{Inner, peer_fault, sql};
use crate::{
    channel::{ChannelError, SignedEnvelope},
    error::{Error, Result},
    protocol::EnvelopeAnswer,
    protocol::negotiation::{self, SignedNegotiationMessage},
    store::now_ms,
    trading::{
        ChatMessage, TradeEvent, settle,
        store::{self, ChannelRow},
        wire::ChannelMessage,
    },
};

enum Received {
    /// Stored (delivered in order, or held until a gap fills).
    Stored {
        next: u64,
    },
    Dropped {
        next: u64,
        reason: String,
    },
}

impl Inner {
    /// One envelope from a peer: verified, put in order, its content checked and stored in one
    /// transaction with the receiver's state, or refused with nothing stored.
    pub(in crate::trading) async fn on_envelope(
        &self,
        from: PeerId,
        bytes: &[u8],
    ) -> EnvelopeAnswer {
        match self.receive(bytes).await {
            Ok(Received::Stored { next }) => EnvelopeAnswer::Ack { next },
            Ok(Received::Dropped { next, reason }) => {
                tracing::debug!(%from, %reason, "envelope dropped");
                EnvelopeAnswer::Dropped { next, reason }
            }
            Err(e) => {
                self.refused.envelopes.fetch_add(1, Ordering::Relaxed);
                tracing::info!(%from, reason = %e, "envelope refused");
                EnvelopeAnswer::Refused(crate::protocol::reason_for_peer(&e))
            }
        }
    }

    async fn receive(&self, bytes: &[u8]) -> Result<Received> {
        let verified = SignedEnvelope::verify(bytes)?;
        let trade_id = verified.trade_id();
        let _guard = self.lock.lock().await;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(sql)?;
        let mut channel = store::load_channel(&mut tx, &self.me.storage_key, trade_id)
            .await?
            .ok_or(ChannelError::UnknownTrade { trade_id })?;
        let stored = store::load_held(&mut tx, trade_id).await?;
        let mut receiver = channel.receiver.clone().with_held(stored.clone());
        let delivered = match receiver.receive_verified(&channel.keys, verified) {
            Ok(delivered) => delivered,
            Err(ChannelError::Gap { .. }) => {
                // Authenticated and held until the gap fills; the ack asks for the gap.
                store::save_receiver(&mut tx, trade_id, &receiver, &stored).await?;
                tx.commit().await.map_err(sql)?;
                return Ok(Received::Stored {
                    next: receiver.next_seq(),
                });
            }
            // A duplicate, or too far ahead: nothing to store; the answer says what comes next.
            Err(e @ (ChannelError::Replay { .. } | ChannelError::TooFarAhead { .. })) => {
                return Ok(Received::Dropped {
                    next: channel.receiver.next_seq(),
                    reason: e.to_string(),
                });
            }
            Err(e) => return Err(e.into()),
        };
        let mut events = Vec::new();
        for item in delivered {
            let message = ChannelMessage::decode(&item.plaintext).map_err(|e| {
                peer_fault(format!("envelope {} of trade {trade_id}: {e}", item.seq))
            })?;
            self.apply(&mut tx, &mut channel, item.seq, message, &mut events)
                .await?;
        }
        store::save_receiver(&mut tx, trade_id, &receiver, &stored).await?;
        tx.commit().await.map_err(sql)?;
        // A step may have queued an answer, or made an escrow ready or due.
        self.outbox.kick();
        self.watcher.kick();
        for event in events {
            let _ = self.events.send(event);
        }
        Ok(Received::Stored {
            next: receiver.next_seq(),
        })
    }

    async fn apply(
        &self,
        tx: &mut sqlx::SqliteConnection,
        channel: &mut ChannelRow,
        seq: u64,
        message: ChannelMessage,
        events: &mut Vec<TradeEvent>,
    ) -> Result<()> {
        let trade_id = channel.trade_id;
        let now = now_ms();
        match message {
            ChannelMessage::Negotiation(bytes) => {
                let step = SignedNegotiationMessage::verify(&bytes).map_err(peer_fault)?;
                if step.message().sender != channel.peer {
                    return Err(peer_fault(format!(
                        "a negotiation step signed by {}, not by the counterparty",
                        step.message().sender
                    )));
                }
                let mut negotiation = store::load_negotiation(tx, trade_id, &channel.offer).await?;
                negotiation.apply(step).map_err(peer_fault)?;
                crate::trading::store::negotiation::record_negotiation(
                    tx,
                    &negotiation,
                    &self.me.peer,
                    None,
                    now,
                )
                .await
                .map_err(Error::from)?;
                if negotiation.state() == negotiation::NegotiationState::Accepted {
                    let terms = negotiation.terms();
                    settle::after_agreement(self, tx, channel, &terms.payout, terms.amount).await?;
                }
                let info = store::trade_info_on(tx, &self.me.peer, trade_id).await?;
                events.push(TradeEvent::TradeUpdated {
                    trade: Box::new(info),
                });
            }
            ChannelMessage::Chat { text, sent_at } => {
                // The sender's clock, within what this node can tell: not in the future of its own
                // clock, and not before the sender's previous message (delivery is in order).
                let earliest = store::last_incoming_sent_at(tx, trade_id).await?;
                let sent_at = sent_at.min(now).max(earliest.min(now));
                // Past the rules both sides keep, the envelope is taken (its sequence moves on, so the
                // trade's steps behind it are not held up) and the message dropped: no store, no alert.
                if let Some(why) =
                    store::chat_refusal(tx, trade_id, false, now, self.config.max_chat_per_minute)
                        .await?
                {
                    self.refused.chat_messages.fetch_add(1, Ordering::Relaxed);
                    tracing::info!(%trade_id, peer = %channel.peer, reason = %why, "chat message dropped");
                    return Ok(());
                }
                let message = ChatMessage {
                    id: Uuid::now_v7(),
                    trade_id,
                    outgoing: false,
                    seq,
                    sender: channel.peer.to_base58(),
                    body: text,
                    sent_at,
                    delivered_at: Some(now),
                    read_at: None,
                };
                if store::insert_message(tx, &message).await? {
                    events.push(TradeEvent::Message { message });
                }
            }
            ChannelMessage::Read { up_to } => {
                let seen = store::seq_i64(up_to.min(channel.send_next))?;
                store::mark_outgoing_read(tx, trade_id, seen, now).await?;
                events.push(TradeEvent::Read { trade_id, up_to });
            }
            ChannelMessage::TradeStep(bytes) => {
                settle::on_step(self, tx, channel, &bytes, events).await?;
            }
        }
        Ok(())
    }
}
