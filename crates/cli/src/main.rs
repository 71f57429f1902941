//! `souk`: the headless shell over souk-core. It parses flags, gathers secrets from the environment, a
//! file or a prompt, calls the core's `Node`, and prints for people or, with `--json`, for scripts.
//!
//! Exit codes: 0 ok, 1 the user can fix it (bad input, wrong passphrase, no running node, an API answer
//! 4xx, …), 3 a peer sent something invalid (`peer_misbehaved`, HTTP 502), 2 anything else.
#![recursion_limit = "256"]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod api;
mod args;
mod client;
mod headless;
mod input;
mod output;
mod secrets;
mod serve;

use std::{path::PathBuf, process::ExitCode};

use clap::{Parser, Subcommand};
use souk_core::{
    Error, ErrorKind, ErrorPayload,
    config::{self, Config, Override},
    logging,
    node::{Node, SetupChoices},
};

use args::{
    BackupCommand, ChatCommand, DisputeCommand, NodeArgs, OfferCommand, PostArgs, ServeArgs,
    TradeCommand, chain_flags, trade_flags,
};
use headless::run_node;
pub(crate) use output::print_json;
use output::{print_backup_info, print_created, print_exported, print_imported, print_info};
use secrets::{Confirm, passphrase, seed_words};

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
    Init {
        /// Connect only through Tor from the first start on (saves `[net] tor = true`; needs `tor`
        /// installed; checked before anything is written)
        #[arg(long)]
        tor: bool,
    },
    /// Show this node's PeerId, data directory and schema version
    Id,
    /// Re-create an identity from its seed words (from --words-file, standard input, or a prompt); open
    /// escrow trades come back from the sealed copies counterparties and arbitrators keep, once the node runs
    Restore {
        /// File holding the seed words (whitespace-separated)
        #[arg(long, value_name = "FILE")]
        words_file: Option<PathBuf>,
        /// Connect only through Tor from the first start on (saves `[net] tor = true`)
        #[arg(long)]
        tor: bool,
    },
    /// Export an encrypted backup of this data directory, import one into an empty one, or inspect one
    #[command(subcommand)]
    Backup(BackupCommand),
    /// Run a headless node in the foreground: the network, watched markets and a local API
    /// (announced in api.json in the data directory) until SIGINT/SIGTERM
    Node(NodeArgs),
    /// Run a node like `souk node` and serve the web UI from its API address; prints the URL to open
    Serve(ServeArgs),
    /// Show the running node's PeerId, addresses, peers and DHT state
    Status,
    /// List the peers the running node is connected to
    Peers,
    /// How others reach the running node: AutoNAT's verdict, external addresses and the relays it
    /// listens through (named in its settings or picked behind a NAT)
    Reach,
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
    /// A peer's reputation from its signed trade receipts, verified by the running node (escrows
    /// checked on its chain)
    Reputation {
        /// The peer's id (12D3KooW…)
        peer: String,
    },
    /// Show or set the nickname the running node publishes with its trade receipts (others see it in
    /// quotes after the name derived from your key; at most 24 characters)
    Nickname {
        /// The new nickname; without it, shows the current one
        name: Option<String>,
        /// Remove the nickname
        #[arg(long, conflicts_with = "name")]
        clear: bool,
    },
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

/// 1: the user's to fix; 3: the other side (a maker, a counterparty, an arbitrator) sent something
/// invalid; 2: anything else (this node, its disk, its chain node).
fn exit_code(kind: ErrorKind) -> u8 {
    match kind {
        ErrorKind::PeerMisbehaved => 3,
        kind if kind.is_user_error() => 1,
        _ => 2,
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
            code: exit_code(payload.kind),
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
        Command::Reach => {
            return client::reach(&client::ApiClient::open(&data_dir)?, cli.json).await;
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
                    min_settled,
                } => {
                    let filter = client::ListFilter {
                        market: market.clone(),
                        side: side.clone(),
                        method: method.clone(),
                        amount: amount.clone(),
                        mine: *mine,
                        min_settled: *min_settled,
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
                } => client::take(&api, offer_id, amount, method, payout, json).await,
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
                    client::counter(&api, trade_id, amount.as_deref(), price.as_deref(), json).await
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
                TradeCommand::Rate {
                    trade_id,
                    stars,
                    comment,
                } => client::rate(&api, trade_id, *stars, comment, json).await,
            };
        }
        Command::Nickname { name, clear } => {
            let api = client::ApiClient::open(&data_dir)?;
            return client::nickname(&api, name.as_deref(), *clear, cli.json).await;
        }
        Command::Reputation { peer } => {
            let api = client::ApiClient::open(&data_dir)?;
            return client::reputation(&api, peer, cli.json).await;
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
                    client::resolve(&api, trade_id, to, buyer_gets.as_deref(), reason, cli.json)
                        .await
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
        Command::Backup(BackupCommand::Info { file }) => {
            let info = souk_core::node::backup_file_info(file).await?;
            print_backup_info(cli.json, &info);
            return Ok(());
        }
        Command::Init { .. } | Command::Id | Command::Restore { .. } | Command::Backup(_) => {}
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
        Command::Init { tor } => {
            let passphrase = passphrase(&cli, Confirm::Twice)?;
            let created = node
                .create_identity_with(&passphrase, SetupChoices { tor: *tor })
                .await?;
            print_created(cli.json, &created);
            Ok(())
        }
        Command::Id => {
            let passphrase = passphrase(&cli, Confirm::Once)?;
            let info = node.unlock(&passphrase).await?;
            print_info(cli.json, &info, "");
            Ok(())
        }
        Command::Restore { words_file, tor } => {
            let words = seed_words(words_file.as_ref())?;
            let passphrase = passphrase(&cli, Confirm::Twice)?;
            let info = node
                .restore_identity_with(&words, &passphrase, SetupChoices { tor: *tor })
                .await?;
            print_info(cli.json, &info, "Restored identity\n");
            if !cli.json {
                println!(
                    "Open escrow trades come back from your counterparties' sealed copies once the node \
                     runs (`souk node`); `souk trade list` shows them as they arrive."
                );
            }
            Ok(())
        }
        Command::Backup(BackupCommand::Export { target }) => {
            let passphrase = passphrase(&cli, Confirm::Once)?;
            node.unlock(&passphrase).await?;
            let summary = node
                .export_backup(&target.to_string_lossy(), &passphrase)
                .await?;
            print_exported(cli.json, &summary);
            Ok(())
        }
        Command::Backup(BackupCommand::Import { file }) => {
            let passphrase = passphrase(&cli, Confirm::Once)?;
            let imported = node
                .import_backup(&file.to_string_lossy(), &passphrase)
                .await?;
            print_imported(cli.json, &imported);
            Ok(())
        }
        Command::Backup(BackupCommand::Info { .. }) => Ok(()),
        Command::Reputation { .. }
        | Command::Nickname { .. }
        | Command::Node(_)
        | Command::Serve(_)
        | Command::Status
        | Command::Peers
        | Command::Reach
        | Command::Offer(_)
        | Command::Trade(_)
        | Command::Chat(_)
        | Command::Dispute(_) => Ok(()),
    };
    node.shutdown().await;
    result
}
