//! The facade end to end: create, lock, unlock and restore; preferences; the chain status.

use super::*;
use crate::{ErrorKind, identity::SeedPhrase, preferences::Preferences};

pub(super) const FAST: KdfCost = KdfCost {
    memory_kib: 64,
    iterations: 1,
    lanes: 1,
};

fn node(dir: &Path) -> Node {
    Node::new(dir, Config::default()).with_kdf_cost(FAST)
}

#[tokio::test]
async fn create_lock_unlock_and_restore() {
    let tmp = tempfile::tempdir().unwrap();
    let a = tmp.path().join("a");
    let n = node(&a);
    assert!(matches!(
        n.status().await.unwrap(),
        AppStatus::NeedsSetup { .. }
    ));
    let created = n.create_identity("passphrase-1").await.unwrap();
    assert_eq!(created.words.len(), 24);
    assert!(
        matches!(n.status().await.unwrap(), AppStatus::Unlocked { identity } if identity == created.identity)
    );
    let err = n.create_identity("passphrase-1").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AlreadyInitialized);
    n.shutdown().await;

    let n = node(&a);
    assert_eq!(
        n.status().await.unwrap(),
        AppStatus::Locked {
            data_dir: a.display().to_string(),
            peer_id: created.identity.peer_id.clone()
        }
    );
    assert_eq!(
        n.unlock("passphrase-2").await.unwrap_err().kind(),
        ErrorKind::WrongPassphrase
    );
    assert_eq!(n.unlock("passphrase-1").await.unwrap(), created.identity);

    let b = tmp.path().join("b");
    let restored = node(&b)
        .restore_identity(&created.words.join(" "), "other passphrase")
        .await
        .unwrap();
    assert_eq!(restored.peer_id, created.identity.peer_id);
}

#[tokio::test]
async fn restore_keeps_the_same_identitys_database_and_refuses_anothers() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("d");
    let n = node(&dir);
    let created = n.create_identity("passphrase-1").await.unwrap();
    n.shutdown().await;
    // The keystore is lost; the database with its trades is not.
    std::fs::remove_file(dir.join(keystore::FILE_NAME)).unwrap();
    let n = node(&dir);
    assert!(matches!(
        n.status().await.unwrap(),
        AppStatus::NeedsSetup { .. }
    ));
    let other = SeedPhrase::generate().unwrap().words().join(" ");
    let err = n
        .restore_identity(&other, "passphrase-2")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(err.to_string().contains("belongs to identity"), "{err}");
    assert!(
        !dir.join(keystore::FILE_NAME).exists(),
        "a refused restore left a keystore behind"
    );
    let info = n
        .restore_identity(&created.words.join(" "), "passphrase-2")
        .await
        .unwrap();
    assert_eq!(info.peer_id, created.identity.peer_id);
}

#[tokio::test]
async fn preferences_survive_a_restart_and_a_refused_save_keeps_the_stored_ones() {
    use crate::preferences::{PaymentAccount, Theme};
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("d");
    let n = node(&dir);
    assert_eq!(
        n.preferences().await.unwrap_err().kind(),
        ErrorKind::NotInitialized
    );
    n.create_identity("passphrase-1").await.unwrap();
    assert_eq!(n.preferences().await.unwrap(), Preferences::default());

    let mut chosen = Preferences {
        theme: Theme::Dark,
        payment_accounts: vec![PaymentAccount {
            id: uuid::Uuid::new_v4(),
            method: crate::offer::PaymentMethod::new("SEPA").unwrap(),
            label: "Main bank".into(),
            details: "DE89 3704 0044 0532 0130 00".into(),
        }],
        ..Preferences::default()
    };
    chosen.notifications.message = false;
    assert_eq!(n.save_preferences(chosen.clone()).await.unwrap(), chosen);

    let mut bad = chosen.clone();
    bad.payment_accounts[0].label = String::new();
    let err = n.save_preferences(bad).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    n.shutdown().await;

    let n = node(&dir);
    n.unlock("passphrase-1").await.unwrap();
    assert_eq!(n.preferences().await.unwrap(), chosen);
}

