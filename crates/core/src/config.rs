//! Settings that shape how a node runs: `souk.toml` in the data directory, then `SOUK_*` environment
//! variables, then command-line flags, each overriding the one before.
//!
//! Unknown keys are errors, never ignored: a typo must not silently fall back to a default.

use std::{
    path::{Path, PathBuf},
    str::FromStr,
};

use libp2p::{Multiaddr, multiaddr::Protocol};
use serde::{Deserialize, Serialize};

use crate::{
    net::{DhtMode, NetConfig},
    offer::{Asset, Quote},
};

pub const FILE_NAME: &str = "souk.toml";

/// Environment variables that override config keys (dotted paths into the TOML document).
pub const ENV_KEYS: &[(&str, &str)] = &[
    ("SOUK_LOG_LEVEL", "log.level"),
    ("SOUK_LOG_FILE", "log.file"),
    ("SOUK_PRICE_URL", "price.url"),
    ("SOUK_MDNS", "net.mdns"),
];

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{origin}: {message}")]
    Invalid { origin: String, message: String },
    #[error("no platform data directory could be found; pass --data-dir or set SOUK_DATA_DIR")]
    NoDataDir,
}

impl ConfigError {
    pub fn kind(&self) -> crate::ErrorKind {
        match self {
            Self::Read { .. } => crate::ErrorKind::Io,
            Self::Invalid { .. } | Self::NoDataDir => crate::ErrorKind::InvalidInput,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub log: LogConfig,
    pub price: PriceConfig,
    pub net: NetSettings,
}

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

/// Where market prices come from, for offers priced relative to the market.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PriceConfig {
    /// A ticker URL with `{base}` and `{quote}` placeholders; empty turns market prices off.
    pub url: String,
    /// How often watched markets' prices are fetched again.
    pub refresh_secs: u64,
}

impl Default for PriceConfig {
    fn default() -> Self {
        Self {
            url: crate::price::HttpTicker::DEFAULT_TEMPLATE.into(),
            refresh_secs: 60,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// A `tracing` filter: `info`, `debug`, `souk_core=trace,info`, …
    pub level: String,
    /// Whether long-running commands (node, desktop) also log to `logs/` in the data directory.
    pub file: bool,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            level: "info".into(),
            file: true,
        }
    }
}

/// Where one override came from, for error messages.
#[derive(Debug, Clone)]
pub struct Override {
    pub origin: String,
    pub key: String,
    pub value: String,
}

impl Config {
    /// Reads `souk.toml` from `data_dir` (absent is fine), then applies the environment, then `flags`.
    pub fn load(data_dir: &Path, flags: &[Override]) -> Result<Self, ConfigError> {
        let path = data_dir.join(FILE_NAME);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(source) => return Err(ConfigError::Read { path, source }),
        };
        let env: Vec<Override> = ENV_KEYS
            .iter()
            .filter_map(|(var, key)| {
                std::env::var(var).ok().map(|value| Override {
                    origin: (*var).into(),
                    key: (*key).into(),
                    value,
                })
            })
            .collect();
        Self::from_parts(&path.display().to_string(), &text, env.iter().chain(flags))
    }

    fn from_parts<'a>(
        origin: &str,
        text: &str,
        overrides: impl IntoIterator<Item = &'a Override>,
    ) -> Result<Self, ConfigError> {
        let mut doc: toml::Table = toml::from_str(text).map_err(|e| ConfigError::Invalid {
            origin: origin.into(),
            message: e.to_string(),
        })?;
        for o in overrides {
            set_dotted(&mut doc, &o.key, parse_scalar(&o.value)).map_err(|message| {
                ConfigError::Invalid {
                    origin: o.origin.clone(),
                    message,
                }
            })?;
        }
        Config::deserialize(toml::Value::Table(doc)).map_err(|e| ConfigError::Invalid {
            origin: origin.into(),
            message: e.to_string(),
        })
    }
}

