//! `[net]`: how a long-running node joins the network, checked and turned into the network settings and
//! the markets to watch.

use std::str::FromStr;

use libp2p::{Multiaddr, multiaddr::Protocol};
use serde::{Deserialize, Serialize};

use super::ConfigError;
use crate::{
    net::{
        DhtMode, NetConfig,
        tor::{TorSettings, is_onion},
    },
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
    /// Tor mode: every connection goes through this node's own `tor` (Debian: `apt install tor`),
    /// the node is reachable only at its onion address, and bootstrap peers are onion addresses.
    pub tor: bool,
    /// A bridge between clearnet and Tor: a clearnet node that also starts its own `tor`, publishes
    /// an onion service and relays for both sides, so Tor-mode and clearnet nodes trade through it.
    /// Excludes `tor`. Needs a public address (AutoNAT confirms it) for clearnet nodes to reach it.
    pub tor_bridge: bool,
    /// Tor mode: be reachable from clearnet traders through bridges (announces a bridge's relayed
    /// address, which names the bridge, never this node); off: only the onion address is told.
    pub tor_via_bridges: bool,
    /// The `tor` program Tor mode (or a bridge) starts.
    pub tor_binary: String,
    /// More torrc lines for that tor (bridges, or a private test network's `DirAuthority` lines).
    pub tor_config: Vec<String>,
}

impl Default for NetSettings {
    fn default() -> Self {
        Self {
            listen: Vec::new(),
            bootstrap: Vec::new(),
            mdns: true,
            markets: DEFAULT_MARKETS.iter().map(|m| (*m).to_owned()).collect(),
            tor: false,
            tor_bridge: false,
            tor_via_bridges: true,
            tor_binary: "tor".into(),
            tor_config: Vec::new(),
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
        if self.tor && self.tor_bridge {
            return Err(invalid(
                "tor and tor_bridge exclude each other: Tor mode is Tor only, a bridge speaks both"
                    .into(),
            ));
        }
        if self.tor {
            net.tor = Some(self.tor_settings());
            check_tor(&net).map_err(invalid)?;
        }
        if self.tor_bridge {
            net.bridge = Some(self.tor_settings());
            check_tor(&net).map_err(invalid)?;
        }
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

impl NetSettings {
    /// How Tor mode runs its `tor`, from `tor_binary` and `tor_config`.
    pub fn tor_settings(&self) -> TorSettings {
        TorSettings {
            binary: self.tor_binary.trim().into(),
            extra_config: self.tor_config.clone(),
            via_bridges: self.tor_via_bridges,
            ..TorSettings::new()
        }
    }
}

/// What Tor mode cannot do with these settings: reach a bootstrap peer that is not an onion address.
/// (`listen` is not used in Tor mode: tor forwards the onion service to a loopback port of its own.)
/// A bridge reaches both kinds.
pub fn check_tor(net: &NetConfig) -> Result<(), String> {
    if net.tor.is_some() && net.bridge.is_some() {
        return Err(
            "Tor mode and a bridge exclude each other: Tor mode is Tor only, a bridge speaks both"
                .into(),
        );
    }
    if net
        .tor_settings()
        .is_some_and(|t| t.binary.as_os_str().is_empty())
    {
        return Err("tor_binary is empty".into());
    }
    if net.tor.is_some()
        && let Some(clear) = net.bootstrap.iter().find(|a| !is_onion(a))
    {
        return Err(format!(
            "bootstrap {clear}: Tor mode reaches peers only at onion addresses (/onion3/…/p2p/PEERID)"
        ));
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bridge_keeps_its_clearnet_peers_and_excludes_tor_mode() {
        let bridge = NetSettings {
            tor_bridge: true,
            bootstrap: vec![
                "/ip4/1.2.3.4/tcp/4001/p2p/12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA"
                    .into(),
            ],
            ..NetSettings::default()
        };
        let (net, _) = bridge.resolve().expect("a bridge reaches clearnet peers");
        assert!(
            net.bridge.as_ref().is_some_and(|t| t.via_bridges),
            "on by default"
        );
        assert!(net.bridge.is_some() && net.tor.is_none());
        assert!(net.tor_settings().is_some());

        let both = NetSettings {
            tor: true,
            ..bridge
        };
        let err = both.resolve().unwrap_err().to_string();
        assert!(err.contains("exclude each other"), "{err}");

        let config = NetConfig {
            tor: Some(TorSettings::new()),
            bridge: Some(TorSettings::new()),
            ..NetConfig::default()
        };
        let err = check_tor(&config).unwrap_err();
        assert!(err.contains("exclude each other"), "{err}");
    }

    #[test]
    fn tor_mode_can_refuse_to_be_reached_through_bridges() {
        let quiet = NetSettings {
            tor: true,
            tor_via_bridges: false,
            ..NetSettings::default()
        };
        let (mut net, _) = quiet.resolve().expect("valid");
        assert!(net.tor.as_ref().is_some_and(|t| !t.via_bridges));
        assert_eq!(
            net.auto_relays, 2,
            "the default, until Tor mode confines it"
        );
        net.confine_to_tor();
        assert_eq!(net.auto_relays, 0, "no bridge is asked for a reservation");
        let (mut open, _) = NetSettings {
            tor: true,
            ..NetSettings::default()
        }
        .resolve()
        .expect("valid");
        open.confine_to_tor();
        assert_eq!(open.auto_relays, 2);
    }
}
