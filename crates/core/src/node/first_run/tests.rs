//! Tor mode chosen while setting up an identity: saved in `souk.toml` and taken by the start that
//! follows, or refused before anything is written.

use std::{path::Path, sync::Arc, time::Duration};

use super::*;
use crate::{
    ErrorKind,
    node::{AppStatus, tests::FAST},
    startup::{PhaseState, StartupPhase},
};

const PEER: &str = "12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA";
const TOR: SetupChoices = SetupChoices { tor: true };

/// A node made as the desktop makes one: from the `souk.toml` in its data directory, here `text`.
fn node_with_file(dir: &Path, text: &str) -> Node {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(connection::file_path(dir), text).unwrap();
    let config = connection::read_saved(dir).unwrap();
    Node::new(dir, config).with_kdf_cost(FAST)
}

fn file(dir: &Path) -> String {
    std::fs::read_to_string(connection::file_path(dir)).unwrap()
}

fn phases(node: &Node) -> Vec<StartupPhase> {
    node.startup_progress()
        .phases
        .iter()
        .map(|p| p.phase)
        .collect()
}

/// Waits for the background start to end its Tor phase in failure (no `tor` runs in these tests).
async fn tor_phase_failure(node: &Node) -> String {
    let failed = async {
        loop {
            let progress = node.startup_progress();
            if let Some(tor) = progress.phase(StartupPhase::Tor)
                && tor.state == PhaseState::Failed
            {
                return tor
                    .error
                    .as_ref()
                    .map(|e| e.message.clone())
                    .unwrap_or_default();
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(20), failed)
        .await
        .expect("the start never reached its Tor phase")
}

#[tokio::test]
async fn tor_chosen_on_create_is_saved_and_the_first_start_runs_in_tor_mode() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("d");
    // A tor that is not there: the start fails in its Tor phase, which only Tor mode has.
    let missing_tor = tmp.path().join("no-such-tor");
    let text = format!(
        "# written by hand\n[net]\ntor_binary = {:?}\n",
        missing_tor.display().to_string()
    );
    let node = Arc::new(node_with_file(&dir, &text));

    node.create_identity_with("passphrase-1", TOR)
        .await
        .unwrap();

    let saved = file(&dir);
    assert!(saved.starts_with("# written by hand\n"), "{saved}");
    assert!(saved.contains("tor = true"), "{saved}");
    assert!(connection::read_saved(&dir).unwrap().net.tor);
    assert!(node.config().net.tor);
    assert!(phases(&node).contains(&StartupPhase::Tor));
    let settings = node.connection_settings().unwrap();
    assert!(settings.saved.tor && settings.running.tor, "{settings:?}");
    assert!(!settings.restart_needed, "the choice needs no restart");

    // What a shell does right after set-up.
    node.go_online_in_background();
    let error = tor_phase_failure(&node).await;
    assert!(
        error.contains("Tor mode needs the `tor` program"),
        "{error}"
    );
    node.shutdown().await;
}

#[tokio::test]
async fn without_the_choice_the_file_and_the_start_stay_as_they_were() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("d");
    let text = "[net]\nmdns = false\n";
    let node = node_with_file(&dir, text);
    node.create_identity("passphrase-1").await.unwrap();
    assert_eq!(file(&dir), text);
    assert!(!node.config().net.tor);
    assert!(!phases(&node).contains(&StartupPhase::Tor));
    node.shutdown().await;
}

#[tokio::test]
async fn tor_chosen_on_restore_is_saved_with_onion_bootstrap_peers() {
    let tmp = tempfile::tempdir().unwrap();
    let words = node_with_file(&tmp.path().join("a"), "")
        .create_identity("passphrase-1")
        .await
        .unwrap()
        .words
        .join(" ");
    let dir = tmp.path().join("b");
    let onion =
        format!("/onion3/vww6ybal4bd7szmgncyruucpgfkqahzddi37ktceo3ah7ngmcopnpyyd:4001/p2p/{PEER}");
    let node = node_with_file(&dir, &format!("[net]\nbootstrap = [{onion:?}]\n"));

    // Refused words change nothing.
    let before = file(&dir);
    let err = node
        .restore_identity_with("not words at all", "passphrase-2", TOR)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidSeedPhrase);
    assert_eq!(file(&dir), before);
    // So does a passphrase too weak for the keystore, refused once the choice was checked.
    let err = node
        .restore_identity_with(&words, "short", TOR)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert_eq!(file(&dir), before);

    node.restore_identity_with(&words, "passphrase-2", TOR)
        .await
        .unwrap();
    let settings = node.connection_settings().unwrap();
    assert!(settings.saved.tor && settings.running.tor, "{settings:?}");
    assert_eq!(settings.saved.bootstrap, vec![onion]);
    let (net, _) = node.config().net.resolve().unwrap();
    assert!(net.tor.is_some());
    node.shutdown().await;
}

#[tokio::test]
async fn tor_with_a_clearnet_bootstrap_peer_is_refused_before_anything_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("d");
    let text = format!("[net]\nbootstrap = [\"/ip4/192.0.2.7/tcp/4001/p2p/{PEER}\"]\n");
    let node = node_with_file(&dir, &text);

    for refused in [
        node.create_identity_with("passphrase-1", TOR)
            .await
            .map(|_| ()),
        node.restore_identity_with(
            &crate::identity::SeedPhrase::generate()
                .unwrap()
                .words()
                .join(" "),
            "passphrase-1",
            TOR,
        )
        .await
        .map(|_| ()),
    ] {
        let err = refused.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        let message = err.to_string();
        assert!(
            message.contains("Tor mode cannot be used")
                && message.contains("/ip4/192.0.2.7/tcp/4001")
                && message.contains("onion addresses")
                && message.contains("Settings"),
            "{message}"
        );
    }
    assert_eq!(file(&dir), text);
    assert!(!dir.join(crate::identity::keystore::FILE_NAME).exists());
    assert!(matches!(
        node.status().await.unwrap(),
        AppStatus::NeedsSetup { .. }
    ));
    assert!(!phases(&node).contains(&StartupPhase::Tor));

    // Without Tor mode the same settings set up fine.
    node.create_identity("passphrase-1").await.unwrap();
    assert_eq!(file(&dir), text);
    node.shutdown().await;
}
