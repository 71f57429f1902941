//! How long a chat message takes there and back between two real [`Node`]s on loopback: a maker
//! posts an offer, a taker takes it, the maker accepts, then the taker sends K messages one at a
//! time and the maker echoes each as soon as its [`TradeEvent::Message`] arrives. One round trip
//! runs from the taker's `send_chat` call to the echo's `TradeEvent::Message` on the taker's
//! `trade_events()`: on each side, an fsync'd SQLite transaction to store and queue its message and
//! one to store the other's; two signed, encrypted envelopes; two request-response exchanges with
//! their acknowledgements.
//!
//! Baseline, in the same process before the nodes start: a message of the same size echoed over a
//! plain loopback TCP connection ([`raw_tcp::echo`]). Every wait is for an event, bounded by a
//! per-round-trip timeout and the overall deadline; a round trip that never completes ends the
//! run, and the report says so.

use std::{
    fmt,
    path::Path,
    time::{Duration, Instant},
};

use anyhow::Context;
use serde::Serialize;
use souk_core::{
    market::MarketEvent,
    node::{NetInfo, Node},
    offer::PaymentMethod,
    trading::{TradeAnswer, TradeEvent, TradeState},
};
use tokio::sync::broadcast;
use uuid::Uuid;

use crate::{
    cold_start::{
        CHEAP_KDF, PASSPHRASE, address, loopback, market_query, offline_config, sell_offer, within,
    },
    market::{BASE, QUOTE},
    raw_tcp,
    summary::LatencySummary,
};

/// The amount taken, within [`sell_offer`]'s range.
const TAKE_AMOUNT: u64 = 5_000_000;

/// What to measure.
#[derive(Debug, Clone)]
pub struct ChatRttSettings {
    /// K: measured round trips.
    pub round_trips: usize,
    /// Round trips before the measured ones (connection, statement caches, page cache warm).
    pub warmup: usize,
    /// Characters per chat message (ASCII, so also bytes), and the baseline's message size.
    pub message_bytes: usize,
    /// The longest one round trip may take before the run stops.
    pub round_trip_timeout: Duration,
    /// Everything (baseline, setup, measurement) ends by then.
    pub deadline: Duration,
}

impl ChatRttSettings {
    /// 64-character messages, 10 warm-up round trips, 10 s per round trip, 120 s overall.
    pub fn new(round_trips: usize) -> Self {
        Self {
            round_trips,
            warmup: 10,
            message_bytes: 64,
            round_trip_timeout: Duration::from_secs(10),
            deadline: Duration::from_secs(120),
        }
    }
}

/// Everything measured, as written to `--json`.
#[derive(Debug, Clone, Serialize)]
pub struct ChatRttReport {
    pub round_trips: usize,
    pub warmup: usize,
    pub message_bytes: usize,
    /// Starting both nodes, posting, finding, taking and accepting the offer (not measured).
    pub setup_secs: f64,
    /// `send_chat` → the echo's `TradeEvent::Message` at the sender.
    pub chat: LatencySummary,
    /// Write → whole echo read over one loopback TCP connection.
    pub raw_tcp_echo: LatencySummary,
    pub p50_ratio_chat_to_raw_tcp: Option<f64>,
    pub p99_ratio_chat_to_raw_tcp: Option<f64>,
    /// Trade events lost because a waiting side fell behind (should be 0).
    pub events_lagged: u64,
    /// A round trip did not complete in time, or the deadline ended the run.
    pub timed_out: bool,
    pub total_secs: f64,
}

impl ChatRttReport {
    pub fn all_delivered(&self) -> bool {
        self.round_trips > 0
            && self.chat.samples == self.round_trips
            && self.raw_tcp_echo.samples == self.round_trips
    }
}

