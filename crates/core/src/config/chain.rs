//! `[chain]`: the chain node or Electrum server trades settle on, with its defaults (the local node's RPC
//! port for the chain and network) and a debug form that never shows the password.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::escrow::{Chain, Network};

/// The chain node trades settle on: which chain and network, and how to reach its JSON-RPC
/// (Bitcoin Core or Litecoin Core, pruned or not, no transaction index needed: escrows are watched in a
/// watch-only wallet Souk keeps on the node, so the node needs wallet support).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ChainConfig {
    pub chain: Chain,
    pub network: Network,
    /// `http://host:port/`; empty means the local node on its default port for the chain and network.
    pub rpc_url: String,
    pub rpc_user: String,
    pub rpc_password: String,
    /// The node's `.cookie` file; used instead of user and password when set.
    pub rpc_cookie_file: Option<PathBuf>,
    /// Confirmations before a funding counts; unset means 1 on regtest, 2 elsewhere.
    pub confirmations: Option<u32>,
    /// Lowest fee rate (sat/vB) ever used, and the rate used when the node has no estimate yet
    /// (always the case on a fresh regtest chain).
    pub fee_floor_sat_vb: u64,
    /// How long one RPC call may take.
    pub rpc_timeout_secs: u64,
    /// An Electrum server instead of a node of one's own: `tcp://host:port` or `ssl://host:port`
    /// (TLS). Empty: the Core node above.
    pub electrum_url: String,
    /// The SHA-256 fingerprint of the Electrum server's TLS certificate (hex, colons allowed): that
    /// certificate and no other is trusted, for a server with a self-signed one (most personal
    /// servers). Empty: the certificate must be signed by a public authority for the URL's host.
    pub electrum_cert_sha256: String,
    /// A SOCKS5 proxy (tor's, in Tor mode) the backend is reached through, names resolved by the
    /// proxy. Not a setting: the node sets it while Tor mode runs.
    #[serde(skip)]
    pub proxy: Option<std::net::SocketAddr>,
}

impl Default for ChainConfig {
    fn default() -> Self {
        Self {
            chain: Chain::Btc,
            network: Network::Main,
            rpc_url: String::new(),
            rpc_user: String::new(),
            rpc_password: String::new(),
            rpc_cookie_file: None,
            confirmations: None,
            fee_floor_sat_vb: 1,
            rpc_timeout_secs: 30,
            electrum_url: String::new(),
            electrum_cert_sha256: String::new(),
            proxy: None,
        }
    }
}

impl ChainConfig {
    /// The backend runs on this machine (a loopback address or `localhost`): in Tor mode it is
    /// reached directly, as nothing leaves the machine (tor refuses loopback targets anyway).
    pub fn is_local(&self) -> bool {
        let url = if self.uses_electrum() {
            self.electrum_url.trim().to_owned()
        } else {
            self.rpc_url()
        };
        let Ok(url) = reqwest::Url::parse(&url) else {
            return false;
        };
        let host = url
            .host_str()
            .unwrap_or_default()
            .trim_start_matches('[')
            .trim_end_matches(']');
        host.eq_ignore_ascii_case("localhost")
            || host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    }

    /// A chain node is named (an RPC URL or a cookie file): escrow trades can settle.
    pub fn is_configured(&self) -> bool {
        !self.rpc_url.trim().is_empty() || self.rpc_cookie_file.is_some() || self.uses_electrum()
    }

    /// Settles through an Electrum server rather than a Core node.
    pub fn uses_electrum(&self) -> bool {
        !self.electrum_url.trim().is_empty()
    }

    /// The configured URL, or the local node's default RPC port for this chain and network.
    pub fn rpc_url(&self) -> String {
        if !self.rpc_url.trim().is_empty() {
            return self.rpc_url.trim().to_owned();
        }
        let port = match (self.chain, self.network) {
            (Chain::Btc, Network::Main) => 8332,
            (Chain::Btc, Network::Test) => 18332,
            (Chain::Btc, Network::Signet) => 38332,
            (Chain::Btc, Network::Regtest) => 18443,
            (Chain::Ltc, Network::Main) => 9332,
            (Chain::Ltc, Network::Test) => 19332,
            (Chain::Ltc, Network::Signet) => 39332,
            (Chain::Ltc, Network::Regtest) => 19443,
        };
        format!("http://127.0.0.1:{port}/")
    }

    pub fn required_confirmations(&self) -> u32 {
        self.confirmations.unwrap_or(match self.network {
            Network::Regtest => 1,
            _ => 2,
        })
    }
}

impl std::fmt::Debug for ChainConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChainConfig")
            .field("chain", &self.chain)
            .field("network", &self.network)
            .field("rpc_url", &self.rpc_url)
            .field("rpc_user", &self.rpc_user)
            .field(
                "rpc_password",
                &if self.rpc_password.is_empty() {
                    ""
                } else {
                    "<redacted>"
                },
            )
            .field("rpc_cookie_file", &self.rpc_cookie_file)
            .field("confirmations", &self.confirmations)
            .field("fee_floor_sat_vb", &self.fee_floor_sat_vb)
            .field("rpc_timeout_secs", &self.rpc_timeout_secs)
            .field("electrum_url", &self.electrum_url)
            .field("electrum_cert_sha256", &self.electrum_cert_sha256)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_backend_on_this_machine_is_local_and_nothing_else_is() {
        let rpc = |url: &str| ChainConfig {
            rpc_url: url.into(),
            ..ChainConfig::default()
        };
        let electrum = |url: &str| ChainConfig {
            electrum_url: url.into(),
            ..ChainConfig::default()
        };
        // The default: the local node's port.
        assert!(ChainConfig::default().is_local());
        for local in [
            rpc("http://127.0.0.1:8332/"),
            rpc("http://user:secret@localhost:8332/"),
            rpc("http://[::1]:8332/"),
            electrum("tcp://127.0.0.1:50001"),
            electrum("ssl://localhost:50002"),
        ] {
            assert!(local.is_local(), "{local:?}");
        }
        for remote in [
            rpc("http://10.0.0.2:8332/"),
            rpc("http://node.example.org:8332/"),
            electrum("ssl://electrum.example.org:50002"),
            electrum("tcp://abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzab.onion:50001"),
            electrum("not a url"),
        ] {
            assert!(!remote.is_local(), "{remote:?}");
        }
    }
}