#[tokio::test]
async fn chain_status_says_unconfigured_or_why_the_chain_node_cannot_be_reached() {
    let tmp = tempfile::tempdir().unwrap();
    let status = node(tmp.path()).chain_status().await.unwrap();
    assert!(!status.configured && !status.connected, "{status:?}");
    assert_eq!((status.rpc_url, status.error), (None, None));

    // A port nothing listens on (bound, then freed), with credentials in the URL: the reason is
    // given in words, and the credentials are never shown.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut config = Config::default();
    config.chain.rpc_url = format!("http://souk:s3cret@127.0.0.1:{port}/");
    let status = Node::new(tmp.path(), config).chain_status().await.unwrap();
    assert!(status.configured && !status.connected, "{status:?}");
    assert_eq!(status.tip_height, None);
    let shown = format!("http://127.0.0.1:{port}/");
    assert_eq!(status.rpc_url.as_deref(), Some(shown.as_str()));
    let error = status.error.unwrap();
    assert!(
        error.contains("cannot reach the chain node") && error.contains(&shown),
        "{error}"
    );
    assert!(!error.contains("s3cret"), "{error}");
}

#[tokio::test]
async fn the_arbitrator_setting_is_in_the_identity_info() {
    let tmp = tempfile::tempdir().unwrap();
    let plain = node(&tmp.path().join("a"));
    assert!(
        !plain
            .create_identity("passphrase-1")
            .await
            .unwrap()
            .identity
            .arbitrator
    );
    let arbitrator = node(&tmp.path().join("b")).with_trade_config(TradeConfig {
        arbitrator: true,
        ..TradeConfig::default()
    });
    arbitrator.create_identity("passphrase-1").await.unwrap();
    assert!(
        matches!(arbitrator.status().await.unwrap(), AppStatus::Unlocked { identity } if identity.arbitrator)
    );
}

#[tokio::test]
async fn bad_inputs_store_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("d");
    let n = node(&dir);
    assert_eq!(
        n.create_identity("short").await.unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
    assert_eq!(
        n.restore_identity("not words at all", "long enough")
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidSeedPhrase
    );
    assert!(!dir.exists());
    assert_eq!(
        n.unlock("whatever1").await.unwrap_err().kind(),
        ErrorKind::NotInitialized
    );
}

/// Every file under `dir` with its bytes (nothing for a missing dir): "changes nothing" is checked on it.
fn snapshot(dir: &Path) -> std::collections::BTreeMap<PathBuf, Vec<u8>> {
    let mut files = std::collections::BTreeMap::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return files;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_file() {
            files.insert(path.clone(), std::fs::read(&path).unwrap());
        }
    }
    files
}

