//! Following the node's event channels from a shell: each event as it is or, when the shell fell
//! behind and the channel dropped some, one `{"kind": "lagged", "missed": N}` saying how many — the
//! sign to read everything again. The desktop window and the HTTP API's WebSocket follow this one rule.

use serde::Serialize;
use tokio::sync::broadcast::{Receiver, error::RecvError};

/// One thing a follower of a channel is told.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Followed<T> {
    Event(T),
    Lagged(Lagged),
}

/// Events the follower missed: what it shows may be stale.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Lagged {
    kind: &'static str,
    pub missed: u64,
}

impl Lagged {
    pub fn new(missed: u64) -> Self {
        Self {
            kind: "lagged",
            missed,
        }
    }
}

/// The next event of `events`, or how many were missed; `None` once the channel is closed.
pub async fn next<T: Clone>(events: &mut Receiver<T>) -> Option<Followed<T>> {
    match events.recv().await {
        Ok(event) => Some(Followed::Event(event)),
        Err(RecvError::Lagged(missed)) => Some(Followed::Lagged(Lagged::new(missed))),
        Err(RecvError::Closed) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_follower_gets_events_then_how_many_it_missed_then_the_end() {
        let (tx, mut rx) = tokio::sync::broadcast::channel(2);
        tx.send(serde_json::json!({"kind": "offer_added"})).unwrap();
        let first = next(&mut rx).await.unwrap();
        assert_eq!(
            serde_json::to_value(&first).unwrap(),
            serde_json::json!({"kind": "offer_added"})
        );
        for i in 0..5 {
            tx.send(serde_json::json!({ "n": i })).unwrap();
        }
        let lagged = next(&mut rx).await.unwrap();
        assert_eq!(
            serde_json::to_value(&lagged).unwrap(),
            serde_json::json!({"kind": "lagged", "missed": 3})
        );
        assert_eq!(
            next(&mut rx).await,
            Some(Followed::Event(serde_json::json!({ "n": 3 })))
        );
        assert_eq!(
            next(&mut rx).await,
            Some(Followed::Event(serde_json::json!({ "n": 4 })))
        );
        drop(tx);
        assert_eq!(next(&mut rx).await, None);
    }
}
