//! `souk node`: a long-running headless peer. It unlocks the identity, starts the network, watches
//! markets, serves the local API (see `api`) and announces it in `api.json`, then waits for SIGINT or
//! SIGTERM and shuts everything down in order.
//!
//! The API is for this machine only: it binds to loopback and every request needs the token that
//! only `api.json` (mode 0600) holds. This module never decides anything about offers itself.

use std::{
    io::Write,
    net::SocketAddr,
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use libp2p::{Multiaddr, multiaddr::Protocol};
use serde::{Deserialize, Serialize};
use souk_core::{
    Error,
    config::Config,
    logging,
    net::{DhtMode, NetConfig},
    node::Node,
    offer::{Asset, Quote},
};
use tokio_util::sync::CancellationToken;

use crate::{
    Cli, Failure,
    api::{self, ApiState},
    args::NodeArgs,
    secrets::{Confirm, passphrase},
    user_error,
};

/// The file a running node announces its API in, inside the data directory.
pub const API_FILE: &str = "api.json";
/// Markets watched when none are named.
pub const DEFAULT_MARKETS: &[&str] = &["BTC/EUR", "BTC/USD", "LTC/EUR", "LTC/USD"];
/// How long open API connections get to finish once the node stops.
const API_DRAIN: Duration = Duration::from_secs(5);

/// What `api.json` holds: where the API is and how to be let in.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ApiFile {
    pub url: String,
    pub token: String,
    pub pid: u32,
}

pub struct NodeOptions {
    pub listen: Vec<Multiaddr>,
    pub bootstrap: Vec<Multiaddr>,
    pub relay_server: bool,
    pub private_addresses: bool,
    /// `--added-latency-ms`: see `NetConfig::added_latency`.
    pub added_latency: Duration,
    pub external: Vec<Multiaddr>,
    pub no_mdns: bool,
    /// Tor mode (`--tor` or `[net] tor`): how its tor runs.
    pub tor: Option<souk_core::net::tor::TorSettings>,
    /// A bridge (`--tor-bridge` or `[net] tor_bridge`): how its tor runs.
    pub tor_bridge: Option<souk_core::net::tor::TorSettings>,
    pub api: Option<SocketAddr>,
    pub markets: Vec<String>,
    /// `souk serve`: the built UI to serve next to the API.
    pub ui: Option<PathBuf>,
}

#[derive(Debug, Serialize)]
struct Started {
    peer_id: String,
    listen_addrs: Vec<String>,
    api: String,
    /// `souk serve`: the address to open in a browser, token included.
    #[serde(skip_serializing_if = "Option::is_none")]
    ui: Option<String>,
}

/// `souk node`: long-running, so it logs at the configured level and, unless `log.file` is off, to
/// `logs/` in the data directory.
pub(crate) async fn run_node(
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
    let options = NodeOptions {
        ui,
        listen: args.listen,
        bootstrap,
        relay_server: args.relay_server,
        private_addresses: args.private_addresses,
        added_latency: Duration::from_millis(args.added_latency_ms),
        external: args.external_address,
        no_mdns: args.no_mdns,
        tor: (args.tor || config.net.tor).then(|| config.net.tor_settings()),
        tor_bridge: (args.tor_bridge || (config.net.tor_bridge && !args.tor))
            .then(|| config.net.tor_settings()),
        api: args.api,
        markets: args.market,
    };
    let markets = check(&options, &data_dir)?;
    souk_core::config::check_tor(&net_config(&options)).map_err(user_error)?;
    let trade_config = config.trade.resolve().map_err(Error::from)?;
    let _logs = logging::init(
        &config.log.level,
        config.log.file.then_some(data_dir.as_path()),
    );
    let passphrase = passphrase(cli, Confirm::Once)?;
    let node = Arc::new(Node::new(&data_dir, config).with_trade_config(trade_config));
    let result = match node.unlock(&passphrase).await {
        Ok(_) => run(node.clone(), options, markets, cli.json).await,
        Err(e) => Err(e.into()),
    };
    node.shutdown().await;
    result
}

