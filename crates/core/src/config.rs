//! Settings that shape how a node runs: `souk.toml` in the data directory, then `SOUK_*` environment
//! variables, then command-line flags, each overriding the one before.
//!
//! Unknown keys are errors, never ignored: a typo must not silently fall back to a default.

mod chain;
mod net;
mod trade;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use self::{
    chain::ChainConfig,
    net::{DEFAULT_MARKETS, NetSettings, check_tor, parse_market},
    trade::{MAX_WATCH_EVERY_SECS, MAX_WINDOW_SECS, MIN_WINDOW_SECS, TradeConfig, TradeSettings},
};

pub const FILE_NAME: &str = "souk.toml";

/// Environment variables that override config keys (dotted paths into the TOML document).
pub const ENV_KEYS: &[(&str, &str)] = &[
    ("SOUK_LOG_LEVEL", "log.level"),
    ("SOUK_LOG_FILE", "log.file"),
    ("SOUK_PRICE_URL", "price.url"),
    ("SOUK_CHAIN", "chain.chain"),
    ("SOUK_NETWORK", "chain.network"),
    ("SOUK_RPC_URL", "chain.rpc_url"),
    ("SOUK_RPC_USER", "chain.rpc_user"),
    ("SOUK_RPC_PASSWORD", "chain.rpc_password"),
    ("SOUK_RPC_COOKIE_FILE", "chain.rpc_cookie_file"),
    ("SOUK_ELECTRUM_URL", "chain.electrum_url"),
    ("SOUK_ELECTRUM_CERT_SHA256", "chain.electrum_cert_sha256"),
    ("SOUK_CONFIRMATIONS", "chain.confirmations"),
    ("SOUK_MDNS", "net.mdns"),
    ("SOUK_TOR", "net.tor"),
    ("SOUK_TOR_BRIDGE", "net.tor_bridge"),
    ("SOUK_BACKUP_FOLDER", "backup.folder"),
    ("SOUK_BACKUP_KEEP", "backup.keep"),
    ("SOUK_ARBITRATOR", "trade.arbitrator"),
    ("SOUK_MAX_TAKES_PER_OFFER", "trade.max_takes_per_offer"),
    ("SOUK_WATCH_EVERY_SECS", "trade.watch_every_secs"),
    ("SOUK_FUNDING_WINDOW_SECS", "trade.funding_window_secs"),
    ("SOUK_PAYMENT_WINDOW_SECS", "trade.payment_window_secs"),
    ("SOUK_RELEASE_WINDOW_SECS", "trade.release_window_secs"),
    ("SOUK_ANSWER_WINDOW_SECS", "trade.answer_window_secs"),
    (
        "SOUK_MAX_TAKES_PER_PEER_PER_HOUR",
        "trade.max_takes_per_peer_per_hour",
    ),
];

/// Keys whose overrides are always strings, never read as TOML numbers or booleans: a password of
/// digits must stay the password it is.
const STRING_KEYS: &[&str] = &[
    "chain.rpc_url",
    "chain.rpc_user",
    "chain.rpc_password",
    "chain.rpc_cookie_file",
    "chain.electrum_url",
    "chain.electrum_cert_sha256",
    "backup.folder",
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
    pub chain: ChainConfig,
    pub net: NetSettings,
    pub trade: TradeSettings,
    pub backup: BackupConfig,
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

/// Automatic backups: `[backup]` in `souk.toml`. With `folder` set, a node writes an encrypted backup
/// (the file `souk backup export` makes, opened with the keystore passphrase) into it a moment after
/// each trade step or chat message, and keeps the newest `keep` of its own there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BackupConfig {
    /// A folder, best on another disk; unset: no automatic backups.
    pub folder: Option<PathBuf>,
    pub keep: u32,
}