/// Runs the baseline, then the two nodes. Errors when the measurement cannot be made at all (a node
/// that does not start, a take that is refused, a `send_chat` that fails); slowness is reported.
pub async fn run_chat_rtt(settings: ChatRttSettings) -> anyhow::Result<ChatRttReport> {
    anyhow::ensure!(
        settings.round_trips >= 1,
        "chat-rtt needs at least 1 round trip"
    );
    anyhow::ensure!(
        (1..=souk_core::trading::wire::MAX_CHAT_CHARS).contains(&settings.message_bytes),
        "a chat message holds 1..={} characters",
        souk_core::trading::wire::MAX_CHAT_CHARS
    );
    let started = Instant::now();
    let deadline = started + settings.deadline;
    let raw = raw_tcp::echo(
        settings.message_bytes,
        settings.round_trips,
        settings.warmup,
        deadline,
    )
    .await?;

    let dir = tempfile::tempdir().context("creating a temp dir")?;
    let maker = bench_node(&dir.path().join("maker"));
    let taker = bench_node(&dir.path().join("taker"));
    let measured = async {
        let setup_started = Instant::now();
        let trade_id = open_trade(&maker, &taker, &settings, deadline).await?;
        let setup = setup_started.elapsed();
        let rounds = round_trips(&maker, &taker, trade_id, &settings, deadline).await?;
        anyhow::Ok((setup, rounds))
    }
    .await;
    futures::join!(maker.shutdown(), taker.shutdown());
    let (setup, rounds) = measured?;

    let chat = LatencySummary::of(&rounds.latencies);
    let raw_tcp_echo = LatencySummary::of(&raw);
    let ratio =
        |a: f64, b: f64| (chat.samples > 0 && raw_tcp_echo.samples > 0 && b > 0.0).then(|| a / b);
    Ok(ChatRttReport {
        round_trips: settings.round_trips,
        warmup: settings.warmup,
        message_bytes: settings.message_bytes,
        setup_secs: setup.as_secs_f64(),
        p50_ratio_chat_to_raw_tcp: ratio(chat.p50_us, raw_tcp_echo.p50_us),
        p99_ratio_chat_to_raw_tcp: ratio(chat.p99_us, raw_tcp_echo.p99_us),
        chat,
        raw_tcp_echo,
        events_lagged: rounds.lagged,
        timed_out: rounds.timed_out || raw.len() < settings.round_trips,
        total_secs: started.elapsed().as_secs_f64(),
    })
}

/// A node as a user runs it, but with the cheap KDF (unlocking is not what is measured), no price
/// feed (nothing leaves loopback) and no chat rate limit (a person sends at most 30 messages a minute
/// in a trade; the round trips here follow each other at once, and the limit changes no latency).
pub(crate) fn bench_node(data_dir: &Path) -> Node {
    Node::new(data_dir, offline_config())
        .with_kdf_cost(CHEAP_KDF)
        .with_trade_config(souk_core::trading::TradeConfig {
            max_chat_per_minute: u32::MAX,
            ..Default::default()
        })
}

async fn start(
    node: &Node,
    bootstrap: Option<&str>,
    settings: &ChatRttSettings,
    deadline: Instant,
) -> anyhow::Result<NetInfo> {
    within(
        deadline,
        "creating an identity",
        node.create_identity(PASSPHRASE),
    )
    .await?;
    // No connection may close for idleness while the benchmark runs.
    let config = loopback(bootstrap, settings.deadline)?;
    within(
        deadline,
        "starting a network",
        node.start_network(config, &[(BASE, QUOTE)]),
    )
    .await
}

/// The maker posts, the taker bootstraps to it and finds the offer, takes it, and the maker
/// accepts. Returns once the taker has seen the accept.
async fn open_trade(
    maker: &Node,
    taker: &Node,
    settings: &ChatRttSettings,
    deadline: Instant,
) -> anyhow::Result<Uuid> {
    let maker_info = start(maker, None, settings, deadline).await?;
    let offer = within(
        deadline,
        "posting the offer",
        maker.post_offer(sell_offer(60_000)?),
    )
    .await?;
    start(taker, Some(&address(&maker_info)?), settings, deadline).await?;

    let market = taker.market_events();
    within(
        deadline,
        "refreshing the taker's market",
        taker.refresh_market(BASE, QUOTE),
    )
    .await?;
    tokio::time::timeout_at(deadline.into(), await_offer(taker, offer.id, market))
        .await
        .map_err(|_| anyhow::anyhow!("deadline while the taker waited for the offer"))??;

    take_and_accept(maker, taker, offer.id, deadline).await
}