/// Checks everything that needs no unlocking: bad flags fail before the passphrase is asked for.
pub fn check(options: &NodeOptions, data_dir: &Path) -> Result<Vec<(Asset, Quote)>, Failure> {
    if let Some(addr) = options.api
        && !addr.ip().is_loopback()
    {
        return Err(user_error(format!(
            "--api {addr} is not a loopback address: the API is for this machine only (use e.g. 127.0.0.1:{})",
            addr.port()
        )));
    }
    let names: Vec<&str> = if options.markets.is_empty() {
        DEFAULT_MARKETS.to_vec()
    } else {
        options.markets.iter().map(String::as_str).collect()
    };
    let mut markets = Vec::new();
    for name in names {
        let market = crate::input::parse_market(name).map_err(user_error)?;
        if !markets.contains(&market) {
            markets.push(market);
        }
    }
    if let Some(running) = read_api_file(data_dir)
        && let Ok(addr) = running
            .url
            .trim_start_matches("http://")
            .parse::<SocketAddr>()
        && std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok()
    {
        return Err(user_error(format!(
            "a node is already running for {} (pid {}, API {}); stop it first",
            data_dir.display(),
            running.pid,
            running.url
        )));
    }
    Ok(markets)
}

/// Removes `api.json` when it still names process `pid`: a node started on the same data directory
/// while this one stopped wrote its own, which must stay.
fn remove_api_file_if_ours(data_dir: &Path, pid: u32) {
    if read_api_file(data_dir).is_some_and(|file| file.pid == pid) {
        let _ = std::fs::remove_file(data_dir.join(API_FILE));
    }
}

pub fn read_api_file(data_dir: &Path) -> Option<ApiFile> {
    let text = std::fs::read_to_string(data_dir.join(API_FILE)).ok()?;
    serde_json::from_str(&text).ok()
}

pub fn net_config(options: &NodeOptions) -> NetConfig {
    let mut config = NetConfig::default();
    if !options.listen.is_empty() {
        config.listen = options.listen.clone();
    }
    if config.listen.iter().any(is_loopback) {
        config.allow_loopback_peers = true;
        config.dht_mode = DhtMode::Server;
    }
    config.bootstrap = options.bootstrap.clone();
    config.mdns = !options.no_mdns;
    config.relay_server = options.relay_server;
    config.probe_private_addresses = options.private_addresses;
    config.added_latency = options.added_latency;
    config.external_addresses = options.external.clone();
    config.tor = options.tor.clone();
    config.bridge = options.tor_bridge.clone();
    config
}

fn is_loopback(addr: &Multiaddr) -> bool {
    addr.iter().any(|p| match p {
        Protocol::Ip4(ip) => ip.is_loopback(),
        Protocol::Ip6(ip) => ip.is_loopback(),
        _ => false,
    })
}

