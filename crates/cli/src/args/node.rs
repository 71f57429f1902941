//! The flags of `souk node` and `souk serve`, and how the chain and trade flags become config
//! overrides (flags win over souk.toml and the environment).

use std::{net::SocketAddr, path::PathBuf};

use clap::Args;
use libp2p::Multiaddr;
use souk_core::config::{self, Override};

use crate::serve;

#[derive(Debug, Clone, Args)]
pub(crate) struct NodeArgs {
    /// A multiaddr to listen on, e.g. /ip4/0.0.0.0/tcp/4001 (repeatable) [default: all interfaces, TCP and QUIC, ports chosen by the OS]
    #[arg(long, value_name = "MULTIADDR")]
    pub(crate) listen: Vec<Multiaddr>,
    /// A bootstrap peer, ending in /p2p/PEERID (repeatable)
    #[arg(long, value_name = "MULTIADDR")]
    pub(crate) bootstrap: Vec<Multiaddr>,
    /// Serve as a circuit relay for peers behind NAT
    #[arg(long)]
    pub(crate) relay_server: bool,
    /// Treat private addresses (10.x, 192.168.x, …) as reachable ones: AutoNAT tests them and vouches
    /// for them (a network that is private throughout: a lab, a company network)
    #[arg(long)]
    pub(crate) private_addresses: bool,
    /// For measuring only: delay every byte this node receives over TCP by this many milliseconds
    /// (one-way latency on every connection, as if its peers were far away)
    #[arg(long, value_name = "MS", hide = true, default_value_t = 0)]
    pub(crate) added_latency_ms: u64,
    /// An address other nodes can reach this one at, e.g. /ip4/203.0.113.7/tcp/4001 (repeatable); a
    /// relay needs one so its clients can announce their relayed addresses
    #[arg(long, value_name = "MULTIADDR")]
    pub(crate) external_address: Vec<Multiaddr>,
    /// Do not discover peers on the local network with mDNS
    #[arg(long)]
    pub(crate) no_mdns: bool,
    /// Tor mode: every connection through this node's own tor (needs the `tor` program: apt install
    /// tor), reachable only at its onion address; bootstrap peers must be onion addresses [default:
    /// `[net] tor` in souk.toml, else off]
    #[arg(long)]
    pub(crate) tor: bool,
    /// A bridge between clearnet and Tor: a clearnet node that also starts its own tor, publishes an
    /// onion service and relays for both sides, so Tor-mode and clearnet nodes trade through it
    /// (needs a public address) [default: `[net] tor_bridge` in souk.toml, else off]
    #[arg(long, conflicts_with = "tor")]
    pub(crate) tor_bridge: bool,
    /// Where the local API listens; loopback only [default: 127.0.0.1:0, a free port]
    #[arg(long, value_name = "ADDR:PORT")]
    pub(crate) api: Option<SocketAddr>,
    /// A market to watch, e.g. BTC/EUR (repeatable) [default: BTC/EUR, BTC/USD, LTC/EUR, LTC/USD]
    #[arg(long, value_name = "BASE/QUOTE")]
    pub(crate) market: Vec<String>,
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
pub(crate) struct ServeArgs {
    #[command(flatten)]
    pub(crate) node: NodeArgs,
    /// The built UI (a directory holding index.html)
    #[arg(long, env = "SOUK_UI_DIR", value_name = "DIR", default_value = serve::DEFAULT_UI_DIR)]
    pub(crate) ui: PathBuf,
}

/// `--chain`, `--network`, `--rpc-*` as config overrides (flags win over the file and the environment).
pub(crate) fn chain_flags(args: &NodeArgs) -> Vec<Override> {
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
pub(crate) fn trade_flags(args: &NodeArgs) -> Vec<Override> {
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
