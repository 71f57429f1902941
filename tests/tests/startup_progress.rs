//! The start as a person watches it, with real nodes on loopback: keystore, database, network,
//! bootstrap, book — each reported in that order, with what it found. A node whose only bootstrap
//! peer is unreachable says so in the bootstrap phase, and still serves the book it had cached.

use std::time::Duration;

use souk_core::{
    identity::KdfCost,
    market::MarketEvent,
    net::NetConfig,
    node::Node,
    startup::{PhaseState, StartupPhase, StartupProgress},
};
use souk_tests::{BTC_EUR, DEADLINE, PASSPHRASE, TestDir, TestNode, node, node_with, sell_offer};

/// Watches the progress while `work` runs and returns every distinct snapshot seen, in order.
async fn watch<T>(node: &Node, work: impl Future<Output = T>) -> (T, Vec<StartupProgress>) {
    let mut seen: Vec<StartupProgress> = Vec::new();
    let mut work = std::pin::pin!(work);
    let result = tokio::time::timeout(DEADLINE, async {
        loop {
            // Compare states only: elapsed times change on every read.
            let now = node.startup_progress();
            let states = |p: &StartupProgress| p.phases.iter().map(|x| x.state).collect::<Vec<_>>();
            if seen.last().is_none_or(|last| states(last) != states(&now)) {
                seen.push(now);
            }
            tokio::select! {
                biased;
                value = &mut work => return value,
                () = tokio::time::sleep(Duration::from_millis(1)) => {}
            }
        }
    })
    .await
    .expect("the start finished in time");
    seen.push(node.startup_progress());
    (result, seen)
}

/// A desktop-like node's souk.toml: loopback only, no price feed, `maker` as its bootstrap peer, the
/// BTC/EUR market; it goes online by itself once unlocked.
fn app_config(maker: &TestNode) -> souk_core::config::Config {
    let mut config = souk_core::config::Config::default();
    config.price.url = String::new();
    config.net.listen = vec!["/ip4/127.0.0.1/tcp/0".into()];
    config.net.mdns = false;
    config.net.bootstrap = vec![maker.address()];
    config.net.markets = vec!["BTC/EUR".into()];
    config
}

/// No phase starts before every earlier one has finished (done, or failed without stopping the
/// start), and at most one runs at a time.
fn assert_in_order(snapshots: &[StartupProgress]) {
    for snapshot in snapshots {
        let mut earlier_finished = true;
        for p in &snapshot.phases {
            if !earlier_finished {
                assert_eq!(
                    p.state,
                    PhaseState::Pending,
                    "{:?} moved before the phases before it finished: {snapshot:#?}",
                    p.phase
                );
            }
            earlier_finished &= matches!(p.state, PhaseState::Done | PhaseState::Failed);
        }
    }
}

