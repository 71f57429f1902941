//! Tor mode on a private Tor network (three authorities, two relays, Debian's `tor`): a bootstrap node,
//! a maker and a taker, each with its own `tor` and reachable only at its onion address, find the
//! offer, take it, chat and complete a no-escrow trade; meanwhile no socket of this process leaves
//! loopback or bypasses the nodes' tors. A restarted node keeps its onion address. And a `tor` that
//! cannot bootstrap fails the start with tor's own reason instead of spinning. And a bridge (a
//! clearnet node with its own tor and onion service, relaying for both sides) lets a Tor-mode node
//! and a clearnet node trade with each other, both ways.

use std::{collections::HashSet, path::Path, time::Duration};

use souk_core::{
    net::{
        NetConfig, PeerReach,
        tor::{TorSettings, is_onion},
    },
    node::NetworkStatus,
    offer::PaymentMethod,
    startup::{PhaseState, StartupPhase},
    trading::{TradeAnswer, TradeState},
};
use souk_tests::{BTC_EUR, TestDir, TestNode, node, sell_offer, tor::TorNet};

/// The onion-only test checks every socket of this process, so it runs alone: it holds this lock
/// for writing, the other tests of this file for reading (they may run together).
static SOCKETS: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

fn tor_config(net: &TorNet, bootstrap: &[String]) -> NetConfig {
    let mut config = NetConfig {
        gossip_heartbeat: Duration::from_millis(200),
        ..NetConfig::default()
    };
    config.tor = Some(TorSettings {
        extra_config: net.client_config(),
        ..TorSettings::new()
    });
    config.bootstrap = bootstrap
        .iter()
        .map(|a| a.parse().expect("multiaddr"))
        .collect();
    config
}

/// The node's onion address with its peer id: what others bootstrap from.
fn onion_address(node: &TestNode) -> String {
    assert_eq!(
        node.info.listen_addrs.len(),
        1,
        "a Tor-mode node tells exactly one address: {:?}",
        node.info.listen_addrs
    );
    let addr = &node.info.listen_addrs[0];
    assert!(
        is_onion(&addr.parse().expect("multiaddr")),
        "not an onion address: {addr}"
    );
    format!("{addr}/p2p/{}", node.info.peer_id)
}

