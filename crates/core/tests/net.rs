//! Protocol tests of `souk_core::net` between real swarms on 127.0.0.1 (OS-chosen ports). No sleeps:
//! every wait is for an event, under a deadline.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use libp2p::{Multiaddr, PeerId, identity::Keypair, kad, multiaddr::Protocol};
use souk_core::{
    ErrorKind,
    net::{
        AcceptAll, DhtMode, InboundFilter, InboundId, NetClient, NetConfig, NetError, NetEvent,
        Network,
    },
};
use tokio::sync::broadcast;

const DEADLINE: Duration = Duration::from_secs(10);
const TTL: Duration = Duration::from_secs(300);
const TOPIC: &str = "souk/market/BTC/EUR";

struct Node {
    client: NetClient,
    events: broadcast::Receiver<NetEvent>,
    peer: PeerId,
    addr: Multiaddr,
}

fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

async fn start(config: NetConfig, filter: Arc<dyn InboundFilter>) -> Node {
    init_tracing();
    let (client, events) = Network::start(config, Keypair::generate_ed25519(), filter)
        .await
        .expect("network starts");
    let peer = client.local_peer_id();
    let listen = client.listen_addrs().await.expect("listen addrs");
    let addr = listen
        .first()
        .expect("one listen address")
        .clone()
        .with(Protocol::P2p(peer));
    Node {
        client,
        events,
        peer,
        addr,
    }
}

/// `n` nodes with the same config and filter.
async fn start_n(n: usize, config: &NetConfig, filter: Arc<dyn InboundFilter>) -> Vec<Node> {
    let mut nodes = Vec::with_capacity(n);
    for _ in 0..n {
        nodes.push(start(config.clone(), filter.clone()).await);
    }
    nodes
}

/// Wait until `pick` returns `Some` for an event of `node`, or fail after [`DEADLINE`].
async fn wait_for<T>(
    node: &mut Node,
    what: &str,
    mut pick: impl FnMut(&NetEvent) -> Option<T>,
) -> T {
    let found = tokio::time::timeout(DEADLINE, async {
        loop {
            match node.events.recv().await {
                Ok(event) => {
                    if let Some(t) = pick(&event) {
                        return t;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => panic!("event stream closed"),
            }
        }
    })
    .await;
    found.unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

/// `dialer` dials `listener`; waits until both see the connection and, when `dht`, until each has
/// the other in its Kademlia routing table.
async fn connect(dialer: &mut Node, listener: &mut Node, dht: bool) {
    let peer = dialer
        .client
        .dial(listener.addr.clone())
        .await
        .expect("dial");
    assert_eq!(peer, listener.peer);
    let (dialer_peer, listener_peer) = (dialer.peer, listener.peer);
    for (node, other) in [(&mut *dialer, listener_peer), (&mut *listener, dialer_peer)] {
        let mut connected = false;
        let mut routable = !dht;
        wait_for(node, "connection (and DHT routing)", |e| {
            match e {
                NetEvent::PeerConnected(p) if *p == other => connected = true,
                NetEvent::DhtPeerAdded(p) if *p == other => routable = true,
                _ => {}
            }
            (connected && routable).then_some(())
        })
        .await;
    }
}

/// Refuses record values and gossip starting with `bad`.
struct RefuseBad;

impl InboundFilter for RefuseBad {
    fn check_record(&self, _from: &PeerId, record: &kad::Record) -> Result<(), String> {
        if record.value.starts_with(b"bad") {
            Err("value is bad".into())
        } else {
            Ok(())
        }
    }

    fn check_gossip(&self, _topic: &str, data: &[u8], _from: &PeerId) -> Result<(), String> {
        if data.starts_with(b"bad") {
            Err("message is bad".into())
        } else {
            Ok(())
        }
    }
}

fn gossip_config() -> NetConfig {
    // Nobody serves the DHT, so no peer discovers another through it: the line A–B–C stays a line
    // and anything C receives from A went through B.
    NetConfig {
        dht_mode: DhtMode::Client,
        ..NetConfig::loopback_for_tests()
    }
}

/// Builds A–B–C (B dials A, C dials B), all subscribed to [`TOPIC`].
async fn gossip_line(filter: Arc<dyn InboundFilter>) -> (Node, Node, Node) {
    let mut nodes = start_n(3, &gossip_config(), filter).await;
    let mut c = nodes.pop().expect("c");
    let mut b = nodes.pop().expect("b");
    let mut a = nodes.pop().expect("a");
    connect(&mut b, &mut a, false).await;
    connect(&mut c, &mut b, false).await;
    for n in [&a, &b, &c] {
        assert!(n.client.subscribe(TOPIC).await.expect("subscribe"));
    }
    (a, b, c)
}

/// A publishes `prefix-<i>` every 50 ms until C receives one of them: the mesh needs a heartbeat
/// or two after the subscriptions. (In a line A–B–C, C hears it from B, which passed it on.)
async fn warm_up_mesh(a: &Node, c: &mut Node, prefix: &str) {
    let got = tokio::time::timeout(DEADLINE, async {
        let mut tick = tokio::time::interval(Duration::from_millis(50));
        let mut i = 0u32;
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    a.client.publish(TOPIC, format!("{prefix}-{i}").into_bytes()).await.expect("publish");
                    i += 1;
                }
                event = c.events.recv() => {
                    if let Ok(NetEvent::Gossip { topic, data, .. }) = event
                        && topic == TOPIC && data.starts_with(prefix.as_bytes())
                    {
                        return;
                    }
                }
            }
        }
    })
    .await;
    assert!(got.is_ok(), "gossip from A never reached C");
}

