//! Writing a backup: a snapshot of the running node's database, its keystore and `souk.toml`, sealed with the
//! keystore's passphrase into a new file that never replaces one.

use std::{
    fs,
    path::{Path, PathBuf},
    sync::Arc,
};

use libp2p_identity::PeerId;

use super::{BackupSummary, count_trades, now_ms_u64, utc_stamp, write_new};
use crate::{
    backup::{self, Contents, Entry, Header, Sealer},
    error::{Error, Result},
    identity::keystore,
    node::{Node, join_error},
    store::{self, Store},
};

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
}

/// Gathers the keystore, a snapshot of the database and `souk.toml`, seals them and writes `path`.
pub(super) async fn write_backup(
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

/// Where `souk backup export TARGET` writes: TARGET itself, or a new file in TARGET when it is a folder.
pub(super) fn backup_target(target: &str, now_ms: u64) -> Result<PathBuf> {
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
