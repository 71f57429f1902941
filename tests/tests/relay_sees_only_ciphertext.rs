//! A maker and a taker who can reach each other only through a circuit relay negotiate and chat. The
//! relay (a third node on the path) never holds the plaintext: not in the bytes it forwards (recorded
//! by a TCP proxy in front of it), not in anything it stores. And the application payloads themselves —
//! the sealed take and every envelope exactly as sent — do not contain it either, so the secrecy does
//! not rest on the transport's encryption alone. As a control, the plaintext *is* found in the two
//! parties' own databases, so the search would see it if it were there.

use std::{
    path::Path,
    sync::{Arc, Mutex},
};

use libp2p::{Multiaddr, multiaddr::Protocol};
use souk_core::{
    net::NetConfig,
    node::Reach,
    offer::PaymentMethod,
    trading::{ChatMessage, TradeAnswer},
};
use souk_tests::{BTC_EUR, DEADLINE, TestDir, TestNode, sell_offer};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};

/// Forwards every connection `listener` accepts to `target` and records all bytes, both ways.
fn recording_proxy(listener: TcpListener, target: std::net::SocketAddr) -> Arc<Mutex<Vec<u8>>> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let Ok(server) = TcpStream::connect(target).await else {
                continue;
            };
            let (c_read, c_write) = client.into_split();
            let (s_read, s_write) = server.into_split();
            tokio::spawn(pump(c_read, s_write, record.clone()));
            tokio::spawn(pump(s_read, c_write, record.clone()));
        }
    });
    seen
}

async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    seen: Arc<Mutex<Vec<u8>>>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                seen.lock().unwrap().extend_from_slice(&buf[..n]);
                if to.write_all(&buf[..n]).await.is_err() {
                    return;
                }
            }
        }
    }
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// Every byte of every file under `dir` (database, WAL, logs, keystore).
fn files_contain(dir: &Path, needle: &str) -> bool {
    std::fs::read_dir(dir).unwrap().any(|entry| {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files_contain(&path, needle)
        } else {
            contains(&std::fs::read(&path).unwrap_or_default(), needle)
        }
    })
}

/// Waits until `node` listens on a relayed address: its reservation on the relay is in place.
async fn await_circuit(node: &TestNode) {
    let mut events = node.node.network_events().await.unwrap();
    let relayed = async {
        loop {
            let addrs = node.node.network_status().await.unwrap().listen_addrs;
            if addrs.iter().any(|a| {
                a.parse::<Multiaddr>()
                    .is_ok_and(|a| a.iter().any(|p| p == Protocol::P2pCircuit))
            }) {
                return;
            }
            let _ = events.recv().await;
        }
    };
    tokio::time::timeout(DEADLINE, relayed)
        .await
        .expect("a reservation on the relay");
}

