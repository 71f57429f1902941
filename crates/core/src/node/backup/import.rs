//! Importing a backup into an empty data directory: the file opened and every part checked, then placed beside
//! its final name and linked into place, undone if any step fails; the identity unlocked.

use std::{
    fs,
    path::{Path, PathBuf},
};

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::{BackupSummary, count_trades, write_new};
use crate::{
    backup::{self, BackupError, Contents, Entry},
    error::{Error, Result},
    identity::keystore,
    node::{IdentityInfo, Node, join_error, lifecycle::create_private_dir},
    startup::StartupPhase,
    store::{self, BindOutcome, Store},
};

/// A backup imported into this (empty) data directory: the identity now unlocked and what was restored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, utoipa::ToSchema)]
pub struct ImportedBackup {
    pub identity: IdentityInfo,
    pub backup: BackupSummary,
    /// The backup's `souk.toml` was written (there was none): its settings apply from the next start.
    pub config_restored: bool,
}

impl Node {
    /// Restores a backup into this node's data directory, which must hold no identity and no database,
    /// and unlocks it. `passphrase` is the one the backup was made with (its keystore's).
    pub async fn import_backup(&self, source: &str, passphrase: &str) -> Result<ImportedBackup> {
        // Refused before anything is touched: a running node's startup record stays as it is.
        self.refuse_used_data_dir()?;
        self.startup.reset();
        self.startup.begin(StartupPhase::Keystore);
        let opened = self
            .open_backup(source, passphrase)
            .await
            .inspect_err(|e| self.startup.fail(StartupPhase::Keystore, e))?;
        self.startup
            .done(StartupPhase::Keystore, "opened from the backup");
        let (identity, summary, contents) = opened;
        let imported = self
            .startup
            .run(
                StartupPhase::Database,
                async {
                    let (store, config_restored, backup) =
                        self.place_backup(&identity, summary, contents).await?;
                    store.bind_identity(&identity.peer_id().to_string()).await?;
                    let identity = self.finish_unlock(identity, store).await?;
                    tracing::info!(peer_id = %identity.peer_id, from = %backup.path, "backup imported");
                    Ok(ImportedBackup {
                        identity,
                        backup,
                        config_restored,
                    })
                },
                imported_detail,
            )
            .await?;
        self.arm_auto_backup(passphrase).await;
        Ok(imported)
    }

    /// Reads and opens the backup at `source` and the keystore in it; refuses a used data directory first.
    async fn open_backup(
        &self,
        source: &str,
        passphrase: &str,
    ) -> Result<(crate::identity::Identity, BackupSummary, Contents)> {
        self.refuse_used_data_dir()?;
        let path = PathBuf::from(source.trim());
        if source.trim().is_empty() {
            return Err(Error::InvalidInput("name the backup file to import".into()));
        }
        let size = fs::metadata(&path)
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => {
                    Error::InvalidInput(format!("no backup file at {}", path.display()))
                }
                _ => Error::io(format!("reading {}", path.display()), e),
            })?
            .len();
        if path.is_dir() {
            return Err(Error::InvalidInput(format!(
                "{} is a folder: name the backup file in it",
                path.display()
            )));
        }
        if size > backup::MAX_BYTES {
            return Err(BackupError::TooLarge { bytes: size }.into());
        }
        let bytes =
            fs::read(&path).map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
        let pass = passphrase.to_owned();
        let (header, contents, identity) = tokio::task::spawn_blocking(move || {
            let (header, contents) = backup::open(&bytes, &pass)?;
            let identity = keystore::unseal(&contents.keystore, &pass).map_err(|e| match e {
                crate::identity::KeystoreError::WrongPassphrase => BackupError::Corrupt(
                    "its keystore does not open with the backup's passphrase".into(),
                ),
                other => BackupError::Corrupt(format!("its keystore: {other}")),
            })?;
            if identity.peer_id() != header.peer_id {
                return Err(BackupError::Corrupt(format!(
                    "its keystore belongs to {}, not to {} named in its header",
                    identity.peer_id(),
                    header.peer_id
                )));
            }
            Ok::<_, BackupError>((header, contents, identity))
        })
        .await
        .map_err(join_error)??;
        let summary = BackupSummary {
            path: path.display().to_string(),
            peer_id: header.peer_id.to_string(),
            created_at_ms: header.created_at_ms,
            bytes: size,
            trades: 0,
            open_trades: 0,
            has_config: contents.config.is_some(),
        };
        Ok((identity, summary, contents))
    }

    /// A backup goes only where nothing would be replaced or mixed: no keystore and no database.
    fn refuse_used_data_dir(&self) -> Result<()> {
        if self.keystore_path().exists() {
            return Err(Error::InvalidInput(format!(
                "{} already holds an identity ({}): a backup is imported only into an empty data \
                 directory; nothing was changed",
                self.data_dir.display(),
                keystore::FILE_NAME
            )));
        }
        for name in [
            store::FILE_NAME.to_owned(),
            format!("{}-wal", store::FILE_NAME),
        ] {
            if self.data_dir.join(&name).exists() {
                return Err(Error::InvalidInput(format!(
                    "{} already holds a database ({name}): a backup is imported only into an empty \
                     data directory; nothing was changed",
                    self.data_dir.display()
                )));
            }
        }
        Ok(())
    }

    /// Checks the backup's database, then links database, settings and keystore into place (the keystore
    /// last: it is what makes the directory "initialised"). Removes what it placed if a step fails.
    async fn place_backup(
        &self,
        identity: &crate::identity::Identity,
        mut summary: BackupSummary,
        contents: Contents,
    ) -> Result<(Store, bool, BackupSummary)> {
        self.refuse_used_data_dir()?;
        create_private_dir(&self.data_dir)?;
        let staging = Staging::new(&self.data_dir);
        let result = async {
            let db_staged = staging.write(Entry::Database, &contents.database)?;
            let store = Store::open(&db_staged).await?;
            let checked = check_database(&store, identity).await;
            store.close().await;
            let (trades, open_trades) = checked?;
            summary.trades = trades;
            summary.open_trades = open_trades;
            let config_restored = match &contents.config {
                Some(bytes) if !self.data_dir.join(Entry::Config.file_name()).exists() => {
                    staging.write(Entry::Config, bytes)?;
                    true
                }
                _ => false,
            };
            staging.write(Entry::Keystore, &contents.keystore)?;
            staging.place(Entry::Database)?;
            if config_restored {
                staging.place(Entry::Config)?;
            }
            staging.place(Entry::Keystore)?;
            let store = Store::open(&self.db_path()).await?;
            Ok((store, config_restored, summary))
        }
        .await;
        if result.is_err() {
            staging.undo();
        }
        staging.clean();
        result
    }
}

