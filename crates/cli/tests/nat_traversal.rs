//! NAT traversal across network namespaces (`ip netns` + veth; needs root, as CI has): two nodes that
//! nobody can dial — each in a namespace of its own, listening on loopback only, reaching out through
//! one link to a third, "public" namespace — and between them a public node serving as a circuit
//! relay. Neither is told of the relay: AutoNAT finds each private, each picks the relay among its
//! peers by itself, reserves a circuit and announces the relayed address. An offer posted on one
//! reaches the other, which takes it; the accept and a chat go both ways through the relay. The two
//! private namespaces have no route to each other, so hole punching (DCUtR) cannot succeed here: the
//! test prints what it tried and whether the connection became direct.
//!
//! Where namespaces cannot be made (not root, no `ip`), the test fails and says so.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

mod netns;

use netns::{Host, incoming, link, namespaces, sysctl};

/// AutoNAT waits 15 s before its first probe; then the reservation, the DHT and gossip.
const DEADLINE: Duration = Duration::from_secs(150);
/// The relay's port inside its own namespace (nothing else listens there).
const RELAY_PORT: u16 = 4001;

/// `a` (10.92.1.2) and `b` (10.92.2.2) each linked only to `p` (10.92.1.1 and 10.92.2.1), which does
/// not forward between them.
struct Topology {
    a: String,
    b: String,
    p: String,
}

impl Topology {
    fn new() -> Self {
        let tag = format!("{:x}", std::process::id());
        let t = Self {
            a: format!("nat{tag}a"),
            b: format!("nat{tag}b"),
            p: format!("nat{tag}p"),
        };
        namespaces(&[&t.a, &t.b, &t.p]);
        for (host, net) in [(&t.a, "1"), (&t.b, "2")] {
            let (host_if, public_if) = (format!("n{tag}h{net}"), format!("n{tag}p{net}"));
            let host_addr = format!("10.92.{net}.2/24");
            let public_addr = format!("10.92.{net}.1/24");
            link(host, &host_if, &host_addr, &t.p, &public_if, &public_addr);
        }
        sysctl(&t.p, "net.ipv4.ip_forward=0");
        t
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        for ns in [&self.a, &self.b, &self.p] {
            let _ = std::process::Command::new("ip")
                .args(["netns", "del", ns])
                .status();
        }
    }
}

/// What this test asks of a node beyond the shared ones.
trait Nat {
    fn picked_relay(&self) -> Option<(String, String)>;
    fn hole_punches(&self) -> Vec<String>;
}

impl Nat for Host {
    /// The relay this node picked by itself and its granted reservation, once it has one.
    fn picked_relay(&self) -> Option<(String, String)> {
        let reach = self.cli(&["reach"]).ok()?;
        reach["relays"].as_array()?.iter().find_map(|r| {
            (r["automatic"] == true)
                .then(|| {
                    Some((
                        r["relay"].as_str()?.to_owned(),
                        r["reservation"].as_str()?.to_owned(),
                    ))
                })
                .flatten()
        })
    }

    fn hole_punches(&self) -> Vec<String> {
        self.log()
            .lines()
            .filter(|l| l.contains("hole punch"))
            .map(str::to_owned)
            .collect()
    }
}

#[test]
fn two_private_nodes_trade_and_chat_through_a_relay_they_picked_themselves() {
    let net = Topology::new();
    let tmp = tempfile::tempdir().unwrap();
    let listen = format!("/ip4/0.0.0.0/tcp/{RELAY_PORT}");
    let relay = Host::start(
        &net.p,
        &tmp.path().join("relay"),
        &[
            "--private-addresses",
            "--listen",
            &listen,
            "--relay-server",
            "--external-address",
            &format!("/ip4/10.92.1.1/tcp/{RELAY_PORT}"),
            "--external-address",
            &format!("/ip4/10.92.2.1/tcp/{RELAY_PORT}"),
        ],
        DEADLINE,
    );
    let relay_id = relay.status().unwrap()["peer_id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Each private node knows the relay only as its bootstrap peer, at the address it can reach.
    let private = |ns: &str, name: &str, net: &str| {
        Host::start(
            ns,
            &tmp.path().join(name),
            &[
                "--private-addresses",
                "--listen",
                "/ip4/127.0.0.1/tcp/0",
                "--bootstrap",
                &format!("/ip4/10.92.{net}.1/tcp/{RELAY_PORT}/p2p/{relay_id}"),
            ],
            DEADLINE,
        )
    };
    let maker = private(&net.a, "maker", "1");
    let taker = private(&net.b, "taker", "2");

    for host in [&maker, &taker] {
        let (picked, reservation) =
            host.poll("a relay picked behind the NAT", || host.picked_relay());
        assert_eq!(picked, relay_id);
        assert!(reservation.contains("/p2p-circuit"), "{reservation}");
        assert_eq!(host.must(&["reach"])["nat_status"], "private");
    }

    let offer = maker.must(&[
        "offer", "post", "--side", "sell", "--base", "BTC", "--quote", "EUR", "--price", "60000",
        "--min", "0.01", "--max", "0.1", "--method", "SEPA",
    ]);
    let offer_id = offer["id"].as_str().unwrap().to_owned();
    taker.poll("the offer in the taker's book", || {
        let list = taker.cli(&["offer", "list", "--market", "BTC/EUR"]).ok()?;
        list.as_array()?
            .iter()
            .any(|e| e["offer"]["id"] == offer_id.as_str())
            .then_some(())
    });
    let trade = taker.must(&[
        "trade", "take", &offer_id, "--amount", "0.05", "--method", "SEPA",
    ]);
    let trade_id = trade["id"].as_str().unwrap().to_owned();
    maker.poll("the take at the maker", || {
        maker.cli(&["trade", "show", &trade_id]).ok()
    });
    maker.must(&["trade", "accept", &trade_id]);
    taker.poll("the accept at the taker", || {
        let t = taker.cli(&["trade", "show", &trade_id]).ok()?;
        (t["state"] == "Accepted").then_some(())
    });
    taker.must(&["chat", "send", &trade_id, "paid by SEPA"]);
    maker.must(&["chat", "send", &trade_id, "thanks, checking"]);
    maker.poll("the taker's message", || {
        (incoming(&maker.chat(&trade_id)) == ["paid by SEPA"]).then_some(())
    });
    taker.poll("the maker's message", || {
        (incoming(&taker.chat(&trade_id)) == ["thanks, checking"]).then_some(())
    });

    // What hole punching did: the namespaces have no route between them, so it cannot succeed here.
    let punches: Vec<String> = [&maker, &taker]
        .iter()
        .flat_map(|h| h.hole_punches())
        .collect();
    let direct = punches.iter().any(|l| l.contains("a direct connection"));
    println!(
        "hole punching: {} attempt(s) logged, connection {}",
        punches.len(),
        if direct {
            "upgraded to direct"
        } else {
            "stayed relayed"
        }
    );
    for line in &punches {
        println!("  {line}");
    }
    assert!(
        !direct,
        "a direct connection between namespaces with no route between them?"
    );
}