#[tokio::test]
async fn two_nodes_store_and_find_records_and_providers() {
    let mut nodes = start_n(2, &NetConfig::loopback_for_tests(), Arc::new(AcceptAll)).await;
    let mut b = nodes.pop().expect("b");
    let mut a = nodes.pop().expect("a");

    // Alone, A still stores its record: reported as held by 0 peers.
    let stored_on = a
        .client
        .put_record(b"offer-0".to_vec(), b"value-0".to_vec(), TTL)
        .await
        .unwrap();
    assert_eq!(stored_on, 0);

    connect(&mut b, &mut a, true).await;
    assert_eq!(a.client.connected_peers().await.unwrap(), vec![b.peer]);

    // Not replicated to B (B arrived later): B's lookup fetches it from A over the DHT.
    assert_eq!(
        b.client.local_record(b"offer-0".to_vec()).await.unwrap(),
        None
    );
    assert_eq!(
        b.client.get_record(b"offer-0".to_vec()).await.unwrap(),
        Some(b"value-0".to_vec())
    );

    let stored_on = a
        .client
        .put_record(b"offer-1".to_vec(), b"value-1".to_vec(), TTL)
        .await
        .unwrap();
    assert_eq!(stored_on, 1, "B holds a replica");
    assert_eq!(
        b.client.get_record(b"offer-1".to_vec()).await.unwrap(),
        Some(b"value-1".to_vec())
    );
    assert_eq!(
        b.client.local_record(b"offer-1".to_vec()).await.unwrap(),
        Some(b"value-1".to_vec()),
        "replicated into B's own store"
    );
    assert_eq!(
        b.client.get_record(b"missing".to_vec()).await.unwrap(),
        None
    );

    a.client
        .start_providing(b"market/BTC/EUR".to_vec())
        .await
        .unwrap();
    let providers = b
        .client
        .get_providers(b"market/BTC/EUR".to_vec())
        .await
        .unwrap();
    assert!(
        providers.contains(&a.peer),
        "A is a provider: {providers:?}"
    );

    let stats = b.client.stats().await.unwrap();
    assert_eq!(stats.connected_peers, 1);
    assert_eq!(stats.routing_table_size, 1);
    assert_eq!(stats.stored_records, 1);
    assert_eq!(stats.records_accepted, 1);
    assert_eq!(stats.refused_total(), 0);
}

#[tokio::test]
async fn gossip_crosses_a_line_of_three() {
    let (a, b, mut c) = gossip_line(Arc::new(AcceptAll)).await;
    warm_up_mesh(&a, &mut c, "hello").await;
    let c_peers = c.client.connected_peers().await.unwrap();
    assert_eq!(
        c_peers,
        vec![b.peer],
        "C only knows B: the message was relayed"
    );
    assert!(b.client.stats().await.unwrap().gossip_accepted >= 1);
}

/// A connection stays while its peer is in a gossip mesh and closes once idle otherwise: gossip's
/// long-lived substreams do not hold it open (they did, so a node kept a connection to every peer it
/// ever met). B meets A (same market: they mesh) and then C (another market); C's connection, the
/// younger one, closes after the idle timeout, while A's — older, and as quiet — is still there.
#[tokio::test]
async fn only_gossip_mesh_peers_keep_an_idle_connection() {
    let config = NetConfig {
        idle_connection_timeout: Duration::from_millis(500),
        ..gossip_config()
    };
    let mut nodes = start_n(3, &config, Arc::new(AcceptAll)).await;
    let mut c = nodes.pop().expect("c");
    let mut b = nodes.pop().expect("b");
    let mut a = nodes.pop().expect("a");
    for n in [&a, &b] {
        assert!(n.client.subscribe(TOPIC).await.expect("subscribe"));
    }
    assert!(
        c.client
            .subscribe("souk/market/LTC/EUR")
            .await
            .expect("subscribe")
    );
    connect(&mut b, &mut a, false).await;
    // A's message reaching B means B is in A's mesh (A grafted it; B accepted).
    warm_up_mesh(&a, &mut b, "mesh").await;
    connect(&mut b, &mut c, false).await;
    let c_peer = c.peer;
    wait_for(&mut b, "the idle connection to C to close", |e| {
        matches!(e, NetEvent::PeerDisconnected(p) if *p == c_peer).then_some(())
    })
    .await;
    assert_eq!(
        b.client.connected_peers().await.unwrap(),
        vec![a.peer],
        "B keeps its mesh peer A"
    );
    assert_eq!(a.client.connected_peers().await.unwrap(), vec![b.peer]);
}