fn phase(progress: &StartupProgress, which: StartupPhase) -> &souk_core::startup::PhaseProgress {
    progress.phase(which).expect("every phase is listed")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn phases_are_reported_in_order_and_an_unreachable_bootstrap_peer_is_named() {
    let dir = TestDir::new();
    let maker = TestNode::start(dir.path("maker"), &[]).await;
    let offer = maker
        .node
        .post_offer(sell_offer(60_000))
        .await
        .expect("post");

    // A new identity, with the real key derivation so the keystore phase is seen running.
    let taker_dir = dir.path("taker");
    let taker = Node::new(&taker_dir, {
        let mut config = souk_core::config::Config::default();
        config.price.url = String::new();
        config
    })
    .with_kdf_cost(KdfCost::DEFAULT);
    let (created, seen) = watch(&taker, taker.create_identity(PASSPHRASE)).await;
    created.expect("create identity");
    assert!(
        seen.iter()
            .any(|s| phase(s, StartupPhase::Keystore).state == PhaseState::Running),
        "the keystore phase was never seen running: {seen:#?}"
    );
    let after_unlock = seen.last().expect("a snapshot");
    assert_eq!(
        phase(after_unlock, StartupPhase::Keystore)
            .detail
            .as_deref(),
        Some("created and encrypted")
    );
    assert!(
        phase(after_unlock, StartupPhase::Database)
            .detail
            .as_deref()
            .is_some_and(|d| d.starts_with("schema version ")),
        "{after_unlock:#?}"
    );
    assert_eq!(
        phase(after_unlock, StartupPhase::Network).state,
        PhaseState::Pending
    );

    // Online through the maker: network, bootstrap, book, in order; the book holds the maker's offer.
    let mut net = NetConfig::loopback_for_tests();
    net.bootstrap = vec![maker.address().parse().expect("multiaddr")];
    let (online, seen) = watch(&taker, taker.go_online(net, &[BTC_EUR])).await;
    online.expect("online");
    assert_in_order(&seen);
    let done = seen.last().expect("a snapshot");
    assert!(done.complete(), "{done:#?}");
    assert_eq!(
        phase(done, StartupPhase::Bootstrap).detail.as_deref(),
        Some("1 of 1 bootstrap peers connected; 1 peer")
    );
    let book_detail = phase(done, StartupPhase::Book)
        .detail
        .clone()
        .unwrap_or_default();
    // "New" counts what the refresh itself brought: the maker may have been asked already, when
    // the taker learnt it watches the same market (the market's subscription catch-up).
    assert!(
        ["1 offer in the book, 1 new", "1 offer in the book, 0 new"]
            .contains(&book_detail.as_str()),
        "{book_detail}"
    );
    assert!(
        done.phases.iter().all(|p| p.elapsed_ms.is_some()),
        "{done:#?}"
    );
    assert!(
        taker
            .offers(&Default::default())
            .await
            .expect("book")
            .iter()
            .any(|e| e.offer.id == offer.id)
    );
    taker.shutdown().await;

    // The taker again, its only bootstrap peer now a port nobody listens on.
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("a free port")
        .local_addr()
        .expect("its address")
        .port();
    let nobody = format!(
        "/ip4/127.0.0.1/tcp/{closed_port}/p2p/{}",
        maker.info.peer_id
    );
    let taker = node(&taker_dir);
    let (unlocked, seen) = watch(&taker, taker.unlock(PASSPHRASE)).await;
    unlocked.expect("unlock");
    assert_eq!(
        phase(seen.last().expect("a snapshot"), StartupPhase::Keystore)
            .detail
            .as_deref(),
        Some("opened")
    );
    let mut net = NetConfig::loopback_for_tests();
    net.bootstrap = vec![nobody.parse().expect("multiaddr")];
    let (online, seen) = watch(&taker, taker.go_online(net, &[BTC_EUR])).await;
    online.expect("a failed bootstrap does not stop the node");
    assert_in_order(&seen);
    let progress = seen.last().expect("a snapshot");
    let failed = progress.failed().expect("a failed phase");
    assert_eq!(failed.phase, StartupPhase::Bootstrap);
    let error = failed.error.clone().expect("the error");
    assert_eq!(error.kind, souk_core::ErrorKind::Io);
    assert_eq!(
        error.message,
        format!(
            "cannot dial {nobody}: connection refused: nothing listens at that address (is the peer running?)"
        )
    );
    // The book comes from the cache, and says so; the offline book is served.
    assert_eq!(
        phase(progress, StartupPhase::Book).detail.as_deref(),
        Some("1 offer from this computer's cache; no peer to ask yet")
    );
    let book = taker.offers(&Default::default()).await.expect("book");
    assert_eq!(book.len(), 1);
    assert_eq!(book[0].offer.id, offer.id);

    // A retry runs the network phases again and fails the same way, clearly.
    let retried = taker.retry_online().await.expect("retry");
    assert_eq!(
        retried.failed().map(|p| p.phase),
        Some(StartupPhase::Bootstrap)
    );
    taker.shutdown().await;
    maker.stop().await;
}

/// What the desktop app does: it follows the node's events from the start, and after the unlock the
/// node goes online by itself with its `[net]` settings (asked twice, it starts once); the book's
/// events then reach the follower that subscribed while the node was still locked.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn after_an_unlock_the_node_goes_online_by_itself_and_events_followed_before_flow() {
    let dir = TestDir::new();
    let maker = TestNode::start(dir.path("maker"), &[]).await;
    let offer = maker
        .node
        .post_offer(sell_offer(60_000))
        .await
        .expect("post");
    let app = std::sync::Arc::new(node_with(&dir.path("app"), app_config(&maker)));
    let mut followed = app.market_events();
    assert!(
        app.network_status().await.is_err(),
        "offline until unlocked"
    );
    app.create_identity(PASSPHRASE)
        .await
        .expect("create identity");
    app.go_online_in_background();
    app.go_online_in_background();
    let arrived = async {
        loop {
            match souk_core::events::next(&mut followed).await {
                Some(souk_core::events::Followed::Event(MarketEvent::OfferAdded { offer: o }))
                    if o.id == offer.id =>
                {
                    return;
                }
                Some(_) => {}
                None => panic!("the node's market events ended"),
            }
        }
    };
    tokio::time::timeout(DEADLINE, arrived)
        .await
        .expect("the maker's offer, through the book loaded once online");
    // The book phase may still be counting what it loaded; the network is up.
    let progress = app.startup_progress();
    assert_eq!(
        progress.phase(StartupPhase::Network).map(|p| p.state),
        Some(PhaseState::Done),
        "{progress:#?}"
    );
    let status = app.network_status().await.expect("online");
    assert_eq!(status.connected_peers, vec![maker.info.peer_id.clone()]);
    app.shutdown().await;
    maker.stop().await;
}

