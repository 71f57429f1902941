//! An edit of the connection settings checked field by field (each error names its field), and what
//! it stands for in `souk.toml`'s terms.

use std::{
    path::{Path, PathBuf},
    str::FromStr,
};

use libp2p::{Multiaddr, multiaddr::Protocol};

use super::{ConnectionEdit, MAX_BOOTSTRAP, MAX_FIELD_CHARS, invalid};
use crate::{Error, config::ChainConfig};

fn has_control(text: &str) -> bool {
    text.chars().any(char::is_control)
}

impl ConnectionEdit {
    /// Checks the chain fields; the error names the field.
    pub fn validate_chain(&self) -> Result<(), Error> {
        let electrum = self.electrum_url.trim();
        if !electrum.is_empty() {
            let rest = electrum
                .strip_prefix("tcp://")
                .or_else(|| electrum.strip_prefix("ssl://"))
                .ok_or_else(|| {
                    invalid(format!(
                        "Electrum server {electrum:?} must start with tcp:// or ssl:// (TLS), e.g. ssl://electrum.example.org:50002"
                    ))
                })?;
            let valid = rest.rsplit_once(':').is_some_and(|(host, port)| {
                !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0)
            });
            if !valid
                || has_control(electrum)
                || electrum.chars().any(char::is_whitespace)
                || electrum.chars().count() > MAX_FIELD_CHARS
            {
                return Err(invalid(format!(
                    "Electrum server {electrum:?} must be tcp://HOST:PORT or ssl://HOST:PORT"
                )));
            }
        }
        let pin = self.electrum_cert_sha256.trim();
        if !pin.is_empty() {
            crate::chain::tls::parse_fingerprint(pin).map_err(|_| {
                invalid(format!(
                    "certificate fingerprint {pin:?} must be a SHA-256 fingerprint: 64 hex digits, colons allowed (AB:CD:…)"
                ))
            })?;
            if !electrum.starts_with("ssl://") {
                return Err(invalid(
                    "a certificate fingerprint is for an Electrum server over TLS (ssl://…)".into(),
                ));
            }
        }
        let url = self.rpc_url.trim();
        if !url.is_empty() {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(invalid(format!(
                    "RPC URL {url:?} must start with http:// or https://, e.g. http://127.0.0.1:9332/"
                )));
            }
            if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(invalid(format!("RPC URL {url:?} contains spaces")));
            }
            let parsed = reqwest::Url::parse(url)
                .map_err(|e| invalid(format!("RPC URL {url:?} is not a URL: {e}")))?;
            if parsed.host_str().is_none_or(str::is_empty) {
                return Err(invalid(format!("RPC URL {url:?} names no host")));
            }
            if url.chars().count() > MAX_FIELD_CHARS {
                return Err(invalid("RPC URL is too long".into()));
            }
        }
        if self.rpc_user.contains(':') {
            return Err(invalid(
                "RPC user cannot contain ':' (HTTP basic authentication splits on it)".into(),
            ));
        }
        if has_control(&self.rpc_user) || self.rpc_user.chars().count() > MAX_FIELD_CHARS {
            return Err(invalid(
                "RPC user contains control characters or is too long".into(),
            ));
        }
        if let Some(password) = &self.rpc_password
            && (has_control(password) || password.chars().count() > MAX_FIELD_CHARS)
        {
            return Err(invalid(
                "RPC password contains control characters (a line break?) or is too long".into(),
            ));
        }
        let cookie = self.rpc_cookie_file.trim();
        if !cookie.is_empty() {
            if has_control(cookie) || cookie.chars().count() > MAX_FIELD_CHARS {
                return Err(invalid(
                    "RPC cookie file contains control characters or is too long".into(),
                ));
            }
            if !Path::new(cookie).is_absolute() {
                return Err(invalid(format!(
                    "RPC cookie file {cookie:?} must be a full path, e.g. /home/you/.litecoin/.cookie"
                )));
            }
        }
        Ok(())
    }

    /// Checks the bootstrap list: multiaddrs ending in `/p2p/<PeerId>`, each once.
    pub fn validate_bootstrap(&self) -> Result<Vec<Multiaddr>, Error> {
        if self.bootstrap.len() > MAX_BOOTSTRAP {
            return Err(invalid(format!(
                "at most {MAX_BOOTSTRAP} bootstrap peers, not {}",
                self.bootstrap.len()
            )));
        }
        let mut addrs: Vec<Multiaddr> = Vec::with_capacity(self.bootstrap.len());
        for (i, text) in self.bootstrap.iter().enumerate() {
            let which = format!("bootstrap peer {}", i + 1);
            let text = text.trim();
            if text.is_empty() {
                return Err(invalid(format!("{which} is empty")));
            }
            let addr = Multiaddr::from_str(text).map_err(|e| {
                invalid(format!(
                    "{which} ({text}) is not a multiaddr like /ip4/203.0.113.7/tcp/4001/p2p/12D3KooW…: {e}"
                ))
            })?;
            if !matches!(addr.iter().last(), Some(Protocol::P2p(_))) {
                return Err(invalid(format!(
                    "{which} ({text}) does not end in /p2p/<PeerId>: Souk must know whom it dials"
                )));
            }
            if addrs.contains(&addr) {
                return Err(invalid(format!("{which} ({text}) is listed twice")));
            }
            if self.tor && !crate::net::tor::is_onion(&addr) {
                return Err(invalid(format!(
                    "{which} ({text}) is not an onion address: in Tor mode Souk reaches peers only at \
                     /onion3/…/p2p/<PeerId> addresses"
                )));
            }
            addrs.push(addr);
        }
        Ok(addrs)
    }

    pub fn validate(&self) -> Result<Vec<Multiaddr>, Error> {
        self.validate_chain()?;
        self.validate_bootstrap()
    }

    /// The chain settings this edit stands for, on top of `base` (which gives the saved password
    /// and the keys the screen does not edit).
    pub(super) fn chain_config(&self, base: &ChainConfig) -> ChainConfig {
        let cookie = self.rpc_cookie_file.trim();
        ChainConfig {
            chain: self.chain,
            network: self.network,
            rpc_url: self.rpc_url.trim().to_owned(),
            rpc_user: self.rpc_user.clone(),
            rpc_password: self
                .rpc_password
                .clone()
                .unwrap_or_else(|| base.rpc_password.clone()),
            rpc_cookie_file: (!cookie.is_empty()).then(|| PathBuf::from(cookie)),
            electrum_url: self.electrum_url.trim().to_owned(),
            electrum_cert_sha256: self.electrum_cert_sha256.trim().to_owned(),
            ..base.clone()
        }
    }

    pub(super) fn bootstrap_texts(&self) -> Vec<String> {
        self.bootstrap.iter().map(|a| a.trim().to_owned()).collect()
    }
}