/// Gossip messages are named by their content: the same bytes published twice (an offer announced
/// again moments later) are one message, sent and delivered once; the second publish is not an error.
#[tokio::test]
async fn the_same_bytes_published_twice_are_one_message() {
    let (a, _b, mut c) = gossip_line(Arc::new(AcceptAll)).await;
    warm_up_mesh(&a, &mut c, "warm").await;
    let message = b"an offer, announced twice".to_vec();
    assert!(a.client.publish(TOPIC, message.clone()).await.unwrap() >= 1);
    assert!(
        a.client.publish(TOPIC, message.clone()).await.unwrap() >= 1,
        "the second publish of the same bytes is already on its way"
    );
    a.client.publish(TOPIC, b"after".to_vec()).await.unwrap();
    // Messages from A reach C in order through B: once "after" is in, both copies would have too.
    let mut copies = 0;
    wait_for(&mut c, "the message after the repeated one", |e| match e {
        NetEvent::Gossip { data, .. } if *data == message => {
            copies += 1;
            None
        }
        NetEvent::Gossip { data, .. } => (data == b"after").then_some(()),
        _ => None,
    })
    .await;
    assert_eq!(copies, 1, "the repeated message arrived {copies} times");
}

/// A node with this query timeout, in the DHT with two peers: one quick, one reading everything
/// `slow_ms` late.
async fn quick_and_slow(query_timeout: Duration, slow_ms: u64) -> (Node, Node, Node) {
    let mut a = start(
        NetConfig {
            query_timeout,
            ..NetConfig::loopback_for_tests()
        },
        Arc::new(AcceptAll),
    )
    .await;
    let mut quick = start(NetConfig::loopback_for_tests(), Arc::new(AcceptAll)).await;
    let mut slow = start(
        NetConfig {
            added_latency: Duration::from_millis(slow_ms),
            ..NetConfig::loopback_for_tests()
        },
        Arc::new(AcceptAll),
    )
    .await;
    connect(&mut a, &mut quick, true).await;
    connect(&mut a, &mut slow, true).await;
    (a, quick, slow)
}

/// A put whose search for the record's closest peers runs out of time still stores the record at
/// the peers that answered by then: here one of the two peers near the key reads everything
/// 500 ms late, past the putting node's 250 ms query timeout, and the quick one gets the record.
#[tokio::test]
async fn a_put_whose_search_times_out_stores_at_the_peers_that_answered() {
    let (a, quick, _slow) = quick_and_slow(Duration::from_millis(250), 500).await;

    let stored_on = a
        .client
        .put_record(b"k-timeout".to_vec(), b"v".to_vec(), TTL)
        .await
        .unwrap();
    assert_eq!(stored_on, 1, "the quick peer stored it");
    assert_eq!(quick.client.stats().await.unwrap().stored_records, 1);
    assert_eq!(
        quick
            .client
            .get_record(b"k-timeout".to_vec())
            .await
            .unwrap(),
        Some(b"v".to_vec())
    );
    // And the putting node keeps it (republished from there).
    assert_eq!(a.client.stats().await.unwrap().stored_records, 1);
}

/// A put waits for every peer it sends the record to, and answers how many stored it: the one
/// reading everything 300 ms late too (with a quorum of one the put ended at the quick peer's
/// answer, before the late one held the record).
#[tokio::test]
async fn a_put_answers_once_every_closest_peer_stored_the_record() {
    let query_timeout = NetConfig::loopback_for_tests().query_timeout;
    let (a, quick, slow) = quick_and_slow(query_timeout, 300).await;

    let key = b"k-everyone".to_vec();
    let stored_on = a
        .client
        .put_record(key.clone(), b"v".to_vec(), TTL)
        .await
        .unwrap();
    assert_eq!(stored_on, 2, "both peers stored it");
    for node in [&quick, &slow] {
        assert_eq!(
            node.client.local_record(key.clone()).await.unwrap(),
            Some(b"v".to_vec())
        );
    }
}

