//! One encrypted file from the data directory and back (the format is `crate::backup`).
//!
//! Export takes a consistent snapshot of the database while the node runs (`VACUUM INTO`, which reads
//! one transaction's view, the WAL included), adds the keystore file as it is on disk and `souk.toml`, and
//! seals them with the keystore's passphrase. Import goes only into a data directory without an identity
//! or a database: every file is checked first (the passphrase, the keystore's PeerId against the backup's,
//! the database's owner and schema), written beside its final name and linked into place without ever
//! replacing a file; a failure removes what it placed, so the directory is as it was.

use std::{
    fs,
    io::Write,
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use libp2p_identity::PeerId;
use tokio::sync::broadcast;

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::{IdentityInfo, Node, join_error, lifecycle::create_private_dir};
use crate::{
    backup::{self, BackupError, Contents, Entry, Header, Sealer},
    error::{Error, Result},
    identity::keystore,
    protocol::settlement::TradeState,
    startup::StartupPhase,
    store::{self, BindOutcome, Store},
    trading::TradeEvent,
};

/// A backup written or read: where, whose, from when, and what it holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, utoipa::ToSchema)]
pub struct BackupSummary {
    pub path: String,
    pub peer_id: String,
    pub created_at_ms: u64,
    pub bytes: u64,
    /// Trades in its database, and how many of them were still open when it was made.
    pub trades: u32,
    pub open_trades: u32,
    /// It holds a `souk.toml`.
    pub has_config: bool,
}

/// Most backups kept in the folder.
pub const MAX_KEEP: u32 = 100;

/// Automatic backups, as Settings shows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, utoipa::ToSchema)]
pub struct BackupSettings {
    /// Where a backup is written after each burst of trade steps; `None`: automatic backups are off.
    pub folder: Option<String>,
    /// How many of this identity's backups are kept there (the newest).
    pub keep: u32,
    /// Backups are being made now (the identity is unlocked and a folder set).
    pub running: bool,
    /// Environment variables that override `[backup]` at the next start (`SOUK_BACKUP_FOLDER`, …).
    pub overridden_by: Vec<String>,
}

/// A backup imported into this (empty) data directory: the identity now unlocked and what was restored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, utoipa::ToSchema)]
pub struct ImportedBackup {
    pub identity: IdentityInfo,
    pub backup: BackupSummary,
    /// The backup's `souk.toml` was written (there was none): its settings apply from the next start.
    pub config_restored: bool,
}

impl Node {
    /// Writes an encrypted backup of this node's identity, database and settings to `target`: a new file
    /// (an existing one is never replaced) or, when `target` is a folder, a new file in it named by the
    /// time. `passphrase` is the keystore's; the backup opens only with it.
    pub async fn export_backup(&self, target: &str, passphrase: &str) -> Result<BackupSummary> {
        let (store, peer_id) = self.backup_source().await?;
        let path = backup_target(target, now_ms_u64())?;
        // The passphrase must be the keystore's: a backup sealed with another would restore a keystore
        // its owner cannot open.
        let (keystore_path, pass, cost) =
            (self.keystore_path(), passphrase.to_owned(), self.kdf_cost);
        let sealer = tokio::task::spawn_blocking(move || {
            let bytes = fs::read(&keystore_path)
                .map_err(|e| Error::io(format!("reading {}", keystore_path.display()), e))?;
            keystore::unseal(&bytes, &pass)?;
            Ok::<_, Error>(Sealer::new(&pass, cost)?)
        })
        .await
        .map_err(join_error)??;
        write_backup(&store, &self.data_dir, peer_id, &Arc::new(sealer), &path).await
    }

    /// The unlocked database and identity a backup is made of.
    async fn backup_source(&self) -> Result<(Store, PeerId)> {
        let guard = self.unlocked.lock().await;
        let u = guard
            .as_ref()
            .ok_or(Error::NotInitialized(self.data_dir.clone()))?;
        Ok((u.store.clone(), u.identity.peer_id()))
    }

    /// With `[backup] folder` set, starts writing a backup there a moment after each burst of trade
    /// steps and messages (see [`AUTO_BACKUP_QUIET`]), keeping the newest `[backup] keep` of this
    /// identity's. Called once an identity is unlocked with `passphrase`, whose key it derives once.
    /// A failure to start or to write is logged and never stops the node.
    pub(super) async fn arm_auto_backup(&self, passphrase: &str) {
        let wanted = self.backup_now();
        let mut guard = self.unlocked.lock().await;
        let Some(u) = guard.as_mut() else { return };
        // A new arming replaces the old (its task ends when dropped).
        u.auto_backup = None;
        let Some(folder) = wanted.folder else {
            return;
        };
        let (store, peer_id) = (u.store.clone(), u.identity.peer_id());
        let (data_dir, keep) = (self.data_dir.clone(), wanted.keep.max(1) as usize);
        // Subscribed now, so no step made while the key is derived is missed; derived in the task, so
        // the unlock does not wait for the KDF.
        let events = self.trade_events.subscribe();
        let (pass, cost) = (
            zeroize::Zeroizing::new(passphrase.to_owned()),
            self.kdf_cost,
        );
        let task = async move {
            let sealer = match tokio::task::spawn_blocking(move || Sealer::new(&pass, cost)).await {
                Ok(Ok(sealer)) => Arc::new(sealer),
                Ok(Err(e)) => return tracing::warn!(error = %e, "no automatic backups"),
                Err(e) => return tracing::warn!(error = %e, "no automatic backups"),
            };
            tracing::info!(folder = %folder.display(), keep, "automatic backups on");
            let job = AutoBackupJob {
                folder,
                keep,
                store,
                data_dir,
                peer_id,
                sealer,
            };
            job.run(events).await;
        };
        u.auto_backup = Some(AutoBackup(tokio::spawn(task)));
    }

    fn backup_now(&self) -> crate::config::BackupConfig {
        self.backup_config
            .lock()
            .map(|c| c.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }

    /// Automatic backups as they stand: the folder (`None`: off), how many are kept, and whether they run
    /// now (the identity is unlocked and the folder set).
    pub async fn backup_settings(&self) -> Result<BackupSettings> {
        let now = self.backup_now();
        let running = self
            .unlocked
            .lock()
            .await
            .as_ref()
            .is_some_and(|u| u.auto_backup.is_some());
        Ok(BackupSettings {
            folder: now.folder.map(|f| f.display().to_string()),
            keep: now.keep,
            running,
            overridden_by: ["SOUK_BACKUP_FOLDER", "SOUK_BACKUP_KEEP"]
                .into_iter()
                .filter(|v| std::env::var_os(v).is_some())
                .map(String::from)
                .collect(),
        })
    }

    /// Turns automatic backups on (a folder) or off (an empty one), keeping the newest `keep`: checked
    /// (an absolute folder outside the data directory that this node can write to, `keep` 1–100, and
    /// for turning on the keystore's passphrase, which seals the backups), written to `souk.toml`'s
    /// `[backup]` and applied at once. A refusal changes nothing.
    pub async fn save_backup_settings(
        &self,
        folder: &str,
        keep: u32,
        passphrase: &str,
    ) -> Result<BackupSettings> {
        if !(1..=MAX_KEEP).contains(&keep) {
            return Err(Error::InvalidInput(format!(
                "keep {keep} backups? From 1 to {MAX_KEEP}"
            )));
        }
        let folder = folder.trim();
        let folder = (!folder.is_empty()).then(|| PathBuf::from(folder));
        if let Some(dir) = &folder {
            self.check_backup_folder(dir)?;
            let (keystore_path, pass) = (self.keystore_path(), passphrase.to_owned());
            tokio::task::spawn_blocking(move || {
                let bytes = fs::read(&keystore_path)
                    .map_err(|e| Error::io(format!("reading {}", keystore_path.display()), e))?;
                keystore::unseal(&bytes, &pass)?;
                Ok::<_, Error>(())
            })
            .await
            .map_err(join_error)??;
        }
        let (data_dir, to_file) = (self.data_dir.clone(), folder.clone());
        tokio::task::spawn_blocking(move || {
            crate::connection::save_backup(&data_dir, to_file.as_deref(), keep)
        })
        .await
        .map_err(join_error)??;
        if let Ok(mut now) = self.backup_config.lock() {
            *now = crate::config::BackupConfig { folder, keep };
        }
        self.arm_auto_backup(passphrase).await;
        self.backup_settings().await
    }

    /// An absolute folder outside the data directory, made if missing, that this node can write to.
    fn check_backup_folder(&self, dir: &Path) -> Result<()> {
        if !dir.is_absolute() {
            return Err(Error::InvalidInput(format!(
                "{} is not an absolute path: name the folder from the root (/media/usb/souk)",
                dir.display()
            )));
        }
        let data = fs::canonicalize(&self.data_dir).unwrap_or_else(|_| self.data_dir.clone());
        fs::create_dir_all(dir).map_err(|e| {
            Error::InvalidInput(format!("cannot make the folder {}: {e}", dir.display()))
        })?;
        let real = fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
        if real.starts_with(&data) {
            return Err(Error::InvalidInput(format!(
                "{} is inside the data directory: a backup there is lost with it; choose another \
                 folder, best on another disk",
                dir.display()
            )));
        }
        let probe = real.join(format!(".souk-write-test-{}", std::process::id()));
        fs::write(&probe, b"")
            .and_then(|()| fs::remove_file(&probe))
            .map_err(|e| Error::InvalidInput(format!("cannot write in {}: {e}", dir.display())))?;
        Ok(())
    }

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

async fn count_trades(store: &Store) -> Result<(u32, u32)> {
    static COUNT_SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        format!(
            "SELECT COUNT(*), COUNT(*) FILTER (WHERE state NOT IN {}) FROM trades",
            TradeState::closed_sql()
        )
    });
    let (all, open): (i64, i64) = sqlx::query_as(COUNT_SQL.as_str())
        .fetch_one(store.pool())
        .await
        .map_err(store::StoreError::from)?;
    Ok((
        u32::try_from(all).unwrap_or(u32::MAX),
        u32::try_from(open).unwrap_or(u32::MAX),
    ))
}

fn imported_detail(imported: &ImportedBackup) -> String {
    format!(
        "schema version {} (from a backup)",
        imported.identity.schema_version
    )
}

/// Gathers the keystore, a snapshot of the database and `souk.toml`, seals them and writes `path`.
async fn write_backup(
    store: &Store,
    data_dir: &Path,
    peer_id: PeerId,
    sealer: &Arc<Sealer>,
    path: &Path,
) -> Result<BackupSummary> {
    let keystore_path = data_dir.join(keystore::FILE_NAME);
    let keystore_bytes = fs::read(&keystore_path)
        .map_err(|e| Error::io(format!("reading {}", keystore_path.display()), e))?;
    let database = snapshot(store, data_dir).await?;
    let (trades, open_trades) = count_trades(store).await?;
    let config = match fs::read(data_dir.join(Entry::Config.file_name())) {
        Ok(bytes) => Some(bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(Error::io("reading souk.toml", e)),
    };
    let has_config = config.is_some();
    let header = Header {
        peer_id,
        created_at_ms: now_ms_u64(),
    };
    let contents = Contents {
        keystore: keystore_bytes,
        database,
        config,
    };
    let (sealer, sealed_header) = (sealer.clone(), header.clone());
    let bytes = tokio::task::spawn_blocking(move || sealer.seal(&contents, &sealed_header))
        .await
        .map_err(join_error)??;
    write_new(path, &bytes)?;
    tracing::info!(path = %path.display(), bytes = bytes.len(), trades, "backup written");
    Ok(BackupSummary {
        path: path.display().to_string(),
        peer_id: header.peer_id.to_string(),
        created_at_ms: header.created_at_ms,
        bytes: bytes.len() as u64,
        trades,
        open_trades,
        has_config,
    })
}

/// How long trade events must pause before an automatic backup is written: a burst of steps (a take,
/// its answer, the escrow keys) makes one backup, not one each.
pub const AUTO_BACKUP_QUIET: Duration = Duration::from_secs(2);

/// The running automatic backups of an unlocked identity; stopped when dropped (lock, shutdown).
#[derive(Debug)]
pub(super) struct AutoBackup(tokio::task::JoinHandle<()>);

impl Drop for AutoBackup {
    fn drop(&mut self) {
        self.0.abort();
    }
}

struct AutoBackupJob {
    folder: PathBuf,
    keep: usize,
    store: Store,
    data_dir: PathBuf,
    peer_id: PeerId,
    sealer: Arc<Sealer>,
}

/// Worth a backup: anything stored about a trade, not a delivery or read receipt.
fn worth_a_backup(event: &TradeEvent) -> bool {
    !matches!(
        event,
        TradeEvent::Delivered { .. } | TradeEvent::Read { .. }
    )
}

impl AutoBackupJob {
    async fn run(self, mut events: broadcast::Receiver<TradeEvent>) {
        loop {
            match events.recv().await {
                Ok(event) if !worth_a_backup(&event) => continue,
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return,
            }
            loop {
                match tokio::time::timeout(AUTO_BACKUP_QUIET, events.recv()).await {
                    Err(_) => break,
                    Ok(Ok(_) | Err(broadcast::error::RecvError::Lagged(_))) => continue,
                    Ok(Err(broadcast::error::RecvError::Closed)) => break,
                }
            }
            if let Err(e) = self.once().await {
                tracing::warn!(folder = %self.folder.display(), error = %e, "automatic backup failed");
            }
        }
    }

    /// One backup into the folder, then the oldest of this identity's beyond `keep` removed.
    async fn once(&self) -> Result<()> {
        fs::create_dir_all(&self.folder).map_err(|e| {
            Error::io(
                format!("creating backup folder {}", self.folder.display()),
                e,
            )
        })?;
        let tail = self.tail();
        let path = self.folder.join(format!(
            "souk-backup-{}-{tail}.{}",
            utc_stamp(now_ms_u64()),
            backup::EXTENSION
        ));
        write_backup(
            &self.store,
            &self.data_dir,
            self.peer_id,
            &self.sealer,
            &path,
        )
        .await?;
        let mut mine: Vec<PathBuf> = fs::read_dir(&self.folder)
            .map_err(|e| Error::io(format!("listing {}", self.folder.display()), e))?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| is_auto_backup_of(n, &tail))
            })
            .collect();
        mine.sort();
        let surplus = mine.len().saturating_sub(self.keep);
        for old in &mine[..surplus] {
            if let Err(e) = fs::remove_file(old) {
                tracing::warn!(path = %old.display(), error = %e, "could not remove an old backup");
            }
        }
        Ok(())
    }

    /// The end of the PeerId, in this identity's automatic backup names: others' are never removed.
    fn tail(&self) -> String {
        let id = self.peer_id.to_string();
        id[id.len().saturating_sub(8)..].to_owned()
    }
}

