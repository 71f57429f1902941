//! `souk`: the headless shell over souk-core. It parses flags, gathers secrets from the environment, a
//! file or a prompt, calls the core's `Node`, and prints for people or, with `--json`, for scripts.
//!
//! Exit codes: 0 ok, 1 the user can fix it (bad input, wrong passphrase, no running node, an API answer
//! 4xx, …), 2 anything else.
#![recursion_limit = "256"]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod api;
mod client;
mod headless;
mod serve;
mod settings_api;
mod trades_api;

use std::{
    io::{IsTerminal, Read},
    net::SocketAddr,
    path::PathBuf,
    process::ExitCode,
    sync::Arc,
};

use clap::{Args, Parser, Subcommand};
use libp2p::Multiaddr;
use serde::Serialize;
use souk_core::{
    Error, ErrorKind, ErrorPayload,
    config::{self, Config, Override},
    logging,
    node::{CreatedIdentity, IdentityInfo, Node},
    trading::Winner,
};

#[derive(Debug, Parser)]
#[command(
    name = "souk",
    version,
    about = "Souk: trade crypto directly, peer to peer"
)]
struct Cli {
    /// Where the identity, database, config and logs live [default: the platform data directory]
    #[arg(long, global = true, env = "SOUK_DATA_DIR", value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Print machine-readable JSON instead of text
    #[arg(long, global = true)]
    json: bool,
    /// Read the keystore passphrase from the first line of this file (else SOUK_PASSPHRASE, else a prompt)
    #[arg(long, global = true, value_name = "FILE")]
    passphrase_file: Option<PathBuf>,
    /// Log filter for stderr, e.g. `debug` or `souk_core=trace` [default: warn for one-shot commands]
    #[arg(long, global = true, value_name = "FILTER")]
    log_level: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create a new identity and database; prints the PeerId and, once, the seed words
    Init,
    /// Show this node's PeerId, data directory and schema version
    Id,
    /// Re-create an identity from its seed words (from --words-file, standard input, or a prompt)
    Restore {
        /// File holding the seed words (whitespace-separated)
        #[arg(long, value_name = "FILE")]
        words_file: Option<PathBuf>,
    },
    /// Run a headless node in the foreground: the network, watched markets and a local API
    /// (announced in api.json in the data directory) until SIGINT/SIGTERM
    Node(NodeArgs),
    /// Run a node like `souk node` and serve the web UI from its API address; prints the URL to open
    Serve(ServeArgs),
    /// Show the running node's PeerId, addresses, peers and DHT state
    Status,
    /// List the peers the running node is connected to
    Peers,
    /// Post, list, withdraw and refresh offers through the running node
    #[command(subcommand)]
    Offer(OfferCommand),
    /// Take offers and negotiate trades through the running node
    #[command(subcommand)]
    Trade(TradeCommand),
    /// Chat with the counterparty of a trade (end-to-end encrypted)
    #[command(subcommand)]
    Chat(ChatCommand),
    /// As an arbitrator (`souk node --arbitrator`): the disputes sent to you, and your decisions
    #[command(subcommand)]
    Dispute(DisputeCommand),
}

#[derive(Debug, Subcommand)]
enum DisputeCommand {
    /// The disputes you arbitrate, newest first
    List,
    /// One dispute: parties, addresses, escrow, both reasons and transcripts
    Show { trade_id: String },
    /// Decide: the escrow goes to the buyer, the seller, or is split (signed by you, sent to both);
    /// decide again after a party refused your decision and none took it
    Resolve {
        trade_id: String,
        #[arg(long, value_parser = Winner::ALL.map(Winner::as_str))]
        to: String,
        /// With --to split: what the buyer gets, e.g. 0.6; the seller gets the rest (the fee comes out
        /// of the larger share)
        #[arg(long)]
        buyer_gets: Option<String>,
        /// Why, shown to both parties
        #[arg(long, default_value = "")]
        reason: String,
    },
}

