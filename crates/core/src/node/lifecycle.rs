//! Creating, restoring and unlocking an identity, the status a shell shows first, and the shutdown.
//! Opens the keystore and the database; never starts the network (see `online`).

use std::path::Path;

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::{
    Node, Unlocked,
    first_run::{SetupChoices, TorChoice},
    join_error,
};
use crate::{
    book::Book,
    error::{Error, Result},
    identity::{Identity, SeedPhrase, keystore},
    startup::StartupPhase,
    store::{self, Store},
};

/// What a shell shows first: set-up, the unlock screen, or the app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, utoipa::ToSchema)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum AppStatus {
    NeedsSetup { data_dir: String },
    Locked { data_dir: String, peer_id: String },
    Unlocked { identity: IdentityInfo },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, utoipa::ToSchema)]
pub struct IdentityInfo {
    pub peer_id: String,
    pub data_dir: String,
    pub schema_version: u32,
    /// This node arbitrates disputes (`[trade] arbitrator`, `--arbitrator`): the shells show its disputes.
    pub arbitrator: bool,
}

/// A new identity and, this once, its seed words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, utoipa::ToSchema)]
pub struct CreatedIdentity {
    pub identity: IdentityInfo,
    pub words: Vec<String>,
}

impl Node {
    pub async fn status(&self) -> Result<AppStatus> {
        if let Some(u) = self.unlocked.lock().await.as_ref() {
            return Ok(AppStatus::Unlocked {
                identity: self.info(u).await?,
            });
        }
        let path = self.keystore_path();
        let status = match tokio::task::spawn_blocking(move || keystore::peer_id(&path))
            .await
            .map_err(join_error)?
            .map_err(Error::from)
        {
            Ok(peer_id) => AppStatus::Locked {
                data_dir: self.data_dir_string(),
                peer_id: peer_id.to_string(),
            },
            Err(Error::NotInitialized(_)) => AppStatus::NeedsSetup {
                data_dir: self.data_dir_string(),
            },
            Err(e) => return Err(e),
        };
        Ok(status)
    }

    /// Creates a new identity in an empty data directory. The words are returned once and never stored
    /// in the clear.
    pub async fn create_identity(&self, passphrase: &str) -> Result<CreatedIdentity> {
        self.create_identity_with(passphrase, SetupChoices::default())
            .await
    }

    /// [`Self::create_identity`] with what the person chose for the first start (Tor mode), saved in
    /// `souk.toml` and applied to the start that follows; a choice that cannot run is refused first.
    pub async fn create_identity_with(
        &self,
        passphrase: &str,
        choices: SetupChoices,
    ) -> Result<CreatedIdentity> {
        self.refuse_when_unlocked().await?;
        let tor = self.check_setup_choices(choices)?;
        self.startup.reset();
        self.startup.begin(StartupPhase::Keystore);
        let identity =
            tokio::task::spawn_blocking(|| SeedPhrase::generate().and_then(Identity::from_phrase))
                .await
                .map_err(join_error)
                .and_then(|r| r.map_err(Error::from))
                .inspect_err(|e| self.startup.fail(StartupPhase::Keystore, e))?;
        let words = identity.seed_words();
        let info = self.install(identity, passphrase, tor).await?;
        Ok(CreatedIdentity {
            identity: info,
            words,
        })
    }

    /// Re-creates an identity from its seed words. A database left in the data directory by the same
    /// identity is kept, with all its trades; one of another identity is refused.
    pub async fn restore_identity(&self, words: &str, passphrase: &str) -> Result<IdentityInfo> {
        self.restore_identity_with(words, passphrase, SetupChoices::default())
            .await
    }