/// `souk-backup-20261204-153045-Ab3dEf9k.soukbackup`: an automatic backup of the identity ending `tail`.
fn is_auto_backup_of(name: &str, tail: &str) -> bool {
    name.strip_prefix("souk-backup-")
        .and_then(|rest| rest.strip_suffix(&format!("-{tail}.{}", backup::EXTENSION)))
        .is_some_and(|stamp| {
            stamp.len() == 15
                && stamp
                    .char_indices()
                    .all(|(i, c)| if i == 8 { c == '-' } else { c.is_ascii_digit() })
        })
}

/// One transaction's view of the database, as a file's bytes.
async fn snapshot(store: &Store, data_dir: &Path) -> Result<Vec<u8>> {
    let path = data_dir.join(format!(".backup-{}.db", uuid::Uuid::now_v7()));
    let text = path
        .to_str()
        .ok_or_else(|| {
            Error::Internal(format!(
                "data directory {} is not UTF-8",
                data_dir.display()
            ))
        })?
        .to_owned();
    let vacuumed = sqlx::query("VACUUM INTO ?")
        .bind(text)
        .execute(store.pool())
        .await
        .map_err(store::StoreError::from);
    let read = vacuumed
        .map_err(Error::from)
        .and_then(|_| fs::read(&path).map_err(|e| Error::io("reading the database snapshot", e)));
    let _ = fs::remove_file(&path);
    read
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

/// Where `souk backup export TARGET` writes: TARGET itself, or a new file in TARGET when it is a folder.
fn backup_target(target: &str, now_ms: u64) -> Result<PathBuf> {
    let target = target.trim();
    if target.is_empty() {
        return Err(Error::InvalidInput(
            "name a file or a folder to write the backup to".into(),
        ));
    }
    let path = PathBuf::from(target);
    let path = if path.is_dir() {
        path.join(format!(
            "souk-backup-{}.{}",
            utc_stamp(now_ms),
            backup::EXTENSION
        ))
    } else {
        path
    };
    if path.exists() {
        return Err(Error::InvalidInput(format!(
            "{} already exists: a backup never replaces a file; choose another name",
            path.display()
        )));
    }
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() && !parent.is_dir() => {
            Err(Error::InvalidInput(format!(
                "there is no folder {} to write the backup in",
                parent.display()
            )))
        }
        _ => Ok(path),
    }
}

