//! A user loses everything but the seed words, or loses only the keystore and keeps the database: in
//! both cases the seed words bring the identity back, and a kept database is reattached, not replaced.

use souk_core::{ErrorKind, node::AppStatus};
use souk_tests::{PASSPHRASE, TestDir, node};

#[tokio::test]
async fn seed_words_bring_back_the_identity_and_the_kept_database() {
    let tmp = TestDir::new();
    let home = tmp.path("laptop");
    let first = node(&home);
    let created = first.create_identity(PASSPHRASE).await.unwrap();
    first.shutdown().await;

    // Only the seed words survive: a fresh machine gets the same identity.
    let fresh = node(&tmp.path("new-laptop"));
    let restored = fresh
        .restore_identity(&created.words.join(" "), "a new passphrase")
        .await
        .unwrap();
    assert_eq!(restored.peer_id, created.identity.peer_id);
    fresh.shutdown().await;

    // The keystore is gone but the database stayed: restoring in place keeps it and unlocks as before.
    std::fs::remove_file(home.join("identity.keystore")).unwrap();
    let again = node(&home);
    assert!(matches!(
        again.status().await.unwrap(),
        AppStatus::NeedsSetup { .. }
    ));
    again
        .restore_identity(&created.words.join(" "), "third passphrase")
        .await
        .unwrap();
    again.shutdown().await;
    let later = node(&home);
    assert_eq!(
        later.unlock(PASSPHRASE).await.unwrap_err().kind(),
        ErrorKind::WrongPassphrase
    );
    assert_eq!(
        later.unlock("third passphrase").await.unwrap().peer_id,
        created.identity.peer_id
    );
}