    /// [`Self::restore_identity`] with what the person chose for the first start (Tor mode), as
    /// [`Self::create_identity_with`] takes it.
    pub async fn restore_identity_with(
        &self,
        words: &str,
        passphrase: &str,
        choices: SetupChoices,
    ) -> Result<IdentityInfo> {
        self.refuse_when_unlocked().await?;
        let tor = self.check_setup_choices(choices)?;
        self.startup.reset();
        self.startup.begin(StartupPhase::Keystore);
        let words = words.to_owned();
        let identity = tokio::task::spawn_blocking(move || {
            SeedPhrase::parse(&words).and_then(Identity::from_phrase)
        })
        .await
        .map_err(join_error)
        .and_then(|r| r.map_err(Error::from))
        .inspect_err(|e| self.startup.fail(StartupPhase::Keystore, e))?;
        self.install(identity, passphrase, tor).await
    }

    /// Writes the keystore (the Keystore phase, begun by the caller) and opens the database. A Tor
    /// choice is saved with the keystore and applies from then on, whatever the database does.
    async fn install(
        &self,
        identity: Identity,
        passphrase: &str,
        tor: Option<TorChoice>,
    ) -> Result<IdentityInfo> {
        let result = self
            .install_keystore(identity, passphrase, tor.is_some())
            .await;
        let (identity, store) =
            result.inspect_err(|e| self.startup.fail(StartupPhase::Keystore, e))?;
        if let Some(tor) = tor {
            self.apply_tor_choice(tor);
        }
        self.startup
            .done(StartupPhase::Keystore, "created and encrypted");
        let info = self
            .startup
            .run(
                StartupPhase::Database,
                async {
                    store.bind_identity(&identity.peer_id().to_string()).await?;
                    self.finish_unlock(identity, store).await
                },
                database_detail,
            )
            .await?;
        tracing::info!(peer_id = %info.peer_id, data_dir = %self.data_dir.display(), "identity installed");
        self.arm_auto_backup(passphrase).await;
        Ok(info)
    }

    /// With `tor`, `[net] tor = true` is saved just before the keystore is written, and taken back out
    /// when that fails.
    async fn install_keystore(
        &self,
        identity: Identity,
        passphrase: &str,
        tor: bool,
    ) -> Result<(Identity, Store)> {
        let keystore_path = self.keystore_path();
        if keystore_path.exists() {
            return Err(Error::AlreadyInitialized(self.data_dir.clone()));
        }
        if passphrase.chars().count() < crate::identity::MIN_PASSPHRASE_CHARS {
            return Err(crate::identity::KeystoreError::WeakPassphrase.into());
        }
        create_private_dir(&self.data_dir)?;
        // The database is checked before the keystore is written, so a refusal leaves no keystore behind.
        let store = self.open_store_for(&identity).await?;
        let tor_saved = match tor {
            true => self.save_tor_choice().await?,
            false => false,
        };
        let (cost, pass) = (self.kdf_cost, passphrase.to_owned());
        let written = tokio::task::spawn_blocking(move || {
            keystore::create(&keystore_path, &identity, &pass, cost).map(|()| identity)
        })
        .await
        .map_err(join_error)
        .and_then(|r| r.map_err(Error::from));
        if written.is_err() && tor_saved {
            self.undo_tor_choice().await;
        }
        Ok((written?, store))
    }

    /// Opens the keystore with `passphrase` and the database behind it, recording both phases in
    /// [`Self::startup_progress`]. Once unlocked, unlocking again (a second click, a second window) only
    /// checks the passphrase: the running node, its network and its startup record stay as they are.
    pub async fn unlock(&self, passphrase: &str) -> Result<IdentityInfo> {
        if let Some(running) = self.running_identity().await? {
            let (path, pass) = (self.keystore_path(), passphrase.to_owned());
            tokio::task::spawn_blocking(move || keystore::open(&path, &pass))
                .await
                .map_err(join_error)??;
            return Ok(running);
        }
        self.startup.reset();
        let (path, pass) = (self.keystore_path(), passphrase.to_owned());
        let identity = self
            .startup
            .run(
                StartupPhase::Keystore,
                async {
                    tokio::task::spawn_blocking(move || keystore::open(&path, &pass))
                        .await
                        .map_err(join_error)?
                        .map_err(Error::from)
                },
                |_| "opened".into(),
            )
            .await?;
        let info = self
            .startup
            .run(
                StartupPhase::Database,
                async {
                    let store = self.open_store_for(&identity).await?;
                    store.bind_identity(&identity.peer_id().to_string()).await?;
                    self.finish_unlock(identity, store).await
                },
                database_detail,
            )
            .await?;
        self.arm_auto_backup(passphrase).await;
        Ok(info)
    }

