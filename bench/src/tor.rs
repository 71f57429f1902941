//! Tor mode against clearnet, in one run: three real [`Node`]s (a bootstrap node, a maker, a taker)
//! on loopback, then three more in Tor mode on a private Tor network (the scenarios' harness: three
//! authorities and two relays of Debian's `tor`, [`TorNet`]), each with its own `tor`. Per mode:
//! - **start to first peer**: from `start_network` (for Tor mode: launching tor, its bootstrap, the
//!   onion service's publication) until the node is connected to a peer, for the maker and the taker;
//! - **offer propagation**: the maker posts N offers one after another; each one's time from the post
//!   until it is in the taker's book;
//! - **chat round trip**: the taker takes an offer, the maker accepts, then K messages go there and
//!   back one at a time (the maker echoes each).
//!
//! The clearnet run is the baseline (the same nodes, settings and code, direct TCP on loopback). The
//! private Tor network's relays are all on this machine, so Tor's figures here are its own cost
//! (circuits of 3 + 3 hops, onion-service rendezvous, tor's cells and crypto) without the internet's
//! latency: on the real Tor network each hop adds its link's round trip (tens to hundreds of ms).

use std::{
    fmt,
    path::Path,
    time::{Duration, Instant},
};

use anyhow::Context;
use serde::Serialize;
use souk_core::{
    net::{NetConfig, tor::TorSettings},
    node::{NetInfo, Node},
};
use souk_tests::tor::TorNet;
use tokio::sync::broadcast;
use uuid::Uuid;

use crate::{
    chat_rtt::{await_message, bench_node, echo, take_and_accept},
    cold_start::{PASSPHRASE, market_query, sell_offer, within},
    market::{BASE, QUOTE},
    summary::LatencySummary,
};

#[derive(Debug, Clone)]
pub struct TorBenchSettings {
    /// Offers posted one after another, each timed to the taker's book.
    pub offers: usize,
    /// Chat round trips measured (after 3 warm-up ones).
    pub round_trips: usize,
    /// The longest one offer or round trip may take before the run stops.
    pub step_timeout: Duration,
    /// Everything ends by then.
    pub deadline: Duration,
}

impl TorBenchSettings {
    pub fn new() -> Self {
        Self {
            offers: 20,
            round_trips: 50,
            step_timeout: Duration::from_secs(30),
            deadline: Duration::from_secs(600),
        }
    }
}