/// `true`, `42` and `1.5` become typed TOML values; anything else stays a string.
fn parse_scalar(raw: &str) -> toml::Value {
    toml::from_str::<toml::Table>(&format!("v = {raw}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .filter(|v| !v.is_table())
        .unwrap_or_else(|| toml::Value::String(raw.to_owned()))
}

fn set_dotted(doc: &mut toml::Table, key: &str, value: toml::Value) -> Result<(), String> {
    let mut parts = key.split('.').peekable();
    let mut table = doc;
    while let Some(part) = parts.next() {
        if parts.peek().is_none() {
            table.insert(part.to_owned(), value);
            return Ok(());
        }
        let entry = table
            .entry(part.to_owned())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        table = entry
            .as_table_mut()
            .ok_or_else(|| format!("`{part}` in `{key}` is not a table"))?;
    }
    Err(format!("empty config key `{key}`"))
}

/// The platform's data directory for Souk (`~/.local/share/souk` on Linux).
pub fn default_data_dir() -> Result<PathBuf, ConfigError> {
    directories::ProjectDirs::from("org", "Souk", "souk")
        .map(|d| d.data_dir().to_path_buf())
        .ok_or(ConfigError::NoDataDir)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flag(key: &str, value: &str) -> Override {
        Override {
            origin: format!("--{key}"),
            key: key.into(),
            value: value.into(),
        }
    }

    #[test]
    fn defaults_file_then_overrides() {
        assert_eq!(Config::from_parts("f", "", []).unwrap(), Config::default());
        let from_file =
            Config::from_parts("f", "[log]\nlevel = \"debug\"\nfile = false\n", []).unwrap();
        assert_eq!(
            from_file.log,
            LogConfig {
                level: "debug".into(),
                file: false
            }
        );
        let overridden = Config::from_parts(
            "f",
            "[log]\nlevel = \"debug\"\n",
            &[flag("log.level", "warn"), flag("log.file", "false")],
        )
        .unwrap();
        assert_eq!(
            overridden.log,
            LogConfig {
                level: "warn".into(),
                file: false
            }
        );
    }

    #[test]
    fn unknown_keys_and_bad_types_are_errors_naming_their_origin() {
        let err = Config::from_parts("souk.toml", "[log]\nlevle = \"debug\"\n", [])
            .unwrap_err()
            .to_string();
        assert!(err.contains("souk.toml") && err.contains("levle"), "{err}");
        let err = Config::from_parts("souk.toml", "", &[flag("log.file", "sometimes")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("file"), "{err}");
        let err = Config::from_parts("souk.toml", "log = 3", &[flag("log.level", "x")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("--log.level"), "{err}");
        let err = Config::from_parts("souk.toml", "not toml [", [])
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("souk.toml:"), "{err}");
    }

    #[test]
    fn net_section_defaults_and_loopback_setup() {
        let config = Config::from_parts("f", "", []).unwrap();
        assert!(config.net.mdns);
        let (net, markets) = config.net.resolve().unwrap();
        assert_eq!(net.listen, NetConfig::default().listen);
        assert!(net.mdns && !net.allow_loopback_peers);
        assert_eq!(markets.len(), DEFAULT_MARKETS.len());

        let text = "[net]\nlisten = [\"/ip4/127.0.0.1/tcp/0\"]\nmdns = false\n\
                    bootstrap = [\"/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA\"]\n\
                    markets = [\"btc/eur\", \"BTC/EUR\", \"LTC/USD\"]\n";
        let config = Config::from_parts("souk.toml", text, []).unwrap();
        let (net, markets) = config.net.resolve().unwrap();
        assert_eq!(net.listen, vec!["/ip4/127.0.0.1/tcp/0".parse().unwrap()]);
        assert!(!net.mdns && net.allow_loopback_peers);
        assert_eq!(net.dht_mode, DhtMode::Server);
        assert_eq!(net.bootstrap.len(), 1);
        assert_eq!(markets.len(), 2, "duplicates are dropped");

        let mdns_off = Config::from_parts("f", "", &[flag("net.mdns", "false")]).unwrap();
        assert!(!mdns_off.net.mdns);
    }

    #[test]
    fn net_section_refuses_typos_and_bad_values() {
        let err = Config::from_parts("souk.toml", "[net]\nmnds = false\n", [])
            .unwrap_err()
            .to_string();
        assert!(err.contains("mnds"), "{err}");
        let bad = |text: &str| {
            Config::from_parts("f", text, [])
                .unwrap()
                .net
                .resolve()
                .unwrap_err()
                .to_string()
        };
        assert!(bad("[net]\nlisten = [\"nowhere\"]\n").contains("not a multiaddr"));
        assert!(bad("[net]\nbootstrap = [\"/ip4/1.2.3.4/tcp/1\"]\n").contains("/p2p/"));
        assert!(bad("[net]\nmarkets = [\"DOGE/EUR\"]\n").contains("DOGE"));
        assert!(bad("[net]\nmarkets = [\"BTCEUR\"]\n").contains("BASE/QUOTE"));
    }

    #[test]
    fn load_reads_the_file_in_the_data_dir() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE_NAME), "[log]\nfile = false\n").unwrap();
        assert!(!Config::load(dir.path(), &[]).unwrap().log.file);
    }
}
