//! The baselines over plain loopback TCP between two tokio tasks in this process.
//!
//! - [`measure`]: the same signed market updates sent one at a time (length-prefixed write, read,
//!   then the same verification a gossip receiver runs). What gossip costs beyond this is the network
//!   stack's own: Noise, Yamux, gossipsub, relaying hops.
//! - [`echo`]: a message of a chat message's size sent and echoed back, one round trip at a time.
//!   What a chat round trip costs beyond this is Souk's: the signed, encrypted envelope, the SQLite
//!   transactions on both sides, the request-response protocol and its acknowledgement.

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

/// Round trips of one `message_len`-byte frame (length-prefixed) to an echoing task and back, each
/// from the write to the whole echo read and compared. The first `warmup` are not returned. Stops
/// early (fewer round trips) at `deadline`.
pub async fn echo(
    message_len: usize,
    round_trips: usize,
    warmup: usize,
    deadline: Instant,
) -> anyhow::Result<Vec<Duration>> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
    let addr = listener.local_addr()?;
    let echoer = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await?;
        stream.set_nodelay(true)?;
        let mut frame = Vec::new();
        loop {
            let mut len = [0u8; 4];
            if let Err(e) = stream.read_exact(&mut len).await {
                return match e.kind() {
                    std::io::ErrorKind::UnexpectedEof => Ok(()),
                    _ => Err(anyhow::Error::from(e)),
                };
            }
            let body = usize::try_from(u32::from_be_bytes(len))?;
            frame.clear();
            frame.extend_from_slice(&len);
            frame.resize(4 + body, 0);
            stream.read_exact(&mut frame[4..]).await?;
            stream.write_all(&frame).await?;
        }
    });

    let mut stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let mut frame = Vec::with_capacity(4 + message_len);
    frame.extend_from_slice(&u32::try_from(message_len)?.to_be_bytes());
    frame.extend((0..message_len).map(|i| b'a' + (i % 26) as u8));
    let mut back = vec![0u8; frame.len()];
    let mut latencies = Vec::with_capacity(round_trips);
    for i in 0..warmup + round_trips {
        let sent = Instant::now();
        let round_trip = async {
            stream.write_all(&frame).await?;
            stream.read_exact(&mut back).await?;
            anyhow::Ok(sent.elapsed())
        };
        let Ok(took) = tokio::time::timeout_at(deadline.into(), round_trip).await else {
            break;
        };
        let took = took?;
        if back != frame {
            bail!("the echo differs from the message sent");
        }
        if i >= warmup {
            latencies.push(took);
        }
    }
    drop(stream);
    if latencies.len() < round_trips {
        echoer.abort();
    } else {
        echoer.await.context("echoing task")??;
    }
    Ok(latencies)
}