/// A node reachable only through the relay: it listens on a circuit and knows only the relay.
fn behind_relay(relay: &Multiaddr) -> NetConfig {
    let mut config = NetConfig::loopback_for_tests();
    config.listen = vec![relay.clone().with(Protocol::P2pCircuit)];
    config.bootstrap = vec![relay.clone()];
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_relay_forwards_and_stores_only_ciphertext() {
    let dir = TestDir::new();
    // The proxy's port is the relay's public address: what it hands its clients for their circuits.
    let proxy = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy_port = proxy.local_addr().unwrap().port();
    let mut relay_config = NetConfig::loopback_for_tests();
    relay_config.relay_server = true;
    relay_config.external_addresses =
        vec![format!("/ip4/127.0.0.1/tcp/{proxy_port}").parse().unwrap()];
    let relay = TestNode::start_with(dir.path("relay"), relay_config).await;
    let relay_tcp: Multiaddr = relay.address().parse().unwrap();
    let target = match (relay_tcp.iter().next(), relay_tcp.iter().nth(1)) {
        (Some(Protocol::Ip4(ip)), Some(Protocol::Tcp(port))) => (ip, port).into(),
        _ => panic!("unexpected relay address {relay_tcp}"),
    };
    let forwarded = recording_proxy(proxy, target);
    let via_proxy: Multiaddr =
        format!("/ip4/127.0.0.1/tcp/{proxy_port}/p2p/{}", relay.info.peer_id)
            .parse()
            .unwrap();

    let maker = TestNode::start_with(dir.path("maker"), behind_relay(&via_proxy)).await;
    let taker = TestNode::start_with(dir.path("taker"), behind_relay(&via_proxy)).await;
    // Both have their reservation on the relay (so they are connected to it) before anything is said.
    await_circuit(&maker).await;
    await_circuit(&taker).await;
    // What the Network screen shows: the maker is reachable through its reservation on the relay; the
    // relay serves as one and is reachable directly at the address it was given.
    let status = maker.node.network_status().await.expect("network status");
    assert_eq!(status.reach, Reach::Relayed, "{status:?}");
    assert_eq!(status.relays.len(), 1, "{status:?}");
    assert_eq!(status.relays[0].relay, relay.info.peer_id);
    let reservation = status.relays[0]
        .reservation
        .as_deref()
        .expect("a reservation");
    assert!(
        reservation.contains(&format!("/p2p/{}/p2p-circuit", relay.info.peer_id))
            && reservation.ends_with(&format!("/p2p/{}", maker.info.peer_id)),
        "{reservation}"
    );
    assert!(!status.relay_server);
    let status = relay.node.network_status().await.expect("network status");
    assert!(
        status.relay_server && status.relays.is_empty(),
        "{status:?}"
    );
    assert_eq!(status.reach, Reach::Public);
    assert!(
        status
            .external_addrs
            .iter()
            .any(|a| a.starts_with(&format!("/ip4/127.0.0.1/tcp/{proxy_port}/p2p/"))),
        "{:?}",
        status.external_addrs
    );
    let offer = maker
        .node
        .post_offer(sell_offer(60_000))
        .await
        .expect("post");
    // Gossip may not have formed its mesh yet; asking the market's makers goes through the relay too.
    taker
        .node
        .refresh_market(BTC_EUR.0, BTC_EUR.1)
        .await
        .expect("refresh");
    taker.await_offer(offer.id).await;

    let marker = format!("PLAINTEXT-{}", uuid::Uuid::now_v7().simple());
    let payout = format!("IBAN-{marker}");
    let trade = tokio::time::timeout(
        DEADLINE,
        taker.node.take_offer(
            offer.id,
            5_000_000,
            PaymentMethod::new("SEPA").unwrap(),
            payout.clone(),
        ),
    )
    .await
    .expect("take in time")
    .expect("take through the relay");
    maker
        .node
        .answer_trade(trade.id, TradeAnswer::Accept)
        .await
        .expect("accept");
    let to_maker = format!("taker says {marker}");
    let to_taker = format!("maker says {marker}");
    taker
        .node
        .send_chat(trade.id, to_maker.clone())
        .await
        .unwrap();
    maker
        .node
        .send_chat(trade.id, to_taker.clone())
        .await
        .unwrap();
    let delivered =
        |log: &[ChatMessage]| log.len() == 2 && log.iter().all(|m| m.delivered_at.is_some());
    maker.await_chat(trade.id, "both messages", delivered).await;
    taker.await_chat(trade.id, "both messages", delivered).await;
    assert_eq!(
        maker.node.trade(trade.id).await.unwrap().terms.payout,
        payout,
        "the maker got the payout details"
    );

    // What went through the relay: a lot of bytes, none of them the plaintext.
    let forwarded = forwarded.lock().unwrap().clone();
    assert!(
        forwarded.len() > 10_000,
        "the proxy saw only {} bytes",
        forwarded.len()
    );
    assert!(
        !contains(&forwarded, &marker),
        "the relay forwarded plaintext"
    );
    // What the application handed to the network: the envelopes exactly as sent, on both sides
    // (the maker's accept and message, the taker's message).
    let mut sent = 0;
    for node in [&maker, &taker] {
        let db = sqlx::SqlitePool::connect(&format!(
            "sqlite://{}?mode=ro",
            node.data_dir.join(souk_core::store::FILE_NAME).display()
        ))
        .await
        .unwrap();
        let envelopes: Vec<Vec<u8>> = sqlx::query_scalar("SELECT envelope FROM outbox")
            .fetch_all(&db)
            .await
            .unwrap();
        sent += envelopes.len();
        for envelope in &envelopes {
            assert!(
                !contains(envelope, &marker),
                "an envelope carries plaintext"
            );
        }
        db.close().await;
    }
    assert_eq!(sent, 3, "envelopes sent");

    let (relay_dir, maker_dir, taker_dir) = (
        relay.data_dir.clone(),
        maker.data_dir.clone(),
        taker.data_dir.clone(),
    );
    maker.stop().await;
    taker.stop().await;
    relay.stop().await;
    assert!(
        !files_contain(&relay_dir, &marker),
        "the relay stored plaintext"
    );
    // The control: the parties do store it, so the searches above would have found it.
    assert!(files_contain(&maker_dir, &to_maker) && files_contain(&maker_dir, &payout));
    assert!(files_contain(&taker_dir, &to_taker));
}