/// Runs the node until a signal; `node` is already unlocked.
pub async fn run(
    node: Arc<Node>,
    options: NodeOptions,
    markets: Vec<(Asset, Quote)>,
    json: bool,
) -> Result<(), Failure> {
    let data_dir = node.data_dir().to_path_buf();
    // Network, bootstrap peers, book: each phase is recorded for the UI's startup view. Unreachable
    // bootstrap peers do not stop a headless node; it runs on its cache and whoever finds it.
    let info = node.go_online(net_config(&options), &markets).await?;
    if let Some(failed) = node.startup_progress().failed() {
        tracing::warn!(phase = ?failed.phase, error = ?failed.error, "a startup phase failed");
    }
    let bind = options
        .api
        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)));
    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .map_err(|e| user_error(format!("cannot listen on {bind} for the API: {e}")))?;
    let local = listener
        .local_addr()
        .map_err(|e| Failure::internal(format!("the API listener has no address: {e}")))?;
    let url = format!("http://{local}");
    let token = new_token()?;
    let api_path = data_dir.join(API_FILE);
    write_api_file(
        &api_path,
        &ApiFile {
            url: url.clone(),
            token: token.clone(),
            pid: std::process::id(),
        },
    )?;

    let stop = CancellationToken::new();
    let state = ApiState {
        node: node.clone(),
        token: token.clone().into(),
        stop: stop.clone(),
    };
    let (router, ui_url) = match options.ui {
        Some(dir) => (
            crate::serve::with_ui(api::router(state), dir, &url)?,
            Some(crate::serve::ui_url(&url, &token)),
        ),
        None => (api::router(state), None),
    };
    let server = tokio::spawn({
        let stop = stop.clone();
        async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(stop.cancelled_owned())
                .await
        }
    });

    let started = Started {
        listen_addrs: api::dialable(&info.listen_addrs, &info.peer_id),
        peer_id: info.peer_id,
        api: url,
        ui: ui_url,
    };
    print_started(json, &started, &api_path);
    tracing::info!(peer_id = %started.peer_id, api = %started.api, "node running");

    let signal = wait_for_signal().await;
    tracing::info!(signal, "stopping");
    remove_api_file_if_ours(&data_dir, std::process::id());
    stop.cancel();
    match tokio::time::timeout(API_DRAIN, server).await {
        Ok(Ok(Ok(()))) => {}
        Ok(Ok(Err(e))) => tracing::warn!(error = %e, "the API server failed"),
        Ok(Err(e)) => tracing::warn!(error = %e, "the API server task failed"),
        Err(_) => tracing::warn!("API connections still open after {API_DRAIN:?}; closing"),
    }
    node.shutdown().await;
    if !json {
        println!("Stopped.");
    }
    Ok(())
}

fn print_started(json: bool, started: &Started, api_path: &Path) {
    if json {
        println!("{}", serde_json::to_string(started).unwrap_or_default());
        return;
    }
    println!("PeerId:        {}", started.peer_id);
    println!("Listening on:");
    for addr in &started.listen_addrs {
        println!("  {addr}");
    }
    println!("API:           {}", started.api);
    println!("API token in:  {}", api_path.display());
    if let Some(ui) = &started.ui {
        println!("Open in a browser: {ui}");
    }
    println!("Press Ctrl-C to stop.");
    let _ = std::io::stdout().flush();
}

/// 32 random bytes as hex.
fn new_token() -> Result<String, Failure> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| Failure::internal(format!("no randomness for the API token: {e}")))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Writes `api.json` readable by the owner only, created with that mode (never widened then
/// narrowed), and moved into place whole so a reader never sees half a file.
fn write_api_file(path: &Path, file: &ApiFile) -> Result<(), Failure> {
    let text = serde_json::to_string_pretty(file)
        .map_err(|e| Failure::internal(format!("encoding {API_FILE}: {e}")))?;
    let temp: PathBuf = path.with_extension(format!("json.{}.tmp", std::process::id()));
    let _ = std::fs::remove_file(&temp);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let io = |e: std::io::Error| {
        Failure::from(souk_core::Error::io(
            format!("writing {}", path.display()),
            e,
        ))
    };
    let mut out = options.open(&temp).map_err(io)?;
    out.write_all(text.as_bytes()).map_err(io)?;
    out.sync_all().map_err(io)?;
    drop(out);
    std::fs::rename(&temp, path).map_err(io)
}

async fn wait_for_signal() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => tokio::select! {
                _ = tokio::signal::ctrl_c() => "SIGINT",
                _ = term.recv() => "SIGTERM",
            },
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                "SIGINT"
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        "Ctrl-C"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api_file(pid: u32) -> ApiFile {
        ApiFile {
            url: "http://127.0.0.1:1".into(),
            token: "t".into(),
            pid,
        }
    }

    #[test]
    fn a_stopping_node_leaves_the_api_file_of_the_node_that_followed_it() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let path = dir.path().join(API_FILE);
        assert!(write_api_file(&path, &api_file(4242)).is_ok(), "written");
        remove_api_file_if_ours(dir.path(), 4241);
        assert_eq!(
            read_api_file(dir.path()).map(|f| f.pid),
            Some(4242),
            "another process's file stays"
        );
        remove_api_file_if_ours(dir.path(), 4242);
        assert!(!path.exists(), "its own file goes");
        // Nothing there: nothing to do, no panic.
        remove_api_file_if_ours(dir.path(), 4242);
    }
}