    async fn open_store_for(&self, identity: &Identity) -> Result<Store> {
        let store = Store::open(&self.db_path()).await?;
        let peer_id = identity.peer_id().to_string();
        let owner: Option<String> = sqlx::query_scalar("SELECT peer_id FROM identity WHERE id = 1")
            .fetch_optional(store.pool())
            .await
            .map_err(store::StoreError::from)?;
        if let Some(owner) = owner.filter(|o| *o != peer_id) {
            store.close().await;
            return Err(Error::InvalidInput(format!(
                "the database in {} belongs to identity {owner}, not {peer_id}; use another data directory",
                self.data_dir.display()
            )));
        }
        Ok(store)
    }

    pub(super) async fn finish_unlock(
        &self,
        identity: Identity,
        store: Store,
    ) -> Result<IdentityInfo> {
        let book = Book::new(&store);
        let unlocked = Unlocked {
            identity,
            store,
            book,
            market: None,
            desk: None,
            alerts: None,
            auto_backup: None,
            tor: None,
            tor_mode: false,
        };
        let mut slot = self.unlocked.lock().await;
        if let Some(running) = slot.as_ref() {
            // Another unlock won the race: it keeps running, this one's database handle is closed.
            let info = self.info(running).await;
            drop(slot);
            close(unlocked).await;
            return info;
        }
        let info = self.info(&unlocked).await?;
        *slot = Some(unlocked);
        Ok(info)
    }

    /// The identity this process has unlocked, if any.
    async fn running_identity(&self) -> Result<Option<IdentityInfo>> {
        match self.unlocked.lock().await.as_ref() {
            Some(u) => Ok(Some(self.info(u).await?)),
            None => Ok(None),
        }
    }

    /// Setting up an identity (create, restore, import) is refused once one is unlocked, before anything
    /// is touched: the running node and its startup record stay as they are.
    async fn refuse_when_unlocked(&self) -> Result<()> {
        match self.unlocked.lock().await.is_some() {
            true => Err(Error::AlreadyInitialized(self.data_dir.clone())),
            false => Ok(()),
        }
    }

    async fn info(&self, u: &Unlocked) -> Result<IdentityInfo> {
        let version = u.store.schema_version().await?;
        Ok(IdentityInfo {
            peer_id: u.identity.peer_id().to_string(),
            data_dir: self.data_dir_string(),
            schema_version: u32::try_from(version)
                .map_err(|_| Error::Internal(format!("schema version {version}")))?,
            arbitrator: self.trade_config.arbitrator,
        })
    }

    /// Closes the database cleanly (checkpointing the WAL) and forgets the keys.
    pub async fn shutdown(&self) {
        if let Some(u) = self.unlocked.lock().await.take() {
            close(u).await;
        }
    }
}

async fn close(u: Unlocked) {
    if let Some(alerts) = u.alerts {
        alerts.shutdown().await;
    }
    if let Some(desk) = u.desk {
        desk.shutdown().await;
    }
    if let Some(market) = u.market {
        market.shutdown().await;
    }
    if let Some(tor) = u.tor {
        tor.stop().await;
    }
    u.store.close().await;
}

fn database_detail(info: &IdentityInfo) -> String {
    format!("schema version {}", info.schema_version)
}

pub(super) fn create_private_dir(dir: &Path) -> Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(dir)
        .map_err(|e| Error::io(format!("creating data directory {}", dir.display()), e))
}
