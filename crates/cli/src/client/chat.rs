//! `souk chat …`: sending a message on a trade, and printing its log (peer text escaped for the
//! terminal) before marking it read.

use reqwest::Method;
use souk_core::trading::ChatMessage;

use super::{
    ApiClient, decode,
    text::{printable, time_text},
};
use crate::{Failure, print_json};

pub async fn send_chat(
    client: &ApiClient,
    trade_id: &str,
    text: &str,
    json: bool,
) -> Result<(), Failure> {
    let body = serde_json::json!({ "text": text });
    let Some(message) = client
        .fetch::<ChatMessage>(
            Method::POST,
            &format!("/api/v1/trades/{trade_id}/messages"),
            &[],
            Some(&body),
            json,
        )
        .await?
    else {
        return Ok(());
    };
    println!(
        "Sent message #{} (delivered when the counterparty is reachable)",
        message.seq
    );
    Ok(())
}

/// Prints the log, then marks the counterparty's messages read (which sends a read receipt).
pub async fn chat_log(client: &ApiClient, trade_id: &str, json: bool) -> Result<(), Failure> {
    let path = format!("/api/v1/trades/{trade_id}/messages");
    let value = client.call(Method::GET, &path, &[], None).await?;
    let messages: Vec<ChatMessage> = decode(&value)?;
    if json {
        print_json(&value);
    } else if messages.is_empty() {
        println!("No messages.");
    } else {
        for m in &messages {
            let who = if m.outgoing { "you" } else { "them" };
            let mark = match (m.outgoing, m.delivered_at, m.read_at) {
                (true, _, Some(_)) => " [read]",
                (true, Some(_), None) => " [delivered]",
                (true, None, _) => " [pending]",
                (false, ..) => "",
            };
            // Plain text: control characters are shown escaped, never interpreted by the terminal.
            let body = printable(&m.body);
            println!("{} {who:>4}: {body}{mark}", time_text(m.sent_at));
        }
    }
    if messages.iter().any(|m| !m.outgoing && m.read_at.is_none()) {
        client
            .call(
                Method::POST,
                &format!("/api/v1/trades/{trade_id}/read"),
                &[],
                None,
            )
            .await?;
    }
    Ok(())
}
