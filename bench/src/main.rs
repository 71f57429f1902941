//! `souk-bench`: runs one benchmark, prints a small table, and writes the full results as JSON when
//! asked. Exits non-zero when a run did not deliver everything it sent (or a book never filled, or an
//! envelope or chat message did not come back), so a script can tell.

use std::{
    path::{Path, PathBuf},
    process::ExitCode,
    time::Duration,
};

use anyhow::Context;
use clap::{Parser, Subcommand};
use serde::Serialize;
use souk_bench::{
    BookPagesSettings, ChatRttSettings, ColdStartSettings, DesktopFootprintSettings, DhtSettings,
    EnvelopeSettings, FootprintSettings, PropagationSettings, RealNodesSettings, TorBenchSettings,
    Transport, WatcherSettings, run_book_pages, run_chat_rtt, run_cold_start,
    run_desktop_footprint, run_dht, run_envelope, run_footprint, run_propagation, run_real_nodes,
    run_tor, run_watcher,
};

#[derive(Parser)]
#[command(
    about = "Souk's benchmarks: latency and memory as ratios against a same-process baseline"
)]
struct Cli {
    #[command(subcommand)]
    bench: Bench,
}

#[derive(Subcommand)]
enum Bench {
    /// Gossip latency of signed offers across N in-process nodes, against raw loopback TCP.
    Propagation {
        #[arg(long, default_value_t = 100)]
        nodes: usize,
        #[arg(long, default_value_t = 50)]
        offers: usize,
        /// Each node dials this many random earlier nodes.
        #[arg(long, default_value_t = 4)]
        dials: usize,
        /// Overall deadline: the run reports what it has by then.
        #[arg(long, default_value_t = 120)]
        deadline_secs: u64,
        /// Seed of the graph and the makers (random when absent; the report shows it).
        #[arg(long)]
        seed: Option<u64>,
        /// Write the full results here as JSON.
        #[arg(long)]
        json: Option<PathBuf>,
    },
    /// One chain-watcher pass over N open escrow trades per chain backend (a regtest litecoind and
    /// ElectrumX), before and after thousands of unrelated outputs, against `scantxoutset`.
    Watcher {
        #[arg(long, default_value_t = 100)]
        trades: usize,
        #[arg(long, default_value_t = 3000)]
        unrelated_outputs: usize,
        /// Write the full results here as JSON.
        #[arg(long)]
        json: Option<PathBuf>,
    },
    /// Offers and withdrawals across N real `souk node` processes (production network settings),
    /// post / withdraw through one node's API → event on every other node's WebSocket.
    RealNodes {
        /// The `souk` binary to run (a release build).
        #[arg(long)]
        souk: PathBuf,
        #[arg(long, default_value_t = 20)]
        nodes: usize,
        #[arg(long, default_value_t = 10)]
        offers: usize,
        /// Seconds the network runs before the first offer.
        #[arg(long, default_value_t = 8)]
        settle_secs: u64,
        /// Seconds of quiet in which idle traffic is counted (0: not measured).
        #[arg(long, default_value_t = 60)]
        idle_secs: u64,
        /// Nodes listen on 127.0.0.1 only: all DHT servers dialling each other (a dense network).
        #[arg(long)]
        listen_loopback: bool,
        /// Listen and connect over this transport only (default: TCP and QUIC).
        #[arg(long, value_enum)]
        transport: Option<Transport>,
        /// One-way latency each node adds to what it receives over TCP, in milliseconds.
        #[arg(long, default_value_t = 0)]
        latency_ms: u64,
        /// Share of the nodes that take turns leaving (killed) and coming back, e.g. 0.1.
        #[arg(long, default_value_t = 0.0)]
        churn: f64,
        #[arg(long)]
        seed: Option<u64>,
        /// Write the full results here as JSON.
        #[arg(long)]
        json: Option<PathBuf>,
    },
    /// Opening the app: a cached book of N offers through `Node::unlock` (against sqlx reading the
    /// same file), and an empty node filling its book from M makers on loopback.
    ColdStart {
        /// N: offers in the cached book, and spread over the makers.
        #[arg(long, default_value_t = 500)]
        offers: usize,
        /// M: maker nodes holding the N offers between them (at most 256 each).
        #[arg(long, default_value_t = 5)]
        makers: usize,
        /// Cold opens of the cached book (cheap KDF); one more runs with the default KDF.
        #[arg(long, default_value_t = 10)]
        repetitions: usize,
        /// Fresh nodes joining the makers, one after another.
        #[arg(long, default_value_t = 3)]
        joins: usize,
        /// Overall deadline: a book not full by then fails the run.
        #[arg(long, default_value_t = 300)]
        deadline_secs: u64,
        /// Write the full results here as JSON.
        #[arg(long)]
        json: Option<PathBuf>,
    },
    /// Idle memory of a release `souk node` process with books of several sizes (0, 10k, 100k
    /// offers), split into its own memory and mapped files.
    Footprint {
        /// The `souk` binary to run (a release build).
        #[arg(long)]
        souk: PathBuf,
        /// Book sizes, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "0,10000,100000")]
        offers: Vec<usize>,
        /// Seconds each node is left idle before it is measured.
        #[arg(long, default_value_t = 20)]
        idle_secs: u64,
        /// Write the full results here as JSON.
        #[arg(long)]
        json: Option<PathBuf>,
    },
    /// Memory of the release desktop app (its own process and WebKit's) on the Market screen with a
    /// book of many offers, unlocked by typing the passphrase into its window (needs a display, e.g.
    /// `xvfb-run -a`, and xdotool).
    DesktopFootprint {
        /// The `souk-desktop` binary (a release build with the UI embedded).
        #[arg(long)]
        app: PathBuf,
        /// The `souk` binary that makes the data directory.
        #[arg(long)]
        souk: PathBuf,
        /// Offers in the book.
        #[arg(long, default_value_t = 10_000)]
        offers: usize,
        /// Seconds the app is left idle on the Market screen before it is measured.
        #[arg(long, default_value_t = 20)]
        idle_secs: u64,
        /// Save a screenshot of the screen as measured here (PNG; needs ImageMagick's `import`).
        #[arg(long)]
        screenshot: Option<PathBuf>,
        /// Measure the app with WebKit's accelerated compositing on (WebKit's default) first, as
        /// the baseline for the app's default (off).
        #[arg(long)]
        baseline: bool,
        /// Write the full results here as JSON.
        #[arg(long)]
        json: Option<PathBuf>,
    },
    /// The Market screen's queries on a book of many offers in one market: pages (first, middle,
    /// filtered, without a market price) against a bare sqlx page and the unpaged whole-market query.
    BookPages {
        /// Offers in the market.
        #[arg(long, default_value_t = 100_000)]
        offers: usize,
        /// Timed repetitions of each paged query.
        #[arg(long, default_value_t = 200)]
        repetitions: usize,
        /// Timed repetitions of the unpaged whole-market query.
        #[arg(long, default_value_t = 5)]
        unpaged_repetitions: usize,
        /// Timed first pages after the store closed its idle connections (each waits up to ~20 s;
        /// 0 skips them).
        #[arg(long, default_value_t = 3)]
        after_quiet_repetitions: usize,
        /// Write the full results here as JSON.
        #[arg(long)]
        json: Option<PathBuf>,
    },
    /// Sealed-envelope throughput (seal + to_bytes, then receive) against bare ChaCha20-Poly1305 on
    /// the same payloads.
    Envelope {
        /// Payload sizes in bytes, comma-separated (each at most 61440).
        #[arg(long, value_delimiter = ',', default_values_t = souk_bench::envelope::DEFAULT_SIZES)]
        sizes: Vec<usize>,
        /// Timed operations per size.
        #[arg(long, default_value_t = 2000)]
        iterations: usize,
        /// Untimed operations per size first (a tenth of --iterations when absent).
        #[arg(long)]
        warmup: Option<usize>,
        /// Write the full results here as JSON.
        #[arg(long)]
        json: Option<PathBuf>,
    },
    /// Tor mode against clearnet: a bootstrap node, a maker and a taker on loopback, then the same
    /// in Tor mode on a private Tor network (Debian's `tor`: 3 authorities, 2 relays, each node its
    /// own tor): start to first peer, offer propagation, chat round trips.
    Tor {
        /// Offers posted one after another, each timed to the taker's book.
        #[arg(long, default_value_t = 20)]
        offers: usize,
        /// Chat round trips measured per mode.
        #[arg(long, default_value_t = 50)]
        round_trips: usize,
        /// The longest one offer or round trip may take before the run stops.
        #[arg(long, default_value_t = 30)]
        step_timeout_secs: u64,
        /// Overall deadline.
        #[arg(long, default_value_t = 600)]
        deadline_secs: u64,
        /// Write the full results here as JSON.
        #[arg(long)]
        json: Option<PathBuf>,
    },
    /// Chat round trips between two loopback nodes (send_chat → echoed message seen), against a raw
    /// TCP echo of the same size.
    ChatRtt {
        /// K: measured round trips.
        #[arg(long, default_value_t = 200)]
        round_trips: usize,
        #[arg(long, default_value_t = 10)]
        warmup: usize,
        /// Characters (bytes) per message.
        #[arg(long, default_value_t = 64)]
        message_bytes: usize,
        /// The longest one round trip may take before the run stops.
        #[arg(long, default_value_t = 10)]
        round_trip_timeout_secs: u64,
        /// Overall deadline: the run reports what it has by then.
        #[arg(long, default_value_t = 120)]
        deadline_secs: u64,
        /// Write the full results here as JSON.
        #[arg(long)]
        json: Option<PathBuf>,
    },
    /// Kademlia at scale: N nodes (production DHT settings) joining through one random peer each;
    /// record and provider lookups: latency, requests, routing tables, memory, open files. A node's
    /// connections close once unused for `--idle-connection-secs` (these nodes are in no gossip
    /// mesh), but a joining network dials widely: over TCP each connection is an open file at each
    /// end, and one process holding both ends of every connection runs out of its 20,000 near 250
    /// nodes; over QUIC in one process ~29 MB per node at 250. `--processes P` spreads the nodes over
    /// P worker processes of this binary (node i in worker i mod P, each joining through a node of
    /// another worker): 1,000 nodes over TCP fit in 20 (at most 3,600 open files each, 8.7 GB in
    /// all); on two cores their routine Kademlia bootstraps keep both busy and lookups run into the
    /// 30 s query timeout, so there `--kad-bootstrap-secs 0` (measured: 1,000 nodes in 677 s).
    Dht {
        #[arg(long, default_value_t = 100)]
        nodes: usize,
        /// Processes holding the nodes: 1 runs them in this one; more start that many workers.
        #[arg(long, default_value_t = 1)]
        processes: usize,
        #[arg(long, default_value_t = 50)]
        records: usize,
        #[arg(long, default_value_t = 20)]
        provider_keys: usize,
        #[arg(long, default_value_t = 5)]
        providers_per_key: usize,
        /// Lookups of each kind.
        #[arg(long, default_value_t = 200)]
        lookups: usize,
        #[arg(long, value_enum, default_value_t = Transport::Tcp)]
        transport: Transport,
        /// Seconds an unused connection stays open (production: 60).
        #[arg(long, default_value_t = 60)]
        idle_connection_secs: u64,
        /// Seconds between a node's routine Kademlia bootstraps (default: production's); 0: none,
        /// only the one each node runs as it joins. The report says when this differs from production.
        #[arg(long, default_value_t = souk_core::net::NetConfig::default().kad_bootstrap_interval.map_or(0, |d| d.as_secs()))]
        kad_bootstrap_secs: u64,
        /// Seed of the joins and the lookups (random when absent; the report shows it).
        #[arg(long)]
        seed: Option<u64>,
        /// Write the full results here as JSON.
        #[arg(long)]
        json: Option<PathBuf>,
    },
    /// A worker of `dht --processes`: hosts nodes, driven by JSON lines on stdin and stdout.
    #[command(name = souk_bench::dht::worker::SUBCOMMAND, hide = true)]
    DhtWorker,
}

