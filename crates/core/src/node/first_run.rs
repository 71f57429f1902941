//! What a person chooses about the network while setting up an identity (created or restored), before
//! the node first goes online: Tor mode. The choice is checked before anything is written, saved in
//! `souk.toml` (`[net] tor`, with the connection settings' own writer), and applied to the config this
//! node holds, which the start right after set-up goes online with: [`Node::go_online_in_background`]
//! and a retry read `[net]` from it. Starts nothing itself.

use std::{ops::Deref, sync::OnceLock};

use super::{Node, join_error};
use crate::{
    config::{Config, ConfigError},
    connection,
    error::{Error, Result},
};

/// What a person chose while setting up an identity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SetupChoices {
    /// Connect only through Tor, from this first start on (`[net] tor = true` is saved). `false`
    /// leaves `souk.toml` as it is: Tor mode set there by hand stays on.
    pub tor: bool,
}

/// The config a node runs with: as it was given, or as set-up amended it. Amended at most once, when
/// an identity is set up: the keystore exists from then on, so no second set-up can follow.
#[derive(Debug)]
pub(super) struct RunningConfig {
    given: Config,
    set_up: OnceLock<Config>,
}

impl RunningConfig {
    pub(super) fn new(given: Config) -> Self {
        Self {
            given,
            set_up: OnceLock::new(),
        }
    }
}

impl Deref for RunningConfig {
    type Target = Config;

    fn deref(&self) -> &Config {
        self.set_up.get().unwrap_or(&self.given)
    }
}

/// Tor mode chosen and checked: the config the first start runs with.
#[derive(Debug)]
pub(super) struct TorChoice(Config);

impl Node {
    /// Checks `choices` against the config this node runs with and against `souk.toml` as saved,
    /// touching nothing, and shows the Tor phase in the startup progress when this start will have one.
    /// Tor mode with a bootstrap peer that is not an onion address is refused here, before an identity
    /// is made, not when the network starts.
    pub(super) fn check_setup_choices(&self, choices: SetupChoices) -> Result<Option<TorChoice>> {
        let choice = match choices.tor {
            true => Some(self.check_tor_choice()?),
            false => None,
        };
        self.startup
            .set_tor(choice.is_some() || self.config.net.tor);
        Ok(choice)
    }

    fn check_tor_choice(&self) -> Result<TorChoice> {
        let path = connection::file_path(&self.data_dir);
        let refused = |e: ConfigError| {
            Error::InvalidInput(format!(
                "Tor mode cannot be used with these settings ({e}). Leave “Connect only through Tor” \
                 off for now, and switch Tor mode on in Settings once the bootstrap peers are onion \
                 addresses (or edit {}); nothing was changed",
                path.display()
            ))
        };
        let mut saved = connection::read_saved(&self.data_dir)?;
        saved.net.tor = true;
        saved.net.resolve().map_err(refused)?;
        let mut running = Config::clone(&self.config);
        running.net.tor = true;
        running.net.resolve().map_err(refused)?;
        Ok(TorChoice(running))
    }

    /// Saves a checked Tor choice in `souk.toml`; says whether the file changed (for [`Self::undo_tor_choice`]).
    pub(super) async fn save_tor_choice(&self) -> Result<bool> {
        let dir = self.data_dir.clone();
        tokio::task::spawn_blocking(move || connection::save_tor(&dir, true))
            .await
            .map_err(join_error)?
    }

    /// Takes a saved Tor choice back out of `souk.toml` after the set-up failed before its keystore
    /// was written: a refused set-up leaves Tor mode as it was.
    pub(super) async fn undo_tor_choice(&self) {
        let dir = self.data_dir.clone();
        let undone = tokio::task::spawn_blocking(move || connection::save_tor(&dir, false))
            .await
            .map_err(join_error)
            .and_then(|r| r);
        if let Err(e) = undone {
            tracing::warn!(error = %e, "a failed set-up could not switch Tor mode back off in souk.toml");
        }
    }

    /// The identity is set up: its start runs with the choice.
    pub(super) fn apply_tor_choice(&self, choice: TorChoice) {
        if self.config.set_up.set(choice.0).is_err() {
            tracing::warn!(
                "Tor mode was chosen on a node whose set-up had already amended its config"
            );
        }
    }
}

#[cfg(test)]
mod tests;