/// A second unlock (a double click, a second window) only checks the passphrase: the node stays
/// online with the same book and peers, and its startup record is kept. Setting up another identity
/// while one runs is refused before anything is touched.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn unlocking_a_running_node_again_keeps_it_online_and_setup_is_refused_untouched() {
    let dir = TestDir::new();
    let maker = TestNode::start(dir.path("maker"), &[]).await;
    let app = std::sync::Arc::new(node_with(&dir.path("app"), app_config(&maker)));
    let created = app
        .create_identity(PASSPHRASE)
        .await
        .expect("create identity");
    app.go_online_in_background();
    let online = tokio::time::timeout(DEADLINE, async {
        loop {
            if app.startup_progress().complete() {
                return app.network_status().await.expect("online");
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the start to finish");
    let before = app.startup_progress();

    assert_eq!(
        app.unlock("not the passphrase").await.unwrap_err().kind(),
        souk_core::error::ErrorKind::WrongPassphrase
    );
    assert_eq!(
        app.unlock(PASSPHRASE).await.expect("unlock again"),
        created.identity
    );
    app.go_online_in_background();
    for refused in [
        app.create_identity(PASSPHRASE).await.map(|_| ()),
        app.restore_identity(&created.words.join(" "), PASSPHRASE)
            .await
            .map(|_| ()),
    ] {
        assert_eq!(
            refused.unwrap_err().kind(),
            souk_core::error::ErrorKind::AlreadyInitialized
        );
    }
    let import = app
        .import_backup("/nonexistent/backup.souk", PASSPHRASE)
        .await
        .unwrap_err();
    assert!(
        import.to_string().contains("already holds an identity"),
        "{import}"
    );

    // Still the same running node: online, same peers, the start's record as it was.
    let status = app.network_status().await.expect("still online");
    assert_eq!(status.listen_addrs, online.listen_addrs);
    assert_eq!(status.connected_peers, vec![maker.info.peer_id.clone()]);
    let after = app.startup_progress();
    let states = |p: &StartupProgress| {
        p.phases
            .iter()
            .map(|x| (x.phase, x.state, x.detail.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(states(&after), states(&before));
    app.post_offer(sell_offer(61_000))
        .await
        .expect("the market still runs");
    app.shutdown().await;
    maker.stop().await;
}
