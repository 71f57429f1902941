//! `[net]`: how a long-running node joins the network, checked and turned into the network settings and
//! the markets to watch.

use std::str::FromStr;

use libp2p::{Multiaddr, multiaddr::Protocol};
use serde::{Deserialize, Serialize};

use super::ConfigError;
use crate::{
    net::{DhtMode, NetConfig},
    offer::{Asset, Quote},
};

/// Markets a node watches when the config names none.
pub const DEFAULT_MARKETS: &[&str] = &["BTC/EUR", "BTC/USD", "LTC/EUR", "LTC/USD"];

/// How a long-running node (the desktop app) joins the network: `[net]` in `souk.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NetSettings {
    /// Multiaddrs to listen on; empty means all interfaces, TCP and QUIC, ports chosen by the OS.
    pub listen: Vec<String>,
    /// Bootstrap peers, each ending in `/p2p/PEERID`.
    pub bootstrap: Vec<String>,
    /// Discover peers on the local network with mDNS.
    pub mdns: bool,
    /// Markets to watch for offers and prices, e.g. `BTC/EUR`.
    pub markets: Vec<String>,
}

impl Default for NetSettings {
    fn default() -> Self {
        Self {
            listen: Vec::new(),
            bootstrap: Vec::new(),
            mdns: true,
            markets: DEFAULT_MARKETS.iter().map(|m| (*m).to_owned()).collect(),
        }
    }
}

impl NetSettings {
    /// The network settings these stand for, and the markets to watch (duplicates dropped).
    /// Loopback listeners make a single-machine setup: loopback peers are kept and the DHT is served.
    pub fn resolve(&self) -> Result<(NetConfig, Vec<(Asset, Quote)>), ConfigError> {
        let invalid = |message: String| ConfigError::Invalid {
            origin: "[net]".into(),
            message,
        };
        let addrs = |what: &str, list: &[String]| {
            list.iter()
                .map(|a| {
                    a.trim()
                        .parse::<Multiaddr>()
                        .map_err(|e| invalid(format!("{what} {a:?} is not a multiaddr: {e}")))
                })
                .collect::<Result<Vec<_>, _>>()
        };
        let mut net = NetConfig::default();
        let listen = addrs("listen", &self.listen)?;
        if !listen.is_empty() {
            net.listen = listen;
        }
        if net.listen.iter().any(is_loopback) {
            net.allow_loopback_peers = true;
            net.dht_mode = DhtMode::Server;
        }
        net.bootstrap = addrs("bootstrap", &self.bootstrap)?;
        if let Some(bad) = net
            .bootstrap
            .iter()
            .find(|a| !a.iter().any(|p| matches!(p, Protocol::P2p(_))))
        {
            return Err(invalid(format!(
                "bootstrap {bad} does not end in /p2p/PEERID"
            )));
        }
        net.mdns = self.mdns;
        let mut markets = Vec::new();
        for name in &self.markets {
            let market = parse_market(name).map_err(invalid)?;
            if !markets.contains(&market) {
                markets.push(market);
            }
        }
        Ok((net, markets))
    }
}

/// `BTC/EUR` → its asset and quote.
pub fn parse_market(text: &str) -> Result<(Asset, Quote), String> {
    let (base, quote) = text
        .split_once('/')
        .ok_or_else(|| format!("market {text:?} is not BASE/QUOTE, e.g. BTC/EUR"))?;
    let base = Asset::from_str(base).map_err(|e| e.to_string())?;
    let quote = Quote::from_str(quote).map_err(|e| e.to_string())?;
    Ok((base, quote))
}

fn is_loopback(addr: &Multiaddr) -> bool {
    addr.iter().any(|p| match p {
        Protocol::Ip4(ip) => ip.is_loopback(),
        Protocol::Ip6(ip) => ip.is_loopback(),
        _ => false,
    })
}