/// The same for a provider announcement: libp2p's `start_providing` announces only when its search
/// for the key's closest peers ends, and sends nothing when that search runs out of time; the search
/// is cut before that, and the quick peer gets the announcement.
#[tokio::test]
async fn an_announcement_whose_search_is_slow_reaches_the_peers_that_answered() {
    let (a, quick, _slow) = quick_and_slow(Duration::from_millis(250), 500).await;

    let key = b"provided-slowly".to_vec();
    a.client.start_providing(key.clone()).await.unwrap();
    // The announcement is a message without an answer: it may land just after the call returns.
    let held = tokio::time::timeout(DEADLINE, async {
        loop {
            let held = quick.client.local_providers(key.clone()).await.unwrap();
            if !held.is_empty() {
                return held;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the quick peer gets the announcement");
    assert_eq!(held, vec![a.peer]);
    assert_eq!(a.client.local_providers(key).await.unwrap(), vec![a.peer]);
}

#[tokio::test]
async fn filter_keeps_bad_records_out_of_the_store() {
    let mut nodes = start_n(2, &NetConfig::loopback_for_tests(), Arc::new(RefuseBad)).await;
    let mut b = nodes.pop().expect("b");
    let mut a = nodes.pop().expect("a");
    connect(&mut b, &mut a, true).await;

    // A's own put is not filtered (it is A's data); B judges what it receives.
    a.client
        .put_record(b"k-bad".to_vec(), b"bad value".to_vec(), TTL)
        .await
        .unwrap();
    let reason = wait_for(&mut b, "refusal of the bad record", |e| match e {
        NetEvent::Refused { from, reason } if *from == a.peer => Some(reason.clone()),
        _ => None,
    })
    .await;
    assert!(reason.contains("value is bad"), "{reason}");
    assert_eq!(
        b.client.local_record(b"k-bad".to_vec()).await.unwrap(),
        None
    );
    assert_eq!(b.client.stats().await.unwrap().records_refused, 1);

    a.client
        .put_record(b"k-good".to_vec(), b"good value".to_vec(), TTL)
        .await
        .unwrap();
    wait_for(&mut b, "the good record", |e| match e {
        NetEvent::RecordStored { key, from, .. } if key == b"k-good" && *from == a.peer => Some(()),
        _ => None,
    })
    .await;
    assert_eq!(
        b.client.local_record(b"k-good".to_vec()).await.unwrap(),
        Some(b"good value".to_vec())
    );

    // A lookup finds the bad record on A, and B's filter refuses it again.
    assert_eq!(b.client.get_record(b"k-bad".to_vec()).await.unwrap(), None);
    let stats = b.client.stats().await.unwrap();
    assert_eq!(stats.records_refused, 2);
    assert_eq!(stats.records_accepted, 1);
    assert_eq!(stats.stored_records, 1);
}

#[tokio::test]
async fn filter_stops_bad_gossip_at_the_relaying_peer() {
    let (a, mut b, mut c) = gossip_line(Arc::new(RefuseBad)).await;
    warm_up_mesh(&a, &mut c, "warm").await;

    a.client
        .publish(TOPIC, b"bad offer".to_vec())
        .await
        .unwrap();
    a.client
        .publish(TOPIC, b"good offer".to_vec())
        .await
        .unwrap();

    wait_for(&mut b, "B refusing the bad message", |e| match e {
        NetEvent::Refused { from, reason } if *from == a.peer => {
            assert!(reason.contains("message is bad"), "{reason}");
            Some(())
        }
        _ => None,
    })
    .await;
    // Messages from A reach C in order through B: once "good offer" is in, "bad offer" would have
    // arrived before it.
    wait_for(&mut c, "the good message on C", |e| match e {
        NetEvent::Gossip { data, .. } => {
            assert!(!data.starts_with(b"bad"), "bad gossip delivered to C");
            (data == b"good offer").then_some(())
        }
        NetEvent::Refused { reason, .. } => panic!("B forwarded a rejected message: {reason}"),
        _ => None,
    })
    .await;
    assert_eq!(b.client.stats().await.unwrap().gossip_refused, 1);
    assert_eq!(
        c.client.stats().await.unwrap().gossip_refused,
        0,
        "never reached C"
    );
}

#[tokio::test]
async fn per_peer_quota_refuses_the_fourth_record() {
    let a = start(NetConfig::loopback_for_tests(), Arc::new(AcceptAll)).await;
    let config = NetConfig {
        max_records_per_peer: 3,
        ..NetConfig::loopback_for_tests()
    };
    let mut b = start(config, Arc::new(AcceptAll)).await;
    let mut a = a;
    connect(&mut b, &mut a, true).await;

    for i in 0..4u8 {
        let key = vec![b'q', i];
        a.client
            .put_record(key.clone(), vec![i; 100], TTL)
            .await
            .unwrap();
        let a_peer = a.peer;
        let outcome = wait_for(&mut b, "B's verdict on the put", |e| match e {
            NetEvent::RecordStored { key: k, from, .. } if *k == key && *from == a_peer => {
                Some(Ok(()))
            }
            NetEvent::Refused { from, reason } if *from == a_peer => Some(Err(reason.clone())),
            _ => None,
        })
        .await;
        if i < 3 {
            assert_eq!(outcome, Ok(()), "record {i} is within the quota");
        } else {
            let reason = outcome.expect_err("fourth record is over the quota");
            assert!(reason.contains("quota"), "{reason}");
        }
    }
    let stats = b.client.stats().await.unwrap();
    assert_eq!(stats.records_accepted, 3);
    assert_eq!(stats.quota_refused, 1);
    assert_eq!(stats.stored_records, 3);
    assert_eq!(b.client.local_record(vec![b'q', 3]).await.unwrap(), None);

    // Replacing a record A already has here fits in its quota.
    a.client
        .put_record(vec![b'q', 0], vec![9; 50], TTL)
        .await
        .unwrap();
    assert_eq!(
        b.client.local_record(vec![b'q', 0]).await.unwrap(),
        Some(vec![9; 50])
    );
}

#[tokio::test]
async fn shutdown_stops_the_node_and_later_calls_fail_clearly() {
    let mut nodes = start_n(2, &NetConfig::loopback_for_tests(), Arc::new(AcceptAll)).await;
    let mut b = nodes.pop().expect("b");
    let mut a = nodes.pop().expect("a");
    connect(&mut b, &mut a, true).await;

    let a_clone = a.client.clone();
    tokio::time::timeout(DEADLINE, a.client.shutdown())
        .await
        .expect("shutdown returns");
    let a_peer = a.peer;
    wait_for(&mut b, "B seeing A leave", |e| {
        matches!(e, NetEvent::PeerDisconnected(p) if *p == a_peer).then_some(())
    })
    .await;

    let err = a_clone.stats().await.expect_err("stopped");
    assert!(matches!(err, NetError::Stopped));
    assert_eq!(err.to_string(), "network stopped");
    assert_eq!(err.kind(), ErrorKind::Internal);
    assert!(matches!(
        a_clone.put_record(b"k".to_vec(), b"v".to_vec(), TTL).await,
        Err(NetError::Stopped)
    ));
    // Idempotent.
    a_clone.shutdown().await;
    assert!(b.client.stats().await.is_ok(), "B is unaffected");
}

/// A provider lookup ends only when the closest peers have all answered or timed out; one that
/// never answers (an address that accepts TCP and then says nothing) holds it for Kademlia's
/// per-peer timeout. Each provider is handed over as the lookup meets it, before that.
#[tokio::test]
async fn providers_are_handed_over_as_the_lookup_finds_them() {
    let a = start(NetConfig::loopback_for_tests(), Arc::new(AcceptAll)).await;
    a.client
        .start_providing(b"market/BTC/EUR".to_vec())
        .await
        .unwrap();
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = silent.local_addr().unwrap().port();
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((stream, _)) = silent.accept().await {
            open.push(stream);
        }
    });
    let nobody = Keypair::generate_ed25519().public().to_peer_id();
    let config = NetConfig {
        bootstrap: vec![
            a.addr.clone(),
            format!("/ip4/127.0.0.1/tcp/{port}/p2p/{nobody}")
                .parse()
                .unwrap(),
        ],
        query_timeout: Duration::from_secs(120),
        ..NetConfig::loopback_for_tests()
    };
    let mut t = start(config, Arc::new(AcceptAll)).await;
    let a_peer = a.peer;
    wait_for(&mut t, "A in T's routing table", |e| {
        matches!(e, NetEvent::DhtPeerAdded(p) if *p == a_peer).then_some(())
    })
    .await;

    let (found_tx, mut found) = tokio::sync::mpsc::unbounded_channel();
    let lookup = t
        .client
        .get_providers_as_found(b"market/BTC/EUR".to_vec(), found_tx);
    tokio::pin!(lookup);
    tokio::select! {
        biased;
        first = found.recv() => assert_eq!(first, Some(a.peer)),
        all = &mut lookup => panic!("the lookup ended before it handed over a provider: {all:?}"),
    }
    let all = lookup.await.unwrap();
    assert_eq!(all, [a.peer].into(), "the answer holds every provider too");
    assert_eq!(found.recv().await, None, "each provider handed over once");
    held.abort();
}

#[tokio::test]
async fn bootstrap_peers_from_config_and_lonely_node_errors() {
    let mut a = start(NetConfig::loopback_for_tests(), Arc::new(AcceptAll)).await;

    // Alone: nothing to bootstrap from, nobody to gossip to (not an error), empty lookups.
    assert!(matches!(
        a.client.bootstrap().await,
        Err(NetError::NoKnownPeers)
    ));
    assert_eq!(
        a.client.publish(TOPIC, b"anyone?".to_vec()).await.unwrap(),
        0
    );
    assert!(
        a.client
            .get_providers(b"nobody".to_vec())
            .await
            .unwrap()
            .is_empty()
    );

    // A bootstrap address must name its peer.
    let without_peer_id = a.client.listen_addrs().await.unwrap();
    let bad = NetConfig {
        bootstrap: without_peer_id,
        ..NetConfig::loopback_for_tests()
    };
    let err = Network::start(bad, Keypair::generate_ed25519(), Arc::new(AcceptAll))
        .await
        .expect_err("bootstrap address without /p2p");
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");

    // B joins through its configured bootstrap peer, without an explicit dial.
    let config = NetConfig {
        bootstrap: vec![a.addr.clone()],
        ..NetConfig::loopback_for_tests()
    };
    let mut b = start(config, Arc::new(AcceptAll)).await;
    let (a_peer, b_peer) = (a.peer, b.peer);
    wait_for(&mut a, "B connecting to its bootstrap peer", |e| {
        matches!(e, NetEvent::DhtPeerAdded(p) if *p == b_peer).then_some(())
    })
    .await;
    wait_for(&mut b, "A in B's routing table", |e| {
        matches!(e, NetEvent::DhtPeerAdded(p) if *p == a_peer).then_some(())
    })
    .await;
    b.client
        .bootstrap()
        .await
        .expect("bootstrap with a known peer");
    assert_eq!(b.client.stats().await.unwrap().routing_table_size, 1);
}

/// A peer being dialled is not dialled again: the node's start dials its bootstrap peer, and the
/// dials asked for meanwhile (as the node's start does to report the bootstrap, here twice at once)
/// wait for that one. One connection results at both ends. (The added latency keeps the first dial's
/// handshake under way long enough for the later ones to find it.)
#[tokio::test]
async fn a_peer_being_dialled_is_not_dialled_twice() {
    let slow = NetConfig {
        added_latency: Duration::from_millis(150),
        ..NetConfig::loopback_for_tests()
    };
    let mut a = start(slow.clone(), Arc::new(AcceptAll)).await;
    let b = start(
        NetConfig {
            bootstrap: vec![a.addr.clone()],
            ..slow
        },
        Arc::new(AcceptAll),
    )
    .await;
    let (one, two) = tokio::join!(b.client.dial(a.addr.clone()), b.client.dial(a.addr.clone()));
    assert_eq!(one.unwrap(), a.peer);
    assert_eq!(two.unwrap(), a.peer);
    let b_peer = b.peer;
    wait_for(&mut a, "the listener's end of the connection", |e| {
        matches!(e, NetEvent::PeerConnected(p) if *p == b_peer).then_some(())
    })
    .await;
    for (name, node) in [("dialer", &b), ("listener", &a)] {
        let stats = node.client.stats().await.unwrap();
        assert_eq!(
            (stats.connected_peers, stats.connections),
            (1, 1),
            "the {name}'s peers and connections: {stats:?}"
        );
    }
}

/// A dial that waited for another one to the same peer, which then failed, tries its own address.
#[tokio::test]
async fn a_dial_waiting_on_a_failed_one_tries_its_own_address() {
    let a = start(NetConfig::loopback_for_tests(), Arc::new(AcceptAll)).await;
    // A slow stranger: it accepts TCP, says nothing for half a second, then hangs up; the
    // bootstrap dial's handshake fails there, after the dial below has started waiting for it.
    let wrong = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let wrong_port = wrong.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in wrong.incoming() {
            std::thread::sleep(Duration::from_millis(500));
            drop(stream);
        }
    });
    let wrong_addr: Multiaddr = format!("/ip4/127.0.0.1/tcp/{wrong_port}/p2p/{}", a.peer)
        .parse()
        .unwrap();
    let b = start(
        NetConfig {
            bootstrap: vec![wrong_addr],
            ..NetConfig::loopback_for_tests()
        },
        Arc::new(AcceptAll),
    )
    .await;
    let dialled = tokio::time::timeout(DEADLINE, b.client.dial(a.addr.clone()))
        .await
        .expect("the waiting dial is answered");
    assert_eq!(dialled.unwrap(), a.peer);
    assert_eq!(b.client.stats().await.unwrap().connections, 1);
}