/// The whole of a no-escrow trade: `maker` posts, `taker` finds the offer (its book telling how the
/// maker is reached: `reach`) and takes it, both chat, paid, received.
async fn trade_and_chat(maker: &TestNode, taker: &TestNode, reach: PeerReach) {
    let offer = maker
        .node
        .post_offer(sell_offer(60_000))
        .await
        .expect("post");
    taker.await_offer(offer.id).await;
    // Before any connection to the maker: what the DHT tells of it.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let book = taker.book().await;
        let seen = book
            .iter()
            .find(|e| e.offer.id == offer.id)
            .map(|e| e.maker_reach);
        if seen == Some(reach) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the taker's book never said the maker is reached {reach:?}: {seen:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    let sepa = PaymentMethod::new("SEPA").unwrap();
    let trade = taker
        .node
        .take_offer(offer.id, 5_000_000, sepa, "IBAN DE00 1234".into())
        .await
        .expect("take");
    maker
        .node
        .answer_trade(trade.id, TradeAnswer::Accept)
        .await
        .expect("accept");
    taker
        .await_trade(trade.id, "the accept", |t| t.state == TradeState::Accepted)
        .await;
    taker
        .node
        .send_chat(trade.id, "sent by SEPA, reference 42".into())
        .await
        .expect("chat");
    maker
        .node
        .send_chat(trade.id, "thanks, checking".into())
        .await
        .expect("chat");
    for side in [maker, taker] {
        side.await_chat(trade.id, "both messages delivered", |log| {
            log.len() == 2 && log.iter().all(|m| m.delivered_at.is_some())
        })
        .await;
    }
    taker.node.mark_paid(trade.id).await.expect("paid");
    maker
        .await_trade(trade.id, "the payment", |t| {
            t.state == TradeState::PaymentSent
        })
        .await;
    maker.node.mark_received(trade.id).await.expect("received");
    taker
        .await_trade(trade.id, "completion", |t| t.state == TradeState::Completed)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tor_mode_nodes_trade_and_chat_over_onion_services_only() {
    let _alone = SOCKETS.write().await;
    let net = TorNet::start().await;
    let dir = TestDir::new();
    let started = std::time::Instant::now();
    let hub = TestNode::start_with(dir.path("bootstrap"), tor_config(&net, &[])).await;
    eprintln!(
        "bootstrap node up at its onion address in {:?}",
        started.elapsed()
    );
    let bootstrap = vec![onion_address(&hub)];
    let (maker, taker) = futures::join!(
        TestNode::start_with(dir.path("maker"), tor_config(&net, &bootstrap)),
        TestNode::start_with(dir.path("taker"), tor_config(&net, &bootstrap)),
    );
    let maker_onion = onion_address(&maker);
    onion_address(&taker);

    trade_and_chat(&maker, &taker, PeerReach::Tor).await;

    // Everything above went through the nodes' tors: this process holds no socket that leaves
    // loopback or reaches anything but a node's own tor.
    let checked = tor_only_sockets(&net).unwrap_or_else(|e| panic!("{e}"));
    eprintln!("sockets checked: {checked:?}");
    assert!(
        checked.to_tor > 0 && checked.from_tor > 0 && checked.listening == 3,
        "the check saw no connection to or from tor at all: {checked:?}"
    );
    // The check catches what it is for: a direct connection to a node's listener, and a UDP socket.
    let port = checked.listeners[0];
    let direct = std::net::TcpStream::connect(("127.0.0.1", port)).expect("direct connection");
    let caught = tor_only_sockets(&net).expect_err("a direct connection is caught");
    assert!(caught.contains("bypasses"), "{caught}");
    drop(direct);
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").expect("udp");
    let caught = tor_only_sockets(&net).expect_err("a UDP socket is caught");
    assert!(caught.contains("udp"), "{caught}");
    drop(udp);

    // The maker restarts: the same onion address (its key comes from the identity).
    let maker_dir = maker.stop().await;
    let again = TestNode::start_with(maker_dir, tor_config(&net, &bootstrap)).await;
    assert_eq!(onion_address(&again), maker_onion);
    again.stop().await;
    taker.stop().await;
    hub.stop().await;
}

/// A bridge joins the two networks: a Tor-mode node and a clearnet node, each knowing only the
/// bridge (at its onion address, at its clearnet address), trade both ways through it. Each holds a
/// circuit reservation at the bridge and announces only what the other side needs: the Tor-mode node
/// a clearnet address of the bridge's (never one of its own), the clearnet node the bridge's onion.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tor_mode_and_clearnet_nodes_trade_through_a_bridge() {
    let _shared = SOCKETS.read().await;
    let net = TorNet::start().await;
    let dir = TestDir::new();
    let mut config = NetConfig::loopback_for_tests();
    config.bridge = Some(TorSettings {
        extra_config: net.client_config(),
        ..TorSettings::new()
    });
    let bridge = TestNode::start_with(dir.path("bridge"), config).await;
    let bridge_id = bridge.info.peer_id.clone();
    let status = bridge.node.network_status().await.expect("status");
    assert!(status.relay_server, "a bridge relays: {status:?}");
    // It tells its onion address with its listeners (what `souk node` prints).
    let onion = bridge
        .info
        .listen_addrs
        .iter()
        .find(|a| is_onion_text(a))
        .map(|a| format!("{a}/p2p/{bridge_id}"))
        .unwrap_or_else(|| panic!("the bridge tells an onion address: {:?}", bridge.info));
    let clear = [bridge.address()];
    // A Tor-mode node that does not want to be reachable from clearnet: it tells only its onion
    // address, and still takes from clearnet makers (through their reservations at the bridge).
    let mut onion_only = tor_config(&net, std::slice::from_ref(&onion));
    if let Some(tor) = onion_only.tor.as_mut() {
        tor.via_bridges = false;
    }
    let (tor_side, clear_side, quiet) = futures::join!(
        TestNode::start_with(
            dir.path("tor"),
            tor_config(&net, std::slice::from_ref(&onion))
        ),
        TestNode::start(dir.path("clear"), &clear),
        TestNode::start_with(dir.path("quiet"), onion_only),
    );

    // The Tor-mode node tells its onion address and the bridge's clearnet side; nothing of its own
    // outside Tor.
    let tor_status = await_status(&tor_side, "a reservation at the bridge", |s| {
        reserved_at(s, &bridge_id) && s.external_addrs.iter().any(|a| !is_onion_text(a))
    })
    .await;
    for addr in &tor_status.external_addrs {
        assert!(
            is_onion_text(addr) || addr.contains(&format!("/p2p/{bridge_id}/p2p-circuit")),
            "a Tor-mode node announced {addr}: {tor_status:?}"
        );
    }
    // The clearnet node tells its own address and the bridge's onion side.
    let clear_status = await_status(&clear_side, "a reservation at the bridge", |s| {
        reserved_at(s, &bridge_id) && s.external_addrs.iter().any(|a| is_onion_text(a))
    })
    .await;
    // By now the other Tor-mode node would have its reservation too: it has none, tells one address.
    let quiet_status = quiet.node.network_status().await.expect("status");
    assert!(
        quiet_status.relays.is_empty()
            && quiet_status.external_addrs.len() == 1
            && is_onion_text(&quiet_status.external_addrs[0]),
        "{quiet_status:?}"
    );
    eprintln!(
        "announced: tor {:?}; clear {:?}",
        tor_status.external_addrs, clear_status.external_addrs
    );

    // A Tor-mode maker, a clearnet taker; then the other way round.
    trade_and_chat(&tor_side, &clear_side, PeerReach::Tor).await;
    trade_and_chat(&clear_side, &quiet, PeerReach::Clearnet).await;

    for node in [tor_side, clear_side, quiet, bridge] {
        node.stop().await;
    }
}