impl Default for BackupConfig {
    fn default() -> Self {
        Self {
            folder: None,
            keep: 5,
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

    pub(crate) fn from_parts<'a>(
        origin: &str,
        text: &str,
        overrides: impl IntoIterator<Item = &'a Override>,
    ) -> Result<Self, ConfigError> {
        let mut doc: toml::Table = toml::from_str(text).map_err(|e| ConfigError::Invalid {
            origin: origin.into(),
            message: e.to_string(),
        })?;
        for o in overrides {
            let value = if STRING_KEYS.contains(&o.key.as_str()) {
                toml::Value::String(o.value.clone())
            } else {
                parse_scalar(&o.value)
            };
            set_dotted(&mut doc, &o.key, value).map_err(|message| ConfigError::Invalid {
                origin: o.origin.clone(),
                message,
            })?;
        }
        let config =
            Config::deserialize(toml::Value::Table(doc)).map_err(|e| ConfigError::Invalid {
                origin: origin.into(),
                message: e.to_string(),
            })?;
        if config.backup.keep == 0 {
            return Err(ConfigError::Invalid {
                origin: origin.into(),
                message: "[backup] keep must be at least 1 (to turn automatic backups off, leave \
                          `folder` out)"
                    .into(),
            });
        }
        Ok(config)
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
    use std::time::Duration;

    use super::*;
    use crate::{
        escrow::{Chain, Network},
        net::{DhtMode, NetConfig},
    };

    fn flag(key: &str, value: &str) -> Override {
        Override {
            origin: format!("--{key}"),
            key: key.into(),
            value: value.into(),
        }
    }

    #[test]
    fn backup_settings_come_from_the_file_and_the_environment_and_keep_is_at_least_one() {
        let config =
            Config::from_parts("f", "[backup]\nfolder = \"/mnt/usb\"\nkeep = 3\n", []).unwrap();
        assert_eq!(
            config.backup,
            BackupConfig {
                folder: Some("/mnt/usb".into()),
                keep: 3
            }
        );
        let config = Config::from_parts("f", "", &[flag("backup.folder", "1234")]).unwrap();
        assert_eq!(
            config.backup.folder,
            Some("1234".into()),
            "a folder of digits stays a path"
        );
        let err = Config::from_parts("f", "[backup]\nkeep = 0\n", [])
            .unwrap_err()
            .to_string();
        assert!(err.contains("at least 1"), "{err}");
        let err = Config::from_parts("f", "[backup]\nfolders = \"x\"\n", [])
            .unwrap_err()
            .to_string();
        assert!(err.contains("folders"), "{err}");
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
    fn chain_section_defaults_file_and_overrides() {
        let default = Config::from_parts("f", "", []).unwrap().chain;
        assert_eq!(
            (default.chain, default.network),
            (Chain::Btc, Network::Main)
        );
        assert_eq!(default.rpc_url(), "http://127.0.0.1:8332/");
        assert_eq!(default.required_confirmations(), 2);
        let text = "[chain]\nchain = \"ltc\"\nnetwork = \"regtest\"\nrpc_user = \"souk\"\n\
                    rpc_cookie_file = \"/var/lib/litecoin/.cookie\"\n";
        let chain = Config::from_parts("f", text, []).unwrap().chain;
        assert_eq!((chain.chain, chain.network), (Chain::Ltc, Network::Regtest));
        assert_eq!(chain.rpc_url(), "http://127.0.0.1:19443/");
        assert_eq!(chain.required_confirmations(), 1);
        assert_eq!(
            chain.rpc_cookie_file.as_deref(),
            Some(Path::new("/var/lib/litecoin/.cookie"))
        );
        let overridden = Config::from_parts(
            "f",
            text,
            &[
                flag("chain.network", "test"),
                flag("chain.rpc_url", "http://10.0.0.2:19332"),
                flag("chain.rpc_password", "12345"),
                flag("chain.confirmations", "6"),
            ],
        )
        .unwrap()
        .chain;
        assert_eq!(overridden.network, Network::Test);
        assert_eq!(overridden.rpc_url(), "http://10.0.0.2:19332");
        // Digits stay a string password, not a TOML integer.
        assert_eq!(overridden.rpc_password, "12345");
        assert_eq!(overridden.required_confirmations(), 6);
        assert!(!format!("{overridden:?}").contains("12345"));
        assert!(
            ENV_KEYS
                .iter()
                .any(|(var, key)| *var == "SOUK_RPC_PASSWORD" && *key == "chain.rpc_password")
        );
    }

    #[test]
    fn bad_chain_settings_are_errors_naming_the_key() {
        let err = Config::from_parts("souk.toml", "[chain]\nchain = \"doge\"\n", [])
            .unwrap_err()
            .to_string();
        assert!(err.contains("souk.toml") && err.contains("doge"), "{err}");
        let err = Config::from_parts("souk.toml", "[chain]\nrpc_pasword = \"x\"\n", [])
            .unwrap_err()
            .to_string();
        assert!(err.contains("rpc_pasword"), "{err}");
        let err = Config::from_parts("souk.toml", "", &[flag("chain.network", "mainet")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("mainet"), "{err}");
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
    fn tor_mode_from_the_net_section_or_the_environment() {
        let peer = "12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA";
        let onion = format!(
            "/onion3/vww6ybal4bd7szmgncyruucpgfkqahzddi37ktceo3ah7ngmcopnpyyd:4001/p2p/{peer}"
        );
        let text = format!(
            "[net]\ntor = true\ntor_binary = \"/usr/sbin/tor\"\ntor_config = [\"UseBridges 1\"]\n\
             bootstrap = [\"{onion}\"]\n"
        );
        let (net, _) = Config::from_parts("souk.toml", &text, [])
            .unwrap()
            .net
            .resolve()
            .unwrap();
        let tor = net.tor.expect("Tor mode");
        assert_eq!(tor.binary, std::path::PathBuf::from("/usr/sbin/tor"));
        assert_eq!(tor.extra_config, vec!["UseBridges 1".to_owned()]);

        // A clearnet bootstrap peer cannot be reached in Tor mode: said at once, by name.
        let clear = format!("[net]\nbootstrap = [\"/ip4/127.0.0.1/tcp/4001/p2p/{peer}\"]\n");
        let err = Config::from_parts("souk.toml", &clear, &[flag("net.tor", "true")])
            .unwrap()
            .net
            .resolve()
            .unwrap_err()
            .to_string();
        assert!(err.contains("only at onion addresses"), "{err}");
        // Without Tor mode the same settings are fine.
        let (net, _) = Config::from_parts("souk.toml", &clear, [])
            .unwrap()
            .net
            .resolve()
            .unwrap();
        assert!(net.tor.is_none());
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
    fn trade_section_defaults_file_env_keys_and_overrides() {
        let defaults = Config::from_parts("f", "", []).unwrap().trade;
        let trade = defaults.resolve().unwrap();
        assert!(!trade.arbitrator);
        assert_eq!(trade.max_open_takes, 1);
        assert_eq!(trade.watch_every, TradeConfig::default().watch_every);

        let text = "[trade]\narbitrator = true\nmax_takes_per_offer = 3\nwatch_every_secs = 2\n";
        let trade = Config::from_parts("f", text, [])
            .unwrap()
            .trade
            .resolve()
            .unwrap();
        assert!(trade.arbitrator);
        assert_eq!(trade.max_open_takes, 3);
        assert_eq!(trade.watch_every, std::time::Duration::from_secs(2));
        // Everything [trade] does not name keeps the desk's default.
        assert_eq!(trade.funding_window, TradeConfig::default().funding_window);

        // Flags (and the environment, which takes the same path) override the file.
        let overridden = Config::from_parts(
            "f",
            text,
            &[
                flag("trade.arbitrator", "false"),
                flag("trade.max_takes_per_offer", "5"),
            ],
        )
        .unwrap()
        .trade;
        assert!(!overridden.arbitrator);
        assert_eq!(overridden.max_takes_per_offer, 5);
        assert_eq!(overridden.watch_every_secs, 2);
        for (var, key) in [
            ("SOUK_ARBITRATOR", "trade.arbitrator"),
            ("SOUK_MAX_TAKES_PER_OFFER", "trade.max_takes_per_offer"),
            ("SOUK_WATCH_EVERY_SECS", "trade.watch_every_secs"),
        ] {
            assert!(
                ENV_KEYS.iter().any(|(v, k)| *v == var && *k == key),
                "{var} → {key}"
            );
        }
    }

    #[test]
    fn trade_section_refuses_typos_and_bad_values() {
        let err = Config::from_parts("souk.toml", "[trade]\narbitrater = true\n", [])
            .unwrap_err()
            .to_string();
        assert!(err.contains("arbitrater"), "{err}");
        let err = Config::from_parts("souk.toml", "", &[flag("trade.arbitrator", "maybe")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("arbitrator"), "{err}");
        let err = Config::from_parts("souk.toml", "[trade]\nmax_takes_per_offer = -1\n", [])
            .unwrap_err()
            .to_string();
        assert!(err.contains("max_takes_per_offer"), "{err}");
        let bad = |text: &str| {
            Config::from_parts("f", text, [])
                .unwrap()
                .trade
                .resolve()
                .unwrap_err()
                .to_string()
        };
        assert!(bad("[trade]\nmax_takes_per_offer = 0\n").contains("at least 1"));
        assert!(bad("[trade]\nwatch_every_secs = 0\n").contains("1 to 3600"));
        assert!(bad("[trade]\nwatch_every_secs = 86400\n").contains("86400"));
    }

    #[test]
    fn accepted_and_excluded_arbitrators_are_peer_ids() {
        let (a, b) = (libp2p::PeerId::random(), libp2p::PeerId::random());
        let text = format!("[trade]\narbitrators = [\"{a}\"]\nexclude_arbitrators = [\"{b}\"]\n");
        let trade = Config::from_parts("f", &text, [])
            .unwrap()
            .trade
            .resolve()
            .unwrap();
        assert_eq!(
            (trade.arbitrators, trade.exclude_arbitrators),
            (vec![a], vec![b])
        );
        let defaults = TradeSettings::default().resolve().unwrap();
        assert!(defaults.arbitrators.is_empty() && defaults.exclude_arbitrators.is_empty());
        let err = Config::from_parts("f", "[trade]\narbitrators = [\"nobody\"]\n", [])
            .unwrap()
            .trade
            .resolve()
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("arbitrators: `nobody` is not a peer id"),
            "{err}"
        );
    }

    #[test]
    fn trade_windows_default_file_env_and_flags() {
        let default = TradeConfig::default();
        let trade = Config::from_parts("f", "", []).unwrap().trade;
        assert_eq!(trade.payment_window_secs, None);
        let resolved = trade.resolve().unwrap();
        assert_eq!(resolved.funding_window, Duration::from_secs(24 * 3_600));
        assert_eq!(resolved.funding_window, default.funding_window);
        assert_eq!(resolved.payment_window, None, "absent: by payment method");
        assert_eq!(resolved.release_window, Duration::from_secs(24 * 3_600));
        assert_eq!(resolved.release_window, default.release_window);

        let text = "[trade]\nfunding_window_secs = 30\npayment_window_secs = 60\n\
                    release_window_secs = 90\n";
        let resolved = Config::from_parts("f", text, [])
            .unwrap()
            .trade
            .resolve()
            .unwrap();
        assert_eq!(resolved.funding_window, Duration::from_secs(30));
        assert_eq!(resolved.payment_window, Some(Duration::from_secs(60)));
        assert_eq!(resolved.release_window, Duration::from_secs(90));

        // The environment: each variable names its key and overrides the file (as `Config::load`
        // builds it, without touching this process's environment).
        let env = |var: &str, value: &str| {
            let (_, key) = ENV_KEYS.iter().find(|(v, _)| *v == var).unwrap();
            Override {
                origin: var.into(),
                key: (*key).into(),
                value: value.into(),
            }
        };
        let from_env = [
            env("SOUK_FUNDING_WINDOW_SECS", "5"),
            env("SOUK_PAYMENT_WINDOW_SECS", "6"),
            env("SOUK_RELEASE_WINDOW_SECS", "7"),
        ];
        let resolved = Config::from_parts("f", text, &from_env)
            .unwrap()
            .trade
            .resolve()
            .unwrap();
        assert_eq!(resolved.funding_window, Duration::from_secs(5));
        assert_eq!(resolved.payment_window, Some(Duration::from_secs(6)));
        assert_eq!(resolved.release_window, Duration::from_secs(7));

        // Flags come after the environment and win.
        let flags = [
            flag("trade.funding_window_secs", "2592000"),
            flag("trade.payment_window_secs", "1"),
        ];
        let resolved = Config::from_parts("f", text, from_env.iter().chain(&flags))
            .unwrap()
            .trade
            .resolve()
            .unwrap();
        assert_eq!(resolved.funding_window, Duration::from_secs(30 * 86_400));
        assert_eq!(resolved.payment_window, Some(Duration::from_secs(1)));
        assert_eq!(resolved.release_window, Duration::from_secs(7));
    }

    #[test]
    fn trade_windows_out_of_bounds_are_refused_naming_key_and_bounds() {
        let resolve = |text: &str| Config::from_parts("f", text, []).unwrap().trade.resolve();
        for key in [
            "funding_window_secs",
            "payment_window_secs",
            "release_window_secs",
        ] {
            assert!(resolve(&format!("[trade]\n{key} = 1\n")).is_ok(), "{key}");
            assert!(
                resolve(&format!("[trade]\n{key} = 2592000\n")).is_ok(),
                "{key}"
            );
            for bad in [0, MAX_WINDOW_SECS + 1] {
                let err = resolve(&format!("[trade]\n{key} = {bad}\n"))
                    .unwrap_err()
                    .to_string();
                assert!(
                    err.contains(&format!("{key} is {bad}"))
                        && err.contains("1 to 2592000 seconds (30 days)"),
                    "{err}"
                );
            }
            let err = Config::from_parts("f", "", &[flag(&format!("trade.{key}"), "-5")])
                .unwrap_err()
                .to_string();
            assert!(err.contains(key), "{err}");
        }
        let err = Config::from_parts("souk.toml", "[trade]\nfunding_windows_secs = 5\n", [])
            .unwrap_err()
            .to_string();
        assert!(err.contains("funding_windows_secs"), "{err}");
    }

    #[test]
    fn load_reads_the_file_in_the_data_dir() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE_NAME), "[log]\nfile = false\n").unwrap();
        assert!(!Config::load(dir.path(), &[]).unwrap().log.file);
    }
}