// ---------------------------------------------------------------- direct request-response

/// The next direct request `node` receives: (from, id, data).
async fn next_request(node: &mut Node) -> (PeerId, InboundId, Vec<u8>) {
    wait_for(node, "a direct request", |e| match e {
        NetEvent::Request { peer, id, data } => Some((*peer, *id, data.clone())),
        _ => None,
    })
    .await
}

/// Two connected nodes (A dialled B) with these configs.
async fn direct_pair(a: NetConfig, b: NetConfig) -> (Node, Node) {
    let mut a = start(a, Arc::new(AcceptAll)).await;
    let mut b = start(b, Arc::new(AcceptAll)).await;
    connect(&mut a, &mut b, false).await;
    (a, b)
}

#[tokio::test]
async fn direct_request_gets_the_answer_of_the_application() {
    let config = NetConfig::loopback_for_tests();
    let (a, b) = direct_pair(config.clone(), config).await;

    // The application on B: answers every request with its bytes reversed.
    let mut b_events = b.client.subscribe_events();
    let b_client = b.client.clone();
    let responder = tokio::spawn(async move {
        while let Ok(event) = b_events.recv().await {
            if let NetEvent::Request { id, mut data, .. } = event {
                data.reverse();
                b_client.respond(id, data).await.expect("respond");
            }
        }
    });

    let started = Instant::now();
    let answer = a
        .client
        .request(b.peer, b"offers in BTC/EUR?".to_vec())
        .await;
    assert_eq!(answer.unwrap(), b"?RUE/CTB ni sreffo".to_vec());
    let answer = a.client.request(b.peer, Vec::new()).await;
    assert_eq!(answer.unwrap(), Vec::<u8>::new(), "empty both ways");
    tracing::info!(elapsed = ?started.elapsed(), "two round trips");

    let a_stats = a.client.stats().await.unwrap();
    assert_eq!(a_stats.requests_sent, 2);
    let b_stats = b.client.stats().await.unwrap();
    assert_eq!(b_stats.requests_answered, 2);
    assert_eq!(b_stats.requests_refused, 0);
    assert_eq!(b_stats.pending_inbound, 0);
    responder.abort();
}