async fn await_status(
    node: &TestNode,
    what: &str,
    check: impl Fn(&NetworkStatus) -> bool,
) -> NetworkStatus {
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        let status = node.node.network_status().await.expect("status");
        if check(&status) {
            return status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{} timed out waiting for {what}: {status:?}",
            node.info.peer_id
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn reserved_at(status: &NetworkStatus, relay: &str) -> bool {
    status
        .relays
        .iter()
        .any(|r| r.relay == relay && r.reservation.is_some())
}

fn is_onion_text(addr: &str) -> bool {
    addr.parse().is_ok_and(|a| is_onion(&a))
}

#[derive(Debug, Default)]
struct SocketCheck {
    /// Connections this process opened to a node's tor (SOCKS, control).
    to_tor: usize,
    /// Connections a node's tor opened to a node's onion-service listener.
    from_tor: usize,
    listening: usize,
    listeners: Vec<u16>,
}

/// Every inet socket this process holds is TCP on 127.0.0.1 and either a listener, a connection to
/// one of the nodes' own tors (children of this process, not the test network's relays), or a
/// connection accepted from one. A direct dial between nodes, a DNS query, QUIC or mDNS fails it.
fn tor_only_sockets(net: &TorNet) -> Result<SocketCheck, String> {
    let me = std::process::id();
    let ours = socket_inodes(me);
    let relays: HashSet<u32> = net.pids().into_iter().collect();
    let node_tors: Vec<u32> = children(me)
        .into_iter()
        .filter(|pid| !relays.contains(pid) && comm(*pid) == "tor")
        .collect();
    assert!(
        !node_tors.is_empty(),
        "no node's tor among this process's children"
    );
    let tables = ["tcp", "tcp6", "udp", "udp6", "raw", "raw6"]
        .map(|t| (t, read_table(Path::new("/proc/net").join(t).as_path())));
    let mut tor_ports = HashSet::new();
    for pid in &node_tors {
        let theirs = socket_inodes(*pid);
        for e in tables[0]
            .1
            .iter()
            .filter(|e| theirs.contains(&e.inode) && e.state == 0x0A)
        {
            tor_ports.insert(e.local.1);
        }
    }
    let listening: HashSet<u16> = tables[0]
        .1
        .iter()
        .filter(|e| ours.contains(&e.inode) && e.state == 0x0A)
        .map(|e| e.local.1)
        .collect();
    let mut check = SocketCheck {
        listening: listening.len(),
        listeners: listening.iter().copied().collect(),
        ..SocketCheck::default()
    };
    for (table, entries) in &tables {
        for e in entries.iter().filter(|e| ours.contains(&e.inode)) {
            let loopback =
                e.local.0 == [127, 0, 0, 1] && (e.state == 0x0A || e.remote.0 == [127, 0, 0, 1]);
            if !(*table == "tcp" && loopback) {
                return Err(format!(
                    "a socket outside Tor mode's rules: {table} {e:?} (node tors listen on {tor_ports:?})"
                ));
            }
            if e.state == 0x0A {
                continue;
            }
            if tor_ports.contains(&e.remote.1) {
                check.to_tor += 1;
            } else if listening.contains(&e.local.1) {
                check.from_tor += 1;
            } else {
                return Err(format!(
                    "a connection that bypasses the nodes' tors: {e:?} (tor ports {tor_ports:?}, \
                     our listeners {listening:?})"
                ));
            }
        }
    }
    Ok(check)
}

#[derive(Debug)]
struct Entry {
    local: ([u8; 4], u16),
    remote: ([u8; 4], u16),
    state: u8,
    inode: u64,
}

/// `/proc/net/{tcp,udp,…}`; IPv6 entries are kept with an unspecified (never loopback) address.
fn read_table(path: &Path) -> Vec<Entry> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let addr = |s: &str| -> ([u8; 4], u16) {
        let (ip, port) = s.split_once(':').expect("ip:port");
        let port = u16::from_str_radix(port, 16).expect("port");
        if ip.len() != 8 {
            return ([0; 4], port);
        }
        let n = u32::from_str_radix(ip, 16).expect("ip");
        (n.to_le_bytes(), port)
    };
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            Some(Entry {
                local: addr(f.get(1)?),
                remote: addr(f.get(2)?),
                state: u8::from_str_radix(f.get(3)?, 16).ok()?,
                inode: f.get(9)?.parse().ok()?,
            })
        })
        .collect()
}