#[tokio::main]
async fn main() -> ExitCode {
    // Kademlia warns that DHT-client nodes with no server cannot bootstrap: expected here, not news.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "warn,libp2p_kad=error".into()),
        )
        .with_writer(std::io::stderr)
        .try_init();
    match run(Cli::parse()).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("souk-bench: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// `Ok(false)` when the run did not deliver every offer, or a book never filled.
async fn run(cli: Cli) -> anyhow::Result<bool> {
    match cli.bench {
        Bench::Propagation {
            nodes,
            offers,
            dials,
            deadline_secs,
            seed,
            json,
        } => {
            let mut settings = PropagationSettings::new(nodes, offers);
            settings.dials_per_node = dials;
            settings.deadline = Duration::from_secs(deadline_secs);
            if let Some(seed) = seed {
                settings.seed = seed;
            }
            let report = run_propagation(settings).await?;
            print!("{report}");
            if let Some(path) = json {
                write_json(&path, &report)?;
            }
            if !report.all_delivered() {
                eprintln!("souk-bench: not every offer reached every node");
            }
            Ok(report.all_delivered())
        }
        Bench::RealNodes {
            souk,
            nodes,
            offers,
            settle_secs,
            idle_secs,
            listen_loopback,
            transport,
            latency_ms,
            churn,
            seed,
            json,
        } => {
            let mut settings = RealNodesSettings::new(souk, nodes, offers);
            settings.listen_loopback = listen_loopback;
            settings.transport = transport;
            settings.latency = Duration::from_millis(latency_ms);
            settings.churn = churn;
            settings.settle = Duration::from_secs(settle_secs);
            settings.idle = Duration::from_secs(idle_secs);
            if let Some(seed) = seed {
                settings.seed = seed;
            }
            let report = run_real_nodes(settings).await?;
            print!("{report}");
            if let Some(path) = json {
                write_json(&path, &report)?;
            }
            if !report.all_delivered() {
                eprintln!("souk-bench: not every offer or withdrawal reached every node");
            }
            Ok(report.all_delivered())
        }
        Bench::Watcher {
            trades,
            unrelated_outputs,
            json,
        } => {
            let report = run_watcher(WatcherSettings {
                trades,
                unrelated_outputs,
            })
            .await?;
            print!("{report}");
            if let Some(path) = json {
                write_json(&path, &report)?;
            }
            Ok(true)
        }
        Bench::ColdStart {
            offers,
            makers,
            repetitions,
            joins,
            deadline_secs,
            json,
        } => {
            let settings = ColdStartSettings {
                repetitions,
                joins,
                deadline: Duration::from_secs(deadline_secs),
                ..ColdStartSettings::new(offers, makers)
            };
            let report = run_cold_start(settings).await?;
            print!("{report}");
            if let Some(path) = json {
                write_json(&path, &report)?;
            }
            if !report.all_filled() {
                eprintln!("souk-bench: a book did not hold every offer");
            }
            Ok(report.all_filled())
        }
        Bench::Dht {
            nodes,
            processes,
            records,
            provider_keys,
            providers_per_key,
            lookups,
            transport,
            idle_connection_secs,
            kad_bootstrap_secs,
            seed,
            json,
        } => {
            let mut settings = DhtSettings {
                processes,
                records,
                provider_keys,
                providers_per_key,
                lookups,
                transport,
                idle_connection: Duration::from_secs(idle_connection_secs),
                kad_bootstrap: (kad_bootstrap_secs > 0)
                    .then(|| Duration::from_secs(kad_bootstrap_secs)),
                ..DhtSettings::new(nodes)
            };
            if let Some(seed) = seed {
                settings.seed = seed;
            }
            let report = run_dht(settings).await?;
            print!("{report}");
            if let Some(path) = json {
                write_json(&path, &report)?;
            }
            if !report.all_found() {
                eprintln!("souk-bench: not every lookup found what it looked for");
            }
            Ok(report.all_found())
        }
        Bench::DhtWorker => {
            souk_bench::dht::worker::serve().await?;
            Ok(true)
        }
        Bench::BookPages {
            offers,
            repetitions,
            unpaged_repetitions,
            after_quiet_repetitions,
            json,
        } => {
            let settings = BookPagesSettings {
                repetitions,
                unpaged_repetitions,
                after_quiet_repetitions,
                ..BookPagesSettings::new(offers)
            };
            let report = run_book_pages(&settings).await?;
            print!("{report}");
            if let Some(path) = json {
                write_json(&path, &report)?;
            }
            if !report.complete {
                eprintln!("souk-bench: walking the book did not read every offer exactly once");
            }
            Ok(report.complete)
        }
        Bench::Footprint {
            souk,
            offers,
            idle_secs,
            json,
        } => {
            let settings = FootprintSettings {
                offers,
                idle: Duration::from_secs(idle_secs),
                ..FootprintSettings::new(souk)
            };
            let report = run_footprint(&settings).await?;
            print!("{report}");
            if let Some(path) = json {
                write_json(&path, &report)?;
            }
            Ok(report.nodes.len() == settings.offers.len())
        }
        Bench::DesktopFootprint {
            app,
            souk,
            offers,
            idle_secs,
            screenshot,
            baseline,
            json,
        } => {
            let settings = DesktopFootprintSettings {
                offers,
                idle: Duration::from_secs(idle_secs),
                screenshot,
                ..DesktopFootprintSettings::new(app, souk)
            };
            let webkit_default = if baseline {
                let report = run_desktop_footprint(&DesktopFootprintSettings {
                    webkit_compositing: true,
                    screenshot: None,
                    ..settings.clone()
                })
                .await?;
                print!("{report}");
                Some(report)
            } else {
                None
            };
            let app = run_desktop_footprint(&settings).await?;
            print!("{app}");
            if let Some(base) = &webkit_default {
                println!(
                    "  against WebKit's default: PSS {:.1} -> {:.1} MiB ({:+.1})",
                    base.total_pss_kib as f64 / 1024.0,
                    app.total_pss_kib as f64 / 1024.0,
                    (app.total_pss_kib as f64 - base.total_pss_kib as f64) / 1024.0
                );
            }
            let ok = !app.processes.is_empty();
            if let Some(path) = json {
                write_json(
                    &path,
                    &serde_json::json!({ "app": app, "webkit_default": webkit_default }),
                )?;
            }
            Ok(ok)
        }
        Bench::Envelope {
            sizes,
            iterations,
            warmup,
            json,
        } => {
            let settings = EnvelopeSettings {
                sizes,
                warmup: warmup.unwrap_or(iterations.div_ceil(10)),
                ..EnvelopeSettings::new(iterations)
            };
            // CPU-bound and synchronous: off the async workers.
            let report = tokio::task::spawn_blocking(move || run_envelope(&settings)).await??;
            print!("{report}");
            if let Some(path) = json {
                write_json(&path, &report)?;
            }
            if !report.all_delivered() {
                eprintln!("souk-bench: an envelope or ciphertext did not come back intact");
            }
            Ok(report.all_delivered())
        }
        Bench::Tor {
            offers,
            round_trips,
            step_timeout_secs,
            deadline_secs,
            json,
        } => {
            let report = run_tor(TorBenchSettings {
                offers,
                round_trips,
                step_timeout: Duration::from_secs(step_timeout_secs),
                deadline: Duration::from_secs(deadline_secs),
            })
            .await?;
            println!("{report}");
            if let Some(path) = json {
                write_json(&path, &report)?;
            }
            if !report.all_delivered() {
                eprintln!("souk-bench: not every offer or message arrived in time");
            }
            Ok(report.all_delivered())
        }
        Bench::ChatRtt {
            round_trips,
            warmup,
            message_bytes,
            round_trip_timeout_secs,
            deadline_secs,
            json,
        } => {
            let settings = ChatRttSettings {
                warmup,
                message_bytes,
                round_trip_timeout: Duration::from_secs(round_trip_timeout_secs),
                deadline: Duration::from_secs(deadline_secs),
                ..ChatRttSettings::new(round_trips)
            };
            let report = run_chat_rtt(settings).await?;
            print!("{report}");
            if let Some(path) = json {
                write_json(&path, &report)?;
            }
            if !report.all_delivered() {
                eprintln!("souk-bench: not every round trip completed");
            }
            Ok(report.all_delivered())
        }
    }
}

fn write_json(path: &Path, report: &impl Serialize) -> anyhow::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let text = serde_json::to_string_pretty(report)?;
    std::fs::write(path, text + "\n").with_context(|| format!("writing {}", path.display()))?;
    println!("results: {}", path.display());
    Ok(())
}
