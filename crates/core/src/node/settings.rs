//! Settings: the chain backend and bootstrap peers in `souk.toml` (a new bootstrap peer is dialled
//! live), and the person's preferences stored in the database.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::{Node, join_error, online::dial_bootstrap};
use crate::{
    connection::{self, ChainCheck, ConnectionEdit, ConnectionSettings, ConnectionValues},
    error::{Error, Result},
    preferences::{self, Preferences},
};

/// How long a bootstrap peer added in the settings gets to answer the dial that applies it live.
const LIVE_DIAL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

impl Node {
    /// The chain backend and bootstrap peers: as saved in `souk.toml`, and as this node runs.
    /// Works locked and offline.
    pub fn connection_settings(&self) -> Result<ConnectionSettings> {
        let saved = ConnectionValues::of(&connection::read_saved(&self.data_dir)?);
        let running_bootstrap = self
            .online_plan
            .lock()
            .ok()
            .and_then(|plan| {
                plan.as_ref()
                    .map(|p| p.net.bootstrap.iter().map(ToString::to_string).collect())
            })
            .unwrap_or_else(|| self.config.net.bootstrap.clone());
        let running_tor = self
            .online_plan
            .lock()
            .ok()
            .and_then(|plan| plan.as_ref().map(|p| p.net.tor.is_some()))
            .unwrap_or(self.config.net.tor);
        let running =
            ConnectionValues::from_parts(&self.config.chain, &running_bootstrap, running_tor);
        // The chain backend is read once, at start; bootstrap peers new to a running network are
        // dialled when saved, so only those not reached yet wait for a restart.
        let chain_changed = self
            .file_at_start
            .as_ref()
            .is_some_and(|start| !same_chain(start, &saved));
        let bootstrap_waiting = saved
            .bootstrap
            .iter()
            .any(|a| !running.bootstrap.contains(a));
        // Tor mode switches on or off only with a start.
        let tor_changed = saved.tor != running.tor;
        let restart_needed = chain_changed || bootstrap_waiting || tor_changed;
        Ok(ConnectionSettings {
            path: connection::file_path(&self.data_dir).display().to_string(),
            saved,
            running,
            env_overrides: connection::env_overrides(),
            restart_needed,
        })
    }

    /// Saves the chain backend and bootstrap peers into `souk.toml` (see [`connection::save`]). A
    /// bootstrap peer new to the running network is dialled at once; the rest applies on restart.
    pub async fn save_connection_settings(&self, edit: ConnectionEdit) -> Result<SavedConnection> {
        let addrs = edit.validate()?;
        let me = self
            .unlocked
            .lock()
            .await
            .as_ref()
            .map(|u| u.identity.peer_id());
        if let Some(me) = me
            && let Some(own) = addrs.iter().find(|a| peer_of(a) == Some(me))
        {
            return Err(Error::InvalidInput(format!(
                "bootstrap peer {own} is this node itself: give another node's address"
            )));
        }
        let data_dir = self.data_dir.clone();
        let tor = edit.tor;
        tokio::task::spawn_blocking(move || connection::save(&data_dir, &edit))
            .await
            .map_err(join_error)??;
        let mut dialled = Vec::new();
        // A switch into or out of Tor mode waits for the next start: the running network could not
        // dial the other kind of address.
        let same_mode = self
            .online_plan
            .lock()
            .ok()
            .and_then(|plan| plan.as_ref().map(|p| p.net.tor.is_some() == tor))
            .unwrap_or(false);
        if same_mode && let Ok(net) = self.net().await {
            let running: Vec<libp2p::Multiaddr> = self
                .online_plan
                .lock()
                .ok()
                .and_then(|plan| plan.as_ref().map(|p| p.net.bootstrap.clone()))
                .unwrap_or_default();
            let fresh = addrs.iter().filter(|a| !running.contains(a)).map(|addr| {
                let net = net.clone();
                async move {
                    BootstrapDial {
                        addr: addr.to_string(),
                        error: dial_bootstrap(&net, addr, LIVE_DIAL_TIMEOUT)
                            .await
                            .err()
                            .map(|e| e.to_string()),
                    }
                }
            });
            dialled = futures::future::join_all(fresh).await;
            // The running network now answers to the saved list: a retry dials these.
            if let Ok(mut plan) = self.online_plan.lock()
                && let Some(plan) = plan.as_mut()
            {
                plan.net.bootstrap = addrs;
            }
        }
        Ok(SavedConnection {
            settings: self.connection_settings()?,
            dialled,
        })
    }

    /// Connects to the chain backend an edit describes and reports its chain, network and tip,
    /// or exactly why it cannot; saves nothing.
    pub async fn test_chain_connection(&self, edit: ConnectionEdit) -> Result<ChainCheck> {
        connection::test_chain(&self.data_dir, &edit, self.chain_proxy().await).await
    }

    /// The person's preferences (theme, notifications, payment accounts); defaults until saved.
    /// Works offline.
    pub async fn preferences(&self) -> Result<Preferences> {
        Ok(self
            .store()
            .await?
            .setting(preferences::KEY)
            .await?
            .unwrap_or_default())
    }

    /// Checks and stores the preferences whole; a refusal leaves the stored ones as they were.
    pub async fn save_preferences(&self, preferences: Preferences) -> Result<Preferences> {
        preferences.validate()?;
        let store = self.store().await?;
        let before: Option<Preferences> = store.setting(preferences::KEY).await.ok().flatten();
        store.set_setting(preferences::KEY, &preferences).await?;
        if before.is_none_or(|b| b.nickname != preferences.nickname)
            && let Ok(desk) = self.desk().await
        {
            desk.publish_again();
        }
        self.notification_prefs
            .send_replace(preferences.notifications);
        self.saved_searches
            .send_replace(preferences.saved_searches.clone());
        Ok(preferences)
    }
}

/// What a settings save did: the settings as they now stand, and the bootstrap peers new to the
/// running network, dialled at once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, utoipa::ToSchema)]
pub struct SavedConnection {
    pub settings: ConnectionSettings,
    pub dialled: Vec<BootstrapDial>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, utoipa::ToSchema)]
pub struct BootstrapDial {
    pub addr: String,
    /// `None` when connected.
    pub error: Option<String>,
}

/// The same chain backend settings (bootstrap peers aside).
fn same_chain(a: &ConnectionValues, b: &ConnectionValues) -> bool {
    (
        &a.chain,
        &a.network,
        &a.rpc_url,
        &a.rpc_user,
        a.rpc_password_set,
        &a.rpc_cookie_file,
    ) == (
        &b.chain,
        &b.network,
        &b.rpc_url,
        &b.rpc_user,
        b.rpc_password_set,
        &b.rpc_cookie_file,
    )
}

fn peer_of(addr: &libp2p::Multiaddr) -> Option<libp2p::PeerId> {
    match addr.iter().last() {
        Some(libp2p::multiaddr::Protocol::P2p(peer)) => Some(peer),
        _ => None,
    }
}