fn socket_inodes(pid: u32) -> HashSet<u64> {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|dir| {
            dir.filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
                .filter_map(|target| {
                    let t = target.to_string_lossy().into_owned();
                    t.strip_prefix("socket:[")?.strip_suffix(']')?.parse().ok()
                })
                .collect()
        })
        .unwrap_or_default()
}

fn children(pid: u32) -> Vec<u32> {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .into_iter()
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("children")).ok())
        .flat_map(|c| {
            c.split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect::<Vec<u32>>()
        })
        .collect()
}

fn comm(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .unwrap_or_default()
        .trim()
        .to_owned()
}

/// A tor whose only directory authority refuses connections never bootstraps: the start fails in
/// its Tor phase naming tor's own complaint, instead of waiting for ever, and may be retried.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_tor_bootstrap_fails_with_tors_reason() {
    let _shared = SOCKETS.read().await;
    let dir = TestDir::new();
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a port")
        .port();
    let node = node(&dir.path("node"));
    node.create_identity(souk_tests::PASSPHRASE)
        .await
        .expect("identity");
    let config = NetConfig {
        tor: Some(TorSettings {
            extra_config: vec![
                "TestingTorNetwork 1".into(),
                format!(
                    "DirAuthority nowhere orport={closed} no-v2 v3ident=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA 127.0.0.1:{closed} BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB"
                ),
            ],
            stall_timeout: Duration::from_secs(5),
            ..TorSettings::new()
        }),
        ..NetConfig::default()
    };
    let err = node
        .go_online(config, &[BTC_EUR])
        .await
        .expect_err("no network can start without tor");
    let text = err.to_string();
    eprintln!("the start failed with: {text}");
    assert!(text.contains("stalled at"), "{text}");
    let progress = node.startup_progress();
    let phase = progress
        .phase(StartupPhase::Tor)
        .expect("the Tor phase is shown");
    assert_eq!(phase.state, PhaseState::Failed);
    assert_eq!(
        progress.phase(StartupPhase::Network).map(|p| p.state),
        Some(PhaseState::Pending)
    );
    // The same start again is allowed (the Settings screen's retry), and fails the same way.
    let again = node.retry_online().await.expect("retry");
    assert_eq!(
        again.phase(StartupPhase::Tor).map(|p| p.state),
        Some(PhaseState::Failed)
    );
    node.shutdown().await;
}
