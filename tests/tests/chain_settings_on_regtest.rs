//! The Settings screen's chain backend against a real `litecoind -regtest`: a test before saving
//! reports the chain, network and tip height, or exactly what is wrong (network, password); tests
//! save nothing; a save lands in `souk.toml` with its comments kept, the password never comes back,
//! and a node restarted on the saved file settles on that chain.

use souk_core::{
    ErrorKind,
    config::{self, Config},
    connection::ConnectionEdit,
    escrow::{Chain, Network},
    net::NetConfig,
};
use souk_tests::{BTC_EUR, PASSPHRASE, TestDir, node_with, regtest::Litecoind};

const HAND_WRITTEN: &str = "# My node's settings.\n[log]\nlevel = \"info\" # keep it calm\n";

fn config_without_prices() -> Config {
    let mut config = Config::default();
    config.price.url = String::new();
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_chain_backend_is_tested_then_saved_and_used_after_a_restart() {
    let chain = Litecoind::start().await;
    let dir = TestDir::new();
    let data_dir = dir.path("node");
    std::fs::create_dir_all(&data_dir).expect("data dir");
    let file = data_dir.join(config::FILE_NAME);
    std::fs::write(&file, HAND_WRITTEN).expect("souk.toml");

    let node = node_with(&data_dir, config_without_prices());
    let edit = ConnectionEdit {
        chain: Chain::Ltc,
        network: Network::Regtest,
        rpc_url: chain.core.rpc_url.clone(),
        rpc_user: chain.core.rpc_user.clone(),
        rpc_password: Some(chain.core.rpc_password.clone()),
        rpc_cookie_file: String::new(),
        electrum_url: String::new(),
        electrum_cert_sha256: String::new(),
        bootstrap: Vec::new(),
        tor: false,
    };

    let check = node
        .test_chain_connection(edit.clone())
        .await
        .expect("the chain answers");
    assert_eq!((check.chain, check.network), (Chain::Ltc, Network::Regtest));
    assert_eq!(check.tip_height, 101, "101 blocks were mined at start");
    assert!(check.wallets, "wallet support, for the watch-only wallet");
    assert!(!check.pruned);
    assert_eq!(check.url, chain.core.rpc_url);

    let wrong_network = node
        .test_chain_connection(ConnectionEdit {
            network: Network::Main,
            ..edit.clone()
        })
        .await
        .expect_err("mainnet is not what this node runs");
    assert_eq!(wrong_network.kind(), ErrorKind::InvalidInput);
    assert!(
        wrong_network
            .to_string()
            .contains("but Souk is configured for Litecoin"),
        "{wrong_network}"
    );
    let wrong_password = node
        .test_chain_connection(ConnectionEdit {
            rpc_password: Some("not the password".into()),
            ..edit.clone()
        })
        .await
        .expect_err("a wrong password is refused");
    assert!(
        wrong_password
            .to_string()
            .contains("refused the RPC credentials"),
        "{wrong_password}"
    );
    assert_eq!(
        std::fs::read_to_string(&file).expect("souk.toml"),
        HAND_WRITTEN,
        "a test changed souk.toml"
    );

    let saved = node
        .save_connection_settings(edit.clone())
        .await
        .expect("save");
    assert!(saved.dialled.is_empty(), "no network runs, nothing dialled");
    let settings = saved.settings;
    assert!(settings.saved.rpc_password_set);
    assert_eq!(settings.saved.rpc_url, chain.core.rpc_url);
    assert!(settings.restart_needed, "{settings:?}");
    assert!(
        !settings.running.rpc_password_set,
        "this node runs as started"
    );
    let shown =
        serde_json::to_string(&node.connection_settings().expect("settings")).expect("json");
    assert!(
        !shown.contains(&chain.core.rpc_password),
        "the password came back: {shown}"
    );
    let text = std::fs::read_to_string(&file).expect("souk.toml");
    assert!(text.starts_with(HAND_WRITTEN), "{text}");

    // Without a password in the edit, the test uses the saved one.
    let again = node
        .test_chain_connection(ConnectionEdit {
            rpc_password: None,
            ..edit
        })
        .await
        .expect("the saved password is used");
    assert_eq!(again.tip_height, 101);

    // Restarted on the file: the node settles on that chain (it checks the backend at start).
    let loaded = Config::load(&data_dir, &[]).expect("souk.toml loads");
    assert_eq!(loaded.chain.rpc_password, chain.core.rpc_password);
    let mut loaded = loaded;
    loaded.price.url = String::new();
    let restarted = node_with(&data_dir, loaded);
    assert!(
        !restarted
            .connection_settings()
            .expect("settings")
            .restart_needed
    );
    restarted
        .create_identity(PASSPHRASE)
        .await
        .expect("identity");
    restarted
        .go_online(NetConfig::loopback_for_tests(), &[BTC_EUR])
        .await
        .expect("online with the saved chain backend");
    assert!(restarted.startup_progress().complete());
    restarted.shutdown().await;
}