/// `added_latency` (for benchmarks) delays what each node reads: a request and its answer cross two
/// delayed reads, so a round trip on an open connection takes at least twice the latency, and
/// still arrives whole.
#[tokio::test]
async fn added_latency_delays_every_round_trip() {
    let latency = Duration::from_millis(60);
    let config = NetConfig {
        added_latency: latency,
        ..NetConfig::loopback_for_tests()
    };
    let (a, b) = direct_pair(config.clone(), config).await;
    let mut b_events = b.client.subscribe_events();
    let b_client = b.client.clone();
    let responder = tokio::spawn(async move {
        while let Ok(event) = b_events.recv().await {
            if let NetEvent::Request { id, data, .. } = event {
                b_client.respond(id, data).await.expect("respond");
            }
        }
    });
    for size in [10, 40_000] {
        let data: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
        let started = Instant::now();
        let answer = a.client.request(b.peer, data.clone()).await.unwrap();
        let took = started.elapsed();
        assert_eq!(answer, data);
        assert!(
            took >= 2 * latency,
            "a round trip of {size} bytes took {took:?}"
        );
    }
    responder.abort();
}

#[tokio::test]
async fn oversized_requests_and_answers_are_refused() {
    let a_config = NetConfig {
        max_response_bytes: 1024,
        ..NetConfig::loopback_for_tests()
    };
    let b_config = NetConfig {
        max_response_bytes: 4096,
        ..NetConfig::loopback_for_tests()
    };
    let (a, mut b) = direct_pair(a_config, b_config).await;

    // Over our own request limit (64 KiB by default): refused before anything is sent.
    let max = NetConfig::default().max_request_bytes;
    let err = a
        .client
        .request(b.peer, vec![0; max + 1])
        .await
        .expect_err("too large");
    assert!(
        matches!(err, NetError::RequestTooLarge { size, max: m } if size == max + 1 && m == max),
        "{err}"
    );
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert_eq!(a.client.stats().await.unwrap().requests_sent, 0);

    // B answers 2 KiB (within B's limit, over A's): A refuses to read it.
    let a_client = a.client.clone();
    let b_peer = b.peer;
    let asking = tokio::spawn(async move { a_client.request(b_peer, b"big?".to_vec()).await });
    let (from, id, data) = next_request(&mut b).await;
    assert_eq!((from, data.as_slice()), (a.peer, &b"big?"[..]));
    // Over B's own limit: refused locally, and the request can still be answered.
    let err = b
        .client
        .respond(id, vec![1; 4097])
        .await
        .expect_err("over B's limit");
    assert!(
        matches!(
            err,
            NetError::AnswerTooLarge {
                size: 4097,
                max: 4096
            }
        ),
        "{err}"
    );
    b.client.respond(id, vec![1; 2048]).await.unwrap();

    let err = asking.await.unwrap().expect_err("over A's limit");
    assert!(
        matches!(err, NetError::ResponseTooLarge { peer, size: 2048, max: 1024 } if peer == b.peer),
        "{err}"
    );
    assert_eq!(err.kind(), ErrorKind::Io);
}

