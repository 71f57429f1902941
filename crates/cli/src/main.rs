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
mod serve;

use std::{
    io::{IsTerminal, Read},
    path::PathBuf,
    process::ExitCode,
    sync::Arc,
};

use clap::{Parser, Subcommand};
use libp2p::Multiaddr;
use serde::Serialize;
use souk_core::{
    Error, ErrorKind, ErrorPayload,
    config::{self, Config, Override},
    logging,
    node::{CreatedIdentity, IdentityInfo, Node},
};

use args::{
    BackupCommand, ChatCommand, DisputeCommand, NodeArgs, OfferCommand, PostArgs, ServeArgs,
    TradeCommand, chain_flags, trade_flags,
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
    /// Re-create an identity from its seed words (from --words-file, standard input, or a prompt); open
    /// escrow trades come back from the sealed copies counterparties and arbitrators keep, once the node runs
    Restore {
        /// File holding the seed words (whitespace-separated)
        #[arg(long, value_name = "FILE")]
        words_file: Option<PathBuf>,
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
        Command::Init | Command::Id | Command::Restore { .. } | Command::Backup(_) => {}
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

/// `1.4 MiB`, `820 KiB`, `312 bytes`.
fn size_text(bytes: u64) -> String {
    match bytes {
        0..1024 => format!("{bytes} bytes"),
        1024..1_048_576 => format!("{:.0} KiB", bytes as f64 / 1024.0),
        _ => format!("{:.1} MiB", bytes as f64 / 1_048_576.0),
    }
}

fn trades_text(trades: u32, open: u32) -> String {
    let noun = if trades == 1 { "trade" } else { "trades" };
    format!("{trades} {noun}, {open} open")
}

fn print_exported(json: bool, summary: &souk_core::node::BackupSummary) {
    if json {
        return print_json(summary);
    }
    println!("Backup written to {}", summary.path);
    println!("PeerId:   {}", summary.peer_id);
    println!(
        "Made:     {}",
        souk_core::backup::utc_text(summary.created_at_ms)
    );
    println!(
        "Holds:    the keystore, the database ({}){}",
        trades_text(summary.trades, summary.open_trades),
        if summary.has_config {
            ", souk.toml"
        } else {
            ""
        }
    );
    println!("Size:     {}", size_text(summary.bytes));
    println!("It opens with your keystore passphrase. Keep it somewhere other than this computer.");
}

fn print_imported(json: bool, imported: &souk_core::node::ImportedBackup) {
    if json {
        return print_json(imported);
    }
    let backup = &imported.backup;
    print_info(
        false,
        &imported.identity,
        &format!(
            "Restored the backup made {}\n",
            souk_core::backup::utc_text(backup.created_at_ms)
        ),
    );
    println!(
        "Trades:          {}",
        trades_text(backup.trades, backup.open_trades)
    );
    if imported.config_restored {
        println!("Settings:        souk.toml restored");
    } else if backup.has_config {
        println!(
            "Settings:        this data directory's own souk.toml was kept (the backup's was not written)"
        );
    }
    if backup.open_trades > 0 {
        println!(
            "Start `souk node` to go on with the open trades. Anything after the backup was made is not in it: \
             take a step you took since then again (`souk trade show` says what is next)."
        );
    }
}

fn print_backup_info(json: bool, info: &souk_core::node::BackupFileInfo) {
    if json {
        return print_json(info);
    }
    println!("Souk backup {}", info.path);
    println!("PeerId:   {}", info.peer_id);
    println!(
        "Made:     {}",
        souk_core::backup::utc_text(info.created_at_ms)
    );
    println!("Size:     {}", size_text(info.bytes));
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