/// Creates `path` (never replacing a file), owner-only, writes and syncs it; removes it on failure.
fn write_new(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => Error::InvalidInput(format!(
            "{} already exists: a backup never replaces a file; choose another name",
            path.display()
        )),
        _ => Error::io(format!("creating {}", path.display()), e),
    })?;
    if let Err(e) = file.write_all(bytes).and_then(|()| file.sync_all()) {
        drop(file);
        let _ = fs::remove_file(path);
        return Err(Error::io(format!("writing {}", path.display()), e));
    }
    if let Some(dir) = path.parent().and_then(|d| fs::File::open(d).ok()) {
        let _ = dir.sync_all();
    }
    Ok(())
}

fn now_ms_u64() -> u64 {
    u64::try_from(store::now_ms()).unwrap_or(0)
}

/// `20261204-153000` (UTC) for a time in ms since 1970: the name of a backup file.
pub(crate) fn utc_stamp(ms: u64) -> String {
    let [year, month, day, hour, minute, second] = backup::utc_parts(ms);
    format!("{year:04}{month:02}{day:02}-{hour:02}{minute:02}{second:02}")
}

/// What a backup file says of itself without the passphrase, its damage checked: `souk backup info`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, utoipa::ToSchema)]
pub struct BackupFileInfo {
    pub path: String,
    pub peer_id: String,
    pub created_at_ms: u64,
    pub bytes: u64,
}

