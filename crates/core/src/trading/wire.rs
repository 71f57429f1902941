//! What a trade channel's envelopes carry, once opened: the plaintext the two parties exchange.

use serde::{Deserialize, Serialize};

/// Longest chat message, in characters.
pub const MAX_CHAT_CHARS: usize = 4_000;

/// One plaintext of a trade channel. Postcard; appended variants only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChannelMessage {
    /// A signed negotiation step (`negotiation::SignedNegotiationMessage` bytes).
    Negotiation(Vec<u8>),
    /// Free text, with the sender's clock at sending (unix ms; never decreasing per sender).
    Chat { text: String, sent_at: i64 },
    /// "I have read your messages up to and including sequence number `up_to`."
    Read { up_to: u64 },
    /// A signed step of the trade after agreement (`trade::SignedStep` bytes).
    TradeStep(Vec<u8>),
}

impl ChannelMessage {
    pub fn encode(&self) -> Vec<u8> {
        postcard::to_stdvec(self).unwrap_or_default()
    }

    /// Exactly one message, nothing after it, and content within its limits.
    pub fn decode(bytes: &[u8]) -> Result<Self, String> {
        let message: Self = crate::codec::decode_exact(bytes, "channel message")?;
        if let Self::Chat { text, .. } = &message {
            check_chat_text(text)?;
        }
        Ok(message)
    }
}

/// The rules every chat message follows, on sending and on receiving.
pub fn check_chat_text(text: &str) -> Result<(), String> {
    let chars = text.chars().count();
    if text.trim().is_empty() {
        return Err("a chat message cannot be empty".into());
    }
    if chars > MAX_CHAT_CHARS {
        return Err(format!(
            "the message is {chars} characters; at most {MAX_CHAT_CHARS} are allowed"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_limits_hold_on_both_sides() {
        let ok = ChannelMessage::Chat {
            text: "<b>hi</b>".into(),
            sent_at: 5,
        };
        assert_eq!(ChannelMessage::decode(&ok.encode()).unwrap(), ok);
        let long = ChannelMessage::Chat {
            text: "x".repeat(MAX_CHAT_CHARS + 1),
            sent_at: 5,
        };
        let err = ChannelMessage::decode(&long.encode()).unwrap_err();
        assert!(err.contains("at most 4000"), "{err}");
        let blank = ChannelMessage::Chat {
            text: " \n".into(),
            sent_at: 5,
        };
        assert!(ChannelMessage::decode(&blank.encode()).is_err());
        let mut trailing = ChannelMessage::Read { up_to: 3 }.encode();
        trailing.push(1);
        assert!(ChannelMessage::decode(&trailing).is_err());
    }
}