impl Default for TorBenchSettings {
    fn default() -> Self {
        Self::new()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Clearnet,
    Tor,
}

/// One mode's figures.
#[derive(Debug, Serialize)]
pub struct ModeReport {
    pub mode: Mode,
    /// The bootstrap node's start (for Tor mode: tor's launch and bootstrap and the onion service's
    /// publication included), in seconds.
    pub bootstrap_node_start_secs: f64,
    /// Maker and taker: start to the first connected peer.
    pub start_to_first_peer: LatencySummary,
    pub offer: LatencySummary,
    pub offers_delivered: usize,
    pub chat_round_trip: LatencySummary,
    pub timed_out: bool,
}

#[derive(Debug, Serialize)]
pub struct TorBenchReport {
    pub offers: usize,
    pub round_trips: usize,
    /// Launch of the private Tor network until every directory serves a complete consensus.
    pub tor_network_start_secs: f64,
    pub clearnet: ModeReport,
    pub tor: ModeReport,
    pub total_secs: f64,
}

impl TorBenchReport {
    pub fn all_delivered(&self) -> bool {
        [&self.clearnet, &self.tor].iter().all(|m| {
            !m.timed_out
                && m.offers_delivered == self.offers
                && m.chat_round_trip.samples == self.round_trips
        })
    }
}

pub async fn run_tor(settings: TorBenchSettings) -> anyhow::Result<TorBenchReport> {
    anyhow::ensure!(settings.offers >= 1, "tor needs at least 1 offer");
    anyhow::ensure!(settings.round_trips >= 1, "tor needs at least 1 round trip");
    let started = Instant::now();
    let deadline = started + settings.deadline;
    let dir = tempfile::tempdir().context("creating a temp dir")?;
    let clearnet = run_mode(
        Mode::Clearnet,
        None,
        &dir.path().join("clear"),
        &settings,
        deadline,
    )
    .await?;
    let net_started = Instant::now();
    let net = TorNet::start().await;
    let tor_network_start_secs = net_started.elapsed().as_secs_f64();
    let tor = run_mode(
        Mode::Tor,
        Some(&net),
        &dir.path().join("tor"),
        &settings,
        deadline,
    )
    .await?;
    Ok(TorBenchReport {
        offers: settings.offers,
        round_trips: settings.round_trips,
        tor_network_start_secs,
        clearnet,
        tor,
        total_secs: started.elapsed().as_secs_f64(),
    })
}

/// The same network settings in both modes (production gossip and timeouts); loopback and no mDNS
/// for clearnet, the private network's `tor` lines for Tor mode.
fn net_config(
    net: Option<&TorNet>,
    bootstrap: Option<&str>,
    deadline: Duration,
) -> anyhow::Result<NetConfig> {
    let mut config = NetConfig {
        bootstrap: bootstrap
            .map(|a| a.parse().context("the bootstrap node's address"))
            .transpose()?
            .into_iter()
            .collect(),
        // No connection may close for idleness while the benchmark runs.
        idle_connection_timeout: deadline,
        ..NetConfig::default()
    };
    match net {
        Some(net) => {
            config.tor = Some(TorSettings {
                extra_config: net.client_config(),
                ..TorSettings::new()
            });
        }
        None => {
            let loopback = NetConfig::loopback_for_tests();
            config.listen = loopback.listen;
            config.mdns = false;
            config.allow_loopback_peers = true;
            config.dht_mode = loopback.dht_mode;
        }
    }
    Ok(config)
}

/// Starts `node`'s network; the time from the call until it has a connected peer (when `await_peer`).
async fn start(
    node: &Node,
    config: NetConfig,
    await_peer: bool,
    deadline: Instant,
) -> anyhow::Result<(NetInfo, Duration)> {
    within(
        deadline,
        "creating an identity",
        node.create_identity(PASSPHRASE),
    )
    .await?;
    let started = Instant::now();
    let info = within(
        deadline,
        "starting a network",
        Box::pin(node.start_network(config, &[(BASE, QUOTE)])),
    )
    .await?;
    if await_peer {
        while node.net_stats().await?.connected_peers == 0 {
            anyhow::ensure!(
                Instant::now() < deadline,
                "deadline while awaiting a first peer"
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
    Ok((info, started.elapsed()))
}

async fn run_mode(
    mode: Mode,
    net: Option<&TorNet>,
    dir: &Path,
    settings: &TorBenchSettings,
    deadline: Instant,
) -> anyhow::Result<ModeReport> {
    let (hub, maker, taker) = (
        bench_node(&dir.join("bootstrap")),
        bench_node(&dir.join("maker")),
        bench_node(&dir.join("taker")),
    );
    let measured = async {
        let (hub_info, hub_start) = start(
            &hub,
            net_config(net, None, settings.deadline)?,
            false,
            deadline,
        )
        .await?;
        let hub_addr = format!(
            "{}/p2p/{}",
            hub_info
                .listen_addrs
                .iter()
                .find(|a| net.is_some() || a.contains("127.0.0.1"))
                .context("the bootstrap node has no address")?,
            hub_info.peer_id
        );
        let config = || net_config(net, Some(&hub_addr), settings.deadline);
        let (made, took) = futures::join!(
            Box::pin(start(&maker, config()?, true, deadline)),
            Box::pin(start(&taker, config()?, true, deadline))
        );
        let first_peer = vec![made?.1, took?.1];
        let (offers, offer_timed_out, first_offer) =
            propagate(&maker, &taker, settings, deadline).await?;
        let (chat, chat_timed_out) = chat(&maker, &taker, first_offer, settings, deadline).await?;
        anyhow::Ok(ModeReport {
            mode,
            bootstrap_node_start_secs: hub_start.as_secs_f64(),
            start_to_first_peer: LatencySummary::of(&first_peer),
            offers_delivered: offers.len(),
            offer: LatencySummary::of(&offers),
            chat_round_trip: LatencySummary::of(&chat),
            timed_out: offer_timed_out || chat_timed_out,
        })
    }
    .await;
    futures::join!(hub.shutdown(), maker.shutdown(), taker.shutdown());
    measured
}

/// The maker posts offers one after another; each one's time until it is in the taker's book.
async fn propagate(
    maker: &Node,
    taker: &Node,
    settings: &TorBenchSettings,
    deadline: Instant,
) -> anyhow::Result<(Vec<Duration>, bool, Uuid)> {
    let mut latencies = Vec::with_capacity(settings.offers);
    let mut first = None;
    for i in 0..settings.offers {
        let mut events = taker.market_events();
        let posted = Instant::now();
        let offer = within(
            deadline,
            "posting an offer",
            maker.post_offer(sell_offer(60_000 + i as u32)?),
        )
        .await?;
        first.get_or_insert(offer.id);
        let until = deadline.min(Instant::now() + settings.step_timeout);
        let arrived = tokio::time::timeout_at(until.into(), async {
            loop {
                if taker
                    .offers(&market_query())
                    .await?
                    .iter()
                    .any(|e| e.offer.id == offer.id)
                {
                    return anyhow::Ok(Instant::now());
                }
                if let Err(broadcast::error::RecvError::Closed) = events.recv().await {
                    anyhow::bail!("the taker's market stopped");
                }
            }
        })
        .await;
        match arrived {
            Ok(at) => latencies.push(at?.saturating_duration_since(posted)),
            Err(_) => return Ok((latencies, true, first.unwrap_or(offer.id))),
        }
    }
    let first = first.context("no offer posted")?;
    Ok((latencies, false, first))
}

/// Take, accept, then the round trips (3 warm-up ones first).
async fn chat(
    maker: &Node,
    taker: &Node,
    offer: Uuid,
    settings: &TorBenchSettings,
    deadline: Instant,
) -> anyhow::Result<(Vec<Duration>, bool)> {
    let trade = take_and_accept(maker, taker, offer, deadline).await?;
    let mut taker_events = taker.trade_events();
    let maker_events = maker.trade_events();
    let mut lagged = 0;
    let mut latencies = Vec::with_capacity(settings.round_trips);
    let mut timed_out = false;
    let measure = async {
        for i in 0..3 + settings.round_trips {
            let text = format!("{i}: how is the transfer going?");
            let sent = Instant::now();
            within(
                deadline,
                "sending a chat message",
                taker.send_chat(trade, text.clone()),
            )
            .await?;
            let until = deadline.min(Instant::now() + settings.step_timeout);
            match tokio::time::timeout_at(
                until.into(),
                await_message(&mut taker_events, trade, &text, &mut lagged),
            )
            .await
            {
                Ok(at) => {
                    if i >= 3 {
                        latencies.push(at?.saturating_duration_since(sent));
                    }
                }
                Err(_) => {
                    timed_out = true;
                    break;
                }
            }
        }
        anyhow::Ok(())
    };
    let mut echo_lagged = 0;
    tokio::select! {
        measured = measure => measured?,
        echoed = echo(maker, trade, maker_events, &mut echo_lagged) => {
            echoed?;
            anyhow::bail!("the maker's echo stopped");
        }
    }
    Ok((latencies, timed_out))
}

impl fmt::Display for TorBenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = |us: f64| us / 1000.0;
        writeln!(
            f,
            "tor: 3 nodes per mode (bootstrap, maker, taker); {} offers, {} chat round trips; private Tor \
             network (3 authorities, 2 relays) up in {:.1} s; total {:.1} s",
            self.offers, self.round_trips, self.tor_network_start_secs, self.total_secs
        )?;
        writeln!(
            f,
            "  {:<9} {:>12} {:>22} {:>26} {:>24}",
            "mode",
            "hub start s",
            "first peer p50/max ms",
            "offer p50/p95/p99 ms",
            "chat rtt p50/p95/p99 ms"
        )?;
        for m in [&self.clearnet, &self.tor] {
            writeln!(
                f,
                "  {:<9} {:>12.2} {:>10.1} / {:>9.1} {:>8.1} / {:>6.1} / {:>6.1} {:>8.1} / {:>6.1} / {:>6.1}{}",
                format!("{:?}", m.mode).to_lowercase(),
                m.bootstrap_node_start_secs,
                ms(m.start_to_first_peer.p50_us),
                ms(m.start_to_first_peer.max_us),
                ms(m.offer.p50_us),
                ms(m.offer.p95_us),
                ms(m.offer.p99_us),
                ms(m.chat_round_trip.p50_us),
                ms(m.chat_round_trip.p95_us),
                ms(m.chat_round_trip.p99_us),
                if m.timed_out { "  (timed out)" } else { "" }
            )?;
        }
        let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { f64::NAN };
        write!(
            f,
            "  tor / clearnet p50: offer {:.1}x, chat {:.1}x",
            ratio(self.tor.offer.p50_us, self.clearnet.offer.p50_us),
            ratio(
                self.tor.chat_round_trip.p50_us,
                self.clearnet.chat_round_trip.p50_us
            )
        )
    }
}