/// Reads the header of the backup at `path` (no passphrase needed).
pub async fn backup_file_info(path: &Path) -> Result<BackupFileInfo> {
    let bytes = tokio::fs::read(path).await.map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => {
            Error::InvalidInput(format!("no backup file at {}", path.display()))
        }
        _ => Error::io(format!("reading {}", path.display()), e),
    })?;
    let header = backup::header(&bytes)?;
    Ok(BackupFileInfo {
        path: path.display().to_string(),
        peer_id: header.peer_id.to_string(),
        created_at_ms: header.created_at_ms,
        bytes: bytes.len() as u64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_this_identitys_automatic_backups_are_pruned() {
        assert!(is_auto_backup_of(
            "souk-backup-20261204-153045-Ab3dEf9k.soukbackup",
            "Ab3dEf9k"
        ));
        for other in [
            "souk-backup-20261204-153045-Zz3dEf9k.soukbackup",
            "souk-backup-20261204-153045.soukbackup",
            "souk-backup-2026120x-153045-Ab3dEf9k.soukbackup",
            "souk-backup-20261204-153045-Ab3dEf9k.soukbackup.txt",
            "my-notes-Ab3dEf9k.soukbackup",
        ] {
            assert!(!is_auto_backup_of(other, "Ab3dEf9k"), "{other}");
        }
    }

    #[test]
    fn stamps_are_utc_dates() {
        assert_eq!(utc_stamp(0), "19700101-000000");
        assert_eq!(utc_stamp(951_782_400_000), "20000229-000000");
        assert_eq!(utc_stamp(1_796_398_245_000), "20261204-153045");
    }

    #[test]
    fn a_target_folder_gets_a_new_file_and_a_file_is_never_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let in_folder = backup_target(dir.path().to_str().unwrap(), 1_796_398_245_000).unwrap();
        assert_eq!(
            in_folder,
            dir.path().join("souk-backup-20261204-153045.soukbackup")
        );
        fs::write(&in_folder, b"x").unwrap();
        let err = backup_target(in_folder.to_str().unwrap(), 0).unwrap_err();
        assert!(err.to_string().contains("never replaces"), "{err}");
        let err = backup_target(" ", 0).unwrap_err();
        assert!(err.to_string().contains("name a file"), "{err}");
        let missing = dir.path().join("nope").join("b.soukbackup");
        let err = backup_target(missing.to_str().unwrap(), 0).unwrap_err();
        assert!(err.to_string().contains("no folder"), "{err}");
    }
}
