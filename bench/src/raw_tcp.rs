//! The baseline: the same signed market updates sent one at a time over plain loopback TCP between two
//! tokio tasks (length-prefixed write, read, then the same verification a gossip receiver runs).
//! What gossip costs beyond this is the network stack's own: Noise, Yamux, gossipsub, relaying hops.

use std::{
    net::Ipv4Addr,
    time::{Duration, Instant},
};

use anyhow::{Context, anyhow, bail};
use souk_core::offer::MAX_MARKET_UPDATE_BYTES;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    sync::mpsc,
};

use crate::market::verify_offer_update;

/// Sends `messages` frames, cycling through `updates`, each after the previous one was verified on
/// the other side; returns the write-to-verified latency of each. Stops early (fewer latencies) at
/// `deadline`.
pub async fn measure(
    updates: &[Vec<u8>],
    messages: usize,
    topic: &str,
    deadline: Instant,
) -> anyhow::Result<Vec<Duration>> {
    if updates.is_empty() {
        bail!("no market updates to send");
    }
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
    let addr = listener.local_addr()?;
    let (receipts_tx, mut receipts) = mpsc::unbounded_channel();
    let topic = topic.to_owned();
    let reader = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await?;
        stream.set_nodelay(true)?;
        let mut len = [0u8; 4];
        let mut body = Vec::new();
        loop {
            if let Err(e) = stream.read_exact(&mut len).await {
                return match e.kind() {
                    std::io::ErrorKind::UnexpectedEof => Ok(()),
                    _ => Err(anyhow::Error::from(e)),
                };
            }
            let len = usize::try_from(u32::from_be_bytes(len))?;
            if len > MAX_MARKET_UPDATE_BYTES {
                bail!("frame of {len} bytes, above the largest market update");
            }
            body.resize(len, 0);
            stream.read_exact(&mut body).await?;
            let verdict = verify_offer_update(&topic, &body).map(|_| Instant::now());
            if receipts_tx.send(verdict).is_err() {
                return Ok(());
            }
        }
    });

    let mut writer = TcpStream::connect(addr).await?;
    writer.set_nodelay(true)?;
    let mut frame = Vec::with_capacity(MAX_MARKET_UPDATE_BYTES + 4);
    let mut latencies = Vec::with_capacity(messages);
    for update in updates.iter().cycle().take(messages) {
        frame.clear();
        frame.extend_from_slice(&u32::try_from(update.len())?.to_be_bytes());
        frame.extend_from_slice(update);
        let sent = Instant::now();
        writer.write_all(&frame).await?;
        let receipt = tokio::time::timeout_at(deadline.into(), receipts.recv()).await;
        match receipt {
            Err(_) => break,
            Ok(None) => bail!("the reading task ended early"),
            Ok(Some(verdict)) => {
                let received = verdict.map_err(|e| anyhow!("baseline update refused: {e}"))?;
                latencies.push(received.saturating_duration_since(sent));
            }
        }
    }
    drop(writer);
    if latencies.len() < messages {
        reader.abort();
    } else {
        reader.await.context("baseline reader")??;
    }
    Ok(latencies)
}