#[tokio::test]
async fn unanswered_request_times_out_and_leaves_nothing_behind() {
    let config = NetConfig {
        request_timeout: Duration::from_secs(1),
        ..NetConfig::loopback_for_tests()
    };
    let (a, mut b) = direct_pair(config.clone(), config).await;

    let a_client = a.client.clone();
    let b_peer = b.peer;
    let asking = tokio::spawn(async move {
        let started = Instant::now();
        let result = a_client.request(b_peer, b"anyone?".to_vec()).await;
        (result, started.elapsed())
    });
    let (_, id, _) = next_request(&mut b).await;
    assert_eq!(b.client.stats().await.unwrap().pending_inbound, 1);

    // B never answers.
    let (result, elapsed) = tokio::time::timeout(DEADLINE, asking)
        .await
        .expect("A gives up")
        .unwrap();
    let err = result.expect_err("no answer");
    assert!(
        matches!(err, NetError::RequestTimedOut { peer, .. } if peer == b.peer),
        "{err}"
    );
    assert_eq!(err.kind(), ErrorKind::Io);
    assert!(
        elapsed >= Duration::from_secs(1) && elapsed < Duration::from_secs(3),
        "timed out after {elapsed:?}"
    );

    let reason = wait_for(&mut b, "B dropping the unanswered request", |e| match e {
        NetEvent::RequestExpired {
            id: gone, reason, ..
        } if *gone == id => Some(reason.clone()),
        _ => None,
    })
    .await;
    assert!(reason.contains("Timeout"), "{reason}");
    assert_eq!(b.client.stats().await.unwrap().pending_inbound, 0);
    let err = b
        .client
        .respond(id, b"too late".to_vec())
        .await
        .expect_err("expired");
    assert!(matches!(err, NetError::UnknownRequest { .. }), "{err}");
}