#[tokio::test]
async fn a_backup_brings_back_identity_payment_accounts_settings_and_config_into_an_empty_dir() {
    use crate::preferences::PaymentAccount;
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    let n = node(&home);
    let created = n.create_identity("passphrase-1").await.unwrap();
    std::fs::write(home.join("souk.toml"), "[log]\nlevel = \"debug\"\n").unwrap();
    let chosen = Preferences {
        payment_accounts: vec![PaymentAccount {
            id: uuid::Uuid::new_v4(),
            method: crate::offer::PaymentMethod::new("SEPA").unwrap(),
            label: "Main bank".into(),
            details: "DE89 3704 0044 0532 0130 00".into(),
        }],
        ..Preferences::default()
    };
    n.save_preferences(chosen.clone()).await.unwrap();

    // The passphrase must be the keystore's; a folder gets a new file; an existing file is never replaced.
    let folder = tmp.path().join("backups");
    std::fs::create_dir(&folder).unwrap();
    let target = folder.to_str().unwrap();
    let err = n.export_backup(target, "not the one").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::WrongPassphrase);
    assert!(snapshot(&folder).is_empty(), "nothing written");
    let summary = n.export_backup(target, "passphrase-1").await.unwrap();
    assert_eq!(summary.peer_id, created.identity.peer_id);
    assert!(summary.has_config && summary.bytes > 0, "{summary:?}");
    assert_eq!((summary.trades, summary.open_trades), (0, 0));
    let file = PathBuf::from(&summary.path);
    assert_eq!(file.parent(), Some(folder.as_path()));
    assert!(
        file.extension().is_some_and(|e| e == "soukbackup"),
        "{file:?}"
    );
    let err = n
        .export_backup(&summary.path, "passphrase-1")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("never replaces"), "{err}");
    // The node goes on as before, and a later change is not in the backup.
    n.save_preferences(Preferences::default()).await.unwrap();
    n.shutdown().await;

    // Into a used data directory: refused, nothing changed.
    let before = snapshot(&home);
    let err = node(&home)
        .import_backup(&summary.path, "passphrase-1")
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("already holds an identity"),
        "{err}"
    );
    assert_eq!(snapshot(&home), before);

    // A wrong passphrase and a damaged file: clear errors, the empty directory stays empty.
    let fresh = tmp.path().join("fresh");
    let err = node(&fresh)
        .import_backup(&summary.path, "passphrase-2")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::WrongPassphrase, "{err}");
    let mut damaged = std::fs::read(&file).unwrap();
    let middle = damaged.len() / 2;
    damaged[middle] ^= 1;
    let damaged_file = tmp.path().join("damaged.soukbackup");
    std::fs::write(&damaged_file, &damaged).unwrap();
    let err = node(&fresh)
        .import_backup(damaged_file.to_str().unwrap(), "passphrase-1")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::BackupCorrupt, "{err}");
    assert!(err.to_string().contains("damaged"), "{err}");
    let err = node(&fresh)
        .import_backup(tmp.path().join("nothing").to_str().unwrap(), "passphrase-1")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no backup file"), "{err}");
    assert!(snapshot(&fresh).is_empty(), "{:?}", snapshot(&fresh).keys());

    // Into an empty directory: everything as it was when the backup was made, unlocked.
    let restored = node(&fresh);
    let imported = restored
        .import_backup(&summary.path, "passphrase-1")
        .await
        .unwrap();
    assert_eq!(imported.identity.peer_id, created.identity.peer_id);
    assert!(imported.config_restored);
    assert_eq!(imported.backup.created_at_ms, summary.created_at_ms);
    assert_eq!(restored.preferences().await.unwrap(), chosen);
    assert_eq!(
        std::fs::read_to_string(fresh.join("souk.toml")).unwrap(),
        "[log]\nlevel = \"debug\"\n"
    );
    restored.shutdown().await;
    // SQLite removes its -wal and -shm files as the last connection closes, which a loaded machine
    // may finish a moment after the shutdown returned: wait for that, then nothing else may be left.
    let names = || -> Vec<String> {
        snapshot(&fresh)
            .keys()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect()
    };
    let expected = ["identity.keystore", "souk.db", "souk.toml"];
    for _ in 0..100 {
        if names() == expected {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(names(), expected);
    let again = node(&fresh);
    assert_eq!(
        again.unlock("passphrase-1").await.unwrap().peer_id,
        created.identity.peer_id
    );
    assert_eq!(again.preferences().await.unwrap(), chosen);
}

#[tokio::test]
async fn automatic_backups_follow_trade_events_and_keep_the_newest_of_this_identity() {
    let tmp = tempfile::tempdir().unwrap();
    let folder = tmp.path().join("auto");
    std::fs::create_dir(&folder).unwrap();
    // Another identity's backup and a file of the user's in the same folder are never touched.
    let foreign = folder.join("souk-backup-20200101-000000-zzzzzzzz.soukbackup");
    std::fs::write(&foreign, b"someone else's").unwrap();
    std::fs::write(folder.join("notes.txt"), b"mine").unwrap();
    let mut config = Config::default();
    config.backup.folder = Some(folder.clone());
    config.backup.keep = 2;
    let dir = tmp.path().join("d");
    let n = Node::new(&dir, config).with_kdf_cost(FAST);
    let created = n.create_identity("passphrase-1").await.unwrap();
    let id = &created.identity.peer_id;
    let tail = &id[id.len() - 8..];
    let mine = || -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&folder)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| {
                p.to_string_lossy()
                    .ends_with(&format!("-{tail}.soukbackup"))
            })
            .collect();
        files.sort();
        files
    };
    let mut seen: Vec<PathBuf> = Vec::new();
    for round in 0..3 {
        n.trade_events
            .send(crate::trading::TradeEvent::DisputeOpened {
                trade_id: uuid::Uuid::now_v7(),
            })
            .unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        let newest = loop {
            let files = mine();
            if let Some(last) = files
                .last()
                .filter(|l| !seen.contains(l) && files.len() <= 2)
            {
                break last.clone();
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no backup in round {round}: {files:?}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        };
        seen.push(newest);
    }
    assert_eq!(mine(), seen[1..].to_vec(), "the newest two are kept");
    assert!(foreign.exists() && folder.join("notes.txt").exists());

    // The newest opens like an exported one.
    n.shutdown().await;
    let restored = node(&tmp.path().join("restored"));
    let imported = restored
        .import_backup(seen[2].to_str().unwrap(), "passphrase-1")
        .await
        .unwrap();
    assert_eq!(imported.identity.peer_id, created.identity.peer_id);
}

