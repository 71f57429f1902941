//! Automatic backups: `[backup]` as it stands and as Settings saves it, and the task that writes a backup into
//! the folder after each burst of trade steps, keeping the newest of this identity's.

use std::{
    fs,
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use libp2p_identity::PeerId;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;
use ts_rs::TS;

use super::{export::write_backup, now_ms_u64, utc_stamp};
use crate::{
    backup::{self, Sealer},
    error::{Error, Result},
    identity::keystore,
    node::{Node, join_error},
    store::Store,
    trading::TradeEvent,
};

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

impl Node {
    /// With `[backup] folder` set, starts writing a backup there a moment after each burst of trade
    /// steps and messages (see [`AUTO_BACKUP_QUIET`]), keeping the newest `[backup] keep` of this
    /// identity's. Called once an identity is unlocked with `passphrase`, whose key it derives once.
    /// A failure to start or to write is logged and never stops the node.
    pub(in crate::node) async fn arm_auto_backup(&self, passphrase: &str) {
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
}

/// How long trade events must pause before an automatic backup is written: a burst of steps (a take,
/// its answer, the escrow keys) makes one backup, not one each.
pub const AUTO_BACKUP_QUIET: Duration = Duration::from_secs(2);

/// The running automatic backups of an unlocked identity; stopped when dropped (lock, shutdown).
#[derive(Debug)]
pub(in crate::node) struct AutoBackup(tokio::task::JoinHandle<()>);

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
pub(super) fn is_auto_backup_of(name: &str, tail: &str) -> bool {
    name.strip_prefix("souk-backup-")
        .and_then(|rest| rest.strip_suffix(&format!("-{tail}.{}", backup::EXTENSION)))
        .is_some_and(|stamp| {
            stamp.len() == 15
                && stamp
                    .char_indices()
                    .all(|(i, c)| if i == 8 { c == '-' } else { c.is_ascii_digit() })
        })
}