#[tokio::test]
async fn answering_twice_or_an_unknown_peer_fails_clearly() {
    let config = NetConfig::loopback_for_tests();
    let (a, mut b) = direct_pair(config.clone(), config).await;

    let a_client = a.client.clone();
    let b_peer = b.peer;
    let asking = tokio::spawn(async move { a_client.request(b_peer, b"once".to_vec()).await });
    let (_, id, _) = next_request(&mut b).await;
    b.client.respond(id, b"first".to_vec()).await.unwrap();
    assert_eq!(asking.await.unwrap().unwrap(), b"first".to_vec());

    let err = b
        .client
        .respond(id, b"second".to_vec())
        .await
        .expect_err("already answered");
    assert!(
        matches!(err, NetError::UnknownRequest { id: gone } if gone == id),
        "{err}"
    );
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(err.to_string().contains("already answered"), "{err}");
    assert_eq!(b.client.stats().await.unwrap().requests_answered, 1);

    // A peer nobody knows an address for: fails at the dial, long before the request timeout.
    let stranger = PeerId::random();
    let started = Instant::now();
    let err = a
        .client
        .request(stranger, b"hello?".to_vec())
        .await
        .expect_err("unreachable");
    assert!(
        matches!(err, NetError::NotConnected { peer } if peer == stranger),
        "{err}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn per_peer_limit_refuses_the_third_pending_request() {
    let b_config = NetConfig {
        max_pending_requests_per_peer: 2,
        ..NetConfig::loopback_for_tests()
    };
    let (a, mut b) = direct_pair(NetConfig::loopback_for_tests(), b_config).await;

    // Two requests B does not answer yet fill A's allowance on B.
    let mut asking = Vec::new();
    for i in 0..2u8 {
        let client = a.client.clone();
        let b_peer = b.peer;
        asking.push(tokio::spawn(async move {
            client.request(b_peer, vec![i]).await
        }));
    }
    let mut pending = vec![next_request(&mut b).await, next_request(&mut b).await];
    assert_eq!(b.client.stats().await.unwrap().pending_inbound, 2);

    let started = Instant::now();
    let err = a
        .client
        .request(b.peer, vec![2])
        .await
        .expect_err("over the per-peer limit");
    let elapsed = started.elapsed();
    assert!(
        matches!(err, NetError::RequestRefused { peer } if peer == b.peer),
        "{err}"
    );
    assert_eq!(err.kind(), ErrorKind::Io);
    assert!(
        elapsed < Duration::from_secs(1),
        "refused after {elapsed:?}"
    );

    let a_peer = a.peer;
    let reason = wait_for(&mut b, "B reporting the refusal", |e| match e {
        NetEvent::Refused { from, reason } if *from == a_peer => Some(reason.clone()),
        _ => None,
    })
    .await;
    assert!(reason.contains("limit 2"), "{reason}");
    let stats = b.client.stats().await.unwrap();
    assert_eq!(stats.requests_refused, 1);
    assert_eq!(stats.pending_inbound, 2);

    // Answering frees the slots: the two waiting requesters get their answers, a new one fits.
    pending.sort_by_key(|(_, _, data)| data.clone());
    for (_, id, data) in pending {
        b.client.respond(id, data).await.unwrap();
    }
    for (i, task) in asking.into_iter().enumerate() {
        assert_eq!(task.await.unwrap().unwrap(), vec![u8::try_from(i).unwrap()]);
    }
    let client = a.client.clone();
    let b_peer = b.peer;
    let again = tokio::spawn(async move { client.request(b_peer, vec![3]).await });
    let (_, id, _) = next_request(&mut b).await;
    b.client.respond(id, b"ok".to_vec()).await.unwrap();
    assert_eq!(again.await.unwrap().unwrap(), b"ok".to_vec());
    assert_eq!(b.client.stats().await.unwrap().pending_inbound, 0);
}