/// The database of a backup belongs to the backup's identity and is readable: its trades, counted.
async fn check_database(store: &Store, identity: &crate::identity::Identity) -> Result<(u32, u32)> {
    let peer_id = identity.peer_id().to_string();
    if let BindOutcome::Other(owner) = store.bind_identity(&peer_id).await? {
        return Err(BackupError::Corrupt(format!(
            "its database belongs to identity {owner}, not to {peer_id}"
        ))
        .into());
    }
    let ok: String = sqlx::query_scalar("PRAGMA quick_check")
        .fetch_one(store.pool())
        .await
        .map_err(store::StoreError::from)?;
    if ok != "ok" {
        return Err(
            BackupError::Corrupt(format!("its database fails SQLite's check: {ok}")).into(),
        );
    }
    count_trades(store).await
}

fn imported_detail(imported: &ImportedBackup) -> String {
    format!(
        "schema version {} (from a backup)",
        imported.identity.schema_version
    )
}

/// Files written beside their final names (`.import-<name>`), then linked into place.
struct Staging {
    dir: PathBuf,
    placed: std::sync::Mutex<Vec<PathBuf>>,
}

impl Staging {
    fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_path_buf(),
            placed: Default::default(),
        }
    }

    fn staged(&self, entry: Entry) -> PathBuf {
        self.dir.join(format!(".import-{}", entry.file_name()))
    }

    fn write(&self, entry: Entry, bytes: &[u8]) -> Result<PathBuf> {
        let path = self.staged(entry);
        // A staged file of an import that died half-way is ours to replace.
        let _ = fs::remove_file(&path);
        write_new(&path, bytes)?;
        Ok(path)
    }

    /// A hard link never replaces a file: one that appeared meanwhile stops the import.
    fn place(&self, entry: Entry) -> Result<()> {
        let target = self.dir.join(entry.file_name());
        fs::hard_link(self.staged(entry), &target)
            .map_err(|e| Error::io(format!("placing {} from the backup", target.display()), e))?;
        self.placed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(target);
        Ok(())
    }

    fn undo(&self) {
        let placed = self
            .placed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for path in placed.iter() {
            let _ = fs::remove_file(path);
        }
        for suffix in ["-wal", "-shm"] {
            let _ = fs::remove_file(self.dir.join(format!("{}{suffix}", store::FILE_NAME)));
        }
    }

    fn clean(&self) {
        for entry in Entry::ALL {
            let staged = self.staged(entry);
            let _ = fs::remove_file(&staged);
            for suffix in ["-wal", "-shm", "-journal"] {
                let mut side = staged.clone().into_os_string();
                side.push(suffix);
                let _ = fs::remove_file(side);
            }
        }
    }
}