#[tokio::test]
async fn automatic_backups_are_turned_on_and_off_from_settings_and_a_refusal_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("d");
    let n = Node::new(&dir, Config::default()).with_kdf_cost(FAST);
    let created = n.create_identity("passphrase-1").await.unwrap();
    let off = n.backup_settings().await.unwrap();
    assert_eq!((off.folder, off.keep, off.running), (None, 5, false));
    let toml = || std::fs::read_to_string(dir.join("souk.toml")).unwrap_or_default();
    let before = toml();

    let folder = tmp.path().join("usb").join("souk");
    let f = folder.to_str().unwrap();
    let refused = |e: crate::Error| e.to_string();
    let err = refused(
        n.save_backup_settings("usb/souk", 3, "passphrase-1")
            .await
            .unwrap_err(),
    );
    assert!(err.contains("not an absolute path"), "{err}");
    let inside = dir.join("backups");
    let err = refused(
        n.save_backup_settings(inside.to_str().unwrap(), 3, "passphrase-1")
            .await
            .unwrap_err(),
    );
    assert!(err.contains("inside the data directory"), "{err}");
    let err = refused(
        n.save_backup_settings(f, 0, "passphrase-1")
            .await
            .unwrap_err(),
    );
    assert!(err.contains("From 1 to 100"), "{err}");
    let err = n.save_backup_settings(f, 3, "wrong").await.unwrap_err();
    assert_eq!(err.kind(), crate::ErrorKind::WrongPassphrase, "{err}");
    assert_eq!(toml(), before, "a refusal leaves souk.toml as it was");
    assert!(!n.backup_settings().await.unwrap().running);

    // On: written to souk.toml, running at once, and a trade event makes a backup there.
    let on = n.save_backup_settings(f, 3, "passphrase-1").await.unwrap();
    assert_eq!(
        (on.folder.as_deref(), on.keep, on.running),
        (Some(f), 3, true)
    );
    let saved = crate::connection::read_saved(&dir).unwrap();
    assert_eq!(saved.backup.folder.as_deref(), Some(folder.as_path()));
    assert_eq!(saved.backup.keep, 3);
    n.trade_events
        .send(crate::trading::TradeEvent::DisputeOpened {
            trade_id: uuid::Uuid::now_v7(),
        })
        .unwrap();
    let id = &created.identity.peer_id;
    let tail = format!("-{}.soukbackup", &id[id.len() - 8..]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !std::fs::read_dir(&folder)
        .unwrap()
        .any(|e| e.unwrap().path().to_string_lossy().ends_with(&tail))
    {
        assert!(std::time::Instant::now() < deadline, "no automatic backup");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }

    // Off: no folder in souk.toml, nothing running; no passphrase needed.
    let off = n.save_backup_settings("", 3, "").await.unwrap();
    assert_eq!((off.folder, off.running), (None, false));
    assert_eq!(
        crate::connection::read_saved(&dir).unwrap().backup.folder,
        None
    );
}
