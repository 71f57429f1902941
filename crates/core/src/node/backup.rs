//! One encrypted file from the data directory and back (the format is `crate::backup`).
//!
//! Export takes a consistent snapshot of the database while the node runs (`VACUUM INTO`, which reads
//! one transaction's view, the WAL included), adds the keystore file as it is on disk and `souk.toml`, and
//! seals them with the keystore's passphrase. Import goes only into a data directory without an identity
//! or a database: every file is checked first (the passphrase, the keystore's PeerId against the backup's,
//! the database's owner and schema), written beside its final name and linked into place without ever
//! replacing a file; a failure removes what it placed, so the directory is as it was.

mod auto;
mod export;
mod import;

use std::{fs, io::Write, path::Path};

use serde::{Deserialize, Serialize};
use ts_rs::TS;

pub(super) use self::auto::AutoBackup;
pub use self::{auto::BackupSettings, import::ImportedBackup};
use crate::{
    backup,
    error::{Error, Result},
    protocol::settlement::TradeState,
    store::{self, Store},
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

pub(super) async fn count_trades(store: &Store) -> Result<(u32, u32)> {
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

/// Creates `path` (never replacing a file), owner-only, writes and syncs it; removes it on failure.
pub(super) fn write_new(path: &Path, bytes: &[u8]) -> Result<()> {
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

pub(super) fn now_ms_u64() -> u64 {
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
    use super::{auto::is_auto_backup_of, export::backup_target};

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