/// The taker takes `offer` and the maker accepts; returns the trade once the taker has seen the accept.
pub(crate) async fn take_and_accept(
    maker: &Node,
    taker: &Node,
    offer: Uuid,
    deadline: Instant,
) -> anyhow::Result<Uuid> {
    let mut taker_events = taker.trade_events();
    let trade = within(
        deadline,
        "taking the offer",
        taker.take_offer(
            offer,
            TAKE_AMOUNT,
            PaymentMethod::new("SEPA")?,
            "IBAN DE00 0000 0000 0000 0000 00".into(),
        ),
    )
    .await?;
    within(
        deadline,
        "accepting the take",
        maker.answer_trade(trade.id, TradeAnswer::Accept),
    )
    .await?;
    let accepted = async {
        loop {
            if within(deadline, "reading the trade", taker.trade(trade.id))
                .await?
                .state
                == TradeState::Accepted
            {
                return anyhow::Ok(());
            }
            // Any event (or a lag) is a reason to look again.
            if let Err(broadcast::error::RecvError::Closed) = taker_events.recv().await {
                anyhow::bail!("the taker's trade desk stopped");
            }
        }
    };
    tokio::time::timeout_at(deadline.into(), accepted)
        .await
        .map_err(|_| anyhow::anyhow!("deadline while the taker waited for the accept"))??;
    Ok(trade.id)
}

/// Returns once `id` is in the taker's book, looking again on every market event.
async fn await_offer(
    taker: &Node,
    id: Uuid,
    mut events: broadcast::Receiver<MarketEvent>,
) -> anyhow::Result<()> {
    loop {
        if taker
            .offers(&market_query())
            .await?
            .iter()
            .any(|e| e.offer.id == id)
        {
            return Ok(());
        }
        if let Err(broadcast::error::RecvError::Closed) = events.recv().await {
            anyhow::bail!("the taker's market stopped");
        }
    }
}

/// What [`round_trips`] found.
struct Rounds {
    latencies: Vec<Duration>,
    lagged: u64,
    timed_out: bool,
}

/// The taker sends, the maker echoes; `warmup + round_trips` times, one at a time.
async fn round_trips(
    maker: &Node,
    taker: &Node,
    trade_id: Uuid,
    settings: &ChatRttSettings,
    deadline: Instant,
) -> anyhow::Result<Rounds> {
    let maker_events = maker.trade_events();
    let mut taker_events = taker.trade_events();
    let mut rounds = Rounds {
        latencies: Vec::with_capacity(settings.round_trips),
        lagged: 0,
        timed_out: false,
    };
    let measure = async {
        for i in 0..settings.warmup + settings.round_trips {
            let text = chat_text(i, settings.message_bytes);
            let sent = Instant::now();
            within(
                deadline,
                "sending a chat message",
                taker.send_chat(trade_id, text.clone()),
            )
            .await?;
            let until = deadline.min(Instant::now() + settings.round_trip_timeout);
            let echoed = tokio::time::timeout_at(
                until.into(),
                await_message(&mut taker_events, trade_id, &text, &mut rounds.lagged),
            )
            .await;
            match echoed {
                Ok(result) => {
                    let took = result?.saturating_duration_since(sent);
                    if i >= settings.warmup {
                        rounds.latencies.push(took);
                    }
                }
                Err(_) => {
                    rounds.timed_out = true;
                    break;
                }
            }
        }
        anyhow::Ok(())
    };
    let mut echo_lagged = 0;
    // The echo never ends on its own: the measurement ending ends it.
    tokio::select! {
        measured = measure => measured?,
        echoed = echo(maker, trade_id, maker_events, &mut echo_lagged) => {
            echoed?;
            anyhow::bail!("the maker's echo stopped");
        }
    }
    rounds.lagged += echo_lagged;
    Ok(rounds)
}

