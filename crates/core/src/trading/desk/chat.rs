//! This node's side of a trade's chat: a message sent (within the rate both sides keep) and the
//! counterparty's messages marked read. Incoming chat arrives with the envelopes (`receive`).

use uuid::Uuid;

use super::{Desk, sql};
use crate::{
    error::{Error, Result},
    store::now_ms,
    trading::{
        ChatMessage, TradeEvent, store,
        wire::{ChannelMessage, check_chat_text},
    },
};

impl Desk {
    /// Stores a chat message and queues it for the counterparty.
    pub async fn send_chat(&self, trade_id: Uuid, text: String) -> Result<ChatMessage> {
        check_chat_text(&text).map_err(Error::InvalidInput)?;
        let inner = &self.inner;
        let ((_guard, mut tx), mut channel) = inner.write_trade(trade_id).await?;
        let now = now_ms();
        let sent_at = now.max(store::last_outgoing_sent_at(&mut tx, trade_id).await?);
        if let Some(why) = store::chat_refusal(
            &mut tx,
            trade_id,
            true,
            sent_at,
            inner.config.max_chat_per_minute,
        )
        .await?
        {
            return Err(Error::InvalidInput(why));
        }
        let plaintext = ChannelMessage::Chat {
            text: text.clone(),
            sent_at,
        }
        .encode();
        let seq = store::enqueue(&mut tx, &mut channel, &inner.me.keypair, &plaintext, now).await?;
        let message = ChatMessage {
            id: Uuid::now_v7(),
            trade_id,
            outgoing: true,
            seq,
            sender: inner.me.peer.to_base58(),
            body: text,
            sent_at,
            delivered_at: None,
            read_at: None,
        };
        store::insert_message(&mut tx, &message).await?;
        tx.commit().await.map_err(sql)?;
        inner.outbox.kick();
        let _ = inner.events.send(TradeEvent::Message {
            message: message.clone(),
        });
        Ok(message)
    }

    /// Test hook: makes this node a hostile chatter. Each `(text, sent_at)` goes to the counterparty
    /// as [`Desk::send_chat`] would send it (a chat message claiming `sent_at`, sealed as the channel's
    /// next envelope, signed, encrypted, through the outbox), but without its checks (text, rate,
    /// total, closed chat) and unrecorded here. All are queued in one transaction. Returns the last
    /// sequence number queued (`None` for no messages).
    #[cfg(feature = "test-hooks")]
    pub async fn send_unchecked_chat(
        &self,
        trade_id: Uuid,
        messages: Vec<(String, i64)>,
    ) -> Result<Option<u64>> {
        let inner = &self.inner;
        let ((_guard, mut tx), mut channel) = inner.write_trade(trade_id).await?;
        let now = now_ms();
        let mut last = None;
        for (text, sent_at) in messages {
            let plaintext = ChannelMessage::Chat { text, sent_at }.encode();
            last = Some(
                store::enqueue(&mut tx, &mut channel, &inner.me.keypair, &plaintext, now).await?,
            );
        }
        tx.commit().await.map_err(sql)?;
        inner.outbox.kick();
        Ok(last)
    }

    /// Marks the counterparty's messages read and tells it so. Returns how many were unread.
    pub async fn mark_read(&self, trade_id: Uuid) -> Result<u32> {
        let inner = &self.inner;
        let ((_guard, mut tx), mut channel) = inner.write_trade(trade_id).await?;
        let (count, up_to) = store::unread_incoming(&mut tx, trade_id).await?;
        let Some(up_to) = up_to else {
            return Ok(0);
        };
        let now = now_ms();
        store::mark_incoming_read(&mut tx, trade_id, now).await?;
        let up_to = u64::try_from(up_to).map_err(|e| Error::Internal(e.to_string()))?;
        let plaintext = ChannelMessage::Read { up_to }.encode();
        store::enqueue(&mut tx, &mut channel, &inner.me.keypair, &plaintext, now).await?;
        let info = store::trade_info_on(&mut tx, &inner.me.peer, trade_id).await?;
        tx.commit().await.map_err(sql)?;
        inner.outbox.kick();
        // Its unread count changed: shells that show one (the tray) follow the events.
        let _ = inner.events.send(TradeEvent::TradeUpdated {
            trade: Box::new(info),
        });
        Ok(u32::try_from(count).unwrap_or(u32::MAX))
    }
}
