//! `souk`: the headless shell over souk-core. It parses flags, gathers secrets from the environment, a
//! file or a prompt, calls the core's `Node`, and prints for people or, with `--json`, for scripts.
//!
//! Exit codes: 0 ok, 1 the user can fix it (bad input, wrong passphrase, …), 2 anything else.

use std::{
    io::{IsTerminal, Read},
    path::PathBuf,
    process::ExitCode,
};

use clap::{Parser, Subcommand};
use serde::Serialize;
use souk_core::{
    Error, ErrorKind, ErrorPayload,
    config::{self, Config, Override},
    logging,
    node::{CreatedIdentity, IdentityInfo, Node},
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
}

/// A failure with the exit code it maps to.
struct Failure(ErrorPayload);

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Self(e.payload())
    }
}

fn user_error(message: impl Into<String>) -> Failure {
    Failure(ErrorPayload {
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
        Err(e) => {
            return report(
                json,
                &Failure(ErrorPayload {
                    kind: ErrorKind::Internal,
                    message: e.to_string(),
                }),
            );
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => report(json, &failure),
    }
}

fn report(json: bool, Failure(payload): &Failure) -> ExitCode {
    if json {
        println!("{}", serde_json::json!({ "error": payload }));
    } else {
        eprintln!("error: {}", payload.message);
    }
    ExitCode::from(if payload.kind.is_user_error() { 1 } else { 2 })
}

async fn run(cli: Cli) -> Result<(), Failure> {
    let data_dir = match &cli.data_dir {
        Some(dir) => dir.clone(),
        None => config::default_data_dir().map_err(Error::from)?,
    };
    let flags: Vec<Override> = cli
        .log_level
        .iter()
        .map(|level| Override {
            origin: "--log-level".into(),
            key: "log.level".into(),
            value: level.clone(),
        })
        .collect();
    let config = Config::load(&data_dir, &flags).map_err(Error::from)?;
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

fn print_json<T: Serialize>(value: &T) {
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