/// The maker's side: every incoming chat message of the trade is sent back as it is.
pub(crate) async fn echo(
    maker: &Node,
    trade_id: Uuid,
    mut events: broadcast::Receiver<TradeEvent>,
    lagged: &mut u64,
) -> anyhow::Result<()> {
    loop {
        match events.recv().await {
            Ok(TradeEvent::Message { message })
                if !message.outgoing && message.trade_id == trade_id =>
            {
                maker.send_chat(trade_id, message.body).await?;
            }
            Ok(_) => {}
            Err(broadcast::error::RecvError::Lagged(lost)) => *lagged += lost,
            Err(broadcast::error::RecvError::Closed) => return Ok(()),
        }
    }
}

/// Waits for the counterparty's message `text` on `trade_id`; returns when it was seen.
pub(crate) async fn await_message(
    events: &mut broadcast::Receiver<TradeEvent>,
    trade_id: Uuid,
    text: &str,
    lagged: &mut u64,
) -> anyhow::Result<Instant> {
    loop {
        match events.recv().await {
            Ok(TradeEvent::Message { message })
                if !message.outgoing && message.trade_id == trade_id && message.body == text =>
            {
                return Ok(Instant::now());
            }
            Ok(_) => {}
            Err(broadcast::error::RecvError::Lagged(lost)) => *lagged += lost,
            Err(broadcast::error::RecvError::Closed) => {
                anyhow::bail!("the taker's trade desk stopped")
            }
        }
    }
}

/// Message `i`, exactly `len` ASCII characters: its number first, so each echo is told apart.
fn chat_text(i: usize, len: usize) -> String {
    let mut text = format!("{i}:");
    text.extend((0..len).map(|k| char::from(b'a' + (k % 26) as u8)));
    text.truncate(len);
    text
}

impl fmt::Display for ChatRttReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = |us: f64| us / 1000.0;
        writeln!(
            f,
            "chat-rtt: 2 nodes on loopback, {} round trips of {}-byte messages ({} warm-up); setup {:.2} s",
            self.round_trips, self.message_bytes, self.warmup, self.setup_secs
        )?;
        writeln!(
            f,
            "{:<22} {:>10} {:>10} {:>10} {:>10} {:>8}",
            "round trip (ms)", "p50", "p90", "p99", "max", "samples"
        )?;
        for (name, s) in [
            ("chat (send → echo)", &self.chat),
            ("raw TCP echo", &self.raw_tcp_echo),
        ] {
            writeln!(
                f,
                "{name:<22} {:>10.3} {:>10.3} {:>10.3} {:>10.3} {:>8}",
                ms(s.p50_us),
                ms(s.p90_us),
                ms(s.p99_us),
                ms(s.max_us),
                s.samples
            )?;
        }
        let show = |r: Option<f64>| {
            r.map_or_else(|| "n/a (no samples)".to_owned(), |r| format!("{r:.1}x"))
        };
        writeln!(
            f,
            "ratio chat / raw TCP: p50 {}, p99 {}",
            show(self.p50_ratio_chat_to_raw_tcp),
            show(self.p99_ratio_chat_to_raw_tcp)
        )?;
        if self.events_lagged > 0 {
            writeln!(f, "anomalies: {} trade events lagged", self.events_lagged)?;
        }
        writeln!(
            f,
            "completed: {} / {} round trips{}; total {:.2} s",
            self.chat.samples,
            self.round_trips,
            if self.timed_out {
                " -- stopped by a timeout or the deadline"
            } else {
                ""
            },
            self.total_secs
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_texts_have_their_length_and_differ() {
        assert_eq!(chat_text(7, 64).len(), 64);
        assert_eq!(chat_text(12_345, 8), "12345:ab");
        assert_ne!(chat_text(1, 16), chat_text(2, 16));
        assert_eq!(chat_text(3, 1), "3");
    }
}
