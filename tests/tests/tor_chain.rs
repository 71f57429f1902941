//! Tor mode reaches the chain through tor: an Electrum server (a real ElectrumX on a regtest
//! litecoind) and the litecoind's RPC, each published here as an onion service on the private Tor
//! network, are reached at their `.onion` addresses — something only tor can resolve — by a Tor-mode
//! node's settlement backend, its chain status and the Settings connection test. Before its tor runs,
//! the node refuses to reach a remote backend at all rather than go around tor.

use souk_core::{
    config::{ChainConfig, Config},
    connection::ConnectionEdit,
    escrow::{Chain, Network},
    net::{NetConfig, tor::Tor, tor::TorSettings},
};
use souk_tests::{
    BTC_EUR, PASSPHRASE, TestDir,
    electrumx::ElectrumX,
    node_with,
    regtest::{Litecoind, LitecoindOptions},
    tor::TorNet,
};

/// `onion3/<name>:4001` → `<name>.onion:4001`, as a URL's host and port.
fn host_port(onion: &libp2p::Multiaddr) -> String {
    let text = onion.to_string();
    let name = text
        .strip_prefix("/onion3/")
        .and_then(|rest| rest.split(':').next())
        .expect("an onion address");
    format!("{name}.onion:4001")
}

/// The loopback port of a `http://127.0.0.1:PORT/` or `tcp://127.0.0.1:PORT` URL.
fn port_of(url: &str) -> u16 {
    url.trim_end_matches('/')
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("a port")
}

fn edit(chain: &ChainConfig) -> ConnectionEdit {
    ConnectionEdit {
        chain: Chain::Ltc,
        network: Network::Regtest,
        rpc_url: chain.rpc_url.clone(),
        rpc_user: chain.rpc_user.clone(),
        rpc_password: Some(chain.rpc_password.clone()),
        rpc_cookie_file: String::new(),
        electrum_url: chain.electrum_url.clone(),
        electrum_cert_sha256: String::new(),
        bootstrap: Vec::new(),
        tor: true,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tor_mode_reaches_electrum_and_core_at_onion_addresses_through_tor() {
    let (net, ltc) = futures::join!(
        TorNet::start(),
        Litecoind::start_with(LitecoindOptions {
            txindex: true,
            ..LitecoindOptions::default()
        })
    );
    let electrum = ElectrumX::start(&ltc).await;
    let height = ltc.call("getblockcount", serde_json::json!([])).await;
    let height = height.as_u64().expect("a height");

    // The servers' side: a tor of their own publishes both as onion services.
    let dir = TestDir::new();
    let servers = Tor::launch(
        &TorSettings {
            extra_config: net.client_config(),
            ..TorSettings::new()
        },
        &dir.path("servers-tor"),
        |_| {},
    )
    .await
    .expect("the servers' tor");
    let loopback = |port: u16| std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let electrum_onion = servers
        .publish(
            &libp2p::identity::Keypair::generate_ed25519(),
            loopback(electrum.port()),
        )
        .await
        .expect("the Electrum onion service");
    let rpc_onion = servers
        .publish(
            &libp2p::identity::Keypair::generate_ed25519(),
            loopback(port_of(&ltc.core.rpc_url)),
        )
        .await
        .expect("the RPC onion service");

    let over_electrum = ChainConfig {
        electrum_url: format!("tcp://{}", host_port(&electrum_onion)),
        ..electrum.config(&ltc)
    };
    let over_rpc = ChainConfig {
        rpc_url: format!("http://{}/", host_port(&rpc_onion)),
        ..ltc.core.clone()
    };
    let mut config = Config::default();
    config.price.url = String::new();
    config.chain = over_electrum.clone();
    config.net.tor = true;
    let node = node_with(&dir.path("node"), config);
    node.create_identity(PASSPHRASE).await.expect("identity");

    // No tor yet: a remote backend is not reached at all, and the status says why.
    let before = node.chain_status().await.expect("status");
    let why = before.error.clone().unwrap_or_default();
    assert!(
        !before.connected && why.contains("through tor, which has not started yet"),
        "{before:?}"
    );
    let refused = node
        .test_chain_connection(edit(&over_rpc))
        .await
        .expect_err("no tor, no remote chain");
    assert!(refused.to_string().contains("not started yet"), "{refused}");

    let tor_net = NetConfig {
        tor: Some(TorSettings {
            extra_config: net.client_config(),
            ..TorSettings::new()
        }),
        ..NetConfig::default()
    };
    node.start_network(tor_net, &[BTC_EUR])
        .await
        .expect("Tor mode start with an Electrum server at an onion address");

    // The settlement backend (connected at the start) answers through tor.
    let status = node.chain_status().await.expect("status");
    assert!(status.connected, "{status:?}");
    assert_eq!(status.tip_height, Some(height));
    // The Settings test of both kinds of backend goes through tor as well.
    for (what, chain) in [("Electrum", &over_electrum), ("Core RPC", &over_rpc)] {
        let check = node
            .test_chain_connection(edit(chain))
            .await
            .unwrap_or_else(|e| panic!("{what} at an onion address: {e}"));
        assert_eq!(check.tip_height, height, "{what}");
        assert_eq!(check.network, Network::Regtest, "{what}");
    }
    node.shutdown().await;
    servers.stop().await;
}