#[derive(Debug, Subcommand)]
enum TradeCommand {
    /// Take an offer: asks its maker (who must be online) and opens the trade
    Take {
        /// The offer id (from `souk offer list`)
        offer_id: String,
        /// How much of the base asset, e.g. 0.05 (within the offer's range)
        #[arg(long)]
        amount: String,
        /// The payment method, one of the offer's, e.g. SEPA
        #[arg(long)]
        method: String,
        /// Where you want to be paid (shared with the maker only), e.g. an IBAN or an address
        #[arg(long, default_value = "")]
        payout: String,
    },
    /// Accept the take request (maker) or the counter (taker)
    Accept { trade_id: String },
    /// Reject the take request (maker) or the counter (taker)
    Reject {
        trade_id: String,
        /// Why, shown to the counterparty
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Maker: answer a take request with another amount and/or price
    Counter {
        trade_id: String,
        /// A new amount of the base asset, e.g. 0.02
        #[arg(long, required_unless_present = "price")]
        amount: Option<String>,
        /// A new fixed price per whole coin
        #[arg(long)]
        price: Option<String>,
    },
    /// Escrow trades: the address your coins go to (buyer: payout; seller: refund of your deposit)
    Address { trade_id: String, address: String },
    /// Escrow trades: pay your escrow output from a wallet of your chain node (Core backend). Shows the
    /// amount and fee; --yes signs with that wallet and broadcasts; --psbt writes the unsigned PSBT
    /// (base64) for Sparrow, Electrum or a hardware wallet
    Fund {
        trade_id: String,
        /// The chain node's wallet to pay from
        #[arg(long, value_name = "NAME")]
        wallet: String,
        /// Sign and broadcast (after you checked amount and fee)
        #[arg(long)]
        yes: bool,
        /// Write the unsigned PSBT (base64) to this file
        #[arg(long, value_name = "FILE")]
        psbt: Option<PathBuf>,
    },
    /// Buyer: you sent the payment
    Paid { trade_id: String },
    /// Seller: the payment arrived; signs the escrow's release to the buyer
    Received { trade_id: String },
    /// Walk away before any coins are locked
    Cancel {
        trade_id: String,
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Ask the arbitrator to decide (once coins are locked)
    Dispute {
        trade_id: String,
        #[arg(long)]
        reason: String,
    },
    /// List your trades, newest activity first
    List,
    /// Show one trade: offer, terms, state and whose turn it is
    Show { trade_id: String },
}

#[derive(Debug, Subcommand)]
enum ChatCommand {
    /// Send a message (delivered when the counterparty is reachable, even after restarts)
    Send {
        trade_id: String,
        /// The message, plain text
        text: String,
    },
    /// Show a trade's chat in order, and mark the counterparty's messages read
    Log { trade_id: String },
}

#[derive(Debug, Clone, Args)]
struct NodeArgs {
    /// A multiaddr to listen on, e.g. /ip4/0.0.0.0/tcp/4001 (repeatable) [default: all interfaces, TCP and QUIC, ports chosen by the OS]
    #[arg(long, value_name = "MULTIADDR")]
    listen: Vec<Multiaddr>,
    /// A bootstrap peer, ending in /p2p/PEERID (repeatable)
    #[arg(long, value_name = "MULTIADDR")]
    bootstrap: Vec<Multiaddr>,
    /// Serve as a circuit relay for peers behind NAT
    #[arg(long)]
    relay_server: bool,
    /// An address other nodes can reach this one at, e.g. /ip4/203.0.113.7/tcp/4001 (repeatable); a
    /// relay needs one so its clients can announce their relayed addresses
    #[arg(long, value_name = "MULTIADDR")]
    external_address: Vec<Multiaddr>,
    /// Do not discover peers on the local network with mDNS
    #[arg(long)]
    no_mdns: bool,
    /// Where the local API listens; loopback only [default: 127.0.0.1:0, a free port]
    #[arg(long, value_name = "ADDR:PORT")]
    api: Option<SocketAddr>,
    /// A market to watch, e.g. BTC/EUR (repeatable) [default: BTC/EUR, BTC/USD, LTC/EUR, LTC/USD]
    #[arg(long, value_name = "BASE/QUOTE")]
    market: Vec<String>,
    /// Announce this node as an arbitrator for escrow trades (needs a chain backend) [default: `[trade]
    /// arbitrator` in souk.toml, else off]
    #[arg(long)]
    arbitrator: bool,
    /// The chain escrows settle on: btc or ltc [default: from souk.toml, else btc]
    #[arg(long, value_name = "CHAIN")]
    chain: Option<String>,
    /// main, test, signet or regtest [default: from souk.toml, else main]
    #[arg(long, value_name = "NETWORK")]
    network: Option<String>,
    /// The chain node's JSON-RPC URL (Bitcoin Core or Litecoin Core; pruned is fine, no -txindex needed); enables escrows
    #[arg(long, value_name = "URL")]
    rpc_url: Option<String>,
    #[arg(long, value_name = "USER")]
    rpc_user: Option<String>,
    /// Prefer SOUK_RPC_PASSWORD or souk.toml: a flag shows in the process list
    #[arg(long, value_name = "PASSWORD")]
    rpc_password: Option<String>,
    /// The chain node's .cookie file, instead of user and password
    #[arg(long, value_name = "FILE")]
    rpc_cookie_file: Option<PathBuf>,
    /// An Electrum server instead of a chain node of your own: tcp://HOST:PORT or ssl://HOST:PORT (TLS)
    #[arg(long, value_name = "URL")]
    electrum_url: Option<String>,
    /// Trust the Electrum server's TLS certificate with this SHA-256 fingerprint (hex, colons allowed),
    /// for a server with a self-signed certificate; the error of an untrusted one names its fingerprint
    #[arg(long, value_name = "FINGERPRINT")]
    electrum_cert_sha256: Option<String>,
    /// How many takes of one of your offers may be open at once [default: from souk.toml, else 1]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    max_takes_per_offer: Option<u32>,
    /// How long the parties have to fund an escrow, in seconds (1 to 2592000, 30 days) [default: from
    /// souk.toml, else 86400]
    #[arg(long, value_name = "SECS", value_parser = window_secs())]
    funding_window_secs: Option<u64>,
    /// How long the buyer has to pay once the escrow is funded, in seconds (1 to 2592000) [default: from
    /// souk.toml, else by payment method: 1 to 6 days]
    #[arg(long, value_name = "SECS", value_parser = window_secs())]
    payment_window_secs: Option<u64>,
    /// How long the release may take to reach the chain once the payment is confirmed, in seconds (1 to
    /// 2592000) [default: from souk.toml, else 86400]
    #[arg(long, value_name = "SECS", value_parser = window_secs())]
    release_window_secs: Option<u64>,
    /// How long a take of one of your offers waits for your answer before your node rejects it, in
    /// seconds (1 to 2592000) [default: from souk.toml, else 1800]
    #[arg(long, value_name = "SECS", value_parser = window_secs())]
    answer_window_secs: Option<u64>,
    /// Takes one peer may make of your offers in an hour [default: from souk.toml, else 10]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    max_takes_per_peer_per_hour: Option<u32>,
}

/// The bounds `[trade] *_window_secs` has in souk.toml, checked as the flags are parsed.
fn window_secs() -> clap::builder::RangedU64ValueParser<u64> {
    clap::value_parser!(u64).range(config::MIN_WINDOW_SECS..=config::MAX_WINDOW_SECS)
}

#[derive(Debug, Clone, Args)]
struct ServeArgs {
    #[command(flatten)]
    node: NodeArgs,
    /// The built UI (a directory holding index.html)
    #[arg(long, env = "SOUK_UI_DIR", value_name = "DIR", default_value = serve::DEFAULT_UI_DIR)]
    ui: PathBuf,
}

#[derive(Debug, Subcommand)]
enum OfferCommand {
    /// Sign and publish a new offer
    Post(Box<PostArgs>),
    /// Show the order book (this node's view of it)
    List {
        /// Only this market, e.g. BTC/EUR
        #[arg(long, value_name = "BASE/QUOTE")]
        market: Option<String>,
        /// Only offers whose maker buys or sells
        #[arg(long, value_parser = ["buy", "sell"])]
        side: Option<String>,
        /// Only offers paid by this method, e.g. SEPA
        #[arg(long, value_name = "METHOD")]
        method: Option<String>,
        /// Only offers whose range contains this amount of the base asset, e.g. 0.05 (needs --market)
        #[arg(long, value_name = "AMOUNT")]
        amount: Option<String>,
        /// Only this node's own offers
        #[arg(long)]
        mine: bool,
    },
    /// Withdraw one of your offers everywhere
    Withdraw {
        /// The offer id (from `souk offer list`)
        id: String,
    },
    /// Ask the makers of a market for their offers now
    Refresh {
        #[arg(long, value_name = "BASE/QUOTE")]
        market: String,
    },
}

#[derive(Debug, Clone, Args)]
struct PostArgs {
    /// The maker's side: sell the base asset, or buy it
    #[arg(long, value_parser = ["buy", "sell"])]
    side: String,
    /// The asset traded, e.g. BTC
    #[arg(long)]
    base: String,
    /// What it is priced in and paid with, e.g. EUR
    #[arg(long)]
    quote: String,
    /// A fixed price per whole coin, e.g. 60000
    #[arg(long, required_unless_present = "premium", conflicts_with = "premium")]
    price: Option<String>,
    /// Or a premium over the market price in percent, e.g. 1.5 or -2
    #[arg(long, allow_hyphen_values = true)]
    premium: Option<String>,
    /// Smallest amount of the base asset per trade, e.g. 0.01
    #[arg(long)]
    min: String,
    /// Largest amount of the base asset per trade, e.g. 0.1
    #[arg(long)]
    max: String,
    /// A payment method, e.g. SEPA (repeatable)
    #[arg(long = "method", required = true, value_name = "METHOD")]
    methods: Vec<String>,
    /// How the coins are secured
    #[arg(long, value_parser = ["none", "multisig"])]
    escrow: Option<String>,
    /// An arbitrator you accept for a multisig escrow (repeatable)
    #[arg(long = "arbitrator", value_name = "PEERID")]
    arbitrators: Vec<String>,
    /// Security deposit in percent of the trade amount [default: 15]
    #[arg(long)]
    deposit: Option<String>,
    /// How long the offer stays up: 30m, 24h, 7d [default: 24h]
    #[arg(long)]
    ttl: Option<String>,
    /// Free-text terms shown to takers
    #[arg(long)]
    terms: Option<String>,
}

impl From<PostArgs> for api::OfferRequest {
    fn from(a: PostArgs) -> Self {
        Self {
            side: a.side,
            base: a.base,
            quote: a.quote,
            price: a.price,
            premium: a.premium,
            min: a.min,
            max: a.max,
            methods: a.methods,
            escrow: a.escrow,
            arbitrators: a.arbitrators,
            deposit: a.deposit,
            ttl: a.ttl,
            terms: a.terms,
        }
    }
}

/// A failure: its kind (as the JSON output names it), a message, and the exit code it maps to.
pub struct Failure {
    kind: String,
    message: String,
    code: u8,
}

impl Failure {
    fn internal(message: impl Into<String>) -> Self {
        Self::from(ErrorPayload {
            kind: ErrorKind::Internal,
            message: message.into(),
        })
    }
}

impl From<ErrorPayload> for Failure {
    fn from(payload: ErrorPayload) -> Self {
        let kind = match serde_json::to_value(payload.kind) {
            Ok(serde_json::Value::String(kind)) => kind,
            _ => "internal".into(),
        };
        Self {
            kind,
            message: payload.message,
            code: if payload.kind.is_user_error() { 1 } else { 2 },
        }
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Self::from(e.payload())
    }
}

fn user_error(message: impl Into<String>) -> Failure {
    Failure::from(ErrorPayload {
        kind: ErrorKind::InvalidInput,
        message: message.into(),
    })
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let json = cli.json;
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return report(json, &Failure::internal(e.to_string())),
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => report(json, &failure),
    }
}

fn report(json: bool, failure: &Failure) -> ExitCode {
    if json {
        println!(
            "{}",
            serde_json::json!({ "error": { "kind": failure.kind, "message": failure.message } })
        );
    } else {
        eprintln!("error: {}", failure.message);
    }
    ExitCode::from(failure.code)
}

async fn run(cli: Cli) -> Result<(), Failure> {
    let data_dir = match &cli.data_dir {
        Some(dir) => dir.clone(),
        None => config::default_data_dir().map_err(Error::from)?,
    };
    let mut flags: Vec<Override> = cli
        .log_level
        .iter()
        .map(|level| Override {
            origin: "--log-level".into(),
            key: "log.level".into(),
            value: level.clone(),
        })
        .collect();
    if let Command::Node(args) | Command::Serve(ServeArgs { node: args, .. }) = &cli.command {
        flags.extend(chain_flags(args));
        flags.extend(trade_flags(args));
    }
    let config = Config::load(&data_dir, &flags).map_err(Error::from)?;
    match &cli.command {
        Command::Node(args) => return run_node(&cli, args.clone(), data_dir, config, None).await,
        Command::Serve(args) => {
            let ui = Some(serve::ui_dir(&args.ui)?);
            return run_node(&cli, args.node.clone(), data_dir, config, ui).await;
        }
        Command::Status => {
            return client::status(&client::ApiClient::open(&data_dir)?, cli.json).await;
        }
        Command::Peers => {
            return client::peers(&client::ApiClient::open(&data_dir)?, cli.json).await;
        }
        Command::Offer(command) => {
            let api = client::ApiClient::open(&data_dir)?;
            return match command {
                OfferCommand::Post(args) => {
                    client::post_offer(&api, &PostArgs::clone(args).into(), cli.json).await
                }
                OfferCommand::List {
                    market,
                    side,
                    method,
                    amount,
                    mine,
                } => {
                    let filter = client::ListFilter {
                        market: market.clone(),
                        side: side.clone(),
                        method: method.clone(),
                        amount: amount.clone(),
                        mine: *mine,
                    };
                    client::list_offers(&api, filter, cli.json).await
                }
                OfferCommand::Withdraw { id } => client::withdraw_offer(&api, id, cli.json).await,
                OfferCommand::Refresh { market } => {
                    client::refresh_market(&api, market, cli.json).await
                }
            };
        }
        Command::Trade(command) => {
            let api = client::ApiClient::open(&data_dir)?;
            let json = cli.json;
            return match command {
                TradeCommand::Take {
                    offer_id,
                    amount,
                    method,
                    payout,
                } => {
                    let request = trades_api::TakeRequest {
                        offer_id: offer_id.clone(),
                        amount: amount.clone(),
                        method: method.clone(),
                        payout: payout.clone(),
                    };
                    client::take(&api, &request, json).await
                }
                TradeCommand::Accept { trade_id } => {
                    client::answer(&api, trade_id, "accept", None, json).await
                }
                TradeCommand::Reject { trade_id, reason } => {
                    let body = serde_json::json!({ "reason": reason });
                    client::answer(&api, trade_id, "reject", Some(body), json).await
                }
                TradeCommand::Counter {
                    trade_id,
                    amount,
                    price,
                } => {
                    let body = serde_json::to_value(trades_api::CounterRequest {
                        amount: amount.clone(),
                        price: price.clone(),
                    })
                    .map_err(|e| Failure::internal(e.to_string()))?;
                    client::answer(&api, trade_id, "counter", Some(body), json).await
                }
                TradeCommand::Address { trade_id, address } => {
                    let body = serde_json::json!({ "address": address });
                    client::answer(&api, trade_id, "address", Some(body), json).await
                }
                TradeCommand::Fund {
                    trade_id,
                    wallet,
                    yes,
                    psbt,
                } => client::fund(&api, trade_id, wallet, *yes, psbt.as_deref(), json).await,
                TradeCommand::Paid { trade_id } => {
                    client::answer(&api, trade_id, "paid", None, json).await
                }
                TradeCommand::Received { trade_id } => {
                    client::answer(&api, trade_id, "received", None, json).await
                }
                TradeCommand::Cancel { trade_id, reason } => {
                    let body = serde_json::json!({ "reason": reason });
                    client::answer(&api, trade_id, "cancel", Some(body), json).await
                }
                TradeCommand::Dispute { trade_id, reason } => {
                    let body = serde_json::json!({ "reason": reason });
                    client::answer(&api, trade_id, "dispute", Some(body), json).await
                }
                TradeCommand::List => client::list_trades(&api, json).await,
                TradeCommand::Show { trade_id } => client::show_trade(&api, trade_id, json).await,
            };
        }
        Command::Dispute(command) => {
            let api = client::ApiClient::open(&data_dir)?;
            return match command {
                DisputeCommand::List => client::disputes(&api, cli.json).await,
                DisputeCommand::Show { trade_id } => {
                    client::dispute(&api, trade_id, None, cli.json).await
                }
                DisputeCommand::Resolve {
                    trade_id,
                    to,
                    buyer_gets,
                    reason,
                } => {
                    let body = serde_json::json!({
                        "to": to,
                        "buyer_gets": buyer_gets,
                        "reason": reason,
                    });
                    client::dispute(&api, trade_id, Some(&body), cli.json).await
                }
            };
        }
        Command::Chat(command) => {
            let api = client::ApiClient::open(&data_dir)?;
            return match command {
                ChatCommand::Send { trade_id, text } => {
                    client::send_chat(&api, trade_id, text, cli.json).await
                }
                ChatCommand::Log { trade_id } => client::chat_log(&api, trade_id, cli.json).await,
            };
        }
        Command::Init | Command::Id | Command::Restore { .. } => {}
    }
    // One-shot commands stay quiet unless asked; they never write log files, so a failed command leaves
    // the data directory exactly as it was.
    let filter = cli
        .log_level
        .clone()
        .or_else(|| std::env::var("SOUK_LOG_LEVEL").ok())
        .unwrap_or("warn".into());
    let _logs = logging::init(&filter, None);
    let node = Node::new(&data_dir, config);

    let result = match &cli.command {
        Command::Init => {
            let passphrase = passphrase(&cli, Confirm::Twice)?;
            let created = node.create_identity(&passphrase).await?;
            print_created(cli.json, &created);
            Ok(())
        }
        Command::Id => {
            let passphrase = passphrase(&cli, Confirm::Once)?;
            let info = node.unlock(&passphrase).await?;
            print_info(cli.json, &info, "");
            Ok(())
        }
        Command::Restore { words_file } => {
            let words = seed_words(words_file.as_ref())?;
            let passphrase = passphrase(&cli, Confirm::Twice)?;
            let info = node.restore_identity(&words, &passphrase).await?;
            print_info(cli.json, &info, "Restored identity\n");
            Ok(())
        }
        Command::Node(_)
        | Command::Serve(_)
        | Command::Status
        | Command::Peers
        | Command::Offer(_)
        | Command::Trade(_)
        | Command::Chat(_)
        | Command::Dispute(_) => Ok(()),
    };
    node.shutdown().await;
    result
}

/// `souk node`: long-running, so it logs at the configured level and, unless `log.file` is off, to
/// `logs/` in the data directory.
/// `--chain`, `--network`, `--rpc-*` as config overrides (flags win over the file and the environment).
fn chain_flags(args: &NodeArgs) -> Vec<Override> {
    let cookie = args
        .rpc_cookie_file
        .as_ref()
        .map(|p| p.display().to_string());
    [
        ("--chain", "chain.chain", args.chain.clone()),
        ("--network", "chain.network", args.network.clone()),
        ("--rpc-url", "chain.rpc_url", args.rpc_url.clone()),
        ("--rpc-user", "chain.rpc_user", args.rpc_user.clone()),
        (
            "--rpc-password",
            "chain.rpc_password",
            args.rpc_password.clone(),
        ),
        ("--rpc-cookie-file", "chain.rpc_cookie_file", cookie),
        (
            "--electrum-url",
            "chain.electrum_url",
            args.electrum_url.clone(),
        ),
        (
            "--electrum-cert-sha256",
            "chain.electrum_cert_sha256",
            args.electrum_cert_sha256.clone(),
        ),
    ]
    .into_iter()
    .filter_map(|(origin, key, value)| {
        value.map(|value| Override {
            origin: origin.into(),
            key: key.into(),
            value,
        })
    })
    .collect()
}

/// `--arbitrator`, `--max-takes-per-offer` and the `--*-window-secs` as overrides of `[trade]` (flags
/// win).
fn trade_flags(args: &NodeArgs) -> Vec<Override> {
    let mut flags = Vec::new();
    if args.arbitrator {
        flags.push(Override {
            origin: "--arbitrator".into(),
            key: "trade.arbitrator".into(),
            value: "true".into(),
        });
    }
    if let Some(n) = args.max_takes_per_offer {
        flags.push(Override {
            origin: "--max-takes-per-offer".into(),
            key: "trade.max_takes_per_offer".into(),
            value: n.to_string(),
        });
    }
    for (origin, key, secs) in [
        (
            "--funding-window-secs",
            "trade.funding_window_secs",
            args.funding_window_secs,
        ),
        (
            "--payment-window-secs",
            "trade.payment_window_secs",
            args.payment_window_secs,
        ),
        (
            "--release-window-secs",
            "trade.release_window_secs",
            args.release_window_secs,
        ),
        (
            "--answer-window-secs",
            "trade.answer_window_secs",
            args.answer_window_secs,
        ),
        (
            "--max-takes-per-peer-per-hour",
            "trade.max_takes_per_peer_per_hour",
            args.max_takes_per_peer_per_hour.map(u64::from),
        ),
    ] {
        if let Some(secs) = secs {
            flags.push(Override {
                origin: origin.into(),
                key: key.into(),
                value: secs.to_string(),
            });
        }
    }
    flags
}

async fn run_node(
    cli: &Cli,
    args: NodeArgs,
    data_dir: PathBuf,
    config: Config,
    ui: Option<PathBuf>,
) -> Result<(), Failure> {
    // Bootstrap peers saved in souk.toml (the Settings screen writes them there), then the flags'.
    let mut bootstrap: Vec<Multiaddr> = Vec::new();
    for text in &config.net.bootstrap {
        let addr = text.trim().parse::<Multiaddr>().map_err(|e| {
            user_error(format!(
                "[net] bootstrap {text:?} in souk.toml is not a multiaddr: {e}"
            ))
        })?;
        bootstrap.push(addr);
    }
    for addr in args.bootstrap {
        if !bootstrap.contains(&addr) {
            bootstrap.push(addr);
        }
    }
    let options = headless::NodeOptions {
        ui,
        listen: args.listen,
        bootstrap,
        relay_server: args.relay_server,
        external: args.external_address,
        no_mdns: args.no_mdns,
        api: args.api,
        markets: args.market,
    };
    let markets = headless::check(&options, &data_dir)?;
    let trade_config = config.trade.resolve().map_err(Error::from)?;
    let _logs = logging::init(
        &config.log.level,
        config.log.file.then_some(data_dir.as_path()),
    );
    let passphrase = passphrase(cli, Confirm::Once)?;
    let node = Arc::new(Node::new(&data_dir, config).with_trade_config(trade_config));
    let result = match node.unlock(&passphrase).await {
        Ok(_) => headless::run(node.clone(), options, markets, cli.json).await,
        Err(e) => Err(e.into()),
    };
    node.shutdown().await;
    result
}

#[derive(PartialEq)]
enum Confirm {
    Once,
    Twice,
}

fn passphrase(cli: &Cli, confirm: Confirm) -> Result<String, Failure> {
    if let Some(file) = &cli.passphrase_file {
        let text = std::fs::read_to_string(file).map_err(|e| {
            user_error(format!(
                "cannot read passphrase file {}: {e}",
                file.display()
            ))
        })?;
        return Ok(text.lines().next().unwrap_or_default().to_owned());
    }
    if let Ok(p) = std::env::var("SOUK_PASSPHRASE") {
        return Ok(p);
    }
    if !std::io::stdin().is_terminal() {
        return Err(user_error(
            "no passphrase: set SOUK_PASSPHRASE, pass --passphrase-file FILE, or run in a terminal to be asked",
        ));
    }
    let first = rpassword::prompt_password("Keystore passphrase: ")
        .map_err(|e| user_error(e.to_string()))?;
    if confirm == Confirm::Twice {
        let again = rpassword::prompt_password("Repeat passphrase: ")
            .map_err(|e| user_error(e.to_string()))?;
        if again != first {
            return Err(user_error("the two passphrases differ"));
        }
    }
    Ok(first)
}

fn seed_words(file: Option<&PathBuf>) -> Result<String, Failure> {
    if let Some(file) = file {
        return std::fs::read_to_string(file).map_err(|e| {
            user_error(format!(
                "cannot read seed words file {}: {e}",
                file.display()
            ))
        });
    }
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprintln!("Type your seed words, separated by spaces, then press Enter:");
        let mut line = String::new();
        stdin
            .read_line(&mut line)
            .map_err(|e| user_error(e.to_string()))?;
        return Ok(line);
    }
    let mut all = String::new();
    stdin
        .lock()
        .read_to_string(&mut all)
        .map_err(|e| user_error(format!("reading seed words: {e}")))?;
    Ok(all)
}

pub(crate) fn print_json<T: Serialize>(value: &T) {
    match serde_json::to_string_pretty(value) {
        Ok(text) => println!("{text}"),
        Err(e) => eprintln!("error: cannot print JSON: {e}"),
    }
}

fn print_info(json: bool, info: &IdentityInfo, heading: &str) {
    if json {
        return print_json(info);
    }
    print!("{heading}");
    println!("PeerId:          {}", info.peer_id);
    println!("Data directory:  {}", info.data_dir);
    println!("Schema version:  {}", info.schema_version);
}

fn print_created(json: bool, created: &CreatedIdentity) {
    if json {
        return print_json(created);
    }
    print_info(false, &created.identity, "Created a new identity\n");
    println!();
    println!(
        "Your seed words. Write them down now, on paper, in order: they are shown only this once and are"
    );
    println!("the only way to recover this identity and the funds in its escrows.");
    println!();
    for (row, chunk) in created.words.chunks(4).enumerate() {
        let line: Vec<String> = chunk
            .iter()
            .enumerate()
            .map(|(i, w)| format!("{:>2}. {w:<10}", row * 4 + i + 1))
            .collect();
        println!("  {}", line.join(" "));
    }
}
